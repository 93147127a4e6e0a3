/*
 * test_merge.c - cprof_merge, cprof_scale, cprof_add_label_all and
 * cprof_compatibilize, against the semantics of Go 1.19's pprof (Merge,
 * ScaleProfiles, Scale, SetLabel) and newer pprof's CompatibilizeSampleTypes.
 *
 * Profiles are built by hand: a mapping for the main binary and one for libc,
 * four functions, one location per function, a few samples with and without
 * labels.  `shift` moves every address (address-space randomisation), which
 * merging must see through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_core.h"

#define S(p, x) cprof_intern_cstr(p, x)

typedef struct spec {
	const char *t0, *u0, *t1, *u1;  /* sample types */
	const char *pt, *pu;            /* period type */
	int64_t period;
	uint64_t shift;
} spec;

static const spec CPU_NS = { "samples", "count", "cpu", "nanoseconds", "cpu", "nanoseconds", 10000000, 0 };

/* Samples: (leaf, work, main) 3/30, (memcpy, work, main) 1/10,
 * (leaf, work, main){thread=a} 2/20, (work, main){size=64 bytes} 1/5. */
static cprof_profile *mk(const spec *sp)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, S(p, sp->t0), S(p, sp->u0)) == 0);
	assert_true(cprof_add_vtype(p, S(p, sp->t1), S(p, sp->u1)) == 1);
	p->period_type.type = S(p, sp->pt);
	p->period_type.unit = S(p, sp->pu);
	p->period = sp->period;
	cprof_mapping m = { .id = 1, .start = 0x400000 + sp->shift, .limit = 0x500000 + sp->shift,
			    .file = S(p, "/bin/app"), .has_functions = true };
	cprof_mapping m2 = { .id = 2, .start = 0x7f000000 + sp->shift,
			     .limit = 0x7f100000 + sp->shift, .file = S(p, "/lib/libc.so.6") };
	assert_true(cprof_add_mapping(p, &m) == 0);
	assert_true(cprof_add_mapping(p, &m2) == 1);
	static const char *const fn[] = { "main", "work", "leaf", "memcpy" };
	for (int i = 0; i < 4; i++) {
		cprof_function f = { .id = 10 + (uint64_t)i, .name = S(p, fn[i]),
				     .system_name = S(p, fn[i]), .filename = S(p, "app.c"),
				     .start_line = i };
		assert_true(cprof_add_function(p, &f) == i);
	}
	for (int i = 0; i < 4; i++) {
		cprof_location l = { .id = 100 + (uint64_t)i,
				     .address = (i == 3 ? 0x7f000100 : 0x401000 + 0x10 * (uint64_t)i) + sp->shift,
				     .mapping = i == 3 ? 1 : 0 };
		cprof_line ln = { (uint32_t)i, 10 + i, 0 };
		assert_true(cprof_add_location(p, &l, &ln, 1) == i);
	}
	uint32_t s1[] = { 2, 1, 0 }, s2[] = { 3, 1, 0 }, s3[] = { 1, 0 };
	int64_t st1 = cprof_intern_stack(p, s1, 3), st2 = cprof_intern_stack(p, s2, 3),
		st3 = cprof_intern_stack(p, s3, 2);
	cprof_label la = { S(p, "thread"), S(p, "a"), 0, 0 };
	cprof_label lb = { S(p, "size"), 0, 64, S(p, "bytes") };
	int64_t l1 = cprof_intern_labels(p, &la, 1), l2 = cprof_intern_labels(p, &lb, 1);
	int64_t v1[] = { 3, 30 }, v2[] = { 1, 10 }, v3[] = { 2, 20 }, v4[] = { 1, 5 };
	cprof_add_sample(p, (uint32_t)st1, 0, v1);
	cprof_add_sample(p, (uint32_t)st2, 0, v2);
	cprof_add_sample(p, (uint32_t)st1, (uint32_t)l1, v3);
	cprof_add_sample(p, (uint32_t)st3, (uint32_t)l2, v4);
	cprof_error err = { 0 };
	assert_int_equal(cprof_profile_check(p, &err), 0);
	return p;
}

static int64_t total(const cprof_profile *p, size_t vt)
{
	int64_t t = 0;
	for (size_t s = 0; s < p->samples.n; s++)
		t += cprof_sample_values(p, s)[vt];
	return t;
}

static cprof_profile *merge2(cprof_profile *a, cprof_profile *b)
{
	cprof_profile *two[2] = { a, b }, *m = NULL;
	cprof_error err = { 0 };
	int rc = cprof_merge(two, 2, &m, &err);
	if (rc) {
		print_error("merge: %s\n", err.msg);
		fail();
	}
	assert_int_equal(cprof_profile_check(m, &err), 0);
	return m;
}

static void expect_mismatch(cprof_profile *a, cprof_profile *b, const char *needle)
{
	cprof_profile *two[2] = { a, b }, *m = (cprof_profile *)1;
	cprof_error err = { 0 };
	assert_int_equal(cprof_merge(two, 2, &m, &err), CPROF_EMISMATCH);
	assert_null(m);
	if (!strstr(err.msg, needle)) {
		print_error("message \"%s\" lacks \"%s\"\n", err.msg, needle);
		fail();
	}
}

/* ---- merge ---------------------------------------------------------------- */

static void test_merge_self_doubles(void **state)
{
	cprof_profile *a = mk(&CPU_NS), *b = mk(&CPU_NS);
	cprof_profile *m = merge2(a, b);
	assert_int_equal(m->samples.n, a->samples.n);
	assert_int_equal(m->locations.n, 4);
	assert_int_equal(m->functions.n, 4);
	assert_int_equal(m->mappings.n, 2);
	for (size_t s = 0; s < m->samples.n; s++)
		for (size_t i = 0; i < 2; i++)
			assert_int_equal(cprof_sample_values(m, s)[i], 2 * cprof_sample_values(a, s)[i]);
	/* ids are renumbered 1..n in order of first use */
	for (size_t i = 0; i < m->locations.n; i++)
		assert_int_equal(m->locations.v[i].id, i + 1);
	assert_int_equal(m->period, 10000000);
	/* the labels survive, mapped into the new string table */
	uint32_t ls = m->samples.v[3].labels;
	assert_int_equal(cprof_lset_len(m, ls), 1);
	assert_string_equal(cprof_s(m, cprof_lset(m, ls)[0].key), "size");
	assert_string_equal(cprof_s(m, cprof_lset(m, ls)[0].unit), "bytes");
	assert_int_equal(cprof_lset(m, ls)[0].num, 64);
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(m);
}

static void test_merge_single_combines(void **state)
{
	cprof_profile *a = mk(&CPU_NS), *m = NULL;
	/* a duplicate of sample 0 and an all-zero sample */
	int64_t v[] = { 4, 40 }, z[] = { 0, 0 };
	cprof_add_sample(a, a->samples.v[0].stack, 0, v);
	cprof_add_sample(a, a->samples.v[1].stack, 0, z);
	cprof_error err = { 0 };
	assert_int_equal(cprof_merge(&a, 1, &m, &err), 0);
	assert_int_equal(m->samples.n, 4);
	assert_int_equal(cprof_sample_values(m, 0)[0], 7);
	assert_int_equal(cprof_sample_values(m, 0)[1], 70);
	assert_int_equal(total(m, 1), total(a, 1));
	cprof_profile_free(a);
	cprof_profile_free(m);
}

static void test_merge_aslr(void **state)
{
	spec sp = CPU_NS;
	sp.shift = 0x10000000;
	cprof_profile *a = mk(&CPU_NS), *b = mk(&sp);
	cprof_profile *m = merge2(a, b);
	/* same files and sizes: mappings and locations are the same ones */
	assert_int_equal(m->mappings.n, 2);
	assert_int_equal(m->locations.n, 4);
	assert_int_equal(m->mappings.v[0].start, 0x400000);
	assert_int_equal(m->samples.n, 4);
	assert_int_equal(total(m, 0), 2 * total(a, 0));
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(m);
}

static void test_merge_base_cancels(void **state)
{
	cprof_profile *a = mk(&CPU_NS), *b = mk(&CPU_NS);
	cprof_scale(b, -1);
	assert_int_equal(b->samples.n, 4);
	assert_int_equal(cprof_sample_values(b, 0)[1], -30);
	cprof_profile *m = merge2(a, b);
	/* every sample summed to zero and was dropped; so were its entities,
	 * except the first mapping, which pprof always keeps */
	assert_int_equal(m->samples.n, 0);
	assert_int_equal(m->locations.n, 0);
	assert_int_equal(m->functions.n, 0);
	assert_int_equal(m->mappings.n, 1);
	cprof_profile_free(m);

	/* partly cancelling: the survivors are renumbered */
	cprof_profile *c = mk(&CPU_NS);
	int64_t v[] = { 5, 50 };
	uint32_t only_main[] = { 0 };
	int64_t st = cprof_intern_stack(c, only_main, 1);
	cprof_add_sample(c, (uint32_t)st, 0, v);
	m = merge2(c, b);
	assert_int_equal(m->samples.n, 1);
	assert_int_equal(m->locations.n, 1);
	assert_int_equal(m->locations.v[0].id, 1);
	assert_int_equal(m->locations.v[0].address, 0x401000);
	assert_int_equal(cprof_sample_values(m, 0)[1], 50);
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(c);
	cprof_profile_free(m);
}

static void test_merge_diff_base_label(void **state)
{
	cprof_profile *a = mk(&CPU_NS), *b = mk(&CPU_NS);
	assert_int_equal(cprof_add_label_all(b, "pprof::base", "true"), 0);
	cprof_scale(b, -1);
	cprof_profile *m = merge2(a, b);
	/* base samples carry the label, so nothing cancels */
	assert_int_equal(m->samples.n, 8);
	assert_int_equal(total(m, 1), 0);
	size_t labelled = 0;
	for (size_t s = 0; s < m->samples.n; s++) {
		uint32_t ls = m->samples.v[s].labels;
		for (size_t i = 0; i < cprof_lset_len(m, ls); i++)
			if (strcmp(cprof_s(m, cprof_lset(m, ls)[i].key), "pprof::base") == 0) {
				assert_string_equal(cprof_s(m, cprof_lset(m, ls)[i].str), "true");
				labelled++;
			}
	}
	assert_int_equal(labelled, 4);
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(m);
}

static void test_merge_mismatch(void **state)
{
	spec heap = { "alloc_objects", "count", "alloc_space", "bytes", "space", "bytes", 512, 0 };
	spec other_period = CPU_NS, plural = CPU_NS, three = CPU_NS;
	other_period.pt = "wall";
	plural.t0 = "sample";
	cprof_profile *a = mk(&CPU_NS), *h = mk(&heap), *o = mk(&other_period), *pl = mk(&plural);
	expect_mismatch(a, h, "incompatible period types cpu/nanoseconds and space/bytes");
	expect_mismatch(a, o, "period types");
	/* "sample" and "samples" pass the unit check but not Merge's own */
	expect_mismatch(a, pl, "incompatible sample types [samples/count cpu/nanoseconds]");
	cprof_profile *t = mk(&three);
	t->samples.n = 0;
	t->values.n = 0;
	assert_int_equal(cprof_add_vtype(t, S(t, "wall"), S(t, "nanoseconds")), 2);
	expect_mismatch(a, t, "has 2 sample types but profile 2 has 3");
	spec bytes = CPU_NS;
	bytes.u1 = "bytes";
	cprof_profile *by = mk(&bytes);
	expect_mismatch(a, by, "sample type 2: cpu/nanoseconds (profile 1) and cpu/bytes (profile 2)");
	cprof_error err = { 0 };
	cprof_profile *m = (cprof_profile *)1;
	assert_int_equal(cprof_merge(NULL, 0, &m, &err), CPROF_EINVAL);
	assert_null(m);
	cprof_profile_free(a);
	cprof_profile_free(h);
	cprof_profile_free(o);
	cprof_profile_free(pl);
	cprof_profile_free(t);
	cprof_profile_free(by);
}

static void test_merge_units(void **state)
{
	spec ms = CPU_NS;
	ms.u1 = "milliseconds";
	ms.pu = "ms";
	ms.period = 10;
	cprof_profile *a = mk(&ms), *b = mk(&CPU_NS);
	/* ScaleProfiles' quirk: a value rescaled to 0 with its other values
	 * untouched drops the sample (values 3/0: count ratio 1, cpu 1e6) */
	int64_t v[] = { 3, 0 };
	cprof_add_sample(a, a->samples.v[1].stack, 0, v);
	cprof_profile *m = merge2(a, b);
	/* the finest unit wins, for the period type too */
	assert_string_equal(cprof_s(m, m->vtypes.v[1].unit), "nanoseconds");
	assert_string_equal(cprof_s(m, m->period_type.unit), "nanoseconds");
	assert_int_equal(m->period, 10000000);
	assert_int_equal(m->samples.n, 4);
	assert_int_equal(cprof_sample_values(m, 0)[1], 30 * 1000000 + 30);
	assert_int_equal(cprof_sample_values(m, 1)[0], 2);   /* the 3/0 sample is gone */
	cprof_profile_free(m);

	/* the other way round: same result, first profile's type names */
	m = merge2(b, a);
	assert_string_equal(cprof_s(m, m->vtypes.v[1].unit), "nanoseconds");
	assert_int_equal(cprof_sample_values(m, 0)[1], 30 * 1000000 + 30);
	cprof_profile_free(m);

	/* kilobytes and bytes */
	spec kb = { "alloc", "count", "space", "kilobytes", "space", "kB", 1, 0 };
	spec b8 = { "alloc", "count", "space", "B", "space", "bytes", 1, 0 };
	cprof_profile *k = mk(&kb), *by = mk(&b8);
	m = merge2(k, by);
	assert_string_equal(cprof_s(m, m->vtypes.v[1].unit), "B");
	assert_string_equal(cprof_s(m, m->period_type.unit), "bytes");
	assert_int_equal(cprof_sample_values(m, 0)[1], 30 * 1024 + 30);
	cprof_profile_free(m);
	cprof_profile_free(k);
	cprof_profile_free(by);
	cprof_profile_free(a);
	cprof_profile_free(b);
}

static void test_merge_headers(void **state)
{
	cprof_profile *a = mk(&CPU_NS), *b = mk(&CPU_NS), *c = mk(&CPU_NS);
	a->time_nanos = 500;
	b->time_nanos = 0;
	c->time_nanos = 700;
	a->duration_nanos = 1;
	b->duration_nanos = 2;
	c->duration_nanos = 4;
	c->period = 20000000;
	cprof_add_comment(a, S(a, "one"));
	cprof_add_comment(b, S(b, "two"));
	cprof_add_comment(b, S(b, "one"));
	b->default_sample_type = S(b, "cpu");
	c->default_sample_type = S(c, "samples");
	c->doc_url = S(c, "https://example.com/doc");
	a->drop_frames = S(a, "drop.*");
	b->keep_frames = S(b, "ignored");
	cprof_profile *three[3] = { a, b, c }, *m = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_merge(three, 3, &m, &err), 0);
	/* pprof's rule: a zero time resets the minimum, the next one sets it */
	assert_int_equal(m->time_nanos, 700);
	assert_int_equal(m->duration_nanos, 7);
	assert_int_equal(m->period, 20000000);
	assert_int_equal(m->comments.n, 2);
	assert_string_equal(cprof_s(m, m->comments.v[0]), "one");
	assert_string_equal(cprof_s(m, m->comments.v[1]), "two");
	assert_string_equal(cprof_s(m, m->default_sample_type), "cpu");
	assert_string_equal(cprof_s(m, m->doc_url), "https://example.com/doc");
	assert_string_equal(cprof_s(m, m->drop_frames), "drop.*");
	assert_string_equal(cprof_s(m, m->keep_frames), "");
	assert_int_equal(total(m, 0), 3 * total(a, 0));
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(c);
	cprof_profile_free(m);
}

static void test_merge_labels_distinguish(void **state)
{
	cprof_profile *a = mk(&CPU_NS), *b = mk(&CPU_NS);
	cprof_add_label_all(b, "thread", "b");
	cprof_profile *m = merge2(a, b);
	/* a's four samples differ from all of b's, which now are (stack 1,
	 * thread=b) twice, (stack 2, thread=b) and (stack 3, size, thread=b) */
	assert_int_equal(m->samples.n, 7);
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(m);
}

/* ---- scale, label, compatibilize ------------------------------------------------- */

static void test_scale(void **state)
{
	cprof_profile *a = mk(&CPU_NS);
	cprof_scale(a, 1);      /* no-op */
	assert_int_equal(cprof_sample_values(a, 0)[1], 30);
	cprof_scale(a, 0.5);
	/* math.Round: halves away from zero; 1*0.5 = 0.5 -> 1 */
	assert_int_equal(cprof_sample_values(a, 0)[0], 2);
	assert_int_equal(cprof_sample_values(a, 0)[1], 15);
	assert_int_equal(cprof_sample_values(a, 1)[0], 1);
	cprof_scale(a, -1);
	assert_int_equal(cprof_sample_values(a, 0)[0], -2);
	cprof_scale(a, 0.01);
	/* all values round to 0 except none: every sample dropped */
	assert_int_equal(a->samples.n, 0);
	assert_int_equal(a->values.n, 0);
	cprof_profile_free(a);

	a = mk(&CPU_NS);
	cprof_scale(a, 0.1);    /* 3/30 -> 0/3 kept; 1/10 -> 0/1; 2/20 -> 0/2; 1/5 -> 0/1 (0.5 rounds up) */
	assert_int_equal(a->samples.n, 4);
	assert_int_equal(cprof_sample_values(a, 3)[1], 1);
	cprof_scale(a, 0.1);
	assert_int_equal(a->samples.n, 0);
	cprof_profile_free(a);
}

static void test_add_label_all(void **state)
{
	cprof_profile *a = mk(&CPU_NS);
	assert_int_equal(cprof_add_label_all(a, "thread", "z"), 0);
	for (size_t s = 0; s < a->samples.n; s++) {
		uint32_t ls = a->samples.v[s].labels;
		size_t nthread = 0, nsize = 0;
		for (size_t i = 0; i < cprof_lset_len(a, ls); i++) {
			const cprof_label *l = &cprof_lset(a, ls)[i];
			if (strcmp(cprof_s(a, l->key), "thread") == 0) {
				assert_string_equal(cprof_s(a, l->str), "z");     /* replaced, as SetLabel */
				nthread++;
			}
			if (strcmp(cprof_s(a, l->key), "size") == 0)
				nsize++;
		}
		assert_int_equal(nthread, 1);
		assert_int_equal(nsize, s == 3 ? 1 : 0);
	}
	/* the replaced thread=a sample now shares sample 0's label set */
	assert_int_equal(a->samples.v[0].labels, a->samples.v[2].labels);
	assert_int_equal(cprof_add_label_all(a, NULL, "x"), CPROF_EINVAL);
	cprof_error err = { 0 };
	assert_int_equal(cprof_profile_check(a, &err), 0);
	cprof_profile_free(a);
}

static void test_compatibilize(void **state)
{
	spec heap4 = { "alloc_space", "bytes", "inuse_space", "bytes", "space", "bytes", 1, 0 };
	spec heap2 = { "inuse_space", "bytes", "alloc_objects", "count", "space", "bytes", 1, 0 };
	cprof_profile *a = mk(&heap4), *b = mk(&heap2);
	b->default_sample_type = S(b, "alloc_objects");
	cprof_profile *two[2] = { a, b };
	cprof_error err = { 0 };
	assert_int_equal(cprof_compatibilize(two, 2, &err), 0);
	/* only inuse_space is common; a keeps it, b is reduced to it */
	assert_int_equal(a->vtypes.n, 1);
	assert_int_equal(b->vtypes.n, 1);
	assert_string_equal(cprof_s(a, a->vtypes.v[0].type), "inuse_space");
	assert_string_equal(cprof_s(b, b->vtypes.v[0].type), "inuse_space");
	assert_string_equal(cprof_s(a, a->default_sample_type), "inuse_space");
	assert_string_equal(cprof_s(b, b->default_sample_type), "inuse_space");
	assert_int_equal(cprof_sample_values(a, 0)[0], 30);
	assert_int_equal(cprof_sample_values(b, 0)[0], 3);
	assert_int_equal(cprof_profile_check(a, &err), 0);
	assert_int_equal(cprof_profile_check(b, &err), 0);
	cprof_profile *m = merge2(a, b);
	assert_int_equal(cprof_sample_values(m, 0)[0], 33);
	cprof_profile_free(m);

	/* same types, other order: reordered to the first profile's */
	cprof_profile *c = mk(&CPU_NS);
	spec swapped = { "cpu", "nanoseconds", "samples", "count", "cpu", "nanoseconds", 1, 0 };
	cprof_profile *d = mk(&swapped);
	cprof_profile *cd[2] = { c, d };
	assert_int_equal(cprof_compatibilize(cd, 2, &err), 0);
	assert_string_equal(cprof_s(d, d->vtypes.v[0].type), "samples");
	assert_int_equal(cprof_sample_values(d, 0)[0], 30);
	assert_int_equal(cprof_sample_values(d, 0)[1], 3);
	assert_int_equal(c->vtypes.n, 2);

	/* nothing in common */
	cprof_profile *ac[2] = { a, c };
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_compatibilize(ac, 2, &err), CPROF_EMISMATCH);
	assert_non_null(strstr(err.msg, "no sample type in common"));
	cprof_profile_free(a);
	cprof_profile_free(b);
	cprof_profile_free(c);
	cprof_profile_free(d);
}

/* A large merge stays fast: repeated stacks cost one memo lookup each. */
static void test_merge_large(void **state)
{
	cprof_profile *a = mk(&CPU_NS);
	int64_t v[] = { 1, 10 };
	for (int i = 0; i < 300000; i++)
		cprof_add_sample(a, a->samples.v[i % 3].stack, 0, v);
	cprof_profile *m = merge2(a, a);
	assert_int_equal(m->samples.n, 4);
	assert_int_equal(total(m, 0), 2 * total(a, 0));
	cprof_profile_free(a);
	cprof_profile_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_self_doubles),
		cmocka_unit_test(test_merge_single_combines),
		cmocka_unit_test(test_merge_aslr),
		cmocka_unit_test(test_merge_base_cancels),
		cmocka_unit_test(test_merge_diff_base_label),
		cmocka_unit_test(test_merge_mismatch),
		cmocka_unit_test(test_merge_units),
		cmocka_unit_test(test_merge_headers),
		cmocka_unit_test(test_merge_labels_distinguish),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_add_label_all),
		cmocka_unit_test(test_compatibilize),
		cmocka_unit_test(test_merge_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
