/*
 * forker.c - a profiled program that forks while its threads are being
 * sampled, for the CPU profiler's tests: the child keeps working (spins,
 * creates a thread, forks again, then exits 7), the parent waits for it and
 * checks its status, then spins some more.  Exit 0 only when every child
 * ended as expected.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void parent_work(double s)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 20000; i++)
			sink = sink * 31 + 7;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < s);
}

static void *bg(void *a)
{
	parent_work(0.05);
	return a;
}

static int child(void)
{
	parent_work(0.1);
	pthread_t th;
	if (pthread_create(&th, NULL, bg, NULL) != 0 || pthread_join(th, NULL) != 0)
		return 1;
	pid_t g = fork();
	if (g == 0)
		_exit(3);
	int st;
	if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
		return 1;
	return 7;
}

int main(void)
{
	pthread_t th;
	pthread_create(&th, NULL, bg, NULL);
	parent_work(0.1);
	for (int i = 0; i < 5; i++) {
		pid_t p = fork();
		if (p == 0)
			exit(child());
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 7) {
			fprintf(stderr, "child %d failed\n", i);
			return 1;
		}
	}
	pthread_join(th, NULL);
	parent_work(0.1);
	puts("forker ok");
	return 0;
}
