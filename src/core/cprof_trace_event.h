/*
 * cprof_trace_event.h - one event object of a Chrome Trace Event JSON
 * trace read into fixed fields, for the readers that walk a trace with
 * the validating scanner (cprof_jscan.h): the timeline's index
 * (src/report/timeline.c) and the Perfetto converter (trace_perfetto.c).
 * Strings are truncated to their fields; times ("µs with ns precision")
 * become int64 ns, the runtime's "123.456" form without strtod; numeric
 * arguments other than waker_tid are kept, the first CPROF_TEV_NUMS (a
 * counter's series).  Pure; thread-safe.
 */
#ifndef CPROF_TRACE_EVENT_H
#define CPROF_TRACE_EVENT_H

#include "cprof_jscan.h"

#include <stdbool.h>
#include <stdint.h>

#define CPROF_TEV_NUMS 8
#define CPROF_TEV_NS_MAX (INT64_C(1) << 62)   /* |time| beyond this is an error */

typedef struct cprof_tev_fields {
	char ph;                        /* '?' when longer than one character */
	char cat[32], name[256], scope[4];
	char reason[64], aname[256];    /* args.reason, args.name */
	bool has_ts, has_dur, has_id, has_waker;
	int64_t ts, dur;                /* ns */
	double pid, tid, waker;         /* waker: args.waker_tid */
	uint64_t id;                    /* a numeric id (has_id) */
	int nnum;                       /* numeric args: names and values */
	char nkey[CPROF_TEV_NUMS][64];
	double nval[CPROF_TEV_NUMS];
} cprof_tev_fields;

/* The bytes that may continue a JSON number: a table, as the timeline's
 * fast path (src/report/timeline_fast.c) reads one after every number it
 * reads; static, so that each file's copy is addressed directly (a
 * 256-byte copy in each file that uses it). */
static const bool cprof_tev_numch_tab[256] = {
	[0] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1, ['+'] = 1, ['-'] = 1,
};

/* Whether c may continue a JSON number (as strchr("0123456789.eE+-", c)
 * would say, NUL included): a number followed by one is not plain. */
static inline bool cprof_tev_numch(char c)
{
	return cprof_tev_numch_tab[(unsigned char)c];
}

/* A time "DIGITS[.DIGITS]" (µs, optionally negative, at most 15 integer
 * digits, rounded at ns) at [p, e) into *ns: the byte after it, or NULL
 * when it is not of that form (then read as a JSON number).  Pure. */
const char *cprof_tev_usec_plain(const char *p, const char *e, int64_t *ns);

/* Read the value at j into e (cleared first): *obj false (and e empty)
 * when it is not an object.  false on a scan failure (j->why). */
bool cprof_tev_read(cprof_jscan *j, cprof_tev_fields *e, bool *obj);

#endif
