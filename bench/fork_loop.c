/*
 * fork_loop.c - the cost of fork for bench/fork.sh: N times fork, the
 * child _exit(0)s at once, the parent waits for it.  Prints the wall time
 * and the CPU time (user + system, the process and its waited-for
 * children) per fork, in microseconds:
 *
 *   forks N wall_us W cpu_us C
 *
 * A child that nobody profiles should cost what it costs without the
 * runtime; what the runtime's fork handlers do in the child shows here.
 *
 *   fork_loop N [thread]
 *
 * "thread": one idle thread first (blocked in read), as a reference for
 * what any multi-threaded program pays: glibc's fork then locks and
 * resets malloc's arenas and stdio around every fork.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double tv_us(struct timeval t)
{
	return (double)t.tv_sec * 1e6 + (double)t.tv_usec;
}

static int idle_fd[2];

static void *idle(void *arg)
{
	char c;
	(void)!read(idle_fd[0], &c, 1);
	return arg;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	pthread_t t;
	if (argc > 2 && (pipe(idle_fd) != 0 || pthread_create(&t, NULL, idle, NULL) != 0)) {
		perror("thread");
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0)
			_exit(0);
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "child %d failed\n", (int)p);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	struct rusage s, c;
	getrusage(RUSAGE_SELF, &s);
	getrusage(RUSAGE_CHILDREN, &c);
	double wall = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
	double cpu = tv_us(s.ru_utime) + tv_us(s.ru_stime) + tv_us(c.ru_utime) + tv_us(c.ru_stime);
	printf("forks %ld wall_us %.1f cpu_us %.1f\n", n, wall / (double)n, cpu / (double)n);
	return 0;
}
