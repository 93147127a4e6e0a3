/*
 * store_ch_query.c - the ClickHouse store's reads: merged ranges, totals
 * over time, metric series, label listings, pinned snapshots.
 *
 * A merged range is two kinds of SELECT and assembly in this process:
 *   1. per (series, signature): profiles, summed durations, first time,
 *      period (from profiles, one row per profile: cheap);
 *   2. per (service or series, signature, stack id): summed values, from
 *      samples for the partial hours at the range's ends and from the
 *      hourly rollups (AggregatingMergeTree fed by materialized views at
 *      insert, so always exact) for the whole hours in between; samples
 *      only if step 1 counted profiles outside those hours, and only
 *      the answer's signatures (sig IN) from any table.  Counters
 *      group by service, so ClickHouse returns one row per distinct
 *      stack, and read a service's hours from the per-service rollup
 *      (samples_svc_hour: one row per stack and hour, not per series,
 *      stack and hour) when no series left out by the selector has
 *      profiles of the answer's signatures there (svc_blocked), else from
 *      the per-series one (samples_hour); gauges read the per-series
 *      one, and each series' sums are divided by its profile count in
 *      the same SELECT (rounded half away from zero, as the SQLite
 *      store) and summed per service and stack there too.
 * The stack ids are then resolved (store_ch_dict.c, fetching ids this
 * process has not seen) and the profile built: ClickHouse 18.16 has one
 * JOIN per SELECT and no named CTEs, so no flame-graph SQL.
 *
 * Series are selected in this process (PCRE2 selectors, as the SQLite
 * store) over the series table, reloaded at each query so series other
 * servers created are seen; the matching ids go into the SELECTs' IN
 * lists.
 *
 * Threads: reads hold the store's lock only to flush, to copy the
 * matching series and to fetch and read stack blobs; the SELECTs run
 * without it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store_ch.h"

#include <math.h>
#include <stdarg.h>
#include <time.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------- */

/* The series of kind (exact; NULL: any) matching sel, copied (labels stay
 * valid: they are never freed before close). */
static int pick(srv_ch *c, const srv_selector *sel, const char *kind, ch_series **out,
		size_t *n, cprof_error *err)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	cprof_error fe = { 0 };
	ch_flush_locked(c, &fe);        /* a failed flush keeps its rows queued */
	pthread_mutex_unlock(&c->mu);
	int rc = ch_series_reload(c, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	ch_series *v = calloc(c->nseries + 1, sizeof *v);
	if (!v) {
		pthread_mutex_unlock(&c->mu);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	for (size_t i = 0; i < c->nseries; i++) {
		const ch_series *s = &c->series[i];
		if (kind && strcmp(s->kind, kind) != 0)
			continue;
		srv_labels l = { s->lv, s->nl };
		if (sel && !srv_selector_match(sel, &l))
			continue;
		v[(*n)++] = *s;
	}
	pthread_mutex_unlock(&c->mu);
	*out = v;
	return 0;
}

static void sqlf(sbuf *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sqlf(sbuf *q, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_put(q, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* n numbers comma-joined ("a,b,c") into q: the first at first, each next
 * one stride bytes after it (an array of uint64_t, stride sizeof
 * (uint64_t), or one field of an array of structs, stride the struct's
 * size).  q grows overflow-checked (sqlf: q->oom, which select_q
 * reports). */
static void id_list(sbuf *q, const uint64_t *first, size_t n, size_t stride)
{
	const char *base = (const char *)first;
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, base + i * stride, sizeof v);
		sqlf(q, "%s%llu", i ? "," : "", (unsigned long long)v);
	}
}

/* "COL IN (a,b,...)" into q, the numbers as id_list takes them. */
static void in_ids(sbuf *q, const char *col, const uint64_t *first, size_t n, size_t stride)
{
	sb_put(q, col, strlen(col));
	sb_put(q, " IN (", 5);
	id_list(q, first, n, stride);
	sb_put(q, ")", 1);
}


/* Run q (NUL-terminated here) and leave the answer in r (NUL after it). */
static int select_q(srv_ch *c, sbuf *q, sbuf *r, cprof_error *err)
{
	sb_put(q, " FORMAT TabSeparated", 20);
	sb_put(q, "", 1);
	if (q->oom)
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	int rc = ch_exec(&c->conn, (const char *)q->p, NULL, 0, r, err);
	sb_put(r, "", 1);
	if (!rc && r->oom)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	r->n--;
	return rc;
}

/* Parse "[1,2,3]" into v[0..max); returns the count. */
static size_t parse_arr(const char *s, int64_t *v, size_t max)
{
	size_t n = 0;
	if (*s == '[')
		s++;
	while (*s && *s != ']' && n < max) {
		char *e;
		v[n++] = strtoll(s, &e, 10);
		if (e == s)
			break;
		s = e;
		if (*s == ',')
			s++;
	}
	return n;
}

static ch_svc *svc_by_hash(srv_ch *c, uint64_t h)
{
	pthread_mutex_lock(&c->mu);
	ch_svc *r = NULL;
	for (size_t i = 0; i < c->nsvcs && !r; i++)
		if (c->svcs[i]->hash == h)
			r = c->svcs[i];
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* ---- merged ranges ------------------------------------------------------------------------ */

typedef struct sig_info {
	uint64_t hash;
	sbuf sig;
	int nv;
	int64_t tmin, dur, period;
} sig_info;

typedef struct pcount {            /* profiles per (series, signature) */
	uint64_t series, sig;
	uint64_t n;
} pcount;

typedef struct grp {
	uint64_t key, sig;              /* service hash, signature hash */
	ch_svc *svc;
	acc a;
} grp;

typedef struct mq {
	sig_info *sigs;
	size_t nsigs;
	pcount *pc;
	size_t npc, cappc;
	grp *g;
	size_t ng, capg;
	/* the stack ids read, numbered densely from 1 for the accumulators
	 * (qidx: stack id -> number; qid: number -> stack id) */
	u64map qidx;
	uint64_t *qid;
	size_t nqid, capqid;
	uint64_t nedge;                 /* profiles outside the whole hours [h0, h1) */
} mq;

static void mq_free(mq *m)
{
	for (size_t i = 0; i < m->nsigs; i++)
		sb_free(&m->sigs[i].sig);
	free(m->sigs);
	free(m->pc);
	for (size_t i = 0; i < m->ng; i++)
		acc_free(&m->g[i].a);
	free(m->g);
	u64map_free(&m->qidx);
	free(m->qid);
}

/* The query's number of stack id (new ones numbered): 0 or CPROF_ENOMEM. */
static int qid_of(mq *m, uint64_t id, uint32_t *out)
{
	uint32_t *slot;
	bool found;
	if (u64map_slot(&m->qidx, id | (UINT64_C(1) << 63), &slot, &found))
		return CPROF_ENOMEM;
	if (!found) {
		size_t k = m->nqid ? m->nqid : 1;
		if (k >= UINT32_MAX - 1 ||
		    cprof_reserve((void **)&m->qid, &m->capqid, k + 1, sizeof *m->qid)) {
			u64map_del(&m->qidx, id | (UINT64_C(1) << 63));
			return CPROF_ENOMEM;
		}
		m->qid[0] = 0;
		m->qid[k] = id;
		m->nqid = k + 1;
		*slot = (uint32_t)k;
	}
	*out = *slot;
	return 0;
}

static sig_info *sig_find(mq *m, uint64_t h)
{
	for (size_t i = 0; i < m->nsigs; i++)
		if (m->sigs[i].hash == h)
			return &m->sigs[i];
	return NULL;
}

static grp *grp_for(mq *m, uint64_t key, uint64_t sig, ch_svc *svc, int nv)
{
	for (size_t i = 0; i < m->ng; i++)
		if (m->g[i].key == key && m->g[i].sig == sig)
			return &m->g[i];
	if (cprof_reserve((void **)&m->g, &m->capg, m->ng + 1, sizeof *m->g))
		return NULL;
	grp *g = &m->g[m->ng++];
	memset(g, 0, sizeof *g);
	g->key = key;
	g->sig = sig;
	g->svc = svc;
	acc_init(&g->a, nv);
	return g;
}

/* Step 1: profiles per (series, signature). */
static int read_profiles(srv_ch *c, const ch_series *v, size_t n, int64_t from, int64_t until,
			 int64_t h0, int64_t h1, mq *m, srv_query_info *info, cprof_error *err)
{
	sbuf q = { 0 }, r = { 0 };
	char d0[16], d1[16];
	ch_utc_str(from, false, d0, sizeof d0);
	ch_utc_str(until - 1, false, d1, sizeof d1);
	sqlf(&q, "SELECT series, sig, count(), sum(duration), min(t), max(period),"
	     " countIf(t < %lld OR t >= %lld) FROM profiles"
	     " WHERE day >= '%s' AND day <= '%s' AND t >= %lld AND t < %lld AND ", (long long)h0,
	     (long long)h1, d0, d1, (long long)from, (long long)until);
	in_ids(&q, "series", &v->id, n, sizeof *v);
	sqlf(&q, " GROUP BY series, sig");
	int rc = select_q(c, &q, &r, err);
	size_t pos = 0, cap = 0;
	char *f[7];
	size_t fl[7];
	u64map seen = { 0 };
	while (!rc && tsv_row((char *)r.p, r.n, &pos, f, fl, 7) == 7) {
		m->nedge += strtoull(f[6], NULL, 10);
		uint64_t h = srv_hash_bytes(f[1], fl[1], 9) >> 1;
		sig_info *s = sig_find(m, h);
		if (!s) {
			if (cprof_reserve((void **)&m->sigs, &cap, m->nsigs + 1, sizeof *m->sigs)) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
				break;
			}
			s = &m->sigs[m->nsigs++];
			memset(s, 0, sizeof *s);
			s->hash = h;
			s->tmin = INT64_MAX;
			sb_put(&s->sig, f[1], fl[1]);
			s->nv = srv_sig_nv(f[1], fl[1]);
			if (s->nv < 0) {
				rc = cprof_seterr(err, CPROF_EFORMAT, "store: a broken signature");
				break;
			}
		}
		uint64_t cnt = strtoull(f[2], NULL, 10);
		int64_t t0 = strtoll(f[4], NULL, 10), per = strtoll(f[5], NULL, 10);
		s->dur += strtoll(f[3], NULL, 10);
		if (t0 < s->tmin)
			s->tmin = t0;
		if (per > s->period)
			s->period = per;
		if (cprof_reserve((void **)&m->pc, &m->cappc, m->npc + 1, sizeof *m->pc)) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			break;
		}
		uint64_t sid = strtoull(f[0], NULL, 10);
		m->pc[m->npc++] = (pcount){ sid, h, cnt };
		info->nprofiles += cnt;
		uint32_t *slot;
		bool found;
		if (!u64map_slot(&seen, sid | 1, &slot, &found) && !found)
			info->nseries++;
	}
	u64map_free(&seen);
	sb_free(&q);
	sb_free(&r);
	return rc;
}

/* Where step 2 reads. */
enum { SRC_RAW, SRC_HOUR, SRC_SVC_HOUR };

/* "day >= D0 AND day <= D1 AND <times> AND svc IN (...) AND sig IN (the
 * answer's signatures; or only sig1 if not 0)" into q, for a SELECT
 * from samples (rollup false: t in [from, h0) or [h1, until), the
 * partial hours at the range's ends; h0 == h1: all of [from, until)) or
 * from an hourly rollup (hours [h0, h1)).  svcs: the services' hashes
 * (the tables' first sorting column, so ClickHouse skips the others'
 * granules); the services' other kinds share the tables, hence sig. */
static void samples_where(sbuf *q, bool rollup, int64_t from, int64_t until, int64_t h0,
			  int64_t h1, const uint64_t *svcs, size_t nsvcs, const mq *m,
			  uint64_t sig1)
{
	char d0[16], d1[16];
	ch_utc_str(rollup ? h0 : from, false, d0, sizeof d0);
	ch_utc_str((rollup ? h1 : until) - 1, false, d1, sizeof d1);
	sqlf(q, " WHERE day >= '%s' AND day <= '%s' AND ", d0, d1);
	if (rollup)
		sqlf(q, "hour >= %lld AND hour < %lld AND ", (long long)(h0 / HOUR_NS),
		     (long long)(h1 / HOUR_NS));
	else if (h1 > h0)
		sqlf(q, "((t >= %lld AND t < %lld) OR (t >= %lld AND t < %lld)) AND ",
		     (long long)from, (long long)h0, (long long)h1, (long long)until);
	else
		sqlf(q, "t >= %lld AND t < %lld AND ", (long long)from, (long long)until);
	in_ids(q, "svc", svcs, nsvcs, sizeof *svcs);
	sb_put(q, " AND ", 5);
	/* (sig1 is one of the answer's signatures, which are distinct) */
	if (sig1)
		in_ids(q, "sig", &sig1, 1, sizeof sig1);
	else
		in_ids(q, "sig", m->nsigs ? &m->sigs->hash : NULL, m->nsigs, sizeof *m->sigs);
}

/* The summed value columns of a SELECT from samples (rollup false) or an
 * hourly rollup, named PFX0..PFX3 and PFXx (vx: some signature has more
 * than four values; else no PFXx). */
static void sum_cols(sbuf *q, bool rollup, bool vx, const char *pfx)
{
	static const char *const raw[4] = { CH_V(0), CH_V(1), CH_V(2), CH_V(3) };
	for (int k = 0; k < 4; k++)
		if (rollup)
			sqlf(q, ", sumMerge(v%d) AS %s%d", k, pfx, k);
		else
			sqlf(q, ", sum(%s) AS %s%d", raw[k], pfx, k);
	if (vx)
		sqlf(q, ", %s AS %sx", rollup ? "sumForEachMerge(vx)" : "sumForEach(vx)", pfx);
}

/* Run q and add its rows (service hash, signature, stack id, v0..v3, and
 * the values past four as an array or 0) into m's groups: one row per
 * service, signature and stack. */
static int take_rows(srv_ch *c, sbuf *q, bool rollup, mq *m, srv_query_info *info,
		     cprof_error *err)
{
	sbuf r = { 0 };
	int rc = select_q(c, q, &r, err);
	size_t pos = 0;
	char *f[8];
	size_t fl[8];
	int64_t vals[MAX_VTYPES];
	grp *last = NULL;
	while (!rc && tsv_row((char *)r.p, r.n, &pos, f, fl, 8) == 8) {
		uint64_t k = strtoull(f[0], NULL, 10), sg = strtoull(f[1], NULL, 10);
		sig_info *s = sig_find(m, sg);
		if (!s)
			continue;       /* a profile newer than step 1, or another kind's */
		if (!last || last->key != k || last->sig != sg) {
			ch_svc *svc = svc_by_hash(c, k);
			if (!svc)
				continue;
			last = grp_for(m, k, sg, svc, s->nv);
			if (!last) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
				break;
			}
		}
		memset(vals, 0, sizeof vals);
		for (int j = 0; j < 4; j++)
			vals[j] = strtoll(f[3 + j], NULL, 10);
		if (s->nv > 4)
			parse_arr(f[7], vals + 4, (size_t)s->nv - 4);
		uint32_t stack;
		if (qid_of(m, strtoull(f[2], NULL, 10), &stack) || acc_add(&last->a, stack, 0, vals))
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		if (rollup)
			info->nrollups++;
		else
			info->nraw++;
	}
	sb_free(&r);
	return rc;
}

/* Step 2 for counters: one SELECT of summed samples into the groups,
 * grouped in ClickHouse by (service, signature, stack) so one row per
 * stack comes back.  SRC_RAW: samples at the range's partial hours (see
 * samples_where); SRC_HOUR: the per-series hourly rollup, hours [h0, h1),
 * of the series v; SRC_SVC_HOUR: the per-service one (v unused). */
static int read_samples(srv_ch *c, const ch_series *v, size_t n, const uint64_t *svcs,
			size_t nsvcs, int src, bool vx, int64_t from, int64_t until, int64_t h0,
			int64_t h1, mq *m, srv_query_info *info, cprof_error *err)
{
	sbuf q = { 0 };
	bool rollup = src != SRC_RAW;
	sqlf(&q, "SELECT svc, sig, stack");
	sum_cols(&q, rollup, vx, "v");
	if (!vx)
		sqlf(&q, ", 0");
	sqlf(&q, " FROM %s", src == SRC_SVC_HOUR ? "samples_svc_hour" :
	     src == SRC_HOUR ? "samples_hour" : "samples");
	samples_where(&q, rollup, from, until, h0, h1, svcs, nsvcs, m, 0);
	if (src != SRC_SVC_HOUR) {
		sb_put(&q, " AND ", 5);
		in_ids(&q, "series", &v->id, n, sizeof *v);
	}
	sqlf(&q, " GROUP BY svc, sig, stack");
	int rc = take_rows(c, &q, rollup, m, info, err);
	sb_free(&q);
	return rc;
}

/* Round half away from zero of X / n (Int64), as acc_div. */
#define GAUGE_DIV(x) "if(" x " < 0, -intDiv(-" x " + intDiv(n, 2), n), intDiv(" x " + intDiv(n, 2), n))"

/* Step 2 for gauges, one SELECT per signature: each series' sums per
 * stack over the range (the partial hours' samples if step 1 counted
 * profiles there, plus the per-series hourly rollup's whole hours) are
 * divided by that series' profile count (step 1's, written into the
 * SELECT as a transform() table), rounded half away from zero as the
 * SQLite store does, and summed per service and stack in ClickHouse, so
 * one row per stack comes back instead of one per series and stack.
 * Only series with profiles of the signature in step 1 are read. */
static int read_gauge(srv_ch *c, const uint64_t *svcs, size_t nsvcs, bool vx, int64_t from,
		      int64_t until, int64_t h0, int64_t h1, mq *m, srv_query_info *info,
		      cprof_error *err)
{
	int rc = 0;
	uint64_t *ids = NULL, *cnt = NULL;
	size_t capi = 0, capc = 0;
	for (size_t i = 0; i < m->nsigs && !rc; i++) {
		uint64_t sg = m->sigs[i].hash;
		size_t k = 0;
		for (size_t j = 0; j < m->npc && !rc; j++) {
			if (m->pc[j].sig != sg || !m->pc[j].n)
				continue;
			if (cprof_reserve((void **)&ids, &capi, k + 1, sizeof *ids) ||
			    cprof_reserve((void **)&cnt, &capc, k + 1, sizeof *cnt)) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			} else {
				ids[k] = m->pc[j].series;
				cnt[k++] = m->pc[j].n;
			}
		}
		if (rc || !k)
			continue;
		/* the parts: whole hours, partial hours, or both (summed) */
		bool parts[2] = { h1 > h0, m->nedge > 0 };
		bool both = parts[0] && parts[1];
		sbuf q = { 0 };
		sqlf(&q, "SELECT svc, sig, stack, sum(" GAUGE_DIV("b0") "), sum(" GAUGE_DIV("b1")
		     "), sum(" GAUGE_DIV("b2") "), sum(" GAUGE_DIV("b3") "), %s FROM (SELECT svc,"
		     " sig, stack, b0, b1, b2, b3%s, toInt64(transform(series, [", vx ?
		     "sumForEach(arrayMap(x -> " GAUGE_DIV("x") ", bx))" : "0", vx ? ", bx" : "");
		id_list(&q, ids, k, sizeof *ids);
		sb_put(&q, "], [", 4);
		id_list(&q, cnt, k, sizeof *cnt);
		sb_put(&q, "], 1)) AS n FROM (", 18);
		if (both) {
			sqlf(&q, "SELECT svc, series, sig, stack, sum(a0) AS b0, sum(a1) AS b1,"
			     " sum(a2) AS b2, sum(a3) AS b3%s FROM (",
			     vx ? ", sumForEach(ax) AS bx" : "");
		}
		for (int p = 0, np = 0; p < 2; p++) {
			if (!parts[p])
				continue;
			if (np++)
				sqlf(&q, " UNION ALL ");
			sqlf(&q, "SELECT svc, series, sig, stack");
			sum_cols(&q, p == 0, vx, both ? "a" : "b");
			sqlf(&q, " FROM %s", p == 0 ? "samples_hour" : "samples");
			samples_where(&q, p == 0, from, until, h0, h1, svcs, nsvcs, m, sg);
			sb_put(&q, " AND ", 5);
			in_ids(&q, "series", ids, k, sizeof *ids);
			sqlf(&q, " GROUP BY svc, series, sig, stack");
		}
		if (both)
			sqlf(&q, ") GROUP BY svc, series, sig, stack");
		sqlf(&q, ")) GROUP BY svc, sig, stack");
		rc = take_rows(c, &q, parts[0], m, info, err);
		sb_free(&q);
	}
	free(ids);
	free(cnt);
	return rc;
}

/* Append x to (*v)[0..*n) unless there: 0 or CPROF_ENOMEM. */
static int u64_add_unique(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	for (size_t k = 0; k < *n; k++)
		if ((*v)[k] == x)
			return 0;
	if (cprof_reserve((void **)v, cap, *n + 1, sizeof **v))
		return CPROF_ENOMEM;
	(*v)[(*n)++] = x;
	return 0;
}

/* The distinct service hashes of v into *out (caller frees). */
static int svcs_of(const ch_series *v, size_t n, uint64_t **out, size_t *nout)
{
	*nout = 0;
	*out = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < n; i++)
		if (u64_add_unique(out, nout, &cap, v[i].svc->hash))
			return CPROF_ENOMEM;
	return 0;
}

/* The services whose per-service rollup over [h0, h1) would hold more
 * than the selected series v: some series not selected (another kind,
 * or excluded by the selector) has profiles there with a signature of
 * the answer.  Their hashes go to *blocked (caller frees); *all: a
 * series this process does not know was seen, so every service is. */
static int svc_blocked(srv_ch *c, const ch_series *v, size_t n, int64_t h0, int64_t h1, mq *m,
		       uint64_t **blocked, size_t *nb, bool *all, cprof_error *err)
{
	sbuf q = { 0 }, r = { 0 };
	char d0[16], d1[16];
	ch_utc_str(h0, false, d0, sizeof d0);
	ch_utc_str(h1 - 1, false, d1, sizeof d1);
	*blocked = NULL;
	*nb = 0;
	*all = false;
	sqlf(&q, "SELECT DISTINCT series, sig FROM profiles WHERE day >= '%s' AND day <= '%s'"
	     " AND t >= %lld AND t < %lld AND NOT ", d0, d1, (long long)h0, (long long)h1);
	in_ids(&q, "series", &v->id, n, sizeof *v);
	int rc = select_q(c, &q, &r, err);
	size_t pos = 0, cap = 0;
	char *f[2];
	size_t fl[2];
	while (!rc && !*all && tsv_row((char *)r.p, r.n, &pos, f, fl, 2) == 2) {
		if (!sig_find(m, srv_hash_bytes(f[1], fl[1], 9) >> 1))
			continue;
		uint64_t id = strtoull(f[0], NULL, 10), h = 0;
		uint32_t ix;
		pthread_mutex_lock(&c->mu);
		bool known = u64map_get(&c->series_idx, id, &ix) && ix && ix <= c->nseries;
		if (known)
			h = c->series[ix - 1].svc->hash;
		pthread_mutex_unlock(&c->mu);
		if (!known) {
			*all = true;
			break;
		}
		if (u64_add_unique(blocked, nb, &cap, h))
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	sb_free(&q);
	sb_free(&r);
	return rc;
}

/* Step 2 for the whole hours [h0, h1) of a counter kind: from the
 * per-service rollup for each service whose rows there are all selected
 * series' (hours from c->svc_roll_from on), else from the per-series one. */
static int read_hours(srv_ch *c, const ch_series *v, size_t n, const uint64_t *svcs,
		      size_t nsvcs, bool vx, int64_t h0, int64_t h1, mq *m, srv_query_info *info,
		      cprof_error *err)
{
	int64_t hs = h0 > c->svc_roll_from ? h0 : c->svc_roll_from;
	if (hs >= h1)
		return read_samples(c, v, n, svcs, nsvcs, SRC_HOUR, vx, 0, 0, h0, h1, m,
				    info, err);
	uint64_t *bl = NULL;
	size_t nb = 0;
	bool all = false;
	int rc = svc_blocked(c, v, n, hs, h1, m, &bl, &nb, &all, err);
	uint64_t *ok = NULL;
	ch_series *bv = NULL;
	size_t nok = 0, nbv = 0;
	if (!rc && (!(ok = malloc((nsvcs + 1) * sizeof *ok)) ||
		    !(bv = malloc((n + 1) * sizeof *bv))))
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	for (size_t i = 0; i < nsvcs && !rc; i++) {
		bool b = all;
		for (size_t k = 0; k < nb && !b; k++)
			b = bl[k] == svcs[i];
		if (!b)
			ok[nok++] = svcs[i];
	}
	for (size_t i = 0; i < n && !rc; i++) {
		bool b = all;
		for (size_t k = 0; k < nb && !b; k++)
			b = bl[k] == v[i].svc->hash;
		if (b)
			bv[nbv++] = v[i];
	}
	if (!rc && nok)
		rc = read_samples(c, NULL, 0, ok, nok, SRC_SVC_HOUR, vx, 0, 0, hs, h1, m,
				  info, err);
	if (!rc && nbv)
		rc = read_samples(c, bv, nbv, all ? svcs : bl, all ? nsvcs : nb, SRC_HOUR,
				  vx, 0, 0, hs, h1, m, info, err);
	if (!rc && hs > h0)
		rc = read_samples(c, v, n, svcs, nsvcs, SRC_HOUR, vx, 0, 0, h0, hs, m, info,
				  err);
	free(bl);
	free(ok);
	free(bv);
	return rc;
}

/* A new profile with the sample types of signature sig. */
static cprof_profile *profile_for_sig(const sbuf *sig)
{
	cprof_profile *p = cprof_profile_new();
	if (!p)
		return NULL;
	rd r = { sig->p, sig->n, 0, false };
	size_t l;
	const char *s = rd_str(&r, &l);
	p->period_type.type = r.bad ? 0 : cprof_intern(p, s, l);
	s = rd_str(&r, &l);
	p->period_type.unit = r.bad ? 0 : cprof_intern(p, s, l);
	uint64_t nv = rd_uv(&r);
	for (uint64_t i = 0; i < nv && !r.bad && i < MAX_VTYPES; i++) {
		const char *t = rd_str(&r, &l);
		cprof_str ti = r.bad ? 0 : cprof_intern(p, t, l);
		const char *u = rd_str(&r, &l);
		cprof_str ui = r.bad ? 0 : cprof_intern(p, u, l);
		cprof_add_vtype(p, ti, ui);
	}
	s = rd_str(&r, &l);
	p->default_sample_type = r.bad ? 0 : cprof_intern(p, s, l);
	if (r.bad) {
		cprof_profile_free(p);
		return NULL;
	}
	return p;
}

/* Build the groups of one signature into a profile. */
static int build_sig(srv_ch *c, mq *m, sig_info *s, cprof_profile **out, cprof_error *err)
{
	ch_build b = { .p = profile_for_sig(&s->sig) };
	if (!b.p)
		return cprof_seterr(err, CPROF_EFORMAT, "store: a broken signature");
	int rc = 0;
	for (size_t i = 0; i < m->ng && !rc; i++) {
		grp *g = &m->g[i];
		if (g->sig != s->hash || !g->a.n)
			continue;
		uint32_t *ids = malloc(g->a.n * sizeof *ids);
		uint64_t *sid = malloc(g->a.n * sizeof *sid);
		if (!ids || !sid) {
			free(ids);
			free(sid);
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			break;
		}
		for (size_t k = 0; k < g->a.n; k++)
			sid[k] = m->qid[g->a.key[k] >> 32];
		/* two writers' ids of one stack resolve to one local id, so
		 * two samples of one stack: cprof_compact below folds them */
		pthread_mutex_lock(&c->mu);
		rc = ch_stacks_resolve(c, g->svc, sid, g->a.n, ids, err);
		for (size_t k = 0; k < g->a.n && !rc; k++)
			rc = ch_build_add(&b, g->svc, ids[k], g->a.val + k * (size_t)g->a.nv, err);
		pthread_mutex_unlock(&c->mu);
		free(ids);
		free(sid);
	}
	ch_build_free(&b);
	if (!rc) {
		b.p->time_nanos = s->tmin == INT64_MAX ? 0 : s->tmin;
		b.p->duration_nanos = s->dur;
		b.p->period = s->period;
		rc = cprof_compact(b.p, err);
	}
	if (rc) {
		cprof_profile_free(b.p);
		return rc;
	}
	*out = b.p;
	return 0;
}

int ch_query(srv_store *base, const srv_selector *sel, const char *kind, int64_t from_ns,
		 int64_t until_ns, cprof_profile **out, srv_query_info *info, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	if ((until_ns - from_ns) / DAY_NS > 3660)
		return cprof_seterr(err, CPROF_EINVAL, "time range over ten years");
	bool gauge = info->agg == SRV_AGG_AVG;
	ch_series *v;
	size_t n;
	int rc = pick(c, sel, kind, &v, &n, err);
	if (rc)
		return rc;
	mq m = { 0 };
	/* whole hours inside the range come from a rollup, the partial
	 * hours at its ends (if any) from samples */
	int64_t h0 = (from_ns + HOUR_NS - 1) / HOUR_NS * HOUR_NS;
	int64_t h1 = until_ns / HOUR_NS * HOUR_NS;
	if (c->o.no_rollups || h1 <= h0)
		h0 = h1 = 0;
	if (n)
		rc = read_profiles(c, v, n, from_ns, until_ns, h0, h1, &m, info, err);
	uint64_t *svcs = NULL;
	size_t nsvcs = 0;
	if (!rc && m.nsigs && svcs_of(v, n, &svcs, &nsvcs))
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	if (!rc && m.nsigs) {
		bool vx = false;
		for (size_t i = 0; i < m.nsigs; i++)
			vx |= m.sigs[i].nv > 4;
		/* samples only where step 1 saw profiles (a sample row's
		 * time is its profile's) */
		if (gauge)
			rc = read_gauge(c, svcs, nsvcs, vx, from_ns, until_ns, h0, h1, &m, info,
					err);
		if (!gauge && m.nedge)
			rc = read_samples(c, v, n, svcs, nsvcs, SRC_RAW, vx, from_ns, until_ns, h0,
					  h1, &m, info, err);
		if (!gauge && !rc && h1 > h0)
			rc = read_hours(c, v, n, svcs, nsvcs, vx, h0, h1, &m, info, err);
	}
	free(svcs);
	cprof_profile **parts = calloc(m.nsigs + 1, sizeof *parts);
	if (!parts && !rc)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	size_t np = 0;
	for (size_t i = 0; i < m.nsigs && !rc; i++)
		if (!(rc = build_sig(c, &m, &m.sigs[i], &parts[np], err)))
			np++;
	if (!rc) {
		if (np == 0) {
			if (!(*out = cprof_profile_new()))
				rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		} else if (np == 1) {
			*out = parts[0];
			parts[0] = NULL;
		} else if (!(rc = cprof_compatibilize(parts, np, err))) {
			rc = cprof_merge(parts, np, out, err);
		}
	}
	for (size_t i = 0; i < np; i++)
		cprof_profile_free(parts[i]);
	free(parts);
	mq_free(&m);
	free(v);
	return rc;
}

/* ---- rows keyed by series ---------------------------------------------------------------- */

/* The rows of SELECTs in which one column is a series id, each mapped to
 * the matching series of pick() (rows of other series skipped).  One
 * reader per call, on the caller's stack; not shared between threads. */
typedef struct srows {
	ch_series *v;                   /* pick()'s series */
	size_t n;
	u64map idx;                     /* series id -> index + 1 */
	sbuf q, r;                      /* the next SELECT, the last answer */
	size_t pos;
} srows;

/* pick() the series of kind matching sel into s (zeroed first); 0 or an
 * error (s is then still for srows_close). */
static int srows_open(srv_ch *c, const srv_selector *sel, const char *kind, srows *s,
		      cprof_error *err)
{
	memset(s, 0, sizeof *s);
	int rc = pick(c, sel, kind, &s->v, &s->n, err);
	for (size_t i = 0; i < s->n && !rc; i++) {
		uint32_t *slot;
		bool found;
		if (u64map_slot(&s->idx, s->v[i].id, &slot, &found))
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		else
			*slot = (uint32_t)i + 1;
	}
	return rc;
}

/* Run the SELECT in s->q (emptied after) for srows_next. */
static int srows_run(srv_ch *c, srows *s, cprof_error *err)
{
	sb_reset(&s->r);
	s->pos = 0;
	int rc = select_q(c, &s->q, &s->r, err);
	sb_reset(&s->q);
	return rc;
}

/* The next row of nf fields (into f, fl) whose column scol is a series of
 * s: that series' index; s->n at the end of the answer. */
static size_t srows_next(srows *s, size_t scol, char **f, size_t *fl, size_t nf)
{
	while (tsv_row((char *)s->r.p, s->r.n, &s->pos, f, fl, nf) == nf) {
		uint32_t i;
		if (u64map_get(&s->idx, strtoull(f[scol], NULL, 10), &i))
			return i - 1;
	}
	return s->n;
}

static void srows_close(srows *s)
{
	sb_free(&s->q);
	sb_free(&s->r);
	u64map_free(&s->idx);
	free(s->v);
}

/* ---- totals over time ---------------------------------------------------------------------- */

static int wins_emit(srv_wins *w, const ch_series *v, size_t n, int64_t from, int64_t step,
		     bool avg, srv_series_cb cb, void *ctx)
{
	int rc = 0;
	for (size_t s = 0; s < n && !rc; s++) {
		size_t k = 0;
		for (size_t i = 0; i < w->n; i++) {
			size_t x = s * w->n + i;
			if (!w->cnt[x])
				continue;
			w->pts[k].t_ns = from + (int64_t)i * step;
			w->pts[k].value = avg ? w->sum[x] / (double)w->cnt[x] : w->sum[x];
			k++;
		}
		srv_labels l = { v[s].lv, v[s].nl };
		if (k)
			rc = cb(ctx, &l, w->pts, k);
	}
	return rc;
}

/* "SELECT COLS FROM TABLE WHERE <days and times of [from, until)> AND
 * series IN (...)" into q. */
static void range_select(sbuf *q, const char *cols, const char *table, int64_t from,
			 int64_t until, const ch_series *v, size_t n)
{
	char d0[16], d1[16];
	ch_utc_str(from, false, d0, sizeof d0);
	ch_utc_str(until - 1, false, d1, sizeof d1);
	sqlf(q, "SELECT %s FROM %s WHERE day >= '%s' AND day <= '%s' AND t >= %lld AND t < %lld"
	     " AND ", cols, table, d0, d1, (long long)from, (long long)until);
	in_ids(q, "series", &v->id, n, sizeof *v);
}

/* The common start of the totals-over-time reads: the matching series
 * (in s), their windows, and "SELECT COLS FROM TABLE WHERE <days and
 * times of the range> AND series IN (...)" in s->q.  0 with s->n == 0:
 * nothing matches. */
static int ts_begin(srv_ch *c, const srv_selector *sel, const char *kind, int64_t from,
		    int64_t until, int64_t step, const char *cols, const char *table, srows *s,
		    srv_wins *w, cprof_error *err)
{
	int rc = srows_open(c, sel, kind, s, err);
	if (!rc)
		rc = srv_wins_init(w, s->n, from, until, step, err);
	if (!rc && s->n)
		range_select(&s->q, cols, table, from, until, s->v, s->n);
	return rc;
}

int ch_series_points(srv_store *base, const srv_selector *sel, const char *kind, int64_t from_ns,
		  int64_t until_ns, int64_t step_ns, const char *sample_type, const char *focus,
		  srv_series_cb cb, void *ctx, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	pcre2_code *re;
	int rc = srv_focus_re(focus, &re, err);
	if (rc)
		return rc;
	srows s;
	srv_wins w = { 0 };
	/* signature hash -> value index + 1 (0: no such type) */
	u64map vis = { 0 };
	char *f[5];
	size_t fl[5];
	rc = ts_begin(c, sel, kind, from_ns, until_ns, step_ns, "series, t, sig, totals",
		      "profiles", &s, &w, err);
	if (rc || !s.n || (rc = srows_run(c, &s, err)))
		goto out;
	for (size_t i; !rc && (i = srows_next(&s, 0, f, fl, 4)) < s.n;) {
		int vi = srv_sig_find(f[2], fl[2], sample_type);
		if (vi < 0 || srv_sig_nv(f[2], fl[2]) < 0)
			continue;
		uint32_t *slot;
		bool found;
		if (u64map_slot(&vis, srv_hash_bytes(f[2], fl[2], 9) >> 1 | 1, &slot, &found)) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			break;
		}
		*slot = (uint32_t)vi + 1;
		size_t wi = (size_t)((strtoll(f[1], NULL, 10) - from_ns) / step_ns);
		w.cnt[i * w.n + wi]++;
		if (!re) {
			int64_t tot[MAX_VTYPES] = { 0 };
			parse_arr(f[3], tot, MAX_VTYPES);
			w.sum[i * w.n + wi] += (double)tot[vi];
		}
	}
	if (!rc && re) {
		/* the samples, each distinct stack tested once per service */
		range_select(&s.q, "series, t, sig, stack,"
			     " arrayConcat([" CH_V(0) ", " CH_V(1) ", " CH_V(2) ", " CH_V(3) "], vx)",
			     "samples", from_ns, until_ns, s.v, s.n);
		rc = srows_run(c, &s, err);
		u64map hits = { 0 };
		for (size_t i; !rc && (i = srows_next(&s, 0, f, fl, 5)) < s.n;) {
			uint32_t vi1;
			uint64_t sg = strtoull(f[2], NULL, 10);
			if (!u64map_get(&vis, sg | 1, &vi1) || !vi1)
				continue;
			const ch_series *se = &s.v[i];
			uint64_t stack = strtoull(f[3], NULL, 10);
			uint64_t hk = srv_hash_bytes(&stack, sizeof stack, se->svc->hash) | 1;
			uint32_t hit;
			if (!u64map_get(&hits, hk, &hit)) {
				uint32_t local = 0;
				pthread_mutex_lock(&c->mu);
				rc = ch_stacks_resolve(c, se->svc, &stack, 1, &local, err);
				int h = rc ? 0 : ch_stack_focus(se->svc, local, re);
				pthread_mutex_unlock(&c->mu);
				if (rc)
					break;
				hit = h > 0 ? 2 : 1;
				uint32_t *slot;
				bool found;
				if (u64map_slot(&hits, hk, &slot, &found)) {
					rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
					break;
				}
				*slot = hit;
			}
			if (hit != 2)
				continue;
			int64_t vals[MAX_VTYPES] = { 0 };
			parse_arr(f[4], vals, MAX_VTYPES);
			size_t wi = (size_t)((strtoll(f[1], NULL, 10) - from_ns) / step_ns);
			w.sum[i * w.n + wi] += (double)vals[vi1 - 1];
		}
		u64map_free(&hits);
	}
	if (!rc)
		rc = wins_emit(&w, s.v, s.n, from_ns, step_ns, srv_kind_agg(kind) == SRV_AGG_AVG,
			       cb, ctx);
out:
	if (re)
		pcre2_code_free(re);
	u64map_free(&vis);
	srows_close(&s);
	srv_wins_free(&w);
	return rc;
}

int ch_metric_series(srv_store *base, const srv_selector *sel, const char *name, int64_t from_ns,
			 int64_t until_ns, int64_t step_ns, srv_series_cb cb, void *ctx,
			 cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	char kind[208];
	snprintf(kind, sizeof kind, "#%s", name);
	srows s;
	srv_wins w = { 0 };
	int rc = srv_wins_init(&w, 0, from_ns, until_ns, step_ns, err);
	srv_wins_free(&w);
	if (rc)
		return rc;
	rc = ts_begin(c, sel, kind, from_ns, until_ns, step_ns, "series, t, value", "metrics", &s,
		      &w, err);
	if (rc || !s.n)
		goto out;
	sqlf(&s.q, " ORDER BY series, t");
	rc = srows_run(c, &s, err);
	char *f[3];
	size_t fl[3];
	for (size_t i; !rc && (i = srows_next(&s, 0, f, fl, 3)) < s.n;) {
		double x = strtod(f[2], NULL);
		if (!isfinite(x))
			continue;
		size_t wi = (size_t)((strtoll(f[1], NULL, 10) - from_ns) / step_ns);
		w.sum[i * w.n + wi] += x;
		w.cnt[i * w.n + wi]++;
	}
	if (!rc)
		rc = wins_emit(&w, s.v, s.n, from_ns, step_ns, true, cb, ctx);
out:
	srows_close(&s);
	srv_wins_free(&w);
	return rc;
}

/* ---- listings ------------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool add_str(srv_strlist *l, size_t *cap, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return srv_strlist_add(l, cap, s);
}

int ch_labels(srv_store *base, int which, const char *name, int64_t from_ns, int64_t until_ns,
		  srv_strlist *out, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	srows s;
	int rc = srows_open(c, NULL, NULL, &s, err);
	bool ranged = from_ns || until_ns;
	bool *live = rc ? NULL : calloc(s.n + 1, sizeof *live);
	if (!rc && !live)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	if (!rc && ranged) {
		/* series whose data spans overlap [from, until) */
		sqlf(&s.q, "SELECT series FROM profiles GROUP BY series HAVING min(t) < %lld AND"
		     " max(t) >= %lld UNION ALL SELECT series FROM metrics GROUP BY series HAVING"
		     " min(t) < %lld AND max(t) >= %lld", (long long)until_ns, (long long)from_ns,
		     (long long)until_ns, (long long)from_ns);
		rc = srows_run(c, &s, err);
		char *f[1];
		size_t fl[1];
		for (size_t i; !rc && (i = srows_next(&s, 0, f, fl, 1)) < s.n;)
			live[i] = true;
	}
	size_t cap = 0;
	bool oom = false;
	for (size_t i = 0; i < s.n && !rc && !oom; i++) {
		const ch_series *v = &s.v[i];
		if (ranged && !live[i])
			continue;
		if (which == 2) {
			if (v->kind[0] != '#')
				oom = !add_str(out, &cap, v->kind);
			continue;
		}
		for (size_t k = 0; k < v->nl && !oom; k++) {
			if (which == 0)
				oom = !add_str(out, &cap, v->lv[k].name);
			else if (strcmp(v->lv[k].name, name) == 0)
				oom = !add_str(out, &cap, v->lv[k].value);
		}
	}
	free(live);
	srows_close(&s);
	if (oom && !rc)
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	if (rc) {
		srv_strlist_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, cmp_str);
	return 0;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

int ch_snapshots(srv_store *base, int64_t from_ns, int64_t until_ns,
		     int (*cb)(void *ctx, const srv_snapshot *snap), void *ctx, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	srows s;
	int rc = srows_open(c, NULL, NULL, &s, err);
	sqlf(&s.q, "SELECT id, rule, series, t, duration FROM pinned");
	if (from_ns || until_ns)
		sqlf(&s.q, " WHERE t >= %lld AND t < %lld", (long long)from_ns, (long long)until_ns);
	sqlf(&s.q, " ORDER BY t DESC, id DESC");
	if (!rc)
		rc = srows_run(c, &s, err);
	char *f[5];
	size_t fl[5];
	for (size_t i; !rc && (i = srows_next(&s, 2, f, fl, 5)) < s.n;) {
		srv_snapshot sn = {
			.id = strtoll(f[0], NULL, 10),
			.rule = f[1],
			.kind = s.v[i].kind,
			.labels = { s.v[i].lv, s.v[i].nl },
			.time_ns = strtoll(f[3], NULL, 10),
			.duration_ns = strtoll(f[4], NULL, 10),
		};
		rc = cb(ctx, &sn);
	}
	srows_close(&s);
	return rc;
}

int ch_snapshot_get(srv_store *base, int64_t id, cprof_profile **out, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	*out = NULL;
	srows s;
	int rc = srows_open(c, NULL, NULL, &s, err);
	sqlf(&s.q, "SELECT series, t, duration, period, sig, stacks, vals FROM pinned WHERE id = %lld"
	     " LIMIT 1", (long long)id);
	if (!rc)
		rc = srows_run(c, &s, err);
	char *f[7];
	size_t fl[7];
	if (!rc && tsv_row((char *)s.r.p, s.r.n, &s.pos, f, fl, 7) != 7)
		rc = cprof_seterr(err, CPROF_EINVAL, "no snapshot %lld", (long long)id);
	uint32_t si = 0;
	if (!rc && !u64map_get(&s.idx, strtoull(f[0], NULL, 10), &si))
		rc = cprof_seterr(err, CPROF_EFORMAT, "snapshot %lld: its series is missing",
				  (long long)id);
	ch_svc *svc = rc ? NULL : s.v[si - 1].svc;
	sbuf sig = { 0 };
	int nv = -1;
	if (!rc) {
		sb_put(&sig, f[4], fl[4]);
		nv = srv_sig_nv(f[4], fl[4]);
		if (nv < 0)
			rc = cprof_seterr(err, CPROF_EFORMAT, "snapshot %lld is damaged",
					  (long long)id);
	}
	/* the stack ids and the values */
	size_t ns = 0;
	for (const char *p = f[5]; !rc && *p; p++)
		ns += *p == ',';
	ns += !rc && fl[5] > 2;
	int64_t *ids64 = rc ? NULL : calloc(ns + 1, sizeof *ids64);
	uint32_t *ids = rc ? NULL : calloc(ns + 1, sizeof *ids);
	int64_t *vals = rc ? NULL : calloc(ns * (size_t)(nv > 0 ? nv : 1) + 1, sizeof *vals);
	if (!rc && (!ids64 || !ids || !vals))
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	if (!rc) {
		if (parse_arr(f[5], ids64, ns) != ns || parse_arr(f[6], vals, ns * (size_t)nv) !=
		    ns * (size_t)nv)
			rc = cprof_seterr(err, CPROF_EFORMAT, "snapshot %lld is damaged",
					  (long long)id);
	}
	ch_build b = { 0 };
	if (!rc && !(b.p = profile_for_sig(&sig)))
		rc = cprof_seterr(err, CPROF_EFORMAT, "snapshot %lld is damaged", (long long)id);
	if (!rc) {
		pthread_mutex_lock(&c->mu);
		rc = ch_stacks_resolve(c, svc, (const uint64_t *)ids64, ns, ids, err);
		for (size_t i = 0; i < ns && !rc; i++)
			rc = ch_build_add(&b, svc, ids[i], vals + i * (size_t)nv, err);
		pthread_mutex_unlock(&c->mu);
	}
	if (!rc) {
		b.p->time_nanos = strtoll(f[1], NULL, 10);
		b.p->duration_nanos = strtoll(f[2], NULL, 10);
		b.p->period = strtoll(f[3], NULL, 10);
		rc = cprof_compact(b.p, err);
	}
	if (!rc) {
		*out = b.p;
		b.p = NULL;
	}
	cprof_profile_free(b.p);
	ch_build_free(&b);
	free(ids64);
	free(ids);
	free(vals);
	sb_free(&sig);
	srows_close(&s);
	return rc;
}

/* ---- what a copy into this store skips (store_copy.c) ---------------------------------- */

static int cmp_day(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

int ch_times(srv_store *base, int64_t from_ns, int64_t until_ns, srv_stored_cb cb, void *ctx,
	     cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	if (from_ns < 0 || until_ns <= from_ns)
		return 0;
	srows s;
	int rc = srows_open(c, NULL, NULL, &s, err);
	char d0[16], d1[16];
	ch_utc_str(from_ns, false, d0, sizeof d0);
	ch_utc_str(until_ns - 1, false, d1, sizeof d1);
	static const char *const tables[2] = { "profiles", "metrics" };
	for (int k = 0; k < 2 && !rc; k++) {
		sqlf(&s.q, "SELECT series, t FROM %s WHERE day >= '%s' AND day <= '%s' AND t >= %lld"
		     " AND t < %lld", tables[k], d0, d1, (long long)from_ns, (long long)until_ns);
		rc = srows_run(c, &s, err);
		char *f[2];
		size_t fl[2];
		for (size_t i; !rc && (i = srows_next(&s, 0, f, fl, 2)) < s.n;) {
			srv_labels l = { s.v[i].lv, s.v[i].nl };
			srv_stored it = { .kind = s.v[i].kind, .labels = &l,
					  .time_ns = strtoll(f[1], NULL, 10) };
			rc = cb(ctx, &it);
		}
	}
	srows_close(&s);
	return rc;
}

int ch_walk(srv_store *base, int64_t from_ns, int64_t until_ns, srv_stored_cb cb, void *ctx,
	    cprof_error *err)
{
	return cprof_seterr(err, CPROF_EINVAL, "store: a ClickHouse store cannot be copied from"
			    " (copy into it from a SQLite store)");
}

int ch_days(srv_store *base, int32_t **days, size_t *n, cprof_error *err)
{
	srv_ch *c = (srv_ch *)base;
	*days = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	int rc = ch_flush_locked(c, err);
	pthread_mutex_unlock(&c->mu);
	sbuf q = { 0 }, r = { 0 };
	sqlf(&q, "SELECT DISTINCT toUInt32(day) AS d FROM profiles UNION ALL"
	     " SELECT DISTINCT toUInt32(day) AS d FROM metrics");
	if (!rc)
		rc = select_q(c, &q, &r, err);
	size_t pos = 0, cap = 0;
	char *f[1];
	size_t fl[1];
	while (!rc && tsv_row((char *)r.p, r.n, &pos, f, fl, 1) == 1) {
		int32_t d = (int32_t)strtol(f[0], NULL, 10);
		bool seen = false;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = (*days)[i] == d;
		if (seen)
			continue;
		if (cprof_reserve((void **)days, &cap, *n + 1, sizeof **days))
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		else
			(*days)[(*n)++] = d;
	}
	if (!rc && *n > 1)
		qsort(*days, *n, sizeof **days, cmp_day);
	sb_free(&q);
	sb_free(&r);
	if (rc) {
		free(*days);
		*days = NULL;
		*n = 0;
	}
	return rc;
}
