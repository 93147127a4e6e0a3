/*
 * bad_free.c - invalid and double frees must behave exactly as without
 * the runtime (glibc detects them and aborts).  With CPROF_HEAP_RATE=1
 * the block is a sampled one.
 *
 *   bad_free double|invalid
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char *p = malloc(64);
	char *q = malloc(64);
	strcpy(p, "hello");
	printf("%s\n", p);
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "double") == 0) {
		free(p);
		free(q);
		free(p);
	} else {
		char *volatile bad = p + 16;
		free(bad);
	}
	return 0;
}
