/*
 * test_rt_sync.c - the interposed pthread primitives of libcprof, linked
 * statically (libcprof.a, so this program's own pthread calls go through
 * the wrappers): the wait records each blocked thread publishes
 * (rt_sync_waits: kind, object, second object, since, stack; cleared after
 * the wait and after a cancellation), rt_mutex_owner, and the mutex and
 * block profiles built in this process (the unlocker's stack charged with
 * a delay at least as long as it held the lock after the waiter blocked).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cprof.h"
#include "cprof_core.h"
#include "rt_wait.h"
#include "rt_profile.h"

/* Sanitizer builds: pthread_cancel makes glibc dlopen libgcc_s, whose
 * loader allocations (kept for the life of the process) reach LeakSanitizer
 * through the heap profiler's malloc, which hides their ld.so caller from
 * its own suppression.  Not a leak of the runtime. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:_dl_map_object_deps\nleak:_dl_new_object\n";
}

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* The record waiting on obj, polled for up to 10 s; false if none. */
static bool find_wait(const void *obj, rt_wait *out)
{
	static rt_wait w[256];
	for (int tries = 0; tries < 2000; tries++) {
		size_t n = rt_sync_waits(w, 256);
		for (size_t i = 0; i < n; i++)
			if (w[i].obj == obj) {
				*out = w[i];
				return true;
			}
		nap_ms(5);
	}
	return false;
}

static bool has_wait(const void *obj)
{
	static rt_wait w[256];
	size_t n = rt_sync_waits(w, 256);
	for (size_t i = 0; i < n; i++)
		if (w[i].obj == obj)
			return true;
	return false;
}

/* ---- a mutex waiter ---- */

static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int waiter_tid;

static _Atomic uintptr_t waiter_frame;   /* an address in rt_test_wait_here's frame */

void rt_test_wait_here(void);
__attribute__((noinline)) void rt_test_wait_here(void)
{
	volatile int here = 0;
	waiter_frame = (uintptr_t)&here;
	pthread_mutex_lock(&m1);
	pthread_mutex_unlock(&m1);
	__asm__ volatile("");
}

static void *mutex_waiter(void *p)
{
	(void)p;
	waiter_tid = gettid_();
	rt_test_wait_here();
	return NULL;
}

void rt_test_hold_and_release(void);
__attribute__((noinline)) void rt_test_hold_and_release(void)
{
	pthread_mutex_unlock(&m1);
	__asm__ volatile("");
}

static void test_mutex_wait_record_and_owner(void **state)
{
	(void)state;
	int64_t t0 = mono();
	pthread_mutex_lock(&m1);
	assert_int_equal(rt_mutex_owner(&m1), gettid_());
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, mutex_waiter, NULL), 0);
	rt_wait w;
	assert_true(find_wait(&m1, &w));
	assert_int_equal(w.kind, RT_WAIT_MUTEX);
	assert_int_equal(w.tid, waiter_tid);
	assert_null(w.obj2);
	assert_true(w.since_ns >= t0 && w.since_ns <= mono());
	/* nothing asks for stacks (no trace): none is walked at the wait; the
	 * record keeps the waiter's registers in the wrapper, below the
	 * caller's frame on its stack, for a snapshot to walk from */
	assert_int_equal(w.nframes, 0);
	assert_true(w.ctx_pc != 0);
	assert_true(w.ctx_sp < waiter_frame && waiter_frame - w.ctx_sp < 64 * 1024);
	assert_string_equal(rt_wait_kind_name(w.kind), "mutex");
	nap_ms(30);   /* the waiter is blocked for at least this long */
	rt_test_hold_and_release();
	pthread_join(th, NULL);
	assert_false(has_wait(&m1));
	assert_int_equal(rt_mutex_owner(&m1), 0);
}

/* ---- cond, sem, join, barrier, rwlock ---- */

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go_flag;
static sem_t sem;
static pthread_barrier_t bar;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_t cond_thread;

static void *cond_waiter(void *p)
{
	(void)p;
	pthread_mutex_lock(&cm);
	while (!go_flag)
		pthread_cond_wait(&cv, &cm);
	pthread_mutex_unlock(&cm);
	return NULL;
}

static void *sem_waiter(void *p)
{
	(void)p;
	sem_wait(&sem);
	return NULL;
}

static void *joiner(void *p)
{
	(void)p;
	pthread_join(cond_thread, NULL);
	return NULL;
}

static void *barrier_waiter(void *p)
{
	(void)p;
	pthread_barrier_wait(&bar);
	return NULL;
}

static void *reader(void *p)
{
	(void)p;
	pthread_rwlock_rdlock(&rw);
	pthread_rwlock_unlock(&rw);
	return NULL;
}

static void test_other_wait_records(void **state)
{
	(void)state;
	sem_init(&sem, 0, 0);
	pthread_barrier_init(&bar, NULL, 2);
	assert_int_equal(rt_rwlock_writer(&rw), 0);
	pthread_rwlock_wrlock(&rw);
	assert_int_equal(rt_rwlock_writer(&rw), gettid_());
	pthread_t s, j, b, r;
	pthread_create(&cond_thread, NULL, cond_waiter, NULL);
	pthread_create(&s, NULL, sem_waiter, NULL);
	pthread_create(&j, NULL, joiner, NULL);
	pthread_create(&b, NULL, barrier_waiter, NULL);
	pthread_create(&r, NULL, reader, NULL);
	rt_wait w;
	assert_true(find_wait(&cv, &w));
	assert_int_equal(w.kind, RT_WAIT_COND);
	assert_ptr_equal(w.obj2, &cm);
	assert_true(find_wait(&sem, &w));
	assert_int_equal(w.kind, RT_WAIT_SEM);
	assert_true(find_wait((const void *)cond_thread, &w));
	assert_int_equal(w.kind, RT_WAIT_JOIN);
	assert_ptr_equal(w.obj2, (const void *)cond_thread);
	assert_true(find_wait(&bar, &w));
	assert_int_equal(w.kind, RT_WAIT_BARRIER);
	assert_true(find_wait(&rw, &w));
	assert_int_equal(w.kind, RT_WAIT_RDLOCK);
	assert_string_equal(rt_wait_kind_name(RT_WAIT_SEM), "semaphore");

	pthread_mutex_lock(&cm);
	go_flag = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&cm);
	sem_post(&sem);
	pthread_barrier_wait(&bar);
	pthread_rwlock_unlock(&rw);
	assert_int_equal(rt_rwlock_writer(&rw), 0);
	pthread_join(s, NULL);
	pthread_join(j, NULL);
	pthread_join(b, NULL);
	pthread_join(r, NULL);
	assert_false(has_wait(&cv));
	assert_false(has_wait(&sem));
	assert_false(has_wait((const void *)cond_thread));
	assert_false(has_wait(&bar));
	assert_false(has_wait(&rw));
	pthread_barrier_destroy(&bar);
	sem_destroy(&sem);
}

static void test_cancelled_wait_is_withdrawn(void **state)
{
	(void)state;
	sem_init(&sem, 0, 0);
	pthread_t s;
	pthread_create(&s, NULL, sem_waiter, NULL);
	rt_wait w;
	assert_true(find_wait(&sem, &w));
	pthread_cancel(s);
	void *ret = NULL;
	pthread_join(s, &ret);
	assert_ptr_equal(ret, PTHREAD_CANCELED);
	assert_false(has_wait(&sem));
	sem_destroy(&sem);
}

/* ---- the profiles in this process ---- */

static void test_rates(void **state)
{
	(void)state;
	int f = cprof_mutex_set_fraction(-1);
	assert_int_equal(cprof_mutex_set_fraction(3), f);
	assert_int_equal(cprof_mutex_set_fraction(-1), 3);
	assert_int_equal(cprof_mutex_set_fraction(f), 3);
	long r = cprof_block_set_rate(7);
	assert_int_equal(cprof_block_set_rate(r), 7);
}

static int64_t total(const cprof_profile *p, int vt, const char *fn)
{
	int64_t sum = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		const cprof_sample *s = &p->samples.v[i];
		size_t n = cprof_stack_len(p, s->stack);
		const uint32_t *locs = cprof_stack_locs(p, s->stack);
		bool hit = false;
		for (size_t k = 0; k < n && !hit; k++) {
			const cprof_location *l = &p->locations.v[locs[k]];
			for (uint32_t q = 0; q < l->nline; q++) {
				const cprof_line *ln = &p->lines.v[l->line_off + q];
				if (strcmp(cprof_s(p, p->functions.v[ln->function].name), fn) == 0)
					hit = true;
			}
		}
		if (hit)
			sum += cprof_sample_values(p, i)[vt];
	}
	return sum;
}

static void test_profiles_in_process(void **state)
{
	(void)state;
	int f = cprof_mutex_set_fraction(1);
	long r = cprof_block_set_rate(1);
	test_mutex_wait_record_and_owner(state);   /* >= 30 ms of contention */
	cprof_profile *p = NULL;
	assert_int_equal(rt_profile_build(RT_KIND_MUTEX, &p), 0);
	assert_int_equal(p->vtypes.n, 2);
	assert_string_equal(cprof_s(p, p->vtypes.v[0].type), "contentions");
	assert_string_equal(cprof_s(p, p->vtypes.v[1].unit), "nanoseconds");
	/* the unlocker's stack, charged with at least the 30 ms it held on */
	assert_true(total(p, 1, "rt_test_hold_and_release") >= 30000000);
	assert_true(total(p, 0, "rt_test_hold_and_release") >= 1);
	cprof_profile_free(p);
	assert_int_equal(rt_profile_build(RT_KIND_BLOCK, &p), 0);
	/* the waiter's stack, blocked at least as long */
	assert_true(total(p, 1, "rt_test_wait_here") >= 30000000);
	cprof_profile_free(p);

	char path[] = "/tmp/test_rt_sync_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(cprof_mutex_write(fd, 1), 0);
	char buf[8192] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "--- mutex:\ncycles/second=1000000000\nsampling period=1\n"));
	assert_non_null(strstr(buf, "\trt_test_hold_and_release\t"));
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(cprof_block_write(fd, 1), 0);
	n = pread(fd, buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "--- contention:\ncycles/second=1000000000\n"));
	assert_null(strstr(buf, "sampling period"));
	close(fd);
	unlink(path);
	assert_int_equal(cprof_mutex_write(-1, 0), CPROF_ERR_INVAL);
	cprof_mutex_set_fraction(f);
	cprof_block_set_rate(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_mutex_wait_record_and_owner),
		cmocka_unit_test(test_other_wait_records),
		cmocka_unit_test(test_cancelled_wait_is_withdrawn),
		cmocka_unit_test(test_profiles_in_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
