/*
 * exec.c - the exec family: the CPU profiler's clocks are stopped before
 * the process image is replaced, and started again if the exec fails.
 *
 * Why.  A perf_event counter's overflow is a queued SIGPROF (cpu_clock.c),
 * and a queued signal survives execve while execve resets its handler to
 * the default action, which for SIGPROF ends the process: a counter that
 * overflowed just before the exec killed the new program before its first
 * instruction (a shell's exec of its last command, pyenv's shims).  POSIX
 * timers do not have the problem (deleting a timer takes its pending
 * signal back), but both kinds are stopped alike.  Deleting the clocks
 * (closing a counter waits for its pending overflow work) leaves at most a
 * signal already queued to the calling thread, which is delivered to the
 * runtime's still-installed handler as the close returns, and ignored
 * there.  Signals queued to other threads die with them in the exec.
 *
 * Every entry point of the family is interposed, because libc's execvp,
 * execl and the others reach execve through internal calls no preload can
 * see.  The variadic ones build their argument vector in memory mapped
 * for the call (the program's allocator is not used) and go through
 * execve or execvpe.  Nothing here runs when no CPU profile is on.
 */
#include "rt_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* The clocks stop; true when they ran (to restart them on failure). */
static bool before(void)
{
	return rt_threads_clocks_suspend();
}

static int after_failure(bool was, int rc)
{
	int e = errno;
	if (was)
		rt_threads_clocks_resume();
	errno = e;
	return rc;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	static execve_fn real;
	if (!real && !(real = (execve_fn)next("execve"))) {
		errno = ENOSYS;
		return -1;
	}
	bool was = before();
	return after_failure(was, real(path, argv, envp));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	static execvpe_fn real;
	if (!real && !(real = (execvpe_fn)next("execvpe"))) {
		errno = ENOSYS;
		return -1;
	}
	bool was = before();
	return after_failure(was, real(file, argv, envp));
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	static fexecve_fn real;
	if (!real && !(real = (fexecve_fn)next("fexecve"))) {
		errno = ENOSYS;
		return -1;
	}
	bool was = before();
	return after_failure(was, real(fd, argv, envp));
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		    int flags)
{
	static execveat_fn real;
	if (!real && !(real = (execveat_fn)next("execveat"))) {
		errno = ENOSYS;
		return -1;
	}
	bool was = before();
	return after_failure(was, real(dirfd, path, argv, envp, flags));
}

/* ---- execl, execle, execlp ------------------------------------------------------- */

/* The arguments after arg0 up to the NULL, in a vector mapped for the call;
 * *envp (execle) the pointer after the NULL.  NULL with errno set when the
 * list is too long to map. */
static char **arg_vector(const char *arg0, va_list ap, char ***envp, size_t *maplen)
{
	va_list c;
	va_copy(c, ap);
	size_t n = 1;
	while (va_arg(c, char *))
		n++;
	va_end(c);
	if (n > (size_t)1 << 24) {
		errno = E2BIG;
		return NULL;
	}
	*maplen = (n + 1) * sizeof(char *);
	char **v = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	v[0] = (char *)arg0;
	for (size_t i = 1; i < n; i++)
		v[i] = va_arg(ap, char *);
	v[n] = NULL;
	(void)va_arg(ap, char *);   /* the NULL */
	if (envp)
		*envp = va_arg(ap, char **);
	return v;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	size_t len;
	char **v = arg_vector(arg, ap, NULL, &len);
	va_end(ap);
	if (!v)
		return -1;
	int rc = execve(path, v, environ);
	int e = errno;
	munmap(v, len);
	errno = e;
	return rc;
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	size_t len;
	char **envp = NULL;
	char **v = arg_vector(arg, ap, &envp, &len);
	va_end(ap);
	if (!v)
		return -1;
	int rc = execve(path, v, envp);
	int e = errno;
	munmap(v, len);
	errno = e;
	return rc;
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	size_t len;
	char **v = arg_vector(arg, ap, NULL, &len);
	va_end(ap);
	if (!v)
		return -1;
	int rc = execvpe(file, v, environ);
	int e = errno;
	munmap(v, len);
	errno = e;
	return rc;
}
