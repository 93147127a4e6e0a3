/*
 * selfwork.c - a program that asks the runtime for work on its own thread
 * while the CPU profiler runs: it alternates a busy loop (`burn`) with
 * writing a symbolized threads profile to /dev/null (the runtime reads
 * /proc, unwinds and symbolizes, on this thread).  The CPU profile must
 * show `burn` and none of the runtime's functions.  The runtime is
 * preloaded; its API is found with dlsym, so the program runs without it.
 *
 *   selfwork MS     (about MS milliseconds of CPU)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static __attribute__((noinline)) void burn(void)
{
	for (unsigned long i = 0; i < 2000000; i++)
		sink += i * i;
}

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	double ms = argc > 1 ? atof(argv[1]) : 400;
	int (*tw)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "cprof_threads_write");
	if (!tw) {
		fprintf(stderr, "selfwork: the runtime is not loaded\n");
		return 2;
	}
	int fd = open("/dev/null", O_WRONLY);
	while (cpu_ms() < ms) {
		burn();
		if (tw(fd, 1) != 0)
			return 1;
	}
	puts("ok");
	return 0;
}
