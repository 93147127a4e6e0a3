/*
 * http.c - answering the HTTP endpoint's requests: Go's net/http/pprof
 * semantics on top of the runtime's profiles, and cprof_http_handle for
 * programs that mount /debug/pprof/ on their own server.
 *
 * A request routed by http_parse.c is answered into an rt_http_resp (status,
 * content type, attachment name, malloc'd body): named profiles through the
 * kind table of profiles.c (rt_profile_render; with seconds= the delta of
 * two rt_profile_build snapshots, the first scaled by -1 and merged with the
 * second, time and duration set as Go does); the CPU profile by running
 * cprof_cpu_start_fd on a memfd for the requested seconds and reading the
 * profile back (a profile already running gives Go's 500 "Could not enable
 * CPU profiling: cpu profiling already in use"); the index page with each
 * profile's count; cmdline; pprof's symbol protocol; /metrics.
 *
 * Threads: rt_http_answer runs on the server's job threads or the caller's
 * thread (cprof_http_handle); it marks itself as the runtime's own work
 * (rt_self_enter) so nothing it allocates is the program's.  Waiting for
 * seconds= polls cancel_fd (the server stopping) and the client's socket
 * (hang-up: the client left), so a stop or a gone client ends the wait;
 * a CPU profile cut short is returned as collected, as Go does.
 */
#include "http_int.h"
#include "trace_int.h"
#include "rt_base.h"
#include "rt_profile.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_BIN "application/octet-stream"
#define CT_HTML "text/html; charset=utf-8"

static void take_buf(rt_http_resp *resp, rt_buf *b)
{
	resp->body = b->p;
	resp->len = b->n;
	b->p = NULL;
	b->n = b->cap = 0;
}

void rt_http_resp_free(rt_http_resp *resp)
{
	rt_self_enter();
	free(resp->body);
	rt_self_leave();
	resp->body = NULL;
	resp->len = 0;
}

void rt_http_error(rt_http_resp *resp, int status, const char *msg)
{
	rt_http_resp_free(resp);
	resp->status = status;
	resp->ctype = CT_TEXT;
	resp->disposition[0] = 0;
	resp->go_error = true;
	rt_buf b = { 0 };
	rt_self_enter();
	rt_buf_printf(&b, "%s\n", msg);
	rt_self_leave();
	take_buf(resp, &b);
}

/* Wait up to sec seconds; false when cut short (cancel_fd readable, the
 * client hung up). */
static bool wait_seconds(long sec, int cancel_fd, int client_fd)
{
	int64_t end = rt_clock_ns(CLOCK_MONOTONIC) + (int64_t)sec * 1000000000;
	for (;;) {
		int64_t left = end - rt_clock_ns(CLOCK_MONOTONIC);
		if (left <= 0)
			return true;
		struct pollfd pf[2];
		nfds_t n = 0;
		if (cancel_fd >= 0)
			pf[n++] = (struct pollfd){ .fd = cancel_fd, .events = POLLIN };
		if (client_fd >= 0)
			pf[n++] = (struct pollfd){ .fd = client_fd, .events = POLLRDHUP };
		int ms = left / 1000000 > 1000 ? 1000 : (int)(left / 1000000) + 1;
		int rc = poll(pf, n, ms);
		if (rc < 0 && errno != EINTR)
			return false;
		for (nfds_t i = 0; rc > 0 && i < n; i++) {
			if (pf[i].fd == cancel_fd && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				return false;
			if (pf[i].fd == client_fd && (pf[i].revents & (POLLRDHUP | POLLHUP | POLLERR)))
				return false;
		}
	}
}

static void fail_profile(rt_http_resp *resp, const char *what, int rc)
{
	char msg[300];
	const char *e = cprof_last_error();
	snprintf(msg, sizeof msg, "Could not collect the %s profile: %s", what,
		 e && *e ? e : cprof_error_string(rc));
	rt_http_error(resp, 500, msg);
}

static void attach(rt_http_resp *resp, const char *name, const char *suffix)
{
	resp->status = 200;
	resp->ctype = CT_BIN;
	snprintf(resp->disposition, sizeof resp->disposition, "%s%s", name, suffix);
}

/* ---- named profiles ---------------------------------------------------------------- */

static void answer_kind(const rt_http_route *r, int cancel_fd, int client_fd, rt_http_resp *resp)
{
	rt_buf b = { 0 };
	if (r->seconds <= 0) {
		int rc = rt_profile_render((rt_kind)r->kind,
					   r->debug | (r->runtime ? RT_DEBUG_RUNTIME : 0), &b);
		if (rc == 0 && b.oom)
			rc = CPROF_ERR_NOMEM;
		if (rc < 0) {
			rt_buf_free(&b);
			fail_profile(resp, r->name, rc);
			return;
		}
		if (r->debug) {
			resp->status = 200;
			resp->ctype = CT_TEXT;
		} else {
			attach(resp, r->name, "");
		}
		take_buf(resp, &b);
		return;
	}
	/* Go's serveDeltaProfile */
	cprof_profile *p0 = NULL, *p1 = NULL, *d = NULL;
	int64_t t0 = rt_clock_ns(CLOCK_REALTIME);
	if (rt_profile_build((rt_kind)r->kind, &p0) < 0) {
		rt_http_error(resp, 500, "failed to collect profile");
		return;
	}
	if (!wait_seconds(r->seconds, cancel_fd, client_fd)) {
		cprof_profile_free(p0);
		rt_http_error(resp, 500, "context canceled");
		return;
	}
	int64_t t1 = rt_clock_ns(CLOCK_REALTIME);
	if (rt_profile_build((rt_kind)r->kind, &p1) < 0) {
		cprof_profile_free(p0);
		rt_http_error(resp, 500, "failed to collect profile");
		return;
	}
	p0->time_nanos = t0;
	p1->time_nanos = t1;
	cprof_scale(p0, -1);
	cprof_profile *both[2] = { p0, p1 };
	cprof_error e;
	int rc = cprof_merge(both, 2, &d, &e);
	cprof_profile_free(p0);
	cprof_profile_free(p1);
	if (rc < 0) {
		rt_http_error(resp, 500, "failed to compute delta");
		return;
	}
	d->time_nanos = t1;
	d->duration_nanos = t1 - t0;
	rc = rt_pb_encode(d, &b);
	cprof_profile_free(d);
	if (rc < 0 || b.oom) {
		rt_buf_free(&b);
		rt_http_error(resp, 500, "failed to compute delta");
		return;
	}
	attach(resp, r->name, "-delta");
	take_buf(resp, &b);
}

/* ---- the CPU profile ------------------------------------------------------------------ */

/* What a memfd holds, into b (closes fd): 0, or -1 on a read error or
 * when b ran out of memory. */
static int slurp_memfd(int fd, rt_buf *b)
{
	char chunk[16384];
	off_t off = 0;
	ssize_t n;
	while ((n = pread(fd, chunk, sizeof chunk, off)) > 0 || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		rt_buf_add(b, chunk, (size_t)n);
		off += n;
	}
	close(fd);
	return n < 0 || b->oom ? -1 : 0;
}

static void answer_cpu(const rt_http_route *r, int cancel_fd, int client_fd, rt_http_resp *resp)
{
	int fd = memfd_create("cprof-http-cpu", MFD_CLOEXEC);
	if (fd < 0) {
		rt_http_error(resp, 500, "Could not enable CPU profiling: cannot create a buffer");
		return;
	}
	int rc = cprof_cpu_start_fd(fd);
	if (rc < 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "Could not enable CPU profiling: %s",
			 rc == CPROF_ERR_BUSY ? "cpu profiling already in use"
			 : *cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
		close(fd);
		rt_http_error(resp, 500, msg);
		return;
	}
	wait_seconds(r->seconds, cancel_fd, client_fd);   /* cut short: what was collected */
	rc = cprof_cpu_stop();
	if (rc < 0) {
		close(fd);
		fail_profile(resp, "CPU", rc);
		return;
	}
	rt_buf b = { 0 };
	if (slurp_memfd(fd, &b) < 0) {
		rt_buf_free(&b);
		rt_http_error(resp, 500, "Could not read the CPU profile");
		return;
	}
	attach(resp, "profile", "");
	take_buf(resp, &b);
}

/* The execution trace over the window, as Chrome Trace Event JSON. */
static void answer_trace(const rt_http_route *r, int cancel_fd, int client_fd, rt_http_resp *resp)
{
	if (r->flight && !rt_trace_flight_running()) {
		rt_http_error(resp, 404, "no flight recorder in this process");
		return;
	}
	int fd = memfd_create("cprof-http-trace", MFD_CLOEXEC);
	if (fd < 0) {
		rt_http_error(resp, 500, "Could not enable tracing: cannot create a buffer");
		return;
	}
	int rc = r->flight ? 0 : rt_trace_start_fd_switch(fd, r->tswitch);
	if (rc < 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "Could not enable tracing: %s",
			 *cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
		close(fd);
		rt_http_error(resp, 500, msg);
		return;
	}
	if (r->flight) {
		rc = cprof_trace_flight_write(fd);
	} else {
		wait_seconds(r->seconds, cancel_fd, client_fd);   /* cut short: what was recorded */
		rc = cprof_trace_stop();
	}
	rt_buf b = { 0 };
	if (rc < 0)
		close(fd);
	if (rc < 0 || slurp_memfd(fd, &b) < 0) {
		rt_buf_free(&b);
		fail_profile(resp, "trace", rc < 0 ? rc : CPROF_ERR_NOMEM);
		return;
	}
	resp->status = 200;
	resp->ctype = "application/json";
	snprintf(resp->disposition, sizeof resp->disposition, "trace.json");
	take_buf(resp, &b);
}

/* ---- index, cmdline, symbol ------------------------------------------------------------ */

static const struct {
	const char *name;
	int kind;           /* -1: not a profile of the table */
	const char *desc;
} index_rows[] = {
	{ "allocs", RT_KIND_ALLOCS, "A sampling of all past memory allocations" },
	{ "block", RT_KIND_BLOCK, "Stack traces that led to blocking on synchronization primitives" },
	{ "cmdline", -1, "The command line invocation of the current program" },
	{ "deadlock", RT_KIND_DEADLOCK, "Threads waiting on each other in a cycle of locks, with the stacks that took each lock" },
	{ "goroutine", RT_KIND_THREADS, "Stack traces of all current threads (alias: threads)" },
	{ "heap", RT_KIND_HEAP, "A sampling of memory allocations of live objects. The gc GET parameter is accepted (there is no GC to run)." },
	{ "mutex", RT_KIND_MUTEX, "Stack traces of holders of contended mutexes" },
	{ "profile", -1, "CPU profile. You can specify the duration in the seconds GET parameter. After you get the profile file, use the go tool pprof command to investigate the profile." },
	{ "threadcreate", RT_KIND_THREADCREATE, "Stack traces that led to the creation of new OS threads" },
	{ "trace", -1, "An execution trace (Chrome Trace Event JSON: Perfetto, chrome://tracing). You can specify the duration in the seconds GET parameter." },
};

static void html_escape(rt_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': rt_buf_add(b, "&lt;", 4); break;
		case '>': rt_buf_add(b, "&gt;", 4); break;
		case '&': rt_buf_add(b, "&amp;", 5); break;
		case '\'': rt_buf_add(b, "&#39;", 5); break;
		case '"': rt_buf_add(b, "&#34;", 5); break;
		default: rt_buf_add(b, s, 1);
		}
	}
}

/* A profile's Count() as Go's index shows it: threads for goroutine and
 * threadcreate (the sum of counts), records for the others; -1 when the
 * profile is not available. */
static long long kind_count(int kind)
{
	cprof_profile *p = NULL;
	if (rt_profile_build((rt_kind)kind, &p) < 0 || !p)
		return -1;
	long long n = (long long)p->samples.n;
	if ((kind == RT_KIND_THREADS || kind == RT_KIND_THREADCREATE) && p->vtypes.n) {
		n = 0;
		for (size_t i = 0; i < p->samples.n; i++)
			n += cprof_sample_values(p, i)[0];
	}
	cprof_profile_free(p);
	return n;
}

static void answer_index(rt_http_resp *resp)
{
	rt_buf b = { 0 };
	rt_buf_printf(&b, "<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n"
		      ".profile-name{\n\tdisplay:inline-block;\n\twidth:6rem;\n}\n</style>\n"
		      "</head>\n<body>\n/debug/pprof/<br>\n<br>\nTypes of profiles available:\n"
		      "<table>\n<thead><td>Count</td><td>Profile</td></thead>\n");
	const size_t n = sizeof index_rows / sizeof index_rows[0];
	for (size_t i = 0; i < n; i++) {
		long long c = index_rows[i].kind >= 0 ? kind_count(index_rows[i].kind) : 0;
		if (c < 0)
			rt_buf_printf(&b, "<tr><td>-</td><td><a href='%s?debug=1'>%s</a> (not available)</td></tr>\n",
				      index_rows[i].name, index_rows[i].name);
		else
			rt_buf_printf(&b, "<tr><td>%lld</td><td><a href='%s?debug=1'>%s</a></td></tr>\n",
				      c, index_rows[i].name, index_rows[i].name);
	}
	rt_buf_printf(&b, "</table>\n<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n"
		      "<br>\n<p>\nProfile Descriptions:\n<ul>\n");
	for (size_t i = 0; i < n; i++) {
		rt_buf_printf(&b, "<li><div class=profile-name>%s: </div> ", index_rows[i].name);
		html_escape(&b, index_rows[i].desc);
		rt_buf_printf(&b, "</li>\n");
	}
	rt_buf_printf(&b, "</ul>\n</p>\n<p>Process metrics: <a href=\"/metrics\">/metrics</a></p>\n"
		      "</body>\n</html>");
	if (b.oom) {
		rt_buf_free(&b);
		rt_http_error(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->ctype = CT_HTML;
	take_buf(resp, &b);
}

static void answer_cmdline(rt_http_resp *resp)
{
	rt_buf b = { 0 };
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char chunk[4096];
		ssize_t n;
		while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				rt_buf_add(&b, chunk, (size_t)n);
		close(fd);
	}
	/* os.Args joined by NUL: no trailing NUL */
	if (b.n && b.p[b.n - 1] == 0)
		b.n--;
	resp->status = 200;
	resp->ctype = CT_TEXT;
	take_buf(resp, &b);
}

struct sym_ctx {
	rt_pb *pb;
	cprof_profile *p;
	size_t n, cap;
	struct { uint64_t pc; int64_t loc; } *v;
};

static void sym_add(void *vctx, uint64_t pc)
{
	struct sym_ctx *c = vctx;
	if (c->n >= 65536)   /* bounded: the request size is bounded too */
		return;
	if (cprof_reserve((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v) < 0)
		return;
	/* rt_pb_loc takes a call site (return address - 1 convention is the
	 * caller's); the symbol protocol passes addresses as they are */
	c->v[c->n].pc = pc;
	c->v[c->n].loc = rt_pb_loc(c->pb, (uintptr_t)pc);
	c->n++;
}

static void answer_symbol(const char *method, const char *query, const void *body,
			  size_t bodylen, rt_http_resp *resp)
{
	rt_buf b = { 0 };
	rt_buf_printf(&b, "num_symbols: 1\n");
	const char *s = query ? query : "";
	size_t n = strlen(s);
	if (method && strcmp(method, "POST") == 0) {
		s = body ? body : "";
		n = body ? bodylen : 0;
	}
	struct sym_ctx c = { 0 };
	c.p = cprof_profile_new();
	c.pb = c.p ? rt_pb_new(c.p) : NULL;
	if (c.pb) {
		rt_http_symbol_addrs(s, n, sym_add, &c);
		if (c.n && rt_pb_finish(c.pb) == 0) {
			for (size_t i = 0; i < c.n; i++) {
				if (c.v[i].loc < 0)
					continue;
				const cprof_location *l = &c.p->locations.v[c.v[i].loc];
				if (!l->nline)
					continue;
				/* the function the address is in (the outermost of its
				 * inline frames), as FuncForPC names a symbol */
				const cprof_line *ln = &c.p->lines.v[l->line_off + l->nline - 1];
				const char *fn = cprof_s(c.p, c.p->functions.v[ln->function].name);
				if (fn && *fn)
					rt_buf_printf(&b, "%#llx %s\n", (unsigned long long)c.v[i].pc, fn);
			}
		}
		rt_pb_free(c.pb);
	}
	free(c.v);
	cprof_profile_free(c.p);
	resp->status = 200;
	resp->ctype = CT_TEXT;
	take_buf(resp, &b);
}

static void answer_metrics(rt_http_resp *resp)
{
	rt_buf b = { 0 };
	if (rt_metrics_render(&b) < 0 || b.oom) {
		rt_buf_free(&b);
		rt_http_error(resp, 500, "cannot render the metrics");
		return;
	}
	resp->status = 200;
	resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
	take_buf(resp, &b);
}

void rt_http_answer(const rt_http_route *r, const char *method, const char *query,
		    const void *body, size_t bodylen, int cancel_fd, int client_fd,
		    const rt_http_limits *lim, rt_http_resp *resp)
{
	rt_self_enter();
	resp->status = 500;
	resp->ctype = CT_TEXT;
	resp->disposition[0] = resp->extra_name[0] = resp->extra_value[0] = 0;
	resp->go_error = false;
	resp->body = NULL;
	resp->len = 0;
	switch (r->ep) {
	case RT_EP_ERROR:
		rt_http_error(resp, r->status, r->msg);
		break;
	case RT_EP_REDIRECT:
		resp->status = 301;
		snprintf(resp->extra_name, sizeof resp->extra_name, "Location");
		snprintf(resp->extra_value, sizeof resp->extra_value, "/debug/pprof/");
		{
			rt_buf b = { 0 };
			rt_buf_printf(&b, "<a href=\"/debug/pprof/\">Moved Permanently</a>.\n\n");
			resp->ctype = CT_HTML;
			take_buf(resp, &b);
		}
		break;
	case RT_EP_INDEX: answer_index(resp); break;
	case RT_EP_CPU: answer_cpu(r, cancel_fd, client_fd, resp); break;
	case RT_EP_KIND: answer_kind(r, cancel_fd, client_fd, resp); break;
	case RT_EP_CMDLINE: answer_cmdline(resp); break;
	case RT_EP_SYMBOL: answer_symbol(method, query, body, bodylen, resp); break;
	case RT_EP_METRICS: answer_metrics(resp); break;
	case RT_EP_TRACE: answer_trace(r, cancel_fd, client_fd, resp); break;
	}
	(void)lim;
	rt_self_leave();
}

/* ---- for programs with their own server -------------------------------------------------- */

int cprof_http_handle(const char *path, const char *query, int *status,
		      const char **content_type, cprof_write_fn write, void *ctx)
{
	if (!path || !status || !content_type || !write) {
		rt_set_error("cprof_http_handle: NULL argument");
		return CPROF_ERR_INVAL;
	}
	rt_http_limits lim = { .max_seconds = 300 };
	rt_http_route r;
	rt_http_parse("GET", path, query, &lim, &r);
	rt_http_resp resp;
	rt_http_answer(&r, "GET", query, NULL, 0, -1, -1, &lim, &resp);
	*status = resp.status;
	*content_type = resp.ctype;
	int rc = 0;
	if (resp.len && write(ctx, resp.body, resp.len) != 0) {
		rt_set_error("cprof_http_handle: the writer failed");
		rc = CPROF_ERR_IO;
	}
	rt_http_resp_free(&resp);
	return rc;
}
