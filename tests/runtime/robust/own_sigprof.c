/*
 * own_sigprof.c - a program with its own SIGPROF handler and ITIMER_PROF
 * timer, as a program with its own profiler has.  The runtime must leave
 * the handler in place: the program's handler keeps counting its signals,
 * and sigaction still names it at the end.
 */
#include "burn.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static volatile sig_atomic_t count;

static void on_prof(int sig)
{
	count++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_prof;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) != 0)
		return 1;
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
	setitimer(ITIMER_PROF, &it, NULL);
	int seen = 0;
	for (int i = 0; i < 400 && count < 20; i++)
		burn(1000000);
	seen = count >= 20;
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_PROF, &it, NULL);
	struct sigaction now;
	sigaction(SIGPROF, NULL, &now);
	printf("own handler counted its signals: %s\n", seen ? "yes" : "no");
	printf("own handler still installed: %s\n", now.sa_handler == on_prof ? "yes" : "no");
	return !(seen && now.sa_handler == on_prof);
}
