/*
 * treeprog.c - one program for the process-tree and exit-path tests
 * (tests/e2e/test_runtime_tree.py, test_runtime_env.py): it burns CPU in
 * burn_loop for MS milliseconds of its own CPU time, then ends as MODE says:
 *
 *   treeprog MS            return from main (exit)
 *   treeprog MS _exit      _exit(0), as dash and fork children end
 *   treeprog MS segv       a write through NULL (dies of SIGSEGV)
 *   treeprog MS abort      abort() (dies of SIGABRT)
 *   treeprog MS kill       SIGKILL to itself (nothing can be written)
 *   treeprog MS alloc      also keeps 16 MiB allocated in keep_big
 *   treeprog MS fork       forks a child that keeps 8 MiB in keep_child
 *                          and burns in child_loop, then waits for it
 *   treeprog MS serve      after burning, sleeps 3 s (an endpoint's life)
 *   treeprog MS spawn      first runs `true` (fork, exec, wait: node's
 *                          execSync at start), then burns and sleeps 3 s
 *   treeprog MS spawnbusy  first starts `sleep 6` without CPROF_HTTP and
 *                          leaves it running, then burns and sleeps 3 s
 *   treeprog MS spawnserve first starts `treeprog 0 serve` (a server of the
 *                          tree: it binds), waits until CPROF_HTTP's port
 *                          accepts, burns, waits for it to end, sleeps 1 s
 *
 * It prints "treeprog done" before it ends normally.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile double sink;

static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

__attribute__((noinline)) static void burn_loop(double ms)
{
	double end = cpu_ms() + ms;
	while (cpu_ms() < end)
		for (int i = 0; i < 20000; i++)
			sink += i * 0.5;
}

__attribute__((noinline)) static void child_loop(double ms)
{
	double end = cpu_ms() + ms;
	while (cpu_ms() < end)
		for (int i = 0; i < 20000; i++)
			sink -= i * 0.25;
}

static void *volatile kept[64];
static int *volatile nowhere;

__attribute__((noinline)) static void keep_big(void)
{
	for (int i = 0; i < 16; i++) {
		kept[i] = malloc(1 << 20);
		memset(kept[i], 1, 1 << 20);
	}
}

__attribute__((noinline)) static void keep_child(void)
{
	for (int i = 0; i < 8; i++) {
		kept[32 + i] = malloc(1 << 20);
		memset(kept[32 + i], 2, 1 << 20);
	}
}

/* Wait (<= 10 s) until 127.0.0.1:PORT of CPROF_HTTP accepts a connection. */
static void wait_served(void)
{
	const char *at = getenv("CPROF_HTTP"), *colon = at ? strrchr(at, ':') : NULL;
	if (!colon)
		return;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(colon + 1)),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	for (int i = 0; i < 1000; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return;
		usleep(10000);
	}
}

/* Start another program at once (fork + exec), as a program's helper:
 * prog with CPROF_HTTP dropped from its environment when quiet. */
static pid_t start_program(char *const argv[], int quiet)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (quiet)
			unsetenv("CPROF_HTTP");
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	double ms = argc > 1 ? atof(argv[1]) : 200;
	const char *mode = argc > 2 ? argv[2] : "";
	pid_t helper = -1;
	if (strcmp(mode, "spawn") == 0) {
		int st;
		waitpid(start_program((char *[]){ "true", NULL }, 0), &st, 0);
	}
	if (strcmp(mode, "spawnbusy") == 0)
		helper = start_program((char *[]){ "sleep", "6", NULL }, 1);
	pid_t server = -1;
	if (strcmp(mode, "spawnserve") == 0) {
		server = start_program((char *[]){ argv[0], "0", "serve", NULL }, 0);
		wait_served();
	}
	if (strcmp(mode, "alloc") == 0)
		keep_big();
	if (strcmp(mode, "fork") == 0) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			keep_child();
			child_loop(ms);
			exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
	}
	burn_loop(ms);
	if (strcmp(mode, "_exit") == 0)
		_exit(0);
	if (strcmp(mode, "segv") == 0)
		*(volatile int *)nowhere = 1;
	if (strcmp(mode, "abort") == 0)
		abort();
	if (strcmp(mode, "kill") == 0)
		kill(getpid(), SIGKILL);
	if (server > 0) {
		int st;
		waitpid(server, &st, 0);
		sleep(1);
	} else if (strcmp(mode, "serve") == 0 || strncmp(mode, "spawn", 5) == 0) {
		sleep(3);
	}
	if (helper > 0) {
		int st;
		kill(helper, SIGTERM);
		waitpid(helper, &st, 0);
	}
	printf("treeprog done\n");
	return 0;
}
