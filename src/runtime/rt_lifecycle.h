/*
 * rt_lifecycle.h - the process's life as the runtime follows it:
 *
 *   env.c       CPROF_* environment, constructor/destructor, exit paths,
 *               the fatal-signal handlers, fork
 *   lifecycle.c _exit, the exec family, posix_spawn/system/popen, fork
 *   threads.c   (its lifecycle part) the thread registry, fork handlers
 *   setxid.c    glibc's SIGSETXID handler, chained
 *   heap_env.c, sync_env.c, tprof_env.c, http_env.c, heap_got.c  the hooks
 *               each subsystem gives these paths (exit, exec, dlopen)
 *   (follow.c, `cprof record --no-follow`, declares nothing: a constructor)
 *
 * [AS-safe]: see rt_base.h.
 */
#ifndef CPROF_RT_LIFECYCLE_H
#define CPROF_RT_LIFECYCLE_H

#include <stdbool.h>
#include <sys/types.h>

/* threads.c: the thread registry */
void rt_threads_init(void);              /* once: fork handlers */
extern void (*rt_fork_child_hook)(void); /* api.c's reset in a forked child */

/* env.c: the runtime's one handler of SIGTERM, SIGINT and SIGHUP, for
 * each of them where the program's action is SIG_DFL (sigwrap.c): it has the exit profiles (CPU,
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
RT_FORK_TEXT bool rt_cpu_exit_quick(int timeout_ms);
RT_FORK_TEXT void rt_exit_quick(int timeout_ms);
/* env.c: around the real fork in lifecycle.c's wrapper.  A forked child
 * that profiles on (CPROF_CPU_FOLLOW) starts its CPU profile in
 * rt_fork_leave, after every fork handler (the runtime's and the
 * program's are not the child's work); a fork that did not come through
 * the wrapper starts it in env.c's child handler.  Calling thread only. */
RT_FORK_TEXT void rt_fork_enter(void);
RT_FORK_TEXT void rt_fork_leave(pid_t pid);
/* The same for the other exit-time profiles (heap_env.c, sync_env.c,
 * tprof_env.c): write now; re-arm after a failed exec.  Not AS-safe. */
void rt_heap_exit_write(bool at_exec);
void rt_heap_exec_failed(void);
void rt_sync_exit_write(bool at_exec);
void rt_sync_exec_failed(void);
void rt_tprof_exit_write(bool at_exec);
void rt_tprof_exec_failed(void);
/* trace_env.c: CPROF_TRACE's file written before _exit or an exec (in
 * the owner process; not AS-safe).  After a failed exec the trace does
 * not go on: its file holds the run up to the exec, and a second write
 * would replace it. */
void rt_trace_exit_write(bool at_exec);
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
RT_FORK_TEXT bool rt_heap_fatal_begin(void);
bool rt_heap_fatal_wait(int timeout_ms);
/* heap_got.c: patch the modules a dlopen just loaded, when the heap hooks
 * were installed by GOT patching.  Not AS-safe. */
void rt_heap_got_dlopened(void);

/* api.c: stop sampling (timers off) without writing: exit paths call it
 * before any other exit-time work, so that work never shows in the CPU
 * profile.  Idempotent; thread-safe. */
void rt_cpu_pause(void);

/* setxid.c: chain glibc's SIGSETXID handler so the runtime's threads take
 * the caller's keep-capabilities flag and capabilities before a set*id
 * call's broadcast reaches them.  Ordinary context, once a thread was
 * created.  Thread-safe. */
void rt_setxid_chain(void);
/* setxid.c: a runtime thread is starting (rt_runtime_thread_create,
 * before the clone) / started (the new thread, once marked, or the
 * creator when the clone failed): set*id calls wait while one starts, so
 * no broadcast reaches a thread of the runtime's that is not marked yet;
 * the fork child's reset.  starting: not AS-safe; started: [AS-safe]. */
void rt_setxid_thread_starting(void);
void rt_setxid_thread_started(void);
RT_FORK_TEXT void rt_setxid_fork_child(void);

#endif
