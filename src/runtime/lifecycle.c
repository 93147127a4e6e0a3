/*
 * lifecycle.c - the ends of a process image that skip atexit: _exit,
 * _Exit and the exec family; and the calls that start another program
 * (posix_spawn, posix_spawnp, system, popen), for the endpoint's hand-off.
 *
 * _exit / _Exit (dash ends with _exit, so do fork children and many
 * daemons): in the process that owns a profile, the CPU profile is written
 * by the collector thread and the heap and allocs profiles by their writer
 * thread, both at once and bounded (rt_exit_quick: async-signal-safe, so an
 * _exit from a signal handler is fine), then exit_group.  The mutex, block
 * and thread profiles need the allocator and locks on the calling thread:
 * not written on _exit.  CPROF_TRACE's trace is written on _exit and
 * before an exec by the calling thread (rt_trace_exit_write: JSON and
 * symbols; not AS-safe, the same accepted risk as exec's writers below).
 * In any other process (a fork child nobody
 * profiles) it costs two getpid calls.
 *
 * exec: the old image's samples die with it, and the new image (same pid)
 * would otherwise write over them.  So before an exec the owner writes
 * every exit-time profile now, in the calling thread, with outfile.c's
 * rule for an exec (a profile with no sample is not written: the new
 * image profiles on, under the same pid).  The CPU profile goes to
 * FILE.cprof-exec.PID and its name to the new image in its environment
 * (CPROF_CPU_PROFILE_EXEC, added to a copy of envp), which merges it into
 * its own profile at its end: one profile per process across its images.
 * execv and execvp call execve and execvpe with environ so that the entry
 * can be added.  If the exec fails, profiling starts again (with that file
 * to merge) and the other files are re-armed.  In a fork or vfork child (pid
 * other than the owner's) nothing is written; the child only tells the
 * endpoint's owner that it started a program (http_env.c's hand-off: one
 * store to a shared page).  The execl forms rebuild argv on the stack (up
 * to 256 arguments; beyond that with mmap, never malloc: a vfork child
 * shares its parent's heap).
 *
 * fork: a forked child that profiles on (CPROF_CPU_FOLLOW) starts its CPU
 * profile after every fork handler has run, as fork returns in the child:
 * the runtime's child handlers (and the program's) are not the child's
 * work, and a clock started inside one of them sampled the handlers that
 * ran after it.  env.c's child handler asks for that (rt_fork_defer)
 * when the fork came through this wrapper (rt_fork_enter and
 * rt_fork_leave around it), and does the start itself
 * when it did not (libc's own callers of fork).
 *
 * The real functions are found with dlsym(RTLD_NEXT) by the constructor;
 * _exit needs none (exit_group).  exec from a signal handler is allowed by
 * POSIX: the owner's write is not async-signal-safe, an accepted risk (a
 * handler that execs in the profiled process).
 */
#include "rt_cpu.h"
#include "rt_lifecycle.h"
#include "cprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*system_fn)(const char *);
typedef pid_t (*fork_fn)(void);
typedef FILE *(*popen_fn)(const char *, const char *);
typedef void (*exit_fn)(int);

static struct {
	execve_fn execve, execvpe;
	fexecve_fn fexecve;
	execveat_fn execveat;
	spawn_fn spawn, spawnp;
	system_fn system;
	popen_fn popen;
	fork_fn fork;
	exit_fn exit_;
} real;

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

__attribute__((constructor(102)))
static void lifecycle_init(void)
{
	int e = errno;
	real.execve = (execve_fn)next("execve");
	real.execvpe = (execve_fn)next("execvpe");
	real.fexecve = (fexecve_fn)next("fexecve");
	real.execveat = (execveat_fn)next("execveat");
	real.spawn = (spawn_fn)next("posix_spawn");
	real.spawnp = (spawn_fn)next("posix_spawnp");
	real.system = (system_fn)next("system");
	real.popen = (popen_fn)next("popen");
	real.fork = (fork_fn)next("fork");
	real.exit_ = (exit_fn)next("_exit");
	errno = e;
}

/* Before an exec: the profiles written, and every CPU sampling clock of
 * this process deleted (true when some ran: a failed exec makes them again).
 * A perf_event counter's overflow is a queued SIGPROF, and a queued signal
 * survives execve while execve resets its action to the default, which
 * ends the process: a counter that overflowed just before the exec killed
 * the new image before its first instruction (a shell's exec of its last
 * command, pyenv's shims).  Deleting the clocks (closing a counter waits
 * for its pending overflow work) leaves at most a signal already queued to
 * this thread, delivered to the runtime's still-installed handler as the
 * close returns and ignored there unless the thread blocks SIGPROF (then
 * rt_sigprof_discard_pending drops it); other threads' die with them.  This
 * covers a profile started with the API too, which the exit writers do
 * not stop. */
static bool before_exec(void)
{
	int e = errno;
	rt_http_program_started_by_child();
	rt_heap_exit_write(true);
	rt_sync_exit_write(true);
	rt_tprof_exit_write(true);
	rt_trace_exit_write(true);
	rt_cpu_exit_write(true);
	bool clocks = rt_threads_clocks_suspend();
	/* and a signal queued while this thread blocks SIGPROF (a program
	 * that blocks everything around fork and exec) would survive the
	 * exec, which resets the action to the default: dropped here */
	rt_sigprof_discard_pending();
	errno = e;
	return clocks;
}

static void after_failed_exec(bool clocks)
{
	int e = errno;
	if (clocks)
		rt_threads_clocks_resume();
	rt_cpu_exec_failed();
	rt_heap_exec_failed();
	rt_sync_exec_failed();
	rt_tprof_exec_failed();
	errno = e;
}

/* envp with the CPU profile's hand-over entry (rt_cpu_exec_env: the old
 * image's profile, for the new image of the same process to merge) in
 * place of any older one.  An mmap'ed copy (never malloc: a vfork child
 * shares its parent's heap), *mapped its size; or envp itself. */
static char *const *with_handover(char *const envp[], size_t *mapped)
{
	static const char key[] = "CPROF_CPU_PROFILE_EXEC=";
	const char *h = rt_cpu_exec_env();
	*mapped = 0;
	if (!h || !envp)
		return envp;
	size_t n = 0;
	while (envp[n])
		n++;
	size_t bytes = (n + 2) * sizeof(char *);
	char **v = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return envp;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], key, sizeof key - 1) != 0)
			v[k++] = envp[i];
	v[k++] = (char *)h;
	v[k] = NULL;
	*mapped = bytes;
	return v;
}

/* The exec itself: profiles written, the hand-over added to the
 * environment, the call; if it returns (failed), profiling goes on. */
#define EXEC_BODY(fn, envp, ...) do { \
	if (!real.fn) { \
		errno = ENOSYS; \
		return -1; \
	} \
	bool clocks_ = before_exec(); \
	size_t mapped_; \
	char *const *env_ = with_handover(envp, &mapped_); \
	int rc_ = real.fn(__VA_ARGS__); \
	int e_ = errno; \
	if (mapped_) \
		munmap((void *)env_, mapped_); \
	after_failed_exec(clocks_); \
	errno = e_; \
	return rc_; \
} while (0)

extern char **environ;

int execve(const char *path, char *const argv[], char *const envp[])
{
	EXEC_BODY(execve, envp, path, argv, env_);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	EXEC_BODY(execvpe, envp, file, argv, env_);
}

int execv(const char *path, char *const argv[])
{
	EXEC_BODY(execve, environ, path, argv, env_);
}

int execvp(const char *file, char *const argv[])
{
	EXEC_BODY(execvpe, environ, file, argv, env_);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	EXEC_BODY(fexecve, envp, fd, argv, env_);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	EXEC_BODY(execveat, envp, dirfd, path, argv, env_, flags);
}

/* execl, execlp, execle: argv from the variadic list.  Up to 256 arguments
 * on the stack, more in an mmap'ed array (unmapped if the exec fails). */
#define ARGV_STACK 256

static char **collect(const char *arg0, va_list ap, char **stack, size_t *mapped,
		      char *const **envp)
{
	va_list cp;
	va_copy(cp, ap);
	size_t n = 1;
	while (va_arg(cp, char *))
		n++;
	va_end(cp);
	char **v = stack;
	*mapped = 0;
	if (n + 1 > ARGV_STACK) {
		size_t bytes = (n + 1) * sizeof *v;
		void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		v = m;
		*mapped = bytes;
	}
	v[0] = (char *)arg0;
	for (size_t i = 1; i <= n; i++)
		v[i] = va_arg(ap, char *);   /* the last is the NULL */
	if (envp)
		*envp = va_arg(ap, char *const *);
	return v;
}

#define EXECL_BODY(call, envp) do { \
	char *stack[ARGV_STACK]; \
	size_t mapped; \
	va_list ap; \
	va_start(ap, arg); \
	char **v = collect(arg, ap, stack, &mapped, envp); \
	va_end(ap); \
	if (!v) { \
		errno = E2BIG; \
		return -1; \
	} \
	int rc_ = call; \
	int e_ = errno; \
	if (mapped) \
		munmap(v, mapped); \
	errno = e_; \
	return rc_; \
} while (0)

int execl(const char *path, const char *arg, ...)
{
	EXECL_BODY(execv(path, v), NULL);
}

int execlp(const char *file, const char *arg, ...)
{
	EXECL_BODY(execvp(file, v), NULL);
}

int execle(const char *path, const char *arg, ...)
{
	char *const *envp = NULL;
	EXECL_BODY(execve(path, v, envp), &envp);
}

/* ---- starting another program: the endpoint is left to it -------------------------- */

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!real.spawn)
		return ENOSYS;
	rt_http_program_started();
	return real.spawn(pid, path, fa, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!real.spawnp)
		return ENOSYS;
	rt_http_program_started();
	return real.spawnp(pid, file, fa, attr, argv, envp);
}

int system(const char *cmd)
{
	if (!real.system) {
		errno = ENOSYS;
		return -1;
	}
	if (cmd)
		rt_http_program_started();
	return real.system(cmd);
}

FILE *popen(const char *cmd, const char *mode)
{
	if (!real.popen) {
		errno = ENOSYS;
		return NULL;
	}
	rt_http_program_started();
	return real.popen(cmd, mode);
}

/* ---- fork ------------------------------------------------------------------------- */

RT_FORK_TEXT pid_t fork(void)
{
	if (!real.fork) {
		errno = ENOSYS;
		return -1;
	}
	rt_fork_enter();
	pid_t pid = real.fork();
	rt_fork_leave(pid);
	return pid;
}

/* ---- _exit ------------------------------------------------------------------------- */

RT_FORK_TEXT void _exit(int status)
{
	rt_trace_exit_write(false);
	rt_exit_quick(5000);
	/* libc's own _exit, next to its fork in the same code page, which a
	 * fork child has just touched: libc's syscall() would be one more
	 * page fault in every child that ends this way */
	if (real.exit_ && real.exit_ != _exit)
		real.exit_(status);
	for (;;)
		syscall(SYS_exit_group, status);
}

void _Exit(int status)
{
	_exit(status);
}
