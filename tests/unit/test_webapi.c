/*
 * test_webapi.c - the web UI's transport-neutral API (src/report/webapi.c)
 * over a corpus profile: the page, assets and meta; reports and flame data
 * from URL parameters; one-line 4xx answers for bad parameters and unknown
 * paths; the per-request deadline (a job past it is a 503 with one line of
 * JSON, and a report's regexp matching stops at the thread's deadline);
 * and the same answers from several threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cprof_timeline.h"
#include "cprof_trace.h"
#include "cprof_webapi.h"
#include "report_int.h"

static cprof_profile *prof;
static cprof_ropts defaults;

static int setup(void **st)
{
	(void)st;
	const char *dir = getenv("CPROF_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s%stests/golden/go/cpu.pb.gz", dir ? dir : "", dir ? "/" : "");
	cprof_error err = { 0 };
	if (cprof_decode_file(path, &prof, &err) != 0) {
		fprintf(stderr, "cannot load %s: %s\n", path, err.msg);
		return -1;
	}
	cprof_ropts_init(&defaults);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	cprof_profile_free(prof);
	return 0;
}

/* A query as "k=v" strings ending with NULL. */
static const char *get(void *ctx, const char *key)
{
	size_t kl = strlen(key);
	for (const char *const *kv = ctx; kv && *kv; kv++)
		if (strncmp(*kv, key, kl) == 0 && (*kv)[kl] == '=')
			return (*kv)[kl + 1] ? *kv + kl + 1 : NULL;
	return NULL;
}

static cprof_webapi *make(long deadline_ms)
{
	static const char *const srcs[] = { "/some/where/cpu.pb.gz" };
	cprof_webapi_config c = { .p = prof, .defaults = &defaults, .sources = srcs, .nsources = 1,
				  .deadline_ms = deadline_ms };
	cprof_webapi *a = NULL;
	assert_int_equal(cprof_webapi_new(&c, &a), 0);
	return a;
}

/* Serve path with the query q; the answer's body as a string in *body
 * (malloc'd). */
static unsigned serve(cprof_webapi *a, const char *path, const char *const *q, char **body)
{
	cprof_webresp w;
	cprof_webapi_serve(a, path, get, (void *)q, &w);
	*body = strndup(w.body ? w.body : "", w.len);
	unsigned st = w.status;
	cprof_webresp_free(&w);
	return st;
}

static void test_pages_and_meta(void **st)
{
	(void)st;
	cprof_webapi *a = make(0);
	char *b;
	assert_int_equal(serve(a, "", NULL, &b), 200);
	assert_non_null(strstr(b, "<html"));
	assert_non_null(strstr(b, "src=\"static/ui.js\""));   /* relative: any mount */
	free(b);
	assert_int_equal(serve(a, "top", NULL, &b), 200);
	free(b);
	assert_int_equal(serve(a, "static/ui.js", NULL, &b), 200);
	assert_null(strstr(b, "\"/ui/"));                     /* no absolute paths */
	free(b);
	assert_int_equal(serve(a, "static/../cprof", NULL, &b), 404);
	free(b);
	assert_int_equal(serve(a, "data/nothing", NULL, &b), 404);
	free(b);
	assert_int_equal(serve(a, "data/meta", NULL, &b), 200);
	assert_non_null(strstr(b, "\"sampleTypes\":[{\"type\":\"samples\""));
	assert_non_null(strstr(b, "\"title\":\"cpu.pb.gz\""));
	assert_non_null(strstr(b, "\"hasBase\":false"));
	free(b);
	assert_int_equal(cprof_webapi_kind("data/meta"), CPROF_WEB_CHEAP);
	assert_int_equal(cprof_webapi_kind("data/top"), CPROF_WEB_JOB);
	assert_int_equal(cprof_webapi_kind("export/flame.html"), CPROF_WEB_JOB);
	cprof_webapi_free(a);
}

static void test_reports(void **st)
{
	(void)st;
	cprof_webapi *a = make(0);
	char *b;
	const char *top[] = { "n=3", "si=cpu", NULL };
	assert_int_equal(serve(a, "data/top", top, &b), 200);
	assert_non_null(strstr(b, "flat%"));
	free(b);
	const char *flame[] = { "w=800", NULL };
	assert_int_equal(serve(a, "data/flame", flame, &b), 200);
	assert_non_null(strstr(b, "\"nodes\""));
	free(b);
	const char *badg[] = { "g=words", NULL };
	assert_int_equal(serve(a, "data/top", badg, &b), 400);
	assert_string_equal(b, "g: want functions, filefunctions, files, lines or addresses");
	free(b);
	const char *badre[] = { "f=(", NULL };
	assert_int_equal(serve(a, "data/top", badre, &b), 400);
	assert_null(strchr(b, '\n'));
	free(b);
	const char *base[] = { "which=base", NULL };
	assert_int_equal(serve(a, "data/flame", base, &b), 404);
	free(b);
	cprof_webapi_free(a);
}

/* data/pick: the Go corpus profile's sources and binary are not here, so
 * no function is picked and the hotter ones are named with the reason; a
 * bad view is the request's error; past the deadline, 503. */
static void test_pick(void **st)
{
	(void)st;
	cprof_webapi *a = make(0);
	char *b;
	const char *src[] = { "view=source", "source_path=/nonexistent", NULL };
	assert_int_equal(serve(a, "data/pick", src, &b), 200);
	assert_non_null(strstr(b, "{\"view\":\"source\",\"f\":\"\",\"name\":\"\",\"text\":\"\""));
	assert_non_null(strstr(b, "\"skipped\":[{\"name\":\"crypto/sha256.block\",\"why\":\"could not find file"));
	free(b);
	const char *bad[] = { "view=graph", NULL };
	assert_int_equal(serve(a, "data/pick", bad, &b), 400);
	assert_string_equal(b, "view: want source or disasm");
	free(b);
	cprof_webapi_free(a);
	a = make(CPROF_WEBAPI_NO_TIME);
	assert_int_equal(serve(a, "data/pick", src, &b), 503);
	free(b);
	cprof_webapi_free(a);
}

/* A job past its deadline: 503, one line of JSON. */
static void test_deadline_answer(void **st)
{
	(void)st;
	cprof_webapi *a = make(CPROF_WEBAPI_NO_TIME);
	char *b;
	const char *q[] = { "f=main", NULL };
	static const char *const paths[] = { "data/top", "data/flame", "export/flame.svg",
					     "download" };
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		assert_int_equal(serve(a, paths[i], q, &b), 503);
		assert_true(strncmp(b, "{\"error\":\"the request ran past its deadline", 43) == 0);
		assert_ptr_equal(strchr(b, '\n'), b + strlen(b) - 1);
		free(b);
	}
	/* the cheap answers have no deadline */
	assert_int_equal(serve(a, "data/meta", NULL, &b), 200);
	free(b);
	cprof_webapi_free(a);
}

/* The reports stop matching at the thread's deadline: a report with a
 * filter fails with one line saying so, instead of running on. */
static void test_regex_deadline(void **st)
{
	(void)st;
	cprof_ropts r;
	cprof_ropts_init(&r);
	r.focus = "main";
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	cprof_profile *d = cprof_profile_dup(prof);
	cprof_error err = { 0 };
	cpr_deadline_set(1);    /* long gone */
	int rc = cprof_report(d, &r, devnull, devnull, &err);
	cpr_deadline_set(0);
	cprof_profile_free(d);
	assert_int_equal(rc, CPROF_ELIMIT);
	assert_non_null(strstr(err.msg, "deadline exceeded"));
	assert_non_null(strstr(err.msg, "`main`"));
	/* and with no deadline the same report runs */
	d = cprof_profile_dup(prof);
	assert_int_equal(cprof_report(d, &r, devnull, devnull, &err), 0);
	cprof_profile_free(d);
	fclose(devnull);
}

static cprof_webapi *shared;
static char *expect_top, *expect_flame;

static void *worker(void *arg)
{
	(void)arg;
	const char *top[] = { "n=5", NULL };
	const char *flame[] = { "w=600", "g=lines", NULL };
	for (int i = 0; i < 20; i++) {
		char *b;
		bool ok = serve(shared, "data/top", top, &b) == 200 && strcmp(b, expect_top) == 0;
		free(b);
		if (!ok)
			return (void *)1;
		ok = serve(shared, "data/flame", flame, &b) == 200 && strcmp(b, expect_flame) == 0;
		free(b);
		if (!ok)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **st)
{
	(void)st;
	shared = make(0);
	const char *top[] = { "n=5", NULL };
	const char *flame[] = { "w=600", "g=lines", NULL };
	assert_int_equal(serve(shared, "data/top", top, &expect_top), 200);
	assert_int_equal(serve(shared, "data/flame", flame, &expect_flame), 200);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *res;
		pthread_join(th[i], &res);
		assert_null(res);
	}
	free(expect_top);
	free(expect_flame);
	cprof_webapi_free(shared);
}

/* A trace: the timeline's routes; views of its delay profiles answer 503
 * until the loader hands each over, then show that kind (tp=) or the
 * config's kind (no tp). */
static void test_trace_profiles(void **st)
{
	(void)st;
	static const char trace[] =
		"[{\"ph\":\"X\",\"tid\":1,\"cat\":\"blocked\",\"ts\":0,\"dur\":100,"
		"\"args\":{\"reason\":\"mutex\",\"stack\":[\"lockit a.c:1\"]}},"
		"{\"ph\":\"X\",\"tid\":1,\"cat\":\"blocked\",\"ts\":100,\"dur\":50,"
		"\"args\":{\"reason\":\"read\",\"stack\":[\"readit b.c:2\"]}}]";
	cprof_timeline *tl = NULL;
	cprof_profile *ps[3] = { NULL }, *ph = NULL;
	for (int k = 0; k < 3; k++)
		assert_int_equal(cprof_trace_pprof(trace, sizeof trace - 1, (cprof_trace_kind)k, &ps[k], NULL), 0);
	assert_int_equal(cprof_trace_pprof("[]", 2, CPROF_TRACE_SYNC, &ph, NULL), 0);
	assert_int_equal(cprof_timeline_build(trace, sizeof trace - 1, &tl, NULL), 0);
	cprof_webapi_config c = { .p = ph, .defaults = &defaults, .timeline = tl, .trace_main = 0 };
	cprof_webapi *a = NULL;
	assert_int_equal(cprof_webapi_new(&c, &a), 0);
	char *b;
	static const char *const sync[] = { "tp=sync", NULL }, *const sys[] = { "tp=syscall", NULL };
	assert_int_equal(serve(a, "data/top", sync, &b), 503);
	assert_non_null(strstr(b, "sync profile is still being built"));
	free(b);
	assert_int_equal(serve(a, "data/flame", NULL, &b), 503);
	free(b);
	assert_int_equal(serve(a, "data/timeline/meta", NULL, &b), 200);
	assert_non_null(strstr(b, "\"states\":[\"running\",\"runnable\",\"mutex\",\"read\"]"));
	free(b);
	assert_int_equal(serve(a, "timeline", NULL, &b), 200);
	assert_non_null(strstr(b, "static/timeline.js"));
	free(b);
	for (int k = 0; k < 3; k++)
		cprof_webapi_trace_profile(a, k, ps[k]);
	assert_int_equal(serve(a, "data/top", sync, &b), 200);
	assert_non_null(strstr(b, "lockit"));
	assert_null(strstr(b, "readit"));
	free(b);
	assert_int_equal(serve(a, "data/top", sys, &b), 200);
	assert_non_null(strstr(b, "readit"));
	assert_null(strstr(b, "lockit"));
	free(b);
	/* no tp: the config's kind; the flame cache keeps the kinds apart */
	assert_int_equal(serve(a, "data/flame", NULL, &b), 200);
	assert_non_null(strstr(b, "lockit"));
	free(b);
	assert_int_equal(serve(a, "data/flame", sys, &b), 200);
	assert_non_null(strstr(b, "readit"));
	assert_null(strstr(b, "lockit"));
	free(b);
	cprof_webapi_free(a);
	cprof_timeline_free(tl);
	for (int k = 0; k < 3; k++)
		cprof_profile_free(ps[k]);
	cprof_profile_free(ph);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_and_meta),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_deadline_answer),
		cmocka_unit_test(test_regex_deadline),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_trace_profiles),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
