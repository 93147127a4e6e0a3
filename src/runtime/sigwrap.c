/*
 * sigwrap.c - the interposed sigaction, signal, sigset, bsd_signal and
 * sysv_signal, and the program's view of the signals where the runtime's
 * own handlers stand.
 *
 * The runtime puts a handler of its own under three kinds of signal:
 *  - the sampling clock's signal (cpu.c's on_sigprof): SIGPROF while the
 *    program leaves it alone, else a real-time signal the program left at
 *    SIG_DFL and never set;
 *  - the fatal signals (SIGTERM, SIGINT, SIGHUP and the faults), where
 *    env.c's on_fatal stands in for SIG_DFL: it has the exit profiles
 *    written, then dies of the signal;
 *  - a fatal signal the program gives a one-shot handler (SA_RESETHAND):
 *    a wrapper (on_oneshot) with the program's flags less SA_RESETHAND,
 *    which does the reset itself (to on_fatal, the SIG_DFL it stands
 *    for) and calls the program's handler, so a crash handler that
 *    re-raises still gets its profile written.
 *
 * The rule.  Wherever one of these handlers is the kernel's action, the
 * program's queries (sigaction's old action, signal's return value) get
 * the action the program last set there, or the one it had when the
 * runtime took the signal: view[sig].  Sets go through as the program
 * asks, except that a set of SIG_DFL on a fatal signal installs on_fatal
 * (the view keeps the program's SIG_DFL, flags and mask), a one-shot
 * handler on one gets the wrapper, a SIG_DFL or SIG_IGN set on a
 * real-time clock signal is only recorded in the view (nobody but the
 * clock sends it; one sent by another process is then treated as the
 * view says: ignored, or the process dies of it), and a set of the
 * clock's signal that the runtime cannot take over (any set of SIGPROF, a
 * handler on the real-time one) first moves the clock to another signal
 * (cpu.c; if none is free the CPU profile stops).  SIG_IGN and the
 * program's handlers stand as set.  The runtime's own installs and
 * queries use rt_real_sigaction.  What is not hidden: the kernel's own
 * reports (/proc/PID/status SigCgt) and a raw rt_sigaction system call
 * (Go without cgo) see the runtime's handlers.
 *
 * Chained.  When the program puts a handler on the clocks' real-time
 * signal and no other is free (Go's runtime takes every signal), the clock
 * stays and the program's handler is run from the clock's (rt_sig_forward)
 * for each signal there sent by a process, raise or the kernel, with the
 * mask the kernel would have set and on the stack its SA_ONSTACK asks for;
 * a POSIX timer's or a descriptor's signal (maybe a stale one of ours) is
 * never passed on.  The wrapper of a one-shot handler and this chaining
 * emulate the kernel in one thing they cannot make atomic: a second
 * signal that arrives between the delivery and the emulated reset finds
 * the handler once more instead of the default.
 *
 * Concurrency.  A set or query of a signal the runtime may hold (the
 * `managed` bits) runs with every signal blocked and under one spin lock,
 * so a handler of the program's that sets an action (as many crash
 * handlers do) never interleaves with the same thread's update of the
 * view, and threads setting the same signal are ordered.  Everything is
 * async-signal-safe (pthread_sigmask, getpid, libc's sigaction, atomics)
 * except a move of the clock (cpu.c), which happens at most once per
 * signal the program takes.  Other signals go straight to libc.
 *
 * vfork.  A vfork child shares this memory but has its own actions: only
 * the process that owns the view (view_pid: the one that took the
 * signals, or a followed fork child) writes it; any other sets what it
 * asks, as asked, and its queries still read the view where the kernel
 * holds one of the runtime's handlers (inherited with the view).
 */
#include "rt_base.h"
#include "rt_sig.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);

static sigaction_fn real_sa;
static struct sigaction view[_NSIG];        /* under lock */
static _Atomic uint64_t managed;             /* bit sig-1: may be the runtime's */
static _Atomic uint64_t fatal_bits;          /* on_fatal stands in for SIG_DFL */
static _Atomic uint64_t set_by_program;      /* sets seen, to keep the clock off */
static _Atomic pid_t view_pid;
static void (*fatal_fn)(int);
static sigset_t fatal_mask;
static void (*clock_fn)(int, siginfo_t *, void *);
static atomic_bool lock;

static uint64_t bit(int sig)
{
	return sig > 0 && sig <= 64 ? 1ull << (sig - 1) : 0;
}

static void resolve(void)
{
	if (!real_sa)
		real_sa = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
}

int rt_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	resolve();
	if (!real_sa) {
		errno = ENOSYS;
		return -1;
	}
	return real_sa(sig, act, old);
}

/* Every signal blocked and the lock taken; *saved the mask to restore.
 * [AS-safe] */
static void enter(sigset_t *saved)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, saved);
	/* held for a few system calls; a holder preempted is waited for
	 * with sched_yield (a system call: async-signal-safe) */
	for (unsigned n = 0; atomic_exchange_explicit(&lock, true, memory_order_acquire); n++)
		if (n >= 64)
			sched_yield();
}

static void leave(const sigset_t *saved)
{
	atomic_store_explicit(&lock, false, memory_order_release);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static void on_oneshot(int sig, siginfo_t *si, void *uc);

/* Is this action one of the runtime's handlers? */
static bool is_ours(const struct sigaction *a)
{
	if (a->sa_flags & SA_SIGINFO)
		return a->sa_sigaction && (a->sa_sigaction == on_oneshot ||
					   a->sa_sigaction == clock_fn);
	return fatal_fn && a->sa_handler == fatal_fn;
}

static bool is_handler(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

static bool owner(void)
{
	return getpid() == atomic_load(&view_pid);
}

/* on_fatal for SIG_DFL.  Lock held. */
static int put_fatal(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fatal_fn;
	sa.sa_flags = SA_RESTART;
	sa.sa_mask = fatal_mask;
	return real_sa(sig, &sa, NULL);
}

/* A set by the program of a signal the runtime may hold.  Lock held;
 * *cur the kernel's action now. */
static int set_managed(int sig, const struct sigaction *act, const struct sigaction *cur,
		       bool chain)
{
	if (chain && clock_fn) {
		/* the clock stays: the program's handler behind it, on the
		 * stack it asks for (Go's handlers need their signal stack) */
		struct sigaction c;
		memset(&c, 0, sizeof c);
		c.sa_sigaction = clock_fn;
		c.sa_flags = SA_SIGINFO | SA_RESTART | (act->sa_flags & SA_ONSTACK);
		sigfillset(&c.sa_mask);
		view[sig] = *act;
		return real_sa(sig, &c, NULL);
	}
	bool fatal = (atomic_load(&fatal_bits) & bit(sig)) && fatal_fn;
	if (fatal && !is_handler(act) && act->sa_handler == SIG_DFL) {
		if (put_fatal(sig) != 0)
			return -1;
		view[sig] = *act;
		return 0;
	}
	if (fatal && is_handler(act) && (act->sa_flags & SA_RESETHAND)) {
		struct sigaction w = *act;
		w.sa_flags = (act->sa_flags & ~SA_RESETHAND) | SA_SIGINFO;
		w.sa_sigaction = on_oneshot;
		view[sig] = *act;   /* before: it may be delivered at once */
		return real_sa(sig, &w, NULL);
	}
	/* a real-time clock signal stays the clock's when the program only
	 * sets its default or ignores it (a loop resetting every signal) */
	if (sig != SIGPROF && clock_fn && (cur->sa_flags & SA_SIGINFO) &&
	    cur->sa_sigaction == clock_fn && !is_handler(act)) {
		view[sig] = *act;
		return 0;
	}
	return real_sa(sig, act, NULL);
}

__attribute__((visibility("default")))
int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	resolve();
	if (!real_sa) {
		errno = ENOSYS;
		return -1;
	}
	uint64_t b = bit(sig);
	if (act && b && !(atomic_load_explicit(&set_by_program, memory_order_relaxed) & b))
		atomic_fetch_or(&set_by_program, b);
	if (!(atomic_load_explicit(&managed, memory_order_acquire) & b))
		return real_sa(sig, act, old);
	int e = errno;
	bool chain = act && rt_cpu_sig_will_set(sig, act);   /* the clock leaves sig first */
	sigset_t saved;
	enter(&saved);
	struct sigaction cur;
	int rc = real_sa(sig, NULL, &cur);
	struct sigaction prev = rc == 0 && is_ours(&cur) ? view[sig] : cur;
	if (rc == 0 && act) {
		errno = e;
		if (owner())
			rc = set_managed(sig, act, &cur, chain);
		else
			rc = real_sa(sig, act, NULL);
		e = errno;
	}
	leave(&saved);
	if (rc == 0 && old)
		*old = prev;
	errno = e;
	return rc;
}

/* ---- the older ways, for the signals the runtime may hold ------------------- */

static bool bad_signal(int sig, sighandler_t h)
{
	if (h == SIG_ERR || sig < 1 || sig >= _NSIG || (sig >= 32 && sig < SIGRTMIN)) {
		errno = EINVAL;
		return true;
	}
	return false;
}

/* Set h on sig with flags (and sig masked in the handler when mask_self)
 * through the sigaction above; *old the action before.  0 or -1. */
static int set_simple(int sig, sighandler_t h, bool mask_self, int flags, struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	if (mask_self)
		sigaddset(&sa.sa_mask, sig);
	sa.sa_flags = flags;
	return sigaction(sig, &sa, old);
}

/* signal and bsd_signal: glibc's action (the signal masked in its
 * handler, SA_RESTART) through the sigaction above. */
static sighandler_t bsd_like(int sig, sighandler_t h)
{
	struct sigaction old;
	if (bad_signal(sig, h) || set_simple(sig, h, true, SA_RESTART, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

static sighandler_t next_signal(const char *name, signal_fn *real, int sig, sighandler_t h)
{
	if (!*real)
		*real = (signal_fn)dlsym(RTLD_NEXT, name);
	if (!*real) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	if (bit(sig) && h != SIG_HOLD && !(atomic_load(&set_by_program) & bit(sig)))
		atomic_fetch_or(&set_by_program, bit(sig));
	return (*real)(sig, h);
}

static signal_fn real_signal, real_sigset, real_bsd_signal, real_sysv_signal;
sighandler_t bsd_signal(int sig, sighandler_t h);   /* not declared by glibc 2.36 */

static bool is_managed(int sig)
{
	return atomic_load_explicit(&managed, memory_order_acquire) & bit(sig);
}

__attribute__((visibility("default")))
sighandler_t signal(int sig, sighandler_t h)
{
	if (!is_managed(sig))
		return next_signal("signal", &real_signal, sig, h);
	return bsd_like(sig, h);
}

__attribute__((visibility("default")))
sighandler_t bsd_signal(int sig, sighandler_t h)
{
	if (!is_managed(sig))
		return next_signal("bsd_signal", &real_bsd_signal, sig, h);
	return bsd_like(sig, h);
}

__attribute__((visibility("default")))
sighandler_t sysv_signal(int sig, sighandler_t h)
{
	if (!is_managed(sig))
		return next_signal("sysv_signal", &real_sysv_signal, sig, h);
	struct sigaction old;
	if (bad_signal(sig, h) || set_simple(sig, h, false, SA_RESETHAND | SA_NODEFER, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* glibc's sigset: SIG_HOLD blocks the signal; anything else sets it (no
 * mask, no flags) and unblocks it; SIG_HOLD returned when it was blocked. */
__attribute__((visibility("default")))
sighandler_t sigset(int sig, sighandler_t h)
{
	if (!is_managed(sig))
		return next_signal("sigset", &real_sigset, sig, h);
	if (bad_signal(sig, h))
		return SIG_ERR;
	sigset_t one, was;
	sigemptyset(&one);
	sigaddset(&one, sig);
	struct sigaction old;
	if (h == SIG_HOLD) {
		if (sigprocmask(SIG_BLOCK, &one, &was) != 0)
			return SIG_ERR;
		if (sigismember(&was, sig))
			return SIG_HOLD;
		if (sigaction(sig, NULL, &old) != 0)
			return SIG_ERR;
		return old.sa_handler;
	}
	if (set_simple(sig, h, false, 0, &old) != 0 || sigprocmask(SIG_UNBLOCK, &one, &was) != 0)
		return SIG_ERR;
	return sigismember(&was, sig) ? SIG_HOLD : old.sa_handler;
}

/* ---- the runtime's side ----------------------------------------------------- */

/* The program's one-shot handler on a fatal signal: reset as the kernel
 * would have (to on_fatal, standing for SIG_DFL), then the handler.  The
 * mask is the kernel's, from the program's own flags and mask. */
static void on_oneshot(int sig, siginfo_t *si, void *uc)
{
	sigset_t saved;
	enter(&saved);
	struct sigaction p = view[sig];
	if (owner()) {
		(void)put_fatal(sig);
		view[sig].sa_handler = SIG_DFL;
	} else {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		(void)real_sa(sig, &dfl, NULL);
	}
	leave(&saved);
	if (p.sa_flags & SA_SIGINFO) {
		if (p.sa_sigaction)
			p.sa_sigaction(sig, si, uc);
	} else if (is_handler(&p)) {
		p.sa_handler(sig);
	}
}

void rt_sig_fatal_handler_set(void (*fn)(int), const sigset_t *mask)
{
	resolve();
	fatal_mask = *mask;
	fatal_fn = fn;
	if (!atomic_load(&view_pid))
		atomic_store(&view_pid, getpid());
}

void rt_sig_fatal_manage(int sig)
{
	if (!fatal_fn || !real_sa || !bit(sig))
		return;
	sigset_t saved;
	enter(&saved);
	struct sigaction cur;
	if (real_sa(sig, NULL, &cur) == 0 && !is_ours(&cur)) {
		atomic_fetch_or(&fatal_bits, bit(sig));
		atomic_fetch_or(&managed, bit(sig));
		/* the program's choice stands; SIG_DFL gets on_fatal */
		if (cur.sa_handler == SIG_DFL && put_fatal(sig) == 0)
			view[sig] = cur;
	}
	leave(&saved);
}

RT_FORK_TEXT void rt_sig_fork_child(void)
{
	/* another thread of the parent was between enter and leave: it does
	 * not exist here, and its lock would stop every later set for good */
	if (atomic_load_explicit(&lock, memory_order_relaxed))
		atomic_store_explicit(&lock, false, memory_order_relaxed);
}

void rt_sig_view_owner_here(void)
{
	atomic_store(&view_pid, getpid());
}

int rt_sig_clock_take(int sig, const struct sigaction *sa, bool need_default)
{
	resolve();
	if (!real_sa || !bit(sig))
		return -1;
	clock_fn = sa->sa_sigaction;
	sigset_t saved;
	enter(&saved);
	int rc = -1;
	struct sigaction cur;
	if (real_sa(sig, NULL, &cur) == 0 &&
	    (!need_default || (!(atomic_load(&set_by_program) & bit(sig)) &&
			       !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL))) {
		if (is_ours(&cur) || real_sa(sig, sa, NULL) == 0) {
			if (!is_ours(&cur))
				view[sig] = cur;
			atomic_fetch_or(&managed, bit(sig));
			if (!atomic_load(&view_pid) || !fatal_fn)
				atomic_store(&view_pid, getpid());
			rc = 0;
		}
	}
	leave(&saved);
	return rc;
}

void rt_sig_forward(int sig, siginfo_t *si, void *uc)
{
	/* sent by a process, by raise, or by the kernel (an itimer); never a
	 * timer's or a descriptor's signal, which may be a stale one of ours */
	if (!si || (si->si_code != SI_USER && si->si_code != SI_QUEUE &&
		    si->si_code != SI_TKILL && si->si_code != SI_KERNEL))
		return;
	sigset_t saved;
	enter(&saved);
	struct sigaction p = view[sig];
	bool die = !is_handler(&p) && p.sa_handler == SIG_DFL;
	if (die) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		(void)real_sa(sig, &dfl, NULL);
	} else if (is_handler(&p) && (p.sa_flags & SA_RESETHAND) && owner()) {
		view[sig].sa_handler = SIG_DFL;   /* the clock's handler stays */
	}
	leave(&saved);
	/* the default action of SIGPROF and of the real-time signals ends
	 * the process: pending until the handler returns */
	if (die) {
		syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)sig);
		return;
	}
	if (!is_handler(&p))
		return;   /* ignored */
	/* the program's handler, with the mask the kernel would have set:
	 * the interrupted code's, its sa_mask, and sig unless SA_NODEFER */
	sigset_t m = uc ? ((ucontext_t *)uc)->uc_sigmask : saved;
	for (int s2 = 1; s2 < _NSIG; s2++)
		if (sigismember(&p.sa_mask, s2))
			sigaddset(&m, s2);
	if (!(p.sa_flags & SA_NODEFER))
		sigaddset(&m, sig);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	if (p.sa_flags & SA_SIGINFO)
		p.sa_sigaction(sig, si, uc);
	else
		p.sa_handler(sig);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}
