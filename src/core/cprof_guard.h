/*
 * cprof_guard.h - wrong tokens limited per client address, for cprof's
 * HTTP servers that take a bearer token (the server, the runtime's
 * endpoint): guard.c says how.
 *
 * Thread-safe, allocation-free, not async-signal-safe; part of
 * libcprofcore.a so that both servers share it.
 */
#ifndef CPROF_GUARD_H
#define CPROF_GUARD_H

#include <stdint.h>

struct sockaddr;

/* Seconds the address sa must wait before a token it presents is checked
 * again (0: go ahead); a NULL or non-IP address is never refused. */
unsigned cprof_guard_refused(const struct sockaddr *sa, int64_t now_ns);
/* Counts one wrong token from sa (now_ns: any clock, the same every call). */
void cprof_guard_failed(const struct sockaddr *sa, int64_t now_ns);

#endif
