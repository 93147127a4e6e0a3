/*
 * fuzz_rtenv.c - libFuzzer target for the runtime's environment parser and
 * /proc text parsers (src/runtime/envparse.c and procparse.c, compiled in):
 * the pure functions every CPROF_* value and every /proc/self/{stat,status,
 * maps} and task/TID/stat text the runtime reads go through.
 *
 * Input: one selector byte, then the text.  The text goes to every value
 * parser as a NUL-terminated string (bytes after a NUL ignored) and to the
 * /proc parsers as a buffer of exactly its length (no NUL needed; an
 * out-of-bounds read is an ASan report).  Checks: a parser that accepts
 * returns a value in its range (a port 0..65535, a signal the runtime may
 * take, a size within the bounds asked), "-" is never a path, a pattern
 * that parses expands within the buffer or reports that it does not fit,
 * a stat field lies inside the text, a maps line has end >= start.
 * Seeds: fuzz/seeds/fuzz_rtenv (values from tests/e2e/test_runtime_env.py,
 * real /proc texts).
 */
#include "envparse.c"
#include "procparse.c"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_rtenv: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static void values(const char *s)
{
	const char *why = NULL;
	bool b;
	if (rt_parse_bool(s, &b, &why) != 0)
		CHECK(why && *why, "bool refused without a reason");
	long v;
	if (rt_parse_long(s, -7, 10000, &v, &why) == 0)
		CHECK(v >= -7 && v <= 10000, "long %ld out of range", v);
	unsigned long long u;
	if (rt_parse_size(s, 3, 1ULL << 40, &u, &why) == 0)
		CHECK(u >= 3 && u <= 1ULL << 40, "size %llu out of range", u);
	long long ns;
	if (rt_parse_ns(s, 0, 1000000000000LL, &ns, &why) == 0)
		CHECK(ns >= 0 && ns <= 1000000000000LL, "duration %lld out of range", ns);
	int sig;
	for (int rt = 0; rt < 2; rt++)
		if (rt_parse_signal(s, rt, &sig, &why) == 0) {
			CHECK(sig > 0 && sig < NSIG, "signal %d", sig);
			CHECK(sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL &&
			      sig != SIGKILL && sig != SIGSTOP && sig != SIGABRT && sig != SIGTRAP &&
			      sig != SIGSYS && sig != SIGPROF, "refused signal %d accepted", sig);
			CHECK(!rt || sig >= SIGRTMIN, "non real-time %d accepted", sig);
		}
	char nm[32];
	rt_signal_name((int)(strlen(s) % 70), nm, sizeof nm);
	if (rt_parse_listen(s, &why) == 0 && strncmp(s, "unix:", 5) != 0) {
		const char *colon = strrchr(s, ':');
		CHECK(colon && atol(colon + 1) <= 65535 && strlen(colon + 1) > 0, "port in %s", s);
	}
	long tp;
	unsigned long long th, td, ti;
	if (rt_parse_http_tree(s, &tp, &th, &td, &ti) == 0) {
		char again[96];
		long tp2;
		unsigned long long th2, td2, ti2;
		CHECK(tp > 0 && tp <= INT_MAX, "tree pid %ld", tp);
		snprintf(again, sizeof again, "%ld:%llx:%llu:%llu", tp, th, td, ti);
		CHECK(rt_parse_http_tree(again, &tp2, &th2, &td2, &ti2) == 0 && tp2 == tp &&
		      th2 == th && td2 == td && ti2 == ti, "tree %s does not read back", s);
	}
	if (rt_parse_path(s, &why) == 0)
		CHECK(strcmp(s, "-") != 0, "- accepted as a path");
	bool pp;
	if (rt_parse_pattern(s, &pp, &why) == 0) {
		char out[64];
		for (size_t n = 1; n <= sizeof out; n += 21) {
			memset(out, 'Z', sizeof out);
			if (rt_expand_pattern(s, 4242, "prog", "host", 1700000000, out, n) == 0)
				CHECK(memchr(out, 0, n) != NULL, "expansion not terminated in %zu", n);
			for (size_t i = n; i < sizeof out; i++)
				CHECK(out[i] == 'Z', "expansion wrote past %zu", n);
		}
		CHECK(pp == (strstr(s, "%p") != NULL) || strstr(s, "%%"), "per-process flag");
	}
}

static void proc(const uint8_t *d, size_t n)
{
	/* an exact-size heap copy: any read past n is an ASan report */
	char *t = malloc(n ? n : 1);
	if (!t)
		abort();
	memcpy(t, d, n);
	for (int k = 1; k < 60; k += (k < 25 ? 1 : 7)) {
		size_t l = 0;
		const char *f = rt_stat_field(t, n, k, &l);
		if (f)
			CHECK(f >= t && f + l <= t + n, "field %d outside the text", k);
		(void)rt_stat_num(t, n, k);
	}
	(void)rt_status_num(t, n, "Threads");
	(void)rt_status_num(t, n, "VmRSS");
	const char *p = t, *end = t + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		rt_maps_line m;
		if (rt_parse_maps_line(p, l, &m) == 0) {
			CHECK(m.end >= m.start, "maps end < start");
			CHECK(!m.path || (m.path >= p && m.path + m.plen <= p + l), "maps path outside");
		}
		p += l + (nl ? 1 : 0);
	}
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 65536)
		return 0;
	char *s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	if (data[0] & 1)
		values(s);
	else
		proc(data + 1, size - 1);
	free(s);
	return 0;
}
