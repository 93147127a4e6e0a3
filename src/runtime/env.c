/*
 * env.c - the CPROF_* environment of the runtime, for LD_PRELOAD use: a
 * constructor that starts the CPU profile and the exit paths that write it.
 *
 *   CPROF_CPU_PROFILE=FILE  profile the whole run, write FILE at exit
 *   CPROF_CPU_HZ=N          sampling rate (1..CPROF_CPU_HZ_MAX)
 *   CPROF_CPU_MODE=M        sampling clocks: auto (perf_event task-clock
 *                           where allowed, else CPU timers), perf, timer
 *
 * Bad values are reported once on stderr and ignored.  The profile is
 * written by an atexit handler registered at load time, so after the
 * program's own (exit(), return from main), and by a handler of SIGTERM,
 * SIGINT and SIGHUP installed only when the program left them at SIG_DFL
 * at load time: it has the collector thread write the profile (bounded
 * wait), restores SIG_DFL and raises the signal again, so the program
 * still dies by it.
 *
 * That handler (on_fatal) is the runtime's only one for those signals:
 * the heap and allocs exit files (heap_env.c) are written by it too.
 * rt_fatal_handlers_install is idempotent and called by both
 * constructors (this one when a CPU profile starts, heap_env.c's when
 * this process owns a heap or allocs file), so whichever runs first
 * installs and the second never mistakes on_fatal for the program's
 * handler.  The handler does only async-signal-safe work (atomics,
 * getpid, nanosleep, sigaction, tgkill), errno preserved: it wakes the
 * heap writer thread (rt_heap_fatal_begin), has the collector write the
 * CPU profile (at most 5 s), then waits for the heap files (at most 5 s
 * more; both are written at once, by their own threads), and re-raises.
 * The three signals are masked while it runs; a fatal signal taken by
 * another thread meanwhile waits for the first handler to finish (at most
 * 11 s) rather than kill the process mid-write.  A handler that
 * interrupted a thread holding a lock the writers need (the allocator's,
 * the heap table's) runs out its bound, and a file may then be missing
 * or cut short.
 *
 * Children: `cprof record` decides which processes profile (follow.c,
 * CPROF_CPU_PID / CPROF_CPU_FOLLOW).  Without it, the process that first
 * sees CPROF_CPU_PROFILE records its pid in CPROF_CPU_PROFILE_PID; a
 * process started with another pid there is a descendant that exec'd with
 * the inherited environment, and does not overwrite FILE.  A process that
 * execs itself keeps its pid and profiles into FILE again.  A fork child
 * is not profiled and never writes (threads.c, api.c) unless asked:
 * with CPROF_CPU_FOLLOW=1 (`cprof record --follow-fork`) a child that
 * forks without exec starts its own profile, to BASE.PID, from a fork
 * handler registered after the runtime's own reset, and writes it at its
 * exit like any profiled process.
 */
#include "rt_int.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Whether this process was asked for any profile or the endpoint: then
 * the unwinder's module registry (tens of ms of CPU: the unwind tables of
 * every loaded library) is worth building at start.  A process that was
 * not (the many programs a profiled command may start, with the preload
 * inherited) skips it, unless the runtime is linked into the program: its pthread_create records only the call site and
 * heap samples have no stack until a profile is started. */
/* dl_iterate_phdr: is addr in the first object (the main program)?
 * Returning 1 stops the walk after it. */
struct in_main { uintptr_t addr; bool found; };
static int in_main_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct in_main *m = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && m->addr >= lo && m->addr < lo + ph->p_memsz)
			m->found = true;
	}
	return 1;
}

static bool wants_stacks_scan(void)
{
	extern char **environ;
	/* linked into the program (libcprof.a): the program chose the runtime */
	struct in_main m = { (uintptr_t)&wants_stacks_scan, false };
	dl_iterate_phdr(in_main_cb, &m);
	if (m.found)
		return true;
	/* under a sanitizer, pthread_create's caller is the sanitizer's
	 * interceptor: only a real unwind finds the program's frame */
	if (dlsym(RTLD_DEFAULT, "__asan_init") || dlsym(RTLD_DEFAULT, "__tsan_init"))
		return true;
	static const char *const also[] = { "CPROF_HTTP=", "CPROF_HEAP_RATE=", "CPROF_DUMP_SIGNAL=",
					    "CPROF_DUMP_DIR=", "CPROF_WATCH_HEAP=",
					    "CPROF_WATCH_THREADS=" };
	for (char **e = environ; e && *e; e++) {
		const char *v = *e;
		if (strncmp(v, "CPROF_", 6) != 0)
			continue;
		const char *eq = strchr(v, '=');
		if (!eq || !eq[1])
			continue;
		if (eq - v > 14 && strncmp(eq - 8, "_PROFILE", 8) == 0)
			return true;
		for (size_t i = 0; i < sizeof also / sizeof also[0]; i++)
			if (strncmp(v, also[i], strlen(also[i])) == 0)
				return true;
	}
	return false;
}

/* Decided once, from the environment the process started with (the
 * constructors call it, before the program can change its environment). */
bool rt_wants_stacks(void)
{
	static _Atomic int cached = -1;
	int v = atomic_load(&cached);
	if (v < 0) {
		v = wants_stacks_scan();
		atomic_store(&cached, v);
	}
	return v;
}

static pid_t owner_pid;
static bool follow_fork;
static const int fatal_sigs[] = { SIGTERM, SIGINT, SIGHUP };

static void at_exit(void)
{
	if (getpid() != owner_pid || rt_api_out_fd() < 0)
		return;
	int e = errno;
	int rc = cprof_cpu_stop();
	if (rc < 0)
		fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
								    : cprof_error_string(rc));
	errno = e;
}

/* Set once rt_fatal_handlers_install has looked at the signals: a second
 * call (the other constructor) must not take on_fatal for the program's. */
static atomic_bool fatal_installed;
/* fatal_busy: set by the first handler that runs; fatal_done: set when
 * it has written (or given up).  A second fatal signal (on another
 * thread, or ^C twice) waits for fatal_done instead of killing the
 * process while the first writes. */
static atomic_bool fatal_busy, fatal_done;

static void sleep_10ms(void)
{
	struct timespec ts = { 0, 10 * 1000000L };
	nanosleep(&ts, NULL);
}

/* SIGTERM, SIGINT, SIGHUP.  Every call is async-signal-safe: atomics,
 * getpid, nanosleep, sigaction, syscall(tgkill), and the two writers'
 * [AS-safe] requests. */
static void on_fatal(int sig)
{
	int e = errno;
	if (atomic_exchange(&fatal_busy, true)) {
		/* the first handler writes, then kills the process: at most 5 s
		 * for each profile; after that, die of this signal anyway */
		for (int i = 0; i < 1100 && !atomic_load(&fatal_done); i++)
			sleep_10ms();
	} else {
		/* the heap writer thread starts first, so that both write at once */
		bool heap = rt_heap_fatal_begin();
		if (getpid() == owner_pid) {
			int fd = rt_api_out_fd();
			if (fd >= 0)
				rt_collector_exit_write(fd, 5000);
		}
		if (heap)
			rt_heap_fatal_wait(5000);
		atomic_store(&fatal_done, true);
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	/* pending until this handler returns and the mask is restored */
	syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)sig);
	errno = e;
}

void rt_fatal_handlers_install(void)
{
	if (atomic_exchange(&fatal_installed, true))
		return;
	for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++) {
		struct sigaction old, sa;
		if (sigaction(fatal_sigs[i], NULL, &old) != 0)
			continue;
		if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
			continue;   /* the program's choice stands */
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_fatal;
		sa.sa_flags = SA_RESTART;
		/* the others wait while this thread's handler runs (no nesting) */
		sigemptyset(&sa.sa_mask);
		for (size_t j = 0; j < sizeof fatal_sigs / sizeof fatal_sigs[0]; j++)
			sigaddset(&sa.sa_mask, fatal_sigs[j]);
		sigaction(fatal_sigs[i], &sa, NULL);
	}
}

/* A forked child, after threads.c and api.c reset the runtime: with
 * CPROF_CPU_FOLLOW=1, profile this process too, to BASE.PID. */
static void fork_child_follow(void)
{
	if (!follow_fork)
		return;
	const char *base = getenv("CPROF_CPU_FOLLOW_BASE");
	if (!base || !*base)
		return;
	int e = errno;
	char path[4096];
	int n = snprintf(path, sizeof path, "%s.%ld", base, (long)getpid());
	if (n > 0 && (size_t)n < sizeof path) {
		owner_pid = getpid();
		int rc = cprof_cpu_start(path);
		if (rc < 0)
			fprintf(stderr, "cprof: no CPU profile in forked child %ld: %s\n", (long)getpid(),
				*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	}
	errno = e;
}

__attribute__((constructor))
static void cprof_env_init(void)
{
	int e = errno;
	(void)rt_wants_stacks();
	rt_threads_init();
	const char *hz = getenv("CPROF_CPU_HZ");
	if (hz && *hz) {
		char *end;
		errno = 0;
		long v = strtol(hz, &end, 10);
		if (errno || *end || end == hz || v < 1 || v > CPROF_CPU_HZ_MAX)
			fprintf(stderr, "cprof: ignoring CPROF_CPU_HZ=%s: not a rate in 1..%d\n",
				hz, CPROF_CPU_HZ_MAX);
		else
			cprof_cpu_set_rate((int)v);
	}
	const char *mode = getenv("CPROF_CPU_MODE");
	if (mode && *mode) {
		if (strcmp(mode, "auto") == 0)
			rt_cpu_mode_set(RT_CPU_MODE_AUTO);
		else if (strcmp(mode, "perf") == 0)
			rt_cpu_mode_set(RT_CPU_MODE_PERF);
		else if (strcmp(mode, "timer") == 0)
			rt_cpu_mode_set(RT_CPU_MODE_TIMER);
		else
			fprintf(stderr, "cprof: ignoring CPROF_CPU_MODE=%s: not auto, perf or timer\n", mode);
	}
	const char *path = getenv("CPROF_CPU_PROFILE");
	if (!path || !*path) {
		errno = e;
		return;
	}
	pid_t me = getpid();
	const char *follow = getenv("CPROF_CPU_FOLLOW");
	const char *ownr = getenv("CPROF_CPU_PROFILE_PID");
	if (follow && strcmp(follow, "1") == 0) {
		/* follow.c made FILE this process's own; forks are followed too */
		follow_fork = true;
	} else if (ownr && *ownr && atol(ownr) != (long)me) {
		errno = e;
		return;
	} else {
		char pid[32];
		snprintf(pid, sizeof pid, "%ld", (long)me);
		setenv("CPROF_CPU_PROFILE_PID", pid, 1);
	}
	owner_pid = me;
	int rc = cprof_cpu_start(path);
	if (rc < 0) {
		fprintf(stderr, "cprof: no CPU profile: %s\n",
			*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
		errno = e;
		return;
	}
	atexit(at_exit);
	rt_fatal_handlers_install();
	if (follow_fork)
		pthread_atfork(NULL, NULL, fork_child_follow);
	errno = e;
}
