/*
 * test_dot.c - the graph outputs (dot.c, callgrind.c, the visual mode of
 * graph.c): -dot text, Graphviz rendering, -callgrind.
 *
 * Small profiles are built with the core's builder.  Exact expectations
 * were taken from go tool pprof (Go 1.19) on the same profiles: run with
 * CPROF_TEST_DUMP=DIR to write them as DIR/NAME.pb.gz and compare again.
 * Names that are hostile to DOT (quotes, backslashes, newlines, C++
 * templates and operators, pprof #809) must come out escaped so that
 * Graphviz accepts the graph; that is checked with the real `dot` when it
 * is installed.  pprof's ShortenFunctionName is checked against the answers
 * of Go's own regular expressions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof_core.h"
#include "cprof_report.h"
#include "graph.h"

#define N(a) (sizeof(a) / sizeof *(a))

typedef struct sdef {
	int depth;
	int fn[6];              /* leaf first: function indices (one line per location) */
	int64_t v;
	const char *label;      /* a string label value for key "who" */
	int64_t bytes;          /* a "bytes" numeric label (0: none) */
} sdef;

/* A profile of one value type with one location per function. */
static cprof_profile *build(const char *type, const char *unit, const char *const *names,
			    size_t nn, const sdef *ss, size_t ns)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, type), cprof_intern_cstr(p, unit)) >= 0);
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x100000,
			    .file = cprof_intern_cstr(p, "/usr/bin/prog"), .has_functions = true };
	assert_true(cprof_add_mapping(p, &m) >= 0);
	for (size_t i = 0; i < nn; i++) {
		cprof_function f = { .id = i + 1, .start_line = (int64_t)i + 1 };
		f.name = f.system_name = cprof_intern_cstr(p, names[i]);
		f.filename = cprof_intern_cstr(p, "src/prog.cc");
		assert_true(cprof_add_function(p, &f) >= 0);
		cprof_location l = { .id = i + 1, .address = 0x1000 + 16 * i, .mapping = 0 };
		cprof_line ln = { .function = (uint32_t)i, .line = (int64_t)i + 10 };
		assert_true(cprof_add_location(p, &l, &ln, 1) >= 0);
	}
	for (size_t i = 0; i < ns; i++) {
		uint32_t st[6];
		for (int k = 0; k < ss[i].depth; k++)
			st[k] = (uint32_t)ss[i].fn[k];
		int64_t s = cprof_intern_stack(p, st, (size_t)ss[i].depth);
		assert_true(s >= 0);
		cprof_label lab[2];
		size_t nl = 0;
		if (ss[i].label)
			lab[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "who"),
						   .str = cprof_intern_cstr(p, ss[i].label) };
		if (ss[i].bytes)
			lab[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "bytes"),
						   .num = ss[i].bytes };
		int64_t ls = cprof_intern_labels(p, lab, nl);
		assert_true(ls >= 0);
		int64_t v = ss[i].v;
		assert_true(cprof_add_sample(p, (uint32_t)s, (uint32_t)ls, &v) >= 0);
	}
	return p;
}

static void dump(const cprof_profile *p, const char *name)
{
	const char *dir = getenv("CPROF_TEST_DUMP");
	if (!dir)
		return;
	char path[512];
	snprintf(path, sizeof path, "%s/%s.pb.gz", dir, name);
	cprof_error err;
	assert_int_equal(cprof_pb_write_file(p, path, &err), 0);
}

/* Run a report of format fmt over p (consumed), returning its text. */
static char *report(cprof_profile *p, int fmt, void (*adjust)(cprof_ropts *), int *rc)
{
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = fmt;
	if (adjust)
		adjust(&o);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	FILE *w = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_non_null(w);
	cprof_error err = { 0 };
	*rc = cprof_report(p, &o, f, w, &err);
	fclose(f);
	fclose(w);
	cprof_profile_free(p);
	if (*rc < 0) {
		free(buf);
		return strdup(err.msg);
	}
	return buf;
}

static bool have_dot(void)
{
	return system("command -v dot >/dev/null 2>&1") == 0;
}

/* Feed text to `dot -Tsvg`; returns its exit status. */
static int run_dot(const char *text)
{
	char tmpl[] = "/tmp/cprof-test-dot-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "dot -Tsvg < %s > /dev/null 2> %s.err", tmpl, tmpl);
	int st = system(cmd);
	snprintf(cmd, sizeof cmd, "%s.err", tmpl);
	FILE *e = fopen(cmd, "r");
	char line[512];
	while (e && fgets(line, sizeof line, e))
		print_message("dot: %s", line);
	if (e)
		fclose(e);
	unlink(cmd);
	unlink(tmpl);
	return st;
}

/* ---- ShortenFunctionName ---------------------------------------------------- */

static void test_shorten(void **state)
{
	/* answers of Go 1.19's pprof regular expressions */
	static const char *const cases[][2] = {
		{ "github.com/x/y/v2/pkg.Func", "pkg.Func" },
		{ "golang.org/x/v10/a.b", "a.b" },
		{ "a/v1/b.c", "b.c" },
		{ "a/v02/b.c", "b.c" },
		{ "example.com/m/v3", "v3" },
		{ "com.google.Foo.bar(int)", "Foo.bar" },
		{ "com.google.Foo.<init>", "Foo.<init>" },
		{ "Foo.bar$1", "Foo.bar$1" },
		{ "Foo.Bar.baz", "Foo.Bar.baz" },
		{ "std::vector<int>::push_back", "std::vector<int>::push_back" },
		{ "ns::Foo::bar<int>", "Foo::bar<int>" },
		{ "ns::inner::Foo::~Foo", "Foo::~Foo" },
		{ "(anonymous namespace)::helper", "helper" },
		{ "__gnu_cxx::__Normal::x", "__Normal::x" },
		{ "ns::Foo<\"q\">::operator<<", "ns::Foo<\"q\">::operator<<" },
		{ "a::B::c<x>::d<y>", "B::c<x>::d<y>" },
		{ "main", "main" },
		{ "a/b/", "b/" },
		{ "x/y z/w", "y z/w" },
		{ "sort.Sort", "sort.Sort" },
		{ "A::b::C::d(int)", "C::d" },
		{ "ns::_Z::f", "_Z::f" },
		{ "n1::N2::f<a>(b)<c>", "N2::f<a>(b)<c>" },
		{ "a-b/c.d/e", "e" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		char *s = cpr_shorten_name(cases[i][0]);
		assert_non_null(s);
		if (strcmp(s, cases[i][1]) != 0)
			fail_msg("ShortenFunctionName(%s) = %s, want %s", cases[i][0], s, cases[i][1]);
		free(s);
	}
}

/* ---- escaping (pprof #809) ---------------------------------------------------- */

static const char *const hostile[] = {
	"main",                                         /* 0 */
	"ns::Foo<\"q\">::operator<<",                   /* 1 quotes, template, operator */
	"weird\\name\"with\\\"quotes",                  /* 2 backslashes and quotes */
	"two\nlines",                                   /* 3 a newline */
	"std::map<std::string, int>::operator[]",       /* 4 */
	"trailing\\",                                   /* 5 a final backslash */
	"operator\"\" _km",                             /* 6 user-defined literal */
};

static cprof_profile *hostile_profile(void)
{
	static const sdef ss[] = {
		{ 2, { 1, 0 }, 40, "a\"b", 0 },
		{ 2, { 2, 0 }, 30, "back\\slash", 0 },
		{ 3, { 3, 2, 0 }, 20, NULL, 0 },
		{ 2, { 4, 0 }, 10, "x\ny", 0 },
		{ 3, { 5, 4, 0 }, 5, NULL, 0 },
		{ 2, { 6, 0 }, 5, NULL, 0 },
	};
	return build("samples", "count", hostile, N(hostile), ss, N(ss));
}

static void test_dot_escapes_hostile_names(void **state)
{
	int rc;
	char *out = report(hostile_profile(), CPROF_FMT_DOT, NULL, &rc);
	assert_int_equal(rc, 0);
	/* the tooltip is the printable name, escaped */
	assert_non_null(strstr(out, "tooltip=\"weird\\\\name\\\"with\\\\\\\"quotes (50)\""));
	assert_non_null(strstr(out, "tooltip=\"trailing\\\\ (5)\""));
	/* label: "::" splits lines, quotes escaped, newline as \l */
	assert_non_null(strstr(out, "label=\"ns\\nFoo<\\\"q\\\">\\noperator<<\\n40 (36.36%)\""));
	assert_non_null(strstr(out, "label=\"two\\llines\\n20 (18.18%)\""));
	/* label tags are escaped too (pprof leaves them raw) */
	assert_non_null(strstr(out, "[label = \"who:a\\\"b\""));
	assert_non_null(strstr(out, "[label = \"who:back\\\\slash\""));
	/* no raw newline inside any line */
	for (const char *l = out; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		size_t quotes = 0;
		for (size_t i = 0; i < n; i++) {
			if (l[i] == '\\') {
				i++;
				continue;
			}
			quotes += l[i] == '"';
		}
		if (quotes % 2)
			fail_msg("unbalanced quotes in: %.*s", (int)n, l);
		l += n + (e != NULL);
	}
	if (have_dot())
		assert_int_equal(run_dot(out), 0);
	free(out);
}

static void title_with_quote(cprof_ropts *o)
{
	o->title = "my \"prog\"";
}

static void test_dot_title_escaped(void **state)
{
	int rc;
	char *out = report(hostile_profile(), CPROF_FMT_DOT, title_with_quote, &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "digraph \"my \\\"prog\\\"\" {\n", 24) == 0);
	if (have_dot())
		assert_int_equal(run_dot(out), 0);
	free(out);
}

/* ---- nodelets and entropy order, against go tool pprof -------------------- */

static cprof_profile *tagged_profile(void)
{
	static const char *const names[] = { "main", "alloc", "small", "work", "leaf" };
	static const sdef ss[] = {
		{ 2, { 1, 0 }, 4096, NULL, 1024 },
		{ 2, { 1, 0 }, 8192, NULL, 2048 },
		{ 2, { 1, 0 }, 16384, NULL, 4096 },
		{ 2, { 1, 0 }, 1048576, NULL, 1048576 },
		{ 2, { 1, 0 }, 65536, NULL, 65536 },
		{ 2, { 1, 0 }, 640, NULL, 64 },
		{ 3, { 2, 1, 0 }, 3000, "w1", 100 },
		{ 3, { 2, 1, 0 }, 5000, "w2", 100 },
		{ 3, { 3, 2, 0 }, 7000, "w1", 0 },
		{ 2, { 4, 0 }, 500, NULL, 0 },
	};
	return build("alloc_space", "bytes", names, N(names), ss, N(ss));
}

static void nodefraction0(cprof_ropts *o)
{
	o->nodefraction = 0;
}

static void test_dot_nodelets_match_pprof(void **state)
{
	cprof_profile *p = tagged_profile();
	dump(p, "tagged");
	int rc;
	char *out = report(p, CPROF_FMT_DOT, nodefraction0, &rc);
	assert_int_equal(rc, 0);
	/* go tool pprof -dot -nodefraction=0 tagged.pb.gz, after the legend:
	 * six byte sizes on alloc collapse into four nodelets, labelled tags
	 * carry their own numeric nodelets */
	static const char want[] =
		"N1 [label=\"main\\n0 of 1131.76kB (100%)\" id=\"node1\" fontsize=8 shape=box tooltip=\"main (1131.76kB)\" color=\"#b20000\" fillcolor=\"#edd5d5\"]\n"
		"N2 [label=\"alloc\\n1116.62kB (98.66%)\\nof 1124.44kB (99.35%)\" id=\"node2\" fontsize=24 shape=box tooltip=\"alloc (1124.44kB)\" color=\"#b20000\" fillcolor=\"#edd5d5\"]\n"
		"NN2_0 [label = \"1MB\" id=\"NN2_0\" fontsize=8 shape=box3d tooltip=\"1024kB\"]\n"
		"N2 -> NN2_0 [label=\" 1024kB\" weight=100 tooltip=\"1024kB\" labeltooltip=\"1024kB\"]\n"
		"NN2_1 [label = \"64kB\" id=\"NN2_1\" fontsize=8 shape=box3d tooltip=\"64kB\"]\n"
		"N2 -> NN2_1 [label=\" 64kB\" weight=100 tooltip=\"64kB\" labeltooltip=\"64kB\"]\n"
		"NN2_2 [label = \"4kB\" id=\"NN2_2\" fontsize=8 shape=box3d tooltip=\"16kB\"]\n"
		"N2 -> NN2_2 [label=\" 16kB\" weight=100 tooltip=\"16kB\" labeltooltip=\"16kB\"]\n"
		"NN2_3 [label = \"64B..2kB\" id=\"NN2_3\" fontsize=8 shape=box3d tooltip=\"12.62kB\"]\n"
		"N2 -> NN2_3 [label=\" 12.62kB\" weight=100 tooltip=\"12.62kB\" labeltooltip=\"12.62kB\"]\n"
		"N3 [label=\"small\\n7.81kB (0.69%)\\nof 14.65kB (1.29%)\" id=\"node3\" fontsize=10 shape=box tooltip=\"small (14.65kB)\" color=\"#b2afa6\" fillcolor=\"#edeceb\"]\n"
		"N3_0 [label = \"who:w2\" id=\"N3_0\" fontsize=8 shape=box3d tooltip=\"4.88kB\"]\n"
		"N3 -> N3_0 [label=\" 4.88kB\" weight=100 tooltip=\"4.88kB\" labeltooltip=\"4.88kB\"]\n"
		"NN3_0_0 [label = \"100B\" id=\"NN3_0_0\" fontsize=8 shape=box3d tooltip=\"4.88kB\"]\n"
		"N3_0 -> NN3_0_0 [label=\" 4.88kB\" weight=100 tooltip=\"4.88kB\" labeltooltip=\"4.88kB\"]\n"
		"N3_1 [label = \"who:w1\" id=\"N3_1\" fontsize=8 shape=box3d tooltip=\"2.93kB\"]\n"
		"N3 -> N3_1 [label=\" 2.93kB\" weight=100 tooltip=\"2.93kB\" labeltooltip=\"2.93kB\"]\n"
		"NN3_1_0 [label = \"100B\" id=\"NN3_1_0\" fontsize=8 shape=box3d tooltip=\"2.93kB\"]\n"
		"N3_1 -> NN3_1_0 [label=\" 2.93kB\" weight=100 tooltip=\"2.93kB\" labeltooltip=\"2.93kB\"]\n"
		"N4 [label=\"work\\n6.84kB (0.6%)\" id=\"node4\" fontsize=10 shape=box tooltip=\"work (6.84kB)\" color=\"#b2b1ad\" fillcolor=\"#edecec\"]\n"
		"N4_0 [label = \"who:w1\" id=\"N4_0\" fontsize=8 shape=box3d tooltip=\"6.84kB\"]\n"
		"N4 -> N4_0 [label=\" 6.84kB\" weight=100 tooltip=\"6.84kB\" labeltooltip=\"6.84kB\"]\n"
		"N5 [label=\"leaf\\n0.49kB (0.043%)\" id=\"node5\" fontsize=9 shape=box tooltip=\"leaf (0.49kB)\" color=\"#b2b2b2\" fillcolor=\"#ededed\"]\n"
		"N1 -> N2 [label=\" 1124.44kB\" weight=100 penwidth=5 color=\"#b20000\" tooltip=\"main -> alloc (1124.44kB)\" labeltooltip=\"main -> alloc (1124.44kB)\"]\n"
		"N2 -> N3 [label=\" 7.81kB\" color=\"#b2b1ac\" tooltip=\"alloc -> small (7.81kB)\" labeltooltip=\"alloc -> small (7.81kB)\" minlen=2]\n"
		"N1 -> N3 [label=\" 6.84kB\" color=\"#b2b1ad\" tooltip=\"main -> small (6.84kB)\" labeltooltip=\"main -> small (6.84kB)\"]\n"
		"N3 -> N4 [label=\" 6.84kB\" color=\"#b2b1ad\" tooltip=\"small -> work (6.84kB)\" labeltooltip=\"small -> work (6.84kB)\" minlen=2]\n"
		"}\n";
	const char *n1 = strstr(out, "N1 [");
	assert_non_null(n1);
	if (strcmp(n1, want) != 0)
		fail_msg("got:\n%s", n1);
	if (have_dot())
		assert_int_equal(run_dot(out), 0);
	free(out);
}

static void nodecount3(cprof_ropts *o)
{
	o->nodecount = 3;
}

/* Node count in visual mode counts the nodelets (pprof's answer: alloc
 * has four, so main and alloc fill the three places). */
static void test_dot_nodecount_counts_tags(void **state)
{
	int rc;
	char *out = report(tagged_profile(), CPROF_FMT_DOT, nodecount3, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "Showing top 2 nodes out of 4\\l"));
	assert_null(strstr(out, "N3 ["));
	free(out);
}

/* ---- rendering ---------------------------------------------------------------- */

static void test_missing_dot(void **state)
{
	setenv("CPROF_DOT", "/nonexistent/dot", 1);
	int rc;
	char *msg = report(hostile_profile(), CPROF_FMT_SVG, NULL, &rc);
	unsetenv("CPROF_DOT");
	assert_true(rc < 0);
	assert_string_equal(msg, "could not execute /nonexistent/dot; install graphviz");
	free(msg);
}

static void test_svg_has_panzoom(void **state)
{
	if (!have_dot())
		skip();
	int rc;
	char *out = report(hostile_profile(), CPROF_FMT_SVG, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "<svg width=\"100%\" height=\"100%\""));
	assert_null(strstr(out, "viewBox="));
	const char *script = strstr(out, "<script type=\"text/ecmascript\"><![CDATA[");
	const char *vp = strstr(out, "<g id=\"viewport\"");
	const char *g0 = strstr(out, "<g id=\"graph0\"");
	assert_non_null(script);
	assert_non_null(vp);
	assert_non_null(g0);
	assert_true(script < vp && vp < g0);
	/* the viewport group closes right before the document */
	assert_non_null(strstr(out, "</g>\n</g></svg>"));
	free(out);
}

/* ---- callgrind ---------------------------------------------------------------- */

static void test_callgrind_matches_pprof(void **state)
{
	static const char *const names[] = { "main", "ns::f", "ns::f", "g" };
	static const sdef ss[] = {
		{ 2, { 1, 0 }, 30, NULL, 0 }, { 3, { 3, 1, 0 }, 20, NULL, 0 },
		{ 2, { 2, 0 }, 10, NULL, 0 }, { 1, { 0 }, 5, NULL, 0 },
	};
	cprof_profile *p = build("cpu", "milliseconds", names, N(names), ss, N(ss));
	dump(p, "callgrind");
	int rc;
	char *out = report(p, CPROF_FMT_CALLGRIND, NULL, &rc);
	assert_int_equal(rc, 0);
	/* go tool pprof -callgrind callgrind.pb.gz */
	static const char want[] =
		"positions: instr line\n"
		"events: cpu(ms)\n"
		"\n"
		"ob=(1) /usr/bin/prog\n"
		"fl=(1) src/prog.cc\n"
		"fn=(1) ns::f\n"
		"0x1010 11 30\n"
		"cfl=(1)\n"
		"cfn=(2) g\n"
		"calls=0 0x1030 13\n"
		"* * 20\n"
		"\n"
		"ob=(1)\n"
		"fl=(1)\n"
		"fn=(2)\n"
		"+32 13 20\n"
		"\n"
		"ob=(1)\n"
		"fl=(1)\n"
		"fn=(1)\n"
		"-16 12 10\n"
		"\n"
		"ob=(1)\n"
		"fl=(1)\n"
		"fn=(3) main\n"
		"-32 10 5\n"
		"cfl=(1)\n"
		"cfn=(4) ns::f [1/2]\n"
		"calls=0 -16 11\n"
		"* * 50\n"
		"cfl=(1)\n"
		"cfn=(5) ns::f [2/2]\n"
		"calls=0 * 12\n"
		"* * 10\n";
	if (strcmp(out, want) != 0)
		fail_msg("got:\n%s", out);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shorten),
		cmocka_unit_test(test_dot_escapes_hostile_names),
		cmocka_unit_test(test_dot_title_escaped),
		cmocka_unit_test(test_dot_nodelets_match_pprof),
		cmocka_unit_test(test_dot_nodecount_counts_tags),
		cmocka_unit_test(test_missing_dot),
		cmocka_unit_test(test_svg_has_panzoom),
		cmocka_unit_test(test_callgrind_matches_pprof),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
