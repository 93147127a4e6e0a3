/*
 * shares.c - a CPU-bound workload for the CPU profiler's tests: each of
 * NTHREADS threads (argv[1], default 2) spends its CPU in three functions
 * in the ratio 60/30/10 (burn_a, burn_b, burn_c), for argv[2] seconds of
 * CPU per thread (default 1).  argv[3] chooses how main ends: "return",
 * "exit", "sigterm" or "sigint" (raise the signal at itself after the
 * work), "api" (the program starts and stops the profile itself: linked
 * with libcprof.a; argv[4] is the path).  Threads are named "worker-N".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef WITH_API
#include "cprof.h"
#endif

static double secs = 1.0;
static volatile unsigned long sink;

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The loop is a macro, so each burn_* is itself the leaf function and the
 * shares show in flat time whatever the unwinder does; burn_c's work is an
 * always-inline function, so its samples carry an inline frame (step_c
 * inlined into burn_c).  The empty asm after each call keeps burn_* from
 * being tail calls. */
#define SPIN(until) do { \
		unsigned long x_ = sink; \
		while (thread_cpu() < (until)) \
			for (int i_ = 0; i_ < 20000; i_++) \
				x_ = x_ * 6364136223846793005ul + 1442695040888963407ul; \
		sink = x_; \
	} while (0)

static inline __attribute__((always_inline)) void step_c(double until)
{
	SPIN(until);
}

__attribute__((noinline)) void burn_a(double s) { double u = thread_cpu() + s; SPIN(u); __asm__ volatile(""); }
__attribute__((noinline)) void burn_b(double s) { double u = thread_cpu() + s; SPIN(u); __asm__ volatile(""); }
__attribute__((noinline)) void burn_c(double s) { step_c(thread_cpu() + s); __asm__ volatile(""); }

static void *worker(void *arg)
{
	char name[16];
	snprintf(name, sizeof name, "worker-%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	/* slices of random length, so the phases never beat with the period */
	unsigned seed = (unsigned)(long)arg * 7919u + 1u;
	double slice;
	for (double done = 0; done < secs; done += slice) {
		slice = 0.02 + 0.06 * (rand_r(&seed) / (double)RAND_MAX);
		burn_a(slice * 0.6);
		burn_b(slice * 0.3);
		burn_c(slice * 0.1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	if (argc > 2)
		secs = atof(argv[2]);
	const char *how = argc > 3 ? argv[3] : "return";
#ifdef WITH_API
	if (strcmp(how, "api") == 0) {
		int rc = cprof_cpu_start(argv[4]);
		if (rc < 0) {
			fprintf(stderr, "start: %s\n", cprof_last_error());
			return 1;
		}
		rc = cprof_cpu_start(argv[4]);
		printf("second start: %d %s\n", rc, cprof_error_string(rc));
		rc = cprof_cpu_set_rate(500);
		printf("set_rate while running: %d\n", rc);
	}
#endif
	pthread_t th[64];
	if (n > 64)
		n = 64;
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (strcmp(how, "exit") == 0)
		exit(0);
	if (strcmp(how, "sigterm") == 0)
		raise(SIGTERM);
	if (strcmp(how, "sigint") == 0)
		raise(SIGINT);
#ifdef WITH_API
	if (strcmp(how, "api") == 0) {
		cprof_cpu_stats st;
		cprof_cpu_get_stats(&st);
		int rc = cprof_cpu_stop();
		printf("stop: %d samples %llu\n", rc, (unsigned long long)st.samples);
		printf("handler: %.0f ns per sample, lost %llu, truncated %llu\n",
		       st.samples ? (double)st.handler_ns / st.samples : 0.0,
		       (unsigned long long)(st.lost_ring_full + st.lost_unwind),
		       (unsigned long long)st.truncated);
		printf("second stop: %d\n", cprof_cpu_stop());
		return rc < 0;
	}
#endif
	return 0;
}
