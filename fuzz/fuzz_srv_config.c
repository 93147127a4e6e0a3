/*
 * fuzz_srv_config.c - libFuzzer target for the server's YAML config
 * (src/server/config.c with libyaml, and the duration and selector
 * parsers and the relabelling it uses, compiled in).
 *
 * Input: the text of a config file.  Checks: a refusal is one line
 * "fuzz.yaml:LINE: KEY: problem" (no newline in it); an accepted config
 * has jobs with a name, an interval of at least 1 s, at most
 * SRV_PROF_MAX profiles whose enabled ones have a path starting with '/',
 * targets with a base URL of http or https, the job and instance labels
 * and no "__" label left after relabelling; rules with a name and a metric; limits all positive.
 * Seeds: fuzz/seeds/fuzz_srv_config.
 */
#include "../src/server/config.c"
#include "../src/server/srvutil.c"
#include "../src/server/timeparse.c"
#include "../src/server/selector.c"
#include "../src/server/relabel.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_srv_config: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	srv_config c;
	srv_config_init(&c);
	char err[512] = "";
	if (srv_config_parse(&c, "fuzz.yaml", data, size, err, sizeof err)) {
		CHECK(!strncmp(err, "fuzz.yaml:", 10), "refusal not naming the file: %s", err);
		CHECK(!strchr(err, '\n'), "refusal of several lines: %s", err);
	} else {
		for (size_t i = 0; i < c.njobs; i++) {
			srv_job_cfg *j = &c.jobs[i];
			CHECK(j->name[0], "job without a name");
			CHECK(j->interval_ns >= 1000000000, "interval under 1 s");
			CHECK(j->nprof <= SRV_PROF_MAX, "too many profiles");
			for (size_t p = 0; p < j->nprof; p++)
				CHECK(!j->prof[p].enabled || j->prof[p].path[0] == '/', "bad path %s",
				      j->prof[p].path);
			for (size_t t = 0; t < j->ntargets; t++) {
				srv_target_cfg *tg = &j->targets[t];
				CHECK(!strncmp(tg->base, "http://", 7) || !strncmp(tg->base, "https://", 8),
				      "bad base %s", tg->base);
				CHECK(srv_lpack_get(tg->labels, "job") && srv_lpack_get(tg->labels, "instance"),
				      "target without job/instance");
				for (size_t l = 0; l < tg->labels->n; l++)
					CHECK(strncmp(tg->labels->v[l].name, "__", 2), "label %s left",
					      tg->labels->v[l].name);
				CHECK(!tg->metrics_path[0] || tg->metrics_path[0] == '/', "metrics path %s",
				      tg->metrics_path);
			}
		}
		for (size_t r = 0; r < c.nrules; r++)
			CHECK(c.rules[r].name[0] && c.rules[r].metric[0], "rule without name/metric");
		CHECK(c.limits.max_body && c.limits.max_decoded && c.limits.max_series &&
		      c.limits.max_samples && c.limits.max_series_per_target && c.limits.max_scrape_bytes,
		      "a zero limit");
	}
	srv_config_free(&c);
	return 0;
}
