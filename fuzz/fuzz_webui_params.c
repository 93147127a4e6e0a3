/*
 * fuzz_webui_params.c - libFuzzer target for the web UI's URL parameters
 * and the web API that serves them (src/cli/webui_params.c, compiled in;
 * src/report/options.c and webapi.c from the report layer): a request's
 * raw query into the report options the server runs, then the answers the
 * server would send.
 *
 * The input is a query string ("f=main&g=lines&nf=0.1&zoom=a%0Ab...").  It
 * is parsed as the server's copy of a request's query (webui_query_parse),
 * turned into options over the command line's defaults through the option
 * table (cprof_ropts_from_url) and a flame-cache key
 * (cprof_ropts_flame_key).  Then the web API answers data/top, data/flame,
 * data/sandwich and data/peek with that query over one small profile
 * (tests/golden/go/block.pb.gz, decoded once; the target runs from the
 * repository root or with CPROF_SRCDIR), as the server's job threads do.
 *
 * Properties checked (abort on violation): accepted options are whole --
 * granularity one of its five, the node count from -1 to 1,000,000, the
 * node and edge fractions numbers from 0 to 1 -- and every string option
 * is the command line's or one of the query's values; a refusal is a
 * one-line message; every answer is 200, or a 4xx with a one-line body
 * that the refusal predicted; the profile the API reads is untouched (each
 * job works on a copy), as the server's concurrent jobs rely on.
 * Seeds: fuzz/seeds/fuzz_webui_params.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/webui_params.c"
#include "cprof_options.h"
#include "cprof_webapi.h"

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
static cprof_ropts cli;
static cprof_webapi *api;

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
	cprof_ropts_init(&cli);
	cprof_webapi_config c = { .p = prof, .defaults = &cli };
	CHECK(cprof_webapi_new(&c, &api) == 0, "cannot make the web API");
}

static const char *query_get(void *ctx, const char *key)
{
	return webui_arg(ctx, key);
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
	cprof_ropts r = cli;
	char msg[256];
	bool refused = cprof_ropts_from_url(&r, query_get, &q, msg, sizeof msg) < 0;
	char *key = cprof_ropts_flame_key(query_get, &q);
	CHECK(key, "no flame key");
	free(key);
	if (refused) {
		CHECK(*msg && !strchr(msg, '\n'), "a refusal that is not one line");
	} else {
		CHECK(r.granularity >= 0 && r.granularity <= 4, "granularity %d", r.granularity);
		CHECK(r.nodecount >= -1 && r.nodecount <= 1000000, "nodecount %d", r.nodecount);
		CHECK(isfinite(r.nodefraction) && r.nodefraction >= 0 && r.nodefraction <= 1,
		      "nodefraction %g", r.nodefraction);
		CHECK(isfinite(r.edgefraction) && r.edgefraction >= 0 && r.edgefraction <= 1,
		      "edgefraction %g", r.edgefraction);
		const char *const strs[][2] = {
			{ r.focus, cli.focus }, { r.ignore, cli.ignore }, { r.hide, cli.hide },
			{ r.show, cli.show }, { r.show_from, cli.show_from },
			{ r.prune_from, cli.prune_from }, { r.tagfocus, cli.tagfocus },
			{ r.tagignore, cli.tagignore }, { r.tagshow, cli.tagshow },
			{ r.taghide, cli.taghide }, { r.sample_index, cli.sample_index },
			{ r.unit, cli.unit },
		};
		for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
			CHECK(borrowed(&q, strs[i][0], strs[i][1]), "option %zu points elsewhere", i);
	}

	/* what the server's jobs answer */
	static const char *const paths[] = { "data/top", "data/flame", "data/sandwich", "data/peek" };
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		cprof_webresp w;
		cprof_webapi_serve(api, paths[i], query_get, &q, &w);
		CHECK(w.status == 200 || (w.status >= 400 && w.status < 500), "%s: status %u",
		      paths[i], w.status);
		CHECK(!refused || w.status == 400, "%s: a refused query answered %u", paths[i],
		      w.status);
		if (w.status != 200)
			CHECK(w.len && !memchr(w.body, '\n', w.len), "%s: a %u that is not one line",
			      paths[i], w.status);
		cprof_webresp_free(&w);
	}
	CHECK(prof->samples.n == nsamples && prof->locations.n == nlocations,
	      "the shared profile changed");
	webui_query_free(&q);
	return 0;
}
