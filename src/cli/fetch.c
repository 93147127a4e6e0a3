/*
 * fetch.c - profiles over HTTP (libcurl): URL sources and pprof's remote
 * symbolization protocol.
 *
 * What counts as a URL follows Go's url.Parse as Go 1.19's pprof uses it
 * (cmd/pprof adjustURL): a source with a scheme and a host is a URL; a
 * source whose parse has no host but has a scheme other than file:, or
 * whose first path segment holds a colon ("localhost:6060",
 * "127.0.0.1:6060/debug/pprof/heap"), is tried again with "http://" in
 * front, and is a URL when that gives a host.  Anything else is a file.
 * The URL is then adjusted as pprof does: an empty path or "/" becomes
 * /debug/pprof/profile; -seconds N sets seconds=N in the query (otherwise a
 * seconds= already there is the profile's duration); the query is
 * re-encoded with its keys sorted, as Go's url.Values.Encode does; the
 * timeout is -timeout, else 1.5 x the duration, else 60 s.  Like Go's
 * pprof, the timeout bounds the wait for the response headers (plus pprof's
 * 5 s of grace), not the transfer of the body.  https+insecure:// is https
 * without certificate checks.
 *
 * Memory is bounded: a profile response larger than FETCH_MAX (1 GiB, or
 * $CPROF_FETCH_LIMIT bytes when lower), or a symbol response larger than
 * SYMBOL_MAX, stops the transfer with one line.  Loopback addresses never
 * go through a proxy from the environment, as with Go's client.
 * A non-200 answer is reported in pprof's words, "server response: 404 Not
 * Found", with the body appended when the server says it is a pprof error
 * (X-Go-Pprof and text/plain).  Every fetched profile is saved, as pprof
 * saves what it fetched, to $PPROF_TMPDIR (default ~/pprof, else the temp
 * directory) as pprof.<binary>.<type>...NNN.pb.gz, and the path printed.
 * pprof saves once per run, the merged profile; here each fetched source is
 * saved as it arrives, before merging.
 *
 * All the URL sources and bases of the command line are fetched at once
 * (libcurl's multi interface), as pprof fetches them concurrently, on the
 * first call of cli_fetch_profile; each call then decodes and saves its
 * source's answer.  While a profile with a duration is being collected, a
 * terminal on stderr gets a line counting the seconds down; otherwise
 * pprof's two lines ("Fetching profile over HTTP from URL", "Please
 * wait... (30s)").
 */
#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FETCH_MAX  ((size_t)1 << 30)    /* a profile response ($CPROF_FETCH_LIMIT lowers it) */
#define SYMBOL_MAX ((size_t)64 << 20)   /* a /symbol response */
#define HEADER_GRACE 5                  /* pprof waits timeout + 5 s for headers */

/* ---- URLs ------------------------------------------------------------------ */

/* A URL cut into Go's url.URL parts (all malloc'd; NULL when absent). */
typedef struct url_parts {
	char *scheme, *authority, *path, *query, *fragment;
	bool have_query;
} url_parts;

static void url_free(url_parts *u)
{
	free(u->scheme);
	free(u->authority);
	free(u->path);
	free(u->query);
	free(u->fragment);
	memset(u, 0, sizeof *u);
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		cli_die("out of memory");
	return d;
}

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* The host of an authority ([userinfo@]host[:port]) when Go would accept
 * it: a non-empty host and a port of digits (or none).  Returns the host's
 * length, 0 when there is no valid host. */
static size_t authority_host(const char *a)
{
	const char *at = strrchr(a, '@');
	const char *h = at ? at + 1 : a;
	const char *port;
	size_t hn;
	if (*h == '[') {
		const char *rb = strchr(h, ']');
		if (!rb)
			return 0;
		hn = (size_t)(rb + 1 - h);
		port = rb + 1;
		if (*port && *port != ':')
			return 0;
	} else {
		const char *c = strrchr(h, ':');
		hn = c ? (size_t)(c - h) : strlen(h);
		port = c ? c : h + hn;
	}
	if (*port == ':')
		for (port++; *port; port++)
			if (!is_digit((unsigned char)*port))
				return 0;
	return hn;
}

/* Parse s as Go's url.Parse would for pprof's purposes.  Returns false on a
 * parse error; u is filled (the caller frees it) either way. */
static bool url_parse(const char *s, url_parts *u)
{
	memset(u, 0, sizeof *u);
	const char *rest = s;
	/* fragment, then query */
	const char *hash = strchr(s, '#');
	size_t len = hash ? (size_t)(hash - s) : strlen(s);
	if (hash)
		u->fragment = xstrndup(hash + 1, strlen(hash + 1));
	/* the scheme: a letter, then letters, digits, + - . up to ':' */
	if (is_alpha((unsigned char)s[0])) {
		size_t i = 1;
		while (i < len && (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
				   s[i] == '+' || s[i] == '-' || s[i] == '.'))
			i++;
		if (i < len && s[i] == ':') {
			u->scheme = xstrndup(s, i);
			for (char *c = u->scheme; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			rest = s + i + 1;
		}
	}
	size_t rlen = len - (size_t)(rest - s);
	const char *q = memchr(rest, '?', rlen);
	size_t plen = q ? (size_t)(q - rest) : rlen;
	if (q) {
		u->have_query = true;
		u->query = xstrndup(q + 1, rlen - plen - 1);
	}
	if (u->scheme && plen > 0 && rest[0] != '/') {
		/* opaque ("localhost:6060"): no host */
		u->path = xstrndup(rest, plen);
		return true;
	}
	if (plen >= 2 && rest[0] == '/' && rest[1] == '/') {
		const char *a = rest + 2;
		const char *slash = memchr(a, '/', plen - 2);
		size_t alen = slash ? (size_t)(slash - a) : plen - 2;
		u->authority = xstrndup(a, alen);
		u->path = xstrndup(a + alen, plen - 2 - alen);
		return authority_host(u->authority) > 0 || alen == 0;
	}
	u->path = xstrndup(rest, plen);
	if (!u->scheme) {
		/* Go: "first path segment in URL cannot contain colon" */
		const char *slash = memchr(rest, '/', plen);
		size_t seg = slash ? (size_t)(slash - rest) : plen;
		if (memchr(rest, ':', seg))
			return false;
	}
	return true;
}

static bool has_host(const url_parts *u)
{
	return u->authority && authority_host(u->authority) > 0;
}

/* pprof's URL test and its http:// retry.  On true, u holds the URL. */
static bool url_resolve(const char *src, url_parts *u)
{
	bool ok = url_parse(src, u);
	if (!ok || (!has_host(u) && u->scheme && strcmp(u->scheme, "file") != 0)) {
		url_free(u);
		size_t n = strlen(src);
		char *h = malloc(n + 8);
		if (!h)
			cli_die("out of memory");
		memcpy(h, "http://", 7);
		memcpy(h + 7, src, n + 1);
		ok = url_parse(h, u);
		free(h);
	}
	if (ok && has_host(u))
		return true;
	url_free(u);
	return false;
}

bool cli_is_url(const char *src)
{
	url_parts u;
	bool r = url_resolve(src, &u);
	url_free(&u);
	return r;
}

/* A growable string (cprof_util.h's buffer, under its ceiling); the
 * command dies when it cannot grow. */
typedef cprof_buf sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	int rc = cprof_buf_add(b, s, n);
	if (rc == CPROF_ENOMEM)
		cli_die("out of memory");
	if (rc < 0)
		cli_die("text too long (%zu bytes at most)", b->max ? b->max : CPROF_BUF_MAX);
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Go's QueryUnescape of s[0..n) into b ('+' is a space).  False on a bad
 * escape: Go's ParseQuery then drops the pair. */
static bool query_unescape(sbuf *b, const char *s, size_t n)
{
	size_t at = b->n;
	sb_add(b, s, n);   /* room: the decoded text is never longer */
	size_t len = cprof_url_unescape(s, n, true, b->s + at, n);
	b->n = at + (len == SIZE_MAX ? 0 : len);
	b->s[b->n] = 0;
	return len != SIZE_MAX;
}

/* Go's QueryEscape. */
static void query_escape(sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			sb_add(b, (const char *)&c, 1);
		} else if (c == ' ') {
			sb_add(b, "+", 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_add(b, e, 3);
		}
	}
}

typedef struct qpair {
	char *k, *v;
	size_t order;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
	const qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The adjusted URL of a source (pprof's adjustURL); *duration_s and
 * *timeout_s get the profile's duration and the fetch timeout in seconds.
 * Returns a malloc'd string, or NULL when src is not a URL. */
char *cli_adjust_url(const char *src, int seconds, int timeout, int *duration_s, int *timeout_s)
{
	url_parts u;
	if (!url_resolve(src, &u))
		return NULL;
	/* the query, as url.Values */
	qpair *qs = NULL;
	size_t nq = 0;
	const char *q = u.query ? u.query : "";
	while (*q) {
		size_t n = strcspn(q, "&;");
		if (n > 0) {
			const char *eq = memchr(q, '=', n);
			size_t kn = eq ? (size_t)(eq - q) : n;
			sbuf k = { 0 }, v = { 0 };
			bool ok = query_unescape(&k, q, kn);
			sb_add(&k, "", 0);
			if (ok && eq)
				ok = query_unescape(&v, eq + 1, n - kn - 1);
			sb_add(&v, "", 0);
			if (!ok) {
				free(k.s);
				free(v.s);
				q += n;
				if (*q)
					q++;
				continue;
			}
			qpair *nqs = realloc(qs, (nq + 1) * sizeof *qs);
			if (!nqs)
				cli_die("out of memory");
			qs = nqs;
			qs[nq] = (qpair){ k.s, v.s, nq };
			nq++;
		}
		q += n;
		if (*q)
			q++;
	}
	int duration = 0;
	if (seconds > 0) {
		/* values.Set: the one value of "seconds" */
		size_t w = 0;
		for (size_t i = 0; i < nq; i++) {
			if (strcmp(qs[i].k, "seconds") == 0) {
				free(qs[i].k);
				free(qs[i].v);
			} else {
				qs[w++] = qs[i];
			}
		}
		nq = w;
		qpair *nqs = realloc(qs, (nq + 1) * sizeof *qs);
		if (!nqs)
			cli_die("out of memory");
		qs = nqs;
		char num[24];
		snprintf(num, sizeof num, "%d", seconds);
		qs[nq] = (qpair){ xstrndup("seconds", 7), xstrndup(num, strlen(num)), nq };
		nq++;
		duration = seconds;
	} else {
		for (size_t i = 0; i < nq; i++) {
			if (strcmp(qs[i].k, "seconds") == 0) {
				/* values.Get: the first; ParseInt(s, 10, 32) */
				char *end;
				errno = 0;
				long v = strtol(qs[i].v, &end, 10);
				if (*qs[i].v && !*end && errno == 0 && v >= INT32_MIN && v <= INT32_MAX &&
				    qs[i].v[0] != ' ' && qs[i].v[0] != '\t')
					duration = (int)v;
				break;
			}
		}
	}
	if (timeout <= 0) {     /* duration * 1.5, which must not overflow an int */
		int64_t t = duration > 0 ? (int64_t)duration + duration / 2 : 60;
		timeout = t > INT32_MAX ? INT32_MAX : (int)t;
	}
	*duration_s = duration;
	*timeout_s = timeout;
	if (nq > 1)
		qsort(qs, nq, sizeof *qs, qpair_cmp);

	sbuf b = { 0 };
	if (u.scheme) {
		sb_str(&b, u.scheme);
		sb_str(&b, ":");
	}
	sb_str(&b, "//");
	sb_str(&b, u.authority);
	sb_str(&b, (!u.path || !*u.path || strcmp(u.path, "/") == 0) ? "/debug/pprof/profile" : u.path);
	for (size_t i = 0; i < nq; i++) {
		sb_str(&b, i ? "&" : "?");
		query_escape(&b, qs[i].k);
		sb_str(&b, "=");
		query_escape(&b, qs[i].v);
		free(qs[i].k);
		free(qs[i].v);
	}
	free(qs);
	if (u.fragment) {
		sb_str(&b, "#");
		sb_str(&b, u.fragment);
	}
	url_free(&u);
	return b.s;
}

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct xfer {
	const char *what;           /* the URL, for messages */
	sbuf body;
	size_t max;
	bool too_big;
	bool got_status, go_pprof, text_plain;
	char status[128];           /* "404 Not Found" */
	long timeout;               /* seconds to wait for the headers; 0: none */
	bool timed_out;
	struct timespec t0;
	/* the countdown line */
	int duration;
	bool countdown;
	long shown;
	/* the transfer */
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	char *fixed, *noproxy;
	struct curl_slist *hdrs;
	CURLcode rc;
} xfer;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t len = size * n;
	if (len > x->max - x->body.n) {
		x->too_big = true;
		return 0;           /* CURLE_WRITE_ERROR */
	}
	sb_add(&x->body, data, len);
	return len;
}

static bool header_is(const char *h, size_t n, const char *name)
{
	size_t k = strlen(name);
	return n > k && strncasecmp(h, name, k) == 0 && h[k] == ':';
}

static size_t on_header(char *h, size_t size, size_t n, void *arg)
{
	xfer *x = arg;
	size_t len = size * n;
	if (len >= 5 && strncmp(h, "HTTP/", 5) == 0) {
		/* a new response (after a redirect or 100 Continue): start over */
		x->go_pprof = x->text_plain = false;
		x->got_status = true;
		const char *sp = memchr(h, ' ', len);
		size_t k = 0;
		if (sp) {
			const char *e = h + len;
			while (e > sp && (e[-1] == '\r' || e[-1] == '\n'))
				e--;
			sp++;
			k = (size_t)(e - sp);
			if (k >= sizeof x->status)
				k = sizeof x->status - 1;
			memcpy(x->status, sp, k);
		}
		x->status[k] = 0;
	} else if (header_is(h, len, "X-Go-Pprof")) {
		x->go_pprof = true;
	} else if (header_is(h, len, "Content-Type")) {
		x->text_plain = memmem(h, len, "text/plain", 10) != NULL;
	}
	return len;
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void clear_countdown(xfer *x)
{
	if (x->countdown && x->shown >= 0) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		x->shown = -1;
	}
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	xfer *x = arg;
	double t = elapsed(&x->t0);
	if (x->got_status) {
		clear_countdown(x);
		return 0;
	}
	if (x->timeout > 0 && t >= (double)x->timeout) {
		x->timed_out = true;
		return 1;
	}
	if (x->countdown) {
		long left = (long)x->duration - (long)t;
		if (left < 0)
			left = 0;
		if (left != x->shown) {
			if (left > 0)
				fprintf(stderr, "\rPlease wait... %lds left of %ds ", left, x->duration);
			else
				fprintf(stderr, "\rWaiting for the server...\033[K");
			fflush(stderr);
			x->shown = left;
		}
	}
	return 0;
}

static void curl_init_once(void)
{
	static bool done;
	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			cli_die("libcurl: initialization failed");
		done = true;
	}
}

/* A status text for codes when the server sent no reason phrase (HTTP/2). */
static const char *status_text(long code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "";
}

/* The one-line message for a finished transfer, or NULL when it succeeded. */
static char *xfer_error(xfer *x, CURLcode rc, long code, const char *errbuf)
{
	sbuf m = { 0 };
	if (x->too_big) {
		char num[96];
		if (x->max % (1 << 20) == 0)
			snprintf(num, sizeof num, "response larger than %zu MiB: refused", x->max >> 20);
		else
			snprintf(num, sizeof num, "response larger than %zu bytes: refused", x->max);
		sb_str(&m, num);
	} else if (x->timed_out) {
		char num[128];
		snprintf(num, sizeof num, "http fetch: no response from the server within %lds (timeout %lds + %ds, as pprof)",
			 x->timeout, x->timeout - HEADER_GRACE, HEADER_GRACE);
		sb_str(&m, num);
	} else if (rc != CURLE_OK) {
		sb_str(&m, "http fetch: ");
		sb_str(&m, *errbuf ? errbuf : curl_easy_strerror(rc));
	} else if (code != 200) {
		sb_str(&m, "server response: ");
		if (x->status[0] && strchr(x->status, ' ')) {
			sb_str(&m, x->status);
		} else {
			char num[64];
			snprintf(num, sizeof num, "%ld %s", code, status_text(code));
			sb_str(&m, num);
		}
		if (x->go_pprof && x->text_plain && x->body.n) {
			/* pprof appends the body of a pprof error; here on one line */
			sb_str(&m, " - ");
			size_t n = x->body.n;
			while (n && (x->body.s[n - 1] == '\n' || x->body.s[n - 1] == '\r' ||
				     x->body.s[n - 1] == ' '))
				n--;
			if (n > 200)
				n = 200;
			for (size_t i = 0; i < n; i++)
				sb_add(&m, (x->body.s[i] == '\n' || x->body.s[i] == '\r') ? " " : x->body.s + i, 1);
		}
	}
	return m.s;
}

/* Prepare the transfer of url (a POST of post when not NULL) into x. */
static void http_setup(const char *url, const char *post, xfer *x)
{
	curl_init_once();
	CURL *c = x->easy = curl_easy_init();
	if (!c)
		cli_die("libcurl: out of memory");
	x->errbuf[0] = 0;
	if (strncmp(url, "https+insecure://", 17) == 0) {
		size_t n = strlen(url);
		x->fixed = xstrndup(url, n);
		memmove(x->fixed + 5, x->fixed + 14, n - 14 + 1);       /* "https" + "://..." */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_URL, x->fixed ? x->fixed : url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);        /* as Go's client */
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cprof/" CPROF_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");       /* Go accepts gzip too */
	if (x->timeout > 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, x->timeout);
	/* like Go's ProxyFromEnvironment, never send loopback through a proxy */
	const char *np = getenv("NO_PROXY");
	if (!np || !*np)
		np = getenv("no_proxy");
	if (asprintf(&x->noproxy, "%s%slocalhost,127.0.0.0/8,::1", np && *np ? np : "",
		     np && *np ? "," : "") < 0)
		cli_die("out of memory");
	curl_easy_setopt(c, CURLOPT_NOPROXY, x->noproxy);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(post));
		x->hdrs = curl_slist_append(NULL, "Content-Type: application/octet-stream");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	}
	x->shown = -1;
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
}

/* Release the transfer; NULL, or a malloc'd one-line message. */
static char *http_finish(xfer *x)
{
	clear_countdown(x);
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	curl_slist_free_all(x->hdrs);
	free(x->noproxy);
	free(x->fixed);
	x->hdrs = NULL;
	x->noproxy = x->fixed = NULL;
	return xfer_error(x, x->rc, code, x->errbuf);
}

/* GET url (or POST post when not NULL) into x->body.  Returns NULL, or a
 * malloc'd one-line message. */
static char *http_do(const char *url, const char *post, xfer *x)
{
	http_setup(url, post, x);
	x->rc = curl_easy_perform(x->easy);
	return http_finish(x);
}

/* Run the prepared transfers xs[0..n) at once, as pprof fetches its
 * sources concurrently. */
static void http_many(xfer *const *xs, size_t n)
{
	CURLM *m = curl_multi_init();
	if (!m)
		cli_die("libcurl: out of memory");
	for (size_t i = 0; i < n; i++)
		if (curl_multi_add_handle(m, xs[i]->easy) != CURLM_OK)
			cli_die("libcurl: cannot add a transfer");
	int running = 1;
	while (running) {
		CURLMcode mc = curl_multi_perform(m, &running);
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			cli_die("libcurl: %s", curl_multi_strerror(mc));
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE)
				for (size_t i = 0; i < n; i++)
					if (xs[i]->easy == msg->easy_handle)
						xs[i]->rc = msg->data.result;
	}
	for (size_t i = 0; i < n; i++)
		curl_multi_remove_handle(m, xs[i]->easy);
	curl_multi_cleanup(m);
}

/* ---- saving -------------------------------------------------------------- */

static const char *tmp_dir(void)
{
	static char buf[4096];
	const char *d = getenv("PPROF_TMPDIR");
	const char *cands[3];
	size_t n = 0;
	if (d && *d)
		cands[n++] = d;
	const char *home = getenv("HOME");
	if (home && *home && snprintf(buf, sizeof buf, "%s/pprof", home) < (int)sizeof buf)
		cands[n++] = buf;
	const char *t = getenv("TMPDIR");
	cands[n++] = t && *t ? t : "/tmp";
	for (size_t i = 0; i < n; i++) {
		/* os.MkdirAll */
		char path[4096];
		if (snprintf(path, sizeof path, "%s", cands[i]) >= (int)sizeof path)
			continue;
		bool ok = true;
		for (char *s = path + 1; ok; s++) {
			if (*s == '/' || *s == 0) {
				char c = *s;
				*s = 0;
				if (mkdir(path, 0755) < 0 && errno != EEXIST)
					ok = false;
				*s = c;
				if (!c)
					break;
			}
		}
		struct stat st;
		if (ok && stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode))
			return cands[i];
		fprintf(stderr, "Could not use temp dir %s: %s\n", cands[i], strerror(errno ? errno : ENOTDIR));
	}
	return NULL;
}

/* Save p as pprof saves fetched profiles; failures are reported, not fatal. */
static void save_profile(const cprof_profile *p)
{
	const char *dir = tmp_dir();
	if (!dir) {
		fprintf(stderr, "Could not save profile: failed to identify temp dir\n");
		return;
	}
	sbuf pre = { 0 };
	sb_str(&pre, dir);
	sb_str(&pre, "/pprof.");
	if (p->mappings.n > 0 && cprof_slen(p, p->mappings.v[0].file) > 0) {
		/* filepath.Base */
		const char *f = cprof_s(p, p->mappings.v[0].file);
		size_t n = strlen(f);
		while (n > 1 && f[n - 1] == '/')
			n--;
		const char *b = f + n;
		while (b > f && b[-1] != '/')
			b--;
		sb_add(&pre, b, (size_t)(f + n - b));
		sb_str(&pre, ".");
	}
	for (size_t i = 0; i < p->vtypes.n; i++) {
		sb_str(&pre, cprof_s(p, p->vtypes.v[i].type));
		sb_str(&pre, ".");
	}
	void *buf = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	int rc = cprof_pb_encode(p, true, &buf, &len, &err);
	if (rc < 0) {
		fprintf(stderr, "Could not save profile: %s\n", err.code ? err.msg : cprof_strerror(rc));
		free(pre.s);
		return;
	}
	int fd = -1;
	char *name = NULL;
	for (int i = 1; i < 10000 && fd < 0; i++) {
		free(name);
		if (asprintf(&name, "%s%03d.pb.gz", pre.s, i) < 0)
			cli_die("out of memory");
		fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		fprintf(stderr, "Could not save profile: could not create file of the form %s###.pb.gz\n", pre.s);
	} else {
		const char *s = buf;
		size_t left = len;
		bool ok = true;
		while (left > 0) {
			ssize_t w = write(fd, s, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ok = false;
				break;
			}
			s += w;
			left -= (size_t)w;
		}
		if (close(fd) != 0)
			ok = false;
		if (ok)
			fprintf(stderr, "Saved profile in %s\n", name);
		else
			fprintf(stderr, "Could not save profile: writing %s: %s\n", name, strerror(errno));
	}
	free(name);
	free(buf);
	free(pre.s);
}

/* ---- profiles ------------------------------------------------------------ */

/* Go's time.Duration String for whole seconds. */
static void duration_str(char *b, size_t n, int s)
{
	if (s < 60)
		snprintf(b, n, "%ds", s);
	else if (s < 3600)
		snprintf(b, n, "%dm%ds", s / 60, s % 60);
	else
		snprintf(b, n, "%dh%dm%ds", s / 3600, s / 60 % 60, s % 60);
}

/* A fetch of one source, started with all the others. */
typedef struct fetch {
	const char *src;            /* as on the command line */
	char *url;                  /* adjusted */
	xfer x;
	char *msg;                  /* the failure, or NULL */
	bool taken;
} fetch;

static fetch *fetches;
static size_t nfetches;
static bool fetched;

/* Start a fetch of src (printing pprof's lines); false if not a URL. */
static bool fetch_start(fetch *f, const cli_opts *o, const char *src, bool *countdown_used)
{
	int duration = 0, timeout = 0;
	memset(f, 0, sizeof *f);
	f->src = src;
	if (!(f->url = cli_adjust_url(src, o->seconds, o->timeout, &duration, &timeout)))
		return false;
	fprintf(stderr, "Fetching profile over HTTP from %s\n", f->url);
	xfer *x = &f->x;
	x->what = f->url;
	x->max = FETCH_MAX;
	x->timeout = (long)timeout + HEADER_GRACE;
	const char *lim = getenv("CPROF_FETCH_LIMIT");
	if (lim && *lim) {
		char *end;
		unsigned long long v = strtoull(lim, &end, 10);
		if (*end || v == 0)
			cli_die("CPROF_FETCH_LIMIT=%s: not a positive number of bytes", lim);
		if (v < x->max)
			x->max = (size_t)v;
	}
	x->duration = duration;
	/* one countdown line, for the first source with a duration */
	x->countdown = duration > 0 && !*countdown_used && isatty(2);
	if (x->countdown)
		*countdown_used = true;
	else if (duration > 0 && !isatty(2)) {
		char d[32];
		duration_str(d, sizeof d, duration);
		fprintf(stderr, "Please wait... (%s)\n", d);
	}
	http_setup(f->url, NULL, x);
	return true;
}

/* Fetch every URL among the sources and bases at once. */
static void fetch_all(const cli_opts *o)
{
	size_t n = o->nsources + o->nbases;
	fetches = calloc(n ? n : 1, sizeof *fetches);
	xfer **xs = calloc(n ? n : 1, sizeof *xs);
	if (!fetches || !xs)
		cli_die("out of memory");
	bool countdown_used = false;
	for (size_t i = 0; i < n; i++) {
		const char *src = i < o->nsources ? o->sources[i] : o->bases[i - o->nsources];
		if (fetch_start(&fetches[nfetches], o, src, &countdown_used)) {
			xs[nfetches] = &fetches[nfetches].x;
			nfetches++;
		} else {
			free(fetches[nfetches].url);
		}
	}
	fflush(stderr);
	http_many(xs, nfetches);
	for (size_t i = 0; i < nfetches; i++)
		fetches[i].msg = http_finish(&fetches[i].x);
	free(xs);
}

cprof_profile *cli_fetch_profile(const cli_opts *o, const char *src)
{
	if (!fetched) {
		fetched = true;
		fetch_all(o);
	}
	fetch *f = NULL, one;
	for (size_t i = 0; i < nfetches && !f; i++)
		if (!fetches[i].taken && (fetches[i].src == src || strcmp(fetches[i].src, src) == 0))
			f = &fetches[i];
	if (!f) {
		/* not among the command line's sources: fetch it now */
		bool used = false;
		f = &one;
		if (!fetch_start(f, o, src, &used))
			cli_die("%s: not a URL", src);
		fflush(stderr);
		f->x.rc = curl_easy_perform(f->x.easy);
		f->msg = http_finish(&f->x);
	}
	f->taken = true;
	if (f->msg)
		cli_die("%s: %s", f->url, f->msg);
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	int rc = cprof_decode(f->x.body.s ? f->x.body.s : "", f->x.body.n, &p, &err);
	free(f->x.body.s);
	f->x.body.s = NULL;
	if (rc < 0)
		cli_die("%s: %s", f->url, err.code ? err.msg : cprof_strerror(rc));
	save_profile(p);
	free(f->url);
	f->url = NULL;
	return p;
}

/* ---- remote symbolization ------------------------------------------------- */

/* pprof's symbolz URL for a profile source, or NULL. */
char *cli_symbol_url(const char *src)
{
	url_parts u;
	if (!url_resolve(src, &u))
		return NULL;
	const char *path = u.path ? u.path : "";
	sbuf b = { 0 };
	sb_str(&b, u.scheme ? u.scheme : "http");
	sb_str(&b, "://");
	sb_str(&b, u.authority);
	static const char *const sfx[] = { "/pprof/heap", "/pprof/growth", "/pprof/profile",
					   "/pprof/pmuprofile", "/pprof/contention" };
	bool gp = strstr(path, "/debug/pprof/") != NULL;
	size_t pl = strlen(path);
	for (size_t i = 0; !gp && i < sizeof sfx / sizeof *sfx; i++) {
		size_t k = strlen(sfx[i]);
		gp = pl >= k && strcmp(path + pl - k, sfx[i]) == 0;
	}
	if (gp) {
		/* path.Clean(path + "/../symbol"): the last element replaced,
		 * after cleaning; a trailing slash counts as an empty element */
		sbuf c = { 0 };
		sb_str(&c, path);
		/* split into elements, resolve "." and ".." */
		char **el = calloc(pl + 2, sizeof *el);
		size_t ne = 0;
		if (!el)
			cli_die("out of memory");
		sb_str(&c, "/../symbol");
		char *save = NULL;
		for (char *t = strtok_r(c.s, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
			if (strcmp(t, ".") == 0)
				continue;
			if (strcmp(t, "..") == 0) {
				if (ne)
					ne--;
				continue;
			}
			el[ne++] = t;
		}
		for (size_t i = 0; i < ne; i++) {
			sb_str(&b, "/");
			sb_str(&b, el[i]);
		}
		if (!ne)
			sb_str(&b, "/");
		free(el);
		free(c.s);
	} else {
		sb_str(&b, "/symbolz");
	}
	if (u.fragment) {
		sb_str(&b, "#");
		sb_str(&b, u.fragment);
	}
	url_free(&u);
	return b.s;
}

int cli_symbolize_remote(cprof_profile *p, const cli_opts *o, const char *src)
{
	bool force = o->symbolize && strstr(o->symbolize, "force") != NULL;
	char *surl = cli_symbol_url(src);
	if (!surl)
		return 0;
	int ret = 0;
	for (size_t mi = 0; mi < p->mappings.n && ret == 0; mi++) {
		cprof_mapping *m = &p->mappings.v[mi];
		if ((!force && m->has_functions) || !cprof_mapping_symbolizable(p, (uint32_t)mi))
			continue;
		char *post = NULL;
		size_t npost = 0;
		cprof_error err = { 0 };
		if ((ret = cprof_symbol_request(p, (uint32_t)mi, &post, &npost, &err)) < 0)
			break;
		if (npost == 0) {
			free(post);
			m->has_functions = true;
			continue;
		}
		xfer x = { .what = surl, .max = SYMBOL_MAX, .timeout = 60 + HEADER_GRACE };
		char *msg = http_do(surl, post, &x);
		free(post);
		if (msg) {
			cli_warn("cprof: http post %s: %s", surl, msg);
			free(msg);
			free(x.body.s);
			ret = CPROF_EIO;
			break;
		}
		ret = cprof_apply_symbols(p, (uint32_t)mi, x.body.s ? x.body.s : "", x.body.n, &err);
		free(x.body.s);
		if (ret < 0)
			cli_warn("cprof: %s: %s", surl, err.code ? err.msg : cprof_strerror(ret));
		else
			m->has_functions = true;
	}
	free(surl);
	return ret;
}
