/*
 * http_env.c - the HTTP endpoint from the environment (LD_PRELOAD use): a
 * constructor that starts it when CPROF_HTTP is set.
 *
 *   CPROF_HTTP=127.0.0.1:6060   HOST:PORT ("[::1]:0", ":6060" = every
 *                               interface), or unix:/path (%p: the pid)
 *   CPROF_TOKEN=SECRET          requests need "Authorization: Bearer SECRET"
 *   CPROF_HTTP_TRUSTED=1        allow a non-loopback address without a token
 *   CPROF_HTTP_NO_CMDLINE=1     /debug/pprof/cmdline answers 404 (arguments
 *                               may hold secrets)
 *   CPROF_HTTP_TLS_CERT=FILE, CPROF_HTTP_TLS_KEY=FILE   HTTPS (PEM files)
 *   CPROF_HTTP_MAX_SECONDS=N    largest seconds= (default 300)
 *   CPROF_HTTP_MAX_CONNECTIONS=N  (default 32)
 *   CPROF_HTTP_RATE=N           expensive requests per minute (default 60,
 *                               burst min(N, 20); -1 unlimited)
 *   CPROF_HTTP_GRACE=DURATION   wait this long before binding (default
 *                               300ms; 0 binds in the constructor)
 *
 * Every value goes through envparse.c: booleans are 1/0, true/false,
 * yes/no, on/off ("no" is no); a port is 0..65535; a TLS file is never
 * "-".  A bad value gets one line on stderr and no endpoint.
 *
 * Wrappers.  Every process started from the program inherits CPROF_HTTP;
 * a fixed port can be bound by one only.  So the endpoint binds lazily:
 * a thread of the runtime (rt_quiet_thread_start) waits the grace, then
 * binds (so the endpoint's plugin is loaded there, never in the
 * constructor; with no grace a runtime thread binds and the constructor
 * waits for it, at most 5 s), unless this process started another program during the grace
 * (a fork child of it exec'd, or it called posix_spawn, system or popen:
 * rt_http_program_started, from lifecycle.c).  Then the endpoint is left
 * to that program, silently: timeout, env, nohup, sh -c, make and bash
 * -c start their command at once and never bind; the command binds after
 * its own grace.  A process that binds keeps its endpoint (a server that
 * runs a helper program later is not a wrapper).
 *
 * A hand-off is not final: a program may run a helper at once and serve
 * for hours (node's execSync at start).  After one the thread keeps
 * watching (watch_after_handoff): every 10 ms while the process uses CPU, backing
 * off to 250 ms while it does not, it binds once the process has used
 * HANDOFF_CPU_NS of CPU since the hand-off (a wrapper waits in waitpid and
 * uses next to none; a program works) and two graces have passed (the
 * program handed off to starts and binds first, if it serves; a race
 * under load that it may lose), or once that program
 * has ended and the process has lived on one more grace with no other
 * hand-off (a wrapper ends with its command; a shell's gap between two
 * commands is shorter).  A bind that fails because the port is taken
 * (another program of the tree holds it) is silent and tried again later.
 * "Ended" is waitid(WNOWAIT|WNOHANG) on the child, which reaps nothing:
 * a child that exited (zombie) or was reaped has ended; a hand-off by
 * posix_spawn, system or popen names no pid, and then every child of the
 * process must have ended.
 *
 * An exec in place keeps
 * the pid and closes the socket (close-on-exec): the new image binds after
 * its grace.  The flag a child sets lives in a MAP_SHARED page of the
 * process that may serve, so a fork child's (or vfork child's) store
 * before its exec reaches it; it holds the owner's pid, so the owner's
 * own exec in place does not count.
 *
 * On success one line on stderr: "cprof: serving on ADDR" (ADDR with the
 * port actually bound, so CPROF_HTTP=127.0.0.1:0 tells which port it got).
 * On failure one line "cprof: not serving: WHY" and the program runs on
 * without the endpoint.
 *
 * One port per tree.  The first process of a tree (the one that finds no
 * CPROF_HTTP_TREE for its CPROF_HTTP) notes itself there for its
 * descendants: "PID:HASH:DEV:INO", the hash of CPROF_HTTP and its
 * stderr's identity.  A port 0 of a loopback address is given a number first, free at that
 * moment (bound and closed), and CPROF_HTTP rewritten with it: every
 * process of the tree then competes for that one port, as for a fixed
 * one, rather than each binding a port of its own (a build's every
 * compiler serving).  A descendant says nothing when the port is taken
 * (another process of the tree has it), and its lines go only to the
 * root's stderr: where its own stderr is another file (a pipe its parent
 * reads, as ninja and make -O read their commands'), a line there would
 * change the program's output, so it says nothing at all.
 */
#include "http_int.h"
#include "rt_base.h"
#include "rt_lifecycle.h"
#include "rt_env.h"
#include "cprof.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Shared with this process's fork children (MAP_SHARED, anonymous). */
struct handoff {
	_Atomic int owner;        /* pid of the process that may serve */
	_Atomic int started;      /* how many other programs it started */
	_Atomic int child;        /* the last one's pid; 0: not known */
};

/* CPU time of its own after a hand-off that makes a process a program
 * rather than a wrapper: ten sampling periods at the default rate. */
#define HANDOFF_CPU_NS (100 * 1000000LL)
static struct handoff *hand;

static cprof_http_options opts;
static char listen_buf[PATH_MAX + 8];
static long long grace_ns = 300 * 1000000LL;

void rt_http_program_started(void)
{
	struct handoff *h = hand;
	if (h) {
		atomic_store(&h->child, 0);
		atomic_fetch_add(&h->started, 1);
	}
}

void rt_http_program_started_by_child(void)
{
	/* a fork or vfork child of the owner (its pid differs) about to exec;
	 * the owner's own exec in place does not count */
	struct handoff *h = hand;
	int self = (int)getpid();
	if (h && atomic_load(&h->owner) != self) {
		atomic_store(&h->child, self);
		atomic_fetch_add(&h->started, 1);
	}
}

/* ---- one port per tree ---------------------------------------------------- */

static bool descendant;             /* a tree's root started this process's tree */
static unsigned long long root_dev, root_ino;   /* the root's stderr; 0 0: none */

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* stderr's identity, or false when it has none */
static bool stderr_id(unsigned long long *dev, unsigned long long *ino)
{
	struct stat st;
	if (fstat(2, &st) != 0)
		return false;
	*dev = (unsigned long long)st.st_dev;
	*ino = (unsigned long long)st.st_ino;
	return true;
}

/* A descendant's line would land in a file the root does not write to
 * (a pipe its parent reads): it says nothing. */
static bool quiet(void)
{
	unsigned long long d, i;
	if (!descendant)
		return false;
	return !(root_dev | root_ino) || !stderr_id(&d, &i) || d != root_dev || i != root_ino;
}

/* HOST:0 with a numeric loopback HOST: a port of that address free now,
 * or 0.  Never a name lookup (NSS would dlopen its modules here), and
 * nothing bound on another address (the endpoint refuses those without a
 * token; an address the user wrote stays as written in its messages). */
static int free_port_of(const char *listen_at)
{
	const char *colon = strrchr(listen_at, ':');
	if (!colon || strcmp(colon + 1, "0") != 0 || colon - listen_at >= 128)
		return 0;
	char host[128];
	memcpy(host, listen_at, (size_t)(colon - listen_at));
	host[colon - listen_at] = 0;
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST },
			*res = NULL;
	if (!*h || getaddrinfo(h, "0", &hints, &res) != 0 || !res)
		return 0;
	bool loop = false;
	if (res->ai_family == AF_INET)
		loop = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr) >> 24 == 127;
	else if (res->ai_family == AF_INET6)
		loop = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr);
	if (!loop) {
		freeaddrinfo(res);
		return 0;
	}
	int port = 0;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return port;
}

/* The tree's role of this process (the file's comment, "One port per
 * tree"); a root gives a loopback port 0 its number, in CPROF_HTTP (the value
 * listen_at points to, rewritten) and in listen_buf.  In the constructor,
 * before the program's threads (setenv). */
static void tree_init(const char *listen_at)
{
	long me = (long)getpid();
	const char *t = getenv("CPROF_HTTP_TREE");
	long rp = 0;
	unsigned long long th = 0;
	if (t && rt_parse_http_tree(t, &rp, &th, &root_dev, &root_ino) == 0 &&
	    th == fnv1a(listen_at)) {
		descendant = rp != me;   /* the root's own exec in place: still the root */
		return;
	}
	root_dev = root_ino = 0;
	char val[160];
	int port = strncmp(listen_at, "unix:", 5) ? free_port_of(listen_at) : 0;
	if (port > 0) {
		const char *colon = strrchr(listen_at, ':');
		snprintf(val, sizeof val, "%.*s:%d", (int)(colon - listen_at), listen_at, port);
		setenv("CPROF_HTTP", val, 1);
		snprintf(listen_buf, sizeof listen_buf, "%s", val);
		listen_at = getenv("CPROF_HTTP");
	}
	unsigned long long d = 0, i = 0;
	(void)stderr_id(&d, &i);
	snprintf(val, sizeof val, "%ld:%llx:%llu:%llu", me, fnv1a(listen_at ? listen_at : ""), d, i);
	setenv("CPROF_HTTP_TREE", val, 1);
}

/* One line on stderr for a start's result rc. */
static void say_served(int rc)
{
	if (quiet())
		return;
	if (rc < 0 && descendant && rt_http_port_taken())
		return;   /* another process of the tree serves */
	if (rc < 0)
		fprintf(stderr, "cprof: not serving: %s\n",
			*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	else
		fprintf(stderr, "cprof: serving on %s%s\n", rt_http_addr(),
			opts.tls_cert ? " (https)" : "");
}

static void serve(void)
{
	say_served(cprof_http_start(&opts));
}

static atomic_int served;

/* The start on a thread of the runtime, not in the constructor: in
 * libcprof.so it loads the endpoint's plugin (libmicrohttpd, GnuTLS), whose
 * constructors must not run inside ours. */
static void *serve_main(void *arg)
{
	(void)arg;
	serve();
	atomic_store(&served, 1);
	return NULL;
}

/* Serve now: on a runtime thread, the program starting once the endpoint
 * serves (or has failed), as when this was synchronous; bounded, since when
 * libcprof.so is itself being dlopen'ed the thread's dlopen waits for ours. */
static void serve_now(void)
{
	if (rt_quiet_thread_start("cprof-http-start", serve_main, NULL) != 0) {
		fprintf(stderr, "cprof: not serving: cannot start a thread\n");
		return;
	}
	for (int i = 0; i < 5000 && !atomic_load(&served); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
}

static long long clock_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The program handed off to has ended (exited or reaped); pid 0: every
 * child of the process has.  Reaps nothing (WNOWAIT), so the program's own
 * waits see what they would have.  The raw system call: the runtime's own
 * wrappers of waits are for the program.  [thread-safe] */
static bool handed_off_ended(int pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	long rc = syscall(SYS_waitid, pid > 0 ? P_PID : P_ALL, pid > 0 ? (id_t)pid : 0, &si,
			  WEXITED | WNOHANG | WNOWAIT, NULL);
	if (rc < 0)
		return errno == ECHILD;   /* reaped (or none left) */
	return pid > 0 && si.si_pid == pid;   /* a zombie */
}

/* Try to serve: true when done (served, or failed for good); false when
 * the port is taken (another program of the tree holds it), silently. */
static bool try_serve(void)
{
	int rc = cprof_http_start(&opts);
	if (rc < 0 && rt_http_port_taken())
		return false;
	say_served(rc);
	return true;
}

/* After a hand-off (the file's comment, "A hand-off is not final"): watch
 * the process, bind when it shows itself a program.  Runs on the waiting
 * thread until it binds, fails, or the process ends. */
static void watch_after_handoff(void)
{
	int seen = atomic_load(&hand->started);
	long long cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), last = cpu0;
	long long ended_at = -1;   /* monotonic ns the last child was seen ended */
	long long handed_at = clock_ns(CLOCK_MONOTONIC);
	long sleep_ns = 10 * 1000000L;
	for (;;) {
		nanosleep(&(struct timespec){ 0, sleep_ns }, NULL);
		long long cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		/* busy: look again soon; idle (a wrapper in waitpid): back off */
		sleep_ns = cpu - last > 1000000LL ? 10 * 1000000L
			 : sleep_ns < 250000000L ? sleep_ns * 2 : sleep_ns;
		last = cpu;
		int now = atomic_load(&hand->started);
		if (now != seen) {   /* another hand-off: its grace again */
			seen = now;
			ended_at = -1;
			handed_at = clock_ns(CLOCK_MONOTONIC);
			continue;
		}
		/* CPU of its own, once the program handed off to had time to
		 * start and its grace (a server it started binds first, and
		 * keeps the port): two graces */
		bool go = cpu - cpu0 >= HANDOFF_CPU_NS &&
			  clock_ns(CLOCK_MONOTONIC) - handed_at >= 2 * grace_ns;
		if (!go && handed_off_ended(atomic_load(&hand->child))) {
			long long t = clock_ns(CLOCK_MONOTONIC);
			if (ended_at < 0)
				ended_at = t;
			go = t - ended_at >= grace_ns;
			if (!go && sleep_ns > 10 * 1000000L)
				sleep_ns = 10 * 1000000L;   /* the grace, in 10 ms steps */
		} else if (!go) {
			ended_at = -1;
		}
		if (go && try_serve())
			return;
		if (go && sleep_ns < 250000000L)
			sleep_ns = 250000000L;   /* the port is taken: later */
	}
}

static void *grace_main(void *arg)
{
	(void)arg;
	rt_self_enter();
	for (long long waited = 0; waited < grace_ns; waited += 10 * 1000000LL) {
		if (atomic_load(&hand->started))
			break;
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&hand->owner) == (int)getpid()) {
		if (!atomic_load(&hand->started))
			serve();
		else
			watch_after_handoff();
	}
	rt_self_leave();
	return NULL;
}

static bool env_int(const char *name, long lo, long hi, int *out)
{
	long v;
	rt_env_rc r = rt_env_long(name, lo, hi, "not serving", &v);
	if (r == RT_ENV_OK)
		*out = (int)v;
	return r != RT_ENV_BAD;
}

static bool env_flag(const char *name, int *out)
{
	bool b = false;
	rt_env_rc r = rt_env_bool(name, "not serving", &b);
	*out = b;
	return r != RT_ENV_BAD;
}

static bool env_file(const char *name, const char **out)
{
	return rt_env_path(name, "not serving", out) != RT_ENV_BAD;
}

static void http_env_init_body(void);

/* The whole constructor is the runtime's own work (its allocations, a
 * CPU sample in it): never the program's. */
__attribute__((constructor))
static void http_env_init(void)
{
	rt_self_enter();
	http_env_init_body();
	rt_self_leave();
}

static void http_env_init_body(void)
{
	const char *listen_at;
	if (rt_env_listen("CPROF_HTTP", "not serving", &listen_at) != RT_ENV_OK)
		return;
	int e = errno;
	/* unix:/path may carry %p, so that every process has its own */
	if (rt_expand_pattern(listen_at, (long)getpid(), program_invocation_short_name, "", 0,
			      listen_buf, sizeof listen_buf) != 0)
		snprintf(listen_buf, sizeof listen_buf, "%s", listen_at);
	const char *token = getenv("CPROF_TOKEN");
	bool ok = true;
	memset(&opts, 0, sizeof opts);
	opts.listen = listen_buf;
	opts.token = token && *token ? strdup(token) : NULL;
	ok &= env_flag("CPROF_HTTP_TRUSTED", &opts.trusted_network);
	ok &= env_flag("CPROF_HTTP_NO_CMDLINE", &opts.no_cmdline);
	ok &= env_file("CPROF_HTTP_TLS_CERT", &opts.tls_cert);
	ok &= env_file("CPROF_HTTP_TLS_KEY", &opts.tls_key);
	ok &= env_int("CPROF_HTTP_MAX_SECONDS", 1, 1000000, &opts.max_seconds);
	ok &= env_int("CPROF_HTTP_MAX_CONNECTIONS", 1, 100000, &opts.max_connections);
	ok &= env_int("CPROF_HTTP_RATE", -1, 1000000, &opts.rate_per_minute);
	if (opts.rate_per_minute == 0 && getenv("CPROF_HTTP_RATE") && *getenv("CPROF_HTTP_RATE")) {
		rt_env_complain("CPROF_HTTP_RATE", getenv("CPROF_HTTP_RATE"),
				"0 would refuse every request (-1: unlimited)", "not serving");
		ok = false;
	}
	ok &= rt_env_ns("CPROF_HTTP_GRACE", 0, 60 * 1000000000LL, "not serving", &grace_ns) !=
	      RT_ENV_BAD;
	if (opts.tls_cert)
		opts.tls_cert = strdup(opts.tls_cert);
	if (opts.tls_key)
		opts.tls_key = strdup(opts.tls_key);
	if (!ok) {
		errno = e;
		return;
	}
	tree_init(listen_at);
	if (grace_ns == 0) {
		serve_now();
		errno = e;
		return;
	}
	void *m = mmap(NULL, sizeof *hand, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		serve_now();
		errno = e;
		return;
	}
	hand = m;
	atomic_store(&hand->owner, (int)getpid());
	if (rt_quiet_thread_start("cprof-http-wait", grace_main, NULL) != 0)
		serve_now();
	errno = e;
}
