/*
 * query_http.c - the server's query API (GET /api/v1/...), answered from
 * the store (store.h):
 *
 *   profile?query=SELECTOR&type=KIND&from=T&until=T
 *       the merged profile.proto, gzipped: counters summed, gauges
 *       averaged (header X-Cprof-Aggregation and a comment say which), so
 *       `cprof -top URL` and `go tool pprof URL` read it
 *   diff?...&base_from=T&base_until=T[&base_query=SELECTOR]
 *       pprof's -diff_base of the two windows (or of two selectors over
 *       one window, or both): the base negated and labelled
 *       pprof::base=true, merged with the new window
 *   series?query=&type=&from=&until=&step=[&focus=RE][&sample_type=][&limit=N]
 *       {"series":[{"labels":{...},"points":[[unix_seconds, value],...]}]}
 *       (limit: the N largest series, the rest summed into one labelled
 *       {"__other__": "K more series"}, so a fleet's chart stays small)
 *       (type=metric&name=METRIC: a metric scraped from /metrics)
 *   labels, label/NAME/values, types, targets, snapshots, snapshots/ID
 *
 * profile and diff take format=flame: the flame graph's JSON of the web
 * API (cprof_webdata.h: the format of web/flamegraph.js; for diff both
 * sides' values, "after" and "before") instead of profile.proto, pruned
 * to the view's width w= (boxes under a quarter pixel merged, so the
 * answer stays small whatever the range), at zoom= (frame names from the
 * root, newline-separated), of sample_type=.
 *
 * SELECTOR is Prometheus' ({job="api",instance=~"10\\..*"}); T is RFC
 * 3339, Unix seconds, `now` or `now-1h` (timeparse.c).  Defaults: the
 * last hour, every series.  Every error is {"error": "..."} with one
 * cause and 400 (bad parameter), 404 (nothing there), 413/429 (a limit),
 * 500 (the store).
 *
 * Thread-safe: each request works on its own selector, profiles and
 * buffers; the store serializes what it must.
 */
#include "server_int.h"
#include "cprof_webdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_NS ((int64_t)3600 * 1000000000)

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned status_of(int code)
{
	return code == CPROF_EINVAL ? 400 : code == CPROF_ELIMIT ? 413 : 500;
}

/* The time parameter `name` (default def). 0, or -1 with the answer set. */
static int time_arg(const srv_req *rq, srv_resp *rs, const char *name, int64_t now, int64_t def,
		    int64_t *out)
{
	const char *v = rq->arg(rq, name);
	if (!v || !*v) {
		*out = def;
		return 0;
	}
	cprof_error e = { 0 };
	if (srv_time_parse(v, strlen(v), now, out, &e)) {
		srv_resp_error(rs, 400, "%s: %s", name, e.msg);
		return -1;
	}
	return 0;
}

/* query, type, from, until: the parameters every data query reads. */
typedef struct qargs {
	srv_selector *sel;
	const char *kind;
	int64_t from, until, now;
} qargs;

static int common_args(const srv_req *rq, srv_resp *rs, qargs *q, bool need_kind)
{
	q->now = wall_ns();
	q->sel = NULL;
	const char *sel = rq->arg(rq, "query");
	cprof_error e = { 0 };
	if (sel && srv_selector_parse(sel, strlen(sel), &q->sel, &e)) {
		srv_resp_error(rs, 400, "query: %s", e.msg);
		return -1;
	}
	q->kind = rq->arg(rq, "type");
	if (need_kind) {
		if (!q->kind || !*q->kind)
			q->kind = "cpu";
		if (!srv_kind_valid(q->kind)) {
			srv_resp_error(rs, 400, "type: \"%.64s\" is not a profile kind (cpu, heap, allocs, "
				       "mutex, block, goroutine, threadcreate, ...)", q->kind);
			goto fail;
		}
	}
	if (time_arg(rq, rs, "from", q->now, q->now - HOUR_NS, &q->from) ||
	    time_arg(rq, rs, "until", q->now, q->now, &q->until))
		goto fail;
	if (q->until <= q->from) {
		srv_resp_error(rs, 400, "until must be after from");
		goto fail;
	}
	return 0;
fail:
	srv_selector_free(q->sel);
	q->sel = NULL;
	return -1;
}

/* p gzipped into the answer. */
static void send_profile(srv_resp *rs, const cprof_profile *p, const char *agg)
{
	void *buf = NULL;
	size_t len = 0;
	cprof_error e = { 0 };
	int rc = cprof_pb_encode(p, true, &buf, &len, &e);
	if (rc) {
		srv_resp_error(rs, 500, "encoding the profile: %s", e.msg);
		return;
	}
	free(rs->body);
	rs->body = buf;
	rs->len = len;
	rs->status = 200;
	rs->ctype = "application/octet-stream";
	rs->disposition = "attachment; filename=\"profile.pb.gz\"";
	rs->aggregation = agg;
}

/* Merge kind over [from, until) into *out; 0, or -1 with the answer set
 * (404 when nothing is there). */
static int range_profile(srv_ctx *c, srv_resp *rs, const qargs *q, int64_t from, int64_t until,
			 const char *what, cprof_profile **out, srv_query_info *info)
{
	cprof_error e = { 0 };
	int rc = srv_store_query(c->store, q->sel, q->kind, from, until, out, info, &e);
	if (rc) {
		srv_resp_error(rs, status_of(rc), "%s", e.code ? e.msg : cprof_strerror(rc));
		return -1;
	}
	if ((*out)->vtypes.n == 0) {
		cprof_profile_free(*out);
		*out = NULL;
		srv_resp_error(rs, 404, "no %s profiles match the query in the %s window", q->kind, what);
		return -1;
	}
	return 0;
}

static void note_agg(cprof_profile *p, const srv_query_info *info, const char *kind)
{
	char note[160];
	snprintf(note, sizeof note, "cprof server: %s of %zu %s profile%s from %zu series",
		 srv_agg_name(info->agg), info->nprofiles, kind, info->nprofiles == 1 ? "" : "s",
		 info->nseries);
	cprof_str s = cprof_intern_cstr(p, note);
	if (s != CPROF_NONE)
		cprof_add_comment(p, s);
}

/* The flame graph's options from the request: sample_type= (pprof's
 * sample_index: a type name or an index), w= (the view's width in
 * pixels: boxes under a quarter pixel are merged into "(other)", as the
 * CLI's web UI prunes; default 500 px, 10 to 100000), zoom= (frame names
 * from the root, '\n'-separated, at most FLAME_ZOOM_MAX: the subtree is
 * then pruned at the zoomed node's width).  zs is a malloc'd copy the
 * names point into.  0, or -1 with the answer set. */
#define FLAME_ZOOM_MAX 512
typedef struct flame_args {
	const char *sample_type;
	double minfrac;
	char *zs;
	const char *zoom[FLAME_ZOOM_MAX];
	size_t nzoom;
} flame_args;

static int flame_args_get(const srv_req *rq, srv_resp *rs, flame_args *fa)
{
	memset(fa, 0, sizeof *fa);
	fa->sample_type = rq->arg(rq, "sample_type");
	if (fa->sample_type && !*fa->sample_type)
		fa->sample_type = NULL;
	double px = 500;
	const char *w = rq->arg(rq, "w");
	if (w && *w) {
		char *end;
		px = strtod(w, &end);
		if (*end || !(px >= 10 && px <= 100000)) {
			srv_resp_error(rs, 400, "w: want the view's width in pixels, 10 to 100000");
			return -1;
		}
	}
	fa->minfrac = 0.25 / px;
	const char *z = rq->arg(rq, "zoom");
	if (z && *z) {
		fa->zs = strdup(z);
		if (!fa->zs) {
			srv_resp_error(rs, 500, "out of memory");
			return -1;
		}
		for (char *p = fa->zs, *e; p; p = e) {
			e = strchr(p, '\n');
			if (e)
				*e++ = 0;
			if (fa->nzoom == FLAME_ZOOM_MAX) {
				free(fa->zs);
				fa->zs = NULL;
				srv_resp_error(rs, 400, "zoom: more than %d frames", FLAME_ZOOM_MAX);
				return -1;
			}
			fa->zoom[fa->nzoom++] = p;
		}
	}
	return 0;
}

/* The flame graph JSON of p (and base: the diff of both) into the answer.
 * p and base are modified (the report runs on them). */
static void send_flame(srv_resp *rs, cprof_profile *p, cprof_profile *base, const flame_args *fa)
{
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.sample_index = fa->sample_type;
	char *out = NULL, *wb = NULL;
	size_t len = 0, wl = 0;
	FILE *w = open_memstream(&wb, &wl), *m = open_memstream(&out, &len);
	cprof_flame *f = NULL, *fb = NULL;
	cprof_error e = { 0 };
	int rc = w && m ? cprof_flame_build(p, &o, w, &f, &e) : CPROF_ENOMEM;
	if (!rc && base)
		rc = cprof_flame_build(base, &o, w, &fb, &e);
	if (!rc)
		rc = base ? cprof_flame_write_diff(f, fb, fa->zoom, fa->nzoom, fa->minfrac, m)
			  : cprof_flame_write(f, fa->zoom, fa->nzoom, fa->minfrac, m);
	if (w)
		fclose(w);
	if (m)
		fclose(m);
	free(wb);
	cprof_flame_free(f);
	cprof_flame_free(fb);
	if (rc) {
		free(out);
		srv_resp_error(rs, rc == CPROF_ENOMEM ? 500 : 400, "flame graph: %s",
			       e.code ? e.msg : cprof_strerror(rc));
		return;
	}
	free(rs->body);
	rs->body = out;
	rs->len = len;
	rs->status = 200;
	rs->ctype = "application/json";
}

static bool want_flame(const srv_req *rq, srv_resp *rs, bool *bad)
{
	const char *f = rq->arg(rq, "format");
	*bad = false;
	if (!f || !*f || !strcmp(f, "pprof"))
		return false;
	if (!strcmp(f, "flame"))
		return true;
	srv_resp_error(rs, 400, "format: \"%.20s\" is not pprof or flame", f);
	*bad = true;
	return false;
}

static void q_profile(srv_ctx *c, const srv_req *rq, srv_resp *rs)
{
	qargs q;
	flame_args fa;
	bool bad, flame = want_flame(rq, rs, &bad);
	if (bad || (flame && flame_args_get(rq, rs, &fa)))
		return;
	if (common_args(rq, rs, &q, true)) {
		if (flame)
			free(fa.zs);
		return;
	}
	cprof_profile *p = NULL;
	srv_query_info info = { 0 };
	if (range_profile(c, rs, &q, q.from, q.until, "query's", &p, &info) == 0) {
		note_agg(p, &info, q.kind);
		if (flame)
			send_flame(rs, p, NULL, &fa);
		else
			send_profile(rs, p, srv_agg_name(info.agg));
	}
	if (flame)
		free(fa.zs);
	cprof_profile_free(p);
	srv_selector_free(q.sel);
}

static void q_diff(srv_ctx *c, const srv_req *rq, srv_resp *rs)
{
	qargs q;
	flame_args fa = { 0 };
	bool bad, flame = want_flame(rq, rs, &bad);
	if (bad || (flame && flame_args_get(rq, rs, &fa)))
		return;
	if (common_args(rq, rs, &q, true)) {
		free(fa.zs);
		return;
	}
	int64_t bf, bu;
	cprof_profile *p = NULL, *b = NULL, *out = NULL;
	srv_query_info info = { 0 }, binfo = { 0 };
	qargs bq = q;
	bq.sel = NULL;
	/* the base: another window (base_from, base_until: default the
	 * query's), another selector (base_query: default the query's), or
	 * both */
	const char *sbf = rq->arg(rq, "base_from"), *sbu = rq->arg(rq, "base_until");
	const char *bsel = rq->arg(rq, "base_query");
	bool bwin = (sbf && *sbf) || (sbu && *sbu);
	if (!bwin && !(bsel && *bsel)) {
		srv_resp_error(rs, 400, "base_from and base_until, or base_query: the base to compare with");
		goto out;
	}
	if (bwin && (!sbf || !sbu || !*sbf || !*sbu)) {
		srv_resp_error(rs, 400, "base_from and base_until: both needed (the base window)");
		goto out;
	}
	bf = q.from;
	bu = q.until;
	if (bwin && (time_arg(rq, rs, "base_from", q.now, 0, &bf) ||
		     time_arg(rq, rs, "base_until", q.now, 0, &bu)))
		goto out;
	if (bu <= bf) {
		srv_resp_error(rs, 400, "base_until must be after base_from");
		goto out;
	}
	if (bsel && *bsel) {
		cprof_error se = { 0 };
		if (srv_selector_parse(bsel, strlen(bsel), &bq.sel, &se)) {
			srv_resp_error(rs, 400, "base_query: %s", se.msg);
			goto out;
		}
	} else {
		bq.sel = q.sel;
	}
	if (range_profile(c, rs, &q, q.from, q.until, "query's", &p, &info) ||
	    range_profile(c, rs, &bq, bf, bu, "base", &b, &binfo))
		goto out;
	if (flame) {
		send_flame(rs, p, b, &fa);
		goto out;
	}
	/* pprof's -diff_base: common sample types, the base negated and
	 * labelled pprof::base=true, then one merge */
	cprof_profile *both[2] = { p, b };
	cprof_error e = { 0 };
	int rc = cprof_compatibilize(both, 2, &e);
	if (!rc) {
		cprof_scale(b, -1);
		rc = cprof_add_label_all(b, "pprof::base", "true");
	}
	if (!rc)
		rc = cprof_merge(both, 2, &out, &e);
	if (rc) {
		srv_resp_error(rs, rc == CPROF_EMISMATCH ? 400 : 500, "diff: %s",
			       e.code ? e.msg : cprof_strerror(rc));
		goto out;
	}
	send_profile(rs, out, srv_agg_name(info.agg));
out:
	free(fa.zs);
	cprof_profile_free(p);
	cprof_profile_free(b);
	cprof_profile_free(out);
	if (bq.sel != q.sel)
		srv_selector_free(bq.sel);
	srv_selector_free(q.sel);
}

/* ---- series ------------------------------------------------------------------ */

/* A series kept back (series?limit=N): its labels as JSON, its points,
 * its total. */
typedef struct kept_series {
	char *labels;
	srv_point *pts;
	size_t n;
	double total;
} kept_series;

typedef struct series_ctx {
	srv_buf b;
	size_t n;
	size_t limit;               /* 0: every series written as it comes */
	kept_series *kept;          /* with a limit: every series, to rank */
	size_t nkept, capkept;
	size_t bytes;               /* what kept holds, bounded like the answer */
} series_ctx;

static void labels_json(srv_buf *b, const srv_labels *l)
{
	srv_buf_add(b, "{", 1);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			srv_buf_add(b, ",", 1);
		srv_buf_json_str(b, l->v[i].name, strlen(l->v[i].name));
		srv_buf_add(b, ":", 1);
		srv_buf_json_str(b, l->v[i].value, strlen(l->v[i].value));
	}
	srv_buf_add(b, "}", 1);
}

static void series_write(srv_buf *b, size_t *count, const char *labels, size_t ln,
			 const srv_point *pts, size_t n)
{
	srv_buf_puts(b, (*count)++ ? ",\n{\"labels\":" : "\n{\"labels\":");
	srv_buf_add(b, labels, ln);
	srv_buf_puts(b, ",\"points\":[");
	for (size_t i = 0; i < n; i++)
		srv_buf_printf(b, "%s[%.9g,%.17g]", i ? "," : "", (double)pts[i].t_ns / 1e9,
			       pts[i].value);
	srv_buf_puts(b, "]}");
}

static int series_cb(void *ctx, const srv_labels *labels, const srv_point *pts, size_t n)
{
	series_ctx *s = ctx;
	srv_buf lb = { .max = (size_t)1 << 20 };
	labels_json(&lb, labels);
	if (lb.err) {
		srv_buf_free(&lb);
		return CPROF_ENOMEM;
	}
	if (!s->limit) {
		series_write(&s->b, &s->n, lb.s, lb.n, pts, n);
		srv_buf_free(&lb);
		return s->b.err ? CPROF_ENOMEM : 0;
	}
	size_t add = lb.n + n * sizeof *pts;
	if (s->bytes + add > s->b.max || cprof_reserve((void **)&s->kept, &s->capkept, s->nkept + 1,
						       sizeof *s->kept)) {
		srv_buf_free(&lb);
		return CPROF_ENOMEM;
	}
	kept_series *k = &s->kept[s->nkept];
	k->pts = n ? malloc(n * sizeof *pts) : NULL;
	if (n && !k->pts) {
		srv_buf_free(&lb);
		return CPROF_ENOMEM;
	}
	if (n)
		memcpy(k->pts, pts, n * sizeof *pts);
	srv_buf_add(&lb, "", 1);        /* NUL-terminate the JSON */
	if (lb.err) {
		free(k->pts);
		srv_buf_free(&lb);
		return CPROF_ENOMEM;
	}
	k->labels = lb.s;
	k->n = n;
	k->total = 0;
	for (size_t i = 0; i < n; i++)
		k->total += pts[i].value;
	s->nkept++;
	s->bytes += add;
	return 0;
}

static int by_total(const void *a, const void *b)
{
	const kept_series *x = a, *y = b;
	return x->total < y->total ? 1 : x->total > y->total ? -1 : strcmp(x->labels, y->labels);
}

static int cmp_t(const void *a, const void *b)
{
	const srv_point *x = a, *y = b;
	return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

/* With a limit: the limit largest series (by the sum of their points),
 * then the others summed point by point (same window starts) into one
 * series labelled {"__other__": "N more series"}. */
static int series_flush_kept(series_ctx *s)
{
	if (!s->nkept)
		return 0;
	qsort(s->kept, s->nkept, sizeof *s->kept, by_total);
	size_t top = s->nkept < s->limit ? s->nkept : s->limit;
	for (size_t i = 0; i < top; i++)
		series_write(&s->b, &s->n, s->kept[i].labels, strlen(s->kept[i].labels), s->kept[i].pts,
			     s->kept[i].n);
	if (top == s->nkept)
		return s->b.err ? CPROF_ENOMEM : 0;
	/* merge the rest: each series' points are in time order */
	size_t total = 0;
	for (size_t i = top; i < s->nkept; i++)
		total += s->kept[i].n;
	srv_point *all = malloc((total ? total : 1) * sizeof *all);
	if (!all)
		return CPROF_ENOMEM;
	size_t m = 0;
	for (size_t i = top; i < s->nkept; i++) {
		memcpy(all + m, s->kept[i].pts, s->kept[i].n * sizeof *all);
		m += s->kept[i].n;
	}
	qsort(all, m, sizeof *all, cmp_t);
	size_t w = 0;
	for (size_t i = 0; i < m; i++) {
		if (w && all[w - 1].t_ns == all[i].t_ns)
			all[w - 1].value += all[i].value;
		else
			all[w++] = all[i];
	}
	char lab[64];
	int ln = snprintf(lab, sizeof lab, "{\"__other__\":\"%zu more series\"}", s->nkept - top);
	series_write(&s->b, &s->n, lab, (size_t)ln, all, w);
	free(all);
	return s->b.err ? CPROF_ENOMEM : 0;
}

static void series_ctx_free(series_ctx *s)
{
	for (size_t i = 0; i < s->nkept; i++) {
		free(s->kept[i].labels);
		free(s->kept[i].pts);
	}
	free(s->kept);
}

static void q_series(srv_ctx *c, const srv_req *rq, srv_resp *rs)
{
	const char *type = rq->arg(rq, "type");
	bool metric = type && !strcmp(type, "metric");
	qargs q;
	if (common_args(rq, rs, &q, !metric))
		return;
	int64_t step = 0;
	const char *st = rq->arg(rq, "step");
	cprof_error e = { 0 };
	if (st && *st && srv_duration_parse(st, strlen(st), &step, &e)) {
		srv_resp_error(rs, 400, "step: %s", e.msg);
		goto out;
	}
	if (!step) {
		step = (q.until - q.from) / 100;
		if (step < 1000000000)
			step = 1000000000;
	}
	if ((q.until - q.from) / step >= SRV_SERIES_POINTS_MAX) {
		srv_resp_error(rs, 400, "step: more than %d points in the range; give a larger step",
			       SRV_SERIES_POINTS_MAX);
		goto out;
	}
	series_ctx sc = { .b = { .max = (size_t)256 << 20 } };
	const char *lim = rq->arg(rq, "limit");
	if (lim && *lim) {
		char *end;
		long l = strtol(lim, &end, 10);
		if (*end || l < 1 || l > 1000) {
			srv_resp_error(rs, 400, "limit: want a number of series from 1 to 1000");
			goto out;
		}
		sc.limit = (size_t)l;
	}
	srv_buf_puts(&sc.b, "{\"series\":[");
	int rc;
	if (metric) {
		const char *name = rq->arg(rq, "name");
		if (!name || !*name) {
			srv_resp_error(rs, 400, "name: missing (type=metric needs name=METRIC)");
			srv_buf_free(&sc.b);
			series_ctx_free(&sc);
			goto out;
		}
		rc = srv_store_metric_series(c->store, q.sel, name, q.from, q.until, step, series_cb,
					     &sc, &e);
	} else {
		rc = srv_store_series(c->store, q.sel, q.kind, q.from, q.until, step,
				      rq->arg(rq, "sample_type"), rq->arg(rq, "focus"), series_cb, &sc, &e);
	}
	if (!rc)
		rc = series_flush_kept(&sc);
	series_ctx_free(&sc);
	if (rc) {
		srv_buf_free(&sc.b);
		srv_resp_error(rs, rc == CPROF_ENOMEM ? 413 : status_of(rc), "%s",
			       e.code ? e.msg : "answer too large");
		goto out;
	}
	srv_buf_puts(&sc.b, "]}");
	srv_resp_json(rs, &sc.b);
out:
	srv_selector_free(q.sel);
}

/* ---- lists -------------------------------------------------------------------- */

static void list_json(srv_resp *rs, const char *key, int rc, srv_strlist *l, const cprof_error *e)
{
	if (rc) {
		srv_resp_error(rs, status_of(rc), "%s", e->code ? e->msg : cprof_strerror(rc));
		return;
	}
	srv_buf b = { 0 };
	srv_buf_printf(&b, "{\"%s\":[", key);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			srv_buf_add(&b, ",", 1);
		srv_buf_json_str(&b, l->v[i], strlen(l->v[i]));
	}
	srv_buf_puts(&b, "]}");
	srv_strlist_free(l);
	srv_resp_json(rs, &b);
}

/* from/until of the list endpoints: both absent = everything */
static int list_range(const srv_req *rq, srv_resp *rs, int64_t *from, int64_t *until)
{
	int64_t now = wall_ns();
	*from = *until = 0;
	const char *f = rq->arg(rq, "from"), *u = rq->arg(rq, "until");
	if ((!f || !*f) && (!u || !*u))
		return 0;
	if (time_arg(rq, rs, "from", now, 0, from) || time_arg(rq, rs, "until", now, now, until))
		return -1;
	return 0;
}

static int snap_cb(void *ctx, const srv_snapshot *sn)
{
	series_ctx *s = ctx;
	srv_buf_printf(&s->b, "%s\n{\"id\":%lld,\"rule\":", s->n++ ? "," : "", (long long)sn->id);
	srv_buf_json_str(&s->b, sn->rule, strlen(sn->rule));
	srv_buf_puts(&s->b, ",\"type\":");
	srv_buf_json_str(&s->b, sn->kind, strlen(sn->kind));
	srv_buf_puts(&s->b, ",\"labels\":");
	labels_json(&s->b, &sn->labels);
	srv_buf_printf(&s->b, ",\"time\":%.9g,\"duration\":%.9g,\"url\":\"/api/v1/snapshots/%lld\"}",
		       (double)sn->time_ns / 1e9, (double)sn->duration_ns / 1e9, (long long)sn->id);
	return s->b.err ? CPROF_ENOMEM : 0;
}

void srv_query_handle(srv_ctx *c, const srv_req *rq, srv_resp *rs)
{
	const char *p = rq->path + strlen("/api/v1/");
	cprof_error e = { 0 };
	srv_strlist l = { 0 };
	int64_t from, until;
	if (!strcmp(p, "profile"))
		q_profile(c, rq, rs);
	else if (!strcmp(p, "diff"))
		q_diff(c, rq, rs);
	else if (!strcmp(p, "series"))
		q_series(c, rq, rs);
	else if (!strcmp(p, "labels")) {
		if (list_range(rq, rs, &from, &until) == 0)
			list_json(rs, "labels", srv_store_labels(c->store, from, until, &l, &e), &l, &e);
	} else if (!strncmp(p, "label/", 6) && strlen(p) > 13 &&
		   !strcmp(p + strlen(p) - 7, "/values")) {
		char name[SRV_LABEL_NAME_MAX + 1];
		size_t nn = strlen(p) - 6 - 7;
		if (nn == 0 || nn > SRV_LABEL_NAME_MAX) {
			srv_resp_error(rs, 400, "label name: empty or longer than %d bytes", SRV_LABEL_NAME_MAX);
			return;
		}
		memcpy(name, p + 6, nn);
		name[nn] = '\0';
		if (list_range(rq, rs, &from, &until) == 0)
			list_json(rs, "values",
				  srv_store_label_values(c->store, name, from, until, &l, &e), &l, &e);
	} else if (!strcmp(p, "types")) {
		if (list_range(rq, rs, &from, &until) == 0)
			list_json(rs, "types", srv_store_types(c->store, from, until, &l, &e), &l, &e);
	} else if (!strcmp(p, "targets")) {
		srv_buf b = { 0 };
		if (c->scraper)
			srv_scraper_targets_json(c->scraper, &b);
		else
			srv_buf_puts(&b, "{\"targets\":[]}");
		srv_resp_json(rs, &b);
	} else if (!strcmp(p, "snapshots")) {
		if (list_range(rq, rs, &from, &until))
			return;
		series_ctx sc = { 0 };
		srv_buf_puts(&sc.b, "{\"snapshots\":[");
		int rc = srv_store_snapshots(c->store, from, until, snap_cb, &sc, &e);
		if (rc) {
			srv_buf_free(&sc.b);
			srv_resp_error(rs, status_of(rc), "%s", e.code ? e.msg : cprof_strerror(rc));
			return;
		}
		srv_buf_puts(&sc.b, "]}");
		srv_resp_json(rs, &sc.b);
	} else if (!strncmp(p, "snapshots/", 10)) {
		char *end;
		long long id = strtoll(p + 10, &end, 10);
		if (!p[10] || *end || id <= 0) {
			srv_resp_error(rs, 400, "snapshot id: want a positive integer");
			return;
		}
		cprof_profile *pr = NULL;
		int rc = srv_store_snapshot_get(c->store, id, &pr, &e);
		if (rc)
			srv_resp_error(rs, rc == CPROF_EINVAL ? 404 : 500, "%s",
				       e.code ? e.msg : cprof_strerror(rc));
		else
			send_profile(rs, pr, NULL);
		cprof_profile_free(pr);
	} else {
		srv_resp_error(rs, 404, "no such API path: %s", rq->path);
	}
}
