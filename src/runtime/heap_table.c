/*
 * heap_table.c - the heap profiler's memory of sampled blocks: which live
 * block was sampled into which bucket, and the buckets themselves.
 *
 * Three structures, all in mmap'd memory (never malloc: the malloc hooks
 * use them, and must work when malloc fails):
 *
 *   the filter  rt_hfilter, one byte counter per 256-byte granule (the
 *               granule number modulo 2^20 counters, i.e. 256 MiB
 *               spans) counting the sampled blocks
 *               that start there; counters stick at 255.  free() of a
 *               block in a granule whose counter is 0 is not a sampled
 *               block: no lock, one byte read, and nearby frees read
 *               nearby bytes (a 64-byte line of counters covers 16 KiB of
 *               heap).  1 MiB of BSS, touched only where samples land.
 *   the table   address -> (bucket, weight), 64 stripes chosen by a hash of the
 *               address, each an open-addressing array (linear probing,
 *               backward-shift deletion) under its own spinlock, grown by
 *               doubling through mmap.  The total is bounded
 *               (RT_HTAB_MAX_BYTES); a sample that does not fit is
 *               counted as dropped, never an allocation failure.
 *   buckets     (stack, size, label set, thread name) -> counts of sampled
 *               allocations and frees, in a chained hash of 2^15 heads
 *               read lock-free; new buckets are bump-allocated from mmap'd
 *               chunks under one spinlock (RT_HBUCKET_MAX_BYTES in all)
 *               and published with release stores; never freed.
 *
 * Threads: stripe and bucket spinlocks are held for a few instructions
 * (plus an mmap when growing) and never across a call that could
 * allocate.  fork: pthread_atfork's prepare takes every lock so the child
 * never inherits one held by a thread that no longer exists; the thread
 * that forks marks itself as holding them, so a malloc/free it makes from
 * a later prepare handler does not wait on itself.  Ordering: a sampled
 * block is inserted before malloc returns it and removed before the real
 * free, so the address cannot be handed out again while still listed.
 */
#include "heap_int.h"
#include "rt_base.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

RT_HIDDEN _Atomic uint8_t rt_hfilter[1u << RT_HFILTER_BITS];
RT_HIDDEN rt_hstats rt_hstats_g;

#define NSTRIPES 64
#define RT_HTAB_MAX_BYTES (64u << 20)     /* 4M sampled live blocks */
#define RT_HBUCKET_MAX_BYTES (64u << 20)
#define CHUNK (1u << 20)
#define BHEADS (1u << 15)

typedef struct hent {
	uintptr_t key;        /* 0: empty */
	uintptr_t bw;         /* the bucket (16-byte aligned) | its weight - 1 */
} hent;

#define WMASK ((uintptr_t)(RT_HWEIGHT_MAX - 1))

typedef struct stripe {
	atomic_int lock;
	uint32_t n, cap;      /* cap: power of two, or 0 */
	hent *v;
	char pad[64 - sizeof(atomic_int) - 2 * sizeof(uint32_t) - sizeof(hent *)];
} stripe;

static stripe stripes[NSTRIPES] __attribute__((aligned(64)));
static _Atomic uint64_t tab_bytes;

static _Atomic(rt_hbucket *) bheads[BHEADS];
static _Atomic(rt_hbucket *) ball;
static atomic_int block;
static char *chunk;
static size_t chunk_used, chunk_cap;
static _Atomic uint64_t bucket_bytes;

static TLS bool fork_holder;   /* this thread holds every lock (fork prepare) */

static void spin_lock(atomic_int *l)
{
	if (fork_holder)
		return;
	for (int i = 0;; i++) {
		if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
		    !atomic_exchange_explicit(l, 1, memory_order_acquire))
			return;
		if (i > 64)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

static void spin_unlock(atomic_int *l)
{
	if (fork_holder)
		return;
	atomic_store_explicit(l, 0, memory_order_release);
}

static inline uint64_t addr_hash(uintptr_t a)
{
	uint64_t h = (uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ull;
	return h ^ (h >> 29);
}

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* ---- filter ---------------------------------------------------------------- */

static void filter_inc(const void *p)
{
	_Atomic uint8_t *c = &rt_hfilter[rt_hfilter_index((uintptr_t)p)];
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
	while (v != 255 && !atomic_compare_exchange_weak_explicit(c, &v, (uint8_t)(v + 1),
								  memory_order_relaxed, memory_order_relaxed))
		;
}

static void filter_dec(const void *p)
{
	_Atomic uint8_t *c = &rt_hfilter[rt_hfilter_index((uintptr_t)p)];
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
	while (v != 255 && v != 0 &&
	       !atomic_compare_exchange_weak_explicit(c, &v, (uint8_t)(v - 1),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- table ----------------------------------------------------------------- */

static void ins(hent *v, uint32_t cap, uintptr_t key, uintptr_t bw)
{
	uint32_t i = (uint32_t)(addr_hash(key) >> 32) & (cap - 1);
	while (v[i].key)
		i = (i + 1) & (cap - 1);
	v[i].key = key;
	v[i].bw = bw;
}

/* Grow stripe s (locked) to hold one more; false when bounded or no memory. */
static bool grow(stripe *s)
{
	uint32_t nc = s->cap ? s->cap * 2 : 256;
	size_t bytes = (size_t)nc * sizeof(hent);
	if (atomic_load(&tab_bytes) + bytes > RT_HTAB_MAX_BYTES)
		return false;
	hent *v = map(bytes);
	if (!v)
		return false;
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->v[i].key)
			ins(v, nc, s->v[i].key, s->v[i].bw);
	if (s->v) {
		munmap(s->v, (size_t)s->cap * sizeof(hent));
		atomic_fetch_sub(&tab_bytes, (size_t)s->cap * sizeof(hent));
	}
	atomic_fetch_add(&tab_bytes, bytes);
	s->v = v;
	s->cap = nc;
	return true;
}

static stripe *stripe_of(uintptr_t key)
{
	return &stripes[addr_hash(key) >> 58];
}

/* Remove key from s (locked): its tagged bucket, or 0. */
static uintptr_t del(stripe *s, uintptr_t key)
{
	if (!s->cap)
		return 0;
	uint32_t m = s->cap - 1;
	uint32_t i = (uint32_t)(addr_hash(key) >> 32) & m;
	while (s->v[i].key && s->v[i].key != key)
		i = (i + 1) & m;
	if (!s->v[i].key)
		return 0;
	uintptr_t b = s->v[i].bw;
	/* backward-shift deletion: no tombstones */
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & m;
		if (!s->v[j].key)
			break;
		uint32_t home = (uint32_t)(addr_hash(s->v[j].key) >> 32) & m;
		/* can v[j] move to i?  only if home is not in (i, j] cyclically */
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (between)
			continue;
		s->v[i] = s->v[j];
		i = j;
	}
	s->v[i].key = 0;
	s->v[i].bw = 0;
	s->n--;
	return b;
}

bool rt_htab_put(void *p, rt_hbucket *b, unsigned w)
{
	uintptr_t key = (uintptr_t)p;
	stripe *s = stripe_of(key);
	if (w < 1)
		w = 1;
	if (w > RT_HWEIGHT_MAX)
		w = RT_HWEIGHT_MAX;
	filter_inc(p);
	spin_lock(&s->lock);
	/* a stale entry (a block freed behind our back) is replaced */
	uintptr_t old = del(s, key);
	bool ok = true;
	if ((s->n + 1) * 10 > s->cap * 7 && !grow(s) && s->n + 1 >= s->cap)
		ok = false;
	if (ok) {
		ins(s->v, s->cap, key, (uintptr_t)b | (w - 1));
		s->n++;
	}
	spin_unlock(&s->lock);
	if (old) {
		rt_hbucket *ob = (rt_hbucket *)(old & ~WMASK);
		atomic_fetch_add_explicit(&ob->frees, (old & WMASK) + 1, memory_order_relaxed);
		filter_dec(p);
	}
	if (!ok)
		filter_dec(p);
	return ok;
}

rt_hbucket *rt_htab_take(void *p, unsigned *w)
{
	uintptr_t key = (uintptr_t)p;
	stripe *s = stripe_of(key);
	spin_lock(&s->lock);
	uintptr_t b = del(s, key);
	spin_unlock(&s->lock);
	if (!b)
		return NULL;
	filter_dec(p);
	if (w)
		*w = (unsigned)(b & WMASK) + 1;
	return (rt_hbucket *)(b & ~WMASK);
}

uint64_t rt_htab_bytes(void)
{
	return atomic_load(&tab_bytes) + atomic_load(&bucket_bytes) + sizeof rt_hfilter +
	       sizeof bheads;
}

/* ---- buckets ----------------------------------------------------------------- */

/* The name is RT_NAME_MAX bytes, NUL-padded: hashed and compared as two
 * words (a byte loop was a sixth of a sample's bucket lookup). */
_Static_assert(RT_NAME_MAX == 16, "names are hashed as two words");

static uint64_t bucket_hash(const uintptr_t *pcs, int n, uint64_t size, uint32_t lset,
			    const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull ^ size ^ ((uint64_t)lset << 40), w[2];
	for (int i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 0x100000001b3ull;
	memcpy(w, name, sizeof w);
	h = (h ^ w[0]) * 0x100000001b3ull;
	h = (h ^ w[1]) * 0x100000001b3ull;
	return h ^ (h >> 31);
}

static bool same(const rt_hbucket *b, uint64_t h, const uintptr_t *pcs, int n, uint64_t size,
		 uint32_t lset, const char *name)
{
	return b->hash == h && b->size == size && b->lset == lset && b->nframes == (uint32_t)n &&
	       memcmp(b->name, name, RT_NAME_MAX) == 0 &&
	       memcmp(b->pcs, pcs, (size_t)n * sizeof *pcs) == 0;
}

rt_hbucket *rt_hbucket_get(const uintptr_t *pcs, int n, uint64_t size, uint32_t lset,
			   const char *name)
{
	uint64_t h = bucket_hash(pcs, n, size, lset, name);
	_Atomic(rt_hbucket *) *head = &bheads[h & (BHEADS - 1)];
	for (rt_hbucket *b = atomic_load_explicit(head, memory_order_acquire); b; b = b->next)
		if (same(b, h, pcs, n, size, lset, name))
			return b;
	spin_lock(&block);
	rt_hbucket *b;
	for (b = atomic_load_explicit(head, memory_order_acquire); b; b = b->next)
		if (same(b, h, pcs, n, size, lset, name))
			goto out;
	size_t need = (sizeof(rt_hbucket) + (size_t)n * sizeof(uintptr_t) + 15) & ~(size_t)15;
	if (chunk_used + need > chunk_cap) {
		if (atomic_load(&bucket_bytes) + CHUNK > RT_HBUCKET_MAX_BYTES || !(chunk = map(CHUNK))) {
			chunk_cap = chunk_used = 0;
			chunk = NULL;
			b = NULL;
			goto out;
		}
		atomic_fetch_add(&bucket_bytes, CHUNK);
		chunk_cap = CHUNK;
		chunk_used = 0;
	}
	b = (rt_hbucket *)(chunk + chunk_used);
	chunk_used += need;
	b->hash = h;
	b->size = size;
	b->lset = lset;
	b->nframes = (uint32_t)n;
	memcpy(b->name, name, RT_NAME_MAX);
	b->name[RT_NAME_MAX - 1] = 0;
	memcpy(b->pcs, pcs, (size_t)n * sizeof *pcs);
	atomic_init(&b->allocs, 0);
	atomic_init(&b->frees, 0);
	b->next = atomic_load_explicit(head, memory_order_relaxed);
	b->all_next = atomic_load_explicit(&ball, memory_order_relaxed);
	atomic_store_explicit(head, b, memory_order_release);
	atomic_store_explicit(&ball, b, memory_order_release);
out:
	spin_unlock(&block);
	return b;
}

rt_hbucket *rt_hbuckets(void)
{
	return atomic_load_explicit(&ball, memory_order_acquire);
}

/* ---- fork ------------------------------------------------------------------------ */

RT_FORK_TEXT static void fork_prepare(void)
{
	spin_lock(&block);
	for (int i = 0; i < NSTRIPES; i++)
		spin_lock(&stripes[i].lock);
	fork_holder = true;
}

RT_FORK_TEXT static void fork_release(void)
{
	fork_holder = false;
	for (int i = 0; i < NSTRIPES; i++)
		spin_unlock(&stripes[i].lock);
	spin_unlock(&block);
}

RT_FORK_TEXT static void fork_child(void)
{
	fork_release();
	rt_heap_hooks_forked();
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void reg(void) { pthread_atfork(fork_prepare, fork_release, fork_child); }

void rt_htab_atfork(void)
{
	pthread_once(&atfork_once, reg);
}
