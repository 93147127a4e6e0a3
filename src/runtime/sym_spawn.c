/*
 * sym_spawn.c - running the symbolizer process (cprof-symbolize,
 * sym_helper.c) on a profile file the runtime has just written, so that
 * the profiled program never maps libdw and its dependencies (their
 * constructors would run in it) and never spends its own time inflating
 * debug information.  In libcprof.so
 * only (libcprof.a symbolizes in the process, as it links libdw anyway).
 *
 * How: rt_out_write (outfile.c) calls rt_sym_helper_run on its temporary
 * file FILE.cprof-tmp.PID when the profile was built inside a
 * rt_sym_defer_begin bracket and left addresses unnamed.  The helper is
 * found next to the plugins (CPROF_PLUGIN, else libcprof.so's directory),
 * started with `cprof-symbolize --answer=3 TMP NAME`, and replaces TMP
 * atomically with the symbolized, compressed profile; rt_out_write then
 * renames TMP into place as before.  The process waits for it, at most
 * CPROF_SYMBOLIZE_TIMEOUT seconds (default 60) at exit, 3 s (CPU) or 2 s
 * (each heap file) on the bounded exit paths (_exit, a fatal signal);
 * then kills it.  Whatever
 * happens, the profile is written: unsymbolized (addresses, mappings and
 * build IDs, which cprof and pprof name when reading) with one line on
 * stderr when the helper is missing, cannot start, is killed or is too
 * slow; the helper says why itself when it fails on its own.
 *
 * The helper is not the program's child, so the program never gets a
 * SIGCHLD for it and its wait(-1) never reaps it: an intermediate child
 * (clone with CLONE_VM | CLONE_VFORK and no exit signal, which stays
 * invisible as it never execs) starts the helper the same way and exits
 * at once, so the helper is reparented (to init, or to a subreaper above
 * the program).  The runtime reaps the intermediate by pid and learns the
 * helper's pid through their shared memory.  The end is seen on a pipe:
 * the helper holds its write end as descriptor 3 (--answer=3) and
 * writes one byte there, 'y' when it symbolized the file, 'n' when it failed (and said
 * why); end of file with no byte means it died.  The children run on
 * stacks of their own with every signal blocked (they share the
 * program's memory: none of its handlers may run there) and make system
 * calls only (stdin and stdout to /dev/null, descriptors above 3 closed;
 * stderr kept for the helper's one line).  The helper's environment is
 * the program's without LD_PRELOAD and CPROF_* (but CPROF_BINARY_PATH),
 * so it is neither profiled nor preloaded.
 *
 * Threads: called by the thread that writes a profile (a program thread
 * inside exit(), or the collector on the bounded exit paths); allocates
 * (the environment copy): ordinary context only, never a hook or a signal
 * handler.
 */
#include "plugin.h"
#include "rt_base.h"
#include "rt_profile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* What the children need, prepared by the parent (they only make system
 * calls). */
typedef struct child_args {
	const char *path;
	char *const *argv, *const *envp;
	int wfd;                  /* the status pipe's write end */
	char *leaf_stack;         /* the helper's stack, until its exec */
	volatile pid_t leaf;      /* the helper's pid (set by the intermediate) */
} child_args;

static int leaf_main(void *arg)
{
	const child_args *a = arg;
	syscall(SYS_execve, a->path, a->argv, a->envp);
	syscall(SYS_exit, 127);
	return 127;
}

static int mid_main(void *arg)
{
	child_args *a = arg;
	/* the status pipe as descriptor 3 first (dup2 clears close-on-exec;
	 * the pipe may have got 0 or 1 in a program that closed them), then
	 * stdin and stdout to /dev/null, and every descriptor above 3 closed:
	 * this table is the children's own copy (no CLONE_FILES), the
	 * program's descriptors stay open */
	if (a->wfd != 3)
		syscall(SYS_dup2, a->wfd, 3);
	else
		syscall(SYS_fcntl, 3, F_SETFD, 0);
	int nul = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
	if (nul >= 0) {
		syscall(SYS_dup2, nul, 0);
		syscall(SYS_dup2, nul, 1);
	}
	syscall(SYS_close_range, 4, ~0U, 0);
	pid_t pid = clone(leaf_main, a->leaf_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	a->leaf = pid;
	syscall(SYS_exit, 0);
	return 0;
}

/* The program's environment without the preload and the runtime's
 * variables (CPROF_BINARY_PATH kept: it says where the binaries are). */
static char **helper_env(void)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **v = malloc((n + 1) * sizeof *v);
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		if (strncmp(e, "LD_PRELOAD=", 11) == 0 || strncmp(e, "LD_AUDIT=", 9) == 0 ||
		    (strncmp(e, "CPROF_", 6) == 0 && strncmp(e, "CPROF_BINARY_PATH=", 18) != 0))
			continue;
		v[k++] = environ[i];
	}
	v[k] = NULL;
	return v;
}

static void say(const char *what, const char *name, const char *why)
{
	char line[PATH_MAX + 256];
	int n = snprintf(line, sizeof line,
			 "cprof: the %s profile %s is written without symbols (cprof names them when "
			 "reading): %s\n", what, name, why);
	if (n > 0) {
		ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		(void)w;
	}
}

#define CHILD_STACK (64 * 1024)

bool rt_sym_helper_run(const char *tmp, const char *name, const char *what, int timeout)
{
	int saved = errno;
	char path[PATH_MAX], why[PATH_MAX + 64];
	if (rt_plugin_file(RT_SYM_HELPER_FILE, path, sizeof path) != 0) {
		say(what, name, "the helper's path is too long");
		errno = saved;
		return false;
	}
	if (access(path, X_OK) != 0) {
		snprintf(why, sizeof why, "cannot run %s: %s", path, strerror(errno));
		say(what, name, why);
		errno = saved;
		return false;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(why, sizeof why, "cannot start %s: %s", path, strerror(errno));
		say(what, name, why);
		errno = saved;
		return false;
	}
	char **envp = helper_env();
	char *stacks = mmap(NULL, 2 * CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	if (!envp || stacks == MAP_FAILED) {
		free(envp);
		if (stacks != MAP_FAILED)
			munmap(stacks, 2 * CHILD_STACK);
		close(pfd[0]);
		close(pfd[1]);
		say(what, name, "out of memory");
		errno = saved;
		return false;
	}
	char *argv[] = { (char *)RT_SYM_HELPER_FILE, (char *)"--answer=3", (char *)tmp, (char *)name,
			 NULL };
	child_args a = { path, argv, envp, pfd[1], stacks + 2 * CHILD_STACK, -1 };
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* no exit signal (the low byte 0) and no exec: no SIGCHLD, and the
	 * program's wait(-1) does not see it */
	pid_t mid = clone(mid_main, stacks + CHILD_STACK, CLONE_VM | CLONE_VFORK, &a);
	int ce = errno;
	if (mid > 0)
		while (waitpid(mid, NULL, __WALL) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stacks, 2 * CHILD_STACK);
	free(envp);
	close(pfd[1]);
	pid_t leaf = a.leaf;
	if (mid < 0 || leaf <= 0) {
		snprintf(why, sizeof why, "cannot start %s: %s", path,
			 strerror(mid < 0 ? ce : leaf < 0 ? -leaf : EAGAIN));
		say(what, name, why);
		close(pfd[0]);
		errno = saved;
		return false;
	}
	/* its one byte, or the end of the pipe, within the bound */
	char res = 0;
	ssize_t got = -1;
	struct pollfd pf = { pfd[0], POLLIN, 0 };
	long long left = timeout;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int r = poll(&pf, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0) {
			got = read(pfd[0], &res, 1);
			if (got >= 0 || errno != EINTR)
				break;
		}
		if (r < 0 && errno != EINTR)
			break;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout - ((t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			break;
	}
	bool ok = got == 1 && res == 'y';
	if (got < 0) {
		/* still running (a read now would wait): stopped.  Not our child:
		 * nothing to reap; its pid is still its own while the pipe is
		 * open */
		kill(leaf, SIGKILL);
		snprintf(why, sizeof why, "%s took more than %d ms and was stopped (CPROF_SYMBOLIZE_TIMEOUT)",
			 path, timeout);
		say(what, name, why);
	} else if (got == 0) {
		snprintf(why, sizeof why, "%s ended without an answer (killed, or it could not run)",
			 path);
		say(what, name, why);
	}
	/* 'n': the helper said why itself, in one line */
	if (!ok) {
		/* a helper stopped or killed while writing leaves its own
		 * temporary (sym_helper.c: TMP.sym.PID) */
		char stale[PATH_MAX + 32];
		if (snprintf(stale, sizeof stale, "%s.sym.%ld", tmp, (long)leaf) < (int)sizeof stale)
			unlink(stale);
	}
	close(pfd[0]);
	errno = saved;
	return ok;
}
