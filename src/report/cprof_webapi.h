/*
 * cprof_webapi.h - the web UI's API, with no HTTP in it: a request (a path
 * below the UI's mount point and a query-parameter getter) in, an answer
 * (status, content type, bytes) out.
 *
 * Part of libcprofreport.a.  `cprof -http` (src/cli/webui.c) serves it
 * with libmicrohttpd; the continuous-profiling server can mount the same
 * API under any prefix: the page (web/ui) takes its base URL from where it
 * was loaded.  The split is the runtime's http_parse.c -> http.c ->
 * http_server.c: the transport reads requests and sends answers, this file
 * decides what they are.
 *
 * Paths (below the mount, e.g. "/ui/"): "" and the views (flamegraph,
 * graph, top, source, peek, disasm, sandwich) are the page; static/NAME the
 * page's assets; data/meta the profile's sample types and sources (cheap);
 * data/flame, data/sandwich (the flame graph's JSON), data/top,
 * data/peek, data/source, data/disasm (text reports), data/graph (SVG),
 * download (the filtered profile), export/flame.svg, export/flame.html
 * (jobs: they run reports).  With an execution trace: timeline (its
 * page) and data/timeline* (webapi_timeline.c), and tp=sync|syscall|sched
 * on any view picks that delay profile of the trace.  Every job reads pprof's URL parameters
 * through the option table (cprof_ropts_from_url) over the front end's
 * options.
 *
 * Deadline: a job runs under a per-request deadline (the config's, 30 s
 * by default).  The reports check it in every regexp match (the filters,
 * the one step a request can make superlinear) and give up; the API checks
 * it again after each step.  A job past its deadline is answered 503 with
 * one line of JSON {"error":"..."}.
 *
 * Threads: a cprof_webapi is thread-safe once made: any number of threads
 * may call cprof_webapi_serve at once (each report works on its own copy
 * of the profile; the flame caches are reference-counted under a mutex).
 * The profiles and strings of the config are borrowed, read-only, and must
 * outlive the API.  Nothing here is async-signal-safe.
 */
#ifndef CPROF_WEBAPI_H
#define CPROF_WEBAPI_H

#include "cprof_options.h"
#include "cprof_report.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPROF_WEBAPI_DEADLINE_MS 30000

typedef struct cprof_timeline cprof_timeline;   /* cprof_timeline.h */
#define CPROF_WEBAPI_NO_TIME (-1L)

typedef struct cprof_webapi_config {
	const cprof_profile *p;         /* the profile (with its base applied) */
	const cprof_profile *pnew;      /* with a base: the profile alone, else NULL */
	const cprof_profile *pbase;     /* with a base: the base alone, else NULL */
	bool diff_base;                 /* the base is a -diff_base */
	const cprof_ropts *defaults;    /* the options the URL's override */
	const char *const *sources;     /* their names, for data/meta */
	size_t nsources;
	const char *const *bases;
	size_t nbases;
	long deadline_ms;               /* per job; 0: CPROF_WEBAPI_DEADLINE_MS;
					 * CPROF_WEBAPI_NO_TIME: every job is
					 * already late (tests of the 503 path) */
	const cprof_timeline *timeline; /* an execution trace's index, or NULL:
					 * the page "timeline", data/timeline* */
	int trace_main;                 /* with a timeline: the delay profile the
					 * views show without tp= (0 sync, 1
					 * syscall, 2 sched); the profiles come
					 * later, by cprof_webapi_trace_profile,
					 * and p only gives the sample types */
} cprof_webapi_config;

typedef struct cprof_webapi cprof_webapi;

/* Make the API (copies the config, not what it points to).  Returns 0, or
 * CPROF_ENOMEM. */
int cprof_webapi_new(const cprof_webapi_config *cfg, cprof_webapi **out);
void cprof_webapi_free(cprof_webapi *api);

/* With a timeline: the trace's delay profile of kind (0 sync, 1 syscall,
 * 2 sched, as tp=sync|syscall|sched) is ready; borrowed, it must outlive
 * the API.  Until it is given, the views of that kind answer 503 ("being
 * built").  Thread-safe: a loader thread calls it while requests run. */
void cprof_webapi_trace_profile(cprof_webapi *api, int kind, const cprof_profile *p);

/* What a path is, so that a transport can answer the cheap ones at once
 * and run the jobs where a slow report holds up nothing else. */
enum cprof_webapi_kind {
	CPROF_WEB_CHEAP,        /* a page, an asset, meta, or 404 */
	CPROF_WEB_JOB,          /* a report: may take seconds */
};
enum cprof_webapi_kind cprof_webapi_kind(const char *path);

typedef struct cprof_webresp {
	unsigned status;
	const char *ctype;              /* static */
	const char *disposition;        /* static or NULL: Content-Disposition */
	char *body;                     /* malloc'd when owned, else static */
	size_t len;
	bool owned;
	char *warn;                     /* malloc'd or NULL: the report's warnings,
					 * ';'-separated (X-Cprof-Warnings) */
} cprof_webresp;

/* Answer the request for path (below the mount point, without a leading
 * '/') with the query's parameters (get returns the first value of a key,
 * NULL when absent or empty) into *out (zeroed first; free with
 * cprof_webresp_free).  Always answers: errors are 4xx/5xx answers with a
 * one-line body.  Thread-safe. */
void cprof_webapi_serve(cprof_webapi *api, const char *path, cprof_query_get *get, void *ctx,
			cprof_webresp *out);
void cprof_webresp_free(cprof_webresp *r);

#ifdef __cplusplus
}
#endif
#endif
