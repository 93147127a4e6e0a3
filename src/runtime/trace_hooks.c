/*
 * trace_hooks.c - what the execution trace records beyond the sync
 * wrappers' waits (sync_wrap.c calls rt_trace_wait and rt_trace_wake
 * itself): blocking calls and the wakers the sync wrappers do not see.
 *
 * Interposed: read, recv, recvfrom, recvmsg, accept, accept4, connect,
 * write, writev, send, sendto, sendmsg (a write blocks on a full pipe or
 * socket buffer; the runtime's own writes, on its threads or marked with
 * rt_self_enter, are never recorded, so the trace writer cannot recurse),
 * poll, select, epoll_wait, waitpid, nanosleep, clock_nanosleep, usleep,
 * sleep (time the thread spends blocked in the kernel), and
 * pthread_cond_signal/broadcast (GLIBC_2.3.2) and sem_post (the wakers of
 * condition-variable and semaphore waits, drawn as flow arrows).  Each
 * forwards to libc's function (resolved by a constructor; raw system calls
 * until then) and returns what it returned, errno included.  When no
 * trace runs, the price is one relaxed load and an indirect call.  While
 * one runs, a blocking call costs two clock reads; only a call that lasted
 * RT_TRACE_IO_MIN or longer is recorded, with its stack unwound after it
 * returned (the frames are the same), and only if it could have waited: a
 * call on a non-blocking socket, pipe or device (or with MSG_DONTWAIT)
 * answers EAGAIN rather than sleep, so a long one was the kernel's work
 * (a loopback send runs the receiver's side in the sender's call), and
 * poll/epoll_wait with a zero timeout are not timed at all, nor is a
 * call on a descriptor known non-blocking (trace_fds.c learns which) or
 * with MSG_DONTWAIT.  The runtime's own threads (and its own work on the
 * program's threads) are never recorded.
 *
 * Runnable time.  /proc/self/task/TID/schedstat's second field is the
 * time the thread spent runnable but not running (run_delay, no privilege
 * needed).  rt_trace_read_own_schedstat reads it with pread on a descriptor kept
 * per thread (moved above half the descriptor limit, at most 2048, in a
 * table grown at the session's start; close-on-exec; closed when the
 * thread ends).  The program may close that number and
 * reuse it: pread never moves a file offset, a read that does not parse
 * as schedstat (three numbers) is refused and the descriptor forgotten,
 * so the program's file is never changed.  The sync waits (the slow path
 * only; blocking by nature), the sleeps and polls are split: read after
 * the wait, and before it only when the thread's last read cannot stand
 * in for that (see "one read per wait" below); a read() is not split
 * (reads that return at once are the common case and must stay cheap).
 * Which waits pay that read is CPROF_TRACE_RUNNABLE's: every one (all);
 * every one while the thread stays within its read budget, then the
 * visited ones (auto, the default: rt_trace_rd_begin); only the visited
 * ones (long: trace_visit.c, where a wait nobody visited costs no read).
 */
#include "trace_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_wait.h"
#include "sync_int.h"
#include "rt_env.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BARRIER() __asm__ volatile("" ::: "memory")


static struct {
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*nanosleep)(const struct timespec *, struct timespec *);
	int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
	int (*usleep)(useconds_t);
	unsigned (*sleep)(unsigned);
	int (*cond_signal)(pthread_cond_t *);
	int (*cond_broadcast)(pthread_cond_t *);
	int (*sem_post)(sem_t *);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	pid_t (*waitpid)(pid_t, int *, int);
} R;

#define GET(field, name, ver) RT_GET_NEXT(R.field, name, ver)

static void resolve(void)
{
	int e = errno;
	GET(read, "read", NULL);
	GET(write, "write", NULL);
	GET(writev, "writev", NULL);
	GET(send, "send", NULL);
	GET(sendto, "sendto", NULL);
	GET(sendmsg, "sendmsg", NULL);
	GET(poll, "poll", NULL);
	GET(epoll_wait, "epoll_wait", NULL);
	GET(nanosleep, "nanosleep", NULL);
	GET(clock_nanosleep, "clock_nanosleep", NULL);
	GET(usleep, "usleep", NULL);
	GET(sleep, "sleep", NULL);
	GET(cond_signal, "pthread_cond_signal", "GLIBC_2.3.2");
	GET(cond_broadcast, "pthread_cond_broadcast", "GLIBC_2.3.2");
	GET(sem_post, "sem_post", NULL);
	GET(recv, "recv", NULL);
	GET(recvfrom, "recvfrom", NULL);
	GET(recvmsg, "recvmsg", NULL);
	GET(accept, "accept", NULL);
	GET(accept4, "accept4", NULL);
	GET(connect, "connect", NULL);
	GET(select, "select", NULL);
	GET(waitpid, "waitpid", NULL);
	errno = e;
}

__attribute__((constructor(101)))
static void trace_hooks_init(void)
{
	resolve();
}

/* ---- runnable time ---------------------------------------------------------------- */

static __thread __attribute__((tls_model("initial-exec"))) int sched_fd = -1;
static __thread __attribute__((tls_model("initial-exec"))) int sched_tid;

/* Where the threads' descriptors go: above the numbers programs use
 * (half the soft limit, at most 2048), in a descriptor table grown once
 * at the session's start (rt_trace_fd_reserve): growing the table of a
 * threaded process waits for an RCU grace period (~10 ms), which must
 * not happen inside a program's wait. */
static _Atomic int fd_low;

void rt_trace_fd_reserve(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < 256)
		return;
	long lo = (long)(rl.rlim_cur / 2);
	if (lo > 2048)
		lo = 2048;
	long top = lo + 255 < (long)rl.rlim_cur ? lo + 255 : (long)rl.rlim_cur - 1;
	int probe = (int)syscall(SYS_fcntl, 0, F_DUPFD_CLOEXEC, top);
	if (probe < 0)
		probe = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
	if (probe >= 0 && probe < top) {
		int q = (int)syscall(SYS_fcntl, probe, F_DUPFD_CLOEXEC, top);
		syscall(SYS_close, probe);
		probe = q;
	}
	if (probe >= 0)
		syscall(SYS_close, probe);
	atomic_store(&fd_low, (int)lo);
}

/* Bumped in a fork child (rt_trace_hooks_forked): a descriptor opened
 * before it is the parent thread's file.  A thread's sched_gen says which
 * generation its descriptor was opened in (no gettid per read). */
static unsigned fork_gen;
static bool sched_used;   /* a descriptor was ever opened (the fork handler writes only then) */
static __thread __attribute__((tls_model("initial-exec"))) unsigned sched_gen;
/* auto's read budget (rt_trace_rd_begin): reads left in the visit tick
 * rd_epoch */
static __thread __attribute__((tls_model("initial-exec"))) unsigned rd_epoch;
static __thread __attribute__((tls_model("initial-exec"))) int rd_left;

int rt_trace_open_schedstat(int tid)
{
	char path[64] = "/proc/self/task/";
	char digits[12];
	int nd = 0;
	for (unsigned v = (unsigned)tid; nd == 0 || v; v /= 10)
		digits[nd++] = (char)('0' + v % 10);
	size_t l = strlen(path);
	while (nd)
		path[l++] = digits[--nd];
	memcpy(path + l, "/schedstat", sizeof "/schedstat");
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int hi = fd_low > 0 ? (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, fd_low) : -1;
	if (hi >= 0) {
		syscall(SYS_close, fd);
		fd = hi;
	}
	return fd;
}

bool rt_trace_schedstat_close(int fd)
{
	char b[8];
	/* still ours: it reads as schedstat ("N N N\n", digits first) */
	if (syscall(SYS_pread64, fd, b, 1, 0L) == 1 && b[0] >= '0' && b[0] <= '9') {
		syscall(SYS_close, fd);
		return true;
	}
	return false;
}

static int open_schedstat(void)
{
	int tid = (int)syscall(SYS_gettid);
	int fd = rt_trace_open_schedstat(tid);
	if (fd < 0)
		return -1;
	sched_tid = tid;
	if (!sched_used)
		sched_used = true;
	return fd;
}

_Atomic int rt_trace_runnable = RT_RUNNABLE_AUTO;
_Atomic uint64_t rt_trace_schedstat_reads;


/* "RUN DELAY SLICES\n" (three decimal numbers, nothing else): the second
 * and third into *rd, *pc; false when it is not that.  One pass, a few
 * instructions a byte. */
bool rt_trace_parse_schedstat(const char *b, ssize_t n, int64_t *rd, uint64_t *pc)
{
	if (n < 6 || n > 64 || b[n - 1] != '\n')
		return false;
	const char *p = b, *e = b + n - 1, *d = p;
	while (p < e && (unsigned)(*p - '0') <= 9)   /* the CPU time: not kept */
		p++;
	if (p == d || p - d > 19 || p >= e || *p != ' ')
		return false;
	uint64_t v[2];
	for (int f = 0; f < 2; f++) {
		d = ++p;
		uint64_t x = 0;
		while (p < e && (unsigned)(*p - '0') <= 9)
			x = x * 10 + (uint64_t)(*p++ - '0');
		if (p == d || p - d > 19 || (f == 0 ? p >= e || *p != ' ' : p != e))
			return false;
		v[f] = x;
	}
	*rd = (int64_t)v[0];
	*pc = v[1];
	return true;
}

/* The calling thread's run_delay and run count (schedstat's second and
 * third fields); false when off, refused or not schedstat. */
bool rt_trace_read_own_schedstat(int64_t *rd, uint64_t *pc)
{
	if (!atomic_load_explicit(&rt_trace_runnable, memory_order_relaxed))
		return false;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (sched_fd < 0 || sched_gen != fork_gen) {
			sched_fd = open_schedstat();
			sched_gen = fork_gen;
		}
		if (sched_fd < 0)
			return false;
		char b[96];
		atomic_fetch_add_explicit(&rt_trace_schedstat_reads, 1, memory_order_relaxed);
		rd_left--;
		ssize_t n = (ssize_t)syscall(SYS_pread64, sched_fd, b, sizeof b - 1, 0L);
		if (n > 0 && rt_trace_parse_schedstat(b, n, rd, pc))
			return true;
		/* not ours any more (closed, or the number reused): forget it,
		 * never close it (it may be the program's now) */
		sched_fd = -1;
	}
	return false;
}

/* ---- one read per wait ------------------------------------------------------
 *
 * run_delay grows only when the thread gets a CPU after waiting for one,
 * and each such arrival adds one to the run count.  The last read of a
 * thread (at the end of its last split wait) therefore stands in for a
 * read at the start of the next wait when no arrival happened between
 * them: the running thread was not preempted.  After the wait, one read:
 * if the run count grew by exactly one, that arrival was the wait's own
 * (the thread ran without a break before it, then slept and was woken),
 * and the run_delay it added is the wait's runnable time, exact.  Any
 * other count (preempted before the wait, or several sleeps inside it),
 * or more runnable time than the wait lasted, cannot be told apart: the
 * wait is left unsplit (-1) and the thread reads at the start of its next
 * waits again (exact), until RD_CLEAN waits in a row show it was not
 * preempted between waits.  The one case not told apart: a wait that did
 * not sleep (its call took RT_TRACE_IO_MIN of kernel work, or a lock's
 * slow path took the lock without sleeping) after a single preemption
 * whose delay was no longer than the wait; then up to the wait's own
 * length is drawn runnable that was the preemption's.  A split wait too
 * short to record (RT_TRACE_IO_MIN) reads after it too when it lasted
 * RT_RD_SLEPT_MIN, long enough to have slept (a sleep and a wake-up take
 * microseconds; an epoll_wait with events ready returns in one or two):
 * otherwise its arrival would make the next long wait unknown.  One
 * that slept in less is seen as two arrivals at the next read: that wait
 * is left unsplit, as above.  The state is per
 * thread (TLS), no lock; the decisions are rt_rd_begin_with and
 * rt_rd_end_with, pure functions of it and of the reads. */
#define RD_CLEAN 8
static __thread __attribute__((tls_model("initial-exec"))) rt_rdstate rds;

/* A read failed: nothing stands in for anything. */
static void rd_forget(rt_rdstate *s)
{
	s->ok = s->single = false;
	s->clean = 0;
}

static void rd_keep(rt_rdstate *s, int64_t rd, uint64_t pc)
{
	s->rd = rd;
	s->pc = pc;
	s->ok = true;
}

int64_t rt_rd_begin_with(rt_rdstate *s, bool ok, int64_t rd, uint64_t pc)
{
	if (!ok) {
		rd_forget(s);
		return -1;
	}
	if (s->ok && pc == s->pc) {
		if (s->clean < RD_CLEAN)
			s->clean++;
		s->single = s->clean >= RD_CLEAN;
	} else {
		s->clean = 0;
	}
	rd_keep(s, rd, pc);
	return rd;
}

int64_t rt_rd_end_with(rt_rdstate *s, int64_t token, bool ok, int64_t rd, uint64_t pc, int64_t dur)
{
	if (token == -1)
		return -1;
	if (!ok) {
		rd_forget(s);
		return -1;
	}
	int64_t res;
	if (token == RT_RD_CACHED) {
		uint64_t dpc = pc - s->pc;
		int64_t drd = rd - s->rd;
		if ((dpc == 1 && drd >= 0 && drd <= dur) || (dpc == 0 && drd == 0)) {
			res = drd;
		} else {
			res = -1;
			s->single = false;
			s->clean = 0;
		}
	} else {
		res = rd >= token ? rd - token : -1;
	}
	rd_keep(s, rd, pc);
	return res;
}

/* auto's budget: RT_RD_BUDGET reads per visit tick, counted per thread
 * (rd_left, renewed when the tick it was counted in, rd_epoch, is past).
 * A thread past it splits its waits as long does until the next tick;
 * its last read then stands in for nothing (it did not read after the
 * visited waits), so its next counted wait reads before. */

int64_t rt_trace_rd_begin(void)
{
	int mode = atomic_load_explicit(&rt_trace_runnable, memory_order_relaxed);
	if (mode == RT_RUNNABLE_AUTO) {
		unsigned ep = atomic_load_explicit(&rt_trace_visit_epoch, memory_order_relaxed);
		if (ep != rd_epoch) {
			rd_epoch = ep;
			rd_left = RT_RD_BUDGET;
		}
		if (rd_left <= 0) {
			if (rds.ok)
				rd_forget(&rds);
			return rt_trace_visit_begin();
		}
	} else if (mode == RT_RUNNABLE_LONG) {
		return rt_trace_visit_begin();
	} else if (mode == RT_RUNNABLE_OFF) {
		return -1;
	}
	if (rds.single && rds.ok && sched_gen == fork_gen)
		return RT_RD_CACHED;
	int64_t rd = 0;
	uint64_t pc = 0;
	bool ok = rt_trace_read_own_schedstat(&rd, &pc);
	return rt_rd_begin_with(&rds, ok, rd, pc);
}

int64_t rt_trace_rd_end(int64_t token, int64_t dur)
{
	if (token == -1)
		return -1;
	if (token == RT_RD_VISIT)
		return rt_trace_visit_end(dur);
	int64_t rd = 0;
	uint64_t pc = 0;
	bool ok = rt_trace_read_own_schedstat(&rd, &pc);
	return rt_rd_end_with(&rds, token, ok, rd, pc, dur);
}

RT_FORK_TEXT void rt_trace_hooks_forked(void)
{
	/* the child's only thread: its descriptor reads the parent thread's
	 * schedstat; the next read opens its own (and the last read, the
	 * parent thread's, stands in for nothing: sched_gen differs) */
	if (sched_used)
		fork_gen++;
	rt_trace_visit_forked();
}

void rt_trace_thread_gone(void)
{
	rt_tsw_thread_end();
	rt_trace_visit_thread_gone();
	if (sched_fd >= 0 && sched_tid == (int)syscall(SYS_gettid))
		(void)rt_trace_schedstat_close(sched_fd);
	sched_fd = -1;
}

/* ---- blocking calls ---------------------------------------------------------------- */

/* A blocking call's clock: the time-stamp counter while its rate is
 * known (rt_trace_tick_ns_bits), converted to ns only for a call long
 * enough to record (t1 read from the clock then, t0 = t1 - its length);
 * else CLOCK_MONOTONIC ns.  Most calls return at once, so most pay two
 * rdtsc and no clock read. */
typedef struct tio {
	int64_t t0, rd0;
	uint64_t c0;
	double ns_per_tick;   /* 0: t0 is ns */
} tio;

static inline void tio_begin(tio *t, bool split)
{
	t->rd0 = -1;
	if (split)   /* the flight recorder's mode inline: two stores */
		t->rd0 = atomic_load_explicit(&rt_trace_runnable, memory_order_relaxed) ==
					 RT_RUNNABLE_LONG
				 ? rt_trace_visit_begin_fast()
				 : rt_trace_rd_begin();
	t->t0 = 0;
	t->c0 = 0;
	uint64_t bits = atomic_load_explicit(&rt_trace_tick_ns_bits, memory_order_relaxed);
	if (bits && !atomic_load_explicit(&rt_clock_tsc_off, memory_order_relaxed)) {
		memcpy(&t->ns_per_tick, &bits, sizeof t->ns_per_tick);
		t->c0 = rt_tsc_read();
	} else {
		t->ns_per_tick = 0;
		t->t0 = rt_sync_now();
	}
}

/* Called by the slow function the wrapper called: the stack starts at
 * the wrapper's call site.  fd, msgflags: the call's descriptor and
 * send/recv flags (-1, 0: not a descriptor's call); sock: fd is a socket
 * (the socket calls). */
static inline __attribute__((always_inline)) void tio_end(tio *t, int kind, const void *obj,
							 int fd, int msgflags, bool sock)
{
	int e = errno;
	int64_t t1, len;
	if (t->ns_per_tick > 0) {
		/* the counter was readable at the start, so it is now: only
		 * this thread could have turned it off, inside the call */
		len = (int64_t)((double)(rt_tsc_read() - t->c0) * t->ns_per_tick);
		t1 = len >= RT_TRACE_IO_MIN ? rt_sync_now() : 0;
		t->t0 = t1 - len;
	} else {
		t1 = rt_sync_now();
		len = t1 - t->t0;
	}
	if (len < RT_TRACE_IO_MIN) {
		/* too short to record, but a split wait this long may have
		 * slept: a read keeps the thread's last one current, so its
		 * next wait needs no read before ("one read per wait") */
		if (t->rd0 == RT_RD_VISIT)
			rt_trace_visit_unrecorded();   /* not recorded: no read */
		else if (t->rd0 != -1 && len >= RT_RD_SLEPT_MIN)
			(void)rt_trace_rd_end(t->rd0, len);
		if (fd >= 0)
			rt_trace_fd_short(fd, sock);   /* non-blocking? then untimed */
		errno = e;
		return;
	}
	if (fd < 0 || !rt_trace_fd_long_cannot_block(fd, msgflags, sock)) {
		int64_t rd = rt_trace_rd_end(t->rd0, len);
		uintptr_t pcs[RT_WAIT_FRAMES];
		int n = rt_unwind_here(pcs, RT_WAIT_FRAMES, 1);
		rt_trace_wait(kind, obj, t->t0, t1, rd, pcs, n);
	}
	errno = e;
}

static bool traced(void)
{
	return rt_trace_active() && rt_self_depth() == 0;
}

static __attribute__((noinline)) ssize_t read_slow(int fd, void *b, size_t n)
{
	tio t;
	tio_begin(&t, false);
	ssize_t rc = R.read ? R.read(fd, b, n) : (ssize_t)syscall(SYS_read, fd, b, n);
	tio_end(&t, RT_TWAIT_READ, (const void *)(intptr_t)fd, fd, 0, false);
	return rc;
}

EXPORT ssize_t read(int fd, void *b, size_t n)
{
	if (UNLIKELY(rt_trace_active()) && !rt_trace_fd_nonblocking(fd) && traced()) {
		ssize_t rc = read_slow(fd, b, n);
		BARRIER();
		return rc;
	}
	return R.read ? R.read(fd, b, n) : (ssize_t)syscall(SYS_read, fd, b, n);
}

/* write: as read (raw system call before the constructor: the runtime's
 * and the loader's earliest messages come through here). */
static __attribute__((noinline)) ssize_t write_slow(int fd, const void *b, size_t n)
{
	tio t;
	tio_begin(&t, false);
	ssize_t rc = R.write ? R.write(fd, b, n) : (ssize_t)syscall(SYS_write, fd, b, n);
	tio_end(&t, RT_TWAIT_WRITE, (const void *)(intptr_t)fd, fd, 0, false);
	return rc;
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	if (UNLIKELY(rt_trace_active()) && !rt_trace_fd_nonblocking(fd) && traced()) {
		ssize_t rc = write_slow(fd, b, n);
		BARRIER();
		return rc;
	}
	return R.write ? R.write(fd, b, n) : (ssize_t)syscall(SYS_write, fd, b, n);
}

static __attribute__((noinline)) int poll_slow(struct pollfd *f, nfds_t n, int ms)
{
	tio t;
	tio_begin(&t, ms != 0);
	int rc = R.poll ? R.poll(f, n, ms) : (int)syscall(SYS_poll, f, n, ms);
	tio_end(&t, RT_TWAIT_POLL, f, -1, 0, false);
	return rc;
}

EXPORT int poll(struct pollfd *f, nfds_t n, int ms)
{
	/* a zero timeout never waits: not a wait to time */
	if (UNLIKELY(rt_trace_active()) && ms != 0 && traced()) {
		int rc = poll_slow(f, n, ms);
		BARRIER();
		return rc;
	}
	return R.poll ? R.poll(f, n, ms) : (int)syscall(SYS_poll, f, n, ms);
}

static __attribute__((noinline)) int epoll_slow(int ep, struct epoll_event *ev, int max, int ms)
{
	tio t;
	tio_begin(&t, ms != 0);
	int rc = R.epoll_wait ? R.epoll_wait(ep, ev, max, ms)
			      : (int)syscall(SYS_epoll_wait, ep, ev, max, ms);
	tio_end(&t, RT_TWAIT_EPOLL, (const void *)(intptr_t)ep, -1, 0, false);
	return rc;
}

EXPORT int epoll_wait(int ep, struct epoll_event *ev, int max, int ms)
{
	if (UNLIKELY(rt_trace_active()) && ms != 0 && traced()) {
		int rc = epoll_slow(ep, ev, max, ms);
		BARRIER();
		return rc;
	}
	return R.epoll_wait ? R.epoll_wait(ep, ev, max, ms)
			    : (int)syscall(SYS_epoll_wait, ep, ev, max, ms);
}

static int nanosleep_raw(const struct timespec *q, struct timespec *r)
{
	return R.nanosleep ? R.nanosleep(q, r) : (int)syscall(SYS_nanosleep, q, r);
}

static __attribute__((noinline)) int nanosleep_slow(const struct timespec *q, struct timespec *r)
{
	tio t;
	tio_begin(&t, true);
	int rc = nanosleep_raw(q, r);
	tio_end(&t, RT_TWAIT_SLEEP, NULL, -1, 0, false);
	return rc;
}

EXPORT int nanosleep(const struct timespec *q, struct timespec *r)
{
	if (UNLIKELY(rt_trace_active()) && traced()) {
		int rc = nanosleep_slow(q, r);
		BARRIER();
		return rc;
	}
	return nanosleep_raw(q, r);
}

static int cns_raw(clockid_t c, int fl, const struct timespec *q, struct timespec *r)
{
	if (R.clock_nanosleep)
		return R.clock_nanosleep(c, fl, q, r);
	long rc = syscall(SYS_clock_nanosleep, c, fl, q, r);
	return rc < 0 ? errno : 0;
}

static __attribute__((noinline)) int cns_slow(clockid_t c, int fl, const struct timespec *q,
					      struct timespec *r)
{
	tio t;
	tio_begin(&t, true);
	int rc = cns_raw(c, fl, q, r);
	tio_end(&t, RT_TWAIT_SLEEP, NULL, -1, 0, false);
	return rc;
}

EXPORT int clock_nanosleep(clockid_t c, int fl, const struct timespec *q, struct timespec *r)
{
	if (UNLIKELY(rt_trace_active()) && traced()) {
		int rc = cns_slow(c, fl, q, r);
		BARRIER();
		return rc;
	}
	return cns_raw(c, fl, q, r);
}

static int usleep_raw(useconds_t us)
{
	if (R.usleep)
		return R.usleep(us);
	struct timespec q = { us / 1000000, (long)(us % 1000000) * 1000 };
	return nanosleep_raw(&q, NULL);
}

static __attribute__((noinline)) int usleep_slow(useconds_t us)
{
	tio t;
	tio_begin(&t, true);
	int rc = usleep_raw(us);
	tio_end(&t, RT_TWAIT_SLEEP, NULL, -1, 0, false);
	return rc;
}

EXPORT int usleep(useconds_t us)
{
	if (UNLIKELY(rt_trace_active()) && traced()) {
		int rc = usleep_slow(us);
		BARRIER();
		return rc;
	}
	return usleep_raw(us);
}

static unsigned sleep_raw(unsigned s)
{
	if (R.sleep)
		return R.sleep(s);
	struct timespec q = { s, 0 }, r = { 0, 0 };
	if (nanosleep_raw(&q, &r) < 0)
		return (unsigned)r.tv_sec + (r.tv_nsec > 0);
	return 0;
}

static __attribute__((noinline)) unsigned sleep_slow(unsigned s)
{
	tio t;
	tio_begin(&t, true);
	unsigned rc = sleep_raw(s);
	tio_end(&t, RT_TWAIT_SLEEP, NULL, -1, 0, false);
	return rc;
}

EXPORT unsigned sleep(unsigned s)
{
	if (UNLIKELY(rt_trace_active()) && traced()) {
		unsigned rc = sleep_slow(s);
		BARRIER();
		return rc;
	}
	return sleep_raw(s);
}

/* The other blocking calls, one pattern: the wrapper forwards at once
 * when no trace runs; else the slow function times the call (resolving
 * libc's function first if a call came before the constructor). */
#define TRACED(ret, name, kind, obj, fdv, flv, sockv, split, skip, params, args) \
	static __attribute__((noinline)) ret name##_slow params \
	{ \
		tio t; \
		tio_begin(&t, split); \
		ret rc = R.name args; \
		tio_end(&t, kind, obj, fdv, flv, sockv); \
		return rc; \
	} \
	EXPORT ret name params \
	{ \
		if (UNLIKELY(!R.name)) \
			resolve(); \
		if (UNLIKELY(rt_trace_active()) && !(skip) && traced()) { \
			ret rc = name##_slow args; \
			BARRIER(); \
			return rc; \
		} \
		return R.name args; \
	}

#define FDOBJ(fd) ((const void *)(intptr_t)(fd))
/* a call that cannot wait is not timed: on a descriptor known
 * non-blocking (trace_fds.c), or asked not to (MSG_DONTWAIT) */
#define NOWAIT(fd, fl) (rt_trace_fd_nonblocking(fd) || ((fl) & MSG_DONTWAIT))
TRACED(ssize_t, recv, RT_TWAIT_RECV, FDOBJ(fd), fd, fl, true, false, NOWAIT(fd, fl),
       (int fd, void *b, size_t n, int fl), (fd, b, n, fl))
TRACED(ssize_t, recvfrom, RT_TWAIT_RECV, FDOBJ(fd), fd, fl, true, false, NOWAIT(fd, fl),
       (int fd, void *b, size_t n, int fl, struct sockaddr *a, socklen_t *al),
       (fd, b, n, fl, a, al))
TRACED(ssize_t, recvmsg, RT_TWAIT_RECV, FDOBJ(fd), fd, fl, true, false, NOWAIT(fd, fl),
       (int fd, struct msghdr *m, int fl), (fd, m, fl))
TRACED(ssize_t, writev, RT_TWAIT_WRITE, FDOBJ(fd), fd, 0, false, false, NOWAIT(fd, 0),
       (int fd, const struct iovec *v, int n), (fd, v, n))
TRACED(ssize_t, send, RT_TWAIT_SEND, FDOBJ(fd), fd, fl, true, false, NOWAIT(fd, fl),
       (int fd, const void *b, size_t n, int fl), (fd, b, n, fl))
TRACED(ssize_t, sendto, RT_TWAIT_SEND, FDOBJ(fd), fd, fl, true, false, NOWAIT(fd, fl),
       (int fd, const void *b, size_t n, int fl, const struct sockaddr *a, socklen_t al),
       (fd, b, n, fl, a, al))
TRACED(ssize_t, sendmsg, RT_TWAIT_SEND, FDOBJ(fd), fd, fl, true, false, NOWAIT(fd, fl),
       (int fd, const struct msghdr *m, int fl), (fd, m, fl))
TRACED(int, accept, RT_TWAIT_ACCEPT, FDOBJ(fd), fd, 0, true, true, NOWAIT(fd, 0),
       (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))
TRACED(int, accept4, RT_TWAIT_ACCEPT, FDOBJ(fd), fd, 0, true, true, NOWAIT(fd, 0),
       (int fd, struct sockaddr *a, socklen_t *al, int fl), (fd, a, al, fl))
TRACED(int, connect, RT_TWAIT_CONNECT, FDOBJ(fd), fd, 0, true, false, NOWAIT(fd, 0),
       (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al))
TRACED(int, select, RT_TWAIT_SELECT, NULL, -1, 0, false, true, false,
       (int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv), (n, r, w, x, tv))
TRACED(pid_t, waitpid, RT_TWAIT_WAITPID, NULL, -1, 0, false, true, false,
       (pid_t pid, int *st, int opt), (pid, st, opt))

/* ---- wakers ------------------------------------------------------------------------ */

EXPORT int pthread_cond_signal(pthread_cond_t *cv)
{
	if (UNLIKELY(!R.cond_signal))
		resolve();
	if (UNLIKELY(rt_trace_active()) && traced())
		rt_trace_wake(RT_TWAIT_COND_SIGNAL, cv);
	return R.cond_signal(cv);
}

EXPORT int pthread_cond_broadcast(pthread_cond_t *cv)
{
	if (UNLIKELY(!R.cond_broadcast))
		resolve();
	if (UNLIKELY(rt_trace_active()) && traced())
		rt_trace_wake(RT_TWAIT_COND_SIGNAL, cv);
	return R.cond_broadcast(cv);
}

EXPORT int sem_post(sem_t *s)
{
	if (UNLIKELY(!R.sem_post))
		resolve();
	if (UNLIKELY(rt_trace_active()) && traced())
		rt_trace_wake(RT_TWAIT_SEM_POST, s);
	return R.sem_post(s);
}
