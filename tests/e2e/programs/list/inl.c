/* inl.c - a CPU-bound loop whose body is an inlined function, for the
 * -list test of inline call sites: samples in step() belong to step's lines
 * (flat) and to the call site in work() (cum only). */
#include <stdio.h>
#include <stdlib.h>

static inline unsigned long step(unsigned long s, unsigned long i)
{
	return s + (i * i) % 7 + (s >> 3);
}

__attribute__((noinline)) unsigned long work(unsigned long n)
{
	unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s = step(s, i);
	return s;
}

int main(int argc, char **argv)
{
	unsigned long s = 0, n = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
	for (unsigned long k = 0; k < n; k++)
		s += work(1000000 + k);
	printf("%lu\n", s);
	return 0;
}
