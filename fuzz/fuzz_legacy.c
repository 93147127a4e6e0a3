/*
 * fuzz_legacy.c - libFuzzer target for the legacy parsers (gperftools CPU,
 * heap, Go count, contention) and folded stacks, and for merging what they
 * accept.
 *
 * Every parser sees every input.  Properties checked (abort on violation):
 *   - CPROF_EUNKNOWN sets no message (so the next parser's message can win);
 *   - any other failure is negative, sets a message and leaves no profile;
 *   - an accepted profile passes cprof_profile_check;
 *   - merging it alone, and with a negated copy of itself (-base), succeeds
 *     and passes cprof_profile_check; the negated merge leaves no sample
 *     (when the values are exact in a double).
 * Seeds: fuzz/seeds/fuzz_legacy (trimmed Go debug=1 profiles, heap and
 * contention variants with memory maps, gperftools CPU profiles in 32- and
 * 64-bit words, folded stacks).
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_legacy: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

typedef int (*parser_fn)(const void *, size_t, cprof_profile **, cprof_error *);

static const struct {
	const char *name;
	parser_fn fn;
} parsers[] = {
	{ "gperf_cpu", cprof_legacy_gperf_cpu },
	{ "heap", cprof_legacy_heap },
	{ "count", cprof_legacy_count },
	{ "contention", cprof_legacy_contention },
	{ "folded", cprof_folded_decode },
};

static void check_merges(cprof_profile *p, const char *name)
{
	cprof_error e = { 0, "" };
	cprof_profile *m = NULL;
	int rc = cprof_merge(&p, 1, &m, &e);
	CHECK(rc == 0 && m, "%s: merging alone failed: %d %s", name, rc, e.msg);
	rc = cprof_profile_check(m, &e);
	CHECK(rc == 0, "%s: merged profile fails the check: %s", name, e.msg);

	/* v + (-v) is 0 only when v survives the trip through a double */
	for (size_t i = 0; i < m->values.n; i++)
		if (m->values.v[i] > (1LL << 53) || m->values.v[i] < -(1LL << 53))
			goto out;
	cprof_profile *neg = NULL;
	rc = cprof_merge(&m, 1, &neg, &e);     /* a copy */
	CHECK(rc == 0 && neg, "%s: merging the merge failed: %d %s", name, rc, e.msg);
	CHECK(neg->samples.n == m->samples.n, "%s: merging is not idempotent", name);
	cprof_scale(neg, -1);
	cprof_profile *two[2] = { m, neg }, *z = NULL;
	rc = cprof_merge(two, 2, &z, &e);
	CHECK(rc == 0 && z, "%s: merging with the negation failed: %d %s", name, rc, e.msg);
	rc = cprof_profile_check(z, &e);
	CHECK(rc == 0, "%s: base-merged profile fails the check: %s", name, e.msg);
	CHECK(z->samples.n == 0, "%s: %zu samples left after subtracting itself", name,
	      z->samples.n);
	cprof_profile_free(z);
	cprof_profile_free(neg);
out:
	cprof_profile_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof parsers / sizeof *parsers; i++) {
		cprof_profile *p = NULL;
		cprof_error e = { 0, "" };
		int rc = parsers[i].fn(data, size, &p, &e);
		if (rc == CPROF_EUNKNOWN) {
			CHECK(e.code == 0, "%s: EUNKNOWN with a message: %s", parsers[i].name, e.msg);
			CHECK(p == NULL, "%s: EUNKNOWN left a profile", parsers[i].name);
			continue;
		}
		if (rc != 0) {
			CHECK(rc < 0 && e.code == rc && e.msg[0], "%s: failure %d without message",
			      parsers[i].name, rc);
			CHECK(p == NULL, "%s: failure left a profile", parsers[i].name);
			continue;
		}
		CHECK(p != NULL, "%s: success without a profile", parsers[i].name);
		rc = cprof_profile_check(p, &e);
		CHECK(rc == 0, "%s: parsed profile fails the check: %s", parsers[i].name, e.msg);
		check_merges(p, parsers[i].name);
		cprof_profile_free(p);
	}
	return 0;
}
