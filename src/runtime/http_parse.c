/*
 * http_parse.c - the HTTP endpoint's request parsing, as pure functions:
 * a method, a raw path and a raw query become a route (which endpoint,
 * which profile, debug, seconds) or an error with the status and message
 * Go's net/http/pprof gives; plus the query decoder (Go's FormValue), the
 * constant-time bearer-token check and pprof's symbol request parser.
 *
 * Nothing here touches the runtime's state, allocates or blocks, so the
 * fuzz target (fuzz/fuzz_http.c) links this file alone and the server
 * (http_server.c) and cprof_http_handle (http.c) share it.
 *
 * Go's order of checks for a named profile (net/http/pprof handler.ServeHTTP
 * and serveDeltaProfile): unknown name 404 "Unknown profile"; with a
 * non-empty seconds=: not a positive integer 400, a profile without deltas
 * 400, longer than the server allows 400 (Go: its WriteTimeout), debug != 0
 * 400 "seconds and debug params are incompatible".  The CPU profile takes
 * any bad or missing seconds as 30.
 */
#include "http_int.h"
#include "rt_profile.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int kind;
	bool delta;
} names[] = {
	{ "allocs", RT_KIND_ALLOCS, true },
	{ "block", RT_KIND_BLOCK, true },
	{ "deadlock", RT_KIND_DEADLOCK, false },
	{ "goroutine", RT_KIND_THREADS, true },
	{ "heap", RT_KIND_HEAP, true },
	{ "mutex", RT_KIND_MUTEX, true },
	{ "threadcreate", RT_KIND_THREADCREATE, true },
	{ "threads", RT_KIND_THREADS, true },
};

/* Unescape s[0..n) into out (at most outsz-1 bytes, NUL-terminated);
 * plus: '+' is a space (query).  false on a bad %-escape (as Go) or a
 * decoded NUL byte (s itself holds none: it is part of a C string). */
static bool unescape(const char *s, size_t n, bool plus, char *out, size_t outsz)
{
	size_t len = cprof_url_unescape(s, n, plus, out, outsz ? outsz - 1 : 0);
	if (len == SIZE_MAX || memmem(s, n, "%00", 3))
		return false;
	if (outsz)
		out[len < outsz - 1 ? len : outsz - 1] = 0;
	return true;
}

bool rt_http_query_value(const char *query, const char *key, char *out, size_t outsz)
{
	if (outsz)
		out[0] = 0;
	if (!query)
		return false;
	size_t klen = strlen(key);
	const char *p = query;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t plen = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t kl = eq ? (size_t)(eq - p) : plen;
		char kbuf[64];
		/* Go (1.17+) rejects a pair with a ';' in it */
		if (kl < sizeof kbuf && !memchr(p, ';', plen) &&
		    unescape(p, kl, true, kbuf, sizeof kbuf) && strlen(kbuf) == klen &&
		    memcmp(kbuf, key, klen) == 0) {
			const char *v = eq ? eq + 1 : p + plen;
			size_t vl = eq ? plen - kl - 1 : 0;
			char tmp[2];
			if (unescape(v, vl, true, outsz ? out : tmp, outsz ? outsz : sizeof tmp))
				return true;
			if (outsz)
				out[0] = 0;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	return false;
}

bool rt_http_parse_int(const char *s, long long *v)
{
	const char *p = s;
	bool neg = false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	unsigned long long acc = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (acc > (lim - d) / 10)
			return false;
		acc = acc * 10 + d;
	}
	*v = neg ? (long long)(0 - acc) : (long long)acc;
	return true;
}

/* Go's strconv.Atoi: 0 when not a number */
static long long atoi_go(const char *query, const char *key)
{
	char b[32];
	long long v = 0;
	if (!rt_http_query_value(query, key, b, sizeof b) || !rt_http_parse_int(b, &v))
		return 0;
	return v;
}

static void err(rt_http_route *r, int status, const char *msg)
{
	r->ep = RT_EP_ERROR;
	r->status = status;
	r->msg = msg;
	r->expensive = false;
}

void rt_http_parse(const char *method, const char *path, const char *query,
		   const rt_http_limits *lim, rt_http_route *r)
{
	memset(r, 0, sizeof *r);
	r->kind = -1;
	long max = lim && lim->max_seconds > 0 ? lim->max_seconds : 300;
	if (!path || !method) {
		err(r, 400, "Bad Request");
		return;
	}
	char p[256];
	size_t plen = strlen(path);
	if (plen >= sizeof p || !unescape(path, plen, false, p, sizeof p)) {
		err(r, 404, "404 page not found");
		return;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST")) {
		err(r, 405, "Method Not Allowed");
		return;
	}
	if (strcmp(p, "/metrics") == 0) {
		r->ep = RT_EP_METRICS;
		return;
	}
	if (strcmp(p, "/debug/pprof") == 0) {
		r->ep = RT_EP_REDIRECT;
		r->status = 301;
		return;
	}
	static const char pre[] = "/debug/pprof/";
	if (strncmp(p, pre, sizeof pre - 1) != 0) {
		err(r, 404, "404 page not found");
		return;
	}
	const char *name = p + sizeof pre - 1;
	char v[32];
	if (!*name) {
		r->ep = RT_EP_INDEX;
		r->expensive = true;
		return;
	}
	if (strcmp(name, "cmdline") == 0) {
		if (lim && lim->no_cmdline) {
			err(r, 404, "Unknown profile");
			return;
		}
		r->ep = RT_EP_CMDLINE;
		return;
	}
	if (strcmp(name, "symbol") == 0) {
		r->ep = RT_EP_SYMBOL;
		r->expensive = true;
		return;
	}
	if (strcmp(name, "profile") == 0) {
		long long sec = 0;
		if (!rt_http_query_value(query, "seconds", v, sizeof v) ||
		    !rt_http_parse_int(v, &sec) || sec <= 0)
			sec = 30;
		if (sec > max) {
			err(r, 400, "profile duration exceeds server's WriteTimeout");
			return;
		}
		r->ep = RT_EP_CPU;
		r->name = "profile";
		r->seconds = (long)sec;
		r->expensive = true;
		return;
	}
	if (strcmp(name, "trace") == 0) {
		/* Go's: seconds is a float, anything unparsable or <= 0 is 1 */
		long long sec = 0;
		if (!rt_http_query_value(query, "seconds", v, sizeof v) ||
		    !rt_http_parse_int(v, &sec) || sec <= 0)
			sec = 1;
		if (sec > max) {
			err(r, 400, "profile duration exceeds server's WriteTimeout");
			return;
		}
		r->flight = atoi_go(query, "flight") > 0;
		r->tswitch = atoi_go(query, "switch") > 0;
		r->ep = RT_EP_TRACE;
		r->name = "trace";
		r->seconds = (long)sec;
		r->expensive = true;
		return;
	}
	size_t i;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i].name) == 0)
			break;
	if (i == sizeof names / sizeof names[0]) {
		err(r, 404, "Unknown profile");
		return;
	}
	r->ep = RT_EP_KIND;
	r->kind = names[i].kind;
	r->name = names[i].name;
	r->expensive = true;
	if (rt_http_query_value(query, "seconds", v, sizeof v) && v[0]) {
		long long sec = 0;
		if (!rt_http_parse_int(v, &sec) || sec <= 0) {
			err(r, 400, "invalid value for \"seconds\" - must be a positive integer");
			return;
		}
		if (!names[i].delta) {
			err(r, 400, "\"seconds\" parameter is not supported for this profile type");
			return;
		}
		if (sec > max) {
			err(r, 400, "profile duration exceeds server's WriteTimeout");
			return;
		}
		if (atoi_go(query, "debug") != 0) {
			err(r, 400, "seconds and debug params are incompatible");
			return;
		}
		r->seconds = (long)sec;
		return;
	}
	long long gc = atoi_go(query, "gc");
	r->gc = gc > 0;
	long long d = atoi_go(query, "debug");
	/* any nonzero debug is text, as Go; 2 is the per-thread dump of threads */
	r->debug = d == 0 ? 0 : (d >= 2 && r->kind == RT_KIND_THREADS) ? 2 : 1;
	r->runtime = r->kind == RT_KIND_THREADS && atoi_go(query, "runtime") > 0;
}

bool rt_http_auth_ok(const char *header, const char *token)
{
	if (!token || !*token)
		return true;
	if (!header)
		header = "";
	while (*header == ' ')
		header++;
	const char *got = "";
	if (strncasecmp(header, "bearer ", 7) == 0) {
		got = header + 7;
		while (*got == ' ')
			got++;
	}
	size_t tl = strlen(token), gl = strnlen(got, tl + 1);
	/* every byte of the token is compared whatever the input: the time
	 * depends on the configured token's length only */
	volatile unsigned char diff = (unsigned char)(gl != tl);
	for (size_t i = 0; i < tl; i++) {
		unsigned char g = i < gl ? (unsigned char)got[i] : 0;
		diff |= (unsigned char)(g ^ (unsigned char)token[i]);
	}
	return diff == 0;
}

/* Go's strconv.ParseUint(word, 0, 64) */
static bool parse_uint0(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10;
	size_t i = 0;
	if (n >= 2 && s[0] == '0') {
		int c = tolower((unsigned char)s[1]);
		if (c == 'x')
			base = 16, i = 2;
		else if (c == 'o')
			base = 8, i = 2;
		else if (c == 'b')
			base = 2, i = 2;
		else
			base = 8, i = 1;
	}
	if (i >= n && !(base == 8 && i == 1))
		return false;
	uint64_t acc = 0;
	bool any = i == 1, prev_us = false;
	for (; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '_' && base != 10 && !prev_us) {   /* Go allows '_' with a prefix */
			prev_us = true;
			continue;
		}
		int d = cprof_hexval(c);
		if (d < 0 || (unsigned)d >= base)
			return false;
		if (acc > (UINT64_MAX - (unsigned)d) / base)
			return false;
		acc = acc * base + (unsigned)d;
		any = true;
		prev_us = false;
	}
	if (!any || prev_us)
		return false;
	*out = acc;
	return true;
}

size_t rt_http_symbol_addrs(const char *s, size_t n, void (*fn)(void *ctx, uint64_t pc),
			    void *ctx)
{
	size_t found = 0, i = 0;
	if (!s)
		return 0;
	while (i <= n) {
		const char *plus = memchr(s + i, '+', n - i);
		size_t e = plus ? (size_t)(plus - s) : n;
		uint64_t pc;
		if (parse_uint0(s + i, e - i, &pc) && pc != 0) {
			fn(ctx, pc);
			found++;
		}
		if (!plus)
			break;
		i = e + 1;
	}
	return found;
}
