/*
 * test_hostcheck.c - the Host-header check shared by the endpoint and the
 * web UI (src/core/hostcheck.c): IP literals, localhost and the server's
 * names pass, with the served port or none; every other name, a wrong or
 * malformed port, and broken brackets are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cprof_host.h"

static void test_allowed(void **st)
{
	(void)st;
	const char *names[] = { "build-host", "build-host.example.org." };
	const char *ok[] = { NULL, "127.0.0.1", "127.0.0.1:8080", "10.1.2.3:8080", "[::1]:8080",
			     "[::1]", "localhost", "LocalHost:8080", "localhost.:8080",
			     "build-host:8080", "BUILD-HOST.example.org", "build-host.example.org.:8080" };
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		assert_true(cprof_host_allowed(ok[i], names, 2, 8080));
}

static void test_refused(void **st)
{
	(void)st;
	const char *names[] = { "build-host" };
	const char *bad[] = { "", ":8080", "evil.example", "evil.example:8080", "localhost:8081",
			      "localhost:", "localhost:80a", "localhost:008080x", "127.0.0.1:1",
			      "localhost.evil.example", "evil.localhost.example", "build-host.evil",
			      "[::1", "[::1]x", "[::1]:1", "[evil.example]:8080", "127.1:8080",
			      "localhost:123456", "build-hostx" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (cprof_host_allowed(bad[i], names, 1, 8080))
			fail_msg("accepted \"%s\"", bad[i]);
	}
	char longname[400];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	assert_false(cprof_host_allowed(longname, NULL, 0, 8080));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
