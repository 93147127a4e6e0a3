/*
 * contend.c - the mutex/block profile test of issue 6: eight threads share
 * one mutex; slow_holder() holds it across a 200 us sleep, quick_taker()
 * (seven threads) takes it briefly.  The program measures the truth itself
 * and prints it: the waiting the other threads did while slow_holder held
 * the lock (what the mutex profile must charge to slow_holder's unlock),
 * and the total time the takers spent waiting in pthread_mutex_lock (what
 * the block profile must show in quick_taker).
 *
 *   contend [ROUNDS]     (default 1500 holds of 200 us)
 *
 * Output: "slow_ns=N waiters_ns=N slow_wait_ns=N holds=N takes=N".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TAKERS 7
#define MAXREC 200000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static int rounds = 1500;

typedef struct { int64_t a, b; } ival;
static ival holds[20000];          /* slow_holder's critical sections */
static int nholds;
static ival *waits[TAKERS];        /* each taker's waits in lock */
static int nwaits[TAKERS];
static int64_t slow_self_wait;

static int64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void nap(long ns)
{
	struct timespec ts = { 0, ns };
	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void slow_holder(void)
{
	for (int i = 0; i < rounds && i < 20000; i++) {
		int64_t t = now();
		pthread_mutex_lock(&mu);
		int64_t a = now();
		slow_self_wait += a - t;
		nap(200000);
		holds[nholds].a = a;
		holds[nholds].b = now();
		nholds++;
		pthread_mutex_unlock(&mu);
		nap(100000);
	}
}

__attribute__((noinline)) static void quick_taker(int id)
{
	volatile int sink = 0;
	while (!atomic_load(&stop) && nwaits[id] < MAXREC) {
		int64_t t = now();
		pthread_mutex_lock(&mu);
		int64_t a = now();
		for (int k = 0; k < 50; k++)
			sink += k;
		pthread_mutex_unlock(&mu);
		waits[id][nwaits[id]].a = t;
		waits[id][nwaits[id]].b = a;
		nwaits[id]++;
		nap(50000);
	}
}

static void *taker(void *p)
{
	quick_taker((int)(intptr_t)p);
	return NULL;
}

static void *holder(void *p)
{
	(void)p;
	slow_holder();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = atoi(argv[1]);
	pthread_t th[TAKERS + 1];
	for (int i = 0; i < TAKERS; i++) {
		waits[i] = calloc(MAXREC, sizeof(ival));
		pthread_create(&th[i], NULL, taker, (void *)(intptr_t)i);
	}
	pthread_create(&th[TAKERS], NULL, holder, NULL);
	pthread_join(th[TAKERS], NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < TAKERS; i++)
		pthread_join(th[i], NULL);
	/* truth: overlap of every taker wait with slow_holder's holds */
	int64_t slow = 0, total = 0;
	long takes = 0;
	for (int i = 0; i < TAKERS; i++) {
		int h = 0;
		for (int k = 0; k < nwaits[i]; k++) {
			ival w = waits[i][k];
			total += w.b - w.a;
			takes++;
			while (h < nholds && holds[h].b <= w.a)
				h++;
			for (int j = h; j < nholds && holds[j].a < w.b; j++) {
				int64_t lo = w.a > holds[j].a ? w.a : holds[j].a;
				int64_t hi = w.b < holds[j].b ? w.b : holds[j].b;
				if (hi > lo)
					slow += hi - lo;
			}
		}
	}
	printf("slow_ns=%lld waiters_ns=%lld slow_wait_ns=%lld holds=%d takes=%ld\n",
	       (long long)slow, (long long)total, (long long)slow_self_wait, nholds, takes);
	return 0;
}
