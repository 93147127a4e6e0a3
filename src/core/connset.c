/*
 * connset.c - the connection sets of cprof's HTTP servers (cprof_connset.h):
 * a doubly-linked list of the live connections with their request timing,
 * kept by the server's connection callbacks, walked by its slow-client
 * policy (http_server.c's evict_slow, webui.c's evict_idle).  A dropped
 * connection is shut down, never closed here: the server owns the
 * descriptor and closes it when it reads the end, so the number is never
 * reused under it.  One thread per set; no locks.
 */
#include "cprof_connset.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

int64_t cprof_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

cprof_conn *cprof_connset_add(cprof_connset *s, void *handle, int fd)
{
	cprof_conn *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->handle = handle;
	k->fd = fd;
	cprof_conn_idle(k);
	k->next = s->head;
	if (s->head)
		s->head->prev = k;
	s->head = k;
	s->n++;
	return k;
}

void cprof_connset_remove(cprof_connset *s, cprof_conn *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		s->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	s->n--;
	s->ndropped -= k->dropped;
	free(k);
}

void cprof_conn_idle(cprof_conn *k)
{
	k->since_ns = k->start_ns = cprof_mono_ns();
	k->waiting = true;
	k->reading = false;
}

void cprof_conn_drop(cprof_connset *s, cprof_conn *k)
{
	if (!k->dropped && k->fd >= 0 && shutdown(k->fd, SHUT_RDWR) == 0) {
		k->dropped = true;
		s->ndropped++;
	}
}
