/*
 * fuzz_timeline.c - libFuzzer target for the timeline's index of an
 * execution trace (src/report/timeline.c: Chrome Trace Event JSON into
 * per-thread slices, flows and checkpoints, for the web UI's timeline).
 *
 * Properties checked (abort on violation):
 *   - a failure is CPROF_EFORMAT or CPROF_ENOMEM with a message, and
 *     leaves no timeline;
 *   - an accepted trace has no more slices than '{' bytes;
 *   - every window query (the whole range and a zoom, at a few widths)
 *     emits at most 3 * width + 2 items, in time order, whose counts add
 *     up to no more than the lane's slices, within the window;
 *   - the meta, window, event (first and last slice of each lane) and
 *     search answers are written without crashing, and each event's JSON
 *     quote is a whole object (balanced braces outside strings);
 *   - the fast path for the runtime's layout agrees with the scanner:
 *     when the scanner alone (cprof_timeline_build_general) accepts the
 *     input, the default build accepts it with the same index; when the
 *     default build refuses it, so does the scanner;
 *   - the index built in two halves on two threads (split at any input's
 *     middle) is the default build's, or the same refusal;
 *   - so is the index built while the bytes arrive (cprof_timeline_load_mem:
 *     chunks of 1..7 bytes, waiting 1..13 bytes ahead, the reader ahead
 *     or reading only what is waited for, a second half at any size).
 * Seeds: fuzz/seeds/fuzz_timeline (traces of the runtime's test
 * programs, trimmed; edge cases).
 */
#include "cprof_timeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_timeline: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

typedef struct qc {
	int64_t t0, t1, last;
	size_t n, count;
} qc;

static bool on_item(void *ctx, const cprof_tl_item *it)
{
	qc *q = ctx;
	CHECK(it->t0 <= it->t1, "an item ends before it starts");
	CHECK(it->t1 > q->t0 && it->t0 < q->t1, "an item outside the window");
	CHECK(q->n == 0 || it->t0 >= q->last, "items out of order");
	CHECK(it->n >= 1, "an empty item");
	q->last = it->t1;
	q->n++;
	q->count += it->n;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t braces = 0;
	for (size_t i = 0; i < size; i++)
		braces += data[i] == '{';
	cprof_timeline *tl = NULL;
	cprof_error err = { 0 };
	int rc = cprof_timeline_build((const char *)data, size, &tl, &err);
	cprof_timeline *gen = NULL;
	cprof_error gerr = { 0 };
	int grc = cprof_timeline_build_general((const char *)data, size, &gen, &gerr);
	if (grc == 0 && rc != CPROF_ENOMEM)
		CHECK(rc == 0 && cprof_timeline_same(tl, gen),
		      "the fast path differs from the scanner (%d: %s)", rc, err.msg);
	if (rc == CPROF_EFORMAT)
		CHECK(grc < 0, "the fast path refused what the scanner accepts");
	cprof_timeline_free(gen);
	cprof_timeline *two = NULL;
	cprof_error terr = { 0 };
	int trc = cprof_timeline_build_split((const char *)data, size, 0, &two, &terr);
	if (trc != CPROF_ENOMEM && rc != CPROF_ENOMEM) {
		CHECK(trc == rc, "two halves: %d, one pass: %d (%s)", trc, rc, terr.msg);
		CHECK(rc < 0 ? !strcmp(err.msg, terr.msg) : cprof_timeline_same(tl, two),
		      "two halves differ from one pass (%s)", terr.msg);
	}
	cprof_timeline_free(two);
	cprof_tl_load_opts lo = { 1 + size % 7, 1 + size % 13, 1, size % 2 == 0 };
	void *fdata = NULL;
	cprof_timeline *fed = NULL;
	cprof_error ferr = { 0 };
	int frc = cprof_timeline_load_mem((const char *)data, size, size, &lo, &fdata, &fed, &ferr);
	if (frc != CPROF_ENOMEM && rc != CPROF_ENOMEM) {
		CHECK(frc == rc, "fed: %d, one pass: %d (%s)", frc, rc, ferr.msg);
		if (rc < 0) {
			CHECK(!strcmp(err.msg, ferr.msg), "fed refused otherwise (%s)", ferr.msg);
		} else {
			/* the same bytes at another address: compared by a build of them */
			cprof_timeline *again = NULL;
			cprof_error aerr = { 0 };
			CHECK(memcmp(fdata, data, size) == 0, "fed bytes differ");
			if (cprof_timeline_build(fdata, size, &again, &aerr) == 0)
				CHECK(cprof_timeline_same(again, fed), "fed index differs");
			cprof_timeline_free(again);
		}
	}
	cprof_timeline_free(fed);
	free(fdata);
	if (rc < 0) {
		CHECK(rc == CPROF_EFORMAT || rc == CPROF_ENOMEM, "unexpected code %d", rc);
		CHECK(err.code == rc && err.msg[0], "failure %d without a message", rc);
		CHECK(!tl, "a timeline left after a failure");
		return 0;
	}
	CHECK(tl, "success without a timeline");
	FILE *devnull = fopen("/dev/null", "w");
	CHECK(devnull, "/dev/null");
	cprof_timeline_meta_json(tl, devnull);
	size_t total = 0;
	for (size_t ln = 0; ln < cprof_timeline_nlanes(tl); ln++) {
		size_t ns = cprof_timeline_nslices(tl, ln);
		total += ns;
		static const unsigned widths[] = { 1, 7, 640 };
		static const int64_t wins[][2] = { { -1000000000, 4000000000000LL }, { 0, 1000 },
						   { 999, 5000000 } };
		for (size_t w = 0; w < 3; w++)
			for (size_t k = 0; k < 3; k++) {
				qc q = { .t0 = wins[k][0], .t1 = wins[k][1] };
				size_t n = cprof_timeline_query(tl, ln, q.t0, q.t1, widths[w], on_item, &q);
				CHECK(n == q.n, "%zu items said, %zu emitted", n, q.n);
				CHECK(n <= 3 * (size_t)widths[w] + 2, "%zu items at %u px", n, widths[w]);
				CHECK(q.count <= ns, "%zu slices counted of %zu", q.count, ns);
			}
		for (size_t idx = 0; idx < ns; idx += ns - 1 ? ns - 1 : 1) {
			char *b = NULL;
			size_t bl = 0;
			FILE *m = open_memstream(&b, &bl);
			CHECK(m && cprof_timeline_event_json(tl, ln, idx, m) == 0, "event %zu/%zu", ln, idx);
			fclose(m);
			const char *ev = strstr(b, "\"event\":");
			CHECK(ev, "no event in %s", b);
			int depth = 0;
			bool in = false;
			for (const char *p = ev + 8; *p; p++) {
				if (in) {
					if (*p == '\\')
						p++;
					else if (*p == '"')
						in = false;
					continue;
				}
				if (*p == '"')
					in = true;
				else if (*p == '{')
					depth++;
				else if (*p == '}' && --depth == 0)
					break;
			}
			CHECK(depth == 0, "the event's quote is not a whole object: %s", b);
			free(b);
		}
		uint32_t l32 = (uint32_t)ln;
		cprof_timeline_window_json(tl, &l32, 1, 0, 1000000, 100, devnull);
	}
	CHECK(total <= braces, "%zu slices from %zu braces", total, braces);
	cprof_timeline_search_json(tl, "mutex", 5, devnull);
	cprof_timeline_search_json(tl, "\"", 5, devnull);
	fclose(devnull);
	cprof_timeline_free(tl);
	return 0;
}
