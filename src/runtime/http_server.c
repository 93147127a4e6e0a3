/*
 * http_server.c - the HTTP endpoint's server: libmicrohttpd driven by one
 * thread of the runtime, Go's /debug/pprof/ paths (http_parse.c, http.c),
 * and the limits that keep it safe in production.
 *
 * Threads.  MHD runs in "external" mode (no thread of its own) with epoll:
 * one server thread of the runtime polls MHD's epoll fd, the listening
 * socket and a stop eventfd, accepts every waiting connection itself
 * (level-triggered, so a backlog of dead or excess connections is drained
 * every round and MHD's connection limit closes the excess at once) and
 * hands them to MHD (MHD_add_connection), then calls MHD_run.  Cheap requests (errors, cmdline, metrics, redirect)
 * are answered on it.  Expensive ones (profiles, index, symbol) suspend
 * their connection (MHD_suspend_connection) and run on a job thread, one
 * per request, at most RT_HTTP_MAX_JOBS at once; the job answers, then
 * resumes the connection and the server thread sends the answer.  So a
 * seconds= request, a slow symbolization or a slow client never blocks the
 * other requests, and nothing the server does runs on the program's
 * threads.  Every thread of the endpoint is created with libc's
 * pthread_create (rt_runtime_thread_create: named cprof-http, not the interposed one: it is not
 * the program's thread), with every asynchronous signal blocked (SIGPROF
 * too: the CPU profiler never samples them, a process-directed signal of
 * the program is never delivered to them, and a SIGPIPE can never reach
 * the program's handler), and marked as the runtime's own (rt_self_enter:
 * the heap profiler does not count their allocations, MHD's included).
 *
 * Safety.  A non-loopback address is refused unless a bearer token is set
 * (checked in constant time on every request; 401 otherwise) or the network
 * is declared trusted; "unix:/path" listens on a Unix socket (mode 0600).
 * On loopback without a token, the Host header must name this server (an
 * IP literal or localhost, cprof_host.h; else 403): a page of another site
 * cannot reach it through DNS rebinding.  TLS (GnuTLS through MHD) from
 * PEM files.  Limits: max_connections (plus RT_HTTP_RESERVE slots in
 * MHD's limit), an idle timeout per connection (10 s), bounded request
 * headers (MHD's per-connection memory, 32 KiB) and bodies (1 MiB for the
 * symbol POST, 4 KiB elsewhere; a larger Content-Length is 413 before the
 * body is read), the time and rate rules of evict_slow (headers within
 * 10 s, the body within 30 s at 1 KiB/s; when crowded, nobody 2 s into a
 * request; when full, the longest goes for each new client), seconds= at
 * most max_seconds (300), one CPU profile at a time (500, as Go), and a
 * token bucket on expensive requests (429 with Retry-After), and wrong
 * tokens limited per client address (cprof_guard.h: 429 too).  The server
 * thread evicts by shutdown(2): MHD reads the end and closes the
 * connection itself, so its descriptor is never closed under it.  Sockets and fds are close-on-exec (SOCK_CLOEXEC, MHD's
 * own are too); MHD sends with MSG_NOSIGNAL.
 *
 * fork: the child has no server thread; a pthread_atfork handler forgets
 * the server in the child and closes its copy of the listening socket, so
 * the child never holds the port.  cprof_http_start works again there.
 */
#include "http_int.h"
#include "rt_base.h"
#include "cprof_core.h"
#include "cprof.h"
#include "cprof_connset.h"
#include "cprof_host.h"
#include "cprof_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RT_HTTP_MAX_JOBS 8
#define RT_HTTP_MAX_BODY (1u << 20)    /* the symbol POST's addresses */
#define RT_HTTP_MAX_OTHER_BODY 4096    /* any other request's (ignored) body */
#define RT_HTTP_MAX_URI 4096
/* Slow clients: a request's headers must arrive within RT_HTTP_HEAD_NS of
 * the connection's start (or of the previous answer), its body within
 * RT_HTTP_BODY_NS of the headers, at RT_HTTP_MIN_RATE bytes a second or
 * more once RT_HTTP_GRACE_NS have passed; a connection that breaks a rule
 * is shut down.  RT_HTTP_RESERVE slots above the connection limit let a
 * new client in while the one evicted for it closes; a full server lets
 * MHD read and close what it can before it judges anyone (accept_all),
 * and evicts for room only a connection RT_HTTP_ROOM_NS into its request:
 * a client that has just connected may not have sent its request yet
 * (its process not scheduled), and a burst of newcomers behind it must
 * not push it out; they take the reserve, and MHD refuses the rest. */
#define RT_HTTP_HEAD_NS  (10 * 1000000000LL)
#define RT_HTTP_BODY_NS  (30 * 1000000000LL)
#define RT_HTTP_GRACE_NS (2 * 1000000000LL)
#define RT_HTTP_MIN_RATE 1024
#define RT_HTTP_RESERVE 4
#define RT_HTTP_ROOM_NS  (1 * 1000000000LL)

typedef struct srv {
	struct MHD_Daemon *d;
	int listen_fd;
	int port;
	char addr[128];             /* as printed: "127.0.0.1:6060", "unix:/p" */
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int stop_fd;                /* eventfd: readable when stopping */
	int wake_fd;                /* eventfd: a job finished (MHD's own wake-up
				     * does not reach an external epoll loop) */
	rt_http_limits lim;
	char *token;
	char *tls_cert, *tls_key;
	/* token bucket of expensive requests (server thread only) */
	double tokens, burst, per_ns;
	int64_t last_ns;
	/* job threads: how many run; done_fd is written by each job that ends
	 * and by the server thread when it leaves (cprof_http_stop waits on it
	 * with poll: the runtime's own waits never go through the interposed
	 * pthread_join / pthread_cond_wait of the sync profiles) */
	_Atomic int jobs;
	_Atomic int server_done;
	int done_fd;
	int64_t accept_pause_ns;    /* server thread: out of fds, retry after */
	/* connections (server thread only), for evicting slow ones */
	cprof_connset conns;
	int max_conn;
	bool loopback;              /* a TCP loopback address */
	bool host_check;            /* loopback without a token: check Host */

	/* the descriptors' identities (stop, wake, done, listen, MHD's epoll):
	 * a program that closes every descriptor may give their numbers to its
	 * own files; then the endpoint stops and never touches them again */
	struct { dev_t dev; ino_t ino; } id[5];
	int epoll_fd;
	_Atomic bool lost;
} srv;

/* The five descriptors (fd_list) and whether each is still the one opened. */
static void fd_list(const srv *s, int fds[5])
{
	fds[0] = s->stop_fd;
	fds[1] = s->wake_fd;
	fds[2] = s->done_fd;
	fds[3] = s->listen_fd;
	fds[4] = s->epoll_fd;
}

static void fds_remember(srv *s)
{
	int fds[5];
	fd_list(s, fds);
	for (int i = 0; i < 5; i++) {
		struct stat st;
		if (fds[i] >= 0 && fstat(fds[i], &st) == 0) {
			s->id[i].dev = st.st_dev;
			s->id[i].ino = st.st_ino;
		}
	}
}

/* All still ours; once false, false for good (s->lost).  [AS-safe] */
static bool fds_ours(srv *s)
{
	if (atomic_load(&s->lost))
		return false;
	int fds[5];
	fd_list(s, fds);
	for (int i = 0; i < 5; i++) {
		struct stat st;
		if (fds[i] >= 0 && (fstat(fds[i], &st) != 0 || st.st_dev != s->id[i].dev ||
				    st.st_ino != s->id[i].ino)) {
			if (!atomic_exchange(&s->lost, true))
				fprintf(stderr, "cprof: the program closed the endpoint's descriptors; "
					"%s is no longer served\n", s->addr);
			return false;
		}
	}
	return true;
}

enum { Q_NEW, Q_HEADERS, Q_RUNNING, Q_DONE };

typedef struct req {
	srv *s;
	struct MHD_Connection *c;
	char *path, *query;          /* split from the raw URI (one allocation) */
	char method[8];
	rt_buf body;
	size_t body_max;
	bool too_big;
	_Atomic int state;
	int client_fd;
	rt_http_route route;
	rt_http_resp resp;
} req;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static srv *g;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t n_requests, n_auth, n_rate, n_busy;

void rt_http_get_counters(rt_http_counters *c)
{
	c->requests = atomic_load(&n_requests);
	c->rejected_auth = atomic_load(&n_auth);
	c->rejected_rate = atomic_load(&n_rate);
	c->rejected_busy = atomic_load(&n_busy);
}

/* ---- threads of the endpoint ---------------------------------------------------- */

/* Create a thread of the runtime: libc's pthread_create, every
 * asynchronous signal blocked in it (inherited from the mask set here). */
static int spawn(pthread_t *th, bool detached, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	static const int sync_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT };
	for (size_t i = 0; i < sizeof sync_sigs / sizeof sync_sigs[0]; i++)
		sigdelset(&all, sync_sigs[i]);
	pthread_attr_t at;
	pthread_attr_init(&at);
	if (detached)
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t tmp;
	int rc = rt_runtime_thread_create(th ? th : &tmp, &at, "cprof-http", fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	return rc;
}

/* ---- responses --------------------------------------------------------------------- */

static enum MHD_Result send_resp(struct MHD_Connection *c, rt_http_resp *r)
{
	struct MHD_Response *mr;
	if (r->len && r->body) {
		mr = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
		if (mr)
			r->body = NULL;   /* MHD frees it */
	} else {
		mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!mr)
		return MHD_NO;
	MHD_add_response_header(mr, "Content-Type", r->ctype);
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	if (r->go_error)
		MHD_add_response_header(mr, "X-Go-Pprof", "1");
	if (r->disposition[0]) {
		char v[96];
		snprintf(v, sizeof v, "attachment; filename=\"%s\"", r->disposition);
		MHD_add_response_header(mr, "Content-Disposition", v);
	}
	if (r->extra_name[0])
		MHD_add_response_header(mr, r->extra_name, r->extra_value);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, req *q, int status, const char *msg,
				  const char *hname, const char *hval)
{
	rt_http_error(&q->resp, status, msg);
	q->resp.go_error = false;
	if (hname) {
		snprintf(q->resp.extra_name, sizeof q->resp.extra_name, "%s", hname);
		snprintf(q->resp.extra_value, sizeof q->resp.extra_value, "%s", hval);
	}
	return send_resp(c, &q->resp);
}

/* ---- requests ----------------------------------------------------------------------- */

static cprof_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	srv *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = cprof_connset_add(&s->conns, c, ci ? ci->connect_fd : -1);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		cprof_connset_remove(&s->conns, *socket_context);
		*socket_context = NULL;
	}
}

/* Slow clients (slowloris, slow bodies), every round of the server loop
 * and before each new connection: a connection whose headers or body
 * break the time and rate rules is shut down; when the server is three
 * quarters full, so is every connection that has spent 2 s on a request;
 * and when it is full and `room` is asked, the connection that has spent
 * longest on its request goes (if that is RT_HTTP_ROOM_NS or more), so a
 * new client finds a slot.
 * Connections whose request is being answered are never touched. */
static void evict_slow(srv *s, bool room)
{
	int64_t now = cprof_mono_ns();
	bool crowded = cprof_connset_live(&s->conns) >= s->max_conn - s->max_conn / 4;
	cprof_conn *oldest = NULL;
	for (cprof_conn *k = s->conns.head; k; k = k->next) {
		if (k->dropped || !(k->waiting || k->reading))
			continue;
		int64_t age = now - k->since_ns;
		bool slow = k->waiting ? age > RT_HTTP_HEAD_NS
			: age > RT_HTTP_BODY_NS ||
			  (age > RT_HTTP_GRACE_NS && (double)k->rx * 1e9 / (double)age < RT_HTTP_MIN_RATE);
		if (slow || (crowded && age > RT_HTTP_GRACE_NS)) {
			cprof_conn_drop(&s->conns, k);
			continue;
		}
		/* by the start of its request, not of its body: a slow body
		 * whose headers came late has spent longer than a client
		 * accepted since */
		if (now - k->start_ns >= RT_HTTP_ROOM_NS &&
		    (!oldest || k->start_ns < oldest->start_ns))
			oldest = k;
	}
	if (room && oldest && cprof_connset_live(&s->conns) >= s->max_conn)
		cprof_conn_drop(&s->conns, oldest);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	srv *s = cls;
	req *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->s = s;
	q->c = c;
	q->client_fd = -1;
	size_t n = strnlen(uri, RT_HTTP_MAX_URI + 1);
	if (n > RT_HTTP_MAX_URI)
		n = RT_HTTP_MAX_URI;   /* routed as a 404: no path is that long */
	q->path = malloc(n + 1);
	if (!q->path) {
		free(q);
		return NULL;
	}
	memcpy(q->path, uri, n);
	q->path[n] = 0;
	char *qm = strchr(q->path, '?');
	if (qm) {
		*qm = 0;
		q->query = qm + 1;
	}
	return q;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls; (void)toe;
	cprof_conn *k = conn_of(c);
	if (k)   /* waiting for the next request (keep-alive) */
		cprof_conn_idle(k);
	req *q = *con_cls;
	if (!q)
		return;
	rt_http_resp_free(&q->resp);
	rt_buf_free(&q->body);
	free(q->path);
	free(q);
	*con_cls = NULL;
}

static bool take_token(srv *s)
{
	if (s->per_ns <= 0)
		return true;   /* unlimited */
	int64_t now = cprof_mono_ns();
	s->tokens += (double)(now - s->last_ns) * s->per_ns;
	if (s->tokens > s->burst)
		s->tokens = s->burst;
	s->last_ns = now;
	if (s->tokens < 1)
		return false;
	s->tokens -= 1;
	return true;
}

static void *job_main(void *arg)
{
	req *q = arg;
	srv *s = q->s;
	rt_self_enter();
	prctl(PR_SET_NAME, "cprof-http-job");   /* named in thread dumps */
	rt_http_answer(&q->route, q->method, q->query, q->body.p, q->body.n, s->stop_fd,
		       q->client_fd, &s->lim, &q->resp);
	atomic_store(&q->state, Q_DONE);
	MHD_resume_connection(q->c);
	uint64_t one = 1;
	if (fds_ours(s) && write(s->wake_fd, &one, sizeof one) < 0) {
		/* only on overflow: the loop is awake anyway */
	}
	if (!atomic_load(&s->lost) && write(s->done_fd, &one, sizeof one) < 0) {
		/* only on overflow */
	}
	atomic_fetch_sub(&s->jobs, 1);   /* last: s may be freed from here on */
	rt_self_leave();
	return NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)url; (void)version;
	srv *s = cls;
	req *q = *con_cls;
	if (!q)
		return MHD_NO;   /* out of memory at on_uri: close */
	int st = atomic_load(&q->state);
	if (st == Q_DONE)
		return send_resp(c, &q->resp);
	if (st == Q_RUNNING)
		return MHD_YES;
	cprof_conn *k = conn_of(c);
	if (st == Q_NEW) {
		atomic_store(&q->state, Q_HEADERS);
		if (k) {
			k->waiting = false;
			k->reading = true;
			k->since_ns = cprof_mono_ns();
			k->rx = 0;
		}
		atomic_fetch_add(&n_requests, 1);
		snprintf(q->method, sizeof q->method, "%s", method);
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (s->token && auth) {
			/* a token presented is an attempt (cprof_guard.h): refused
			 * unchecked while its address is over the limit */
			const union MHD_ConnectionInfo *ci =
				MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			const struct sockaddr *peer = ci ? ci->client_addr : NULL;
			unsigned wait = cprof_guard_refused(peer, cprof_mono_ns());
			if (wait) {
				char ra[16];
				snprintf(ra, sizeof ra, "%u", wait);
				atomic_fetch_add(&n_auth, 1);
				return send_error(c, q, 429, "Too Many Requests: too many wrong tokens "
						  "from this address", "Retry-After", ra);
			}
			if (!rt_http_auth_ok(auth, s->token))
				cprof_guard_failed(peer, cprof_mono_ns());
		}
		if (!rt_http_auth_ok(auth, s->token)) {
			atomic_fetch_add(&n_auth, 1);
			return send_error(c, q, 401, "Unauthorized", "WWW-Authenticate",
					  "Bearer realm=\"cprof\"");
		}
		if (s->host_check &&
		    !cprof_host_allowed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
					NULL, 0, (unsigned)s->port))
			return send_error(c, q, 403, "Forbidden: the Host header does not name this "
					  "server", NULL, NULL);
		/* a declared body over its limit is refused before it is read */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		bool symbol = strcmp(method, "POST") == 0 && strcmp(q->path, "/debug/pprof/symbol") == 0;
		unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
		if (len > (symbol ? RT_HTTP_MAX_BODY : RT_HTTP_MAX_OTHER_BODY))
			return send_error(c, q, 413, "Request Entity Too Large", NULL, NULL);
		q->body_max = symbol ? RT_HTTP_MAX_BODY : RT_HTTP_MAX_OTHER_BODY;
		return MHD_YES;
	}
	if (*upload_size) {
		if (k)
			k->rx += *upload_size;
		/* the body: kept for the symbol POST, bounded */
		if (!q->too_big) {
			if (q->body.n + *upload_size > q->body_max) {
				q->too_big = true;
				rt_buf_free(&q->body);
			} else {
				rt_buf_add(&q->body, upload_data, *upload_size);
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (k)
		k->reading = false;   /* the request is in: being answered */
	if (q->too_big || q->body.oom)
		return send_error(c, q, 413, "Request Entity Too Large", NULL, NULL);
	rt_http_parse(q->method, q->path, q->query, &s->lim, &q->route);
	if (!q->route.expensive) {
		rt_http_answer(&q->route, q->method, q->query, q->body.p, q->body.n, -1, -1,
			       &s->lim, &q->resp);
		return send_resp(c, &q->resp);
	}
	if (!take_token(s)) {
		atomic_fetch_add(&n_rate, 1);
		char ra[16];
		snprintf(ra, sizeof ra, "%d", s->per_ns > 0 ? (int)(1 / (s->per_ns * 1e9)) + 1 : 1);
		return send_error(c, q, 429, "Too Many Requests: the profile endpoints are rate-limited",
				  "Retry-After", ra);
	}
	bool ok = atomic_fetch_add(&s->jobs, 1) < RT_HTTP_MAX_JOBS;
	if (!ok)
		atomic_fetch_sub(&s->jobs, 1);
	if (!ok) {
		atomic_fetch_add(&n_busy, 1);
		return send_error(c, q, 429, "Too Many Requests: too many profile requests at once",
				  "Retry-After", "1");
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	q->client_fd = ci ? ci->connect_fd : -1;
	atomic_store(&q->state, Q_RUNNING);
	MHD_suspend_connection(c);
	if (spawn(NULL, true, job_main, q) != 0) {
		atomic_fetch_sub(&s->jobs, 1);
		rt_http_error(&q->resp, 503, "Service Unavailable: cannot start a thread");
		q->resp.go_error = false;
		atomic_store(&q->state, Q_DONE);
		MHD_resume_connection(c);
	}
	return MHD_YES;
}

/* ---- the server thread ------------------------------------------------------------------ */

/* Accept what waits in the backlog (level-triggered: the backlog is
 * drained every round) and hand it to MHD, which closes it at once when
 * the connection limit is reached: dead or excess connections never pile
 * up in the backlog in front of a good one. */
static void accept_all(srv *s)
{
	for (int i = 0; i < 256; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS)
				s->accept_pause_ns = cprof_mono_ns() + 100000000;   /* no busy loop */
			return;
		}
		if (sl == 0 || ss.ss_family == AF_UNIX) {
			/* MHD wants an address: a Unix peer has none worth keeping */
			struct sockaddr_in lo = { .sin_family = AF_INET,
						  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			memcpy(&ss, &lo, sizeof lo);
			sl = sizeof lo;
		}
		/* a full server first lets MHD read what has arrived and
		 * close what was shut down: a client accepted a moment ago
		 * whose request is in (a backlog that piled up while this
		 * thread was not scheduled) is then being answered, not
		 * judged for the room, and the connections evict_slow shut
		 * down no longer count against MHD's limit (past the reserve,
		 * MHD would refuse this one) */
		if (s->conns.n >= s->max_conn)
			MHD_run(s->d);
		evict_slow(s, true);
		MHD_add_connection(s->d, fd, (struct sockaddr *)&ss, sl);   /* closes fd on failure */
	}
}

static void *server_main(void *arg)
{
	srv *s = arg;
	rt_self_enter();
	prctl(PR_SET_NAME, "cprof-http");
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	int efd = di ? di->epoll_fd : -1;
	for (;;) {
		struct pollfd pf[4] = { { .fd = s->stop_fd, .events = POLLIN },
					{ .fd = s->listen_fd, .events = POLLIN },
					{ .fd = s->wake_fd, .events = POLLIN },
					{ .fd = efd, .events = POLLIN } };
		MHD_UNSIGNED_LONG_LONG to = 0;
		int ms = 1000;
		if (MHD_get_timeout(s->d, &to) == MHD_YES && to < 1000)
			ms = (int)to;
		if (s->accept_pause_ns && cprof_mono_ns() < s->accept_pause_ns) {
			pf[1].fd = -1;   /* ignored by poll */
			if (ms > 100)
				ms = 100;
		} else {
			s->accept_pause_ns = 0;
		}
		int rc = poll(pf, efd >= 0 ? 4 : 3, ms);
		if (!fds_ours(s))
			break;   /* neither read nor serve the program's descriptors */
		if (rc > 0 && (pf[0].revents & POLLIN))
			break;
		if (rc > 0 && (pf[1].revents & POLLIN))
			accept_all(s);
		uint64_t drain;
		if (rc > 0 && (pf[2].revents & POLLIN) && read(s->wake_fd, &drain, sizeof drain) < 0) {
			/* EAGAIN: drained already */
		}
		MHD_run(s->d);
		evict_slow(s, false);
	}
	rt_self_leave();
	uint64_t one = 1;
	if (!atomic_load(&s->lost) && write(s->done_fd, &one, sizeof one) < 0) {
		/* only on overflow */
	}
	atomic_store(&s->server_done, 1);   /* last: s may be freed from here on */
	return NULL;
}

/* ---- listening ------------------------------------------------------------------------- */

/* The last start failed because its address was in use (another process
 * holds the port): rt_http_port_taken.  Written under g_mu. */
static atomic_bool port_taken;

bool rt_http_port_taken(void)
{
	return atomic_load(&port_taken);
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

static int listen_unix(srv *s, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (!*path || strlen(path) >= sizeof sun.sun_path) {
		rt_set_error("cprof_http_start: bad Unix socket path \"%s\"", path);
		return CPROF_ERR_INVAL;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rt_set_error("cprof_http_start: socket: %s", strerror(errno));
		return CPROF_ERR_SYSTEM;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* a stale socket of a dead process: nobody accepts on it */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof sun) < 0 &&
		    errno == ECONNREFUSED)
			unlink(path);
		if (probe >= 0)
			close(probe);
	}
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc < 0 || listen(fd, 64) < 0) {
		atomic_store(&port_taken, errno == EADDRINUSE);
		rt_set_error("cprof_http_start: cannot listen on unix:%s: %s", path, strerror(errno));
		close(fd);
		return CPROF_ERR_SYSTEM;
	}
	s->listen_fd = fd;
	snprintf(s->unix_path, sizeof s->unix_path, "%s", path);
	snprintf(s->addr, sizeof s->addr, "unix:%s", path);
	s->port = 0;
	return 0;
}

static int listen_tcp(srv *s, const char *listen_at, bool allow_remote)
{
	char host[128], port[16];
	const char *colon = strrchr(listen_at, ':');
	if (!colon || (size_t)(colon - listen_at) >= sizeof host || strlen(colon + 1) >= sizeof port ||
	    !colon[1]) {
		rt_set_error("cprof_http_start: bad address \"%s\": want HOST:PORT or unix:/path",
			     listen_at);
		return CPROF_ERR_INVAL;
	}
	memcpy(host, listen_at, (size_t)(colon - listen_at));
	host[colon - listen_at] = 0;
	snprintf(port, sizeof port, "%s", colon + 1);
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9' || strlen(port) > 5 || atol(port) > 65535) {
			/* getaddrinfo would take 99999 modulo 65536 */
			rt_set_error("cprof_http_start: bad port in \"%s\" (0..65535)", listen_at);
			return CPROF_ERR_INVAL;
		}
	/* a numeric address first: a host name needs NSS, which dlopens its
	 * modules (and every dlopen refreshes the unwinder's module tables) */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST },
			*res = NULL;
	int gr = getaddrinfo(*h ? h : NULL, port, &hints, &res);
	if (gr == EAI_NONAME && *h) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		gr = getaddrinfo(h, port, &hints, &res);
	}
	if (gr != 0 || !res) {
		rt_set_error("cprof_http_start: cannot resolve \"%s\": %s", listen_at,
			     gai_strerror(gr));
		return CPROF_ERR_INVAL;
	}
	int rc = 0;
	s->loopback = is_loopback(res->ai_addr);
	if (!s->loopback && !allow_remote) {
		rt_set_error("refusing to serve on %s: not a loopback address; set a token "
			     "(CPROF_TOKEN) or declare the network trusted (CPROF_HTTP_TRUSTED=1)",
			     listen_at);
		freeaddrinfo(res);
		return CPROF_ERR_INVAL;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		atomic_store(&port_taken, errno == EADDRINUSE);
		rt_set_error("cprof_http_start: cannot listen on %s: %s", listen_at, strerror(errno));
		if (fd >= 0)
			close(fd);
		rc = CPROF_ERR_SYSTEM;
	}
	freeaddrinfo(res);
	if (rc < 0)
		return rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ip[INET6_ADDRSTRLEN] = "?";
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
			snprintf(s->addr, sizeof s->addr, "%s:%d", ip, s->port);
		} else {
			s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
			snprintf(s->addr, sizeof s->addr, "[%s]:%d", ip, s->port);
		}
	}
	s->listen_fd = fd;
	return 0;
}

static char *read_pem(const char *path)
{
	void *data = NULL;
	size_t len = 0;
	cprof_error e;
	/* "-" would be the program's stdin to cprof_read_file */
	if (strcmp(path, "-") == 0 || cprof_read_file(path, 1 << 20, &data, &len, &e) < 0)
		return NULL;
	char *s = realloc(data, len + 1);
	if (!s) {
		free(data);
		return NULL;
	}
	s[len] = 0;
	return s;
}

/* ---- start, stop, fork --------------------------------------------------------------------- */

static void free_srv(srv *s)
{
	if (!s)
		return;
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->token);
	free(s->tls_cert);
	free(s->tls_key);
	if (s->done_fd >= 0)
		close(s->done_fd);
	free(s);
}

static void atfork_child(void)
{
	rt_self_enter();            /* the runtime's work, not the child's */
	pthread_mutex_init(&g_mu, NULL);
	if (g) {
		close(g->listen_fd);   /* never hold the parent's port */
		g = NULL;              /* its threads did not survive the fork */
	}
	rt_self_leave();
}

static void atfork_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

static int start_locked(const cprof_http_options *o)
{
	const char *listen_at = o && o->listen && *o->listen ? o->listen : "127.0.0.1:6060";
	srv *s = calloc(1, sizeof *s);
	if (!s)
		return CPROF_ERR_NOMEM;
	s->listen_fd = s->stop_fd = s->wake_fd = s->done_fd = s->epoll_fd = -1;
	s->lim.max_seconds = o && o->max_seconds > 0 ? o->max_seconds : 300;
	s->lim.no_cmdline = o && o->no_cmdline;
	int rate = o && o->rate_per_minute ? o->rate_per_minute : 60;
	if (rate > 0) {
		s->burst = rate < 20 ? rate : 20;
		s->tokens = s->burst;
		s->per_ns = rate / 60e9;
		s->last_ns = cprof_mono_ns();
	}
	int max_conn = o && o->max_connections > 0 ? o->max_connections : 32;
	const char *token = o && o->token && *o->token ? o->token : NULL;
	if (token && !(s->token = strdup(token))) {
		free_srv(s);
		return CPROF_ERR_NOMEM;
	}
	int rc;
	if (strncmp(listen_at, "unix:", 5) == 0)
		rc = listen_unix(s, listen_at + 5);
	else
		rc = listen_tcp(s, listen_at, token || (o && o->trusted_network));
	/* DNS rebinding: a loopback server without a token checks Host */
	s->host_check = rc == 0 && !token && s->port && s->loopback;
	if (rc < 0) {
		free_srv(s);
		return rc;
	}
	/* the server thread accepts (accept_all) and adds the connections */
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
	if (o && (o->tls_cert || o->tls_key)) {
		if (!o->tls_cert || !o->tls_key) {
			rt_set_error("cprof_http_start: TLS needs both a certificate and a key");
			rc = CPROF_ERR_INVAL;
		} else if (!(s->tls_cert = read_pem(o->tls_cert)) ||
			   !(s->tls_key = read_pem(o->tls_key))) {
			rt_set_error("cprof_http_start: cannot read %s", s->tls_cert ? o->tls_key
										       : o->tls_cert);
			rc = CPROF_ERR_IO;
		}
		flags |= MHD_USE_TLS;
	}
	if (rc == 0 && ((s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
			(s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
			(s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)) {
		rt_set_error("cprof_http_start: eventfd: %s", strerror(errno));
		rc = CPROF_ERR_SYSTEM;
	}
	if (rc < 0) {
		close(s->listen_fd);
		if (s->unix_path[0])
			unlink(s->unix_path);
		free_srv(s);
		return rc;
	}
	s->max_conn = max_conn;
	struct MHD_OptionItem opts[12];
	size_t no = 0;
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, max_conn + RT_HTTP_RESERVE,
					      NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s };
	if (s->tls_key) {
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key };
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert };
	}
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	if (!s->d) {
		rt_set_error("cprof_http_start: libmicrohttpd refused to start on %s%s", s->addr,
			     s->tls_key ? " (check the TLS certificate and key)" : "");
		close(s->listen_fd);
		if (s->unix_path[0])
			unlink(s->unix_path);
		free_srv(s);
		return CPROF_ERR_SYSTEM;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	s->epoll_fd = di ? di->epoll_fd : -1;
	fds_remember(s);
	if ((rc = spawn(NULL, true, server_main, s)) != 0) {
		rt_set_error("cprof_http_start: cannot create the server thread: %s", strerror(rc));
		MHD_stop_daemon(s->d);
		close(s->listen_fd);
		if (s->unix_path[0])
			unlink(s->unix_path);
		free_srv(s);
		return CPROF_ERR_SYSTEM;
	}
	g = s;
	return 0;
}

int cprof_http_start(const cprof_http_options *opt)
{
	pthread_once(&atfork_once, atfork_init);
	rt_self_enter();
	pthread_mutex_lock(&g_mu);
	int rc;
	if (g) {
		rt_set_error("cprof_http_start: already serving on %s", g->addr);
		rc = CPROF_ERR_BUSY;
	} else {
		atomic_store(&port_taken, false);
		rc = start_locked(opt);
	}
	pthread_mutex_unlock(&g_mu);
	rt_self_leave();
	return rc;
}

int cprof_http_stop(void)
{
	rt_self_enter();
	pthread_mutex_lock(&g_mu);
	srv *s = g;
	g = NULL;
	pthread_mutex_unlock(&g_mu);
	if (!s) {
		rt_self_leave();
		rt_set_error("cprof_http_stop: not serving");
		return CPROF_ERR_NOT_RUNNING;
	}
	uint64_t one = 1;
	if (fds_ours(s) && write(s->stop_fd, &one, sizeof one) < 0) {
		/* an eventfd write only fails on overflow: it is readable anyway */
	}
	/* the server thread leaves its loop; the jobs see stop_fd readable and
	 * end their waits; each says so on done_fd */
	while (!atomic_load(&s->server_done) || atomic_load(&s->jobs) > 0) {
		if (!fds_ours(s)) {
			/* the server thread leaves at its next poll (<= 1 s) */
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
			continue;
		}
		struct pollfd pf = { .fd = s->done_fd, .events = POLLIN };
		uint64_t drain;
		if (poll(&pf, 1, 100) > 0 && read(s->done_fd, &drain, sizeof drain) < 0) {
			/* EAGAIN: another round */
		}
	}
	if (atomic_load(&s->lost)) {
		/* its descriptors' numbers may be the program's now: closing
		 * them (MHD's connections and epoll too) would close its files;
		 * the server's memory is left as it is */
		rt_self_leave();
		return 0;
	}
	MHD_stop_daemon(s->d);   /* closes the connections */
	close(s->listen_fd);
	if (s->unix_path[0])
		unlink(s->unix_path);
	free_srv(s);
	rt_self_leave();
	return 0;
}

int cprof_http_port(void)
{
	pthread_mutex_lock(&g_mu);
	int p = g ? g->port : CPROF_ERR_NOT_RUNNING;
	pthread_mutex_unlock(&g_mu);
	if (p < 0)
		rt_set_error("cprof_http_port: not serving");
	return p;
}

const char *rt_http_addr(void)
{
	return g ? g->addr : "";
}
