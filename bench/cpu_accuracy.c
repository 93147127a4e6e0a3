/*
 * cpu_accuracy.c - the program of bench/cpu_accuracy.sh: THREADS threads
 * (argv[1]) each run their share of the rounds of work split 60/30/10 between
 * three functions, share_60, share_30 and share_10 (argv[2] is the total
 * number of rounds, shared out between the threads).  The functions are
 * distinct loops (noipa: never merged or inlined), so a profiler that
 * attributes CPU truthfully shows them at 60%, 30% and 10%.  The program
 * With argv[3] "random" (the default) each round calls the three in a
 * random order, so the work has no fixed period a sampler could alias
 * with; "fixed" keeps the order 60, 30, 10 (a 2 ms period: a tick-based
 * timer's samples can then fall on the same phase again and again).
 * argv[4] scales each unit of work (default 1: a fixed round is 2 ms; 5
 * makes it 10 ms).  With argv[3] "short", argv[1] is instead a number of
 * short threads run one after another, each doing one unit of share_30
 * (~0.2 ms of CPU, less than a scheduler tick), beside one thread doing
 * share_60 until they are done: the CPU of threads shorter than a sampling
 * interval.
 * The program measures the truth itself: each call's thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), summed per function, and the whole process's
 * CPU time (getrusage) at the end, and prints them on stderr as
 *   truth share_60=NS share_30=NS share_10=NS rusage_ns=NS
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define UNIT 200000ULL

#define SHARE_FN(name, mul)                                                     \
	__attribute__((noinline, noipa)) static uint64_t name(uint64_t units)   \
	{                                                                       \
		volatile uint64_t x = mul;                                      \
		for (uint64_t i = 0; i < units * UNIT; i++)                     \
			x = x * (mul) + i;                                      \
		return x;                                                       \
	}
SHARE_FN(share_60, 6364136223846793005ULL)
SHARE_FN(share_30, 2862933555777941757ULL)
SHARE_FN(share_10, 3202034522624059733ULL)

static int rounds;
static int random_order = 1;
static uint64_t scale = 1;
static _Atomic int long_stop;
static _Atomic uint64_t ns[3];

static uint64_t tcpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker(void *arg)
{
	(void)arg;
	uint64_t local[3] = { 0, 0, 0 }, t0, t1;
	static const uint64_t units[3] = { 6, 3, 1 };
	uint64_t (*const fn[3])(uint64_t) = { share_60, share_30, share_10 };
	uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&local;
	for (int r = 0; r < rounds; r++) {
		int order[3] = { 0, 1, 2 };
		if (random_order) {
			for (int i = 2; i > 0; i--) {
				x ^= x << 13; x ^= x >> 7; x ^= x << 17;
				int j = (int)(x % (uint64_t)(i + 1)), tmp = order[i];
				order[i] = order[j];
				order[j] = tmp;
			}
		}
		for (int k = 0; k < 3; k++) {
			int f = order[k];
			t0 = tcpu();
			fn[f](units[f] * scale);
			t1 = tcpu();
			local[f] += t1 - t0;
		}
	}
	for (int i = 0; i < 3; i++)
		ns[i] += local[i];
	return NULL;
}

static void *short_worker(void *arg)
{
	(void)arg;
	uint64_t t0 = tcpu();
	share_30(scale);
	ns[1] += tcpu() - t0;
	return NULL;
}

static void *long_worker(void *arg)
{
	(void)arg;
	while (!long_stop) {
		uint64_t t0 = tcpu();
		share_60(1);
		ns[0] += tcpu() - t0;
	}
	return NULL;
}

static void run_short(int n)
{
	pthread_t lt;
	pthread_create(&lt, NULL, long_worker, NULL);
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_worker, NULL) == 0)
			pthread_join(t, NULL);
	}
	long_stop = 1;
	pthread_join(lt, NULL);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	rounds = argc > 2 ? atoi(argv[2]) : 100;
	if (argc > 4 && atoi(argv[4]) > 0)
		scale = (uint64_t)atoi(argv[4]);
	if (argc > 3 && strcmp(argv[3], "short") == 0) {
		run_short(threads);
		goto out;
	}
	if (threads < 1 || threads > 256 || rounds < 1)
		return 2;
	rounds = (rounds + threads - 1) / threads;
	if (argc > 3 && strcmp(argv[3], "fixed") == 0)
		random_order = 0;
	pthread_t t[256];
	for (int i = 1; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	worker(NULL);
	for (int i = 1; i < threads; i++)
		pthread_join(t[i], NULL);
out:;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	uint64_t rus = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
		       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
	fprintf(stderr, "truth share_60=%llu share_30=%llu share_10=%llu rusage_ns=%llu\n",
		(unsigned long long)ns[0], (unsigned long long)ns[1], (unsigned long long)ns[2],
		(unsigned long long)rus);
	return 0;
}
