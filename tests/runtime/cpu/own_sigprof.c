/*
 * own_sigprof.c - a program with its own SIGPROF handler (driven by
 * setitimer(ITIMER_PROF)), for the CPU profiler's tests: the runtime must
 * leave the handler alone and never send it one of its own timer signals
 * (si_code SI_TIMER).  Exits 0 when the handler saw its itimer signals and
 * none of the runtime's; argv[1] "signal", "sigset", "bsd_signal" or
 * "sysv_signal" installs it with that function instead of sigaction().
 */
#define _GNU_SOURCE
#include <signal.h>
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#ifdef WITH_API
#include "cprof.h"
#endif

/* glibc 2.36 no longer declares it; the symbol is still there */
sighandler_t bsd_signal(int sig, sighandler_t h);

static volatile sig_atomic_t hits, foreign;
static volatile unsigned long sink;

static void mine(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si && si->si_code == SI_TIMER)
		foreign++;
	else
		hits++;
}

static volatile sig_atomic_t one_shot;   /* sysv_signal: the handler is reset at each signal */

static void plain(int sig)
{
	hits++;
	if (one_shot)
		sysv_signal(sig, plain);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "signal") == 0) {
		signal(SIGPROF, plain);
	} else if (argc > 1 && strcmp(argv[1], "sigset") == 0) {
		sigset(SIGPROF, plain);
	} else if (argc > 1 && strcmp(argv[1], "bsd_signal") == 0) {
		bsd_signal(SIGPROF, plain);
	} else if (argc > 1 && strcmp(argv[1], "sysv_signal") == 0) {
		one_shot = 1;
		sysv_signal(SIGPROF, plain);
	} else {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = mine;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigaction(SIGPROF, &sa, NULL);
	}
#ifdef WITH_API
	if (argc > 2 && strcmp(argv[1], "api") == 0 && cprof_cpu_start(argv[2]) < 0) {
		printf("start: %s\n", cprof_last_error());
		return 1;
	}
#endif
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_PROF, &it, NULL);
	struct timespec ts;
	do {
		for (int i = 0; i < 100000; i++)
			sink = sink * 31 + 7;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	} while (ts.tv_sec * 1000000000L + ts.tv_nsec < 300000000L);
#ifdef WITH_API
	if (argc > 2 && strcmp(argv[1], "api") == 0 && cprof_cpu_stop() < 0) {
		printf("stop: %s\n", cprof_last_error());
		return 1;
	}
#endif
	printf("own handler hits: %d, foreign: %d\n", (int)hits, (int)foreign);
	return hits > 0 && foreign == 0 ? 0 : 1;
}
