/*
 * fuzz_pb.c - libFuzzer target for the input path: cprof_decode on arbitrary
 * bytes (gzip sniffing, streaming inflate, profile.proto, then the legacy
 * parsers), then the encoder on whatever it accepted.
 *
 * Properties checked (abort on violation):
 *   - a failure returns a negative code, sets a message, and leaves no profile;
 *   - an accepted profile passes cprof_profile_check;
 *   - encode (raw or gzip, chosen by the input) then decode succeeds with
 *     the same table sizes;
 *   - one more round trip is a fixed point: the second encoding equals the
 *     first byte for byte (the encoder is canonical on decoded profiles).
 * Seeds: fuzz/seeds/fuzz_pb (small raw Go and pprof-ordered profiles, one
 * with every field, one gzip'd).
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_pb: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static void *encode(const cprof_profile *p, bool gz, size_t *len)
{
	void *buf = NULL;
	cprof_error e = { 0, "" };
	int rc = cprof_pb_encode(p, gz, &buf, len, &e);
	CHECK(rc == 0 && buf, "encode failed: %d %s", rc, e.msg);
	return buf;
}

static cprof_profile *decode(const void *buf, size_t len)
{
	cprof_profile *q = NULL;
	cprof_error e = { 0, "" };
	int rc = cprof_pb_decode(buf, len, &q, &e);
	CHECK(rc == 0 && q, "decoding our own encoding failed: %d %s", rc, e.msg);
	return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cprof_profile *p = NULL;
	cprof_error e = { 0, "" };
	int rc = cprof_decode(data, size, &p, &e);
	if (rc) {
		CHECK(rc < 0 && p == NULL && e.code == rc && e.msg[0], "bad failure: rc=%d code=%d msg=%s",
		      rc, e.code, e.msg);
		return 0;
	}
	CHECK(p != NULL, "success without a profile");
	cprof_error ce = { 0, "" };
	CHECK(cprof_profile_check(p, &ce) == 0, "accepted profile fails check: %s", ce.msg);

	/* profile.proto cannot carry samples without sample types; a legacy
	 * parser's output like that is not ours to round-trip */
	if (p->samples.n && !p->vtypes.n) {
		cprof_profile_free(p);
		return 0;
	}
	size_t n1, n2;
	void *b1 = encode(p, size & 1, &n1);
	cprof_profile *q = decode(b1, n1);
	CHECK(q->samples.n == p->samples.n && q->vtypes.n == p->vtypes.n &&
	      q->locations.n == p->locations.n && q->functions.n == p->functions.n &&
	      q->mappings.n == p->mappings.n && q->comments.n == p->comments.n,
	      "round trip changed table sizes");
	CHECK(q->time_nanos == p->time_nanos && q->period == p->period &&
	      q->duration_nanos == p->duration_nanos, "round trip changed scalars");
	free(b1);

	b1 = encode(q, false, &n1);
	cprof_profile *r = decode(b1, n1);
	void *b2 = encode(r, false, &n2);
	CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "encoding is not a fixed point");
	free(b1);
	free(b2);
	cprof_profile_free(r);
	cprof_profile_free(q);
	cprof_profile_free(p);
	return 0;
}
