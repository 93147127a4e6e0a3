/*
 * fuzz_webui_params.c - libFuzzer target for the web UI's URL parameters
 * (src/cli/webui_params.c, compiled in here): a request's raw query into
 * the report options the server runs, then the reports the server would
 * run with them.
 *
 * The input is a query string ("f=main&g=lines&nf=0.1&zoom=a%0Ab...").  It
 * is parsed as the server's copy of a request's query (webui_query_parse),
 * turned into options over the command line's defaults (webui_url_opts)
 * and a flame-cache key (webui_flame_key).  When the options are accepted,
 * the top report and the flame graph's tree (built, then written at the
 * query's zoom) run on a copy of one small profile
 * (tests/golden/go/block.pb.gz, decoded once; the target runs from the
 * repository root or with CPROF_SRCDIR).  Reports go to /dev/null.
 *
 * Properties checked (abort on violation): accepted options are whole --
 * granularity one of its five, the node count from -1 to 1,000,000, the
 * node and edge fractions numbers from 0 to 1 -- and every string option
 * is the command line's or one of the query's values; a refusal is a
 * message; the profile read by every report is untouched (each works on a
 * copy), as the server's concurrent jobs rely on.
 * Seeds: fuzz/seeds/fuzz_webui_params.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/webui_params.c"
#include "cprof_webdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_webui_params: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static cprof_profile *prof;
static size_t nsamples, nlocations;
static FILE *devnull;

static void load(void)
{
	const char *dir = getenv("CPROF_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s%stests/golden/go/block.pb.gz", dir ? dir : "",
		 dir ? "/" : "");
	cprof_error err = { 0 };
	CHECK(cprof_decode_file(path, &prof, &err) == 0, "cannot load %s: %s", path, err.msg);
	nsamples = prof->samples.n;
	nlocations = prof->locations.n;
	devnull = fopen("/dev/null", "w");
	CHECK(devnull, "cannot open /dev/null");
}

/* s is NULL, the default's, or one of the query's values. */
static bool borrowed(const webui_query *q, const char *s, const char *dflt)
{
	if (!s || s == dflt)
		return true;
	for (size_t i = 0; i < q->n; i++)
		if (s == q->val[i])
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!prof)
		load();
	if (size > 8192)
		return 0;
	webui_query q;
	webui_query_parse(&q, (const char *)data, size);
	cprof_ropts cli, r;
	cprof_ropts_init(&cli);
	char msg[256];
	const char *bad = webui_url_opts(&q, &cli, &r, msg, sizeof msg);
	char *key = webui_flame_key(&q);
	CHECK(key, "no flame key");
	free(key);
	if (bad) {
		CHECK(*bad, "an empty refusal");
		webui_query_free(&q);
		return 0;
	}
	CHECK(r.granularity >= 0 && r.granularity <= 4, "granularity %d", r.granularity);
	CHECK(r.nodecount >= -1 && r.nodecount <= 1000000, "nodecount %d", r.nodecount);
	CHECK(isfinite(r.nodefraction) && r.nodefraction >= 0 && r.nodefraction <= 1,
	      "nodefraction %g", r.nodefraction);
	CHECK(isfinite(r.edgefraction) && r.edgefraction >= 0 && r.edgefraction <= 1,
	      "edgefraction %g", r.edgefraction);
	const char *const strs[][2] = {
		{ r.focus, cli.focus }, { r.ignore, cli.ignore }, { r.hide, cli.hide },
		{ r.show, cli.show }, { r.show_from, cli.show_from }, { r.prune_from, cli.prune_from },
		{ r.tagfocus, cli.tagfocus }, { r.tagignore, cli.tagignore },
		{ r.tagshow, cli.tagshow }, { r.taghide, cli.taghide },
		{ r.sample_index, cli.sample_index }, { r.unit, cli.unit },
	};
	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
		CHECK(borrowed(&q, strs[i][0], strs[i][1]), "option %zu points elsewhere", i);

	/* what the server's jobs run: the top report and the flame graph */
	cprof_error err = { 0 };
	cprof_profile *d = cprof_profile_dup(prof);
	CHECK(d, "out of memory");
	r.format = CPROF_FMT_TEXT;
	cprof_report(d, &r, devnull, devnull, &err);
	cprof_profile_free(d);
	d = cprof_profile_dup(prof);
	CHECK(d, "out of memory");
	cprof_flame *f = NULL;
	if (cprof_flame_build(d, &r, devnull, &f, &err) == 0) {
		const char *z = webui_arg(&q, "zoom");
		const char *names[8];
		size_t nn = 0;
		char zs[256];
		if (z) {
			snprintf(zs, sizeof zs, "%s", z);
			for (char *p = zs, *e; p && nn < 8; p = e) {
				e = strchr(p, '\n');
				if (e)
					*e++ = 0;
				names[nn++] = p;
			}
		}
		const char *fn = webui_arg(&q, "fn");
		CHECK(cprof_flame_write(f, names, nn, 0.25 / 1200, devnull) == 0, "flame write failed");
		cprof_flame_write_sandwich(f, fn ? fn : "", webui_arg(&q, "dir") != NULL, 0.001, devnull);
		cprof_flame_free(f);
	}
	cprof_profile_free(d);
	CHECK(prof->samples.n == nsamples && prof->locations.n == nlocations,
	      "the shared profile changed");
	webui_query_free(&q);
	return 0;
}
