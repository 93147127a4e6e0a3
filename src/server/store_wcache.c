/*
 * store_wcache.c - the SQLite store's cache of merged rollup windows: for
 * one selector, kind and rolled-up window (10 minutes, an hour or a day),
 * the samples of every matching series summed per (sample-type signature,
 * service), as a range merge accumulates them, with the ids of the series
 * that had rows and the rows and profiles they stand for.
 *
 * Why.  The page of `cprof server` asks for the same windows again and
 * again: a chart of 24 hours is merged from its hour rows, a window
 * dragged on it reads the same hours, the flame graph, the download and
 * the comparison of one view merge the same range, and a fleet's range
 * merge is dominated by decoding one row per series and window (1,000
 * series: 1,000 rows of a few hundred samples each per window).  A cached
 * window is one accumulator per service instead, added in a fraction of
 * the time.  Only rolled-up windows are cached, only for counter kinds
 * (gauges average per series over the whole range, which windows cannot
 * be summed into), and raw profiles (the partial windows at a range's
 * ends, windows not rolled up yet) are always read.
 *
 * Staleness.  A rolled-up window's rows change only when a late profile
 * deletes them (srv_roll_touch) to be rolled up again, or when retention
 * drops its day.  Both bump the store's cache epoch (sq_store.wc_epoch)
 * under the store's lock, after the deletion is committed
 * (srv_flush_locked) or the day dropped; a query reads the epoch after its
 * flush and before its read snapshot begins, and an entry is served only
 * while the epoch it was built at is the current one.  So an entry is
 * never older than a deletion that came before the query's snapshot: a
 * late profile is seen by the first query after its flush.  (An entry
 * built from a snapshot older than a deletion carries the older epoch and
 * is never served.)  Late profiles are rare (a window is rolled up 5
 * minutes of data time after its end), so one epoch for the whole store
 * is enough.
 *
 * Memory: entries are kept in LRU order and evicted beyond a ceiling of
 * bytes (their arrays' sizes); an entry larger than a quarter of the
 * ceiling is not kept.
 *
 * Threads: a wcache is thread-safe (one mutex).  Entries are immutable
 * once put and reference-counted: wc_get hands out a reference that the
 * caller drops with wc_release, so eviction never frees an entry in use.
 */
#include "store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WC_BUCKETS 1024

struct wcache {
	pthread_mutex_t mu;
	size_t max, bytes;
	wc_entry *head, *tail;          /* LRU list: head most recent */
	wc_entry *bucket[WC_BUCKETS];   /* by hash, chained on hnext */
	uint64_t hits, misses;
	uint64_t evicted;               /* entries dropped for the ceiling */
};

wcache *wc_new(size_t max_bytes)
{
	wcache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	c->max = max_bytes;
	return c;
}

void wc_entry_free(wc_entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->ng; i++) {
		free(e->g[i].sig);
		acc_free(&e->g[i].rows);
	}
	free(e->g);
	free(e->series);
	free(e->key);
	free(e);
}

/* Unlink e from the list and its bucket; the caller holds c->mu. */
static void unlink_entry(wcache *c, wc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	wc_entry **pp = &c->bucket[e->hash % WC_BUCKETS];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->prev = e->next = e->hnext = NULL;
	e->linked = false;
	c->bytes -= e->bytes;
}

/* Drop e's list reference: unlink, free when no reader holds it. */
static void drop_entry(wcache *c, wc_entry *e)
{
	unlink_entry(c, e);
	if (e->refs == 0)
		wc_entry_free(e);
}

void wc_free(wcache *c)
{
	if (!c)
		return;
	while (c->head)
		drop_entry(c, c->head);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static uint64_t key_hash(const void *key, size_t len)
{
	return srv_hash_bytes(key, len, 0x77636163);
}

wc_entry *wc_get(wcache *c, const void *key, size_t len, uint64_t epoch)
{
	if (!c)
		return NULL;
	uint64_t h = key_hash(key, len);
	pthread_mutex_lock(&c->mu);
	wc_entry *e = c->bucket[h % WC_BUCKETS];
	while (e && !(e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0))
		e = e->hnext;
	if (e && e->epoch != epoch) {
		drop_entry(c, e);     /* stale: a late profile or retention */
		e = NULL;
	}
	if (e) {
		e->refs++;
		if (c->head != e) {   /* to the front */
			e->prev->next = e->next;
			if (e->next)
				e->next->prev = e->prev;
			else
				c->tail = e->prev;
			e->prev = NULL;
			e->next = c->head;
			c->head->prev = e;
			c->head = e;
		}
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->mu);
	return e;
}

void wc_release(wcache *c, wc_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&c->mu);
	bool gone = --e->refs == 0 && !e->linked;
	pthread_mutex_unlock(&c->mu);
	if (gone)
		wc_entry_free(e);
}

void wc_put(wcache *c, wc_entry *e, const void *key, size_t len, uint64_t epoch)
{
	if (!c || !e->ok || e->bytes > c->max / 4 || !(e->key = malloc(len ? len : 1))) {
		wc_entry_free(e);
		return;
	}
	memcpy(e->key, key, len);
	e->keylen = len;
	e->hash = key_hash(key, len);
	e->epoch = epoch;
	pthread_mutex_lock(&c->mu);
	for (wc_entry *o = c->bucket[e->hash % WC_BUCKETS]; o; o = o->hnext)
		if (o->hash == e->hash && o->keylen == len && memcmp(o->key, key, len) == 0) {
			drop_entry(c, o);   /* a racing query put the same window */
			break;
		}
	e->hnext = c->bucket[e->hash % WC_BUCKETS];
	c->bucket[e->hash % WC_BUCKETS] = e;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
	e->linked = true;
	c->bytes += e->bytes;
	while (c->bytes > c->max && c->tail && c->tail != e) {
		drop_entry(c, c->tail);
		c->evicted++;
	}
	pthread_mutex_unlock(&c->mu);
}

void wc_counts(wcache *c, uint64_t *hits, uint64_t *misses, uint64_t *evicted, size_t *bytes)
{
	pthread_mutex_lock(&c->mu);
	*hits = c->hits;
	*misses = c->misses;
	*evicted = c->evicted;
	*bytes = c->bytes;
	pthread_mutex_unlock(&c->mu);
}

/* ---- building an entry ------------------------------------------------------ */

wc_entry *wc_entry_new(void)
{
	wc_entry *e = calloc(1, sizeof *e);
	if (e)
		e->ok = true;
	return e;
}

void wc_entry_add_group(wc_entry *e, const void *sig, size_t siglen, uint32_t svc, const acc *a)
{
	if (!e->ok)
		return;
	wc_group *ng = realloc(e->g, (e->ng + 1) * sizeof *ng);
	if (!ng) {
		e->ok = false;
		return;
	}
	e->g = ng;
	wc_group *g = &e->g[e->ng++];
	memset(g, 0, sizeof *g);
	acc *r = &g->rows;
	acc_init(r, a->nv);
	size_t per = (size_t)(a->nv ? a->nv : 1) * sizeof *r->val;
	g->sig = malloc(siglen ? siglen : 1);
	r->key = malloc((a->n ? a->n : 1) * sizeof *r->key);
	r->val = malloc(cprof_mul_size(a->n ? a->n : 1, per));
	if (!g->sig || !r->key || !r->val) {
		e->ok = false;
		return;
	}
	memcpy(g->sig, sig, siglen);
	g->siglen = siglen;
	g->svc = svc;
	r->n = r->cap = a->n;
	if (a->n) {
		memcpy(r->key, a->key, a->n * sizeof *r->key);
		memcpy(r->val, a->val, a->n * (size_t)a->nv * sizeof *r->val);
	}
	r->nprofiles = a->nprofiles;
	r->duration_sum = a->duration_sum;
	r->tmin = a->tmin;
	r->period = a->period;
	e->bytes += sizeof *g + siglen + a->n * (sizeof *r->key + (size_t)a->nv * sizeof *r->val);
}

void wc_entry_add_series(wc_entry *e, int64_t id)
{
	if (!e->ok)
		return;
	if (e->nseries && e->series[e->nseries - 1] == id)
		return;
	if (cprof_reserve((void **)&e->series, &e->capseries, e->nseries + 1, sizeof *e->series)) {
		e->ok = false;
		return;
	}
	e->series[e->nseries++] = id;
	e->bytes += sizeof *e->series;
}
