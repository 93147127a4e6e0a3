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
 *
 * Errors: every function returns 0 on success or a negative CPROF_ERR_*
 * code; cprof_error_string() names a code and cprof_last_error() gives the
 * last failure's one-line message.
 *
 * Signals: the runtime uses SIGPROF.  A program that installs its own
 * SIGPROF handler keeps it: starting a CPU profile then fails with
 * CPROF_ERR_SIGNAL.  Threads that block SIGPROF are simply not sampled.
 * After fork() the child is not profiled; the parent's profile continues.
 */
#ifndef CPROF_H
#define CPROF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (negative); the shared ones have the profile core's values. */
#define CPROF_ERR_NOMEM       (-1)   /* out of memory */
#define CPROF_ERR_IO          (-2)   /* the profile could not be opened or written */
#define CPROF_ERR_INVAL       (-6)   /* bad argument */
#define CPROF_ERR_BUSY        (-20)  /* cpu profiling already in use */
#define CPROF_ERR_NOT_RUNNING (-21)  /* no cpu profile is running */
#define CPROF_ERR_SIGNAL      (-22)  /* the program has its own SIGPROF handler */
#define CPROF_ERR_SYSTEM      (-23)  /* a system call failed (timers, threads) */

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

/* A static name for an error code ("cpu profiling already in use", ...).
 * Thread-safe and async-signal-safe. */
const char *cprof_error_string(int code);

/* The one-line message of the calling thread's last failed cprof_* call
 * ("" when none).  The string belongs to the runtime and stays valid until
 * the thread's next cprof_* call.  Thread-safe (per thread);
 * async-signal-safe. */
const char *cprof_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* CPROF_H */
