/*
 * store_copy.c - copy one store into another (`cprof server copy SRC DST`,
 * e.g. a SQLite directory into ClickHouse), through the operations tables
 * only: the source walks what it holds (srv_store_walk), the destination
 * takes ordinary appends and so builds its own series, dictionaries and
 * rollups.
 *
 * Idempotence.  The copy goes one UTC day at a time.  Before a day, it
 * asks the destination which items it holds in that day (srv_store_times:
 * kind, labels and time of every profile and metric point) and keeps a set
 * of their hashes; a source item whose (kind, labels, time) is in the set
 * is skipped.  The destination is flushed every FLUSH_EVERY appends and at
 * the end of each day, so an interrupted copy leaves whole flushed batches
 * behind and a rerun copies exactly what is missing.  Pinned snapshots are
 * matched the same way on (rule, kind, labels, time).  Two profiles of one
 * series at the same nanosecond count as one (the ingest never makes such
 * pairs: one scrape per series per interval).
 *
 * Threads: runs in the calling thread; both stores stay usable by others
 * meanwhile (appends to the source after its walk passed a day are not
 * copied: rerun the copy after stopping the writer).
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLUSH_EVERY 2000

typedef struct copier {
	srv_store *dst;
	u64map have;                    /* hash of what dst holds -> 1 */
	uint64_t copied, skipped, day_copied, day_skipped, since_flush;
	cprof_error *err;
} copier;

/* The hash of (rule, kind, labels, time), never 0. */
static uint64_t item_hash(const char *rule, const char *kind, const srv_labels *l, int64_t t)
{
	uint64_t h = srv_hash_bytes(&t, sizeof t, 0x9e3779b97f4a7c15u);
	if (rule)
		h = srv_hash_bytes(rule, strlen(rule) + 1, h);
	h = srv_hash_bytes(kind, strlen(kind) + 1, h);
	for (size_t i = 0; i < l->n; i++) {
		h = srv_hash_bytes(l->v[i].name, strlen(l->v[i].name) + 1, h);
		h = srv_hash_bytes(l->v[i].value, strlen(l->v[i].value) + 1, h);
	}
	return h ? h : 1;
}

static int have_add(copier *c, uint64_t h)
{
	uint32_t *slot;
	bool found;
	if (u64map_slot(&c->have, h, &slot, &found))
		return cprof_seterr(c->err, CPROF_ENOMEM, "copy: out of memory");
	*slot = 1;
	return 0;
}

static int on_have(void *ctx, const srv_stored *it)
{
	copier *c = ctx;
	return have_add(c, item_hash(NULL, it->kind, it->labels, it->time_ns));
}

static int on_item(void *ctx, const srv_stored *it)
{
	copier *c = ctx;
	uint32_t one;
	if (u64map_get(&c->have, item_hash(NULL, it->kind, it->labels, it->time_ns), &one)) {
		c->day_skipped++;
		return 0;
	}
	int rc = it->p ? srv_store_append(c->dst, it->labels, it->kind, it->time_ns,
					  it->duration_ns, it->p, NULL, c->err)
		       : srv_store_append_metric(c->dst, it->labels, it->kind + 1, it->time_ns,
						 it->value, c->err);
	if (rc)
		return rc;
	c->day_copied++;
	if (++c->since_flush >= FLUSH_EVERY) {
		c->since_flush = 0;
		return srv_store_flush(c->dst, c->err);
	}
	return 0;
}

/* ---- pinned snapshots ------------------------------------------------------ */

typedef struct snapref {
	int64_t id;
	uint64_t hash;
} snapref;

typedef struct snaplist {
	snapref *v;
	size_t n, cap;
	bool oom;
} snaplist;

static int on_snap(void *ctx, const srv_snapshot *sn)
{
	snaplist *l = ctx;
	if (cprof_reserve((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v)) {
		l->oom = true;
		return CPROF_ENOMEM;
	}
	l->v[l->n++] = (snapref){ sn->id, item_hash(sn->rule, sn->kind, &sn->labels, sn->time_ns) };
	return 0;
}

/* Labels and kind of snapshot id of src, for the append (copied out of
 * the listing's callback). */
typedef struct snapmeta {
	int64_t id;
	char rule[256], kind[SRV_METRIC_KIND_MAX];
	srv_label lv[SRV_LABELS_MAX];
	char *block;
	size_t nl;
	int64_t t, dur;
	bool found;
} snapmeta;

static int on_snap_meta(void *ctx, const srv_snapshot *sn)
{
	snapmeta *m = ctx;
	if (sn->id != m->id)
		return 0;
	snprintf(m->rule, sizeof m->rule, "%s", sn->rule);
	snprintf(m->kind, sizeof m->kind, "%s", sn->kind);
	size_t bytes = 0;
	for (size_t i = 0; i < sn->labels.n; i++)
		bytes += strlen(sn->labels.v[i].name) + strlen(sn->labels.v[i].value) + 2;
	if (!(m->block = malloc(bytes + 1)))
		return CPROF_ENOMEM;
	char *o = m->block;
	m->nl = sn->labels.n < SRV_LABELS_MAX ? sn->labels.n : SRV_LABELS_MAX;
	for (size_t i = 0; i < m->nl; i++) {
		size_t a = strlen(sn->labels.v[i].name) + 1, b = strlen(sn->labels.v[i].value) + 1;
		memcpy(o, sn->labels.v[i].name, a);
		m->lv[i].name = o;
		o += a;
		memcpy(o, sn->labels.v[i].value, b);
		m->lv[i].value = o;
		o += b;
	}
	m->t = sn->time_ns;
	m->dur = sn->duration_ns;
	m->found = true;
	return 1;                       /* stop: found */
}

static int copy_snapshots(srv_store *src, srv_store *dst, FILE *progress, uint64_t *copied,
			  uint64_t *skipped, cprof_error *err)
{
	snaplist have = { 0 }, want = { 0 };
	u64map set = { 0 };
	int rc = srv_store_snapshots(dst, 0, 0, on_snap, &have, err);
	if (!rc)
		rc = srv_store_snapshots(src, 0, 0, on_snap, &want, err);
	if (have.oom || want.oom)
		rc = cprof_seterr(err, CPROF_ENOMEM, "copy: out of memory");
	for (size_t i = 0; i < have.n && !rc; i++) {
		uint32_t *slot;
		bool found;
		if (u64map_slot(&set, have.v[i].hash, &slot, &found))
			rc = cprof_seterr(err, CPROF_ENOMEM, "copy: out of memory");
		else
			*slot = 1;
	}
	uint64_t n = 0, k = 0;
	for (size_t i = 0; i < want.n && !rc; i++) {
		uint32_t one;
		if (u64map_get(&set, want.v[i].hash, &one)) {
			k++;
			continue;
		}
		snapmeta m = { .id = want.v[i].id };
		cprof_profile *p = NULL;
		int wr = srv_store_snapshots(src, 0, 0, on_snap_meta, &m, err);
		if (wr < 0)
			rc = wr;
		else if (!m.found)
			rc = 0;         /* gone meanwhile */
		else if (!(rc = srv_store_snapshot_get(src, m.id, &p, err))) {
			srv_labels l = { m.lv, m.nl };
			rc = srv_store_append(dst, &l, m.kind, m.t, m.dur, p, m.rule, err);
			n++;
		}
		cprof_profile_free(p);
		free(m.block);
	}
	if (!rc)
		rc = srv_store_flush(dst, err);
	if (!rc && progress)
		fprintf(progress, "copy: pinned snapshots: %llu copied, %llu already there\n",
			(unsigned long long)n, (unsigned long long)k);
	*copied += n;
	*skipped += k;
	free(have.v);
	free(want.v);
	u64map_free(&set);
	return rc;
}

int srv_store_copy(srv_store *src, srv_store *dst, FILE *progress, uint64_t *copied,
		   uint64_t *skipped, cprof_error *err)
{
	copier c = { .dst = dst, .err = err };
	int32_t *days = NULL;
	size_t nd = 0;
	int rc = srv_store_days(src, &days, &nd, err);
	for (size_t i = 0; i < nd && !rc; i++) {
		int64_t d0 = (int64_t)days[i] * DAY_NS, d1 = d0 + DAY_NS;
		u64map_clear(&c.have);
		c.day_copied = c.day_skipped = 0;
		if ((rc = srv_store_times(dst, d0, d1, on_have, &c, err)) ||
		    (rc = srv_store_walk(src, d0, d1, on_item, &c, err)) ||
		    (rc = srv_store_flush(dst, err)))
			break;
		c.since_flush = 0;
		c.copied += c.day_copied;
		c.skipped += c.day_skipped;
		if (progress) {
			char date[16];
			time_t tt = (time_t)days[i] * 86400;
			struct tm tm;
			gmtime_r(&tt, &tm);
			strftime(date, sizeof date, "%Y-%m-%d", &tm);
			fprintf(progress, "copy: day %s (%zu of %zu): %llu profiles and metric points"
				" copied, %llu already there\n", date, i + 1, nd,
				(unsigned long long)c.day_copied, (unsigned long long)c.day_skipped);
		}
	}
	if (!rc)
		rc = copy_snapshots(src, dst, progress, &c.copied, &c.skipped, err);
	free(days);
	u64map_free(&c.have);
	if (copied)
		*copied = c.copied;
	if (skipped)
		*skipped = c.skipped;
	return rc;
}
