/*
 * timeline_overlap.c - a trace read then indexed (cprof_read_file, then
 * cprof_timeline_build: its second half on a second thread) against read
 * and indexed at once (cprof_timeline_load: a reader thread, the index
 * following it), in interleaved rounds.  Per round and way: the
 * process's CPU seconds, the calling thread's own CPU seconds (the
 * serial part: on two free CPUs the wall time is about the larger of it
 * and the other thread's), and wall seconds; whether the two indexes are
 * the same; then the medians (min..max) and the per-round ratios.
 *
 *   timeline_overlap TRACE.json [ROUNDS]
 */
#include "cprof_timeline.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS_MAX 50

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void show(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmpd);
	printf("  %-40s %.3f (%.3f..%.3f)\n", what, v[n / 2], v[0], v[n - 1]);
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	if (argc < 2 || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: timeline_overlap TRACE.json [ROUNDS 1..%d]\n", ROUNDS_MAX);
		return 2;
	}
	static const char *const names[2] = { "read, then indexed", "read and indexed at once" };
	double cpu[2][ROUNDS_MAX], self[2][ROUNDS_MAX], wall[2][ROUNDS_MAX], ratio[3][ROUNDS_MAX];
	size_t len = 0;
	for (int r = 0; r < rounds; r++) {
		void *data[2] = { NULL, NULL };
		cprof_timeline *tl[2] = { NULL, NULL };
		for (int k = 0; k < 2; k++) {
			cprof_error err = { 0 };
			double c0 = now(CLOCK_PROCESS_CPUTIME_ID), s0 = now(CLOCK_THREAD_CPUTIME_ID);
			double w0 = now(CLOCK_MONOTONIC);
			int rc = k == 0 ? cprof_read_file(argv[1], SIZE_MAX, &data[k], &len, &err) : 0;
			if (rc == 0)
				rc = k == 0 ? cprof_timeline_build(data[k], len, &tl[k], &err)
					: cprof_timeline_load(argv[1], SIZE_MAX, &data[k], &len, &tl[k], &err);
			cpu[k][r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
			self[k][r] = now(CLOCK_THREAD_CPUTIME_ID) - s0;
			wall[k][r] = now(CLOCK_MONOTONIC) - w0;
			if (rc < 0) {
				fprintf(stderr, "%s: %s\n", argv[1], err.msg);
				return 2;
			}
		}
		/* the same index: the second's bytes indexed the first way */
		cprof_timeline *again = NULL;
		cprof_error err = { 0 };
		bool same = memcmp(data[0], data[1], len) == 0 &&
			cprof_timeline_build(data[1], len, &again, &err) == 0 &&
			cprof_timeline_same(again, tl[1]);
		cprof_timeline_free(again);
		ratio[0][r] = cpu[1][r] / cpu[0][r];
		ratio[1][r] = self[1][r] / self[0][r];
		ratio[2][r] = wall[1][r] / wall[0][r];
		printf("round %d: CPU s %.3f / %.3f, calling thread's %.3f / %.3f, wall s %.3f / %.3f, "
		       "same index %s\n", r + 1, cpu[0][r], cpu[1][r], self[0][r], self[1][r],
		       wall[0][r], wall[1][r], same ? "yes" : "NO");
		for (int k = 0; k < 2; k++) {
			cprof_timeline_free(tl[k]);
			free(data[k]);
		}
	}
	printf("%zu bytes, %d rounds, medians (min..max):\n", len, rounds);
	for (int k = 0; k < 2; k++) {
		char what[80];
		snprintf(what, sizeof what, "%s, CPU s", names[k]);
		show(what, cpu[k], rounds);
		snprintf(what, sizeof what, "%s, calling thread's CPU s", names[k]);
		show(what, self[k], rounds);
		snprintf(what, sizeof what, "%s, wall s", names[k]);
		show(what, wall[k], rounds);
	}
	show("ratio at once / then, CPU", ratio[0], rounds);
	show("ratio at once / then, calling thread's CPU", ratio[1], rounds);
	show("ratio at once / then, wall", ratio[2], rounds);
	return 0;
}
