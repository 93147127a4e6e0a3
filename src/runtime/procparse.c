/*
 * procparse.c - the runtime's parsers of /proc text (rt_env.h): fields of
 * /proc/PID/stat and task/TID/stat, keys of /proc/PID/status, lines of
 * /proc/PID/maps.
 *
 * Pure functions over a bounded buffer the caller read (never past n, never
 * needing a NUL), with no allocation, no locale and no stdio, so they are
 * async-signal-safe and the fuzzer (fuzz/fuzz_rtenv.c) runs them on any
 * bytes.  A stat text's command (field 2) may hold spaces and parentheses:
 * fields after it are counted from its last ')'.
 */
#include "rt_env.h"

#include <limits.h>
#include <string.h>

const char *rt_stat_field(const char *text, size_t n, int k, size_t *len)
{
	if (!text || k < 1)
		return NULL;
	const char *open = memchr(text, '(', n);
	const char *close = NULL;
	for (size_t i = n; i > 0; i--)
		if (text[i - 1] == ')') {
			close = text + i - 1;
			break;
		}
	if (!open || !close || close < open)
		return NULL;
	if (k == 1) {
		size_t l = 0;
		while (l < (size_t)(open - text) && text[l] != ' ')
			l++;
		*len = l;
		return l ? text : NULL;
	}
	if (k == 2) {
		*len = (size_t)(close - open - 1);
		return open + 1;
	}
	const char *p = close + 1, *end = text + n;
	for (int f = 3;; f++) {
		while (p < end && (*p == ' ' || *p == '\n'))
			p++;
		if (p >= end || *p == 0)
			return NULL;
		const char *s = p;
		while (p < end && *p != ' ' && *p != '\n' && *p != 0)
			p++;
		if (f == k) {
			*len = (size_t)(p - s);
			return s;
		}
	}
}

static long long num_of(const char *s, size_t l)
{
	if (!s || l == 0 || l > 19)
		return -1;
	bool neg = s[0] == '-';
	size_t i = neg ? 1 : 0;
	if (i == l)
		return -1;
	long long x = 0;
	for (; i < l; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		int d = s[i] - '0';
		if (x > (LLONG_MAX - d) / 10)
			return -1;   /* a field beyond long long (the kernel's unsigned ones) */
		x = x * 10 + d;
	}
	return neg ? -x : x;
}

long long rt_stat_num(const char *text, size_t n, int k)
{
	size_t l = 0;
	const char *s = rt_stat_field(text, n, k, &l);
	return num_of(s, l);
}

long long rt_status_num(const char *text, size_t n, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text, *end = text + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == ':') {
			const char *s = p + kl + 1;
			while (s < eol && (*s == ' ' || *s == '\t'))
				s++;
			const char *e = s;
			while (e < eol && *e >= '0' && *e <= '9')
				e++;
			return num_of(s, (size_t)(e - s));
		}
		p = eol + 1;
	}
	return -1;
}

static int hex_of(const char **p, const char *end, uint64_t *out)
{
	uint64_t x = 0;
	const char *s = *p;
	int nd = 0;
	for (; s < end; s++, nd++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (nd >= 16)
			return -1;
		x = x << 4 | (uint64_t)d;
	}
	if (nd == 0)
		return -1;
	*p = s;
	*out = x;
	return 0;
}

/* "start-end perms offset dev inode   path" */
int rt_parse_maps_line(const char *line, size_t n, rt_maps_line *out)
{
	const char *p = line, *end = line + n;
	const void *nl = memchr(line, '\n', n);
	if (nl)
		end = nl;
	uint64_t dev;
	if (hex_of(&p, end, &out->start) != 0 || p >= end || *p++ != '-' ||
	    hex_of(&p, end, &out->end) != 0 || p >= end || *p++ != ' ' || end - p < 5)
		return -1;
	memcpy(out->perms, p, 4);
	out->perms[4] = 0;
	p += 4;
	if (p >= end || *p++ != ' ' || hex_of(&p, end, &out->off) != 0 || p >= end || *p++ != ' ' ||
	    hex_of(&p, end, &dev) != 0 || p >= end || *p++ != ':' || hex_of(&p, end, &dev) != 0 ||
	    p >= end || *p++ != ' ')
		return -1;
	while (p < end && *p >= '0' && *p <= '9')   /* inode */
		p++;
	while (p < end && *p == ' ')
		p++;
	out->path = p < end ? p : NULL;
	out->plen = (size_t)(end - p);
	if (out->end < out->start)
		return -1;
	return 0;
}
