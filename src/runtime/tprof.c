/*
 * tprof.c - thread snapshots and the threadcreate profile (issue 6).
 * Placeholder: the profiles are refused with a clear error.
 */
#include "rt_int.h"
#include "cprof.h"

static int not_yet(const char *what)
{
	rt_set_error("the %s profile is not available in this build", what);
	return CPROF_ERR_INVAL;
}

int rt_threads_render(int debug, rt_buf *out) { (void)debug; (void)out; return not_yet("threads"); }
int rt_threads_build(cprof_profile **out) { (void)out; return not_yet("threads"); }
int rt_threadcreate_render(int debug, rt_buf *out) { (void)debug; (void)out; return not_yet("threadcreate"); }
int rt_threadcreate_build(cprof_profile **out) { (void)out; return not_yet("threadcreate"); }
