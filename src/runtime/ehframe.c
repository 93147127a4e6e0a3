/*
 * ehframe.c - the runtime's own reader of x86-64 call frame information
 * (.eh_frame with its .eh_frame_hdr search table), turning each FDE's CFA
 * program into rows of the compact rules unwind_tables.c keeps.  It
 * replaced libdw's CFI interpreter, which allocates with malloc and pulled
 * libdw and libelf into every preloaded process.
 *
 * How it works: rt_ehf_open finds the two sections in an ELF image mapped
 * by the caller (section headers by name, else the PT_GNU_EH_FRAME
 * segment).  rt_ehf_rows first scans every CIE and FDE once (check_cfi):
 * lengths, augmentations (z, R, P, L, S), pointer encodings, and every
 * instruction with its operands; a module with anything malformed or
 * unknown (DW_CFA_set_loc, a register above 127, more than 4096 CIEs) gets
 * no rows at all, as before.  Then, for each entry of the sorted search
 * table inside [llo, lhi), it runs the FDE's program once from the start,
 * after the CIE's initial instructions, tracking only what the compact
 * rules can use: the CFA rule (register + offset, an expression, invalid),
 * and the rules of rbp (6) and the return address (16).  Each time an
 * advance moves the location past the current row, the row's state is
 * reduced to an rt_urow and handed to the caller.
 *
 * Exactly the former semantics: the rows and their rules are those libdw's
 * dwarf_cfi_addrframe gave at each row start, reduced the same way (the
 * unit test test_ehframe compares both builders over every module a
 * process maps).  In particular: the initial state is the x86-64 ABI's
 * (rbp same value, everything else undefined); DW_CFA_restore restores
 * the CIE's initial rule; def_cfa_register/def_cfa_offset on a CFA that is
 * not register+offset make it invalid; a register saved by an expression
 * counts when the expression is empty, "plus_uconst N" or "consts N,
 * plus" (libdw prefixes the CFA); a CFA expression counts when it is one
 * breg6/breg7/bregx or the PLT's 9-operation shape.  An error met while
 * running a program (restore_state with nothing remembered) ends that
 * FDE's rows: from there to the next FDE is RT_ROW_UNKNOWN, as a failed
 * libdw lookup made it.  Differences (hostile input only): at most 64
 * remembered states (libdw: unbounded), only 64-bit little-endian ELF.
 *
 * One row on demand (rt_ehf_row_at, for the signal handler before a
 * module's table is built): the search table's entry for the pc by binary
 * search, then fde_rows for that single address, which runs the CIE's and
 * the FDE's programs up to it exactly as the whole-module pass does; the
 * module's CFI read in place from memory (rt_ehf_from_memory: through
 * PT_GNU_EH_FRAME of the loaded module's program headers).  Only that CIE
 * and FDE are checked, not the whole section.
 *
 * Memory: no malloc.  The search table is read in place when sorted (it
 * always is; else it is copied into an mmap'd array and heap-sorted);
 * nothing else is allocated here.  The state of a program is a fixed-size
 * struct on the stack (with the remembered states, ~1.5 KiB).
 * Every function is thread-safe and async-signal-safe.
 */
#include "ehframe.h"

#include <elf.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_REG 127
#define MAX_CIES 4096
#define MAX_REMEMBER 64

/* DWARF CFA opcodes and expression operations we name */
enum {
	CFA_nop = 0x00, CFA_set_loc = 0x01, CFA_advance_loc1 = 0x02, CFA_advance_loc2 = 0x03,
	CFA_advance_loc4 = 0x04, CFA_offset_extended = 0x05, CFA_restore_extended = 0x06,
	CFA_undefined = 0x07, CFA_same_value = 0x08, CFA_register = 0x09,
	CFA_remember_state = 0x0a, CFA_restore_state = 0x0b, CFA_def_cfa = 0x0c,
	CFA_def_cfa_register = 0x0d, CFA_def_cfa_offset = 0x0e, CFA_def_cfa_expression = 0x0f,
	CFA_expression = 0x10, CFA_offset_extended_sf = 0x11, CFA_def_cfa_sf = 0x12,
	CFA_def_cfa_offset_sf = 0x13, CFA_val_offset = 0x14, CFA_val_offset_sf = 0x15,
	CFA_val_expression = 0x16, CFA_GNU_args_size = 0x2e,
	CFA_GNU_negative_offset_extended = 0x2f,
};
enum {
	OP_lit0 = 0x30, OP_lit3 = 0x33, OP_lit15 = 0x3f, OP_lit31 = 0x4f, OP_breg0 = 0x70,
	OP_breg6 = 0x76, OP_breg7 = 0x77, OP_breg16 = 0x80, OP_bregx = 0x92, OP_and = 0x1a,
	OP_plus = 0x22, OP_plus_uconst = 0x23, OP_shl = 0x24, OP_ge = 0x2a, OP_constu = 0x10,
	OP_consts = 0x11,
};

/* ---- memory ---------------------------------------------------------------- */

static size_t page_round(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

void *rt_map_alloc(size_t bytes)
{
	if (bytes == 0 || bytes > ((size_t)1 << 40))
		return NULL;
	void *p = mmap(NULL, page_round(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void rt_map_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, page_round(bytes));
}

bool rt_map_grow(void **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t nc = *cap ? *cap : 4096;
	while (nc < need) {
		if (nc > ((size_t)1 << 39))
			return false;
		nc *= 2;
	}
	void *q;
	if (*p)
		q = mremap(*p, page_round(*cap), page_round(nc), MREMAP_MAYMOVE);
	else
		q = mmap(NULL, page_round(nc), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return false;
	*p = q;
	*cap = nc;
	return true;
}

/* ---- bounded readers ----------------------------------------------------------- */

/* A LEB128 number: its bits, and the shift past its last byte (for the
 * sign extension of the signed form). */
static bool leb(const uint8_t **pp, const uint8_t *end, uint64_t *v, int *shift)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;
	for (int sh = 0; sh < 64; sh += 7) {
		if (p >= end)
			return false;
		uint8_t b = *p++;
		r |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*pp = p;
			*v = r;
			*shift = (b & 0x40) ? sh + 7 : 64;   /* 64: no sign bit */
			return true;
		}
	}
	return false;
}

static bool uleb(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	int sh;
	return leb(pp, end, v, &sh);
}

static bool sleb(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
	uint64_t r;
	int sh;
	if (!leb(pp, end, &r, &sh))
		return false;
	if (sh < 64)
		r |= ~(uint64_t)0 << sh;
	*v = (int64_t)r;
	return true;
}

static bool skip(const uint8_t **pp, const uint8_t *end, uint64_t n)
{
	if ((uint64_t)(end - *pp) < n)
		return false;
	*pp += n;
	return true;
}

static bool rd(const uint8_t **pp, const uint8_t *end, void *out, size_t n)
{
	if ((size_t)(end - *pp) < n)
		return false;
	memcpy(out, *pp, n);
	*pp += n;
	return true;
}

/* The size of a fixed-size pointer encoding (what FDEs may use), or -1. */
static int enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: return 8;
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	default: return -1;
	}
}

/* A pointer in a fixed-size encoding: the value (sign-extended for the
 * signed forms), plus pcrel (the field's own address) or datarel when
 * the application bits ask; raw skips the application (address ranges).
 * The encodings .eh_frame_hdr may use are the 4- and 8-byte ones. */
static bool read_ptr(const uint8_t **pp, const uint8_t *end, uint8_t enc, uint64_t pcrel,
		     uint64_t datarel, bool raw, bool hdr, uint64_t *out)
{
	uint64_t v;
	switch (enc & 0x0f) {
	case 0x03: { uint32_t x; if (!rd(pp, end, &x, 4)) return false; v = x; break; }
	case 0x0b: { int32_t x; if (!rd(pp, end, &x, 4)) return false; v = (uint64_t)(int64_t)x; break; }
	case 0x00: case 0x04: case 0x0c:
		if (!rd(pp, end, &v, 8))
			return false;
		break;
	case 0x02: { uint16_t x; if (hdr || !rd(pp, end, &x, 2)) return false; v = x; break; }
	case 0x0a: { int16_t x; if (hdr || !rd(pp, end, &x, 2)) return false; v = (uint64_t)(int64_t)x; break; }
	default:
		return false;
	}
	if (!raw) {
		switch (enc & 0x70) {
		case 0x00: break;
		case 0x10: v += pcrel; break;
		case 0x30: v += datarel; break;
		default: return false;
		}
		if (enc & 0x80)
			return false;   /* indirect: not in code addresses */
	}
	*out = v;
	return true;
}

/* ---- the ELF image ------------------------------------------------------------ */

bool rt_ehf_open(rt_ehf *e, const void *img, size_t size)
{
	memset(e, 0, sizeof *e);
	const uint8_t *b = img;
	if (!img || size < sizeof(Elf64_Ehdr) || memcmp(b, ELFMAG, SELFMAG) != 0 ||
	    b[EI_CLASS] != ELFCLASS64 || b[EI_DATA] != ELFDATA2LSB)
		return false;
	Elf64_Ehdr eh;
	memcpy(&eh, b, sizeof eh);
	/* section headers: the first sections named .eh_frame and .eh_frame_hdr */
	if (eh.e_shoff && eh.e_shentsize == sizeof(Elf64_Shdr) && eh.e_shoff < size) {
		uint64_t shnum = eh.e_shnum, stridx = eh.e_shstrndx;
		Elf64_Shdr s0;
		if ((shnum == 0 || stridx == SHN_XINDEX) && size - eh.e_shoff >= sizeof s0) {
			memcpy(&s0, b + eh.e_shoff, sizeof s0);
			if (shnum == 0)
				shnum = s0.sh_size;
			if (stridx == SHN_XINDEX)
				stridx = s0.sh_link;
		}
		if (shnum <= (size - eh.e_shoff) / sizeof(Elf64_Shdr) && stridx < shnum) {
			Elf64_Shdr str;
			memcpy(&str, b + eh.e_shoff + stridx * sizeof str, sizeof str);
			bool str_ok = str.sh_type != SHT_NOBITS && str.sh_offset <= size &&
				      str.sh_size <= size - str.sh_offset;
			for (uint64_t i = 0; str_ok && i < shnum; i++) {
				Elf64_Shdr sh;
				memcpy(&sh, b + eh.e_shoff + i * sizeof sh, sizeof sh);
				if (sh.sh_name >= str.sh_size || sh.sh_type == SHT_NOBITS)
					continue;
				const char *nm = (const char *)b + str.sh_offset + sh.sh_name;
				size_t room = str.sh_size - sh.sh_name;
				bool is_hdr = room > 13 && memcmp(nm, ".eh_frame_hdr", 14) == 0;
				bool is_eh = room > 9 && memcmp(nm, ".eh_frame", 10) == 0;
				if (!is_hdr && !is_eh)
					continue;
				if (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset)
					continue;
				if (is_hdr && !e->hdr) {
					e->hdr = b + sh.sh_offset;
					e->hdr_size = sh.sh_size;
					e->hdr_addr = sh.sh_addr;
				} else if (is_eh && !e->eh) {
					e->eh = b + sh.sh_offset;
					e->eh_size = sh.sh_size;
					e->eh_addr = sh.sh_addr;
				}
			}
			if (e->hdr && e->eh)
				return true;
			if (shnum > 0)
				return false;   /* sections, but no unwind information */
		}
	}
	/* no section headers: PT_GNU_EH_FRAME, and .eh_frame up to the end of
	 * the loaded segment holding it */
	if (!eh.e_phoff || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > size ||
	    eh.e_phnum > (size - eh.e_phoff) / sizeof(Elf64_Phdr))
		return false;
	Elf64_Phdr ph;
	const uint8_t *hdr = NULL;
	size_t hdr_size = 0;
	uint64_t hdr_addr = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, b + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_GNU_EH_FRAME && ph.p_offset <= size && ph.p_filesz <= size - ph.p_offset) {
			hdr = b + ph.p_offset;
			hdr_size = ph.p_filesz;
			hdr_addr = ph.p_vaddr;
		}
	}
	if (!hdr || hdr_size < 4 || hdr[0] != 1)
		return false;
	const uint8_t *p = hdr + 4;
	uint64_t ehf;
	if (!read_ptr(&p, hdr + hdr_size, hdr[1], hdr_addr + 4, hdr_addr, false, true, &ehf))
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, b + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type != PT_LOAD || ehf < ph.p_vaddr || ehf - ph.p_vaddr >= ph.p_filesz ||
		    ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			continue;
		e->eh = b + ph.p_offset + (ehf - ph.p_vaddr);
		e->eh_size = ph.p_filesz - (ehf - ph.p_vaddr);
		e->eh_addr = ehf;
		e->hdr = hdr;
		e->hdr_size = hdr_size;
		e->hdr_addr = hdr_addr;
		return true;
	}
	return false;
}

/* ---- CIEs and FDEs ---------------------------------------------------------------- */

typedef struct cie {
	const uint8_t *insns, *insns_end;
	uint64_t caf;            /* code alignment factor */
	int64_t daf;             /* data alignment factor */
	uint8_t fde_enc;         /* 'R' (absptr without it) */
	bool z, signal;
} cie;

typedef struct fde {
	uint64_t start, end;     /* link-time pc range */
	const uint8_t *insns, *insns_end;
} fde;

/* One entry at offset off of .eh_frame: its body [*body, *next) and id
 * (0 for a CIE).  false when malformed or at the terminator. */
static bool entry_at(const rt_ehf *e, uint64_t off, const uint8_t **body, const uint8_t **end,
		     uint64_t *id, uint64_t *id_off)
{
	if (off >= e->eh_size)
		return false;
	const uint8_t *p = e->eh + off, *lim = e->eh + e->eh_size;
	uint32_t l32;
	uint64_t len;
	if (!rd(&p, lim, &l32, 4) || l32 == 0)
		return false;
	bool wide = l32 == 0xffffffffu;
	if (wide) {
		if (!rd(&p, lim, &len, 8))
			return false;
	} else {
		len = l32;
	}
	if (len > (uint64_t)(lim - p))
		return false;
	*end = p + len;
	*id_off = (uint64_t)(p - e->eh);
	if (wide) {
		if (!rd(&p, *end, id, 8))
			return false;
	} else {
		uint32_t x;
		if (!rd(&p, *end, &x, 4))
			return false;
		*id = x;
	}
	*body = p;
	return true;
}

/* The CIE whose body starts at p (after its id). */
static bool parse_cie(const uint8_t *p, const uint8_t *end, cie *c)
{
	memset(c, 0, sizeof *c);
	uint8_t version;
	if (!rd(&p, end, &version, 1) || (version != 1 && version != 3 && version != 4))
		return false;
	const char *aug = (const char *)p;
	const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
	if (!nul)
		return false;
	p = nul + 1;
	if (version == 4 && !skip(&p, end, 2))      /* address and segment sizes */
		return false;
	uint64_t ra;
	if (!uleb(&p, end, &c->caf) || !sleb(&p, end, &c->daf))
		return false;
	if (version == 1) {
		uint8_t r;
		if (!rd(&p, end, &r, 1))
			return false;
		ra = r;
	} else if (!uleb(&p, end, &ra)) {
		return false;
	}
	if (ra > MAX_REG)
		return false;
	c->fde_enc = 0;
	if (aug[0] == 'z') {
		uint64_t alen;
		if (!uleb(&p, end, &alen) || alen > (uint64_t)(end - p))
			return false;
		const uint8_t *ap = p, *aend = p + alen;
		c->z = true;
		for (const char *a = aug + 1; *a; a++) {
			if (*a == 'R' || *a == 'L') {
				if (ap >= aend)
					return false;
				if (*a == 'R')
					c->fde_enc = *ap;
				ap++;
			} else if (*a == 'P') {
				int n;
				if (ap >= aend || (n = enc_size(*ap)) < 0 || aend - ap - 1 < n)
					return false;
				ap += 1 + n;
			} else if (*a == 'S') {
				c->signal = true;
			} else {
				return false;
			}
		}
		p = aend;
	} else if (aug[0] != 0) {
		return false;
	}
	if (enc_size(c->fde_enc) < 0)
		return false;
	c->insns = p;
	c->insns_end = end;
	return true;
}

/* The FDE whose body starts at p (after its CIE pointer), field addresses
 * relative to the section's address. */
static bool parse_fde(const rt_ehf *e, const cie *c, const uint8_t *p, const uint8_t *end, fde *f)
{
	uint64_t start, range;
	uint64_t at = e->eh_addr + (uint64_t)(p - e->eh);
	if (!read_ptr(&p, end, c->fde_enc, at, 0, false, false, &start) ||
	    !read_ptr(&p, end, c->fde_enc, 0, 0, true, false, &range))
		return false;
	if (c->z) {
		uint64_t alen;
		if (!uleb(&p, end, &alen) || !skip(&p, end, alen))
			return false;
	}
	f->start = start;
	f->end = start + range;
	f->insns = p;
	f->insns_end = end;
	return true;
}

/* Every instruction well formed, known, registers <= MAX_REG. */
static bool insns_ok(const uint8_t *p, const uint8_t *end)
{
	uint64_t reg, v;
	while (p < end) {
		uint8_t op = *p++;
		switch (op >> 6) {
		case 1:                          /* advance_loc */
			continue;
		case 2:                          /* offset: reg in the low bits */
			if (!uleb(&p, end, &v))
				return false;
			continue;
		case 3:                          /* restore */
			continue;
		}
		switch (op) {
		case CFA_nop: case CFA_remember_state: case CFA_restore_state:
			break;
		case CFA_advance_loc1: if (!skip(&p, end, 1)) return false; break;
		case CFA_advance_loc2: if (!skip(&p, end, 2)) return false; break;
		case CFA_advance_loc4: if (!skip(&p, end, 4)) return false; break;
		case CFA_def_cfa_offset: case CFA_def_cfa_offset_sf: case CFA_GNU_args_size:
			if (!uleb(&p, end, &v))
				return false;
			break;
		case CFA_restore_extended: case CFA_undefined: case CFA_same_value:
		case CFA_def_cfa_register:
			if (!uleb(&p, end, &reg) || reg > MAX_REG)
				return false;
			break;
		case CFA_offset_extended: case CFA_def_cfa: case CFA_offset_extended_sf:
		case CFA_def_cfa_sf: case CFA_val_offset: case CFA_val_offset_sf:
		case CFA_GNU_negative_offset_extended:
			if (!uleb(&p, end, &reg) || reg > MAX_REG || !uleb(&p, end, &v))
				return false;
			break;
		case CFA_register:
			if (!uleb(&p, end, &reg) || reg > MAX_REG || !uleb(&p, end, &v) || v > MAX_REG)
				return false;
			break;
		case CFA_def_cfa_expression:
			if (!uleb(&p, end, &v) || !skip(&p, end, v))
				return false;
			break;
		case CFA_expression: case CFA_val_expression:
			if (!uleb(&p, end, &reg) || reg > MAX_REG || !uleb(&p, end, &v) || !skip(&p, end, v))
				return false;
			break;
		default:                         /* set_loc and anything unknown */
			return false;
		}
	}
	return true;
}

/* The whole section is sound (see the file comment). */
static bool check_cfi(const rt_ehf *e)
{
	uint64_t off = 0, last_off = UINT64_MAX;
	size_t ncie = 0;
	cie last;
	while (off < e->eh_size) {
		const uint8_t *body, *end;
		uint64_t id, id_off;
		if (e->eh_size - off >= 4) {
			uint32_t l;
			memcpy(&l, e->eh + off, 4);
			if (l == 0)
				break;   /* the terminator */
		}
		if (!entry_at(e, off, &body, &end, &id, &id_off))
			return false;
		if (id == 0) {
			cie c;
			if (++ncie > MAX_CIES || !parse_cie(body, end, &c) || !insns_ok(c.insns, c.insns_end))
				return false;
		} else {
			/* the CIE pointer counts back from its own field, to an
			 * earlier CIE */
			if (id > id_off)
				return false;
			const uint8_t *cb, *ce;
			uint64_t cid, cid_off;
			fde f;
			if (id_off - id != last_off) {   /* FDEs share a few CIEs */
				if (!entry_at(e, id_off - id, &cb, &ce, &cid, &cid_off) || cid != 0 ||
				    !parse_cie(cb, ce, &last))
					return false;
				last_off = id_off - id;
			}
			if (!parse_fde(e, &last, body, end, &f) || !insns_ok(f.insns, f.insns_end))
				return false;
		}
		off = (uint64_t)(end - e->eh);
	}
	return true;
}

/* ---- running a CFA program --------------------------------------------------------- */

enum { R_UNSPEC, R_UNDEF, R_SAME, R_OFF, R_VALOFF, R_REG, R_EXPR, R_VALEXPR };
enum { C_UNDEF, C_OFF, C_EXPR, C_INVALID };

typedef struct rrule {
	uint8_t rule;
	bool expr_ok;            /* R_EXPR: the shape "CFA + off" */
	int64_t off;
} rrule;

typedef struct cfstate {
	uint8_t cfa;             /* C_* */
	uint64_t cfa_reg, cfa_off;
	const uint8_t *cfa_expr;
	uint64_t cfa_expr_len;
	rrule rbp, ra;
} cfstate;

typedef struct machine {
	cfstate cur, init;
	cfstate stack[MAX_REMEMBER];
	int depth;
	const cie *c;
	bool in_cie;
	/* the last CIE run (FDEs share a few): its offset, itself, whether its
	 * program ran without error (init is then its initial state) */
	uint64_t cie_off;
	cie cie_v;
	bool cie_ok;
} machine;

/* A register rule's expression: CFA-relative when empty, "plus_uconst N"
 * or "consts|constu N, plus" (libdw puts the CFA first). */
static void expr_rule(const uint8_t *p, uint64_t len, rrule *r)
{
	const uint8_t *end = p + len;
	r->expr_ok = false;
	if (len == 0) {
		r->expr_ok = true;
		r->off = 0;
		return;
	}
	uint8_t op = *p++;
	uint64_t u;
	int64_t s;
	if (op == OP_plus_uconst && uleb(&p, end, &u) && p == end) {
		r->expr_ok = true;
		r->off = (int64_t)u;
	} else if (op == OP_constu && uleb(&p, end, &u) && p < end && *p == OP_plus && p + 1 == end) {
		r->expr_ok = true;
		r->off = (int64_t)u;
	} else if (op == OP_consts && sleb(&p, end, &s) && p < end && *p == OP_plus && p + 1 == end) {
		r->expr_ok = true;
		r->off = s;
	}
}

static rrule *tracked(cfstate *s, uint64_t reg)
{
	return reg == 6 ? &s->rbp : reg == 16 ? &s->ra : NULL;
}

static void set_rule(cfstate *s, uint64_t reg, uint8_t rule, int64_t off)
{
	rrule *r = tracked(s, reg);
	if (r) {
		r->rule = rule;
		r->off = off;
		r->expr_ok = false;
	}
}

/* One instruction (the advances excepted: the caller handles them). *adv
 * gets the advance in code units, or 0.  false on an error (the state is
 * then unusable from here on). */
static bool step(machine *m, const uint8_t **pp, const uint8_t *end, uint64_t *adv)
{
	const uint8_t *p = *pp;
	cfstate *s = &m->cur;
	const cie *c = m->c;
	uint8_t op = *p++;
	uint64_t reg, u, len;
	int64_t sv;
	*adv = 0;
	switch (op >> 6) {
	case 1:
		*adv = op & 0x3f;
		*pp = p;
		return true;
	case 2:
		if (!uleb(&p, end, &u))
			return false;
		set_rule(s, op & 0x3f, R_OFF, (int64_t)(u * (uint64_t)c->daf));
		*pp = p;
		return true;
	case 3:
		reg = op & 0x3f;
		goto restore;
	}
	switch (op) {
	case CFA_nop:
		break;
	case CFA_advance_loc1: { uint8_t x; if (!rd(&p, end, &x, 1)) return false; *adv = x; break; }
	case CFA_advance_loc2: { uint16_t x; if (!rd(&p, end, &x, 2)) return false; *adv = x; break; }
	case CFA_advance_loc4: { uint32_t x; if (!rd(&p, end, &x, 4)) return false; *adv = x; break; }
	case CFA_def_cfa:
		if (!uleb(&p, end, &reg) || !uleb(&p, end, &u))
			return false;
		s->cfa = C_OFF;
		s->cfa_reg = reg;
		s->cfa_off = u;
		break;
	case CFA_def_cfa_sf:
		if (!uleb(&p, end, &reg) || !sleb(&p, end, &sv))
			return false;
		s->cfa = C_OFF;
		s->cfa_reg = reg;
		s->cfa_off = (uint64_t)sv * (uint64_t)c->daf;
		break;
	case CFA_def_cfa_register:
		if (!uleb(&p, end, &reg))
			return false;
		if (s->cfa != C_OFF)
			s->cfa = C_INVALID;
		s->cfa_reg = reg;
		break;
	case CFA_def_cfa_offset:
		if (!uleb(&p, end, &u))
			return false;
		if (s->cfa != C_OFF)
			s->cfa = C_INVALID;
		s->cfa_off = u;
		break;
	case CFA_def_cfa_offset_sf:
		if (!sleb(&p, end, &sv))
			return false;
		if (s->cfa != C_OFF)
			s->cfa = C_INVALID;
		s->cfa_off = (uint64_t)sv * (uint64_t)c->daf;
		break;
	case CFA_def_cfa_expression:
		if (!uleb(&p, end, &len) || len > (uint64_t)(end - p))
			return false;
		s->cfa = C_EXPR;
		s->cfa_expr = p;
		s->cfa_expr_len = len;
		p += len;
		break;
	case CFA_undefined:
		if (!uleb(&p, end, &reg))
			return false;
		set_rule(s, reg, R_UNDEF, 0);
		break;
	case CFA_same_value:
		if (!uleb(&p, end, &reg))
			return false;
		set_rule(s, reg, R_SAME, 0);
		break;
	case CFA_offset_extended:
		if (!uleb(&p, end, &reg) || !uleb(&p, end, &u))
			return false;
		set_rule(s, reg, R_OFF, (int64_t)(u * (uint64_t)c->daf));
		break;
	case CFA_offset_extended_sf:
		if (!uleb(&p, end, &reg) || !sleb(&p, end, &sv))
			return false;
		set_rule(s, reg, R_OFF, (int64_t)((uint64_t)sv * (uint64_t)c->daf));
		break;
	case CFA_GNU_negative_offset_extended:
		if (!uleb(&p, end, &reg) || !uleb(&p, end, &u))
			return false;
		set_rule(s, reg, R_OFF, (int64_t)((uint64_t)-(int64_t)u * (uint64_t)c->daf));
		break;
	case CFA_val_offset:
		if (!uleb(&p, end, &reg) || !uleb(&p, end, &u))
			return false;
		set_rule(s, reg, R_VALOFF, (int64_t)(u * (uint64_t)c->daf));
		break;
	case CFA_val_offset_sf:
		if (!uleb(&p, end, &reg) || !sleb(&p, end, &sv))
			return false;
		set_rule(s, reg, R_VALOFF, (int64_t)((uint64_t)sv * (uint64_t)c->daf));
		break;
	case CFA_register:
		if (!uleb(&p, end, &reg) || !uleb(&p, end, &u))
			return false;
		set_rule(s, reg, R_REG, (int64_t)u);
		break;
	case CFA_expression: case CFA_val_expression: {
		if (!uleb(&p, end, &reg) || !uleb(&p, end, &len) || len > (uint64_t)(end - p))
			return false;
		set_rule(s, reg, op == CFA_expression ? R_EXPR : R_VALEXPR, 0);
		rrule *r = tracked(s, reg);
		if (r && op == CFA_expression)
			expr_rule(p, len, r);
		p += len;
		break;
	}
	case CFA_restore_extended:
		if (!uleb(&p, end, &reg))
			return false;
	restore:
		if (m->in_cie)
			return false;   /* no initial state to restore yet */
		{
			rrule *r = tracked(s, reg), *i = tracked(&m->init, reg);
			if (r)
				*r = *i;
		}
		break;
	case CFA_remember_state:
		if (m->depth == MAX_REMEMBER)
			return false;
		m->stack[m->depth++] = *s;
		break;
	case CFA_restore_state:
		if (m->depth == 0)
			return false;
		*s = m->stack[--m->depth];
		break;
	case CFA_GNU_args_size:
		if (!uleb(&p, end, &u))
			return false;
		break;
	default:
		return false;
	}
	*pp = p;
	return true;
}

/* The CFA + off location of a register rule, as libdw describes it. */
static bool cfa_rel(const rrule *r, int64_t *off)
{
	if (r->rule == R_OFF) {
		*off = r->off;
		return true;
	}
	if (r->rule == R_EXPR && r->expr_ok) {
		*off = r->off;
		return true;
	}
	return false;
}

/* The PLT's CFA expression: rsp + 8 + ((rip & 15) >= N) << 3.  N or -1. */
static int plt_rule(const uint8_t *p, uint64_t len)
{
	const uint8_t *end = p + len;
	int64_t a, b;
	if (len < 11 || *p++ != OP_breg7 || !sleb(&p, end, &a) || a != 8 || p >= end ||
	    *p++ != OP_breg16 || !sleb(&p, end, &b) || b != 0 || end - p != 7)
		return -1;
	if (p[0] != OP_lit15 || p[1] != OP_and || p[2] < OP_lit0 || p[2] > OP_lit31 || p[3] != OP_ge ||
	    p[4] != OP_lit3 || p[5] != OP_shl || p[6] != OP_plus)
		return -1;
	return p[2] - OP_lit0;
}

/* One state reduced to a compact rule: the former builder's reduction of
 * libdw's row, step for step (fields set before a failure stay set). */
static void reduce(const cfstate *s, bool signalp, rt_urow *r)
{
	memset(r, 0, sizeof *r);
	r->kind = RT_ROW_UNKNOWN;
	if (signalp) {
		r->kind = RT_ROW_SIGNAL;
		return;
	}
	if (s->ra.rule == R_UNSPEC || s->ra.rule == R_UNDEF) {
		r->kind = RT_ROW_END;   /* return address undefined: outermost */
		return;
	}
	int64_t ra_off;
	bool ra_reg = s->ra.rule == R_REG && s->ra.off >= 0 && s->ra.off <= 16;
	if (ra_reg)
		ra_off = s->ra.off;   /* the register's number: see RT_PAD_RA_REG */
	else if (!cfa_rel(&s->ra, &ra_off) || ra_off < INT16_MIN || ra_off > INT16_MAX)
		return;
	r->ra_off = (int16_t)ra_off;
	if (s->rbp.rule == R_SAME) {
		r->rbp_rule = RT_RBP_SAME;
	} else if (s->rbp.rule == R_UNSPEC || s->rbp.rule == R_UNDEF) {
		r->rbp_rule = RT_RBP_UNDEF;
	} else {
		int64_t o;
		if (!cfa_rel(&s->rbp, &o) || o < INT16_MIN || o > INT16_MAX)
			return;
		r->rbp_rule = RT_RBP_AT;
		r->rbp_off = (int16_t)o;
	}
	int reg = -1;
	int64_t o = 0;
	if (s->cfa == C_OFF) {
		reg = s->cfa_reg <= 16 ? (int)s->cfa_reg : -1;
		o = (int64_t)s->cfa_off;
	} else if (s->cfa == C_EXPR) {
		const uint8_t *p = s->cfa_expr, *end = p + s->cfa_expr_len;
		uint64_t x;
		int64_t v;
		if (p < end && (*p == OP_breg6 || *p == OP_breg7)) {
			int rr = *p++ - OP_breg0;
			if (sleb(&p, end, &v) && p == end) {
				reg = rr;
				o = v;
			}
		} else if (p < end && *p == OP_bregx) {
			p++;
			if (uleb(&p, end, &x) && sleb(&p, end, &v) && p == end) {
				reg = x <= 16 ? (int)x : -1;
				o = v;
			}
		}
	} else {
		return;   /* undefined or invalid CFA */
	}
	if (reg == 6 || reg == 7) {
		if (o < INT32_MIN || o > INT32_MAX)
			return;
		r->cfa_off = (int32_t)o;
		r->kind = reg == 7 ? RT_ROW_RSP : RT_ROW_RBP;
		if (ra_reg) {   /* usable in the first frame only, and from rsp */
			if (r->kind == RT_ROW_RSP)
				r->pad = RT_PAD_RA_REG;
			else
				memset(r, 0, sizeof *r);
			r->kind = RT_ROW_UNKNOWN;
		}
		return;
	}
	int thr = s->cfa == C_EXPR ? plt_rule(s->cfa_expr, s->cfa_expr_len) : -1;
	if (thr >= 0 && ra_off == -8 && !ra_reg) {
		r->kind = RT_ROW_PLT;
		r->cfa_off = thr;
	}
}

/* ---- the rows of a module ------------------------------------------------------------ */

typedef struct hdr_ent {
	int32_t loc, fde;        /* datarel to .eh_frame_hdr */
} hdr_ent;

static void ent_sift(hdr_ent *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && v[c + 1].loc > v[c].loc)
			c++;
		if (v[c].loc <= v[i].loc)
			return;
		hdr_ent t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

static void heap_sort(hdr_ent *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		ent_sift(v, i, n);
	for (size_t k = n; k-- > 1;) {
		hdr_ent t = v[0];
		v[0] = v[k];
		v[k] = t;
		ent_sift(v, 0, k);
	}
}

/* The rows of one FDE for the addresses [a, stop), as the former builder
 * produced them from libdw's lookups at each row start. */
static void fde_rows(const rt_ehf *e, uint64_t fde_addr, uint64_t a, uint64_t stop, uint64_t llo,
		     machine *m, rt_ehf_row_fn row, void *ctx)
{
	static const rt_urow gap = { .kind = RT_ROW_UNKNOWN };
	const uint8_t *body, *end, *cb, *ce;
	uint64_t id, id_off, cid, cid_off;
	fde f;
	bool ok = fde_addr >= e->eh_addr &&
		  entry_at(e, fde_addr - e->eh_addr, &body, &end, &id, &id_off) && id != 0 &&
		  id <= id_off;
	if (ok && id_off - id != m->cie_off) {
		/* the CIE's initial state: the ABI's (rbp same value), then its
		 * program */
		m->cie_off = id_off - id;
		m->cie_ok = entry_at(e, m->cie_off, &cb, &ce, &cid, &cid_off) && cid == 0 &&
			    parse_cie(cb, ce, &m->cie_v);
		memset(&m->cur, 0, sizeof m->cur);
		m->cur.rbp.rule = R_SAME;
		m->depth = 0;
		m->c = &m->cie_v;
		m->in_cie = true;
		uint64_t adv;
		for (const uint8_t *p = m->cie_v.insns; m->cie_ok && p < m->cie_v.insns_end;)
			m->cie_ok = step(m, &p, m->cie_v.insns_end, &adv);
		m->init = m->cur;
	}
	const cie c = m->cie_v;
	ok = ok && m->cie_ok && parse_fde(e, &c, body, end, &f);
	if (!ok || a < f.start || a >= f.end) {
		row(ctx, (uint32_t)(a - llo), &gap);
		return;
	}
	m->cur = m->init;
	m->depth = 0;
	m->c = &c;
	m->in_cie = false;
	uint64_t adv;
	/* the FDE's program: a row ends at each advance past it */
	uint64_t loc = f.start;
	const uint8_t *p = f.insns;
	for (;;) {
		uint64_t row_end = f.end;   /* the program's end: the FDE's end */
		bool failed = false;
		while (p < f.insns_end) {
			if (!step(m, &p, f.insns_end, &adv)) {
				failed = true;
				break;
			}
			if (adv == 0)
				continue;
			uint64_t nl = loc + adv * c.caf;
			if (a >= nl) {
				loc = nl;   /* still before a: keep running */
				continue;
			}
			row_end = nl;
			loc = nl;
			break;
		}
		if (failed)
			break;
		rt_urow r;
		reduce(&m->cur, c.signal, &r);
		row(ctx, (uint32_t)(a - llo), &r);
		a = row_end;
		if (a >= stop)
			return;
		if (a >= f.end || p >= f.insns_end)
			break;
	}
	if (a < stop)
		row(ctx, (uint32_t)(a - llo), &gap);
}

/* .eh_frame_hdr's search table: its first entry (*tab, not necessarily
 * aligned) and count, when the header is version 1 with the 4-byte
 * datarel table every linker writes. */
static bool hdr_table(const rt_ehf *e, const uint8_t **tab, uint64_t *cnt)
{
	if (!e->eh || !e->hdr || e->hdr_size < 4 || e->hdr[0] != 1)
		return false;
	const uint8_t *b = e->hdr, *p = b + 4, *end = b + e->hdr_size;
	uint64_t ehf;
	if (!read_ptr(&p, end, b[1], e->hdr_addr + 4, e->hdr_addr, false, true, &ehf) ||
	    !read_ptr(&p, end, b[2], e->hdr_addr + (uint64_t)(p - b), e->hdr_addr, false, true, cnt))
		return false;
	*tab = p;
	return b[3] == 0x3b && *cnt > 0 && *cnt <= (uint64_t)(end - p) / 8;
}

bool rt_ehf_rows(const rt_ehf *e, uint64_t llo, uint64_t lhi, rt_ehf_row_fn row, void *ctx)
{
	const uint8_t *p;
	uint64_t cnt;
	if (lhi <= llo || !hdr_table(e, &p, &cnt))
		return false;
	if (!check_cfi(e))
		return false;
	/* the search table, in place when sorted (it should be) */
	const hdr_ent *tab = (const hdr_ent *)(const void *)p;
	hdr_ent *sorted = NULL;
	if ((uintptr_t)p % 4 != 0)
		goto copy;
	for (uint64_t i = 1; i < cnt; i++)
		if (tab[i].loc < tab[i - 1].loc)
			goto copy;
	goto run;
copy:
	sorted = rt_map_alloc(cnt * sizeof *sorted);
	if (!sorted)
		return false;
	memcpy(sorted, p, cnt * sizeof *sorted);
	heap_sort(sorted, cnt);
	tab = sorted;
run:;
	machine *m = rt_map_alloc(sizeof *m);
	if (!m) {
		rt_map_free(sorted, cnt * sizeof *sorted);
		return false;
	}
	m->cie_off = UINT64_MAX;
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t a = e->hdr_addr + (uint64_t)(int64_t)tab[i].loc;
		uint64_t stop = i + 1 < cnt ? e->hdr_addr + (uint64_t)(int64_t)tab[i + 1].loc : lhi;
		if (a < llo || a >= lhi)
			continue;
		if (stop > lhi)
			stop = lhi;
		if (a >= stop)
			continue;
		fde_rows(e, e->hdr_addr + (uint64_t)(int64_t)tab[i].fde, a, stop, llo, m, row, ctx);
	}
	rt_map_free(m, sizeof *m);
	rt_map_free(sorted, cnt * sizeof *sorted);
	return true;
}

/* ---- one row on demand ---------------------------------------------------------------- */

bool rt_ehf_from_memory(rt_ehf *e, uintptr_t bias, const void *phdr, size_t phnum)
{
	memset(e, 0, sizeof *e);
	const Elf64_Phdr *ph = phdr;
	const Elf64_Phdr *gnu = NULL;
	for (size_t i = 0; ph && i < phnum; i++)
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			gnu = &ph[i];
	if (!gnu || gnu->p_memsz < 4)
		return false;
	const uint8_t *hdr = (const uint8_t *)(bias + gnu->p_vaddr);
	if (hdr[0] != 1)
		return false;
	const uint8_t *p = hdr + 4;
	uint64_t ehf;
	if (!read_ptr(&p, hdr + gnu->p_memsz, hdr[1], gnu->p_vaddr + 4, gnu->p_vaddr, false, true, &ehf))
		return false;
	for (size_t i = 0; i < phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ehf < ph[i].p_vaddr || ehf - ph[i].p_vaddr >= ph[i].p_filesz)
			continue;
		e->eh = (const uint8_t *)(bias + ehf);
		e->eh_size = ph[i].p_filesz - (ehf - ph[i].p_vaddr);
		e->eh_addr = ehf;
		e->hdr = hdr;
		e->hdr_size = gnu->p_memsz;
		e->hdr_addr = gnu->p_vaddr;
		return true;
	}
	memset(e, 0, sizeof *e);
	return false;
}

/* The interpreters' states for rt_ehf_row_at: a machine is several KiB
 * (the remembered states), too much for a signal handler's stack, which
 * may be a small thread's.  A few static slots, each taken with an
 * atomic exchange; a caller that finds them all busy gets no row (its
 * walk stops there, as at a module without a table).  A slot a fork
 * child inherits busy (another thread of the parent was in it) stays
 * busy there: one fewer. */
#define ROW_SLOTS 8
static machine row_slot[ROW_SLOTS];
static int row_busy[ROW_SLOTS];   /* __atomic */

/* The last row starting at or before the wanted offset. */
typedef struct want_row {
	uint32_t at;
	bool found;
	rt_urow *out;
} want_row;

static void keep_row(void *ctx, uint32_t start, const rt_urow *r)
{
	want_row *w = ctx;
	if (start <= w->at) {
		*w->out = *r;
		w->found = true;
	}
}

bool rt_ehf_row_at(const rt_ehf *e, uint64_t lpc, rt_urow *out)
{
	const uint8_t *p;
	uint64_t cnt;
	if (!hdr_table(e, &p, &cnt) || (uintptr_t)p % 4 != 0)
		return false;
	/* the last entry starting at or before lpc (the table is sorted; were
	 * it not, the FDE found would not cover lpc and the row is unknown) */
	const hdr_ent *tab = (const hdr_ent *)(const void *)p;
	int64_t want = (int64_t)lpc - (int64_t)e->hdr_addr;
	if ((int64_t)tab[0].loc > want)
		return false;
	size_t lo = 0, n = (size_t)cnt;
	while (n > 1) {
		size_t half = n / 2;
		lo = (int64_t)tab[lo + half].loc <= want ? lo + half : lo;
		n -= half;
	}
	int k = -1;
	for (int i = 0; i < ROW_SLOTS && k < 0; i++)
		if (!__atomic_exchange_n(&row_busy[i], 1, __ATOMIC_ACQUIRE))
			k = i;
	if (k < 0)
		return false;
	machine *m = &row_slot[k];
	m->cie_off = UINT64_MAX;   /* its cached CIE may be another module's */
	/* the rows of that entry from its start, as the whole-module pass
	 * makes them (an entry whose FDE does not start there is one gap),
	 * up to lpc: the last is lpc's */
	uint64_t a = e->hdr_addr + (uint64_t)(int64_t)tab[lo].loc;
	want_row w = { (uint32_t)(lpc - a), false, out };
	bool ok = lpc - a <= UINT32_MAX;
	if (ok)
		fde_rows(e, e->hdr_addr + (uint64_t)(int64_t)tab[lo].fde, a, lpc + 1, a, m, keep_row, &w);
	__atomic_store_n(&row_busy[k], 0, __ATOMIC_RELEASE);
	return ok && w.found;
}
