/*
 * sync.c - the mutex and block profiles (Go's semantics): the tables of
 * sampled events that sync_wrap.c feeds, and the profiles built from them
 * (debug=0 profile.proto, debug=1 Go's "--- mutex:" / "--- contention:"
 * text).
 *
 * Mutex profile: an event is an unlock (or a condition wait releasing its
 * mutex) that found waiters; its delay is the waiting they did since the
 * last charge, its stack the unlocker's.  1 in rt_mutex_fraction events is
 * recorded (Go's mutexevent: rand % rate == 0), with count 1 and the delay
 * as measured; as in Go 1.19 the profile.proto scales both by the current
 * fraction, and the debug=1 text prints them raw with "sampling period=N"
 * (the legacy parsers scale).  Block profile: an event is one wait of a
 * thread in an interposed primitive, its stack the waiter's; with rate R
 * ns (Go's SetBlockProfileRate) an event of delay d >= R is recorded with
 * count 1, a shorter one with probability d/R and count R/d, delay R (Go's
 * unbiasing, CL 299991).  Delays are nanoseconds; the text says
 * cycles/second=1000000000, so legacy parsers read them as they are.
 *
 * Every event carries the labels of the thread that caused it (the
 * unlocker, the waiter): buckets are keyed by stack and label set.
 *
 * Design.  Each profile is one open-addressed table of fixed capacity
 * (SB_CAP buckets of up to RT_WAIT_FRAMES pcs), mmap'ed at the first
 * sampled event, so recording never calls malloc (the heap profiler may be
 * interposing it, and recording runs inside interposed lock calls).  A
 * spin lock (with sched_yield) guards each table: it is taken only for
 * sampled events and by the writers, never from a signal handler.  A full
 * table drops events and says so in the profile (a comment).  Writers copy
 * the table under the lock and build outside it.
 */
#include "sync_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_labels.h"
#include "rt_wait.h"
#include "rt_profile.h"
#include "cprof.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

_Atomic int rt_mutex_fraction = RT_MUTEX_FRACTION_DEFAULT;
_Atomic long rt_block_rate = RT_BLOCK_RATE_DEFAULT;

#define SB_CAP 4096   /* buckets per profile (a power of two) */
#define SB_MAX (SB_CAP * 3 / 4)

typedef struct sbkt {
	uint64_t hash;      /* 0: free */
	uint32_t labels;
	int32_t n;
	double count;
	int64_t delay;
	uintptr_t pcs[RT_WAIT_FRAMES];
} sbkt;

typedef struct stab {
	_Atomic int lk;
	sbkt *b;            /* SB_CAP buckets, or NULL before the first event */
	size_t used;
	uint64_t dropped;   /* events not recorded: table full or no memory */
} stab;

static stab tabs[2];    /* [0] block, [1] mutex */

static void tab_lock(stab *t)
{
	int spins = 0;
	while (atomic_exchange_explicit(&t->lk, 1, memory_order_acquire)) {
		while (atomic_load_explicit(&t->lk, memory_order_relaxed)) {
			if (++spins > 100)
				sched_yield();
			else
				__builtin_ia32_pause();
		}
	}
}

static void tab_unlock(stab *t)
{
	atomic_store_explicit(&t->lk, 0, memory_order_release);
}

static uint64_t stack_hash(const uintptr_t *pcs, int n, uint32_t labels)
{
	uint64_t h = cprof_hash_u64(((uint64_t)labels << 8) ^ (uint64_t)n);
	for (int i = 0; i < n; i++)
		h = cprof_hash_u64(h ^ pcs[i]);
	return h ? h : 1;
}

void rt_sync_record(bool mutex, const uintptr_t *pcs, int n, uint32_t labels, double count,
		    int64_t delay)
{
	stab *t = &tabs[mutex ? 1 : 0];
	if (n < 0)
		n = 0;
	if (n > RT_WAIT_FRAMES)
		n = RT_WAIT_FRAMES;
	uint64_t h = stack_hash(pcs, n, labels);
	tab_lock(t);
	if (!t->b) {
		void *m = mmap(NULL, SB_CAP * sizeof(sbkt), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			t->dropped++;
			tab_unlock(t);
			return;
		}
		t->b = m;
	}
	size_t j = h & (SB_CAP - 1);
	for (;; j = (j + 1) & (SB_CAP - 1)) {
		sbkt *b = &t->b[j];
		if (b->hash == 0) {
			if (t->used >= SB_MAX) {
				t->dropped++;
				break;
			}
			b->hash = h;
			b->labels = labels;
			b->n = n;
			memcpy(b->pcs, pcs, (size_t)n * sizeof *pcs);
			t->used++;
		} else if (b->hash != h || b->labels != labels || b->n != n ||
			   memcmp(b->pcs, pcs, (size_t)n * sizeof *pcs) != 0) {
			continue;
		}
		b->count += count;
		b->delay += delay;
		break;
	}
	tab_unlock(t);
}

/* Go's blockevent + blocksampled + saveblockevent. */
__attribute__((noinline))
void rt_block_event(int64_t delay, const uintptr_t *pcs, int n)
{
	long rate = atomic_load_explicit(&rt_block_rate, memory_order_relaxed);
	if (rate <= 0)
		return;
	if (delay <= 0)
		delay = 1;
	if (rate > delay && (int64_t)(rt_sync_rand() % (uint64_t)rate) > delay)
		return;
	int e = errno;
	uintptr_t own[RT_WAIT_FRAMES];
	if (!pcs || n <= 0) {
		n = rt_unwind_here(own, RT_WAIT_FRAMES, 2);
		pcs = own;
	}
	if (delay < rate)
		rt_sync_record(false, pcs, n, rt_labels_current(), (double)rate / (double)delay, rate);
	else
		rt_sync_record(false, pcs, n, rt_labels_current(), 1, delay);
	errno = e;
}

int cprof_mutex_set_fraction(int rate)
{
	if (rate < 0)
		return atomic_load(&rt_mutex_fraction);
	return atomic_exchange(&rt_mutex_fraction, rate);
}

long cprof_block_set_rate(long rate)
{
	return atomic_exchange(&rt_block_rate, rate < 0 ? 0 : rate);
}

/* ---- the profiles ------------------------------------------------------------------ */

typedef struct snap {
	sbkt *v;
	size_t n;
	uint64_t dropped;
} snap;

static int cmp_delay(const void *a, const void *b)
{
	const sbkt *x = a, *y = b;
	return x->delay < y->delay ? 1 : x->delay > y->delay ? -1 : 0;
}

static int take_snap(bool mutex, snap *s)
{
	stab *t = &tabs[mutex ? 1 : 0];
	memset(s, 0, sizeof *s);
	s->v = malloc(SB_MAX * sizeof(sbkt));
	if (!s->v)
		return CPROF_ERR_NOMEM;
	tab_lock(t);
	if (t->b)
		for (size_t j = 0; j < SB_CAP && s->n < SB_MAX; j++)
			if (t->b[j].hash)
				s->v[s->n++] = t->b[j];
	s->dropped = t->dropped;
	tab_unlock(t);
	qsort(s->v, s->n, sizeof *s->v, cmp_delay);
	return 0;
}

/* The profile of snapshot s; values scaled by scale (the mutex fraction in
 * profile.proto, 1 for the text and the block profile).  Sample i is
 * bucket i. */
static int build(const snap *s, int64_t scale, cprof_profile *p)
{
	cprof_str cont = cprof_intern_cstr(p, "contentions");
	cprof_str cnt = cprof_intern_cstr(p, "count");
	if (cprof_add_vtype(p, cont, cnt) < 0 ||
	    cprof_add_vtype(p, cprof_intern_cstr(p, "delay"), cprof_intern_cstr(p, "nanoseconds")) < 0)
		return CPROF_ERR_NOMEM;
	p->period_type.type = cont;
	p->period_type.unit = cnt;
	p->period = 1;
	rt_pb *b = rt_pb_new(p);
	if (!b)
		return CPROF_ERR_NOMEM;
	int rc = CPROF_ERR_NOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const sbkt *k = &s->v[i];
		int64_t si = rt_pb_stack(b, k->pcs, (size_t)k->n);
		if (si < 0)
			goto out;
		int64_t ls = rt_pb_labels(b, k->labels, NULL, 0);
		if (ls < 0)
			goto out;
		int64_t vals[2] = { (int64_t)k->count * scale, k->delay * scale };
		if (cprof_add_sample(p, (uint32_t)si, (uint32_t)ls, vals) < 0)
			goto out;
	}
	if (s->dropped) {
		char c[160];
		snprintf(c, sizeof c, "cprof: %llu events not recorded (the profile's table is full)",
			 (unsigned long long)s->dropped);
		if (cprof_add_comment(p, cprof_intern_cstr(p, c)) < 0)
			goto out;
	}
	rc = rt_pb_finish(b) < 0 ? CPROF_ERR_NOMEM : 0;
out:
	rt_pb_free(b);
	return rc;
}

static int build_kind(bool mutex, cprof_profile **out, snap *s, int64_t scale)
{
	*out = NULL;
	int rc = take_snap(mutex, s);
	if (rc < 0)
		return rc;
	cprof_profile *p = cprof_profile_new();
	rc = p ? build(s, scale, p) : CPROF_ERR_NOMEM;
	if (rc < 0) {
		cprof_profile_free(p);
		rt_set_error("cannot build the %s profile: out of memory", mutex ? "mutex" : "block");
		return rc;
	}
	*out = p;
	return 0;
}

static void text_labels(rt_buf *o, uint32_t id)
{
	const rt_lset *l = rt_labels_get(id);
	if (!l || l->n == 0)
		return;
	rt_buf_printf(o, "# labels: {");
	for (uint32_t i = 0; i < l->n; i++)
		rt_buf_printf(o, "%s\"%s\":\"%s\"", i ? ", " : "", l->kv[2 * i], l->kv[2 * i + 1]);
	rt_buf_printf(o, "}\n");
}

static int render(bool mutex, int debug, rt_buf *out)
{
	snap s;
	cprof_profile *p;
	int64_t frac = atomic_load(&rt_mutex_fraction);
	int rc = build_kind(mutex, &p, &s, debug <= 0 && mutex ? (frac > 0 ? frac : 1) : 1);
	if (rc < 0) {
		free(s.v);
		return rc;
	}
	if (debug <= 0) {
		rc = rt_pb_encode(p, out);
		if (rc < 0)
			rt_set_error("cannot encode the %s profile: out of memory", mutex ? "mutex" : "block");
	} else {
		rt_buf_printf(out, "--- %s:\ncycles/second=1000000000\n", mutex ? "mutex" : "contention");
		if (mutex)
			rt_buf_printf(out, "sampling period=%lld\n", (long long)frac);
		for (size_t i = 0; i < p->samples.n; i++) {
			const int64_t *v = cprof_sample_values(p, i);
			rt_buf_printf(out, "%lld %lld @", (long long)v[1], (long long)v[0]);
			rt_text_addrs(out, p, p->samples.v[i].stack);
			rt_buf_printf(out, "\n");
			text_labels(out, s.v[i].labels);
			rt_text_frames(out, p, p->samples.v[i].stack);
		}
		if (s.dropped)
			rt_buf_printf(out, "# cprof: %llu events not recorded (table full)\n",
				      (unsigned long long)s.dropped);
		if (out->oom) {
			rt_set_error("cannot build the %s profile: out of memory", mutex ? "mutex" : "block");
			rc = CPROF_ERR_NOMEM;
		}
	}
	cprof_profile_free(p);
	free(s.v);
	return rc;
}

int rt_mutex_render(int debug, rt_buf *out) { return render(true, debug, out); }
int rt_block_render(int debug, rt_buf *out) { return render(false, debug, out); }

int rt_mutex_build(cprof_profile **out)
{
	snap s;
	int64_t frac = atomic_load(&rt_mutex_fraction);
	int rc = build_kind(true, out, &s, frac > 0 ? frac : 1);
	free(s.v);
	return rc;
}

int rt_block_build(cprof_profile **out)
{
	snap s;
	int rc = build_kind(false, out, &s, 1);
	free(s.v);
	return rc;
}
