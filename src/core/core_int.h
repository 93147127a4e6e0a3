/*
 * core_int.h - private helpers of the profile core: overflow-checked size
 * arithmetic, growable vectors, hashing (short names for cprof_util.h's,
 * the toolbox the layers above share).  Not installed; only the core's .c files
 * include it.  Names carry the second prefix `cp_`.
 */
#ifndef CPROF_CORE_INT_H
#define CPROF_CORE_INT_H

#include "cprof_core.h"
#include "cprof_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Short names inside the core for the utilities of cprof_core.h. */
#define cp_mul cprof_mul_size
#define cp_add cprof_add_size
#define cp_reserve cprof_reserve
#define cp_hash_u64 cprof_hash_u64
#define cp_hash_bytes cprof_hash_bytes

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

/* Binary search: how many elements of v[0..n) (el bytes each, sorted by
 * the uint64_t key at byte offset off) have key <= x, i.e. where the last
 * element with key <= x ends. */
static inline size_t cp_upper_u64(const void *v, size_t n, size_t el, size_t off, uint64_t x)
{
	const char *b = v;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;
		memcpy(&k, b + mid * el + off, sizeof k);
		if (k <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* elf_plt.c: synthetic symbols for the PLT stubs of an ELF file, named
 * "fn@plt" (perf's names), at file virtual addresses; malloc'd (free with
 * cprof_elf_plt_syms_free).  0 (maybe none found) or CPROF_ENOMEM. */
typedef struct cprof_plt_sym {
	uint64_t addr, size;
	char *name;
} cprof_plt_sym;
struct Elf;
int cprof_elf_plt_syms(struct Elf *e, cprof_plt_sym **out, size_t *n);
void cprof_elf_plt_syms_free(cprof_plt_sym *v, size_t n);

#endif
