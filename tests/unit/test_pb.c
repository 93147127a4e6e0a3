/*
 * test_pb.c - the profile.proto codec and the input layer (pb_decode.c,
 * pb_encode.c, io.c).
 *
 * Hand-made protos come from a tiny writer (pb_*) so every test states its
 * input byte for byte: field order, packed or not, unknown fields, and each
 * kind of damage.  Round trips compare two models field by field through
 * same_profile(), by content (strings as text, label sets as sorted text
 * tuples) and, where the encoder must keep them, by index.  The Go corpus
 * (tests/golden/go, found through $CPROF_SRCDIR) is decoded and its counts
 * checked against numbers from an independent field count and against
 * go tool pprof -raw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "cprof_core.h"
#include "pb_int.h"             /* the reader, for window and read boundaries */

/* ---- a minimal protobuf writer ------------------------------------------ */

typedef struct pb {
	unsigned char *b;
	size_t n, cap;
} pb;

static void pb_raw(pb *w, const void *d, size_t n)
{
	if (n == 0)
		return;
	if (w->n + n > w->cap) {
		w->cap = (w->n + n) * 2 + 64;
		w->b = realloc(w->b, w->cap);
		assert_non_null(w->b);
	}
	memcpy(w->b + w->n, d, n);
	w->n += n;
}

static void pb_varint(pb *w, uint64_t v)
{
	unsigned char t[10];
	size_t k = 0;
	while (v >= 0x80) {
		t[k++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	t[k++] = (unsigned char)v;
	pb_raw(w, t, k);
}

static void pb_tag(pb *w, unsigned f, unsigned wt) { pb_varint(w, (uint64_t)f << 3 | wt); }
static void pb_u(pb *w, unsigned f, uint64_t v) { pb_tag(w, f, 0); pb_varint(w, v); }
static void pb_bytes(pb *w, unsigned f, const void *d, size_t n)
{
	pb_tag(w, f, 2);
	pb_varint(w, n);
	pb_raw(w, d, n);
}
static void pb_str(pb *w, unsigned f, const char *s) { pb_bytes(w, f, s, strlen(s)); }
/* append sub as field f and reset sub */
static void pb_msg(pb *w, unsigned f, pb *sub)
{
	pb_bytes(w, f, sub->b, sub->n);
	sub->n = 0;
}
static void pb_packed(pb *w, unsigned f, const uint64_t *v, size_t n)
{
	pb t = { 0 };
	for (size_t i = 0; i < n; i++)
		pb_varint(&t, v[i]);
	pb_bytes(w, f, t.b, t.n);
	free(t.b);
}
static void pb_free(pb *w) { free(w->b); w->b = NULL; w->n = w->cap = 0; }

/* Pieces of the Profile message most tests share. */
static void add_strings(pb *w, const char *const *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pb_str(w, 6, s[i]);
}

static void add_vtype(pb *w, unsigned field, uint64_t type, uint64_t unit)
{
	pb m = { 0 };
	pb_u(&m, 1, type);
	pb_u(&m, 2, unit);
	pb_msg(w, field, &m);
	pb_free(&m);
}

static void add_function(pb *w, uint64_t id, uint64_t name)
{
	pb m = { 0 };
	pb_u(&m, 1, id);
	pb_u(&m, 2, name);
	pb_msg(w, 5, &m);
	pb_free(&m);
}

static void add_location(pb *w, uint64_t id, uint64_t mapping, uint64_t fn)
{
	pb m = { 0 }, l = { 0 };
	pb_u(&m, 1, id);
	if (mapping)
		pb_u(&m, 2, mapping);
	pb_u(&m, 3, 0x1000 + id);
	if (fn) {
		pb_u(&l, 1, fn);
		pb_u(&l, 2, 10 * id);
		pb_msg(&m, 4, &l);
	}
	pb_msg(w, 4, &m);
	pb_free(&m);
	pb_free(&l);
}

static void add_mapping(pb *w, uint64_t id)
{
	pb m = { 0 };
	pb_u(&m, 1, id);
	pb_u(&m, 2, 0x1000);
	pb_u(&m, 3, 0x9000);
	pb_msg(w, 3, &m);
	pb_free(&m);
}

/* a sample with locations and values, unpacked */
static void add_sample(pb *w, const uint64_t *locs, size_t nl, const int64_t *vals, size_t nv)
{
	pb m = { 0 };
	for (size_t i = 0; i < nl; i++)
		pb_u(&m, 1, locs[i]);
	for (size_t i = 0; i < nv; i++)
		pb_u(&m, 2, (uint64_t)vals[i]);
	pb_msg(w, 2, &m);
	pb_free(&m);
}

static const char *const STR[] = { "", "samples", "count", "cpu", "nanoseconds", "main", "foo" };
#define NSTR (sizeof STR / sizeof *STR)

/* A small valid profile: 2 sample types, 1 mapping, 2 functions, 2
 * locations, 2 samples. */
static void small_profile(pb *w)
{
	add_vtype(w, 1, 1, 2);
	add_vtype(w, 1, 3, 4);
	add_mapping(w, 1);
	add_function(w, 1, 5);
	add_function(w, 2, 6);
	add_location(w, 1, 1, 1);
	add_location(w, 2, 1, 2);
	uint64_t l1[] = { 2, 1 }, l2[] = { 1 };
	int64_t v1[] = { 3, 30 }, v2[] = { 1, 10 };
	add_sample(w, l1, 2, v1, 2);
	add_sample(w, l2, 1, v2, 2);
	add_strings(w, STR, NSTR);
}

static cprof_profile *decode_ok(const pb *w)
{
	cprof_profile *p = NULL;
	cprof_error e = { 0, "" };
	int rc = cprof_pb_decode(w->b, w->n, &p, &e);
	if (rc)
		fail_msg("decode failed: %d %s", rc, e.msg);
	assert_non_null(p);
	cprof_error ce = { 0, "" };
	if (cprof_profile_check(p, &ce))
		fail_msg("check failed: %s", ce.msg);
	return p;
}

/* ---- comparing models ----------------------------------------------------- */

static void same_str(const cprof_profile *a, cprof_str x, const cprof_profile *b, cprof_str y)
{
	assert_int_equal(cprof_slen(a, x), cprof_slen(b, y));
	assert_memory_equal(cprof_s(a, x), cprof_s(b, y), cprof_slen(a, x) + 1);
}

static void same_vtype(const cprof_profile *a, cprof_vtype x, const cprof_profile *b, cprof_vtype y)
{
	same_str(a, x.type, b, y.type);
	same_str(a, x.unit, b, y.unit);
}

/* label set as text, sorted, for comparing across string tables */
static char *lset_text(const cprof_profile *p, uint32_t s)
{
	size_t n = cprof_lset_len(p, s);
	char **items = calloc(n + 1, sizeof *items);
	size_t total = 1;
	for (size_t i = 0; i < n; i++) {
		const cprof_label *l = &cprof_lset(p, s)[i];
		size_t len = strlen(cprof_s(p, l->key)) + strlen(cprof_s(p, l->str)) +
			     strlen(cprof_s(p, l->unit)) + 48;
		items[i] = malloc(len);
		snprintf(items[i], len, "%s=%s/%lld/%s;", cprof_s(p, l->key), cprof_s(p, l->str),
			 (long long)l->num, cprof_s(p, l->unit));
		total += strlen(items[i]);
	}
	for (size_t i = 1; i < n; i++)       /* insertion sort */
		for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
			char *t = items[j];
			items[j] = items[j - 1];
			items[j - 1] = t;
		}
	char *out = calloc(total, 1);
	for (size_t i = 0; i < n; i++) {
		strcat(out, items[i]);
		free(items[i]);
	}
	free(items);
	return out;
}

/* Every field of a and b equal by content; `ids` also requires equal proto
 * ids (else only the ids' presence). */
static void same_profile(const cprof_profile *a, const cprof_profile *b, bool ids)
{
	assert_int_equal(a->vtypes.n, b->vtypes.n);
	for (size_t i = 0; i < a->vtypes.n; i++)
		same_vtype(a, a->vtypes.v[i], b, b->vtypes.v[i]);
	assert_int_equal(a->mappings.n, b->mappings.n);
	for (size_t i = 0; i < a->mappings.n; i++) {
		const cprof_mapping *x = &a->mappings.v[i], *y = &b->mappings.v[i];
		if (ids)
			assert_int_equal(x->id, y->id);
		assert_int_equal(x->start, y->start);
		assert_int_equal(x->limit, y->limit);
		assert_int_equal(x->offset, y->offset);
		same_str(a, x->file, b, y->file);
		same_str(a, x->build_id, b, y->build_id);
		assert_int_equal(x->has_functions, y->has_functions);
		assert_int_equal(x->has_filenames, y->has_filenames);
		assert_int_equal(x->has_line_numbers, y->has_line_numbers);
		assert_int_equal(x->has_inline_frames, y->has_inline_frames);
	}
	assert_int_equal(a->functions.n, b->functions.n);
	for (size_t i = 0; i < a->functions.n; i++) {
		const cprof_function *x = &a->functions.v[i], *y = &b->functions.v[i];
		if (ids)
			assert_int_equal(x->id, y->id);
		same_str(a, x->name, b, y->name);
		same_str(a, x->system_name, b, y->system_name);
		same_str(a, x->filename, b, y->filename);
		assert_int_equal(x->start_line, y->start_line);
	}
	assert_int_equal(a->locations.n, b->locations.n);
	for (size_t i = 0; i < a->locations.n; i++) {
		const cprof_location *x = &a->locations.v[i], *y = &b->locations.v[i];
		if (ids)
			assert_int_equal(x->id, y->id);
		assert_int_equal(x->address, y->address);
		assert_int_equal(x->mapping, y->mapping);
		assert_int_equal(x->is_folded, y->is_folded);
		assert_int_equal(x->nline, y->nline);
		for (uint32_t k = 0; k < x->nline; k++) {
			const cprof_line *lx = &a->lines.v[x->line_off + k], *ly = &b->lines.v[y->line_off + k];
			assert_int_equal(lx->function, ly->function);
			assert_int_equal(lx->line, ly->line);
			assert_int_equal(lx->column, ly->column);
		}
	}
	assert_int_equal(a->samples.n, b->samples.n);
	for (size_t i = 0; i < a->samples.n; i++) {
		const cprof_sample *x = &a->samples.v[i], *y = &b->samples.v[i];
		size_t n = cprof_stack_len(a, x->stack);
		assert_int_equal(n, cprof_stack_len(b, y->stack));
		if (n)
			assert_memory_equal(cprof_stack_locs(a, x->stack), cprof_stack_locs(b, y->stack),
					    n * sizeof(uint32_t));
		if (a->vtypes.n)
			assert_memory_equal(cprof_sample_values(a, i), cprof_sample_values(b, i),
					    a->vtypes.n * sizeof(int64_t));
		char *lx = lset_text(a, x->labels), *ly = lset_text(b, y->labels);
		assert_string_equal(lx, ly);
		free(lx);
		free(ly);
	}
	assert_int_equal(cprof_nstacks(a), cprof_nstacks(b));
	assert_int_equal(cprof_nlsets(a), cprof_nlsets(b));
	assert_int_equal(a->comments.n, b->comments.n);
	for (size_t i = 0; i < a->comments.n; i++)
		same_str(a, a->comments.v[i], b, b->comments.v[i]);
	same_str(a, a->drop_frames, b, b->drop_frames);
	same_str(a, a->keep_frames, b, b->keep_frames);
	assert_int_equal(a->time_nanos, b->time_nanos);
	assert_int_equal(a->duration_nanos, b->duration_nanos);
	same_vtype(a, a->period_type, b, b->period_type);
	assert_int_equal(a->period, b->period);
	same_str(a, a->default_sample_type, b, b->default_sample_type);
	same_str(a, a->doc_url, b, b->doc_url);
}

/* Tables byte for byte (for profiles whose strings are all referenced). */
static void identical_profile(const cprof_profile *a, const cprof_profile *b)
{
	same_profile(a, b, true);
	assert_int_equal(cprof_nstrings(a), cprof_nstrings(b));
	for (size_t i = 0; i < cprof_nstrings(a); i++)
		same_str(a, (cprof_str)i, b, (cprof_str)i);
#define SAME_VEC(f) do { \
	assert_int_equal(a->f.n, b->f.n); \
	if (a->f.n) assert_memory_equal(a->f.v, b->f.v, a->f.n * sizeof *a->f.v); \
} while (0)
	/* (structs with padding are compared field by field) */
	SAME_VEC(vtypes);
	SAME_VEC(stack_off);
	SAME_VEC(stack_locs);
	SAME_VEC(lset_off);
	SAME_VEC(samples);
	SAME_VEC(values);
	SAME_VEC(comments);
	for (size_t i = 0; i < a->locations.n; i++)
		assert_int_equal(a->locations.v[i].line_off, b->locations.v[i].line_off);
	assert_int_equal(a->lines.n, b->lines.n);
	for (size_t i = 0; i < a->lines.n; i++) {
		assert_int_equal(a->lines.v[i].function, b->lines.v[i].function);
		assert_int_equal(a->lines.v[i].line, b->lines.v[i].line);
		assert_int_equal(a->lines.v[i].column, b->lines.v[i].column);
	}
	assert_int_equal(a->lset_labels.n, b->lset_labels.n);
	for (size_t i = 0; i < a->lset_labels.n; i++) {
		const cprof_label *x = &a->lset_labels.v[i], *y = &b->lset_labels.v[i];
		assert_int_equal(x->key, y->key);
		assert_int_equal(x->str, y->str);
		assert_int_equal(x->num, y->num);
		assert_int_equal(x->unit, y->unit);
	}
#undef SAME_VEC
	assert_int_equal(a->drop_frames, b->drop_frames);
	assert_int_equal(a->keep_frames, b->keep_frames);
	assert_int_equal(a->default_sample_type, b->default_sample_type);
	assert_int_equal(a->doc_url, b->doc_url);
	assert_int_equal(a->period_type.type, b->period_type.type);
	assert_int_equal(a->period_type.unit, b->period_type.unit);
}

static cprof_profile *roundtrip(const cprof_profile *p, bool gz)
{
	void *buf;
	size_t len;
	cprof_error e = { 0, "" };
	if (cprof_pb_encode(p, gz, &buf, &len, &e))
		fail_msg("encode: %s", e.msg);
	cprof_profile *q = NULL;
	if (cprof_pb_decode(buf, len, &q, &e))
		fail_msg("decode of encoded: %s", e.msg);
	free(buf);
	return q;
}

/* ---- a model with every field set ---------------------------------------- */

static cprof_str S(cprof_profile *p, const char *s) { return cprof_intern_cstr(p, s); }

static cprof_profile *full_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_int_equal(cprof_add_vtype(p, S(p, "samples"), S(p, "count")), 0);
	assert_int_equal(cprof_add_vtype(p, S(p, "cpu"), S(p, "nanoseconds")), 1);
	cprof_mapping m1 = { 7, 0x400000, 0x500000, 0x1000, S(p, "/bin/app"), S(p, "abc123"),
			     true, false, true, false };
	cprof_mapping m2 = { 9, 0x7f0000, 0x7f1000, 0, S(p, "[vdso]"), 0, false, true, false, true };
	assert_int_equal(cprof_add_mapping(p, &m1), 0);
	assert_int_equal(cprof_add_mapping(p, &m2), 1);
	cprof_function f[3] = {
		{ 100, S(p, "main"), S(p, "_Z4mainv"), S(p, "main.c"), 12 },
		{ 5, S(p, "work"), S(p, "work"), S(p, "work.c"), -3 },
		{ 77, S(p, "inl"), 0, S(p, "inl.h"), 0 },
	};
	for (int i = 0; i < 3; i++)
		assert_int_equal(cprof_add_function(p, &f[i]), i);
	cprof_line l0[] = { { 0, 40, 2 } };
	cprof_line l1[] = { { 2, 7, 1 }, { 1, 99, 0 }, { 0, -5, 300 } };
	cprof_location loc0 = { .id = 3, .address = 0x400123, .mapping = 0 };
	cprof_location loc1 = { .id = 1, .address = 0x400456, .mapping = 0, .is_folded = true };
	cprof_location loc2 = { .id = 2, .address = 0x7f0010, .mapping = CPROF_NONE };
	cprof_location loc3 = { .id = 1000000, .address = 0, .mapping = 1 };
	assert_int_equal(cprof_add_location(p, &loc0, l0, 1), 0);
	assert_int_equal(cprof_add_location(p, &loc1, l1, 3), 1);
	assert_int_equal(cprof_add_location(p, &loc2, NULL, 0), 2);
	assert_int_equal(cprof_add_location(p, &loc3, l0, 1), 3);
	uint32_t s0[] = { 1, 0 }, s1[] = { 2, 1, 0 }, s2[] = { 3 };
	int64_t st0 = cprof_intern_stack(p, s0, 2), st1 = cprof_intern_stack(p, s1, 3);
	int64_t st2 = cprof_intern_stack(p, s2, 1), st3 = cprof_intern_stack(p, NULL, 0);
	cprof_label la[] = {
		{ S(p, "thread"), S(p, "worker-1"), 0, 0 },
		{ S(p, "bytes"), 0, 4096, S(p, "bytes") },
		{ S(p, "delta"), 0, -17, 0 },
		{ S(p, "thread"), S(p, "worker-2"), 0, 0 },
	};
	int64_t ls1 = cprof_intern_labels(p, la, 4), ls2 = cprof_intern_labels(p, la + 1, 1);
	assert_true(ls1 > 0 && ls2 > 0);
	int64_t v[][2] = { { 1, 10000000 }, { 3, -30000000 }, { 0, 0 }, { INT64_MAX, INT64_MIN } };
	assert_true(cprof_add_sample(p, (uint32_t)st0, 0, v[0]) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st1, (uint32_t)ls1, v[1]) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st2, (uint32_t)ls2, v[2]) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st3, 0, v[3]) >= 0);
	assert_true(cprof_add_sample(p, (uint32_t)st0, (uint32_t)ls1, v[0]) >= 0);
	assert_int_equal(cprof_add_comment(p, S(p, "first comment")), 0);
	assert_int_equal(cprof_add_comment(p, S(p, "second: ünïcode")), 0);
	p->drop_frames = S(p, "malloc|free");
	p->keep_frames = S(p, "keep.*");
	p->time_nanos = 1763722783096208201LL;
	p->duration_nanos = 831000000;
	p->period_type.type = S(p, "cpu");
	p->period_type.unit = S(p, "nanoseconds");
	p->period = 10000000;
	p->default_sample_type = S(p, "cpu");
	p->doc_url = S(p, "https://example.com/doc");
	return p;
}

static void test_roundtrip_all_fields(void **state)
{
	cprof_profile *p = full_profile();
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_profile_check(p, &e), 0);
	for (int gz = 0; gz < 2; gz++) {
		cprof_profile *q = roundtrip(p, gz);
		identical_profile(p, q);
		cprof_profile_free(q);
	}
	/* encoding is deterministic and idempotent */
	void *b1, *b2;
	size_t n1, n2;
	assert_int_equal(cprof_pb_encode(p, false, &b1, &n1, &e), 0);
	cprof_profile *q = roundtrip(p, false);
	assert_int_equal(cprof_pb_encode(q, false, &b2, &n2, &e), 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	free(b1);
	free(b2);
	cprof_profile_free(q);
	cprof_profile_free(p);
}

static void test_roundtrip_unreferenced_strings(void **state)
{
	/* strings nothing refers to are not written; content survives */
	cprof_profile *p = full_profile();
	S(p, "unused one");
	S(p, "unused two");
	cprof_profile *q = roundtrip(p, false);
	same_profile(p, q, true);
	assert_int_equal(cprof_nstrings(q), cprof_nstrings(p) - 2);
	cprof_profile_free(q);
	cprof_profile_free(p);
}

static void test_encode_renumbers_bad_ids(void **state)
{
	cprof_profile *p = full_profile();
	p->mappings.v[1].id = p->mappings.v[0].id;      /* duplicate */
	p->functions.v[2].id = 0;                       /* zero */
	cprof_profile *q = roundtrip(p, false);
	same_profile(p, q, false);
	assert_int_equal(q->mappings.v[0].id, 1);
	assert_int_equal(q->mappings.v[1].id, 2);
	for (size_t i = 0; i < q->functions.n; i++)
		assert_int_equal(q->functions.v[i].id, i + 1);
	for (size_t i = 0; i < q->locations.n; i++)     /* fine ids are kept */
		assert_int_equal(q->locations.v[i].id, p->locations.v[i].id);
	cprof_profile_free(q);
	cprof_profile_free(p);
}

static void test_encode_empty_profile(void **state)
{
	cprof_profile *p = cprof_profile_new();
	void *buf;
	size_t len;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_pb_encode(p, false, &buf, &len, &e), 0);
	assert_int_equal(len, 2);        /* just string_table[0] = "" */
	cprof_profile *q = NULL;
	assert_int_equal(cprof_pb_decode(buf, len, &q, &e), 0);
	same_profile(p, q, true);
	free(buf);
	cprof_profile_free(q);
	assert_int_equal(cprof_pb_encode(p, true, &buf, &len, &e), 0);
	assert_int_equal(cprof_decode(buf, len, &q, &e), 0);
	free(buf);
	cprof_profile_free(q);
	cprof_profile_free(p);
}

static void test_encode_refuses_invalid_model(void **state)
{
	cprof_profile *p = full_profile();
	p->samples.v[0].stack = 999;
	void *buf = (void *)1;
	size_t len;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_pb_encode(p, false, &buf, &len, &e), CPROF_EFORMAT);
	assert_null(buf);
	assert_non_null(strstr(e.msg, "sample 0"));
	cprof_profile_free(p);
}

/* ---- golden Go profiles ---------------------------------------------------- */

static char *golden_path(const char *name)
{
	const char *root = getenv("CPROF_SRCDIR");
	static char path[4096];
	snprintf(path, sizeof path, "%s/tests/golden/go/%s", root ? root : ".", name);
	return path;
}

/* samples and locations listed by go tool pprof -raw */
static void raw_counts(const char *name, size_t *samples, size_t *locations)
{
	FILE *f = fopen(golden_path(name), "r");
	if (!f)
		fail_msg("cannot open %s (set CPROF_SRCDIR)", golden_path(name));
	char line[8192];
	int section = 0;        /* 1 samples, 2 locations */
	bool header = false;
	*samples = *locations = 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "Samples:", 8) == 0) {
			section = 1;
			header = true;
			continue;
		}
		if (strncmp(line, "Locations", 9) == 0) {
			section = 2;
			continue;
		}
		if (strncmp(line, "Mappings", 8) == 0)
			section = 0;
		const char *s = line;
		while (*s == ' ')
			s++;
		if (section == 1) {
			if (header) {           /* the type/unit line */
				header = false;
				continue;
			}
			if ((*s >= '0' && *s <= '9') || *s == '-')
				(*samples)++;
		} else if (section == 2 && *s >= '0' && *s <= '9' && strstr(s, ": 0x")) {
			(*locations)++;
		}
	}
	fclose(f);
}

static const struct golden {
	const char *name;
	size_t samples, locations, functions, mappings, strings, vtypes;
	bool raw_agrees;        /* pprof -raw lists the samples as decoded */
} goldens[] = {
	/* counts from an independent count of the top-level fields */
	{ "allocs", 224, 195, 114, 3, 155, 4, false },
	{ "block", 8, 22, 22, 3, 37, 2, true },
	{ "cpu", 130, 218, 111, 3, 155, 2, true },
	{ "goroutine", 3, 13, 13, 3, 24, 1, true },
	{ "heap", 191, 155, 92, 3, 128, 4, false },
	{ "mutex", 4, 14, 17, 3, 29, 2, true },
	{ "threadcreate", 1, 0, 0, 3, 6, 1, false },
};

static void test_golden_counts(void **state)
{
	for (size_t i = 0; i < sizeof goldens / sizeof *goldens; i++) {
		const struct golden *g = &goldens[i];
		char name[256];
		snprintf(name, sizeof name, "%s.pb.gz", g->name);
		cprof_profile *p = NULL;
		cprof_error e = { 0, "" };
		if (cprof_decode_file(golden_path(name), &p, &e))
			fail_msg("%s: %s", name, e.msg);
		assert_int_equal(cprof_profile_check(p, &e), 0);
		assert_int_equal(p->samples.n, g->samples);
		assert_int_equal(p->locations.n, g->locations);
		assert_int_equal(p->functions.n, g->functions);
		assert_int_equal(p->mappings.n, g->mappings);
		assert_int_equal(cprof_nstrings(p), g->strings);
		assert_int_equal(p->vtypes.n, g->vtypes);
		assert_int_not_equal(p->time_nanos, 0);
		snprintf(name, sizeof name, "%s.raw.txt", g->name);
		size_t rs, rl;
		raw_counts(name, &rs, &rl);
		if (g->raw_agrees) {
			assert_int_equal(p->samples.n, rs);
			assert_int_equal(p->locations.n, rl);
		}
		/* the re-encoded profile decodes to the same model */
		for (int gz = 0; gz < 2; gz++) {
			cprof_profile *q = roundtrip(p, gz);
			identical_profile(p, q);
			cprof_profile_free(q);
		}
		cprof_profile_free(p);
	}
}

static void test_golden_cpu(void **state)
{
	cprof_profile *p = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode_file(golden_path("cpu.pb.gz"), &p, &e), 0);
	assert_int_equal(p->vtypes.n, 2);
	assert_string_equal(cprof_s(p, p->vtypes.v[0].type), "samples");
	assert_string_equal(cprof_s(p, p->vtypes.v[0].unit), "count");
	assert_string_equal(cprof_s(p, p->vtypes.v[1].type), "cpu");
	assert_string_equal(cprof_s(p, p->vtypes.v[1].unit), "nanoseconds");
	assert_string_equal(cprof_s(p, p->period_type.type), "cpu");
	assert_string_equal(cprof_s(p, p->period_type.unit), "nanoseconds");
	assert_int_equal(p->period, 10000000);
	assert_int_equal(p->time_nanos, 1795258783096208201LL);     /* Time: in cpu.raw.txt */
	assert_true(p->duration_nanos >= 831000000 && p->duration_nanos < 832000000);
	/* first sample of cpu.raw.txt: "2   20000000: 1 2 3 4 5" */
	const int64_t *v = cprof_sample_values(p, 0);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[1], 20000000);
	uint32_t st = p->samples.v[0].stack;
	assert_int_equal(cprof_stack_len(p, st), 5);
	for (uint32_t k = 0; k < 5; k++)
		assert_int_equal(p->locations.v[cprof_stack_locs(p, st)[k]].id, k + 1);
	assert_int_equal(p->mappings.v[0].id, 1);
	assert_int_equal(p->mappings.v[0].start, 0x400000);
	assert_int_equal(p->mappings.v[0].limit, 0x4de000);
	assert_true(p->mappings.v[0].has_functions);
	assert_int_equal(cprof_default_vtype(p), 1);
	cprof_profile_free(p);
}

static void test_golden_heap_allocs(void **state)
{
	cprof_profile *p = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode_file(golden_path("allocs.pb.gz"), &p, &e), 0);
	assert_string_equal(cprof_s(p, p->default_sample_type), "alloc_space");
	assert_int_equal(cprof_default_vtype(p), 1);
	assert_int_equal(p->period, 4096);
	/* Go writes all-zero samples first, which -raw leaves out; the first
	 * one it prints is "43 4144 43 4144: 1" with label bytes:[96] */
	size_t i = 0;
	while (i < p->samples.n && cprof_sample_values(p, i)[0] == 0)
		i++;
	assert_int_equal(i, 34);
	const int64_t *v = cprof_sample_values(p, i);
	assert_int_equal(v[0], 43);
	assert_int_equal(v[1], 4144);
	assert_int_equal(v[2], 43);
	assert_int_equal(v[3], 4144);
	uint32_t st = p->samples.v[i].stack;
	assert_int_equal(cprof_stack_len(p, st), 1);
	/* -raw renumbers locations; its location 1 is this one */
	const cprof_location *loc = &p->locations.v[cprof_stack_locs(p, st)[0]];
	assert_int_equal(loc->address, 0x4dce9a);
	assert_int_equal(loc->nline, 1);
	const cprof_line *ln = &p->lines.v[loc->line_off];
	assert_string_equal(cprof_s(p, p->functions.v[ln->function].name), "main.blocked");
	assert_string_equal(cprof_s(p, p->functions.v[ln->function].filename), "corpus/main.go");
	assert_int_equal(ln->line, 107);
	uint32_t ls = p->samples.v[i].labels;
	assert_int_equal(cprof_lset_len(p, ls), 1);
	const cprof_label *l = cprof_lset(p, ls);
	assert_string_equal(cprof_s(p, l->key), "bytes");
	assert_int_equal(l->str, 0);
	assert_int_equal(l->num, 96);
	cprof_profile_free(p);
	assert_int_equal(cprof_decode_file(golden_path("heap.pb.gz"), &p, &e), 0);
	assert_int_equal(p->default_sample_type, 0);
	assert_int_equal(cprof_default_vtype(p), 3);
	cprof_profile_free(p);
}

/* ---- wire-level variants ------------------------------------------------- */

static void test_packed_vs_unpacked(void **state)
{
	pb a = { 0 }, b = { 0 }, m = { 0 };
	/* a: unpacked everywhere (small_profile) */
	small_profile(&a);
	pb_u(&a, 13, 5);
	pb_u(&a, 13, 6);
	/* b: the same with packed location ids, values and comments, and a
	 * sample that mixes both and splits its values over two packed runs */
	add_vtype(&b, 1, 1, 2);
	add_vtype(&b, 1, 3, 4);
	add_mapping(&b, 1);
	add_function(&b, 1, 5);
	add_function(&b, 2, 6);
	add_location(&b, 1, 1, 1);
	add_location(&b, 2, 1, 2);
	uint64_t l1[] = { 2, 1 }, v1[] = { 3, 30 }, v2[] = { 1, 10 }, c[] = { 5, 6 };
	pb_packed(&m, 1, l1, 2);
	pb_packed(&m, 2, v1, 2);
	pb_msg(&b, 2, &m);
	pb_u(&m, 1, 1);
	pb_packed(&m, 2, v2, 1);
	pb_packed(&m, 2, v2 + 1, 1);
	pb_msg(&b, 2, &m);
	add_strings(&b, STR, NSTR);
	pb_packed(&b, 13, c, 2);
	cprof_profile *pa = decode_ok(&a), *pbp = decode_ok(&b);
	identical_profile(pa, pbp);
	assert_int_equal(pa->comments.n, 2);
	assert_string_equal(cprof_s(pa, pa->comments.v[1]), "foo");
	/* an empty packed run adds nothing */
	pb_free(&b);
	small_profile(&b);
	pb_bytes(&b, 13, "", 0);
	pb_u(&b, 13, 5);
	pb_u(&b, 13, 6);
	cprof_profile_free(pbp);
	pbp = decode_ok(&b);
	identical_profile(pa, pbp);
	cprof_profile_free(pa);
	cprof_profile_free(pbp);
	pb_free(&a);
	pb_free(&b);
	pb_free(&m);
}

/* Unknown fields of every wire type, at every level, are skipped. */
static void unknown_fields(pb *m)
{
	pb_u(m, 100, 12345);
	pb_tag(m, 101, 1);
	pb_raw(m, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	pb_str(m, 102, "ignored");
	pb_tag(m, 103, 5);
	pb_raw(m, "\xff\xff\xff\xff", 4);
	pb_u(m, 536870911, 1);          /* largest field number */
}

static void test_unknown_fields(void **state)
{
	pb a = { 0 }, b = { 0 }, m = { 0 }, l = { 0 };
	small_profile(&a);
	unknown_fields(&b);
	/* sample types with extra fields */
	pb_u(&m, 1, 1);
	unknown_fields(&m);
	pb_u(&m, 2, 2);
	pb_msg(&b, 1, &m);
	add_vtype(&b, 1, 3, 4);
	pb_u(&m, 1, 1);
	pb_u(&m, 2, 0x1000);
	unknown_fields(&m);
	pb_u(&m, 3, 0x9000);
	pb_msg(&b, 3, &m);
	pb_u(&m, 1, 1);
	unknown_fields(&m);
	pb_u(&m, 2, 5);
	pb_msg(&b, 5, &m);
	add_function(&b, 2, 6);
	pb_u(&m, 1, 1);
	pb_u(&m, 2, 1);
	pb_u(&m, 3, 0x1001);
	pb_u(&l, 1, 1);
	unknown_fields(&l);
	pb_u(&l, 2, 10);
	pb_msg(&m, 4, &l);
	unknown_fields(&m);
	pb_msg(&b, 4, &m);
	add_location(&b, 2, 1, 2);
	unknown_fields(&b);
	pb_u(&m, 1, 2);
	unknown_fields(&m);
	pb_u(&m, 1, 1);
	pb_u(&m, 2, 3);
	pb_u(&m, 2, 30);
	pb_msg(&b, 2, &m);
	uint64_t l2[] = { 1 };
	int64_t v2[] = { 1, 10 };
	add_sample(&b, l2, 1, v2, 2);
	add_strings(&b, STR, NSTR);
	unknown_fields(&b);
	cprof_profile *pa = decode_ok(&a), *pbp = decode_ok(&b);
	identical_profile(pa, pbp);
	cprof_profile_free(pa);
	cprof_profile_free(pbp);
	/* and unknown fields inside a label */
	pb_free(&b);
	add_vtype(&b, 1, 1, 2);
	pb_u(&l, 1, 5);
	unknown_fields(&l);
	pb_u(&l, 2, 6);
	pb_u(&m, 2, 1);
	pb_msg(&m, 3, &l);
	pb_msg(&b, 2, &m);
	add_strings(&b, STR, NSTR);
	pbp = decode_ok(&b);
	assert_int_equal(cprof_lset_len(pbp, pbp->samples.v[0].labels), 1);
	assert_string_equal(cprof_s(pbp, cprof_lset(pbp, pbp->samples.v[0].labels)->str), "foo");
	cprof_profile_free(pbp);
	pb_free(&a);
	pb_free(&b);
	pb_free(&m);
	pb_free(&l);
}

/* Fields in pprof's order (samples first, strings after the tables), in Go's
 * (strings last, locations and functions interleaved, mappings last) and
 * with everything reversed all give the same model, in definition order. */
static void test_field_orders(void **state)
{
	pb a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t l1[] = { 2, 1 }, l2[] = { 1 };
	int64_t v1[] = { 3, 30 }, v2[] = { 1, 10 };
	small_profile(&a);
	/* reversed: strings, samples, locations (2 before 1), functions, mappings, types */
	add_strings(&b, STR, NSTR);
	add_sample(&b, l1, 2, v1, 2);
	add_sample(&b, l2, 1, v2, 2);
	add_location(&b, 1, 1, 1);
	add_location(&b, 2, 1, 2);
	add_function(&b, 1, 5);
	add_function(&b, 2, 6);
	add_mapping(&b, 1);
	add_vtype(&b, 1, 1, 2);
	add_vtype(&b, 1, 3, 4);
	/* Go-like: location 1, function 1, sample (forward ref to 2), location 2, ... */
	add_vtype(&c, 1, 1, 2);
	add_location(&c, 1, 1, 1);
	add_function(&c, 1, 5);
	add_vtype(&c, 1, 3, 4);
	add_sample(&c, l1, 2, v1, 2);
	add_location(&c, 2, 1, 2);
	add_function(&c, 2, 6);
	add_sample(&c, l2, 1, v2, 2);
	add_mapping(&c, 1);
	add_strings(&c, STR, NSTR);
	cprof_profile *pa = decode_ok(&a), *pb_ = decode_ok(&b), *pc = decode_ok(&c);
	same_profile(pa, pb_, true);
	same_profile(pa, pc, true);
	for (size_t i = 0; i < pa->locations.n; i++) {
		assert_int_equal(pb_->locations.v[i].id, i + 1);
		assert_int_equal(pc->locations.v[i].id, i + 1);
	}
	cprof_profile_free(pa);
	cprof_profile_free(pb_);
	cprof_profile_free(pc);
	pb_free(&a);
	pb_free(&b);
	pb_free(&c);
}

/* Definition order wins over first-reference order for every table. */
static void test_definition_order_kept(void **state)
{
	pb w = { 0 };
	static const char *const s[] = { "", "t", "u", "f1", "f2", "f3" };
	add_vtype(&w, 1, 1, 2);
	uint64_t st[] = { 30, 10, 20 };
	int64_t v[] = { 1 };
	add_sample(&w, st, 3, v, 1);            /* refs 30, 10, 20 */
	add_location(&w, 10, 2, 3);             /* refs mapping 2 first, function 3 */
	add_location(&w, 20, 1, 1);
	add_location(&w, 30, 0, 2);
	add_function(&w, 1, 3);
	add_function(&w, 2, 4);
	add_function(&w, 3, 5);
	add_mapping(&w, 1);
	add_mapping(&w, 2);
	add_strings(&w, s, 6);
	cprof_profile *p = decode_ok(&w);
	assert_int_equal(p->locations.v[0].id, 10);
	assert_int_equal(p->locations.v[1].id, 20);
	assert_int_equal(p->locations.v[2].id, 30);
	assert_int_equal(p->functions.v[0].id, 1);
	assert_int_equal(p->functions.v[2].id, 3);
	assert_int_equal(p->mappings.v[0].id, 1);
	assert_int_equal(p->mappings.v[1].id, 2);
	/* references follow the elements */
	const uint32_t *locs = cprof_stack_locs(p, p->samples.v[0].stack);
	assert_int_equal(p->locations.v[locs[0]].id, 30);
	assert_int_equal(p->locations.v[locs[1]].id, 10);
	assert_int_equal(p->locations.v[locs[2]].id, 20);
	assert_int_equal(p->mappings.v[p->locations.v[0].mapping].id, 2);
	assert_int_equal(p->mappings.v[p->locations.v[1].mapping].id, 1);
	assert_int_equal(p->locations.v[2].mapping, CPROF_NONE);
	const cprof_location *l10 = &p->locations.v[0];
	assert_int_equal(p->functions.v[p->lines.v[l10->line_off].function].id, 3);
	assert_string_equal(cprof_s(p, p->functions.v[2].name), "f3");
	assert_int_equal(p->lines.v[l10->line_off].line, 100);
	cprof_profile *q = roundtrip(p, false);
	identical_profile(p, q);
	cprof_profile_free(q);
	cprof_profile_free(p);
	pb_free(&w);
}

/* A mapping id nobody defines is dropped, as pprof does. */
static void test_undefined_mapping_forgiven(void **state)
{
	pb w = { 0 };
	add_vtype(&w, 1, 1, 2);
	add_mapping(&w, 1);
	add_function(&w, 1, 5);
	add_location(&w, 1, 9, 1);
	add_location(&w, 2, 1, 1);
	uint64_t l[] = { 1, 2 };
	int64_t v[] = { 1 };
	add_sample(&w, l, 2, v, 1);
	add_strings(&w, STR, NSTR);
	cprof_profile *p = decode_ok(&w);
	assert_int_equal(p->mappings.n, 1);
	assert_int_equal(p->locations.v[0].mapping, CPROF_NONE);
	assert_int_equal(p->locations.v[1].mapping, 0);
	cprof_profile_free(p);
	pb_free(&w);
}

static void test_samples_before_sample_types(void **state)
{
	pb a = { 0 }, b = { 0 };
	small_profile(&a);
	uint64_t l1[] = { 2, 1 }, l2[] = { 1 };
	int64_t v1[] = { 3, 30 }, v2[] = { 1, 10 };
	add_sample(&b, l1, 2, v1, 2);
	add_vtype(&b, 1, 1, 2);         /* one type known: the next sample still waits */
	add_sample(&b, l2, 1, v2, 2);
	add_vtype(&b, 1, 3, 4);
	add_mapping(&b, 1);
	add_function(&b, 1, 5);
	add_function(&b, 2, 6);
	add_location(&b, 1, 1, 1);
	add_location(&b, 2, 1, 2);
	add_strings(&b, STR, NSTR);
	cprof_profile *pa = decode_ok(&a), *pbp = decode_ok(&b);
	identical_profile(pa, pbp);
	cprof_profile_free(pa);
	cprof_profile_free(pbp);
	pb_free(&a);
	pb_free(&b);
}

/* Duplicate strings in the table: every string field is remapped and equal
 * label sets written with different raw indices become one set. */
static void test_duplicate_strings(void **state)
{
	static const char *const s[] = { "", "t", "u", "k", "v", "k", "v", "fn", "fn", "c" };
	pb w = { 0 }, m = { 0 }, l = { 0 };
	add_vtype(&w, 1, 1, 2);
	add_vtype(&w, 11, 1, 2);
	add_function(&w, 1, 7);
	add_function(&w, 2, 8);
	add_location(&w, 1, 0, 1);
	add_location(&w, 2, 0, 2);
	for (int i = 0; i < 2; i++) {
		pb_u(&m, 1, (uint64_t)i + 1);
		pb_u(&m, 2, 5);
		pb_u(&l, 1, i ? 5 : 3);         /* key k, as index 3 or 5 */
		pb_u(&l, 2, i ? 6 : 4);         /* value v, as index 4 or 6 */
		pb_msg(&m, 3, &l);
		pb_msg(&w, 2, &m);
	}
	pb_u(&w, 13, 9);
	pb_u(&w, 14, 1);
	add_strings(&w, s, 10);
	cprof_profile *p = decode_ok(&w);
	assert_int_equal(cprof_nstrings(p), 7);
	assert_int_equal(p->samples.v[0].labels, p->samples.v[1].labels);
	assert_int_equal(cprof_nlsets(p), 2);
	assert_int_equal(p->functions.v[0].name, p->functions.v[1].name);
	assert_string_equal(cprof_s(p, p->functions.v[1].name), "fn");
	const cprof_label *lb = cprof_lset(p, p->samples.v[1].labels);
	assert_string_equal(cprof_s(p, lb->key), "k");
	assert_string_equal(cprof_s(p, lb->str), "v");
	assert_string_equal(cprof_s(p, p->comments.v[0]), "c");
	assert_string_equal(cprof_s(p, p->default_sample_type), "t");
	assert_string_equal(cprof_s(p, p->period_type.unit), "u");
	cprof_profile *q = roundtrip(p, false);
	identical_profile(p, q);
	cprof_profile_free(q);
	cprof_profile_free(p);
	pb_free(&w);
	pb_free(&m);
	pb_free(&l);
}

static void test_labels(void **state)
{
	static const char *const s[] = { "", "t", "u", "key", "val", "bytes", "other" };
	pb w = { 0 }, m = { 0 }, l = { 0 };
	add_vtype(&w, 1, 1, 2);
	pb_u(&m, 2, 1);
	pb_u(&l, 1, 3);                 /* key only: empty value, dropped */
	pb_msg(&m, 3, &l);
	pb_u(&l, 1, 5);                 /* num 0 with a unit: kept */
	pb_u(&l, 4, 5);
	pb_msg(&m, 3, &l);
	pb_u(&l, 1, 6);                 /* negative number */
	pb_u(&l, 3, (uint64_t)-42);
	pb_msg(&m, 3, &l);
	pb_u(&l, 1, 3);                 /* a string label */
	pb_u(&l, 2, 4);
	pb_msg(&m, 3, &l);
	pb_msg(&w, 2, &m);
	add_strings(&w, s, 7);
	cprof_profile *p = decode_ok(&w);
	uint32_t ls = p->samples.v[0].labels;
	assert_int_equal(cprof_lset_len(p, ls), 3);
	char *t = lset_text(p, ls);
	assert_string_equal(t, "bytes=/0/bytes;key=val/0/;other=/-42/;");
	free(t);
	cprof_profile_free(p);
	pb_free(&w);
	pb_free(&m);
	pb_free(&l);
}

/* ---- malformed input ----------------------------------------------------- */

typedef void (*builder)(pb *);

static void b_trunc_varint(pb *w) { small_profile(w); pb_raw(w, "\x48\x80\x80", 3); }
static void b_long_varint(pb *w) { small_profile(w); pb_raw(w, "\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12); }
static void b_trunc_tag(pb *w) { small_profile(w); pb_raw(w, "\x80", 1); }
static void b_len_beyond(pb *w) { small_profile(w); pb_raw(w, "\x12\x05\x08", 3); }
static void b_huge_len(pb *w) { small_profile(w); pb_tag(w, 2, 2); pb_varint(w, (uint64_t)1 << 62); pb_raw(w, "\x08\x01", 2); }
static void b_trunc_fixed64(pb *w) { small_profile(w); pb_tag(w, 50, 1); pb_raw(w, "\x01\x02\x03", 3); }
static void b_trunc_fixed32(pb *w) { small_profile(w); pb_tag(w, 50, 5); pb_raw(w, "\x01", 1); }
static void b_group(pb *w) { small_profile(w); pb_tag(w, 50, 3); }
static void b_wt7(pb *w) { small_profile(w); pb_tag(w, 50, 7); }
static void b_field0(pb *w) { small_profile(w); pb_raw(w, "\x00\x01", 2); }
static void b_wrong_sample(pb *w) { small_profile(w); pb_u(w, 2, 1); }
static void b_wrong_time(pb *w) { small_profile(w); pb_str(w, 9, "x"); }
static void b_wrong_string(pb *w) { small_profile(w); pb_u(w, 6, 1); }
static void b_wrong_value(pb *w)
{
	pb m = { 0 };
	small_profile(w);
	pb_tag(&m, 2, 5);
	pb_raw(&m, "\x01\x00\x00\x00", 4);
	pb_msg(w, 2, &m);
	pb_free(&m);
}
static void b_wrong_line(pb *w)
{
	pb m = { 0 };
	small_profile(w);
	pb_u(&m, 1, 9);
	pb_u(&m, 4, 1);
	pb_msg(w, 4, &m);
	pb_free(&m);
}
static void b_wrong_mapping_bool(pb *w)
{
	pb m = { 0 };
	small_profile(w);
	pb_u(&m, 1, 9);
	pb_str(&m, 7, "yes");
	pb_msg(w, 3, &m);
	pb_free(&m);
}
static void b_trunc_packed(pb *w)
{
	pb m = { 0 };
	small_profile(w);
	pb_bytes(&m, 1, "\x01\x82", 2);
	pb_msg(w, 2, &m);
	pb_free(&m);
}
static void b_trunc_inner(pb *w)
{
	pb m = { 0 };
	small_profile(w);
	pb_raw(&m, "\x08", 1);          /* location id tag without its value */
	pb_msg(w, 4, &m);
	pb_free(&m);
}
static void b_str_range(pb *w) { small_profile(w); add_vtype(w, 11, 3, 7); }
static void b_str_negative(pb *w) { small_profile(w); pb_u(w, 7, (uint64_t)-1); }
static void b_str_huge(pb *w) { small_profile(w); add_function(w, 9, (uint64_t)1 << 40); }
static void b_str_label(pb *w)
{
	pb m = { 0 }, l = { 0 };
	small_profile(w);
	pb_u(&l, 1, 99);
	pb_msg(&m, 3, &l);
	pb_u(&m, 2, 1);
	pb_u(&m, 2, 1);
	pb_msg(w, 2, &m);
	pb_free(&m);
	pb_free(&l);
}
static void b_str0(pb *w) { pb_str(w, 6, "oops"); pb_str(w, 6, ""); }
static void b_no_strtab(pb *w) { pb_u(w, 12, 100); pb_u(w, 9, 5); }
static void b_loc_id0(pb *w) { small_profile(w); add_location(w, 0, 1, 1); }
static void b_fn_id0(pb *w) { small_profile(w); add_function(w, 0, 5); }
static void b_map_id0(pb *w) { small_profile(w); add_mapping(w, 0); }
static void b_loc_dup(pb *w) { small_profile(w); add_location(w, 2, 1, 1); }
static void b_fn_dup(pb *w) { small_profile(w); add_function(w, 1, 6); }
static void b_map_dup(pb *w) { small_profile(w); add_mapping(w, 1); }
static void b_loc_undef(pb *w)
{
	uint64_t l[] = { 1, 7 };
	int64_t v[] = { 1, 1 };
	small_profile(w);
	add_sample(w, l, 2, v, 2);
}
static void b_sample_loc0(pb *w)
{
	uint64_t l[] = { 0 };
	int64_t v[] = { 1, 1 };
	small_profile(w);
	add_sample(w, l, 1, v, 2);
}
static void b_fn_undef(pb *w) { small_profile(w); add_location(w, 5, 1, 44); }
static void b_line_no_fn(pb *w)
{
	pb m = { 0 }, l = { 0 };
	small_profile(w);
	pb_u(&m, 1, 6);
	pb_u(&l, 2, 10);
	pb_msg(&m, 4, &l);
	pb_msg(w, 4, &m);
	pb_free(&m);
	pb_free(&l);
}
static void b_concat(pb *w)
{
	pb_u(w, 9, 1000);
	small_profile(w);
	pb_u(w, 9, 2000);
	small_profile(w);
}
static void b_nvalues(pb *w)
{
	uint64_t l[] = { 1 };
	int64_t v[] = { 1 };
	small_profile(w);
	add_sample(w, l, 1, v, 1);
}
static void b_late_type(pb *w) { small_profile(w); add_vtype(w, 1, 5, 6); }
static void b_no_types(pb *w)
{
	uint64_t l[] = { 1 };
	add_function(w, 1, 5);
	add_location(w, 1, 0, 1);
	add_sample(w, l, 1, NULL, 0);
	add_strings(w, STR, NSTR);
}
static void b_pending_bad(pb *w)
{
	uint64_t l[] = { 1 };
	int64_t v[] = { 1, 2, 3 };
	add_sample(w, l, 1, v, 3);
	small_profile(w);
}

static const struct bad {
	const char *name;
	builder build;
	int code;
	const char *msg;
} bads[] = {
	{ "truncated varint", b_trunc_varint, CPROF_EFORMAT, "truncated varint at offset" },
	{ "overlong varint", b_long_varint, CPROF_EFORMAT, "varint longer than 10 bytes" },
	{ "truncated tag", b_trunc_tag, CPROF_EFORMAT, "truncated varint" },
	{ "length beyond input", b_len_beyond, CPROF_EFORMAT, "length 5 at offset" },
	{ "absurd length", b_huge_len, CPROF_EFORMAT, "length 4611686018427387904 at offset" },
	{ "truncated fixed64", b_trunc_fixed64, CPROF_EFORMAT, "truncated 64-bit field" },
	{ "truncated fixed32", b_trunc_fixed32, CPROF_EFORMAT, "truncated 32-bit field" },
	{ "group", b_group, CPROF_EFORMAT, "unsupported wire type 3" },
	{ "wire type 7", b_wt7, CPROF_EFORMAT, "unsupported wire type 7" },
	{ "field 0", b_field0, CPROF_EFORMAT, "invalid field number 0" },
	{ "sample as varint", b_wrong_sample, CPROF_EFORMAT, "profile.sample (field 2) has wire type varint" },
	{ "time as bytes", b_wrong_time, CPROF_EFORMAT, "profile.time_nanos (field 9) has wire type length-delimited" },
	{ "string as varint", b_wrong_string, CPROF_EFORMAT, "profile.string_table (field 6) has wire type varint" },
	{ "value as fixed32", b_wrong_value, CPROF_EFORMAT, "sample.value (field 2) has wire type 32-bit" },
	{ "line as varint", b_wrong_line, CPROF_EFORMAT, "location.line (field 4) has wire type varint" },
	{ "bool as bytes", b_wrong_mapping_bool, CPROF_EFORMAT, "mapping.has_functions (field 7)" },
	{ "truncated packed", b_trunc_packed, CPROF_EFORMAT, "truncated varint at offset" },
	{ "truncated submessage", b_trunc_inner, CPROF_EFORMAT, "(in location)" },
	{ "string index", b_str_range, CPROF_EFORMAT, "string index 7 out of range in value unit (string table has 7 entries)" },
	{ "negative string index", b_str_negative, CPROF_EFORMAT, "string index -1 out of range in drop_frames" },
	{ "huge string index", b_str_huge, CPROF_EFORMAT, "string index 1099511627776 out of range in function name" },
	{ "label string index", b_str_label, CPROF_EFORMAT, "out of range in label key" },
	{ "string_table[0]", b_str0, CPROF_EFORMAT, "string_table[0] must be the empty string, found \"oops\"" },
	{ "no string table", b_no_strtab, CPROF_EFORMAT, "no string table" },
	{ "location id 0", b_loc_id0, CPROF_EFORMAT, "location at offset" },
	{ "function id 0", b_fn_id0, CPROF_EFORMAT, "function at offset" },
	{ "mapping id 0", b_map_id0, CPROF_EFORMAT, "reserved id 0" },
	{ "duplicate location", b_loc_dup, CPROF_EFORMAT, "duplicate location id 2" },
	{ "duplicate function", b_fn_dup, CPROF_EFORMAT, "duplicate function id 1" },
	{ "duplicate mapping", b_map_dup, CPROF_EFORMAT, "duplicate mapping id 1" },
	{ "undefined location", b_loc_undef, CPROF_EFORMAT, "undefined location id 7" },
	{ "location id 0 in sample", b_sample_loc0, CPROF_EFORMAT, "sample refers to location id 0" },
	{ "undefined function", b_fn_undef, CPROF_EFORMAT, "undefined function id 44" },
	{ "line without function", b_line_no_fn, CPROF_EFORMAT, "location 6 has a line without a function" },
	{ "concatenated", b_concat, CPROF_EFORMAT, "concatenated profiles detected" },
	{ "value count", b_nvalues, CPROF_EFORMAT, "sample has 1 values, profile has 2 sample types" },
	{ "late sample type", b_late_type, CPROF_EFORMAT, "sample has 2 values, profile has 3 sample types" },
	{ "no sample types", b_no_types, CPROF_EFORMAT, "samples but no sample types" },
	{ "buffered sample", b_pending_bad, CPROF_EFORMAT, "sample has 3 values, profile has 2 sample types" },
};

static void test_bad_inputs(void **state)
{
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
		pb w = { 0 };
		bads[i].build(&w);
		cprof_profile *p = NULL;
		cprof_error e = { 0, "" };
		int rc = cprof_pb_decode(w.b, w.n, &p, &e);
		if (rc != bads[i].code || !strstr(e.msg, bads[i].msg))
			fail_msg("%s: want %d \"%s\", got %d \"%s\"", bads[i].name, bads[i].code,
				 bads[i].msg, rc, e.msg);
		assert_null(p);
		/* every proper prefix fails cleanly too (or is a valid profile) */
		for (size_t n = 1; n < w.n; n++) {
			cprof_error e2 = { 0, "" };
			rc = cprof_pb_decode(w.b, n, &p, &e2);
			if (rc == 0) {
				assert_int_equal(cprof_profile_check(p, &e2), 0);
				cprof_profile_free(p);
			} else {
				assert_true(e2.msg[0] != 0);
			}
		}
		pb_free(&w);
	}
}

static void test_decode_args(void **state)
{
	cprof_profile *p = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_pb_decode("", 0, &p, &e), CPROF_EEMPTY);
	assert_string_equal(e.msg, "empty input file");
	e.code = 0;
	assert_int_equal(cprof_pb_decode(NULL, 5, &p, &e), CPROF_EINVAL);
	assert_int_equal(cprof_pb_decode("x", 1, NULL, NULL), CPROF_EINVAL);
}

/* ---- gzip ------------------------------------------------------------------ */

static void gz(const void *d, size_t n, pb *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&z, n) + 64;
	size_t at = out->n;
	out->b = realloc(out->b, out->n + cap);
	assert_non_null(out->b);
	out->cap = out->n + cap;
	z.next_in = (Bytef *)d;
	z.avail_in = (uInt)n;
	z.next_out = out->b + at;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	out->n = at + (cap - z.avail_out);
	deflateEnd(&z);
}

static void gunzip_err(const pb *w, size_t max, int code, const char *msg)
{
	void *out = (void *)1;
	size_t n = 7;
	cprof_error e = { 0, "" };
	int rc = cprof_gunzip(w->b, w->n, max, &out, &n, &e);
	if (rc != code || !strstr(e.msg, msg))
		fail_msg("gunzip: want %d \"%s\", got %d \"%s\"", code, msg, rc, e.msg);
	assert_null(out);
}

static void test_gunzip(void **state)
{
	const char *text = "hello, gzip world\n";
	pb w = { 0 };
	gz(text, strlen(text), &w);
	gz(text, strlen(text), &w);         /* two members */
	void *out;
	size_t n;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_gunzip(w.b, w.n, 1000, &out, &n, &e), 0);
	assert_int_equal(n, 2 * strlen(text));
	assert_memory_equal(out, "hello, gzip world\nhello, gzip world\n", n);
	free(out);
	/* exactly at the limit is fine, one byte less is not */
	assert_int_equal(cprof_gunzip(w.b, w.n, n, &out, &n, &e), 0);
	free(out);
	gunzip_err(&w, 2 * strlen(text) - 1, CPROF_ELIMIT, "exceeds the limit of 35 bytes");
	/* zero padding after the last member is accepted, garbage is not */
	pb_raw(&w, "\0\0\0\0", 4);
	assert_int_equal(cprof_gunzip(w.b, w.n, 1000, &out, &n, &e), 0);
	free(out);
	pb_raw(&w, "junk", 4);
	gunzip_err(&w, 1000, CPROF_EGZIP, "trailing garbage after gzip member 2");
	pb_free(&w);

	gz(text, strlen(text), &w);
	size_t full = w.n;
	w.n = full - 3;
	gunzip_err(&w, 1000, CPROF_EGZIP, "truncated gzip data");
	w.n = 5;
	gunzip_err(&w, 1000, CPROF_EGZIP, "truncated gzip data");
	w.n = full;
	w.b[full - 6] ^= 0x55;              /* inside the CRC32 */
	gunzip_err(&w, 1000, CPROF_EGZIP, "CRC mismatch");
	w.b[full - 6] ^= 0x55;
	w.b[full - 2] ^= 0x55;              /* inside ISIZE */
	gunzip_err(&w, 1000, CPROF_EGZIP, "length mismatch");
	w.b[full - 2] ^= 0x55;
	w.b[2] = 7;                         /* compression method */
	gunzip_err(&w, 1000, CPROF_EGZIP, "bad gzip header: unknown compression method");
	w.b[2] = 8;
	w.b[3] = 0xe0;                      /* reserved flags */
	gunzip_err(&w, 1000, CPROF_EGZIP, "bad gzip header");
	w.b[3] = 0;
	w.b[10] ^= 0xff;                    /* the deflate data */
	gunzip_err(&w, 1000, CPROF_EGZIP, "gzip");
	pb_free(&w);
	pb_raw(&w, "plain", 5);
	gunzip_err(&w, 1000, CPROF_EGZIP, "no gzip magic");
	pb_free(&w);
}

/* ---- cprof_decode: format dispatch --------------------------------------- */

static void decode_any_err(const void *d, size_t n, int code, const char *msg)
{
	cprof_profile *p = (cprof_profile *)1;
	cprof_error e = { 0, "" };
	int rc = cprof_decode(d, n, &p, &e);
	if (rc != code || !strstr(e.msg, msg))
		fail_msg("decode: want %d \"%s\", got %d \"%s\"", code, msg, rc, e.msg);
	assert_null(p);
}

static void test_decode_dispatch(void **state)
{
	decode_any_err("", 0, CPROF_EEMPTY, "empty input file");
	decode_any_err("\x07\x07\x07\x07\xff", 5, CPROF_EUNKNOWN, "unrecognized profile format");
	decode_any_err("\x1f\x8b", 2, CPROF_EGZIP, "truncated gzip data");

	pb w = { 0 }, z = { 0 };
	small_profile(&w);
	/* raw and gzip'd */
	cprof_profile *p = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode(w.b, w.n, &p, &e), 0);
	cprof_profile *q = NULL;
	gz(w.b, w.n, &z);
	assert_int_equal(cprof_decode(z.b, z.n, &q, &e), 0);
	identical_profile(p, q);
	cprof_profile_free(q);
	cprof_profile_free(p);
	/* a truncated proto reports the proto problem */
	decode_any_err(w.b, w.n - 3, CPROF_EFORMAT, "offset");
	pb_free(&z);
	gz(w.b, w.n - 3, &z);
	decode_any_err(z.b, z.n, CPROF_EFORMAT, "offset");
	/* a broken gzip stream reports the gzip problem */
	z.n -= 4;
	decode_any_err(z.b, z.n, CPROF_EGZIP, "truncated gzip data");
	pb_free(&z);
	/* two profiles, raw or as two gzip members */
	pb c = { 0 }, one = { 0 };
	pb_u(&one, 9, 1000);
	small_profile(&one);
	pb_raw(&c, one.b, one.n);
	pb_raw(&c, one.b, one.n);
	pb_free(&one);
	decode_any_err(c.b, c.n, CPROF_EFORMAT, "concatenated profiles detected");
	pb_free(&c);
	pb_u(&c, 9, 1000);
	small_profile(&c);
	gz(c.b, c.n, &z);
	gz(c.b, c.n, &z);
	decode_any_err(z.b, z.n, CPROF_EFORMAT, "concatenated profiles detected");
	pb_free(&z);
	/* split into two gzip members at every byte, even inside a field */
	p = NULL;
	assert_int_equal(cprof_pb_decode(w.b, w.n, &p, &e), 0);
	for (size_t cut = 1; cut < w.n; cut++) {
		gz(w.b, cut, &z);
		gz(w.b + cut, w.n - cut, &z);
		q = NULL;
		if (cprof_decode(z.b, z.n, &q, &e))
			fail_msg("split at %zu: %s", cut, e.msg);
		identical_profile(p, q);
		cprof_profile_free(q);
		z.n = 0;
	}
	cprof_profile_free(p);
	pb_free(&z);
	/* gzip'd nothing */
	gz("", 0, &z);
	decode_any_err(z.b, z.n, CPROF_EEMPTY, "empty input file");
	pb_free(&z);
	/* gzip'd junk */
	gz("\x07\x07\x07\x07\xff", 5, &z);
	decode_any_err(z.b, z.n, CPROF_EUNKNOWN, "unrecognized profile format");
	pb_free(&z);
	pb_free(&w);
	pb_free(&c);
}

/* A gzip'd profile larger than the streaming window, with one field (a
 * string) larger than the window too, decodes as its raw form does. */
static cprof_profile *big_profile(void)
{
	cprof_profile *p = cprof_profile_new();
	assert_int_equal(cprof_add_vtype(p, S(p, "samples"), S(p, "count")), 0);
	size_t big = 3u << 20;
	char *s = malloc(big);
	for (size_t i = 0; i < big; i++)
		s[i] = (char)('a' + (i * 7919) % 26);
	cprof_function f = { 1, cprof_intern(p, s, big), 0, 0, 0 };
	free(s);
	assert_int_equal(cprof_add_function(p, &f), 0);
	for (uint32_t i = 0; i < 3000; i++) {
		cprof_line ln = { 0, i, 0 };
		cprof_location l = { .id = i + 1, .address = i, .mapping = CPROF_NONE };
		assert_int_equal(cprof_add_location(p, &l, &ln, 1), i);
	}
	uint32_t locs[40];
	for (uint32_t i = 0; i < 60000; i++) {
		for (uint32_t k = 0; k < 40; k++)
			locs[k] = (i * 31 + k * 17) % 3000;
		int64_t st = cprof_intern_stack(p, locs, 10 + i % 30);
		int64_t v = i;
		assert_true(cprof_add_sample(p, (uint32_t)st, 0, &v) >= 0);
	}
	p->time_nanos = 1000;
	return p;
}

static void test_gzip_streaming_windows(void **state)
{
	cprof_profile *p = big_profile();
	void *raw, *zb;
	size_t rn, zn;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_pb_encode(p, false, &raw, &rn, &e), 0);
	assert_int_equal(cprof_pb_encode(p, true, &zb, &zn, &e), 0);
	assert_true(rn > (4u << 20));
	cprof_profile *a = NULL, *b = NULL;
	assert_int_equal(cprof_pb_decode(raw, rn, &a, &e), 0);
	assert_int_equal(cprof_pb_decode(zb, zn, &b, &e), 0);
	identical_profile(p, a);
	identical_profile(a, b);
	cprof_profile_free(a);
	cprof_profile_free(b);
	/* a gzip stream cut short in the middle fails cleanly */
	assert_int_not_equal(cprof_pb_decode(zb, zn / 2, &b, &e), 0);
	assert_null(b);
	/* a field that claims more than any input fails at once, while streaming;
	 * one that claims more than is left fails at the end */
	pb w = { 0 }, z = { 0 };
	small_profile(&w);
	pb_tag(&w, 4, 2);
	pb_varint(&w, (uint64_t)1 << 40);
	pb_raw(&w, "\x08\x01", 2);
	gz(w.b, w.n, &z);
	e.code = 0;
	assert_int_equal(cprof_pb_decode(z.b, z.n, &b, &e), CPROF_EFORMAT);
	assert_non_null(strstr(e.msg, "length 1099511627776 at offset"));
	assert_non_null(strstr(e.msg, "larger than any input"));
	w.n -= 8;
	pb_varint(&w, 1000);
	pb_raw(&w, "\x08\x01", 2);
	z.n = 0;
	gz(w.b, w.n, &z);
	e.code = 0;
	assert_int_equal(cprof_pb_decode(z.b, z.n, &b, &e), CPROF_EFORMAT);
	assert_non_null(strstr(e.msg, "length 1000 at offset"));
	assert_non_null(strstr(e.msg, "exceeds the 2 bytes left"));
	pb_free(&w);
	pb_free(&z);
	free(raw);
	free(zb);
	cprof_profile_free(p);
}

/* ---- files ----------------------------------------------------------------- */

static void test_files(void **state)
{
	char dir[] = "/tmp/test_pb.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/out.pb.gz", dir);
	cprof_profile *p = full_profile(), *q = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_pb_write_file(p, path, &e), 0);
	assert_int_equal(cprof_pb_write_file(p, path, &e), 0);     /* replaces */
	assert_int_equal(cprof_decode_file(path, &q, &e), 0);
	identical_profile(p, q);
	cprof_profile_free(q);
	/* the file is gzip, and nothing else was left in the directory */
	void *d;
	size_t n;
	assert_int_equal(cprof_read_file(path, 1 << 20, &d, &n, &e), 0);
	assert_true(n > 2 && ((unsigned char *)d)[0] == 0x1f && ((unsigned char *)d)[1] == 0x8b);
	free(d);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	/* size limit */
	assert_int_equal(cprof_read_file(path, 10, &d, &n, &e), CPROF_ELIMIT);
	assert_non_null(strstr(e.msg, "larger than the limit of 10 bytes"));
	/* missing file, directory, empty file */
	e.code = 0;
	snprintf(path, sizeof path, "%s/missing", dir);
	assert_int_equal(cprof_decode_file(path, &q, &e), CPROF_EIO);
	assert_non_null(strstr(e.msg, "No such file"));
	e.code = 0;
	assert_int_equal(cprof_decode_file(dir, &q, &e), CPROF_EIO);
	e.code = 0;
	snprintf(path, sizeof path, "%s/empty", dir);
	fclose(fopen(path, "w"));
	assert_int_equal(cprof_decode_file(path, &q, &e), CPROF_EEMPTY);
	assert_string_equal(e.msg, "empty input file");
	unlink(path);
	/* writing into a missing directory fails with a message */
	e.code = 0;
	snprintf(path, sizeof path, "%s/no/such/dir.pb.gz", dir);
	assert_int_equal(cprof_pb_write_file(p, path, &e), CPROF_EIO);
	assert_non_null(strstr(e.msg, "cannot create output"));
	snprintf(path, sizeof path, "%s/out.pb.gz", dir);
	unlink(path);
	rmdir(dir);
	cprof_profile_free(p);
}

/* ---- streaming input: the reader and the windowed decoder ---------------- */

/* Decode through a reader over memory that hands out at most `chunk` bytes
 * per read, so window boundaries fall everywhere, inside fields too. */
static int decode_chunked(const void *b, size_t n, size_t chunk, cprof_profile **p,
			  cprof_error *e, cp_pbinfo *info)
{
	cp_reader r;
	cp_reader_mem(&r, b, n, CPROF_MAX_INPUT, false);
	r.chunk = chunk;
	int rc = cp_pb_decode_reader(&r, p, e, info);
	cp_reader_close(&r);
	return rc;
}

static void encode_raw(const cprof_profile *p, pb *w)
{
	void *b;
	size_t n;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_pb_encode(p, false, &b, &n, &e), 0);
	pb_raw(w, b, n);
	free(b);
}

static void test_stream_window_boundaries(void **state)
{
	pb w = { 0 }, z = { 0 };
	cprof_profile *full = full_profile();
	encode_raw(full, &w);
	cprof_profile_free(full);
	cprof_profile *ref = decode_ok(&w);
	size_t half = w.n / 2;
	gz(w.b, half, &z);              /* two members, split inside a field */
	gz(w.b + half, w.n - half, &z);
	for (size_t chunk = 1; chunk <= 80; chunk += chunk < 40 ? 1 : 13) {
		cprof_profile *q = NULL;
		cprof_error e = { 0, "" };
		if (decode_chunked(w.b, w.n, chunk, &q, &e, NULL))
			fail_msg("raw, %zu-byte reads: %s", chunk, e.msg);
		identical_profile(ref, q);
		cprof_profile_free(q);
		if (decode_chunked(z.b, z.n, chunk, &q, &e, NULL))
			fail_msg("gzip, %zu-byte reads: %s", chunk, e.msg);
		identical_profile(ref, q);
		cprof_profile_free(q);
	}
	cprof_profile_free(ref);
	pb_free(&w);
	pb_free(&z);
}

/* Every damaged input fails the same way however it is cut into reads,
 * and the dispatch's judgement (looks like proto? concatenated?) agrees
 * with the in-memory parse's. */
static void test_stream_errors_same_as_memory(void **state)
{
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
		pb w = { 0 }, z = { 0 };
		bads[i].build(&w);
		gz(w.b, w.n, &z);
		cprof_profile *p = NULL;
		cprof_error em = { 0, "" };
		cp_pbinfo im;
		int rm = cp_pb_decode_mem(w.b, w.n, &p, &em, &im);
		assert_int_equal(rm, bads[i].code);
		assert_null(p);
		for (size_t chunk = 1; chunk <= 17; chunk += 4) {
			for (int zip = 0; zip < 2; zip++) {
				cprof_error e = { 0, "" };
				cp_pbinfo info;
				int rc = zip ? decode_chunked(z.b, z.n, chunk, &p, &e, &info)
					     : decode_chunked(w.b, w.n, chunk, &p, &e, &info);
				if (rc != rm || strcmp(e.msg, em.msg) != 0 || info.proto != im.proto ||
				    info.concat != im.concat || info.from_reader)
					fail_msg("%s, %s, %zu-byte reads: got %d \"%s\" proto=%d concat=%d, "
						 "in memory %d \"%s\" proto=%d concat=%d", bads[i].name,
						 zip ? "gzip" : "raw", chunk, rc, e.msg, info.proto,
						 info.concat, rm, em.msg, im.proto, im.concat);
				assert_null(p);
			}
		}
		pb_free(&w);
		pb_free(&z);
	}
}

static char tmpdir[64];

static const char *tmpfile_with(const char *name, const void *d, size_t n)
{
	static char path[128];
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/test_pb_stream.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
	}
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void cleanup_tmp(void)
{
	char cmd[128];
	if (tmpdir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
		assert_int_equal(system(cmd), 0);
		tmpdir[0] = 0;
	}
}

/* A descriptor that gives the compressed bytes a few at a time: gzip
 * headers, member boundaries and the magic of the next member all straddle
 * reads. */
static void test_stream_fd_read_boundaries(void **state)
{
	pb w = { 0 }, z = { 0 };
	cprof_profile *full = full_profile();
	encode_raw(full, &w);
	cprof_profile_free(full);
	cprof_profile *ref = decode_ok(&w);
	gz(w.b, 5, &z);
	gz(w.b + 5, w.n / 2 - 5, &z);
	gz("", 0, &z);                  /* an empty member too */
	gz(w.b + w.n / 2, w.n - w.n / 2, &z);
	pb_raw(&z, "\0\0\0", 3);        /* and zero padding */
	const char *path = tmpfile_with("members.pb.gz", z.b, z.n);
	for (size_t in_chunk = 1; in_chunk <= 9; in_chunk++) {
		int fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		cp_reader r;
		cp_reader_fd(&r, fd, CPROF_MAX_INPUT, false);
		r.in_chunk = in_chunk;
		r.chunk = in_chunk * 3;
		cprof_profile *q = NULL;
		cprof_error e = { 0, "" };
		if (cp_pb_decode_reader(&r, &q, &e, NULL))
			fail_msg("%zu-byte reads: %s", in_chunk, e.msg);
		cp_reader_close(&r);
		close(fd);
		identical_profile(ref, q);
		cprof_profile_free(q);
	}
	/* garbage after the last member, also when it starts like a member */
	pb_raw(&z, "\x1f", 1);
	path = tmpfile_with("garbage.pb.gz", z.b, z.n);
	cprof_profile *q = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode_file(path, &q, &e), CPROF_EGZIP);
	assert_non_null(strstr(e.msg, "trailing garbage after gzip member 4 (4 bytes)"));
	assert_int_equal(cprof_decode(z.b, z.n, &q, &e), CPROF_EGZIP);
	cprof_profile_free(ref);
	pb_free(&w);
	pb_free(&z);
	cleanup_tmp();
}

/* Decode path through cprof_decode_file; path "-" reads `stdin_from`. */
static int decode_path(const char *path, const char *stdin_from, cprof_profile **p, cprof_error *e)
{
	if (!stdin_from)
		return cprof_decode_file(path, p, e);
	int saved = dup(0), fd = open(stdin_from, O_RDONLY);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	int rc = cprof_decode_file("-", p, e);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	return rc;
}

/* The same through a pipe, written in small pieces by a child; with
 * sniffed > 0, the first sniffed bytes are handed to cprof_decode_fd as
 * read already (the rest comes through the pipe). */
static int decode_pipe_from(const void *d, size_t n, size_t sniffed, cprof_profile **p,
			    cprof_error *e)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		const char *b = d;
		for (size_t at = sniffed; at < n;) {
			size_t k = n - at < 777 ? n - at : 777;
			ssize_t r = write(fds[1], b + at, k);
			if (r <= 0)
				_exit(1);
			at += (size_t)r;
		}
		_exit(0);
	}
	close(fds[1]);
	int rc;
	if (sniffed) {
		rc = cprof_decode_fd(fds[0], d, sniffed, p, e);
		close(fds[0]);
	} else {
		int saved = dup(0);
		assert_true(saved >= 0);
		assert_int_equal(dup2(fds[0], 0), 0);
		close(fds[0]);
		rc = cprof_decode_file("-", p, e);
		assert_int_equal(dup2(saved, 0), 0);
		close(saved);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return rc;
}

static int decode_pipe(const void *d, size_t n, cprof_profile **p, cprof_error *e)
{
	return decode_pipe_from(d, n, 0, p, e);
}

/* A profile several windows long decodes from a file, from stdin and from
 * a pipe as from memory, raw and gzip'd; damage past the first window is
 * reported as the parse sees it. */
static void test_decode_file_streams(void **state)
{
	cprof_profile *p = big_profile();
	pb w = { 0 }, z = { 0 };
	encode_raw(p, &w);
	assert_true(w.n > (4u << 20));
	gz(w.b, w.n, &z);
	const char *raw_path = strdup(tmpfile_with("big.pb", w.b, w.n));
	const char *gz_path = strdup(tmpfile_with("big.pb.gz", z.b, z.n));
	for (int k = 0; k < 4; k++) {
		cprof_profile *q = NULL;
		cprof_error e = { 0, "" };
		const char *path = k & 1 ? gz_path : raw_path;
		int rc = decode_path(k < 2 ? path : "-", k < 2 ? NULL : path, &q, &e);
		if (rc)
			fail_msg("%s%s: %s", k < 2 ? "" : "stdin from ", path, e.msg);
		identical_profile(p, q);
		cprof_profile_free(q);
	}
	for (int k = 0; k < 2; k++) {
		cprof_profile *q = NULL;
		cprof_error e = { 0, "" };
		if (k ? decode_pipe(z.b, z.n, &q, &e) : decode_pipe(w.b, w.n, &q, &e))
			fail_msg("pipe: %s", e.msg);
		identical_profile(p, q);
		cprof_profile_free(q);
	}

	/* a field running past the end, far beyond the first window */
	char want[96];
	snprintf(want, sizeof want, "length 5 at offset %zu exceeds the 1 bytes left", w.n + 1);
	size_t n0 = w.n;
	pb_raw(&w, "\x12\x05\x08", 3);
	z.n = 0;
	gz(w.b, w.n, &z);
	for (int k = 0; k < 3; k++) {
		cprof_profile *q = NULL;
		cprof_error e = { 0, "" };
		int rc = k == 0 ? cprof_decode_file(tmpfile_with("bad.pb", w.b, w.n), &q, &e)
		       : k == 1 ? cprof_decode_file(tmpfile_with("bad.pb.gz", z.b, z.n), &q, &e)
				: cprof_decode(z.b, z.n, &q, &e);
		assert_int_equal(rc, CPROF_EFORMAT);
		if (!strstr(e.msg, want))
			fail_msg("want \"%s\", got \"%s\"", want, e.msg);
		assert_null(q);
	}
	/* two of them: the second's locations collide with the first's, and
	 * the walk on finds its time_nanos, as pprof would */
	w.n = n0;
	pb_raw(&w, w.b, n0);
	z.n = 0;
	gz(w.b, w.n, &z);
	for (int k = 0; k < 4; k++) {
		cprof_profile *q = NULL;
		cprof_error e = { 0, "" };
		int rc = k == 0 ? cprof_decode_file(tmpfile_with("two.pb", w.b, w.n), &q, &e)
		       : k == 1 ? cprof_decode_file(tmpfile_with("two.pb.gz", z.b, z.n), &q, &e)
		       : k == 2 ? cprof_decode(w.b, w.n, &q, &e)
				: cprof_decode(z.b, z.n, &q, &e);
		assert_int_equal(rc, CPROF_EFORMAT);
		assert_string_equal(e.msg, "concatenated profiles detected");
	}
	/* cut short: the gzip error, not the parse's */
	cprof_profile *q = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode_file(tmpfile_with("cut.pb.gz", z.b, z.n * 2 / 3), &q, &e),
			 CPROF_EGZIP);
	assert_non_null(strstr(e.msg, "truncated gzip data: input ends inside member 1"));
	free((void *)raw_path);
	free((void *)gz_path);
	cprof_profile_free(p);
	pb_free(&w);
	pb_free(&z);
	cleanup_tmp();
}

/* Legacy formats need their whole input: a file, stdin or a pipe gets it to
 * them, plain or gzip'd, also when it is longer than the first window. */
static void test_decode_file_legacy(void **state)
{
	pb text = { 0 }, big = { 0 }, z = { 0 };
	const char *small = "main;parse;lex 42\nmain;parse 7\n\nmain;run;loop 1000\n";
	pb_raw(&text, small, strlen(small));
	char line[128];
	for (int i = 0; big.n < (3u << 20); i++) {
		int k = snprintf(line, sizeof line, "main;module%d::work;leaf_%d %d\n", i % 71, i % 997, i);
		pb_raw(&big, line, (size_t)k);
	}
	for (int which = 0; which < 2; which++) {
		pb *t = which ? &big : &text;
		cprof_profile *ref = NULL;
		cprof_error e = { 0, "" };
		assert_int_equal(cprof_decode(t->b, t->n, &ref, &e), 0);
		z.n = 0;
		gz(t->b, t->n, &z);
		const char *plain = strdup(tmpfile_with("folded.txt", t->b, t->n));
		const char *zipped = strdup(tmpfile_with("folded.txt.gz", z.b, z.n));
		for (int k = 0; k < 6; k++) {
			cprof_profile *q = NULL;
			const char *path = k & 1 ? zipped : plain;
			int rc = k < 2 ? decode_path(path, NULL, &q, &e)
			       : k < 4 ? decode_path("-", path, &q, &e)
				       : k == 4 ? decode_pipe(t->b, t->n, &q, &e)
						: decode_pipe(z.b, z.n, &q, &e);
			if (rc)
				fail_msg("%s input, way %d: %s", which ? "big" : "small", k, e.msg);
			identical_profile(ref, q);
			cprof_profile_free(q);
		}
		free((void *)plain);
		free((void *)zipped);
		cprof_profile_free(ref);
	}
	/* not a profile at all, gzip'd or not */
	cprof_profile *q = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode_file(tmpfile_with("junk", "\x07\x07\x07\xff", 4), &q, &e),
			 CPROF_EUNKNOWN);
	z.n = 0;
	gz("\x07\x07\x07\xff", 4, &z);
	e.code = 0;
	assert_int_equal(cprof_decode_file(tmpfile_with("junk.gz", z.b, z.n), &q, &e), CPROF_EUNKNOWN);
	assert_string_equal(e.msg, "unrecognized profile format");
	pb_free(&text);
	pb_free(&big);
	pb_free(&z);
	cleanup_tmp();
}

/* Limits hold while streaming: the decompressed size, and empty input. */
static void test_stream_limits(void **state)
{
	pb w = { 0 }, z = { 0 };
	small_profile(&w);
	gz(w.b, w.n, &z);
	cp_reader r;
	cp_reader_mem(&r, z.b, z.n, w.n - 1, false);
	cprof_profile *q = NULL;
	cprof_error e = { 0, "" };
	cp_pbinfo info;
	assert_int_equal(cp_pb_decode_reader(&r, &q, &e, &info), CPROF_ELIMIT);
	assert_true(info.from_reader);
	assert_non_null(strstr(e.msg, "decompressed data exceeds the limit"));
	cp_reader_close(&r);
	cp_reader_mem(&r, z.b, z.n, w.n, false);
	assert_int_equal(cp_pb_decode_reader(&r, &q, &e, NULL), 0);
	cp_reader_close(&r);
	cprof_profile_free(q);
	/* many empty members are still empty input */
	z.n = 0;
	for (int i = 0; i < 100; i++)
		gz("", 0, &z);
	e.code = 0;
	assert_int_equal(cprof_decode_file(tmpfile_with("empty.gz", z.b, z.n), &q, &e), CPROF_EEMPTY);
	assert_string_equal(e.msg, "empty input file");
	pb_free(&w);
	pb_free(&z);
	cleanup_tmp();
}

/* The memory ceiling (cprof_set_mem_limit) stops a decode whose model
 * outgrows it, from a file, gzip'd memory and raw memory; restored, the
 * same input decodes.  cprof_decode_fd reads a pipe once, taking the bytes the
 * caller sniffed as its first. */
static void test_mem_limit_and_fd(void **state)
{
	pb w = { 0 }, z = { 0 };
	add_vtype(&w, 1, 1, 2);
	int64_t v[] = { 1 };
	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t st[] = { 1 + (i * 7) % 40, 1 + (i * 13) % 40, 1 + i % 40 };
		add_sample(&w, st, 1 + i % 3, v, 1);
	}
	for (uint64_t id = 1; id <= 40; id++)
		add_location(&w, id, 0, 1);
	add_function(&w, 1, 5);
	add_strings(&w, STR, NSTR);
	gz(w.b, w.n, &z);
	const char *path = tmpfile_with("many.pb.gz", z.b, z.n);
	size_t def = cprof_mem_limit();
	assert_int_equal(def, CPROF_MEM_CEILING);
	assert_int_equal(cprof_set_mem_limit(64 << 10), CPROF_MEM_CEILING);
	cprof_profile *q = NULL;
	cprof_error e = { 0, "" };
	assert_int_equal(cprof_decode_file(path, &q, &e), CPROF_ELIMIT);
	assert_non_null(strstr(e.msg, "memory"));
	assert_null(q);
	e.code = 0;
	assert_int_equal(cprof_decode(z.b, z.n, &q, &e), CPROF_ELIMIT);
	e.code = 0;
	assert_int_equal(cprof_decode(w.b, w.n, &q, &e), CPROF_ELIMIT);     /* raw memory */
	assert_non_null(strstr(e.msg, "memory"));
	assert_int_equal(cprof_set_mem_limit(0), 64 << 10);
	assert_int_equal(cprof_decode(w.b, w.n, &q, &e), 0);
	cprof_profile_free(q);
	assert_int_equal(cprof_decode_file(path, &q, &e), 0);
	assert_true(cprof_profile_mem(q) > (64 << 10));
	assert_int_equal(q->samples.n, 20000);
	cprof_profile_free(q);
	/* a pipe, its first 8 bytes already taken by the caller */
	e.code = 0;
	assert_int_equal(decode_pipe_from(z.b, z.n, 8, &q, &e), 0);
	assert_int_equal(q->samples.n, 20000);
	cprof_profile_free(q);
	pb_free(&w);
	pb_free(&z);
	cleanup_tmp();
}

/* Locations defined in another order than first referenced are moved to
 * definition order with their stacks rewritten in place; the stack index is
 * rebuilt, so interning a stack again finds it. */
static void test_reorder_keeps_stack_index(void **state)
{
	pb w = { 0 };
	add_vtype(&w, 1, 1, 2);
	int64_t v[] = { 1 };
	for (uint64_t i = 0; i < 500; i++) {
		uint64_t st[] = { 1 + (i * 7) % 40, 1 + (i * 13) % 40, 1 + i % 40 };
		add_sample(&w, st, 1 + i % 3, v, 1);
	}
	for (uint64_t id = 40; id >= 1; id--)
		add_location(&w, id, 0, 1);
	add_function(&w, 1, 5);
	add_strings(&w, STR, NSTR);
	cprof_profile *p = decode_ok(&w);
	assert_int_equal(p->locations.v[0].id, 40);
	size_t ns = cprof_nstacks(p);
	for (size_t s = 0; s < ns; s++) {
		uint32_t locs[3];
		size_t n = cprof_stack_len(p, (uint32_t)s);
		memcpy(locs, cprof_stack_locs(p, (uint32_t)s), n * sizeof *locs);
		assert_int_equal(cprof_intern_stack(p, locs, n), (int64_t)s);
	}
	assert_int_equal(cprof_nstacks(p), ns);
	for (size_t i = 0; i < 500; i++) {
		const uint32_t *l = cprof_stack_locs(p, p->samples.v[i].stack);
		assert_int_equal(p->locations.v[l[0]].id, 1 + (i * 7) % 40);
	}
	cprof_profile *q = roundtrip(p, true);
	same_profile(p, q, true);
	cprof_profile_free(q);
	cprof_profile_free(p);
	pb_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_fields),
		cmocka_unit_test(test_roundtrip_unreferenced_strings),
		cmocka_unit_test(test_encode_renumbers_bad_ids),
		cmocka_unit_test(test_encode_empty_profile),
		cmocka_unit_test(test_encode_refuses_invalid_model),
		cmocka_unit_test(test_golden_counts),
		cmocka_unit_test(test_golden_cpu),
		cmocka_unit_test(test_golden_heap_allocs),
		cmocka_unit_test(test_packed_vs_unpacked),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_field_orders),
		cmocka_unit_test(test_definition_order_kept),
		cmocka_unit_test(test_undefined_mapping_forgiven),
		cmocka_unit_test(test_samples_before_sample_types),
		cmocka_unit_test(test_duplicate_strings),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_decode_args),
		cmocka_unit_test(test_gunzip),
		cmocka_unit_test(test_decode_dispatch),
		cmocka_unit_test(test_gzip_streaming_windows),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_stream_window_boundaries),
		cmocka_unit_test(test_stream_errors_same_as_memory),
		cmocka_unit_test(test_stream_fd_read_boundaries),
		cmocka_unit_test(test_decode_file_streams),
		cmocka_unit_test(test_decode_file_legacy),
		cmocka_unit_test(test_stream_limits),
		cmocka_unit_test(test_mem_limit_and_fd),
		cmocka_unit_test(test_reorder_keeps_stack_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
