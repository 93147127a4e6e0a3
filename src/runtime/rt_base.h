/*
 * rt_base.h - the runtime's base unit: what every feature of the runtime
 * (libcprof.so / libcprof.a) calls and that calls no feature.
 *
 *   rt_base.c   runtime depth (rt_self_*), the calling thread's last error,
 *               growing output buffers (rt_buf), whole writes, "stacks
 *               wanted"
 *   rtclock.c   the clock reads (a leaf)
 *   self.c      the runtime's own threads: started through libc, listed,
 *               never sampled or recorded
 *   threads.c   (its base part) libc's pthread_create and quiet threads
 *
 * Names carry the second prefix `rt_`.  The runtime depends on the profile
 * core (src/core) only.  Each feature has its own header on top of this
 * one: rt_unwind.h, rt_cpu.h, rt_labels.h, rt_wait.h, rt_profile.h,
 * rt_lifecycle.h, rt_env.h, heap_int.h, sync_int.h, trace_int.h,
 * http_int.h, tprof.h.
 *
 * Signal-safety contract (every rt_*.h): functions marked [AS-safe] may be
 * called from a signal handler: no locks, no allocation, no stdio, errno
 * preserved.
 */
#ifndef CPROF_RT_BASE_H
#define CPROF_RT_BASE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* A thread name, NUL included (the kernel's TASK_COMM_LEN). */
#define RT_NAME_MAX 16

/* The runtime's functions entered other than from a call of the program
 * (its exit handlers), and rt_self_enter/leave: one section, so the CPU
 * sampling handler can tell their few instructions outside the depth
 * window (a prologue, the call of rt_self_enter before its increment)
 * from the program's (rt_edge_text). */
#define RT_EDGE_TEXT __attribute__((section("cprof_edge"), noinline))
/* pc lies in that section.  [AS-safe] */
bool rt_edge_text(uintptr_t pc);

/* rt_base.c: the calling thread is doing the runtime's own work: its
 * allocations are not the program's (the heap profiler skips them).
 * Nesting counts.  [AS-safe] */
RT_EDGE_TEXT void rt_self_enter(void);
RT_EDGE_TEXT void rt_self_leave(void);
/* the depth itself, read inline by the hooks (one TLS load) */
extern __thread __attribute__((tls_model("initial-exec"))) int rt_self_depth_v;
static inline int rt_self_depth(void)
{
	return rt_self_depth_v;
}

/* rt_base.c: the calling thread's last error (cprof_last_error reads it) */
void rt_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_clear_error(void);

/* rt_base.c: the process was asked for a profile or the endpoint (so the
 * module registry is worth building at start). */
bool rt_wants_stacks(void);

/* rt_base.c: a growing output buffer; oom sticks once an append failed.
 * Zero-init. */
typedef struct rt_buf {
	char *p;             /* NUL-terminated when non-NULL */
	size_t n, cap;
	bool oom;
} rt_buf;
void rt_buf_add(rt_buf *b, const void *d, size_t n);
void rt_buf_printf(rt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_buf_free(rt_buf *b);
/* Write it all to fd (EINTR retried): 0, CPROF_ERR_NOMEM (the buffer had
 * overflowed) or CPROF_ERR_IO; the error names the "what" profile. */
int rt_buf_write_fd(const rt_buf *b, int fd, const char *what);
int rt_write_all(int fd, const void *d, size_t n, const char *what);
/* Queue signal sig to thread tid of process pid (rt_tgsigqueueinfo) with
 * SI_QUEUE and value as si_value.sival_int, so the runtime's handlers
 * tell their own signals from the kernel's and the program's.  0, or -1
 * with errno.  [AS-safe] */
int rt_thread_sigqueue(pid_t pid, int tid, int sig, int value);

/* Clock c in nanoseconds (CLOCK_REALTIME for time_nanos), rtclock.c: the
 * vDSO until the program makes rdtsc fault (PR_SET_TSC), the system call
 * from then on.  [AS-safe] */
int64_t rt_clock_ns(clockid_t c);
/* The same, always the system call: for signal handlers, which run with
 * SIGSEGV blocked in threads that may have made rdtsc fault.  [AS-safe] */
int64_t rt_clock_ns_sig(clockid_t c);
/* rtclock.c: set for good once a thread turned rdtsc off (PR_SET_TSC):
 * from then on nothing of the runtime reads the counter. */
extern _Atomic bool rt_clock_tsc_off;
/* The time-stamp counter, raw (0 off x86-64).  Only while
 * rt_clock_tsc_off is clear.  [AS-safe] */
static inline uint64_t rt_tsc_read(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return 0;
#endif
}
/* A (counter, CLOCK_MONOTONIC ns) pair read together: the tightest of a
 * few tries, the counter at the middle of the clock read.  Only while
 * rt_clock_tsc_off is clear.  [AS-safe] */
void rt_tsc_pair(uint64_t *tsc, int64_t *ns);
/* The pair taken just before rdtsc was turned off, if it was.  [AS-safe] */
bool rt_tsc_off_pair(uint64_t *tsc, int64_t *ns);


/* The code a fork child runs before its own (the fork wrapper, the fork
 * handlers and what they call, _exit): one section, laid out together by
 * the linker's .text.hot rule, so the child maps it with one page fault
 * (the kernel maps up to 64 KiB of page cache around a fault) where it
 * took one per scattered page.  A fork child maps no code page of its
 * parent's; every one it runs is a fault.  The fork-path functions of
 * each subsystem carry it on their declarations in that subsystem's
 * header. */
#define RT_FORK_TEXT __attribute__((section(".text.hot.cprof_fork")))
/* self.c: start a thread of the runtime itself (libc's pthread_create),
 * named name ("cprof-..."), at depth 1 for its whole life and listed as
 * the runtime's while it runs: never given a CPU timer, left out of
 * thread snapshots, nothing it allocates or waits for recorded.  The
 * caller sets the signal mask it inherits.  0 or an errno value. */
int rt_runtime_thread_create(pthread_t *th, const pthread_attr_t *attr, const char *name,
			     void *(*fn)(void *), void *arg);
/* tid is a running thread of the runtime.  [AS-safe] */
bool rt_self_tid(int tid);
/* The calling thread was started by rt_runtime_thread_create: true from
 * its first instruction of the runtime's to its death (after it left the
 * table too).  [AS-safe] */
bool rt_self_thread(void);
/* A forked child: the parent's runtime threads are not in it. */
RT_FORK_TEXT void rt_self_fork_child(void);

/* threads.c: libc's pthread_create: threads of the runtime itself, never
 * sampled */
int rt_pthread_create_real(pthread_t *th, const pthread_attr_t *attr,
			   void *(*fn)(void *), void *arg);
/* A detached runtime thread that never takes the program's asynchronous
 * signals (faults still reach the program's crash handlers): 0 or an
 * errno value.  The caller's signal mask is unchanged. */
int rt_quiet_thread_start(const char *name, void *(*fn)(void *), void *arg);

#endif
