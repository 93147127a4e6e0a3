/*
 * webui_params.c - a private copy of a web request's query parameters (see
 * webui_params.h).
 *
 * The copy (webui_query) lets a request's job run on another thread for as
 * long as it takes, not as long as libmicrohttpd keeps the connection's
 * memory; webui_arg is the getter the web API (src/report/webapi.c) reads
 * the parameters through, turning them into report options with the
 * option table (cprof_ropts_from_url).
 */
#include "webui_params.h"
#include "cprof_core.h"
#include "cprof_util.h"

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
