/*
 * cprof_host.h - the Host-header check of cprof's HTTP servers (the
 * runtime's endpoint and the command's web UI), against DNS rebinding.
 *
 * A page on another site can point a name it controls at 127.0.0.1 and
 * then talk to a loopback server from the user's browser; the browser
 * still sends that name in Host.  A server answers only requests whose
 * Host names it: an IP literal (a rebinding page can never make the
 * browser send one), "localhost", or one of the names the server was
 * given; a port, when present, must be the port served.
 *
 * Pure, allocation-free and thread-safe; part of libcprofcore.a so that
 * both servers share it.
 */
#ifndef CPROF_HOST_H
#define CPROF_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* Is the Host header value hdr acceptable for a server on port `port`
 * known as names[0..nnames) (host names without a port, compared without
 * case and without a trailing dot)?  NULL (no Host header: HTTP/1.0,
 * never a browser) is accepted; so is any IP literal and "localhost". */
bool cprof_host_allowed(const char *hdr, const char *const *names, size_t nnames, unsigned port);

#endif
