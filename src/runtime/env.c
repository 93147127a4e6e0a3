/*
 * env.c - the CPROF_* environment of the runtime, for LD_PRELOAD use: a
 * constructor that starts the CPU profile and the exit paths that write it.
 *
 *   CPROF_CPU_PROFILE=FILE  profile the whole run, write FILE at exit (a
 *                           pattern: %p pid, %e program, %h host, %t time)
 *   CPROF_CPU_HZ=N          sampling rate (1..CPROF_CPU_HZ_MAX)
 *   CPROF_FOLLOW_FORK=1     forked children profile too (CPROF_CPU_FOLLOW:
 *                           the same, for the CPU profile only)
 *   CPROF_CPU_MODE=M        sampling clocks: auto (perf_event task-clock
 *                           where allowed, else CPU timers), perf, timer
 *
 * Values go through envparse.c: a bad one gets one line on stderr and no
 * CPU profile.  The profile is written (outfile.c: a temporary file
 * renamed into place, under the process tree rule) by whichever of these
 * runs first:
 *  - an atexit handler registered at load time, so after the program's
 *    own (exit(), return from main);
 *  - _exit / _Exit and the exec family (lifecycle.c): the old image's
 *    samples are written before it goes;
 *  - a handler of SIGTERM, SIGINT, SIGHUP and of the fault signals (SEGV,
 *    BUS, FPE, ILL, ABRT, TRAP, SYS), standing in for SIG_DFL wherever the
 *    program's action is SIG_DFL: at load time, and whenever it sets
 *    SIG_DFL later (sigwrap.c installs it then, reports SIG_DFL to the
 *    program's queries, and wraps a one-shot SA_RESETHAND handler so that
 *    its reset lands here too); SIG_IGN and the program's handlers stand.
 *    It has the collector thread write the profile (bounded wait),
 *    restores SIG_DFL (libc's sigaction, past the interposed one) and
 *    raises the signal again, so the program still dies by it (a fault
 *    comes again when the faulting instruction runs again).
 *
 * That handler (on_fatal) is the runtime's only one for those signals:
 * the heap and allocs exit files (heap_env.c) are written by it too.
 * rt_fatal_handlers_install is idempotent and called by both
 * constructors (this one when a CPU profile starts, heap_env.c's when
 * this process owns a heap or allocs file), so whichever runs first
 * installs and the second never mistakes on_fatal for the program's
 * handler.  The handler does only async-signal-safe work (atomics,
 * getpid, nanosleep, sigaction, tgkill), errno preserved: it wakes the
 * heap writer thread (rt_heap_fatal_begin), has the collector write the
 * CPU profile (at most 5 s), then waits for the heap files (at most 5 s
 * more; both are written at once, by their own threads), and re-raises.
 * The signals are masked while it runs; a fatal signal taken by another
 * thread meanwhile waits for the first handler to finish (at most 11 s)
 * rather than kill the process mid-write.  A handler that interrupted a
 * thread holding a lock the writers need (the allocator's, the heap
 * table's) runs out its bound; the old file then stays as it was.
 *
 * Children: every process that inherits CPROF_CPU_PROFILE (an exec'd
 * descendant, or this pid after an exec) profiles, and outfile.c decides
 * what it writes.  A fork child is not profiled and never writes
 * (threads.c, api.c) unless CPROF_FOLLOW_FORK=1: then a fork handler
 * registered after the runtime's own reset starts its profile.
 * `cprof record --no-follow` limits profiling to the command's pid
 * (follow.c).
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_cpu.h"
#include "rt_profile.h"
#include "rt_lifecycle.h"
#include "heap_int.h"
#include "rt_env.h"
#include "rt_sig.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pid_t owner_pid;
static bool follow_fork;
static rt_out cpu_out;
static const int fatal_sigs[] = { SIGTERM, SIGINT, SIGHUP };
/* the fault signals: the program dies of them; written first when the
 * program left them at SIG_DFL */
static const int fault_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS };

/* The old image's profile handed to the new one across an exec (the same
 * process): "CPROF_CPU_PROFILE_EXEC=PID:FILE.cprof-exec.PID". */
static char exec_env[PATH_MAX + 96];

const char *rt_cpu_exec_env(void)
{
	return exec_env[0] ? exec_env : NULL;
}

/* Write the CPU profile now: at exit, or before an exec (at_exec).  Before
 * an exec the profile goes to FILE.cprof-exec.PID (nothing when it has no
 * sample), and the new image, the same process, merges it into its own
 * at its end: so `sh -c 'exec prog'` or bash running its last command in
 * place give one profile for the pid, not the shell's few samples in FILE
 * and the program's in FILE.PID.  Not AS-safe. */
void rt_cpu_exit_write(bool at_exec)
{
	int fd;
	rt_out *o;
	exec_env[0] = 0;
	if (getpid() != owner_pid || !rt_api_running(&fd, &o))
		return;
	int e = errno;
	char path[PATH_MAX];
	cpu_out.exec_to[0] = 0;
	if (at_exec && rt_out_path(&cpu_out, path, sizeof path) == 0)
		snprintf(cpu_out.exec_to, sizeof cpu_out.exec_to, "%s.cprof-exec.%ld", path,
			 (long)getpid());
	cpu_out.at_exec = at_exec;
	int rc = cprof_cpu_stop();
	cpu_out.at_exec = false;
	if (rc < 0)
		fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
								    : cprof_error_string(rc));
	else if (cpu_out.exec_to[0] && access(cpu_out.exec_to, F_OK) == 0)
		snprintf(exec_env, sizeof exec_env, "CPROF_CPU_PROFILE_EXEC=%ld:%s", (long)getpid(),
			 cpu_out.exec_to);
	errno = e;
}

/* An exec that failed: this image runs on, so profile on; the file
 * written for the new image is this one's to merge at its end. */
void rt_cpu_exec_failed(void)
{
	int fd;
	rt_out *o;
	if (getpid() != owner_pid || !cpu_out.active || rt_api_running(&fd, &o))
		return;
	int e = errno;
	if (exec_env[0])
		snprintf(cpu_out.pred, sizeof cpu_out.pred, "%s", cpu_out.exec_to);
	cpu_out.exec_to[0] = 0;
	exec_env[0] = 0;
	(void)rt_cpu_start_out(&cpu_out);
	errno = e;
}

/* From _exit or a signal handler: the collector writes, bounded.
 * [AS-safe]: a getpid, atomics and nanosleep. */
bool rt_cpu_exit_quick(int timeout_ms)
{
	int fd;
	rt_out *o;
	if (getpid() != owner_pid || !rt_api_running(&fd, &o))
		return false;
	if ((int)syscall(SYS_gettid) == atomic_load(&rt_collector_tid))
		return false;   /* the collector itself: it cannot wait for itself */
	return rt_collector_exit_write(fd, o, timeout_ms);
}

/* the runtime's work from its first instruction: a sample here is not the
 * program's exit */
static RT_EDGE_TEXT void at_exit(void)
{
	rt_self_enter();
	rt_cpu_exit_write(false);
	rt_self_leave();
}

/* Set once rt_fatal_handlers_install has looked at the signals: a second
 * call (the other constructor) must not take on_fatal for the program's. */
static atomic_bool fatal_installed;
/* fatal_busy: set by the first handler that runs; fatal_done: set when
 * it has written (or given up).  A second fatal signal (on another
 * thread, or ^C twice) waits for fatal_done instead of killing the
 * process while the first writes. */
static atomic_bool fatal_busy, fatal_done;

static void sleep_10ms(void)
{
	struct timespec ts = { 0, 10 * 1000000L };
	nanosleep(&ts, NULL);
}

/* The exit-time profiles from a context that may be a signal handler:
 * CPU by the collector thread, heap and allocs by their writer thread,
 * both at once, each bounded.  [AS-safe] */
void rt_exit_quick(int timeout_ms)
{
	bool heap = rt_heap_fatal_begin();
	rt_cpu_exit_quick(timeout_ms);
	if (heap)
		rt_heap_fatal_wait(timeout_ms);
}

/* SIGTERM, SIGINT, SIGHUP and the fault signals.  Every call is
 * async-signal-safe: atomics, getpid, nanosleep, sigaction,
 * syscall(tgkill), and the two writers' [AS-safe] requests. */
static void on_fatal(int sig)
{
	int e = errno;
	if (atomic_exchange(&fatal_busy, true)) {
		/* the first handler writes, then kills the process: at most 5 s
		 * for each profile; after that, die of this signal anyway */
		for (int i = 0; i < 1100 && !atomic_load(&fatal_done); i++)
			sleep_10ms();
	} else {
		rt_exit_quick(5000);
		atomic_store(&fatal_done, true);
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	rt_real_sigaction(sig, &dfl, NULL);
	/* pending until this handler returns and the mask is restored; a
	 * fault signal also comes again when the faulting instruction does */
	syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)sig);
	errno = e;
}

void rt_fatal_handlers_install(void)
{
	if (atomic_exchange(&fatal_installed, true))
		return;
	/* the others wait while this thread's handler runs (no nesting; a
	 * fault in the handler itself is then fatal at once) */
	sigset_t mask;
	sigemptyset(&mask);
	for (size_t j = 0; j < sizeof fatal_sigs / sizeof fatal_sigs[0]; j++)
		sigaddset(&mask, fatal_sigs[j]);
	for (size_t j = 0; j < sizeof fault_sigs / sizeof fault_sigs[0]; j++)
		sigaddset(&mask, fault_sigs[j]);
	rt_sig_fatal_handler_set(on_fatal, &mask);
	for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
		rt_sig_fatal_manage(fatal_sigs[i]);
	for (size_t i = 0; i < sizeof fault_sigs / sizeof fault_sigs[0]; i++)
		rt_sig_fatal_manage(fault_sigs[i]);
}

/* A forked child, after threads.c and api.c reset the runtime: with
 * CPROF_CPU_FOLLOW=1, profile this process too (its own file with a %p
 * pattern; else the tree rule: FILE if nobody wrote it, or FILE.PID). */
static void fork_child_start(void);

/* 0 outside fork; 1 while this thread is in lifecycle.c's fork wrapper;
 * 2 in the child once its handler left the start to the wrapper */
static __thread __attribute__((tls_model("initial-exec"))) int in_fork;

/* Nothing is written unless a followed child reads it: a page the parent
 * writes before fork is a copy-on-write fault after it, in the parent and
 * in the child (a fork-heavy program that profiles nothing pays both). */
void rt_fork_enter(void)
{
	if (follow_fork)
		in_fork = 1;
}

void rt_fork_leave(pid_t pid)
{
	int deferred = in_fork == 2;
	if (in_fork)
		in_fork = 0;
	if (pid == 0 && deferred) {
		int e = errno;
		rt_self_enter();
		fork_child_start();
		rt_self_leave();
		errno = e;
	}
	if (pid == 0)
		rt_modules_forked();   /* a followed heap profile's table builder */
}

RT_FORK_TEXT static void fork_child_follow(void)
{
	if (!follow_fork)
		return;
	if (in_fork == 1) {   /* started as the wrapper's fork returns */
		in_fork = 2;
		return;
	}
	fork_child_start();
}

static void fork_child_start(void)
{
	int e = errno;
	owner_pid = getpid();
	rt_sig_view_owner_here();   /* its on_fatal stands for SIG_DFL too */
	rt_out_forked(&cpu_out);
	int rc = rt_cpu_start_out(&cpu_out);
	/* this thread's unwind row cache came from the parent and may point at
	 * rows the start just replaced: walks from here (heap samples, in the
	 * forked child) read garbage return addresses through them, and stop
	 * after one or two frames.  Forget it; it refills on the next walk. */
	rt_unwind_forget(false);
	if (rc < 0)
		fprintf(stderr, "cprof: no CPU profile in forked child %ld: %s\n", (long)getpid(),
			*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	errno = e;
}

/* The deferred start of a descendant's CPU profile: a runtime thread
 * (every asynchronous signal blocked, never sampled) that polls the
 * process's CPU clock, every 2 ms while the process uses CPU, backing off
 * to 250 ms while it does not (a wrapper waiting for hours wakes 4 times
 * a second), and starts the profile once the process has used one
 * sampling period of CPU.  What the process ran before (that period, and
 * the start's own time, while the unwind tables are built) is not in its
 * profile.  Gone with a fork; an
 * exit first leaves nothing to write (the tree rule: no sample). */
static void *defer_main(void *arg)
{
	(void)arg;
	rt_self_enter();
	prctl(PR_SET_NAME, "cprof-cpu-wait");
	long long period = 1000000000LL / rt_cpu_rate(), last = -1;
	long sleep_ns = 2000000;
	for (;;) {
		struct timespec cpu, ts = { 0, sleep_ns };
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
		long long used = cpu.tv_sec * 1000000000LL + cpu.tv_nsec;
		if (used >= period)
			break;
		/* busy: look again soon; idle (a wrapper in waitpid): back off */
		sleep_ns = used > last ? 2000000 : sleep_ns < 250000000L ? sleep_ns * 2 : sleep_ns;
		last = used;
		ts.tv_nsec = sleep_ns;
		nanosleep(&ts, NULL);
	}
	int rc = getpid() == owner_pid ? rt_cpu_start_out(&cpu_out) : 0;
	if (rc < 0)
		fprintf(stderr, "cprof: no CPU profile: %s\n",
			*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	rt_self_leave();
	return NULL;
}

static void cprof_env_init_body(void);

/* The whole constructor is the runtime's own work (its allocations, a
 * CPU sample in it): never the program's. */
__attribute__((constructor))
static void cprof_env_init(void)
{
	rt_self_enter();
	cprof_env_init_body();
	rt_self_leave();
}

static void cprof_env_init_body(void)
{
	int e = errno;
	(void)rt_wants_stacks();
	rt_threads_init();
	long hz = 0;
	rt_env_rc hzr = rt_env_long("CPROF_CPU_HZ", 1, CPROF_CPU_HZ_MAX, "no CPU profile", &hz);
	static const char *const modes[] = { "auto", "perf", "timer" };   /* RT_CPU_MODE_* */
	int mode = RT_CPU_MODE_AUTO;
	rt_env_rc mr = rt_env_word("CPROF_CPU_MODE", modes, 3, "no CPU profile", &mode);
	if (mr == RT_ENV_OK)
		rt_cpu_mode_set(mode);
	if (!rt_out_init(&cpu_out, "CPROF_CPU_PROFILE", "CPU", true) ||
	    hzr == RT_ENV_BAD || mr == RT_ENV_BAD) {
		errno = e;
		return;
	}
	if (hzr == RT_ENV_OK)
		cprof_cpu_set_rate((int)hz);
	/* CPROF_FOLLOW_FORK for every profile; CPROF_CPU_FOLLOW, the older
	 * name, for the CPU profile only */
	bool follow = false;
	if (rt_env_bool("CPROF_FOLLOW_FORK", "forked children not profiled", &follow) == RT_ENV_OK ||
	    rt_env_bool("CPROF_CPU_FOLLOW", "forked children not profiled", &follow) == RT_ENV_OK)
		follow_fork = follow;
	owner_pid = getpid();
	/* this process's earlier image (before an exec) left its profile */
	const char *pred = getenv("CPROF_CPU_PROFILE_EXEC");
	if (pred) {
		char *end;
		long pid = strtol(pred, &end, 10);
		if (pid == (long)owner_pid && *end == ':' && access(end + 1, R_OK) == 0)
			snprintf(cpu_out.pred, sizeof cpu_out.pred, "%s", end + 1);
		unsetenv("CPROF_CPU_PROFILE_EXEC");   /* not the children's */
	}
	/* a descendant sharing FILE starts after its first period of CPU time
	 * (defer_main): most of the processes a profiled program starts are
	 * over sooner, would hold about one sample, and would pay the full
	 * start (the unwind tables: tens of ms) for nothing */
	if (cpu_out.tree && !cpu_out.root && !cpu_out.per_process && !cpu_out.pred[0] &&
	    rt_quiet_thread_start("cprof-cpu-defer", defer_main, NULL) == 0) {
		atexit(at_exit);
		rt_fatal_handlers_install();
		errno = e;
		return;
	}
	int rc = rt_cpu_start_out(&cpu_out);
	if (rc < 0) {
		fprintf(stderr, "cprof: no CPU profile: %s\n",
			*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
		errno = e;
		return;
	}
	atexit(at_exit);
	rt_fatal_handlers_install();
	if (follow_fork) {
		/* child handlers run in the order registered: the heap table's
		 * (which releases its locks in the child) must run before this
		 * one starts a profile, which allocates */
		rt_htab_atfork();
		pthread_atfork(NULL, NULL, fork_child_follow);
	}
	errno = e;
}
