/*
 * webui_trace.h - an execution trace as the web UI's source: its timeline
 * and its delay profiles (webui_trace.c).  Main thread only.
 */
#ifndef CPROF_CLI_WEBUI_TRACE_H
#define CPROF_CLI_WEBUI_TRACE_H

#include "cli.h"
#include "cprof_timeline.h"

typedef struct cli_trace {
	void *data;                 /* the trace's bytes (the index borrows them) */
	size_t len;
	cprof_timeline *tl;
	cprof_profile *prof[3];     /* sync, syscall, sched (cprof_trace_kind) */
	int main;                   /* the kind of -trace_pprof (sync by default):
				     * the UI's profile, owned by the caller
				     * after cli_trace_open */
} cli_trace;

/* When o's only source is a file holding a Chrome trace: read it, index
 * it, build its three delay profiles, and return true; else false (the
 * caller loads the sources as profiles).  A trace that does not parse is
 * one line naming the file and exit status 2 (cli_die). */
bool cli_trace_open(const cli_opts *o, cli_trace *t);
/* Free all but prof[main]. */
void cli_trace_free(cli_trace *t);

#endif
