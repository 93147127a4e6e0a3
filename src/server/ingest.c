/*
 * ingest.c - push ingest: Pyroscope's `POST /ingest`, as its language
 * clients (@pyroscope/nodejs, pyroscope-go...) send it.
 *
 *   POST /ingest?name=APP{k=v,...}&from=UNIX&until=UNIX&format=pprof|folded|lines
 *        [&sampleRate=HZ][&spyName=...][&type=KIND]
 *
 * The body is profile.proto, raw or gzipped, or a multipart/form-data body
 * whose `profile` part is (Pyroscope's newer clients), or folded stacks
 * ("a;b;c 12" per line), or `lines` (one stack per line, one sample each).
 * APP becomes the label service_name, the {...} labels the others
 * (ingest_parse.c).  The kind (cpu, wall, heap, ...) comes from the
 * profile's sample types, never from the client's sampleRate or units:
 * @pyroscope/nodejs sends a wrong sampleRate for pprof bodies, so for pprof
 * the profile's own period counts.  Where the sample types are ambiguous
 * (Go's block and mutex profiles have the same ones) the push's own hints
 * decide (srv_push_kind): `type=KIND`, the `__name__` label, or the display
 * names in a multipart `sample_type_config` part (pyroscope-go's
 * block_count / block_duration).
 *
 * Bounds, each a clear 4xx: the body (limits.max_body, checked by server.c
 * while it arrives: 413), its inflated size (limits.max_decoded: 413), the
 * decoder's memory (cprof_set_mem_limit, set by server.c: 413), labels in
 * number and length (400), series per service (limits.max_series_per_target:
 * 429; the series seen are counted by series_limit.c), the store's own max_series (429)
 * and max_samples (413).  The answer is 200 with an empty body as soon as
 * the profile is in the store's batch: well within any client's flush
 * interval.
 *
 * Threads: srv_ingest_handle runs on the HTTP daemon's threads, several at
 * once; the per-service series counter (series_limit.c, shared with the
 * scrapers) is the only shared state.
 */
#include "server_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the handler ---------------------------------------------------------- */

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool is_gzip(const void *d, size_t n)
{
	const unsigned char *u = d;
	return n >= 2 && u[0] == 0x1f && u[1] == 0x8b;
}

/* Status for a store or decoder error code. */
static unsigned status_of(int code)
{
	return code == CPROF_ELIMIT ? 413 : code == CPROF_ENOMEM ? 503
	       : code == CPROF_EIO ? 500 : 400;
}

void srv_ingest_handle(srv_ctx *c, const srv_req *rq, srv_resp *rs)
{
	const srv_limits *lim = &c->cfg->limits;
	char err[SRV_ERR_MAX] = "";
	const char *name = rq->arg(rq, "name");
	if (!name || !*name) {
		srv_resp_error(rs, 400, "name: missing (want name=APP{key=value,...})");
		return;
	}
	srv_lset ls;
	char metric[64];
	if (srv_parse_app_name(name, strlen(name), &ls, metric, sizeof metric, err, sizeof err)) {
		srv_resp_error(rs, 400, "%s", err);
		return;
	}
	int64_t now = wall_ns(), from = 0, until = 0;
	const char *sf = rq->arg(rq, "from"), *su = rq->arg(rq, "until");
	if (sf && *sf && srv_parse_push_time(sf, &from)) {
		srv_resp_error(rs, 400, "from: not a Unix time: %.40s", sf);
		return;
	}
	if (su && *su && srv_parse_push_time(su, &until)) {
		srv_resp_error(rs, 400, "until: not a Unix time: %.40s", su);
		return;
	}
	if (until && from && until < from) {
		srv_resp_error(rs, 400, "until is before from");
		return;
	}
	const char *fmt = rq->arg(rq, "format");
	if (!fmt || !*fmt)
		fmt = "folded";     /* Pyroscope's default */
	bool pprof = !strcmp(fmt, "pprof"), folded = !strcmp(fmt, "folded"),
	     lines = !strcmp(fmt, "lines");
	if (!strcmp(fmt, "trie")) {
		srv_resp_error(rs, 400, "format=trie is not supported (pprof, folded, lines are)");
		return;
	}
	if (!pprof && !folded && !lines) {
		srv_resp_error(rs, 400, "format=%.20s is not supported (pprof, folded, lines are)", fmt);
		return;
	}
	const char *body = rq->body;
	size_t len = rq->len;
	const char *ctype = rq->header(rq, "Content-Type");
	const char *stc_hint = NULL;
	if (ctype && !strncasecmp(ctype, "multipart/form-data", 19)) {
		const void *part;
		size_t pn;
		if (srv_multipart_field(ctype, body, len, "sample_type_config", &part, &pn, err,
					sizeof err) == 0)
			stc_hint = srv_stc_kind_hint(part, pn);
		int m = srv_multipart_field(ctype, body, len, "profile", &part, &pn, err, sizeof err);
		if (m < 0) {
			srv_resp_error(rs, 400, "%s", err);
			return;
		}
		if (m == 1) {
			srv_resp_error(rs, 400, "body: multipart body without a \"profile\" part");
			return;
		}
		body = part;
		len = pn;
	}
	if (len == 0) {
		srv_resp_error(rs, 400, "body: empty (the profile goes in the POST body)");
		return;
	}
	void *plain = NULL;
	size_t plen = 0;
	cprof_error ce = { 0 };
	if (is_gzip(body, len)) {
		int g = cprof_gunzip(body, len, lim->max_decoded, &plain, &plen, &ce);
		if (g) {
			if (g == CPROF_ELIMIT)
				srv_resp_error(rs, 413, "body: inflates to more than %zu bytes (limits.max_decoded)",
					       lim->max_decoded);
			else
				srv_resp_error(rs, status_of(g), "body: %s", ce.msg);
			return;
		}
		body = plain;
		len = plen;
	}
	cprof_profile *p = NULL;
	int rc;
	if (pprof) {
		rc = cprof_pb_decode(body, len, &p, &ce);
	} else {
		char *fb = NULL;
		size_t fn = 0;
		if (lines && srv_lines_to_folded(body, len, lim->max_decoded, &fb, &fn, err, sizeof err)) {
			free(plain);
			srv_resp_error(rs, 413, "%s", err);
			return;
		}
		rc = cprof_folded_decode(lines ? fb : body, lines ? fn : len, &p, &ce);
		if (rc == CPROF_EUNKNOWN)
			cprof_seterr(&ce, rc, "not folded stacks (\"frame;frame;... COUNT\" lines)");
		free(fb);
		if (!rc) {
			/* sampleRate (Hz): each sample is 1/rate s of CPU */
			const char *sr = rq->arg(rq, "sampleRate");
			long hz = sr ? strtol(sr, NULL, 10) : 100;
			if (hz <= 0 || hz > 1000000000)
				hz = 100;
			p->period = 1000000000 / hz;
			p->period_type.type = cprof_intern_cstr(p, "cpu");
			p->period_type.unit = cprof_intern_cstr(p, "nanoseconds");
		}
	}
	free(plain);
	if (rc) {
		cprof_profile_free(p);
		srv_resp_error(rs, status_of(rc), "body: %s: %s", pprof ? "profile.proto" : fmt,
			       ce.code ? ce.msg : cprof_strerror(rc));
		return;
	}
	const char *kind;
	if (srv_push_kind(p, rq->arg(rq, "type"), metric, stc_hint, &kind, err, sizeof err)) {
		cprof_profile_free(p);
		srv_resp_error(rs, 400, "%s", err);
		return;
	}
	if (!from)
		from = p->time_nanos ? p->time_nanos : now;
	if (!until)
		until = p->duration_nanos ? from + p->duration_nanos : from;
	const char *owner = srv_lset_get(&ls, "service_name");
	if (!owner)
		owner = srv_lset_get(&ls, "instance");
	srv_label larr[SRV_LABELS_MAX];
	srv_labels lview;
	srv_lset_view(&ls, larr, &lview);
	int adm = srv_series_admit(owner ? owner : "", &lview, kind, lim);
	if (adm) {
		cprof_profile_free(p);
		if (adm < 0)
			srv_resp_error(rs, 503, "out of memory");
		else
			srv_resp_error(rs, 429, "too many series for service %s (limits.max_series_per_target %zu)",
				       srv_lset_get(&ls, "service_name"), lim->max_series_per_target);
		return;
	}
	srv_label arr[SRV_LABELS_MAX];
	srv_labels view;
	srv_lset_view(&ls, arr, &view);
	rc = srv_store_append(c->store, &view, kind, from, until - from, p, NULL, &ce);
	cprof_profile_free(p);
	if (rc) {
		unsigned st = rc == CPROF_ELIMIT ? (strstr(ce.msg, "series") ? 429 : 413) : status_of(rc);
		srv_resp_error(rs, st, "%s", ce.code ? ce.msg : cprof_strerror(rc));
		return;
	}
	rs->status = 200;
	rs->ctype = "text/plain";
	rs->body = NULL;
	rs->len = 0;
}
