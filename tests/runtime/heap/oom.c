/*
 * oom.c - a program that exhausts its address space (RLIMIT_AS): malloc,
 * calloc, realloc, posix_memalign and operator-new-free C paths must
 * return NULL / ENOMEM exactly as without the runtime, a failed realloc
 * must leave the old block intact, and once memory is given back the
 * program allocates again.  Prints what it saw (not how many blocks it
 * got: the runtime's own mappings use some of the limit).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAXB 4096

int main(void)
{
	struct rlimit rl = { 512ul << 20, 512ul << 20 };
	if (setrlimit(RLIMIT_AS, &rl) != 0) {
		perror("setrlimit");
		return 2;
	}
	static void *blocks[MAXB];
	int n = 0;
	int err = 0;
	for (; n < MAXB; n++) {
		blocks[n] = malloc(1 << 20);
		if (!blocks[n]) {
			err = errno;
			break;
		}
		memset(blocks[n], 1, 64);
	}
	printf("malloc: %s, errno %s\n", n < MAXB ? "NULL" : "never NULL",
	       err == ENOMEM ? "ENOMEM" : "other");
	/* small allocations may still fit: fill up with them too */
	void *small[1 << 14];
	int ns = 0;
	for (; ns < (1 << 14); ns++)
		if (!(small[ns] = malloc(4096)))
			break;
	errno = 0;
	void *c = calloc(1 << 20, 64);
	printf("calloc: %s, errno %s\n", c ? "ok" : "NULL", errno == ENOMEM ? "ENOMEM" : "other");
	errno = 0;
	volatile size_t big = SIZE_MAX / 2;
	void *o = calloc(big, 4);
	printf("calloc overflow: %s, errno %s\n", o ? "ok" : "NULL", errno == ENOMEM ? "ENOMEM" : "other");
	void *pm = NULL;
	int rc = posix_memalign(&pm, 4096, 256u << 20);
	printf("posix_memalign: %s\n", rc == ENOMEM ? "ENOMEM" : rc == 0 ? "ok" : "other");
	/* a failed realloc keeps the block */
	char *r = malloc(100);
	if (!r && ns > 0) {
		free(small[--ns]);
		r = malloc(100);
	}
	if (r) {
		memset(r, 7, 100);
		errno = 0;
		char *r2 = realloc(r, 300u << 20);
		int ok = !r2 && errno == ENOMEM && r[0] == 7 && r[99] == 7;
		printf("realloc: %s\n", ok ? "NULL, old block intact" : "unexpected");
		free(r2 ? r2 : r);
	}
	for (int i = 0; i < n; i++)
		free(blocks[i]);
	for (int i = 0; i < ns; i++)
		free(small[i]);
	void *again = malloc(64u << 20);
	printf("after freeing: %s\n", again ? "ok" : "NULL");
	free(again);
	free(c);
	return 0;
}
