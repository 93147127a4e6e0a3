/*
 * test_failalloc.c - every allocation failure in the profile core and the
 * reports returns CPROF_ENOMEM cleanly: no crash, nothing leaked.
 *
 * The torture loop of SQLite and curl: for each entry point (decode a
 * profile.proto file, each legacy format, folded stacks; merge; compact;
 * dup; encode, raw and gzipped; five reports; the timeline's index of a
 * trace), run it with the nth
 * allocation failing, for n = 1, 2, 3 ... until a run completes without
 * reaching the armed allocation; then again with every allocation from
 * the nth on failing (sticky).  Each failing run must return CPROF_ENOMEM
 * (NULL for cprof_profile_dup) and leave as many live blocks as before
 * (failalloc.c tracks them), or, when it absorbed the failure (a shrinking
 * realloc that may fail harmlessly), return 0 with the very result of a
 * run where nothing failed (compared as profile.proto bytes); each
 * completing run must return 0.  The
 * binary is linked with failalloc.c and -Wl,--wrap=malloc,... (Makefile),
 * and runs under ASan+UBSan too in `make test`'s sanitizer pass, which
 * catches what a failure path touches after freeing it.
 *
 * The runtime's profile writers (cprof_heap_write, cprof_mutex_write...,
 * linked in from libcprof.a) are tortured the same way, in profile.proto
 * (and text, through the mutex profile), after some contention and
 * allocations to report; their output
 * carries the time, so a run that absorbed a failure is only checked for
 * its status and leaks.
 *
 * A test reports every entry point's problems (the allocation number, what
 * was returned, how many blocks leaked), not only the first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "cprof.h"
#include "cprof_core.h"
#include "cprof_report.h"
#include "cprof_timeline.h"
#include "failalloc.h"

#define MAX_N 200000UL          /* allocations per run, a ceiling */

/* One entry point.  setup (unarmed) prepares what op works on, op runs
 * armed and returns its rc (0 or a CPROF_E* code); when it returns 0 it
 * disarms (failalloc_disarm) and hands out a digest of its result (a
 * malloc'd byte string: the result encoded as profile.proto, or the
 * report's text); teardown (unarmed) frees what setup and op left. */
typedef struct entry {
	const char *name;
	void (*setup)(void *ctx);
	int (*op)(void *ctx, char **digest, size_t *dlen);
	void (*teardown)(void *ctx);
	bool one_mode;          /* only "the nth fails", not "the nth and after" */
	unsigned stride;        /* try n = 1, 1+stride, ... (0 or 1: every n) */
} entry;

static char problems[8192];

static void note(const char *fmt, ...)
{
	size_t l = strlen(problems);
	if (l + 200 >= sizeof problems)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problems + l, sizeof problems - l, fmt, ap);
	va_end(ap);
}

/* Run one complete round of e; returns the failed count. */
static unsigned long round_of(const entry *e, void *ctx, unsigned long n, bool st, int *rc,
			      char **dg, size_t *dl, long *leaked)
{
	size_t before = failalloc_live();
	if (e->setup)
		e->setup(ctx);
	failalloc_arm(n, st);
	*dg = NULL;
	*dl = 0;
	*rc = e->op(ctx, dg, dl);
	failalloc_disarm();
	unsigned long f = failalloc_failed();
	if (e->teardown)
		e->teardown(ctx);
	size_t after = failalloc_live() - (*dg ? 1 : 0);
	*leaked = (long)after - (long)before;
	return f;
}

/* Run e with allocation n failing (then n and all after), for every n. */
static void torture(const entry *e, void *ctx)
{
	char *ref;
	size_t reflen;
	int rc;
	long leaked;
	if (round_of(e, ctx, 0, false, &rc, &ref, &reflen, &leaked) != 0 || rc != 0) {
		note("%s: returns %d with no allocation failed\n", e->name, rc);
		free(ref);
		return;
	}
	for (int st = 0; st < (e->one_mode ? 1 : 2); st++) {
		int bad = 0;
		unsigned long n;
		for (n = 1; n <= MAX_N; n += e->stride > 1 ? e->stride : 1) {
			char *dg;
			size_t dl;
			unsigned long f = round_of(e, ctx, n, st, &rc, &dg, &dl, &leaked);
			const char *how = st ? " (and all after)" : "";
			bool same = rc == 0 && dl == reflen && (!dl || memcmp(dg, ref, dl) == 0);
			free(dg);
			if (f == 0) {
				if (rc != 0 || !same)
					note("%s: a run with nothing failed returns %d%s\n", e->name, rc,
					     same ? "" : ", another result");
				if (leaked)
					note("%s: %ld blocks leaked by a run that succeeded\n", e->name, leaked);
				break;
			}
			if (bad >= 3)
				continue;
			if (rc != 0 && rc != CPROF_ENOMEM) {
				note("%s: allocation %lu failed%s: returned %d, want CPROF_ENOMEM\n",
				     e->name, n, how, rc);
				bad++;
			} else if (rc == 0 && !same) {
				note("%s: allocation %lu failed%s: returned 0 with another result\n",
				     e->name, n, how);
				bad++;
			}
			if (leaked) {
				note("%s: allocation %lu failed%s: %ld blocks leaked\n", e->name, n, how,
				     leaked);
				bad++;
			}
		}
		if (n > MAX_N)
			note("%s: more than %lu allocations\n", e->name, MAX_N);
		print_message("%s%s: %lu allocations, %s failure tried\n", e->name,
			      st ? " (sticky)" : "", n - 1, e->stride > 1 ? "every 4th" : "each");
	}
	free(ref);
}

static void check(void)
{
	if (problems[0]) {
		fputs(problems, stderr);
		problems[0] = 0;
		fail_msg("an allocation failure was not handled cleanly (above)");
	}
}

/* ---- inputs and digests ----------------------------------------------------------- */

static void *slurp(const char *rel, size_t *len)
{
	const char *dir = getenv("CPROF_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
	void *buf = NULL;
	cprof_error err = { 0 };
	int rc = cprof_read_file(path, (size_t)64 << 20, &buf, len, &err);
	if (rc != 0)
		fail_msg("%s: %s", path, err.msg);
	return buf;
}

static cprof_profile *load(const char *rel)
{
	size_t len;
	void *buf = slurp(rel, &len);
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	int rc = cprof_decode(buf, len, &p, &err);
	free(buf);
	if (rc != 0)
		fail_msg("%s: %s", rel, err.msg);
	return p;
}

/* p as profile.proto bytes (unarmed: the caller has disarmed) */
static void digest_of(const cprof_profile *p, char **dg, size_t *dl)
{
	void *buf = NULL;
	cprof_error err = { 0 };
	if (cprof_pb_encode(p, false, &buf, dl, &err) != 0)
		fail_msg("encoding the result: %s", err.msg);
	*dg = buf;
}

/* ---- entry points ---------------------------------------------------------- */

struct bytes { void *data; size_t len; };

static int op_decode(void *ctx, char **dg, size_t *dl)
{
	struct bytes *b = ctx;
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	int rc = cprof_decode(b->data, b->len, &p, &err);
	failalloc_disarm();
	if (rc != 0 && p)
		return 98;      /* a failed decode must not hand out a profile */
	if (rc == 0)
		digest_of(p, dg, dl);
	cprof_profile_free(p);
	return rc;
}

static const entry DECODE = { "decode", NULL, op_decode, NULL, false, 1 };

static void decode_file(const char *rel)
{
	struct bytes b;
	b.data = slurp(rel, &b.len);
	entry e = DECODE;
	e.name = rel;
	torture(&e, &b);
	free(b.data);
}

static void test_decode_proto(void **state)
{
	decode_file("tests/golden/go/cpu.pb.gz");
	decode_file("tests/golden/go/heap.pb.gz");
	check();
}

static void test_decode_legacy(void **state)
{
	static const char *const files[] = {
		"tests/golden/legacy/heap_v2_maps.txt",
		"tests/golden/legacy/contentionz.txt",
		"tests/golden/legacy/goroutine_maps.txt",
		"tests/golden/legacy/threadcreate_comments.txt",
		"tests/golden/legacy/gperf_cpu64le.prof",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		decode_file(files[i]);
	static char folded[] = "main;work;leaf 3\nmain;work;memcpy 1\nmain;idle 2\n";
	struct bytes b = { folded, sizeof folded - 1 };
	entry e = DECODE;
	e.name = "folded stacks";
	torture(&e, &b);
	check();
}

/* merge, dup, compact: on two decoded profiles and a scratch copy */
struct prof { cprof_profile *a, *b, *scratch; };

static int op_merge(void *ctx, char **dg, size_t *dl)
{
	struct prof *t = ctx;
	cprof_profile *srcs[2] = { t->a, t->b }, *out = NULL;
	cprof_error err = { 0 };
	int rc = cprof_merge(srcs, 2, &out, &err);
	failalloc_disarm();
	if (rc != 0 && out)
		return 98;
	if (rc == 0)
		digest_of(out, dg, dl);
	cprof_profile_free(out);
	return rc;
}

static int op_dup(void *ctx, char **dg, size_t *dl)
{
	struct prof *t = ctx;
	cprof_profile *d = cprof_profile_dup(t->a);
	failalloc_disarm();
	if (!d)
		return CPROF_ENOMEM;
	digest_of(d, dg, dl);
	cprof_profile_free(d);
	return 0;
}

static void setup_scratch(void *ctx)
{
	struct prof *t = ctx;
	t->scratch = cprof_profile_dup(t->a);
	assert_non_null(t->scratch);
}

static void free_scratch(void *ctx)
{
	struct prof *t = ctx;
	cprof_profile_free(t->scratch);
	t->scratch = NULL;
}

static int op_compact(void *ctx, char **dg, size_t *dl)
{
	struct prof *t = ctx;
	cprof_error err = { 0 };
	int rc = cprof_compact(t->scratch, &err);
	failalloc_disarm();
	if (rc == 0)
		digest_of(t->scratch, dg, dl);
	return rc;
}

/* cprof_combine with -diff_base: it takes a copy of a (source) and of b
 * (base), made before allocations start failing */
struct comb { const cprof_profile *a, *b; cprof_profile *src, *base; };

static void setup_comb(void *ctx)
{
	struct comb *c = ctx;
	c->src = cprof_profile_dup(c->a);
	c->base = cprof_profile_dup(c->b);
	assert_non_null(c->src);
	assert_non_null(c->base);
}

static int op_combine(void *ctx, char **dg, size_t *dl)
{
	struct comb *c = ctx;
	cprof_profile *out = NULL;
	cprof_combine_opts o = { .mode = CPROF_COMBINE_DIFF_BASE };
	int rc = cprof_combine(&c->src, 1, &c->base, 1, &o, &out, NULL);
	failalloc_disarm();
	if (c->src || c->base || (rc != 0 && out))
		return 98;
	if (rc == 0)
		digest_of(out, dg, dl);
	cprof_profile_free(out);
	return rc;
}

static void test_merge_dup_compact(void **state)
{
	struct prof t = { load("tests/golden/go/cpu.pb.gz"), load("tests/golden/go/heap.pb.gz"), 0 };
	cprof_profile_free(t.b);
	t.b = load("tests/golden/go/cpu.pb.gz");
	static const entry merge = { "merge", NULL, op_merge, NULL, false, 1 };
	static const entry dup = { "dup", NULL, op_dup, NULL, false, 1 };
	static const entry compact = { "compact", setup_scratch, op_compact, free_scratch, false, 1 };
	torture(&merge, &t);
	torture(&dup, &t);
	torture(&compact, &t);
	struct comb c = { t.a, t.b, NULL, NULL };
	static const entry combine = { "combine", setup_comb, op_combine, NULL, false, 1 };
	torture(&combine, &c);
	cprof_profile_free(t.a);
	cprof_profile_free(t.b);
	check();
}

struct enc { cprof_profile *p; bool gz; };

static int op_encode(void *ctx, char **dg, size_t *dl)
{
	struct enc *e = ctx;
	void *buf = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	int rc = cprof_pb_encode(e->p, e->gz, &buf, &len, &err);
	failalloc_disarm();
	if (rc != 0 && buf)
		return 98;
	if (rc == 0) {
		*dg = buf;
		*dl = len;
	}
	return rc;
}

static void test_encode(void **state)
{
	struct enc e = { load("tests/golden/go/cpu.pb.gz"), false };
	static const entry raw = { "encode", NULL, op_encode, NULL, false, 1 };
	static const entry gz = { "encode gzipped", NULL, op_encode, NULL, false, 1 };
	torture(&raw, &e);
	e.gz = true;
	torture(&gz, &e);
	cprof_profile_free(e.p);
	check();
}

/* a report modifies its profile: on a copy made unarmed; its text through
 * open_memstream (libc's buffer, not tracked) */
struct rep { cprof_profile *src, *p; int format; const char *symbol; };

static void setup_rep(void *ctx)
{
	struct rep *r = ctx;
	r->p = cprof_profile_dup(r->src);
	assert_non_null(r->p);
}

static void free_rep(void *ctx)
{
	struct rep *r = ctx;
	cprof_profile_free(r->p);
	r->p = NULL;
}

static int op_report(void *ctx, char **dg, size_t *dl)
{
	struct rep *r = ctx;
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = r->format;
	o.symbol = r->symbol;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	cprof_error err = { 0 };
	int rc = cprof_report(r->p, &o, out, out, &err);
	failalloc_disarm();
	fclose(out);
	if (rc == 0) {
		*dg = malloc(len + 1);
		assert_non_null(*dg);
		memcpy(*dg, text, len);
		*dl = len;
	}
	free(text);
	return rc;
}

static void report_torture(const char *name, const char *rel, int format, const char *sym)
{
	struct rep r = { load(rel), NULL, format, sym };
	entry e = { name, setup_rep, op_report, free_rep, false, 1 };
	torture(&e, &r);
	cprof_profile_free(r.src);
}

static void test_reports(void **state)
{
	report_torture("report -top", "tests/golden/go/mutex.pb.gz", CPROF_FMT_TEXT, NULL);
	report_torture("report -traces", "tests/golden/go/mutex.pb.gz", CPROF_FMT_TRACES, NULL);
	report_torture("report -tree", "tests/golden/go/block.pb.gz", CPROF_FMT_TREE, NULL);
	report_torture("report -peek", "tests/golden/go/block.pb.gz", CPROF_FMT_PEEK, ".");
	report_torture("report -raw", "tests/golden/go/goroutine.pb.gz", CPROF_FMT_RAW, NULL);
	check();
}

/* ---- the runtime's writers ------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define WRITER_STRIDE 4
#else
#define WRITER_STRIDE 1
#endif

typedef int (*writer_fn)(int fd, int debug);
struct wr { writer_fn fn; int debug; int fd; };

static int op_write(void *ctx, char **dg, size_t *dl)
{
	struct wr *w = ctx;
	if (ftruncate(w->fd, 0) != 0 || lseek(w->fd, 0, SEEK_SET) != 0)
		return 97;
	int rc = w->fn(w->fd, w->debug);
	failalloc_disarm();
	return rc == CPROF_ERR_NOMEM ? CPROF_ENOMEM : rc;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *contender(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&mu);
		volatile int spin = 0;
		for (int k = 0; k < 200; k++)
			spin += k;
		pthread_mutex_unlock(&mu);
	}
	return arg;
}

/* The timeline's index of an execution trace: built, its meta and a window
 * as the digest. */
static int op_timeline(void *ctx, char **dg, size_t *dl)
{
	struct bytes *b = ctx;
	cprof_timeline *tl = NULL;
	cprof_error err = { 0 };
	int rc = cprof_timeline_build(b->data, b->len, &tl, &err);
	failalloc_disarm();
	if (rc != 0 && tl)
		return 98;      /* a failed build must not hand out an index */
	if (rc == 0) {
		char *text = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);
		assert_non_null(m);
		uint32_t lanes[] = { 0, 1, 2 };
		cprof_timeline_meta_json(tl, m);
		cprof_timeline_window_json(tl, lanes, 3, 0, 300000000, 700, m);
		fclose(m);
		*dg = malloc(len + 1);   /* a block of the tracked allocator */
		assert_non_null(*dg);
		memcpy(*dg, text, len);
		*dl = len;
		free(text);
	}
	cprof_timeline_free(tl);
	return rc;
}

static void test_timeline_index(void **state)
{
	struct bytes b;
	b.data = slurp("fuzz/seeds/fuzz_timeline/mutex.json", &b.len);
	entry e = { "timeline index", NULL, op_timeline, NULL, false, 1 };
	torture(&e, &b);
	free(b.data);
	check();
}

static void test_runtime_writers(void **state)
{
	cprof_mutex_set_fraction(1);
	cprof_block_set_rate(1);
	cprof_heap_set_rate(1);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, contender, NULL), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	void *keep[64];
	for (int i = 0; i < 64; i++)
		keep[i] = malloc(100 + (size_t)i * 64);
	/* no sampling while tortured: a sample's bucket, allocated by the
	 * hook on the program's thread, would count as an allocation */
	cprof_heap_set_rate(0);
	char path[] = "/tmp/cprof-failalloc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	static const struct { const char *name; writer_fn fn; } w[] = {
		{ "cprof_heap_write", cprof_heap_write },
		{ "cprof_allocs_write", cprof_allocs_write },
		{ "cprof_mutex_write", cprof_mutex_write },
		{ "cprof_block_write", cprof_block_write },
		{ "cprof_threads_write", cprof_threads_write },
		{ "cprof_threadcreate_write", cprof_threadcreate_write },
	};
	/* every writer in profile.proto; Go's text (debug=1), whose renderer
	 * the kinds share, through the mutex profile (each run symbolizes:
	 * a few ms) */
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		for (int debug = 0; debug < (w[i].fn == cprof_mutex_write ? 2 : 1); debug++) {
			char name[64];
			snprintf(name, sizeof name, "%s debug=%d", w[i].name, debug);
			struct wr c = { w[i].fn, debug, fd };
			/* one mode: each run waits a few ms for the runtime (25
			 * under ASan, where every 4th allocation is tried) */
			entry e = { name, NULL, op_write, NULL, true, WRITER_STRIDE };
			torture(&e, &c);
		}
	close(fd);
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	check();
}

int main(void)
{
	/* the runtime is linked in (libcprof.a): no heap samples, whose
	 * buckets the hooks would allocate amid the counted allocations */
	cprof_heap_set_rate(0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_proto),
		cmocka_unit_test(test_decode_legacy),
		cmocka_unit_test(test_merge_dup_compact),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_runtime_writers),
		cmocka_unit_test(test_timeline_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
