/*
 * rt_unwind.h - stacks: the module registry, unwind tables and the
 * async-signal-safe unwinder of the runtime.
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
 *   pbuild.c    (its part) the calling thread's own stack, rt_unwind_here
 *   sysrestart.c  a signal's ucontext read the other way: the system call
 *               it interrupted, made again
 *
 * [AS-safe]: see rt_base.h.
 */
#ifndef CPROF_RT_UNWIND_H
#define CPROF_RT_UNWIND_H

#include "rt_base.h"

#include <signal.h>
#include <ucontext.h>

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
RT_FORK_TEXT void rt_modules_forked(void);
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
/* rt_unwind for the calling thread's own repeated walks (rt_unwind_here):
 * the same frames, from a remembered walk when its starting registers,
 * max, the registry's generation and every word it read are unchanged
 * (unwind.c, "walks remembered"); else a full walk, remembered when clean.
 * [AS-safe]; not reentrant with itself on one thread (its callers run
 * inside rt_self_enter, where the signal handlers do not walk). */
int rt_unwind_cached(const ucontext_t *uc, uintptr_t *pcs, int max, bool *truncated);
/* The calling thread's rt_unwind_cached answers: remembered, walked.
 * For tests.  [AS-safe] */
void rt_unwind_memo_counts(uint64_t *hits, uint64_t *walks);
/* Forget the calling thread's cached rows (and, with pages, its proven
 * stack pages): the next walk is a cold one.  For benchmarks.  [AS-safe] */
void rt_unwind_forget(bool pages);
/* In a fork child (pthread_atfork): reads that may fault go through
 * process_vm_readv on our own pid, and the pid was the parent's, which is
 * still alive and whose memory differs.  [AS-safe] */
RT_FORK_TEXT void rt_unwind_forked(void);

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
/* The generation rt_modules_enter would return, read without entering
 * (one load): to compare with a kept one, not to look anything up. */
uint64_t rt_modules_gen(void);

/* sysrestart.c: the number of the system call made by the `syscall`
 * instruction ending code[0..n) (its last two bytes), from the code before
 * it and the registers after it (gregs: a ucontext's); -1 when the code
 * does not say.  [AS-safe] */
long rt_syscall_nr_before(const unsigned char *code, size_t n, const long long *gregs);
/* A signal handler's context (a ucontext_t *) that shows a system call
 * failed with EINTR is changed to make the call again; true if it was.
 * [AS-safe] */
bool rt_restart_if_interrupted(void *ucv);

/* modules.c: the row covering addr read on demand from the module's CFI
 * in memory (ehframe.c's rt_ehf_row_at), when addr is in a listed module
 * whose table is not built; false otherwise (no module, a table, no CFI
 * in memory, no row).  Counts the lookups, and hands the module to the
 * builder once they are many.  Lock-free, allocation-free.  [AS-safe],
 * only between rt_modules_enter and rt_modules_leave. */
bool rt_modules_row(uintptr_t addr, rt_urow *out);

/* unwind.c: after rt_unwind, an address the walk reached in a module
 * whose table is not built yet (lazy registry), or 0.  [AS-safe] */
uintptr_t rt_unwind_unbuilt(void);
/* modules.c: the registry exists.  [AS-safe] */
bool rt_modules_ready(void);

/* pbuild.c: the calling thread's stack, leaf first, in rt_unwind's
 * convention: the first frame is the function that called rt_unwind_here
 * (at the call), skip drops that many more.  The number of frames.
 * [AS-safe] */
int rt_unwind_here(uintptr_t *pcs, int max, int skip);

#endif
