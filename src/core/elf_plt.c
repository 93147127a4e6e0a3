/*
 * elf_plt.c - names for the PLT stubs of an ELF file (x86-64), as perf
 * gives them: "fn@plt".
 *
 * A PLT stub has no symbol of its own, so a symbolizer that takes the
 * nearest symbol below an address names every stub after whatever
 * precedes .plt (`_init`, of size 0).  Each stub jumps through a GOT slot:
 *     [endbr64] [bnd] jmp *disp32(%rip)        (ff 25 disp32)
 * in .plt (lazy binding: entry 0 is the resolver's, each next one jumps
 * through its slot, then pushes its relocation index), .plt.sec (with IBT:
 * the stubs the code calls; .plt then holds `endbr64; push $i; bnd jmp`
 * entries only) and .plt.got (functions whose address is taken, bound
 * through GLOB_DAT).  The slot's address is the r_offset of a JUMP_SLOT
 * relocation in .rela.plt or a GLOB_DAT one in .rela.dyn, whose symbol (in
 * the relocation section's linked dynamic symbol table) names the stub; an
 * IBT .plt entry is named from its push's relocation index.  Entries are
 * 16 bytes (8 in an 8-byte .plt.got) unless sh_entsize says otherwise.
 *
 * Reads the file's section data only (a debug file's NOBITS sections give
 * nothing).  Not thread-safe on one Elf (libelf's own rule).
 */
#include "core_int.h"

#include <gelf.h>
#include <stdlib.h>
#include <string.h>

typedef struct rel {
	uint64_t off;       /* the GOT slot's virtual address */
	const char *name;   /* libelf-owned */
} rel;

static int cmp_rel(const void *a, const void *b)
{
	const rel *x = a, *y = b;
	return (x->off > y->off) - (x->off < y->off);
}

/* Append the relocations of section s of type want (R_X86_64_*) with a
 * named symbol.  jslots: also the JUMP_SLOT ones in order, for push
 * indexes (NULL: not kept). */
static int add_rels(Elf *e, Elf_Scn *s, const GElf_Shdr *sh, unsigned want, rel **v, size_t *n,
		    size_t *cap, const char ***jslots, size_t *njs)
{
	Elf_Scn *symscn = elf_getscn(e, sh->sh_link);
	GElf_Shdr ssh;
	Elf_Data *d = elf_getdata(s, NULL), *sd = symscn ? elf_getdata(symscn, NULL) : NULL;
	if (!d || !sd || !gelf_getshdr(symscn, &ssh) || sh->sh_entsize == 0)
		return 0;
	size_t nr = sh->sh_size / sh->sh_entsize;
	if (jslots) {
		*jslots = calloc(nr ? nr : 1, sizeof **jslots);
		if (!*jslots)
			return CPROF_ENOMEM;
		*njs = nr;
	}
	for (size_t i = 0; i < nr; i++) {
		GElf_Rela r;
		GElf_Sym sym;
		if (!gelf_getrela(d, (int)i, &r) || GELF_R_TYPE(r.r_info) != want)
			continue;
		if (!gelf_getsym(sd, (int)GELF_R_SYM(r.r_info), &sym))
			continue;
		const char *name = elf_strptr(e, ssh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		if (jslots)
			(*jslots)[i] = name;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			rel *nv = realloc(*v, nc * sizeof *nv);
			if (!nv)
				return CPROF_ENOMEM;
			*v = nv;
			*cap = nc;
		}
		(*v)[(*n)++] = (rel){ r.r_offset, name };
	}
	return 0;
}

static const char *rel_find(const rel *v, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].off == off)
			return v[mid].name;
		if (v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The name of the stub at b[0..len) (virtual address va), or NULL. */
static const char *stub_name(const unsigned char *b, size_t len, uint64_t va, const rel *rv,
			     size_t nrv, const char **js, size_t njs)
{
	size_t j = 0;
	if (len >= 4 && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa)
		j = 4;   /* endbr64 */
	if (j < len && b[j] == 0xf2)
		j++;     /* bnd */
	if (j + 6 <= len && b[j] == 0xff && b[j + 1] == 0x25) {
		int32_t d;
		memcpy(&d, b + j + 2, 4);
		return rel_find(rv, nrv, va + j + 6 + (uint64_t)(int64_t)d);
	}
	if (j + 5 <= len && b[j] == 0x68) {   /* push $index: an IBT .plt entry */
		uint32_t i;
		memcpy(&i, b + j + 1, 4);
		return i < njs ? js[i] : NULL;
	}
	return NULL;
}

int cprof_elf_plt_syms(Elf *e, cprof_plt_sym **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	size_t shstr;
	if (elf_getshdrstrndx(e, &shstr) != 0)
		return 0;
	rel *rv = NULL;
	size_t nrv = 0, caprv = 0, njs = 0;
	const char **js = NULL;
	int rc = 0;
	Elf_Scn *s = NULL;
	while ((s = elf_nextscn(e, s)) && rc == 0) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_RELA)
			continue;
		const char *nm = elf_strptr(e, shstr, sh.sh_name);
		if (nm && strcmp(nm, ".rela.plt") == 0 && !js)
			rc = add_rels(e, s, &sh, R_X86_64_JUMP_SLOT, &rv, &nrv, &caprv, &js, &njs);
		else if (nm && strcmp(nm, ".rela.dyn") == 0)
			rc = add_rels(e, s, &sh, R_X86_64_GLOB_DAT, &rv, &nrv, &caprv, NULL, NULL);
	}
	if (rc == 0 && nrv > 1)
		qsort(rv, nrv, sizeof *rv, cmp_rel);
	cprof_plt_sym *v = NULL;
	size_t n = 0, cap = 0;
	s = NULL;
	while (rc == 0 && nrv && (s = elf_nextscn(e, s))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		const char *nm = elf_strptr(e, shstr, sh.sh_name);
		if (!nm || (strcmp(nm, ".plt") != 0 && strcmp(nm, ".plt.sec") != 0 &&
			    strcmp(nm, ".plt.got") != 0))
			continue;
		Elf_Data *d = elf_getdata(s, NULL);
		if (!d || !d->d_buf || d->d_size < sh.sh_size)
			continue;
		size_t es = sh.sh_entsize == 8 || sh.sh_entsize == 16 ? sh.sh_entsize : 16;
		if (strcmp(nm, ".plt.got") == 0 && sh.sh_size % 16 != 0)
			es = 8;
		size_t first = strcmp(nm, ".plt") == 0 ? es : 0;   /* the resolver's entry */
		for (size_t off = first; off + es <= sh.sh_size; off += es) {
			const char *name = stub_name((const unsigned char *)d->d_buf + off, es,
						     sh.sh_addr + off, rv, nrv, js, njs);
			if (!name)
				continue;
			size_t l = strlen(name);
			char *full = malloc(l + 5);
			if (!full || (n == cap && cprof_reserve((void **)&v, &cap, n + 1, sizeof *v) < 0)) {
				free(full);
				rc = CPROF_ENOMEM;
				break;
			}
			memcpy(full, name, l);
			memcpy(full + l, "@plt", 5);
			v[n++] = (cprof_plt_sym){ sh.sh_addr + off, es, full };
		}
	}
	free(rv);
	free(js);
	if (rc < 0) {
		cprof_elf_plt_syms_free(v, n);
		return rc;
	}
	*out = v;
	*nout = n;
	return 0;
}

void cprof_elf_plt_syms_free(cprof_plt_sym *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}
