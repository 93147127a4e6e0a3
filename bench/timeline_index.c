/*
 * timeline_index.c - the timeline index's three ways of reading a trace
 * compared on the same bytes, in interleaved rounds: the validating
 * scanner alone (cprof_timeline_build_general), the fast path for the
 * runtime's own layout in one pass (cprof_timeline_build_split with no
 * split), and the default build (the fast path, a trace of 8 MiB or more
 * in two halves on two threads).  Per round: CPU seconds of the process
 * and wall seconds of each, and whether each index equals the scanner's
 * (cprof_timeline_same); then the medians (min..max) and the median of
 * the per-round ratios against the scanner.
 *
 *   timeline_index TRACE.json [ROUNDS]
 *
 * With -load: a trace read then indexed (cprof_read_file, then
 * cprof_timeline_build) against read and indexed at once
 * (cprof_timeline_load: a reader thread, the index following it), in
 * interleaved rounds: the process's CPU seconds, the calling thread's
 * own CPU seconds (the serial part: on two free CPUs the wall time is
 * about the larger of it and the other thread's), wall seconds, and
 * whether the two indexes are the same; then medians and ratios.
 *
 *   timeline_index -load TRACE.json [ROUNDS]
 */
#include "cprof_timeline.h"

#include <stdbool.h>
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
	printf("  %-44s %.3f (%.3f..%.3f)\n", what, v[n / 2], v[0], v[n - 1]);
}

/* -load: read, then indexed against read and indexed at once. */
static int overlap(const char *path, int rounds)
{
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
			int rc = k == 0 ? cprof_read_file(path, SIZE_MAX, &data[k], &len, &err) : 0;
			if (rc == 0)
				rc = k == 0 ? cprof_timeline_build(data[k], len, &tl[k], &err)
					: cprof_timeline_load(path, SIZE_MAX, &data[k], &len, &tl[k], &err);
			cpu[k][r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
			self[k][r] = now(CLOCK_THREAD_CPUTIME_ID) - s0;
			wall[k][r] = now(CLOCK_MONOTONIC) - w0;
			if (rc < 0) {
				fprintf(stderr, "%s: %s\n", path, err.msg);
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

int main(int argc, char **argv)
{
	bool load = argc > 1 && strcmp(argv[1], "-load") == 0;
	argv += load;
	argc -= load;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	if (argc < 2 || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: timeline_index [-load] TRACE.json [ROUNDS 1..%d]\n", ROUNDS_MAX);
		return 2;
	}
	if (load)
		return overlap(argv[1], rounds);
	void *data = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	if (cprof_read_file(argv[1], (size_t)-1, &data, &len, &err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err.msg);
		return 2;
	}
	static const char *const names[3] = { "scanner", "fast, one pass", "fast, two halves" };
	double cpu[3][ROUNDS_MAX], wall[3][ROUNDS_MAX], ratio[2][ROUNDS_MAX];
	for (int r = 0; r < rounds; r++) {
		cprof_timeline *tl[3] = { NULL, NULL, NULL };
		for (int k = 0; k < 3; k++) {
			double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
			int rc = k == 0 ? cprof_timeline_build_general(data, len, &tl[k], &err)
				: k == 1 ? cprof_timeline_build_split(data, len, SIZE_MAX, &tl[k], &err)
				: cprof_timeline_build(data, len, &tl[k], &err);
			cpu[k][r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
			wall[k][r] = now(CLOCK_MONOTONIC) - w0;
			if (rc < 0) {
				fprintf(stderr, "%s: %s\n", argv[1], err.msg);
				return 2;
			}
		}
		for (int k = 1; k < 3; k++)
			ratio[k - 1][r] = cpu[k][r] / cpu[0][r];
		printf("round %d: CPU s %.3f / %.3f / %.3f, wall s %.3f / %.3f / %.3f, same index %s\n",
		       r + 1, cpu[0][r], cpu[1][r], cpu[2][r], wall[0][r], wall[1][r], wall[2][r],
		       cprof_timeline_same(tl[0], tl[1]) && cprof_timeline_same(tl[0], tl[2]) ? "yes" : "NO");
		for (int k = 0; k < 3; k++)
			cprof_timeline_free(tl[k]);
	}
	printf("%zu bytes, %d rounds, medians (min..max):\n", len, rounds);
	for (int k = 0; k < 3; k++) {
		char what[64];
		snprintf(what, sizeof what, "%s, CPU s", names[k]);
		show(what, cpu[k], rounds);
		snprintf(what, sizeof what, "%s, wall s", names[k]);
		show(what, wall[k], rounds);
	}
	show("CPU ratio fast one pass / scanner", ratio[0], rounds);
	show("CPU ratio two halves / scanner", ratio[1], rounds);
	free(data);
	return 0;
}
