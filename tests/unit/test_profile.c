/*
 * test_profile.c - the profile model: interning, the builder, checks, copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cprof_core.h"
#include "cprof_util.h"

static void test_strings_interned(void **state)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_int_equal(cprof_nstrings(p), 1);
	assert_string_equal(cprof_s(p, 0), "");
	cprof_str a = cprof_intern_cstr(p, "main.hot");
	cprof_str b = cprof_intern_cstr(p, "main.cold");
	assert_int_not_equal(a, b);
	assert_int_equal(cprof_intern_cstr(p, "main.hot"), a);
	assert_int_equal(cprof_intern(p, "", 0), 0);
	/* embedded NULs are part of the string */
	cprof_str n1 = cprof_intern(p, "a\0b", 3), n2 = cprof_intern(p, "a\0c", 3);
	assert_int_not_equal(n1, n2);
	assert_int_equal(cprof_slen(p, n1), 3);
	assert_string_equal(cprof_s(p, 12345), "");   /* out of range: "" */
	/* many strings force several rehashes */
	char buf[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(buf, sizeof buf, "s%d", i);
		assert_int_not_equal(cprof_intern_cstr(p, buf), CPROF_NONE);
	}
	for (int i = 0; i < 20000; i += 997) {
		snprintf(buf, sizeof buf, "s%d", i);
		cprof_str id = cprof_intern_cstr(p, buf);
		assert_string_equal(cprof_s(p, id), buf);
	}
	assert_int_equal(cprof_intern_cstr(p, "main.hot"), a);
	cprof_profile_free(p);
}

static void test_stacks_and_labels_interned(void **state)
{
	cprof_profile *p = cprof_profile_new();
	uint32_t s1[] = { 1, 2, 3 }, s2[] = { 1, 2 }, s3[] = { 1, 2, 3 };
	int64_t a = cprof_intern_stack(p, s1, 3), b = cprof_intern_stack(p, s2, 2);
	assert_true(a >= 0 && b >= 0 && a != b);
	assert_int_equal(cprof_intern_stack(p, s3, 3), a);
	assert_int_equal(cprof_stack_len(p, (uint32_t)a), 3);
	assert_int_equal(cprof_stack_locs(p, (uint32_t)a)[2], 3);
	int64_t e = cprof_intern_stack(p, NULL, 0);
	assert_true(e >= 0);
	assert_int_equal(cprof_intern_stack(p, NULL, 0), e);

	cprof_str k1 = cprof_intern_cstr(p, "k1"), k2 = cprof_intern_cstr(p, "k2");
	cprof_str v = cprof_intern_cstr(p, "v");
	cprof_label l1[] = { { k1, v, 0, 0 }, { k2, 0, 42, 0 } };
	cprof_label l2[] = { { k2, 0, 42, 0 }, { k1, v, 0, 0 } };   /* same set, other order */
	int64_t x = cprof_intern_labels(p, l1, 2), y = cprof_intern_labels(p, l2, 2);
	assert_true(x > 0);
	assert_int_equal(x, y);
	assert_int_equal(cprof_intern_labels(p, NULL, 0), 0);
	assert_int_equal(cprof_lset_len(p, 0), 0);
	assert_int_equal(cprof_lset_len(p, (uint32_t)x), 2);
	/* many distinct stacks */
	for (uint32_t i = 0; i < 50000; i++) {
		uint32_t s[2] = { i, i * 7 };
		int64_t id = cprof_intern_stack(p, s, 2);
		assert_true(id >= 0);
		assert_int_equal(cprof_intern_stack(p, s, 2), id);
	}
	cprof_profile_free(p);
}

static cprof_profile *small_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count"));
	cprof_add_vtype(p, cprof_intern_cstr(p, "cpu"), cprof_intern_cstr(p, "nanoseconds"));
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x2000, .file = cprof_intern_cstr(p, "/bin/x") };
	assert_int_equal(cprof_add_mapping(p, &m), 0);
	cprof_function f = { .id = 7, .name = cprof_intern_cstr(p, "main") };
	assert_int_equal(cprof_add_function(p, &f), 0);
	cprof_line ln = { .function = 0, .line = 10 };
	cprof_location loc = { .id = 3, .address = 0x1234, .mapping = 0 };
	assert_int_equal(cprof_add_location(p, &loc, &ln, 1), 0);
	uint32_t st[] = { 0 };
	int64_t s = cprof_intern_stack(p, st, 1);
	int64_t v[] = { 1, 10000000 };
	assert_int_equal(cprof_add_sample(p, (uint32_t)s, 0, v), 0);
	assert_int_equal(cprof_add_sample(p, (uint32_t)s, 0, v), 1);
	return p;
}

static void test_builder_and_check(void **state)
{
	cprof_profile *p = small_profile();
	cprof_error err = { 0 };
	assert_int_equal(cprof_profile_check(p, &err), 0);
	assert_int_equal(p->samples.n, 2);
	assert_int_equal(cprof_nstacks(p), 1);
	assert_int_equal(cprof_sample_values(p, 1)[1], 10000000);
	/* a sample type can't be added once samples have a fixed stride */
	assert_true(cprof_add_vtype(p, 1, 1) < 0);
	/* a broken reference is caught with a message */
	p->locations.v[0].mapping = 9;
	assert_int_equal(cprof_profile_check(p, &err), CPROF_EFORMAT);
	assert_non_null(strstr(err.msg, "mapping"));
	cprof_profile_free(p);
}

static void test_vtypes(void **state)
{
	cprof_profile *p = small_profile();
	cprof_error err = { 0 };
	assert_int_equal(cprof_sample_index(p, "cpu", NULL), 1);
	assert_int_equal(cprof_sample_index(p, "inuse_cpu", NULL), 1);
	assert_int_equal(cprof_sample_index(p, "0", NULL), 0);
	assert_int_equal(cprof_sample_index(p, "+1", NULL), 1);
	assert_int_equal(cprof_sample_index(p, "", NULL), 1);  /* the default */
	assert_int_equal(cprof_sample_index(p, NULL, NULL), 1);
	assert_int_equal(cprof_sample_index(p, "5", &err), CPROF_EINVAL);
	assert_string_equal(err.msg, "sample_index 5 is outside the range [0..1]");
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_sample_index(p, "-1", &err), CPROF_EINVAL);
	assert_string_equal(err.msg, "sample_index -1 is outside the range [0..1]");
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_sample_index(p, "99999999999999999999", &err), CPROF_EINVAL);
	assert_string_equal(err.msg, "sample_index 99999999999999999999 is outside the range [0..1]");
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_sample_index(p, "nope", &err), CPROF_EINVAL);
	assert_string_equal(err.msg, "sample_index \"nope\" must be one of: [samples cpu]");
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_sample_index(p, " 1", &err), CPROF_EINVAL);  /* Atoi: no spaces */
	assert_int_equal(cprof_default_vtype(p), 1);           /* last */
	p->default_sample_type = cprof_intern_cstr(p, "samples");
	assert_int_equal(cprof_default_vtype(p), 0);
	cprof_profile_free(p);
}

static void test_dup_is_deep_and_interning_works(void **state)
{
	cprof_profile *p = small_profile();
	cprof_profile *q = cprof_profile_dup(p);
	assert_non_null(q);
	cprof_profile_free(p);
	cprof_error err = { 0 };
	assert_int_equal(cprof_profile_check(q, &err), 0);
	assert_string_equal(cprof_s(q, q->functions.v[0].name), "main");
	/* the copy's intern indexes are live */
	assert_int_equal(cprof_intern_cstr(q, "main"), q->functions.v[0].name);
	uint32_t st[] = { 0 };
	assert_int_equal(cprof_intern_stack(q, st, 1), q->samples.v[0].stack);
	cprof_profile_free(q);
}

static void test_errors(void **state)
{
	cprof_error err = { 0 };
	assert_int_equal(cprof_seterr(&err, CPROF_EFORMAT, "first %d", 1), CPROF_EFORMAT);
	cprof_seterr(&err, CPROF_EIO, "second");
	assert_string_equal(err.msg, "first 1");            /* the first error wins */
	assert_int_equal(cprof_seterr(NULL, CPROF_EIO, "x"), CPROF_EIO);
	assert_string_equal(cprof_strerror(CPROF_ENOMEM), "out of memory");
	assert_string_equal(cprof_strerror(-1000), "unknown error");
}

/* Messages quote input: nothing that does not print gets through. */
static void test_escape(void **state)
{
	char out[64];
	static const char in[] = "ok \x1b[2J\n\t\r\x7f \xc3\xa9 \xc2\x9b \xff \xe2\x82";
	size_t n = cprof_escape(out, sizeof out, in, sizeof in - 1);
	assert_string_equal(out, "ok \\x1b[2J\\n\\t\\r\\x7f \xc3\xa9 \\xc2\\x9b \\xff \\xe2\\x82");
	assert_int_equal(n, strlen(out));
	/* NUL bytes in the middle, and an escape never cut in half */
	assert_int_equal(cprof_escape(out, 6, "a\0bc", 4), 5);
	assert_string_equal(out, "a\\x00");
	assert_int_equal(cprof_escape(out, 5, "a\0bc", 4), 1);
	assert_string_equal(out, "a");
	cprof_error err = { 0 };
	cprof_seterr(&err, CPROF_EFORMAT, "bad \"%s\"", "x\ny");
	assert_string_equal(err.msg, "bad \"x\\ny\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings_interned),
		cmocka_unit_test(test_stacks_and_labels_interned),
		cmocka_unit_test(test_builder_and_check),
		cmocka_unit_test(test_vtypes),
		cmocka_unit_test(test_dup_is_deep_and_interning_works),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
