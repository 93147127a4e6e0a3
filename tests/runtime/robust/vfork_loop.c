/* vfork_loop.c - vforks 20,000 children that _exit at once, waiting for
 * each: most of its CPU time is the vfork system call, sampled at the
 * instruction after it in glibc's __libc_vfork, where the return address
 * is in rdi (popped so the child, which shares the stack, cannot
 * overwrite it; the child's call to _exit does overwrite the slot).
 * Prints "ok". */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	for (int i = 0; i < 20000; i++) {
		pid_t p = vfork();
		if (p == 0)
			_exit(0);
		if (p < 0)
			return 1;
		int st;
		waitpid(p, &st, 0);
	}
	puts("ok");
	return 0;
}
