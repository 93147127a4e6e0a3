/*
 * creator.c - threads created from two places, for the threadcreate
 * profile: spawn_three creates 3 threads, spawn_two 2, all joined; then
 * one thread (parked in pause_here, reading a pipe) is left alive so a
 * snapshot at exit shows its creator.  Profiles are written by the
 * runtime at exit (CPROF_THREADCREATE_PROFILE, CPROF_THREADS_PROFILE).
 *
 *   creator         as above; prints "done"
 *   creator spawn   creates no thread: forks and execs `creator` (which
 *                   inherits the environment), waits for it, prints its
 *                   exit status
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int pfd[2];

static void *work(void *x)
{
	return x;
}

__attribute__((noinline)) void spawn_three(void)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}

__attribute__((noinline)) void spawn_two(void)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

__attribute__((noinline)) void pause_here(void)
{
	char c;
	(void)!read(pfd[0], &c, 1);
}

static void *parked(void *x)
{
	pause_here();
	return x;
}

__attribute__((noinline)) void spawn_parked(void)
{
	pthread_t t;
	pthread_create(&t, NULL, parked, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "spawn") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(argv[0], argv[0], (char *)NULL);
			_exit(127);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		printf("%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return 0;
	}
	if (pipe(pfd))
		return 2;
	spawn_three();
	spawn_two();
	spawn_parked();
	usleep(100000);
	printf("done\n");
	return 0;
}
