/* close_all.c - a program that closes every descriptor it did not open
 * (close_range(3, ~0U, 0), as daemons and sandboxes do), then opens its
 * own pipe and data file, which get the numbers the runtime's descriptors
 * had.  It writes 36 bytes into the pipe, sleeps 2.5 s (the runtime's
 * threads run meanwhile), reads them back, writes its data file, burns a
 * little CPU and exits.  Prints whether its bytes came back and its
 * process CPU time over the sleep (a runtime thread spinning on
 * a descriptor that is no longer its own shows there): "pipe ok", "data
 * ok", "sleep_cpu_ms N".  argv[1]: the data file; argv[2] "seccomp": first
 * forbid process_vm_readv (EPERM), as sandboxes may, so that the
 * runtime's unwinder probes memory another way (it used a pipe, whose
 * descriptors the program then reuses). */
#define _GNU_SOURCE
#include "burn.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int forbid_process_vm_readv(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1 /* EPERM */),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (argc > 2 && strcmp(argv[2], "seccomp") == 0 && forbid_process_vm_readv() != 0) {
		perror("seccomp");
		return 2;
	}
	burn(30000000);   /* something for the CPU profile before */
	if (syscall(SYS_close_range, 3U, ~0U, 0) != 0) {
		perror("close_range");
		return 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 2;
	int p[2];
	if (pipe(p) != 0)
		return 2;
	static const char msg[37] = "0123456789abcdefghijklmnopqrstuvwxyz";
	if (write(p[1], msg, 36) != 36)
		return 2;
	double c0 = cpu_ms();
	struct timespec ts = { 2, 500000000 };
	nanosleep(&ts, NULL);
	double c1 = cpu_ms();
	char got[64] = { 0 };
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ssize_t n = read(p[0], got, sizeof got);
	printf("pipe %s\n", n == 36 && memcmp(got, msg, 36) == 0 ? "ok" : "lost");
	static const char data[] = "the program's own data\n";
	if (write(fd, data, sizeof data - 1) != (ssize_t)(sizeof data - 1) || close(fd) != 0)
		return 2;
	fd = open(argv[1], O_RDONLY);
	char back[128] = { 0 };
	n = read(fd, back, sizeof back - 1);
	printf("data %s\n", n == (ssize_t)(sizeof data - 1) && strcmp(back, data) == 0 ? "ok" : "changed");
	close(fd);
	burn(30000000);   /* and after */
	fprintf(stderr, "sleep_cpu_ms %.0f\n", c1 - c0);
	return 0;
}
