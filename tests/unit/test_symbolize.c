/*
 * test_symbolize.c - the local symbolizer and the demangler on real code.
 *
 * The binary symbolized is this test program itself (built -O2 -g by the
 * Makefile): a profile is made with a mapping copied from /proc/self/maps
 * and locations at addresses inside functions defined here, so names, files
 * and lines are known (__LINE__) and PIE address translation is exercised.
 * Also: the has_* flags, functions shared between locations, force versus
 * already symbolized mappings, build-ID mismatch refused with a warning,
 * a missing binary warned about in pprof's words, a symbolizer reused for
 * a second profile, cprof_elf_build_id against the ELF note, and
 * cprof_demangle in pprof's four modes on names g++ produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof_core.h"

/* ---- functions to find ------------------------------------------------- */

static volatile int sink;

__attribute__((noinline)) int target_one(int n);
__attribute__((noinline)) int target_one(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += i * sink;
	return s;
}
static const int target_one_line = __LINE__ - 7;   /* its definition line */

__attribute__((noinline)) int target_two(int n);
__attribute__((noinline)) int target_two(int n)
{
	return target_one(n) + 1;
}

/* ---- warnings ------------------------------------------------------------ */

static char warnings[4096];

static void collect(void *ctx, const char *msg)
{
	(void)ctx;
	size_t n = strlen(warnings);
	snprintf(warnings + n, sizeof warnings - n, "%s\n", msg);
}

/* ---- a profile of this process ----------------------------------------- */

static char self[4096];

/* The mapping of /proc/self/maps that holds addr. */
static int self_mapping(uint64_t addr, cprof_mapping *m, cprof_profile *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[8192];
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long long lo, hi, off;
		char perm[8], path[4096] = "";
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095s", &lo, &hi, perm, &off, path) < 4)
			continue;
		if (addr >= lo && addr < hi) {
			m->start = lo, m->limit = hi, m->offset = off;
			m->file = cprof_intern_cstr(p, path);
			found = 1;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* A profile with one mapping (this binary) and one sample per address. */
static cprof_profile *self_profile(const uint64_t *addrs, size_t n, const char *build_id)
{
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	assert_true(cprof_add_vtype(p, cprof_intern_cstr(p, "samples"), cprof_intern_cstr(p, "count")) >= 0);
	cprof_mapping m = { .id = 1 };
	assert_true(self_mapping(addrs[0], &m, p));
	if (build_id)
		m.build_id = cprof_intern_cstr(p, build_id);
	assert_true(cprof_add_mapping(p, &m) >= 0);
	for (size_t i = 0; i < n; i++) {
		cprof_location l = { .id = i + 1, .address = addrs[i], .mapping = 0 };
		assert_true(cprof_add_location(p, &l, NULL, 0) >= 0);
		uint32_t li = (uint32_t)i;
		int64_t st = cprof_intern_stack(p, &li, 1);
		assert_true(st >= 0);
		int64_t v = 1;
		assert_true(cprof_add_sample(p, (uint32_t)st, 0, &v) >= 0);
	}
	return p;
}

static const cprof_line *loc_line(const cprof_profile *p, size_t loc, size_t k)
{
	const cprof_location *l = &p->locations.v[loc];
	assert_true(k < l->nline);
	return &p->lines.v[l->line_off + k];
}

static const char *fname(const cprof_profile *p, const cprof_line *ln)
{
	return cprof_s(p, p->functions.v[ln->function].name);
}

static int setup(void **state)
{
	(void)state;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	assert_true(n > 0);
	self[n] = 0;
	return 0;
}

static void test_names_files_lines(void **state)
{
	(void)state;
	uint64_t a1 = (uint64_t)(uintptr_t)&target_one + 4;
	uint64_t a2 = (uint64_t)(uintptr_t)&target_two + 1;
	uint64_t addrs[] = { a1, a2, a1 + 1 };
	cprof_profile *p = self_profile(addrs, 3, NULL);
	warnings[0] = 0;
	cprof_symopts o = { .warn = collect, .search_path = "" };
	cprof_error err = { 0 };
	int64_t n = cprof_symbolize(p, &o, &err);
	assert_int_equal(n, 3);
	assert_string_equal(warnings, "");
	const cprof_line *l1 = loc_line(p, 0, p->locations.v[0].nline - 1);
	assert_string_equal(fname(p, l1), "target_one");
	const char *file = cprof_s(p, p->functions.v[l1->function].filename);
	assert_non_null(strstr(file, "test_symbolize.c"));
	assert_true(l1->line >= target_one_line && l1->line <= target_one_line + 7);
	assert_int_equal(p->functions.v[l1->function].start_line, target_one_line);
	const cprof_line *l2 = loc_line(p, 1, p->locations.v[1].nline - 1);
	assert_string_equal(fname(p, l2), "target_two");
	/* two addresses in one function share its function entry */
	const cprof_line *l3 = loc_line(p, 2, p->locations.v[2].nline - 1);
	assert_int_equal(l3->function, l1->function);
	const cprof_mapping *m = &p->mappings.v[0];
	assert_true(m->has_functions && m->has_filenames && m->has_line_numbers && m->has_inline_frames);
	assert_int_equal(cprof_profile_check(p, &err), 0);
	cprof_profile_free(p);
}

static void test_already_symbolized_and_force(void **state)
{
	(void)state;
	uint64_t a = (uint64_t)(uintptr_t)&target_one + 4;
	cprof_profile *p = self_profile(&a, 1, NULL);
	p->mappings.v[0].has_functions = true;      /* claims symbols: skipped */
	cprof_symopts o = { .warn = collect, .search_path = "" };
	cprof_error err = { 0 };
	assert_int_equal(cprof_symbolize(p, &o, &err), 0);
	assert_int_equal(p->locations.v[0].nline, 0);
	o.force = true;
	assert_int_equal(cprof_symbolize(p, &o, &err), 1);
	assert_true(p->locations.v[0].nline >= 1);
	cprof_profile_free(p);
}

static void test_fast_names_only(void **state)
{
	(void)state;
	uint64_t a = (uint64_t)(uintptr_t)&target_two + 1;
	cprof_profile *p = self_profile(&a, 1, NULL);
	cprof_symopts o = { .fast = true, .warn = collect, .search_path = "" };
	assert_int_equal(cprof_symbolize(p, &o, NULL), 1);
	assert_int_equal(p->locations.v[0].nline, 1);
	const cprof_line *l = loc_line(p, 0, 0);
	assert_string_equal(fname(p, l), "target_two");
	assert_int_equal(l->line, 0);
	assert_false(p->mappings.v[0].has_line_numbers);
	cprof_profile_free(p);
}

static void test_build_id(void **state)
{
	(void)state;
	char hex[129];
	int rc = cprof_elf_build_id(self, hex, sizeof hex, NULL);
	assert_int_equal(rc, 1);
	/* the same ID readelf shows in the note */
	char cmd[8300], out[512] = "";
	snprintf(cmd, sizeof cmd, "readelf -n '%s' | sed -n 's/.*Build ID: //p'", self);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, sizeof out, f));
	pclose(f);
	out[strcspn(out, "\n")] = 0;
	assert_string_equal(hex, out);

	/* the right ID symbolizes, a wrong one is refused with a warning */
	uint64_t a = (uint64_t)(uintptr_t)&target_one + 4;
	cprof_profile *p = self_profile(&a, 1, hex);
	cprof_symopts o = { .warn = collect, .search_path = "" };
	assert_int_equal(cprof_symbolize(p, &o, NULL), 1);
	cprof_profile_free(p);
	p = self_profile(&a, 1, "0123456789abcdef");
	warnings[0] = 0;
	assert_int_equal(cprof_symbolize(p, &o, NULL), 0);
	assert_non_null(strstr(warnings, "(build ID 0123456789abcdef): build ID mismatch"));
	assert_int_equal(p->locations.v[0].nline, 0);
	cprof_profile_free(p);

	cprof_error err = { 0 };
	assert_int_equal(cprof_elf_build_id("/nonexistent/x", hex, sizeof hex, &err), CPROF_EIO);
	err.code = 0;
	assert_int_equal(cprof_elf_build_id("/proc/self/maps", hex, sizeof hex, &err), CPROF_EFORMAT);
}

static void test_missing_binary(void **state)
{
	(void)state;
	uint64_t a = (uint64_t)(uintptr_t)&target_one + 4;
	cprof_profile *p = self_profile(&a, 1, NULL);
	p->mappings.v[0].file = cprof_intern_cstr(p, "/nonexistent/dir/prog");
	/* a second mapping, not main, with no file name */
	cprof_mapping m2 = { .id = 2, .start = 1, .limit = 2 };
	assert_true(cprof_add_mapping(p, &m2) >= 0);
	cprof_location l = { .id = 99, .address = 1, .mapping = 1 };
	assert_true(cprof_add_location(p, &l, NULL, 0) >= 0);
	warnings[0] = 0;
	cprof_symopts o = { .warn = collect, .search_path = "" };
	assert_int_equal(cprof_symbolize(p, &o, NULL), 0);
	assert_string_equal(warnings,
		"Local symbolization failed for prog: open /nonexistent/dir/prog: no such file or directory\n"
		"Some binary filenames not available. Symbolization may be incomplete.\n"
		"Try setting PPROF_BINARY_PATH to the search path for local binaries.\n");
	cprof_profile_free(p);
}

static void test_search_path_mismatch(void **state)
{
	(void)state;
	/* a directory holding a copy of another ELF file under this binary's
	 * name: it is considered and refused, then the real path is used */
	char dir[] = "/tmp/cprof-symtest-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *base = strrchr(self, '/') + 1;
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "cp /bin/true '%s/%s'", dir, base);
	assert_int_equal(system(cmd), 0);
	char hex[129];
	assert_int_equal(cprof_elf_build_id(self, hex, sizeof hex, NULL), 1);
	char other[129];
	snprintf(cmd, sizeof cmd, "%s/%s", dir, base);
	assert_int_equal(cprof_elf_build_id(cmd, other, sizeof other, NULL), 1);

	uint64_t a = (uint64_t)(uintptr_t)&target_one + 4;
	cprof_profile *p = self_profile(&a, 1, hex);
	warnings[0] = 0;
	cprof_symopts o = { .warn = collect, .search_path = dir };
	assert_int_equal(cprof_symbolize(p, &o, NULL), 1);
	char want[1024];
	snprintf(want, sizeof want, "Ignoring local file %s/%s: build-id mismatch (%s != %s)\n",
		 dir, base, hex, other);
	assert_string_equal(warnings, want);
	assert_string_equal(cprof_s(p, p->mappings.v[0].file), self);
	cprof_profile_free(p);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_symbolizer_reused(void **state)
{
	(void)state;
	cprof_symbolizer *s = cprof_symbolizer_new();
	assert_non_null(s);
	cprof_symopts o = { .warn = collect, .search_path = "" };
	for (int round = 0; round < 2; round++) {
		uint64_t a = (uint64_t)(uintptr_t)(round ? &target_two : &target_one) + 1;
		cprof_profile *p = self_profile(&a, 1, NULL);
		assert_int_equal(cprof_symbolizer_run(s, p, &o, NULL), 1);
		const cprof_line *l = loc_line(p, 0, p->locations.v[0].nline - 1);
		assert_string_equal(fname(p, l), round ? "target_two" : "target_one");
		cprof_profile_free(p);
	}
	cprof_symbolizer_free(s);
}

/* ---- demangling ---------------------------------------------------------- */

static void check_dm(const char *mangled, int mode, const char *want)
{
	char *d = cprof_demangle(mangled, mode);
	if (!want) {
		assert_null(d);
		return;
	}
	assert_non_null(d);
	if (strcmp(d, want) != 0)
		fail_msg("%s (mode %d): got \"%s\", want \"%s\"", mangled, mode, d, want);
	free(d);
}

static void test_demangle_modes(void **state)
{
	(void)state;
	const int D = CPROF_DEMANGLE_DEFAULT, F = CPROF_DEMANGLE_FULL, T = CPROF_DEMANGLE_TEMPLATES;
	check_dm("_ZNK3geo3VecplERKS0_", D, "geo::Vec::operator+");
	check_dm("_ZNK3geo3VecplERKS0_", F, "geo::Vec::operator+(geo::Vec const&) const");
	check_dm("_ZNK3geo3VecplERKS0_", T, "geo::Vec::operator+");
	check_dm("_Z4spinIdET_S0_l", D, "spin");
	check_dm("_Z4spinIdET_S0_l", T, "spin<double>");
	check_dm("_Z4spinIdET_S0_l", F, "double spin<double>(double, long)");
	check_dm("_ZN3geo3AccIdE3addERKSt6vectorIdSaIdEE", D, "geo::Acc::add");
	check_dm("_ZN3geo3AccIdE3addERKSt6vectorIdSaIdEE", T, "geo::Acc<double>::add");
	check_dm("_ZN12_GLOBAL__N_13fooEv", D, "(anonymous namespace)::foo");
	check_dm("_ZN1AltERKS_", D, "A::operator<");
	check_dm("_ZN1AlsEi", D, "A::operator<<");
	check_dm("_ZN1AclEv", D, "A::operator()");
	check_dm("_ZN1AptEv", D, "A::operator->");
	check_dm("_ZN3FooIiEcviEv", D, "Foo::operator int");
	check_dm("_ZN3FooIiEcviEv", T, "Foo<int>::operator int");
	check_dm("_ZZ4mainENKUlvE_clEv", D, "main::{lambda()#1}::operator()");
	check_dm("_Z3barv.cold", F, "bar()");     /* GCC clone suffix dropped */
	check_dm("_ZNSt6vectorIiSaIiEE9push_backERKi", D, "std::vector::push_back");
	check_dm("_ZN2ns1fIN1a1bEEEvPFvT_E", D, "ns::f");
	/* not mangled, or none: NULL (the caller keeps the name) */
	check_dm("main", D, NULL);
	check_dm("_ZNK3geo3VecplERKS0_", CPROF_DEMANGLE_NONE, NULL);
	check_dm("_Z", D, NULL);
}

static void test_demangle_profile(void **state)
{
	(void)state;
	cprof_profile *p = cprof_profile_new();
	cprof_str mangled = cprof_intern_cstr(p, "_Z4spinIdET_S0_l");
	cprof_function f = { .id = 1, .name = mangled, .system_name = mangled };
	assert_true(cprof_add_function(p, &f) >= 0);
	cprof_str c = cprof_intern_cstr(p, "plain_c");
	cprof_function g = { .id = 2, .name = c, .system_name = c };
	assert_true(cprof_add_function(p, &g) >= 0);
	assert_int_equal(cprof_demangle_profile(p, CPROF_DEMANGLE_DEFAULT, false), 0);
	assert_string_equal(cprof_s(p, p->functions.v[0].name), "spin");
	assert_string_equal(cprof_s(p, p->functions.v[0].system_name), "_Z4spinIdET_S0_l");
	assert_string_equal(cprof_s(p, p->functions.v[1].name), "plain_c");
	/* already demangled: kept unless forced */
	assert_int_equal(cprof_demangle_profile(p, CPROF_DEMANGLE_FULL, false), 0);
	assert_string_equal(cprof_s(p, p->functions.v[0].name), "spin");
	assert_int_equal(cprof_demangle_profile(p, CPROF_DEMANGLE_FULL, true), 0);
	assert_string_equal(cprof_s(p, p->functions.v[0].name), "double spin<double>(double, long)");
	assert_int_equal(cprof_demangle_profile(p, CPROF_DEMANGLE_NONE, true), 0);
	assert_string_equal(cprof_s(p, p->functions.v[0].name), "_Z4spinIdET_S0_l");
	cprof_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_files_lines),
		cmocka_unit_test(test_already_symbolized_and_force),
		cmocka_unit_test(test_fast_names_only),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_missing_binary),
		cmocka_unit_test(test_search_path_mismatch),
		cmocka_unit_test(test_symbolizer_reused),
		cmocka_unit_test(test_demangle_modes),
		cmocka_unit_test(test_demangle_profile),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
