/*
 * trace_switch.c - exact switch times for the execution trace: one
 * PERF_RECORD_SWITCH ring per program thread, drained by the trace's
 * runtime thread into the trace as batches of (time, in/out) records.
 *
 * Opt-in: CPROF_TRACE_SWITCH=1 (or rt_tsw_want from the endpoint's
 * ?switch=1).  Where perf_event_paranoid <= 2 (or with CAP_PERFMON) a
 * process may open perf events on its own threads.  Each ring is a
 * software dummy event with context_switch=1 on one thread (pid = its
 * tid, cpu -1, inherit off, user-space only, CLOCK_MONOTONIC stamps with
 * the record's thread and time), mapped with SW_PAGES data pages.  The
 * kernel writes one 24-byte record when the thread is switched out (flag
 * PREEMPT when it was still runnable: it waits for a CPU from then on;
 * without it, it blocked) and one when it is switched in.  The trace
 * turns them into running / runnable / blocked intervals (trace_json.c),
 * replacing schedstat's estimate where they are present.
 *
 * Descriptors: none kept.  The descriptor is closed as soon as the ring is
 * mapped: the mapping holds the event, which records on until the ring is
 * unmapped.  So the program never meets one of these descriptors (no
 * close_range or dup2 of the program can reach them, select is never
 * affected), a fork child inherits nothing (the kernel marks perf rings
 * VM_DONTCOPY) and an exec drops them with the address space.
 *
 * Who opens.  rt_tsw_begin, when a session starts (ordinary context, the
 * trace's mutex held): one ring for each thread in /proc/self/task but the
 * runtime's own.  rt_tsw_thread_begin, in each thread the program starts
 * later (threads.c's trampoline calls rt_trace_thread_start, which calls
 * it), for itself.  A thread that starts while a session stops may keep
 * its ring (36 KiB, and the kernel's two records per switch into a ring
 * nobody reads) until the next session starts: rt_tsw_begin unmaps every
 * ring left.  Refusal (EACCES or EPERM at paranoid 3 and 4, EPERM or
 * ENOSYS from a seccomp filter, ENOENT/EINVAL where the kernel lacks the
 * event, mmap refused past the locked-memory limit) is detected by a probe
 * on the calling thread at the session's start: one line on stderr says
 * why, and the trace keeps schedstat's runnable time.  A thread whose ring
 * cannot be made later (the locked-memory limit: perf_event_mlock_kb per
 * CPU, then RLIMIT_MEMLOCK) has none: its waits keep schedstat's split,
 * and the trace's metadata counts it.
 *
 * Threads and slots.  A fixed table of SW_SLOTS slots (mapped at first
 * use), each FREE -> BUSY (being filled or freed) -> LIVE -> GONE (its
 * thread ended: drained once more, then unmapped) -> FREE, changed with
 * compare-and-swap.  Program threads only claim a FREE slot (thread begin)
 * or mark their LIVE slot GONE (thread end): a few atomics and the perf
 * system calls, no lock, no allocation.  Draining, unmapping and the
 * table's mapping are the runtime's (drain_mu, never taken by a program
 * thread).  A slot that stays BUSY belongs to a thread between its
 * system calls; the drainer skips it.
 *
 * Draining.  rt_tsw_drain, from the trace's runtime thread every
 * SW_TICK_MS while a session runs and once more before a session stops:
 * for each ring, the records between its tail and the kernel's head are
 * copied out (a record may wrap around the ring's end), packed 8 bytes
 * each (time ns | kind << 62) and appended with rt_trace_switches; then
 * the tail is published so the kernel reuses the room.  A ring that
 * overflowed between drains gives a PERF_RECORD_LOST record: a LOST
 * marker goes into the trace (the state is unknown until the next
 * record) and the count into the metadata.  Never from a hook: a ring
 * is read only by this runtime thread or by the thread stopping the
 * session.
 *
 * Cost: the kernel writes 48 bytes per context switch per traced thread
 * (the program's threads pay that in the scheduler; a few hundred ns);
 * the runtime thread wakes every SW_TICK_MS; memory (1 + SW_PAGES) pages
 * per thread, locked.
 */
#include "trace_int.h"
#include "rt_base.h"
#include "cprof.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SW_SLOTS 4096
#define SW_PAGES 8            /* data pages per ring: 32 KiB, ~1,365 records */
#define SW_BATCH 256          /* records per appended event */

enum { SLOT_FREE, SLOT_BUSY, SLOT_LIVE, SLOT_GONE };

typedef struct slot {
	_Atomic int state;
	int tid;
	char *map;            /* 1 + SW_PAGES pages (LIVE, GONE) */
	uint64_t tail;        /* the drainer's read position */
} slot;

static slot *slots;                    /* SW_SLOTS, mapped once, kept */
static _Atomic int nused;              /* slots ever claimed: a bound for scans */
static _Atomic int want;               /* asked for (environment or endpoint) */
static _Atomic int asked;              /* want, when this session began */
static _Atomic int working;            /* the probe of this session succeeded */
static _Atomic uint64_t lost_records, threads_without;
static _Atomic int threads_with;
static pthread_mutex_t drain_mu = PTHREAD_MUTEX_INITIALIZER;
static char refused_why[160];          /* the last refusal, for the metadata */
static long page_size;

static size_t ring_len(void)
{
	return (size_t)(1 + SW_PAGES) * (size_t)page_size;
}

void rt_tsw_want(bool on)
{
	atomic_store(&want, on ? 1 : 0);
}

bool rt_tsw_wanted(void)
{
	return atomic_load(&want) != 0;
}

/* A ring on thread tid (0: the caller), or NULL with errno.  The
 * descriptor is gone on return.  Any context but a signal handler. */
static char *ring_open(int tid)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_DUMMY;
	a.context_switch = 1;
	a.sample_id_all = 1;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	/* never woken: the drainer polls the head */
	a.watermark = 1;
	a.wakeup_watermark = (uint32_t)(SW_PAGES * page_size);
	long fd = syscall(SYS_perf_event_open, &a, (pid_t)tid, -1, -1,
			  (unsigned long)PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *m = mmap(NULL, ring_len(), PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
	int err = errno;
	syscall(SYS_close, fd);   /* the mapping keeps the event */
	if (m == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	return m;
}

/* Claim a slot for tid's ring.  Lock-free (program threads call it). */
static void slot_put(int tid, char *map)
{
	int n = atomic_load(&nused);
	for (int i = 0; i < SW_SLOTS; i++) {
		int exp = SLOT_FREE;
		if (!atomic_compare_exchange_strong(&slots[i].state, &exp, SLOT_BUSY))
			continue;
		slots[i].tid = tid;
		slots[i].map = map;
		/* from the start of the ring: the records already there are this
		 * session's (the ring is new) */
		slots[i].tail = 0;
		while (i >= n && !atomic_compare_exchange_weak(&nused, &n, i + 1))
			;
		atomic_store_explicit(&slots[i].state, SLOT_LIVE, memory_order_release);
		atomic_fetch_add(&threads_with, 1);
		return;
	}
	munmap(map, ring_len());   /* table full: this thread has none */
	atomic_fetch_add(&threads_without, 1);
}

/* Does tid have a ring (LIVE or being filled)?  Lock-free. */
static bool slot_has(int tid)
{
	int n = atomic_load(&nused);
	for (int i = 0; i < n; i++) {
		int s = atomic_load_explicit(&slots[i].state, memory_order_acquire);
		if ((s == SLOT_LIVE || s == SLOT_BUSY) && slots[i].tid == tid)
			return true;
	}
	return false;
}

static void say_refused(int err)
{
	char par[16] = "?";
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/kernel/perf_event_paranoid",
			      O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t k = (ssize_t)syscall(SYS_read, fd, par, sizeof par - 1);
		syscall(SYS_close, fd);
		par[k > 0 ? k : 0] = 0;
		char *nl = strchr(par, '\n');
		if (nl)
			*nl = 0;
	}
	const char *name = strerrorname_np(err) ? strerrorname_np(err) : "error";
	if (err == ENOSYS || err == ENOENT || err == EOPNOTSUPP)
		snprintf(refused_why, sizeof refused_why,
			 "perf_event_open refused (%s: no perf events in this kernel)", name);
	else if (par[0] >= '3' && par[0] <= '9')
		snprintf(refused_why, sizeof refused_why,
			 "perf_event_open refused (%s; perf_event_paranoid is %s, must be <= 2)",
			 name, par);
	else
		snprintf(refused_why, sizeof refused_why,
			 "perf_event_open refused (%s with perf_event_paranoid %s: a seccomp "
			 "filter, a security module or the locked-memory limit)", name, par);
	fprintf(stderr, "cprof: CPROF_TRACE_SWITCH: %s; runnable time from schedstat\n",
		refused_why);
}

/* Everything unmapped (the session stopped).  drain_mu held. */
static void unmap_all(void)
{
	int n = atomic_load(&nused);
	for (int i = 0; i < n; i++) {
		int s = atomic_load(&slots[i].state);
		if ((s == SLOT_LIVE || s == SLOT_GONE) &&
		    atomic_compare_exchange_strong(&slots[i].state, &s, SLOT_BUSY)) {
			munmap(slots[i].map, ring_len());
			slots[i].map = NULL;
			atomic_store(&slots[i].state, SLOT_FREE);
		}
	}
}

int rt_tsw_begin(void)
{
	atomic_store(&working, 0);
	atomic_store(&lost_records, 0);
	atomic_store(&threads_without, 0);
	atomic_store(&threads_with, 0);
	atomic_store(&asked, atomic_load(&want));
	if (!atomic_load(&want))
		return 0;
	if (!page_size)
		page_size = sysconf(_SC_PAGESIZE);
	pthread_mutex_lock(&drain_mu);
	if (!slots) {
		void *m = mmap(NULL, SW_SLOTS * sizeof(slot), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			pthread_mutex_unlock(&drain_mu);
			snprintf(refused_why, sizeof refused_why, "no memory for the rings' table");
			fprintf(stderr, "cprof: CPROF_TRACE_SWITCH: %s; runnable time from schedstat\n",
				refused_why);
			return 0;
		}
		slots = m;
	}
	unmap_all();   /* rings of an earlier session's late threads */
	pthread_mutex_unlock(&drain_mu);
	/* the probe: may this process watch its own threads' switches? */
	char *probe = ring_open(0);
	if (!probe) {
		say_refused(errno);
		return 0;
	}
	munmap(probe, ring_len());
	refused_why[0] = 0;
	atomic_store(&working, 1);
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		int tid = atoi(de->d_name);
		if (rt_self_tid(tid) || slot_has(tid))
			continue;   /* the runtime's own threads never appear */
		char *m = ring_open(tid);
		if (m)
			slot_put(tid, m);
		else if (errno != ESRCH)
			atomic_fetch_add(&threads_without, 1);
	}
	closedir(d);
	return 0;
}

void rt_tsw_thread_begin(void)
{
	if (!atomic_load_explicit(&working, memory_order_relaxed) || !rt_trace_active())
		return;
	int tid = (int)syscall(SYS_gettid);
	if (rt_self_tid(tid) || slot_has(tid))
		return;
	int e = errno;
	char *m = ring_open(0);
	if (m)
		slot_put(tid, m);
	else
		atomic_fetch_add(&threads_without, 1);
	errno = e;
}

void rt_tsw_thread_end(void)
{
	if (!slots || !atomic_load_explicit(&nused, memory_order_relaxed))
		return;
	int tid = (int)syscall(SYS_gettid);
	int n = atomic_load(&nused);
	for (int i = 0; i < n; i++) {
		int s = SLOT_LIVE;
		if (slots[i].tid == tid &&
		    atomic_compare_exchange_strong(&slots[i].state, &s, SLOT_GONE))
			return;
	}
}

/* Copy len bytes at ring offset pos (wrapping) to dst. */
static void ring_copy(const char *data, uint64_t size, uint64_t pos, void *dst, size_t len)
{
	uint64_t off = pos % size;
	size_t first = (size_t)(size - off) < len ? (size_t)(size - off) : len;
	memcpy(dst, data + off, first);
	if (first < len)
		memcpy((char *)dst + first, data, len - first);
}

/* One ring's new records into the trace.  drain_mu held. */
static void drain_one(slot *s)
{
	struct perf_event_mmap_page *h = (struct perf_event_mmap_page *)(void *)s->map;
	const char *data = s->map + page_size;
	uint64_t size = (uint64_t)SW_PAGES * (uint64_t)page_size;
	uint64_t head = __atomic_load_n(&h->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = s->tail;
	if (head - tail > size)   /* cannot be: start over at the head */
		tail = head;
	uint64_t batch[SW_BATCH];
	int nb = 0;
	while (tail + sizeof(struct perf_event_header) <= head) {
		struct perf_event_header eh;
		ring_copy(data, size, tail, &eh, sizeof eh);
		if (eh.size < sizeof eh || tail + eh.size > head)
			break;
		unsigned char rec[64];
		size_t rl = eh.size < sizeof rec ? eh.size : sizeof rec;
		ring_copy(data, size, tail, rec, rl);
		uint64_t kind = UINT64_MAX, t = 0;
		if (eh.type == PERF_RECORD_SWITCH && rl >= sizeof eh + 16) {
			/* sample_id: pid, tid (u32 each), time */
			memcpy(&t, rec + sizeof eh + 8, 8);
			if (!(eh.misc & PERF_RECORD_MISC_SWITCH_OUT))
				kind = RT_TSW_IN;
			else if (eh.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
				kind = RT_TSW_PREEMPTED;
			else
				kind = RT_TSW_OUT;
		} else if (eh.type == PERF_RECORD_LOST && rl >= sizeof eh + 16 + 16) {
			uint64_t nlost;
			memcpy(&nlost, rec + sizeof eh + 8, 8);
			memcpy(&t, rec + sizeof eh + 16 + 8, 8);
			atomic_fetch_add(&lost_records, nlost);
			kind = RT_TSW_LOST;
		}
		if (kind != UINT64_MAX) {
			batch[nb++] = (t & RT_TSW_TIME_MASK) | (kind << 62);
			if (nb == SW_BATCH) {
				rt_trace_switches(s->tid, batch, nb);
				nb = 0;
			}
		}
		tail += eh.size;
	}
	if (nb)
		rt_trace_switches(s->tid, batch, nb);
	s->tail = tail;
	__atomic_store_n(&h->data_tail, tail, __ATOMIC_RELEASE);
}

void rt_tsw_drain(bool stopping)
{
	if (!slots || !atomic_load_explicit(&nused, memory_order_relaxed))
		return;
	pthread_mutex_lock(&drain_mu);
	int n = atomic_load(&nused);
	for (int i = 0; i < n; i++) {
		int st = atomic_load_explicit(&slots[i].state, memory_order_acquire);
		if (st == SLOT_LIVE) {
			drain_one(&slots[i]);
		} else if (st == SLOT_GONE &&
			   atomic_compare_exchange_strong(&slots[i].state, &st, SLOT_BUSY)) {
			drain_one(&slots[i]);
			munmap(slots[i].map, ring_len());
			slots[i].map = NULL;
			atomic_store(&slots[i].state, SLOT_FREE);
		}
	}
	if (stopping)
		unmap_all();
	pthread_mutex_unlock(&drain_mu);
}

void rt_tsw_info(rt_tsw_stats *out)
{
	*out = (rt_tsw_stats){ .wanted = atomic_load(&asked) != 0,
			       .working = atomic_load(&working) != 0,
			       .threads = atomic_load(&threads_with),
			       .threads_without = atomic_load(&threads_without),
			       .lost = atomic_load(&lost_records),
			       .refused = refused_why };
}

RT_FORK_TEXT void rt_tsw_forked(void)
{
	/* the child has none of the rings (VM_DONTCOPY) and one thread:
	 * forget the slots without unmapping anything */
	if (atomic_load(&working))
		atomic_store(&working, 0);
	int n = slots ? atomic_load(&nused) : 0;
	for (int i = 0; i < n; i++)
		if (atomic_load(&slots[i].state) != SLOT_FREE)
			atomic_store(&slots[i].state, SLOT_FREE);
	if (n)
		atomic_store(&nused, 0);
	static const pthread_mutex_t mu0 = PTHREAD_MUTEX_INITIALIZER;
	if (memcmp(&drain_mu, &mu0, sizeof mu0) != 0)
		pthread_mutex_init(&drain_mu, NULL);
}
