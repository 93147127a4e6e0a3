/*
 * fuzz_srv_ingest.c - libFuzzer target for the server's push parsers
 * (src/server/ingest_parse.c and srvutil.c, compiled in): what every
 * `POST /ingest` meets before the store.
 *
 * Input: "NAME\nCONTENT-TYPE\nTIME\nBODY" (missing parts are empty).
 * NAME goes through srv_parse_app_name (Pyroscope's APP{k=v,...}),
 * TIME through srv_parse_push_time, the BODY through
 * srv_multipart_field with CONTENT-TYPE, srv_lines_to_folded and the
 * core's folded decoder (what format=lines and format=folded do), and
 * srv_stc_kind_hint (a sample_type_config part's display names).
 * Checks: a parsed name has service_name (and a __name__ within its
 * buffer), sorted unique names of the
 * sanitised charset within the bounds, NUL-terminated values within
 * theirs; a multipart part lies inside the body; the folded text of
 * `lines` is within its ceiling and ends every line with " 1"; every
 * label value can be written as JSON.
 * Seeds: fuzz/seeds/fuzz_srv_ingest.
 */
#include "../src/server/ingest_parse.c"
#include "../src/server/srvutil.c"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_srv_ingest: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static char *part(const uint8_t **d, size_t *n, size_t *len)
{
	const uint8_t *nl = memchr(*d, '\n', *n);
	size_t k = nl ? (size_t)(nl - *d) : *n;
	char *s = malloc(k + 1);
	memcpy(s, *d, k);
	s[k] = '\0';
	*len = k;
	*d += k + (nl != NULL);
	*n -= k + (nl != NULL);
	return s;
}

static bool name_ok(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nl, cl, tl;
	char *name = part(&data, &size, &nl);
	char *ctype = part(&data, &size, &cl);
	char *tm = part(&data, &size, &tl);
	const char *body = (const char *)data;
	size_t blen = size;
	char err[SRV_ERR_MAX];

	static srv_lset ls;
	char metric[16];
	if (srv_parse_app_name(name, nl, &ls, metric, sizeof metric, err, sizeof err) == 0) {
		CHECK(srv_lset_get(&ls, "service_name"), "no service_name");
		CHECK(strlen(metric) < sizeof metric, "metric name past its buffer");
		CHECK(ls.n <= SRV_LABELS_MAX, "too many labels");
		srv_buf b = { 0 };
		for (size_t i = 0; i < ls.n; i++) {
			CHECK(name_ok(ls.v[i].name), "bad label name %s", ls.v[i].name);
			CHECK(strlen(ls.v[i].name) <= SRV_LABEL_NAME_MAX, "name too long");
			CHECK(strlen(ls.v[i].value) <= SRV_LABEL_VALUE_MAX, "value too long");
			CHECK(i == 0 || strcmp(ls.v[i - 1].name, ls.v[i].name) < 0, "not sorted/unique");
			srv_buf_json_str(&b, ls.v[i].value, strlen(ls.v[i].value));
		}
		CHECK(!b.err, "JSON buffer failed");
		srv_buf_free(&b);
	} else {
		CHECK(err[0], "a refusal without a message");
	}

	int64_t ns;
	if (srv_parse_push_time(tm, &ns) == 0)
		CHECK(ns >= 0, "negative time");

	const void *out;
	size_t olen;
	int m = srv_multipart_field(ctype, body, blen, "profile", &out, &olen, err, sizeof err);
	if (m == 0)
		CHECK((const char *)out >= body && (const char *)out + olen <= body + blen,
		      "part outside the body");
	const char *hint = srv_stc_kind_hint(body, blen);
	CHECK(!hint || !strcmp(hint, "block") || !strcmp(hint, "mutex"), "odd hint");

	char *fb;
	size_t fn;
	size_t max = 1 << 16;
	if (srv_lines_to_folded(body, blen, max, &fb, &fn, err, sizeof err) == 0) {
		CHECK(fn <= max, "folded past its ceiling");
		CHECK(fn == 0 || (fn >= 3 && !memcmp(fb + fn - 3, " 1\n", 3)), "line without count");
		cprof_profile *p = NULL;
		cprof_error e = { 0 };
		if (fn && cprof_folded_decode(fb, fn, &p, &e) == 0)
			CHECK(p->samples.n > 0, "folded lines without samples");
		cprof_profile_free(p);
		free(fb);
	}
	free(name);
	free(ctype);
	free(tm);
	return 0;
}
