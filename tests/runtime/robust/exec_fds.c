/*
 * exec_fds.c - a program that has the runtime write a symbolized profile
 * (the runtime keeps its symbolizer, and the ELF and debug files it read,
 * open afterwards) and then execs ls on /proc/self/fd, which lists every
 * descriptor it inherited (and its own directory's).  None of the runtime's files may be among them:
 * every descriptor the runtime holds is close-on-exec.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	int (*write_threads)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "cprof_threads_write");
	if (!write_threads) {
		fprintf(stderr, "cprof_threads_write not found: preload libcprof.so\n");
		return 2;
	}
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_threads(fd, 0) != 0)
		return 3;
	fflush(stdout);
	/* ls runs without the preload: only what it inherits matters here */
	char *const env[] = { "LC_ALL=C", NULL };
	execle("/bin/ls", "ls", "-l", "/proc/self/fd", (char *)0, env);
	return 4;
}
