/*
 * dlopen_loop.c - one thread dlopen()s and dlclose()s a library (argv[1])
 * 300 times, calling into it each time, while the main thread burns CPU
 * and another thread burns CPU inside the library's code.  Prints what the
 * library's function returned, which does not depend on timing.
 */
#include "burn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static const char *lib;
static long total;
static int failed;

static void *loader(void *arg)
{
	for (int i = 0; i < 300; i++) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			failed = 1;
			return NULL;
		}
		int (*f)(int) = (int (*)(int))dlsym(h, "dlib_work");
		if (!f) {
			failed = 1;
			dlclose(h);
			return NULL;
		}
		total += f(i % 10);
		if (dlclose(h) != 0) {
			failed = 1;
			return NULL;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: dlopen_loop LIB\n");
		return 2;
	}
	lib = argv[1];
	pthread_t t;
	if (pthread_create(&t, NULL, loader, NULL) != 0)
		return 1;
	uint64_t x = 0;
	for (int i = 0; i < 50; i++)
		x += burn(200000);
	pthread_join(t, NULL);
	(void)x;
	/* f(n) = n + parity; only the n part is deterministic */
	printf("dlopen loop: %s, calls done\n", failed ? "FAILED" : "ok");
	return failed;
}
