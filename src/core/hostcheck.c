/*
 * hostcheck.c - cprof_host_allowed (cprof_host.h): the Host-header check
 * of the endpoint and of the web UI.
 *
 * The header is split into a host and an optional port ("name",
 * "name:port", "1.2.3.4:port", "[v6]:port"); the port must be decimal and
 * the served one; the host is accepted when it is an IP literal
 * (inet_pton), "localhost", or one of the server's
 * names.  No allocation, no locale: names are compared ASCII
 * case-insensitively.  Thread-safe.
 */
#include "cprof_host.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* The longest host accepted (a DNS name is at most 253 bytes). */
#define HOST_MAX 255

static bool same_name(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);
	if (bn && b[bn - 1] == '.')
		bn--;
	return an == bn && strncasecmp(a, b, an) == 0;
}

bool cprof_host_allowed(const char *hdr, const char *const *names, size_t nnames, unsigned port)
{
	if (!hdr)
		return true;
	size_t len = strlen(hdr);
	const char *host = hdr, *pp = NULL;
	size_t hn;
	char lit[HOST_MAX + 1];
	bool v6 = false;
	if (len && hdr[0] == '[') {
		const char *rb = memchr(hdr, ']', len);
		if (!rb)
			return false;
		host = hdr + 1;
		hn = (size_t)(rb - host);
		if (rb[1] == ':')
			pp = rb + 2;
		else if (rb[1])
			return false;
		v6 = true;
	} else {
		const char *colon = memchr(hdr, ':', len);
		hn = colon ? (size_t)(colon - hdr) : len;
		if (colon)
			pp = colon + 1;
	}
	if (hn == 0 || hn > HOST_MAX)
		return false;
	if (pp) {
		unsigned long v = 0;
		if (!*pp || strlen(pp) > 5)
			return false;
		for (const char *q = pp; *q; q++) {
			if (*q < '0' || *q > '9')
				return false;
			v = v * 10 + (unsigned long)(*q - '0');
		}
		if (v != port)
			return false;
	}
	memcpy(lit, host, hn);
	lit[hn] = 0;
	unsigned char addr[16];
	if (v6)
		return inet_pton(AF_INET6, lit, addr) == 1;
	if (inet_pton(AF_INET, lit, addr) == 1)
		return true;
	if (lit[hn - 1] == '.')
		lit[--hn] = 0;   /* "localhost." is "localhost" */
	if (hn == 0)
		return false;
	if (strcasecmp(lit, "localhost") == 0)
		return true;
	for (size_t i = 0; i < nnames; i++)
		if (names[i] && same_name(lit, hn, names[i]))
			return true;
	return false;
}
