/*
 * modules.c - the registry of loaded modules for the unwinder: each
 * module's executable address range and its compact unwind table
 * (unwind_tables.c), published lock-free for signal handlers.
 *
 * Design: the registry is an immutable array sorted by address (a "set"),
 * reached through one atomic pointer.  rt_modules_init / rt_modules_refresh
 * (outside handlers, serialised by a mutex) list the modules with
 * dl_iterate_phdr, reuse the tables of modules already known (same path,
 * bias and range), build tables for new ones (from the file on disk; the
 * vdso from its image in memory), publish the new set, and then retire the
 * old one.  Retiring is a grace period: every reader brackets its use with
 * rt_modules_enter / rt_modules_leave, which count readers in flight; the
 * old set and the tables only it used are freed once that count has been
 * seen at zero after the new set was published (a reader that entered
 * later can only have loaded the new pointer).  If readers never drain
 * within a bound (a thread stopped inside a handler), the old memory is
 * leaked rather than freed under a reader.  A refresh that finds the same
 * modules publishes nothing.
 *
 * Lazy tables: building every loaded library's table costs tens of ms
 * (libc alone ~11 ms), most of it for libraries no sampled stack goes
 * through (libcprof.so's own dependencies, for a start).  The CPU
 * profiler and thread snapshots unwind in signal handlers, which cannot
 * build anything: they call rt_modules_init, which builds every table
 * (and, from then on, every new module's at refresh).  The heap, sync and
 * pthread_create recorders unwind in ordinary context: they call
 * rt_modules_init_lazy, which lists the modules without tables, and
 * rt_unwind_here builds a module's table when a walk first reaches it
 * (rt_modules_build_at) and walks again.  A table is published in place
 * in the current set (release store, and a new generation so that the
 * unwinders' row caches forget the rows they missed); sets made later
 * share it as they share built tables.  rt_modules_build_at only
 * try-locks refresh_mu: it runs inside malloc, where waiting could
 * deadlock (a fork's prepare handler holds the mutex).
 *
 * fork: refresh_mu is taken around fork (pthread_atfork) so a child never
 * starts with it held; the child's reader count starts at zero.
 *
 * dlopen and dlclose are interposed here (see libcprof.map): after the real
 * call succeeds, and only once a registry exists, they refresh it; dlopen
 * also lets heap_got.c patch the new modules when it is in use.
 */
#include "rt_int.h"

#include "cprof_core.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

typedef struct rt_mod {
	uintptr_t lo, hi, bias;
	char *path;
	rt_utable *tab;     /* __atomic loads and stores: built lazily in place */
	int built;          /* the table was tried (tab may stay NULL: no CFI) */
} rt_mod;

typedef struct rt_modset {
	uint64_t gen;
	size_t n;
	rt_mod m[];
} rt_modset;

static _Atomic(rt_modset *) cur_set;
static atomic_int readers;
static uint64_t next_gen = 1;   /* under refresh_mu */
static pthread_mutex_t refresh_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool eager;       /* every module's table is built (rt_modules_init) */

uint64_t rt_modules_enter(void)
{
	atomic_fetch_add(&readers, 1);
	const rt_modset *s = atomic_load(&cur_set);
	return s ? __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) : 0;
}

void rt_modules_leave(void)
{
	atomic_fetch_sub(&readers, 1);
}

const rt_utable *rt_modules_find(uintptr_t addr, bool *known)
{
	*known = false;
	const rt_modset *s = atomic_load(&cur_set);
	if (!s)
		return NULL;
	/* the last module whose lo <= addr, branchless (cmov) */
	const rt_mod *base = s->m;
	size_t n = s->n;
	if (n == 0)
		return NULL;
	while (n > 1) {
		size_t half = n / 2;
		base = base[half].lo <= addr ? base + half : base;
		n -= half;
	}
	if (base->lo <= addr && addr < base->hi) {
		*known = true;
		return __atomic_load_n(&base->tab, __ATOMIC_ACQUIRE);
	}
	return NULL;
}

bool rt_modules_unbuilt(uintptr_t addr)
{
	const rt_modset *s = atomic_load(&cur_set);
	if (!s)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->m[i].lo <= addr && addr < s->m[i].hi)
			return !__atomic_load_n(&s->m[i].built, __ATOMIC_ACQUIRE);
	return false;
}

/* ---- listing the modules -------------------------------------------------- */

typedef struct listing {
	rt_mod *v;
	size_t n, cap;
	int oom;
	int first;
	size_t vdso_img;   /* the vdso's image size, when listed */
} listing;

static int on_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	listing *L = arg;
	int first = L->first;
	L->first = 0;
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
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (hi <= lo)
		return 0;
	const char *name = info->dlpi_name;
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	bool is_vdso = vdso && info->dlpi_phdr ==
		(const ElfW(Phdr) *)(vdso + ((const ElfW(Ehdr) *)vdso)->e_phoff);
	if (is_vdso) {
		/* the kernel maps the whole vdso file, section headers included */
		const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)vdso;
		size_t sh_end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
		if (eh->e_shoff && sh_end > img && sh_end - img < 65536)
			img = sh_end;
		name = "[vdso]";
	}
	else if (!name || !*name) {
		if (!first)
			return 0;
		name = "/proc/self/exe";
	}
	if (L->n == L->cap) {
		size_t nc = L->cap ? L->cap * 2 : 64;
		rt_mod *nv = realloc(L->v, nc * sizeof *nv);
		if (!nv) {
			L->oom = 1;
			return 1;
		}
		L->v = nv;
		L->cap = nc;
	}
	rt_mod *m = &L->v[L->n];
	m->lo = lo;
	m->hi = hi;
	m->bias = info->dlpi_addr;
	m->tab = NULL;
	m->built = 0;
	m->path = strdup(name);
	if (!m->path) {
		L->oom = 1;
		return 1;
	}
	L->n++;
	if (is_vdso)
		L->vdso_img = img;
	return 0;
}

static int cmp_mod(const void *a, const void *b)
{
	const rt_mod *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool same_module(const rt_mod *a, const rt_mod *b)
{
	return a->lo == b->lo && a->hi == b->hi && a->bias == b->bias && strcmp(a->path, b->path) == 0;
}

static void free_set(rt_modset *s, const rt_modset *keep)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		bool kept = false;
		for (size_t j = 0; keep && j < keep->n && !kept; j++)
			kept = keep->m[j].tab == s->m[i].tab && s->m[i].tab;
		if (!kept)
			rt_utable_free(s->m[i].tab);
		free(s->m[i].path);
	}
	free(s);
}

/* Wait until no reader is in flight; false after about two seconds. */
static bool grace(void)
{
	for (int i = 0; i < 40000; i++) {
		if (atomic_load(&readers) == 0)
			return true;
		if (i < 100)
			sched_yield();
		else
			nanosleep(&(struct timespec){ 0, 50000 }, NULL);
	}
	return false;
}

static int refresh_locked(void)
{
	listing L = { .first = 1 };
	dl_iterate_phdr(on_module, &L);
	if (L.oom) {
		for (size_t i = 0; i < L.n; i++) {
			free(L.v[i].path);
			rt_utable_free(L.v[i].tab);
		}
		free(L.v);
		return CPROF_ENOMEM;
	}
	qsort(L.v, L.n, sizeof *L.v, cmp_mod);
	/* drop overlaps (should not happen) so the binary search stays sound */
	size_t w = 0;
	for (size_t i = 0; i < L.n; i++) {
		if (w > 0 && L.v[i].lo < L.v[w - 1].hi) {
			free(L.v[i].path);
			rt_utable_free(L.v[i].tab);
			continue;
		}
		L.v[w++] = L.v[i];
	}
	L.n = w;
	rt_modset *old = atomic_load(&cur_set);
	if (old && old->n == L.n) {
		/* nothing loaded or unloaded (a dlopen of a loaded library):
		 * keep the published set, no grace period to wait for */
		bool same = true;
		for (size_t i = 0; i < L.n && same; i++)
			same = same_module(&old->m[i], &L.v[i]);
		if (same) {
			for (size_t i = 0; i < L.n; i++) {
				free(L.v[i].path);
				rt_utable_free(L.v[i].tab);
			}
			free(L.v);
			return 0;
		}
	}
	rt_modset *s = malloc(sizeof *s + (L.n ? L.n : 1) * sizeof(rt_mod));
	if (!s) {
		for (size_t i = 0; i < L.n; i++) {
			free(L.v[i].path);
			rt_utable_free(L.v[i].tab);
		}
		free(L.v);
		return CPROF_ENOMEM;
	}
	s->n = L.n;
	s->gen = next_gen++;
	for (size_t i = 0; i < L.n; i++) {
		rt_mod *m = &s->m[i];
		*m = L.v[i];
		for (size_t j = 0; old && j < old->n; j++)
			if (same_module(&old->m[j], m)) {
				m->tab = __atomic_load_n(&old->m[j].tab, __ATOMIC_ACQUIRE);
				m->built = __atomic_load_n(&old->m[j].built, __ATOMIC_ACQUIRE);
				break;
			}
		/* tables are built here, not under dl_iterate_phdr (which holds
		 * the loader's lock); the vdso's from its image in memory (cheap:
		 * always); the others now if eager, else when first walked */
		if (!m->built && strcmp(m->path, "[vdso]") == 0 && L.vdso_img) {
			m->tab = rt_utable_from_image((const void *)getauxval(AT_SYSINFO_EHDR), L.vdso_img,
						      m->bias, m->lo, m->hi);
			m->built = 1;
		} else if (!m->built && atomic_load(&eager)) {
			m->tab = rt_utable_from_file(m->path, m->bias, m->lo, m->hi);
			m->built = 1;
		}
	}
	free(L.v);
	atomic_store(&cur_set, s);
	if (old && grace())
		free_set(old, s);
	return 0;
}

/* fork: the child must not inherit refresh_mu held by a thread that does
 * not exist there, nor a count of readers that were in other threads */
static void fork_prepare(void)
{
	pthread_mutex_lock(&refresh_mu);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&refresh_mu);
}

static void fork_child(void)
{
	atomic_store(&readers, 0);
	pthread_mutex_unlock(&refresh_mu);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Build the table of s->m[i] in place (refresh_mu held). */
static void build_locked(rt_modset *s, size_t i)
{
	rt_mod *m = &s->m[i];
	if (__atomic_load_n(&m->built, __ATOMIC_ACQUIRE))
		return;
	rt_utable *t = rt_utable_from_file(m->path, m->bias, m->lo, m->hi);
	__atomic_store_n(&m->tab, t, __ATOMIC_RELEASE);
	__atomic_store_n(&m->built, 1, __ATOMIC_RELEASE);
	/* a new generation: row caches drop the misses they cached */
	__atomic_store_n(&s->gen, next_gen++, __ATOMIC_RELEASE);
}

int rt_modules_init(void)
{
	pthread_once(&atfork_once, register_atfork);
	rt_self_enter();
	pthread_mutex_lock(&refresh_mu);
	int rc = 0;
	atomic_store(&eager, true);
	rt_modset *s = atomic_load(&cur_set);
	if (!s)
		rc = refresh_locked();
	else
		for (size_t i = 0; i < s->n; i++)
			build_locked(s, i);
	pthread_mutex_unlock(&refresh_mu);
	rt_self_leave();
	return rc;
}

int rt_modules_init_lazy(void)
{
	pthread_once(&atfork_once, register_atfork);
	rt_self_enter();
	pthread_mutex_lock(&refresh_mu);
	int rc = 0;
	if (!atomic_load(&cur_set))
		rc = refresh_locked();
	pthread_mutex_unlock(&refresh_mu);
	rt_self_leave();
	return rc;
}

bool rt_modules_build_at(uintptr_t addr)
{
	if (pthread_mutex_trylock(&refresh_mu) != 0)
		return false;
	bool done = false;
	rt_modset *s = atomic_load(&cur_set);
	for (size_t i = 0; s && i < s->n; i++)
		if (s->m[i].lo <= addr && addr < s->m[i].hi) {
			if (!__atomic_load_n(&s->m[i].built, __ATOMIC_ACQUIRE)) {
				rt_self_enter();
				build_locked(s, i);
				rt_self_leave();
				done = true;
			}
			break;
		}
	pthread_mutex_unlock(&refresh_mu);
	return done;
}

void rt_modules_refresh(void)
{
	rt_self_enter();   /* the tables' memory is the runtime's, not the program's */
	pthread_mutex_lock(&refresh_mu);
	(void)refresh_locked();
	pthread_mutex_unlock(&refresh_mu);
	rt_self_leave();
}

bool rt_modules_ready(void)
{
	return atomic_load(&cur_set) != NULL;
}

void rt_modules_shutdown(void)
{
	pthread_mutex_lock(&refresh_mu);
	rt_modset *old = atomic_exchange(&cur_set, NULL);
	if (old && grace())
		free_set(old, NULL);
	pthread_mutex_unlock(&refresh_mu);
}

/* ---- dlopen / dlclose ------------------------------------------------------ */

/* Interposed (exported by libcprof.so, or defined by the program that links
 * libcprof.a): the real call, then, if the registry exists (a profile was
 * started), a refresh so code just loaded gets its table and code unloaded
 * loses it.  The real call's result, dlerror state and errno are kept. */
typedef void *(*dlopen_fn)(const char *, int);
typedef int (*dlclose_fn)(void *);
static _Atomic(dlopen_fn) real_dlopen;
static _Atomic(dlclose_fn) real_dlclose;

__attribute__((visibility("default")))
void *dlopen(const char *file, int mode)
{
	dlopen_fn f = atomic_load(&real_dlopen);
	if (!f) {
		f = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
		if (!f)
			return NULL;
		atomic_store(&real_dlopen, f);
	}
	void *h = f(file, mode);
	if (h && atomic_load(&cur_set)) {
		int e = errno;
		rt_modules_refresh();
		errno = e;
	}
	if (h)
		rt_heap_got_dlopened();   /* keeps errno */
	return h;
}

__attribute__((visibility("default")))
int dlclose(void *handle)
{
	dlclose_fn f = atomic_load(&real_dlclose);
	if (!f) {
		f = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
		if (!f)
			return -1;
		atomic_store(&real_dlclose, f);
	}
	int rc = f(handle);
	if (rc == 0 && atomic_load(&cur_set)) {
		int e = errno;
		rt_modules_refresh();
		errno = e;
	}
	return rc;
}
