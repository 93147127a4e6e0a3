/*
 * no_eintr.c - sleeping system calls never fail with EINTR because of the
 * profiler: threads alternate CPU work (so their timers run) with
 * nanosleep, read on a pipe and sem_wait, none of them retried on EINTR.
 * Prints how many calls failed.
 */
#include "burn.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 60

static _Atomic int fails;
static int pfd[2];
static sem_t sem;

static void note(const char *what, int rc)
{
	if (rc < 0) {
		fails++;
		fprintf(stderr, "%s failed: %d\n", what, errno);
	}
}

static void *sleeper(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		burn(300000);
		struct timespec ts = { 0, 2000000 };
		note("nanosleep", nanosleep(&ts, NULL));
	}
	return NULL;
}

static void *reader(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		burn(300000);
		char c;
		ssize_t n = read(pfd[0], &c, 1);
		note("read", n == 1 ? 0 : -1);
	}
	return NULL;
}

static void *waiter(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		burn(300000);
		note("sem_wait", sem_wait(&sem));
	}
	return NULL;
}

int main(void)
{
	if (pipe(pfd) != 0 || sem_init(&sem, 0, 0) != 0)
		return 1;
	pthread_t t[3];
	pthread_create(&t[0], NULL, sleeper, NULL);
	pthread_create(&t[1], NULL, reader, NULL);
	pthread_create(&t[2], NULL, waiter, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		burn(600000);
		struct timespec ts = { 0, 1000000 };
		note("nanosleep main", nanosleep(&ts, NULL));
		note("write", write(pfd[1], "x", 1) == 1 ? 0 : -1);
		sem_post(&sem);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("interrupted calls: %d\n", (int)fails);
	return fails != 0;
}
