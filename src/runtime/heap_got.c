/*
 * heap_got.c - the heap profiler's hooks under an allocator preloaded
 * before libcprof.so (LD_PRELOAD="libjemalloc.so libcprof.so", a
 * tcmalloc the user already preloads): the dynamic linker binds every
 * module's malloc to that allocator, which comes first in the search
 * order, so the interposed functions of heap_hooks.c are never called.
 *
 * How: the constructor (heap_env.c, when heap samples are wanted) walks
 * every loaded module's dynamic relocations (DT_JMPREL and DT_RELA) and,
 * for each R_X86_64_JUMP_SLOT or R_X86_64_GLOB_DAT against one of the
 * allocation functions heap_hooks.c defines, writes the address of
 * libcprof.so's own definition into the module's GOT slot; heap_hooks.c
 * already forwards to the allocator in front of it (its "next" functions
 * are that allocator's, see resolve()).  A slot in the module's RELRO
 * region is made writable for the write and read-only again.  Modules
 * skipped: libcprof.so itself (its own calls stay unsampled), the
 * allocator's module (its internal calls are its business), the dynamic
 * linker and the vdso.  Modules dlopen'ed later are patched by the dlopen
 * wrapper (modules.c) after the real call.  Sanitizer runtimes are left
 * alone: they must see every allocation first, and say so themselves.
 *
 * What this does not catch: calls made through function pointers taken
 * before the patch (R_X86_64_64 data relocations are left as they are,
 * so address comparisons in the program keep their meaning), and the
 * dynamic linker's own allocations.  A block allocated before the patch
 * and freed after goes to the same allocator; a sampled block freed by an
 * unpatched caller stays listed until its address is reused (the table
 * replaces stale entries).
 *
 * Also here, for heap_hooks.c's first call: rt_front_definition, the
 * loader's lookup of an allocation function done by hand over the
 * modules' dynamic symbol tables (GNU or SysV hash), counting only
 * definitions, so that a non-PIE program's canonical PLT entry for free
 * (an undefined symbol with a value, which dlsym answers) is never taken
 * for an allocator.
 *
 * Threads: patching runs in the constructor (before main, normally one
 * thread) and after dlopen, serialised by a mutex; a slot is one aligned
 * pointer store.  The walk's callbacks allocate nothing (dl_iterate_phdr
 * holds the loader's lock while they run); only the first call's dlopen
 * and dlsym of libcprof.so's own handle do, as runtime work.
 */
#include "heap_int.h"
#include "rt_base.h"
#include "rt_lifecycle.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The definition lookup runs inside the first malloc, maybe before a
 * sanitizer runtime loaded after libcprof.so has initialised: not
 * instrumented. */
#define NOSAN __attribute__((no_sanitize_address, no_sanitize_undefined))

static const char *const hooked[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
	"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
	"_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t",
	"_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
	"_ZdaPvSt11align_val_tRKSt9nothrow_t",
};
#define NHOOKED (sizeof hooked / sizeof hooked[0])

static void *mine[NHOOKED];           /* libcprof.so's definitions */
static uintptr_t self_base, alloc_base;
static bool on;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static size_t npatched;

/* modules already walked (their program headers' address), so a dlopen
 * walks only the new ones */
#define NSEEN 512
static const void *seen[NSEEN];
static size_t nseen;
static unsigned long long last_subs;   /* modules unloaded when last walked */

static int hooked_index(const char *s)
{
	if (s[0] != '_' && !strchr("mfcrpav", s[0]))
		return -1;
	for (size_t i = 0; i < NHOOKED; i++)
		if (strcmp(s, hooked[i]) == 0)
			return (int)i;
	return -1;
}

/* Store v into the GOT slot at a, which may lie in [relro_lo, relro_hi). */
static void patch(uintptr_t a, void *v, uintptr_t relro_lo, uintptr_t relro_hi)
{
	void **slot = (void **)a;
	if (__atomic_load_n(slot, __ATOMIC_RELAXED) == v)
		return;
	bool ro = a >= relro_lo && a < relro_hi;
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t page = a & ~(uintptr_t)(pg - 1);
	if (ro && mprotect((void *)page, (size_t)pg, PROT_READ | PROT_WRITE) != 0)
		return;
	__atomic_store_n(slot, v, __ATOMIC_RELEASE);
	if (ro)
		mprotect((void *)page, (size_t)pg, PROT_READ);
	npatched++;
}

static void walk_relocs(const ElfW(Rela) *r, size_t bytes, const ElfW(Sym) *symtab,
			const char *strtab, uintptr_t bias, uintptr_t rlo, uintptr_t rhi)
{
	if (!r || !symtab || !strtab)
		return;
	for (size_t i = 0; i < bytes / sizeof *r; i++) {
		unsigned long type = ELF64_R_TYPE(r[i].r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		size_t si = ELF64_R_SYM(r[i].r_info);
		if (si == 0)
			continue;
		int h = hooked_index(strtab + symtab[si].st_name);
		if (h >= 0 && mine[h])
			patch(bias + r[i].r_offset, mine[h], rlo, rhi);
	}
}

/* What a module's dynamic section says, with addresses made absolute: the
 * loader rebases these in place; an object whose dynamic section it could
 * not write still holds link-time values. */
typedef struct dynsec {
	uintptr_t symtab, strtab, jmprel, rela, gnuh, sysvh, versym;
	size_t pltrelsz, relasz;
	long pltrel;
} dynsec;

NOSAN static void read_dyn(const ElfW(Dyn) *dyn, uintptr_t bias, dynsec *d)
{
	*d = (dynsec){ .pltrel = DT_RELA };
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB: d->symtab = dyn->d_un.d_ptr; break;
		case DT_STRTAB: d->strtab = dyn->d_un.d_ptr; break;
		case DT_JMPREL: d->jmprel = dyn->d_un.d_ptr; break;
		case DT_PLTRELSZ: d->pltrelsz = dyn->d_un.d_val; break;
		case DT_PLTREL: d->pltrel = (long)dyn->d_un.d_val; break;
		case DT_RELA: d->rela = dyn->d_un.d_ptr; break;
		case DT_RELASZ: d->relasz = dyn->d_un.d_val; break;
		case DT_GNU_HASH: d->gnuh = dyn->d_un.d_ptr; break;
		case DT_HASH: d->sysvh = dyn->d_un.d_ptr; break;
		case DT_VERSYM: d->versym = dyn->d_un.d_ptr; break;
		}
	}
	uintptr_t *abs[] = { &d->symtab, &d->strtab, &d->jmprel, &d->rela, &d->gnuh, &d->sysvh,
			     &d->versym };
	for (size_t i = 0; i < sizeof abs / sizeof abs[0]; i++)
		if (*abs[i] && *abs[i] < bias)
			*abs[i] += bias;
}

static int on_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)arg;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	if (info->dlpi_addr == self_base || info->dlpi_addr == alloc_base ||
	    strstr(name, "ld-linux") || strstr(name, "linux-vdso"))
		return 0;
	/* a module unloaded since the last walk: its address may hold a new
	 * one now; walk everything again (patching is idempotent) */
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs &&
	    info->dlpi_subs != last_subs) {
		last_subs = info->dlpi_subs;
		nseen = 0;
	}
	for (size_t i = 0; i < nseen; i++)
		if (seen[i] == info->dlpi_phdr)
			return 0;
	if (nseen < NSEEN)
		seen[nseen++] = info->dlpi_phdr;
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t rlo = 0, rhi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			rlo = info->dlpi_addr + ph->p_vaddr;
			rhi = rlo + ph->p_memsz;
		}
	}
	if (!dyn)
		return 0;
	uintptr_t bias = info->dlpi_addr;
	dynsec d;
	read_dyn(dyn, bias, &d);
	if (d.pltrel == DT_RELA)
		walk_relocs((const ElfW(Rela) *)d.jmprel, d.pltrelsz, (const ElfW(Sym) *)d.symtab,
			    (const char *)d.strtab, bias, rlo, rhi);
	walk_relocs((const ElfW(Rela) *)d.rela, d.relasz, (const ElfW(Sym) *)d.symtab,
		    (const char *)d.strtab, bias, rlo, rhi);
	return 0;
}

size_t rt_heap_got_install(void)
{
	int e = errno;
	rt_self_enter();
	pthread_mutex_lock(&mu);
	if (!on) {
		Dl_info me, al;
		void *gm = dlsym(RTLD_DEFAULT, "malloc");
		if (!dladdr((void *)&rt_heap_got_install, &me) || !me.dli_fname || !gm ||
		    !dladdr(gm, &al)) {
			pthread_mutex_unlock(&mu);
			rt_self_leave();
			errno = e;
			return 0;
		}
		self_base = (uintptr_t)me.dli_fbase;
		alloc_base = (uintptr_t)al.dli_fbase;
		/* our own definitions: looked up from our own handle, whose
		 * scope starts with this object */
		void *h = dlopen(me.dli_fname, RTLD_NOW | RTLD_NOLOAD);
		if (!h) {
			pthread_mutex_unlock(&mu);
			rt_self_leave();
			errno = e;
			return 0;
		}
		for (size_t i = 0; i < NHOOKED; i++) {
			void *f = dlsym(h, hooked[i]);
			Dl_info fi;
			/* only a definition in libcprof.so itself */
			mine[i] = f && dladdr(f, &fi) && (uintptr_t)fi.dli_fbase == self_base ? f : NULL;
		}
		dlclose(h);
		__atomic_store_n(&on, true, __ATOMIC_RELEASE);
	}
	dl_iterate_phdr(on_module, NULL);
	size_t n = npatched;
	pthread_mutex_unlock(&mu);
	rt_self_leave();
	errno = e;
	return n;
}

void rt_heap_got_dlopened(void)
{
	if (!__atomic_load_n(&on, __ATOMIC_ACQUIRE))
		return;
	(void)rt_heap_got_install();
}

/* ---- the definition in front ----------------------------------------------- */

/* What rt_front_definition looks up and finds. */
typedef struct front_q {
	const char *name;
	uintptr_t self;     /* an address in libcprof.so */
	bool after;         /* look behind libcprof.so, not in front of it */
	bool past;          /* the walk has passed libcprof.so */
	void *found;
	bool stop;
} front_q;

NOSAN static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

NOSAN static uint32_t sysv_hash(const char *s)
{
	uint32_t h = 0;
	for (; *s; s++) {
		h = (h << 4) + (unsigned char)*s;
		uint32_t g = h & 0xf0000000u;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

/* Symbol i of the module defines q->name: a function with a section (not
 * an undefined symbol, whose value may be a canonical PLT entry), global
 * or weak, not a hidden version. */
NOSAN static bool defines(const ElfW(Sym) *sym, const char *strtab, const ElfW(Half) *versym,
		    uint32_t i, const char *name)
{
	const ElfW(Sym) *y = &sym[i];
	unsigned t = ELF64_ST_TYPE(y->st_info), b = ELF64_ST_BIND(y->st_info);
	if (y->st_shndx == SHN_UNDEF || y->st_value == 0 || t != STT_FUNC ||
	    (b != STB_GLOBAL && b != STB_WEAK) || (versym && (versym[i] & 0x8000)))
		return false;
	/* by hand: a sanitizer's strcmp may not be ready yet */
	const char *a = strtab + y->st_name;
	while (*a && *a == *name) {
		a++;
		name++;
	}
	return *a == *name;
}

NOSAN static int on_front(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	front_q *q = arg;
	if (q->stop)
		return 1;
	const ElfW(Dyn) *dyn = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    q->self >= info->dlpi_addr + ph->p_vaddr &&
		    q->self < info->dlpi_addr + ph->p_vaddr + ph->p_memsz) {
			/* libcprof.so: what follows is behind us */
			q->past = true;
			q->stop = !q->after;
			return q->stop;
		}
		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
	}
	if (!dyn || q->after != q->past)
		return 0;
	uintptr_t bias = info->dlpi_addr;
	dynsec d;
	read_dyn(dyn, bias, &d);
	uintptr_t gnuh = d.gnuh, sysvh = d.sysvh;
	if (!d.symtab || !d.strtab)
		return 0;
	const ElfW(Sym) *sym = (const ElfW(Sym) *)d.symtab;
	const char *str = (const char *)d.strtab;
	const ElfW(Half) *versym = (const ElfW(Half) *)d.versym;
	uint32_t hit = 0;
	if (gnuh) {
		const uint32_t *h = (const uint32_t *)gnuh;
		uint32_t nb = h[0], off = h[1], bloom_n = h[2];
		const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)&h[4] + bloom_n);
		const uint32_t *chain = buckets + nb;
		uint32_t hv = gnu_hash(q->name);
		uint32_t i = nb ? buckets[hv % nb] : 0;
		for (; i >= off && i != 0; i++) {
			uint32_t c = chain[i - off];
			if ((c | 1) == (hv | 1) && defines(sym, str, versym, i, q->name)) {
				hit = i;
				break;
			}
			if (c & 1)
				break;
		}
	} else if (sysvh) {
		const uint32_t *h = (const uint32_t *)sysvh;
		uint32_t nb = h[0], nc = h[1];
		const uint32_t *bucket = &h[2], *chain = &h[2 + nb];
		for (uint32_t i = nb ? bucket[sysv_hash(q->name) % nb] : 0, k = 0; i != 0 && i < nc && k < nc;
		     i = chain[i], k++)
			if (defines(sym, str, versym, i, q->name)) {
				hit = i;
				break;
			}
	}
	if (!hit)
		return 0;
	q->found = (void *)(bias + sym[hit].st_value);
	q->stop = true;
	return 1;
}

/* The definition of NAME in the first module, in the loader's search
 * order, before libcprof.so (the program itself, or an allocator preloaded
 * first: the one the program binds to) or, with AFTER, behind it (the
 * next allocator, usually libc's), else NULL.  Reads the modules' dynamic
 * symbol tables: a canonical PLT entry (an undefined symbol with a value,
 * which dlsym answers for both RTLD_DEFAULT and RTLD_NEXT) is not a
 * definition.  Modules dlopen'ed with RTLD_LOCAL are listed too, but the
 * lookup runs at the first malloc, before the program can dlopen.
 * Allocates nothing (it runs inside the first malloc); dl_iterate_phdr
 * takes the loader's recursive lock. */
NOSAN void *rt_front_definition(const char *name, uintptr_t self, bool after)
{
	front_q q = { .name = name, .self = self, .after = after };
	dl_iterate_phdr(on_front, &q);
	return q.found;
}
