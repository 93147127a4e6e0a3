/*
 * cprof_timeline.h - the web UI's timeline of an execution trace: an index
 * built once from the runtime's Chrome Trace Event JSON
 * (src/runtime/trace_json.c), queried at any zoom in time proportional to
 * what the window shows.
 *
 * Part of libcprofreport.a.  The web API (cprof_webapi.h) serves it under
 * data/timeline*; the page is web/timeline.js.
 *
 * Model: one lane per thread (pid, tid), named by the trace's thread_name
 * metadata; each lane is the thread's "X" slices of the categories
 * running, runnable and blocked (reason from args.reason), sorted by start
 * and clipped so that they never overlap; the "s"/"f" flow pairs (waker
 * -> the wait it ended) kept per waiter lane.  A slice's state is
 * CPROF_TL_RUNNING, CPROF_TL_RUNNABLE or CPROF_TL_BLOCKED + the index of
 * its reason in the reason table.  Other events (instants, counters,
 * other producers' slices) are counted, not indexed.
 *
 * Threads: a cprof_timeline is immutable once built: any number of threads
 * may query it at once.  It borrows the trace's bytes (the detail and
 * search answers quote them), which must outlive it.  Not
 * async-signal-safe.
 */
#ifndef CPROF_TIMELINE_H
#define CPROF_TIMELINE_H

#include "cprof_core.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	CPROF_TL_RUNNING = 0,
	CPROF_TL_RUNNABLE = 1,
	CPROF_TL_BLOCKED = 2,          /* + the reason's index */
	CPROF_TL_MIXED_BLOCKED = 0xffff, /* an aggregate mostly blocked */
};
#define CPROF_TL_REASONS_MAX 1000
#define CPROF_TL_NO_IDX UINT32_MAX

typedef struct cprof_timeline cprof_timeline;

/* One item of a query's answer: a slice (n 1, idx its index in the lane)
 * or the aggregate of the n slices that fit in one pixel (idx
 * CPROF_TL_NO_IDX, state the state holding most of their time; a mostly
 * blocked aggregate has the state of its main reason, estimated from at
 * most 64 of its slices, or CPROF_TL_MIXED_BLOCKED).  Times in ns. */
typedef struct cprof_tl_item {
	int64_t t0, t1;
	uint32_t state;
	uint32_t n;
	uint32_t idx;
} cprof_tl_item;

/* Whether data looks like a Chrome trace (JSON starting with '{' holding
 * "traceEvents" within its first 64 KiB, or '['): cheap, for choosing a
 * reader.  Pure. */
bool cprof_timeline_sniff(const char *data, size_t len);

/* Index the trace data[0..len) (borrowed: it must outlive the timeline).
 * Events in the runtime's own key order are read without the scanner,
 * their args skipped (checked when quoted); anything else by it.  A
 * large trace's second half is read on a second thread at the same time
 * (joined before returning).
 * Memory: 24 bytes per slice, 24 per flow, plus per lane.  0,
 * CPROF_EFORMAT (not valid JSON, no traceEvents, a time out of range)
 * or CPROF_ENOMEM, with err. */
int cprof_timeline_build(const char *data, size_t len, cprof_timeline **out, cprof_error *err);
/* The same with every event read by the validating scanner, none by the
 * fast path for the runtime's own layout (for tests: both must agree). */
int cprof_timeline_build_general(const char *data, size_t len, cprof_timeline **out,
				 cprof_error *err);
/* The default build, with the second half of a trace of at least
 * split_min bytes read on a second thread (the default: 8 MiB, when the
 * machine has two CPUs or more); the same index as one pass. */
int cprof_timeline_build_split(const char *data, size_t len, size_t split_min,
			       cprof_timeline **out, cprof_error *err);
/* Read the trace file path (at most max bytes) and index it, both at
 * once: a large regular file is read by a thread of its own in chunks
 * while this one indexes what is in (on two CPUs or more); any other file
 * is read whole, then indexed.  The same index as cprof_timeline_build of
 * the same bytes.  *data (malloc'd; free it after the timeline) and *len
 * are the bytes the timeline borrows.  0, or the errors of
 * cprof_read_file and cprof_timeline_build, with err (nothing to free).
 * Thread-safe on distinct calls. */
int cprof_timeline_load(const char *path, size_t max, void **data, size_t *len,
			cprof_timeline **out, cprof_error *err);
/* For tests: the same from memory, mem[0..memlen) read in chunks as a
 * file whose size was expect (a different memlen is a file that changed
 * size while read: read again whole).  Each option 0 is the default. */
typedef struct cprof_tl_load_opts {
	size_t chunk;                   /* bytes per read (1 MiB) */
	size_t margin;                  /* bytes ahead of an event waited for (64 KiB) */
	size_t split_min;               /* no second half when less is left (4 MiB) */
	bool lazy;                      /* read only the bytes the index waits for */
} cprof_tl_load_opts;
int cprof_timeline_load_mem(const char *mem, size_t memlen, size_t expect,
			    const cprof_tl_load_opts *o, void **data, cprof_timeline **out,
			    cprof_error *err);
/* Whether two timelines of the same bytes hold the same index. */
bool cprof_timeline_same(const cprof_timeline *a, const cprof_timeline *b);
/* How many events the fast path read (the rest: the scanner). */
size_t cprof_timeline_fast_events(const cprof_timeline *tl);
void cprof_timeline_free(cprof_timeline *tl);

size_t cprof_timeline_nlanes(const cprof_timeline *tl);
/* The first slice's start and the last one's end, in ns. */
void cprof_timeline_range(const cprof_timeline *tl, int64_t *t0, int64_t *t1);
/* The slices of lane (0 when out of range). */
size_t cprof_timeline_nslices(const cprof_timeline *tl, size_t lane);

/* The items of lane in the window [t0, t1) at width pixels, in time
 * order, through emit (which returns false to stop).  Slices of a pixel
 * or more come whole; the slices that end within one pixel come as one
 * aggregate; neighbouring aggregates of one state merge.  O(items * log n)
 * with items <= 3 * width + 2, whatever the number of slices in the
 * window.  Returns the number of items emitted.  Thread-safe. */
typedef bool cprof_tl_emit(void *ctx, const cprof_tl_item *it);
size_t cprof_timeline_query(const cprof_timeline *tl, size_t lane, int64_t t0, int64_t t1,
			    unsigned width, cprof_tl_emit *emit, void *ctx);

/* The JSON answers of the web API, written to m; each returns 0, or
 * CPROF_EINVAL for a bad lane / index (nothing written then).
 *   meta:   {"t0","t1","events","slices","flows","skipped","states":[names by
 *            state],"lanes":[{"lane","pid","tid","name","n"}]}
 *   window: {"t0","t1","w","lanes":[{"lane","items":[t0,t1,state,n,idx,...]}]}
 *           (idx -1 for an aggregate) for the lanes listed
 *   event:  {"lane","idx","t0","t1","state","event":the slice's JSON as in
 *            the trace,"wait":{"t0","t1"} (the wait, with its runnable
 *            part),"waker":{"lane","tid","t"} or null}
 *   search: {"q","matches":[{"lane","idx","t0","t1","state"}],"more":bool}:
 *           the slices whose JSON text holds q (bytes, case-sensitive), at
 *           most max, in file order.
 * Thread-safe. */
int cprof_timeline_meta_json(const cprof_timeline *tl, FILE *m);
int cprof_timeline_window_json(const cprof_timeline *tl, const uint32_t *lanes, size_t nlanes,
			       int64_t t0, int64_t t1, unsigned width, FILE *m);
int cprof_timeline_event_json(const cprof_timeline *tl, size_t lane, size_t idx, FILE *m);
int cprof_timeline_search_json(const cprof_timeline *tl, const char *q, size_t max, FILE *m);

#ifdef __cplusplus
}
#endif
#endif
