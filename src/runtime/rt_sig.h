/*
 * rt_sig.h - sigwrap.c: the interposed sigaction family and the program's
 * view of the signals where the runtime's handlers stand (the sampling
 * clock's signal, on_fatal for SIG_DFL, a one-shot handler's wrapper).
 */
#ifndef CPROF_RT_SIG_H
#define CPROF_RT_SIG_H

#include "rt_base.h"

#include <signal.h>
#include <stdbool.h>

/* libc's sigaction, past the interposed one: the kernel's truth, for the
 * runtime's own installs and queries.  [AS-safe] */
int rt_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* env.c: the runtime's handler that stands in for SIG_DFL on the fatal
 * signals, and the mask it runs with.  Once, before any rt_sig_fatal_manage. */
void rt_sig_fatal_handler_set(void (*fn)(int), const sigset_t *mask);
/* sig is one of the fatal signals: on_fatal now if the program left it
 * at SIG_DFL, and whenever the program sets SIG_DFL later.  The calling
 * process owns the view (a vfork child never writes it).  Not AS-safe. */
void rt_sig_fatal_manage(int sig);
/* A followed fork child: the view is this process's now. */
void rt_sig_view_owner_here(void);
/* A fork child (threads.c's atfork handler; never a vfork child, which
 * shares the parent's memory): the lock another thread of the parent
 * held at fork is nobody's here.  Writes only when it was held. */
RT_FORK_TEXT void rt_sig_fork_child(void);

/* cpu.c: take sig for the sampling clock with handler sa (the program's
 * action there becomes its view, reported to its queries); with
 * need_default, only if the program left it at SIG_DFL and never set it.
 * 0 or -1.  Not AS-safe (only in that it serializes with a spin lock). */
int rt_sig_clock_take(int sig, const struct sigaction *sa, bool need_default);
/* The real-time signals the clock may move to, best first: from
 * SIGRTMAX-3 down to SIGRTMIN+2 (SIGRTMAX-2 is the thread snapshots'). */
#define RT_CLOCK_SIG_FIRST (SIGRTMAX - 3)
#define RT_CLOCK_SIG_LAST (SIGRTMIN + 2)

/* cpu.c, from the interposed sigaction before a set of sig: the clock
 * leaves sig when the program takes it; true when it cannot and stays,
 * the program's handler chained behind it (only a real-time signal, with
 * no free one left).  [AS-safe] except when it moves. */
bool rt_cpu_sig_will_set(int sig, const struct sigaction *act);
/* From the clock's handler, for a signal there no clock of ours sent:
 * what the program's view of sig says (ignored; the default, which ends
 * the process; its chained handler, run with its mask).  [AS-safe] */
void rt_sig_forward(int sig, siginfo_t *si, void *uc);

#endif
