/*
 * sync_int.h - private interface between the files of the mutex and block
 * profiles (issue 6): sync_wrap.c (the interposed pthread and semaphore
 * primitives, the wait records, the per-mutex waiter table), sync.c (the
 * sampled event tables and the two profiles) and sync_env.c (CPROF_MUTEX_*
 * and CPROF_BLOCK_* at load and exit).
 */
#ifndef CPROF_SYNC_INT_H
#define CPROF_SYNC_INT_H

#include "cprof.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Defaults, safe to leave on (docs: the overhead measured by
 * bench/mutex_bench.sh): 1 in 10 contended unlocks sampled; one blocking
 * event per 10 ms blocked on average. */
#define RT_MUTEX_FRACTION_DEFAULT CPROF_MUTEX_FRACTION_DEFAULT
#define RT_BLOCK_RATE_DEFAULT CPROF_BLOCK_RATE_DEFAULT

extern _Atomic int rt_mutex_fraction;   /* 0: off */
extern _Atomic long rt_block_rate;      /* ns; 0: off, 1: every event */

/* The next definition of libc's function name (version ver first, when
 * given), or NULL: what the interposed functions forward to. */
void *rt_sym_next(const char *name, const char *ver);
#define RT_GET_NEXT(lvalue, name, ver) \
	do { void *f_ = rt_sym_next(name, ver); if (f_) memcpy(&(lvalue), &f_, sizeof f_); } while (0)

/* CLOCK_MONOTONIC in ns. */
int64_t rt_sync_now(void);
/* A per-thread pseudo-random number (xorshift). */
uint64_t rt_sync_rand(void);

/* sync.c: record a sampled event (the caller decided it is sampled).
 * count and delay are already the values to add.  Never blocks for long,
 * never allocates with malloc (the tables are mmap'ed once). */
void rt_sync_record(bool mutex, const uintptr_t *pcs, int n, uint32_t labels,
		    double count, int64_t delay);
/* Go's blockevent: delay (ns) of one blocking event seen by the waiter,
 * pcs its stack (or NULL: unwound here with skip frames). */
void rt_block_event(int64_t delay, const uintptr_t *pcs, int n);

#endif
