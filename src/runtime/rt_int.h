/*
 * rt_int.h - private interfaces between the files of the runtime
 * (libcprof.so / libcprof.a, loaded into the profiled program).
 * Names carry the second prefix `rt_`.  Layering: the runtime depends on the
 * profile core (src/core) only.
 *
 *   modules.c   the registry of loaded modules (executable, shared
 *               libraries, vdso): address ranges, build IDs and their unwind
 *               tables; refreshed outside signal handlers (at start, on
 *               dlopen/dlclose) and published lock-free for the handler
 *   unwind_tables.c  compact unwind tables built from a module's .eh_frame
 *               (CFA rule and return-address rule per address range) by
 *               the runtime's own reader ehframe.c, allocating only with mmap
 *   unwind.c    the async-signal-safe unwinder: walks a stack from a signal's
 *               ucontext with those tables (frame pointers where a module has
 *               none), reading memory without faulting
 *   threads.c   the thread registry, pthread_create interposition, fork
 *   cpu.c       per-thread CPU timers, the SIGPROF handler, the sample ring
 *   collector.c the thread that drains the ring and aggregates stacks; the
 *               profile written at stop (mappings, symbols, thread labels)
 *   env.c       CPROF_* environment, constructor/destructor, exit paths
 *   lifecycle.c _exit, the exec family, posix_spawn/system/popen
 *   outfile.c   profile files: tmp + rename, patterns, the process tree rule
 *   envparse.c, procparse.c  the strict CPROF_* value parser and the /proc
 *               text parsers (rt_env.h)
 *   api.c       the public API of include/cprof.h (CPU profile, errors)
 *   rt_base.c   the base unit every feature calls and that calls none:
 *               runtime depth, last error, output buffers, stacks wanted
 *               (rtclock.c, the clock reads, is a leaf too)
 *   pbuild.c    what every profile shares: stacks of pcs -> a symbolized
 *               profile, Go's debug=1 text frames, the calling thread's
 *               own stack (rt_unwind_here)
 *   labels.c    key/value labels of the calling thread (cprof_do)
 *
 * Signal-safety contract: functions marked [AS-safe] may be called from a
 * signal handler: no locks, no allocation, no stdio, errno preserved.
 */
#ifndef CPROF_RT_INT_H
#define CPROF_RT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <ucontext.h>
#include <time.h>

/* ---- unwinding (modules.c, unwind_tables.c, unwind.c) ------------------------ */

#define RT_MAX_FRAMES 128

/* Build the module registry from the modules loaded now (dl_iterate_phdr),
 * with every module's unwind table (for unwinding in signal handlers; from
 * then on new modules get theirs at refresh).  Not AS-safe.  0 or a
 * negative CPROF_E* code. */
int rt_modules_init(void);
/* The registry without tables: a module's table is built by the
 * runtime's builder thread when a walk first asks for it (rt_modules_ask).
 * Starts the builder.  Ordinary context (creates a thread): not from a
 * hook.  Not AS-safe. */
int rt_modules_init_lazy(void);
/* The same, for the recorders of other hooks (pthread_create): the builder
 * stays only with keep_builder, else it runs while there is work and
 * leaves.  Cheap once listed.  Ordinary context; not AS-safe. */
int rt_modules_list(bool keep_builder);
/* Start the builder if some module waits for its table (asked by a hook).
 * Ordinary context only (creates a thread).  Not AS-safe. */
void rt_modules_start_builder(void);
/* A fork child that goes on profiling (a fork child handler; flag only,
 * [AS-safe]) asks for its own builder; rt_modules_forked starts it as fork
 * returns in the child (lifecycle.c's wrapper: ordinary context, after
 * every fork handler).  Nothing otherwise.  Not AS-safe. */
void rt_modules_child_wants_builder(void);
void rt_modules_forked(void);
/* A walk reached addr in a module without its table: count it and hand the
 * module to the builder thread (never built here).  Lock-free,
 * allocation-free: callable from any hook.  [AS-safe] */
void rt_modules_ask(uintptr_t addr);
/* Wait at most timeout_ms for the builder to build the table of the module
 * holding addr; true once built.  Only where the caller holds no lock the
 * builder could need (the heap's slow path, after the real allocation):
 * the bound keeps even that case from hanging.  Not AS-safe. */
bool rt_modules_wait_built(uintptr_t addr, int timeout_ms);
/* Wait at most timeout_ms until no module waits for its table (asked for,
 * or new while every table is wanted); true then.  For tests and
 * ordinary contexts.  Not AS-safe. */
bool rt_modules_wait_idle(int timeout_ms);
/* Wake the builder (new modules to build).  [AS-safe] */
void rt_modules_wake_builder(void);
/* Walks that reached a module without its table (relaxed atomic). */
extern _Atomic uint64_t rt_modules_asked;
/* addr is in a listed module whose table is not built.  [AS-safe] */
bool rt_modules_unbuilt(uintptr_t addr);
/* Refresh after dlopen/dlclose (new modules get tables; removed ones are
 * retired, their memory freed only when no handler can still use it).
 * Not AS-safe; serialised internally. */
void rt_modules_refresh(void);
void rt_modules_shutdown(void);

/* Unwind the stack of the interrupted code described by uc into pcs
 * (leaf first: pcs[0] is the interrupted pc itself, later entries are
 * return addresses minus one, i.e. call sites).  Returns the number of
 * frames (>= 1 when uc is valid), stopping cleanly at code with no unwind
 * information, at the outermost frame, or at max.  *truncated is set when
 * the walk stopped for another reason than reaching the outermost frame
 * (unknown code, a bad read, max frames).  [AS-safe] */
int rt_unwind(const ucontext_t *uc, uintptr_t *pcs, int max, bool *truncated);
/* Forget the calling thread's cached rows (and, with pages, its proven
 * stack pages): the next walk is a cold one.  For benchmarks.  [AS-safe] */
void rt_unwind_forget(bool pages);
/* In a fork child (pthread_atfork): reads that may fault go through
 * process_vm_readv on our own pid, and the pid was the parent's, which is
 * still alive and whose memory differs.  [AS-safe] */
void rt_unwind_forked(void);

/* unwind_tables.c: a module's compact unwind table (x86-64).  Row i covers
 * [starts[i], starts[i+1]) (offsets from lo) and follows rules[rule[i]]:
 * how to find the caller's CFA, return address and rbp.  Rules are few and
 * shared (a palette), so a row costs 6 bytes.  Immutable once built; read
 * by the handler, freed by modules.c after a grace period. */
enum { RT_ROW_UNKNOWN, RT_ROW_RSP, RT_ROW_RBP, RT_ROW_PLT, RT_ROW_SIGNAL, RT_ROW_END };
enum { RT_RBP_SAME, RT_RBP_AT, RT_RBP_UNDEF };
/* pad of an RT_ROW_UNKNOWN row: the return address is in a register
 * (ra_off: its DWARF number, 0-16), CFA = rsp + cfa_off, rbp by rbp_rule:
 * glibc's vfork keeps it in rdi around the system call, since the child
 * reuses the stack.  Only the frame a signal interrupted has that register
 * (rt_unwind's first frame); every other walk treats the row as unknown. */
#define RT_PAD_RA_REG 1
typedef struct rt_urow {
	int32_t cfa_off;    /* CFA = rsp|rbp + cfa_off (PLT: the threshold) */
	int16_t ra_off;     /* return address at CFA + ra_off */
	int16_t rbp_off;    /* saved rbp at CFA + rbp_off (RT_RBP_AT) */
	uint8_t kind;       /* RT_ROW_* */
	uint8_t rbp_rule;   /* RT_RBP_* */
	uint16_t pad;
} rt_urow;
typedef struct rt_utable {
	uintptr_t lo, hi;   /* run-time address range covered */
	size_t nrows, nrules;
	const uint32_t *starts;  /* nrows, strictly increasing, < hi - lo */
	const uint16_t *rule;    /* nrows, each < nrules */
	rt_urow rules[];         /* then starts and rule, same allocation */
} rt_utable;
/* Build from an ELF file on disk / an ELF image in memory (the vdso), for a
 * module loaded with bias; [lo, hi) its executable range.  NULL when the
 * module has no usable CFI (or out of memory).  Allocates only with mmap
 * (no malloc, no lock): callable while the program holds its allocator's
 * lock.  [AS-safe] */
rt_utable *rt_utable_from_file(const char *path, uintptr_t bias, uintptr_t lo, uintptr_t hi);
rt_utable *rt_utable_from_image(const void *img, size_t size, uintptr_t bias, uintptr_t lo, uintptr_t hi);
size_t rt_utable_bytes(const rt_utable *t);
/* Unmap a table (NULL is fine).  [AS-safe] */
void rt_utable_free(rt_utable *t);
/* The rule of the row covering addr, or NULL.  [AS-safe] */
const rt_urow *rt_utable_find(const rt_utable *t, uintptr_t addr);
/* modules.c: the table of the module holding addr, or NULL.  [AS-safe],
 * only between rt_modules_enter and rt_modules_leave (the grace period). */
const rt_utable *rt_modules_find(uintptr_t addr, bool *known_module);
/* Returns the generation of the registry (changes with every refresh), so
 * the caller can cache what it found under it.  [AS-safe] */
uint64_t rt_modules_enter(void);
void rt_modules_leave(void);

/* sysrestart.c: the number of the system call made by the `syscall`
 * instruction ending code[0..n) (its last two bytes), from the code before
 * it and the registers after it (gregs: a ucontext's); -1 when the code
 * does not say.  [AS-safe] */
long rt_syscall_nr_before(const unsigned char *code, size_t n, const long long *gregs);
/* A signal handler's context (a ucontext_t *) that shows a system call
 * failed with EINTR is changed to make the call again; true if it was.
 * [AS-safe] */
bool rt_restart_if_interrupted(void *ucv);

/* ---- statistics shared by all parts (atomics; [AS-safe] to update) ------------- */

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

/* ---- CPU sampling (cpu.c, threads.c, collector.c, api.c, env.c) --------------- */

#define RT_NAME_MAX 16

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
void rt_ring_reset(void);                /* forked child: empty it */
int rt_sigprof_install(void);            /* 0 or CPROF_ERR_SIGNAL/SYSTEM */
bool rt_sigprof_ours(void);              /* our handler is SIGPROF's, not yielded */
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
void rt_clock_src_delete(const rt_clock_src *s);
void rt_clock_src_forget(const rt_clock_src *s);       /* a forked child's copy */
void rt_clock_src_child_reset(void);
/* In the SIGPROF handler: is si a sample of session gen?  Then the samples
 * it counts, the CPU ns it stands for, and the clock is re-armed. [AS-safe] */
bool rt_clock_src_fired(const siginfo_t *si, uint32_t gen, uint64_t *count, uint64_t *cpu_ns);
/* On the thread itself: it started with clock src / it ends: the CPU time
 * it used since its last sample (0 when unknown), once. [AS-safe] */
void rt_cpu_thread_begin(const rt_clock_src *src);
uint64_t rt_cpu_thread_unsampled(void);
extern _Atomic uint64_t rt_cpu_threads_perf, rt_cpu_threads_timer;
extern _Atomic uint64_t rt_cpu_tail_ns, rt_cpu_tail_samples;

/* threads.c: thread registry and per-thread timers */
void rt_threads_init(void);              /* once: fork handlers */
int rt_threads_timers_start(long period_ns);
void rt_threads_timers_stop(void);
/* exec.c: before an exec, every clock is deleted (true if they ran); after
 * an exec that failed, they are made again. */
bool rt_threads_clocks_suspend(void);
void rt_threads_clocks_resume(void);
extern void (*rt_fork_child_hook)(void); /* api.c's reset in a forked child */
#include <pthread.h>
/* libc's pthread_create: threads of the runtime itself, never sampled */
int rt_pthread_create_real(pthread_t *th, const pthread_attr_t *attr,
			   void *(*fn)(void *), void *arg);
/* A detached runtime thread that never takes the program's asynchronous
 * signals (faults still reach the program's crash handlers): 0 or an
 * errno value.  The caller's signal mask is unchanged. */
int rt_quiet_thread_start(const char *name, void *(*fn)(void *), void *arg);

/* collector.c: drains the ring, aggregates, writes the profile at stop */
int rt_collector_start(int hz);
extern _Atomic int rt_collector_tid;      /* never sampled */
/* Stop the collector (timers already stopped), build and write to o
 * (outfile.c) or, when o is NULL, to fd (fd < 0: nothing written). */
struct rt_out;
int rt_collector_stop(int fd, struct rt_out *o);
/* From a signal handler or _exit: have the collector stop timers and write
 * to o or fd, waiting at most timeout_ms.  true when written.  [AS-safe] */
bool rt_collector_exit_write(int fd, struct rt_out *o, int timeout_ms);
void rt_collector_forget(void);          /* in a forked child */

/* Sample labels: the calling thread's label set, as an id.  [AS-safe] */
uint32_t rt_labels_current(void);
void rt_labels_set_current(uint32_t id);    /* [AS-safe] */
/* The calling thread's label-set slot (its address is stable for the
 * thread's life): thread snapshots read other threads' labels through it. */
uint32_t *rt_labels_slot(void);
/* The set inherited by a thread the calling thread creates (0: none). */
uint32_t rt_labels_inherited(void);         /* [AS-safe] */
typedef struct rt_lset {
	uint64_t hash;
	uint32_t n;          /* pairs */
	bool inherit;
	const char *kv[];    /* key0, value0, key1, ...; sorted by key */
} rt_lset;
/* The set with that id (immutable, never freed), NULL for 0.  [AS-safe] */
const rt_lset *rt_labels_get(uint32_t id);

/* rt_base.c: the process was asked for a profile or the endpoint (so the
 * module registry is worth building at start). */
bool rt_wants_stacks(void);
/* env.c: the runtime's one handler of SIGTERM, SIGINT and SIGHUP, for
 * each of them the program left at SIG_DFL: it has the exit profiles (CPU,
 * heap, allocs) written, bounded, then dies of the signal.  Idempotent:
 * the CPU and the heap constructors both call it when they have a file to
 * write; the first call installs.  Not AS-safe (constructors). */
void rt_fatal_handlers_install(void);
/* env.c: the CPU profile's exit paths: written now (not AS-safe; at_exec:
 * before an exec, when a process that sampled nothing writes nothing);
 * profiling again after a failed exec; by the collector from _exit or a
 * signal handler, bounded ([AS-safe]).  rt_exit_quick: CPU, heap and
 * allocs together, bounded ([AS-safe]). */
void rt_cpu_exit_write(bool at_exec);
/* After rt_cpu_exit_write(true) wrote the old image's profile: the
 * environment entry that hands it to the new image
 * ("CPROF_CPU_PROFILE_EXEC=PID:FILE"), or NULL. */
const char *rt_cpu_exec_env(void);
void rt_cpu_exec_failed(void);
bool rt_cpu_exit_quick(int timeout_ms);
void rt_exit_quick(int timeout_ms);
/* env.c: around the real fork in lifecycle.c's wrapper.  A forked child
 * that profiles on (CPROF_CPU_FOLLOW) starts its CPU profile in
 * rt_fork_leave, after every fork handler (the runtime's and the
 * program's are not the child's work); a fork that did not come through
 * the wrapper starts it in env.c's child handler.  Calling thread only. */
void rt_fork_enter(void);
void rt_fork_leave(pid_t pid);
/* The same for the other exit-time profiles (heap_env.c, sync_env.c,
 * tprof_env.c): write now; re-arm after a failed exec.  Not AS-safe. */
void rt_heap_exit_write(bool at_exec);
void rt_heap_exec_failed(void);
void rt_sync_exit_write(bool at_exec);
void rt_sync_exec_failed(void);
void rt_tprof_exit_write(bool at_exec);
void rt_tprof_exec_failed(void);
/* http_env.c: this process started another program (a fork child's exec,
 * posix_spawn, system, popen): during its grace, the endpoint is left to
 * that program.  [AS-safe] */
void rt_http_program_started(void);
/* The same from a process about to exec: counts only in a fork or vfork
 * child of the process that may serve.  [AS-safe] */
void rt_http_program_started_by_child(void);
/* heap_env.c, for that handler: wake the heap writer thread when this
 * process has a heap or allocs file to write (true; false at once when
 * there is none, in a forked child, or when it has no writer thread),
 * then wait at most timeout_ms for the files (true when written, by the
 * thread or by the atexit path).  [AS-safe] */
bool rt_heap_fatal_begin(void);
bool rt_heap_fatal_wait(int timeout_ms);
/* unwind.c: after rt_unwind, an address the walk reached in a module
 * whose table is not built yet (lazy registry), or 0.  [AS-safe] */
uintptr_t rt_unwind_unbuilt(void);
/* heap_got.c: patch the modules a dlopen just loaded, when the heap hooks
 * were installed by GOT patching.  Not AS-safe. */
void rt_heap_got_dlopened(void);
/* modules.c: the registry exists.  [AS-safe] */
bool rt_modules_ready(void);

/* outfile.c: a profile file named by the environment (NAME=FILE or a
 * %p pattern) and written by tmp + rename; with tree, under the process
 * tree rule (outfile.c's comment): a process that sampled nothing writes
 * nothing unless it is the root, and FILE written by another process of
 * the run sends this one's profile to FILE.PID.  Plain struct, owned by
 * the caller (static storage). */
#include <limits.h>
typedef struct rt_out {
	const char *env, *what;  /* "CPROF_CPU_PROFILE", "CPU" */
	char pattern[PATH_MAX];  /* the value, copied (setenv may move it) */
	char was[160];           /* FILE's identity when the tree started */
	char mine[160];          /* what this process last wrote to FILE */
	long long start_time;
	bool active, tree, root, per_process;
	bool at_exec;            /* writing before an exec: empty means nothing */
	/* CPU only: written to this file instead (before an exec), and the
	 * same process's earlier image's profile to merge in (after one) */
	char exec_to[PATH_MAX + 32];
	char pred[PATH_MAX + 32];
} rt_out;
/* Constructors: read env (checked; one line and false when bad or unset).
 * tree: the process tree rule applies (env use); else the path is the
 * caller's alone (the API).  Not AS-safe. */
bool rt_out_init(rt_out *o, const char *env, const char *what, bool tree);
/* The API's own path (literal: no pattern, no tree rule); false when too
 * long. */
bool rt_out_set_path(rt_out *o, const char *path, const char *what);
/* A followed fork child takes over the parent's rt_out. */
void rt_out_forked(rt_out *o);
/* Write: write_fn(fd, ctx) fills a temporary file, renamed into place;
 * has(ctx) (NULL: always) says whether the profile has samples, asked
 * only when the rule needs it.  0 (also when the rule says write nothing)
 * or a negative CPROF_ERR_* with rt_set_error.  Not AS-safe. */
int rt_out_write(rt_out *o, bool (*has)(void *ctx), int (*write_fn)(int fd, void *ctx), void *ctx);
/* The path this process would write (the pattern expanded): 0 or -1. */
int rt_out_path(const rt_out *o, char *out, size_t n);
/* FILE's directory is writable (checked at start, so a bad path fails
 * early rather than at exit). */
bool rt_out_writable(const rt_out *o);

/* rt_base.c: the calling thread's last error (cprof_last_error reads it) */
void rt_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_clear_error(void);

/* api.c */
/* A CPU profile runs: where it goes (*o NULL: the descriptor *fd). */
bool rt_api_running(int *fd, rt_out **o);
/* The CPU profile's rate (samples per CPU-second). */
int rt_cpu_rate(void);
/* env.c: start the CPU profile to an rt_out. */
int rt_cpu_start_out(rt_out *o);
/* Stop sampling (timers off) without writing: exit paths call it before
 * any other exit-time work, so that work never shows in the CPU profile.
 * Idempotent; thread-safe. */
void rt_cpu_pause(void);

/* ---- what every profile shares (pbuild.c) ------------------------------------- */

#include "cprof_core.h"
#include "cprof_util.h"

/* rt_base.c: the calling thread is doing the runtime's own work: its
 * allocations are not the program's (the heap profiler skips them).
 * Nesting counts.  [AS-safe] */
void rt_self_enter(void);
void rt_self_leave(void);
int rt_self_depth(void);
/* self.c: start a thread of the runtime itself (libc's pthread_create),
 * named name ("cprof-..."), at depth 1 for its whole life and listed as
 * the runtime's while it runs: never given a CPU timer, left out of
 * thread snapshots, nothing it allocates or waits for recorded.  The
 * caller sets the signal mask it inherits.  0 or an errno value. */
/* setxid.c: chain glibc's SIGSETXID handler so the runtime's threads take
 * the caller's keep-capabilities flag and capabilities before a set*id
 * call's broadcast reaches them.  Ordinary context, once a thread was
 * created.  Thread-safe. */
void rt_setxid_chain(void);
int rt_runtime_thread_create(pthread_t *th, const pthread_attr_t *attr, const char *name,
			     void *(*fn)(void *), void *arg);
/* tid is a running thread of the runtime.  [AS-safe] */
bool rt_self_tid(int tid);
/* A forked child: the parent's runtime threads are not in it. */
void rt_self_fork_child(void);

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
/* pbuild.c: append p gzip-encoded as profile.proto.  0 or CPROF_ERR_NOMEM. */
int rt_pb_encode(const cprof_profile *p, rt_buf *out);

/* The builder: the caller makes the profile and its sample types, interns
 * stacks through rt_pb_stack, adds samples itself, then calls rt_pb_finish
 * (mappings + symbolization).  Not AS-safe; marks the thread as inside the
 * runtime between rt_pb_new and rt_pb_free. */
typedef struct rt_pb rt_pb;
rt_pb *rt_pb_new(cprof_profile *p);              /* NULL when out of memory */
/* The head of a count profile as Go writes goroutine and threadcreate:
 * the one sample type (type, count), the same period type, period 1,
 * the time now.  0 or CPROF_ERR_NOMEM. */
int rt_pb_count_head(cprof_profile *p, const char *type);
/* Add a comment (printf format, at most 255 bytes) to p: 0 or
 * CPROF_ERR_NOMEM. */
int rt_pb_commentf(cprof_profile *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clock c in nanoseconds (CLOCK_REALTIME for time_nanos), rtclock.c: the
 * vDSO until the program makes rdtsc fault (PR_SET_TSC), the system call
 * from then on.  [AS-safe] */
int64_t rt_clock_ns(clockid_t c);
/* The same, always the system call: for signal handlers, which run with
 * SIGSEGV blocked in threads that may have made rdtsc fault.  [AS-safe] */
int64_t rt_clock_ns_sig(clockid_t c);
void rt_pb_free(rt_pb *b);
/* A mapping seen earlier (a library unloaded since) */
void rt_pb_note_map(rt_pb *b, uint64_t start, uint64_t end, uint64_t off, const char *path);
/* The profile's stack of the pcs (leaf first, as rt_unwind gives them):
 * a stack index, or a negative CPROF_E* code. */
int64_t rt_pb_stack(rt_pb *b, const uintptr_t *pcs, size_t n);
int64_t rt_pb_loc(rt_pb *b, uintptr_t pc);
/* A one-frame stack of a pseudo function ("[lost samples]"). */
int64_t rt_pb_pseudo(rt_pb *b, const char *name);
/* The profile's label set of runtime label set lset plus extra labels
 * (their strings interned in the builder's profile): an index, or a negative code. */
int64_t rt_pb_labels(rt_pb *b, uint32_t lset, const cprof_label *extra, size_t nextra);
int rt_pb_finish(rt_pb *b);
/* Every executable file mapping of /proc/self/maps. */
int rt_read_exec_maps(void (*fn)(void *ctx, uint64_t start, uint64_t end, uint64_t off,
				 const char *path), void *ctx);

/* Go's debug=1 text: " 0x... 0x..." addresses of a stack, and its
 * "#\t0xADDR\tfunction\tfile:line" lines (one per inline frame). */
void rt_text_addrs(rt_buf *out, const cprof_profile *p, uint32_t stack);
void rt_text_frames(rt_buf *out, const cprof_profile *p, uint32_t stack);

/* The calling thread's stack, leaf first, in rt_unwind's convention: the
 * first frame is the function that called rt_unwind_here (at the call),
 * skip drops that many more.  The number of frames.  [AS-safe] */
int rt_unwind_here(uintptr_t *pcs, int max, int skip);

/* ---- profiles by name, for the API, the dump signal and the HTTP endpoint -------- */

/* Each profile kind renders into a buffer: debug 0 is a gzipped
 * profile.proto, 1 Go's legacy text, 2 (threads) one block per thread.
 * rt_profile_build gives the debug=0 profile itself (for deltas).
 * Both return 0 or a negative CPROF_ERR_* code with rt_set_error. */
typedef enum rt_kind {
	RT_KIND_HEAP, RT_KIND_ALLOCS, RT_KIND_THREADS, RT_KIND_THREADCREATE,
	RT_KIND_MUTEX, RT_KIND_BLOCK, RT_KIND_DEADLOCK, RT_KIND_N
} rt_kind;
int rt_profile_render(rt_kind k, int debug, rt_buf *out);
/* Or'ed into debug for the threads profile: list the runtime's own threads
 * too (the endpoint's `runtime=1`); CPROF_THREADS_RUNTIME=1 does it for
 * every threads profile of the process. */
#define RT_DEBUG_RUNTIME 0x100
int rt_profile_build(rt_kind k, cprof_profile **out);
/* heap.c (issue 5) */
int rt_heap_render(bool allocs, int debug, rt_buf *out);
int rt_heap_build(bool allocs, cprof_profile **out);
/* tprof.c (issue 6): thread snapshots and threadcreate */
int rt_threads_render(int debug, rt_buf *out);
int rt_threads_build(cprof_profile **out);
int rt_threadcreate_render(int debug, rt_buf *out);
int rt_threadcreate_build(cprof_profile **out);
/* sync.c (issue 6): mutex and block profiles */
int rt_mutex_render(int debug, rt_buf *out);
int rt_mutex_build(cprof_profile **out);
int rt_block_render(int debug, rt_buf *out);
int rt_block_build(cprof_profile **out);
/* sync.c (issue 6): what each thread is blocked on, as the interposed
 * primitives record it (for thread snapshots and the deadlock profile).
 * A thread publishes its record before it blocks and clears it after. */
typedef enum rt_wait_kind {
	RT_WAIT_NONE, RT_WAIT_MUTEX, RT_WAIT_RDLOCK, RT_WAIT_WRLOCK, RT_WAIT_COND,
	RT_WAIT_SEM, RT_WAIT_JOIN, RT_WAIT_BARRIER
} rt_wait_kind;
#define RT_WAIT_FRAMES 32
typedef struct rt_wait {
	int tid;
	rt_wait_kind kind;
	const void *obj;          /* the mutex, rwlock, condvar, semaphore... */
	const void *obj2;         /* pthread_cond_wait: its mutex; join: the thread */
	int64_t since_ns;         /* CLOCK_MONOTONIC when it started waiting */
	int nframes;              /* where it waits (may be 0 when not recorded) */
	uintptr_t pcs[RT_WAIT_FRAMES];
} rt_wait;
/* Copy the records of the threads blocked now into out (at most max);
 * returns how many.  Thread-safe, lock-free for the waiters. */
size_t rt_sync_waits(rt_wait *out, size_t max);
/* The thread id owning mutex m as glibc records it (0: none or unknown). */
int rt_mutex_owner(const void *m);
/* issue 6: the thread id holding rwlock l for writing, as glibc records it
 * (0: none, or held by readers only; readers are not recorded). */
int rt_rwlock_writer(const void *l);
const char *rt_wait_kind_name(rt_wait_kind k);   /* "mutex", "cond", ... */

/* deadlock.c (issue 6) */
int rt_deadlock_render(int debug, rt_buf *out);
int rt_deadlock_build(cprof_profile **out);

/* The code a fork child runs before its own (the fork wrapper, the fork
 * handlers and what they call, _exit): one section, laid out together by
 * the linker's .text.hot rule, so the child maps it with one page fault
 * (the kernel maps up to 64 KiB of page cache around a fault) where it
 * took one per scattered page.  A fork child maps no code page of its
 * parent's; every one it runs is a fault. */
#define RT_FORK_TEXT __attribute__((section(".text.hot.cprof_fork")))
RT_FORK_TEXT void rt_modules_forked(void);
RT_FORK_TEXT void rt_unwind_forked(void);
RT_FORK_TEXT void rt_ring_reset(void);
RT_FORK_TEXT void rt_clock_src_forget(const rt_clock_src *s);
RT_FORK_TEXT void rt_clock_src_child_reset(void);
RT_FORK_TEXT void rt_collector_forget(void);
RT_FORK_TEXT bool rt_cpu_exit_quick(int timeout_ms);
RT_FORK_TEXT void rt_exit_quick(int timeout_ms);
RT_FORK_TEXT void rt_fork_enter(void);
RT_FORK_TEXT void rt_fork_leave(pid_t pid);
RT_FORK_TEXT bool rt_heap_fatal_begin(void);
RT_FORK_TEXT void rt_self_fork_child(void);
RT_FORK_TEXT void rt_trace_forked(void);
/* collector.c: map, in the parent, the pages rt_collector_forget reads */
void rt_collector_touch(void);

#endif
