/*
 * rtclock.c - the runtime's clock reads where the program may have made
 * the time-stamp counter fault.
 *
 * clock_gettime for the monotonic and real-time clocks runs in the vDSO,
 * which reads the time-stamp counter with rdtsc.  A thread that called
 * prctl(PR_SET_TSC, PR_TSC_SIGSEGV) (stress-ng's sigsegv stressor; a
 * sandbox that hides timing) gets SIGSEGV from that instruction.  The
 * runtime reads the clock inside its SIGPROF handler, where every signal
 * is blocked, so the kernel then kills the process; and in hooks (a
 * thread's first allocation, a lock wait), where the program's own
 * SIGSEGV handler would run in the runtime's code and jump out of it.
 *
 * rt_clock_ns_sig (the signal handlers) always makes the system call,
 * which never uses rdtsc in user space: a few hundred ns per sample.
 * rt_clock_ns and rt_clock_mono_ns (hooks and runtime threads) use the
 * vDSO until the program turns rdtsc off in some thread: prctl is
 * interposed (exported by libcprof.so; it makes the system call itself,
 * as glibc's does), and its PR_SET_TSC with anything
 * but PR_TSC_ENABLE sets a process-wide flag for good, after which they
 * make the system call too.  A program that makes the raw system call
 * itself (syscall(SYS_prctl, ...)) is not seen: only the handlers are
 * safe then.
 *
 * The raw counter (rt_tsc_read) is for the execution trace, which stamps
 * events with it and converts to CLOCK_MONOTONIC when the trace is read,
 * from (counter, clock) pairs (rt_tsc_pair) taken at its start and end.
 * Its callers test rt_clock_tsc_off first; the prctl that sets it takes
 * one last pair (rt_tsc_off_pair) so ticks read before stay convertible.
 */
#include "rt_base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* some thread made rdtsc fault: no vDSO clocks, no raw counter reads */
atomic_bool rt_clock_tsc_off;
#define tsc_off rt_clock_tsc_off

/* The last (counter, CLOCK_MONOTONIC) pair read while rdtsc still worked,
 * taken by the prctl that turned it off (before the system call). */
static atomic_bool off_claimed, off_ready;
static uint64_t off_tsc;
static int64_t off_ns;

void rt_tsc_pair(uint64_t *tsc, int64_t *ns)
{
	uint64_t width = UINT64_MAX;
	for (int i = 0; i < 5; i++) {
		uint64_t a = rt_tsc_read();
		int64_t t = rt_clock_ns(CLOCK_MONOTONIC);
		uint64_t b = rt_tsc_read();
		if (b - a < width) {
			width = b - a;
			*tsc = a + (b - a) / 2;
			*ns = t;
		}
	}
}

bool rt_tsc_off_pair(uint64_t *tsc, int64_t *ns)
{
	if (!atomic_load_explicit(&off_ready, memory_order_acquire))
		return false;
	*tsc = off_tsc;
	*ns = off_ns;
	return true;
}

/* [AS-safe] the system call, never the vDSO */
int64_t rt_clock_ns_sig(clockid_t c)
{
	struct timespec ts;
	if (syscall(SYS_clock_gettime, c, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* [AS-safe] */
int64_t rt_clock_ns(clockid_t c)
{
	if (atomic_load_explicit(&tsc_off, memory_order_relaxed))
		return rt_clock_ns_sig(c);
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Interposed: notes PR_SET_TSC, then makes the system call with the same
 * five arguments (the kernel reads what each option uses), as glibc's
 * prctl does: -1 and errno on failure.  No dlsym (the runtime's own
 * threads call it for their names).  Not instrumented by ASan, whose
 * prctl interceptor calls it with five arguments while ASan's check of
 * va_arg takes the register save area for a stack overflow.  Thread-safe,
 * AS-safe. */
__attribute__((visibility("default"), no_sanitize("address")))
int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a2 = va_arg(ap, unsigned long);
	unsigned long a3 = va_arg(ap, unsigned long);
	unsigned long a4 = va_arg(ap, unsigned long);
	unsigned long a5 = va_arg(ap, unsigned long);
	va_end(ap);
	if (option == PR_SET_TSC && a2 != PR_TSC_ENABLE) {
		/* the counter's last pair, while this thread may still read it */
		if (!atomic_load(&tsc_off) && !atomic_exchange(&off_claimed, true)) {
			rt_tsc_pair(&off_tsc, &off_ns);
			atomic_store_explicit(&off_ready, true, memory_order_release);
		}
		atomic_store(&tsc_off, true);
	}
	return (int)syscall(SYS_prctl, option, a2, a3, a4, a5);
}
