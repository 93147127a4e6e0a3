/*
 * fuzz_unwind_tables.c - libFuzzer target for the unwinder's table builder
 * (src/runtime/unwind_tables.c and its CFI reader ehframe.c, compiled in):
 * an input is an ELF image, read in place, whose .eh_frame_hdr search table
 * and CFI programs the runtime's own reader turns into rows.  The module's executable range is
 * taken from the image's PT_LOAD headers (or a fixed range when it has
 * none), at a bias taken from the input's size.  Checks: a built table's
 * row starts are strictly increasing and inside the range, rule indexes
 * inside the palette, and rt_utable_find returns, for each row start and
 * for addresses from the input, the rule of the last row starting at or
 * before it (found again by a linear search); one row on demand
 * (rt_ehf_row_at) at addresses from the input never reads out of bounds,
 * and equals the table's row where the image has a table.
 * Seeds: fuzz/seeds/fuzz_unwind_tables (small shared libraries built -O2
 * with and without frame pointers, the C++ test library, a vdso image).
 */
#include "ehframe.c"
#include "rt_unwind.h"
#include "unwind_tables.c"

#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_unwind_tables: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

/* The executable range of the image, link-time addresses. */
static void exec_range(const uint8_t *data, size_t size, uint64_t *lo, uint64_t *hi)
{
	*lo = 0;
	*hi = 1u << 20;
	elf_version(EV_CURRENT);
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return;
	memcpy(copy, data, size);
	Elf *elf = elf_memory(copy, size);
	size_t n;
	if (elf && elf_getphdrnum(elf, &n) == 0) {
		uint64_t l = UINT64_MAX, h = 0;
		for (size_t i = 0; i < n && i < 64; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
				continue;
			if (ph.p_vaddr < l)
				l = ph.p_vaddr;
			if (ph.p_memsz < UINT32_MAX && ph.p_vaddr + ph.p_memsz > h)
				h = ph.p_vaddr + ph.p_memsz;
		}
		if (h > l && h - l < UINT32_MAX) {
			*lo = l;
			*hi = h;
		}
	}
	if (elf)
		elf_end(elf);
	free(copy);
}

/* Rows on demand (rt_ehf_row_at, what the signal handler reads before a
 * table exists) at addresses from the input: never out of bounds, whatever
 * the image; and, where the whole CFI was good enough for a table, the
 * table's own row. */
static void rows_on_demand(const uint8_t *data, size_t size, uint64_t lo, uint64_t hi,
			   const rt_utable *t, uintptr_t bias)
{
	rt_ehf e;
	if (!rt_ehf_open(&e, data, size))
		return;
	/* the table sorts a search table that is not sorted (a corrupt entry
	 * goes elsewhere and its FDE is dropped); the lookup binary-searches
	 * it as it is and may find that FDE through its own range: the same
	 * rows are promised for sorted search tables only */
	const uint8_t *tp;
	uint64_t cnt;
	bool sorted = hdr_table(&e, &tp, &cnt);
	for (uint64_t i = 1; sorted && i < cnt; i++) {
		int32_t a, b;
		memcpy(&a, tp + 8 * (i - 1), 4);
		memcpy(&b, tp + 8 * i, 4);
		sorted = a <= b;
	}
	for (size_t i = 0; i + 4 <= size && i < 1024; i += 4) {
		uint32_t off;
		memcpy(&off, data + i, 4);
		off %= (uint32_t)(hi - lo);
		rt_urow r;
		bool ok = rt_ehf_row_at(&e, lo + off, &r);
		if (!t || !sorted)
			continue;
		const rt_urow *want = rt_utable_find(t, t->lo + off);
		if (ok && want)
			CHECK(memcmp(&r, want, sizeof r) == 0, "row on demand at %#x differs", off);
	}
	(void)bias;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t lo, hi;
	exec_range(data, size, &lo, &hi);
	uintptr_t bias = (uintptr_t)(size & 0xff) << 12;
	if (lo > UINTPTR_MAX - bias - hi)
		return 0;
	rt_utable *t = rt_utable_from_image(data, size, bias, lo + bias, hi + bias);
	rows_on_demand(data, size, lo, hi, t, bias);
	if (!t)
		return 0;
	CHECK(t->lo == lo + bias && t->hi == hi + bias, "range");
	for (size_t i = 0; i < t->nrows; i++) {
		CHECK(t->starts[i] < t->hi - t->lo, "row %zu outside the range", i);
		CHECK(i == 0 || t->starts[i] > t->starts[i - 1], "row %zu out of order", i);
		CHECK(t->rule[i] < t->nrules, "row %zu: rule %u of %zu", i, t->rule[i], t->nrules);
		CHECK(rt_utable_find(t, t->lo + t->starts[i]) == &t->rules[t->rule[i]], "find row %zu", i);
	}
	for (size_t i = 0; i < t->nrules; i++)
		CHECK(t->rules[i].kind <= RT_ROW_END && t->rules[i].rbp_rule <= RT_RBP_UNDEF, "rule %zu", i);
	for (size_t i = 0; i + 4 <= size && i < 4096; i += 4) {
		uint32_t off;
		memcpy(&off, data + i, 4);
		off %= (uint32_t)(t->hi - t->lo);
		const rt_urow *r = rt_utable_find(t, t->lo + off);
		/* the expected row, by a linear search */
		size_t k = t->nrows;
		while (k > 0 && t->starts[k - 1] > off)
			k--;
		CHECK(k == 0 ? r == NULL : r == &t->rules[t->rule[k - 1]], "find %#x", off);
	}
	CHECK(rt_utable_find(t, t->hi) == NULL && rt_utable_find(t, t->lo - 1) == NULL, "outside");
	CHECK(rt_utable_bytes(t) == sizeof *t + t->nrules * sizeof(rt_urow) + t->nrows * 6, "bytes");
	rt_utable_free(t);
	return 0;
}
