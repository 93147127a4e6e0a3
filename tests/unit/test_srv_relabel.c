/*
 * test_srv_relabel.c - relabel_configs (relabel.c) as Prometheus applies
 * them to scrape targets, read from the server's YAML config (config.c):
 * replace with $1 / ${name} / $$ and an empty result deleting the label,
 * anchored regexps, separators, keep / drop, labelmap, labeldrop /
 * labelkeep, __address__ / __scheme__ / __metrics_path__ deciding the URL,
 * "__" labels dropped at the end, instance defaulting to the address; the
 * one line each bad relabel, file_sd or auth key gets; file_sd files'
 * target groups (srv_sd_parse).
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

static srv_config cfg;

/* Parse text (a config) or fail with its error. */
static void load(const char *text)
{
	srv_config_free(&cfg);
	srv_config_init(&cfg);
	char err[512] = "";
	if (srv_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof err))
		fail_msg("%s", err);
}

static void load_bad(const char *text, const char *want)
{
	srv_config_free(&cfg);
	srv_config_init(&cfg);
	char err[512] = "";
	assert_int_equal(srv_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof err), -1);
	assert_null(strchr(err, '\n'));
	if (!strstr(err, want))
		fail_msg("want \"%s\" in: %s", want, err);
}

/* The job's targets' labels as "k=v,k=v" lines (sorted by name). */
static void labels_of(const srv_target_cfg *t, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < t->labels->n && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s=%s", i ? "," : "", t->labels->v[i].name,
				      t->labels->v[i].value);
}

#define JOB(relabel, targets) \
	"scrape_configs:\n" \
	"  - job_name: j\n" \
	"    relabel_configs:\n" relabel \
	"    static_configs:\n" targets

static void test_replace(void **state)
{
	(void)state;
	char got[2000];
	load(JOB("      - source_labels: [__address__]\n"
		 "        regex: '(.*):(\\d+)'\n"
		 "        target_label: port\n"
		 "        replacement: 'p${2}x$$'\n"
		 "      - source_labels: [env, team]\n"
		 "        separator: '/'\n"
		 "        regex: '(?P<e>[a-z]+)/(.*)'\n"
		 "        target_label: where\n"
		 "        replacement: '$e-$2'\n"
		 "      - source_labels: [env]\n"
		 "        regex: 'pro'\n"             /* anchored: not a match of prod */
		 "        target_label: short\n"
		 "        replacement: yes\n"
		 "      - source_labels: [gone]\n"
		 "        regex: '(.*)'\n"
		 "        target_label: team\n"       /* $1 of "" is "": team is deleted */
		 "      - source_labels: [env]\n"
		 "        target_label: '${1}_copy'\n"   /* the target label expanded */
		 "      - source_labels: [env]\n"
		 "        target_label: '1bad'\n"     /* not a label name: skipped */
		 "      - source_labels: [env]\n"
		 "        target_label: x\n"
		 "        replacement: '$1x'\n"      /* Go: group \"1x\", unknown: empty */
		 "      - source_labels: [env]\n"
		 "        target_label: lz\n"
		 "        replacement: '<$01|${1}0|$>'\n",  /* Go: $01 is a name; a lone $ stays */
		 "      - targets: ['h1:80']\n"
		 "        labels: {env: prod, team: core}\n"));
	assert_int_equal(cfg.jobs[0].ntargets, 1);
	labels_of(&cfg.jobs[0].targets[0], got, sizeof got);
	assert_string_equal(got, "env=prod,instance=h1:80,job=j,lz=<|prod0|$>,port=p80x$,prod_copy=prod,"
				 "where=prod-core");
	assert_string_equal(cfg.jobs[0].targets[0].base, "http://h1:80");
	assert_string_equal(cfg.jobs[0].targets[0].metrics_path, "/metrics");
}

static void test_keep_drop_address(void **state)
{
	(void)state;
	char got[2000];
	load(JOB("      - {action: keep, source_labels: [env], regex: 'prod|staging'}\n"
		 "      - {action: drop, source_labels: [__address__], regex: '.*:9'}\n"
		 "      - source_labels: [__address__]\n"
		 "        target_label: instance\n"      /* instance stays the old address */
		 "      - source_labels: [__address__]\n"
		 "        regex: '(.*):80'\n"
		 "        target_label: __address__\n"
		 "        replacement: '$1:8443'\n"
		 "      - {target_label: __scheme__, replacement: https}\n"
		 "      - {target_label: __metrics_path__, replacement: /m}\n"
		 "      - {target_label: __tmp, replacement: gone}\n",
		 "      - targets: ['a:80', 'b:9']\n"
		 "        labels: {env: prod}\n"
		 "      - targets: ['c:80']\n"
		 "        labels: {env: dev}\n"
		 "      - targets: ['d:80']\n"
		 "        labels: {env: staging}\n"));
	srv_job_cfg *j = &cfg.jobs[0];
	assert_int_equal(j->ntargets, 2);
	assert_string_equal(j->targets[0].base, "https://a:8443");
	assert_string_equal(j->targets[0].metrics_path, "/m");
	labels_of(&j->targets[0], got, sizeof got);
	assert_string_equal(got, "env=prod,instance=a:80,job=j");
	assert_string_equal(j->targets[1].base, "https://d:8443");
	assert_true(j->targets[0].key != j->targets[1].key);
}

static void test_labelmap_labeldrop_labelkeep(void **state)
{
	(void)state;
	char got[2000];
	load(JOB("      - {action: labelmap, regex: 'k8s_(.+)', replacement: 'pod_$1'}\n"
		 "      - {action: labeldrop, regex: 'k8s_.*'}\n",
		 "      - targets: ['a:1']\n"
		 "        labels: {k8s_name: web, k8s_ns: prod, keep: 1}\n"));
	labels_of(&cfg.jobs[0].targets[0], got, sizeof got);
	assert_string_equal(got, "instance=a:1,job=j,keep=1,pod_name=web,pod_ns=prod");
	/* job is there before relabelling (labelkeep must keep it, as in
	 * Prometheus); instance is added after */
	load(JOB("      - {action: labelkeep, regex: '__.*|job|env'}\n",
		 "      - targets: ['a:1']\n"
		 "        labels: {env: x, other: y}\n"));
	labels_of(&cfg.jobs[0].targets[0], got, sizeof got);
	assert_string_equal(got, "env=x,instance=a:1,job=j");
	/* dropping __address__ leaves no target: one line */
	load_bad(JOB("      - {action: labeldrop, regex: '__address__'}\n",
		     "      - targets: ['a:1']\n"),
		 "t.yaml:6: targets: no __address__ after relabelling");
}

/* hashmod as Prometheus computes it (its own test's vector: "baz" mod
 * 1000 is 976), lowercase / uppercase, keepequal / dropequal. */
static void test_hashmod_case_equal(void **state)
{
	(void)state;
	char got[2000];
	load(JOB("      - {action: hashmod, source_labels: [c], target_label: d, modulus: 1000}\n"
		 "      - {action: hashmod, source_labels: [__address__], target_label: __tmp_shard,"
		 " modulus: 2}\n"
		 "      - {action: keep, source_labels: [__tmp_shard], regex: '1'}\n"
		 "      - {action: lowercase, source_labels: [Team, c], target_label: low}\n"
		 "      - {action: uppercase, source_labels: [Team], target_label: up}\n"
		 "      - {action: lowercase, source_labels: [none], target_label: Team}\n"
		 "      - {action: keepequal, source_labels: [port], target_label: want}\n"
		 "      - {action: DropEqual, source_labels: [c], target_label: no}\n",
		 "      - targets: ['a:1', 'b:1', 'c:1', 'd:1', 'e:1', 'f:1']\n"
		 "        labels: {c: baz, Team: 'Core-Ü', port: '1', want: '1', no: baz}\n"
		 "      - targets: ['g:1', 'h:1', 'i:1', 'j:1', 'k:1', 'l:1']\n"
		 "        labels: {c: baz, port: '1', want: '2'}\n"
		 "      - targets: ['m:1', 'n:1', 'o:1', 'p:1', 'q:1', 'r:1']\n"
		 "        labels: {c: baz, port: '1', want: '1', no: other}\n"));
	/* MD5's last 8 bytes mod 2 (computed independently with Python's
	 * hashlib) keep c:1 and f:1 of the first group, g, h, i and k of the
	 * second, n, q and r of the third; then the dropequal drops the first
	 * group's (c == no), the keepequal the second's (port != want): the
	 * third's shard-1 targets are left, exactly (a keep that kept all,
	 * none or the other shard, or a hashmod off Prometheus', leaves
	 * others) */
	static const char *const left[] = { "n:1", "q:1", "r:1" };
	assert_int_equal(cfg.jobs[0].ntargets, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(cfg.jobs[0].targets[i].instance, left[i]);
	load(JOB("      - {action: hashmod, source_labels: [c], target_label: d, modulus: 1000}\n"
		 "      - {action: hashmod, source_labels: [__address__], target_label: shard,"
		 " modulus: 2}\n"
		 "      - {action: lowercase, source_labels: [Team, c], target_label: low}\n"
		 "      - {action: uppercase, source_labels: [Team], target_label: up}\n"
		 "      - {action: lowercase, source_labels: [none], target_label: Team}\n"
		 "      - {action: keepequal, source_labels: [port], target_label: want}\n"
		 "      - {action: dropequal, source_labels: [c], target_label: no}\n",
		 "      - targets: ['a:1', 'c:1']\n"
		 "        labels: {c: baz, Team: 'Core-Ü', port: '1', want: '1', no: other}\n"));
	assert_int_equal(cfg.jobs[0].ntargets, 2);
	labels_of(&cfg.jobs[0].targets[0], got, sizeof got);
	assert_string_equal(got, "c=baz,d=976,instance=a:1,job=j,low=core-Ü;baz,no=other,port=1,"
				 "shard=0,up=CORE-Ü,want=1");
	labels_of(&cfg.jobs[0].targets[1], got, sizeof got);
	assert_non_null(strstr(got, ",shard=1,"));
}

static void test_bad_keys(void **state)
{
	(void)state;
	load_bad(JOB("      - {source_labels: [a], regex: '(', target_label: x}\n", ""),
		 "t.yaml:4: regex: bad regex \"(\" at offset 1");
	load_bad(JOB("      - {action: hashmap, source_labels: [a]}\n", ""),
		 "t.yaml:4: action: \"hashmap\" is not one of replace, keep, drop, labelmap, "
		 "labeldrop, labelkeep, hashmod, lowercase, uppercase, keepequal, dropequal");
	load_bad(JOB("      - {action: hashmod, source_labels: [a], target_label: h}\n", ""),
		 "t.yaml:4: modulus: missing (action hashmod needs it)");
	load_bad(JOB("      - {action: hashmod, source_labels: [a], target_label: h, modulus: 0}\n", ""),
		 "t.yaml:4: modulus: \"0\" is not a whole number above 0");
	load_bad(JOB("      - {action: hashmod, source_labels: [a], target_label: h, modulus: -3}\n", ""),
		 "modulus: \"-3\" is not a whole number above 0");
	load_bad(JOB("      - {source_labels: [a], target_label: h, modulus: 3}\n", ""),
		 "t.yaml:4: modulus: not used by action replace");
	load_bad(JOB("      - {action: lowercase, source_labels: [a], target_label: '$1'}\n", ""),
		 "t.yaml:4: target_label: \"$1\" is not a label name");
	load_bad(JOB("      - {action: keepequal, source_labels: [a], target_label: b, regex: x}\n", ""),
		 "t.yaml:4: regex: not used by action keepequal");
	load_bad(JOB("      - {action: dropequal, source_labels: [a], target_label: b, separator: x}\n", ""),
		 "t.yaml:4: separator: not used by action dropequal");
	load_bad(JOB("      - {action: uppercase, source_labels: [a]}\n", ""),
		 "t.yaml:4: target_label: missing (action uppercase needs it)");
	load_bad(JOB("      - {source_labels: [a]}\n", ""), "t.yaml:4: target_label: missing");
	load_bad(JOB("      - {action: keep}\n", ""), "t.yaml:4: source_labels: missing");
	load_bad(JOB("      - {action: labeldrop, regex: a, target_label: b}\n", ""),
		 "target_label: not used by action labeldrop");
	load_bad(JOB("      - {source_labels: [a-b], target_label: x}\n", ""),
		 "t.yaml:4: source_labels: \"a-b\" is not a label name");
	load_bad(JOB("      - {sources: [a]}\n", ""), "t.yaml:4: sources: unknown key in relabel_configs");
	load_bad("scrape_configs:\n  - job_name: j\n    profiling_config: {path_prefix: ev/null}\n",
		 "t.yaml:3: path_prefix: \"ev/null\" does not start with /");
	load_bad("scrape_configs:\n  - job_name: j\n    file_sd_configs:\n      - files: ['a/*/b.json']\n",
		 "t.yaml:4: files: \"a/*/b.json\" is not a .json, .yml or .yaml file");
	load_bad("scrape_configs:\n  - job_name: j\n    file_sd_configs:\n      - refresh_interval: 1m\n",
		 "t.yaml:4: files: missing");
	load_bad("scrape_configs:\n  - job_name: j\n    file_sd_configs:\n      - files: [x.json]\n"
		 "        refresh_interval: soon\n", "t.yaml:5: refresh_interval:");
	load_bad("scrape_configs:\n  - job_name: j\n    tls_config:\n      ca_file: /nonexistent/ca.pem\n",
		 "t.yaml:4: ca_file: cannot read /nonexistent/ca.pem");
	load_bad("scrape_configs:\n  - job_name: j\n    tls_config: {cert_file: /dev/null}\n",
		 "t.yaml:3: key_file: missing (cert_file and key_file go together)");
	load_bad("scrape_configs:\n  - job_name: j\n    bearer_token: a\n    basic_auth: {username: u}\n",
		 "t.yaml:4: basic_auth: at most one of basic_auth, authorization, bearer_token and "
		 "bearer_token_file (bearer_token is set)");
	load_bad("scrape_configs:\n  - job_name: j\n    authorization: {type: Basic, credentials: x}\n",
		 "t.yaml:3: type: type Basic is basic_auth's");
	load_bad("scrape_configs:\n  - job_name: j\n    basic_auth: {password: p}\n",
		 "t.yaml:3: username: missing in basic_auth");
	load_bad("scrape_configs:\n  - job_name: j\n    basic_auth: {username: u, password: p,"
		 " password_file: /dev/null}\n", "password_file: at most one of password and password_file");
	load_bad("scrape_configs:\n  - job_name: j\n    bearer_token: \"a\\nb\"\n",
		 "t.yaml:3: bearer_token: a line break in it");
	/* relative files are the config file's folder's */
	srv_config_free(&cfg);
	srv_config_init(&cfg);
	char err[512] = "";
	const char *t = "scrape_configs:\n  - job_name: j\n    bearer_token_file: tok\n";
	assert_int_equal(srv_config_parse(&cfg, "/nonexistent/c.yaml", t, strlen(t), err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot read /nonexistent/tok"));
	/* good ones */
	load("scrape_configs:\n  - job_name: j\n    scheme: https\n"
	     "    tls_config: {ca_file: /dev/null, insecure_skip_verify: true}\n"
	     "    authorization: {credentials_file: /dev/null}\n"
	     "    profiling_config: {path_prefix: /p/}\n"
	     "    file_sd_configs:\n      - files: ['sd/*.json', b.yml]\n");
	srv_job_cfg *j = &cfg.jobs[0];
	assert_string_equal(j->http.auth_type, "Bearer");
	assert_string_equal(j->http.credentials_file, "/dev/null");
	assert_true(j->http.insecure_skip_verify);
	assert_string_equal(j->prefix, "/p");
	assert_int_equal(j->nfile_sd, 1);
	assert_string_equal(j->file_sd[0].files[1], "b.yml");
	assert_int_equal(j->file_sd[0].refresh_ns, 300 * (int64_t)1000000000);
}

typedef struct seen {
	char lines[8][300];
	size_t n;
} seen;

static int on_target(void *ctx, const char *addr, const srv_lset *l, char *err, size_t errsz)
{
	seen *s = ctx;
	if (!strcmp(addr, "fail:1")) {
		snprintf(err, errsz, "no such target");
		return -1;
	}
	const char *env = srv_lset_get(l, "env");
	snprintf(s->lines[s->n++], 300, "%s %s %s", addr, env ? env : "-",
		 srv_lset_get(l, "__meta_filepath"));
	return 0;
}

static void test_sd_files(void **state)
{
	(void)state;
	seen s = { 0 };
	char err[512];
	const char *json = "[{\"targets\": [\"a:1\", \"b:2\"], \"labels\": {\"env\": \"prod\"}},\n"
			   " {\"targets\": [\"c:3\"]}]";
	assert_int_equal(srv_sd_parse("x.json", json, strlen(json), on_target, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[0], "a:1 prod x.json");
	assert_string_equal(s.lines[2], "c:3 - x.json");
	s.n = 0;
	const char *yaml = "- targets: [d:4]\n  labels:\n    env: dev\n";
	assert_int_equal(srv_sd_parse("y.yaml", yaml, strlen(yaml), on_target, &s, err, sizeof err), 0);
	assert_string_equal(s.lines[0], "d:4 dev y.yaml");
	assert_int_equal(srv_sd_parse("e.json", "", 0, on_target, &s, err, sizeof err), 0);
	const char *bad[][2] = {
		{ "{\"targets\": []}", "e.json:1: (top): want a list" },
		{ "[{\"targets\": \"a:1\"}]", "e.json:1: targets: want a list" },
		{ "[{\"target\": [\"a:1\"]}]", "e.json:1: target: unknown key in a target group" },
		{ "- targets: [a:1]\n  labels: {\"bad name\": x}\n", "e.json:2: bad name: label name" },
		{ "- targets: [ok:1, fail:1]\n", "e.json:1: targets: no such target" },
		{ "[{\"targets\": [\"a:1\"]", "e.json:2: did not find expected" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s.n = 0;
		err[0] = '\0';
		assert_int_equal(srv_sd_parse("e.json", bad[i][0], strlen(bad[i][0]), on_target, &s, err,
					      sizeof err), -1);
		if (!strstr(err, bad[i][1]))
			fail_msg("%zu: want \"%s\" in: %s", i, bad[i][1], err);
	}
}

int main(void)
{
	srv_config_init(&cfg);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_keep_drop_address),
		cmocka_unit_test(test_labelmap_labeldrop_labelkeep),
		cmocka_unit_test(test_hashmod_case_equal),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_sd_files),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srv_config_free(&cfg);
	return rc;
}
