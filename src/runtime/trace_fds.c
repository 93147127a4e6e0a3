/*
 * trace_fds.c - what the execution trace knows of the program's
 * descriptors: which ones are non-blocking, so that a call on one is not
 * timed at all.
 *
 * A read, write, send or recv on a non-blocking socket, pipe or device
 * answers EAGAIN rather than sleep: it is never a wait, and the trace
 * drops it however long it took (rt_trace_fd_long_cannot_block, asked
 * after a long call).  A server's calls are mostly of that kind, and timing each
 * costs two counter reads and the code around them (~30 ns a call here,
 * by a throwaway program; most of the flight recorder's cost on redis,
 * docs/PERFORMANCE.md).  So
 * the hooks skip the timing of a call on a descriptor known non-blocking
 * (rt_trace_fd_nonblocking: two loads and a compare).
 *
 * Learning.  One 64-bit word per descriptor number below RT_NBFD_MAX, in
 * a table in .bss (a page is touched only when a descriptor in it is):
 *   bits 0-1   what is known: nothing, non-blocking, or blocking
 *   bits 2-7   short calls seen while nothing was known
 *   bits 8-31  a generation, moved by every reset
 *   bits 32-63 the epoch the rest was learnt in
 * A call too short to record counts (rt_trace_fd_short); the
 * RT_NBFD_LEARN-th asks the kernel (fcntl, and fstat for a file opened
 * by path: a regular file's read sleeps on the disk whatever its flags)
 * and stores the answer with a compare-and-swap from the word it read
 * before asking, so a reset meanwhile wins.  A descriptor used once or
 * twice never costs that question.  A call long enough to record asks at
 * once (it asked before this file existed, to drop a non-blocking
 * descriptor's long calls) and keeps the answer the same way
 * (rt_trace_fd_long_cannot_block).
 *
 * Forgetting.  The program changes what a number is, or its mode, through
 * close, close_range, closefrom, dup2, dup3, fcntl(F_SETFL) and
 * ioctl(FIONBIO): all interposed here, each resets the number's word
 * after libc's function returned (a reset before it could be undone by a
 * learner asking in between).  What is not seen: another process sharing
 * the open file description changing its flags, a close by a raw system
 * call or inside libc (fclose, closedir).  So what is learnt lasts one
 * epoch: "cprof-trace" moves the epoch every RT_NBFD_EPOCH_MS
 * (rt_trace_fds_tick), and a word of an older epoch is nothing known.
 * Without that thread the epoch stays 0 and nothing is learnt.  What a
 * change nobody saw costs: for at most one epoch, the descriptor's
 * blocking calls go unrecorded, as a non-blocking one's would.
 *
 * Everything here is lock-free, allocation-free and async-signal-safe:
 * the resets run inside the program's close, in vfork children and in
 * signal handlers.  A process that never traced pays one relaxed load in
 * each interposed call.
 */
#include "trace_int.h"
#include "rt_base.h"
#include "sync_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { NB_NONE, NB_YES, NB_NO };
#define W_KIND(w) ((unsigned)((w) & 3))
#define W_COUNT(w) ((unsigned)(((w) >> 2) & 63))
#define W_GEN_ONE (UINT64_C(1) << 8)
#define W_GEN_MASK (UINT64_C(0xffffff) << 8)
#define W_EPOCH(w) ((uint32_t)((w) >> 32))
#define W_MAKE(ep, gen, count, kind) \
	(((uint64_t)(ep) << 32) | ((gen) & W_GEN_MASK) | ((uint64_t)(count) << 2) | (uint64_t)(kind))

_Atomic uint64_t rt_nbfd_tab[RT_NBFD_MAX];
_Atomic uint32_t rt_nbfd_epoch;
static atomic_bool tab_used;    /* a word was ever written: resets look only then */
static _Atomic int tab_top;     /* 1 + the highest number ever written */

/* ---- what the kernel says ------------------------------------------------------ */

/* The kernel's O_LARGEFILE (glibc's is 0 on 64-bit): a 64-bit kernel
 * sets it on every file opened by path (open, openat, memfd, handles),
 * never on a socket, pipe or eventfd, and F_SETFL cannot change it. */
#if defined(__x86_64__)
#define K_O_LARGEFILE 0100000
#elif defined(__aarch64__)
#define K_O_LARGEFILE 0400000
#else
#define K_O_LARGEFILE 0
#endif

/* The kernel's answer (fd < 0: none).  Sets errno on failure. */
static bool cannot_block(int fd, int msgflags, bool sock)
{
	if (msgflags & MSG_DONTWAIT)
		return true;
	if (fd < 0)
		return false;
	long fl = syscall(SYS_fcntl, fd, F_GETFL);
	if (fl < 0 || !(fl & O_NONBLOCK))
		return false;
	if (sock)
		return true;   /* recv, send, accept, connect: a socket, no fstat */
	if (K_O_LARGEFILE && !(fl & K_O_LARGEFILE))
		return true;   /* not opened by path: no regular file, no fstat */
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) != 0)
		return false;
	return !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
}

/* ---- learning ---------------------------------------------------------------- */

static void note_top(int fd)
{
	if (!atomic_load_explicit(&tab_used, memory_order_relaxed))
		atomic_store_explicit(&tab_used, true, memory_order_relaxed);
	int top = atomic_load_explicit(&tab_top, memory_order_relaxed);
	while (fd + 1 > top &&
	       !atomic_compare_exchange_weak_explicit(&tab_top, &top, fd + 1, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* Ask the kernel about fd, whose word read w before asking, and keep the
 * answer: from w by compare-and-swap, so a reset since then (the number
 * closed or its mode changed) makes it fail and the answer is dropped. */
static bool learn(_Atomic uint64_t *slot, uint64_t w, uint32_t ep, int fd, bool sock)
{
	int e = errno;
	bool nb = cannot_block(fd, 0, sock);
	errno = e;
	if (!w)
		note_top(fd);
	(void)atomic_compare_exchange_strong_explicit(slot, &w, W_MAKE(ep, w, 0, nb ? NB_YES : NB_NO),
						      memory_order_release, memory_order_relaxed);
	return nb;
}

void rt_trace_fd_short(int fd, bool sock)
{
	uint32_t ep = atomic_load_explicit(&rt_nbfd_epoch, memory_order_relaxed);
	if ((unsigned)fd >= RT_NBFD_MAX || !ep)
		return;
	_Atomic uint64_t *slot = &rt_nbfd_tab[fd];
	uint64_t w = atomic_load_explicit(slot, memory_order_relaxed);
	unsigned count = W_EPOCH(w) == ep ? W_COUNT(w) : 0;
	if (W_EPOCH(w) == ep && W_KIND(w) != NB_NONE)
		return;   /* known this epoch (blocking: timed, asked no more) */
	if (count + 1 < RT_NBFD_LEARN) {
		if (!w)
			note_top(fd);
		(void)atomic_compare_exchange_strong_explicit(
			slot, &w, W_MAKE(ep, w, count + 1, NB_NONE), memory_order_relaxed,
			memory_order_relaxed);
		return;   /* lost to another thread or a reset: either is right */
	}
	(void)learn(slot, w, ep, fd, sock);
}

bool rt_trace_fd_long_cannot_block(int fd, int msgflags, bool sock)
{
	uint32_t ep = atomic_load_explicit(&rt_nbfd_epoch, memory_order_relaxed);
	if ((msgflags & MSG_DONTWAIT) || (unsigned)fd >= RT_NBFD_MAX || !ep) {
		int e = errno;
		bool nb = cannot_block(fd, msgflags, sock);
		errno = e;
		return nb;
	}
	_Atomic uint64_t *slot = &rt_nbfd_tab[fd];
	uint64_t w = atomic_load_explicit(slot, memory_order_relaxed);
	if (W_EPOCH(w) == ep && W_KIND(w) != NB_NONE)
		return W_KIND(w) == NB_YES;
	/* kept as a short call's answer is: a server whose every write is
	 * long (nginx's 8 KB writev) asks once, not at each write */
	return learn(slot, w, ep, fd, sock);
}

static void reset(int fd)
{
	if ((unsigned)fd >= RT_NBFD_MAX)
		return;
	_Atomic uint64_t *slot = &rt_nbfd_tab[fd];
	uint64_t w = atomic_load_explicit(slot, memory_order_relaxed);
	/* nothing learnt nor counted: nothing a learner could store over */
	while (w & 0xff) {
		uint64_t nw = W_MAKE(W_EPOCH(w), w + W_GEN_ONE, 0, NB_NONE);
		if (atomic_compare_exchange_weak_explicit(slot, &w, nw, memory_order_release,
							  memory_order_relaxed))
			break;
	}
}

void rt_trace_fd_forget(int fd)
{
	if (atomic_load_explicit(&tab_used, memory_order_relaxed))
		reset(fd);
}

void rt_trace_fd_forget_from(unsigned lo, unsigned hi)
{
	if (!atomic_load_explicit(&tab_used, memory_order_relaxed))
		return;
	unsigned top = (unsigned)atomic_load_explicit(&tab_top, memory_order_relaxed);
	for (unsigned fd = lo; fd < top && fd <= hi; fd++)
		reset((int)fd);
}

/* ---- the epoch ---------------------------------------------------------------- */

static _Atomic int64_t epoch_at;   /* when the epoch last moved (0: at the next tick) */

void rt_trace_fds_session(bool ticking)
{
	uint32_t ep = atomic_load(&rt_nbfd_epoch);
	/* a new session forgets what an earlier one learnt; without a
	 * ticking thread nothing would ever be forgotten: nothing is learnt */
	ep = ticking ? (ep + 1 ? ep + 1 : 1) : 0;
	atomic_store(&rt_nbfd_epoch, ep);
	atomic_store(&epoch_at, 0);
}

void rt_trace_fds_tick(int64_t now_ns)
{
	int64_t at = atomic_load(&epoch_at);
	if (!at) {
		atomic_store(&epoch_at, now_ns);
		return;
	}
	if (now_ns - at < (int64_t)RT_NBFD_EPOCH_MS * 1000000)
		return;
	atomic_store(&epoch_at, now_ns);
	uint32_t ep = atomic_load(&rt_nbfd_epoch);
	if (ep)
		atomic_store(&rt_nbfd_epoch, ep + 1 ? ep + 1 : 1);
}

/* ---- the calls that change what a number is ------------------------------------- */

static struct {
	int (*close)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
} R;

__attribute__((constructor(101)))
static void trace_fds_init(void)
{
	int e = errno;
	RT_GET_NEXT(R.close, "close", NULL);
	RT_GET_NEXT(R.dup2, "dup2", NULL);
	RT_GET_NEXT(R.dup3, "dup3", NULL);
	RT_GET_NEXT(R.fcntl, "fcntl", NULL);
	RT_GET_NEXT(R.fcntl64, "fcntl64", NULL);
	RT_GET_NEXT(R.ioctl, "ioctl", NULL);
	RT_GET_NEXT(R.close_range, "close_range", NULL);
	RT_GET_NEXT(R.closefrom, "closefrom", NULL);
	errno = e;
}

/* Each forwards to libc's function (raw system calls before the
 * constructor ran) and returns what it returned, errno included: a reset
 * touches no errno. */
EXPORT int close(int fd)
{
	int rc = R.close ? R.close(fd) : (int)syscall(SYS_close, fd);
	rt_trace_fd_forget(fd);
	return rc;
}

EXPORT int dup2(int old, int fd)
{
	int rc = R.dup2 ? R.dup2(old, fd) : (int)syscall(SYS_dup2, old, fd);
	rt_trace_fd_forget(fd);
	return rc;
}

EXPORT int dup3(int old, int fd, int fl)
{
	int rc = R.dup3 ? R.dup3(old, fd, fl) : (int)syscall(SYS_dup3, old, fd, fl);
	rt_trace_fd_forget(fd);
	return rc;
}

/* fcntl's and ioctl's one optional argument is an int, a long or a
 * pointer: passed on as a word, as libc itself reads it. */
static int fcntl_common(int (*f)(int, int, ...), int fd, int cmd, void *arg)
{
	int rc = f ? f(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (cmd == F_SETFL)
		rt_trace_fd_forget(fd);
	else if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0)
		rt_trace_fd_forget(rc);   /* its number was closed somewhere */
	return rc;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(R.fcntl, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(R.fcntl64 ? R.fcntl64 : R.fcntl, fd, cmd, arg);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int rc = R.ioctl ? R.ioctl(fd, req, arg) : (int)syscall(SYS_ioctl, fd, req, arg);
	if (req == FIONBIO)
		rt_trace_fd_forget(fd);
	return rc;
}

EXPORT int close_range(unsigned lo, unsigned hi, int fl)
{
	int rc = R.close_range ? R.close_range(lo, hi, fl) : (int)syscall(SYS_close_range, lo, hi, fl);
	rt_trace_fd_forget_from(lo, hi);
	return rc;
}

EXPORT void closefrom(int lo)
{
	if (R.closefrom) {
		R.closefrom(lo);
	} else {
		int e = errno;
		(void)syscall(SYS_close_range, (unsigned)lo, ~0u, 0);
		errno = e;
	}
	if (lo >= 0)
		rt_trace_fd_forget_from((unsigned)lo, ~0u);
}
