/*
 * store_rollup.c - per-window rollups: the samples of each series summed
 * over 10 minutes, 10-minute rows summed over an hour, hours over a day,
 * so a range query reads one pre-merged row per series and window instead
 * of every profile (a week: 7 day rows per series, plus the hours and
 * 10-minute windows at its edges and raw profiles for the partial 10
 * minutes at each end).
 *
 * Exactness.  A rollup row holds, per series and sample-type signature,
 * the summed values of every (stack, lset) plus the number of profiles,
 * the summed durations, the first time and the largest period: exactly
 * what a range merge needs.  Sums of integers are exact, so a range made
 * of whole windows answered from rollups equals the answer from the raw
 * profiles (counters: the sums; gauges: the per-series sums divided by
 * the per-series profile counts, both kept exactly).
 *
 * When.  A 10-minute window is rolled up once a profile at least
 * ROLL_GRACE_NS past its end has been appended (data time, not wall time,
 * so replays and tests behave like live ingest); an hour or a day once
 * the windows under it are rolled and the same grace has passed.  A
 * profile that arrives late for a rolled window deletes that window's
 * rollups and its hour's and day's in the same transaction as its own
 * insert, and they are rolled up again later.
 *
 * Threads.  One rollup thread per store.  It reads committed data on its
 * own connections without the store's lock, and takes the lock only to
 * pick a window, to flush before reading, and to write its rows.  Each
 * touched 10-minute window carries a generation bumped by every append to
 * it; the thread writes a result only if the generation did not move (and,
 * for hours and days, no window under it was touched) while it read, so a
 * racing late append is never lost.
 *
 * Memory: one window's rows are built at a time (one accumulator per
 * series at a time, the packed rows of the window kept until written).
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int srv_roll_touch(sq_store *s, int64_t t, cprof_error *err)
{
	int64_t ts = t - t % TEN_NS, hs = t - t % HOUR_NS, ds = t - t % DAY_NS;
	uint64_t tk = wkey(ROLL_TEN, ts);
	if (u64map_get(&s->rolled, tk, NULL) || u64map_get(&s->rolled, wkey(ROLL_HOUR, hs), NULL) ||
	    u64map_get(&s->rolled, wkey(ROLL_DAY, ds), NULL)) {
		sday *d;
		int rc = srv_day_w(s, (int32_t)(t / DAY_NS), &d, err);
		if (rc)
			return rc;
		char sql[600];
		snprintf(sql, sizeof sql,
			 "DELETE FROM rollups WHERE (level=%d AND wstart=%lld) OR (level=%d AND wstart=%lld)"
			 " OR (level=%d AND wstart=%lld);"
			 "DELETE FROM rolled WHERE (level=%d AND wstart=%lld) OR (level=%d AND wstart=%lld)"
			 " OR (level=%d AND wstart=%lld);",
			 ROLL_TEN, (long long)ts, ROLL_HOUR, (long long)hs, ROLL_DAY, (long long)ds,
			 ROLL_TEN, (long long)ts, ROLL_HOUR, (long long)hs, ROLL_DAY, (long long)ds);
		rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return srv_sql_err(d->db, rc, "rollup invalidation", err);
		u64map_del(&s->rolled, tk);
		u64map_del(&s->rolled, wkey(ROLL_HOUR, hs));
		u64map_del(&s->rolled, wkey(ROLL_DAY, ds));
		s->wc_dirty = true;   /* the epoch moves once this commits */
	}
	uint32_t *gen;
	bool found;
	if (u64map_slot(&s->touched, tk, &gen, &found))
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	(*gen)++;
	return 0;
}

void srv_roll_forget_day(sq_store *s, int32_t day)
{
	int64_t ds = (int64_t)day * DAY_NS;
	for (int64_t t = ds; t < ds + DAY_NS; t += TEN_NS) {
		u64map_del(&s->rolled, wkey(ROLL_TEN, t));
		u64map_del(&s->touched, wkey(ROLL_TEN, t));
		if (t % HOUR_NS == 0)
			u64map_del(&s->rolled, wkey(ROLL_HOUR, t));
	}
	u64map_del(&s->rolled, wkey(ROLL_DAY, ds));
	s->wc_epoch++;                  /* cached windows of the day are gone */
	s->days_dropped++;
}

int srv_roll_load(sq_store *s, cprof_error *err)
{
	int32_t *days;
	size_t n;
	int rc = srv_list_days(s, &days, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		char path[4096];
		sqlite3 *db;
		srv_day_path(s, days[i], path, sizeof path);
		if ((rc = srv_db_open(path, false, &db, err)))
			break;
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, "SELECT level, wstart FROM rolled", -1, &st, NULL) ==
		    SQLITE_OK) {
			while (sqlite3_step(st) == SQLITE_ROW) {
				uint32_t *v;
				bool f;
				if (u64map_slot(&s->rolled, wkey(sqlite3_column_int(st, 0),
								  sqlite3_column_int64(st, 1)), &v, &f))
					rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
				else
					*v = 1;
			}
			sqlite3_finalize(st);
		}
		/* the 10-minute windows with profiles and no rollup yet */
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM profiles WHERE time>=?1 AND time<?2 LIMIT 1",
				       -1, &st, NULL) == SQLITE_OK) {
			int64_t ds = (int64_t)days[i] * DAY_NS;
			for (int64_t t = ds; t < ds + DAY_NS && !rc; t += TEN_NS) {
				if (u64map_get(&s->rolled, wkey(ROLL_TEN, t), NULL))
					continue;
				sqlite3_bind_int64(st, 1, t);
				sqlite3_bind_int64(st, 2, t + TEN_NS);
				bool has = sqlite3_step(st) == SQLITE_ROW;
				sqlite3_reset(st);
				if (has) {
					uint32_t *v;
					bool f;
					if (u64map_slot(&s->touched, wkey(ROLL_TEN, t), &v, &f))
						rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
					else
						*v = 1;
				}
			}
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
	}
	free(days);
	return rc;
}

/* One rollup row being built. */
typedef struct rrow {
	int64_t series;
	sbuf sig, samples, totals;
	acc a;
} rrow;

typedef struct rrows {
	rrow *v;
	size_t n, cap;
} rrows;

static void rrows_free(rrows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		sb_free(&r->v[i].sig);
		sb_free(&r->v[i].samples);
		sb_free(&r->v[i].totals);
		acc_free(&r->v[i].a);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* The row of (series, sig) among rows[from..), created when new. */
static rrow *row_for(rrows *r, size_t from, int64_t series, const void *sig, size_t siglen,
		     int nv)
{
	for (size_t i = from; i < r->n; i++)
		if (r->v[i].sig.n == siglen && memcmp(r->v[i].sig.p, sig, siglen) == 0)
			return &r->v[i];
	if (cprof_reserve((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v))
		return NULL;
	rrow *w = &r->v[r->n];
	memset(w, 0, sizeof *w);
	w->series = series;
	acc_init(&w->a, nv);
	sb_put(&w->sig, sig, siglen);
	if (w->sig.oom) {
		acc_free(&w->a);
		return NULL;
	}
	r->n++;
	return w;
}

/* Build the rows of window [ws, ws + wlen(level)) at level (from raw
 * profiles for 10-minute windows, from the level below otherwise),
 * reading day file db. */
static int build(sq_store *s, sqlite3 *db, int level, int64_t ws, rrows *out, cprof_error *err)
{
	char sql[300];
	if (level == ROLL_TEN)
		snprintf(sql, sizeof sql, "SELECT sig, 1, duration, time, period, samples FROM profiles"
			 " WHERE series=?1 AND time>=?2 AND time<?3");
	else
		snprintf(sql, sizeof sql, "SELECT sig, nprofiles, duration, tmin, period, samples"
			 " FROM rollups WHERE level=%d AND series=?1 AND wstart>=?2 AND wstart<?3",
			 level - 1);
	int64_t we = ws + wlen(level);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(db, rc, "rollup read", err);
	/* the series ids to visit (profile kinds only), copied under the lock */
	pthread_mutex_lock(&s->mu);
	size_t ns = s->nseries;
	int64_t *ids = malloc((ns + 1) * sizeof *ids);
	size_t k = 0;
	for (size_t i = 0; ids && i < ns; i++) {
		const sseries *ss = &s->series[i];
		if (ss->kind[0] != '#' && ss->last_ns >= ws && ss->first_ns < we)
			ids[k++] = ss->id;
	}
	pthread_mutex_unlock(&s->mu);
	if (!ids) {
		sqlite3_finalize(st);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	rc = 0;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < k && !rc; i++) {
		size_t first = out->n;
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, ws);
		sqlite3_bind_int64(st, 3, we);
		int sr;
		while (!rc && (sr = sqlite3_step(st)) == SQLITE_ROW) {
			const void *sig = NULL;
			size_t siglen = 0;
			int nv = srv_sig_resolve(s, st, 0, &sig, &siglen) ? srv_sig_nv(sig, siglen) : -1;
			rrow *w = nv < 0 ? NULL : row_for(out, first, ids[i], sig, siglen, nv);
			if (!w) {
				rc = cprof_seterr(err, nv < 0 ? CPROF_EFORMAT : CPROF_ENOMEM,
						  "store: rollup of series %lld failed", (long long)ids[i]);
				break;
			}
			w->a.nprofiles += (uint64_t)sqlite3_column_int64(st, 1);
			w->a.duration_sum += sqlite3_column_int64(st, 2);
			int64_t t = sqlite3_column_int64(st, 3), per = sqlite3_column_int64(st, 4);
			if (t < w->a.tmin)
				w->a.tmin = t;
			if (per > w->a.period)
				w->a.period = per;
			if (acc_add_packed(&w->a, sqlite3_column_blob(st, 5),
					   (size_t)sqlite3_column_bytes(st, 5)))
				rc = cprof_seterr(err, CPROF_EFORMAT, "store: broken samples in series %lld",
						  (long long)ids[i]);
		}
		sqlite3_reset(st);
		/* pack this series' rows now, so one accumulator lives at a time */
		for (size_t j = first; j < out->n && !rc; j++) {
			/* per-type totals (for series over time): the sums of
			 * the values, as each profile row keeps them */
			const acc *ac = &out->v[j].a;
			for (int x = 0; x < ac->nv; x++) {
				uint64_t t = 0;
				for (size_t r = 0; r < ac->n; r++)
					t += (uint64_t)ac->val[r * (size_t)ac->nv + (size_t)x];
				sb_sv(&out->v[j].totals, (int64_t)t);
			}
			if (acc_pack(&out->v[j].a, &out->v[j].samples) || out->v[j].totals.oom)
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			int64_t n = out->v[j].a.nprofiles, d = out->v[j].a.duration_sum;
			int64_t tm = out->v[j].a.tmin, pe = out->v[j].a.period;
			acc_free(&out->v[j].a);
			out->v[j].a.nprofiles = (uint64_t)n;
			out->v[j].a.duration_sum = d;
			out->v[j].a.tmin = tm;
			out->v[j].a.period = pe;
		}
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(st);
	free(ids);
	return rc;
}

/* Write rows and the window's mark (caller holds s->mu). */
static int write_rows(sq_store *s, int level, int64_t ws, const rrows *rows, cprof_error *err)
{
	sday *d;
	int rc = srv_day_w(s, (int32_t)(ws / DAY_NS), &d, err);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(d->db, "INSERT INTO rollups(level, wstart, series, sig, nprofiles,"
				" duration, tmin, period, samples, totals)"
				" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(d->db, rc, "rollup write", err);
	for (size_t i = 0; i < rows->n && !rc; i++) {
		const rrow *w = &rows->v[i];
		uint32_t sigid;
		if ((rc = srv_sig_id(s, &w->sig, &sigid, err)))
			break;
		sqlite3_bind_int(st, 1, level);
		sqlite3_bind_int64(st, 2, ws);
		sqlite3_bind_int64(st, 3, w->series);
		sqlite3_bind_int64(st, 4, sigid);
		sqlite3_bind_int64(st, 5, (int64_t)w->a.nprofiles);
		sqlite3_bind_int64(st, 6, w->a.duration_sum);
		sqlite3_bind_int64(st, 7, w->a.tmin);
		sqlite3_bind_int64(st, 8, w->a.period);
		sqlite3_bind_blob(st, 9, w->samples.p, (int)w->samples.n, SQLITE_STATIC);
		sqlite3_bind_blob(st, 10, w->totals.p, (int)w->totals.n, SQLITE_STATIC);
		int sr = sqlite3_step(st);
		sqlite3_reset(st);
		if (sr != SQLITE_DONE)
			rc = srv_sql_err(d->db, sr, "rollup write", err);
	}
	sqlite3_finalize(st);
	if (rc)
		return rc;
	char sql[120];
	snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO rolled(level, wstart) VALUES(%d, %lld)",
		 level, (long long)ws);
	if ((rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return srv_sql_err(d->db, rc, "rollup write", err);
	uint32_t *v;
	bool f;
	if (u64map_slot(&s->rolled, wkey(level, ws), &v, &f))
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	*v = 1;
	return 0;
}

/* Whether a 10-minute window in [ws, ws + len) is touched (has raw data
 * not rolled up). */
static bool any_touched(const sq_store *s, int64_t ws, int64_t len)
{
	for (int64_t t = ws; t < ws + len; t += TEN_NS)
		if (u64map_get(&s->touched, wkey(ROLL_TEN, t), NULL))
			return true;
	return false;
}

/* Whether window (level, ws) can be rolled up from the level below: past
 * the grace, not rolled, nothing under it touched, and every window of
 * the level below with data rolled (a 10-minute window rolled under an
 * hour not rolled yet holds a day back). */
static bool parent_due(const sq_store *s, int level, int64_t ws)
{
	if (ws + wlen(level) + ROLL_GRACE_NS > s->watermark ||
	    u64map_get(&s->rolled, wkey(level, ws), NULL) || any_touched(s, ws, wlen(level)))
		return false;
	if (level == ROLL_DAY)
		for (int64_t h = ws; h < ws + DAY_NS; h += HOUR_NS)
			if (!u64map_get(&s->rolled, wkey(ROLL_HOUR, h), NULL))
				for (int64_t t = h; t < h + HOUR_NS; t += TEN_NS)
					if (u64map_get(&s->rolled, wkey(ROLL_TEN, t), NULL))
						return false;
	return true;
}

/* Pick the next window to roll up (caller holds s->mu): a 10-minute
 * window past the grace, else an hour, else a day.  0: nothing to do. */
static int pick(sq_store *s, int64_t *ws, uint32_t *gen)
{
	int64_t best = INT64_MAX;
	for (size_t i = 0; i < s->touched.cap; i++) {
		uint64_t k = s->touched.k[i];
		if (!k)
			continue;
		int64_t t = wkey_start(k);
		if (t + TEN_NS + ROLL_GRACE_NS <= s->watermark && t < best) {
			best = t;
			*gen = s->touched.v[i];
		}
	}
	if (best != INT64_MAX) {
		*ws = best;
		return ROLL_TEN;
	}
	*gen = 0;
	for (int level = ROLL_HOUR; level <= ROLL_DAY; level++) {
		for (size_t i = 0; i < s->rolled.cap; i++) {
			uint64_t k = s->rolled.k[i];
			if (!k || wkey_level(k) != level - 1)
				continue;
			int64_t t = wkey_start(k), ps = t - t % wlen(level);
			if (parent_due(s, level, ps)) {
				*ws = ps;
				return level;
			}
		}
	}
	return 0;
}

/* Roll up one window if one is due (caller holds s->mu; the lock is
 * released while reading).  1: did one, 0: nothing due, <0: error. */
static int roll_one(sq_store *s, cprof_error *err)
{
	int64_t ws;
	uint32_t gen;
	int level = s->broken ? 0 : pick(s, &ws, &gen);
	if (!level)
		return 0;
	int rc = srv_flush_locked(s, err);
	uint64_t drops = s->days_dropped;
	pthread_mutex_unlock(&s->mu);
	rrows rows = { 0 };
	sqlite3 *db = NULL;
	char path[4096];
	srv_day_path(s, (int32_t)(ws / DAY_NS), path, sizeof path);
	if (!rc)
		rc = srv_open_ro(path, &db, err);      /* no schema work: a reader */
	if (!rc)
		rc = build(s, db, level, ws, &rows, err);
	sqlite3_close(db);
	pthread_mutex_lock(&s->mu);
	uint64_t tk = wkey(ROLL_TEN, ws);
	uint32_t now_gen = 0;
	bool same;
	if (level == ROLL_TEN)
		same = u64map_get(&s->touched, tk, &now_gen) && now_gen == gen;
	else
		same = !u64map_get(&s->rolled, wkey(level, ws), NULL) &&
		       !any_touched(s, ws, wlen(level));
	/* retention may have dropped this window's day meanwhile (and forgot
	 * its windows, so `same` holds): writing now would make the day's file
	 * again; the window is picked again if its day is still there */
	if (s->days_dropped != drops)
		same = false;
	if (!rc && same) {
		rc = write_rows(s, level, ws, &rows, err);
		if (!rc && level == ROLL_TEN)
			u64map_del(&s->touched, tk);
		if (!rc)
			rc = srv_flush_locked(s, err);
	}
	rrows_free(&rows);
	return rc ? rc : 1;
}

static void *roller(void *arg)
{
	sq_store *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		cprof_error err = { 0 };
		int rc = roll_one(s, &err);
		if (rc == 1)
			continue;
		/* nothing due, or a failure: wait (a failed window is retried
		 * later, never in a tight loop) */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += rc ? 5 : 1;
		pthread_cond_timedwait(&s->roll_cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int sq_rollup_sync(srv_store *base, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	int rc, n = 0;
	pthread_mutex_lock(&s->mu);
	while ((rc = roll_one(s, err)) == 1)
		n++;
	pthread_mutex_unlock(&s->mu);
	return rc < 0 ? rc : n;
}

int srv_roller_start(sq_store *s, cprof_error *err)
{
	int rc = pthread_create(&s->roller, NULL, roller, s);
	if (rc)
		return cprof_seterr(err, CPROF_EIO, "store: cannot start the rollup thread: %s",
				    strerror(rc));
	s->roller_started = true;
	return 0;
}

void srv_roller_stop(sq_store *s)
{
	if (!s->roller_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->roll_cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->roller, NULL);
	s->roller_started = false;
}
