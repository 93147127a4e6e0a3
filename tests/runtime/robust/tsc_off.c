/* tsc_off.c - makes rdtsc fault in its threads, as stress-ng's sigsegv
 * stressor and some sandboxes do (prctl(PR_SET_TSC, PR_TSC_SIGSEGV): the
 * vDSO's clock_gettime then raises SIGSEGV), then burns CPU, starts a
 * thread that allocates, and waits on a contended mutex: the runtime must
 * read its clocks without rdtsc in its SIGPROF handler (where a fault is
 * fatal), in a thread's first allocation and around a lock wait.  Prints
 * "ok" and exits 0; the caught SIGSEGV count must stay 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static volatile sig_atomic_t faults;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void on_segv(int sig)
{
	(void)sig;
	faults++;
	prctl(PR_SET_TSC, PR_TSC_ENABLE, 0, 0, 0);   /* the retried read succeeds */
}

__attribute__((noinline)) static void burn(long n)
{
	volatile unsigned long x = 1;
	for (long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
}

static void *worker(void *a)
{
	(void)a;
	for (int i = 0; i < 1000; i++) {
		char *p = malloc((size_t)(i % 512) + 16);
		memset(p, 1, 16);
		free(p);
	}
	pthread_mutex_lock(&mu);
	pthread_mutex_unlock(&mu);
	burn(20000000);
	return NULL;
}

int main(void)
{
	signal(SIGSEGV, on_segv);
	if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) != 0) {
		puts("ok");   /* not x86: nothing to check */
		return 0;
	}
	pthread_mutex_lock(&mu);
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 3;
	burn(60000000);
	usleep(20000);   /* the worker waits on mu meanwhile */
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	prctl(PR_SET_TSC, PR_TSC_ENABLE, 0, 0, 0);
	printf("ok\n");
	return faults ? 4 : 0;
}
