/*
 * cprof.h - the public API of libcprof, the cprof runtime.
 *
 * libcprof samples the CPU use of every thread of the process that loads it
 * (per-thread CPU timers, SIGPROF, 100 Hz by default) and writes a
 * symbolized profile.proto (gzip-compressed), readable by `cprof` and
 * `go tool pprof`.  It can be linked in (libcprof.a / libcprof.so) and
 * driven with the functions below, or preloaded with no code change:
 *
 *   LD_PRELOAD=libcprof.so CPROF_CPU_PROFILE=cpu.pb.gz [CPROF_CPU_HZ=N] prog
 *
 * profiles the whole run and writes the profile when the program exits
 * (exit(), return from main, or a signal such as SIGTERM or SIGINT whose
 * action the program left at the default).  The first process that
 * profiles records its pid in CPROF_CPU_PROFILE_PID, so that programs it
 * runs (which inherit the environment) do not overwrite FILE; a process
 * that execs itself keeps profiling into FILE.  CPROF_CPU_HZ=N sets the
 * rate; bad values are reported once on stderr and ignored.
 * CPROF_CPU_MODE=auto|perf|timer chooses each thread's sampling clock: a
 * perf_event task-clock counter (auto: where perf_event_open is allowed,
 * within a descriptor budget) or a POSIX CPU timer.  Intervals are drawn
 * at random around 1/rate, and each sample's cpu/nanoseconds value is the
 * CPU time its thread used since its previous sample.
 *
 * Errors: every function returns 0 on success or a negative CPROF_E*
 * code (cprof_errors.h); cprof_strerror() (or its first name,
 * cprof_error_string()) names a code and cprof_last_error() gives the
 * last failure's one-line message.
 *
 * Signals: the sampling clocks use SIGPROF while the program leaves it
 * alone.  A program with its own SIGPROF action keeps it (its handler,
 * itimer and mask): the clocks use a real-time signal it left at SIG_DFL
 * (from SIGRTMAX-3 down), which its sigaction queries still read as
 * SIG_DFL.  Starting a CPU profile fails with CPROF_ERR_SIGNAL only when
 * the program handles SIGPROF and no real-time signal is free.  Threads
 * that block the clocks' signal are simply not sampled.
 * After fork() the child is not profiled (the parent's profile continues)
 * unless CPROF_CPU_FOLLOW=1 (`cprof record --follow-fork`): then a child
 * that does not exec profiles itself to BASE.PID.
 */
#ifndef CPROF_H
#define CPROF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (negative): cprof's one vocabulary, cprof_errors.h
 * (CPROF_ENOMEM, CPROF_EIO, CPROF_EINVAL, CPROF_EBUSY, CPROF_ENOTRUNNING,
 * CPROF_ESIGNAL, CPROF_ESYSTEM), also spelled CPROF_ERR_NOMEM, _IO,
 * _INVAL, _BUSY, _NOT_RUNNING, _SIGNAL, _SYSTEM as this API first named
 * them (same values). */
#include "cprof_errors.h"

/* Default and largest sampling rates, in samples per CPU-second. */
#define CPROF_CPU_HZ_DEFAULT 100
#define CPROF_CPU_HZ_MAX     10000

/*
 * Start a CPU profile written to path when cprof_cpu_stop() is called.  The
 * file is created (truncated) now, so a bad path fails here, and is opened
 * close-on-exec.  Fails with CPROF_ERR_BUSY ("cpu profiling already in
 * use") while a profile runs.  path is copied; the caller keeps it.
 * Thread-safe (serialised with the other cprof_cpu_* calls).  Not
 * async-signal-safe.
 */
int cprof_cpu_start(const char *path);

/*
 * As cprof_cpu_start, writing to the open file descriptor fd.  The runtime
 * writes to fd at stop and never closes it: the caller owns it.
 * Thread-safe; not async-signal-safe.
 */
int cprof_cpu_start_fd(int fd);

/*
 * Stop the running CPU profile: every thread's timer is deleted, the
 * samples are aggregated, symbolized in the process (functions, files,
 * lines, inline frames) and the profile is written.  Returns
 * CPROF_ERR_NOT_RUNNING when no profile runs, CPROF_ERR_IO when the write
 * failed (the profile is then lost).  Thread-safe; not async-signal-safe.
 */
int cprof_cpu_stop(void);

/*
 * Set the sampling rate used by the next cprof_cpu_start (1 ..
 * CPROF_CPU_HZ_MAX samples per CPU-second; default 100).  Fails with
 * CPROF_ERR_BUSY while a profile runs, as Go's SetCPUProfileRate refuses.
 * Thread-safe; not async-signal-safe.
 */
int cprof_cpu_set_rate(int hz);

/* 1 while a CPU profile runs, else 0.  Thread-safe and async-signal-safe. */
int cprof_cpu_running(void);

/* Counters of the current (or last) CPU profile. */
typedef struct cprof_cpu_stats {
	uint64_t samples;        /* samples recorded */
	uint64_t lost_ring_full; /* samples lost: the sample buffer was full */
	uint64_t lost_unwind;    /* samples lost: the stack could not be unwound */
	uint64_t truncated;      /* samples whose stack was cut short */
	uint64_t handler_ns;     /* total time spent in the signal handler */
} cprof_cpu_stats;

/* Copy the counters into *st.  Thread-safe and async-signal-safe. */
int cprof_cpu_get_stats(cprof_cpu_stats *st);

/* cprof_strerror (cprof_errors.h) under its first name: a static name for
 * an error code ("cpu profiling already in use", ...).  Thread-safe and
 * async-signal-safe. */
const char *cprof_error_string(int code);

/* The one-line message of the calling thread's last failed cprof_* call
 * ("" when none).  The string belongs to the runtime and stays valid until
 * the thread's next cprof_* call.  Thread-safe (per thread);
 * async-signal-safe. */
const char *cprof_last_error(void);

/* ======================================================================
 * Labels (the analogue of Go's pprof.Do): key/value pairs attached to the
 * calling thread and carried by every sample taken on it (CPU, heap at
 * allocation, mutex, block, thread snapshots) as profile.proto labels, so
 * `cprof -tagfocus`, `-tags` and `-tagshow` work on them.
 * ====================================================================== */

/* Give the labels to threads the calling thread creates while they are
 * current (a flag of cprof_labels_push and cprof_do). */
#define CPROF_LABELS_INHERIT 1u

/* What cprof_labels_pop restores.  Filled by cprof_labels_push. */
typedef struct cprof_labels_scope {
	uint32_t prev, cur;
} cprof_labels_scope;

/*
 * Add npairs key/value pairs (kv = { key0, value0, key1, value1, ... }) to
 * the calling thread's labels until the matching cprof_labels_pop: the
 * current labels plus these, a new value replacing an old one of the same
 * key, as pprof.WithLabels.  The strings are copied.  At most 64 pairs; a
 * process makes at most 65536 distinct label sets (CPROF_ERR_NOMEM past
 * that, the labels unchanged).  Thread-safe (per thread); not
 * async-signal-safe.
 */
int cprof_labels_push(const char *const *kv, size_t npairs, unsigned flags,
		      cprof_labels_scope *scope);
/* Restore the labels of before the push of scope; CPROF_ERR_INVAL when
 * scope is not the innermost open one.  Async-signal-safe. */
int cprof_labels_pop(const cprof_labels_scope *scope);
/* Run fn(arg) with the labels pushed, then restore them: pprof.Do. */
int cprof_do(const char *const *kv, size_t npairs, unsigned flags,
	     void (*fn)(void *), void *arg);
/* The value of key in the calling thread's labels, or NULL.  The string
 * belongs to the runtime and lives as long as the process.
 * Async-signal-safe. */
const char *cprof_label_value(const char *key);

/* ======================================================================
 * Heap and allocs profiles (sampled allocations, Go's profiles).
 * With LD_PRELOAD: CPROF_HEAP_PROFILE=FILE writes the heap profile at exit,
 * CPROF_HEAP_RATE=BYTES sets the mean sampling interval.
 * (issue 5) CPROF_ALLOCS_PROFILE=FILE writes the allocs profile at exit.
 * Exit is as for the CPU profile: exit(), return from main, or SIGTERM,
 * SIGINT or SIGHUP whose action the program left at the default (the
 * runtime's thread writes the files, then the program dies of the signal).
 * CPROF_HEAP_SAMPLER=stratified (default: one sample point at a random
 * offset in every RATE bytes a thread allocates; blocks of RATE bytes or
 * more all recorded) or poisson (Go's: exponential gaps of mean RATE).
 * Sampling is on at the default rate when the program linked or dlopen'ed
 * the runtime, or when a heap/allocs file, the rate, the endpoint, a dump
 * or a heap watch is asked for; a process that only has libcprof.so
 * preloaded for other profiles takes no heap samples (until
 * cprof_heap_set_rate).  An
 * allocator preloaded before libcprof.so (jemalloc, tcmalloc) would shadow
 * the hooks: the runtime then points the modules' GOT slots for the
 * allocation functions at its hooks, which forward to that allocator.  A
 * sanitizer preloaded first is left alone (the profile is empty, and the
 * runtime says so on stderr).  Linked as libcprof.a, the program's malloc
 * is the runtime's (no LD_PRELOAD).
 * ====================================================================== */

#define CPROF_HEAP_RATE_DEFAULT 524288

/* Mean bytes between sampled allocations: 1 records every allocation, 0
 * turns sampling off (allocations made while on stay tracked until freed).
 * The calling thread uses the new rate at once, other threads from their
 * next sample (from off: within 1 MiB of allocation), as in Go; set it
 * early.  Returns the previous rate, or a negative code.  Thread-safe. */
long cprof_heap_set_rate(long bytes);

/* Write the heap profile (inuse_space default) or the allocs profile
 * (alloc_space default) to fd: debug 0 a gzipped profile.proto, 1 Go's
 * heap text followed by the allocator's statistics.  fd stays the
 * caller's.  Thread-safe; not async-signal-safe. */
int cprof_heap_write(int fd, int debug);
int cprof_allocs_write(int fd, int debug);

typedef struct cprof_heap_stats {
	uint64_t rate;            /* current mean sampling interval */
	uint64_t sampled_live;    /* sample points in blocks still allocated */
	uint64_t sampled_total;   /* sample points since start (a block may hold 2) */
	uint64_t table_bytes;     /* memory of the runtime's tables */
	uint64_t dropped;         /* samples not recorded (table full / no memory) */
	uint64_t alloc_bytes;     /* estimated bytes allocated since start */
	uint64_t alloc_objects;   /* estimated objects allocated since start */
	uint64_t inuse_bytes;     /* estimated bytes in use */
	uint64_t inuse_objects;   /* estimated objects in use */
} cprof_heap_stats;
int cprof_heap_get_stats(cprof_heap_stats *st);

/* ======================================================================
 * Threads (Go's goroutine profile), threadcreate, mutex, block and
 * deadlock profiles.
 * ====================================================================== */

/* A snapshot of every live thread: debug 0 profile.proto (one sample per
 * distinct stack, labels for state and name), 1 grouped text ("threads
 * profile: total N"), 2 one block per thread with its state, wait time and
 * creator.  No system call of the program fails with EINTR because of it
 * (a call the snapshot's signal cuts short is restarted; the one exception
 * is a raw syscall(2) call of a kind the kernel never restarts).
 * The runtime's own threads (named cprof-...) are left out unless
 * CPROF_THREADS_RUNTIME=1.
 * Thread-safe; not async-signal-safe. */
int cprof_threads_write(int fd, int debug);
/* The stack of every pthread_create since the runtime loaded. */
int cprof_threadcreate_write(int fd, int debug);
/* issue 6 (snapshots): threads blocked in a system call are read from
 * /proc without a signal; running threads are asked with the real-time
 * signal CPROF_SNAPSHOT_SIGNAL (default SIGRTMAX-2; never taken over from
 * a program that handles it: running threads are then listed without a
 * stack).  With LD_PRELOAD, CPROF_THREADS_PROFILE=FILE,
 * CPROF_THREADCREATE_PROFILE=FILE and CPROF_DEADLOCK_PROFILE=FILE write
 * them at exit (CPROF_<KIND>_DEBUG=0|1|2, else FILE ending ".txt": debug=1);
 * CPROF_DEADLOCK_THRESHOLD_MS (default 10000) is how long a wait must last
 * before a thread stuck behind a dead owner or a cycle, or just waiting,
 * is listed. */

/* issue 6: the mutex and block profiles are ON by default (a mutex
 * profile off by default is never there when needed): the interposed
 * pthread_mutex_*, pthread_rwlock_*, pthread_cond_*wait, sem_*wait,
 * pthread_*join* and pthread_barrier_wait cost nothing measurable until a
 * thread has to wait (docs/PERFORMANCE.md).  The mutex profile charges
 * the waiters' delay to the stack of the thread that unlocks (Go's
 * semantics); the block profile records the waiter's stack.  With
 * LD_PRELOAD, CPROF_MUTEX_PROFILE=FILE / CPROF_BLOCK_PROFILE=FILE write
 * them at exit (FILE ending ".txt": Go's debug=1 text). */
#define CPROF_MUTEX_FRACTION_DEFAULT 10
#define CPROF_BLOCK_RATE_DEFAULT 10000000L

/* Mutex profile: 1 in rate contention events recorded (Go's
 * SetMutexProfileFraction: 0 off, negative only reads).  Returns the
 * previous rate.  CPROF_MUTEX_FRACTION in the environment. */
int cprof_mutex_set_fraction(int rate);
/* Block profile: one blocking event per rate nanoseconds blocked on
 * average (Go's SetBlockProfileRate: 1 every event, 0 off).  Returns the
 * previous rate.  CPROF_BLOCK_RATE in the environment. */
long cprof_block_set_rate(long rate);
int cprof_mutex_write(int fd, int debug);
int cprof_block_write(int fd, int debug);
/* Threads waiting on each other in a cycle of mutexes, rwlocks (writers)
 * and joins, confirmed by a second look 20 ms later (and threads blocked
 * behind a cycle or on a lock whose owner exited), each with the stack
 * where it waits, the lock it waits for and those it holds. */
int cprof_deadlock_write(int fd, int debug);

/* ======================================================================
 * The execution trace: when each thread ran, waited and on what, as
 * Chrome Trace Event JSON (Perfetto, chrome://tracing, speedscope).
 * With LD_PRELOAD: CPROF_TRACE=FILE traces the whole run (written at
 * exit), CPROF_TRACE_BUF=SIZE bounds the buffer (64M; events past it are
 * dropped and counted in the trace); the endpoint serves
 * /debug/pprof/trace?seconds=N.
 *
 * Per thread: running, blocked (mutex, rwlock, condvar, semaphore, join,
 * barrier, read, recv, accept, connect, poll, select, epoll_wait,
 * waitpid, sleep: the object and the waiter's stack) and runnable intervals, the waker as a flow arrow, thread start
 * and end, CPU samples at their times while a CPU profile runs, and the
 * regions and logs below.
 *
 * One trace at a time per process: start fails with CPROF_ERR_BUSY while
 * one runs (CPROF_TRACE's included); stop writes it (symbolized) and
 * returns 0, CPROF_ERR_NOT_RUNNING, CPROF_ERR_IO or CPROF_ERR_NOMEM.
 * Thread-safe; not async-signal-safe. */
int cprof_trace_start(const char *path);
/* The same, written to fd at stop (the caller keeps fd open and closes it). */
int cprof_trace_start_fd(int fd);
int cprof_trace_stop(void);
/* 1 while a trace is being recorded, else 0.  Async-signal-safe. */
int cprof_trace_running(void);
/* The flight recorder (CPROF_TRACE_RING=SECONDS: the last SECONDS to
 * 2 x SECONDS kept in memory, half of CPROF_TRACE_BUF each): write what
 * it holds to fd now, then record on.  CPROF_ERR_NOT_RUNNING without a
 * flight recorder.  While it runs, cprof_trace_start answers
 * CPROF_ERR_BUSY.  Thread-safe. */
int cprof_trace_flight_write(int fd);
/* Go's trace.WithRegion / trace.Log: a region of the calling thread's
 * time, named (at most 127 bytes kept), ended by the same name (regions
 * nest; an end closes the innermost region of that name), and a log line
 * (category, message: at most 127 + 125 bytes).  Both carry the thread's
 * labels (cprof_do).  Nothing recorded when no trace runs (one load);
 * never allocates, never locks: async-signal-safe. */
void cprof_region_begin(const char *name);
void cprof_region_end(const char *name);
void cprof_trace_log(const char *category, const char *message);

/* ======================================================================
 * The HTTP endpoint (Go's net/http/pprof).  With LD_PRELOAD:
 * CPROF_HTTP=127.0.0.1:6060 starts it.
 *
 * issue 7: Go's paths, parameters, status codes and messages:
 * /debug/pprof/ (index), profile?seconds=N (CPU, default 30), heap,
 * allocs, goroutine (alias threads; debug=0|1|2), threadcreate, mutex,
 * block, deadlock, cmdline, symbol (GET and POST); seconds=N on heap,
 * allocs, goroutine, threadcreate, mutex and block answers the delta over
 * the window; trace?seconds=N (default 1) the execution trace above.  /metrics: Prometheus text.  Binary answers
 * are application/octet-stream with Content-Disposition.
 *
 * Environment (read by a constructor): CPROF_HTTP=HOST:PORT|unix:/path,
 * CPROF_TOKEN, CPROF_HTTP_TRUSTED=1, CPROF_HTTP_NO_CMDLINE=1,
 * CPROF_HTTP_TLS_CERT / CPROF_HTTP_TLS_KEY, CPROF_HTTP_MAX_SECONDS,
 * CPROF_HTTP_MAX_CONNECTIONS, CPROF_HTTP_RATE.  It prints one line on
 * stderr: "cprof: serving on ADDR" (with the port bound: port 0 picks a
 * free one) or "cprof: not serving: WHY" (the program runs on).
 *
 * Safety: a non-loopback address is refused without a token or
 * trusted_network; the token is checked in constant time on every request
 * ("Authorization: Bearer TOKEN", 401 otherwise).  cmdline shows the
 * program's arguments, which may hold secrets: no_cmdline turns it off.
 * The server runs on threads of the runtime (never sampled, their
 * allocations not the program's, every asynchronous signal blocked in
 * them), answers profiles off its event loop (a seconds= request blocks no
 * other), and never raises SIGPIPE in the program.
 *
 * Snapshots without the endpoint: CPROF_DUMP_SIGNAL=SIGUSR1 writes every
 * available profile to CPROF_DUMP_DIR (default "."); CPROF_WATCH_THREADS=N
 * and CPROF_WATCH_HEAP=BYTES do so when a threshold is reached, at most
 * once per CPROF_WATCH_INTERVAL seconds (default 60).
 * ====================================================================== */

typedef struct cprof_http_options {
	const char *listen;       /* "HOST:PORT" or "unix:/path"; NULL: 127.0.0.1:6060 */
	const char *token;        /* bearer token, or NULL */
	int trusted_network;      /* nonzero: allow a non-loopback address without a token */
	const char *tls_cert;     /* PEM files for HTTPS, or NULL */
	const char *tls_key;
	int max_seconds;          /* largest seconds= (0: 300) */
	int max_connections;      /* (0: 32) */
	int no_cmdline;           /* nonzero: /debug/pprof/cmdline answers 404 */
	/* issue 7: expensive requests (profiles, index, symbol) per minute,
	 * burst min(N, 20); beyond it 429.  0: 60; negative: unlimited. */
	int rate_per_minute;
} cprof_http_options;

/* Start the endpoint in its own thread.  Thread-safe; not
 * async-signal-safe.  CPROF_ERR_BUSY when already serving; CPROF_ERR_INVAL
 * for a bad or refused address (cprof_last_error says why).  opt and its
 * strings are copied. */
int cprof_http_start(const cprof_http_options *opt);
/* Stop it: running requests end (a CPU profile stops), connections close.
 * CPROF_ERR_NOT_RUNNING when not serving.  Thread-safe. */
int cprof_http_stop(void);
/* The port actually bound (useful with port 0), or a negative code. */
int cprof_http_port(void);

/* For programs with their own HTTP server: answer GET path?query (path
 * starting "/debug/pprof/") into the caller's writer.  Sets *status (200,
 * 400, 404, 429, 500...) and *content_type (a static string).  write is
 * called with the body in pieces and returns 0, or nonzero to abort.
 * Returns 0, or a negative code when the writer failed.  May block for
 * seconds= requests.  No token, rate limit or cmdline switch applies here:
 * the caller's server decides who may ask.  Thread-safe. */
typedef int (*cprof_write_fn)(void *ctx, const void *buf, size_t len);
int cprof_http_handle(const char *path, const char *query, int *status,
		      const char **content_type, cprof_write_fn write, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* CPROF_H */
