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
 * remembered, alternations must not be.  Meanwhile a profiling timer's
 * handler (on_prof) walks too, landing anywhere in those walks, the
 * remembered ones included (as a program's handler that locks a mutex
 * would): its walks must name on_prof (hwrong=N) and leave the others'
 * right.  The handler only keeps its walks' first frames; they are named
 * after the loop (dladdr takes the loader's lock: a handler calling it
 * while the loop was inside it hung the program).  Linked with libcprof.a, -rdynamic (dladdr names the
 * functions), frame pointers on.
 *
 *   wait_memo ROUNDS
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <sys/time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_unwind.h"

static int wrong, named;
#define HKEEP 4096
static uintptr_t hpc[HKEEP];   /* the handler's walks' first frames */
static volatile sig_atomic_t hwalks, hbad;

/* pcs[i]'s symbol is want: 1 if not, -1 unnamed (dladdr: not
 * async-signal-safe, so never from the handler) */
static int check(const uintptr_t *pcs, int n, int i, const char *want)
{
	Dl_info di;
	if (n <= i || !dladdr((void *)pcs[i], &di) || !di.dli_sname)
		return -1;
	return strcmp(di.dli_sname, want) != 0;
}

__attribute__((noinline)) static int walk_here(const char *want)
{
	uintptr_t pcs[8];
	int n = rt_unwind_here(pcs, 8, 0);   /* pcs[0] here, pcs[1] the caller */
	int c = check(pcs, n, 1, want);
	if (c >= 0) {
		named++;
		wrong += c;
	}
	__asm__ volatile("" ::: "memory");
	return n;
}

__attribute__((noinline)) void on_prof(int sig)
{
	(void)sig;
	uintptr_t pcs[8];
	int n = rt_unwind_here(pcs, 8, 0);   /* on_prof, the signal frame, ... */
	if (n < 1)
		hbad++;
	else if (hwalks < HKEEP)
		hpc[hwalks] = pcs[0];
	hwalks++;
	__asm__ volatile("" ::: "memory");
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
	signal(SIGPROF, on_prof);
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };   /* every tick of CPU */
	setitimer(ITIMER_PROF, &it, NULL);
	for (int i = 0; i < rounds; i++) {
		x = x * 1103515245u + 12345u;
		frames += (x >> 16) & 1 ? g1() : g2();
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_PROF, &off, NULL);
	int hwrong = hbad;
	for (int i = 0; i < hwalks && i < HKEEP; i++)
		if (check(&hpc[i], 1, 0, "on_prof") != 0)
			hwrong++;
	uint64_t hits, walks;
	rt_unwind_memo_counts(&hits, &walks);
	printf("rounds=%d named=%d wrong=%d hits=%llu walks=%llu frames=%d hwalks=%d hwrong=%d\n",
	       rounds, named, wrong, (unsigned long long)hits, (unsigned long long)walks, frames,
	       (int)hwalks, (int)hwrong);
	return 0;
}
