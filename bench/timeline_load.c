/*
 * timeline_load.c - what loading a trace into the web UI costs, by step
 * (bench/timeline.sh): reading the file, indexing it for the timeline
 * (cprof_timeline_build), and each delay profile (cprof_trace_pprof),
 * in CPU seconds of this process, and one window query of every lane at
 * 1200 px over the whole trace and over 1/1000 of it.
 *
 *   timeline_load TRACE.json
 */
#include "cprof_timeline.h"
#include "cprof_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool count(void *ctx, const cprof_tl_item *it)
{
	(void)it;
	++*(size_t *)ctx;
	return true;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: timeline_load TRACE.json\n");
		return 2;
	}
	void *data = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	double t = cpu();
	if (cprof_read_file(argv[1], (size_t)-1, &data, &len, &err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err.msg);
		return 2;
	}
	printf("read_s %.3f bytes %zu\n", cpu() - t, len);
	t = cpu();
	cprof_timeline *tl = NULL;
	if (cprof_timeline_build(data, len, &tl, &err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err.msg);
		return 2;
	}
	printf("index_s %.3f\n", cpu() - t);
	size_t slices = 0;
	for (size_t l = 0; l < cprof_timeline_nlanes(tl); l++)
		slices += cprof_timeline_nslices(tl, l);
	printf("lanes %zu slices %zu\n", cprof_timeline_nlanes(tl), slices);
	int64_t t0, t1;
	cprof_timeline_range(tl, &t0, &t1);
	for (int k = 0; k < 2; k++) {
		int64_t span = k == 0 ? t1 - t0 : (t1 - t0) / 1000;
		int64_t from = k == 0 ? t0 : t0 + (t1 - t0) / 2;
		size_t items = 0;
		double q = cpu();
		int reps = 20;
		for (int r = 0; r < reps; r++)
			for (size_t l = 0; l < cprof_timeline_nlanes(tl); l++)
				cprof_timeline_query(tl, l, from, from + span, 1200, count, &items);
		printf("query_%s_us %.1f items %zu\n", k == 0 ? "all" : "zoom", (cpu() - q) / reps * 1e6,
		       items / (size_t)reps);
	}
	for (int k = 0; k < 3; k++) {
		t = cpu();
		cprof_profile *p = NULL;
		if (cprof_trace_pprof(data, len, (cprof_trace_kind)k, &p, &err) < 0) {
			fprintf(stderr, "%s: %s\n", argv[1], err.msg);
			return 2;
		}
		printf("pprof_%d_s %.3f samples %zu\n", k, cpu() - t, p->samples.n);
		cprof_profile_free(p);
	}
	cprof_timeline_free(tl);
	free(data);
	return 0;
}
