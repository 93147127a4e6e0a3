/*
 * test_combine.c - the core's -base / -diff_base / -normalize policy
 * (cprof_combine, cprof_normalize) and the symbol server protocol
 * (cprof_mapping_symbolizable, cprof_symbol_request, cprof_apply_symbols),
 * with their error paths.
 *
 * Profiles are built by hand: one mapping, three locations (main, work,
 * leaf), stacks (leaf work main) and (work main), values given per test.
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

#define S(p, x) cprof_intern_cstr(p, x)

/* nv sample types; two samples with values a[0..nv) and b[0..nv). */
static cprof_profile *mk(size_t nv, const int64_t *a, const int64_t *b)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	for (size_t k = 0; k < nv; k++) {
		char t[16];
		snprintf(t, sizeof t, "t%zu", k);
		assert_true(cprof_add_vtype(p, S(p, t), S(p, "count")) == (int64_t)k);
	}
	cprof_mapping m = { .id = 1, .start = 0x400000, .limit = 0x500000, .file = S(p, "/bin/app"),
			    .has_functions = true };
	assert_true(cprof_add_mapping(p, &m) == 0);
	static const char *const fn[] = { "main", "work", "leaf" };
	for (int i = 0; i < 3; i++) {
		cprof_function f = { .id = 1 + (uint64_t)i, .name = S(p, fn[i]), .system_name = S(p, fn[i]) };
		assert_true(cprof_add_function(p, &f) == i);
		cprof_location l = { .id = 1 + (uint64_t)i, .address = 0x401000 + 0x10 * (uint64_t)i };
		cprof_line ln = { (uint32_t)i, 1, 0 };
		assert_true(cprof_add_location(p, &l, &ln, 1) == i);
	}
	uint32_t s1[] = { 2, 1, 0 }, s2[] = { 1, 0 };
	int64_t st1 = cprof_intern_stack(p, s1, 3), st2 = cprof_intern_stack(p, s2, 2);
	assert_true(cprof_add_sample(p, (uint32_t)st1, 0, a) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st2, 0, b) >= 0);
	return p;
}

static int64_t total(const cprof_profile *p, size_t k)
{
	int64_t t = 0;
	for (size_t i = 0; i < p->samples.n; i++)
		t += cprof_sample_values(p, i)[k];
	return t;
}

static void test_single_source_is_merged_alone(void **state)
{
	(void)state;
	int64_t a[] = { 3 }, b[] = { 4 };
	cprof_profile *src = mk(1, a, b), *ref = NULL, *out = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_merge(&src, 1, &ref, &err), 0);
	cprof_combine_stage st = CPROF_STAGE_ARGS;
	cprof_combine_opts o = { .stage = &st };
	assert_int_equal(cprof_combine(&src, 1, NULL, 0, &o, &out, &err), 0);
	assert_null(src);       /* taken */
	assert_int_equal(st, CPROF_STAGE_DONE);
	assert_int_equal(out->samples.n, ref->samples.n);
	assert_int_equal(total(out, 0), 7);
	assert_int_equal(out->locations.n, ref->locations.n);
	cprof_profile_free(out);
	cprof_profile_free(ref);
}

static void test_sources_merge(void **state)
{
	(void)state;
	int64_t a[] = { 3, 30 }, b[] = { 4, 40 };
	cprof_profile *ps[2] = { mk(2, a, b), mk(2, a, b) }, *out = NULL;
	assert_int_equal(cprof_combine(ps, 2, NULL, 0, NULL, &out, NULL), 0);
	assert_null(ps[0]);
	assert_null(ps[1]);
	assert_int_equal(out->samples.n, 2);   /* equal samples combine */
	assert_int_equal(total(out, 0), 14);
	assert_int_equal(total(out, 1), 140);
	cprof_profile_free(out);
}

static void test_base_subtracts(void **state)
{
	(void)state;
	int64_t a[] = { 5 }, b[] = { 4 }, c[] = { 2 };
	cprof_profile *src = mk(1, a, b), *base = mk(1, c, b), *out = NULL;
	cprof_combine_opts o = { .mode = CPROF_COMBINE_BASE };
	assert_int_equal(cprof_combine(&src, 1, &base, 1, &o, &out, NULL), 0);
	assert_null(base);
	/* (work main) 4 - 4 is dropped; (leaf work main) 5 - 2 */
	assert_int_equal(out->samples.n, 1);
	assert_int_equal(cprof_sample_values(out, 0)[0], 3);
	assert_int_equal(cprof_lset_len(out, out->samples.v[0].labels), 0);
	cprof_profile_free(out);
}

static void test_diff_base_labels(void **state)
{
	(void)state;
	int64_t a[] = { 5 }, b[] = { 4 }, c[] = { 2 };
	cprof_profile *src = mk(1, a, b), *base = mk(1, c, b), *out = NULL;
	cprof_combine_opts o = { .mode = CPROF_COMBINE_DIFF_BASE };
	assert_int_equal(cprof_combine(&src, 1, &base, 1, &o, &out, NULL), 0);
	/* labelled base samples do not cancel: four samples, two labelled */
	assert_int_equal(out->samples.n, 4);
	size_t labelled = 0;
	int64_t sum = 0;
	for (size_t i = 0; i < out->samples.n; i++) {
		uint32_t ls = out->samples.v[i].labels;
		if (cprof_lset_len(out, ls) == 1) {
			const cprof_label *l = cprof_lset(out, ls);
			assert_string_equal(cprof_s(out, l->key), "pprof::base");
			assert_string_equal(cprof_s(out, l->str), "true");
			assert_true(cprof_sample_values(out, i)[0] < 0);
			labelled++;
		}
		sum += cprof_sample_values(out, i)[0];
	}
	assert_int_equal(labelled, 2);
	assert_int_equal(sum, 9 - 6);
	cprof_profile_free(out);
}

static void test_normalize(void **state)
{
	(void)state;
	/* source sums 10 and 0, base 20 and 7: doubled, the zero column stays 0 */
	int64_t a[] = { 4, 0 }, b[] = { 6, 0 }, c[] = { 15, 3 }, d[] = { 5, 4 };
	cprof_profile *src = mk(2, a, b), *base = mk(2, c, d);
	cprof_error err = { 0 };
	assert_int_equal(cprof_normalize(src, base, &err), 0);
	assert_int_equal(total(src, 0), 20);
	assert_int_equal(cprof_sample_values(src, 0)[0], 8);
	assert_int_equal(total(src, 1), 0);
	cprof_profile *out = NULL;
	cprof_combine_opts o = { .normalize = true };
	int64_t e[] = { 1 }, f[] = { 3 }, g[] = { 2 }, h[] = { 6 };
	cprof_profile *s2 = mk(1, e, f), *b2 = mk(1, g, h);
	/* normalized to the base, the difference is all zero: nothing left */
	assert_int_equal(cprof_combine(&s2, 1, &b2, 1, &o, &out, &err), 0);
	assert_int_equal(out->samples.n, 0);
	cprof_profile_free(out);
	cprof_profile_free(src);
	cprof_profile_free(base);
}

static void test_normalize_errors(void **state)
{
	(void)state;
	int64_t a[] = { 1, 2 }, c[] = { 1 };
	cprof_profile *src = mk(2, a, a), *base = mk(1, c, c);
	cprof_error err = { 0 };
	assert_int_equal(cprof_normalize(src, base, &err), CPROF_EMISMATCH);
	assert_string_equal(err.msg, "the base profile has 1 sample types, the source 2");
	assert_int_equal(cprof_normalize(NULL, base, NULL), CPROF_EINVAL);
	cprof_profile_free(src);
	cprof_profile_free(base);

	int64_t many[CPROF_NORMALIZE_MAX_TYPES + 1] = { 0 };
	src = mk(CPROF_NORMALIZE_MAX_TYPES + 1, many, many);
	base = mk(CPROF_NORMALIZE_MAX_TYPES + 1, many, many);
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_normalize(src, base, &err), CPROF_ELIMIT);
	assert_string_equal(err.msg, "too many sample types (65)");
	cprof_profile_free(src);
	cprof_profile_free(base);
}

static void test_combine_stages(void **state)
{
	(void)state;
	int64_t a[] = { 1, 2 }, c[] = { 1 };
	cprof_combine_stage st;
	cprof_combine_opts o = { .stage = &st };
	cprof_profile *out = NULL;
	cprof_error err = { 0 };

	/* sources that cannot merge */
	cprof_profile *ps[2] = { mk(2, a, a), mk(1, c, c) };
	cprof_profile *bs[1] = { mk(1, c, c) };
	assert_int_equal(cprof_combine(ps, 2, bs, 1, &o, &out, &err), CPROF_EMISMATCH);
	assert_int_equal(st, CPROF_STAGE_SOURCES);
	assert_null(out);
	assert_null(ps[0]);
	assert_null(bs[0]);     /* the bases are freed too */

	/* bases that cannot merge */
	ps[0] = mk(1, c, c);
	cprof_profile *bb[2] = { mk(2, a, a), mk(1, c, c) };
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_combine(ps, 1, bb, 2, &o, &out, &err), CPROF_EMISMATCH);
	assert_int_equal(st, CPROF_STAGE_BASES);

	/* normalize against a base of other types */
	ps[0] = mk(2, a, a);
	bs[0] = mk(1, c, c);
	o.normalize = true;
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_combine(ps, 1, bs, 1, &o, &out, &err), CPROF_EMISMATCH);
	assert_int_equal(st, CPROF_STAGE_NORMALIZE);

	/* and without normalize, the subtraction fails */
	ps[0] = mk(2, a, a);
	bs[0] = mk(1, c, c);
	o.normalize = false;
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_combine(ps, 1, bs, 1, &o, &out, &err), CPROF_EMISMATCH);
	assert_int_equal(st, CPROF_STAGE_SUBTRACT);
	assert_null(out);
}

static void test_combine_bad_args(void **state)
{
	(void)state;
	int64_t c[] = { 1 };
	cprof_combine_stage st = CPROF_STAGE_DONE;
	cprof_combine_opts o = { .stage = &st };
	cprof_profile *out = NULL, *bs[1] = { mk(1, c, c) };
	cprof_error err = { 0 };
	/* no source: EINVAL, and the base is still taken */
	cprof_profile *none[1] = { NULL };
	assert_int_equal(cprof_combine(none, 0, bs, 1, &o, &out, &err), CPROF_EINVAL);
	assert_int_equal(st, CPROF_STAGE_ARGS);
	assert_null(bs[0]);
	/* a NULL source among others */
	cprof_profile *ps[2] = { mk(1, c, c), NULL };
	assert_int_equal(cprof_combine(ps, 2, NULL, 0, &o, &out, NULL), CPROF_EINVAL);
	assert_null(ps[0]);
	/* a bad mode */
	ps[0] = mk(1, c, c);
	bs[0] = mk(1, c, c);
	o.mode = 7;
	assert_int_equal(cprof_combine(ps, 1, bs, 1, &o, &out, NULL), CPROF_EINVAL);
	assert_null(ps[0]);
	assert_null(bs[0]);
	/* no out */
	ps[0] = mk(1, c, c);
	assert_int_equal(cprof_combine(ps, 1, NULL, 0, NULL, NULL, NULL), CPROF_EINVAL);
	assert_null(ps[0]);
}

/* ---- symbol server ------------------------------------------------------ */

/* A profile whose mapping 0 (/bin/app) has three unsymbolized locations
 * (0x1000, 0x2000, 0x0) and one with a line; mapping 1 is [vdso]. */
static cprof_profile *mk_unsym(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x100000, .file = S(p, "/bin/app") };
	cprof_mapping v = { .id = 2, .start = 0x7fff0000, .limit = 0x7fff1000, .file = S(p, "[vdso]") };
	assert_true(cprof_add_mapping(p, &m) == 0);
	assert_true(cprof_add_mapping(p, &v) == 1);
	cprof_function f = { .id = 1, .name = S(p, "known"), .system_name = S(p, "known") };
	assert_true(cprof_add_function(p, &f) == 0);
	uint64_t addrs[] = { 0x1000, 0x2000, 0, 0x3000 };
	for (int i = 0; i < 4; i++) {
		cprof_location l = { .id = 1 + (uint64_t)i, .address = addrs[i] };
		cprof_line ln = { 0, 7, 0 };
		assert_true(cprof_add_location(p, &l, &ln, i == 3) == i);
	}
	return p;
}

static void test_symbolizable(void **state)
{
	(void)state;
	cprof_profile *p = mk_unsym();
	assert_true(cprof_mapping_symbolizable(p, 0));
	assert_false(cprof_mapping_symbolizable(p, 1));
	assert_false(cprof_mapping_symbolizable(p, 2));
	p->mappings.v[0].file = S(p, "/usr/lib/linux-vdso.so.1");
	assert_false(cprof_mapping_symbolizable(p, 0));
	p->mappings.v[0].file = S(p, "/dev/dri/card0");
	assert_false(cprof_mapping_symbolizable(p, 0));
	cprof_profile_free(p);
}

static void test_symbol_request(void **state)
{
	(void)state;
	cprof_profile *p = mk_unsym();
	char *body = NULL;
	size_t n = 0;
	assert_int_equal(cprof_symbol_request(p, 0, &body, &n, NULL), 0);
	assert_string_equal(body, "0x1000+0x2000");
	assert_int_equal(n, strlen(body));
	free(body);
	assert_int_equal(cprof_symbol_request(p, 1, &body, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(body);
	cprof_error err = { 0 };
	assert_int_equal(cprof_symbol_request(p, 5, &body, &n, &err), CPROF_EINVAL);
	cprof_profile_free(p);
}

static void test_apply_symbols(void **state)
{
	(void)state;
	cprof_profile *p = mk_unsym();
	const char ans[] = "num_symbols: 3\n"
			   "0x1000 first\n"
			   "0x0000000000002000\tsecond name\r\n"
			   "0x1000 again\n"
			   "0x9999 nowhere\n"
			   "0x3000 unterminated";
	size_t nf = p->functions.n;
	cprof_error err = { 0 };
	assert_int_equal(cprof_apply_symbols(p, 0, ans, sizeof ans - 1, &err), 0);
	const cprof_location *L = p->locations.v;
	assert_int_equal(L[0].nline, 1);
	assert_string_equal(cprof_s(p, p->functions.v[p->lines.v[L[0].line_off].function].name),
			    "again");   /* the last answer wins */
	assert_int_equal(L[1].nline, 1);
	assert_string_equal(cprof_s(p, p->functions.v[p->lines.v[L[1].line_off].function].name),
			    "second name\r");
	assert_int_equal(L[2].nline, 0);
	/* the location with a line at 0x3000: only whole lines count */
	assert_string_equal(cprof_s(p, p->functions.v[p->lines.v[L[3].line_off].function].name),
			    "known");
	/* one function per distinct name: first, second name, again, nowhere */
	assert_int_equal(p->functions.n, nf + 4);
	assert_int_equal(cprof_profile_check(p, &err), 0);
	cprof_profile_free(p);
}

static void test_apply_symbols_errors(void **state)
{
	(void)state;
	cprof_profile *p = mk_unsym();
	cprof_error err = { 0 };
	const char big[] = "0x1000 ok\n0x10000000000000000 too big\n";
	assert_int_equal(cprof_apply_symbols(p, 0, big, sizeof big - 1, &err), CPROF_EFORMAT);
	assert_string_equal(err.msg, "unparsable address in the answer");
	assert_int_equal(p->locations.v[0].nline, 0);   /* nothing applied */
	/* 17 digits with leading zeros fit */
	const char zeros[] = "0x00000000000001000 ok\n";
	assert_int_equal(cprof_apply_symbols(p, 0, zeros, sizeof zeros - 1, NULL), 0);
	assert_int_equal(p->locations.v[0].nline, 1);
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_apply_symbols(p, 9, zeros, sizeof zeros - 1, &err), CPROF_EINVAL);
	assert_int_equal(cprof_apply_symbols(p, 0, NULL, 3, NULL), CPROF_EINVAL);
	assert_int_equal(cprof_apply_symbols(p, 0, "", 0, NULL), 0);
	cprof_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_source_is_merged_alone),
		cmocka_unit_test(test_sources_merge),
		cmocka_unit_test(test_base_subtracts),
		cmocka_unit_test(test_diff_base_labels),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_normalize_errors),
		cmocka_unit_test(test_combine_stages),
		cmocka_unit_test(test_combine_bad_args),
		cmocka_unit_test(test_symbolizable),
		cmocka_unit_test(test_symbol_request),
		cmocka_unit_test(test_apply_symbols),
		cmocka_unit_test(test_apply_symbols_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
