/*
 * jscan.c - the validating JSON scanner of cprof_jscan.h: strings, numbers,
 * literals, and skipping any value with the nesting and string limits.
 * Pure: all state is in the caller's scanner; thread-safe on distinct
 * scanners.
 */
#include "cprof_jscan.h"
#include "cprof_util.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define DEPTH_DEFAULT 64

bool cprof_js_fail(cprof_jscan *j, const char *why)
{
	if (!j->why) {
		j->why = why;
		j->at = (size_t)(j->s - j->base);
	}
	return false;
}

/* The bytes a string's scan stops at: the quote, the backslash, and
 * control characters. */
static const unsigned char special_tab[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
	[0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
	[0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
	[0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

static inline bool special(unsigned char c)
{
	return special_tab[c];   /* one load: the scan's inner loop */
}

/* The first special byte in [p, e), or e: after the first 16 bytes,
 * eight bytes at a time (a
 * word has one when a byte is below 0x20 or equals '"' or '\\'; the
 * lowest flagged byte is exact, borrows only run upwards), then byte by
 * byte from the word that has one. */
static inline const char *plain_run(const char *p, const char *e)
{
	/* most strings are short (keys, names): their first bytes one by one */
	const char *first = e - p > 16 ? p + 16 : e;
	while (p < first && !special((unsigned char)*p))
		p++;
	if (p < first || p == e)
		return p;
	const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
	while (e - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
		uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
		if (hit & high)
			break;
		p += 8;
	}
	while (p < e && !special((unsigned char)*p))
		p++;
	return p;
}

bool cprof_js_rawstr(cprof_jscan *j, const char **a, const char **b, bool *esc)
{
	cprof_js_ws(j);
	if (j->s >= j->e || *j->s != '"')
		return cprof_js_fail(j, "a string expected");
	const char *p = j->s + 1;
	bool x = false;
	size_t chars = 0;
	while (p < j->e && *p != '"') {
		/* a run of plain bytes at once: most of a trace is in strings */
		const char *r = plain_run(p, j->e);
		chars += (size_t)(r - p);
		p = r;
		if (j->str_max && chars > j->str_max)
			return cprof_js_fail(j, "a string longer than the limit (4096 bytes)");
		if (p >= j->e || *p == '"')
			break;
		unsigned char c = (unsigned char)*p;
		if (j->str_max && ++chars > j->str_max)
			return cprof_js_fail(j, "a string longer than the limit (4096 bytes)");
		if (c < 0x20)
			return cprof_js_fail(j, "a control character in a string");
		x = true;
		if (p + 1 >= j->e)
			break;
		char d = p[1];
		if (d == 'u') {
			if (j->e - p < 6)
				return cprof_js_fail(j, "a bad \\u escape");
			for (int i = 2; i < 6; i++)
				if (cprof_hexval(p[i]) < 0)
					return cprof_js_fail(j, "a bad \\u escape");
			p += 6;
		} else if (d && strchr("\"\\/bfnrt", d)) {
			p += 2;
		} else {
			return cprof_js_fail(j, "a bad escape in a string");
		}
	}
	if (p >= j->e)
		return cprof_js_fail(j, "an unterminated string");
	*a = j->s + 1;
	*b = p;
	if (esc)
		*esc = x;
	j->s = p + 1;
	return true;
}

static void put_utf8(char *out, size_t *n, size_t cap, unsigned cp)
{
	char b[4];
	size_t k;
	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (*n + k < cap) {
		memcpy(out + *n, b, k);
		*n += k;
	}
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 4 | (unsigned)cprof_hexval(p[i]);
	return v;
}

bool cprof_js_str(cprof_jscan *j, char *out, size_t cap, size_t *len)
{
	const char *a, *b;
	bool esc;
	if (!cprof_js_rawstr(j, &a, &b, &esc))
		return false;
	if (!out)
		return true;
	size_t n = 0;
	if (!esc) {
		n = (size_t)(b - a) < cap ? (size_t)(b - a) : cap - 1;
		memcpy(out, a, n);
	} else {
		for (const char *p = a; p < b;) {
			if (*p != '\\') {
				if (n + 1 < cap)
					out[n++] = *p;
				p++;
				continue;
			}
			char x = p[1];
			p += 2;
			if (x != 'u') {
				char c = x == 'b' ? '\b' : x == 'f' ? '\f' : x == 'n' ? '\n' : x == 'r' ? '\r'
					: x == 't' ? '\t' : x;
				if (n + 1 < cap)
					out[n++] = c;
				continue;
			}
			unsigned cp = hex4(p);
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && b - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				unsigned lo = hex4(p + 2);   /* validated by rawstr */
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			if ((cp >= 0xd800 && cp < 0xe000) || cp == 0)
				cp = 0xfffd;   /* a lone surrogate; strings stay C strings */
			put_utf8(out, &n, cap, cp);
		}
	}
	out[n] = 0;
	if (len)
		*len = n;
	return true;
}

/* [d, p) is "0|[1-9][0-9]*" then optionally "." and digits: JSON's
 * number without sign or exponent (always finite). */
static bool plain_decimal(const char *d, const char *p)
{
	const char *q = d;
	if (q < p && *q == '0')
		q++;
	else if (q < p && *q >= '1' && *q <= '9')
		while (q < p && *q >= '0' && *q <= '9')
			q++;
	else
		return false;
	if (q < p && *q == '.') {
		const char *f = ++q;
		while (q < p && *q >= '0' && *q <= '9')
			q++;
		if (q == f)
			return false;
	}
	return q == p;
}

bool cprof_js_num(cprof_jscan *j, double *v)
{
	cprof_js_ws(j);
	const char *p = j->s;
	if (p < j->e && *p == '-')
		p++;
	const char *d = p;
	while (p < j->e && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
			    *p == '+' || *p == '-'))
		p++;
	if (p == d || p - j->s > 64)
		return cprof_js_fail(j, "a bad number");
	/* an integer of up to 15 digits is exact in a double: no strtod */
	if (p - d <= 15 && (d[0] != '0' || p - d == 1)) {
		double x = 0;
		const char *q = d;
		while (q < p && *q >= '0' && *q <= '9')
			x = x * 10 + (*q++ - '0');
		if (q == p) {
			if (v)
				*v = j->s < d ? -x : x;
			j->s = p;
			return true;
		}
	}
	/* skipped (v NULL) and without an exponent: the grammar alone says
	 * it is a finite number, no strtod (args' times, mostly) */
	if (!v && plain_decimal(d, p)) {
		j->s = p;
		return true;
	}
	char b[72];
	memcpy(b, j->s, (size_t)(p - j->s));
	b[p - j->s] = 0;
	char *end;
	double x = strtod(b, &end);
	if (*end || !isfinite(x))
		return cprof_js_fail(j, "a bad number");
	if (v)
		*v = x;
	j->s = p;
	return true;
}

static bool word(cprof_jscan *j, const char *w, size_t n)
{
	if ((size_t)(j->e - j->s) >= n && memcmp(j->s, w, n) == 0) {
		j->s += n;
		return true;
	}
	return cprof_js_fail(j, "a bad value");
}

bool cprof_js_skip(cprof_jscan *j)
{
	cprof_js_ws(j);
	if (j->s >= j->e)
		return cprof_js_fail(j, "a value expected");
	char c = *j->s;
	const char *a, *b;
	if (c == '"')
		return cprof_js_rawstr(j, &a, &b, NULL);
	if (c == '{' || c == '[') {
		if (++j->depth > (j->depth_max ? j->depth_max : DEPTH_DEFAULT))
			return cprof_js_fail(j, "nested too deep (more than 64)");
		j->s++;
		char close = c == '{' ? '}' : ']';
		if (cprof_js_lit(j, close)) {
			j->depth--;
			return true;
		}
		do {
			if (c == '{' && (!cprof_js_rawstr(j, &a, &b, NULL) || !cprof_js_lit(j, ':')))
				return cprof_js_fail(j, "an object key expected");
			if (!cprof_js_skip(j))
				return false;
		} while (cprof_js_lit(j, ','));
		if (!cprof_js_lit(j, close))
			return cprof_js_fail(j, "a ',' or a closing bracket expected");
		j->depth--;
		return true;
	}
	if (c == 't')
		return word(j, "true", 4);
	if (c == 'f')
		return word(j, "false", 5);
	if (c == 'n')
		return word(j, "null", 4);
	return cprof_js_num(j, NULL);
}

bool cprof_js_object(cprof_jscan *j, cprof_js_member *member, void *ctx, bool *obj)
{
	cprof_js_ws(j);
	if (obj)
		*obj = j->s < j->e && *j->s == '{';
	if (j->s >= j->e || *j->s != '{')
		return cprof_js_skip(j);
	if (++j->depth > (j->depth_max ? j->depth_max : DEPTH_DEFAULT))
		return cprof_js_fail(j, "nested too deep (more than 64)");
	j->s++;
	if (!cprof_js_lit(j, '}')) {
		do {
			const char *a, *b;
			if (!cprof_js_rawstr(j, &a, &b, NULL) || !cprof_js_lit(j, ':'))
				return cprof_js_fail(j, "an object key expected");
			if (!member(j, a, b, ctx))
				return false;
		} while (cprof_js_lit(j, ','));
		if (!cprof_js_lit(j, '}'))
			return cprof_js_fail(j, "a ',' or '}' expected");
	}
	j->depth--;
	return true;
}

bool cprof_js_array(cprof_jscan *j, cprof_js_elem *elem, void *ctx, const char *why)
{
	if (!cprof_js_lit(j, '['))
		return cprof_js_fail(j, why);
	if (cprof_js_lit(j, ']'))
		return true;
	do
		if (!elem(j, ctx))
			return false;
	while (cprof_js_lit(j, ','));
	if (!cprof_js_lit(j, ']'))
		return cprof_js_fail(j, "a ',' or ']' expected");
	return true;
}

typedef struct trace_top {
	cprof_js_elem *event;
	void *ctx;
	bool seen;
} trace_top;

static bool trace_member(cprof_jscan *j, const char *k0, const char *k1, void *ctx)
{
	trace_top *t = ctx;
	if (t->seen || k1 - k0 != 11 || memcmp(k0, "traceEvents", 11) != 0)
		return cprof_js_skip(j);
	t->seen = true;
	return cprof_js_array(j, t->event, t->ctx, "traceEvents is not an array");
}

bool cprof_js_trace(cprof_jscan *j, cprof_js_elem *event, void *ctx)
{
	cprof_js_ws(j);
	bool ok;
	if (j->s < j->e && *j->s == '[') {
		ok = cprof_js_array(j, event, ctx, "traceEvents is not an array");
	} else if (j->s < j->e && *j->s == '{') {
		trace_top t = { event, ctx, false };
		ok = cprof_js_object(j, trace_member, &t, NULL);
		if (ok && !t.seen)
			ok = cprof_js_fail(j, "no traceEvents");
	} else {
		ok = cprof_js_fail(j, "not JSON");
	}
	cprof_js_ws(j);
	if (ok && j->s != j->e)
		ok = cprof_js_fail(j, "data after the JSON value");
	return ok;
}
