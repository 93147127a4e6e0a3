/*
 * trace_read.c - the runtime's execution trace (Chrome Trace Event JSON)
 * read back into a profile: the delay of the waits of one kind by the
 * waiter's stack, as `go tool trace -pprof=sync|syscall|sched` does
 * (cprof_trace.h).
 *
 * How: a recursive-descent JSON reader over the whole buffer, with a
 * nesting limit (64) and a string limit (4 KiB), that builds nothing but
 * the profile: each event object of "traceEvents" (or of a top-level
 * array) is read field by field; a "blocked" X slice of the wanted kind
 * becomes one sample {1, delay ns} on the stack of its args.stack
 * frames.  A frame string ("function file:line", "function" or
 * "0xADDR") is interned once: one function per (name, file), one
 * location per frame string (address 0, no mapping).  Memory is bounded
 * by the input: every allocation is for something the input spelled out.
 * Pure: no global state; thread-safe on distinct inputs.
 */
#include "cprof_trace.h"
#include "cprof_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 64
#define STR_MAX 4096
#define FRAMES_MAX 256

typedef struct jr {
	const char *s, *e;
	int depth;
	const char *why;           /* the first error */
	size_t at;                 /* its offset */
	const char *base;
} jr;

static bool fail(jr *j, const char *why)
{
	if (!j->why) {
		j->why = why;
		j->at = (size_t)(j->s - j->base);
	}
	return false;
}

static void ws(jr *j)
{
	while (j->s < j->e && (*j->s == ' ' || *j->s == '\n' || *j->s == '\r' || *j->s == '\t'))
		j->s++;
}

static bool lit(jr *j, char c)
{
	ws(j);
	if (j->s < j->e && *j->s == c) {
		j->s++;
		return true;
	}
	return false;
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

/* A string into out (NUL-terminated, at most STR_MAX bytes decoded;
 * longer is an error); out may be NULL to skip it. */
static bool str(jr *j, char *out, size_t *len)
{
	ws(j);
	if (j->s >= j->e || *j->s != '"')
		return fail(j, "a string expected");
	j->s++;
	size_t n = 0;
	char dummy[8];
	char *o = out ? out : dummy;
	size_t cap = out ? STR_MAX + 1 : sizeof dummy;
	size_t decoded = 0;
	while (j->s < j->e && *j->s != '"') {
		unsigned char c = (unsigned char)*j->s++;
		if (++decoded > STR_MAX)
			return fail(j, "a string longer than 4096 bytes");
		if (c < 0x20)
			return fail(j, "a control character in a string");
		if (c != '\\') {
			if (n + 1 < cap)
				o[n++] = (char)c;
			continue;
		}
		if (j->s >= j->e)
			break;
		char x = *j->s++;
		switch (x) {
		case '"': case '\\': case '/':
			if (n + 1 < cap)
				o[n++] = x;
			break;
		case 'b': if (n + 1 < cap) o[n++] = '\b'; break;
		case 'f': if (n + 1 < cap) o[n++] = '\f'; break;
		case 'n': if (n + 1 < cap) o[n++] = '\n'; break;
		case 'r': if (n + 1 < cap) o[n++] = '\r'; break;
		case 't': if (n + 1 < cap) o[n++] = '\t'; break;
		case 'u': {
			if (j->e - j->s < 4)
				return fail(j, "a bad \\u escape");
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = cprof_hexval(j->s[i]);
				if (h < 0)
					return fail(j, "a bad \\u escape");
				cp = cp << 4 | (unsigned)h;
			}
			j->s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && j->e - j->s >= 6 && j->s[0] == '\\' &&
			    j->s[1] == 'u') {
				unsigned lo = 0;
				bool ok = true;
				for (int i = 0; i < 4 && ok; i++) {
					int h = cprof_hexval(j->s[2 + i]);
					ok = h >= 0;
					lo = lo << 4 | (unsigned)(h < 0 ? 0 : h);
				}
				if (ok && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					j->s += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;   /* a lone surrogate */
			if (cp == 0)
				cp = 0xfffd;   /* strings stay C strings */
			put_utf8(o, &n, cap, cp);
			break;
		}
		default:
			return fail(j, "a bad escape in a string");
		}
	}
	if (j->s >= j->e)
		return fail(j, "an unterminated string");
	j->s++;
	o[n < cap ? n : cap - 1] = 0;
	if (len)
		*len = n;
	return true;
}

static bool num(jr *j, double *v)
{
	ws(j);
	const char *p = j->s;
	if (p < j->e && *p == '-')
		p++;
	const char *d = p;
	while (p < j->e && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
			    *p == '+' || *p == '-'))
		p++;
	if (p == d || p - j->s > 64)
		return fail(j, "a bad number");
	char b[72];
	memcpy(b, j->s, (size_t)(p - j->s));
	b[p - j->s] = 0;
	char *end;
	*v = strtod(b, &end);
	if (*end || !isfinite(*v))
		return fail(j, "a bad number");
	j->s = p;
	return true;
}

static bool value(jr *j);

/* An object's members: field(j, key, ctx) reads each value (buf holds the
 * key; it may reuse buf after reading the key).  A value that is not an
 * object is skipped (ignored), as is an empty object. */
typedef bool (*field_fn)(jr *j, char *buf, void *ctx);
static bool object(jr *j, char *buf, field_fn field, void *ctx)
{
	ws(j);
	if (j->s >= j->e || *j->s != '{')
		return value(j);
	if (++j->depth > DEPTH_MAX)
		return fail(j, "nested deeper than 64");
	j->s++;
	if (!lit(j, '}')) {
		do {
			if (!str(j, buf, NULL) || !lit(j, ':'))
				return fail(j, "an object key expected");
			if (!field(j, buf, ctx))
				return false;
		} while (lit(j, ','));
		if (!lit(j, '}'))
			return fail(j, "a ',' or '}' expected");
	}
	j->depth--;
	return true;
}

/* A string value into buf (truncated to outsz), else the value skipped. */
static bool str_field(jr *j, char *buf, char *out, size_t outsz)
{
	ws(j);
	if (j->s >= j->e || *j->s != '"')
		return value(j);
	if (!str(j, buf, NULL))
		return false;
	snprintf(out, outsz, "%s", buf);
	return true;
}

/* A number value, else the value skipped. */
static bool num_field(jr *j, double *v)
{
	ws(j);
	if (j->s < j->e && (*j->s == '-' || (*j->s >= '0' && *j->s <= '9')))
		return num(j, v);
	return value(j);
}

static bool word(jr *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->e - j->s) >= n && memcmp(j->s, w, n) == 0) {
		j->s += n;
		return true;
	}
	return fail(j, "a bad value");
}

/* Skip any value. */
static bool value(jr *j)
{
	ws(j);
	if (j->s >= j->e)
		return fail(j, "a value expected");
	char c = *j->s;
	if (c == '"')
		return str(j, NULL, NULL);
	if (c == '{' || c == '[') {
		if (++j->depth > DEPTH_MAX)
			return fail(j, "nested deeper than 64");
		j->s++;
		char close = c == '{' ? '}' : ']';
		if (lit(j, close)) {
			j->depth--;
			return true;
		}
		do {
			if (c == '{' && (!str(j, NULL, NULL) || !lit(j, ':')))
				return fail(j, "an object key expected");
			if (!value(j))
				return false;
		} while (lit(j, ','));
		if (!lit(j, close))
			return fail(j, "a ',' or a closing bracket expected");
		j->depth--;
		return true;
	}
	if (c == 't')
		return word(j, "true");
	if (c == 'f')
		return word(j, "false");
	if (c == 'n')
		return word(j, "null");
	double d;
	return num(j, &d);
}

/* ---- the profile ---------------------------------------------------------- */

typedef struct bld {
	cprof_profile *p;
	cprof_trace_kind kind;
	uint32_t *loc_of;          /* by string id of a frame string: location index + 1 */
	size_t nloc_of;
	uint32_t *fn_of;           /* by string id of "name\0file": function index + 1 */
	size_t nfn_of;
	bool oom;
} bld;

static bool grow_map(uint32_t **m, size_t *n, size_t need)
{
	if (need <= *n)
		return true;
	size_t cap = *n ? *n : 256;
	while (cap < need)
		cap *= 2;
	uint32_t *v = realloc(*m, cap * sizeof *v);
	if (!v)
		return false;
	memset(v + *n, 0, (cap - *n) * sizeof *v);
	*m = v;
	*n = cap;
	return true;
}

/* The location of frame string f (interned once), or -1 when out of memory. */
static int64_t frame_loc(bld *b, const char *f, size_t flen)
{
	cprof_profile *p = b->p;
	cprof_str fs = cprof_intern(p, f, flen);
	if (fs == CPROF_NONE || !grow_map(&b->loc_of, &b->nloc_of, (size_t)fs + 1))
		return -1;
	if (b->loc_of[fs])
		return (int64_t)b->loc_of[fs] - 1;
	/* "name file:line": the file part is the last word with a ':NUMBER' end */
	char name[STR_MAX + 1], file[STR_MAX + 1];
	int64_t line = 0;
	memcpy(name, f, flen + 1);
	file[0] = 0;
	char *sp = strrchr(name, ' ');
	if (sp) {
		char *colon = strrchr(sp + 1, ':');
		char *end = NULL;
		long long ln = colon ? strtoll(colon + 1, &end, 10) : 0;
		if (colon && end && end != colon + 1 && !*end && ln >= 0) {
			*colon = 0;
			snprintf(file, sizeof file, "%s", sp + 1);
			*sp = 0;
			line = ln;
		}
	}
	size_t nl = strlen(name), fl = strlen(file);
	char key[2 * STR_MAX + 2];
	memcpy(key, name, nl + 1);
	memcpy(key + nl + 1, file, fl);
	cprof_str ks = cprof_intern(p, key, nl + 1 + fl);
	cprof_str ns = cprof_intern(p, name, nl), fsn = cprof_intern(p, file, fl);
	if (ks == CPROF_NONE || ns == CPROF_NONE || fsn == CPROF_NONE ||
	    !grow_map(&b->fn_of, &b->nfn_of, (size_t)ks + 1))
		return -1;
	/* the maps may share ids: a frame string can equal a key */
	if (!grow_map(&b->loc_of, &b->nloc_of, (size_t)ks + 1))
		return -1;
	int64_t fi;
	if (b->fn_of[ks]) {
		fi = (int64_t)b->fn_of[ks] - 1;
	} else {
		cprof_function fn = { .id = p->functions.n + 1, .name = ns, .system_name = ns,
				      .filename = fsn };
		fi = cprof_add_function(p, &fn);
		if (fi < 0)
			return -1;
		b->fn_of[ks] = (uint32_t)fi + 1;
	}
	cprof_line ln = { .function = (uint32_t)fi, .line = line };
	cprof_location loc = { .id = p->locations.n + 1, .mapping = CPROF_NONE };
	int64_t li = cprof_add_location(p, &loc, &ln, 1);
	if (li < 0)
		return -1;
	b->loc_of[fs] = (uint32_t)li + 1;
	return li;
}

static bool wanted(cprof_trace_kind k, const char *reason)
{
	static const char *const sync[] = { "mutex", "rwlock read", "rwlock write", "cond",
					     "semaphore", "join", "barrier" };
	static const char *const sys[] = { "read", "poll", "epoll_wait", "sleep", "recv", "accept",
					    "connect", "select", "waitpid" };
	if (k == CPROF_TRACE_SCHED)
		return true;
	const char *const *v = k == CPROF_TRACE_SYNC ? sync : sys;
	size_t n = k == CPROF_TRACE_SYNC ? sizeof sync / sizeof *sync : sizeof sys / sizeof *sys;
	for (size_t i = 0; i < n; i++)
		if (strcmp(reason, v[i]) == 0)
			return true;
	return false;
}

/* args of an event: reason, runnable_us, stack (as locations). */
typedef struct evargs {
	char reason[64];
	double runnable_us;
	uint32_t locs[FRAMES_MAX];
	size_t nlocs;
} evargs;

typedef struct evctx {
	bld *b;
	evargs a;
	char ph[8], cat[32];
	double dur;
} evctx;

static bool arg_field(jr *j, char *buf, void *ctx)
{
	evctx *c = ctx;
	if (strcmp(buf, "reason") == 0)
		return str_field(j, buf, c->a.reason, sizeof c->a.reason);
	if (strcmp(buf, "runnable_us") == 0)
		return num_field(j, &c->a.runnable_us);
	if (strcmp(buf, "stack") != 0)
		return value(j);
	ws(j);
	if (j->s >= j->e || *j->s != '[')
		return value(j);
	j->s++;
	if (lit(j, ']'))
		return true;
	do {
		ws(j);
		if (j->s >= j->e || *j->s != '"') {
			if (!value(j))
				return false;
			continue;
		}
		size_t fl;
		if (!str(j, buf, &fl))
			return false;
		if (c->a.nlocs < FRAMES_MAX && fl > 0) {
			int64_t li = frame_loc(c->b, buf, fl);
			if (li < 0) {
				c->b->oom = true;
				return fail(j, "out of memory");
			}
			c->a.locs[c->a.nlocs++] = (uint32_t)li;
		}
	} while (lit(j, ','));
	if (!lit(j, ']'))
		return fail(j, "a ',' or ']' expected");
	return true;
}

static bool event_field(jr *j, char *buf, void *ctx)
{
	evctx *c = ctx;
	if (strcmp(buf, "ph") == 0)
		return str_field(j, buf, c->ph, sizeof c->ph);
	if (strcmp(buf, "cat") == 0)
		return str_field(j, buf, c->cat, sizeof c->cat);
	if (strcmp(buf, "dur") == 0)
		return num_field(j, &c->dur);
	if (strcmp(buf, "args") == 0)
		return object(j, buf, arg_field, c);
	return value(j);
}

static bool read_event(jr *j, bld *b, char *buf)
{
	evctx *c = malloc(sizeof *c);
	if (!c) {
		b->oom = true;
		return fail(j, "out of memory");
	}
	c->b = b;
	c->a.reason[0] = 0;
	c->a.runnable_us = 0;
	c->a.nlocs = 0;
	c->ph[0] = c->cat[0] = 0;
	c->dur = -1;
	bool ok = object(j, buf, event_field, c);
	if (ok && strcmp(c->ph, "X") == 0 && strcmp(c->cat, "blocked") == 0 &&
	    wanted(b->kind, c->a.reason)) {
		double us = b->kind == CPROF_TRACE_SCHED ? c->a.runnable_us : c->dur;
		if (us > 0 && us < 9.2e12) {
			int64_t st = cprof_intern_stack(b->p, c->a.locs, c->a.nlocs);
			int64_t vals[2] = { 1, (int64_t)llround(us * 1000.0) };
			if (st < 0 || cprof_add_sample(b->p, (uint32_t)st, 0, vals) < 0) {
				b->oom = true;
				ok = fail(j, "out of memory");
			}
		}
	}
	free(c);
	return ok;
}

static bool read_events(jr *j, bld *b, char *buf)
{
	if (!lit(j, '['))
		return fail(j, "traceEvents is not an array");
	if (lit(j, ']'))
		return true;
	do
		if (!read_event(j, b, buf))
			return false;
	while (lit(j, ','));
	if (!lit(j, ']'))
		return fail(j, "a ',' or ']' expected");
	return true;
}

typedef struct top {
	bld *b;
	bool seen;
} top;

static bool top_field(jr *j, char *buf, void *ctx)
{
	top *t = ctx;
	if (strcmp(buf, "traceEvents") != 0 || t->seen)
		return value(j);
	t->seen = true;
	return read_events(j, t->b, buf);
}

int cprof_trace_kind_parse(const char *s, cprof_trace_kind *out)
{
	if (!s)
		return -1;
	if (strcmp(s, "sync") == 0)
		*out = CPROF_TRACE_SYNC;
	else if (strcmp(s, "syscall") == 0)
		*out = CPROF_TRACE_SYSCALL;
	else if (strcmp(s, "sched") == 0)
		*out = CPROF_TRACE_SCHED;
	else
		return -1;
	return 0;
}

static int head(cprof_profile *p)
{
	cprof_str c = cprof_intern_cstr(p, "contentions"), n = cprof_intern_cstr(p, "count");
	cprof_str d = cprof_intern_cstr(p, "delay"), ns = cprof_intern_cstr(p, "nanoseconds");
	if (c == CPROF_NONE || n == CPROF_NONE || d == CPROF_NONE || ns == CPROF_NONE ||
	    cprof_add_vtype(p, c, n) < 0 || cprof_add_vtype(p, d, ns) < 0)
		return CPROF_ENOMEM;
	p->period_type.type = c;
	p->period_type.unit = n;
	p->period = 1;
	return 0;
}

int cprof_trace_pprof(const char *data, size_t len, cprof_trace_kind kind, cprof_profile **out,
		      cprof_error *err)
{
	*out = NULL;
	bld b = { .kind = kind };
	char *buf = malloc(2 * STR_MAX + 2);
	b.p = cprof_profile_new();
	int rc = 0;
	if (!b.p || !buf || head(b.p) < 0) {
		rc = CPROF_ENOMEM;
		goto done;
	}
	jr j = { .s = data, .e = data + len, .base = data };
	ws(&j);
	bool ok;
	if (lit(&j, '[')) {   /* the array form: events only */
		j.s--;
		ok = read_events(&j, &b, buf);
	} else if (j.s < j.e && *j.s == '{') {
		top t = { .b = &b };
		ok = object(&j, buf, top_field, &t);
		if (ok && !t.seen)
			ok = fail(&j, "no traceEvents");
	} else {
		ok = fail(&j, "not JSON");
	}
	ws(&j);
	if (ok && j.s != j.e)
		ok = fail(&j, "data after the JSON value");
	if (!ok) {
		rc = b.oom ? CPROF_ENOMEM : CPROF_EFORMAT;
		if (err) {
			err->code = rc;
			snprintf(err->msg, sizeof err->msg,
				 "not a Chrome trace: %s at byte %zu", j.why, j.at);
		}
	}
done:
	if (rc == CPROF_ENOMEM && err && !err->code) {
		err->code = rc;
		snprintf(err->msg, sizeof err->msg, "out of memory reading the trace");
	}
	free(buf);
	free(b.loc_of);
	free(b.fn_of);
	if (rc < 0) {
		cprof_profile_free(b.p);
		return rc;
	}
	*out = b.p;
	return 0;
}
