/*
 * trace_env.c - the execution trace's public API and environment:
 *
 *   cprof_trace_start(path) / cprof_trace_start_fd(fd) / cprof_trace_stop()
 *   cprof_region_begin(name) / cprof_region_end(name) / cprof_trace_log()
 *   CPROF_TRACE=FILE       trace the whole run, written at exit (the
 *                          process tree rule of outfile.c: %p for one file
 *                          per process)
 *   CPROF_TRACE_BUF=SIZE   the session's buffer (64M default; 1M..16G)
 *   CPROF_TRACE_RUNNABLE=0 no schedstat reads around waits (no runnable
 *                          part; two procfs reads less per traced wait)
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
#include "rt_env.h"
#include "cprof.h"

#include <errno.h>
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
	int rc = rt_trace_session_begin(budget);
	if (rc < 0)
		return rc;
	out_fd = fd;
	out_owned = owned;
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
	int e = errno;
	rt_trace_text(RT_TEV_REGION_BEGIN, name ? name : "", NULL, rt_labels_current());
	errno = e;
}

void cprof_region_end(const char *name)
{
	if (!rt_trace_active() || rt_self_depth())
		return;
	int e = errno;
	rt_trace_text(RT_TEV_REGION_END, name ? name : "", NULL, rt_labels_current());
	errno = e;
}

void cprof_trace_log(const char *category, const char *message)
{
	if (!rt_trace_active() || rt_self_depth())
		return;
	int e = errno;
	rt_trace_text(RT_TEV_LOG, category ? category : "", message ? message : "",
		      rt_labels_current());
	errno = e;
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

/* The runtime thread that starts a new generation every ring_seconds. */
static void *ring_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	ring_started = true;
	pthread_cond_broadcast(&ring_cv);
	while (!ring_stop) {
		struct timespec at;
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += ring_seconds;
		int rc = pthread_cond_timedwait(&ring_cv, &mu, &at);
		if (ring_stop)
			break;
		if (rc == ETIMEDOUT && rt_trace_active() && rt_trace_rotate(ring_gen_budget()) < 0)
			break;   /* out of memory: what it has stays */
	}
	pthread_mutex_unlock(&mu);
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

static void at_exit(void)
{
	if (getpid() != env_owner)
		return;
	rt_self_enter();
	int e = errno;
	pthread_mutex_lock(&mu);
	if (rt_trace_active() && out_fd < 0) {   /* the environment's session */
		rt_trace_session_end();
		int rc = rt_out_write(&env_out, has_fn, write_fn, NULL);
		if (rc < 0)
			fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
									  : cprof_error_string(rc));
	}
	pthread_mutex_unlock(&mu);
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
	bool runnable = true;
	if (rt_env_bool("CPROF_TRACE_RUNNABLE", "waits split into blocked and runnable", &runnable) ==
	    RT_ENV_OK)
		atomic_store(&rt_trace_runnable, runnable);
	long ring = 0;
	rt_env_rc rr = rt_env_long("CPROF_TRACE_RING", 1, 3600, "no flight recorder", &ring);
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
		if (rc == 0 && rt_quiet_thread_start("cprof-trace", ring_main, NULL) != 0) {
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
