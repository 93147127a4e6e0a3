/*
 * test_filter.c - the report pipeline's filters (focus, ignore, hide, show,
 * show_from, prune_from, tag filters, tagroot/tagleaf, drop_frames), the
 * aggregation to a granularity, and the -raw and -tags printers.
 *
 * Two kinds of tests.  Small profiles built with the builder API check one
 * rule each through the -raw text (which shows every location and sample
 * after the pipeline).  The golden cases of tests/golden/filter/cases.txt
 * run real and generated profiles through decode, a one-profile merge (as
 * pprof always merges) and cprof_report, and compare warnings + output with
 * what go tool pprof (Go 1.19) printed (env CPROF_SRCDIR is the repo root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cprof_core.h"
#include "cprof_report.h"
#include "report_int.h"

/* ---- building small profiles ------------------------------------------------ */

static cprof_profile *new_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) >= 0);
	p->period_type.type = cprof_intern_cstr(p, "cpu");
	p->period_type.unit = cprof_intern_cstr(p, "nanoseconds");
	p->period = 1;
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x9000,
			    .file = cprof_intern_cstr(p, "/bin/prog"), .has_functions = true };
	assert_true(cprof_add_mapping(p, &m) >= 0);
	return p;
}

/* A function named name in file; its id is its index + 1. */
static uint32_t fn(cprof_profile *p, const char *name, const char *file)
{
	cprof_function f = { .id = p->functions.n + 1, .name = cprof_intern_cstr(p, name),
			     .system_name = cprof_intern_cstr(p, name),
			     .filename = cprof_intern_cstr(p, file) };
	int64_t i = cprof_add_function(p, &f);
	assert_true(i >= 0);
	return (uint32_t)i;
}

/* A location in mapping 0 with n lines (function index, line number pairs,
 * innermost first); its id is its index + 1, its address 0x1000 + 0x10*id. */
static uint32_t loc(cprof_profile *p, int n, ...)
{
	cprof_line lines[8];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		lines[i].function = va_arg(ap, uint32_t);
		lines[i].line = va_arg(ap, int);
		lines[i].column = 0;
	}
	va_end(ap);
	uint64_t id = p->locations.n + 1;
	cprof_location l = { .id = id, .address = 0x1000 + 0x10 * id, .mapping = 0 };
	int64_t i = cprof_add_location(p, &l, lines, (size_t)n);
	assert_true(i >= 0);
	return (uint32_t)i;
}

/* A sample of value v, label set ls, with n locations (leaf first). */
static void sample(cprof_profile *p, int64_t v, uint32_t ls, int n, ...)
{
	uint32_t locs[16];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		locs[i] = va_arg(ap, uint32_t);
	va_end(ap);
	int64_t s = cprof_intern_stack(p, locs, (size_t)n);
	assert_true(s >= 0);
	int64_t vals[4] = { v, v, v, v };
	assert_true(cprof_add_sample(p, (uint32_t)s, ls, vals) >= 0);
}

static uint32_t strlabel(cprof_profile *p, const char *k, const char *v)
{
	cprof_label l = { .key = cprof_intern_cstr(p, k), .str = cprof_intern_cstr(p, v) };
	int64_t ls = cprof_intern_labels(p, &l, 1);
	assert_true(ls >= 0);
	return (uint32_t)ls;
}

static uint32_t labels(cprof_profile *p, int n, const cprof_label *l)
{
	int64_t ls = cprof_intern_labels(p, l, (size_t)n);
	assert_true(ls >= 0);
	return (uint32_t)ls;
}

/* ---- running reports ------------------------------------------------------- */

typedef struct result {
	int rc;
	char *out, *warn;
	size_t outlen, warnlen;
	cprof_error err;
} result;

static void run(cprof_profile *p, const cprof_ropts *o, result *r)
{
	memset(r, 0, sizeof *r);
	FILE *out = open_memstream(&r->out, &r->outlen);
	FILE *warn = open_memstream(&r->warn, &r->warnlen);
	assert_non_null(out);
	assert_non_null(warn);
	r->rc = cprof_report(p, o, out, warn, &r->err);
	fclose(out);
	fclose(warn);
}

static void result_free(result *r)
{
	free(r->out);
	free(r->warn);
}

/* The sample rows of a -raw text ("Samples:" header excluded) up to
 * "Locations", as one string. */
static char *raw_samples(const char *raw)
{
	const char *s = strstr(raw, "Samples:\n");
	assert_non_null(s);
	s = strchr(s + 9, '\n');
	assert_non_null(s);
	s++;
	const char *e = strstr(s, "Locations\n");
	assert_non_null(e);
	return strndup(s, (size_t)(e - s));
}

/* The Locations section of a -raw text. */
static char *raw_locations(const char *raw)
{
	const char *s = strstr(raw, "Locations\n");
	assert_non_null(s);
	s += 10;
	const char *e = strstr(s, "Mappings\n");
	assert_non_null(e);
	return strndup(s, (size_t)(e - s));
}

static void raw_opts(cprof_ropts *o)
{
	cprof_ropts_init(o);
	o->format = CPROF_FMT_RAW;
}

/* ---- focus / ignore / hide / show --------------------------------------------- */

static void test_focus_ignore(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t fm = fn(p, "main.main", "main.go"), fa = fn(p, "main.a", "a.go");
	uint32_t fr = fn(p, "runtime.x", "rt.go");
	uint32_t lm = loc(p, 1, fm, 1), la = loc(p, 1, fa, 2), lr = loc(p, 1, fr, 3);
	sample(p, 1, 0, 2, la, lm);
	sample(p, 2, 0, 3, lr, la, lm);
	sample(p, 4, 0, 1, lr);
	sample(p, 8, 0, 0);     /* an empty stack: pprof's applyFocus always drops it */
	cprof_ropts o;
	raw_opts(&o);
	o.focus = "main\\.a";
	o.ignore = "rt\\.go";   /* file names match too */
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	char *s = raw_samples(r.out);
	assert_string_equal(s, "          1: 2 1 \n");
	assert_string_equal(r.warn, "");
	free(s);
	result_free(&r);
	cprof_profile_free(p);
}

static void test_no_match_warnings(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t f = fn(p, "main.main", "main.go");
	sample(p, 1, 0, 1, loc(p, 1, f, 1));
	cprof_ropts o;
	raw_opts(&o);
	o.focus = o.ignore = o.hide = o.show = o.show_from = "zzz";
	o.tagfocus = o.tagignore = "zzz";
	o.tagshow = o.taghide = "zzz";
	o.tagroot = "zzz";
	o.tagleaf = "zzz";
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	/* The tagroot/tagleaf pseudo frames have the key as their file name,
	 * so ignore and hide match them (ignore wins over focus); without
	 * labels, tagshow and taghide see no key at all. */
	assert_string_equal(r.warn,
			    "TagRoot expression matched no samples\n"
			    "TagLeaf expression matched no samples\n"
			    "Focus expression matched no samples\n"
			    "Show expression matched no samples\n"
			    "ShowFrom expression matched no samples\n"
			    "TagFocus expression matched no samples\n"
			    "TagIgnore expression matched no samples\n"
			    "TagShow expression matched no samples\n"
			    "TagHide expression matched no samples\n");
	result_free(&r);
	cprof_profile_free(p);
}

static void test_hide_keeps_other_lines(void **state)
{
	/* One location with three inline lines; hiding the middle one leaves
	 * two lines that are not contiguous in the line table. */
	cprof_profile *p = new_profile();
	uint32_t f1 = fn(p, "a.inner", "a.go"), f2 = fn(p, "b.mid", "b.go"), f3 = fn(p, "a.outer", "a.go");
	uint32_t l1 = loc(p, 3, f1, 10, f2, 20, f3, 30);
	uint32_t l2 = loc(p, 1, f2, 21);
	sample(p, 1, 0, 2, l1, l2);
	sample(p, 2, 0, 1, l2);
	cprof_ropts o;
	raw_opts(&o);
	o.hide = "^b\\.";
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	char *s = raw_samples(r.out), *l = raw_locations(r.out);
	/* the sample on l2 alone is dropped; l2 is removed from the other stack */
	assert_string_equal(s, "          1: 1 \n");
	assert_string_equal(l, "     1: 0x1010 M=1 a.inner a.go:10 s=0\n"
			       "             a.outer a.go:30 s=0\n"
			       "     2: 0x1020 M=1 \n");
	free(s);
	free(l);
	result_free(&r);
	cprof_profile_free(p);
}

static void test_show_and_mapping_match(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t f1 = fn(p, "a.x", "a.go"), f2 = fn(p, "b.y", "b.go");
	uint32_t l1 = loc(p, 2, f1, 1, f2, 2), l2 = loc(p, 1, f2, 3);
	cprof_location nolines = { .id = 3, .address = 0x5000, .mapping = 0 };
	uint32_t l3 = (uint32_t)cprof_add_location(p, &nolines, NULL, 0);
	sample(p, 1, 0, 3, l3, l1, l2);
	cprof_profile *q = cprof_profile_dup(p);
	cprof_ropts o;
	raw_opts(&o);
	o.show = "^a\\.";
	result r;
	run(q, &o, &r);
	assert_int_equal(r.rc, 0);
	char *s = raw_samples(r.out);
	/* show keeps only matching lines: l2 and the line-less l3 vanish */
	assert_string_equal(s, "          1: 1 \n");
	free(s);
	result_free(&r);

	/* a match on the mapping's file keeps every line (and hides nothing
	 * but the location without lines) */
	o.show = "prog";
	run(p, &o, &r);
	s = raw_samples(r.out);
	assert_string_equal(s, "          1: 1 2 \n");
	free(s);
	result_free(&r);
	cprof_profile_free(p);
	cprof_profile_free(q);
}

static void test_show_from_and_prune_from(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t fa = fn(p, "A", "x.go"), fb = fn(p, "B(int)", "x.go"), fc = fn(p, "C", "x.go");
	uint32_t fd = fn(p, "D", "x.go");
	uint32_t la = loc(p, 1, fa, 1), lb = loc(p, 1, fb, 1), lc = loc(p, 1, fc, 1);
	uint32_t ld = loc(p, 1, fd, 1);
	/* frames [A, B, C, B, D] from the root, as in pprof's examples */
	sample(p, 1, 0, 5, ld, lb, lc, lb, la);
	cprof_ropts o;
	raw_opts(&o);
	o.show_from = "^B";
	result r;
	run(p, &o, &r);
	char *s = raw_samples(r.out);
	assert_string_equal(s, "          1: 4 2 3 2 \n");
	free(s);
	result_free(&r);
	cprof_profile_free(p);

	p = new_profile();
	fa = fn(p, "A", "x.go"), fb = fn(p, "B(int)", "x.go"), fc = fn(p, "C", "x.go");
	fd = fn(p, "D", "x.go");
	la = loc(p, 1, fa, 1), lb = loc(p, 1, fb, 1), lc = loc(p, 1, fc, 1), ld = loc(p, 1, fd, 1);
	sample(p, 1, 0, 5, ld, lb, lc, lb, la);
	raw_opts(&o);
	o.prune_from = "^B$";   /* matched against the name without "(int)" */
	run(p, &o, &r);
	s = raw_samples(r.out);
	assert_string_equal(s, "          1: 2 3 2 1 \n");
	free(s);
	result_free(&r);
	cprof_profile_free(p);
}

/* ---- drop_frames (pprof's RemoveUninteresting at load time) ---------------------- */

static void test_drop_frames(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t fm = fn(p, "malloc(unsigned long)", "m.c");
	uint32_t fo = fn(p, "ns::operator()(int)", "o.cc");
	uint32_t fanon = fn(p, "(anonymous namespace)::f(int)", "a.cc");
	uint32_t fu = fn(p, "user", "u.c"), fdot = fn(p, ".ppc", "p.c");
	uint32_t lm = loc(p, 1, fm, 1), lo = loc(p, 1, fo, 1), la = loc(p, 1, fanon, 1);
	uint32_t lu = loc(p, 1, fu, 1), ld = loc(p, 1, fdot, 1);
	/* inline: a dropped function inlined into a user frame is trimmed */
	uint32_t lin = loc(p, 2, fm, 5, fu, 6);
	sample(p, 1, 0, 3, lm, lu, lm);         /* the root malloc is before any user frame */
	sample(p, 2, 0, 3, lo, la, lu);
	sample(p, 3, 0, 2, ld, lu);
	sample(p, 4, 0, 2, lin, lu);
	p->drop_frames = cprof_intern_cstr(p, "malloc|ns::operator\\(\\)|ppc");
	cprof_ropts o;
	raw_opts(&o);
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	char *s = raw_samples(r.out), *l = raw_locations(r.out);
	assert_string_equal(s, "          1: 4 1 \n"
			       "          2: 3 4 \n"
			       "          3: 4 \n"
			       "          4: 6 4 \n");
	/* the malloc inlined into location 6 is cut off; location 1 is left
	 * as it was (pprof drops it from stacks, not from the table) */
	assert_non_null(strstr(l, "     6: 0x1060 M=1 user u.c:6 s=0\n"));
	assert_non_null(strstr(l, "     1: 0x1010 M=1 malloc(unsigned long) m.c:1 s=0\n"));
	free(s);
	free(l);
	result_free(&r);

	/* keep_frames rescues a frame; a bad expression disables pruning */
	cprof_profile_free(p);
	p = new_profile();
	fm = fn(p, "malloc", "m.c");
	fu = fn(p, "user", "u.c");
	lm = loc(p, 1, fm, 1);
	lu = loc(p, 1, fu, 1);
	sample(p, 1, 0, 2, lm, lu);
	p->drop_frames = cprof_intern_cstr(p, "mal.*");
	p->keep_frames = cprof_intern_cstr(p, "malloc");
	run(p, &o, &r);
	s = raw_samples(r.out);
	assert_string_equal(s, "          1: 1 2 \n");
	free(s);
	result_free(&r);
	p->keep_frames = 0;
	p->drop_frames = cprof_intern_cstr(p, "(");
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	s = raw_samples(r.out);
	assert_string_equal(s, "          1: 1 2 \n");
	free(s);
	result_free(&r);
	cprof_profile_free(p);
}

/* ---- tag filters ----------------------------------------------------------------- */

static void test_tagfocus_forms(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t f = fn(p, "f", "f.go");
	uint32_t l = loc(p, 1, f, 1);
	cprof_str kb = cprof_intern_cstr(p, "bytes"), ku = cprof_intern_cstr(p, "kilobytes");
	cprof_str ksz = cprof_intern_cstr(p, "size");
	cprof_label a[] = { { .key = kb, .num = 4096 } };
	cprof_label b[] = { { .key = ksz, .num = 3, .unit = ku } };
	cprof_label c[] = { { .key = cprof_intern_cstr(p, "worker"), .str = cprof_intern_cstr(p, "w1") },
			    { .key = cprof_intern_cstr(p, "kind"), .str = cprof_intern_cstr(p, "x") } };
	sample(p, 1, labels(p, 1, a), 1, l);
	sample(p, 2, labels(p, 1, b), 1, l);
	sample(p, 4, labels(p, 2, c), 1, l);
	sample(p, 8, strlabel(p, "worker", "w2"), 1, l);
	struct {
		const char *tagfocus, *samples, *warn;
	} cases[] = {
		/* the unit of a bare number is none, and "bytes" scales to "B":
		 * pprof matches nothing */
		{ "4096", "", "tagfocus:Interpreted '4096' as range, not regexp\n"
			      "TagFocus expression matched no samples\n" },
		{ "4kb", "          1: 1 \n", "tagfocus:Interpreted '4kb' as range, not regexp\n" },
		{ "size=2kb:3kb", "          2: 1 \n",
		  "tagfocus:Interpreted '2kb:3kb' as range, not regexp\n" },
		{ ":3kb", "          2: 1 \n", "tagfocus:Interpreted ':3kb' as range, not regexp\n" },
		{ "4kb:", "          1: 1 \n", "tagfocus:Interpreted '4kb:' as range, not regexp\n" },
		/* not ranges: regexps against "key:value" (all must match) */
		{ "1:2:3", "", "TagFocus expression matched no samples\n" },
		{ "worker:w,kind:x", "          4: 1 \n", "" },
		{ "worker=w2,zz", "          8: 1 \n", "" },
		{ "=x", "          4: 1 \n", "" },
		{ "worker=", "          4: 1 \n          8: 1 \n", "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cprof_profile *q = cprof_profile_dup(p);
		cprof_ropts o;
		raw_opts(&o);
		o.tagfocus = cases[i].tagfocus;
		result r;
		run(q, &o, &r);
		assert_int_equal(r.rc, 0);
		char *all = raw_samples(r.out), *s = calloc(1, strlen(all) + 1), *w = s;
		/* drop label lines */
		for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n"))
			if (strncmp(line, "                ", 16) != 0)
				w += sprintf(w, "%s\n", line);
		free(all);
		if (strcmp(s, cases[i].samples) != 0 || strcmp(r.warn, cases[i].warn) != 0)
			fail_msg("tagfocus=%s: samples\n%s\nwarnings\n%s", cases[i].tagfocus, s, r.warn);
		free(s);
		result_free(&r);
		cprof_profile_free(q);
	}
	cprof_profile_free(p);
}

static void test_tagshow_taghide(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t l = loc(p, 1, fn(p, "f", "f.go"), 1);
	cprof_label a[] = { { .key = cprof_intern_cstr(p, "alpha"), .str = cprof_intern_cstr(p, "1") },
			    { .key = cprof_intern_cstr(p, "beta"), .num = 7 },
			    { .key = cprof_intern_cstr(p, "gamma"), .str = cprof_intern_cstr(p, "3") } };
	sample(p, 1, labels(p, 3, a), 1, l);
	cprof_ropts o;
	raw_opts(&o);
	o.tagshow = "a$";
	o.taghide = "^g";
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	char *s = raw_samples(r.out);
	assert_string_equal(s, "          1: 1 \n                alpha:[1]\n                beta:[7]\n");
	free(s);
	result_free(&r);
	cprof_profile_free(p);
}

static void test_zero_numeric_label_is_absent(void **state)
{
	/* pprof's decoder drops a numeric label with value 0 and no unit */
	cprof_profile *p = new_profile();
	uint32_t l = loc(p, 1, fn(p, "f", "f.go"), 1);
	cprof_label a[] = { { .key = cprof_intern_cstr(p, "n"), .num = 0 } };
	sample(p, 1, labels(p, 1, a), 1, l);
	cprof_ropts o;
	raw_opts(&o);
	result r;
	run(p, &o, &r);
	char *s = raw_samples(r.out);
	assert_string_equal(s, "          1: 1 \n");
	free(s);
	result_free(&r);
	o.format = CPROF_FMT_TAGS;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
	result_free(&r);
	cprof_profile_free(p);
}

static void test_tagroot_tagleaf(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t l = loc(p, 1, fn(p, "f", "f.go"), 1);
	cprof_label a[] = { { .key = cprof_intern_cstr(p, "k"), .str = cprof_intern_cstr(p, "v1") },
			    { .key = cprof_intern_cstr(p, "t"), .num = 1500000,
			      .unit = cprof_intern_cstr(p, "nanoseconds") } };
	sample(p, 1, labels(p, 2, a), 1, l);
	sample(p, 2, 0, 1, l);
	cprof_ropts o;
	raw_opts(&o);
	o.tagroot = "k,t";
	o.tagleaf = "k";
	o.unit = "ms";
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	char *s = raw_samples(r.out), *ls = raw_locations(r.out);
	/* the first key is the root; pseudo frames are shared by name and
	 * key (root and leaf "k" are one location); a sample without the
	 * label gets one named "" */
	assert_string_equal(s, "          1: 3 1 2 3 \n"
			       "                k:[v1]\n"
			       "                t:[1500000 nanoseconds]\n"
			       "          2: 5 1 4 5 \n");
	assert_string_equal(ls, "     1: 0x1010 M=1 f f.go:1 s=0\n"
				"     2: 0x0 1.50ms t:0 s=0()\n"
				"     3: 0x0 v1 k:0 s=0()\n"
				"     4: 0x0  t:0 s=0\n"
				"     5: 0x0  k:0 s=0\n");
	free(s);
	free(ls);
	assert_string_equal(r.warn, "");
	result_free(&r);
	cprof_profile_free(p);
}

/* ---- aggregation ----------------------------------------------------------------- */

static void test_aggregate(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t f1 = fn(p, "inner", "i.go"), f2 = fn(p, "outer", "o.go");
	uint32_t l = loc(p, 2, f1, 10, f2, 20);
	sample(p, 1, 0, 1, l);
	struct {
		int gran;
		bool noinlines;
		const char *name0, *file0;
		int64_t line_last;
		uint32_t nline;
		uint64_t addr;
	} cases[] = {
		{ CPROF_GRAN_FUNCTIONS, false, "inner", "", 0, 2, 0 },
		{ CPROF_GRAN_FILEFUNCTIONS, false, "inner", "i.go", 0, 2, 0 },
		{ CPROF_GRAN_FILES, false, "", "i.go", 0, 2, 0 },
		{ CPROF_GRAN_LINES, false, "inner", "i.go", 20, 2, 0 },
		{ CPROF_GRAN_ADDRESSES, false, "inner", "i.go", 20, 2, 0x1010 },
		{ CPROF_GRAN_ADDRESSES, true, "outer", "o.go", 20, 1, 0x1010 },
		{ CPROF_GRAN_LINES, true, "outer", "o.go", 20, 1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cprof_profile *q = cprof_profile_dup(p);
		cprof_ropts o;
		cprof_ropts_init(&o);
		o.granularity = cases[i].gran;
		o.noinlines = cases[i].noinlines;
		cpr_ctx c;
		memset(&c, 0, sizeof c);
		c.p = q;
		c.o = &o;
		cprof_error err = { 0 };
		assert_int_equal(cpr_aggregate(&c, &err), 0);
		const cprof_location *lo = &q->locations.v[l];
		assert_int_equal(lo->nline, cases[i].nline);
		const cprof_line *ln = &q->lines.v[lo->line_off];
		const cprof_function *f = &q->functions.v[ln[0].function];
		assert_string_equal(cprof_s(q, f->name), cases[i].name0);
		assert_string_equal(cprof_s(q, f->filename), cases[i].file0);
		assert_int_equal(ln[lo->nline - 1].line, cases[i].line_last);
		assert_int_equal(lo->address, cases[i].addr);
		assert_int_equal(q->mappings.v[0].has_functions,
				 cases[i].gran != CPROF_GRAN_FILES);
		cpr_filter_free(&c);
		cprof_profile_free(q);
	}
	cprof_profile_free(p);
}

/* ---- -raw and -tags text ------------------------------------------------------------ */

static void test_raw_header(void **state)
{
	cprof_profile *p = new_profile();
	cprof_add_comment(p, cprof_intern_cstr(p, "hello"));
	p->time_nanos = 1700000000123000000;
	p->duration_nanos = 1500;       /* "1.5µs": four runes are "1.5µ" */
	p->default_sample_type = cprof_intern_cstr(p, "samples");
	cprof_ropts o;
	raw_opts(&o);
	result r;
	char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	setenv("TZ", "UTC", 1);
	tzset();
	run(p, &o, &r);
	if (tz) {
		setenv("TZ", tz, 1);
		free(tz);
	} else {
		unsetenv("TZ");
	}
	tzset();
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "Comment: hello\n"
				   "PeriodType: cpu nanoseconds\n"
				   "Period: 1\n"
				   "Time: 2023-11-14 22:13:20.123 +0000 UTC\n"
				   "Duration: 1.5\xc2\xb5\n"
				   "Samples:\n"
				   "samples/count[dflt]\n"
				   "Locations\n"
				   "Mappings\n"
				   "1: 0x1000/0x9000/0x0 /bin/prog  [FN]\n");
	result_free(&r);
	p->duration_nanos = 60000000000;
	run(p, &o, &r);
	assert_non_null(strstr(r.out, "Duration: 1m0s\n"));
	result_free(&r);
	cprof_profile_free(p);
}

static void test_tags_layout(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t l = loc(p, 1, fn(p, "f", "f.go"), 1);
	/* values in runes, not bytes, set the column widths */
	sample(p, 3, strlabel(p, "ключ", "значение"), 1, l);
	sample(p, 1, strlabel(p, "ключ", "b"), 1, l);
	sample(p, 1, strlabel(p, "ключ", "a"), 1, l);
	sample(p, 10, strlabel(p, "k", "v"), 1, l);
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_TAGS;
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, " k: Total 10.0\n"
				   "    10.0 (  100%): v\n"
				   "\n"
				   " ключ: Total 5.0\n"
				   "       3.0 (60.00%): значение\n"
				   "       1.0 (20.00%): a\n"
				   "       1.0 (20.00%): b\n"
				   "\n");
	result_free(&r);
	cprof_profile_free(p);
}

static void test_bad_regexps(void **state)
{
	cprof_profile *p = new_profile();
	sample(p, 1, 0, 1, loc(p, 1, fn(p, "f", "f.go"), 1));
	struct {
		const char **field;
		const char *value, *msg;
	} cases[] = {
		{ NULL, "(", "parsing focus regexp: error parsing regexp: missing closing ): `(`" },
		{ NULL, "a**", "parsing focus regexp: error parsing regexp: invalid nested repetition operator: `**`" },
		{ NULL, "*a", "parsing focus regexp: error parsing regexp: missing argument to repetition operator: `*`" },
		{ NULL, "x[ab", "parsing focus regexp: error parsing regexp: missing closing ]: `[ab`" },
		{ NULL, "\\", "parsing focus regexp: error parsing regexp: trailing backslash at end of expression: ``" },
		{ NULL, "[z-a]", "parsing focus regexp: error parsing regexp: invalid character class range: `z-a`" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cprof_ropts o;
		raw_opts(&o);
		o.focus = cases[i].value;
		result r;
		cprof_profile *q = cprof_profile_dup(p);
		run(q, &o, &r);
		assert_int_equal(r.rc, CPROF_EINVAL);
		assert_string_equal(r.err.msg, cases[i].msg);
		result_free(&r);
		cprof_profile_free(q);
	}
	cprof_ropts o;
	raw_opts(&o);
	o.tagfocus = "a,(";
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, CPROF_EINVAL);
	assert_string_equal(r.err.msg, "parsing tagfocus regexp: error parsing regexp: missing closing ): `(`");
	result_free(&r);
	cprof_profile_free(p);
}

/* A regexp that backtracks past PCRE2's limits is an error naming it, in
 * every place a report matches one (before: "no match", a wrong report). */
static void test_regexp_limits(void **state)
{
	cprof_profile *p = new_profile();
	/* 60 'a's and a 'b': (.*a){25} backtracks exponentially before it
	 * matches, and every frame matches in Go's (linear) regexps */
	char name[128];
	memset(name, 'a', 60);
	strcpy(name + 60, "b_x");
	uint32_t f = fn(p, name, "f.go");
	sample(p, 1, strlabel(p, name, name), 1, loc(p, 1, f, 1));
	p->drop_frames = cprof_intern_cstr(p, "(.*a){25}");
	static const char pat[] = "(.*a){25}";
	const char *which[] = { "drop_frames", "focus", "ignore", "hide", "show", "show_from",
				"prune_from", "tagfocus", "tagignore", "tagshow", "taghide",
				"peek", "list" };
	for (size_t i = 0; i < sizeof which / sizeof *which; i++) {
		cprof_profile *q = cprof_profile_dup(p);
		if (i > 0)
			q->drop_frames = 0;
		cprof_ropts o;
		cprof_ropts_init(&o);
		o.format = CPROF_FMT_TEXT;
		const char *w = which[i];
		if (!strcmp(w, "focus")) o.focus = pat;
		if (!strcmp(w, "ignore")) o.ignore = pat;
		if (!strcmp(w, "hide")) o.hide = pat;
		if (!strcmp(w, "show")) o.show = pat;
		if (!strcmp(w, "show_from")) o.show_from = pat;
		if (!strcmp(w, "prune_from")) o.prune_from = pat;
		if (!strcmp(w, "tagfocus")) o.tagfocus = pat;
		if (!strcmp(w, "tagignore")) o.tagignore = pat;
		if (!strcmp(w, "tagshow")) { o.tagshow = pat; o.format = CPROF_FMT_TAGS; }
		if (!strcmp(w, "taghide")) { o.taghide = pat; o.format = CPROF_FMT_TAGS; }
		if (!strcmp(w, "peek")) { o.symbol = pat; o.format = CPROF_FMT_PEEK; }
		if (!strcmp(w, "list")) { o.symbol = pat; o.format = CPROF_FMT_LIST; }
		result r;
		run(q, &o, &r);
		print_message("%s: rc %d: %s\n", w, r.rc, r.err.msg);
		assert_int_equal(r.rc, CPROF_ELIMIT);
		char want[64];
		snprintf(want, sizeof want, "%s regexp `",
			 !strcmp(w, "peek") || !strcmp(w, "list") ? "argument" : w);
		assert_ptr_equal(strstr(r.err.msg, want), r.err.msg);
		assert_non_null(strstr(r.err.msg, pat));
		assert_non_null(strstr(r.err.msg, "backtrack"));
		result_free(&r);
		cprof_profile_free(q);
	}
	cprof_profile_free(p);
}

/* Values at the ends of int64 (a hostile profile's) through every text
 * report, with -mean (value 0 is -1: INT64_MIN / -1) and a -divide_by:
 * Go wraps; C must not overflow (the sanitizer builds abort on it). */
static void test_extreme_values(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t f = fn(p, "f", "f.go"), g = fn(p, "g", "g.go");
	uint32_t lf = loc(p, 1, f, 1), lg = loc(p, 1, g, 2);
	sample(p, INT64_MIN, 0, 2, lf, lg);
	sample(p, INT64_MIN, 0, 1, lg);
	sample(p, INT64_MAX, 0, 1, lf);
	sample(p, -1, 0, 2, lg, lf);
	static const int formats[] = { CPROF_FMT_TEXT, CPROF_FMT_TRACES, CPROF_FMT_PEEK,
				       CPROF_FMT_TREE, CPROF_FMT_RAW, CPROF_FMT_TAGS,
				       CPROF_FMT_DOT, CPROF_FMT_CALLGRIND, CPROF_FMT_FOLDED };
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		for (int mode = 0; mode < 3; mode++) {
			cprof_profile *q = cprof_profile_dup(p);
			cprof_ropts o;
			cprof_ropts_init(&o);
			o.format = formats[i];
			o.mean = mode == 1;
			o.divide_by = mode == 2 ? 1e-300 : 0;
			o.nodefraction = 0;
			o.symbol = ".";
			result r;
			run(q, &o, &r);
			assert_true(r.rc == 0 || r.rc == CPROF_EINVAL);
			result_free(&r);
			cprof_profile_free(q);
		}
	}
	cprof_profile_free(p);
}

/* ---- scale: a larger profile through every filter ---------------------------------- */

static void test_many_samples(void **state)
{
	cprof_profile *p = new_profile();
	uint32_t fs[64], ls[256];
	char name[32];
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof name, "%s.f%d", i % 4 ? "main" : "runtime", i);
		fs[i] = fn(p, name, i % 2 ? "a.go" : "b.go");
	}
	for (int i = 0; i < 256; i++)
		ls[i] = loc(p, 2, fs[i % 64], i, fs[(i * 7) % 64], i + 1);
	cprof_str kw = cprof_intern_cstr(p, "worker"), kb = cprof_intern_cstr(p, "bytes");
	srand(7);
	for (int i = 0; i < 20000; i++) {
		uint32_t st[12];
		int d = 1 + rand() % 12;
		for (int k = 0; k < d; k++)
			st[k] = ls[rand() % 256];
		int64_t s = cprof_intern_stack(p, st, (size_t)d);
		snprintf(name, sizeof name, "w%d", rand() % 16);
		cprof_label lab[] = { { .key = kw, .str = cprof_intern_cstr(p, name) },
				      { .key = kb, .num = 1 << (rand() % 16) } };
		int64_t v[1] = { 1 + rand() % 5 };
		assert_true(cprof_add_sample(p, (uint32_t)s, (uint32_t)labels(p, 2, lab), v) >= 0);
	}
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_TAGS;
	o.focus = "main";
	o.ignore = "f13$";
	o.hide = "f2";
	o.show = "a.go|f4";
	o.show_from = "f5";
	o.prune_from = "f6";
	o.tagfocus = "1kb:16kb";
	o.tagignore = "worker=w1";
	o.tagroot = "worker";
	o.tagleaf = "bytes";
	o.taghide = "zz";
	result r;
	run(p, &o, &r);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, " bytes: Total "));
	assert_non_null(strstr(r.out, " worker: Total "));
	/* every sample left went through tagfocus */
	for (size_t i = 0; i < p->samples.n; i++) {
		const cprof_label *l = cprof_lset(p, p->samples.v[i].labels);
		for (size_t k = 0; k < cprof_lset_len(p, p->samples.v[i].labels); k++)
			if (l[k].key == kb)
				assert_true(l[k].num >= 1024 && l[k].num <= 16384);
	}
	assert_int_equal(cprof_profile_check(p, NULL), 0);
	result_free(&r);
	cprof_profile_free(p);
}

/* ---- golden cases against go tool pprof -------------------------------------------- */

static int parse_args(cprof_ropts *o, char *args)
{
	cprof_ropts_init(o);
	for (char *a = strtok(args, " \t"); a; a = strtok(NULL, " \t")) {
		if (*a++ != '-')
			return -1;
		char *v = strchr(a, '=');
		if (v)
			*v++ = 0;
#define STROPT(n) else if (strcmp(a, #n) == 0) o->n = v
		if (strcmp(a, "raw") == 0)
			o->format = CPROF_FMT_RAW;
		else if (strcmp(a, "tags") == 0)
			o->format = CPROF_FMT_TAGS;
		else if (strcmp(a, "top") == 0)
			o->format = CPROF_FMT_TEXT;
		else if (strcmp(a, "lines") == 0)
			o->granularity = CPROF_GRAN_LINES;
		else if (strcmp(a, "files") == 0)
			o->granularity = CPROF_GRAN_FILES;
		else if (strcmp(a, "filefunctions") == 0)
			o->granularity = CPROF_GRAN_FILEFUNCTIONS;
		else if (strcmp(a, "addresses") == 0)
			o->granularity = CPROF_GRAN_ADDRESSES;
		else if (strcmp(a, "noinlines") == 0)
			o->noinlines = true;
		else if (strcmp(a, "relative_percentages") == 0)
			o->relative_percentages = true;
		else if (strcmp(a, "nodefraction") == 0)
			o->nodefraction = atof(v);
		STROPT(focus); STROPT(ignore); STROPT(hide); STROPT(show); STROPT(show_from);
		STROPT(prune_from); STROPT(tagfocus); STROPT(tagignore); STROPT(tagshow);
		STROPT(taghide); STROPT(tagroot); STROPT(tagleaf); STROPT(unit); STROPT(sample_index);
		else
			return -1;
#undef STROPT
	}
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void test_golden_cases(void **state)
{
	const char *root = getenv("CPROF_SRCDIR");
	if (!root)
		skip();
	char dir[4096], path[8192];
	snprintf(dir, sizeof dir, "%s/tests/golden/filter", root);
	snprintf(path, sizeof path, "%s/cases.txt", dir);
	char *cases = slurp(path);
	assert_non_null(cases);
	setenv("TZ", "UTC", 1);
	tzset();
	int n = 0, failed = 0;
	char *save = NULL;
	for (char *line = strtok_r(cases, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !line[0])
			continue;
		char name[256], prof[256];
		int off = 0;
		assert_int_equal(sscanf(line, "%255s %255s %n", name, prof, &off), 2);
		char *args = strdup(line + off);
		cprof_ropts o;
		assert_int_equal(parse_args(&o, args), 0);
		snprintf(path, sizeof path, "%s/%s", dir, prof);
		cprof_profile *p = NULL, *m = NULL;
		cprof_error err = { 0 };
		assert_int_equal(cprof_decode_file(path, &p, &err), 0);
		/* pprof merges even a single profile (zero samples go, ids renumber) */
		assert_int_equal(cprof_merge(&p, 1, &m, &err), 0);
		result r;
		run(m, &o, &r);
		char *got = NULL;
		size_t gotlen = 0;
		FILE *g = open_memstream(&got, &gotlen);
		fputs(r.warn, g);
		if (r.rc < 0)
			fprintf(g, "%s\nexit 1\n", r.err.msg);
		else
			fputs(r.out, g);
		fclose(g);
		snprintf(path, sizeof path, "%s/%s.txt", dir, name);
		char *want = slurp(path);
		assert_non_null(want);
		n++;
		if (strcmp(got, want) != 0) {
			failed++;
			print_error("golden case %s differs:\n--- got\n%s--- want\n%s", name, got, want);
		}
		free(want);
		free(got);
		result_free(&r);
		cprof_profile_free(p);
		cprof_profile_free(m);
		free(args);
	}
	free(cases);
	if (failed)
		fail_msg("%d of %d golden cases differ", failed, n);
	assert_true(n > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_focus_ignore),
		cmocka_unit_test(test_no_match_warnings),
		cmocka_unit_test(test_hide_keeps_other_lines),
		cmocka_unit_test(test_show_and_mapping_match),
		cmocka_unit_test(test_show_from_and_prune_from),
		cmocka_unit_test(test_drop_frames),
		cmocka_unit_test(test_tagfocus_forms),
		cmocka_unit_test(test_tagshow_taghide),
		cmocka_unit_test(test_zero_numeric_label_is_absent),
		cmocka_unit_test(test_tagroot_tagleaf),
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_raw_header),
		cmocka_unit_test(test_tags_layout),
		cmocka_unit_test(test_bad_regexps),
		cmocka_unit_test(test_regexp_limits),
		cmocka_unit_test(test_extreme_values),
		cmocka_unit_test(test_many_samples),
		cmocka_unit_test(test_golden_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
