/*
 * failalloc.h - allocation-failure injection for the unit tests (test-only;
 * see failalloc.c).  Thread-safe: no (the drivers are single-threaded).
 */
#ifndef FAILALLOC_H
#define FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Fail the nth allocation from now (1 = the next one); sticky: and every
 * one after it.  n = 0 disarms. */
void failalloc_arm(unsigned long n, bool sticky);
/* Stop failing allocations, keeping the counts of this arming. */
void failalloc_disarm(void);
/* How many allocations were failed since the last arm. */
unsigned long failalloc_failed(void);
/* Blocks allocated through the wrappers and not yet freed. */
size_t failalloc_live(void);

#endif
