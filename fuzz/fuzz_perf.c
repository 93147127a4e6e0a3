/*
 * fuzz_perf.c - libFuzzer target for the `perf script` text parser
 * (cprof_perf_script_decode, src/core/perf_script.c).
 *
 * Properties checked (abort on violation):
 *   - a failure is negative, sets a message and leaves no profile;
 *   - an accepted profile passes cprof_profile_check, has samples/count as
 *     its first value type and a count of 1 in every sample;
 *   - it merges alone, and the merge passes the check too;
 *   - it survives a profile.proto round trip (encode, decode) with the same
 *     number of value types and the same total sample count.
 * Seeds: fuzz/seeds/fuzz_perf (perf script output of real recordings:
 * callchains, no callchains, several events, kernel frames, trimmed).
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_perf: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static int64_t count_total(const cprof_profile *p)
{
	int64_t t = 0;
	for (size_t i = 0; i < p->samples.n; i++)
		t += cprof_sample_values(p, i)[0];
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cprof_error e = { 0, "" };
	cprof_profile *p = NULL;
	int rc = cprof_perf_script_decode(data, size, &p, &e);
	if (rc < 0) {
		CHECK(p == NULL, "failure %d left a profile", rc);
		CHECK(e.code == rc && e.msg[0], "failure %d without its message", rc);
		return 0;
	}
	CHECK(rc == 0 && p, "success without a profile");
	rc = cprof_profile_check(p, &e);
	CHECK(rc == 0, "profile fails the check: %s", e.msg);
	CHECK(p->vtypes.n >= 1 && strcmp(cprof_s(p, p->vtypes.v[0].type), "samples") == 0,
	      "first value type is not samples");
	for (size_t i = 0; i < p->samples.n; i++)
		CHECK(cprof_sample_values(p, i)[0] == 1, "sample %zu does not count 1", i);

	cprof_profile *m = NULL;
	rc = cprof_merge(&p, 1, &m, &e);
	CHECK(rc == 0 && m, "merging alone failed: %d %s", rc, e.msg);
	rc = cprof_profile_check(m, &e);
	CHECK(rc == 0, "merged profile fails the check: %s", e.msg);
	CHECK(count_total(m) == count_total(p), "merge changed the sample count");
	cprof_profile_free(m);

	void *buf = NULL;
	size_t len = 0;
	rc = cprof_pb_encode(p, false, &buf, &len, &e);
	CHECK(rc == 0, "encoding failed: %s", e.msg);
	cprof_profile *q = NULL;
	rc = cprof_pb_decode(buf, len, &q, &e);
	CHECK(rc == 0 && q, "decoding our own encoding failed: %d %s", rc, e.msg);
	CHECK(q->vtypes.n == p->vtypes.n, "round trip changed the value types");
	CHECK(count_total(q) == count_total(p), "round trip changed the sample count");
	free(buf);
	cprof_profile_free(q);
	cprof_profile_free(p);
	return 0;
}
