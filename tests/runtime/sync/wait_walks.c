/*
 * wait_walks.c - what a blocking wait costs the waiter with nothing asked,
 * counted, and the blocked waiter's stack in a thread snapshot.
 *
 * Linked with libcprof.a and -Wl,--wrap=rt_unwind_here, so every stack
 * walk the runtime's interposed primitives start is counted here
 * (__wrap_rt_unwind_here).  Phase 1: two threads hand a token over a
 * condition variable ROUNDS times (every wait blocks, the primitives' slow
 * path each time), with the mutex and block profiles off and no trace:
 * prints walks=N, the walks made meanwhile (a handful: thread starts, an
 * early wait sampled before the environment is read; not one per wait:
 * the wait records keep the waiter's registers, not its stack).  Phase 2:
 * a thread waits on a condition variable inside deep_wait(), whose
 * variable-length array makes its frame need rbp (which /proc does not
 * give); a snapshot (rt_snapshot_take) must still show deep_wait in that
 * thread's stack (from /proc's sp with rbp found saved on the way, else
 * walked from the registers of its wait record): prints deep=1 and how
 * (RT_SNAP_*).
 *
 *   wait_walks ROUNDS
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tprof.h"
#include "pingpong.h"

int __real_rt_unwind_here(uintptr_t *pcs, int max, int skip);
static atomic_long walks;
int __wrap_rt_unwind_here(uintptr_t *pcs, int max, int skip)
{
	atomic_fetch_add(&walks, 1);
	return __real_rt_unwind_here(pcs, max, skip);
}

static int rounds, ready, release_it, deep_tid;

__attribute__((noinline)) int deep_wait(int n)
{
	volatile char buf[n];   /* a frame whose CFA needs rbp */
	buf[0] = 1;
	pthread_mutex_lock(&pingpong_mu);
	deep_tid = gettid();
	ready = 1;
	pthread_cond_broadcast(&pingpong_cv);
	while (!release_it)
		pthread_cond_wait(&pingpong_cv, &pingpong_mu);
	pthread_mutex_unlock(&pingpong_mu);
	return buf[0];
}

static void *deep(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)deep_wait(64 + rounds % 7);
}

int main(int argc, char **argv)
{
	rounds = argc > 1 ? atoi(argv[1]) : 2000;
	long w0 = atomic_load(&walks);
	pingpong(rounds);
	long w1 = atomic_load(&walks);
	printf("walks=%ld rounds=%d\n", w1 - w0, rounds);

	pthread_t t;
	pthread_create(&t, NULL, deep, NULL);
	pthread_mutex_lock(&pingpong_mu);
	while (!ready)
		pthread_cond_wait(&pingpong_cv, &pingpong_mu);
	pthread_mutex_unlock(&pingpong_mu);
	struct timespec ts = { 0, 50000000 };   /* into the futex wait */
	nanosleep(&ts, NULL);
	rt_snapshot s;
	int found = 0, how = -1, npcs = 0;
	if (rt_snapshot_take(&s) == 0) {
		for (size_t i = 0; i < s.n; i++) {
			if (s.t[i].tid != deep_tid)
				continue;
			how = (int)s.t[i].how;
			npcs = s.t[i].npcs;
			for (int k = 0; k < s.t[i].npcs; k++) {
				Dl_info di;
				if (dladdr((void *)s.t[i].pcs[k], &di) && di.dli_sname &&
				    strcmp(di.dli_sname, "deep_wait") == 0)
					found = 1;
			}
		}
		rt_snapshot_free(&s);
	}
	pthread_mutex_lock(&pingpong_mu);
	release_it = 1;
	pthread_cond_broadcast(&pingpong_cv);
	pthread_mutex_unlock(&pingpong_mu);
	pthread_join(t, NULL);
	printf("deep=%d how=%d npcs=%d\n", found, how, npcs);
	return 0;
}
