/*
 * scrape.c - the server's scrapers: every job's profiles from every
 * target, on a schedule, with libcurl, into the store.
 *
 * A target serves Go's /debug/pprof/ paths (the cprof runtime and Go's
 * net/http/pprof alike).  Each (target, profile) pair, and each target's
 * /metrics, is a task: CPU is asked for as profile?seconds=(interval - 1s)
 * (or the profile's `seconds`), the others as they are.  Cumulative
 * profiles (allocs, mutex, block: `delta: true` in the config) become
 * deltas here: the task keeps the previous answer and stores
 * (this - previous), at the previous scrape's time, lasting the time
 * between them; the first scrape only primes the series, and a delta
 * with a negative value (the target restarted, its counters with it)
 * primes it again.  Every profile is stored with the target's labels
 * (job, instance, the static_config's labels); its samples keep their own
 * labels (threads, cprof_do labels).  /metrics (Prometheus text) become
 * metric points of the same labels (plus each point's own), and feed the
 * rules (rules.c); a scrape's success is the metric `up` (1 or 0), and
 * the target's state (up, last scrape, last error: the error of its first
 * task, in config order, whose last run failed) is what /api/v1/targets
 * lists.
 *
 * Targets are a job's static_configs and what its file_sd_configs find
 * (discovery.c), relabelled (relabel.c).  A discovery thread polls the
 * files every second: a target that appears gets its tasks (with a
 * jittered first slot), one that stays keeps its state and delta bases
 * (it is known by its key: job, URL, labels), one that goes is dropped
 * once no task or rule fetch of it runs.  Requests carry the job's TLS
 * settings and credentials (basic_auth, authorization, bearer_token; a
 * credentials file is read at each request).  Series are counted per
 * target against limits.max_series_per_target (series_limit.c, shared
 * with the pushes): a profile kind or a /metrics label set beyond it is
 * refused, counted (series_refused in /api/v1/targets) and named in the
 * target's last_error, the rest of the scrape stored.
 *
 * Threads.  One scheduler thread, a discovery thread (when a job has
 * file_sd_configs) and a pool of workers (grown, up to MAX_WORKERS, as
 * targets appear).  The scheduler
 * wakes every 100 ms and queues each task that is due and not running;
 * a task never runs twice at once, so a target that is slow or down
 * never piles requests up: it is retried at its next slot, and its
 * failure is recorded.  Each task's first slot is at a random offset in
 * its interval (jitter), the next ones an interval apart (a slot missed
 * while the task ran is skipped).  Workers take tasks from the queue and
 * run them without the lock.  Shared state (the target list, the tasks'
 * busy flags and times, the targets' state and reference counts, the
 * queue) is under `mu`; a task's delta base is touched only by the worker
 * running it (busy excludes others).  A target is freed when it is gone
 * from discovery and its reference count (tasks queued or running, rule
 * fetches) is 0: whoever drops the last reference frees it.
 * Each request has a timeout (scrape_timeout, default the interval; for
 * CPU the profile's seconds are added) and a size ceiling
 * (limits.max_scrape_bytes).
 */
#include "server_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEC ((int64_t)1000000000)
#define MAX_WORKERS 64
#define MAX_METRIC_POINTS 10000

typedef struct task {
	struct target *t;
	const srv_pprof_cfg *prof;  /* NULL: /metrics */
	/* under mu */
	int64_t next_ns;
	bool busy;
	struct task *qnext;
	char err[256];              /* its last run's error, "" */
	/* the worker running it only */
	cprof_profile *prev;
	int64_t prev_ns;
} task;

typedef struct target {
	const srv_job_cfg *job;
	const srv_target_cfg *cfg;  /* immutable: the config's (static_configs),
				     * or `owned` (a discovered target's copy) */
	srv_target_cfg *owned;
	char owner[SRV_NAME_MAX + 310];     /* job/URL: whose series these are */
	task *tasks;
	size_t ntasks;
	/* under mu */
	bool up, scraped, gone;
	int64_t last_ns, last_dur_ns;
	char last_err[256];
	bool no_metrics;            /* /metrics answered 404: asked rarely */
	uint64_t refused;           /* series refused by the limits, ever */
	unsigned refs;              /* tasks queued or running, rule fetches */
	pthread_mutex_t cpu_mu;     /* held while a CPU profile of it runs */
} target;

struct srv_scraper {
	srv_ctx *c;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* work queued, or stop */
	pthread_cond_t dcv;         /* stop (the discovery thread) */
	bool stop;
	target **targets;           /* live targets */
	size_t ntargets, captargets;
	task *qhead, *qtail;        /* queued tasks */
	srv_sd **sd;                /* per job: NULL without file_sd_configs */
	pthread_t sched, disc;
	bool disc_started;
	pthread_t workers[MAX_WORKERS];
	size_t nworkers;
};

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* ---- HTTP --------------------------------------------------------------------- */

typedef struct body {
	srv_buf b;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	body *bd = ud;
	size_t n = size * nmemb;
	srv_buf_add(&bd->b, ptr, n);
	return bd->b.err ? 0 : n;
}

/* The secret in file path (read now: a rotated secret is used at once),
 * white space around it dropped, into out.  0, or -1 with err. */
static int read_secret(const char *path, char *out, size_t outsz, char *err, size_t errsz)
{
	void *buf = NULL;
	size_t len = 0;
	cprof_error e = { 0 };
	if (cprof_read_file(path, 65536, &buf, &len, &e)) {
		snprintf(err, errsz, "%s", e.msg);
		return -1;
	}
	const char *p = buf ? buf : "";      /* an empty file may come back as NULL */
	while (len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++, len--;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' ||
		       p[len - 1] == '\r'))
		len--;
	int rc = 0;
	if (len >= outsz || memchr(p, '\n', len) || memchr(p, '\r', len) || memchr(p, '\0', len)) {
		snprintf(err, errsz, "%s: not one line of at most %zu bytes", path, outsz - 1);
		rc = -1;
	} else {
		memcpy(out, p, len);
		out[len] = '\0';
	}
	free(buf);
	return rc;
}

/* The job's TLS settings and credentials on h; *hdrs gets the headers to
 * free after the request.  0, or -1 with err (a secret file unreadable). */
static int http_auth(CURL *h, const srv_http_cfg *hc, struct curl_slist **hdrs, char *err,
		     size_t errsz)
{
	*hdrs = NULL;
	if (hc->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, hc->ca_file);
	if (hc->cert_file[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, hc->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, hc->key_file);
	}
	if (hc->insecure_skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (hc->basic) {
		char pw[256];
		snprintf(pw, sizeof pw, "%s", hc->password);
		if (hc->password_file[0] && read_secret(hc->password_file, pw, sizeof pw, err, errsz))
			return -1;
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, hc->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pw);     /* libcurl copies it */
	}
	if (hc->auth_type[0]) {
		char cred[1024], line[1100];
		snprintf(cred, sizeof cred, "%s", hc->credentials);
		if (hc->credentials_file[0] && read_secret(hc->credentials_file, cred, sizeof cred, err, errsz))
			return -1;
		snprintf(line, sizeof line, "Authorization: %s %s", hc->auth_type, cred);
		*hdrs = curl_slist_append(NULL, line);
		if (!*hdrs) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	}
	return 0;
}

/* GET url into *out (malloc'd, *len bytes) with the job's HTTP settings hc.
 * The HTTP status is in *status (0: no answer).  0, or -1 with err. */
static int http_get(const srv_http_cfg *hc, const char *url, int64_t timeout_ns, size_t max,
		    char **out, size_t *len, long *status, char *err, size_t errsz)
{
	*out = NULL;
	*len = 0;
	*status = 0;
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(err, errsz, "cannot start libcurl");
		return -1;
	}
	struct curl_slist *hdrs = NULL;
	if (http_auth(h, hc, &hdrs, err, errsz)) {
		curl_easy_cleanup(h);
		return -1;
	}
	body bd = { .b = { .max = max } };
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bd);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cprof-server/" CPROF_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		if (bd.b.err && rc == CURLE_WRITE_ERROR)
			snprintf(err, errsz, "answer larger than %zu bytes (limits.max_scrape_bytes)", max);
		else
			snprintf(err, errsz, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		srv_buf_free(&bd.b);
		return -1;
	}
	if (*status != 200) {
		char snippet[120] = "";
		if (bd.b.n)
			cprof_escape(snippet, sizeof snippet, bd.b.s, bd.b.n < 80 ? bd.b.n : 80);
		snprintf(err, errsz, "HTTP status %ld%s%s", *status, snippet[0] ? ": " : "", snippet);
		srv_buf_free(&bd.b);
		return -1;
	}
	*out = bd.b.s;
	*len = bd.b.n;
	return 0;
}

/* The profile at url. */
static int fetch_profile(struct srv_scraper *s, const srv_http_cfg *hc, const char *url,
			 int64_t timeout_ns, cprof_profile **out, char *err, size_t errsz)
{
	char *buf;
	size_t len;
	long status;
	if (http_get(hc, url, timeout_ns, s->c->cfg->limits.max_scrape_bytes, &buf, &len, &status, err, errsz))
		return -1;
	cprof_error e = { 0 };
	int rc = cprof_decode(buf, len, out, &e);
	free(buf);
	if (rc) {
		snprintf(err, errsz, "not a profile: %s", e.code ? e.msg : cprof_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---- deltas ------------------------------------------------------------------ */

static bool has_negative(const cprof_profile *p)
{
	for (size_t i = 0; i < p->values.n; i++)
		if (p->values.v[i] < 0)
			return true;
	return false;
}

/* cur - prev as a new profile into *out, or NULL (a reset: prime again). */
static int delta_of(const cprof_profile *cur, const cprof_profile *prev, cprof_profile **out,
		    char *err, size_t errsz)
{
	*out = NULL;
	cprof_profile *neg = cprof_profile_dup(prev);
	cprof_profile *c2 = cprof_profile_dup(cur);
	cprof_error e = { 0 };
	int rc = neg && c2 ? 0 : CPROF_ENOMEM;
	if (!rc) {
		cprof_profile *both[2] = { c2, neg };
		rc = cprof_compatibilize(both, 2, &e);
		if (!rc) {
			cprof_scale(neg, -1);
			rc = cprof_merge(both, 2, out, &e);
		}
	}
	cprof_profile_free(neg);
	cprof_profile_free(c2);
	if (rc) {
		snprintf(err, errsz, "delta: %s", e.code ? e.msg : cprof_strerror(rc));
		return -1;
	}
	if (has_negative(*out)) {
		cprof_profile_free(*out);
		*out = NULL;
	}
	return 0;
}

/* ---- one task ------------------------------------------------------------------- */

static void append_up(struct srv_scraper *s, target *t, int64_t now, bool up)
{
	srv_labels v = srv_lpack_view(t->cfg->labels);
	srv_store_append_metric(s->c->store, &v, "up", now, up ? 1 : 0, NULL);
}

/* Parse Prometheus text and store its points; rules see each. */
static int store_metrics(struct srv_scraper *s, target *t, char *text, size_t len, int64_t now,
			 size_t *refused, char *err, size_t errsz)
{
	size_t npoints = 0;
	const srv_limits *lim = &s->c->cfg->limits;
	char *save = NULL;
	text[len] = '\0';
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (++npoints > MAX_METRIC_POINTS)
			break;
		size_t nn = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
		if (nn == 0 || nn > 200)
			continue;
		char name[201];
		memcpy(name, line, nn);
		name[nn] = '\0';
		srv_lset ls;
		srv_lset_of_pack(&ls, t->cfg->labels);
		char *p = line + nn;
		bool bad = false;
		if (*p == '{') {
			p++;
			while (*p && *p != '}' && !bad) {
				while (*p == ' ' || *p == ',')
					p++;
				if (*p == '}')
					break;
				char *k = p;
				while (*p && *p != '=')
					p++;
				if (*p != '=' || p[1] != '"') {
					bad = true;
					break;
				}
				size_t kn = (size_t)(p - k);
				p += 2;
				char val[SRV_LABEL_VALUE_MAX + 1];
				size_t vn = 0;
				while (*p && *p != '"') {
					char ch = *p++;
					if (ch == '\\' && *p)
						ch = *p == 'n' ? '\n' : *p, p++;
					if (vn < SRV_LABEL_VALUE_MAX)
						val[vn++] = ch;
				}
				if (*p != '"') {
					bad = true;
					break;
				}
				p++;
				char e2[SRV_ERR_MAX];
				/* the target's own labels win over the metric's */
				if (kn && !(kn == 3 && !strncmp(k, "job", 3)) &&
				    !(kn == 8 && !strncmp(k, "instance", 8)) &&
				    srv_lset_set(&ls, k, kn, val, vn, e2, sizeof e2))
					bad = true;
			}
			if (*p != '}')
				bad = true;
			else
				p++;
		}
		if (bad)
			continue;
		char *end;
		double v = strtod(p, &end);
		if (end == p || !isfinite(v))
			continue;
		char mkind[220];
		snprintf(mkind, sizeof mkind, "metric/%s", name);
		srv_label arr[SRV_LABELS_MAX];
		srv_labels view;
		srv_lset_view(&ls, arr, &view);
		int adm = srv_series_admit(t->owner, &view, mkind, lim);
		if (adm) {
			if (adm > 0)
				(*refused)++;
			continue;
		}
		cprof_error e = { 0 };
		if (srv_store_append_metric(s->c->store, &view, name, now, v, &e)) {
			return snprintf(err, errsz, "storing metric %s: %s", name, e.msg) < 0 ? -2 : -1;
		}
		if (s->c->cfg->nrules)
			srv_rules_observe(s->c, s, t->job, t->cfg, name, &view, v);
	}
	return 0;
}

static int refused_err(const srv_limits *lim, size_t n, const char *what, char *err, size_t errsz)
{
	snprintf(err, errsz, "%zu %s refused: the target has limits.max_series_per_target "
		 "(%zu) series", n, what, lim->max_series_per_target);
	return 1;
}

/* Run task k (a worker, without the lock): 0; 1 stored with series
 * refused (counted in *refused, err says so); -1 failed, with err. */
static int run_task(struct srv_scraper *s, task *k, bool *not_found, size_t *refused, char *err,
		    size_t errsz)
{
	target *t = k->t;
	const srv_job_cfg *j = t->job;
	const srv_limits *lim = &s->c->cfg->limits;
	int64_t timeout = j->timeout_ns ? j->timeout_ns : j->interval_ns;
	char url[700];
	int64_t start = wall_ns();
	*not_found = false;
	*refused = 0;
	if (!k->prof) {
		snprintf(url, sizeof url, "%s%s", t->cfg->base, t->cfg->metrics_path);
		char *buf;
		size_t len;
		long status;
		if (http_get(&j->http, url, timeout, lim->max_scrape_bytes - 1, &buf, &len, &status,
			     err, errsz)) {
			*not_found = status == 404;
			return -1;
		}
		int rc = buf ? store_metrics(s, t, buf, len, start, refused, err, errsz) : 0;
		free(buf);       /* empty: no points */
		if (rc == 0 && *refused)
			rc = refused_err(lim, *refused, "/metrics series", err, errsz);
		return rc;
	}
	const srv_pprof_cfg *pc = k->prof;
	srv_labels tl = srv_lpack_view(t->cfg->labels);
	int adm = srv_series_admit(t->owner, &tl, pc->kind, lim);
	if (adm) {
		*refused = adm > 0;
		if (adm < 0) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		return refused_err(lim, 1, "series (this profile)", err, errsz);
	}
	bool cpu = !strcmp(pc->kind, "cpu");
	int64_t secs = 0;
	if (cpu && pc->delta) {
		secs = pc->seconds_ns ? pc->seconds_ns : j->interval_ns - SEC;
		if (secs < SEC)
			secs = SEC;
		snprintf(url, sizeof url, "%s%s%sseconds=%lld", t->cfg->base, pc->path,
			 strchr(pc->path, '?') ? "&" : "?", (long long)(secs / SEC));
	} else {
		snprintf(url, sizeof url, "%s%s", t->cfg->base, pc->path);
	}
	cprof_profile *p = NULL;
	if (cpu && pthread_mutex_trylock(&t->cpu_mu))
		return 0;       /* a rule's CPU snapshot runs: this slot is skipped */
	int frc = fetch_profile(s, &j->http, url, timeout + secs, &p, err, errsz);
	if (cpu)
		pthread_mutex_unlock(&t->cpu_mu);
	if (frc)
		return -1;
	int64_t tm = start, dur = secs;
	cprof_profile *store_p = p;
	if (pc->delta && !cpu) {
		cprof_profile *d = NULL;
		if (k->prev && delta_of(p, k->prev, &d, err, errsz)) {
			cprof_profile_free(p);
			return -1;
		}
		cprof_profile_free(k->prev);
		int64_t pt = k->prev_ns;
		k->prev = p;
		k->prev_ns = start;
		if (!d)
			return 0;           /* primed */
		store_p = d;
		tm = pt;
		dur = start - pt;
	}
	srv_labels view = srv_lpack_view(t->cfg->labels);
	cprof_error e = { 0 };
	int rc = srv_store_append(s->c->store, &view, pc->kind, tm, dur, store_p, NULL, &e);
	if (store_p != k->prev)
		cprof_profile_free(store_p);
	if (rc) {
		return snprintf(err, errsz, "storing %s: %s", pc->kind, e.msg) < 0 ? -2 : -1;
	}
	return 0;
}

static int64_t task_interval(const task *k)
{
	int64_t iv = k->t->job->interval_ns;
	return !k->prof && k->t->no_metrics ? iv * 20 : iv;
}

/* ---- targets ------------------------------------------------------------------- */

static void target_free(target *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ntasks; i++)
		cprof_profile_free(t->tasks[i].prev);
	pthread_mutex_destroy(&t->cpu_mu);
	free(t->tasks);
	if (t->owned)
		srv_target_cfg_clear(t->owned);
	free(t->owned);
	free(t);
}

/* Drop a reference (under mu): the target to free (after the unlock), or
 * NULL. */
static target *target_unref(target *t)
{
	return --t->refs == 0 && t->gone ? t : NULL;
}

/* A new target of job j for cfg with its tasks, the first slots jittered
 * over the first interval (metrics at once, so rules and `up` start
 * early).  NULL when out of memory. */
static target *target_new(const srv_job_cfg *j, const srv_target_cfg *cfg, int64_t now,
			  unsigned *seed)
{
	target *t = calloc(1, sizeof *t);
	size_t n = cfg->metrics_path[0] ? 1 : 0;      /* "": no /metrics */
	for (size_t p = 0; p < j->nprof; p++)
		n += j->prof[p].enabled;
	if (!t || !(t->tasks = calloc(n ? n : 1, sizeof *t->tasks))) {
		free(t);
		return NULL;
	}
	t->job = j;
	t->cfg = cfg;
	/* the config lives as long as the server; a discovered target's
	 * entry goes with its file's next read: copied */
	if (!(cfg >= j->targets && cfg < j->targets + j->ntargets)) {
		if (!(t->owned = malloc(sizeof *t->owned)) || srv_target_cfg_copy(t->owned, cfg)) {
			free(t->owned);
			free(t->tasks);
			free(t);
			return NULL;
		}
		t->cfg = t->owned;
	}
	snprintf(t->owner, sizeof t->owner, "%s/%s", j->name, cfg->base);
	pthread_mutex_init(&t->cpu_mu, NULL);
	for (size_t p = 0; p <= j->nprof; p++) {
		if (p < j->nprof ? !j->prof[p].enabled : !cfg->metrics_path[0])
			continue;
		task *k = &t->tasks[t->ntasks++];
		k->t = t;
		k->prof = p < j->nprof ? &j->prof[p] : NULL;
		k->next_ns = now + (k->prof ? (int64_t)(rand_r(seed) % 1000) * (j->interval_ns / 1000) : 0);
	}
	return t;
}

static void *worker(void *arg);

/* Enough workers for the targets (under mu): one per target and 4 more,
 * at most MAX_WORKERS. */
static void grow_workers(struct srv_scraper *s)
{
	size_t want = s->ntargets + 4;
	if (want > MAX_WORKERS)
		want = MAX_WORKERS;
	while (s->nworkers < want &&
	       pthread_create(&s->workers[s->nworkers], NULL, worker, s) == 0)
		s->nworkers++;
}

/* Make job j's targets list[0..n) (under mu): those already there (by
 * key) stay as they are, new ones are added, the others go (freed now
 * when nothing holds them, else by whoever drops the last reference). */
static void set_job_targets(struct srv_scraper *s, const srv_job_cfg *j,
			    const srv_target_cfg *const *list, size_t n, int64_t now, unsigned *seed)
{
	bool *keep = calloc(s->ntargets + 1, sizeof *keep);
	if (!keep)
		return;         /* out of memory: the targets stay as they are */
	size_t old_n = s->ntargets;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t d = 0; d < i && !dup; d++)
			dup = list[d]->key == list[i]->key;
		size_t at = 0;
		while (at < old_n && !(s->targets[at]->job == j && s->targets[at]->cfg->key == list[i]->key))
			at++;
		if (at < old_n) {
			keep[at] = true;
			continue;
		}
		if (dup || cprof_reserve((void **)&s->targets, &s->captargets, s->ntargets + 1,
					 sizeof *s->targets))
			continue;
		target *t = target_new(j, list[i], now, seed);
		if (t)
			s->targets[s->ntargets++] = t;
	}
	size_t o = 0;
	for (size_t i = 0; i < s->ntargets; i++) {
		target *t = s->targets[i];
		if (i < old_n && t->job == j && !keep[i]) {
			t->gone = true;
			if (t->refs == 0)
				target_free(t);
			continue;
		}
		s->targets[o++] = t;
	}
	s->ntargets = o;
	free(keep);
	grow_workers(s);
}

/* ---- the threads ------------------------------------------------------------------ */

static void *worker(void *arg)
{
	struct srv_scraper *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && !s->qhead)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop)
			break;
		task *k = s->qhead;
		s->qhead = k->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		target *t = k->t;
		bool gone = t->gone;
		pthread_mutex_unlock(&s->mu);
		char err[256] = "";
		bool nf = false;
		size_t refused = 0;
		int64_t t0 = wall_ns();
		int rc = gone ? 0 : run_task(s, k, &nf, &refused, err, sizeof err);
		int64_t t1 = wall_ns();
		pthread_mutex_lock(&s->mu);
		k->busy = false;
		bool skip = gone || (!k->prof && nf);
		if (!k->prof && nf) {
			t->no_metrics = true;   /* Go's net/http/pprof has no /metrics */
		} else if (!gone) {
			t->up = rc >= 0;
			t->scraped = true;
			t->last_ns = t0;
			t->last_dur_ns = t1 - t0;
			t->refused += refused;
			if (rc && snprintf(k->err, sizeof k->err, "%s%s: %s", t->cfg->base,
					   k->prof ? k->prof->path : t->cfg->metrics_path, err) < 0)
				k->err[0] = '\0';
			else if (!rc)
				k->err[0] = '\0';
			/* the target's error: its first task still failing */
			t->last_err[0] = '\0';
			for (size_t i = 0; i < t->ntasks && !t->last_err[0]; i++)
				memcpy(t->last_err, t->tasks[i].err, sizeof t->last_err);
		}
		pthread_mutex_unlock(&s->mu);
		if (!skip)
			append_up(s, t, t1, rc >= 0);
		pthread_mutex_lock(&s->mu);
		target *dead = target_unref(t);
		if (dead) {
			pthread_mutex_unlock(&s->mu);
			target_free(dead);
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void *scheduler(void *arg)
{
	struct srv_scraper *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		int64_t now = wall_ns();
		bool queued = false;
		for (size_t i = 0; i < s->ntargets; i++) {
			target *t = s->targets[i];
			for (size_t q = 0; q < t->ntasks; q++) {
				task *k = &t->tasks[q];
				if (k->busy || now < k->next_ns)
					continue;
				k->busy = true;
				t->refs++;
				k->qnext = NULL;
				if (s->qtail)
					s->qtail->qnext = k;
				else
					s->qhead = k;
				s->qtail = k;
				queued = true;
				int64_t iv = task_interval(k);
				k->next_ns += iv;
				if (k->next_ns <= now)      /* missed slots are skipped */
					k->next_ns = now + iv;
			}
		}
		if (queued)
			pthread_cond_broadcast(&s->cv);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000)
			ts.tv_sec++, ts.tv_nsec -= 1000000000;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Poll every job's file_sd files once a second (file I/O without the
 * lock); apply what changed. */
static void *discovery(void *arg)
{
	struct srv_scraper *s = arg;
	const srv_config *cfg = s->c->cfg;
	unsigned seed = (unsigned)wall_ns() ^ 0x5bd1e995u;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&s->dcv, &s->mu, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		for (size_t i = 0; i < cfg->njobs; i++) {
			const srv_target_cfg **list = NULL;
			size_t n = 0;
			if (!s->sd[i] || srv_sd_poll(s->sd[i], wall_ns(), &list, &n) != 1)
				continue;
			pthread_mutex_lock(&s->mu);
			set_job_targets(s, &cfg->jobs[i], list, n, wall_ns(), &seed);
			pthread_mutex_unlock(&s->mu);
			free(list);
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void scraper_free(struct srv_scraper *s)
{
	for (size_t i = 0; i < s->ntargets; i++)
		target_free(s->targets[i]);
	for (size_t i = 0; s->sd && i < s->c->cfg->njobs; i++)
		srv_sd_free(s->sd[i]);
	free(s->sd);
	free(s->targets);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->dcv);
	free(s);
}

struct srv_scraper *srv_scraper_start(srv_ctx *c, char *err, size_t errsz)
{
	err[0] = '\0';
	const srv_config *cfg = c->cfg;
	bool any = false, any_sd = false;
	for (size_t i = 0; i < cfg->njobs; i++) {
		any |= cfg->jobs[i].ntargets > 0;
		any_sd |= cfg->jobs[i].nfile_sd > 0;
	}
	if (!any && !any_sd)
		return NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct srv_scraper *s = calloc(1, sizeof *s);
	if (!s || !(s->sd = calloc(cfg->njobs, sizeof *s->sd))) {
		snprintf(err, errsz, "out of memory for the scrapers");
		free(s);
		return NULL;
	}
	s->c = c;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->dcv, NULL);
	int64_t now = wall_ns();
	unsigned seed = (unsigned)now ^ (unsigned)getpid();
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < cfg->njobs; i++) {
		const srv_job_cfg *j = &cfg->jobs[i];
		const srv_target_cfg **list = NULL;
		size_t n = 0;
		/* the first poll of the files before the first scrape */
		int rc = j->nfile_sd ? ((s->sd[i] = srv_sd_new(j)) ? srv_sd_poll(s->sd[i], now, &list, &n) : -1)
			: srv_sd_static(j, &list, &n);
		if (rc < 0) {
			pthread_mutex_unlock(&s->mu);
			snprintf(err, errsz, "out of memory for the scrapers");
			scraper_free(s);
			return NULL;
		}
		set_job_targets(s, j, list, n, now, &seed);
		free(list);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->nworkers == 0 || pthread_create(&s->sched, NULL, scheduler, s) ||
	    (any_sd && pthread_create(&s->disc, NULL, discovery, s))) {
		snprintf(err, errsz, "cannot start the scraper threads: %s", strerror(errno));
		return NULL;
	}
	s->disc_started = any_sd;
	return s;
}

void srv_scraper_stop(struct srv_scraper *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->dcv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->sched, NULL);
	if (s->disc_started)
		pthread_join(s->disc, NULL);
	/* a worker inside a long CPU scrape finishes it (its timeout bounds it) */
	for (size_t i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	srv_rules_wait();
	/* targets gone while a task was queued: still referenced by it */
	for (task *k = s->qhead; k; k = k->qnext) {
		target *t = k->t;
		if (t->gone && --t->refs == 0)
			target_free(t);
	}
	scraper_free(s);
	curl_global_cleanup();
}

int srv_scraper_fetch(struct srv_scraper *s, const srv_job_cfg *j, const srv_target_cfg *t,
		      const char *path, int64_t secs, cprof_profile **out, char *err, size_t errsz)
{
	target *tg = NULL;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntargets && !tg; i++)
		if (s->targets[i]->job == j && s->targets[i]->cfg->key == t->key)
			tg = s->targets[i];
	if (tg)
		tg->refs++;
	pthread_mutex_unlock(&s->mu);
	char url[700];
	if (secs)
		snprintf(url, sizeof url, "%s%s%sseconds=%lld", t->base, path,
			 strchr(path, '?') ? "&" : "?", (long long)(secs / SEC));
	else
		snprintf(url, sizeof url, "%s%s", t->base, path);
	if (secs && tg)
		pthread_mutex_lock(&tg->cpu_mu);
	int rc = fetch_profile(s, &j->http, url, secs + 30 * SEC, out, err, errsz);
	if (secs && tg)
		pthread_mutex_unlock(&tg->cpu_mu);
	if (tg) {
		pthread_mutex_lock(&s->mu);
		target *dead = target_unref(tg);
		pthread_mutex_unlock(&s->mu);
		target_free(dead);
	}
	return rc;
}

void srv_scraper_targets_json(struct srv_scraper *s, srv_buf *b)
{
	srv_buf_puts(b, "{\"targets\":[");
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntargets; i++) {
		target *t = s->targets[i];
		srv_buf_puts(b, i ? ",\n{\"url\":" : "\n{\"url\":");
		srv_buf_json_str(b, t->cfg->base, strlen(t->cfg->base));
		srv_buf_puts(b, ",\"job\":");
		srv_buf_json_str(b, t->job->name, strlen(t->job->name));
		srv_buf_puts(b, ",\"labels\":{");
		for (size_t l = 0; l < t->cfg->labels->n; l++) {
			if (l)
				srv_buf_add(b, ",", 1);
			const srv_label *lb = &t->cfg->labels->v[l];
			srv_buf_json_str(b, lb->name, strlen(lb->name));
			srv_buf_add(b, ":", 1);
			srv_buf_json_str(b, lb->value, strlen(lb->value));
		}
		srv_buf_printf(b, "},\"state\":\"%s\",\"up\":%d", !t->scraped ? "unknown" : t->up ? "up" : "down",
			       t->up ? 1 : 0);
		if (t->scraped)
			srv_buf_printf(b, ",\"last_scrape\":%.3f,\"last_duration\":%.3f",
				       (double)t->last_ns / 1e9, (double)t->last_dur_ns / 1e9);
		srv_buf_puts(b, ",\"last_error\":");
		srv_buf_json_str(b, t->last_err, strlen(t->last_err));
		srv_buf_printf(b, ",\"series_refused\":%llu,\"interval\":%.3f}",
			       (unsigned long long)t->refused, (double)t->job->interval_ns / 1e9);
	}
	pthread_mutex_unlock(&s->mu);
	srv_buf_puts(b, "]}");
}
