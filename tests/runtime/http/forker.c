/*
 * forker.c - fork safety of the HTTP endpoint: the program forks a child
 * that lives on (3 s) without exec, prints "child PID" and exits.  Started
 * with CPROF_HTTP, the child must not keep the parent's listening socket:
 * once the parent is gone, nobody is listening on the port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		sleep(3);
		_exit(0);
	}
	printf("child %ld\n", (long)pid);
	return 0;
}
