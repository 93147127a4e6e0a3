/*
 * test_unwind.c - the runtime's unwinder (rt_unwind, with the module
 * registry and compact tables) against libgcc's _Unwind_Backtrace.
 *
 * Method: at a code point (a "leaf" callback), the test first takes a
 * reference backtrace with _Unwind_Backtrace, outside any signal handler,
 * then sends itself SIGPROF with tgkill; the SIGPROF handler installed here
 * runs rt_unwind on the signal's ucontext.  Above the leaf the two stacks
 * are the same call chain, so rt_unwind's frames from the leaf's caller up
 * must equal the reference exactly (return address - 1, or the exact pc of
 * a frame interrupted by a signal), with the walk ending cleanly (not
 * truncated) at the same outermost frame.  Code points: plain recursion,
 * qsort's callback (libc without frame pointers), std::sort and
 * std::call_once (a C++ library built at run time; libstdc++ and libc),
 * a thread, a dlopen'ed library built -O2 with and without frame pointers
 * and without unwind tables, a nested SIGUSR1 handler, and a per-thread CPU
 * timer interrupting a thread that spins.  A dlopen/dlclose loop refreshing
 * the registry runs while another thread unwinds itself (run under ASan in
 * the sanitizer build); the registry follows dlopen/dlclose by itself
 * (interposed).  Libraries are compiled from tests/runtime/unwind/
 * ($CPROF_SRCDIR) with cc and c++ into a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include "rt_unwind.h"

#define MAXF 128

/* ---- the reference: _Unwind_Backtrace outside the handler ---------------- */

typedef struct trace {
	uintptr_t pc[MAXF];
	int n;
	bool truncated;
} trace;

static _Unwind_Reason_Code ref_cb(struct _Unwind_Context *ctx, void *arg)
{
	trace *t = arg;
	int before = 0;
	uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
	if (ip == 0)
		return _URC_END_OF_STACK;
	if (t->n >= MAXF)
		return _URC_END_OF_STACK;
	/* the same convention as rt_unwind: call sites, exact pcs as they are */
	t->pc[t->n] = t->n == 0 || before ? ip : ip - 1;
	t->n++;
	return _URC_NO_REASON;
}

/* ref.pc[0] is here, ref.pc[1] the caller (the leaf), then its callers. */
__attribute__((noinline)) static void ref_capture(trace *t)
{
	t->n = 0;
	_Unwind_Backtrace(ref_cb, t);
	__asm__ volatile("" ::: "memory");
}

/* ---- the unwinder in a SIGPROF handler ----------------------------------- */

static trace got;
static atomic_int want_sample;   /* the handler records only when set */

static void on_prof(int sig, siginfo_t *si, void *ucv)
{
	if (!atomic_load(&want_sample))
		return;
	got.n = rt_unwind(ucv, got.pc, MAXF, &got.truncated);
	atomic_store(&want_sample, 0);
}

static inline __attribute__((always_inline)) void sample_self(void)
{
	atomic_store(&want_sample, 1);
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGPROF);
}

/* leaf: reference, then sample; both stacks share everything above it */
static trace ref;
static volatile int leaf_calls;

__attribute__((noinline)) static void leaf(void)
{
	ref_capture(&ref);
	sample_self();
	leaf_calls++;
}

static void dump(const char *what, const trace *t)
{
	fprintf(stderr, "%s (%d frames%s):\n", what, t->n, t->truncated ? ", truncated" : "");
	for (int i = 0; i < t->n; i++) {
		Dl_info di;
		const char *s = dladdr((void *)t->pc[i], &di) && di.dli_sname ? di.dli_sname : "?";
		fprintf(stderr, "  #%d %#lx %s\n", i, (unsigned long)t->pc[i], s);
	}
}

/* rt frames from `from` on must be ref's frames from `rfrom` on. */
static void expect_same_above(int from, int rfrom)
{
	bool ok = !got.truncated && got.n - from == ref.n - rfrom && got.n > from;
	for (int i = 0; ok && i < got.n - from; i++)
		ok = got.pc[from + i] == ref.pc[rfrom + i];
	if (!ok) {
		dump("reference", &ref);
		dump("rt_unwind", &got);
	}
	assert_true(ok);
}

/* After leaf(): rt's frame 1 is in leaf (its call to sample_self), frame 2
 * on the leaf's callers; ref's frame 1 is in leaf, frame 2 on the callers. */
static void expect_leaf_stack(void)
{
	assert_true(got.n >= 2);
	/* frame 1: inside leaf, a few instructions after ref's call site */
	uintptr_t d = got.pc[1] > ref.pc[1] ? got.pc[1] - ref.pc[1] : ref.pc[1] - got.pc[1];
	if (d > 64) {
		dump("reference", &ref);
		dump("rt_unwind", &got);
	}
	assert_true(d <= 64);
	expect_same_above(2, 2);
}

static void setup_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_prof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
}

/* ---- code points ----------------------------------------------------------- */

static volatile unsigned rec_sink;

__attribute__((noinline)) static int rec(int n, void (*at_bottom)(void))
{
	if (n <= 0) {
		at_bottom();
		return (int)(rec_sink & 0xffff);
	}
	int r = rec(n - 1, at_bottom);
	rec_sink += (unsigned)r;
	return r + 1;
}

static void test_recursion(void **state)
{
	rec(20, leaf);
	expect_leaf_stack();
	assert_true(got.n > 22);
}

static int cmp_calls;

static int cmp_int(const void *a, const void *b)
{
	if (cmp_calls++ == 5)
		leaf();
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void test_qsort_callback(void **state)
{
	int v[100];
	for (int i = 0; i < 100; i++)
		v[i] = (i * 7919) % 100;
	cmp_calls = 0;
	qsort(v, 100, sizeof v[0], cmp_int);
	expect_leaf_stack();
	/* the walk went through libc's qsort (no frame pointers) to this
	 * function (under ASan, through its qsort interceptor too) */
	bool seen = false;
	for (int i = 2; i < got.n; i++) {
		Dl_info di;
		if (dladdr((void *)got.pc[i], &di) && di.dli_fname && strstr(di.dli_fname, "/libc.so"))
			seen = true;
	}
	assert_true(seen);
}

/* ---- libraries built at run time ------------------------------------------ */

static char tmpdir[256];

static const char *srcdir(void)
{
	const char *s = getenv("CPROF_SRCDIR");
	return s && *s ? s : ".";
}

/* Build tests/runtime/unwind/SRC into tmpdir/OUT with compiler flags. */
static void *build_lib(const char *cc, const char *src, const char *out, const char *flags)
{
	char cmd[2048], path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, out);
	snprintf(cmd, sizeof cmd, "%s -shared -fPIC %s -o %s %s/tests/runtime/unwind/%s", cc, flags,
		 path, srcdir(), src);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		return NULL;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	/* the runtime's builder thread builds the new module's table (never
	 * the dlopen caller): wait for it */
	else if (!rt_modules_wait_idle(10000))
		fprintf(stderr, "%s: its unwind table was not built in 10 s\n", path);
	return h;
}

static void test_cxx_sort_and_call_once(void **state)
{
	void *h = build_lib("c++", "cxx_sort.cc", "libcxx_sort.so", "-O2 -g -pthread");
	assert_non_null(h);
	int (*sortf)(void (*)(void)) = (int (*)(void (*)(void)))dlsym(h, "cxx_sort_call");
	int (*oncef)(void (*)(void)) = (int (*)(void (*)(void)))dlsym(h, "cxx_once_call");
	assert_non_null(sortf);
	assert_non_null(oncef);
	sortf(leaf);
	expect_leaf_stack();
	oncef(leaf);
	expect_leaf_stack();
	int (*threadf)(void (*)(void)) = (int (*)(void (*)(void)))dlsym(h, "cxx_thread_call");
	assert_non_null(threadf);
	threadf(leaf);
	expect_leaf_stack();
	bool seen = false;   /* through libstdc++'s thread start */
	for (int i = 2; i < got.n; i++) {
		Dl_info di;
		if (dladdr((void *)got.pc[i], &di) && di.dli_fname && strstr(di.dli_fname, "libstdc++"))
			seen = true;
	}
	if (!seen)
		dump("rt_unwind", &got);
	assert_true(seen);
	dlclose(h);
}

static trace outer;

/* The library's recursion at depth 12 under this function: rt_unwind must
 * give the sample point, 13 frames of dlib_rec, then this function and its
 * callers as the reference taken here says. */
static void dlib_case(const char *out, const char *flags, bool expect_full)
{
	void *h = build_lib("cc", "dlib.c", out, flags);
	assert_non_null(h);
	int (*f)(int, void (*)(void)) = (int (*)(int, void (*)(void)))dlsym(h, "dlib_rec");
	assert_non_null(f);
	ref_capture(&outer);
	f(12, leaf);
	if (expect_full) {
		bool ok = !got.truncated && got.n == 2 + 13 + outer.n - 1;
		for (int i = 2; ok && i < outer.n; i++)
			ok = got.pc[got.n - outer.n + i] == outer.pc[i];
		for (int i = 2; ok && i < 15; i++)
			ok = got.pc[i] == got.pc[3] || i == 2;
		if (!ok) {
			dump("outer reference", &outer);
			dump("rt_unwind", &got);
		}
		assert_true(ok);
	} else {
		/* no unwind info, no frame pointers: what lies above is a guess
		 * (frame pointers where rbp looks like one) or a stop; the frames up
		 * to the library are right and nothing faults */
		assert_true(got.n >= 3);
		uintptr_t d = got.pc[1] > ref.pc[1] ? got.pc[1] - ref.pc[1] : ref.pc[1] - got.pc[1];
		assert_true(d <= 64);
	}
	dlclose(h);
}

/* dlopen and dlclose are interposed by modules.c: the registry follows
 * them with no explicit refresh */
static void test_dlopen_interposed(void **state)
{
	void *h = build_lib("cc", "dlib.c", "libd_interp.so", "-O2");
	assert_non_null(h);
	void *f = dlsym(h, "dlib_rec");
	assert_non_null(f);
	bool known;
	const rt_utable *t = rt_modules_find((uintptr_t)f, &known);
	assert_true(known);
	assert_non_null(t);
	assert_non_null(rt_utable_find(t, (uintptr_t)f));
	assert_int_equal(dlclose(h), 0);
	t = rt_modules_find((uintptr_t)f, &known);
	assert_false(known);
	assert_null(t);
}

static void test_dlopen_omit_fp(void **state)
{
	dlib_case("libd_nofp.so", "-O2 -g -fomit-frame-pointer", true);
}

static void test_dlopen_with_fp(void **state)
{
	dlib_case("libd_fp.so", "-O2 -g -fno-omit-frame-pointer", true);
}

static void test_dlopen_no_unwind_info_fp(void **state)
{
	/* no .eh_frame entries: crossed with frame pointers */
	dlib_case("libd_nocfi_fp.so",
		  "-O2 -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables", true);
}

static void test_dlopen_no_unwind_info_nofp(void **state)
{
	dlib_case("libd_nocfi_nofp.so",
		  "-O2 -fomit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables", false);
}

/* ---- a thread -------------------------------------------------------------- */

static void *thread_main(void *arg)
{
	rec(10, leaf);
	return NULL;
}

static void test_thread(void **state)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, thread_main, NULL), 0);
	pthread_join(t, NULL);
	expect_leaf_stack();
}

/* ---- a nested signal handler ----------------------------------------------- */

static void on_usr1(int sig)
{
	leaf();
}

static void raise_usr1(void)
{
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
}

static void test_nested_signal(void **state)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	rec(5, raise_usr1);
	sigaction(SIGUSR1, &old, NULL);
	expect_leaf_stack();
	/* the walk crossed the signal frame into rec */
	bool crossed = false;
	for (int i = 2; i < got.n; i++) {
		Dl_info di;
		if (dladdr((void *)got.pc[i], &di) && di.dli_sname && strstr(di.dli_sname, "restore_rt"))
			crossed = true;
	}
	assert_true(crossed || got.n > 12);
}

/* the same from a handler running on an alternate signal stack: the walk
 * starts on that stack and crosses the signal frame back to the thread's */
static void test_nested_signal_altstack(void **state)
{
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 }, old_ss;
	assert_int_equal(sigaltstack(&ss, &old_ss), 0);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	rec(5, raise_usr1);
	sigaction(SIGUSR1, &old, NULL);
	sigaltstack(&old_ss, NULL);
	expect_leaf_stack();
	/* the leaf ran on the alternate stack, its callers' frames on ours */
	assert_true(ref.n > 10);
}

/* ---- a CPU timer interrupting a spinning thread ---------------------------- */

static atomic_int spinning;

__attribute__((noinline)) static void spin_leaf(void)
{
	ref_capture(&ref);
	atomic_store(&spinning, 1);
	atomic_store(&want_sample, 1);
	volatile unsigned long x = 0;
	while (atomic_load_explicit(&want_sample, memory_order_relaxed))
		x++;
	atomic_store(&spinning, 0);
}

static void *spin_main(void *arg)
{
	timer_t tm;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &tm) != 0)
		return (void *)1;
	struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
	timer_settime(tm, 0, &its, NULL);
	rec(15, spin_leaf);
	timer_delete(tm);
	return NULL;
}

static void test_timer_in_thread(void **state)
{
	pthread_t t;
	void *rv = NULL;
	assert_int_equal(pthread_create(&t, NULL, spin_main, NULL), 0);
	pthread_join(t, &rv);
	assert_null(rv);
	/* interrupted inside spin_leaf: rt frame 1 is its caller */
	expect_same_above(1, 2);
}

/* ---- the vdso: a thread calling clock_gettime, interrupted by its timer ---- */

static atomic_int vdso_hits, vdso_samples, vdso_bad;
static _Atomic uintptr_t vdso_pc;

/* The handler checks each sample itself: the frames above the spinning
 * function must be the reference's. */
static void on_prof_vdso(int sig, siginfo_t *si, void *ucv)
{
	trace t;
	t.n = rt_unwind(ucv, t.pc, MAXF, &t.truncated);
	int k = ref.n - 2;   /* the spinning function's callers */
	bool ok = !t.truncated && t.n > k;
	for (int i = 0; ok && i < k; i++)
		ok = t.pc[t.n - k + i] == ref.pc[2 + i];
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (ok && vdso && t.pc[0] >= vdso && t.pc[0] < vdso + 65536)
	{
		atomic_fetch_add(&vdso_hits, 1);
		atomic_store(&vdso_pc, t.pc[0]);
	}
	if (!ok) {
		if (atomic_fetch_add(&vdso_bad, 1) == 0)
			got = t;
	}
	atomic_fetch_add(&vdso_samples, 1);
}

__attribute__((noinline)) static void clock_leaf(void)
{
	ref_capture(&ref);
	struct timespec ts;
	atomic_store(&spinning, 1);
	while (atomic_load(&vdso_samples) < 200 && atomic_load(&vdso_hits) < 5)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	atomic_store(&spinning, 0);
}

static void *clock_main(void *arg)
{
	timer_t tm;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &tm) != 0)
		return (void *)1;
	struct itimerspec its = { { 0, 200000 }, { 0, 200000 } };
	timer_settime(tm, 0, &its, NULL);
	rec(6, clock_leaf);
	timer_delete(tm);
	return NULL;
}

static void test_vdso(void **state)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_prof_vdso;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, &old);
	ref.n = 0;
	pthread_t t;
	void *rv = NULL;
	assert_int_equal(pthread_create(&t, NULL, clock_main, NULL), 0);
	pthread_join(t, &rv);
	sigaction(SIGPROF, &old, NULL);
	assert_null(rv);
	if (atomic_load(&vdso_bad)) {
		dump("reference", &ref);
		dump("first bad rt_unwind", &got);
	}
	assert_int_equal(atomic_load(&vdso_bad), 0);
	/* the vdso has a table, and samples landed in it and unwound out */
	assert_true(atomic_load(&vdso_hits) > 0);
	bool known;
	const rt_utable *vt = rt_modules_find(atomic_load(&vdso_pc), &known);
	assert_true(known);
	assert_non_null(vt);
	assert_non_null(rt_utable_find(vt, atomic_load(&vdso_pc)));
}

/* ---- dlopen/dlclose while another thread unwinds --------------------------- */

static atomic_int churn_done, churn_forever, churn_stop;

static void noop(void)
{
}

static void *churn_main(void *arg)
{
	char path[512];
	snprintf(path, sizeof path, "%s/libd_fp.so", tmpdir);
	int rounds = atomic_load(&churn_forever) ? 100000 : 60;
	for (int i = 0; i < rounds && !atomic_load(&churn_stop); i++) {
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			break;
		rt_modules_refresh();
		int (*f)(int, void (*)(void)) = (int (*)(int, void (*)(void)))dlsym(h, "dlib_rec");
		if (f)
			f(3, noop);
		dlclose(h);
		rt_modules_refresh();
	}
	atomic_store(&churn_done, 1);
	return NULL;
}

static void test_dlopen_churn(void **state)
{
	pthread_t t;
	atomic_store(&churn_done, 0);
	assert_int_equal(pthread_create(&t, NULL, churn_main, NULL), 0);
	int rounds = 0, complete = 0;
	while (!atomic_load(&churn_done) || rounds < 50) {
		rec(8, leaf);
		rounds++;
		if (!got.truncated && got.n > 10)
			complete++;
	}
	pthread_join(t, NULL);
	assert_int_equal(complete, rounds);
}

/* ---- fork while another thread refreshes the registry ---------------------- */

/* The child of a fork taken while another thread is inside a refresh must
 * still be able to unwind and to take the registry's lock (pthread_atfork
 * in modules.c): no lock inherited held. */
static void test_fork_during_refresh(void **state)
{
	pthread_t t;
	atomic_store(&churn_done, 0);
	atomic_store(&churn_forever, 1);
	atomic_store(&churn_stop, 0);
	assert_int_equal(pthread_create(&t, NULL, churn_main, NULL), 0);
	int forks = 0, good = 0;
	while (forks < 60) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* unwinding needs no lock; shutting the registry down takes
			 * its mutex, which the parent's churn thread may have held
			 * at the fork.  (No dlopen here: glibc's own loader lock
			 * can be inherited held from the churning thread.) */
			rec(4, leaf);
			bool ok = !got.truncated && got.n > 6;
			rt_modules_shutdown();
			_exit(ok ? 0 : 3);
		}
		forks++;
		int status = 0, waited = 0;
		while (waitpid(pid, &status, WNOHANG) == 0 && waited < 500) {
			usleep(10000);
			waited++;
		}
		if (waited == 500) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			good++;
	}
	atomic_store(&churn_stop, 1);
	pthread_join(t, NULL);
	atomic_store(&churn_forever, 0);
	assert_int_equal(good, forks);
}

/* ---- tables ------------------------------------------------------------------ */

static void test_tables_of_libc(void **state)
{
	bool known;
	const rt_utable *t = rt_modules_find((uintptr_t)&qsort, &known);
	assert_true(known);
	assert_non_null(t);
	assert_true(t->nrows > 1000);
	assert_true(t->nrules > 10 && t->nrules < t->nrows / 4);   /* shared rules */
	for (size_t i = 1; i < t->nrows; i++)
		assert_true(t->starts[i] > t->starts[i - 1]);
	const rt_urow *r = rt_utable_find(t, (uintptr_t)&qsort);
	assert_non_null(r);
	assert_int_equal(r->kind, RT_ROW_RSP);   /* at entry: CFA = rsp + 8 */
	assert_int_equal(r->cfa_off, 8);
	assert_int_equal(r->ra_off, -8);
	/* a pc in no module */
	t = rt_modules_find(16, &known);
	assert_false(known);
	assert_null(t);
}

/* PLT stubs have the linker's CFI: .plt an expression (rsp + 8, + 8 after
 * the entry's push) that the tables keep as a PLT rule, .plt.got rsp + 8.
 * Found in this very executable's section headers. */
static uintptr_t exe_base;

static int first_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	exe_base = info->dlpi_addr;
	return 1;
}

static void test_plt_rules(void **state)
{
	dl_iterate_phdr(first_module, NULL);
	elf_version(EV_CURRENT);
	int fd = open("/proc/self/exe", O_RDONLY);
	assert_true(fd >= 0);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	size_t shstrndx;
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	int seen = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		bool known;
		if (name && strcmp(name, ".plt") == 0 && sh.sh_size >= 32) {
			uintptr_t a = exe_base + sh.sh_addr + 16;   /* the first entry */
			const rt_urow *r = rt_utable_find(rt_modules_find(a, &known), a);
			assert_non_null(r);
			assert_int_equal(r->kind, RT_ROW_PLT);
			assert_int_equal(r->cfa_off, 11);
			seen++;
		}
		if (name && strcmp(name, ".plt.got") == 0 && sh.sh_size >= 8) {
			uintptr_t a = exe_base + sh.sh_addr;
			const rt_urow *r = rt_utable_find(rt_modules_find(a, &known), a);
			assert_non_null(r);
			assert_int_equal(r->kind, RT_ROW_RSP);
			assert_int_equal(r->cfa_off, 8);
			assert_int_equal(r->ra_off, -8);
			seen++;
		}
	}
	elf_end(elf);
	close(fd);
	assert_true(seen >= 1);
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/cprof_unwind_XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	setup_handler();
	return rt_modules_init() == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return -1;
	rt_modules_shutdown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_of_libc),
		cmocka_unit_test(test_plt_rules),
		cmocka_unit_test(test_recursion),
		cmocka_unit_test(test_qsort_callback),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_nested_signal),
		cmocka_unit_test(test_nested_signal_altstack),
		cmocka_unit_test(test_timer_in_thread),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_cxx_sort_and_call_once),
		cmocka_unit_test(test_dlopen_interposed),
		cmocka_unit_test(test_dlopen_omit_fp),
		cmocka_unit_test(test_dlopen_with_fp),
		cmocka_unit_test(test_dlopen_no_unwind_info_fp),
		cmocka_unit_test(test_dlopen_no_unwind_info_nofp),
		cmocka_unit_test(test_dlopen_churn),
		cmocka_unit_test(test_fork_during_refresh),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
