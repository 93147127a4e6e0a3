/*
 * blocked_sigprof.c - a program that blocks every signal around work, as
 * git's run-command does around fork and exec, for the CPU profiler's
 * tests: a sampling clock's SIGPROF queued while it is blocked must not
 * outlive the profile and end the program once SIGPROF's action is the
 * default again.
 *
 *   reset   block all signals, burn CPU (the clock's signal is queued),
 *           signal(SIGPROF, SIG_DFL), unblock, print "reset ok";
 *   exec    block all signals, burn CPU, exec itself as "unblock" with
 *           the runtime out of the environment (the new image has no
 *           handler: SIGPROF's action is the default);
 *   unblock unblock every signal, print "unblock ok".
 * Killed by SIGPROF when the runtime leaves a queued signal behind.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static volatile unsigned long sink;

static void burn_ms(long ms)
{
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++)
			sink = sink * 31 + 7;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "reset";
	sigset_t all, old;
	sigfillset(&all);
	if (strcmp(mode, "unblock") == 0) {
		sigprocmask(SIG_SETMASK, &all, &old);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		puts("unblock ok");
		return 0;
	}
	burn_ms(50);    /* the profile runs */
	sigprocmask(SIG_SETMASK, &all, &old);
	burn_ms(100);   /* a clock's SIGPROF is queued, blocked */
	if (strcmp(mode, "exec") == 0) {
		char *env[64];
		int n = 0;
		for (char **e = environ; *e && n < 63; e++)
			if (strncmp(*e, "LD_PRELOAD=", 11) != 0 && strncmp(*e, "CPROF_", 6) != 0)
				env[n++] = *e;
		env[n] = NULL;
		char *args[] = { argv[0], "unblock", NULL };
		execve("/proc/self/exe", args, env);
		perror("execve");
		return 2;
	}
	signal(SIGPROF, SIG_DFL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	puts("reset ok");
	return 0;
}
