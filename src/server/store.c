/*
 * store.c - the store's front: srv_store_open picks a backend from the
 * storage URL, and every srv_store_* call checks what it can check without
 * the data and forwards to the backend's operations table (store.h,
 * srv_store_ops).  The SQLite backend is store_sqlite.c (with
 * store_query.c, store_list.c, store_rollup.c, store_dict.c), the
 * ClickHouse backend store_ch*.c; what both use (argument checks, window
 * sums, the codec) is store_shared.c and store_codec.c.
 *
 * Nothing here holds state: thread-safety is the backend's (each entry is
 * as thread-safe as the srv_store_* call it implements).
 */
#include "store_int.h"

#include <string.h>

int srv_store_open(const char *dir, const srv_store_opts *opts, srv_store **out,
		   cprof_error *err)
{
	*out = NULL;
	if (!dir || !*dir)
		return cprof_seterr(err, CPROF_EINVAL, "store: no storage directory or URL");
	if (strncmp(dir, "clickhouse://", 13) == 0)
		return srv_clickhouse_open(dir, opts, out, err);
	return srv_sqlite_open(dir, opts, out, err);
}

void srv_store_close(srv_store *s)
{
	if (s)
		s->ops->close(s);
}

const char *srv_store_backend(const srv_store *s)
{
	return s->ops->name;
}

int srv_store_append(srv_store *s, const srv_labels *labels, const char *kind, int64_t time_ns,
		     int64_t duration_ns, const cprof_profile *p, const char *pinned_rule,
		     cprof_error *err)
{
	return s->ops->append(s, labels, kind, time_ns, duration_ns, p, pinned_rule, err);
}

int srv_store_append_metric(srv_store *s, const srv_labels *labels, const char *name,
			    int64_t time_ns, double value, cprof_error *err)
{
	char kind[SRV_METRIC_KIND_MAX];
	int rc = srv_metric_kind(name, time_ns, kind, err);
	return rc ? rc : s->ops->append_metric(s, labels, kind, time_ns, value, err);
}

int srv_store_flush(srv_store *s, cprof_error *err)
{
	return s->ops->flush(s, err);
}

int srv_store_query(srv_store *s, const srv_selector *sel, const char *kind, int64_t from_ns,
		    int64_t until_ns, cprof_profile **out, srv_query_info *info, cprof_error *err)
{
	srv_query_info dummy;
	if (!info)
		info = &dummy;
	int rc = srv_query_args(kind, from_ns, until_ns, out, info, err);
	if (rc)
		return rc;
	return s->ops->query(s, sel, kind, from_ns, until_ns, out, info, err);
}

int srv_store_series(srv_store *s, const srv_selector *sel, const char *kind, int64_t from_ns,
		     int64_t until_ns, int64_t step_ns, const char *sample_type, const char *focus,
		     srv_series_cb cb, void *ctx, cprof_error *err)
{
	if (!srv_kind_valid(kind))
		return cprof_seterr(err, CPROF_EINVAL, "bad profile kind \"%s\"", kind ? kind : "");
	return s->ops->series(s, sel, kind, from_ns, until_ns, step_ns, sample_type, focus, cb,
			      ctx, err);
}

int srv_store_metric_series(srv_store *s, const srv_selector *sel, const char *name,
			    int64_t from_ns, int64_t until_ns, int64_t step_ns, srv_series_cb cb,
			    void *ctx, cprof_error *err)
{
	if (!name || !*name || strlen(name) > 200)
		return cprof_seterr(err, CPROF_EINVAL, "bad metric name");
	return s->ops->metric_series(s, sel, name, from_ns, until_ns, step_ns, cb, ctx, err);
}

int srv_store_labels(srv_store *s, int64_t from_ns, int64_t until_ns, srv_strlist *out,
		     cprof_error *err)
{
	memset(out, 0, sizeof *out);
	return s->ops->listing(s, 0, NULL, from_ns, until_ns, out, err);
}

int srv_store_label_values(srv_store *s, const char *name, int64_t from_ns, int64_t until_ns,
			   srv_strlist *out, cprof_error *err)
{
	memset(out, 0, sizeof *out);
	if (!name)
		return cprof_seterr(err, CPROF_EINVAL, "no label name");
	return s->ops->listing(s, 1, name, from_ns, until_ns, out, err);
}

int srv_store_types(srv_store *s, int64_t from_ns, int64_t until_ns, srv_strlist *out,
		    cprof_error *err)
{
	memset(out, 0, sizeof *out);
	return s->ops->listing(s, 2, NULL, from_ns, until_ns, out, err);
}

int srv_store_snapshots(srv_store *s, int64_t from_ns, int64_t until_ns,
			int (*cb)(void *ctx, const srv_snapshot *snap), void *ctx, cprof_error *err)
{
	return s->ops->snapshots(s, from_ns, until_ns, cb, ctx, err);
}

int srv_store_snapshot_get(srv_store *s, int64_t id, cprof_profile **out, cprof_error *err)
{
	*out = NULL;
	return s->ops->snapshot_get(s, id, out, err);
}

int srv_store_retention(srv_store *s, int64_t now_ns, cprof_error *err)
{
	return s->ops->retention(s, now_ns, err);
}

int srv_store_rollup_sync(srv_store *s, cprof_error *err)
{
	return s->ops->rollup_sync(s, err);
}

void srv_store_get_stats(srv_store *s, srv_store_stats *st)
{
	s->ops->stats(s, st);
}

int srv_store_walk(srv_store *s, int64_t from_ns, int64_t until_ns, srv_stored_cb cb,
		   void *ctx, cprof_error *err)
{
	return s->ops->walk(s, from_ns, until_ns, cb, ctx, err);
}

int srv_store_times(srv_store *s, int64_t from_ns, int64_t until_ns, srv_stored_cb cb,
		    void *ctx, cprof_error *err)
{
	return s->ops->times(s, from_ns, until_ns, cb, ctx, err);
}

int srv_store_days(srv_store *s, int32_t **days, size_t *n, cprof_error *err)
{
	*days = NULL;
	*n = 0;
	return s->ops->days(s, days, n, err);
}
