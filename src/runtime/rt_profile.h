/*
 * rt_profile.h - what every profile of the runtime shares:
 *
 *   pbuild.c    stacks of pcs -> a symbolized profile (the builder),
 *               profile.proto encoding, Go's debug=1 text frames
 *   profiles.c  the profiles by name, for the API, the dump signal and the
 *               HTTP endpoint, each rendered by its own subsystem (heap.c,
 *               tprof.c, sync.c, deadlock.c)
 *   outfile.c   profile files: tmp + rename, patterns, the process tree rule
 *   dump.c      (a user of all three: profiles written on a signal)
 *
 * [AS-safe]: see rt_base.h.
 */
#ifndef CPROF_RT_PROFILE_H
#define CPROF_RT_PROFILE_H

#include "rt_base.h"
#include "cprof_core.h"
#include "cprof_util.h"

#include <limits.h>

/* ---- the builder (pbuild.c) ------------------------------------------------------ */

/* Append p gzip-encoded as profile.proto.  0 or CPROF_ERR_NOMEM. */
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
/* heap.c */
int rt_heap_render(bool allocs, int debug, rt_buf *out);
int rt_heap_build(bool allocs, cprof_profile **out);
/* tprof.c: thread snapshots and threadcreate */
int rt_threads_render(int debug, rt_buf *out);
int rt_threads_build(cprof_profile **out);
int rt_threadcreate_render(int debug, rt_buf *out);
int rt_threadcreate_build(cprof_profile **out);
/* sync.c: mutex and block profiles */
int rt_mutex_render(int debug, rt_buf *out);
int rt_mutex_build(cprof_profile **out);
int rt_block_render(int debug, rt_buf *out);
int rt_block_build(cprof_profile **out);

/* deadlock.c */
int rt_deadlock_render(int debug, rt_buf *out);
int rt_deadlock_build(cprof_profile **out);

/* ---- profile files (outfile.c) ------------------------------------------------- */

/* outfile.c: a profile file named by the environment (NAME=FILE or a
 * %p pattern) and written by tmp + rename; with tree, under the process
 * tree rule (outfile.c's comment): a process that sampled nothing writes
 * nothing unless it is the root, and FILE written by another process of
 * the run sends this one's profile to FILE.PID.  Plain struct, owned by
 * the caller (static storage). */
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
 * caller's alone (the API).  o is static storage, initialised once (when
 * env is unset it is left untouched: inactive).  Not AS-safe. */
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
/* Profile files symbolized by a helper process (sym_spawn.c, libcprof.so
 * only), so the program never maps libdw: between rt_sym_defer_begin(ms)
 * and rt_sym_defer_end() the calling thread's profile builds leave their
 * addresses unnamed (cprof_symbolizer_run then only marks the thread:
 * rt_sym_mark_pending), and rt_out_write runs the helper on the file it
 * wrote before renaming it into place, waiting at most ms.  Only around
 * profile.proto output (a text format keeps what it printed).  In
 * libcprof.a, which has no helper, profiles are symbolized in the process
 * as before.  Per thread; not AS-safe. */
void rt_sym_defer_begin(int timeout_ms);
void rt_sym_defer_end(void);
/* The bound of the current bracket in ms, 0 outside one. */
int rt_sym_deferring(void);
void rt_sym_mark_pending(void);
/* sym_spawn.c (weak here: absent from libcprof.a): run the helper on the
 * file tmp (shown as name in messages, the profile of kind what), waiting
 * at most timeout_ms; true when it symbolized tmp in place.  On failure
 * (no helper, killed, too slow, its own error) one line on stderr and
 * tmp as it was.  Ordinary context; not AS-safe. */
bool rt_sym_helper_run(const char *tmp, const char *name, const char *what, int timeout_ms)
	__attribute__((weak));
/* The bound for a write at exit: CPROF_SYMBOLIZE_TIMEOUT seconds (default
 * 60), read once.  Not AS-safe. */
int rt_sym_timeout_ms(void);

/* The path this process would write (the pattern expanded): 0 or -1. */
int rt_out_path(const rt_out *o, char *out, size_t n);
/* FILE's directory is writable (checked at start, so a bad path fails
 * early rather than at exit). */
bool rt_out_writable(const rt_out *o);

#endif
