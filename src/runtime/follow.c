/*
 * follow.c - which processes of a `cprof record` run profile, decided
 * before the runtime reads its environment.
 *
 * `cprof record` preloads libcprof.so into a command, and every process
 * the command starts inherits the preload and CPROF_CPU_PROFILE.  Left
 * alone, each of them would write its profile to the same FILE, the last
 * one to exit winning.  record therefore also sets one of:
 *
 *   CPROF_CPU_PID=PID   only the process with that pid (the command, through
 *                       its own execs, which keep the pid) profiles; in any
 *                       other process this constructor removes
 *                       CPROF_CPU_PROFILE (and CPROF_CPU_PID) from the
 *                       environment, so neither it nor its descendants
 *                       profile;
 *   CPROF_CPU_FOLLOW=1  every process profiles to FILE.PID: the first one
 *                       keeps FILE in CPROF_CPU_FOLLOW_BASE, and each process
 *                       rewrites CPROF_CPU_PROFILE to BASE.PID.
 *
 * The constructor has priority 101, so it runs before the runtime's own
 * constructor (env.c, default priority) reads CPROF_CPU_PROFILE.  It runs
 * once per process image, in the loader's thread, before main: setenv and
 * unsetenv are safe there.  A child that forks without exec is not
 * followed: the runtime turns profiling off in forked children.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor(101))) static void rt_follow_init(void)
{
	const char *file = getenv("CPROF_CPU_PROFILE");
	if (!file || !*file)
		return;
	const char *follow = getenv("CPROF_CPU_FOLLOW");
	if (follow && strcmp(follow, "1") == 0) {
		const char *base = getenv("CPROF_CPU_FOLLOW_BASE");
		if (!base || !*base) {
			if (setenv("CPROF_CPU_FOLLOW_BASE", file, 1) != 0)
				return;
			base = getenv("CPROF_CPU_FOLLOW_BASE");
			if (!base)
				return;
		}
		size_t n = strlen(base) + 24;
		char *path = malloc(n);
		if (!path)
			return;
		snprintf(path, n, "%s.%ld", base, (long)getpid());
		setenv("CPROF_CPU_PROFILE", path, 1);
		free(path);
		return;
	}
	const char *want = getenv("CPROF_CPU_PID");
	if (!want || !*want)
		return;
	char *end;
	long pid = strtol(want, &end, 10);
	if (*end || pid != (long)getpid()) {
		unsetenv("CPROF_CPU_PROFILE");
		unsetenv("CPROF_CPU_PID");
	}
}
