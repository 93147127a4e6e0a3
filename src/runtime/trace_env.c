/*
 * trace_env.c - the execution trace's public API and environment:
 *
 *   cprof_trace_start(path) / cprof_trace_start_fd(fd) / cprof_trace_stop()
 *   cprof_region_begin(name) / cprof_region_end(name) / cprof_trace_log()
 *   CPROF_TRACE=FILE       trace the whole run, written at exit (the
 *                          process tree rule of outfile.c: %p for one file
 *                          per process)
 *   CPROF_TRACE_BUF=SIZE   the session's buffer (64M default; 1M..16G)
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

size_t rt_trace_budget(void);
size_t rt_trace_budget(void)
{
	return budget;
}

static int start_locked(int fd, bool owned)
{
	if (rt_trace_active())
		return CPROF_ERR_BUSY;
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
	if (rc == CPROF_ERR_BUSY)
		rt_set_error("a trace is already running");
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
		rt_set_error("a trace is already running");
		rc = CPROF_ERR_BUSY;
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

static void fork_child(void)
{
	/* the parent's session is not the child's: stop recording, keep nothing */
	atomic_store(&rt_trace_on, 0);
	out_fd = -1;
	out_owned = false;
	pthread_mutex_init(&mu, NULL);
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
	env_asked = rt_out_init(&env_out, "CPROF_TRACE", "trace", true);
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
