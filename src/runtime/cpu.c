/*
 * cpu.c - the sampling handler, the sample ring and the clocks' signal.
 *
 * Each profiled thread has its own sampling clock (cpu_clock.c): a
 * perf_event task-clock counter where the kernel allows one, a POSIX timer
 * on the thread's CPU clock otherwise, both delivering the clocks' signal
 * (SIGPROF, or a real-time signal: below) to that thread, so a busy thread is sampled in proportion to the CPU it uses,
 * however many threads run.  Every interval is drawn at random around the
 * period (no locking onto the program's own period), and each sample
 * carries the CPU time it stands for.
 *
 * The handler records only signals from our clocks of the current session
 * (rt_clock_src_fired: SI_TIMER with the session in si_value, or POLL_HUP
 * from a counter descriptor of the session), unwinds with rt_unwind and
 * stores the sample in a bounded multi-producer ring (Vyukov's
 * sequence-numbered slots): a producer claims a slot with one compare-and-swap on the head, writes it, and publishes it
 * by storing the slot's sequence; the collector thread is the only
 * consumer.  A sample taken while the thread does the runtime's own work
 * (rt_self_depth: symbolizing, building tables, a hook unwinding) is only
 * counted (rt_stats_g.runtime), never charged to the program's stack.
 * No locks, no allocation, errno preserved; a full ring or an
 * empty unwind is counted in rt_stats_g, never waited on.  The ring is
 * mmap'd once and kept for the life of the process.
 *
 * The clocks' signal.  SIGPROF belongs to the program when it wants it,
 * and the program is profiled all the same: the clocks deliver SIGPROF
 * while the program leaves it alone, and a free real-time signal (one the
 * program left at SIG_DFL and never set, from RT_CLOCK_SIG_FIRST down)
 * when it has a SIGPROF action of its own at start or sets one later
 * (any set of SIGPROF: a handler, SIG_IGN, or the SIG_DFL a program
 * resets every signal to before an exec).  The move happens in the
 * interposed sigaction (sigwrap.c) before the program's action is set:
 * a free signal is taken, every clock re-aimed (rt_threads_clocks_resignal),
 * then the signals still queued on the old one are discarded, so the
 * program's handler, itimer and mask stay exactly its own and never see
 * one of ours.  A handler the program later puts on the real-time signal
 * moves the clocks again; with no free signal left (Go's runtime takes
 * every signal), the clocks stay on the real-time signal and the
 * program's handler there is chained (sigwrap.c forwards it every signal
 * there no clock sent, with the program's mask); SIGPROF itself is never
 * chained: with no free signal its taking stops profiling for good (said
 * once on stderr).  The handler is on_sigprof on whichever
 * signal; a signal there that no clock of ours sent is treated as the
 * program's view of that signal says (rt_sig_forward).  Only the process
 * the clocks serve moves them (sigprof_pid): a vfork child shares this
 * memory.
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_cpu.h"
#include "rt_labels.h"
#include "cprof.h"
#include "trace_int.h"
#include "rt_sig.h"

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
	_Atomic uint64_t seq;   /* the sequence number less the slot's index */
	rt_sample_rec rec;
} slot;

static slot *ring;
static _Atomic uint64_t ring_head;
static uint64_t ring_tail;            /* consumer only */

/* A slot's sequence number (Vyukov's bounded queue: slot i starts at i)
 * is stored less i, so a fresh zero page is the initial state: the start
 * maps the ring and touches none of it (its 2 MiB were ~530 page faults
 * of every profiled process's start, a short one's largest cost); a page
 * is faulted in when a sample first lands in it.  [AS-safe] */
static uint64_t seq_get(const slot *s, memory_order mo)
{
	return atomic_load_explicit(&s->seq, mo) + (uint64_t)(s - ring);
}

static void seq_set(slot *s, uint64_t v, memory_order mo)
{
	atomic_store_explicit(&s->seq, v - (uint64_t)(s - ring), mo);
}

/* The ring is not inherited by fork children (MADV_DONTFORK): its pages
 * are all written at the start, and a fork would copy their page-table
 * entries and make each page the collector or the handler writes next a
 * copy-on-write fault in the parent (a profiled fork loop ran 3x bare).
 * A child forgets it (rt_ring_reset) and maps its own at its next
 * rt_ring_init. */
int rt_ring_init(void)
{
	if (ring)
		return 0;
	size_t sz = sizeof(slot) * RING_SLOTS;
	void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return CPROF_ERR_NOMEM;
	(void)madvise(m, sz, MADV_DONTFORK);
	slot *r = m;   /* zero-filled: every slot at its initial sequence */
	atomic_store(&ring_head, 0);
	ring_tail = 0;
	ring = r;
	return 0;
}

void rt_ring_reset(void)
{
	if (ring) {   /* not mapped in the child (MADV_DONTFORK) */
		ring = NULL;
		atomic_store(&ring_head, 0);
		ring_tail = 0;
	}
}

/* Claim a slot for writing; NULL when the ring is full.  [AS-safe] */
static slot *ring_claim(uint64_t *pos_out)
{
	uint64_t pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
	for (;;) {
		slot *s = &ring[pos & (RING_SLOTS - 1)];
		uint64_t seq = seq_get(s, memory_order_acquire);
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
	uint64_t seq = seq_get(s, memory_order_acquire);
	if (seq != ring_tail + 1)
		return false;
	uint32_t n = s->rec.nframes;
	if (n > RT_MAX_FRAMES)
		n = RT_MAX_FRAMES;
	out->gen = s->rec.gen;
	out->nframes = n;
	out->weight = s->rec.weight;
	out->cpu_ns = s->rec.cpu_ns;
	out->labels = s->rec.labels;
	memcpy(out->name, s->rec.name, RT_NAME_MAX);
	memcpy(out->pcs, s->rec.pcs, n * sizeof(uintptr_t));
	seq_set(s, ring_tail + RING_SLOTS, memory_order_release);
	ring_tail++;
	return true;
}

/* [AS-safe]: the system call, never the vDSO's rdtsc (rtclock.c) */
static uint64_t now_ns(void)
{
	return (uint64_t)rt_clock_ns_sig(CLOCK_MONOTONIC);
}

static __thread __attribute__((tls_model("initial-exec"))) char tls_name[RT_NAME_MAX];
static __thread __attribute__((tls_model("initial-exec"))) unsigned tls_name_age;

/* Claim a slot and fill what every sample has; NULL when the ring is full
 * (counted).  [AS-safe] */
static slot *sample_begin(uint32_t gen, uint64_t count, uint64_t cpu_ns, uint64_t *pos)
{
	slot *s = ring_claim(pos);
	if (!s) {
		__atomic_fetch_add(&rt_stats_g.lost_ring_full, count ? count : 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&rt_stats_g.lost_ns, cpu_ns, __ATOMIC_RELAXED);
		return NULL;
	}
	s->rec.gen = gen;
	s->rec.weight = count;
	s->rec.cpu_ns = cpu_ns;
	s->rec.labels = rt_labels_current();
	/* the thread's name, read again every 32 samples (names rarely change) */
	if ((tls_name_age++ & 31) == 0) {
		memset(tls_name, 0, RT_NAME_MAX);
		syscall(SYS_prctl, PR_GET_NAME, tls_name, 0L, 0L, 0L);
		tls_name[RT_NAME_MAX - 1] = 0;
	}
	memcpy(s->rec.name, tls_name, RT_NAME_MAX);
	return s;
}

static void on_sigprof(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	uint32_t gen = atomic_load_explicit(&rt_cpu_gen, memory_order_relaxed);
	uint64_t count, cpu_ns;
	if (!atomic_load_explicit(&rt_cpu_on, memory_order_acquire) || !si || !ring ||
	    !rt_clock_src_fired(si, gen, &count, &cpu_ns)) {
		/* not a sample: sent by someone else, it gets what the
		 * program's view of this signal says (sigwrap.c) */
		rt_sig_forward(sig, si, ucv);
		goto out;
	}
	if (rt_self_depth() > 0) {   /* the runtime's own work: counted apart */
		__atomic_fetch_add(&rt_stats_g.runtime, count, __ATOMIC_RELAXED);
		goto out;
	}
	uint64_t t0 = now_ns();
	uint64_t pos;
	slot *s = sample_begin(gen, count, cpu_ns, &pos);
	if (!s)
		goto out;
	bool trunc = false;
	int n = rt_unwind((const ucontext_t *)ucv, s->rec.pcs, RT_MAX_FRAMES, &trunc);
	if (rt_threads_starting(s->rec.pcs, n) || (n > 0 && rt_edge_text(s->rec.pcs[0]))) {
		/* the few instructions of a new thread's start-up, or of an
		 * exit handler or rt_self_enter/leave, outside the depth
		 * window: the runtime's work as well */
		__atomic_fetch_add(&rt_stats_g.runtime, count, __ATOMIC_RELAXED);
		n = 0;  /* published empty: the collector skips it */
	} else if (n <= 0) {
		__atomic_fetch_add(&rt_stats_g.lost_unwind, count, __ATOMIC_RELAXED);
		__atomic_fetch_add(&rt_stats_g.lost_ns, cpu_ns, __ATOMIC_RELAXED);
		n = 0;  /* published empty: the collector skips it */
	} else {
		__atomic_fetch_add(&rt_stats_g.samples, count, __ATOMIC_RELAXED);
		if (trunc)
			__atomic_fetch_add(&rt_stats_g.truncated, 1, __ATOMIC_RELAXED);
		if (rt_trace_active())   /* the sample at its time, in the trace too */
			rt_trace_sample(s->rec.pcs, n, cpu_ns);
	}
	s->rec.nframes = (uint32_t)n;
	seq_set(s, pos + 1, memory_order_release);
	__atomic_fetch_add(&rt_stats_g.handler_ns, now_ns() - t0, __ATOMIC_RELAXED);
out:
	/* a clock that fired as its thread entered a sleep (a counter's
	 * overflow in the system call's entry, or a timer's tick there)
	 * interrupted it: make the call again, as if nothing came */
	if (ucv)
		(void)rt_restart_if_interrupted(ucv);
	errno = saved;
}

void rt_cpu_push(const uintptr_t *pcs, int n, uint64_t count, uint64_t cpu_ns)
{
	uint32_t gen = atomic_load_explicit(&rt_cpu_gen, memory_order_relaxed);
	if (!atomic_load_explicit(&rt_cpu_on, memory_order_acquire) || !ring || n <= 0)
		return;
	if (n > RT_MAX_FRAMES)
		n = RT_MAX_FRAMES;
	uint64_t pos;
	slot *s = sample_begin(gen, count, cpu_ns, &pos);
	if (!s)
		return;
	memcpy(s->rec.pcs, pcs, (size_t)n * sizeof *pcs);
	s->rec.nframes = (uint32_t)n;
	seq_set(s, pos + 1, memory_order_release);
}

/* ---- the clock's signal ------------------------------------------------------ */

static _Atomic int sigprof_installed, sigprof_yielded;
/* The process whose clocks the installed handler serves (set at each
 * install, so a followed fork child's own start takes it over). */
static _Atomic pid_t sigprof_pid;
static atomic_flag moving = ATOMIC_FLAG_INIT;

static void clock_action(struct sigaction *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sa_sigaction = on_sigprof;
	sa->sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa->sa_mask);
}

/* Discard every signal sig still queued to this process's threads (our
 * clocks' last ones), leaving sig's action as it was.  A signal queued
 * while the thread blocks it outlives the clock that sent it: if the
 * action becomes SIG_DFL (the program resetting every signal before an
 * exec, as git's run-command does with all signals blocked) or an exec
 * resets it, that signal ends the process the moment it is unblocked.
 * Setting SIG_IGN discards a pending signal in every thread (POSIX); the
 * old action is put back at once.  Call with the clocks stopped or moved.
 * Thread-safe; ordered before the program's own set of sig by
 * rt_cpu_sig_will_set. */
static void discard_pending(int sig)
{
	struct sigaction ign, old;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (rt_real_sigaction(sig, &ign, &old) != 0)
		return;
	(void)rt_real_sigaction(sig, &old, NULL);
}

void rt_sigprof_discard_pending(void)
{
	int sig = atomic_load(&rt_cpu_clock_sig);
	if (!atomic_load(&sigprof_installed) || !sig)
		return;
	int e = errno;
	sigset_t pend;
	/* one cheap look first: the swap is two more system calls */
	if (sigpending(&pend) == 0 && sigismember(&pend, sig))
		discard_pending(sig);
	errno = e;
}

/* A real-time signal the program left at SIG_DFL and never set, with our
 * handler on it now; 0 when there is none.  `avoid` is not taken. */
static int take_free_signal(int avoid)
{
	struct sigaction sa;
	clock_action(&sa);
	for (int s = RT_CLOCK_SIG_FIRST; s >= RT_CLOCK_SIG_LAST; s--)
		if (s != avoid && rt_sig_clock_take(s, &sa, true) == 0)
			return s;
	return 0;
}

/* The program takes `from`, the clocks' signal: they move to a free
 * real-time signal (every clock re-aimed, the signals still queued on
 * `from` discarded, so the program's action there never sees one of
 * ours), or, with none free, profiling stops for good, said once when the
 * program sets a handler: a program resetting every action to the default
 * before an exec (git, node, shells' subshells) changes nothing the user
 * would want told, and the line would land in that program's stderr. */
static bool clock_move(int from, bool say)
{
	while (atomic_flag_test_and_set(&moving))
		;
	if (atomic_load(&rt_cpu_clock_sig) != from || atomic_load(&sigprof_yielded)) {
		atomic_flag_clear(&moving);
		return false;
	}
	int to = take_free_signal(from);
	if (to) {
		rt_threads_clocks_resignal(to);
		discard_pending(from);
		atomic_flag_clear(&moving);
		return false;
	}
	/* none free (Go's runtime takes every signal): a real-time clock
	 * signal stays the clock's, and the program's handler there gets
	 * every signal no clock of ours sent (sigwrap.c forwards it) */
	if (from != SIGPROF) {
		atomic_flag_clear(&moving);
		return true;
	}
	atomic_store(&sigprof_yielded, 1);
	bool was_on = atomic_exchange(&rt_cpu_on, 0);
	rt_threads_timers_stop();
	discard_pending(from);
	atomic_store(&rt_cpu_clock_sig, 0);
	atomic_flag_clear(&moving);
	if (was_on && say) {
		static const char msg[] = "cprof: the program handles SIGPROF and every free "
					  "real-time signal: CPU profiling stopped, samples so far "
					  "are kept\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
	}
	return false;
}

bool rt_cpu_sig_will_set(int sig, const struct sigaction *act)
{
	if (sig != atomic_load(&rt_cpu_clock_sig) || !atomic_load(&sigprof_installed))
		return false;
	int e = errno;
	bool chain = false;
	/* Only the profiled process moves.  A child that shares its memory
	 * (vfork, posix_spawn's clone: python's subprocess resets every
	 * handler there before exec) would otherwise re-aim the parent's
	 * clocks through the shared registry, and a forked child has no
	 * clock of ours. */
	bool handler = act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
	if (getpid() == atomic_load(&sigprof_pid) && (sig == SIGPROF || handler))
		chain = clock_move(sig, handler);
	errno = e;
	return chain;
}

bool rt_sigprof_ours(void)
{
	return atomic_load(&sigprof_installed) && !atomic_load(&sigprof_yielded);
}

int rt_sigprof_install(void)
{
	if (atomic_load(&sigprof_yielded)) {
		rt_set_error("the program handles SIGPROF and every free real-time signal: "
			     "cpu profiling disabled");
		return CPROF_ERR_SIGNAL;
	}
	struct sigaction cur, sa;
	int sig = atomic_load(&rt_cpu_clock_sig);
	/* installed already (a second session, a followed fork child) */
	if (atomic_load(&sigprof_installed) && sig && rt_real_sigaction(sig, NULL, &cur) == 0 &&
	    (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigprof) {
		atomic_store(&sigprof_pid, getpid());
		/* the view of the signals is this process's too: a set of the
		 * clocks' real-time signal to SIG_DFL must only be recorded */
		rt_sig_view_owner_here();
		return 0;
	}
	if (rt_real_sigaction(SIGPROF, NULL, &cur) != 0)
		return CPROF_ERR_SYSTEM;
	clock_action(&sa);
	/* SIGPROF unless the program handles it: then a free real-time signal */
	if (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN)
		sig = rt_sig_clock_take(SIGPROF, &sa, false) == 0 ? SIGPROF : 0;
	else
		sig = take_free_signal(0);
	if (!sig) {
		rt_set_error("the program handles SIGPROF and every free real-time signal: "
			     "cpu profiling disabled");
		return CPROF_ERR_SIGNAL;
	}
	atomic_store(&rt_cpu_clock_sig, sig);
	atomic_store(&sigprof_pid, getpid());
	rt_sig_view_owner_here();
	atomic_store(&sigprof_installed, 1);
	return 0;
}
