/*
 * webui_params.c - the web UI's URL parameters into report options (see
 * webui_params.h).
 *
 * pprof's parameters map onto cprof_ropts through the report layer's
 * option table (cprof_ropts_from_url, src/report/options.c): string
 * options are borrowed as given, booleans take t/true/1 or f/false/0,
 * numbers and choices are checked; any other value is a one-line message
 * the server answers with 400.  The query is a private copy (webui_query),
 * so a request's options live as long as its job, not as long as
 * libmicrohttpd keeps the connection's memory.
 */
#include "webui_params.h"
#include "cprof_core.h"
#include "cprof_options.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void webui_query_add(webui_query *q, const char *key, const char *val)
{
	if (!val)
		val = "";
	if (strlen(val) > WEBUI_VALUE_MAX) {
		q->too_long = true;
		return;
	}
	if (q->n >= WEBUI_MAX_ARGS)
		return;
	char *k = strdup(key), *v = strdup(val);
	if (!k || !v) {
		free(k);
		free(v);
		q->oom = true;
		return;
	}
	q->key[q->n] = k;
	q->val[q->n++] = v;
}

/* One %-decoded copy of s[0..n) (as given when an escape is bad). */
static char *decode(const char *s, size_t n)
{
	size_t dn = cprof_url_unescape(s, n, true, NULL, 0);
	bool bad = dn == SIZE_MAX;
	char *d = malloc((bad ? n : dn) + 1);
	if (!d)
		return NULL;
	if (bad) {
		memcpy(d, s, n);
		dn = n;
	} else {
		cprof_url_unescape(s, n, true, d, dn);
	}
	d[dn] = 0;
	return d;
}

void webui_query_parse(webui_query *q, const char *raw, size_t len)
{
	memset(q, 0, sizeof *q);
	for (size_t i = 0; i < len;) {
		const char *amp = memchr(raw + i, '&', len - i);
		size_t e = amp ? (size_t)(amp - raw) : len;
		const char *eq = memchr(raw + i, '=', e - i);
		size_t ke = eq ? (size_t)(eq - raw) : e;
		if (ke > i) {
			char *k = decode(raw + i, ke - i);
			char *v = eq ? decode(eq + 1, e - ke - 1) : strdup("");
			if (!k || !v)
				q->oom = true;
			else if (strlen(k) == ke - i || !memchr(k, 0, ke - i))
				webui_query_add(q, k, v);
			free(k);
			free(v);
		}
		i = e + 1;
	}
}

void webui_query_free(webui_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->key[i]);
		free(q->val[i]);
	}
	q->n = 0;
}

const char *webui_arg(const webui_query *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->key[i], key) == 0)
			return *q->val[i] ? q->val[i] : NULL;
	return NULL;
}

static const char *query_get(void *ctx, const char *key)
{
	return webui_arg(ctx, key);
}

const char *webui_url_opts(const webui_query *q, const cprof_ropts *cli, cprof_ropts *r,
			   char *msg, size_t n)
{
	*r = *cli;
	return cprof_ropts_from_url(r, query_get, (void *)q, msg, n) < 0 ? msg : NULL;
}

char *webui_flame_key(const webui_query *q)
{
	return cprof_ropts_flame_key(query_get, (void *)q);
}
