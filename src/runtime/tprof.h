/*
 * tprof.h - private interface of the thread snapshot, threadcreate and
 * deadlock profiles (issue 6, part A): threads.c keeps what it learns at
 * pthread_create (the creator's stack, the start routine, the thread's
 * label slot), tprof.c takes snapshots of every live thread, deadlock.c
 * reads them.  Not installed; included by those three files only.
 */
#ifndef CPROF_TPROF_H
#define CPROF_TPROF_H

#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_wait.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- threads.c: the registry of threads created through pthread_create ---- */

#define RT_CREATE_FRAMES 32

/* What the runtime knows of one live thread it saw being created. */
typedef struct rt_tinfo {
	int tid;
	int creator_tid;           /* the thread that called pthread_create */
	uintptr_t self;            /* its pthread_t */
	uintptr_t start_fn;        /* the program's start routine */
	uint32_t labels;           /* its current label set (when has_labels) */
	bool has_labels;
	int ncreator;              /* frames of the creating call, leaf first */
	uintptr_t creator[RT_CREATE_FRAMES];
} rt_tinfo;

/* A copy of the registry, sorted by tid, malloc'd (caller frees); *n its
 * length.  Labels are read under the registry's lock, while the threads'
 * TLS is alive.  0 or CPROF_ERR_NOMEM.  Not AS-safe. */
int rt_tinfo_list(rt_tinfo **out, size_t *n);
/* The entry of tid in a list from rt_tinfo_list, or NULL. */
const rt_tinfo *rt_tinfo_find(const rt_tinfo *v, size_t n, int tid);

/* Every pthread_create since the runtime loaded, aggregated by the
 * creating stack: fn is called for each distinct stack (n == 0: creations
 * past the table's bound, no stack kept).  Returns the total count.
 * Not AS-safe (the registry lock is held across the calls: fn must not
 * create threads). */
uint64_t rt_threadcreate_each(void (*fn)(void *ctx, const uintptr_t *pcs, int n,
					 uint64_t count), void *ctx);

/* rt_labels_slot (rt_labels.h): each registered thread's label slot, so
 * blocked threads' labels are read without a signal. */

/* ---- tprof.c: snapshots ---------------------------------------------------- */

enum {
	RT_SNAP_SELF,        /* the snapshotting thread itself */
	RT_SNAP_SIGNAL,      /* running: unwound by its own signal handler */
	RT_SNAP_PROC,        /* blocked: unwound from /proc/.../syscall's sp and pc */
	RT_SNAP_WAITREC,     /* blocked: walked from the registers its wait record kept */
	RT_SNAP_NONE         /* no stack (exited, no answer, unreadable) */
};

typedef struct rt_tsnap {
	int tid;
	char name[RT_NAME_MAX];
	char pstate;             /* /proc stat state: R S D T Z ... */
	long sysno;              /* the blocking system call; -1 blocked outside
				    one; -2 running */
	uintptr_t sp, pc;        /* user registers at the system call */
	int how;                 /* RT_SNAP_* */
	bool truncated;
	bool has_labels;
	bool has_wait;
	bool sig_blocked;        /* running, but blocks the snapshot signal */
	uint32_t labels;
	int npcs;
	int64_t wait_ns;         /* how long it has waited (-1: unknown) */
	char state[112];         /* "running", "sleeping in nanosleep", ... */
	rt_wait wait;            /* the wait record (has_wait) */
	uintptr_t pcs[RT_MAX_FRAMES];
} rt_tsnap;

typedef struct rt_snapshot {
	rt_tsnap *t;
	size_t n;
	rt_tinfo *info;          /* the registry at snapshot time */
	size_t ninfo;
	int64_t taken_ns;        /* CLOCK_MONOTONIC */
	size_t signalled, unanswered;
	size_t restarted;        /* system calls a signal interrupted, restarted */
} rt_snapshot;

/* Take a snapshot of every thread of the process (serialised: one at a
 * time).  0 or a negative CPROF_ERR_* code with rt_set_error.  Not
 * AS-safe. */
int rt_snapshot_take(rt_snapshot *s);
/* The same with the runtime's own threads (rt_self_tid) listed too;
 * rt_snapshot_take leaves them out. */
int rt_snapshot_take_all(rt_snapshot *s, bool with_runtime);
void rt_snapshot_free(rt_snapshot *s);
/* The text of a wait record's state ("waiting on mutex 0x...").  */
void rt_wait_describe(const rt_wait *w, char *out, size_t n);
int64_t rt_now_ns(void);
/* "1.5s", "230ms", "12 minutes" */
void rt_fmt_duration(int64_t ns, char *out, size_t n);

#endif
