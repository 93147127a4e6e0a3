/*
 * heap.c - the heap and allocs profiles (issue 5).  Placeholder until the
 * sampler lands: the profiles are refused with a clear error.
 */
#include "rt_int.h"
#include "cprof.h"

static int not_yet(const char *what)
{
	rt_set_error("the %s profile is not available in this build", what);
	return CPROF_ERR_INVAL;
}

int rt_heap_render(bool allocs, int debug, rt_buf *out)
{
	(void)debug; (void)out;
	return not_yet(allocs ? "allocs" : "heap");
}
int rt_heap_build(bool allocs, cprof_profile **out)
{
	(void)out;
	return not_yet(allocs ? "allocs" : "heap");
}
long cprof_heap_set_rate(long bytes) { (void)bytes; return not_yet("heap"); }
int cprof_heap_get_stats(cprof_heap_stats *st) { (void)st; return not_yet("heap"); }
