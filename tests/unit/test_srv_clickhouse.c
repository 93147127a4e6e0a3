/*
 * test_srv_clickhouse.c - the ClickHouse store (src/server/store_ch*.c)
 * against the SQLite store: one ingest into both, the same answers (merged
 * profiles over raw and rolled-up ranges, counters and gauges, selectors,
 * totals over time with and without focus, metric series, label names and
 * values, kinds, pinned snapshots, retention); and the failures: a
 * ClickHouse that is not there (appends buffer within the bound and the
 * excess is dropped with one line on stderr; queries fail with one line),
 * a ClickHouse that does not answer (queries time out, never hang).
 *
 * Needs a running ClickHouse: CPROF_TEST_CLICKHOUSE=clickhouse://HOST:PORT
 * (tests/e2e/test_server_clickhouse.py starts one with
 * tools/clickhouse-local.sh and runs this binary); without it every test
 * is skipped.  Each run uses its own database (cprof_test_PID_N) and drops
 * it at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#include "srv_testgen.h"

static const char *ch_base;     /* clickhouse://HOST:PORT[,HOST:PORT...] */
static const char *ch_opts;     /* URL options for every store, e.g. cluster=cprof */
static int dbseq;

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A canonical text of p: sample types, time, duration, then one sorted
 * line per sample (frames as function@address-relative-to-mapping:file,
 * labels, values). */
static char *canon(const cprof_profile *p)
{
	size_t n = p->samples.n, cap = 256;
	char **lines = calloc(n + 1, sizeof *lines);
	for (size_t i = 0; i < n; i++) {
		char buf[4096];
		size_t o = 0;
		const cprof_sample *sm = &p->samples.v[i];
		size_t sl = cprof_stack_len(p, sm->stack);
		const uint32_t *locs = cprof_stack_locs(p, sm->stack);
		for (size_t k = 0; k < sl; k++) {
			const cprof_location *l = &p->locations.v[locs[k]];
			const cprof_line *ln = l->nline ? &p->lines.v[l->line_off] : NULL;
			const char *fn = ln ? cprof_s(p, p->functions.v[ln->function].name) : "?";
			const char *mf = l->mapping != CPROF_NONE ? cprof_s(p, p->mappings.v[l->mapping].file) : "";
			uint64_t rel = l->address - (l->mapping != CPROF_NONE ? p->mappings.v[l->mapping].start : 0);
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s:%lld@%llx:%s;", fn,
					      ln ? (long long)ln->line : 0LL, (unsigned long long)rel, mf);
		}
		size_t nl = cprof_lset_len(p, sm->labels);
		const cprof_label *lb = cprof_lset(p, sm->labels);
		for (size_t k = 0; k < nl; k++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, " {%s=%s}", cprof_s(p, lb[k].key),
					      cprof_s(p, lb[k].str));
		const int64_t *v = cprof_sample_values(p, i);
		for (size_t k = 0; k < p->vtypes.n; k++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, " %lld", (long long)v[k]);
		lines[i] = strdup(buf);
		cap += strlen(buf) + 1;
	}
	qsort(lines, n, sizeof *lines, cmp_line);
	char *out = malloc(cap + 64 * (p->vtypes.n + 4));
	size_t o = 0;
	for (size_t k = 0; k < p->vtypes.n; k++)
		o += (size_t)sprintf(out + o, "%s/%s ", cprof_s(p, p->vtypes.v[k].type),
				     cprof_s(p, p->vtypes.v[k].unit));
	o += (size_t)sprintf(out + o, "time %lld dur %lld period %lld\n", (long long)p->time_nanos,
			     (long long)p->duration_nanos, (long long)p->period);
	for (size_t i = 0; i < n; i++) {
		o += (size_t)sprintf(out + o, "%s\n", lines[i]);
		free(lines[i]);
	}
	out[o] = '\0';
	free(lines);
	return out;
}

static void assert_same(const char *what, const cprof_profile *a, const cprof_profile *b)
{
	char *ca = canon(a), *cb = canon(b);
	if (strcmp(ca, cb) != 0) {
		fprintf(stderr, "%s differs\n--- sqlite\n%s--- clickhouse\n%s", what, ca, cb);
		fail();
	}
	free(ca);
	free(cb);
}

/* ---- the two stores --------------------------------------------------- */

typedef struct pair {
	char dir[64], url[512];
	srv_store *lite, *ch;
	bool lite_only;                 /* append2 appends to SQLite only */
} pair;

static srv_store *open_url(const char *url, const srv_store_opts *o)
{
	srv_store *s = NULL;
	cprof_error err = { 0 };
	if (srv_store_open(url, o, &s, &err))
		fail_msg("open %s: %s", url, err.msg);
	return s;
}

/* Drop database db (a cleanup: errors ignored). */
static void drop_db(const char *db)
{
	char cmd[1024];
	const char *hp = ch_base + strlen("clickhouse://");
	const char *cl = ch_opts ? strstr(ch_opts, "cluster=") : NULL;
	snprintf(cmd, sizeof cmd, "curl -s -o /dev/null 'http://%.*s/' --data-binary"
		 " 'DROP DATABASE IF EXISTS %s%s%.*s'", (int)strcspn(hp, ","), hp, db,
		 cl ? " ON CLUSTER " : "", cl ? (int)strcspn(cl + 8, "&") : 0, cl ? cl + 8 : "");
	if (system(cmd) != 0)
		fprintf(stderr, "(cleanup of %s failed)\n", db);
}

static void pair_open(pair *pp, int64_t retention, bool no_rollups, const char *opts)
{
	memset(pp, 0, sizeof *pp);
	snprintf(pp->dir, sizeof pp->dir, "/tmp/cprof-chdiff-XXXXXX");
	assert_non_null(mkdtemp(pp->dir));
	char db[64];
	snprintf(db, sizeof db, "cprof_test_%d_%d", (int)getpid(), dbseq++);
	snprintf(pp->url, sizeof pp->url, "%s/%s%s%s%s%s", ch_base, db, opts || ch_opts ? "?" : "",
		 ch_opts ? ch_opts : "", opts && ch_opts ? "&" : "", opts ? opts : "");
	srv_store_opts o = { .retention_ns = retention, .no_rollups = no_rollups };
	pp->lite = open_url(pp->dir, &o);
	pp->ch = open_url(pp->url, &o);
}

static void pair_close(pair *pp)
{
	srv_store_close(pp->lite);
	srv_store_close(pp->ch);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", pp->dir);
	assert_int_equal(system(cmd), 0);
	const char *db = strrchr(pp->url, '/') + 1;
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)strcspn(db, "?"), db);
	drop_db(name);
}

static const char *const SVC[] = { "api", "db" };

static void append2(pair *pp, int svc, int inst, const char *kind, int64_t t,
		    const cprof_profile *p, const char *pin)
{
	char ib[32];
	snprintf(ib, sizeof ib, "10.0.0.%d:8080", inst);
	srv_label l[] = { { "instance", ib }, { "job", SVC[svc] } };
	srv_labels ls = { l, 2 };
	cprof_error err = { 0 };
	if (srv_store_append(pp->lite, &ls, kind, t, 10 * SEC, p, pin, &err))
		fail_msg("sqlite append: %s", err.msg);
	if (!pp->lite_only && srv_store_append(pp->ch, &ls, kind, t, 10 * SEC, p, pin, &err))
		fail_msg("clickhouse append: %s", err.msg);
}

/* 2 services x 2 instances: cpu every 10 min for 5 h from T0 + 7 min,
 * heap every 20 min; the last hour past midnight (a second day). */
#define NPROF 30
static int64_t ptime(int k)
{
	return T0 - 4 * HOUR + 7 * 60 * SEC + (int64_t)k * 600 * SEC;
}

/* Both stores' queued rows written, SQLite's rollups made. */
static void flush_both(pair *pp)
{
	cprof_error err = { 0 };
	assert_int_equal(srv_store_flush(pp->lite, &err), 0);
	if (srv_store_flush(pp->ch, &err))
		fail_msg("flush: %s", err.msg);
	assert_true(srv_store_rollup_sync(pp->lite, &err) >= 0);
}

static void fill(pair *pp)
{
	for (int k = 0; k < NPROF; k++)
		for (int svc = 0; svc < 2; svc++)
			for (int inst = 0; inst < 2; inst++) {
				cprof_profile *p = gen(svc, inst, k, 1);
				append2(pp, svc, inst, "cpu", ptime(k), p, NULL);
				cprof_profile_free(p);
				if (k % 2 == 0) {
					p = gen(svc, inst, k, 2);
					append2(pp, svc, inst, "heap", ptime(k) + SEC, p, NULL);
					cprof_profile_free(p);
				}
			}
	flush_both(pp);
}

static cprof_profile *query(srv_store *s, const char *sel, const char *kind, int64_t from,
			    int64_t until, srv_query_info *info)
{
	srv_selector *se = NULL;
	cprof_error err = { 0 };
	assert_int_equal(srv_selector_parse(sel, strlen(sel), &se, &err), 0);
	cprof_profile *p = NULL;
	if (srv_store_query(s, se, kind, from, until, &p, info, &err))
		fail_msg("query %s %s: %s", sel, kind, err.msg);
	srv_selector_free(se);
	return p;
}

static void same_query(pair *pp, const char *sel, const char *kind, int64_t from, int64_t until)
{
	srv_query_info a, b;
	cprof_profile *x = query(pp->lite, sel, kind, from, until, &a);
	cprof_profile *y = query(pp->ch, sel, kind, from, until, &b);
	char what[256];
	snprintf(what, sizeof what, "query %s %s [%+lld s, %+lld s)", sel, kind,
		 (long long)((from - T0) / SEC), (long long)((until - T0) / SEC));
	assert_same(what, x, y);
	assert_int_equal(a.agg, b.agg);
	assert_int_equal(a.nprofiles, b.nprofiles);
	assert_int_equal(a.nseries, b.nseries);
	cprof_profile_free(x);
	cprof_profile_free(y);
}

/* Series callbacks collect "labels: t=value ..." lines, sorted at the end. */
typedef struct lines {
	char *v[64];
	size_t n;
} lines;

static int collect(void *ctx, const srv_labels *l, const srv_point *pts, size_t n)
{
	lines *ls = ctx;
	char buf[8192];
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s=%s,", l->v[i].name, l->v[i].value);
	o += (size_t)snprintf(buf + o, sizeof buf - o, ":");
	for (size_t i = 0; i < n && o < sizeof buf - 64; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, " %lld=%.17g",
				      (long long)((pts[i].t_ns - T0) / SEC), pts[i].value);
	assert_true(ls->n < 64);
	ls->v[ls->n++] = strdup(buf);
	return 0;
}

static void same_lines(const char *what, lines *a, lines *b)
{
	qsort(a->v, a->n, sizeof *a->v, cmp_line);
	qsort(b->v, b->n, sizeof *b->v, cmp_line);
	bool eq = a->n == b->n;
	for (size_t i = 0; eq && i < a->n; i++)
		eq = strcmp(a->v[i], b->v[i]) == 0;
	if (!eq) {
		fprintf(stderr, "%s differs\n--- sqlite\n", what);
		for (size_t i = 0; i < a->n; i++)
			fprintf(stderr, "%s\n", a->v[i]);
		fprintf(stderr, "--- clickhouse\n");
		for (size_t i = 0; i < b->n; i++)
			fprintf(stderr, "%s\n", b->v[i]);
		fail();
	}
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i]);
	a->n = b->n = 0;
}

static void same_series(pair *pp, const char *sel, const char *kind, int64_t step,
			const char *type, const char *focus)
{
	srv_selector *se = NULL;
	cprof_error err = { 0 };
	assert_int_equal(srv_selector_parse(sel, strlen(sel), &se, &err), 0);
	lines a = { 0 }, b = { 0 };
	int64_t from = T0 - 5 * HOUR, until = T0 + 2 * HOUR;
	assert_int_equal(srv_store_series(pp->lite, se, kind, from, until, step, type, focus,
					  collect, &a, &err), 0);
	if (srv_store_series(pp->ch, se, kind, from, until, step, type, focus, collect, &b, &err))
		fail_msg("series: %s", err.msg);
	assert_true(a.n > 0);
	same_lines("series", &a, &b);
	srv_selector_free(se);
}

static void same_list(const char *what, srv_strlist *a, srv_strlist *b)
{
	bool eq = a->n == b->n;
	for (size_t i = 0; eq && i < a->n; i++)
		eq = strcmp(a->v[i], b->v[i]) == 0;
	if (!eq) {
		fprintf(stderr, "%s differs: sqlite %zu, clickhouse %zu\n", what, a->n, b->n);
		for (size_t i = 0; i < a->n; i++)
			fprintf(stderr, "  sqlite %s\n", a->v[i]);
		for (size_t i = 0; i < b->n; i++)
			fprintf(stderr, "  clickhouse %s\n", b->v[i]);
		fail();
	}
	srv_strlist_free(a);
	srv_strlist_free(b);
}

/* ---- the tests ----------------------------------------------------------- */

static bool need_ch(void)
{
	if (ch_base)
		return true;
	fprintf(stderr, "skipped: CPROF_TEST_CLICKHOUSE is not set (tests/e2e/"
		"test_server_clickhouse.py starts a ClickHouse and sets it)\n");
	return false;
}

/* Merges of fill's data over whole and partial ranges, both stores. */
static void same_merges(pair *pp)
{
	static const char *const sels[] = { "", "{job=\"api\"}",
		"{job=~\"a.*|d.*\",instance!=\"10.0.0.1:8080\"}", "{job=\"none\"}" };
	for (size_t i = 0; i < 4; i++) {
		same_query(pp, sels[i], "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR);
		same_query(pp, sels[i], "heap", T0 - 5 * HOUR, T0 + 2 * HOUR);
	}
	/* partial hours at both ends around whole hours (the rollup) */
	same_query(pp, "", "cpu", T0 - 3 * HOUR - 25 * 60 * SEC, T0 + 17 * 60 * SEC);
	same_query(pp, "{job=\"db\"}", "heap", T0 - 2 * HOUR + 1, T0 + HOUR - 1);
	same_query(pp, "", "cpu", T0 - HOUR + 60 * SEC, T0 - HOUR + 30 * 60 * SEC);
	same_query(pp, "", "cpu", T0 + 90 * 60 * SEC, T0 + 91 * 60 * SEC);
	same_query(pp, "", "mutex", T0 - 5 * HOUR, T0 + 2 * HOUR);
}

/* fill then check on a fresh pair of stores, without rollups and with. */
static void both_rollup_modes(void (*fill_fn)(pair *), void (*check)(pair *))
{
	if (!need_ch())
		skip();
	for (int roll = 0; roll < 2; roll++) {
		pair pp;
		pair_open(&pp, 0, roll == 0, NULL);
		fill_fn(&pp);
		check(&pp);
		pair_close(&pp);
	}
}

static void test_same_merges(void **state)
{
	(void)state;
	both_rollup_modes(fill, same_merges);
}

/* A gauge profile of six sample types (the values past four take the
 * array path), with negative values and odd sums so that each series'
 * average is rounded: every stack of the service's 6, values varying
 * with instance and number. */
static cprof_profile *gen6(int svc, int inst, int seq)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	static const char *const types[6] = { "a", "b", "c", "d", "e", "f" };
	for (int j = 0; j < 6; j++)
		cprof_add_vtype(p, S(p, types[j]), S(p, "count"));
	p->period_type.type = S(p, "a");
	p->period_type.unit = S(p, "count");
	p->period = 1;
	cprof_mapping m = { .id = 1, .start = 0x400000, .limit = 0x800000,
			    .file = S(p, svc ? "/usr/bin/db" : "/usr/bin/api"), .has_functions = true };
	cprof_add_mapping(p, &m);
	for (int f = 0; f < 4; f++) {
		char name[32];
		snprintf(name, sizeof name, "g%d_fn%d", svc, f);
		cprof_function fn = { .id = (uint64_t)f + 1, .name = S(p, name),
				      .system_name = S(p, name), .filename = S(p, "g.c") };
		cprof_add_function(p, &fn);
		cprof_location l = { .id = (uint64_t)f + 1, .address = 0x401000 + (uint64_t)f * 16 };
		cprof_line ln = { (uint32_t)f, f + 1, 0 };
		cprof_add_location(p, &l, &ln, 1);
	}
	for (int i = 0; i < 6; i++) {
		uint32_t locs[3] = { (uint32_t)(i % 4), (uint32_t)((i + 1) % 4), (uint32_t)(i / 4) };
		int64_t st = cprof_intern_stack(p, locs, (size_t)(1 + i % 3));
		int64_t v[6];
		for (int j = 0; j < 6; j++)
			v[j] = (int64_t)((seq * 7 + inst * 3 + j * 5 + i * 2) % 11) - 4 +
			       (j == 5 ? (int64_t)1 << 40 : 0);
		cprof_add_sample(p, (uint32_t)st, 0, v);
	}
	return p;
}

/* Gauge profiles whose series hold different numbers of profiles: api's
 * instance 1 every 10 minutes, instance 2 every 20, db's every 30, over 5
 * hours from T0 - 4 h + 7 min (30, 15 and 10 profiles). */
static void fill_uneven(pair *pp)
{
	static const int every[3][3] = { { 0, 1, 1 }, { 0, 2, 2 }, { 1, 1, 3 } };
	for (int k = 0; k < NPROF; k++)
		for (int s = 0; s < 3; s++) {
			if (k % every[s][2])
				continue;
			cprof_profile *p = gen6(every[s][0], every[s][1], k);
			append2(pp, every[s][0], every[s][1], "heap", ptime(k), p, NULL);
			cprof_profile_free(p);
		}
	flush_both(pp);
}

static void same_uneven(pair *pp)
{
	static const char *const sels[] = { "", "{job=\"api\"}", "{instance=\"10.0.0.2:8080\"}" };
	for (size_t i = 0; i < 3; i++) {
		same_query(pp, sels[i], "heap", T0 - 5 * HOUR, T0 + 2 * HOUR);
		same_query(pp, sels[i], "heap", T0 - 3 * HOUR - 25 * 60 * SEC, T0 + 17 * 60 * SEC);
		same_query(pp, sels[i], "heap", T0 - HOUR + 60 * SEC, T0 - 30 * 60 * SEC);
	}
}

/* Averages of a gauge over series with uneven profile counts: each
 * series' sums are divided by its own count in ClickHouse, over raw
 * edges, whole hours and both, with and without rollups. */
static void test_gauge_uneven_counts(void **state)
{
	(void)state;
	both_rollup_modes(fill_uneven, same_uneven);
}

/* Two kinds of one service with the same sample types (cpu, and a
 * "block" series holding cpu-shaped profiles): the per-service hourly
 * rollup holds both kinds' rows under one signature, so a merge of one
 * kind over whole hours must not read it for that service. */
static void test_svc_rollup_shared_signature(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	pair pp;
	pair_open(&pp, 0, false, NULL);
	for (int k = 0; k < NPROF; k += 3) {
		cprof_profile *p = gen(0, 1, k, 1);
		append2(&pp, 0, 1, "block", ptime(k) + 2 * SEC, p, NULL);
		cprof_profile_free(p);
	}
	fill(&pp);
	static const char *const sels[] = { "", "{job=\"api\"}", "{instance=\"10.0.0.0:8080\"}" };
	for (size_t i = 0; i < 3; i++) {
		same_query(&pp, sels[i], "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR);
		same_query(&pp, sels[i], "cpu", T0 - 3 * HOUR, T0);
		same_query(&pp, sels[i], "block", T0 - 5 * HOUR, T0 + 2 * HOUR);
	}
	pair_close(&pp);
}

/* A database migrated from schema version 2: its per-service rollup
 * holds nothing of the hours before the migration (here: emptied after
 * the ingest, and a version 2 row added), so merges of those hours read
 * the per-series rollup and answer as before. */
static void test_svc_rollup_after_migration(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	if (ch_opts && strstr(ch_opts, "cluster=")) {
		fprintf(stderr, "skipped: one node only\n");
		skip();
	}
	pair pp;
	pair_open(&pp, 0, false, NULL);
	fill(&pp);
	const char *dbp = strrchr(pp.url, '/') + 1;
	const char *hp = ch_base + strlen("clickhouse://");
	char db[64], sql[3][256], cmd[1024];
	snprintf(db, sizeof db, "%.*s", (int)strcspn(dbp, "?"), dbp);
	snprintf(sql[0], sizeof sql[0], "INSERT INTO %s.migrations (version) VALUES (2)", db);
	snprintf(sql[1], sizeof sql[1], "ALTER TABLE %s.samples_svc_hour DROP PARTITION 20261130",
		 db);
	snprintf(sql[2], sizeof sql[2], "ALTER TABLE %s.samples_svc_hour DROP PARTITION 20261201",
		 db);
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof cmd, "curl -sf -o /dev/null 'http://%.*s/' --data-binary '%s'",
			 (int)strcspn(hp, ","), hp, sql[i]);
		assert_int_equal(system(cmd), 0);
	}
	srv_store_opts o = { 0 };
	srv_store_close(pp.ch);
	pp.ch = open_url(pp.url, &o);
	same_query(&pp, "", "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR);
	same_query(&pp, "{job=\"db\"}", "cpu", T0 - 3 * HOUR, T0);
	pair_close(&pp);
}

/* Metric points (values exact in binary so sums agree bit for bit). */
static void add_metrics(pair *pp)
{
	cprof_error err = { 0 };
	for (int inst = 0; inst < 2; inst++) {
		char ib[32];
		snprintf(ib, sizeof ib, "10.0.0.%d:8080", inst);
		srv_label l[] = { { "instance", ib }, { "job", "api" } };
		srv_labels ls = { l, 2 };
		for (int k = 0; k < 12; k++) {
			double v = 10 + k * 0.5 + inst;
			assert_int_equal(srv_store_append_metric(pp->lite, &ls, "cprof_threads",
								 T0 + k * 15 * SEC, v, &err), 0);
			if (!pp->lite_only)
				assert_int_equal(srv_store_append_metric(pp->ch, &ls, "cprof_threads",
									 T0 + k * 15 * SEC, v, &err), 0);
		}
	}
}

/* Totals over time, metric series, labels, label values and kinds of
 * fill's data and add_metrics' points, both stores. */
static void same_series_lists(pair *pp)
{
	same_series(pp, "", "cpu", HOUR, NULL, NULL);
	same_series(pp, "{job=\"db\"}", "cpu", 600 * SEC, NULL, NULL);
	same_series(pp, "", "heap", HOUR, "inuse_objects", NULL);
	same_series(pp, "", "heap", HOUR, NULL, NULL);
	same_series(pp, "", "cpu", 2 * HOUR, NULL, "^s0_fn7$");
	same_series(pp, "", "heap", 3 * HOUR, "inuse_space", "fn1");

	cprof_error err = { 0 };
	lines a = { 0 }, b = { 0 };
	assert_int_equal(srv_store_metric_series(pp->lite, NULL, "cprof_threads", T0, T0 + HOUR,
						 60 * SEC, collect, &a, &err), 0);
	if (srv_store_metric_series(pp->ch, NULL, "cprof_threads", T0, T0 + HOUR, 60 * SEC,
				    collect, &b, &err))
		fail_msg("metric series: %s", err.msg);
	assert_int_equal(a.n, 2);
	same_lines("metric series", &a, &b);

	srv_strlist x = { 0 }, y = { 0 };
	int64_t ranges[][2] = { { 0, 0 }, { T0 - HOUR, T0 }, { T0 + 100 * DAY, T0 + 101 * DAY } };
	for (size_t i = 0; i < 3; i++) {
		int64_t f = ranges[i][0], u = ranges[i][1];
		assert_int_equal(srv_store_labels(pp->lite, f, u, &x, &err), 0);
		assert_int_equal(srv_store_labels(pp->ch, f, u, &y, &err), 0);
		same_list("labels", &x, &y);
		assert_int_equal(srv_store_label_values(pp->lite, "job", f, u, &x, &err), 0);
		assert_int_equal(srv_store_label_values(pp->ch, "job", f, u, &y, &err), 0);
		same_list("label values", &x, &y);
		assert_int_equal(srv_store_label_values(pp->lite, "instance", f, u, &x, &err), 0);
		assert_int_equal(srv_store_label_values(pp->ch, "instance", f, u, &y, &err), 0);
		same_list("label values", &x, &y);
		assert_int_equal(srv_store_types(pp->lite, f, u, &x, &err), 0);
		assert_int_equal(srv_store_types(pp->ch, f, u, &y, &err), 0);
		same_list("types", &x, &y);
	}
}

static void test_same_series_labels_metrics(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	pair pp;
	pair_open(&pp, 0, false, NULL);
	fill(&pp);
	add_metrics(&pp);
	same_series_lists(&pp);
	pair_close(&pp);
}

typedef struct snaps {
	int64_t id[8];
	char line[8][256];
	int n;
} snaps;

static int snap_cb(void *ctx, const srv_snapshot *sn)
{
	snaps *s = ctx;
	assert_true(s->n < 8);
	s->id[s->n] = sn->id;
	snprintf(s->line[s->n], sizeof s->line[0], "%s %s %s %lld %lld", sn->rule, sn->kind,
		 srv_labels_get(&sn->labels, "job"), (long long)sn->time_ns,
		 (long long)sn->duration_ns);
	s->n++;
	return 0;
}

/* Pinned snapshots read back the same, survive retention, and retention
 * drops the same days. */
static void test_same_snapshots_retention(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	pair pp;
	pair_open(&pp, 2 * DAY, false, NULL);
	for (int d = 0; d < 4; d++) {
		cprof_profile *p = gen(0, 0, d, 1);
		append2(&pp, 0, 0, "cpu", T0 + d * DAY + HOUR, p, NULL);
		cprof_profile_free(p);
	}
	cprof_profile *p = gen(0, 1, 9, 2);
	append2(&pp, 0, 1, "heap", T0 + HOUR + 5 * SEC, p, "threads_high");
	cprof_profile_free(p);
	p = gen(1, 0, 3, 1);
	append2(&pp, 1, 0, "cpu", T0 + 2 * HOUR, p, "cpu_hot");
	cprof_profile_free(p);
	cprof_error err = { 0 };
	snaps a = { 0 }, b = { 0 };
	assert_int_equal(srv_store_snapshots(pp.lite, 0, 0, snap_cb, &a, &err), 0);
	if (srv_store_snapshots(pp.ch, 0, 0, snap_cb, &b, &err))
		fail_msg("snapshots: %s", err.msg);
	assert_int_equal(a.n, 2);
	assert_int_equal(b.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(a.line[i], b.line[i]);
		cprof_profile *x = NULL, *y = NULL;
		assert_int_equal(srv_store_snapshot_get(pp.lite, a.id[i], &x, &err), 0);
		if (srv_store_snapshot_get(pp.ch, b.id[i], &y, &err))
			fail_msg("snapshot get: %s", err.msg);
		assert_same("snapshot", x, y);
		cprof_profile_free(x);
		cprof_profile_free(y);
	}
	assert_int_equal(srv_store_snapshot_get(pp.ch, 12345, &p, &err), CPROF_EINVAL);
	/* now = T0 + 4 days: days 0 and 1 end at or before now - 2 days */
	int64_t now = T0 + 4 * DAY;
	int da = srv_store_retention(pp.lite, now, &err);
	int db = srv_store_retention(pp.ch, now, &err);
	assert_int_equal(da, 2);
	assert_int_equal(db, 2);
	same_query(&pp, "", "cpu", T0, T0 + 5 * DAY);
	b.n = 0;
	assert_int_equal(srv_store_snapshots(pp.ch, 0, 0, snap_cb, &b, &err), 0);
	assert_int_equal(b.n, 2);
	pair_close(&pp);
}

/* Ingest into SQLite only, copy into ClickHouse (srv_store_copy, what
 * `cprof server copy` runs): every comparison of the differential tests
 * holds; a second copy copies nothing and changes no answer. */
static void test_copy_same_answers(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	pair pp;
	pair_open(&pp, 0, false, NULL);
	pp.lite_only = true;
	fill(&pp);
	add_metrics(&pp);
	cprof_profile *p = gen(0, 1, 9, 2);
	append2(&pp, 0, 1, "heap", T0 + HOUR + 5 * SEC, p, "threads_high");
	cprof_profile_free(p);
	cprof_error err = { 0 };
	uint64_t copied = 0, skipped = 0;
	if (srv_store_copy(pp.lite, pp.ch, stderr, &copied, &skipped, &err))
		fail_msg("copy: %s", err.msg);
	/* cpu 30 x 4, heap 15 x 4, 24 metric points, 1 snapshot */
	uint64_t total = NPROF * 4 + NPROF / 2 * 4 + 24 + 1;
	assert_int_equal(copied, total);
	assert_int_equal(skipped, 0);
	for (int round = 0; round < 2; round++) {
		same_merges(&pp);
		same_series_lists(&pp);
		snaps a = { 0 }, b = { 0 };
		assert_int_equal(srv_store_snapshots(pp.lite, 0, 0, snap_cb, &a, &err), 0);
		assert_int_equal(srv_store_snapshots(pp.ch, 0, 0, snap_cb, &b, &err), 0);
		assert_int_equal(a.n, 1);
		assert_int_equal(b.n, 1);
		assert_string_equal(a.line[0], b.line[0]);
		cprof_profile *x = NULL, *y = NULL;
		assert_int_equal(srv_store_snapshot_get(pp.lite, a.id[0], &x, &err), 0);
		assert_int_equal(srv_store_snapshot_get(pp.ch, b.id[0], &y, &err), 0);
		assert_same("copied snapshot", x, y);
		cprof_profile_free(x);
		cprof_profile_free(y);
		if (round)
			break;
		/* rerun: everything is there already */
		if (srv_store_copy(pp.lite, pp.ch, NULL, &copied, &skipped, &err))
			fail_msg("second copy: %s", err.msg);
		assert_int_equal(copied, 0);
		assert_int_equal(skipped, total);
	}
	pair_close(&pp);
}

/* A second server process on the same database sees the first one's data
 * (series and dictionaries come from ClickHouse at open), and appends
 * there too. */
static void test_reopen_reads_clickhouse(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	pair pp;
	pair_open(&pp, 0, false, NULL);
	fill(&pp);
	srv_store_opts o = { 0 };
	srv_store *again = open_url(pp.url, &o);
	srv_query_info a, b;
	cprof_profile *x = query(pp.lite, "", "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR, &a);
	cprof_profile *y = query(again, "", "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR, &b);
	assert_same("after reopen", x, y);
	cprof_profile_free(x);
	cprof_profile_free(y);
	/* the reopened store knows the stacks by the keys it loaded: a
	 * profile of known stacks adds none */
	srv_store_stats st0, st1;
	srv_store_get_stats(again, &st0);
	assert_true(st0.stacks > 0);
	cprof_profile *p = gen(1, 1, 3, 1);
	srv_label l[] = { { "instance", "10.0.0.1:8080" }, { "job", "db" } };
	srv_labels ls = { l, 2 };
	cprof_error err = { 0 };
	assert_int_equal(srv_store_append(again, &ls, "cpu", T0 + 3 * HOUR, SEC, p, NULL, &err), 0);
	assert_int_equal(srv_store_flush(again, &err), 0);
	srv_store_get_stats(again, &st1);
	assert_int_equal(st1.stacks, st0.stacks);
	cprof_profile_free(p);
	srv_store_close(again);
	pair_close(&pp);
}

/* Two servers writing one service into one database (stateless ingest):
 * each was opened before the other wrote, so neither knows the other's
 * stacks; both push stacks of service api, different ones (even k) and
 * the same ones (odd k: each writer numbers them itself).  Every query,
 * from either, answers as SQLite given both pushes. */
static void test_two_writers_one_service(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	pair pp;
	pair_open(&pp, 0, false, NULL);
	srv_store_opts o = { 0 };
	srv_store *w[2] = { pp.ch, open_url(pp.url, &o) };
	cprof_error err = { 0 };
	for (int k = 0; k < 6; k++)
		for (int i = 0; i < 2; i++) {
			/* writer i: the stacks gen makes for service i (even k) or
			 * service 0 (odd k), labelled api */
			cprof_profile *p = gen(k % 2 ? 0 : i, k % 2 ? 0 : i, k, 1);
			srv_label l[] = { { "instance", i ? "b:1" : "a:1" }, { "job", "api" } };
			srv_labels ls = { l, 2 };
			int64_t t = T0 + k * 600 * SEC + i * SEC;
			assert_int_equal(srv_store_append(pp.lite, &ls, "cpu", t, 10 * SEC, p, NULL,
							  &err), 0);
			if (srv_store_append(w[i], &ls, "cpu", t, 10 * SEC, p, NULL, &err))
				fail_msg("writer %d: %s", i, err.msg);
			cprof_profile_free(p);
		}
	for (int i = 0; i < 2; i++)
		if (srv_store_flush(w[i], &err))
			fail_msg("flush %d: %s", i, err.msg);
	static const char *const sels[] = { "", "{instance=\"a:1\"}", "{instance=\"b:1\"}" };
	for (int i = 0; i < 2; i++)
		for (size_t k = 0; k < 3; k++) {
			srv_query_info a, b;
			cprof_profile *x = query(pp.lite, sels[k], "cpu", T0 - HOUR, T0 + 2 * HOUR, &a);
			cprof_profile *y = query(w[i], sels[k], "cpu", T0 - HOUR, T0 + 2 * HOUR, &b);
			char what[128];
			snprintf(what, sizeof what, "query %s from writer %d", sels[k], i);
			assert_same(what, x, y);
			assert_int_equal(a.nprofiles, b.nprofiles);
			cprof_profile_free(x);
			cprof_profile_free(y);
		}
	srv_store_close(w[1]);
	pair_close(&pp);
}

/* ---- failures --------------------------------------------------------------- */

/* A port nothing listens on. */
static int dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_down_at_open(void **state)
{
	(void)state;
	char url[128];
	snprintf(url, sizeof url, "clickhouse://127.0.0.1:%d/cprof", dead_port());
	srv_store *s = NULL;
	cprof_error err = { 0 };
	assert_int_equal(srv_store_open(url, NULL, &s, &err), CPROF_EIO);
	assert_null(s);
	assert_non_null(strstr(err.msg, "127.0.0.1"));
	assert_null(strchr(err.msg, '\n'));
	/* bad URLs: one line each */
	static const char *const bad[] = { "clickhouse://", "clickhouse://h/db",
		"clickhouse://h:1/", "clickhouse://h:1/d-b", "clickhouse://h:1/db?x=1",
		"clickhouse://h:1/db?timeout=0s", "clickhouse://h:1/db?buffer=0" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		assert_int_equal(srv_store_open(bad[i], NULL, &s, &err), CPROF_EINVAL);
		assert_true(err.msg[0] != '\0');
	}
}

/* A database of schema version 1 (per-writer UInt32 stack ids, which the
 * sorting keys keep from being converted) is refused with one line. */
static void test_schema_v1_refused(void **state)
{
	(void)state;
	if (!need_ch())
		skip();
	if (ch_opts && strstr(ch_opts, "cluster=")) {
		fprintf(stderr, "skipped: one node only\n");
		skip();
	}
	char db[64], cmd[1024], url[512];
	snprintf(db, sizeof db, "cprof_test_%d_v1", (int)getpid());
	const char *hp = ch_base + strlen("clickhouse://");
	char sql[3][256];
	snprintf(sql[0], sizeof sql[0], "CREATE DATABASE %s", db);
	snprintf(sql[1], sizeof sql[1], "CREATE TABLE %s.migrations (version UInt32, at DateTime"
		 " DEFAULT now()) ENGINE = MergeTree ORDER BY version", db);
	snprintf(sql[2], sizeof sql[2], "INSERT INTO %s.migrations (version) VALUES (1)", db);
	for (size_t i = 0; i < 3; i++) {
		const char *q = sql[i];
		snprintf(cmd, sizeof cmd, "curl -sf -o /dev/null 'http://%.*s/' --data-binary '%s'",
			 (int)strcspn(hp, ","), hp, q);
		assert_int_equal(system(cmd), 0);
	}
	snprintf(url, sizeof url, "%s/%s", ch_base, db);
	srv_store *s = NULL;
	cprof_error err = { 0 };
	assert_int_equal(srv_store_open(url, NULL, &s, &err), CPROF_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, "schema version 1"));
	assert_null(strchr(err.msg, '\n'));
	drop_db(db);
}

/* ClickHouse stopped in the middle of ingest and started again (when the
 * driver gives CPROF_TEST_CLICKHOUSE_CTL, the command that stops and
 * starts it): appends go on succeeding (queued), the queue stays within
 * its bound (buffer=1 MB) by dropping the oldest batches (the e2e test
 * checks the stderr line that says so), a query fails with one line, and
 * once ClickHouse is back the kept batches are stored: the store holds
 * every profile from before, some of the ones from the outage, and all
 * after. */
static void test_restart_mid_ingest(void **state)
{
	(void)state;
	const char *ctl = getenv("CPROF_TEST_CLICKHOUSE_CTL");
	if (!need_ch() || !ctl || !*ctl) {
		fprintf(stderr, "skipped: CPROF_TEST_CLICKHOUSE_CTL not set\n");
		skip();
	}
	pair pp;
	pair_open(&pp, 0, true, "buffer=1&timeout=5s");
	cprof_error err = { 0 };
	int before = 40, during = 2400, after = 40, k = 0;
	for (; k < before; k++) {
		cprof_profile *p = gen(k % 2, k % 7, k, 1);
		append2(&pp, k % 2, k % 7, "cpu", T0 + k * SEC, p, NULL);
		cprof_profile_free(p);
	}
	if (srv_store_flush(pp.ch, &err))
		fail_msg("flush: %s", err.msg);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s stop", ctl);
	assert_int_equal(system(cmd), 0);
	for (; k < before + during; k++) {
		cprof_profile *p = gen(k % 2, k % 7, k, 1);
		if (srv_store_append(pp.ch, NULL, "cpu", T0 + k * SEC, SEC, p, NULL, &err))
			fail_msg("append while down: %s", err.msg);
		cprof_profile_free(p);
	}
	memset(&err, 0, sizeof err);
	cprof_profile *q = NULL;
	assert_int_equal(srv_store_query(pp.ch, NULL, "cpu", T0, T0 + DAY, &q, NULL, &err),
			 CPROF_EIO);
	assert_non_null(strstr(err.msg, "ClickHouse"));
	assert_null(strchr(err.msg, '\n'));
	snprintf(cmd, sizeof cmd, "%s start", ctl);
	assert_int_equal(system(cmd), 0);
	for (; k < before + during + after; k++) {
		cprof_profile *p = gen(k % 2, k % 7, k, 1);
		if (srv_store_append(pp.ch, NULL, "cpu", T0 + k * SEC, SEC, p, NULL, &err))
			fail_msg("append after restart: %s", err.msg);
		cprof_profile_free(p);
	}
	if (srv_store_flush(pp.ch, &err))
		fail_msg("flush after restart: %s", err.msg);
	srv_query_info info;
	q = query(pp.ch, "", "cpu", T0, T0 + DAY, &info);
	cprof_profile_free(q);
	fprintf(stderr, "restart: %zu of %d profiles stored\n", info.nprofiles, k);
	assert_true(info.nprofiles > (size_t)(before + after));
	assert_true(info.nprofiles < (size_t)k);
	/* everything before the outage and after it is there */
	q = query(pp.ch, "", "cpu", T0, T0 + before * SEC, &info);
	assert_int_equal(info.nprofiles, before);
	cprof_profile_free(q);
	q = query(pp.ch, "", "cpu", T0 + (before + during) * SEC, T0 + DAY, &info);
	assert_int_equal(info.nprofiles, after);
	cprof_profile_free(q);
	pair_close(&pp);
}

/* A server that accepts and never answers: a query gives up after the
 * URL's timeout with one line naming it; it never hangs. */
static void *silent(void *arg)
{
	int fd = *(int *)arg;
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			return NULL;
		/* keep it open, say nothing */
	}
}

static void test_slow_server_times_out(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 16), 0);
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	pthread_t th;
	pthread_create(&th, NULL, silent, &fd);
	char url[128];
	snprintf(url, sizeof url, "clickhouse://127.0.0.1:%d/cprof?timeout=1s", ntohs(a.sin_port));
	srv_store *s = NULL;
	cprof_error err = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(srv_store_open(url, NULL, &s, &err), CPROF_EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(err.msg, "timeout"));
	/* bounded: the 1 s timeout plus curl's slack, far from a hang */
	assert_true(t1.tv_sec - t0.tv_sec < 30);
	shutdown(fd, SHUT_RDWR);
	close(fd);
	pthread_join(th, NULL);
}

/* On the cluster, with one replica of a shard stopped (the driver gives
 * CPROF_TEST_CLICKHOUSE_NODECTL, taking stop or start): queries still
 * answer the same as SQLite, appends still land, and a server opening the
 * existing database meanwhile starts (no ON CLUSTER DDL when the schema is
 * current). */
static void test_replica_down(void **state)
{
	(void)state;
	const char *ctl = getenv("CPROF_TEST_CLICKHOUSE_NODECTL");
	if (!need_ch() || !ctl || !*ctl) {
		fprintf(stderr, "skipped: CPROF_TEST_CLICKHOUSE_NODECTL not set (cluster only)\n");
		skip();
	}
	pair pp;
	pair_open(&pp, 0, false, NULL);
	fill(&pp);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s stop", ctl);
	assert_int_equal(system(cmd), 0);
	same_query(&pp, "", "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR);
	same_query(&pp, "{job=\"db\"}", "heap", T0 - 2 * HOUR + 1, T0 + HOUR - 1);
	for (int k = 0; k < 8; k++) {
		cprof_profile *p = gen(k % 2, 5, 100 + k, 1);
		append2(&pp, k % 2, 5, "cpu", T0 + HOUR + k * 60 * SEC, p, NULL);
		cprof_profile_free(p);
	}
	same_query(&pp, "", "cpu", T0 - 5 * HOUR, T0 + 2 * HOUR);
	srv_store *again = open_url(pp.url, NULL);
	srv_query_info a, b;
	cprof_profile *x = query(pp.lite, "", "cpu", T0, T0 + 2 * HOUR, &a);
	cprof_profile *y = query(again, "", "cpu", T0, T0 + 2 * HOUR, &b);
	assert_same("reopened with a replica down", x, y);
	cprof_profile_free(x);
	cprof_profile_free(y);
	srv_store_close(again);
	snprintf(cmd, sizeof cmd, "%s start", ctl);
	assert_int_equal(system(cmd), 0);
	pair_close(&pp);
}

int main(void)
{
	ch_base = getenv("CPROF_TEST_CLICKHOUSE");
	if (ch_base && !*ch_base)
		ch_base = NULL;
	ch_opts = getenv("CPROF_TEST_CLICKHOUSE_OPTS");
	if (ch_opts && !*ch_opts)
		ch_opts = NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_merges),
		cmocka_unit_test(test_gauge_uneven_counts),
		cmocka_unit_test(test_svc_rollup_shared_signature),
		cmocka_unit_test(test_svc_rollup_after_migration),
		cmocka_unit_test(test_same_series_labels_metrics),
		cmocka_unit_test(test_same_snapshots_retention),
		cmocka_unit_test(test_copy_same_answers),
		cmocka_unit_test(test_reopen_reads_clickhouse),
		cmocka_unit_test(test_two_writers_one_service),
		cmocka_unit_test(test_down_at_open),
		cmocka_unit_test(test_schema_v1_refused),
		cmocka_unit_test(test_slow_server_times_out),
		cmocka_unit_test(test_replica_down),
		cmocka_unit_test(test_restart_mid_ingest),     /* last: restarts the server */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
