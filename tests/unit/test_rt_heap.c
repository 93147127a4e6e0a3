/*
 * test_rt_heap.c - the heap profiler of libcprof, linked statically
 * (libcprof.a, so this program's own malloc and new are the runtime's
 * hooks): the address table (insert, remove in any order with
 * backward-shift deletion, stale entries, concurrent stripes), the
 * buckets, the rate API and statistics, and the heap/allocs profiles
 * built in this process at CPROF_HEAP_RATE=1 (every allocation, no
 * scaling): exact in-use and allocated bytes under a known function,
 * before and after freeing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>

#include <cmocka.h>

#include "cprof.h"
#include "rt_base.h"
#include "rt_profile.h"
#include "cprof_core.h"
#include "heap_int.h"

static rt_hbucket *fake_bucket(uint64_t size)
{
	uintptr_t pcs[2] = { 0x1000 + size, 0x2000 };
	static const char unit[RT_NAME_MAX] = "unit";   /* names are NUL-padded */
	rt_hbucket *b = rt_hbucket_get(pcs, 2, size, 0, unit);
	assert_non_null(b);
	return b;
}

static void test_buckets(void **state)
{
	(void)state;
	uintptr_t pcs[3] = { 0x10, 0x20, 0x30 };
	static const char t1[RT_NAME_MAX] = "t1", t2[RT_NAME_MAX] = "t2";
	rt_hbucket *a = rt_hbucket_get(pcs, 3, 64, 0, t1);
	rt_hbucket *b = rt_hbucket_get(pcs, 3, 64, 0, t1);
	rt_hbucket *c = rt_hbucket_get(pcs, 3, 128, 0, t1);
	rt_hbucket *d = rt_hbucket_get(pcs, 2, 64, 0, t1);
	rt_hbucket *e = rt_hbucket_get(pcs, 3, 64, 0, t2);
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	assert_ptr_not_equal(a, d);
	assert_ptr_not_equal(a, e);
	assert_int_equal(a->nframes, 3);
	assert_int_equal(a->size, 64);
	bool seen = false;
	for (rt_hbucket *h = rt_hbuckets(); h; h = h->all_next)
		seen |= h == c;
	assert_true(seen);
}

static void test_table_put_take_any_order(void **state)
{
	(void)state;
	enum { N = 20000 };
	rt_hbucket *b1 = fake_bucket(16), *b2 = fake_bucket(32);
	uintptr_t *keys = malloc(N * sizeof *keys);
	assert_non_null(keys);
	for (int i = 0; i < N; i++)
		keys[i] = 0x7e0000000000ull + (uintptr_t)i * 48;
	for (int i = 0; i < N; i++)
		assert_true(rt_htab_put((void *)keys[i], i % 2 ? b1 : b2, 1));
	assert_true(rt_htab_bytes() > 0);
	assert_null(rt_htab_take((void *)(keys[0] + 16), NULL));   /* never inserted */
	/* remove in a scrambled order: every key still found after the
	 * backward shifts of the ones removed before it */
	uint64_t s = 12345;
	for (int i = N - 1; i > 0; i--) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		int j = (int)(s % (uint64_t)(i + 1));
		uintptr_t t = keys[i];
		keys[i] = keys[j];
		keys[j] = t;
	}
	for (int i = 0; i < N; i++) {
		uintptr_t k = keys[i];
		rt_hbucket *want = ((k - 0x7e0000000000ull) / 48) % 2 ? b1 : b2;
		assert_ptr_equal(rt_htab_take((void *)k, NULL), want);
		assert_null(rt_htab_take((void *)k, NULL));   /* a double free finds nothing */
	}
	free(keys);
}

static void test_table_stale_entry_replaced(void **state)
{
	(void)state;
	rt_hbucket *b1 = fake_bucket(48), *b2 = fake_bucket(80);
	void *k = (void *)0x7f0000001230ull;
	uint64_t f0 = atomic_load(&b1->frees);
	assert_true(rt_htab_put(k, b1, 2));
	assert_true(rt_htab_put(k, b2, 3));     /* freed behind our back, reused */
	assert_int_equal(atomic_load(&b1->frees), f0 + 2);   /* its two points */
	unsigned w = 0;
	assert_ptr_equal(rt_htab_take(k, &w), b2);
	assert_int_equal(w, 3);
	assert_null(rt_htab_take(k, NULL));
	/* weights are kept in the bucket pointer's low bits: 1..16 */
	assert_true(rt_htab_put(k, b1, 16));
	assert_ptr_equal(rt_htab_take(k, &w), b1);
	assert_int_equal(w, 16);
}

typedef struct { int id; int bad; } worker_arg;

static void *table_worker(void *p)
{
	worker_arg *a = p;
	rt_hbucket *b = fake_bucket(1000 + (uint64_t)a->id);
	uintptr_t base = 0x7d0000000000ull + ((uintptr_t)a->id << 32);
	for (int round = 0; round < 20; round++) {
		for (uintptr_t i = 0; i < 2000; i++)
			if (!rt_htab_put((void *)(base + i * 16), b, 1))
				a->bad++;
		for (uintptr_t i = 0; i < 2000; i++)
			if (rt_htab_take((void *)(base + i * 16), NULL) != b)
				a->bad++;
	}
	return NULL;
}

static void test_table_concurrent(void **state)
{
	(void)state;
	pthread_t th[4];
	worker_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (worker_arg){ i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, table_worker, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
}

static void test_rate_api(void **state)
{
	(void)state;
	long old = cprof_heap_set_rate(4096);
	assert_true(old >= 0);
	assert_int_equal(cprof_heap_set_rate(-1), CPROF_ERR_INVAL);
	assert_int_equal(cprof_heap_set_rate(old), 4096);
	cprof_heap_stats st;
	assert_int_equal(cprof_heap_get_stats(NULL), CPROF_ERR_INVAL);
	assert_int_equal(cprof_heap_get_stats(&st), 0);
	assert_int_equal(st.rate, (uint64_t)old);
	assert_true(st.table_bytes > 0);
}

#define NBLK 100
static void *blocks[NBLK];

__attribute__((noinline)) static void unit_heap_alloc(void)
{
	for (int i = 0; i < NBLK; i++) {
		blocks[i] = malloc(3000);
		memset(blocks[i], 1, 3000);
	}
}

/* in-use and allocated bytes of samples whose stack names fn */
static void sums(const cprof_profile *p, const char *fn, int64_t *inuse, int64_t *alloc)
{
	*inuse = *alloc = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		uint32_t st = p->samples.v[i].stack;
		const uint32_t *locs = cprof_stack_locs(p, st);
		bool hit = false;
		for (size_t k = 0; k < cprof_stack_len(p, st) && !hit; k++) {
			const cprof_location *l = &p->locations.v[locs[k]];
			for (uint32_t j = 0; j < l->nline; j++) {
				const cprof_line *ln = &p->lines.v[l->line_off + j];
				if (strcmp(cprof_s(p, p->functions.v[ln->function].name), fn) == 0)
					hit = true;
			}
		}
		if (!hit)
			continue;
		const int64_t *v = cprof_sample_values(p, i);
		*alloc += v[1];
		*inuse += v[3];
	}
}

static void test_profile_in_process(void **state)
{
	(void)state;
	long old = cprof_heap_set_rate(1);
	unit_heap_alloc();
	cprof_profile *p = NULL;
	assert_int_equal(rt_profile_build(RT_KIND_HEAP, &p), 0);
	assert_int_equal(p->period, 1);
	assert_string_equal(cprof_s(p, p->default_sample_type), "inuse_space");
	int64_t inuse, alloc;
	sums(p, "unit_heap_alloc", &inuse, &alloc);
	assert_int_equal(inuse, NBLK * 3000);
	assert_int_equal(alloc, NBLK * 3000);
	cprof_profile_free(p);
	for (int i = 0; i < NBLK; i++)
		free(blocks[i]);
	assert_int_equal(rt_profile_build(RT_KIND_ALLOCS, &p), 0);
	assert_string_equal(cprof_s(p, p->default_sample_type), "alloc_space");
	sums(p, "unit_heap_alloc", &inuse, &alloc);
	assert_int_equal(inuse, 0);
	assert_int_equal(alloc, NBLK * 3000);
	cprof_profile_free(p);
	/* the text form */
	rt_buf b = { 0 };
	assert_int_equal(rt_profile_render(RT_KIND_HEAP, 1, &b), 0);
	assert_non_null(strstr(b.p, "heap profile: "));
	assert_non_null(strstr(b.p, "@ heap/2\n"));
	assert_non_null(strstr(b.p, "# Rate = 1\n"));
	rt_buf_free(&b);
	cprof_heap_set_rate(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_table_put_take_any_order),
		cmocka_unit_test(test_table_stale_entry_replaced),
		cmocka_unit_test(test_table_concurrent),
		cmocka_unit_test(test_rate_api),
		cmocka_unit_test(test_profile_in_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
