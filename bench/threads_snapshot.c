/*
 * threads_snapshot.c - the cost of a thread snapshot (tprof.c) and of
 * pthread_create under the runtime.
 *
 *   threads_snapshot snap N REPS   N threads (a quarter each in sem_wait,
 *       nanosleep, read on a pipe and pthread_cond_wait) plus 2 spinning;
 *       prints the median wall time of REPS raw snapshots (rt_snapshot_take:
 *       /proc reads, unwinding, signals; linked with libcprof.a) and of 3
 *       cprof_threads_write at debug=0 and debug=2 (symbolized) to /dev/null
 *   threads_snapshot create REPS   pthread_create + pthread_join of an empty
 *       thread, REPS times: prints ns per create (run it bare and preloaded)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef DIRECT
#include "cprof.h"
#include "tprof.h"
#endif

static sem_t sem;
static int pfd[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static _Atomic int stop;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *t_sem(void *x) { sem_wait(&sem); return x; }
static void *t_sleep(void *x) { struct timespec ts = { 3600, 0 }; nanosleep(&ts, NULL); return x; }
static void *t_read(void *x) { char c; (void)!read(pfd[0], &c, 1); return x; }
static void *t_cond(void *x)
{
	pthread_mutex_lock(&mu);
	while (!stop)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return x;
}
static volatile unsigned long sink;
static void *t_spin(void *x)
{
	while (!stop)
		sink++;
	return x;
}
static void *t_empty(void *x) { return x; }

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "create") == 0) {
		int reps = atoi(argv[2]);
		double t0 = now_ms();
		for (int i = 0; i < reps; i++) {
			pthread_t t;
			pthread_create(&t, NULL, t_empty, NULL);
			pthread_join(t, NULL);
		}
		printf("pthread_create+join: %.0f ns\n", (now_ms() - t0) * 1e6 / reps);
		return 0;
	}
#ifdef DIRECT
	if (argc >= 4 && strcmp(argv[1], "snap") == 0) {
		int n = atoi(argv[2]), reps = atoi(argv[3]);
		sem_init(&sem, 0, 0);
		if (pipe(pfd))
			return 2;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 64 << 10);
		void *(*fns[4])(void *) = { t_sem, t_sleep, t_read, t_cond };
		for (int i = 0; i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, &at, fns[i % 4], NULL) != 0) {
				fprintf(stderr, "pthread_create failed at %d\n", i);
				return 2;
			}
		}
		for (int i = 0; i < 2; i++) {
			pthread_t t;
			pthread_create(&t, &at, t_spin, NULL);
		}
		usleep(200000);
		double *v = calloc((size_t)reps, sizeof *v);
		size_t threads = 0, sig = 0, noans = 0;
		for (int r = 0; r < reps; r++) {
			rt_snapshot s;
			double t0 = now_ms();
			if (rt_snapshot_take(&s) != 0)
				return 3;
			v[r] = now_ms() - t0;
			threads = s.n;
			sig += s.signalled;
			noans += s.unanswered;
			rt_snapshot_free(&s);
		}
		printf("threads %zu: raw snapshot %.1f ms (median of %d; %zu signals, %zu unanswered)\n",
		       threads, median(v, reps), reps, sig, noans);
		int dn = open("/dev/null", O_WRONLY);
		for (int d = 0; d <= 2; d += 2) {
			double w[3];
			for (int r = 0; r < 3; r++) {
				double t0 = now_ms();
				if (cprof_threads_write(dn, d) != 0)
					return 4;
				w[r] = now_ms() - t0;
			}
			printf("threads %zu: cprof_threads_write debug=%d %.1f ms (median of 3)\n", threads,
			       d, median(w, 3));
		}
		fflush(stdout);
		_exit(0);
	}
#endif
	fprintf(stderr, "usage: threads_snapshot snap N REPS | create REPS\n");
	return 2;
}
