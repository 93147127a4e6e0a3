/*
 * sleepers.c - thread snapshots never disturb the program: threads sit in
 * sem_wait, nanosleep, read on a pipe, epoll_wait and pthread_cond_wait
 * (any EINTR or early return makes the program exit with status 3), one
 * thread spins on the CPU (it is the one a snapshot signals), and the main
 * thread takes N snapshots with cprof_threads_write (found with dlsym: the
 * runtime is preloaded) and checks that each lists every thread with its
 * function on its stack.
 *
 *   sleepers N OUTDIR   N snapshots (debug=D, CPROF_TEST_DEBUG, default 2),
 *                       then OUTDIR/threads.{pb.gz,txt,dump}; prints
 *                       "snapshots N ok" or the first failure (exit 4)
 *
 * Built with -DDIRECT (linked with libcprof.a, -rdynamic), the N snapshots
 * are the runtime's own (rt_snapshot_take: the same /proc reads, unwinding
 * and signals, without symbolizing, which costs ~100 ms per snapshot) and
 * each stack is checked with dladdr: the job's function and, above it,
 * job_start.  The spinner and the condition waiter carry labels
 * (cprof_labels_push): the spinner's come with its answer to the signal,
 * the blocked waiter's from its published label slot (threads.c).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static sem_t sem;
static int pfd[2], efd_pipe[2], epfd;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cond_flag;
static _Atomic int spin_stop, ready;

static void fail(const char *what, int rc)
{
	fprintf(stderr, "%s returned %d (errno %d: %s)\n", what, rc, errno, strerror(errno));
	_exit(3);
}

__attribute__((noinline)) void in_sem_wait(void)
{
	for (;;) {
		int rc = sem_wait(&sem);
		if (rc != 0)
			fail("sem_wait", rc);
		__asm__ volatile("" ::: "memory");
	}
}

__attribute__((noinline)) void in_nanosleep(void)
{
	for (;;) {
		struct timespec ts = { 3600, 0 };
		int rc = nanosleep(&ts, NULL);
		if (rc != 0)
			fail("nanosleep", rc);
	}
}

__attribute__((noinline)) void in_read(void)
{
	char c;
	ssize_t n = read(pfd[0], &c, 1);
	fail("read", (int)n);
}

__attribute__((noinline)) void in_epoll_wait(void)
{
	struct epoll_event ev;
	int n = epoll_wait(epfd, &ev, 1, -1);
	fail("epoll_wait", n);
}

__attribute__((noinline)) void in_cond_wait(void)
{
	pthread_mutex_lock(&mu);
	while (!cond_flag) {
		int rc = pthread_cond_wait(&cv, &mu);
		if (rc != 0)
			fail("pthread_cond_wait", rc);
	}
	pthread_mutex_unlock(&mu);
	fail("pthread_cond_wait woke", 0);
}

static volatile unsigned long sink;
__attribute__((noinline)) void in_spin(void)
{
	unsigned long x = 1;
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) {
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
		sink = x;
	}
}

struct job {
	const char *name;
	void (*fn)(void);
	const char *fname;
};
static const struct job jobs[] = {
	{ "semwait", in_sem_wait, "in_sem_wait" },
	{ "sleeper", in_nanosleep, "in_nanosleep" },
	{ "reader", in_read, "in_read" },
	{ "epoller", in_epoll_wait, "in_epoll_wait" },
	{ "condwait", in_cond_wait, "in_cond_wait" },
	{ "spinner", in_spin, "in_spin" },
};
#define NJOBS (sizeof jobs / sizeof jobs[0])

typedef struct { void *prev; uint32_t cur; } scope_t;   /* cprof_labels_scope */

void *job_start(void *arg)
{
	const struct job *j = arg;
	pthread_setname_np(pthread_self(), j->name);
	if (j->fn == in_spin || j->fn == in_cond_wait) {
		int (*push)(const char *const *, size_t, unsigned, void *) =
			(int (*)(const char *const *, size_t, unsigned, void *))dlsym(RTLD_DEFAULT,
										"cprof_labels_push");
		static const char *const spin[] = { "role", "spin" }, *const cond[] = { "role", "cond" };
		static char scope[2][64];
		if (push)
			push(j->fn == in_spin ? spin : cond, 1, 0, scope[j->fn == in_spin]);
	}
	ready++;
	j->fn();
	return NULL;
}

#ifdef DIRECT
#include "cprof.h"
#include "tprof.h"
/* Every job's thread is in the snapshot with its function on its stack. */
static int check_direct(int k)
{
	rt_snapshot s;
	int rc = rt_snapshot_take(&s);
	if (rc != 0) {
		printf("snapshot %d failed: %d\n", k, rc);
		return -1;
	}
	for (size_t i = 0; i < NJOBS; i++) {
		const rt_tsnap *t = NULL;
		for (size_t m = 0; m < s.n; m++)
			if (strcmp(s.t[m].name, jobs[i].name) == 0)
				t = &s.t[m];
		/* its function, and the walk goes on past it to its caller */
		bool found = false, caller = false;
		for (int f = 0; t && f < t->npcs; f++) {
			Dl_info di;
			if (!dladdr((void *)t->pcs[f], &di) || !di.dli_sname)
				continue;
			found = found || strcmp(di.dli_sname, jobs[i].fname) == 0;
			caller = caller || (found && strcmp(di.dli_sname, "job_start") == 0);
		}
		found = found && caller;
		if (!found) {
			printf("snapshot %d: thread %s %s (state %s, %d frames, how %d)\n", k,
			       jobs[i].name, t ? "not in its function" : "missing",
			       t ? t->state : "-", t ? t->npcs : 0, t ? t->how : -1);
			rt_snapshot_free(&s);
			return -1;
		}
	}
	rt_snapshot_free(&s);
	return 0;
}
#endif

/* The block of thread `name` in a debug=2 dump, checked for fname. */
static int check_dump(const char *text, const struct job *j)
{
	char key[64];
	snprintf(key, sizeof key, "\nname: %s\n", j->name);
	const char *b = strstr(text, key);
	if (!b)
		return -1;
	const char *e = strstr(b, "\n\n");
	char fn[64];
	snprintf(fn, sizeof fn, "\n%s(", j->fname);
	const char *f = strstr(b, fn);
	return f && (!e || f < e) ? 0 : -2;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sleepers N OUTDIR\n");
		return 2;
	}
	int n = atoi(argv[1]);
	const char *dir = argv[2];
	const char *dbg = getenv("CPROF_TEST_DEBUG");
	int debug = dbg ? atoi(dbg) : 2;
#ifdef DIRECT
	int (*tw)(int, int) = cprof_threads_write;
#else
	int (*tw)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "cprof_threads_write");
#endif
	if (!tw) {
		fprintf(stderr, "cprof_threads_write not found: preload libcprof.so\n");
		return 2;
	}
	sem_init(&sem, 0, 0);
	if (pipe(pfd) || pipe(efd_pipe))
		return 2;
	epfd = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	epoll_ctl(epfd, EPOLL_CTL_ADD, efd_pipe[0], &ev);
	pthread_t th[NJOBS];
	for (size_t i = 0; i < NJOBS; i++)
		pthread_create(&th[i], NULL, job_start, (void *)&jobs[i]);
	while (ready < (int)NJOBS)
		usleep(1000);
	usleep(500000);  /* let each reach its call (a sanitizer's interceptor may still be
			  * doing its own first-call work at 50 ms on a loaded machine) */

	int mfd = memfd_create("snap", 0);
	for (int k = 0; k < n; k++) {
#ifdef DIRECT
		if (check_direct(k) < 0)
			return 4;
		continue;
#endif
		ftruncate(mfd, 0);
		lseek(mfd, 0, SEEK_SET);
		int rc = tw(mfd, debug);
		if (rc != 0) {
			printf("snapshot %d failed: %d\n", k, rc);
			return 4;
		}
		if (debug != 2)
			continue;
		off_t len = lseek(mfd, 0, SEEK_CUR);
		char *text = malloc((size_t)len + 1);
		pread(mfd, text, (size_t)len, 0);
		text[len] = 0;
		for (size_t i = 0; i < NJOBS; i++) {
			int c = check_dump(text, &jobs[i]);
			if (c < 0) {
				printf("snapshot %d: thread %s %s\n%s\n", k, jobs[i].name,
				       c == -1 ? "missing" : "not in its function", text);
				return 4;
			}
		}
		free(text);
	}
	static const char *const names[] = { "threads.pb.gz", "threads.txt", "threads.dump" };
	for (int d = 0; d < 3; d++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[d]);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || tw(fd, d) != 0)
			return 5;
		close(fd);
	}
	printf("snapshots %d ok\n", n);
	fflush(stdout);
	_exit(0);   /* the sleepers stay asleep */
}
