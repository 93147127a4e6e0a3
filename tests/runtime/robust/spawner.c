/*
 * spawner.c - the program cprof record's tests run: the parent burns CPU
 * in parent_work, starts itself as a child ("child") that burns in
 * child_work, waits for it, and exits with status 3 (so the test sees the
 * status forwarded).  "term" makes it kill itself with SIGTERM instead;
 * "fork" runs the child with fork() alone, no exec.
 */
#include "burn.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static __attribute__((noinline)) uint64_t parent_work(void)
{
	return burn(100000000);
}

static __attribute__((noinline)) uint64_t child_work(void)
{
	return burn(100000000);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		child_work();
		printf("child done\n");
		return 0;
	}
	parent_work();
	if (argc > 1 && strcmp(argv[1], "term") == 0) {
		printf("terminating\n");
		fflush(stdout);
		raise(SIGTERM);
		return 1;
	}
	char *cargv[] = { argv[0], "child", NULL };
	pid_t pid;
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "fork") == 0) {
		pid = fork();
		if (pid == 0) {
			child_work();
			printf("child done\n");
			exit(0);
		}
	} else if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, cargv, environ) != 0)
		return 1;
	int st;
	waitpid(pid, &st, 0);
	printf("parent done, child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 3;
}
