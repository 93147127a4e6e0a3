/*
 * sync_env.c - the environment of the mutex and block profiles, for
 * LD_PRELOAD use:
 *
 *   CPROF_MUTEX_FRACTION=N  1 in N contended unlocks recorded (0 off;
 *                           default RT_MUTEX_FRACTION_DEFAULT = 10)
 *   CPROF_BLOCK_RATE=NS     one blocking event per NS ns blocked on average
 *                           (1 every event, 0 off; default 10 ms)
 *   CPROF_MUTEX_PROFILE=FILE, CPROF_BLOCK_PROFILE=FILE
 *                           write that profile (profile.proto, gzipped) at
 *                           exit; FILE ending in ".txt" gets the debug=1 text
 *
 * Bad values are reported once on stderr and ignored.  The files are
 * written by an atexit handler, by the process that loaded the runtime
 * with these variables first (its pid is kept in CPROF_SYNC_PROFILE_PID,
 * as CPROF_CPU_PROFILE_PID does for the CPU profile): programs it runs
 * inherit the environment but do not overwrite FILE; fork children never
 * write.
 */
#include "sync_int.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t owner;
static const char *mutex_file, *block_file;

static bool parse_long(const char *name, long lo, long *out)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return false;
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end || x < lo) {
		fprintf(stderr, "cprof: ignoring %s=%s: not a number >= %ld\n", name, v, lo);
		return false;
	}
	*out = x;
	return true;
}

static void write_one(const char *path, bool mutex)
{
	size_t l = strlen(path);
	int debug = l > 4 && strcmp(path + l - 4, ".txt") == 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "cprof: cannot write the %s profile: %s: %s\n",
			mutex ? "mutex" : "block", path, strerror(errno));
		return;
	}
	int rc = mutex ? cprof_mutex_write(fd, debug) : cprof_block_write(fd, debug);
	if (rc < 0)
		fprintf(stderr, "cprof: %s\n", *cprof_last_error() ? cprof_last_error()
								  : cprof_error_string(rc));
	close(fd);
}

static void at_exit(void)
{
	if (getpid() != owner)
		return;
	int e = errno;
	if (mutex_file)
		write_one(mutex_file, true);
	if (block_file)
		write_one(block_file, false);
	errno = e;
}

__attribute__((constructor))
static void sync_env_init(void)
{
	int e = errno;
	long v;
	if (parse_long("CPROF_MUTEX_FRACTION", 0, &v))
		cprof_mutex_set_fraction(v > 1000000000L ? 1000000000 : (int)v);
	if (parse_long("CPROF_BLOCK_RATE", 0, &v))
		cprof_block_set_rate(v);
	const char *mf = getenv("CPROF_MUTEX_PROFILE");
	const char *bf = getenv("CPROF_BLOCK_PROFILE");
	if ((!mf || !*mf) && (!bf || !*bf)) {
		errno = e;
		return;
	}
	pid_t me = getpid();
	const char *o = getenv("CPROF_SYNC_PROFILE_PID");
	if (o && *o && atol(o) != (long)me) {
		errno = e;
		return;     /* a program run by the profiled one */
	}
	char pid[32];
	snprintf(pid, sizeof pid, "%ld", (long)me);
	setenv("CPROF_SYNC_PROFILE_PID", pid, 1);
	owner = me;
	mutex_file = mf && *mf ? mf : NULL;
	block_file = bf && *bf ? bf : NULL;
	atexit(at_exit);
	errno = e;
}
