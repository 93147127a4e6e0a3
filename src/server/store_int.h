/*
 * store_int.h - internals of the SQLite store (store_*.c): the packed
 * encodings, the hash maps, the dictionary and the store object.
 *
 * Layout on disk (DIR/):
 *   LOCK            flock'd while a process has the store open
 *   meta.db         series (label sets), services, the per-service
 *                   dictionaries (functions, mappings, locations, stacks,
 *                   sample label sets, each with dense integer ids per
 *                   service), sample-type signatures, pinned snapshots
 *   day-YYYYMMDD.db one UTC day: profiles (one row per profile: series,
 *                   time, duration, sample types, per-type totals and the
 *                   packed samples), rollups (pre-merged samples per
 *                   series and hour or day), rolled (windows rolled up),
 *                   metric points
 * Retention unlinks whole day files.  See docs/ARCHITECTURE.md, "Server
 * storage".
 */
#ifndef CPROF_SRV_STORE_INT_H
#define CPROF_SRV_STORE_INT_H

#include "store.h"

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <pthread.h>
#include <sqlite3.h>

#define TEN_NS (INT64_C(600) * 1000000000)
#define HOUR_NS (INT64_C(3600) * 1000000000)
#define DAY_NS (INT64_C(86400) * 1000000000)
/* rollup levels: 10-minute windows (from raw profiles), hours (from
 * 10-minute rows), days (from hour rows) */
#define ROLL_TEN 1
#define ROLL_HOUR 2
#define ROLL_DAY 3
/* a window is rolled up once data this much newer than its end arrived */
#define ROLL_GRACE_NS (INT64_C(300) * 1000000000)
#define MAX_VTYPES 16
#define SIGS_MAX 4096                   /* distinct sample-type signatures */

/* The dictionary's entry kinds (dict.kind); ids are dense from 1 per
 * (service, kind). */
enum { DICT_FUNC, DICT_MAP, DICT_LOC, DICT_STACK, DICT_LSET, DICT_KINDS };

/* ---- what both backends share (store_shared.c) ----------------- */

/* A profile query's: info zeroed (then its agg set), *out NULL; a bad kind
 * or an empty or negative range is CPROF_EINVAL. */
int srv_query_args(const char *kind, int64_t from_ns, int64_t until_ns, cprof_profile **out,
		   srv_query_info *info, cprof_error *err);
/* A profile to append's: a bad kind, no profile or a negative time or
 * duration is CPROF_EINVAL; more than max_samples samples CPROF_ELIMIT. */
int srv_append_args(const char *kind, int64_t time_ns, int64_t duration_ns,
		    const cprof_profile *p, size_t max_samples, cprof_error *err);
/* The number of step-wide windows over [from, until) into *n; a step that
 * is not positive, a bad range or more than SRV_SERIES_POINTS_MAX windows
 * is CPROF_EINVAL. */
int srv_points_count(int64_t from, int64_t until, int64_t step, size_t *n, cprof_error *err);
/* Window sums over [from, until) by step (srv_points_count windows): one
 * row of n windows for the whole and one per series (nseries, 0 for the
 * whole alone), and n points to emit.  Owned by the caller; free with
 * srv_wins_free (also after a failed init). */
typedef struct srv_wins {
	double *sum;
	uint64_t *cnt;
	size_t n;                       /* windows per series */
	srv_point *pts;
} srv_wins;
int srv_wins_init(srv_wins *w, size_t nseries, int64_t from, int64_t until, int64_t step,
		  cprof_error *err);
void srv_wins_free(srv_wins *w);
/* A series' -focus regexp (UTF-8, invalid UTF-8 in names never matches)
 * into *re (NULL without one; the caller frees it with pcre2_code_free);
 * a bad one is CPROF_EINVAL naming PCRE2's reason. */
int srv_focus_re(const char *focus, pcre2_code **re, cprof_error *err);
/* Append a copy of s to l (cap: l->v's capacity); false when out of
 * memory. */
bool srv_strlist_add(srv_strlist *l, size_t *cap, const char *s);
/* A metric's series kind, "#" and its name (1 to 200 bytes), into kind;
 * a bad name or a negative time is CPROF_EINVAL. */
#define SRV_METRIC_KIND_MAX 208
int srv_metric_kind(const char *name, int64_t time_ns, char kind[SRV_METRIC_KIND_MAX],
		    cprof_error *err);

/* ---- bytes and varints (store_codec.c) ------------------------------- */

typedef struct sbuf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
} sbuf;

void sb_reset(sbuf *b);
void sb_free(sbuf *b);
void sb_put(sbuf *b, const void *p, size_t n);
void sb_uv(sbuf *b, uint64_t v);
void sb_sv(sbuf *b, int64_t v);            /* zigzag */
void sb_str(sbuf *b, const char *s, size_t n);  /* length + bytes */

typedef struct rd {
	const uint8_t *p;
	size_t n, i;
	bool bad;
} rd;

uint64_t rd_uv_slow(rd *r);
/* a varint (one-byte values, the common case, inline) */
static inline uint64_t rd_uv(rd *r)
{
	if (r->i < r->n && r->p[r->i] < 0x80)
		return r->p[r->i++];
	return rd_uv_slow(r);
}
static inline int64_t rd_sv(rd *r)
{
	uint64_t u = rd_uv(r);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}
/* a length-prefixed string: pointer into the buffer and its length */
const char *rd_str(rd *r, size_t *len);

uint64_t srv_hash_bytes(const void *p, size_t n, uint64_t seed);

/* ---- an open-addressed map from a nonzero 64-bit key to a 32-bit value */

typedef struct u64map {
	uint64_t *k;
	uint32_t *v;
	size_t n, cap;
} u64map;

/* 0 or CPROF_ENOMEM; *v gets the value, *found whether it was there (when
 * not, the slot is created with value 0 for the caller to fill). */
int u64map_slot(u64map *m, uint64_t key, uint32_t **v, bool *found);
bool u64map_get(const u64map *m, uint64_t key, uint32_t *v);
void u64map_del(u64map *m, uint64_t key);
void u64map_free(u64map *m);
void u64map_clear(u64map *m);

/* ---- sample accumulation (store_codec.c) ----------------------------
 * Sums (stack, lset) -> values for one group (a service and a sample-type
 * signature).  Used by ingest (combining a profile's equal samples), by
 * rollups and by queries. */

#define ACC_DENSE_MAX (1u << 22)

typedef struct acc {
	int nv;                         /* values per sample */
	u64map idx;                     /* (stack << 32 | lset) + 1 -> row */
	uint32_t *dense;                /* stack -> row + 1, for lset 0 and
					 * stack < ACC_DENSE_MAX (no hashing) */
	size_t dense_cap;
	uint64_t *key;                  /* row -> stack << 32 | lset */
	int64_t *val;                   /* row * nv */
	size_t n, cap;
	uint64_t nprofiles;
	int64_t duration_sum, tmin, period;
} acc;

void acc_init(acc *a, int nv);
void acc_free(acc *a);
void acc_clear(acc *a);
int acc_add(acc *a, uint32_t stack, uint32_t lset, const int64_t *vals);
/* Add every sample of a packed blob (as acc_pack writes it).
 * CPROF_EFORMAT on a broken blob. */
int acc_add_packed(acc *a, const void *blob, size_t len);
/* Add all of src into a (same nv). */
int acc_add_acc(acc *a, const acc *src);
/* Pack a's rows sorted by key: count, then per row delta-coded stack,
 * lset, zigzag values. */
int acc_pack(const acc *a, sbuf *out);
/* Divide every value by d, rounded half away from zero. */
void acc_div(acc *a, uint64_t d);

/* ---- the store --------------------------------------------------------- */

/* ---- the cache of merged rollup windows (store_wcache.c) ---------------- */

/* One (signature, service) accumulator of a cached window: a copy of the
 * acc's rows (key, val, n, nv) and counts, without its index (idx and
 * dense empty), so it is read only, added into another acc with
 * acc_add_acc. */
typedef struct wc_group {
	uint8_t *sig;
	size_t siglen;
	uint32_t svc;
	acc rows;
} wc_group;

/* A window merged over a selector's series: immutable once put. */
typedef struct wc_entry wc_entry;
struct wc_entry {
	wc_group *g;
	size_t ng;
	int64_t *series;                /* ids of the series with rows */
	size_t nseries, capseries;
	size_t nrows, nprofiles;        /* rollup rows read, profiles they hold */
	size_t bytes;
	bool ok;                        /* false: an allocation failed */
	/* the cache's (under its lock) */
	char *key;
	size_t keylen;
	uint64_t hash, epoch;
	unsigned refs;
	bool linked;
	wc_entry *prev, *next, *hnext;
};

typedef struct wcache wcache;
#define WC_DEFAULT_BYTES ((size_t)256 << 20)
/* A cache of at most max_bytes (NULL when out of memory). */
wcache *wc_new(size_t max_bytes);
void wc_free(wcache *c);
/* The entry of key built at epoch (a reference: wc_release it), or NULL;
 * an entry of another epoch is dropped.  c may be NULL (no cache). */
wc_entry *wc_get(wcache *c, const void *key, size_t len, uint64_t epoch);
void wc_release(wcache *c, wc_entry *e);
/* Keep e (built by the caller with wc_entry_new and the adds below) under
 * key and epoch; the cache owns e after the call (freed at once when it is
 * not kept: an allocation failed, too large, or c NULL). */
void wc_put(wcache *c, wc_entry *e, const void *key, size_t len, uint64_t epoch);
void wc_counts(wcache *c, uint64_t *hits, uint64_t *misses, uint64_t *evicted, size_t *bytes);
wc_entry *wc_entry_new(void);
void wc_entry_free(wc_entry *e);
/* Copy a's rows and counts as a group of e (e->ok false on failure). */
void wc_entry_add_group(wc_entry *e, const void *sig, size_t siglen, uint32_t svc, const acc *a);
/* Note series id as having rows (ids come in order; repeats ignored). */
void wc_entry_add_series(wc_entry *e, int64_t id);

/* ---- the cache of dictionary entries (store_dcache.c) ------------------ */
typedef struct dcache dcache;
#define DC_DEFAULT_BYTES ((size_t)64 << 20)
dcache *dc_new(size_t max_bytes);
void dc_free(dcache *c);
/* Copy the data of entry (svc, kind, id) into out: 1 when cached, else 0
 * (c may be NULL).  Thread-safe. */
int dc_get(dcache *c, uint32_t svc, int kind, uint32_t id, sbuf *out);
/* Keep a copy of an entry's data (c may be NULL).  Thread-safe. */
void dc_put(dcache *c, uint32_t svc, int kind, uint32_t id, const void *data, size_t len);

/* ---- pooled read connections to day files (store_pool.c) -------------- */
#define SRV_POOL_MAX 16
typedef struct srv_pooled {
	sqlite3 *db;
	int32_t day;
	uint64_t dev, ino;              /* the file it opened */
} srv_pooled;

/* One series, as kept in memory. */
typedef struct sseries {
	int64_t id;
	char *kind;                     /* profile kind, or "#name" for metrics */
	uint32_t svc;
	srv_label *lv;                  /* sorted; strings in one block */
	size_t nl;
	char *block;                    /* owns the label strings */
	int64_t first_ns, last_ns;      /* times with data (profiles or points) */
	bool dirty;                     /* first/last to write at flush */
} sseries;

/* One day partition's write side. */
typedef struct sday {
	int32_t day;                    /* days since the epoch */
	sqlite3 *db;
	bool in_tx;
	sqlite3_stmt *ins_profile, *ins_metric;
} sday;

#define MAX_OPEN_DAYS 4

typedef struct sq_store sq_store;
struct sq_store {
	srv_store base;                 /* ops: the SQLite table; first */
	char *dir;
	srv_store_opts o;
	int lockfd;
	pthread_mutex_t mu;             /* everything below */

	sqlite3 *meta;                  /* write connection of meta.db */
	bool meta_in_tx;
	sqlite3_stmt *ins_series, *upd_series, *ins_svc, *ins_dict, *ins_pinned;

	sday days[MAX_OPEN_DAYS];       /* write connections, LRU by use */
	uint64_t day_use[MAX_OPEN_DAYS];
	uint64_t use_clock;

	/* series */
	sseries *series;                /* by index; ids are index + 1 */
	size_t nseries, capseries;
	u64map series_idx;              /* hash(kind, labels) -> index + 1 */

	/* services: name -> id (index + 1); the dictionaries' next ids */
	char **svc_name;
	uint32_t (*svc_next)[DICT_KINDS];
	size_t nsvc, capsvc;

	u64map dict;                    /* hash(svc, table, content) -> id */
	/* a dictionary collection's mark phase is running (store_gc.c):
	 * the entries ingest finds meanwhile, svc << 40 | kind << 32 | id */
	bool gc_active, gc_oom;
	u64map gc_touched;

	/* batching */
	size_t pending;
	int64_t pending_since;          /* monotonic ns of the first pending */
	int64_t watermark;              /* newest profile time appended */

	/* rollups (store_rollup.c): window keys are wkey(level, start) */
	u64map rolled;                  /* windows rolled up -> 1 */
	u64map touched;                 /* 10-minute windows with raw data not
					 * rolled -> generation (bumped by each
					 * append) */
	pthread_t roller;
	bool roller_started, stopping;
	pthread_cond_t roll_cv;

	pthread_mutex_t pool_mu;        /* pool, npool (store_pool.c) */
	srv_pooled pool[SRV_POOL_MAX];
	size_t npool;
	/* the cache of merged windows (store_wcache.c; NULL: none) and
	 * its epoch, bumped when rolled-up rows are deleted (a late
	 * profile's invalidation once committed, retention) */
	wcache *wc;
	dcache *dc;                     /* dictionary entries (store_dcache.c) */
	uint64_t wc_epoch;
	bool wc_dirty;                  /* an invalidation awaits its commit */
	uint64_t days_dropped;          /* retention's count: a rollup built
					 * across a drop is not written */

	srv_store_stats st;
	bool broken;                    /* a commit failed: refuse appends */

	/* sample-type signatures by id (meta.db's sigs): entries are
	 * immutable once published; nsig is stored with release order, so
	 * readers may read entries below it without the lock */
	uint8_t *sigp[SIGS_MAX];
	size_t sigl[SIGS_MAX];
	size_t nsig;
	u64map sig_idx;                 /* hash(signature) -> id */
	sqlite3_stmt *ins_sig;
};

static inline int64_t wlen(int level)
{
	return level == ROLL_TEN ? TEN_NS : level == ROLL_HOUR ? HOUR_NS : DAY_NS;
}
static inline uint64_t wkey(int level, int64_t start_ns)
{
	return ((uint64_t)level << 56) | ((uint64_t)(start_ns / TEN_NS) + 1);
}
static inline int64_t wkey_start(uint64_t k)
{
	return (int64_t)((k & ((UINT64_C(1) << 56) - 1)) - 1) * TEN_NS;
}
static inline int wkey_level(uint64_t k)
{
	return (int)(k >> 56);
}

/* ---- the SQLite backend's operations (srv_store_ops, store.h) ---------
 * Each has the contract of the srv_store_* call it implements; base is a
 * sq_store. */
extern const srv_store_ops sq_ops;
srv_store_close_fn sq_close;
srv_store_append_fn sq_append;
srv_store_append_metric_fn sq_append_metric;
srv_store_flush_fn sq_flush;
srv_store_query_fn sq_query;
srv_store_series_fn sq_series;
srv_store_metric_series_fn sq_metric_series;
srv_store_listing_fn sq_listing;
srv_store_snapshots_fn sq_snapshots;
srv_store_snapshot_get_fn sq_snapshot_get;
srv_store_retention_fn sq_retention;
srv_store_rollup_sync_fn sq_rollup_sync;
srv_store_stats_fn sq_get_stats;
/* store_walk.c */
srv_store_walk_fn sq_walk;
srv_store_walk_fn sq_times;
srv_store_days_fn sq_days;

/* ---- internal calls between the store's files ------------------------- */

int64_t mono_ns(void);
int srv_sql_err(sqlite3 *db, int rc, const char *what, cprof_error *err);
/* Open a connection to file (WAL, busy timeout, schema): 0 or CPROF_EIO. */
int srv_db_open(const char *path, bool meta, sqlite3 **out, cprof_error *err);
/* The path of day file day into buf. */
void srv_day_path(const sq_store *s, int32_t day, char *buf, size_t n);
/* The days with a file, sorted (malloc'd *out). */
int srv_list_days(const sq_store *s, int32_t **out, size_t *n, cprof_error *err);
/* The write side of day (opening it, beginning its transaction); the
 * caller holds s->mu. */
int srv_day_w(sq_store *s, int32_t day, sday **out, cprof_error *err);
/* Commit pending work; the caller holds s->mu. */
int srv_flush_locked(sq_store *s, cprof_error *err);
/* Delete the dictionary entries no row of the day files now in the
 * directory and no pinned snapshot references; *ndel: how many
 * (store_gc.c).  The caller holds s->mu. */
int srv_dict_gc(sq_store *s, size_t *ndel, cprof_error *err);
/* Encode p's tables into service svc's dictionary (creating entries in the
 * open meta transaction) and its samples into *blob (acc_pack) and its
 * per-type totals into *totals.  Caller holds s->mu. */
int srv_dict_encode(sq_store *s, uint32_t svc, const cprof_profile *p, sbuf *blob,
		    sbuf *totals, size_t *nsamples, cprof_error *err);
/* The sample-type signature of p (packed: period type and unit, number
 * of sample types, each type and unit, default type), the grouping key of
 * profiles that merge without conversion. */
int srv_vtypes_sig(const cprof_profile *p, sbuf *out);
/* The id of signature sig (created in the open meta transaction when
 * new; caller holds s->mu): 0 or a negative CPROF_E* code. */
int srv_sig_id(sq_store *s, const sbuf *sig, uint32_t *id, cprof_error *err);
/* The signature in column col of a row: an id (resolved from memory), or
 * a blob (rows written before signatures had ids).  false: unknown id.
 * Thread-safe. */
bool srv_sig_resolve(sq_store *s, sqlite3_stmt *st, int col, const void **p, size_t *n);
/* The number of sample types in a signature, or -1 when it is broken. */
int srv_sig_nv(const void *sig, size_t len);
/* The index of sample type name in a signature (NULL: its default, else
 * the last, pprof's rule), or -1. */
int srv_sig_find(const void *sig, size_t len, const char *name);

/* Query side: rebuild a profile from accumulated (stack, lset) rows of a
 * service's dictionary, read through the read connection meta. */
typedef struct srv_builder srv_builder;
/* Read dictionary entries through dc (NULL: from meta.db only). */
void srv_builder_use_cache(srv_builder *b, dcache *dc);
srv_builder *srv_builder_new(sqlite3 *meta, const void *sig, size_t siglen,
			     cprof_error *err);
int srv_builder_add(srv_builder *b, uint32_t svc, const acc *a, cprof_error *err);
/* Finish: the profile (owned by the caller), with time/duration/period. */
int srv_builder_finish(srv_builder *b, int64_t time_ns, int64_t duration_ns, int64_t period,
		       cprof_profile **out, cprof_error *err);
void srv_builder_free(srv_builder *b);
/* Whether service svc's stack id has a frame whose function name matches
 * the (unanchored) regexp re; cache per call site.  -1 on error. */
int srv_stack_focus(sqlite3 *meta, uint32_t svc, uint32_t stack, void *re, u64map *cache);

/* A series as a query sees it (copied out of the store under the lock). */
typedef struct qseries {
	int64_t id;
	uint32_t svc;
	srv_labels labels;      /* points into the copy's block */
	srv_label *lv;
	char *block;
} qseries;

typedef struct qset {
	qseries *v;
	size_t n;
} qset;

void srv_qset_free(qset *q);
/* Copy the series of kind (exact; "#name" for metrics; NULL: any kind)
 * matching sel with data in [from, until) (0, 0: any time), after
 * flushing pending appends.  want_labels: copy their labels too. */
int srv_select_series(sq_store *s, const srv_selector *sel, const char *kind, int64_t from,
		      int64_t until, bool want_labels, qset *out, cprof_error *err);
/* Read connections (no schema work): a file, and meta.db. */
int srv_open_ro(const char *path, sqlite3 **db, cprof_error *err);
int srv_open_meta(sq_store *s, sqlite3 **db, cprof_error *err);

/* A day's read plan (store_query.c): raw rows with time in [lo, hi)
 * (level 0), or rollup rows of level with wstart in [lo, hi). */
typedef struct srv_seg {
	int level;
	int64_t lo, hi;
} srv_seg;
#define SRV_MAX_SEGS 400
typedef struct srv_plan {
	int64_t bucket_from, step;      /* step > 0: a rollup window is used only
					 * when it lies in one bucket
					 * [bucket_from + k*step, +step) */
	srv_seg segs[SRV_MAX_SEGS];
	int nseg;
} srv_plan;
/* Plan [from, until) within day (db: its file, in a read transaction):
 * whole rolled-up windows (day, hour, 10 minutes) where they fit, raw
 * rows elsewhere; rollups false: raw only. */
void srv_plan_day(sqlite3 *db, int32_t day, int64_t from, int64_t until, bool rollups,
		  srv_plan *d);

/* The days of a range, each open in a read transaction with its plan
 * and two statements: raw_sql (?1 series, ?2 from, ?3 until) and
 * roll_sql (the same, ?4 level).  A day without a file has db NULL.
 * srv_days_close(days, number of days) frees (NULL accepted). */
typedef struct srv_qday {
	sqlite3 *db;
	int32_t day;
	uint64_t dev, ino;              /* for srv_pool_give */
	srv_plan pl;
	sqlite3_stmt *raw, *roll;
} srv_qday;
int srv_days_open(sq_store *s, int64_t from, int64_t until, int64_t bucket_from, int64_t step,
		  bool rollups, const char *raw_sql, const char *roll_sql, srv_qday **out,
		  cprof_error *err);
void srv_days_close(sq_store *s, srv_qday *days, size_t nd);
/* A read connection to day's file path (pooled, or opened; (dev, ino)
 * identify the file), and back into the pool after its transaction. */
int srv_pool_take(sq_store *s, int32_t day, const char *path, sqlite3 **db, uint64_t *dev,
		  uint64_t *ino, cprof_error *err);
void srv_pool_give(sq_store *s, int32_t day, const char *path, sqlite3 *db, uint64_t dev,
		   uint64_t ino);
/* Close the pooled connections of day (retention dropped it). */
void srv_pool_forget_day(sq_store *s, int32_t day);
/* Close every pooled connection (no query may run). */
void srv_pool_close(sq_store *s);

/* Rollups. */
int srv_roller_start(sq_store *s, cprof_error *err);
void srv_roller_stop(sq_store *s);
/* Note an append at time t (caller holds s->mu; may invalidate). */
int srv_roll_touch(sq_store *s, int64_t t, cprof_error *err);
/* Load rolled and touched windows from the day files at open. */
int srv_roll_load(sq_store *s, cprof_error *err);
/* Forget the windows of day (its file was dropped); caller holds s->mu. */
void srv_roll_forget_day(sq_store *s, int32_t day);

#endif
