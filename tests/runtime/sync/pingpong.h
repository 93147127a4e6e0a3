/*
 * pingpong.h - two threads handing a token over one condition variable
 * (every wait blocks: the interposed primitives' slow path each time),
 * shared by the wait-cost test programs (wait_walks.c, code_probes.c).
 * pingpong_mu and pingpong_cv are the program's to use for other waits too.
 */
#ifndef PINGPONG_H
#define PINGPONG_H

#include <pthread.h>
#include <stdint.h>

static pthread_mutex_t pingpong_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pingpong_cv = PTHREAD_COND_INITIALIZER;
static int pingpong_turn;

static void pingpong_side(int rounds, int mine, int next)
{
	for (int i = 0; i < rounds; i++) {
		pthread_mutex_lock(&pingpong_mu);
		while (pingpong_turn != mine)
			pthread_cond_wait(&pingpong_cv, &pingpong_mu);
		pingpong_turn = next;
		pthread_cond_broadcast(&pingpong_cv);
		pthread_mutex_unlock(&pingpong_mu);
	}
}

static void *pingpong_partner(void *rounds)
{
	pingpong_side((int)(intptr_t)rounds, 1, 0);
	return NULL;
}

/* rounds hand-overs each way; returns when the partner has finished */
static void pingpong(int rounds)
{
	pthread_t t;
	pingpong_turn = 0;
	pthread_create(&t, NULL, pingpong_partner, (void *)(intptr_t)rounds);
	pingpong_side(rounds, 0, 1);
	pthread_join(t, NULL);
}

#endif
