/*
 * fuzz_filter.c - libFuzzer target for the report filters: the input is a
 * list of option values, one per line, in the order focus, ignore, hide,
 * show, show_from, prune_from, tagfocus, tagignore, tagshow, taghide,
 * tagroot, tagleaf, unit, and the profile's drop_frames and keep_frames;
 * the first byte picks -raw or -tags, the granularity and noinlines.  Each
 * run builds a small profile with string and numeric labels (with and
 * without units), inline frames, a location without lines and an empty
 * stack, and reports on it.  This exercises the regexp compiler with
 * arbitrary patterns, the tagfocus range parser, and every filter.
 *
 * Properties checked (abort on violation): a report either succeeds or
 * fails with a negative code and a message; the profile it leaves passes
 * cprof_profile_check.
 * Seeds: fuzz/seeds/fuzz_filter.
 */
#include "cprof_core.h"
#include "cprof_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_filter: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

#define NOPT 15

static cprof_profile *build(const char *drop, const char *keep)
{
	static const char *const names[] = { "main.main", "runtime.mallocgc", "ns::f(int)",
					     "(anonymous namespace)::g(int)", ".h", "",
					     "x::operator()(int)" };
	cprof_profile *p = cprof_profile_new();
	CHECK(p, "out of memory");
	cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count"));
	cprof_add_vtype(p, cprof_intern_cstr(p, "space"), cprof_intern_cstr(p, "bytes"));
	cprof_mapping m = { .id = 1, .start = 0x1000, .limit = 0x9000,
			    .file = cprof_intern_cstr(p, "/bin/prog"), .has_functions = true };
	cprof_add_mapping(p, &m);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		cprof_function f = { .id = i + 1, .name = cprof_intern_cstr(p, names[i]),
				     .system_name = cprof_intern_cstr(p, names[i]),
				     .filename = cprof_intern_cstr(p, i % 2 ? "a.go" : "b.cc") };
		cprof_add_function(p, &f);
	}
	for (uint32_t i = 0; i < 10; i++) {
		cprof_line ln[3];
		uint32_t n = i == 9 ? 0 : 1 + i % 3;
		for (uint32_t k = 0; k < n; k++)
			ln[k] = (cprof_line){ .function = (i + k) % 7, .line = i * 10 + k };
		cprof_location l = { .id = i + 1, .address = 0x1000 + i * 16,
				     .mapping = i == 8 ? CPROF_NONE : 0 };
		cprof_add_location(p, &l, ln, n);
	}
	cprof_str kw = cprof_intern_cstr(p, "worker"), kb = cprof_intern_cstr(p, "bytes");
	cprof_str kd = cprof_intern_cstr(p, "duration"), ns = cprof_intern_cstr(p, "nanoseconds");
	for (uint32_t i = 0; i < 24; i++) {
		uint32_t st[8];
		uint32_t d = i == 23 ? 0 : 1 + i % 7;
		for (uint32_t k = 0; k < d; k++)
			st[k] = (i * 3 + k * 5) % 10;
		int64_t s = cprof_intern_stack(p, st, d);
		char w[8];
		snprintf(w, sizeof w, "w%u", i % 3);
		cprof_label lab[3] = { { .key = kw, .str = cprof_intern_cstr(p, w) },
				       { .key = kb, .num = (int64_t)1 << (i % 20) },
				       { .key = kd, .num = (int64_t)i * 1000000, .unit = ns } };
		int64_t ls = cprof_intern_labels(p, lab, i % 4);
		int64_t v[2] = { (int64_t)i - 3, (int64_t)i * 100 };
		CHECK(s >= 0 && ls >= 0 && cprof_add_sample(p, (uint32_t)s, (uint32_t)ls, v) >= 0,
		      "out of memory");
	}
	p->drop_frames = cprof_intern_cstr(p, drop);
	p->keep_frames = cprof_intern_cstr(p, keep);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	if (size < 1 || size > 4096)
		return 0;
	char *buf = malloc(size);
	CHECK(buf, "out of memory");
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	const char *opt[NOPT];
	char *s = buf;
	for (int i = 0; i < NOPT; i++) {
		opt[i] = s ? s : "";
		char *nl = s ? strchr(s, '\n') : NULL;
		if (nl)
			*nl = 0;
		s = nl ? nl + 1 : NULL;
	}
	cprof_ropts o;
	cprof_ropts_init(&o);
	uint8_t mode = data[0];
	o.format = mode & 1 ? CPROF_FMT_TAGS : CPROF_FMT_RAW;
	o.granularity = (mode >> 1) % 5;
	o.noinlines = mode & 0x10;
	o.relative_percentages = mode & 0x20;
	o.focus = opt[0];
	o.ignore = opt[1];
	o.hide = opt[2];
	o.show = opt[3];
	o.show_from = opt[4];
	o.prune_from = opt[5];
	o.tagfocus = opt[6];
	o.tagignore = opt[7];
	o.tagshow = opt[8];
	o.taghide = opt[9];
	o.tagroot = opt[10];
	o.tagleaf = opt[11];
	if (*opt[12])
		o.unit = opt[12];
	cprof_profile *p = build(opt[13], opt[14]);
	cprof_error e = { 0, "" };
	int rc = cprof_report(p, &o, null, null, &e);
	CHECK(rc == 0 || (rc < 0 && e.code == rc && e.msg[0]), "bad failure %d %s", rc, e.msg);
	cprof_error ce = { 0, "" };
	CHECK(cprof_profile_check(p, &ce) == 0, "profile broken after report: %s", ce.msg);
	cprof_profile_free(p);
	free(buf);
	return 0;
}
