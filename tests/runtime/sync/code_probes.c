/*
 * code_probes.c - the fault-safe reads the runtime's stack walks make,
 * counted, in a program that has the runtime preloaded.
 *
 * The program defines syscall() itself, so the runtime's calls to
 * syscall() (its probe: process_vm_readv on its own pid, which fails
 * instead of faulting) bind to this one, which counts them and makes the
 * call with the syscall instruction.  Two threads hand a token over a
 * condition variable ROUNDS times; run with CPROF_BLOCK_RATE=1 the block
 * profile samples every wait, so every wait's stack is walked.  Prints
 * probes=N rounds=R.  A walk starts in the runtime's own code
 * (rt_unwind_here), which is always mapped: its code bytes are read
 * directly, so N stays far below the number of waits.
 *
 *   code_probes ROUNDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "pingpong.h"

static atomic_long probes;

long syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
	long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_process_vm_readv)
		atomic_fetch_add_explicit(&probes, 1, memory_order_relaxed);
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1000;
	long p0 = atomic_load(&probes);
	pingpong(rounds);
	long p1 = atomic_load(&probes);
	printf("probes=%ld rounds=%d\n", p1 - p0, rounds);
	return 0;
}
