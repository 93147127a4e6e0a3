/*
 * fork_threads.c - fork (and fork+exec) from a threaded program whose
 * threads allocate and free all the time: a child must never inherit a
 * lock of the heap profiler's table held by a thread that does not exist
 * in it.  Children allocate and free (some sampled, with a small
 * CPROF_HEAP_RATE), then _exit or exec `true`.  Threads fork too.
 *
 *   fork_threads [FORKS]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;

static void *churn(void *arg)
{
	(void)arg;
	void *keep[64] = { 0 };
	unsigned i = 0;
	while (!atomic_load(&stop)) {
		unsigned k = i++ % 64;
		free(keep[k]);
		keep[k] = malloc(16 + (i * 7919) % 2000);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

static int child_work(int exec_it)
{
	for (int i = 0; i < 2000; i++) {
		char *p = malloc(100 + i);
		memset(p, 1, 100);
		free(p);
	}
	if (exec_it) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	_exit(0);
}

static int forks = 60;

static void *forker(void *arg)
{
	int bad = 0;
	for (int i = 0; i < forks / 2; i++) {
		pid_t pid = fork();
		if (pid == 0)
			child_work((i + (int)(long)arg) % 2);
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	return (void *)(long)bad;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		forks = atoi(argv[1]);
	pthread_t th[4], f[2];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, churn, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&f[i], NULL, forker, (void *)(long)i);
	long bad = 0;
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(f[i], &r);
		bad += (long)r;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("forks %d bad %ld\n", forks, bad);
	return bad ? 1 : 0;
}
