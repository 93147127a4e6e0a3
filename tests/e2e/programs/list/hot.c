/* hot.c - a small CPU-bound program for the -list and -disasm tests: main
 * calls hot() (an integer loop) and cold() (a floating-point loop), so a
 * CPU profile has samples on known lines of known functions. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) unsigned long hot(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += (i * i) % 7 + (s >> 3);
	return s;
}

__attribute__((noinline)) double cold(unsigned long n)
{
	double d = 1.0;
	for (unsigned long i = 0; i < n; i++)
		d = d * 1.0000001 + 1e-9;
	return d;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
	unsigned long s = 0;
	double d = 0;
	for (unsigned long k = 0; k < n; k++) {
		s += hot(1000000 + k);
		d += cold(300000 + k);
	}
	printf("%lu %g\n", s, d);
	return 0;
}
