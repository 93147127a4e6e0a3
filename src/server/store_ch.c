/*
 * store_ch.c - the ClickHouse store's write side: the schema and its
 * migrations, series, appends, the bounded ingest queue, flushes,
 * retention by dropping day partitions.
 *
 * A store opened on clickhouse://... keeps no local files: the series
 * (id = 64-bit hash of kind and labels, so any server computes the same
 * id), the stack dictionaries (dense ids per service) and the data live in
 * ClickHouse; the process keeps the series table and the dictionaries in
 * memory (loaded at open) and a queue of rows not yet inserted.
 *
 * Ingest queue.  An append encodes its rows (TabSeparated) into the open
 * batch; a flush (a full batch, batch_ns, an explicit flush or a query's
 * start) inserts first the new series and stacks (never dropped: later
 * rows refer to them), then each queued batch, table by table, marking
 * what went in, so a retried batch inserts no table twice.  When
 * ClickHouse does not answer, the batches stay queued and flushes back off
 * (1 s doubling to 30 s);
 * when the queue grows past its bound (64 MB, or the URL's buffer=N in
 * MB) the oldest batches are dropped and one line on stderr says how many
 * profiles and metric points of which time range were lost.
 *
 * Schema.  Versioned migrations: table migrations(version) holds what has
 * been applied; each step's statements are idempotent (IF NOT EXISTS) so
 * two servers starting together do no harm.  On a cluster (?cluster=NAME)
 * every table is created ON CLUSTER as NAME_local with ReplicatedMergeTree
 * (ZooKeeper path /clickhouse/tables/{shard}/DB/TABLE, replica
 * {replica}), and TABLE is a Distributed table over them sharded by
 * series (stacks by service), so the query code is the same on both.
 *
 * Threads: one mutex (c->mu) guards the queue, the series table and the
 * dictionaries.  Appends never wait on the network: a flusher thread
 * inserts (woken by a full or old batch, or every batch_ns), detaching the
 * queue under the lock and inserting without it; an explicit flush (a
 * query's start, srv_store_flush, close) waits for the flusher's turn to
 * end and then takes its own, so its error reaches its caller.
 */
#include "store_ch.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define BACKOFF_MIN_NS INT64_C(1000000000)
#define BACKOFF_MAX_NS (INT64_C(30) * 1000000000)

static const char *const TNAME[CHT_N] = { "profiles", "samples", "metrics", "pinned", "series" };

const char *ch_tbl(const srv_ch *c, const char *name, char *buf, size_t n)
{
	(void)c;
	snprintf(buf, n, "%s", name);
	return buf;
}

/* ---- schema ------------------------------------------------------------------------ */

typedef struct tdef {
	const char *name, *cols, *engine, *part, *order, *shard;
} tdef;

static const tdef TABLES[] = {
	{ "series", "id UInt64, kind String, svc String, labels String", "ReplacingMergeTree",
	  NULL, "id", "id" },
	{ "writers", "w UInt32, token UInt64", "MergeTree", NULL, "w", "w" },
	{ "stacks", "svc UInt64, id UInt64, hash UInt64, data String", "ReplacingMergeTree", NULL,
	  "(svc, id)", "svc" },
	{ "profiles", "day Date, series UInt64, t UInt64, duration Int64, period Int64,"
	  " sig String, totals Array(Int64)", "MergeTree", "toYYYYMMDD(day)", "(series, t)",
	  "series" },
	{ "samples", "day Date, svc UInt64, series UInt64, t UInt64, sig UInt64, stack UInt64,"
	  " l0 UInt8, l1 UInt8, l2 UInt8, l3 UInt8, h0 Int64, h1 Int64, h2 Int64, h3 Int64,"
	  " vx Array(Int64), m0 Int64, m1 Int64, m2 Int64, m3 Int64", "MergeTree",
	  "toYYYYMMDD(day)", "(svc, series, t, stack)", "series" },
	{ "samples_hour", "day Date, svc UInt64, series UInt64, sig UInt64, hour UInt32,"
	  " stack UInt64, v0 AggregateFunction(sum, Int64), v1 AggregateFunction(sum, Int64),"
	  " v2 AggregateFunction(sum, Int64), v3 AggregateFunction(sum, Int64),"
	  " vx AggregateFunction(sumForEach, Array(Int64))", "AggregatingMergeTree",
	  "toYYYYMMDD(day)", "(svc, series, sig, hour, stack)", "series" },
	/* the same per service: a selector taking every series of a
	 * service reads one row per stack and hour instead of one per
	 * series, stack and hour (schema version 3) */
	{ "samples_svc_hour", "day Date, svc UInt64, sig UInt64, hour UInt32,"
	  " stack UInt64, v0 AggregateFunction(sum, Int64), v1 AggregateFunction(sum, Int64),"
	  " v2 AggregateFunction(sum, Int64), v3 AggregateFunction(sum, Int64),"
	  " vx AggregateFunction(sumForEach, Array(Int64))", "AggregatingMergeTree",
	  "toYYYYMMDD(day)", "(svc, sig, hour, stack)", "svc" },
	{ "metrics", "day Date, series UInt64, t UInt64, value Float64", "MergeTree",
	  "toYYYYMMDD(day)", "(series, t)", "series" },
	{ "pinned", "id UInt64, rule String, series UInt64, t UInt64, duration Int64,"
	  " period Int64, sig String, stacks Array(UInt64), vals Array(Int64)", "MergeTree", NULL,
	  "id", "id" },
};
#define NTABLES (sizeof TABLES / sizeof TABLES[0])
/* 2: stack ids are UInt64, writer number << 32 | counter (a writers
 * table hands out the numbers); 1 had UInt32 ids counted by each writer
 * from 1, which clash between writers and cannot be converted in place
 * (the stack column is in the tables' sorting keys) */
#define SCHEMA_VERSION 3
/* 3 adds samples_svc_hour (per-service hourly rollup) and its view: a
 * version 2 database gains them in place, and the hours before the
 * migration's are never read from them (ch_svc_rollup_load) */

static int run(srv_ch *c, const char *sql, cprof_error *err)
{
	return ch_exec(&c->conn, sql, NULL, 0, NULL, err);
}

static int create_table(srv_ch *c, const tdef *t, cprof_error *err)
{
	char sql[2048], part[128];
	const char *cl = c->conn.cluster, *db = c->conn.db;
	snprintf(part, sizeof part, "%s%s", t->part ? " PARTITION BY " : "", t->part ? t->part : "");
	if (!cl) {
		snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (%s) ENGINE = %s%s ORDER BY %s",
			 t->name, t->cols, t->engine, part, t->order);
		return run(c, sql, err);
	}
	snprintf(sql, sizeof sql,
		 "CREATE TABLE IF NOT EXISTS %s.%s_local ON CLUSTER %s (%s) ENGINE = Replicated%s("
		 "'/clickhouse/tables/{shard}/%s/%s', '{replica}')%s ORDER BY %s",
		 db, t->name, cl, t->cols, t->engine, db, t->name, part, t->order);
	int rc = run(c, sql, err);
	if (rc)
		return rc;
	snprintf(sql, sizeof sql,
		 "CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s_local"
		 " ENGINE = Distributed(%s, %s, %s_local, %s)",
		 db, t->name, cl, db, t->name, cl, db, t->name, t->shard);
	return run(c, sql, err);
}

static int migrate(srv_ch *c, cprof_error *err)
{
	char sql[1024];
	const char *cl = c->conn.cluster;
	/* current already: no DDL (ON CLUSTER DDL waits for every node, so a
	 * server restarting while a replica is down must not need it) */
	sbuf r = { 0 };
	cprof_error ignored = { 0 };
	int rc = ch_select(&c->conn, "SELECT max(version) FROM migrations", &r, &ignored);
	long have = rc ? 0 : strtol((const char *)r.p, NULL, 10);
	sb_free(&r);
	if (have == SCHEMA_VERSION)
		return 0;
	/* the database itself: created through the server's default one */
	char *dbname = c->conn.db;
	c->conn.db = (char *)"default";
	snprintf(sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS %s%s%s", dbname,
		 cl ? " ON CLUSTER " : "", cl ? cl : "");
	rc = run(c, sql, err);
	c->conn.db = dbname;
	if (rc)
		return rc;
	/* on a cluster one replicated table for all nodes, so every node
	 * knows the version */
	if (cl)
		snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s.migrations ON CLUSTER %s"
			 " (version UInt32, at DateTime DEFAULT now()) ENGINE = ReplicatedMergeTree("
			 "'/clickhouse/tables/all/%s/migrations', '{shard}-{replica}') ORDER BY version",
			 c->conn.db, cl, c->conn.db);
	else
		snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s.migrations (version UInt32,"
			 " at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version", c->conn.db);
	if ((rc = run(c, sql, err)))
		return rc;
	r = (sbuf){ 0 };
	rc = ch_select(&c->conn, "SELECT max(version) FROM migrations", &r, err);
	have = rc ? 0 : strtol((const char *)r.p, NULL, 10);
	sb_free(&r);
	if (rc)
		return rc;
	if (have > SCHEMA_VERSION)
		return cprof_seterr(err, CPROF_EINVAL,
				    "store: database %s has schema version %ld, newer than this"
				    " cprof's %d", c->conn.db, have, SCHEMA_VERSION);
	if (have == SCHEMA_VERSION)
		return 0;
	if (have == 1)
		return cprof_seterr(err, CPROF_EINVAL,
				    "store: database %s has schema version 1 (per-writer stack ids),"
				    " which this cprof cannot convert: give a new database and copy"
				    " into it (cprof server copy)", c->conn.db);
	/* the tables and the hourly rollups' materialized views (a version
	 * 2 database: only what is new is created, IF NOT EXISTS) */
	for (size_t i = 0; i < NTABLES && !rc; i++)
		rc = create_table(c, &TABLES[i], err);
	if (rc)
		return rc;
	const char *sfx = cl ? "_local" : "";
	/* per series, then per service (no series column) */
	static const char *const rolls[2][2] = { { "samples_hour", "svc, series," },
						 { "samples_svc_hour", "svc," } };
	for (size_t i = 0; i < 2 && !rc; i++) {
		snprintf(sql, sizeof sql,
			 "CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s_mv%s%s TO %s.%s%s"
			 " AS SELECT day, %s sig, toUInt32(intDiv(t, 3600000000000)) AS hour,"
			 " stack, sumState(" CH_V(0) ") AS v0, sumState(" CH_V(1) ") AS v1,"
			 " sumState(" CH_V(2) ") AS v2, sumState(" CH_V(3) ") AS v3,"
			 " sumForEachState(vx) AS vx FROM %s.samples%s"
			 " GROUP BY day, %s sig, hour, stack", c->conn.db, rolls[i][0],
			 cl ? " ON CLUSTER " : "", cl ? cl : "", c->conn.db, rolls[i][0], sfx,
			 rolls[i][1], c->conn.db, sfx, rolls[i][1]);
		rc = run(c, sql, err);
	}
	if (rc)
		return rc;
	snprintf(sql, sizeof sql, "INSERT INTO %s.migrations (version) VALUES (%d)", c->conn.db,
		 SCHEMA_VERSION);
	return run(c, sql, err);
}

/* The first time samples_svc_hour holds every sample of (c->svc_roll_from):
 * 0 for a database created with it; for one migrated from version 2, the
 * hour after the migration's (rows of earlier hours went in before its
 * view existed).  Called once at open, before any thread starts. */
static int svc_rollup_load(srv_ch *c, cprof_error *err)
{
	sbuf r = { 0 };
	int rc = ch_select(&c->conn, "SELECT if(min(version) < 3, toUInt64(maxIf(at, version = 3)),"
			   " 0) FROM migrations FORMAT TabSeparated", &r, err);
	if (!rc) {
		int64_t at = strtoll((const char *)r.p, NULL, 10);
		c->svc_roll_from = at > 0 ? (at / 3600 + 1) * HOUR_NS : 0;
	}
	sb_free(&r);
	return rc;
}

/* ---- series ------------------------------------------------------------------------ */

static void labels_pack(const srv_label *v, size_t n, sbuf *b)
{
	sb_uv(b, n);
	for (size_t i = 0; i < n; i++) {
		sb_str(b, v[i].name, strlen(v[i].name));
		sb_str(b, v[i].value, strlen(v[i].value));
	}
}

static const char *svc_name(const srv_label *v, size_t n)
{
	srv_labels l = { v, n };
	const char *s = srv_labels_get(&l, "service_name");
	if (!s)
		s = srv_labels_get(&l, "job");
	return s ? s : "";
}

/* Add a series to memory (labels from a packed blob).  Caller holds mu. */
static int series_add(srv_ch *c, uint64_t id, const char *kind, const char *svc,
		      const void *blob, size_t len, ch_series **out)
{
	uint32_t *slot;
	bool found;
	if (u64map_slot(&c->series_idx, id, &slot, &found))
		return CPROF_ENOMEM;
	if (found) {
		if (out)
			*out = &c->series[*slot - 1];
		return 0;
	}
	u64map_del(&c->series_idx, id);
	if (cprof_reserve((void **)&c->series, &c->capseries, c->nseries + 1, sizeof *c->series))
		return CPROF_ENOMEM;
	ch_series *s = &c->series[c->nseries];
	memset(s, 0, sizeof *s);
	rd r = { blob, len, 0, false };
	uint64_t n = rd_uv(&r);
	if (r.bad || n > SRV_LABELS_MAX)
		return CPROF_EFORMAT;
	s->block = malloc(len + 2 * n + 1);
	s->lv = calloc(n + 1, sizeof *s->lv);
	s->kind = strdup(kind);
	s->svc = ch_svc_get(c, svc);
	if (!s->block || !s->lv || !s->kind || !s->svc) {
		free(s->block);
		free(s->lv);
		free(s->kind);
		return CPROF_ENOMEM;
	}
	char *o = s->block;
	for (uint64_t i = 0; i < n; i++) {
		size_t kl, vl;
		const char *k = rd_str(&r, &kl);
		const char *v = rd_str(&r, &vl);
		if (r.bad)
			break;
		memcpy(o, k, kl);
		o[kl] = '\0';
		s->lv[i].name = o;
		o += kl + 1;
		memcpy(o, v, vl);
		o[vl] = '\0';
		s->lv[i].value = o;
		o += vl + 1;
	}
	if (r.bad) {
		free(s->block);
		free(s->lv);
		free(s->kind);
		return CPROF_EFORMAT;
	}
	s->nl = n;
	s->id = id;
	if (u64map_slot(&c->series_idx, id, &slot, &found))
		return CPROF_ENOMEM;
	*slot = (uint32_t)++c->nseries;
	c->st.series = c->nseries;
	if (out)
		*out = s;
	return 0;
}

/* Run sql (a SELECT of four columns) and hand each row to row with mu
 * held, until the rows end or row answers non-zero. */
static int load_rows4(srv_ch *c, const char *sql,
		      int (*row)(srv_ch *c, char **f, size_t *fl, cprof_error *err),
		      cprof_error *err)
{
	sbuf r = { 0 };
	int rc = ch_select(&c->conn, sql, &r, err);
	size_t pos = 0;
	char *f[4];
	size_t fl[4];
	pthread_mutex_lock(&c->mu);
	while (!rc && tsv_row((char *)r.p, r.n - 1, &pos, f, fl, 4) == 4)
		rc = row(c, f, fl, err);
	pthread_mutex_unlock(&c->mu);
	sb_free(&r);
	return rc;
}

static int series_row(srv_ch *c, char **f, size_t *fl, cprof_error *err)
{
	uint64_t id = strtoull(f[0], NULL, 10);
	if (id && series_add(c, id, f[1], f[2], f[3], fl[3], NULL))
		return cprof_seterr(err, CPROF_EFORMAT, "store: a bad row in series");
	return 0;
}

int ch_series_reload(srv_ch *c, cprof_error *err)
{
	return load_rows4(c, "SELECT id, kind, svc, labels FROM series FORMAT TabSeparated",
			  series_row, err);
}

/* The series (kind, labels sorted), created (queued for insertion) when
 * new.  Caller holds mu. */
static int series_get(srv_ch *c, const char *kind, const srv_label *lv, size_t nl,
		      ch_series **out, cprof_error *err)
{
	sbuf b = { 0 };
	labels_pack(lv, nl, &b);
	if (b.oom) {
		sb_free(&b);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	uint64_t id = (srv_hash_bytes(b.p, b.n, srv_hash_bytes(kind, strlen(kind), 7)) >> 1) | 1;
	uint32_t idx;
	int rc = 0;
	if (u64map_get(&c->series_idx, id, &idx)) {
		*out = &c->series[idx - 1];
	} else if (c->nseries >= c->o.max_series) {
		rc = cprof_seterr(err, CPROF_ELIMIT, "store: %zu series, the limit (max_series)",
				  c->nseries);
	} else {
		const char *svc = svc_name(lv, nl);
		rc = series_add(c, id, kind, svc, b.p, b.n, out);
		if (rc) {
			rc = cprof_seterr(err, rc, "store: out of memory");
		} else {
			sbuf *q = &c->series_rows;
			char num[32];
			snprintf(num, sizeof num, "%llu\t", (unsigned long long)id);
			sb_put(q, num, strlen(num));
			tsv_put(q, kind, strlen(kind));
			sb_put(q, "\t", 1);
			tsv_put(q, svc, strlen(svc));
			sb_put(q, "\t", 1);
			tsv_put(q, b.p, b.n);
			sb_put(q, "\n", 1);
			if (q->oom)
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		}
	}
	sb_free(&b);
	return rc;
}

/* ---- the queue ----------------------------------------------------------------------- */

static void batch_free(ch_batch *b)
{
	for (int i = 0; i < CHT_N; i++)
		sb_free(&b->rows[i]);
	free(b);
}

static size_t batch_bytes(const ch_batch *b)
{
	size_t n = 0;
	for (int i = 0; i < CHT_N; i++)
		n += b->rows[i].n;
	return n;
}

/* The open batch (created).  Caller holds mu. */
static ch_batch *cur_batch(srv_ch *c)
{
	if (c->cur)
		return c->cur;
	ch_batch *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->tmin = INT64_MAX;
	b->tmax = INT64_MIN;
	if (c->tail)
		c->tail->next = b;
	else
		c->head = b;
	c->tail = c->cur = b;
	return b;
}

int ch_select(ch_conn *conn, const char *sql, sbuf *out, cprof_error *err)
{
	int rc = ch_exec(conn, sql, NULL, 0, out, err);
	sb_put(out, "", 1);
	return rc;
}

void ch_utc_str(int64_t ns, bool with_time, char *buf, size_t n)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	if (with_time)
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		strftime(buf, n, "%Y-%m-%d", &tm);
}

/* Drop the oldest batches while the queue is over its bound.  Caller
 * holds mu. */
static void enforce_bound(srv_ch *c, const char *why)
{
	size_t np = 0, nm = 0;
	int64_t t0 = INT64_MAX, t1 = INT64_MIN;
	while (c->head && c->queued_bytes > c->max_queue_bytes) {
		ch_batch *b = c->head;
		c->head = b->next;
		if (!c->head)
			c->tail = NULL;
		if (c->cur == b)
			c->cur = NULL;
		c->queued_bytes -= batch_bytes(b);
		np += b->nprofiles;
		nm += b->nmetrics;
		if (b->tmin < t0)
			t0 = b->tmin;
		if (b->tmax > t1)
			t1 = b->tmax;
		batch_free(b);
	}
	if (np || nm) {
		char a[32] = "-", z[32] = "-";
		if (t0 <= t1) {
			ch_utc_str(t0, true, a, sizeof a);
			ch_utc_str(t1, true, z, sizeof z);
		}
		c->dropped_profiles += np;
		c->dropped_metrics += nm;
		fprintf(stderr, "cprof server: ClickHouse store: ingest buffer over %zu MB while %s:"
			" dropped %zu profiles and %zu metric points from %s to %s (%llu profiles"
			" dropped since start)\n", c->max_queue_bytes >> 20, why, np, nm, a, z,
			(unsigned long long)c->dropped_profiles);
	}
}

static int insert(srv_ch *c, const char *table, const sbuf *rows, cprof_error *err)
{
	char sql[160];
	snprintf(sql, sizeof sql, "INSERT INTO %s FORMAT TabSeparated", table);
	return ch_exec(&c->conn, sql, rows->p, rows->n, NULL, err);
}

/* Move the sbuf's bytes to the front of dst (a failed flush gives back
 * rows that came before the ones appended meanwhile). */
static void sb_prepend(sbuf *dst, sbuf *src)
{
	if (!src->n) {
		sb_free(src);
		return;
	}
	sb_put(src, dst->p, dst->n);
	sb_free(dst);
	*dst = *src;
	memset(src, 0, sizeof *src);
}

/* One flush, by whichever thread holds the turn (c->flushing): the queue
 * is detached under the lock, inserted without it (appends go on filling
 * new batches meanwhile), and what did not go in is put back in front.
 * Called and returns with c->mu held. */
static int flush_turn(srv_ch *c, cprof_error *err)
{
	c->flushing = true;
	c->cur = NULL;          /* what comes next goes in a new batch */
	c->pending = 0;
	c->pending_since = 0;
	sbuf ser = c->series_rows, stk = c->stack_rows;
	memset(&c->series_rows, 0, sizeof c->series_rows);
	memset(&c->stack_rows, 0, sizeof c->stack_rows);
	ch_batch *list = c->head;
	c->head = c->tail = NULL;
	pthread_mutex_unlock(&c->mu);

	size_t sent = 0;
	int rc = 0;
	if (ser.n && !(rc = insert(c, "series", &ser, err)))
		sb_free(&ser);
	if (!rc && stk.n && !(rc = insert(c, "stacks", &stk, err)))
		sb_free(&stk);
	while (!rc && list) {
		ch_batch *b = list;
		for (int i = 0; i < CHT_N && !rc; i++) {
			if (b->done[i] || !b->rows[i].n)
				continue;
			if (!(rc = insert(c, TNAME[i], &b->rows[i], err))) {
				b->done[i] = true;
				sent += b->rows[i].n;
				sb_free(&b->rows[i]);
			}
		}
		if (rc)
			break;
		list = b->next;
		batch_free(b);
	}

	pthread_mutex_lock(&c->mu);
	c->queued_bytes -= sent;
	sb_prepend(&c->series_rows, &ser);
	sb_prepend(&c->stack_rows, &stk);
	if (list) {             /* put the rest back in front */
		ch_batch *last = list;
		while (last->next)
			last = last->next;
		last->next = c->head;
		if (!c->head)
			c->tail = last;
		c->head = list;
	}
	if (rc) {
		int64_t now = mono_ns();
		int64_t wait = c->backoff_ns ? c->backoff_ns * 2 : BACKOFF_MIN_NS;
		c->backoff_ns = wait > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : wait;
		c->retry_at = now + c->backoff_ns;
		c->cur = NULL;
		enforce_bound(c, err && err->msg[0] ? err->msg : "ClickHouse failed");
	} else {
		c->backoff_ns = 0;
		c->retry_at = 0;
	}
	c->st.pending = 0;
	for (ch_batch *b = c->head; b; b = b->next)
		c->st.pending += b->nprofiles + b->nmetrics;
	c->flushing = false;
	pthread_cond_broadcast(&c->done_cv);
	return rc;
}

int ch_flush_locked(srv_ch *c, cprof_error *err)
{
	while (c->flushing)     /* the flusher's turn first; then ours */
		pthread_cond_wait(&c->done_cv, &c->mu);
	return flush_turn(c, err);
}

/* The flusher thread: flushes when an append asks (a full or old batch)
 * and every batch_ns while anything is queued, outside the backoff. */
static void *flusher(void *arg)
{
	srv_ch *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + c->o.batch_ns;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		if (!c->want_flush)
			pthread_cond_timedwait(&c->wake_cv, &c->mu, &ts);
		if (c->stopping)
			break;
		bool work = c->head || c->series_rows.n || c->stack_rows.n;
		if (!work || c->flushing || (c->retry_at && mono_ns() < c->retry_at)) {
			c->want_flush = false;
			continue;
		}
		c->want_flush = false;
		cprof_error e = { 0 };
		flush_turn(c, &e);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* After an append: ask the flusher when the batch is full or old. */
static int maybe_flush(srv_ch *c, cprof_error *err)
{
	(void)err;
	int64_t now = mono_ns();
	if (!c->pending_since)
		c->pending_since = now;
	c->pending++;
	if (c->cur && batch_bytes(c->cur) > c->max_queue_bytes / 4)
		c->cur = NULL;
	if (c->pending < c->o.batch_profiles && now - c->pending_since < c->o.batch_ns)
		return 0;
	c->pending_since = 0;
	c->pending = 0;
	c->cur = NULL;
	if (c->retry_at && now < c->retry_at) {
		enforce_bound(c, "ClickHouse is not answering");
		return 0;       /* queued: the append itself succeeded */
	}
	c->want_flush = true;
	pthread_cond_signal(&c->wake_cv);
	return 0;
}

/* ---- appends --------------------------------------------------------------------------- */

/* *lp's labels (none when *lp is NULL: *lp then points at an empty set)
 * sorted into tmp. */
static int sorted_labels(const srv_labels **lp, srv_label *tmp, cprof_error *err)
{
	static const srv_labels none = { NULL, 0 };
	if (!*lp)
		*lp = &none;
	const srv_labels *l = *lp;
	if (l->n > SRV_LABELS_MAX)
		return cprof_seterr(err, CPROF_EINVAL, "more than %d labels", SRV_LABELS_MAX);
	if (l->n)
		memcpy(tmp, l->v, l->n * sizeof *tmp);
	return srv_labels_sort(tmp, l->n, err);
}

static void put_day(sbuf *b, int64_t t)
{
	char d[16];
	ch_utc_str(t, false, d, sizeof d);
	sb_put(b, d, strlen(d));
	sb_put(b, "\t", 1);
}

static void put_i64s(sbuf *b, const int64_t *v, size_t n)
{
	sb_put(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		char x[24];
		snprintf(x, sizeof x, "%s%lld", i ? "," : "", (long long)v[i]);
		sb_put(b, x, strlen(x));
	}
	sb_put(b, "]", 1);
}

/* The greatest common divisor of |a| and |b| (gcd(0, b) = |b|); INT64_MIN
 * counts as 1 (no divisor worth keeping). */
static int64_t gcd64(int64_t a, int64_t b)
{
	if (a == INT64_MIN || b == INT64_MIN)
		return 1;
	uint64_t x = (uint64_t)(a < 0 ? -a : a), y = (uint64_t)(b < 0 ? -b : b);
	while (y) {
		uint64_t t = x % y;
		x = y;
		y = t;
	}
	return (int64_t)x;
}

int ch_append(srv_store *base, const srv_labels *labels, const char *kind, int64_t time_ns,
		  int64_t duration_ns, const cprof_profile *p, const char *pinned_rule,
		  cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	srv_label tmp[SRV_LABELS_MAX];
	int rc = sorted_labels(&labels, tmp, err);
	if (rc)
		return rc;
	if ((rc = srv_append_args(kind, time_ns, duration_ns, p, c->o.max_samples, err)))
		return rc;
	size_t nv = p->vtypes.n;
	if (nv > MAX_VTYPES)
		return cprof_seterr(err, CPROF_EINVAL, "profile has %zu sample types, at most %d",
				    nv, MAX_VTYPES);
	sbuf sig = { 0 }, rows = { 0 }, meta = { 0 };
	if (srv_vtypes_sig(p, &sig))
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	uint64_t sigh = srv_hash_bytes(sig.p, sig.n, 9) >> 1;
	int64_t totals[MAX_VTYPES] = { 0 };
	uint32_t *ids = calloc(p->samples.n + 1, sizeof *ids);
	if (!ids) {
		sb_free(&sig);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	pthread_mutex_lock(&c->mu);
	ch_series *ss;
	if ((rc = series_get(c, kind, tmp, labels->n, &ss, err)))
		goto out;
	uint64_t *lh = calloc(p->locations.n + 1, sizeof *lh);
	if (!lh)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t i = 0; i < p->samples.n && !rc; i++)
		rc = ch_stack_id(c, ss->svc, p, i, lh, &ids[i], err);
	free(lh);
	if (rc)
		goto out;
	char head[160];
	size_t rows_n = 0;
	if (pinned_rule) {
		uint64_t pid = (srv_hash_bytes(pinned_rule, strlen(pinned_rule),
					       (uint64_t)time_ns ^ ss->id) >> 2) | 1;
		snprintf(head, sizeof head, "%llu\t", (unsigned long long)pid);
		sb_put(&meta, head, strlen(head));
		tsv_put(&meta, pinned_rule, strlen(pinned_rule));
		snprintf(head, sizeof head, "\t%llu\t%lld\t%lld\t%lld\t", (unsigned long long)ss->id,
			 (long long)time_ns, (long long)duration_ns, (long long)p->period);
		sb_put(&meta, head, strlen(head));
		tsv_put(&meta, sig.p, sig.n);
		sb_put(&meta, "\t[", 2);
		for (size_t i = 0; i < p->samples.n; i++) {
			snprintf(head, sizeof head, "%s%llu", i ? "," : "",
				 (unsigned long long)ss->svc->ids[ids[i]]);
			sb_put(&meta, head, strlen(head));
		}
		sb_put(&meta, "]\t", 2);
		put_i64s(&meta, p->values.v, p->samples.n * nv);
		sb_put(&meta, "\n", 1);
	} else {
		/* equal stacks of one profile become one row */
		acc a;
		acc_init(&a, (int)nv);
		for (size_t i = 0; i < p->samples.n && !rc; i++)
			if (acc_add(&a, ids[i], 0, p->values.v + i * nv))
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		/* the first four sample types: value = (h * 256 + l) * m (see
		 * store_ch.h); m is the values' greatest common divisor in this
		 * profile (CPU time is samples times the period, sizes are
		 * multiples of 8 or 16), 0 when it is 1 */
		int64_t mul[4] = { 0, 0, 0, 0 };
		for (size_t i = 0; i < a.n; i++)
			for (size_t k = 0; k < 4 && k < nv; k++)
				mul[k] = gcd64(mul[k], a.val[i * nv + k]);
		for (size_t k = 0; k < 4; k++)
			if (mul[k] <= 1)
				mul[k] = 0;
		for (size_t i = 0; i < a.n && !rc; i++) {
			const int64_t *v = a.val + i * nv;
			put_day(&rows, time_ns);
			snprintf(head, sizeof head, "%llu\t%llu\t%lld\t%llu\t%llu\t",
				 (unsigned long long)ss->svc->hash, (unsigned long long)ss->id,
				 (long long)time_ns, (unsigned long long)sigh,
				 (unsigned long long)ss->svc->ids[a.key[i] >> 32]);
			sb_put(&rows, head, strlen(head));
			/* the first four sample types in columns of their own (no
			 * array offsets: 4 bytes a row less), the rest in vx */
			int64_t hi[4];
			for (size_t k = 0; k < 4; k++) {
				int64_t x = k < nv ? v[k] / (mul[k] ? mul[k] : 1) : 0;
				unsigned lo = (unsigned)((uint64_t)x & 0xff);
				hi[k] = (x - (int64_t)lo) / 256;        /* exact: floor */
				snprintf(head, sizeof head, "%u\t", lo);
				sb_put(&rows, head, strlen(head));
			}
			snprintf(head, sizeof head, "%lld\t%lld\t%lld\t%lld\t", (long long)hi[0],
				 (long long)hi[1], (long long)hi[2], (long long)hi[3]);
			sb_put(&rows, head, strlen(head));
			put_i64s(&rows, v + (nv > 4 ? 4 : nv), nv > 4 ? nv - 4 : 0);
			snprintf(head, sizeof head, "\t%lld\t%lld\t%lld\t%lld\n", (long long)mul[0],
				 (long long)mul[1], (long long)mul[2], (long long)mul[3]);
			sb_put(&rows, head, strlen(head));
			for (size_t k = 0; k < nv; k++)
				totals[k] += v[k];
		}
		rows_n = a.n;
		acc_free(&a);
		if (rc)
			goto out;
		put_day(&meta, time_ns);
		snprintf(head, sizeof head, "%llu\t%lld\t%lld\t%lld\t", (unsigned long long)ss->id,
			 (long long)time_ns, (long long)duration_ns, (long long)p->period);
		sb_put(&meta, head, strlen(head));
		tsv_put(&meta, sig.p, sig.n);
		sb_put(&meta, "\t", 1);
		put_i64s(&meta, totals, nv);
		sb_put(&meta, "\n", 1);
	}
	if (rows.oom || meta.oom) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto out;
	}
	ch_batch *b = cur_batch(c);
	if (!b) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto out;
	}
	int mt = pinned_rule ? CHT_PINNED : CHT_PROFILES;
	sb_put(&b->rows[mt], meta.p, meta.n);
	if (rows.n)
		sb_put(&b->rows[CHT_SAMPLES], rows.p, rows.n);
	if (b->rows[mt].oom || b->rows[CHT_SAMPLES].oom) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto out;
	}
	c->queued_bytes += meta.n + rows.n;
	if (!pinned_rule) {
		b->nprofiles++;
		if (time_ns < b->tmin)
			b->tmin = time_ns;
		if (time_ns > b->tmax)
			b->tmax = time_ns;
		c->st.profiles++;
		c->st.samples += (uint64_t)(rows_n);
	}
	rc = maybe_flush(c, err);
out:
	pthread_mutex_unlock(&c->mu);
	free(ids);
	sb_free(&sig);
	sb_free(&rows);
	sb_free(&meta);
	return rc;
}

int ch_append_metric(srv_store *base, const srv_labels *labels, const char *kind,
			 int64_t time_ns, double value, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	srv_label tmp[SRV_LABELS_MAX];
	int rc = sorted_labels(&labels, tmp, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	ch_series *ss;
	ch_batch *b;
	if (!(rc = series_get(c, kind, tmp, labels->n, &ss, err))) {
		if (!(b = cur_batch(c))) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		} else {
			sbuf *q = &b->rows[CHT_METRICS];
			size_t before = q->n;
			char line[96];
			put_day(q, time_ns);
			snprintf(line, sizeof line, "%llu\t%lld\t%.17g\n", (unsigned long long)ss->id,
				 (long long)time_ns, value);
			sb_put(q, line, strlen(line));
			c->queued_bytes += q->n - before;
			b->nmetrics++;
			if (time_ns < b->tmin)
				b->tmin = time_ns;
			if (time_ns > b->tmax)
				b->tmax = time_ns;
			rc = q->oom ? cprof_seterr(err, CPROF_ENOMEM, "store: out of memory")
				    : maybe_flush(c, err);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int ch_flush(srv_store *base, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	pthread_mutex_lock(&c->mu);
	int rc = ch_flush_locked(c, err);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* ---- open, close --------------------------------------------------------------------- */

static int stack_row(srv_ch *c, char **f, size_t *fl, cprof_error *err)
{
	uint64_t h = strtoull(f[0], NULL, 10);
	for (size_t i = 0; i < c->nsvcs; i++)
		if (c->svcs[i]->hash == h) {
			int rc = 0;
			if (ch_stack_put(c->svcs[i], strtoull(f[1], NULL, 10),
					 strtoull(f[3], NULL, 10), f[2], fl[2], NULL))
				rc = cprof_seterr(err, CPROF_EFORMAT, "store: bad stack row");
			c->st.stacks++;
			return rc;
		}
	return 0;
}

/* Claim this store's writer number: a random number in [1, 2^31) that no
 * row of the writers table holds, inserted with a random token and read
 * back; another token under the number (a writer that picked it at the
 * same time) makes both try again.  As a claim is inserted before it is
 * checked, two claims of one number cannot both see themselves alone
 * (on a cluster: given the claims' shard answers reads with the inserts
 * that completed, which replication lag can break; the odds two writers
 * pick one number are 2^-31 even then).  Numbers are never given back: a
 * restarted server claims a new one and reuses the ids of the stacks it
 * loads. */
static int claim_writer(srv_ch *c, cprof_error *err)
{
	char sql[256];
	int rc = 0;
	for (int tries = 0; tries < 8 && !rc; tries++) {
		uint32_t w = 0;
		uint64_t tok = 0;
		if (getrandom(&w, sizeof w, 0) != sizeof w || getrandom(&tok, sizeof tok, 0) != sizeof tok)
			return cprof_seterr(err, CPROF_EIO, "store: no random numbers: %s",
					    strerror(errno));
		w &= 0x7fffffff;
		if (!w || !tok)
			continue;
		sbuf r = { 0 };
		snprintf(sql, sizeof sql, "SELECT count() FROM writers WHERE w = %u", w);
		if ((rc = ch_select(&c->conn, sql, &r, err)) || strtoull((char *)r.p, NULL, 10)) {
			sb_free(&r);
			continue;
		}
		sb_free(&r);
		snprintf(sql, sizeof sql, "INSERT INTO writers (w, token) VALUES (%u, %llu)", w,
			 (unsigned long long)tok);
		if ((rc = run(c, sql, err)))
			break;
		snprintf(sql, sizeof sql, "SELECT token FROM writers WHERE w = %u ORDER BY token", w);
		if ((rc = ch_select(&c->conn, sql, &r, err))) {
			sb_free(&r);
			break;
		}
		char *nl = strchr((char *)r.p, '\n');
		bool alone = nl && !nl[1] && strtoull((char *)r.p, NULL, 10) == tok;
		sb_free(&r);
		if (alone) {
			c->writer = w;
			c->token = tok;
			return 0;
		}
	}
	return rc ? rc : cprof_seterr(err, CPROF_EIO, "store: cannot claim a writer number in"
				      " the writers table (8 tries)");
}

static int load_stacks(srv_ch *c, cprof_error *err)
{
	return load_rows4(c, "SELECT svc, id, data, hash FROM stacks FORMAT TabSeparated",
			  stack_row, err);
}

int srv_clickhouse_open(const char *url, const srv_store_opts *opts, srv_store **out,
			cprof_error *err)
{
	*out = NULL;
	srv_ch *c = calloc(1, sizeof *c);
	if (!c)
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	c->base.ops = &ch_ops;
	if (opts)
		c->o = *opts;
	if (!c->o.batch_profiles)
		c->o.batch_profiles = 256;
	if (!c->o.batch_ns)
		c->o.batch_ns = 1000000000;
	if (!c->o.max_series)
		c->o.max_series = 1000000;
	if (!c->o.max_samples)
		c->o.max_samples = 1000000;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->wake_cv, NULL);
	pthread_cond_init(&c->done_cv, NULL);
	int rc = ch_conn_parse(url, &c->conn, err);
	c->max_queue_bytes = c->conn.buffer_bytes ? c->conn.buffer_bytes : (size_t)64 << 20;
	if (!rc)
		rc = migrate(c, err);
	if (!rc)
		rc = svc_rollup_load(c, err);
	if (!rc)
		rc = ch_series_reload(c, err);
	if (!rc)
		rc = claim_writer(c, err);
	if (!rc)
		rc = load_stacks(c, err);
	if (!rc && pthread_create(&c->flush_thread, NULL, flusher, c) != 0)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: cannot start the flush thread");
	else if (!rc)
		c->flusher_started = true;
	if (rc) {
		ch_close(&c->base);
		return rc;
	}
	*out = &c->base;
	return 0;
}

void ch_close(srv_store *base)
{
	srv_ch *c = (srv_ch *)base;
	if (c->flusher_started) {
		pthread_mutex_lock(&c->mu);
		c->stopping = true;
		pthread_cond_signal(&c->wake_cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->flush_thread, NULL);
	}
	if (c->head || c->series_rows.n || c->stack_rows.n) {
		cprof_error e = { 0 };
		pthread_mutex_lock(&c->mu);
		if (ch_flush_locked(c, &e))
			fprintf(stderr, "cprof server: ClickHouse store: closing with %llu appends"
				" not stored: %s\n", (unsigned long long)c->st.pending, e.msg);
		pthread_mutex_unlock(&c->mu);
	}
	while (c->head) {
		ch_batch *b = c->head;
		c->head = b->next;
		batch_free(b);
	}
	for (size_t i = 0; i < c->nseries; i++) {
		free(c->series[i].kind);
		free(c->series[i].lv);
		free(c->series[i].block);
	}
	free(c->series);
	u64map_free(&c->series_idx);
	for (size_t i = 0; i < c->nsvcs; i++) {
		ch_svc *v = c->svcs[i];
		free(v->name);
		u64map_free(&v->byid);
		u64map_free(&v->bykey);
		sb_free(&v->arena);
		free(v->off);
		free(v->ids);
		free(v);
	}
	free(c->svcs);
	sb_free(&c->stack_rows);
	sb_free(&c->series_rows);
	ch_conn_free(&c->conn);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->wake_cv);
	pthread_cond_destroy(&c->done_cv);
	free(c);
}

/* ---- retention, stats ------------------------------------------------------------------ */

int ch_retention(srv_store *base, int64_t now_ns, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	if (c->o.retention_ns <= 0)
		return 0;
	int64_t cut = now_ns - c->o.retention_ns;
	if (cut <= 0)
		return 0;
	/* days d with (d + 1) * DAY <= cut */
	int64_t last = cut / DAY_NS - 1;
	if (last < 0)
		return 0;
	char sql[512], day[16];
	time_t t = (time_t)(last * 86400);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	snprintf(sql, sizeof sql, "SELECT DISTINCT toYYYYMMDD(day) FROM profiles WHERE day <= '%s'"
		 " UNION ALL SELECT DISTINCT toYYYYMMDD(day) FROM metrics WHERE day <= '%s'"
		 " FORMAT TabSeparated", day, day);
	sbuf r = { 0 };
	int rc = ch_select(&c->conn, sql, &r, err);
	size_t pos = 0, ndrop = 0;
	char *f[1];
	size_t fl[1];
	long done[4096];
	size_t nd = 0;
	while (!rc && tsv_row((char *)r.p, r.n - 1, &pos, f, fl, 1) == 1) {
		long part = strtol(f[0], NULL, 10);
		bool seen = false;
		for (size_t i = 0; i < nd; i++)
			seen |= done[i] == part;
		if (seen || nd == sizeof done / sizeof done[0])
			continue;
		done[nd++] = part;
		static const char *const parted[] = { "profiles", "samples", "samples_hour",
						      "samples_svc_hour", "metrics" };
		for (size_t i = 0; i < sizeof parted / sizeof parted[0] && !rc; i++) {
			if (c->conn.cluster)
				snprintf(sql, sizeof sql, "ALTER TABLE %s.%s_local ON CLUSTER %s"
					 " DROP PARTITION %ld", c->conn.db, parted[i],
					 c->conn.cluster, part);
			else
				snprintf(sql, sizeof sql, "ALTER TABLE %s DROP PARTITION %ld",
					 parted[i], part);
			rc = run(c, sql, err);
		}
		if (!rc)
			ndrop++;
	}
	sb_free(&r);
	return rc ? rc : (int)ndrop;
}

void ch_stats(srv_store *base, srv_store_stats *st)
{
	srv_ch *c = (srv_ch *)base;
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	pthread_mutex_unlock(&c->mu);
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT sum(bytes) FROM %ssystem.parts WHERE database = '%s'"
		 " AND active FORMAT TabSeparated", "", c->conn.db);
	sbuf r = { 0 };
	if (!ch_exec(&c->conn, sql, NULL, 0, &r, NULL)) {
		sb_put(&r, "", 1);
		st->disk_bytes = strtoull((const char *)r.p, NULL, 10);
	}
	sb_free(&r);
}

/* The rollup is a materialized view that ClickHouse keeps current. */
static int ch_rollup_sync(srv_store *base, cprof_error *err)
{
	return 0;
}

const srv_store_ops ch_ops = {
	.name = "clickhouse",
	.close = ch_close,
	.append = ch_append,
	.append_metric = ch_append_metric,
	.flush = ch_flush,
	.query = ch_query,
	.series = ch_series_points,
	.metric_series = ch_metric_series,
	.listing = ch_labels,
	.snapshots = ch_snapshots,
	.snapshot_get = ch_snapshot_get,
	.retention = ch_retention,
	.rollup_sync = ch_rollup_sync,
	.stats = ch_stats,
	.walk = ch_walk,
	.times = ch_times,
	.days = ch_days,
};
