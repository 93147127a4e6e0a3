/*
 * labels.c - key/value labels on the calling thread, the analogue of Go's
 * pprof.Do / pprof.WithLabels, carried by every sample the runtime takes
 * on that thread (CPU, heap, mutex, block, thread snapshots).
 *
 * Design.  A label set is immutable once made and lives for the rest of
 * the process: sets are interned in an append-only table (deduplicated by
 * content, so a loop that pushes the same labels makes one set) and a
 * thread's current set is one 32-bit id in initial-exec TLS.  A signal
 * handler therefore reads the current labels with one TLS load and can
 * look the set up (rt_labels_get) without a lock: the table's slots are
 * written once, before the id is published with a release store.  Interning
 * takes a mutex, never from a signal handler.  The table is bounded
 * (RT_LSETS_MAX sets): past it, a push fails with CPROF_ERR_NOMEM and the
 * thread keeps its labels.
 *
 * A pushed set is the current set with the new pairs added (a new value
 * replaces the old one of the same key), sorted by key.  With
 * CPROF_LABELS_INHERIT the set is also given to threads the thread creates
 * (threads.c asks rt_labels_inherited at pthread_create).
 */
#include "rt_base.h"
#include "rt_labels.h"
#include "cprof.h"
#include "cprof_core.h"
#include "cprof_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RT_LSETS_MAX 65536u

static const rt_lset *_Atomic sets[RT_LSETS_MAX];   /* [0] unused: id 0 = none */
static _Atomic uint32_t nsets = 1;
static pthread_mutex_t lmu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *hidx;      /* open-addressed: set ids by content hash */
static size_t hcap;

static __thread __attribute__((tls_model("initial-exec"))) uint32_t cur_set;

/* The calling thread's slot, so a thread registry can read another
 * thread's labels (threads.c publishes it for thread snapshots). */
uint32_t *rt_labels_slot(void)
{
	return &cur_set;
}

uint32_t rt_labels_current(void)
{
	return cur_set;
}

void rt_labels_set_current(uint32_t id)
{
	cur_set = id;
}

const rt_lset *rt_labels_get(uint32_t id)
{
	if (id == 0 || id >= atomic_load_explicit(&nsets, memory_order_acquire))
		return NULL;
	return atomic_load_explicit(&sets[id], memory_order_acquire);
}

uint32_t rt_labels_inherited(void)
{
	const rt_lset *s = rt_labels_get(cur_set);
	return s && s->inherit ? cur_set : 0;
}

static uint64_t set_hash(const char *const *kv, uint32_t n, bool inherit)
{
	uint64_t h = 1469598103934665603u ^ (uint64_t)inherit;
	for (uint32_t i = 0; i < 2 * n; i++) {
		for (const char *c = kv[i]; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211u;
		h = cprof_hash_u64(h ^ 0xff);
	}
	return h;
}

static bool set_equal(const rt_lset *s, const char *const *kv, uint32_t n, bool inherit)
{
	if (s->n != n || s->inherit != inherit)
		return false;
	for (uint32_t i = 0; i < 2 * n; i++)
		if (strcmp(s->kv[i], kv[i]) != 0)
			return false;
	return true;
}

/* Find or make the set of n sorted pairs.  lmu held.  0 when full / OOM. */
static uint32_t intern_locked(const char *const *kv, uint32_t n, bool inherit)
{
	uint32_t count = atomic_load(&nsets);
	if (hcap < 2 * (size_t)count + 2) {
		size_t nc = hcap ? hcap * 2 : 256;
		uint32_t *nh = calloc(nc, sizeof *nh);
		if (!nh)
			return 0;
		for (uint32_t id = 1; id < count; id++) {
			const rt_lset *s = sets[id];
			size_t j = s->hash & (nc - 1);
			while (nh[j])
				j = (j + 1) & (nc - 1);
			nh[j] = id;
		}
		free(hidx);
		hidx = nh;
		hcap = nc;
	}
	uint64_t h = set_hash(kv, n, inherit);
	size_t j = h & (hcap - 1);
	for (; hidx[j]; j = (j + 1) & (hcap - 1)) {
		const rt_lset *s = sets[hidx[j]];
		if (s->hash == h && set_equal(s, kv, n, inherit))
			return hidx[j];
	}
	if (count >= RT_LSETS_MAX)
		return 0;
	size_t bytes = sizeof(rt_lset) + 2 * (size_t)n * sizeof(char *);
	for (uint32_t i = 0; i < 2 * n; i++)
		bytes += strlen(kv[i]) + 1;
	rt_lset *s = malloc(bytes);
	if (!s)
		return 0;
	s->hash = h;
	s->n = n;
	s->inherit = inherit;
	char *str = (char *)&s->kv[2 * n];
	for (uint32_t i = 0; i < 2 * n; i++) {
		size_t l = strlen(kv[i]) + 1;
		memcpy(str, kv[i], l);
		s->kv[i] = str;
		str += l;
	}
	atomic_store_explicit(&sets[count], s, memory_order_release);
	atomic_store_explicit(&nsets, count + 1, memory_order_release);
	hidx[j] = count;
	return count;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cprof_labels_push(const char *const *kv, size_t npairs, unsigned flags,
		      cprof_labels_scope *scope)
{
	if (!scope || (npairs && !kv) || npairs > 64) {
		rt_set_error("cprof_labels_push: bad arguments");
		return CPROF_ERR_INVAL;
	}
	for (size_t i = 0; i < 2 * npairs; i++)
		if (!kv[i]) {
			rt_set_error("cprof_labels_push: NULL key or value");
			return CPROF_ERR_INVAL;
		}
	const rt_lset *old = rt_labels_get(cur_set);
	size_t cap = (old ? old->n : 0) + npairs;
	const char **pairs = malloc((cap ? cap : 1) * 2 * sizeof *pairs);
	if (!pairs)
		return CPROF_ERR_NOMEM;
	uint32_t n = 0;
	if (old)
		for (uint32_t i = 0; i < old->n; i++, n++) {
			pairs[2 * n] = old->kv[2 * i];
			pairs[2 * n + 1] = old->kv[2 * i + 1];
		}
	for (size_t i = 0; i < npairs; i++) {
		uint32_t k = 0;
		while (k < n && strcmp(pairs[2 * k], kv[2 * i]) != 0)
			k++;
		pairs[2 * k] = kv[2 * i];
		pairs[2 * k + 1] = kv[2 * i + 1];
		if (k == n)
			n++;
	}
	qsort(pairs, n, 2 * sizeof *pairs, cmp_key);
	pthread_mutex_lock(&lmu);
	uint32_t id = n ? intern_locked(pairs, n, (flags & CPROF_LABELS_INHERIT) != 0) : 0;
	pthread_mutex_unlock(&lmu);
	free(pairs);
	if (n && !id) {
		rt_set_error("cprof_labels_push: too many distinct label sets (%u)", RT_LSETS_MAX);
		return CPROF_ERR_NOMEM;
	}
	scope->prev = cur_set;
	scope->cur = id;
	cur_set = id;
	return 0;
}

int cprof_labels_pop(const cprof_labels_scope *scope)
{
	if (!scope || scope->cur != cur_set) {
		rt_set_error("cprof_labels_pop: not the innermost scope of this thread");
		return CPROF_ERR_INVAL;
	}
	cur_set = scope->prev;
	return 0;
}

int cprof_do(const char *const *kv, size_t npairs, unsigned flags, void (*fn)(void *), void *arg)
{
	if (!fn)
		return CPROF_ERR_INVAL;
	cprof_labels_scope sc;
	int rc = cprof_labels_push(kv, npairs, flags, &sc);
	if (rc < 0)
		return rc;
	fn(arg);
	cur_set = sc.prev;   /* even if fn left its own scopes open */
	return 0;
}

const char *cprof_label_value(const char *key)
{
	const rt_lset *s = rt_labels_get(cur_set);
	if (!s || !key)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->kv[2 * i], key) == 0)
			return s->kv[2 * i + 1];
	return NULL;
}
