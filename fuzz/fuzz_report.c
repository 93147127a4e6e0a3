/*
 * fuzz_report.c - libFuzzer target for the report printers driven by
 * fuzzed profiles: the input's first byte picks options (granularity,
 * -cum, -mean, a sample index, -divide_by, -noinlines, node fractions),
 * the rest is any profile cprof_decode accepts (profile.proto, gzip'd or
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
#include "cprof_core.h"
#include "cprof_report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_report: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static char *run(const cprof_profile *p, const cprof_ropts *o, size_t *len)
{
	cprof_profile *q = cprof_profile_dup(p);
	if (!q)
		return NULL;
	char *buf = NULL;
	*len = 0;
	FILE *out = open_memstream(&buf, len);
	FILE *warn = fopen("/dev/null", "w");
	CHECK(out && warn, "cannot open streams");
	cprof_error err = { 0 };
	int rc = cprof_report(q, o, out, warn, &err);
	fclose(out);
	fclose(warn);
	CHECK(rc == 0 || (rc < 0 && err.code == rc && err.msg[0]),
	      "report %d failed without a message (%d)", o->format, rc);
	cprof_profile_free(q);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/fuzz_report.XXXXXX";
	static bool ready;
	if (!ready) {
		CHECK(mkdtemp(dir), "mkdtemp");
		ready = true;
	}
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	if (cprof_decode(data + 1, size - 1, &p, &err) < 0)
		return 0;
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.granularity = sel % 5;
	o.cum = sel & 0x08;
	o.mean = sel & 0x10;
	o.sample_index = (sel & 0x20) ? "0" : NULL;
	o.divide_by = (sel & 0x40) ? -3 : 1;
	o.noinlines = sel & 0x80;
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
		char *out = run(p, &o, &len);
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
