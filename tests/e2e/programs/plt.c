/*
 * plt.c - a program that spends a good part of its time in PLT stubs:
 * a loop calling tiny() of libtiny.so (pltlib.c) and, when built with
 * -DPREAD, pread() on /dev/zero (time in libc's __libc_pread64, on its
 * multi-threaded path: a thread was created, so the call is cancellable,
 * where glibc 2.36 inlines __libc_pread64 into itself).
 *
 *   plt SECONDS
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int tiny(int x);
int (*volatile taken)(int) = tiny;   /* address taken: a .plt.got stub in a non-PIE */

static void *nothing(void *x)
{
	return x;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5, t0 = now();
	int acc = 0;
#ifdef PREAD
	pthread_t th;
	if (pthread_create(&th, NULL, nothing, NULL) != 0 || pthread_join(th, NULL) != 0)
		return 1;
	int fd = open("/dev/zero", O_RDONLY);
	char buf[16];
#endif
	while (now() - t0 < secs) {
		for (int i = 0; i < 100000; i++)
			acc = tiny(acc);
#ifdef PREAD
		for (int i = 0; i < 200; i++)
			if (pread(fd, buf, sizeof buf, 0) < 0)
				return 1;
#endif
	}
	return acc == 42;
}
