/*
 * sync.c - the mutex and block profiles (issue 6).  Placeholder: the
 * profiles are refused with a clear error.
 */
#include "rt_int.h"
#include "cprof.h"

static int not_yet(const char *what)
{
	rt_set_error("the %s profile is not available in this build", what);
	return CPROF_ERR_INVAL;
}

int rt_mutex_render(int debug, rt_buf *out) { (void)debug; (void)out; return not_yet("mutex"); }
int rt_mutex_build(cprof_profile **out) { (void)out; return not_yet("mutex"); }
int rt_block_render(int debug, rt_buf *out) { (void)debug; (void)out; return not_yet("block"); }
int rt_block_build(cprof_profile **out) { (void)out; return not_yet("block"); }
int cprof_mutex_set_fraction(int rate) { (void)rate; return not_yet("mutex"); }
long cprof_block_set_rate(long rate) { (void)rate; return not_yet("block"); }

size_t rt_sync_waits(rt_wait *out, size_t max) { (void)out; (void)max; return 0; }
int rt_mutex_owner(const void *m) { (void)m; return 0; }
const char *rt_wait_kind_name(rt_wait_kind k) { (void)k; return "?"; }
