/*
 * test_compact.c - cprof_compact must turn a profile, in place, into exactly
 * what cprof_merge of that profile alone returns (pprof's Merge of a single
 * source): every table compared element by element, strings by id and by
 * content, and the rebuilt intern indexes checked by interning every stack,
 * label set and string again.
 *
 * Inputs: the Go corpus (tests/golden/go, found through $CPROF_SRCDIR), the
 * legacy corpus (tests/golden/legacy), profiles built by hand with duplicate
 * mappings, functions and locations (stacks that become equal), zero and
 * cancelling samples, labels whose order changes with the string ids, stacks
 * first met out of index order (the copying path), no sample types, no
 * mappings; and large random profiles, in both stack orders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_core.h"

#define S(p, x) cprof_intern_cstr(p, x)

/* ---- comparing ----------------------------------------------------------- */

static char why[512];

#define DIFF(...) do { snprintf(why, sizeof why, __VA_ARGS__); return why; } while (0)
#define VEC_N(name, a, b) \
	if ((a)->name.n != (b)->name.n) DIFF(#name ": %zu entries, want %zu", (b)->name.n, (a)->name.n)

/* NULL when b equals a table by table, else what differs first. */
static const char *profile_diff(const cprof_profile *a, const cprof_profile *b)
{
	VEC_N(str_off, a, b);
	for (size_t i = 0; i < a->str_off.n; i++)
		if (cprof_slen(a, (cprof_str)i) != cprof_slen(b, (cprof_str)i) ||
		    memcmp(cprof_s(a, (cprof_str)i), cprof_s(b, (cprof_str)i), cprof_slen(a, (cprof_str)i)))
			DIFF("string %zu: \"%s\", want \"%s\"", i, cprof_s(b, (cprof_str)i),
			     cprof_s(a, (cprof_str)i));
	VEC_N(vtypes, a, b);
	for (size_t i = 0; i < a->vtypes.n; i++)
		if (a->vtypes.v[i].type != b->vtypes.v[i].type || a->vtypes.v[i].unit != b->vtypes.v[i].unit)
			DIFF("sample type %zu", i);
	VEC_N(mappings, a, b);
	for (size_t i = 0; i < a->mappings.n; i++) {
		const cprof_mapping *x = &a->mappings.v[i], *y = &b->mappings.v[i];
		if (x->id != y->id || x->start != y->start || x->limit != y->limit ||
		    x->offset != y->offset || x->file != y->file || x->build_id != y->build_id ||
		    x->has_functions != y->has_functions || x->has_filenames != y->has_filenames ||
		    x->has_line_numbers != y->has_line_numbers ||
		    x->has_inline_frames != y->has_inline_frames)
			DIFF("mapping %zu (id %llu, want %llu)", i, (unsigned long long)y->id,
			     (unsigned long long)x->id);
	}
	VEC_N(functions, a, b);
	for (size_t i = 0; i < a->functions.n; i++) {
		const cprof_function *x = &a->functions.v[i], *y = &b->functions.v[i];
		if (x->id != y->id || x->name != y->name || x->system_name != y->system_name ||
		    x->filename != y->filename || x->start_line != y->start_line)
			DIFF("function %zu (%s, want %s)", i, cprof_s(b, y->name), cprof_s(a, x->name));
	}
	VEC_N(lines, a, b);
	for (size_t i = 0; i < a->lines.n; i++) {
		const cprof_line *x = &a->lines.v[i], *y = &b->lines.v[i];
		if (x->function != y->function || x->line != y->line || x->column != y->column)
			DIFF("line %zu", i);
	}
	VEC_N(locations, a, b);
	for (size_t i = 0; i < a->locations.n; i++) {
		const cprof_location *x = &a->locations.v[i], *y = &b->locations.v[i];
		if (x->id != y->id || x->address != y->address || x->mapping != y->mapping ||
		    x->line_off != y->line_off || x->nline != y->nline || x->is_folded != y->is_folded)
			DIFF("location %zu (id %llu address %#llx, want id %llu address %#llx)", i,
			     (unsigned long long)y->id, (unsigned long long)y->address,
			     (unsigned long long)x->id, (unsigned long long)x->address);
	}
	VEC_N(stack_off, a, b);
	VEC_N(stack_locs, a, b);
	for (size_t i = 0; i < a->stack_off.n; i++)
		if (a->stack_off.v[i] != b->stack_off.v[i])
			DIFF("stack_off %zu", i);
	for (size_t i = 0; i < a->stack_locs.n; i++)
		if (a->stack_locs.v[i] != b->stack_locs.v[i])
			DIFF("stack_locs %zu: %u, want %u", i, b->stack_locs.v[i], a->stack_locs.v[i]);
	VEC_N(lset_off, a, b);
	VEC_N(lset_labels, a, b);
	for (size_t i = 0; i < a->lset_off.n; i++)
		if (a->lset_off.v[i] != b->lset_off.v[i])
			DIFF("lset_off %zu", i);
	for (size_t i = 0; i < a->lset_labels.n; i++) {
		const cprof_label *x = &a->lset_labels.v[i], *y = &b->lset_labels.v[i];
		if (x->key != y->key || x->str != y->str || x->num != y->num || x->unit != y->unit)
			DIFF("label %zu", i);
	}
	VEC_N(samples, a, b);
	for (size_t i = 0; i < a->samples.n; i++)
		if (a->samples.v[i].stack != b->samples.v[i].stack ||
		    a->samples.v[i].labels != b->samples.v[i].labels)
			DIFF("sample %zu: stack %u labels %u, want %u %u", i, b->samples.v[i].stack,
			     b->samples.v[i].labels, a->samples.v[i].stack, a->samples.v[i].labels);
	VEC_N(values, a, b);
	for (size_t i = 0; i < a->values.n; i++)
		if (a->values.v[i] != b->values.v[i])
			DIFF("value %zu: %lld, want %lld", i, (long long)b->values.v[i],
			     (long long)a->values.v[i]);
	VEC_N(comments, a, b);
	for (size_t i = 0; i < a->comments.n; i++)
		if (a->comments.v[i] != b->comments.v[i])
			DIFF("comment %zu", i);
	if (a->drop_frames != b->drop_frames || a->keep_frames != b->keep_frames)
		DIFF("drop/keep frames");
	if (a->time_nanos != b->time_nanos || a->duration_nanos != b->duration_nanos)
		DIFF("time or duration");
	if (a->period_type.type != b->period_type.type || a->period_type.unit != b->period_type.unit ||
	    a->period != b->period)
		DIFF("period");
	if (a->default_sample_type != b->default_sample_type || a->doc_url != b->doc_url)
		DIFF("default sample type or doc url");
	return NULL;
}

/* The intern indexes of p find every string, stack and label set where it
 * is, and the model checks. */
static void assert_indexes(cprof_profile *p)
{
	cprof_error err = { 0 };
	assert_int_equal(cprof_profile_check(p, &err), 0);
	size_t ns = cprof_nstrings(p), nst = cprof_nstacks(p), nls = cprof_nlsets(p);
	for (size_t i = 0; i < ns; i++)
		assert_int_equal(cprof_intern(p, cprof_s(p, (cprof_str)i), cprof_slen(p, (cprof_str)i)), i);
	for (size_t s = 0; s < nst; s++) {
		size_t n = cprof_stack_len(p, (uint32_t)s);
		assert_int_equal(cprof_intern_stack(p, n ? cprof_stack_locs(p, (uint32_t)s) : NULL, n), s);
	}
	for (size_t s = 0; s < nls; s++) {
		size_t n = cprof_lset_len(p, (uint32_t)s);
		assert_int_equal(cprof_intern_labels(p, n ? cprof_lset(p, (uint32_t)s) : NULL, n), s);
	}
	assert_int_equal(cprof_nstrings(p), ns);
	assert_int_equal(cprof_nstacks(p), nst);
	assert_int_equal(cprof_nlsets(p), nls);
}

/* Compact p (consumed) and compare with merging a copy of it alone. */
static void check_compact(cprof_profile *p, const char *what)
{
	cprof_profile *copy = cprof_profile_dup(p), *m = NULL;
	assert_non_null(copy);
	cprof_error e1 = { 0 }, e2 = { 0 };
	int rm = cprof_merge(&copy, 1, &m, &e1);
	int rc = cprof_compact(p, &e2);
	if (rm != rc)
		fail_msg("%s: merge returned %d (%s), compact %d (%s)", what, rm, e1.msg, rc, e2.msg);
	if (rc == 0) {
		const char *d = profile_diff(m, p);
		if (d)
			fail_msg("%s: %s", what, d);
		assert_indexes(p);
		/* again, on a profile merge made (strings can move again: label
		 * strings are met in the new sets' order) */
		cprof_profile *m2 = NULL;
		assert_int_equal(cprof_merge(&m, 1, &m2, NULL), 0);
		assert_int_equal(cprof_compact(p, NULL), 0);
		d = profile_diff(m2, p);
		if (d)
			fail_msg("%s, compacted twice: %s", what, d);
		cprof_profile_free(m2);
	}
	cprof_profile_free(m);
	cprof_profile_free(copy);
	cprof_profile_free(p);
}

/* ---- corpora -------------------------------------------------------------- */

static size_t check_dir(const char *rel, const char *const *skip_ext)
{
	const char *root = getenv("CPROF_SRCDIR");
	char dir[4096], path[4400];
	snprintf(dir, sizeof dir, "%s/%s", root ? root : ".", rel);
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s", dir);
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		const char *dot = strrchr(de->d_name, '.');
		bool skip = de->d_name[0] == '.' || !dot;
		for (size_t i = 0; !skip && skip_ext[i]; i++)
			skip = strcmp(dot, skip_ext[i]) == 0;
		/* the Go corpus's report goldens are NAME.CMD.txt */
		if (!skip && strcmp(dot, ".txt") == 0 && strchr(de->d_name, '.') != dot)
			skip = true;
		if (skip)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		cprof_profile *p = NULL;
		cprof_error err = { 0 };
		if (cprof_decode_file(path, &p, &err) != 0)
			continue;
		check_compact(p, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void test_go_corpus(void **state)
{
	static const char *const skip[] = { ".md", NULL };
	assert_true(check_dir("tests/golden/go", skip) >= 10);
}

static void test_legacy_corpus(void **state)
{
	static const char *const skip[] = { ".md", ".raw", ".py", NULL };
	assert_true(check_dir("tests/golden/legacy", skip) >= 20);
}

/* ---- profiles built by hand ---------------------------------------------- */

static cprof_profile *base(size_t nv)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	static const char *const t[] = { "samples", "cpu", "alloc" };
	for (size_t i = 0; i < nv; i++)
		assert_true(cprof_add_vtype(p, S(p, t[i % 3]), S(p, i ? "nanoseconds" : "count")) >= 0);
	p->period_type.type = S(p, "cpu");
	p->period_type.unit = S(p, "nanoseconds");
	p->period = 1000;
	return p;
}

static uint32_t add_map(cprof_profile *p, uint64_t id, uint64_t start, uint64_t limit,
			const char *file, const char *bid)
{
	cprof_mapping m = { .id = id, .start = start, .limit = limit, .offset = 0x100,
			    .file = file ? S(p, file) : 0, .build_id = bid ? S(p, bid) : 0,
			    .has_functions = true };
	int64_t r = cprof_add_mapping(p, &m);
	assert_true(r >= 0);
	return (uint32_t)r;
}

static uint32_t add_fn(cprof_profile *p, uint64_t id, const char *name, int64_t start)
{
	cprof_function f = { .id = id, .name = S(p, name), .system_name = S(p, name),
			     .filename = S(p, "x.c"), .start_line = start };
	int64_t r = cprof_add_function(p, &f);
	assert_true(r >= 0);
	return (uint32_t)r;
}

static uint32_t add_loc(cprof_profile *p, uint64_t id, uint32_t map, uint64_t addr,
			uint32_t fn, int64_t line, int64_t col)
{
	cprof_location l = { .id = id, .address = addr, .mapping = map };
	cprof_line ln = { fn, line, col };
	int64_t r = cprof_add_location(p, &l, &ln, fn == CPROF_NONE ? 0 : 1);
	assert_true(r >= 0);
	return (uint32_t)r;
}

static void add(cprof_profile *p, const uint32_t *locs, size_t n, uint32_t labels,
		int64_t v0, int64_t v1)
{
	int64_t st = cprof_intern_stack(p, locs, n), v[2] = { v0, v1 };
	assert_true(st >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st, labels, v) >= 0);
}

/* Two mappings of one file at different addresses (ASLR), a function
 * defined twice, locations that become one: stacks collapse and their
 * samples combine; unreferenced entries go, but mapping 0 stays first. */
static void test_duplicates(void **state)
{
	cprof_profile *p = base(2);
	uint32_t m0 = add_map(p, 5, 0x1000, 0x2000, "/unused", NULL);
	uint32_t ma = add_map(p, 9, 0x400000, 0x500000, "/bin/app", NULL);
	uint32_t mb = add_map(p, 3, 0x800000, 0x900000, "/bin/app", NULL);      /* = ma, shifted */
	uint32_t mc = add_map(p, 4, 0x900000, 0x900800, NULL, "b1d");
	add_map(p, 6, 0xa00000, 0xa01000, "/never", NULL);
	uint32_t f0 = add_fn(p, 70, "main", 1), f1 = add_fn(p, 71, "work", 5);
	uint32_t f2 = add_fn(p, 72, "main", 1);         /* = f0 */
	add_fn(p, 73, "unused", 0);
	uint32_t f3 = add_fn(p, 74, "main", 2);         /* differs by start line */
	uint32_t l0 = add_loc(p, 100, ma, 0x401000, f0, 10, 1);
	uint32_t l1 = add_loc(p, 101, mb, 0x801000, f2, 10, 7);  /* = l0: column is no key */
	uint32_t l2 = add_loc(p, 102, ma, 0x402000, f1, 20, 0);
	uint32_t l3 = add_loc(p, 103, mb, 0x802000, f1, 20, 0);  /* = l2 */
	uint32_t l4 = add_loc(p, 104, mc, 0x900010, f3, 3, 0);
	uint32_t l5 = add_loc(p, 105, CPROF_NONE, 0x42, CPROF_NONE, 0, 0);
	add_loc(p, 106, ma, 0x403000, f1, 30, 0);                /* unreferenced */
	uint32_t l6 = add_loc(p, 107, ma, 0x401000, f0, 11, 0);  /* same address, other line */
	(void)m0;
	uint32_t s1[] = { l2, l0 }, s2[] = { l3, l1 }, s3[] = { l4, l5, l3 }, s4[] = { l6, l0 };
	uint32_t s5[] = { l5 };
	add(p, s1, 2, 0, 1, 10);
	add(p, s2, 2, 0, 2, 20);        /* becomes s1: combined */
	add(p, s3, 3, 0, 3, 30);
	add(p, s4, 2, 0, 4, 40);
	add(p, s2, 2, 0, 5, 50);
	add(p, s5, 1, 0, 6, 60);
	add(p, NULL, 0, 0, 7, 70);      /* no locations at all */
	check_compact(p, "duplicates");
}

/* All-zero samples go before anything is mapped; samples that cancel go in
 * a second pass (pprof merges again), which renumbers everything. */
static void test_zero_samples(void **state)
{
	cprof_profile *p = base(2);
	uint32_t ma = add_map(p, 1, 0x400000, 0x500000, "/bin/app", NULL);
	uint32_t mb = add_map(p, 2, 0x600000, 0x700000, "/lib/z.so", NULL);
	uint32_t f[4];
	static const char *const fn[] = { "a", "b", "c", "d" };
	for (int i = 0; i < 4; i++)
		f[i] = add_fn(p, 10 + (uint64_t)i, fn[i], 0);
	uint32_t l[4];
	for (int i = 0; i < 4; i++)
		l[i] = add_loc(p, 20 + (uint64_t)i, i == 2 ? mb : ma, (i == 2 ? 0x600000 : 0x400000) + 16 * (uint64_t)i,
			       f[i], i, 0);
	uint32_t zs[] = { l[3], l[0] }, a[] = { l[2], l[1] }, b[] = { l[1], l[0] };
	add(p, zs, 2, 0, 0, 0);         /* zero: its stack and l[3] never exist */
	add(p, a, 2, 0, 5, -3);
	add(p, b, 2, 0, 1, 1);
	add(p, a, 2, 0, -5, 3);         /* cancels the first: all of b's table renumbers */
	add(p, zs, 2, 0, 0, 0);
	check_compact(p, "zero samples");

	/* everything cancels */
	p = base(1);
	ma = add_map(p, 1, 0x400000, 0x500000, "/bin/app", NULL);
	l[0] = add_loc(p, 1, ma, 0x400010, CPROF_NONE, 0, 0);
	add(p, l, 1, 0, 4, 0);
	add(p, l, 1, 0, -4, 0);
	check_compact(p, "cancelling");
}

/* Label sets are sorted by string id; the ids change with the new string
 * order, so sets are sorted again.  Equal stacks with other labels stay
 * apart, equal labels combine. */
static void test_labels(void **state)
{
	cprof_profile *p = base(2);
	/* interned now so that their ids are the reverse of first use */
	cprof_str kz = S(p, "zeta"), kb = S(p, "bytes"), ka = S(p, "alpha");
	cprof_str v2 = S(p, "v2"), v1 = S(p, "v1"), u = S(p, "B");
	uint32_t ma = add_map(p, 1, 0x400000, 0x500000, "/bin/app", NULL);
	uint32_t f0 = add_fn(p, 1, "main", 0);
	uint32_t l0 = add_loc(p, 1, ma, 0x400100, f0, 1, 0);
	cprof_label A[] = { { ka, v1, 0, 0 }, { ka, v2, 0, 0 }, { kz, v2, 0, 0 } };
	cprof_label B[] = { { kb, 0, 64, u }, { kb, 0, 8, u }, { ka, v2, 0, 0 } };
	cprof_label C[] = { { kz, v1, 0, 0 } };
	int64_t la = cprof_intern_labels(p, A, 3), lb = cprof_intern_labels(p, B, 3),
		lc = cprof_intern_labels(p, C, 1);
	assert_true(la > 0 && lb > 0 && lc > 0);
	add(p, &l0, 1, (uint32_t)lc, 1, 1);
	add(p, &l0, 1, (uint32_t)lb, 2, 2);
	add(p, &l0, 1, 0, 3, 3);
	add(p, &l0, 1, (uint32_t)lc, 4, 4);
	add(p, &l0, 1, (uint32_t)la, 0, 0);     /* zero: set A is never used */
	add(p, &l0, 1, (uint32_t)lb, 5, 5);
	check_compact(p, "labels");
}

/* Stacks interned in another order than the samples meet them: the
 * compaction cannot rewrite them front to back and copies them. */
static void test_stack_order(void **state)
{
	cprof_profile *p = base(2);
	uint32_t ma = add_map(p, 1, 0x400000, 0x500000, "/bin/app", NULL);
	uint32_t l[6];
	for (int i = 0; i < 6; i++)
		l[i] = add_loc(p, 1 + (uint64_t)i, ma, 0x400000 + 8 * (uint64_t)i,
			       add_fn(p, 1 + (uint64_t)i, (const char *[]){ "a", "b", "c", "d", "e", "f" }[i], 0),
			       i, 0);
	uint32_t s[4][3] = { { l[0], l[1], l[2] }, { l[3], l[4] }, { l[5], l[0] }, { l[2] } };
	size_t n[4] = { 3, 2, 2, 1 };
	int64_t id[4];
	for (int i = 3; i >= 0; i--)
		id[i] = cprof_intern_stack(p, s[i], n[i]);
	int64_t v[2] = { 1, 2 };
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 4; i++)
			assert_true(cprof_add_sample(p, (uint32_t)id[i], 0, v) >= 0);
	check_compact(p, "stack order");

	/* index order but with a gap (an unused stack) and a stack only zero
	 * samples use: still in place */
	p = base(1);
	ma = add_map(p, 1, 0x400000, 0x500000, "/bin/app", NULL);
	for (int i = 0; i < 4; i++)
		l[i] = add_loc(p, 1 + (uint64_t)i, ma, 0x400000 + 8 * (uint64_t)i, CPROF_NONE, 0, 0);
	for (int i = 0; i < 4; i++)
		id[i] = cprof_intern_stack(p, l + i, 4 - (size_t)i);
	int64_t one = 1, zero = 0;
	cprof_add_sample(p, (uint32_t)id[0], 0, &zero);
	cprof_add_sample(p, (uint32_t)id[1], 0, &one);
	cprof_add_sample(p, (uint32_t)id[3], 0, &one);
	cprof_add_sample(p, (uint32_t)id[1], 0, &one);
	check_compact(p, "gap");
}

/* Stack tables written by hand (no index, so nothing vouches that stacks
 * are distinct) holding the same stack twice: merge interns them as one. */
static void test_stale_stack_index(void **state)
{
	cprof_profile *p = base(2);
	uint32_t ma = add_map(p, 1, 0x400000, 0x500000, "/bin/app", NULL);
	uint32_t l0 = add_loc(p, 1, ma, 0x400010, add_fn(p, 1, "a", 0), 1, 0);
	uint32_t l1 = add_loc(p, 2, ma, 0x400020, add_fn(p, 2, "b", 0), 2, 0);
	uint32_t s0[] = { l0, l1 }, s1[] = { l1 }, s2[] = { l1, l0 }, s4[] = { l0, l0 };
	assert_true(cprof_intern_stack(p, s0, 2) == 0);
	assert_true(cprof_intern_stack(p, s1, 1) == 1);
	assert_true(cprof_intern_stack(p, s2, 2) == 2);
	assert_true(cprof_intern_stack(p, NULL, 0) == 3);
	assert_true(cprof_intern_stack(p, s4, 2) == 4);
	/* stacks 2 and 4 rewritten into copies of stack 0 */
	memcpy(p->stack_locs.v + p->stack_off.v[2], s0, sizeof s0);
	memcpy(p->stack_locs.v + p->stack_off.v[4], s0, sizeof s0);
	p->stack_hv.n = 0;              /* the index is stale */
	int64_t v[2] = { 1, 1 };
	for (uint32_t s = 0; s < 5; s++)
		assert_true(cprof_add_sample(p, s, 0, v) >= 0);
	assert_int_equal(cprof_profile_check(p, NULL), 0);
	check_compact(p, "stale stack index");
}

/* Headers: repeated comments, default type, doc URL, drop/keep frames,
 * times; no sample types (every sample is zero); no mappings; empty. */
static void test_headers_and_edges(void **state)
{
	cprof_profile *p = base(2);
	cprof_add_comment(p, S(p, "one"));
	cprof_add_comment(p, S(p, "two"));
	cprof_add_comment(p, S(p, "one"));
	p->default_sample_type = S(p, "cpu");
	p->doc_url = S(p, "https://example.com/doc");
	p->drop_frames = S(p, "^malloc$");
	p->keep_frames = S(p, "^keep$");
	p->time_nanos = 123;
	p->duration_nanos = 456;
	uint32_t l0 = add_loc(p, 1, CPROF_NONE, 0x10, add_fn(p, 1, "f", 0), 1, 0);
	add(p, &l0, 1, 0, 1, 2);
	check_compact(p, "headers");

	p = cprof_profile_new();
	assert_non_null(p);
	l0 = add_loc(p, 1, CPROF_NONE, 0x10, CPROF_NONE, 0, 0);
	assert_true(cprof_intern_stack(p, &l0, 1) == 0);
	assert_true(cprof_add_sample(p, 0, 0, NULL) == 0);
	check_compact(p, "no sample types");

	p = cprof_profile_new();
	assert_non_null(p);
	check_compact(p, "empty");

	p = base(2);
	add_map(p, 1, 0, 0, NULL, NULL);
	check_compact(p, "mapping only");
}

/* Bad references are refused as merge refuses them; a zero sample's are
 * never looked at. */
static void test_errors(void **state)
{
	cprof_error err = { 0 };
	assert_int_equal(cprof_compact(NULL, &err), CPROF_EINVAL);

	cprof_profile *p = base(1);
	int64_t v = 1, z = 0;
	uint32_t l0 = add_loc(p, 1, CPROF_NONE, 0x10, CPROF_NONE, 0, 0);
	assert_true(cprof_intern_stack(p, &l0, 1) == 0);
	cprof_add_sample(p, 0, 0, &v);
	cprof_add_sample(p, 7, 0, &z);
	check_compact(p, "bad stack in a zero sample");

	p = base(1);
	l0 = add_loc(p, 1, CPROF_NONE, 0x10, CPROF_NONE, 0, 0);
	assert_true(cprof_intern_stack(p, &l0, 1) == 0);
	cprof_add_sample(p, 0, 0, &v);
	cprof_add_sample(p, 7, 0, &v);
	cprof_profile *m = NULL, *copy = cprof_profile_dup(p);
	assert_int_equal(cprof_merge(&copy, 1, &m, NULL), CPROF_EFORMAT);
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_compact(p, &err), CPROF_EFORMAT);
	assert_true(err.msg[0] != 0);
	assert_int_equal(p->samples.n, 2);      /* refused before anything moved */
	cprof_profile_free(copy);
	cprof_profile_free(p);

	/* a location out of range, met after the rewrite began */
	p = base(1);
	l0 = add_loc(p, 1, CPROF_NONE, 0x10, CPROF_NONE, 0, 0);
	uint32_t bad[] = { l0, 99 };
	assert_true(cprof_intern_stack(p, &l0, 1) == 0);
	assert_true(cprof_intern_stack(p, bad, 2) == 1);
	cprof_add_sample(p, 0, 0, &v);
	cprof_add_sample(p, 1, 0, &v);
	copy = cprof_profile_dup(p);
	assert_int_equal(cprof_merge(&copy, 1, &m, NULL), CPROF_EFORMAT);
	assert_int_equal(cprof_compact(p, NULL), CPROF_EFORMAT);
	assert_int_equal(cprof_profile_check(p, NULL), 0);
	cprof_profile_free(copy);
	cprof_profile_free(p);
}

/* ---- large random profiles ----------------------------------------------- */

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* nsamples samples over nloc locations, some equal by pprof's key (within
 * and across two mappings of one file), functions with repeats, label sets
 * from a small pool, a tenth of the samples zero and some negative.
 * pooled: stacks drawn from a pool interned up front in random order (not
 * the order samples meet them); else fresh stacks, interned as added. */
static cprof_profile *random_profile(uint64_t seed, size_t nsamples, size_t nloc, bool pooled)
{
	rng = seed;
	cprof_profile *p = base(2);
	uint32_t maps[4] = {
		add_map(p, 1, 0x400000, 0x800000, "/bin/app", NULL),
		add_map(p, 2, 0x7f0000000, 0x7f0400000, "/lib/libc.so", "abc"),
		add_map(p, 3, 0xc00000, 0x1000000, "/bin/app", NULL),   /* = maps[0] */
		add_map(p, 4, 0xd00000, 0xd01000, "/lib/other", NULL),
	};
	char name[32];
	size_t nfn = nloc / 4 + 1;
	for (size_t i = 0; i < nfn; i++) {
		snprintf(name, sizeof name, "fn%u", rnd((uint32_t)nfn));    /* repeats */
		add_fn(p, 1000 + i, name, rnd(3));
	}
	for (size_t i = 0; i < nloc; i++) {
		uint32_t m = rnd(5), off = rnd((uint32_t)nloc / 2 + 1) * 4;
		uint64_t start = m < 4 ? p->mappings.v[maps[m]].start : 0;
		cprof_location l = { .id = 50000 + i, .address = start + off,
				     .mapping = m < 4 ? maps[m] : CPROF_NONE, .is_folded = rnd(20) == 0 };
		cprof_line ln[3];
		size_t nl = rnd(4);
		for (size_t k = 0; k < nl; k++) {
			ln[k].function = rnd((uint32_t)nfn);
			ln[k].line = rnd(5);
			ln[k].column = rnd(2);
		}
		assert_true(cprof_add_location(p, &l, ln, nl) >= 0);
	}
	int64_t lsets[8] = { 0 };
	for (int i = 1; i < 8; i++) {
		cprof_label l[2] = { { S(p, i & 1 ? "thread" : "span"), 0, 0, 0 },
				     { S(p, "bytes"), 0, i * 16, S(p, "bytes") } };
		snprintf(name, sizeof name, "v%d", 8 - i);
		l[0].str = S(p, name);
		lsets[i] = cprof_intern_labels(p, l, (size_t)(i % 3) ? 2 : 1);
		assert_true(lsets[i] > 0);
	}
	uint32_t stk[24];
	size_t npool = nsamples / 3 + 1;
	int64_t *pool = pooled ? calloc(npool, sizeof *pool) : NULL;
	for (size_t i = 0; pooled && i < npool; i++) {
		size_t d = rnd(24);
		for (size_t k = 0; k < d; k++)
			stk[k] = rnd((uint32_t)nloc);
		pool[i] = cprof_intern_stack(p, stk, d);
		assert_true(pool[i] >= 0);
	}
	for (size_t i = 0; i < nsamples; i++) {
		int64_t st;
		if (pooled) {
			st = pool[rnd((uint32_t)npool)];
		} else {
			size_t d = rnd(24);
			for (size_t k = 0; k < d; k++)
				stk[k] = rnd((uint32_t)(nloc < 64 || rnd(4) ? nloc : 64));
			st = cprof_intern_stack(p, stk, d);
		}
		int64_t v[2] = { rnd(10) ? (int64_t)rnd(100) - 20 : 0, rnd(10) ? (int64_t)rnd(1000) : 0 };
		assert_true(cprof_add_sample(p, (uint32_t)st, (uint32_t)lsets[rnd(8)], v) >= 0);
	}
	free(pool);
	return p;
}

static void test_random(void **state)
{
	for (uint64_t seed = 1; seed <= 6; seed++) {
		char what[64];
		snprintf(what, sizeof what, "random seed %llu", (unsigned long long)seed);
		check_compact(random_profile(seed * 0x9e3779b97f4a7c15ULL, 3000, 300, seed & 1), what);
	}
	check_compact(random_profile(77, 200000, 20000, false), "large random, fresh stacks");
	check_compact(random_profile(78, 100000, 5000, true), "large random, pooled stacks");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_corpus),
		cmocka_unit_test(test_legacy_corpus),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_zero_samples),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_stack_order),
		cmocka_unit_test(test_stale_stack_index),
		cmocka_unit_test(test_headers_and_edges),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
