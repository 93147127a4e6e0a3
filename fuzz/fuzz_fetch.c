/*
 * fuzz_fetch.c - libFuzzer target for the URL sources' parsers (fetch.c,
 * compiled in; no network): the input's first byte picks what runs, the rest
 * is the text.
 *
 *   0  a source string: cli_is_url, pprof's adjustURL with the seconds and
 *      timeout taken from the next two bytes, and the /symbol URL
 *   1  a /symbol answer ("0xADDR name" lines) applied by the core's
 *      cprof_apply_symbols to a profile of one mapping with unsymbolized
 *      locations at the addresses the next bytes give
 *
 * Properties checked (abort on violation): an adjusted URL is a URL again
 * (cli_is_url) and keeps a "seconds" parameter when one was asked for; a
 * symbol answer either fails with CPROF_EFORMAT/ENOMEM or leaves a profile
 * that passes cprof_profile_check with every location given at most one
 * line, and cprof_symbol_request then asks for exactly the locations left
 * without a line.  cli_die (out of memory only) aborts.
 * Seeds: fuzz/seeds/fuzz_fetch.
 */
#include "../src/cli/fetch.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_fetch: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

void cli_die(const char *fmt, ...)
{
	fprintf(stderr, "fuzz_fetch: cli_die: %s\n", fmt);
	abort();
}

void cli_warn(const char *fmt, ...)
{
}

static void urls(const uint8_t *data, size_t size)
{
	int seconds = size > 0 ? (int)data[0] - 1 : -1, timeout = size > 1 ? (int)data[1] - 1 : -1;
	data += size > 2 ? 2 : size;
	size -= size > 2 ? 2 : size;
	char *src = strndup((const char *)data, size);
	if (!src)
		return;
	bool is = cli_is_url(src);
	int dur = 0, tmo = 0;
	char *adj = cli_adjust_url(src, seconds, timeout, &dur, &tmo);
	CHECK(!adj == !is, "cli_is_url %d but adjust_url %s", is, adj ? adj : "NULL");
	if (adj) {
		CHECK(cli_is_url(adj), "adjusted URL is not a URL: %s", adj);
		if (seconds > 0)
			CHECK(strstr(adj, "seconds="), "adjusted URL lost seconds: %s", adj);
		char *again = cli_adjust_url(adj, seconds, timeout, &dur, &tmo);
		CHECK(again, "adjusted URL does not adjust again: %s", adj);
		free(again);
	}
	char *sym = cli_symbol_url(src);
	CHECK(!sym == !is, "cli_is_url %d but symbol_url %s", is, sym ? sym : "NULL");
	free(sym);
	free(adj);
	free(src);
}

static void symbols(const uint8_t *data, size_t size)
{
	cprof_profile *p = cprof_profile_new();
	CHECK(p, "out of memory");
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x100000,
			    .file = cprof_intern_cstr(p, "/bin/prog") };
	CHECK(cprof_add_mapping(p, &m) >= 0, "mapping");
	CHECK(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) >= 0,
	      "vtype");
	/* up to 8 locations at addresses from the input's first bytes */
	size_t nl = size > 0 ? data[0] % 9 : 0;
	data++, size = size ? size - 1 : 0;
	for (size_t i = 0; i < nl; i++) {
		uint64_t a = 0x1000 + (i < size ? data[i] : i) * 0x10;
		cprof_location l = { .id = i + 1, .address = a, .mapping = 0 };
		CHECK(cprof_add_location(p, &l, NULL, 0) >= 0, "location");
	}
	int rc = cprof_apply_symbols(p, 0, (const char *)data, size, NULL);
	CHECK(rc == 0 || rc == CPROF_EFORMAT || rc == CPROF_ENOMEM, "apply_symbols: %d", rc);
	if (rc == 0) {
		cprof_error err = { 0 };
		CHECK(cprof_profile_check(p, &err) == 0, "profile check: %s", err.msg);
		for (size_t i = 0; i < p->locations.n; i++)
			CHECK(p->locations.v[i].nline <= 1, "location %zu has %u lines", i,
			      p->locations.v[i].nline);
		/* what is left unanswered is what a next request asks for */
		char *body = NULL;
		size_t blen = 0, left = 0;
		CHECK(cprof_symbol_request(p, 0, &body, &blen, NULL) == 0, "symbol_request");
		for (size_t i = 0; i < p->locations.n; i++)
			left += p->locations.v[i].nline == 0 && p->locations.v[i].address != 0;
		size_t plus = 0;
		for (size_t i = 0; i < blen; i++)
			plus += body[i] == '+';
		CHECK(left ? blen && plus + 1 == left : blen == 0, "request of %zu addresses: %s",
		      left, body ? body : "");
		free(body);
	}
	cprof_profile_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		symbols(data + 1, size - 1);
	else
		urls(data + 1, size - 1);
	return 0;
}
