/*
 * test_util.c - the shared toolbox (src/core/cprof_util.h): the buffer and
 * its ceiling, the u64 map (every key, growth), the JSON string writer
 * (invalid UTF-8, script-unsafe characters), UTF-8 lengths, pprof's units.
 * The sample-index rule is tested in test_profile.c.
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
#include "cprof_util.h"

static void test_buf(void **state)
{
	(void)state;
	cprof_buf b = { 0 };
	assert_int_equal(cprof_buf_str(&b, "abc"), 0);
	assert_int_equal(cprof_buf_printf(&b, "-%d-", 42), 0);
	assert_string_equal(b.s, "abc-42-");
	/* longer than printf's first attempt */
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(cprof_buf_printf(&b, "%s!", big), 0);
	assert_int_equal(b.n, 7 + 599 + 1);
	assert_int_equal(b.s[b.n - 1], '!');
	assert_int_equal(b.s[b.n], 0);
	char *s = cprof_buf_take(&b);
	assert_int_equal(strlen(s), 607);
	free(s);
	assert_null(b.s);
	/* an empty buffer gives "" */
	s = cprof_buf_take(&b);
	assert_string_equal(s, "");
	free(s);
}

static void test_buf_ceiling(void **state)
{
	(void)state;
	cprof_buf b = { .max = 8 };
	assert_int_equal(cprof_buf_str(&b, "12345678"), 0);     /* exactly max */
	assert_int_equal(cprof_buf_add(&b, "9", 1), CPROF_ELIMIT);
	/* the failure sticks: later appends fail, nothing more is written */
	assert_int_equal(cprof_buf_add(&b, "", 0), CPROF_ELIMIT);
	assert_int_equal(cprof_buf_printf(&b, "%d", 1), CPROF_ELIMIT);
	assert_int_equal(b.n, 8);
	assert_null(cprof_buf_take(&b));
	/* a long printf past the ceiling */
	cprof_buf c = { .max = 300 };
	char big[400];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(cprof_buf_printf(&c, "%s", big), CPROF_ELIMIT);
	cprof_buf_free(&c);
	/* a size that would overflow */
	cprof_buf d = { .max = SIZE_MAX };
	assert_int_equal(cprof_buf_add(&d, "a", 1), 0);
	assert_int_equal(cprof_buf_add(&d, "a", SIZE_MAX), CPROF_ENOMEM);
	cprof_buf_free(&d);
}

static void test_u64map(void **state)
{
	(void)state;
	cprof_u64map m = { 0 };
	bool fresh;
	assert_null(cprof_u64map_find(&m, 5));
	for (uint64_t k = 0; k < 1000; k++) {
		uint64_t *v = cprof_u64map_slot(&m, k * 0x10001, k + 1, &fresh);
		assert_non_null(v);
		assert_true(fresh);
	}
	/* the empty-slot marker is a key like any other */
	uint64_t *e = cprof_u64map_slot(&m, UINT64_MAX, 77, &fresh);
	assert_true(fresh);
	assert_int_equal(*e, 77);
	*e = 78;
	assert_int_equal(*cprof_u64map_slot(&m, UINT64_MAX, 0, &fresh), 78);
	assert_false(fresh);
	assert_int_equal(m.n, 1001);
	for (uint64_t k = 0; k < 1000; k++) {
		uint64_t *v = cprof_u64map_find(&m, k * 0x10001);
		assert_non_null(v);
		assert_int_equal(*v, k + 1);
	}
	assert_null(cprof_u64map_find(&m, 3));
	assert_true(m.cap >= 2 * m.n - 2);
	cprof_u64map_free(&m);
	assert_null(cprof_u64map_find(&m, UINT64_MAX));
}

static char *json_of(const char *s, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	cprof_json_str(f, s, n);
	fclose(f);
	return out;
}

static void test_json_str(void **state)
{
	(void)state;
	const char *t = "a\"b\\c\n</script>&";
	char *j = json_of(t, strlen(t));
	assert_string_equal(j, "\"a\\\"b\\\\c\\u000a\\u003c/script\\u003e\\u0026\"");
	free(j);
	/* valid UTF-8 kept; U+2028 escaped; invalid bytes, overlong forms,
	 * surrogates and a cut sequence become U+FFFD */
	const char in[] = "\xce\xbc" "\xe2\x80\xa8" "\xff" "\xc0\xaf" "\xed\xa0\x80" "\xe2\x82";
	j = json_of(in, sizeof in - 1);
	assert_string_equal(j, "\"\xce\xbc\\u2028\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	free(j);
	/* a NUL inside is escaped, not an end */
	j = json_of("a\0b", 3);
	assert_string_equal(j, "\"a\\u0000b\"");
	free(j);
}

static void test_utf8_len(void **state)
{
	(void)state;
	uint32_t cp = 0;
	assert_int_equal(cprof_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(cprof_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 3, NULL), 0);
	assert_int_equal(cprof_utf8_len((const unsigned char *)"\xc2\x85", 2, &cp), 2);
	assert_int_equal(cp, 0x85);
	assert_int_equal(cprof_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4, NULL), 0);
	assert_int_equal(cprof_utf8_len((const unsigned char *)"a", 1, NULL), 0);
	assert_int_equal(cprof_utf8_len((const unsigned char *)"", 0, NULL), 0);
}

static void test_units(void **state)
{
	(void)state;
	assert_int_equal(cprof_unit_family("bytes", 5), CPROF_UNIT_MEMORY);
	assert_int_equal(cprof_unit_family("Nanoseconds", 11), CPROF_UNIT_TIME);
	assert_int_equal(cprof_unit_family("\xce\xbcs", 3), -1);   /* "μs" loses its s */
	assert_int_equal(cprof_unit_family("\xce\xbcss", 4), CPROF_UNIT_TIME);
	assert_int_equal(cprof_unit_family("gcu", 3), CPROF_UNIT_GCU);
	assert_int_equal(cprof_unit_family("count", 5), -1);
	assert_string_equal(cprof_unit_sniff("MB", 2, CPROF_UNIT_MEMORY)->name, "MB");
	assert_null(cprof_unit_sniff("MB", 2, CPROF_UNIT_TIME));
	assert_null(cprof_unit_sniff("MB", 2, 7));
	assert_true(cprof_unit_scale(3, "ms", 2, "nanoseconds", 11) == 3e6);
	assert_true(cprof_unit_scale(2048, "bytes", 5, "kilobyte", 8) == 2.0);
	assert_true(cprof_unit_scale(5e9, "ns", 2, "furlongs", 8) == 5.0);    /* default: s */
	assert_true(cprof_unit_scale(7, "count", 5, "ns", 2) == 7.0);
	size_t n = 0;
	const cprof_unit *t = cprof_unit_table(CPROF_UNIT_TIME, &n);
	assert_int_equal(n, 5);
	assert_string_equal(t[n - 1].name, "hrs");
	assert_string_equal(cprof_unit_default(CPROF_UNIT_MEMORY)->name, "B");
	assert_null(cprof_unit_table(-1, &n));
	assert_int_equal(n, 0);
}

static void test_regex(void **state)
{
	(void)state;
	cprof_error err = { 0 };
	const char *gs;
	size_t gn;
	cprof_regex *u = cprof_regex_new("^.$", 3, "test", "", &err);
	cprof_regex *b = cprof_regex_new_flags("^.$", 3, "test", "", CPROF_RX_BYTES, &err);
	assert_non_null(u);
	assert_non_null(b);
	assert_true(cprof_regex_match(u, "\xce\xbc", 2));     /* one code point */
	assert_false(cprof_regex_match(b, "\xce\xbc", 2));    /* two bytes */
	cprof_regex_free(u);
	cprof_regex_free(b);
	/* groups; bytes mode takes a file name that is not UTF-8 */
	b = cprof_regex_new_flags("^(a+)(x)? (\\S+)", 15, "test", "", CPROF_RX_BYTES, &err);
	assert_non_null(b);
	assert_true(cprof_regex_match(b, "aa /lib/\xff.so", 14));
	assert_true(cprof_regex_group(b, 1, "aa /lib/\xff.so", &gs, &gn));
	assert_int_equal(gn, 2);
	assert_false(cprof_regex_group(b, 2, "aa /lib/\xff.so", &gs, &gn));
	assert_int_equal(gn, 0);
	assert_true(cprof_regex_group(b, 3, "aa /lib/\xff.so", &gs, &gn));
	assert_int_equal(gn, 11);
	assert_false(cprof_regex_group(b, 9, "aa /lib/\xff.so", &gs, &gn));
	cprof_regex_free(b);
	/* a pathological expression hits the limit: false, and recorded */
	cprof_regex *p = cprof_regex_new("(.*a){25}", 9, "focus", "", &err);
	char subj[200];
	memset(subj, 'a', sizeof subj);
	subj[sizeof subj - 1] = 'b';
	assert_false(cprof_regex_match(p, subj, sizeof subj));
	assert_int_equal(cprof_regex_status(p, &err), CPROF_ELIMIT);
	assert_non_null(strstr(err.msg, "focus regexp `(.*a){25}`"));
	cprof_regex_free(p);
	/* Go's wording of a compile error */
	memset(&err, 0, sizeof err);
	assert_null(cprof_regex_compile("a(", "-focus", &err));
	assert_string_equal(err.msg, "-focus a(: error parsing regexp: missing closing ): `a(`");
}

static void test_path_base(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "", "." }, { "/", "/" }, { "///", "/" }, { "a", "a" }, { "/usr/lib/", "lib" },
		{ "x/y.c", "y.c" }, { "/a//b//", "b" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *b;
		size_t n;
		cprof_path_base(cases[i][0], strlen(cases[i][0]), &b, &n);
		assert_int_equal(n, strlen(cases[i][1]));
		assert_memory_equal(b, cases[i][1], n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_buf_ceiling),
		cmocka_unit_test(test_u64map),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_path_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
