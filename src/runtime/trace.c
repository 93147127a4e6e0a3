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
 * trace, so a write holds the last SECONDS to 2 x SECONDS.
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
 * dozen loads and stores plus the copy of the stack (bench/trace_bench.sh).
 */
#include "trace_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "cprof.h"

#include <errno.h>
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
	_Atomic size_t off;
	tchunk *_Atomic chunks;
	_Atomic uint64_t dropped;
	int64_t start_ns, end_ns;
	bool live;                    /* part of the trace to write */
} gen;
static gen gens[2];
static _Atomic int acquiring;         /* threads taking a chunk */
static bool membarrier_ok;

static __thread __attribute__((tls_model("initial-exec"))) tchunk *t_cur;
static __thread __attribute__((tls_model("initial-exec"))) uint32_t t_sess;
static __thread __attribute__((tls_model("initial-exec"))) int t_in;
static __thread __attribute__((tls_model("initial-exec"))) uint64_t t_dropped;
static __thread __attribute__((tls_model("initial-exec"))) int t_tid;

static int my_tid(void)
{
	if (__builtin_expect(!t_tid, 0))
		t_tid = (int)syscall(SYS_gettid);
	return t_tid;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A new chunk for the calling thread in session s, or NULL (region used up,
 * or the session ended meanwhile).  [AS-safe] */
static tchunk *chunk_take(uint32_t s)
{
	atomic_fetch_add_explicit(&acquiring, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	tchunk *c = NULL;
	gen *g = &gens[s & 1];
	/* used up: no read-modify-write on shared lines for each drop */
	if (atomic_load_explicit(&g->off, memory_order_relaxed) >= g->budget) {
		atomic_fetch_sub_explicit(&acquiring, 1, memory_order_release);
		return NULL;
	}
	if (atomic_load_explicit(&rt_trace_on, memory_order_acquire) == s) {
		size_t off = atomic_fetch_add_explicit(&g->off, CHUNK, memory_order_relaxed);
		if (off + CHUNK <= g->budget) {
			c = (tchunk *)(g->base + off);
			/* its pages in one call rather than 16 faults, each one
			 * in the middle of an append (Linux >= 5.14; else faults) */
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
	return c;
}

/* Reserve size bytes (a multiple of 8, ≤ CHUNK_DATA) in the calling
 * thread's chunk: the record to fill, then ev_commit.  NULL: not recorded
 * (no session, nested in a signal handler, no room: counted). */
static rt_tev *ev_begin(uint32_t size, tchunk **cp)
{
	uint32_t s = atomic_load_explicit(&rt_trace_on, memory_order_relaxed);
	if (!s)
		return NULL;
	if (t_in) {   /* a signal handler inside an append of this thread */
		t_dropped++;
		atomic_fetch_add_explicit(&gens[s & 1].dropped, 1, memory_order_relaxed);
		return NULL;
	}
	t_in = 1;
	atomic_signal_fence(memory_order_seq_cst);
	tchunk *c = t_sess == s ? t_cur : NULL;
	for (int tries = 0; tries < 2; tries++) {
		if (!c) {
			c = chunk_take(s);
			t_cur = c;
			t_sess = s;
			if (!c)
				break;
		}
		atomic_store_explicit(&c->writing, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&rt_trace_on, memory_order_relaxed) != s) {
			atomic_store_explicit(&c->writing, 0, memory_order_release);
			t_in = 0;
			return NULL;   /* the session ended: not a drop */
		}
		uint32_t u = atomic_load_explicit(&c->used, memory_order_relaxed);
		if (u + size <= CHUNK_DATA) {
			*cp = c;
			return (rt_tev *)(c->data + u);
		}
		atomic_store_explicit(&c->writing, 0, memory_order_release);
		c = NULL;   /* full: take another */
	}
	t_dropped++;
	atomic_fetch_add_explicit(&gens[s & 1].dropped, 1, memory_order_relaxed);
	t_in = 0;
	return NULL;
}

static void ev_commit(tchunk *c, rt_tev *e)
{
	uint32_t u = atomic_load_explicit(&c->used, memory_order_relaxed);
	/* the owner alone writes count: no read-modify-write on a shared line */
	atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&c->used, u + e->size, memory_order_release);
	atomic_store_explicit(&c->writing, 0, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
	t_in = 0;
}

/* Before an event, the drops of this thread since its last event, as an
 * event of their own (so a reader sees where they were). */
static void flush_drops(void)
{
	if (__builtin_expect(!t_dropped, 1))
		return;
	tchunk *c;
	rt_tev *e = ev_begin(sizeof(rt_tev), &c);
	if (!e)
		return;
	*e = (rt_tev){ .type = RT_TEV_DROPPED, .size = sizeof(rt_tev), .t0 = now_ns(),
		       .aux = (int64_t)t_dropped };
	t_dropped = 0;
	ev_commit(c, e);
}

static void ev_stack(int type, int kind, const void *obj, int64_t t0, int64_t t1, int64_t aux,
		     const uintptr_t *pcs, int n)
{
	if (n < 0 || !pcs)
		n = 0;
	if (n > RT_MAX_FRAMES)
		n = RT_MAX_FRAMES;
	flush_drops();
	uint32_t size = (uint32_t)(sizeof(rt_tev) + (size_t)n * sizeof(uintptr_t));
	tchunk *c;
	rt_tev *e = ev_begin(size, &c);
	if (!e)
		return;
	e->type = (uint8_t)type;
	e->kind = (uint8_t)kind;
	e->nframes = (uint16_t)n;
	e->size = size;
	e->t0 = t0;
	e->t1 = t1;
	e->obj = (uint64_t)(uintptr_t)obj;
	e->aux = aux;
	if (n)
		memcpy(e + 1, pcs, (size_t)n * sizeof(uintptr_t));
	ev_commit(c, e);
}

void rt_trace_wait(int kind, const void *obj, int64_t t0, int64_t t1, int64_t run_delay,
		   const uintptr_t *pcs, int n)
{
	ev_stack(RT_TEV_WAIT, kind, obj, t0, t1, run_delay, pcs, n);
}

void rt_trace_wake(int kind, const void *obj)
{
	if (!rt_trace_active())
		return;
	int e = errno;
	ev_stack(RT_TEV_WAKE, kind, obj, now_ns(), 0, 0, NULL, 0);
	errno = e;
}

void rt_trace_sample(const uintptr_t *pcs, int n, uint64_t cpu_ns)
{
	ev_stack(RT_TEV_SAMPLE, 0, NULL, now_ns(), 0, (int64_t)cpu_ns, pcs, n);
}

void rt_trace_thread_start(int creator_tid)
{
	if (!rt_trace_active())
		return;
	t_tid = 0;
	ev_stack(RT_TEV_THREAD_START, 0, (const void *)(uintptr_t)(unsigned)creator_tid, now_ns(),
		 0, 0, NULL, 0);
}

void rt_trace_text(int type, const char *a, const char *b, int64_t aux)
{
	if (!rt_trace_active())
		return;
	int64_t t = now_ns();
	size_t la = a ? strnlen(a, 127) : 0, lb = b ? strnlen(b, RT_TEV_TEXT_MAX - 130) : 0;
	size_t len = la + 1 + (b ? lb + 1 : 0);
	flush_drops();
	uint32_t size = (uint32_t)((sizeof(rt_tev) + len + 7) & ~(size_t)7);
	tchunk *c;
	rt_tev *e = ev_begin(size, &c);
	if (!e)
		return;
	e->type = (uint8_t)type;
	e->kind = 0;
	e->nframes = 0;
	e->size = size;
	e->t0 = t;
	e->t1 = 0;
	e->obj = 0;
	e->aux = aux;
	char *d = (char *)(e + 1);
	/* the last 8 bytes zeroed first: the padding and the terminators */
	memset(d + (size - sizeof(rt_tev)) - 8, 0, 8);
	if (la)
		memcpy(d, a, la);
	d[la] = 0;
	if (b) {
		memcpy(d + la + 1, b, lb);
		d[la + 1 + lb] = 0;
	}
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
 * previous contents were quiesced when their session ended.  0 or
 * CPROF_ERR_NOMEM. */
static int gen_reset(uint32_t s, size_t budget)
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
	} else if (atomic_load(&g->off)) {
		/* give back the pages of its last session */
		size_t used = atomic_load(&g->off);
		madvise(g->base, used < g->mapped ? used : g->mapped, MADV_DONTNEED);
	}
	g->budget = budget;
	atomic_store(&g->off, 0);
	atomic_store(&g->chunks, NULL);
	atomic_store(&g->dropped, 0);
	g->start_ns = now_ns();
	g->end_ns = 0;
	g->live = true;
	return 0;
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

int rt_trace_session_begin(size_t budget)
{
	if (atomic_load(&rt_trace_on))
		return CPROF_ERR_BUSY;
	static bool registered;
	if (!registered) {
		registered = true;
		membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	}
	uint32_t s = take_session();
	int rc = gen_reset(s, round_budget(budget));
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
	int rc = gen_reset(s, round_budget(budget));
	if (rc < 0)
		return rc;
	atomic_store_explicit(&rt_trace_on, s, memory_order_release);
	gens[old & 1].end_ns = now_ns();
	quiesce(old);
	return 0;
}

void rt_trace_session_end(void)
{
	uint32_t s = atomic_load(&rt_trace_on);
	if (!s)
		return;
	atomic_store(&rt_trace_on, 0);
	gens[s & 1].end_ns = now_ns();
	quiesce(s);
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
			fn(ctx, c->tid, c->data, u);
		}
	}
}

void rt_trace_forked(void)
{
	t_tid = 0;
	t_cur = NULL;
	t_sess = 0;
	t_in = 0;
	t_dropped = 0;
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
