/*
 * sig_storm.c - actions of the fatal signals set from many threads and
 * from signal handlers at once, for the runtime's tests: the interposed
 * sigaction family runs with every signal blocked under a spin lock, so
 * none of this may deadlock, and at the end each query must read the
 * action last set.  Two threads flip SIGTERM between a handler and SIG_DFL
 * (20,000 times each) while a third sends SIGUSR1 to the process as fast
 * as it can; SIGUSR1's handler flips SIGHUP the same way with signal().
 * Prints "storm ok", then raises SIGTERM (its action SIG_DFL as last set:
 * the runtime writes the profile and the process dies of it); names what
 * it read otherwise and exits 1.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int done;
static volatile sig_atomic_t usr1;

static void noop(int sig)
{
	(void)sig;
}

static void on_usr1(int sig)
{
	(void)sig;
	signal(SIGHUP, noop);
	signal(SIGHUP, SIG_DFL);
	usr1++;
}

static void *flipper(void *arg)
{
	(void)arg;
	struct sigaction h, d, old;
	memset(&h, 0, sizeof h);
	memset(&d, 0, sizeof d);
	h.sa_handler = noop;
	d.sa_handler = SIG_DFL;
	for (int i = 0; i < 20000; i++) {
		sigaction(SIGTERM, &h, &old);
		sigaction(SIGTERM, &d, &old);
	}
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	while (!atomic_load(&done))
		kill(getpid(), SIGUSR1);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGUSR1, on_usr1);
	pthread_t a, b, s;
	pthread_create(&s, NULL, sender, NULL);
	pthread_create(&a, NULL, flipper, NULL);
	pthread_create(&b, NULL, flipper, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	atomic_store(&done, 1);
	pthread_join(s, NULL);
	struct sigaction t, h;
	sigaction(SIGTERM, NULL, &t);
	sigaction(SIGHUP, NULL, &h);
	if (t.sa_handler != SIG_DFL || (t.sa_flags & SA_SIGINFO) || h.sa_handler != SIG_DFL) {
		printf("SIGTERM reads %p, SIGHUP %p\n", (void *)t.sa_handler, (void *)h.sa_handler);
		return 1;
	}
	printf("storm ok (%d SIGUSR1)\n", (int)usr1);
	raise(SIGTERM);
	return 2;
}
