/*
 * dlopen_loop.c - the cost of dlopen/dlclose for bench/dlopen.sh (and the
 * runtime test of where unwind tables are built): N times dlopen LIB
 * (RTLD_NOW | RTLD_LOCAL), look one symbol up, dlclose it.  Prints
 *
 *   cycles N wall_us W
 *
 * (microseconds per cycle).  Usage: dlopen_loop LIB N [SYMBOL]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: dlopen_loop LIB N [SYMBOL]\n");
		return 2;
	}
	long n = atol(argv[2]);
	const char *sym = argc > 3 ? argv[3] : NULL;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 1;
		}
		if (sym && !dlsym(h, sym)) {
			fprintf(stderr, "dlsym %s: %s\n", sym, dlerror());
			return 1;
		}
		if (dlclose(h) != 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
	printf("cycles %ld wall_us %.1f\n", n, us / (double)n);
	return 0;
}
