/*
 * eintr_calls.c - thread snapshots never make a system call fail with
 * EINTR, including the calls the kernel never restarts after a handler
 * (signal(7), "Interruption of system calls"): socket calls with
 * SO_RCVTIMEO / SO_SNDTIMEO (recv, read, accept, send), semtimedop,
 * msgrcv, msgsnd, poll, select, epoll_wait, nanosleep, clock_nanosleep,
 * sigtimedwait, sem_timedwait.  One thread per kind alternates a little
 * CPU (so snapshots find it running and signal it) with the call, which
 * times out or is answered quickly; the main thread takes N raw snapshots
 * (rt_snapshot_take, linked with libcprof.a) and prints, per kind, the
 * calls made and how many failed with EINTR (all must be 0).
 *
 *   eintr_calls N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "snap_loop.h"

enum { K_RECV, K_READ, K_ACCEPT, K_SEND, K_SEMOP, K_MSGRCV, K_MSGSND, K_POLL, K_SELECT,
       K_EPOLL, K_NANOSLEEP, K_CLOCKSLEEP, K_SIGWAIT, K_SEMWAIT, K_N };
static const char *names[K_N] = { "recv", "read", "accept", "send", "semtimedop", "msgrcv",
				  "msgsnd", "poll", "select", "epoll_wait", "nanosleep",
				  "clock_nanosleep", "sigtimedwait", "sem_timedwait" };
static _Atomic long calls[K_N], eintr[K_N];
static volatile unsigned long sink;
static atomic_int stop;
static int semid, msqid, msqfull;

static void burn(void)
{
	for (int i = 0; i < 20000; i++)
		sink += (unsigned long)i;
}

static void timeo(int fd, int opt, long us)
{
	struct timeval tv = { 0, us };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

struct msg { long type; char b[8]; };

static void *worker(void *x)
{
	int k = (int)(long)x;
	int sv[2] = { -1, -1 }, lfd = -1, ep = -1;
	sem_t psem;
	char buf[64];
	if (k == K_RECV || k == K_READ || k == K_SEND) {
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		timeo(sv[0], SO_RCVTIMEO, 300);
		timeo(sv[0], SO_SNDTIMEO, 300);
		if (k == K_SEND) {   /* fill the buffer: every send waits, then times out */
			int small = 4096;
			setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
			struct timeval tv = { 0, 1 };
			setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
			while (send(sv[0], buf, sizeof buf, MSG_DONTWAIT) > 0)
				;
			timeo(sv[0], SO_SNDTIMEO, 300);
		}
	} else if (k == K_ACCEPT) {
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		bind(lfd, (struct sockaddr *)&a, sizeof a);
		listen(lfd, 4);
		timeo(lfd, SO_RCVTIMEO, 300);
	} else if (k == K_EPOLL) {
		ep = epoll_create1(0);
	} else if (k == K_SEMWAIT) {
		sem_init(&psem, 0, 0);
	} else if (k == K_SIGWAIT) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
	}
	while (!atomic_load(&stop)) {
		burn();
		long rc = 0;
		switch (k) {
		case K_RECV: rc = recv(sv[0], buf, sizeof buf, 0); break;
		case K_READ: rc = read(sv[0], buf, sizeof buf); break;
		case K_SEND: rc = send(sv[0], buf, sizeof buf, 0); break;
		case K_ACCEPT: rc = accept(lfd, NULL, NULL); break;
		case K_SEMOP: {
			struct sembuf op = { 0, -1, 0 };
			struct timespec ts = { 0, 300000 };
			rc = semtimedop(semid, &op, 1, &ts);
			break;
		}
		case K_MSGRCV: {   /* a message every other call: the feeder sends */
			struct msg m;
			rc = msgrcv(msqid, &m, sizeof m.b, 0, 0);
			break;
		}
		case K_MSGSND: {   /* the queue is full: waits until the drainer reads */
			struct msg m = { 1, "x" };
			rc = msgsnd(msqfull, &m, sizeof m.b, 0);
			break;
		}
		case K_POLL: rc = poll(NULL, 0, 1); break;
		case K_SELECT: {
			struct timeval tv = { 0, 300 };
			rc = select(0, NULL, NULL, NULL, &tv);
			break;
		}
		case K_EPOLL: {
			struct epoll_event ev;
			rc = epoll_wait(ep, &ev, 1, 1);
			break;
		}
		case K_NANOSLEEP: {
			struct timespec ts = { 0, 200000 };
			rc = nanosleep(&ts, NULL);
			break;
		}
		case K_CLOCKSLEEP: {
			struct timespec ts = { 0, 200000 };
			rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
			if (rc == EINTR) {
				errno = EINTR;
				rc = -1;
			}
			break;
		}
		case K_SIGWAIT: {
			sigset_t s;
			sigemptyset(&s);
			sigaddset(&s, SIGUSR2);
			struct timespec ts = { 0, 300000 };
			rc = sigtimedwait(&s, NULL, &ts);
			break;
		}
		case K_SEMWAIT: {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 300000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			rc = sem_timedwait(&psem, &ts);
			break;
		}
		}
		if (rc < 0 && errno == EINTR)
			eintr[k]++;
		calls[k]++;
	}
	return NULL;
}

/* msgrcv's messages and msgsnd's room, a little at a time */
static void *feeder(void *x)
{
	(void)x;
	while (!atomic_load(&stop)) {
		struct msg m = { 1, "x" };
		msgsnd(msqid, &m, sizeof m.b, IPC_NOWAIT);
		msgrcv(msqfull, &m, sizeof m.b, 0, IPC_NOWAIT);
		struct sembuf op = { 0, 1, 0 };
		semop(semid, &op, 1);
		struct timespec ts = { 0, 500000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 500;
	semid = semget(IPC_PRIVATE, 1, 0600);
	msqid = msgget(IPC_PRIVATE, 0600);
	msqfull = msgget(IPC_PRIVATE, 0600);
	if (semid < 0 || msqid < 0 || msqfull < 0) {
		perror("eintr_calls: System V IPC");
		return 2;
	}
	struct msqid_ds ds;
	msgctl(msqfull, IPC_STAT, &ds);
	ds.msg_qbytes = 64;
	msgctl(msqfull, IPC_SET, &ds);
	struct msg m = { 1, "x" };
	while (msgsnd(msqfull, &m, sizeof m.b, IPC_NOWAIT) == 0)
		;
	pthread_t th[K_N + 1];
	for (long k = 0; k < K_N; k++)
		pthread_create(&th[k], NULL, worker, (void *)k);
	pthread_create(&th[K_N], NULL, feeder, NULL);
	size_t sig, restarted;
	if (snap_loop(n, &sig, &restarted) != 0)
		return 3;
	atomic_store(&stop, 1);
	struct msg u = { 1, "x" };
	msgsnd(msqid, &u, sizeof u.b, IPC_NOWAIT);
	for (int k = 0; k <= K_N; k++) {
		msgsnd(msqid, &u, sizeof u.b, IPC_NOWAIT);
		msgrcv(msqfull, &u, sizeof u.b, 0, IPC_NOWAIT);
		pthread_join(th[k], NULL);
	}
	semctl(semid, 0, IPC_RMID);
	msgctl(msqid, IPC_RMID, NULL);
	msgctl(msqfull, IPC_RMID, NULL);
	long total = 0;
	for (int k = 0; k < K_N; k++) {
		printf("%s calls %ld eintr %ld\n", names[k], (long)calls[k], (long)eintr[k]);
		total += eintr[k];
	}
	printf("snapshots %d signals %zu eintr %ld restarted %zu\n", n, sig, total, restarted);
	return total ? 4 : 0;
}
