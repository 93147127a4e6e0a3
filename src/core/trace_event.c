/*
 * trace_event.c - one Chrome Trace Event object into fixed fields
 * (cprof_trace_event.h): the members the trace readers use are decoded,
 * every other value is skipped (validated by the scanner).  Pure;
 * thread-safe.
 */
#include "cprof_trace_event.h"

#include <math.h>
#include <string.h>

#define NS_MAX CPROF_TEV_NS_MAX

typedef cprof_jscan sc;

const char *cprof_tev_usec_plain(const char *p, const char *e, int64_t *ns)
{
	bool neg = p < e && *p == '-';
	if (neg)
		p++;
	int64_t ip = 0;
	int nd = 0;
	while (p < e && *p >= '0' && *p <= '9' && nd < 15) {
		ip = ip * 10 + (*p++ - '0');
		nd++;
	}
	int64_t fr = 0;
	int nf = 0;
	if (nd && p < e && *p == '.') {
		p++;
		while (p < e && *p >= '0' && *p <= '9') {
			if (nf < 3)
				fr = fr * 10 + (*p - '0');
			else if (nf == 3 && *p >= '5')
				fr++;   /* round at ns */
			nf++;
			p++;
		}
		if (!nf)
			nd = 0;
		for (int k = nf; k < 3; k++)
			fr *= 10;
	}
	if (!nd || (p < e && cprof_tev_numch(*p)))
		return NULL;
	int64_t v = ip * 1000 + fr;
	*ns = neg ? -v : v;
	return p;
}

/* A time in µs as ns: the plain form above, anything else through
 * strtod.  Out of [-2^62, 2^62] ns is an error. */
static bool usec(sc *j, int64_t *ns)
{
	cprof_js_ws(j);
	const char *p = cprof_tev_usec_plain(j->s, j->e, ns);
	if (p) {
		j->s = p;
		return true;
	}
	double d;
	if (!cprof_js_num(j, &d))
		return false;
	if (!(fabs(d) * 1000.0 <= (double)NS_MAX))
		return cprof_js_fail(j, "a time out of range");
	*ns = llround(d * 1000.0);
	return true;
}

static bool is_key(const char *a, const char *b, const char *k)
{
	size_t n = strlen(k);
	return (size_t)(b - a) == n && memcmp(a, k, n) == 0;
}

static bool is_num(const sc *j)
{
	return j->s < j->e && (*j->s == '-' || (*j->s >= '0' && *j->s <= '9'));
}

static bool args_member(sc *j, const char *a, const char *b, void *ctx)
{
	cprof_tev_fields *e = ctx;
	cprof_js_ws(j);
	bool s = j->s < j->e && *j->s == '"', n = is_num(j);
	if (s && is_key(a, b, "reason"))
		return cprof_js_str(j, e->reason, sizeof e->reason, NULL);
	if (s && is_key(a, b, "name"))
		return cprof_js_str(j, e->aname, sizeof e->aname, NULL);
	if (n && is_key(a, b, "waker_tid"))
		return (e->has_waker = cprof_js_num(j, &e->waker));
	if (n && e->nnum < CPROF_TEV_NUMS && (size_t)(b - a) < sizeof e->nkey[0]) {
		memcpy(e->nkey[e->nnum], a, (size_t)(b - a));
		e->nkey[e->nnum][b - a] = 0;
		if (!cprof_js_num(j, &e->nval[e->nnum]))
			return false;
		e->nnum++;
		return true;
	}
	return cprof_js_skip(j);
}

static bool ev_member(sc *j, const char *a, const char *b, void *ctx)
{
	cprof_tev_fields *e = ctx;
	cprof_js_ws(j);
	bool s = j->s < j->e && *j->s == '"', n = is_num(j);
	char tmp[8];
	if (s && is_key(a, b, "ph")) {
		if (!cprof_js_str(j, tmp, sizeof tmp, NULL))
			return false;
		e->ph = tmp[1] ? '?' : tmp[0];
		return true;
	}
	if (s && is_key(a, b, "cat"))
		return cprof_js_str(j, e->cat, sizeof e->cat, NULL);
	if (s && is_key(a, b, "name"))
		return cprof_js_str(j, e->name, sizeof e->name, NULL);
	if (s && is_key(a, b, "s"))
		return cprof_js_str(j, e->scope, sizeof e->scope, NULL);
	if (n && is_key(a, b, "ts"))
		return (e->has_ts = usec(j, &e->ts));
	if (n && is_key(a, b, "dur"))
		return (e->has_dur = usec(j, &e->dur));
	if (n && is_key(a, b, "pid"))
		return cprof_js_num(j, &e->pid);
	if (n && is_key(a, b, "tid"))
		return cprof_js_num(j, &e->tid);
	if (n && is_key(a, b, "id")) {
		double d;
		if (!cprof_js_num(j, &d))
			return false;
		e->has_id = d >= 0 && d < 1.8e19 && d == floor(d);
		e->id = e->has_id ? (uint64_t)d : 0;
		return true;
	}
	if (is_key(a, b, "args"))
		return cprof_js_object(j, args_member, e, NULL);
	return cprof_js_skip(j);
}

bool cprof_tev_read(cprof_jscan *j, cprof_tev_fields *e, bool *obj)
{
	memset(e, 0, sizeof *e);
	return cprof_js_object(j, ev_member, e, obj);
}
