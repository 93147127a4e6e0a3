/*
 * cprof_jscan.h - a validating JSON scanner over a buffer, for the readers
 * of execution traces (trace_read.c's delay profiles, the report layer's
 * timeline index): no tree is built; the caller walks objects key by key
 * and reads or skips each value.  Internal to cprof (not installed).
 *
 * Limits: nesting up to depth_max (64 when 0); a string of more than
 * str_max characters (an escape counts one) fails when str_max is not 0.
 * Strings are checked for control characters and bad escapes, so a value
 * that scanned can be quoted back as valid JSON.  The first failure's
 * reason (a static string) and byte offset stay in why / at.
 *
 * Threads: a scanner is one caller's; the functions keep no state
 * elsewhere.  Not async-signal-safe (strtod).
 */
#ifndef CPROF_JSCAN_H
#define CPROF_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cprof_jscan {
	const char *s, *e;          /* the next byte, the end */
	const char *base;           /* the buffer, for offsets */
	int depth, depth_max;
	size_t str_max;
	const char *why;            /* the first failure */
	size_t at;                  /* its offset */
} cprof_jscan;

/* Record a failure (the first one wins); returns false. */
bool cprof_js_fail(cprof_jscan *j, const char *why);

static inline void cprof_js_ws(cprof_jscan *j)
{
	while (j->s < j->e && (*j->s == ' ' || *j->s == '\n' || *j->s == '\r' || *j->s == '\t'))
		j->s++;
}

/* After white space: consume c when it is next. */
static inline bool cprof_js_lit(cprof_jscan *j, char c)
{
	cprof_js_ws(j);
	if (j->s < j->e && *j->s == c) {
		j->s++;
		return true;
	}
	return false;
}

/* A string's raw bytes [*a, *b) between its quotes, escapes as written
 * (*esc set when there is one; esc may be NULL).  Validated. */
bool cprof_js_rawstr(cprof_jscan *j, const char **a, const char **b, bool *esc);

/* A string decoded into out (UTF-8, NUL-terminated, truncated to cap-1
 * bytes; \u0000 and lone surrogates become U+FFFD), its decoded length
 * in *len (may be NULL); out NULL skips it. */
bool cprof_js_str(cprof_jscan *j, char *out, size_t cap, size_t *len);

/* A number (finite; at most 64 characters); v may be NULL. */
bool cprof_js_num(cprof_jscan *j, double *v);

/* Skip any value, validating it. */
bool cprof_js_skip(cprof_jscan *j);

/* An object's members: for each, member(j, k0, k1, ctx) with the key's
 * raw bytes [k0, k1) reads (or skips) the value.  A value that is not an
 * object is skipped (*obj false, when obj is not NULL).  The nesting
 * limit counts it. */
typedef bool cprof_js_member(cprof_jscan *j, const char *k0, const char *k1, void *ctx);
bool cprof_js_object(cprof_jscan *j, cprof_js_member *member, void *ctx, bool *obj);

/* An array's elements, each read by elem(j, ctx); what is not an array
 * fails with why. */
typedef bool cprof_js_elem(cprof_jscan *j, void *ctx);
bool cprof_js_array(cprof_jscan *j, cprof_js_elem *elem, void *ctx, const char *why);

/* A whole Chrome trace, the buffer's only value: each event of a
 * top-level array, or of the first "traceEvents" array of a top-level
 * object (its other members skipped), read by event(j, ctx).  Fails with
 * "not JSON", "no traceEvents", "traceEvents is not an array" or "data
 * after the JSON value" besides the scanner's reasons. */
bool cprof_js_trace(cprof_jscan *j, cprof_js_elem *event, void *ctx);

#endif
