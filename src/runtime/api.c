/*
 * api.c - the public API of include/cprof.h: starting and stopping the CPU
 * profile, its rate, errors.
 *
 * One mutex serialises start, stop and set_rate; the state it guards is
 * whether a profile runs, where it goes (the caller's descriptor, or a
 * path: then no descriptor is held while the program runs, and the
 * profile is written at stop to a temporary file renamed over the path,
 * outfile.c) and the rate.  Start order: SIGPROF handler
 * (refused when the program has its own), sample ring, collector thread,
 * then the timers of every thread; the session number carried by the
 * timers changes each start, so a late signal of an earlier session is
 * ignored.  Stop runs in the reverse order and writes the profile.  The
 * last error's message is kept per thread (initial-exec TLS).
 *
 * The descriptor of a profile started with a path is the runtime's, held
 * across the program's code: a program that closes every descriptor
 * (close_range, closefrom, daemons) and opens its own files may have
 * given its number to one of them.  So the file's identity (device,
 * inode) is kept from the start, and before the runtime writes or closes
 * the descriptor it checks it (fstat, async-signal-safe): when it is no
 * longer the profile's, the profile file is opened again by its absolute
 * path (kept from the start) and the program's descriptor is left alone.
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_cpu.h"
#include "rt_profile.h"
#include "rt_lifecycle.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t api_mu = PTHREAD_MUTEX_INITIALIZER;
static bool running;
static int out_fd = -1;
static rt_out *out_file;      /* a path's output (NULL: out_fd) */
static rt_out api_out;        /* cprof_cpu_start's path */
static int cur_hz = CPROF_CPU_HZ_DEFAULT;

/* The runtime API's first name for cprof_strerror (core/profile.c, in the
 * light core that libcprof.so carries): one table of error strings. */
const char *cprof_error_string(int code)
{
	return cprof_strerror(code);
}

RT_FORK_TEXT static void fork_child_reset(void)
{
	pthread_mutex_init(&api_mu, NULL);
	running = false;          /* the parent writes it, never the child */
	out_fd = -1;
	out_file = NULL;
}

static int start_locked(int fd, rt_out *o)
{
	if (running) {
		rt_set_error("cpu profiling already in use");
		return CPROF_ERR_BUSY;
	}
	rt_threads_init();
	rt_fork_child_hook = fork_child_reset;
	int rc = rt_sigprof_install();
	if (rc < 0) {
		if (rc != CPROF_ERR_SIGNAL)
			rt_set_error("cannot install the SIGPROF handler: %s", strerror(errno));
		return rc;
	}
	if ((rc = rt_ring_init()) < 0) {
		rt_set_error("cannot allocate the sample buffer");
		return rc;
	}
	/* the modules listed, no table built: the handler reads rows on
	 * demand from each module's CFI in memory, and a module's table is
	 * built (on the builder thread) once many rows were looked up in it */
	rt_modules_list(false);
	atomic_fetch_add(&rt_cpu_gen, 1);
	if ((rc = rt_collector_start(cur_hz)) < 0)
		return rc;
	atomic_store(&rt_cpu_on, 1);
	if ((rc = rt_threads_timers_start(1000000000L / cur_hz)) < 0) {
		atomic_store(&rt_cpu_on, 0);
		rt_collector_stop(-1, NULL);
		return rc;
	}
	running = true;
	out_fd = fd;
	out_file = o;
	return 0;
}

/* Start to an rt_out (env.c: the tree rule; the API: a plain path). */
static int start_out(rt_out *o)
{
	if (!rt_out_writable(o)) {
		rt_set_error("cannot create %s: %s", o->pattern, strerror(errno));
		return CPROF_ERR_IO;
	}
	return start_locked(-1, o);
}

int rt_cpu_start_out(rt_out *o)
{
	rt_clear_error();
	pthread_mutex_lock(&api_mu);
	int rc = start_out(o);
	pthread_mutex_unlock(&api_mu);
	return rc;
}

int cprof_cpu_start(const char *path)
{
	rt_clear_error();
	if (!path || !*path) {
		rt_set_error("cprof_cpu_start: no path");
		return CPROF_ERR_INVAL;
	}
	pthread_mutex_lock(&api_mu);
	int rc;
	if (running) {
		rt_set_error("cpu profiling already in use");
		rc = CPROF_ERR_BUSY;
	} else if (!rt_out_set_path(&api_out, path, "CPU")) {
		rt_set_error("cannot create %s: path too long", path);
		rc = CPROF_ERR_INVAL;
	} else {
		rc = start_out(&api_out);
	}
	pthread_mutex_unlock(&api_mu);
	return rc;
}

int cprof_cpu_start_fd(int fd)
{
	rt_clear_error();
	if (fd < 0) {
		rt_set_error("cprof_cpu_start_fd: bad file descriptor");
		return CPROF_ERR_INVAL;
	}
	pthread_mutex_lock(&api_mu);
	int rc = start_locked(fd, NULL);
	pthread_mutex_unlock(&api_mu);
	return rc;
}

int cprof_cpu_stop(void)
{
	rt_clear_error();
	pthread_mutex_lock(&api_mu);
	int rc;
	if (!running) {
		rt_set_error("cpu profiling not running");
		rc = CPROF_ERR_NOT_RUNNING;
	} else {
		rt_threads_timers_stop();
		atomic_store(&rt_cpu_on, 0);
		rc = rt_collector_stop(out_fd, out_file);
		running = false;
		out_fd = -1;
		out_file = NULL;
	}
	pthread_mutex_unlock(&api_mu);
	return rc;
}

int cprof_cpu_set_rate(int hz)
{
	rt_clear_error();
	if (hz < 1 || hz > CPROF_CPU_HZ_MAX) {
		rt_set_error("cpu profile rate %d out of range 1..%d", hz, CPROF_CPU_HZ_MAX);
		return CPROF_ERR_INVAL;
	}
	pthread_mutex_lock(&api_mu);
	int rc = 0;
	if (running) {
		rt_set_error("cannot set cpu profile rate until previous profile has finished");
		rc = CPROF_ERR_BUSY;
	} else {
		cur_hz = hz;
	}
	pthread_mutex_unlock(&api_mu);
	return rc;
}

int rt_cpu_rate(void)
{
	return cur_hz;   /* an int, set under api_mu; a stale read is harmless */
}

int cprof_cpu_running(void)
{
	return atomic_load(&rt_cpu_on) ? 1 : 0;
}

int cprof_cpu_get_stats(cprof_cpu_stats *st)
{
	if (!st)
		return CPROF_ERR_INVAL;
	st->samples = __atomic_load_n(&rt_stats_g.samples, __ATOMIC_RELAXED);
	st->lost_ring_full = __atomic_load_n(&rt_stats_g.lost_ring_full, __ATOMIC_RELAXED);
	st->lost_unwind = __atomic_load_n(&rt_stats_g.lost_unwind, __ATOMIC_RELAXED);
	st->truncated = __atomic_load_n(&rt_stats_g.truncated, __ATOMIC_RELAXED);
	st->handler_ns = __atomic_load_n(&rt_stats_g.handler_ns, __ATOMIC_RELAXED);
	return 0;
}

/* For env.c's exit paths: whether a profile runs, and where it goes. */
bool rt_api_running(int *fd, rt_out **o)
{
	if (!running)
		return false;
	*fd = out_fd;
	*o = out_file;
	return true;
}

void rt_cpu_pause(void)
{
	/* timers off first: the exit-time work of the other profiles (a heap
	 * profile's symbolization) is the runtime's, never the program's.
	 * The collector keeps what it has; the stop that follows writes it.
	 * Not under api_mu: from exit paths, where a thread may hold it. */
	if (atomic_exchange(&rt_cpu_on, 0))
		rt_threads_timers_stop();
}
