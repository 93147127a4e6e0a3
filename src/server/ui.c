/*
 * ui.c - the server's web UI: the page at /, /targets and /snapshots, its
 * assets at /static/NAME, /favicon.ico, and the analysis views (pprof's
 * graph, top, source, peek, disassembly: the CLI's web UI) of one window's
 * merged profile under /analysis/.
 *
 * The page (web/server/srv.html, srv.js, srv.css, and the flame graph
 * component web/flamegraph.js, flamegraph.css) is embedded in the binary
 * by web/embed.sh, the CLI's web UI's way (cpr_web_asset, by base name);
 * it reads everything else from the query API (query_http.c).  Assets are
 * answered with an ETag (FNV-1a of their bytes) and "Cache-Control:
 * no-cache": a browser revalidates each load and gets 304 while the binary
 * is the same, never a stale script after an upgrade.  Only the names in
 * ASSETS are served: the rest of the embedded files belong to the CLI.
 *
 * /analysis/KIND/FROM/UNTIL/SELECTOR/VIEW[?pprof options] (SELECTOR's bytes
 * in hex, "-" for every series; or /analysis/snapshot/ID/VIEW, a rule's
 * pinned snapshot): the CLI's web UI (report/webapi.c, the same page and
 * API `cprof -http` serves) mounted at that prefix, over the profile
 * merged from the store for the window.  The window is in the path
 * because the page's requests are relative to its directory and some
 * carry no query.  A merged profile and its cprof_webapi are kept in a
 * small cache (AN_CACHE entries, least recently used out) keyed by the
 * window as given, so the page's many requests merge once; the page
 * links with absolute times, so a key means the same data while it lives.
 *
 * Threads: srv_ui_handle runs on any of the daemon's threads at once.
 * The analysis cache is under an_mu; an entry is reference-counted so a
 * request keeps the entry it got while another request evicts it, and
 * the merge runs outside the lock (two requests for the same new key may
 * both merge; the second's entry replaces the first's).  Not
 * async-signal-safe.
 */
#include "server_int.h"
#include "cprof_webapi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* web/embed.sh's lookup (build/gen/web_assets.c, in libcprofreport.a):
 * the embedded file of that base name, or NULL. */
const char *cpr_web_asset(const char *name, size_t *len);

/* ---- the page and its assets -------------------------------------------- */

static const char *const ASSETS[] = {
	"srv.html", "srv.js", "srv.css", "srv-icon.svg", "flamegraph.js", "flamegraph.css",
};

static const char *ctype_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	return !dot ? "application/octet-stream"
		: !strcmp(dot, ".js") ? "text/javascript; charset=utf-8"
		: !strcmp(dot, ".css") ? "text/css; charset=utf-8"
		: !strcmp(dot, ".svg") ? "image/svg+xml"
		: !strcmp(dot, ".html") ? "text/html; charset=utf-8" : "application/octet-stream";
}

/* The embedded asset name into rs (304 when the request's If-None-Match
 * is its ETag).  false when there is no such asset. */
static bool send_asset(const srv_req *rq, srv_resp *rs, const char *name)
{
	bool known = false;
	for (size_t i = 0; i < sizeof ASSETS / sizeof *ASSETS; i++)
		known |= !strcmp(ASSETS[i], name);
	size_t len = 0;
	const char *a = known ? cpr_web_asset(name, &len) : NULL;
	if (!a)
		return false;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)a[i]) * 16777619u;
	snprintf(rs->etag, sizeof rs->etag, "\"%08x-%zx\"", h, len);
	rs->cache = "no-cache";
	rs->ctype = ctype_of(name);
	const char *inm = rq->header(rq, "If-None-Match");
	if (inm && !strcmp(inm, rs->etag)) {
		rs->status = 304;
		return true;
	}
	rs->status = 200;
	rs->body = (char *)a;
	rs->len = len;
	rs->body_static = true;
	return true;
}

/* ---- the analysis views -------------------------------------------------- */

#define AN_CACHE 4
#define AN_KEY_MAX 4096

/* A merged window and the web API over it.  refs: the cache's one (while
 * cached) and one per request using it; the last release frees it.
 * Everything but refs is immutable once made. */
typedef struct an_entry {
	char *key;
	cprof_profile *p;
	cprof_ropts defaults;
	char *title;
	const char *sources[1];
	cprof_webapi *api;
	int refs;
	uint64_t used;              /* LRU clock, under an_mu */
} an_entry;

static pthread_mutex_t an_mu = PTHREAD_MUTEX_INITIALIZER;
static an_entry *an_cache[AN_CACHE];
static uint64_t an_clock;

static void an_free(an_entry *e)
{
	cprof_webapi_free(e->api);
	cprof_profile_free(e->p);
	free(e->title);
	free(e->key);
	free(e);
}

static void an_release(an_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&an_mu);
	bool last = --e->refs == 0;
	pthread_mutex_unlock(&an_mu);
	if (last)
		an_free(e);
}

void srv_ui_shutdown(void)
{
	pthread_mutex_lock(&an_mu);
	an_entry *all[AN_CACHE];
	memcpy(all, an_cache, sizeof all);
	memset(an_cache, 0, sizeof an_cache);
	pthread_mutex_unlock(&an_mu);
	for (size_t i = 0; i < AN_CACHE; i++)
		an_release(all[i]);
}

/* A new entry for key over p (taken: freed on failure) with its web API,
 * put in the cache in place of the least recently used.  NULL with the
 * answer set when memory runs out. */
static an_entry *an_put(const char *key, cprof_profile *p, const char *title, srv_resp *rs)
{
	an_entry *en = calloc(1, sizeof *en);
	if (en) {
		en->key = strdup(key);
		en->title = strdup(title);
		en->p = p;
		p = NULL;
		cprof_ropts_init(&en->defaults);
		en->sources[0] = en->title;
	}
	cprof_webapi_config wc = { 0 };
	if (en && en->key && en->title) {
		wc.p = en->p;
		wc.defaults = &en->defaults;
		wc.sources = en->sources;
		wc.nsources = 1;
	}
	if (!en || !en->key || !en->title || cprof_webapi_new(&wc, &en->api)) {
		cprof_profile_free(p);
		if (en)
			an_free(en);
		srv_resp_error(rs, 500, "out of memory");
		return NULL;
	}
	en->refs = 2;   /* the cache's and this request's */
	pthread_mutex_lock(&an_mu);
	size_t slot = 0;
	for (size_t i = 0; i < AN_CACHE; i++) {
		if (!an_cache[i]) {
			slot = i;
			break;
		}
		if (an_cache[i]->used < an_cache[slot]->used)
			slot = i;
	}
	an_entry *old = an_cache[slot];
	an_cache[slot] = en;
	en->used = ++an_clock;
	pthread_mutex_unlock(&an_mu);
	an_release(old);
	return en;
}

/* The entry for window w: cached, or merged from the store now.  NULL
 * with the answer set (a bad parameter, nothing there). */
static an_entry *an_get(srv_ctx *c, const srv_an_window *w, srv_resp *rs)
{
	const char *kind = w->kind, *sel = w->sel, *from = w->from, *until = w->until;
	long long snap_id = w->snap_id;
	char key[AN_KEY_MAX + 256];
	snprintf(key, sizeof key, "%s\n%s\n%s\n%s\n%lld", kind, sel, from, until, snap_id);
	pthread_mutex_lock(&an_mu);
	for (size_t i = 0; i < AN_CACHE; i++)
		if (an_cache[i] && !strcmp(an_cache[i]->key, key)) {
			an_entry *e = an_cache[i];
			e->refs++;
			e->used = ++an_clock;
			pthread_mutex_unlock(&an_mu);
			return e;
		}
	pthread_mutex_unlock(&an_mu);

	cprof_error e = { 0 };
	cprof_profile *p = NULL;
	srv_query_info info = { 0 };
	char title[512];
	if (snap_id) {
		int rc = srv_store_snapshot_get(c->store, snap_id, &p, &e);
		if (rc) {
			srv_resp_error(rs, rc == CPROF_EINVAL ? 404 : 500, "%s",
				       e.code ? e.msg : cprof_strerror(rc));
			return NULL;
		}
		snprintf(title, sizeof title, "snapshot %lld", snap_id);
		return an_put(key, p, title, rs);
	}
	if (!srv_kind_valid(kind)) {
		srv_resp_error(rs, 400, "type: \"%.64s\" is not a profile kind", kind);
		return NULL;
	}
	int64_t now = 0, f = 0, u = 0;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	if (srv_time_parse(from, strlen(from), now, &f, &e)) {
		srv_resp_error(rs, 400, "from: %s", e.msg);
		return NULL;
	}
	if (srv_time_parse(until, strlen(until), now, &u, &e)) {
		srv_resp_error(rs, 400, "until: %s", e.msg);
		return NULL;
	}
	if (u <= f) {
		srv_resp_error(rs, 400, "until must be after from");
		return NULL;
	}
	srv_selector *s = NULL;
	if (*sel && srv_selector_parse(sel, strlen(sel), &s, &e)) {
		srv_resp_error(rs, 400, "query: %s", e.msg);
		return NULL;
	}
	int rc = srv_store_query(c->store, s, kind, f, u, &p, &info, &e);
	srv_selector_free(s);
	if (rc) {
		srv_resp_error(rs, rc == CPROF_EINVAL ? 400 : rc == CPROF_ELIMIT ? 413 : 500, "%s",
			       e.code ? e.msg : cprof_strerror(rc));
		return NULL;
	}
	if (p->vtypes.n == 0) {
		cprof_profile_free(p);
		srv_resp_error(rs, 404, "no %s profiles match the query in this window", kind);
		return NULL;
	}
	snprintf(title, sizeof title, "%s %s (%zu profiles, %zu series)", kind, *sel ? sel : "{}",
		 info.nprofiles, info.nseries);
	return an_put(key, p, title, rs);
}

static const char *req_get(void *ctx, const char *key)
{
	const srv_req *rq = ctx;
	const char *v = rq->arg(rq, key);
	return v && *v ? v : NULL;
}

/* GET /analysis/WINDOW/PATH: the CLI's web UI over the window's profile. */
static void analysis(srv_ctx *c, const srv_req *rq, srv_resp *rs, const char *full)
{
	cprof_webresp w;
	srv_an_window win;
	const char *why = NULL;
	if (srv_an_parse(full, &win, &why)) {
		srv_resp_error(rs, 400, "%s", why);
		return;
	}
	const char *path = win.rest;
	/* the page's assets need no profile */
	if (strncmp(path, "static/", 7) == 0) {
		cprof_webapi_config wc = { 0 };
		cprof_ropts o;
		cprof_ropts_init(&o);
		wc.defaults = &o;
		cprof_webapi *a = NULL;
		if (cprof_webapi_new(&wc, &a)) {
			srv_resp_error(rs, 500, "out of memory");
			return;
		}
		cprof_webapi_serve(a, path, req_get, (void *)rq, &w);
		cprof_webapi_free(a);
	} else {
		an_entry *e = an_get(c, &win, rs);
		if (!e)
			return;
		cprof_webapi_serve(e->api, path, req_get, (void *)rq, &w);
		an_release(e);
	}
	rs->status = w.status;
	rs->ctype = w.ctype;
	rs->disposition = w.disposition;
	if (w.owned) {
		rs->body = w.body;
	} else {
		rs->body = w.body;
		rs->body_static = true;
	}
	rs->len = w.len;
	w.body = NULL;
	w.owned = false;
	cprof_webresp_free(&w);
}

/* ---- routes ------------------------------------------------------------------ */

bool srv_ui_handle(srv_ctx *c, const srv_req *rq, srv_resp *rs)
{
	const char *p = rq->path;
	bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
	bool page = !strcmp(p, "/") || !strcmp(p, "/targets") || !strcmp(p, "/snapshots");
	bool ours = page || !strncmp(p, "/static/", 8) || !strcmp(p, "/favicon.ico") ||
		!strncmp(p, "/analysis/", 10);
	if (!ours)
		return false;
	if (!get) {
		srv_resp_error(rs, 405, "%s takes GET", p);
		return true;
	}
	if (page) {
		if (!send_asset(rq, rs, "srv.html"))
			srv_resp_error(rs, 500, "the web UI is not built in");
		return true;
	}
	if (!strcmp(p, "/favicon.ico")) {
		if (!send_asset(rq, rs, "srv-icon.svg"))
			srv_resp_error(rs, 404, "no icon");
		return true;
	}
	if (!strncmp(p, "/static/", 8)) {
		if (strchr(p + 8, '/') || !send_asset(rq, rs, p + 8))
			srv_resp_error(rs, 404, "no such asset: %s", p + 8);
		return true;
	}
	analysis(c, rq, rs, p + 10);
	return true;
}
