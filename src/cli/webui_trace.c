/*
 * webui_trace.c - `cprof -http=: trace.json`: an execution trace served
 * by the web UI (webui_trace.h).  One source that reads as a Chrome trace
 * (cprof_timeline_sniff, on its first 68 KiB) is read whole once; from
 * the same bytes come the timeline's index (cprof_timeline.h), built
 * while the bytes are read (cprof_timeline_load: on two CPUs the read and
 * the index overlap) and before the UI serves, and the trace's sync,
 * syscall and sched delay profiles (cprof_trace.h), which the existing
 * views show with tp=KIND.
 *
 * Design: the profiles cost several times the index (each is a full parse
 * keeping every wait's stack), so a loader thread builds them after the
 * UI starts serving, the kind of -trace_pprof (sync by default) first,
 * and hands each to the web API when done (cprof_webapi_trace_profile);
 * it runs at SCHED_IDLE, so that a window request (on a job thread of its
 * own) takes the CPU from it at once rather than sharing it;
 * until then those views answer 503 and the timeline works.  The UI's
 * main profile is a placeholder with the profiles' sample types.  It
 * starts only once the timeline's first window was answered (or another
 * view was asked for, or CLI_TRACE_HOLD_S passed: cli_trace_seen):
 * SCHED_IDLE gives the CPU away, not the caches and memory bandwidth its
 * parse of the whole trace takes: the first window's query, a walk of
 * every lane's slices, took 20-94 ms of a 10M-event trace with the
 * loader parsing, ~20 ms without.
 *
 * The bytes are read, not mapped: a map would be cheaper to load (about
 * 0.9 s of CPU on a 1.3 GB trace) but a file truncated or rewritten by
 * another process while it is served (a trace re-recorded to the same
 * name) would kill the command with SIGBUS on a click into the lost part.
 *
 * Ownership and threads: the trace owns the bytes, the index, the
 * placeholder and the profiles.  cli_trace_open and cli_trace_free run on
 * the main thread; between cli_trace_start and cli_trace_free the loader
 * thread writes only prof[] (each slot once, before handing it over) and
 * reads the bytes; cli_trace_free joins it when it is done, and when it
 * is not, ends the process at once (it is exiting: waiting for a parse of
 * a large trace would hold up the exit by seconds, and freeing under the
 * loader would be a use after free).
 */
#include "webui_trace.h"
#include "cprof_trace.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What is read of a file to tell whether it is a trace: the 64 KiB
 * cprof_timeline_sniff looks at, after up to 4 KiB of white space. */
#define HEAD_MAX (68u << 10)

/* Free the bytes; once (cli_trace_free after a failed open). */
static void release(cli_trace *t)
{
	free(t->data);
	t->data = NULL;
}

bool cli_trace_open(const cli_opts *o, cli_trace *t)
{
	memset(t, 0, sizeof *t);
	if (o->nsources != 1 || o->nbases || cli_is_url(o->sources[0]) ||
	    strcmp(o->sources[0], "-") == 0)
		return false;
	const char *src = o->sources[0];
	/* cheap first: only a file that starts like a trace is read whole */
	char *head = malloc(HEAD_MAX);
	FILE *f = head ? fopen(src, "rb") : NULL;
	if (!f) {
		free(head);
		return false;   /* cli_load names the problem */
	}
	size_t n = fread(head, 1, HEAD_MAX, f), ws = 0;
	fclose(f);
	while (ws < n && strchr(" \t\r\n", head[ws]))
		ws++;
	/* the head holds what sniffing the whole file looks at */
	bool exact = n < HEAD_MAX || ws + 65536 <= n;
	bool maybe = n && (cprof_timeline_sniff(head, n) || (!exact && ws < n && head[ws] == '{'));
	free(head);
	if (!maybe)
		return false;
	void *data = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	int rc;
	t->src = src;
	if (exact) {
		/* read and indexed at once */
		rc = cprof_timeline_load(src, cprof_mem_limit(), &data, &len, &t->tl, &err);
		if (rc < 0)
			cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
		t->data = data;
		t->len = len;
	} else {
		rc = cprof_read_file(src, cprof_mem_limit(), &data, &len, &err);
		if (rc < 0)
			cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
		t->data = data;
		t->len = len;
		if (!cprof_timeline_sniff(data, len)) {
			release(t);
			return false;
		}
		rc = cprof_timeline_build(data, len, &t->tl, &err);
		if (rc < 0)
			cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	}
	cprof_trace_kind want = CPROF_TRACE_SYNC;
	if (o->trace_pprof && (cprof_trace_kind_parse(o->trace_pprof, &want) < 0 ||
			       want == CPROF_TRACE_CPU))
		cli_die("-trace_pprof=%s: the web UI's trace views are sync, syscall or sched "
			"(cpu: with a report flag, e.g. -folded)", o->trace_pprof);
	t->main = (int)want;
	/* the placeholder: the delay profiles' sample types, no sample */
	rc = cprof_trace_pprof("[]", 2, want, &t->placeholder, &err);
	if (rc < 0)
		cli_die("out of memory");
	return true;
}

/* Until go, at most CLI_TRACE_HOLD_S seconds. */
static void hold(cli_trace *t)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += CLI_TRACE_HOLD_S;
	pthread_mutex_lock(&t->mu);
	while (!atomic_load(&t->go))
		if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&t->mu);
}

void cli_trace_seen(cli_trace *t, const char *path)
{
	if (!t || !t->started || atomic_load_explicit(&t->go, memory_order_relaxed))
		return;
	bool page = strcmp(path, "timeline") == 0 || strncmp(path, "static/", 7) == 0 ||
		strncmp(path, "data/timeline", 13) == 0;
	if (page && strcmp(path, "data/timeline") != 0)
		return;   /* the timeline's page on its way to its first window */
	pthread_mutex_lock(&t->mu);
	atomic_store(&t->go, true);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static void *loader(void *arg)
{
	cli_trace *t = arg;
	hold(t);
	for (int i = 0; i < 3; i++) {
		int k = (t->main + i) % 3;
		cprof_error err = { 0 };
		int rc = cprof_trace_pprof(t->data, t->len, (cprof_trace_kind)k, &t->prof[k], &err);
		if (rc < 0) {
			/* the index read the same bytes: only memory can fail here */
			fprintf(stderr, "cprof: %s: %s\n", t->src, err.code ? err.msg : cprof_strerror(rc));
			continue;
		}
		cprof_webapi_trace_profile(t->api, k, t->prof[k]);
	}
	atomic_store(&t->done, true);
	return NULL;
}

void cli_trace_start(cli_trace *t, cprof_webapi *api)
{
	t->api = api;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&t->mu, NULL);
	/* created with every signal blocked: the UI's main thread waits
	 * for SIGTERM/SIGINT/SIGHUP, and a loader that inherited them
	 * unblocked could take the signal and be killed by it */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int prc = pthread_create(&t->thread, NULL, loader, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prc == 0) {
		t->started = true;
		/* below every other thread of the process: the profiles are
		 * built with the CPU the window requests leave over, so a pan
		 * is never queued behind a parse (best effort: refused, it runs
		 * as it is) */
		struct sched_param sp = { 0 };
		(void)pthread_setschedparam(t->thread, SCHED_IDLE, &sp);
		return;
	}
	atomic_store(&t->go, true);
	loader(t);   /* no thread: build them now */
}

void cli_trace_free(cli_trace *t)
{
	/* at exit with the loader still parsing: exit now rather than wait
	 * for it (seconds on a large trace); freeing the bytes or the API it
	 * hands profiles to under it would be a use after free */
	if (t->started && !atomic_load(&t->done)) {
		fflush(NULL);
		_exit(0);
	}
	if (t->started)
		pthread_join(t->thread, NULL);
	if (t->api) {   /* started: the condition variable was made */
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
	}
	for (int k = 0; k < 3; k++)
		cprof_profile_free(t->prof[k]);
	cprof_timeline_free(t->tl);
	release(t);
	memset(t, 0, sizeof *t);
}
