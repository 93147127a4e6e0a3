/*
 * core_int.h - private helpers of the profile core: overflow-checked size
 * arithmetic, growable vectors, hashing.  Not installed; only the core's .c files
 * include it.  Names carry the second prefix `cp_`.
 */
#ifndef CPROF_CORE_INT_H
#define CPROF_CORE_INT_H

#include "cprof_core.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* a*b, or SIZE_MAX when it overflows (callers treat SIZE_MAX as ENOMEM). */
static inline size_t cp_mul(size_t a, size_t b)
{
	size_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return SIZE_MAX;
	return r;
}

static inline size_t cp_add(size_t a, size_t b)
{
	size_t r;
	if (__builtin_add_overflow(a, b, &r))
		return SIZE_MAX;
	return r;
}

/* Make room for `need` elements of size `el` in *pv (capacity *cap),
 * doubling.  Returns 0 or CPROF_ENOMEM (the vector is unchanged then). */
int cp_reserve(void **pv, size_t *cap, size_t need, size_t el);

#define CP_RESERVE(vec, need) \
	cp_reserve((void **)&(vec).v, &(vec).cap, (need), sizeof(*(vec).v))
/* Append one element; evaluates to 0 or CPROF_ENOMEM. */
#define CP_PUSH(vec, val) \
	(CP_RESERVE(vec, (vec).n + 1) ? CPROF_ENOMEM : ((vec).v[(vec).n++] = (val), 0))
#define CP_FREE(vec) do { free((vec).v); (vec).v = NULL; (vec).n = (vec).cap = 0; } while (0)

/* Recompute every stack's hash and rebuild the stack index (sized for the
 * stacks there are), after stack_locs was rewritten in place, e.g. through
 * a permutation of location indices, which keeps distinct stacks distinct.
 * 0 or CPROF_ENOMEM (the index is then rebuilt by the next intern). */
int cp_rehash_stacks(cprof_profile *p);
/* Start fetching the stack index slot that interning locs[0..n) will probe
 * first: a decoder can parse its next sample meanwhile (on a large profile
 * that slot is a cache miss). */
void cp_stack_prefetch(const cprof_profile *p, const uint32_t *locs, size_t n);

/* 64-bit FNV-1a-style mixing over bytes, and a finaliser for integers. */
static inline uint64_t cp_hash_bytes(const void *d, size_t n, uint64_t h)
{
	const unsigned char *s = d;
	h ^= 0xcbf29ce484222325ULL;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	while (n--)
		h = (h ^ *s++) * 0x100000001b3ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

static inline uint64_t cp_hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif
