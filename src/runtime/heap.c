/*
 * heap.c - the heap and allocs profiles (issue 5): the sampling rate, the
 * statistics, and the profiles built from the buckets of sampled
 * allocations (heap_table.c) that the malloc hooks (heap_hooks.c) fill.
 *
 * The profile is Go's (runtime/pprof/protomem.go): sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes; period_type space/bytes, period = the rate; one
 * sample per bucket (stack, size; here also the label set and the thread
 * name), each carrying a numeric label "bytes" = the object size and a
 * "thread" label; counts and bytes scaled for the sampler (heap_hooks.c):
 * stratified, each sample point is rate bytes (rate/size objects) and
 * blocks of rate bytes or more are exact; Go's Poisson sampler, Go's
 * 1/(1-exp(-size/rate)); no scaling at rate 1.  The heap profile's
 * default sample type is inuse_space, the allocs profile's alloc_space.
 * debug=1 is Go's legacy text ("heap profile: ... @ heap/2*rate" with raw
 * counts for the Poisson sampler; the estimates under "@ heapprofile",
 * which readers do not rescale, for the stratified one; records sorted
 * by in-use bytes, Go's "#\t" frame lines) followed by "# " lines with the
 * sampler's own figures, glibc's mallinfo2 and the process's RSS, where
 * Go prints its MemStats, and the process's mappings ("--- Memory map:
 * ---", /proc/self/maps as gperftools writes them) so pprof can
 * symbolize the addresses.
 *
 * Reading the buckets is lock-free: counts are read with relaxed loads
 * while the program allocates, so a profile is a consistent-enough
 * snapshot (a bucket's frees never exceed its allocs in what is written).
 * Building allocates: profiles.c marks the thread as the runtime's own
 * (rt_self_enter), so none of it is sampled.
 */
#include "heap_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_profile.h"
#include "cprof.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

RT_HIDDEN _Atomic long rt_heap_rate;       /* 0 until heap_env.c's constructor */
RT_HIDDEN atomic_int rt_heap_sampler;      /* RT_HSAMPLER_STRATIFIED unless asked */
static _Atomic long last_rate = CPROF_HEAP_RATE_DEFAULT;   /* the rate samples were taken at */

/* heap_env.c's: a reference so that linking libcprof.a brings its constructor */
extern RT_HIDDEN const int rt_heap_env_linked;

void rt_heap_ready(void)
{
	if (!rt_heap_env_linked)
		return;
	rt_self_enter();
	rt_heap_hooks_init();
	rt_htab_atfork();
	rt_modules_init_lazy();   /* tables built as sampled stacks reach them */
	rt_self_leave();
}

long cprof_heap_set_rate(long bytes)
{
	if (bytes < 0) {
		rt_set_error("cprof_heap_set_rate: negative rate %ld", bytes);
		return CPROF_ERR_INVAL;
	}
	if (bytes > 0) {
		rt_heap_ready();
		atomic_store(&last_rate, bytes);
	}
	long old = atomic_exchange(&rt_heap_rate, bytes);
	atomic_store(&rt_heap_started, true);
	rt_heap_hooks_rate_changed(bytes);
	return old;
}

/* From count sample points of blocks of size bytes to estimated objects
 * and bytes.  Stratified sampler: each point stands for rate bytes, i.e.
 * rate/size objects, and blocks of rate bytes or more were recorded
 * exactly.  Poisson: Go's scaleHeapSample. */
static void scale(uint64_t count, uint64_t size, long rate, int64_t *c, int64_t *b)
{
	uint64_t bytes = count * size;
	if (count == 0 || size == 0) {
		*c = *b = 0;
		return;
	}
	if (rate <= 1 || (atomic_load(&rt_heap_sampler) == RT_HSAMPLER_STRATIFIED &&
			  size >= (uint64_t)rate)) {
		*c = (int64_t)count;
		*b = (int64_t)bytes;
		return;
	}
	if (atomic_load(&rt_heap_sampler) == RT_HSAMPLER_STRATIFIED) {
		*c = (int64_t)((double)count * (double)rate / (double)size);
		*b = (int64_t)((double)count * (double)rate);
		return;
	}
	double s = 1.0 / (1.0 - exp(-(double)size / (double)rate));
	*c = (int64_t)((double)count * s);
	*b = (int64_t)((double)bytes * s);
}

static void counts(const rt_hbucket *h, uint64_t *allocs, uint64_t *frees)
{
	uint64_t f = atomic_load_explicit(&h->frees, memory_order_relaxed);
	uint64_t a = atomic_load_explicit(&h->allocs, memory_order_relaxed);
	*allocs = a;
	*frees = f > a ? a : f;
}

int cprof_heap_get_stats(cprof_heap_stats *st)
{
	if (!st) {
		rt_set_error("cprof_heap_get_stats: no result pointer");
		return CPROF_ERR_INVAL;
	}
	memset(st, 0, sizeof *st);
	long rate = atomic_load(&rt_heap_rate);
	long srate = atomic_load(&last_rate);
	st->rate = (uint64_t)rate;
	st->dropped = atomic_load(&rt_hstats_g.dropped);
	st->table_bytes = rt_htab_bytes();
	for (const rt_hbucket *h = rt_hbuckets(); h; h = h->all_next) {
		uint64_t a, f;
		counts(h, &a, &f);
		st->sampled_total += a;
		st->sampled_live += a - f;
		int64_t c, b;
		scale(a, h->size, srate, &c, &b);
		st->alloc_objects += (uint64_t)c;
		st->alloc_bytes += (uint64_t)b;
		scale(a - f, h->size, srate, &c, &b);
		st->inuse_objects += (uint64_t)c;
		st->inuse_bytes += (uint64_t)b;
	}
	return 0;
}

/* ---- the profile -------------------------------------------------------------------- */

/* Fill p: one sample per bucket, values scaled (or raw, for the text). */
static int fill(cprof_profile *p, bool allocs, bool scaled)
{
	long rate = atomic_load(&last_rate);
	static const char *const types[4][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	for (int i = 0; i < 4; i++)
		if (cprof_add_vtype(p, cprof_intern_cstr(p, types[i][0]),
				    cprof_intern_cstr(p, types[i][1])) < 0)
			return CPROF_ENOMEM;
	p->period_type.type = cprof_intern_cstr(p, "space");
	p->period_type.unit = cprof_intern_cstr(p, "bytes");
	p->period = rate;
	p->default_sample_type = cprof_intern_cstr(p, allocs ? "alloc_space" : "inuse_space");
	p->time_nanos = rt_clock_ns(CLOCK_REALTIME);

	rt_pb *b = rt_pb_new(p);
	if (!b)
		return CPROF_ENOMEM;
	int rc = CPROF_ENOMEM;
	cprof_label lab[2] = { { 0 }, { 0 } };
	lab[0].key = cprof_intern_cstr(p, "bytes");
	lab[1].key = cprof_intern_cstr(p, "thread");
	int64_t unknown = -1;
	for (const rt_hbucket *h = rt_hbuckets(); h; h = h->all_next) {
		uint64_t a, f;
		counts(h, &a, &f);
		if (a == 0)
			continue;
		int64_t si;
		if (h->nframes > 0) {
			si = rt_pb_stack(b, h->pcs, h->nframes);
		} else {
			if (unknown < 0)
				unknown = rt_pb_pseudo(b, "[unknown stack]");
			si = unknown;
		}
		lab[0].num = (int64_t)h->size;
		lab[1].str = cprof_intern_cstr(p, h->name[0] ? h->name : "?");
		if (si < 0 || lab[1].str == CPROF_NONE)
			goto out;
		int64_t ls = rt_pb_labels(b, h->lset, lab, 2);
		if (ls < 0)
			goto out;
		int64_t v[4];
		if (scaled) {
			scale(a, h->size, rate, &v[0], &v[1]);
			scale(a - f, h->size, rate, &v[2], &v[3]);
		} else {
			v[0] = (int64_t)a;
			v[1] = (int64_t)(a * h->size);
			v[2] = (int64_t)(a - f);
			v[3] = (int64_t)((a - f) * h->size);
		}
		if (cprof_add_sample(p, (uint32_t)si, (uint32_t)ls, v) < 0)
			goto out;
	}
	uint64_t dropped = atomic_load(&rt_hstats_g.dropped);
	if (dropped > 0 &&
	    rt_pb_commentf(p, "cprof: %llu heap samples dropped (sample table full or out of memory)",
			   (unsigned long long)dropped) < 0)
		goto out;
	rc = rt_pb_finish(b);
out:
	rt_pb_free(b);
	return rc;
}

int rt_heap_build(bool allocs, cprof_profile **out)
{
	cprof_profile *p = cprof_profile_new();
	int rc = p ? fill(p, allocs, true) : CPROF_ENOMEM;
	if (rc < 0) {
		cprof_profile_free(p);
		rt_set_error("cannot build the %s profile: out of memory", allocs ? "allocs" : "heap");
		return CPROF_ERR_NOMEM;
	}
	*out = p;
	return 0;
}

static int by_inuse(const void *x, const void *y, void *ctx)
{
	const cprof_profile *p = ctx;
	int64_t a = cprof_sample_values(p, *(const uint32_t *)x)[3];
	int64_t b = cprof_sample_values(p, *(const uint32_t *)y)[3];
	return a < b ? 1 : a > b ? -1 : 0;
}

static void text_stats(rt_buf *o)
{
	cprof_heap_stats st;
	cprof_heap_get_stats(&st);
	rt_buf_printf(o, "\n# cprof heap sampler\n");
	rt_buf_printf(o, "# Rate = %llu\n", (unsigned long long)st.rate);
	rt_buf_printf(o, "# Sampler = %s\n", atomic_load(&rt_heap_sampler) == RT_HSAMPLER_POISSON
						      ? "poisson" : "stratified");
	rt_buf_printf(o, "# SampledLive = %llu\n", (unsigned long long)st.sampled_live);
	rt_buf_printf(o, "# SampledTotal = %llu\n", (unsigned long long)st.sampled_total);
	rt_buf_printf(o, "# Dropped = %llu\n", (unsigned long long)st.dropped);
	rt_buf_printf(o, "# TableBytes = %llu\n", (unsigned long long)st.table_bytes);
	rt_buf_printf(o, "# EstimatedAllocBytes = %llu\n", (unsigned long long)st.alloc_bytes);
	rt_buf_printf(o, "# EstimatedAllocObjects = %llu\n", (unsigned long long)st.alloc_objects);
	rt_buf_printf(o, "# EstimatedInuseBytes = %llu\n", (unsigned long long)st.inuse_bytes);
	rt_buf_printf(o, "# EstimatedInuseObjects = %llu\n", (unsigned long long)st.inuse_objects);
	rt_buf_printf(o, "# HooksActive = %s\n", rt_heap_hooks_active() ? "true" : "false");
	struct mallinfo2 mi = mallinfo2();
	rt_buf_printf(o, "\n# glibc mallinfo2\n");
	rt_buf_printf(o, "# Arena = %zu\n", mi.arena);
	rt_buf_printf(o, "# Ordblks = %zu\n", mi.ordblks);
	rt_buf_printf(o, "# Smblks = %zu\n", mi.smblks);
	rt_buf_printf(o, "# Hblks = %zu\n", mi.hblks);
	rt_buf_printf(o, "# Hblkhd = %zu\n", mi.hblkhd);
	rt_buf_printf(o, "# Fsmblks = %zu\n", mi.fsmblks);
	rt_buf_printf(o, "# Uordblks = %zu\n", mi.uordblks);
	rt_buf_printf(o, "# Fordblks = %zu\n", mi.fordblks);
	rt_buf_printf(o, "# Keepcost = %zu\n", mi.keepcost);
	long pg = sysconf(_SC_PAGESIZE);
	unsigned long long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &size, &res) != 2)
			size = res = 0;
		fclose(f);
	}
	rt_buf_printf(o, "\n# VmSize = %llu\n", size * (unsigned long long)pg);
	rt_buf_printf(o, "# RSS = %llu\n", res * (unsigned long long)pg);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		rt_buf_printf(o, "# MaxRSS = %lld\n", (long long)ru.ru_maxrss * 1024);
}

int rt_heap_render(bool allocs, int debug, rt_buf *out)
{
	if (debug <= 0) {
		cprof_profile *p;
		int rc = rt_heap_build(allocs, &p);
		if (rc < 0)
			return rc;
		rc = rt_pb_encode(p, out);
		cprof_profile_free(p);
		if (rc < 0)
			rt_set_error("cannot encode the %s profile: out of memory", allocs ? "allocs" : "heap");
		return rc < 0 ? CPROF_ERR_NOMEM : 0;
	}
	/* Go's text has raw sample counts, which readers scale with Go's
	 * formula (the header's heap/2*rate says so); the stratified
	 * sampler's counts need another scaling, so its text has the
	 * estimates themselves under the unsampled header (heapprofile) */
	bool strat = atomic_load(&rt_heap_sampler) == RT_HSAMPLER_STRATIFIED &&
		     atomic_load(&last_rate) > 1;
	cprof_profile *p = cprof_profile_new();
	uint32_t *order = NULL;
	int rc = p ? fill(p, allocs, strat) : CPROF_ENOMEM;
	size_t n = p ? p->samples.n : 0;
	if (rc == 0 && n > 0 && !(order = malloc(n * sizeof *order)))
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		cprof_profile_free(p);
		rt_set_error("cannot build the %s profile: out of memory", allocs ? "allocs" : "heap");
		return CPROF_ERR_NOMEM;
	}
	int64_t tot[4] = { 0, 0, 0, 0 };
	for (size_t i = 0; i < n; i++) {
		order[i] = (uint32_t)i;
		const int64_t *v = cprof_sample_values(p, i);
		for (int k = 0; k < 4; k++)
			tot[k] += v[k];
	}
	if (n > 1)
		qsort_r(order, n, sizeof *order, by_inuse, p);
	if (strat)
		rt_buf_printf(out, "heap profile: %lld: %lld [%lld: %lld] @ heapprofile\n",
			      (long long)tot[2], (long long)tot[3], (long long)tot[0], (long long)tot[1]);
	else
		rt_buf_printf(out, "heap profile: %lld: %lld [%lld: %lld] @ heap/%lld\n",
			      (long long)tot[2], (long long)tot[3], (long long)tot[0], (long long)tot[1],
			      2 * (long long)p->period);
	for (size_t i = 0; i < n; i++) {
		const int64_t *v = cprof_sample_values(p, order[i]);
		rt_buf_printf(out, "%lld: %lld [%lld: %lld] @", (long long)v[2], (long long)v[3],
			      (long long)v[0], (long long)v[1]);
		uint32_t st = p->samples.v[order[i]].stack;
		rt_text_addrs(out, p, st);
		rt_buf_printf(out, "\n");
		rt_text_frames(out, p, st);
		rt_buf_printf(out, "\n");
	}
	text_stats(out);
	/* the mappings, as gperftools writes them: pprof symbolizes the
	 * addresses with them */
	rt_buf_printf(out, "\n--- Memory map: ---\n");
	FILE *f = fopen("/proc/self/maps", "re");
	if (f) {
		char line[4096 + 128];
		while (fgets(line, sizeof line, f))
			rt_buf_add(out, line, strlen(line));
		fclose(f);
	}
	free(order);
	cprof_profile_free(p);
	if (out->oom) {
		rt_set_error("cannot build the %s profile: out of memory", allocs ? "allocs" : "heap");
		return CPROF_ERR_NOMEM;
	}
	return 0;
}
