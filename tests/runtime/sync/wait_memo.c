/*
 * wait_memo.c - the runtime's remembered stack walks (unwind.c,
 * rt_unwind_cached, behind rt_unwind_here) give the frames of the walk
 * asked for, never those of an earlier caller.
 *
 * walk_here() walks its own stack with rt_unwind_here.  g1() and g2() call
 * it from identical frames at the same depth, so each walk starts from the
 * same pc, sp and fp; only the return address on the stack (and the
 * frames above it) tell them apart.  The program calls them ROUNDS times
 * in a pattern of repeats and alternations (g1 g1 g2 g1 g2 g2 ...), and
 * checks each walk's second frame by its symbol: wrong=N counts walks
 * that named the other caller.  hits= and walks= are the thread's
 * remembered and full walks (rt_unwind_memo_counts): repeats must be
 * remembered, alternations must not be.  Linked with libcprof.a,
 * -rdynamic (dladdr names g1 and g2), frame pointers on.
 *
 *   wait_memo ROUNDS
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_unwind.h"

static int wrong, named;

__attribute__((noinline)) static int walk_here(const char *want)
{
	uintptr_t pcs[8];
	int n = rt_unwind_here(pcs, 8, 0);   /* pcs[0] here, pcs[1] the caller */
	Dl_info di;
	if (n >= 2 && dladdr((void *)pcs[1], &di) && di.dli_sname) {
		named++;
		if (strcmp(di.dli_sname, want) != 0)
			wrong++;
	}
	__asm__ volatile("" ::: "memory");
	return n;
}

__attribute__((noinline)) int g1(void)
{
	int r = walk_here("g1");
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) int g2(void)
{
	int r = walk_here("g2");
	__asm__ volatile("" ::: "memory");
	return r;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1000;
	unsigned x = 12345;
	int frames = 0;
	for (int i = 0; i < rounds; i++) {
		x = x * 1103515245u + 12345u;
		frames += (x >> 16) & 1 ? g1() : g2();
	}
	uint64_t hits, walks;
	rt_unwind_memo_counts(&hits, &walks);
	printf("rounds=%d named=%d wrong=%d hits=%llu walks=%llu frames=%d\n", rounds, named, wrong,
	       (unsigned long long)hits, (unsigned long long)walks, frames);
	return 0;
}
