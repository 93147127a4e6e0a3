/*
 * tprof_env.c - the environment of the thread snapshot, threadcreate and
 * deadlock profiles for LD_PRELOAD use (issue 6): each is written once, at
 * exit (an atexit handler registered at load time, so after the program's
 * own), to the file named by
 *
 *   CPROF_THREADS_PROFILE=FILE       thread snapshot at exit
 *   CPROF_THREADCREATE_PROFILE=FILE  every pthread_create of the run
 *   CPROF_DEADLOCK_PROFILE=FILE      cycles and stuck threads at exit
 *
 * in the format CPROF_<KIND>_DEBUG=0|1|2 chooses (1 Go's text, 2 the threads
 * dump); without it, a FILE ending ".txt" gets the text (debug=1), as the
 * mutex and block profiles' files do, and any other the gzipped
 * profile.proto (debug=0).  Only the process that
 * loaded the runtime first writes: it records its pid in CPROF_TPROF_PID,
 * and a descendant that exec'd with the inherited environment (another
 * pid) or a fork child (getpid() differs) writes nothing.  Errors are
 * reported once on stderr.
 */
#include "rt_int.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t tp_owner;

static const struct {
	const char *file_env, *debug_env;
	int (*write)(int fd, int debug);
} outs[] = {
	{ "CPROF_THREADS_PROFILE", "CPROF_THREADS_DEBUG", cprof_threads_write },
	{ "CPROF_THREADCREATE_PROFILE", "CPROF_THREADCREATE_DEBUG", cprof_threadcreate_write },
	{ "CPROF_DEADLOCK_PROFILE", "CPROF_DEADLOCK_DEBUG", cprof_deadlock_write },
};

static int debug_of(const char *env, const char *path)
{
	const char *v = getenv(env);
	size_t pl = strlen(path);
	if (!v || !*v)
		return pl >= 4 && strcmp(path + pl - 4, ".txt") == 0 ? 1 : 0;
	char *end;
	long d = strtol(v, &end, 10);
	if (*end || d < 0 || d > 2) {
		fprintf(stderr, "cprof: ignoring %s=%s: not 0, 1 or 2\n", env, v);
		return 0;
	}
	return (int)d;
}

static void tprof_at_exit(void)
{
	if (getpid() != tp_owner)
		return;
	int e = errno;
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
		const char *path = getenv(outs[i].file_env);
		if (!path || !*path)
			continue;
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "cprof: cannot write %s=%s: %s\n", outs[i].file_env, path,
				strerror(errno));
			continue;
		}
		int rc = outs[i].write(fd, debug_of(outs[i].debug_env, path));
		if (close(fd) != 0 && rc == 0)
			rc = CPROF_ERR_IO;
		if (rc < 0)
			fprintf(stderr, "cprof: %s: %s\n", path,
				*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	}
	errno = e;
}

__attribute__((constructor))
static void tprof_env_init(void)
{
	int e = errno;
	bool any = false;
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
		const char *path = getenv(outs[i].file_env);
		any = any || (path && *path);
	}
	if (any) {
		char me[32];
		snprintf(me, sizeof me, "%d", (int)getpid());
		const char *owner = getenv("CPROF_TPROF_PID");
		if (owner && *owner && strcmp(owner, me) != 0) {
			errno = e;
			return;   /* an exec'd descendant: not ours to write */
		}
		setenv("CPROF_TPROF_PID", me, 1);
		tp_owner = getpid();
		atexit(tprof_at_exit);
	}
	errno = e;
}
