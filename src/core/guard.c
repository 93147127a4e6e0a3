/*
 * guard.c - a limit on wrong tokens per client address, so a server with
 * a token (cprof server -token, the runtime's endpoint with
 * CPROF_HTTP_TOKEN) cannot have it guessed at the speed of its request
 * loop.
 *
 * Every request that presents a token (an Authorization header, the login
 * form, a page opened as /?token=) is an attempt.  An address that makes
 * GUARD_FAILS wrong attempts within GUARD_WINDOW_S is refused every
 * attempt, right or wrong, for GUARD_WINDOW_S after the last of them (429
 * with Retry-After): a right token in the refused time proves nothing, so
 * it must not get through either.  Requests without a token (a session
 * cookie, an open path) are not counted nor refused, so a browser logged
 * in before keeps working while its address is refused new logins.
 *
 * Addresses: IPv4 whole, IPv6 by its /64 (one host usually holds a whole
 * /64, and counting each address would let it rotate through them).  The
 * table is fixed (GUARD_SLOTS); a new address takes a free or stale slot,
 * else the one whose last failure is oldest.  A flood from more addresses
 * than slots can thus push a guessing address out early; the token's
 * length (a 16-byte random token is 2^128 guesses) is the real defence,
 * this limit only keeps the logs and the CPU quiet.
 *
 * One table per process (the server and the runtime's endpoint never share
 * a process).  Threads: every function is thread-safe (one mutex over the
 * table, held for a scan of GUARD_SLOTS entries, taken only by the
 * servers' own threads); none is async-signal-safe; nothing allocates.
 */
#include "cprof_guard.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#define GUARD_SLOTS 512
#define GUARD_FAILS 10
#define GUARD_WINDOW_S 60
#define NS 1000000000LL

typedef struct guard_slot {
	unsigned char key[9];       /* family tag + 4 (IPv4) or 8 (IPv6 /64) bytes */
	unsigned fails;             /* wrong attempts since first_ns */
	int64_t first_ns, last_ns;  /* 0: free */
} guard_slot;

static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static guard_slot slots[GUARD_SLOTS];

/* The key of sa into key; false for a family without one (a Unix socket:
 * not limited). */
static bool guard_key(const struct sockaddr *sa, unsigned char key[9])
{
	memset(key, 0, 9);
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, s6->sin6_addr.s6_addr, 8);
		}
		return true;
	}
	return false;
}

/* The slot of key, or NULL.  Caller holds guard_mu. */
static guard_slot *guard_find(const unsigned char key[9], int64_t now_ns)
{
	for (size_t i = 0; i < GUARD_SLOTS; i++)
		if (slots[i].last_ns && !memcmp(slots[i].key, key, 9)) {
			if (now_ns - slots[i].last_ns > GUARD_WINDOW_S * NS) {
				slots[i].last_ns = 0;   /* stale: forgotten */
				return NULL;
			}
			return &slots[i];
		}
	return NULL;
}

unsigned cprof_guard_refused(const struct sockaddr *sa, int64_t now_ns)
{
	unsigned char key[9];
	if (!guard_key(sa, key))
		return 0;
	unsigned wait = 0;
	pthread_mutex_lock(&guard_mu);
	guard_slot *g = guard_find(key, now_ns);
	if (g && g->fails >= GUARD_FAILS) {
		int64_t left = g->last_ns + GUARD_WINDOW_S * NS - now_ns;
		wait = left > 0 ? (unsigned)((left + NS - 1) / NS) : 0;
	}
	pthread_mutex_unlock(&guard_mu);
	return wait;
}

void cprof_guard_failed(const struct sockaddr *sa, int64_t now_ns)
{
	unsigned char key[9];
	if (!guard_key(sa, key))
		return;
	pthread_mutex_lock(&guard_mu);
	guard_slot *g = guard_find(key, now_ns);
	if (g && now_ns - g->first_ns > GUARD_WINDOW_S * NS && g->fails < GUARD_FAILS) {
		g->fails = 0;   /* a new window for an address below the limit */
		g->first_ns = now_ns;
	}
	if (!g) {
		size_t pick = 0;
		for (size_t i = 0; i < GUARD_SLOTS; i++) {
			if (!slots[i].last_ns || now_ns - slots[i].last_ns > GUARD_WINDOW_S * NS) {
				pick = i;
				break;
			}
			if (slots[i].last_ns < slots[pick].last_ns)
				pick = i;
		}
		g = &slots[pick];
		memcpy(g->key, key, 9);
		g->fails = 0;
		g->first_ns = now_ns;
	}
	if (g->fails < GUARD_FAILS)
		g->fails++;
	g->last_ns = now_ns ? now_ns : 1;
	pthread_mutex_unlock(&guard_mu);
}
