/*
 * rt_cpu.h - the CPU profile of the runtime:
 *
 *   cpu.c       the SIGPROF handler, the sample ring, the statistics
 *   cpu_clock.c each thread's sampling clock (perf_event or POSIX timer)
 *   threads.c   (its CPU part) per-thread timers, suspended around exec
 *   collector.c the thread that drains the ring and aggregates stacks; the
 *               profile written at stop (mappings, symbols, thread labels)
 *   api.c       the public API of include/cprof.h for the CPU profile
 *
 * [AS-safe]: see rt_base.h.
 */
#ifndef CPROF_RT_CPU_H
#define CPROF_RT_CPU_H

#include "rt_base.h"
#include "rt_unwind.h"

#include <signal.h>

/* ---- statistics (atomics; [AS-safe] to update) ---------------------------------- */

typedef struct rt_stats {
	uint64_t samples;        /* signals handled with a recorded sample */
	uint64_t lost_ring_full; /* samples dropped: ring buffer full */
	uint64_t lost_unwind;    /* samples whose unwind failed at the first frame */
	uint64_t lost_ns;        /* the CPU time the lost samples stood for */
	uint64_t truncated;      /* samples whose stack was cut short */
	uint64_t handler_ns;     /* time spent in the handler (sum) */
	uint64_t runtime;        /* samples of the runtime's own work on a
				    program thread (rt_self_depth): not shown */
} rt_stats;

extern rt_stats rt_stats_g;

/* ---- CPU sampling ---------------------------------------------------------------- */

/* One sample as the SIGPROF handler records it. */
typedef struct rt_sample_rec {
	uint32_t gen;            /* the profiling session that took it */
	uint32_t nframes;
	uint64_t weight;         /* samples: 1 + timer overruns; 0 for a thread's tail */
	uint64_t cpu_ns;         /* the CPU time it stands for (cpu_clock.c) */
	uint32_t labels;         /* the thread's label set (labels.c) */
	uint32_t pad;
	char name[RT_NAME_MAX];  /* thread name (NUL-terminated) */
	uintptr_t pcs[RT_MAX_FRAMES];
} rt_sample_rec;

/* cpu.c: the sample ring (multi-producer, one consumer), timers, handler */
extern _Atomic int rt_cpu_on;            /* the handler records while set */
extern _Atomic uint32_t rt_cpu_gen;      /* current session, in timer values */
int rt_ring_init(void);                  /* once; 0 or CPROF_ERR_NOMEM */
bool rt_ring_pop(rt_sample_rec *out);    /* consumer only */
RT_FORK_TEXT void rt_ring_reset(void);                /* forked child: empty it */
int rt_sigprof_install(void);            /* 0 or CPROF_ERR_SIGNAL/SYSTEM */
bool rt_sigprof_ours(void);              /* our handler is the clocks' signal's, not yielded */
void rt_sigprof_discard_pending(void);   /* drop SIGPROFs queued to this process (clocks stopped) */
/* Push a sample of n pcs the calling thread did not take in the handler
 * (a thread's last partial interval).  [AS-safe] */
void rt_cpu_push(const uintptr_t *pcs, int n, uint64_t count, uint64_t cpu_ns);

/* cpu_clock.c: each thread's sampling clock (a perf_event task-clock
 * counter or a POSIX CPU timer), random intervals, CPU time per sample */
enum { RT_CPU_MODE_AUTO, RT_CPU_MODE_PERF, RT_CPU_MODE_TIMER };
enum { RT_SRC_TIMER = 1, RT_SRC_PERF = 2 };
#define RT_PERF_FD_MAX 4096      /* counters open at once, at most */
typedef struct rt_clock_src {
	int kind;                /* RT_SRC_TIMER: id is a timer; RT_SRC_PERF: a descriptor */
	int id;
	uint64_t perf_id;        /* the counter's kernel id, to know it is still ours */
} rt_clock_src;
void rt_cpu_mode_set(int mode);          /* before a start (env.c, record) */
/* A session starts with mean interval period_ns: choose the clocks.
 * 0, or CPROF_ERR_SYSTEM when perf is demanded and refused. */
int rt_cpu_clocks_begin(long period_ns);
const char *rt_cpu_mode_name(void);      /* for the profile's comment */
int rt_clock_src_create(int tid, rt_clock_src *out);   /* 0 or CPROF_ERR_SYSTEM */
/* The signal the clocks deliver: SIGPROF, or a real-time signal when the
 * program handles SIGPROF (cpu.c); 0 once profiling gave up. */
extern _Atomic int rt_cpu_clock_sig;
/* Re-aim tid's clock at rt_cpu_clock_sig (a counter's F_SETSIG; a timer
 * made again).  reg_mu held (threads.c). */
void rt_clock_src_resignal(int tid, rt_clock_src *s);
void rt_clock_src_delete(const rt_clock_src *s);
RT_FORK_TEXT void rt_clock_src_forget(const rt_clock_src *s);       /* a forked child's copy */
RT_FORK_TEXT void rt_clock_src_child_reset(void);
/* In the SIGPROF handler: is si a sample of session gen?  Then the samples
 * it counts, the CPU ns it stands for, and the clock is re-armed. [AS-safe] */
bool rt_clock_src_fired(const siginfo_t *si, uint32_t gen, uint64_t *count, uint64_t *cpu_ns);
/* On the thread itself: it started with clock src / it ends: the CPU time
 * it used since its last sample (0 when unknown), once. [AS-safe] */
void rt_cpu_thread_begin(const rt_clock_src *src);
uint64_t rt_cpu_thread_unsampled(void);
extern _Atomic uint64_t rt_cpu_threads_perf, rt_cpu_threads_timer;
extern _Atomic uint64_t rt_cpu_tail_ns, rt_cpu_tail_samples;

/* threads.c: per-thread timers */
int rt_threads_timers_start(long period_ns);
void rt_threads_timers_stop(void);
/* Every clock now delivers sig (rt_cpu_clock_sig set under the registry
 * lock, so a thread starting meanwhile gets it too).  Not AS-safe: the
 * registry's mutex. */
void rt_threads_clocks_resignal(int sig);
/* lifecycle.c: before an exec, every clock is deleted (true if they ran);
 * after an exec that failed, they are made again. */
bool rt_threads_clocks_suspend(void);
/* [AS-safe] the stack pcs[0..n) (leaf first) is a new thread's start-up,
 * the runtime's work (threads.c) */
bool rt_threads_starting(const uintptr_t *pcs, int n);
void rt_threads_clocks_resume(void);

/* collector.c: drains the ring, aggregates, writes the profile at stop */
int rt_collector_start(int hz);
extern _Atomic int rt_collector_tid;      /* never sampled */
/* Stop the collector (timers already stopped), build and write to o
 * (outfile.c, rt_profile.h) or, when o is NULL, to fd (fd < 0: nothing
 * written). */
struct rt_out;
int rt_collector_stop(int fd, struct rt_out *o);
/* From a signal handler or _exit: have the collector stop timers and write
 * to o or fd, waiting at most timeout_ms.  true when written.  [AS-safe] */
bool rt_collector_exit_write(int fd, struct rt_out *o, int timeout_ms);
/* collector.c: map, in the parent, the pages rt_collector_forget reads */
void rt_collector_touch(void);
RT_FORK_TEXT void rt_collector_forget(void);          /* in a forked child */

/* api.c */
/* A CPU profile runs: where it goes (*o NULL: the descriptor *fd). */
bool rt_api_running(int *fd, struct rt_out **o);
/* The CPU profile's rate (samples per CPU-second). */
int rt_cpu_rate(void);
/* Start the CPU profile to an rt_out. */
int rt_cpu_start_out(struct rt_out *o);

#endif
