/*
 * fuzz_srv_selector.c - libFuzzer target for the server's label selector
 * parser and matcher (src/server/selector.c, compiled in).
 *
 * Input: the selector text (any bytes, NULs included).  Checks: a parse
 * either succeeds with at most SRV_MATCHERS_MAX matchers whose names and
 * values are within bounds, or fails with CPROF_EINVAL and one line; a
 * parsed selector is matched against a few label sets (the regexps run
 * under their limits: a slow pattern is a timeout report), and a selector
 * made only of = matchers matches the label set built from its own
 * matchers.  Seeds: fuzz/seeds/fuzz_srv_selector.
 */
#include "selector.c"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_srv_selector: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	srv_selector *sel = NULL;
	cprof_error err = { 0 };
	int rc = srv_selector_parse((const char *)data, size, &sel, &err);
	if (rc) {
		CHECK(rc == CPROF_EINVAL || rc == CPROF_ENOMEM, "code %d", rc);
		CHECK(sel == NULL, "selector returned with an error");
		CHECK(!strchr(err.msg, '\n'), "multi-line message");
		return 0;
	}
	CHECK(sel && sel->n <= SRV_MATCHERS_MAX, "matchers");
	srv_label own[SRV_MATCHERS_MAX];
	size_t nown = 0;
	bool all_eq = true;
	for (size_t i = 0; i < sel->n; i++) {
		const srv_matcher *m = &sel->m[i];
		CHECK(name_ok(m->name), "bad name accepted");
		CHECK(strlen(m->value) <= SRV_LABEL_VALUE_MAX, "long value");
		CHECK((m->op == SRV_MATCH_RE || m->op == SRV_MATCH_NRE) == (m->re != NULL), "regexp");
		all_eq &= m->op == SRV_MATCH_EQ;
		own[nown++] = (srv_label){ m->name, m->value };
	}
	srv_label l[] = { { "instance", "10.0.0.1:8080" }, { "job", "api" } };
	srv_labels ls = { l, 2 };
	(void)srv_selector_match(sel, &ls);
	srv_labels none = { NULL, 0 };
	(void)srv_selector_match(sel, &none);
	if (all_eq && srv_labels_sort(own, nown, NULL) == 0) {
		srv_labels ol = { own, nown };
		CHECK(srv_selector_match(sel, &ol), "= selector misses its own labels");
	}
	srv_selector_free(sel);
	return 0;
}
