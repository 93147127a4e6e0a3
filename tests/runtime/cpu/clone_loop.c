/*
 * clone_loop.c - a program that makes raw clone(2) children sharing its
 * memory (CLONE_VM without CLONE_THREAD, as stress-ng's clone stressor and
 * some sandboxes do) in a loop, for the CPU profiler's tests: the parent's
 * samples taken as clone returns (glibc's clone has no unwind information
 * after its syscall instruction) must still unwind to main.  Prints
 * "clones N" and exits 0.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

static int child(void *arg)
{
	(void)arg;
	return 0;
}

static __attribute__((noinline)) int clone_many(char *stack, size_t size)
{
	struct timespec a, b;
	int n = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		pid_t p = clone(child, stack + size, CLONE_VM | SIGCHLD, NULL);
		if (p < 0)
			return -1;
		waitpid(p, NULL, 0);
		n++;
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 1500);
	return n;
}

int main(void)
{
	size_t size = 64 * 1024;
	char *stack = malloc(size);
	if (!stack)
		return 2;
	int n = clone_many(stack, size);
	printf("clones %d\n", n > 0 ? 1 : 0);
	free(stack);
	return n > 0 ? 0 : 1;
}
