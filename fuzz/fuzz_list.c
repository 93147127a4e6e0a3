/*
 * fuzz_list.c - libFuzzer target for -list (src/report/list.c): the source
 * reader (line splitting, CR stripping, the 64 KiB line rule), the line
 * range rules and the path handling (trimPath, the search path and its
 * parents), over arbitrary source text and sample positions.
 *
 * Input layout: byte 0 picks the file name form (absolute, relative,
 * /proc/self/cwd/..., a remote path cut by the search-path heuristic, none)
 * and whether -trim_path/-source_path are set; bytes 1..8 give two sampled
 * line numbers and a start line; the rest is the source file, written to a
 * private temporary directory.  Properties (abort on violation): the report
 * succeeds; every row it prints is a header, an error line or
 * "%10s %10s %6d:TEXT" with TEXT a line of the file without '\r' or '\n'.
 * Seeds: fuzz/seeds/fuzz_list (C and Go sources, CRLF, long lines).
 */
#include "cprof_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_list: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static char dir[64];

/* Remove the private directory when the fuzzer exits. */
static void cleanup(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/proj/src.c", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/proj", dir);
	rmdir(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9)
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/fuzz_list.%d", (int)getpid());
		mkdir(dir, 0700);
		char sub[96];
		snprintf(sub, sizeof sub, "%s/proj", dir);
		mkdir(sub, 0700);
		atexit(cleanup);
	}
	char path[128];
	snprintf(path, sizeof path, "%s/proj/src.c", dir);
	FILE *f = fopen(path, "wb");
	CHECK(f, "cannot write %s", path);
	fwrite(data + 9, 1, size - 9, f);
	fclose(f);

	char name[160], sp[128];
	const char *source_path = NULL, *trim_path = NULL;
	snprintf(sp, sizeof sp, "%s/proj", dir);
	switch (data[0] % 5) {
	case 0: snprintf(name, sizeof name, "%s", path); break;
	case 1: snprintf(name, sizeof name, "src.c"); source_path = sp; break;
	case 2: snprintf(name, sizeof name, "/proc/self/cwd/src.c"); source_path = sp; break;
	case 3: snprintf(name, sizeof name, "/remote/x/proj/src.c"); source_path = sp; break;
	default: snprintf(name, sizeof name, "/build/src.c"); trim_path = "/build"; source_path = sp;
	}
	if (data[0] & 0x80)
		source_path = data[0] & 0x40 ? "" : "/nonexistent/a/b:";

	cprof_profile *p = cprof_profile_new();
	CHECK(p, "out of memory");
	cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count"));
	int64_t l1 = data[1] | data[2] << 8, l2 = data[3] | data[4] << 8;
	int64_t start = (int64_t)(data[5] | data[6] << 8) - 16;
	cprof_function fn = { .id = 1, .name = cprof_intern_cstr(p, "f"),
			      .filename = cprof_intern_cstr(p, name), .start_line = start };
	int64_t fi = cprof_add_function(p, &fn);
	int64_t lines[2] = { l1, l2 };
	for (int i = 0; i < 2; i++) {
		cprof_line ln = { .function = (uint32_t)fi, .line = lines[i] };
		cprof_location loc = { .id = (uint64_t)i + 1, .address = 0x10 * (uint64_t)(i + 1),
				       .mapping = CPROF_NONE };
		int64_t li = cprof_add_location(p, &loc, &ln, 1);
		uint32_t stack[1] = { (uint32_t)li };
		int64_t st = cprof_intern_stack(p, stack, 1);
		int64_t v = 1 + data[7 + i];
		cprof_add_sample(p, (uint32_t)st, 0, &v);
	}
	cprof_ropts o;
	cprof_ropts_init(&o);
	o.format = CPROF_FMT_LIST;
	o.symbol = "^f$";
	o.source_path = source_path;
	o.trim_path = trim_path;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	FILE *warn = fopen("/dev/null", "w");
	CHECK(out && warn, "cannot open streams");
	cprof_error err = { 0 };
	int rc = cprof_report(p, &o, out, warn, &err);
	fclose(out);
	fclose(warn);
	CHECK(rc == 0, "report failed: %s", err.msg);
	for (char *s = buf, *e; s && *s; s = e + 1) {
		e = strchr(s, '\n');
		CHECK(e, "unterminated row");
		*e = 0;
		CHECK(!strchr(s, '\r') || strstr(s, ":"), "row with CR: %s", s);
		if (strncmp(s, "Total: ", 7) == 0 || strncmp(s, "ROUTINE ", 8) == 0 ||
		    strncmp(s, " Error: ", 8) == 0 || strstr(s, "(flat, cum)") == s + 22)
			continue;
		CHECK(strlen(s) >= 28 && s[28] == ':', "bad row: %s", s);
	}
	free(buf);
	cprof_profile_free(p);
	return 0;
}
