/*
 * timeline_int.h - what the timeline index's files share inside
 * libcprofreport.a (not installed): timeline.c builds and queries the
 * index, timeline_fast.c reads the runtime's own event layout without the
 * scanner.
 */
#ifndef CPROF_TIMELINE_INT_H
#define CPROF_TIMELINE_INT_H

#include "cprof_timeline.h"
#include "cprof_trace_event.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* One event at p in the runtime's own layout (depth: the scanner's
 * around it, dmax its limit) into e: the byte after it, or NULL when it
 * is not exactly of that layout (e then partly written: the general path
 * clears it).  Never reads at or past end.  Pure; thread-safe. */
const char *cprof_tl_fast_event(const char *p, const char *end, int depth, int dmax,
				cprof_tev_fields *e);

/* A trace's bytes arriving while the index is built (timeline_load.c):
 * a reader thread fills data[0..len) in order and publishes how far it
 * got; the indexing thread never reads past that (see "fed" in
 * timeline.c).  Once the bytes are all in, the reader indexes the second
 * half of what is left on its own thread (cprof_tl_half_run) while the
 * indexing thread goes on with the first.
 *
 * Threads: avail, state, stop, pos and half are shared (atomics; the
 * mutex and condition variable only for waiting); taken and joined are
 * the indexing thread's alone. */
enum { TL_FEED_READING, TL_FEED_DONE, TL_FEED_FAILED };
typedef struct cprof_tl_feed {
	char *data;                     /* the buffer being filled */
	size_t len;                     /* the bytes expected */
	size_t margin;                  /* bytes ahead of an event waited for */
	size_t split_min;               /* no second half when less is left */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic size_t avail;           /* data[0..avail) read and stable */
	_Atomic int state;              /* TL_FEED_* */
	_Atomic int stop;               /* 1: no second half; 2: stop reading too */
	_Atomic size_t pos;             /* the indexing thread's offset */
	_Atomic(struct half *) half;    /* published by the reader, for the indexer */
	size_t want;                    /* lazy: the bytes asked for (under mu) */
	bool lazy;                      /* tests: read only what is asked for */
	pthread_t reader;
	bool taken;                     /* the build took half */
	bool joined;                    /* the reader was joined */
} cprof_tl_feed;

/* The bytes available once at least want are (or the reading ended):
 * data[0..return) is stable.  Called by the indexing thread; want
 * SIZE_MAX asks a lazy reader for every byte. */
size_t cprof_tl_feed_wait(cprof_tl_feed *f, size_t want);

/* On the reader's thread once every byte is in: the second half of what
 * the indexer has left, indexed here and published for it to merge (or
 * nothing, when too little is left).  timeline.c. */
void cprof_tl_half_run(cprof_tl_feed *f);

/* Index f's bytes as they arrive (the reader running); joins the reader
 * before returning.  As cprof_timeline_build, or 1 when the reading
 * failed (the file changed size, a read error) and nothing was built:
 * the caller reads the file again its usual way.  timeline.c. */
int cprof_tl_build_fed(cprof_tl_feed *f, cprof_timeline **out, cprof_error *err);

/* How an index was built (cprof_tl_built), for tests: that the fed
 * build did not fall back, since every fallback gives the same index. */
enum {
	CPROF_TL_BUILT_WHOLE,           /* from bytes in hand (cprof_timeline_build*,
					 * or a file read whole: small, not regular, one CPU) */
	CPROF_TL_BUILT_FED,             /* as the bytes arrived (cprof_tl_build_fed) */
	CPROF_TL_BUILT_FED_AGAIN,       /* fed, but the scan ended at a limit (the
					 * trace's start longer than the margin): built
					 * again from the bytes read */
	CPROF_TL_BUILT_READ_AGAIN,      /* the fed build could not run to its end (the
					 * size changed, a read error, no memory or no
					 * thread for it): read whole again, then built */
};
/* How tl was built (CPROF_TL_BUILT_*).  Thread-safe. */
int cprof_tl_built(const cprof_timeline *tl);
/* Set it (timeline_load.c, on the timeline it just built). */
void cprof_tl_set_built(cprof_timeline *tl, int how);

/* cprof_timeline_load; fed true reads a regular file of any size by the
 * reader thread whatever the number of CPUs (for tests: the fed build
 * even on one CPU).  timeline_load.c. */
int cprof_tl_load(const char *path, size_t max, bool fed,
		  void **data, size_t *len, cprof_timeline **out, cprof_error *err);

#endif
