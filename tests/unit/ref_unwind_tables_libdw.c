/*
 * ref_unwind_tables_libdw.c - the reference for test_ehframe.c: the
 * runtime's former table builder, which had libdw's CFI interpreter
 * (dwarf_cfi_addrframe) compute each row and flattened it.  Kept here,
 * unchanged but for its names (ref_*), so the test can check that the
 * runtime's own .eh_frame reader produces the very same tables.  Included
 * by test_ehframe.c only; not a test of its own.
 */
#define rt_utable_from_file ref_utable_from_file
#define rt_utable_from_image ref_utable_from_image
#define rt_utable_bytes ref_utable_bytes
#define rt_utable_find ref_utable_find
#include "rt_unwind.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bound on rows for hostile inputs (a real libc has ~30k). */
#define MAX_ROWS (1u << 24)

/* A row while building: its start and its rule. */
typedef struct brow {
	uint32_t start;
	rt_urow r;
} brow;

typedef struct rowvec {
	brow *v;
	size_t n, cap;
	int oom;
} rowvec;

static bool same_rule(const rt_urow *a, const rt_urow *b)
{
	return a->kind == b->kind && a->cfa_off == b->cfa_off && a->ra_off == b->ra_off &&
	       a->rbp_off == b->rbp_off && a->rbp_rule == b->rbp_rule && a->pad == b->pad;
}

static void push(rowvec *rv, uint32_t start, const rt_urow *r)
{
	if (rv->oom)
		return;
	if (rv->n > 0) {
		brow *p = &rv->v[rv->n - 1];
		if (start <= p->start) {
			/* overlapping FDEs: keep the first, drop what goes backwards */
			return;
		}
		if (same_rule(&p->r, r))
			return;
	}
	if (rv->n == rv->cap) {
		size_t nc = rv->cap ? rv->cap * 2 : 256;
		if (nc > MAX_ROWS) {
			rv->oom = 1;
			return;
		}
		brow *nv = realloc(rv->v, nc * sizeof *nv);
		if (!nv) {
			rv->oom = 1;
			return;
		}
		rv->v = nv;
		rv->cap = nc;
	}
	rv->v[rv->n].start = start;
	rv->v[rv->n].r = *r;
	rv->n++;
}

/* CFA+off location of a register, from libdw's description; false when the
 * rule is anything else. */
static bool cfa_offset_rule(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (nops == 1) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	if (nops == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) &&
	    ops[2].atom == DW_OP_plus) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The PLT's CFA: rsp + 8 + ((rip & 15) >= N) << 3.  Returns N or -1. */
static int plt_rule(const Dwarf_Op *o, size_t n)
{
	if (n != 9 || o[0].atom != DW_OP_breg7 || o[0].number != 8 || o[1].atom != DW_OP_breg16 ||
	    o[1].number != 0 || o[2].atom != DW_OP_lit15 || o[3].atom != DW_OP_and ||
	    o[4].atom < DW_OP_lit0 || o[4].atom > DW_OP_lit31 || o[5].atom != DW_OP_ge ||
	    o[6].atom != DW_OP_lit3 || o[7].atom != DW_OP_shl || o[8].atom != DW_OP_plus)
		return -1;
	return o[4].atom - DW_OP_lit0;
}

/* Reduce one libdw row to a compact row (start filled by the caller). */
static void reduce(Dwarf_Frame *fr, bool signalp, rt_urow *r)
{
	memset(r, 0, sizeof *r);
	r->kind = RT_ROW_UNKNOWN;
	if (signalp) {
		r->kind = RT_ROW_SIGNAL;
		return;
	}
	Dwarf_Op *ops, mem[3];
	size_t nops;
	if (dwarf_frame_register(fr, 16, mem, &ops, &nops) != 0)
		return;
	if (nops == 0 && ops == mem) {
		r->kind = RT_ROW_END;   /* return address undefined: outermost */
		return;
	}
	int64_t ra_off;
	/* the return address in a register (DW_CFA_register): RT_PAD_RA_REG */
	bool ra_reg = false;
	if (nops == 1 && ops[0].atom == DW_OP_regx && ops[0].number <= 16) {
		ra_reg = true;
		ra_off = (int64_t)ops[0].number;
	} else if (nops == 1 && ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg16) {
		ra_reg = true;
		ra_off = ops[0].atom - DW_OP_reg0;
	} else if (!cfa_offset_rule(ops, nops, &ra_off) || ra_off < INT16_MIN || ra_off > INT16_MAX)
		return;
	r->ra_off = (int16_t)ra_off;
	if (dwarf_frame_register(fr, 6, mem, &ops, &nops) != 0)
		return;
	if (nops == 0) {
		r->rbp_rule = ops == NULL ? RT_RBP_SAME : RT_RBP_UNDEF;
	} else {
		int64_t o;
		if (!cfa_offset_rule(ops, nops, &o) || o < INT16_MIN || o > INT16_MAX)
			return;
		r->rbp_rule = RT_RBP_AT;
		r->rbp_off = (int16_t)o;
	}
	if (dwarf_frame_cfa(fr, &ops, &nops) != 0 || nops == 0)
		return;
	/* register + offset: libdw gives DW_OP_bregx reg, off (or bregN off) */
	int reg = -1;
	int64_t o = 0;
	if (nops == 1 && ops[0].atom == DW_OP_bregx) {
		reg = ops[0].number <= 16 ? (int)ops[0].number : -1;
		o = (int64_t)ops[0].number2;
	} else if (nops == 1 && (ops[0].atom == DW_OP_breg7 || ops[0].atom == DW_OP_breg6)) {
		reg = ops[0].atom - DW_OP_breg0;
		o = (int64_t)ops[0].number;
	}
	if (reg == 6 || reg == 7) {
		if (o < INT32_MIN || o > INT32_MAX)
			return;
		r->cfa_off = (int32_t)o;
		r->kind = reg == 7 ? RT_ROW_RSP : RT_ROW_RBP;
		if (ra_reg) {
			if (r->kind == RT_ROW_RSP)
				r->pad = RT_PAD_RA_REG;
			else
				memset(r, 0, sizeof *r);
			r->kind = RT_ROW_UNKNOWN;
		}
		return;
	}
	if (ra_reg)
		return;
	int thr = plt_rule(ops, nops);
	if (thr >= 0 && ra_off == -8) {
		r->kind = RT_ROW_PLT;
		r->cfa_off = thr;
	}
}

/* Read one pointer encoded as in .eh_frame_hdr (the encodings linkers emit). */
static bool read_enc(const uint8_t **pp, const uint8_t *end, uint8_t enc, uint64_t pcrel,
		     uint64_t datarel, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v;
	switch (enc & 0x0f) {
	case 0x03: { uint32_t x; if (end - p < 4) return false; memcpy(&x, p, 4); v = x; p += 4; break; }
	case 0x0b: { int32_t x; if (end - p < 4) return false; memcpy(&x, p, 4); v = (uint64_t)(int64_t)x; p += 4; break; }
	case 0x04: case 0x0c: case 0x00:
		if (end - p < 8) return false;
		memcpy(&v, p, 8);
		p += 8;
		break;
	default:
		return false;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += pcrel; break;
	case 0x30: v += datarel; break;
	default: return false;
	}
	*pp = p;
	*out = v;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* FDE initial locations (link-time addresses) from .eh_frame_hdr, sorted. */
static uint64_t *fde_starts(Elf *elf, size_t *n)
{
	*n = 0;
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".eh_frame_hdr") != 0 || sh.sh_type == SHT_NOBITS)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < 4)
			return NULL;
		const uint8_t *b = d->d_buf, *p = b + 4, *end = b + d->d_size;
		if (b[0] != 1)
			return NULL;
		uint64_t base = sh.sh_addr, ehf, cnt;
		if (!read_enc(&p, end, b[1], base + (uint64_t)(p - b), base, &ehf) ||
		    !read_enc(&p, end, b[2], base + (uint64_t)(p - b), base, &cnt))
			return NULL;
		uint8_t tenc = b[3];
		if (tenc != 0x3b || cnt == 0 || cnt > (uint64_t)(end - p) / 8)
			return NULL;
		uint64_t *v = malloc(cnt * sizeof *v);
		if (!v)
			return NULL;
		for (uint64_t i = 0; i < cnt; i++) {
			uint64_t loc, fde;
			if (!read_enc(&p, end, tenc, 0, base, &loc) || !read_enc(&p, end, tenc, 0, base, &fde)) {
				free(v);
				return NULL;
			}
			v[i] = loc;
		}
		qsort(v, cnt, sizeof *v, cmp_u64);
		*n = cnt;
		return v;
	}
	return NULL;
}

/* ---- checking the CFI before libdw interprets it ------------------------------ */

/* libdw sizes its register tables by the largest register number an
 * instruction names: a hostile DW_CFA_def_cfa with register 2^28 costs
 * gigabytes.  Every CIE's and FDE's instructions are scanned first; a
 * module with an unknown opcode, a register above MAX_REG or a malformed
 * entry gets no table (frame pointers only). */
#define MAX_REG 127
#define MAX_CIES 4096

static bool uleb(const uint8_t **pp, const uint8_t *end, uint64_t *v)
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
			return true;
		}
	}
	return false;
}

static bool skip(const uint8_t **pp, const uint8_t *end, uint64_t n)
{
	if ((uint64_t)(end - *pp) < n)
		return false;
	*pp += n;
	return true;
}

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
		case 0x00: case 0x0a: case 0x0b:  /* nop, remember/restore_state */
			break;
		case 0x02: if (!skip(&p, end, 1)) return false; break;
		case 0x03: if (!skip(&p, end, 2)) return false; break;
		case 0x04: if (!skip(&p, end, 4)) return false; break;
		case 0x0e: case 0x13: case 0x2e:  /* def_cfa_offset(_sf), GNU_args_size */
			if (!uleb(&p, end, &v))
				return false;
			break;
		case 0x06: case 0x07: case 0x08: case 0x0d:  /* one register */
			if (!uleb(&p, end, &reg) || reg > MAX_REG)
				return false;
			break;
		case 0x05: case 0x0c: case 0x11: case 0x12: case 0x14: case 0x15: case 0x2f:
			/* register and an operand */
			if (!uleb(&p, end, &reg) || reg > MAX_REG || !uleb(&p, end, &v))
				return false;
			break;
		case 0x09:                       /* register, register */
			if (!uleb(&p, end, &reg) || reg > MAX_REG || !uleb(&p, end, &v) || v > MAX_REG)
				return false;
			break;
		case 0x0f:                       /* def_cfa_expression: block */
			if (!uleb(&p, end, &v) || !skip(&p, end, v))
				return false;
			break;
		case 0x10: case 0x16:            /* (val_)expression: register, block */
			if (!uleb(&p, end, &reg) || reg > MAX_REG || !uleb(&p, end, &v) || !skip(&p, end, v))
				return false;
			break;
		default:                         /* set_loc and anything unknown */
			return false;
		}
	}
	return true;
}

static int enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: return 8;
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	default: return -1;
	}
}

typedef struct cie_info {
	Dwarf_Off off;
	int enc_size;   /* of initial_location / address_range in its FDEs */
	bool z;
} cie_info;

static bool cfi_ok(Elf *elf)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	Elf_Data *d = NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;
		if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS &&
		    (name = elf_strptr(elf, shstrndx, sh.sh_name)) && strcmp(name, ".eh_frame") == 0) {
			d = elf_getdata(scn, NULL);
			break;
		}
	}
	if (!d || !d->d_buf)
		return false;
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	if (!ident)
		return false;
	cie_info *cies = malloc(MAX_CIES * sizeof *cies);
	if (!cies)
		return false;
	size_t ncie = 0;
	bool ok = true;
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry e;
	int rc;
	while (ok && (rc = dwarf_next_cfi(ident, d, true, off, &next, &e)) == 0) {
		if (next <= off) {
			ok = false;
			break;
		}
		if (e.CIE_id == LIBDW_CIE_ID) {
			const char *aug = e.cie.augmentation;
			if (e.cie.return_address_register > MAX_REG || ncie == MAX_CIES || !aug ||
			    !insns_ok(e.cie.initial_instructions, e.cie.initial_instructions_end)) {
				ok = false;
				break;
			}
			cie_info ci = { off, 8, false };
			const uint8_t *ap = e.cie.augmentation_data;
			const uint8_t *aend = ap ? ap + e.cie.augmentation_data_size : NULL;
			if (aug[0] == 'z') {
				ci.z = true;
				for (const char *c = aug + 1; *c && ok; c++) {
					if (*c == 'R' || *c == 'L') {
						if (!ap || ap >= aend) {
							ok = false;
							break;
						}
						if (*c == 'R')
							ci.enc_size = enc_size(*ap);
						ap++;
					} else if (*c == 'P') {
						int n;
						if (!ap || ap >= aend || (n = enc_size(*ap)) < 0 || aend - ap - 1 < n)
							ok = false;
						else
							ap += 1 + n;
					} else if (*c != 'S') {
						ok = false;
					}
				}
			} else if (aug[0] != 0) {
				ok = false;
			}
			if (ci.enc_size < 0)
				ok = false;
			cies[ncie++] = ci;
		} else {
			const cie_info *ci = NULL;
			for (size_t i = ncie; i-- > 0;)
				if (cies[i].off == e.fde.CIE_pointer) {
					ci = &cies[i];
					break;
				}
			const uint8_t *p = e.fde.start, *end = e.fde.end;
			uint64_t alen = 0;
			if (!ci || !p || !end || end < p || !skip(&p, end, 2 * (uint64_t)ci->enc_size) ||
			    (ci->z && (!uleb(&p, end, &alen) || !skip(&p, end, alen))) || !insns_ok(p, end))
				ok = false;
		}
		off = next;
	}
	free(cies);
	return ok;
}

static int cmp_rule(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(rt_urow));
}

/* The final table: distinct rules sorted (a palette), then the starts and
 * each row's index in the palette, in one allocation. */
static rt_utable *pack(const rowvec *rv, uintptr_t lo, uintptr_t hi)
{
	rt_urow *pal = malloc(rv->n * sizeof *pal);
	if (!pal)
		return NULL;
	for (size_t i = 0; i < rv->n; i++) {
		pal[i] = rv->v[i].r;
	}
	qsort(pal, rv->n, sizeof *pal, cmp_rule);
	size_t np = 0;
	for (size_t i = 0; i < rv->n; i++)
		if (np == 0 || cmp_rule(&pal[np - 1], &pal[i]) != 0)
			pal[np++] = pal[i];
	if (np > UINT16_MAX + 1u) {
		free(pal);
		return NULL;
	}
	size_t bytes = sizeof(rt_utable) + np * sizeof(rt_urow) + rv->n * (sizeof(uint32_t) + sizeof(uint16_t));
	rt_utable *t = malloc(bytes);
	if (!t) {
		free(pal);
		return NULL;
	}
	t->lo = lo;
	t->hi = hi;
	t->nrows = rv->n;
	t->nrules = np;
	memcpy(t->rules, pal, np * sizeof *pal);
	uint32_t *starts = (uint32_t *)(t->rules + np);
	uint16_t *rule = (uint16_t *)(starts + rv->n);
	for (size_t i = 0; i < rv->n; i++) {
		rt_urow key = rv->v[i].r;
		const rt_urow *hit = bsearch(&key, t->rules, np, sizeof key, cmp_rule);
		starts[i] = rv->v[i].start;
		rule[i] = (uint16_t)(hit - t->rules);
	}
	t->starts = starts;
	t->rule = rule;
	free(pal);
	return t;
}

static rt_utable *build(Elf *elf, uintptr_t bias, uintptr_t lo, uintptr_t hi)
{
	if (hi <= lo || hi - lo > UINT32_MAX)
		return NULL;
	if (!cfi_ok(elf))
		return NULL;
	size_t nf;
	uint64_t *starts = fde_starts(elf, &nf);
	if (!starts)
		return NULL;
	Dwarf_CFI *cfi = dwarf_getcfi_elf(elf);
	if (!cfi) {
		free(starts);
		return NULL;
	}
	rowvec rv = { 0 };
	/* link-time range of the module's code */
	uint64_t llo = lo - bias, lhi = hi - bias;
	rt_urow gap = { .kind = RT_ROW_UNKNOWN };
	for (size_t i = 0; i < nf && !rv.oom; i++) {
		uint64_t a = starts[i];
		uint64_t stop = i + 1 < nf ? starts[i + 1] : lhi;
		if (a < llo || a >= lhi)
			continue;
		if (stop > lhi)
			stop = lhi;
		size_t guard = 0;
		while (a < stop && !rv.oom && guard++ < 1000000) {
			Dwarf_Frame *fr;
			if (dwarf_cfi_addrframe(cfi, a, &fr) != 0)
				break;
			Dwarf_Addr s, e;
			bool sig;
			if (dwarf_frame_info(fr, &s, &e, &sig) < 0 || e <= a) {
				free(fr);
				break;
			}
			rt_urow r;
			reduce(fr, sig, &r);
			free(fr);
			push(&rv, (uint32_t)(a - llo), &r);
			a = e;
		}
		if (a < stop && a >= llo && a < lhi)
			push(&rv, (uint32_t)(a - llo), &gap);
	}
	dwarf_cfi_end(cfi);
	free(starts);
	if (rv.oom || rv.n == 0) {
		free(rv.v);
		return NULL;
	}
	rt_utable *t = pack(&rv, lo, hi);
	free(rv.v);
	return t;
}

rt_utable *rt_utable_from_file(const char *path, uintptr_t bias, uintptr_t lo, uintptr_t hi)
{
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	rt_utable *t = elf ? build(elf, bias, lo, hi) : NULL;
	if (elf)
		elf_end(elf);
	close(fd);
	return t;
}

rt_utable *rt_utable_from_image(const void *img, size_t size, uintptr_t bias, uintptr_t lo,
				uintptr_t hi)
{
	elf_version(EV_CURRENT);
	/* libelf may write to the image it is given: hand it a private copy */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return NULL;
	memcpy(copy, img, size);
	Elf *elf = elf_memory(copy, size);
	rt_utable *t = elf ? build(elf, bias, lo, hi) : NULL;
	if (elf)
		elf_end(elf);
	free(copy);
	return t;
}

size_t rt_utable_bytes(const rt_utable *t)
{
	return t ? sizeof *t + t->nrules * sizeof(rt_urow) +
			   t->nrows * (sizeof(uint32_t) + sizeof(uint16_t))
		 : 0;
}

const rt_urow *rt_utable_find(const rt_utable *t, uintptr_t addr)
{
	if (!t || addr < t->lo || addr >= t->hi || t->nrows == 0)
		return NULL;
	uint32_t off = (uint32_t)(addr - t->lo);
	/* branchless lower bound (the compiler emits cmov) over the 4-byte
	 * starts: the last row whose start <= off; a search with branches
	 * mispredicts on every step */
	const uint32_t *base = t->starts;
	size_t n = t->nrows;
	while (n > 1) {
		size_t half = n / 2;
		base = base[half] <= off ? base + half : base;
		n -= half;
	}
	if (*base > off)
		return NULL;
	return &t->rules[t->rule[base - t->starts]];
}
