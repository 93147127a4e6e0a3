/*
 * all_signals.c - a program that handles SIGPROF (with its own
 * ITIMER_PROF) and takes real-time signals for itself, as runtimes such
 * as Go's do, for the CPU profiler's tests: its handlers must never see
 * one of the runtime's clock signals (si_code SI_TIMER, or POLL_HUP from
 * a perf_event descriptor), and its queries of the signals it never set
 * must report SIG_DFL.  Each phase burns ~0.15 s of CPU in burn().
 *
 *   some  SIGPROF's handler, burn, a handler on SIGRTMAX-3 (where the
 *         runtime's clock moved first), burn, then every real-time signal
 *         it did not set must read SIG_DFL;
 *   all   handlers on every signal it may handle (1..SIGRTMAX but
 *         SIGKILL, SIGSTOP and glibc's own), then burn: no signal is
 *         free, and the clocks stay, chained, on their real-time one.
 * Prints "own hits N, foreign M"; exits 0 when N > 0 and M == 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t hits, foreign;
static volatile unsigned long sink;
static unsigned char taken[_NSIG];

static void mine(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (si && (si->si_code == SI_TIMER || (sig != SIGCHLD && si->si_code == POLL_HUP)))
		foreign++;
	else if (sig == SIGPROF)
		hits++;
}

static __attribute__((noinline)) void burn(long ms)
{
	struct timespec a, b;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++)
			sink = sink * 31 + 7;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000L + (b.tv_nsec - a.tv_nsec) / 1000000L < ms);
}

static void take(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = mine;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	if (sigaction(sig, &sa, NULL) == 0)
		taken[sig] = 1;
}

int main(int argc, char **argv)
{
	int bad = 0;
	if (argc > 1 && strcmp(argv[1], "all") == 0) {
		for (int s = 1; s <= SIGRTMAX; s++)
			if (s != SIGKILL && s != SIGSTOP && (s < 32 || s >= SIGRTMIN))
				take(s);
	} else {
		take(SIGPROF);
	}
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_PROF, &it, NULL);
	burn(150);
	if (!(argc > 1 && strcmp(argv[1], "all") == 0)) {
		take(SIGRTMAX - 3);
		burn(150);
		for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
			struct sigaction old;
			if (taken[s] || sigaction(s, NULL, &old) != 0)
				continue;
			if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
				printf("signal %d reads %p\n", s, (void *)old.sa_handler);
				bad = 1;
			}
		}
	}
	printf("own hits %d, foreign %d\n", (int)hits, (int)foreign);
	return hits > 0 && foreign == 0 && !bad ? 0 : 1;
}
