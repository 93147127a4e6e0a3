/*
 * timeline_int.h - what the timeline index's files share inside
 * libcprofreport.a (not installed): timeline.c builds and queries the
 * index, timeline_fast.c reads the runtime's own event layout without the
 * scanner.
 */
#ifndef CPROF_TIMELINE_INT_H
#define CPROF_TIMELINE_INT_H

#include "cprof_trace_event.h"

/* One event at p in the runtime's own layout (depth: the scanner's
 * around it, dmax its limit) into e: the byte after it, or NULL when it
 * is not exactly of that layout (e then partly written: the general path
 * clears it).  Never reads at or past end.  Pure; thread-safe. */
const char *cprof_tl_fast_event(const char *p, const char *end, int depth, int dmax,
				cprof_tev_fields *e);

#endif
