/*
 * fuzz_trace_read.c - libFuzzer target for the execution-trace reader
 * (src/core/trace_read.c: Chrome Trace Event JSON into a delay profile,
 * for cprof -trace_pprof).
 *
 * Every kind (sync, syscall, sched, cpu) reads every input, and so does
 * the Perfetto converter (trace_perfetto.c), whose output must be a run
 * of length-delimited Trace.packet fields covering it exactly.
 * Properties checked (abort on violation):
 *   - a failure is CPROF_EFORMAT or CPROF_ENOMEM, with a message, and
 *     leaves no profile;
 *   - an accepted profile passes cprof_profile_check, has the two sample
 *     types, and compacts (merges its duplicate samples) cleanly;
 *   - the profile holds no more samples than the input has '{' bytes
 *     (one per event object) and no more functions than '"' pairs.
 * Seeds: fuzz/seeds/fuzz_trace_read (traces written by the runtime's
 * test programs, trimmed; edge cases).
 */
#include "cprof_core.h"
#include "cprof_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_trace_read: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t braces = 0, quotes = 0;
	for (size_t i = 0; i < size; i++) {
		braces += data[i] == '{';
		quotes += data[i] == '"';
	}
	for (int k = CPROF_TRACE_SYNC; k <= CPROF_TRACE_CPU; k++) {
		cprof_profile *p = NULL;
		cprof_error err = { 0 };
		int rc = cprof_trace_pprof((const char *)data, size, (cprof_trace_kind)k, &p, &err);
		if (rc < 0) {
			CHECK(rc == CPROF_EFORMAT || rc == CPROF_ENOMEM, "unexpected code %d", rc);
			CHECK(err.code == rc && err.msg[0], "failure %d without a message", rc);
			CHECK(!p, "a profile left after a failure");
			continue;
		}
		CHECK(p, "success without a profile");
		cprof_error e2 = { 0 };
		CHECK(cprof_profile_check(p, &e2) == 0, "check: %s", e2.msg);
		CHECK(p->vtypes.n == 2, "%zu sample types", p->vtypes.n);
		CHECK(p->samples.n <= braces, "%zu samples from %zu braces", p->samples.n, braces);
		CHECK(p->functions.n <= quotes / 2, "%zu functions from %zu quotes",
		      p->functions.n, quotes);
		CHECK(cprof_compact(p, &e2) == 0, "compact: %s", e2.msg);
		CHECK(cprof_profile_check(p, &e2) == 0, "check after compact: %s", e2.msg);
		cprof_profile_free(p);
	}
	void *pb = NULL;
	size_t pblen = 0;
	cprof_error err = { 0 };
	int rc = cprof_trace_perfetto((const char *)data, size, &pb, &pblen, &err);
	if (rc < 0) {
		CHECK(rc == CPROF_EFORMAT || rc == CPROF_ENOMEM, "perfetto: unexpected code %d", rc);
		CHECK(err.code == rc && err.msg[0], "perfetto: failure %d without a message", rc);
		CHECK(!pb, "perfetto: output left after a failure");
		return 0;
	}
	const uint8_t *b = pb;
	size_t i = 0;
	while (i < pblen) {
		CHECK(b[i] == (1 << 3 | 2), "perfetto: byte %zu is not a Trace.packet tag", i);
		i++;
		uint64_t n = 0;
		for (int sh = 0; i < pblen; sh += 7) {
			CHECK(sh < 64, "perfetto: a length too long");
			n |= (uint64_t)(b[i] & 0x7f) << sh;
			if (!(b[i++] & 0x80))
				break;
		}
		CHECK(n <= pblen - i, "perfetto: a packet runs past the end");
		i += n;
	}
	free(pb);
	return 0;
}
