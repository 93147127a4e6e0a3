/*
 * cpu_overhead.c - the CPU-bound program of bench/cpu_overhead.sh: zlib
 * (the Debian library, unchanged) compresses a generated, partly
 * compressible 4 MiB buffer at level 6, argv[1] times, and prints the
 * total compressed size (the same in every run, so a run that went wrong
 * shows).  Nothing in it knows about profilers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#define SIZE (4u << 20)

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 10;
	unsigned char *in = malloc(SIZE);
	uLongf cap = compressBound(SIZE);
	unsigned char *out = malloc(cap);
	if (!in || !out || reps < 1)
		return 2;
	/* words from a small vocabulary with random numbers between: text-like */
	static const char *const words[] = { "profile ", "sample ", "stack ", "frame ", "thread ",
					     "signal ", "timer ", "cpu ", "unwind ", "symbol " };
	uint64_t x = 88172645463325252ULL;
	size_t n = 0;
	while (n < SIZE) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		const char *w = words[x % 10];
		while (*w && n < SIZE)
			in[n++] = (unsigned char)*w++;
		if ((x >> 8) % 3 == 0 && n < SIZE)
			in[n++] = (unsigned char)('0' + (x >> 16) % 10);
	}
	unsigned long long total = 0;
	for (int i = 0; i < reps; i++) {
		uLongf len = cap;
		if (compress2(out, &len, in, SIZE, 6) != Z_OK)
			return 1;
		total += len;
	}
	printf("compressed %d x %u bytes to %llu bytes\n", reps, SIZE, total);
	free(in);
	free(out);
	return 0;
}
