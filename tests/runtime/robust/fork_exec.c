/*
 * fork_exec.c - process creation under the profiler: fork (the child keeps
 * working and, with the runtime loaded, reports that it is not profiled),
 * vfork followed by _exit and by exec, posix_spawn, and finally exec of
 * itself ("stage2"), which works and prints.  Every child's exit status is
 * checked; the output does not depend on timing.
 */
#include "burn.h"

#include <dlfcn.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int status_of(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "stage2") == 0) {
		burn(30000000);
		printf("stage2 done\n");
		return 0;
	}
	burn(20000000);

	/* fork: the child works, and is not profiled */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		burn(20000000);
		int (*running)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "cprof_cpu_running");
		printf("fork child: working, profiling %s\n", running && running() ? "on" : "off");
		fflush(stdout);
		_exit(7);
	}
	printf("fork child exit %d\n", status_of(pid));

	/* vfork + _exit, vfork + exec */
	fflush(stdout);
	pid = vfork();
	if (pid == 0)
		_exit(3);
	printf("vfork _exit %d\n", status_of(pid));
	pid = vfork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 4", (char *)NULL);
		_exit(99);
	}
	printf("vfork exec %d\n", status_of(pid));

	/* posix_spawn */
	char *sargv[] = { "sh", "-c", "echo spawned child; exit 5", NULL };
	fflush(stdout);
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, sargv, environ) != 0) {
		perror("posix_spawn");
		return 1;
	}
	printf("posix_spawn exit %d\n", status_of(pid));

	burn(10000000);
	/* exec: this process becomes stage2 */
	printf("exec stage2\n");
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "stage2", (char *)NULL);
	perror("exec");
	return 1;
}
