/*
 * deadlock.c - the deadlock profile (issue 6).  Placeholder: the profile
 * is refused with a clear error.
 */
#include "rt_int.h"
#include "cprof.h"

static int not_yet(void)
{
	rt_set_error("the deadlock profile is not available in this build");
	return CPROF_ERR_INVAL;
}

int rt_deadlock_render(int debug, rt_buf *out) { (void)debug; (void)out; return not_yet(); }
int rt_deadlock_build(cprof_profile **out) { (void)out; return not_yet(); }
