/*
 * test_rt_trace.c - the execution trace's recorder (trace.c) at its own
 * interface: drops counted once each, however full the buffer; events
 * stamped with the raw time-stamp counter handed out in CLOCK_MONOTONIC
 * ns, between the clock reads around them; and a thread that turns rdtsc
 * off (PR_SET_TSC) in the middle of a session: its later events are
 * stamped without the counter (no SIGSEGV in the hook) and the earlier
 * ones still convert.  Runnable time with one schedstat read per wait:
 * the parser, and when the thread's last read stands in for the read
 * before a wait (exact) and when it cannot (left unknown, and the next
 * waits read before again).  The last test leaves rdtsc off for the
 * process, so it runs last.
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

static void test_schedstat_parsed_exactly(void **st)
{
	(void)st;
	int64_t rd = 0;
	uint64_t pc = 0;
	const char ok[] = "123456789012 3456 78\n";
	assert_true(rt_trace_parse_schedstat(ok, (ssize_t)strlen(ok), &rd, &pc));
	assert_int_equal(rd, 3456);
	assert_int_equal(pc, 78);
	static const char *bad[] = { "1 2\n", "1 2 3", "1 2 3 4\n", "1  2 3\n", "1 x 3\n",
				     " 1 2 3\n", "1 2 3 \n", "1 99999999999999999999 3\n", "" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(rt_trace_parse_schedstat(bad[i], (ssize_t)strlen(bad[i]), &rd, &pc));
}

/* RD_CLEAN (8) waits whose read before shows no arrival since the read
 * after the last one: from then on the last read stands in */
static void settle(rt_rdstate *s, int64_t *rd, uint64_t *pc)
{
	for (int i = 0; i < 9; i++) {
		int64_t tok = rt_rd_begin_with(s, true, *rd, *pc);   /* nothing since */
		assert_int_equal(tok, *rd);
		*rd += 500;
		*pc += 1;
		assert_int_equal(rt_rd_end_with(s, tok, true, *rd, *pc, 10000), 500);
	}
	assert_true(s->single);
}

static void test_one_read_per_wait(void **st)
{
	(void)st;
	rt_rdstate s = { 0 };
	int64_t rd = 1000;
	uint64_t pc = 10;
	/* a first wait always reads before: exact */
	int64_t tok = rt_rd_begin_with(&s, true, rd, pc);
	assert_int_equal(tok, rd);
	assert_int_equal(rt_rd_end_with(&s, tok, true, rd + 700, pc + 1, 5000), 700);
	rd += 700;
	pc += 1;
	/* preempted between waits (run count moved before the next read):
	 * still reading before each wait */
	pc += 1;
	rd += 3000;
	tok = rt_rd_begin_with(&s, true, rd, pc);
	assert_false(s.single);
	assert_int_equal(rt_rd_end_with(&s, tok, true, rd + 40, pc + 1, 5000), 40);
	rd += 40;
	pc += 1;
	settle(&s, &rd, &pc);
	/* now one read per wait: one arrival, the wait's own */
	assert_int_equal(rt_rd_end_with(&s, RT_RD_CACHED, true, rd + 250, pc + 1, 1000), 250);
	rd += 250;
	pc += 1;
	/* a wait that neither slept nor was preempted: 0 */
	assert_int_equal(rt_rd_end_with(&s, RT_RD_CACHED, true, rd, pc, 1000), 0);
	assert_true(s.single);
	/* two arrivals since the last read (a preemption before the wait, or
	 * two sleeps in it): unknown, and the next waits read before */
	assert_int_equal(rt_rd_end_with(&s, RT_RD_CACHED, true, rd + 900, pc + 2, 100000), -1);
	rd += 900;
	pc += 2;
	assert_false(s.single);
	tok = rt_rd_begin_with(&s, true, rd, pc);
	assert_int_equal(tok, rd);
	assert_int_equal(rt_rd_end_with(&s, tok, true, rd + 60, pc + 2, 1000), 60);   /* exact */
	rd += 60;
	pc += 2;
	settle(&s, &rd, &pc);
	/* more runnable time than the wait lasted: a preemption before it */
	assert_int_equal(rt_rd_end_with(&s, RT_RD_CACHED, true, rd + 5000, pc + 1, 1000), -1);
	assert_false(s.single);
	rd += 5000;
	pc += 1;
	settle(&s, &rd, &pc);
	/* a read that fails forgets everything */
	assert_int_equal(rt_rd_end_with(&s, RT_RD_CACHED, false, 0, 0, 1000), -1);
	assert_false(s.ok);
	assert_false(s.single);
	assert_int_equal(rt_rd_begin_with(&s, false, 0, 0), -1);
	assert_int_equal(rt_rd_end_with(&s, -1, true, rd, pc, 1000), -1);   /* not split */
}

/* CPROF_TRACE_RUNNABLE=long: a wait visited in progress (its run_delay
 * and run count then are its start's) is split only when its wake-up is
 * the one arrival since the visit. */
static void test_visited_wait_split(void **st)
{
	(void)st;
	/* one arrival, the wake-up: exact, 0 included */
	assert_int_equal(rt_trace_visit_split(5000, 7, 5800, 8, 100000), 800);
	assert_int_equal(rt_trace_visit_split(5000, 7, 5000, 8, 100000), 0);
	/* no arrival since the visit: it came after the wake-up, whose
	 * delay is not known */
	assert_int_equal(rt_trace_visit_split(5000, 7, 5000, 7, 100000), -1);
	/* two: preempted between announcing the wait and sleeping */
	assert_int_equal(rt_trace_visit_split(5000, 7, 9000, 9, 100000), -1);
	/* more runnable time than the wait, or run_delay going back */
	assert_int_equal(rt_trace_visit_split(5000, 7, 9000, 8, 3000), -1);
	assert_int_equal(rt_trace_visit_split(5000, 7, 4000, 8, 100000), -1);
	/* the run count wraps as unsigned arithmetic does */
	assert_int_equal(rt_trace_visit_split(5000, UINT64_MAX, 5100, 0, 100000), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedstat_parsed_exactly),
		cmocka_unit_test(test_one_read_per_wait),
		cmocka_unit_test(test_drops_counted_once),
		cmocka_unit_test(test_visited_wait_split),
		cmocka_unit_test(test_stamps_are_monotonic_ns),
		cmocka_unit_test(test_rdtsc_turned_off_mid_session),   /* last */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
