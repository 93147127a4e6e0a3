/*
 * webui_trace.h - an execution trace as the web UI's source: its timeline
 * and its delay profiles (webui_trace.c).
 */
#ifndef CPROF_CLI_WEBUI_TRACE_H
#define CPROF_CLI_WEBUI_TRACE_H

#include "cli.h"
#include "cprof_timeline.h"
#include "cprof_webapi.h"

#include <pthread.h>

typedef struct cli_trace {
	const char *src;
	void *data;                 /* the trace's bytes (the index borrows them) */
	size_t len;
	cprof_timeline *tl;
	cprof_profile *placeholder; /* the UI's main profile: sample types only;
				     * owned by the caller after cli_trace_open */
	cprof_profile *prof[3];     /* sync, syscall, sched, built by the loader */
	int main;                   /* the kind of -trace_pprof (sync by default) */
	cprof_webapi *api;
	pthread_t thread;
	bool started;
	_Atomic bool done;          /* the loader has finished */
	_Atomic bool go;            /* the loader may start (cli_trace_seen) */
	pthread_mutex_t mu;         /* for waiting on go only */
	pthread_cond_t cv;
} cli_trace;

/* When o's only source is a file holding a Chrome trace: read it, index
 * it, and return true; else false (the caller loads the sources as
 * profiles).  A trace that does not parse is one line naming the file and
 * exit status 2 (cli_die).  Main thread. */
bool cli_trace_open(const cli_opts *o, cli_trace *t);
/* Build the three delay profiles on a loader thread, handing each to api
 * when done (the -trace_pprof kind first).  Main thread. */
void cli_trace_start(cli_trace *t, cprof_webapi *api);
#define CLI_TRACE_HOLD_S 3   /* the loader's longest wait for the first screen */

/* A request for path (the part after /ui/) was answered: the loader,
 * which holds back until the page has its first screen, starts at the
 * timeline's first window ("data/timeline"), at any view but the
 * timeline's own (another view wants the profiles), or after
 * CLI_TRACE_HOLD_S seconds.  Any thread; t NULL or not started: nothing. */
void cli_trace_seen(cli_trace *t, const char *path);
/* Join the loader and free all but the placeholder; when the loader is
 * still running, end the process (exit status 0: the caller is exiting,
 * after the web server stopped).  Main thread. */
void cli_trace_free(cli_trace *t);

#endif
