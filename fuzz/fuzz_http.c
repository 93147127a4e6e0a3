/*
 * fuzz_http.c - libFuzzer target for the HTTP endpoint's request handling
 * (src/runtime/http_parse.c, compiled in): the pure functions the server
 * and cprof_http_handle run on every request before anything else.
 *
 * Input: "METHOD\nPATH?QUERY\nAUTHORIZATION\nBODY" (missing parts are
 * empty).  Each part goes through what a request meets: rt_http_parse
 * (routing, Go's parameter checks and messages), the query decoder for the
 * keys the endpoint reads, the bearer-token check against a fixed token,
 * and the symbol request parser on the query and on the body.  Checks: a
 * route is consistent (an error has a 4xx status and a message, a profile
 * kind is in range, seconds within the limit, debug 0..2), FormValue output
 * is NUL-terminated within its buffer, and the token check accepts exactly
 * "Bearer <token>".
 * Seeds: fuzz/seeds/fuzz_http (the requests of tests/e2e/test_http.py).
 */
#include "http_parse.c"
#include "rt_profile.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_http: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static void count_pc(void *ctx, uint64_t pc)
{
	CHECK(pc != 0, "a zero address was passed on");
	(*(size_t *)ctx)++;
}

/* the next '\n'-terminated part of data as a fresh NUL-terminated string */
static char *part(const uint8_t **d, size_t *n, size_t *len)
{
	const uint8_t *nl = memchr(*d, '\n', *n);
	size_t l = nl ? (size_t)(nl - *d) : *n;
	char *s = malloc(l + 1);
	if (!s)
		abort();
	memcpy(s, *d, l);
	s[l] = 0;
	*len = l;
	*d += nl ? l + 1 : l;
	*n -= nl ? l + 1 : l;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t l1, l2, l3, l4;
	char *method = part(&data, &size, &l1);
	char *target = part(&data, &size, &l2);
	char *auth = part(&data, &size, &l3);
	char *body = malloc(size + 1);
	if (!body)
		abort();
	memcpy(body, data, size);
	body[size] = 0;
	l4 = size;

	char *query = strchr(target, '?');
	if (query)
		*query++ = 0;
	for (int lim_i = 0; lim_i < 2; lim_i++) {
		rt_http_limits lim = { .max_seconds = lim_i ? 5 : 300, .no_cmdline = lim_i };
		rt_http_route r;
		rt_http_parse(method, target, query, &lim, &r);
		if (r.ep == RT_EP_ERROR) {
			CHECK(r.status >= 400 && r.status < 500 && r.msg && *r.msg, "bad error route");
			CHECK(!r.expensive, "an error is not expensive");
		}
		if (r.ep == RT_EP_KIND) {
			CHECK(r.kind >= 0 && r.kind < RT_KIND_N, "kind %d", r.kind);
			CHECK(r.name && *r.name, "no name");
			CHECK(r.seconds >= 0 && r.seconds <= lim.max_seconds, "seconds %ld", r.seconds);
			CHECK(r.seconds == 0 || r.debug == 0, "seconds with debug");
			CHECK(r.debug >= 0 && r.debug <= 2, "debug %d", r.debug);
		}
		if (r.ep == RT_EP_CPU)
			CHECK(r.seconds > 0 && r.seconds <= lim.max_seconds, "cpu seconds %ld", r.seconds);
		if (r.ep == RT_EP_CMDLINE)
			CHECK(!lim.no_cmdline, "cmdline served while off");
	}
	static const char *const keys[] = { "seconds", "debug", "gc", "", "s%65conds" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char out[8];
		memset(out, 'x', sizeof out);
		rt_http_query_value(query, keys[i], out, sizeof out);
		CHECK(memchr(out, 0, sizeof out), "FormValue not terminated");
		char big[512];
		rt_http_query_value(query, keys[i], big, sizeof big);
		CHECK(memchr(big, 0, sizeof big), "FormValue not terminated");
	}
	long long v;
	if (query)
		(void)rt_http_parse_int(query, &v);

	bool ok = rt_http_auth_ok(auth, "s3cret-token");
	bool exact = strncasecmp(auth, "bearer ", 7) == 0;
	if (exact) {
		const char *t = auth + 7;
		while (*t == ' ')
			t++;
		exact = strcmp(t, "s3cret-token") == 0;
	} else {
		const char *t = auth;
		while (*t == ' ')
			t++;
		exact = strncasecmp(t, "bearer ", 7) == 0 &&
			strcmp(t + 7 + strspn(t + 7, " "), "s3cret-token") == 0;
	}
	CHECK(ok == exact, "token check: %d for \"%s\"", ok, auth);
	CHECK(rt_http_auth_ok(auth, NULL) && rt_http_auth_ok(auth, ""), "no token: all pass");

	size_t n = 0;
	size_t found = rt_http_symbol_addrs(query, query ? strlen(query) : 0, count_pc, &n);
	CHECK(found == n, "symbol count");
	n = 0;
	found = rt_http_symbol_addrs(body, l4, count_pc, &n);
	CHECK(found == n, "symbol count (body)");
	(void)l1; (void)l2; (void)l3;
	free(method);
	free(target);
	free(auth);
	free(body);
	return 0;
}
