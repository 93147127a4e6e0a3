/*
 * tprof.c - thread snapshots (Go's goroutine profile for native threads)
 * and the threadcreate profile.
 *
 * A snapshot lists /proc/self/task and, for each thread, reads its name and
 * scheduler state (/proc/self/task/TID/stat) and what it is doing
 * (/proc/self/task/TID/syscall: "running", or the number and arguments of
 * the system call it is blocked in followed by its user sp and pc), then
 * finds its stack:
 *   - the calling thread unwinds itself (rt_unwind_here);
 *   - a thread blocked in a system call is NOT interrupted: its user stack
 *     does not move while it sleeps, so it is unwound from the sp and pc the
 *     kernel reports, with rt_unwind's rules (the module registry's unwind
 *     tables) but reading only copies of its stack (process_vm_readv), never
 *     its memory directly.  rbp is not reported;
 *     when the walk needs it (a frame-pointer function with no callee that
 *     saved rbp), candidate frame pointers are read from the stack (a word
 *     followed by a return address into a known module, after a call into
 *     the stuck frame's function) and the walk is retried with the most
 *     plausible;
 *   - a running thread is asked with a signal (SA_RESTART): its handler
 *     unwinds its own interrupted context into a slot and marks it done.
 *     Only threads whose syscall file said "running" an instant before are
 *     signalled, so a thread sleeping in nanosleep or epoll_wait (which
 *     fail with EINTR even under SA_RESTART) is not interrupted.  A thread
 *     can still enter such a call between that read and the signal, or be
 *     inside one still runnable ("running" means runnable, in user space
 *     or in the kernel): a signal is delivered on the way back to user
 *     space, so it cannot run before the call starts, and the call fails
 *     (about 2% of the signals sent to threads flipping between CPU and
 *     20 us sleeps).  The handler then sees the call's EINTR return in its
 *     context, finds the call's number in the code before the `syscall`
 *     (sysrestart.c) and restarts it (rt_restart_if_interrupted), so
 *     the program never sees the EINTR: socket calls with timeouts,
 *     accept, connect, send, semtimedop, msgrcv, msgsnd, poll, select,
 *     epoll_wait, nanosleep, sigtimedwait, io_getevents, futex waits...
 *     Limit: a raw syscall(2) call (its number is gone from every
 *     register) cannot be restarted.
 * Then the wait records of the interposed primitives (sync.c:
 * rt_sync_waits) name the mutex, condition variable, semaphore... a thread
 * waits on and since when, and the info registry (threads.c) gives each
 * thread created through pthread_create its creator's stack and, where
 * published, its labels.
 *
 * Signal protocol (no locks, no allocation in the handler): slots live in
 * a static array that is never freed.  Each request has a sequence number;
 * the slot's state word holds (seq << 2) | phase (1 waiting, 2 writing,
 * 3 done) and the signal's value carries the slot index and seq.  The
 * handler claims a slot with a compare-and-swap from (seq, waiting) to
 * (seq, writing), so a handler that runs late, after its request was
 * abandoned (the snapshotter waits a bounded time, then swaps the slot
 * back to idle) or reused by another request, writes nothing.  A slot
 * being written is waited for (the handler is bounded).
 *
 * Snapshots are serialised by a mutex (the slots are shared).  The
 * handler's disposition is installed at the first snapshot, only if the
 * program left the signal at SIG_DFL; before each snapshot the runtime
 * checks it is still its own, and signals nobody otherwise (running
 * threads are then listed without a stack).  CPROF_SNAPSHOT_SIGNAL=N
 * chooses another signal.
 *
 * Formats: debug=0 a profile.proto of sample type goroutine/count, one
 * sample per distinct (stack, labels), labels "state" and "thread" (the
 * name) plus the thread's own; debug=1 Go's count-profile text ("threads
 * profile: total N", groups "COUNT @ addrs", "# labels: {...}", frames);
 * debug=2 one block per thread as Go's goroutine dump.
 *
 * The runtime's own threads (self.c: the collector, the endpoint, the
 * writers, all named "cprof-...") are left out of every snapshot, and so
 * of the threads and deadlock profiles, unless asked: RT_DEBUG_RUNTIME
 * (the endpoint's `?debug=2&runtime=1`) or CPROF_THREADS_RUNTIME=1.
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_labels.h"
#include "rt_wait.h"
#include "rt_profile.h"
#include "unwind_step.h"
#include "rt_env.h"
#include "rt_sig.h"
#include "cprof.h"
#include "tprof.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers --------------------------------------------------------------- */

int64_t rt_now_ns(void)
{
	return rt_clock_ns(CLOCK_MONOTONIC);
}

void rt_fmt_duration(int64_t ns, char *out, size_t n)
{
	if (ns < 0)
		ns = 0;
	if (ns < 1000000000)
		snprintf(out, n, "%lldms", (long long)(ns / 1000000));
	else if (ns < 60 * (int64_t)1000000000)
		snprintf(out, n, "%.1fs", (double)ns / 1e9);
	else
		snprintf(out, n, "%lld minutes", (long long)(ns / (60 * (int64_t)1000000000)));
}

void rt_wait_describe(const rt_wait *w, char *out, size_t n)
{
	switch (w->kind) {
	case RT_WAIT_MUTEX:
		snprintf(out, n, "waiting on mutex %p", w->obj);
		break;
	case RT_WAIT_RDLOCK:
		snprintf(out, n, "waiting on rwlock %p (read)", w->obj);
		break;
	case RT_WAIT_WRLOCK:
		snprintf(out, n, "waiting on rwlock %p (write)", w->obj);
		break;
	case RT_WAIT_COND:
		snprintf(out, n, "cond wait %p (mutex %p)", w->obj, w->obj2);
		break;
	case RT_WAIT_SEM:
		snprintf(out, n, "waiting on semaphore %p", w->obj);
		break;
	case RT_WAIT_JOIN:
		snprintf(out, n, "joining thread %p", w->obj2 ? w->obj2 : w->obj);
		break;
	case RT_WAIT_BARRIER:
		snprintf(out, n, "waiting on barrier %p", w->obj);
		break;
	default:
		snprintf(out, n, "waiting");
		break;
	}
}

static int my_tid(void)
{
	return (int)syscall(SYS_gettid);
}

/* Read a small /proc file; NUL-terminated; the length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r;
	do
		r = read(fd, buf, n - 1);
	while (r < 0 && errno == EINTR);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return r;
}

/* The state of the system calls worth naming (x86-64 numbers). */
static const char *sys_name(long nr)
{
	switch (nr) {
	case 0: return "read";
	case 1: return "write";
	case 7: return "poll";
	case 17: return "pread64";
	case 18: return "pwrite64";
	case 19: return "readv";
	case 20: return "writev";
	case 23: return "select";
	case 34: return "pause";
	case 35: return "nanosleep";
	case 42: return "connect";
	case 43: return "accept";
	case 44: return "sendto";
	case 45: return "recvfrom";
	case 46: return "sendmsg";
	case 47: return "recvmsg";
	case 61: return "wait4";
	case 72: return "fcntl";
	case 73: return "flock";
	case 74: return "fsync";
	case 75: return "fdatasync";
	case 128: return "rt_sigtimedwait";
	case 130: return "rt_sigsuspend";
	case 202: return "futex";
	case 230: return "clock_nanosleep";
	case 232: return "epoll_wait";
	case 247: return "waitid";
	case 270: return "pselect6";
	case 271: return "ppoll";
	case 281: return "epoll_pwait";
	case 288: return "accept4";
	case 299: return "recvmmsg";
	case 441: return "epoll_pwait2";
	default: return NULL;
	}
}

static void sys_state(long nr, char pstate, char *out, size_t n)
{
	const char *nm = sys_name(nr);
	if (nr == 35 || nr == 230)
		snprintf(out, n, "sleeping in %s", nm);
	else if (nr == 202)
		snprintf(out, n, "futex wait");
	else if (nm)
		snprintf(out, n, "syscall %s", nm);
	else
		snprintf(out, n, "syscall %ld", nr);
	if (pstate == 'D') {
		size_t l = strlen(out);
		snprintf(out + l, n - l, ", uninterruptible");
	}
}

/* ---- the snapshot signal ------------------------------------------------------------ */

#define NSLOTS 256
enum { PH_IDLE, PH_WAIT, PH_WRITE, PH_DONE };

typedef struct snap_slot {
	_Atomic uint32_t state;    /* (seq << 2) | phase */
	int n;
	bool trunc;
	uint32_t labels;
	uintptr_t pcs[RT_MAX_FRAMES];
} snap_slot;

static snap_slot slots[NSLOTS];
static uint32_t next_seq = 1;   /* under snap_mu; 22 bits used */
static pthread_mutex_t snap_mu = PTHREAD_MUTEX_INITIALIZER;
static int snap_sig;            /* 0 until installed; -1 unusable */

static _Atomic uint64_t restarted;   /* system calls the handler restarted */

static void snap_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	int e = errno;
	if (si && si->si_code == SI_QUEUE) {
		uint32_t v = (uint32_t)si->si_value.sival_int;
		uint32_t idx = v & (NSLOTS - 1), seq = v >> 8;
		snap_slot *s = &slots[idx];
		uint32_t want = (seq << 2) | PH_WAIT;
		if (atomic_compare_exchange_strong(&s->state, &want, (seq << 2) | PH_WRITE)) {
			bool tr = false;
			s->n = rt_unwind((const ucontext_t *)ucv, s->pcs, RT_MAX_FRAMES, &tr);
			s->trunc = tr;
			s->labels = rt_labels_current();
			atomic_store(&s->state, (seq << 2) | PH_DONE);
		}
		if (rt_restart_if_interrupted(ucv))
			atomic_fetch_add_explicit(&restarted, 1, memory_order_relaxed);
	}
	errno = e;
}

static bool handler_is_ours(int sig)
{
	struct sigaction cur;
	return rt_real_sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	       cur.sa_sigaction == snap_handler;
}

/* A fork child has only the forking thread: a snapshot another thread was
 * taking is over, its slots free. */
static void snap_fork_child(void)
{
	pthread_mutex_init(&snap_mu, NULL);
	for (size_t i = 0; i < NSLOTS; i++)
		atomic_store(&slots[i].state, PH_IDLE);
}

static void snap_atfork(void)
{
	pthread_atfork(NULL, NULL, snap_fork_child);
}

/* Install the handler once (snap_mu held).  The signal, or -1. */
static int snap_signal(void)
{
	if (snap_sig > 0)
		return handler_is_ours(snap_sig) ? snap_sig : -1;
	if (snap_sig < 0)
		return -1;
	int sig = SIGRTMAX - 2;
	/* a real-time signal, checked by envparse.c; a bad value: no snapshots */
	if (rt_env_signal("CPROF_SNAPSHOT_SIGNAL", true, "no thread snapshots", &sig) == RT_ENV_BAD) {
		snap_sig = -1;
		return -1;
	}
	struct sigaction old, sa;
	if (rt_real_sigaction(sig, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
	    old.sa_handler != SIG_DFL) {
		snap_sig = -1;   /* the program's own signal */
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = snap_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGPROF);   /* one unwind at a time per thread */
	if (rt_real_sigaction(sig, &sa, NULL) != 0) {
		snap_sig = -1;
		return -1;
	}
	snap_sig = sig;
	return sig;
}

/* ---- unwinding a blocked thread from its /proc registers ------------------------------- */

#define CAND_WORDS 1024   /* 8 KiB of stack searched for frame pointers */
#define CAND_MAX 6

static bool peek(uintptr_t a, void *out, size_t n)
{
	struct iovec l = { out, n }, r = { (void *)a, n };
	return syscall(SYS_process_vm_readv, (long)getpid(), &l, 1L, &r, 1L, 0L) == (long)n;
}

/* Through a PLT stub ([endbr64] [bnd] jmp *GOT(%rip)) to what it jumps to. */
static uintptr_t through_plt(uintptr_t t)
{
	unsigned char b[11];
	if (!peek(t, b, sizeof b))
		return t;
	size_t o = 0;
	if (b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa)
		o = 4;
	if (b[o] == 0xf2)
		o++;
	if (b[o] != 0xff || b[o + 1] != 0x25)
		return t;
	int32_t d;
	memcpy(&d, b + o + 2, 4);
	uintptr_t got = t + o + 6 + (uintptr_t)(intptr_t)d, to;
	return peek(got, &to, sizeof to) ? to : t;
}

/* Does the call before return address ra call the function holding pc?
 * 3 yes (the call's target is pc's symbol); 2 probably (a target within
 * 16 KiB: the same function split in parts, or one without a dynamic
 * symbol); 1 cannot tell (an indirect call; a target within 256 KiB);
 * 0 no (not a call, or a call to another function: a stale frame left on
 * the stack by an earlier call). */
static int calls_into(uintptr_t ra, uintptr_t pc)
{
	unsigned char b[7];
	if (!peek(ra - 7, b, sizeof b))
		return 0;
	uintptr_t t;
	if (b[2] == 0xe8) {                           /* call rel32 */
		int32_t d;
		memcpy(&d, b + 3, 4);
		t = through_plt(ra + (uintptr_t)(intptr_t)d);
	} else if (b[1] == 0xff && b[2] == 0x15) {    /* call *disp(%rip): -fno-plt */
		int32_t d;
		memcpy(&d, b + 3, 4);
		if (!peek(ra + (uintptr_t)(intptr_t)d, &t, sizeof t))
			return 1;
	} else {
		for (int len = 2; len <= 7; len++)            /* call *reg / *mem */
			if (b[7 - len] == 0xff && ((b[7 - len + 1] >> 3) & 7) == 2)
				return 1;
		return 0;
	}
	if (t == pc)
		return 3;
	Dl_info a, c;
	if (dladdr((void *)t, &a) && dladdr((void *)pc, &c) && a.dli_saddr &&
	    a.dli_saddr == c.dli_saddr)
		return 3;
	uintptr_t dist = t < pc ? pc - t : t - pc;
	return dist < (16u << 10) ? 2 : t < pc && dist < (256u << 10) ? 1 : 0;
}

/* ---- walking another thread's stack ----
 * The rules are rt_unwind's (unwind.c), but every read is a copy: from a
 * copy of the top of the thread's stack taken once (FS_BYTES from its sp,
 * with process_vm_readv, which stops at an unmapped page instead of
 * faulting), or else with process_vm_readv itself.  Never a plain load of
 * another thread's memory: it may change or be unmapped under us, and the
 * sanitizers would rightly see a read of another frame's redzone. */
#define FS_BYTES (16u << 10)

typedef struct fstack {
	uintptr_t lo;
	size_t n;
	uintptr_t w[FS_BYTES / 8];
} fstack;

static void fs_load(fstack *fs, uintptr_t sp)
{
	fs->lo = sp & ~(uintptr_t)7;
	struct iovec l = { fs->w, FS_BYTES }, r = { (void *)fs->lo, FS_BYTES };
	ssize_t got = syscall(SYS_process_vm_readv, (long)getpid(), &l, 1L, &r, 1L, 0L);
	fs->n = got > 0 ? (size_t)got & ~(size_t)7 : 0;
	if (fs->n == 0) {   /* partial pages: at least up to the end of sp's page */
		size_t first = 4096 - (fs->lo & 4095);
		fs->n = peek(fs->lo, fs->w, first) ? first : 0;
	}
}

static bool fs_word(const fstack *fs, uintptr_t a, uintptr_t *out)
{
	if (a & 7)
		return false;
	if (a >= fs->lo && a - fs->lo + 8 <= fs->n) {
		*out = fs->w[(a - fs->lo) / 8];
		return true;
	}
	return peek(a, out, sizeof *out);
}

/* The step's reader: the copy of the stack, else a probe. */
static bool fs_read(void *ctx, uintptr_t a, uintptr_t *out, int what)
{
	(void)what;
	return fs_word(ctx, a, out);
}

/* One frame up (unwind_step.h's rules, as rt_unwind): RT_STEP_*. */
static int fs_step(const fstack *fs, rt_uregs *r)
{
	uintptr_t look = r->exact ? r->pc : r->pc - 1;
	bool known = false;
	const rt_utable *t = rt_modules_find(look, &known);
	return rt_unwind_step(r, t ? rt_utable_find(t, look) : NULL, fs_read, (void *)fs);
}

static int walk_from(const fstack *fs, uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t *pcs,
		     bool *trunc)
{
	rt_uregs r = { pc, sp, fp, true };
	int n = 0;
	*trunc = false;
	pcs[n++] = pc;
	rt_modules_enter();
	for (;;) {
		if (n >= RT_MAX_FRAMES) {
			*trunc = true;
			break;
		}
		uintptr_t osp = r.sp;
		int s = fs_step(fs, &r);
		if (s == RT_STEP_END)
			break;
		if (s == RT_STEP_FAIL || r.pc < RT_PAGE || (!r.exact && r.sp <= osp)) {
			*trunc = true;
			break;
		}
		pcs[n++] = r.exact ? r.pc : r.pc - 1;
	}
	rt_modules_leave();
	return n;
}

/* A blocked thread's stack from the sp and pc of its system call.  When the
 * walk stops at a frame that needs rbp (which /proc does not give), the
 * candidates for that frame's rbp are the stack words X whose next word is
 * a return address into a known module after a call into that frame's
 * function (calls_into); the walk is retried from the first few, keeping
 * the most plausible call, then a walk that reaches the outermost frame,
 * then the longest. */
static int unwind_blocked(fstack *fs, uintptr_t pc, uintptr_t sp, uintptr_t *pcs, bool *trunc)
{
	fs_load(fs, sp);
	int n = walk_from(fs, pc, sp, 0, pcs, trunc);
	if (!*trunc || n < 1)
		return n;
	uintptr_t stuck_pc = pcs[n - 1];
	uintptr_t best[RT_MAX_FRAMES];
	int bestn = n, bestscore = 0;
	bool besttr = true;
	memcpy(best, pcs, (size_t)n * sizeof *pcs);
	int tried = 0;
	size_t words = fs->n / 8;
	if (words > CAND_WORDS)
		words = CAND_WORDS;
	for (size_t i = 0; i + 1 < words && tried < CAND_MAX; i++) {
		/* w[i], the caller's saved rbp, may be anything: a caller built
		 * without frame pointers uses rbp as it likes */
		uintptr_t x = fs->lo + i * 8, ra = fs->w[i + 1];
		bool known = false;
		rt_modules_enter();
		bool in_mod = ra >= 4096 && rt_modules_find(ra - 1, &known);
		rt_modules_leave();
		if (!in_mod)
			continue;
		int score = calls_into(ra, stuck_pc);
		if (score == 0)
			continue;
		tried++;
		uintptr_t tmp[RT_MAX_FRAMES];
		bool tr = false;
		int k = walk_from(fs, pc, sp, x, tmp, &tr);
		if (k <= n)
			continue;   /* did not get past the stuck frame */
		bool better = score > bestscore || (score == bestscore && !tr && besttr) ||
			      (score == bestscore && tr == besttr && k > bestn);
		if (better) {
			memcpy(best, tmp, (size_t)k * sizeof *tmp);
			bestn = k;
			besttr = tr;
			bestscore = score;
		}
		if (score == 3 && !tr)
			break;
	}
	memcpy(pcs, best, (size_t)bestn * sizeof *pcs);
	*trunc = besttr;
	return bestn;
}

/* A blocked thread's stack from the context its wait record saved (pc,
 * stack and frame pointers in the interposed primitive's slow path: every
 * register the walk needs, rbp included), with the stack copied now.  The
 * thread may have woken since: the words are read without faulting, and
 * the caller keeps the walk only while the record is unchanged.  The
 * stack from the interposed function's frame up (the slow path's own
 * frame dropped), as rt_unwind_here gave it to the records. */
static int unwind_waiter(fstack *fs, const rt_wait *w, uintptr_t *pcs, int max, bool *trunc)
{
	if (!w->ctx_pc || !w->ctx_sp)
		return 0;
	fs_load(fs, w->ctx_sp);
	uintptr_t tmp[RT_MAX_FRAMES];
	int n = walk_from(fs, w->ctx_pc, w->ctx_sp, w->ctx_fp, tmp, trunc) - 1;
	if (n <= 0)
		return 0;
	if (n > max)
		n = max;
	memcpy(pcs, tmp + 1, (size_t)n * sizeof *pcs);
	return n;
}

/* The record of thread tid's wait, if it still waits on the same call. */
static bool wait_unchanged(const rt_wait *w, rt_wait *scratch, size_t cap)
{
	size_t n = rt_sync_waits(scratch, cap);
	for (size_t i = 0; i < n; i++)
		if (scratch[i].tid == w->tid)
			return scratch[i].since_ns == w->since_ns && scratch[i].ctx_sp == w->ctx_sp &&
			       scratch[i].ctx_pc == w->ctx_pc;
	return false;
}

/* ---- the snapshot -------------------------------------------------------------------------- */

static int cmp_snap(const void *a, const void *b)
{
	int x = ((const rt_tsnap *)a)->tid, y = ((const rt_tsnap *)b)->tid;
	return (x > y) - (x < y);
}

static bool parse_stat(const char *buf, rt_tsnap *t)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (!open || !close || close < open || close[1] != ' ')
		return false;
	size_t l = (size_t)(close - open - 1);
	if (l >= sizeof t->name)
		l = sizeof t->name - 1;
	memcpy(t->name, open + 1, l);
	t->name[l] = 0;
	t->pstate = close[2];
	return true;
}

/* "running", "-1 sp pc" or "nr a1..a6 sp pc" */
static void parse_syscall(const char *buf, rt_tsnap *t)
{
	if (strncmp(buf, "running", 7) == 0) {
		t->sysno = -2;
		return;
	}
	unsigned long long v[9];
	char *end;
	long nr = strtol(buf, &end, 10);
	if (end == buf) {
		t->sysno = -2;
		return;
	}
	int k = 0;
	const char *p = end;
	while (k < 9) {
		char *e2;
		unsigned long long x = strtoull(p, &e2, 16);
		if (e2 == p)
			break;
		v[k++] = x;
		p = e2;
	}
	t->sysno = nr;
	if (nr < 0 && k >= 2) {
		t->sp = (uintptr_t)v[0];
		t->pc = (uintptr_t)v[1];
	} else if (k >= 8) {
		t->sp = (uintptr_t)v[6];
		t->pc = (uintptr_t)v[7];
	}
}

/* Is sig in the SigBlk mask of a /proc status text? */
static bool sig_blocked(const char *status, int sig)
{
	const char *p = strstr(status, "\nSigBlk:");
	if (!p)
		return false;
	unsigned long long mask = strtoull(p + 8, NULL, 16);
	return (mask >> (sig - 1)) & 1;
}

/* Signal the running threads idx[0..n) (at most NSLOTS) and collect.  */
static void ask_running(rt_snapshot *s, fstack *fs, const size_t *idx, size_t n, int sig)
{
	pid_t pid = getpid();
	uint32_t seqs[NSLOTS];
	bool sent[NSLOTS];
	for (size_t i = 0; i < n; i++) {
		rt_tsnap *t = &s->t[idx[i]];
		uint32_t seq = next_seq++ & 0x3fffff;
		if (seq == 0)
			seq = next_seq++ & 0x3fffff;
		seqs[i] = seq;
		sent[i] = false;
		atomic_store(&slots[i].state, (seq << 2) | PH_WAIT);
		/* a thread blocking our signal would answer only when it unblocks
		 * it (often never: workers that block every signal) */
		char path[64], buf[2048];
		snprintf(path, sizeof path, "/proc/self/task/%d/status", t->tid);
		if (read_small(path, buf, sizeof buf) < 0 || sig_blocked(buf, sig)) {
			atomic_store(&slots[i].state, PH_IDLE);
			t->sig_blocked = true;
			continue;
		}
		/* re-check right before the signal: still running? */
		snprintf(path, sizeof path, "/proc/self/task/%d/syscall", t->tid);
		if (read_small(path, buf, sizeof buf) < 0) {
			atomic_store(&slots[i].state, PH_IDLE);
			continue;
		}
		parse_syscall(buf, t);
		if (t->sysno != -2) {
			atomic_store(&slots[i].state, PH_IDLE);
			continue;   /* blocked now: read from /proc below */
		}
		if (rt_thread_sigqueue(pid, t->tid, sig, (int)((uint32_t)i | (seq << 8))) != 0) {
			atomic_store(&slots[i].state, PH_IDLE);
			continue;
		}
		sent[i] = true;
		s->signalled++;
	}
	/* bounded wait: a thread descheduled on a loaded machine answers late */
	int64_t deadline = rt_now_ns() + 500 * (int64_t)1000000;
	for (int spin = 0;; spin++) {
		bool all = true;
		for (size_t i = 0; i < n && all; i++)
			if (sent[i] && (atomic_load(&slots[i].state) & 3) != PH_DONE)
				all = false;
		if (all || rt_now_ns() > deadline)
			break;
		if (spin < 50) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50000 };
			nanosleep(&ts, NULL);
		}
	}
	for (size_t i = 0; i < n; i++) {
		rt_tsnap *t = &s->t[idx[i]];
		if (!sent[i]) {
			if (t->sysno != -2 && t->pc) {   /* went to sleep meanwhile */
				t->npcs = unwind_blocked(fs, t->pc, t->sp, t->pcs, &t->truncated);
				t->how = RT_SNAP_PROC;
			}
			continue;
		}
		uint32_t want = (seqs[i] << 2) | PH_WAIT;
		if (atomic_compare_exchange_strong(&slots[i].state, &want, PH_IDLE)) {
			s->unanswered++;   /* abandoned: a late handler writes nothing */
			continue;
		}
		while ((atomic_load(&slots[i].state) & 3) == PH_WRITE)
			sched_yield();
		t->npcs = slots[i].n;
		memcpy(t->pcs, slots[i].pcs, (size_t)slots[i].n * sizeof *t->pcs);
		t->truncated = slots[i].trunc;
		t->labels = slots[i].labels;
		t->has_labels = true;
		t->how = RT_SNAP_SIGNAL;
		atomic_store(&slots[i].state, PH_IDLE);
	}
}

void rt_snapshot_free(rt_snapshot *s)
{
	free(s->t);
	free(s->info);
	memset(s, 0, sizeof *s);
}

int rt_snapshot_take(rt_snapshot *s)
{
	return rt_snapshot_take_all(s, false);
}

int rt_snapshot_take_all(rt_snapshot *s, bool with_runtime)
{
	memset(s, 0, sizeof *s);
	rt_modules_init();
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, snap_atfork);
	pthread_mutex_lock(&snap_mu);
	int rc = 0;
	size_t cap = 0;
	size_t *run = NULL;
	rt_wait *waits = NULL;
	fstack *fs = malloc(sizeof *fs);
	if (!fs) {
		rc = CPROF_ERR_NOMEM;
		goto out;
	}
	DIR *d = opendir("/proc/self/task");
	if (!d) {
		rt_set_error("cannot list threads: /proc/self/task: %s", strerror(errno));
		rc = CPROF_ERR_SYSTEM;
		goto out;
	}
	int self = my_tid();
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (s->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			if (cprof_reserve((void **)&s->t, &cap, nc, sizeof *s->t) < 0) {
				rc = CPROF_ERR_NOMEM;
				break;
			}
		}
		rt_tsnap *t = &s->t[s->n];
		memset(t, 0, offsetof(rt_tsnap, pcs));
		t->tid = atoi(de->d_name);
		if (!with_runtime && rt_self_tid(t->tid))
			continue;   /* the runtime's own thread */
		t->wait_ns = -1;
		t->how = RT_SNAP_NONE;
		char path[64], buf[1024];
		snprintf(path, sizeof path, "/proc/self/task/%d/stat", t->tid);
		if (read_small(path, buf, sizeof buf) < 0 || !parse_stat(buf, t))
			continue;   /* exited */
		if (t->pstate == 'Z' || t->pstate == 'X')
			continue;
		s->n++;
		if (t->tid == self) {
			t->sysno = -2;
			t->npcs = rt_unwind_here(t->pcs, RT_MAX_FRAMES, 0);
			t->how = RT_SNAP_SELF;
			t->labels = rt_labels_current();
			t->has_labels = true;
			continue;
		}
		snprintf(path, sizeof path, "/proc/self/task/%d/syscall", t->tid);
		if (read_small(path, buf, sizeof buf) < 0)
			continue;
		parse_syscall(buf, t);
		if (t->sysno != -2 && t->pc) {
			t->npcs = unwind_blocked(fs, t->pc, t->sp, t->pcs, &t->truncated);
			t->how = RT_SNAP_PROC;
		}
	}
	closedir(d);
	if (rc < 0)
		goto out;
	qsort(s->t, s->n, sizeof *s->t, cmp_snap);

	/* running threads: by signal, in batches of NSLOTS */
	int sig = snap_signal();
	uint64_t restarted0 = atomic_load(&restarted);
	run = malloc((s->n ? s->n : 1) * sizeof *run);
	if (!run) {
		rc = CPROF_ERR_NOMEM;
		goto out;
	}
	size_t nrun = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].how == RT_SNAP_NONE && s->t[i].sysno == -2)
			run[nrun++] = i;
	if (sig > 0)
		for (size_t i = 0; i < nrun; i += NSLOTS)
			ask_running(s, fs, run + i, nrun - i < NSLOTS ? nrun - i : NSLOTS, sig);

	s->restarted = (size_t)(atomic_load(&restarted) - restarted0);

	/* what the interposed primitives know */
	size_t wcap = s->n + 64;
	waits = malloc(2 * wcap * sizeof *waits);   /* the records, then a re-read */
	size_t nw = waits ? rt_sync_waits(waits, wcap) : 0;
	s->taken_ns = rt_now_ns();
	for (size_t k = 0; k < nw; k++) {
		rt_tsnap key = { .tid = waits[k].tid };
		rt_tsnap *t = bsearch(&key, s->t, s->n, sizeof *s->t, cmp_snap);
		if (!t)
			continue;
		t->has_wait = true;
		t->wait = waits[k];
		t->wait_ns = waits[k].since_ns > 0 ? s->taken_ns - waits[k].since_ns : -1;
		if (t->npcs > 1 && !t->truncated)
			continue;
		int wn = waits[k].nframes;
		if (wn > RT_WAIT_FRAMES)
			wn = RT_WAIT_FRAMES;
		if (wn > 0 && (t->npcs <= 1 || wn > t->npcs)) {
			memcpy(t->pcs, waits[k].pcs, (size_t)wn * sizeof *t->pcs);
			t->npcs = wn;
			t->truncated = false;
			t->how = RT_SNAP_WAITREC;
			continue;
		}
		/* the walk from /proc's sp stopped (a frame needs rbp): walk
		 * from the record's context, kept while the wait is the same */
		uintptr_t tmp[RT_MAX_FRAMES];
		bool tr = false;
		int n = unwind_waiter(fs, &waits[k], tmp, RT_MAX_FRAMES, &tr);
		if (n > 0 && (t->npcs <= 1 || n > t->npcs) &&
		    wait_unchanged(&waits[k], waits + wcap, wcap)) {
			memcpy(t->pcs, tmp, (size_t)n * sizeof *t->pcs);
			t->npcs = n;
			t->truncated = tr;
			t->how = RT_SNAP_WAITREC;
		}
	}

	if (rt_tinfo_list(&s->info, &s->ninfo) < 0) {
		rc = CPROF_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		rt_tsnap *t = &s->t[i];
		const rt_tinfo *inf = rt_tinfo_find(s->info, s->ninfo, t->tid);
		if (!t->has_labels && inf && inf->has_labels) {
			t->labels = inf->labels;
			t->has_labels = true;
		}
		if (t->has_wait)
			rt_wait_describe(&t->wait, t->state, sizeof t->state);
		else if (t->sysno == -2)
			snprintf(t->state, sizeof t->state, "%s",
				 t->how != RT_SNAP_NONE ? "running"
				 : t->sig_blocked ? "running, no stack (signal blocked)"
						  : "running, no stack");
		else if (t->sysno == -1)
			snprintf(t->state, sizeof t->state, "%s",
				 t->pstate == 'T' || t->pstate == 't' ? "stopped" : "blocked");
		else
			sys_state(t->sysno, t->pstate, t->state, sizeof t->state);
	}
out:
	pthread_mutex_unlock(&snap_mu);
	free(run);
	free(waits);
	free(fs);
	if (rc == CPROF_ERR_NOMEM)
		rt_set_error("cannot take a thread snapshot: out of memory");
	if (rc < 0)
		rt_snapshot_free(s);
	return rc;
}

/* ---- building and printing ------------------------------------------------------------------ */

typedef struct built {
	cprof_profile *p;
	int64_t *stack;       /* per thread: its stack index */
	int64_t *lset;        /* per thread: its label set (state, thread, own) */
	int64_t *ulset;       /* per thread: its own labels only */
	int64_t *cstack;      /* per thread: the creator's stack, or -1 */
} built;

static void built_free(built *b)
{
	cprof_profile_free(b->p);
	free(b->stack);
	free(b->lset);
	free(b->ulset);
	free(b->cstack);
	memset(b, 0, sizeof *b);
}

/* Leading frames of other pthread_create wrappers (a sanitizer's
 * interceptor calls ours): the creating call site is the first frame
 * that is not one. */
static int skip_create_wrappers(const uintptr_t *pcs, int n)
{
	int k = 0;
	while (k + 1 < n) {
		Dl_info di;
		if (!dladdr((void *)pcs[k], &di) || !di.dli_sname ||
		    !strstr(di.dli_sname, "pthread_create"))
			break;
		k++;
	}
	return k;
}

static int64_t thread_stack(rt_pb *b, const rt_tsnap *t)
{
	if (t->npcs > 0)
		return rt_pb_stack(b, t->pcs, (size_t)t->npcs);
	return rt_pb_pseudo(b, "[no stack]");
}

/* Symbolize every thread's stack (and creator) of snapshot s into a profile
 * of sample type goroutine/count with one sample per distinct stack and
 * label set. */
static int build_snapshot(const rt_snapshot *s, built *out)
{
	memset(out, 0, sizeof *out);
	cprof_profile *p = cprof_profile_new();
	size_t n = s->n ? s->n : 1;
	out->stack = calloc(n, sizeof *out->stack);
	out->lset = calloc(n, sizeof *out->lset);
	out->ulset = calloc(n, sizeof *out->ulset);
	out->cstack = calloc(n, sizeof *out->cstack);
	out->p = p;
	if (!p || !out->stack || !out->lset || !out->ulset || !out->cstack) {
		built_free(out);
		return CPROF_ERR_NOMEM;
	}
	if (rt_pb_count_head(p, "goroutine") < 0) {
		built_free(out);
		return CPROF_ERR_NOMEM;
	}
	cprof_str kstate = cprof_intern_cstr(p, "state"), kthread = cprof_intern_cstr(p, "thread");
	rt_pb *b = rt_pb_new(p);
	if (!b) {
		built_free(out);
		return CPROF_ERR_NOMEM;
	}
	int rc = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		const rt_tsnap *t = &s->t[i];
		int64_t st = thread_stack(b, t);
		cprof_label ex[2] = { { .key = kstate, .str = cprof_intern_cstr(p, t->state) },
				      { .key = kthread, .str = cprof_intern_cstr(p, t->name) } };
		if (!ex[0].str)
			ex[0].str = cprof_intern_cstr(p, "?");
		if (!ex[1].str)
			ex[1].str = cprof_intern_cstr(p, "?");
		uint32_t ls = t->has_labels ? t->labels : 0;
		int64_t l = rt_pb_labels(b, ls, ex, 2);
		int64_t ul = rt_pb_labels(b, ls, NULL, 0);
		const rt_tinfo *inf = rt_tinfo_find(s->info, s->ninfo, t->tid);
		int64_t cs = -1;
		if (inf && inf->ncreator > 0) {
			int k = skip_create_wrappers(inf->creator, inf->ncreator);
			cs = rt_pb_stack(b, inf->creator + k, (size_t)(inf->ncreator - k));
		}
		if (st < 0 || l < 0 || ul < 0 || (inf && inf->ncreator > 0 && cs < 0) ||
		    ex[0].str == CPROF_NONE || ex[1].str == CPROF_NONE) {
			rc = CPROF_ERR_NOMEM;
			break;
		}
		out->stack[i] = st;
		out->lset[i] = l;
		out->ulset[i] = ul;
		out->cstack[i] = cs;
	}
	/* one sample per distinct (stack, labels), in first-seen order */
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		bool seen = false;
		int64_t cnt = 0;
		for (size_t j = 0; j < s->n; j++)
			if (out->stack[j] == out->stack[i] && out->lset[j] == out->lset[i]) {
				if (j < i) {
					seen = true;
					break;
				}
				cnt++;
			}
		if (seen)
			continue;
		if (cprof_add_sample(p, (uint32_t)out->stack[i], (uint32_t)out->lset[i], &cnt) < 0)
			rc = CPROF_ERR_NOMEM;
	}
	if (rc == 0 && rt_pb_finish(b) < 0)
		rc = CPROF_ERR_NOMEM;
	rt_pb_free(b);
	if (rc < 0)
		built_free(out);
	return rc;
}

static int cmp_label_key(const void *a, const void *b, void *ctx)
{
	const cprof_profile *p = ctx;
	const cprof_label *x = a, *y = b;
	return strcmp(cprof_s(p, x->key), cprof_s(p, y->key));
}

/* Go's labelMap.String: {"k":"v", ...}, sorted by key. */
static void print_labels(rt_buf *o, const cprof_profile *p, uint32_t ls)
{
	size_t n = cprof_lset_len(p, ls);
	cprof_label small[16];
	cprof_label *l = n <= 16 ? small : malloc(n * sizeof *l);
	if (!l) {
		o->oom = true;
		return;
	}
	if (n)
		memcpy(l, cprof_lset(p, ls), n * sizeof *l);
	qsort_r(l, n, sizeof *l, cmp_label_key, (void *)p);
	rt_buf_printf(o, "{");
	for (size_t i = 0; i < n; i++) {
		rt_buf_printf(o, "%s\"", i ? ", " : "");
		for (int pass = 0; pass < 2; pass++) {
			const char *x = cprof_s(p, pass ? l[i].str : l[i].key);
			for (; *x; x++) {
				if (*x == '"' || *x == '\\')
					rt_buf_printf(o, "\\%c", *x);
				else if ((unsigned char)*x < 0x20)
					rt_buf_printf(o, "\\x%02x", (unsigned char)*x);
				else
					rt_buf_add(o, x, 1);
			}
			rt_buf_printf(o, pass ? "\"" : "\":\"");
		}
	}
	rt_buf_printf(o, "}");
	if (l != small)
		free(l);
}

static int cmp_count_desc(const void *a, const void *b, void *ctx)
{
	const cprof_profile *p = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int64_t vx = cprof_sample_values(p, x)[0], vy = cprof_sample_values(p, y)[0];
	if (vx != vy)
		return vx > vy ? -1 : 1;
	return (x > y) - (x < y);
}

/* Go's count-profile text of any one-value profile p. */
static int render_count_text(const cprof_profile *p, const char *name, rt_buf *out)
{
	size_t n = p->samples.n;
	size_t *ord = malloc((n ? n : 1) * sizeof *ord);
	if (!ord)
		return CPROF_ERR_NOMEM;
	int64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		ord[i] = i;
		total += cprof_sample_values(p, i)[0];
	}
	qsort_r(ord, n, sizeof *ord, cmp_count_desc, (void *)p);
	rt_buf_printf(out, "%s profile: total %lld\n", name, (long long)total);
	for (size_t k = 0; k < n; k++) {
		const cprof_sample *sm = &p->samples.v[ord[k]];
		rt_buf_printf(out, "%lld @", (long long)cprof_sample_values(p, ord[k])[0]);
		rt_text_addrs(out, p, sm->stack);
		rt_buf_printf(out, "\n");
		if (sm->labels) {
			rt_buf_printf(out, "# labels: ");
			print_labels(out, p, sm->labels);
			rt_buf_printf(out, "\n");
		}
		rt_text_frames(out, p, sm->stack);
		rt_buf_printf(out, "\n");
	}
	free(ord);
	return out->oom ? CPROF_ERR_NOMEM : 0;
}

/* Go's traceback lines: "fn(...)\n\tfile:line pc=0x..." per frame. */
static void print_frames(rt_buf *o, const cprof_profile *p, uint32_t stack)
{
	size_t n = cprof_stack_len(p, stack);
	const uint32_t *locs = cprof_stack_locs(p, stack);
	for (size_t i = 0; i < n; i++) {
		const cprof_location *l = &p->locations.v[locs[i]];
		if (l->nline == 0) {
			rt_buf_printf(o, "%s\n\t?:0 pc=%#llx\n",
				      l->address ? "?" : "[no stack]", (unsigned long long)l->address);
			continue;
		}
		for (uint32_t k = 0; k < l->nline; k++) {
			const cprof_line *ln = &p->lines.v[l->line_off + k];
			const cprof_function *fn = &p->functions.v[ln->function];
			const char *file = cprof_s(p, fn->filename);
			rt_buf_printf(o, "%s(...)\n\t%s:%lld pc=%#llx\n", cprof_s(p, fn->name),
				      *file ? file : "?", (long long)ln->line,
				      (unsigned long long)l->address);
		}
	}
}

static void print_created_by(rt_buf *o, const cprof_profile *p, uint32_t stack, int ctid)
{
	if (cprof_stack_len(p, stack) == 0)
		return;
	const cprof_location *l = &p->locations.v[cprof_stack_locs(p, stack)[0]];
	const char *fname = "?", *file = "?";
	long long line = 0;
	if (l->nline > 0) {
		const cprof_line *ln = &p->lines.v[l->line_off];
		const cprof_function *fn = &p->functions.v[ln->function];
		fname = cprof_s(p, fn->name);
		if (*cprof_s(p, fn->filename))
			file = cprof_s(p, fn->filename);
		line = ln->line;
	}
	rt_buf_printf(o, "created by %s in thread %d\n\t%s:%lld pc=%#llx\n", fname, ctid, file, line,
		      (unsigned long long)l->address);
}

static int render_dump(const rt_snapshot *s, const built *bt, rt_buf *o)
{
	const cprof_profile *p = bt->p;
	for (size_t i = 0; i < s->n; i++) {
		const rt_tsnap *t = &s->t[i];
		rt_buf_printf(o, "thread %d [%s", t->tid, t->state);
		if (t->wait_ns >= 0) {
			char d[32];
			rt_fmt_duration(t->wait_ns, d, sizeof d);
			rt_buf_printf(o, ", %s", d);
		}
		rt_buf_printf(o, "]:\nname: %s\n", t->name);
		if (bt->ulset[i] > 0) {
			rt_buf_printf(o, "labels: ");
			print_labels(o, p, (uint32_t)bt->ulset[i]);
			rt_buf_printf(o, "\n");
		}
		print_frames(o, p, (uint32_t)bt->stack[i]);
		if (t->truncated)
			rt_buf_printf(o, "...additional frames elided...\n");
		if (bt->cstack[i] >= 0) {
			const rt_tinfo *inf = rt_tinfo_find(s->info, s->ninfo, t->tid);
			print_created_by(o, p, (uint32_t)bt->cstack[i], inf ? inf->creator_tid : 0);
		}
		rt_buf_printf(o, "\n");
	}
	return o->oom ? CPROF_ERR_NOMEM : 0;
}

/* CPROF_THREADS_RUNTIME=1: every threads profile lists the runtime's own
 * threads (read once). */
static bool env_runtime(void)
{
	static _Atomic int v = -1;
	int x = atomic_load(&v);
	if (x < 0) {
		const char *e = getenv("CPROF_THREADS_RUNTIME");
		x = e && (strcmp(e, "1") == 0 || strcmp(e, "true") == 0 || strcmp(e, "yes") == 0);
		atomic_store(&v, x);
	}
	return x;
}

static int threads_profile(int debug, rt_buf *out, cprof_profile **pout)
{
	rt_snapshot s;
	bool with_runtime = (debug & RT_DEBUG_RUNTIME) || env_runtime();
	debug &= ~RT_DEBUG_RUNTIME;
	int rc = rt_snapshot_take_all(&s, with_runtime);
	if (rc < 0)
		return rc;
	built bt;
	rc = build_snapshot(&s, &bt);
	if (rc < 0) {
		rt_snapshot_free(&s);
		rt_set_error("cannot build the threads profile: out of memory");
		return rc;
	}
	if (pout) {
		*pout = bt.p;
		bt.p = NULL;
	} else if (debug <= 0) {
		rc = rt_pb_encode(bt.p, out);
	} else if (debug == 1) {
		rc = render_count_text(bt.p, "threads", out);
	} else {
		rc = render_dump(&s, &bt, out);
	}
	built_free(&bt);
	rt_snapshot_free(&s);
	if (rc < 0)
		rt_set_error("cannot write the threads profile: out of memory");
	return rc;
}

int rt_threads_render(int debug, rt_buf *out)
{
	return threads_profile(debug, out, NULL);
}

int rt_threads_build(cprof_profile **out)
{
	return threads_profile(0, NULL, out);
}

/* ---- threadcreate ----------------------------------------------------------------------------- */

typedef struct tc_copy {
	CPROF_VEC(uintptr_t) pcs;
	CPROF_VEC(int) n;
	CPROF_VEC(uint64_t) count;
	bool oom;
} tc_copy;

static void tc_collect(void *ctx, const uintptr_t *pcs, int n, uint64_t count)
{
	tc_copy *c = ctx;
	if (c->oom)
		return;
	if (cprof_reserve((void **)&c->pcs.v, &c->pcs.cap, c->pcs.n + (size_t)n + 1, sizeof(uintptr_t)) < 0 ||
	    cprof_reserve((void **)&c->n.v, &c->n.cap, c->n.n + 1, sizeof(int)) < 0 ||
	    cprof_reserve((void **)&c->count.v, &c->count.cap, c->count.n + 1, sizeof(uint64_t)) < 0) {
		c->oom = true;
		return;
	}
	if (n)
		memcpy(c->pcs.v + c->pcs.n, pcs, (size_t)n * sizeof *pcs);
	c->pcs.n += (size_t)n;
	c->n.v[c->n.n++] = n;
	c->count.v[c->count.n++] = count;
}

static int threadcreate_profile(cprof_profile **out)
{
	tc_copy c = { 0 };
	rt_modules_init();
	rt_self_enter();
	rt_threadcreate_each(tc_collect, &c);
	rt_self_leave();
	cprof_profile *p = cprof_profile_new();
	rt_pb *b = p && !c.oom ? rt_pb_new(p) : NULL;
	int rc = b ? 0 : CPROF_ERR_NOMEM;
	if (rc == 0) {
		rc = rt_pb_count_head(p, "threadcreate");
		size_t off = 0;
		for (size_t i = 0; i < c.n.n && rc == 0; i++) {
			int n = c.n.v[i];
			int k = skip_create_wrappers(c.pcs.v + off, n);
			int64_t st = n ? rt_pb_stack(b, c.pcs.v + off + k, (size_t)(n - k))
				       : rt_pb_pseudo(b, "[threads past the table's bound]");
			off += (size_t)n;
			int64_t v = (int64_t)c.count.v[i];
			if (st < 0 || cprof_add_sample(p, (uint32_t)st, 0, &v) < 0)
				rc = CPROF_ERR_NOMEM;
		}
		if (rc == 0 && rt_pb_finish(b) < 0)
			rc = CPROF_ERR_NOMEM;
	}
	rt_pb_free(b);
	free(c.pcs.v);
	free(c.n.v);
	free(c.count.v);
	if (rc < 0) {
		cprof_profile_free(p);
		rt_set_error("cannot build the threadcreate profile: out of memory");
		return rc;
	}
	*out = p;
	return 0;
}

int rt_threadcreate_render(int debug, rt_buf *out)
{
	cprof_profile *p;
	int rc = threadcreate_profile(&p);
	if (rc < 0)
		return rc;
	rc = debug <= 0 ? rt_pb_encode(p, out) : render_count_text(p, "threadcreate", out);
	cprof_profile_free(p);
	if (rc < 0)
		rt_set_error("cannot write the threadcreate profile: out of memory");
	return rc;
}

int rt_threadcreate_build(cprof_profile **out)
{
	return threadcreate_profile(out);
}
