/*
 * deadlock.c - the deadlock profile: threads that wait on each other in a
 * cycle, and threads stuck on a lock nobody will release (the native
 * analogue of Go 1.26's goroutine leak profile).
 *
 * How it works.  A thread snapshot (tprof.c) gives every live thread with
 * its stack and, from the interposed primitives (sync.c, rt_sync_waits),
 * what it waits on and since when.  Each waiting thread gets at most one
 * wait-for edge, to the thread that can release what it waits on:
 *   mutex            its owner as glibc records it (rt_mutex_owner)
 *   rwlock           its writer (glibc's __cur_writer; readers are not
 *                    recorded anywhere, so a writer waiting on readers has
 *                    no edge)
 *   pthread_join     the joined thread (the pthread_t found in the thread
 *                    registry of threads.c)
 *   cond, semaphore, barrier: no owner, no edge
 * With out-degree at most one, the graph's cycles are found by following
 * edges from each thread with the usual three colours.  A cycle is
 * reported only if every wait record in it is the same (thread, object,
 * start time) in a second read of the records taken CONFIRM_MS later, so a
 * cycle assembled from records read at different instants of a healthy
 * program is not reported.  Threads whose chain of edges ends in a cycle,
 * or at an owner that has exited, are stuck for good ("blocked behind
 * cycle N", "owner exited"); they and any other wait older than the
 * threshold (CPROF_DEADLOCK_THRESHOLD_MS, default 10000: "long wait",
 * which may still end) are listed once they have waited past it.
 *
 * Formats: debug=0 a profile.proto of sample type deadlock/count, one
 * sample per reported thread (its stack) with labels naming the finding
 * ("kind": cycle | blocked behind cycle | owner exited | long wait),
 * "cycle" (its number), "waits" (the lock), "holds" (the locks others wait
 * for), "owner", "thread" and "tid"; debug=1 the same as readable text,
 * cycle by cycle, with each thread's frames in Go's "#\taddr\tfn\tfile:line"
 * form.  A healthy program gives a profile with no samples and the text
 * "deadlock profile: 0 cycles, 0 stuck threads, 0 long waits".
 */
#include "rt_base.h"
#include "rt_wait.h"
#include "rt_profile.h"
#include "rt_env.h"
#include "cprof.h"
#include "tprof.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CONFIRM_MS 20

enum { K_NONE, K_CYCLE, K_BEHIND, K_DEAD, K_LONG };
static const char *const kind_name[] = { "", "cycle", "blocked behind cycle", "owner exited",
					 "long wait" };

typedef struct node {
	int next;          /* index of the thread it waits for; -1 none; -2 exited owner */
	int owner_tid;     /* the releasing thread's tid (0: unknown) */
	int kind;          /* K_* */
	int cycle;         /* its cycle number (K_CYCLE, K_BEHIND), from 1 */
	bool stable;       /* the same wait in the second read */
	int color;
} node;

static long threshold_ms(void)
{
	/* read once (envparse.c): a bad value is reported and the default stands
	 * for this threshold (the profile itself stays on) */
	static long cached = -1;
	if (cached < 0) {
		long v = 10000;
		if (rt_env_long("CPROF_DEADLOCK_THRESHOLD_MS", 0, 86400000L,
				"the default 10000 ms stands", &v) != RT_ENV_OK)
			v = 10000;
		cached = v;
	}
	return cached;
}

/* glibc's pthread_rwlock_t: the writer's tid, read without faulting. */
static int rwlock_writer(const void *rw)
{
	pthread_rwlock_t copy;
	struct iovec l = { &copy, sizeof copy }, r = { (void *)rw, sizeof copy };
	if (!rw || syscall(SYS_process_vm_readv, (long)getpid(), &l, 1L, &r, 1L, 0L) != (long)sizeof copy)
		return 0;
	return copy.__data.__cur_writer;
}

static const char *obj_kind(rt_wait_kind k)
{
	switch (k) {
	case RT_WAIT_MUTEX: return "mutex";
	case RT_WAIT_RDLOCK:
	case RT_WAIT_WRLOCK: return "rwlock";
	case RT_WAIT_COND: return "cond";
	case RT_WAIT_SEM: return "semaphore";
	case RT_WAIT_JOIN: return "thread";
	case RT_WAIT_BARRIER: return "barrier";
	default: return "object";
	}
}

static int find_tid(const rt_snapshot *s, int tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return (int)i;
	return -1;
}

/* The analysis: nodes[i] for s->t[i]. */
static void analyse(const rt_snapshot *s, node *nd, const rt_wait *w2, size_t nw2, int *ncycles)
{
	for (size_t i = 0; i < s->n; i++) {
		const rt_tsnap *t = &s->t[i];
		node *x = &nd[i];
		memset(x, 0, sizeof *x);
		x->next = -1;
		if (!t->has_wait)
			continue;
		for (size_t k = 0; k < nw2; k++)
			if (w2[k].tid == t->tid && w2[k].obj == t->wait.obj &&
			    w2[k].since_ns == t->wait.since_ns && w2[k].kind == t->wait.kind)
				x->stable = true;
		int owner = 0;
		switch (t->wait.kind) {
		case RT_WAIT_MUTEX:
			owner = rt_mutex_owner(t->wait.obj);
			break;
		case RT_WAIT_RDLOCK:
		case RT_WAIT_WRLOCK:
			owner = rwlock_writer(t->wait.obj);
			break;
		case RT_WAIT_JOIN: {
			uintptr_t th = (uintptr_t)(t->wait.obj2 ? t->wait.obj2 : t->wait.obj);
			for (size_t k = 0; k < s->ninfo; k++)
				if (s->info[k].self == th)
					owner = s->info[k].tid;
			break;
		}
		default:
			break;
		}
		x->owner_tid = owner;
		if (owner > 0) {
			int j = find_tid(s, owner);
			x->next = j >= 0 ? j : -2;
		}
	}
	/* cycles: follow edges, colour 1 on the current path, 2 done */
	int nc = 0;
	for (size_t i = 0; i < s->n; i++) {
		int v = (int)i;
		while (v >= 0 && nd[v].color == 0) {
			nd[v].color = 1;
			v = nd[v].next;
		}
		if (v >= 0 && nd[v].color == 1) {
			/* a new cycle through v: confirmed only if stable all round */
			bool ok = true;
			int u = v;
			do {
				ok = ok && nd[u].stable;
				u = nd[u].next;
			} while (u != v);
			if (ok) {
				nc++;
				u = v;
				do {
					nd[u].kind = K_CYCLE;
					nd[u].cycle = nc;
					u = nd[u].next;
				} while (u != v);
			}
		}
		for (v = (int)i; v >= 0 && nd[v].color == 1; v = nd[v].next)
			nd[v].color = 2;
	}
	*ncycles = nc;
	/* chains into a cycle or to an exited owner */
	for (size_t i = 0; i < s->n; i++) {
		if (nd[i].kind || !s->t[i].has_wait)
			continue;
		int v = (int)i, steps = 0;
		while (v >= 0 && nd[v].kind != K_CYCLE && steps++ < (int)s->n)
			v = nd[v].next;
		if (v >= 0 && nd[v].kind == K_CYCLE) {
			nd[i].kind = K_BEHIND;
			nd[i].cycle = nd[v].cycle;
		} else if (v == -2) {
			nd[i].kind = K_DEAD;
		}
	}
}

typedef struct report {
	int idx;           /* thread index */
	int kind, cycle;
	char waits[96], holds[256], owner[48];
	uint32_t stack;
} report;

static int cmp_report(const void *a, const void *b)
{
	const report *x = a, *y = b;
	if ((x->cycle == 0) != (y->cycle == 0))
		return x->cycle ? -1 : 1;
	if (x->cycle != y->cycle)
		return x->cycle < y->cycle ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->idx - y->idx;
}

static int deadlock_profile(cprof_profile **pout, int debug, rt_buf *out)
{
	rt_snapshot s;
	int rc = rt_snapshot_take(&s);
	if (rc < 0)
		return rc;
	struct timespec ts = { 0, CONFIRM_MS * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	size_t wcap = s.n + 64;
	rt_wait *w2 = malloc(wcap * sizeof *w2);
	node *nd = calloc(s.n ? s.n : 1, sizeof *nd);
	report *rep = calloc(s.n ? s.n : 1, sizeof *rep);
	cprof_profile *p = cprof_profile_new();
	rt_pb *b = p ? rt_pb_new(p) : NULL;
	if (!w2 || !nd || !rep || !b) {
		rc = CPROF_ERR_NOMEM;
		goto out;
	}
	size_t nw2 = rt_sync_waits(w2, wcap);
	int ncycles = 0;
	analyse(&s, nd, w2, nw2, &ncycles);
	int64_t thr_ns = threshold_ms() * (int64_t)1000000;
	size_t nrep = 0;
	int nstuck = 0, nlong = 0;
	for (size_t i = 0; i < s.n; i++) {
		const rt_tsnap *t = &s.t[i];
		int kind = nd[i].kind;
		if (!t->has_wait)
			continue;
		bool old = t->wait_ns >= thr_ns;
		if (kind == K_NONE && old)
			kind = K_LONG;
		if (kind == K_NONE || ((kind == K_DEAD || kind == K_LONG || kind == K_BEHIND) && !old))
			continue;
		report *r = &rep[nrep++];
		r->idx = (int)i;
		r->kind = kind;
		r->cycle = nd[i].cycle;
		if (kind == K_LONG)
			nlong++;
		else if (kind != K_CYCLE)
			nstuck++;
		snprintf(r->waits, sizeof r->waits, "%s %p", obj_kind(t->wait.kind),
			 t->wait.kind == RT_WAIT_JOIN && t->wait.obj2 ? t->wait.obj2 : t->wait.obj);
		if (nd[i].owner_tid > 0)
			snprintf(r->owner, sizeof r->owner, "thread %d%s", nd[i].owner_tid,
				 nd[i].next == -2 ? " (exited)" : "");
		/* what it holds: the objects others wait on with it as owner */
		size_t hl = 0;
		for (size_t j = 0; j < s.n; j++)
			if (s.t[j].has_wait && nd[j].owner_tid == t->tid &&
			    s.t[j].wait.kind != RT_WAIT_JOIN && hl + 48 < sizeof r->holds) {
				char one[48];
				snprintf(one, sizeof one, "%s %p", obj_kind(s.t[j].wait.kind), s.t[j].wait.obj);
				if (strstr(r->holds, one))
					continue;
				hl += (size_t)snprintf(r->holds + hl, sizeof r->holds - hl, "%s%s",
						       hl ? ", " : "", one);
			}
	}
	qsort(rep, nrep, sizeof *rep, cmp_report);

	if (rt_pb_count_head(p, "deadlock") < 0)
		rc = CPROF_ERR_NOMEM;
	for (size_t k = 0; k < nrep && rc == 0; k++) {
		report *r = &rep[k];
		const rt_tsnap *t = &s.t[r->idx];
		int64_t st = t->npcs > 0 ? rt_pb_stack(b, t->pcs, (size_t)t->npcs)
					 : rt_pb_pseudo(b, "[no stack]");
		char cyc[16], tid[16];
		snprintf(cyc, sizeof cyc, "%d", r->cycle);
		snprintf(tid, sizeof tid, "%d", t->tid);
		cprof_label l[7];
		size_t nl = 0;
		l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "kind"),
					 .str = cprof_intern_cstr(p, kind_name[r->kind]) };
		if (r->cycle)
			l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "cycle"),
						 .str = cprof_intern_cstr(p, cyc) };
		l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "waits"),
					 .str = cprof_intern_cstr(p, r->waits) };
		if (r->holds[0])
			l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "holds"),
						 .str = cprof_intern_cstr(p, r->holds) };
		if (r->owner[0])
			l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "owner"),
						 .str = cprof_intern_cstr(p, r->owner) };
		l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "thread"),
					 .str = cprof_intern_cstr(p, t->name[0] ? t->name : "?") };
		l[nl++] = (cprof_label){ .key = cprof_intern_cstr(p, "tid"),
					 .str = cprof_intern_cstr(p, tid) };
		bool bad = st < 0;
		for (size_t i = 0; i < nl; i++)
			bad = bad || l[i].key == CPROF_NONE || l[i].str == CPROF_NONE;
		int64_t ls = bad ? -1 : rt_pb_labels(b, t->has_labels ? t->labels : 0, l, nl);
		int64_t one = 1;
		if (bad || ls < 0 || cprof_add_sample(p, (uint32_t)st, (uint32_t)ls, &one) < 0) {
			rc = CPROF_ERR_NOMEM;
			break;
		}
		r->stack = (uint32_t)st;
	}
	if (rc == 0 && rt_pb_finish(b) < 0)
		rc = CPROF_ERR_NOMEM;
	if (rc < 0)
		goto out;
	if (pout) {
		*pout = p;
		p = NULL;
	} else if (debug <= 0) {
		rc = rt_pb_encode(p, out);
	} else {
		rt_buf_printf(out, "deadlock profile: %d cycle%s, %d stuck thread%s, %d long wait%s "
			      "(threshold %ldms)\n", ncycles, ncycles == 1 ? "" : "s", nstuck,
			      nstuck == 1 ? "" : "s", nlong, nlong == 1 ? "" : "s", threshold_ms());
		int cur = -1;
		for (size_t k = 0; k < nrep; k++) {
			const report *r = &rep[k];
			const rt_tsnap *t = &s.t[r->idx];
			if (r->kind == K_CYCLE && r->cycle != cur) {
				cur = r->cycle;
				rt_buf_printf(out, "\n--- cycle %d: thread %d", cur, t->tid);
				int v = r->idx;
				for (size_t guard = 0; guard <= s.n; guard++) {
					v = nd[v].next;
					if (v < 0)
						break;
					rt_buf_printf(out, " -> thread %d", s.t[v].tid);
					if (v == r->idx)
						break;
				}
				rt_buf_printf(out, "\n");
			} else if (r->kind != K_CYCLE && (k == 0 || rep[k - 1].kind != r->kind ||
							 rep[k - 1].cycle != r->cycle)) {
				if (r->kind == K_BEHIND)
					rt_buf_printf(out, "\n--- blocked behind cycle %d\n", r->cycle);
				else
					rt_buf_printf(out, "\n--- %s\n", r->kind == K_DEAD ? "owner exited"
											  : "long waits");
			}
			char d[32] = "?";
			if (t->wait_ns >= 0)
				rt_fmt_duration(t->wait_ns, d, sizeof d);
			rt_buf_printf(out, "thread %d \"%s\" [%s, %s]\n", t->tid, t->name, t->state, d);
			if (t->wait.kind == RT_WAIT_JOIN)
				rt_buf_printf(out, "waits for: %s to exit%s%s%s\n", r->waits,
					      r->owner[0] ? " (" : "", r->owner, r->owner[0] ? ")" : "");
			else
				rt_buf_printf(out, "waits for: %s%s%s\n", r->waits,
					      r->owner[0] ? " held by " : "", r->owner);
			if (r->holds[0])
				rt_buf_printf(out, "holds: %s\n", r->holds);
			rt_text_frames(out, p, r->stack);
			rt_buf_printf(out, "\n");
		}
		if (out->oom)
			rc = CPROF_ERR_NOMEM;
	}
out:
	rt_pb_free(b);
	cprof_profile_free(p);
	free(w2);
	free(nd);
	free(rep);
	rt_snapshot_free(&s);
	if (rc == CPROF_ERR_NOMEM)
		rt_set_error("cannot build the deadlock profile: out of memory");
	return rc;
}

int rt_deadlock_render(int debug, rt_buf *out)
{
	return deadlock_profile(NULL, debug, out);
}

int rt_deadlock_build(cprof_profile **out)
{
	return deadlock_profile(out, 0, NULL);
}
