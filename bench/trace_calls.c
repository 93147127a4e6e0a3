/*
 * trace_calls.c - what the execution trace adds to the calls a server
 * makes that return at once: per round, one byte written to a socket,
 * epoll_wait (timeout 1 s) finding it readable, and the byte read back,
 * as an event loop answering a request does.  Prints "ns_per_round N",
 * the thread's CPU time per round over ROUNDS rounds (after a warm-up),
 * for bench/trace_calls.sh to compare preloaded without a trace, with
 * CPROF_TRACE and with the flight recorder.  With "ebadf" the same three
 * calls are made on descriptor -1: the kernel answers EBADF at once, so
 * what the hooks add stands out against ~150 ns of system call instead of
 * a socket's microseconds.
 *
 *   trace_calls [ROUNDS [ebadf]]
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n rounds of write on wfd, epoll_wait on ep, read on rfd, each call
 * returning want (1; -1 when they are all descriptor -1) */
static void rounds(int wfd, int ep, int rfd, int want, long n)
{
	struct epoll_event ev;
	char c = 'x';
	for (long i = 0; i < n; i++)
		if (write(wfd, &c, 1) != want || epoll_wait(ep, &ev, 1, 1000) != want ||
		    read(rfd, &c, 1) != want)
			abort();
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	bool bad = argc > 2;   /* the calls on descriptor -1 */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = sv[0] };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) != 0)
		return 1;
	int w = bad ? -1 : sv[1], e = bad ? -1 : ep, r = bad ? -1 : sv[0], want = bad ? -1 : 1;
	rounds(w, e, r, want, n / 10);
	long long t0 = cpu_ns();
	rounds(w, e, r, want, n);
	printf("ns_per_round %.1f\n", (double)(cpu_ns() - t0) / (double)n);
	return 0;
}
