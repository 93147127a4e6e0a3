/*
 * tprof_env.c - the environment of the thread snapshot, threadcreate and
 * deadlock profiles for LD_PRELOAD use: each is written once, at exit (an
 * atexit handler registered at load time, so after the program's own) or
 * before an exec, to the file named by
 *
 *   CPROF_THREADS_PROFILE=FILE       thread snapshot at exit
 *   CPROF_THREADCREATE_PROFILE=FILE  every pthread_create of the run
 *   CPROF_DEADLOCK_PROFILE=FILE      cycles and stuck threads at exit
 *
 * in the format CPROF_<KIND>_DEBUG=0|1|2 chooses (1 Go's text, 2 the threads
 * dump); without it, a FILE ending ".txt" gets the text (debug=1), as the
 * mutex and block profiles' files do, and any other the gzipped
 * profile.proto (debug=0).  A bad value (envparse.c) gets one line on
 * stderr and that file is not written.  Which process writes: outfile.c's
 * process tree rule (a process with nothing to show never replaces
 * another's file; FILE written by another process of the run sends this
 * one's to FILE.PID; %p gives each process its own); a fork child never
 * writes.  CPU sampling stops first (rt_cpu_pause).
 */
#include "rt_base.h"
#include "rt_profile.h"
#include "rt_lifecycle.h"
#include "rt_env.h"
#include "cprof.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t tp_owner;
static atomic_bool tp_written;

static struct tout {
	const char *file_env, *debug_env, *what;
	int (*write)(int fd, int debug);
	rt_kind kind;
	rt_out out;
	bool asked;
	int debug;
} outs[] = {
	{ "CPROF_THREADS_PROFILE", "CPROF_THREADS_DEBUG", "threads", cprof_threads_write,
	  RT_KIND_THREADS, { 0 }, false, 0 },
	{ "CPROF_THREADCREATE_PROFILE", "CPROF_THREADCREATE_DEBUG", "threadcreate",
	  cprof_threadcreate_write, RT_KIND_THREADCREATE, { 0 }, false, 0 },
	{ "CPROF_DEADLOCK_PROFILE", "CPROF_DEADLOCK_DEBUG", "deadlock", cprof_deadlock_write,
	  RT_KIND_DEADLOCK, { 0 }, false, 0 },
};
#define NOUTS (sizeof outs / sizeof outs[0])

static bool has_fn(void *ctx)
{
	struct tout *t = ctx;
	if (t->kind == RT_KIND_THREADS)
		return true;   /* a snapshot always shows the threads there are */
	cprof_profile *p = NULL;
	bool has = rt_profile_build(t->kind, &p) == 0 && p && p->samples.n > 0;
	cprof_profile_free(p);
	return has;
}

static int write_fn(int fd, void *ctx)
{
	struct tout *t = ctx;
	return t->write(fd, t->debug);
}

void rt_tprof_exit_write(bool at_exec)
{
	if (getpid() != tp_owner || atomic_exchange(&tp_written, true))
		return;
	int e = errno;
	rt_cpu_pause();
	for (size_t i = 0; i < NOUTS; i++) {
		if (!outs[i].asked)
			continue;
		outs[i].out.at_exec = at_exec;
		/* profile.proto (debug 0): named by the symbolizer process */
		if (outs[i].debug == 0)
			rt_sym_defer_begin(rt_sym_timeout_ms());
		int rc = rt_out_write(&outs[i].out, has_fn, write_fn, &outs[i]);
		rt_sym_defer_end();
		outs[i].out.at_exec = false;
		if (rc < 0)
			fprintf(stderr, "cprof: %s\n",
				*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	}
	errno = e;
}

void rt_tprof_exec_failed(void)
{
	if (getpid() == tp_owner)
		atomic_store(&tp_written, false);
}

/* the runtime's work from its first instruction */
static RT_EDGE_TEXT void tprof_at_exit(void)
{
	rt_self_enter();
	rt_tprof_exit_write(false);
	rt_self_leave();
}

static void tprof_env_init_body(void);

/* The whole constructor is the runtime's own work (its allocations, a
 * CPU sample in it): never the program's. */
__attribute__((constructor))
static void tprof_env_init(void)
{
	rt_self_enter();
	tprof_env_init_body();
	rt_self_leave();
}

static void tprof_env_init_body(void)
{
	int e = errno;
	bool any = false;
	for (size_t i = 0; i < NOUTS; i++) {
		struct tout *t = &outs[i];
		char conseq[64];
		snprintf(conseq, sizeof conseq, "no %s profile", t->what);
		long d = 0;
		rt_env_rc dr = rt_env_long(t->debug_env, 0, 2, conseq, &d);
		if (!rt_out_init(&t->out, t->file_env, t->what, true) || dr == RT_ENV_BAD)
			continue;
		size_t pl = strlen(t->out.pattern);
		t->debug = dr == RT_ENV_OK ? (int)d
					   : pl >= 4 && strcmp(t->out.pattern + pl - 4, ".txt") == 0;
		t->asked = any = true;
	}
	if (any) {
		tp_owner = getpid();
		atexit(tprof_at_exit);
	}
	errno = e;
}
