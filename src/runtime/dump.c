/*
 * dump.c - snapshots on demand: CPROF_DUMP_SIGNAL and the watchdog.
 *
 *   CPROF_DUMP_SIGNAL=SIGUSR1   (a name, with or without SIG, or a number;
 *                               never a fault signal, KILL, STOP or one
 *                               the program's behaviour depends on:
 *                               envparse.c) writes a snapshot of every available
 *                               profile to CPROF_DUMP_DIR (default ".")
 *   CPROF_WATCH_THREADS=N       a snapshot when the process has >= N threads
 *   CPROF_WATCH_HEAP=BYTES      a snapshot when the heap in use (the heap
 *                               profiler's estimate) reaches BYTES (K/M/G ok)
 *   CPROF_WATCH_INTERVAL=SECS   at most one watchdog snapshot per SECS
 *                               (default 60); thresholds are checked every
 *                               second
 *
 * A snapshot is one file per profile kind that renders (heap, allocs,
 * threads, threadcreate, mutex, block, deadlock; a kind not built in or
 * not enabled is skipped), named cprof-PID-YYYYmmddTHHMMSS.mmmZ-KIND.pb.gz,
 * written to a temporary name and renamed, so a reader never sees half a
 * file.  One line on stderr names the snapshot and its reason.  A bad
 * value (envparse.c) gets one line on stderr and turns that trigger off.
 *
 * Signals and threads: the signal handler only sets a flag and wakes a
 * futex on it (atomics and one system call: async-signal-safe; errno
 * preserved).  A thread of the runtime (libc's pthread_create, every
 * asynchronous signal blocked, marked as the runtime's own so its
 * allocations are not the program's) waits on the futex, with a
 * one-second timeout when a watchdog is set, does the work, and checks the
 * watchdog thresholds.  No descriptor is held across the program's code:
 * a program that closes every descriptor (close_range, daemons) and opens
 * its own could otherwise have its pipe read dry by this thread, or see
 * it spin on a closed one.  The handler is installed only when the program
 * left the signal at SIG_DFL at load time; a program that installs its own
 * later wins.  fork: the child has no dump thread and does not restart
 * one; its handler ignores the signal.
 */
#include "http_int.h"
#include "trace_int.h"
#include "rt_base.h"
#include "rt_profile.h"
#include "rt_env.h"
#include "rt_sig.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint32_t dump_req;   /* 1: a snapshot was asked for (futex word) */
static char dump_dir[1024] = ".";
static long watch_threads, watch_interval = 60;
static unsigned long long watch_heap;
static pid_t owner;

static const struct { const char *name; rt_kind k; } dump_kinds[] = {
	{ "heap", RT_KIND_HEAP }, { "allocs", RT_KIND_ALLOCS }, { "threads", RT_KIND_THREADS },
	{ "threadcreate", RT_KIND_THREADCREATE }, { "mutex", RT_KIND_MUTEX },
	{ "block", RT_KIND_BLOCK }, { "deadlock", RT_KIND_DEADLOCK },
};

int rt_dump_snapshots(const char *dir, const char *reason)
{
	if (!dir)
		dir = dump_dir;
	rt_self_enter();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char stamp[64];
	snprintf(stamp, sizeof stamp, "%04d%02d%02dT%02d%02d%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	int written = 0, rc = 0;
	for (size_t i = 0; i < sizeof dump_kinds / sizeof dump_kinds[0]; i++) {
		rt_buf b = { 0 };
		if (rt_profile_render(dump_kinds[i].k, 0, &b) < 0 || b.oom) {
			rt_buf_free(&b);
			continue;   /* not built in, or not enabled */
		}
		char path[1200], tmp[1240];
		snprintf(path, sizeof path, "%s/cprof-%ld-%s-%s.pb.gz", dir, (long)getpid(), stamp,
			 dump_kinds[i].name);
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			rc = CPROF_ERR_IO;
			rt_set_error("cannot create %s: %s", tmp, strerror(errno));
			rt_buf_free(&b);
			break;
		}
		int w = rt_buf_write_fd(&b, fd, dump_kinds[i].name);
		rt_buf_free(&b);
		if (close(fd) != 0 || w < 0 || rename(tmp, path) != 0) {
			unlink(tmp);
			rc = CPROF_ERR_IO;
			continue;
		}
		written++;
	}
	/* the flight recorder's last seconds: the trace of the moment */
	if (rt_trace_flight_running()) {
		char path[1200], tmp[1240];
		snprintf(path, sizeof path, "%s/cprof-%ld-%s-trace.json", dir, (long)getpid(), stamp);
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int w = fd < 0 ? CPROF_ERR_IO : cprof_trace_flight_write(fd);
		if (fd < 0 || close(fd) != 0 || w < 0 || rename(tmp, path) != 0) {
			if (fd >= 0)
				unlink(tmp);
		} else {
			written++;
		}
	}
	fprintf(stderr, "cprof: %s: wrote %d profile%s to %s/cprof-%ld-%s-*\n", reason,
		written, written == 1 ? "" : "s", dir, (long)getpid(), stamp);
	rt_self_leave();
	return written ? written : rc;
}

static void on_dump_signal(int sig)
{
	(void)sig;
	if (getpid() != owner)
		return;   /* a forked child: the pipe is its parent's */
	int e = errno;
	if (!atomic_exchange(&dump_req, 1))
		syscall(SYS_futex, &dump_req, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = e;
}

static long count_threads(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0)
		return -1;
	return (long)rt_stat_num(buf, (size_t)n, 20);   /* num_threads */
}

static void *dump_main(void *arg)
{
	(void)arg;
	rt_self_enter();
	prctl(PR_SET_NAME, "cprof-dump");
	struct timespec last = { 0, 0 };
	bool fired_once = false;
	for (;;) {
		struct timespec sec = { 1, 0 };
		if (!atomic_load(&dump_req))
			syscall(SYS_futex, &dump_req, FUTEX_WAIT_PRIVATE, 0,
				watch_threads || watch_heap ? &sec : NULL, NULL, 0);
		if (atomic_exchange(&dump_req, 0))
			rt_dump_snapshots(NULL, "dump signal");
		if (!watch_threads && !watch_heap)
			continue;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (fired_once && now.tv_sec - last.tv_sec < watch_interval)
			continue;
		char why[128] = "";
		long th = watch_threads ? count_threads() : -1;
		if (watch_threads && th >= watch_threads)
			snprintf(why, sizeof why, "watchdog: %ld threads >= CPROF_WATCH_THREADS=%ld", th,
				 watch_threads);
		cprof_heap_stats hs;
		if (!why[0] && watch_heap && cprof_heap_get_stats(&hs) == 0 &&
		    hs.inuse_bytes >= watch_heap)
			snprintf(why, sizeof why, "watchdog: heap in use %llu >= CPROF_WATCH_HEAP=%llu",
				 (unsigned long long)hs.inuse_bytes, watch_heap);
		if (why[0]) {
			rt_dump_snapshots(NULL, why);
			last = now;
			fired_once = true;
		}
	}
	return NULL;
}

static void dump_env_init_body(void);

/* The whole constructor is the runtime's own work (its allocations, a
 * CPU sample in it): never the program's. */
__attribute__((constructor))
static void dump_env_init(void)
{
	rt_self_enter();
	dump_env_init_body();
	rt_self_leave();
}

static void dump_env_init_body(void)
{
	int e = errno;
	const char *dir;
	long wt = 0, wi = 60;
	unsigned long long wh = 0;
	int signo = -1;
	rt_env_signal("CPROF_DUMP_SIGNAL", false, "no dump signal", &signo);
	rt_env_long("CPROF_WATCH_THREADS", 1, 1000000000L, "no thread watchdog", &wt);
	rt_env_size("CPROF_WATCH_HEAP", 1, ~0ULL, "no heap watchdog", &wh);
	if (rt_env_long("CPROF_WATCH_INTERVAL", 1, 100000000L, "no watchdog", &wi) == RT_ENV_BAD)
		wt = 0, wh = 0;
	if (rt_env_path("CPROF_DUMP_DIR", "no snapshots", &dir) == RT_ENV_BAD) {
		errno = e;
		return;
	}
	if (dir && strlen(dir) >= sizeof dump_dir) {
		rt_env_complain("CPROF_DUMP_DIR", dir, "path too long", "no snapshots");
		errno = e;
		return;
	}
	if (dir)
		snprintf(dump_dir, sizeof dump_dir, "%s", dir);
	watch_threads = wt;
	watch_heap = wh;
	watch_interval = wi;
	if (signo < 0 && !watch_threads && !watch_heap) {
		errno = e;
		return;
	}
	owner = getpid();
	if (signo > 0) {
		struct sigaction old, sa;
		if (rt_real_sigaction(signo, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_DFL) {
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = on_dump_signal;
			sa.sa_flags = SA_RESTART;
			sigemptyset(&sa.sa_mask);
			rt_real_sigaction(signo, &sa, NULL);
		} else {
			fprintf(stderr, "cprof: CPROF_DUMP_SIGNAL=%s: the program handles that signal; "
				"no dump on it\n", getenv("CPROF_DUMP_SIGNAL"));
		}
	}
	if (rt_quiet_thread_start("cprof-dump", dump_main, NULL) != 0)
		fprintf(stderr, "cprof: no snapshots: cannot create the dump thread\n");
	errno = e;
}
