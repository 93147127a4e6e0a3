/*
 * store_shared.c - what both store backends (the SQLite store,
 * store_sqlite.c, store_query.c, store_list.c; the ClickHouse one,
 * store_ch*.c) share: the checks they make on their callers' arguments
 * before they touch their storage, so that both answer the same input with
 * the same error, the windows of a series over time, and the lists they
 * answer.
 *
 * Pure functions on caller-owned values: thread-safe.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_query_args(const char *kind, int64_t from_ns, int64_t until_ns, cprof_profile **out,
		   srv_query_info *info, cprof_error *err)
{
	memset(info, 0, sizeof *info);
	*out = NULL;
	if (!srv_kind_valid(kind))
		return cprof_seterr(err, CPROF_EINVAL, "bad profile kind \"%s\"", kind ? kind : "");
	if (from_ns < 0 || until_ns <= from_ns)
		return cprof_seterr(err, CPROF_EINVAL, "empty or negative time range");
	info->agg = srv_kind_agg(kind);
	return 0;
}

int srv_append_args(const char *kind, int64_t time_ns, int64_t duration_ns,
		    const cprof_profile *p, size_t max_samples, cprof_error *err)
{
	if (!srv_kind_valid(kind))
		return cprof_seterr(err, CPROF_EINVAL, "bad profile kind \"%s\"", kind ? kind : "");
	if (!p || time_ns < 0 || duration_ns < 0)
		return cprof_seterr(err, CPROF_EINVAL, "store: bad profile, time or duration");
	if (p->samples.n > max_samples)
		return cprof_seterr(err, CPROF_ELIMIT, "profile has %zu samples, the limit is %zu",
				    p->samples.n, max_samples);
	return 0;
}

int srv_points_count(int64_t from, int64_t until, int64_t step, size_t *n, cprof_error *err)
{
	*n = 0;
	if (step <= 0)
		return cprof_seterr(err, CPROF_EINVAL, "step must be positive");
	if (from < 0 || until <= from)
		return cprof_seterr(err, CPROF_EINVAL, "empty or negative time range");
	uint64_t k = ((uint64_t)(until - from) + (uint64_t)step - 1) / (uint64_t)step;
	if (k > SRV_SERIES_POINTS_MAX)
		return cprof_seterr(err, CPROF_EINVAL, "%llu points: at most %d (raise the step)",
				    (unsigned long long)k, SRV_SERIES_POINTS_MAX);
	*n = (size_t)k;
	return 0;
}

int srv_wins_init(srv_wins *w, size_t nseries, int64_t from, int64_t until, int64_t step,
		  cprof_error *err)
{
	memset(w, 0, sizeof *w);
	size_t n;
	int rc = srv_points_count(from, until, step, &n, err);
	if (rc)
		return rc;
	if (nseries > ((size_t)1 << 40) / (n + 1))
		return cprof_seterr(err, CPROF_ELIMIT, "too many series times points");
	w->n = n;
	w->sum = calloc(n * (nseries + 1), sizeof *w->sum);
	w->cnt = calloc(n * (nseries + 1), sizeof *w->cnt);
	w->pts = calloc(n, sizeof *w->pts);
	if (!w->sum || !w->cnt || !w->pts)
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	return 0;
}

void srv_wins_free(srv_wins *w)
{
	free(w->sum);
	free(w->cnt);
	free(w->pts);
}

int srv_focus_re(const char *focus, pcre2_code **re, cprof_error *err)
{
	*re = NULL;
	if (!focus)
		return 0;
	int ec;
	PCRE2_SIZE eo;
	*re = pcre2_compile((PCRE2_SPTR)focus, strlen(focus), PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
			    &ec, &eo, NULL);
	if (!*re) {
		PCRE2_UCHAR why[120];
		pcre2_get_error_message(ec, why, sizeof why);
		return cprof_seterr(err, CPROF_EINVAL, "bad focus regexp: %s", (char *)why);
	}
	return 0;
}

bool srv_strlist_add(srv_strlist *l, size_t *cap, const char *s)
{
	if (cprof_reserve((void **)&l->v, cap, l->n + 1, sizeof *l->v))
		return false;
	char *d = strdup(s);
	if (!d)
		return false;
	l->v[l->n++] = d;
	return true;
}

int srv_metric_kind(const char *name, int64_t time_ns, char kind[SRV_METRIC_KIND_MAX],
		    cprof_error *err)
{
	size_t nl = name ? strlen(name) : 0;
	if (nl == 0 || nl > SRV_METRIC_KIND_MAX - 8 || time_ns < 0)
		return cprof_seterr(err, CPROF_EINVAL, "bad metric name or time");
	snprintf(kind, SRV_METRIC_KIND_MAX, "#%s", name);
	return 0;
}
