/* fork_faults.c - what a fork child pays before it runs a line of its
 * own: the page faults taken between fork's return in the child (after
 * the pthread_atfork handlers ran) and its first getrusage.  A child's
 * counters start at zero, so ru_minflt there counts the handlers' writes:
 * a runtime that rewrites its tables in every child (1.25 MiB of wait
 * records, the CPU sample ring) shows hundreds of faults per fork; one
 * with O(1) handlers, a few.  A thread waits on a mutex and a condition
 * first, so the wait tables hold entries.  Prints the median over 21
 * forks: "child_minflt N". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, waiter, NULL);
	usleep(20000);
	long v[21];
	for (int i = 0; i < 21; i++) {
		int fd[2];
		if (pipe(fd) != 0)
			return 1;
		pid_t p = fork();
		if (p == 0) {
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			long n = ru.ru_minflt;
			(void)!write(fd[1], &n, sizeof n);
			_exit(0);
		}
		close(fd[1]);
		if (read(fd[0], &v[i], sizeof v[i]) != (ssize_t)sizeof v[i])
			return 1;
		close(fd[0]);
		waitpid(p, NULL, 0);
	}
	pthread_mutex_lock(&mu);
	ready = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	qsort(v, 21, sizeof v[0], cmp);
	printf("child_minflt %ld\n", v[10]);
	return 0;
}
