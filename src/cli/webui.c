/*
 * webui.c - `cprof -http=HOST:PORT [options] source...`: the web UI
 * (issue 8), served with libmicrohttpd.
 *
 * This file only serves.  The pages are one static single-page app
 * (web/ui/index.html, ui.js, ui.css and the flame graph component
 * web/flamegraph.js), embedded in the binary by web/embed.sh; the data
 * comes from the reports layer: the text reports (top, peek, list, disasm),
 * the graph as SVG (dot.c through Graphviz), the filtered profile
 * (proto_out.c), and the flame graph's tree as JSON pruned to the zoom
 * (flamejson.c, cprof_webdata.h).
 *
 * Paths are pprof's: /ui/ (flame graph, the default, as current pprof),
 * /ui/flamegraph, /ui/graph, /ui/top, /ui/source, /ui/peek, /ui/disasm
 * all return the app, which picks the view from its path; /ui/download
 * returns the filtered profile; /ui/data/... are the JSON and text
 * endpoints; /ui/export/flame.svg and flame.html the flame graph as files;
 * /ui/static/NAME the assets.  Every endpoint reads pprof's URL parameters
 * (webui_params.c) into the report options, over the command line's.
 *
 * Threads.  libmicrohttpd runs one internal polling thread (epoll) that
 * reads requests and answers the cheap ones (pages, assets, meta, errors).
 * A request for data (a report, a flame graph, a download) suspends its
 * connection and runs on a job thread, at most WEBUI_MAX_JOBS at once
 * (more wait in a queue the job threads drain, up to WEBUI_MAX_QUEUE;
 * beyond, 503 with Retry-After); the job answers into the request, then
 * resumes the connection, and the polling thread sends the answer.
 * So a slow report (a costly regexp, a large graph through dot) holds up
 * no other request, unless WEBUI_MAX_JOBS slow ones run at once.  What
 * jobs share: the loaded profiles (immutable after start: every report
 * runs on its own copy), the flame caches (one entry per side,
 * reference-counted: a job keeps the tree it got even when another
 * replaces the entry) and the queue, both under ui.mu.  The query of a
 * request is copied (webui_query) before its job starts.  The main thread
 * blocks SIGINT/SIGTERM before the daemon starts (its threads inherit the
 * mask) and waits for them with sigwait.
 *
 * Limits.  At most WEBUI_MAX_CONN connections (WEBUI_MAX_PER_IP from one
 * address when the UI is not loopback-only), a 30 s idle timeout, and,
 * when the server is three quarters full, a connection that has waited
 * more than 2 s without a complete request gets a 1 s timeout, so idle
 * or slow clients cannot keep a new one out.  Requests carry no body
 * (413).  The listening socket is bound here, not by the daemon, so that a
 * port in use is one clear line and exit status 2.  With a loopback host,
 * clients from other addresses are refused, as pprof does; and a request
 * whose Host header is not one of the UI's names (cprof_host.h: an IP
 * literal, localhost, the host given to -http, and for a wildcard address
 * the machine's name) gets 403, so a page of another site cannot reach
 * the UI through DNS rebinding.
 */
#include "webui.h"
#include "webui_params.h"
#include "cprof_connset.h"
#include "cprof_host.h"
#include "cprof_webdata.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* web/embed.sh's lookup (build/gen/web_assets.c, in libcprofreport.a) */
const char *cpr_web_asset(const char *name, size_t *len);

#define WEBUI_MAX_JOBS 8
#define WEBUI_MAX_QUEUE 64
#define WEBUI_MAX_CONN 256
#define WEBUI_RESERVE 16
#define WEBUI_MAX_PER_IP 64
#define WEBUI_IDLE_S 30

enum { FL_MAIN, FL_BASE, FL_N };

/* A flame cache entry: refs counts the jobs using f (and the cache while
 * the entry is current); the last one frees it.  Under ui.mu. */
typedef struct fentry {
	char *key;
	cprof_flame *f;
	int refs;
} fentry;

typedef struct ui {
	cli_opts *o;
	cprof_profile *p;               /* the sources, minus/with the base, as the CLI */
	cprof_profile *pnew, *pbase;    /* with a base: each alone (the diff flame graph) */
	bool loopback_only;
	unsigned port;                  /* served, for the Host check */
	const char *names[3];           /* the UI's host names, for the Host check */
	size_t nnames;
	char hostname[256], canon[256];
	pthread_mutex_t mu;             /* the flame caches, the jobs and their queue */
	fentry *flame[FL_N];
	int jobs;                       /* under mu: job threads serving the queue */
	struct req *qhead, *qtail;      /* under mu: data requests waiting for a job */
	int nqueued;
	_Atomic int threads;            /* job threads alive */
	cprof_connset conns;            /* polling thread only */
} ui;

/* An answer, built by a handler (on the polling thread or a job). */
typedef struct wresp {
	unsigned status;
	const char *ctype;              /* static */
	const char *disposition;        /* static or NULL */
	char *body;                     /* malloc'd, or static when !owned */
	size_t len;
	bool owned;
	char *warn;                     /* malloc'd or NULL */
} wresp;

enum { Q_NEW, Q_READ, Q_RUNNING, Q_DONE };

typedef enum route {
	R_FLAME, R_SANDWICH, R_TOP, R_PEEK, R_SOURCE, R_DISASM, R_GRAPH, R_DOWNLOAD,
	R_EXPORT_SVG, R_EXPORT_HTML,
} route;

/* A request (libmicrohttpd's con_cls): owned by the connection, freed at
 * its completion; while a job runs (Q_RUNNING) the job owns the fields it
 * fills, and the connection is suspended. */
typedef struct req {
	ui *u;
	struct MHD_Connection *c;
	_Atomic int state;
	route rt;
	struct req *qnext;           /* in ui's queue */
	webui_query q;
	wresp resp;
} req;

/* ---- responses ------------------------------------------------------------------ */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
				char *buf, size_t len, bool owned, const char *disposition,
				const char *warnings)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, buf, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (disposition)
		MHD_add_response_header(r, "Content-Disposition", disposition);
	if (warnings && *warnings)
		MHD_add_response_header(r, "X-Cprof-Warnings", warnings);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_buf(c, status, "text/plain; charset=utf-8", (char *)msg, strlen(msg), false, NULL,
			NULL);
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Location", to);
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_TEMPORARY_REDIRECT, r);
	MHD_destroy_response(r);
	return rc;
}

/* Fill w with a copy of msg (static text when out of memory). */
static void resp_err(wresp *w, unsigned status, const char *msg)
{
	w->status = status;
	w->ctype = "text/plain; charset=utf-8";
	w->body = strdup(msg);
	w->owned = w->body != NULL;
	if (!w->body)
		w->body = (char *)"out of memory";
	w->len = strlen(w->body);
}

static void resp_ok(wresp *w, const char *ctype, char *body, size_t len, const char *disp)
{
	w->status = MHD_HTTP_OK;
	w->ctype = ctype;
	w->body = body;
	w->len = len;
	w->owned = true;
	w->disposition = disp;
}

/* Queue w (its body passes to libmicrohttpd). */
static enum MHD_Result send_resp(struct MHD_Connection *c, wresp *w)
{
	enum MHD_Result rc = send_buf(c, w->status, w->ctype, w->body, w->len, w->owned,
				      w->disposition, w->warn);
	w->body = NULL;
	w->owned = false;
	return rc;
}

static void resp_free(wresp *w)
{
	if (w->owned)
		free(w->body);
	free(w->warn);
	memset(w, 0, sizeof *w);
}

/* ---- reports (job threads) ------------------------------------------------------ */

/* Warnings (one per line) as one header value: lines joined by ';'. */
static void join_lines(char *wb)
{
	if (wb)
		for (char *q = wb; *q; q++)
			if (*q == '\n')
				*q = q[1] ? ';' : 0;
}

/* One report on a copy of p into memory; warnings joined into *warn.
 * Returns 0 or a negative code with err set.  Thread-safe: p is only read. */
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

static void report_resp(ui *u, cprof_ropts *r, const char *ctype, const char *disposition, wresp *w)
{
	char *out;
	size_t len;
	cprof_error err = { 0 };
	int rc = run(u->p, r, &out, &len, &w->warn, &err);
	if (rc < 0) {
		unsigned st = r->format == CPROF_FMT_SVG ? MHD_HTTP_NOT_IMPLEMENTED : MHD_HTTP_BAD_REQUEST;
		if (r->format == CPROF_FMT_SVG && !strstr(err.code ? err.msg : "", "dot"))
			st = MHD_HTTP_BAD_REQUEST;
		resp_err(w, st, err.code ? err.msg : cprof_strerror(rc));
		return;
	}
	resp_ok(w, ctype, out, len, disposition);
}

static void flame_release(ui *u, fentry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&u->mu);
	bool last = --e->refs == 0;
	pthread_mutex_unlock(&u->mu);
	if (last) {
		cprof_flame_free(e->f);
		free(e->key);
		free(e);
	}
}

/* The flame tree of one side for the request's filters: the cached one
 * when its key matches, else built (outside the lock: builds of different
 * requests run in parallel) and made the cached one.  The caller releases
 * the entry (flame_release).  Thread-safe. */
static fentry *get_flame(ui *u, const webui_query *q, int which, const cprof_ropts *r,
			 char **warn, cprof_error *err)
{
	char *key = webui_flame_key(q);
	if (!key) {
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&u->mu);
	fentry *e = u->flame[which];
	if (e && strcmp(e->key, key) == 0) {
		e->refs++;
		pthread_mutex_unlock(&u->mu);
		free(key);
		return e;
	}
	pthread_mutex_unlock(&u->mu);
	const cprof_profile *src = which == FL_BASE ? u->pbase : u->pnew ? u->pnew : u->p;
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
	*warn = wb;
	if (rc < 0) {
		free(key);
		free(e);
		return NULL;
	}
	e->key = key;
	e->f = f;
	e->refs = 2;   /* the cache's and the caller's */
	pthread_mutex_lock(&u->mu);
	fentry *old = u->flame[which];
	u->flame[which] = e;
	pthread_mutex_unlock(&u->mu);
	flame_release(u, old);
	return e;
}

/* /ui/data/flame?zoom=A%0AB&w=PX[&which=base|diff] and /ui/data/sandwich?fn=NAME&dir=callers;
 * which=diff: the union of the profile and its base, each side's values */
static void flame_resp(ui *u, const webui_query *q, cprof_ropts *r, bool sandwich, wresp *w)
{
	const char *which = webui_arg(q, "which");
	int side = FL_MAIN;
	bool diff = false;
	if (which && (strcmp(which, "base") == 0 || strcmp(which, "diff") == 0)) {
		if (!u->pbase) {
			resp_err(w, MHD_HTTP_NOT_FOUND, "no base profile (use -base or -diff_base)");
			return;
		}
		diff = which[0] == 'd';
		side = diff ? FL_MAIN : FL_BASE;
	}
	char *bwarn = NULL;
	cprof_error err = { 0 };
	fentry *fe = get_flame(u, q, side, r, &w->warn, &err);
	fentry *be = fe && diff ? get_flame(u, q, FL_BASE, r, &bwarn, &err) : NULL;
	free(bwarn);
	if (!fe || (diff && !be)) {
		flame_release(u, fe);
		resp_err(w, MHD_HTTP_BAD_REQUEST, err.code ? err.msg : "cannot build the flame graph");
		return;
	}
	const char *wp = webui_arg(q, "w");
	double px = wp ? strtod(wp, NULL) : 1200;
	if (!(px >= 10 && px <= 100000))
		px = 1200;
	double minfrac = 0.25 / px;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	int rc = m ? 0 : CPROF_ENOMEM;
	if (rc == 0 && sandwich) {
		const char *fn = webui_arg(q, "fn"), *dir = webui_arg(q, "dir");
		rc = cprof_flame_write_sandwich(fe->f, fn ? fn : "", dir && strcmp(dir, "callers") == 0,
						minfrac, m);
	} else if (rc == 0) {
		/* zoom: frame names from the root, '\n'-separated */
		const char *z = webui_arg(q, "zoom");
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
		rc = (zs && !names) ? CPROF_ENOMEM
			: diff ? cprof_flame_write_diff(fe->f, be->f, names, nn, minfrac, m)
			: cprof_flame_write(fe->f, names, nn, minfrac, m);
		free(names);
		free(zs);
	}
	flame_release(u, fe);
	flame_release(u, be);
	if (m && fclose(m) != 0 && rc == 0)
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		free(out);
		resp_err(w, MHD_HTTP_INTERNAL_SERVER_ERROR, cprof_strerror(rc));
		return;
	}
	resp_ok(w, "application/json", out, len, NULL);
}

/* The job of a data request: its answer into q->resp.  Runs on a job
 * thread; reads the request's own query copy and the shared ui. */
static void answer(req *rq)
{
	ui *u = rq->u;
	const webui_query *q = &rq->q;
	wresp *w = &rq->resp;
	cprof_ropts r;
	char msg[256];
	const char *bad = webui_url_opts(q, &u->o->r, &r, msg, sizeof msg);
	if (bad) {
		resp_err(w, MHD_HTTP_BAD_REQUEST, bad);
		return;
	}
	const char *sym = webui_arg(q, "f");
	const char *txt = "text/plain; charset=utf-8";
	switch (rq->rt) {
	case R_FLAME: flame_resp(u, q, &r, false, w); break;
	case R_SANDWICH: flame_resp(u, q, &r, true, w); break;
	case R_TOP:
		r.format = CPROF_FMT_TEXT;
		if (!webui_arg(q, "n"))
			r.nodecount = 500;
		report_resp(u, &r, txt, NULL, w);
		break;
	case R_PEEK:
	case R_SOURCE:
	case R_DISASM:
		r.format = rq->rt == R_PEEK ? CPROF_FMT_PEEK : rq->rt == R_SOURCE ? CPROF_FMT_LIST
			: CPROF_FMT_DISASM;
		r.symbol = sym ? sym : ".";
		report_resp(u, &r, txt, NULL, w);
		break;
	case R_GRAPH:
		r.format = CPROF_FMT_SVG;
		report_resp(u, &r, "image/svg+xml", NULL, w);
		break;
	case R_DOWNLOAD:
		r.format = CPROF_FMT_PROTO;
		report_resp(u, &r, "application/vnd.google.protobuf+gzip",
			    "attachment;filename=profile.pb.gz", w);
		break;
	case R_EXPORT_SVG:
		r.format = CPROF_FMT_FLAMESVG;
		report_resp(u, &r, "image/svg+xml", "attachment;filename=flamegraph.svg", w);
		break;
	case R_EXPORT_HTML:
		r.format = CPROF_FMT_FLAMEGRAPH;
		report_resp(u, &r, "text/html; charset=utf-8", "attachment;filename=flamegraph.html", w);
		break;
	}
}

/* ---- cheap answers (the polling thread) ------------------------------------------ */

static void json_str(FILE *m, const char *s)
{
	putc('"', m);
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		if (*q == '"' || *q == '\\')
			fprintf(m, "\\%c", *q);
		else if (*q < 0x20 || *q == '<' || *q == '>' || *q == '&')
			fprintf(m, "\\u%04x", *q);
		else
			putc(*q, m);
	}
	putc('"', m);
}

/* /ui/data/meta: what the page's menus need. */
static enum MHD_Result serve_meta(struct MHD_Connection *c, ui *u)
{
	const cprof_profile *p = u->p;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m)
		return MHD_NO;
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
	fprintf(m, "],\"defaultIndex\":%zu,\"cliSampleIndex\":", def);
	json_str(m, u->o->r.sample_index ? u->o->r.sample_index : "");
	fputs(",\"title\":", m);
	const char *t = u->o->nsources ? u->o->sources[0] : "";
	const char *b = strrchr(t, '/');
	json_str(m, b ? b + 1 : t);
	fprintf(m, ",\"hasBase\":%s,\"diffBase\":%s,\"sources\":[", u->pbase ? "true" : "false",
		u->o->diff_base ? "true" : "false");
	for (size_t i = 0; i < u->o->nsources; i++) {
		if (i)
			putc(',', m);
		json_str(m, u->o->sources[i]);
	}
	fputs("],\"bases\":[", m);
	for (size_t i = 0; i < u->o->nbases; i++) {
		if (i)
			putc(',', m);
		json_str(m, u->o->bases[i]);
	}
	fputs("]}\n", m);
	if (fclose(m) != 0) {
		free(out);
		return MHD_NO;
	}
	return send_buf(c, MHD_HTTP_OK, "application/json", out, len, true, NULL, NULL);
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *name)
{
	size_t len = 0;
	const char *a = cpr_web_asset(name, &len);
	if (!a || strchr(name, '/'))
		return send_text(c, MHD_HTTP_NOT_FOUND, "not found");
	const char *dot = strrchr(name, '.');
	const char *ct = !dot ? "application/octet-stream"
		: !strcmp(dot, ".js") ? "text/javascript; charset=utf-8"
		: !strcmp(dot, ".css") ? "text/css; charset=utf-8"
		: !strcmp(dot, ".html") ? "text/html; charset=utf-8" : "application/octet-stream";
	return send_buf(c, MHD_HTTP_OK, ct, (char *)a, len, false, NULL, NULL);
}

static bool is_view(const char *v)
{
	static const char *const views[] = { "", "flamegraph", "graph", "top", "source", "peek",
					     "disasm", "sandwich" };
	for (size_t i = 0; i < sizeof views / sizeof *views; i++)
		if (strcmp(v, views[i]) == 0)
			return true;
	return false;
}

/* ---- requests (the polling thread) ------------------------------------------------ */

static const struct { const char *path; route rt; } data_routes[] = {
	{ "data/flame", R_FLAME }, { "data/sandwich", R_SANDWICH }, { "data/top", R_TOP },
	{ "data/peek", R_PEEK }, { "data/source", R_SOURCE }, { "data/disasm", R_DISASM },
	{ "data/graph", R_GRAPH }, { "download", R_DOWNLOAD },
	{ "export/flame.svg", R_EXPORT_SVG }, { "export/flame.html", R_EXPORT_HTML },
};

static cprof_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Idle or slow clients, on every new connection (polling thread).  When
 * the server is three quarters full, every connection that has waited
 * more than 2 s without a complete request gets a 1 s timeout; when it is
 * full, the one that has waited longest is shut down at once (the daemon
 * reads its end and closes it; WEBUI_RESERVE slots above the cap let the
 * new one in meanwhile), so idle or slow clients can never keep a new one
 * out. */
static void evict_idle(ui *u)
{
	if (cprof_connset_live(&u->conns) < WEBUI_MAX_CONN - WEBUI_MAX_CONN / 4)
		return;
	int64_t now = cprof_mono_ns();
	cprof_conn *oldest = NULL;
	for (cprof_conn *k = u->conns.head; k; k = k->next) {
		if (!k->waiting || k->dropped)
			continue;
		if (!oldest || k->since_ns < oldest->since_ns)
			oldest = k;
		if (!k->shortened && now - k->since_ns > 2000000000) {
			MHD_set_connection_option(k->handle, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
			k->shortened = true;
		}
	}
	if (oldest && cprof_connset_live(&u->conns) >= WEBUI_MAX_CONN)
		cprof_conn_drop(&u->conns, oldest);
}

/* libmicrohttpd's connection notifications (polling thread): the set of
 * connections evict_idle walks. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	ui *u = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = cprof_connset_add(&u->conns, c, ci ? ci->connect_fd : -1);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		cprof_connset_remove(&u->conns, *socket_context);
		*socket_context = NULL;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	cprof_conn *k = conn_of(c);
	if (k)   /* waiting for the next request (keep-alive) */
		cprof_conn_idle(k);
	req *rq = *con_cls;
	if (!rq)
		return;
	webui_query_free(&rq->q);
	resp_free(&rq->resp);
	free(rq);
	*con_cls = NULL;
}

/* A job thread: answers rq, then the requests queued meanwhile, one after
 * the other, and ends when the queue is empty. */
static void *job_main(void *arg)
{
	req *rq = arg;
	ui *u = rq->u;
	while (rq) {
		struct MHD_Connection *c = rq->c;
		answer(rq);
		atomic_store(&rq->state, Q_DONE);
		pthread_mutex_lock(&u->mu);
		req *next = u->qhead;
		if (next) {
			u->qhead = next->qnext;
			if (!u->qhead)
				u->qtail = NULL;
			u->nqueued--;
		} else {
			u->jobs--;
		}
		pthread_mutex_unlock(&u->mu);
		MHD_resume_connection(c);   /* rq may be freed from here on */
		rq = next;
	}
	atomic_fetch_sub(&u->threads, 1);   /* last: the daemon may stop from here on */
	return NULL;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	webui_query_add(cls, key, value);
	return MHD_YES;
}

/* Run rq's data request on a job thread (the connection suspended until
 * it is done): a new one while fewer than WEBUI_MAX_JOBS run, else after
 * the requests queued before it; 503 when WEBUI_MAX_QUEUE wait already. */
static enum MHD_Result start_job(struct MHD_Connection *c, ui *u, req *rq)
{
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &rq->q);
	if (rq->q.too_long)
		return send_text(c, MHD_HTTP_BAD_REQUEST, "a URL parameter is too long");
	if (rq->q.oom)
		return MHD_NO;
	/* a job thread of its own, or the queue of the running ones, or 503;
	 * suspended before a job can see it (lock order: mu, then the daemon's) */
	pthread_mutex_lock(&u->mu);
	int how = u->jobs < WEBUI_MAX_JOBS ? 1 : u->nqueued < WEBUI_MAX_QUEUE ? 2 : 0;
	if (how) {
		atomic_store(&rq->state, Q_RUNNING);
		MHD_suspend_connection(c);
	}
	if (how == 1) {
		u->jobs++;
		atomic_fetch_add(&u->threads, 1);
	} else if (how == 2) {
		if (u->qtail)
			u->qtail->qnext = rq;
		else
			u->qhead = rq;
		u->qtail = rq;
		u->nqueued++;
	}
	pthread_mutex_unlock(&u->mu);
	if (how == 2)
		return MHD_YES;
	if (how == 0) {
		struct MHD_Response *r = MHD_create_response_from_buffer(
			strlen("busy: too many reports at once\n"),
			(void *)"busy: too many reports at once\n", MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
		MHD_add_response_header(r, "Retry-After", "1");
		enum MHD_Result res = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
		MHD_destroy_response(r);
		return res;
	}
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_t th;
	int rc = pthread_create(&th, &at, job_main, rq);
	pthread_attr_destroy(&at);
	if (rc != 0)
		job_main(rq);   /* no thread to be had: here, slowly, but answered */
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_len, void **state)
{
	ui *u = cls;
	req *rq = *state;
	if (!rq) {   /* the request's headers are in */
		cprof_conn *k = conn_of(c);
		if (k) {   /* busy now: never evicted while answered */
			k->waiting = false;
			if (k->shortened)
				MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
							  (unsigned)WEBUI_IDLE_S);
			k->shortened = false;
		}
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		rq->u = u;
		rq->c = c;
		*state = rq;
		const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
		if (!cprof_host_allowed(host, u->names, u->nnames, u->port))
			return send_text(c, MHD_HTTP_FORBIDDEN,
					 "forbidden: the Host header does not name this server\n");
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") ||
		    strcmp(cl ? cl : "0", "0") != 0)
			return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "requests carry no body");
		atomic_store(&rq->state, Q_READ);
		return MHD_YES;
	}
	int st = atomic_load(&rq->state);
	if (st == Q_DONE)
		return send_resp(c, &rq->resp);
	if (st == Q_RUNNING)
		return MHD_YES;
	if (*upload_len) {
		*upload_len = 0;   /* never: no body is accepted */
		return MHD_YES;
	}
	if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0)
		return redirect(c, "/ui/");
	if (strncmp(url, "/ui/", 4) != 0)
		return send_text(c, MHD_HTTP_NOT_FOUND, "not found");
	const char *v = url + 4;
	if (is_view(v))
		return serve_asset(c, "index.html");
	if (strncmp(v, "static/", 7) == 0)
		return serve_asset(c, v + 7);
	if (strcmp(v, "data/meta") == 0)
		return serve_meta(c, u);
	for (size_t i = 0; i < sizeof data_routes / sizeof *data_routes; i++)
		if (strcmp(v, data_routes[i].path) == 0) {
			rq->rt = data_routes[i].rt;
			return start_job(c, u, rq);
		}
	return send_text(c, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---- listening ------------------------------------------------------------------- */

static bool loopback_addr(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
	}
	return false;
}

/* Every new client (polling thread): refused when the UI is loopback-only
 * and it is not local; else room is made for it (evict_idle). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *a, socklen_t alen)
{
	ui *u = cls;
	if (u->loopback_only && !loopback_addr(a))
		return MHD_NO;
	evict_idle(u);
	return MHD_YES;
}

/* Split HOST:PORT (HOST may be [v6]); dies on a bad value. */
static void parse_addr(const char *v, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = strrchr(v, ':');
	if (!colon)
		cli_die("-http: invalid address \"%s\": want HOST:PORT, e.g. localhost:8080", v);
	size_t hl = (size_t)(colon - v);
	const char *h = v;
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hn)
		cli_die("-http: invalid address \"%s\": host name too long", v);
	memcpy(host, h, hl);
	host[hl] = 0;
	if (!*host)
		snprintf(host, hn, "localhost");
	const char *p = colon + 1;
	size_t pl = strlen(p);
	if (pl == 0)
		p = "0";
	char *e;
	long n = strtol(p, &e, 10);
	if (*e || n < 0 || n > 65535 || pl >= pn || strspn(p, "0123456789") != strlen(p))
		cli_die("-http: invalid port in \"%s\": want a number from 0 to 65535", v);
	snprintf(port, pn, "%ld", n);
}

static int listen_on(const char *host, const char *port, const char *arg0, unsigned *bound)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0)
		cli_die("-http: cannot resolve \"%s\": %s", host, gai_strerror(gai));
	int fd = -1, err = 0;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (err == EADDRINUSE)
			cli_die("-http: cannot listen on %s: port %s is already in use (choose another, or :0 for any free port)",
				arg0, port);
		cli_die("-http: cannot listen on %s: %s", arg0, strerror(err));
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	*bound = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* $BROWSER or xdg-open, detached (double fork: nothing to reap later). */
static void open_browser(const char *url)
{
	const char *b = getenv("BROWSER");
	if (!b || !*b)
		b = "xdg-open";
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);
		setsid();
		int dn = open("/dev/null", O_RDWR);
		if (dn >= 0) {
			dup2(dn, 0);
			dup2(dn, 1);
			dup2(dn, 2);
		}
		execlp(b, b, url, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

static bool is_loopback_name(const char *h)
{
	return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

/* The names the UI answers to (besides IP literals and localhost, which
 * cprof_host_allowed accepts): the host given to -http when it is a name,
 * and for a wildcard address the machine's name and its canonical name. */
static void host_names(ui *u, const char *host)
{
	unsigned char a[16];
	bool literal = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
	if (!literal)
		u->names[u->nnames++] = host;
	bool wildcard = !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
	if (!wildcard || gethostname(u->hostname, sizeof u->hostname - 1) != 0)
		return;
	u->names[u->nnames++] = u->hostname;
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *res = NULL;
	if (getaddrinfo(u->hostname, NULL, &hints, &res) == 0 && res && res->ai_canonname) {
		snprintf(u->canon, sizeof u->canon, "%s", res->ai_canonname);
		u->names[u->nnames++] = u->canon;
	}
	if (res)
		freeaddrinfo(res);
}

/* Room for the connections, the jobs' pipes and the files they read. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int cli_webui(cli_opts *o)
{
	char host[256], port[16];
	parse_addr(o->http, host, sizeof host, port, sizeof port);

	static ui u;
	u.o = o;
	u.loopback_only = is_loopback_name(host);
	pthread_mutex_init(&u.mu, NULL);
	host_names(&u, host);
	u.p = cli_load(o);
	if (o->nbases) {
		/* each side alone for the diff flame graph */
		cli_opts one = *o;
		one.nbases = 0;
		u.pnew = cli_load(&one);
		memcpy(one.sources, o->bases, o->nbases * sizeof *o->bases);
		one.nsources = o->nbases;
		u.pbase = cli_load(&one);
	}

	unsigned bound = 0;
	int fd = listen_on(host, port, o->http, &bound);
	u.port = bound;
	raise_fd_limit();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_ERROR_LOG, 0, accept_policy, &u, handle, &u,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEBUI_IDLE_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(WEBUI_MAX_CONN + WEBUI_RESERVE),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(u.loopback_only ? 0 : WEBUI_MAX_PER_IP),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, &u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &u,
		MHD_OPTION_END);
	if (!d)
		cli_die("-http: cannot start the web server on %s", o->http);
	char url[320];
	bool v6 = strchr(host, ':') != NULL;
	snprintf(url, sizeof url, "http://%s%s%s:%u/ui/", v6 ? "[" : "", host, v6 ? "]" : "", bound);
	printf("Serving web UI on %.*s\n", (int)(strlen(url) - 4), url);
	fflush(stdout);
	if (!o->no_browser)
		open_browser(url);
	int sig = 0;
	sigwait(&set, &sig);
	/* running jobs hold suspended connections, which the daemon cannot
	 * stop with: give them a moment, else leave without cleaning up */
	for (int i = 0; i < 40 && atomic_load(&u.threads) > 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	if (atomic_load(&u.threads) > 0) {
		fflush(NULL);
		_exit(0);
	}
	MHD_stop_daemon(d);
	close(fd);
	for (int i = 0; i < FL_N; i++)
		flame_release(&u, u.flame[i]);
	cprof_profile_free(u.p);
	cprof_profile_free(u.pnew);
	cprof_profile_free(u.pbase);
	return 0;
}
