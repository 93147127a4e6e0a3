/*
 * config.c - the server's YAML config (libyaml), Parca-compatible where the
 * concepts match:
 *
 *   retention: 7d
 *   limits: {max_body: 16MiB, max_decoded: 64MiB, max_series: 1000000,
 *            max_samples: 1000000, max_series_per_target: 10000,
 *            max_scrape_bytes: 64MiB}
 *   scrape_configs:
 *     - job_name: api
 *       scrape_interval: 15s            # default 15s
 *       scrape_timeout: 10s             # default: the interval
 *       scheme: http
 *       metrics_path: /metrics          # cprof: "" scrapes no metrics
 *       profiling_config:
 *         path_prefix: /debug/pprof     # as Parca's
 *         pprof_config:
 *           process_cpu: {enabled: true, path: /debug/pprof/profile, delta: true, seconds: 14}
 *           memory: {enabled: false}
 *       static_configs:
 *         - targets: ["127.0.0.1:6060"]
 *           labels: {env: prod}
 *   rules:
 *     - name: many-threads
 *       when: cprof_heap_inuse_bytes > 2e9  # METRIC (>|>=|<|<=) NUMBER,
 *                                       # or rate(METRIC), rate(cpu);
 *                                       # METRIC{label="v",l2=~"re"} too
 *       job: api                        # default: every job
 *       cooldown: 10m
 *       seconds: 30                     # the CPU snapshot's length
 *
 * The pprof_config names are Parca's (process_cpu, memory, block, mutex,
 * goroutine) plus heap, allocs and threadcreate; other names are custom
 * profiles (kind = the name, path required).  An unknown key, a value of
 * the wrong type or out of range is one line "FILE:LINE: KEY: problem",
 * and the server exits 2.  The parse is bounded: the file is read up to
 * 4 MiB, targets per job and jobs are capped.
 *
 * Not thread-safe (the server reads its config once, before any thread).
 */
#include "server_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CFG_MAX_FILE ((size_t)4 << 20)
#define CFG_MAX_JOBS 1000
#define CFG_MAX_TARGETS 10000
#define CFG_MAX_RULES 100
#define SEC ((int64_t)1000000000)

void srv_config_init(srv_config *c)
{
	memset(c, 0, sizeof *c);
	c->limits.max_body = (size_t)16 << 20;
	c->limits.max_decoded = (size_t)64 << 20;
	c->limits.max_series = 1000000;
	c->limits.max_samples = 1000000;
	c->limits.max_series_per_target = 10000;
	c->limits.max_scrape_bytes = (size_t)64 << 20;
}

void srv_config_free(srv_config *c)
{
	for (size_t i = 0; i < c->njobs; i++)
		free(c->jobs[i].targets);
	free(c->jobs);
	for (size_t i = 0; i < c->nrules; i++)
		srv_selector_free(c->rules[i].sel);
	free(c->rules);
	memset(c, 0, sizeof *c);
}

/* ---- profiles ---------------------------------------------------------------- */

static const struct { const char *name, *kind, *path; bool delta; } KNOWN[] = {
	{ "process_cpu", "cpu", "/profile", true },
	{ "cpu", "cpu", "/profile", true },
	{ "memory", "allocs", "/allocs", true },
	{ "allocs", "allocs", "/allocs", true },
	{ "heap", "heap", "/heap", false },
	{ "mutex", "mutex", "/mutex", true },
	{ "block", "block", "/block", true },
	{ "goroutine", "goroutine", "/goroutine", false },
	{ "threadcreate", "threadcreate", "/threadcreate", false },
};
#define NKNOWN (sizeof KNOWN / sizeof KNOWN[0])

static srv_pprof_cfg *prof_find(srv_job_cfg *j, const char *name)
{
	for (size_t i = 0; i < j->nprof; i++)
		if (!strcmp(j->prof[i].name, name))
			return &j->prof[i];
	return NULL;
}

static srv_pprof_cfg *prof_add(srv_job_cfg *j, const char *name, const char *prefix)
{
	srv_pprof_cfg *p = prof_find(j, name);
	if (p || j->nprof >= SRV_PROF_MAX)
		return p;
	p = &j->prof[j->nprof++];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->kind, sizeof p->kind, "%s", name);
	p->enabled = true;
	for (size_t k = 0; k < NKNOWN; k++)
		if (!strcmp(KNOWN[k].name, name)) {
			snprintf(p->kind, sizeof p->kind, "%s", KNOWN[k].kind);
			snprintf(p->path, sizeof p->path, "%s%s", prefix, KNOWN[k].path);
			p->delta = KNOWN[k].delta;
		}
	return p;
}

static void job_profiles(srv_job_cfg *j, const char *prefix)
{
	j->nprof = 0;
	static const char *const def[] = { "process_cpu", "heap", "memory", "mutex", "block",
					   "goroutine", "threadcreate" };
	for (size_t i = 0; i < sizeof def / sizeof def[0]; i++)
		prof_add(j, def[i], prefix);
}

void srv_job_default_profiles(srv_job_cfg *j)
{
	job_profiles(j, "/debug/pprof");
}

static void job_init(srv_job_cfg *j, const char *name)
{
	memset(j, 0, sizeof *j);
	snprintf(j->name, sizeof j->name, "%s", name);
	j->interval_ns = 15 * SEC;
	j->metrics = true;
	snprintf(j->metrics_path, sizeof j->metrics_path, "/metrics");
	srv_job_default_profiles(j);
}

/* Add target addr (host:port, or scheme://host:port[/...]) with labels. */
static int add_target(srv_job_cfg *j, const char *scheme, const char *addr, const srv_lset *extra,
		      char *err, size_t errsz)
{
	if (j->ntargets >= CFG_MAX_TARGETS) {
		snprintf(err, errsz, "more than %d targets in a job", CFG_MAX_TARGETS);
		return -1;
	}
	const char *hp = addr;
	const char *sch = scheme;
	char schbuf[8];
	const char *sep = strstr(addr, "://");
	if (sep) {
		size_t sn = (size_t)(sep - addr);
		if (sn >= sizeof schbuf) {
			snprintf(err, errsz, "unknown URL scheme in \"%.80s\"", addr);
			return -1;
		}
		memcpy(schbuf, addr, sn);
		schbuf[sn] = '\0';
		sch = schbuf;
		hp = sep + 3;
	}
	if (strcmp(sch, "http") && strcmp(sch, "https")) {
		snprintf(err, errsz, "scheme \"%s\" is not http or https", sch);
		return -1;
	}
	size_t hn = strcspn(hp, "/?#");
	if (hn == 0 || hn >= 256 || !memchr(hp, ':', hn)) {
		snprintf(err, errsz, "target \"%.80s\" is not HOST:PORT", addr);
		return -1;
	}
	void *v = realloc(j->targets, (j->ntargets + 1) * sizeof *j->targets);
	if (!v) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	j->targets = v;
	srv_target_cfg *t = &j->targets[j->ntargets];
	memset(t, 0, sizeof *t);
	snprintf(t->base, sizeof t->base, "%s://%.*s", sch, (int)hn, hp);
	snprintf(t->instance, sizeof t->instance, "%.*s", (int)hn, hp);
	if (extra)
		t->labels = *extra;
	char e2[SRV_ERR_MAX];
	if (srv_lset_set(&t->labels, "job", 3, j->name, strlen(j->name), e2, sizeof e2) ||
	    srv_lset_set(&t->labels, "instance", 8, t->instance, strlen(t->instance), e2, sizeof e2)) {
		snprintf(err, errsz, "%s", e2);
		return -1;
	}
	/* a path in a -scrape URL is the profiles' prefix (…/debug/pprof) */
	const char *path = hp + hn;
	if (*path == '/' && strlen(path) > 1) {
		char prefix[200];
		snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(path, "?#"), path);
		size_t pl = strlen(prefix);
		while (pl > 1 && prefix[pl - 1] == '/')
			prefix[--pl] = '\0';
		job_profiles(j, prefix);
	}
	j->ntargets++;
	return 0;
}

int srv_config_add_scrape_url(srv_config *c, const char *url, char *err, size_t errsz)
{
	if (c->njobs >= CFG_MAX_JOBS) {
		snprintf(err, errsz, "too many jobs");
		return -1;
	}
	void *v = realloc(c->jobs, (c->njobs + 1) * sizeof *c->jobs);
	if (!v) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	c->jobs = v;
	srv_job_cfg *j = &c->jobs[c->njobs];
	job_init(j, "cprof");
	if (!strstr(url, "://")) {
		snprintf(err, errsz, "want a URL such as http://127.0.0.1:6060");
		free(j->targets);
		return -1;
	}
	if (add_target(j, "http", url, NULL, err, errsz)) {
		free(j->targets);
		return -1;
	}
	c->njobs++;
	return 0;
}

/* ---- the YAML walk ------------------------------------------------------------ */

typedef struct walk {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t errsz;
	srv_config *c;
} walk;

static int fail(walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* keys and values come from the file and may hold line breaks or
	 * control bytes: the refusal is one printable line */
	char line[512];
	snprintf(line, sizeof line, "%s:%lu: %s: %s", w->file,
		 n ? (unsigned long)n->start_mark.line + 1 : 0UL, key, msg);
	cprof_escape(w->err, w->errsz, line, strlen(line));
	return -1;
}

static yaml_node_t *node(walk *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(walk *w, yaml_node_t *n, const char *key, const char **out)
{
	*out = scalar(n);
	if (!*out)
		return fail(w, n, key, "want a single value");
	return 0;
}

static int want_map(walk *w, yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return fail(w, n, key, "want a mapping (key: value lines)");
	return 0;
}

static int get_str(walk *w, yaml_node_t *n, const char *key, char *out, size_t outsz)
{
	const char *s;
	if (want_scalar(w, n, key, &s))
		return -1;
	if (strlen(s) >= outsz)
		return fail(w, n, key, "longer than %zu bytes", outsz - 1);
	snprintf(out, outsz, "%s", s);
	return 0;
}

static int get_bool(walk *w, yaml_node_t *n, const char *key, bool *out)
{
	const char *s;
	if (want_scalar(w, n, key, &s))
		return -1;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*out = false;
	else
		return fail(w, n, key, "\"%.40s\" is not true or false", s);
	return 0;
}

static int get_dur(walk *w, yaml_node_t *n, const char *key, int64_t *out, bool positive)
{
	const char *s;
	if (want_scalar(w, n, key, &s))
		return -1;
	cprof_error e = { 0 };
	if (srv_duration_parse(s, strlen(s), out, &e))
		return fail(w, n, key, "%s", e.msg);
	if (positive && *out <= 0)
		return fail(w, n, key, "must be more than 0");
	return 0;
}

/* A size: a number with an optional unit (KB, KiB, MB, MiB, GB, GiB). */
static int get_size(walk *w, yaml_node_t *n, const char *key, size_t *out)
{
	const char *s;
	if (want_scalar(w, n, key, &s))
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v > 0) || v != v)
		return fail(w, n, key, "\"%.40s\" is not a positive number", s);
	static const struct { const char *u; double m; } units[] = {
		{ "", 1 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
	};
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].u)) {
			double b = v * units[i].m;
			if (b >= 1e15)
				return fail(w, n, key, "too large");
			*out = (size_t)b;
			return 0;
		}
	return fail(w, n, key, "unknown unit \"%.20s\" (B, KB, MB, GB, KiB, MiB, GiB)", end);
}

/* for (key, value) in mapping n */
#define EACH_PAIR(w, n, kn, vn, K) \
	for (yaml_node_pair_t *pr_##kn = (n)->data.mapping.pairs.start; \
	     pr_##kn < (n)->data.mapping.pairs.top; pr_##kn++) \
		for (yaml_node_t *kn = node(w, pr_##kn->key), *vn = node(w, pr_##kn->value), \
		     *once_##kn = kn; once_##kn; once_##kn = NULL) \
			for (const char *K = scalar(kn) ? scalar(kn) : ""; once_##kn; once_##kn = NULL)

static int parse_limits(walk *w, yaml_node_t *n)
{
	if (want_map(w, n, "limits"))
		return -1;
	srv_limits *l = &w->c->limits;
	EACH_PAIR(w, n, kn, vn, key) {
		size_t *slot = !strcmp(key, "max_body") ? &l->max_body
			: !strcmp(key, "max_decoded") ? &l->max_decoded
			: !strcmp(key, "max_series") ? &l->max_series
			: !strcmp(key, "max_samples") ? &l->max_samples
			: !strcmp(key, "max_series_per_target") ? &l->max_series_per_target
			: !strcmp(key, "max_scrape_bytes") ? &l->max_scrape_bytes : NULL;
		if (!slot)
			return fail(w, kn, key, "unknown key in limits (max_body, max_decoded, max_series, "
				    "max_samples, max_series_per_target, max_scrape_bytes)");
		if (get_size(w, vn, key, slot))
			return -1;
	}
	return 0;
}

static int parse_pprof(walk *w, srv_job_cfg *j, yaml_node_t *n, const char *prefix)
{
	if (want_map(w, n, "pprof_config"))
		return -1;
	EACH_PAIR(w, n, kn, vn, name) {
		if (!*name || strlen(name) >= 64)
			return fail(w, kn, "pprof_config", "profile name empty or too long");
		srv_pprof_cfg *p = prof_add(j, name, prefix);
		if (!p)
			return fail(w, kn, name, "more than %d profiles in a job", SRV_PROF_MAX);
		if (want_map(w, vn, name))
			return -1;
		EACH_PAIR(w, vn, k2, v2, key) {
			int rc;
			if (!strcmp(key, "enabled"))
				rc = get_bool(w, v2, key, &p->enabled);
			else if (!strcmp(key, "delta"))
				rc = get_bool(w, v2, key, &p->delta);
			else if (!strcmp(key, "path")) {
				rc = get_str(w, v2, key, p->path, sizeof p->path);
				if (!rc && p->path[0] != '/')
					rc = fail(w, v2, key, "must start with /");
			} else if (!strcmp(key, "seconds"))
				rc = get_dur(w, v2, key, &p->seconds_ns, true);
			else if (!strcmp(key, "keep_sample_type"))
				rc = 0;     /* Parca's; every sample type is kept */
			else
				rc = fail(w, k2, key, "unknown key in pprof_config.%s (enabled, path, delta, seconds)",
					  name);
			if (rc)
				return -1;
		}
		if (p->enabled && !p->path[0])
			return fail(w, kn, name, "a custom profile needs a path");
	}
	return 0;
}

static int parse_static(walk *w, srv_job_cfg *j, const char *scheme, yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(w, n, "static_configs", "want a list");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *sc = node(w, *it);
		if (want_map(w, sc, "static_configs"))
			return -1;
		srv_lset labels = { 0 };
		yaml_node_t *targets = NULL;
		EACH_PAIR(w, sc, kn, vn, key) {
			if (!strcmp(key, "targets")) {
				if (!vn || vn->type != YAML_SEQUENCE_NODE)
					return fail(w, vn, key, "want a list of HOST:PORT");
				targets = vn;
			} else if (!strcmp(key, "labels")) {
				if (want_map(w, vn, key))
					return -1;
				EACH_PAIR(w, vn, k2, v2, lname) {
					const char *val;
					char e2[SRV_ERR_MAX];
					if (want_scalar(w, v2, lname, &val))
						return -1;
					if (srv_lset_set(&labels, lname, strlen(lname), val, strlen(val), e2, sizeof e2))
						return fail(w, k2, lname, "%s", e2);
				}
			} else {
				return fail(w, kn, key, "unknown key in static_configs (targets, labels)");
			}
		}
		if (!targets)
			continue;
		for (yaml_node_item_t *t = targets->data.sequence.items.start;
		     t < targets->data.sequence.items.top; t++) {
			yaml_node_t *tn = node(w, *t);
			const char *addr;
			char e2[SRV_ERR_MAX];
			if (want_scalar(w, tn, "targets", &addr))
				return -1;
			if (add_target(j, scheme, addr, &labels, e2, sizeof e2))
				return fail(w, tn, "targets", "%s", e2);
		}
	}
	return 0;
}

static int parse_job(walk *w, yaml_node_t *n)
{
	if (want_map(w, n, "scrape_configs"))
		return -1;
	if (w->c->njobs >= CFG_MAX_JOBS)
		return fail(w, n, "scrape_configs", "more than %d jobs", CFG_MAX_JOBS);
	void *v = realloc(w->c->jobs, (w->c->njobs + 1) * sizeof *w->c->jobs);
	if (!v)
		return fail(w, n, "scrape_configs", "out of memory");
	w->c->jobs = v;
	srv_job_cfg *j = &w->c->jobs[w->c->njobs++];
	job_init(j, "");
	char scheme[8] = "http", prefix[200] = "/debug/pprof";
	yaml_node_t *stat = NULL, *prof = NULL;
	/* first the keys others depend on */
	EACH_PAIR(w, n, kn, vn, key) {
		int rc = 0;
		if (!strcmp(key, "job_name"))
			rc = get_str(w, vn, key, j->name, sizeof j->name);
		else if (!strcmp(key, "scrape_interval"))
			rc = get_dur(w, vn, key, &j->interval_ns, true);
		else if (!strcmp(key, "scrape_timeout"))
			rc = get_dur(w, vn, key, &j->timeout_ns, true);
		else if (!strcmp(key, "scheme")) {
			rc = get_str(w, vn, key, scheme, sizeof scheme);
			if (!rc && strcmp(scheme, "http") && strcmp(scheme, "https"))
				rc = fail(w, vn, key, "want http or https");
		} else if (!strcmp(key, "metrics_path")) {
			rc = get_str(w, vn, key, j->metrics_path, sizeof j->metrics_path);
			j->metrics = j->metrics_path[0] != '\0';
		} else if (!strcmp(key, "static_configs"))
			stat = vn;
		else if (!strcmp(key, "profiling_config"))
			prof = vn;
		else
			rc = fail(w, kn, key, "unknown key in scrape_configs (job_name, scrape_interval, "
				  "scrape_timeout, scheme, metrics_path, profiling_config, static_configs)");
		if (rc)
			return -1;
	}
	if (!j->name[0])
		return fail(w, n, "job_name", "missing");
	if (j->interval_ns < SEC)
		return fail(w, n, "scrape_interval", "must be at least 1s");
	if (prof) {
		if (want_map(w, prof, "profiling_config"))
			return -1;
		yaml_node_t *pp = NULL;
		EACH_PAIR(w, prof, kn, vn, key) {
			if (!strcmp(key, "path_prefix")) {
				if (get_str(w, vn, key, prefix, sizeof prefix))
					return -1;
				size_t pl = strlen(prefix);
				while (pl && prefix[pl - 1] == '/')
					prefix[--pl] = '\0';
				job_profiles(j, prefix);
			} else if (!strcmp(key, "pprof_config")) {
				pp = vn;
			} else {
				return fail(w, kn, key, "unknown key in profiling_config (path_prefix, pprof_config)");
			}
		}
		if (pp && parse_pprof(w, j, pp, prefix))
			return -1;
	}
	if (stat && parse_static(w, j, scheme, stat))
		return -1;
	return 0;
}

/* The length of the selector {...} at s: up to its closing '}', past
 * quoted values ("..." and '...' with backslash escapes, `...` raw); 0 when
 * it is not closed. */
static size_t selector_len(const char *s)
{
	const char *p = s + 1;
	while (*p && *p != '}') {
		char q = *p;
		if (q == '"' || q == '\'' || q == '`') {
			for (p++; *p && *p != q; p++)
				if (*p == '\\' && q != '`' && p[1])
					p++;
			if (!*p)
				return 0;
		}
		p++;
	}
	return *p == '}' ? (size_t)(p + 1 - s) : 0;
}

/* "METRIC OP NUMBER", METRIC = NAME[{matchers}] or rate(NAME[{matchers}]) */
static int parse_when(walk *w, yaml_node_t *n, srv_rule_cfg *r)
{
	const char *s;
	if (want_scalar(w, n, "when", &s))
		return -1;
	while (*s == ' ')
		s++;
	r->rate = !strncmp(s, "rate(", 5);
	if (r->rate)
		s += 5;
	size_t mn = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
	if (mn == 0 || mn >= sizeof r->metric)
		return fail(w, n, "when", "want METRIC OP NUMBER or rate(METRIC) OP NUMBER, "
			    "e.g. cprof_heap_inuse_bytes > 2e9");
	memcpy(r->metric, s, mn);
	r->metric[mn] = '\0';
	const char *p = s + mn;
	srv_selector_free(r->sel);
	r->sel = NULL;
	if (*p == '{') {
		size_t sn = selector_len(p);
		if (!sn)
			return fail(w, n, "when", "%s{ without its closing '}'", r->metric);
		cprof_error e = { 0 };
		if (srv_selector_parse(p, sn, &r->sel, &e))
			return fail(w, n, "when", "%s", e.msg);
		p += sn;
	}
	if (r->rate) {
		if (*p != ')')
			return fail(w, n, "when", "rate( without its closing ')'");
		p++;
		if (!strcmp(r->metric, "cpu"))
			snprintf(r->metric, sizeof r->metric, "process_cpu_seconds_total");
	}
	while (*p == ' ')
		p++;
	if (!strncmp(p, ">=", 2))
		r->op = SRV_OP_GE, p += 2;
	else if (!strncmp(p, "<=", 2))
		r->op = SRV_OP_LE, p += 2;
	else if (*p == '>')
		r->op = SRV_OP_GT, p++;
	else if (*p == '<')
		r->op = SRV_OP_LT, p++;
	else
		return fail(w, n, "when", "want an operator (>, >=, <, <=) after %s", r->metric);
	char *end;
	errno = 0;
	r->threshold = strtod(p, &end);
	while (*end == ' ')
		end++;
	if (end == p || *end || errno || !isfinite(r->threshold))
		return fail(w, n, "when", "want a number after the operator");
	return 0;
}

static int parse_rules(walk *w, yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(w, n, "rules", "want a list");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *rn = node(w, *it);
		if (want_map(w, rn, "rules"))
			return -1;
		if (w->c->nrules >= CFG_MAX_RULES)
			return fail(w, rn, "rules", "more than %d rules", CFG_MAX_RULES);
		void *v = realloc(w->c->rules, (w->c->nrules + 1) * sizeof *w->c->rules);
		if (!v)
			return fail(w, rn, "rules", "out of memory");
		w->c->rules = v;
		srv_rule_cfg *r = &w->c->rules[w->c->nrules++];
		memset(r, 0, sizeof *r);
		r->cooldown_ns = 600 * SEC;
		r->seconds_ns = 30 * SEC;
		bool have_when = false;
		EACH_PAIR(w, rn, kn, vn, key) {
			int rc;
			if (!strcmp(key, "name"))
				rc = get_str(w, vn, key, r->name, sizeof r->name);
			else if (!strcmp(key, "when"))
				rc = parse_when(w, vn, r), have_when = true;
			else if (!strcmp(key, "job"))
				rc = get_str(w, vn, key, r->job, sizeof r->job);
			else if (!strcmp(key, "cooldown"))
				rc = get_dur(w, vn, key, &r->cooldown_ns, false);
			else if (!strcmp(key, "seconds"))
				rc = get_dur(w, vn, key, &r->seconds_ns, true);
			else
				rc = fail(w, kn, key, "unknown key in rules (name, when, job, cooldown, seconds)");
			if (rc)
				return -1;
		}
		if (!r->name[0])
			return fail(w, rn, "name", "missing (a rule's snapshots are stored under its name)");
		if (!have_when)
			return fail(w, rn, "when", "missing (e.g. when: cprof_threads > 500)");
	}
	return 0;
}

int srv_config_parse(srv_config *c, const char *name, const void *text, size_t len,
		     char *err, size_t errsz)
{
	yaml_parser_t ps;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&ps)) {
		snprintf(err, errsz, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&ps, text, len);
	if (!yaml_parser_load(&ps, &doc)) {
		snprintf(err, errsz, "%s:%lu: %s", name, (unsigned long)ps.problem_mark.line + 1,
			 ps.problem ? ps.problem : "not YAML");
		yaml_parser_delete(&ps);
		return -1;
	}
	walk w = { .doc = &doc, .file = name, .err = err, .errsz = errsz, .c = c };
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
		if (root->type != YAML_MAPPING_NODE) {
			rc = fail(&w, root, "(top)", "want a mapping (scrape_configs:, rules:, ...)");
		} else {
			EACH_PAIR(&w, root, kn, vn, key) {
				if (rc)
					break;
				if (!strcmp(key, "scrape_configs")) {
					if (!vn || vn->type != YAML_SEQUENCE_NODE) {
						rc = fail(&w, vn, key, "want a list of jobs");
						break;
					}
					for (yaml_node_item_t *it = vn->data.sequence.items.start;
					     !rc && it < vn->data.sequence.items.top; it++)
						rc = parse_job(&w, node(&w, *it));
				} else if (!strcmp(key, "retention")) {
					rc = get_dur(&w, vn, key, &c->retention_ns, false);
				} else if (!strcmp(key, "limits")) {
					rc = parse_limits(&w, vn);
				} else if (!strcmp(key, "rules")) {
					rc = parse_rules(&w, vn);
				} else {
					rc = fail(&w, kn, key, "unknown key (scrape_configs, retention, rules, limits)");
				}
			}
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&ps);
	return rc;
}

int srv_config_load(srv_config *c, const char *path, char *err, size_t errsz)
{
	void *buf = NULL;
	size_t len = 0;
	cprof_error e = { 0 };
	if (cprof_read_file(path, CFG_MAX_FILE, &buf, &len, &e)) {
		snprintf(err, errsz, "-config=%s: %s", path, e.msg);
		return -1;
	}
	int rc = srv_config_parse(c, path, buf, len, err, errsz);
	free(buf);
	return rc;
}
