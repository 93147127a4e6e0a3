/*
 * heap_int.h - private interfaces between the heap profiler's files
 * (issue 5):
 *
 *   heap_hooks.c  the malloc family and C++ new/delete, interposed: the
 *                 per-thread byte countdown (the fast path), the dlsym
 *                 bootstrap pool, the sampled slow path (unwind, record)
 *   heap_table.c  the sampled blocks: an address filter, a striped
 *                 address -> bucket table, and the (stack, size, labels,
 *                 thread) buckets with their alloc/free counts
 *   heap.c        the heap and allocs profiles, the rate and the stats
 *   heap_env.c    CPROF_HEAP_RATE / CPROF_HEAP_PROFILE / CPROF_ALLOCS_PROFILE
 *
 * Nothing here calls malloc: the table and buckets live in mmap'd memory,
 * so the hooks never recurse into themselves.
 */
#ifndef CPROF_HEAP_INT_H
#define CPROF_HEAP_INT_H

#include "rt_base.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_HIDDEN __attribute__((visibility("hidden")))
#define RT_HEAP_FRAMES 64

/* One (stack, size, label set, thread name) bucket, as Go keys its
 * buckets by (stack, size).  Never freed (Go does the same).  allocs and
 * frees count sample points (a sampled block is worth one, or more when
 * the stratified sampler put several points in it); the profile scales
 * them (heap.c). */
typedef struct rt_hbucket {
	struct rt_hbucket *next;      /* hash chain */
	struct rt_hbucket *all_next;  /* every bucket, newest first */
	uint64_t hash;
	uint64_t size;
	uint32_t lset;
	uint32_t nframes;
	char name[RT_NAME_MAX];
	_Atomic uint64_t allocs, frees;
	uintptr_t pcs[];
} rt_hbucket;

/* ---- heap_table.c ---- */

/* The filter: one counter per 256-byte granule of address space (the
 * granule number modulo 2^20 counters, so 256 MiB spans share them)
 * of the sampled blocks starting there; 0 means "no sampled block can
 * start here", so most frees skip the table.  Counters stick at 255.
 * Granules rather than pages: a sampled block sends the frees of its
 * page's other blocks to the table, and a 4 KiB page holds dozens. */
#define RT_HFILTER_BITS 20
#define RT_HFILTER_SHIFT 8
extern RT_HIDDEN _Atomic uint8_t rt_hfilter[1u << RT_HFILTER_BITS];
__attribute__((no_sanitize_address, no_sanitize_undefined))
static inline size_t rt_hfilter_index(uintptr_t a)
{
	/* the granule's low bits only: three instructions in free's fast path
	 * (folding the higher bits in cost three more and separated nothing:
	 * glibc's 64 MiB-aligned thread heaps four apart shared counters
	 * either way, shifted by a granule or two) */
	return (size_t)(a >> RT_HFILTER_SHIFT) & ((1u << RT_HFILTER_BITS) - 1);
}
/* p's granule may hold a sampled block.  A macro, not an inline function:
 * it is in the program's every free, and a CPU sample there would show an
 * inline frame of the runtime's name (rt_hfilter_maybe) in the program's
 * profile; this way the instructions are free's. */
#define RT_HFILTER_MAYBE(p)                                                                  \
	(atomic_load_explicit(&rt_hfilter[((uintptr_t)(p) >> RT_HFILTER_SHIFT) &             \
					  ((1u << RT_HFILTER_BITS) - 1)],                    \
			      memory_order_relaxed) != 0)

/* Find or make the bucket; NULL when the bucket memory is exhausted.
 * name: RT_NAME_MAX bytes, NUL-padded (the thread's name as prctl gives it). */
rt_hbucket *rt_hbucket_get(const uintptr_t *pcs, int n, uint64_t size, uint32_t lset,
			   const char *name);
/* Insert block p of bucket b, worth w sample points (1..RT_HWEIGHT_MAX;
 * the bucket's allocs were counted by the caller); false when the table
 * cannot take it.  A stale entry for p (a block freed behind our back)
 * is replaced and counted as freed. */
#define RT_HWEIGHT_MAX 16
bool rt_htab_put(void *p, rt_hbucket *b, unsigned w);
/* Remove block p; its bucket (and, if w, its weight), or NULL when p was
 * not a sampled block. */
rt_hbucket *rt_htab_take(void *p, unsigned *w);
/* Every bucket (newest first); safe while others add buckets. */
rt_hbucket *rt_hbuckets(void);
/* Bytes of memory held by the filter, table and buckets. */
uint64_t rt_htab_bytes(void);
void rt_htab_atfork(void);   /* register the fork handlers (once) */

/* Counters (relaxed atomics); the sampled and live totals are the
 * buckets' sums, counted when read. */
typedef struct rt_hstats {
	_Atomic uint64_t dropped;
} rt_hstats;
extern RT_HIDDEN rt_hstats rt_hstats_g;

/* ---- heap_hooks.c ---- */

/* Resolve the next allocator (dlsym(RTLD_NEXT)) now; idempotent. */
void rt_heap_hooks_init(void);
/* The program's allocations reach our hooks (false when an allocator or a
 * sanitizer preloaded before libcprof.so shadows them). */
bool rt_heap_hooks_active(void);
/* cprof_heap_set_rate: the calling thread draws its next sample point at
 * the new rate now (other threads at their next sample, as in Go). */
void rt_heap_hooks_rate_changed(long rate);
/* In a forked child: the thread's cached id is the parent's. */
void rt_heap_hooks_forked(void);

/* ---- heap_got.c ---- */

/* An allocator preloaded before libcprof.so shadows the hooks: point every
 * loaded module's GOT slots for the allocation functions at libcprof.so's
 * definitions (which forward to that allocator).  The number of slots
 * patched so far.  Not AS-safe; serialised. */
size_t rt_heap_got_install(void);
/* The definition of the allocation function NAME in the first module
 * before libcprof.so (whose code contains SELF) in the search order, or
 * with AFTER the first one behind it; NULL if none.  Read from the
 * modules' dynamic symbol tables, so a canonical PLT entry of the program
 * is never taken for an allocator.  Allocation-free. */
void *rt_front_definition(const char *name, uintptr_t self, bool after);

/* ---- heap.c ---- */

/* Set once the rate has been decided (constructor or API): before, the
 * hooks keep every thread uninitialised. */
extern RT_HIDDEN atomic_bool rt_heap_started;
extern RT_HIDDEN _Atomic long rt_heap_rate;   /* mean bytes between samples; 0 off */
/* Which sampler (heap_hooks.c): fixed before sampling starts. */
#define RT_HSAMPLER_STRATIFIED 0
#define RT_HSAMPLER_POISSON 1
extern RT_HIDDEN atomic_int rt_heap_sampler;
/* Make the unwinder ready (module registry) when sampling is on. */
void rt_heap_ready(void);

#endif
