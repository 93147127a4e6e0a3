/*
 * worker.c - the HTTP endpoint's test program: an unchanged program
 * (nothing of cprof in it) that keeps busy until its time is up, so the
 * endpoint started by CPROF_HTTP has something to profile: threads
 * burning CPU in http_burn(), allocating in http_alloc() (some kept live),
 * contending on one mutex in http_lock().
 *
 *   worker SECONDS [THREADS]
 *
 * Prints "ready" when its threads run, and at the end "units N work_cpu_ns
 * W process_cpu_ns P": the work done, the CPU time of the working threads
 * and of the whole process (for bench/http_load.sh, which compares them
 * with and without load on the endpoint: P - W is mostly what the
 * runtime's own threads used).  SIGTERM ends it early (still printing).
 */
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static atomic_ulong units, work_cpu_ns;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long sink;
static void *live[256];

__attribute__((noinline)) static unsigned long http_burn(unsigned long x)
{
	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

__attribute__((noinline)) static void http_alloc(unsigned long x)
{
	size_t n = 64 + (x % 4096);
	char *p = malloc(n);
	if (!p)
		return;
	memset(p, (int)x, n);
	unsigned slot = (unsigned)(x % 256);
	free(live[slot]);   /* racy on purpose? no: each thread owns a slot range */
	live[slot] = p;
}

__attribute__((noinline)) static void http_lock(unsigned long x)
{
	pthread_mutex_lock(&mu);
	sink += http_burn(x) & 1;
	pthread_mutex_unlock(&mu);
}

static void *work(void *arg)
{
	unsigned long id = (unsigned long)arg, x = id + 1;
	while (!atomic_load(&stop)) {
		x = http_burn(x);
		/* slots id*64 .. id*64+63: no two threads share one */
		http_alloc((x % 64) + id * 64);
		if ((x & 7) == 0)
			http_lock(x);
		atomic_fetch_add(&units, 1);
	}
	sink += x;
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	atomic_fetch_add(&work_cpu_ns, (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec);
	return NULL;
}

static void on_term(int sig) { (void)sig; atomic_store(&stop, 1); }

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	int n = argc > 2 ? atoi(argv[2]) : 2;
	if (n < 1 || n > 4)
		n = 2;
	signal(SIGTERM, on_term);
	pthread_t th[4];
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, work, (void *)(unsigned long)i);
	printf("ready\n");
	fflush(stdout);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!atomic_load(&stop) &&
		 (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	unsigned long proc_ns = (unsigned long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000UL +
				(unsigned long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000UL;
	printf("units %lu work_cpu_ns %lu process_cpu_ns %lu\n", (unsigned long)atomic_load(&units),
	       (unsigned long)atomic_load(&work_cpu_ns), proc_ns);
	return 0;
}
