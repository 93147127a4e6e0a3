/*
 * burn.h - CPU work shared by the robustness programs: a loop the compiler
 * cannot remove, so the profiler has something to sample.
 */
#ifndef ROBUST_BURN_H
#define ROBUST_BURN_H
#include <stdint.h>

static __attribute__((noinline, unused)) uint64_t burn(uint64_t n)
{
	volatile uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}
#endif
