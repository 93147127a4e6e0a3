/*
 * test_srv_session.c - the web UI's login sessions (session.c): a new
 * session's value is random hex, accepted in a Cookie header among other
 * cookies until it expires and not after; forged, truncated and empty
 * values are refused; a full table makes room by dropping the session
 * closest to expiry; the token comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server_int.h"

#define S_NS 1000000000LL

static void cookie(char *out, size_t n, const char *v)
{
	snprintf(out, n, "theme=dark; " SRV_SESSION_COOKIE "=%s; x=1", v);
}

static void test_lifetime(void **state)
{
	char v[SRV_SESSION_BYTES * 2 + 1], w[sizeof v], c[256];
	int64_t now = 1000 * S_NS;
	assert_int_equal(srv_session_new(now, v), 0);
	assert_int_equal(srv_session_new(now, w), 0);
	assert_int_equal(strlen(v), SRV_SESSION_BYTES * 2);
	assert_true(strspn(v, "0123456789abcdef") == strlen(v));
	assert_string_not_equal(v, w);
	cookie(c, sizeof c, v);
	assert_true(srv_session_ok(c, now));
	assert_true(srv_session_ok(c, now + (int64_t)SRV_SESSION_TTL_S * S_NS - 1));
	assert_false(srv_session_ok(c, now + (int64_t)SRV_SESSION_TTL_S * S_NS));
	/* forged: one character changed, truncated, longer, empty, absent */
	char bad[sizeof v];
	memcpy(bad, v, sizeof v);
	bad[5] = bad[5] == 'a' ? 'b' : 'a';
	cookie(c, sizeof c, bad);
	assert_false(srv_session_ok(c, now));
	bad[0] = '\0';
	cookie(c, sizeof c, bad);
	assert_false(srv_session_ok(c, now));
	snprintf(c, sizeof c, SRV_SESSION_COOKIE "=%.63s", v);
	assert_false(srv_session_ok(c, now));
	snprintf(c, sizeof c, SRV_SESSION_COOKIE "=%s0", v);
	assert_false(srv_session_ok(c, now));
	snprintf(c, sizeof c, "x" SRV_SESSION_COOKIE "=%s", v);
	assert_false(srv_session_ok(c, now));
	assert_false(srv_session_ok(NULL, now));
	assert_false(srv_session_ok("", now));
}

static void test_full_table(void **state)
{
	char first[SRV_SESSION_BYTES * 2 + 1], v[sizeof first], c[256];
	int64_t now = 5000000 * S_NS;
	assert_int_equal(srv_session_new(now, first), 0);
	/* 300 more, each later: the first (closest to expiry) makes room */
	for (int i = 1; i <= 300; i++)
		assert_int_equal(srv_session_new(now + i, v), 0);
	cookie(c, sizeof c, first);
	assert_false(srv_session_ok(c, now + 301));
	cookie(c, sizeof c, v);
	assert_true(srv_session_ok(c, now + 301));
}

static void test_token_equal(void **state)
{
	assert_true(srv_token_equal("abc", 3, "abc", 3));
	assert_false(srv_token_equal("abc", 3, "abd", 3));
	assert_false(srv_token_equal("abc", 3, "ab", 2));
	assert_false(srv_token_equal("abc", 3, "abcd", 4));
	assert_false(srv_token_equal("abc", 3, "", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_token_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
