/*
 * fuzz_flame.c - libFuzzer target for the stack outputs (flame.c,
 * proto_out.c): the input is any profile cprof_decode accepts (the first
 * byte picks the options: granularity, noinlines, mean, a sample index and
 * a divisor; the rest is the profile).  Each run decodes it and writes
 * -folded, -flamegraph, -flamesvg and -proto from copies of it.
 *
 * Properties checked (abort on violation): each report either succeeds or
 * fails with a negative code and a message; -folded output, when the
 * decoder accepts it again, reads back as folded stacks (every line
 * splits into frames and a value); -proto output decodes again.
 * Seeds: fuzz/seeds/fuzz_flame (small legacy, folded and proto profiles).
 */
#include "fuzz_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) FUZZ_CHECK("fuzz_flame", cond, __VA_ARGS__)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cprof_ropts o;
	uint8_t sel;
	cprof_profile *p = fuzz_profile_opts(data, size, &o, &sel);
	if (!p)
		return 0;
	static const int formats[] = { CPROF_FMT_FOLDED, CPROF_FMT_FLAMEGRAPH, CPROF_FMT_FLAMESVG,
				       CPROF_FMT_PROTO };
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		o.format = formats[i];
		size_t len;
		char *out = fuzz_report_run("fuzz_flame", p, &o, &len);
		if (!out)
			continue;
		if (o.format == CPROF_FMT_FOLDED) {
			/* every line: at least one frame, a space, an integer */
			for (char *l = out; *l;) {
				char *nl = strchr(l, '\n');
				CHECK(nl, "folded output ends without a newline");
				char *sp = nl;
				while (sp > l && sp[-1] != ' ')
					sp--;
				CHECK(sp > l + 1 && sp < nl, "folded line without frames or value");
				char *end;
				strtoll(sp, &end, 10);
				CHECK(end == nl, "folded value is not an integer");
				l = nl + 1;
			}
		} else if (o.format == CPROF_FMT_PROTO) {
			cprof_profile *q = NULL;
			cprof_error e2 = { 0 };
			int rc = cprof_pb_decode(out, len, &q, &e2);
			CHECK(rc == 0 || rc == CPROF_ENOMEM || rc == CPROF_ELIMIT, "-proto output does not decode: %s", e2.msg);
			cprof_profile_free(q);
		}
		free(out);
	}
	cprof_profile_free(p);
	return 0;
}
