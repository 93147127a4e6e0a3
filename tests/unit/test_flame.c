/*
 * test_flame.c - the stack reports of flame.c and proto_out.c: -folded,
 * -flamegraph (HTML), -flamesvg and -proto.
 *
 * Profiles come from folded text (the core's decoder) or from the builder
 * when a case needs inline frames or odd names.  Each test runs one report
 * into memory and checks its exact text (-folded), the numbers embedded in
 * the page (-flamegraph: the root's cum is the total, pruned boxes merge
 * into "(other)" with nothing lost), the geometry of the SVG, or the
 * profile decoded back from -proto.
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
#include "cprof_report.h"

static cprof_profile *folded(const char *text)
{
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	int rc = cprof_folded_decode(text, strlen(text), &p, &err);
	if (rc < 0)
		fail_msg("folded_decode: %s", err.msg);
	return p;
}

/* Run a report; returns malloc'd output (len in *n if n) or NULL with err. */
static char *run(cprof_profile *p, cprof_ropts *o, size_t *n, int *rcp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	FILE *warn = fopen("/dev/null", "w");
	assert_non_null(out);
	assert_non_null(warn);
	cprof_error err = { 0 };
	int rc = cprof_report(p, o, out, warn, &err);
	fclose(out);
	fclose(warn);
	if (rcp)
		*rcp = rc;
	else if (rc < 0)
		fail_msg("report: %s", err.msg);
	if (n)
		*n = len;
	return buf;
}

static char *report(const char *text, int format, const char *focus)
{
	cprof_profile *p = folded(text);
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = format;
	o.focus = focus;
	char *s = run(p, &o, NULL, NULL);
	cprof_profile_free(p);
	return s;
}

static void test_folded_merges_and_sorts(void **state)
{
	char *s = report("main;b;c 2\nmain;a 1\nmain;b;c 3\nmain 4\nmain;b 0\nz 1\n",
			 CPROF_FMT_FOLDED, NULL);
	assert_string_equal(s, "main 4\nmain;a 1\nmain;b;c 5\nz 1\n");
	free(s);
	/* focus keeps whole stacks through a matching frame */
	s = report("main;b;c 2\nmain;a 1\nmain;b;d 3\n", CPROF_FMT_FOLDED, "^b$");
	assert_string_equal(s, "main;b;c 2\nmain;b;d 3\n");
	free(s);
	/* no samples: no lines */
	s = report("main 0\n", CPROF_FMT_FOLDED, NULL);
	assert_string_equal(s, "");
	free(s);
}

/* A location with two lines (an inlined call) gives two frames; ';' and
 * line breaks in names are replaced so the line splits into the same
 * frames again. */
static void test_folded_inline_and_escapes(void **state)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) >= 0);
	const char *names[] = { "main", "outer", "inl;ined", "leaf\nfn" };
	for (int i = 0; i < 4; i++) {
		cprof_function f = { .id = (uint64_t)i + 1 };
		f.name = f.system_name = cprof_intern_cstr(p, names[i]);
		assert_true(cprof_add_function(p, &f) >= 0);
	}
	cprof_line l0[] = { { .function = 0, .line = 1 } };
	cprof_line l1[] = { { .function = 2, .line = 5 }, { .function = 1, .line = 9 } };
	cprof_line l2[] = { { .function = 3, .line = 2 } };
	cprof_location loc = { .id = 1, .address = 0x10, .mapping = CPROF_NONE };
	assert_true(cprof_add_location(p, &loc, l0, 1) == 0);
	loc.id = 2;
	assert_true(cprof_add_location(p, &loc, l1, 2) == 1);
	loc.id = 3;
	assert_true(cprof_add_location(p, &loc, l2, 1) == 2);
	uint32_t st[] = { 2, 1, 0 };
	int64_t st_i = cprof_intern_stack(p, st, 3), st2 = cprof_intern_stack(p, st + 1, 2);
	assert_true(st_i >= 0 && st2 >= 0);
	int64_t v7 = 7, v3 = 3, v5 = 5;
	assert_true(cprof_add_sample(p, (uint32_t)st_i, 0, &v7) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st2, 0, &v3) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st_i, 0, &v5) >= 0);
	cprof_profile *q = cprof_profile_dup(p);
	assert_non_null(q);

	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_FOLDED;
	char *s = run(p, &o, NULL, NULL);
	assert_string_equal(s, "main;outer;inl:ined 3\nmain;outer;inl:ined;leaf fn 12\n");
	free(s);

	/* -noinlines: the inlined function disappears; -divide_by halves */
	o.noinlines = true;
	o.divide_by = 2;
	s = run(q, &o, NULL, NULL);
	assert_string_equal(s, "main;outer 1\nmain;outer;leaf fn 6\n");
	free(s);
	cprof_profile_free(p);
	cprof_profile_free(q);
}

/* The number after `key` in s. */
static long long num_after(const char *s, const char *key)
{
	const char *k = strstr(s, key);
	if (!k)
		fail_msg("%s not found", key);
	return strtoll(k + strlen(key), NULL, 10);
}

static void test_flamegraph_html(void **state)
{
	/* one big stack and 300 tiny ones: the tiny ones (1/100300 each, under
	 * 1/50000) merge into one "(other)" box under main */
	size_t cap = 300 * 32 + 64, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "main;work 100000\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(text + len, cap - len, "main;f%03d 1\n", i);
	char *s = report(text, CPROF_FMT_FLAMEGRAPH, NULL);
	free(text);
	assert_non_null(strstr(s, "<!DOCTYPE html>"));
	assert_null(strstr(s, "http://"));
	assert_null(strstr(s, "https://"));
	assert_null(strstr(s, "<script src"));
	assert_null(strstr(s, "<link"));
	assert_non_null(strstr(s, "cprofFlameGraph.mount"));
	assert_int_equal(num_after(s, "\"total\":"), 100300);
	/* preorder: root (self 0, cum 100300, 1 child), main (0, 100300, 2
	 * children: work and "(other)"), work (100000, 100000, 0), (other) */
	const char *nodes = strstr(s, "\"nodes\":[");
	assert_non_null(nodes);
	long long v[16];
	const char *q = nodes + 9;
	for (int i = 0; i < 16; i++) {
		char *end;
		v[i] = strtoll(q, &end, 10);
		assert_true(end != q);
		q = end + 1;
	}
	assert_int_equal(q[-1], ']');
	long long want[] = { 0, 0, 100300, 1, 1, 0, 100300, 2, 2, 100000, 100000, 0, 3, 300, 300, 0 };
	assert_memory_equal(v, want, sizeof want);
	assert_int_equal(num_after(s, "\"boxes\":"), 300);
	assert_non_null(strstr(s, "\"names\":[\"root\",\"main\",\"work\",\"(other)\"]"));
	free(s);
}

/* Random stacks over locations of one to three lines (inline frames), with
 * zero and negative values and recursion: the builder of the page's data. */
static cprof_profile *random_inline_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) >= 0);
	uint64_t r = 88172645463325252ULL;
#define RND() (r ^= r << 13, r ^= r >> 7, r ^= r << 17, r)
	char name[32];
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof name, "f%d", i % 10);   /* f0..f9, two pairs share a name */
		cprof_function fn = { .id = (uint64_t)i + 1, .name = cprof_intern_cstr(p, name),
				      .filename = cprof_intern_cstr(p, i < 10 ? "a.c" : "b.c") };
		assert_true(cprof_add_function(p, &fn) >= 0);
	}
	for (int i = 0; i < 40; i++) {
		cprof_line ln[3];
		size_t n = 1 + RND() % 3;
		for (size_t k = 0; k < n; k++)
			ln[k] = (cprof_line){ .function = (uint32_t)(RND() % 12), .line = 1 };
		cprof_location l = { .id = (uint64_t)i + 1, .address = 0x1000 + (uint64_t)i,
				     .mapping = CPROF_NONE };
		assert_true(cprof_add_location(p, &l, ln, n) >= 0);
	}
	uint32_t st[8];
	for (int s = 0; s < 2000; s++) {
		size_t d = RND() % 8;
		for (size_t k = 0; k < d; k++)
			st[k] = (uint32_t)(RND() % 40);
		int64_t si = cprof_intern_stack(p, st, d);
		int64_t v = (int64_t)(RND() % 50) - 5;
		assert_true(si >= 0 && cprof_add_sample(p, (uint32_t)si, 0, &v) >= 0);
	}
#undef RND
	return p;
}

/* The page's tree (built top down, flametree.c) against -folded (a trie of
 * every stack prefix, flame.c): each box's self is the folded line of its
 * path, its cum the sum of the lines under it; children come by cum
 * descending; nothing is pruned at this size but the zero boxes. */
static void test_flamegraph_matches_folded(void **state)
{
	cprof_profile *p = random_inline_profile();
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_FOLDED;
	char *fold = run(p, &o, NULL, NULL);
	o.format = CPROF_FMT_FLAMEGRAPH;
	char *page = run(p, &o, NULL, NULL);
	cprof_profile_free(p);
	/* the names table */
	const char *names = strstr(page, "\"names\":[");
	assert_non_null(names);
	const char *tab[64];
	size_t tl[64], nn = 0;
	for (const char *q = names + 9; *q == '"' && nn < 64;) {
		const char *e = strchr(q + 1, '"');
		tab[nn] = q + 1;
		tl[nn++] = (size_t)(e - q - 1);
		q = e + 1;
		if (*q == ',')
			q++;
	}
	/* walk the nodes in preorder with the path of each */
	const char *q = strstr(page, "\"nodes\":[") + 9;
	char path[64][512];
	size_t plen[64], left[64], sp = 0, nodes = 0;
	long long lastcum[64];
	while (*q != ']') {
		long long v[4];
		for (int k = 0; k < 4; k++) {
			char *e;
			v[k] = strtoll(q, &e, 10);
			q = *e == ',' ? e + 1 : e;
		}
		assert_true(v[0] >= 0 && (size_t)v[0] < nn);
		while (sp && left[sp - 1] == 0)
			sp--;
		size_t d = sp;
		if (d) {
			left[d - 1]--;
			assert_true(v[2] <= lastcum[d - 1]);    /* children by cum descending */
			lastcum[d - 1] = v[2];
		}
		/* this node's path: the parent's, ';', the name (the root has none) */
		plen[d] = 0;
		if (d > 1) {
			memcpy(path[d], path[d - 1], plen[d - 1]);
			plen[d] = plen[d - 1];
			path[d][plen[d]++] = ';';
		}
		if (d > 0) {
			memcpy(path[d] + plen[d], tab[v[0]], tl[v[0]]);
			plen[d] += tl[v[0]];
		}
		path[d][plen[d]] = 0;
		/* the folded lines at and under this path */
		long long self = 0, cum = 0;
		for (const char *l = fold; *l;) {
			const char *nl = strchr(l, '\n'), *sp2 = nl;
			while (sp2 > l && sp2[-1] != ' ')
				sp2--;
			size_t kl = (size_t)(sp2 - 1 - l);
			long long val = strtoll(sp2, NULL, 10);
			if (d == 0 || (kl >= plen[d] && memcmp(l, path[d], plen[d]) == 0 &&
				       (kl == plen[d] || l[plen[d]] == ';'))) {
				cum += val;
				if (d > 0 && kl == plen[d])
					self += val;
			}
			l = nl + 1;
		}
		assert_int_equal(v[1], self);
		assert_int_equal(v[2], cum);
		nodes++;
		left[sp] = (size_t)v[3];
		lastcum[sp] = INT64_MAX;
		sp++;
		assert_true(sp < 64);
	}
	assert_true(nodes > 100);
	free(fold);
	free(page);
}

/* Names cannot break out of the <script> element or the JSON. */
static void test_flamegraph_escapes(void **state)
{
	char *s = report("ma</script><b>\"in\\ 5\n", CPROF_FMT_FLAMEGRAPH, NULL);
	assert_non_null(strstr(s, "\"ma\\u003c/script\\u003e\\u003cb\\u003e\\\"in\\\\\""));
	assert_null(strstr(s, "</script><b>"));
	free(s);
}

static void test_flamesvg(void **state)
{
	char *s = report("main;a 3\nmain;b 1\nother 4\n", CPROF_FMT_FLAMESVG, NULL);
	assert_non_null(strstr(s, "<svg "));
	assert_non_null(strstr(s, "</svg>"));
	/* 1180 pixels for 8 units: all 1180, main 590, a 442.5, b 147.5 */
	assert_non_null(strstr(s, "<title>all (8, 100.00%)</title><rect x=\"10.00\""));
	assert_non_null(strstr(s, "width=\"1180.00\""));
	assert_non_null(strstr(s, "<title>main (4, 50.00%)</title><rect x=\"10.00\""));
	assert_non_null(strstr(s, "<title>a (3, 37.50%)</title><rect x=\"10.00\""));
	assert_non_null(strstr(s, "width=\"442.50\""));
	assert_non_null(strstr(s, "<title>b (1, 12.50%)</title><rect x=\"452.50\""));
	assert_non_null(strstr(s, "<title>other (4, 50.00%)</title><rect x=\"600.00\""));
	size_t boxes = 0;
	for (const char *q = s; (q = strstr(q, "<g><title>")); q++)
		boxes++;
	assert_int_equal(boxes, 5);
	free(s);
}

static void test_proto_roundtrip(void **state)
{
	cprof_profile *p = folded("main;b;c 2\nmain;a 1\nmain;b;d 3\n");
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_PROTO;
	o.focus = "^b$";
	o.divide_by = 0.5;
	size_t n;
	char *s = run(p, &o, &n, NULL);
	cprof_profile_free(p);
	assert_true(n > 2);
	assert_int_equal((unsigned char)s[0], 0x1f);
	assert_int_equal((unsigned char)s[1], 0x8b);
	cprof_profile *q = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_pb_decode(s, n, &q, &err), 0);
	free(s);
	/* the samples through b, values doubled */
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_FOLDED;
	s = run(q, &o, NULL, NULL);
	assert_string_equal(s, "main;b;c 4\nmain;b;d 6\n");
	free(s);
	cprof_profile_free(q);
}

/* A profile of frames in one mapping each: (name, mapping file) pairs,
 * every frame a one-frame stack with value 1. */
static cprof_profile *one_frame_each(const char *const (*frames)[2], size_t n)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) >= 0);
	for (size_t i = 0; i < n; i++) {
		cprof_mapping m = { .id = i + 1, .start = 0x1000 * (i + 1), .limit = 0x1000 * (i + 2),
				    .file = cprof_intern_cstr(p, frames[i][1]), .has_functions = true };
		assert_true(cprof_add_mapping(p, &m) >= 0);
		cprof_function fn = { .id = i + 1 };
		fn.name = fn.system_name = cprof_intern_cstr(p, frames[i][0]);
		assert_true(cprof_add_function(p, &fn) >= 0);
		cprof_line ln = { .function = (uint32_t)i, .line = 3 };
		cprof_location loc = { .id = i + 1, .address = 0x1000 * (i + 1) + 0x100, .mapping = (uint32_t)i };
		assert_true(cprof_add_location(p, &loc, &ln, 1) >= 0);
		uint32_t st = (uint32_t)i;
		int64_t si = cprof_intern_stack(p, &st, 1), v = 1;
		assert_true(si >= 0);
		assert_true(cprof_add_sample(p, (uint32_t)si, 0, &v) >= 0);
	}
	cprof_error err = { 0 };
	assert_int_equal(cprof_compact(p, &err), 0);
	return p;
}

/* Library names are interned from the mapping's own path: with the string
 * arena full (cprof_compact shrinks it to its length) that moves the arena,
 * which the code must not read from afterwards (ASan catches it). */
static void test_library_names_with_a_full_arena(void **state)
{
	static const char *const frames[][2] = {
		{ "do_work", "/usr/lib/x86_64-linux-gnu/libsomething.so.1" },
	};
	cprof_profile *p = one_frame_each(frames, 1);
	cprof_profile *q = cprof_profile_dup(p);
	assert_non_null(q);
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_FLAMEGRAPH;
	char *s = run(p, &o, NULL, NULL);
	assert_non_null(strstr(s, "\"packages\":[\"\",\"libsomething.so.1\"]"));
	free(s);
	o.format = CPROF_FMT_FOLDED;
	s = run(q, &o, NULL, NULL);
	assert_string_equal(s, "do_work 1\n");
	free(s);
	cprof_profile_free(p);
	cprof_profile_free(q);
}

/* Native code is coloured by module (the mapping's file: the program, each
 * library), C++ names too -- not by namespace, which split one program's
 * frames into many hues; a Go program's frames by package, as pprof does,
 * its C frames (cgo) by module. */
static void test_colour_by_module(void **state)
{
	static const char *const native[][2] = {
		{ "deep::Rec::run", "/tmp/deep" }, { "deep::crunch", "/tmp/deep" }, { "main", "/tmp/deep" },
		{ "std::__cxx11::basic_string::_M_create", "/usr/lib/libstdc++.so.6" },
		{ "malloc", "/usr/lib/libc.so.6" },
	};
	cprof_profile *p = one_frame_each(native, 5);
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_FLAMEGRAPH;
	char *s = run(p, &o, NULL, NULL);
	assert_non_null(strstr(s, "\"packages\":[\"\",\"deep\",\"libc.so.6\",\"libstdc++.so.6\"]"));
	free(s);
	cprof_profile_free(p);
	static const char *const go[][2] = {
		{ "runtime.main", "/tmp/gobin" }, { "main.work", "/tmp/gobin" },
		{ "crypto/sha256.block", "/tmp/gobin" }, { "c_helper", "/tmp/gobin" },
	};
	p = one_frame_each(go, 4);
	s = run(p, &o, NULL, NULL);
	assert_non_null(strstr(s, "\"packages\":[\"\",\"gobin\",\"crypto/sha256\",\"main\",\"runtime\"]"));
	free(s);
	cprof_profile_free(p);
}

static void test_empty_profiles(void **state)
{
	int formats[] = { CPROF_FMT_FOLDED, CPROF_FMT_FLAMEGRAPH, CPROF_FMT_FLAMESVG, CPROF_FMT_PROTO };
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		char *s = report("main 1\n", formats[i], "nomatch");
		assert_non_null(s);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_merges_and_sorts),
		cmocka_unit_test(test_folded_inline_and_escapes),
		cmocka_unit_test(test_flamegraph_html),
		cmocka_unit_test(test_flamegraph_matches_folded),
		cmocka_unit_test(test_flamegraph_escapes),
		cmocka_unit_test(test_flamesvg),
		cmocka_unit_test(test_proto_roundtrip),
		cmocka_unit_test(test_library_names_with_a_full_arena),
		cmocka_unit_test(test_colour_by_module),
		cmocka_unit_test(test_empty_profiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
