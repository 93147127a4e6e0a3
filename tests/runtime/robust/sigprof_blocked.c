/*
 * sigprof_blocked.c - threads that block SIGPROF keep it blocked and work
 * undisturbed while other threads are sampled.  Each blocking thread checks
 * its mask before and after its work; the program prints the results.
 */
#include "burn.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static _Atomic int bad;

static void *blocked(void *arg)
{
	sigset_t s, cur;
	sigemptyset(&s);
	sigaddset(&s, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	for (int i = 0; i < 20; i++) {
		burn(1000000);
		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		if (!sigismember(&cur, SIGPROF))
			bad++;
	}
	return NULL;
}

static void *open_thread(void *arg)
{
	burn(20000000);
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, i % 2 ? blocked : open_thread, NULL);
	/* the main thread blocks it too, half way */
	burn(10000000);
	sigset_t s, cur;
	sigemptyset(&s);
	sigaddset(&s, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	burn(10000000);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGPROF))
		bad++;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("sigprof stayed blocked: %s\n", bad ? "NO" : "yes");
	return bad != 0;
}
