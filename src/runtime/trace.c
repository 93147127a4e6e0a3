/*
 * trace.c - the execution trace's recorder: what each thread did, when,
 * appended to per-thread buffers by the hooks (the sync wrappers' waits,
 * trace_hooks.c's blocking calls and wakers, the SIGPROF handler's
 * samples, thread start and end, user regions and logs).
 *
 * Memory.  A session maps one region (its budget, CPROF_TRACE_BUF, 64 MiB
 * by default; MAP_NORESERVE: only the pages written cost memory; a
 * chunk's pages are populated in one madvise when it is taken) and
 * carves it into 64 KiB chunks with one atomic add.  A thread owns the
 * chunk it appends to (pointer in initial-exec TLS) and takes a new one
 * when it is full; chunks are pushed on a lock-free list (CAS) for the
 * writer.  Nothing here calls malloc or takes a lock: hooks run inside
 * the program's allocator, under its locks and in signal handlers.  When
 * the region is used up, events are dropped and counted (per thread, then
 * written as a "dropped" event when the thread next has room; in total in
 * the trace's metadata): never silently lost.
 *
 * Generations.  Session s records into gens[s & 1].  A plain trace uses
 * one; the flight recorder (trace_env.c) alternates: every SECONDS it
 * starts a new session in the other generation (rt_trace_rotate, which
 * empties it) and keeps the one just ended as the older part of the
 * trace, so a write holds the last SECONDS to 2 x SECONDS.  A rotation
 * keeps the emptied generation's pages (they are filled again at once):
 * in its steady state the flight recorder takes no page faults.
 *
 * Time.  Where the kernel keeps time with the time-stamp counter
 * (clocksource "tsc"), an event that reads the time reads the raw counter
 * (rdtsc: under half of clock_gettime's cost) and is flagged RT_TEV_RAW; a
 * generation takes a (counter, CLOCK_MONOTONIC) pair when it starts and
 * when it stops, and rt_trace_chunks turns ticks into ns by the line
 * through the two before anyone reads them.  Waits carry the times their
 * wrapper read (ns).  Once the program turns rdtsc off (PR_SET_TSC, seen
 * by rtclock.c's prctl) events read the clock instead, by the system call
 * in a signal handler, and the pair taken just before is the end pair.
 *
 * Appends.  A record is written at the chunk's `used` offset and published
 * by a release store of the new offset: the reader sees whole records
 * only.  A signal handler that interrupts an append on the same thread
 * drops its event (TLS flag) rather than interleave.
 *
 * Stopping.  rt_trace_on holds the session number.  An append sets its
 * chunk's `writing` flag, then checks the session; the stopper clears the
 * session, then runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which
 * makes every thread of the process execute a full barrier: after it, a
 * writer either sees the session cleared or has its `writing` flag
 * visible, and the stopper waits (bounded) for the flags to clear.  Taking
 * a new chunk is covered the same way by a global count of threads doing
 * it.  Where membarrier is refused, a 20 ms grace period stands in (the
 * append path is a few dozen instructions).  The region is never unmapped
 * (a late writer must never fault); the next session reuses it.
 *
 * Cost: one relaxed load when no session runs; an append is about a
 * dozen loads and stores, the counter read where the event needs the
 * time, and the copy of the stack or text (bench/trace_cost.sh); a fresh
 * buffer's first touch is the kernel's (docs/PERFORMANCE.md).
 */
#include "trace_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)
#ifdef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE_ MADV_POPULATE_WRITE
#else
#define MADV_POPULATE_WRITE_ 23
#endif

typedef struct tchunk {
	struct tchunk *next;         /* the session's list */
	int tid;
	uint32_t session;
	_Atomic uint32_t used;       /* bytes of whole records, published */
	_Atomic uint32_t writing;    /* the owner is inside an append */
	_Atomic uint32_t count;      /* records in it (the owner writes) */
	uint32_t pad;
	char data[];
} tchunk;
#define CHUNK_DATA (CHUNK - (uint32_t)sizeof(tchunk))

_Atomic uint32_t rt_trace_on;
static uint32_t next_session = 1;

/* A generation: the region a session records into.  Session s uses
 * gens[s & 1]; a flight recorder alternates between the two (the older
 * one kept as the trace's first part), a plain trace uses one. */
typedef struct gen {
	char *base;                   /* never unmapped */
	size_t mapped;
	size_t budget;                /* usable this session */
	size_t warm;                  /* bytes from base whose pages are in */
	_Atomic size_t off;
	tchunk *_Atomic chunks;
	_Atomic uint64_t dropped;
	int64_t start_ns, end_ns;
	bool live;                    /* part of the trace to write */
	/* raw stamps -> ns: ns = ns0 + (tsc - tsc0) * ns_per_tick, from the
	 * (counter, clock) pairs taken when it started and ended */
	bool tsc;                     /* a pair was taken at its start */
	uint64_t tsc0;
	int64_t ns0;
	double ns_per_tick;
} gen;
static gen gens[2];
_Atomic uint64_t rt_trace_tick_ns_bits;
static _Atomic int acquiring;         /* threads taking a chunk */
static bool membarrier_ok;
static double last_ns_per_tick;       /* of the last generation that had one */

/* The calling thread's state, one initial-exec TLS block (one offset to
 * load on the append path). */
typedef struct tstate {
	tchunk *cur;         /* the chunk it appends to */
	uint32_t sess;       /* the session cur belongs to */
	int in;              /* inside an append (a signal handler drops) */
	uint64_t dropped;    /* events dropped since its last record */
	int tid;
} tstate;
static __thread __attribute__((tls_model("initial-exec"))) tstate T;

/* Events are stamped with the raw time-stamp counter when the kernel
 * keeps time with it (clocksource "tsc": synchronised across CPUs,
 * constant rate), decided when a session begins; else, and once the
 * program turned rdtsc off, with CLOCK_MONOTONIC. */
static _Atomic bool tsc_stamps;

static int my_tid(void)
{
	if (__builtin_expect(!T.tid, 0))
		T.tid = (int)syscall(SYS_gettid);
	return T.tid;
}

static int64_t now_ns(void)
{
	return rt_clock_ns(CLOCK_MONOTONIC);   /* rdtsc may fault: rtclock.c */
}

/* Stamp e now: raw ticks (flagged RT_TEV_RAW, converted when the chunks
 * are read) or ns.  sig: in a signal handler (the system call rather than
 * the vDSO when the counter is off).  [AS-safe] */
static inline __attribute__((always_inline)) void stamp(rt_tev *e, bool sig)
{
	if (__builtin_expect(atomic_load_explicit(&tsc_stamps, memory_order_relaxed) &&
			     !atomic_load_explicit(&rt_clock_tsc_off, memory_order_relaxed), 1)) {
		e->t0 = (int64_t)rt_tsc_read();
		e->type |= RT_TEV_RAW;
	} else {
		int err = errno;
		e->t0 = sig ? rt_clock_ns_sig(CLOCK_MONOTONIC) : now_ns();
		errno = err;
	}
}

/* A new chunk for the calling thread in session s, or NULL (region used up,
 * or the session ended meanwhile).  [AS-safe] */
static __attribute__((noinline)) tchunk *chunk_take(uint32_t s)
{
	int err = errno;   /* madvise may fail (an older kernel) */
	atomic_fetch_add_explicit(&acquiring, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	tchunk *c = NULL;
	gen *g = &gens[s & 1];
	/* used up: no read-modify-write on shared lines for each drop */
	if (atomic_load_explicit(&g->off, memory_order_relaxed) >= g->budget) {
		atomic_fetch_sub_explicit(&acquiring, 1, memory_order_release);
		errno = err;
		return NULL;
	}
	if (atomic_load_explicit(&rt_trace_on, memory_order_acquire) == s) {
		size_t off = atomic_fetch_add_explicit(&g->off, CHUNK, memory_order_relaxed);
		if (off + CHUNK <= g->budget) {
			c = (tchunk *)(g->base + off);
			/* its pages in one call rather than 16 faults, each one
			 * in the middle of an append (Linux >= 5.14; else faults);
			 * none when an earlier generation left them in */
			if (off + CHUNK > g->warm)
				(void)syscall(SYS_madvise, c, CHUNK, MADV_POPULATE_WRITE_);
			c->tid = my_tid();
			c->session = s;
			atomic_store_explicit(&c->used, 0, memory_order_relaxed);
			atomic_store_explicit(&c->writing, 0, memory_order_relaxed);
			atomic_store_explicit(&c->count, 0, memory_order_relaxed);
			tchunk *h = atomic_load_explicit(&g->chunks, memory_order_relaxed);
			do
				c->next = h;
			while (!atomic_compare_exchange_weak_explicit(&g->chunks, &h, c,
								      memory_order_release,
								      memory_order_relaxed));
		}
	}
	atomic_fetch_sub_explicit(&acquiring, 1, memory_order_release);
	errno = err;
	return c;
}

/* An event of the program's not recorded: counted for the thread (its
 * next record says so) and for the session.  [AS-safe] */
static void drop(uint32_t s)
{
	T.dropped++;
	atomic_fetch_add_explicit(&gens[s & 1].dropped, 1, memory_order_relaxed);
}

/* Reserve size bytes (a multiple of 8, ≤ CHUNK_DATA) in the calling
 * thread's chunk: the record to fill, then ev_commit.  NULL: not recorded
 * (no session, nested in a signal handler, no room); a drop is counted
 * when count_drop (flush_drops' marker is not one of the program's
 * events: failing to write it drops nothing).  [AS-safe] */
static inline __attribute__((always_inline)) rt_tev *ev_begin(uint32_t size, tchunk **cp,
							     bool count_drop)
{
	uint32_t s = atomic_load_explicit(&rt_trace_on, memory_order_relaxed);
	if (!s)
		return NULL;
	if (T.in) {   /* a signal handler inside an append of this thread */
		if (count_drop)
			drop(s);
		return NULL;
	}
	T.in = 1;
	atomic_signal_fence(memory_order_seq_cst);
	tchunk *c = T.sess == s ? T.cur : NULL;
	for (int tries = 0; tries < 2; tries++) {
		if (!c) {
			c = chunk_take(s);
			T.cur = c;
			T.sess = s;
			if (!c)
				break;
		}
		atomic_store_explicit(&c->writing, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&rt_trace_on, memory_order_relaxed) != s) {
			atomic_store_explicit(&c->writing, 0, memory_order_release);
			T.in = 0;
			return NULL;   /* the session ended: not a drop */
		}
		uint32_t u = atomic_load_explicit(&c->used, memory_order_relaxed);
		if (__builtin_expect(u + size <= CHUNK_DATA, 1)) {
			*cp = c;
			return (rt_tev *)(c->data + u);
		}
		atomic_store_explicit(&c->writing, 0, memory_order_release);
		c = NULL;   /* full: take another */
	}
	if (count_drop)
		drop(s);
	T.in = 0;
	return NULL;
}

static inline __attribute__((always_inline)) void ev_commit(tchunk *c, rt_tev *e)
{
	uint32_t u = atomic_load_explicit(&c->used, memory_order_relaxed);
	/* the owner alone writes count: no read-modify-write on a shared line */
	atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&c->used, u + e->size, memory_order_release);
	atomic_store_explicit(&c->writing, 0, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
	T.in = 0;
}

/* Before an event, the drops of this thread since its last event, as an
 * event of their own (so a reader sees where they were).  [AS-safe] */
static __attribute__((noinline)) void flush_drops(bool sig)
{
	tchunk *c;
	rt_tev *e = ev_begin(sizeof(rt_tev), &c, false);
	if (!e)
		return;
	*e = (rt_tev){ .type = RT_TEV_DROPPED, .size = sizeof(rt_tev), .aux = (int64_t)T.dropped };
	stamp(e, sig);
	T.dropped = 0;
	ev_commit(c, e);
}

/* One record with a stack (or none): at time t0 when given (clk 0), else
 * stamped now (clk 1: a hook; clk 2: a signal handler).  The stamp is
 * read once the room is reserved: a dropped event reads no clock.
 * errno is kept (the system calls of the rare paths restore it).
 * [AS-safe] */
static inline __attribute__((always_inline)) void ev_stack(int type, int kind, const void *obj,
							  int64_t t0, int64_t t1, int64_t aux,
							  const uintptr_t *pcs, int n, int clk)
{
	if (n < 0 || !pcs)
		n = 0;
	if (n > RT_MAX_FRAMES)
		n = RT_MAX_FRAMES;
	if (__builtin_expect(T.dropped != 0, 0))
		flush_drops(clk == 2);
	uint32_t size = (uint32_t)(sizeof(rt_tev) + (size_t)n * sizeof(uintptr_t));
	tchunk *c;
	rt_tev *e = ev_begin(size, &c, true);
	if (!e)
		return;
	e->type = (uint8_t)type;
	e->kind = (uint8_t)kind;
	e->nframes = (uint16_t)n;
	e->size = size;
	e->t1 = t1;
	e->obj = (uint64_t)(uintptr_t)obj;
	e->aux = aux;
	if (clk)
		stamp(e, clk == 2);
	else
		e->t0 = t0;
	if (n)
		memcpy(e + 1, pcs, (size_t)n * sizeof(uintptr_t));
	ev_commit(c, e);
}

void rt_trace_wait(int kind, const void *obj, int64_t t0, int64_t t1, int64_t run_delay,
		   const uintptr_t *pcs, int n)
{
	ev_stack(RT_TEV_WAIT, kind, obj, t0, t1, run_delay, pcs, n, 0);
}

void rt_trace_wake(int kind, const void *obj)
{
	if (!rt_trace_active())
		return;
	ev_stack(RT_TEV_WAKE, kind, obj, 0, 0, 0, NULL, 0, 1);
}

void rt_trace_sample(const uintptr_t *pcs, int n, uint64_t cpu_ns)
{
	ev_stack(RT_TEV_SAMPLE, 0, NULL, 0, 0, (int64_t)cpu_ns, pcs, n, 2);
}

void rt_trace_thread_start(int creator_tid)
{
	if (!rt_trace_active())
		return;
	T.tid = 0;
	ev_stack(RT_TEV_THREAD_START, 0, (const void *)(uintptr_t)(unsigned)creator_tid, 0, 0, 0,
		 NULL, 0, 1);
	rt_tsw_thread_begin();
}

void rt_trace_switches(int tid, const uint64_t *recs, int n)
{
	if (n <= 0 || n > 256 || !rt_trace_active())
		return;
	if (__builtin_expect(T.dropped != 0, 0))
		flush_drops(false);
	uint32_t size = (uint32_t)(sizeof(rt_tev) + (size_t)n * sizeof(uint64_t));
	tchunk *c;
	rt_tev *e = ev_begin(size, &c, true);
	if (!e)
		return;
	e->type = RT_TEV_SWITCH;
	e->kind = 0;
	e->nframes = (uint16_t)n;
	e->size = size;
	e->t0 = (int64_t)(recs[0] & RT_TSW_TIME_MASK);
	e->t1 = (int64_t)(recs[n - 1] & RT_TSW_TIME_MASK);
	e->obj = (uint64_t)(unsigned)tid;
	e->aux = 0;
	memcpy(e + 1, recs, (size_t)n * sizeof(uint64_t));
	ev_commit(c, e);
}

void rt_trace_counter(uint64_t threads, int heap_kind, int64_t heap_bytes)
{
	if (!rt_trace_active())
		return;
	/* the runtime's own record: not one of the program's events, so a
	 * full buffer drops it uncounted */
	tchunk *c;
	rt_tev *e = ev_begin(sizeof(rt_tev), &c, false);
	if (!e)
		return;
	e->type = RT_TEV_COUNTER;
	e->kind = (uint8_t)heap_kind;
	e->nframes = 0;
	e->size = sizeof(rt_tev);
	e->t1 = 0;
	e->obj = threads;
	e->aux = heap_bytes;
	stamp(e, false);
	ev_commit(c, e);
}

void rt_trace_text(int type, const char *a, const char *b, int64_t aux)
{
	if (!rt_trace_active())
		return;
	if (__builtin_expect(T.dropped != 0, 0))
		flush_drops(false);
	/* room for the longest text; committed at the size the copy made
	 * (one pass over each string, no strlen before) */
	tchunk *c;
	rt_tev *e = ev_begin((uint32_t)(sizeof(rt_tev) + RT_TEV_TEXT_MAX), &c, true);
	if (!e)
		return;
	e->type = (uint8_t)type;
	e->kind = 0;
	e->nframes = 0;
	e->t1 = 0;
	e->obj = 0;
	e->aux = aux;
	stamp(e, false);
	char *d = (char *)(e + 1);
	size_t k = 0;
	for (; a && k < 127 && a[k]; k++)
		d[k] = a[k];
	d[k++] = 0;
	if (b) {
		for (size_t j = 0; j < RT_TEV_TEXT_MAX - 130 && b[j]; j++)
			d[k++] = b[j];
		d[k++] = 0;
	}
	while (k % 8)   /* the padding, zeroed */
		d[k++] = 0;
	e->size = (uint32_t)(sizeof(rt_tev) + k);
	ev_commit(c, e);
}

void rt_trace_thread_end(void)
{
	if (!rt_trace_active())
		return;
	char name[RT_NAME_MAX] = { 0 };
	syscall(SYS_prctl, PR_GET_NAME, name, 0L, 0L, 0L);
	name[RT_NAME_MAX - 1] = 0;
	rt_trace_text(RT_TEV_THREAD_END, name, NULL, 0);
}

/* ---- sessions ---------------------------------------------------------------------- */

/* Make gens[s & 1] empty with budget bytes, for session s.  Its
 * previous contents were quiesced when their session ended.  keep: its
 * pages stay (the flight recorder fills it again within seconds: no
 * faults and no zeroing then); else they go back to the system.  0 or
 * CPROF_ERR_NOMEM. */
static int gen_reset(uint32_t s, size_t budget, bool keep)
{
	gen *g = &gens[s & 1];
	if (budget > g->mapped) {
		/* a larger region: the old one stays mapped (a late writer of an
		 * earlier session may still hold a chunk of it) */
		void *p = mmap(NULL, budget, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			rt_set_error("cannot map %zu bytes for the trace", budget);
			return CPROF_ERR_NOMEM;
		}
		g->base = p;
		g->mapped = budget;
		g->warm = 0;
	} else if (atomic_load(&g->off)) {
		size_t used = atomic_load(&g->off);
		if (used > g->mapped)
			used = g->mapped;
		if (keep) {
			if (used > g->warm)
				g->warm = used;
		} else {
			/* give back the pages of its last session */
			madvise(g->base, used, MADV_DONTNEED);
			g->warm = 0;
		}
	}
	g->budget = budget;
	atomic_store(&g->off, 0);
	atomic_store(&g->chunks, NULL);
	atomic_store(&g->dropped, 0);
	g->start_ns = now_ns();
	g->end_ns = 0;
	g->live = true;
	g->tsc = atomic_load(&tsc_stamps) && !atomic_load(&rt_clock_tsc_off);
	if (g->tsc)
		rt_tsc_pair(&g->tsc0, &g->ns0);
	g->ns_per_tick = 0;
	return 0;
}

/* gens[s & 1] stops recording now: its end, and the rate that turns its
 * raw stamps into ns (from its start pair and one taken now, or the one
 * taken before the program turned rdtsc off). */
static void gen_close(uint32_t s)
{
	gen *g = &gens[s & 1];
	g->end_ns = now_ns();
	if (!g->tsc)
		return;
	uint64_t t1 = 0;
	int64_t n1 = 0;
	if (!atomic_load(&rt_clock_tsc_off))
		rt_tsc_pair(&t1, &n1);
	else if (!rt_tsc_off_pair(&t1, &n1))
		t1 = 0;
	if (t1 > g->tsc0 && n1 > g->ns0)
		g->ns_per_tick = (double)(n1 - g->ns0) / (double)(t1 - g->tsc0);
	else if (!g->ns_per_tick)
		g->ns_per_tick = last_ns_per_tick;   /* too short to measure */
	if (g->ns_per_tick > 0)
		last_ns_per_tick = g->ns_per_tick;
}

/* The kernel keeps time with the TSC (its clocksource is "tsc"): the
 * counter is then synchronised across CPUs and runs at a constant rate.
 * Ordinary context (reads sysfs). */
static bool tsc_trusted(void)
{
#if defined(__x86_64__)
	int fd = (int)syscall(SYS_openat, AT_FDCWD,
			      "/sys/devices/system/clocksource/clocksource0/current_clocksource",
			      O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char b[16] = { 0 };
	ssize_t n = (ssize_t)syscall(SYS_read, fd, b, sizeof b - 1);
	syscall(SYS_close, fd);
	return n == 4 && memcmp(b, "tsc\n", 4) == 0;
#else
	return false;
#endif
}

static uint32_t take_session(void)
{
	uint32_t s = next_session++;
	if (!next_session)
		next_session = 2;   /* parity keeps alternating */
	return s;
}

/* After rt_trace_on left session s: no append can start in gens[s & 1]
 * any more; wait (bounded) for those under way. */
static void quiesce(uint32_t s)
{
	if (!membarrier_ok ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
		membarrier_ok = false;
		struct timespec g = { 0, 20000000 };
		nanosleep(&g, NULL);
	}
	/* writers already past their check finish a few stores: wait for them
	 * (bounded: a thread stopped by a debugger must not hang the stop) */
	for (int i = 0; i < 1000 && atomic_load(&acquiring) > 0; i++) {
		struct timespec d = { 0, 100000 };
		nanosleep(&d, NULL);
	}
	for (tchunk *c = atomic_load(&gens[s & 1].chunks); c; c = c->next)
		for (int i = 0; i < 1000 && atomic_load(&c->writing); i++) {
			struct timespec d = { 0, 100000 };
			nanosleep(&d, NULL);
		}
}

static size_t round_budget(size_t budget)
{
	budget = (budget + CHUNK - 1) / CHUNK * CHUNK;
	return budget < CHUNK ? CHUNK : budget;
}

void rt_trace_tick_rate_update(void)
{
	uint32_t s = atomic_load(&rt_trace_on);
	if (!s || !atomic_load(&tsc_stamps) || atomic_load(&rt_clock_tsc_off))
		return;
	const gen *g = &gens[s & 1];
	if (!g->tsc)
		return;
	uint64_t t1;
	int64_t n1;
	rt_tsc_pair(&t1, &n1);
	if (t1 <= g->tsc0 || n1 - g->ns0 < 10000000)   /* 10 ms at least */
		return;
	double r = (double)(n1 - g->ns0) / (double)(t1 - g->tsc0);
	uint64_t bits;
	memcpy(&bits, &r, sizeof bits);
	atomic_store_explicit(&rt_trace_tick_ns_bits, bits, memory_order_relaxed);
}

int rt_trace_session_begin(size_t budget)
{
	if (atomic_load(&rt_trace_on))
		return CPROF_ERR_BUSY;
	static bool registered;
	if (!registered) {
		registered = true;
		membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	}
	/* asked again each session: the kernel drops the TSC as its clock
	 * when it finds it unstable (no generation is live here, so none can
	 * hold stamps of the other kind than its own) */
	atomic_store(&tsc_stamps, tsc_trusted());
	double known = atomic_load(&tsc_stamps) ? last_ns_per_tick : 0;
	uint64_t bits = 0;
	if (known > 0)
		memcpy(&bits, &known, sizeof bits);
	atomic_store(&rt_trace_tick_ns_bits, bits);
	uint32_t s = take_session();
	int rc = gen_reset(s, round_budget(budget), false);
	if (rc < 0)
		return rc;
	gens[(s + 1) & 1].live = false;
	atomic_store_explicit(&rt_trace_on, s, memory_order_release);
	return 0;
}

int rt_trace_rotate(size_t budget)
{
	uint32_t old = atomic_load(&rt_trace_on);
	if (!old)
		return CPROF_ERR_NOT_RUNNING;
	uint32_t s = take_session();
	if ((s & 1) == (old & 1))
		s = take_session();
	int rc = gen_reset(s, round_budget(budget), true);
	if (rc < 0)
		return rc;
	atomic_store_explicit(&rt_trace_on, s, memory_order_release);
	gen_close(old);
	quiesce(old);
	return 0;
}

void rt_trace_session_end(void)
{
	uint32_t s = atomic_load(&rt_trace_on);
	if (!s)
		return;
	atomic_store(&rt_trace_on, 0);
	gen_close(s);
	quiesce(s);
}

/* The raw stamps of a stopped chunk's records made ns, in place (once:
 * the flag goes).  Stops at a record that does not hold together (the
 * reader skips the rest of the chunk too). */
static void chunk_to_ns(const gen *g, tchunk *c, uint32_t used)
{
	size_t off = 0;
	while (off + sizeof(rt_tev) <= used) {
		rt_tev *e = (rt_tev *)(c->data + off);
		if (e->size < sizeof(rt_tev) || e->size % 8 || e->size > used - off)
			return;
		if (e->type & RT_TEV_RAW) {
			int64_t d = (int64_t)((uint64_t)e->t0 - g->tsc0);
			e->t0 = g->ns0 + (int64_t)((double)d * g->ns_per_tick);
			e->type &= (uint8_t)~RT_TEV_RAW;
		}
		off += e->size;
	}
}

void rt_trace_chunks(void (*fn)(void *ctx, int tid, const char *data, size_t used), void *ctx)
{
	for (int k = 0; k < 2; k++) {
		if (!gens[k].live)
			continue;
		for (tchunk *c = atomic_load(&gens[k].chunks); c; c = c->next) {
			uint32_t u = atomic_load_explicit(&c->used, memory_order_acquire);
			if (u > CHUNK_DATA)
				u = CHUNK_DATA;
			if (gens[k].tsc)
				chunk_to_ns(&gens[k], c, u);
			fn(ctx, c->tid, c->data, u);
		}
	}
}

RT_FORK_TEXT void rt_trace_forked(void)
{
	/* written only when set (a page written is a fault in every child) */
	static const tstate zero;
	if (memcmp(&T, &zero, sizeof zero) != 0)
		T = (tstate){ 0 };
}

void rt_trace_get_info(rt_trace_info *out)
{
	*out = (rt_trace_info){ .start_ns = INT64_MAX, .membarrier = membarrier_ok };
	int64_t now = now_ns();
	for (int k = 0; k < 2; k++) {
		const gen *g = &gens[k];
		if (!g->live)
			continue;
		for (tchunk *c = atomic_load(&g->chunks); c; c = c->next)
			out->recorded += atomic_load_explicit(&c->count, memory_order_relaxed);
		size_t off = atomic_load(&g->off);
		out->bytes += off < g->budget ? off : g->budget;
		out->budget += g->budget;
		out->dropped += atomic_load(&g->dropped);
		if (g->start_ns < out->start_ns)
			out->start_ns = g->start_ns;
		int64_t e = g->end_ns ? g->end_ns : now;
		if (e > out->end_ns)
			out->end_ns = e;
	}
	if (out->start_ns == INT64_MAX)
		out->start_ns = out->end_ns = now;
}
