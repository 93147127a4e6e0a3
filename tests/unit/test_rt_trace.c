/*
 * test_rt_trace.c - the execution trace's recorder (trace.c) at its own
 * interface: drops counted once each, however full the buffer; events
 * stamped with the raw time-stamp counter handed out in CLOCK_MONOTONIC
 * ns, between the clock reads around them; and a thread that turns rdtsc
 * off (PR_SET_TSC) in the middle of a session: its later events are
 * stamped without the counter (no SIGSEGV in the hook) and the earlier
 * ones still convert.  The last test leaves rdtsc off for the process, so
 * it runs last.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_base.h"
#include "trace_int.h"

/* CLOCK_MONOTONIC by the system call: never rdtsc (the last test's
 * thread would fault in the vDSO) */
static int64_t mono(void)
{
	struct timespec ts;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct seen {
	int n, raw, bad;
	int types[64];
	int64_t t0[64];
	uint64_t obj[64];
} seen;

static void collect(void *ctx, int tid, const char *data, size_t used)
{
	seen *s = ctx;
	(void)tid;
	for (size_t off = 0; off + sizeof(rt_tev) <= used;) {
		const rt_tev *e = (const rt_tev *)(data + off);
		if (e->size < sizeof(rt_tev) || e->size > used - off) {
			s->bad++;
			return;
		}
		if (e->type & RT_TEV_RAW)
			s->raw++;
		/* the wakes only: the test's own sleeps and joins are traced too */
		if (e->type == RT_TEV_WAKE && s->n < 64) {
			s->types[s->n] = e->type;
			s->t0[s->n] = e->t0;
			s->obj[s->n] = e->obj;
		}
		s->n += e->type == RT_TEV_WAKE;
		off += e->size;
	}
}

/* One 64 KiB chunk, far more events than it holds: each event is
 * recorded or counted as dropped, once (the marker a thread writes for
 * its drops is not an event of the program's: failing to write it, with
 * the buffer full, counts nothing). */
static void test_drops_counted_once(void **st)
{
	(void)st;
	assert_int_equal(rt_trace_session_begin(1), 0);
	const int n = 5000;
	for (int i = 0; i < n; i++)
		rt_trace_text(RT_TEV_LOG, "test", "an event", 0);
	rt_trace_session_end();
	rt_trace_info in;
	rt_trace_get_info(&in);
	assert_true(in.dropped > 0);
	assert_true(in.recorded > 0);
	assert_int_equal(in.recorded + in.dropped, (uint64_t)n);
}

/* Each event's time lies between the clock reads around it. */
static void test_stamps_are_monotonic_ns(void **st)
{
	(void)st;
	assert_int_equal(rt_trace_session_begin(1 << 20), 0);
	int64_t lo[8], hi[8];
	for (int i = 0; i < 8; i++) {
		lo[i] = mono();
		rt_trace_wake(RT_TWAIT_SEM_POST, (const void *)(uintptr_t)(i + 1));
		hi[i] = mono();
		usleep(2000);
	}
	rt_trace_session_end();
	seen s = { 0 };
	rt_trace_chunks(collect, &s);
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.raw, 0);   /* none left in ticks */
	assert_int_equal(s.n, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(s.types[i], RT_TEV_WAKE);
		int k = (int)s.obj[i] - 1;
		assert_true(k >= 0 && k < 8);
		/* the conversion's error is the pairs' width: microseconds at most */
		assert_true(s.t0[i] >= lo[k] - 50000);
		assert_true(s.t0[i] <= hi[k] + 50000);
	}
}

static int64_t lo2[2], hi2[2];
static int prctl_rc;

static void *tsc_off_thread(void *arg)
{
	(void)arg;
	lo2[0] = mono();
	rt_trace_wake(RT_TWAIT_SEM_POST, (const void *)1);
	hi2[0] = mono();
	/* from here rdtsc faults in this thread (prctl: libcprof's, which
	 * notes it) */
	prctl_rc = prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0);
	usleep(2000);
	lo2[1] = mono();
	rt_trace_wake(RT_TWAIT_SEM_POST, (const void *)2);
	hi2[1] = mono();
	return NULL;
}

static void test_rdtsc_turned_off_mid_session(void **st)
{
	(void)st;
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's own allocator reads the vDSO clock (rdtsc) when the thread
	 * that turned the counter off exits, and dies there, before anything
	 * of ours runs: a program that turns rdtsc off cannot run under ASan */
	skip();
#endif
	assert_int_equal(rt_trace_session_begin(1 << 20), 0);
	pthread_t th;
	assert_int_equal(rt_pthread_create_real(&th, NULL, tsc_off_thread, NULL), 0);
	pthread_join(th, NULL);
	if (prctl_rc != 0)
		skip();   /* PR_SET_TSC refused (not x86, or a sandbox) */
	rt_trace_session_end();
	seen s = { 0 };
	rt_trace_chunks(collect, &s);
	assert_int_equal(s.raw, 0);
	assert_int_equal(s.n, 2);
	for (int i = 0; i < 2; i++) {
		int k = (int)s.obj[i] - 1;
		assert_true(k == 0 || k == 1);
		assert_true(s.t0[i] >= lo2[k] - 50000);
		assert_true(s.t0[i] <= hi2[k] + 50000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drops_counted_once),
		cmocka_unit_test(test_stamps_are_monotonic_ns),
		cmocka_unit_test(test_rdtsc_turned_off_mid_session),   /* last */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
