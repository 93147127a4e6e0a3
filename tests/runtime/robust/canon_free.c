/* canon_free.c - a program built without PIC (gcc -fno-pic -no-pie) that
 * takes free's address: the executable then holds free's canonical PLT
 * entry, and every lookup of "free" by name (dlsym(RTLD_DEFAULT)) answers
 * that entry, which calls back into whichever free the program binds to.
 * The runtime must not take it for an allocator preloaded in front of it
 * (it would forward free to itself, or jump through a pointer not yet
 * set).  gcc's cc1 and cc1plus are such programs.  (Taking malloc's
 * address as well hid the defect: the probe then met its own malloc.) */
#include <stdio.h>
#include <stdlib.h>

void (*volatile fp)(void *);

int main(void)
{
	fp = free;
	for (int i = 0; i < 1000; i++) {
		void *p = malloc((size_t)(i % 100) + 1);
		fp(p);
		p = malloc(64);
		free(p);
	}
	puts("ok");
	return 0;
}
