/*
 * periodic.c - a periodic allocation pattern for the heap sampler's
 * aliasing test: each round allocates one 300 KiB block (big_a) then two
 * hundred 1 KiB blocks (small_b), about one default sampling interval
 * (512 KiB) per round, and frees them all.  A sampler whose points fell
 * at a fixed phase of the pattern would charge one function with nearly
 * everything; the truth is 60% big_a, 40% small_b of the bytes.  Then
 * keeps 20 blocks of 600,000 bytes (keep_exact), for the exact recording
 * of blocks at or above the rate.
 *
 *   periodic [MIB]     (default 1024 MiB allocated in all by the rounds)
 */
#include <stdio.h>
#include <stdlib.h>

void *smalls[200];
void *kept[20];   /* global: the compiler may not drop the allocations */

__attribute__((noinline)) static void *big_a(void)
{
	char *p = malloc(300 << 10);
	p[0] = 1;
	return p;
}

__attribute__((noinline)) static void small_b(void)
{
	for (int i = 0; i < 200; i++) {
		char *p = malloc(1024);
		p[0] = 1;
		smalls[i] = p;
	}
}

__attribute__((noinline)) static void keep_exact(void)
{
	for (int i = 0; i < 20; i++) {
		char *p = malloc(600000);
		p[0] = 1;
		kept[i] = p;
	}
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 1024;
	long rounds = mib * 1024 / 500;
	for (long r = 0; r < rounds; r++) {
		void *a = big_a();
		small_b();
		free(a);
		for (int i = 0; i < 200; i++)
			free(smalls[i]);
	}
	keep_exact();
	printf("rounds %ld kept %d\n", rounds, kept[19] != NULL);
	return 0;
}
