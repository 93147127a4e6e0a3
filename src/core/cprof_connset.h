/*
 * cprof_connset.h - the connections of one of cprof's HTTP servers (the
 * runtime's endpoint, the command's web UI) as their slow-client defences
 * see them: since when each has been waiting for a request or receiving
 * one, and a way to shut one down that libmicrohttpd then closes itself.
 *
 * Ownership and threads: a set and its entries belong to the one thread
 * that runs the server's connection callbacks; nothing here locks.  Not
 * async-signal-safe.  The core links no HTTP library: an entry keeps the
 * server's own handle of the connection as an opaque pointer.
 */
#ifndef CPROF_CONNSET_H
#define CPROF_CONNSET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cprof_conn {
	struct cprof_conn *next, *prev;
	void *handle;        /* the server's (a struct MHD_Connection *) */
	int fd;              /* its socket, -1 when unknown */
	int64_t since_ns;    /* waiting: since when; reading: since the headers */
	int64_t start_ns;    /* since when its current request began: the
			      * connection's start or its previous answer
			      * (the headers do not reset it) */
	uint64_t rx;         /* reading: body bytes received */
	bool waiting;        /* no complete request since since_ns */
	bool reading;        /* headers in, body not complete */
	bool shortened;      /* its timeout was cut (the server's policy) */
	bool dropped;        /* shut down: closing */
} cprof_conn;

typedef struct cprof_connset {
	cprof_conn *head;
	int n, ndropped;
} cprof_connset;

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t cprof_mono_ns(void);

/* A new connection, waiting for a request since now; NULL when out of
 * memory (the server then simply does not track it). */
cprof_conn *cprof_connset_add(cprof_connset *s, void *handle, int fd);
/* Forget k (closed) and free it. */
void cprof_connset_remove(cprof_connset *s, cprof_conn *k);
/* k answered: waiting for the next request (keep-alive) since now. */
void cprof_conn_idle(cprof_conn *k);
/* Shut k's socket down (shutdown(2), the descriptor stays the server's):
 * the server reads the end and closes the connection. */
void cprof_conn_drop(cprof_connset *s, cprof_conn *k);
/* Connections not being dropped. */
static inline int cprof_connset_live(const cprof_connset *s)
{
	return s->n - s->ndropped;
}

#endif
