/*
 * test_rt_cpu.c - the CPU profiler of libcprof through its public API
 * (include/cprof.h), linked statically (libcprof.a): argument and state
 * errors with their messages, a profile taken in this process (threads
 * present at start and created later, through the interposed
 * pthread_create, each named in a "thread" label) decoded back with the
 * core, and the sample ring's bookkeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cprof.h"
#include "cprof_core.h"
#include "rt_cpu.h"

static volatile unsigned long sink;

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void rt_test_busy(double s);
__attribute__((noinline)) void rt_test_busy(double s)
{
	double end = thread_cpu() + s;
	while (thread_cpu() < end)
		for (int i = 0; i < 10000; i++)
			sink = sink * 6364136223846793005ul + 1;
	__asm__ volatile("");
}

static void *named_worker(void *arg)
{
	pthread_setname_np(pthread_self(), (const char *)arg);
	rt_test_busy(0.25);
	return NULL;
}

static char *tmpname(const char *tag)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "/tmp/cprof-test-rt-%ld-%s.pb.gz", (long)getpid(), tag);
	return buf;
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(cprof_cpu_stop(), CPROF_ERR_NOT_RUNNING);
	assert_string_equal(cprof_last_error(), "cpu profiling not running");
	assert_int_equal(cprof_cpu_set_rate(0), CPROF_ERR_INVAL);
	assert_int_equal(cprof_cpu_set_rate(CPROF_CPU_HZ_MAX + 1), CPROF_ERR_INVAL);
	assert_non_null(strstr(cprof_last_error(), "out of range"));
	assert_int_equal(cprof_cpu_start(NULL), CPROF_ERR_INVAL);
	assert_int_equal(cprof_cpu_start_fd(-1), CPROF_ERR_INVAL);
	assert_int_equal(cprof_cpu_start("/nonexistent-dir/x/y.pb.gz"), CPROF_ERR_IO);
	assert_non_null(strstr(cprof_last_error(), "/nonexistent-dir/x/y.pb.gz"));
	assert_int_equal(cprof_cpu_running(), 0);
	assert_string_equal(cprof_error_string(CPROF_ERR_BUSY), "cpu profiling already in use");
	assert_string_equal(cprof_error_string(12345), "unknown error");
	cprof_cpu_stats st;
	assert_int_equal(cprof_cpu_get_stats(NULL), CPROF_ERR_INVAL);
	assert_int_equal(cprof_cpu_get_stats(&st), 0);
}

/* the label value of sample i's "thread" key, or "" */
static const char *thread_of(const cprof_profile *p, size_t i)
{
	uint32_t ls = p->samples.v[i].labels;
	const cprof_label *l = cprof_lset(p, ls);
	for (size_t k = 0; k < cprof_lset_len(p, ls); k++)
		if (strcmp(cprof_s(p, l[k].key), "thread") == 0)
			return cprof_s(p, l[k].str);
	return "";
}

static void test_profile_in_process(void **state)
{
	(void)state;
	const char *path = tmpname("api");
	assert_int_equal(cprof_cpu_set_rate(250), 0);
	pthread_setname_np(pthread_self(), "rt-main");
	assert_int_equal(cprof_cpu_start(path), 0);
	assert_int_equal(cprof_cpu_running(), 1);
	assert_int_equal(cprof_cpu_start(path), CPROF_ERR_BUSY);
	assert_string_equal(cprof_last_error(), "cpu profiling already in use");
	assert_int_equal(cprof_cpu_start_fd(1), CPROF_ERR_BUSY);
	assert_int_equal(cprof_cpu_set_rate(100), CPROF_ERR_BUSY);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, named_worker, (void *)"rt-late"), 0);
	rt_test_busy(0.25);
	assert_int_equal(pthread_join(th, NULL), 0);
	cprof_cpu_stats st;
	assert_int_equal(cprof_cpu_get_stats(&st), 0);
	assert_true(st.samples > 20);   /* ~125 at 250 Hz for 0.5 s of CPU */
	assert_int_equal(cprof_cpu_stop(), 0);
	assert_int_equal(cprof_cpu_running(), 0);
	assert_int_equal(cprof_cpu_set_rate(100), 0);

	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_decode_file(path, &p, &err), 0);
	unlink(path);
	assert_int_equal(p->vtypes.n, 2);
	assert_string_equal(cprof_s(p, p->vtypes.v[0].type), "samples");
	assert_string_equal(cprof_s(p, p->vtypes.v[0].unit), "count");
	assert_string_equal(cprof_s(p, p->vtypes.v[1].type), "cpu");
	assert_string_equal(cprof_s(p, p->vtypes.v[1].unit), "nanoseconds");
	assert_string_equal(cprof_s(p, p->period_type.type), "cpu");
	assert_int_equal(p->period, 4000000);
	assert_true(p->time_nanos > 0);
	assert_true(p->duration_nanos > 0);
	assert_true(p->mappings.n > 0);
	/* every sample has a thread label; both threads are there, and the
	 * leaf rt_test_busy is the top function of each */
	int64_t main_n = 0, late_n = 0, busy = 0, total = 0, total_ns = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		const int64_t *v = cprof_sample_values(p, i);
		const char *t = thread_of(p, i);
		/* each sample is the CPU its thread used since its previous one
		 * (intervals drawn around the period); a thread's end after its
		 * last sample is a sample of no count */
		assert_true(v[1] > 0 && v[0] >= 0);
		total_ns += v[1];
		total += v[0];
		if (strcmp(t, "rt-main") == 0)
			main_n += v[0];
		else if (strcmp(t, "rt-late") == 0)
			late_n += v[0];
		uint32_t s = p->samples.v[i].stack;
		const cprof_location *loc = &p->locations.v[cprof_stack_locs(p, s)[0]];
		for (uint32_t k = 0; k < loc->nline; k++) {
			const cprof_line *ln = &p->lines.v[loc->line_off + k];
			if (strcmp(cprof_s(p, p->functions.v[ln->function].name), "rt_test_busy") == 0)
				busy += v[0];
		}
	}
	assert_true(main_n > 10);
	assert_true(late_n > 10);
	assert_true(busy * 10 > total * 8);
	/* the intervals average the period: the total is the samples' count
	 * times the period, give or take what sampling noise allows */
	assert_true(total_ns > total * p->period / 2 && total_ns < total * p->period * 3 / 2);
	cprof_profile_free(p);
}

static void test_start_fd_and_restart(void **state)
{
	(void)state;
	const char *path = tmpname("fd");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(cprof_cpu_start_fd(fd), 0);
		rt_test_busy(0.05);
		assert_int_equal(cprof_cpu_stop(), 0);
		/* the fd is the caller's: still open */
		assert_true(fcntl(fd, F_GETFD) >= 0);
		cprof_profile *p = NULL;
		cprof_error err = { 0 };
		assert_int_equal(cprof_decode_file(path, &p, &err), 0);
		assert_int_equal(p->period, 10000000);
		cprof_profile_free(p);
	}
	close(fd);
	unlink(path);
}

static void test_ring_empty_and_stats_reset(void **state)
{
	(void)state;
	rt_sample_rec r;
	assert_int_equal(rt_ring_init(), 0);
	/* nothing is pending once a session has been drained */
	assert_false(rt_ring_pop(&r));
}

/* A new thread's start-up: the handler counts a sample whose leaf is in
 * the trampoline's two functions, or whose leaf's caller is tramp_begin,
 * as the runtime's; one whose caller is tramp_start stays the program's,
 * and the routine itself is entered by a tail call, with no runtime frame
 * under it. */
extern const char __start_cprof_tramp_begin[], __stop_cprof_tramp_begin[];
extern const char __start_cprof_tramp_start[], __stop_cprof_tramp_start[];

static void *routine_ret(void *arg)
{
	*(uintptr_t *)arg = (uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0));
	return NULL;
}

static void test_thread_start_up_is_the_runtimes(void **state)
{
	(void)state;
	uintptr_t b0 = (uintptr_t)__start_cprof_tramp_begin, b1 = (uintptr_t)__stop_cprof_tramp_begin;
	uintptr_t s0 = (uintptr_t)__start_cprof_tramp_start, s1 = (uintptr_t)__stop_cprof_tramp_start;
	uintptr_t prog = (uintptr_t)&rt_test_busy;
	assert_true(b1 > b0 && s1 > s0);
	uintptr_t st[2];
	st[0] = b0; assert_true(rt_threads_starting(st, 1));
	st[0] = b1 - 1; assert_true(rt_threads_starting(st, 1));
	st[0] = s0 + 4; assert_true(rt_threads_starting(st, 1));
	st[0] = prog; st[1] = b0 + 8; assert_true(rt_threads_starting(st, 2));
	st[0] = prog; st[1] = s0 + 8; assert_false(rt_threads_starting(st, 2));
	st[0] = prog; st[1] = prog; assert_false(rt_threads_starting(st, 2));
	st[0] = b1; assert_false(rt_threads_starting(st, 1));
	assert_false(rt_threads_starting(st, 0));
	/* through the interposed pthread_create: the routine returns to libc */
	pthread_t th;
	uintptr_t ret = 0;
	assert_int_equal(pthread_create(&th, NULL, routine_ret, &ret), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(ret != 0);
	assert_false(ret >= s0 && ret < s1);
	assert_false(ret >= b0 && ret < b1);
}

/* rt_self_enter/leave and the exit handlers: their instructions outside
 * the depth window are the runtime's too (the CPU handler's rule) */
static void test_edges_of_the_depth_window(void **state)
{
	(void)state;
	assert_true(rt_edge_text((uintptr_t)&rt_self_enter));
	assert_true(rt_edge_text((uintptr_t)&rt_self_leave + 1));
	assert_false(rt_edge_text((uintptr_t)&rt_test_busy));
	assert_false(rt_edge_text((uintptr_t)&rt_threads_starting));
	assert_false(rt_edge_text(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_profile_in_process),
		cmocka_unit_test(test_start_fd_and_restart),
		cmocka_unit_test(test_ring_empty_and_stats_reset),
		cmocka_unit_test(test_thread_start_up_is_the_runtimes),
		cmocka_unit_test(test_edges_of_the_depth_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
