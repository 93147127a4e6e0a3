/*
 * webapi.c - the web UI's API without a transport (cprof_webapi.h): routes,
 * the report jobs, the flame graph caches, meta JSON and the page's assets.
 *
 * A transport (src/cli/webui.c with libmicrohttpd; the continuous-profiling
 * server) strips its mount prefix from the URL path, asks
 * cprof_webapi_kind whether the path is cheap or a job, calls
 * cprof_webapi_serve with a getter over the request's query parameters
 * (on a thread where a slow job holds up nothing else) and sends the
 * cprof_webresp it gets.  Nothing here knows sockets, connections or
 * headers beyond the content type, the disposition and the warnings.
 *
 * Design.  The profiles are immutable once given: every report runs on a
 * copy (cprof_profile_dup), because reports filter and aggregate in place.
 * The flame graph's tree is costly to build and cheap to write at a zoom,
 * so each side (the profile, its base) keeps the last tree built, keyed by
 * the URL parameters it depends on (cprof_ropts_flame_key); an entry is
 * reference-counted under mu so a job keeps the tree it got even when
 * another replaces the entry, and builds run outside the lock, in
 * parallel.  Each job runs under a deadline (cpr_deadline_set, checked in
 * every regexp match of the reports, then after each step here); a job
 * past it is answered 503 with one line of JSON.
 *
 * Threads: every function is thread-safe (api->mu guards the flame
 * entries; all else is read-only after cprof_webapi_new).  Not
 * async-signal-safe.
 */
#include "cprof_webapi.h"
#include "cprof_webdata.h"
#include "report_int.h"
#include "webapi_timeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FL_MAIN, FL_BASE, FL_N };

/* A flame cache entry: refs counts the jobs using f (and the cache while
 * the entry is current); the last one frees it.  Under api->mu. */
typedef struct fentry {
	char *key;
	cprof_flame *f;
	int refs;
} fentry;

struct cprof_webapi {
	cprof_webapi_config c;
	int64_t deadline_ns;            /* per job */
	pthread_mutex_t mu;             /* the flame entries */
	fentry *flame[FL_N];
	const cprof_profile *tprof[3];  /* under mu: the trace's delay profiles */
};

typedef enum route {
	R_FLAME, R_SANDWICH, R_TOP, R_PEEK, R_SOURCE, R_DISASM, R_GRAPH, R_DOWNLOAD,
	R_EXPORT_SVG, R_EXPORT_HTML, R_PICK,
} route;

/* The jobs: path, route, and for a report its format, content type and
 * disposition. */
static const struct {
	const char *path;
	route rt;
	int format;
	const char *ctype, *disposition;
} jobs[] = {
	{ "data/flame", R_FLAME, 0, NULL, NULL },
	{ "data/sandwich", R_SANDWICH, 0, NULL, NULL },
	{ "data/top", R_TOP, CPROF_FMT_TEXT, "text/plain; charset=utf-8", NULL },
	{ "data/peek", R_PEEK, CPROF_FMT_PEEK, "text/plain; charset=utf-8", NULL },
	{ "data/source", R_SOURCE, CPROF_FMT_LIST, "text/plain; charset=utf-8", NULL },
	{ "data/disasm", R_DISASM, CPROF_FMT_DISASM, "text/plain; charset=utf-8", NULL },
	{ "data/graph", R_GRAPH, CPROF_FMT_SVG, "image/svg+xml", NULL },
	{ "data/pick", R_PICK, 0, NULL, NULL },
	{ "download", R_DOWNLOAD, CPROF_FMT_PROTO, "application/vnd.google.protobuf+gzip",
	  "attachment;filename=profile.pb.gz" },
	{ "export/flame.svg", R_EXPORT_SVG, CPROF_FMT_FLAMESVG, "image/svg+xml",
	  "attachment;filename=flamegraph.svg" },
	{ "export/flame.html", R_EXPORT_HTML, CPROF_FMT_FLAMEGRAPH, "text/html; charset=utf-8",
	  "attachment;filename=flamegraph.html" },
};

#define NELEM(a) (sizeof(a) / sizeof(*(a)))

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cprof_webapi_new(const cprof_webapi_config *cfg, cprof_webapi **out)
{
	*out = NULL;
	cprof_webapi *a = calloc(1, sizeof *a);
	if (!a)
		return CPROF_ENOMEM;
	a->c = *cfg;
	long ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : CPROF_WEBAPI_DEADLINE_MS;
	a->deadline_ns = cfg->deadline_ms == CPROF_WEBAPI_NO_TIME ? -1 : (int64_t)ms * 1000000;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return CPROF_ENOMEM;
	}
	*out = a;
	return 0;
}

static void flame_release(cprof_webapi *a, fentry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&a->mu);
	bool last = --e->refs == 0;
	pthread_mutex_unlock(&a->mu);
	if (last) {
		cprof_flame_free(e->f);
		free(e->key);
		free(e);
	}
}

void cprof_webapi_free(cprof_webapi *a)
{
	if (!a)
		return;
	for (int i = 0; i < FL_N; i++)
		flame_release(a, a->flame[i]);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* ---- answers ------------------------------------------------------------------- */

static void resp_static(cprof_webresp *w, unsigned status, const char *ctype, const char *body,
			size_t len)
{
	w->status = status;
	w->ctype = ctype;
	w->body = (char *)body;
	w->len = len;
	w->owned = false;
}

/* w: status with a copy of msg (static text when out of memory). */
static void resp_err(cprof_webresp *w, unsigned status, const char *msg)
{
	w->status = status;
	w->ctype = "text/plain; charset=utf-8";
	w->body = strdup(msg);
	w->owned = w->body != NULL;
	if (!w->body)
		w->body = (char *)"out of memory";
	w->len = strlen(w->body);
}

static void resp_ok(cprof_webresp *w, const char *ctype, char *body, size_t len, const char *disp)
{
	w->status = 200;
	w->ctype = ctype;
	w->body = body;
	w->len = len;
	w->owned = true;
	w->disposition = disp;
}

void cprof_webresp_free(cprof_webresp *w)
{
	if (w->owned)
		free(w->body);
	free(w->warn);
	memset(w, 0, sizeof *w);
}

static void json_str(FILE *m, const char *s) { cprof_json_str(m, s, strlen(s)); }

/* 503 with {"error":"..."}: the job ran past its deadline.  The report's
 * own message, when it says so, names what was running. */
static void resp_deadline(cprof_webapi *a, cprof_webresp *w, const char *why)
{
	cprof_webresp_free(w);
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (m) {
		char msg[600];
		snprintf(msg, sizeof msg, "the request ran past its deadline of %lld ms%s%.500s",
			 (long long)(a->deadline_ns > 0 ? a->deadline_ns / 1000000 : 0),
			 why ? ": " : "", why ? why : "");
		fputs("{\"error\":", m);
		json_str(m, msg);
		fputs("}\n", m);
	}
	if (!m || fclose(m) != 0) {
		free(out);
		resp_err(w, 503, "deadline exceeded");
		return;
	}
	resp_ok(w, "application/json", out, len, NULL);
	w->status = 503;
}

/* ---- reports (jobs) ------------------------------------------------------------ */

/* Warnings (one per line) as one header value: lines joined by ';'. */
static void join_lines(char *wb)
{
	if (wb)
		for (char *q = wb; *q; q++)
			if (*q == '\n')
				*q = q[1] ? ';' : 0;
}

/* One report on a copy of p into memory; warnings joined into *warn.
 * Returns 0 or a negative code with err set.  p is only read. */
static int run(const cprof_profile *p, const cprof_ropts *r, char **out, size_t *len, char **warn,
	       cprof_error *err)
{
	*out = NULL;
	*len = 0;
	char *wb = NULL;
	size_t wl = 0;
	cprof_profile *d = cprof_profile_dup(p);
	FILE *m = open_memstream(out, len), *w = open_memstream(&wb, &wl);
	int rc = (!d || !m || !w) ? cprof_seterr(err, CPROF_ENOMEM, "out of memory") : 0;
	if (rc == 0)
		rc = cprof_report(d, r, m, w, err);
	if (m && fclose(m) != 0 && rc == 0)
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory");
	if (w)
		fclose(w);
	cprof_profile_free(d);
	join_lines(wb);
	*warn = wb;
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

void cprof_webapi_trace_profile(cprof_webapi *a, int kind, const cprof_profile *p)
{
	if (kind < 0 || kind > 2)
		return;
	pthread_mutex_lock(&a->mu);
	a->tprof[kind] = p;
	pthread_mutex_unlock(&a->mu);
}

static const char *const trace_kinds[] = { "sync", "syscall", "sched" };

/* The profile a request reads: with a trace, the delay profile of
 * tp=sync|syscall|sched (else of the config's kind), or NULL while it is
 * being built; without one, the profile. */
static const cprof_profile *req_profile(cprof_webapi *a, cprof_query_get *get, void *ctx,
					int *kind)
{
	*kind = -1;
	if (!a->c.timeline)
		return a->c.p;
	const char *tp = get(ctx, "tp");
	*kind = a->c.trace_main >= 0 && a->c.trace_main <= 2 ? a->c.trace_main : 0;
	for (int k = 0; tp && k < 3; k++)
		if (strcmp(tp, trace_kinds[k]) == 0)
			*kind = k;
	pthread_mutex_lock(&a->mu);
	const cprof_profile *p = a->tprof[*kind];
	pthread_mutex_unlock(&a->mu);
	return p;
}

/* 503 for a view of a trace's delay profile still being built. */
static void resp_building(cprof_webresp *w, int kind)
{
	char msg[160];
	snprintf(msg, sizeof msg, "the trace's %s profile is still being built: retry in a few seconds",
		 trace_kinds[kind]);
	resp_err(w, 503, msg);
}

static void report_resp(cprof_webapi *a, cprof_query_get *get, void *ctx, cprof_ropts *r,
			const char *ctype, const char *disposition, cprof_webresp *w)
{
	char *out;
	size_t len;
	cprof_error err = { 0 };
	int kind;
	const cprof_profile *rp = req_profile(a, get, ctx, &kind);
	if (!rp) {
		resp_building(w, kind);
		return;
	}
	int rc = run(rp, r, &out, &len, &w->warn, &err);
	const char *msg = err.code ? err.msg : cprof_strerror(rc);
	if (rc < 0 && cpr_deadline_passed()) {
		resp_deadline(a, w, msg);
		return;
	}
	if (rc < 0) {
		/* no Graphviz is the server's lack (501), the rest the request's */
		unsigned st = r->format == CPROF_FMT_SVG && strstr(err.code ? err.msg : "", "dot")
			? 501 : 400;
		resp_err(w, st, msg);
		return;
	}
	resp_ok(w, ctype, out, len, disposition);
}

/* The flame tree of one side for the request's filters: the cached one
 * when its key matches, else built (outside the lock: builds of different
 * requests run in parallel) and made the cached one.  The caller releases
 * the entry (flame_release). */
static fentry *get_flame(cprof_webapi *a, cprof_query_get *get, void *ctx, int which,
			 const cprof_ropts *r, char **warn, cprof_error *err)
{
	int kind;
	const cprof_profile *rp = req_profile(a, get, ctx, &kind);
	if (!rp && which != FL_BASE) {
		cprof_seterr(err, 503, "the trace's %s profile is still being built: retry in a few seconds",
			     trace_kinds[kind]);
		return NULL;
	}
	char *okey = cprof_ropts_flame_key(get, ctx), *key = NULL;
	if (okey && asprintf(&key, "tp=%d\x01%s", kind, okey) < 0)
		key = NULL;
	free(okey);
	if (!key) {
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&a->mu);
	fentry *e = a->flame[which];
	if (e && strcmp(e->key, key) == 0) {
		e->refs++;
		pthread_mutex_unlock(&a->mu);
		free(key);
		return e;
	}
	pthread_mutex_unlock(&a->mu);
	const cprof_profile *src = which == FL_BASE ? a->c.pbase : a->c.pnew ? a->c.pnew : rp;
	cprof_profile *d = cprof_profile_dup(src);
	char *wb = NULL;
	size_t wl = 0;
	FILE *w = open_memstream(&wb, &wl);
	cprof_flame *f = NULL;
	e = calloc(1, sizeof *e);
	int rc = (!d || !w || !e) ? cprof_seterr(err, CPROF_ENOMEM, "out of memory") : 0;
	if (rc == 0)
		rc = cprof_flame_build(d, r, w, &f, err);
	if (w)
		fclose(w);
	cprof_profile_free(d);
	join_lines(wb);
	free(*warn);
	*warn = wb;
	if (rc < 0) {
		free(key);
		free(e);
		return NULL;
	}
	e->key = key;
	e->f = f;
	e->refs = 2;   /* the cache's and the caller's */
	pthread_mutex_lock(&a->mu);
	fentry *old = a->flame[which];
	a->flame[which] = e;
	pthread_mutex_unlock(&a->mu);
	flame_release(a, old);
	return e;
}

/* data/flame?zoom=A%0AB&w=PX[&which=base|diff] and data/sandwich?fn=NAME&dir=callers;
 * which=diff: the union of the profile and its base, each side's values */
static void flame_resp(cprof_webapi *a, cprof_query_get *get, void *ctx, cprof_ropts *r,
		       bool sandwich, cprof_webresp *w)
{
	const char *which = get(ctx, "which");
	int side = FL_MAIN;
	bool diff = false;
	if (which && (strcmp(which, "base") == 0 || strcmp(which, "diff") == 0)) {
		if (!a->c.pbase) {
			resp_err(w, 404, "no base profile (use -base or -diff_base)");
			return;
		}
		diff = which[0] == 'd';
		side = diff ? FL_MAIN : FL_BASE;
	}
	char *bwarn = NULL;
	cprof_error err = { 0 };
	fentry *fe = get_flame(a, get, ctx, side, r, &w->warn, &err);
	fentry *be = fe && diff ? get_flame(a, get, ctx, FL_BASE, r, &bwarn, &err) : NULL;
	free(bwarn);
	if (!fe || (diff && !be)) {
		flame_release(a, fe);
		const char *msg = err.code ? err.msg : "cannot build the flame graph";
		if (cpr_deadline_passed())
			resp_deadline(a, w, msg);
		else
			resp_err(w, err.code == 503 ? 503 : 400, msg);
		return;
	}
	const char *wp = get(ctx, "w");
	double px = wp ? strtod(wp, NULL) : 1200;
	if (!(px >= 10 && px <= 100000))
		px = 1200;
	double minfrac = 0.25 / px;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	int rc = m ? 0 : CPROF_ENOMEM;
	if (rc == 0 && sandwich) {
		const char *fn = get(ctx, "fn"), *dir = get(ctx, "dir");
		rc = cprof_flame_write_sandwich(fe->f, fn ? fn : "", dir && strcmp(dir, "callers") == 0,
						minfrac, m);
	} else if (rc == 0) {
		/* zoom: frame names from the root, '\n'-separated */
		const char *z = get(ctx, "zoom");
		char *zs = z ? strdup(z) : NULL;
		const char **names = NULL;
		size_t nn = 0;
		if (zs) {
			size_t cnt = 1;
			for (char *p = zs; *p; p++)
				cnt += *p == '\n';
			names = malloc(cnt * sizeof *names);
			if (names)
				for (char *p = zs, *e; p; p = e) {
					e = strchr(p, '\n');
					if (e)
						*e++ = 0;
					names[nn++] = p;
				}
		}
		rc = (z && (!zs || !names)) ? CPROF_ENOMEM
			: diff ? cprof_flame_write_diff(fe->f, be->f, names, nn, minfrac, m)
			: cprof_flame_write(fe->f, names, nn, minfrac, m);
		free(names);
		free(zs);
	}
	flame_release(a, fe);
	flame_release(a, be);
	if (m && fclose(m) != 0 && rc == 0)
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		free(out);
		resp_err(w, 500, cprof_strerror(rc));
		return;
	}
	resp_ok(w, "application/json", out, len, NULL);
}

/* ---- the function the source and disassembly views open on --------------------- */

#define PICK_TOP 40             /* the hottest functions considered */
#define PICK_DISASM_TRIES 8     /* disassembly runs at most */
#define PICK_SKIPPED 8          /* hotter functions named in the answer */
#define PICK_NONE (-1000)       /* no candidate will do (not a CPROF_E* code) */

/* Close the memory stream m writing into *buf: *buf, or NULL (freed) when
 * it ran out of memory. */
static char *ms_take(FILE *m, char **buf)
{
	if (fclose(m) != 0) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

/* s[0..n) regexp-escaped, appended to m. */
static void re_escape(FILE *m, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\^$.|?*+()[]{}", s[i]) && s[i])
			putc('\\', m);
		putc(s[i], m);
	}
}

/* A regexp that selects the function name s[0..n) in -disasm: the name
 * whole in the graph's node names ("ADDRESS NAME FILE:LINE") and in nm's
 * names (mangled, demangled, demangled without the parameters, with their
 * template arguments), where ^NAME$ matches no node name.  malloc'd, or
 * NULL. */
static char *disasm_regexp(const char *s, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m)
		return NULL;
	/* template arguments, which the profile's names drop and nm's keep,
	 * may follow each scope and the name */
	static const char targs[] = "(?:<[^()]*>)?";
	fputs("(?:^|\\s)(?:", m);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && s[i] == ':' && s[i + 1] == ':' && i > 0)
			fputs(targs, m);
		re_escape(m, s + i, 1);
	}
	fputs(targs, m);
	fputs(")(?:$|\\s|\\()", m);
	return ms_take(m, &out);
}

/* ^RE$ as the page writes a selected function (no '$' escaped at the end,
 * no top-level '|'): RE's text, else NULL.  malloc'd. */
static char *anchored_inner(const char *re)
{
	size_t n = strlen(re);
	if (n < 3 || re[0] != '^' || re[n - 1] != '$' || re[n - 2] == '\\')
		return NULL;
	for (size_t i = 1; i + 1 < n; i++) {
		if (re[i] == '\\')
			i++;
		else if (strchr("|()[]", re[i]))
			return NULL;
	}
	return strndup(re + 1, n - 2);
}

/* Undo re_escape / escapeRe: the literal a regexp of only escaped
 * characters stands for, or NULL when it holds a metacharacter. */
static char *re_literal(const char *re)
{
	char *out = malloc(strlen(re) + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *q = re; *q; q++) {
		if (*q == '\\' && q[1]) {
			*o++ = *++q;
			continue;
		}
		if (strchr("^$.|?*+()[]{}", *q)) {
			free(out);
			return NULL;
		}
		*o++ = *q;
	}
	*o = 0;
	return out;
}

typedef struct pick_cand {
	char *name;
	bool ok;                /* -list showed its source */
	const char *why;        /* why it was passed over (static or into notes) */
	char *note;             /* malloc'd reason, or NULL */
} pick_cand;

/* The hottest functions (by flat, the top report's order) of the request's
 * view of p, at most PICK_TOP, without " (inline)" and duplicates.
 * Returns the number (*out malloc'd), or a negative code with err set. */
static int pick_candidates(const cprof_profile *p, const cprof_ropts *r, pick_cand **out,
			   cprof_error *err)
{
	*out = NULL;
	cprof_ropts t = *r;
	t.format = CPROF_FMT_TEXT;
	t.granularity = CPROF_GRAN_FUNCTIONS;
	t.nodecount = PICK_TOP;
	t.cum = false;
	char *text, *warn = NULL;
	size_t len;
	int rc = run(p, &t, &text, &len, &warn, err);
	free(warn);
	if (rc < 0)
		return rc;
	pick_cand *v = calloc(PICK_TOP, sizeof *v);
	int n = 0;
	bool rows = false;
	char *save = NULL;
	for (char *l = v ? strtok_r(text, "\n", &save) : NULL; l && n < PICK_TOP;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!rows) {
			rows = strstr(l, "flat%") && strstr(l, "cum%");
			continue;
		}
		/* flat flat% sum% cum cum% NAME */
		char *q = l;
		for (int f = 0; f < 5 && q; f++) {
			while (*q == ' ')
				q++;
			q = strchr(q, ' ');
		}
		if (!q)
			continue;
		while (*q == ' ')
			q++;
		size_t nl = strlen(q);
		if (nl > 9 && strcmp(q + nl - 9, " (inline)") == 0)
			q[nl -= 9] = 0;
		bool dup = nl == 0;
		for (int i = 0; i < n && !dup; i++)
			dup = strcmp(v[i].name, q) == 0;
		if (dup)
			continue;
		if (!(v[n].name = strdup(q)))
			break;
		n++;
	}
	free(text);
	if (!v)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
	*out = v;
	return n;
}

/* ^NAME$ for one name, ^(?:A|B|...)$ for several (n > 0): the regexp that
 * selects them by function name in -list.  malloc'd, or NULL. */
static char *names_regexp(const pick_cand *v, int n)
{
	char *re = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&re, &len);
	if (!m)
		return NULL;
	fputs(n > 1 ? "^(?:" : "^", m);
	for (int i = 0; i < n; i++) {
		if (i)
			putc('|', m);
		re_escape(m, v[i].name, strlen(v[i].name));
	}
	fputs(n > 1 ? ")$" : "$", m);
	return ms_take(m, &re);
}

static void pick_free(pick_cand *v, int n)
{
	for (int i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].note);
	}
	free(v);
}

/* Source: one -list over all the candidates; the first whose block shows
 * its source wins.  Returns its index, PICK_NONE, or a negative CPROF_E*
 * code with err set; *text is its listing. */
static int pick_source(const cprof_profile *p, const cprof_ropts *r, pick_cand *v, int n,
		       char **text, cprof_error *err)
{
	char *re = names_regexp(v, n);
	if (!re)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
	cprof_ropts t = *r;
	t.format = CPROF_FMT_LIST;
	t.symbol = re;
	char *out, *warn = NULL;
	size_t len;
	int rc = run(p, &t, &out, &len, &warn, err);
	free(warn);
	free(re);
	if (rc < 0)
		return rc;
	/* blocks: "ROUTINE ======================== NAME in FILE", its header,
	 * then " Error: ..." or the lines; "No source information for NAME" */
	static const char routine[] = "ROUTINE ======================== ";
	static const char nosrc[] = "No source information for ";
	for (int i = 0; i < n; i++) {
		size_t nl = strlen(v[i].name);
		/* "[module]": pprof's name for an address no symbol covers
		 * ([vdso], a stripped library), which -list never shows */
		v[i].why = nl > 2 && v[i].name[0] == '[' && v[i].name[nl - 1] == ']'
			? "no function: an address in a module without symbols"
			: "not in the listing";
	}
	char *cur = NULL;       /* the name of the block being read */
	bool cur_err = false;
	for (char *l = out, *e = out; e; l = e) {
		e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) : strlen(l);
		if (e)
			e++;
		bool is_routine = ll > sizeof routine - 1 && memcmp(l, routine, sizeof routine - 1) == 0;
		if ((is_routine || !e) && cur) {
			/* the block ends: its function has source unless it erred */
			for (int i = 0; i < n; i++)
				if (!cur_err && strcmp(v[i].name, cur) == 0)
					v[i].ok = true;
			free(cur);
			cur = NULL;
		}
		if (is_routine) {
			const char *nm = l + sizeof routine - 1, *in = NULL;
			for (const char *q = nm; q + 4 <= l + ll; q++)
				if (memcmp(q, " in ", 4) == 0)
					in = q;
			cur = strndup(nm, in ? (size_t)(in - nm) : (size_t)(l + ll - nm));
			cur_err = false;
		} else if (cur && ll > 8 && memcmp(l, " Error: ", 8) == 0) {
			cur_err = true;
			for (int i = 0; i < n; i++)
				if (strcmp(v[i].name, cur) == 0 && !v[i].note && (v[i].note = strndup(l + 8, ll - 8)))
					v[i].why = v[i].note;
		} else if (ll > sizeof nosrc - 1 && memcmp(l, nosrc, sizeof nosrc - 1) == 0) {
			for (int i = 0; i < n; i++)
				if (strlen(v[i].name) == ll - (sizeof nosrc - 1) &&
				    memcmp(v[i].name, l + sizeof nosrc - 1, ll - (sizeof nosrc - 1)) == 0)
					v[i].why = "no file name in the profile (built without -g?)";
		}
	}
	for (int i = 0; i < n; i++)
		if (v[i].ok)
			v[i].why = NULL;
	free(cur);
	free(out);
	for (int i = 0; i < n; i++) {
		if (v[i].why)
			continue;
		/* its own listing, as the page would ask for it */
		char *one = names_regexp(v + i, 1);
		if (!one)
			return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		t.symbol = one;
		warn = NULL;
		rc = run(p, &t, text, &len, &warn, err);
		free(warn);
		free(one);
		return rc < 0 ? rc : i;
	}
	return PICK_NONE;
}

/* Disassembly: the candidates in turn, at most PICK_DISASM_TRIES runs;
 * the first that disassembles wins (an object file that can be read, with
 * the symbol in it).  *seen: the candidates looked at.  Same returns as
 * pick_source. */
static int pick_disasm(const cprof_profile *p, const cprof_ropts *r, pick_cand *v, int n,
		       char **text, int *seen, cprof_error *err)
{
	cprof_ropts t = *r;
	t.format = CPROF_FMT_DISASM;
	*seen = 0;
	for (int i = 0, tries = 0; i < n && tries < PICK_DISASM_TRIES; i++) {
		*seen = i + 1;
		if (v[i].name[0] == '[') {
			v[i].why = "no symbol";  /* [vdso], [unknown] */
			continue;
		}
		char *re = disasm_regexp(v[i].name, strlen(v[i].name));
		if (!re)
			return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		t.symbol = re;
		char *warn = NULL;
		size_t len;
		cprof_error e = { 0 };
		int rc = run(p, &t, text, &len, &warn, &e);
		free(re);
		tries++;
		if (rc == 0) {
			free(warn);
			return i;
		}
		if (cpr_deadline_passed()) {
			free(warn);
			return cprof_seterr(err, CPROF_EINVAL, "%s", e.code ? e.msg : "deadline");
		}
		/* why: the report's error, else its first warning (an object
		 * file it could not open), else no symbol in a readable one */
		const char *why = e.code && strncmp(e.msg, "no matches", 10) != 0 ? e.msg : NULL;
		char *save = NULL;
		for (char *w = why || !warn ? NULL : strtok_r(warn, ";", &save); w && !why;
		     w = strtok_r(NULL, ";", &save))
			if (strncmp(w, "open [", 6) != 0)   /* not [vdso], which no sample needs */
				why = w;
		v[i].note = strdup(why ? why : "no symbol of it in an object file that can be read");
		v[i].why = v[i].note ? v[i].note : "cannot be disassembled";
		free(warn);
	}
	return PICK_NONE;
}

/* data/pick?view=source|disasm: the hottest function of the request's view
 * that has source (that can be disassembled), as JSON: {"view", "f" (the
 * regexp that selects it), "name", "text" (its listing), "skipped" (the
 * hotter ones and why), "considered"}; "f" empty when none has. */
static void pick_resp(cprof_webapi *a, cprof_query_get *get, void *ctx, const cprof_ropts *r,
		      cprof_webresp *w)
{
	const char *view = get(ctx, "view");
	bool disasm = view && strcmp(view, "disasm") == 0;
	if (!view || (!disasm && strcmp(view, "source") != 0)) {
		resp_err(w, 400, "view: want source or disasm");
		return;
	}
	cprof_error err = { 0 };
	pick_cand *v = NULL;
	char *text = NULL;
	int n = pick_candidates(a->c.p, r, &v, &err);
	int seen = n;
	int k = n < 0 ? n : disasm ? pick_disasm(a->c.p, r, v, n, &text, &seen, &err)
		: pick_source(a->c.p, r, v, n, &text, &err);
	if (k < 0 && k != PICK_NONE) {
		if (n > 0)
			pick_free(v, n);
		if (cpr_deadline_passed())
			resp_deadline(a, w, err.code ? err.msg : NULL);
		else
			resp_err(w, 400, err.code ? err.msg : cprof_strerror(k));
		return;
	}
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (m) {
		fputs("{\"view\":", m);
		json_str(m, disasm ? "disasm" : "source");
		fputs(",\"f\":", m);
		char *re = k < 0 ? NULL : disasm ? disasm_regexp(v[k].name, strlen(v[k].name))
			: names_regexp(v + k, 1);
		json_str(m, re ? re : "");
		free(re);
		fputs(",\"name\":", m);
		json_str(m, k >= 0 ? v[k].name : "");
		fputs(",\"text\":", m);
		json_str(m, text ? text : "");
		fprintf(m, ",\"considered\":%d,\"skipped\":[", seen);
		int end = k >= 0 ? k : seen, shown = 0;
		for (int i = 0; i < end && shown < PICK_SKIPPED; i++, shown++) {
			fputs(shown ? ",{\"name\":" : "{\"name\":", m);
			json_str(m, v[i].name);
			fputs(",\"why\":", m);
			json_str(m, v[i].why ? v[i].why : "");
			putc('}', m);
		}
		fprintf(m, "],\"more\":%d}\n", end > shown ? end - shown : 0);
	}
	free(text);
	pick_free(v, n);
	if (!m || fclose(m) != 0) {
		free(out);
		resp_err(w, 500, "out of memory");
		return;
	}
	resp_ok(w, "application/json", out, len, NULL);
}

/* A job: the URL's options over the defaults, then its report. */
static void serve_job(cprof_webapi *a, size_t j, cprof_query_get *get, void *ctx, cprof_webresp *w)
{
	cprof_ropts r = *a->c.defaults;
	char msg[256];
	if (cprof_ropts_from_url(&r, get, ctx, msg, sizeof msg) < 0) {
		resp_err(w, 400, msg);
		return;
	}
	route rt = jobs[j].rt;
	if (rt == R_FLAME || rt == R_SANDWICH) {
		flame_resp(a, get, ctx, &r, rt == R_SANDWICH, w);
		return;
	}
	if (rt == R_PICK) {
		pick_resp(a, get, ctx, &r, w);
		return;
	}
	r.format = jobs[j].format;
	if (rt == R_TOP && !get(ctx, "n"))
		r.nodecount = 500;
	char *alt = NULL;
	if (rt == R_PEEK || rt == R_SOURCE || rt == R_DISASM) {
		const char *sym = get(ctx, "f");
		r.symbol = sym ? sym : ".";
		/* the page's ^NAME$ (a selected function) would match no node
		 * name of -disasm ("ADDRESS NAME FILE:LINE") */
		char *inner = rt == R_DISASM && sym ? anchored_inner(sym) : NULL;
		char *lit = inner ? re_literal(inner) : NULL;
		if (lit && (alt = disasm_regexp(lit, strlen(lit))))
			r.symbol = alt;
		free(lit);
		free(inner);
	}
	report_resp(a, get, ctx, &r, jobs[j].ctype, jobs[j].disposition, w);
	free(alt);
}

/* ---- cheap answers ---------------------------------------------------------------- */

/* data/meta: what the page's menus need. */
static void serve_meta(cprof_webapi *a, cprof_webresp *w)
{
	const cprof_profile *p = a->c.p;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m) {
		resp_err(w, 500, "out of memory");
		return;
	}
	size_t def = p->vtypes.n ? p->vtypes.n - 1 : 0;
	const char *dst = p->default_sample_type ? cprof_s(p, p->default_sample_type) : "";
	for (size_t i = 0; *dst && i < p->vtypes.n; i++)
		if (strcmp(cprof_s(p, p->vtypes.v[i].type), dst) == 0)
			def = i;
	fputs("{\"sampleTypes\":[", m);
	for (size_t i = 0; i < p->vtypes.n; i++) {
		fputs(i ? ",{\"type\":" : "{\"type\":", m);
		json_str(m, cprof_s(p, p->vtypes.v[i].type));
		fputs(",\"unit\":", m);
		json_str(m, cprof_s(p, p->vtypes.v[i].unit));
		putc('}', m);
	}
	const char *si = a->c.defaults->sample_index;
	fprintf(m, "],\"defaultIndex\":%zu,\"cliSampleIndex\":", def);
	json_str(m, si ? si : "");
	fputs(",\"title\":", m);
	const char *t = a->c.nsources ? a->c.sources[0] : "";
	const char *b = strrchr(t, '/');
	json_str(m, b ? b + 1 : t);
	fprintf(m, ",\"hasBase\":%s,\"diffBase\":%s,\"sources\":[", a->c.pbase ? "true" : "false",
		a->c.diff_base ? "true" : "false");
	for (size_t i = 0; i < a->c.nsources; i++) {
		if (i)
			putc(',', m);
		json_str(m, a->c.sources[i]);
	}
	fputs("],\"bases\":[", m);
	for (size_t i = 0; i < a->c.nbases; i++) {
		if (i)
			putc(',', m);
		json_str(m, a->c.bases[i]);
	}
	fprintf(m, "],\"timeline\":%s}\n", a->c.timeline ? "true" : "false");
	if (fclose(m) != 0) {
		free(out);
		resp_err(w, 500, "out of memory");
		return;
	}
	resp_ok(w, "application/json", out, len, NULL);
}

static void serve_asset(cprof_webresp *w, const char *name)
{
	size_t len = 0;
	const char *a = strchr(name, '/') ? NULL : cpr_web_asset(name, &len);
	if (!a) {
		resp_static(w, 404, "text/plain; charset=utf-8", "not found", 9);
		return;
	}
	const char *dot = strrchr(name, '.');
	const char *ct = !dot ? "application/octet-stream"
		: !strcmp(dot, ".js") ? "text/javascript; charset=utf-8"
		: !strcmp(dot, ".css") ? "text/css; charset=utf-8"
		: !strcmp(dot, ".html") ? "text/html; charset=utf-8" : "application/octet-stream";
	resp_static(w, 200, ct, a, len);
}

static bool is_view(const char *v)
{
	static const char *const views[] = { "", "flamegraph", "graph", "top", "source", "peek",
					     "disasm", "sandwich" };
	for (size_t i = 0; i < NELEM(views); i++)
		if (strcmp(v, views[i]) == 0)
			return true;
	return false;
}

static ptrdiff_t job_of(const char *path)
{
	for (size_t i = 0; i < NELEM(jobs); i++)
		if (strcmp(path, jobs[i].path) == 0)
			return (ptrdiff_t)i;
	return -1;
}

enum cprof_webapi_kind cprof_webapi_kind(const char *path)
{
	return job_of(path) >= 0 || cpr_webapi_timeline_is_job(path) ? CPROF_WEB_JOB
		: CPROF_WEB_CHEAP;
}

void cprof_webapi_serve(cprof_webapi *a, const char *path, cprof_query_get *get, void *ctx,
			cprof_webresp *w)
{
	memset(w, 0, sizeof *w);
	if (is_view(path)) {
		serve_asset(w, "index.html");
		return;
	}
	if (strncmp(path, "static/", 7) == 0) {
		serve_asset(w, path + 7);
		return;
	}
	if (strcmp(path, "data/meta") == 0) {
		serve_meta(a, w);
		return;
	}
	if (cpr_webapi_timeline_path(path)) {
		cpr_deadline_set(mono_ns() + a->deadline_ns);
		cpr_webapi_timeline(a->c.timeline, path, get, ctx, w);
		cpr_deadline_set(0);
		return;
	}
	ptrdiff_t j = job_of(path);
	if (j < 0) {
		resp_static(w, 404, "text/plain; charset=utf-8", "not found", 9);
		return;
	}
	cpr_deadline_set(mono_ns() + a->deadline_ns);
	serve_job(a, (size_t)j, get, ctx, w);
	/* a step that does not look at the clock (a build, dot) may end late */
	if (w->status == 200 && cpr_deadline_passed())
		resp_deadline(a, w, NULL);
	cpr_deadline_set(0);
}
