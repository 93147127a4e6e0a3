/*
 * test_list.c - the -list report (src/report/list.c) through cprof_report:
 * pprof's layout and line range rules, and how source files are found.
 *
 * Each test builds a small profile by hand whose functions point at source
 * files written to a fresh temporary directory, runs the report into
 * memory and compares the output with what go tool pprof prints for the
 * same profile (the expected texts follow pprof's printSource rules: the
 * range from the start line, or the first sampled line - 5, to the last
 * sampled line + 5, cut at the end of the file; "." for zero; " Error: "
 * lines; "No source information for").  Source lookup: absolute paths,
 * -trim_path prefixes, /proc/self/cwd/, the search-path heuristic, the
 * parents of search directories, CRLF line ends, over-long lines, and
 * (beyond pprof) the directory of the profile's main binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cprof_report.h"

#define S(p, x) cprof_intern_cstr(p, x)

static char tmpdir[256];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/cprof_test_list.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write `nlines` lines "line N" (with eol) to tmpdir/rel, creating dirs. */
static void write_source(const char *rel, int nlines, const char *eol)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
	for (char *s = path + strlen(tmpdir) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(path, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 1; i <= nlines; i++)
		fprintf(f, "line %d%s", i, eol);
	fclose(f);
}

typedef struct sample_spec {
	int64_t value;
	int nframes;
	struct { const char *func, *file; int64_t line, start; } f[4];  /* leaf first */
} sample_spec;

/* A profile with one "samples/count" type and the given samples. */
static cprof_profile *build(const sample_spec *ss, size_t n)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, S(p, "samples"), S(p, "count")) >= 0);
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x9000, .file = S(p, "/bin/prog"),
			    .has_functions = true, .has_filenames = true, .has_line_numbers = true };
	assert_true(cprof_add_mapping(p, &m) >= 0);
	uint64_t next = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t locs[4];
		for (int j = 0; j < ss[i].nframes; j++) {
			cprof_function f = { .id = next, .name = S(p, ss[i].f[j].func),
					     .system_name = S(p, ss[i].f[j].func),
					     .filename = S(p, ss[i].f[j].file),
					     .start_line = ss[i].f[j].start };
			int64_t fi = cprof_add_function(p, &f);
			assert_true(fi >= 0);
			cprof_line ln = { .function = (uint32_t)fi, .line = ss[i].f[j].line };
			cprof_location loc = { .id = next, .address = 0x1000 + next * 16, .mapping = 0 };
			int64_t li = cprof_add_location(p, &loc, &ln, 1);
			assert_true(li >= 0);
			locs[j] = (uint32_t)li;
			next++;
		}
		int64_t st = cprof_intern_stack(p, locs, (size_t)ss[i].nframes);
		assert_true(st >= 0);
		assert_true(cprof_add_sample(p, (uint32_t)st, 0, &ss[i].value) >= 0);
	}
	return p;
}

/* Run -list=re over p (freed here); returns the output (caller frees) and
 * the return code in *rc, the error in *err. */
static char *run_list(cprof_profile *p, const char *re, const char *source_path,
		      const char *trim_path, int *rc, cprof_error *err)
{
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_LIST;
	o.symbol = re;
	o.source_path = source_path;
	o.trim_path = trim_path;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	FILE *warn = fopen("/dev/null", "w");
	assert_non_null(out);
	assert_non_null(warn);
	memset(err, 0, sizeof *err);
	*rc = cprof_report(p, &o, out, warn, err);
	fclose(out);
	fclose(warn);
	cprof_profile_free(p);
	return buf;
}

static char *list_ok(cprof_profile *p, const char *re, const char *sp, const char *tp)
{
	int rc;
	cprof_error err;
	char *out = run_list(p, re, sp, tp, &rc, &err);
	if (rc != 0)
		fail_msg("cprof_report: %d %s", rc, err.msg);
	return out;
}

/* The expected source line row. */
static void row(char *buf, size_t n, const char *flat, const char *cum, int line)
{
	size_t w = strlen(buf);
	snprintf(buf + w, n - w, "%10s %10s %6d:line %d\n", flat, cum, line, line);
}

static void test_range_and_values(void **state)
{
	write_source("a/prog.c", 40, "\n");
	char file[512];
	snprintf(file, sizeof file, "%s/a/prog.c", tmpdir);
	sample_spec ss[] = {
		{ 3, 2, { { "hot", file, 10, 0 }, { "main", file, 30, 0 } } },
		{ 2, 2, { { "hot", file, 12, 0 }, { "main", file, 31, 0 } } },
	};
	char *out = list_ok(build(ss, 2), "^hot$", NULL, NULL);
	char want[4096];
	snprintf(want, sizeof want,
		 "Total: 5\n"
		 "ROUTINE ======================== hot in %s\n"
		 "         5          5 (flat, cum)   100%% of Total\n", file);
	for (int l = 5; l <= 17; l++)
		row(want, sizeof want, l == 10 ? "3" : l == 12 ? "2" : ".",
		    l == 10 ? "3" : l == 12 ? "2" : ".", l);
	assert_string_equal(out, want);
	free(out);

	/* the caller: cum only; the start line bounds the range from below */
	sample_spec ss2[] = {
		{ 3, 2, { { "hot", file, 10, 0 }, { "main", file, 30, 27 } } },
		{ 2, 2, { { "hot", file, 12, 0 }, { "main", file, 31, 27 } } },
	};
	out = list_ok(build(ss2, 2), "main", NULL, NULL);
	snprintf(want, sizeof want,
		 "Total: 5\n"
		 "ROUTINE ======================== main in %s\n"
		 "         0          5 (flat, cum)   100%% of Total\n", file);
	for (int l = 27; l <= 36; l++)
		row(want, sizeof want, ".", l == 30 ? "3" : l == 31 ? "2" : ".", l);
	assert_string_equal(out, want);
	free(out);
}

static void test_end_of_file_and_sorting(void **state)
{
	write_source("b/short.c", 11, "\n");
	write_source("b/other.c", 3, "\n");
	char f1[512], f2[512];
	snprintf(f1, sizeof f1, "%s/b/short.c", tmpdir);
	snprintf(f2, sizeof f2, "%s/b/other.c", tmpdir);
	sample_spec ss[] = {
		{ 4, 1, { { "zeta", f1, 10, 0 } } },
		{ 1, 1, { { "alpha", f2, 2, 0 } } },
	};
	char *out = list_ok(build(ss, 2), ".", NULL, NULL);
	char want[4096];
	snprintf(want, sizeof want,
		 "Total: 5\n"
		 "ROUTINE ======================== alpha in %s\n"
		 "         1          1 (flat, cum) 20.00%% of Total\n", f2);
	for (int l = 1; l <= 3; l++)
		row(want, sizeof want, l == 2 ? "1" : ".", l == 2 ? "1" : ".", l);
	size_t w = strlen(want);
	snprintf(want + w, sizeof want - w,
		 "ROUTINE ======================== zeta in %s\n"
		 "         4          4 (flat, cum) 80.00%% of Total\n", f1);
	for (int l = 5; l <= 11; l++)
		row(want, sizeof want, l == 10 ? "4" : ".", l == 10 ? "4" : ".", l);
	assert_string_equal(out, want);
	free(out);
}

static void test_errors_in_blocks(void **state)
{
	sample_spec ss[] = {
		{ 1, 1, { { "abs", "/nonexistent/dir/x.c", 3, 0 } } },
		{ 1, 1, { { "rel", "src/y.c", 3, 0 } } },
		{ 1, 1, { { "nofile", "", 3, 0 } } },
	};
	char *out = list_ok(build(ss, 3), ".", tmpdir, NULL);
	char want[2048];
	snprintf(want, sizeof want,
		 "Total: 3\n"
		 "ROUTINE ======================== abs in /nonexistent/dir/x.c\n"
		 "         1          1 (flat, cum) 33.33%% of Total\n"
		 " Error: open /nonexistent/dir/x.c: no such file or directory\n"
		 "No source information for nofile\n"
		 "ROUTINE ======================== rel in src/y.c\n"
		 "         1          1 (flat, cum) 33.33%% of Total\n"
		 " Error: could not find file src/y.c on path %s\n", tmpdir);
	assert_string_equal(out, want);
	free(out);
}

static void test_no_match_and_bad_regexp(void **state)
{
	sample_spec ss[] = { { 1, 1, { { "f", "x.c", 3, 0 } } } };
	int rc;
	cprof_error err;
	char *out = run_list(build(ss, 1), "zzz", NULL, NULL, &rc, &err);
	assert_int_equal(rc, CPROF_EINVAL);
	assert_string_equal(err.msg, "no matches found for regexp: zzz");
	assert_true(out == NULL || out[0] == 0);
	free(out);
	out = run_list(build(ss, 1), "(", NULL, NULL, &rc, &err);
	assert_true(rc < 0);
	assert_non_null(strstr(err.msg, "parsing argument regexp"));
	free(out);
}

static void test_trim_paths(void **state)
{
	write_source("t/src/lib/z.c", 20, "\n");
	char sp[512];
	snprintf(sp, sizeof sp, "%s/t", tmpdir);
	/* -trim_path strips the build prefix; the ROUTINE line shows the rest */
	sample_spec ss[] = { { 7, 1, { { "z", "/build/xyz/src/lib/z.c", 8, 0 } } } };
	char *out = list_ok(build(ss, 1), "z", sp, "/elsewhere:/build/xyz");
	assert_non_null(strstr(out, "ROUTINE ======================== z in src/lib/z.c\n"));
	assert_non_null(strstr(out, "         7          7      8:line 8\n"));
	assert_null(strstr(out, "Error"));
	free(out);

	/* /proc/self/cwd/ is always stripped */
	sample_spec ss2[] = { { 7, 1, { { "z", "/proc/self/cwd/src/lib/z.c", 8, 0 } } } };
	out = list_ok(build(ss2, 1), "z", sp, NULL);
	assert_non_null(strstr(out, "ROUTINE ======================== z in src/lib/z.c\n"));
	assert_non_null(strstr(out, "     8:line 8\n"));
	free(out);

	/* the heuristic: cut up to the base name of a search directory */
	char sp2[512];
	snprintf(sp2, sizeof sp2, "%s/t/src", tmpdir);
	sample_spec ss3[] = { { 7, 1, { { "z", "/remote/host/src/lib/z.c", 8, 0 } } } };
	out = list_ok(build(ss3, 1), "z", sp2, NULL);
	assert_non_null(strstr(out, "ROUTINE ======================== z in lib/z.c\n"));
	assert_non_null(strstr(out, "     8:line 8\n"));
	free(out);
}

static void test_parent_search_crlf_long_lines(void **state)
{
	write_source("p/w.c", 12, "\r\n");
	char sp[512];
	snprintf(sp, sizeof sp, "%s/p/deeper/still", tmpdir);  /* need not exist */
	sample_spec ss[] = { { 2, 1, { { "w", "w.c", 6, 0 } } } };
	char *out = list_ok(build(ss, 1), "w", sp, NULL);
	assert_non_null(strstr(out, "         2          2      6:line 6\n"));
	assert_null(strchr(out, '\r'));
	assert_non_null(strstr(out, "     1:line 1\n"));
	assert_non_null(strstr(out, "    11:line 11\n"));
	free(out);

	/* Go's scanner stops at a line of 64 KiB: nothing from there on */
	char path[512];
	snprintf(path, sizeof path, "%s/p/long.c", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "one\ntwo\n");
	for (int i = 0; i < 70000; i++)
		fputc('x', f);
	fprintf(f, "\nfour\n");
	fclose(f);
	sample_spec ss2[] = { { 1, 1, { { "l", path, 4, 0 } } } };
	out = list_ok(build(ss2, 1), "l", NULL, NULL);
	assert_non_null(strstr(out, "     2:two\n"));
	assert_null(strstr(out, "xxx"));
	assert_null(strstr(out, "four"));
	free(out);
}

static void test_next_to_the_binary(void **state)
{
	/* beyond pprof: a relative file not on the search path is looked for
	 * in the directory of the profile's main binary */
	write_source("bin/rel/v.c", 10, "\n");
	sample_spec ss[] = { { 1, 1, { { "v", "rel/v.c", 4, 0 } } } };
	cprof_profile *p = build(ss, 1);
	char bin[512];
	snprintf(bin, sizeof bin, "%s/bin/prog", tmpdir);
	p->mappings.v[0].file = S(p, bin);
	char *out = list_ok(p, "v", "/nonexistent", NULL);
	assert_non_null(strstr(out, "         1          1      4:line 4\n"));
	assert_null(strstr(out, "Error"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_and_values),
		cmocka_unit_test(test_end_of_file_and_sorting),
		cmocka_unit_test(test_errors_in_blocks),
		cmocka_unit_test(test_no_match_and_bad_regexp),
		cmocka_unit_test(test_trim_paths),
		cmocka_unit_test(test_parent_search_crlf_long_lines),
		cmocka_unit_test(test_next_to_the_binary),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
