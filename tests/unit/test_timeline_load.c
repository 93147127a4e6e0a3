/*
 * test_timeline_load.c - a trace read and indexed at once
 * (src/report/timeline_load.c, timeline.c's fed build): whatever the
 * chunks the bytes arrive in, however far ahead the index waits, and
 * whether the reader is ahead or reads only what is waited for, the
 * index is the one the validating scanner makes of the whole bytes, byte
 * for byte, and a refusal is the same refusal (reason and offset); a
 * file that changes size while read is read again; a real file gives the
 * index of its bytes.  Since every fallback (built again from the bytes
 * read, or read again whole) gives that same index, each load also says
 * which built it (cprof_tl_built): the fed build whenever the trace's
 * start is within the margin, and for files forced fed (cprof_tl_load)
 * whatever the number of CPUs.
 *
 * The traces are text: timeline_gen.h's (events of 3 threads in the
 * runtime's layout and others: thread names, counters, flows, args
 * spanning lines; one with its last event broken), and odd ones (elements that are numbers, a long start before the
 * events, the array form, white space runs, data after the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof_timeline.h"
#include "timeline_int.h"
#include "timeline_gen.h"

/* Loaded through the feed with these options: the scanner's index of
 * the same bytes, or its refusal.  Returns the load's code, and in
 * *built how the index was built (CPROF_TL_BUILT_*; -1 when refused):
 * every fallback gives the same index, so only that tells whether the
 * fed build made it. */
static int check(const char *t, size_t n, const cprof_tl_load_opts *o, const char *what,
		 int *built)
{
	void *data = NULL;
	cprof_timeline *a = NULL, *b = NULL;
	cprof_error ea = { 0 }, eb = { 0 };
	int rb = cprof_timeline_load_mem(t, n, n, o, &data, &b, &eb);
	int ra = cprof_timeline_build_general(rb == 0 ? data : t, n, &a, &ea);
	if (ra != rb)
		fail_msg("%s (chunk %zu, margin %zu): the scanner %d (%s), fed %d (%s)", what, o->chunk,
			 o->margin, ra, ea.msg, rb, eb.msg);
	if (ra == 0 && !cprof_timeline_same(a, b))
		fail_msg("%s (chunk %zu, margin %zu): the fed index differs", what, o->chunk, o->margin);
	if (ra < 0 && strcmp(ea.msg, eb.msg) != 0)
		fail_msg("%s: refused as '%s', fed as '%s'", what, ea.msg, eb.msg);
	if (rb == 0 && memcmp(data, t, n) != 0)
		fail_msg("%s (chunk %zu, margin %zu): the bytes read differ", what, o->chunk, o->margin);
	if (rb < 0)
		assert_null(data);
	*built = rb == 0 ? cprof_tl_built(b) : -1;
	cprof_timeline_free(a);
	cprof_timeline_free(b);
	free(data);
	return rb;
}

static const size_t chunks[] = { 1, 2, 3, 7, 64, 1000, 1 << 20 };
static const size_t margins[] = { 1, 5, 200, 65536 };

/* The fed build must have made an index when the trace's start (the
 * bytes before its first event: at most 87 in these traces) was within
 * the margin, the bytes waited for first.  Within a smaller one, the
 * fallback may (the reader not yet ahead: built again from the bytes
 * read), so either is right. */
#define START_MAX 100
static void fed_required(int built, size_t margin, const char *what)
{
	if (built >= 0 && margin > START_MAX && built != CPROF_TL_BUILT_FED)
		fail_msg("%s, margin %zu: built by the fallback (%d), not fed", what, margin, built);
}

/* Generated traces of 0..40 events, each in chunks of 1 byte to all
 * at once, waiting 1 byte to 64 KiB ahead, a second half allowed at
 * any size: the scanner's index every time (its refusal for the
 * broken ones). */
static void test_fed_same_index(void **state)
{
	(void)state;
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	for (int kind = 0; kind < 3; kind++)
		for (int n = 0; n <= 40; n += n < 12 ? 1 : 7) {
			size_t len = tl_gen(buf, kind, n);
			for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
				for (size_t m = 0; m < sizeof margins / sizeof *margins; m++) {
					for (int lazy = 0; lazy < 2; lazy++) {
						cprof_tl_load_opts o = { chunks[c], margins[m], 1, lazy };
						char what[64];
						snprintf(what, sizeof what, "kind %d, %d events, lazy %d", kind, n, lazy);
						int built;
						assert_int_equal(check(buf, len, &o, what, &built), kind == 2 && n > 4 ? CPROF_EFORMAT : 0);
						fed_required(built, margins[m], what);
					}
				}
		}
	free(buf);
}

#define SPACES "\n                                                            \n" \
	"                                                                         \t" \
	"                                                                          " \
	"                                                                          " \
	"                                                                          \r\n"
/* Odd but valid traces, and refused ones: the same answer fed. */
static void test_fed_odd_traces(void **state)
{
	(void)state;
	static const char *const odd[] = {
		"[1,23,{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2},456]",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2}      ,\n\n   true  ,null,\"s\" ]   \n",
		"{\"otherData\":{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]},\"traceEvents\":[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2}],\"z\":1}",
		"{\"traceEvents\":[]}",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":0,\"dur\":1}," SPACES "{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2}" SPACES "," SPACES
		"{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"runnable\",\"cat\":\"runnable\",\"ts\":3,\"dur\":2}" SPACES "]" SPACES,
		"[]",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2}] x",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2},",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2}",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2},123",
		"[{\"ph\":\"X\",\"pid\":1,\"tid\":2,\"name\":\"running\",\"cat\":\"running\",\"ts\":1,\"dur\":2},12e",
		"{\"traceEvents\":[{\"ph\":\"X\"}],\"traceEvents\":5}",
		"{\"a\":1}",
		"",
		"   ",
	};
	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
		for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
			for (size_t m = 0; m < sizeof margins / sizeof *margins; m++) {
				for (int lazy = 0; lazy < 2; lazy++) {
					cprof_tl_load_opts o = { chunks[c], margins[m], 1, lazy };
					char what[32];
					snprintf(what, sizeof what, "odd trace %zu, lazy %d", i, lazy);
					int built;
					check(odd[i], strlen(odd[i]), &o, what, &built);
					fed_required(built, margins[m], what);
				}
			}
}

/* A generated trace broken at every byte (each byte replaced by one of a
 * few, or removed), fed in small chunks: the default build's answer,
 * index or refusal, every time. */
static void test_fed_broken_everywhere(void **state)
{
	(void)state;
	char *t = malloc(1 << 14), *buf = malloc(1 << 14);
	assert_non_null(t);
	assert_non_null(buf);
	size_t tl = tl_gen(t, 0, 8);
	static const char subst[] = { 0, '"', '\\', '{', '}', '[', ']', ',', ':', '\x01', '0', ' ' };
	size_t same = 0, refused = 0, fed = 0;
	for (size_t i = 0; i < tl; i++)
		for (size_t k = 0; k < sizeof subst; k++) {
			size_t n = tl_break(buf, t, tl, i, subst[k]);
			if (!n)
				continue;
			/* every other margin holds the trace's start (17 bytes): fed;
			 * which, by the byte broken (i / 10), so every substitution
			 * meets both kinds (the chunk is i % 5, laziness i % 2) */
			size_t margin = (i / 10) % 2 ? 1 + k % 3 : 20 + k;
			cprof_tl_load_opts o = { 1 + i % 5, margin, 1, i % 2 == 0 };
			void *data = NULL;
			cprof_timeline *a = NULL, *b = NULL;
			cprof_error ea = { 0 }, eb = { 0 };
			int rb = cprof_timeline_load_mem(buf, n, n, &o, &data, &b, &eb);
			int ra = cprof_timeline_build(rb == 0 ? data : buf, n, &a, &ea);
			if (ra != rb || (ra == 0 && !cprof_timeline_same(a, b)) ||
			    (ra < 0 && strcmp(ea.msg, eb.msg) != 0))
				fail_msg("byte %zu -> %d: built %d (%s), fed %d (%s)", i, subst[k], ra,
					 ea.msg, rb, eb.msg);
			if (rb == 0 && memcmp(data, buf, n) != 0)
				fail_msg("byte %zu -> %d: the bytes read differ", i, subst[k]);
			if (rb == 0 && margin >= 20 && cprof_tl_built(b) != CPROF_TL_BUILT_FED)
				fail_msg("byte %zu -> %d, margin %zu: built by the fallback (%d), not fed",
					 i, subst[k], margin, cprof_tl_built(b));
			fed += rb == 0 && cprof_tl_built(b) == CPROF_TL_BUILT_FED;
			same += ra == 0;
			refused += ra < 0;
			cprof_timeline_free(a);
			cprof_timeline_free(b);
			free(data);
		}
	assert_true(same > 0 && refused > 0 && fed > 0);
	free(t);
	free(buf);
}

/* The file changed size while read (fewer or more bytes than its size
 * said): read again whole, the index of what was read. */
static void test_fed_size_changed(void **state)
{
	(void)state;
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	size_t len = tl_gen(buf, 0, 30);
	const size_t expect[] = { len - 1, len + 1, len / 2, len * 2 };
	for (size_t i = 0; i < 4; i++) {
		cprof_tl_load_opts o = { 16, 8, 1, i % 2 == 0 };
		void *data = NULL;
		cprof_timeline *a = NULL, *b = NULL;
		cprof_error err = { 0 };
		assert_int_equal(cprof_timeline_load_mem(buf, len, expect[i], &o, &data, &b, &err), 0);
		assert_int_equal(cprof_tl_built(b), CPROF_TL_BUILT_READ_AGAIN);
		assert_int_equal(cprof_timeline_build_general(data, len, &a, &err), 0);
		assert_true(cprof_timeline_same(a, b));
		assert_memory_equal(data, buf, len);
		cprof_timeline_free(a);
		cprof_timeline_free(b);
		free(data);
	}
	free(buf);
}

/* The file at path loaded fed (whatever the CPUs and its size, when
 * forced) or by default: the scanner's index of its bytes, built as
 * expected (built: CPROF_TL_BUILT_*). */
static void check_file(const char *path, bool force, int built, size_t nlanes)
{
	void *data = NULL;
	size_t len = 0;
	cprof_timeline *a = NULL, *b = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_tl_load(path, SIZE_MAX, force, &data, &len, &b, &err), 0);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *want = malloc(len + 1);
	assert_non_null(want);
	assert_int_equal(fread(want, 1, len + 1, f), len);   /* all its bytes, no more */
	fclose(f);
	assert_memory_equal(data, want, len);
	free(want);
	assert_int_equal(cprof_tl_built(b), built);
	assert_int_equal(cprof_timeline_build_general(data, len, &a, &err), 0);
	assert_true(cprof_timeline_same(a, b));
	assert_int_equal(cprof_timeline_nlanes(b), nlanes);
	cprof_timeline_free(a);
	cprof_timeline_free(b);
	free(data);
}

/* Real files: one large enough to be read by the reader thread (9 MiB),
 * one small (read whole, or fed when forced), one missing. */
static void test_load_files(void **state)
{
	(void)state;
	char path[] = "/tmp/cprof_tl_loadXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	fputs("{\"traceEvents\":[\n", f);
	size_t total = 0;
	for (int i = 0; total < (9u << 20); i++) {
		int n = sprintf(buf, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"blocked: mutex\",\"cat\":\"blocked\",\"ts\":%d.125,\"dur\":%d.5,\"args\":{\"reason\":\"mutex\",\"stack\":[\"a b.c:1\"]}},\n"
				"{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"running\",\"cat\":\"running\",\"ts\":%d,\"dur\":1},\n",
				1 + i % 4, i * 10, 3, 1 + i % 4, i * 10 + 5);
		fwrite(buf, 1, (size_t)n, f);
		total += (size_t)n;
	}
	fputs("{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":\"t\"}}]}\n", f);
	assert_int_equal(fclose(f), 0);
	/* by default fed on two CPUs or more, else read whole; forced fed */
	check_file(path, false,
		   sysconf(_SC_NPROCESSORS_ONLN) > 1 ? CPROF_TL_BUILT_FED : CPROF_TL_BUILT_WHOLE, 4);
	check_file(path, true, CPROF_TL_BUILT_FED, 4);
	void *data = NULL;
	size_t len = 0;
	cprof_timeline *a = NULL, *b = NULL;
	cprof_error err = { 0 };
	/* over the size limit: refused as the whole read refuses it */
	assert_true(cprof_timeline_load(path, 1 << 20, &data, &len, &b, &err) < 0);
	assert_non_null(strstr(err.msg, "larger than the limit"));
	assert_null(data);
	/* small */
	f = fopen(path, "w");
	assert_non_null(f);
	size_t n = tl_gen(buf, 0, 12);
	fwrite(buf, 1, n, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(cprof_timeline_load(path, SIZE_MAX, &data, &len, &b, &err), 0);
	assert_int_equal(len, n);
	assert_int_equal(cprof_tl_built(b), CPROF_TL_BUILT_WHOLE);
	assert_int_equal(cprof_timeline_build_general(data, len, &a, &err), 0);
	assert_true(cprof_timeline_same(a, b));
	cprof_timeline_free(a);
	cprof_timeline_free(b);
	free(data);
	check_file(path, true, CPROF_TL_BUILT_FED, 3);
	unlink(path);
	memset(&err, 0, sizeof err);
	assert_true(cprof_timeline_load(path, SIZE_MAX, &data, &len, &b, &err) < 0);
	assert_non_null(strstr(err.msg, "cannot open"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fed_same_index),
		cmocka_unit_test(test_fed_odd_traces),
		cmocka_unit_test(test_fed_broken_everywhere),
		cmocka_unit_test(test_fed_size_changed),
		cmocka_unit_test(test_load_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
