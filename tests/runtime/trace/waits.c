/*
 * waits.c - deterministic waits for the execution trace's tests
 * (tests/e2e/test_trace.py).  Each scenario measures its own waits with
 * CLOCK_MONOTONIC around the blocking call and prints one line per wait:
 *
 *   wait TID KIND T0_NS T1_NS WAKER_TID
 *
 * (WAKER_TID 0: no waker to draw), which the test compares with the trace.
 *
 *   mutex  "holder" holds a mutex 200 ms while three "waiterN" threads
 *          wait for it; each waiter, once it has the lock, reads which
 *          thread unlocked it last (written by every unlocker just before
 *          its unlock): that thread is its waker.
 *   cond   "waiter" waits on a condition variable that "signaller"
 *          signals after 150 ms.
 *   pipe   120 ms in (the hooks then time calls with the time-stamp
 *          counter), two "readerN" threads block in read() on pipes that
 *          "writer" writes 100 ms and 200 ms later.
 *   sem    "waiter" waits on a semaphore that "poster" posts after 120 ms.
 *   sock   "receiver" blocks in recv() on a socketpair written 100 ms
 *          later; then the main thread waits in waitpid() for a child that
 *          sleeps 100 ms.
 *   region a thread runs two nested regions and a log line (API).
 *   pingpong  main and "ponger" pass a byte back and forth over two
 *          pipes 5,000 times, each waiting in poll(): many short waits.
 *   flood  200,000 log events (drops with a small CPROF_TRACE_BUF).
 *   flight FILE  under CPROF_TRACE_RING=1: mutex, 2.5 s, sem, then the
 *          flight recorder's contents written to FILE.
 *   all    mutex, cond, pipe and sem in turn.
 *   runnable  "waiter" (SCHED_IDLE, on CPU 0) waits on a condition
 *          variable; then two CPU hogs start on CPU 0 and it is signalled
 *          150 ms later: it waits for the CPU after its wake-up; it prints
 *          "runnable TID NS", the run_delay it read itself around the wait,
 *          and "woken TID NS", the time from the signal to its return from
 *          the wait (its wait for the CPU after the wake-up); each hog
 *          prints "hog TID T0 T1 NS", its run_delay over [T0, T1].
 *   closefds  two timed condition waits of the main thread around the
 *          program closing every descriptor and putting its own file on
 *          every number up to 2400; prints "closefds ok" when its file's
 *          offset and descriptors are untouched.
 *   burn   "burner" uses 300 ms of CPU time (its "wait" line is the
 *          interval it burned: CPU samples belong there).
 *   nbwrite  the main thread writes 1 MiB into an empty non-blocking pipe
 *          five times (long calls that cannot wait): "nbwrite TID T0 T1 N"
 *          each.
 *   nbflip  a non-blocking pipe's read end, read until the trace knows
 *          it cannot wait (its calls are then untimed), then made a
 *          blocking one, each way in turn: fcntl(F_SETFL), ioctl(FIONBIO),
 *          dup2 of a blocking pipe onto its number, close and a new pipe
 *          on the number, close_range and a new pipe; each time the main
 *          thread then blocks in read() until "writer" writes 80 ms later.
 *   nbflight FILE  under CPROF_TRACE_RING: nbflip, then the flight
 *          recorder's contents written to FILE.
 */
#define _GNU_SOURCE
#include <cprof.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static char lines[64][128];
static int nlines;

static void add_line(const char *line)
{
	int i = __atomic_fetch_add(&nlines, 1, __ATOMIC_RELAXED);
	if (i < 64)
		snprintf(lines[i], sizeof lines[i], "%s", line);
}

static void report(int tid, const char *kind, long long t0, long long t1, int waker)
{
	/* kept in memory, printed at the end: no stdio between the waits */
	int i = __atomic_fetch_add(&nlines, 1, __ATOMIC_RELAXED);
	if (i < 64)
		snprintf(lines[i], sizeof lines[i], "wait %d %s %lld %lld %d", tid, kind, t0, t1, waker);
}

/* ---- mutex ---- */
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static sem_t locked;
static volatile int last_unlocker;

static void *holder(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "holder");
	pthread_mutex_lock(&m);
	for (int i = 0; i < 3; i++)
		sem_post(&locked);
	usleep(200000);
	last_unlocker = gettid_();
	pthread_mutex_unlock(&m);
	return NULL;
}

static void *waiter(void *a)
{
	char name[16];
	snprintf(name, sizeof name, "waiter%d", (int)(long)a);
	pthread_setname_np(pthread_self(), name);
	sem_wait(&locked);
	usleep(10000 * (1 + (int)(long)a));   /* all three wait on m, in order */
	long long t0 = now();
	pthread_mutex_lock(&m);
	long long t1 = now();
	int w = last_unlocker;
	usleep(20000);                         /* hold it a while: the next waits */
	last_unlocker = gettid_();
	pthread_mutex_unlock(&m);
	report(gettid_(), "mutex", t0, t1, w);
	return NULL;
}

static void run_mutex(void)
{
	sem_init(&locked, 0, 0);
	pthread_t h, w[3];
	pthread_create(&h, NULL, holder, NULL);
	for (long i = 0; i < 3; i++)
		pthread_create(&w[i], NULL, waiter, (void *)i);
	pthread_join(h, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
}

/* ---- cond ---- */
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;
static volatile int signaller_tid;
static volatile long long signal_ns;   /* when the signaller signalled */

static void *cond_waiter(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "waiter");
	pthread_mutex_lock(&cm);
	long long t0 = now();
	while (!ready)
		pthread_cond_wait(&cv, &cm);
	long long t1 = now();
	pthread_mutex_unlock(&cm);
	report(gettid_(), "cond", t0, t1, signaller_tid);
	return NULL;
}

static void *signaller(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "signaller");
	signaller_tid = gettid_();
	usleep(150000);
	pthread_mutex_lock(&cm);
	ready = 1;
	signal_ns = now();
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&cm);
	return NULL;
}

static void run_cond(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, cond_waiter, NULL);
	usleep(20000);
	pthread_create(&b, NULL, signaller, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

/* ---- pipe ---- */
static int pfd[2][2];

static void *reader(void *a)
{
	int i = (int)(long)a;
	char name[16];
	snprintf(name, sizeof name, "reader%d", i);
	pthread_setname_np(pthread_self(), name);
	char c;
	long long t0 = now();
	ssize_t n = read(pfd[i][0], &c, 1);
	long long t1 = now();
	if (n == 1)
		report(gettid_(), "read", t0, t1, 0);
	return NULL;
}

static void *writer(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "writer");
	usleep(100000);
	if (write(pfd[0][1], "x", 1) != 1)
		abort();
	usleep(100000);
	if (write(pfd[1][1], "y", 1) != 1)
		abort();
	return NULL;
}

static void run_pipe(void)
{
	if (pipe(pfd[0]) || pipe(pfd[1]))
		abort();
	/* past the trace's first ticks: by then the hooks time calls with
	 * the time-stamp counter (its rate learnt), the path to check */
	usleep(120000);
	pthread_t r[2], w;
	for (long i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, (void *)i);
	pthread_create(&w, NULL, writer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	pthread_join(w, NULL);
}

/* ---- wfull: write and send blocked on full buffers until drained ---- */
#define WFULL_PIPE (1 << 20)
#define WFULL_SOCK (8 << 20)
static int wp[2], ws[2];

static void *filler(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "filler");
	static char buf[WFULL_PIPE];
	long long t0 = now();
	ssize_t n = write(wp[1], buf, sizeof buf);
	long long t1 = now();
	if (n == (ssize_t)sizeof buf)
		report(gettid_(), "write", t0, t1, 0);
	return NULL;
}

static void *sender(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "sender");
	static char buf[WFULL_SOCK];
	long long t0 = now();
	ssize_t n = send(ws[1], buf, sizeof buf, 0);
	long long t1 = now();
	if (n == (ssize_t)sizeof buf)
		report(gettid_(), "send", t0, t1, 0);
	return NULL;
}

static void drain(int fd, size_t total)
{
	static char buf[65536];
	while (total > 0) {
		ssize_t n = read(fd, buf, total < sizeof buf ? total : sizeof buf);
		if (n <= 0)
			abort();
		total -= (size_t)n;
	}
}

/* ---- nbwrite: writes that cannot wait (a non-blocking pipe), each
 * long enough (1 MiB copied into an empty 1 MiB pipe) to pass the
 * trace's threshold: they are the kernel's work, never a wait ---- */
static void run_nbwrite(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) || fcntl(p[1], F_SETPIPE_SZ, WFULL_PIPE) < WFULL_PIPE)
		abort();
	static char buf[WFULL_PIPE];
	memset(buf, 1, sizeof buf);
	for (int i = 0; i < 5; i++) {
		long long t0 = now();
		ssize_t n = write(p[1], buf, sizeof buf);
		long long t1 = now();
		char line[96];
		snprintf(line, sizeof line, "nbwrite %d %lld %lld %zd", gettid_(), t0, t1, n);
		add_line(line);
		drain(p[0], n > 0 ? (size_t)n : 0);
	}
}

/* ---- nbflip: a descriptor known non-blocking made blocking ---- */
static int flip_wr;

static void *late_writer(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "writer");
	usleep(80000);
	if (write(flip_wr, "x", 1) != 1)
		abort();
	return NULL;
}

/* a new pipe whose read end takes the number fd, just freed */
static int pipe_on(int fd)
{
	int q[2];
	if (pipe(q) || q[0] != fd) {
		fprintf(stderr, "nbflip: the new pipe is not on %d\n", fd);
		abort();
	}
	return q[1];
}

static void run_nbflip(void)
{
	for (int way = 0; way < 5; way++) {
		int p[2], b[2];
		char c;
		if (pipe2(p, O_NONBLOCK) || pipe(b))
			abort();
		for (int i = 0; i < 20; i++)   /* short calls: known non-blocking */
			if (read(p[0], &c, 1) != -1)
				abort();
		int off = 0, r = p[0];
		flip_wr = p[1];
		switch (way) {
		case 0:
			if (fcntl(r, F_SETFL, fcntl(r, F_GETFL) & ~O_NONBLOCK))
				abort();
			break;
		case 1:
			if (ioctl(r, FIONBIO, &off))
				abort();
			break;
		case 2:
			if (dup2(b[0], r) != r)
				abort();
			flip_wr = b[1];
			break;
		case 3:
			close(r);
			close(b[0]);
			close(b[1]);
			flip_wr = b[1] = pipe_on(r);
			b[0] = -1;
			break;
		case 4:
			if (close_range((unsigned)r, (unsigned)r, 0))
				abort();
			close(b[0]);
			close(b[1]);
			flip_wr = b[1] = pipe_on(r);
			b[0] = -1;
			break;
		}
		pthread_t w;
		pthread_create(&w, NULL, late_writer, NULL);
		long long t0 = now();
		ssize_t n = read(r, &c, 1);
		long long t1 = now();
		if (n == 1)
			report(gettid_(), "read", t0, t1, 0);
		pthread_join(w, NULL);
		close(r);
		close(p[1]);
		if (b[0] >= 0)
			close(b[0]);
		if (b[1] != p[1])
			close(b[1]);
	}
}

static void run_wfull(void)
{
	if (pipe(wp) || socketpair(AF_UNIX, SOCK_STREAM, 0, ws))
		abort();
	pthread_t f, s;
	pthread_create(&f, NULL, filler, NULL);
	pthread_create(&s, NULL, sender, NULL);
	usleep(200000);
	drain(wp[0], WFULL_PIPE);
	drain(ws[0], WFULL_SOCK);
	pthread_join(f, NULL);
	pthread_join(s, NULL);
}

/* ---- sock: recv on a socketpair, waitpid on a child ---- */
static int sp[2];

static void *receiver(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "receiver");
	char c;
	long long t0 = now();
	ssize_t n = recv(sp[0], &c, 1, 0);
	long long t1 = now();
	if (n == 1)
		report(gettid_(), "recv", t0, t1, 0);
	return NULL;
}

static void run_sock(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
		abort();
	pthread_t r;
	pthread_create(&r, NULL, receiver, NULL);
	usleep(100000);
	if (send(sp[1], "x", 1, 0) != 1)
		abort();
	pthread_join(r, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(100000);
		_exit(0);
	}
	int st;
	long long t0 = now();
	pid_t w = waitpid(pid, &st, 0);
	long long t1 = now();
	if (w == pid)
		report(gettid_(), "waitpid", t0, t1, 0);
}

/* ---- sem ---- */
static sem_t s;
static volatile int poster_tid;

static void *sem_waiter(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "waiter");
	long long t0 = now();
	sem_wait(&s);
	long long t1 = now();
	report(gettid_(), "semaphore", t0, t1, poster_tid);
	return NULL;
}

static void *poster(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "poster");
	poster_tid = gettid_();
	usleep(120000);
	sem_post(&s);
	return NULL;
}

static void run_sem(void)
{
	sem_init(&s, 0, 0);
	pthread_t a, b;
	pthread_create(&a, NULL, sem_waiter, NULL);
	pthread_create(&b, NULL, poster, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

/* ---- regions ---- */
static void inner(void *a)
{
	(void)a;
	cprof_region_begin("inner");
	usleep(30000);
	cprof_trace_log("step", "inner done");
	cprof_region_end("inner");
}

static void run_region(void)
{
	const char *kv[] = { "request", "42" };
	cprof_region_begin("outer");
	cprof_do(kv, 1, 0, inner, NULL);
	cprof_region_end("outer");
}

/* ---- burn: CPU samples at their times ---- */
static volatile double burn_sink;

static long long cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ns of this thread's CPU time (not wall time: a loaded machine) */
static __attribute__((noinline)) void burn_cpu(long long ns)
{
	long long end = cpu_now() + ns;
	while (cpu_now() < end)
		for (int i = 0; i < 10000; i++)
			burn_sink += i * 0.5;
}

static void *burner(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "burner");
	long long t0 = now();
	burn_cpu(300000000LL);
	report(gettid_(), "burn", t0, now(), 0);
	return NULL;
}

static void run_burn(void)
{
	pthread_t t;
	pthread_create(&t, NULL, burner, NULL);
	pthread_join(t, NULL);
}

/* ---- runnable: a SCHED_IDLE waiter behind CPU hogs on its CPU ---- */
static long long run_delay_now(void)
{
	char path[64], b[128];
	snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", gettid_());
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	b[n] = 0;
	unsigned long long run, delay;
	return sscanf(b, "%llu %llu", &run, &delay) == 2 ? (long long)delay : -1;
}

static void pin_cpu0(void)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

static volatile int hogs_stop, idle_waiting;

static void *hog(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "hog");
	pin_cpu0();
	long long r0 = run_delay_now(), t0 = now();
	while (!hogs_stop)
		burn_sink += 1;
	long long t1 = now(), r1 = run_delay_now();
	char line[128];
	snprintf(line, sizeof line, "hog %d %lld %lld %lld", gettid_(), t0, t1,
		 r0 >= 0 && r1 >= 0 ? r1 - r0 : -1);
	add_line(line);
	return NULL;
}

static void *idle_waiter(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "waiter");
	pin_cpu0();
	struct sched_param sp = { 0 };
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&cm);
	long long r0 = run_delay_now();
	long long t0 = now();
	idle_waiting = 1;
	long long r1 = -1;
	while (!ready) {
		pthread_cond_wait(&cv, &cm);
		r1 = run_delay_now();   /* at once: it may wait for the CPU again */
	}
	long long t1 = now();
	pthread_mutex_unlock(&cm);
	report(gettid_(), "cond", t0, t1, signaller_tid);
	char line[96];
	snprintf(line, sizeof line, "runnable %d %lld", gettid_(), r0 >= 0 && r1 >= 0 ? r1 - r0 : -1);
	add_line(line);
	snprintf(line, sizeof line, "woken %d %lld", gettid_(), t1 - signal_ns);
	add_line(line);
	return NULL;
}

static void run_runnable(void)
{
	pthread_t h[2], w, s;
	pthread_create(&w, NULL, idle_waiter, NULL);
	while (!idle_waiting)   /* it waits before the hogs take its CPU */
		usleep(1000);
	/* cm is free again only inside its pthread_cond_wait: the wait (and
	 * the trace's record of it) has begun */
	pthread_mutex_lock(&cm);
	pthread_mutex_unlock(&cm);
	usleep(10000);
	for (int i = 0; i < 2; i++)
		pthread_create(&h[i], NULL, hog, NULL);
	pthread_create(&s, NULL, signaller, NULL);
	pthread_join(w, NULL);
	pthread_join(s, NULL);
	hogs_stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(h[i], NULL);
}

/* ---- closefds: the program closes every descriptor, then fills the
 * numbers with its own file: the trace's schedstat descriptor must never
 * read into the program's file's offset nor close it ---- */
static void timed_cond_wait(long long ms)
{
	pthread_mutex_lock(&cm);
	struct timespec at;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += ms * 1000000LL;
	at.tv_sec += at.tv_nsec / 1000000000L;
	at.tv_nsec %= 1000000000L;
	long long t0 = now();
	while (pthread_cond_timedwait(&cv, &cm, &at) == 0)
		;
	report(gettid_(), "cond", t0, now(), 0);
	pthread_mutex_unlock(&cm);
}

static void run_closefds(void)
{
	timed_cond_wait(30);   /* the trace opens this thread's schedstat */
	/* the runtime's table builder ("cprof-tables") may be reading an ELF
	 * file for the stack just unwound: let it finish.  (It holds that
	 * descriptor unchecked: a program that closes every descriptor and
	 * opens a file meanwhile gets the same number, which the builder then
	 * closes -- seen with strace; not the trace's descriptor) */
	usleep(300000);
	syscall(SYS_close_range, 3U, ~0U, 0U);
	char path[] = "/tmp/cprof-closefds-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, "the program's data\n", 19) != 19 || lseek(fd, 5, SEEK_SET) != 5)
		abort();
	unlink(path);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int top = rl.rlim_cur > 2400 ? 2400 : (int)rl.rlim_cur - 1;
	for (int i = 3; i <= top; i++)
		if (i != fd)
			dup2(fd, i);
	timed_cond_wait(30);   /* the trace finds its number taken */
	bool ok = lseek(fd, 0, SEEK_CUR) == 5;
	for (int i = 3; i <= top; i++)
		ok = ok && fcntl(i, F_GETFD) >= 0;
	int i = __atomic_fetch_add(&nlines, 1, __ATOMIC_RELAXED);
	if (i < 64)
		snprintf(lines[i], sizeof lines[i], "closefds %s", ok ? "ok" : "broken");
}

/* ---- pingpong: many short waits ---- */
#define PINGPONG_ROUNDS 5000
static int pp[2][2];

/* poll, as an event loop waits (a read alone is not split) */
static bool poll_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, -1) == 1;
}

static void *ponger(void *a)
{
	(void)a;
	pthread_setname_np(pthread_self(), "ponger");
	char c;
	for (int i = 0; i < PINGPONG_ROUNDS; i++)
		if (!poll_in(pp[0][0]) || read(pp[0][0], &c, 1) != 1 || write(pp[1][1], &c, 1) != 1)
			abort();
	return NULL;
}

static void run_pingpong(void)
{
	if (pipe(pp[0]) || pipe(pp[1]))
		abort();
	pthread_t t;
	pthread_create(&t, NULL, ponger, NULL);
	char c = 'p';
	for (int i = 0; i < PINGPONG_ROUNDS; i++)
		if (write(pp[0][1], &c, 1) != 1 || !poll_in(pp[1][0]) || read(pp[1][0], &c, 1) != 1)
			abort();
	pthread_join(t, NULL);
	printf("pingpong %d\n", PINGPONG_ROUNDS);
}

/* ---- flood: more events than a small buffer holds ---- */
static void run_flood(void)
{
	for (int i = 0; i < 200000; i++)
		cprof_trace_log("flood", "an event");
}

/* the flight recorder's contents into path */
static bool write_flight(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || cprof_trace_flight_write(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "cprof_trace_flight_write: %s\n", cprof_last_error());
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "mutex";
	const char *api = argc > 2 ? argv[2] : NULL;   /* trace with the API to this file */
	if (!strcmp(what, "exec"))
		api = NULL;   /* argv[2...]: the program to become */
	if (api && strcmp(what, "flight") != 0 && strcmp(what, "nbflight") != 0 &&
	    cprof_trace_start(api) != 0) {
		fprintf(stderr, "cprof_trace_start: %s\n", cprof_last_error());
		return 1;
	}
	if (!strcmp(what, "mutex"))
		run_mutex();
	else if (!strcmp(what, "cond"))
		run_cond();
	else if (!strcmp(what, "pipe"))
		run_pipe();
	else if (!strcmp(what, "sem"))
		run_sem();
	else if (!strcmp(what, "pingpong"))
		run_pingpong();
	else if (!strcmp(what, "sock"))
		run_sock();
	else if (!strcmp(what, "wfull"))
		run_wfull();
	else if (!strcmp(what, "nbwrite"))
		run_nbwrite();
	else if (!strcmp(what, "region"))
		run_region();
	else if (!strcmp(what, "flood"))
		run_flood();
	else if (!strcmp(what, "burn"))
		run_burn();
	else if (!strcmp(what, "closefds"))
		run_closefds();
	else if (!strcmp(what, "runnable"))
		run_runnable();
	else if (!strcmp(what, "nbflip"))
		run_nbflip();
	else if (!strcmp(what, "nbflight")) {
		run_nbflip();
		if (!write_flight(argv[2]))
			return 1;
		api = NULL;
	}
	else if (!strcmp(what, "flight")) {
		/* CPROF_TRACE_RING=1: the mutex waits, then 2.5 s later the
		 * semaphore wait; the recorder must hold the latter only */
		run_mutex();
		usleep(2500000);
		run_sem();
		if (!write_flight(argv[2]))
			return 1;
		api = NULL;
	}
	else if (!strcmp(what, "exit")) {
		/* the mutex waits, then _exit: no atexit handler runs */
		run_mutex();
		for (int i = 0; i < nlines && i < 64; i++)
			printf("%s\n", lines[i]);
		fflush(stdout);
		_exit(0);
	}
	else if (!strcmp(what, "exec")) {
		/* the mutex waits, then this image becomes argv[2] (an exec
		 * that fails first: the trace goes on) */
		run_mutex();
		for (int i = 0; i < nlines && i < 64; i++)
			printf("%s\n", lines[i]);
		fflush(stdout);
		int done = nlines;
		execl("/nonexistent/cprof-test", "x", (char *)NULL);
		run_sem();
		for (int i = done; i < nlines && i < 64; i++)
			printf("%s\n", lines[i]);
		fflush(stdout);
		execv(argv[2], argv + 2);
		return 1;
	}
	else if (!strcmp(what, "all")) {
		run_mutex();
		run_cond();
		run_pipe();
		run_sem();
	}
	if (api && cprof_trace_stop() != 0) {
		fprintf(stderr, "cprof_trace_stop: %s\n", cprof_last_error());
		return 1;
	}
	for (int i = 0; i < nlines && i < 64; i++)
		printf("%s\n", lines[i]);
	return 0;
}
