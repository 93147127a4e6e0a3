/*
 * sync_env.c - the environment of the mutex and block profiles, for
 * LD_PRELOAD use:
 *
 *   CPROF_MUTEX_FRACTION=N  1 in N contended unlocks recorded (0 off;
 *                           default RT_MUTEX_FRACTION_DEFAULT = 10)
 *   CPROF_BLOCK_RATE=NS     one blocking event per NS ns blocked on average
 *                           (1 every event, 0 off; default 10 ms; a unit
 *                           may follow: 10ms, 500us, 1s)
 *   CPROF_MUTEX_PROFILE=FILE, CPROF_BLOCK_PROFILE=FILE
 *                           write that profile (profile.proto, gzipped) at
 *                           exit; FILE ending in ".txt" gets the debug=1 text
 *
 * Bad values (envparse.c) get one line on stderr and turn that profile
 * off.  The files are written at exit (an atexit handler) or before an
 * exec, by outfile.c's process tree rule: a process that recorded no
 * event never replaces another's profile; FILE written by another
 * process of the run sends this one's to FILE.PID; %p in FILE gives each
 * process its own.  Fork children never write.  CPU sampling stops first
 * (rt_cpu_pause): writing is the runtime's work.
 */
#include "sync_int.h"
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

static pid_t owner;
static rt_out outs[2];          /* mutex, block */
static bool asked[2];
static atomic_bool written;

static bool has_fn(void *ctx)
{
	bool mutex = ctx == &outs[0];
	cprof_profile *p = NULL;
	bool has = (mutex ? rt_mutex_build(&p) : rt_block_build(&p)) == 0 && p && p->samples.n > 0;
	cprof_profile_free(p);
	return has;
}

static int write_fn(int fd, void *ctx)
{
	rt_out *o = ctx;
	size_t l = strlen(o->pattern);
	int debug = l > 4 && strcmp(o->pattern + l - 4, ".txt") == 0;
	return o == &outs[0] ? cprof_mutex_write(fd, debug) : cprof_block_write(fd, debug);
}

void rt_sync_exit_write(bool at_exec)
{
	if (getpid() != owner || atomic_exchange(&written, true))
		return;
	int e = errno;
	rt_cpu_pause();
	for (int i = 0; i < 2; i++) {
		if (!asked[i])
			continue;
		outs[i].at_exec = at_exec;
		/* profile.proto (not .txt): named by the symbolizer process */
		size_t l = strlen(outs[i].pattern);
		bool proto = !(l > 4 && strcmp(outs[i].pattern + l - 4, ".txt") == 0);
		if (proto)
			rt_sym_defer_begin(rt_sym_timeout_ms());
		int rc = rt_out_write(&outs[i], has_fn, write_fn, &outs[i]);
		rt_sym_defer_end();
		outs[i].at_exec = false;
		if (rc < 0)
			fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
									  : cprof_error_string(rc));
	}
	errno = e;
}

void rt_sync_exec_failed(void)
{
	if (getpid() == owner)
		atomic_store(&written, false);
}

/* the runtime's work from its first instruction */
static RT_EDGE_TEXT void at_exit(void)
{
	rt_self_enter();
	rt_sync_exit_write(false);
	rt_self_leave();
}

static void sync_env_init_body(void);

/* The whole constructor is the runtime's own work (its allocations, a
 * CPU sample in it): never the program's. */
__attribute__((constructor))
static void sync_env_init(void)
{
	rt_self_enter();
	sync_env_init_body();
	rt_self_leave();
}

static void sync_env_init_body(void)
{
	int e = errno;
	long v;
	switch (rt_env_long("CPROF_MUTEX_FRACTION", 0, 1000000000L, "mutex profile off", &v)) {
	case RT_ENV_OK: cprof_mutex_set_fraction((int)v); break;
	case RT_ENV_BAD: cprof_mutex_set_fraction(0); break;
	case RT_ENV_UNSET: break;
	}
	long long ns;
	switch (rt_env_ns("CPROF_BLOCK_RATE", 0, 1000000000000000LL, "block profile off", &ns)) {
	case RT_ENV_OK: cprof_block_set_rate((long)ns); break;
	case RT_ENV_BAD: cprof_block_set_rate(0); break;
	case RT_ENV_UNSET: break;
	}
	asked[0] = rt_out_init(&outs[0], "CPROF_MUTEX_PROFILE", "mutex", true);
	asked[1] = rt_out_init(&outs[1], "CPROF_BLOCK_PROFILE", "block", true);
	if (asked[0] || asked[1]) {
		owner = getpid();
		atexit(at_exit);
	}
	errno = e;
}
