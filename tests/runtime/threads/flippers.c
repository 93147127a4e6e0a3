/*
 * flippers.c - the race of thread snapshots: threads that flip between
 * running and short sleeps in calls that fail with EINTR even under
 * SA_RESTART (nanosleep, epoll_wait, poll), so a snapshot that saw one
 * running signals it just as it enters the call.  Linked with libcprof.a:
 * N raw snapshots (rt_snapshot_take).  Prints the calls made, how many
 * failed with EINTR (must be 0) and how many the runtime restarted.  One
 * more thread ("masked") spins with every signal blocked: it is listed
 * without a stack, never signalled (prints "masked: STATE").
 *
 *   flippers N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#include "snap_loop.h"

static _Atomic long eintr, calls;
static volatile unsigned long sink;

static void *flip(void *x)
{
	int ep = epoll_create1(0);
	long kind = (long)x % 3;
	for (;;) {
		for (int i = 0; i < 2000; i++)
			sink += (unsigned long)i;
		int rc;
		if (kind == 0) {
			struct timespec ts = { 0, 20000 };
			rc = nanosleep(&ts, NULL);
		} else if (kind == 1) {
			struct epoll_event ev;
			rc = epoll_wait(ep, &ev, 1, 1);
		} else {
			rc = poll(NULL, 0, 1);
		}
		if (rc < 0 && errno == EINTR)
			eintr++;
		calls++;
	}
	return NULL;
}

static void *masked(void *x)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "masked");
	for (;;)
		sink++;
	return x;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	for (long i = 0; i < 6; i++) {
		pthread_t t;
		pthread_create(&t, NULL, flip, (void *)i);
	}
	pthread_t m;
	pthread_create(&m, NULL, masked, NULL);
	size_t sig, restarted;
	if (snap_loop(n, &sig, &restarted) != 0)
		return 3;
	rt_snapshot s;
	if (rt_snapshot_take(&s) != 0)
		return 3;
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.t[i].name, "masked") == 0)
			printf("masked: %s\n", s.t[i].state);
	rt_snapshot_free(&s);
	printf("snapshots %d signals %zu calls %ld eintr %ld restarted %zu\n", n, sig, (long)calls,
	       (long)eintr, restarted);
	fflush(stdout);
	exit(eintr ? 4 : 0);
}
