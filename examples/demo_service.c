/*
 * demo_service.c - a small "service" that shows the profile shapes pprof
 * users learn first (issue 8), for examples/demo.sh:
 *
 *   - a tight-loop hotspot: validate_email() compiles its regular
 *     expression with regcomp() on every call, inside the request loop
 *     (the fix: compile once) -- the CPU profile's widest tower;
 *   - allocation churn: format_record() formats every record into a fresh
 *     malloc'd buffer that lives for a moment (the fix: reuse one buffer)
 *     -- the heap profile's alloc_space, and a slowly growing history
 *     that stays in use (inuse_space);
 *   - lock contention: the config cache's refresh holds its mutex across a
 *     slow backend call, so every reader waits behind it (the fix: fetch
 *     outside the lock, swap under it) -- the mutex profile;
 *   - a thread leak: every "subscription" starts a watcher thread that
 *     waits for a signal nobody sends (the fix: join or cancel them) --
 *     the threads profile.
 *
 *   demo_service [SECONDS]      (default 5)
 *
 * Threads: workers run until the deadline; the leaked watchers never end
 * (exit() takes them down).  Nothing here knows about the profiler: run it
 * under LD_PRELOAD=libcprof.so with the CPROF_*_PROFILE variables.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double deadline;
static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the hotspot: regcomp inside the loop ------------------------------- */

__attribute__((noinline)) static int validate_email(const char *s)
{
	regex_t re;
	/* compiled on every call: this is the bug */
	if (regcomp(&re, "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	int ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

__attribute__((noinline)) static void handle_signups(void)
{
	static const char *const emails[] = { "ada@example.org", "grace@example.com", "not an email",
					      "linus@kernel.example", "ken@bell-labs.example" };
	unsigned long ok = 0;
	for (int i = 0; i < 200; i++)
		ok += (unsigned long)validate_email(emails[i % 5]);
	sink += ok;
}

static void *signup_worker(void *arg)
{
	(void)arg;
	while (now() < deadline)
		handle_signups();
	return NULL;
}

/* ---- allocation churn: a fresh buffer per record ------------------------- */

#define HISTORY 65536
static char *history[HISTORY];
static size_t nhistory;

__attribute__((noinline)) static char *format_record(int id, double amount, const char *who)
{
	char *s = NULL;
	/* a fresh buffer for every record: this is the churn */
	if (asprintf(&s, "{\"id\":%d,\"amount\":%.2f,\"customer\":\"%s\",\"padding\":\"%064d\"}", id, amount,
		     who, id) < 0)
		return NULL;
	return s;
}

__attribute__((noinline)) static void export_orders(int batch)
{
	for (int i = 0; i < 500; i++) {
		char *r = format_record(batch * 500 + i, i * 1.25, "customer");
		if (!r)
			continue;
		sink += strlen(r);
		/* one record in 5 is kept: the in-use part of the heap profile */
		if (i % 5 == 0 && nhistory < HISTORY)
			history[nhistory++] = r;
		else
			free(r);
	}
}

static void *export_worker(void *arg)
{
	(void)arg;
	for (int b = 0; now() < deadline; b++)
		export_orders(b);
	return NULL;
}

/* ---- lock contention: refresh holds the lock across a slow call ---------- */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static int cache_version;

__attribute__((noinline)) static int slow_backend_fetch(void)
{
	usleep(20000);  /* 20 ms: a network round trip */
	return cache_version + 1;
}

__attribute__((noinline)) static void cache_refresh(void)
{
	pthread_mutex_lock(&cache_mu);
	/* the slow call under the lock: this is the bug */
	cache_version = slow_backend_fetch();
	pthread_mutex_unlock(&cache_mu);
}

__attribute__((noinline)) static int cache_get(void)
{
	pthread_mutex_lock(&cache_mu);
	int v = cache_version;
	pthread_mutex_unlock(&cache_mu);
	return v;
}

static void *refresher(void *arg)
{
	(void)arg;
	while (now() < deadline) {
		cache_refresh();
		usleep(2000);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	while (now() < deadline) {
		sink += (unsigned long)cache_get();
		usleep(500);
	}
	return NULL;
}

/* ---- a thread leak: watchers nobody stops --------------------------------- */

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;

__attribute__((noinline)) static void *watch_subscription(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&watch_mu);
	for (;;)   /* waits for a signal nobody sends: this is the leak */
		pthread_cond_wait(&watch_cv, &watch_mu);
	return NULL;
}

__attribute__((noinline)) static void subscribe(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, watch_subscription, NULL) == 0)
		pthread_detach(t);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	if (!(secs > 0 && secs < 3600))
		secs = 5;
	deadline = now() + secs;
	pthread_t t[6];
	pthread_create(&t[0], NULL, signup_worker, NULL);
	pthread_create(&t[1], NULL, export_worker, NULL);
	pthread_create(&t[2], NULL, refresher, NULL);
	for (int i = 3; i < 6; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	for (int i = 0; i < 16; i++) {
		subscribe();
		usleep((useconds_t)(secs * 1e6 / 32));
	}
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	printf("demo_service: done (%lu)\n", (unsigned long)sink % 10);
	return 0;
}
