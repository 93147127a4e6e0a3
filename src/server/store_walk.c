/*
 * store_walk.c - the SQLite store's walk over what it holds, for copying
 * a store into another (store_copy.c): every profile row decoded back
 * into a profile, every metric point, and the same items with times only
 * (what a copy into this store skips), and the days that hold data.
 *
 * A walk reads one day file at a time on its own read connection (as the
 * queries do, store_query.c) with one read connection of meta.db for the
 * dictionaries; each profile row is rebuilt through the query side's
 * builder (srv_builder_*), so a copied profile merges to what a query of
 * it answers.  Series (labels, kind, service) are copied out of the store
 * under its lock once per walk (srv_select_series, which flushes first).
 *
 * Threads: as the queries: thread-safe, appends go on meanwhile (rows
 * committed after the walk read a day are not seen).
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* The series of the store (ids are index + 1) with labels, and their
 * kinds (copied under the lock: kinds[i] is series i + 1's). */
typedef struct wseries {
	qset qs;
	char **kinds;
	size_t n;
} wseries;

static void wseries_free(wseries *w)
{
	for (size_t i = 0; w->kinds && i < w->n; i++)
		free(w->kinds[i]);
	free(w->kinds);
	srv_qset_free(&w->qs);
}

static int wseries_load(sq_store *s, wseries *w, cprof_error *err)
{
	memset(w, 0, sizeof *w);
	int rc = srv_select_series(s, NULL, NULL, 0, 0, true, &w->qs, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	w->n = w->qs.n < s->nseries ? w->qs.n : s->nseries;
	w->kinds = calloc(w->n + 1, sizeof *w->kinds);
	for (size_t i = 0; w->kinds && i < w->n; i++)
		if (!(w->kinds[i] = strdup(s->series[i].kind)))
			rc = CPROF_ENOMEM;
	pthread_mutex_unlock(&s->mu);
	if (!w->kinds || rc) {
		wseries_free(w);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	return 0;
}

/* Series id's entry, or NULL (an id the store does not know). */
static const qseries *wseries_get(const wseries *w, int64_t id, const char **kind)
{
	if (id < 1 || (size_t)id > w->n || w->qs.v[id - 1].id != id)
		return NULL;
	*kind = w->kinds[id - 1];
	return &w->qs.v[id - 1];
}

/* One profile row (columns: series, time, duration, period, sig, samples)
 * rebuilt into a profile and handed to cb. */
static int walk_profile(sq_store *s, sqlite3 *meta, const wseries *w, sqlite3_stmt *st,
			srv_stored_cb cb, void *ctx, cprof_error *err)
{
	const char *kind;
	int64_t sid = sqlite3_column_int64(st, 0);
	const qseries *q = wseries_get(w, sid, &kind);
	if (!q)
		return 0;
	const void *sig = NULL;
	size_t sl = 0;
	int nv = srv_sig_resolve(s, st, 4, &sig, &sl) ? srv_sig_nv(sig, sl) : -1;
	if (nv < 0)
		return cprof_seterr(err, CPROF_EFORMAT, "store: a profile of series %lld is damaged",
				    (long long)sid);
	acc a;
	acc_init(&a, nv);
	cprof_profile *p = NULL;
	srv_builder *b = NULL;
	int rc = acc_add_packed(&a, sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5));
	if (rc)
		rc = cprof_seterr(err, rc, "store: a profile of series %lld is damaged",
				  (long long)sid);
	else if (!(b = srv_builder_new(meta, sig, sl, err)))
		rc = err && err->code ? err->code : CPROF_ENOMEM;
	if (!rc)
		rc = srv_builder_add(b, q->svc, &a, err);
	int64_t t = sqlite3_column_int64(st, 1), dur = sqlite3_column_int64(st, 2);
	if (!rc)
		rc = srv_builder_finish(b, t, dur, sqlite3_column_int64(st, 3), &p, err);
	if (!rc) {
		srv_stored it = { .kind = kind, .labels = &q->labels, .time_ns = t,
				  .duration_ns = dur, .p = p };
		rc = cb(ctx, &it);
	}
	cprof_profile_free(p);
	srv_builder_free(b);
	acc_free(&a);
	return rc;
}

/* Walk (full: decode profiles; else times only) the rows of [from, until)
 * in one day file. */
static int walk_day(sq_store *s, sqlite3 *meta, const wseries *w, int32_t day, int64_t from,
		    int64_t until, bool full, srv_stored_cb cb, void *ctx, cprof_error *err)
{
	char path[4096];
	srv_day_path(s, day, path, sizeof path);
	sqlite3 *db = NULL;
	int rc = srv_open_ro(path, &db, err);
	if (rc)
		return rc;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	static const char *const sql[2] = {
		"SELECT series, time, duration, period, sig, samples FROM profiles"
		" WHERE time>=?1 AND time<?2 ORDER BY time, id",
		"SELECT series, time, value FROM metrics WHERE time>=?1 AND time<?2"
		" ORDER BY time, rowid",
	};
	for (int k = 0; k < 2 && !rc; k++) {
		sqlite3_stmt *st = NULL;
		int sr = sqlite3_prepare_v2(db, sql[k], -1, &st, NULL);
		if (sr != SQLITE_OK) {
			rc = srv_sql_err(db, sr, "walk", err);
			break;
		}
		sqlite3_bind_int64(st, 1, from);
		sqlite3_bind_int64(st, 2, until);
		while (!rc && (sr = sqlite3_step(st)) == SQLITE_ROW) {
			if (k == 0 && full) {
				rc = walk_profile(s, meta, w, st, cb, ctx, err);
				continue;
			}
			const char *kind;
			const qseries *q = wseries_get(w, sqlite3_column_int64(st, 0), &kind);
			if (!q)
				continue;
			srv_stored it = { .kind = kind, .labels = &q->labels,
					  .time_ns = sqlite3_column_int64(st, 1) };
			if (k == 1 && full)
				it.value = sqlite3_column_double(st, 2);
			rc = cb(ctx, &it);
		}
		if (!rc && sr != SQLITE_DONE && sr != SQLITE_ROW)
			rc = srv_sql_err(db, sr, "walk", err);
		sqlite3_finalize(st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int walk(srv_store *base, int64_t from, int64_t until, bool full, srv_stored_cb cb,
		void *ctx, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	if (from < 0 || until < from)
		return cprof_seterr(err, CPROF_EINVAL, "store: bad range");
	wseries w;
	int32_t *days = NULL;
	size_t nd = 0;
	sqlite3 *meta = NULL;
	int rc = wseries_load(s, &w, err);
	if (rc)
		return rc;
	if (!(rc = srv_list_days(s, &days, &nd, err)) && full &&
	    !(rc = srv_open_meta(s, &meta, err)))
		sqlite3_exec(meta, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < nd && !rc; i++) {
		int64_t d0 = (int64_t)days[i] * DAY_NS, d1 = d0 + DAY_NS;
		if (d1 <= from || d0 >= until)
			continue;
		rc = walk_day(s, meta, &w, days[i], from > d0 ? from : d0, until < d1 ? until : d1,
			      full, cb, ctx, err);
	}
	if (meta) {
		sqlite3_exec(meta, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(meta);
	}
	free(days);
	wseries_free(&w);
	return rc;
}

int sq_walk(srv_store *base, int64_t from_ns, int64_t until_ns, srv_stored_cb cb, void *ctx,
	    cprof_error *err)
{
	return walk(base, from_ns, until_ns, true, cb, ctx, err);
}

int sq_times(srv_store *base, int64_t from_ns, int64_t until_ns, srv_stored_cb cb, void *ctx,
	     cprof_error *err)
{
	return walk(base, from_ns, until_ns, false, cb, ctx, err);
}

int sq_days(srv_store *base, int32_t **days, size_t *n, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	pthread_mutex_lock(&s->mu);
	int rc = s->broken ? 0 : srv_flush_locked(s, err);
	pthread_mutex_unlock(&s->mu);
	return rc ? rc : srv_list_days(s, days, n, err);
}
