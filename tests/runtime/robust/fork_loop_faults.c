/* fork_loop_faults.c - the page faults a single-threaded fork-heavy
 * program (a shell, make) pays per fork + _exit + waitpid, parent and
 * children together: every page the runtime's fork wrapper and fork
 * handlers write is a copy-on-write fault in the parent or the child,
 * and every code page the child runs is one more.  No thread is started,
 * so glibc's fork takes none of its multi-threaded locks.  Prints
 * "faults_per_fork F" over 400 forks (after 20 to warm up). */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static long faults(void)
{
	struct rusage s, c;
	getrusage(RUSAGE_SELF, &s);
	getrusage(RUSAGE_CHILDREN, &c);
	return s.ru_minflt + c.ru_minflt;
}

static int one(void)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0)
		_exit(0);
	int st;
	return waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(void)
{
	enum { WARM = 20, N = 400 };
	for (int i = 0; i < WARM; i++)
		if (one() != 0)
			return 1;
	long f0 = faults();
	for (int i = 0; i < N; i++)
		if (one() != 0)
			return 1;
	printf("faults_per_fork %.2f\n", (double)(faults() - f0) / N);
	return 0;
}
