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
 *   unwind_tables.c  compact unwind tables built from .eh_frame / .debug_frame
 *               of a module (CFA rule and return-address rule per address
 *               range), outside signal handlers
 *   unwind.c    the async-signal-safe unwinder: walks a stack from a signal's
 *               ucontext with those tables (frame pointers where a module has
 *               none), reading memory without faulting
 *   threads.c   the thread registry, pthread_create interposition, fork
 *   cpu.c       per-thread CPU timers, the SIGPROF handler, the sample ring
 *   collector.c the thread that drains the ring and aggregates stacks; the
 *               profile written at stop (mappings, symbols, thread labels)
 *   env.c       CPROF_* environment, constructor/destructor, exit paths
 *   api.c       the public API of include/cprof.h
 *
 * Signal-safety contract: functions marked [AS-safe] may be called from a
 * signal handler: no locks, no allocation, no stdio, errno preserved.
 */
#ifndef CPROF_RT_INT_H
#define CPROF_RT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/* ---- unwinding (modules.c, unwind_tables.c, unwind.c) ------------------------ */

#define RT_MAX_FRAMES 128

/* Build the module registry from the modules loaded now (dl_iterate_phdr),
 * with unwind tables.  Not AS-safe.  0 or a negative CPROF_E* code. */
int rt_modules_init(void);
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

/* ---- statistics shared by all parts (atomics; [AS-safe] to update) ------------- */

typedef struct rt_stats {
	uint64_t samples;        /* signals handled with a recorded sample */
	uint64_t lost_ring_full; /* samples dropped: ring buffer full */
	uint64_t lost_unwind;    /* samples whose unwind failed at the first frame */
	uint64_t truncated;      /* samples whose stack was cut short */
	uint64_t handler_ns;     /* time spent in the handler (sum) */
} rt_stats;

extern rt_stats rt_stats_g;

#endif
