/*
 * errno_keep.c - errno survives samples: threads set errno to a marker,
 * burn CPU (where the samples land) and check it, many times; the handler
 * runs system calls, and must restore errno.  Prints whether errno ever
 * changed.
 */
#include "burn.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static _Atomic long changed;

static void *check(void *arg)
{
	for (int i = 0; i < 3000; i++) {
		int mark = 1000 + i;
		errno = mark;
		burn(10000);
		if (errno != mark)
			changed++;
	}
	return NULL;
}

int main(void)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, check, NULL);
	check(NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("errno changed by samples: %ld times\n", (long)changed);
	return changed != 0;
}
