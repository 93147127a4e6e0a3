/*
 * unwind_bench.c - the cost of one stack walk with the runtime's unwinder
 * (rt_unwind over compact tables, fault-free reads) against a plain
 * frame-pointer walk, libunwind's unw_backtrace and libgcc's
 * _Unwind_Backtrace, at stack depths 8, 32 and 96, all in the same run.
 *
 * The program recurses to the depth (its own frames keep frame pointers:
 * it is built -fno-omit-frame-pointer so the frame-pointer walk has a chain
 * to follow as far as libc's start code), then times each method N times
 * from the bottom and prints ns per sample, frames found and ns per frame.
 * rt_unwind is timed from a getcontext() ucontext (the walk alone: warm,
 * then with its per-thread row cache emptied before each walk, then with
 * its proven stack pages forgotten too), and in a SIGPROF handler sent by
 * tgkill (what a sample costs, with the signal delivery; the empty
 * handler's cost is printed beside it).  Then
 * the tables: rows, bytes and build time for libc and libstdc++, and the
 * cost of one process_vm_readv, the fault-free read used for pages not yet
 * proven readable.  Usage: unwind_bench [ITERATIONS]
 */
#define UNW_LOCAL_ONLY
#include "rt_unwind.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#define MAXF 256

static long iters = 20000;
static volatile int sink;

/* CPU time of this thread: the machine may be loaded, and preemption is
 * not the unwinder's cost. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- the methods ------------------------------------------------------------- */

__attribute__((noinline)) static int fp_walk(uintptr_t *pcs, int max)
{
	uintptr_t *fp = __builtin_frame_address(0);
	int n = 0;
	while (n < max && fp) {
		uintptr_t ra = fp[1];
		uintptr_t *next = (uintptr_t *)fp[0];
		if (ra < 4096)
			break;
		pcs[n++] = ra - 1;
		if (next <= fp || (uintptr_t)next - (uintptr_t)fp > (1u << 20) || ((uintptr_t)next & 7))
			break;
		fp = next;
	}
	return n;
}

/* libgcc's own unwinder, from libgcc_s (libunwind also exports an
 * _Unwind_Backtrace, which the link would otherwise pick). */
static _Unwind_Reason_Code (*gcc_backtrace)(_Unwind_Trace_Fn, void *);
static _Unwind_Ptr (*gcc_getip)(struct _Unwind_Context *);

typedef struct gcc_st {
	uintptr_t *pcs;
	int n, max;
} gcc_st;

static _Unwind_Reason_Code gcc_cb(struct _Unwind_Context *ctx, void *arg)
{
	gcc_st *s = arg;
	if (s->n >= s->max)
		return _URC_END_OF_STACK;
	s->pcs[s->n++] = gcc_getip(ctx);
	return _URC_NO_REASON;
}

__attribute__((noinline)) static int gcc_walk(uintptr_t *pcs, int max)
{
	gcc_st s = { pcs, 0, max };
	gcc_backtrace(gcc_cb, &s);
	return s.n;
}

__attribute__((noinline)) static int unw_walk(uintptr_t *pcs, int max)
{
	return unw_backtrace((void **)pcs, max);
}

static volatile int sig_frames;
static volatile int sig_mode;   /* 0: empty handler, 1: rt_unwind */
static uintptr_t sig_pcs[MAXF];

static void on_prof(int sig, siginfo_t *si, void *uc)
{
	if (sig_mode) {
		bool tr;
		sig_frames = rt_unwind(uc, sig_pcs, RT_MAX_FRAMES, &tr);
	}
}

/* ---- measuring at the bottom of the recursion --------------------------------- */

typedef struct result {
	double ns[8];
	int frames[8];
} result;

enum { M_RT, M_RT_SIG, M_SIG_EMPTY, M_FP, M_UNW, M_GCC, M_RT_COLD, M_RT_COLDER };
static const char *mname[] = { "rt_unwind (ucontext)", "rt_unwind in SIGPROF",
			       "empty SIGPROF handler", "frame pointers", "libunwind unw_backtrace",
			       "libgcc _Unwind_Backtrace", "rt_unwind, rows uncached",
			       "rt_unwind, rows+pages unc." };
#define NMETHODS 8

__attribute__((noinline)) static void measure(result *r)
{
	uintptr_t pcs[MAXF];
	ucontext_t uc;
	getcontext(&uc);
	bool tr;
	pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);

	double t = now_ns();
	for (long i = 0; i < iters; i++)
		r->frames[M_RT] = rt_unwind(&uc, pcs, RT_MAX_FRAMES, &tr);
	r->ns[M_RT] = (now_ns() - t) / iters;

	sig_mode = 1;
	t = now_ns();
	for (long i = 0; i < iters; i++)
		syscall(SYS_tgkill, pid, tid, SIGPROF);
	r->ns[M_RT_SIG] = (now_ns() - t) / iters;
	r->frames[M_RT_SIG] = sig_frames;

	sig_mode = 0;
	t = now_ns();
	for (long i = 0; i < iters; i++)
		syscall(SYS_tgkill, pid, tid, SIGPROF);
	r->ns[M_SIG_EMPTY] = (now_ns() - t) / iters;
	r->frames[M_SIG_EMPTY] = 0;

	/* cold: no cached rows (two binary searches a frame), and also no
	 * proven stack pages (a process_vm_readv per page) */
	t = now_ns();
	for (long i = 0; i < iters; i++) {
		rt_unwind_forget(false);
		r->frames[M_RT_COLD] = rt_unwind(&uc, pcs, RT_MAX_FRAMES, &tr);
	}
	r->ns[M_RT_COLD] = (now_ns() - t) / iters;
	t = now_ns();
	for (long i = 0; i < iters; i++) {
		rt_unwind_forget(true);
		r->frames[M_RT_COLDER] = rt_unwind(&uc, pcs, RT_MAX_FRAMES, &tr);
	}
	r->ns[M_RT_COLDER] = (now_ns() - t) / iters;

	t = now_ns();
	for (long i = 0; i < iters; i++)
		r->frames[M_FP] = fp_walk(pcs, RT_MAX_FRAMES);
	r->ns[M_FP] = (now_ns() - t) / iters;

	t = now_ns();
	for (long i = 0; i < iters; i++)
		r->frames[M_UNW] = unw_walk(pcs, RT_MAX_FRAMES);
	r->ns[M_UNW] = (now_ns() - t) / iters;

	t = now_ns();
	for (long i = 0; i < iters; i++)
		r->frames[M_GCC] = gcc_walk(pcs, RT_MAX_FRAMES);
	r->ns[M_GCC] = (now_ns() - t) / iters;
}

__attribute__((noinline)) static int rec(int n, result *r)
{
	if (n <= 0) {
		measure(r);
		return sink;
	}
	int v = rec(n - 1, r);
	sink += v;
	return v + 1;
}

static void table_line(const char *what, void *sym)
{
	bool known;
	const rt_utable *t = rt_modules_find((uintptr_t)sym, &known);
	Dl_info di;
	if (!t || !dladdr(sym, &di)) {
		printf("%-12s no table\n", what);
		return;
	}
	double t0 = now_ns();
	rt_utable *again = rt_utable_from_file(di.dli_fname, (uintptr_t)di.dli_fbase, t->lo, t->hi);
	double ms = (now_ns() - t0) / 1e6;
	printf("%-12s %8zu rows %9zu bytes (%.1f bytes per KiB of code)  build %.1f ms  %s\n", what,
	       t->nrows, rt_utable_bytes(t), rt_utable_bytes(t) * 1024.0 / (double)(t->hi - t->lo), ms,
	       di.dli_fname);
	free(again);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		iters = atol(argv[1]);
	if (iters <= 0)
		iters = 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_prof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGPROF, &sa, NULL);
	void *cxx = dlopen("libstdc++.so.6", RTLD_NOW);
	void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW);
	if (!gcc || !(gcc_backtrace = (_Unwind_Reason_Code (*)(_Unwind_Trace_Fn, void *))dlsym(gcc, "_Unwind_Backtrace")) ||
	    !(gcc_getip = (_Unwind_Ptr (*)(struct _Unwind_Context *))dlsym(gcc, "_Unwind_GetIP"))) {
		fprintf(stderr, "libgcc_s.so.1 not found\n");
		return 1;
	}
	double t0 = now_ns();
	if (rt_modules_init() != 0) {
		fprintf(stderr, "rt_modules_init failed\n");
		return 1;
	}
	double init_ms = (now_ns() - t0) / 1e6;

	printf("unwind cost, %ld iterations per cell (ns per sample / frames found / ns per frame)\n\n",
	       iters);
	printf("%-26s", "method \\ depth");
	static const int depths[] = { 8, 32, 96 };
	for (int d = 0; d < 3; d++)
		printf(" | %24d", depths[d]);
	printf("\n");
	result res[3];
	for (int d = 0; d < 3; d++)
		rec(depths[d], &res[d]);
	static const int order[NMETHODS] = { M_RT, M_RT_COLD, M_RT_COLDER, M_RT_SIG, M_SIG_EMPTY,
					     M_FP, M_UNW, M_GCC };
	for (int k = 0; k < NMETHODS; k++) {
		int m = order[k];
		printf("%-26s", mname[m]);
		for (int d = 0; d < 3; d++) {
			if (m == M_SIG_EMPTY)
				printf(" | %8.0f ns %15s", res[d].ns[m], "");
			else
				printf(" | %8.0f ns %3d fr %5.1f ns/fr", res[d].ns[m], res[d].frames[m],
				       res[d].frames[m] ? res[d].ns[m] / res[d].frames[m] : 0.0);
		}
		printf("\n");
	}
	printf("\nratios to rt_unwind (ucontext), per frame:\n");
	for (int m = M_FP; m <= M_GCC; m++) {
		printf("%-26s", mname[m]);
		for (int d = 0; d < 3; d++) {
			double a = res[d].ns[M_RT] / res[d].frames[M_RT];
			double b = res[d].frames[m] ? res[d].ns[m] / res[d].frames[m] : 0;
			printf(" | %20.2fx   ", b / a);
		}
		printf("\n");
	}

	printf("\nunwind tables (registry of %s built in %.1f ms)\n", "all loaded modules", init_ms);
	table_line("libc", (void *)&qsort);
	table_line("libstdc++", cxx ? dlsym(cxx, "__once_proxy") : NULL);
	table_line("libunwind", (void *)&unw_backtrace);

	uintptr_t x = 42, y;
	struct iovec l = { &y, 8 }, rr = { &x, 8 };
	t0 = now_ns();
	for (long i = 0; i < iters; i++)
		syscall(SYS_process_vm_readv, (long)getpid(), &l, 1L, &rr, 1L, 0L);
	printf("\nprocess_vm_readv of 8 bytes (the fault-free read of a page not yet proven): %.0f ns\n",
	       (now_ns() - t0) / iters);
	return 0;
}
