/*
 * heap_env.c - the heap profiler's environment, for LD_PRELOAD use: a
 * constructor that turns sampling on, and the exit writers (atexit, and
 * a thread for the fatal signals).
 *
 *   CPROF_HEAP_RATE=BYTES     mean bytes between samples (default 524288;
 *                             1 records every allocation; 0 turns it off)
 *   CPROF_HEAP_SAMPLER=NAME   stratified (default) or poisson (Go's)
 *   CPROF_HEAP_PROFILE=FILE   write the heap profile to FILE at exit
 *   CPROF_ALLOCS_PROFILE=FILE write the allocs profile to FILE at exit
 *
 * Sampling is on whenever somebody can read the profile: a heap or
 * allocs file is asked for, CPROF_HEAP_RATE is set, the endpoint or a
 * dump or heap watch is configured, or the program chose the runtime
 * (linked it, statically or not, or dlopen'ed it: it may call the API).
 * A process that only has libcprof.so preloaded for other profiles (a
 * CPU profile, the commands a profiled script starts) does not pay for
 * heap samples nobody will read; cprof_heap_set_rate turns them on.
 * The constructor registers the table's fork handlers, sets the rate
 * and, when any CPROF_ profile or endpoint variable is set, makes the
 * unwinder ready (the module registry: tens of ms, not paid by processes
 * that profile nothing).
 * Allocations made before it runs (the loader, constructors of libraries
 * loaded before libcprof.so) are not sampled.  Bad values (envparse.c):
 * one line on stderr, and heap sampling off.
 *
 * Which process writes FILE: outfile.c's process tree rule (a %p pattern
 * gives each process its own file; otherwise a process that sampled
 * nothing never replaces another's profile, and FILE written by another
 * process of the run sends this one's to FILE.PID).  `cprof record
 * --no-follow` sets CPROF_HEAP_PID to the command's pid; any other process
 * drops the variables.  A forked child (same image, new pid) writes only
 * with CPROF_FOLLOW_FORK=1 (`cprof record` sets it), to its own file.
 *
 * When: at exit, by an atexit handler registered at load time, hence
 * after the program's own atexit handlers and C++ static destructors; or
 * on SIGTERM, SIGINT or SIGHUP left at SIG_DFL, by env.c's handler
 * (on_fatal, the runtime's one handler of those signals, installed by
 * rt_fatal_handlers_install from here too), which then lets the signal
 * kill the process.  Building a profile allocates and symbolizes: not in
 * a handler.  So the owner process starts a writer thread (hw_main:
 * libc's pthread_create, detached, named cprof-heap-exit, every
 * asynchronous signal blocked, marked as the runtime's own so none of
 * its allocations are sampled) that sleeps on a futex word; the handler
 * only sets the word and wakes it (rt_heap_fatal_begin) and polls, with
 * nanosleep and a 5 s bound, for the work to be done
 * (rt_heap_fatal_wait).  Exactly one of the thread and at_exit writes
 * (hw_state: WANT -> BUSY by compare-and-swap -> DONE); the handler
 * waits for DONE whoever writes, and at_exit, when the thread got there
 * first, waits too (bounded), so exit does not cut the files short.
 * at_exit blocks the three signals while it writes, so no handler on its
 * thread waits for a write it interrupted.  A forked child has no writer
 * thread and is not the owner: the handler returns at once there.  A
 * handler that runs out its bound lets the process die with a missing or
 * truncated temporary file, the old FILE untouched (outfile.c).
 *
 * Before anything else at exit, CPU sampling stops (rt_cpu_pause): writing
 * these profiles (symbolization) is the runtime's work, not the program's.
 */
#include "heap_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_profile.h"
#include "rt_lifecycle.h"
#include "rt_env.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* referenced by heap.c, so linking libcprof.a pulls this constructor in */
RT_HIDDEN const int rt_heap_env_linked = 1;

static pid_t owner;
static rt_out heap_out, allocs_out;
static bool heap_path, allocs_path;     /* a file is asked for */
static bool follow_fork;

/* For rt_out_write: a process that sampled no allocation (a wrapper) has
 * nothing to say. */
static bool heap_has(void *ctx)
{
	(void)ctx;
	cprof_heap_stats st;
	return cprof_heap_get_stats(&st) == 0 && st.sampled_total > 0;
}
static int heap_fn(int fd, void *ctx) { (void)ctx; return cprof_heap_write(fd, 0); }
static int allocs_fn(int fd, void *ctx) { (void)ctx; return cprof_allocs_write(fd, 0); }

/* sym_ms: the bound for the symbolizer process (rt_profile.h) */
static void write_one(bool allocs, int sym_ms)
{
	rt_sym_defer_begin(sym_ms);
	int rc = rt_out_write(allocs ? &allocs_out : &heap_out, heap_has, allocs ? allocs_fn : heap_fn,
			      NULL);
	rt_sym_defer_end();
	if (rc < 0)
		fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
								   : cprof_error_string(rc));
}

/* The exit write happens once per process, by whoever claims it first:
 * HW_WANT -> HW_BUSY (compare-and-swap) -> HW_DONE.  HW_NONE: this
 * process has no file to write (not the owner, or not asked). */
enum { HW_NONE, HW_WANT, HW_BUSY, HW_DONE };
static _Atomic int hw_state;
/* The writer thread: blocked on the futex word hw_wake until the handler
 * sets it to 1.  hw_thread: the thread was started (in process owner). */
static _Atomic uint32_t hw_wake;
static atomic_bool hw_thread;
static const int fatal_sigs[] = { SIGTERM, SIGINT, SIGHUP };

/* Write the files if nobody has claimed them yet; false when somebody
 * else has (HW_BUSY: writing now; HW_DONE). */
static bool write_files_once(int sym_ms)
{
	int want = HW_WANT;
	if (!atomic_compare_exchange_strong(&hw_state, &want, HW_BUSY))
		return false;
	if (heap_path)
		write_one(false, sym_ms);
	if (allocs_path)
		write_one(true, sym_ms);
	atomic_store(&hw_state, HW_DONE);
	return true;
}

/* [AS-safe] Wait, at most timeout_ms, for the files to be written. */
static bool wait_written(int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		if (atomic_load(&hw_state) == HW_DONE)
			return true;
		if (waited >= timeout_ms)
			return false;
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

void rt_heap_exit_write(bool at_exec)
{
	if (getpid() != owner || atomic_load(&hw_state) == HW_NONE)
		return;
	int e = errno;
	rt_cpu_pause();
	heap_out.at_exec = allocs_out.at_exec = at_exec;
	/* While this thread writes, the fatal signals wait (another thread
	 * may take them: its handler waits for HW_DONE); a handler run on
	 * this thread in the middle would wait for a write it interrupted. */
	sigset_t fatal, old;
	sigemptyset(&fatal);
	for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
		sigaddset(&fatal, fatal_sigs[i]);
	pthread_sigmask(SIG_BLOCK, &fatal, &old);
	if (!write_files_once(rt_sym_timeout_ms()))
		wait_written(5000);   /* the writer thread has them: exit must not cut them short */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	heap_out.at_exec = allocs_out.at_exec = false;
	errno = e;
}

void rt_heap_exec_failed(void)
{
	int done = HW_DONE;
	if (getpid() == owner)
		atomic_compare_exchange_strong(&hw_state, &done, HW_WANT);
}

/* the runtime's work from its first instruction */
static RT_EDGE_TEXT void at_exit(void)
{
	rt_self_enter();
	rt_heap_exit_write(false);
	rt_self_leave();
}

/* A forked child with CPROF_FOLLOW_FORK=1: its own heap and allocs
 * profiles, written at its exit (no writer thread here: a fatal signal
 * in the child does not write them). */
static void fork_child_follow(void)
{
	owner = getpid();
	atomic_store(&hw_thread, false);
	atomic_store(&hw_state, HW_WANT);
	rt_out_forked(&heap_out);
	rt_out_forked(&allocs_out);
	/* its walks wait for tables the parent had not built: a builder of its
	 * own as fork returns (not here, inside fork) */
	rt_modules_child_wants_builder();
}

/* The writer thread: started by the constructor in the process that owns
 * a file; libc's pthread_create (not the program's thread, no CPU timer),
 * detached, every asynchronous signal blocked, marked as the runtime's
 * own (its allocations are never sampled).  It sleeps on hw_wake (a raw
 * futex: no file descriptor the program could close, and not the sync
 * profiler's interposed sem_wait) until a fatal signal's handler wakes
 * it, writes the files as at_exit does, and ends.  Until then it costs one
 * sleeping thread; exit() does not wait for it. */
static void *hw_main(void *arg)
{
	(void)arg;
	rt_self_enter();
	prctl(PR_SET_NAME, "cprof-heap-exit");
	while (atomic_load(&hw_wake) == 0)
		syscall(SYS_futex, &hw_wake, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	write_files_once(2000);   /* within the 5 s its waiters give it */
	rt_self_leave();
	return NULL;
}

static void hw_start(void)
{
	if (rt_quiet_thread_start("cprof-heapw", hw_main, NULL) == 0)
		atomic_store(&hw_thread, true);
	else
		fprintf(stderr, "cprof: cannot create the heap writer thread: no heap or allocs "
				"profile if a signal ends the program\n");
}

bool rt_heap_fatal_begin(void)
{
	/* owner: a forked child copied hw_thread, not the thread */
	if (!atomic_load(&hw_thread) || getpid() != owner)
		return false;
	if (atomic_load(&hw_state) == HW_WANT && atomic_exchange(&hw_wake, 1) == 0)
		syscall(SYS_futex, &hw_wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return true;
}

bool rt_heap_fatal_wait(int timeout_ms)
{
	if (!atomic_load(&hw_thread) || getpid() != owner)
		return false;
	return wait_written(timeout_ms);
}

/* Whether this copy of the runtime came in through LD_PRELOAD (rather
 * than being linked or dlopen'ed by the program). */
static bool preloaded(void)
{
	Dl_info di;
	const char *pre = getenv("LD_PRELOAD");
	if (!pre || !*pre || !dladdr((void *)&preloaded, &di) || !di.dli_fname)
		return false;
	const char *me = strrchr(di.dli_fname, '/');
	me = me ? me + 1 : di.dli_fname;
	size_t ml = strlen(me);
	if (ml == 0)
		return false;
	for (const char *t = pre; *t;) {
		size_t n = strcspn(t, " :");
		const char *base = t;
		for (size_t i = 0; i < n; i++)
			if (t[i] == '/')
				base = t + i + 1;
		if ((size_t)(t + n - base) == ml && memcmp(base, me, ml) == 0)
			return true;
		t += n;
		t += strspn(t, " :");
	}
	return false;
}

/* Whether anybody can read a heap profile of this process. */
static bool heap_wanted(bool rate_set)
{
	if (heap_path || allocs_path || rate_set || !preloaded())
		return true;
	static const char *const vars[] = { "CPROF_HTTP", "CPROF_DUMP_SIGNAL", "CPROF_DUMP_DIR",
					    "CPROF_WATCH_HEAP" };
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return true;
	}
	return false;
}

static void cprof_heap_env_init_body(void);

/* The whole constructor is the runtime's own work (its allocations, a
 * CPU sample in it): never the program's. */
__attribute__((constructor))
static void cprof_heap_env_init(void)
{
	rt_self_enter();
	cprof_heap_env_init_body();
	rt_self_leave();
}

static void cprof_heap_env_init_body(void)
{
	int e = errno;
	rt_self_enter();
	long rate = CPROF_HEAP_RATE_DEFAULT;
	bool rate_set = false;
	unsigned long long r;
	static const char *const samplers[] = { "stratified", "poisson" };
	int smp = 0;
	rt_env_rc rr = rt_env_size("CPROF_HEAP_RATE", 0, LONG_MAX, "heap sampling off", &r);
	rt_env_rc sr = rt_env_word("CPROF_HEAP_SAMPLER", samplers, 2, "heap sampling off", &smp);
	if (rr == RT_ENV_OK) {
		rate = (long)r;
		rate_set = true;
	}
	if (sr == RT_ENV_OK && smp == 1)
		atomic_store(&rt_heap_sampler, RT_HSAMPLER_POISSON);
	bool bad = rr == RT_ENV_BAD || sr == RT_ENV_BAD;
	long want_pid = 0;
	if (rt_env_long("CPROF_HEAP_PID", 1, LONG_MAX, "no heap or allocs profile", &want_pid) ==
		    RT_ENV_BAD ||
	    (want_pid && want_pid != (long)getpid())) {
		/* `cprof record --no-follow`: only the command's own process */
		unsetenv("CPROF_HEAP_PROFILE");
		unsetenv("CPROF_ALLOCS_PROFILE");
		unsetenv("CPROF_HEAP_PID");
	}
	heap_path = rt_out_init(&heap_out, "CPROF_HEAP_PROFILE", "heap", true);
	allocs_path = rt_out_init(&allocs_out, "CPROF_ALLOCS_PROFILE", "allocs", true);
	bool follow = false;
	if (rt_env_bool("CPROF_FOLLOW_FORK", "forked children not profiled", &follow) != RT_ENV_OK)
		follow = false;
	follow_fork = follow;
	if (heap_path || allocs_path) {
		owner = getpid();
		atomic_store(&hw_state, HW_WANT);
		atexit(at_exit);
		hw_start();
		rt_fatal_handlers_install();
		if (follow_fork) {
			rt_htab_atfork();   /* its child handler first: see env.c */
			pthread_atfork(NULL, NULL, fork_child_follow);
		}
	}
	if (bad)
		rate = 0;
	/* the unwinder's module registry costs tens of ms at start (unwind
	 * tables of every loaded library): built only when some profile or
	 * the endpoint is asked for, so that the many processes a profiled
	 * command starts do not all pay it.  Without it, samples have no
	 * stack ("[unknown stack]") until the registry is built
	 * (cprof_heap_set_rate, the CPU profiler). */
	if (!heap_wanted(rate_set))
		rate = 0;
	bool stacks = rt_wants_stacks();
	if (rate > 0 && rt_heap_hooks_active() && stacks) {
		cprof_heap_set_rate(rate);
	} else if (rate > 0 && rt_heap_hooks_active()) {
		rt_heap_hooks_init();
		rt_htab_atfork();
		atomic_store(&rt_heap_rate, rate);
	} else
		atomic_store(&rt_heap_rate, rate);   /* off, or the hooks are shadowed */
	atomic_store(&rt_heap_started, true);
	if (rate > 0 && (heap_path || allocs_path) && !rt_heap_hooks_active())
		fprintf(stderr, "cprof: the heap profile will be empty: malloc is provided by a library "
				"preloaded before libcprof.so (put libcprof.so first in LD_PRELOAD)\n");
	rt_self_leave();
	errno = e;
}
