/*
 * trace_json.c - a stopped trace session as Chrome Trace Event JSON, the
 * format Perfetto, the Catapult viewer (chrome://tracing, go tool trace's
 * viewer) and speedscope read.
 *
 * What is written, per thread (pid = the process, tid = the thread, named
 * by "M" thread_name events):
 *   - "X" slices that tile the thread's traced life: "running" between
 *     waits (the thread ran or was in a call the trace does not see),
 *     "blocked: REASON" for each wait (args: reason, object, waker tid,
 *     runnable µs, the waiter's stack, symbolized), and "runnable" for the
 *     part of a wait the thread spent ready but not running (schedstat's
 *     run_delay, placed at the wait's end, where the wake-up is).  With
 *     switch records (trace_switch.c) a wait's runnable part is theirs:
 *     the time it was switched out while runnable, plus the time from its
 *     waker's event (else schedstat's remainder) to the switch-in that ran
 *     it; and "running" stretches are split where the thread was switched
 *     out: "runnable" (preempted) or "blocked: untraced" (it blocked in a
 *     call the trace does not see).  Waits
 *     still going on at the end of the session (the sync wrappers' wait
 *     records) close the thread's timeline, marked "ongoing".
 *   - "s"/"f" flow arrows from the waker (the unlock that let a waiter
 *     take a lock, the signal or broadcast of a condition variable, the
 *     sem_post of a semaphore) to the end of the wait it ended: the
 *     latest such event on the same object by another thread within the
 *     wait.
 *   - "i" instants: CPU samples (args: the stack, CPU µs), logs, thread
 *     start and end, and events dropped (buffer full).
 *   - "b"/"e" nestable async slices for user regions (one track per
 *     thread), with the thread's labels at the begin.
 *   - "C" counters of the process: threads blocked and threads runnable
 *     (in the runnable part of a wait) over time; threads alive and heap
 *     bytes in use, sampled every 50 ms by trace_env.c's runtime thread
 *     (the heap profile's estimate when it runs, else mallinfo2).
 * Times are µs from the session's start with ns precision; otherData says
 * what was recorded and lost.
 *
 * Runs on the thread that stops the session (the API's caller, an
 * endpoint job thread, the exit writer), marked as the runtime's own work;
 * allocates with malloc (never reached from a hook), symbolizes through
 * pbuild.c's builder, and streams the JSON to the descriptor in 1 MiB
 * pieces.  Every record is checked (type, size, frame count) before use.
 */
#include "trace_int.h"
#include "rt_base.h"
#include "rt_labels.h"
#include "rt_wait.h"
#include "rt_profile.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLUSH_AT (1u << 20)
#define ONGOING_MAX 4096
#define REGION_DEPTH 64

typedef struct ev {
	int tid;
	const rt_tev *e;
	int64_t key;          /* order within a thread: a wait's end, else its time */
	int64_t stack;        /* in the builder's profile, or -1 */
	int64_t rd;           /* a wait's runnable ns as drawn (-1 unknown) */
} ev;

typedef struct wake {
	uint64_t obj;
	int64_t t;
	int tid;
	int kind;
} wake;

typedef struct out {
	rt_buf b;
	int fd;
	int rc;
	bool first;
} out;

static void flush(out *o, bool force)
{
	if (o->rc < 0 || (!force && o->b.n < FLUSH_AT))
		return;
	if (o->b.oom) {
		rt_set_error("cannot write the trace: out of memory");
		o->rc = CPROF_ERR_NOMEM;
	} else if (o->b.n) {
		o->rc = rt_write_all(o->fd, o->b.p, o->b.n, "trace");
	}
	o->b.n = 0;
	if (o->b.p)
		o->b.p[0] = 0;
}

static void put(out *o, const char *s)
{
	rt_buf_add(&o->b, s, strlen(s));
}

/* otherData's "runnable": where a wait's runnable part comes from (the
 * switch records, where they run, then schedstat in the split's mode). */
static void put_runnable_how(out *o, bool switch_records)
{
	int mode = atomic_load_explicit(&rt_trace_runnable, memory_order_relaxed);
	rt_buf_printf(&o->b, ",\"runnable\":\"%s", switch_records ? "perf switch records" : "");
	if (mode == RT_RUNNABLE_OFF) {
		rt_buf_printf(&o->b, "%s\"", switch_records ? "" : "none");
		return;
	}
	rt_buf_printf(&o->b, "%sschedstat run_delay", switch_records ? "; " : "");
	if (switch_records)
		put(o, " where none");
	if (mode == RT_RUNNABLE_AUTO)
		rt_buf_printf(&o->b, ", of every wait while a thread reads it at most %d times a "
			      "second, else", RT_RD_BUDGET * (1000 / RT_VISIT_MS));
	if (rt_trace_visiting(mode))
		rt_buf_printf(&o->b, "%s of the waits visited in progress every %d ms",
			      mode == RT_RUNNABLE_LONG ? "," : "", RT_VISIT_MS);
	put(o, "\"");
}

/* a JSON string (quotes included), bytes below 0x20 escaped; invalid
 * UTF-8 is not repaired (names come from the program) */
static void put_str(out *o, const char *s)
{
	rt_buf_add(&o->b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			rt_buf_add(&o->b, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			rt_buf_add(&o->b, esc, 6);
		} else if (*p >= 0x80) {
			/* keep valid multi-byte sequences, replace the rest */
			int len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
			int k = 1;
			while (len && k < len && (p[k] & 0xc0) == 0x80)
				k++;
			if (len && k == len) {
				rt_buf_add(&o->b, p, (size_t)len);
				p += len - 1;
			} else {
				rt_buf_add(&o->b, "?", 1);
			}
		} else {
			rt_buf_add(&o->b, p, 1);
		}
	}
	rt_buf_add(&o->b, "\"", 1);
}

/* a non-negative integer in decimal (no printf: millions of calls) */
static void put_u(out *o, uint64_t v)
{
	char d[24];
	int n = 0;
	do
		d[sizeof d - 1 - n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 24);
	rt_buf_add(&o->b, d + sizeof d - n, (size_t)n);
}

/* µs from t0 with ns precision */
static void put_us(out *o, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	put_u(o, (uint64_t)ns / 1000);
	char f[4] = { '.', (char)('0' + ns % 1000 / 100), (char)('0' + ns % 100 / 10),
		      (char)('0' + ns % 10) };
	rt_buf_add(&o->b, f, 4);
}

static void ev_open(out *o, const char *ph, const char *name, const char *cat, int pid, int tid)
{
	put(o, o->first ? "\n{\"ph\":\"" : ",\n{\"ph\":\"");
	o->first = false;
	put(o, ph);
	put(o, "\",\"pid\":");
	put_u(o, (uint64_t)(unsigned)pid);
	put(o, ",\"tid\":");
	put_u(o, (uint64_t)(unsigned)tid);
	put(o, ",\"name\":");
	put_str(o, name);
	if (cat) {
		put(o, ",\"cat\":");
		put_str(o, cat);
	}
}

/* The JSON array of stack s's frames, appended to o. */
static void stack_json(out *o, const cprof_profile *p, int64_t s)
{
	if (s >= 0 && p && (size_t)s < cprof_nstacks(p)) {
		size_t n = cprof_stack_len(p, (uint32_t)s);
		const uint32_t *locs = cprof_stack_locs(p, (uint32_t)s);
		bool first = true;
		char a[40];
		for (size_t i = 0; i < n; i++) {
			const cprof_location *l = &p->locations.v[locs[i]];
			if (l->nline == 0) {
				snprintf(a, sizeof a, "%s\"0x%" PRIx64 "\"", first ? "" : ",", l->address);
				put(o, a);
				first = false;
				continue;
			}
			for (uint32_t k = 0; k < l->nline; k++) {
				const cprof_line *ln = &p->lines.v[l->line_off + k];
				const cprof_function *fn = &p->functions.v[ln->function];
				char f[600];
				const char *file = cprof_s(p, fn->filename);
				if (*file)
					snprintf(f, sizeof f, "%s %s:%lld", cprof_s(p, fn->name), file,
						 (long long)ln->line);
				else
					snprintf(f, sizeof f, "%s", cprof_s(p, fn->name));
				if (!first)
					put(o, ",");
				put_str(o, f);
				first = false;
			}
		}
	}
}

/* Stacks repeat (a wait site, a hot loop): each is formatted once and
 * kept (the cache owns the strings; bounded by the distinct stacks). */
typedef struct scache {
	char **s;
	size_t *len;
	size_t n;
} scache;

static void put_stack_cached(out *o, const cprof_profile *p, scache *sc, int64_t s)
{
	put(o, "\"stack\":[");
	if (s >= 0 && (size_t)s < sc->n) {
		if (!sc->s[s]) {
			out tmp = { .fd = -1 };
			stack_json(&tmp, p, s);
			if (!tmp.b.oom && tmp.b.p) {
				sc->s[s] = tmp.b.p;
				sc->len[s] = tmp.b.n;
			} else {
				rt_buf_free(&tmp.b);
				o->b.oom = true;
			}
		}
		if (sc->s[s])
			rt_buf_add(&o->b, sc->s[s], sc->len[s]);
	}
	put(o, "]");
}

static const char *kind_name(int k)
{
	switch (k) {
	case RT_TWAIT_READ: return "read";
	case RT_TWAIT_SLEEP: return "sleep";
	case RT_TWAIT_POLL: return "poll";
	case RT_TWAIT_EPOLL: return "epoll_wait";
	case RT_TWAIT_RECV: return "recv";
	case RT_TWAIT_WRITE: return "write";
	case RT_TWAIT_SEND: return "send";
	case RT_TWAIT_ACCEPT: return "accept";
	case RT_TWAIT_CONNECT: return "connect";
	case RT_TWAIT_SELECT: return "select";
	case RT_TWAIT_WAITPID: return "waitpid";
	case RT_TWAIT_SEM_POST: return "sem_post";
	case RT_TWAIT_COND_SIGNAL: return "signal";
	default: break;
	}
	if (k > RT_WAIT_NONE && k <= RT_WAIT_BARRIER)
		return rt_wait_kind_name((rt_wait_kind)k);
	return "wait";
}

/* a wake of wake_kind can end a wait of wait_kind */
static bool woken_by(int wait_kind, int wake_kind)
{
	switch (wait_kind) {
	case RT_WAIT_MUTEX: case RT_WAIT_RDLOCK: case RT_WAIT_WRLOCK:
		return wake_kind == RT_WAIT_MUTEX || wake_kind == RT_WAIT_RDLOCK ||
		       wake_kind == RT_WAIT_WRLOCK;
	case RT_WAIT_COND: return wake_kind == RT_TWAIT_COND_SIGNAL;
	case RT_WAIT_SEM: return wake_kind == RT_TWAIT_SEM_POST;
	default: return false;
	}
}

/* ---- gathering ------------------------------------------------------------------ */

typedef struct gather {
	ev *v;
	size_t n, cap;
	size_t bad;       /* malformed records skipped */
	bool counting;
} gather;

static bool has_stack(int type)
{
	return type == RT_TEV_WAIT || type == RT_TEV_SAMPLE;
}

static void gather_chunk(void *ctx, int tid, const char *data, size_t used)
{
	gather *g = ctx;
	size_t off = 0;
	while (off + sizeof(rt_tev) <= used) {
		const rt_tev *e = (const rt_tev *)(data + off);
		if (e->size < sizeof(rt_tev) || e->size % 8 || e->size > used - off ||
		    e->type < RT_TEV_WAIT || e->type > RT_TEV_SWITCH ||
		    (e->type == RT_TEV_SWITCH &&
		     (e->nframes == 0 || e->obj > INT32_MAX ||
		      sizeof(rt_tev) + (size_t)e->nframes * sizeof(uint64_t) > e->size)) ||
		    (has_stack(e->type) &&
		     sizeof(rt_tev) + (size_t)e->nframes * sizeof(uintptr_t) > e->size) ||
		    (!has_stack(e->type) && e->type != RT_TEV_WAKE && e->type != RT_TEV_THREAD_START &&
		     e->type != RT_TEV_DROPPED && e->type != RT_TEV_COUNTER &&
		     e->size == sizeof(rt_tev))) {
			g->bad++;
			return;   /* the rest of the chunk cannot be trusted */
		}
		if (!g->counting) {
			if (g->n < g->cap)
				/* switch records are the drainer's, of the thread in obj */
				g->v[g->n] = (ev){ .tid = e->type == RT_TEV_SWITCH ? (int)e->obj : tid,
						   .e = e,
						   .key = e->type == RT_TEV_WAIT ? e->t1 : e->t0,
						   .stack = -1, .rd = e->aux };
		}
		g->n++;
		off += e->size;
	}
}

static int ev_cmp(const void *a, const void *b)
{
	const ev *x = a, *y = b;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;   /* append order within a chunk */
}

static int wake_cmp(const void *a, const void *b)
{
	const wake *x = a, *y = b;
	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	return (x->t > y->t) - (x->t < y->t);
}

static const char *text_of(const rt_tev *e)
{
	return (const char *)(e + 1);
}

/* the second string of a log event, if it is inside the record */
static const char *text2_of(const rt_tev *e)
{
	const char *a = text_of(e);
	size_t room = e->size - sizeof(rt_tev);
	size_t la = strnlen(a, room);
	if (la + 1 >= room)
		return "";
	const char *b = a + la + 1;
	return strnlen(b, room - la - 1) < room - la - 1 ? b : "";
}

static bool text_ok(const rt_tev *e)
{
	size_t room = e->size - sizeof(rt_tev);
	return room > 0 && strnlen(text_of(e), room) < room;
}

static void thread_name(int tid, const ev *v, size_t n, char *dst, size_t outsz)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].e->type == RT_TEV_THREAD_END && text_ok(v[i].e) && *text_of(v[i].e)) {
			snprintf(dst, outsz, "%s", text_of(v[i].e));
			return;
		}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd >= 0 ? read(fd, dst, outsz - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (k > 0) {
		dst[k] = 0;
		char *nl = strchr(dst, '\n');
		if (nl)
			*nl = 0;
		return;
	}
	snprintf(dst, outsz, "thread %d", tid);
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct ctx {
	out o;
	int pid;
	int64_t t0, tend;
	const cprof_profile *p;
	wake *wk;
	size_t nwk;
	uint64_t flows;
	const rt_wait *ong;
	const int64_t *ong_stack;
	size_t nong;
	scache sc;
} ctx;

static void slice(ctx *c, int tid, const char *name, const char *cat, int64_t a, int64_t b)
{
	ev_open(&c->o, "X", name, cat, c->pid, tid);
	put(&c->o, ",\"ts\":");
	put_us(&c->o, a - c->t0);
	put(&c->o, ",\"dur\":");
	put_us(&c->o, b - a);
}

/* the waker of a wait of tid on obj during [a, b]: index into wk, or -1 */
static ssize_t find_waker(const ctx *c, int kind, uint64_t obj, int tid, int64_t a, int64_t b)
{
	size_t lo = 0, hi = c->nwk;
	while (lo < hi) {   /* first entry with (obj, t) > (obj, b) */
		size_t m = lo + (hi - lo) / 2;
		if (c->wk[m].obj < obj || (c->wk[m].obj == obj && c->wk[m].t <= b))
			lo = m + 1;
		else
			hi = m;
	}
	for (size_t i = lo; i-- > 0;) {
		const wake *w = &c->wk[i];
		if (w->obj != obj || w->t < a)
			break;
		if (w->tid != tid && woken_by(kind, w->kind))
			return (ssize_t)i;
	}
	return -1;
}


/* ---- switch records (trace_switch.c): exact running / runnable / off-CPU ---------- */

/* One thread's packed switch records, in time order. */
typedef struct swl {
	uint64_t *r;
	size_t n;
} swl;

enum { ST_UNKNOWN, ST_RUN, ST_RUNNABLE, ST_OFF };

static int64_t sw_t(uint64_t r)
{
	return (int64_t)(r & RT_TSW_TIME_MASK);
}

static int sw_state(uint64_t r)
{
	switch (r >> 62) {
	case RT_TSW_IN: return ST_RUN;
	case RT_TSW_OUT: return ST_OFF;
	case RT_TSW_PREEMPTED: return ST_RUNNABLE;
	default: return ST_UNKNOWN;
	}
}

/* index of the first record later than t */
static size_t sw_after(const swl *w, int64_t t)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (sw_t(w->r[m]) <= t)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* The thread's records from its batches v[0..n) (sorted by key), or an
 * empty list (none, or out of memory: then schedstat alone). */
static swl sw_collect(const ev *v, size_t n)
{
	swl w = { NULL, 0 };
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].e->type == RT_TEV_SWITCH)
			total += v[i].e->nframes;
	if (!total || !(w.r = malloc(total * sizeof *w.r)))
		return w;
	for (size_t i = 0; i < n; i++)
		if (v[i].e->type == RT_TEV_SWITCH) {
			memcpy(w.r + w.n, v[i].e + 1, v[i].e->nframes * sizeof *w.r);
			w.n += v[i].e->nframes;
		}
	/* batches of one ring are in order; keep it so if a record is not */
	for (size_t i = 1; i < w.n; i++)
		if (sw_t(w.r[i]) < sw_t(w.r[i - 1]))
			w.r[i] = (w.r[i] & ~RT_TSW_TIME_MASK) | (w.r[i - 1] & RT_TSW_TIME_MASK);
	return w;
}

/* The runnable ns of a wait [a, b] from the switch records: the time it
 * was switched out while runnable (preempted), plus, after its last
 * blocking switch-out, the time from its wake-up to the switch-in that
 * ran it again.  The wake-up is the waker's event (wake_t, 0: none) when
 * it falls in that stretch, else what schedstat's run_delay (sched_rd,
 * -1: unknown) leaves beyond the preempted time.  -1 when the records say
 * nothing of this wait (the thread has none, or some were lost). */
static int64_t sw_runnable(const swl *w, int64_t a, int64_t b, int64_t wake_t, int64_t sched_rd)
{
	if (!w->n)
		return -1;
	/* at a the thread runs: it is calling the wait */
	size_t i = sw_after(w, a);
	int st = ST_RUN;
	int64_t cur = a, preempted = 0, off0 = -1, in_t = -1;
	for (; i < w->n && sw_t(w->r[i]) <= b; i++) {
		int64_t t = sw_t(w->r[i]);
		int ns = sw_state(w->r[i]);
		if (ns == ST_UNKNOWN)
			return -1;   /* lost records inside: not exact */
		if (st == ST_RUNNABLE)
			preempted += t - cur;
		if (ns == ST_OFF)
			off0 = t;
		if (ns == ST_RUN && st == ST_OFF && off0 >= 0)
			in_t = t;
		st = ns;
		cur = t;
	}
	if (i < w->n && sw_state(w->r[i]) == ST_UNKNOWN)
		return -1;   /* records were lost up to after the wait */
	if (st == ST_RUNNABLE)
		preempted += b - cur;
	int64_t post = 0;
	if (in_t >= 0 && off0 >= 0 && off0 < in_t) {
		if (wake_t >= off0 && wake_t <= in_t)
			post = in_t - wake_t;
		else if (sched_rd >= 0)
			post = sched_rd - preempted;
		if (post < 0)
			post = 0;
		if (post > in_t - off0)
			post = in_t - off0;
	}
	return preempted + post;
}

/* Close a stretch of one state [x, y] as a slice: running, runnable
 * (switched out while runnable) or blocked (switched out, in a call the
 * trace does not see: a page fault, a raw futex, an unwrapped read). */
static void state_slice(ctx *c, int tid, int st, int64_t x, int64_t y)
{
	if (y <= x)
		return;
	if (st == ST_RUNNABLE) {
		slice(c, tid, "runnable", "runnable", x, y);
		put(&c->o, ",\"args\":{\"preempted\":true}}");
	} else if (st == ST_OFF) {
		slice(c, tid, "blocked: untraced", "blocked", x, y);
		put(&c->o, ",\"args\":{\"reason\":\"untraced\"}}");
	} else {
		slice(c, tid, "running", "running", x, y);
		put(&c->o, "}");
	}
}

/* The thread's time [x, y] outside any traced wait: "running", split by
 * the switch records where there are some. */
static void write_running(ctx *c, int tid, const swl *w, int64_t x, int64_t y)
{
	if (y <= x)
		return;
	size_t i = w->n ? sw_after(w, x) : 0;
	int st = i ? sw_state(w->r[i - 1]) : ST_UNKNOWN;
	int64_t from = x;
	for (; i < w->n && sw_t(w->r[i]) < y; i++) {
		int ns = sw_state(w->r[i]);
		int64_t t = sw_t(w->r[i]);
		bool same = ns == st || ((ns == ST_RUN || ns == ST_UNKNOWN) &&
					 (st == ST_RUN || st == ST_UNKNOWN));
		if (same)
			continue;
		state_slice(c, tid, st, from, t);
		from = t > from ? t : from;
		st = ns;
	}
	state_slice(c, tid, st, from, y);
}

/* A wait [a, b] (clipped to the session); rd: its runnable ns as drawn
 * (write_thread's, from the switch records when from_switch), placed at
 * its end, where the wake-up is. */
static void write_wait(ctx *c, int tid, const rt_tev *e, int64_t stack, int64_t a, int64_t b,
		       bool ongoing, int64_t rd, bool from_switch, ssize_t wi)
{
	char name[64];
	snprintf(name, sizeof name, "%s: %s", e->kind == RT_TWAIT_SLEEP ? "sleeping" : "blocked",
		 kind_name(e->kind));
	if (rd > b - a)
		rd = b - a;
	int64_t bend = rd > 0 ? b - rd : b;
	slice(c, tid, name, "blocked", a, bend);
	put(&c->o, ",\"args\":{\"reason\":");
	put_str(&c->o, kind_name(e->kind));
	if (e->kind == RT_TWAIT_READ || e->kind == RT_TWAIT_EPOLL || e->kind == RT_TWAIT_RECV ||
	    e->kind == RT_TWAIT_WRITE || e->kind == RT_TWAIT_SEND || e->kind == RT_TWAIT_ACCEPT || e->kind == RT_TWAIT_CONNECT)
		rt_buf_printf(&c->o.b, ",\"fd\":%d", (int)(intptr_t)e->obj);
	else if (e->obj)
		rt_buf_printf(&c->o.b, ",\"object\":\"0x%" PRIx64 "\"", e->obj);
	rt_buf_printf(&c->o.b, ",\"wait_us\":");
	put_us(&c->o, e->t1 - e->t0);
	if (rd >= 0) {
		put(&c->o, ",\"runnable_us\":");
		put_us(&c->o, rd);
		put(&c->o, from_switch ? ",\"runnable_from\":\"switch\""
				       : ",\"runnable_from\":\"schedstat\"");
	}
	if (wi >= 0)
		rt_buf_printf(&c->o.b, ",\"waker_tid\":%d", c->wk[wi].tid);
	if (ongoing)
		put(&c->o, ",\"ongoing\":true");
	put(&c->o, ",");
	put_stack_cached(&c->o, c->p, &c->sc, stack);
	put(&c->o, "}}");
	if (rd > 0) {
		slice(c, tid, "runnable", "runnable", bend, b);
		put(&c->o, "}");
	}
	if (wi >= 0) {
		uint64_t id = ++c->flows;
		ev_open(&c->o, "s", "wake", "wake", c->pid, c->wk[wi].tid);
		put(&c->o, ",\"ts\":");
		put_us(&c->o, c->wk[wi].t - c->t0);
		rt_buf_printf(&c->o.b, ",\"id\":%" PRIu64 "}", id);
		ev_open(&c->o, "f", "wake", "wake", c->pid, tid);
		put(&c->o, ",\"bp\":\"e\",\"ts\":");
		put_us(&c->o, b - c->t0);
		rt_buf_printf(&c->o.b, ",\"id\":%" PRIu64 "}", id);
	}
}

static void instant(ctx *c, int tid, const char *name, const char *cat, int64_t t)
{
	ev_open(&c->o, "i", name, cat, c->pid, tid);
	put(&c->o, ",\"s\":\"t\",\"ts\":");
	put_us(&c->o, t - c->t0);
}

static void put_labels(ctx *c, uint32_t id)
{
	const rt_lset *ls = rt_labels_get(id);
	if (!ls || !ls->n)
		return;
	put(&c->o, ",\"labels\":{");
	for (uint32_t i = 0; i < ls->n; i++) {
		if (i)
			put(&c->o, ",");
		put_str(&c->o, ls->kv[2 * i]);
		put(&c->o, ":");
		put_str(&c->o, ls->kv[2 * i + 1]);
	}
	put(&c->o, "}");
}

/* One thread's events v[0..n) (sorted by key); sets each wait's rd as
 * drawn (the counters use it). */
static void write_thread(ctx *c, int tid, ev *v, size_t n)
{
	swl w = sw_collect(v, n);
	char name[64];
	thread_name(tid, v, n, name, sizeof name);
	ev_open(&c->o, "M", "thread_name", NULL, c->pid, tid);
	put(&c->o, ",\"args\":{\"name\":");
	put_str(&c->o, name);
	put(&c->o, "}}");
	int64_t first = c->t0, last = c->tend;
	for (size_t i = 0; i < n; i++) {
		if (v[i].e->type == RT_TEV_THREAD_START && v[i].e->t0 > first)
			first = v[i].e->t0;
		if (v[i].e->type == RT_TEV_THREAD_END && v[i].e->t0 < last)
			last = v[i].e->t0;
	}
	const rt_wait *og = NULL;
	int64_t og_stack = -1;
	for (size_t i = 0; i < c->nong; i++)
		if (c->ong[i].tid == tid) {
			og = &c->ong[i];
			og_stack = c->ong_stack[i];
		}
	int64_t og_at = og ? (og->since_ns > first ? og->since_ns : first) : 0;
	if (og && og_at < last)
		last = og_at;
	int64_t cur = first;
	const char *open_regions[REGION_DEPTH];
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		const rt_tev *e = v[i].e;
		switch (e->type) {
		case RT_TEV_WAIT: {
			int64_t a = e->t0 > cur ? e->t0 : cur, b = e->t1 < last ? e->t1 : last;
			if (b <= a)
				break;
			write_running(c, tid, &w, cur, a);
			ssize_t wi = find_waker(c, e->kind, e->obj, tid, e->t0, e->t1);
			int64_t rd = sw_runnable(&w, a, b, wi >= 0 ? c->wk[wi].t : 0, e->aux);
			bool from_switch = rd >= 0;
			if (!from_switch)
				rd = e->aux;
			v[i].rd = rd;
			write_wait(c, tid, e, v[i].stack, a, b, false, rd, from_switch, wi);
			cur = b;
			break;
		}
		case RT_TEV_SAMPLE:
			instant(c, tid, "cpu sample", "sample", e->t0);
			put(&c->o, ",\"args\":{\"cpu_us\":");
			put_us(&c->o, e->aux);
			put(&c->o, ",");
			put_stack_cached(&c->o, c->p, &c->sc, v[i].stack);
			put(&c->o, "}}");
			break;
		case RT_TEV_THREAD_START:
			instant(c, tid, "thread start", "thread", e->t0);
			rt_buf_printf(&c->o.b, ",\"args\":{\"created_by\":%d}}", (int)e->obj);
			break;
		case RT_TEV_THREAD_END:
			instant(c, tid, "thread end", "thread", e->t0);
			put(&c->o, "}");
			break;
		case RT_TEV_DROPPED:
			instant(c, tid, "events dropped", "dropped", e->t0);
			rt_buf_printf(&c->o.b, ",\"args\":{\"dropped\":%" PRId64 "}}", e->aux);
			break;
		case RT_TEV_LOG:
			if (!text_ok(e))
				break;
			instant(c, tid, *text_of(e) ? text_of(e) : "log", "log", e->t0);
			put(&c->o, ",\"args\":{\"category\":");
			put_str(&c->o, text_of(e));
			put(&c->o, ",\"message\":");
			put_str(&c->o, text2_of(e));
			put_labels(c, (uint32_t)e->aux);
			put(&c->o, "}}");
			break;
		case RT_TEV_REGION_BEGIN:
			if (!text_ok(e) || depth >= REGION_DEPTH)
				break;
			open_regions[depth++] = text_of(e);
			ev_open(&c->o, "b", text_of(e), "region", c->pid, tid);
			put(&c->o, ",\"ts\":");
			put_us(&c->o, e->t0 - c->t0);
			rt_buf_printf(&c->o.b, ",\"id\":\"0x%x\",\"args\":{", tid);
			put(&c->o, "\"region\":");
			put_str(&c->o, text_of(e));
			put_labels(c, (uint32_t)e->aux);
			put(&c->o, "}}");
			break;
		case RT_TEV_REGION_END: {
			if (!text_ok(e))
				break;
			int k = depth;
			while (k > 0 && strcmp(open_regions[k - 1], text_of(e)) != 0)
				k--;
			if (k == 0)
				break;   /* an end without its begin in the trace */
			/* close the inner ones first (an end skipped by the program) */
			while (depth >= k) {
				ev_open(&c->o, "e", open_regions[depth - 1], "region", c->pid, tid);
				put(&c->o, ",\"ts\":");
				put_us(&c->o, e->t0 - c->t0);
				rt_buf_printf(&c->o.b, ",\"id\":\"0x%x\"}", tid);
				depth--;
			}
			break;
		}
		default:
			break;
		}
		flush(&c->o, false);
	}
	write_running(c, tid, &w, cur, last);
	if (og && c->tend > og_at) {
		rt_tev fake = { .type = RT_TEV_WAIT, .kind = (uint8_t)og->kind, .t0 = og->since_ns,
				.t1 = c->tend, .obj = (uint64_t)(uintptr_t)og->obj, .aux = -1 };
		write_wait(c, tid, &fake, og_stack, og_at, c->tend, true, -1, false, -1);
	}
	free(w.r);
	while (depth > 0) {
		ev_open(&c->o, "e", open_regions[depth - 1], "region", c->pid, tid);
		put(&c->o, ",\"ts\":");
		put_us(&c->o, (last > cur ? last : cur) - c->t0);
		rt_buf_printf(&c->o.b, ",\"id\":\"0x%x\"}", tid);
		depth--;
	}
}

/* A change of the process's counters at t. */
typedef struct cpt {
	int64_t t;
	int dblocked, drunnable;
} cpt;

static int cpt_cmp(const void *a, const void *b)
{
	const cpt *x = a, *y = b;
	return (x->t > y->t) - (x->t < y->t);
}

/* "C" counters: how many threads were blocked and how many runnable (in
 * the runnable part of a wait) over time, from the waits as drawn. */
static void write_counters(ctx *c, const ev *v, size_t n)
{
	size_t nw = 0;
	for (size_t i = 0; i < n; i++)
		nw += v[i].e->type == RT_TEV_WAIT;
	nw += c->nong;
	cpt *pt = malloc((4 * nw + 1) * sizeof *pt);
	if (!pt)
		return;   /* the counters only: the trace stays whole */
	size_t k = 0;
	for (size_t i = 0; i < n + c->nong; i++) {
		int64_t a, b, rd;
		if (i < n) {
			if (v[i].e->type != RT_TEV_WAIT)
				continue;
			a = v[i].e->t0;
			b = v[i].e->t1;
			rd = v[i].rd;
		} else {
			a = c->ong[i - n].since_ns;
			b = c->tend;
			rd = -1;
		}
		if (a < c->t0)
			a = c->t0;
		if (b > c->tend)
			b = c->tend;
		if (b <= a)
			continue;
		if (rd > b - a)
			rd = b - a;
		int64_t mid = rd > 0 ? b - rd : b;
		pt[k++] = (cpt){ a, 1, 0 };
		pt[k++] = (cpt){ mid, -1, 0 };
		if (rd > 0) {
			pt[k++] = (cpt){ mid, 0, 1 };
			pt[k++] = (cpt){ b, 0, -1 };
		}
	}
	qsort(pt, k, sizeof *pt, cpt_cmp);
	int blocked = 0, runnable = 0;
	for (size_t i = 0; i < k;) {
		int64_t t = pt[i].t;
		for (; i < k && pt[i].t == t; i++) {
			blocked += pt[i].dblocked;
			runnable += pt[i].drunnable;
		}
		ev_open(&c->o, "C", "threads", NULL, c->pid, 0);
		put(&c->o, ",\"ts\":");
		put_us(&c->o, t - c->t0);
		rt_buf_printf(&c->o.b, ",\"args\":{\"blocked\":%d,\"runnable\":%d}}", blocked,
			      runnable);
		flush(&c->o, false);
	}
	free(pt);
	/* the sampled ones (trace_env.c's thread): threads alive, heap in use */
	for (size_t i = 0; i < n; i++) {
		const rt_tev *e = v[i].e;
		if (e->type != RT_TEV_COUNTER || e->t0 < c->t0 || e->t0 > c->tend)
			continue;
		ev_open(&c->o, "C", "threads alive", NULL, c->pid, 0);
		put(&c->o, ",\"ts\":");
		put_us(&c->o, e->t0 - c->t0);
		rt_buf_printf(&c->o.b, ",\"args\":{\"threads\":%" PRIu64 "}}", e->obj);
		if (e->kind != RT_TCOUNT_HEAP_NONE && e->aux >= 0) {
			ev_open(&c->o, "C", "heap in use", NULL, c->pid, 0);
			put(&c->o, ",\"ts\":");
			put_us(&c->o, e->t0 - c->t0);
			rt_buf_printf(&c->o.b, ",\"args\":{\"%s\":%" PRId64 "}}",
				      e->kind == RT_TCOUNT_HEAP_PROFILE ? "bytes (heap profile)"
								       : "bytes (mallinfo2)", e->aux);
		}
		flush(&c->o, false);
	}
}

int rt_trace_write_json(int fd)
{
	rt_self_enter();
	rt_trace_info in;
	rt_trace_get_info(&in);
	gather g = { .counting = true };
	rt_trace_chunks(gather_chunk, &g);
	size_t total = g.n;
	g = (gather){ .v = malloc((total ? total : 1) * sizeof(ev)), .cap = total };
	rt_wait *ong = malloc(ONGOING_MAX * sizeof(rt_wait));
	int64_t *ong_stack = malloc(ONGOING_MAX * sizeof(int64_t));
	cprof_profile *p = cprof_profile_new();
	rt_pb *pb = p ? rt_pb_new(p) : NULL;
	ctx c = { .o = { .fd = fd, .first = true }, .pid = (int)getpid(), .t0 = in.start_ns,
		  .tend = in.end_ns, .ong = ong, .ong_stack = ong_stack };
	int rc = 0;
	if (!g.v || !ong || !ong_stack || !pb) {
		rt_set_error("cannot write the trace: out of memory");
		rc = CPROF_ERR_NOMEM;
		goto done;
	}
	rt_trace_chunks(gather_chunk, &g);
	if (g.n > total)
		g.n = total;
	/* waits still going on now, started before the session's end */
	size_t no = rt_sync_waits(ong, ONGOING_MAX), k = 0;
	for (size_t i = 0; i < no; i++)
		if (ong[i].since_ns < in.end_ns && !rt_self_tid(ong[i].tid))
			ong[k++] = ong[i];
	c.nong = k;
	/* symbolize every stack once */
	for (size_t i = 0; i < g.n; i++)
		if (has_stack(g.v[i].e->type) && g.v[i].e->nframes > 0) {
			int64_t s = rt_pb_stack(pb, (const uintptr_t *)(g.v[i].e + 1), g.v[i].e->nframes);
			g.v[i].stack = s >= 0 ? s : -1;
		}
	for (size_t i = 0; i < c.nong; i++) {
		int nf = ong[i].nframes;
		int64_t s = nf > 0 ? rt_pb_stack(pb, ong[i].pcs, (size_t)nf) : -1;
		ong_stack[i] = s >= 0 ? s : -1;
	}
	if (rt_pb_finish(pb) < 0) {
		rt_set_error("cannot write the trace: out of memory");
		rc = CPROF_ERR_NOMEM;
		goto done;
	}
	c.p = p;
	c.sc.n = cprof_nstacks(p);
	c.sc.s = calloc(c.sc.n ? c.sc.n : 1, sizeof(char *));
	c.sc.len = calloc(c.sc.n ? c.sc.n : 1, sizeof(size_t));
	if (!c.sc.s || !c.sc.len) {
		rt_set_error("cannot write the trace: out of memory");
		rc = CPROF_ERR_NOMEM;
		goto done;
	}
	qsort(g.v, g.n, sizeof(ev), ev_cmp);
	size_t nw = 0;
	for (size_t i = 0; i < g.n; i++)
		nw += g.v[i].e->type == RT_TEV_WAKE;
	c.wk = malloc((nw ? nw : 1) * sizeof(wake));
	if (!c.wk) {
		rc = CPROF_ERR_NOMEM;
		rt_set_error("cannot write the trace: out of memory");
		goto done;
	}
	for (size_t i = 0; i < g.n; i++)
		if (g.v[i].e->type == RT_TEV_WAKE)
			c.wk[c.nwk++] = (wake){ .obj = g.v[i].e->obj, .t = g.v[i].e->t0,
						.tid = g.v[i].tid, .kind = g.v[i].e->kind };
	qsort(c.wk, c.nwk, sizeof(wake), wake_cmp);

	out *o = &c.o;
	rt_tsw_stats sw;
	rt_tsw_info(&sw);
	put(o, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"cprof\"");
	rt_buf_printf(&o->b, ",\"pid\":%d,\"start_monotonic_ns\":%" PRId64
		      ",\"duration_ns\":%" PRId64 ",\"events\":%" PRIu64
		      ",\"dropped_events\":%" PRIu64 ",\"malformed_records\":%zu"
		      ",\"buffer_bytes\":%" PRIu64 ",\"quiesce\":\"%s\"",
		      c.pid, in.start_ns, in.end_ns - in.start_ns, in.recorded, in.dropped, g.bad,
		      in.budget, in.membarrier ? "membarrier" : "grace period");
	put_runnable_how(o, sw.working);
	rt_buf_printf(&o->b, ",\"schedstat_reads\":%" PRIu64,
		      atomic_load_explicit(&rt_trace_schedstat_reads, memory_order_relaxed));
	if (sw.working)
		rt_buf_printf(&o->b, ",\"switch_records\":{\"threads\":%d,\"threads_without\":%" PRIu64
			      ",\"lost\":%" PRIu64 "}", sw.threads, sw.threads_without, sw.lost);
	else if (sw.wanted) {
		put(o, ",\"switch_records\":{\"refused\":");
		put_str(o, sw.refused);
		put(o, "}");
	}
	put(o, "}");
	put(o, ",\"traceEvents\":[");
	char comm[64];
	thread_name(c.pid, NULL, 0, comm, sizeof comm);
	ev_open(o, "M", "process_name", NULL, c.pid, 0);
	put(o, ",\"args\":{\"name\":");
	put_str(o, comm);
	put(o, "}}");
	if (in.dropped) {
		char msg[128];
		snprintf(msg, sizeof msg, "cprof: %" PRIu64 " events dropped (trace buffer full)",
			 in.dropped);
		ev_open(o, "i", msg, "dropped", c.pid, 0);
		put(o, ",\"s\":\"g\",\"ts\":0}");
	}
	for (size_t i = 0; i < g.n;) {
		size_t j = i;
		bool counters_only = true;
		for (; j < g.n && g.v[j].tid == g.v[i].tid; j++)
			if (g.v[j].e->type != RT_TEV_COUNTER)
				counters_only = false;
		if (!counters_only)   /* the runtime's counter thread has no lane */
			write_thread(&c, g.v[i].tid, g.v + i, j - i);
		i = j;
	}
	write_counters(&c, g.v, g.n);
	/* threads blocked the whole session: no event of their own */
	for (size_t i = 0; i < c.nong; i++) {
		bool seen = false;
		for (size_t j = 0; j < g.n && !seen; j++)
			seen = g.v[j].tid == ong[i].tid;
		for (size_t j = 0; j < i && !seen; j++)
			seen = ong[j].tid == ong[i].tid;
		if (!seen)
			write_thread(&c, ong[i].tid, NULL, 0);
	}
	put(o, "\n]}\n");
	flush(o, true);
	rc = o->rc;
done:
	for (size_t i = 0; c.sc.s && i < c.sc.n; i++)
		free(c.sc.s[i]);
	free(c.sc.s);
	free(c.sc.len);
	rt_buf_free(&c.o.b);
	free(c.wk);
	free(g.v);
	free(ong);
	free(ong_stack);
	if (pb)
		rt_pb_free(pb);
	cprof_profile_free(p);
	rt_self_leave();
	return rc;
}
