/*
 * rules.c - snapshots when a threshold is crossed.
 *
 *   rules:
 *     - name: many-threads
 *       when: cprof_heap_inuse_bytes > 2e9     # or rate(cpu) > 0.8
 *       job: api            # optional
 *       cooldown: 10m       # at most one snapshot per target per cooldown
 *       seconds: 30         # the CPU profile's length
 *
 * The scraper calls srv_rules_observe with every metric point of a
 * target's /metrics and the point's labels (its own and the target's job,
 * instance and config labels).  A rule's METRIC is a name, or a name with
 * Prometheus matchers (`cprof_cpu_samples_lost_total{reason="unwind"}`,
 * `=~`, `!=`, `!~`), matched against those labels: as in PromQL, a rule
 * without matchers watches every series of its name, each on its own.
 * rate(M) compares a series' increase per second since that series'
 * previous point (none yet, or a counter reset: no value).  A rule fires
 * on a crossing: the condition holds for a series now and did not at the
 * series' previous point (or there was none), and the target's last
 * snapshot for the rule (any of its series) is older than the cooldown:
 * one snapshot per target and cooldown, however many series cross.  Firing
 * starts a detached thread that fetches, at once, the target's heap,
 * goroutine?debug=2 (goroutine when that is not a profile: Go's debug=2 is
 * a text dump) and profile?seconds=N, and stores each pinned with the
 * rule's name (store.h: never merged into ranges, never dropped by
 * retention; /api/v1/snapshots lists them).
 *
 * The snapshots are fetched under the job's profiling_config.path_prefix
 * (PREFIX/heap, PREFIX/goroutine?debug=2, PREFIX/profile?seconds=N), with
 * the job's TLS settings and credentials, as its scrapes.
 *
 * State: one entry per (rule, target, series) seen, in a table bounded by
 * RULES_MAX_STATE, under `mu`, a target known by its key; the snapshot
 * threads hold copies of what they need (never a pointer into the table;
 * the target itself copied, as a discovered target may go while they
 * run), plus the config's job, which lives as long as the server.  At most RULES_MAX_RUNNING
 * snapshot threads at once: a crossing beyond that is skipped (and the
 * cooldown not started, so the next crossing tries again).
 */
#include "server_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RULES_MAX_STATE 100000
#define RULES_MAX_RUNNING 8
#define SEC ((int64_t)1000000000)

typedef struct rstate {
	const srv_rule_cfg *rule;
	uint64_t target;            /* the target's key */
	uint64_t series;            /* hash of the point's labels */
	bool was_true;
	int64_t last_fire_ns;
	bool have_prev;             /* rate(): the previous point */
	double prev_v;
	int64_t prev_ns;
} rstate;

static struct {
	pthread_mutex_t mu;
	rstate *v;
	size_t n, cap;
	int running;
	pthread_cond_t done;        /* running went down */
} st = { .mu = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };

typedef struct job {
	srv_ctx *c;
	const srv_rule_cfg *rule;
	const srv_job_cfg *jobc;
	srv_target_cfg target;      /* a copy: a discovered target may go */
	struct srv_scraper *scraper;
	double value;
} job;

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static bool holds(const srv_rule_cfg *r, double v)
{
	switch (r->op) {
	case SRV_OP_GT: return v > r->threshold;
	case SRV_OP_GE: return v >= r->threshold;
	case SRV_OP_LT: return v < r->threshold;
	case SRV_OP_LE: return v <= r->threshold;
	}
	return false;
}

typedef struct fetched {
	const char *kind;
	char path[300];
	int64_t secs;
	cprof_profile *p;
	int64_t t0;
	char err[256];
	job *j;
} fetched;

static void *fetch_one(void *arg)
{
	fetched *f = arg;
	job *j = f->j;
	f->t0 = wall_ns();
	if (srv_scraper_fetch(j->scraper, j->jobc, &j->target, f->path, f->secs, &f->p, f->err,
			      sizeof f->err) &&
	    !strcmp(f->kind, "goroutine")) {
		/* Go's debug=2 is a text dump: take the profile instead */
		f->err[0] = '\0';
		char path[300];
		snprintf(path, sizeof path, "%s/goroutine", j->jobc->prefix);
		srv_scraper_fetch(j->scraper, j->jobc, &j->target, path, 0, &f->p, f->err, sizeof f->err);
	}
	return NULL;
}

static void *snapshot_thread(void *arg)
{
	job *j = arg;
	fetched f[3] = {
		{ .kind = "heap", .j = j },
		{ .kind = "goroutine", .j = j },
		{ .kind = "cpu", .secs = j->rule->seconds_ns, .j = j },
	};
	/* under the job's profiling_config.path_prefix, as its scrapes */
	const char *px = j->jobc->prefix;
	snprintf(f[0].path, sizeof f[0].path, "%s/heap", px);
	snprintf(f[1].path, sizeof f[1].path, "%s/goroutine?debug=2", px);
	snprintf(f[2].path, sizeof f[2].path, "%s/profile", px);
	if (f[2].secs < SEC)
		f[2].secs = SEC;
	pthread_t th[3];
	bool started[3];
	/* at once: the heap and threads as the threshold is crossed, the CPU
	 * profile over the seconds after */
	for (int i = 0; i < 3; i++)
		started[i] = pthread_create(&th[i], NULL, fetch_one, &f[i]) == 0;
	for (int i = 0; i < 3; i++)
		if (started[i])
			pthread_join(th[i], NULL);
		else
			fetch_one(&f[i]);
	srv_labels view = srv_lpack_view(j->target.labels);
	for (int i = 0; i < 3; i++) {
		if (!f[i].p) {
			fprintf(stderr, "cprof server: rule %s: %s snapshot of %s: %s\n", j->rule->name,
				f[i].kind, j->target.instance, f[i].err);
			continue;
		}
		cprof_error e = { 0 };
		if (srv_store_append(j->c->store, &view, f[i].kind, f[i].t0, f[i].secs, f[i].p,
				     j->rule->name, &e))
			fprintf(stderr, "cprof server: rule %s: storing the %s snapshot: %s\n",
				j->rule->name, f[i].kind, e.msg);
		cprof_profile_free(f[i].p);
	}
	srv_store_flush(j->c->store, NULL);
	fprintf(stderr, "cprof server: rule %s fired on %s (%s%s%s = %g): snapshots stored\n",
		j->rule->name, j->target.instance, j->rule->rate ? "rate(" : "", j->rule->metric,
		j->rule->rate ? ")" : "", j->value);
	srv_target_cfg_clear(&j->target);
	free(j);
	pthread_mutex_lock(&st.mu);
	st.running--;
	pthread_cond_broadcast(&st.done);
	pthread_mutex_unlock(&st.mu);
	return NULL;
}

void srv_rules_wait(void)
{
	pthread_mutex_lock(&st.mu);
	while (st.running > 0)
		pthread_cond_wait(&st.done, &st.mu);
	pthread_mutex_unlock(&st.mu);
}

/* FNV-1a over the labels' names and values (a collision merges two
 * series' crossing state: never more state). */
static uint64_t labels_hash(const srv_labels *l)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; l && i < l->n; i++) {
		const char *parts[2] = { l->v[i].name, l->v[i].value };
		for (int k = 0; k < 2; k++) {
			for (const char *p = parts[k]; *p; p++)
				h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
			h = (h ^ 0xff) * 0x100000001b3ULL;
		}
	}
	return h;
}

void srv_rules_observe(srv_ctx *c, struct srv_scraper *sc, const srv_job_cfg *jobc,
		       const srv_target_cfg *t, const char *metric, const srv_labels *labels,
		       double value)
{
	const srv_config *cfg = c->cfg;
	uint64_t series = 0;
	bool hashed = false;
	for (size_t i = 0; i < cfg->nrules; i++) {
		const srv_rule_cfg *r = &cfg->rules[i];
		if (strcmp(r->metric, metric) || (r->job[0] && strcmp(r->job, jobc->name)))
			continue;
		if (r->sel && !srv_selector_match(r->sel, labels))
			continue;
		if (!hashed)
			series = labels_hash(labels), hashed = true;
		double v = value;      /* this rule's value (rate() turns it into a rate) */
		bool now_true = holds(r, v);
		int64_t now = wall_ns();
		bool fire = false;
		pthread_mutex_lock(&st.mu);
		rstate *s = NULL;
		int64_t last_fire = INT64_MIN / 2;      /* the target's, any series */
		for (size_t k = 0; k < st.n; k++)
			if (st.v[k].rule == r && st.v[k].target == t->key) {
				if (st.v[k].series == series)
					s = &st.v[k];
				if (st.v[k].last_fire_ns > last_fire)
					last_fire = st.v[k].last_fire_ns;
			}
		if (!s && st.n < RULES_MAX_STATE &&
		    !cprof_reserve((void **)&st.v, &st.cap, st.n + 1, sizeof *st.v)) {
			s = &st.v[st.n++];
			*s = (rstate){ .rule = r, .target = t->key, .series = series,
				       .last_fire_ns = INT64_MIN / 2 };
		}
		if (s && r->rate) {
			/* the rate since the previous point, when there is one */
			bool ok = s->have_prev && now > s->prev_ns && value >= s->prev_v;
			double rate = ok ? (value - s->prev_v) / ((double)(now - s->prev_ns) / 1e9) : 0;
			s->have_prev = true;
			s->prev_v = value;
			s->prev_ns = now;
			if (!ok) {
				pthread_mutex_unlock(&st.mu);
				continue;
			}
			now_true = holds(r, rate);
			v = rate;
		}
		if (s) {
			if (now_true && !s->was_true && now - last_fire >= r->cooldown_ns &&
			    st.running < RULES_MAX_RUNNING) {
				fire = true;
				s->last_fire_ns = now;
				st.running++;
			}
			s->was_true = now_true;
		}
		pthread_mutex_unlock(&st.mu);
		if (!fire)
			continue;
		job *j = malloc(sizeof *j);
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (j) {
			*j = (job){ .c = c, .rule = r, .jobc = jobc, .scraper = sc, .value = v };
			if (srv_target_cfg_copy(&j->target, t) == 0 &&
			    pthread_create(&th, &at, snapshot_thread, j) == 0) {
				pthread_attr_destroy(&at);
				continue;
			}
			srv_target_cfg_clear(&j->target);
			free(j);
		}
		pthread_attr_destroy(&at);
		pthread_mutex_lock(&st.mu);
		st.running--;
		pthread_mutex_unlock(&st.mu);
	}
}
