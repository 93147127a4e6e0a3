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
 * Who builds tables: only the runtime's own thread (the builder, below)
 * or a caller in ordinary program context that asked for a profile
 * (rt_modules_init, at a profile's start).  Never a hook: the heap, sync
 * and pthread_create recorders run inside the program's malloc, its
 * locks and its thread starts, where building (which allocates through
 * the program's allocator and reads files) could re-enter an allocator
 * under its own lock (jemalloc's: a deadlock) or take a lock the program
 * holds.  A walk that reaches a module without its table records the
 * frames it has (frame pointers or a stop there), and rt_modules_ask
 * (lock-free, allocation-free, async-signal-safe: a flag on the module
 * and a futex wake) hands the module to the builder, counted in
 * rt_modules_asked.  Nor does dlopen's caller build: the refresh after a
 * dlopen lists the modules (it allocates in program context, as dlopen
 * itself does) and the builder builds what is new.
 *
 * Lazy tables: building every loaded library's table costs milliseconds
 * (libc ~1.3 ms, python3 ~2.8 ms), most of it for libraries no sampled
 * stack goes through.  Thread snapshots call rt_modules_init, which builds
 * every table (and, from then on, the builder builds every new module's).
 * The CPU profiler lists the modules only (rt_modules_list): until a
 * module has its table, its walks read rows on demand from the module's
 * CFI in memory (rt_modules_row, ehframe.c's rt_ehf_row_at: each module's
 * .eh_frame_hdr and .eh_frame found through its program headers at
 * listing), and a module looked up DEMAND_BUILD times is asked of the
 * builder.  The heap, sync and pthread_create recorders call
 * rt_modules_init_lazy, which lists the modules without tables; their
 * walks read rows on demand too, and ask for tables the same way.  A
 * table is published in place in the current set (release store, and a
 * new generation so that the unwinders' row caches forget the rows they
 * missed); sets made later share it as they share built tables.
 *
 * The builder: a thread of the runtime (every asynchronous signal
 * blocked, its allocations not sampled), started by rt_modules_init,
 * rt_modules_init_lazy and rt_modules_refresh (ordinary contexts, never
 * a hook), waiting on a futex; each wake it builds, under refresh_mu,
 * every module asked for (or, once eager, every module without a table).
 *
 * Tables kept across dlclose: a module unloaded keeps its table in a small
 * cache keyed by the file's device, inode, modification time and the
 * module's executable range relative to its load bias; the same file
 * loaded again (a dlopen/dlclose loop) takes it back, moved to its new
 * address (rows are offsets from lo), instead of having it built again.
 *
 * fork: refresh_mu is taken around fork (pthread_atfork) so a child never
 * starts with it held; the child's reader count starts at zero; the
 * builder does not exist there.  A child that goes on profiling the heap
 * (CPROF_FOLLOW_FORK: heap_env.c's child handler calls
 * rt_modules_child_wants_builder) gets a new one as fork returns in it
 * (rt_modules_forked, from lifecycle.c's fork wrapper: ordinary context,
 * after every fork handler), so its first samples' walks wait for their
 * tables as the parent's do rather than stopping at the first module the
 * parent had not built yet.  Any other child starts one at its next
 * rt_modules_init*, refresh or pthread_create, as needed: a fork child
 * nobody profiles costs no thread.
 *
 * dlopen and dlclose are interposed here (see libcprof.map): after the real
 * call succeeds, and only once a registry exists, they refresh it; dlopen
 * also lets heap_got.c patch the new modules when it is in use.
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_lifecycle.h"
#include "ehframe.h"

#include "cprof_core.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct rt_mod {
	uintptr_t lo, hi, bias;
	char *path;
	rt_utable *tab;     /* __atomic loads and stores: built lazily in place */
	int built;          /* the table was tried (tab may stay NULL: no CFI) */
	int asked;          /* a walk asked the builder for it (__atomic) */
	uint32_t demand;    /* rows looked up without the table (__atomic) */
	rt_ehf ehf;         /* its CFI in memory, for rows on demand (eh NULL: none) */
	dev_t dev;          /* the file's identity, for the table cache (ino 0: none) */
	ino_t ino;
	int64_t mtime_ns;
} rt_mod;

typedef struct rt_modset {
	uint64_t gen;
	size_t n;
	rt_mod m[];
} rt_modset;

static _Atomic(rt_modset *) cur_set;
static _Atomic uint64_t cur_gen;   /* cur_set's gen, stored after each change of it */
static atomic_int readers;
static uint64_t next_gen = 1;   /* under refresh_mu */
static pthread_mutex_t refresh_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool eager;       /* every module's table is built (rt_modules_init) */
static _Atomic uint32_t build_seq;   /* the builder's futex word: bumped to wake it */
static _Atomic pid_t builder_pid;    /* the process whose builder runs, 0 none */
_Atomic uint64_t rt_modules_asked;   /* walks that reached a module without its table */

static atomic_bool builder_keep;    /* the builder waits for work rather than leaving */

static void builder_start(bool need);

uint64_t rt_modules_enter(void)
{
	atomic_fetch_add(&readers, 1);
	const rt_modset *s = atomic_load(&cur_set);
	return s ? __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) : 0;
}

uint64_t rt_modules_gen(void)
{
	return atomic_load_explicit(&cur_gen, memory_order_acquire);
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

/* Rows looked up on demand in a module before its table is worth building:
 * a lookup costs about a microsecond (a binary search of .eh_frame_hdr,
 * the CIE's and the FDE's programs), building libc's table about 1.3 ms
 * and the table's lookups next to nothing after that; the per-thread row
 * cache (unwind.c) absorbs a hot loop's repeats. */
#define DEMAND_BUILD 1024

bool rt_modules_row(uintptr_t addr, rt_urow *out)
{
	const rt_modset *s = atomic_load(&cur_set);
	if (!s || s->n == 0)
		return false;
	const rt_mod *base = s->m;
	size_t n = s->n;
	while (n > 1) {
		size_t half = n / 2;
		base = base[half].lo <= addr ? base + half : base;
		n -= half;
	}
	if (!(base->lo <= addr && addr < base->hi) || __atomic_load_n(&base->built, __ATOMIC_ACQUIRE) ||
	    !base->ehf.eh)
		return false;
	uint32_t d = __atomic_add_fetch((uint32_t *)&base->demand, 1, __ATOMIC_RELAXED);
	if (d == DEMAND_BUILD)
		rt_modules_ask(addr);
	return rt_ehf_row_at(&base->ehf, addr - base->bias, out);
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
	m->asked = 0;
	m->demand = 0;
	if (is_vdso || !rt_ehf_from_memory(&m->ehf, info->dlpi_addr, info->dlpi_phdr, info->dlpi_phnum))
		memset(&m->ehf, 0, sizeof m->ehf);
	m->dev = 0;
	m->ino = 0;
	m->mtime_ns = 0;
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

/* ---- tables kept across dlclose (refresh_mu held) ------------------------- */

#define TCACHE_N 64
static struct tcache {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	uintptr_t off_lo, off_hi;   /* the executable range, from the load bias */
	rt_utable *t;
	uint64_t used;              /* for eviction: the oldest goes */
} tcache[TCACHE_N];
static uint64_t tcache_clock;

static void tcache_put(const rt_mod *m)
{
	if (!m->tab || !m->ino)
		return;
	size_t v = 0;
	for (size_t i = 0; i < TCACHE_N; i++) {
		if (!tcache[i].t) {
			v = i;
			break;
		}
		if (tcache[i].used < tcache[v].used)
			v = i;
	}
	rt_utable_free(tcache[v].t);
	tcache[v] = (struct tcache){ m->dev, m->ino, m->mtime_ns, m->lo - m->bias, m->hi - m->bias,
				     m->tab, ++tcache_clock };
}

/* The cached table of m's file, moved to m's address, or NULL. */
static rt_utable *tcache_take(const rt_mod *m)
{
	if (!m->ino)
		return NULL;
	for (size_t i = 0; i < TCACHE_N; i++) {
		struct tcache *c = &tcache[i];
		if (c->t && c->dev == m->dev && c->ino == m->ino && c->mtime_ns == m->mtime_ns &&
		    c->off_lo == m->lo - m->bias && c->off_hi == m->hi - m->bias) {
			rt_utable *t = c->t;
			c->t = NULL;
			/* no reader can hold it: it left its last set after a grace period */
			t->lo = m->lo;
			t->hi = m->hi;
			return t;
		}
	}
	return NULL;
}

static void free_set(rt_modset *s, const rt_modset *keep)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		bool kept = false;
		for (size_t j = 0; keep && j < keep->n && !kept; j++)
			kept = keep->m[j].tab == s->m[i].tab && s->m[i].tab;
		if (!kept) {
			if (keep)
				tcache_put(&s->m[i]);   /* unloaded: it may come back */
			else
				rt_utable_free(s->m[i].tab);
		}
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
	bool wake = false;
	for (size_t i = 0; i < L.n; i++) {
		rt_mod *m = &s->m[i];
		*m = L.v[i];
		bool known = false;
		for (size_t j = 0; old && j < old->n; j++)
			if (same_module(&old->m[j], m)) {
				m->tab = __atomic_load_n(&old->m[j].tab, __ATOMIC_ACQUIRE);
				m->built = __atomic_load_n(&old->m[j].built, __ATOMIC_ACQUIRE);
				m->asked = __atomic_load_n(&old->m[j].asked, __ATOMIC_ACQUIRE);
				m->demand = __atomic_load_n(&old->m[j].demand, __ATOMIC_RELAXED);
				m->dev = old->m[j].dev;
				m->ino = old->m[j].ino;
				m->mtime_ns = old->m[j].mtime_ns;
				known = true;
				break;
			}
		struct stat st;
		if (!known && m->path[0] != '[' && stat(m->path, &st) == 0) {
			m->dev = st.st_dev;
			m->ino = st.st_ino;
			m->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		}
		/* the vdso's table from its image in memory (cheap: always, and
		 * not under dl_iterate_phdr, which holds the loader's lock); a
		 * file loaded before takes its cached table back; the others
		 * are the builder's (now if eager, else when a walk asks) */
		if (!m->built && strcmp(m->path, "[vdso]") == 0 && L.vdso_img) {
			m->tab = rt_utable_from_image((const void *)getauxval(AT_SYSINFO_EHDR), L.vdso_img,
						      m->bias, m->lo, m->hi);
			m->built = 1;
		} else if (!m->built && (m->tab = tcache_take(m)) != NULL) {
			m->built = 1;
		} else if (!m->built && (atomic_load(&eager) || m->asked)) {
			wake = true;
		}
	}
	free(L.v);
	atomic_store(&cur_set, s);
	atomic_store(&cur_gen, s->gen);
	if (old && grace())
		free_set(old, s);
	if (wake)
		rt_modules_wake_builder();
	return 0;
}

/* fork: the child must not inherit refresh_mu held by a thread that does
 * not exist there, nor a count of readers that were in other threads */
RT_FORK_TEXT static void fork_prepare(void)
{
	pthread_mutex_lock(&refresh_mu);
}

RT_FORK_TEXT static void fork_parent(void)
{
	pthread_mutex_unlock(&refresh_mu);
}

static atomic_bool child_builder;   /* this fork child wants its builder at once */

RT_FORK_TEXT static void fork_child(void)
{
	atomic_store(&readers, 0);
	pthread_mutex_unlock(&refresh_mu);
	atomic_store(&builder_pid, 0);   /* its builder did not survive the fork */
}

void rt_modules_child_wants_builder(void)
{
	atomic_store(&child_builder, true);
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
	__atomic_store_n(&s->gen, next_gen, __ATOMIC_RELEASE);
	if (atomic_load(&cur_set) == s)
		atomic_store(&cur_gen, next_gen);
	next_gen++;
}

/* ---- the builder ---------------------------------------------------------- */

/* [AS-safe] */
void rt_modules_wake_builder(void)
{
	atomic_fetch_add(&build_seq, 1);
	syscall(SYS_futex, &build_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Build what was asked for (or, eager, everything); refresh_mu held. */
static void build_wanted_locked(void)
{
	rt_modset *s = atomic_load(&cur_set);
	bool all = atomic_load(&eager);
	for (size_t i = 0; s && i < s->n; i++)
		if (!__atomic_load_n(&s->m[i].built, __ATOMIC_ACQUIRE) &&
		    (all || __atomic_load_n(&s->m[i].asked, __ATOMIC_ACQUIRE)))
			build_locked(s, i);
}

/* Some module waits for its table (refresh_mu held). */
static bool pending_locked(void)
{
	const rt_modset *s = atomic_load(&cur_set);
	bool all = atomic_load(&eager);
	for (size_t i = 0; s && i < s->n; i++)
		if (!__atomic_load_n(&s->m[i].built, __ATOMIC_ACQUIRE) &&
		    (all || __atomic_load_n(&s->m[i].asked, __ATOMIC_ACQUIRE)))
			return true;
	return false;
}

/* The builder: while the heap profile runs (builder_keep) it waits for
 * work; otherwise it leaves once nothing is asked, and the next ordinary
 * context that finds work starts another (a program's threads are not
 * joined by one of ours for good). */
static void *builder_main(void *arg)
{
	(void)arg;
	rt_self_enter();   /* its allocations are the runtime's */
	prctl(PR_SET_NAME, "cprof-tables");
	pid_t me = getpid();
	for (;;) {
		uint32_t seq = atomic_load(&build_seq);
		pthread_mutex_lock(&refresh_mu);
		build_wanted_locked();
		pthread_mutex_unlock(&refresh_mu);
		if (atomic_load(&builder_keep)) {
			syscall(SYS_futex, &build_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
			continue;
		}
		if (atomic_load(&build_seq) != seq)
			continue;
		atomic_store(&builder_pid, 0);
		pid_t z = 0;
		/* asked meanwhile: keep going if no other builder took over */
		if (atomic_load(&build_seq) == seq || !atomic_compare_exchange_strong(&builder_pid, &z, me))
			break;
	}
	rt_self_leave();
	return NULL;
}

/* Start this process's builder unless it runs, when it has work (need:
 * the caller knows) or should stay.  Ordinary context only (it creates a
 * thread): never from a hook. */
static void builder_start(bool need)
{
	pid_t me = getpid();
	pid_t cur = atomic_load(&builder_pid);
	if (cur == me)
		return;
	if (!need && !atomic_load(&builder_keep)) {
		pthread_mutex_lock(&refresh_mu);
		need = pending_locked();
		pthread_mutex_unlock(&refresh_mu);
		if (!need)
			return;
	}
	if (!atomic_compare_exchange_strong(&builder_pid, &cur, me))
		return;
	if (rt_quiet_thread_start("cprof-tables", builder_main, NULL) != 0)
		atomic_store(&builder_pid, 0);
}

void rt_modules_start_builder(void)
{
	builder_start(false);
}

void rt_modules_forked(void)
{
	/* a load first: an exchange would write the page in every child */
	if (!atomic_load(&child_builder) || !atomic_exchange(&child_builder, false) ||
	    !atomic_load(&cur_set))
		return;
	int e = errno;
	rt_self_enter();
	builder_start(true);
	rt_self_leave();
	errno = e;
}

void rt_modules_ask(uintptr_t addr)
{
	atomic_fetch_add_explicit(&rt_modules_asked, 1, memory_order_relaxed);
	rt_modules_enter();
	const rt_modset *s = atomic_load(&cur_set);
	bool wake = false;
	for (size_t i = 0; s && i < s->n; i++)
		if (s->m[i].lo <= addr && addr < s->m[i].hi) {
			int z = 0;
			wake = !__atomic_load_n(&s->m[i].built, __ATOMIC_ACQUIRE) &&
			       __atomic_compare_exchange_n((int *)&s->m[i].asked, &z, 1, false,
							   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
			break;
		}
	rt_modules_leave();
	if (wake)
		rt_modules_wake_builder();
}

int rt_modules_init(void)
{
	pthread_once(&atfork_once, register_atfork);
	rt_self_enter();
	pthread_mutex_lock(&refresh_mu);
	int rc = 0;
	atomic_store(&eager, true);
	if (!atomic_load(&cur_set))
		rc = refresh_locked();
	/* here, not by the builder: a profile's start (ordinary context)
	 * needs every table before its first signal */
	build_wanted_locked();
	pthread_mutex_unlock(&refresh_mu);
	rt_self_leave();
	return rc;
}

int rt_modules_list(bool keep_builder)
{
	pthread_once(&atfork_once, register_atfork);
	if (keep_builder)
		atomic_store(&builder_keep, true);
	if (atomic_load(&cur_set) && (!keep_builder || atomic_load(&builder_pid) == getpid()))
		return 0;
	rt_self_enter();
	pthread_mutex_lock(&refresh_mu);
	int rc = 0;
	if (!atomic_load(&cur_set))
		rc = refresh_locked();
	pthread_mutex_unlock(&refresh_mu);
	builder_start(false);
	rt_self_leave();
	return rc;
}

int rt_modules_init_lazy(void)
{
	return rt_modules_list(true);
}

bool rt_modules_wait_built(uintptr_t addr, int timeout_ms)
{
	for (int i = 0;; i++) {
		int state = 0;   /* 0 not listed, 1 unbuilt, 2 built */
		const rt_modset *s = atomic_load(&cur_set);
		for (size_t k = 0; s && k < s->n; k++)
			if (s->m[k].lo <= addr && addr < s->m[k].hi) {
				state = __atomic_load_n(&s->m[k].built, __ATOMIC_ACQUIRE) ? 2 : 1;
				break;
			}
		if (state != 1 || i >= timeout_ms || atomic_load(&builder_pid) != getpid())
			return state == 2;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

bool rt_modules_wait_idle(int timeout_ms)
{
	for (int i = 0;; i++) {
		pthread_mutex_lock(&refresh_mu);
		bool p = pending_locked();
		pthread_mutex_unlock(&refresh_mu);
		if (!p)
			return true;
		if (i >= timeout_ms || atomic_load(&builder_pid) != getpid())
			return false;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

void rt_modules_refresh(void)
{
	rt_self_enter();   /* the listing's memory is the runtime's, not the program's */
	pthread_mutex_lock(&refresh_mu);
	(void)refresh_locked();
	pthread_mutex_unlock(&refresh_mu);
	builder_start(false);
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
	atomic_store(&cur_gen, 0);
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
	if (!h)
		return h;
	/* the runtime's work from here (a CPU sample in it is not the
	 * program's dlopen, even in the few instructions that find nothing
	 * to do) */
	rt_self_enter();
	if (atomic_load(&cur_set)) {
		int e = errno;
		rt_modules_refresh();
		errno = e;
	}
	rt_heap_got_dlopened();   /* keeps errno */
	rt_self_leave();
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
