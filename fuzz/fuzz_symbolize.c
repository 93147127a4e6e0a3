/*
 * fuzz_symbolize.c - libFuzzer target for the symbolizer's input parsing:
 * the demangled-name simplifier (demangle.c) and the reading of ELF files
 * and their DWARF (symbolize.c over libdw).
 *
 * An input starting with 'D' is a symbol name: it is demangled in every
 * mode; a simplified name is never longer than the full one and both are
 * NUL-terminated strings.  Any other input is written to a temporary file
 * and symbolized as the binary of a profile with one mapping and locations
 * at addresses taken from the input (first low addresses, then words of the
 * input itself); the result must pass cprof_profile_check and every
 * location must have at most 64 lines.
 * Seeds: fuzz/seeds/fuzz_symbolize (mangled C++ names, small ELF files
 * built with -g: an executable, a PIE and a shared library).
 */
#include "cprof_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_symbolize: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static void fuzz_demangle(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = 0;
	char *full = cprof_demangle(s, CPROF_DEMANGLE_FULL);
	int modes[] = { CPROF_DEMANGLE_DEFAULT, CPROF_DEMANGLE_TEMPLATES, CPROF_DEMANGLE_NONE };
	for (size_t i = 0; i < 3; i++) {
		char *d = cprof_demangle(s, modes[i]);
		CHECK(!d || full, "mode %d demangled what full mode did not", modes[i]);
		if (d)
			CHECK(strlen(d) <= strlen(full), "simplified name longer than the full one");
		CHECK(modes[i] != CPROF_DEMANGLE_NONE || !d, "mode none demangled");
		free(d);
	}
	free(full);
	free(s);
}

static char path[64];

static void cleanup(void)
{
	unlink(path);
}

static void fuzz_elf(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		snprintf(path, sizeof path, "/tmp/fuzz_symbolize.%ld", (long)getpid());
		atexit(cleanup);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(data, 1, size, f);
	fclose(f);
	cprof_profile *p = cprof_profile_new();
	if (!p)
		return;
	cprof_mapping m = { .id = 1, .start = 0x10000, .limit = 0x800000, .offset = 0,
			    .file = cprof_intern_cstr(p, path) };
	cprof_add_mapping(p, &m);
	for (size_t i = 0; i < 48; i++) {
		uint64_t a = 0x10000 + (uint64_t)i * 0x40 + 0x1000;
		if (i >= 32 && size >= 8) {
			memcpy(&a, data + ((i * 8) % (size - 7)), 8);
			a = 0x10000 + (a & 0x7fffff);
		}
		cprof_location l = { .id = i + 1, .address = a, .mapping = 0 };
		cprof_add_location(p, &l, NULL, 0);
	}
	cprof_symopts o = { .search_path = "", .warn = quiet };
	cprof_error err = { 0 };
	int64_t n = cprof_symbolize(p, &o, &err);
	CHECK(n >= 0, "symbolize failed: %s", err.msg);
	CHECK(cprof_demangle_profile(p, CPROF_DEMANGLE_DEFAULT, false) == 0, "demangle failed");
	err.code = 0;
	CHECK(cprof_profile_check(p, &err) == 0, "check: %s", err.msg);
	for (size_t i = 0; i < p->locations.n; i++)
		CHECK(p->locations.v[i].nline <= 64, "too many lines");
	cprof_profile_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 'D')
		fuzz_demangle(data + 1, size - 1);
	else
		fuzz_elf(data, size);
	return 0;
}
