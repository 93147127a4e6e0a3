/*
 * test_srv_selector.c - the server's label selectors (selector.c) and time
 * and duration parsing (timeparse.c): Prometheus' matching rules
 * (anchored regexps, a missing label is ""), Go string escapes, the one
 * line each bad input gets, and RFC 3339 / Unix / now-relative times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static srv_selector *parse_ok(const char *text)
{
	srv_selector *sel = NULL;
	cprof_error err = { 0 };
	int rc = srv_selector_parse(text, strlen(text), &sel, &err);
	if (rc)
		fail_msg("%s: %s", text, err.msg);
	return sel;
}

static const char *parse_bad(const char *text, char *msg, size_t n)
{
	srv_selector *sel = NULL;
	cprof_error err = { 0 };
	assert_int_equal(srv_selector_parse(text, strlen(text), &sel, &err), CPROF_EINVAL);
	assert_null(sel);
	assert_null(strchr(err.msg, '\n'));
	snprintf(msg, n, "%s", err.msg);
	return msg;
}

static bool match(const char *text, const char *const *kv, size_t n)
{
	srv_label l[8];
	for (size_t i = 0; i < n; i++)
		l[i] = (srv_label){ kv[2 * i], kv[2 * i + 1] };
	assert_int_equal(srv_labels_sort(l, n, NULL), 0);
	srv_labels ls = { l, n };
	srv_selector *sel = parse_ok(text);
	bool r = srv_selector_match(sel, &ls);
	srv_selector_free(sel);
	return r;
}

static void test_selector_match(void **state)
{
	(void)state;
	const char *api[] = { "job", "api", "instance", "10.0.0.1:8080" };
	assert_true(match("", api, 2));
	assert_true(match("{}", api, 2));
	assert_true(match(" { job = \"api\" , } ", api, 2));
	assert_true(match("{job=\"api\",instance=~\"10\\\\..*\"}", api, 2));
	assert_false(match("{job=\"api\",instance=~\"10\\\\.1.*\"}", api, 2));
	/* anchored at both ends, as Prometheus */
	assert_false(match("{job=~\"ap\"}", api, 2));
	assert_true(match("{job=~\"ap.\"}", api, 2));
	assert_true(match("{job!=\"db\"}", api, 2));
	assert_false(match("{job!~\"a.*\"}", api, 2));
	/* a missing label matches as "" */
	assert_true(match("{env=\"\"}", api, 2));
	assert_true(match("{env!=\"prod\"}", api, 2));
	assert_false(match("{env=~\".+\"}", api, 2));
	/* other quotes and escapes */
	assert_true(match("{job='api'}", api, 2));
	assert_true(match("{job=`api`}", api, 2));
	assert_true(match("{job=\"\\x61pi\"}", api, 2));
	assert_true(match("{job=\"\\u0061pi\"}", api, 2));
	assert_true(match("{job=\"\\141pi\"}", api, 2));
	const char *nl[] = { "msg", "a\nb" };
	assert_true(match("{msg=~\"a.b\"}", nl, 1));   /* dot-all */
	assert_true(match("{msg=\"a\\nb\"}", nl, 1));
}

static void test_selector_errors(void **state)
{
	(void)state;
	char m[CPROF_ERRMSG_MAX];
	assert_non_null(strstr(parse_bad("job=\"api\"", m, sizeof m), "expected '{'"));
	assert_non_null(strstr(parse_bad("{job}", m, sizeof m), "expected one of"));
	assert_non_null(strstr(parse_bad("{job=api}", m, sizeof m), "quoted value"));
	assert_non_null(strstr(parse_bad("{job=\"api}", m, sizeof m), "unterminated"));
	assert_non_null(strstr(parse_bad("{job=\"a\" x}", m, sizeof m), "expected ',' or '}'"));
	assert_non_null(strstr(parse_bad("{job=\"a\"} x", m, sizeof m), "after '}'"));
	assert_non_null(strstr(parse_bad("{job=~\"(\"}", m, sizeof m), "bad regexp"));
	assert_non_null(strstr(parse_bad("{job=\"\\q\"}", m, sizeof m), "escape"));
	assert_non_null(strstr(parse_bad("{job=\"\\x00\"}", m, sizeof m), "NUL"));
	assert_non_null(strstr(parse_bad("{1job=\"a\"}", m, sizeof m), "label name"));
	/* the offset is named */
	assert_non_null(strstr(parse_bad("{a=\"1\",b=\"2\",c}", m, sizeof m), "offset 14"));
	/* bounds */
	char big[SRV_SELECTOR_MAX + 10];
	memset(big, ' ', sizeof big);
	big[sizeof big - 1] = '\0';
	big[0] = '{';
	big[sizeof big - 2] = '}';
	assert_non_null(strstr(parse_bad(big, m, sizeof m), "at most"));
	char many[2000] = "{";
	for (int i = 0; i <= SRV_MATCHERS_MAX; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "l%d=\"v\",", i);
	strcat(many, "}");
	assert_non_null(strstr(parse_bad(many, m, sizeof m), "too many"));
}

/* A pattern that backtracks exponentially gives up: no match, no hang. */
static void test_selector_limits(void **state)
{
	(void)state;
	const char *kv[] = { "v", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" };
	assert_false(match("{v=~\"(a|aa)+(a|aa)+(a|aa)+c\"}", kv, 1));
}

static void test_labels(void **state)
{
	(void)state;
	srv_label l[] = { { "z", "1" }, { "a", "2" }, { "m", "3" } };
	assert_int_equal(srv_labels_sort(l, 3, NULL), 0);
	assert_string_equal(l[0].name, "a");
	srv_labels ls = { l, 3 };
	assert_string_equal(srv_labels_get(&ls, "m"), "3");
	assert_null(srv_labels_get(&ls, "b"));
	srv_label dup[] = { { "a", "1" }, { "a", "2" } };
	cprof_error err = { 0 };
	assert_int_equal(srv_labels_sort(dup, 2, &err), CPROF_EINVAL);
	assert_non_null(strstr(err.msg, "twice"));
	srv_label badn[] = { { "a-b", "1" } };
	assert_int_equal(srv_labels_sort(badn, 1, NULL), CPROF_EINVAL);
}

static int64_t T(const char *s, int64_t now)
{
	int64_t v = 0;
	cprof_error err = { 0 };
	if (srv_time_parse(s, strlen(s), now, &v, &err))
		fail_msg("%s: %s", s, err.msg);
	return v;
}

static void test_time(void **state)
{
	(void)state;
	const int64_t S = 1000000000;
	assert_true(T("1970-01-01T00:00:00Z", 0) == 0);
	assert_true(T("2026-12-07T01:02:03Z", 0) == INT64_C(1796605323) * S);
	assert_true(T("2026-12-07T02:02:03.5+01:00", 0) == INT64_C(1796605323) * S + S / 2);
	assert_true(T("2024-02-29t00:00:00z", 0) == INT64_C(1709164800) * S);
	assert_true(T("1796605323", 0) == INT64_C(1796605323) * S);
	assert_true(T("1796605323.25", 0) == INT64_C(1796605323) * S + S / 4);
	assert_true(T("1796605323000", 0) == INT64_C(1796605323) * S);    /* ms */
	assert_true(T("1796605323000000000", 0) == INT64_C(1796605323) * S);
	assert_true(T("now", 5 * S) == 5 * S);
	assert_true(T("now-1h", 7200 * S) == 3600 * S);
	assert_true(T("now-7d", 8 * 86400 * S) == 86400 * S);
	assert_true(T("now+90s", 0) == 90 * S);
	int64_t v;
	cprof_error err = { 0 };
	const char *bad[] = { "", "yesterday", "2026-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
			      "2026-12-07T01:02:03", "2026-12-07", "now-", "now-1x", "12ab",
			      "99999999999999999999", "1796605323000.5", "3000-01-01T00:00:00Z" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		if (srv_time_parse(bad[i], strlen(bad[i]), 0, &v, &err) != CPROF_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_null(strchr(err.msg, '\n'));
	}
}

static int64_t D(const char *s)
{
	int64_t v = 0;
	cprof_error err = { 0 };
	if (srv_duration_parse(s, strlen(s), &v, &err))
		fail_msg("%s: %s", s, err.msg);
	return v;
}

static void test_duration(void **state)
{
	(void)state;
	const int64_t S = 1000000000;
	assert_true(D("15s") == 15 * S);
	assert_true(D("1h30m") == 5400 * S);
	assert_true(D("7d") == 7 * 86400 * S);
	assert_true(D("1.5h") == 5400 * S);
	assert_true(D("250ms") == S / 4);
	assert_true(D("2w") == 14 * 86400 * S);
	assert_true(D("30") == 30 * S);
	assert_true(D("1m1ms") == 60 * S + 1000000);
	int64_t v;
	const char *bad[] = { "", "h", "1x", "1h-", "-1h", "1.h", "99999999999y", "1h 2m", "30 " };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (srv_duration_parse(bad[i], strlen(bad[i]), &v, NULL) != CPROF_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_kinds(void **state)
{
	(void)state;
	assert_int_equal(srv_kind_agg("cpu"), SRV_AGG_SUM);
	assert_int_equal(srv_kind_agg("allocs"), SRV_AGG_SUM);
	assert_int_equal(srv_kind_agg("heap"), SRV_AGG_AVG);
	assert_int_equal(srv_kind_agg("goroutine"), SRV_AGG_AVG);
	assert_string_equal(srv_agg_name(SRV_AGG_AVG), "average");
	assert_true(srv_kind_valid("wall"));
	assert_false(srv_kind_valid("Wall"));
	assert_false(srv_kind_valid(""));
	assert_false(srv_kind_valid("a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selector_match),
		cmocka_unit_test(test_selector_errors),
		cmocka_unit_test(test_selector_limits),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
