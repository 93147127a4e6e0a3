/*
 * trace_cost.c - what one event appended to the execution trace costs,
 * by kind, linked statically with a libcprof.a (bench/trace_cost.sh builds
 * it once against the current tree and once against a baseline's, and
 * runs the two in interleaved pairs).
 *
 *   trace_cost MODE N [THREADS]
 *
 *   log    N x cprof_trace_log("bench", "e"): the API's log event (a clock
 *          read, a 48-byte record with its two strings)
 *   wake   N x rt_trace_wake: what an unlock, a condvar signal or a
 *          sem_post adds when a trace runs (a clock read, a 40-byte record)
 *   wait   N x rt_trace_wait with the times given and an 8-frame stack:
 *          what a finished wait adds after the sync wrapper has timed and
 *          unwound it (104 bytes, no clock read)
 *   log+, wake+, wait+  the same in a generation the flight recorder
 *          fills again (two rotations first, N events each): the buffer's
 *          pages are already in, as in a flight recorder's steady state
 *   off    N x cprof_trace_log with no trace running (the session test)
 *   clock  N x clock_gettime(CLOCK_MONOTONIC) alone, for reference
 *   flood  THREADS threads each append log events for N ms (with a
 *          small CPROF_TRACE_BUF, more than it holds): events/s appended,
 *          and whether every event is either recorded or counted as
 *          dropped (the trace's own totals)
 *
 * The trace goes to /dev/null (written at stop, outside the timed loop).
 * Prints "MODE cpu_ns_per_event=X sys_ns_per_event=S events=N" (the loop's
 * thread CPU time / N, and the part of it in the kernel: the buffer's
 * pages), or for flood "flood events_per_s=R produced=P recorded=R dropped=D
 * lost_uncounted=L".
 */
#include "cprof.h"
#include "trace_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* the calling thread's system CPU time (page faults, madvise) */
static double sys_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_stime.tv_sec * 1e9 + ru.ru_stime.tv_usec * 1e3;
}

static double mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int obj;

/* the loops alone (callgrind --toggle-collect=bench_loop counts only them) */
__attribute__((noinline)) void bench_loop(int mode, long n);
__attribute__((noinline)) void bench_loop(int mode, long n)
{
	uintptr_t pcs[8] = { 0x401000, 0x401100, 0x401200, 0x401300,
			     0x401400, 0x401500, 0x401600, 0x401700 };
	switch (mode) {
	case 0:
		for (long i = 0; i < n; i++)
			cprof_trace_log("bench", "e");
		break;
	case 1:
		for (long i = 0; i < n; i++)
			rt_trace_wake(RT_TWAIT_COND_SIGNAL, &obj);
		break;
	case 2:
		for (long i = 0; i < n; i++)
			rt_trace_wait(RT_TWAIT_READ, &obj, 1000 + i, 2000 + i, -1, pcs, 8);
		break;
	default: {
		struct timespec ts;
		volatile long sink = 0;
		for (long i = 0; i < n; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += ts.tv_nsec;
		}
	}
	}
}

static long flood_ms;
static atomic_long produced;

static void *flood(void *arg)
{
	(void)arg;
	double end = mono_ns() + (double)flood_ms * 1e6;
	long k = 0;
	while (mono_ns() < end) {
		for (int i = 0; i < 1000; i++)
			cprof_trace_log("bench", "e");
		k += 1000;
	}
	atomic_fetch_add(&produced, k);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: trace_cost log|wake|wait|off|clock|flood N [THREADS]\n");
		return 2;
	}
	const char *mode = argv[1];
	long n = atol(argv[2]);
	if (strcmp(mode, "flood") == 0) {
		int nt = argc > 3 ? atoi(argv[3]) : 2;
		if (nt < 1 || nt > 64)
			return 2;
		flood_ms = n;
		if (cprof_trace_start("/dev/null") != 0) {
			fprintf(stderr, "trace_cost: %s\n", cprof_last_error());
			return 1;
		}
		pthread_t th[64];
		double t0 = mono_ns();
		for (int i = 0; i < nt; i++)
			pthread_create(&th[i], NULL, flood, NULL);
		for (int i = 0; i < nt; i++)
			pthread_join(th[i], NULL);
		double t1 = mono_ns();
		rt_trace_session_end();
		rt_trace_info in;
		rt_trace_get_info(&in);
		long p = atomic_load(&produced);
		/* recorded also holds each thread's start and end, and the
		 * markers of drops; dropped counts the program's events only */
		printf("flood events_per_s=%.0f produced=%ld recorded=%llu dropped=%llu "
		       "produced-recorded-dropped=%lld\n",
		       (double)p / ((t1 - t0) / 1e9), p, (unsigned long long)in.recorded,
		       (unsigned long long)in.dropped,
		       (long long)p - (long long)in.recorded - (long long)in.dropped);
		return 0;
	}
	bool warm = mode[strlen(mode) - 1] == '+';
	int m = strncmp(mode, "log", 3) == 0 ? 0 : strncmp(mode, "wake", 4) == 0 ? 1 :
		strncmp(mode, "wait", 4) == 0 ? 2 : strcmp(mode, "off") == 0 ? 0 : 3;
	bool on = strcmp(mode, "off") != 0 && strcmp(mode, "clock") != 0;
	if (on && cprof_trace_start("/dev/null") != 0) {
		fprintf(stderr, "trace_cost: %s\n", cprof_last_error());
		return 1;
	}
	for (int r = 0; warm && r < 2; r++) {
		bench_loop(m, n);
		if (rt_trace_rotate(64u << 20) != 0) {
			fprintf(stderr, "trace_cost: rotate: %s\n", cprof_last_error());
			return 1;
		}
	}
	double t0 = cpu_ns(), s0 = sys_ns();
	bench_loop(m, n);
	double t1 = cpu_ns(), s1 = sys_ns();
	if (on)
		cprof_trace_stop();
	printf("%s cpu_ns_per_event=%.2f sys_ns_per_event=%.2f events=%ld\n", mode,
	       (t1 - t0) / (double)n, (s1 - s0) / (double)n, n);
	return 0;
}
