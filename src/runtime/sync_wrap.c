/*
 * sync_wrap.c - the interposed pthread and semaphore primitives that feed
 * the mutex and block profiles (sync.c) and publish what each thread waits
 * on (rt_sync_waits, for thread snapshots and the deadlock profile).
 *
 * Interposed: pthread_mutex_lock/timedlock/clocklock/unlock, the rwlock
 * lock/unlock family, pthread_cond_wait/timedwait/clockwait,
 * sem_wait/timedwait/clockwait, pthread_join/timedjoin_np/clockjoin_np and
 * pthread_barrier_wait.  Each forwards to libc's function (dlsym /
 * dlvsym(RTLD_NEXT); pthread_cond_* is the GLIBC_2.3.2 version, the one
 * programs built since 2002 call) and returns exactly what it returned,
 * errno included.
 *
 * Fast path.  pthread_mutex_lock reads the mutex's lock word: when it is 0
 * (free) it jumps to libc's lock, which takes it at once (glibc's lock is
 * some 6 ns faster than its trylock, hence this test first).  Otherwise,
 * and in the rwlock lock calls, it tries the lock (libc's trylock): when
 * that succeeds (a recursive mutex the thread holds, a lock just freed)
 * the wrapper returns at once: no clock, no TLS write.  Only EBUSY takes
 * the slow path; every other result of trylock (EOWNERDEAD, EAGAIN,
 * EINVAL...) is what lock would have returned too.  The price of the
 * first test: a thread that sees the word 0 and loses the few-ns race for
 * the lock to another thread waits in libc unrecorded (no wait record, no
 * event); that needs two threads reaching a free lock within nanoseconds
 * of each other, and only the loser's wait is missed.  sem_wait tests cancellation (as libc's sem_wait does
 * even when it does not block) then tries sem_trywait.  The timed variants,
 * the condition variables, join and barriers always take the slow path
 * (they block by nature, or their argument checks must stay libc's).
 * pthread_mutex_unlock reads the mutex's lock word before releasing it:
 * only when libc marked it contended (2, or FUTEX_WAITERS for robust and
 * PI mutexes) and some waiter is registered does it look further.
 *
 * Slow path.  The waiter reads the clock, publishes its wait record (kind,
 * object, since, its registers; its stack only while a trace runs: a walk
 * per wait is what a program full of blocking waits would pay for
 * nothing) in a slot of a fixed table,
 * registers in the per-mutex waiter table (mutexes and rwlocks), blocks in
 * libc, then unregisters, clears the record and reports the delay to the
 * block profile (Go's blockevent, sampled in sync.c).
 *
 * Mutex profile (Go's semantics: the unlocker is charged).  The waiter
 * table is hashed by lock address; an entry holds the number of waiters
 * and the sum of their start times.  An unlocker that finds waiters is
 * charged sum(now - start) over them and resets their starts to now
 * (last_reset), so the next unlock charges only the waiting since; a
 * waiter leaving subtracts max(its start, last_reset).  1 in
 * rt_mutex_fraction charges is recorded with the unlocker's stack, unwound
 * after the real unlock (the critical section is not lengthened).  A
 * condition wait releases its mutex inside libc: pthread_cond_wait charges
 * the mutex's waiters first, as an unlock would.
 *
 * Threads, signals, invariants.  Wait records: a slot is owned by one
 * thread from claim (CAS on owner) to release; the owner writes under a
 * sequence counter (odd while writing) and rt_sync_waits copies the slots
 * with even, unchanged counters, so waiters never wait for readers.
 * Waiter-table entries are guarded by a tiny spin lock each, taken only on
 * slow paths and by unlockers of contended locks.  Nothing here allocates
 * (the event tables of sync.c are mmap'ed).  Cancellation (cond, sem,
 * join are cancellation points) runs a cleanup handler that withdraws the
 * record.  Resolving libc's functions may recurse (dlsym may call malloc,
 * an interposed malloc may lock a mutex): a recursive mutex call on the
 * resolving thread uses glibc's low-level lock protocol directly (the one
 * of PTHREAD_MUTEX_INITIALIZER mutexes), so it neither deadlocks nor
 * fails.  fork: the child withdraws every record and waiter entry (their
 * threads do not exist in it).
 */
#include "sync_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_labels.h"
#include "rt_wait.h"
#include "cprof_util.h"
#include "trace_int.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* frames between rt_unwind_here's caller and the wrapper's call site */
#define SKIP_WAIT 1
#define SKIP_EVENT 2

/* ---- libc's functions ------------------------------------------------------------ */

typedef const struct timespec cts;
/* Until resolved, the two pointers of the fast paths lead to these, so the
 * wrappers test nothing (see boot_trylock below). */
static int boot_lock(pthread_mutex_t *m);
static int boot_trylock(pthread_mutex_t *m);
static int boot_unlock(pthread_mutex_t *m);
static struct {
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, cts *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, cts *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*rw_rdlock)(pthread_rwlock_t *);
	int (*rw_wrlock)(pthread_rwlock_t *);
	int (*rw_tryrdlock)(pthread_rwlock_t *);
	int (*rw_trywrlock)(pthread_rwlock_t *);
	int (*rw_timedrdlock)(pthread_rwlock_t *, cts *);
	int (*rw_timedwrlock)(pthread_rwlock_t *, cts *);
	int (*rw_clockrdlock)(pthread_rwlock_t *, clockid_t, cts *);
	int (*rw_clockwrlock)(pthread_rwlock_t *, clockid_t, cts *);
	int (*rw_unlock)(pthread_rwlock_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, cts *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t, cts *);
	int (*sem_wait)(sem_t *);
	int (*sem_trywait)(sem_t *);
	int (*sem_timedwait)(sem_t *, cts *);
	int (*sem_clockwait)(sem_t *, clockid_t, cts *);
	int (*join)(pthread_t, void **);
	int (*timedjoin)(pthread_t, void **, cts *);
	int (*clockjoin)(pthread_t, void **, clockid_t, cts *);
	int (*barrier_wait)(pthread_barrier_t *);
} R = { .mutex_lock = boot_lock, .mutex_trylock = boot_trylock, .mutex_unlock = boot_unlock };
static _Atomic int resolved;
static __thread __attribute__((tls_model("initial-exec"))) int resolving;

void *rt_sym_next(const char *name, const char *ver)
{
	void *f = ver ? dlvsym(RTLD_NEXT, name, ver) : NULL;
	return f ? f : dlsym(RTLD_NEXT, name);
}

#define GET(field, name, ver) RT_GET_NEXT(R.field, name, ver)

static void resolve(void)
{
	if (resolving)
		return;
	resolving = 1;
	int e = errno;
	/* the mutex calls first: any lock taken while resolving the rest works */
	GET(mutex_trylock, "pthread_mutex_trylock", NULL);
	GET(mutex_lock, "pthread_mutex_lock", NULL);
	GET(mutex_unlock, "pthread_mutex_unlock", NULL);
	GET(mutex_timedlock, "pthread_mutex_timedlock", NULL);
	GET(mutex_clocklock, "pthread_mutex_clocklock", NULL);
	GET(rw_rdlock, "pthread_rwlock_rdlock", NULL);
	GET(rw_wrlock, "pthread_rwlock_wrlock", NULL);
	GET(rw_tryrdlock, "pthread_rwlock_tryrdlock", NULL);
	GET(rw_trywrlock, "pthread_rwlock_trywrlock", NULL);
	GET(rw_timedrdlock, "pthread_rwlock_timedrdlock", NULL);
	GET(rw_timedwrlock, "pthread_rwlock_timedwrlock", NULL);
	GET(rw_clockrdlock, "pthread_rwlock_clockrdlock", NULL);
	GET(rw_clockwrlock, "pthread_rwlock_clockwrlock", NULL);
	GET(rw_unlock, "pthread_rwlock_unlock", NULL);
	GET(cond_wait, "pthread_cond_wait", "GLIBC_2.3.2");
	GET(cond_timedwait, "pthread_cond_timedwait", "GLIBC_2.3.2");
	GET(cond_clockwait, "pthread_cond_clockwait", NULL);
	GET(sem_wait, "sem_wait", NULL);
	GET(sem_trywait, "sem_trywait", NULL);
	GET(sem_timedwait, "sem_timedwait", NULL);
	GET(sem_clockwait, "sem_clockwait", NULL);
	GET(join, "pthread_join", NULL);
	GET(timedjoin, "pthread_timedjoin_np", NULL);
	GET(clockjoin, "pthread_clockjoin_np", NULL);
	GET(barrier_wait, "pthread_barrier_wait", NULL);
	atomic_store_explicit(&resolved, 1, memory_order_release);
	errno = e;
	resolving = 0;
}

#define NEED(field) \
	do { if (UNLIKELY(!R.field)) resolve(); } while (0)

/* glibc's low-level lock of a default mutex (0 free, 1 locked, 2 locked
 * with waiters), for mutex calls made while this thread resolves. */
static int tid_cached(void);
static int ll_lock(pthread_mutex_t *m, bool try)
{
	int *w = &m->__data.__lock;
	int z = 0;
	if (!__atomic_compare_exchange_n(w, &z, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		if (try)
			return EBUSY;
		while (__atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE) != 0)
			syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
	}
	m->__data.__owner = tid_cached();
	m->__data.__nusers++;
	return 0;
}

static int ll_unlock(pthread_mutex_t *m)
{
	int *w = &m->__data.__lock;
	m->__data.__owner = 0;
	m->__data.__nusers--;
	if (__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2)
		syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return 0;
}

/* The first mutex calls: resolve, then forward; while this thread is the
 * one resolving (a recursive call), glibc's protocol directly. */
static __attribute__((noinline, cold)) int boot_lock(pthread_mutex_t *m)
{
	resolve();
	if (R.mutex_lock == boot_lock)
		return ll_lock(m, false);
	return R.mutex_lock(m);
}

static __attribute__((noinline, cold)) int boot_trylock(pthread_mutex_t *m)
{
	resolve();
	if (R.mutex_trylock == boot_trylock)   /* called only by the lock wrappers: lock */
		return R.mutex_lock != boot_lock ? R.mutex_lock(m) : ll_lock(m, false);
	return R.mutex_trylock(m);
}

static __attribute__((noinline, cold)) int boot_unlock(pthread_mutex_t *m)
{
	resolve();
	if (R.mutex_unlock == boot_unlock)
		return ll_unlock(m);
	return R.mutex_unlock(m);
}

/* ---- clock, random, tid ----------------------------------------------------------- */

int64_t rt_sync_now(void)
{
	return rt_clock_ns(CLOCK_MONOTONIC);   /* rdtsc may fault: rtclock.c */
}

static __thread __attribute__((tls_model("initial-exec"))) uint64_t rnd;
static __thread __attribute__((tls_model("initial-exec"))) int my_tid;

static int tid_cached(void)
{
	if (UNLIKELY(!my_tid))
		my_tid = (int)syscall(SYS_gettid);
	return my_tid;
}

uint64_t rt_sync_rand(void)
{
	uint64_t x = rnd;
	if (UNLIKELY(!x))
		x = cprof_hash_u64((uint64_t)rt_sync_now() ^ ((uint64_t)tid_cached() << 32)) | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rnd = x;
	return x;
}

/* ---- fork epochs ------------------------------------------------------------------ */

/* A fork child inherits the tables below with the entries of threads that
 * do not exist there.  Rewriting them (1.25 MiB) in every child cost ~340
 * page faults per fork; instead every entry carries the epoch it was made
 * in, the child's handler only increments the epoch (O(1)), and an entry
 * of another epoch counts as free.  16 bits: a chain of 65,536 nested
 * forks would wrap. */
static _Atomic uint32_t epoch = 1;
/* some entry was made in this epoch (set before the entry; a fork child
 * bumps the epoch only then, so a fork in a process that never waited
 * writes nothing here: no copy-on-write fault) */
static atomic_bool epoch_used;

static inline uint32_t cur_epoch(void)
{
	return atomic_load_explicit(&epoch, memory_order_relaxed);
}

/* ---- wait records ------------------------------------------------------------------ */

#define WSLOTS 4096
typedef struct wslot {
	_Atomic uint64_t owner;     /* epoch << 32 | tid of the waiting thread; 0 free */
	_Atomic uint32_t seq;       /* odd while the owner writes */
	rt_wait w;
} __attribute__((aligned(64))) wslot;
static wslot slots[WSLOTS];
static _Atomic uint64_t slots_full;   /* waits not published: no free slot */

/* The slot is held by a thread of this process (not of a forked parent). */
static inline bool slot_live(uint64_t owner)
{
	return owner != 0 && (uint32_t)(owner >> 32) == cur_epoch();
}

static int slot_publish(rt_wait_kind k, const void *obj, const void *obj2, int64_t since,
			const uintptr_t *pcs, int n, const uintptr_t ctx[3])
{
	int tid = tid_cached();
	uint64_t me = (uint64_t)cur_epoch() << 32 | (uint32_t)tid;
	unsigned h = (unsigned)cprof_hash_u64((uint64_t)tid) & (WSLOTS - 1);
	for (unsigned i = 0; i < WSLOTS; i++) {
		wslot *s = &slots[(h + i) & (WSLOTS - 1)];
		uint64_t o = atomic_load_explicit(&s->owner, memory_order_relaxed);
		if (slot_live(o) || !atomic_compare_exchange_strong(&s->owner, &o, me))
			continue;
		/* even: a slot of a forked parent may have been mid-write */
		uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
		q += q & 1;
		atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		s->w.tid = tid;
		s->w.kind = k;
		s->w.obj = obj;
		s->w.obj2 = obj2;
		s->w.since_ns = since;
		s->w.nframes = n;
		if (n > 0)
			memcpy(s->w.pcs, pcs, (size_t)n * sizeof *pcs);
		s->w.ctx_pc = ctx[0];
		s->w.ctx_sp = ctx[1];
		s->w.ctx_fp = ctx[2];
		atomic_store_explicit(&s->seq, q + 2, memory_order_release);
		return (int)((h + i) & (WSLOTS - 1));
	}
	atomic_fetch_add_explicit(&slots_full, 1, memory_order_relaxed);
	return -1;
}

static void slot_clear(int i)
{
	if (i < 0)
		return;
	wslot *s = &slots[i];
	uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
	atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	s->w.kind = RT_WAIT_NONE;
	atomic_store_explicit(&s->seq, q + 2, memory_order_release);
	atomic_store_explicit(&s->owner, 0, memory_order_release);
}

size_t rt_sync_waits(rt_wait *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < WSLOTS && n < max; i++) {
		wslot *s = &slots[i];
		if (!slot_live(atomic_load_explicit(&s->owner, memory_order_acquire)))
			continue;
		for (int tries = 0; tries < 8; tries++) {
			uint32_t q = atomic_load_explicit(&s->seq, memory_order_acquire);
			if (q & 1)
				continue;
			const volatile char *src = (const volatile char *)&s->w;
			char *dst = (char *)&out[n];
			for (size_t b = 0; b < sizeof(rt_wait); b++)
				dst[b] = src[b];
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&s->seq, memory_order_relaxed) != q)
				continue;
			if (out[n].kind != RT_WAIT_NONE && out[n].nframes >= 0 &&
			    out[n].nframes <= RT_WAIT_FRAMES)
				n++;
			break;
		}
	}
	return n;
}

int rt_mutex_owner(const void *m)
{
	if (!m)
		return 0;
	return __atomic_load_n(&((const pthread_mutex_t *)m)->__data.__owner, __ATOMIC_RELAXED);
}

int rt_rwlock_writer(const void *l)
{
	if (!l)
		return 0;
	return (int)__atomic_load_n(&((const pthread_rwlock_t *)l)->__data.__cur_writer,
				    __ATOMIC_RELAXED);
}

const char *rt_wait_kind_name(rt_wait_kind k)
{
	switch (k) {
	case RT_WAIT_MUTEX: return "mutex";
	case RT_WAIT_RDLOCK: return "rwlock read";
	case RT_WAIT_WRLOCK: return "rwlock write";
	case RT_WAIT_COND: return "cond";
	case RT_WAIT_SEM: return "semaphore";
	case RT_WAIT_JOIN: return "join";
	case RT_WAIT_BARRIER: return "barrier";
	case RT_WAIT_NONE: break;
	}
	return "none";
}

/* ---- the per-lock waiter table (the unlocker's charge) ---------------------------- */

#define SIDE_N 1024
#define SIDE_PROBE 16
typedef struct side {
	_Atomic uintptr_t key;      /* side_key(the lock), 0 or another epoch's: free */
	_Atomic uint32_t lk;        /* the epoch while held, else free */
	int nwait;
	int64_t sum_start;          /* sum over waiters of max(start, last_reset) */
	int64_t last_reset;
} __attribute__((aligned(64))) side;
static side sides[SIDE_N];
static _Atomic int side_waiters;   /* waiters registered, all locks */

/* The key of lock m in this epoch: user addresses fit in 48 bits. */
static inline uintptr_t side_key(const void *m)
{
	return (uintptr_t)m | (uintptr_t)(cur_epoch() & 0xffff) << 48;
}

static inline bool side_free(uintptr_t key)
{
	return key == 0 || (key >> 48) != (cur_epoch() & 0xffff);
}

static void side_lock(side *e)
{
	uint32_t ep = cur_epoch();
	for (;;) {
		uint32_t v = atomic_load_explicit(&e->lk, memory_order_relaxed);
		if (v == ep) {   /* held in this process (another epoch's: a dead thread's) */
			__builtin_ia32_pause();
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&e->lk, &v, ep, memory_order_acquire,
							  memory_order_relaxed))
			return;
	}
}

static void side_unlock(side *e)
{
	atomic_store_explicit(&e->lk, 0, memory_order_release);
}

static unsigned side_hash(const void *m)
{
	return (unsigned)cprof_hash_u64((uint64_t)(uintptr_t)m) & (SIDE_N - 1);
}

/* The locked entry of m, or NULL. */
static side *side_find(const void *m)
{
	unsigned h = side_hash(m);
	for (unsigned i = 0; i < SIDE_PROBE; i++) {
		side *e = &sides[(h + i) & (SIDE_N - 1)];
		if (atomic_load_explicit(&e->key, memory_order_relaxed) != side_key(m))
			continue;
		side_lock(e);
		if (atomic_load_explicit(&e->key, memory_order_relaxed) == side_key(m))
			return e;
		side_unlock(e);
	}
	return NULL;
}

static side *side_enter(const void *m, int64_t t0)
{
	side *e = side_find(m);
	if (!e) {
		unsigned h = side_hash(m);
		for (unsigned i = 0; i < SIDE_PROBE && !e; i++) {
			side *c = &sides[(h + i) & (SIDE_N - 1)];
			if (!side_free(atomic_load_explicit(&c->key, memory_order_relaxed)))
				continue;
			side_lock(c);
			if (side_free(atomic_load_explicit(&c->key, memory_order_relaxed))) {
				atomic_store_explicit(&c->key, side_key(m), memory_order_relaxed);
				c->nwait = 0;
				c->sum_start = 0;
				c->last_reset = 0;
				e = c;
			} else {
				side_unlock(c);
			}
		}
	}
	if (!e)
		return NULL;    /* table crowded here: this wait is not charged */
	e->nwait++;
	e->sum_start += t0;
	side_unlock(e);
	atomic_fetch_add_explicit(&side_waiters, 1, memory_order_relaxed);
	return e;
}

static void side_leave(side *e, const void *m, int64_t t0)
{
	if (!e)
		return;
	side_lock(e);
	if (atomic_load_explicit(&e->key, memory_order_relaxed) == side_key(m)) {
		e->sum_start -= t0 > e->last_reset ? t0 : e->last_reset;
		if (--e->nwait <= 0)
			atomic_store_explicit(&e->key, 0, memory_order_relaxed);
	}
	side_unlock(e);
	atomic_fetch_sub_explicit(&side_waiters, 1, memory_order_relaxed);
}

/* Before releasing m: the delay its waiters accumulated since the last
 * charge (0: none), reset to now. */
static int64_t side_charge(const void *m)
{
	side *e = side_find(m);
	if (!e)
		return 0;
	int64_t d = 0;
	if (e->nwait > 0) {
		int64_t now = rt_sync_now();
		d = (int64_t)e->nwait * now - e->sum_start;
		e->sum_start = (int64_t)e->nwait * now;
		e->last_reset = now;
	}
	side_unlock(e);
	return d > 0 ? d : 0;
}

/* ---- events -------------------------------------------------------------------------- */

/* Go's mutexevent: 1 in rt_mutex_fraction charges, the unlocker's stack. */
static __attribute__((noinline)) void mutex_event(int64_t delay, int skip)
{
	if (rt_self_depth())   /* charged to the runtime's own unlock: not the program's */
		return;
	int rate = atomic_load_explicit(&rt_mutex_fraction, memory_order_relaxed);
	if (rate <= 0 || rt_sync_rand() % (uint64_t)rate != 0)
		return;
	int e = errno;
	uintptr_t pcs[RT_WAIT_FRAMES];
	/* from the unlock wrapper's call site in the program */
	int n = rt_unwind_here(pcs, RT_WAIT_FRAMES, skip);
	rt_sync_record(true, pcs, n, rt_labels_current(), 1, delay);
	errno = e;
}

/* Is m's lock word marked contended by libc? */
static inline bool mutex_contended(const pthread_mutex_t *m)
{
	int w = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
	return w == 2 || (w & FUTEX_WAITERS);
}

typedef struct waitctx {
	int64_t t0;
	int err;            /* errno at the call: the bookkeeping keeps it */
	int slot;
	int n;
	side *se;
	const void *obj;
	int kind;
	int64_t rd0;        /* tracing: rt_trace_rd_begin's token, else -1 */
	uintptr_t pcs[RT_WAIT_FRAMES];
} waitctx;

/* The context of the slow-path function this is expanded in, at one
 * instant: its pc, stack and frame pointers (the registers a walk starts
 * from; the function's unwind rows say where its caller's rbp is, as in
 * rt_unwind_here).  A few instructions, no frame pointer forced.  x86-64. */
#define WAIT_CTX(ctx)                                                         \
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"     \
			 : "=r"((ctx)[0]), "=r"((ctx)[1]), "=r"((ctx)[2]))

/* Called directly by the slow-path functions (themselves called by the
 * wrappers): skip 1 makes the stack start at the wrapper's call site.
 * The waiter's stack is not walked here: nothing but a trace wants it at
 * every wait.  The wait record gets the waiter's context instead (three
 * words), from which a snapshot walks the stack of a thread still blocked
 * when it asks (tprof.c); the block profile walks only the waits it
 * samples (rt_block_event, after the wait, from the same frame). */
static inline __attribute__((always_inline)) void wait_begin(waitctx *c, rt_wait_kind k,
							       const void *obj, const void *obj2,
							       bool lock)
{
	c->err = errno;
	if (UNLIKELY(!atomic_load_explicit(&epoch_used, memory_order_relaxed)))
		atomic_store_explicit(&epoch_used, true, memory_order_relaxed);
	c->kind = k;
	c->rd0 = rt_trace_active() && !rt_self_depth() ? rt_trace_rd_begin() : -1;
	c->t0 = rt_sync_now();
	c->obj = obj;
	/* the trace's wait events and ongoing waits carry the stack */
	c->n = UNLIKELY(rt_trace_active()) ? rt_unwind_here(c->pcs, RT_WAIT_FRAMES, SKIP_WAIT) : 0;
	uintptr_t ctx[3];
	WAIT_CTX(ctx);
	c->slot = slot_publish(k, obj, obj2, c->t0, c->pcs, c->n, ctx);
	c->se = lock ? side_enter(obj, c->t0) : NULL;
	errno = c->err;
}

static inline __attribute__((always_inline)) void wait_end(waitctx *c)
{
	int64_t t1 = rt_sync_now();
	side_leave(c->se, c->obj, c->t0);
	c->se = NULL;
	slot_clear(c->slot);
	c->slot = -1;
	if (!rt_self_depth())   /* the runtime's own waits are not the program's */
		rt_block_event(t1 - c->t0, c->pcs, c->n);
	if (UNLIKELY(rt_trace_active()) && !rt_self_depth()) {
		if (c->n == 0)   /* the trace started during the wait */
			c->n = rt_unwind_here(c->pcs, RT_WAIT_FRAMES, SKIP_WAIT);
		rt_trace_wait(c->kind, c->obj, c->t0, t1, rt_trace_rd_end(c->rd0, t1 - c->t0),
			      c->pcs, c->n);
	}
	errno = c->err;     /* the sem_* wrappers put libc's errno back after */
}

/* a cancelled wait (cond, sem, join): withdraw the record */
static void wait_cancelled(void *p)
{
	waitctx *c = p;
	side_leave(c->se, c->obj, c->t0);
	slot_clear(c->slot);
}

#define BARRIER() __asm__ volatile("" ::: "memory")

/* ---- mutexes ------------------------------------------------------------------------ */

static __attribute__((noinline)) int mutex_lock_slow(pthread_mutex_t *m)
{
	waitctx c;
	wait_begin(&c, RT_WAIT_MUTEX, m, NULL, true);
	int rc = R.mutex_lock(m);
	wait_end(&c);
	return rc;
}

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	/* free now: libc's lock (faster than its trylock) takes it at once,
	 * unless another thread wins the few-ns race (see the header) */
	if (LIKELY(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0))
		return R.mutex_lock(m);
	int rc = R.mutex_trylock(m);
	if (LIKELY(rc != EBUSY))
		return rc;
	rc = mutex_lock_slow(m);
	BARRIER();   /* no tail call: the wrapper's frame stays in the stack */
	return rc;
}

static __attribute__((noinline)) int mutex_timed_slow(pthread_mutex_t *m, clockid_t clk,
						      cts *abs, bool has_clock)
{
	waitctx c;
	wait_begin(&c, RT_WAIT_MUTEX, m, NULL, true);
	int rc = has_clock ? R.mutex_clocklock(m, clk, abs) : R.mutex_timedlock(m, abs);
	wait_end(&c);
	return rc;
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, cts *abs)
{
	NEED(mutex_timedlock);
	int rc = R.mutex_trylock(m);    /* POSIX: abs need not be checked then */
	if (LIKELY(rc != EBUSY))
		return rc;
	rc = mutex_timed_slow(m, CLOCK_REALTIME, abs, false);
	BARRIER();
	return rc;
}

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, cts *abs)
{
	NEED(mutex_clocklock);
	if (!R.mutex_clocklock)
		return ENOSYS;
	/* libc checks the clock before trying: no fast path */
	int rc = mutex_timed_slow(m, clk, abs, true);
	BARRIER();
	return rc;
}

static __attribute__((noinline)) int mutex_unlock_slow(pthread_mutex_t *m)
{
	if (UNLIKELY(rt_trace_active()) && !rt_self_depth())
		rt_trace_wake(RT_WAIT_MUTEX, m);   /* the waiter that takes m: a flow */
	int64_t d = side_charge(m);
	int rc = R.mutex_unlock(m);
	if (d > 0 && rc == 0)
		mutex_event(d, SKIP_EVENT);   /* keeps errno */
	return rc;
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (UNLIKELY(atomic_load_explicit(&side_waiters, memory_order_relaxed) > 0) &&
	    mutex_contended(m)) {
		int rc = mutex_unlock_slow(m);
		BARRIER();
		return rc;
	}
	return R.mutex_unlock(m);
}

/* ---- rwlocks ------------------------------------------------------------------------- */

static __attribute__((noinline)) int rw_slow(pthread_rwlock_t *l, int op, clockid_t clk, cts *abs)
{
	waitctx c;
	wait_begin(&c, op & 1 ? RT_WAIT_WRLOCK : RT_WAIT_RDLOCK, l, NULL, true);
	int rc;
	switch (op) {
	case 0: rc = R.rw_rdlock(l); break;
	case 1: rc = R.rw_wrlock(l); break;
	case 2: rc = R.rw_timedrdlock(l, abs); break;
	case 3: rc = R.rw_timedwrlock(l, abs); break;
	case 4: rc = R.rw_clockrdlock(l, clk, abs); break;
	default: rc = R.rw_clockwrlock(l, clk, abs); break;
	}
	wait_end(&c);
	return rc;
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	NEED(rw_rdlock);
	int rc = R.rw_tryrdlock(l);
	if (LIKELY(rc != EBUSY))
		return rc;
	rc = rw_slow(l, 0, 0, NULL);
	BARRIER();
	return rc;
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	NEED(rw_wrlock);
	int rc = R.rw_trywrlock(l);
	if (LIKELY(rc != EBUSY))
		return rc;
	rc = rw_slow(l, 1, 0, NULL);
	BARRIER();
	return rc;
}

EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, cts *abs)
{
	NEED(rw_timedrdlock);
	int rc = rw_slow(l, 2, 0, abs);
	BARRIER();
	return rc;
}

EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, cts *abs)
{
	NEED(rw_timedwrlock);
	int rc = rw_slow(l, 3, 0, abs);
	BARRIER();
	return rc;
}

EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clk, cts *abs)
{
	NEED(rw_clockrdlock);
	if (!R.rw_clockrdlock)
		return ENOSYS;
	int rc = rw_slow(l, 4, clk, abs);
	BARRIER();
	return rc;
}

EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk, cts *abs)
{
	NEED(rw_clockwrlock);
	if (!R.rw_clockwrlock)
		return ENOSYS;
	int rc = rw_slow(l, 5, clk, abs);
	BARRIER();
	return rc;
}

static __attribute__((noinline)) int rw_unlock_slow(pthread_rwlock_t *l)
{
	if (UNLIKELY(rt_trace_active()) && !rt_self_depth())
		rt_trace_wake(RT_WAIT_WRLOCK, l);
	int64_t d = side_charge(l);
	int rc = R.rw_unlock(l);
	if (d > 0 && rc == 0)
		mutex_event(d, SKIP_EVENT);   /* keeps errno */
	return rc;
}

EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	NEED(rw_unlock);
	if (UNLIKELY(atomic_load_explicit(&side_waiters, memory_order_relaxed) > 0)) {
		int rc = rw_unlock_slow(l);
		BARRIER();
		return rc;
	}
	return R.rw_unlock(l);
}

/* ---- condition variables --------------------------------------------------------------- */

static __attribute__((noinline)) int cond_slow(pthread_cond_t *cv, pthread_mutex_t *m, int op,
					       clockid_t clk, cts *abs)
{
	/* libc releases m inside: its waiters are charged to this thread now */
	if (atomic_load_explicit(&side_waiters, memory_order_relaxed) > 0 && mutex_contended(m)) {
		if (UNLIKELY(rt_trace_active()) && !rt_self_depth())
			rt_trace_wake(RT_WAIT_MUTEX, m);
		int64_t d = side_charge(m);
		if (d > 0)
			mutex_event(d, SKIP_EVENT);
	}
	waitctx c;
	wait_begin(&c, RT_WAIT_COND, cv, m, false);
	int rc;
	pthread_cleanup_push(wait_cancelled, &c);
	if (op == 0)
		rc = R.cond_wait(cv, m);
	else if (op == 1)
		rc = R.cond_timedwait(cv, m, abs);
	else
		rc = R.cond_clockwait(cv, m, clk, abs);
	pthread_cleanup_pop(0);
	wait_end(&c);
	return rc;
}

EXPORT int pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
	NEED(cond_wait);
	int rc = cond_slow(cv, m, 0, 0, NULL);
	BARRIER();
	return rc;
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *m, cts *abs)
{
	NEED(cond_timedwait);
	int rc = cond_slow(cv, m, 1, 0, abs);
	BARRIER();
	return rc;
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *cv, pthread_mutex_t *m, clockid_t clk, cts *abs)
{
	NEED(cond_clockwait);
	if (!R.cond_clockwait)
		return ENOSYS;
	int rc = cond_slow(cv, m, 2, clk, abs);
	BARRIER();
	return rc;
}

/* ---- semaphores ------------------------------------------------------------------------ */

static __attribute__((noinline)) int sem_slow(sem_t *s, int op, clockid_t clk, cts *abs)
{
	waitctx c;
	wait_begin(&c, RT_WAIT_SEM, s, NULL, false);
	int rc;
	pthread_cleanup_push(wait_cancelled, &c);
	if (op == 0)
		rc = R.sem_wait(s);
	else if (op == 1)
		rc = R.sem_timedwait(s, abs);
	else
		rc = R.sem_clockwait(s, clk, abs);
	pthread_cleanup_pop(0);
	int e = errno;
	wait_end(&c);
	errno = e;
	return rc;
}

EXPORT int sem_wait(sem_t *s)
{
	NEED(sem_wait);
	pthread_testcancel();   /* libc's sem_wait is a cancellation point even when not blocking */
	int e = errno;
	if (LIKELY(R.sem_trywait(s) == 0))
		return 0;
	errno = e;
	int rc = sem_slow(s, 0, 0, NULL);
	BARRIER();
	return rc;
}

EXPORT int sem_timedwait(sem_t *s, cts *abs)
{
	NEED(sem_timedwait);
	int rc = sem_slow(s, 1, 0, abs);
	BARRIER();
	return rc;
}

EXPORT int sem_clockwait(sem_t *s, clockid_t clk, cts *abs)
{
	NEED(sem_clockwait);
	if (!R.sem_clockwait) {
		errno = ENOSYS;
		return -1;
	}
	int rc = sem_slow(s, 2, clk, abs);
	BARRIER();
	return rc;
}

/* ---- join, barriers --------------------------------------------------------------------- */

static __attribute__((noinline)) int join_slow(pthread_t th, void **ret, int op, clockid_t clk,
					       cts *abs)
{
	waitctx c;
	wait_begin(&c, RT_WAIT_JOIN, (const void *)th, (const void *)th, false);
	int rc;
	pthread_cleanup_push(wait_cancelled, &c);
	if (op == 0)
		rc = R.join(th, ret);
	else if (op == 1)
		rc = R.timedjoin(th, ret, abs);
	else
		rc = R.clockjoin(th, ret, clk, abs);
	pthread_cleanup_pop(0);
	wait_end(&c);
	return rc;
}

EXPORT int pthread_join(pthread_t th, void **ret)
{
	NEED(join);
	int rc = join_slow(th, ret, 0, 0, NULL);
	BARRIER();
	return rc;
}

EXPORT int pthread_timedjoin_np(pthread_t th, void **ret, cts *abs)
{
	NEED(timedjoin);
	int rc = join_slow(th, ret, 1, 0, abs);
	BARRIER();
	return rc;
}

EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk, cts *abs)
{
	NEED(clockjoin);
	if (!R.clockjoin)
		return ENOSYS;
	int rc = join_slow(th, ret, 2, clk, abs);
	BARRIER();
	return rc;
}

static __attribute__((noinline)) int barrier_slow(pthread_barrier_t *b)
{
	waitctx c;
	wait_begin(&c, RT_WAIT_BARRIER, b, NULL, false);
	int rc = R.barrier_wait(b);
	wait_end(&c);
	return rc;
}

EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	NEED(barrier_wait);
	int rc = barrier_slow(b);
	BARRIER();
	return rc;
}

/* ---- load, fork ------------------------------------------------------------------------- */

/* O(1): the parent's wait records and waiter entries are another epoch's
 * (see "fork epochs"), so the child writes none of their pages. */
RT_FORK_TEXT static void fork_child(void)
{
	/* only what changed is written: every page written here is a
	 * copy-on-write fault in each child */
	if (my_tid)
		my_tid = 0;
	if (rnd)
		rnd = 0;
	if (atomic_load(&epoch_used)) {
		uint32_t ep = cur_epoch() + 1;
		atomic_store(&epoch, (ep & 0xffff) ? ep : ep + 1);   /* never 0 in 16 bits */
		atomic_store(&epoch_used, false);
	}
	if (atomic_load(&side_waiters))
		atomic_store(&side_waiters, 0);
}

__attribute__((constructor(101)))
static void sync_wrap_init(void)
{
	if (!atomic_load(&resolved))
		resolve();
	pthread_atfork(NULL, NULL, fork_child);
}
