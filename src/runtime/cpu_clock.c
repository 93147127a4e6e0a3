/*
 * cpu_clock.c - each profiled thread's sampling clock: a perf_event
 * task-clock counter where the kernel allows one, a POSIX CPU timer
 * otherwise, both drawing every next interval at random and telling the
 * handler how much CPU time the sample stands for.
 *
 * Why two clocks.  A POSIX timer on a thread's CPU clock is checked at the
 * kernel's tick: it fires at the first tick after the thread has used the
 * period, so every sample lands on a tick.  A program whose work repeats
 * with a period sharing a divisor with the tick (a 10 ms frame loop against
 * a 4 ms tick) is then only ever seen at a few phases of its cycle and some
 * functions are never sampled; a thread that lives less than a tick is
 * rarely seen.  A perf_event software task-clock counter with a sampling
 * period overflows on a high-resolution timer that runs while the thread
 * runs, exactly when the thread has used the period, tick or not.  It needs
 * perf_event_open for the process's own threads (perf_event_paranoid <= 2,
 * or CAP_PERFMON) and one file descriptor per thread, so it is used where
 * the kernel allows it and the descriptor budget lasts (a quarter of the
 * soft RLIMIT_NOFILE, at most RT_PERF_FD_MAX); other threads get timers.
 * CPROF_CPU_MODE=auto (default), perf or timer chooses.
 *
 * No aliasing.  Each next interval is drawn uniformly from [P/2, 3P/2)
 * (mean P, the period the rate asks for), so the sampling instants drift
 * over any period the program has.  A sample then stands for the CPU time
 * the thread really used since its previous sample: the counter's value
 * (perf) or the thread's CPU clock (timers) minus the last one seen, kept
 * in the thread's TLS.  Totals are exact up to each thread's last partial
 * interval, which rt_cpu_thread_exit adds when a thread ends (attributed to
 * its start routine: its stack at that moment is the exit path).  A timer
 * thread's first sample of a session stands for P (its TLS has no earlier
 * reading; the first expiry is drawn from the same distribution, so the
 * estimate is unbiased); a perf thread's counter starts at 0, so it is
 * exact from the first.
 *
 * Signals.  Both clocks deliver rt_cpu_clock_sig to their thread: SIGPROF,
 * or the real-time signal cpu.c moved them to when the program took
 * SIGPROF (rt_clock_src_resignal re-aims a clock: F_SETSIG on a counter;
 * a timer, whose signal is fixed, is made again).  Timers carry the
 * session number in si_value (SI_TIMER); perf counters arrive as POLL_HUP
 * with si_fd, and fd_gen[fd] holds the session that owns the descriptor
 * (0: not ours), so a signal from a descriptor the program reused is never
 * taken for a sample.  A counter is armed for one overflow
 * (PERF_EVENT_IOC_REFRESH 1) and re-armed by the handler with its next
 * period.  Everything the handler calls here is a raw system call on the
 * thread's own clock: async-signal-safe, no locks, no allocation.
 *
 * Descriptors.  The program may close or reuse any descriptor (close_range,
 * dup2 onto a low number).  Each counter is moved above FD_SETSIZE (or
 * above half the soft descriptor limit when that is at most twice
 * FD_SETSIZE; not higher, since every fork copies the descriptor table up
 * to its highest open descriptor), close-on-exec, and its kernel event id
 * (PERF_EVENT_IOC_ID) is kept: a descriptor is closed only if it still
 * answers with that id.
 */
#include "rt_base.h"
#include "rt_cpu.h"
#include "cprof.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

#define FD_TABLE 65536u        /* descriptors a counter may have: below this */

static _Atomic uint32_t *fd_gen;       /* mmap'd FD_TABLE entries, kept for life */
static _Atomic int mode_cfg = RT_CPU_MODE_AUTO;
static _Atomic int perf_ok = -1;       /* probe: -1 unknown, 0 refused, 1 allowed */
static _Atomic int perf_refused_errno;
static _Atomic int perf_fds;           /* counters open now */
static int perf_budget;                /* at most this many */
static int fd_floor;                   /* counters are moved to >= this */
static long cur_period;                /* the mean interval of this session, ns */

_Atomic uint64_t rt_cpu_threads_perf, rt_cpu_threads_timer;
_Atomic int rt_cpu_clock_sig = SIGPROF;
_Atomic uint64_t rt_cpu_tail_ns, rt_cpu_tail_samples;

/* The thread's last reading and the session it belongs to. */
static TLS uint32_t tls_gen;
static TLS uint64_t tls_last;         /* counter value or thread CPU clock, ns */
static TLS uint64_t tls_rng;
static TLS int tls_fd = -1;         /* the counter's descriptor, -1: a timer */

/* ---- random intervals ------------------------------------------------------------ */

/* xorshift64*, per thread (TLS), seeded from the clock and the thread. [AS-safe] */
static uint64_t rnd(void)
{
	uint64_t x = tls_rng;
	if (!x)
		x = ((uint64_t)rt_clock_ns_sig(CLOCK_MONOTONIC) ^ ((uint64_t)syscall(SYS_gettid) << 32)) | 1;
	x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
	tls_rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* The next interval: uniform in [P/2, 3P/2). [AS-safe] */
static uint64_t next_interval(long period)
{
	uint64_t p = (uint64_t)(period > 1 ? period : 2);
	return p / 2 + rnd() % p;
}

static struct timespec ts_of(uint64_t ns)
{
	struct timespec t = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	return t;
}

/* The calling thread's CPU time, ns (rt_clock_ns). [AS-safe] */
static uint64_t thread_cpu_ns(void)
{
	return (uint64_t)rt_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* ---- mode ------------------------------------------------------------------------- */

void rt_cpu_mode_set(int mode)
{
	atomic_store(&mode_cfg, mode);
}

static long perf_open(int tid, uint64_t first)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = first;
	a.disabled = 1;
	return syscall(SYS_perf_event_open, &a, (pid_t)tid, -1, -1, (unsigned long)PERF_FLAG_FD_CLOEXEC);
}

/* Can this process count its own threads' task clock?  Once. */
static bool perf_allowed(void)
{
	int ok = atomic_load(&perf_ok);
	if (ok >= 0)
		return ok;
	long fd = perf_open(0, 1000000);
	if (fd >= 0) {
		close((int)fd);
		ok = 1;
	} else {
		atomic_store(&perf_refused_errno, errno);
		ok = 0;
	}
	atomic_store(&perf_ok, ok);
	return ok;
}

int rt_cpu_clocks_begin(long period_ns)
{
	cur_period = period_ns;
	atomic_store(&rt_cpu_threads_perf, 0);
	atomic_store(&rt_cpu_threads_timer, 0);
	atomic_store(&rt_cpu_tail_ns, 0);
	atomic_store(&rt_cpu_tail_samples, 0);
	int m = atomic_load(&mode_cfg);
	if (m == RT_CPU_MODE_TIMER || !perf_allowed()) {
		if (m == RT_CPU_MODE_PERF) {
			rt_set_error("CPROF_CPU_MODE=perf: perf_event_open is refused (%s; "
				     "/proc/sys/kernel/perf_event_paranoid must be <= 2)",
				     strerror(atomic_load(&perf_refused_errno)));
			return CPROF_ERR_SYSTEM;
		}
		perf_budget = 0;
		return 0;
	}
	if (!fd_gen) {
		void *m2 = mmap(NULL, FD_TABLE * sizeof *fd_gen, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m2 == MAP_FAILED) {
			perf_budget = 0;
			return 0;
		}
		fd_gen = m2;
	}
	struct rlimit rl;
	long soft = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		soft = rl.rlim_cur == RLIM_INFINITY ? (long)FD_TABLE : (long)rl.rlim_cur;
	if (soft > (long)FD_TABLE)
		soft = FD_TABLE;
	perf_budget = (int)(soft / 4);
	if (perf_budget > RT_PERF_FD_MAX)
		perf_budget = RT_PERF_FD_MAX;
	/* above FD_SETSIZE (select's programs never meet them), but no
	 * higher: a fork copies the descriptor table up to its highest open
	 * descriptor, and a counter at half of a 20,000 limit made every fork
	 * of a profiled program copy 10,000 entries (dup_fd: 10 % of a fork
	 * loop's CPU) */
	fd_floor = soft > 2 * FD_SETSIZE ? FD_SETSIZE : (int)(soft / 2);
	return 0;
}

const char *rt_cpu_mode_name(void)
{
	uint64_t p = atomic_load(&rt_cpu_threads_perf), t = atomic_load(&rt_cpu_threads_timer);
	if (p && !t)
		return "perf_event task-clock";
	if (p && t)
		return "perf_event task-clock, POSIX CPU timers past the descriptor budget";
	return "POSIX CPU timers";
}

/* ---- one thread's clock ------------------------------------------------------------ */

static int timer_create_for(int tid, long period_ns, rt_clock_src *out)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = atomic_load(&rt_cpu_clock_sig);
	sev.sigev_value.sival_int = (int)atomic_load(&rt_cpu_gen);
	sev._sigev_un._tid = tid;
	/* the kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) */
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6u);
	int id = -1;
	if (syscall(SYS_timer_create, clk, &sev, &id) != 0)
		return CPROF_ERR_SYSTEM;
	struct itimerspec its;
	its.it_interval = ts_of((uint64_t)period_ns);
	its.it_value = ts_of(next_interval(period_ns));
	if (syscall(SYS_timer_settime, id, 0, &its, NULL) != 0) {
		syscall(SYS_timer_delete, id);
		return CPROF_ERR_SYSTEM;
	}
	out->kind = RT_SRC_TIMER;
	out->id = id;
	out->perf_id = 0;
	atomic_fetch_add(&rt_cpu_threads_timer, 1);
	return 0;
}

/* A counter for tid delivering SIGPROF to it, or -1 (then a timer). */
static int perf_create_for(int tid, long period_ns, rt_clock_src *out)
{
	if (atomic_fetch_add(&perf_fds, 1) >= perf_budget) {
		atomic_fetch_sub(&perf_fds, 1);
		return -1;
	}
	/* the first overflow anywhere in one period, so threads started
	 * together do not fire together */
	uint64_t first = 1 + rnd() % (uint64_t)period_ns;
	long fd0 = perf_open(tid, first);
	if (fd0 < 0)
		goto fail;
	int fd = (int)fd0;
	if (fd < fd_floor) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, fd_floor);
		if (hi >= 0) {
			close(fd);
			fd = hi;
		}
	}
	uint64_t id = 0;
	struct f_owner_ex own = { F_OWNER_TID, tid };
	if (fd >= (int)FD_TABLE || ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0 ||
	    fcntl(fd, F_SETOWN_EX, &own) != 0 || fcntl(fd, F_SETSIG, atomic_load(&rt_cpu_clock_sig)) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) != 0) {
		close(fd);
		goto fail;
	}
	atomic_store_explicit(&fd_gen[fd], atomic_load(&rt_cpu_gen), memory_order_release);
	if (ioctl(fd, PERF_EVENT_IOC_REFRESH, 1) != 0) {
		atomic_store(&fd_gen[fd], 0);
		close(fd);
		goto fail;
	}
	out->kind = RT_SRC_PERF;
	out->id = fd;
	out->perf_id = id;
	atomic_fetch_add(&rt_cpu_threads_perf, 1);
	return 0;
fail:
	atomic_fetch_sub(&perf_fds, 1);
	return -1;
}

int rt_clock_src_create(int tid, rt_clock_src *out)
{
	long period = cur_period > 0 ? cur_period : 10000000L;
	if (perf_budget > 0 && fd_gen && perf_create_for(tid, period, out) == 0)
		return 0;
	return timer_create_for(tid, period, out);
}

void rt_clock_src_delete(const rt_clock_src *s)
{
	int e = errno;
	if (s->kind == RT_SRC_TIMER) {
		syscall(SYS_timer_delete, s->id);
	} else if (s->kind == RT_SRC_PERF) {
		int fd = s->id;
		atomic_store_explicit(&fd_gen[fd], 0, memory_order_release);
		uint64_t id = 0;
		/* still ours?  The program may have closed it and reused the number. */
		if (ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0 && id == s->perf_id)
			close(fd);
		atomic_fetch_sub(&perf_fds, 1);
	}
	errno = e;
}

void rt_clock_src_resignal(int tid, rt_clock_src *s)
{
	int e = errno;
	int sig = atomic_load(&rt_cpu_clock_sig);
	if (s->kind == RT_SRC_PERF) {
		uint64_t id = 0;
		if (ioctl(s->id, PERF_EVENT_IOC_ID, &id) == 0 && id == s->perf_id)
			(void)fcntl(s->id, F_SETSIG, sig);
	} else if (s->kind == RT_SRC_TIMER) {
		/* a timer's signal is fixed at its creation */
		syscall(SYS_timer_delete, s->id);
		atomic_fetch_sub(&rt_cpu_threads_timer, 1);
		long period = cur_period > 0 ? cur_period : 10000000L;
		if (timer_create_for(tid, period, s) != 0)
			s->kind = 0;   /* the thread may have exited meanwhile */
	}
	errno = e;
}

/* A forked child inherits the parent's counters' descriptors (the events
 * stay the parent threads'): close them without touching the events. */
void rt_clock_src_forget(const rt_clock_src *s)
{
	if (s->kind != RT_SRC_PERF)
		return;
	int e = errno;
	uint64_t id = 0;
	atomic_store_explicit(&fd_gen[s->id], 0, memory_order_relaxed);
	if (ioctl(s->id, PERF_EVENT_IOC_ID, &id) == 0 && id == s->perf_id)
		close(s->id);
	errno = e;
}

void rt_clock_src_child_reset(void)
{
	if (atomic_load(&perf_fds))   /* a page written is a fault per fork */
		atomic_store(&perf_fds, 0);
}

/* ---- in the handler ------------------------------------------------------------------ */

bool rt_clock_src_fired(const siginfo_t *si, uint32_t gen, uint64_t *count, uint64_t *cpu_ns)
{
	uint64_t now, used;
	if (si->si_code == SI_TIMER) {
		if ((uint32_t)si->si_value.sival_int != gen)
			return false;
		*count = 1 + (uint64_t)(si->si_overrun > 0 ? si->si_overrun : 0);
		now = thread_cpu_ns();
		if (tls_gen == gen && now >= tls_last)
			used = now - tls_last;
		else
			used = *count * (uint64_t)cur_period;
		/* the next expiry at random; the interval stays as the fallback */
		struct itimerspec its;
		its.it_interval = ts_of((uint64_t)cur_period);
		its.it_value = ts_of(next_interval(cur_period));
		syscall(SYS_timer_settime, si->si_timerid, 0, &its, NULL);
		tls_fd = -1;
	} else if (si->si_code == POLL_HUP && fd_gen) {
		int fd = si->si_fd;
		if (fd < 0 || fd >= (int)FD_TABLE ||
		    atomic_load_explicit(&fd_gen[fd], memory_order_acquire) != gen)
			return false;
		now = 0;
		if (read(fd, &now, sizeof now) != (ssize_t)sizeof now)
			return false;
		used = tls_gen == gen && now >= tls_last ? now - tls_last : now;
		*count = 1;
		tls_fd = fd;
		uint64_t next = next_interval(cur_period);
		ioctl(fd, PERF_EVENT_IOC_PERIOD, &next);
		ioctl(fd, PERF_EVENT_IOC_REFRESH, 1);
	} else {
		return false;
	}
	tls_gen = gen;
	tls_last = now;
	*cpu_ns = used;
	return true;
}

/* ---- a thread's start and end ------------------------------------------------------- */

void rt_cpu_thread_begin(const rt_clock_src *src)
{
	/* a thread created during the session, its clock just made: every
	 * CPU nanosecond it uses from here is the session's */
	if (!atomic_load(&rt_cpu_on))
		return;
	tls_fd = src->kind == RT_SRC_PERF ? src->id : -1;
	tls_last = tls_fd >= 0 ? 0 : thread_cpu_ns();
	tls_gen = atomic_load(&rt_cpu_gen);
}

uint64_t rt_cpu_thread_unsampled(void)
{
	uint32_t gen = atomic_load(&rt_cpu_gen);
	if (!atomic_load(&rt_cpu_on) || tls_gen != gen)
		return 0;
	uint64_t now = 0;
	if (tls_fd >= 0) {
		if (atomic_load(&fd_gen[tls_fd]) != gen ||
		    read(tls_fd, &now, sizeof now) != (ssize_t)sizeof now)
			return 0;
	} else {
		now = thread_cpu_ns();
	}
	tls_gen = 0;
	return now > tls_last ? now - tls_last : 0;
}
