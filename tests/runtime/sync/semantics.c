/*
 * semantics.c - the interposed primitives behave exactly as libc's: this
 * program prints the result (return value, errno) of each case, and the
 * test compares its output bare and under LD_PRELOAD=libcprof.so.
 * Cases: error-checking, recursive and robust mutexes, timed and clock
 * variants (timeouts, invalid arguments), rwlock self-deadlock, condition
 * variables under heavy producer/consumer use, semaphores (timeout, EINTR
 * from a signal handler installed without SA_RESTART), join (self,
 * timeout), barriers, and cancellation of threads blocked in
 * pthread_cond_wait, sem_wait and pthread_join (cleanup handlers run, the
 * condition wait's mutex is held again in them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHOW(name, expr) do { errno = 0; int r_ = (expr); int e_ = errno; \
	printf("%-28s rc=%d errno=%s\n", name, r_, e_ ? strerrorname_np(e_) : "0"); } while (0)

static struct timespec in_ms(clockid_t c, long ms)
{
	struct timespec t;
	clock_gettime(c, &t);
	t.tv_nsec += ms * 1000000;
	t.tv_sec += t.tv_nsec / 1000000000;
	t.tv_nsec %= 1000000000;
	return t;
}

/* Holder threads say they hold their mutex (a fixed sleep in main was
 * not enough for a thread to start on a loaded machine). */
static sem_t holding;

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static void *hold_forever(void *p)
{
	(void)p;
	pthread_mutex_lock(&held);
	sem_post(&holding);
	pause();
	return NULL;
}

static pthread_mutex_t robust;
static void *die_holding(void *p)
{
	(void)p;
	pthread_mutex_lock(&robust);
	return NULL;
}

/* ---- producer/consumer on condition variables ---- */
#define QN 16
static int q[QN], qh, qt, qn;
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notfull = PTHREAD_COND_INITIALIZER, notempty = PTHREAD_COND_INITIALIZER;
static long consumed_sum;
#define ITEMS 100000

static void *producer(void *p)
{
	int base = (int)(long)p;
	for (int i = 0; i < ITEMS; i++) {
		pthread_mutex_lock(&qmu);
		while (qn == QN)
			pthread_cond_wait(&notfull, &qmu);
		q[qt] = base + (i & 1023);
		qt = (qt + 1) % QN;
		qn++;
		pthread_cond_signal(&notempty);
		pthread_mutex_unlock(&qmu);
	}
	return NULL;
}

static void *consumer(void *p)
{
	(void)p;
	long sum = 0;
	for (int i = 0; i < ITEMS; i++) {
		pthread_mutex_lock(&qmu);
		while (qn == 0)
			pthread_cond_wait(&notempty, &qmu);
		sum += q[qh];
		qh = (qh + 1) % QN;
		qn--;
		pthread_cond_signal(&notfull);
		pthread_mutex_unlock(&qmu);
	}
	pthread_mutex_lock(&qmu);
	consumed_sum += sum;
	pthread_mutex_unlock(&qmu);
	return NULL;
}

/* ---- cancellation ---- */
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static sem_t csem;
static volatile int cleanup_ran, cleanup_held_mutex;
static pthread_t sleeper;

static void cleanup_unlock(void *p)
{
	cleanup_ran++;
	cleanup_held_mutex = pthread_mutex_trylock(p) == EBUSY;  /* it is ours again */
	pthread_mutex_unlock(p);
}

static void *cancel_in_cond(void *p)
{
	(void)p;
	pthread_mutex_lock(&cmu);
	pthread_cleanup_push(cleanup_unlock, &cmu);
	for (;;)
		pthread_cond_wait(&ccv, &cmu);
	pthread_cleanup_pop(1);
	return NULL;
}

static void count_cleanup(void *p)
{
	(void)p;
	cleanup_ran++;
}

static void *cancel_in_sem(void *p)
{
	(void)p;
	pthread_cleanup_push(count_cleanup, NULL);
	sem_wait(&csem);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *sleep_long(void *p)
{
	(void)p;
	sleep(30);
	return NULL;
}

static void *cancel_in_join(void *p)
{
	(void)p;
	pthread_cleanup_push(count_cleanup, NULL);
	pthread_join(sleeper, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void cancel_case(const char *name, void *(*fn)(void *))
{
	pthread_t t;
	void *ret = NULL;
	cleanup_ran = 0;
	pthread_create(&t, NULL, fn, NULL);
	usleep(50000);
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("%-28s canceled=%d cleanup=%d\n", name, ret == PTHREAD_CANCELED, cleanup_ran);
}

/* ---- barrier ---- */
static pthread_barrier_t bar;
static int serial;
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;
static void *barrier_thread(void *p)
{
	(void)p;
	for (int i = 0; i < 100; i++) {
		int r = pthread_barrier_wait(&bar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
			pthread_mutex_lock(&smu);
			serial++;
			pthread_mutex_unlock(&smu);
		} else if (r != 0) {
			printf("barrier error %d\n", r);
		}
	}
	return NULL;
}

static pthread_mutex_t brief = PTHREAD_MUTEX_INITIALIZER;
static void *hold_briefly(void *p)
{
	(void)p;
	pthread_mutex_lock(&brief);
	sem_post(&holding);
	usleep(30000);
	pthread_mutex_unlock(&brief);
	return NULL;
}

static void on_alarm(int s) { (void)s; }

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_mutexattr_t a;
	pthread_mutex_t m;

	/* error-checking */
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&m, &a);
	SHOW("errorcheck lock", pthread_mutex_lock(&m));
	SHOW("errorcheck relock", pthread_mutex_lock(&m));
	SHOW("errorcheck unlock", pthread_mutex_unlock(&m));
	SHOW("errorcheck unlock again", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);

	/* recursive */
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m, &a);
	SHOW("recursive lock 1", pthread_mutex_lock(&m));
	SHOW("recursive lock 2", pthread_mutex_lock(&m));
	SHOW("recursive timedlock 3", ({ struct timespec t = in_ms(CLOCK_REALTIME, 10);
					 pthread_mutex_timedlock(&m, &t); }));
	SHOW("recursive unlock 1", pthread_mutex_unlock(&m));
	SHOW("recursive unlock 2", pthread_mutex_unlock(&m));
	SHOW("recursive unlock 3", pthread_mutex_unlock(&m));
	SHOW("recursive unlock 4", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);

	/* robust: the owner dies */
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &a);
	pthread_t t;
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	SHOW("robust lock (owner died)", pthread_mutex_lock(&robust));
	SHOW("robust consistent", pthread_mutex_consistent(&robust));
	SHOW("robust unlock", pthread_mutex_unlock(&robust));
	SHOW("robust lock again", pthread_mutex_lock(&robust));
	SHOW("robust unlock again", pthread_mutex_unlock(&robust));
	pthread_mutexattr_destroy(&a);

	/* timed and clock variants on a held mutex */
	sem_init(&holding, 0, 0);
	pthread_create(&t, NULL, hold_forever, NULL);
	sem_wait(&holding);
	SHOW("trylock held", pthread_mutex_trylock(&held));
	SHOW("timedlock timeout", ({ struct timespec x = in_ms(CLOCK_REALTIME, 20);
				     pthread_mutex_timedlock(&held, &x); }));
	SHOW("timedlock bad nsec", ({ struct timespec x = { 0, 2000000000L };
				      pthread_mutex_timedlock(&held, &x); }));
	SHOW("clocklock timeout", ({ struct timespec x = in_ms(CLOCK_MONOTONIC, 20);
				     pthread_mutex_clocklock(&held, CLOCK_MONOTONIC, &x); }));
	SHOW("clocklock bad clock", ({ struct timespec x = in_ms(CLOCK_MONOTONIC, 20);
				       pthread_mutex_clocklock(&held, 12345, &x); }));

	/* rwlocks */
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	SHOW("rw wrlock", pthread_rwlock_wrlock(&rw));
	SHOW("rw rdlock self", pthread_rwlock_rdlock(&rw));
	SHOW("rw wrlock self", pthread_rwlock_wrlock(&rw));
	SHOW("rw unlock", pthread_rwlock_unlock(&rw));
	SHOW("rw rdlock", pthread_rwlock_rdlock(&rw));
	SHOW("rw rdlock 2", pthread_rwlock_rdlock(&rw));
	SHOW("rw timedwrlock timeout", ({ struct timespec x = in_ms(CLOCK_REALTIME, 20);
					  pthread_rwlock_timedwrlock(&rw, &x); }));
	SHOW("rw clockwrlock timeout", ({ struct timespec x = in_ms(CLOCK_MONOTONIC, 20);
					  pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &x); }));
	SHOW("rw unlock 1", pthread_rwlock_unlock(&rw));
	SHOW("rw unlock 2", pthread_rwlock_unlock(&rw));

	/* condition variables: timeouts */
	pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	pthread_mutex_lock(&cm);
	SHOW("cond timedwait timeout", ({ struct timespec x = in_ms(CLOCK_REALTIME, 20);
					  pthread_cond_timedwait(&cv, &cm, &x); }));
	SHOW("cond clockwait timeout", ({ struct timespec x = in_ms(CLOCK_MONOTONIC, 20);
					  pthread_cond_clockwait(&cv, &cm, CLOCK_MONOTONIC, &x); }));
	SHOW("cond mutex still held", pthread_mutex_trylock(&cm));
	pthread_mutex_unlock(&cm);

	/* producer/consumer */
	pthread_t pc[4];
	for (int i = 0; i < 2; i++)
		pthread_create(&pc[i], NULL, producer, (void *)(long)(i * 100000));
	for (int i = 2; i < 4; i++)
		pthread_create(&pc[i], NULL, consumer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(pc[i], NULL);
	printf("%-28s sum=%ld\n", "producer/consumer", consumed_sum);

	/* semaphores */
	sem_t s;
	sem_init(&s, 0, 1);
	SHOW("sem_wait available", sem_wait(&s));
	SHOW("sem_trywait empty", sem_trywait(&s));
	SHOW("sem_timedwait timeout", ({ struct timespec x = in_ms(CLOCK_REALTIME, 20);
					 sem_timedwait(&s, &x); }));
	SHOW("sem_timedwait bad nsec", ({ struct timespec x = { 0, 2000000000L };
					  sem_timedwait(&s, &x); }));
	SHOW("sem_clockwait timeout", ({ struct timespec x = in_ms(CLOCK_MONOTONIC, 20);
					 sem_clockwait(&s, CLOCK_MONOTONIC, &x); }));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;   /* no SA_RESTART: sem_wait fails with EINTR */
	sigaction(SIGALRM, &sa, NULL);
	ualarm(30000, 30000);   /* again and again: the first may come before the wait */
	SHOW("sem_wait interrupted", sem_wait(&s));
	ualarm(0, 0);
	sem_post(&s);
	SHOW("sem_wait posted", sem_wait(&s));

	/* join */
	SHOW("join self", pthread_join(pthread_self(), NULL));
	pthread_create(&sleeper, NULL, sleep_long, NULL);
	SHOW("timedjoin timeout", ({ struct timespec x = in_ms(CLOCK_REALTIME, 20);
				     pthread_timedjoin_np(sleeper, NULL, &x); }));
	SHOW("clockjoin timeout", ({ struct timespec x = in_ms(CLOCK_MONOTONIC, 20);
				     pthread_clockjoin_np(sleeper, NULL, CLOCK_MONOTONIC, &x); }));

	/* barriers */
	pthread_barrier_init(&bar, NULL, 3);
	pthread_t bt[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&bt[i], NULL, barrier_thread, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(bt[i], NULL);
	printf("%-28s serial=%d\n", "barrier", serial);

	/* cancellation in blocking calls */
	sem_init(&csem, 0, 0);
	cancel_case("cancel in cond_wait", cancel_in_cond);
	printf("%-28s %d\n", "cond cleanup held mutex", cleanup_held_mutex);
	SHOW("cond mutex free after", pthread_mutex_trylock(&cmu));
	cancel_case("cancel in sem_wait", cancel_in_sem);
	cancel_case("cancel in join", cancel_in_join);

	/* errno across successful calls */
	errno = 1234;
	pthread_mutex_lock(&cm);
	pthread_mutex_unlock(&cm);
	sem_post(&s);
	sem_wait(&s);
	printf("%-28s %d\n", "errno kept", errno);
	/* and across a contended lock (the slow path) and a blocking sem_wait */
	pthread_create(&t, NULL, hold_briefly, NULL);
	sem_wait(&holding);
	errno = 4321;
	pthread_mutex_lock(&brief);
	pthread_mutex_unlock(&brief);
	pthread_join(t, NULL);
	printf("%-28s %d\n", "errno kept when contended", errno);
	return 0;
}
