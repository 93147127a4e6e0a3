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
 *       file_sd_configs:                # discovery.c
 *         - files: [sd/tg_*.json]       # relative: the config's folder
 *           refresh_interval: 5m
 *       relabel_configs:                # relabel.c (Prometheus')
 *         - {source_labels: [env], regex: prod, action: keep}
 *       tls_config: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key,
 *                    insecure_skip_verify: false}
 *       authorization: {type: Bearer, credentials_file: token}
 *       # or basic_auth: {username: u, password_file: pw},
 *       # or bearer_token / bearer_token_file (one of them)
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
 * and the server exits 2; files the config names (CA, certificates,
 * secrets) must be readable at start.  The parse is bounded: the file is
 * read up to 4 MiB, targets per job, jobs and relabel rules are capped.
 * srv_sd_parse reads file_sd files with the same walk.
 *
 * Not thread-safe (the server reads its config once, before any thread),
 * but srv_sd_parse, which keeps its state on its stack.
 */
#include "server_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
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
	for (size_t i = 0; i < c->njobs; i++) {
		for (size_t t = 0; t < c->jobs[i].ntargets; t++)
			srv_target_cfg_clear(&c->jobs[i].targets[t]);
		free(c->jobs[i].targets);
		for (size_t r = 0; r < c->jobs[i].nrelabel; r++)
			srv_relabel_free(&c->jobs[i].relabel[r]);
		free(c->jobs[i].relabel);
		free(c->jobs[i].file_sd);
	}
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
	snprintf(j->prefix, sizeof j->prefix, "%s", prefix);
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
	snprintf(j->scheme, sizeof j->scheme, "http");
	srv_job_default_profiles(j);
}

/* Add target addr (host:port, or scheme://host:port[/...]) with labels,
 * relabelled (a target relabelling drops is not added). */
static int add_target(srv_job_cfg *j, const char *addr, const srv_lset *extra,
		      char *err, size_t errsz)
{
	if (j->ntargets >= CFG_MAX_TARGETS) {
		snprintf(err, errsz, "more than %d targets in a job", CFG_MAX_TARGETS);
		return -1;
	}
	srv_target_cfg *t = malloc(sizeof *t);
	if (!t) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	int rc = srv_target_build(j, addr, extra, t, err, errsz);
	if (rc == 0) {
		void *v = realloc(j->targets, (j->ntargets + 1) * sizeof *j->targets);
		if (!v) {
			snprintf(err, errsz, "out of memory");
			srv_target_cfg_clear(t);
			rc = -1;
		} else {
			j->targets = v;
			j->targets[j->ntargets++] = *t;     /* its labels move with it */
		}
	}
	free(t);
	return rc < 0 ? -1 : 0;
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
	/* a path in a -scrape URL is the profiles' prefix (…/debug/pprof) */
	const char *hp = strstr(url, "://") + 3;
	const char *path = hp + strcspn(hp, "/?#");
	if (*path == '/' && strlen(path) > 1) {
		char prefix[200];
		snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(path, "?#"), path);
		size_t pl = strlen(prefix);
		while (pl > 1 && prefix[pl - 1] == '/')
			prefix[--pl] = '\0';
		job_profiles(j, prefix);
	}
	if (add_target(j, url, NULL, err, errsz)) {
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
			if (b < 1)      /* ".5": a limit of 0 bytes, which refuses everything */
				return fail(w, n, key, "\"%.40s\" is less than one byte", s);
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

static int parse_static(walk *w, srv_job_cfg *j, yaml_node_t *n)
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
			if (add_target(j, addr, &labels, e2, sizeof e2))
				return fail(w, tn, "targets", "%s", e2);
		}
	}
	return 0;
}

/* ---- the HTTP client of a job's targets ------------------------------------ */

/* A file name: relative ones are taken from the config file's folder. */
static int resolve(walk *w, yaml_node_t *n, const char *key, const char *s, char *out)
{
	const char *slash = strrchr(w->file, '/');
	int dn = *s == '/' || !slash ? 0 : (int)(slash - w->file + 1);
	if (!*s)
		return fail(w, n, key, "empty file name");
	if ((size_t)dn + strlen(s) >= SRV_PATH_MAX)
		return fail(w, n, key, "file name longer than %d bytes", SRV_PATH_MAX - 1);
	snprintf(out, SRV_PATH_MAX, "%.*s%s", dn, w->file, s);
	return 0;
}

/* A file that must be readable now (it is read again at each use). */
static int get_file(walk *w, yaml_node_t *n, const char *key, char *out)
{
	const char *s;
	if (want_scalar(w, n, key, &s) || resolve(w, n, key, s, out))
		return -1;
	if (access(out, R_OK))
		return fail(w, n, key, "cannot read %s: %s", out, strerror(errno));
	return 0;
}

/* A secret sent in a header: one line. */
static int get_secret(walk *w, yaml_node_t *n, const char *key, char *out, size_t outsz)
{
	if (get_str(w, n, key, out, outsz))
		return -1;
	if (strpbrk(out, "\r\n"))
		return fail(w, n, key, "a line break in it");
	return 0;
}

/* key is name (a secret, into val) or name_file (its file, into file);
 * *have says one of the two was given already. */
static int secret_pair(walk *w, yaml_node_t *kn, yaml_node_t *vn, const char *key, const char *name,
		       bool *have, char *val, size_t valsz, char *file)
{
	if (*have)
		return fail(w, kn, key, "at most one of %s and %s_file", name, name);
	*have = true;
	return strcmp(key, name) ? get_file(w, vn, key, file) : get_secret(w, vn, key, val, valsz);
}

static int parse_tls(walk *w, srv_job_cfg *j, yaml_node_t *n)
{
	if (want_map(w, n, "tls_config"))
		return -1;
	srv_http_cfg *h = &j->http;
	EACH_PAIR(w, n, kn, vn, key) {
		int rc;
		if (!strcmp(key, "ca_file"))
			rc = get_file(w, vn, key, h->ca_file);
		else if (!strcmp(key, "cert_file"))
			rc = get_file(w, vn, key, h->cert_file);
		else if (!strcmp(key, "key_file"))
			rc = get_file(w, vn, key, h->key_file);
		else if (!strcmp(key, "insecure_skip_verify"))
			rc = get_bool(w, vn, key, &h->insecure_skip_verify);
		else
			rc = fail(w, kn, key, "unknown key in tls_config (ca_file, cert_file, key_file, "
				  "insecure_skip_verify)");
		if (rc)
			return -1;
	}
	if (!h->cert_file[0] != !h->key_file[0])
		return fail(w, n, h->cert_file[0] ? "key_file" : "cert_file",
			    "missing (cert_file and key_file go together)");
	return 0;
}

static int parse_basic_auth(walk *w, srv_job_cfg *j, yaml_node_t *n)
{
	if (want_map(w, n, "basic_auth"))
		return -1;
	srv_http_cfg *h = &j->http;
	h->basic = true;
	bool have_pw = false;
	EACH_PAIR(w, n, kn, vn, key) {
		int rc;
		if (!strcmp(key, "username")) {
			rc = get_secret(w, vn, key, h->username, sizeof h->username);
			if (!rc && strchr(h->username, ':'))
				rc = fail(w, vn, key, "a ':' in it (basic auth cannot send it)");
		} else if (!strcmp(key, "password") || !strcmp(key, "password_file")) {
			rc = secret_pair(w, kn, vn, key, "password", &have_pw, h->password,
					 sizeof h->password, h->password_file);
		} else {
			rc = fail(w, kn, key, "unknown key in basic_auth (username, password, password_file)");
		}
		if (rc)
			return -1;
	}
	if (!h->username[0])
		return fail(w, n, "username", "missing in basic_auth");
	return 0;
}

static int parse_authorization(walk *w, srv_job_cfg *j, yaml_node_t *n)
{
	if (want_map(w, n, "authorization"))
		return -1;
	srv_http_cfg *h = &j->http;
	snprintf(h->auth_type, sizeof h->auth_type, "Bearer");
	bool have = false;
	EACH_PAIR(w, n, kn, vn, key) {
		int rc;
		if (!strcmp(key, "type")) {
			rc = get_secret(w, vn, key, h->auth_type, sizeof h->auth_type);
			if (!rc && !strcasecmp(h->auth_type, "basic"))
				rc = fail(w, vn, key, "type Basic is basic_auth's (use basic_auth)");
			else if (!rc && (!h->auth_type[0] || strpbrk(h->auth_type, " \t")))
				rc = fail(w, vn, key, "want one word (Bearer)");
		} else if (!strcmp(key, "credentials") || !strcmp(key, "credentials_file")) {
			rc = secret_pair(w, kn, vn, key, "credentials", &have, h->credentials,
					 sizeof h->credentials, h->credentials_file);
		} else {
			rc = fail(w, kn, key, "unknown key in authorization (type, credentials, credentials_file)");
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- relabel_configs, file_sd_configs -------------------------------------------- */

static bool label_name_ok(const char *s)
{
	bool ok = *s && !(*s >= '0' && *s <= '9');
	for (const char *p = s; *p; p++)
		ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_';
	return ok;
}

static int get_label_name(walk *w, yaml_node_t *n, const char *key, char *out)
{
	if (get_str(w, n, key, out, SRV_LABEL_NAME_MAX + 1))
		return -1;
	if (!label_name_ok(out))
		return fail(w, n, key, "\"%.60s\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", out);
	return 0;
}

static int parse_relabel(walk *w, srv_job_cfg *j, yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(w, n, "relabel_configs", "want a list");
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt > SRV_RELABEL_MAX)
		return fail(w, n, "relabel_configs", "more than %d rules", SRV_RELABEL_MAX);
	j->relabel = calloc(cnt ? cnt : 1, sizeof *j->relabel);
	if (!j->relabel)
		return fail(w, n, "relabel_configs", "out of memory");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *rn = node(w, *it);
		if (want_map(w, rn, "relabel_configs"))
			return -1;
		srv_relabel *r = &j->relabel[j->nrelabel++];
		srv_relabel_init(r);
		const char *regex = NULL;
		yaml_node_t *regex_n = NULL;
		bool have_target = false, have_repl = false, have_sep = false, have_mod = false;
		EACH_PAIR(w, rn, kn, vn, key) {
			int rc = 0;
			if (!strcmp(key, "source_labels")) {
				if (!vn || vn->type != YAML_SEQUENCE_NODE)
					return fail(w, vn, key, "want a list of label names");
				for (yaml_node_item_t *s2 = vn->data.sequence.items.start;
				     !rc && s2 < vn->data.sequence.items.top; s2++) {
					if (r->nsource >= SRV_RELABEL_SOURCES_MAX)
						return fail(w, vn, key, "more than %d labels", SRV_RELABEL_SOURCES_MAX);
					rc = get_label_name(w, node(w, *s2), key, r->source[r->nsource++]);
				}
			} else if (!strcmp(key, "separator")) {
				rc = get_str(w, vn, key, r->separator, sizeof r->separator);
				have_sep = true;
			} else if (!strcmp(key, "modulus")) {
				const char *m;
				char *end;
				rc = want_scalar(w, vn, key, &m);
				errno = 0;
				unsigned long long v = rc ? 0 : strtoull(m, &end, 10);
				if (!rc && (*m < '0' || *m > '9' || *end || errno || v == 0))
					rc = fail(w, vn, key, "\"%.40s\" is not a whole number above 0", m);
				r->modulus = v;
				have_mod = true;
			} else if (!strcmp(key, "regex")) {
				rc = want_scalar(w, vn, key, &regex);
				regex_n = vn;
			} else if (!strcmp(key, "target_label")) {
				/* may hold $1...: checked after expansion */
				rc = get_str(w, vn, key, r->target, sizeof r->target);
				have_target = true;
			} else if (!strcmp(key, "replacement")) {
				rc = get_str(w, vn, key, r->replacement, sizeof r->replacement);
				have_repl = true;
			} else if (!strcmp(key, "action")) {
				const char *a;
				rc = want_scalar(w, vn, key, &a);
				size_t k = 0;
				while (!rc && k < SRV_RL_NACTIONS && strcasecmp(a, srv_relabel_actions[k].name))
					k++;
				if (!rc && k == SRV_RL_NACTIONS) {
					char names[256];
					size_t o = 0;
					names[0] = '\0';
					for (size_t x = 0; x < SRV_RL_NACTIONS && o < sizeof names; x++)
						o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
								      x ? ", " : "", srv_relabel_actions[x].name);
					rc = fail(w, vn, key, "\"%.40s\" is not one of %s", a, names);
				}
				r->action = (srv_relabel_action)k;
			} else {
				rc = fail(w, kn, key, "unknown key in relabel_configs (source_labels, separator, "
					  "regex, target_label, replacement, modulus, action)");
			}
			if (rc)
				return -1;
		}
		char e2[SRV_ERR_MAX];
		if (regex && srv_relabel_compile(r, regex, e2, sizeof e2))
			return fail(w, regex_n, "regex", "%s", e2);
		const srv_relabel_action_info *ai = &srv_relabel_actions[r->action];
		if (ai->needs_target && !have_target)
			return fail(w, rn, "target_label", "missing (action %s needs it)", ai->name);
		if (ai->needs_source && !r->nsource)
			return fail(w, rn, "source_labels", "missing (action %s needs it)", ai->name);
		if (ai->modulus && !have_mod)
			return fail(w, rn, "modulus", "missing (action %s needs it)", ai->name);
		if (ai->on_names && (r->nsource || have_target))
			return fail(w, rn, r->nsource ? "source_labels" : "target_label",
				    "not used by action %s (it matches label names with regex)", ai->name);
		if (!ai->replacement && have_repl)
			return fail(w, rn, "replacement", "not used by action %s", ai->name);
		if (!ai->regex && regex)
			return fail(w, regex_n, "regex", "not used by action %s", ai->name);
		if (!ai->modulus && have_mod)
			return fail(w, rn, "modulus", "not used by action %s", ai->name);
		if (!ai->separator && have_sep)
			return fail(w, rn, "separator", "not used by action %s", ai->name);
		if (have_target && !ai->target_expands && !label_name_ok(r->target))
			return fail(w, rn, "target_label", "\"%.60s\" is not a label name "
				    "([a-zA-Z_][a-zA-Z0-9_]*)", r->target);
	}
	return 0;
}

/* Prometheus' file_sd pattern: a glob in the last path element only, and
 * a .json, .yml or .yaml name. */
static bool sd_pattern_ok(const char *s)
{
	const char *star = strchr(s, '*');
	if (star && (strchr(star + 1, '*') || strchr(star, '/')))
		return false;
	const char *dot = strrchr(s, '.');
	if (!dot || strchr(dot, '/'))
		return false;
	return !strcasecmp(dot, ".json") || !strcasecmp(dot, ".yml") || !strcasecmp(dot, ".yaml");
}

static int parse_file_sd(walk *w, srv_job_cfg *j, yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(w, n, "file_sd_configs", "want a list");
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt > 64)
		return fail(w, n, "file_sd_configs", "more than 64 entries");
	j->file_sd = calloc(cnt ? cnt : 1, sizeof *j->file_sd);
	if (!j->file_sd)
		return fail(w, n, "file_sd_configs", "out of memory");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *fn = node(w, *it);
		if (want_map(w, fn, "file_sd_configs"))
			return -1;
		srv_file_sd *f = &j->file_sd[j->nfile_sd++];
		f->refresh_ns = 300 * SEC;
		EACH_PAIR(w, fn, kn, vn, key) {
			int rc = 0;
			if (!strcmp(key, "files")) {
				if (!vn || vn->type != YAML_SEQUENCE_NODE)
					return fail(w, vn, key, "want a list of file names or patterns");
				for (yaml_node_item_t *s2 = vn->data.sequence.items.start;
				     !rc && s2 < vn->data.sequence.items.top; s2++) {
					yaml_node_t *pn = node(w, *s2);
					const char *pat;
					if (f->nfiles >= SRV_SD_FILES_MAX)
						return fail(w, vn, key, "more than %d files", SRV_SD_FILES_MAX);
					if (want_scalar(w, pn, key, &pat))
						return -1;
					if (!sd_pattern_ok(pat))
						return fail(w, pn, key, "\"%.80s\" is not a .json, .yml or .yaml file "
							    "(a * only in its last part)", pat);
					rc = resolve(w, pn, key, pat, f->files[f->nfiles++]);
				}
			} else if (!strcmp(key, "refresh_interval")) {
				rc = get_dur(w, vn, key, &f->refresh_ns, true);
			} else {
				rc = fail(w, kn, key, "unknown key in file_sd_configs (files, refresh_interval)");
			}
			if (rc)
				return -1;
		}
		if (!f->nfiles)
			return fail(w, fn, "files", "missing in file_sd_configs");
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
	char prefix[200] = "/debug/pprof";
	yaml_node_t *stat = NULL, *prof = NULL, *relabel = NULL, *file_sd = NULL;
	const yaml_node_t *auth_key = NULL;     /* the one of the exclusive auth keys */
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
			rc = get_str(w, vn, key, j->scheme, sizeof j->scheme);
			if (!rc && strcmp(j->scheme, "http") && strcmp(j->scheme, "https"))
				rc = fail(w, vn, key, "want http or https");
		} else if (!strcmp(key, "metrics_path")) {
			rc = get_str(w, vn, key, j->metrics_path, sizeof j->metrics_path);
			if (!rc && j->metrics_path[0] && j->metrics_path[0] != '/')
				rc = fail(w, vn, key, "must start with / (or be \"\": no /metrics)");
			j->metrics = j->metrics_path[0] != '\0';
		} else if (!strcmp(key, "static_configs"))
			stat = vn;
		else if (!strcmp(key, "profiling_config"))
			prof = vn;
		else if (!strcmp(key, "relabel_configs"))
			relabel = vn;
		else if (!strcmp(key, "file_sd_configs"))
			file_sd = vn;
		else if (!strcmp(key, "tls_config"))
			rc = parse_tls(w, j, vn);
		else if (!strcmp(key, "basic_auth") || !strcmp(key, "authorization") ||
			 !strcmp(key, "bearer_token") || !strcmp(key, "bearer_token_file")) {
			if (auth_key)
				rc = fail(w, kn, key, "at most one of basic_auth, authorization, bearer_token "
					  "and bearer_token_file (%s is set)", scalar(auth_key));
			else if (!strcmp(key, "basic_auth"))
				rc = parse_basic_auth(w, j, vn);
			else if (!strcmp(key, "authorization"))
				rc = parse_authorization(w, j, vn);
			else if (!strcmp(key, "bearer_token"))
				rc = get_secret(w, vn, key, j->http.credentials, sizeof j->http.credentials);
			else
				rc = get_file(w, vn, key, j->http.credentials_file);
			if (!strncmp(key, "bearer_token", 12))
				snprintf(j->http.auth_type, sizeof j->http.auth_type, "Bearer");
			auth_key = kn;
		} else
			rc = fail(w, kn, key, "unknown key in scrape_configs (job_name, scrape_interval, "
				  "scrape_timeout, scheme, metrics_path, profiling_config, static_configs, "
				  "file_sd_configs, relabel_configs, tls_config, basic_auth, authorization, "
				  "bearer_token, bearer_token_file)");
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
				if (prefix[0] && prefix[0] != '/')
					return fail(w, vn, key, "\"%.60s\" does not start with /", prefix);
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
	if (relabel && parse_relabel(w, j, relabel))
		return -1;
	if (file_sd && parse_file_sd(w, j, file_sd))
		return -1;
	if (stat && parse_static(w, j, stat))
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

/* The YAML document in text into *doc (the caller deletes it).  0, or -1
 * with "NAME:LINE: problem" in err. */
static int load_doc(const char *name, const void *text, size_t len, yaml_document_t *doc,
		    char *err, size_t errsz)
{
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps)) {
		snprintf(err, errsz, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&ps, text, len);
	int rc = 0;
	if (!yaml_parser_load(&ps, doc)) {
		snprintf(err, errsz, "%s:%lu: %s", name, (unsigned long)ps.problem_mark.line + 1,
			 ps.problem ? ps.problem : "not YAML");
		rc = -1;
	}
	yaml_parser_delete(&ps);
	return rc;
}

int srv_config_parse(srv_config *c, const char *name, const void *text, size_t len,
		     char *err, size_t errsz)
{
	yaml_document_t doc;
	if (load_doc(name, text, len, &doc, err, errsz))
		return -1;
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

/* ---- file_sd files ------------------------------------------------------------ */

int srv_sd_parse(const char *name, const void *text, size_t len,
		 int (*cb)(void *ctx, const char *addr, const srv_lset *labels, char *err,
			   size_t errsz),
		 void *ctx, char *err, size_t errsz)
{
	yaml_document_t doc;
	if (load_doc(name, text, len, &doc, err, errsz))
		return -1;
	walk w = { .doc = &doc, .file = name, .err = err, .errsz = errsz };
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	srv_lset *labels = malloc(sizeof *labels);
	if (!labels)
		rc = fail(&w, root, "(top)", "out of memory");
	else if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		root = NULL;            /* an empty file: no targets */
	else if (root->type != YAML_SEQUENCE_NODE)
		rc = fail(&w, root, "(top)", "want a list of {targets: [HOST:PORT...], labels: {...}}");
	for (yaml_node_item_t *it = root && !rc ? root->data.sequence.items.start : NULL;
	     it && !rc && it < root->data.sequence.items.top; it++) {
		yaml_node_t *g = node(&w, *it);
		if ((rc = want_map(&w, g, "(group)")))
			break;
		memset(labels, 0, sizeof *labels);
		char e2[SRV_ERR_MAX];
		if (srv_lset_set(labels, "__meta_filepath", 15, name, strlen(name), e2, sizeof e2)) {
			rc = fail(&w, g, "(group)", "%s", e2);
			break;
		}
		yaml_node_t *targets = NULL;
		EACH_PAIR(&w, g, kn, vn, key) {
			if (rc)
				break;
			if (!strcmp(key, "targets")) {
				if (!vn || vn->type != YAML_SEQUENCE_NODE)
					rc = fail(&w, vn, key, "want a list of HOST:PORT");
				targets = vn;
			} else if (!strcmp(key, "labels")) {
				if ((rc = want_map(&w, vn, key)))
					break;
				EACH_PAIR(&w, vn, k2, v2, lname) {
					const char *val;
					if ((rc = want_scalar(&w, v2, lname, &val)))
						break;
					if (srv_lset_set(labels, lname, strlen(lname), val, strlen(val), e2, sizeof e2)) {
						rc = fail(&w, k2, lname, "%s", e2);
						break;
					}
				}
			} else {
				rc = fail(&w, kn, key, "unknown key in a target group (targets, labels)");
			}
		}
		for (yaml_node_item_t *t = targets && !rc ? targets->data.sequence.items.start : NULL;
		     t && !rc && t < targets->data.sequence.items.top; t++) {
			const char *addr;
			yaml_node_t *tn = node(&w, *t);
			if (!(rc = want_scalar(&w, tn, "targets", &addr)) &&
			    cb(ctx, addr, labels, e2, sizeof e2))
				rc = fail(&w, tn, "targets", "%s", e2);
		}
	}
	free(labels);
	yaml_document_delete(&doc);
	return rc;
}
