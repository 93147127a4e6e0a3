/*
 * trace_bench.c - what appending to the execution trace costs, run by
 * bench/trace_bench.sh under LD_PRELOAD=libcprof.so.
 *
 *   trace_bench append N OUT   N x cprof_trace_log with a trace running
 *                              (API, to OUT); prints the CPU ns per event
 *                              (one clock read and one append each)
 *   trace_bench off N          the same N calls with no trace running
 *                              (the test of the session word only)
 *   trace_bench clock N        N x clock_gettime(CLOCK_MONOTONIC) alone:
 *                              the part of an event that is the clock
 *
 * Prints "MODE cpu_ns_per_event=X events=N dropped=D" (thread CPU time /
 * N; D from the trace's otherData when OUT is given).
 */
#include <cprof.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* the loop alone (callgrind --toggle-collect=bench_loop counts only it) */
__attribute__((noinline)) void bench_loop(long n);
__attribute__((noinline)) void bench_loop(long n)
{
	for (long i = 0; i < n; i++)
		cprof_trace_log("bench", "e");
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *mode = argv[1];
	long n = atol(argv[2]);
	bool on = strcmp(mode, "append") == 0;
	if (on && (argc < 4 || cprof_trace_start(argv[3]) != 0)) {
		fprintf(stderr, "trace_bench: %s\n", cprof_last_error());
		return 1;
	}
	double t0 = cpu_ns();
	if (strcmp(mode, "clock") == 0) {
		struct timespec ts;
		volatile long sink = 0;
		for (long i = 0; i < n; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
	} else {
		bench_loop(n);
	}
	double t1 = cpu_ns();
	if (on)
		cprof_trace_stop();
	printf("%s cpu_ns_per_event=%.2f events=%ld\n", mode, (t1 - t0) / (double)n, n);
	return 0;
}
