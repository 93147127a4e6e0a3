/*
 * sigwait_heap.c - a program that is stopped by a signal, for the heap
 * and allocs profiles written on SIGTERM, SIGINT and SIGHUP: keeps 16
 * blocks of 1 MiB allocated in keep_blocks (at or above the default rate,
 * so recorded exactly), optionally burns 0.3 s of CPU in burn_cpu (for a
 * CPU profile), prints "ready PID" and flushes, then waits in pause()
 * until a signal ends it.
 *
 *   sigwait_heap [cpu] [handler]
 *
 * With "handler" it first installs its own SIGTERM handler (sigaction):
 * the handler only sets a flag; main then prints "handled" and calls
 * exit(0), so atexit handlers run.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NBLOCKS 16
void *kept[NBLOCKS];   /* global: the compiler may not drop the allocations */
static volatile sig_atomic_t got;

__attribute__((noinline)) static void keep_blocks(void)
{
	for (int i = 0; i < NBLOCKS; i++) {
		char *p = malloc(1 << 20);
		if (!p)
			abort();
		memset(p, 1, 4096);
		kept[i] = p;
	}
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static unsigned long burn_cpu(double secs)
{
	volatile unsigned long x = 0;
	double t0 = cpu_seconds();
	while (cpu_seconds() - t0 < secs)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i * 7;
	return x;
}

static void on_term(int sig)
{
	(void)sig;
	got = 1;
}

int main(int argc, char **argv)
{
	int cpu = 0, handler = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "cpu") == 0)
			cpu = 1;
		else if (strcmp(argv[i], "handler") == 0)
			handler = 1;
	}
	if (handler) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
	}
	keep_blocks();
	if (cpu)
		burn_cpu(0.3);
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	while (!got)
		pause();
	printf("handled\n");
	fflush(stdout);
	exit(0);
}
