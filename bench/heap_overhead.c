/*
 * heap_overhead.c - a multi-threaded malloc/free-heavy program for the
 * heap profiler's overhead benchmark (bench/heap_overhead.sh): THREADS
 * threads each do OPS operations on 1024 slots: free the slot's block and
 * malloc a new one of 16..1024 bytes (1 in 64 up to 64 KiB), touching its
 * first bytes.  About 1 GiB allocated per thread at the default settings.
 * Prints a checksum so the work cannot be optimised away.  Other patterns
 * (bench/heap_overhead_patterns.sh):
 *   window  the slot's block replaced by one of 16..4096 bytes (uniform)
 *   allocs  malloc 16..1024 bytes, touch, free at once (nothing kept: every
 *           block dies young, glibc's tcache serves them all)
 *
 *   heap_overhead [THREADS [OPS [mixed|window|allocs]]]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long ops = 2000000;
static enum { MIXED, WINDOW, ALLOCS } pattern;

static void *worker(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 7;
	void *slots[1024] = { 0 };
	uint64_t sum = 0;
	for (long i = 0; i < ops; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		unsigned k = (unsigned)(s & 1023);
		size_t n = 16 + (s >> 10) % 1009;
		if (pattern == ALLOCS) {
			unsigned char *volatile q = malloc(n);
			q[0] = (unsigned char)i;
			sum += q[0];
			free(q);
			continue;
		}
		if (pattern == WINDOW)
			n = 16 + (s >> 10) % 4081;
		else if (((s >> 30) & 63) == 0)
			n = 1024 + (s >> 36) % (63 << 10);
		free(slots[k]);
		unsigned char *p = malloc(n);
		p[0] = (unsigned char)i;
		p[n - 1] = 1;
		sum += p[0];
		slots[k] = p;
	}
	for (int k = 0; k < 1024; k++)
		free(slots[k]);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? atoi(argv[1]) : 2;
	if (argc > 2)
		ops = atol(argv[2]);
	if (argc > 3)
		pattern = strcmp(argv[3], "window") == 0 ? WINDOW
			: strcmp(argv[3], "allocs") == 0 ? ALLOCS : MIXED;
	if (nth < 1 || nth > 64)
		nth = 2;
	pthread_t th[64];
	for (int i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	uint64_t sum = 0;
	for (int i = 0; i < nth; i++) {
		void *r;
		pthread_join(th[i], &r);
		sum += (uintptr_t)r;
	}
	printf("threads %d ops %ld sum %llu\n", nth, ops, (unsigned long long)sum);
	return 0;
}
