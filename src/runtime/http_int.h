/*
 * http_int.h - private interfaces of the HTTP endpoint (issue 7).
 *
 *   http_parse.c   pure functions: a request line (method, path, raw query)
 *                  into a route with Go's parameters and error messages, the
 *                  query decoder, the bearer-token check, the symbol request
 *                  parser.  No runtime state, no allocation: the fuzz target
 *                  fuzz/fuzz_http.c links it alone.
 *   http.c         answering a parsed request (profiles, deltas, CPU
 *                  profile, index, cmdline, symbol, metrics) into a response
 *                  buffer; cprof_http_handle for programs with their own server
 *   http_server.c  the libmicrohttpd server: listen socket, threads, limits,
 *                  TLS, cprof_http_start/stop/port
 *   http_env.c     CPROF_HTTP* environment (constructor)
 *   metrics.c      /metrics (Prometheus text)
 *   dump.c         CPROF_DUMP_SIGNAL snapshots and the CPROF_WATCH_* watchdog
 */
#ifndef CPROF_HTTP_INT_H
#define CPROF_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- http_parse.c (pure) ------------------------------------------------------- */

typedef enum rt_http_ep {
	RT_EP_ERROR,     /* answer status with msg */
	RT_EP_REDIRECT,  /* 301 to /debug/pprof/ */
	RT_EP_INDEX,
	RT_EP_CPU,       /* /debug/pprof/profile */
	RT_EP_KIND,      /* a named profile (heap, goroutine, ...) */
	RT_EP_CMDLINE,
	RT_EP_SYMBOL,
	RT_EP_METRICS,
	RT_EP_TRACE,     /* /debug/pprof/trace: the execution trace (seconds) */
} rt_http_ep;

typedef struct rt_http_limits {
	int max_seconds;   /* largest seconds= accepted */
	bool no_cmdline;   /* cmdline answers 404 */
} rt_http_limits;

typedef struct rt_http_route {
	rt_http_ep ep;
	int status;          /* RT_EP_ERROR: the status to answer */
	const char *msg;     /* RT_EP_ERROR: Go's message (static) */
	int kind;            /* RT_EP_KIND: an rt_kind */
	const char *name;    /* the profile's name as requested (static): filename */
	int debug;           /* 0 binary, 1 text, 2 per-thread text */
	long seconds;        /* CPU: duration; kinds: delta window (0: none) */
	int gc;              /* gc= (accepted, no effect: there is no GC) */
	bool runtime;        /* threads: runtime=1 lists the runtime's own threads */
	bool flight;         /* trace: flight=1, the flight recorder's contents */
	bool tswitch;        /* trace: switch=1, with switch records (trace_switch.c) */
	bool expensive;      /* rate-limited, answered off the server thread */
} rt_http_route;

/* Route method + path (raw, percent-encoded) + query (raw, without '?',
 * may be NULL) as Go's net/http/pprof would.  Always fills *out. */
void rt_http_parse(const char *method, const char *path, const char *query,
		   const rt_http_limits *lim, rt_http_route *out);

/* Go's r.FormValue(key) on a raw query: the first value of key, decoded
 * (%XX and '+'), truncated to outsz-1 bytes.  true when key is present. */
bool rt_http_query_value(const char *query, const char *key, char *out, size_t outsz);

/* Go's strconv.ParseInt(s, 10, 64): true when s is a whole decimal number
 * in range. */
bool rt_http_parse_int(const char *s, long long *v);

/* The Authorization header carries "Bearer <token>" (case-insensitive
 * scheme).  Constant time in the length of the configured token. */
bool rt_http_auth_ok(const char *header, const char *token);

/* pprof's symbol request "0xADDR+0xADDR+...": calls fn for each nonzero
 * address (Go's strconv.ParseUint base 0; bad words are skipped).
 * Returns how many were found. */
size_t rt_http_symbol_addrs(const char *s, size_t n, void (*fn)(void *ctx, uint64_t pc),
			    void *ctx);

/* ---- http.c ---------------------------------------------------------------------- */

typedef struct rt_http_resp {
	int status;
	const char *ctype;        /* static */
	char disposition[64];     /* filename of an attachment, or "" */
	char extra_name[32];      /* one extra header (Retry-After, Location...) or "" */
	char extra_value[64];
	bool go_error;            /* an error from serveError: X-Go-Pprof: 1 */
	void *body;               /* malloc'd, owned by the response */
	size_t len;
} rt_http_resp;

/* Answer a routed request.  body/bodylen: a POST body (symbol).  cancel_fd:
 * polled while a seconds= request waits (readable or hung up: stop
 * waiting), -1 for none; client_fd likewise (hang-up only).  The thread is
 * marked as the runtime's own while it works. */
void rt_http_answer(const rt_http_route *r, const char *method, const char *query,
		    const void *body, size_t bodylen, int cancel_fd, int client_fd,
		    const rt_http_limits *lim, rt_http_resp *resp);
void rt_http_resp_free(rt_http_resp *resp);
/* Fill resp with an error as Go's serveError. */
void rt_http_error(rt_http_resp *resp, int status, const char *msg);

/* ---- http_server.c --------------------------------------------------------------- */

/* The address served ("127.0.0.1:6060", "unix:/path"), "" when not serving. */
const char *rt_http_addr(void);
/* The last cprof_http_start failed because its address was in use
 * (EADDRINUSE: another process holds the port).  [thread-safe] */
bool rt_http_port_taken(void);

/* ---- metrics.c ------------------------------------------------------------------ */

struct rt_buf;
/* The Prometheus text exposition of the process and of the profiler. */
int rt_metrics_render(struct rt_buf *out);
/* Counters of the server (http_server.c), shown by /metrics. */
typedef struct rt_http_counters {
	uint64_t requests, rejected_auth, rejected_rate, rejected_busy;
} rt_http_counters;
void rt_http_get_counters(rt_http_counters *c);
/* Seconds since the runtime loaded (CLOCK_MONOTONIC). */
double rt_uptime_seconds(void);

/* ---- dump.c -------------------------------------------------------------------- */

/* Write a snapshot of every available profile to dir (NULL: the
 * configured CPROF_DUMP_DIR or "."), named cprof-PID-TIME-NAME.pb.gz, with
 * reason in a log line.  Returns the number written, or a negative code. */
int rt_dump_snapshots(const char *dir, const char *reason);

#endif
