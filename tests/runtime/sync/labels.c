/*
 * labels.c - labels on samples (issue 6): worker threads serve two kinds
 * of request, each inside cprof_do("request" = "fast" / "slow").  Both
 * kinds take a shared mutex (slow requests hold it across a sleep, so
 * their unlocks are charged with the waiting of the others) and burn CPU
 * in their own function (burn_fast, burn_slow).  Then a thread created
 * inside cprof_do("job" = "inherit", CPROF_LABELS_INHERIT) and one created
 * inside cprof_do("job" = "plain") without it burn CPU in child_inherit
 * and child_plain.  The C API is checked on the way (values, nesting, the
 * wrong scope refused); the program prints "api: ..." lines and writes
 * DIR/cpu.pb.gz, DIR/mutex.pb.gz, DIR/mutex.txt, DIR/block.pb.gz and
 * DIR/block.txt.
 *
 *   labels DIR
 */
#define _GNU_SOURCE
#include <cprof.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile double sink;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* distinct constants: identical bodies would be folded into one function */
#define BURN(name, k) \
	__attribute__((noinline)) static void name(double secs) \
	{ \
		double end = cpu_now() + secs, x = 0; \
		while (cpu_now() < end) \
			for (int i = 0; i < 1000; i++) \
				x += i * k; \
		sink += x; \
	}
BURN(burn_fast, 0.5)
BURN(burn_slow, 0.25)
BURN(child_inherit, 0.125)
BURN(child_plain, 0.0625)

static void nap(long ns)
{
	struct timespec ts = { 0, ns };
	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void serve_fast(void *p)
{
	(void)p;
	pthread_mutex_lock(&mu);
	pthread_mutex_unlock(&mu);
	burn_fast(0.003);
}

__attribute__((noinline)) static void serve_slow(void *p)
{
	(void)p;
	pthread_mutex_lock(&mu);
	nap(400000);
	pthread_mutex_unlock(&mu);
	burn_slow(0.008);
}

static void *worker(void *p)
{
	(void)p;
	static const char *fast[] = { "request", "fast" };
	static const char *slow[] = { "request", "slow" };
	for (int i = 0; i < 30; i++) {
		cprof_do(fast, 1, 0, serve_fast, NULL);
		cprof_do(slow, 1, 0, serve_slow, NULL);
	}
	return NULL;
}

static void *inherit_main(void *p)
{
	const char *v = cprof_label_value("job");
	printf("api: child %s sees job=%s\n", (const char *)p, v ? v : "(none)");
	if (strcmp(p, "inherit") == 0)
		child_inherit(0.15);
	else
		child_plain(0.15);
	return NULL;
}

static void spawn(void *p)
{
	pthread_t t;
	pthread_create(&t, NULL, inherit_main, p);
	pthread_join(t, NULL);
}

/* One fast request that surely waits: it starts while main holds mu, and
 * main lets go only once it is about to lock (however loaded the machine,
 * the workers' fast requests may all find mu free). */
static _Atomic int fast_ready;

static void *fast_waiter(void *p)
{
	(void)p;
	static const char *fast[] = { "request", "fast" };
	fast_ready = 1;
	cprof_do(fast, 1, 0, serve_fast, NULL);
	return NULL;
}

static void one_fast_wait(void)
{
	pthread_t t;
	pthread_mutex_lock(&mu);
	pthread_create(&t, NULL, fast_waiter, NULL);
	while (!fast_ready)
		nap(100000);
	nap(20000000);   /* 20 ms: long enough for it to be in the lock */
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
}

static void write_to(const char *dir, const char *name, int (*fn)(int, int), int debug)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = fd < 0 ? -1 : fn(fd, debug);
	if (rc < 0)
		printf("api: writing %s failed: %s\n", name, cprof_last_error());
	close(fd);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	char cpu[4096];
	snprintf(cpu, sizeof cpu, "%s/cpu.pb.gz", argv[1]);
	cprof_cpu_set_rate(1000);
	cprof_mutex_set_fraction(1);
	cprof_block_set_rate(1);
	if (cprof_cpu_start(cpu) < 0) {
		printf("api: cpu start failed: %s\n", cprof_last_error());
		return 1;
	}

	/* the API */
	const char *a[] = { "k", "outer", "x", "1" };
	const char *b[] = { "k", "inner" };
	cprof_labels_scope s1, s2;
	printf("api: before=%s\n", cprof_label_value("k") ? "set" : "none");
	cprof_labels_push(a, 2, 0, &s1);
	printf("api: outer k=%s x=%s\n", cprof_label_value("k"), cprof_label_value("x"));
	cprof_labels_push(b, 1, 0, &s2);
	printf("api: inner k=%s x=%s\n", cprof_label_value("k"), cprof_label_value("x"));
	printf("api: pop outer first=%d\n", cprof_labels_pop(&s1));
	printf("api: pop inner=%d\n", cprof_labels_pop(&s2));
	printf("api: after inner k=%s\n", cprof_label_value("k"));
	printf("api: pop outer=%d\n", cprof_labels_pop(&s1));
	printf("api: after=%s\n", cprof_label_value("k") ? "set" : "none");

	one_fast_wait();
	pthread_t w[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);

	static const char *inh[] = { "job", "inherit" };
	static const char *pl[] = { "job", "plain" };
	cprof_do(inh, 1, CPROF_LABELS_INHERIT, spawn, "inherit");
	cprof_do(pl, 1, 0, spawn, "plain");

	if (cprof_cpu_stop() < 0)
		printf("api: cpu stop failed: %s\n", cprof_last_error());
	write_to(argv[1], "mutex.pb.gz", cprof_mutex_write, 0);
	write_to(argv[1], "mutex.txt", cprof_mutex_write, 1);
	write_to(argv[1], "block.pb.gz", cprof_block_write, 0);
	write_to(argv[1], "block.txt", cprof_block_write, 1);
	return 0;
}
