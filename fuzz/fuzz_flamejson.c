/*
 * fuzz_flamejson.c - libFuzzer target for the web UI's flame graph data
 * (src/report/flamejson.c): the input's first byte picks options
 * (fuzz_run.h, and the prune fraction and whether to zoom: 0x04, 0x80),
 * the rest is any profile cprof_decode accepts.  Each run builds the flame
 * tree from a copy, writes it as JSON (zoomed to the first frames of the
 * first sample's stack, when chosen), the sandwich of the first function
 * (callers and callees), and the diff against a second tree of the same
 * profile.
 *
 * Properties checked (abort on violation): building succeeds or fails with
 * a negative code and a message; every JSON document is well formed
 * (balanced objects and arrays outside strings, strings closed, no raw
 * control bytes in strings); the sanitizers catch the rest.
 * Seeds: fuzz/seeds/fuzz_flamejson.
 */
#include "fuzz_run.h"
#include "cprof_webdata.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) FUZZ_CHECK("fuzz_flamejson", cond, __VA_ARGS__)

/* A structural check of a JSON text: brackets balance outside strings,
 * strings end, and hold no raw control bytes. */
static void check_json(const char *s, size_t n)
{
	char stack[256];
	size_t depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				CHECK((unsigned char)s[i] >= 0x20, "raw control byte in a JSON string");
				if (s[i] == '\\')
					i++;
			}
			CHECK(i < n, "unterminated JSON string");
		} else if (c == '{' || c == '[') {
			CHECK(depth < sizeof stack, "JSON nests too deep");
			stack[depth++] = c == '{' ? '}' : ']';
		} else if (c == '}' || c == ']') {
			CHECK(depth && stack[depth - 1] == c, "unbalanced JSON");
			depth--;
		}
	}
	CHECK(depth == 0, "JSON does not close");
}

static void write_checked(const cprof_flame *f, const cprof_flame *base, const char *const *zoom,
			  size_t nzoom, double minfrac, const char *fname, int kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	CHECK(out, "open_memstream");
	int rc;
	if (kind == 0)
		rc = cprof_flame_write(f, zoom, nzoom, minfrac, out);
	else if (kind == 1 || kind == 2)
		rc = cprof_flame_write_sandwich(f, fname, kind == 1, minfrac, out);
	else
		rc = cprof_flame_write_diff(f, base, zoom, nzoom, minfrac, out);
	fclose(out);
	CHECK(rc == 0 || rc == CPROF_ENOMEM, "flame write %d: %d", kind, rc);
	if (rc == 0)
		check_json(buf, len);
	free(buf);
}

static cprof_flame *build(const cprof_profile *p, const cprof_ropts *o)
{
	cprof_profile *q = cprof_profile_dup(p);
	if (!q)
		return NULL;
	FILE *warn = fopen("/dev/null", "w");
	CHECK(warn, "/dev/null");
	cprof_flame *f = NULL;
	cprof_error err = { 0 };
	int rc = cprof_flame_build(q, o, warn, &f, &err);
	fclose(warn);
	cprof_profile_free(q);
	CHECK(rc == 0 || (rc < 0 && err.code == rc && err.msg[0]), "build failed without a message");
	return rc == 0 ? f : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cprof_ropts o;
	uint8_t sel;
	cprof_profile *p = fuzz_profile_opts(data, size, &o, &sel);
	if (!p)
		return 0;
	double minfrac = (sel & 0x04) ? 0 : (sel & 0x40) ? 0.5 : 0.005;
	/* zoom: the function names of the first sample's stack, root first */
	const char *zoom[8];
	size_t nzoom = 0;
	const char *fname = p->functions.n ? cprof_s(p, p->functions.v[0].name) : "main";
	if ((sel & 0x80) && p->samples.n) {
		uint32_t st = p->samples.v[0].stack;
		if (st + 1 < p->stack_off.n) {
			for (uint32_t k = p->stack_off.v[st + 1]; k-- > p->stack_off.v[st] && nzoom < 8;) {
				const cprof_location *l = &p->locations.v[p->stack_locs.v[k]];
				if (l->nline && p->lines.v[l->line_off].function < p->functions.n)
					zoom[nzoom++] = cprof_s(p, p->functions.v[p->lines.v[l->line_off].function].name);
			}
		}
	}
	cprof_flame *f = build(p, &o), *b = f ? build(p, &o) : NULL;
	if (f) {
		for (int kind = 0; kind < 4; kind++)
			if (kind < 3 || b)
				write_checked(f, b, zoom, nzoom, minfrac, fname, kind);
	}
	cprof_flame_free(f);
	cprof_flame_free(b);
	cprof_profile_free(p);
	return 0;
}
