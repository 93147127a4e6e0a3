/*
 * trace_visit.c - runnable time for the waits the trace's thread finds in
 * progress: the split of CPROF_TRACE_RUNNABLE=long, the flight
 * recorder's default, with no system call in a wait nobody visited; and
 * of auto's waits past a thread's read budget (trace_hooks.c).
 *
 * The exact split of every wait ("one read per wait", trace_hooks.c)
 * costs one schedstat read after each wait that may have slept: on a
 * server answering small requests that read is most of what tracing
 * costs.  This mode moves the read before the wait to another thread.
 * A thread's run_delay and run count only change when it gets a CPU, so
 * while it sleeps in a wait, a read of its schedstat by anyone gives the
 * values its wait started with.  The trace's runtime thread ("cprof-
 * trace", trace_env.c) looks every VISIT_MS at the waits in progress and
 * reads the schedstat of each it has not read yet (rt_trace_visit_waits).
 * When a visited wait ends and is long enough to record, its thread reads
 * its own schedstat once: if the run count grew by exactly one since the
 * visit, that arrival was the wait's own wake-up and the run_delay it
 * added is the wait's runnable time, exact (rt_trace_visit_split).  Any
 * other count (the visit came after the wake-up, or the thread was
 * preempted between announcing the wait and sleeping) leaves the wait
 * unsplit.  A wait no visit saw is unsplit: the split covers waits longer
 * than VISIT_MS, and a shorter one in the proportion of its length.
 *
 * Shared state: one slot per thread in a fixed table (wslots), claimed by
 * the thread at its first wait (compare-and-swap on the tid) and freed at
 * its end (rt_trace_visit_thread_gone) or in a fork child (all of them).
 * The thread writes `waiting` (the number of its wait in progress, 0
 * while it runs); the visitor, the only one, writes the visit's values
 * and then, with release order, `visit_seq`, the number of the wait they
 * belong to.  A wait's number is never reused in a slot (a new owner
 * goes on from the numbers its slot has seen), so the waiter trusts the
 * values only when visit_seq is its own wait's, and the one visitor
 * writes those at most once.  No lock, no allocation; a thread without a
 * slot (RT_WSLOT_MAX threads have one) is unsplit.  Cost in a wait: two
 * stores and, when it is recorded, one load, plus the read when visited.
 */
#include "trace_int.h"
#include "rt_base.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RT_WSLOT_MAX 512

typedef struct wslot {
	_Atomic int tid;              /* the owner; 0: free */
	_Atomic uint64_t waiting;     /* the owner's wait in progress, 0: none */
	_Atomic uint64_t visit_seq;   /* the wait the values below belong to */
	_Atomic int64_t visit_rd;     /* its run_delay and run count when visited */
	_Atomic uint64_t visit_pc;
	_Atomic uint64_t seq_base;    /* the last owner's last wait number */
} wslot;

static wslot wslots[RT_WSLOT_MAX];
static atomic_bool wslots_used;   /* a slot was ever claimed */

static __thread __attribute__((tls_model("initial-exec"))) wslot *my_slot;
/* my_slot's `waiting`, and the thread's wait numbers: read inline by the
 * hooks (rt_trace_visit_begin_fast) */
__thread __attribute__((tls_model("initial-exec"))) _Atomic uint64_t *rt_visit_mine;
__thread __attribute__((tls_model("initial-exec"))) uint64_t rt_visit_seq;
static __thread __attribute__((tls_model("initial-exec"))) bool my_slot_tried;

/* Pure: the runnable ns of a wait visited at (rd_v, pc_v) that ended at
 * (rd, pc) after dur ns, or -1 when that is not known. */
int64_t rt_trace_visit_split(int64_t rd_v, uint64_t pc_v, int64_t rd, uint64_t pc, int64_t dur)
{
	if (pc - pc_v != 1 || rd < rd_v || rd - rd_v > dur)
		return -1;
	return rd - rd_v;
}

static wslot *slot_claim(void)
{
	my_slot_tried = true;
	if (!atomic_load_explicit(&wslots_used, memory_order_relaxed))
		atomic_store_explicit(&wslots_used, true, memory_order_relaxed);
	int tid = (int)syscall(SYS_gettid);
	for (size_t i = 0; i < RT_WSLOT_MAX; i++) {
		int want = 0;
		if (atomic_compare_exchange_strong(&wslots[i].tid, &want, tid)) {
			wslot *s = &wslots[i];
			/* numbers go on from every earlier owner's: a visit of
			 * theirs never passes for one of ours */
			rt_visit_seq = atomic_load(&s->seq_base);
			uint64_t v = atomic_load(&s->visit_seq), w = atomic_load(&s->waiting);
			if (v > rt_visit_seq)
				rt_visit_seq = v;
			if (w > rt_visit_seq)
				rt_visit_seq = w;
			atomic_store_explicit(&s->waiting, 0, memory_order_relaxed);
			return s;
		}
	}
	return NULL;
}

int64_t rt_trace_visit_begin(void)
{
	if (!my_slot && (my_slot_tried || !(my_slot = slot_claim())))
		return -1;
	rt_visit_mine = &my_slot->waiting;
	atomic_store_explicit(&my_slot->waiting, ++rt_visit_seq, memory_order_release);
	return RT_RD_VISIT;
}

int64_t rt_trace_visit_end(int64_t dur)
{
	wslot *s = my_slot;
	if (!s)
		return -1;
	atomic_store_explicit(&s->waiting, 0, memory_order_relaxed);
	if (dur < 0 || atomic_load_explicit(&s->visit_seq, memory_order_acquire) != rt_visit_seq)
		return -1;
	int64_t rd_v = atomic_load_explicit(&s->visit_rd, memory_order_relaxed);
	uint64_t pc_v = atomic_load_explicit(&s->visit_pc, memory_order_relaxed);
	int64_t rd;
	uint64_t pc;
	if (!rt_trace_read_own_schedstat(&rd, &pc))
		return -1;
	return rt_trace_visit_split(rd_v, pc_v, rd, pc, dur);
}

/* The visitor's descriptors, one per slot, kept while the slot has the
 * same owner: opening a /proc path costs tens of microseconds, a pread
 * of an open one about one.  Only the visitor touches these (and a fork
 * child, which has no visitor, forgets them). */
static int vis_fd[RT_WSLOT_MAX];    /* descriptor + 1; 0: none */
static int vis_tid[RT_WSLOT_MAX];

static void vis_drop(size_t i)
{
	if (vis_fd[i])
		(void)rt_trace_schedstat_close(vis_fd[i] - 1);
	vis_fd[i] = 0;
	vis_tid[i] = 0;
}

/* Slot i's owner tid: its run_delay and run count; false when it is gone
 * or the descriptor is not schedstat any more (then forgotten, unclosed:
 * the number may be the program's now). */
static bool read_slot_schedstat(size_t i, int tid, int64_t *rd, uint64_t *pc)
{
	if (vis_tid[i] != tid)
		vis_drop(i);
	if (!vis_fd[i]) {
		int fd = rt_trace_open_schedstat(tid);
		if (fd < 0)
			return false;
		vis_fd[i] = fd + 1;
		vis_tid[i] = tid;
	}
	char b[96];
	atomic_fetch_add_explicit(&rt_trace_schedstat_reads, 1, memory_order_relaxed);
	ssize_t n = (ssize_t)syscall(SYS_pread64, vis_fd[i] - 1, b, sizeof b - 1, 0L);
	if (n > 0 && rt_trace_parse_schedstat(b, n, rd, pc))
		return true;
	if (n < 0 && errno == ESRCH)   /* a file of a thread that ended: ours */
		syscall(SYS_close, vis_fd[i] - 1);
	vis_fd[i] = 0;
	vis_tid[i] = 0;
	return false;
}

_Atomic unsigned rt_trace_visit_epoch;

int rt_trace_visit_waits(void)
{
	int visited = 0;
	atomic_fetch_add_explicit(&rt_trace_visit_epoch, 1, memory_order_relaxed);
	for (size_t i = 0; i < RT_WSLOT_MAX; i++) {
		wslot *s = &wslots[i];
		int tid = atomic_load_explicit(&s->tid, memory_order_relaxed);
		if (!tid) {
			if (vis_fd[i])   /* its thread ended */
				vis_drop(i);
			continue;
		}
		uint64_t w = atomic_load_explicit(&s->waiting, memory_order_acquire);
		if (!w || atomic_load_explicit(&s->visit_seq, memory_order_relaxed) == w)
			continue;
		int64_t rd;
		uint64_t pc;
		if (!read_slot_schedstat(i, tid, &rd, &pc))
			continue;
		/* ended meanwhile: its own read tells, but the values serve nothing */
		if (atomic_load_explicit(&s->waiting, memory_order_acquire) != w)
			continue;
		atomic_store_explicit(&s->visit_rd, rd, memory_order_relaxed);
		atomic_store_explicit(&s->visit_pc, pc, memory_order_relaxed);
		atomic_store_explicit(&s->visit_seq, w, memory_order_release);
		visited++;
	}
	return visited;
}

void rt_trace_visit_thread_gone(void)
{
	wslot *s = my_slot;
	my_slot = NULL;
	rt_visit_mine = NULL;
	if (s) {
		atomic_store_explicit(&s->seq_base, rt_visit_seq, memory_order_relaxed);
		atomic_store_explicit(&s->waiting, 0, memory_order_relaxed);
		atomic_store_explicit(&s->tid, 0, memory_order_release);
	}
}

RT_FORK_TEXT void rt_trace_visit_forked(void)
{
	/* the child's one thread keeps no slot (its tid is new): every
	 * slot is a parent thread's.  Only what is set is written, and the
	 * table read only once used: a page written, or never touched and
	 * read, is a fault in every child of a fork-heavy program */
	if (!atomic_load_explicit(&wslots_used, memory_order_relaxed))
		return;
	if (my_slot)
		my_slot = NULL;
	if (rt_visit_mine)
		rt_visit_mine = NULL;
	if (my_slot_tried)
		my_slot_tried = false;
	for (size_t i = 0; i < RT_WSLOT_MAX; i++) {
		if (atomic_load_explicit(&wslots[i].tid, memory_order_relaxed))
			atomic_store_explicit(&wslots[i].tid, 0, memory_order_relaxed);
		if (vis_fd[i])   /* the parent's threads' files: left open, unused */
			vis_fd[i] = vis_tid[i] = 0;
	}
}
