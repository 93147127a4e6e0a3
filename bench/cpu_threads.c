/*
 * cpu_threads.c - the program of bench/cpu_threads.sh: creates and joins
 * argv[1] threads that do nothing, one after another, and prints the
 * wall time per thread; with argv[2] = "hold", first starts argv[3]
 * threads that stay blocked (reading a pipe) until the end, so the runtime
 * holds that many sampling clocks at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *nothing(void *a) { return a; }

static int pfd[2];
static void *holder(void *a)
{
	char c;
	while (read(pfd[0], &c, 1) < 0)
		;
	return a;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int hold = argc > 3 && strcmp(argv[2], "hold") == 0 ? atoi(argv[3]) : 0;
	pthread_t *h = calloc((size_t)hold + 1, sizeof *h);
	if (pipe(pfd) != 0)
		return 1;
	for (int i = 0; i < hold; i++)
		if (pthread_create(&h[i], NULL, holder, NULL) != 0)
			return 1;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, nothing, NULL) != 0)
			return 1;
		pthread_join(t, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	close(pfd[1]);
	for (int i = 0; i < hold; i++)
		pthread_join(h[i], NULL);
	double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
	printf("%.2f us per thread\n", us / n);
	return 0;
}
