/* prefork.c - a pre-forking server in miniature (nginx's master_process
 * on): the master starts a thread (so that the fork child inherits a
 * thread that is not the process's first), then forks NWORKERS workers
 * that never exec, each burning CPU in a known chain of calls
 * (worker_loop -> worker -> work_outer -> work_middle -> work_inner ->
 * burn), on stack pages the unwinder has not read before, and waits for
 * them in master_wait, whose 128 KiB frame fills the same addresses of the
 * master's stack with other bytes: a worker whose unwinder read its
 * parent's memory (process_vm_readv on the parent's pid) found them
 * there and cut its stacks.
 * Under `cprof record --follow-fork` each worker writes its own profile,
 * whose stacks must reach main like the master's, not stop after a frame.
 * Prints one line per worker and exits 0 when all exited 0. */
#include "burn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NWORKERS 2

__attribute__((noinline)) static uint64_t work_inner(uint64_t n)
{
	return burn(n) + 1;
}

__attribute__((noinline)) static uint64_t work_middle(uint64_t n)
{
	uint64_t s = 0;
	for (int i = 0; i < 4; i++)
		s += work_inner(n / 4);
	return s + 1;
}

__attribute__((noinline)) static uint64_t work_outer(uint64_t n)
{
	return work_middle(n) + 1;
}

/* a worker, in a frame of a few pages (its return address lies on a page
 * the walk reaches past a gap) */
__attribute__((noinline)) static uint64_t worker(uint64_t n)
{
	volatile char big[8192];
	for (size_t i = 0; i < sizeof big; i += 1024)
		big[i] = (char)i;
	return work_outer(n) + big[4096];
}

__attribute__((noinline)) static int worker_loop(uint64_t n)
{
	uint64_t r = worker(n);
	return r == 0;   /* 0 */
}

/* the master waits in a large frame filled with other bytes */
__attribute__((noinline)) static int master_wait(const pid_t *kids, int n)
{
	volatile unsigned char junk[131072];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = 0x5a;
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
		printf("worker %d done\n", i);
	}
	return bad + junk[7] - 0x5a;
}

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, idle, NULL);
	work_outer(20000000);   /* the master's own work */
	pid_t kids[NWORKERS];
	for (int i = 0; i < NWORKERS; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (kids[i] == 0) {
			exit(worker_loop(150000000));   /* nginx's workers exit() too */
		}
	}
	int bad = master_wait(kids, NWORKERS);
	return bad != 0;
}
