/*
 * fatal_reset.c - a program that sets the fatal signals' actions the ways
 * real programs do, for the runtime's tests: the CPU profile must be
 * written when it dies of a signal whose action it reset to SIG_DFL
 * after the start, and its queries must see the actions it set, never
 * the runtime's handlers.  Each mode burns ~0.3 s of CPU in burn() first.
 *
 *   ign_reset  SIGINT arrives ignored (a shell's background job); reset
 *              to SIG_DFL, raise(SIGINT): dies of SIGINT;
 *   restore    its own SIGTERM handler, which restores SIG_DFL with
 *              signal() and raises again (a crash handler): dies of SIGTERM;
 *   resethand  a one-shot SA_RESETHAND handler of SIGABRT that raises
 *              again: dies of SIGABRT;
 *   ignore     SIGINT set to SIG_IGN and raised: prints "alive", exits 0;
 *   query      sigaction/signal queries of SIGTERM, SIGINT, SIGHUP,
 *              SIGSEGV and SIGPROF report what the program set (or the
 *              default it started with): prints "query ok", exits 0;
 *   vfork      a one-shot SIGHUP handler, then a vfork child that resets
 *              SIGHUP to SIG_DFL and exits: the parent's query still
 *              reports its handler and its flags: prints "vfork ok".
 */
#define _GNU_SOURCE
#include <signal.h>
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static long cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static __attribute__((noinline)) void burn(void)
{
	while (cpu_ns() < 300000000L)
		for (int i = 0; i < 100000; i++)
			sink = sink * 31 + 7;
}

static void crash_handler(int sig)
{
	signal(sig, SIG_DFL);
	raise(sig);
}

static void oneshot(int sig)
{
	raise(sig);
}

/* the one-shot handler on sig, SA_RESETHAND */
static void set_oneshot(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = oneshot;
	sa.sa_flags = SA_RESETHAND;
	sigaction(sig, &sa, NULL);
}

static void noop(int sig)
{
	(void)sig;
}

static int bad;

static void expect(int sig, sighandler_t want, const char *what)
{
	struct sigaction old;
	memset(&old, 0xff, sizeof old);
	if (sigaction(sig, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != want) {
		printf("%s: sigaction(%d) reports %p, flags %#x\n", what, sig, (void *)old.sa_handler,
		       (unsigned)old.sa_flags);
		bad = 1;
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	burn();
	fflush(stdout);
	if (strcmp(mode, "ign_reset") == 0) {
		expect(SIGINT, SIG_IGN, "at start");
		signal(SIGINT, SIG_DFL);
		raise(SIGINT);
	} else if (strcmp(mode, "restore") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = crash_handler;
		sigaction(SIGTERM, &sa, NULL);
		raise(SIGTERM);
	} else if (strcmp(mode, "resethand") == 0) {
		struct sigaction old;
		set_oneshot(SIGABRT);
		sigaction(SIGABRT, NULL, &old);
		if (old.sa_handler != oneshot || !(old.sa_flags & SA_RESETHAND))
			printf("resethand: query reports %p, flags %#x\n", (void *)old.sa_handler,
			       (unsigned)old.sa_flags);
		fflush(stdout);
		raise(SIGABRT);
	} else if (strcmp(mode, "ignore") == 0) {
		signal(SIGINT, SIG_IGN);
		raise(SIGINT);
		printf("alive\n");
		return 0;
	} else if (strcmp(mode, "query") == 0) {
		expect(SIGTERM, SIG_DFL, "at start");
		expect(SIGHUP, SIG_DFL, "at start");
		expect(SIGSEGV, SIG_DFL, "at start");
		expect(SIGPROF, SIG_DFL, "at start");
		if (signal(SIGTERM, SIG_IGN) != SIG_DFL) {
			printf("signal(SIGTERM) did not return SIG_DFL\n");
			bad = 1;
		}
		expect(SIGTERM, SIG_IGN, "after SIG_IGN");
		signal(SIGTERM, noop);
		expect(SIGTERM, noop, "after a handler");
		struct sigaction sa, old;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGTERM, &sa, &old);
		if (old.sa_handler != noop) {
			printf("sigaction(SIGTERM) old is not the handler\n");
			bad = 1;
		}
		sigaction(SIGTERM, NULL, &old);
		if (old.sa_handler != SIG_DFL || old.sa_flags != SA_RESTART) {
			printf("after SIG_DFL: %p, flags %#x\n", (void *)old.sa_handler,
			       (unsigned)old.sa_flags);
			bad = 1;
		}
		if (sigset(SIGHUP, SIG_HOLD) != SIG_DFL || sigset(SIGHUP, SIG_DFL) != SIG_HOLD) {
			printf("sigset(SIGHUP) reports a handler\n");
			bad = 1;
		}
		expect(SIGHUP, SIG_DFL, "after sigset");
		if (!bad)
			printf("query ok\n");
		return bad;
	} else if (strcmp(mode, "vfork") == 0) {
		struct sigaction old;
		set_oneshot(SIGHUP);
		pid_t pid = vfork();
		if (pid == 0) {
			signal(SIGHUP, SIG_DFL);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		sigaction(SIGHUP, NULL, &old);
		if (old.sa_handler != oneshot || !(old.sa_flags & SA_RESETHAND)) {
			printf("vfork: the parent's SIGHUP reports %p, flags %#x\n",
			       (void *)old.sa_handler, (unsigned)old.sa_flags);
			return 1;
		}
		printf("vfork ok\n");
		return 0;
	}
	printf("still here\n");
	return 3;
}
