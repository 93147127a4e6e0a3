/*
 * deadlock.c - programs for the deadlock profile, found with dlsym (the
 * runtime is preloaded).  Writes OUTDIR/deadlock.txt (debug=1) and
 * OUTDIR/deadlock.pb.gz (debug=0), prints "written", and exits without
 * waiting for its stuck threads.
 *
 *   deadlock cycle OUTDIR     two threads take mutexes a and b in opposite
 *                             orders (lock_a_then_b, lock_b_then_a): a cycle
 *   deadlock healthy OUTDIR   workers share a mutex and a condition
 *                             variable correctly, and are busy at the time
 *   deadlock orphan OUTDIR    a thread exits holding a mutex (take_and_exit),
 *                             another waits on it for ever (wait_orphan)
 *   deadlock rwcycle OUTDIR   write-lock rw then mutex a (write_then_lock)
 *                             against a then rw (lock_then_write)
 *   deadlock self OUTDIR      a thread locks mutex a twice (relock)
 *   deadlock joins OUTDIR     two threads join each other (join_other)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long queue, done;
static _Atomic int stop;

__attribute__((noinline)) void lock_a_then_b(void)
{
	pthread_mutex_lock(&a);
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(&b);   /* never returns */
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
}

__attribute__((noinline)) void lock_b_then_a(void)
{
	pthread_mutex_lock(&b);
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(&a);   /* never returns */
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
}

static void *t_ab(void *x) { (void)x; lock_a_then_b(); return NULL; }
static void *t_ba(void *x) { (void)x; lock_b_then_a(); return NULL; }

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

__attribute__((noinline)) void write_then_lock(void)
{
	pthread_rwlock_wrlock(&rw);
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(&a);   /* never returns */
}

__attribute__((noinline)) void lock_then_write(void)
{
	pthread_mutex_lock(&a);
	pthread_barrier_wait(&bar);
	pthread_rwlock_wrlock(&rw);   /* never returns */
}

static void *t_wl(void *x) { (void)x; write_then_lock(); return NULL; }
static void *t_lw(void *x) { (void)x; lock_then_write(); return NULL; }

__attribute__((noinline)) void relock(void)
{
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&a);   /* a default mutex: never returns */
}
static void *t_relock(void *x) { (void)x; relock(); return NULL; }

static pthread_t ja, jb;
__attribute__((noinline)) void join_other(pthread_t *other)
{
	pthread_barrier_wait(&bar);
	pthread_join(*other, NULL);
}
static void *t_ja(void *x) { (void)x; join_other(&jb); return NULL; }
static void *t_jb(void *x) { (void)x; join_other(&ja); return NULL; }

__attribute__((noinline)) void take_and_exit(void)
{
	pthread_mutex_lock(&a);
}
static void *t_take(void *x) { (void)x; take_and_exit(); return NULL; }

__attribute__((noinline)) void wait_orphan(void)
{
	pthread_mutex_lock(&a);   /* its owner has exited */
}
static void *t_orphan(void *x) { (void)x; wait_orphan(); return NULL; }

static void *producer(void *x)
{
	(void)x;
	while (!stop) {
		pthread_mutex_lock(&mu);
		queue++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *consumer(void *x)
{
	(void)x;
	while (!stop) {
		pthread_mutex_lock(&mu);
		while (queue == 0 && !stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 5000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&cv, &mu, &ts);
		}
		if (queue)
			queue--, done++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int (*dw)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "cprof_deadlock_write");
	if (!dw) {
		fprintf(stderr, "cprof_deadlock_write not found: preload libcprof.so\n");
		return 2;
	}
	pthread_t t[8];
	if (strcmp(argv[1], "cycle") == 0) {
		pthread_barrier_init(&bar, NULL, 2);
		pthread_create(&t[0], NULL, t_ab, NULL);
		pthread_create(&t[1], NULL, t_ba, NULL);
		sleep_ms(300);
	} else if (strcmp(argv[1], "rwcycle") == 0) {
		pthread_barrier_init(&bar, NULL, 2);
		pthread_create(&t[0], NULL, t_wl, NULL);
		pthread_create(&t[1], NULL, t_lw, NULL);
		sleep_ms(300);
	} else if (strcmp(argv[1], "self") == 0) {
		pthread_create(&t[0], NULL, t_relock, NULL);
		sleep_ms(300);
	} else if (strcmp(argv[1], "joins") == 0) {
		pthread_barrier_init(&bar, NULL, 3);
		pthread_create(&ja, NULL, t_ja, NULL);
		pthread_create(&jb, NULL, t_jb, NULL);
		pthread_barrier_wait(&bar);
		sleep_ms(300);
	} else if (strcmp(argv[1], "orphan") == 0) {
		pthread_create(&t[0], NULL, t_take, NULL);
		pthread_join(t[0], NULL);
		pthread_create(&t[1], NULL, t_orphan, NULL);
		sleep_ms(300);
	} else {
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, producer, NULL);
		for (int i = 2; i < 6; i++)
			pthread_create(&t[i], NULL, consumer, NULL);
		sleep_ms(300);
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/deadlock.txt", argv[2]);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dw(fd, 1) != 0)
		return 5;
	close(fd);
	snprintf(path, sizeof path, "%s/deadlock.pb.gz", argv[2]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || dw(fd, 0) != 0)
		return 5;
	close(fd);
	if (strcmp(argv[1], "healthy") == 0) {
		stop = 1;
		pthread_cond_broadcast(&cv);
		for (int i = 0; i < 6; i++)
			pthread_join(t[i], NULL);
	}
	printf("written\n");
	fflush(stdout);
	_exit(0);
}
