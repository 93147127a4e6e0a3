/*
 * fuzz_srv_time.c - libFuzzer target for the server's time and duration
 * parsers (src/server/timeparse.c, compiled in).
 *
 * Input: the text (any bytes).  Both parsers see it.  Checks: a duration
 * that parses is >= 0; "now" plus a parsed duration is what the time
 * parser answers for "now-TEXT"/"now+TEXT" (no overflow: a sum that would
 * not fit is refused); a failure is CPROF_EINVAL with one line.  ASan and
 * UBSan catch reads past the text and signed overflow.
 * Seeds: fuzz/seeds/fuzz_srv_time.
 */
#include "timeparse.c"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_srv_time: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const int64_t now = INT64_C(1796605323) * 1000000000;
	cprof_error err = { 0 };
	int64_t t, d;
	int rc = srv_time_parse(s, size, now, &t, &err);
	CHECK(rc == 0 || (rc == CPROF_EINVAL && !strchr(err.msg, '\n')), "time error");
	memset(&err, 0, sizeof err);
	rc = srv_duration_parse(s, size, &d, &err);
	CHECK(rc == 0 || (rc == CPROF_EINVAL && !strchr(err.msg, '\n')), "duration error");
	if (rc == 0 && size < 200) {
		CHECK(d >= 0, "negative duration");
		char buf[256];
		memcpy(buf, "now-", 4);
		memcpy(buf + 4, s, size);
		int64_t r;
		int64_t want;
		bool fits = !__builtin_sub_overflow(now, d, &want);
		rc = srv_time_parse(buf, size + 4, now, &r, NULL);
		CHECK((rc == 0) == fits, "now- acceptance");
		CHECK(!fits || r == want, "now- value");
	}
	return 0;
}
