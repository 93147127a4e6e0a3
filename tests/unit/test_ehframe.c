/*
 * test_ehframe.c - the runtime's own .eh_frame reader (ehframe.c, through
 * unwind_tables.c's rt_utable_from_file / _from_image) against the former
 * libdw-based builder (ref_unwind_tables_libdw.c, kept here only).
 *
 * Method: every module this process maps (the test binary, libc, libm,
 * libstdc++, ld.so, libdw, libelf, libz, the vdso...) plus libraries
 * dlopen'ed from /usr/lib (libcrypto, libgnutls, libcurl, libpcre2, liblzma,
 * libffi) and the python3 executable from disk get a table from both
 * builders, which must be identical: same rows (starts), same palette of
 * rules, same rule per row.  Also: corrupt copies of libc's .eh_frame and
 * .eh_frame_hdr (bytes flipped, lengths cut) build without crashing into
 * tables that keep the invariants, or no table; an image with no section
 * headers is read through PT_GNU_EH_FRAME.  Rows read on demand from a
 * module's CFI in memory (rt_ehf_from_memory, rt_ehf_row_at: what the
 * signal handler uses before a module's table is built) equal the
 * table's at every row's first, second and last address, in every
 * module.  The build time (thread CPU
 * time) of all tables, and of libc's, libstdc++'s and python3's, old and
 * new, is printed (never asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt_unwind.h"
#include "ehframe.h"

rt_utable *ref_utable_from_file(const char *path, uintptr_t bias, uintptr_t lo, uintptr_t hi);
rt_utable *ref_utable_from_image(const void *img, size_t size, uintptr_t bias, uintptr_t lo,
				 uintptr_t hi);
size_t ref_utable_bytes(const rt_utable *t);
const rt_urow *ref_utable_find(const rt_utable *t, uintptr_t addr);
#pragma push_macro("skip")
#undef skip
#include "ref_unwind_tables_libdw.c"
#pragma pop_macro("skip")
#undef rt_utable_from_file
#undef rt_utable_from_image
#undef rt_utable_bytes
#undef rt_utable_find

/* ---- the modules of this process ------------------------------------------ */

typedef struct mod {
	char path[512];
	uintptr_t lo, hi, bias;
	bool vdso;
	size_t img;
	const ElfW(Phdr) *phdr;
	size_t phnum;
} mod;

static mod mods[128];
static size_t nmods;

static int on_mod(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	size_t img = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_offset + ph->p_filesz > img)
			img = ph->p_offset + ph->p_filesz;
		if (!(ph->p_flags & PF_X))
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (hi <= lo || nmods == 128)
		return 0;
	mod *m = &mods[nmods];
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	m->vdso = vdso && (uintptr_t)info->dlpi_phdr ==
		vdso + ((const ElfW(Ehdr) *)vdso)->e_phoff;
	if (m->vdso) {
		const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)vdso;
		size_t sh_end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
		if (eh->e_shoff && sh_end > img)
			img = sh_end;
		snprintf(m->path, sizeof m->path, "[vdso]");
	} else if (!info->dlpi_name || !*info->dlpi_name) {
		if (nmods > 0)
			return 0;
		snprintf(m->path, sizeof m->path, "/proc/self/exe");
	} else {
		snprintf(m->path, sizeof m->path, "%s", info->dlpi_name);
	}
	m->lo = lo;
	m->hi = hi;
	m->bias = info->dlpi_addr;
	m->img = img;
	m->phdr = info->dlpi_phdr;
	m->phnum = info->dlpi_phnum;
	nmods++;
	return 0;
}

static const char *const more_libs[] = {
	"libcrypto.so.3", "libgnutls.so.30", "libcurl.so.4", "libpcre2-8.so.0", "liblzma.so.5",
	"libffi.so.8", "libm.so.6", "libstdc++.so.6", "libz.so.1",
};

static void list_modules(void)
{
	if (nmods)
		return;
	for (size_t i = 0; i < sizeof more_libs / sizeof *more_libs; i++)
		(void)dlopen(more_libs[i], RTLD_NOW | RTLD_LOCAL);
	dl_iterate_phdr(on_mod, NULL);
}

/* The thread's CPU time (the machine may be loaded: wall time says little). */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Both tables equal, or report the first difference. */
static bool same_table(const char *what, const rt_utable *a, const rt_utable *b)
{
	if (!a || !b) {
		if (a != b)
			fprintf(stderr, "%s: %s builder made no table\n", what, a ? "new" : "libdw");
		return a == b;
	}
	if (a->lo != b->lo || a->hi != b->hi || a->nrows != b->nrows || a->nrules != b->nrules) {
		fprintf(stderr, "%s: %zu rows %zu rules (libdw) vs %zu rows %zu rules (new)\n", what,
			a->nrows, a->nrules, b->nrows, b->nrules);
		size_t n = a->nrows < b->nrows ? a->nrows : b->nrows;
		for (size_t i = 0; i < n; i++)
			if (a->starts[i] != b->starts[i] ||
			    memcmp(&a->rules[a->rule[i]], &b->rules[b->rule[i]], sizeof(rt_urow)) != 0) {
				const rt_urow *x = &a->rules[a->rule[i]], *y = &b->rules[b->rule[i]];
				fprintf(stderr, "  row %zu: %#x kind %d cfa %d ra %d rbp %d/%d (libdw) vs "
					"%#x kind %d cfa %d ra %d rbp %d/%d (new)\n", i, a->starts[i], x->kind,
					x->cfa_off, x->ra_off, x->rbp_rule, x->rbp_off, b->starts[i], y->kind,
					y->cfa_off, y->ra_off, y->rbp_rule, y->rbp_off);
				break;
			}
		return false;
	}
	bool ok = memcmp(a->rules, b->rules, a->nrules * sizeof(rt_urow)) == 0 &&
		  memcmp(a->starts, b->starts, a->nrows * 4) == 0 &&
		  memcmp(a->rule, b->rule, a->nrows * 2) == 0;
	if (!ok) {
		fprintf(stderr, "%s: same sizes, different rows or rules\n", what);
		for (size_t i = 0; i < a->nrows; i++) {
			const rt_urow *x = &a->rules[a->rule[i]], *y = &b->rules[b->rule[i]];
			if (a->starts[i] != b->starts[i] || memcmp(x, y, sizeof *x) != 0) {
				fprintf(stderr, "  row %zu: %#x kind %d cfa %d ra %d rbp %d/%d pad %d "
					"(libdw) vs %#x kind %d cfa %d ra %d rbp %d/%d pad %d (new)\n", i,
					a->starts[i], x->kind, x->cfa_off, x->ra_off, x->rbp_rule,
					x->rbp_off, x->pad, b->starts[i], y->kind, y->cfa_off, y->ra_off,
					y->rbp_rule, y->rbp_off, y->pad);
				break;
			}
		}
	}
	return ok;
}

static void test_same_tables_every_module(void **state)
{
	list_modules();
	assert_true(nmods >= 10);
	size_t compared = 0, with_table = 0;
	bool all = true;
	double t_old = 0, t_new = 0;
	for (size_t i = 0; i < nmods; i++) {
		const mod *m = &mods[i];
		rt_utable *a, *b;
		double t0 = now_ms();
		if (m->vdso)
			a = ref_utable_from_image((const void *)getauxval(AT_SYSINFO_EHDR), m->img, m->bias,
						  m->lo, m->hi);
		else
			a = ref_utable_from_file(m->path, m->bias, m->lo, m->hi);
		double t1 = now_ms();
		if (m->vdso)
			b = rt_utable_from_image((const void *)getauxval(AT_SYSINFO_EHDR), m->img, m->bias,
						 m->lo, m->hi);
		else
			b = rt_utable_from_file(m->path, m->bias, m->lo, m->hi);
		double t2 = now_ms();
		t_old += t1 - t0;
		t_new += t2 - t1;
		if (strstr(m->path, "/libc.so") || strstr(m->path, "/libstdc++"))
			fprintf(stderr, "test_ehframe: %s %zu rows; libdw %.1f ms, own reader %.1f ms (CPU)\n",
				m->path, a ? a->nrows : 0, t1 - t0, t2 - t1);
		if (!same_table(m->path, a, b))
			all = false;
		compared++;
		with_table += a != NULL;
		free(a);
		rt_utable_free(b);
	}
	fprintf(stderr, "test_ehframe: %zu modules (%zu with tables) identical=%d; build time "
		"libdw %.1f ms, own reader %.1f ms (CPU)\n", compared, with_table, all, t_old, t_new);
	assert_true(all);
	assert_true(with_table >= 10);
}

/* An executable that is not loaded: python3 (its PT_LOAD range, bias 0). */
static void test_same_tables_python(void **state)
{
	int fd = open("/usr/bin/python3", O_RDONLY);
	if (fd < 0)
		skip();
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	const uint8_t *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(img != MAP_FAILED);
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof eh);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			lo = ph.p_vaddr < lo ? ph.p_vaddr : lo;
			hi = ph.p_vaddr + ph.p_memsz > hi ? ph.p_vaddr + ph.p_memsz : hi;
		}
	}
	uintptr_t bias = 0x555555554000;
	double t0 = now_ms();
	rt_utable *a = ref_utable_from_file("/usr/bin/python3", bias, lo + bias, hi + bias);
	double t1 = now_ms();
	rt_utable *b = rt_utable_from_file("/usr/bin/python3", bias, lo + bias, hi + bias);
	double t2 = now_ms();
	fprintf(stderr, "test_ehframe: python3 %zu rows; libdw %.1f ms, own reader %.1f ms (CPU)\n",
		a ? a->nrows : 0, t1 - t0, t2 - t1);
	assert_non_null(a);
	assert_true(same_table("/usr/bin/python3", a, b));
	free(a);
	rt_utable_free(b);
	munmap((void *)img, (size_t)st.st_size);
	close(fd);
}

/* ---- hostile input ------------------------------------------------------------ */

static void check_invariants(const rt_utable *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		assert_true(t->starts[i] < t->hi - t->lo);
		assert_true(i == 0 || t->starts[i] > t->starts[i - 1]);
		assert_true(t->rule[i] < t->nrules);
	}
}

static const mod *find_mod(const char *part)
{
	list_modules();
	for (size_t i = 0; i < nmods; i++)
		if (strstr(mods[i].path, part))
			return &mods[i];
	return NULL;
}

static uint8_t *load_copy(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*size = (size_t)st.st_size;
	return buf;
}

static void test_corrupt_cfi(void **state)
{
	const mod *m = find_mod("libc.so");
	assert_non_null(m);
	size_t size;
	uint8_t *orig = load_copy(m->path, &size);
	rt_ehf e;
	assert_true(rt_ehf_open(&e, orig, size));
	size_t eh_off = (size_t)(e.eh - orig), hdr_off = (size_t)(e.hdr - orig);
	uint8_t *img = malloc(size);
	assert_non_null(img);
	unsigned seed = 12345;
	int built = 0;
	for (int round = 0; round < 150; round++) {
		memcpy(img, orig, size);
		int nflip = 1 + round % 8;
		for (int k = 0; k < nflip; k++) {
			seed = seed * 1103515245u + 12345u;
			bool hdr = (seed >> 8) % 5 == 0;
			size_t span = hdr ? e.hdr_size : e.eh_size;
			/* the first 64 KiB of .eh_frame, where most programs' CIEs are */
			if (!hdr && span > 65536)
				span = 65536;
			seed = seed * 1103515245u + 12345u;
			size_t at = (hdr ? hdr_off : eh_off) + (seed >> 4) % span;
			seed = seed * 1103515245u + 12345u;
			img[at] = (uint8_t)(seed >> 16);
		}
		size_t cut = round % 3 == 0 ? size - (size_t)(seed % (size / 2)) : size;
		rt_utable *t = rt_utable_from_image(img, cut, m->bias, m->lo, m->hi);
		if (t) {
			check_invariants(t);
			built++;
		}
		rt_utable_free(t);
	}
	fprintf(stderr, "test_ehframe: %d of 150 corrupt libc images still gave a table\n", built);
	free(img);
	free(orig);
}

/* No section headers: the reader finds .eh_frame_hdr through
 * PT_GNU_EH_FRAME and builds the same table. */
static void test_no_section_headers(void **state)
{
	const mod *m = find_mod("libc.so");
	assert_non_null(m);
	size_t size;
	uint8_t *img = load_copy(m->path, &size);
	rt_utable *a = rt_utable_from_image(img, size, m->bias, m->lo, m->hi);
	assert_non_null(a);
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof eh);
	eh.e_shoff = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = 0;
	memcpy(img, &eh, sizeof eh);
	rt_utable *b = rt_utable_from_image(img, size, m->bias, m->lo, m->hi);
	assert_non_null(b);
	assert_true(same_table("libc without section headers", a, b));
	rt_utable_free(a);
	rt_utable_free(b);
	free(img);
}

/* One row on demand against the table, at every row's first, second and
 * last address (each module's table from the file, the rows from its
 * CFI in memory, as the handler reads them before the table is built). */
static void test_rows_on_demand_every_module(void **state)
{
	(void)state;
	list_modules();
	size_t checked = 0, modules = 0;
	double t_rows = 0;
	for (size_t i = 0; i < nmods; i++) {
		const mod *m = &mods[i];
		rt_ehf e;
		if (!rt_ehf_from_memory(&e, m->bias, m->phdr, m->phnum))
			continue;
		rt_utable *t = m->vdso ? rt_utable_from_image((const void *)getauxval(AT_SYSINFO_EHDR),
							     m->img, m->bias, m->lo, m->hi)
				       : rt_utable_from_file(m->path, m->bias, m->lo, m->hi);
		if (!t)
			continue;
		modules++;
		for (size_t r = 0; r < t->nrows; r++) {
			uint32_t end = r + 1 < t->nrows ? t->starts[r + 1] : (uint32_t)(t->hi - t->lo);
			uint32_t offs[3] = { t->starts[r], t->starts[r] + 1, end - 1 };
			for (int k = 0; k < 3; k++) {
				if (offs[k] < t->starts[r] || offs[k] >= end)
					continue;
				uintptr_t a = t->lo + offs[k];
				const rt_urow *want = rt_utable_find(t, a);
				rt_urow got;
				double t0 = now_ms();
				bool ok = rt_ehf_row_at(&e, a - m->bias, &got);
				t_rows += now_ms() - t0;
				if (!want) {
					if (ok && got.kind != RT_ROW_UNKNOWN)
						fail_msg("%s+%#lx: a row on demand, none in the table", m->path,
							 (unsigned long)(a - m->bias));
					continue;
				}
				if (!ok || memcmp(&got, want, sizeof got) != 0)
					fail_msg("%s+%#lx (row %zu): on demand %s kind %d cfa %d ra %d rbp %d/%d, "
						 "table kind %d cfa %d ra %d rbp %d/%d", m->path,
						 (unsigned long)(a - m->bias), r, ok ? "" : "(none)", got.kind,
						 got.cfa_off, got.ra_off, got.rbp_rule, got.rbp_off, want->kind,
						 want->cfa_off, want->ra_off, want->rbp_rule, want->rbp_off);
				checked++;
			}
		}
		rt_utable_free(t);
	}
	printf("# rows on demand: %zu lookups in %zu modules, %.3f us each (thread CPU)\n", checked,
	       modules, checked ? t_rows * 1e3 / (double)checked : 0.0);
	assert_true(modules >= 10);
	assert_true(checked > 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_tables_every_module),
		cmocka_unit_test(test_same_tables_python),
		cmocka_unit_test(test_rows_on_demand_every_module),
		cmocka_unit_test(test_corrupt_cfi),
		cmocka_unit_test(test_no_section_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
