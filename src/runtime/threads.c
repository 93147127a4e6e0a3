/*
 * threads.c - the thread registry, pthread_create interposition and fork.
 *
 * The registry maps each profiled thread's id to its CPU timer, under one
 * mutex that no signal handler ever takes.  cprof_cpu_start arms a timer
 * for every thread listed in /proc/self/task; threads created afterwards
 * arm their own: our pthread_create (the libc one found with
 * dlsym(RTLD_NEXT) at load time) starts each thread in a trampoline that
 * registers it before calling the program's start routine, and a
 * thread-specific-data destructor deletes its timer when it exits (return,
 * pthread_exit or cancellation).  A thread registered twice (created while
 * start enumerates) keeps one timer.  Timers of threads that existed before
 * the start and exit during it are deleted at stop.
 *
 * fork: the registry lock is held across fork() (pthread_atfork) so the
 * child never inherits it locked by another thread; the child, which
 * inherits no timers, starts with profiling off and an empty registry.
 */
#include "rt_int.h"
#include "cprof.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static create_fn real_create;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg { int tid, timer; } *reg;
static size_t nreg, capreg;
static bool reg_active;
static long reg_period;
static pthread_key_t exit_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
void (*rt_fork_child_hook)(void);

static int my_tid(void)
{
	return (int)syscall(SYS_gettid);
}

/* Arm a timer for tid unless it has one.  reg_mu held. */
static int reg_add(int tid)
{
	for (size_t i = 0; i < nreg; i++)
		if (reg[i].tid == tid)
			return 0;
	if (nreg == capreg) {
		size_t nc = capreg ? capreg * 2 : 64;
		struct reg *nr = realloc(reg, nc * sizeof *nr);
		if (!nr)
			return CPROF_ERR_NOMEM;
		reg = nr;
		capreg = nc;
	}
	int id;
	int rc = rt_timer_create(tid, reg_period, &id);
	if (rc < 0)
		return rc;   /* the thread may have exited meanwhile */
	reg[nreg].tid = tid;
	reg[nreg].timer = id;
	nreg++;
	return 0;
}

static void reg_remove(int tid)
{
	for (size_t i = 0; i < nreg; i++)
		if (reg[i].tid == tid) {
			rt_timer_delete(reg[i].timer);
			reg[i] = reg[--nreg];
			return;
		}
}

static void on_thread_exit(void *v)
{
	(void)v;
	int e = errno;
	pthread_mutex_lock(&reg_mu);
	reg_remove(my_tid());
	pthread_mutex_unlock(&reg_mu);
	errno = e;
}

static void fork_prepare(void) { pthread_mutex_lock(&reg_mu); }
static void fork_parent(void) { pthread_mutex_unlock(&reg_mu); }
static void fork_child(void)
{
	atomic_store(&rt_cpu_on, 0);
	pthread_mutex_init(&reg_mu, NULL);
	nreg = 0;           /* timers are not inherited */
	reg_active = false;
	rt_ring_reset();
	rt_collector_forget();
	if (rt_fork_child_hook)
		rt_fork_child_hook();
}

static void do_init(void)
{
	if (!real_create)
		real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	pthread_key_create(&exit_key, on_thread_exit);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void rt_threads_init(void)
{
	pthread_once(&init_once, do_init);
}

int rt_threads_timers_start(long period_ns)
{
	pthread_mutex_lock(&reg_mu);
	reg_active = true;
	reg_period = period_ns;
	int rc = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d) {
		rc = CPROF_ERR_SYSTEM;
		rt_set_error("cannot list threads: /proc/self/task: %s", strerror(errno));
	} else {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			int tid = atoi(de->d_name);
			if (tid == atomic_load(&rt_collector_tid))
				continue;   /* the runtime's own thread */
			int r = reg_add(tid);
			if (r == CPROF_ERR_NOMEM)
				rc = r;
		}
		closedir(d);
	}
	if (rc == 0 && nreg == 0) {
		rc = CPROF_ERR_SYSTEM;
		rt_set_error("cannot create CPU timers: %s", strerror(errno));
	}
	pthread_mutex_unlock(&reg_mu);
	if (rc < 0)
		rt_threads_timers_stop();
	return rc;
}

void rt_threads_timers_stop(void)
{
	pthread_mutex_lock(&reg_mu);
	reg_active = false;
	for (size_t i = 0; i < nreg; i++)
		rt_timer_delete(reg[i].timer);
	nreg = 0;
	pthread_mutex_unlock(&reg_mu);
}

/* ---- pthread_create -------------------------------------------------------- */

struct tramp {
	void *(*fn)(void *);
	void *arg;
	uint32_t labels;    /* inherited label set (labels.c), or 0 */
};

static void *tramp_start(void *p)
{
	struct tramp t = *(struct tramp *)p;
	free(p);
	rt_labels_set_current(t.labels);
	pthread_mutex_lock(&reg_mu);
	if (reg_active)
		reg_add(my_tid());
	pthread_mutex_unlock(&reg_mu);
	pthread_setspecific(exit_key, (void *)1);  /* on exit: delete its timer */
	return t.fn(t.arg);
}

int rt_pthread_create_real(pthread_t *th, const pthread_attr_t *attr,
			   void *(*fn)(void *), void *arg)
{
	rt_threads_init();
	if (!real_create)
		return EAGAIN;
	return real_create(th, attr, fn, arg);
}

__attribute__((visibility("default")))
int pthread_create(pthread_t *th, const pthread_attr_t *attr,
		   void *(*fn)(void *), void *arg)
{
	rt_threads_init();
	if (!real_create)
		return EAGAIN;
	struct tramp *t = malloc(sizeof *t);
	if (!t)
		return real_create(th, attr, fn, arg);
	t->fn = fn;
	t->arg = arg;
	t->labels = rt_labels_inherited();
	int rc = real_create(th, attr, tramp_start, t);
	if (rc != 0)
		free(t);
	return rc;
}
