/* hot.c - a C program for the symbolization tests: a hot loop in a named
 * function, a static inline helper that -O2 inlines into it, a qsort
 * callback, and a call into a shared library (libhotlib.so, when built with
 * -DWITH_LIB).  Runs for about CPU_SECONDS (argv[1], default 1) of CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef WITH_LIB
double lib_spin(long n);
#endif

static volatile double sink;

static inline __attribute__((always_inline)) double mix(double x, long i)
{
	x = x * 1.0000001 + (double)(i & 7);
	return x / 1.0000002;
}

__attribute__((noinline)) double hot_loop(long n)
{
	double x = 0;
	for (long i = 0; i < n; i++)
		x = mix(x, i);
	return x;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

__attribute__((noinline)) void sort_work(int n)
{
	int *v = malloc(sizeof *v * (size_t)n);
	if (!v)
		exit(1);
	unsigned s = 12345;
	for (int i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		v[i] = (int)(s >> 8);
	}
	qsort(v, (size_t)n, sizeof *v, cmp_int);
	sink = v[n / 2];
	free(v);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	clock_t end = clock() + (clock_t)(secs * CLOCKS_PER_SEC);
	while (clock() < end) {
		sink = hot_loop(8000000);
		sort_work(200000);
#ifdef WITH_LIB
		sink = lib_spin(4000000);
#endif
	}
	printf("%g\n", sink);
	return 0;
}
