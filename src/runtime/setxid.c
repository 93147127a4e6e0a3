/*
 * setxid.c - the runtime's threads follow the program's credential
 * changes (setuid, setresgid, setgroups and the rest) instead of making
 * glibc abort the program.
 *
 * Credentials are per thread in the kernel; glibc makes a set*id call
 * process-wide by running the same system call on every thread (its
 * SIGSETXID broadcast) and aborts the process if one thread's result
 * differs from the caller's.  Two more attributes are per thread: the
 * capability sets and PR_SET_KEEPCAPS.  A program that drops privileges
 * as setpriv and many daemons do (PR_SET_KEEPCAPS on its thread,
 * setresuid, capset to get CAP_SETGID back, setresgid) changes them on
 * its own thread only: the runtime's threads then lose every capability at
 * the setresuid, fail the setresgid with EPERM, and glibc aborts.  The
 * program's own threads would fail the same way; the runtime's must not,
 * since the program does not know they exist.
 *
 * How: every public set*id function is interposed (exported by
 * libcprof.so, see libcprof.map).  The wrapper takes a snapshot of the
 * calling thread's keep-capabilities flag and capability sets, then calls
 * the real function.  glibc's SIGSETXID handler (installed at the first
 * pthread_create, never again) is chained: once a runtime thread has
 * started (rt_setxid_chain, ordinary context), the action is replaced,
 * with raw rt_sigaction (libc refuses the signal), by one with the same
 * flags, mask and restorer whose handler, on a thread of the runtime's
 * (rt_self_thread: marked from its first instruction of the runtime's
 * until it dies) while a snapshot is published, copies the flag and
 * the sets to that thread (prctl, capset: system calls, AS-safe) and then
 * runs glibc's handler, which makes the same call the caller makes.  Any
 * other thread goes straight to glibc's handler.  A capability set the
 * runtime's thread cannot take (capset refuses anything beyond its
 * permitted set) is left as it is: the call then fails there as before.
 * capset itself, which glibc does not broadcast, is interposed too: after
 * the program's call the runtime's threads are signalled (the same chained
 * handler, told apart by SI_QUEUE) and take the caller's new sets, so a
 * program that drops capabilities leaves no thread of the runtime's with
 * them.
 *
 * Threads and signals: the wrappers serialise on one mutex of the
 * runtime's own (never the program's; held across the real call, whose
 * handlers never take it), so a snapshot belongs to the call in flight.
 * A call also waits for the runtime's threads being started to be
 * marked (starting, raised under the mutex, so no start begins during a
 * call): glibc signals a new thread as soon as it runs, before its
 * function, and a thread that took a set*id call unmarked lost the
 * capabilities the next call needs (setpriv aborted in 5 of 30 runs, the
 * CPU profile's collector starting as setpriv called setresuid).  A
 * mark rather than the table of running threads: a thread leaves the
 * table before it is gone, and glibc still signals it.
 * The handler reads the snapshot after an acquire load of its flag.
 */
#include "rt_base.h"
#include "rt_lifecycle.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SIGSETXID_NO (__SIGRTMIN + 1)   /* glibc's internal SIGSETXID */

/* the kernel's struct sigaction on x86_64 and aarch64 */
struct ksigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void (*glibc_handler)(int, siginfo_t *, void *);
static atomic_bool chained;

static pthread_mutex_t call_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool snap_on;                /* a snapshot of the caller is published */
static int snap_keep;                      /* its PR_GET_KEEPCAPS */
static bool snap_caps_ok;
static struct __user_cap_data_struct snap_caps[_LINUX_CAPABILITY_U32S_3];

/* The runtime's own use of the chained SIGSETXID: after the program's
 * capset, each runtime thread is sent SIGSETXID with si_code SI_QUEUE and
 * this value (rt_tgsigqueueinfo), takes the caller's new capability sets
 * and counts itself in caps_acks.  glibc's handler ignores any SIGSETXID
 * that is not SI_TKILL, so one that arrives late is harmless. */
#define CAPS_MAGIC 0x63617073   /* "caps" */
static atomic_int caps_acks;

/* [AS-safe] glibc's handler, after the runtime's thread took the caller's
 * per-thread attributes */
static void setxid_handler(int sig, siginfo_t *si, void *uc)
{
	int e = errno;
	if (si && si->si_code == SI_QUEUE && si->si_value.sival_int == CAPS_MAGIC &&
	    si->si_pid == getpid()) {
		if (rt_self_thread() && atomic_load_explicit(&snap_on, memory_order_acquire)) {
			struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
			syscall(SYS_capset, &h, snap_caps);
			atomic_fetch_add(&caps_acks, 1);
		}
		errno = e;
		return;
	}
	if (atomic_load_explicit(&snap_on, memory_order_acquire) && rt_self_thread()) {
		syscall(SYS_prctl, PR_SET_KEEPCAPS, (unsigned long)snap_keep, 0UL, 0UL, 0UL);
		if (snap_caps_ok) {
			struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
			syscall(SYS_capset, &h, snap_caps);
		}
	}
	errno = e;
	glibc_handler(sig, si, uc);
}

/* Chain glibc's SIGSETXID handler once it exists.  Ordinary context, after
 * a runtime thread started (so pthread_create has installed glibc's).
 * Thread-safe (once). */
void rt_setxid_chain(void)
{
	if (atomic_load(&chained))
		return;
	struct ksigaction old;
	if (syscall(SYS_rt_sigaction, SIGSETXID_NO, NULL, &old, sizeof old.mask) != 0 ||
	    old.handler == NULL || old.handler == setxid_handler ||
	    (uintptr_t)old.handler == 1 /* SIG_IGN */ || !(old.flags & SA_SIGINFO))
		return;
	if (atomic_exchange(&chained, true))
		return;
	glibc_handler = old.handler;
	struct ksigaction sa = old;
	sa.handler = setxid_handler;
	if (syscall(SYS_rt_sigaction, SIGSETXID_NO, &sa, NULL, sizeof sa.mask) != 0)
		atomic_store(&chained, false);
}

/* Runtime threads started and not marked yet.  Raised under call_mu, so
 * once a wrapper holds call_mu and has seen 0, no start begins until the
 * call is over; lowered by the new thread as soon as it is marked
 * (rt_self_thread).  The wrapper waits for 0, bounded (5 s: a thread
 * that never got to run is given up on). */
static atomic_int starting;

void rt_setxid_thread_starting(void)
{
	pthread_mutex_lock(&call_mu);
	atomic_fetch_add(&starting, 1);
	pthread_mutex_unlock(&call_mu);
}

/* [AS-safe] */
void rt_setxid_thread_started(void)
{
	atomic_fetch_sub(&starting, 1);
}

/* A fork child has one thread: a holder in the parent is not in it. */
RT_FORK_TEXT void rt_setxid_fork_child(void)
{
	/* only what differs is written: each page written is a copy-on-write
	 * fault in every child of a fork-heavy program */
	static const pthread_mutex_t mu0 = PTHREAD_MUTEX_INITIALIZER;
	if (memcmp(&call_mu, &mu0, sizeof mu0) != 0)
		pthread_mutex_init(&call_mu, NULL);
	if (atomic_load(&snap_on))
		atomic_store(&snap_on, false);
	if (atomic_load(&starting))
		atomic_store(&starting, 0);
}

/* ---- the wrappers ------------------------------------------------------------------ */

static void *real_fn(const char *name, _Atomic(void *) *slot)
{
	void *f = atomic_load(slot);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		atomic_store(slot, f);
	}
	return f;
}

/* The caller's per-thread attributes published for the call (call_mu held). */
static void snapshot(void)
{
	snap_keep = (int)syscall(SYS_prctl, PR_GET_KEEPCAPS, 0UL, 0UL, 0UL, 0UL);
	if (snap_keep < 0)
		snap_keep = 0;
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	snap_caps_ok = syscall(SYS_capget, &h, snap_caps) == 0;
	atomic_store_explicit(&snap_on, true, memory_order_release);
}

static void begin(void)
{
	pthread_mutex_lock(&call_mu);
	for (int i = 0; i < 100000 && atomic_load(&starting) > 0; i++)   /* <= 5 s */
		nanosleep(&(struct timespec){ 0, 50000 }, NULL);
	if (atomic_load(&chained))
		snapshot();
}

static void end(void)
{
	atomic_store_explicit(&snap_on, false, memory_order_release);
	pthread_mutex_unlock(&call_mu);
}

/* One wrapper per function: the real call between begin() and end(), its
 * result and errno kept.  Thread-safe; not AS-safe (nor are glibc's). */
#define SETXID(name, params, types, args)                                             \
	__attribute__((visibility("default"))) int name params                        \
	{                                                                             \
		static _Atomic(void *) slot;                                          \
		int (*f) types = (int (*) types)real_fn(#name, &slot);                \
		if (!f) {                                                             \
			errno = ENOSYS;                                               \
			return -1;                                                    \
		}                                                                     \
		begin();                                                              \
		int rc = f args;                                                      \
		int e = errno;                                                        \
		end();                                                                \
		errno = e;                                                            \
		return rc;                                                            \
	}

SETXID(setuid, (uid_t a), (uid_t), (a))
SETXID(setgid, (gid_t a), (gid_t), (a))
SETXID(seteuid, (uid_t a), (uid_t), (a))
SETXID(setegid, (gid_t a), (gid_t), (a))
SETXID(setreuid, (uid_t a, uid_t b), (uid_t, uid_t), (a, b))
SETXID(setregid, (gid_t a, gid_t b), (gid_t, gid_t), (a, b))
SETXID(setresuid, (uid_t a, uid_t b, uid_t c), (uid_t, uid_t, uid_t), (a, b, c))
SETXID(setresgid, (gid_t a, gid_t b, gid_t c), (gid_t, gid_t, gid_t), (a, b, c))
SETXID(setgroups, (size_t n, const gid_t *list), (size_t, const gid_t *), (n, list))

/* capset: capabilities are per thread and glibc does not broadcast this
 * call, so a program that drops capabilities after its set*id calls (a
 * daemon keeping only CAP_NET_BIND_SERVICE, setpriv --inh-caps/--bounding)
 * would leave the runtime's threads with the ones it had: threads of a
 * process that believes it dropped them, able to open any file for it.
 * After a successful capset on the calling thread, each runtime thread is
 * sent the runtime's SIGSETXID (above) and takes the same sets (it can only
 * lower its own: capset refuses anything beyond its permitted set); the
 * call waits for them, bounded (1 s).  The threads are found in
 * /proc/self/task with raw getdents64 into a stack buffer (no allocation).
 * Thread-safe (call_mu); not AS-safe. */
int capset(cap_user_header_t hdr, const cap_user_data_t data);   /* glibc declares none */

__attribute__((visibility("default")))
int capset(cap_user_header_t hdr, const cap_user_data_t data)
{
	static _Atomic(void *) slot;
	int (*f)(cap_user_header_t, const cap_user_data_t) =
		(int (*)(cap_user_header_t, const cap_user_data_t))real_fn("capset", &slot);
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	pthread_mutex_lock(&call_mu);
	int rc = f(hdr, data);
	int e = errno;
	pid_t me = (pid_t)syscall(SYS_gettid);
	if (rc == 0 && atomic_load(&chained) && hdr && (hdr->pid == 0 || hdr->pid == me)) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		snap_caps_ok = syscall(SYS_capget, &h, snap_caps) == 0;
		int dfd = snap_caps_ok ? open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (dfd >= 0) {
			atomic_store(&caps_acks, 0);
			atomic_store_explicit(&snap_on, true, memory_order_release);
			pid_t pid = getpid();
			int sent = 0;
			char buf[4096];
			long n;
			while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
				for (long off = 0; off < n;) {
					struct { uint64_t ino; int64_t off; unsigned short reclen;
						 unsigned char type; char name[]; } *d = (void *)(buf + off);
					off += d->reclen;
					int tid = atoi(d->name);
					if (tid <= 0 || tid == me || !rt_self_tid(tid))
						continue;
					if (rt_thread_sigqueue(pid, tid, SIGSETXID_NO, CAPS_MAGIC) == 0)
						sent++;
				}
			}
			close(dfd);
			for (int i = 0; i < 20000 && atomic_load(&caps_acks) < sent; i++)  /* <= 1 s */
				nanosleep(&(struct timespec){ 0, 50000 }, NULL);
			atomic_store_explicit(&snap_on, false, memory_order_release);
		}
	}
	pthread_mutex_unlock(&call_mu);
	errno = e;
	return rc;
}
