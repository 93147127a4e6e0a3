/*
 * webui_params.c - the web UI's URL parameters into report options (see
 * webui_params.h).
 *
 * pprof's parameters map onto cprof_ropts: string options (f i h s sf
 * prunefrom tf ti ts th si unit) are borrowed as given, booleans take
 * t/true/1 or f/false/0, g names a granularity, n is a node count, nf and
 * ef fractions from 0 to 1, sort=cum sorts by cum.  Any other value is a
 * one-line message the server answers with 400.  The query is a private
 * copy (webui_query), so a request's options live as long as its job, not
 * as long as libmicrohttpd keeps the connection's memory.
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

static const struct { const char *name; size_t off; } str_params[] = {
	{ "f", offsetof(cprof_ropts, focus) },
	{ "i", offsetof(cprof_ropts, ignore) },
	{ "h", offsetof(cprof_ropts, hide) },
	{ "s", offsetof(cprof_ropts, show) },
	{ "sf", offsetof(cprof_ropts, show_from) },
	{ "prunefrom", offsetof(cprof_ropts, prune_from) },
	{ "tf", offsetof(cprof_ropts, tagfocus) },
	{ "ti", offsetof(cprof_ropts, tagignore) },
	{ "ts", offsetof(cprof_ropts, tagshow) },
	{ "th", offsetof(cprof_ropts, taghide) },
	{ "si", offsetof(cprof_ropts, sample_index) },
	{ "unit", offsetof(cprof_ropts, unit) },
};

static const struct { const char *name; size_t off; } bool_params[] = {
	{ "trim", offsetof(cprof_ropts, trim) },
	{ "rel", offsetof(cprof_ropts, relative_percentages) },
	{ "compact", offsetof(cprof_ropts, compact_labels) },
	{ "intel", offsetof(cprof_ropts, intel_syntax) },
	{ "mean", offsetof(cprof_ropts, mean) },
	{ "dropneg", offsetof(cprof_ropts, drop_negative) },
	{ "noinlines", offsetof(cprof_ropts, noinlines) },
	{ "calltree", offsetof(cprof_ropts, call_tree) },
};

static const char *const gran_names[] = { "functions", "filefunctions", "files", "lines", "addresses" };

/* A fraction from 0 to 1, the whole value a number. */
static bool fraction(const char *v, double *out)
{
	char *e;
	double d = strtod(v, &e);
	if (e == v || *e || !isfinite(d) || d < 0 || d > 1)
		return false;
	*out = d;
	return true;
}

const char *webui_url_opts(const webui_query *q, const cprof_ropts *cli, cprof_ropts *r)
{
	*r = *cli;
	for (size_t i = 0; i < sizeof str_params / sizeof *str_params; i++) {
		const char *v = webui_arg(q, str_params[i].name);
		if (v)
			*(const char **)((char *)r + str_params[i].off) = v;
	}
	for (size_t i = 0; i < sizeof bool_params / sizeof *bool_params; i++) {
		const char *v = webui_arg(q, bool_params[i].name);
		if (!v)
			continue;
		bool b;
		if (!strcmp(v, "t") || !strcmp(v, "true") || !strcmp(v, "1"))
			b = true;
		else if (!strcmp(v, "f") || !strcmp(v, "false") || !strcmp(v, "0"))
			b = false;
		else
			return "a boolean parameter takes t or f";
		*(bool *)((char *)r + bool_params[i].off) = b;
	}
	const char *v;
	if ((v = webui_arg(q, "g"))) {
		size_t k = 0;
		while (k < sizeof gran_names / sizeof *gran_names && strcmp(v, gran_names[k]))
			k++;
		if (k == sizeof gran_names / sizeof *gran_names)
			return "g: want functions, filefunctions, files, lines or addresses";
		r->granularity = (int)k;
	}
	if ((v = webui_arg(q, "n"))) {
		char *e;
		long n = strtol(v, &e, 10);
		if (*e || n < -1 || n > 1000000)
			return "n: want a node count";
		r->nodecount = (int)n;
	}
	if ((v = webui_arg(q, "nf")) && !fraction(v, &r->nodefraction))
		return "nf: want a fraction from 0 to 1";
	if ((v = webui_arg(q, "ef")) && !fraction(v, &r->edgefraction))
		return "ef: want a fraction from 0 to 1";
	if ((v = webui_arg(q, "sort")))
		r->cum = strcmp(v, "cum") == 0;
	return NULL;
}

char *webui_flame_key(const webui_query *q)
{
	static const char *const keys[] = { "f", "i", "h", "s", "sf", "prunefrom", "tf", "ti", "ts",
					    "th", "si", "g", "mean", "noinlines", "dropneg", "unit" };
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const char *v = webui_arg(q, keys[i]);
		fprintf(m, "%s=%s\x01", keys[i], v ? v : "");
	}
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
