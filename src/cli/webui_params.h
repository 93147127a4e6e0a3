/*
 * webui_params.h - the web UI's URL parameters (pprof's f i h s sf ...): a
 * request's query as the server saw it, copied.  Split from webui.c so
 * that the job threads get a copy of the query that outlives nothing of
 * the connection, and so that fuzz/fuzz_webui_params.c drives exactly what
 * the server runs.
 *
 * Ownership and threads: a webui_query owns its strings (webui_query_free);
 * report options read from it (cprof_ropts_from_url with webui_arg) borrow
 * them.  Every function is thread-safe on distinct queries; none is
 * async-signal-safe.
 */
#ifndef CPROF_CLI_WEBUI_PARAMS_H
#define CPROF_CLI_WEBUI_PARAMS_H


#include <stdbool.h>
#include <stddef.h>

/* At most this many parameters are kept (more are ignored: pprof's whole
 * set is about 30), each value at most WEBUI_VALUE_MAX bytes (longer:
 * webui_query_add fails, and the request is refused with 400). */
#define WEBUI_MAX_ARGS 64
#define WEBUI_VALUE_MAX 65536

typedef struct webui_query {
	size_t n;
	char *key[WEBUI_MAX_ARGS];
	char *val[WEBUI_MAX_ARGS];
	bool too_long;      /* a value over WEBUI_VALUE_MAX was seen */
	bool oom;
} webui_query;

/* Append key=value (decoded already; copied).  Past WEBUI_MAX_ARGS it is
 * dropped. */
void webui_query_add(webui_query *q, const char *key, const char *val);
/* Parse a raw query "k=v&k2=v2" (%XX and '+' decoded, as libmicrohttpd
 * does; a bad %-escape leaves the value as given) into q (zeroed first). */
void webui_query_parse(webui_query *q, const char *raw, size_t len);
void webui_query_free(webui_query *q);

/* The first value of key, or NULL when absent or empty (as the server's
 * lookup of a GET argument). */
const char *webui_arg(const webui_query *q, const char *key);

#endif
