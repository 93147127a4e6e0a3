/*
 * test_srv_front.c - the server's front-half parsers (src/server:
 * ingest_parse.c, srvutil.c, config.c), at the depth where their rules
 * are: Pyroscope's name{labels} as the real clients send it (unquoted
 * dotted values with slashes, quoted values, sanitised names) and each
 * refusal's one line; multipart bodies (the part, its CRLF framing, a
 * part that is missing or not closed); `lines` to folded stacks under a
 * ceiling; push times at every resolution; the kind of a profile from its
 * sample types; JSON strings of hostile bytes; the YAML config's defaults
 * and its FILE:LINE: KEY: refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

static void test_name_node_client(void **state)
{
	static srv_lset l;
	char err[SRV_ERR_MAX] = "";
	const char *n = "nodeapp{otel.scope.name=com.grafana.pyroscope/nodejs,otel.scope.version=0.6.4,"
			"process.runtime.version=20.20.2, region = eu-west/1 ,q=\"a,b}\\\"c\"}";
	assert_int_equal(srv_parse_app_name(n, strlen(n), &l, NULL, 0, err, sizeof err), 0);
	assert_string_equal(srv_lset_get(&l, "service_name"), "nodeapp");
	assert_string_equal(srv_lset_get(&l, "otel_scope_name"), "com.grafana.pyroscope/nodejs");
	assert_string_equal(srv_lset_get(&l, "process_runtime_version"), "20.20.2");
	assert_string_equal(srv_lset_get(&l, "region"), "eu-west/1");
	assert_string_equal(srv_lset_get(&l, "q"), "a,b}\"c");
	for (size_t i = 1; i < l.n; i++)
		assert_true(strcmp(l.v[i - 1].name, l.v[i].name) < 0);
	/* no labels at all; reserved names dropped; a later value wins */
	assert_int_equal(srv_parse_app_name("app", 3, &l, NULL, 0, err, sizeof err), 0);
	assert_int_equal(l.n, 1);
	n = "app{__name__=x,a=1,a=2}";
	assert_int_equal(srv_parse_app_name(n, strlen(n), &l, NULL, 0, err, sizeof err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(srv_lset_get(&l, "a"), "2");
	/* __name__ handed back (Pyroscope's metric name: a kind hint) */
	char metric[6] = "junk";
	assert_int_equal(srv_parse_app_name("app", 3, &l, metric, sizeof metric, err, sizeof err), 0);
	assert_string_equal(metric, "");
	n = "app{a=1, __name__ = \"block\" }";
	assert_int_equal(srv_parse_app_name(n, strlen(n), &l, metric, sizeof metric, err, sizeof err), 0);
	assert_string_equal(metric, "block");
	assert_int_equal(l.n, 2);
	n = "app{__name__=process_cpu}";
	assert_int_equal(srv_parse_app_name(n, strlen(n), &l, metric, sizeof metric, err, sizeof err), 0);
	assert_string_equal(metric, "proce");
}

static void refused(const char *n, const char *want)
{
	static srv_lset l;
	char err[SRV_ERR_MAX] = "";
	assert_int_equal(srv_parse_app_name(n, strlen(n), &l, NULL, 0, err, sizeof err), -1);
	if (!strstr(err, want))
		fail_msg("%s: got \"%s\", want \"%s\"", n, err, want);
	assert_null(strchr(err, '\n'));
}

static void test_name_refusals(void **state)
{
	refused("{a=b}", "no application name");
	refused("app{a}", "without '='");
	refused("app{a=b", "no closing");
	refused("app{a=\"b", "unterminated");
	refused("app{a=b}x", "after the closing");
	refused("app{9a=b}", "label name");
	refused("app{a=b\x01}", "control character");
	refused("ap=p", "'='");
	char big[2000];
	snprintf(big, sizeof big, "app{a=%01100d}", 0);
	refused(big, "longer than");
}

static void test_multipart(void **state)
{
	const char body[] = "preamble\r\n--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n"
			    "x\r\n--B\r\ncontent-disposition: form-data; name=\"profile\"; filename=\"p\"\r\n"
			    "Content-Type: application/octet-stream\r\n\r\nDATA\r\n--Bx\r\n--B--\r\n";
	const void *out;
	size_t n;
	char err[SRV_ERR_MAX];
	assert_int_equal(srv_multipart_field("multipart/form-data; boundary=B", body, sizeof body - 1,
					     "profile", &out, &n, err, sizeof err), 0);
	assert_int_equal(n, strlen("DATA\r\n--Bx"));
	assert_memory_equal(out, "DATA\r\n--Bx", n);
	assert_int_equal(srv_multipart_field("multipart/form-data; boundary=\"B\"", body, sizeof body - 1,
					     "missing", &out, &n, err, sizeof err), 1);
	assert_int_equal(srv_multipart_field("multipart/form-data", body, sizeof body - 1, "profile",
					     &out, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "boundary"));
	const char open[] = "--B\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nDATA";
	assert_int_equal(srv_multipart_field("multipart/form-data; boundary=B", open, sizeof open - 1,
					     "profile", &out, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "not closed"));
}

static void test_lines_and_times(void **state)
{
	char *out;
	size_t n;
	char err[SRV_ERR_MAX];
	assert_int_equal(srv_lines_to_folded("a;b\n\n  a;c \r\n", 13, 100, &out, &n, err, sizeof err), 0);
	assert_int_equal(n, strlen("a;b 1\na;c 1\n"));
	assert_memory_equal(out, "a;b 1\na;c 1\n", n);
	free(out);
	assert_int_equal(srv_lines_to_folded("aaaa\nbbbb\n", 10, 8, &out, &n, err, sizeof err), -1);
	int64_t ns;
	assert_int_equal(srv_parse_push_time("1765000000", &ns), 0);
	assert_true(ns == INT64_C(1765000000) * 1000000000);
	assert_int_equal(srv_parse_push_time("1765000000123", &ns), 0);
	assert_true(ns == INT64_C(1765000000123) * 1000000);
	assert_int_equal(srv_parse_push_time("1765000000123456789", &ns), 0);
	assert_true(ns == INT64_C(1765000000123456789));
	assert_int_equal(srv_parse_push_time("-1", &ns), -1);
	assert_int_equal(srv_parse_push_time("99999999999999999999999", &ns), -1);
	assert_int_equal(srv_parse_push_time("", &ns), -1);
}

static cprof_profile *typed(const char *const *types, size_t n, const char *period)
{
	cprof_profile *p = cprof_profile_new();
	for (size_t i = 0; i < n; i++)
		cprof_add_vtype(p, cprof_intern_cstr(p, types[i]), cprof_intern_cstr(p, "count"));
	if (period)
		p->period_type.type = cprof_intern_cstr(p, period);
	return p;
}

static void test_kinds(void **state)
{
	static const struct { const char *t[4]; size_t n; const char *period, *kind; } cases[] = {
		{ { "samples", "cpu" }, 2, "cpu", "cpu" },
		{ { "samples", "wall" }, 2, "wall", "wall" },
		{ { "alloc_objects", "alloc_space", "inuse_objects", "inuse_space" }, 4, "space", "heap" },
		{ { "inuse_objects", "inuse_space" }, 2, "space", "heap" },
		{ { "alloc_objects", "alloc_space" }, 2, "space", "allocs" },
		{ { "contentions", "delay" }, 2, "contentions", "mutex" },
		{ { "goroutine" }, 1, "goroutine", "goroutine" },
		{ { "threadcreate" }, 1, "threadcreate", "threadcreate" },
		{ { "bananas" }, 1, NULL, "other" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cprof_profile *p = typed(cases[i].t, cases[i].n, cases[i].period);
		assert_string_equal(srv_kind_of_profile(p), cases[i].kind);
		cprof_profile_free(p);
	}
}

static void test_push_kinds(void **state)
{
	static const char *const cont[] = { "contentions", "delay" };
	static const char *const heap[] = { "alloc_objects", "alloc_space", "inuse_objects", "inuse_space" };
	static const char *const cpu[] = { "samples", "cpu" };
	cprof_profile *c = typed(cont, 2, "contentions");
	cprof_profile *h = typed(heap, 4, "space");
	cprof_profile *u = typed(cpu, 2, "cpu");
	const char *k;
	char err[SRV_ERR_MAX] = "";
	/* no hint: mutex, as before */
	assert_int_equal(srv_push_kind(c, NULL, "", NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "mutex");
	/* each hint alone */
	assert_int_equal(srv_push_kind(c, "block", NULL, NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "block");
	assert_int_equal(srv_push_kind(c, "", "block", NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "block");
	assert_int_equal(srv_push_kind(c, NULL, NULL, "block", &k, err, sizeof err), 0);
	assert_string_equal(k, "block");
	/* type= first, then __name__, then sample_type_config */
	assert_int_equal(srv_push_kind(c, "mutex", "block", "block", &k, err, sizeof err), 0);
	assert_string_equal(k, "mutex");
	assert_int_equal(srv_push_kind(c, NULL, "mutex", "block", &k, err, sizeof err), 0);
	assert_string_equal(k, "mutex");
	/* a hint that contradicts the sample types is ignored; type= is refused */
	assert_int_equal(srv_push_kind(u, NULL, "block", NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "cpu");
	assert_int_equal(srv_push_kind(u, "heap", NULL, NULL, &k, err, sizeof err), -1);
	assert_non_null(strstr(err, "type=heap"));
	assert_int_equal(srv_push_kind(u, "bananas", NULL, NULL, &k, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a profile kind"));
	/* Pyroscope's metric names; Go's allocs is its heap profile */
	assert_int_equal(srv_push_kind(u, NULL, "process_cpu", NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "cpu");
	assert_int_equal(srv_push_kind(h, "allocs", NULL, NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "allocs");
	assert_int_equal(srv_push_kind(h, NULL, "memory", NULL, &k, err, sizeof err), 0);
	assert_string_equal(k, "heap");
	cprof_profile_free(c);
	cprof_profile_free(h);
	cprof_profile_free(u);

	/* sample_type_config as pyroscope-go writes it */
	const char *j = "{\"contentions\":{\"display-name\":\"block_count\",\"units\":\"lock_samples\"},"
			"\"delay\":{\"display-name\" : \"block_duration\"}}";
	assert_string_equal(srv_stc_kind_hint(j, strlen(j)), "block");
	j = "{\"contentions\":{\"display-name\":\"mutex_count\"}}";
	assert_string_equal(srv_stc_kind_hint(j, strlen(j)), "mutex");
	j = "{\"a\":{\"display-name\":\"mutex_count\"},\"b\":{\"display-name\":\"block_count\"}}";
	assert_null(srv_stc_kind_hint(j, strlen(j)));
	j = "{\"inuse_space\":{\"units\":\"bytes\"}}";
	assert_null(srv_stc_kind_hint(j, strlen(j)));
	/* bounded by n: a value cut short is no hint */
	j = "{\"c\":{\"display-name\":\"block_count\"}}";
	assert_null(srv_stc_kind_hint(j, 22));
	assert_null(srv_stc_kind_hint("", 0));
}

static void test_json_strings(void **state)
{
	srv_buf b = { 0 };
	srv_buf_json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
	assert_false(b.err);
	assert_string_equal(b.s, "\"a\\\"b\\\\c\\u000a\\u0001\xef\xbf\xbd\xc3\xa9\"");
	srv_buf_free(&b);
	srv_buf small = { .max = 4 };
	srv_buf_puts(&small, "12345");
	assert_true(small.err);
	srv_buf_free(&small);
}

static void config_refused(const char *text, const char *want)
{
	srv_config c;
	srv_config_init(&c);
	char err[512] = "";
	assert_int_equal(srv_config_parse(&c, "t.yaml", text, strlen(text), err, sizeof err), -1);
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
	srv_config_free(&c);
}

static void test_config(void **state)
{
	srv_config c;
	srv_config_init(&c);
	char err[512] = "";
	const char *y = "scrape_configs:\n"
			"  - job_name: j\n"
			"    profiling_config:\n"
			"      path_prefix: /pp/\n"
			"      pprof_config:\n"
			"        memory: {enabled: false}\n"
			"        fgprof: {path: /debug/fgprof, delta: true}\n"
			"    static_configs:\n"
			"      - targets: [\"h:1\", \"https://h:2\"]\n"
			"        labels: {env: x}\n"
			"rules:\n"
			"  - {name: r, when: \"cprof_heap_inuse_bytes >= 2e9\"}\n"
			"  - {name: c, when: \"rate(cpu) > 0.8\", cooldown: 0s}\n";
	assert_int_equal(srv_config_parse(&c, "t.yaml", y, strlen(y), err, sizeof err), 0);
	assert_int_equal(c.njobs, 1);
	srv_job_cfg *j = &c.jobs[0];
	assert_true(j->interval_ns == INT64_C(15000000000));
	assert_int_equal(j->ntargets, 2);
	assert_string_equal(j->targets[0].base, "http://h:1");
	assert_string_equal(j->targets[1].base, "https://h:2");
	assert_string_equal(srv_lpack_get(j->targets[1].labels, "env"), "x");
	assert_string_equal(srv_lpack_get(j->targets[1].labels, "job"), "j");
	size_t enabled = 0;
	for (size_t i = 0; i < j->nprof; i++) {
		if (!strcmp(j->prof[i].name, "process_cpu"))
			assert_string_equal(j->prof[i].path, "/pp/profile");
		if (!strcmp(j->prof[i].name, "memory"))
			assert_false(j->prof[i].enabled);
		if (!strcmp(j->prof[i].name, "fgprof"))
			assert_string_equal(j->prof[i].kind, "fgprof");
		enabled += j->prof[i].enabled;
	}
	assert_int_equal(enabled, 7);   /* 7 defaults - memory + fgprof */
	assert_int_equal(c.nrules, 2);
	assert_int_equal(c.rules[0].op, SRV_OP_GE);
	assert_true(c.rules[0].threshold == 2e9);
	assert_false(c.rules[0].rate);
	assert_true(c.rules[1].rate);
	assert_string_equal(c.rules[1].metric, "process_cpu_seconds_total");
	assert_true(c.rules[1].cooldown_ns == 0);
	srv_config_free(&c);

	config_refused("scrape_configs:\n  - job_name: j\n    bogus: 1\n", "t.yaml:3: bogus: unknown key");
	config_refused("scrape_configs:\n  - scrape_interval: 5s\n", "job_name: missing");
	/* a key with a line break in it (a flow mapping's plain scalar over a
	 * blank line): the refusal stays one line, the break escaped */
	config_refused("limits: {pi\n \nrmax00}\n", "t.yaml:1: pi\\nrmax00: unknown key in limits");
	config_refused("scrape_configs:\n  - job_name: j\n    scrape_interval: 0.5s\n", "at least 1s");
	config_refused("rules:\n  - name: r\n    when: x > y\n", "t.yaml:3: when:");
	config_refused("limits: {max_body: 5 TB}\n", "unknown unit");
	config_refused("rules:\n  - {name: r, when: rate(cpu > 1}\n", "closing ')'");
	config_refused("a: [\n", "t.yaml:");
}

/* A rule's METRIC with Prometheus matchers, as users write them. */
static void test_rule_selectors(void **state)
{
	static const char y[] =
		"rules:\n"
		"  - {name: a, when: 'cprof_cpu_samples_lost_total{reason=\"unwind\"} > 5'}\n"
		"  - {name: b, when: 'rate(http_requests_total{code=~\"5..\", path!=\"/a}b\"}) > 1'}\n"
		"  - {name: c, when: 'q{} >= 0'}\n";
	srv_config c;
	srv_config_init(&c);
	char err[512] = "";
	if (srv_config_parse(&c, "t.yaml", y, strlen(y), err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(c.nrules, 3);
	assert_string_equal(c.rules[0].metric, "cprof_cpu_samples_lost_total");
	assert_non_null(c.rules[0].sel);
	assert_true(c.rules[0].threshold == 5);
	assert_true(c.rules[1].rate);
	assert_string_equal(c.rules[1].metric, "http_requests_total");
	assert_int_equal(c.rules[1].op, SRV_OP_GT);
	srv_label l1[] = { { "code", "503" }, { "job", "j" }, { "path", "/x" } };
	srv_label l2[] = { { "code", "200" }, { "job", "j" }, { "path", "/x" } };
	srv_label l3[] = { { "code", "500" }, { "path", "/a}b" } };
	srv_labels v1 = { l1, 3 }, v2 = { l2, 3 }, v3 = { l3, 2 };
	assert_true(srv_selector_match(c.rules[1].sel, &v1));
	assert_false(srv_selector_match(c.rules[1].sel, &v2));
	assert_false(srv_selector_match(c.rules[1].sel, &v3));
	assert_true(c.rules[2].sel == NULL || srv_selector_match(c.rules[2].sel, &v2));
	srv_config_free(&c);

	config_refused("rules:\n  - {name: r, when: 'm{a=\"b\" > 1'}\n", "closing '}'");
	config_refused("rules:\n  - {name: r, when: 'm{a=b} > 1'}\n", "t.yaml:2: when:");
	config_refused("rules:\n  - {name: r, when: 'm{a=\"b\"}'}\n", "operator");
	/* a multi-line key or value quoted back stays one line (config_refused) */
	config_refused("rules:\n  - name: a\n    ? 'x\n\n      y'\n    : 1\n", "unknown key");
	config_refused("rules:\n  - name: a\n    when: 'm{x=\"0\"\n\n      ,y} > 1'\n", "when:");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_node_client),
		cmocka_unit_test(test_name_refusals),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_lines_and_times),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_push_kinds),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_rule_selectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
