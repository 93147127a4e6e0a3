/*
 * store_gc.c - the SQLite store's dictionary collection: after retention
 * has dropped days, the dictionary entries (stacks, label sets,
 * locations, functions, mappings of meta.db's dict table) that no
 * remaining day's profiles or rollups and no pinned snapshot reference
 * any more are deleted, and forgotten by the ingest map (s->dict).
 *
 * Three phases.  1, under the store's lock: flush, list the day files,
 * copy each series' service and each service's next ids (every entry
 * made later has a larger id, and is kept), and start recording the
 * entries ingest finds in its map (s->gc_touched).  2, without the lock:
 * mark the stacks and label sets of every listed day's profiles and
 * rollups rows and of meta.db's pinned rows (read-only connections of
 * its own, each one read snapshot), then the marked stacks' locations,
 * then those locations' mappings and functions.  3, under the lock
 * again: flush, and delete in one meta.db transaction every entry below
 * the copied next ids that is neither marked nor recorded; stop
 * recording.  A row appended after phase 1 either is in the snapshot
 * phase 2 reads or went through the map, which recorded every entry it
 * names (ingest looks up every mapping, function, location and stack of
 * a profile, so a recorded stack's locations are recorded too).
 *
 * Invariants: ids are never reused.  A service's next id per kind is the
 * largest id ever handed out: dict_next(svc, kind, next) records it
 * before any entry is deleted, and the store's load takes the larger of
 * it and the largest id left in dict, so an id a query may still hold
 * can only ever name the entry it named (a query reading a day dropped
 * under it may find an entry gone and fail; it never gets another one).
 *
 * Threads: srv_dict_gc is called with the store's lock held and releases
 * it during phase 2 (appends and queries go on); one collection at a time
 * (a second call meanwhile returns at once).
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* Marks per (service, kind): bit i set = id i is referenced. */
typedef struct marks {
	uint8_t **m;                    /* [svc index * DICT_KINDS + kind] */
	size_t nsvc;
	uint32_t (*next)[DICT_KINDS];   /* the next ids at phase 1 */
	uint32_t *svc_of;               /* series id - 1 -> service (phase 1) */
	size_t nseries;
} marks;

static void mark(marks *k, uint32_t svc, int kind, uint64_t id)
{
	if (svc < 1 || svc > k->nsvc || id == 0 || id > k->next[svc - 1][kind])
		return;
	uint8_t *b = k->m[(svc - 1) * DICT_KINDS + (size_t)kind];
	b[id >> 3] |= (uint8_t)(1u << (id & 7));
}

static bool marked(const marks *k, uint32_t svc, int kind, uint64_t id)
{
	if (svc < 1 || svc > k->nsvc || id > k->next[svc - 1][kind])
		return true;            /* unknown or newer: keep */
	const uint8_t *b = k->m[(svc - 1) * DICT_KINDS + (size_t)kind];
	return (b[id >> 3] >> (id & 7)) & 1;
}

/* Mark the stacks and label sets of every (series, sig, samples) row of
 * sql on db. */
static int mark_rows(sq_store *s, sqlite3 *db, const char *sql, marks *k, cprof_error *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(db, rc, "dictionary collection", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t series = sqlite3_column_int64(st, 0);
		const void *sig;
		size_t sl;
		if ((size_t)series > k->nseries && series > 0)
			continue;       /* a series newer than phase 1: its rows' entries
					 * are recorded or newer, so kept */
		if (series < 1 || !srv_sig_resolve(s, st, 1, &sig, &sl)) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: a row names an unknown"
					    " series or signature: dictionary not collected");
		}
		uint32_t svc = k->svc_of[series - 1];
		int nv = srv_sig_nv(sig, sl);
		rd r = { sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), 0, false };
		uint64_t n = r.n ? rd_uv(&r) : 0, stack = 0;
		for (int x = 0; x < nv && n; x++)
			rd_uv(&r);
		for (uint64_t i = 0; i < n && !r.bad && nv >= 0; i++) {
			stack += rd_uv(&r);
			mark(k, svc, DICT_STACK, stack);
			mark(k, svc, DICT_LSET, rd_uv(&r));
			for (int x = 0; x < nv; x++)
				rd_sv(&r);
		}
		if (r.bad || nv < 0) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: a damaged samples row:"
					    " dictionary not collected");
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : srv_sql_err(db, rc, "dictionary collection", err);
}

/* Mark what the marked entries of kind reference (stacks: locations;
 * locations: mappings and functions). */
static int mark_refs(sqlite3 *db, int kind, marks *k, cprof_error *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT svc, id, data FROM dict WHERE kind = ?", -1, &st,
				    NULL);
	if (rc != SQLITE_OK)
		return srv_sql_err(db, rc, "dictionary collection", err);
	sqlite3_bind_int(st, 1, kind);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t svc = (uint32_t)sqlite3_column_int64(st, 0);
		int64_t id = sqlite3_column_int64(st, 1);
		if (!marked(k, svc, kind, (uint64_t)id))
			continue;
		rd r = { sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), 0, false };
		if (kind == DICT_STACK) {
			uint64_t n = rd_uv(&r);
			for (uint64_t i = 0; i < n && !r.bad; i++)
				mark(k, svc, DICT_LOC, rd_uv(&r));
		} else {
			mark(k, svc, DICT_MAP, rd_uv(&r));
			rd_uv(&r);      /* address */
			rd_uv(&r);      /* folded */
			uint64_t n = rd_uv(&r);
			for (uint64_t i = 0; i < n && !r.bad; i++) {
				mark(k, svc, DICT_FUNC, rd_uv(&r));
				rd_sv(&r);
				rd_sv(&r);
			}
		}
		if (r.bad) {
			sqlite3_finalize(st);
			return cprof_seterr(err, CPROF_EFORMAT, "store: a damaged dictionary entry:"
					    " dictionary not collected");
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : srv_sql_err(db, rc, "dictionary collection", err);
}

/* Record every service's next ids, then delete the entries not marked. */
static int sweep(sq_store *s, const marks *k, size_t *ndel, cprof_error *err)
{
	sqlite3_stmt *nx = NULL, *sel = NULL, *del = NULL;
	int rc = sqlite3_exec(s->meta, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->meta, "INSERT OR REPLACE INTO dict_next(svc, kind, next)"
					" VALUES (?, ?, ?)", -1, &nx, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->meta, "SELECT svc, kind, id, hash FROM dict", -1, &sel,
					NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->meta, "DELETE FROM dict WHERE svc = ? AND kind = ? AND"
					" id = ?", -1, &del, NULL);
	for (size_t v = 0; v < s->nsvc && rc == SQLITE_OK; v++)
		for (int kind = 0; kind < DICT_KINDS && rc == SQLITE_OK; kind++) {
			sqlite3_bind_int64(nx, 1, (int64_t)v + 1);
			sqlite3_bind_int(nx, 2, kind);
			sqlite3_bind_int64(nx, 3, s->svc_next[v][kind]);
			rc = sqlite3_step(nx);
			sqlite3_reset(nx);
			if (rc == SQLITE_DONE)
				rc = SQLITE_OK;
		}
	/* the victims first (deleting while stepping the same table's
	 * cursor is undefined), then the deletes */
	uint64_t *vic = NULL;           /* svc << 40 | kind << 32 | id, and hash */
	size_t nv = 0, cap = 0;
	int step = rc == SQLITE_OK ? SQLITE_ROW : rc;
	while (step == SQLITE_ROW && (step = sqlite3_step(sel)) == SQLITE_ROW) {
		uint32_t svc = (uint32_t)sqlite3_column_int64(sel, 0);
		int kind = sqlite3_column_int(sel, 1);
		int64_t id = sqlite3_column_int64(sel, 2);
		uint32_t t;
		if (kind < 0 || kind >= DICT_KINDS || marked(k, svc, kind, (uint64_t)id) ||
		    u64map_get(&s->gc_touched, (uint64_t)svc << 40 | (uint64_t)kind << 32 |
						       (uint32_t)id, &t))
			continue;
		if (cprof_reserve((void **)&vic, &cap, 2 * nv + 2, sizeof *vic)) {
			step = SQLITE_NOMEM;
			break;
		}
		vic[2 * nv] = (uint64_t)svc << 40 | (uint64_t)kind << 32 | (uint32_t)id;
		vic[2 * nv + 1] = (uint64_t)sqlite3_column_int64(sel, 3);
		nv++;
	}
	if (rc == SQLITE_OK && step != SQLITE_DONE)
		rc = step;
	for (size_t i = 0; i < nv && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(del, 1, (int64_t)(vic[2 * i] >> 40));
		sqlite3_bind_int(del, 2, (int)(vic[2 * i] >> 32 & 0xff));
		sqlite3_bind_int64(del, 3, (int64_t)(uint32_t)vic[2 * i]);
		rc = sqlite3_step(del);
		sqlite3_reset(del);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(nx);
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->meta, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int e = srv_sql_err(s->meta, rc, "dictionary collection", err);
		sqlite3_exec(s->meta, "ROLLBACK", NULL, NULL, NULL);
		free(vic);
		return e;
	}
	/* committed: the ingest map forgets them (a later profile with the
	 * same content gets a new id) */
	for (size_t i = 0; i < nv; i++) {
		u64map_del(&s->dict, vic[2 * i + 1]);
		if ((vic[2 * i] >> 32 & 0xff) == DICT_STACK && s->st.stacks)
			s->st.stacks--;
	}
	*ndel = nv;
	free(vic);
	return 0;
}

/* Open path read-only into *db: 0, 1 when it is gone, or an error. */
static int open_ro(const char *path, sqlite3 **db, cprof_error *err)
{
	int orc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
	if (orc == SQLITE_CANTOPEN)
		return 1;
	return orc == SQLITE_OK ? 0 : srv_sql_err(*db, orc, "dictionary collection", err);
}

/* Phase 2 (no lock): the marks of days[0..ndays) and of meta.db. */
static int mark_all(sq_store *s, const int32_t *days, size_t ndays, marks *k, cprof_error *err)
{
	int rc = 0;
	for (size_t i = 0; i < ndays && !rc; i++) {
		char path[4096];
		srv_day_path(s, days[i], path, sizeof path);
		sqlite3 *db = NULL;
		if (!(rc = open_ro(path, &db, err)))
			rc = mark_rows(s, db, "SELECT series, sig, samples FROM profiles UNION ALL"
				       " SELECT series, sig, samples FROM rollups", k, err);
		else if (rc == 1)
			rc = 0;         /* dropped meanwhile */
		sqlite3_close(db);
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/meta.db", s->dir);
	sqlite3 *meta = NULL;
	if (!rc && (rc = open_ro(path, &meta, err)) == 1)
		rc = cprof_seterr(err, CPROF_EIO, "store: %s is gone", path);
	if (!rc)
		rc = sqlite3_exec(meta, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
			     ? 0 : srv_sql_err(meta, SQLITE_ERROR, "dictionary collection", err);
	if (!rc)
		rc = mark_rows(s, meta, "SELECT series, sig, samples FROM pinned", k, err);
	if (!rc)
		rc = mark_refs(meta, DICT_STACK, k, err);
	if (!rc)
		rc = mark_refs(meta, DICT_LOC, k, err);
	sqlite3_close(meta);    /* ends the read transaction */
	return rc;
}

static void marks_free(marks *k)
{
	for (size_t i = 0; k->m && i < k->nsvc * DICT_KINDS; i++)
		free(k->m[i]);
	free(k->m);
	free(k->next);
	free(k->svc_of);
}

int srv_dict_gc(sq_store *s, size_t *ndel, cprof_error *err)
{
	*ndel = 0;
	if (s->gc_active)
		return 0;
	/* phase 1 */
	int rc = srv_flush_locked(s, err);
	if (rc)
		return rc;
	int32_t *days;
	size_t ndays;
	if ((rc = srv_list_days(s, &days, &ndays, err)))
		return rc;
	marks k = { .nsvc = s->nsvc, .nseries = s->nseries };
	k.m = calloc(k.nsvc * DICT_KINDS + 1, sizeof *k.m);
	k.next = malloc((k.nsvc + 1) * sizeof *k.next);
	k.svc_of = malloc((k.nseries + 1) * sizeof *k.svc_of);
	if (!k.m || !k.next || !k.svc_of)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t v = 0; v < k.nsvc && !rc; v++)
		for (int kind = 0; kind < DICT_KINDS && !rc; kind++) {
			k.next[v][kind] = s->svc_next[v][kind];
			if (!(k.m[v * DICT_KINDS + (size_t)kind] = calloc(k.next[v][kind] / 8 + 1, 1)))
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		}
	for (size_t i = 0; i < k.nseries && !rc; i++)
		k.svc_of[i] = s->series[i].svc;
	if (rc) {
		marks_free(&k);
		free(days);
		return rc;
	}
	u64map_clear(&s->gc_touched);
	s->gc_oom = false;
	s->gc_active = true;
	pthread_mutex_unlock(&s->mu);
	/* phase 2 */
	rc = mark_all(s, days, ndays, &k, err);
	pthread_mutex_lock(&s->mu);
	/* phase 3 */
	if (!rc && s->gc_oom)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory (dictionary collection)");
	if (!rc)
		rc = srv_flush_locked(s, err);
	if (!rc)
		rc = sweep(s, &k, ndel, err);
	s->gc_active = false;
	u64map_clear(&s->gc_touched);
	marks_free(&k);
	free(days);
	return rc;
}
