/* drop_privs.c - drops root as util-linux's setpriv and many daemons do:
 * PR_SET_KEEPCAPS on its one thread, setresuid to nobody, capset to get
 * CAP_SETUID/CAP_SETGID back in the effective set, setgroups and
 * setresgid, then prints its ids.  Capabilities and keep-caps are per
 * thread while glibc runs each set*id call on every thread and aborts if
 * one fails: the runtime's own threads must follow the caller.  A
 * program thread started and joined first checks that glibc's SIGSETXID
 * handler, installed at the first pthread_create, stays chained.  Must
 * run as root (the test skips otherwise).
 *
 * drop_privs api: first starts the endpoint itself (cprof_http_start,
 * found in the preloaded runtime), which starts a thread of the runtime's,
 * then drops at once.  It runs on one CPU under SCHED_FIFO, priority 1
 * while it starts the endpoint (the new thread inherits it), 2 from then
 * on: the new thread first runs when the setresuid broadcast waits for
 * it, and as soon as it lets glibc signal it (start_thread, before its
 * function) the program's thread preempts it and does.  So the signal
 * reaches it before the runtime knew it as its own: it lost its
 * capabilities, failed the setresgid, and glibc aborted, every run. */
#define _GNU_SOURCE
#include "../../../include/cprof.h"

#include <dlfcn.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *nothing(void *a)
{
	return a;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 3;
	if (argc > 1 && strcmp(argv[1], "api") == 0) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		struct sched_param lo = { .sched_priority = 1 }, hi = { .sched_priority = 2 };
		if (sched_setaffinity(0, sizeof one, &one) != 0 ||
		    sched_setscheduler(0, SCHED_FIFO, &lo) != 0) {
			perror("SCHED_FIFO");
			return 5;
		}
		int (*start)(const cprof_http_options *) =
			(int (*)(const cprof_http_options *))dlsym(RTLD_DEFAULT, "cprof_http_start");
		cprof_http_options o = { .listen = "127.0.0.1:0" };
		if (!start || start(&o) != 0) {
			fprintf(stderr, "no endpoint\n");
			return 4;
		}
		sched_setscheduler(0, SCHED_FIFO, &hi);
	}
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
		perror("PR_SET_KEEPCAPS");
		return 1;
	}
	if (setresuid(65534, 65534, 65534) != 0) {
		perror("setresuid");
		return 1;
	}
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) != 0) {
		perror("capget");
		return 1;
	}
	d[0].effective = d[0].permitted;   /* CAP_SETGID and CAP_SETUID are in word 0 */
	if (syscall(SYS_capset, &h, d) != 0) {
		perror("capset");
		return 1;
	}
	gid_t none[1] = { 65534 };
	if (setgroups(1, none) != 0 || setresgid(65534, 65534, 65534) != 0) {
		perror("setgroups/setresgid");
		return 1;
	}
	printf("uid %d gid %d\n", (int)getuid(), (int)getgid());
	return 0;
}
