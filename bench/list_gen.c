/*
 * list_gen.c - write a large CPU profile whose functions live in real
 * source files, for bench/list.sh: -list must read every one of them.
 *
 *   list_gen ROOT FILELIST NFUNCS NSAMPLES OUT.pb.gz
 *
 * FILELIST names files relative to ROOT, one a line (e.g. Go's own
 * sources, `cd /usr/lib/go-1.19/src && find . -name '*.go'`).  Each of the
 * NFUNCS functions is put in a file of the list at a start line inside it
 * and gets eight locations on the lines that follow; samples are random
 * stacks of 4 to 12 of those locations.  Deterministic.  Built from the
 * profile core's builder and encoder.
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *m)
{
	fprintf(stderr, "list_gen: %s\n", m);
	exit(2);
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long n = 0;
	int ch;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 6)
		die("usage: list_gen ROOT FILELIST NFUNCS NSAMPLES OUT.pb.gz");
	const char *root = argv[1];
	long nfuncs = atol(argv[3]), nsamples = atol(argv[4]);
	FILE *fl = fopen(argv[2], "r");
	if (!fl || nfuncs <= 0 || nsamples <= 0)
		die("bad arguments");
	char **files = NULL;
	long *nlines = NULL;
	size_t nf = 0, cap = 0;
	char line[4096];
	while (fgets(line, sizeof line, fl)) {
		line[strcspn(line, "\n")] = 0;
		const char *rel = strncmp(line, "./", 2) == 0 ? line + 2 : line;
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", root, rel);
		long n = count_lines(path);
		if (n < 20)
			continue;
		if (nf == cap) {
			cap = cap ? cap * 2 : 1024;
			files = realloc(files, cap * sizeof *files);
			nlines = realloc(nlines, cap * sizeof *nlines);
			if (!files || !nlines)
				die("out of memory");
		}
		files[nf] = strdup(rel);
		nlines[nf++] = n;
	}
	fclose(fl);
	if (!nf)
		die("no usable files");

	cprof_profile *p = cprof_profile_new();
	if (!p)
		die("out of memory");
	cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count"));
	cprof_add_vtype(p, cprof_intern_cstr(p, "cpu"), cprof_intern_cstr(p, "nanoseconds"));
	p->period_type = (cprof_vtype){ cprof_intern_cstr(p, "cpu"), cprof_intern_cstr(p, "nanoseconds") };
	p->period = 10000000;
	cprof_mapping m = { .id = 1, .start = 0x400000, .limit = 0x4000000,
			    .file = cprof_intern_cstr(p, "/usr/bin/bigserver"),
			    .has_functions = true, .has_filenames = true, .has_line_numbers = true };
	if (cprof_add_mapping(p, &m) < 0)
		die("out of memory");
	const int per = 8;
	for (long i = 0; i < nfuncs; i++) {
		size_t fi = next() % nf;
		char name[64];
		snprintf(name, sizeof name, "pkg%ld.Func%ld", i % 97, i);
		int64_t start = 1 + (int64_t)(next() % (uint64_t)(nlines[fi] - per - 1));
		cprof_function fn = { .id = (uint64_t)i + 1, .start_line = start };
		fn.name = fn.system_name = cprof_intern_cstr(p, name);
		fn.filename = cprof_intern_cstr(p, files[fi]);
		int64_t f = cprof_add_function(p, &fn);
		if (f < 0)
			die("out of memory");
		for (int k = 0; k < per; k++) {
			cprof_line ln = { .function = (uint32_t)f, .line = start + 1 + k };
			cprof_location loc = { .id = (uint64_t)(i * per + k + 1),
					       .address = 0x400000 + (uint64_t)(i * per + k) * 4,
					       .mapping = 0 };
			if (cprof_add_location(p, &loc, &ln, 1) < 0)
				die("out of memory");
		}
	}
	size_t nloc = p->locations.n;
	for (long s = 0; s < nsamples; s++) {
		uint32_t stack[12];
		size_t depth = 4 + next() % 9;
		for (size_t d = 0; d < depth; d++)
			stack[d] = (uint32_t)(next() % nloc);
		int64_t st = cprof_intern_stack(p, stack, depth);
		int64_t v[2] = { 1 + (int64_t)(next() % 3), 0 };
		v[1] = v[0] * 10000000;
		if (st < 0 || cprof_add_sample(p, (uint32_t)st, 0, v) < 0)
			die("out of memory");
	}
	cprof_error err = { 0 };
	if (cprof_pb_write_file(p, argv[5], &err) < 0)
		die(err.msg);
	cprof_profile_free(p);
	for (size_t i = 0; i < nf; i++)
		free(files[i]);
	free(files);
	free(nlines);
	return 0;
}
