/*
 * webui.c - `cprof -http=HOST:PORT [options] source...`: the web UI,
 * served with libmicrohttpd.
 *
 * This file is only the HTTP glue.  What a request is answered with --
 * the page and its assets, the profile's meta JSON, the reports and flame
 * graph data, their caches and the per-request deadline -- is the report
 * layer's transport-neutral web API (src/report/webapi.c,
 * cprof_webapi.h), which the continuous-profiling server serves too.  Here:
 * the socket, the Host check, the connection limits, the redirect of / to
 * /ui/ (the API's mount point: the path below it is the API's), the job
 * threads, and turning the API's answers into HTTP responses.  The URL
 * parameters of a job are copied (webui_params.c) before it leaves the
 * polling thread.
 *
 * Threads.  libmicrohttpd runs one internal polling thread (epoll) that
 * reads requests and answers the cheap ones (pages, assets, meta, errors).
 * A request for data (a report, a flame graph, a download) suspends its
 * connection and runs on a job thread, at most WEBUI_MAX_JOBS at once
 * (more wait in a queue the job threads drain, up to WEBUI_MAX_QUEUE;
 * beyond, 503 with Retry-After); the job answers into the request, then
 * resumes the connection, and the polling thread sends the answer.
 * So a slow report (a costly regexp, a large graph through dot) holds up
 * no other request, unless WEBUI_MAX_JOBS slow ones run at once, and no
 * job runs longer than the API's deadline (30 s; CPROF_WEB_DEADLINE_MS).
 * What jobs share: the web API (thread-safe) and the queue, under ui.mu.
 * The query of a request is copied (webui_query) before its job starts.
 * The main thread blocks SIGINT/SIGTERM before the daemon starts (its
 * threads inherit the mask) and waits for them with sigwait.
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
#include "webui_trace.h"
#include "cprof_connset.h"
#include "cprof_host.h"
#include "cprof_webapi.h"

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

#define WEBUI_MAX_JOBS 8
#define WEBUI_MAX_QUEUE 64
#define WEBUI_MAX_CONN 256
#define WEBUI_RESERVE 16
#define WEBUI_MAX_PER_IP 64
#define WEBUI_IDLE_S 30

typedef struct ui {
	cli_opts *o;
	cprof_profile *p;               /* the sources, minus/with the base, as the CLI */
	cprof_profile *pnew, *pbase;    /* with a base: each alone (the diff flame graph) */
	cprof_webapi *api;              /* thread-safe: what every request is */
	bool loopback_only;
	unsigned port;                  /* served, for the Host check */
	const char *names[3];           /* the UI's host names, for the Host check */
	size_t nnames;
	char hostname[256], canon[256];
	pthread_mutex_t mu;             /* the jobs and their queue */
	int jobs;                       /* under mu: job threads serving the queue */
	struct req *qhead, *qtail;      /* under mu: data requests waiting for a job */
	int nqueued;
	_Atomic int threads;            /* job threads alive */
	cprof_connset conns;            /* polling thread only */
	cli_trace *trace;               /* a trace's, or NULL: told what is asked */
} ui;

enum { Q_NEW, Q_READ, Q_RUNNING, Q_DONE };

/* A request (libmicrohttpd's con_cls): owned by the connection, freed at
 * its completion; while a job runs (Q_RUNNING) the job owns the fields it
 * fills, and the connection is suspended. */
typedef struct req {
	ui *u;
	struct MHD_Connection *c;
	_Atomic int state;
	char *path;                  /* below /ui/ (a copy) */
	struct req *qnext;           /* in ui's queue */
	webui_query q;
	cprof_webresp resp;
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

/* Queue w (its body passes to libmicrohttpd). */
static enum MHD_Result send_resp(struct MHD_Connection *c, cprof_webresp *w)
{
	enum MHD_Result rc = send_buf(c, w->status, w->ctype, w->body, w->len, w->owned,
				      w->disposition, w->warn);
	w->body = NULL;
	w->owned = false;
	return rc;
}

/* The web API's query getter over a request's copied query (job threads). */
static const char *query_get(void *ctx, const char *key)
{
	return webui_arg(ctx, key);
}

/* The web API's query getter over the connection's own arguments (the
 * polling thread; cheap answers only). */
static const char *conn_get(void *ctx, const char *key)
{
	const char *v = MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
	return v && *v ? v : NULL;
}

/* ---- requests (the polling thread) ------------------------------------------------ */

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
	cprof_webresp_free(&rq->resp);
	free(rq->path);
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
		cprof_webapi_serve(u->api, rq->path, query_get, &rq->q, &rq->resp);
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
	if (cprof_webapi_kind(v) == CPROF_WEB_JOB) {
		cli_trace_seen(u->trace, v);
		rq->path = strdup(v);
		return rq->path ? start_job(c, u, rq) : MHD_NO;
	}
	cprof_webapi_serve(u->api, v, conn_get, c, &rq->resp);
	cli_trace_seen(u->trace, v);   /* answered: the loader may start */
	return send_resp(c, &rq->resp);
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
	static cli_trace tr;   /* an execution trace: its timeline (webui_trace.c) */
	if (cli_trace_open(o, &tr))
		u.p = tr.placeholder;
	else if (o->nbases)   /* and each side alone for the diff flame graph */
		cli_load_sides(o, &u.p, &u.pnew, &u.pbase);
	else
		u.p = cli_load(o);
	cprof_webapi_config wc = {
		.p = u.p, .pnew = u.pnew, .pbase = u.pbase, .diff_base = o->diff_base,
		.defaults = &o->r, .sources = o->sources, .nsources = o->nsources,
		.bases = o->bases, .nbases = o->nbases, .timeline = tr.tl, .trace_main = tr.main,
	};
	const char *dl = getenv("CPROF_WEB_DEADLINE_MS");
	if (dl && *dl) {
		char *e;
		long ms = strtol(dl, &e, 10);
		if (*e || ms < 1 || ms > 86400000)
			cli_die("CPROF_WEB_DEADLINE_MS=%s: want a number of milliseconds from 1 to 86400000",
				dl);
		wc.deadline_ms = ms;
	}
	if (cprof_webapi_new(&wc, &u.api) < 0)
		cli_die("out of memory");
	if (tr.tl) {
		cli_trace_start(&tr, u.api);
		u.trace = &tr;
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
	if (!o->no_browser) {
		if (tr.tl)   /* a trace opens on its timeline */
			strncat(url, "timeline", sizeof url - strlen(url) - 1);
		open_browser(url);
	}
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
	cli_trace_free(&tr);   /* before the API the loader hands profiles to */
	cprof_webapi_free(u.api);
	cprof_profile_free(u.p);
	cprof_profile_free(u.pnew);
	cprof_profile_free(u.pbase);
	return 0;
}
