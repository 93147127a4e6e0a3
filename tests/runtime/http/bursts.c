/*
 * bursts.c - a program that allocates and contends only when told, for
 * comparing the server's scraped deltas with the runtime's own
 * `seconds=` answers (tests/e2e/test_server_scrape.py): between commands
 * it sleeps in read(2) and records nothing, so any two windows that both
 * hold a burst hold exactly the same events.  Nothing of cprof in it: the
 * runtime is preloaded (LD_PRELOAD, CPROF_HTTP).
 *
 *   bursts          then, one command a line on stdin:
 *   alloc S N SIZE  N malloc+free of SIZE bytes at site S (a, b or c:
 *                   alloc_a() ... alloc_c() are on the stack)
 *   lock S N        N contended handoffs of one mutex between a thread
 *                   holding it ~1 ms (hold_S(): the contended unlocks, the
 *                   mutex profile) and the main thread waiting for it
 *                   (wait_S(): the block profile)
 *
 * Prints "ready" at start and "ok START END" after each command, the wall
 * clock (CLOCK_REALTIME, ns) before and after its work, so a test can tell
 * whether a profile's window held the whole burst (stdio's buffers are
 * allocated before the first command).  EOF ends it.
 *
 * Built at -O0 so no call is a tail call: each site keeps its frame.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int held;         /* the holder has mu: the waiter may try */
static volatile unsigned long sink;

static void allocs(long n, long size)
{
	for (long i = 0; i < n; i++) {
		char *p = malloc((size_t)size);
		if (!p)
			return;
		p[0] = (char)i;
		sink += (unsigned char)p[0];
		free(p);
	}
}

/* The holder: takes mu, says so, keeps it ~1 ms, gives it back, then
 * waits until the waiter has had it. */
static void hold(long n)
{
	struct timespec ms = { 0, 1000000 };
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&mu);
		atomic_store(&held, 1);
		nanosleep(&ms, NULL);
		pthread_mutex_unlock(&mu);
		while (atomic_load(&held))
			sched_yield();
	}
}

/* The waiter: once the holder has mu, blocks on it (one contention),
 * then lets the holder go on. */
static void contend(long n, void *(*holder)(void *))
{
	pthread_t t;
	if (pthread_create(&t, NULL, holder, (void *)n))
		return;
	for (long i = 0; i < n; i++) {
		while (!atomic_load(&held))
			sched_yield();
		pthread_mutex_lock(&mu);
		sink++;
		pthread_mutex_unlock(&mu);
		atomic_store(&held, 0);
	}
	pthread_join(t, NULL);
}

#define SITE(x)                                                                  \
	__attribute__((noinline)) static void alloc_##x(long n, long size)       \
	{                                                                        \
		allocs(n, size);                                                 \
		sink++;                                                          \
	}                                                                        \
	__attribute__((noinline)) static void *hold_##x(void *arg)               \
	{                                                                        \
		hold((long)arg);                                                 \
		sink++;                                                          \
		return NULL;                                                     \
	}                                                                        \
	__attribute__((noinline)) static void wait_##x(long n)                   \
	{                                                                        \
		contend(n, hold_##x);                                            \
		sink++;                                                          \
	}
SITE(a)
SITE(b)
SITE(c)

int main(void)
{
	char line[256];
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		char what[16], site = 0;
		long n = 0, size = 0;
		int k = sscanf(line, "%15s %c %ld %ld", what, &site, &n, &size);
		struct timespec t0, t1;
		clock_gettime(CLOCK_REALTIME, &t0);
		if (k >= 3 && !strcmp(what, "alloc") && size > 0) {
			if (site == 'a')
				alloc_a(n, size);
			else if (site == 'b')
				alloc_b(n, size);
			else if (site == 'c')
				alloc_c(n, size);
		} else if (k >= 3 && !strcmp(what, "lock")) {
			if (site == 'a')
				wait_a(n);
			else if (site == 'b')
				wait_b(n);
			else if (site == 'c')
				wait_c(n);
		}
		clock_gettime(CLOCK_REALTIME, &t1);
		printf("ok %lld %lld\n", (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec,
		       (long long)t1.tv_sec * 1000000000LL + t1.tv_nsec);
		fflush(stdout);
	}
	return 0;
}
