/*
 * mallocloop.c - a program that spends its time calling malloc and free
 * (tests/e2e/test_runtime_self.py): under the preload every call goes
 * through the runtime's interposed malloc, whose few instructions before
 * the tail jump to libc's are the program's call, not the runtime's work.
 * Its CPU profile must name that frame as the program called it, malloc.
 *
 *   mallocloop N     N million malloc(32) + free pairs
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = (argc > 1 ? atol(argv[1]) : 10) * 1000000L;
	void *volatile p;
	for (long i = 0; i < n; i++) {
		p = malloc(32);
		free(p);
	}
	return 0;
}
