/*
 * fork_storm.c - forks while other threads set a fatal signal's action.
 *
 * Two threads flip SIGTERM between a handler and SIG_DFL without pause;
 * main forks N children, each of which sets SIGHUP and SIGTERM to SIG_DFL
 * (as a child about to exec does) and exits 0.  A child still alive after
 * 10 s is counted as stuck and killed.  Under the runtime a child forked
 * while a flipping thread was inside the interposed sigaction inherited
 * that thread's lock; its own sets then spun forever.  Prints
 * "fork storm N stuck K"; exits 0 when K is 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;

static void on_term(int sig) { (void)sig; }

static void *flipper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		signal(SIGTERM, on_term);
		signal(SIGTERM, SIG_DFL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 400;
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, flipper, NULL);
	int stuck = 0;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			signal(SIGHUP, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			_exit(0);
		}
		if (pid < 0)
			break;
		int st = 0;
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec >= 10) {
				stuck++;
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				break;
			}
			usleep(1000);
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("fork storm %d stuck %d\n", n, stuck);
	return stuck ? 1 : 0;
}
