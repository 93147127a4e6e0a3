/*
 * fuzz_report.c - libFuzzer target for the report printers driven by
 * fuzzed profiles: the input's first byte picks options (fuzz_run.h, and
 * -cum, a negative -divide_by, zero node fractions), the rest is any profile cprof_decode accepts (profile.proto, gzip'd or
 * not, and the legacy formats).  Each run decodes it and writes -top,
 * -tree, -peek, -dot, -callgrind, -traces and -list (of every function,
 * from a private empty directory, so a file name in the profile cannot
 * make it read a real source) from copies of it into memory.
 *
 * Properties checked (abort on violation): each report succeeds or fails
 * with a negative code and a message; -top's output has its header line
 * and -dot's is a digraph that closes; the sanitizers catch the rest
 * (overflow in value arithmetic, out-of-bounds reads on hostile tables).
 * Seeds: fuzz/seeds/fuzz_report (small proto and legacy profiles, values
 * at the ends of int64).
 */
#include "fuzz_run.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) FUZZ_CHECK("fuzz_report", cond, __VA_ARGS__)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/fuzz_report.XXXXXX";
	static bool ready;
	if (!ready) {
		CHECK(mkdtemp(dir), "mkdtemp");
		ready = true;
	}
	cprof_ropts o;
	uint8_t sel;
	cprof_profile *p = fuzz_profile_opts(data, size, &o, &sel);
	if (!p)
		return 0;
	o.cum = sel & 0x80;
	if (sel & 0x40 && sel & 0x80)
		o.divide_by = -3;
	o.nodefraction = (sel & 0x04) ? 0 : o.nodefraction;
	o.edgefraction = (sel & 0x04) ? 0 : o.edgefraction;
	o.source_path = dir;
	o.trim_path = dir;
	static const int formats[] = { CPROF_FMT_TEXT, CPROF_FMT_TREE, CPROF_FMT_PEEK, CPROF_FMT_DOT,
				       CPROF_FMT_CALLGRIND, CPROF_FMT_TRACES, CPROF_FMT_LIST };
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		o.format = formats[i];
		o.symbol = (o.format == CPROF_FMT_PEEK || o.format == CPROF_FMT_LIST) ? "." : NULL;
		size_t len;
		char *out = fuzz_report_run("fuzz_report", p, &o, &len);
		if (!out)
			continue;
		if (o.format == CPROF_FMT_DOT)
			CHECK(len >= 2 && strncmp(out, "digraph", 7) == 0 && out[len - 2] == '}',
			      "-dot output is not a closed digraph");
		free(out);
	}
	cprof_profile_free(p);
	return 0;
}
