/*
 * stress.c - a multi-threaded allocator stress test: THREADS threads, each
 * ITERS random operations on 256 slots (malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, free),
 * every block filled with a pattern that is checked before it is freed
 * or reallocated; free must keep errno.  Threads are created in two
 * waves (thread exit and creation under load).  Everything is freed
 * before exit.  Prints a deterministic summary line.
 *
 *   stress [THREADS [ITERS]]
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256

typedef struct slot {
	unsigned char *p;
	size_t n;
	unsigned char tag;
} slot;

static long iters = 20000;
static _Atomic long failures;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(slot *s, unsigned char tag)
{
	s->tag = tag;
	if (s->p)
		memset(s->p, tag, s->n);
}

static void check(const slot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] != s->tag) {
			failures++;
			return;
		}
}

static void release(slot *s)
{
	check(s);
	errno = 4242;
	free(s->p);
	if (errno != 4242)
		failures++;
	s->p = NULL;
	s->n = 0;
}

__attribute__((noinline)) static void *worker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
	slot slots[SLOTS] = { { 0 } };
	for (long it = 0; it < iters; it++) {
		slot *s = &slots[rnd(&seed) % SLOTS];
		size_t n = rnd(&seed) % 4096 + 1;
		if (rnd(&seed) % 64 == 0)
			n = rnd(&seed) % (256 << 10) + 1;
		unsigned char tag = (unsigned char)(rnd(&seed) | 1);
		if (s->p && rnd(&seed) % 3 == 0) {
			check(s);
			size_t keep = s->n < n ? s->n : n;
			unsigned char *q = rnd(&seed) % 2 ? realloc(s->p, n) : reallocarray(s->p, n, 1);
			if (!q) {
				failures++;
				continue;
			}
			for (size_t i = 0; i < keep; i++)
				if (q[i] != s->tag) {
					failures++;
					break;
				}
			s->p = q;
			s->n = n;
			fill(s, tag);
			continue;
		}
		if (s->p)
			release(s);
		void *p = NULL;
		switch (rnd(&seed) % 7) {
		case 0: p = malloc(n); break;
		case 1:
			p = calloc(n, 1);
			for (size_t i = 0; p && i < n; i++)
				if (((unsigned char *)p)[i]) {
					failures++;
					break;
				}
			break;
		case 2:
			if (posix_memalign(&p, 64, n) != 0)
				p = NULL;
			break;
		case 3: p = aligned_alloc(128, (n + 127) & ~(size_t)127); break;
		case 4: p = memalign(32, n); break;
		case 5: p = rnd(&seed) % 8 ? malloc(n) : valloc(n); break;
		default: p = malloc(n); break;
		}
		if (!p) {
			failures++;
			continue;
		}
		if (malloc_usable_size(p) < n)
			failures++;
		s->p = p;
		s->n = n;
		fill(s, tag);
	}
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].p)
			release(&slots[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? atoi(argv[1]) : 8;
	if (argc > 2)
		iters = atol(argv[2]);
	for (int wave = 0; wave < 2; wave++) {
		pthread_t th[64];
		if (nth > 64)
			nth = 64;
		for (int i = 0; i < nth; i++)
			pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(wave * 100 + i + 1));
		for (int i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
	}
	printf("threads %d iters %ld failures %ld\n", nth, iters, (long)failures);
	return failures ? 1 : 0;
}
