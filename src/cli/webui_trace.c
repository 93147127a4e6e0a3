/*
 * webui_trace.c - `cprof -http=: trace.json`: an execution trace served
 * by the web UI (webui_trace.h).  One source that reads as a Chrome trace
 * (cprof_timeline_sniff) is read whole once; from the same bytes come the
 * timeline's index (cprof_timeline.h) and the trace's sync, syscall and
 * sched delay profiles (cprof_trace.h), which the existing views show
 * with tp=KIND.  The profile of -trace_pprof's kind (sync by default) is
 * the UI's main profile.
 *
 * Ownership: the trace owns the bytes, the index and the three profiles
 * until cli_trace_free.  Main thread only; after loading, everything is
 * read-only and shared by the web API's threads.
 */
#include "webui_trace.h"
#include "cprof_trace.h"

#include <stdlib.h>
#include <string.h>

bool cli_trace_open(const cli_opts *o, cli_trace *t)
{
	memset(t, 0, sizeof *t);
	if (o->nsources != 1 || o->nbases || cli_is_url(o->sources[0]) ||
	    strcmp(o->sources[0], "-") == 0)
		return false;
	const char *src = o->sources[0];
	void *data = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	/* cheap first: only a file that starts like a trace is read whole */
	char head[4096];
	FILE *f = fopen(src, "rb");
	if (!f)
		return false;   /* cli_load names the problem */
	size_t n = fread(head, 1, sizeof head, f);
	fclose(f);
	bool like = n > 0 && (cprof_timeline_sniff(head, n) || (n == sizeof head && head[0] == '{'));
	if (!like)
		return false;
	int rc = cprof_read_file(src, cprof_mem_limit(), &data, &len, &err);
	if (rc < 0)
		cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	if (!cprof_timeline_sniff(data, len)) {
		free(data);
		return false;
	}
	t->data = data;
	t->len = len;
	rc = cprof_timeline_build(data, len, &t->tl, &err);
	if (rc < 0)
		cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	cprof_trace_kind want = CPROF_TRACE_SYNC;
	if (o->trace_pprof && cprof_trace_kind_parse(o->trace_pprof, &want) < 0)
		cli_die("-trace_pprof=%s: want sync, syscall or sched", o->trace_pprof);
	for (int k = 0; k < 3; k++) {
		rc = cprof_trace_pprof(data, len, (cprof_trace_kind)k, &t->prof[k], &err);
		if (rc < 0)
			cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	}
	t->main = (int)want;
	return true;
}

void cli_trace_free(cli_trace *t)
{
	for (int k = 0; k < 3; k++)
		if (k != t->main)
			cprof_profile_free(t->prof[k]);
	cprof_timeline_free(t->tl);
	free(t->data);
	memset(t, 0, sizeof *t);
}
