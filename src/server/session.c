/*
 * session.c - the web UI's login sessions under -token: a browser cannot
 * send "Authorization: Bearer TOKEN" with the page's own navigation, so a
 * login (POST /login with the token in a form, or opening a page once as
 * /?token=TOKEN) sets a session cookie, and GET/HEAD requests carrying it
 * are authorised as if they carried the token.
 *
 * A session value is 32 random bytes (getrandom) in hex, never the token,
 * valid for SRV_SESSION_TTL_S after the login; the server keeps at most
 * SESSIONS_MAX of them (the one closest to expiry makes room for a new
 * one).  The cookie is HttpOnly, SameSite=Strict, Path=/, Max-Age the same
 * lifetime, and Secure when the server speaks TLS (server.c builds the
 * header).  A presented value is compared with every live session in
 * constant time (no early exit on the first differing byte, nor on a
 * match).  Sessions live in memory: a restart logs every browser out.
 *
 * Threads: every function is thread-safe (one mutex over the table); none
 * is async-signal-safe.
 */
#include "server_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SESSIONS_MAX 256
#define SESSION_HEX (SRV_SESSION_BYTES * 2)

typedef struct session {
	char value[SESSION_HEX + 1];
	int64_t expires_ns;         /* 0: free slot */
} session;

static pthread_mutex_t sess_mu = PTHREAD_MUTEX_INITIALIZER;
static session sessions[SESSIONS_MAX];

int srv_session_new(int64_t now_ns, char out[SRV_SESSION_BYTES * 2 + 1])
{
	unsigned char raw[SRV_SESSION_BYTES];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[SESSION_HEX] = '\0';
	pthread_mutex_lock(&sess_mu);
	size_t slot = 0;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		if (sessions[i].expires_ns <= now_ns) {   /* free or expired */
			slot = i;
			break;
		}
		if (sessions[i].expires_ns < sessions[slot].expires_ns)
			slot = i;
	}
	memcpy(sessions[slot].value, out, SESSION_HEX + 1);
	sessions[slot].expires_ns = now_ns + (int64_t)SRV_SESSION_TTL_S * 1000000000;
	pthread_mutex_unlock(&sess_mu);
	return 0;
}

/* The value of cookie SRV_SESSION_COOKIE in a Cookie header into out, or
 * false (absent, or not SESSION_HEX characters long). */
static bool cookie_value(const char *hdr, char out[SESSION_HEX + 1])
{
	static const char name[] = SRV_SESSION_COOKIE "=";
	for (const char *p = hdr; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == sizeof name - 1 + SESSION_HEX && !strncmp(p, name, sizeof name - 1)) {
			memcpy(out, p + sizeof name - 1, SESSION_HEX);
			out[SESSION_HEX] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

bool srv_session_ok(const char *cookie_hdr, int64_t now_ns)
{
	char v[SESSION_HEX + 1];
	if (!cookie_hdr || !cookie_value(cookie_hdr, v))
		return false;
	bool ok = false;
	pthread_mutex_lock(&sess_mu);
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		unsigned char diff = 0;
		for (size_t k = 0; k < SESSION_HEX; k++)
			diff |= (unsigned char)(sessions[i].value[k] ^ v[k]);
		ok |= diff == 0 && sessions[i].expires_ns > now_ns;
	}
	pthread_mutex_unlock(&sess_mu);
	return ok;
}

bool srv_token_equal(const char *token, size_t token_len, const char *given, size_t n)
{
	unsigned char diff = (unsigned char)(n != token_len);
	for (size_t i = 0; i < token_len; i++)
		diff |= (unsigned char)(token[i] ^ (i < n ? given[i] : 0));
	return diff == 0;
}

/* ---- the login page and POST /login ------------------------------------------ */

/* Whether next is a path on this server to send a browser to after its
 * login: "/..." but not "//host" nor "/\host", printable ASCII, bounded. */
static bool next_ok(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) > 1024)
		return false;
	for (const char *p = next; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 127)
			return false;
	return true;
}

/* HTML-escape s into b. */
static void html_str(srv_buf *b, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
			: *s == '"' ? "&quot;" : *s == '\'' ? "&#39;" : NULL;
		if (e)
			srv_buf_puts(b, e);
		else
			srv_buf_add(b, s, 1);
	}
}

void srv_login_page(srv_resp *rs, unsigned status, const char *why, const char *next)
{
	srv_buf b = { 0 };
	srv_buf_puts(&b,
		"<!doctype html><html lang=en><head><meta charset=utf-8>"
		"<meta name=viewport content=\"width=device-width\"><title>cprof server: log in</title>"
		"<style>body{font:15px system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;"
		"color:#222;background:#fafafa}@media(prefers-color-scheme:dark){body{color:#ddd;"
		"background:#1b1b1f}input,button{background:#2a2a30;color:#ddd;border:1px solid #555}}"
		"input{width:22em;padding:.4em}button{padding:.4em 1em}p.err{color:#c33}"
		"code{background:rgba(127,127,127,.15);padding:0 .2em}</style></head><body>"
		"<h1>cprof server</h1>");
	if (why && *why) {
		srv_buf_puts(&b, "<p class=err id=why>");
		html_str(&b, why);
		srv_buf_puts(&b, "</p>");
	}
	srv_buf_puts(&b,
		"<p>This server was started with <code>-token</code>: enter that token to open its "
		"pages in this browser. It sets a session cookie for this browser, valid 12 hours "
		"(the token itself is not stored). Opening <code>/?token=TOKEN</code> once does the "
		"same.</p><form method=post action=/login>"
		"<input type=password name=token id=token placeholder=token autofocus "
		"autocomplete=current-password> <button id=login>Log in</button>"
		"<input type=hidden name=next value=\"");
	html_str(&b, next_ok(next) ? next : "/");
	srv_buf_puts(&b,
		"\"></form><p>Tools (curl, pushes, <code>cprof</code>) send the header "
		"<code>Authorization: Bearer TOKEN</code> instead; <code>POST /ingest</code> always "
		"needs it.</p></body></html>\n");
	free(rs->body);
	rs->body = b.err ? NULL : b.s;
	rs->len = b.err ? 0 : b.n;
	if (b.err)
		free(b.s);
	rs->status = status;
	rs->ctype = "text/html; charset=utf-8";
}

static int hexdigit(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode one application/x-www-form-urlencoded value of key in body (n
 * bytes) into out (size outsz with the NUL); false when absent, too long
 * or badly escaped. */
static bool form_value(const char *body, size_t n, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && body[j] != '&')
			j++;
		if (j - i > kl && !memcmp(body + i, key, kl) && body[i + kl] == '=') {
			size_t o = 0;
			for (size_t k = i + kl + 1; k < j; k++) {
				int c = (unsigned char)body[k];
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					if (k + 2 >= j)
						return false;
					int hi = hexdigit(body[k + 1]), lo = hexdigit(body[k + 2]);
					if (hi < 0 || lo < 0 || (hi | lo) == 0)
						return false;
					c = hi * 16 + lo;
					k += 2;
				}
				if (o + 1 >= outsz)
					return false;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return true;
		}
		i = j + 1;
	}
	return false;
}

bool srv_login_form(const srv_req *rq, char *token, size_t tokensz, char *next, size_t nextsz)
{
	char nx[1100];
	if (!form_value(rq->body, rq->len, "next", nx, sizeof nx) || !next_ok(nx))
		snprintf(nx, sizeof nx, "/");
	snprintf(next, nextsz, "%s", nx);
	return rq->body && form_value(rq->body, rq->len, "token", token, tokensz);
}
