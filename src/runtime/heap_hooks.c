/*
 * heap_hooks.c - the heap profiler's interposition of the malloc family
 * (malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size) and of
 * C++ operator new/delete in all their forms (plain, array, nothrow,
 * aligned, sized).
 *
 * Each hook calls the allocator found at the first call (resolve): the
 * next one in the search order (glibc's, or a jemalloc/tcmalloc linked to
 * the program or preloaded after libcprof.so), or the one defined before
 * libcprof.so (preloaded first, or in the program), whose functions the
 * program binds to; both are looked up as definitions in the modules'
 * dynamic symbol tables (heap_got.c), not with dlsym, which can answer a
 * program's canonical PLT entry (see sym()).  Under an allocator defined
 * in front, heap_got.c routes the program's calls through these hooks by
 * patching the modules' GOTs.  What is in front may instead be a shim
 * that forwards to the next malloc (heaptrack's preload, a tracer): that
 * next malloc is ours, so forwarding to it would loop; resolve asks it
 * for one block and, if the call comes back here, forwards to the next
 * allocator after us as before (the shim's calls reach the hooks).  Then
 * it samples: every
 * thread keeps, in initial-exec TLS, a countdown of bytes to its next
 * sample point (stratified by default, Go's Poisson process on request:
 * see "sampling" below); an allocation that does not exhaust it costs one
 * TLS compare and subtract (malloc: checked before the call, which is then
 * a tail call; ~7 instructions), and free of a block in a granule the
 * filter does not mark costs one byte read (~9 instructions).  One that
 * does takes the slow path: the sampler moves on, the caller's stack is
 * unwound (rt_unwind_here,
 * signal-safe, allocation-free), and the block is recorded in its
 * (stack, size, labels, thread) bucket and in the address table
 * (heap_table.c).  free and realloc consult the table only when the
 * filter says a sampled block may start in that 256-byte granule.
 *
 * operator new calls the next malloc directly (so its frame is not the
 * leaf of the stack, and tcmalloc's or jemalloc's own operator new are
 * covered); only when that fails does it call the next operator new,
 * which runs the new_handler loop and throws bad_alloc exactly as
 * without us.  delete forgets the block and calls the next free.
 *
 * Never breaking the program:
 *   - bootstrap: dlsym may allocate before the real functions are known;
 *     those calls are served from a static pool, whose pointers free and
 *     realloc recognise;
 *   - the runtime's own allocations (rt_self_depth() > 0, the collector
 *     thread, and any allocation called directly from libcprof.so's own
 *     code) are never sampled; the slow path itself never allocates;
 *   - errno is preserved by free; results, errno and NULL returns are the
 *     next allocator's; invalid and double frees reach it unchanged;
 *   - a sample the table cannot hold is dropped, never a failure;
 *   - per-thread state is TLS only (nothing to free at thread exit).
 */
#include "heap_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_cpu.h"
#include "rt_labels.h"
#include "cprof_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))
/* The hooks run before a sanitizer runtime loaded after libcprof.so has
 * initialised (the loader's own mallocs): they are not instrumented.  The
 * slow path is, as it only runs after our constructor. */
#define NOSAN __attribute__((no_sanitize_address, no_sanitize_undefined))
#define EXPORT __attribute__((visibility("default"))) NOSAN
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- the next allocator ---------------------------------------------------- */

typedef struct next_fns {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*usable)(void *);
	void *(*znwm)(size_t);
	void *(*znam)(size_t);
	void *(*znwm_nt)(size_t, const void *);
	void *(*znam_nt)(size_t, const void *);
	void *(*znwm_al)(size_t, size_t);
	void *(*znam_al)(size_t, size_t);
	void *(*znwm_al_nt)(size_t, size_t, const void *);
	void *(*znam_al_nt)(size_t, size_t, const void *);
} next_fns;

static void free_unresolved(void *p);
/* free starts as free_unresolved, so free's fast path jumps through
 * nx.free without testing it */
static next_fns nx = { .free = free_unresolved };
static atomic_int resolve_state;        /* 0 no, 1 resolving, 2 done */
static TLS bool resolving;              /* this thread is inside dlsym */
static TLS bool probing, probe_hit;     /* asking the malloc in front (resolve) */
static bool shim_in_front;              /* it forwards to ours: we use the next one */
static bool hooks_active;
static uintptr_t self_lo, self_hi;      /* libcprof.so's code */

/* glibc's own entry points, the fallback if dlsym finds nothing */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* ---- bootstrap pool ------------------------------------------------------------ */

#define POOL_SIZE (256u << 10)
static char pool[POOL_SIZE] __attribute__((aligned(64)));
static atomic_size_t pool_used;

NOSAN static inline bool in_pool(const void *p)
{
	return (const char *)p >= pool && (const char *)p < pool + POOL_SIZE;
}

NOSAN static void *pool_alloc(size_t n, size_t align)
{
	if (align < 16)
		align = 16;
	if (n > POOL_SIZE || align > 4096) {
		errno = ENOMEM;
		return NULL;
	}
	size_t need = n + align + 16;
	size_t off = atomic_fetch_add(&pool_used, need);
	if (off + need > POOL_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t base = (uintptr_t)(pool + off + 16);
	uintptr_t p = (base + align - 1) & ~(uintptr_t)(align - 1);
	((size_t *)p)[-1] = n;   /* the size, for realloc and usable size */
	/* pin the filter on the block's granules (255 sticks): free's fast
	 * path then needs no pool test, the filtered path checks for the pool */
	for (uintptr_t g = (uintptr_t)(pool + off) >> RT_HFILTER_SHIFT; g <= (p + n) >> RT_HFILTER_SHIFT; g++)
		atomic_store_explicit(&rt_hfilter[rt_hfilter_index(g << RT_HFILTER_SHIFT)], 255,
				      memory_order_relaxed);
	return (void *)p;
}

NOSAN static size_t pool_size(const void *p)
{
	return ((const size_t *)p)[-1];
}

RT_HIDDEN void *rt_heap_malloc(size_t n);

/* The allocator function to forward to: the one in front of us when an
 * allocator is preloaded before libcprof.so (it is the program's, and
 * heap_got.c may route the program's calls through us to it; forwarding
 * to the one after us would mix two allocators' blocks), else the next
 * one after us.  "In front" means a module before libcprof.so in the
 * search order that *defines* the function (rt_front_definition: a
 * dynamic symbol with a section), never dlsym(RTLD_DEFAULT)'s answer as
 * such: for a non-PIE program that takes the address of free, that is
 * the program's canonical PLT entry (an undefined symbol with a value),
 * which calls straight back into our free; dlsym(RTLD_NEXT) answers it
 * too, so the next one is looked up the same way.  Needs self_lo/self_hi. */
NOSAN static void *sym(const char *name, bool front_ok)
{
	if (!self_hi)   /* linked into the program: the next one is libc's */
		return dlsym(RTLD_NEXT, name);
	void *g = front_ok ? rt_front_definition(name, self_lo, false) : NULL;
	if (!g)
		g = rt_front_definition(name, self_lo, true);
	return g;
}

/* The executable segment holding me, read from this module's own ELF
 * header (the linker's __ehdr_start), not from dl_iterate_phdr: the first
 * malloc can come while a sanitizer's runtime, preloaded behind this one,
 * is still setting up its interceptors (dl_iterate_phdr's among them, not
 * callable yet).  Linked into the program (libcprof.a; the module has an
 * interpreter): no range of our own. */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

NOSAN static void find_self(uintptr_t me)
{
	const ElfW(Ehdr) *eh = &__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
	uintptr_t bias = 0;
	bool first = true;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP)
			return;
		if (ph[i].p_type == PT_LOAD && first) {
			bias = (uintptr_t)eh - (ph[i].p_vaddr - ph[i].p_offset);
			first = false;
		}
	}
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		uintptr_t lo = bias + ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
		if (me >= lo && me < hi) {
			self_lo = lo;
			self_hi = hi;
			return;
		}
	}
}

NOSAN static void fill(next_fns *n, bool front_ok)
{
	n->free = (void (*)(void *))sym("free", front_ok);
	n->calloc = (void *(*)(size_t, size_t))sym("calloc", front_ok);
	n->realloc = (void *(*)(void *, size_t))sym("realloc", front_ok);
	n->posix_memalign = (int (*)(void **, size_t, size_t))sym("posix_memalign", front_ok);
	n->aligned_alloc = (void *(*)(size_t, size_t))sym("aligned_alloc", front_ok);
	n->memalign = (void *(*)(size_t, size_t))sym("memalign", front_ok);
	n->valloc = (void *(*)(size_t))sym("valloc", front_ok);
	n->pvalloc = (void *(*)(size_t))sym("pvalloc", front_ok);
	n->usable = (size_t (*)(void *))sym("malloc_usable_size", front_ok);
	n->znwm = (void *(*)(size_t))sym("_Znwm", front_ok);
	n->znam = (void *(*)(size_t))sym("_Znam", front_ok);
	n->znwm_nt = (void *(*)(size_t, const void *))sym("_ZnwmRKSt9nothrow_t", front_ok);
	n->znam_nt = (void *(*)(size_t, const void *))sym("_ZnamRKSt9nothrow_t", front_ok);
	n->znwm_al = (void *(*)(size_t, size_t))sym("_ZnwmSt11align_val_t", front_ok);
	n->znam_al = (void *(*)(size_t, size_t))sym("_ZnamSt11align_val_t", front_ok);
	n->znwm_al_nt = (void *(*)(size_t, size_t, const void *))
		sym("_ZnwmSt11align_val_tRKSt9nothrow_t", front_ok);
	n->znam_al_nt = (void *(*)(size_t, size_t, const void *))
		sym("_ZnamSt11align_val_tRKSt9nothrow_t", front_ok);
	n->malloc = (void *(*)(size_t))sym("malloc", front_ok);
}

NOSAN static void resolve(void)
{
	int z = 0;
	if (atomic_compare_exchange_strong(&resolve_state, &z, 1)) {
		resolving = true;
		find_self((uintptr_t)&resolve);
		next_fns n;
		fill(&n, true);
		bool front = self_hi && rt_front_definition("malloc", self_lo, false);
		if (front && n.malloc) {
			/* something in front defines malloc: an allocator, or a
			 * shim that forwards to the next malloc (heaptrack's, a
			 * tracer's), which is ours: forwarding to it would loop.
			 * Ask it once: a shim calls back here, into the pool. */
			probing = true;
			probe_hit = false;
			void *p = n.malloc(16);
			probing = false;
			if (p)
				n.free(p);
			if (probe_hit) {
				shim_in_front = true;
				fill(&n, false);
			}
		}
		if (!n.malloc || !n.free || !n.calloc || !n.realloc) {
			n.malloc = __libc_malloc;
			n.free = __libc_free;
			n.calloc = __libc_calloc;
			n.realloc = __libc_realloc;
		}
		if (!n.memalign)
			n.memalign = __libc_memalign;
		void *(*m)(size_t) = n.malloc;
		n.malloc = NULL;
		nx = n;
		/* the program's malloc is ours unless something before us
		 * defines it (a shim in front calls ours: the same) */
		hooks_active = self_hi ? !front || shim_in_front
				       : dlsym(RTLD_DEFAULT, "malloc") == (void *)rt_heap_malloc;
		__atomic_store_n(&nx.malloc, m, __ATOMIC_RELEASE);
		resolving = false;
		atomic_store(&resolve_state, 2);
		return;
	}
	if (resolving) {
		if (probing)
			probe_hit = true;   /* the malloc in front forwards to us */
		return;   /* dlsym's own allocation: the caller uses the pool */
	}
	while (atomic_load(&resolve_state) != 2)
		sched_yield();
}

NOSAN static inline bool ready(void)
{
	if (LIKELY(__atomic_load_n(&nx.malloc, __ATOMIC_ACQUIRE) != NULL))
		return true;
	resolve();
	return __atomic_load_n(&nx.malloc, __ATOMIC_ACQUIRE) != NULL;
}

NOSAN void rt_heap_hooks_init(void)
{
	int e = errno;
	(void)ready();
	errno = e;
}

NOSAN bool rt_heap_hooks_active(void)
{
	rt_heap_hooks_init();
	static atomic_bool tried;
	if (!hooks_active && !atomic_exchange(&tried, true)) {
		/* shadowed by an allocator preloaded before us: take the
		 * program's calls over through its modules' GOTs, unless it is
		 * a sanitizer's (which must see every allocation first) */
		if (!dlsym(RTLD_DEFAULT, "__asan_init") && !dlsym(RTLD_DEFAULT, "__tsan_init") &&
		    !dlsym(RTLD_DEFAULT, "__msan_init") && !dlsym(RTLD_DEFAULT, "__hwasan_init") &&
		    rt_heap_got_install() > 0)
			hooks_active = true;
	}
	return hooks_active;
}

/* ---- sampling ------------------------------------------------------------------------ */

/*
 * Two samplers over each thread's stream of allocated bytes, both with
 * one sample point per rate bytes on average and both unbiased:
 *
 *   stratified (the default): the stream is cut into strata of rate
 *     bytes from the thread's first allocation, and each stratum holds
 *     exactly one point, at a uniformly random offset.  A block is
 *     sampled when points fall in it; it counts as many points as fell
 *     in it (one, or two when it straddles a stratum boundary).  Every
 *     byte has probability 1/rate of holding a point, so a block of n
 *     bytes holds n/rate points on average and each point stands for
 *     rate bytes (heap.c scales by that).  Blocks of rate bytes or more
 *     are all recorded, exactly, and stay out of the stream.  Against
 *     Poisson: the number of points in a run of allocations is fixed up
 *     to the two strata at its ends, so 10 MiB allocated in one place is
 *     20 points, give or take one, where a Poisson process gives 20 with
 *     a standard deviation of 4.5; each point's offset is independent,
 *     so periodic allocation patterns do not alias.
 *   poisson (CPROF_HEAP_SAMPLER=poisson): Go's; exponential distances
 *     of mean rate, a block sampled when the countdown runs out in it,
 *     the countdown then drawn afresh; heap.c scales by Go's
 *     1/(1-exp(-size/rate)).
 *
 * The fast path is the same for both: a TLS countdown of bytes; an
 * allocation that does not exhaust it costs a compare and a subtract.
 * The stratified sampler keeps the countdown at most rate (the distance
 * to its next point may be up to 2*rate; the rest is held), so blocks of
 * rate bytes or more always reach the slow path.
 */
static TLS int64_t countdown;        /* bytes the fast path may take */
static TLS int64_t held;             /* stratified: the distance to the next point beyond it */
static TLS int64_t srem;             /* stratified: from the last point to its stratum's end */
static TLS long trate;               /* the rate the thread's points were drawn at; 0 none */
static TLS uint64_t rng;             /* 0: the thread has not started */
static TLS int tid_cache;
static TLS char tname[RT_NAME_MAX];
static TLS unsigned tname_age;

#define OFF_WINDOW (1 << 20)         /* sampling off: look again after this */
#define MAX_RATE (1L << 40)
RT_HIDDEN atomic_bool rt_heap_started;

static uint64_t next_rand(void)
{
	uint64_t x = rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* The distance to the next sample: exponential with mean rate (Go's
 * fastexprand, with 53 random bits). */
static int64_t draw(long rate)
{
	if (rate <= 1)
		return 0;
	double u = ((double)(next_rand() >> 11) + 1.0) * (1.0 / 9007199254740992.0);  /* (0, 1] */
	double d = -log(u) * (double)rate;
	return (int64_t)d + 1;
}

/* Uniform in [0, rate). */
static int64_t offset_in(long rate)
{
	return (int64_t)(((unsigned __int128)next_rand() * (uint64_t)rate) >> 64);
}

static void thread_start(void)
{
	tid_cache = (int)syscall(SYS_gettid);
	uint64_t t = (uint64_t)rt_clock_ns(CLOCK_MONOTONIC);
	rng = ((uint64_t)tid_cache << 32) ^ t ^ (t << 20) ^ (uintptr_t)&countdown;
	if (!rng)
		rng = 0x9E3779B97F4A7C15ull;
	(void)next_rand();
}

void rt_heap_hooks_forked(void)
{
	tid_cache = (int)syscall(SYS_gettid);
}

void rt_heap_hooks_rate_changed(long rate)
{
	(void)rate;
	if (rng != 0) {   /* a started thread starts over at its next allocation */
		countdown = 0;
		held = 0;
		trate = 0;
	}
}

/* stratified: the next point is D bytes away */
static void strat_set(int64_t d, long rate)
{
	countdown = d < rate ? d : rate;
	held = d - countdown;
}

/* How many sample points an allocation of n bytes holds (0: not sampled),
 * moving the thread's sampler past it. */
static unsigned points(size_t n, long rate)
{
	if (atomic_load_explicit(&rt_heap_sampler, memory_order_relaxed) == RT_HSAMPLER_POISSON) {
		if (trate != rate) {
			trate = rate;
			countdown = draw(rate);
			held = 0;
			if ((uint64_t)countdown > n) {
				countdown -= (int64_t)n;
				return 0;
			}
		}
		countdown = draw(rate);
		return n > 0;
	}
	if (trate != rate) {
		/* the first stratum starts here: its point anywhere in it */
		trate = rate;
		int64_t u = rate > 1 ? offset_in(rate) : 0;
		srem = rate - u;
		strat_set(u + 1, rate);
	}
	if (n == 0)
		return 0;
	if (rate <= 1 || n >= (uint64_t)rate)
		return 1;   /* recorded exactly, outside the stream */
	int64_t d = countdown + held;
	if (d > (int64_t)n) {
		strat_set(d - (int64_t)n, rate);
		return 0;
	}
	unsigned k = 0;
	while (d <= (int64_t)n) {   /* at most two: n < rate spans two strata at most */
		k++;
		int64_t u = offset_in(rate);
		d += srem + u;
		srem = rate - u;
	}
	strat_set(d - (int64_t)n, rate);
	return k;
}

/* The slow path: n bytes at p exhausted the countdown (or the thread has
 * not started).  Its frames: this function, then the hook (inlined
 * account), then the program: skip 1. */
__attribute__((noinline, noclone))
static void slow(void *p, size_t n)
{
	long rate = atomic_load_explicit(&rt_heap_rate, memory_order_relaxed);
	if (UNLIKELY(rng == 0))
		thread_start();
	if (rate <= 0) {
		countdown = OFF_WINDOW;
		held = 0;
		trate = 0;
		return;
	}
	if (rate > MAX_RATE)
		rate = MAX_RATE;
	unsigned w = points(n, rate);
	if (w == 0 || rt_self_depth() > 0 || resolving ||
	    tid_cache == atomic_load_explicit(&rt_collector_tid, memory_order_relaxed))
		return;   /* not sampled, or the runtime's own work */
	int e = errno;
	uintptr_t pcs[RT_HEAP_FRAMES];
	int nf = rt_unwind_here(pcs, RT_HEAP_FRAMES, 2);
	/* a module without its table: the builder thread builds it (never
	 * this hook); the real allocation is done and no allocator lock is
	 * held here, so wait for it a little and walk again */
	for (int tries = 0; tries < 4; tries++) {
		uintptr_t at = rt_unwind_unbuilt();
		if (!at || !rt_modules_wait_built(at, 200))
			break;
		nf = rt_unwind_here(pcs, RT_HEAP_FRAMES, 2);
	}
	if (nf > 0 && pcs[0] >= self_lo && pcs[0] < self_hi) {
		errno = e;
		return;   /* called from libcprof.so itself */
	}
	if ((tname_age++ & 31) == 0) {
		memset(tname, 0, sizeof tname);
		syscall(SYS_prctl, PR_GET_NAME, tname, 0L, 0L, 0L);
		tname[RT_NAME_MAX - 1] = 0;
	}
	rt_hbucket *b = rt_hbucket_get(pcs, nf, n, rt_labels_current(), tname);
	if (b && rt_htab_put(p, b, w))
		atomic_fetch_add_explicit(&b->allocs, w, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&rt_hstats_g.dropped, 1, memory_order_relaxed);
	errno = e;
}

/* The fast path, inlined into every allocating hook. */
NOSAN static inline __attribute__((always_inline)) void *account(void *p, size_t n)
{
	if (UNLIKELY(!p))
		return p;
	int64_t c = countdown;
	if (LIKELY((uint64_t)c > n)) {
		countdown = c - (int64_t)n;
		return p;
	}
	/* before heap_env.c's constructor every call comes here (and stops) */
	if (LIKELY(atomic_load_explicit(&rt_heap_started, memory_order_relaxed)))
		slow(p, n);
	return p;
}

/* Forget p if it is a sampled block (counting its free). */
NOSAN static inline void forget(void *p)
{
	if (LIKELY(!RT_HFILTER_MAYBE(p)))
		return;
	int e = errno;
	unsigned w;
	rt_hbucket *b = rt_htab_take(p, &w);
	if (b)
		atomic_fetch_add_explicit(&b->frees, w, memory_order_relaxed);
	errno = e;
}

/* ---- the C functions --------------------------------------------------------------- */

/* rt_heap_malloc is an alias of malloc, so resolve() can tell whether the
 * program's malloc (dlsym(RTLD_DEFAULT)) is this one.  The definition is
 * malloc's: a CPU sample in its few instructions before the tail jump is
 * the program calling malloc, and the debug information names the
 * function so (as the alias the other way round, it was "rt_heap_malloc",
 * the runtime's name, in the program's profile). */
EXPORT void *malloc(size_t n)
{
	/* the countdown first: an allocation that does not reach the next
	 * sample point is a tail call to the next malloc (no frame of ours;
	 * a thread's countdown is 0, hence this path not taken, until the
	 * next allocator is known) */
	int64_t c = countdown;
	if (LIKELY((uint64_t)c > n)) {
		countdown = c - (int64_t)n;
		return nx.malloc(n);
	}
	if (UNLIKELY(!ready()))
		return pool_alloc(n, 16);
	void *p = nx.malloc(n);
	if (LIKELY(p != NULL) && atomic_load_explicit(&rt_heap_started, memory_order_relaxed))
		slow(p, n);
	return p;
}

/* with libc's attributes of malloc, which GCC wants on an alias of it */
RT_HIDDEN void *rt_heap_malloc(size_t n)
	__attribute__((alias("malloc"), malloc, alloc_size(1), nothrow, leaf));

/* free of a block in a granule the filter marks: maybe sampled, maybe a
 * bootstrap pool block */
__attribute__((noinline)) NOSAN static void free_slow(void *p)
{
	if (!p || in_pool(p))
		return;
	forget(p);
	if (UNLIKELY(!ready()))
		return;
	nx.free(p);
}

/* free before the next allocator is known (nx.free's first value): never
 * call through a pointer not set yet (a block from an allocator we have
 * not met is leaked rather than jumped to 0) */
__attribute__((noinline)) NOSAN static void free_unresolved(void *p)
{
	if (!p || !ready())
		return;
	void (*f)(void *) = nx.free;
	if (f && f != free_unresolved)
		f(p);
}

/* The fast path: 8 instructions (the filter's granule, a tail jump).
 * NULL is not tested first: its granule is normally unmarked and the next
 * free takes NULL; free_slow and free_unresolved test it. */
NOSAN static inline __attribute__((always_inline)) void free_body(void *p)
{
	if (UNLIKELY(RT_HFILTER_MAYBE(p))) {
		free_slow(p);
		return;
	}
	nx.free(p);
}

EXPORT void free(void *p)
{
	free_body(p);
}

EXPORT void *calloc(size_t a, size_t b)
{
	if (UNLIKELY(!ready())) {
		size_t n = cprof_mul_size(a, b);
		if (n == SIZE_MAX) {
			errno = ENOMEM;
			return NULL;
		}
		return pool_alloc(n, 16);   /* static: already zero */
	}
	size_t n;
	if (__builtin_mul_overflow(a, b, &n))
		return nx.calloc(a, b);     /* its NULL and errno */
	return account(nx.calloc(a, b), n);
}

NOSAN static inline __attribute__((always_inline)) void *do_realloc(void *p, size_t n)
{
	if (UNLIKELY(in_pool(p))) {
		void *q = ready() ? nx.malloc(n) : pool_alloc(n, 16);
		if (q) {
			size_t old = pool_size(p);
			memcpy(q, p, old < n ? old : n);
		}
		return account(q, n);
	}
	unsigned w = 0;
	rt_hbucket *b = RT_HFILTER_MAYBE(p) ? rt_htab_take(p, &w) : NULL;
	void *q = nx.realloc(p, n);
	if (b) {
		if (!q && n != 0) {
			/* failed: p is still the program's, and still sampled */
			int e = errno;
			if (!rt_htab_put(p, b, w))
				atomic_fetch_add_explicit(&b->frees, w, memory_order_relaxed);
			errno = e;
			return NULL;
		}
		atomic_fetch_add_explicit(&b->frees, w, memory_order_relaxed);
	}
	return account(q, n);
}

/* realloc's whole logic (before the runtime is ready: the bootstrap
 * pool), shared with reallocarray once its size is known. */
static inline void *realloc_n(void *p, size_t n)
{
	if (UNLIKELY(!ready())) {
		if (!p)
			return pool_alloc(n, 16);
		if (!in_pool(p))
			return NULL;
	}
	if (!p)
		return account(nx.malloc(n), n);
	return do_realloc(p, n);
}

EXPORT void *realloc(void *p, size_t n)
{
	return realloc_n(p, n);
}

EXPORT void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc_n(p, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (UNLIKELY(!ready())) {
		if (align < sizeof(void *) || (align & (align - 1)))
			return EINVAL;
		void *p = pool_alloc(n, align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	int rc;
	if (nx.posix_memalign) {
		rc = nx.posix_memalign(out, align, n);
	} else {
		if (align < sizeof(void *) || (align & (align - 1)))
			return EINVAL;
		int e = errno;
		void *p = nx.memalign(align, n);
		errno = e;
		if (!p)
			return ENOMEM;
		*out = p;
		rc = 0;
	}
	if (rc == 0)
		(void)account(*out, n);
	return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (UNLIKELY(!ready()))
		return pool_alloc(n, align);
	return account(nx.aligned_alloc ? nx.aligned_alloc(align, n) : nx.memalign(align, n), n);
}

EXPORT void *memalign(size_t align, size_t n)
{
	if (UNLIKELY(!ready()))
		return pool_alloc(n, align);
	return account(nx.memalign(align, n), n);
}

EXPORT void *valloc(size_t n)
{
	if (UNLIKELY(!ready()))
		return pool_alloc(n, 4096);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return account(nx.valloc ? nx.valloc(n) : nx.memalign(pg, n), n);
}

EXPORT void *pvalloc(size_t n)
{
	if (UNLIKELY(!ready()))
		return pool_alloc(n, 4096);
	if (nx.pvalloc)
		return account(nx.pvalloc(n), n);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t r = n ? (n + pg - 1) & ~(pg - 1) : pg;
	if (r < n) {
		errno = ENOMEM;
		return NULL;
	}
	return account(nx.memalign(pg, r), n);
}

EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (in_pool(p))
		return pool_size(p);
	if (!ready() || !nx.usable)
		return 0;
	return nx.usable(p);
}

/* ---- C++ operator new / delete ------------------------------------------------------- */

/* their prototypes (C linkage, mangled names) */
void *_Znwm(size_t);
void *_Znam(size_t);
void *_ZnwmRKSt9nothrow_t(size_t, const void *);
void *_ZnamRKSt9nothrow_t(size_t, const void *);
void *_ZnwmSt11align_val_t(size_t, size_t);
void *_ZnamSt11align_val_t(size_t, size_t);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *);
void _ZdlPv(void *);
void _ZdaPv(void *);
void _ZdlPvm(void *, size_t);
void _ZdaPvm(void *, size_t);
void _ZdlPvRKSt9nothrow_t(void *, const void *);
void _ZdaPvRKSt9nothrow_t(void *, const void *);
void _ZdlPvSt11align_val_t(void *, size_t);
void _ZdaPvSt11align_val_t(void *, size_t);
void _ZdlPvmSt11align_val_t(void *, size_t, size_t);
void _ZdaPvmSt11align_val_t(void *, size_t, size_t);
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *, size_t, const void *);
void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *, size_t, const void *);

/* libstdc++'s aligned new: alignment at least sizeof(void*), size rounded
 * up to it (aligned_alloc's rule). */
NOSAN static void *aligned_new(size_t n, size_t al)
{
	if (al < sizeof(void *))
		al = sizeof(void *);
	size_t sz = n ? n : 1;
	size_t r = (sz + al - 1) & ~(al - 1);
	if (r < sz)
		return NULL;
	int e = errno;
	void *p;
	if (nx.aligned_alloc)
		p = nx.aligned_alloc(al, r);
	else if (nx.posix_memalign(&p, al, r) != 0)
		p = NULL;
	errno = e;
	return p;
}

/* Every operator new: the next allocator's malloc (or aligned allocation),
 * sampled.  NULL when it failed (after bootstrap): the caller then calls
 * the next operator new of its kind, which runs the new_handler loop,
 * throws bad_alloc or returns NULL exactly as without us. */
NOSAN static inline __attribute__((always_inline)) void *new_body(size_t n, size_t al)
{
	if (UNLIKELY(!ready()))
		return pool_alloc(n ? n : 1, al ? al : 16);
	void *p = al ? aligned_new(n, al) : nx.malloc(n ? n : 1);
	return LIKELY(p != NULL) ? account(p, n) : NULL;
}

/* new_body failed and the next allocator is known */
#define NEW_FAILED(p) (UNLIKELY(!(p)) && ready())

EXPORT void *_Znwm(size_t n)
{
	void *p = new_body(n, 0);
	return NEW_FAILED(p) ? nx.znwm(n) : p;
}

EXPORT void *_Znam(size_t n)
{
	void *p = new_body(n, 0);
	return NEW_FAILED(p) ? nx.znam(n) : p;
}

EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt)
{
	void *p = new_body(n, 0);
	return NEW_FAILED(p) && nx.znwm_nt ? nx.znwm_nt(n, nt) : p;
}

EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt)
{
	void *p = new_body(n, 0);
	return NEW_FAILED(p) && nx.znam_nt ? nx.znam_nt(n, nt) : p;
}

EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)
{
	void *p = new_body(n, al);
	return NEW_FAILED(p) ? nx.znwm_al(n, al) : p;
}

EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)
{
	void *p = new_body(n, al);
	return NEW_FAILED(p) ? nx.znam_al(n, al) : p;
}

EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	void *p = new_body(n, al);
	return NEW_FAILED(p) && nx.znwm_al_nt ? nx.znwm_al_nt(n, al, nt) : p;
}

EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	void *p = new_body(n, al);
	return NEW_FAILED(p) && nx.znam_al_nt ? nx.znam_al_nt(n, al, nt) : p;
}

NOSAN static inline void del(void *p)
{
	free_body(p);
}

EXPORT void _ZdlPv(void *p) { del(p); }
EXPORT void _ZdaPv(void *p) { del(p); }
EXPORT void _ZdlPvm(void *p, size_t n) { (void)n; del(p); }
EXPORT void _ZdaPvm(void *p, size_t n) { (void)n; del(p); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; del(p); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; del(p); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; del(p); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; del(p); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; del(p); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; del(p); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{
	(void)al; (void)nt; del(p);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{
	(void)al; (void)nt; del(p);
}
