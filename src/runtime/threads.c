/*
 * threads.c - the thread registry, pthread_create interposition and fork.
 *
 * The registry maps each profiled thread's id to its CPU timer, under one
 * mutex that no signal handler ever takes.  cprof_cpu_start arms a timer
 * for every thread listed in /proc/self/task; threads created afterwards
 * arm their own: our pthread_create (the libc one found with
 * dlsym(RTLD_NEXT) at load time) starts each thread in a trampoline that
 * registers it before calling the program's start routine, and a
 * thread-specific-data destructor deletes its timer when it exits (return,
 * pthread_exit or cancellation).  A thread registered twice (created while
 * start enumerates) keeps one timer.  Timers of threads that existed before
 * the start and exit during it are deleted at stop.
 *
 * fork: the registry lock is held across fork() (pthread_atfork) so the
 * child never inherits it locked by another thread; the child, which
 * inherits no timers, starts with profiling off and an empty registry.
 *
 * For thread snapshots and the threadcreate profile (tprof.c, issue 6),
 * pthread_create also unwinds its caller's stack (rt_unwind_here, a few
 * microseconds against a pthread_create's tens) and (1) counts it in the
 * threadcreate table, an open-addressed table of distinct creating stacks
 * with counts, bounded (TC_MAX stacks; creations past it are counted
 * without a stack), and (2) hands it to the new thread, which lists itself
 * in the info registry (tid, pthread_t, creator's tid and stack, start
 * routine, and the address of its label slot when labels.c publishes it)
 * before running the program's routine, and leaves it from the same
 * thread-specific-data destructor that deletes its timer.  Both tables live
 * under ti_mu, a mutex no signal handler takes; a label slot is read only
 * under ti_mu, while its thread (whose destructor needs ti_mu to leave)
 * is alive, and with process_vm_readv, for a thread that left with a raw
 * exit system call and never ran its destructor.  A fork child keeps neither: its only thread is new, and it
 * created no threads yet.
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_cpu.h"
#include "rt_labels.h"
#include "rt_lifecycle.h"
#include "rt_sig.h"
#include "cprof_util.h"
#include "cprof.h"
#include "tprof.h"
#include "trace_int.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/single_threaded.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static create_fn real_create;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg { int tid; rt_clock_src src; } *reg;
static size_t nreg, capreg;
static bool reg_active;
static long reg_period;
static _Atomic pid_t reg_pid;        /* the process whose clocks these are */
static pthread_key_t exit_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
void (*rt_fork_child_hook)(void);
static __thread __attribute__((tls_model("initial-exec"))) uintptr_t tls_start_fn;

static int my_tid(void)
{
	return (int)syscall(SYS_gettid);
}

/* Arm a clock for tid unless it has one; *src (if given) the new one, else
 * kind 0.  reg_mu held. */
static int reg_add(int tid, rt_clock_src *src)
{
	if (src)
		src->kind = 0;
	for (size_t i = 0; i < nreg; i++)
		if (reg[i].tid == tid)
			return 0;
	if (nreg == capreg) {
		size_t nc = capreg ? capreg * 2 : 64;
		struct reg *nr = realloc(reg, nc * sizeof *nr);
		if (!nr)
			return CPROF_ERR_NOMEM;
		reg = nr;
		capreg = nc;
	}
	rt_clock_src c;
	int rc = rt_clock_src_create(tid, &c);
	if (rc < 0)
		return rc;   /* the thread may have exited meanwhile */
	reg[nreg].tid = tid;
	reg[nreg].src = c;
	nreg++;
	if (src)
		*src = c;
	return 0;
}

static void reg_remove(int tid)
{
	for (size_t i = 0; i < nreg; i++)
		if (reg[i].tid == tid) {
			rt_clock_src_delete(&reg[i].src);
			reg[i] = reg[--nreg];
			return;
		}
}

/* ---- issue 6: thread info registry and threadcreate table (tprof.h) ---------- */

typedef struct tentry {
	int tid, creator_tid;
	uintptr_t self, start_fn;
	const uint32_t *slot;      /* the thread's label slot, or NULL */
	int ncreator;
	uintptr_t creator[RT_CREATE_FRAMES];
} tentry;

typedef struct tcrec {
	uint64_t hash, count;      /* count 0: empty slot */
	int n;
	uintptr_t pcs[RT_CREATE_FRAMES];
} tcrec;

#define TC_MAX 4096            /* distinct creating stacks kept */

static pthread_mutex_t ti_mu = PTHREAD_MUTEX_INITIALIZER;
static tentry *ti;
static size_t nti, capti;
static tcrec *tc;              /* open-addressed, tccap a power of two */
static size_t ntc, tccap;
static uint64_t tc_over;       /* creations past TC_MAX */
static tcrec *tc_forked;       /* a fork child: the parent's table, unused */

static uint64_t stack_hash(const uintptr_t *pcs, int n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)n;
	for (int i = 0; i < n; i++)
		h = cprof_hash_u64(h ^ pcs[i]);
	return h ? h : 1;
}

static tcrec *tc_slot(tcrec *t, size_t cap, uint64_t h, const uintptr_t *pcs, int n)
{
	size_t j = h & (cap - 1);
	while (t[j].count && !(t[j].hash == h && t[j].n == n &&
			       memcmp(t[j].pcs, pcs, (size_t)n * sizeof *pcs) == 0))
		j = (j + 1) & (cap - 1);
	return &t[j];
}

/* Count one creation from pcs.  ti_mu held. */
static void tc_count(const uintptr_t *pcs, int n)
{
	uint64_t h = stack_hash(pcs, n);
	if (tccap) {
		tcrec *r = tc_slot(tc, tccap, h, pcs, n);
		if (r->count) {
			r->count++;
			return;
		}
	}
	if (ntc >= TC_MAX) {
		tc_over++;
		return;
	}
	if ((ntc + 1) * 2 > tccap) {
		size_t nc = tccap ? tccap * 2 : 64;
		tcrec *nt = calloc(nc, sizeof *nt);
		if (!nt) {
			tc_over++;
			return;
		}
		for (size_t i = 0; i < tccap; i++)
			if (tc[i].count)
				*tc_slot(nt, nc, tc[i].hash, tc[i].pcs, tc[i].n) = tc[i];
		free(tc);
		tc = nt;
		tccap = nc;
	}
	tcrec *r = tc_slot(tc, tccap, h, pcs, n);
	r->hash = h;
	r->count = 1;
	r->n = n;
	memcpy(r->pcs, pcs, (size_t)n * sizeof *pcs);
	ntc++;
}

uint64_t rt_threadcreate_each(void (*fn)(void *ctx, const uintptr_t *pcs, int n,
					 uint64_t count), void *ctx)
{
	uint64_t total = 0;
	pthread_mutex_lock(&ti_mu);
	for (size_t i = 0; i < tccap; i++)
		if (tc[i].count) {
			fn(ctx, tc[i].pcs, tc[i].n, tc[i].count);
			total += tc[i].count;
		}
	if (tc_over) {
		fn(ctx, NULL, 0, tc_over);
		total += tc_over;
	}
	pthread_mutex_unlock(&ti_mu);
	return total;
}

static void ti_add(const tentry *e)
{
	pthread_mutex_lock(&ti_mu);
	if (nti == capti) {
		size_t nc = capti ? capti * 2 : 64;
		tentry *n = realloc(ti, nc * sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&ti_mu);
			return;   /* the thread is shown without its creator */
		}
		ti = n;
		capti = nc;
	}
	ti[nti++] = *e;
	pthread_mutex_unlock(&ti_mu);
}

static void ti_remove(int tid)
{
	pthread_mutex_lock(&ti_mu);
	for (size_t i = 0; i < nti; i++)
		if (ti[i].tid == tid) {
			ti[i] = ti[--nti];
			break;
		}
	pthread_mutex_unlock(&ti_mu);
}

static int cmp_tinfo(const void *a, const void *b)
{
	int x = ((const rt_tinfo *)a)->tid, y = ((const rt_tinfo *)b)->tid;
	return (x > y) - (x < y);
}

int rt_tinfo_list(rt_tinfo **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&ti_mu);
	rt_tinfo *v = nti ? malloc(nti * sizeof *v) : NULL;
	if (nti && !v) {
		pthread_mutex_unlock(&ti_mu);
		rt_set_error("cannot list threads: out of memory");
		return CPROF_ERR_NOMEM;
	}
	for (size_t i = 0; i < nti; i++) {
		const tentry *e = &ti[i];
		rt_tinfo *d = &v[i];
		d->tid = e->tid;
		d->creator_tid = e->creator_tid;
		d->self = e->self;
		d->start_fn = e->start_fn;
		/* read without faulting: a thread that left with a raw exit
		 * system call never ran its destructor, and its TLS may be gone */
		uint32_t lv = 0;
		struct iovec l = { &lv, sizeof lv }, r = { (void *)e->slot, sizeof lv };
		d->has_labels = e->slot &&
				syscall(SYS_process_vm_readv, (long)getpid(), &l, 1L, &r, 1L, 0L) ==
					(long)sizeof lv;
		d->labels = lv;
		d->ncreator = e->ncreator;
		memcpy(d->creator, e->creator, sizeof d->creator);
	}
	size_t k = nti;
	pthread_mutex_unlock(&ti_mu);
	if (k > 1)
		qsort(v, k, sizeof *v, cmp_tinfo);
	*out = v;
	*n = k;
	return 0;
}

const rt_tinfo *rt_tinfo_find(const rt_tinfo *v, size_t n, int tid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].tid == tid)
			return &v[mid];
		if (v[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* -------------------------------------------------------------------------------- */

/* A thread ends: the CPU time it used since its last sample (all of it,
 * for a thread shorter than one interval) becomes a sample of its start
 * routine (its stack now is the exit path), counted as no sample; its
 * clock goes; it leaves the info registry. */
static void on_thread_exit(void *v)
{
	(void)v;
	int e = errno;
	int tid = my_tid();
	/* SIGPROF blocked only while a CPU profile runs: a thread's end costs
	 * nothing more otherwise */
	bool cpu = atomic_load(&rt_cpu_on);
	int csig = atomic_load(&rt_cpu_clock_sig);
	sigset_t prof, old;
	if (cpu && csig) {
		sigemptyset(&prof);
		sigaddset(&prof, csig);
		pthread_sigmask(SIG_BLOCK, &prof, &old);
	}
	uint64_t tail = cpu ? rt_cpu_thread_unsampled() : 0;
	pthread_mutex_lock(&reg_mu);
	reg_remove(tid);
	pthread_mutex_unlock(&reg_mu);
	if (tail && tls_start_fn) {
		rt_cpu_push(&tls_start_fn, 1, 0, tail);
		atomic_fetch_add(&rt_cpu_tail_ns, tail);
		atomic_fetch_add(&rt_cpu_tail_samples, 1);
	}
	if (cpu && csig)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	ti_remove(tid);
	rt_trace_thread_end();
	rt_trace_thread_gone();
	errno = e;
}

/* fork.  The locks are taken around fork only when another thread could
 * hold them (__libc_single_threaded: the program and the runtime never
 * started one); the child writes only what differs from its new state.
 * A fork-heavy program that profiles nothing (a shell, make) pays a
 * copy-on-write fault, in the parent and in the child, for every page
 * these handlers write. */
static bool fork_locked;   /* written before fork only */

RT_FORK_TEXT static void fork_prepare(void)
{
	bool lock = !__libc_single_threaded;
	if (lock) {
		pthread_mutex_lock(&reg_mu);
		pthread_mutex_lock(&ti_mu);
	}
	if (fork_locked != lock)
		fork_locked = lock;
}
RT_FORK_TEXT static void fork_parent(void)
{
	if (fork_locked) {
		pthread_mutex_unlock(&ti_mu);
		pthread_mutex_unlock(&reg_mu);
	}
}
RT_FORK_TEXT static void fork_child(void)
{
	rt_unwind_forked();
	if (fork_locked)
		pthread_mutex_init(&ti_mu, NULL);
	if (nti)
		nti = 0;    /* the child's only thread is new */
	/* and it created no thread yet: a new table when it does (the
	 * parent's is left as it is, not rewritten: O(1) per fork, and kept
	 * reachable so leak checkers stay quiet) */
	if (tc) {
		tc_forked = tc;
		tc = NULL;
	}
	if (tccap || ntc || tc_over) {
		tccap = 0;
		ntc = 0;
		tc_over = 0;
	}
	if (atomic_load(&rt_cpu_on))
		atomic_store(&rt_cpu_on, 0);
	if (fork_locked)
		pthread_mutex_init(&reg_mu, NULL);
	for (size_t i = 0; i < nreg; i++)
		rt_clock_src_forget(&reg[i].src);   /* counters' descriptors are */
	rt_clock_src_child_reset();
	if (nreg)
		nreg = 0;   /* timers are not inherited */
	if (reg_active)
		reg_active = false;
	rt_ring_reset();
	rt_self_fork_child();
	rt_sig_fork_child();
	rt_collector_forget();
	if (rt_fork_child_hook)
		rt_fork_child_hook();
}

static void do_init(void)
{
	if (!real_create)
		real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	pthread_key_create(&exit_key, on_thread_exit);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	/* the pages fork_child's callees read but this process may never
	 * have touched (nothing listed, no collector): read here, they are
	 * mapped (the zero page) and fork copies the mapping, where each was
	 * a page fault in every child */
	(void)rt_self_tid(INT_MAX);
	rt_collector_touch();
}

void rt_threads_init(void)
{
	pthread_once(&init_once, do_init);
}

int rt_threads_timers_start(long period_ns)
{
	pthread_mutex_lock(&reg_mu);
	int rc = rt_cpu_clocks_begin(period_ns);
	if (rc < 0) {
		pthread_mutex_unlock(&reg_mu);
		return rc;
	}
	reg_active = true;
	reg_period = period_ns;
	atomic_store(&reg_pid, getpid());
	DIR *d = opendir("/proc/self/task");
	if (!d) {
		rc = CPROF_ERR_SYSTEM;
		rt_set_error("cannot list threads: /proc/self/task: %s", strerror(errno));
	} else {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			int tid = atoi(de->d_name);
			if (rt_self_tid(tid))
				continue;   /* the runtime's own threads */
			int r = reg_add(tid, NULL);
			if (r == CPROF_ERR_NOMEM)
				rc = r;
		}
		closedir(d);
	}
	if (rc == 0 && nreg == 0) {
		rc = CPROF_ERR_SYSTEM;
		rt_set_error("cannot create CPU timers: %s", strerror(errno));
	}
	pthread_mutex_unlock(&reg_mu);
	if (rc < 0)
		rt_threads_timers_stop();
	return rc;
}

void rt_threads_timers_stop(void)
{
	pthread_mutex_lock(&reg_mu);
	reg_active = false;
	for (size_t i = 0; i < nreg; i++)
		rt_clock_src_delete(&reg[i].src);
	nreg = 0;
	pthread_mutex_unlock(&reg_mu);
}

void rt_threads_clocks_resignal(int sig)
{
	pthread_mutex_lock(&reg_mu);
	atomic_store(&rt_cpu_clock_sig, sig);
	for (size_t i = 0; i < nreg; i++)
		rt_clock_src_resignal(reg[i].tid, &reg[i].src);
	pthread_mutex_unlock(&reg_mu);
}

bool rt_threads_clocks_suspend(void)
{
	/* a vfork child shares this memory and runs no fork handler: the
	 * registry is its parent's, not to be touched */
	if (getpid() != atomic_load(&reg_pid))
		return false;
	pthread_mutex_lock(&reg_mu);
	bool was = reg_active;
	long period = reg_period;
	pthread_mutex_unlock(&reg_mu);
	if (!was)
		return false;
	rt_threads_timers_stop();
	pthread_mutex_lock(&reg_mu);
	reg_period = period;
	pthread_mutex_unlock(&reg_mu);
	return true;
}

void rt_threads_clocks_resume(void)
{
	if (atomic_load(&rt_cpu_on))
		(void)rt_threads_timers_start(reg_period);
}

/* ---- pthread_create -------------------------------------------------------- */

struct tramp {
	void *(*fn)(void *);
	void *arg;
	uint32_t labels;    /* inherited label set (labels.c), or 0 */
	int creator_tid;
	int ncreator;
	uintptr_t creator[RT_CREATE_FRAMES];
};

/* The two functions every new thread runs before the program's routine
 * sit in sections of their own, so the sampling handler can tell their
 * instructions from the program's: a clock armed inside tramp_begin may
 * fire in the few instructions outside its rt_self_enter/leave window
 * (its prologue and epilogue, rt_self_enter's and rt_self_leave's own,
 * tramp_start's), and that is the runtime's work too (rt_threads_starting). */
#define TRAMP_BEGIN_TEXT __attribute__((section("cprof_tramp_begin"), noinline))
#define TRAMP_START_TEXT __attribute__((section("cprof_tramp_start"), noinline))
extern const char __start_cprof_tramp_begin[], __stop_cprof_tramp_begin[];
extern const char __start_cprof_tramp_start[], __stop_cprof_tramp_start[];

static bool in_text(uintptr_t pc, const char *lo, const char *hi)
{
	return pc >= (uintptr_t)lo && pc < (uintptr_t)hi;
}

/* [AS-safe] A stack (leaf first, as rt_unwind gives it) caught in a new
 * thread's start-up: its leaf is in either function, or its leaf's caller
 * is tramp_begin.  Only tramp_begin's callees are checked one frame down:
 * tramp_start calls the program's routine last, which a compiler that
 * does not make it a tail call would leave above tramp_start. */
bool rt_threads_starting(const uintptr_t *pcs, int n)
{
	if (n <= 0)
		return false;
	if (in_text(pcs[0], __start_cprof_tramp_begin, __stop_cprof_tramp_begin) ||
	    in_text(pcs[0], __start_cprof_tramp_start, __stop_cprof_tramp_start))
		return true;
	return n > 1 && in_text(pcs[1], __start_cprof_tramp_begin, __stop_cprof_tramp_begin);
}

/* Everything a new thread does before the program's routine: kept out of
 * tramp_start so that its call of the routine stays a tail call (no local
 * of tramp_start has its address taken) and no runtime frame sits under
 * the program's in any stack. */
static TRAMP_BEGIN_TEXT void tramp_begin(struct tramp *t, void *(*fn)(void *))
{
	rt_self_enter();   /* the thread's setup is the runtime's work */
	rt_labels_set_current(t->labels);
	int tid = my_tid();
	/* a thread made with every signal blocked (liblzma's workers, thread
	 * pools that leave signals to the main thread) would never see its
	 * clock's signal: while it is the runtime's (SIGPROF, or the
	 * real-time signal that replaces it), only its clocks send it, so it
	 * is unblocked here and nothing else changes */
	int csig = atomic_load(&rt_cpu_clock_sig);
	if (rt_sigprof_ours() && csig) {
		sigset_t prof;
		sigemptyset(&prof);
		sigaddset(&prof, csig);
		pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
	}
	rt_clock_src src = { 0 };
	pthread_mutex_lock(&reg_mu);
	if (reg_active)
		reg_add(tid, &src);
	pthread_mutex_unlock(&reg_mu);
	if (src.kind)
		rt_cpu_thread_begin(&src);
	tls_start_fn = (uintptr_t)fn;
	int t_creator = t->creator_tid;
	tentry e = { .tid = tid, .creator_tid = t->creator_tid, .self = (uintptr_t)pthread_self(),
		     .start_fn = (uintptr_t)fn, .slot = rt_labels_slot(),
		     .ncreator = t->ncreator };
	memcpy(e.creator, t->creator, sizeof e.creator);
	free(t);
	ti_add(&e);
	/* on exit: delete its clock, leave the info registry */
	pthread_setspecific(exit_key, (void *)1);
	if (rt_trace_active())
		rt_trace_thread_start(t_creator);
	rt_self_leave();
}

static TRAMP_START_TEXT void *tramp_start(void *p)
{
	struct tramp *t = p;
	void *(*fn)(void *) = t->fn;
	void *arg = t->arg;
	tramp_begin(t, fn);
	return fn(arg);
}

int rt_pthread_create_real(pthread_t *th, const pthread_attr_t *attr,
			   void *(*fn)(void *), void *arg)
{
	rt_threads_init();
	if (!real_create)
		return EAGAIN;
	return real_create(th, attr, fn, arg);
}

int rt_quiet_thread_start(const char *name, void *(*fn)(void *), void *arg)
{
	/* the new thread inherits this mask */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_t th;
	rt_self_enter();   /* the new stack's allocations are the runtime's */
	int rc = rt_runtime_thread_create(&th, &at, name, fn, arg);
	rt_self_leave();
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

__attribute__((visibility("default")))
int pthread_create(pthread_t *th, const pthread_attr_t *attr,
		   void *(*fn)(void *), void *arg)
{
	rt_threads_init();
	if (!real_create)
		return EAGAIN;
	rt_self_enter();
	struct tramp *t = malloc(sizeof *t);
	rt_self_leave();
	if (!t)
		return real_create(th, attr, fn, arg);
	t->fn = fn;
	t->arg = arg;
	t->labels = rt_labels_inherited();
	t->creator_tid = my_tid();
	/* the unwinder's tables, once, when this process profiles at all
	 * (rt_wants_stacks); otherwise only the call site is kept, and the
	 * program's first pthread_create does not pay tens of ms for them */
	static atomic_int want = -1;
	int w = atomic_load_explicit(&want, memory_order_acquire);
	if (w < 0) {
		w = rt_wants_stacks();
		atomic_store_explicit(&want, w, memory_order_release);
	}
	if (w)
		rt_modules_list(false);   /* cheap once done */
	/* the program's call site first (skip: this function); kept here too,
	 * since the new thread frees t, maybe before real_create returns */
	uintptr_t pcs[RT_CREATE_FRAMES];
	int n;
	if (rt_modules_ready()) {
		n = rt_unwind_here(pcs, RT_CREATE_FRAMES, 1);
		/* a module without its table: ordinary context here (this call
		 * creates a thread anyway): start the builder, wait a little for
		 * it (bounded) and walk again; never build here */
		for (int tries = 0; tries < 4 && rt_unwind_unbuilt(); tries++) {
			uintptr_t at = rt_unwind_unbuilt();
			rt_self_enter();   /* the runtime's wait, not the program's (trace) */
			rt_modules_start_builder();
			bool built = rt_modules_wait_built(at, 200);
			rt_self_leave();
			if (!built)
				break;
			n = rt_unwind_here(pcs, RT_CREATE_FRAMES, 1);
		}
	} else {
		pcs[0] = (uintptr_t)__builtin_return_address(0) - 1;
		n = 1;
	}
	t->ncreator = n;
	memcpy(t->creator, pcs, (size_t)n * sizeof *pcs);
	int rc = real_create(th, attr, tramp_start, t);
	if (rc != 0) {
		rt_self_enter();
		free(t);
		rt_self_leave();
		return rc;
	}
	rt_self_enter();
	pthread_mutex_lock(&ti_mu);
	tc_count(pcs, n);
	pthread_mutex_unlock(&ti_mu);
	rt_self_leave();
	return rc;
}
