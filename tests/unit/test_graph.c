/*
 * test_graph.c - the call graph and the reports printed from it (graph.c,
 * text.c, tree.c, traces.c): -top/-text, -tree, -peek, -traces.
 *
 * Small profiles are built with the core's builder; each test runs one
 * report into memory and compares it with what go tool pprof (Go 1.19)
 * prints for the same profile (written with cprof_pb_write_file and run
 * through pprof when the expectations were made).  The profiles exercise
 * the corners: recursion (cum once per sample, no self edges), inlined
 * lines (inline and partial-inline callers), unsymbolized locations,
 * trimming (node fraction, node count, residual edges), ties broken by
 * name, -mean, negative values, the output unit, labels in -traces, file
 * name cleaning, and every granularity.  With the conformance goldens in
 * tests/golden, this is what says the graph matches pprof row for row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_core.h"
#include "cprof_report.h"
#include "graph.h"

/* ---- profile builders -------------------------------------------------------- */

typedef struct fn_def {
	const char *name, *file;
	int64_t start;
} fn_def;

typedef struct loc_def {
	uint64_t addr;
	int mapping;            /* -1: none */
	int nline;
	int fn[3];              /* innermost first */
	int64_t line[3];
} loc_def;

typedef struct sample_def {
	int depth;
	int loc[8];             /* leaf first, indices into the location table */
	int64_t v[4];
	const char *slabel[2][2];
	const char *nlabel_key;
	int64_t nlabel;
} sample_def;

static cprof_profile *build(const char *const types[][2], size_t ntypes, const char *mapfile,
			    const fn_def *fns, size_t nfns, const loc_def *locs, size_t nlocs,
			    const sample_def *ss, size_t nss)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	for (size_t i = 0; i < ntypes; i++)
		assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, types[i][0]),
					    cprof_intern_cstr(p, types[i][1])) >= 0);
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x100000,
			    .file = cprof_intern_cstr(p, mapfile), .has_functions = true };
	assert_true(cprof_add_mapping(p, &m) >= 0);
	for (size_t i = 0; i < nfns; i++) {
		cprof_function f = { .id = i + 1, .start_line = fns[i].start };
		f.name = f.system_name = cprof_intern_cstr(p, fns[i].name);
		f.filename = cprof_intern_cstr(p, fns[i].file);
		assert_true(cprof_add_function(p, &f) >= 0);
	}
	for (size_t i = 0; i < nlocs; i++) {
		cprof_location l = { .id = i + 1, .address = locs[i].addr,
				     .mapping = locs[i].mapping < 0 ? CPROF_NONE : (uint32_t)locs[i].mapping };
		cprof_line ln[3];
		for (int k = 0; k < locs[i].nline; k++)
			ln[k] = (cprof_line){ .function = (uint32_t)locs[i].fn[k], .line = locs[i].line[k] };
		assert_true(cprof_add_location(p, &l, ln, (size_t)locs[i].nline) >= 0);
	}
	for (size_t i = 0; i < nss; i++) {
		uint32_t st[8];
		for (int k = 0; k < ss[i].depth; k++)
			st[k] = (uint32_t)ss[i].loc[k];
		int64_t s = cprof_intern_stack(p, st, (size_t)ss[i].depth);
		assert_true(s >= 0);
		cprof_label lab[3];
		size_t nl = 0;
		for (int k = 0; k < 2 && ss[i].slabel[k][0]; k++)
			lab[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, ss[i].slabel[k][0]),
						   .str = cprof_intern_cstr(p, ss[i].slabel[k][1]) };
		if (ss[i].nlabel_key)
			lab[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, ss[i].nlabel_key),
						   .num = ss[i].nlabel };
		int64_t ls = cprof_intern_labels(p, lab, nl);
		assert_true(ls >= 0);
		assert_true(cprof_add_sample(p, (uint32_t)s, (uint32_t)ls, ss[i].v) >= 0);
	}
	return p;
}

#define N(a) (sizeof(a) / sizeof *(a))

/* A CPU profile: recursion, an inlined line, unsymbolized locations, labels,
 * file names that need cleaning and trimming. */
static cprof_profile *cpu_profile(void)
{
	static const char *const types[][2] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	static const fn_def fns[] = {
		{ "main.main", "/proc/self/cwd/./app/main.go", 1 },     /* 0 */
		{ "main.a", "app//x/../main.go", 2 },                    /* 1 */
		{ "main.b", "app/b.go", 3 },                             /* 2 */
		{ "main.inl", "app/b.go", 4 },                           /* 3 */
		{ "main.rec", "/proc/self/cwd/app/rec.go", 5 },          /* 4 */
		{ "main.c", "app/c.go", 6 },                             /* 5 */
		{ "main.d", "app/c.go", 7 },                             /* 6 */
	};
	static const loc_def locs[] = {
		{ 0x1010, 0, 1, { 0 }, { 10 } },                /* 0 main */
		{ 0x2020, 0, 1, { 1 }, { 20 } },                /* 1 a */
		{ 0x3030, 0, 2, { 3, 2 }, { 5, 30 } },          /* 2 inl inlined in b */
		{ 0x4040, 0, 1, { 4 }, { 40 } },                /* 3 rec */
		{ 0x5050, 0, 1, { 5 }, { 50 } },                /* 4 c */
		{ 0x6060, 0, 0, { 0 }, { 0 } },                 /* 5 unsymbolized, in app */
		{ 0x7070, -1, 0, { 0 }, { 0 } },                /* 6 no mapping */
		{ 0x5058, 0, 1, { 5 }, { 51 } },                /* 7 c, other line */
		{ 0x8080, 0, 2, { 3, 6 }, { 6, 70 } },          /* 8 inl inlined in d */
	};
	static const sample_def ss[] = {
		{ .depth = 3, .loc = { 2, 1, 0 }, .v = { 3, 30000000 },
		  .slabel = { { "k", "v1" } }, .nlabel_key = "bytes", .nlabel = 1024 },
		{ .depth = 5, .loc = { 3, 3, 3, 1, 0 }, .v = { 2, 20000000 },
		  .slabel = { { "k", "v2" }, { "a", "x" } } },
		{ .depth = 2, .loc = { 4, 0 }, .v = { 1, 5000000 } },
		{ .depth = 3, .loc = { 5, 4, 0 }, .v = { 1, 1000000 } },
		{ .depth = 2, .loc = { 6, 0 }, .v = { 1, 2000000 } },
		{ .depth = 2, .loc = { 1, 0 }, .v = { 4, 40000000 } },
		{ .depth = 3, .loc = { 7, 2, 0 }, .v = { 1, 3000000 } },
		{ .depth = 3, .loc = { 8, 1, 0 }, .v = { 1, 10000000 } },
		{ .depth = 2, .loc = { 3, 4 }, .v = { 1, 0 } },         /* no cpu: no edges */
		{ .depth = 4, .loc = { 3, 3, 1, 0 }, .v = { 1, 10000000 } },
	};
	return build(types, N(types), "/usr/bin/app", fns, N(fns), locs, N(locs), ss, N(ss));
}

/* A heap profile: four values, -mean, sample_index, byte units. */
static cprof_profile *heap_profile(void)
{
	static const char *const types[][2] = { { "alloc_objects", "count" }, { "alloc_space", "bytes" },
						{ "inuse_objects", "count" }, { "inuse_space", "bytes" } };
	static const fn_def fns[] = {
		{ "main.main", "main.go", 0 }, { "main.alloc", "main.go", 0 },
		{ "main.small", "main.go", 0 }, { "runtime.malg", "proc.go", 0 },
	};
	static const loc_def locs[] = {
		{ 0x1010, 0, 1, { 0 }, { 10 } }, { 0x2020, 0, 1, { 1 }, { 20 } },
		{ 0x3030, 0, 1, { 2 }, { 30 } }, { 0x4040, 0, 1, { 3 }, { 40 } },
	};
	static const sample_def ss[] = {
		{ .depth = 2, .loc = { 1, 0 }, .v = { 10, 10485760, 2, 2097152 } },
		{ .depth = 2, .loc = { 2, 0 }, .v = { 100, 1600, 50, 800 } },
		{ .depth = 3, .loc = { 2, 1, 0 }, .v = { 3, 300, 0, 0 } },
		{ .depth = 1, .loc = { 3 }, .v = { 1, 8192, 1, 8192 } },
	};
	return build(types, N(types), "/usr/bin/app", fns, N(fns), locs, N(locs), ss, N(ss));
}

/* A diff-like profile with negative values (drop_negative, signs). */
static cprof_profile *neg_profile(void)
{
	static const char *const types[][2] = { { "cpu", "nanoseconds" } };
	static const fn_def fns[] = {
		{ "main.main", "main.go", 0 }, { "main.up", "main.go", 0 },
		{ "main.down", "main.go", 0 }, { "main.zero", "main.go", 0 },
	};
	static const loc_def locs[] = {
		{ 0x1010, 0, 1, { 0 }, { 10 } }, { 0x2020, 0, 1, { 1 }, { 20 } },
		{ 0x3030, 0, 1, { 2 }, { 30 } }, { 0x4040, 0, 1, { 3 }, { 40 } },
	};
	static const sample_def ss[] = {
		{ .depth = 2, .loc = { 1, 0 }, .v = { 30000000 } },
		{ .depth = 2, .loc = { 2, 0 }, .v = { -50000000 } },
		{ .depth = 3, .loc = { 3, 2, 0 }, .v = { 20000000 } },
		{ .depth = 3, .loc = { 3, 1, 0 }, .v = { -20000000 } },
	};
	return build(types, N(types), "", fns, N(fns), locs, N(locs), ss, N(ss));
}

/* Many functions, deep stacks with repeats (recursion through several
 * frames): trimming by node count and fraction on a wide graph. */
static cprof_profile *wide_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"),
				    cprof_intern_cstr(p, "count")) >= 0);
	char name[32];
	enum { NF = 300 };
	for (int i = 0; i < NF; i++) {
		snprintf(name, sizeof name, "f%03d", i);
		cprof_function f = { .id = (uint64_t)i + 1, .name = cprof_intern_cstr(p, name) };
		assert_true(cprof_add_function(p, &f) >= 0);
		cprof_line ln = { .function = (uint32_t)i, .line = 1 };
		cprof_location l = { .id = (uint64_t)i + 1, .address = 0x1000 + (uint64_t)i,
				     .mapping = CPROF_NONE };
		assert_true(cprof_add_location(p, &l, &ln, 1) >= 0);
	}
	uint32_t st[64];
	for (int s = 0; s < 2000; s++) {
		int d = 1 + s % 60;
		for (int k = 0; k < d; k++)
			st[k] = (uint32_t)((s * 7 + k * 13) % (k % 3 ? NF : 40));
		int64_t si = cprof_intern_stack(p, st, (size_t)d);
		int64_t v = 1 + s % 5;
		assert_true(si >= 0 && cprof_add_sample(p, (uint32_t)si, 0, &v) >= 0);
	}
	return p;
}

static cprof_profile *empty_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"),
				    cprof_intern_cstr(p, "count")) >= 0);
	return p;
}

/* ---- running reports ---------------------------------------------------------- */

static char *run(cprof_profile *p, const cprof_ropts *o, int *rc, char *errmsg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	FILE *warn = fopen("/dev/null", "w");
	assert_non_null(out);
	assert_non_null(warn);
	cprof_error err = { 0 };
	*rc = cprof_report(p, o, out, warn, &err);
	fclose(out);
	fclose(warn);
	if (errmsg)
		strcpy(errmsg, err.msg);
	return buf;
}

/* Run a report over a fresh profile from mk and compare with want. */
static void check(cprof_profile *(*mk)(void), const cprof_ropts *o, const char *want,
		  const char *what)
{
	cprof_profile *p = mk();
	int rc;
	char *got = run(p, o, &rc, NULL);
	if (rc != 0 || strcmp(got, want) != 0)
		fprintf(stderr, "%s\n---- got (rc %d):\n%s---- want:\n%s----\n", what, rc, got, want);
	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	free(got);
	cprof_profile_free(p);
}

/* The pprof flags the cases below use, into o. */
static void parse_flags(cprof_ropts *o, char *flags)
{
	cprof_ropts_init(o);
	for (char *save = NULL, *a = strtok_r(flags, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
		if (!strcmp(a, "-top"))
			o->format = CPROF_FMT_TEXT;
		else if (!strcmp(a, "-tree"))
			o->format = CPROF_FMT_TREE;
		else if (!strcmp(a, "-traces"))
			o->format = CPROF_FMT_TRACES;
		else if (!strncmp(a, "-peek=", 6)) {
			o->format = CPROF_FMT_PEEK;
			o->symbol = a + 6;
		} else if (!strcmp(a, "-cum"))
			o->cum = true;
		else if (!strcmp(a, "-mean"))
			o->mean = true;
		else if (!strcmp(a, "-noinlines"))
			o->noinlines = true;
		else if (!strcmp(a, "-drop_negative"))
			o->drop_negative = true;
		else if (!strcmp(a, "-compact_labels"))
			o->compact_labels = true;
		else if (!strncmp(a, "-nodecount=", 11))
			o->nodecount = atoi(a + 11);
		else if (!strncmp(a, "-nodefraction=", 14))
			o->nodefraction = atof(a + 14);
		else if (!strncmp(a, "-edgefraction=", 14))
			o->edgefraction = atof(a + 14);
		else if (!strncmp(a, "-sample_index=", 14))
			o->sample_index = a + 14;
		else if (!strncmp(a, "-unit=", 6))
			o->unit = a + 6;
		else if (!strncmp(a, "-divide_by=", 11))
			o->divide_by = atof(a + 11);
		else if (!strcmp(a, "-lines"))
			o->granularity = CPROF_GRAN_LINES;
		else if (!strcmp(a, "-files"))
			o->granularity = CPROF_GRAN_FILES;
		else if (!strcmp(a, "-filefunctions"))
			o->granularity = CPROF_GRAN_FILEFUNCTIONS;
		else if (!strcmp(a, "-addresses"))
			o->granularity = CPROF_GRAN_ADDRESSES;
		else
			fail_msg("unknown flag %s", a);
	}
}

/* What go tool pprof -symbolize=none FLAGS prints for each profile. */
static const struct pprof_case {
	const char *profile, *flags, *want;
} cases[] = {
	{ "cpu", "-top -nodefraction=0",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%  main.inl (inline)\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%  main.rec\n"
	  "       8ms  6.61% 97.52%        9ms  7.44%  main.c\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n"
	  "         0     0%   100%       33ms 27.27%  main.b\n"
	  "         0     0%   100%       10ms  8.26%  main.d\n"
	  "         0     0%   100%      121ms   100%  main.main\n" },
	{ "cpu", "-top -cum",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "         0     0%     0%      121ms   100%  main.main\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%  main.inl (inline)\n"
	  "         0     0% 66.12%       33ms 27.27%  main.b\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%  main.rec\n"
	  "         0     0% 90.91%       10ms  8.26%  main.d\n"
	  "       8ms  6.61% 97.52%        9ms  7.44%  main.c\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n" },
	{ "cpu", "-top -nodecount=3",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 110ms, 90.91% of 121ms total\n"
	  "Showing top 3 nodes out of 9\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%  main.inl (inline)\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%  main.rec\n" },
	{ "cpu", "-top -cum -nodecount=2",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 40ms, 33.06% of 121ms total\n"
	  "Showing top 2 nodes out of 9\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "         0     0%     0%      121ms   100%  main.main\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a\n" },
	{ "cpu", "-tree -nodefraction=0.1",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 110ms, 90.91% of 121ms total\n"
	  "Dropped 4 nodes (cum <= 12.10ms)\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "                                             110ms   100% |   main.main\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%                | main.a\n"
	  "                                              30ms 27.27% |   main.b\n"
	  "                                              30ms 27.27% |   main.rec\n"
	  "                                              10ms  9.09% |   main.inl (inline)\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              33ms 76.74% |   main.b (inline)\n"
	  "                                              10ms 23.26% |   main.a (inline)\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%                | main.inl\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              30ms   100% |   main.a\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%                | main.rec\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              30ms 90.91% |   main.a\n"
	  "                                               3ms  9.09% |   main.main\n"
	  "         0     0% 90.91%       33ms 27.27%                | main.b\n"
	  "                                              33ms   100% |   main.inl (inline)\n"
	  "----------------------------------------------------------+-------------\n"
	  "         0     0% 90.91%      121ms   100%                | main.main\n"
	  "                                             110ms 90.91% |   main.a\n"
	  "                                               3ms  2.48% |   main.b\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "cpu", "-tree -nodecount=3",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 110ms, 90.91% of 121ms total\n"
	  "Showing top 3 nodes out of 9\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%                | main.a\n"
	  "                                              40ms 36.36% |   main.inl (inline)\n"
	  "                                              30ms 27.27% |   main.rec\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              40ms 93.02% |   main.a (inline)\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%                | main.inl\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              30ms   100% |   main.a\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%                | main.rec\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "cpu", "-peek=main\\.(a|c)$",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "                                             110ms   100% |   main.main\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%                | main.a\n"
	  "                                              30ms 27.27% |   main.b\n"
	  "                                              30ms 27.27% |   main.rec\n"
	  "                                              10ms  9.09% |   main.d\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               6ms 66.67% |   main.main\n"
	  "                                               3ms 33.33% |   main.inl\n"
	  "       8ms  6.61% 39.67%        9ms  7.44%                | main.c\n"
	  "                                               1ms 11.11% |   [app]\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "cpu", "-traces",
	  "File: app\n"
	  "Type: cpu\n"
	  "-----------+-------------------------------------------------------\n"
	  "         k:  v1\n"
	  "     bytes:  1kB\n"
	  "      30ms   main.inl (inline)\n"
	  "             main.b\n"
	  "             main.a\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "         a:  x\n"
	  "         k:  v2\n"
	  "      20ms   main.rec\n"
	  "             main.rec\n"
	  "             main.rec\n"
	  "             main.a\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "       5ms   main.c\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "       1ms   [app]\n"
	  "             main.c\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "       2ms   <unknown>\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "      40ms   main.a\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "       3ms   main.c\n"
	  "             main.inl (inline)\n"
	  "             main.b\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "      10ms   main.inl (inline)\n"
	  "             main.d\n"
	  "             main.a\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "         0   main.rec\n"
	  "             main.c\n"
	  "-----------+-------------------------------------------------------\n"
	  "      10ms   main.rec\n"
	  "             main.rec\n"
	  "             main.a\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n" },
	{ "cpu", "-traces -lines",
	  "File: app\n"
	  "Type: cpu\n"
	  "-----------+-------------------------------------------------------\n"
	  "         k:  v1\n"
	  "     bytes:  1kB\n"
	  "      30ms   main.inl app/b.go:5 (inline)\n"
	  "             main.b app/b.go:30\n"
	  "             main.a app/main.go:20\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "         a:  x\n"
	  "         k:  v2\n"
	  "      20ms   main.rec /proc/self/cwd/app/rec.go:40\n"
	  "             main.rec /proc/self/cwd/app/rec.go:40\n"
	  "             main.rec /proc/self/cwd/app/rec.go:40\n"
	  "             main.a app/main.go:20\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "       5ms   main.c app/c.go:50\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "       1ms   [app]\n"
	  "             main.c app/c.go:50\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "       2ms   <unknown>\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "      40ms   main.a app/main.go:20\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "       3ms   main.c app/c.go:51\n"
	  "             main.inl app/b.go:5 (inline)\n"
	  "             main.b app/b.go:30\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "      10ms   main.inl app/b.go:6 (inline)\n"
	  "             main.d app/c.go:70\n"
	  "             main.a app/main.go:20\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n"
	  "         0   main.rec /proc/self/cwd/app/rec.go:40\n"
	  "             main.c app/c.go:50\n"
	  "-----------+-------------------------------------------------------\n"
	  "      10ms   main.rec /proc/self/cwd/app/rec.go:40\n"
	  "             main.rec /proc/self/cwd/app/rec.go:40\n"
	  "             main.a app/main.go:20\n"
	  "             main.main /proc/self/cwd/app/main.go:10\n"
	  "-----------+-------------------------------------------------------\n" },
	{ "cpu", "-top -addresses -nodefraction=0",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  0000000000002020 main.a app/main.go:20\n"
	  "      30ms 24.79% 57.85%       33ms 27.27%  0000000000003030 main.inl app/b.go:5 (inline)\n"
	  "      30ms 24.79% 82.64%       30ms 24.79%  0000000000004040 main.rec app/rec.go:40\n"
	  "      10ms  8.26% 90.91%       10ms  8.26%  0000000000008080 main.inl app/b.go:6 (inline)\n"
	  "       5ms  4.13% 95.04%        6ms  4.96%  0000000000005050 main.c app/c.go:50\n"
	  "       3ms  2.48% 97.52%        3ms  2.48%  0000000000005058 main.c app/c.go:51\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  0000000000007070 <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  0000000000006060 [app]\n"
	  "         0     0%   100%      121ms   100%  0000000000001010 main.main app/main.go:10\n"
	  "         0     0%   100%       33ms 27.27%  0000000000003030 main.b app/b.go:30\n"
	  "         0     0%   100%       10ms  8.26%  0000000000008080 main.d app/c.go:70\n" },
	{ "cpu", "-top -lines -nodefraction=0",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a app/main.go:20\n"
	  "      30ms 24.79% 57.85%       33ms 27.27%  main.inl app/b.go:5 (inline)\n"
	  "      30ms 24.79% 82.64%       30ms 24.79%  main.rec app/rec.go:40\n"
	  "      10ms  8.26% 90.91%       10ms  8.26%  main.inl app/b.go:6 (inline)\n"
	  "       5ms  4.13% 95.04%        6ms  4.96%  main.c app/c.go:50\n"
	  "       3ms  2.48% 97.52%        3ms  2.48%  main.c app/c.go:51\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n"
	  "         0     0%   100%       33ms 27.27%  main.b app/b.go:30\n"
	  "         0     0%   100%       10ms  8.26%  main.d app/c.go:70\n"
	  "         0     0%   100%      121ms   100%  main.main app/main.go:10\n" },
	{ "cpu", "-top -files -nodefraction=0",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%       43ms 35.54%  app/b.go (inline)\n"
	  "      40ms 33.06% 66.12%      110ms 90.91%  app/main.go\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%  app/rec.go\n"
	  "       8ms  6.61% 97.52%        9ms  7.44%  app/c.go\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n"
	  "         0     0%   100%       33ms 27.27%  app/b.go\n"
	  "         0     0%   100%       10ms  8.26%  app/c.go\n"
	  "         0     0%   100%      121ms   100%  app/main.go\n" },
	{ "cpu", "-top -filefunctions -nodefraction=0",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a app/main.go\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%  main.inl app/b.go (inline)\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%  main.rec app/rec.go\n"
	  "       8ms  6.61% 97.52%        9ms  7.44%  main.c app/c.go\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n"
	  "         0     0%   100%       33ms 27.27%  main.b app/b.go\n"
	  "         0     0%   100%       10ms  8.26%  main.d app/c.go\n"
	  "         0     0%   100%      121ms   100%  main.main app/main.go\n" },
	{ "cpu", "-top -noinlines -nodefraction=0",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a\n"
	  "      30ms 24.79% 57.85%       33ms 27.27%  main.b\n"
	  "      30ms 24.79% 82.64%       30ms 24.79%  main.rec\n"
	  "      10ms  8.26% 90.91%       10ms  8.26%  main.d\n"
	  "       8ms  6.61% 97.52%        9ms  7.44%  main.c\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n"
	  "         0     0%   100%      121ms   100%  main.main\n" },
	{ "cpu", "-tree -mean -nodefraction=0",
	  "File: app\n"
	  "Type: mean_cpu\n"
	  "Showing nodes accounting for 34.50ms, 456.20% of 7.56ms total\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "                                             110ms 1100.00% |   main.main\n"
	  "      10ms 132.23% 132.23%       10ms 132.23%                | main.a\n"
	  "                                              30ms 300.00% |   main.b\n"
	  "                                              30ms 300.00% |   main.rec\n"
	  "                                              10ms   100% |   main.d\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              33ms 383.72% |   main.b (inline)\n"
	  "                                              10ms 116.28% |   main.d (inline)\n"
	  "      10ms 132.23% 264.46%     8.60ms 113.72%                | main.inl\n"
	  "                                               3ms 34.88% |   main.c\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              30ms 400.00% |   main.a\n"
	  "    7.50ms 99.17% 363.64%     7.50ms 99.17%                | main.rec\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               6ms 266.67% |   main.main\n"
	  "                                               3ms 133.33% |   main.inl\n"
	  "       4ms 52.89% 416.53%     2.25ms 29.75%                | main.c\n"
	  "                                               1ms 44.44% |   [app]\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               2ms   100% |   main.main\n"
	  "       2ms 26.45% 442.98%        2ms 26.45%                | <unknown>\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               1ms   100% |   main.c\n"
	  "       1ms 13.22% 456.20%        1ms 13.22%                | [app]\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              30ms 363.64% |   main.a\n"
	  "                                               3ms 36.36% |   main.main\n"
	  "         0     0% 456.20%     8.25ms 109.09%                | main.b\n"
	  "                                              33ms 400.00% |   main.inl (inline)\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              10ms   100% |   main.a\n"
	  "         0     0% 456.20%       10ms 132.23%                | main.d\n"
	  "                                              10ms   100% |   main.inl (inline)\n"
	  "----------------------------------------------------------+-------------\n"
	  "         0     0% 456.20%     8.07ms 106.67%                | main.main\n"
	  "                                             110ms 1363.64% |   main.a\n"
	  "                                               6ms 74.38% |   main.c\n"
	  "                                               3ms 37.19% |   main.b\n"
	  "                                               2ms 24.79% |   <unknown>\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "cpu", "-top -divide_by=3",
	  "File: app\n"
	  "Type: cpu\n"
	  "Showing nodes accounting for 40.33ms, 100% of 40.33ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "   13.33ms 33.06% 33.06%    36.67ms 90.91%  main.a\n"
	  "   13.33ms 33.06% 66.12%    14.33ms 35.54%  main.inl (inline)\n"
	  "      10ms 24.79% 90.91%       10ms 24.79%  main.rec\n"
	  "    2.67ms  6.61% 97.52%        3ms  7.44%  main.c\n"
	  "    0.67ms  1.65% 99.17%     0.67ms  1.65%  <unknown>\n"
	  "    0.33ms  0.83%   100%     0.33ms  0.83%  [app]\n"
	  "         0     0%   100%       11ms 27.27%  main.b\n"
	  "         0     0%   100%     3.33ms  8.26%  main.d\n"
	  "         0     0%   100%    40.33ms   100%  main.main\n" },
	{ "cpu", "-top -compact_labels -edgefraction=0.2",
	  "Showing nodes accounting for 121ms, 100% of 121ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "      40ms 33.06% 33.06%      110ms 90.91%  main.a\n"
	  "      40ms 33.06% 66.12%       43ms 35.54%  main.inl (inline)\n"
	  "      30ms 24.79% 90.91%       30ms 24.79%  main.rec\n"
	  "       8ms  6.61% 97.52%        9ms  7.44%  main.c\n"
	  "       2ms  1.65% 99.17%        2ms  1.65%  <unknown>\n"
	  "       1ms  0.83%   100%        1ms  0.83%  [app]\n"
	  "         0     0%   100%       33ms 27.27%  main.b\n"
	  "         0     0%   100%       10ms  8.26%  main.d\n"
	  "         0     0%   100%      121ms   100%  main.main\n" },
	{ "heap", "-top",
	  "File: app\n"
	  "Type: inuse_space\n"
	  "Showing nodes accounting for 2MB, 99.57% of 2.01MB total\n"
	  "Dropped 2 nodes (cum <= 0.01MB)\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "       2MB 99.57% 99.57%        2MB 99.57%  main.alloc\n"
	  "         0     0% 99.57%        2MB 99.61%  main.main\n" },
	{ "heap", "-top -sample_index=alloc_space -nodefraction=0",
	  "File: app\n"
	  "Type: alloc_space\n"
	  "Showing nodes accounting for 10249.86kB, 100% of 10249.86kB total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "   10240kB 99.90% 99.90% 10240.29kB 99.91%  main.alloc\n"
	  "       8kB 0.078%   100%        8kB 0.078%  runtime.malg\n"
	  "    1.86kB 0.018%   100%     1.86kB 0.018%  main.small\n"
	  "         0     0%   100% 10241.86kB 99.92%  main.main\n" },
	{ "heap", "-top -unit=ms",
	  "File: app\n"
	  "Type: inuse_space\n"
	  "Showing nodes accounting for 2097152B, 99.57% of 2106144B total\n"
	  "Dropped 2 nodes (cum <= 10530B)\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "  2097152B 99.57% 99.57%   2097152B 99.57%  main.alloc\n"
	  "         0     0% 99.57%   2097952B 99.61%  main.main\n" },
	{ "heap", "-traces -sample_index=alloc_objects -mean",
	  "File: app\n"
	  "Type: mean_alloc_objects\n"
	  "-----------+-------------------------------------------------------\n"
	  "         1   main.alloc\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "         1   main.small\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "         1   main.small\n"
	  "             main.alloc\n"
	  "             main.main\n"
	  "-----------+-------------------------------------------------------\n"
	  "         1   runtime.malg\n"
	  "-----------+-------------------------------------------------------\n" },
	{ "neg", "-top -nodefraction=0",
	  "Type: cpu\n"
	  "Showing nodes accounting for -20ms, 16.67% of 120ms total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "     -50ms 41.67% 41.67%      -30ms 25.00%  main.down\n"
	  "      30ms 25.00% 16.67%       10ms  8.33%  main.up\n"
	  "         0     0% 16.67%      -20ms 16.67%  main.main\n" },
	{ "neg", "-top -cum -nodecount=2",
	  "Type: cpu\n"
	  "Showing nodes accounting for -50ms, 41.67% of 120ms total\n"
	  "Showing top 2 nodes out of 3\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "     -50ms 41.67% 41.67%      -30ms 25.00%  main.down\n"
	  "         0     0% 41.67%      -20ms 16.67%  main.main\n" },
	{ "neg", "-tree -drop_negative -nodefraction=0",
	  "Type: cpu\n"
	  "Showing nodes accounting for 30ms, 25.00% of 120ms total\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              10ms   100% |   main.main\n"
	  "      30ms 25.00% 25.00%       10ms  8.33%                | main.up\n"
	  "                                             -20ms 200.00% |   main.zero\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "neg", "-top -unit=s",
	  "Type: cpu\n"
	  "Showing nodes accounting for -0.02s, 16.67% of 0.12s total\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "    -0.05s 41.67% 41.67%     -0.03s 25.00%  main.down\n"
	  "     0.03s 25.00% 16.67%      0.01s  8.33%  main.up\n"
	  "         0     0% 16.67%     -0.02s 16.67%  main.main\n" },
	{ "wide", "-top -cum -nodecount=15",
	  "Type: samples\n"
	  "Showing nodes accounting for 2150, 35.83% of 6000 total\n"
	  "Showing top 15 nodes out of 300\n"
	  "      flat  flat%   sum%        cum   cum%\n"
	  "        50  0.83%  0.83%       2409 40.15%  f020\n"
	  "       100  1.67%  2.50%       2408 40.13%  f027\n"
	  "       200  3.33%  5.83%       2342 39.03%  f001\n"
	  "       150  2.50%  8.33%       2327 38.78%  f034\n"
	  "       100  1.67% 10.00%       2287 38.12%  f007\n"
	  "        50  0.83% 10.83%       2286 38.10%  f000\n"
	  "       250  4.17% 15.00%       2275 37.92%  f008\n"
	  "       200  3.33% 18.33%       2203 36.72%  f021\n"
	  "       150  2.50% 20.83%       2178 36.30%  f014\n"
	  "       250  4.17% 25.00%       2148 35.80%  f028\n"
	  "       100  1.67% 26.67%       2138 35.63%  f002\n"
	  "       100  1.67% 28.33%       2133 35.55%  f022\n"
	  "        50  0.83% 29.17%       2131 35.52%  f015\n"
	  "       200  3.33% 32.50%       2062 34.37%  f016\n"
	  "       200  3.33% 35.83%       2062 34.37%  f036\n" },
	{ "wide", "-tree -cum -nodecount=4 -edgefraction=0.02",
	  "Type: samples\n"
	  "Showing nodes accounting for 500, 8.33% of 6000 total\n"
	  "Showing top 4 nodes out of 300\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               192  7.97% |   f001\n"
	  "        50  0.83%  0.83%       2409 40.15%                | f020\n"
	  "                                              1153 47.86% |   f027\n"
	  "                                               253 10.50% |   f034\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              1153 47.88% |   f020\n"
	  "                                               194  8.06% |   f034\n"
	  "       100  1.67%  2.50%       2408 40.13%                | f027\n"
	  "                                              1072 44.52% |   f034\n"
	  "                                               372 15.45% |   f001\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              1183 50.51% |   f034\n"
	  "                                               372 15.88% |   f027\n"
	  "       200  3.33%  5.83%       2342 39.03%                | f001\n"
	  "                                               192  8.20% |   f020\n"
	  "                                               128  5.47% |   f034\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                              1072 46.07% |   f027\n"
	  "                                               253 10.87% |   f020\n"
	  "                                               128  5.50% |   f001\n"
	  "       150  2.50%  8.33%       2327 38.78%                | f034\n"
	  "                                              1183 50.84% |   f001\n"
	  "                                               194  8.34% |   f027\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "wide", "-tree -nodecount=3 -nodefraction=0.3",
	  "Type: samples\n"
	  "Showing nodes accounting for 750, 12.50% of 6000 total\n"
	  "Dropped 278 nodes (cum <= 1800)\n"
	  "Showing top 3 nodes out of 22\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               356 18.99% |   f008\n"
	  "                                                79  4.21% |   f023\n"
	  "       250  4.17%  4.17%       1875 31.25%                | f003\n"
	  "                                               960 51.20% |   f008\n"
	  "                                                48  2.56% |   f023\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               960 42.20% |   f003\n"
	  "       250  4.17%  8.33%       2275 37.92%                | f008\n"
	  "                                               491 21.58% |   f023\n"
	  "                                               356 15.65% |   f003\n"
	  "----------------------------------------------------------+-------------\n"
	  "                                               491 24.71% |   f008\n"
	  "                                                48  2.42% |   f003\n"
	  "       250  4.17% 12.50%       1987 33.12%                | f023\n"
	  "                                                79  3.98% |   f003\n"
	  "----------------------------------------------------------+-------------\n" },
	{ "empty", "-top",
	  "Type: samples\n"
	  "Showing nodes accounting for 0, 0% of 0 total\n"
	  "      flat  flat%   sum%        cum   cum%\n" },
	{ "empty", "-tree",
	  "Type: samples\n"
	  "Showing nodes accounting for 0, 0% of 0 total\n"
	  "----------------------------------------------------------+-------------\n"
	  "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n" },
	{ "empty", "-traces",
	  "Type: samples\n"
	  "-----------+-------------------------------------------------------\n" },

};

static cprof_profile *(*maker(const char *name))(void)
{
	if (!strcmp(name, "cpu"))
		return cpu_profile;
	if (!strcmp(name, "heap"))
		return heap_profile;
	if (!strcmp(name, "wide"))
		return wide_profile;
	if (!strcmp(name, "empty"))
		return empty_profile;
	return neg_profile;
}

static void test_pprof_cases(void **state)
{
	for (size_t i = 0; i < N(cases); i++) {
		char flags[256];
		cprof_ropts o;
		snprintf(flags, sizeof flags, "%s", cases[i].flags);
		parse_flags(&o, flags);
		char what[300];
		snprintf(what, sizeof what, "%s profile, %s", cases[i].profile, cases[i].flags);
		check(maker(cases[i].profile), &o, cases[i].want, what);
	}
}

/* peek with a regexp that matches nothing: an error and no output at all. */
static void test_peek_no_match(void **state)
{
	cprof_profile *p = cpu_profile();
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_PEEK;
	o.symbol = "nomatch";
	int rc;
	char msg[CPROF_ERRMSG_MAX];
	char *got = run(p, &o, &rc, msg);
	assert_true(rc < 0);
	assert_string_equal(msg, "no matches found for regexp: nomatch");
	assert_string_equal(got, "");
	free(got);
	/* a bad regexp is an error too */
	o.symbol = "main.(";
	got = run(p, &o, &rc, msg);
	assert_true(rc < 0);
	assert_non_null(strstr(msg, "main.("));
	free(got);
	cprof_profile_free(p);
}

/* Random stacks over locations with inlined lines. */
static cprof_profile *random_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "cpu"),
				    cprof_intern_cstr(p, "nanoseconds")) >= 0);
	uint64_t r = 88172645463325252ULL;
#define RND() (r ^= r << 13, r ^= r >> 7, r ^= r << 17, r)
	char name[32];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "fn%d", i);
		cprof_function f = { .id = (uint64_t)i + 1, .name = cprof_intern_cstr(p, name) };
		assert_true(cprof_add_function(p, &f) >= 0);
	}
	for (int i = 0; i < 500; i++) {
		cprof_line ln[3];
		size_t n = 1 + RND() % 3;
		for (size_t k = 0; k < n; k++)
			ln[k] = (cprof_line){ .function = (uint32_t)(RND() % 200), .line = 1 };
		cprof_location l = { .id = (uint64_t)i + 1, .address = 0x1000 + (uint64_t)i,
				     .mapping = CPROF_NONE };
		assert_true(cprof_add_location(p, &l, ln, n) >= 0);
	}
	uint32_t st[30];
	for (int s = 0; s < 3000; s++) {
		size_t d = 1 + RND() % 30;
		for (size_t k = 0; k < d; k++)
			st[k] = (uint32_t)(RND() % 500);
		int64_t si = cprof_intern_stack(p, st, d);
		int64_t v = (int64_t)(RND() % 100) * 1000000 - 20000000;
		assert_true(si >= 0 && cprof_add_sample(p, (uint32_t)si, 0, &v) >= 0);
	}
#undef RND
	return p;
}

/* The -top mode (incoming-edge flags only, built a partition of callees at
 * a time under a memory budget, the pairs under the edge cut ruled out by
 * a sketch of their weights first) agrees with the full graph's edges:
 * under a tiny budget (many partitions, a sketch full of collisions) and
 * the default one. */
static void test_in_flags_partitioned(void **state)
{
	static const double fracs[][2] = { { 0, 0 }, { 0, 0.001 }, { 0.005, 0.01 }, { 0, 0.05 } };
	for (size_t fb = 0; fb < 2 * N(fracs); fb++) {
		size_t f = fb % N(fracs);
		cprof_profile *p = random_profile();
		cprof_ropts o;
		cprof_ropts_init(&o);
		cpr_ctx c = { .p = p, .o = &o, .vi = 0, .nodefraction = fracs[f][0],
			      .edgefraction = fracs[f][1] };
		cpr_gopts all, part;
		cpr_gopts_init(&all, &c);
		part = all;
		part.edges = CPR_EDGES_IN_FLAGS;
		part.edge_budget = fb < N(fracs) ? 4000 : 0;   /* many partitions, or the default */
		cpr_graph g1, g2;
		cprof_error err = { 0 };
		assert_int_equal(cpr_graph_build(&c, &all, &g1, &err), 0);
		assert_int_equal(cpr_graph_build(&c, &part, &g2, &err), 0);
		assert_int_equal(g1.nnodes, g2.nnodes);
		assert_true(g1.nedges > 0);
		size_t inl = 0;
		for (size_t i = 0; i < g1.nnodes; i++) {
			assert_int_equal(g1.nodes[i].info, g2.nodes[i].info);
			assert_int_equal(g1.nodes[i].cum, g2.nodes[i].cum);
			assert_int_equal(g1.nodes[i].in_flags, g2.nodes[i].in_flags);
			inl += g1.nodes[i].in_flags == (CPR_IN_INLINE | CPR_IN_CALL);
		}
		if (f == 0)             /* the profile does exercise partial-inline */
			assert_true(inl > 0);
		cpr_graph_free(&g1);
		cpr_graph_free(&g2);
		cprof_profile_free(p);
	}
}

/* Residual edges: dropping a middle node links its caller and callee
 * directly; visual mode (dot) then removes such an edge when the callee is
 * still reachable from the caller another way.  (Checked against the edges
 * of go tool pprof -dot on random profiles when this was written.) */
static void test_residual_edges(void **state)
{
	static const char *const types[][2] = { { "samples", "count" } };
	static const fn_def fns[] = {
		{ "leaf", "", 0 }, { "z.mid", "", 0 }, { "a.root", "", 0 }, { "b.other", "", 0 },
	};
	static const loc_def locs[] = {
		{ 0x10, 0, 1, { 0 }, { 1 } }, { 0x20, 0, 1, { 1 }, { 1 } },
		{ 0x30, 0, 1, { 2 }, { 1 } }, { 0x40, 0, 1, { 3 }, { 1 } },
	};
	static const sample_def ss[] = {
		{ .depth = 3, .loc = { 0, 1, 2 }, .v = { 10 } },
		{ .depth = 3, .loc = { 0, 3, 2 }, .v = { 20 } },
	};
	for (int visual = 0; visual < 2; visual++) {
		cprof_profile *p = build(types, 1, "app", fns, N(fns), locs, N(locs), ss, N(ss));
		cprof_ropts o;
		cprof_ropts_init(&o);
		cpr_ctx c = { .p = p, .o = &o, .vi = 0, .nodecount = 3 };
		cpr_gopts go;
		cpr_gopts_init(&go, &c);
		go.visual = visual;
		cpr_graph g;
		cprof_error err = { 0 };
		assert_int_equal(cpr_graph_build(&c, &go, &g, &err), 0);
		assert_int_equal(g.nnodes, 3);
		assert_int_equal(g.orig_count, 4);
		assert_string_equal(cpr_node_name(&g, &g.nodes[0]), "leaf");
		const cpr_node *leaf = &g.nodes[0];
		assert_int_equal(leaf->nin, visual ? 1 : 2);
		bool residual = false;
		for (uint32_t k = 0; k < leaf->nin; k++) {
			const cpr_edge *e = &g.edges[g.in_edges[leaf->in_off + k]];
			if (e->residual) {
				residual = true;
				assert_string_equal(cpr_info_name(&g.infos, e->src), "a.root");
				assert_int_equal(e->weight, 10);
			} else {
				assert_string_equal(cpr_info_name(&g.infos, e->src), "b.other");
				assert_int_equal(e->weight, 20);
			}
		}
		assert_int_equal(residual, !visual);
		cpr_graph_free(&g);
		cprof_profile_free(p);
	}
}

/* The corpus goldens of the reports built on the graph: each Go profile
 * decoded and merged (as the command does with one source), then run with
 * the flags golden.sh gave go tool pprof. */
static void test_goldens(void **state)
{
	const char *src = getenv("CPROF_SRCDIR");
	if (!src) {
		skip();
		return;
	}
	static const char *const profiles[] = { "cpu", "heap", "allocs", "goroutine",
						"mutex", "block", "threadcreate" };
	static const char *const cmds[][2] = {
		{ "top", "-top -nodefraction=0" },
		{ "topcum", "-top -cum -nodefraction=0" },
		{ "top5", "-top -nodecount=5" },
		{ "traces", "-traces" },
		{ "peek", "-peek=. -nodefraction=0" },
		{ "tree", "-tree -nodefraction=0" },
		{ "lines", "-top -lines -nodefraction=0" },
		{ "files", "-top -files -nodefraction=0" },
		{ "alloc_objects", "-top -sample_index=alloc_objects -nodefraction=0" },
		{ "alloc_space", "-top -sample_index=alloc_space -nodefraction=0" },
		{ "inuse_objects", "-top -sample_index=inuse_objects -nodefraction=0" },
		{ "inuse_space", "-top -sample_index=inuse_space -nodefraction=0" },
		{ "mean", "-top -mean -sample_index=alloc_space -nodefraction=0" },
	};
	size_t checked = 0;
	for (size_t i = 0; i < N(profiles); i++) {
		for (size_t k = 0; k < N(cmds); k++) {
			char path[4096], flags[256];
			snprintf(path, sizeof path, "%s/tests/golden/go/%s.%s.txt", src, profiles[i],
				 cmds[k][0]);
			FILE *f = fopen(path, "r");
			if (!f)
				continue;       /* sample_index variants: heap and allocs only */
			char *want = NULL;
			size_t cap = 0;
			ssize_t n = getdelim(&want, &cap, 0, f);
			fclose(f);
			assert_true(n >= 0);
			if (strstr(want, "\nexit ") || !strncmp(want, "no matches", 10)) {
				free(want);     /* a recorded failure: checked by the e2e suite */
				continue;
			}
			snprintf(path, sizeof path, "%s/tests/golden/go/%s.pb.gz", src, profiles[i]);
			cprof_profile *p = NULL, *m = NULL;
			cprof_error err = { 0 };
			assert_int_equal(cprof_decode_file(path, &p, &err), 0);
			assert_int_equal(cprof_merge(&p, 1, &m, &err), 0);
			cprof_profile_free(p);
			snprintf(flags, sizeof flags, "%s", cmds[k][1]);
			cprof_ropts o;
			parse_flags(&o, flags);
			int rc;
			char *got = run(m, &o, &rc, NULL);
			if (rc != 0 || strcmp(got, want) != 0)
				fprintf(stderr, "%s.%s differs from go tool pprof:\n%s", profiles[i],
					cmds[k][0], got);
			assert_int_equal(rc, 0);
			assert_string_equal(got, want);
			free(got);
			free(want);
			cprof_profile_free(m);
			checked++;
		}
	}
	assert_true(checked >= 60);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pprof_cases),
		cmocka_unit_test(test_peek_no_match),
		cmocka_unit_test(test_in_flags_partitioned),
		cmocka_unit_test(test_residual_edges),
		cmocka_unit_test(test_goldens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
