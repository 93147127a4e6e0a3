/*
 * server_ingest.c - the server store's benchmark: a synthetic fleet
 * ingested into a SQLite store as fast as it goes, then range queries.
 *
 *   server_ingest ingest DIR TARGETS MINUTES   append MINUTES of fleet time
 *   server_ingest replicate DIR                copy the first hour's rollups
 *                                              over the previous 7 days
 *   server_ingest query DIR ROUNDS             time the range queries
 *   server_ingest gc DIR                       time retention dropping the
 *                                              days before day 0, with its
 *                                              dictionary collection
 *
 * The fleet: TARGETS targets in TARGETS/50 services (at least one), each
 * sending 6 profile kinds every 15 s (the scrape interval), at fleet times
 * from 2026-12-01T00:00Z, each target's scrape offset by its own jitter.
 * A service has one binary (one mapping, loaded at a different address in
 * each instance), 800 functions, a call tree of 4,000 nodes (one location
 * each) and a pool of 2,000 stacks (root-to-node paths, depth 8-30);
 * a profile draws its samples from the pool with Zipf(1.1) popularity, so
 * a few stacks are in every profile and most are rare, as in real
 * services.  Per kind (samples drawn / sample types): cpu 250/2,
 * heap 300/4, allocs 100/4, mutex 15/2, block 15/2, goroutine 40/1.
 *
 * Printed (ingest): profiles and samples appended, wall time, the rate
 * reached against the rate the fleet sends (TARGETS x 6 / 15 s), CPU
 * seconds of the appends alone (thread CPU time around srv_store_append),
 * of the whole process (appends, the rollup thread, SQLite) and of making
 * the profiles (subtracted), the peak RSS, disk bytes and bytes per stored
 * sample.
 * (query): for each range, the median and spread of ROUNDS runs, wall and
 * CPU, with the number of rows read.  Nothing asserts.
 */
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SEC INT64_C(1000000000)
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)
#define T0 (INT64_C(1796083200) * SEC)  /* 2026-12-01T00:00:00Z */
#define NFUNC 800
#define NNODE 4000
#define NSTACK 2000

typedef struct svc {
	int parent[NNODE], func[NNODE], depth[NNODE];
	int stack_node[NSTACK];
	double cdf[NSTACK];
} svc;

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void svc_init(svc *s)
{
	s->parent[0] = -1;
	s->depth[0] = 1;
	s->func[0] = 0;
	for (int i = 1; i < NNODE; i++) {
		/* parents among the recent nodes: deep trees */
		int lo = i > 60 ? i - 60 : 0;
		int p = lo + (int)(rnd() % (uint64_t)(i - lo));
		if (s->depth[p] >= 30)
			p = (int)(rnd() % 50);
		s->parent[i] = p;
		s->depth[i] = s->depth[p] + 1;
		s->func[i] = 1 + (int)(rnd() % (NFUNC - 1));
	}
	int k = 0;
	for (int i = NNODE - 1; i >= 0 && k < NSTACK; i--)
		if (s->depth[i] >= 8)
			s->stack_node[k++] = i;
	while (k < NSTACK)
		s->stack_node[k++] = (int)(rnd() % NNODE);
	double sum = 0;
	for (int i = 0; i < NSTACK; i++)
		sum += 1.0 / pow(i + 1, 1.1);
	double c = 0;
	for (int i = 0; i < NSTACK; i++) {
		c += 1.0 / pow(i + 1, 1.1) / sum;
		s->cdf[i] = c;
	}
}

static int zipf(const svc *s)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	int lo = 0, hi = NSTACK - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (s->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct kind {
	const char *name;
	int draws, nv;
	const char *types[4][2];
	const char *ptype[2];
} KINDS[6] = {
	{ "cpu", 250, 2, { { "samples", "count" }, { "cpu", "nanoseconds" } }, { "cpu", "nanoseconds" } },
	{ "heap", 300, 4, { { "alloc_objects", "count" }, { "alloc_space", "bytes" },
			    { "inuse_objects", "count" }, { "inuse_space", "bytes" } }, { "space", "bytes" } },
	{ "allocs", 100, 4, { { "alloc_objects", "count" }, { "alloc_space", "bytes" },
			      { "inuse_objects", "count" }, { "inuse_space", "bytes" } }, { "space", "bytes" } },
	{ "mutex", 15, 2, { { "contentions", "count" }, { "delay", "nanoseconds" } }, { "contentions", "count" } },
	{ "block", 15, 2, { { "contentions", "count" }, { "delay", "nanoseconds" } }, { "contentions", "count" } },
	{ "goroutine", 40, 1, { { "goroutine", "count" } }, { "goroutine", "count" } },
};

static int locmap[NNODE], funcmap[NFUNC];

static cprof_profile *make(const svc *s, int sidx, int inst, const struct kind *k)
{
	cprof_profile *p = cprof_profile_new();
	for (int i = 0; i < k->nv; i++)
		cprof_add_vtype(p, cprof_intern_cstr(p, k->types[i][0]), cprof_intern_cstr(p, k->types[i][1]));
	p->period_type.type = cprof_intern_cstr(p, k->ptype[0]);
	p->period_type.unit = cprof_intern_cstr(p, k->ptype[1]);
	p->period = 10000000;
	char buf[64];
	snprintf(buf, sizeof buf, "/usr/bin/service%d", sidx);
	uint64_t base = 0x555555554000ULL + ((uint64_t)inst << 28);
	cprof_mapping m = { .id = 1, .start = base, .limit = base + 0x1000000,
			    .file = cprof_intern_cstr(p, buf), .has_functions = true };
	snprintf(buf, sizeof buf, "%016llx", (unsigned long long)sidx * 0x9e3779b97f4a7c15ULL);
	m.build_id = cprof_intern_cstr(p, buf);
	cprof_add_mapping(p, &m);
	memset(locmap, -1, sizeof locmap);
	memset(funcmap, -1, sizeof funcmap);
	uint32_t stk[64];
	for (int d = 0; d < k->draws; d++) {
		int node = s->stack_node[zipf(s)];
		size_t n = 0;
		for (int x = node; x >= 0 && n < 64; x = s->parent[x]) {
			if (locmap[x] < 0) {
				int f = s->func[x];
				if (funcmap[f] < 0) {
					snprintf(buf, sizeof buf, "svc%d::module%d::function_%d", sidx, f % 37, f);
					cprof_str nm = cprof_intern_cstr(p, buf);
					snprintf(buf, sizeof buf, "src/module%d.cc", f % 37);
					cprof_function fn = { .id = p->functions.n + 1, .name = nm,
							      .system_name = nm,
							      .filename = cprof_intern_cstr(p, buf),
							      .start_line = f * 7 };
					funcmap[f] = (int)cprof_add_function(p, &fn);
				}
				cprof_location l = { .id = p->locations.n + 1,
						     .address = base + 0x1000 + (uint64_t)x * 24, .mapping = 0 };
				cprof_line ln = { (uint32_t)funcmap[f], f * 7 + x % 40, 0 };
				locmap[x] = (int)cprof_add_location(p, &l, &ln, 1);
			}
			stk[n++] = (uint32_t)locmap[x];
		}
		int64_t st = cprof_intern_stack(p, stk, n);
		int64_t v[4];
		for (int i = 0; i < k->nv; i++)
			v[i] = (int64_t)(1 + rnd() % 50) * (i % 2 ? 10000000 : 1);
		cprof_add_sample(p, (uint32_t)st, 0, v);
	}
	return p;
}

static long peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

/* CPU seconds (user + system) so far of the processes whose pids are in
 * the environment's STORE_PIDS (space-separated: the ClickHouse servers a
 * benchmark started); 0 without it. */
static double store_cpu(void)
{
	const char *e = getenv("STORE_PIDS");
	double t = 0;
	long hz = sysconf(_SC_CLK_TCK);
	for (char *end; e && *e; e = end) {
		long pid = strtol(e, &end, 10);
		if (end == e)
			break;
		char path[64], buf[1024];
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* fields 14 and 15 (utime, stime) after the ")" ending the name */
		char *p = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) == 2)
			t += (double)(ut + st) / (double)hz;
	}
	return t;
}

static int ingest(const char *dir, int targets, int minutes)
{
	int nsvc = targets / 50 ? targets / 50 : 1;
	svc *svcs = calloc((size_t)nsvc, sizeof *svcs);
	for (int i = 0; i < nsvc; i++)
		svc_init(&svcs[i]);
	srv_store *s;
	cprof_error err = { 0 };
	if (srv_store_open(dir, NULL, &s, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	int64_t *jit = malloc((size_t)targets * sizeof *jit);
	for (int t = 0; t < targets; t++)
		jit[t] = (int64_t)(rnd() % 15000) * 1000000;
	double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	double append_cpu = 0, gen_cpu = 0;
	uint64_t nprof = 0;
	int rounds = minutes * 4;
	for (int r = 0; r < rounds; r++) {
		for (int t = 0; t < targets; t++) {
			int sidx = t % nsvc;
			char inst[32], job[32];
			snprintf(inst, sizeof inst, "10.%d.%d.%d:6060", t / 65536, t / 256 % 256, t % 256);
			snprintf(job, sizeof job, "service%d", sidx);
			srv_label l[] = { { "instance", inst }, { "job", job } };
			srv_labels ls = { l, 2 };
			for (int k = 0; k < 6; k++) {
				double g0 = now_s(CLOCK_THREAD_CPUTIME_ID);
				cprof_profile *p = make(&svcs[sidx], sidx, t, &KINDS[k]);
				double a0 = now_s(CLOCK_THREAD_CPUTIME_ID);
				int64_t when = T0 + (int64_t)r * 15 * SEC + jit[t];
				if (srv_store_append(s, &ls, KINDS[k].name, when, 14 * SEC, p, NULL, &err)) {
					fprintf(stderr, "append: %s\n", err.msg);
					return 1;
				}
				double a1 = now_s(CLOCK_THREAD_CPUTIME_ID);
				cprof_profile_free(p);
				gen_cpu += a0 - g0;
				append_cpu += a1 - a0;
				nprof++;
			}
		}
		if ((r + 1) % 20 == 0)
			fprintf(stderr, "  %d of %d minutes of fleet time, %.0f s, rss %ld MB\n", (r + 1) / 4,
				minutes, now_s(CLOCK_MONOTONIC) - w0, peak_rss_mb());
	}
	srv_store_flush(s, NULL);
	double w1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	int nroll = srv_store_rollup_sync(s, &err);
	double w2 = now_s(CLOCK_MONOTONIC);
	srv_store_stats st;
	srv_store_get_stats(s, &st);
	double wall = w1 - w0, cpu = c1 - c0 - gen_cpu;
	printf("ingest: %d targets x 6 kinds every 15 s for %d min of fleet time\n", targets, minutes);
	printf("  profiles %llu, samples stored %llu (%.1f per profile), series %llu, stacks %llu\n",
	       (unsigned long long)nprof, (unsigned long long)st.samples,
	       (double)st.samples / (double)nprof, (unsigned long long)st.series,
	       (unsigned long long)st.stacks);
	double need = targets * 6 / 15.0;       /* profiles/s the fleet sends */
	printf("  wall %.1f s: %.0f profiles/s (%.2fx the fleet's %.0f/s)\n", wall,
	       (double)nprof / wall, (double)nprof / wall / need, need);
	printf("  CPU: appends %.1f s (%.0f us/profile), store total %.1f s (%.0f us/profile,"
	       " %.1f%% of one core at %.0f/s); profile generation %.1f s (not counted)\n",
	       append_cpu, append_cpu / (double)nprof * 1e6, cpu, cpu / (double)nprof * 1e6,
	       cpu / (double)nprof * need * 100, need, gen_cpu);
	printf("  peak RSS %ld MB\n", peak_rss_mb());
	printf("  disk %.1f MB, %.2f bytes per stored sample (all files, rollups included)\n",
	       (double)st.disk_bytes / 1e6, (double)st.disk_bytes / (double)st.samples);
	printf("  rollups after ingest: %d windows in %.1f s\n", nroll, w2 - w1);
	srv_store_close(s);
	free(jit);
	free(svcs);
	return 0;
}

/* Writing the store's day files directly is a bench-only shortcut (see
 * server_ingest.sh): the table layout is store_sqlite.c's. */
#include <sqlite3.h>

static int sql(sqlite3 *db, const char *q)
{
	char *e = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK) {
		fprintf(stderr, "sql: %s: %s\n", q, e);
		sqlite3_free(e);
		return 1;
	}
	return 0;
}

/* Give the 7 days before day 0 the rollups a week of this fleet has, as
 * copies of day 0's first hour, only where the queries' plans read them
 * (a full copy is ~5 GB a day): the day rows (level 3) of every day, and
 * for the two edge days (-1, where now-24h starts, and -7, where now-7d
 * starts) also every hour row (level 2) and the 10-minute rows (level 1)
 * of hours 0 and 1.  Day 0 keeps its real rows. */
static int replicate(const char *dir)
{
	char path[4096], q[8192];
	sqlite3 *db;
	/* every column a query reads: without totals the chart's series
	 * would decode every row's samples, which the store's own rows
	 * never make it do */
	const char *cols = "series, sig, nprofiles, duration, tmin, period, samples, totals";
	for (int d = 1; d <= 7; d++) {
		time_t tt = (time_t)((T0 - d * DAY) / SEC);
		struct tm tm;
		gmtime_r(&tt, &tm);
		snprintf(path, sizeof path, "%s/day-%04d%02d%02d.db", dir, tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
		char src[4200];
		snprintf(src, sizeof src, "%s/day-20261201.db", dir);
		remove(path);
		if (sqlite3_open(path, &db) != SQLITE_OK)
			return 1;
		long long shift = (long long)(d * DAY);
		snprintf(q, sizeof q, "ATTACH '%s' AS src; BEGIN;"
			 "CREATE TABLE profiles AS SELECT * FROM src.profiles WHERE 0;"
			 "CREATE TABLE rollups(id INTEGER PRIMARY KEY, level INTEGER NOT NULL,"
			 " wstart INTEGER NOT NULL, series INTEGER NOT NULL, sig BLOB, nprofiles INTEGER,"
			 " duration INTEGER, tmin INTEGER, period INTEGER, samples BLOB, totals BLOB);"
			 "CREATE TABLE rolled(level INTEGER NOT NULL, wstart INTEGER NOT NULL,"
			 " PRIMARY KEY(level, wstart)) WITHOUT ROWID;"
			 "INSERT INTO rollups(level, wstart, %s) SELECT 3, wstart - %lld, %s"
			 " FROM src.rollups WHERE level=2 AND wstart=%lld;"
			 "INSERT INTO rolled VALUES(3, %lld);",
			 src, cols, shift, cols, (long long)T0, (long long)T0 - shift);
		if (sql(db, q))
			return 1;
		if (d == 1 || d == 7) {
			for (int h = 0; h < 24; h++) {
				long long hs = (long long)(h * HOUR) - shift;
				snprintf(q, sizeof q,
					 "INSERT INTO rollups(level, wstart, %s) SELECT level, wstart + %lld, %s"
					 " FROM src.rollups WHERE (level=2 OR (level=1 AND %d < 2))"
					 " AND wstart>=%lld AND wstart<%lld;"
					 "INSERT OR REPLACE INTO rolled SELECT level, wstart + %lld FROM src.rolled"
					 " WHERE (level=2 OR (level=1 AND %d < 2)) AND wstart>=%lld AND wstart<%lld;",
					 cols, hs, cols, h, (long long)T0, (long long)(T0 + HOUR), hs, h,
					 (long long)T0, (long long)(T0 + HOUR));
				if (sql(db, q))
					return 1;
			}
		}
		if (sql(db, "CREATE INDEX rollups_w ON rollups(level, series, wstart); COMMIT;"
			    " DETACH src;"))
			return 1;
		sqlite3_close(db);
	}
	printf("replicated day 0's first-hour rollups over the 7 days before\n");
	return 0;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int query(const char *dir, int rounds)
{
	srv_store *s;
	cprof_error err = { 0 };
	srv_store_opts o = { .no_rollups = false };
	if (srv_store_open(dir, &o, &s, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	int64_t now = T0 + HOUR + 30 * 60 * SEC;        /* 01:30 on day 0 */
	struct q {
		const char *what, *sel, *kind;
		int64_t from, until;
	} qs[] = {
		{ "1 h (00:00-01:00, hour rollups)", "", "cpu", T0, T0 + HOUR },
		{ "1 h (now-1h at 01:30: 10-min rollups + raw 01:00-01:05)", "", "cpu", now - HOUR, now },
		{ "1 h (00:05-01:05: raw edges, 10-min rollups)", "", "cpu", T0 + 5 * 60 * SEC,
		  T0 + 65 * 60 * SEC },
		{ "1 h heap (now-1h, average)", "", "heap", now - HOUR, now },
		{ "1 h one service (now-1h)", "{job=\"service3\"}", "cpu", now - HOUR, now },
		{ "24 h (now-24h)", "", "cpu", now - DAY, now },
		{ "7 d (now-7d)", "", "cpu", now - 7 * DAY, now },
		{ "7 d heap (now-7d, average)", "", "heap", now - 7 * DAY, now },
		{ "30 d (now-30d)", "", "cpu", now - 30 * DAY, now },
	};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		double wall[64], cpu[64], scpu[64];
		srv_query_info info = { 0 };
		size_t nsamples = 0;
		for (int r = 0; r < rounds && r < 64; r++) {
			srv_selector *sel = NULL;
			srv_selector_parse(qs[i].sel, strlen(qs[i].sel), &sel, NULL);
			double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
			double s0 = store_cpu();
			cprof_profile *p = NULL;
			if (srv_store_query(s, sel, qs[i].kind, qs[i].from, qs[i].until, &p, &info, &err)) {
				fprintf(stderr, "query: %s\n", err.msg);
				return 1;
			}
			wall[r] = now_s(CLOCK_MONOTONIC) - w0;
			cpu[r] = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
			scpu[r] = store_cpu() - s0;
			nsamples = p->samples.n;
			cprof_profile_free(p);
			srv_selector_free(sel);
		}
		qsort(wall, (size_t)rounds, sizeof *wall, cmpd);
		qsort(cpu, (size_t)rounds, sizeof *cpu, cmpd);
		qsort(scpu, (size_t)rounds, sizeof *scpu, cmpd);
		char sc[64] = "";
		if (getenv("STORE_PIDS"))
			snprintf(sc, sizeof sc, " (ClickHouse %.3f s)", scpu[rounds / 2]);
		printf("query %-58s wall median %.3f s (min %.3f, max %.3f), CPU median %.3f s%s;"
		       " %zu profiles in %zu rollup + %zu raw rows, %zu series, %zu samples out\n",
		       qs[i].what, wall[rounds / 2], wall[0], wall[rounds - 1], cpu[rounds / 2], sc,
		       info.nprofiles, info.nrollups, info.nraw, info.nseries, nsamples);
	}
	printf("  peak RSS %ld MB\n", peak_rss_mb());
	srv_store_close(s);
	return 0;
}

/* Retention of one day at day 0 + 25 h: every day before day 0
 * goes (the replicated ones), then the dictionary collection scans what
 * is left (day 0) and the pinned rows.  Wall and process CPU of the whole
 * call, and the dictionary's stacks before and after. */
static int gc(const char *dir)
{
	srv_store *s;
	cprof_error err = { 0 };
	srv_store_opts o = { .retention_ns = DAY, .no_rollups = true };
	if (srv_store_open(dir, &o, &s, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	srv_store_stats a, b;
	srv_store_get_stats(s, &a);
	double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	int n = srv_store_retention(s, T0 + DAY + HOUR, &err);
	double w = now_s(CLOCK_MONOTONIC) - w0, c = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (n < 0) {
		fprintf(stderr, "retention: %s\n", err.msg);
		return 1;
	}
	srv_store_get_stats(s, &b);
	printf("gc: retention dropped %d days and collected the dictionary in %.3f s wall,"
	       " %.3f s CPU; stacks %llu -> %llu\n", n, w, c, (unsigned long long)a.stacks,
	       (unsigned long long)b.stacks);
	srv_store_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "ingest"))
		return ingest(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "replicate"))
		return replicate(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "query"))
		return query(argv[2], atoi(argv[3]));
	if (argc >= 3 && !strcmp(argv[1], "gc"))
		return gc(argv[2]);
	fprintf(stderr, "usage: server_ingest ingest DIR TARGETS MINUTES | replicate DIR |"
			" query DIR ROUNDS | gc DIR\n");
	return 2;
}
