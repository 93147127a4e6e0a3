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
 * (f i h s sf prunefrom tf ti ts th si g n nf ef trim rel unit compact intel
 * mean dropneg noinlines sort calltree) into the report options, over the
 * command line's.
 *
 * Threads: the daemon runs one internal polling thread (requests are
 * served one at a time), so the profiles and the one-entry flame caches
 * need no lock; the main thread blocks SIGINT/SIGTERM before the daemon
 * starts (its thread inherits the mask) and waits for them with sigwait.
 * Each report runs on a copy of the loaded profile (reports modify theirs).
 * The listening socket is bound here, not by the daemon, so that a port in
 * use is one clear line and exit status 2.  With a loopback host, clients
 * from other addresses are refused, as pprof does.
 */
#include "webui.h"
#include "cprof_webdata.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* web/embed.sh's lookup (build/gen/web_assets.c, in libcprofreport.a) */
const char *cpr_web_asset(const char *name, size_t *len);

enum { FL_MAIN, FL_BASE, FL_N };

typedef struct ui {
	cli_opts *o;
	cprof_profile *p;               /* the sources, minus/with the base, as the CLI */
	cprof_profile *pnew, *pbase;    /* with a base: each alone (the diff flame graph) */
	bool loopback_only;
	char *fkey[FL_N];               /* one-entry flame caches */
	cprof_flame *flame[FL_N];
} ui;

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

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *m = strdup(msg);
	if (!m)
		return MHD_NO;
	return send_buf(c, status, "text/plain; charset=utf-8", m, strlen(m), true, NULL, NULL);
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

/* ---- URL parameters -> report options ------------------------------------------- */

static const char *arg(struct MHD_Connection *c, const char *k)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
	return v && *v ? v : NULL;
}

static const struct { const char *name; size_t off; } str_params[] = {
	{ "f", offsetof(cprof_ropts, focus) },
	{ "i", offsetof(cprof_ropts, ignore) },
	{ "h", offsetof(cprof_ropts, hide) },
	{ "s", offsetof(cprof_ropts, show) },
	{ "sf", offsetof(cprof_ropts, show_from) },
	{ "prunefrom", offsetof(cprof_ropts, prune_from) },
	{ "tf", offsetof(cprof_ropts, tagfocus) },
	{ "ti", offsetof(cprof_ropts, tagignore) },
	{ "ts", offsetof(cprof_ropts, tagshow) },
	{ "th", offsetof(cprof_ropts, taghide) },
	{ "si", offsetof(cprof_ropts, sample_index) },
	{ "unit", offsetof(cprof_ropts, unit) },
};

static const struct { const char *name; size_t off; } bool_params[] = {
	{ "trim", offsetof(cprof_ropts, trim) },
	{ "rel", offsetof(cprof_ropts, relative_percentages) },
	{ "compact", offsetof(cprof_ropts, compact_labels) },
	{ "intel", offsetof(cprof_ropts, intel_syntax) },
	{ "mean", offsetof(cprof_ropts, mean) },
	{ "dropneg", offsetof(cprof_ropts, drop_negative) },
	{ "noinlines", offsetof(cprof_ropts, noinlines) },
	{ "calltree", offsetof(cprof_ropts, call_tree) },
};

static const char *const gran_names[] = { "functions", "filefunctions", "files", "lines", "addresses" };

/* The command line's options with the URL's over them; strings are
 * borrowed from the connection.  Returns NULL or a message. */
static const char *url_opts(struct MHD_Connection *c, const ui *u, cprof_ropts *r)
{
	*r = u->o->r;
	for (size_t i = 0; i < sizeof str_params / sizeof *str_params; i++) {
		const char *v = arg(c, str_params[i].name);
		if (v)
			*(const char **)((char *)r + str_params[i].off) = v;
	}
	for (size_t i = 0; i < sizeof bool_params / sizeof *bool_params; i++) {
		const char *v = arg(c, bool_params[i].name);
		if (!v)
			continue;
		bool b;
		if (!strcmp(v, "t") || !strcmp(v, "true") || !strcmp(v, "1"))
			b = true;
		else if (!strcmp(v, "f") || !strcmp(v, "false") || !strcmp(v, "0"))
			b = false;
		else
			return "a boolean parameter takes t or f";
		*(bool *)((char *)r + bool_params[i].off) = b;
	}
	const char *v;
	if ((v = arg(c, "g"))) {
		size_t k = 0;
		while (k < sizeof gran_names / sizeof *gran_names && strcmp(v, gran_names[k]))
			k++;
		if (k == sizeof gran_names / sizeof *gran_names)
			return "g: want functions, filefunctions, files, lines or addresses";
		r->granularity = (int)k;
	}
	if ((v = arg(c, "n"))) {
		char *e;
		long n = strtol(v, &e, 10);
		if (*e || n < -1 || n > 1000000)
			return "n: want a node count";
		r->nodecount = (int)n;
	}
	if ((v = arg(c, "nf")))
		r->nodefraction = strtod(v, NULL);
	if ((v = arg(c, "ef")))
		r->edgefraction = strtod(v, NULL);
	if ((v = arg(c, "sort")))
		r->cum = strcmp(v, "cum") == 0;
	return NULL;
}

/* The key of the options a flame graph depends on. */
static char *flame_key(struct MHD_Connection *c)
{
	static const char *const keys[] = { "f", "i", "h", "s", "sf", "prunefrom", "tf", "ti", "ts",
					    "th", "si", "g", "mean", "noinlines", "dropneg", "unit" };
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const char *v = arg(c, keys[i]);
		fprintf(m, "%s=%s\x01", keys[i], v ? v : "");
	}
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- reports ------------------------------------------------------------------- */

/* One report on a copy of p into memory; warnings (one line each) joined
 * by " | " into *warn.  Returns 0 or a negative code with err set. */
static int run(cprof_profile *p, const cprof_ropts *r, char **out, size_t *len, char **warn,
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
	if (wb)
		for (char *q = wb; *q; q++)
			if (*q == '\n')
				*q = q[1] ? ';' : 0;
	if (warn)
		*warn = wb;
	else
		free(wb);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

static enum MHD_Result send_report(struct MHD_Connection *c, ui *u, cprof_ropts *r, const char *ctype,
				   const char *disposition)
{
	char *out, *warn = NULL;
	size_t len;
	cprof_error err = { 0 };
	int rc = run(u->p, r, &out, &len, &warn, &err);
	if (rc < 0) {
		free(warn);
		unsigned st = r->format == CPROF_FMT_SVG ? MHD_HTTP_NOT_IMPLEMENTED : MHD_HTTP_BAD_REQUEST;
		if (r->format == CPROF_FMT_SVG && !strstr(err.code ? err.msg : "", "dot"))
			st = MHD_HTTP_BAD_REQUEST;
		return send_err(c, st, err.code ? err.msg : cprof_strerror(rc));
	}
	enum MHD_Result res = send_buf(c, MHD_HTTP_OK, ctype, out, len, true, disposition, warn);
	free(warn);
	return res;
}

static cprof_flame *get_flame(struct MHD_Connection *c, ui *u, int which, const cprof_ropts *r,
			      char **warn, cprof_error *err)
{
	char *key = flame_key(c);
	if (!key) {
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	if (u->flame[which] && strcmp(u->fkey[which], key) == 0) {
		free(key);
		return u->flame[which];
	}
	cprof_profile *src = which == FL_BASE ? u->pbase : u->pnew ? u->pnew : u->p;
	cprof_profile *d = cprof_profile_dup(src);
	char *wb = NULL;
	size_t wl = 0;
	FILE *w = open_memstream(&wb, &wl);
	cprof_flame *f = NULL;
	int rc = (!d || !w) ? cprof_seterr(err, CPROF_ENOMEM, "out of memory") : 0;
	if (rc == 0)
		rc = cprof_flame_build(d, r, w, &f, err);
	if (w)
		fclose(w);
	cprof_profile_free(d);
	if (wb)
		for (char *q = wb; *q; q++)
			if (*q == '\n')
				*q = q[1] ? ';' : 0;
	*warn = wb;
	if (rc < 0) {
		free(key);
		return NULL;
	}
	cprof_flame_free(u->flame[which]);
	free(u->fkey[which]);
	u->flame[which] = f;
	u->fkey[which] = key;
	return f;
}

/* /ui/data/flame?zoom=A%0AB&w=PX[&which=base|diff] and /ui/data/sandwich?fn=NAME&dir=callers;
 * which=diff: the union of the profile and its base, each side's values */
static enum MHD_Result serve_flame(struct MHD_Connection *c, ui *u, cprof_ropts *r, bool sandwich)
{
	const char *which = arg(c, "which");
	int w = FL_MAIN;
	bool diff = false;
	if (which && (strcmp(which, "base") == 0 || strcmp(which, "diff") == 0)) {
		if (!u->pbase)
			return send_text(c, MHD_HTTP_NOT_FOUND, "no base profile (use -base or -diff_base)");
		diff = which[0] == 'd';
		w = diff ? FL_MAIN : FL_BASE;
	}
	char *warn = NULL, *bwarn = NULL;
	cprof_error err = { 0 };
	cprof_flame *f = get_flame(c, u, w, r, &warn, &err);
	cprof_flame *bf = f && diff ? get_flame(c, u, FL_BASE, r, &bwarn, &err) : NULL;
	free(bwarn);
	if (!f || (diff && !bf)) {
		free(warn);
		return send_err(c, MHD_HTTP_BAD_REQUEST, err.code ? err.msg : "cannot build the flame graph");
	}
	const char *wp = arg(c, "w");
	double px = wp ? strtod(wp, NULL) : 1200;
	if (!(px >= 10 && px <= 100000))
		px = 1200;
	double minfrac = 0.25 / px;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	int rc = m ? 0 : CPROF_ENOMEM;
	if (rc == 0 && sandwich) {
		const char *fn = arg(c, "fn"), *dir = arg(c, "dir");
		rc = cprof_flame_write_sandwich(f, fn ? fn : "", dir && strcmp(dir, "callers") == 0, minfrac, m);
	} else if (rc == 0) {
		/* zoom: frame names from the root, '\n'-separated */
		const char *z = arg(c, "zoom");
		char *zs = z ? strdup(z) : NULL;
		const char **names = NULL;
		size_t nn = 0;
		if (zs) {
			size_t cnt = 1;
			for (char *q = zs; *q; q++)
				cnt += *q == '\n';
			names = malloc(cnt * sizeof *names);
			if (names)
				for (char *q = zs, *e; q; q = e) {
					e = strchr(q, '\n');
					if (e)
						*e++ = 0;
					names[nn++] = q;
				}
		}
		rc = (zs && !names) ? CPROF_ENOMEM
			: diff ? cprof_flame_write_diff(f, bf, names, nn, minfrac, m)
			: cprof_flame_write(f, names, nn, minfrac, m);
		free(names);
		free(zs);
	}
	if (m && fclose(m) != 0 && rc == 0)
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		free(out);
		free(warn);
		return send_err(c, MHD_HTTP_INTERNAL_SERVER_ERROR, cprof_strerror(rc));
	}
	enum MHD_Result res = send_buf(c, MHD_HTTP_OK, "application/json", out, len, true, NULL, warn);
	free(warn);
	return res;
}

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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_len, void **state)
{
	ui *u = cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
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

	cprof_ropts r;
	const char *bad = url_opts(c, u, &r);
	if (bad)
		return send_text(c, MHD_HTTP_BAD_REQUEST, bad);
	const char *sym = arg(c, "f");
	if (strcmp(v, "data/flame") == 0)
		return serve_flame(c, u, &r, false);
	if (strcmp(v, "data/sandwich") == 0)
		return serve_flame(c, u, &r, true);
	const char *txt = "text/plain; charset=utf-8";
	if (strcmp(v, "data/top") == 0) {
		r.format = CPROF_FMT_TEXT;
		if (!arg(c, "n"))
			r.nodecount = 500;
		return send_report(c, u, &r, txt, NULL);
	}
	if (strcmp(v, "data/peek") == 0 || strcmp(v, "data/source") == 0 || strcmp(v, "data/disasm") == 0) {
		r.format = v[5] == 'p' ? CPROF_FMT_PEEK : v[5] == 's' ? CPROF_FMT_LIST : CPROF_FMT_DISASM;
		r.symbol = sym ? sym : ".";
		return send_report(c, u, &r, txt, NULL);
	}
	if (strcmp(v, "data/graph") == 0) {
		r.format = CPROF_FMT_SVG;
		return send_report(c, u, &r, "image/svg+xml", NULL);
	}
	if (strcmp(v, "download") == 0) {
		r.format = CPROF_FMT_PROTO;
		return send_report(c, u, &r, "application/vnd.google.protobuf+gzip",
				   "attachment;filename=profile.pb.gz");
	}
	if (strcmp(v, "export/flame.svg") == 0) {
		r.format = CPROF_FMT_FLAMESVG;
		return send_report(c, u, &r, "image/svg+xml", "attachment;filename=flamegraph.svg");
	}
	if (strcmp(v, "export/flame.html") == 0) {
		r.format = CPROF_FMT_FLAMEGRAPH;
		return send_report(c, u, &r, "text/html; charset=utf-8", "attachment;filename=flamegraph.html");
	}
	return send_text(c, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---- listening ------------------------------------------------------------------- */

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *a, socklen_t alen)
{
	const ui *u = cls;
	if (!u->loopback_only)
		return MHD_YES;
	if (a->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127 ? MHD_YES : MHD_NO;
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(x))
			return MHD_YES;
		if (IN6_IS_ADDR_V4MAPPED(x))
			return x->s6_addr[12] == 127 ? MHD_YES : MHD_NO;
	}
	return MHD_NO;
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

int cli_webui(cli_opts *o)
{
	char host[256], port[16];
	parse_addr(o->http, host, sizeof host, port, sizeof port);

	static ui u;
	u.o = o;
	u.loopback_only = is_loopback_name(host);
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
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, accept_policy, &u,
		handle, &u, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
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
	MHD_stop_daemon(d);
	close(fd);
	for (int i = 0; i < FL_N; i++) {
		cprof_flame_free(u.flame[i]);
		free(u.fkey[i]);
	}
	cprof_profile_free(u.p);
	cprof_profile_free(u.pnew);
	cprof_profile_free(u.pbase);
	return 0;
}
