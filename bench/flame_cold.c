/*
 * flame_cold.c - the web UI's cold flame graph, timed alone: decode a
 * profile (not timed), then build its flame tree (cprof_flame_build, what
 * the first /ui/data/flame request of `cprof -http` does) and write the
 * JSON a 1200-pixel page asks for (minfrac 1/2400), timed in CPU time
 * (getrusage, user + system) over RUNS builds from fresh copies.
 * Prints one line per build: "build_cpu_s write_cpu_s json_bytes".
 *
 *   cc -O2 -D_GNU_SOURCE -Isrc/core -Isrc/report bench/flame_cold.c \
 *      build/libcprofreport.a build/libcprofcore.a -lz -lpcre2-8 -lm -o bench/out/flame_cold
 *   bench/out/flame_cold bench/out/cpu-1m.pb.gz 5
 */
#include "cprof_core.h"
#include "cprof_report.h"
#include "cprof_webdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: flame_cold PROFILE [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	FILE *in = fopen(argv[1], "rb");
	if (!in) {
		perror(argv[1]);
		return 2;
	}
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	for (size_t r; buf && (r = fread(buf + n, 1, cap - n, in)) > 0;) {
		n += r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(in);
	if (!buf)
		return 2;
	for (int i = 0; i < runs; i++) {
		cprof_profile *p = NULL;
		cprof_error err = { 0 };
		if (cprof_decode(buf, n, &p, &err) < 0) {
			fprintf(stderr, "flame_cold: %s: %s\n", argv[1], err.msg);
			return 2;
		}
		cprof_ropts o;
		cprof_ropts_init(&o);
		cprof_flame *f = NULL;
		double t0 = cpu_now();
		if (cprof_flame_build(p, &o, stderr, &f, &err) < 0) {
			fprintf(stderr, "flame_cold: %s\n", err.msg);
			return 2;
		}
		double t1 = cpu_now();
		char *json = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&json, &len);
		if (!m || cprof_flame_write(f, NULL, 0, 1.0 / 2400, m) < 0 || fclose(m) != 0)
			return 2;
		double t2 = cpu_now();
		printf("%.3f %.3f %zu\n", t1 - t0, t2 - t1, len);
		free(json);
		cprof_flame_free(f);
		cprof_profile_free(p);
	}
	free(buf);
	return 0;
}
