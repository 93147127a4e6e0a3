/*
 * trace_env.c - the execution trace's public API and environment:
 *
 *   cprof_trace_start(path) / cprof_trace_start_fd(fd) / cprof_trace_stop()
 *   cprof_region_begin(name) / cprof_region_end(name) / cprof_trace_log()
 *   CPROF_TRACE=FILE       trace the whole run, written at exit, _exit
 *                          or before an exec (lifecycle.c; the
 *                          process tree rule of outfile.c: %p for one file
 *                          per process)
 *   CPROF_TRACE_BUF=SIZE   the session's buffer (64M default; 1M..16G)
 *   CPROF_TRACE_RUNNABLE=auto|all|long|0  how waits are split into
 *                          blocked and runnable: all, every wait (one
 *                          schedstat read after each that may have
 *                          slept, trace_hooks.c); long, the flight
 *                          recorder's default, the waits "cprof-trace"
 *                          finds in progress every 10 ms (trace_visit.c:
 *                          no read in a short wait); auto, a trace's
 *                          default (1 means it), all while a thread's
 *                          reads stay within 10 per 10 ms, long beyond;
 *                          0 none
 *   CPROF_TRACE_SWITCH=1   exact switch times (trace_switch.c): a
 *                          PERF_RECORD_SWITCH ring per program thread,
 *                          drained every 10 ms by "cprof-trace"; refused
 *                          (perf_event_paranoid 3 or 4, seccomp): one
 *                          line, schedstat as before
 *   CPROF_TRACE_RING=SECONDS  the flight recorder: the last SECONDS to
 *                          2 x SECONDS kept in memory, in two generations
 *                          of half the buffer each; a runtime thread
 *                          ("cprof-trace") starts a new generation every
 *                          SECONDS, dropping the oldest.  Written on
 *                          demand: cprof_trace_flight_write(fd), the
 *                          endpoint's /debug/pprof/trace?flight=1; it then
 *                          records on (events during the write are lost).
 *
 * One session at a time, process-wide: start and stop are serialised by a
 * mutex of the runtime (ordinary contexts only, never a hook).  Writing
 * (trace_json.c) symbolizes: it runs marked as the runtime's own work.  A
 * forked child does not trace (its copy of the session is dropped).
 */
#include "trace_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_labels.h"
#include "rt_profile.h"
#include "rt_env.h"
#include "rt_lifecycle.h"
#include "heap_int.h"
#include "cprof.h"

#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_DEFAULT (64ull << 20)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int out_fd = -1;              /* where the running session goes */
static bool out_owned;               /* opened by cprof_trace_start: closed at stop */
static size_t budget = BUF_DEFAULT;
static rt_out env_out;
static bool env_asked;
static pid_t env_owner;
static long ring_seconds;            /* > 0: the flight recorder runs */
static pthread_cond_t ring_cv = PTHREAD_COND_INITIALIZER;
static bool ring_stop, ring_started;
static bool tick_made;               /* the "cprof-trace" thread runs */
static void *tick_main(void *arg);

size_t rt_trace_budget(void);
size_t rt_trace_budget(void)
{
	return budget;
}

static int start_locked(int fd, bool owned)
{
	if (rt_trace_active()) {
		rt_set_error(ring_seconds > 0 ? "the flight recorder is running (CPROF_TRACE_RING)"
					     : "tracing is already enabled");
		return CPROF_ERR_BUSY;
	}
	rt_modules_init_lazy();   /* waiters' stacks: tables built as walks reach modules */
	rt_trace_fd_reserve();
	rt_trace_fds_session(true);   /* nothing an earlier session learnt */
	int rc = rt_trace_session_begin(budget);
	if (rc < 0)
		return rc;
	rt_tsw_begin();
	out_fd = fd;
	out_owned = owned;
	if (!tick_made)
		tick_made = rt_quiet_thread_start("cprof-trace", tick_main, NULL) == 0;
	else
		pthread_cond_broadcast(&ring_cv);   /* counters from the start */
	if (!tick_made)
		rt_trace_fds_session(false);   /* its ticks age what is learnt */
	/* auto's budget is renewed, and long's waits visited, by that thread:
	 * without it, every wait is split (the trace's metadata says all) */
	if (!tick_made && rt_trace_visiting(atomic_load(&rt_trace_runnable)))
		atomic_store(&rt_trace_runnable, RT_RUNNABLE_ALL);
	return 0;
}

int cprof_trace_start_fd(int fd)
{
	if (fd < 0) {
		rt_set_error("cprof_trace_start_fd: bad descriptor %d", fd);
		return CPROF_ERR_INVAL;
	}
	rt_self_enter();
	pthread_mutex_lock(&mu);
	int rc = start_locked(fd, false);
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	return rc;
}

int rt_trace_start_fd_switch(int fd, bool sw)
{
	if (!sw)
		return cprof_trace_start_fd(fd);
	if (fd < 0) {
		rt_set_error("cprof_trace_start_fd: bad descriptor %d", fd);
		return CPROF_ERR_INVAL;
	}
	rt_self_enter();
	pthread_mutex_lock(&mu);
	/* asked for this session only: the rings are made at its start */
	bool was = rt_tsw_wanted();
	rt_tsw_want(true);
	int rc = start_locked(fd, false);
	rt_tsw_want(was);
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	return rc;
}

int cprof_trace_start(const char *path)
{
	if (!path || !*path) {
		rt_set_error("cprof_trace_start: no path");
		return CPROF_ERR_INVAL;
	}
	rt_self_enter();
	pthread_mutex_lock(&mu);
	int rc;
	if (rt_trace_active()) {
		rc = start_locked(-1, false);   /* the error */
	} else {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			rt_set_error("cannot open %s: %s", path, strerror(errno));
			rc = CPROF_ERR_IO;
		} else {
			rc = start_locked(fd, true);
			if (rc < 0)
				close(fd);
		}
	}
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	return rc;
}

/* Stop and write to the session's descriptor (or to fd when the session
 * has none: the exit writer), under mu. */
static int stop_locked(void)
{
	if (ring_seconds > 0 || out_fd < 0) {
		rt_set_error(ring_seconds > 0 ? "the flight recorder is not stopped this way"
					     : "no trace is running (CPROF_TRACE's is written at exit)");
		return CPROF_ERR_NOT_RUNNING;
	}
	if (!rt_trace_active()) {
		rt_set_error("no trace is running");
		return CPROF_ERR_NOT_RUNNING;
	}
	rt_tsw_drain(true);
	rt_trace_session_end();
	int rc = 0;
	if (out_fd >= 0) {
		rc = rt_trace_write_json(out_fd);
		if (out_owned && close(out_fd) != 0 && rc == 0) {
			rt_set_error("cannot write the trace: %s", strerror(errno));
			rc = CPROF_ERR_IO;
		}
	}
	out_fd = -1;
	out_owned = false;
	return rc;
}

int cprof_trace_stop(void)
{
	rt_self_enter();
	pthread_mutex_lock(&mu);
	int rc = stop_locked();
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	return rc;
}

int cprof_trace_running(void)
{
	return rt_trace_active();
}

void cprof_region_begin(const char *name)
{
	if (!rt_trace_active() || rt_self_depth())
		return;
	rt_trace_text(RT_TEV_REGION_BEGIN, name ? name : "", NULL, rt_labels_current());
}

void cprof_region_end(const char *name)
{
	if (!rt_trace_active() || rt_self_depth())
		return;
	rt_trace_text(RT_TEV_REGION_END, name ? name : "", NULL, rt_labels_current());
}

void cprof_trace_log(const char *category, const char *message)
{
	if (!rt_trace_active() || rt_self_depth())
		return;
	rt_trace_text(RT_TEV_LOG, category ? category : "", message ? message : "",
		      rt_labels_current());
}

/* ---- the flight recorder ------------------------------------------------------------ */

static size_t ring_gen_budget(void)
{
	return budget / 2;
}

int cprof_trace_flight_write(int fd)
{
	if (fd < 0) {
		rt_set_error("cprof_trace_flight_write: bad descriptor %d", fd);
		return CPROF_ERR_INVAL;
	}
	rt_self_enter();
	pthread_mutex_lock(&mu);
	int rc;
	if (ring_seconds <= 0 || !rt_trace_active()) {
		rt_set_error("no flight recorder in this process");
		rc = CPROF_ERR_NOT_RUNNING;
	} else {
		rt_tsw_drain(false);
		rt_trace_session_end();
		rc = rt_trace_write_json(fd);
		int rc2 = rt_trace_session_begin(ring_gen_budget());
		if (rc2 < 0) {
			ring_seconds = 0;   /* cannot record on: the recorder ends */
			ring_stop = true;
			pthread_cond_signal(&ring_cv);
		}
	}
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	return rc;
}

int rt_trace_flight_running(void)
{
	return ring_seconds > 0;
}

/* ---- the trace's runtime thread: counters and the recorder's generations ----------- */

#define TICK_MS 50
#define SWITCH_TICK_MS 10   /* switch rings drained: 32 KiB each, ~68k switches/s */

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "Threads:" of /proc/self/status (the runtime's own threads included),
 * or 0. */
static uint64_t threads_alive(void)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strstr(buf, "\nThreads:");
	return p ? strtoull(p + 9, NULL, 10) : 0;
}

struct mi2 { size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks,
	     fordblks, keepcost; };
typedef struct mi2 (*mallinfo2_fn)(void);

/* Heap bytes in use: the heap profile's estimate when it runs, else
 * glibc's mallinfo2 (which takes every arena's lock: called from this
 * runtime thread only, never from a hook). */
static int64_t heap_in_use(int *kind)
{
	static mallinfo2_fn mi;
	static bool looked;
	cprof_heap_stats st;
	if (rt_heap_hooks_active() && cprof_heap_get_stats(&st) == 0 && st.rate > 0) {
		*kind = RT_TCOUNT_HEAP_PROFILE;
		return (int64_t)st.inuse_bytes;
	}
	if (!looked) {
		looked = true;
		mi = (mallinfo2_fn)dlsym(RTLD_DEFAULT, "mallinfo2");
	}
	if (!mi) {
		*kind = RT_TCOUNT_HEAP_NONE;
		return -1;
	}
	struct mi2 m = mi();
	*kind = RT_TCOUNT_HEAP_MALLINFO;
	return (int64_t)(m.uordblks + m.hblkhd);
}

/* The runtime thread "cprof-trace", started with the first session and
 * kept: while a session runs it records the process's counters (threads
 * alive, heap in use) every TICK_MS, outside mu, on its own chunk; with
 * the flight recorder it also starts a new generation every
 * ring_seconds.  Between sessions it sleeps on ring_cv. */
static void *tick_main(void *arg)
{
	(void)arg;
	rt_tsw_stats sw;
	rt_self_enter();
	pthread_mutex_lock(&mu);
	ring_started = true;
	pthread_cond_broadcast(&ring_cv);
	int64_t next_rot = mono_ns() + (int64_t)ring_seconds * 1000000000;
	int64_t next_count = 0;
	bool rot_failed = false;
	while (!ring_stop) {
		if (!rt_trace_active()) {
			pthread_cond_wait(&ring_cv, &mu);
			next_rot = mono_ns() + (int64_t)ring_seconds * 1000000000;
			next_count = 0;
			continue;
		}
		pthread_mutex_unlock(&mu);
		rt_trace_tick_rate_update();
		rt_trace_fds_tick(mono_ns());
		bool visiting = rt_trace_visiting(atomic_load(&rt_trace_runnable));
		if (visiting)
			(void)rt_trace_visit_waits();
		rt_tsw_info(&sw);
		if (sw.working)
			rt_tsw_drain(false);
		if (mono_ns() >= next_count) {
			int kind;
			int64_t heap = heap_in_use(&kind);
			rt_trace_counter(threads_alive(), kind, heap);
			next_count = mono_ns() + TICK_MS * 1000000L;
		}
		pthread_mutex_lock(&mu);
		if (ring_stop)
			break;
		struct timespec at;
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += (sw.working ? SWITCH_TICK_MS : visiting ? RT_VISIT_MS : TICK_MS) *
			      1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ring_cv, &mu, &at);
		if (ring_stop)
			break;
		if (ring_seconds > 0 && !rot_failed && mono_ns() >= next_rot && rt_trace_active()) {
			next_rot += (int64_t)ring_seconds * 1000000000;
			if (rt_trace_rotate(ring_gen_budget()) < 0)
				rot_failed = true;   /* out of memory: what it has stays */
		}
	}
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	return NULL;
}

/* ---- CPROF_TRACE=FILE ------------------------------------------------------------ */

static bool has_fn(void *ctx)
{
	(void)ctx;
	rt_trace_info in;
	rt_trace_get_info(&in);
	return in.recorded > 0;
}

static int write_fn(int fd, void *ctx)
{
	(void)ctx;
	return rt_trace_write_json(fd);
}

/* Write the environment's session now, under mu (held by the caller):
 * at exit, at _exit, or before an exec (at_exec: the tree rule's "a
 * process that recorded nothing writes nothing", since the new image
 * traces on under the same pid). */
static void env_write_locked(bool at_exec)
{
	if (!env_asked || !rt_trace_active() || out_fd >= 0 || ring_seconds > 0)
		return;   /* no session, or not the environment's */
	rt_tsw_drain(true);
	rt_trace_session_end();
	env_out.at_exec = at_exec;
	int rc = rt_out_write(&env_out, has_fn, write_fn, NULL);
	env_out.at_exec = false;
	if (rc < 0)
		fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
								  : cprof_error_string(rc));
}

static RT_EDGE_TEXT void at_exit(void)
{
	if (getpid() != env_owner)
		return;
	rt_self_enter();
	int e = errno;
	pthread_mutex_lock(&mu);
	env_write_locked(false);
	pthread_mutex_unlock(&mu);
	errno = e;
	rt_self_leave();
}

/* lifecycle.c's _exit and exec paths: CPROF_TRACE's file written now, in
 * the calling thread (JSON, symbolized: malloc and the builder, like the
 * exit writers of the mutex profiles before an exec).  Only in the owner
 * process; mu is waited for at most 2 s (a thread that _exits while
 * another writes a trace loses this one, not the process).  Not AS-safe:
 * an _exit or exec from a signal handler that interrupted malloc would
 * hang here, the accepted risk of lifecycle.c's exec writers. */
void rt_trace_exit_write(bool at_exec)
{
	if (!env_asked || getpid() != env_owner || !rt_trace_active())
		return;
	rt_self_enter();
	int e = errno;
	/* bounded: the cprof-trace thread holds mu for moments only */
	struct timespec at;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += 2;
	if (pthread_mutex_timedlock(&mu, &at) == 0) {
		env_write_locked(at_exec);
		pthread_mutex_unlock(&mu);
	}
	errno = e;
	rt_self_leave();
}

RT_FORK_TEXT static void fork_child(void)
{
	/* the parent's session is not the child's: stop recording, keep
	 * nothing.  Only what differs is written (each page written is a
	 * copy-on-write fault in every child of a fork-heavy program) */
	static const pthread_mutex_t mu0 = PTHREAD_MUTEX_INITIALIZER;
	static const pthread_cond_t cv0 = PTHREAD_COND_INITIALIZER;
	if (atomic_load(&rt_trace_on))
		atomic_store(&rt_trace_on, 0);
	rt_trace_forked();
	rt_trace_hooks_forked();
	rt_tsw_forked();
	if (out_fd != -1)
		out_fd = -1;
	if (out_owned)
		out_owned = false;
	if (ring_seconds)
		ring_seconds = 0;   /* its thread is not in the child */
	if (memcmp(&mu, &mu0, sizeof mu0) != 0)
		pthread_mutex_init(&mu, NULL);
	if (memcmp(&ring_cv, &cv0, sizeof cv0) != 0)
		pthread_cond_init(&ring_cv, NULL);
	if (tick_made || ring_started || ring_stop)
		tick_made = ring_started = ring_stop = false;
}

static void trace_env_init_body(void)
{
	int e = errno;
	unsigned long long sz;
	switch (rt_env_size("CPROF_TRACE_BUF", 1ull << 20, 16ull << 30, "default trace buffer (64M)",
			    &sz)) {
	case RT_ENV_OK: budget = (size_t)sz; break;
	default: break;
	}
	pthread_atfork(NULL, NULL, fork_child);
	bool sw = false;
	if (rt_env_bool("CPROF_TRACE_SWITCH", "runnable time from schedstat", &sw) == RT_ENV_OK)
		rt_tsw_want(sw);
	long ring = 0;
	rt_env_rc rr = rt_env_long("CPROF_TRACE_RING", 1, 3600, "no flight recorder", &ring);
	/* the split: within a read budget for a trace (auto), the waits its
	 * thread visits for the flight recorder (long: always on, no read in
	 * a short wait) */
	static const char *const splits[] = { "0", "1", "auto", "all", "long" };
	static const int split_mode[] = { RT_RUNNABLE_OFF, RT_RUNNABLE_AUTO, RT_RUNNABLE_AUTO,
					  RT_RUNNABLE_ALL, RT_RUNNABLE_LONG };
	int mode = rr == RT_ENV_OK ? RT_RUNNABLE_LONG : RT_RUNNABLE_AUTO, split;
	if (rt_env_word("CPROF_TRACE_RUNNABLE", splits, 5,
			mode == RT_RUNNABLE_LONG ? "the waits visited in progress split (long)"
						 : "waits split within a read budget (auto)",
			&split) == RT_ENV_OK)
		mode = split_mode[split];
	atomic_store(&rt_trace_runnable, mode);
	env_asked = rt_out_init(&env_out, "CPROF_TRACE", "trace", true);
	if (rr == RT_ENV_OK && env_asked) {
		rt_env_complain("CPROF_TRACE_RING", getenv("CPROF_TRACE_RING"),
				"CPROF_TRACE records the whole run", "no flight recorder");
	} else if (rr == RT_ENV_OK) {
		pthread_mutex_lock(&mu);
		int rc = start_locked(-1, false);
		if (rc == 0) {
			/* the whole budget first: halved at the first rotation */
			ring_seconds = ring;
			rt_trace_session_end();
			rc = rt_trace_session_begin(ring_gen_budget());
		}
		pthread_mutex_unlock(&mu);
		if (rc == 0 && !tick_made) {
			pthread_mutex_lock(&mu);
			rt_trace_session_end();
			ring_seconds = 0;
			pthread_mutex_unlock(&mu);
			rc = CPROF_ERR_SYSTEM;
		} else if (rc == 0) {
			/* until the thread runs (bounded): a program that exits at
			 * once must not leave its start half done */
			pthread_mutex_lock(&mu);
			struct timespec at;
			clock_gettime(CLOCK_REALTIME, &at);
			at.tv_sec += 1;
			while (!ring_started &&
			       pthread_cond_timedwait(&ring_cv, &mu, &at) != ETIMEDOUT)
				;
			pthread_mutex_unlock(&mu);
		}
		if (rc < 0)
			fprintf(stderr, "cprof: CPROF_TRACE_RING: %s; no flight recorder\n",
				*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	}
	if (env_asked) {
		env_owner = getpid();
		pthread_mutex_lock(&mu);
		int rc = start_locked(-1, false);
		pthread_mutex_unlock(&mu);
		if (rc < 0)
			fprintf(stderr, "cprof: CPROF_TRACE: %s; no trace\n",
				*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
		else
			atexit(at_exit);
	}
	errno = e;
}

__attribute__((constructor))
static void trace_env_init(void)
{
	rt_self_enter();
	trace_env_init_body();
	rt_self_leave();
}
