/*
 * series_limit.c - limits.max_series_per_target: how many series one owner
 * (a pushing service, by its service_name; a scraped target, by its job
 * and URL) may make, for pushes and scrapes alike.
 *
 * A series is remembered by a 64-bit hash of its kind and labels, in an
 * open-addressed set bounded by limits.max_series entries, and counted
 * against its owner's 64-bit hash in a table of owners (a collision can
 * only make a series count as seen: never an unbounded growth).  A series
 * seen once stays admitted; a new one beyond its owner's limit is refused.
 *
 * Thread-safe: one mutex over both tables (a few hash probes per call).
 */
#include "server_int.h"

#include <pthread.h>
#include <stdlib.h>

/* An open-addressed set of series hashes and a table of per-service
 * counts, both keyed by 64-bit hashes (a collision can only make a series
 * count as seen: never an unbounded growth). */
static struct {
	pthread_mutex_t mu;
	uint64_t *series;           /* 0 = empty slot */
	size_t nseries, capseries;
	struct svc { uint64_t h; size_t n; } *svcs;
	size_t nsvcs, capsvcs;
} seen = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return cprof_hash_u64(h ^ 0xff);
}

int srv_series_admit(const char *owner, const srv_labels *l, const char *kind,
		     const srv_limits *lim)
{
	uint64_t h = hash_str(0xcbf29ce484222325ULL, kind);
	uint64_t hs = hash_str(0x84222325cbf29ce4ULL, owner);
	for (size_t i = 0; i < l->n; i++)
		h = hash_str(hash_str(h, l->v[i].name), l->v[i].value);
	if (h == 0)
		h = 1;
	int rc = 0;
	pthread_mutex_lock(&seen.mu);
	if (seen.capseries) {
		size_t m = seen.capseries - 1;
		for (size_t i = h & m;; i = (i + 1) & m) {
			if (seen.series[i] == h)
				goto out;
			if (seen.series[i] == 0)
				break;
		}
	}
	size_t si = 0;
	while (si < seen.nsvcs && seen.svcs[si].h != hs)
		si++;
	if (si < seen.nsvcs && seen.svcs[si].n >= lim->max_series_per_target) {
		rc = 1;
		goto out;
	}
	if (seen.nseries >= lim->max_series) {
		rc = 1;
		goto out;
	}
	if ((seen.nseries + 1) * 2 > seen.capseries) {
		size_t cap = seen.capseries ? seen.capseries * 2 : 1024;
		uint64_t *t = calloc(cap, sizeof *t);
		if (!t) {
			rc = -1;
			goto out;
		}
		for (size_t i = 0; i < seen.capseries; i++) {
			uint64_t x = seen.series[i];
			if (!x)
				continue;
			size_t j = x & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = x;
		}
		free(seen.series);
		seen.series = t;
		seen.capseries = cap;
	}
	if (si == seen.nsvcs) {
		if (cprof_reserve((void **)&seen.svcs, &seen.capsvcs, seen.nsvcs + 1, sizeof *seen.svcs)) {
			rc = -1;
			goto out;
		}
		seen.svcs[seen.nsvcs++] = (struct svc){ hs, 0 };
	}
	size_t j = h & (seen.capseries - 1);
	while (seen.series[j])
		j = (j + 1) & (seen.capseries - 1);
	seen.series[j] = h;
	seen.nseries++;
	seen.svcs[si].n++;
out:
	pthread_mutex_unlock(&seen.mu);
	return rc;
}

