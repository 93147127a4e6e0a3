/*
 * test_timeline.c - the timeline's index of an execution trace
 * (src/report/timeline.c): lanes and states from a Chrome trace, the
 * window query (whole slices of a pixel or more, one aggregate per pixel
 * for the rest, its dominant state from the checkpointed sums), its cost
 * (items bounded by the width, not by the slices), the waker of a wait,
 * search, and bad input.
 *
 * Traces are built as text here: a few hand-written events, or a lane of
 * many generated slices (running 10 µs, blocked on a mutex 30 µs, ...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_timeline.h"
#include "timeline_gen.h"

static cprof_timeline *build(const char *s)
{
	cprof_timeline *tl = NULL;
	cprof_error err = { 0 };
	if (cprof_timeline_build(s, strlen(s), &tl, &err) < 0)
		fail_msg("build: %s", err.msg);
	return tl;
}

static cprof_timeline *build_n(const char *s, size_t n)
{
	cprof_timeline *tl = NULL;
	cprof_error err = { 0 };
	if (cprof_timeline_build(s, n, &tl, &err) < 0)
		fail_msg("build: %s", err.msg);
	return tl;
}

typedef struct items {
	cprof_tl_item v[4096];
	size_t n;
} items;

static bool collect(void *ctx, const cprof_tl_item *it)
{
	items *x = ctx;
	if (x->n < 4096)
		x->v[x->n++] = *it;
	return true;
}

#define MUTEX_TRACE \
	"{\"traceEvents\":[\n" \
	"{\"ph\":\"M\",\"pid\":1,\"tid\":2,\"name\":\"thread_name\",\"args\":{\"name\":\"waiter\"}},\n" \
	"{\"ph\":\"M\",\"pid\":1,\"tid\":3,\"name\":\"thread_name\",\"args\":{\"name\":\"holder\"}},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"cat\":\"running\",\"name\":\"running\",\"ts\":0,\"dur\":10},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"cat\":\"blocked\",\"name\":\"blocked: mutex\",\"ts\":10.000,\"dur\":200000.5," \
	"\"args\":{\"reason\":\"mutex\",\"stack\":[\"pthread_mutex_lock a.c:1\",\"waiter w.c:104\"]}},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"cat\":\"runnable\",\"name\":\"runnable\",\"ts\":200010.5,\"dur\":100},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":3,\"cat\":\"blocked\",\"name\":\"sleeping: sleep\",\"ts\":0,\"dur\":200000," \
	"\"args\":{\"reason\":\"sleep\"}},\n" \
	"{\"ph\":\"s\",\"pid\":1,\"tid\":3,\"cat\":\"wake\",\"name\":\"wake\",\"ts\":200005,\"id\":7},\n" \
	"{\"ph\":\"f\",\"pid\":1,\"tid\":2,\"cat\":\"wake\",\"name\":\"wake\",\"bp\":\"e\",\"ts\":200110.5,\"id\":7},\n" \
	"{\"ph\":\"i\",\"pid\":1,\"tid\":2,\"name\":\"sample\",\"ts\":5}\n" \
	"],\"otherData\":{\"producer\":\"cprof\"}}"

static void test_lanes_states_and_times(void **state)
{
	(void)state;
	cprof_timeline *tl = build(MUTEX_TRACE);
	assert_int_equal(cprof_timeline_nlanes(tl), 2);
	assert_int_equal(cprof_timeline_nslices(tl, 0), 3);
	assert_int_equal(cprof_timeline_nslices(tl, 1), 1);
	items x = { .n = 0 };
	/* the whole trace at 1000 px: every slice whole */
	size_t n = cprof_timeline_query(tl, 0, 0, 200200000, 1000, collect, &x);
	assert_int_equal(n, 3);
	assert_int_equal(x.v[1].t0, 10000);
	assert_int_equal(x.v[1].t1, 200010500);   /* "200000.5" µs is exact ns */
	assert_int_equal(x.v[1].state, CPROF_TL_BLOCKED + 0);
	assert_int_equal(x.v[2].state, CPROF_TL_RUNNABLE);
	char *b = NULL;
	size_t bl = 0;
	FILE *m = open_memstream(&b, &bl);
	assert_int_equal(cprof_timeline_meta_json(tl, m), 0);
	fclose(m);
	assert_non_null(strstr(b, "\"states\":[\"running\",\"runnable\",\"mutex\",\"sleep\"]"));
	assert_non_null(strstr(b, "\"name\":\"waiter\""));
	assert_non_null(strstr(b, "\"skipped\":1"));
	free(b);
	cprof_timeline_free(tl);
}

static void test_event_waker_and_search(void **state)
{
	(void)state;
	cprof_timeline *tl = build(MUTEX_TRACE);
	char *b = NULL;
	size_t bl = 0;
	FILE *m = open_memstream(&b, &bl);
	assert_int_equal(cprof_timeline_event_json(tl, 0, 1, m), 0);
	fclose(m);
	/* the wait runs to the runnable slice's end; the waker is tid 3's "s" */
	assert_non_null(strstr(b, "\"wait\":{\"t0\":10000,\"t1\":200110500}"));
	assert_non_null(strstr(b, "\"waker\":{\"lane\":1,\"tid\":3,\"t\":200005000}"));
	assert_non_null(strstr(b, "\"event\":{\"ph\":\"X\""));
	assert_non_null(strstr(b, "\"waiter w.c:104\"]}}"));
	free(b);
	/* a running slice has no waker; out of range is EINVAL */
	m = open_memstream(&b, &bl);
	assert_int_equal(cprof_timeline_event_json(tl, 0, 0, m), 0);
	fclose(m);
	assert_non_null(strstr(b, "\"waker\":null"));
	free(b);
	m = open_memstream(&b, &bl);
	assert_int_equal(cprof_timeline_event_json(tl, 0, 3, m), CPROF_EINVAL);
	assert_int_equal(cprof_timeline_event_json(tl, 2, 0, m), CPROF_EINVAL);
	fclose(m);
	free(b);
	m = open_memstream(&b, &bl);
	cprof_timeline_search_json(tl, "w.c:104", 10, m);
	fclose(m);
	assert_non_null(strstr(b, "\"matches\":[{\"lane\":0,\"idx\":1,"));
	assert_null(strstr(b, "},{"));
	free(b);
	/* text outside any slice (a flow, metadata) matches nothing */
	m = open_memstream(&b, &bl);
	cprof_timeline_search_json(tl, "holder", 10, m);
	fclose(m);
	assert_non_null(strstr(b, "\"matches\":[]"));
	free(b);
	cprof_timeline_free(tl);
}

/* A lane of n cycles: running 10 µs, mutex 30 µs (as one thread's tiling). */
static char *many(size_t n)
{
	char *b = NULL;
	size_t bl = 0;
	FILE *m = open_memstream(&b, &bl);
	fputs("[", m);
	for (size_t i = 0; i < n; i++) {
		double t = (double)i * 40.0;
		fprintf(m, "%s{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"cat\":\"running\",\"ts\":%.3f,\"dur\":10},\n"
			"{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"cat\":\"blocked\",\"ts\":%.3f,\"dur\":30,"
			"\"args\":{\"reason\":\"mutex\"}}", i ? "," : "", t, t + 10);
	}
	fputs("]", m);
	fclose(m);
	return b;
}

static void test_aggregation_bounded_by_width(void **state)
{
	(void)state;
	char *s = many(200000);   /* 400,000 slices over 8 s */
	cprof_timeline *tl = build(s);
	assert_int_equal(cprof_timeline_nslices(tl, 0), 400000);
	items *x = calloc(1, sizeof *x);
	size_t n = cprof_timeline_query(tl, 0, 0, 8000000000LL, 800, collect, x);
	/* 500 slices per pixel: aggregates, merged, mostly blocked (75%),
	 * coloured by their main reason (mutex) */
	assert_true(n >= 1 && n <= 3 * 800 + 2);
	uint64_t total = 0;
	for (size_t i = 0; i < x->n; i++) {
		assert_int_equal(x->v[i].state, CPROF_TL_BLOCKED + 0);
		assert_int_equal(x->v[i].idx, CPROF_TL_NO_IDX);
		total += x->v[i].n;
	}
	assert_int_equal(total, 400000);   /* every slice counted once */
	/* zoomed to 400 µs at 800 px: 20 whole slices, none aggregated */
	x->n = 0;
	n = cprof_timeline_query(tl, 0, 4000000, 4400000, 800, collect, x);
	assert_int_equal(n, 20);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(x->v[i].n, 1);
		assert_int_equal(x->v[i].idx, 200 + i);
		assert_int_equal(x->v[i].state, i % 2 ? CPROF_TL_BLOCKED : CPROF_TL_RUNNING);
	}
	/* a window past the end, a zero width: nothing */
	assert_int_equal(cprof_timeline_query(tl, 0, 9000000000LL, 9100000000LL, 800, collect, x), 0);
	assert_int_equal(cprof_timeline_query(tl, 0, 0, 100, 0, collect, x), 0);
	assert_int_equal(cprof_timeline_query(tl, 5, 0, 100, 10, collect, x), 0);
	free(x);
	cprof_timeline_free(tl);
	free(s);
}

/* Mostly running: the aggregate says running. */
static void test_aggregate_dominant_state(void **state)
{
	(void)state;
	char *b = NULL;
	size_t bl = 0;
	FILE *m = open_memstream(&b, &bl);
	fputs("[", m);
	for (int i = 0; i < 1000; i++)
		fprintf(m, "%s{\"ph\":\"X\",\"tid\":1,\"cat\":\"running\",\"ts\":%d,\"dur\":9},"
			"{\"ph\":\"X\",\"tid\":1,\"cat\":\"runnable\",\"ts\":%d.000,\"dur\":1}",
			i ? "," : "", i * 10, i * 10 + 9);
	fputs("]", m);
	fclose(m);
	cprof_timeline *tl = build(b);
	items x = { .n = 0 };
	size_t n = cprof_timeline_query(tl, 0, 0, 10000000, 10, collect, &x);
	assert_true(n >= 1 && n <= 32);
	for (size_t i = 0; i < x.n; i++)
		assert_int_equal(x.v[i].state, CPROF_TL_RUNNING);
	cprof_timeline_free(tl);
	free(b);
}

/* Out-of-order and overlapping slices (not the runtime's): sorted, clipped. */
static void test_unsorted_overlapping(void **state)
{
	(void)state;
	cprof_timeline *tl = build("[{\"ph\":\"X\",\"tid\":1,\"cat\":\"running\",\"ts\":100,\"dur\":50},"
				   "{\"ph\":\"X\",\"tid\":1,\"cat\":\"blocked\",\"ts\":0,\"dur\":120,"
				   "\"name\":\"blocked: join\"}]");
	items x = { .n = 0 };
	assert_int_equal(cprof_timeline_query(tl, 0, 0, 1000000, 1000, collect, &x), 2);
	assert_int_equal(x.v[0].t1, 120000);
	assert_int_equal(x.v[1].t0, 120000);   /* clipped to the previous end */
	assert_int_equal(x.v[1].t1, 150000);
	cprof_timeline_free(tl);
}

static void test_bad_input(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "{", "{\"traceEvents\":{}}", "{\"other\":[]}", "[{\"ph\":\"X\"", "[1,]",
		"[{\"name\":\"a\x01\"}]", "[{\"name\":\"\\q\"}]", "[{\"ts\":1e400}]",
		"[] x", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cprof_timeline *tl = (cprof_timeline *)1;
		cprof_error err = { 0 };
		int rc = cprof_timeline_build(bad[i], strlen(bad[i]), &tl, &err);
		if (rc != CPROF_EFORMAT)
			fail_msg("input %zu: rc %d", i, rc);
		assert_null(tl);
		assert_non_null(strstr(err.msg, "not a Chrome trace"));
	}
	assert_true(cprof_timeline_sniff(" {\"traceEvents\":[]}", 19));
	assert_false(cprof_timeline_sniff("\x1f\x8b", 2));
}

/* A string's bytes are checked 8 at a time: a control character or a
 * bad escape is found at every position of a long string, and skipped
 * numbers are still checked by JSON's grammar. */
static void test_long_strings_and_skipped_numbers(void **state)
{
	(void)state;
	char buf[128];
	for (int k = 0; k < 40; k++) {
		for (int bad = 0; bad < 3; bad++) {
			char s[48];
			memset(s, 'a', 40);
			s[40] = 0;
			s[k] = bad == 0 ? '\x01' : bad == 1 ? '\x1f' : '\\';
			if (bad == 2 && k + 1 < 40)
				s[k + 1] = 'q';   /* "\q": a bad escape; at the end, an unterminated string */
			snprintf(buf, sizeof buf, "[{\"ph\":\"i\",\"args\":{\"s\":\"%s\"}}]", s);
			cprof_timeline *tl = NULL;
			cprof_error err = { 0 };
			if (cprof_timeline_build(buf, strlen(buf), &tl, &err) != CPROF_EFORMAT)
				fail_msg("byte %d (kind %d) not refused: %s", k, bad, buf);
		}
	}
	/* high bytes (UTF-8) and a long plain run pass */
	snprintf(buf, sizeof buf, "[{\"ph\":\"i\",\"args\":{\"s\":\"%s\"}}]",
		 "\xc3\xa9\xe2\x82\xac 0123456789abcdefghijklmnopqrstuvwxyz\x7f\xff");
	cprof_timeline *tl = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_timeline_build(buf, strlen(buf), &tl, &err), 0);
	cprof_timeline_free(tl);
	static const char *const nums[] = { "-", "1e", "0x1", "1e999", "1.2.3", "--1", "1-" };
	static const char *const good[] = { "0", "-0.5", "12.250", "1e3", "-1.5E-3" };
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
		snprintf(buf, sizeof buf, "[{\"ph\":\"i\",\"args\":{\"v\":%s}}]", nums[i]);
		tl = NULL;
		if (cprof_timeline_build(buf, strlen(buf), &tl, &err) != CPROF_EFORMAT)
			fail_msg("number %s not refused", nums[i]);
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(buf, sizeof buf, "[{\"ph\":\"i\",\"args\":{\"v\":%s}}]", good[i]);
		tl = NULL;
		if (cprof_timeline_build(buf, strlen(buf), &tl, &err) != 0)
			fail_msg("number %s refused: %s", good[i], err.msg);
		cprof_timeline_free(tl);
	}
}

/* Events as the runtime writes them (src/runtime/trace_json.c's key
 * order), with the odd ones the fast path leaves to the scanner. */
#define RT_TRACE \
	"{\"traceEvents\":[\n" \
	"{\"ph\":\"M\",\"pid\":1,\"tid\":2,\"name\":\"thread_name\",\"args\":{\"name\":\"w\"}},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":0.000,\"dur\":10.250},\n" \
	RT_WAIT ",\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"runnable\",\"cat\":\"runnable\",\"ts\":60.250,\"dur\":1.5004},\n" \
	"{\"ph\":\"s\",\"pid\":1,\"tid\":3,\"name\":\"wake\",\"cat\":\"wake\",\"ts\":59.000,\"id\":1},\n" \
	"{\"ph\":\"f\",\"pid\":1,\"tid\":2,\"name\":\"wake\",\"cat\":\"wake\",\"bp\":\"e\",\"ts\":61.750,\"id\":1},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":3,\"name\":\"blocked: join\",\"cat\":\"blocked\",\"ts\":5,\"dur\":7,\"args\":{}},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":3,\"name\":\"blocked: a\\u0041\",\"cat\":\"blocked\",\"ts\":12,\"dur\":1,\"args\":{\"x\":[{\"reason\":1}],\"reason\":\"r\\n\"}},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":3,\"name\":\"blocked: b\",\"cat\":\"blocked\",\"ts\":13,\"dur\":1,\"args\":{\"reason\":\"q\",\"reason\":\"z\"}},\n" \
	"{\"ph\":\"X\",\"pid\":01,\"tid\":3,\"name\":\"running\",\"cat\":\"running\",\"ts\":14,\"dur\":1},\n" \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":3,\"name\":\"running\",\"cat\":\"running\",\"ts\":15,\"dur\":1e0},\n" \
	"{\"ph\":\"C\",\"pid\":1,\"tid\":3,\"name\":\"threads\",\"ts\":15,\"args\":{\"threads\":2}}\n" \
	"],\"otherData\":{}}"
#define RT_WAIT \
	"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"blocked: mutex\",\"cat\":\"blocked\",\"ts\":10.250,\"dur\":50.000," \
	"\"args\":{\"reason\":\"mutex\",\"object\":\"0x55\",\"wait_us\":51.500,\"waker_tid\":3,\"n\":[1,{\"a\":\"}]\\\"\"},true,null]," \
	"\"s\":\"a{\",\"t\":\"]\",\"stack\":[\"lock a.c:1\",\"w \\\"q\\\" w.c:2\"]}}"

/* The fast path for the runtime's layout gives the index the scanner
 * gives, byte for byte, and reads most of such a trace itself. */
static void test_fast_path_same_index(void **state)
{
	(void)state;
	const char *t = RT_TRACE;
	cprof_timeline *a = NULL, *b = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_timeline_build_general(t, strlen(t), &a, &err), 0);
	assert_int_equal(cprof_timeline_build(t, strlen(t), &b, &err), 0);
	assert_true(cprof_timeline_same(a, b));
	assert_int_equal(cprof_timeline_fast_events(a), 0);
	assert_int_equal(cprof_timeline_fast_events(b), 6);   /* 3 X, s, f, the join */
	assert_int_equal(cprof_timeline_nlanes(b), 2);
	assert_int_equal(cprof_timeline_nslices(b, 0), 3);
	char *m = NULL;
	size_t ml = 0;
	FILE *f = open_memstream(&m, &ml);
	cprof_timeline_meta_json(b, f);
	cprof_timeline_event_json(b, 0, 1, f);
	fclose(f);
	assert_non_null(strstr(m, "\"states\":[\"running\",\"runnable\",\"mutex\",\"join\",\"r\\u000a\",\"z\"]"));
	assert_non_null(strstr(m, "\"event\":" RT_WAIT ","));
	assert_non_null(strstr(m, "\"waker\":{\"lane\":1,\"tid\":3,\"t\":59000}"));
	free(m);
	cprof_timeline_free(a);
	cprof_timeline_free(b);
}

/* The wait event broken at every byte (each byte replaced by one of a
 * few, or removed): the fast path falls back to the scanner and agrees
 * with it, or refuses with one line, or (a fault inside args, which it
 * skips) keeps the slice and quotes the event as null when clicked. */
static void test_fast_path_malformed_everywhere(void **state)
{
	(void)state;
	const char *t = RT_TRACE, *w = strstr(t, RT_WAIT);
	size_t tl = strlen(t), wo = (size_t)(w - t), wl = strlen(RT_WAIT);
	size_t args = (size_t)(strstr(w, "\"args\":") - t) + 7;
	static const char subst[] = { 0, '"', '\\', '{', '}', '[', ']', ',', ':', '\x01', 'x', '0', ' ' };
	char *buf = malloc(tl + 1);
	assert_non_null(buf);
	size_t fell = 0, refused = 0, lenient = 0;
	for (size_t i = wo; i < wo + wl; i++)
		for (size_t k = 0; k < sizeof subst; k++) {
			size_t n = tl_break(buf, t, tl, i, subst[k]);
			if (!n)
				continue;
			cprof_timeline *a = NULL, *b = NULL;
			cprof_error ea = { 0 }, eb = { 0 };
			int ra = cprof_timeline_build_general(buf, n, &a, &ea);
			int rb = cprof_timeline_build(buf, n, &b, &eb);
			if (ra == 0) {
				if (rb != 0 || !cprof_timeline_same(a, b))
					fail_msg("byte %zu -> %d: the paths differ (%s)", i, subst[k], eb.msg);
				fell++;
			} else if (rb != 0) {
				assert_int_equal(rb, CPROF_EFORMAT);
				assert_null(strchr(eb.msg, '\n'));
				assert_non_null(strstr(eb.msg, "not a Chrome trace"));
				refused++;
			} else {
				if (i < args)
					fail_msg("byte %zu -> %d: accepted outside args: %.*s", i, subst[k],
						 (int)wl, buf + wo);
				char *m = NULL;
				size_t ml = 0;
				FILE *f = open_memstream(&m, &ml);
				for (size_t x = 0; x < cprof_timeline_nslices(b, 0); x++)
					cprof_timeline_event_json(b, 0, x, f);
				fclose(f);
				assert_non_null(strstr(m, "\"event\":null"));
				free(m);
				lenient++;
			}
			cprof_timeline_free(a);
			cprof_timeline_free(b);
		}
	free(buf);
	assert_true(fell > 0 && refused > 0 && lenient > 0);
}

/* Whether the fast path and the scanner agree on buf[0..n): the same
 * index, or the same refusal; lenient: a refusal of the scanner may be
 * an index of the fast path (a fault inside args, which it skips).
 * Counts the events the fast path read.  Built from a copy of exactly n
 * bytes, so that a sanitizer sees a read past the end. */
static void agree(const char *text, size_t n, bool lenient, const char *what, size_t *fast)
{
	char *buf = malloc(n ? n : 1);   /* exactly n: a sanitizer sees a byte read past */
	assert_non_null(buf);
	memcpy(buf, text, n);
	cprof_timeline *a = NULL, *b = NULL;
	cprof_error ea = { 0 }, eb = { 0 };
	int ra = cprof_timeline_build_general(buf, n, &a, &ea);
	int rb = cprof_timeline_build_split(buf, n, SIZE_MAX, &b, &eb);
	bool ok = ra == 0 ? rb == 0 && cprof_timeline_same(a, b)
		: (rb == ra && strcmp(ea.msg, eb.msg) == 0) || (lenient && rb == 0);
	if (!ok)
		fail_msg("%s: the fast path differs (%d, %d: %s | %s)", what, ra, rb, ea.msg, eb.msg);
	if (rb == 0)
		*fast += cprof_timeline_fast_events(b);
	cprof_timeline_free(a);
	cprof_timeline_free(b);
	free(buf);
}

/* The runtime's wait event, a flow pair and a slice after them, with the
 * given fields, into buf: its length. */
static size_t rt_event(char *buf, size_t cap, const char *pid, const char *name, const char *cat,
		       const char *ts, const char *dur, const char *reason, const char *frame,
		       const char *id)
{
	int n = snprintf(buf, cap,
		"{\"traceEvents\":[\n"
		"{\"ph\":\"X\",\"pid\":%s,\"tid\":2,\"name\":\"%s\",\"cat\":\"%s\",\"ts\":%s,\"dur\":%s,"
		"\"args\":{\"reason\":\"%s\",\"object\":\"0x55\",\"stack\":[\"%s\",\"w a.c:2\"]}},\n"
		"{\"ph\":\"s\",\"pid\":1,\"tid\":3,\"name\":\"wake\",\"cat\":\"wake\",\"ts\":%s,\"id\":%s},\n"
		"{\"ph\":\"f\",\"pid\":1,\"tid\":2,\"name\":\"wake\",\"cat\":\"wake\",\"bp\":\"e\",\"ts\":%s,\"id\":%s},\n"
		"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":900.000,\"dur\":1.000}\n"
		"]}", pid, name, cat, ts, dur, reason, frame, ts, id, ts, id);
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* The fast path's strings and numbers at every length and with an odd
 * byte at every place (control bytes, a quote, a backslash, DEL, bytes
 * above 0x7e; strings up to and past their fields: cat 32, reason 64,
 * name 256 bytes; past the sixteen bytes read at once), categories near
 * the three, times and integers of every length and form, and the trace
 * cut at every byte: the index is the scanner's, or the refusal is. */
static void test_fast_path_fields_every_length(void **state)
{
	(void)state;
	static const char odd[] = { 1, 0x1f, ' ', '"', '\\', '~', 0x7f, (char)0x80, (char)0xc3, (char)0xff };
	size_t cap = 4096, fast = 0;
	char *buf = malloc(cap), s[400], what[64];
	assert_non_null(buf);
	for (int field = 0; field < 4; field++)
		for (size_t len = 0; len < 300; len++) {
			if (field != 0 && len > 80)
				break;
			if (len > 40 && len < 250 && len % 16 != 0 && len % 16 != 15)
				continue;
			for (size_t at = 0; at <= len; at++)
				for (size_t k = 0; k < sizeof odd; k++) {
					if (at == len && k > 0)
						break;   /* at == len: no odd byte */
					if (len > 40 && at != 0 && at != len - 1 && at != len && at % 15 != 0)
						continue;
					memset(s, field == 1 ? 'r' : 'a', len);
					s[len] = 0;
					if (at < len)
						s[at] = odd[k];
					const char *name = field == 0 ? s : "blocked: mutex";
					const char *cat = field == 1 ? s : "blocked";
					const char *reason = field == 2 ? s : "mutex";
					const char *frame = field == 3 ? s : "lock a.c:1";
					size_t n = rt_event(buf, cap, "1", name, cat, "10.250", "50.000", reason,
							    frame, "7");
					snprintf(what, sizeof what, "field %d, %zu bytes, byte %zu = %d", field,
						 len, at, at < len ? (unsigned char)odd[k] : -1);
					agree(buf, n, field == 3, what, &fast);
				}
		}
	static const char *cats[] = { "running", "runnable", "blocked", "runnin", "runningg",
		"runnabl", "runnablee", "blocke", "blockedd", "Running", "runNing", "blocked ",
		"run", "", "b", "r", "wake", "runnable\\u0000" };
	for (size_t i = 0; i < sizeof cats / sizeof *cats; i++) {
		size_t n = rt_event(buf, cap, "1", "blocked: join", cats[i], "10.250", "50.000", "",
				    "lock a.c:1", "7");
		agree(buf, n, false, cats[i], &fast);
		/* a slice of exactly the three categories */
		cprof_timeline *tl = build_n(buf, n);
		size_t all = 0;
		for (size_t ln = 0; ln < cprof_timeline_nlanes(tl); ln++)
			all += cprof_timeline_nslices(tl, ln);
		assert_int_equal(all, i < 3 ? 2 : 1);
		cprof_timeline_free(tl);
		n = rt_event(buf, cap, "1", cats[i], cats[i], "10.250", "50.000", "x", "f", "7");
		agree(buf, n, false, cats[i], &fast);
	}
	static const char *nums[] = { "0", "00", "01", "1", "1.5", "1.50", "1.500", "1.5000",
		"1.0004", "1.0005", "1.9995", "1.", ".5", "1.e3", "1.000e3", "1.000E3", "1.000-",
		"1.000+", "1.000.", "-1.000", "-0", "12.345", "999999999999999.999",
		"1000000000000000.000", "123456789012345", "1234567890123456", "4611686018427387.904",
		"4611686018427387.903", "4294967295", "4294967296", "12345678901", "999999999999999",
		"9999999999999999", "0.000", "00.000", "1.000 ", "1.000\n", "1.0001e", "7e1" };
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
		for (int field = 0; field < 4; field++) {
			const char *v = nums[i];
			size_t n = rt_event(buf, cap, field == 0 ? v : "1", "blocked: mutex", "blocked",
					    field == 1 ? v : "10.250", field == 2 ? v : "50.000", "mutex",
					    "lock a.c:1", field == 3 ? v : "7");
			snprintf(what, sizeof what, "number %s as field %d", v, field);
			agree(buf, n, false, what, &fast);
		}
	size_t n = rt_event(buf, cap, "1", "blocked: mutex", "blocked", "10.250", "50.000", "mutex",
			    "lock a.c:1", "7");
	for (size_t cut = 0; cut < n; cut++) {
		snprintf(what, sizeof what, "cut at byte %zu", cut);
		agree(buf, cut, false, what, &fast);
	}
	assert_true(fast > 10000);   /* the fast path did read most of them */
	free(buf);
}

/* The second half on its own thread: for every place of the middle
 * (traces of 1..n events of 3 lanes, 4 reasons, a counter, flows and
 * thread names first seen in either half, an args array spanning lines)
 * the index is the one pass's, byte for byte; so it is with more reasons
 * than the ceiling (not mergeable: read again) and a broken second half
 * (the same refusal). */
static void test_split_same_index(void **state)
{
	(void)state;
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	for (int kind = 0; kind < 3; kind++)
		for (int n = 1; n < 40; n++) {
			size_t o = tl_gen(buf, kind, n);
			cprof_timeline *a = NULL, *b = NULL;
			cprof_error ea = { 0 }, eb = { 0 };
			int ra = cprof_timeline_build_general(buf, o, &a, &ea);
			int rb = cprof_timeline_build_split(buf, o, 0, &b, &eb);
			assert_int_equal(ra, rb);
			if (ra == 0) {
				if (!cprof_timeline_same(a, b))
					fail_msg("kind %d, %d events: the halves' index differs", kind, n);
			} else {
				assert_string_equal(ea.msg, eb.msg);
			}
			cprof_timeline_free(a);
			cprof_timeline_free(b);
		}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lanes_states_and_times),
		cmocka_unit_test(test_event_waker_and_search),
		cmocka_unit_test(test_aggregation_bounded_by_width),
		cmocka_unit_test(test_aggregate_dominant_state),
		cmocka_unit_test(test_unsorted_overlapping),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_long_strings_and_skipped_numbers),
		cmocka_unit_test(test_fast_path_same_index),
		cmocka_unit_test(test_fast_path_malformed_everywhere),
		cmocka_unit_test(test_fast_path_fields_every_length),
		cmocka_unit_test(test_split_same_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
