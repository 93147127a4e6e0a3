/*
 * follow.c - which processes of a `cprof record --no-follow` run profile,
 * decided before the runtime reads its environment.
 *
 * `cprof record` preloads libcprof.so into a command, and every process
 * the command starts inherits the preload and CPROF_CPU_PROFILE.  By
 * default record follows them all: it names a per-process pattern
 * (FILE.%p, outfile.c) and sets CPROF_FOLLOW_FORK=1 so that forked
 * children profile too, then merges the files.  With --no-follow it sets
 *
 *   CPROF_CPU_PID=PID   only the process with that pid (the command, through
 *                       its own execs, which keep the pid) profiles; in any
 *                       other process this constructor removes
 *                       CPROF_CPU_PROFILE (and CPROF_CPU_PID) from the
 *                       environment, so neither it nor its descendants
 *                       profile.
 *
 * The constructor has priority 101, so it runs before the runtime's own
 * constructor (env.c, default priority) reads CPROF_CPU_PROFILE.  It runs
 * once per process image, in the loader's thread, before main: setenv and
 * unsetenv are safe there.  A bad CPROF_CPU_PID (not a pid) is reported
 * (envparse.c) and no process profiles.
 */
#include "rt_env.h"

#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor(101))) static void rt_follow_init(void)
{
	const char *file = getenv("CPROF_CPU_PROFILE");
	if (!file || !*file)
		return;
	long pid = 0;
	rt_env_rc r = rt_env_long("CPROF_CPU_PID", 1, 0x7fffffffL, "no CPU profile", &pid);
	if (r == RT_ENV_BAD || (r == RT_ENV_OK && pid != (long)getpid())) {
		unsetenv("CPROF_CPU_PROFILE");
		unsetenv("CPROF_CPU_PID");
	}
}
