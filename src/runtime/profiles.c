/*
 * profiles.c - the runtime's profiles by kind, for the public *_write
 * functions, the dump signal and the HTTP endpoint: one table from kind to
 * its renderer (debug 0/1/2 into a buffer) and builder (the debug=0
 * profile, for deltas), and the fd writers of include/cprof.h built on it.
 */
#include "rt_base.h"
#include "rt_profile.h"
#include "cprof.h"

static int heap_r(int d, rt_buf *o) { return rt_heap_render(false, d, o); }
static int allocs_r(int d, rt_buf *o) { return rt_heap_render(true, d, o); }
static int heap_b(cprof_profile **p) { return rt_heap_build(false, p); }
static int allocs_b(cprof_profile **p) { return rt_heap_build(true, p); }

static const struct {
	const char *name;
	int (*render)(int debug, rt_buf *out);
	int (*build)(cprof_profile **out);
} kinds[RT_KIND_N] = {
	[RT_KIND_HEAP] = { "heap", heap_r, heap_b },
	[RT_KIND_ALLOCS] = { "allocs", allocs_r, allocs_b },
	[RT_KIND_THREADS] = { "threads", rt_threads_render, rt_threads_build },
	[RT_KIND_THREADCREATE] = { "threadcreate", rt_threadcreate_render, rt_threadcreate_build },
	[RT_KIND_MUTEX] = { "mutex", rt_mutex_render, rt_mutex_build },
	[RT_KIND_BLOCK] = { "block", rt_block_render, rt_block_build },
	[RT_KIND_DEADLOCK] = { "deadlock", rt_deadlock_render, rt_deadlock_build },
};

int rt_profile_render(rt_kind k, int debug, rt_buf *out)
{
	if ((unsigned)k >= RT_KIND_N)
		return CPROF_ERR_INVAL;
	rt_self_enter();
	int rc = kinds[k].render(debug, out);
	rt_self_leave();
	return rc;
}

int rt_profile_build(rt_kind k, cprof_profile **out)
{
	if ((unsigned)k >= RT_KIND_N)
		return CPROF_ERR_INVAL;
	rt_self_enter();
	int rc = kinds[k].build(out);
	rt_self_leave();
	return rc;
}

static int write_kind(rt_kind k, int fd, int debug)
{
	if (fd < 0) {
		rt_set_error("cprof_%s_write: bad file descriptor", kinds[k].name);
		return CPROF_ERR_INVAL;
	}
	rt_buf b = { 0 };
	int rc = rt_profile_render(k, debug, &b);
	rt_self_enter();   /* writing the answer is the runtime's work too */
	if (rc == 0)
		rc = rt_buf_write_fd(&b, fd, kinds[k].name);
	rt_buf_free(&b);
	rt_self_leave();
	return rc;
}

int cprof_heap_write(int fd, int debug) { return write_kind(RT_KIND_HEAP, fd, debug); }
int cprof_allocs_write(int fd, int debug) { return write_kind(RT_KIND_ALLOCS, fd, debug); }
int cprof_threads_write(int fd, int debug) { return write_kind(RT_KIND_THREADS, fd, debug); }
int cprof_threadcreate_write(int fd, int debug) { return write_kind(RT_KIND_THREADCREATE, fd, debug); }
int cprof_mutex_write(int fd, int debug) { return write_kind(RT_KIND_MUTEX, fd, debug); }
int cprof_block_write(int fd, int debug) { return write_kind(RT_KIND_BLOCK, fd, debug); }
int cprof_deadlock_write(int fd, int debug) { return write_kind(RT_KIND_DEADLOCK, fd, debug); }
