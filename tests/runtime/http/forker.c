/*
 * forker.c - fork safety of the HTTP endpoint: the program forks a child
 * that lives on (30 s, or until the test kills it) without exec, prints
 * "child PID" and exits.  Started with CPROF_HTTP, the child must not keep
 * the parent's listening socket: once the parent is gone, nobody is
 * listening on the port.  The child lets go of the standard output and
 * error at once, so a caller reading them to their end returns when the
 * parent exits, while the child still runs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
		sleep(30);
		_exit(0);
	}
	printf("child %ld\n", (long)pid);
	return 0;
}
