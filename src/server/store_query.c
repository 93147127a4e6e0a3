/*
 * store_query.c - the SQLite store's read side: range merges, series over
 * time, label and kind listings, snapshots.
 *
 * A range merge plans, per day file, which parts of [from, until) it can
 * read from rollups: a whole day with a day rollup, else each whole hour
 * with an hour rollup, and raw profiles for the rest (the partial hours
 * at the edges, and windows not rolled up yet).  The day file's `rolled`
 * table is read in the same read transaction as the rows, so a window
 * invalidated by a late profile is never read half old, half new.  Rows
 * are accumulated per (sample-type signature, service) in summing maps
 * keyed by dense (stack, lset) ids; only the distinct stacks of the answer
 * are then looked up in the dictionary and rebuilt into a profile
 * (store_dict.c), which cprof_compact turns into exactly what cprof_merge
 * would produce.  Gauges are accumulated per series, divided by that
 * series' profile count, then added.
 *
 * Threads: every call opens its own read connections (WAL readers do not
 * block the writer or each other) and takes the store's lock only to
 * flush pending appends and to copy the series it needs.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store_int.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void srv_qset_free(qset *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].lv);
		free(q->v[i].block);
	}
	free(q->v);
	memset(q, 0, sizeof *q);
}

/* Copy the series of kind (exact; "#name" for metrics) matching sel with
 * data in [from, until) (0, 0: any time); flush first.  want_labels:
 * copy the labels too. */
int srv_select_series(sq_store *s, const srv_selector *sel, const char *kind, int64_t from,
			 int64_t until, bool want_labels, qset *out, cprof_error *err)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->mu);
	int rc = s->broken ? 0 : srv_flush_locked(s, err);
	out->v = calloc(s->nseries + 1, sizeof *out->v);
	if (!out->v && !rc)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t i = 0; i < s->nseries && !rc; i++) {
		const sseries *ss = &s->series[i];
		if (kind && strcmp(ss->kind, kind) != 0)
			continue;
		if ((from || until) && (ss->last_ns < from || ss->first_ns >= until))
			continue;
		srv_labels l = { ss->lv, ss->nl };
		if (!srv_selector_match(sel, &l))
			continue;
		qseries *q = &out->v[out->n++];
		q->id = ss->id;
		q->svc = ss->svc;
		if (!want_labels)
			continue;
		size_t bytes = 0;
		for (size_t k = 0; k < ss->nl; k++)
			bytes += strlen(ss->lv[k].name) + strlen(ss->lv[k].value) + 2;
		q->block = malloc(bytes + 1);
		q->lv = calloc(ss->nl + 1, sizeof *q->lv);
		if (!q->block || !q->lv) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			break;
		}
		char *o = q->block;
		for (size_t k = 0; k < ss->nl; k++) {
			size_t a = strlen(ss->lv[k].name) + 1, b = strlen(ss->lv[k].value) + 1;
			memcpy(o, ss->lv[k].name, a);
			q->lv[k].name = o;
			o += a;
			memcpy(o, ss->lv[k].value, b);
			q->lv[k].value = o;
			o += b;
		}
		q->labels.v = q->lv;
		q->labels.n = ss->nl;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		srv_qset_free(out);
	return rc;
}

int srv_open_ro(const char *path, sqlite3 **db, cprof_error *err)
{
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		cprof_seterr(err, CPROF_EIO, "store: cannot open %s: %s", path,
			     *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return CPROF_EIO;
	}
	sqlite3_busy_timeout(*db, 10000);
	/* read through a memory map: a connection opened for a query (or
	 * taken from the pool, store_pool.c, after its file changed) starts
	 * with nothing cached, so without it every page it touches is a
	 * pread() into an empty page cache (half of a fleet's chart query).  Files are only ever
	 * appended to or unlinked whole (retention), never truncated under
	 * a reader. */
	sqlite3_exec(*db, "PRAGMA mmap_size=4294967296", NULL, NULL, NULL);
	return 0;
}

int srv_open_meta(sq_store *s, sqlite3 **db, cprof_error *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/meta.db", s->dir);
	return srv_open_ro(path, db, err);
}

/* ---- range merge --------------------------------------------------------- */

static void add_seg(srv_plan *d, int level, int64_t lo, int64_t hi)
{
	if (lo >= hi)
		return;
	if (d->nseg > 0) {
		srv_seg *p = &d->segs[d->nseg - 1];
		/* raw ranges join; rollup rows of one level join (as wstart
		 * ranges: a segment of level L is rows with wstart in [lo, hi)) */
		if (p->level == level && p->hi == lo) {
			p->hi = hi;
			return;
		}
	}
	if (d->nseg < SRV_MAX_SEGS)
		d->segs[d->nseg++] = (srv_seg){ level, lo, hi };
}

/* Whether window [ws, ws + len) lies in one bucket of [from + k*step)
 * (step 0: no buckets). */
static bool fits(const srv_plan *d, int64_t ws, int64_t len)
{
	if (!d->step)
		return true;
	int64_t off = (ws - d->bucket_from) % d->step;
	return ws >= d->bucket_from && off + len <= d->step;
}

/* Plan [lo, hi) within window (level, ws): whole windows rolled up (and
 * within one bucket) are one segment, the rest is split one level down. */
static void plan(srv_plan *d, const u64map *rolled, int level, int64_t ws, int64_t lo, int64_t hi)
{
	int64_t we = ws + wlen(level);
	int64_t a = lo > ws ? lo : ws, b = hi < we ? hi : we;
	if (a >= b)
		return;
	if (a == ws && b == we && u64map_get(rolled, wkey(level, ws), NULL) &&
	    fits(d, ws, wlen(level))) {
		add_seg(d, level, ws, we);
		return;
	}
	if (level == ROLL_TEN) {
		add_seg(d, 0, a, b);
		return;
	}
	int64_t step = wlen(level - 1);
	for (int64_t c = ws; c < we; c += step)
		plan(d, rolled, level - 1, c, a, b);
}

void srv_plan_day(sqlite3 *db, int32_t day, int64_t from, int64_t until, bool rollups,
		  srv_plan *d)
{
	int64_t ds = (int64_t)day * DAY_NS;
	d->nseg = 0;
	u64map rolled = { 0 };
	sqlite3_stmt *st;
	if (rollups && sqlite3_prepare_v2(db, "SELECT level, wstart FROM rolled", -1, &st,
					  NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			uint32_t *v;
			bool f;
			if (u64map_slot(&rolled, wkey(sqlite3_column_int(st, 0),
						       sqlite3_column_int64(st, 1)), &v, &f) == 0)
				*v = 1;
		}
		sqlite3_finalize(st);
	}
	plan(d, &rolled, ROLL_DAY, ds, from, until);
	u64map_free(&rolled);
}

int srv_days_open(sq_store *s, int64_t from, int64_t until, int64_t bucket_from, int64_t step,
		  bool rollups, const char *raw_sql, const char *roll_sql, srv_qday **out,
		  cprof_error *err)
{
	int32_t d0 = (int32_t)(from / DAY_NS), d1 = (int32_t)((until - 1) / DAY_NS);
	size_t nd = (size_t)(d1 - d0) + 1;
	*out = NULL;
	if (nd > SRV_RANGE_DAYS_MAX)    /* one open file per day */
		return cprof_seterr(err, CPROF_EINVAL, "time range over %d days", SRV_RANGE_DAYS_MAX);
	srv_qday *days = calloc(nd, sizeof *days);
	if (!days)
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	int rc = 0;
	for (size_t i = 0; i < nd && !rc; i++) {
		char path[4096];
		srv_day_path(s, d0 + (int32_t)i, path, sizeof path);
		if (access(path, F_OK) != 0)
			continue;
		srv_qday *d = &days[i];
		d->day = d0 + (int32_t)i;
		if ((rc = srv_pool_take(s, d->day, path, &d->db, &d->dev, &d->ino, err)))
			break;
		sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL);
		if (sqlite3_prepare_v2(d->db, raw_sql, -1, &d->raw, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(d->db, roll_sql, -1, &d->roll, NULL) != SQLITE_OK) {
			rc = srv_sql_err(d->db, SQLITE_ERROR, "query", err);
			break;
		}
		d->pl.bucket_from = bucket_from;
		d->pl.step = step;
		srv_plan_day(d->db, d0 + (int32_t)i, from, until, rollups, &d->pl);
	}
	if (rc) {
		srv_days_close(s, days, nd);
		return rc;
	}
	*out = days;
	return 0;
}

void srv_days_close(sq_store *s, srv_qday *days, size_t nd)
{
	for (size_t i = 0; days && i < nd; i++) {
		sqlite3_finalize(days[i].raw);
		sqlite3_finalize(days[i].roll);
		if (days[i].db) {
			sqlite3_exec(days[i].db, "COMMIT", NULL, NULL, NULL);
			char path[4096];
			srv_day_path(s, days[i].day, path, sizeof path);
			srv_pool_give(s, days[i].day, path, days[i].db, days[i].dev, days[i].ino);
		}
	}
	free(days);
}

/* A group: one sample-type signature and service. */
typedef struct qgroup {
	sbuf sig;
	uint32_t svc;
	acc a;
} qgroup;

typedef struct qgroups {
	qgroup *v;
	size_t n, cap;
} qgroups;

static qgroup *group_for(qgroups *g, const void *sig, size_t siglen, uint32_t svc, int nv)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].svc == svc && g->v[i].sig.n == siglen &&
		    memcmp(g->v[i].sig.p, sig, siglen) == 0)
			return &g->v[i];
	if (g->n > 4096 || cprof_reserve((void **)&g->v, &g->cap, g->n + 1, sizeof *g->v))
		return NULL;
	qgroup *q = &g->v[g->n];
	memset(q, 0, sizeof *q);
	q->svc = svc;
	acc_init(&q->a, nv);
	sb_put(&q->sig, sig, siglen);
	if (q->sig.oom) {
		acc_free(&q->a);
		return NULL;
	}
	g->n++;
	return q;
}

static void groups_free(qgroups *g)
{
	for (size_t i = 0; i < g->n; i++) {
		sb_free(&g->v[i].sig);
		acc_free(&g->v[i].a);
	}
	free(g->v);
	memset(g, 0, sizeof *g);
}

/* Where the rows of a run of rollup windows go when they are merged for
 * the cache: window k = (wstart - lo) / len into g[k], counted in e[k]. */
typedef struct wroute {
	qgroups *g;
	wc_entry **e;
	int64_t lo, len;
	size_t n;
} wroute;

/* Read one series' rows of one day segment into groups (wr NULL), or
 * each row into its window's groups (wr). */
static int read_seg(sq_store *s, srv_qday *d, const srv_seg *sg, const qseries *q, qgroups *g,
		    const wroute *wr, srv_query_info *info, cprof_error *err)
{
	sqlite3_stmt *st = sg->level ? d->roll : d->raw;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, q->id);
	sqlite3_bind_int64(st, 2, sg->lo);
	sqlite3_bind_int64(st, 3, sg->hi);
	if (sg->level)
		sqlite3_bind_int(st, 4, sg->level);
	int sr;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		const void *sig = NULL;
		size_t siglen = 0;
		int nv = srv_sig_resolve(s, st, 0, &sig, &siglen) ? srv_sig_nv(sig, siglen) : -1;
		wc_entry *we = NULL;
		if (wr) {
			int64_t k = (sqlite3_column_int64(st, 6) - wr->lo) / wr->len;
			if (k < 0 || (size_t)k >= wr->n)
				return cprof_seterr(err, CPROF_EFORMAT, "store: a rollup row outside "
						    "its window in series %lld", (long long)q->id);
			g = &wr->g[k];
			we = wr->e[k];
		}
		qgroup *gr = nv < 0 ? NULL : group_for(g, sig, siglen, q->svc, nv);
		if (!gr)
			return cprof_seterr(err, nv < 0 ? CPROF_EFORMAT : CPROF_ENOMEM,
					    "store: cannot read series %lld", (long long)q->id);
		gr->a.nprofiles += (uint64_t)sqlite3_column_int64(st, 1);
		gr->a.duration_sum += sqlite3_column_int64(st, 2);
		int64_t t = sqlite3_column_int64(st, 3), per = sqlite3_column_int64(st, 4);
		if (t < gr->a.tmin)
			gr->a.tmin = t;
		if (per > gr->a.period)
			gr->a.period = per;
		int rc = acc_add_packed(&gr->a, sqlite3_column_blob(st, 5),
					(size_t)sqlite3_column_bytes(st, 5));
		if (rc)
			return cprof_seterr(err, rc, "store: broken samples in series %lld",
					    (long long)q->id);
		if (we) {
			wc_entry_add_series(we, q->id);
			we->nrows++;
			we->nprofiles += (size_t)sqlite3_column_int64(st, 1);
			continue;
		}
		if (sg->level)
			info->nrollups++;
		else
			info->nraw++;
		info->nprofiles += (size_t)sqlite3_column_int64(st, 1);
	}
	if (sr != SQLITE_DONE)
		return srv_sql_err(d->db, sr, "query", err);
	return 0;
}

/* ---- range merges through the cache of windows (store_wcache.c) ------------ */

/* The cache key of (sel, kind): the kind, then each matcher's operator,
 * name and value (NUL-terminated strings); each window appends its level
 * and start. */
static void sel_key(const srv_selector *sel, const char *kind, sbuf *k)
{
	sb_put(k, kind, strlen(kind) + 1);
	for (size_t i = 0; sel && i < sel->n; i++) {
		char op = (char)('0' + (int)sel->m[i].op);
		sb_put(k, &op, 1);
		sb_put(k, sel->m[i].name, strlen(sel->m[i].name) + 1);
		sb_put(k, sel->m[i].value, strlen(sel->m[i].value) + 1);
	}
}

static void win_key(sbuf *k, size_t base, int level, int64_t ws)
{
	k->n = base;
	char lv = (char)level;
	sb_put(k, &lv, 1);
	sb_put(k, &ws, sizeof ws);
}

/* Add a window's entry into the range's groups, counts and series. */
static int entry_into(const wc_entry *e, qgroups *total, u64map *seen, srv_query_info *info,
		      cprof_error *err)
{
	if (!e->ok)
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t i = 0; i < e->ng; i++) {
		const wc_group *g = &e->g[i];
		qgroup *t = group_for(total, g->sig, g->siglen, g->svc, g->rows.nv);
		if (!t || acc_add_acc(&t->a, &g->rows))
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	for (size_t i = 0; i < e->nseries; i++) {
		uint32_t *v;
		bool f;
		if (u64map_slot(seen, (uint64_t)e->series[i], &v, &f))
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	info->nrollups += e->nrows;
	info->nprofiles += e->nprofiles;
	return 0;
}

/* Merge the windows [a, b) of rollup segment sg (none of them cached) over
 * every series of qs in one statement per series, rows routed to their
 * window; add each window into total and keep it in the cache. */
static int read_run(sq_store *s, srv_qday *d, const srv_seg *sg, size_t a, size_t b,
		    const qset *qs, sbuf *key, size_t kbase, uint64_t epoch, qgroups *total,
		    u64map *seen, srv_query_info *info, cprof_error *err)
{
	size_t n = b - a;
	int64_t len = wlen(sg->level);
	wroute wr = { calloc(n, sizeof *wr.g), calloc(n, sizeof *wr.e), sg->lo + (int64_t)a * len,
		      len, n };
	int rc = wr.g && wr.e ? 0 : cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t k = 0; k < n && !rc; k++)
		if (!(wr.e[k] = wc_entry_new()))
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	srv_seg run = { sg->level, wr.lo, wr.lo + (int64_t)n * len };
	for (size_t k = 0; k < qs->n && !rc; k++)
		rc = read_seg(s, d, &run, &qs->v[k], NULL, &wr, info, err);
	for (size_t k = 0; k < n && !rc; k++) {
		for (size_t i = 0; i < wr.g[k].n; i++)
			wc_entry_add_group(wr.e[k], wr.g[k].v[i].sig.p, wr.g[k].v[i].sig.n,
					   wr.g[k].v[i].svc, &wr.g[k].v[i].a);
		if (!(rc = entry_into(wr.e[k], total, seen, info, err))) {
			win_key(key, kbase, sg->level, wr.lo + (int64_t)k * len);
			if (key->oom)
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			else
				wc_put(s->wc, wr.e[k], key->p, key->n, epoch);
			wr.e[k] = NULL;
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (wr.g)
			groups_free(&wr.g[k]);
		if (wr.e)
			wc_entry_free(wr.e[k]);
	}
	free(wr.g);
	free(wr.e);
	return rc;
}

/* A counter kind's range merge: every whole rolled-up window from the
 * cache or merged once into it, the raw profiles series by series. */
static int query_cached(sq_store *s, const srv_selector *sel, const char *kind, const qset *qs,
			srv_qday *days, size_t nd, uint64_t epoch, qgroups *total,
			srv_query_info *info, cprof_error *err)
{
	sbuf key = { 0 };
	u64map seen = { 0 };
	sel_key(sel, kind, &key);
	size_t kbase = key.n;
	int rc = key.oom ? cprof_seterr(err, CPROF_ENOMEM, "store: out of memory") : 0;
	wc_entry *hit[DAY_NS / TEN_NS];
	for (size_t i = 0; i < nd && !rc; i++) {
		srv_qday *d = &days[i];
		for (int j = 0; d->db && j < d->pl.nseg && !rc; j++) {
			const srv_seg *sg = &d->pl.segs[j];
			if (!sg->level)
				continue;
			int64_t len = wlen(sg->level);
			size_t nw = (size_t)((sg->hi - sg->lo + len - 1) / len);
			if (nw > sizeof hit / sizeof *hit) {
				rc = cprof_seterr(err, CPROF_EFORMAT, "store: a rollup segment over a day");
				break;
			}
			for (size_t w = 0; w < nw; w++) {
				win_key(&key, kbase, sg->level, sg->lo + (int64_t)w * len);
				hit[w] = key.oom ? NULL : wc_get(s->wc, key.p, key.n, epoch);
			}
			for (size_t w = 0; w < nw;) {
				if (hit[w]) {
					if (!rc)
						rc = entry_into(hit[w], total, &seen, info, err);
					wc_release(s->wc, hit[w++]);
					continue;
				}
				size_t b = w + 1;
				while (b < nw && !hit[b])
					b++;
				if (!rc)
					rc = read_run(s, d, sg, w, b, qs, &key, kbase, epoch, total, &seen,
						      info, err);
				w = b;
			}
		}
	}
	/* the raw profiles: partial windows and windows not rolled up */
	for (size_t k = 0; k < qs->n && !rc; k++) {
		size_t before = info->nraw;
		for (size_t i = 0; i < nd && !rc; i++)
			for (int j = 0; days[i].db && j < days[i].pl.nseg && !rc; j++)
				if (!days[i].pl.segs[j].level)
					rc = read_seg(s, &days[i], &days[i].pl.segs[j], &qs->v[k], total,
						      NULL, info, err);
		uint32_t *v;
		bool f;
		if (!rc && info->nraw > before && u64map_slot(&seen, (uint64_t)qs->v[k].id, &v, &f))
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	info->nseries = seen.n;
	u64map_free(&seen);
	sb_free(&key);
	return rc;
}

/* Turn the groups into one profile. */
static int finish(sqlite3 *meta, dcache *dc, qgroups *g, cprof_profile **out, cprof_error *err)
{
	cprof_profile **parts = calloc(g->n + 1, sizeof *parts);
	size_t np = 0;
	int rc = parts ? 0 : cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	bool *done = calloc(g->n + 1, sizeof *done);
	if (!done && !rc)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t i = 0; i < g->n && !rc; i++) {
		if (done[i])
			continue;
		/* one builder per signature, fed by every service's group */
		srv_builder *b = srv_builder_new(meta, g->v[i].sig.p, g->v[i].sig.n, err);
		if (!b) {
			rc = err && err->code ? err->code : CPROF_ENOMEM;
			break;
		}
		srv_builder_use_cache(b, dc);
		int64_t tmin = INT64_MAX, dur = 0, per = 0;
		for (size_t j = i; j < g->n && !rc; j++) {
			if (done[j] || g->v[j].sig.n != g->v[i].sig.n ||
			    memcmp(g->v[j].sig.p, g->v[i].sig.p, g->v[i].sig.n) != 0)
				continue;
			done[j] = true;
			rc = srv_builder_add(b, g->v[j].svc, &g->v[j].a, err);
			if (g->v[j].a.tmin < tmin)
				tmin = g->v[j].a.tmin;
			dur += g->v[j].a.duration_sum;
			if (g->v[j].a.period > per)
				per = g->v[j].a.period;
		}
		if (!rc)
			rc = srv_builder_finish(b, tmin == INT64_MAX ? 0 : tmin, dur, per, &parts[np++],
						err);
		srv_builder_free(b);
	}
	free(done);
	if (!rc) {
		if (np == 0) {
			*out = cprof_profile_new();
			if (!*out)
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		} else if (np == 1) {
			*out = parts[0];
			parts[0] = NULL;
		} else {
			rc = cprof_compatibilize(parts, np, err);
			if (!rc)
				rc = cprof_merge(parts, np, out, err);
		}
	}
	for (size_t i = 0; i < np; i++)
		cprof_profile_free(parts[i]);
	free(parts);
	return rc;
}

int sq_query(srv_store *base, const srv_selector *sel, const char *kind, int64_t from_ns,
		    int64_t until_ns, cprof_profile **out, srv_query_info *info, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	qset qs;
	int rc = srv_select_series(s, sel, kind, from_ns, until_ns, false, &qs, err);
	if (rc)
		return rc;
	/* the cache's epoch: after the flush, before the read snapshots */
	pthread_mutex_lock(&s->mu);
	uint64_t epoch = s->wc_epoch;
	pthread_mutex_unlock(&s->mu);
	int32_t d0 = (int32_t)(from_ns / DAY_NS), d1 = (int32_t)((until_ns - 1) / DAY_NS);
	size_t nd = (size_t)(d1 - d0) + 1;
	srv_qday *days = NULL;
	sqlite3 *meta = NULL;
	qgroups total = { 0 }, one = { 0 };
	if (qs.n && (rc = srv_days_open(s, from_ns, until_ns, 0, 0, !s->o.no_rollups,
				       "SELECT sig, 1, duration, time, period, samples"
				       " FROM profiles WHERE series=?1 AND time>=?2 AND time<?3",
				       "SELECT sig, nprofiles, duration, tmin, period, samples, wstart"
				       " FROM rollups WHERE level=?4 AND series=?1 AND wstart>=?2"
				       " AND wstart<?3", &days, err)))
		goto out;
	bool avg = info->agg == SRV_AGG_AVG;
	bool cached = !avg && s->wc && qs.n;
	if (cached)
		rc = query_cached(s, sel, kind, &qs, days, nd, epoch, &total, info, err);
	for (size_t k = 0; k < qs.n && !rc && !cached; k++) {
		qgroups *g = avg ? &one : &total;
		size_t before = info->nprofiles;
		for (size_t i = 0; i < nd && !rc; i++)
			for (int j = 0; j < days[i].pl.nseg && !rc && days[i].db; j++)
				rc = read_seg(s, &days[i], &days[i].pl.segs[j], &qs.v[k], g, NULL,
						      info, err);
		if (info->nprofiles > before)
			info->nseries++;
		if (!avg || rc)
			continue;
		/* gauge: this series' average, added into the total */
		for (size_t i = 0; i < one.n && !rc; i++) {
			acc_div(&one.v[i].a, one.v[i].a.nprofiles);
			int nv = one.v[i].a.nv;
			qgroup *t = group_for(&total, one.v[i].sig.p, one.v[i].sig.n, one.v[i].svc, nv);
			if (!t || acc_add_acc(&t->a, &one.v[i].a))
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		}
		groups_free(&one);
	}
	/* the dictionary is read last, in a snapshot newer than every day
	 * row read, so every id those rows hold is in it (meta.db commits
	 * before the day files) */
	if (!rc && !(rc = srv_open_meta(s, &meta, err))) {
		sqlite3_exec(meta, "BEGIN", NULL, NULL, NULL);
		rc = finish(meta, s->dc, &total, out, err);
	}
out:
	srv_days_close(s, days, nd);
	if (meta) {
		sqlite3_exec(meta, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(meta);
	}
	groups_free(&total);
	groups_free(&one);
	srv_qset_free(&qs);
	return rc;
}
