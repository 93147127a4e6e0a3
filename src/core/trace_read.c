/*
 * trace_read.c - the runtime's execution trace (Chrome Trace Event JSON)
 * read back into a profile: the delay of the waits of one kind by the
 * waiter's stack, as `go tool trace -pprof=sync|syscall|sched` does
 * (cprof_trace.h).
 *
 * How: a recursive-descent reader over the whole buffer, on the shared
 * validating JSON scanner (cprof_jscan.h) with a nesting limit (64) and a
 * string limit (4 KiB), that builds nothing but the profile: each event
 * object of "traceEvents" (or of a top-level array) is read field by
 * field; a "blocked" X slice of the wanted kind
 * becomes one sample {1, delay ns} on the stack of its args.stack
 * frames; for the CPU kind, an "i" instant of category "sample" becomes
 * {1, args.cpu_us as ns} (a CPU profile: every report works on it).  A frame string ("function file:line", "function" or
 * "0xADDR") is interned once: one function per (name, file), one
 * location per frame string (address 0, no mapping).  Memory is bounded
 * by the input: every allocation is for something the input spelled out.
 * Pure: no global state; thread-safe on distinct inputs.
 */
#include "cprof_trace.h"
#include "cprof_jscan.h"
#include "cprof_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 64
#define STR_MAX 4096
#define FRAMES_MAX 256

/* An object's members: field(j, key, ctx) reads each value (buf holds the
 * key, decoded; it may reuse buf after reading the key).  A value that is
 * not an object is skipped (ignored), as is an empty object. */
typedef bool (*field_fn)(cprof_jscan *j, char *buf, void *ctx);
typedef struct objctx {
	char *buf;
	field_fn field;
	void *ctx;
} objctx;

static bool member(cprof_jscan *j, const char *k0, const char *k1, void *ctx)
{
	objctx *o = ctx;
	size_t n = (size_t)(k1 - k0);
	if (n <= STR_MAX && !memchr(k0, '\\', n)) {   /* the usual key: as it is */
		memcpy(o->buf, k0, n);
		o->buf[n] = 0;
	} else {
		cprof_jscan k = { .s = k0 - 1, .e = k1 + 1, .base = j->base };
		cprof_js_str(&k, o->buf, STR_MAX + 1, NULL);   /* validated by the walk */
	}
	return o->field(j, o->buf, o->ctx);
}

static bool object(cprof_jscan *j, char *buf, field_fn field, void *ctx)
{
	objctx o = { buf, field, ctx };
	return cprof_js_object(j, member, &o, NULL);
}

/* A string value into buf (truncated to outsz), else the value skipped. */
static bool str_field(cprof_jscan *j, char *buf, char *out, size_t outsz)
{
	cprof_js_ws(j);
	if (j->s >= j->e || *j->s != '"')
		return cprof_js_skip(j);
	if (!cprof_js_str(j, buf, STR_MAX + 1, NULL))
		return false;
	snprintf(out, outsz, "%s", buf);
	return true;
}

/* A number value, else the value skipped. */
static bool num_field(cprof_jscan *j, double *v)
{
	cprof_js_ws(j);
	if (j->s < j->e && (*j->s == '-' || (*j->s >= '0' && *j->s <= '9')))
		return cprof_js_num(j, v);
	return cprof_js_skip(j);
}

/* ---- the profile ---------------------------------------------------------- */

typedef struct bld {
	cprof_profile *p;
	cprof_trace_kind kind;
	uint32_t *loc_of;          /* by string id of a frame string: location index + 1 */
	size_t nloc_of;
	uint32_t *fn_of;           /* by string id of "name\0file": function index + 1 */
	size_t nfn_of;
	int64_t cpu_ns;            /* the CPU kind: the samples' sum */
	char *buf;                 /* scratch for keys and strings (2 * STR_MAX + 2) */
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
					    "connect", "select", "waitpid", "write", "send" };
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
	double runnable_us, cpu_us;
	uint32_t locs[FRAMES_MAX];
	size_t nlocs;
} evargs;

typedef struct evctx {
	bld *b;
	evargs a;
	char ph[8], cat[32];
	double dur;
} evctx;

static bool arg_field(cprof_jscan *j, char *buf, void *ctx)
{
	evctx *c = ctx;
	if (strcmp(buf, "reason") == 0)
		return str_field(j, buf, c->a.reason, sizeof c->a.reason);
	if (strcmp(buf, "runnable_us") == 0)
		return num_field(j, &c->a.runnable_us);
	if (strcmp(buf, "cpu_us") == 0)
		return num_field(j, &c->a.cpu_us);
	if (strcmp(buf, "stack") != 0)
		return cprof_js_skip(j);
	cprof_js_ws(j);
	if (j->s >= j->e || *j->s != '[')
		return cprof_js_skip(j);
	j->s++;
	if (cprof_js_lit(j, ']'))
		return true;
	do {
		cprof_js_ws(j);
		if (j->s >= j->e || *j->s != '"') {
			if (!cprof_js_skip(j))
				return false;
			continue;
		}
		size_t fl;
		if (!cprof_js_str(j, buf, STR_MAX + 1, &fl))
			return false;
		if (c->a.nlocs < FRAMES_MAX && fl > 0) {
			int64_t li = frame_loc(c->b, buf, fl);
			if (li < 0) {
				c->b->oom = true;
				return cprof_js_fail(j, "out of memory");
			}
			c->a.locs[c->a.nlocs++] = (uint32_t)li;
		}
	} while (cprof_js_lit(j, ','));
	if (!cprof_js_lit(j, ']'))
		return cprof_js_fail(j, "a ',' or ']' expected");
	return true;
}

static bool event_field(cprof_jscan *j, char *buf, void *ctx)
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
	return cprof_js_skip(j);
}

/* One element of traceEvents (cprof_js_trace's callback; ctx is the bld). */
static bool read_event(cprof_jscan *j, void *ctx)
{
	bld *b = ctx;
	char *buf = b->buf;
	evctx *c = malloc(sizeof *c);
	if (!c) {
		b->oom = true;
		return cprof_js_fail(j, "out of memory");
	}
	c->b = b;
	c->a.reason[0] = 0;
	c->a.runnable_us = c->a.cpu_us = 0;
	c->a.nlocs = 0;
	c->ph[0] = c->cat[0] = 0;
	c->dur = -1;
	bool ok = object(j, buf, event_field, c);
	if (ok && b->kind == CPROF_TRACE_CPU) {
		if (strcmp(c->ph, "i") == 0 && strcmp(c->cat, "sample") == 0 && c->a.cpu_us >= 0 &&
		    c->a.cpu_us < 9.2e12) {
			int64_t ns = (int64_t)llround(c->a.cpu_us * 1000.0);
			int64_t st = cprof_intern_stack(b->p, c->a.locs, c->a.nlocs);
			int64_t vals[2] = { 1, ns };
			if (st < 0 || cprof_add_sample(b->p, (uint32_t)st, 0, vals) < 0) {
				b->oom = true;
				ok = cprof_js_fail(j, "out of memory");
			}
			b->cpu_ns += ns;
		}
	} else if (ok && strcmp(c->ph, "X") == 0 && strcmp(c->cat, "blocked") == 0 &&
	    wanted(b->kind, c->a.reason)) {
		double us = b->kind == CPROF_TRACE_SCHED ? c->a.runnable_us : c->dur;
		if (us > 0 && us < 9.2e12) {
			int64_t st = cprof_intern_stack(b->p, c->a.locs, c->a.nlocs);
			int64_t vals[2] = { 1, (int64_t)llround(us * 1000.0) };
			if (st < 0 || cprof_add_sample(b->p, (uint32_t)st, 0, vals) < 0) {
				b->oom = true;
				ok = cprof_js_fail(j, "out of memory");
			}
		}
	}
	free(c);
	return ok;
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
	else if (strcmp(s, "cpu") == 0)
		*out = CPROF_TRACE_CPU;
	else
		return -1;
	return 0;
}

static int head(cprof_profile *p, bool cpu)
{
	cprof_str c = cprof_intern_cstr(p, cpu ? "samples" : "contentions");
	cprof_str n = cprof_intern_cstr(p, "count");
	cprof_str d = cprof_intern_cstr(p, cpu ? "cpu" : "delay");
	cprof_str ns = cprof_intern_cstr(p, "nanoseconds");
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
	if (!b.p || !buf || head(b.p, kind == CPROF_TRACE_CPU) < 0) {
		rc = CPROF_ENOMEM;
		goto done;
	}
	cprof_jscan j = { .s = data, .e = data + len, .base = data, .depth_max = DEPTH_MAX,
			  .str_max = STR_MAX };
	b.buf = buf;
	bool ok = cprof_js_trace(&j, read_event, &b);
	if (!ok) {
		rc = b.oom ? CPROF_ENOMEM : CPROF_EFORMAT;
		if (err) {
			err->code = rc;
			snprintf(err->msg, sizeof err->msg,
				 "not a Chrome trace: %s at byte %zu", j.why, j.at);
		}
	}
	if (rc == 0 && kind == CPROF_TRACE_CPU) {
		/* period: cpu nanoseconds per sample, as a CPU profile has it */
		b.p->period_type = b.p->vtypes.v[1];
		b.p->period = b.p->samples.n ? b.cpu_ns / (int64_t)b.p->samples.n : 0;
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
