/*
 * vfork_reset.c - a program that starts a child the way python's
 * subprocess does: vfork, then in the child (which shares the parent's
 * memory until it execs) every handled signal reset to the default,
 * SIGPROF included, then exec.  Then the parent burns CPU in work().
 * For the CPU profiler's tests: the child's reset is not the profiled
 * process giving SIGPROF back, and must not stop the parent's profile
 * (through the flags the two share until the exec).
 *
 *   vfork_reset [MS]   burn MS ms of CPU after the child (default 300);
 *                      prints "child 0" (the child's exit status).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void work(long ms)
{
	struct timespec a, b;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++)
			sink += (unsigned long)i * (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 300;
	char *args[] = { "/bin/true", NULL };
	pid_t pid = vfork();
	if (pid == 0) {
		signal(SIGPROF, SIG_DFL);
		execv(args[0], args);
		_exit(127);
	}
	int st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	work(ms);
	printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
