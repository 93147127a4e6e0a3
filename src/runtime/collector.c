/*
 * collector.c - the collector thread and the profile written at stop.
 *
 * The collector is a thread of the runtime ("cprof-collector", started by
 * rt_runtime_thread_create with every signal blocked: never sampled, never
 * shown in thread snapshots, its waits never recorded, and it never
 * receives the program's signals).  Every 100 ms it drains the sample ring
 * into a hash table keyed by (thread name, stack of pcs), adding counts and
 * weights; stacks are kept in one growing pc arena.  The table only grows
 * during a session and is freed after the profile is written.
 *
 * Addresses are tied to the modules mapped when they were seen: a drain
 * that meets a pc outside every known executable mapping re-reads
 * /proc/self/maps and adds what is new, so libraries unloaded before stop
 * keep their mappings.  At stop the profile is built with the core:
 * samples/count and cpu/nanoseconds, period cpu/nanoseconds, start time and
 * duration; mappings (main executable first) with build IDs and file
 * offsets; one location per distinct pc, symbolized in the process with the
 * core's libdw symbolizer (functions, files, lines, inline frames) and
 * demangled; a label "thread" with the thread's name; samples the runtime
 * lost (full ring, failed unwind) as a "[lost samples]" frame and a comment;
 * samples of the runtime's own work on the program's threads (symbolizing
 * at exit, building unwind tables at dlopen...) only as a comment.
 *
 * Exit by a fatal signal or _exit: the signal handler (or the interposed
 * _exit, which may run in one) cannot build a profile, so it asks the
 * collector (rt_collector_exit_write), which stops the timers, writes
 * (outfile.c: a temporary file renamed into place), and reports done; the
 * caller waits with a bound.
 */
#include "rt_base.h"
#include "rt_cpu.h"
#include "rt_profile.h"
#include "cprof.h"
#include "cprof_core.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- aggregation ------------------------------------------------------------- */

typedef struct agg_ent {
	uint64_t hash;
	uint32_t name;          /* index into names */
	uint32_t labels;        /* label set (labels.c) */
	uint32_t n;
	size_t off;             /* into pcs */
	int64_t count;
	int64_t weight;         /* samples (timer overruns included) */
	int64_t cpu_ns;         /* the CPU time they stand for */
	bool used;
} agg_ent;

typedef struct map_ent {
	uint64_t start, end, off;
	char *path;
} map_ent;

static struct {
	agg_ent *tab;
	size_t cap, n;
	CPROF_VEC(uintptr_t) pcs;
	CPROF_VEC(char *) names;
	CPROF_VEC(map_ent) maps;
	bool oom;               /* a drain could not store a sample */
	uint64_t oom_lost, oom_lost_ns;
} A;

static uint64_t hash_stack(const char *name, uint32_t labels, const uintptr_t *pcs, uint32_t n)
{
	uint64_t h = 1469598103934665603u ^ labels;
	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211u;
	for (uint32_t i = 0; i < n; i++)
		h = cprof_hash_u64(h ^ pcs[i]);
	return h | 1;
}

static int name_index(const char *name, uint32_t *out)
{
	for (size_t i = 0; i < A.names.n; i++)
		if (strcmp(A.names.v[i], name) == 0) {
			*out = (uint32_t)i;
			return 0;
		}
	if (A.names.n >= 100000)
		return CPROF_ENOMEM;
	if (cprof_reserve((void **)&A.names.v, &A.names.cap, A.names.n + 1, sizeof(char *)) < 0)
		return CPROF_ENOMEM;
	char *d = strdup(name);
	if (!d)
		return CPROF_ENOMEM;
	A.names.v[A.names.n] = d;
	*out = (uint32_t)A.names.n++;
	return 0;
}

static int agg_grow(void)
{
	size_t nc = A.cap ? A.cap * 2 : 1024;
	agg_ent *nt = calloc(nc, sizeof *nt);
	if (!nt)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < A.cap; i++) {
		if (!A.tab[i].used)
			continue;
		size_t j = A.tab[i].hash & (nc - 1);
		while (nt[j].used)
			j = (j + 1) & (nc - 1);
		nt[j] = A.tab[i];
	}
	free(A.tab);
	A.tab = nt;
	A.cap = nc;
	return 0;
}

/* Returns 1 when the stack is new, 0 when it was counted, <0 on OOM. */
static int agg_add(const rt_sample_rec *r)
{
	if ((A.n + 1) * 2 > A.cap && agg_grow() < 0)
		return CPROF_ENOMEM;
	uint64_t h = hash_stack(r->name, r->labels, r->pcs, r->nframes);
	size_t j = h & (A.cap - 1);
	for (; A.tab[j].used; j = (j + 1) & (A.cap - 1)) {
		agg_ent *e = &A.tab[j];
		if (e->hash == h && e->n == r->nframes && e->labels == r->labels &&
		    strcmp(A.names.v[e->name], r->name) == 0 &&
		    memcmp(&A.pcs.v[e->off], r->pcs, r->nframes * sizeof(uintptr_t)) == 0) {
			e->count += 1;
			e->weight += (int64_t)r->weight;
			e->cpu_ns += (int64_t)r->cpu_ns;
			return 0;
		}
	}
	uint32_t ni;
	if (name_index(r->name, &ni) < 0)
		return CPROF_ENOMEM;
	if (cprof_reserve((void **)&A.pcs.v, &A.pcs.cap, cprof_add_size(A.pcs.n, r->nframes),
			  sizeof(uintptr_t)) < 0)
		return CPROF_ENOMEM;
	agg_ent *e = &A.tab[j];
	e->used = true;
	e->hash = h;
	e->name = ni;
	e->labels = r->labels;
	e->n = r->nframes;
	e->off = A.pcs.n;
	e->count = 1;
	e->weight = (int64_t)r->weight;
	e->cpu_ns = (int64_t)r->cpu_ns;
	memcpy(&A.pcs.v[A.pcs.n], r->pcs, r->nframes * sizeof(uintptr_t));
	A.pcs.n += r->nframes;
	A.n++;
	return 1;
}

static void agg_free(void)
{
	free(A.tab);
	free(A.pcs.v);
	for (size_t i = 0; i < A.names.n; i++)
		free(A.names.v[i]);
	free(A.names.v);
	for (size_t i = 0; i < A.maps.n; i++)
		free(A.maps.v[i].path);
	free(A.maps.v);
	memset(&A, 0, sizeof A);
}

/* ---- mappings ------------------------------------------------------------------ */

static bool maps_cover(uintptr_t pc)
{
	for (size_t i = A.maps.n; i-- > 0;)
		if (pc >= A.maps.v[i].start && pc < A.maps.v[i].end)
			return true;
	return false;
}

static void maps_add(void *ctx, uint64_t s, uint64_t e, uint64_t off, const char *path)
{
	(void)ctx;
	for (size_t i = 0; i < A.maps.n; i++)
		if (A.maps.v[i].start == s && A.maps.v[i].end == e && A.maps.v[i].off == off &&
		    strcmp(A.maps.v[i].path, path) == 0)
			return;
	if (cprof_reserve((void **)&A.maps.v, &A.maps.cap, A.maps.n + 1, sizeof(map_ent)) < 0)
		return;
	char *d = strdup(path);
	if (!d)
		return;
	A.maps.v[A.maps.n++] = (map_ent){ s, e, off, d };
}

/* Add the executable mappings of /proc/self/maps not yet known. */
static void maps_refresh(void)
{
	rt_read_exec_maps(maps_add, NULL);
}

/* ---- the collector thread -------------------------------------------------------- */

static pthread_t col_thr;
static bool col_running;
static pthread_mutex_t col_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t col_cv = PTHREAD_COND_INITIALIZER;
static bool col_stop;
static _Atomic int exit_req, exit_done;
static int exit_fd = -1;
static rt_out *exit_out;
static int col_hz;
static uint32_t col_gen;
static int64_t t_start_real, t_start_mono;

static void drain(void)
{
	rt_sample_rec r;
	bool need_maps = false;
	while (rt_ring_pop(&r)) {
		if (r.gen != col_gen || r.nframes == 0)
			continue;
		int rc = agg_add(&r);
		if (rc < 0) {
			A.oom = true;
			A.oom_lost += r.weight;
			A.oom_lost_ns += r.cpu_ns;
		} else if (rc == 1 && !need_maps) {
			for (uint32_t i = 0; i < r.nframes && !need_maps; i++)
				need_maps = !maps_cover(r.pcs[i]);
		}
	}
	if (need_maps)
		maps_refresh();
}

static int build_and_write(int fd, rt_out *o, int sym_ms);
static int exit_result;

_Atomic int rt_collector_tid;

static void *collector_main(void *arg)
{
	(void)arg;
	atomic_store(&rt_collector_tid, (int)syscall(SYS_gettid));
	pthread_mutex_lock(&col_mu);
	for (;;) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 100 * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (!col_stop && !atomic_load(&exit_req))
			pthread_cond_timedwait(&col_cv, &col_mu, &dl);
		drain();
		if (col_stop || atomic_load(&exit_req))
			break;
		/* modules whose rows the handler read on demand often enough
		 * get their tables built, on the builder thread */
		rt_modules_start_builder();
	}
	pthread_mutex_unlock(&col_mu);
	if (atomic_load(&exit_req) && !col_stop) {
		rt_threads_timers_stop();
		atomic_store(&rt_cpu_on, 0);
		drain();
		/* the bounded exit paths (_exit, a fatal signal) wait 5 s in
		 * all: the symbolizer process gets 3 */
		exit_result = build_and_write(exit_fd, exit_out, 3000);
		atomic_store(&exit_done, 1);
	}
	return NULL;
}

int rt_collector_start(int hz)
{
	agg_free();
	A.oom = false;
	col_hz = hz;
	col_gen = atomic_load(&rt_cpu_gen);
	col_stop = false;
	atomic_store(&exit_req, 0);
	atomic_store(&exit_done, 0);
	t_start_real = rt_clock_ns(CLOCK_REALTIME);
	t_start_mono = rt_clock_ns(CLOCK_MONOTONIC);
	memset(&rt_stats_g, 0, sizeof rt_stats_g);
	/* no /proc/self/maps here: the first drain with a sample outside the
	 * known mappings reads it (a process with no sample never does) */
	/* stale samples of an earlier session */
	rt_sample_rec r;
	while (rt_ring_pop(&r))
		;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_store(&rt_collector_tid, 0);
	int rc = rt_runtime_thread_create(&col_thr, NULL, "cprof-collector", collector_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rt_set_error("cannot start the collector thread: %s", strerror(rc));
		return CPROF_ERR_SYSTEM;
	}
	col_running = true;
	/* its tid, so that the timers of every thread skip it */
	for (int i = 0; i < 5000 && !atomic_load(&rt_collector_tid); i++) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

int rt_collector_stop(int fd, rt_out *o)
{
	if (!col_running)
		return CPROF_ERR_NOT_RUNNING;
	pthread_mutex_lock(&col_mu);
	col_stop = true;
	pthread_cond_signal(&col_cv);
	pthread_mutex_unlock(&col_mu);
	pthread_join(col_thr, NULL);
	col_running = false;
	if (atomic_load(&exit_done))
		return exit_result;   /* already written by the exit path */
	drain();
	if (fd < 0 && !o) {       /* a start that failed half-way */
		agg_free();
		return 0;
	}
	return build_and_write(fd, o, rt_sym_timeout_ms());
}

bool rt_collector_exit_write(int fd, rt_out *o, int timeout_ms)
{
	if (!col_running || atomic_load(&exit_req))
		return false;
	exit_fd = fd;
	exit_out = o;
	atomic_store(&exit_req, 1);
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (atomic_load(&exit_done))
			return true;
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return atomic_load(&exit_done) != 0;
}

static __attribute__((used)) __typeof__(A) forgotten;

void rt_collector_forget(void)
{
	/* a forked child: the collector thread does not exist here.  Nothing
	 * is written when no collector ever ran (each page written is a
	 * copy-on-write fault in every child of a fork-heavy program) */
	static const pthread_mutex_t mu0 = PTHREAD_MUTEX_INITIALIZER;
	static const pthread_cond_t cv0 = PTHREAD_COND_INITIALIZER;
	if (col_running)
		col_running = false;
	if (memcmp(&col_mu, &mu0, sizeof mu0) != 0)
		pthread_mutex_init(&col_mu, NULL);
	if (memcmp(&col_cv, &cv0, sizeof cv0) != 0)
		pthread_cond_init(&col_cv, NULL);
	/* the parent's tables may have been mid-change in its collector: kept
	 * (reachable, so leak checkers stay quiet), never freed or reused */
	if (A.tab || A.pcs.v || A.names.v || A.maps.v || A.n || A.oom || A.oom_lost ||
	    A.oom_lost_ns) {
		forgotten = A;
		memset(&A, 0, sizeof A);
	}
}

/* Read (never write) what rt_collector_forget reads, so its pages are
 * mapped in this process (the zero page, for a collector that never ran)
 * and a fork child inherits the mapping: a page the parent never touched
 * is one more fault in every child.  Thread-safe (reads only). */
void rt_collector_touch(void)
{
	(void)*(volatile const bool *)&col_running;
	(void)*(volatile const unsigned char *)&col_mu;
	(void)*(volatile const unsigned char *)&col_cv;
	(void)*(volatile const unsigned char *)&A;
	(void)*((volatile const unsigned char *)&A + sizeof A - 1);
}

/* ---- the profile ------------------------------------------------------------------ */

static int build(cprof_profile *p)
{
	int64_t period = 1000000000 / (col_hz > 0 ? col_hz : 100);

	if (cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) < 0 ||
	    cprof_add_vtype(p, cprof_intern_cstr(p, "cpu"), cprof_intern_cstr(p, "nanoseconds")) < 0)
		return CPROF_ENOMEM;
	p->period_type.type = cprof_intern_cstr(p, "cpu");
	p->period_type.unit = cprof_intern_cstr(p, "nanoseconds");
	p->period = period;
	p->time_nanos = t_start_real;
	p->duration_nanos = rt_clock_ns(CLOCK_MONOTONIC) - t_start_mono;

	rt_pb *b = rt_pb_new(p);
	if (!b)
		return CPROF_ENOMEM;
	int rc = CPROF_ENOMEM;
	/* libraries seen during the run, unloaded since */
	for (size_t i = 0; i < A.maps.n; i++)
		rt_pb_note_map(b, A.maps.v[i].start, A.maps.v[i].end, A.maps.v[i].off, A.maps.v[i].path);
	cprof_label lab = { 0 };
	lab.key = cprof_intern_cstr(p, "thread");
	for (size_t k = 0; k < A.cap; k++) {
		const agg_ent *e = &A.tab[k];
		if (!e->used)
			continue;
		int64_t si = rt_pb_stack(b, &A.pcs.v[e->off], e->n);
		lab.str = cprof_intern_cstr(p, A.names.v[e->name][0] ? A.names.v[e->name] : "?");
		if (si < 0 || lab.str == CPROF_NONE)
			goto out;
		int64_t ls = rt_pb_labels(b, e->labels, &lab, 1);
		if (ls < 0)
			goto out;
		int64_t vals[2] = { e->weight, e->cpu_ns };
		if (cprof_add_sample(p, (uint32_t)si, (uint32_t)ls, vals) < 0)
			goto out;
	}

	/* what the runtime lost, shown rather than dropped */
	uint64_t lost = __atomic_load_n(&rt_stats_g.lost_ring_full, __ATOMIC_RELAXED) +
			__atomic_load_n(&rt_stats_g.lost_unwind, __ATOMIC_RELAXED) + A.oom_lost;
	if (lost > 0) {
		char c[256];
		snprintf(c, sizeof c, "cprof: %llu samples lost (%llu sample buffer full, %llu unwind failed, %llu out of memory)",
			 (unsigned long long)lost,
			 (unsigned long long)rt_stats_g.lost_ring_full,
			 (unsigned long long)rt_stats_g.lost_unwind,
			 (unsigned long long)A.oom_lost);
		if (cprof_add_comment(p, cprof_intern_cstr(p, c)) < 0)
			goto out;
		int64_t si = rt_pb_pseudo(b, "[lost samples]");
		if (si < 0)
			goto out;
		int64_t vals[2] = { (int64_t)lost,
				    (int64_t)(__atomic_load_n(&rt_stats_g.lost_ns, __ATOMIC_RELAXED) +
					      A.oom_lost_ns) };
		if (cprof_add_sample(p, (uint32_t)si, 0, vals) < 0)
			goto out;
	}
	/* the runtime's own work on the program's threads: not the program's */
	uint64_t own = __atomic_load_n(&rt_stats_g.runtime, __ATOMIC_RELAXED);
	if (own > 0 && rt_pb_commentf(p, "cprof: %llu samples of the runtime's own work on the "
				      "program's threads not shown", (unsigned long long)own) < 0)
		goto out;
	/* the runtime's own cost, for benchmarks (a '#' comment: reports hide it) */
	uint64_t ns = __atomic_load_n(&rt_stats_g.handler_ns, __ATOMIC_RELAXED);
	uint64_t ns_n = __atomic_load_n(&rt_stats_g.samples, __ATOMIC_RELAXED);
	if (ns_n > 0 && rt_pb_commentf(p, "# cprof: %llu samples, %.2f us per sample in the signal handler",
				       (unsigned long long)ns_n, (double)ns / 1000.0 / (double)ns_n) < 0)
		goto out;
	/* how the samples were taken and what was estimated */
	if (rt_pb_commentf(p, "cprof: cpu sampling by %s at %d Hz, intervals drawn at random "
			   "around %lld ns, each sample weighted by the CPU time it stands for; "
			   "%llu ns of %llu thread ends after their last sample added to their start routines",
			   rt_cpu_mode_name(), col_hz, (long long)period,
			   (unsigned long long)atomic_load(&rt_cpu_tail_ns),
			   (unsigned long long)atomic_load(&rt_cpu_tail_samples)) < 0)
		goto out;
	if (rt_stats_g.truncated > 0 &&
	    rt_pb_commentf(p, "cprof: %llu samples with truncated stacks",
			   (unsigned long long)rt_stats_g.truncated) < 0)
		goto out;
	rc = rt_pb_finish(b);
out:
	rt_pb_free(b);
	return rc;
}

/* The profile this process's earlier image wrote before an exec
 * (env.c), merged with *p: true when *p is now the merge (*has: it has
 * samples).  A file that cannot be read is left where it is. */
static bool merge_pred(cprof_profile **p, const char *path, bool *has)
{
	void *data = NULL;
	size_t len = 0;
	cprof_error err;
	cprof_profile *old = NULL, *m = NULL;
	if (cprof_read_file(path, 256u << 20, &data, &len, &err) < 0)
		return false;
	int rc = cprof_decode(data, len, &old, &err);
	free(data);
	if (rc < 0)
		return false;
	/* the image with more samples first: its program is the main mapping
	 * (bash's loop before an exec of /bin/true; python after env's exec) */
	bool mine_first = (*p)->samples.n >= old->samples.n;
	cprof_profile *two[2] = { mine_first ? *p : old, mine_first ? old : *p };
	rc = cprof_merge(two, 2, &m, &err);
	cprof_profile_free(old);
	if (rc < 0)
		return false;
	cprof_profile_free(*p);
	*p = m;
	*has = *has || m->samples.n > 0;
	return true;
}

/* For rt_out_write: the encoded profile and whether it has samples. */
struct encoded { rt_buf *buf; bool has; };
static bool enc_has(void *ctx) { return ((struct encoded *)ctx)->has; }
static int enc_write(int fd, void *ctx)
{
	return rt_buf_write_fd(((struct encoded *)ctx)->buf, fd, "CPU");
}

static int build_and_write(int fd, rt_out *o, int sym_ms)
{
	rt_self_enter();
	/* a file is symbolized by the helper process once written (outfile.c,
	 * sym_spawn.c); a descriptor's profile in the process */
	if (o)
		rt_sym_defer_begin(sym_ms);
	/* a process that sampled nothing (a wrapper in waitpid): outfile.c's
	 * rule may then write nothing */
	struct encoded enc = { NULL, A.n > 0 || rt_stats_g.lost_ring_full || A.oom_lost };
	cprof_profile *p = cprof_profile_new();
	int rc = p ? build(p) : CPROF_ENOMEM;
	bool merged = false;
	if (rc == 0 && o && o->pred[0])
		merged = merge_pred(&p, o->pred, &enc.has);
	rt_buf out = { 0 };
	enc.buf = &out;
	if (rc == 0 && rt_pb_encode(p, &out) < 0)
		rc = CPROF_ENOMEM;
	if (rc != 0) {
		rt_set_error("cannot build the CPU profile: out of memory");
	} else {
		rc = o ? rt_out_write(o, enc_has, enc_write, &enc) : rt_buf_write_fd(&out, fd, "CPU");
		if (rc == 0 && merged && strcmp(o->pred, o->exec_to) != 0) {
			unlink(o->pred);   /* now in the file just written */
			o->pred[0] = 0;
		}
	}
	if (rc == CPROF_ENOMEM)
		rc = CPROF_ERR_NOMEM;
	rt_buf_free(&out);
	cprof_profile_free(p);
	agg_free();
	rt_sym_defer_end();
	rt_self_leave();
	return rc;
}
