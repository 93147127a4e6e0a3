/*
 * ingest_parse.c - the parsers of Pyroscope's push API (`POST /ingest`),
 * kept apart from the HTTP handling so the fuzz target compiles them in:
 *
 *   name=APP{k=v,...}   the series' labels (srv_parse_app_name)
 *   multipart bodies    the `profile` part (srv_multipart_field)
 *   format=lines        one stack per line (srv_lines_to_folded)
 *   from= / until=      Unix time at any resolution (srv_parse_push_time)
 *
 * The real @pyroscope/nodejs client sends label values unquoted, with dots,
 * slashes and colons in them (otel.scope.name=com.grafana.pyroscope/nodejs),
 * and label names with dots; both are accepted, names sanitised as
 * Pyroscope does (srv_lset_set).  Every parser is bounded by its input,
 * allocation-free (but srv_lines_to_folded's output, which has a ceiling),
 * and thread-safe.
 */
#include "server_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_ws(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void trim(const char **s, size_t *n)
{
	while (*n && is_ws((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && is_ws((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

int srv_parse_app_name(const char *s, size_t n, srv_lset *out, char *metric, size_t metricsz,
		       char *err, size_t errsz)
{
	out->n = 0;
	if (metric && metricsz)
		metric[0] = '\0';
	const char *brace = memchr(s, '{', n);
	size_t an = brace ? (size_t)(brace - s) : n;
	const char *app = s;
	trim(&app, &an);
	if (an == 0) {
		snprintf(err, errsz, "name: no application name before the labels");
		return -1;
	}
	for (size_t i = 0; i < an; i++)
		if (app[i] == '}' || app[i] == ',' || app[i] == '=' || (unsigned char)app[i] < 0x20) {
			snprintf(err, errsz, "name: application name has '%c' in it",
				 (unsigned char)app[i] < 0x20 ? '?' : app[i]);
			return -1;
		}
	if (srv_lset_set(out, "service_name", 12, app, an, err, errsz))
		return -1;
	if (!brace)
		return 0;
	const char *p = brace + 1, *end = s + n;
	const char *close = NULL;
	/* find the closing brace: the last '}' (values may not hold one
	 * unquoted; quoted ones are skipped as we go) */
	while (p < end) {
		while (p < end && is_ws((unsigned char)*p))
			p++;
		if (p < end && *p == '}') {
			close = p;
			break;
		}
		const char *k = p;
		while (p < end && *p != '=' && *p != ',' && *p != '}')
			p++;
		if (p >= end || *p != '=') {
			snprintf(err, errsz, "name: label without '=' (want APP{key=value,...})");
			return -1;
		}
		size_t kn = (size_t)(p - k);
		trim(&k, &kn);
		p++;
		while (p < end && is_ws((unsigned char)*p))
			p++;
		char val[SRV_LABEL_VALUE_MAX + 1];
		size_t vn = 0;
		if (p < end && *p == '"') {
			p++;
			for (;;) {
				if (p >= end) {
					snprintf(err, errsz, "name: unterminated quoted value");
					return -1;
				}
				char c = *p++;
				if (c == '"')
					break;
				if (c == '\\') {
					if (p >= end) {
						snprintf(err, errsz, "name: unterminated quoted value");
						return -1;
					}
					c = *p++;
					if (c == 'n')
						c = '\n';
				}
				if (vn >= SRV_LABEL_VALUE_MAX) {
					snprintf(err, errsz, "name: label value longer than %d bytes",
						 SRV_LABEL_VALUE_MAX);
					return -1;
				}
				val[vn++] = c;
			}
			while (p < end && is_ws((unsigned char)*p))
				p++;
		} else {
			const char *v = p;
			while (p < end && *p != ',' && *p != '}')
				p++;
			size_t rn = (size_t)(p - v);
			trim(&v, &rn);
			if (rn > SRV_LABEL_VALUE_MAX) {
				snprintf(err, errsz, "name: label value longer than %d bytes", SRV_LABEL_VALUE_MAX);
				return -1;
			}
			memcpy(val, v, rn);
			vn = rn;
		}
		for (size_t i = 0; i < vn; i++)
			if ((unsigned char)val[i] < 0x20 && val[i] != '\t') {
				snprintf(err, errsz, "name: control character in a label value");
				return -1;
			}
		if (kn >= 2 && k[0] == '_' && k[1] == '_') {
			/* reserved (__name__, __delta__...): Pyroscope's own; not
			 * labels.  __name__ (Pyroscope's metric name: mutex,
			 * block, process_cpu...) is handed back as a kind hint. */
			if (metric && metricsz && kn == 8 && !memcmp(k, "__name__", 8)) {
				size_t mn = vn < metricsz - 1 ? vn : metricsz - 1;
				memcpy(metric, val, mn);
				metric[mn] = '\0';
			}
		} else {
			char e2[SRV_ERR_MAX];
			if (srv_lset_set(out, k, kn, val, vn, e2, sizeof e2)) {
				snprintf(err, errsz, "name: %s", e2);
				return -1;
			}
		}
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}') {
			close = p;
			break;
		}
		if (p >= end)
			break;
		snprintf(err, errsz, "name: expected ',' or '}' after a label value");
		return -1;
	}
	if (!close) {
		snprintf(err, errsz, "name: no closing '}'");
		return -1;
	}
	for (p = close + 1; p < end; p++)
		if (!is_ws((unsigned char)*p)) {
			snprintf(err, errsz, "name: text after the closing '}'");
			return -1;
		}
	return 0;
}

/* ---- multipart/form-data ------------------------------------------------ */

static const char *memmem_s(const char *h, size_t hn, const char *n, size_t nn)
{
	return nn == 0 ? h : memmem(h, hn, n, nn);
}

/* The value of parameter `param` in a header value such as
 * `multipart/form-data; boundary=xyz` or `form-data; name="profile"`, into
 * out (NUL-terminated).  0 when found. */
static int header_param(const char *h, size_t hn, const char *param, char *out, size_t outsz)
{
	size_t pn = strlen(param);
	size_t i = 0;
	while (i < hn) {
		const char *semi = memchr(h + i, ';', hn - i);
		if (!semi)
			return -1;
		i = (size_t)(semi - h) + 1;
		while (i < hn && is_ws((unsigned char)h[i]))
			i++;
		if (hn - i > pn && strncasecmp(h + i, param, pn) == 0 && h[i + pn] == '=') {
			i += pn + 1;
			size_t o = 0;
			if (i < hn && h[i] == '"') {
				i++;
				while (i < hn && h[i] != '"') {
					if (o + 1 >= outsz)
						return -1;
					out[o++] = h[i++];
				}
			} else {
				while (i < hn && h[i] != ';' && !is_ws((unsigned char)h[i])) {
					if (o + 1 >= outsz)
						return -1;
					out[o++] = h[i++];
				}
			}
			out[o] = '\0';
			return 0;
		}
	}
	return -1;
}

/* Does a delimiter end at p (RFC 2046: "--" for the last one, or
 * optional white space then a line end)?  "--B" followed by more name
 * bytes is content, not the boundary B. */
static bool delim_end(const char *p, const char *end)
{
	if (end - p >= 2 && p[0] == '-' && p[1] == '-')
		return true;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p == end || *p == '\r' || *p == '\n';
}

int srv_multipart_field(const char *ctype, const void *body, size_t len, const char *field,
			const void **out, size_t *outlen, char *err, size_t errsz)
{
	char bnd[80];
	char delim[84];
	if (!ctype || strncasecmp(ctype, "multipart/form-data", 19) != 0) {
		snprintf(err, errsz, "body: Content-Type is not multipart/form-data");
		return -1;
	}
	if (header_param(ctype, strlen(ctype), "boundary", bnd, sizeof bnd) || bnd[0] == '\0') {
		snprintf(err, errsz, "body: multipart Content-Type without a boundary (1-70 bytes)");
		return -1;
	}
	snprintf(delim, sizeof delim, "--%s", bnd);
	size_t dn = strlen(delim);
	const char *b = body, *end = b + len;
	const char *p = NULL;
	for (const char *q = b; q < end;) {
		const char *d = memmem_s(q, (size_t)(end - q), delim, dn);
		if (!d)
			break;
		if ((d == b || d[-1] == '\n') && delim_end(d + dn, end)) {
			p = d;
			break;
		}
		q = d + 1;
	}
	if (!p) {
		snprintf(err, errsz, "body: no multipart boundary in the body");
		return -1;
	}
	for (;;) {
		p += dn;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 1;       /* the closing delimiter */
		/* rest of the boundary line */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(err, errsz, "body: multipart part without headers");
			return -1;
		}
		p = nl + 1;
		bool match = false;
		/* headers up to an empty line */
		for (;;) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				snprintf(err, errsz, "body: multipart headers not terminated");
				return -1;
			}
			size_t hn = (size_t)(nl - p);
			if (hn && p[hn - 1] == '\r')
				hn--;
			if (hn == 0) {
				p = nl + 1;
				break;
			}
			if (hn > 20 && strncasecmp(p, "content-disposition:", 20) == 0) {
				char nm[128];
				if (header_param(p + 20, hn - 20, "name", nm, sizeof nm) == 0 &&
				    strcmp(nm, field) == 0)
					match = true;
			}
			p = nl + 1;
		}
		/* the content runs to CRLF + delimiter */
		const char *next = NULL;
		for (const char *q = p; q < end;) {
			const char *d = memmem_s(q, (size_t)(end - q), delim, dn);
			if (!d)
				break;
			if ((d == p || d[-1] == '\n') && delim_end(d + dn, end)) {
				next = d;
				break;
			}
			q = d + 1;
		}
		if (!next) {
			snprintf(err, errsz, "body: multipart part not closed by its boundary");
			return -1;
		}
		const char *ce = next;
		if (ce > p && ce[-1] == '\n')
			ce--;
		if (ce > p && ce[-1] == '\r')
			ce--;
		if (match) {
			*out = p;
			*outlen = (size_t)(ce - p);
			return 0;
		}
		p = next;
	}
}

/* ---- lines ------------------------------------------------------------------ */

int srv_lines_to_folded(const void *body, size_t len, size_t max, char **out, size_t *outlen,
			char *err, size_t errsz)
{
	const char *s = body;
	srv_buf b = { .max = max };
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (s + i)) : len - i;
		const char *line = s + i;
		size_t ln = n;
		trim(&line, &ln);
		if (ln) {
			srv_buf_add(&b, line, ln);
			srv_buf_add(&b, " 1\n", 3);
		}
		i += n + (nl != NULL);
	}
	if (b.err) {
		srv_buf_free(&b);
		snprintf(err, errsz, "body: lines profile larger than %zu bytes as folded stacks", max);
		return -1;
	}
	*out = b.s;
	*outlen = b.n;
	return 0;
}

int srv_parse_push_time(const char *s, int64_t *ns)
{
	if (!s || !*s)
		return -1;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	/* seconds until the year 5138, then ms, us, ns */
	if (v < 100000000000ULL)
		v *= 1000000000ULL;
	else if (v < 100000000000000ULL)
		v *= 1000000ULL;
	else if (v < 100000000000000000ULL)
		v *= 1000ULL;
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*ns = (int64_t)v;
	return 0;
}

/* ---- sample_type_config ------------------------------------------------------ */

/* The JSON part Pyroscope's clients send next to the profile:
 * {"contentions":{"display-name":"block_count","units":"lock_samples"},...}.
 * Only the display names matter here (pyroscope-go names its block
 * profile's types block_count / block_duration and its mutex profile's
 * mutex_count / mutex_duration, over the same sample types), so this is a
 * scan for "display-name" keys and their string values, not a JSON
 * parser: a value with escapes is compared as written. */
const char *srv_stc_kind_hint(const void *json, size_t n)
{
	static const char key[] = "\"display-name\"";
	const size_t kn = sizeof key - 1;
	const char *s = json, *end = s + n;
	const char *kind = NULL;
	for (const char *p = s; p < end;) {
		const char *k = memmem_s(p, (size_t)(end - p), key, kn);
		if (!k)
			break;
		p = k + kn;
		while (p < end && is_ws((unsigned char)*p))
			p++;
		if (p >= end || *p != ':')
			continue;
		p++;
		while (p < end && is_ws((unsigned char)*p))
			p++;
		if (p >= end || *p != '"')
			continue;
		const char *v = ++p;
		while (p < end && *p != '"')
			p++;
		size_t vn = (size_t)(p - v);
		const char *hint = NULL;
		if (vn >= 6 && !memcmp(v, "block_", 6))
			hint = "block";
		else if (vn >= 6 && !memcmp(v, "mutex_", 6))
			hint = "mutex";
		if (hint && kind && strcmp(hint, kind))
			return NULL;    /* both: no hint */
		if (hint)
			kind = hint;
	}
	return kind;
}
