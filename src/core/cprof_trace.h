/*
 * cprof_trace.h - profiles from an execution trace (libcprofcore.a), as
 * `go tool trace -pprof=TYPE` makes them: the delay of each kind of wait
 * by the waiter's stack.
 *
 * The input is the Chrome Trace Event JSON the runtime writes
 * (src/runtime/trace_json.c): "X" slices of category "blocked" with args
 * reason, runnable_us and stack (frames "function file:line", leaf
 * first).  Other events are skipped; other producers' traces give empty
 * profiles.
 */
#ifndef CPROF_TRACE_H
#define CPROF_TRACE_H

#include "cprof_core.h"

typedef enum cprof_trace_kind {
	CPROF_TRACE_SYNC,     /* blocked on a mutex, rwlock, condvar, semaphore, join, barrier */
	CPROF_TRACE_SYSCALL,  /* blocked in read, recv, accept, connect, poll, select,
			       * epoll_wait, waitpid, a sleep */
	CPROF_TRACE_SCHED,    /* runnable, waiting for a CPU, at the end of a wait */
	CPROF_TRACE_CPU,      /* the CPU samples ("cpu sample" instants): a CPU profile */
} cprof_trace_kind;

/* "sync", "syscall", "sched", "cpu" -> the kind (0), or -1. */
int cprof_trace_kind_parse(const char *s, cprof_trace_kind *out);

/* Build the profile of kind from a trace of len bytes: sample types
 * contentions/count and delay/nanoseconds, one sample per wait (compact
 * it to aggregate); for CPROF_TRACE_CPU samples/count and cpu/nanoseconds,
 * one sample per CPU sample of the trace, period its mean CPU time.  Memory is bounded by the input (each distinct frame
 * string makes one function and location; nesting deeper than 64 and
 * strings longer than 4 KiB are refused).  0, CPROF_EFORMAT (not JSON, or
 * no traceEvents) or CPROF_ENOMEM, with err. */
int cprof_trace_pprof(const char *data, size_t len, cprof_trace_kind kind, cprof_profile **out,
		      cprof_error *err);

/* The trace of len bytes converted to Perfetto's protobuf trace format
 * (trace_perfetto.c): *out (malloc'd, the caller frees it) of *outlen
 * bytes.  0, CPROF_EFORMAT or CPROF_ENOMEM, with err. */
int cprof_trace_perfetto(const char *data, size_t len, void **out, size_t *outlen,
			 cprof_error *err);

#endif
