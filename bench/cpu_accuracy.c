/*
 * cpu_accuracy.c - the program of bench/cpu_accuracy.sh: THREADS threads
 * (argv[1]) each run their share of the rounds of work split 60/30/10 between
 * three functions, share_60, share_30 and share_10 (argv[2] is the total
 * number of rounds, shared out between the threads).  The functions are
 * distinct loops (noipa: never merged or inlined), so a profiler that
 * attributes CPU truthfully shows them at 60%, 30% and 10%.  The program
 * measures the truth itself: each call's thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), summed per function, and the whole process's
 * CPU time (getrusage) at the end, and prints them on stderr as
 *   truth share_60=NS share_30=NS share_10=NS rusage_ns=NS
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	for (int r = 0; r < rounds; r++) {
		t0 = tcpu(); share_60(6); t1 = tcpu(); local[0] += t1 - t0;
		share_30(3); t0 = tcpu(); local[1] += t0 - t1;
		share_10(1); t1 = tcpu(); local[2] += t1 - t0;
	}
	for (int i = 0; i < 3; i++)
		ns[i] += local[i];
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	rounds = argc > 2 ? atoi(argv[2]) : 100;
	if (threads < 1 || threads > 256 || rounds < 1)
		return 2;
	rounds = (rounds + threads - 1) / threads;
	pthread_t t[256];
	for (int i = 1; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	worker(NULL);
	for (int i = 1; i < threads; i++)
		pthread_join(t[i], NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	uint64_t rus = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
		       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
	fprintf(stderr, "truth share_60=%llu share_30=%llu share_10=%llu rusage_ns=%llu\n",
		(unsigned long long)ns[0], (unsigned long long)ns[1], (unsigned long long)ns[2],
		(unsigned long long)rus);
	return 0;
}
