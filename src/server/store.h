/*
 * store.h - the continuous-profiling server's storage interface: series of
 * timestamped profiles and metric points, label selectors, time parsing.
 *
 * This is the one header the server's front half (HTTP, scraping, push
 * ingest, rules) programs against.  A store is a backend behind an
 * operations table (srv_store_ops, at the end): srv_store_open picks the
 * backend from the storage URL (a directory: SQLite, store_sqlite.c and
 * the store_*.c it uses; "clickhouse://...": ClickHouse, store_ch*.c), and
 * every srv_store_* call checks its arguments once (store.c) and forwards
 * to the table.  Layering: this header and its
 * implementation depend on the profile core (cprof_core.h) only, never on
 * src/cli.
 *
 * Model.  A series is a label set (sorted, unique names) plus a profile
 * KIND: "cpu", "heap", "allocs", "mutex", "block", "goroutine",
 * "threadcreate", or any other name of [a-z0-9_.-]{1,64} (a pushed
 * application's own kind).  Each stored profile belongs to one series and
 * has a time (ns since the epoch: its start) and a duration.  Pinned
 * profiles (snapshots taken by a rule) are kept apart: they are never part
 * of a range merge, retention never drops them, and they are listed and
 * fetched by id (srv_store_snapshots, srv_store_snapshot_get).
 *
 * Aggregation over a range (as Pyroscope's aggregationType): counter
 * kinds (cpu, allocs, mutex, block and every kind not listed as a gauge)
 * are SUMMED over the profiles in the range; gauge kinds (heap, goroutine,
 * threadcreate) are AVERAGED per series over that series' profiles in the
 * range (rounded half away from zero), and the series' averages summed: a
 * 30 MB heap held for an hour shows 30 MB per instance, not 30 MB times the
 * number of scrapes.  srv_kind_agg tells which; srv_query_info says which
 * one a query used.
 *
 * Time ranges are half open: a profile at time t is in [from, until) when
 * from <= t < until.
 *
 * Errors: every function that can fail returns 0 or a negative CPROF_E*
 * code and fills the cprof_error (may be NULL) with one line naming what is
 * wrong (CPROF_EINVAL: bad argument or selector; CPROF_ELIMIT: a limit
 * such as max_series; CPROF_EIO: the database; CPROF_ENOMEM).
 *
 * Threads: a srv_store is thread-safe: any number of threads may append,
 * query and list at once (appends are serialized on one lock; a query
 * reads committed data on its own connections, so a long query does not
 * stop ingest).  Nothing here is async-signal-safe.
 *
 * Compatibility: this interface only grows compatibly; a breaking change is
 * announced in this comment.
 */
#ifndef CPROF_SRV_STORE_H
#define CPROF_SRV_STORE_H

#include "cprof_core.h"
#include "cprof_util.h"   /* the core's shared toolbox (not installed) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- labels ---------------------------------------------------------- */

/* One label.  In a srv_labels the labels are sorted by name (strcmp) and
 * names are unique; srv_labels_sort sorts and checks an array.  Names
 * match [A-Za-z_][A-Za-z0-9_.]* (at most SRV_LABEL_NAME_MAX bytes); values
 * are any bytes but NUL (at most SRV_LABEL_VALUE_MAX bytes). */
typedef struct srv_label {
	const char *name, *value;
} srv_label;

typedef struct srv_labels {
	const srv_label *v;
	size_t n;
} srv_labels;

#define SRV_LABEL_NAME_MAX 128
#define SRV_LABEL_VALUE_MAX 1024
#define SRV_LABELS_MAX 64           /* labels per series */

/* Sort v[0..n) by name in place and check the rules above: 0, or
 * CPROF_EINVAL naming the bad or duplicated label.  Thread-safe. */
int srv_labels_sort(srv_label *v, size_t n, cprof_error *err);

/* The value of label name in l, or NULL.  Thread-safe. */
const char *srv_labels_get(const srv_labels *l, const char *name);

/* A list of malloc'd strings, owned by the list (srv_strlist_free). */
typedef struct srv_strlist {
	char **v;
	size_t n;
} srv_strlist;
void srv_strlist_free(srv_strlist *l);

/* ---- selectors (selector.c) ------------------------------------------ */

typedef enum srv_match_op {
	SRV_MATCH_EQ,               /* name="v"   */
	SRV_MATCH_NE,               /* name!="v"  */
	SRV_MATCH_RE,               /* name=~"re" (anchored, as Prometheus) */
	SRV_MATCH_NRE,              /* name!~"re" */
} srv_match_op;

typedef struct srv_matcher {
	char *name, *value;         /* value unquoted and unescaped */
	srv_match_op op;
	void *re;                   /* private: the compiled PCRE2 code */
} srv_matcher;

/* A parsed selector: all matchers must hold (AND).  As in Prometheus, a
 * label a series does not have matches as the empty string, so {a!="x"}
 * selects series without a, and {} (or the empty text) selects all. */
typedef struct srv_selector {
	srv_matcher *m;
	size_t n;
} srv_selector;

#define SRV_SELECTOR_MAX 4096       /* bytes of selector text */
#define SRV_MATCHERS_MAX 32

/* Parse Prometheus selector text s[0..len): `{name="v", n2=~"re", ...}`,
 * values in double or single quotes or back-quotes with Go's string
 * escapes, whitespace anywhere between tokens, a trailing comma allowed;
 * the empty text and `{}` select everything.  Regexps are PCRE2, anchored
 * at both ends, matched under match and depth limits (a pattern that hits
 * a limit does not match; srv_selector_match never runs away).  On success
 * *out is owned by the caller (srv_selector_free).  CPROF_EINVAL with one
 * line naming the position and the problem otherwise.  Thread-safe. */
int srv_selector_parse(const char *s, size_t len, srv_selector **out, cprof_error *err);
void srv_selector_free(srv_selector *sel);

/* Whether the labels l satisfy every matcher of sel (NULL sel: true).
 * Thread-safe (match data is per call). */
bool srv_selector_match(const srv_selector *sel, const srv_labels *l);

/* ---- time (timeparse.c) ---------------------------------------------- */

/* Parse a time s[0..len) into ns since the epoch: RFC 3339
 * ("2026-12-07T01:02:03Z", "...03.5+01:00"), Unix seconds ("1733533323",
 * with an optional fraction "1733533323.25"), "now", or "now-DURATION" /
 * "now+DURATION" (DURATION as srv_duration_parse).  now_ns is "now".
 * 0 or CPROF_EINVAL naming the text.  Thread-safe, allocation-free. */
int srv_time_parse(const char *s, size_t len, int64_t now_ns, int64_t *out_ns,
		   cprof_error *err);

/* Parse a duration s[0..len) into ns: a sequence of NUMBER UNIT with units
 * ns, us, ms, s, m, h, d (24 h), w (7 d), y (365 d), e.g. "15s", "1h30m",
 * "7d", "1.5h"; a bare number is seconds.  Must be >= 0 and fit int64.
 * 0 or CPROF_EINVAL.  Thread-safe, allocation-free. */
int srv_duration_parse(const char *s, size_t len, int64_t *out_ns, cprof_error *err);

/* ---- kinds ------------------------------------------------------------ */

typedef enum srv_agg {
	SRV_AGG_SUM,                /* counters: values summed over the range */
	SRV_AGG_AVG,                /* gauges: averaged per series, then summed */
} srv_agg;

/* How kind aggregates over a range (gauges: heap, goroutine, threadcreate;
 * everything else sums).  Thread-safe. */
srv_agg srv_kind_agg(const char *kind);
/* "sum" or "average" (Pyroscope's aggregationType words). */
const char *srv_agg_name(srv_agg a);
/* Whether kind is a valid kind name ([a-z0-9_.-]{1,64}). */
bool srv_kind_valid(const char *kind);

/* ---- the store ---------------------------------------------------------- */

typedef struct srv_store srv_store;

typedef struct srv_store_opts {
	int64_t retention_ns;       /* 0: keep everything; else what
				     * srv_store_retention keeps (whole days) */
	size_t batch_profiles;      /* flush after this many appends; 0 = 256 */
	int64_t batch_ns;           /* or when the oldest pending append is this
				     * old (checked at each append); 0 = 1 s */
	size_t max_series;          /* refuse new series beyond it (CPROF_ELIMIT);
				     * 0 = 1,000,000 */
	size_t max_samples;         /* refuse a profile with more samples
				     * (CPROF_ELIMIT); 0 = 1,000,000 */
	bool no_rollups;            /* answer from raw profiles only (tests,
				     * benchmarks of the rollups themselves) */
	size_t query_cache_bytes;   /* SQLite: the ceiling of the cache of
				     * merged rollup windows that range merges
				     * of counters share; 0 = 256 MiB */
	bool no_query_cache;        /* SQLite: no such cache */
} srv_store_opts;

/* Open (creating) the store in directory dir (created with mode 0750 if
 * missing; its parent must exist).  opts may be NULL (defaults).  Data
 * committed before is there again.  *out is owned by the caller
 * (srv_store_close).  Only one process may open a directory at a time
 * (flock on DIR/LOCK): a second open fails with CPROF_EIO, "... is in use
 * by another process".  A background thread builds the rollups (unless
 * opts.no_rollups). */
int srv_store_open(const char *dir, const srv_store_opts *opts, srv_store **out,
		   cprof_error *err);

/* Flush what is pending and close.  NULL is accepted.  No other thread may
 * be using the store. */
void srv_store_close(srv_store *s);

/* Store profile p (not kept: it is encoded into the store's dictionaries
 * before the call returns, so the caller may free it at once) in the
 * series (labels, kind), at time_ns (ns since the epoch, the profile's
 * start) lasting duration_ns.  pinned_rule: NULL for an ordinary profile;
 * else the rule's name and the profile is a pinned snapshot (see the top).
 * Appends are batched: they become durable and visible to queries at the
 * next flush (srv_store_flush, a full batch, batch_ns, or a query's start).
 * A crash loses at most the appends since the last flush.
 * CPROF_EINVAL: bad labels/kind; CPROF_ELIMIT: max_series/max_samples.
 * Thread-safe. */
int srv_store_append(srv_store *s, const srv_labels *labels, const char *kind,
		     int64_t time_ns, int64_t duration_ns, const cprof_profile *p,
		     const char *pinned_rule, cprof_error *err);

/* Store one metric point (a runtime metric from a target's /metrics, or a
 * scrape's `up`): series (labels, name), time, value.  Batched as appends.
 * Thread-safe. */
int srv_store_append_metric(srv_store *s, const srv_labels *labels, const char *name,
			    int64_t time_ns, double value, cprof_error *err);

/* Commit what is pending (one transaction per file touched).  Durable on
 * return (WAL, synchronous=NORMAL: durable across a process crash; across
 * power loss the last transactions may roll back, never corrupt).
 * Thread-safe. */
int srv_store_flush(srv_store *s, cprof_error *err);

/* What a query did. */
typedef struct srv_query_info {
	srv_agg agg;                /* how the values were combined */
	size_t nseries;             /* series that matched and had data */
	size_t nprofiles;           /* profiles combined (rollups count the
				     * profiles they hold) */
	size_t nrollups;            /* rollup rows read (hour or day windows) */
	size_t nraw;                /* raw profile rows read */
} srv_query_info;

/* Merge the profiles of kind whose series match sel (NULL: all) with times
 * in [from_ns, until_ns) into *out (a new profile the caller owns, freed
 * with cprof_profile_free): for counters the result equals cprof_merge of
 * the same profiles (same samples and values; sample order may differ);
 * for gauges, see the top.  Long ranges are answered from 10-minute,
 * hour and day rollups where whole windows lie inside the range (exact:
 * they hold the summed values and the profile counts); raw profiles are
 * read only for the partial 10-minute windows at the ends and windows not
 * rolled up yet.  At most SRV_RANGE_DAYS_MAX days.  The result's time is
 * the first profile's, its duration the sum of durations.  No profile in
 * range: *out is an empty profile (no samples, no sample types) and 0.
 * info may be NULL.  Thread-safe. */
int srv_store_query(srv_store *s, const srv_selector *sel, const char *kind,
		    int64_t from_ns, int64_t until_ns, cprof_profile **out,
		    srv_query_info *info, cprof_error *err);

/* One point of a time series. */
typedef struct srv_point {
	int64_t t_ns;               /* start of the step window */
	double value;
} srv_point;

/* Called once per series with data, with its labels (kind not among
 * them) and its points (one per step window that has data, in time
 * order).  Everything passed lives until the callback returns.  A
 * non-zero return stops the walk (srv_store_series returns it). */
typedef int (*srv_series_cb)(void *ctx, const srv_labels *labels, const srv_point *pts,
			     size_t n);

/* Totals over time per series of kind matching sel, in [from, until),
 * in windows of step_ns (> 0; at most SRV_SERIES_POINTS_MAX windows):
 * each point is the sum (counters) or the average per profile (gauges)
 * of the profiles' totals of sample type sample_type (NULL: each profile's
 * default sample type) in the window.  focus (NULL: none) is a regexp
 * (PCRE2, unanchored, as pprof's -focus): only samples with a frame whose
 * function name matches count.  Answered from the totals kept in profile
 * and rollup rows (no samples decoded) unless focus is given.
 * Thread-safe. */
#define SRV_SERIES_POINTS_MAX 11000
/* Ranges of queries and series span at most this many days. */
#define SRV_RANGE_DAYS_MAX 400
int srv_store_series(srv_store *s, const srv_selector *sel, const char *kind,
		     int64_t from_ns, int64_t until_ns, int64_t step_ns,
		     const char *sample_type, const char *focus, srv_series_cb cb, void *ctx,
		     cprof_error *err);

/* The same for metric points of name (the average of the points in each
 * window).  Thread-safe. */
int srv_store_metric_series(srv_store *s, const srv_selector *sel, const char *name,
			    int64_t from_ns, int64_t until_ns, int64_t step_ns,
			    srv_series_cb cb, void *ctx, cprof_error *err);

/* Label names (sorted, unique) of the series with profiles or metrics
 * in [from, until); from = until = 0: of all series.  Thread-safe. */
int srv_store_labels(srv_store *s, int64_t from_ns, int64_t until_ns, srv_strlist *out,
		     cprof_error *err);
/* Values (sorted, unique) of label name over those series. */
int srv_store_label_values(srv_store *s, const char *name, int64_t from_ns, int64_t until_ns,
			   srv_strlist *out, cprof_error *err);
/* Profile kinds (sorted, unique) stored in [from, until) (0, 0: ever). */
int srv_store_types(srv_store *s, int64_t from_ns, int64_t until_ns, srv_strlist *out,
		    cprof_error *err);

/* A pinned snapshot, as listed. */
typedef struct srv_snapshot {
	int64_t id;                 /* for srv_store_snapshot_get */
	const char *rule;
	const char *kind;
	srv_labels labels;
	int64_t time_ns, duration_ns;
} srv_snapshot;

/* Call cb for each pinned snapshot with time in [from, until) (0, 0: all),
 * newest first; a non-zero return stops the walk and is returned.
 * Everything passed lives until cb returns.  Thread-safe. */
int srv_store_snapshots(srv_store *s, int64_t from_ns, int64_t until_ns,
			int (*cb)(void *ctx, const srv_snapshot *snap), void *ctx,
			cprof_error *err);
/* The profile of snapshot id (a new profile the caller owns).
 * CPROF_EINVAL when there is no such snapshot.  Thread-safe. */
int srv_store_snapshot_get(srv_store *s, int64_t id, cprof_profile **out, cprof_error *err);

/* Drop every day partition that ends at or before now_ns - retention_ns
 * (opts.retention_ns; 0: nothing), files and all; pinned snapshots are
 * never dropped.  The store never calls this itself: the server calls it
 * periodically (say hourly) with the wall clock.  Returns the number of partitions dropped, or a negative
 * CPROF_E* code.  Thread-safe (queries running on a dropped day finish on
 * the open file). */
int srv_store_retention(srv_store *s, int64_t now_ns, cprof_error *err);

/* Roll up, in the calling thread, every hour and day window that is due
 * (the rollup thread does this in the background; tests and benchmarks
 * call it to know the rollups are there).  A window is due once a profile
 * 5 minutes (of data time) past its end has been appended.  Returns the
 * number of windows rolled up, or a negative CPROF_E* code.  Thread-safe. */
int srv_store_rollup_sync(srv_store *s, cprof_error *err);

/* Counters for benchmarks and /metrics of the server itself. */
typedef struct srv_store_stats {
	uint64_t profiles;          /* ordinary profiles stored (since open) */
	uint64_t samples;           /* their samples (since open) */
	uint64_t series;            /* series known */
	uint64_t stacks;            /* dictionary stacks known */
	uint64_t disk_bytes;        /* bytes of the store's files now */
	uint64_t pending;           /* appends not yet flushed */
	uint64_t cache_hits;        /* SQLite: merged windows found in the
				     * cache of range merges (since open) */
	uint64_t cache_misses;      /* ... and merged from the rows */
	uint64_t cache_bytes;       /* ... the cache's size now */
	uint64_t cache_evictions;   /* ... windows dropped for its ceiling */
} srv_store_stats;
void srv_store_get_stats(srv_store *s, srv_store_stats *st);

/* ---- copying between stores (store_copy.c) ------------------------------ */

/* One stored item as srv_store_walk hands it out: a profile (p != NULL) or
 * a metric point (p == NULL; kind is "#" and the metric's name). */
typedef struct srv_stored {
	const char *kind;
	const srv_labels *labels;
	int64_t time_ns, duration_ns;
	const cprof_profile *p;
	double value;
} srv_stored;
typedef int (*srv_stored_cb)(void *ctx, const srv_stored *it);

/* Call cb for every ordinary profile and metric point with time in
 * [from, until), in time order within each day; p is decoded from the
 * store (equal to what was appended, with equal samples combined).  A
 * non-zero return stops the walk and is returned.  CPROF_EINVAL when the
 * backend cannot walk (ClickHouse: the copy goes to it, not from it).
 * Thread-safe. */
int srv_store_walk(srv_store *s, int64_t from_ns, int64_t until_ns, srv_stored_cb cb,
		   void *ctx, cprof_error *err);
/* Call cb for every ordinary profile and metric point with time in
 * [from, until) with kind, labels and time only (p NULL, value 0): what a
 * copy into this store must not append again.  Thread-safe. */
int srv_store_times(srv_store *s, int64_t from_ns, int64_t until_ns, srv_stored_cb cb,
		    void *ctx, cprof_error *err);
/* The UTC days (days since the epoch) that hold data, sorted, into
 * *days (malloc'd; the caller frees it).  Thread-safe. */
int srv_store_days(srv_store *s, int32_t **days, size_t *n, cprof_error *err);

/* Copy everything of src (profiles, metric points, pinned snapshots) that
 * dst does not hold yet into dst, day by day, flushing dst after each day:
 * dst builds its own dictionaries and rollups from the appends.  Safe to
 * rerun after an interruption or a failure: what dst holds (same series,
 * kind and time; for snapshots also the rule) is skipped, so nothing is
 * stored twice.  One progress line per day on progress (NULL: none).
 * Returns 0 or a negative CPROF_E* code; counts in *copied / *skipped
 * (may be NULL). */
int srv_store_copy(srv_store *src, srv_store *dst, FILE *progress, uint64_t *copied,
		   uint64_t *skipped, cprof_error *err);

/* ---- backends ------------------------------------------------------------

 * A backend's store object begins with a struct srv_store whose ops point
 * at its table; srv_store_open fills it.  The srv_store_* calls above have
 * checked what they document as CPROF_EINVAL that does not depend on the
 * data (kinds, ranges, steps, names) before they forward, and pass an info
 * that is not NULL; an entry never sees s == NULL.  Each entry has the
 * contract of the srv_store_* call of the same name.  Thread-safety: as
 * the calls.  which of srv_store_labels / label_values / types a listing
 * is: 0, 1 (name given), 2. */
/* The operations a backend implements, one function type each: the ops
 * table below holds pointers to them and each backend declares its own
 * with them (`srv_store_append_fn ch_append;`), so a signature is written
 * once.  Each has the contract of the srv_store_* call of its name. */
typedef void srv_store_close_fn(srv_store *s);
typedef int srv_store_append_fn(srv_store *s, const srv_labels *labels, const char *kind,
				int64_t time_ns, int64_t duration_ns, const cprof_profile *p,
				const char *pinned_rule, cprof_error *err);
/* the backend's append_metric takes the metric's series kind (store.c
 * checked the name and time and made it: "#" and the name) */
typedef int srv_store_append_metric_fn(srv_store *s, const srv_labels *labels,
				       const char *kind, int64_t time_ns, double value,
				       cprof_error *err);
typedef int srv_store_flush_fn(srv_store *s, cprof_error *err);
typedef int srv_store_query_fn(srv_store *s, const srv_selector *sel, const char *kind,
			       int64_t from_ns, int64_t until_ns, cprof_profile **out,
			       srv_query_info *info, cprof_error *err);
typedef int srv_store_series_fn(srv_store *s, const srv_selector *sel, const char *kind,
				int64_t from_ns, int64_t until_ns, int64_t step_ns,
				const char *sample_type, const char *focus, srv_series_cb cb,
				void *ctx, cprof_error *err);
typedef int srv_store_metric_series_fn(srv_store *s, const srv_selector *sel, const char *name,
				       int64_t from_ns, int64_t until_ns, int64_t step_ns,
				       srv_series_cb cb, void *ctx, cprof_error *err);
typedef int srv_store_listing_fn(srv_store *s, int which, const char *name, int64_t from_ns,
				 int64_t until_ns, srv_strlist *out, cprof_error *err);
typedef int srv_store_snapshots_fn(srv_store *s, int64_t from_ns, int64_t until_ns,
				   int (*cb)(void *ctx, const srv_snapshot *snap), void *ctx,
				   cprof_error *err);
typedef int srv_store_snapshot_get_fn(srv_store *s, int64_t id, cprof_profile **out,
				      cprof_error *err);
typedef int srv_store_retention_fn(srv_store *s, int64_t now_ns, cprof_error *err);
typedef int srv_store_rollup_sync_fn(srv_store *s, cprof_error *err);
typedef void srv_store_stats_fn(srv_store *s, srv_store_stats *st);
typedef int srv_store_walk_fn(srv_store *s, int64_t from_ns, int64_t until_ns,
			      srv_stored_cb cb, void *ctx, cprof_error *err);
typedef int srv_store_days_fn(srv_store *s, int32_t **days, size_t *n, cprof_error *err);

typedef struct srv_store_ops {
	const char *name;           /* "sqlite", "clickhouse" */
	srv_store_close_fn *close;
	srv_store_append_fn *append;
	srv_store_append_metric_fn *append_metric;
	srv_store_flush_fn *flush;
	srv_store_query_fn *query;
	srv_store_series_fn *series;
	srv_store_metric_series_fn *metric_series;
	srv_store_listing_fn *listing;
	srv_store_snapshots_fn *snapshots;
	srv_store_snapshot_get_fn *snapshot_get;
	srv_store_retention_fn *retention;
	srv_store_rollup_sync_fn *rollup_sync;
	srv_store_stats_fn *stats;
	srv_store_walk_fn *walk;                /* every stored profile */
	srv_store_walk_fn *times;               /* the same, without the profiles */
	srv_store_days_fn *days;
} srv_store_ops;

struct srv_store {
	const srv_store_ops *ops;
};

/* The backends' openers (srv_store_open calls the one the URL names). */
int srv_sqlite_open(const char *dir, const srv_store_opts *opts, srv_store **out,
		    cprof_error *err);
int srv_clickhouse_open(const char *url, const srv_store_opts *opts, srv_store **out,
			cprof_error *err);
/* The name of s's backend ("sqlite", "clickhouse"). */
const char *srv_store_backend(const srv_store *s);

#ifdef __cplusplus
}
#endif
#endif /* CPROF_SRV_STORE_H */
