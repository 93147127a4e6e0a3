/*
 * threads_churn.c - thousands of threads created and exiting while the
 * profiler samples: 3000 short-lived threads, at most 16 alive at a time,
 * some detached, each burning about 0.2 ms of CPU: less than a 1000 Hz
 * period, so only a random first expiry gets them sampled fairly.  Prints
 * a checksum that does not depend on timing, and on stderr the process's
 * CPU time (getrusage) as "rusage_ns N".
 */
#include "burn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define TOTAL 3000
#define BATCH 16

static _Atomic long done_detached;

static void *work(void *arg)
{
	long i = (long)(intptr_t)arg;
	burn(200000 + (uint64_t)(i % 7) * 1000);
	return (void *)(intptr_t)(i * 3);
}

static void *work_detached(void *arg)
{
	work(arg);
	done_detached++;
	return NULL;
}

int main(void)
{
	long sum = 0;
	for (long base = 0; base < TOTAL; base += BATCH) {
		pthread_t t[BATCH];
		for (int j = 0; j < BATCH; j++) {
			long i = base + j;
			if (pthread_create(&t[j], NULL, work, (void *)(intptr_t)i) != 0) {
				perror("pthread_create");
				return 1;
			}
		}
		pthread_t d;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&d, &a, work_detached, (void *)(intptr_t)base) != 0) {
			perror("pthread_create detached");
			return 1;
		}
		pthread_attr_destroy(&a);
		for (int j = 0; j < BATCH; j++) {
			void *r;
			if (pthread_join(t[j], &r) != 0) {
				perror("pthread_join");
				return 1;
			}
			sum += (long)(intptr_t)r;
		}
	}
	while (done_detached < (TOTAL + BATCH - 1) / BATCH)
		usleep(1000);
	printf("threads %d sum %ld detached %ld\n", TOTAL, sum, (long)done_detached);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "rusage_ns %lld\n",
		(long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			(long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
	return 0;
}
