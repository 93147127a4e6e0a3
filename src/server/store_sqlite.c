/*
 * store_sqlite.c - the SQLite store's write side: opening a store
 * directory, the schemas, series, appends, batching, flushes, retention.
 *
 * Files (see store_int.h): meta.db holds series, services, dictionaries
 * and pinned snapshots; one day-YYYYMMDD.db per UTC day holds that day's
 * profiles, rollups and metric points.  All are in WAL mode with
 * synchronous=NORMAL.
 *
 * Batching and crashes.  Appends go into open write transactions (one on
 * meta.db, one per day file touched) that a flush commits: meta.db first,
 * then the day files.  Each commit is atomic on its own file; the order
 * makes every committed profile refer only to committed dictionary entries
 * and series (a crash between the two commits leaves dictionary entries
 * no profile uses yet, which is harmless).  A `kill -9` therefore loses
 * the uncommitted batch and nothing else, and WAL recovery at the next
 * open needs no help from us.  A failed commit marks the store broken
 * (its in-memory dictionary would no longer match the file): appends are
 * refused until it is reopened.
 *
 * Threads and locks: one mutex (s->mu) guards every write connection,
 * the in-memory series table, the dictionary map and the batch.  Queries
 * (store_query.c) open their own read connections and take the mutex
 * only to flush before they read and to copy the series they need.  The
 * rollup thread (store_rollup.c) reads on its own connections and takes
 * the mutex to write its results.
 *
 * Memory: the in-memory state is the series table and one 12-byte map slot
 * per dictionary entry (about 24 bytes with the map's slack): it grows
 * with distinct stacks and series, not with samples.  A batch holds
 * nothing in memory (it is in SQLite's page cache and WAL).
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char META_SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS services(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
	" svc INTEGER NOT NULL, labels BLOB NOT NULL, first_ns INTEGER, last_ns INTEGER);"
	"CREATE TABLE IF NOT EXISTS dict(svc INTEGER NOT NULL, kind INTEGER NOT NULL,"
	" id INTEGER NOT NULL, hash INTEGER NOT NULL, data BLOB NOT NULL,"
	" PRIMARY KEY(svc, kind, id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sigs(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS dict_next(svc INTEGER NOT NULL, kind INTEGER NOT NULL,"
	" next INTEGER NOT NULL, PRIMARY KEY(svc, kind)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS pinned(id INTEGER PRIMARY KEY, rule TEXT NOT NULL,"
	" series INTEGER NOT NULL, time INTEGER NOT NULL, duration INTEGER, period INTEGER,"
	" sig BLOB, samples BLOB);";

static const char DAY_SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS profiles(id INTEGER PRIMARY KEY, series INTEGER NOT NULL,"
	" time INTEGER NOT NULL, duration INTEGER, period INTEGER, sig, totals BLOB,"
	" samples BLOB);"
	"CREATE INDEX IF NOT EXISTS profiles_st ON profiles(series, time);"
	"CREATE INDEX IF NOT EXISTS profiles_t ON profiles(time);"
	"CREATE TABLE IF NOT EXISTS rollups(id INTEGER PRIMARY KEY, level INTEGER NOT NULL,"
	" wstart INTEGER NOT NULL, series INTEGER NOT NULL, sig BLOB, nprofiles INTEGER,"
	" duration INTEGER, tmin INTEGER, period INTEGER, samples BLOB, totals BLOB);"
	"CREATE INDEX IF NOT EXISTS rollups_w ON rollups(level, series, wstart);"
	"CREATE TABLE IF NOT EXISTS rolled(level INTEGER NOT NULL, wstart INTEGER NOT NULL,"
	" PRIMARY KEY(level, wstart)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS metrics(series INTEGER NOT NULL, time INTEGER NOT NULL,"
	" value REAL);"
	"CREATE INDEX IF NOT EXISTS metrics_st ON metrics(series, time);";

int srv_sql_err(sqlite3 *db, int rc, const char *what, cprof_error *err)
{
	return cprof_seterr(err, rc == SQLITE_NOMEM ? CPROF_ENOMEM : CPROF_EIO, "store: %s: %s",
			    what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int srv_db_open(const char *path, bool meta, sqlite3 **out, cprof_error *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		cprof_seterr(err, CPROF_EIO, "store: cannot open %s: %s", path,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return CPROF_EIO;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		     " PRAGMA cache_size=-8192;", NULL, NULL, NULL);
	rc = sqlite3_exec(db, meta ? META_SCHEMA : DAY_SCHEMA, NULL, NULL, NULL);
	if (rc == SQLITE_OK && !meta) {
		/* day files written before rollups kept per-type totals: add
		 * the column (an error only says it is there already) */
		sqlite3_stmt *chk;
		if (sqlite3_prepare_v2(db, "SELECT totals FROM rollups LIMIT 0", -1, &chk, NULL) !=
		    SQLITE_OK)
			rc = sqlite3_exec(db, "ALTER TABLE rollups ADD COLUMN totals BLOB", NULL, NULL,
					  NULL);
		sqlite3_finalize(chk);
	}
	if (rc != SQLITE_OK) {
		cprof_seterr(err, CPROF_EIO, "store: %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return CPROF_EIO;
	}
	*out = db;
	return 0;
}

void srv_day_path(const sq_store *s, int32_t day, char *buf, size_t n)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, n, "%s/day-%04d%02d%02d.db", s->dir, tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return x < y ? -1 : x > y;
}

int srv_list_days(const sq_store *s, int32_t **out, size_t *n, cprof_error *err)
{
	DIR *d = opendir(s->dir);
	*out = NULL;
	*n = 0;
	if (!d)
		return cprof_seterr(err, CPROF_EIO, "store: %s: %s", s->dir, strerror(errno));
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		int y, m, dd;
		char tail[8];
		if (strlen(e->d_name) != 15 ||
		    sscanf(e->d_name, "day-%4d%2d%2d%3s", &y, &m, &dd, tail) != 4 ||
		    strcmp(tail, ".db") != 0)
			continue;
		struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = dd };
		time_t t = timegm(&tm);
		if (t < 0)
			continue;
		if (cprof_reserve((void **)out, &cap, *n + 1, sizeof **out)) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			break;
		}
		(*out)[(*n)++] = (int32_t)(t / 86400);
	}
	closedir(d);
	if (!rc && *n > 1)
		qsort(*out, *n, sizeof **out, cmp_i32);
	return rc;
}

static int meta_begin(sq_store *s, cprof_error *err);

/* ---- sample-type signatures ------------------------------------------------ */

static int sig_publish(sq_store *s, uint32_t id, const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	uint32_t *slot;
	bool found;
	if (!c || u64map_slot(&s->sig_idx, srv_hash_bytes(p, n, 0x51), &slot, &found)) {
		free(c);
		return CPROF_ENOMEM;
	}
	memcpy(c, p, n);
	*slot = id;
	s->sigp[id - 1] = c;
	s->sigl[id - 1] = n;
	__atomic_store_n(&s->nsig, (size_t)id, __ATOMIC_RELEASE);
	return 0;
}

int srv_sig_id(sq_store *s, const sbuf *sig, uint32_t *id, cprof_error *err)
{
	uint32_t v;
	if (u64map_get(&s->sig_idx, srv_hash_bytes(sig->p, sig->n, 0x51), &v)) {
		*id = v;
		return 0;
	}
	if (s->nsig >= SIGS_MAX)
		return cprof_seterr(err, CPROF_ELIMIT, "store: over %d distinct sets of sample types",
				    SIGS_MAX);
	int rc = meta_begin(s, err);
	if (rc)
		return rc;
	uint32_t nid = (uint32_t)s->nsig + 1;
	sqlite3_stmt *st = s->ins_sig;
	sqlite3_bind_int64(st, 1, nid);
	sqlite3_bind_blob(st, 2, sig->p, (int)sig->n, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return srv_sql_err(s->meta, rc, "signature insert", err);
	if (sig_publish(s, nid, sig->p, sig->n)) {
		s->broken = true;
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	*id = nid;
	return 0;
}

bool srv_sig_resolve(sq_store *s, sqlite3_stmt *st, int col, const void **p, size_t *n)
{
	if (sqlite3_column_type(st, col) == SQLITE_BLOB) {
		*p = sqlite3_column_blob(st, col);
		*n = (size_t)sqlite3_column_bytes(st, col);
		return true;
	}
	int64_t id = sqlite3_column_int64(st, col);
	size_t ns = __atomic_load_n(&s->nsig, __ATOMIC_ACQUIRE);
	if (id < 1 || (size_t)id > ns)
		return false;
	*p = s->sigp[id - 1];
	*n = s->sigl[id - 1];
	return true;
}

/* ---- series ---------------------------------------------------------------- */

static void labels_pack(const srv_labels *l, sbuf *b)
{
	sb_uv(b, l->n);
	for (size_t i = 0; i < l->n; i++) {
		sb_str(b, l->v[i].name, strlen(l->v[i].name));
		sb_str(b, l->v[i].value, strlen(l->v[i].value));
	}
}

static uint64_t series_hash(const char *kind, const void *lab, size_t n)
{
	return srv_hash_bytes(lab, n, srv_hash_bytes(kind, strlen(kind), 7));
}

/* Fill ss's labels from a packed label blob. */
static int series_set_labels(sseries *ss, const void *blob, size_t len)
{
	rd r = { blob, len, 0, false };
	uint64_t n = rd_uv(&r);
	if (r.bad || n > SRV_LABELS_MAX)
		return CPROF_EFORMAT;
	ss->block = malloc(len + 2 * n + 1);
	ss->lv = calloc(n + 1, sizeof *ss->lv);
	if (!ss->block || !ss->lv)
		return CPROF_ENOMEM;
	char *o = ss->block;
	for (uint64_t i = 0; i < n; i++) {
		size_t kl, vl;
		const char *k = rd_str(&r, &kl);
		const char *v = rd_str(&r, &vl);
		if (r.bad)
			return CPROF_EFORMAT;
		memcpy(o, k, kl);
		o[kl] = '\0';
		ss->lv[i].name = o;
		o += kl + 1;
		memcpy(o, v, vl);
		o[vl] = '\0';
		ss->lv[i].value = o;
		o += vl + 1;
	}
	ss->nl = n;
	return 0;
}

static void series_free_one(sseries *ss)
{
	free(ss->kind);
	free(ss->lv);
	free(ss->block);
}

/* Add a series to the in-memory table (id = index + 1 is required). */
static int series_add_mem(sq_store *s, int64_t id, const char *kind, uint32_t svc,
			  const void *lab, size_t len, int64_t first, int64_t last)
{
	if ((size_t)id != s->nseries + 1)
		return CPROF_EFORMAT;
	if (cprof_reserve((void **)&s->series, &s->capseries, s->nseries + 1, sizeof *s->series))
		return CPROF_ENOMEM;
	sseries *ss = &s->series[s->nseries];
	memset(ss, 0, sizeof *ss);
	ss->id = id;
	ss->svc = svc;
	ss->first_ns = first;
	ss->last_ns = last;
	int rc = (ss->kind = strdup(kind)) ? series_set_labels(ss, lab, len) : CPROF_ENOMEM;
	uint32_t *slot;
	bool found;
	if (!rc && u64map_slot(&s->series_idx, series_hash(kind, lab, len), &slot, &found))
		rc = CPROF_ENOMEM;
	if (rc) {
		series_free_one(ss);
		return rc;
	}
	*slot = (uint32_t)s->nseries + 1;
	s->nseries++;
	s->st.series = s->nseries;
	return 0;
}

static int svc_add_mem(sq_store *s, const char *name)
{
	if (cprof_reserve((void **)&s->svc_name, &s->capsvc, s->nsvc + 1, sizeof *s->svc_name))
		return CPROF_ENOMEM;
	size_t cap2 = s->nsvc;
	if (cprof_reserve((void **)&s->svc_next, &cap2, s->nsvc + 1, sizeof *s->svc_next))
		return CPROF_ENOMEM;
	if (!(s->svc_name[s->nsvc] = strdup(name)))
		return CPROF_ENOMEM;
	memset(s->svc_next[s->nsvc], 0, sizeof s->svc_next[s->nsvc]);
	s->nsvc++;
	return 0;
}

static int meta_begin(sq_store *s, cprof_error *err)
{
	if (s->meta_in_tx)
		return 0;
	int rc = sqlite3_exec(s->meta, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(s->meta, rc, "begin", err);
	s->meta_in_tx = true;
	return 0;
}

/* The service of a label set: service_name, else job, else "". */
static int svc_of(sq_store *s, const srv_labels *l, uint32_t *out, cprof_error *err)
{
	const char *name = srv_labels_get(l, "service_name");
	if (!name)
		name = srv_labels_get(l, "job");
	if (!name)
		name = "";
	for (size_t i = 0; i < s->nsvc; i++)
		if (strcmp(s->svc_name[i], name) == 0) {
			*out = (uint32_t)i + 1;
			return 0;
		}
	int rc = meta_begin(s, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = s->ins_svc;
	sqlite3_bind_int64(st, 1, (int64_t)s->nsvc + 1);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return srv_sql_err(s->meta, rc, "service insert", err);
	if (svc_add_mem(s, name))
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	*out = (uint32_t)s->nsvc;
	return 0;
}

/* The series (kind, labels), created when new.  Caller holds s->mu. */
static int series_get(sq_store *s, const char *kind, const srv_labels *l, sseries **out,
		      cprof_error *err)
{
	sbuf b = { 0 };
	labels_pack(l, &b);
	if (b.oom) {
		sb_free(&b);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	uint32_t idx;
	int rc = 0;
	if (u64map_get(&s->series_idx, series_hash(kind, b.p, b.n), &idx)) {
		*out = &s->series[idx - 1];
		goto done;
	}
	if (s->nseries >= s->o.max_series) {
		rc = cprof_seterr(err, CPROF_ELIMIT, "store: %zu series, the limit (max_series)",
				  s->nseries);
		goto done;
	}
	uint32_t svc = 0;
	if ((rc = svc_of(s, l, &svc, err)) || (rc = meta_begin(s, err)))
		goto done;
	sqlite3_stmt *st = s->ins_series;
	int64_t id = (int64_t)s->nseries + 1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, svc);
	sqlite3_bind_blob(st, 4, b.p, (int)b.n, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	sqlite3_reset(st);
	if (sr != SQLITE_DONE) {
		rc = srv_sql_err(s->meta, sr, "series insert", err);
		goto done;
	}
	if (series_add_mem(s, id, kind, svc, b.p, b.n, INT64_MAX, INT64_MIN)) {
		s->broken = true;
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto done;
	}
	*out = &s->series[s->nseries - 1];
done:
	sb_free(&b);
	return rc;
}

/* ---- day partitions ------------------------------------------------------------ */

static void day_close(sday *d)
{
	sqlite3_finalize(d->ins_profile);
	sqlite3_finalize(d->ins_metric);
	sqlite3_close(d->db);
	memset(d, 0, sizeof *d);
}

int srv_day_w(sq_store *s, int32_t day, sday **out, cprof_error *err)
{
	int slot = -1, lru = 0;
	for (int i = 0; i < MAX_OPEN_DAYS; i++) {
		if (s->days[i].db && s->days[i].day == day)
			slot = i;
		if (s->day_use[i] < s->day_use[lru])
			lru = i;
	}
	if (slot < 0) {
		for (int i = 0; i < MAX_OPEN_DAYS && slot < 0; i++)
			if (!s->days[i].db)
				slot = i;
		if (slot < 0) {
			/* evicting a day with a transaction: commit in order first */
			int rc = srv_flush_locked(s, err);
			if (rc)
				return rc;
			slot = lru;
			day_close(&s->days[slot]);
		}
		char path[4096];
		srv_day_path(s, day, path, sizeof path);
		sday *d = &s->days[slot];
		int rc = srv_db_open(path, false, &d->db, err);
		if (rc)
			return rc;
		d->day = day;
		if (sqlite3_prepare_v2(d->db, "INSERT INTO profiles(series, time, duration, period,"
				       " sig, totals, samples) VALUES(?1,?2,?3,?4,?5,?6,?7)", -1,
				       &d->ins_profile, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(d->db, "INSERT INTO metrics(series, time, value)"
				       " VALUES(?1,?2,?3)", -1, &d->ins_metric, NULL) != SQLITE_OK) {
			rc = srv_sql_err(d->db, SQLITE_ERROR, "prepare", err);
			day_close(d);
			return rc;
		}
	}
	sday *d = &s->days[slot];
	s->day_use[slot] = ++s->use_clock;
	if (!d->in_tx) {
		int rc = sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return srv_sql_err(d->db, rc, "begin", err);
		d->in_tx = true;
	}
	*out = d;
	return 0;
}

/* ---- flush ------------------------------------------------------------------------- */

int srv_flush_locked(sq_store *s, cprof_error *err)
{
	if (s->broken)
		return cprof_seterr(err, CPROF_EIO, "store: an earlier commit failed; reopen the store");
	/* series' first/last times ride in the meta transaction */
	for (size_t i = 0; i < s->nseries; i++) {
		sseries *ss = &s->series[i];
		if (!ss->dirty)
			continue;
		int rc = meta_begin(s, err);
		if (rc)
			return rc;
		sqlite3_stmt *st = s->upd_series;
		sqlite3_bind_int64(st, 1, ss->first_ns);
		sqlite3_bind_int64(st, 2, ss->last_ns);
		sqlite3_bind_int64(st, 3, ss->id);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return srv_sql_err(s->meta, rc, "series update", err);
		ss->dirty = false;
	}
	if (s->meta_in_tx) {
		int rc = sqlite3_exec(s->meta, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			s->broken = true;
			return srv_sql_err(s->meta, rc, "commit", err);
		}
		s->meta_in_tx = false;
	}
	for (int i = 0; i < MAX_OPEN_DAYS; i++) {
		sday *d = &s->days[i];
		if (!d->db || !d->in_tx)
			continue;
		int rc = sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			s->broken = true;
			return srv_sql_err(d->db, rc, "commit", err);
		}
		d->in_tx = false;
	}
	if (s->wc_dirty) {
		/* a late profile's deletion of rolled-up rows is committed:
		 * the cached windows built before are stale (store_wcache.c) */
		s->wc_epoch++;
		s->wc_dirty = false;
	}
	s->pending = 0;
	s->st.pending = 0;
	return 0;
}

int sq_flush(srv_store *base, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	pthread_mutex_lock(&s->mu);
	int rc = srv_flush_locked(s, err);
	pthread_mutex_unlock(&s->mu);
	if (!rc)
		pthread_cond_signal(&s->roll_cv);
	return rc;
}

/* After an append: flush when the batch is full or old. */
static int maybe_flush(sq_store *s, cprof_error *err)
{
	if (s->pending == 1)
		s->pending_since = mono_ns();
	if (s->pending >= s->o.batch_profiles || mono_ns() - s->pending_since >= s->o.batch_ns) {
		int rc = srv_flush_locked(s, err);
		pthread_cond_signal(&s->roll_cv);
		return rc;
	}
	return 0;
}

/* ---- appends ------------------------------------------------------------------------ */

/* Check labels (NULL becomes the empty set). */
static int check_labels(const srv_labels **lp, cprof_error *err)
{
	static const srv_labels none = { NULL, 0 };
	if (!*lp)
		*lp = &none;
	const srv_labels *l = *lp;
	if (l->n > SRV_LABELS_MAX)
		return cprof_seterr(err, CPROF_EINVAL, "%zu labels: at most %d", l->n, SRV_LABELS_MAX);
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].name || !l->v[i].value || !*l->v[i].name ||
		    strlen(l->v[i].name) > SRV_LABEL_NAME_MAX ||
		    strlen(l->v[i].value) > SRV_LABEL_VALUE_MAX)
			return cprof_seterr(err, CPROF_EINVAL, "bad label %zu", i);
		if (i && strcmp(l->v[i - 1].name, l->v[i].name) >= 0)
			return cprof_seterr(err, CPROF_EINVAL, "labels not sorted or repeated at %s",
					    l->v[i].name);
	}
	return 0;
}

static void series_saw(sseries *ss, int64_t t)
{
	if (t < ss->first_ns) {
		ss->first_ns = t;
		ss->dirty = true;
	}
	if (t > ss->last_ns) {
		ss->last_ns = t;
		ss->dirty = true;
	}
}

int sq_append(srv_store *base, const srv_labels *labels, const char *kind, int64_t time_ns,
		     int64_t duration_ns, const cprof_profile *p, const char *pinned_rule,
		     cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	int rc = check_labels(&labels, err);
	if (rc)
		return rc;
	if ((rc = srv_append_args(kind, time_ns, duration_ns, p, s->o.max_samples, err)))
		return rc;
	sbuf blob = { 0 }, totals = { 0 }, sig = { 0 };
	if (srv_vtypes_sig(p, &sig))
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	pthread_mutex_lock(&s->mu);
	sseries *ss;
	size_t nsamples = 0;
	if (s->broken) {
		rc = cprof_seterr(err, CPROF_EIO, "store: an earlier commit failed; reopen the store");
		goto out;
	}
	if ((rc = series_get(s, kind, labels, &ss, err)) || (rc = meta_begin(s, err)))
		goto out;
	uint32_t svc = ss->svc, sigid = 0;
	if ((rc = srv_sig_id(s, &sig, &sigid, err)) ||
	    (rc = srv_dict_encode(s, svc, p, &blob, &totals, &nsamples, err)))
		goto out;
	/* pinned: (rule, series, time, duration, period, sig, samples);
	 * profiles: (series, time, duration, period, sig, totals, samples) */
	sqlite3_stmt *st;
	sqlite3 *db;
	int at = 1;                     /* where the columns both have start */
	if (pinned_rule) {
		st = s->ins_pinned;
		db = s->meta;
		sqlite3_bind_text(st, at++, pinned_rule, -1, SQLITE_STATIC);
	} else {
		sday *d;
		if ((rc = srv_day_w(s, (int32_t)(time_ns / DAY_NS), &d, err)))
			goto out;
		if ((rc = srv_roll_touch(s, time_ns, err)))
			goto out;
		st = d->ins_profile;
		db = d->db;
		sqlite3_bind_blob(st, 6, totals.p, (int)totals.n, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, at, ss->id);
	sqlite3_bind_int64(st, at + 1, time_ns);
	sqlite3_bind_int64(st, at + 2, duration_ns);
	sqlite3_bind_int64(st, at + 3, p->period);
	sqlite3_bind_int64(st, at + 4, sigid);
	sqlite3_bind_blob(st, 7, blob.p, (int)blob.n, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	sqlite3_reset(st);
	if (sr != SQLITE_DONE) {
		rc = srv_sql_err(db, sr, "profile insert", err);
		goto out;
	}
	if (!pinned_rule) {
		series_saw(ss, time_ns);
		if (time_ns > s->watermark)
			s->watermark = time_ns;
		s->st.profiles++;
		s->st.samples += nsamples;
	}
	s->pending++;
	s->st.pending = s->pending;
	rc = maybe_flush(s, err);
out:
	pthread_mutex_unlock(&s->mu);
	sb_free(&blob);
	sb_free(&totals);
	sb_free(&sig);
	return rc;
}

int sq_append_metric(srv_store *base, const srv_labels *labels, const char *kind,
			    int64_t time_ns, double value, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	int rc = check_labels(&labels, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	sseries *ss;
	sday *d;
	if (s->broken)
		rc = cprof_seterr(err, CPROF_EIO, "store: an earlier commit failed; reopen the store");
	if (!rc && !(rc = series_get(s, kind, labels, &ss, err)) &&
	    !(rc = srv_day_w(s, (int32_t)(time_ns / DAY_NS), &d, err))) {
		sqlite3_stmt *st = d->ins_metric;
		sqlite3_bind_int64(st, 1, ss->id);
		sqlite3_bind_int64(st, 2, time_ns);
		sqlite3_bind_double(st, 3, value);
		int sr = sqlite3_step(st);
		sqlite3_reset(st);
		if (sr != SQLITE_DONE) {
			rc = srv_sql_err(d->db, sr, "metric insert", err);
		} else {
			series_saw(ss, time_ns);
			s->pending++;
			s->st.pending = s->pending;
			rc = maybe_flush(s, err);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- open / close --------------------------------------------------------------------- */

static int load_meta(sq_store *s, cprof_error *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->meta, "SELECT id, data FROM sigs ORDER BY id", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(s->meta, rc, "load", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (id != (int64_t)s->nsig + 1 || id > SIGS_MAX ||
		    sig_publish(s, (uint32_t)id, sqlite3_column_blob(st, 1),
				(size_t)sqlite3_column_bytes(st, 1))) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: signatures table damaged");
		}
	}
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(s->meta, "SELECT id, name FROM services ORDER BY id", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(s->meta, rc, "load", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != (int64_t)s->nsvc + 1 ||
		    svc_add_mem(s, (const char *)sqlite3_column_text(st, 1))) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: services table damaged");
		}
	}
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(s->meta, "SELECT id, kind, svc, labels, first_ns, last_ns"
				" FROM series ORDER BY id", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(s->meta, rc, "load", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t first = sqlite3_column_type(st, 4) == SQLITE_NULL ? INT64_MAX
									    : sqlite3_column_int64(st, 4);
		int64_t last = sqlite3_column_type(st, 5) == SQLITE_NULL ? INT64_MIN
									   : sqlite3_column_int64(st, 5);
		if (series_add_mem(s, sqlite3_column_int64(st, 0),
				   (const char *)sqlite3_column_text(st, 1),
				   (uint32_t)sqlite3_column_int64(st, 2), sqlite3_column_blob(st, 3),
				   (size_t)sqlite3_column_bytes(st, 3), first, last)) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: series table damaged");
		}
		if (last > s->watermark && strncmp(s->series[s->nseries - 1].kind, "#", 1))
			s->watermark = last;
	}
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(s->meta, "SELECT svc, kind, id, hash FROM dict", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(s->meta, rc, "load", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t svc = sqlite3_column_int64(st, 0), kind = sqlite3_column_int64(st, 1);
		int64_t id = sqlite3_column_int64(st, 2);
		uint64_t h = (uint64_t)sqlite3_column_int64(st, 3);
		if (svc < 1 || (size_t)svc > s->nsvc || kind < 0 || kind >= DICT_KINDS || id < 1 ||
		    id > UINT32_MAX) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: dictionary damaged");
		}
		uint32_t *slot;
		bool found;
		if (u64map_slot(&s->dict, h, &slot, &found)) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		}
		*slot = (uint32_t)id;
		if ((uint32_t)id > s->svc_next[svc - 1][kind])
			s->svc_next[svc - 1][kind] = (uint32_t)id;
		if (kind == DICT_STACK)
			s->st.stacks++;
	}
	sqlite3_finalize(st);
	/* ids handed out before a dictionary collection deleted them
	 * (store_gc.c): never handed out again */
	rc = sqlite3_prepare_v2(s->meta, "SELECT svc, kind, next FROM dict_next", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(s->meta, rc, "load", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t svc = sqlite3_column_int64(st, 0), kind = sqlite3_column_int64(st, 1);
		int64_t next = sqlite3_column_int64(st, 2);
		if (svc >= 1 && (size_t)svc <= s->nsvc && kind >= 0 && kind < DICT_KINDS &&
		    next > 0 && next <= UINT32_MAX && (uint32_t)next > s->svc_next[svc - 1][kind])
			s->svc_next[svc - 1][kind] = (uint32_t)next;
	}
	sqlite3_finalize(st);
	return 0;
}

static int prepare_meta(sq_store *s, cprof_error *err)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
		{ offsetof(sq_store, ins_series),
		  "INSERT INTO series(id, kind, svc, labels) VALUES(?1,?2,?3,?4)" },
		{ offsetof(sq_store, upd_series),
		  "UPDATE series SET first_ns=?1, last_ns=?2 WHERE id=?3" },
		{ offsetof(sq_store, ins_svc), "INSERT INTO services(id, name) VALUES(?1,?2)" },
		{ offsetof(sq_store, ins_sig), "INSERT INTO sigs(id, data) VALUES(?1,?2)" },
		{ offsetof(sq_store, ins_dict),
		  "INSERT OR REPLACE INTO dict(svc, kind, id, hash, data) VALUES(?1,?2,?3,?4,?5)" },
		{ offsetof(sq_store, ins_pinned),
		  "INSERT INTO pinned(rule, series, time, duration, period, sig, samples)"
		  " VALUES(?1,?2,?3,?4,?5,?6,?7)" },
	};
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
		sqlite3_stmt **p = (sqlite3_stmt **)((char *)s + stmts[i].off);
		int rc = sqlite3_prepare_v2(s->meta, stmts[i].sql, -1, p, NULL);
		if (rc != SQLITE_OK)
			return srv_sql_err(s->meta, rc, "prepare", err);
	}
	return 0;
}

int srv_sqlite_open(const char *dir, const srv_store_opts *opts, srv_store **out,
		    cprof_error *err)
{
	*out = NULL;
	sq_store *s = calloc(1, sizeof *s);
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	s->base.ops = &sq_ops;
	s->lockfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->roll_cv, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	if (opts)
		s->o = *opts;
	if (!s->o.batch_profiles)
		s->o.batch_profiles = 256;
	if (s->o.batch_ns <= 0)
		s->o.batch_ns = 1000000000;
	if (!s->o.max_series)
		s->o.max_series = 1000000;
	if (!s->o.max_samples)
		s->o.max_samples = 1000000;
	int rc = 0;
	if (!s->o.no_rollups && !s->o.no_query_cache &&
	    (!(s->wc = wc_new(s->o.query_cache_bytes ? s->o.query_cache_bytes : WC_DEFAULT_BYTES)) ||
	     !(s->dc = dc_new(DC_DEFAULT_BYTES)))) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto fail;
	}
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rc = cprof_seterr(err, CPROF_EIO, "store: cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/LOCK", dir);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lockfd < 0) {
		rc = cprof_seterr(err, CPROF_EIO, "store: %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = cprof_seterr(err, CPROF_EIO, "store: %s is in use by another process", dir);
		goto fail;
	}
	snprintf(path, sizeof path, "%s/meta.db", dir);
	if ((rc = srv_db_open(path, true, &s->meta, err)) || (rc = prepare_meta(s, err)) ||
	    (rc = load_meta(s, err)) || (rc = srv_roll_load(s, err)))
		goto fail;
	if (!s->o.no_rollups && (rc = srv_roller_start(s, err)))
		goto fail;
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return rc;
}

void sq_close(srv_store *base)
{
	sq_store *s = (sq_store *)base;
	srv_roller_stop(s);
	pthread_mutex_lock(&s->mu);
	if (s->meta)
		srv_flush_locked(s, NULL);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < MAX_OPEN_DAYS; i++)
		if (s->days[i].db)
			day_close(&s->days[i]);
	sqlite3_finalize(s->ins_series);
	sqlite3_finalize(s->upd_series);
	sqlite3_finalize(s->ins_svc);
	sqlite3_finalize(s->ins_dict);
	sqlite3_finalize(s->ins_pinned);
	sqlite3_finalize(s->ins_sig);
	sqlite3_close(s->meta);
	for (size_t i = 0; i < s->nsig; i++)
		free(s->sigp[i]);
	u64map_free(&s->sig_idx);
	for (size_t i = 0; i < s->nseries; i++)
		series_free_one(&s->series[i]);
	free(s->series);
	u64map_free(&s->series_idx);
	for (size_t i = 0; i < s->nsvc; i++)
		free(s->svc_name[i]);
	free(s->svc_name);
	free(s->svc_next);
	u64map_free(&s->dict);
	u64map_free(&s->gc_touched);
	u64map_free(&s->rolled);
	u64map_free(&s->touched);
	wc_free(s->wc);
	dc_free(s->dc);
	srv_pool_close(s);
	pthread_mutex_destroy(&s->pool_mu);
	if (s->lockfd >= 0)
		close(s->lockfd);       /* releases the flock */
	pthread_cond_destroy(&s->roll_cv);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}

/* ---- retention and stats --------------------------------------------------------------- */

int sq_retention(srv_store *base, int64_t now_ns, cprof_error *err)
{
	sq_store *s = (sq_store *)base;
	if (s->o.retention_ns <= 0)
		return 0;
	int32_t *days;
	size_t n;
	int rc = srv_list_days(s, &days, &n, err);
	if (rc)
		return rc;
	int64_t cutoff = now_ns - s->o.retention_ns;
	int dropped = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		if (((int64_t)days[i] + 1) * DAY_NS > cutoff)
			continue;
		for (int k = 0; k < MAX_OPEN_DAYS; k++) {
			if (s->days[k].db && s->days[k].day == days[i]) {
				if ((rc = srv_flush_locked(s, err)))
					goto out;
				day_close(&s->days[k]);
			}
		}
		char path[4096], side[4200];
		srv_day_path(s, days[i], path, sizeof path);
		if (unlink(path) != 0 && errno != ENOENT) {
			rc = cprof_seterr(err, CPROF_EIO, "store: cannot remove %s: %s", path,
					  strerror(errno));
			goto out;
		}
		snprintf(side, sizeof side, "%s-wal", path);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", path);
		unlink(side);
		srv_roll_forget_day(s, days[i]);
		srv_pool_forget_day(s, days[i]);
		dropped++;
	}
	/* the dictionary entries only the dropped days referenced */
	size_t ndel;
	if (dropped)
		rc = srv_dict_gc(s, &ndel, err);
out:
	pthread_mutex_unlock(&s->mu);
	free(days);
	return rc ? rc : dropped;
}

void sq_get_stats(srv_store *base, srv_store_stats *st)
{
	sq_store *s = (sq_store *)base;
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
	if (s->wc) {
		size_t b;
		wc_counts(s->wc, &st->cache_hits, &st->cache_misses, &st->cache_evictions, &b);
		st->cache_bytes = b;
	}
	st->disk_bytes = 0;
	DIR *d = opendir(s->dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[4096];
		struct stat sb;
		snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
		if (e->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			st->disk_bytes += (uint64_t)sb.st_size;
	}
	closedir(d);
}

const srv_store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.append = sq_append,
	.append_metric = sq_append_metric,
	.flush = sq_flush,
	.query = sq_query,
	.series = sq_series,
	.metric_series = sq_metric_series,
	.listing = sq_listing,
	.snapshots = sq_snapshots,
	.snapshot_get = sq_snapshot_get,
	.retention = sq_retention,
	.rollup_sync = sq_rollup_sync,
	.stats = sq_get_stats,
	.walk = sq_walk,
	.times = sq_times,
	.days = sq_days,
};
