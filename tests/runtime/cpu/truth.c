/*
 * truth.c - CPU workloads whose true shares the program measures itself,
 * for the CPU profiler's accuracy tests and bench/cpu_accuracy.sh.
 *
 *   truth periodic PERIOD_US CYCLES THREADS
 *       each thread runs work_a, work_b and work_c for 60%, 30% and 10% of a
 *       fixed PERIOD_US cycle of its own CPU time, CYCLES times, in that
 *       order (a frame loop, a ticker: the shape that aliases a sampler
 *       whose instants lock onto the program's period)
 *   truth random MS THREADS
 *       the same three functions in random order, in 1 ms slices of CPU,
 *       MS milliseconds of CPU per thread
 *   truth blocked MS
 *       one thread created with every signal blocked (as liblzma makes its
 *       workers) runs work_a for MS milliseconds of CPU
 *   truth spinexec MS PROG [ARGS...]
 *       spins MS milliseconds of CPU, then execs PROG (execvp): the exec
 *       must not be killed by a sample queued just before it
 *   truth short N US
 *       one long thread (work_long) beside N threads run one after another,
 *       each spinning US microseconds of CPU in short_thread
 *
 * Each function spins on the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID),
 * so its CPU time is what it asked for, whatever the machine's load.  At
 * the end the program prints, per function, the CPU nanoseconds it really
 * used ("truth work_a 123456789"), and the process's total.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint64_t used_a, used_b, used_c, used_long, used_short;
static volatile uint64_t sink;

static uint64_t tcpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spin until ns of this thread's CPU have passed; the ns really used. */
static uint64_t spin(uint64_t ns)
{
	uint64_t t0 = tcpu(), t;
	do {
		for (int i = 0; i < 200; i++)
			sink += (uint64_t)i * sink + 1;
		t = tcpu();
	} while (t - t0 < ns);
	return t - t0;
}

__attribute__((noinline)) void work_a(uint64_t ns) { used_a += spin(ns); }
__attribute__((noinline)) void work_b(uint64_t ns) { used_b += spin(ns); }
__attribute__((noinline)) void work_c(uint64_t ns) { used_c += spin(ns); }
__attribute__((noinline)) void work_long(uint64_t ns) { used_long += spin(ns); }

static long g_period_us, g_cycles, g_ms;

static void *periodic_thread(void *arg)
{
	(void)arg;
	uint64_t p = (uint64_t)g_period_us * 1000u;
	for (long i = 0; i < g_cycles; i++) {
		work_a(p * 6 / 10);
		work_b(p * 3 / 10);
		work_c(p / 10);
	}
	return NULL;
}

static void *random_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
	for (long i = 0; i < g_ms; i++) {
		unsigned r = (unsigned)rand_r(&seed) % 10;
		if (r < 6)
			work_a(1000000);
		else if (r < 9)
			work_b(1000000);
		else
			work_c(1000000);
	}
	return NULL;
}

__attribute__((noinline)) static void *short_thread(void *arg)
{
	used_short += spin((uint64_t)(uintptr_t)arg * 1000u);
	return NULL;
}

static _Atomic int long_stop;
static void *long_thread(void *arg)
{
	(void)arg;
	while (!long_stop)
		work_long(1000000);
	return NULL;
}

static void *blocked_thread(void *arg)
{
	work_a((uint64_t)(uintptr_t)arg * 1000000u);
	return NULL;
}

static void run_threads(int n, void *(*fn)(void *))
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "periodic") == 0) {
		g_period_us = atol(argv[2]);
		g_cycles = atol(argv[3]);
		run_threads(atoi(argv[4]), periodic_thread);
	} else if (argc >= 4 && strcmp(argv[1], "random") == 0) {
		g_ms = atol(argv[2]);
		run_threads(atoi(argv[3]), random_thread);
	} else if (argc >= 3 && strcmp(argv[1], "blocked") == 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_t t;
		pthread_create(&t, NULL, blocked_thread, (void *)(uintptr_t)atol(argv[2]));
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_join(t, NULL);
	} else if (argc >= 4 && strcmp(argv[1], "spinexec") == 0) {
		work_a((uint64_t)atol(argv[2]) * 1000000u);
		execvp(argv[3], argv + 3);
		perror("execvp");
		return 127;
	} else if (argc >= 4 && strcmp(argv[1], "short") == 0) {
		int n = atoi(argv[2]);
		long us = atol(argv[3]);
		pthread_t lt;
		pthread_create(&lt, NULL, long_thread, NULL);
		for (int i = 0; i < n; i++) {
			pthread_t t;
			pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)us);
			pthread_join(t, NULL);
		}
		long_stop = 1;
		pthread_join(lt, NULL);
	} else {
		fprintf(stderr, "usage: truth periodic PERIOD_US CYCLES THREADS | "
				"random MS THREADS | short N US | spinexec MS PROG [ARGS]\n");
		return 2;
	}
	printf("truth work_a %llu\n", (unsigned long long)used_a);
	printf("truth work_b %llu\n", (unsigned long long)used_b);
	printf("truth work_c %llu\n", (unsigned long long)used_c);
	printf("truth work_long %llu\n", (unsigned long long)used_long);
	printf("truth short_thread %llu\n", (unsigned long long)used_short);
	return 0;
}
