/* alloc_threads.c - the program run over lockalloc.so, the test allocator
 * that aborts when re-entered from inside its lock: four threads allocate,
 * reallocate and free blocks of random sizes (contending for the
 * allocator's one mutex, so the runtime's lock hooks record waits from
 * inside the allocator), while the main thread creates short threads and
 * dlopens and dlcloses a library (argv[1]) and calls into it.  Prints
 * "ok" when everything came back. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 20000

static void *worker(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
	void *keep[64] = { 0 };
	for (int i = 0; i < ROUNDS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int k = (int)(x % 64);
		size_t n = 16 + (size_t)(x >> 20) % 4096;
		if (keep[k] && (x & 1)) {
			void *q = realloc(keep[k], n);
			if (!q)
				abort();
			keep[k] = q;
		} else {
			free(keep[k]);
			keep[k] = malloc(n);
			if (!keep[k])
				abort();
		}
		memset(keep[k], (int)k, 16);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

static void *short_thread(void *arg)
{
	char *s = malloc(100);
	snprintf(s, 100, "thread %d", (int)(uintptr_t)arg);
	free(s);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 20; i++) {
		void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 1;
		}
		pthread_t s;
		pthread_create(&s, NULL, short_thread, (void *)(uintptr_t)i);
		pthread_join(s, NULL);
		dlclose(h);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	puts("ok");
	return 0;
}
