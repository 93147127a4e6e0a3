/*
 * snap_loop.h - the loop of the EINTR test programs (flippers.c,
 * eintr_calls.c): let the threads start (50 ms), then take n raw snapshots
 * (rt_snapshot_take), adding up the signals sent and the system calls the
 * handler restarted.  0, or -1 when a snapshot failed.
 */
#ifndef SNAP_LOOP_H
#define SNAP_LOOP_H

#include <stddef.h>
#include <time.h>

#include "tprof.h"

static int snap_loop(int n, size_t *signalled, size_t *restarted)
{
	struct timespec ts = { 0, 50000000 };
	nanosleep(&ts, NULL);
	*signalled = *restarted = 0;
	for (int k = 0; k < n; k++) {
		rt_snapshot s;
		if (rt_snapshot_take(&s) != 0)
			return -1;
		*signalled += s.signalled;
		*restarted += s.restarted;
		rt_snapshot_free(&s);
	}
	return 0;
}

#endif
