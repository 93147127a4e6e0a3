/*
 * timeline_fast.c - the timeline index's fast path (timeline_int.h): one
 * event in the runtime's own key order read without the validating
 * scanner, into the fields the scanner's path (cprof_trace_event.h) would
 * have read; timeline.c's build tries it first on every event and falls
 * back to the scanner when it declines.
 *
 * Layout read, and why the result is the scanner's: see "the runtime's
 * own layout" below.  Pure functions over the caller's bytes, allocating
 * nothing: thread-safe and async-signal-safe.
 */
#include "timeline_int.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- the runtime's own layout, without the scanner ------------------------
 *
 * The runtime (src/runtime/trace_json.c) writes its slices and flows with
 * their keys in one order and no white space:
 *   {"ph":"X","pid":N,"tid":N,"name":"..","cat":"..","ts":T,"dur":T[,"args":{..}]}
 *   {"ph":"s","pid":N,"tid":N,"name":"..","cat":"..","ts":T,"id":N}
 *   {"ph":"f","pid":N,"tid":N,"name":"..","cat":"..","bp":"e","ts":T,"id":N}
 * cprof_tl_fast_event reads exactly that form into the fields the general path
 * would have read, or returns NULL having changed nothing, and the
 * general path reads the event instead (so anything else, every escape
 * or odd number included, is read as before).  Strings are taken only
 * when printable ASCII without escapes and shorter than their field, so
 * they decode to themselves; integers only in JSON's form of at most 10
 * (pid, tid) or 15 (id) digits, exact as doubles.  args is not read but
 * skipped: its first member "reason" when a plain string, then a skip
 * aware of strings and brackets (matched by kind, nesting limited as the
 * scanner's, no control character in a string) up to its closing brace;
 * a second "reason" at its top level falls back (the last one would
 * win).  What that skip does not check (the grammar between tokens,
 * escapes' form) is checked when a click quotes the event
 * (timeline.c's value_end: an invalid event is quoted as null and not
 * searched).
 * Pure; thread-safe. */

#define LIT(p, e, s) ((size_t)((e) - (p)) >= sizeof(s) - 1 && memcmp(p, s, sizeof(s) - 1) == 0 \
		      ? (p) + sizeof(s) - 1 : NULL)

#ifdef __SSE2__
/* Sixteen bytes at p: bit k set when p[k] stops a plain string (a quote,
 * a backslash, a control character, DEL or a byte above 0x7e). */
static inline unsigned plain_stops(const char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(
		_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),   /* signed: >= 0x80 too */
			     _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))),
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
	return (unsigned)_mm_movemask_epi8(m);
}

/* Sixteen bytes at p: bit k set when p[k] stops a skipped string (a
 * quote, a backslash or a control character). */
static inline unsigned skip_stops(const char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(
		_mm_cmpeq_epi8(_mm_subs_epu8(v, _mm_set1_epi8(0x1f)), _mm_setzero_si128()),
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* A plain string's bytes (after its opening quote) into out[cap]: the
 * byte after the closing quote, NULL when not plain or too long.  Sixteen
 * bytes at a time while they are in [p, e) and fit with room for the
 * NUL, the rest (and the byte that stops it) a byte at a time: the same
 * answer as the byte loop alone. */
static const char *fast_str(const char *p, const char *e, char *out, size_t cap)
{
	size_t n = 0;
#ifdef __SSE2__
	while (e - p >= 16 && n + 16 < cap) {
		unsigned m = plain_stops(p);
		if (m) {
			unsigned k = (unsigned)__builtin_ctz(m);
			memcpy(out + n, p, k);
			n += k;
			p += k;
			break;
		}
		memcpy(out + n, p, 16);
		n += 16;
		p += 16;
	}
#endif
	while (p < e && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c > 0x7e || c == '\\' || n + 1 >= cap)
			return NULL;
		out[n++] = (char)c;
		p++;
	}
	if (p >= e)
		return NULL;
	out[n] = 0;
	return p + 1;
}

static inline bool digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* A non-negative integer of 1..max digits, without a leading zero.  With
 * more than max bytes in hand, without checking the end at every byte. */
static const char *fast_uint(const char *p, const char *e, int max, uint64_t *v)
{
	if (e - p > max) {
		int n = 0;
		uint64_t x = 0;
		while (n < max && digit(p[n]))
			x = x * 10 + (uint64_t)(p[n++] - '0');
		if (n == 0 || cprof_tev_numch(p[n]) || (p[0] == '0' && n > 1))
			return NULL;
		*v = x;
		return p + n;
	}
	const char *d = p;
	uint64_t x = 0;
	while (p < e && *p >= '0' && *p <= '9' && p - d < max)
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (p == d || (p < e && cprof_tev_numch(*p)) || (*d == '0' && p - d > 1))
		return NULL;
	*v = x;
	return p;
}

/* A time in µs as cprof_tev_usec_plain reads it; its usual form, up to
 * 15 digits, a point and exactly three (the runtime writes ns), read here
 * without checking the end at every byte (20 bytes in hand), any other
 * by cprof_tev_usec_plain. */
static const char *fast_usec(const char *p, const char *e, int64_t *ns)
{
	if (p >= e || *p == '-')
		return NULL;   /* negative: the general path's */
	if (e - p >= 20) {
		int n = 0;
		int64_t ip = 0;
		while (n < 15 && digit(p[n]))
			ip = ip * 10 + (p[n++] - '0');
		const char *q = p + n;   /* q[0..4] are in hand */
		if (n && q[0] == '.' && digit(q[1]) && digit(q[2]) && digit(q[3]) &&
		    !cprof_tev_numch(q[4])) {
			*ns = ip * 1000 + (q[1] - '0') * 100 + (q[2] - '0') * 10 + (q[3] - '0');
			return q + 4;
		}
	}
	return cprof_tev_usec_plain(p, e, ns);
}

/* The bytes a skip stops at: in a string (1) and out of one (2).  A
 * table lookup a byte: args' strings are short (keys, addresses, stack
 * frames of 10-40 bytes), where eight bytes at a time (the scanner's
 * plain run) measured slower (more instructions and CPU). */
static const unsigned char skip_tab[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
	[0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
	[0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
	[0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['\\'] = 1, ['"'] = 3,
	['{'] = 2, ['}'] = 2, ['['] = 2, [']'] = 2,
};

/* The rest of args after p (inside its braces, depth d0 being args'
 * own): the byte after its closing brace, NULL when it is not of the
 * form above. */
static const char *fast_skip_args(const char *p, const char *e, int d0, int dmax)
{
	uint64_t kinds = 0;             /* bit k: level k+1 is an array */
	int d = 0;                      /* levels open inside args */
	for (;;) {
		while (p < e && !(skip_tab[(unsigned char)*p] & 2))
			p++;
		if (p >= e)
			return NULL;
		char c = *p++;
		if (c == '"') {
			const char *s0 = p;
			for (;;) {
#ifdef __SSE2__
				while (e - p >= 16) {
					unsigned m = skip_stops(p);
					if (m) {
						p += __builtin_ctz(m);
						break;
					}
					p += 16;
				}
#endif
				while (p < e && !(skip_tab[(unsigned char)*p] & 1))
					p++;
				if (p >= e || (unsigned char)*p < 0x20)
					return NULL;
				if (*p == '"')
					break;
				if (e - p < 2)
					return NULL;
				p += 2;   /* an escape and the byte it escapes */
			}
			if (d == 0 && p - s0 == 6 && memcmp(s0, "reason", 6) == 0)
				return NULL;
			p++;
		} else if (c == '{' || c == '[') {
			if (d >= 63 || d0 + d + 1 > dmax)
				return NULL;
			kinds = c == '[' ? kinds | UINT64_C(1) << d : kinds & ~(UINT64_C(1) << d);
			d++;
		} else if (d == 0) {
			return c == '}' ? p : NULL;
		} else {
			d--;
			if ((c == ']') != ((kinds >> d & 1) != 0))
				return NULL;
		}
	}
}

const char *cprof_tl_fast_event(const char *p, const char *end, int depth, int dmax,
				cprof_tev_fields *e)
{
	const char *q = LIT(p, end, "{\"ph\":\"");
	if (!q || end - q < 3 || q[1] != '"' || q[2] != ',' ||
	    (q[0] != 'X' && q[0] != 's' && q[0] != 'f'))
		return NULL;
	e->ph = q[0];
	e->has_ts = e->has_dur = e->has_id = e->has_waker = false;
	e->reason[0] = e->aname[0] = e->scope[0] = 0;
	e->nnum = 0;
	e->ts = e->dur = 0;
	e->id = 0;
	e->waker = 0;
	p = q + 3;
	uint64_t pid, tid;
	if (!(p = LIT(p, end, "\"pid\":")) || !(p = fast_uint(p, end, 10, &pid)) ||
	    !(p = LIT(p, end, ",\"tid\":")) || !(p = fast_uint(p, end, 10, &tid)) ||
	    !(p = LIT(p, end, ",\"name\":\"")) || !(p = fast_str(p, end, e->name, sizeof e->name)) ||
	    !(p = LIT(p, end, ",\"cat\":\"")) || !(p = fast_str(p, end, e->cat, sizeof e->cat)))
		return NULL;
	e->pid = (double)pid;
	e->tid = (double)tid;
	if (e->ph == 'f' && !(p = LIT(p, end, ",\"bp\":\"e\"")))
		return NULL;
	if (!(p = LIT(p, end, ",\"ts\":")) || !(p = fast_usec(p, end, &e->ts)))
		return NULL;
	e->has_ts = true;
	if (e->ph != 'X') {
		if (!(p = LIT(p, end, ",\"id\":")) || !(p = fast_uint(p, end, 15, &e->id)))
			return NULL;
		e->has_id = true;
		return p < end && *p == '}' ? p + 1 : NULL;
	}
	if (!(p = LIT(p, end, ",\"dur\":")) || !(p = fast_usec(p, end, &e->dur)))
		return NULL;
	e->has_dur = true;
	if (p < end && *p == '}')
		return p + 1;
	if (!(p = LIT(p, end, ",\"args\":{")) || depth + 2 > dmax)
		return NULL;
	const char *r = LIT(p, end, "\"reason\":\"");
	if (r) {
		if (!(p = fast_str(r, end, e->reason, sizeof e->reason)))
			return NULL;
		if (p < end && *p == '}')
			p++;
		else if (!(p = LIT(p, end, ",")))
			return NULL;
		else if (!(p = fast_skip_args(p, end, depth + 2, dmax)))
			return NULL;
	} else if (!(p = fast_skip_args(p, end, depth + 2, dmax))) {
		return NULL;
	}
	return p < end && *p == '}' ? p + 1 : NULL;
}
