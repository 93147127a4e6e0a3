/*
 * trace_perfetto.c - the runtime's execution trace (Chrome Trace Event
 * JSON) converted to Perfetto's protobuf trace format (cprof_trace.h):
 * `cprof -trace_convert=perfetto -output=F trace.json`.
 *
 * What is written: a Trace of TracePackets on one sequence (id 1, the
 * first packet clearing its incremental state; nothing is interned).
 * First the TrackDescriptors: one per process (pid, name), one per thread
 * (pid, tid, its thread_name), one "regions" track under each thread that
 * has user regions, and one counter track per counter series (a "C"
 * event's name and numeric argument: "threads blocked", "threads alive
 * threads", ...).  Then one packet per event, in the JSON's order, with
 * its timestamp in ns (the JSON's µs from the session's start):
 *   X            SLICE_BEGIN + SLICE_END on the thread's track (name,
 *                category, debug annotations reason and waker_tid)
 *   b / e        SLICE_BEGIN / SLICE_END on the thread's regions track
 *   i            INSTANT on the thread's track (a "g" scope: the process's)
 *   s / f        INSTANT "wake" on the waker's track carrying flow_ids,
 *                INSTANT "woken" on the waiter's carrying
 *                terminating_flow_ids: the waker's arrow
 *   C            COUNTER (double_counter_value) on each series' track
 *   M            names only (in the descriptors)
 * Two passes over the JSON (the validating scanner of cprof_jscan.h, the
 * trace reader's limits; each event's fields by cprof_trace_event.h): the first finds the tracks, the second writes
 * the events.  Memory: the output plus the tracks, bounded by the input.
 * Pure; thread-safe on distinct inputs.
 */
#include "cprof_trace.h"
#include "cprof_jscan.h"
#include "cprof_trace_event.h"
#include "cprof_pbw.h"
#include "cprof_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 64
#define STR_MAX 4096
#define TRACKS_MAX (1u << 20)

/* Perfetto's field numbers (protos/perfetto/trace/...) */
enum {
	TRACE_PACKET = 1,
	TP_TIMESTAMP = 8, TP_SEQ_ID = 10, TP_TRACK_EVENT = 11, TP_SEQ_FLAGS = 13,
	TP_TRACK_DESCRIPTOR = 60,
	TD_UUID = 1, TD_NAME = 2, TD_PROCESS = 3, TD_THREAD = 4, TD_PARENT = 5, TD_COUNTER = 8,
	PD_PID = 1, PD_NAME = 6,
	THD_PID = 1, THD_TID = 2, THD_NAME = 5,
	TE_ANNOTATION = 4, TE_TYPE = 9, TE_TRACK = 11, TE_CATEGORY = 22, TE_NAME = 23,
	TE_DOUBLE_COUNTER = 44, TE_FLOW = 47, TE_FLOW_END = 48,
	DA_INT = 4, DA_STRING = 6, DA_NAME = 10,
};
enum { SLICE_BEGIN = 1, SLICE_END = 2, INSTANT = 3, COUNTER = 4 };
enum { SEQ_CLEARED = 1, SEQ_NEEDS = 2 };

typedef struct track {
	uint64_t uuid, parent;
	int kind;                  /* 1 process, 2 thread, 3 regions, 4 counter */
	uint32_t pid, tid;
	char *name;
} track;

typedef cprof_tev_fields ev;

typedef struct conv {
	track *t;
	size_t n, cap;
	cprof_pbw *w;
	bool writing, oom;
	ev e;
} conv;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return (x ^ (x >> 31)) | 1;   /* never 0, the default track */
}

static uint32_t id32(double d)
{
	return d >= 0 && d <= 4294967295.0 ? (uint32_t)d : 0;
}

/* The track of (kind, pid, tid, name), made when new (first pass), or its
 * uuid only (second pass: every track was made). */
static uint64_t track_of(conv *c, int kind, uint32_t pid, uint32_t tid, const char *name)
{
	uint64_t h = (uint64_t)kind << 56 ^ (uint64_t)pid << 24 ^ tid;
	for (const char *s = name ? name : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	uint64_t uuid = mix(h);
	if (c->writing)
		return uuid;
	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].uuid == uuid)
			return uuid;
	if (c->n >= TRACKS_MAX || cprof_reserve((void **)&c->t, &c->cap, c->n + 1, sizeof *c->t) < 0 ||
	    !(c->t[c->n].name = strdup(name ? name : ""))) {
		c->oom = true;
		return uuid;
	}
	c->t[c->n] = (track){ uuid, 0, kind, pid, tid, c->t[c->n].name };
	if (kind != 1)
		c->t[c->n].parent = mix((uint64_t)1 << 56 ^ (uint64_t)pid << 24);
	if (kind == 3)
		c->t[c->n].parent = mix((uint64_t)2 << 56 ^ (uint64_t)pid << 24 ^ tid);
	c->n++;
	if (kind == 2 || kind == 4)
		track_of(c, 1, pid, 0, NULL);   /* its process */
	if (kind == 3)
		track_of(c, 2, pid, tid, NULL);
	return uuid;
}

static track *find(conv *c, uint64_t uuid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].uuid == uuid)
			return &c->t[i];
	return NULL;
}

/* ---- writing ------------------------------------------------------------------ */

static uint64_t ns_of(int64_t ns)
{
	return ns > 0 ? (uint64_t)ns : 0;
}

static void str_field(cprof_pbw *w, unsigned f, const char *s)
{
	cprof_pbw_bytes(w, f, s, strlen(s));
}

/* One TrackEvent packet; its fields by the caller between begin/end. */
static size_t packet_begin(conv *c, uint64_t ts, size_t *te)
{
	size_t p = cprof_pbw_begin(c->w, TRACE_PACKET);
	cprof_pbw_varint(c->w, TP_TIMESTAMP, ts);
	cprof_pbw_varint(c->w, TP_SEQ_ID, 1);
	cprof_pbw_varint(c->w, TP_SEQ_FLAGS, SEQ_NEEDS);
	*te = cprof_pbw_begin(c->w, TP_TRACK_EVENT);
	return p;
}

static void packet_end(conv *c, size_t p, size_t te)
{
	cprof_pbw_end(c->w, te);
	cprof_pbw_end(c->w, p);
}

static void simple(conv *c, uint64_t ts, int type, uint64_t tk, const char *name,
		   const char *cat, const ev *e)
{
	size_t te, p = packet_begin(c, ts, &te);
	cprof_pbw_varint(c->w, TE_TYPE, (uint64_t)type);
	cprof_pbw_varint(c->w, TE_TRACK, tk);
	if (cat && *cat)
		str_field(c->w, TE_CATEGORY, cat);
	if (name)
		str_field(c->w, TE_NAME, name);
	if (e && e->reason[0]) {
		size_t a = cprof_pbw_begin(c->w, TE_ANNOTATION);
		str_field(c->w, DA_NAME, "reason");
		str_field(c->w, DA_STRING, e->reason);
		cprof_pbw_end(c->w, a);
	}
	if (e && e->has_waker) {
		size_t a = cprof_pbw_begin(c->w, TE_ANNOTATION);
		str_field(c->w, DA_NAME, "waker_tid");
		cprof_pbw_varint(c->w, DA_INT, (uint64_t)(int64_t)e->waker);
		cprof_pbw_end(c->w, a);
	}
	packet_end(c, p, te);
}

static void counter_name(char *out, size_t n, const ev *e, int k)
{
	snprintf(out, n, "%s %s", e->name, e->nkey[k]);
}

static void write_event(conv *c, const ev *e)
{
	uint32_t pid = id32(e->pid), tid = id32(e->tid);
	uint64_t ts = ns_of(e->ts);
	switch (e->ph) {
	case 'X': {
		uint64_t t = track_of(c, 2, pid, tid, NULL);
		simple(c, ts, SLICE_BEGIN, t, e->name, e->cat, e);
		simple(c, ts + ns_of(e->has_dur ? e->dur : 0), SLICE_END, t, NULL, NULL, NULL);
		break;
	}
	case 'b':
	case 'e':
		simple(c, ts, e->ph == 'b' ? SLICE_BEGIN : SLICE_END, track_of(c, 3, pid, tid, "regions"),
		       e->ph == 'b' ? e->name : NULL, e->ph == 'b' ? "region" : NULL, NULL);
		break;
	case 'i':
	case 'I':
		simple(c, ts, INSTANT, e->scope[0] == 'g' || e->scope[0] == 'p'
			? track_of(c, 1, pid, 0, NULL) : track_of(c, 2, pid, tid, NULL),
		       e->name, e->cat, NULL);
		break;
	case 's':
	case 'f': {
		if (!e->has_id)
			break;
		size_t te, p = packet_begin(c, ts, &te);
		cprof_pbw_varint(c->w, TE_TYPE, INSTANT);
		cprof_pbw_varint(c->w, TE_TRACK, track_of(c, 2, pid, tid, NULL));
		str_field(c->w, TE_NAME, e->ph == 's' ? "wake" : "woken");
		cprof_pbw_fixed64(c->w, e->ph == 's' ? TE_FLOW : TE_FLOW_END, e->id);
		packet_end(c, p, te);
		break;
	}
	case 'C':
		for (int k = 0; k < e->nnum; k++) {
			char nm[400];
			counter_name(nm, sizeof nm, e, k);
			size_t te, p = packet_begin(c, ts, &te);
			cprof_pbw_varint(c->w, TE_TYPE, COUNTER);
			cprof_pbw_varint(c->w, TE_TRACK, track_of(c, 4, pid, 0, nm));
			cprof_pbw_double(c->w, TE_DOUBLE_COUNTER, e->nval[k]);
			packet_end(c, p, te);
		}
		break;
	default:
		break;
	}
}

/* First pass: the tracks an event needs, and the names of M events. */
static void find_tracks(conv *c, const ev *e)
{
	uint32_t pid = id32(e->pid), tid = id32(e->tid);
	if (e->ph == 'M') {
		bool proc = strcmp(e->name, "process_name") == 0;
		if (!proc && strcmp(e->name, "thread_name") != 0)
			return;
		uint64_t u = proc ? track_of(c, 1, pid, 0, NULL) : track_of(c, 2, pid, tid, NULL);
		track *t = find(c, u);
		char *nm = t ? strdup(e->aname) : NULL;
		if (t && nm) {
			free(t->name);
			t->name = nm;
		} else if (t) {
			c->oom = true;
		}
		return;
	}
	bool was = c->writing;
	c->writing = false;
	if (e->ph == 'C') {
		for (int k = 0; k < e->nnum; k++) {
			char nm[400];
			counter_name(nm, sizeof nm, e, k);
			track_of(c, 4, pid, 0, nm);
		}
	} else if (e->ph == 'b' || e->ph == 'e') {
		track_of(c, 3, pid, tid, "regions");
	} else if (strchr("XiIsf", e->ph) && e->ph) {
		track_of(c, 2, pid, tid, NULL);
		track_of(c, 1, pid, 0, NULL);
	}
	c->writing = was;
}

static bool event_elem(cprof_jscan *j, void *ctx)
{
	conv *c = ctx;
	ev *e = &c->e;
	bool obj;
	if (!cprof_tev_read(j, e, &obj))
		return false;
	if (!obj || (!e->has_ts && e->ph != 'M'))
		return true;
	if (c->writing)
		write_event(c, e);
	else
		find_tracks(c, e);
	if (c->oom)
		return cprof_js_fail(j, "out of memory");
	return true;
}

static void write_descriptors(conv *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const track *t = &c->t[i];
		size_t p = cprof_pbw_begin(c->w, TRACE_PACKET);
		cprof_pbw_varint(c->w, TP_SEQ_ID, 1);
		if (i == 0)
			cprof_pbw_varint(c->w, TP_SEQ_FLAGS, SEQ_CLEARED);
		size_t d = cprof_pbw_begin(c->w, TP_TRACK_DESCRIPTOR);
		cprof_pbw_varint(c->w, TD_UUID, t->uuid);
		if (t->parent)
			cprof_pbw_varint(c->w, TD_PARENT, t->parent);
		if (t->kind == 1) {
			size_t q = cprof_pbw_begin(c->w, TD_PROCESS);
			cprof_pbw_varint(c->w, PD_PID, t->pid);
			if (*t->name)
				str_field(c->w, PD_NAME, t->name);
			cprof_pbw_end(c->w, q);
		} else if (t->kind == 2) {
			size_t q = cprof_pbw_begin(c->w, TD_THREAD);
			cprof_pbw_varint(c->w, THD_PID, t->pid);
			cprof_pbw_varint(c->w, THD_TID, t->tid);
			if (*t->name)
				str_field(c->w, THD_NAME, t->name);
			cprof_pbw_end(c->w, q);
		} else {
			str_field(c->w, TD_NAME, t->name);
			if (t->kind == 4)
				cprof_pbw_end(c->w, cprof_pbw_begin(c->w, TD_COUNTER));
		}
		cprof_pbw_end(c->w, d);
		cprof_pbw_end(c->w, p);
	}
}

int cprof_trace_perfetto(const char *data, size_t len, void **out, size_t *outlen,
			 cprof_error *err)
{
	*out = NULL;
	*outlen = 0;
	conv c = { .w = cprof_pbw_new() };
	int rc = 0;
	if (!c.w) {
		rc = CPROF_ENOMEM;
		goto done;
	}
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		c.writing = pass == 1;
		if (c.writing)
			write_descriptors(&c);
		cprof_jscan j = { .s = data, .e = data + len, .base = data, .depth_max = DEPTH_MAX,
				  .str_max = STR_MAX };
		if (!cprof_js_trace(&j, event_elem, &c)) {
			rc = c.oom ? CPROF_ENOMEM : CPROF_EFORMAT;
			if (err && rc == CPROF_EFORMAT) {
				err->code = rc;
				snprintf(err->msg, sizeof err->msg, "not a Chrome trace: %s at byte %zu",
					 j.why, j.at);
			}
		}
	}
	if (rc == 0)
		rc = cprof_pbw_take(c.w, out, outlen);
done:
	if (rc == CPROF_ENOMEM && err && !err->code) {
		err->code = rc;
		snprintf(err->msg, sizeof err->msg, "out of memory converting the trace");
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.t[i].name);
	free(c.t);
	cprof_pbw_free(c.w);
	return rc;
}
