/*
 * server.c - `cprof server`: the continuous-profiling server's command,
 * its HTTP front (libmicrohttpd) and its lifetime.
 *
 *   cprof server copy SRC DST      (a store into another, e.g. into ClickHouse)
 *   cprof server [-http=127.0.0.1:4040] [-data=./cprof-data] [-config=FILE]
 *                [-retention=7d] [-token=T] [-scrape=URL]... [-storage=sqlite|clickhouse://HOST:PORT/DB]
 *
 * Start: flags, then the config file (config.c), then the store
 * (store.h, SQLite in -data), the listening socket, the HTTP daemon and the
 * scrapers (scrape.c); one line on stderr says where it stores and
 * listens.  Bad flags or config: one line naming the flag or the file, line
 * and key, exit 2.  SIGINT/SIGTERM: the scrapers stop, the daemon stops,
 * the store is flushed and closed, exit 0.
 *
 * Requests.  POST /ingest goes to ingest.c, GET /api/v1/... to
 * query_http.c, GET / and its assets to the web UI (ui.c), GET /api to a
 * short text listing the API.  The daemon runs a
 * pool of SRV_THREADS threads (MHD's thread pool over epoll), each
 * answering its requests to the end: a slow query holds up one of them,
 * never ingest on the others.  A POST body is collected into the request
 * up to limits.max_body (16 MiB): a Content-Length above it is answered
 * 413 before the body is read (the connection then closes); a chunked body
 * that grows past it is read to its end and dropped, then answered 413.
 *
 * Safety.  HTTPS with -tls_cert/-tls_key (PEM files, GnuTLS through
 * libmicrohttpd).  Loopback by default.  A non-loopback -http needs -token (or
 * -trusted, which says the network is); with a token every request must
 * carry "Authorization: Bearer TOKEN" (compared in constant time), else
 * 401 (every path, push included), except that a browser's GET and HEAD
 * may carry the session cookie of a login instead (session.c: POST
 * /login, or a page opened as /?token=TOKEN, then redirected without it).
 * An address that sends too many wrong tokens gets 429 for a while
 * (src/core/guard.c).  A loopback server refuses clients
 * from other addresses at accept.
 *
 * Threads here: main (waits for a signal, then tears down), the flusher
 * (flushes the store every second and applies retention every hour), the
 * daemon's pool, the scrapers.  The srv_ctx is built before any of them
 * start and read-only afterwards.
 */
#include "server_int.h"
#include "cprof_connset.h"   /* cprof_mono_ns */
#include "cprof_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SRV_THREADS 4
#define SRV_MAX_CONN 512
#define SRV_IDLE_S 60
#define SRV_MAX_SCRAPE_FLAGS 64

/* ---- answers ------------------------------------------------------------- */

void srv_resp_error(srv_resp *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	srv_buf b = { 0 };
	srv_buf_puts(&b, "{\"error\": ");
	srv_buf_json_str(&b, msg, strlen(msg));
	srv_buf_puts(&b, "}\n");
	free(r->body);
	r->body = b.err ? NULL : b.s;
	r->len = b.err ? 0 : b.n;
	r->status = status;
	r->ctype = "application/json";
	if (b.err)
		free(b.s);
}

void srv_resp_json(srv_resp *r, srv_buf *b)
{
	if (b->err) {
		srv_buf_free(b);
		srv_resp_error(r, 500, "out of memory writing the answer");
		return;
	}
	srv_buf_add(b, "\n", 1);
	free(r->body);
	r->body = b->s;
	r->len = b->n;
	r->status = 200;
	r->ctype = "application/json";
	memset(b, 0, sizeof *b);
}

/* ---- flags ---------------------------------------------------------------- */

typedef struct flags {
	const char *http, *data, *config, *retention, *token, *storage, *tls_cert, *tls_key;
	const char *scrape[SRV_MAX_SCRAPE_FLAGS];
	size_t nscrape;
	bool trusted, help;
} flags;

static void usage(FILE *f)
{
	fputs("usage: cprof server [-http=ADDR] [-data=DIR] [-config=FILE] [-retention=DURATION]\n"
	      "                    [-token=T] [-trusted] [-tls_cert=FILE -tls_key=FILE]\n"
	      "                    [-scrape=URL]... [-storage=sqlite|clickhouse://HOST:PORT/DB]\n"
	      "       cprof server copy SRC DST   (copy a store, e.g. -data into ClickHouse)\n"
	      "\n"
	      "  -http=ADDR        listen on ADDR (default 127.0.0.1:4040)\n"
	      "  -data=DIR         store profiles in DIR (default ./cprof-data)\n"
	      "  -config=FILE      YAML config: scrape_configs, rules, retention, limits\n"
	      "  -retention=D      drop data older than D (default 7d; 0 keeps everything)\n"
	      "  -token=T          require 'Authorization: Bearer T' on every request\n"
	      "  -trusted          allow a non-loopback -http without -token\n"
	      "  -tls_cert=FILE    serve HTTPS with this PEM certificate (and -tls_key)\n"
	      "  -tls_key=FILE     the PEM private key of -tls_cert\n"
	      "  -scrape=URL       scrape the profiles of URL (a cprof or Go net/http/pprof\n"
	      "                    endpoint, e.g. http://127.0.0.1:6060); repeatable\n"
	      "  -storage=S        sqlite (in -data, the default) or clickhouse://[USER[:PASS]@]HOST:PORT[,HOST:PORT...]/DB\n", f);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char raw[1024], esc[4096];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	size_t n = k < 0 ? 0 : (size_t)k < sizeof raw ? (size_t)k : sizeof raw - 1;
	cprof_escape(esc, sizeof esc, raw, n);
	fprintf(stderr, "cprof server: %s\n", esc);
	exit(2);
}

static void parse_flags(flags *f, int argc, char **argv)
{
	static const char *const names[] = { "http", "data", "config", "retention", "token",
					     "storage", "scrape", "trusted", "help", "h",
					     "tls_cert", "tls_key" };
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			die("unexpected argument \"%s\" (flags are -name=value; see 'cprof server -help')", a);
		a += a[1] == '-' ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t nn = eq ? (size_t)(eq - a) : strlen(a);
		const char *which = NULL;
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
			if (strlen(names[k]) == nn && strncmp(a, names[k], nn) == 0)
				which = names[k];
		if (!which)
			die("unknown flag -%.*s (see 'cprof server -help')", (int)nn, a);
		if (!strcmp(which, "help") || !strcmp(which, "h")) {
			f->help = true;
			continue;
		}
		if (!strcmp(which, "trusted")) {
			if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "1"))
				die("-trusted takes no value");
			f->trusted = true;
			continue;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (!v) {
			if (i + 1 >= argc)
				die("flag -%s needs a value", which);
			v = argv[++i];
		}
		if (!strcmp(which, "scrape")) {
			if (f->nscrape >= SRV_MAX_SCRAPE_FLAGS)
				die("-scrape: more than %d given (use a -config file)", SRV_MAX_SCRAPE_FLAGS);
			f->scrape[f->nscrape++] = v;
			continue;
		}
		const char **slot = !strcmp(which, "http") ? &f->http : !strcmp(which, "data") ? &f->data
			: !strcmp(which, "config") ? &f->config : !strcmp(which, "retention") ? &f->retention
			: !strcmp(which, "token") ? &f->token : !strcmp(which, "tls_cert") ? &f->tls_cert
			: !strcmp(which, "tls_key") ? &f->tls_key : &f->storage;
		*slot = v;
	}
}

/* ---- listening --------------------------------------------------------------- */

/* The PEM file at path as a malloc'd NUL-terminated string (64 KiB at
 * most); exits 2 naming flag and file otherwise. */
static char *read_pem(const char *flag, const char *path)
{
	void *buf = NULL;
	size_t len = 0;
	cprof_error e = { 0 };
	if (cprof_read_file(path, 65536, &buf, &len, &e))
		die("%s=%s: %s", flag, path, e.msg);
	char *s = realloc(buf, len + 1);
	if (!s)
		die("out of memory");
	s[len] = '\0';
	if (!strstr(s, "-----BEGIN "))
		die("%s=%s: not a PEM file (no -----BEGIN line)", flag, path);
	return s;
}

static void split_addr(const char *v, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = strrchr(v, ':');
	if (!colon)
		die("-http: invalid address \"%s\": want HOST:PORT, e.g. 127.0.0.1:4040", v);
	size_t hl = (size_t)(colon - v);
	const char *h = v;
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']')
		h++, hl -= 2;
	if (hl >= hn)
		die("-http: invalid address \"%s\": host name too long", v);
	memcpy(host, h, hl);
	host[hl] = '\0';
	const char *p = colon + 1;
	size_t pl = strlen(p);
	if (pl == 0 || pl >= pn || strspn(p, "0123456789") != pl || atol(p) > 65535)
		die("-http: invalid port in \"%s\": want a number from 0 to 65535", v);
	snprintf(port, pn, "%s", p);
}

static bool loopback_host(const char *h)
{
	return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

static int listen_on(const char *host, const char *port, const char *arg, unsigned *bound)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai != 0)
		die("-http: cannot resolve \"%s\": %s", host, gai_strerror(gai));
	int fd = -1, e = 0;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (e == EADDRINUSE)
			die("-http: cannot listen on %s: port %s is already in use", arg, port);
		die("-http: cannot listen on %s: %s", arg, strerror(e));
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	*bound = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* ---- requests ----------------------------------------------------------------- */

typedef struct server {
	srv_ctx ctx;
	const char *token;
	size_t token_len;
	bool loopback;
	bool tls;                       /* HTTPS: the session cookie is Secure */
	atomic_bool stop;
	pthread_mutex_t mu;             /* the flusher's wait */
	pthread_cond_t cv;
} server;

/* One request's state (libmicrohttpd's con_cls), owned by the daemon's
 * thread serving the connection. */
typedef struct conn_req {
	char *body;
	size_t len, cap;
	bool too_large;
	bool answered;              /* a response is queued */
} conn_req;

static const char *req_arg(const srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *req_header(const srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* rs, with a Set-Cookie and a Location header when they are not "". */
static enum MHD_Result send_resp(struct MHD_Connection *c, srv_resp *rs, const char *cookie,
				 const char *location)
{
	bool own = rs->body && !rs->body_static;
	struct MHD_Response *r = MHD_create_response_from_buffer(
		rs->len, rs->body ? rs->body : (void *)"", own ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (own)
			free(rs->body);
		return MHD_NO;
	}
	rs->body = NULL;
	MHD_add_response_header(r, "Content-Type", rs->ctype ? rs->ctype : "text/plain");
	MHD_add_response_header(r, "Cache-Control", rs->cache ? rs->cache : "no-store");
	if (rs->etag[0])
		MHD_add_response_header(r, "ETag", rs->etag);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (rs->disposition)
		MHD_add_response_header(r, "Content-Disposition", rs->disposition);
	if (rs->aggregation)
		MHD_add_response_header(r, "X-Cprof-Aggregation", rs->aggregation);
	if (rs->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (cookie && *cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	if (location && *location)
		MHD_add_response_header(r, "Location", location);
	char ra[16];
	if (rs->retry_after_s) {
		snprintf(ra, sizeof ra, "%u", rs->retry_after_s);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	enum MHD_Result rc = MHD_queue_response(c, rs->status, r);
	MHD_destroy_response(r);
	return rc;
}

static int64_t now_ns(void);

/* One token presented by peer (the Authorization header's, the login
 * form's or a /?token= page's; NULL for one presented malformed, e.g. a
 * header that is not "Bearer ..."), compared with the server's in
 * constant time (s->token set).  A wrong one is counted against peer's
 * address (src/core/guard.c) at mono, the request's time on the monotonic
 * clock: every way of presenting a token goes through here, so none
 * escapes the count.  Thread-safe. */
static bool token_attempt(const server *s, const char *given, const struct sockaddr *peer,
			  int64_t mono)
{
	if (given && srv_token_equal(s->token, s->token_len, given, strlen(given)))
		return true;
	cprof_guard_failed(peer, mono);
	return false;
}

/* Rebuilding a request's URL without its token= argument, for the
 * redirect after a /?token= login (MHD hands the arguments decoded). */
typedef struct url_buf {
	char *s;
	size_t n, cap;
	bool err;
} url_buf;

static void url_enc(url_buf *u, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; v && *v; v++) {
		unsigned char ch = (unsigned char)*v;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || strchr("-._~", ch);
		if (u->n + 4 > u->cap) {
			u->err = true;
			return;
		}
		if (plain) {
			u->s[u->n++] = (char)ch;
		} else {
			u->s[u->n++] = '%';
			u->s[u->n++] = hex[ch >> 4];
			u->s[u->n++] = hex[ch & 15];
		}
	}
	u->s[u->n] = '\0';
}

static enum MHD_Result url_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	url_buf *u = cls;
	if (!strcmp(key, "token") || u->err)
		return MHD_YES;
	if (u->n + 2 > u->cap) {
		u->err = true;
		return MHD_YES;
	}
	u->s[u->n++] = strchr(u->s, '?') ? '&' : '?';
	u->s[u->n] = '\0';
	url_enc(u, key);
	if (value && !u->err) {
		if (u->n + 2 > u->cap) {
			u->err = true;
			return MHD_YES;
		}
		u->s[u->n++] = '=';
		u->s[u->n] = '\0';
		url_enc(u, value);
	}
	return MHD_YES;
}

/* url and its arguments but token= into out (n bytes): where a login
 * sends the browser on.  Just url when that does not fit. */
static void url_without_token(struct MHD_Connection *c, const char *url, char *out, size_t n)
{
	snprintf(out, n, "%s", url);
	url_buf u = { out, strlen(out), n, strlen(out) + 1 >= n };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, url_arg, &u);
	if (u.err)
		snprintf(out, n, "%s", url);
}

/* The Set-Cookie header of a new session into out. */
static void session_cookie(const server *s, const char *val, char *out, size_t n)
{
	snprintf(out, n, SRV_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
		 val, SRV_SESSION_TTL_S, s->tls ? "; Secure" : "");
}

static const char INDEX_PAGE[] =
	"cprof server: continuous profiling\n"
	"\n"
	"POST /ingest?name=APP{k=v,...}&from=&until=&format=pprof|folded|lines   push (Pyroscope's API)\n"
	"GET  /api/v1/profile?query={SELECTOR}&type=KIND&from=&until=        merged profile.proto (gzip)\n"
	"GET  /api/v1/diff?query=&type=&from=&until=&base_from=&base_until=   -diff_base of two windows\n"
	"GET  /api/v1/series?query=&type=&from=&until=&step=                   totals over time (JSON)\n"
	"GET  /api/v1/labels, /api/v1/label/NAME/values, /api/v1/types, /api/v1/targets, /api/v1/snapshots\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	server *s = cls;
	conn_req *cr = *con_cls;
	if (!cr) {
		cr = calloc(1, sizeof *cr);
		if (!cr)
			return MHD_NO;
		*con_cls = cr;
		/* a body announced larger than max_body: 413 before reading it
		 * (libmicrohttpd then closes the connection) */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (!cl || strtoull(cl, NULL, 10) <= s->ctx.cfg->limits.max_body)
			return MHD_YES;
		cr->too_large = true;
	} else if (*upload_size) {
		/* collect the body, up to max_body */
		size_t max = s->ctx.cfg->limits.max_body;
		if (!cr->too_large) {
			if (*upload_size > max || cr->len > max - *upload_size) {
				cr->too_large = true;
				free(cr->body);
				cr->body = NULL;
				cr->len = cr->cap = 0;
			} else if (cprof_reserve((void **)&cr->body, &cr->cap, cr->len + *upload_size, 1)) {
				cr->too_large = true;
			} else {
				memcpy(cr->body + cr->len, upload, *upload_size);
				cr->len += *upload_size;
			}
		}
		/* a body past max_body without Content-Length (chunked) is read
		 * to its end and dropped: the client then reads its 413 (an
		 * answer mid-upload reaches a client that is still sending as
		 * a reset connection) */
		*upload_size = 0;
		return MHD_YES;
	}
	if (cr->answered)
		return MHD_YES;
	cr->answered = true;
	srv_resp rs = { .status = 200 };
	srv_req rq = { .method = method, .path = url, .arg = req_arg, .header = req_header,
		       .conn = c, .body = cr->body, .len = cr->len };
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool page = !strcmp(url, "/") || !strcmp(url, "/targets") || !strcmp(url, "/snapshots");
	const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *login_token = s->token && get && page ? req_arg(&rq, "token") : NULL;
	char cookie[256] = "", location[2048] = "", sess[SRV_SESSION_BYTES * 2 + 1];
	int64_t now = now_ns();
	/* a request presenting a token is an attempt (src/core/guard.c): refused
	 * unevaluated while its address is over the limit, counted when wrong */
	bool posting_login = s->token && !strcmp(url, "/login") && !strcmp(method, "POST");
	bool attempt = s->token && (authz || login_token || posting_login);
	const union MHD_ConnectionInfo *ci =
		attempt ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
	const struct sockaddr *peer = ci ? ci->client_addr : NULL;
	/* the guard's minute on the monotonic clock: a wall-clock step must
	 * neither lift nor stretch a refusal */
	int64_t mono = attempt ? cprof_mono_ns() : 0;
	unsigned wait = attempt ? cprof_guard_refused(peer, mono) : 0;
	if (wait) {
		srv_resp_error(&rs, 429, "too many wrong tokens from this address: no token is "
			       "checked from it for %u s (Retry-After)", wait);
		rs.retry_after_s = wait;
		return send_resp(c, &rs, cookie, location);
	}
	bool authed = !s->token ||
		(authz && token_attempt(s, strncmp(authz, "Bearer ", 7) ? NULL : authz + 7, peer, mono));
	if (s->token && !strcmp(url, "/login")) {
		/* the login form's target (no token needed to reach it) */
		char given[1024];
		if (!strcmp(method, "POST") && cr->too_large) {
			srv_resp_error(&rs, 413, "body larger than %zu bytes (limits.max_body)",
				       s->ctx.cfg->limits.max_body);
		} else if (!strcmp(method, "POST")) {
			bool has = srv_login_form(&rq, given, sizeof given, location, sizeof location);
			if (!token_attempt(s, has ? given : NULL, peer, mono)) {
				srv_login_page(&rs, 401, "wrong token", location);
				location[0] = '\0';
			} else if (srv_session_new(now, sess)) {
				srv_resp_error(&rs, 500, "no random bytes for a session");
				location[0] = '\0';
			} else {
				session_cookie(s, sess, cookie, sizeof cookie);
				rs.status = 303;
			}
		} else if (get) {
			srv_login_page(&rs, 200, NULL, req_arg(&rq, "next"));
		} else {
			srv_resp_error(&rs, 405, "/login takes GET or POST");
		}
	} else if (login_token) {
		/* a page opened as /?token=TOKEN: a session, then the same page
		 * without the token in its address */
		if (!token_attempt(s, login_token, peer, mono)) {
			srv_login_page(&rs, 401, "wrong token", url);
		} else if (srv_session_new(now, sess)) {
			srv_resp_error(&rs, 500, "no random bytes for a session");
		} else {
			session_cookie(s, sess, cookie, sizeof cookie);
			url_without_token(c, url, location, sizeof location);
			rs.status = 303;
		}
	} else if (!authed && !(s->token && get &&
				srv_session_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie"), now))) {
		/* the session cookie authorises GET and HEAD only: nothing that
		 * changes state takes it (a cross-site form cannot push) */
		if (get && (page || !strncmp(url, "/analysis/", 10))) {
			url_without_token(c, url, location, sizeof location);
			srv_login_page(&rs, 401, "this server needs its token", location);
			location[0] = '\0';
		} else {
			srv_resp_error(&rs, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN; "
				       "a browser logs in at /login)");
		}
	} else if (cr->too_large) {
		srv_resp_error(&rs, 413, "body larger than %zu bytes (limits.max_body)",
			       s->ctx.cfg->limits.max_body);
	} else if (!strcmp(url, "/ingest")) {
		if (strcmp(method, "POST"))
			srv_resp_error(&rs, 405, "/ingest takes POST");
		else
			srv_ingest_handle(&s->ctx, &rq, &rs);
	} else if (!strncmp(url, "/api/v1/", 8)) {
		if (strcmp(method, "GET") && strcmp(method, "HEAD"))
			srv_resp_error(&rs, 405, "%s takes GET", url);
		else
			srv_query_handle(&s->ctx, &rq, &rs);
	} else if (srv_ui_handle(&s->ctx, &rq, &rs)) {
		/* the web UI: its page, assets and analysis views (ui.c) */
	} else if (!strcmp(url, "/api")) {
		rs.body = strdup(INDEX_PAGE);
		rs.len = rs.body ? strlen(rs.body) : 0;
		rs.ctype = "text/plain; charset=utf-8";
	} else {
		srv_resp_error(&rs, 404, "no such path: %s", url);
	}
	return send_resp(c, &rs, cookie, location);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	conn_req *cr = *con_cls;
	if (!cr)
		return;
	free(cr->body);
	free(cr);
	*con_cls = NULL;
}

/* Loopback-only servers answer loopback clients only. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	server *s = cls;
	if (!s->loopback)
		return MHD_YES;
	if (addr->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127
			? MHD_YES : MHD_NO;
	if (addr->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a6))
			return MHD_YES;
		if (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127)
			return MHD_YES;
		return MHD_NO;
	}
	return MHD_NO;
}

/* ---- the flusher ----------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Flush every second (pushes and scrapes become durable and visible),
 * retention every hour and once at start. */
static void *flusher(void *arg)
{
	server *s = arg;
	int64_t last_ret = 0;
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop)) {
		pthread_mutex_unlock(&s->mu);
		cprof_error err = { 0 };
		if (srv_store_flush(s->ctx.store, &err))
			fprintf(stderr, "cprof server: flushing the store: %s\n", err.msg);
		int64_t now = now_ns();
		if (now - last_ret > (int64_t)3600 * 1000000000) {
			cprof_error e2 = { 0 };
			if (srv_store_retention(s->ctx.store, now, &e2) < 0)
				fprintf(stderr, "cprof server: retention: %s\n", e2.msg);
			last_ret = now;
		}
		pthread_mutex_lock(&s->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!atomic_load(&s->stop))
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- copy ---------------------------------------------------------------------------- */

/* `cprof server copy SRC DST`: copy the store SRC (a -data directory)
 * into DST (a clickhouse:// URL or another directory), idempotently
 * (store.h, srv_store_copy).  Exit 0, 1 when the copy failed (rerun it:
 * what was copied is skipped), 2 on bad arguments. */
static int copy_main(int argc, char **argv)
{
	bool help = argc == 4 && (!strcmp(argv[3], "-help") || !strcmp(argv[3], "-h"));
	if (argc != 5) {
		fputs("usage: cprof server copy SRC DST\n"
		      "  copy the store in directory SRC (a stopped server's -data) into DST\n"
		      "  (clickhouse://[USER[:PASS]@]HOST:PORT[,HOST:PORT...]/DB or a directory);\n"
		      "  safe to rerun: what DST holds already is skipped\n", help ? stdout : stderr);
		return help ? 0 : 2;
	}
	const char *src_at = argv[3], *dst_at = argv[4];
	struct stat sb;
	if (stat(src_at, &sb) != 0 || !S_ISDIR(sb.st_mode))
		die("copy: SRC %s is not a store directory", src_at);
	srv_store_opts so = { .no_rollups = true };
	srv_store *src = NULL, *dst = NULL;
	cprof_error e = { 0 };
	if (srv_store_open(src_at, &so, &src, &e))
		die("copy: SRC %s: %s", src_at, e.msg);
	srv_store_opts dopts = { .no_rollups = false };
	if (srv_store_open(dst_at, &dopts, &dst, &e)) {
		srv_store_close(src);
		die("copy: DST: %s", e.msg);
	}
	uint64_t copied = 0, skipped = 0;
	int rc = srv_store_copy(src, dst, stderr, &copied, &skipped, &e);
	if (!rc)
		rc = srv_store_rollup_sync(dst, &e) < 0 ? -1 : 0;
	srv_store_close(dst);
	srv_store_close(src);
	if (rc) {
		fprintf(stderr, "cprof server: copy failed after %llu items (rerun to resume): %s\n",
			(unsigned long long)copied, e.msg);
		return 1;
	}
	fprintf(stderr, "cprof server: copy done: %llu items copied, %llu already there\n",
		(unsigned long long)copied, (unsigned long long)skipped);
	return 0;
}

/* ---- main -------------------------------------------------------------------------- */

int cprof_server_main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[2], "copy"))
		return copy_main(argc, argv);
	/* every thread (the store's too) inherits the mask: the signals wait
	 * for sigwait below */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	flags f = { 0 };
	parse_flags(&f, argc, argv);
	if (f.help) {
		usage(stdout);
		return 0;
	}
	const char *http = f.http ? f.http : "127.0.0.1:4040";
	const char *data = f.data ? f.data : "./cprof-data";
	/* where the profiles go: the -data directory (SQLite), or a ClickHouse
	 * server or cluster (the store takes its URL in place of a directory;
	 * -data still holds the server's own files) */
	const char *store_at = data, *backend = "sqlite";
	char shown[512];
	snprintf(shown, sizeof shown, "%s", data);
	if (f.storage && strncmp(f.storage, "clickhouse://", 13) == 0) {
		store_at = f.storage;
		backend = "clickhouse";
		/* never print a password given in the URL */
		const char *at = strchr(f.storage + 13, '@'), *slash = strchr(f.storage + 13, '/');
		if (at && (!slash || at < slash))
			snprintf(shown, sizeof shown, "clickhouse://...@%s", at + 1);
		else
			snprintf(shown, sizeof shown, "%s", f.storage);
	} else if (f.storage && strcmp(f.storage, "sqlite")) {
		die("-storage=%s: want sqlite or clickhouse://HOST:PORT/DATABASE", f.storage);
	}
	if (f.token && !*f.token)
		die("-token: empty token");
	if (!f.tls_cert != !f.tls_key)
		die("-tls_cert and -tls_key go together (a PEM certificate and its key)");
	char *cert = NULL, *key = NULL;
	if (f.tls_cert) {
		cert = read_pem("-tls_cert", f.tls_cert);
		key = read_pem("-tls_key", f.tls_key);
	}

	static srv_config cfg;
	srv_config_init(&cfg);
	char err[512];
	if (f.config && srv_config_load(&cfg, f.config, err, sizeof err))
		die("%s", err);
	for (size_t i = 0; i < f.nscrape; i++)
		if (srv_config_add_scrape_url(&cfg, f.scrape[i], err, sizeof err))
			die("-scrape=%s: %s", f.scrape[i], err);
	int64_t retention = cfg.retention_ns ? cfg.retention_ns : (int64_t)7 * 86400 * 1000000000;
	if (f.retention) {
		cprof_error e = { 0 };
		if (srv_duration_parse(f.retention, strlen(f.retention), &retention, &e))
			die("-retention=%s: %s", f.retention, e.msg);
	}

	char host[256], port[16];
	split_addr(http, host, sizeof host, port, sizeof port);
	static server s;
	s.loopback = loopback_host(host);
	if (!s.loopback && !f.token && !f.trusted)
		die("-http=%s is not a loopback address: give -token=T (clients then send "
		    "'Authorization: Bearer T'), or -trusted if the network is", http);
	s.token = f.token;
	s.token_len = f.token ? strlen(f.token) : 0;
	s.tls = f.tls_cert != NULL;
	s.ctx.cfg = &cfg;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);

	if (mkdir(data, 0750) && errno != EEXIST)
		die("-data=%s: cannot create the directory: %s", data, strerror(errno));
	srv_store_opts so = { .retention_ns = retention, .max_series = cfg.limits.max_series,
			      .max_samples = cfg.limits.max_samples };
	cprof_error e = { 0 };
	if (srv_store_open(store_at, &so, &s.ctx.store, &e))
		die("%s=%s: %s", store_at == data ? "-data" : "-storage", shown, e.msg);
	/* one push decoded at a time per thread: bound each decode */
	cprof_set_mem_limit(cfg.limits.max_decoded * 8 > ((size_t)256 << 20)
			    ? cfg.limits.max_decoded * 8 : ((size_t)256 << 20));

	unsigned bound = 0;
	int fd = listen_on(host, port, http, &bound);
	/* the scrapers before the daemon: its threads read ctx, which is
	 * complete from here on */
	s.ctx.scraper = srv_scraper_start(&s.ctx, err, sizeof err);
	if (!s.ctx.scraper && err[0])
		die("%s", err);
	struct MHD_OptionItem tls[3] = { { MHD_OPTION_END, 0, NULL } };
	if (cert) {
		tls[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, key };
		tls[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cert };
	}
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
		(cert ? MHD_USE_TLS : 0), 0,
		accept_policy, &s, handle, &s,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_ARRAY, tls,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)SRV_THREADS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_IDLE_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_MAX_CONN,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
		MHD_OPTION_END);
	if (!d)
		die("-http: cannot start the HTTP server on %s%s", http,
		    cert ? " (check that -tls_key is the key of -tls_cert)" : "");
	pthread_t fl;
	if (pthread_create(&fl, NULL, flusher, &s))
		die("cannot start a thread: %s", strerror(errno));
	size_t ntargets = 0;
	for (size_t i = 0; i < cfg.njobs; i++)
		ntargets += cfg.jobs[i].ntargets;
	bool v6 = strchr(host, ':') != NULL;
	char ret[48];
	const int64_t H = (int64_t)3600 * 1000000000;
	if (retention == 0)
		snprintf(ret, sizeof ret, "kept forever");
	else if (retention % (24 * H) == 0)
		snprintf(ret, sizeof ret, "retention %lldd", (long long)(retention / (24 * H)));
	else if (retention % H == 0)
		snprintf(ret, sizeof ret, "retention %lldh", (long long)(retention / H));
	else
		snprintf(ret, sizeof ret, "retention %.0fs", (double)retention / 1e9);
	fprintf(stderr, "cprof server: storing in %s (%s, %s), listening on %s://%s%s%s:%u/"
		" (%zu scrape target%s, push at /ingest)\n", shown, backend, ret, cert ? "https" : "http",
		v6 ? "[" : "", *host ? host : "0.0.0.0", v6 ? "]" : "", bound, ntargets,
		ntargets == 1 ? "" : "s");
	fflush(stderr);

	int sig = 0;
	sigwait(&set, &sig);
	srv_scraper_stop(s.ctx.scraper);
	MHD_stop_daemon(d);
	close(fd);
	pthread_mutex_lock(&s.mu);
	atomic_store(&s.stop, true);
	pthread_cond_signal(&s.cv);
	pthread_mutex_unlock(&s.mu);
	pthread_join(fl, NULL);
	cprof_error fe = { 0 };
	int rc = srv_store_flush(s.ctx.store, &fe);
	if (rc)
		fprintf(stderr, "cprof server: flushing the store: %s\n", fe.msg);
	srv_ui_shutdown();
	srv_store_close(s.ctx.store);
	srv_config_free(&cfg);
	free(cert);
	free(key);
	fprintf(stderr, "cprof server: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	return rc ? 1 : 0;
}
