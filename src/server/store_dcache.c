/*
 * store_dcache.c - the SQLite store's cache of dictionary entries: the
 * encoded data of meta.db's dict rows (a stack's location ids, a
 * location, a function, a mapping, a label set) by (service, kind, id),
 * so a range merge rebuilding its answer's stacks (store_dict.c's
 * builder) reads each entry from memory after its first query instead of
 * one SQLite lookup per entry: a fleet's merged hour names some 40,000
 * stacks and as many locations.
 *
 * Never stale: dictionary ids are never reused and an entry's data never
 * changes (store_gc.c: an id can only ever name the entry it named), so an
 * entry the collection deleted can only be asked for by a row that names
 * it, and such rows are gone with their day.  Nothing to invalidate.
 *
 * Memory: the data are copied into one arena; past the ceiling the whole
 * cache is emptied (the entries of one answer refill it) rather than kept
 * in LRU order, which would cost a list per entry.
 *
 * Threads: thread-safe, one mutex.  dc_get copies the data out under the
 * lock, so emptying never frees what a reader uses.
 */
#include "store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dcache {
	pthread_mutex_t mu;
	u64map idx;                     /* key -> entry index + 1 */
	struct dspan {
		size_t off, len;
	} *ent;                         /* entry -> its data in the arena */
	size_t n, cap;
	uint8_t *arena;
	size_t used, arena_cap, max;
};

dcache *dc_new(size_t max_bytes)
{
	dcache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	c->max = max_bytes;
	return c;
}

void dc_free(dcache *c)
{
	if (!c)
		return;
	u64map_free(&c->idx);
	free(c->ent);
	free(c->arena);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* The map key of (svc, kind, id), or 0 when it does not fit (not cached). */
static uint64_t dkey(uint32_t svc, int kind, uint32_t id)
{
	if (svc >= (1u << 28) || kind < 0 || kind > 7)
		return 0;
	return ((uint64_t)svc << 35 | (uint64_t)kind << 32 | id) + 1;
}

int dc_get(dcache *c, uint32_t svc, int kind, uint32_t id, sbuf *out)
{
	uint64_t k = dkey(svc, kind, id);
	if (!c || !k)
		return 0;
	pthread_mutex_lock(&c->mu);
	uint32_t v;
	int found = u64map_get(&c->idx, k, &v);
	if (found) {
		sb_reset(out);
		sb_put(out, c->arena + c->ent[v - 1].off, c->ent[v - 1].len);
		found = !out->oom;
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

void dc_put(dcache *c, uint32_t svc, int kind, uint32_t id, const void *data, size_t len)
{
	uint64_t k = dkey(svc, kind, id);
	if (!c || !k || len > c->max / 16)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->used + len > c->max || c->n >= UINT32_MAX - 1) {
		u64map_clear(&c->idx);  /* full: start again */
		c->n = 0;
		c->used = 0;
	}
	uint32_t *slot;
	bool f;
	if (u64map_get(&c->idx, k, NULL) ||
	    cprof_reserve((void **)&c->arena, &c->arena_cap, c->used + len, 1) ||
	    cprof_reserve((void **)&c->ent, &c->cap, c->n + 1, sizeof *c->ent) ||
	    u64map_slot(&c->idx, k, &slot, &f)) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	memcpy(c->arena + c->used, data, len);
	c->ent[c->n].off = c->used;
	c->ent[c->n].len = len;
	c->used += len;
	*slot = (uint32_t)++c->n;
	pthread_mutex_unlock(&c->mu);
}
