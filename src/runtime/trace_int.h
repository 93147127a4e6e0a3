/*
 * trace_int.h - private interface of the execution trace:
 *
 *   trace.c       the recorder: per-thread event chunks carved from one
 *                 mmap'ed region, lock-free appends, sessions (start/stop)
 *   trace_hooks.c what feeds it beyond the sync wrappers: blocking reads,
 *                 sleeps, poll/epoll_wait, condvar signal/broadcast and
 *                 sem_post (the wakers), /proc/self/task/TID/schedstat
 *   trace_fds.c   the descriptors known non-blocking (their calls are not
 *                 timed), and the interposed calls that forget them
 *   trace_json.c  a stopped session's events into Chrome Trace Event JSON
 *   trace_env.c   CPROF_TRACE=FILE, CPROF_TRACE_BUF, the public API
 *                 (cprof_trace_start/stop, regions, logs)
 *   trace_switch.c  CPROF_TRACE_SWITCH: a PERF_RECORD_SWITCH ring per
 *                 program thread, drained into the trace (exact switch
 *                 times where perf_event_paranoid <= 2)
 *
 * The hooks call rt_trace_* only after testing rt_trace_on (one relaxed
 * load): a process that does not trace pays that load and nothing else.
 */
#ifndef CPROF_TRACE_INT_H
#define CPROF_TRACE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rt_base.h"

/* The session being recorded (nonzero), or 0. */
extern _Atomic uint32_t rt_trace_on;

static inline bool rt_trace_active(void)
{
	return atomic_load_explicit(&rt_trace_on, memory_order_relaxed) != 0;
}

/* Event types.  Every event is one record in its thread's chunk. */
enum {
	RT_TEV_WAIT = 1,      /* kind: an rt_wait_kind or RT_TWAIT_*; t0..t1 blocked */
	RT_TEV_WAKE,          /* kind, obj: this thread released/signalled obj at t0 */
	RT_TEV_THREAD_START,  /* obj: the creating thread's tid */
	RT_TEV_THREAD_END,    /* text: the thread's name */
	RT_TEV_SAMPLE,        /* a CPU sample: aux the CPU ns it stands for */
	RT_TEV_REGION_BEGIN,  /* text: the region's name; aux: label set */
	RT_TEV_REGION_END,
	RT_TEV_LOG,           /* text: "category\0message" */
	RT_TEV_DROPPED,       /* aux: events this thread dropped before t0 */
	RT_TEV_COUNTER,       /* obj: threads alive; aux: heap bytes in use
			       * (kind: RT_TCOUNT_HEAP_*, what aux is) */
	RT_TEV_SWITCH,        /* obj: the thread switched (not the chunk's);
			       * nframes packed switch records follow, each
			       * time ns | RT_TSW_* << 62; t0, t1: the first's
			       * and the last's time (ns, never raw) */
};
enum { RT_TSW_IN, RT_TSW_OUT, RT_TSW_PREEMPTED, RT_TSW_LOST };
#define RT_TSW_TIME_MASK ((UINT64_C(1) << 62) - 1)
enum { RT_TCOUNT_HEAP_NONE, RT_TCOUNT_HEAP_PROFILE, RT_TCOUNT_HEAP_MALLINFO };

/* Or'ed into type while t0 holds raw time-stamp counter ticks (trace.c
 * stamps events so); rt_trace_chunks hands out records in ns only. */
#define RT_TEV_RAW 0x80

/* Wait kinds beyond rt_wait_kind (rt_wait.h): the hooks of trace_hooks.c. */
enum {
	RT_TWAIT_READ = 16, RT_TWAIT_SLEEP, RT_TWAIT_POLL, RT_TWAIT_EPOLL,
	RT_TWAIT_RECV, RT_TWAIT_ACCEPT, RT_TWAIT_CONNECT, RT_TWAIT_SELECT, RT_TWAIT_WAITPID,
	RT_TWAIT_SEM_POST,    /* a wake's kind only: sem_post */
	RT_TWAIT_COND_SIGNAL, /* a wake's kind only: signal/broadcast */
	RT_TWAIT_WRITE,       /* write, writev (a full pipe, a slow disk) */
	RT_TWAIT_SEND,        /* send, sendto, sendmsg */
};

/* One record as stored: a 40-byte header, then nframes pcs or a
 * NUL-terminated text, padded to 8 bytes; size covers it all. */
typedef struct rt_tev {
	uint8_t type;
	uint8_t kind;
	uint16_t nframes;
	uint32_t size;
	int64_t t0, t1;       /* CLOCK_MONOTONIC ns (t0: ticks under RT_TEV_RAW) */
	uint64_t obj;
	int64_t aux;          /* wait: runnable ns in it (-1 unknown); sample: CPU ns */
	/* uintptr_t pcs[nframes] or char text[] */
} rt_tev;
#define RT_TEV_TEXT_MAX 256

/* Record a finished wait on the calling thread (stack: the waiter's, leaf
 * first).  run_delay: the thread's runnable time inside it, -1 unknown.
 * Lock-free, allocation-free; drops are counted.  [AS-safe] */
void rt_trace_wait(int kind, const void *obj, int64_t t0, int64_t t1, int64_t run_delay,
		   const uintptr_t *pcs, int n);
/* The calling thread released / signalled obj now (a waker). [AS-safe] */
void rt_trace_wake(int kind, const void *obj);
/* A CPU sample taken in the SIGPROF handler. [AS-safe] */
void rt_trace_sample(const uintptr_t *pcs, int n, uint64_t cpu_ns);
/* Thread lifecycle, from threads.c's trampoline and exit hook (start:
 * ordinary context, opens the thread's switch ring when those run). */
void rt_trace_thread_start(int creator_tid);
void rt_trace_thread_end(void);
/* trace_hooks.c: grow the descriptor table for the threads' schedstat
 * descriptors now (ordinary context, at a session's start). */
void rt_trace_fd_reserve(void);
/* trace_hooks.c: the thread ends: its schedstat descriptor goes (and its
 * switch ring is left to the drainer). */
void rt_trace_thread_gone(void);
/* The process's counters now, from the trace's runtime thread. [AS-safe] */
void rt_trace_counter(uint64_t threads, int heap_kind, int64_t heap_bytes);
/* A text event (region begin/end, log). [AS-safe] */
void rt_trace_text(int type, const char *a, const char *b, int64_t aux);

/* Runnable time around one wait of the calling thread, one schedstat read
 * per wait where the thread's last read stands in for the start's
 * (trace_hooks.c, "one read per wait"): rt_trace_rd_begin before the wait
 * gives a token (a run_delay, RT_RD_CACHED, or -1: not split), and
 * rt_trace_rd_end(token, the wait's ns) after it the wait's runnable ns,
 * or -1 when unknown.  Per thread, lock-free; not from a signal handler. */
#define RT_RD_CACHED (-2)
#define RT_RD_SLEPT_MIN 4000   /* ns: a wait this long may have slept */
int64_t rt_trace_rd_begin(void);
int64_t rt_trace_rd_end(int64_t token, int64_t dur_ns);
/* What those two decide, on a thread's state and a read (ok false: the
 * read failed) taken before the wait (begin, only when the state cannot
 * stand in for it) or after it (end).  Pure; for tests.  [AS-safe] */
typedef struct rt_rdstate {
	int64_t rd;             /* the last read's run_delay */
	uint64_t pc;            /* and run count */
	bool ok;                /* rd, pc hold a read */
	bool single;            /* the last read stands in for the start's */
	uint8_t clean;          /* reads in a row with no arrival since the last */
} rt_rdstate;
int64_t rt_rd_begin_with(rt_rdstate *s, bool ok, int64_t rd, uint64_t pc);
int64_t rt_rd_end_with(rt_rdstate *s, int64_t token, bool ok, int64_t rd, uint64_t pc,
		       int64_t dur_ns);
/* schedstat's "CPU DELAY COUNT\n": the second and third numbers; false
 * when the bytes are not exactly that.  Pure.  [AS-safe] */
bool rt_trace_parse_schedstat(const char *b, ssize_t n, int64_t *rd, uint64_t *pc);
/* In a fork child: the threads' schedstat descriptors are the parent's. */
RT_FORK_TEXT void rt_trace_hooks_forked(void);
/* How waits are split (CPROF_TRACE_RUNNABLE): not at all (0); every wait
 * ("one read per wait"); only the waits the trace's thread visits in
 * progress (trace_visit.c, the flight recorder's default); every wait
 * while the thread's reads stay within RT_RD_BUDGET per visit tick, the
 * visited ones beyond (auto, a trace's default). */
enum { RT_RUNNABLE_OFF = 0, RT_RUNNABLE_ALL = 1, RT_RUNNABLE_LONG = 2, RT_RUNNABLE_AUTO = 3 };
#define RT_RD_BUDGET 10   /* schedstat reads per thread per RT_VISIT_MS in auto */
/* The modes that need the trace's thread to visit waits in progress. */
static inline bool rt_trace_visiting(int mode)
{
	return mode == RT_RUNNABLE_AUTO || mode == RT_RUNNABLE_LONG;
}
extern _Atomic int rt_trace_runnable;
/* The calling thread's run_delay and run count (schedstat's second and
 * third fields), on its own descriptor; false when splitting is off, the
 * read is refused or is not schedstat.  Not from a signal handler. */
bool rt_trace_read_own_schedstat(int64_t *rd, uint64_t *pc);
/* /proc/self/task/TID/schedstat opened close-on-exec, moved above the
 * numbers programs use; -1 when refused.  rt_trace_schedstat_close
 * closes such a descriptor only while it still reads as schedstat (the
 * program may have closed the number and put its own file there). */
int rt_trace_open_schedstat(int tid);
bool rt_trace_schedstat_close(int fd);
/* Schedstat reads for the split since the process started (the waiters'
 * and the visits'): written in the trace, the split's cost in calls. */
extern _Atomic uint64_t rt_trace_schedstat_reads;

/* Blocking calls shorter than this are not recorded (ns). */
#define RT_TRACE_IO_MIN 20000

/* trace_fds.c: the descriptors known non-blocking, whose calls the hooks
 * do not time (they cannot wait).  What is learnt lasts one epoch
 * (RT_NBFD_EPOCH_MS, moved by the trace's thread); the program's close,
 * dup2, dup3, close_range, closefrom, fcntl(F_SETFL) and ioctl(FIONBIO)
 * are interposed there and forget the numbers they touch.  All
 * lock-free.  [AS-safe] */
#define RT_NBFD_MAX 65536       /* numbers above are always timed */
#define RT_NBFD_LEARN 4         /* short calls on a number before asking the kernel */
#define RT_NBFD_EPOCH_MS 2000
extern _Atomic uint64_t rt_nbfd_tab[RT_NBFD_MAX];
extern _Atomic uint32_t rt_nbfd_epoch;
/* fd is non-blocking, by what was learnt this epoch: its calls cannot
 * wait.  Two relaxed loads. */
static inline bool rt_trace_fd_nonblocking(int fd)
{
	if ((unsigned)fd >= RT_NBFD_MAX)
		return false;
	uint64_t w = atomic_load_explicit(&rt_nbfd_tab[fd], memory_order_relaxed);
	return (w & 3) == 1 &&
	       (uint32_t)(w >> 32) == atomic_load_explicit(&rt_nbfd_epoch, memory_order_relaxed);
}
/* A call on fd lasted less than RT_TRACE_IO_MIN (sock: a socket's call):
 * counted, and the RT_NBFD_LEARN-th asks the kernel.  errno kept. */
void rt_trace_fd_short(int fd, bool sock);
/* A call on fd with these send/recv flags that lasted RT_TRACE_IO_MIN
 * or longer cannot have waited: MSG_DONTWAIT, or a non-blocking socket,
 * pipe or device (not a regular file: its reads sleep on the disk
 * whatever its flags).  Answered from what was learnt this epoch, else
 * asked and the answer kept.  errno kept. */
bool rt_trace_fd_long_cannot_block(int fd, int msgflags, bool sock);
/* What is known of fd, or of every number in [lo, hi], is forgotten. */
void rt_trace_fd_forget(int fd);
void rt_trace_fd_forget_from(unsigned lo, unsigned hi);
/* A session starts (ticking: the trace's thread runs; else nothing is
 * learnt), and that thread's tick (CLOCK_MONOTONIC ns). */
void rt_trace_fds_session(bool ticking);
void rt_trace_fds_tick(int64_t now_ns);

/* trace_visit.c: the split of RT_RUNNABLE_LONG.  rt_trace_visit_begin
 * before a wait announces it (RT_RD_VISIT, or -1 for a thread without a
 * slot); rt_trace_visit_end(the wait's ns, or -1 when it is not recorded)
 * after it gives its runnable ns when the trace's thread visited it, else
 * -1.  Per thread, lock-free; not from a signal handler. */
#define RT_RD_VISIT (-3)
int64_t rt_trace_visit_begin(void);
int64_t rt_trace_visit_end(int64_t dur_ns);
/* The same inline for a thread that has its slot: the two stores of a
 * wait's announcement, and the store that ends a wait not recorded. */
extern __thread __attribute__((tls_model("initial-exec"))) _Atomic uint64_t *rt_visit_mine;
extern __thread __attribute__((tls_model("initial-exec"))) uint64_t rt_visit_seq;
static inline int64_t rt_trace_visit_begin_fast(void)
{
	_Atomic uint64_t *w = rt_visit_mine;
	if (__builtin_expect(w == NULL, 0))
		return rt_trace_visit_begin();
	atomic_store_explicit(w, ++rt_visit_seq, memory_order_release);
	return RT_RD_VISIT;
}
static inline void rt_trace_visit_unrecorded(void)
{
	_Atomic uint64_t *w = rt_visit_mine;
	if (w)
		atomic_store_explicit(w, 0, memory_order_relaxed);
}
/* The trace's thread, every RT_VISIT_MS while the mode is on: reads the
 * schedstat of each wait in progress it has not read; how many it read. */
#define RT_VISIT_MS 10
int rt_trace_visit_waits(void);
/* Bumped at each visit: the ticks auto's budget is counted in. */
extern _Atomic unsigned rt_trace_visit_epoch;
/* Pure, for tests: a wait visited at (rd_v, pc_v) ended at (rd, pc) after
 * dur ns: its runnable ns, or -1.  [AS-safe] */
int64_t rt_trace_visit_split(int64_t rd_v, uint64_t pc_v, int64_t rd, uint64_t pc, int64_t dur);
void rt_trace_visit_thread_gone(void);     /* the calling thread ends */
RT_FORK_TEXT void rt_trace_visit_forked(void);   /* in a fork child */
/* Nanoseconds per time-stamp counter tick, a double's bits; 0 while not
 * known or not usable (the kernel's clock is not the counter).  The
 * blocking-call hooks time their calls with the counter when it is set
 * (two rdtsc, ~10 ns each here, against two clock reads of ~24).  Set at
 * a session's start from the last session's rate, and by
 * rt_trace_tick_rate_update (the trace's tick thread, every tick: the
 * live generation's start pair and one taken now, 10 ms apart at least). */
extern _Atomic uint64_t rt_trace_tick_ns_bits;
void rt_trace_tick_rate_update(void);

/* Sessions (trace.c).  Not AS-safe; serialised by the caller (trace_env.c
 * holds its mutex).  begin: 0 or a negative CPROF_ERR_* code. */
int rt_trace_session_begin(size_t budget);
/* The flight recorder: start a new generation of budget bytes and keep
 * the current one as the trace's older part (the one before it is
 * dropped).  0, CPROF_ERR_NOT_RUNNING or CPROF_ERR_NOMEM. */
int rt_trace_rotate(size_t budget);
/* Stop recording and wait (bounded) until no thread is inside an append:
 * afterwards the chunks are stable until the next begin. */
void rt_trace_session_end(void);
/* Iterate the stopped session's chunks: fn(ctx, tid, data, used) each. */
void rt_trace_chunks(void (*fn)(void *ctx, int tid, const char *data, size_t used), void *ctx);
/* In a fork child (the forking thread's view of its own buffer). */
RT_FORK_TEXT void rt_trace_forked(void);
/* The stopped session: when it began and ended (monotonic ns), events
 * dropped, bytes recorded. */
typedef struct rt_trace_info {
	int64_t start_ns, end_ns;
	uint64_t dropped, recorded, bytes, budget;
	bool membarrier;      /* writers quiesced by membarrier (else a grace period) */
} rt_trace_info;
void rt_trace_get_info(rt_trace_info *out);

/* A batch of n packed switch records of thread tid (trace_switch.c's
 * drainer; n <= 256).  [AS-safe] */
void rt_trace_switches(int tid, const uint64_t *recs, int n);

/* trace_switch.c.  want: asked for (CPROF_TRACE_SWITCH, ?switch=1).
 * begin: a session starts (ordinary context, trace_env.c's mutex held):
 * probe, one line on stderr if refused, a ring for every program thread.
 * thread_begin/end: the calling program thread starts / ends (lock-free).
 * drain: the rings' new records into the session (the runtime thread, or
 * the stopper before rt_trace_session_end; stopping: unmap them all).
 * info: for the trace's metadata.  forked: in a fork child. */
void rt_tsw_want(bool on);
bool rt_tsw_wanted(void);
int rt_tsw_begin(void);
void rt_tsw_thread_begin(void);
void rt_tsw_thread_end(void);
void rt_tsw_drain(bool stopping);
typedef struct rt_tsw_stats {
	bool wanted, working;
	int threads;
	uint64_t threads_without, lost;
	const char *refused;   /* why not, or "" */
} rt_tsw_stats;
void rt_tsw_info(rt_tsw_stats *out);
RT_FORK_TEXT void rt_tsw_forked(void);

/* trace_env.c: cprof_trace_start_fd, with switch records asked for this
 * session when sw (the endpoint's ?switch=1). */
int rt_trace_start_fd_switch(int fd, bool sw);

/* trace_env.c: the flight recorder (CPROF_TRACE_RING) runs. */
int rt_trace_flight_running(void);

/* trace_json.c: write the stopped session as Chrome Trace Event JSON to
 * fd.  0 or a negative CPROF_ERR_* code with rt_set_error.  Not AS-safe;
 * the runtime's own work (symbolizes with the builder of pbuild.c). */
int rt_trace_write_json(int fd);

#endif
