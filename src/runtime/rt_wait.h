/*
 * rt_wait.h - what each thread is blocked on, as the interposed pthread
 * and semaphore primitives (sync_wrap.c) record it, read by thread
 * snapshots (tprof.c), the deadlock profile (deadlock.c) and the trace
 * (trace_json.c).  A thread publishes its record before it blocks and
 * clears it after.
 */
#ifndef CPROF_RT_WAIT_H
#define CPROF_RT_WAIT_H

#include <stddef.h>
#include <stdint.h>

typedef enum rt_wait_kind {
	RT_WAIT_NONE, RT_WAIT_MUTEX, RT_WAIT_RDLOCK, RT_WAIT_WRLOCK, RT_WAIT_COND,
	RT_WAIT_SEM, RT_WAIT_JOIN, RT_WAIT_BARRIER
} rt_wait_kind;
#define RT_WAIT_FRAMES 32
typedef struct rt_wait {
	int tid;
	rt_wait_kind kind;
	const void *obj;          /* the mutex, rwlock, condvar, semaphore... */
	const void *obj2;         /* pthread_cond_wait: its mutex; join: the thread */
	int64_t since_ns;         /* CLOCK_MONOTONIC when it started waiting */
	int nframes;              /* where it waits: recorded only while a trace runs (else 0) */
	uintptr_t pcs[RT_WAIT_FRAMES];
	/* The waiter's registers in the interposed function's slow path before
	 * it blocks (pc, rsp, rbp), for a reader that wants its stack: the
	 * snapshot walks from them while the wait lasts.  0: none. */
	uintptr_t ctx_pc, ctx_sp, ctx_fp;
} rt_wait;
/* Copy the records of the threads blocked now into out (at most max);
 * returns how many.  Thread-safe, lock-free for the waiters. */
size_t rt_sync_waits(rt_wait *out, size_t max);
/* The thread id owning mutex m as glibc records it (0: none or unknown). */
int rt_mutex_owner(const void *m);
/* The thread id holding rwlock l for writing, as glibc records it
 * (0: none, or held by readers only; readers are not recorded). */
int rt_rwlock_writer(const void *l);
const char *rt_wait_kind_name(rt_wait_kind k);   /* "mutex", "cond", ... */

#endif
