/*
 * webapi_timeline.c - the web API's timeline routes (webapi_timeline.h):
 * the page and the JSON of an execution trace's index (cprof_timeline.h).
 *
 *   timeline                  the page (web/timeline.js, web/timeline.css)
 *   data/timeline/meta        lanes, states, time range (cheap)
 *   data/timeline?t0=&t1=&w=&lanes=0,1,...
 *                             the window at w pixels (cheap: O(w log n)
 *                             per lane, whatever the zoom)
 *   data/timeline/event?lane=&idx=
 *                             one slice: its JSON, its wait, its waker
 *   data/timeline/search?q=   the slices whose JSON holds q (a job: it
 *                             reads the whole trace)
 * Bad parameters are 400 with one line naming the parameter; without a
 * trace every route is 404.
 *
 * Threads: every function is thread-safe (the timeline is immutable).
 */
#include "webapi_timeline.h"
#include "cprof_timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANES_MAX 4096
#define WIDTH_MAX 16384
#define SEARCH_MAX 500

static const char page[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>cprof timeline</title>\n"
	"<link rel=\"stylesheet\" href=\"static/timeline.css\">\n</head>\n<body>\n"
	"<!-- cprof's timeline of an execution trace: web/timeline.js draws it from\n"
	"     data/timeline* (src/report/webapi_timeline.c). -->\n"
	"<div id=\"tl-root\"></div>\n<script src=\"static/timeline.js\"></script>\n"
	"</body>\n</html>\n";

static void answer(cprof_webresp *w, unsigned status, const char *ctype, char *body, size_t len,
		   bool owned)
{
	w->status = status;
	w->ctype = ctype;
	w->body = body;
	w->len = len;
	w->owned = owned;
}

static void bad(cprof_webresp *w, unsigned status, const char *msg)
{
	char *b = NULL;
	if (asprintf(&b, "%s\n", msg) < 0) {
		answer(w, 500, "text/plain; charset=utf-8", (char *)"out of memory\n", 14, false);
		return;
	}
	answer(w, status, "text/plain; charset=utf-8", b, strlen(b), true);
}

/* An integer parameter in [lo, hi]; false when absent or bad. */
static bool int_arg(cprof_query_get *get, void *ctx, const char *k, int64_t lo, int64_t hi,
		    int64_t *v)
{
	const char *s = get(ctx, k);
	if (!s)
		return false;
	char *e;
	errno = 0;
	long long x = strtoll(s, &e, 10);
	if (*e || e == s || errno || x < lo || x > hi)
		return false;
	*v = x;
	return true;
}

bool cpr_webapi_timeline_path(const char *path)
{
	return strcmp(path, "timeline") == 0 || strcmp(path, "data/timeline") == 0 ||
		strncmp(path, "data/timeline/", 14) == 0;
}

bool cpr_webapi_timeline_is_job(const char *path)
{
	return strcmp(path, "data/timeline/search") == 0;
}

/* lanes=0,1,2 (or all lanes when absent) into v; the count, or -1. */
static ptrdiff_t lanes_arg(const cprof_timeline *tl, const char *s, uint32_t *v)
{
	size_t nl = cprof_timeline_nlanes(tl);
	if (!s) {
		size_t n = nl < LANES_MAX ? nl : LANES_MAX;
		for (size_t i = 0; i < n; i++)
			v[i] = (uint32_t)i;
		return (ptrdiff_t)n;
	}
	size_t n = 0;
	while (*s) {
		char *e;
		errno = 0;
		unsigned long x = strtoul(s, &e, 10);
		if (e == s || errno || x >= nl || n == LANES_MAX || (*e && *e != ','))
			return -1;
		v[n++] = (uint32_t)x;
		s = *e ? e + 1 : e;
	}
	return (ptrdiff_t)n;
}

void cpr_webapi_timeline(const cprof_timeline *tl, const char *path, cprof_query_get *get,
			 void *ctx, cprof_webresp *w)
{
	if (strcmp(path, "timeline") == 0) {
		answer(w, 200, "text/html; charset=utf-8", (char *)page, sizeof page - 1, false);
		return;
	}
	if (!tl) {
		bad(w, 404, "no execution trace loaded (cprof -http=: trace.json)");
		return;
	}
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m) {
		bad(w, 500, "out of memory");
		return;
	}
	int rc = 0;
	const char *err = NULL;
	if (strcmp(path, "data/timeline/meta") == 0) {
		rc = cprof_timeline_meta_json(tl, m);
	} else if (strcmp(path, "data/timeline") == 0) {
		int64_t t0, t1, px;
		uint32_t *lv = malloc(LANES_MAX * sizeof *lv);
		ptrdiff_t nl = lv ? lanes_arg(tl, get(ctx, "lanes"), lv) : -1;
		if (!lv)
			err = "out of memory";
		else if (!int_arg(get, ctx, "t0", -(INT64_C(1) << 62), INT64_C(1) << 62, &t0) ||
			 !int_arg(get, ctx, "t1", -(INT64_C(1) << 62), INT64_C(1) << 62, &t1) || t1 <= t0)
			err = "t0, t1: want integer ns with t0 < t1";
		else if (!int_arg(get, ctx, "w", 1, WIDTH_MAX, &px))
			err = "w: want a width in pixels from 1 to 16384";
		else if (nl < 0)
			err = "lanes: want lane numbers of the trace, comma-separated (at most 4096)";
		else
			rc = cprof_timeline_window_json(tl, lv, (size_t)nl, t0, t1, (unsigned)px, m);
		free(lv);
	} else if (strcmp(path, "data/timeline/event") == 0) {
		int64_t ln, idx;
		if (!int_arg(get, ctx, "lane", 0, INT32_MAX, &ln) ||
		    !int_arg(get, ctx, "idx", 0, INT64_C(1) << 48, &idx) ||
		    cprof_timeline_event_json(tl, (size_t)ln, (size_t)idx, m) < 0)
			err = "lane, idx: want a slice of the trace";
	} else if (strcmp(path, "data/timeline/search") == 0) {
		const char *q = get(ctx, "q");
		if (!q || strlen(q) > 1024)
			err = "q: want the text to search for (at most 1024 bytes)";
		else
			rc = cprof_timeline_search_json(tl, q, SEARCH_MAX, m);
	} else {
		err = "not found";
	}
	if (fclose(m) != 0 && !err)
		err = "out of memory";
	if (err || rc < 0) {
		free(out);
		bad(w, strcmp(err ? err : "", "not found") == 0 ? 404
			: err && strcmp(err, "out of memory") == 0 ? 500 : 400,
		    err ? err : "bad request");
		return;
	}
	answer(w, 200, "application/json", out, len, true);
}
