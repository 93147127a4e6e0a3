/*
 * self.c - the runtime's own work and threads, kept out of the program's
 * profiles.
 *
 * Two marks, both read with one load of initial-exec TLS (so a signal
 * handler can test them):
 *   - a nesting depth (rt_self_enter / rt_self_leave, kept in rt_base.c,
 *     the base unit every feature calls): the calling thread
 *     is doing the runtime's work (building or writing a profile,
 *     symbolizing, building unwind tables, unwinding in a hook).  The heap
 *     profiler does not sample its allocations, the sync wrappers record
 *     none of its waits, and the CPU profiler's handler counts a sample
 *     taken there apart (rt_stats_g.runtime) instead of charging the
 *     program's stack with it;
 *   - the runtime's own threads (the collector, the endpoint, the dump and
 *     heap writers...), started through rt_runtime_thread_create: each is
 *     named "cprof-..." (PR_SET_NAME, so `top -H`, gdb and /proc show what
 *     it is rather than the program's name it would inherit), runs its
 *     whole life at depth 1, and is listed in a small lock-free table of
 *     thread ids for as long as it runs.  The CPU profiler arms no timer
 *     for a listed thread, and thread snapshots (threads, goroutine,
 *     deadlock profiles) leave them out unless asked (rt_self_tid).
 *
 * The table is RT_SELF_MAX atomic ints: a thread claims a zero slot with a
 * compare-and-swap when it starts and clears it when its function returns
 * or it is cancelled (pthread cleanup), so a tid the kernel reuses for a
 * program thread is never hidden.  A runtime thread that finds the table
 * full still runs at depth 1 (unsampled, nothing recorded) but is shown
 * in snapshots.  A forked child has none of the parent's threads: its
 * table is cleared (rt_self_fork_child).
 */
#include "rt_base.h"
#include "rt_lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- inside the runtime ----------------------------------------------------------- */

/* ---- the runtime's threads ---------------------------------------------------------- */

#define RT_SELF_MAX 128

static _Atomic int self_tids[RT_SELF_MAX];
static _Atomic int self_box_busy[RT_SELF_MAX];   /* self_boxes[i] is taken (below) */
static atomic_bool boxes_used;                    /* a box was ever taken */

/* [AS-safe], lock-free; a tid of this process */
bool rt_self_tid(int tid)
{
	if (tid <= 0)
		return false;
	for (size_t i = 0; i < RT_SELF_MAX; i++)
		if (atomic_load_explicit(&self_tids[i], memory_order_acquire) == tid)
			return true;
	return false;
}

void rt_self_fork_child(void)
{
	rt_setxid_fork_child();
	for (size_t i = 0; i < RT_SELF_MAX; i++)   /* written only where set */
		if (atomic_load_explicit(&self_tids[i], memory_order_relaxed))
			atomic_store_explicit(&self_tids[i], 0, memory_order_relaxed);
	/* the boxes of threads the parent had not started yet: none here
	 * (read only when used: a page never touched faults when read) */
	if (!atomic_load_explicit(&boxes_used, memory_order_relaxed))
		return;
	for (size_t i = 0; i < RT_SELF_MAX; i++)
		if (atomic_load_explicit(&self_box_busy[i], memory_order_relaxed))
			atomic_store_explicit(&self_box_busy[i], 0, memory_order_relaxed);
}

/* This thread was started by rt_runtime_thread_create; never cleared. */
static __thread __attribute__((tls_model("initial-exec"))) bool self_thread;

/* [AS-safe] */
bool rt_self_thread(void)
{
	return self_thread;
}

/* What the creator hands the new thread: one of RT_SELF_MAX static boxes,
 * claimed with a compare-and-swap on its busy flag and released by the
 * new thread once it has copied it.  Static rather than malloc'd: a box
 * held only by a thread that has not run yet (the process exits or forks
 * first) is then never an allocation the program, its leak checker or a
 * forked child sees. */
typedef struct self_box {
	void *(*fn)(void *);
	void *arg;
	char name[RT_NAME_MAX];
} self_box;

static self_box self_boxes[RT_SELF_MAX];

/* [AS-safe] A free box, or NULL when every box waits for its thread. */
static self_box *box_claim(void)
{
	if (!atomic_load_explicit(&boxes_used, memory_order_relaxed))
		atomic_store_explicit(&boxes_used, true, memory_order_relaxed);
	for (size_t i = 0; i < RT_SELF_MAX; i++) {
		int want = 0;
		if (atomic_compare_exchange_strong(&self_box_busy[i], &want, 1))
			return &self_boxes[i];
	}
	return NULL;
}

static void box_release(self_box *b)
{
	atomic_store_explicit(&self_box_busy[b - self_boxes], 0, memory_order_release);
}

static void self_unlist(void *p)
{
	int tid = (int)(intptr_t)p;
	for (size_t i = 0; i < RT_SELF_MAX; i++) {
		int want = tid;
		if (atomic_compare_exchange_strong(&self_tids[i], &want, 0))
			return;
	}
}

static void *self_tramp(void *p)
{
	self_thread = true;   /* before set*id can reach it (setxid.c) */
	rt_setxid_thread_started();
	rt_self_enter();   /* a new thread is at depth 0: 1 for its whole life */
	self_box b = *(self_box *)p;
	box_release(p);
	int tid = (int)syscall(SYS_gettid);
	for (size_t i = 0; i < RT_SELF_MAX; i++) {
		int want = 0;
		if (atomic_compare_exchange_strong(&self_tids[i], &want, tid))
			break;
	}
	prctl(PR_SET_NAME, b.name, 0L, 0L, 0L);
	void *r;
	pthread_cleanup_push(self_unlist, (void *)(intptr_t)tid);
	r = b.fn(b.arg);
	pthread_cleanup_pop(1);
	return r;
}

int rt_runtime_thread_create(pthread_t *th, const pthread_attr_t *attr, const char *name,
			     void *(*fn)(void *), void *arg)
{
	self_box *b = box_claim();
	if (!b)
		return EAGAIN;
	b->fn = fn;
	b->arg = arg;
	/* "cprof-" and at most 9 more: the kernel keeps 15 bytes */
	memset(b->name, 0, sizeof b->name);
	strncpy(b->name, name && *name ? name : "cprof", sizeof b->name - 1);
	/* No set*id call from the clone until the new thread is marked:
	 * glibc signals a new thread as soon as it runs, before its
	 * function, and a thread of the runtime's the handler does not know
	 * would not follow the caller's capabilities (setxid.c) */
	rt_self_enter();   /* the runtime's own lock: never the program's wait */
	rt_setxid_thread_starting();
	rt_self_leave();
	int rc = rt_pthread_create_real(th, attr, self_tramp, b);
	if (rc != 0) {
		rt_setxid_thread_started();
		box_release(b);
	} else
		rt_setxid_chain();   /* glibc's SIGSETXID handler exists now */
	return rc;
}
