/*
 * fuzz_compact.c - libFuzzer target for cprof_compact: on every profile the
 * decoders accept (profile.proto, gzip'd or not, and the legacy formats),
 * compacting in place must give exactly what cprof_merge of the profile
 * alone gives, table by table.
 *
 * The input is decoded once and copied (cprof_profile_dup); the copy is
 * merged, the original compacted.  Properties checked (abort on violation):
 *   - both succeed or both fail with the same code;
 *   - on success every table is equal (strings by content), the result
 *     passes cprof_profile_check, and its intern indexes find every stack
 *     and label set where it is;
 *   - on failure the compacted profile still passes cprof_profile_check
 *     when the input did.
 * The first input byte picks whether the samples are first reversed (their
 * stacks are then met out of index order: the copying path) and whether
 * the stack index is marked stale (nothing vouches for distinct stacks).
 * Seeds: fuzz/seeds/fuzz_compact (Go profiles, pprof-ordered protos, and
 * legacy text and gperftools profiles).
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_compact: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

#define SAME_N(name) CHECK(a->name.n == b->name.n, #name ": %zu entries, want %zu", b->name.n, a->name.n)

/* b (compacted) must equal a (merged). */
static void same(const cprof_profile *a, const cprof_profile *b)
{
	SAME_N(str_off);
	for (size_t i = 0; i < a->str_off.n; i++)
		CHECK(cprof_slen(a, (cprof_str)i) == cprof_slen(b, (cprof_str)i) &&
		      !memcmp(cprof_s(a, (cprof_str)i), cprof_s(b, (cprof_str)i), cprof_slen(a, (cprof_str)i)),
		      "string %zu differs", i);
	SAME_N(vtypes);
	for (size_t i = 0; i < a->vtypes.n; i++)
		CHECK(a->vtypes.v[i].type == b->vtypes.v[i].type && a->vtypes.v[i].unit == b->vtypes.v[i].unit,
		      "sample type %zu differs", i);
	SAME_N(mappings);
	for (size_t i = 0; i < a->mappings.n; i++) {
		const cprof_mapping *x = &a->mappings.v[i], *y = &b->mappings.v[i];
		CHECK(x->id == y->id && x->start == y->start && x->limit == y->limit &&
		      x->offset == y->offset && x->file == y->file && x->build_id == y->build_id &&
		      x->has_functions == y->has_functions && x->has_filenames == y->has_filenames &&
		      x->has_line_numbers == y->has_line_numbers &&
		      x->has_inline_frames == y->has_inline_frames, "mapping %zu differs", i);
	}
	SAME_N(functions);
	for (size_t i = 0; i < a->functions.n; i++) {
		const cprof_function *x = &a->functions.v[i], *y = &b->functions.v[i];
		CHECK(x->id == y->id && x->name == y->name && x->system_name == y->system_name &&
		      x->filename == y->filename && x->start_line == y->start_line,
		      "function %zu differs", i);
	}
	SAME_N(lines);
	for (size_t i = 0; i < a->lines.n; i++) {
		const cprof_line *x = &a->lines.v[i], *y = &b->lines.v[i];
		CHECK(x->function == y->function && x->line == y->line && x->column == y->column,
		      "line %zu differs", i);
	}
	SAME_N(locations);
	for (size_t i = 0; i < a->locations.n; i++) {
		const cprof_location *x = &a->locations.v[i], *y = &b->locations.v[i];
		CHECK(x->id == y->id && x->address == y->address && x->mapping == y->mapping &&
		      x->line_off == y->line_off && x->nline == y->nline && x->is_folded == y->is_folded,
		      "location %zu differs", i);
	}
	SAME_N(stack_off);
	SAME_N(stack_locs);
	CHECK(!memcmp(a->stack_off.v, b->stack_off.v, a->stack_off.n * sizeof *a->stack_off.v),
	      "stack offsets differ");
	CHECK(!a->stack_locs.n ||
	      !memcmp(a->stack_locs.v, b->stack_locs.v, a->stack_locs.n * sizeof *a->stack_locs.v),
	      "stacks differ");
	SAME_N(lset_off);
	SAME_N(lset_labels);
	CHECK(!memcmp(a->lset_off.v, b->lset_off.v, a->lset_off.n * sizeof *a->lset_off.v),
	      "label set offsets differ");
	for (size_t i = 0; i < a->lset_labels.n; i++) {
		const cprof_label *x = &a->lset_labels.v[i], *y = &b->lset_labels.v[i];
		CHECK(x->key == y->key && x->str == y->str && x->num == y->num && x->unit == y->unit,
		      "label %zu differs", i);
	}
	SAME_N(samples);
	for (size_t i = 0; i < a->samples.n; i++)
		CHECK(a->samples.v[i].stack == b->samples.v[i].stack &&
		      a->samples.v[i].labels == b->samples.v[i].labels, "sample %zu differs", i);
	SAME_N(values);
	CHECK(!a->values.n || !memcmp(a->values.v, b->values.v, a->values.n * sizeof *a->values.v),
	      "values differ");
	SAME_N(comments);
	CHECK(!a->comments.n ||
	      !memcmp(a->comments.v, b->comments.v, a->comments.n * sizeof *a->comments.v),
	      "comments differ");
	CHECK(a->drop_frames == b->drop_frames && a->keep_frames == b->keep_frames &&
	      a->time_nanos == b->time_nanos && a->duration_nanos == b->duration_nanos &&
	      a->period_type.type == b->period_type.type && a->period_type.unit == b->period_type.unit &&
	      a->period == b->period && a->default_sample_type == b->default_sample_type &&
	      a->doc_url == b->doc_url, "header fields differ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	cprof_profile *p = NULL, *copy, *m = NULL;
	cprof_error e1 = { 0, "" }, e2 = { 0, "" };
	if (cprof_decode(data + 1, size - 1, &p, &e1) != 0)
		return 0;
	if (mode & 1) {                 /* samples reversed: stacks met out of order */
		size_t n = p->samples.n, nv = p->vtypes.n;
		for (size_t i = 0; i < n / 2; i++) {
			cprof_sample t = p->samples.v[i];
			p->samples.v[i] = p->samples.v[n - 1 - i];
			p->samples.v[n - 1 - i] = t;
			for (size_t k = 0; k < nv; k++) {
				int64_t x = p->values.v[i * nv + k];
				p->values.v[i * nv + k] = p->values.v[(n - 1 - i) * nv + k];
				p->values.v[(n - 1 - i) * nv + k] = x;
			}
		}
	}
	if (mode & 2)
		p->stack_hv.n = 0;      /* a stale index: stacks not vouched distinct */
	bool valid = cprof_profile_check(p, NULL) == 0;
	copy = cprof_profile_dup(p);
	CHECK(copy, "out of memory");
	int rm = cprof_merge(&copy, 1, &m, &e1);
	int rc = cprof_compact(p, &e2);
	CHECK(rm == rc, "merge returned %d (%s), compact %d (%s)", rm, e1.msg, rc, e2.msg);
	if (rc == 0) {
		same(m, p);
		CHECK(cprof_profile_check(p, &e2) == 0, "compacted profile fails the check: %s", e2.msg);
		for (size_t s = 0; s < cprof_nstacks(p); s++) {
			size_t n = cprof_stack_len(p, (uint32_t)s);
			CHECK(cprof_intern_stack(p, n ? cprof_stack_locs(p, (uint32_t)s) : NULL, n) ==
				      (int64_t)s,
			      "stack %zu not found by its index", s);
		}
		for (size_t s = 0; s < cprof_nlsets(p); s++) {
			size_t n = cprof_lset_len(p, (uint32_t)s);
			CHECK(cprof_intern_labels(p, n ? cprof_lset(p, (uint32_t)s) : NULL, n) ==
				      (int64_t)s,
			      "label set %zu not found by its index", s);
		}
	} else if (valid) {
		CHECK(cprof_profile_check(p, &e2) == 0, "failed compaction left a bad profile: %s",
		      e2.msg);
	}
	cprof_profile_free(m);
	cprof_profile_free(copy);
	cprof_profile_free(p);
	return 0;
}
