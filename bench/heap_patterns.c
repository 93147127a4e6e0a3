/*
 * heap_patterns.c - allocation patterns for the heap profiler's overhead
 * benchmark (bench/heap_overhead_patterns.sh), each in THREADS threads of
 * OPS operations:
 *   window  free a random slot of a 1,024-block window and malloc a new
 *           block of 16..4096 bytes (uniform) there, touching its ends
 *   allocs  malloc 16..1024 bytes, touch, free at once (an alloc-only
 *           loop: every block dies young, nothing is kept)
 * Prints a checksum so the work cannot be optimised away.
 *
 *   heap_patterns window|allocs [THREADS [OPS]]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long ops = 2000000;
static int pattern;

static void *worker(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 7;
	void *slots[1024] = { 0 };
	uint64_t sum = 0;
	for (long i = 0; i < ops; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		if (pattern == 0) {
			unsigned k = (unsigned)(s & 1023);
			size_t n = 16 + (s >> 10) % 4081;
			free(slots[k]);
			unsigned char *p = malloc(n);
			p[0] = (unsigned char)i;
			p[n - 1] = 1;
			sum += p[0];
			slots[k] = p;
		} else {
			size_t n = 16 + (s >> 10) % 1009;
			unsigned char *volatile p = malloc(n);
			p[0] = (unsigned char)i;
			sum += p[0];
			free(p);
		}
	}
	for (int k = 0; k < 1024; k++)
		free(slots[k]);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "window") != 0 && strcmp(argv[1], "allocs") != 0)) {
		fprintf(stderr, "usage: heap_patterns window|allocs [THREADS [OPS]]\n");
		return 2;
	}
	pattern = strcmp(argv[1], "window") == 0 ? 0 : 1;
	int nth = argc > 2 ? atoi(argv[2]) : 2;
	if (argc > 3)
		ops = atol(argv[3]);
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
	printf("%s threads %d ops %ld sum %llu\n", argv[1], nth, ops, (unsigned long long)sum);
	return 0;
}
