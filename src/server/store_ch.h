/*
 * store_ch.h - internals of the ClickHouse store (store_ch*.c, ch_http.c):
 * the HTTP client, the in-memory dictionaries, the ingest queue and the
 * backend's operations table (srv_store_ops), which srv_store_open picks
 * for a clickhouse://HOST:PORT[,HOST:PORT...]/DATABASE URL.
 *
 * Schema (database DATABASE; see docs/ARCHITECTURE.md, "Server on
 * ClickHouse"):
 *   meta      (key, value)                 schema version (migrations)
 *   series    (id UInt64, kind, svc, labels)   id = hash(kind, labels)
 *   writers   (w UInt32, token UInt64)   writer numbers claimed at open
 *   stacks    (svc UInt64, id UInt64, hash UInt64, data)  id = writer
 *             number << 32 | a counter per service (store_ch_dict.c);
 *             hash = content key; data = locations (mapping, address
 *             relative to it, lines with their functions) and the
 *             sample's labels
 *   profiles  (day, series, t, duration, period, sig, totals)  one row per
 *             profile
 *   samples   (day, svc, series, t, sig, stack, l0..l3, h0..h3, vx, m0..m3)
 *             one row per distinct stack of a profile; the first four
 *             values are CH_V(k) = (hk * 256 + lk) * greatest(mk, 1):
 *             lk UInt8 the low byte, hk Int64 the rest, mk the profile's
 *             common divisor of value k (0: none).  ZSTD (level 1, as
 *             ClickHouse runs it) spends a sequence on every 8-byte value
 *             with a nonzero low byte and zero high bytes, about 0.25
 *             bytes even for a constant; small values split this way cost
 *             their entropy in lk and next to nothing in hk.  Other
 *             values in vx Array(Int64)
 *   samples_hour  AggregatingMergeTree (day, series, sig, hour, stack,
 *             sumForEachState(v)) fed by a materialized view on samples
 *   metrics   (day, series, t, value)
 *   pinned    (id, rule, series, t, duration, period, sig, stacks, vals)
 * day-partitioned tables: PARTITION BY toYYYYMMDD(day); retention drops
 * partitions; pinned is not day-partitioned and never dropped.
 */
#ifndef CPROF_SRV_STORE_CH_H
#define CPROF_SRV_STORE_CH_H

/* Value k of a samples row, as SQL (see samples above). */
#define CH_V(k) "((h" #k " * 256 + l" #k ") * greatest(m" #k ", 1))"

#include "store_int.h"

/* ---- HTTP client (ch_http.c) ----------------------------------------- */

#define CH_MAX_HOSTS 16

typedef struct ch_conn {
	char *hosts[CH_MAX_HOSTS];      /* "host:port" */
	size_t nhosts;
	char *db;                       /* database name ([A-Za-z0-9_]+) */
	char *user, *password;          /* NULL: none */
	char *cluster;                  /* NULL: one node; else cluster name */
	long timeout_ms;                /* per request */
	long connect_ms;
	size_t buffer_bytes;             /* ingest queue bound; 0: default */
	unsigned next;                  /* host to try first (rotates) */
} ch_conn;

/* Parse url "clickhouse://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT]/DB[?k=v&...]"
 * (options: cluster=NAME, timeout=DURATION, buffer=MB; user and password also from
 * CPROF_CLICKHOUSE_USER / CPROF_CLICKHOUSE_PASSWORD).  0 or CPROF_EINVAL
 * naming the problem. */
int ch_conn_parse(const char *url, ch_conn *c, cprof_error *err);
void ch_conn_free(ch_conn *c);

/* POST sql (with body appended after it when body != NULL, for INSERT ...
 * FORMAT TabSeparated) to one of the hosts; on a connection failure the
 * next host is tried.  The response body goes to *out (may be NULL).
 * 0, or CPROF_EIO with one line naming the host and what failed
 * (ClickHouse's own message, a timeout, a refused connection).
 * Thread-safe (one curl handle per call). */
int ch_exec(ch_conn *c, const char *sql, const void *body, size_t bodylen, sbuf *out,
	    cprof_error *err);

/* ch_exec of a query with no body, the answer NUL-terminated in *out
 * (r.n - 1 bytes are the answer, as tsv_row wants them). */
int ch_select(ch_conn *conn, const char *sql, sbuf *out, cprof_error *err);

/* The UTC date (YYYY-MM-DD) or, with_time, date and time
 * (YYYY-MM-DDTHH:MM:SSZ) of ns since the epoch into buf[0..n): ClickHouse's
 * literals.  Thread-safe. */
void ch_utc_str(int64_t ns, bool with_time, char *buf, size_t n);

/* TabSeparated helpers: append s[0..n) escaped; unescape a field in place
 * (returns its new length). */
void tsv_put(sbuf *b, const void *s, size_t n);
size_t tsv_unescape(char *s, size_t n);
/* Split the next line of a TSV response into at most max fields (in place,
 * unescaped, NUL-terminated; lens filled).  *pos advances.  Returns the
 * number of fields, 0 at the end.  buf[len] must be writable. */
size_t tsv_row(char *buf, size_t len, size_t *pos, char **f, size_t *lens, size_t max);

/* ---- dictionaries (store_ch_dict.c) ---------------------------------- */

typedef struct ch_svc {
	char *name;
	uint64_t hash;                  /* the svc column */
	u64map byid;                    /* stack id -> local id (this process) */
	u64map bykey;                   /* content key -> local id */
	sbuf arena;                     /* stack blobs */
	uint64_t *off;                  /* local id -> offset << 24 | length */
	uint64_t *ids;                  /* local id -> a stack id of it */
	size_t noff, capoff, capids;    /* noff: local ids in use + 1 */
	uint32_t next;                  /* this writer's last counter here */
} ch_svc;

typedef struct srv_ch srv_ch;

/* The local id of p's sample si in service v (v->ids[*local] is its
 * stack id; new stacks are queued for insertion); lh: p->locations.n
 * zeroed words, a per-profile memo of location hashes.  Caller holds the
 * store's lock. */
int ch_stack_id(srv_ch *c, ch_svc *v, const cprof_profile *p, size_t si, uint64_t *lh,
		uint32_t *local, cprof_error *err);
/* Service by name (created). */
ch_svc *ch_svc_get(srv_ch *c, const char *name);
/* The local ids of stack ids[0..n) of v into locals (fetching the
 * unknown ones from ClickHouse; two ids of one content give one local
 * id).  Caller holds the lock. */
int ch_stacks_resolve(srv_ch *c, ch_svc *v, const uint64_t *ids, size_t n, uint32_t *locals,
		      cprof_error *err);
/* Add stack id with content key and blob (*local, may be NULL, gets its
 * local id; an id or key known already keeps its entry).  0,
 * CPROF_ENOMEM, or CPROF_EFORMAT (id 0, blob too large). */
int ch_stack_put(ch_svc *v, uint64_t id, uint64_t key, const void *blob, size_t len,
		 uint32_t *local);
/* Append local stack id of v (blob known) as a sample with values vals to the
 * profile being built (ctx: dedup maps of mappings, functions,
 * locations).  */
typedef struct ch_build {
	cprof_profile *p;
	u64map maps, funcs, locs;
} ch_build;
int ch_build_add(ch_build *b, const ch_svc *v, uint32_t id, const int64_t *vals,
		 cprof_error *err);
void ch_build_free(ch_build *b);
/* Whether local stack id of v has a frame whose function name matches re. */
int ch_stack_focus(const ch_svc *v, uint32_t id, void *re);

/* ---- the store (store_ch.c) --------------------------------------------- */

/* A queued insert: one table's TSV rows. */
typedef struct ch_batch {
	sbuf rows[5];                   /* profiles, samples, metrics, pinned, series */
	bool done[5];
	size_t nprofiles, nmetrics;
	int64_t tmin, tmax;
	struct ch_batch *next;
} ch_batch;

enum { CHT_PROFILES, CHT_SAMPLES, CHT_METRICS, CHT_PINNED, CHT_SERIES, CHT_N };

typedef struct ch_series {
	uint64_t id;
	char *kind;
	ch_svc *svc;
	srv_label *lv;
	size_t nl;
	char *block;
} ch_series;

struct srv_ch {
	srv_store base;                 /* ops: the ClickHouse table; first */
	ch_conn conn;
	uint32_t writer;                /* this store's writer number (ids) */
	uint64_t token;                 /* its claim in the writers table */
	srv_store_opts o;
	int64_t svc_roll_from;          /* samples_svc_hour is whole from here (ns; set at open) */
	pthread_mutex_t mu;             /* everything below */
	ch_svc **svcs;
	size_t nsvcs, capsvcs;
	ch_series *series;
	size_t nseries, capseries;
	u64map series_idx;              /* id -> index + 1 */
	sbuf stack_rows;                /* new stacks not yet inserted (never dropped) */
	sbuf series_rows;               /* new series not yet inserted (never dropped) */
	ch_batch *head, *tail;          /* queued batches, oldest first */
	ch_batch *cur;                  /* the open batch (== tail) */
	size_t queued_bytes, max_queue_bytes;
	int64_t backoff_ns;
	int64_t retry_at;               /* monotonic ns: no flush before (backoff) */
	int64_t pending_since;
	size_t pending;
	uint64_t dropped_profiles, dropped_metrics;
	srv_store_stats st;
	pthread_t flush_thread;
	pthread_cond_t wake_cv;         /* wakes the flusher */
	pthread_cond_t done_cv;         /* a flush turn ended */
	bool flusher_started, stopping, want_flush;
	bool flushing;                  /* a thread has the flush turn */
};

/* The ClickHouse backend's operations (srv_store_ops, store.h): each has
 * the contract of the srv_store_* call it implements (ch_labels is the
 * listing entry); base is a srv_ch. */
extern const srv_store_ops ch_ops;
srv_store_close_fn ch_close;
srv_store_append_fn ch_append;
srv_store_append_metric_fn ch_append_metric;
srv_store_flush_fn ch_flush;
srv_store_query_fn ch_query;
srv_store_series_fn ch_series_points;
srv_store_metric_series_fn ch_metric_series;
srv_store_listing_fn ch_labels;
srv_store_snapshots_fn ch_snapshots;
srv_store_snapshot_get_fn ch_snapshot_get;
srv_store_retention_fn ch_retention;
srv_store_stats_fn ch_stats;
srv_store_walk_fn ch_walk;
srv_store_walk_fn ch_times;
srv_store_days_fn ch_days;

/* Internal between store_ch*.c.  Flush now (after the flusher's turn, if
 * it has one); called and returns with c->mu held (released meanwhile). */
int ch_flush_locked(srv_ch *c, cprof_error *err);
/* Reload the series table (new series written by other servers). */
int ch_series_reload(srv_ch *c, cprof_error *err);
/* Table name for queries (the Distributed table on a cluster). */
const char *ch_tbl(const srv_ch *c, const char *name, char *buf, size_t n);

#endif
