/*
 * timeline.c - the index of an execution trace behind the web UI's
 * timeline (cprof_timeline.h): built once when the trace is loaded, then
 * queried for "the slices of lane L in [t0, t1) at W pixels" in time
 * proportional to the pixels, not to the slices in the window.
 *
 * Building: one pass of the validating JSON scanner (cprof_jscan.h;
 * each event's fields read by cprof_trace_event.h) over the whole trace
 * (nesting limit 64, strings checked for control characters and bad
 * escapes, so that any event quoted back is valid JSON).  Of each event
 * only ph, cat, name, pid, tid, ts, dur, id and args.reason / args.name
 * are read; times ("µs with ns precision") become int64 ns without
 * strtod on the usual "123.456" form.  X slices of the categories
 * running, runnable and blocked go to their thread's lane as
 * {t0, t1, byte offset << 16 | state} (24 bytes); "s"/"f" flows with a
 * numeric id pair up by id into the waiter lane's flows {f time, waker
 * lane, s time}.  Then each lane is sorted by start (skipped when already
 * in order, as the runtime writes it), overlaps are clipped to the
 * previous slice's end (so ends are monotonic and binary-searchable), and
 * every 16 slices a checkpoint keeps the running sums of blocked and
 * runnable time.  "C" counters (at most 8, by name and their first
 * numeric argument) keep their samples, sent whole (thinned to 2,048
 * points each, the largest of each stride) with the lanes' metadata.
 *
 * Querying a window: walk from the first slice ending after t0; a slice of
 * at least one pixel is emitted whole; otherwise the slices ending within
 * the pixel it starts in (or the next pixel, when it crosses the boundary)
 * are found by binary search over the ends and emitted as one aggregate,
 * whose time per state comes from the checkpoints (at most 15 slices
 * summed on each side).  Each step emits an item covering at least one
 * pixel or a slice alone in its pixel, so a query costs O(W log n) per
 * lane whatever the zoom; 10M slices cost nothing more than 10.
 *
 * Events in the runtime's own key order are read by a fast path instead
 * of the scanner (same fields, args skipped; see "the runtime's own
 * layout" in timeline_fast.c), a large trace's second half on a second
 * thread ("the second half" below), and a trace still being read as its
 * bytes arrive ("the bytes still arriving" below, fed by
 * timeline_load.c); all give the one-pass scanner's index.
 *
 * Ownership and threads: the timeline owns its lanes, slices, flows and
 * names (malloc), and borrows the trace's bytes.  The build may run a
 * second thread (fed: the reader's, which indexes the second half once
 * it has read every byte), joined before it returns; it is thread-safe
 * on distinct timelines.  Immutable after cprof_timeline_build: every
 * query is thread-safe.  Nothing here is async-signal-safe.
 */
#include "cprof_timeline.h"
#include "timeline_int.h"
#include "cprof_jscan.h"
#include "cprof_trace_event.h"
#include "cprof_util.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEPTH_MAX 64
#define CK 16                       /* slices per checkpoint */
#define OFF_MAX ((UINT64_C(1) << 48) - 1)
#define NS_MAX (INT64_C(1) << 62)

typedef struct slice {
	int64_t t0, t1;
	uint64_t meta;                  /* byte offset << 16 | state */
} slice;

typedef struct flow {
	int64_t tf;                     /* the end of the wait (the "f") */
	int64_t ts;                     /* the waker's event (the "s") */
	uint32_t slane;
} flow;

typedef struct lane {
	uint32_t pid, tid;
	char *name;
	slice *s;
	size_t n, cap;
	int64_t *ckb, *ckr;             /* per CK slices: blocked, runnable ns before */
	flow *f;
	size_t nf, capf;
	bool off_sorted;                /* offsets increase with the index */
} lane;

static inline uint32_t st_of(const slice *s) { return (uint32_t)(s->meta & 0xffff); }
static inline size_t off_of(const slice *s) { return (size_t)(s->meta >> 16); }

typedef struct pend_flow {          /* an "s" or "f" before pairing */
	uint64_t id;
	int64_t t;
	uint32_t lane;
} pend_flow;

/* A "C" counter's samples: its first numeric argument over time. */
typedef struct counter {
	char *name, *series;
	int64_t *t;
	double *v;
	size_t n, cap;
} counter;
#define COUNTERS_MAX 8
#define COUNTER_POINTS 2048          /* at most this many per counter in meta */

struct cprof_timeline {
	const char *data;
	size_t len;
	lane *lanes;
	size_t nlanes, caplanes;
	counter counters[COUNTERS_MAX];
	size_t ncounters;
	char *reasons[CPROF_TL_REASONS_MAX];
	size_t nreasons;
	int64_t tmin, tmax;
	size_t events, slices, flows, skipped;
	size_t fast;                    /* events read by the fast path */
	int built;                      /* how: CPROF_TL_BUILT_* (timeline_int.h) */
};

/* ---- the scanner (cprof_jscan.h) and times ------------------------------- */

typedef cprof_jscan sc;

/* ---- building ----------------------------------------------------------------- */

typedef cprof_tev_fields ev;

typedef struct bld {
	cprof_timeline *tl;
	cprof_u64map lane_of;           /* pid << 32 | tid -> lane */
	uint64_t last_key;              /* lane_for's last answer: a thread's */
	uint32_t last_lane;             /* events mostly follow each other; */
	bool has_last;                  /* lanes never move */
	pend_flow *fs, *ff;             /* "s" and "f" */
	size_t nfs, capfs, nff, capff;
	bool oom;
	bool fast;                      /* the runtime's layout without the scanner */
	bool entered, uncertain;        /* fed: an event read; a choice made at the limit */
	struct half *split;             /* the second half, being read on its thread */
	const char *split_at;           /* its first byte */
	const char *split_end;          /* where it ended (the array's ']'), once merged */
	cprof_tl_feed *feed;            /* the bytes still arriving, or NULL */
} bld;

static int join_half(bld *b, int depth);
static size_t half_from(const struct half *h);

static uint32_t id32(double d)
{
	return d >= 0 && d <= 4294967295.0 ? (uint32_t)d : 0;
}

/* The lane of (pid, tid), made when new; UINT32_MAX when out of memory. */
static uint32_t lane_for(bld *b, double pid, double tid)
{
	cprof_timeline *tl = b->tl;
	uint64_t key = (uint64_t)id32(pid) << 32 | id32(tid);
	if (b->has_last && key == b->last_key)
		return b->last_lane;
	bool fresh = false;
	uint64_t *v = cprof_u64map_slot(&b->lane_of, key, tl->nlanes, &fresh);
	if (!v)
		return UINT32_MAX;
	if (!fresh) {
		b->last_key = key;
		b->last_lane = (uint32_t)*v;
		b->has_last = true;
		return (uint32_t)*v;
	}
	if (tl->nlanes >= UINT32_MAX - 1 ||
	    cprof_reserve((void **)&tl->lanes, &tl->caplanes, tl->nlanes + 1, sizeof *tl->lanes) < 0)
		return UINT32_MAX;
	lane *l = &tl->lanes[tl->nlanes];
	memset(l, 0, sizeof *l);
	l->pid = id32(pid);
	l->tid = id32(tid);
	l->off_sorted = true;
	return (uint32_t)tl->nlanes++;
}

/* A category by its bytes, as strcmp against each name would say (once
 * an event, instead of a strcmp per name and use). */
enum { CAT_OTHER, CAT_RUNNING, CAT_RUNNABLE, CAT_BLOCKED };
static inline int cat_of(const char *c)
{
	if (c[0] == 'r' && c[1] == 'u' && c[2] == 'n' && c[3] == 'n') {
		if (c[4] == 'i' && c[5] == 'n' && c[6] == 'g' && c[7] == 0)
			return CAT_RUNNING;
		if (c[4] == 'a' && c[5] == 'b' && c[6] == 'l' && c[7] == 'e' && c[8] == 0)
			return CAT_RUNNABLE;
	} else if (c[0] == 'b' && c[1] == 'l' && c[2] == 'o' && c[3] == 'c' && c[4] == 'k' &&
		   c[5] == 'e' && c[6] == 'd' && c[7] == 0) {
		return CAT_BLOCKED;
	}
	return CAT_OTHER;
}

/* The state of a slice of category cat (one of the three): for a wait,
 * its reason (from args.reason, else the name after "blocked: "), found
 * first among the reasons by its first byte. */
static uint32_t state_of(cprof_timeline *tl, const ev *e, int cat, bool *oom)
{
	if (cat == CAT_RUNNING)
		return CPROF_TL_RUNNING;
	if (cat == CAT_RUNNABLE)
		return CPROF_TL_RUNNABLE;
	const char *r = e->reason;
	if (!*r) {
		const char *c = strchr(e->name, ':');
		r = c ? c + 1 + (c[1] == ' ') : "blocked";
	}
	for (size_t i = 0; i < tl->nreasons; i++)
		if (tl->reasons[i][0] == r[0] && strcmp(tl->reasons[i], r) == 0)
			return CPROF_TL_BLOCKED + (uint32_t)i;
	if (tl->nreasons == CPROF_TL_REASONS_MAX)
		return CPROF_TL_BLOCKED + CPROF_TL_REASONS_MAX - 1;   /* the last one: "other" */
	char *d = strdup(tl->nreasons == CPROF_TL_REASONS_MAX - 1 ? "other" : r);
	if (!d) {
		*oom = true;
		return 0;
	}
	tl->reasons[tl->nreasons] = d;
	return CPROF_TL_BLOCKED + (uint32_t)tl->nreasons++;
}

static bool add_flow(pend_flow **v, size_t *n, size_t *cap, const ev *e, uint32_t ln)
{
	if (cprof_reserve((void **)v, cap, *n + 1, sizeof **v) < 0)
		return false;
	(*v)[(*n)++] = (pend_flow){ .id = e->id, .t = e->ts, .lane = ln };
	return true;
}

/* The event at j into e, by the fast path (*fast) or the scanner. */
static inline bool parse_event(sc *j, const bld *b, ev *e, bool *obj, bool *fast)
{
	const char *fe = b->fast ? cprof_tl_fast_event(j->s, j->e, j->depth,
						       j->depth_max ? j->depth_max : DEPTH_MAX, e) : NULL;
	*fast = fe != NULL;
	if (fe) {
		j->s = fe;
		*obj = true;
		return true;
	}
	return cprof_tev_read(j, e, obj);
}

/* ---- the bytes still arriving (a cprof_tl_feed) ----------------------------
 *
 * Fed, the build reads the trace while a reader thread (timeline_load.c)
 * is still filling it in order.  The scanner's end j->e is never past the
 * bytes read (the feed's avail, published with release order after each
 * read), so no byte being written is ever read; it moves forward at each
 * event: fed_enter waits until the next margin bytes are in (or all).  An
 * event parsed within such a limit is certain when it ended before the
 * limit (an object ends at its '}', a number or word at the byte after
 * it, both in hand); otherwise (it failed, or ended exactly at the limit)
 * it is parsed again once every byte is in, so a failure and its reason
 * and offset are those of the whole bytes.  After an event, the byte
 * after its white space is waited for: a ',' is the array's next element;
 * anything else (the array's end, an error) waits for all the bytes, as
 * the scanner then reads the rest of the trace by itself.  A build that
 * still ended with a limit (the trace's start before its first event
 * longer than the margin, or the reading failed) is not the whole bytes'
 * index: cprof_tl_build_fed builds it again, or tells its caller. */

static void fed_all(sc *j, bld *b)
{
	j->e = j->base + cprof_tl_feed_wait(b->feed, b->feed->len);
}

static void fed_enter(sc *j, bld *b)
{
	cprof_tl_feed *f = b->feed;
	size_t at = (size_t)(j->s - j->base);
	size_t want = f->len - at > f->margin ? at + f->margin : f->len;
	atomic_store_explicit(&f->pos, at, memory_order_relaxed);
	/* the scanner looked for the array's ']' before its first element:
	 * at the limit, it did not see what is there */
	if (!b->entered && j->s == j->e && f->len != at)
		b->uncertain = true;
	b->entered = true;
	if ((size_t)(j->e - j->base) < want)
		j->e = j->base + cprof_tl_feed_wait(f, want);
	if (!f->taken) {
		struct half *h = atomic_load_explicit(&f->half, memory_order_acquire);
		if (h) {
			f->taken = true;
			b->split = h;
			b->split_at = j->base + half_from(h);
		}
	}
}

static bool fed_parse(sc *j, bld *b, ev *e, bool *obj, bool *fast)
{
	const char *full = j->base + b->feed->len;
	sc save = *j;
	bool ok = parse_event(j, b, e, obj, fast);
	if (j->e == full || (ok && j->s < j->e))
		return ok;
	*j = save;
	fed_all(j, b);
	return parse_event(j, b, e, obj, fast);
}

/* The first byte after the white space at p, waiting for more bytes
 * while the white space runs to the limit: in hand, or the end (or the
 * reading failed). */
static const char *fed_ws(sc *j, bld *b, const char *p)
{
	const char *full = j->base + b->feed->len;
	for (;;) {
		while (p < j->e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
			p++;
		if (p < j->e || j->e == full)
			return p;
		size_t at = (size_t)(p - j->base);
		size_t want = b->feed->len - at > b->feed->margin ? at + b->feed->margin : b->feed->len;
		const char *ne = j->base + cprof_tl_feed_wait(b->feed, want);
		if (ne == j->e)
			return p;   /* the reading failed: built again or refused */
		j->e = ne;
	}
}

/* After an event: the array's ',' in hand, or all the bytes (see above). */
static void fed_next(sc *j, bld *b)
{
	const char *p = fed_ws(j, b, j->s);
	if (p < j->e && *p != ',')
		fed_all(j, b);
}

/* One event object at j (its first byte at off). */
static bool read_event(sc *j, bld *b, ev *e)
{
	cprof_timeline *tl = b->tl;
	if (b->feed) {
		fed_enter(j, b);
		j->s = fed_ws(j, b, j->s);   /* the event's first byte in hand: its offset */
	}
	cprof_js_ws(j);
	if (b->split && j->s == b->split_at) {
		int m = join_half(b, j->depth);
		if (m < 0)
			goto nomem;
		if (m > 0) {
			j->s = b->split_end;
			if (b->feed)
				fed_all(j, b);   /* all read before the half was */
			return true;
		}
		/* not mergeable: this thread reads the second half too */
	}
	size_t off = (size_t)(j->s - j->base);
	bool obj, fast;
	if (!(b->feed ? fed_parse(j, b, e, &obj, &fast) : parse_event(j, b, e, &obj, &fast)))
		return false;
	if (b->feed)
		fed_next(j, b);
	if (!obj)
		return true;   /* not an event: skipped */
	tl->fast += fast;
	tl->events++;
	bool oom = false;
	if (e->ph == 'M' && strcmp(e->name, "thread_name") == 0) {
		uint32_t ln = lane_for(b, e->pid, e->tid);
		if (ln == UINT32_MAX)
			goto nomem;
		lane *l = &tl->lanes[ln];
		if (!l->name && !(l->name = strdup(e->aname)))
			goto nomem;
		return true;
	}
	int cat = e->ph == 'X' ? cat_of(e->cat) : CAT_OTHER;
	if (cat != CAT_OTHER && e->has_ts && e->has_dur && e->dur >= 0 &&
	    e->ts + e->dur <= NS_MAX && off <= OFF_MAX) {
		uint32_t st = state_of(tl, e, cat, &oom);
		uint32_t ln = oom ? UINT32_MAX : lane_for(b, e->pid, e->tid);
		if (ln == UINT32_MAX)
			goto nomem;
		lane *l = &tl->lanes[ln];
		if (l->n == l->cap &&
		    cprof_reserve((void **)&l->s, &l->cap, l->n + 1, sizeof *l->s) < 0)
			goto nomem;
		l->s[l->n++] = (slice){ e->ts, e->ts + e->dur, (uint64_t)off << 16 | st };
		tl->slices++;
		if (tl->slices == 1 || e->ts < tl->tmin)
			tl->tmin = e->ts;
		if (tl->slices == 1 || e->ts + e->dur > tl->tmax)
			tl->tmax = e->ts + e->dur;
		return true;
	}
	if ((e->ph == 's' || e->ph == 'f') && e->has_id && e->has_ts) {
		uint32_t ln = lane_for(b, e->pid, e->tid);
		if (ln == UINT32_MAX)
			goto nomem;
		bool ok = e->ph == 's' ? add_flow(&b->fs, &b->nfs, &b->capfs, e, ln)
			: add_flow(&b->ff, &b->nff, &b->capff, e, ln);
		if (!ok)
			goto nomem;
		return true;
	}
	if (e->ph == 'C' && e->has_ts && e->nnum > 0 && isfinite(e->nval[0])) {
		counter *c = NULL;
		for (size_t i = 0; i < tl->ncounters && !c; i++)
			if (!strcmp(tl->counters[i].name, e->name) &&
			    !strcmp(tl->counters[i].series, e->nkey[0]))
				c = &tl->counters[i];
		if (!c && tl->ncounters < COUNTERS_MAX) {
			c = &tl->counters[tl->ncounters];
			if (!(c->name = strdup(e->name)) || !(c->series = strdup(e->nkey[0]))) {
				free(c->name);      /* not counted yet: the free loop misses it */
				c->name = NULL;
				goto nomem;
			}
			tl->ncounters++;
		}
		if (c) {
			size_t cap = c->cap;
			if (cprof_reserve((void **)&c->t, &cap, c->n + 1, sizeof *c->t) < 0 ||
			    cprof_reserve((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v) < 0)
				goto nomem;
			c->t[c->n] = e->ts;
			c->v[c->n++] = e->nval[0];
			return true;
		}
	}
	tl->skipped++;
	return true;
nomem:
	b->oom = true;
	return cprof_js_fail(j, "out of memory");
}

/* ---- the second half on a second thread ------------------------------------
 *
 * A large trace is indexed in two halves at once: the second half, from
 * the first event after the middle that starts a line after a ',' (the
 * runtime writes one event a line), is read by a thread of its own into
 * a timeline of its own, as array elements at the depth of the events
 * array, until the array's ']'.  The first thread reads from the start;
 * when it arrives at exactly that byte as an event of the events array
 * at that depth, the second half was read as it would have read it, so
 * it joins the thread and appends the half's lanes (lanes new to it in
 * their order of first appearance, as one pass would have made them),
 * slices (reasons renumbered), counters' samples and pending flows, and
 * goes on from the ']'.  The result is the index one pass makes, byte
 * for byte.  When the halves cannot be merged exactly (the second half
 * failed, ran out of memory, or the reasons or counters together exceed
 * their ceilings, whose overflow depends on the order) or the first
 * thread never arrives at the split (it is not an event boundary, or the
 * trace fails before), the second half is read again by the first
 * thread (or never needed), so what is refused and why is unchanged.
 * The threads share nothing but the trace's bytes (read-only) until the
 * join; the second one blocks every signal, and is joined before the
 * build returns, whatever happens.
 */

typedef struct half {
	const char *data;
	size_t len, from;               /* the whole trace; the split */
	int depth;                      /* the events array's */
	bld b;                          /* its own timeline */
	ev *e;
	const char *end;                /* the events array's ']' */
	bool ok, joined;
	pthread_t th;                   /* its thread (a fed build's: the reader) */
	cprof_tl_feed *feed;            /* a fed build's, or NULL */
} half;

static size_t half_from(const half *h)
{
	return h->from;
}

static void *half_main(void *arg)
{
	half *h = arg;
	sc j = { .s = h->data + h->from, .e = h->data + h->len, .base = h->data,
		 .depth = h->depth, .depth_max = DEPTH_MAX };
	do
		if (!read_event(&j, &h->b, h->e) ||
		    (h->feed && atomic_load_explicit(&h->feed->stop, memory_order_relaxed)))
			return NULL;   /* failed, or not wanted any more */
	while (cprof_js_lit(&j, ','));
	cprof_js_ws(&j);
	if (j.s < j.e && *j.s == ']') {
		h->end = j.s;
		h->ok = true;
	}
	return NULL;
}

static void bld_free(bld *b)
{
	free(b->fs);
	free(b->ff);
	cprof_u64map_free(&b->lane_of);
}

/* Wait for the half and free it. */
static void half_drop(half *h)
{
	if (!h)
		return;
	if (!h->joined) {
		pthread_join(h->th, NULL);
		if (h->feed)
			h->feed->joined = true;
	}
	cprof_timeline_free(h->b.tl);
	bld_free(&h->b);
	free(h->e);
	free(h);
}

static size_t reason_find(const cprof_timeline *tl, const char *r)
{
	for (size_t i = 0; i < tl->nreasons; i++)
		if (strcmp(tl->reasons[i], r) == 0)
			return i;
	return SIZE_MAX;
}

static counter *counter_find(cprof_timeline *tl, const counter *c)
{
	for (size_t i = 0; i < tl->ncounters; i++)
		if (!strcmp(tl->counters[i].name, c->name) && !strcmp(tl->counters[i].series, c->series))
			return &tl->counters[i];
	return NULL;
}

static bool append_pend(pend_flow **v, size_t *n, size_t *cap, const pend_flow *src, size_t ns,
			const uint32_t *lmap)
{
	if (cprof_reserve((void **)v, cap, *n + ns, sizeof **v) < 0)
		return false;
	for (size_t i = 0; i < ns; i++) {
		(*v)[*n] = src[i];
		(*v)[(*n)++].lane = lmap[src[i].lane];
	}
	return true;
}

/* Append the half h2 to b: 1 merged, 0 not exactly mergeable (b
 * unchanged), -1 out of memory. */
static int merge_half(bld *b, bld *h2)
{
	cprof_timeline *tl = b->tl, *t2 = h2->tl;
	size_t newr = 0, newc = 0;
	for (size_t i = 0; i < t2->nreasons; i++)
		newr += reason_find(tl, t2->reasons[i]) == SIZE_MAX;
	for (size_t i = 0; i < t2->ncounters; i++)
		newc += counter_find(tl, &t2->counters[i]) == NULL;
	if (tl->nreasons + newr >= CPROF_TL_REASONS_MAX - 1 || tl->ncounters + newc > COUNTERS_MAX)
		return 0;
	uint32_t rmap[CPROF_TL_REASONS_MAX];
	for (size_t i = 0; i < t2->nreasons; i++) {
		size_t r = reason_find(tl, t2->reasons[i]);
		if (r == SIZE_MAX) {
			r = tl->nreasons++;
			tl->reasons[r] = t2->reasons[i];
			t2->reasons[i] = NULL;
		}
		rmap[i] = (uint32_t)r;
	}
	uint32_t *lmap = malloc((t2->nlanes ? t2->nlanes : 1) * sizeof *lmap);
	if (!lmap)
		return -1;
	int rc = -1;
	for (size_t k = 0; k < t2->nlanes; k++) {
		lane *l2 = &t2->lanes[k];
		uint32_t ln = lane_for(b, l2->pid, l2->tid);
		if (ln == UINT32_MAX)
			goto out;
		lmap[k] = ln;
		lane *l = &tl->lanes[ln];
		if (!l->name) {
			l->name = l2->name;
			l2->name = NULL;
		}
		if (cprof_reserve((void **)&l->s, &l->cap, l->n + l2->n, sizeof *l->s) < 0)
			goto out;
		for (size_t x = 0; x < l2->n; x++) {
			slice sl = l2->s[x];
			uint32_t st = st_of(&sl);
			if (st >= CPROF_TL_BLOCKED)
				sl.meta = (sl.meta & ~UINT64_C(0xffff)) | (CPROF_TL_BLOCKED + rmap[st - CPROF_TL_BLOCKED]);
			l->s[l->n++] = sl;
		}
	}
	for (size_t i = 0; i < t2->ncounters; i++) {
		counter *c2 = &t2->counters[i], *c = counter_find(tl, c2);
		if (!c) {
			tl->counters[tl->ncounters++] = *c2;
			memset(c2, 0, sizeof *c2);   /* moved: nothing left to free */
			continue;
		}
		size_t cap = c->cap;
		if (cprof_reserve((void **)&c->t, &cap, c->n + c2->n, sizeof *c->t) < 0 ||
		    cprof_reserve((void **)&c->v, &c->cap, c->n + c2->n, sizeof *c->v) < 0)
			goto out;
		if (c2->n) {
			memcpy(c->t + c->n, c2->t, c2->n * sizeof *c->t);
			memcpy(c->v + c->n, c2->v, c2->n * sizeof *c->v);
		}
		c->n += c2->n;
	}
	if (!append_pend(&b->fs, &b->nfs, &b->capfs, h2->fs, h2->nfs, lmap) ||
	    !append_pend(&b->ff, &b->nff, &b->capff, h2->ff, h2->nff, lmap))
		goto out;
	if (t2->slices) {
		if (!tl->slices || t2->tmin < tl->tmin)
			tl->tmin = t2->tmin;
		if (!tl->slices || t2->tmax > tl->tmax)
			tl->tmax = t2->tmax;
	}
	tl->events += t2->events;
	tl->slices += t2->slices;
	tl->skipped += t2->skipped;
	tl->fast += t2->fast;
	rc = 1;
out:
	free(lmap);
	return rc;
}

/* At the split, as an event at depth: join the half and merge it (1),
 * or not (0: read it here), or out of memory (-1). */
static int join_half(bld *b, int depth)
{
	half *h = b->split;
	b->split = NULL;
	pthread_join(h->th, NULL);
	h->joined = true;
	if (h->feed)
		h->feed->joined = true;
	int m = 0;
	if (h->ok && !h->b.oom && depth == h->depth) {
		m = merge_half(b, &h->b);
		b->split_end = h->end;
	}
	half_drop(h);
	return m;
}

/* Where a second half can start: the first event after mid that starts
 * a line after a ',' (within 64 KiB), and the events array's depth
 * there; false when there is none. */
static bool half_find(const char *data, size_t len, size_t mid, size_t *from, int *depth)
{
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", data[i]))
		i++;
	if (i == len || (data[i] != '{' && data[i] != '['))
		return false;
	*depth = data[i] == '{';
	size_t at = mid, lim = at < len && len - at > 65536 ? at + 65536 : len;
	while (at < lim) {
		const char *nl = memchr(data + at, '\n', lim - at);
		if (!nl)
			return false;
		at = (size_t)(nl - data) + 1;
		size_t q = (size_t)(nl - data);
		while (q > 0 && strchr(" \t\r\n", data[q - 1]))
			q--;
		size_t r = at;
		while (r < len && strchr(" \t\r", data[r]))
			r++;
		if (q > 0 && data[q - 1] == ',' && r < len && data[r] == '{') {
			*from = r;
			return true;
		}
	}
	return false;
}

/* A half of data from from (not started), or NULL out of memory. */
static half *half_new(const char *data, size_t len, size_t from, int depth, bool fast)
{
	half *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->data = data;
	h->len = len;
	h->from = from;
	h->depth = depth;
	h->b.fast = fast;
	h->b.tl = calloc(1, sizeof *h->b.tl);
	h->e = malloc(sizeof *h->e);
	if (!h->b.tl || !h->e) {
		h->joined = true;
		half_drop(h);
		return NULL;
	}
	h->b.tl->data = data;
	h->b.tl->len = len;
	return h;
}

/* Start the second half when the trace is at least split_min bytes and
 * has an event line after its middle; NULL otherwise (one pass). */
static half *half_start(const char *data, size_t len, size_t split_min, bool fast)
{
	size_t from;
	int depth;
	if (len < split_min || len < 64 || !half_find(data, len, len / 2, &from, &depth))
		return NULL;
	half *h = half_new(data, len, from, depth, fast);
	if (!h)
		return NULL;
	/* the thread takes no signal: they stay the caller's threads' */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int made = pthread_create(&h->th, NULL, half_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (made != 0) {
		h->joined = true;
		half_drop(h);
		return NULL;
	}
	return h;
}

void cprof_tl_half_run(cprof_tl_feed *f)
{
	size_t pos = atomic_load_explicit(&f->pos, memory_order_relaxed), from;
	int depth;
	if (atomic_load(&f->stop) || pos >= f->len || f->len - pos < f->split_min ||
	    !half_find(f->data, f->len, pos + (f->len - pos) / 2, &from, &depth))
		return;
	half *h = half_new(f->data, f->len, from, depth, true);
	if (!h)
		return;
	h->th = pthread_self();   /* joined as the half's thread: this returns after */
	h->feed = f;
	atomic_store_explicit(&f->half, h, memory_order_release);
	half_main(h);
}

typedef struct evsctx {
	bld *b;
	ev *e;
} evsctx;

static bool event_elem(sc *j, void *ctx)
{
	evsctx *c = ctx;
	return read_event(j, c->b, c->e);
}

static int cmp_slice(const void *a, const void *b)
{
	const slice *x = a, *y = b;
	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->meta < y->meta ? -1 : x->meta > y->meta;
}

static int cmp_pend(const void *a, const void *b)
{
	const pend_flow *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_flow(const void *a, const void *b)
{
	const flow *x = a, *y = b;
	return x->tf < y->tf ? -1 : x->tf > y->tf;
}


/* Add a slice's time to the blocked or runnable sum. */
static inline void tally(const slice *s, int64_t *sb, int64_t *sr)
{
	uint32_t st = st_of(s);
	if (st >= CPROF_TL_BLOCKED)
		*sb += s->t1 - s->t0;
	else if (st == CPROF_TL_RUNNABLE)
		*sr += s->t1 - s->t0;
}

/* Sort, clip and checkpoint each lane. */
static bool finish_lanes(cprof_timeline *tl)
{
	for (size_t i = 0; i < tl->nlanes; i++) {
		lane *l = &tl->lanes[i];
		bool sorted = true;
		for (size_t k = 1; k < l->n && sorted; k++)
			sorted = cmp_slice(&l->s[k - 1], &l->s[k]) <= 0;
		if (!sorted)
			qsort(l->s, l->n, sizeof *l->s, cmp_slice);
		size_t w = 0;
		for (size_t k = 0; k < l->n; k++) {
			slice s = l->s[k];
			if (w && s.t0 < l->s[w - 1].t1)
				s.t0 = l->s[w - 1].t1;
			if (s.t1 < s.t0 || (w && s.t1 == s.t0 && s.t0 == l->s[w - 1].t1 &&
					    l->s[k].t1 != l->s[k].t0))
				continue;   /* swallowed by the previous slice */
			if (w && off_of(&s) < off_of(&l->s[w - 1]))
				l->off_sorted = false;
			l->s[w++] = s;
		}
		tl->slices -= l->n - w;
		l->n = w;
		size_t nck = l->n / CK + 1;
		l->ckb = malloc(nck * sizeof *l->ckb);
		l->ckr = malloc(nck * sizeof *l->ckr);
		if (!l->ckb || !l->ckr)
			return false;
		int64_t sb = 0, sr = 0;
		for (size_t k = 0; k < l->n; k++) {
			if (k % CK == 0) {
				l->ckb[k / CK] = sb;
				l->ckr[k / CK] = sr;
			}
			tally(&l->s[k], &sb, &sr);
		}
		if (l->n % CK == 0) {
			l->ckb[l->n / CK] = sb;
			l->ckr[l->n / CK] = sr;
		}
	}
	return true;
}

/* Whether v[0..n) is in cmp's order already. */
static bool sorted(const void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *p = v;
	for (size_t k = 1; k < n; k++)
		if (cmp(p + (k - 1) * size, p + k * size) > 0)
			return false;
	return true;
}

/* Pair each "f" with the "s" of its id (the first one) into the waiter
 * lane's flows. */
static bool pair_flows(bld *b)
{
	cprof_timeline *tl = b->tl;
	/* the runtime numbers its flows in the order it writes them, and
	 * writes a thread's in time order: most often nothing to sort */
	if (!sorted(b->fs, b->nfs, sizeof *b->fs, cmp_pend))
		qsort(b->fs, b->nfs, sizeof *b->fs, cmp_pend);
	size_t prev = 0;
	for (size_t i = 0; i < b->nff; i++) {
		const pend_flow *f = &b->ff[i];
		/* the first "s" of f's id (lower bound); the "f"s mostly come in
		 * the order of their ids too: then from the last one's, widening
		 * a step at a time (the same bound, found in O(1) steps) */
		size_t lo = 0, hi = b->nfs;
		if (i && f->id >= b->ff[i - 1].id) {
			lo = prev;
			size_t step = 1;
			while (lo + step < b->nfs && b->fs[lo + step].id < f->id) {
				lo += step;
				step *= 2;
			}
			hi = lo + step < b->nfs ? lo + step + 1 : b->nfs;
		}
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (b->fs[mid].id < f->id)
				lo = mid + 1;
			else
				hi = mid;
		}
		prev = lo;
		if (lo == b->nfs || b->fs[lo].id != f->id)
			continue;
		lane *l = &tl->lanes[f->lane];
		if (cprof_reserve((void **)&l->f, &l->capf, l->nf + 1, sizeof *l->f) < 0)
			return false;
		l->f[l->nf++] = (flow){ .tf = f->t, .ts = b->fs[lo].t, .slane = b->fs[lo].lane };
		tl->flows++;
	}
	for (size_t i = 0; i < tl->nlanes; i++)
		if (!sorted(tl->lanes[i].f, tl->lanes[i].nf, sizeof *tl->lanes[i].f, cmp_flow))
			qsort(tl->lanes[i].f, tl->lanes[i].nf, sizeof *tl->lanes[i].f, cmp_flow);
	return true;
}

bool cprof_timeline_sniff(const char *data, size_t len)
{
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", data[i]))
		i++;
	if (i < len && data[i] == '[')
		return true;
	if (i >= len || data[i] != '{')
		return false;
	size_t n = len - i < 65536 ? len - i : 65536;
	return memmem(data + i, n, "\"traceEvents\"", 13) != NULL;
}

void cprof_timeline_free(cprof_timeline *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->nlanes; i++) {
		free(tl->lanes[i].name);
		free(tl->lanes[i].s);
		free(tl->lanes[i].ckb);
		free(tl->lanes[i].ckr);
		free(tl->lanes[i].f);
	}
	free(tl->lanes);
	for (size_t i = 0; i < tl->ncounters; i++) {
		free(tl->counters[i].name);
		free(tl->counters[i].series);
		free(tl->counters[i].t);
		free(tl->counters[i].v);
	}
	for (size_t i = 0; i < tl->nreasons; i++)
		free(tl->reasons[i]);
	free(tl);
}

/* The index of data[0..len) into *out; fed (feed not NULL), *complete
 * tells whether the scan ended with every byte in hand (else the result,
 * success or failure, is not the whole bytes'). */
static int build(const char *data, size_t len, bool fast, size_t split_min, cprof_tl_feed *feed,
		 cprof_timeline **out, cprof_error *err, bool *complete)
{
	*out = NULL;
	cprof_timeline *tl = calloc(1, sizeof *tl);
	ev *e = malloc(sizeof *e);
	bld b = { .tl = tl, .fast = fast, .feed = feed };
	int rc = 0;
	if (!tl || !e) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory indexing the trace");
		goto done;
	}
	tl->data = data;
	tl->len = len;
	b.split = feed ? NULL : half_start(data, len, split_min, fast);
	b.split_at = b.split ? data + b.split->from : NULL;
	sc j = { .s = data, .e = data + len, .base = data, .depth_max = DEPTH_MAX };
	if (feed)
		j.e = data + cprof_tl_feed_wait(feed, len < feed->margin ? len : feed->margin);
	evsctx c = { &b, e };
	bool ok = cprof_js_trace(&j, event_elem, &c);
	if (complete)
		*complete = j.e == data + len && !b.uncertain;
	if (!ok) {
		rc = b.oom ? cprof_seterr(err, CPROF_ENOMEM, "out of memory indexing the trace")
			: cprof_seterr(err, CPROF_EFORMAT, "not a Chrome trace: %s at byte %zu",
				       j.why, j.at);
		goto done;
	}
	if (!finish_lanes(tl) || !pair_flows(&b))
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory indexing the trace");
done:
	if (feed)
		atomic_store(&feed->stop, 1);   /* a half not merged: stop it */
	half_drop(b.split);   /* never reached: the trace failed before, or no event there */
	free(e);
	bld_free(&b);
	if (rc < 0) {
		cprof_timeline_free(tl);
		return rc;
	}
	*out = tl;
	return 0;
}

/* Below this, one thread: starting one costs more than it saves. */
#define SPLIT_MIN (8u << 20)

int cprof_timeline_build(const char *data, size_t len, cprof_timeline **out, cprof_error *err)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return build(data, len, true, cpus > 1 ? SPLIT_MIN : SIZE_MAX, NULL, out, err, NULL);
}

int cprof_timeline_build_split(const char *data, size_t len, size_t split_min,
			       cprof_timeline **out, cprof_error *err)
{
	return build(data, len, true, split_min, NULL, out, err, NULL);
}

int cprof_timeline_build_general(const char *data, size_t len, cprof_timeline **out,
				 cprof_error *err)
{
	return build(data, len, false, SIZE_MAX, NULL, out, err, NULL);
}

int cprof_tl_build_fed(cprof_tl_feed *f, cprof_timeline **out, cprof_error *err)
{
	bool complete = false;
	cprof_error e1 = { 0 };   /* the first failure wins: kept only when certain */
	int rc = build(f->data, f->len, true, SIZE_MAX, f, out, &e1, &complete);
	/* the reader: build() told its second half to stop (merged, or
	 * passed); when the build is redone, it still reads every byte */
	(void)cprof_tl_feed_wait(f, SIZE_MAX);   /* a lazy reader reads the rest */
	if (!f->joined) {
		pthread_join(f->reader, NULL);
		f->joined = true;
	}
	half *h = atomic_load(&f->half);
	if (h && !f->taken) {
		h->joined = true;
		half_drop(h);
	}
	if (complete) {
		if (rc < 0 && err && !err->code)
			*err = e1;
		if (rc == 0)
			(*out)->built = CPROF_TL_BUILT_FED;
		return rc;
	}
	cprof_timeline_free(*out);
	*out = NULL;
	if (atomic_load(&f->state) != TL_FEED_DONE)
		return 1;
	rc = cprof_timeline_build(f->data, f->len, out, err);
	if (rc == 0)
		(*out)->built = CPROF_TL_BUILT_FED_AGAIN;
	return rc;
}

int cprof_tl_built(const cprof_timeline *tl)
{
	return tl->built;
}

void cprof_tl_set_built(cprof_timeline *tl, int how)
{
	tl->built = how;
}

static bool same_bytes(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool cprof_timeline_same(const cprof_timeline *a, const cprof_timeline *b)
{
	if (a->data != b->data || a->len != b->len || a->nlanes != b->nlanes ||
	    a->ncounters != b->ncounters || a->nreasons != b->nreasons || a->tmin != b->tmin ||
	    a->tmax != b->tmax || a->events != b->events || a->slices != b->slices ||
	    a->flows != b->flows || a->skipped != b->skipped)
		return false;
	for (size_t i = 0; i < a->nreasons; i++)
		if (strcmp(a->reasons[i], b->reasons[i]))
			return false;
	for (size_t i = 0; i < a->ncounters; i++) {
		const counter *x = &a->counters[i], *y = &b->counters[i];
		if (strcmp(x->name, y->name) || strcmp(x->series, y->series) || x->n != y->n ||
		    !same_bytes(x->t, y->t, x->n * sizeof *x->t) ||
		    !same_bytes(x->v, y->v, x->n * sizeof *x->v))
			return false;
	}
	for (size_t i = 0; i < a->nlanes; i++) {
		const lane *x = &a->lanes[i], *y = &b->lanes[i];
		size_t nck = x->n / CK + 1;
		if (x->pid != y->pid || x->tid != y->tid || !same_str(x->name, y->name) ||
		    x->n != y->n || x->nf != y->nf || x->off_sorted != y->off_sorted ||
		    !same_bytes(x->s, y->s, x->n * sizeof *x->s) ||
		    !same_bytes(x->ckb, y->ckb, nck * sizeof *x->ckb) ||
		    !same_bytes(x->ckr, y->ckr, nck * sizeof *x->ckr))
			return false;
		for (size_t k = 0; k < x->nf; k++)   /* field by field: a flow has padding */
			if (x->f[k].tf != y->f[k].tf || x->f[k].ts != y->f[k].ts ||
			    x->f[k].slane != y->f[k].slane)
				return false;
	}
	return true;
}

size_t cprof_timeline_fast_events(const cprof_timeline *tl)
{
	return tl->fast;
}

size_t cprof_timeline_nlanes(const cprof_timeline *tl)
{
	return tl->nlanes;
}

void cprof_timeline_range(const cprof_timeline *tl, int64_t *t0, int64_t *t1)
{
	*t0 = tl->tmin;
	*t1 = tl->tmax;
}

size_t cprof_timeline_nslices(const cprof_timeline *tl, size_t ln)
{
	return ln < tl->nlanes ? tl->lanes[ln].n : 0;
}

/* ---- queries ------------------------------------------------------------------ */

/* The first slice in [lo, hi) whose end is after t, hi when none (ends
 * are monotonic). */
static size_t first_end_in(const lane *l, size_t lo, size_t hi, int64_t t)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->s[mid].t1 <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* first_end_in [lo, n), galloping: the first slice in [lo, n) whose
 * end is after t, found in O(log distance) steps near lo instead of a
 * search of the whole rest of the lane (an aggregate's end is a pixel
 * away, not millions of slices). */
static size_t first_end_near(const lane *l, size_t lo, int64_t t)
{
	if (lo >= l->n || l->s[lo].t1 > t)
		return lo;
	size_t step = 1;   /* s[lo].t1 <= t: the answer is after lo */
	while (lo + step < l->n && l->s[lo + step].t1 <= t) {
		lo += step;
		step *= 2;
	}
	return first_end_in(l, lo + 1, lo + step < l->n ? lo + step : l->n, t);
}

/* Blocked and runnable ns of slices [0, x). */
static void sums(const lane *l, size_t x, int64_t *b, int64_t *r)
{
	size_t c = x / CK;
	int64_t sb = l->ckb[c], sr = l->ckr[c];
	for (size_t k = c * CK; k < x; k++)
		tally(&l->s[k], &sb, &sr);
	*b = sb;
	*r = sr;
}

/* The state of the reason holding most blocked time among at most
 * SAMPLE_MAX slices spread over [i, jn) (all of them when as few; a
 * bounded estimate:
 * an aggregate of many slices is coloured by its main reason without
 * reading them all); CPROF_TL_MIXED_BLOCKED when none is blocked. */
#define SAMPLE_MAX 64
static uint32_t main_reason(const lane *l, size_t i, size_t jn)
{
	uint32_t st[8];
	int64_t t[8];
	size_t nr = 0, span = jn - i;
	/* SAMPLE_MAX / 2 places, two neighbours each: a thread alternating
	 * between running and one wait is seen whatever the stride */
	for (size_t q = 0; q < SAMPLE_MAX; q++) {
		size_t k = i + (q / 2) * span / (SAMPLE_MAX / 2) + q % 2;
		if (k >= jn || (span <= SAMPLE_MAX && q >= span))
			continue;
		if (span <= SAMPLE_MAX)
			k = i + q;
		uint32_t x = st_of(&l->s[k]);
		if (x < CPROF_TL_BLOCKED)
			continue;
		size_t r = 0;
		while (r < nr && st[r] != x)
			r++;
		if (r == nr) {
			if (nr == 8)
				continue;   /* a ninth reason in one pixel: not counted */
			st[nr] = x;
			t[nr++] = 0;
		}
		t[r] += l->s[k].t1 - l->s[k].t0;
	}
	size_t best = 0;
	for (size_t r = 1; r < nr; r++)
		if (t[r] > t[best])
			best = r;
	return nr ? st[best] : CPROF_TL_MIXED_BLOCKED;
}

typedef struct qout {
	cprof_tl_item pend;
	bool has;
	size_t n;
	cprof_tl_emit *emit;
	void *ctx;
	bool stop;
} qout;

static void put(qout *q, const cprof_tl_item *it)
{
	if (q->has && q->pend.idx == CPROF_TL_NO_IDX && it->idx == CPROF_TL_NO_IDX &&
	    q->pend.state == it->state && q->pend.t1 >= it->t0) {
		q->pend.t1 = it->t1;
		q->pend.n = q->pend.n + it->n < q->pend.n ? UINT32_MAX : q->pend.n + it->n;
		return;
	}
	if (q->has && !q->stop) {
		q->n++;
		if (!q->emit(q->ctx, &q->pend))
			q->stop = true;
	}
	q->pend = *it;
	q->has = true;
}

size_t cprof_timeline_query(const cprof_timeline *tl, size_t ln, int64_t t0, int64_t t1,
			    unsigned width, cprof_tl_emit *emit, void *ctx)
{
	if (ln >= tl->nlanes || t1 <= t0 || width == 0)
		return 0;
	const lane *l = &tl->lanes[ln];
	double pw = ((double)t1 - (double)t0) / width;
	qout q = { .emit = emit, .ctx = ctx };
	size_t i = first_end_in(l, 0, l->n, t0);
	while (i < l->n && l->s[i].t0 < t1 && !q.stop) {
		const slice *s = &l->s[i];
		if ((double)(s->t1 - s->t0) >= pw) {
			cprof_tl_item it = { s->t0, s->t1, st_of(s), 1, (uint32_t)i };
			put(&q, &it);
			i++;
			continue;
		}
		/* the pixel s starts in; the next one when s crosses its end */
		double px = floor(((double)(s->t0 > t0 ? s->t0 : t0) - (double)t0) / pw);
		double pend = (double)t0 + (px + 1) * pw;
		if ((double)s->t1 > pend)
			pend += pw;
		int64_t pe = pend >= (double)NS_MAX ? NS_MAX : (int64_t)pend;
		size_t jn = first_end_near(l, i + 1, pe);
		if (jn == i + 1) {
			cprof_tl_item it = { s->t0, s->t1, st_of(s), 1, (uint32_t)i };
			put(&q, &it);
			i++;
			continue;
		}
		int64_t b0, r0, b1, r1;
		sums(l, i, &b0, &r0);
		sums(l, jn, &b1, &r1);
		int64_t all = l->s[jn - 1].t1 - s->t0, bl = b1 - b0, rn = r1 - r0;
		int64_t run = all - bl - rn;
		uint32_t st = bl >= rn && bl >= run ? main_reason(l, i, jn)
			: rn >= run ? CPROF_TL_RUNNABLE : CPROF_TL_RUNNING;
		cprof_tl_item it = { s->t0, l->s[jn - 1].t1, st, (uint32_t)(jn - i), CPROF_TL_NO_IDX };
		put(&q, &it);
		i = jn;
	}
	if (q.has && !q.stop) {
		q.n++;
		emit(ctx, &q.pend);
	}
	return q.n;
}

/* ---- JSON answers ------------------------------------------------------------- */

static const char *state_name(const cprof_timeline *tl, uint32_t st)
{
	if (st == CPROF_TL_RUNNING)
		return "running";
	if (st == CPROF_TL_RUNNABLE)
		return "runnable";
	if (st == CPROF_TL_MIXED_BLOCKED)
		return "blocked";
	return st - CPROF_TL_BLOCKED < tl->nreasons ? tl->reasons[st - CPROF_TL_BLOCKED] : "?";
}

int cprof_timeline_meta_json(const cprof_timeline *tl, FILE *m)
{
	fprintf(m, "{\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"events\":%zu,\"slices\":%zu,"
		"\"flows\":%zu,\"skipped\":%zu,\"states\":[\"running\",\"runnable\"",
		tl->tmin, tl->tmax, tl->events, tl->slices, tl->flows, tl->skipped);
	for (size_t i = 0; i < tl->nreasons; i++) {
		putc(',', m);
		cprof_json_str(m, tl->reasons[i], strlen(tl->reasons[i]));
	}
	fputs("],\"lanes\":[", m);
	for (size_t i = 0; i < tl->nlanes; i++) {
		const lane *l = &tl->lanes[i];
		fprintf(m, "%s{\"lane\":%zu,\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":",
			i ? "," : "", i, l->pid, l->tid);
		const char *nm = l->name ? l->name : "";
		cprof_json_str(m, nm, strlen(nm));
		fprintf(m, ",\"n\":%zu}", l->n);
	}
	/* counters: [t, v, ...] in time order, at most COUNTER_POINTS per
	 * counter (each kept point the largest of its stride) */
	fputs("],\"counters\":[", m);
	for (size_t i = 0; i < tl->ncounters; i++) {
		const counter *c = &tl->counters[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", m);
		cprof_json_str(m, c->name, strlen(c->name));
		fputs(",\"series\":", m);
		cprof_json_str(m, c->series, strlen(c->series));
		fputs(",\"points\":[", m);
		size_t stride = c->n / COUNTER_POINTS + 1;
		for (size_t k = 0; k < c->n; k += stride) {
			size_t best = k;
			for (size_t q = k + 1; q < k + stride && q < c->n; q++)
				if (c->v[q] > c->v[best])
					best = q;
			fprintf(m, "%s%" PRId64 ",%.17g", k ? "," : "", c->t[best], c->v[best]);
		}
		fputs("]}", m);
	}
	fputs("]}\n", m);
	return 0;
}

typedef struct wctx {
	FILE *m;
	bool first;
} wctx;

static bool emit_json(void *ctx, const cprof_tl_item *it)
{
	wctx *w = ctx;
	fprintf(w->m, "%s%" PRId64 ",%" PRId64 ",%" PRIu32 ",%" PRIu32 ",%" PRId64,
		w->first ? "" : ",", it->t0, it->t1, it->state, it->n,
		it->idx == CPROF_TL_NO_IDX ? (int64_t)-1 : (int64_t)it->idx);
	w->first = false;
	return true;
}

int cprof_timeline_window_json(const cprof_timeline *tl, const uint32_t *lanes, size_t nlanes,
			       int64_t t0, int64_t t1, unsigned width, FILE *m)
{
	for (size_t i = 0; i < nlanes; i++)
		if (lanes[i] >= tl->nlanes)
			return CPROF_EINVAL;
	if (t1 <= t0 || width == 0)
		return CPROF_EINVAL;
	fprintf(m, "{\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"w\":%u,\"lanes\":[", t0, t1, width);
	for (size_t i = 0; i < nlanes; i++) {
		fprintf(m, "%s{\"lane\":%" PRIu32 ",\"items\":[", i ? "," : "", lanes[i]);
		wctx w = { m, true };
		cprof_timeline_query(tl, lanes[i], t0, t1, width, emit_json, &w);
		fputs("]}", m);
	}
	fputs("]}\n", m);
	return 0;
}

/* The end of the JSON value at data[off] (validated when built). */
static size_t value_end(const cprof_timeline *tl, size_t off)
{
	sc j = { .s = tl->data + off, .e = tl->data + tl->len, .base = tl->data,
		 .depth_max = DEPTH_MAX };
	if (!cprof_js_skip(&j))
		return off;
	return (size_t)(j.s - tl->data);
}

int cprof_timeline_event_json(const cprof_timeline *tl, size_t ln, size_t idx, FILE *m)
{
	if (ln >= tl->nlanes || idx >= tl->lanes[ln].n)
		return CPROF_EINVAL;
	const lane *l = &tl->lanes[ln];
	const slice *s = &l->s[idx];
	uint32_t st = st_of(s);
	/* the wait: a blocked slice and the runnable one that ends it */
	int64_t w0 = s->t0, w1 = s->t1;
	if (st >= CPROF_TL_BLOCKED && idx + 1 < l->n && st_of(&l->s[idx + 1]) == CPROF_TL_RUNNABLE &&
	    l->s[idx + 1].t0 == s->t1)
		w1 = l->s[idx + 1].t1;
	if (st == CPROF_TL_RUNNABLE && idx > 0 && st_of(&l->s[idx - 1]) >= CPROF_TL_BLOCKED &&
	    l->s[idx - 1].t1 == s->t0)
		w0 = l->s[idx - 1].t0;
	fprintf(m, "{\"lane\":%zu,\"idx\":%zu,\"t0\":%" PRId64 ",\"t1\":%" PRId64 ",\"state\":%" PRIu32
		",\"name\":", ln, idx, s->t0, s->t1, st);
	const char *nm = state_name(tl, st);
	cprof_json_str(m, nm, strlen(nm));
	size_t off = off_of(s), end = value_end(tl, off);
	fputs(",\"event\":", m);
	if (end > off)
		fwrite(tl->data + off, 1, end - off, m);
	else
		fputs("null", m);
	fprintf(m, ",\"wait\":{\"t0\":%" PRId64 ",\"t1\":%" PRId64 "},\"waker\":", w0, w1);
	const flow *fw = NULL;
	if (st != CPROF_TL_RUNNING) {
		size_t lo = 0, hi = l->nf;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (l->f[mid].tf < w0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < l->nf && l->f[lo].tf <= w1)
			fw = &l->f[lo];
	}
	if (fw)
		fprintf(m, "{\"lane\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"t\":%" PRId64 "}", fw->slane,
			tl->lanes[fw->slane].tid, fw->ts);
	else
		fputs("null", m);
	fputs("}\n", m);
	return 0;
}

/* The slice of the event holding byte h: over the lanes, the slice with
 * the greatest offset <= h; SIZE_MAX as lane when none. */
static void slice_at(const cprof_timeline *tl, size_t h, size_t *ln, size_t *idx)
{
	size_t best = 0;
	*ln = SIZE_MAX;
	for (size_t i = 0; i < tl->nlanes; i++) {
		const lane *l = &tl->lanes[i];
		size_t k = SIZE_MAX;
		if (l->off_sorted) {
			size_t lo = 0, hi = l->n;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (off_of(&l->s[mid]) <= h)
					lo = mid + 1;
				else
					hi = mid;
			}
			k = lo ? lo - 1 : SIZE_MAX;
		} else {
			for (size_t x = 0; x < l->n; x++)
				if (off_of(&l->s[x]) <= h && (k == SIZE_MAX || off_of(&l->s[x]) > off_of(&l->s[k])))
					k = x;
		}
		if (k != SIZE_MAX && (*ln == SIZE_MAX || off_of(&l->s[k]) > best)) {
			best = off_of(&l->s[k]);
			*ln = i;
			*idx = k;
		}
	}
}

int cprof_timeline_search_json(const cprof_timeline *tl, const char *q, size_t max, FILE *m)
{
	size_t ql = strlen(q);
	fputs("{\"q\":", m);
	cprof_json_str(m, q, ql);
	fputs(",\"matches\":[", m);
	size_t n = 0, at = 0;
	bool more = false;
	while (ql && at < tl->len) {
		const char *h = memmem(tl->data + at, tl->len - at, q, ql);
		if (!h)
			break;
		size_t ho = (size_t)(h - tl->data), ln, idx = 0;
		slice_at(tl, ho, &ln, &idx);
		size_t end = ln == SIZE_MAX ? 0 : value_end(tl, off_of(&tl->lanes[ln].s[idx]));
		if (ln == SIZE_MAX || ho + ql > end) {
			at = ho + 1;
			continue;
		}
		if (n == max) {
			more = true;
			break;
		}
		const slice *s = &tl->lanes[ln].s[idx];
		fprintf(m, "%s{\"lane\":%zu,\"idx\":%zu,\"t0\":%" PRId64 ",\"t1\":%" PRId64
			",\"state\":%" PRIu32 "}", n ? "," : "", ln, idx, s->t0, s->t1, st_of(s));
		n++;
		at = end;
	}
	fprintf(m, "],\"more\":%s}\n", more ? "true" : "false");
	return 0;
}
