/*
 * mutex_bench.c - what the interposed pthread primitives cost (issue 6),
 * run bare and under LD_PRELOAD=libcprof.so by bench/mutex_bench.sh.
 *
 *   mutex_bench uncontended N     one thread: N x (lock; unlock)
 *   mutex_bench contended T N     T threads, one mutex: N x (lock; ~100
 *                                 ns of work; unlock) each
 *   mutex_bench pingpong N        two threads hand a token back and forth
 *                                 over a condition variable N times (every
 *                                 wait blocks: the slow path each time)
 *
 * Prints "MODE ns_per_op=X" (wall time / operations).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long n_ops;
static volatile long shared;
static int turn;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *contender(void *p)
{
	(void)p;
	for (long i = 0; i < n_ops; i++) {
		pthread_mutex_lock(&mu);
		for (int k = 0; k < 30; k++)
			shared += k;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *pinger(void *p)
{
	int me = (int)(long)p;
	for (long i = 0; i < n_ops; i++) {
		pthread_mutex_lock(&mu);
		while (turn != me)
			pthread_cond_wait(&cv, &mu);
		turn = !me;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *mode = argv[1];
	double t0 = now();
	long ops;
	if (strcmp(mode, "uncontended") == 0) {
		n_ops = atol(argv[2]);
		for (long i = 0; i < n_ops; i++) {
			pthread_mutex_lock(&mu);
			shared++;
			pthread_mutex_unlock(&mu);
		}
		ops = n_ops;
	} else if (strcmp(mode, "contended") == 0 && argc > 3) {
		int t = atoi(argv[2]);
		n_ops = atol(argv[3]);
		pthread_t th[64];
		for (int i = 0; i < t && i < 64; i++)
			pthread_create(&th[i], NULL, contender, NULL);
		for (int i = 0; i < t && i < 64; i++)
			pthread_join(th[i], NULL);
		ops = n_ops * t;
	} else if (strcmp(mode, "pingpong") == 0) {
		n_ops = atol(argv[2]);
		pthread_t a, b;
		pthread_create(&a, NULL, pinger, (void *)0L);
		pthread_create(&b, NULL, pinger, (void *)1L);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		ops = 2 * n_ops;
	} else {
		return 2;
	}
	/* the process's CPU time up to here (its threads' included; not what
	 * an exit handler does after): trace_bench.sh compares it */
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	printf("%s ns_per_op=%.2f cpu_ns_per_op=%.2f\n", mode, (now() - t0) * 1e9 / (double)ops,
	       (cpu.tv_sec * 1e9 + cpu.tv_nsec) / (double)ops);
	return 0;
}
