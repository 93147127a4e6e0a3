/*
 * test_http_parse.c - the HTTP endpoint's request parsing
 * (src/runtime/http_parse.c): routes, Go's net/http/pprof parameter rules
 * and messages, FormValue decoding, the bearer-token check and pprof's
 * symbol request parser; plus cprof_http_handle on this process (errors and
 * the cmdline, which need no profiler).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cprof.h"
#include "rt_profile.h"
#include "http_int.h"

static const rt_http_limits lim = { .max_seconds = 300 };

static rt_http_route route(const char *method, const char *path, const char *query)
{
	rt_http_route r;
	rt_http_parse(method, path, query, &lim, &r);
	return r;
}

static void test_routes(void **st)
{
	(void)st;
	rt_http_route r = route("GET", "/debug/pprof/", NULL);
	assert_int_equal(r.ep, RT_EP_INDEX);
	r = route("GET", "/debug/pprof", NULL);
	assert_int_equal(r.ep, RT_EP_REDIRECT);
	r = route("GET", "/metrics", NULL);
	assert_int_equal(r.ep, RT_EP_METRICS);
	assert_false(r.expensive);
	r = route("GET", "/debug/pprof/heap", "debug=1&gc=1");
	assert_int_equal(r.ep, RT_EP_KIND);
	assert_int_equal(r.kind, RT_KIND_HEAP);
	assert_int_equal(r.debug, 1);
	assert_int_equal(r.gc, 1);
	assert_true(r.expensive);
	r = route("GET", "/debug/pprof/threads", "debug=2");
	assert_int_equal(r.kind, RT_KIND_THREADS);
	assert_int_equal(r.debug, 2);
	r = route("GET", "/debug/pprof/goroutine", "debug=x");   /* Atoi fails: 0 */
	assert_int_equal(r.kind, RT_KIND_THREADS);
	assert_int_equal(r.debug, 0);
	r = route("GET", "/debug/pprof/mutex", "debug=2");        /* text, not per-thread */
	assert_int_equal(r.debug, 1);
	r = route("GET", "/debug/pprof/%68eap", NULL);            /* path is decoded */
	assert_int_equal(r.kind, RT_KIND_HEAP);
	r = route("POST", "/debug/pprof/symbol", NULL);
	assert_int_equal(r.ep, RT_EP_SYMBOL);
	r = route("GET", "/debug/pprof/cmdline", NULL);
	assert_int_equal(r.ep, RT_EP_CMDLINE);
	rt_http_limits off = { .max_seconds = 300, .no_cmdline = true };
	rt_http_parse("GET", "/debug/pprof/cmdline", NULL, &off, &r);
	assert_int_equal(r.ep, RT_EP_ERROR);
	assert_int_equal(r.status, 404);
}

static void expect_error(const char *method, const char *path, const char *query, int status,
			 const char *msg)
{
	rt_http_route r = route(method, path, query);
	assert_int_equal(r.ep, RT_EP_ERROR);
	assert_int_equal(r.status, status);
	assert_string_equal(r.msg, msg);
}

static void test_go_errors(void **st)
{
	(void)st;
	expect_error("GET", "/debug/pprof/nosuch", NULL, 404, "Unknown profile");
	assert_int_equal(route("GET", "/debug/pprof/trace", NULL).ep, RT_EP_TRACE);   /* Go's path */
	expect_error("GET", "/elsewhere", NULL, 404, "404 page not found");
	expect_error("GET", "/debug/pprof/%zz", NULL, 404, "404 page not found");
	expect_error("PUT", "/debug/pprof/heap", NULL, 405, "Method Not Allowed");
	const char *inval = "invalid value for \"seconds\" - must be a positive integer";
	expect_error("GET", "/debug/pprof/heap", "seconds=0", 400, inval);
	expect_error("GET", "/debug/pprof/heap", "seconds=1.5", 400, inval);
	expect_error("GET", "/debug/pprof/heap", "seconds=99999999999999999999", 400, inval);
	expect_error("GET", "/debug/pprof/deadlock", "seconds=1", 400,
		     "\"seconds\" parameter is not supported for this profile type");
	expect_error("GET", "/debug/pprof/block", "seconds=2&debug=1", 400,
		     "seconds and debug params are incompatible");
	expect_error("GET", "/debug/pprof/allocs", "seconds=301", 400,
		     "profile duration exceeds server's WriteTimeout");
	expect_error("GET", "/debug/pprof/profile", "seconds=301", 400,
		     "profile duration exceeds server's WriteTimeout");
}

static void test_seconds(void **st)
{
	(void)st;
	rt_http_route r = route("GET", "/debug/pprof/profile", NULL);
	assert_int_equal(r.ep, RT_EP_CPU);
	assert_int_equal(r.seconds, 30);                       /* Go's default */
	r = route("GET", "/debug/pprof/profile", "seconds=-5");  /* bad: the default */
	assert_int_equal(r.seconds, 30);
	r = route("GET", "/debug/pprof/profile", "seconds=%32");
	assert_int_equal(r.seconds, 2);
	r = route("GET", "/debug/pprof/threadcreate", "seconds=3");
	assert_int_equal(r.ep, RT_EP_KIND);
	assert_int_equal(r.seconds, 3);
	r = route("GET", "/debug/pprof/heap", "seconds=");      /* empty: no delta */
	assert_int_equal(r.ep, RT_EP_KIND);
	assert_int_equal(r.seconds, 0);
}

static void test_form_value(void **st)
{
	(void)st;
	char v[16];
	assert_true(rt_http_query_value("a=1&seconds=5&seconds=7", "seconds", v, sizeof v));
	assert_string_equal(v, "5");                           /* the first */
	assert_true(rt_http_query_value("x=a+b%21", "x", v, sizeof v));
	assert_string_equal(v, "a b!");
	assert_false(rt_http_query_value("x=%zz", "x", v, sizeof v));   /* bad escape: dropped */
	assert_false(rt_http_query_value("x=1;y=2", "x", v, sizeof v)); /* Go 1.17: ';' rejected */
	assert_true(rt_http_query_value("flag", "flag", v, sizeof v));
	assert_string_equal(v, "");
	assert_true(rt_http_query_value("x=0123456789abcdefghij", "x", v, sizeof v));
	assert_int_equal(strlen(v), sizeof v - 1);             /* truncated, terminated */
	assert_false(rt_http_query_value(NULL, "x", v, sizeof v));
	long long n;
	assert_true(rt_http_parse_int("-9223372036854775808", &n));
	assert_false(rt_http_parse_int("9223372036854775808", &n));
	assert_false(rt_http_parse_int("+", &n));
	assert_false(rt_http_parse_int(" 1", &n));
}

static void test_token(void **st)
{
	(void)st;
	assert_true(rt_http_auth_ok(NULL, NULL));
	assert_true(rt_http_auth_ok("anything", ""));
	assert_true(rt_http_auth_ok("Bearer s3cret", "s3cret"));
	assert_true(rt_http_auth_ok("bearer  s3cret", "s3cret"));
	assert_false(rt_http_auth_ok(NULL, "s3cret"));
	assert_false(rt_http_auth_ok("Bearer s3cre", "s3cret"));
	assert_false(rt_http_auth_ok("Bearer s3cret!", "s3cret"));
	assert_false(rt_http_auth_ok("Basic s3cret", "s3cret"));
	assert_false(rt_http_auth_ok("s3cret", "s3cret"));
}

static uint64_t got[8];
static size_t ngot;
static void collect(void *ctx, uint64_t pc)
{
	(void)ctx;
	if (ngot < 8)
		got[ngot++] = pc;
}

static void test_symbol_addrs(void **st)
{
	(void)st;
	const char *q = "0x401000+0+junk+0X10+0o17+077+12+0x+0xffffffffffffffffff";
	ngot = 0;
	size_t n = rt_http_symbol_addrs(q, strlen(q), collect, NULL);
	assert_int_equal(n, 5);
	assert_int_equal(got[0], 0x401000);
	assert_int_equal(got[1], 0x10);
	assert_int_equal(got[2], 017);
	assert_int_equal(got[3], 077);
	assert_int_equal(got[4], 12);
	ngot = 0;
	assert_int_equal(rt_http_symbol_addrs("", 0, collect, NULL), 0);
}

struct sink { char buf[256]; size_t n; };
static int to_sink(void *ctx, const void *b, size_t len)
{
	struct sink *s = ctx;
	size_t k = len < sizeof s->buf - 1 - s->n ? len : sizeof s->buf - 1 - s->n;
	memcpy(s->buf + s->n, b, k);
	s->n += k;
	s->buf[s->n] = 0;
	return 0;
}

static void test_handle(void **st)
{
	(void)st;
	struct sink s = { .n = 0 };
	int status = 0;
	const char *ct = NULL;
	assert_int_equal(cprof_http_handle("/debug/pprof/nosuch", NULL, &status, &ct, to_sink, &s), 0);
	assert_int_equal(status, 404);
	assert_string_equal(ct, "text/plain; charset=utf-8");
	assert_string_equal(s.buf, "Unknown profile\n");
	s.n = 0;
	assert_int_equal(cprof_http_handle("/debug/pprof/cmdline", "", &status, &ct, to_sink, &s), 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(s.buf, "test_http_parse"));
	s.n = 0;
	assert_int_equal(cprof_http_handle("/debug/pprof/heap", "seconds=1&debug=1", &status, &ct,
					   to_sink, &s), 0);
	assert_int_equal(status, 400);
	assert_int_equal(cprof_http_handle(NULL, NULL, &status, &ct, to_sink, &s), CPROF_ERR_INVAL);
	assert_int_equal(cprof_http_port(), CPROF_ERR_NOT_RUNNING);
	assert_int_equal(cprof_http_stop(), CPROF_ERR_NOT_RUNNING);
	cprof_http_options o = { .listen = "0.0.0.0:0" };
	assert_int_equal(cprof_http_start(&o), CPROF_ERR_INVAL);
	assert_non_null(strstr(cprof_last_error(), "not a loopback address"));
	o.listen = "nonsense";
	assert_int_equal(cprof_http_start(&o), CPROF_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_go_errors),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_form_value),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_symbol_addrs),
		cmocka_unit_test(test_handle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
