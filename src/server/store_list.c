/*
 * store_list.c - the SQLite store's lighter reads: totals over time per
 * series (profiles and metric points), label names and values, kinds,
 * pinned snapshots.
 *
 * Series over time read per-sample-type totals, kept in each profile row
 * at ingest and in each rollup row, so they never decode samples: a
 * rollup window that lies inside one step window is read as one row (the
 * day plan of store_query.c with a bucket rule), the rest from profile
 * rows.  A focus regexp asks for the samples whose stack has a matching
 * function: then raw rows are read, their samples decoded, and each
 * distinct stack tested once (a cache per call).
 *
 * Threads: as store_query.c: own read connections, the store's lock only
 * to flush and copy series.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store_int.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Emit a series' points (average: sum/count, else sum) and reset. */
static int win_emit(srv_wins *w, int64_t from, int64_t step, bool avg, const qseries *q,
		    srv_series_cb cb, void *ctx)
{
	size_t k = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (!w->cnt[i])
			continue;
		w->pts[k].t_ns = from + (int64_t)i * step;
		w->pts[k].value = avg ? w->sum[i] / (double)w->cnt[i] : w->sum[i];
		k++;
	}
	int rc = k ? cb(ctx, &q->labels, w->pts, k) : 0;
	memset(w->sum, 0, w->n * sizeof *w->sum);
	memset(w->cnt, 0, w->n * sizeof *w->cnt);
	return rc;
}

/* Call row(ctx, st) for each row of sql (binding ?1 series, ?2 from,
 * ?3 until) in every day file of [from, until), in day order. */
static int walk_days(sq_store *s, int64_t series, int64_t from, int64_t until, const char *sql,
		     int (*row)(void *ctx, sqlite3_stmt *st), void *ctx, cprof_error *err)
{
	int32_t d0 = (int32_t)(from / DAY_NS), d1 = (int32_t)((until - 1) / DAY_NS);
	int rc = 0;
	for (int32_t day = d0; day <= d1 && !rc; day++) {
		char path[4096];
		srv_day_path(s, day, path, sizeof path);
		if (access(path, F_OK) != 0)
			continue;
		sqlite3 *db;
		if ((rc = srv_open_ro(path, &db, err)))
			break;
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, series);
			sqlite3_bind_int64(st, 2, from);
			sqlite3_bind_int64(st, 3, until);
			while (!rc && sqlite3_step(st) == SQLITE_ROW)
				rc = row(ctx, st);
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
	}
	return rc;
}

/* The focused total of one profile's packed samples (value index vi). */
static int focus_total(sqlite3 *meta, uint32_t svc, const void *blob, size_t len, int nv, int vi,
		       void *re, u64map *cache, double *out)
{
	rd r = { blob, len, 0, false };
	uint64_t n = rd_uv(&r), stack = 0, g = 0;
	double t = 0;
	for (int k = 0; k < nv && n; k++) {     /* the divisors (store_codec.c) */
		uint64_t x = rd_uv(&r);
		if (k == vi)
			g = x;
	}
	for (uint64_t i = 0; i < n && !r.bad; i++) {
		stack += rd_uv(&r);
		rd_uv(&r);
		int64_t v = 0;
		for (int k = 0; k < nv; k++) {
			int64_t x = rd_sv(&r);
			if (k == vi)
				v = (int64_t)((uint64_t)x * g);
		}
		if (r.bad || stack > UINT32_MAX)
			break;
		int hit = re ? srv_stack_focus(meta, svc, (uint32_t)stack, re, cache) : 1;
		if (hit < 0)
			return CPROF_EIO;
		if (hit)
			t += (double)v;
	}
	*out = t;
	return r.bad ? CPROF_EFORMAT : 0;
}

typedef struct pctx {
	sq_store *s;
	srv_wins *w;
	sqlite3 *meta;
	uint32_t svc;
	const char *sample_type;
	void *re;
	u64map *cache;
	int64_t from, step;
	cprof_error *err;
} pctx;

/* One profile row into its window: its total of the sample type, or the
 * focused part of it. */
static int profile_row(void *ctx, sqlite3_stmt *st)
{
	pctx *c = ctx;
	int64_t t = sqlite3_column_int64(st, 0);
	const void *sig = NULL;
	size_t sl = 0;
	if (!srv_sig_resolve(c->s, st, 1, &sig, &sl))
		return 0;
	int nv = srv_sig_nv(sig, sl), vi = srv_sig_find(sig, sl, c->sample_type);
	if (nv < 0 || vi < 0)
		return 0;               /* no such sample type here */
	double v = 0;
	if (c->re || sqlite3_column_type(st, 2) == SQLITE_NULL) {
		/* a focus, or a rollup row written before rows kept totals */
		int rc = focus_total(c->meta, c->svc, sqlite3_column_blob(st, 3),
				     (size_t)sqlite3_column_bytes(st, 3), nv, vi, c->re, c->cache, &v);
		if (rc)
			return cprof_seterr(c->err, rc, "store: focus failed");
	} else {
		rd r = { sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), 0, false };
		for (int x = 0; x <= vi; x++)
			v = (double)rd_sv(&r);
	}
	size_t wi = (size_t)((t - c->from) / c->step);
	c->w->sum[wi] += v;
	c->w->cnt[wi] += (uint64_t)sqlite3_column_int64(st, 4);        /* profiles in the row */
	return 0;
}

static int metric_row(void *ctx, sqlite3_stmt *st)
{
	pctx *c = ctx;
	size_t wi = (size_t)((sqlite3_column_int64(st, 0) - c->from) / c->step);
	double v = sqlite3_column_double(st, 1);
	if (isfinite(v)) {
		c->w->sum[wi] += v;
		c->w->cnt[wi]++;
	}
	return 0;
}

int sq_series(srv_store *base, const srv_selector *sel, const char *kind, int64_t from_ns,
		     int64_t until_ns, int64_t step_ns, const char *sample_type, const char *focus,
		     srv_series_cb cb, void *ctx, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	srv_wins w;
	int rc = srv_wins_init(&w, 0, from_ns, until_ns, step_ns, err);
	if (rc) {
		srv_wins_free(&w);
		return rc;
	}
	pcre2_code *re;
	if ((rc = srv_focus_re(focus, &re, err))) {
		srv_wins_free(&w);
		return rc;
	}
	bool avg = srv_kind_agg(kind) == SRV_AGG_AVG;
	qset qs;
	sqlite3 *meta = NULL;
	u64map cache = { 0 };
	if ((rc = srv_select_series(s, sel, kind, from_ns, until_ns, true, &qs, err)))
		goto out0;
	if (focus && (rc = srv_open_meta(s, &meta, err)))
		goto out;
	pctx pc = { s, &w, meta, 0, sample_type, re, &cache, from_ns, step_ns, err };
	int32_t d0 = (int32_t)(from_ns / DAY_NS), d1 = (int32_t)((until_ns - 1) / DAY_NS);
	size_t nd = (size_t)(d1 - d0) + 1;
	srv_qday *days = NULL;
	/* without a focus the samples are read only from rows without
	 * totals: a profile's samples are most of its row, and a short range
	 * at a fine step reads every profile */
	if (qs.n && (rc = srv_days_open(s, from_ns, until_ns, from_ns, step_ns,
				       !focus && !s->o.no_rollups,
				       focus ? "SELECT time, sig, totals, samples, 1 FROM profiles"
					       " WHERE series=?1 AND time>=?2 AND time<?3"
					     : "SELECT time, sig, totals, CASE WHEN totals IS NULL THEN"
					       " samples END, 1 FROM profiles"
					       " WHERE series=?1 AND time>=?2 AND time<?3",
				       "SELECT wstart, sig, totals, samples, nprofiles FROM rollups"
				       " WHERE level=?4 AND series=?1 AND wstart>=?2 AND wstart<?3",
				       &days, err)))
		goto out;
	for (size_t k = 0; k < qs.n && !rc; k++) {
		pc.svc = qs.v[k].svc;
		for (size_t i = 0; i < nd && !rc; i++) {
			for (int j = 0; j < days[i].pl.nseg && !rc && days[i].db; j++) {
				const srv_seg *sg = &days[i].pl.segs[j];
				sqlite3_stmt *st = sg->level ? days[i].roll : days[i].raw;
				sqlite3_reset(st);
				sqlite3_bind_int64(st, 1, qs.v[k].id);
				sqlite3_bind_int64(st, 2, sg->lo);
				sqlite3_bind_int64(st, 3, sg->hi);
				if (sg->level)
					sqlite3_bind_int(st, 4, sg->level);
				while (!rc && sqlite3_step(st) == SQLITE_ROW)
					rc = profile_row(&pc, st);
			}
		}
		if (!rc)
			rc = win_emit(&w, from_ns, step_ns, avg, &qs.v[k], cb, ctx);
	}
	srv_days_close(s, days, nd);
out:
	srv_qset_free(&qs);
out0:
	sqlite3_close(meta);
	u64map_free(&cache);
	if (re)
		pcre2_code_free(re);
	srv_wins_free(&w);
	return rc;
}

int sq_metric_series(srv_store *base, const srv_selector *sel, const char *name,
			    int64_t from_ns, int64_t until_ns, int64_t step_ns, srv_series_cb cb,
			    void *ctx, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	char kind[208];
	snprintf(kind, sizeof kind, "#%s", name);
	srv_wins w;
	int rc = srv_wins_init(&w, 0, from_ns, until_ns, step_ns, err);
	qset qs;
	if (rc || (rc = srv_select_series(s, sel, kind, from_ns, until_ns, true, &qs, err))) {
		srv_wins_free(&w);
		return rc;
	}
	pctx pc = { s, &w, NULL, 0, NULL, NULL, NULL, from_ns, step_ns, err };
	for (size_t k = 0; k < qs.n && !rc; k++) {
		rc = walk_days(s, qs.v[k].id, from_ns, until_ns,
			       "SELECT time, value FROM metrics WHERE series=?1 AND time>=?2 AND time<?3",
			       metric_row, &pc, err);
		if (!rc)
			rc = win_emit(&w, from_ns, step_ns, true, &qs.v[k], cb, ctx);
	}
	srv_qset_free(&qs);
	srv_wins_free(&w);
	return rc;
}

/* ---- listings ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, drop repeats.  0 or CPROF_ENOMEM (when a strdup failed earlier). */
static int strlist_finish(srv_strlist *l, bool oom, cprof_error *err)
{
	if (oom) {
		srv_strlist_free(l);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (k && strcmp(l->v[k - 1], l->v[i]) == 0)
			free(l->v[i]);
		else
			l->v[k++] = l->v[i];
	}
	l->n = k;
	return 0;
}

/* mode 0: label names, 1: values of name, 2: profile kinds. */
static int listing(sq_store *s, int mode, const char *name, int64_t from, int64_t until,
		   srv_strlist *out, cprof_error *err)
{
	memset(out, 0, sizeof *out);
	size_t cap = 0;
	bool oom = false;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nseries && !oom; i++) {
		const sseries *ss = &s->series[i];
		if ((from || until) && (ss->last_ns < from || ss->first_ns >= until))
			continue;
		if (mode == 2) {
			if (ss->kind[0] != '#')
				oom = !srv_strlist_add(out, &cap, ss->kind);
			continue;
		}
		for (size_t k = 0; k < ss->nl && !oom; k++) {
			if (mode == 0)
				oom = !srv_strlist_add(out, &cap, ss->lv[k].name);
			else if (strcmp(ss->lv[k].name, name) == 0)
				oom = !srv_strlist_add(out, &cap, ss->lv[k].value);
		}
		/* keep the list small while walking many series */
		if (out->n > 4096 && !oom) {
			pthread_mutex_unlock(&s->mu);
			strlist_finish(out, false, NULL);
			cap = out->n;
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return strlist_finish(out, oom, err);
}

int sq_listing(srv_store *base, int which, const char *name, int64_t from_ns, int64_t until_ns,
	       srv_strlist *out, cprof_error *err)
{
	return listing((sq_store *)base, which, name, from_ns, until_ns, out, err);
}

/* ---- snapshots --------------------------------------------------------------- */

int sq_snapshots(srv_store *base, int64_t from_ns, int64_t until_ns,
			int (*cb)(void *ctx, const srv_snapshot *snap), void *ctx, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	qset qs;
	int rc = srv_select_series(s, NULL, NULL, 0, 0, true, &qs, err);
	if (rc)
		return rc;
	sqlite3 *meta = NULL;
	if ((rc = srv_open_meta(s, &meta, err)))
		goto out;
	sqlite3_stmt *st;
	bool all = !from_ns && !until_ns;
	rc = sqlite3_prepare_v2(meta, "SELECT id, rule, series, time, duration FROM pinned"
				" WHERE ?1 OR (time>=?2 AND time<?3) ORDER BY time DESC, id DESC",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = srv_sql_err(meta, rc, "snapshots", err);
		goto out;
	}
	rc = 0;
	sqlite3_bind_int(st, 1, all);
	sqlite3_bind_int64(st, 2, from_ns);
	sqlite3_bind_int64(st, 3, until_ns);
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int64_t sid = sqlite3_column_int64(st, 2);
		/* series ids are index + 1 and qs holds all of them, in order */
		if (sid < 1 || (size_t)sid > qs.n)
			continue;
		pthread_mutex_lock(&s->mu);
		const char *kind = s->series[sid - 1].kind;
		char kbuf[80];
		snprintf(kbuf, sizeof kbuf, "%s", kind);
		pthread_mutex_unlock(&s->mu);
		srv_snapshot sn = {
			.id = sqlite3_column_int64(st, 0),
			.rule = (const char *)sqlite3_column_text(st, 1),
			.kind = kbuf,
			.labels = qs.v[sid - 1].labels,
			.time_ns = sqlite3_column_int64(st, 3),
			.duration_ns = sqlite3_column_int64(st, 4),
		};
		rc = cb(ctx, &sn);
	}
	sqlite3_finalize(st);
out:
	sqlite3_close(meta);
	srv_qset_free(&qs);
	return rc;
}

int sq_snapshot_get(srv_store *base, int64_t id, cprof_profile **out, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	*out = NULL;
	sqlite3 *meta = NULL;
	int rc = srv_store_flush(base, err);
	if (rc || (rc = srv_open_meta(s, &meta, err)))
		return rc;
	sqlite3_stmt *st = NULL;
	acc a = { 0 };
	srv_builder *b = NULL;
	sqlite3_exec(meta, "BEGIN", NULL, NULL, NULL);
	rc = sqlite3_prepare_v2(meta, "SELECT p.series, p.time, p.duration, p.period, p.sig,"
				" p.samples, s.svc FROM pinned p JOIN series s ON s.id = p.series"
				" WHERE p.id=?1", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = srv_sql_err(meta, rc, "snapshot", err);
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = cprof_seterr(err, CPROF_EINVAL, "no snapshot %lld", (long long)id);
		goto out;
	}
	const void *sig = NULL;
	size_t sl = 0;
	int nv = srv_sig_resolve(s, st, 4, &sig, &sl) ? srv_sig_nv(sig, sl) : -1;
	if (nv < 0) {
		rc = cprof_seterr(err, CPROF_EFORMAT, "snapshot %lld is damaged", (long long)id);
		goto out;
	}
	acc_init(&a, nv);
	if ((rc = acc_add_packed(&a, sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5)))) {
		rc = cprof_seterr(err, rc, "snapshot %lld is damaged", (long long)id);
		goto out;
	}
	if (!(b = srv_builder_new(meta, sig, sl, err))) {
		rc = err && err->code ? err->code : CPROF_ENOMEM;
		goto out;
	}
	rc = srv_builder_add(b, (uint32_t)sqlite3_column_int64(st, 6), &a, err);
	if (!rc)
		rc = srv_builder_finish(b, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
					sqlite3_column_int64(st, 3), out, err);
out:
	srv_builder_free(b);
	acc_free(&a);
	sqlite3_finalize(st);
	sqlite3_exec(meta, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(meta);
	return rc;
}
