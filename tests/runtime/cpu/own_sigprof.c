/*
 * own_sigprof.c - a program with its own SIGPROF handler (driven by
 * setitimer(ITIMER_PROF)), for the CPU profiler's tests: the runtime must
 * leave the handler alone and never send it one of its own timer signals
 * (si_code SI_TIMER).  Exits 0 when the handler saw its itimer signals and
 * none of the runtime's; argv[1] "signal" installs it with signal().
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

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

static void plain(int sig)
{
	(void)sig;
	hits++;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "signal") == 0) {
		signal(SIGPROF, plain);
	} else {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = mine;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigaction(SIGPROF, &sa, NULL);
	}
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_PROF, &it, NULL);
	struct timespec ts;
	do {
		for (int i = 0; i < 100000; i++)
			sink = sink * 31 + 7;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	} while (ts.tv_sec * 1000000000L + ts.tv_nsec < 300000000L);
	printf("own handler hits: %d, foreign: %d\n", (int)hits, (int)foreign);
	return hits > 0 && foreign == 0 ? 0 : 1;
}
