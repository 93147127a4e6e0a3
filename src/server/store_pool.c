/*
 * store_pool.c - the SQLite store's pool of read connections to day
 * files, which range merges and series (srv_days_open) take and give back
 * instead of opening and closing a connection per day and query: a fresh
 * connection starts with an empty page cache and a new memory map, so a
 * fleet's chart (a quarter of a million rows of one day) paid a page
 * fault or a pread() per row it touched, and the unmapping at its close.
 *
 * Identity.  A pooled connection is kept with its day and the (device,
 * inode) of the file it opened, checked by stat() when it is taken and
 * when it is given back: a day file unlinked by retention, or unlinked and
 * created again, never serves a query from the old file (the old
 * connection is closed instead).  Retention also drops the day's pooled
 * connections (srv_pool_forget_day) so an unlinked file's space is freed.
 * A connection is given back outside any transaction.
 *
 * Threads: thread-safe (s->pool_mu, held only to take or put an entry,
 * never across SQLite calls); a taken connection belongs to one query.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int file_id(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return -1;
	*dev = (uint64_t)sb.st_dev;
	*ino = (uint64_t)sb.st_ino;
	return 0;
}

int srv_pool_take(sq_store *s, int32_t day, const char *path, sqlite3 **db, uint64_t *dev,
		  uint64_t *ino, cprof_error *err)
{
	sqlite3 *stale[SRV_POOL_MAX];
	size_t nstale = 0;
	*db = NULL;
	if (file_id(path, dev, ino) != 0)
		return cprof_seterr(err, CPROF_EIO, "store: cannot open %s", path);
	pthread_mutex_lock(&s->pool_mu);
	for (size_t i = s->npool; i-- > 0;) {
		srv_pooled *p = &s->pool[i];
		if (p->day != day)
			continue;
		if (p->dev == *dev && p->ino == *ino && !*db)
			*db = p->db;
		else if (p->dev != *dev || p->ino != *ino)
			stale[nstale++] = p->db;
		else
			continue;
		memmove(p, p + 1, (s->npool - i - 1) * sizeof *p);
		s->npool--;
	}
	pthread_mutex_unlock(&s->pool_mu);
	for (size_t i = 0; i < nstale; i++)
		sqlite3_close(stale[i]);
	return *db ? 0 : srv_open_ro(path, db, err);
}

void srv_pool_give(sq_store *s, int32_t day, const char *path, sqlite3 *db, uint64_t dev,
		   uint64_t ino)
{
	uint64_t d2, i2;
	if (!db)
		return;
	if (file_id(path, &d2, &i2) != 0 || d2 != dev || i2 != ino || sqlite3_get_autocommit(db) == 0) {
		sqlite3_close(db);      /* gone, replaced, or not clean */
		return;
	}
	sqlite3 *old = NULL;
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool == SRV_POOL_MAX) {         /* full: the oldest goes */
		old = s->pool[0].db;
		memmove(s->pool, s->pool + 1, (s->npool - 1) * sizeof *s->pool);
		s->npool--;
	}
	s->pool[s->npool++] = (srv_pooled){ db, day, dev, ino };
	pthread_mutex_unlock(&s->pool_mu);
	if (old)
		sqlite3_close(old);
}

void srv_pool_forget_day(sq_store *s, int32_t day)
{
	sqlite3 *gone[SRV_POOL_MAX];
	size_t n = 0;
	pthread_mutex_lock(&s->pool_mu);
	for (size_t i = s->npool; i-- > 0;)
		if (s->pool[i].day == day) {
			gone[n++] = s->pool[i].db;
			memmove(&s->pool[i], &s->pool[i + 1], (s->npool - i - 1) * sizeof *s->pool);
			s->npool--;
		}
	pthread_mutex_unlock(&s->pool_mu);
	for (size_t i = 0; i < n; i++)
		sqlite3_close(gone[i]);
}

void srv_pool_close(sq_store *s)
{
	for (size_t i = 0; i < s->npool; i++)
		sqlite3_close(s->pool[i].db);
	s->npool = 0;
}
