/*
 * gen.c - write a large synthetic profile for the benchmarks.
 *
 *   gen [-type cpu|heap] [-samples N] [-locations N] [-functions N]
 *       [-depth MIN:MAX] [-seed N] OUT.pb.gz
 *
 * Stacks are random walks over a fixed set of locations (each location one
 * function, some with an inlined caller as a second line), so nearly every
 * sample has a distinct stack: the hard case for pprof, whose memory grows
 * with the number of distinct stacks.  Deterministic for a given seed.
 * Built from the profile core's own builder and encoder.
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *m)
{
	fprintf(stderr, "gen: %s\n", m);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *type = "heap", *out = NULL;
	long nsamples = 600000, nlocs = 100000, nfuncs = 20000, dmin = 4, dmax = 12;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-type") && i + 1 < argc) type = argv[++i];
		else if (!strcmp(a, "-samples") && i + 1 < argc) nsamples = atol(argv[++i]);
		else if (!strcmp(a, "-locations") && i + 1 < argc) nlocs = atol(argv[++i]);
		else if (!strcmp(a, "-functions") && i + 1 < argc) nfuncs = atol(argv[++i]);
		else if (!strcmp(a, "-depth") && i + 1 < argc) {
			if (sscanf(argv[++i], "%ld:%ld", &dmin, &dmax) != 2) die("bad -depth");
		} else if (!strcmp(a, "-seed") && i + 1 < argc) rng = strtoull(argv[++i], NULL, 0) | 1;
		else if (a[0] != '-' && !out) out = a;
		else die("usage: gen [-type cpu|heap] [-samples N] [-locations N] [-functions N] [-depth MIN:MAX] [-seed N] OUT");
	}
	if (!out || nsamples <= 0 || nlocs <= 0 || nfuncs <= 0 || dmin < 1 || dmax < dmin || dmax > 512)
		die("bad arguments");
	bool cpu = strcmp(type, "cpu") == 0;

	cprof_profile *p = cprof_profile_new();
	if (!p) die("out of memory");
	char buf[256];
	if (cpu) {
		cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count"));
		cprof_add_vtype(p, cprof_intern_cstr(p, "cpu"), cprof_intern_cstr(p, "nanoseconds"));
		p->period_type = (cprof_vtype){ cprof_intern_cstr(p, "cpu"), cprof_intern_cstr(p, "nanoseconds") };
		p->period = 10000000;
	} else {
		const char *t[][2] = { { "alloc_objects", "count" }, { "alloc_space", "bytes" },
				       { "inuse_objects", "count" }, { "inuse_space", "bytes" } };
		for (int k = 0; k < 4; k++)
			cprof_add_vtype(p, cprof_intern_cstr(p, t[k][0]), cprof_intern_cstr(p, t[k][1]));
		p->period_type = (cprof_vtype){ cprof_intern_cstr(p, "space"), cprof_intern_cstr(p, "bytes") };
		p->period = 524288;
	}
	p->time_nanos = 1763722800000000000LL;
	p->duration_nanos = 30000000000LL;
	cprof_mapping m = { .id = 1, .start = 0x400000, .limit = 0x4000000,
			    .file = cprof_intern_cstr(p, "/usr/bin/bigserver"),
			    .has_functions = true, .has_filenames = true, .has_line_numbers = true,
			    .has_inline_frames = true };
	cprof_add_mapping(p, &m);
	for (long f = 0; f < nfuncs; f++) {
		cprof_function fn = { .id = (uint64_t)f + 1 };
		snprintf(buf, sizeof buf, "module%ld::Component%ld::method_%ld", f % 97, f % 1013, f);
		fn.name = fn.system_name = cprof_intern_cstr(p, buf);
		snprintf(buf, sizeof buf, "src/module%ld/component%ld.cc", f % 97, f % 1013);
		fn.filename = cprof_intern_cstr(p, buf);
		fn.start_line = (int64_t)(next() % 5000) + 1;
		if (cprof_add_function(p, &fn) < 0) die("out of memory");
	}
	for (long l = 0; l < nlocs; l++) {
		cprof_location loc = { .id = (uint64_t)l + 1, .mapping = 0,
				       .address = 0x400000 + (uint64_t)l * 16 };
		cprof_line lines[2];
		size_t nl = 1 + (next() % 8 == 0);
		for (size_t k = 0; k < nl; k++) {
			lines[k].function = (uint32_t)(next() % (uint64_t)nfuncs);
			lines[k].line = (int64_t)(next() % 5000) + 1;
			lines[k].column = 0;
		}
		if (cprof_add_location(p, &loc, lines, nl) < 0) die("out of memory");
	}
	uint32_t stack[512];
	for (long s = 0; s < nsamples; s++) {
		long depth = dmin + (long)(next() % (uint64_t)(dmax - dmin + 1));
		for (long d = 0; d < depth; d++)
			stack[d] = (uint32_t)(next() % (uint64_t)nlocs);
		int64_t st = cprof_intern_stack(p, stack, (size_t)depth);
		if (st < 0) die("out of memory");
		int64_t v[4];
		if (cpu) {
			v[0] = 1 + (int64_t)(next() % 3);
			v[1] = v[0] * 10000000;
		} else {
			int64_t size = 16 << (next() % 12);
			v[0] = 1 + (int64_t)(next() % 50);
			v[1] = v[0] * size;
			v[2] = (int64_t)(next() % (uint64_t)(v[0] + 1));
			v[3] = v[2] * size;
		}
		if (cprof_add_sample(p, (uint32_t)st, 0, v) < 0) die("out of memory");
	}
	cprof_error err = { 0 };
	if (cprof_pb_write_file(p, out, &err) < 0) {
		fprintf(stderr, "gen: %s: %s\n", out, err.msg);
		return 2;
	}
	cprof_profile_free(p);
	return 0;
}
