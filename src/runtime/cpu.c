/*
 * cpu.c - per-thread CPU timers, the SIGPROF handler and the sample ring.
 *
 * Each profiled thread has a POSIX timer on its own CPU clock, created with
 * the raw timer_create system call on the thread's clock id
 * (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)) and delivered to that thread
 * (SIGEV_THREAD_ID), so a busy thread is sampled in proportion to the CPU
 * it uses, however many threads run.  The first expiry is random within
 * one period, so threads started together do not fire together.
 *
 * Limit: the kernel checks CPU timers at its tick (4 ms at HZ=250), so a
 * thread that lives for much less than a tick is mostly unseen (thousands
 * of 40 us threads: ~20% of their CPU sampled).  A process-wide CPU timer
 * for young threads was tried and dropped: its signal goes to the thread
 * group leader when that one sleeps, charging the sleeper and risking
 * EINTR in the program's sleeping calls.
 *
 * The handler records only signals from our timers (si_code SI_TIMER and
 * the current session number in si_value), weighs the sample 1 +
 * si_overrun, unwinds with rt_unwind and stores the sample in a bounded
 * multi-producer ring (Vyukov's sequence-numbered slots): a producer claims
 * a slot with one compare-and-swap on the head, writes it, and publishes it
 * by storing the slot's sequence; the collector thread is the only
 * consumer.  No locks, no allocation, errno preserved; a full ring or an
 * empty unwind is counted in rt_stats_g, never waited on.  The ring is
 * mmap'd once and kept for the life of the process.
 *
 * SIGPROF belongs to the program when it wants it: a handler already there
 * at start makes start fail (CPROF_ERR_SIGNAL); sigaction, signal, sigset,
 * bsd_signal and sysv_signal are interposed so that a program installing its own SIGPROF action later
 * first stops our timers (for good, said once on stderr) and never
 * receives one of our signals.
 */
#include "rt_int.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

rt_stats rt_stats_g;
_Atomic int rt_cpu_on;
_Atomic uint32_t rt_cpu_gen;

#define RING_SLOTS 2048u  /* power of two; ~2.1 MiB */

typedef struct slot {
	_Atomic uint64_t seq;
	rt_sample_rec rec;
} slot;

static slot *ring;
static _Atomic uint64_t ring_head;
static uint64_t ring_tail;            /* consumer only */

/* A fork child's ring holds the parent's unread samples: set by
 * rt_ring_reset, emptied at the child's next rt_ring_init (a child that
 * starts no profile never writes the ring's 2 MiB). */
static bool ring_stale;

int rt_ring_init(void)
{
	if (ring && ring_stale) {
		for (uint64_t i = 0; i < RING_SLOTS; i++)
			atomic_store_explicit(&ring[i].seq, i, memory_order_relaxed);
		atomic_store(&ring_head, 0);
		ring_tail = 0;
		ring_stale = false;
	}
	if (ring)
		return 0;
	size_t sz = sizeof(slot) * RING_SLOTS;
	void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return CPROF_ERR_NOMEM;
	slot *r = m;
	for (uint64_t i = 0; i < RING_SLOTS; i++)
		atomic_store_explicit(&r[i].seq, i, memory_order_relaxed);
	atomic_store(&ring_head, 0);
	ring_tail = 0;
	ring = r;
	return 0;
}

void rt_ring_reset(void)
{
	ring_stale = ring != NULL;   /* O(1) in the child; emptied when used again */
}

/* Claim a slot for writing; NULL when the ring is full.  [AS-safe] */
static slot *ring_claim(uint64_t *pos_out)
{
	uint64_t pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
	for (;;) {
		slot *s = &ring[pos & (RING_SLOTS - 1)];
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (seq == pos) {
			if (atomic_compare_exchange_weak_explicit(&ring_head, &pos, pos + 1,
					memory_order_relaxed, memory_order_relaxed)) {
				*pos_out = pos;
				return s;
			}
		} else if (seq < pos) {
			return NULL;   /* the consumer has not freed this slot yet */
		} else {
			pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
		}
	}
}

bool rt_ring_pop(rt_sample_rec *out)
{
	if (!ring)
		return false;
	slot *s = &ring[ring_tail & (RING_SLOTS - 1)];
	uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seq != ring_tail + 1)
		return false;
	uint32_t n = s->rec.nframes;
	if (n > RT_MAX_FRAMES)
		n = RT_MAX_FRAMES;
	out->gen = s->rec.gen;
	out->nframes = n;
	out->weight = s->rec.weight;
	out->labels = s->rec.labels;
	memcpy(out->name, s->rec.name, RT_NAME_MAX);
	memcpy(out->pcs, s->rec.pcs, n * sizeof(uintptr_t));
	atomic_store_explicit(&s->seq, ring_tail + RING_SLOTS, memory_order_release);
	ring_tail++;
	return true;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __thread __attribute__((tls_model("initial-exec"))) char tls_name[RT_NAME_MAX];
static __thread __attribute__((tls_model("initial-exec"))) unsigned tls_name_age;

static void on_sigprof(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	int saved = errno;
	uint32_t gen = atomic_load_explicit(&rt_cpu_gen, memory_order_relaxed);
	if (!atomic_load_explicit(&rt_cpu_on, memory_order_acquire) || !si ||
	    si->si_code != SI_TIMER || (uint32_t)si->si_value.sival_int != gen || !ring)
		goto out;
	uint64_t t0 = now_ns();
	uint64_t weight = 1 + (uint64_t)(si->si_overrun > 0 ? si->si_overrun : 0);
	uint64_t pos;
	slot *s = ring_claim(&pos);
	if (!s) {
		__atomic_fetch_add(&rt_stats_g.lost_ring_full, weight, __ATOMIC_RELAXED);
		goto out;
	}
	bool trunc = false;
	int n = rt_unwind((const ucontext_t *)ucv, s->rec.pcs, RT_MAX_FRAMES, &trunc);
	if (n <= 0) {
		__atomic_fetch_add(&rt_stats_g.lost_unwind, weight, __ATOMIC_RELAXED);
		n = 0;  /* published empty: the collector skips it */
	} else {
		__atomic_fetch_add(&rt_stats_g.samples, weight, __ATOMIC_RELAXED);
		if (trunc)
			__atomic_fetch_add(&rt_stats_g.truncated, 1, __ATOMIC_RELAXED);
	}
	s->rec.gen = gen;
	s->rec.nframes = (uint32_t)n;
	s->rec.weight = weight;
	s->rec.labels = rt_labels_current();
	/* the thread's name, read again every 32 samples (names rarely change) */
	if ((tls_name_age++ & 31) == 0) {
		memset(tls_name, 0, RT_NAME_MAX);
		syscall(SYS_prctl, PR_GET_NAME, tls_name, 0L, 0L, 0L);
		tls_name[RT_NAME_MAX - 1] = 0;
	}
	memcpy(s->rec.name, tls_name, RT_NAME_MAX);
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	__atomic_fetch_add(&rt_stats_g.handler_ns, now_ns() - t0, __ATOMIC_RELAXED);
out:
	errno = saved;
}

/* ---- SIGPROF ownership ------------------------------------------------------ */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);
static sigaction_fn real_sigaction;
static signal_fn real_signal;
static _Atomic int sigprof_installed, sigprof_yielded;

static void resolve(void)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_signal)
		real_signal = (signal_fn)dlsym(RTLD_NEXT, "signal");
}

/* The program installs its own SIGPROF action: profiling stops for good
 * (before its handler can see one of our signals) and says so once. */
static void yield_sigprof(void)
{
	if (!atomic_load(&sigprof_installed) || atomic_exchange(&sigprof_yielded, 1))
		return;
	int e = errno;
	bool was_on = atomic_exchange(&rt_cpu_on, 0);
	rt_threads_timers_stop();
	if (was_on) {
		static const char msg[] = "cprof: the program installs its own SIGPROF handler: "
					  "CPU profiling stopped, samples so far are kept\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
	}
	errno = e;
}

__attribute__((visibility("default")))
int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	resolve();
	if (sig == SIGPROF && act &&
	    !((act->sa_flags & SA_SIGINFO) && act->sa_sigaction == on_sigprof))
		yield_sigprof();
	if (!real_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	return real_sigaction(sig, act, old);
}

__attribute__((visibility("default")))
sighandler_t signal(int sig, sighandler_t h)
{
	resolve();
	if (sig == SIGPROF)
		yield_sigprof();
	if (!real_signal) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	return real_signal(sig, h);
}

/* The older ways to set a handler, each forwarded to libc's own. */
static sighandler_t other_signal(const char *name, signal_fn *real, int sig, sighandler_t h)
{
	if (!*real)
		*real = (signal_fn)dlsym(RTLD_NEXT, name);
	if (sig == SIGPROF && h != SIG_HOLD)
		yield_sigprof();
	if (!*real) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	return (*real)(sig, h);
}

static signal_fn real_sigset, real_bsd_signal, real_sysv_signal;
sighandler_t bsd_signal(int sig, sighandler_t h);   /* not declared by glibc 2.36 */

__attribute__((visibility("default")))
sighandler_t sigset(int sig, sighandler_t h)
{
	return other_signal("sigset", &real_sigset, sig, h);
}

__attribute__((visibility("default")))
sighandler_t bsd_signal(int sig, sighandler_t h)
{
	return other_signal("bsd_signal", &real_bsd_signal, sig, h);
}

__attribute__((visibility("default")))
sighandler_t sysv_signal(int sig, sighandler_t h)
{
	return other_signal("sysv_signal", &real_sysv_signal, sig, h);
}

int rt_sigprof_install(void)
{
	resolve();
	if (atomic_load(&sigprof_yielded)) {
		rt_set_error("the program has its own SIGPROF handler: cpu profiling disabled");
		return CPROF_ERR_SIGNAL;
	}
	struct sigaction old, sa;
	if (sigaction(SIGPROF, NULL, &old) != 0)
		return CPROF_ERR_SYSTEM;
	if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigprof)
		return 0;
	if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
		rt_set_error("the program has its own SIGPROF handler: cpu profiling disabled");
		return CPROF_ERR_SIGNAL;
	}
	if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction) {
		rt_set_error("the program has its own SIGPROF handler: cpu profiling disabled");
		return CPROF_ERR_SIGNAL;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigprof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) != 0)
		return CPROF_ERR_SYSTEM;
	atomic_store(&sigprof_installed, 1);
	return 0;
}

/* A small xorshift for the first expiry; quality does not matter. */
static uint64_t jitter(uint64_t bound)
{
	static _Atomic uint64_t state;
	uint64_t x = atomic_load(&state);
	if (!x)
		x = now_ns() | 1;
	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	atomic_store(&state, x);
	return bound ? x % bound : 0;
}

int rt_timer_create(int tid, long period_ns, int *timer_id)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev.sigev_value.sival_int = (int)atomic_load(&rt_cpu_gen);
	sev._sigev_un._tid = tid;
	/* the kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) */
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6u);
	int id = -1;
	if (syscall(SYS_timer_create, clk, &sev, &id) != 0)
		return CPROF_ERR_SYSTEM;
	struct itimerspec its;
	uint64_t first = 1 + jitter((uint64_t)period_ns);
	its.it_interval.tv_sec = period_ns / 1000000000L;
	its.it_interval.tv_nsec = period_ns % 1000000000L;
	its.it_value.tv_sec = (time_t)(first / 1000000000u);
	its.it_value.tv_nsec = (long)(first % 1000000000u);
	if (syscall(SYS_timer_settime, id, 0, &its, NULL) != 0) {
		syscall(SYS_timer_delete, id);
		return CPROF_ERR_SYSTEM;
	}
	*timer_id = id;
	return 0;
}

void rt_timer_delete(int timer_id)
{
	int e = errno;
	syscall(SYS_timer_delete, timer_id);
	errno = e;
}
