/*
 * ch_http.c - the ClickHouse store's client: ClickHouse's HTTP interface
 * through libcurl, the clickhouse:// URL, TabSeparated escaping.
 *
 * Every request is one POST: the SQL in the query string's `query`
 * parameter when a body follows (INSERT ... FORMAT TabSeparated with the
 * rows as body), else the SQL as the body.  Each request has a connect
 * timeout and a total timeout (curl's), and asks ClickHouse for the same
 * bound (max_execution_time), so a slow or hung server gives a clear
 * error instead of a hung caller.  A refused connection or a connect
 * timeout moves to the next host of the URL; an answer with an HTTP error
 * status is ClickHouse's error and is returned as is (first line).
 *
 * Threads: ch_exec uses a curl easy handle of its own per call; the only
 * shared state is the host rotation counter (a relaxed atomic).
 * curl_global_init runs once (pthread_once) before the first handle.
 */
#include "store_ch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the largest response kept (a query answer); more is an error */
#define CH_MAX_RESPONSE ((size_t)1 << 30)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ch_conn_free(ch_conn *c)
{
	for (size_t i = 0; i < c->nhosts; i++)
		free(c->hosts[i]);
	free(c->db);
	free(c->user);
	free(c->password);
	free(c->cluster);
	memset(c, 0, sizeof *c);
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static bool ident_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

int ch_conn_parse(const char *url, ch_conn *c, cprof_error *err)
{
	memset(c, 0, sizeof *c);
	c->timeout_ms = 30000;
	c->connect_ms = 2000;
	static const char pre[] = "clickhouse://";
	if (!url || strncmp(url, pre, sizeof pre - 1) != 0)
		return cprof_seterr(err, CPROF_EINVAL, "storage URL must start with clickhouse://");
	const char *p = url + sizeof pre - 1;
	const char *slash = strchr(p, '/');
	if (!slash)
		return cprof_seterr(err, CPROF_EINVAL, "storage URL %s: no /DATABASE", url);
	const char *at = memchr(p, '@', (size_t)(slash - p));
	int rc = 0;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		char ub[256], pb[256];
		size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
		size_t un = cprof_url_unescape(p, ul, false, ub, sizeof ub);
		c->user = dupn(ub, un < sizeof ub ? un : sizeof ub - 1);
		if (colon) {
			size_t pn = cprof_url_unescape(colon + 1, (size_t)(at - colon - 1), false, pb,
						       sizeof pb);
			c->password = dupn(pb, pn < sizeof pb ? pn : sizeof pb - 1);
		}
		p = at + 1;
	}
	const char *h = p;
	while (h < slash) {
		const char *e = memchr(h, ',', (size_t)(slash - h));
		if (!e)
			e = slash;
		const char *colon = memchr(h, ':', (size_t)(e - h));
		if (e == h || !colon || colon + 1 == e || strspn(colon + 1, "0123456789") !=
		    (size_t)(e - colon - 1))
			return cprof_seterr(err, CPROF_EINVAL,
					    "storage URL %s: each host must be HOST:PORT", url);
		if (c->nhosts == CH_MAX_HOSTS)
			return cprof_seterr(err, CPROF_EINVAL, "storage URL %s: more than %d hosts",
					    url, CH_MAX_HOSTS);
		c->hosts[c->nhosts++] = dupn(h, (size_t)(e - h));
		h = e + 1;
	}
	if (!c->nhosts)
		return cprof_seterr(err, CPROF_EINVAL, "storage URL %s: no host", url);
	const char *q = strchr(slash, '?');
	size_t dl = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
	if (!ident_ok(slash + 1, dl))
		return cprof_seterr(err, CPROF_EINVAL,
				    "storage URL %s: database must be [A-Za-z0-9_]{1,64}", url);
	c->db = dupn(slash + 1, dl);
	while (q && !rc) {
		const char *k = q + 1, *amp = strchr(k, '&');
		size_t kl = amp ? (size_t)(amp - k) : strlen(k);
		const char *eq = memchr(k, '=', kl);
		if (!eq)
			return cprof_seterr(err, CPROF_EINVAL, "storage URL %s: option without =", url);
		const char *v = eq + 1;
		size_t vl = kl - (size_t)(v - k);
		if ((size_t)(eq - k) == 7 && !strncmp(k, "cluster", 7)) {
			if (!ident_ok(v, vl))
				return cprof_seterr(err, CPROF_EINVAL,
						    "storage URL %s: bad cluster name", url);
			c->cluster = dupn(v, vl);
		} else if ((size_t)(eq - k) == 7 && !strncmp(k, "timeout", 7)) {
			int64_t ns;
			if (srv_duration_parse(v, vl, &ns, err) || ns < 1000000 ||
			    ns > INT64_C(3600) * 1000000000)
				return cprof_seterr(err, CPROF_EINVAL,
						    "storage URL %s: timeout must be 1ms..1h", url);
			c->timeout_ms = (long)(ns / 1000000);
		} else if ((size_t)(eq - k) == 6 && !strncmp(k, "buffer", 6)) {
			char nb[24];
			char *end;
			snprintf(nb, sizeof nb, "%.*s", (int)(vl < 20 ? vl : 20), v);
			unsigned long mb = strtoul(nb, &end, 10);
			if (vl == 0 || vl > 20 || *end || mb < 1 || mb > 65536)
				return cprof_seterr(err, CPROF_EINVAL,
						    "storage URL %s: buffer must be 1..65536 (MB)", url);
			c->buffer_bytes = (size_t)mb << 20;
		} else {
			return cprof_seterr(err, CPROF_EINVAL,
					    "storage URL %s: unknown option %.*s (cluster, timeout,"
					    " buffer)",
					    url, (int)(eq - k), k);
		}
		q = amp;
	}
	const char *eu = getenv("CPROF_CLICKHOUSE_USER"), *ep = getenv("CPROF_CLICKHOUSE_PASSWORD");
	if (!c->user && eu && *eu)
		c->user = strdup(eu);
	if (!c->password && ep)
		c->password = strdup(ep);
	return 0;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
	sbuf *b = ud;
	size_t n = sz * nm;
	if (b->n + n > CH_MAX_RESPONSE)
		return 0;
	sb_put(b, p, n);
	return b->oom ? 0 : n;
}

int ch_exec(ch_conn *c, const char *sql, const void *body, size_t bodylen, sbuf *out,
	    cprof_error *err)
{
	pthread_once(&curl_once, curl_init);
	sbuf resp = { 0 };
	sbuf *r = out ? out : &resp;
	int rc = 0;
	unsigned first = __atomic_fetch_add(&c->next, 0, __ATOMIC_RELAXED);
	for (size_t k = 0; k < c->nhosts; k++) {
		const char *host = c->hosts[(first + k) % c->nhosts];
		CURL *h = curl_easy_init();
		if (!h)
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory (curl)");
		char *esc = body ? curl_easy_escape(h, sql, 0) : NULL;
		size_t ul = strlen(host) + (esc ? strlen(esc) : 0) + strlen(c->db) + 256;
		char *url = malloc(ul);
		if (!url || (body && !esc)) {
			curl_free(esc);
			free(url);
			curl_easy_cleanup(h);
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		}
		snprintf(url, ul, "http://%s/?database=%s&max_execution_time=%ld&max_query_size=16777216"
			 "&insert_distributed_sync=1%s%s", host, c->db,
			 (c->timeout_ms + 999) / 1000, esc ? "&query=" : "", esc ? esc : "");
		curl_free(esc);
		r->n = 0;
		r->oom = false;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : (const void *)sql);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? bodylen : strlen(sql)));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms + 2000);
		curl_easy_setopt(h, CURLOPT_PROXY, "");
		struct curl_slist *hdr = NULL;
		hdr = curl_slist_append(hdr, "Expect:");
		if (c->user) {
			char line[600];
			snprintf(line, sizeof line, "X-ClickHouse-User: %s", c->user);
			hdr = curl_slist_append(hdr, line);
			snprintf(line, sizeof line, "X-ClickHouse-Key: %s",
				 c->password ? c->password : "");
			hdr = curl_slist_append(hdr, line);
		}
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		CURLcode cc = curl_easy_perform(h);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		double connect_s = 0;
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connect_s);
		curl_slist_free_all(hdr);
		curl_easy_cleanup(h);
		free(url);
		/* the next host only when this one never connected: a request
		 * that reached a server and timed out may be running there */
		if (cc == CURLE_COULDNT_CONNECT ||
		    (cc == CURLE_OPERATION_TIMEDOUT && connect_s <= 0 && k + 1 < c->nhosts)) {
			rc = cprof_seterr(err, CPROF_EIO, "store: ClickHouse at %s: %s", host,
					  curl_easy_strerror(cc));
			__atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
			continue;       /* the next host */
		}
		if (cc == CURLE_OPERATION_TIMEDOUT) {
			rc = cprof_seterr(err, CPROF_EIO,
					  "store: ClickHouse at %s: no answer within %ld ms (timeout)",
					  host, c->timeout_ms);
		} else if (cc != CURLE_OK) {
			rc = cprof_seterr(err, r->oom ? CPROF_ENOMEM : CPROF_EIO,
					  "store: ClickHouse at %s: %s", host,
					  r->oom ? "out of memory" : curl_easy_strerror(cc));
		} else if (status != 200) {
			size_t n = r->n;
			const char *m = (const char *)r->p;
			const char *nl = m ? memchr(m, '\n', n) : NULL;
			if (nl)
				n = (size_t)(nl - m);
			rc = cprof_seterr(err, CPROF_EIO, "store: ClickHouse at %s: HTTP %ld: %.*s",
					  host, status, (int)(n > 400 ? 400 : n), m ? m : "");
		} else {
			rc = 0;
		}
		break;
	}
	sb_free(&resp);
	return rc;
}

void tsv_put(sbuf *b, const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && p[j] != '\\' && p[j] != '\t' && p[j] != '\n' && p[j] != '\0' &&
		       p[j] != '\r' && p[j] != '\'')
			j++;
		sb_put(b, p + i, j - i);
		if (j == n)
			break;
		char e[2] = { '\\', 0 };
		switch (p[j]) {
		case '\t': e[1] = 't'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\0': e[1] = '0'; break;
		default: e[1] = (char)p[j]; break;
		}
		sb_put(b, e, 2);
		i = j + 1;
	}
}

size_t tsv_unescape(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '\\' && i + 1 < n) {
			ch = s[++i];
			switch (ch) {
			case 't': ch = '\t'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case '0': ch = '\0'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'a': ch = '\a'; break;
			case 'v': ch = '\v'; break;
			default: break;
			}
		}
		s[o++] = ch;
	}
	return o;
}

size_t tsv_row(char *buf, size_t len, size_t *pos, char **f, size_t *lens, size_t max)
{
	size_t i = *pos, nf = 0;
	if (i >= len)
		return 0;
	size_t start = i;
	for (;; i++) {
		if (i == len || buf[i] == '\t' || buf[i] == '\n') {
			bool end = i == len || buf[i] == '\n';
			if (nf < max) {
				size_t l = tsv_unescape(buf + start, i - start);
				buf[start + l] = '\0';
				f[nf] = buf + start;
				lens[nf] = l;
				nf++;
			}
			start = i + 1;
			if (end)
				break;
		} else if (buf[i] == '\\' && i + 1 < len) {
			i++;
		}
	}
	*pos = i < len ? i + 1 : len;
	return nf;
}
