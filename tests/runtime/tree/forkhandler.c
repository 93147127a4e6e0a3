/*
 * forkhandler.c - a program whose own fork child handler burns CPU, for
 * the rule that a followed child's CPU profile starts as fork returns in
 * the child, after every fork handler (the runtime's and the program's).
 *
 *   forkhandler MS   the child handler burns MS ms in handler_burn, the
 *                    child then burns MS ms in child_work and exits.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long ms;
static volatile unsigned long sink;

static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

__attribute__((noinline)) static void spin(void)
{
	double end = cpu_ms() + (double)ms;
	while (cpu_ms() < end)
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i * 7;
}

__attribute__((noinline)) static void handler_burn(void) { spin(); }
__attribute__((noinline)) static void child_work(void) { spin(); }

int main(int argc, char **argv)
{
	ms = argc > 1 ? atol(argv[1]) : 200;
	pthread_atfork(NULL, NULL, handler_burn);
	pid_t p = fork();
	if (p == 0) {
		child_work();
		exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
