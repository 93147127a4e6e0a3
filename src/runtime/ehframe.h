/*
 * ehframe.h - the runtime's own .eh_frame reader (ehframe.c), private to
 * unwind_tables.c (and its tests and fuzz target).
 *
 * Everything here reads an ELF image the caller has mapped (a file mapped
 * read-only, or the vdso in memory) with bounds checks on every read, and
 * allocates only with mmap: it never calls malloc, stdio or a lock, so it
 * may run while the program holds its allocator's lock, and it is
 * async-signal-safe.
 */
#ifndef CPROF_EHFRAME_H
#define CPROF_EHFRAME_H

#include "rt_unwind.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The unwind sections of one ELF image (pointers into it). */
typedef struct rt_ehf {
	const uint8_t *eh;       /* .eh_frame */
	size_t eh_size;
	uint64_t eh_addr;        /* its link-time address */
	const uint8_t *hdr;      /* .eh_frame_hdr */
	size_t hdr_size;
	uint64_t hdr_addr;
} rt_ehf;

/* Find .eh_frame and .eh_frame_hdr in a 64-bit little-endian ELF image of
 * size bytes: by section name, or (no section headers) through
 * PT_GNU_EH_FRAME.  false when the image has neither.  [AS-safe] */
bool rt_ehf_open(rt_ehf *e, const void *img, size_t size);

/* Call row(ctx, start, rule) for every row of the image's CFI covering
 * link-time addresses [llo, lhi), in the order of .eh_frame_hdr's search
 * table, start being the row's offset from llo; a part of an FDE's range
 * that the CFI cannot describe (and the space between an FDE's end and the
 * next FDE) comes as an RT_ROW_UNKNOWN row.  Rules are exactly those the
 * former libdw-based builder computed (see ehframe.c).  false (and no
 * call at all) when the CFI is refused: a malformed entry, an unknown
 * instruction, a register number above 127, an unsupported pointer
 * encoding, or out of memory.  [AS-safe] */
typedef void (*rt_ehf_row_fn)(void *ctx, uint32_t start, const rt_urow *r);
bool rt_ehf_rows(const rt_ehf *e, uint64_t llo, uint64_t lhi, rt_ehf_row_fn row, void *ctx);

/* The unwind sections of a module the loader mapped, from its program
 * headers (dl_iterate_phdr's): .eh_frame_hdr through PT_GNU_EH_FRAME and
 * .eh_frame up to the end of the loaded segment holding it, read in place
 * in memory (bias + link-time address).  false when the module has no
 * PT_GNU_EH_FRAME or it does not point into a loaded segment.  [AS-safe] */
bool rt_ehf_from_memory(rt_ehf *e, uintptr_t bias, const void *phdr, size_t phnum);

/* The one row covering link-time address lpc, as rt_ehf_rows would give
 * it for that address (found through .eh_frame_hdr's search table, then
 * the CIE's and that FDE's programs run from the entry's start up to lpc;
 * the same row whenever the search table is sorted, as linkers write it;
 * an unsorted, corrupt one is searched as it is): true with *out set
 * (RT_ROW_UNKNOWN where the CFI cannot describe lpc), false when no FDE
 * starts at or before lpc, or the search table is unusable (unsorted,
 * another encoding), or all the interpreters' slots are busy.  Only the
 * CIE and FDE met are checked, not the whole section: where rt_ehf_rows
 * refuses a module with anything malformed anywhere, this refuses only
 * the function whose CFI is malformed (RT_ROW_UNKNOWN).  No allocation
 * (the interpreter's state is one of a few static slots, taken with an
 * atomic exchange), no lock.  [AS-safe] */
bool rt_ehf_row_at(const rt_ehf *e, uint64_t lpc, rt_urow *out);

/* Anonymous private memory, rounded up to pages; NULL on failure.  The
 * builder's only allocator.  [AS-safe] */
void *rt_map_alloc(size_t bytes);
void rt_map_free(void *p, size_t bytes);
/* Grow a mapping of *cap bytes to at least need bytes (doubling); false
 * (the old mapping kept) on failure.  [AS-safe] */
bool rt_map_grow(void **p, size_t *cap, size_t need);

#endif
