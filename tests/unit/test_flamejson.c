/*
 * test_flamejson.c - the web views' flame data (src/report/flamejson.c,
 * issue 8): the tree at a zoom, pruned to a fraction of the zoomed node,
 * the caller/callee (sandwich) trees of one function, and the union of a
 * profile and its base (the diff).
 *
 * Profiles come from folded text; each test writes the JSON into memory
 * and checks its node array (preorder: name, self, cum, children) with the
 * names resolved, so the expected trees read as text.
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
#include "cprof_webdata.h"

static cprof_flame *flame(const char *text)
{
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	if (cprof_folded_decode(text, strlen(text), &p, &err) < 0)
		fail_msg("folded_decode: %s", err.msg);
	cprof_ropts o;
	cprof_ropts_init(&o);
	FILE *warn = fopen("/dev/null", "w");
	cprof_flame *f = NULL;
	int rc = cprof_flame_build(p, &o, warn, &f, &err);
	fclose(warn);
	cprof_profile_free(p);
	if (rc < 0)
		fail_msg("flame_build: %s", err.msg);
	return f;
}

/* The JSON's nodes as "name:self/cum[kids] ..." (names looked up in the
 * JSON's names array, which holds only plain names here). */
static char *nodes_text(const char *json)
{
	const char *names = strstr(json, "\"names\":[");
	assert_non_null(names);
	names += 9;
	const char *tab[64];
	size_t tl[64], nn = 0;
	for (const char *q = names; *q == '"' && nn < 64;) {
		const char *e = strchr(q + 1, '"');
		tab[nn] = q + 1;
		tl[nn++] = (size_t)(e - q - 1);
		q = e + 1;
		if (*q == ',')
			q++;
	}
	const char *p = strstr(json, "\"nodes\":[") + 9;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	while (*p != ']') {
		long v[4];
		for (int k = 0; k < 4; k++) {
			char *e;
			v[k] = strtol(p, &e, 10);
			p = *e == ',' ? e + 1 : e;
		}
		assert_true(v[0] >= 0 && (size_t)v[0] < nn);
		fprintf(m, "%s%.*s:%ld/%ld[%ld]", len || ftell(m) ? " " : "", (int)tl[v[0]], tab[v[0]], v[1], v[2], v[3]);
	}
	fclose(m);
	return out;
}

static char *write_zoom(cprof_flame *f, const char *const *zoom, size_t n, double frac)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_int_equal(cprof_flame_write(f, zoom, n, frac, m), 0);
	fclose(m);
	return buf;
}

static const char *PROF = "main;a;x 6\nmain;a;y 1\nmain;b;x 2\nmain;b 1\nmain;c 90\n";

static void test_whole_tree(void **state)
{
	cprof_flame *f = flame(PROF);
	char *j = write_zoom(f, NULL, 0, 0);
	char *t = nodes_text(j);
	assert_string_equal(t, "root:0/100[1] main:0/100[3] c:90/90[0] a:0/7[2] x:6/6[0] y:1/1[0] "
			    "b:1/3[1] x:2/2[0]");
	assert_non_null(strstr(j, "\"zoom\":[],\"focus\":0"));
	free(t);
	free(j);
	cprof_flame_free(f);
}

static void test_pruned_to_the_view(void **state)
{
	cprof_flame *f = flame(PROF);
	/* 5% of the root: a (7) stays, b (3) and y (1) merge into "(other)" */
	char *j = write_zoom(f, NULL, 0, 0.05);
	char *t = nodes_text(j);
	assert_string_equal(t, "root:0/100[1] main:0/100[3] c:90/90[0] a:0/7[2] x:6/6[0] (other):1/1[0] "
			    "(other):3/3[0]");
	assert_non_null(strstr(j, "\"boxes\":2"));
	free(t);
	free(j);
	cprof_flame_free(f);
}

static void test_zoomed(void **state)
{
	cprof_flame *f = flame(PROF);
	const char *z[] = { "main", "a" };
	/* zoomed to a: its ancestors as a chain, then a's subtree pruned at 20% of a */
	char *j = write_zoom(f, z, 2, 0.2);
	char *t = nodes_text(j);
	assert_string_equal(t, "root:0/100[1] main:0/100[1] a:0/7[2] x:6/6[0] (other):1/1[0]");
	assert_non_null(strstr(j, "\"zoom\":[\"main\",\"a\"],\"focus\":2"));
	free(t);
	free(j);
	/* a path that stops matching zooms as far as it matches */
	const char *z2[] = { "main", "nope", "x" };
	j = write_zoom(f, z2, 3, 0);
	assert_non_null(strstr(j, "\"zoom\":[\"main\"],\"focus\":1"));
	free(j);
	cprof_flame_free(f);
}

static void test_sandwich(void **state)
{
	cprof_flame *f = flame("main;a;x;x;z 4\nmain;b;x;w 2\nmain;x 1\nother 3\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	/* callees of x: its outermost occurrences merged (the recursion inside) */
	assert_int_equal(cprof_flame_write_sandwich(f, "x", false, 0, m), 0);
	fclose(m);
	char *t = nodes_text(buf);
	assert_string_equal(t, "x:1/7[2] x:0/4[1] z:4/4[0] w:2/2[0]");
	free(t);
	free(buf);
	/* callers of x: the stacks above it, reversed, weighted by x's cum */
	m = open_memstream(&buf, &len);
	assert_int_equal(cprof_flame_write_sandwich(f, "x", true, 0, m), 0);
	fclose(m);
	t = nodes_text(buf);
	assert_string_equal(t, "x:0/7[3] a:0/4[1] main:4/4[0] b:0/2[1] main:2/2[0] main:1/1[0]");
	free(t);
	free(buf);
	cprof_flame_free(f);
}

static void test_diff_union(void **state)
{
	cprof_flame *a = flame("main;a 5\nmain;b 3\n"), *b = flame("main;a 2\nmain;c 4\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_int_equal(cprof_flame_write_diff(a, b, NULL, 0, 0, m), 0);
	fclose(m);
	/* widths are both sides; c exists only in the base */
	char *t = nodes_text(buf);
	assert_string_equal(t, "root:0/14[1] main:0/14[3] a:5/7[0] c:0/4[0] b:3/3[0]");
	assert_non_null(strstr(buf, "\"after\":[8,8,5,0,3],\"before\":[6,6,2,4,0],\"baseTotal\":6"));
	free(t);
	free(buf);
	cprof_flame_free(a);
	cprof_flame_free(b);
}

/* Names that are not UTF-8 reach the JSON as U+FFFD, never as raw bytes
 * that a browser's JSON.parse sees as text of another encoding. */
static void test_invalid_utf8(void **state)
{
	cprof_flame *f = flame("main;bad\xff\xfename;ok\xce\xbc 3\n");
	char *j = write_zoom(f, NULL, 0, 0);
	assert_non_null(strstr(j, "\"bad\\ufffd\\ufffdname\""));
	assert_non_null(strstr(j, "\"ok\xce\xbc\""));
	assert_null(strchr(j, '\xff'));
	free(j);
	cprof_flame_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_tree),
		cmocka_unit_test(test_pruned_to_the_view),
		cmocka_unit_test(test_zoomed),
		cmocka_unit_test(test_sandwich),
		cmocka_unit_test(test_diff_union),
		cmocka_unit_test(test_invalid_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
