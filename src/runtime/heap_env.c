/*
 * heap_env.c - the heap profiler's environment, for LD_PRELOAD use: a
 * constructor that turns sampling on and the exit writer.
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
 * loaded before libcprof.so) are not sampled.  Bad values: one line on
 * stderr, the default stands.
 *
 * Which process writes FILE: `cprof record --heap` sets CPROF_HEAP_PID to
 * the command's pid; any other process (children inheriting the
 * environment) drops the variables, so it never overwrites FILE.  Without
 * record, the first process records its pid in CPROF_HEAP_PROFILE_PID and
 * a process started later with another pid there does not write; a forked
 * child (same image, new pid) never writes.  The files are written by an
 * atexit handler registered at load time, hence after the program's own
 * atexit handlers and C++ static destructors; a process killed by a
 * signal writes nothing (building a profile allocates: not from a
 * handler).
 */
#include "heap_int.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* referenced by heap.c, so linking libcprof.a pulls this constructor in */
RT_HIDDEN const int rt_heap_env_linked = 1;

static pid_t owner;
static const char *heap_path, *allocs_path;

static void write_one(const char *path, bool allocs)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "cprof: cannot write the %s profile to %s: %s\n",
			allocs ? "allocs" : "heap", path, strerror(errno));
		return;
	}
	int rc = allocs ? cprof_allocs_write(fd, 0) : cprof_heap_write(fd, 0);
	if (close(fd) != 0 && rc == 0) {
		rc = CPROF_ERR_IO;
		rt_set_error("cannot write the %s profile to %s: %s", allocs ? "allocs" : "heap",
			     path, strerror(errno));
	}
	if (rc < 0)
		fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
								   : cprof_error_string(rc));
}

static void at_exit(void)
{
	if (getpid() != owner)
		return;
	int e = errno;
	if (heap_path)
		write_one(heap_path, false);
	if (allocs_path)
		write_one(allocs_path, true);
	errno = e;
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

__attribute__((constructor))
static void cprof_heap_env_init(void)
{
	int e = errno;
	rt_self_enter();
	long rate = CPROF_HEAP_RATE_DEFAULT;
	bool rate_set = false;
	const char *r = getenv("CPROF_HEAP_RATE");
	if (r && *r) {
		char *end;
		errno = 0;
		long v = strtol(r, &end, 10);
		if (errno || *end || end == r || v < 0) {
			fprintf(stderr, "cprof: ignoring CPROF_HEAP_RATE=%s: not a number of bytes >= 0\n", r);
		} else {
			rate = v;
			rate_set = true;
		}
	}
	const char *smp = getenv("CPROF_HEAP_SAMPLER");
	if (smp && *smp) {
		if (strcmp(smp, "poisson") == 0)
			atomic_store(&rt_heap_sampler, RT_HSAMPLER_POISSON);
		else if (strcmp(smp, "stratified") != 0)
			fprintf(stderr, "cprof: ignoring CPROF_HEAP_SAMPLER=%s: not stratified or poisson\n",
				smp);
	}
	pid_t me = getpid();
	const char *want = getenv("CPROF_HEAP_PID");
	if (want && *want && atol(want) != (long)me) {
		unsetenv("CPROF_HEAP_PROFILE");
		unsetenv("CPROF_ALLOCS_PROFILE");
		unsetenv("CPROF_HEAP_PID");
	}
	const char *hp = getenv("CPROF_HEAP_PROFILE");
	const char *ap = getenv("CPROF_ALLOCS_PROFILE");
	heap_path = hp && *hp ? hp : NULL;
	allocs_path = ap && *ap ? ap : NULL;
	if (heap_path || allocs_path) {
		const char *ownr = getenv("CPROF_HEAP_PROFILE_PID");
		if (want && *want) {
			/* record made FILE this process's */
		} else if (ownr && *ownr && atol(ownr) != (long)me) {
			heap_path = allocs_path = NULL;
		} else {
			char pid[32];
			snprintf(pid, sizeof pid, "%ld", (long)me);
			setenv("CPROF_HEAP_PROFILE_PID", pid, 1);
			/* setenv may have moved the strings: read them again */
			hp = getenv("CPROF_HEAP_PROFILE");
			ap = getenv("CPROF_ALLOCS_PROFILE");
			heap_path = hp && *hp ? hp : NULL;
			allocs_path = ap && *ap ? ap : NULL;
		}
	}
	if (heap_path || allocs_path) {
		owner = me;
		atexit(at_exit);
	}
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
