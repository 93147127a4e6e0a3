/*
 * test_rt_trace_fds.c - the trace's knowledge of non-blocking descriptors
 * (trace_fds.c) at its own interface: a non-blocking pipe is known after
 * RT_NBFD_LEARN short calls and not before; a blocking pipe, and a
 * regular file even in O_NONBLOCK mode, never; every way the program can
 * change what a number is or its mode (close, close_range, closefrom,
 * dup2, dup3, fcntl and fcntl64 F_SETFL, ioctl FIONBIO), called here
 * through the interposed functions this test links, forgets it; what was
 * learnt lasts one epoch; without the trace's thread nothing is learnt;
 * errno is the caller's.  (The waits that stale knowledge would hide are
 * checked against a real program by tests/e2e/test_trace.py's nbflip.)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace_int.h"

/* fd's RT_NBFD_LEARN short calls, as the hooks count them */
static void learn(int fd, bool sock)
{
	for (int i = 0; i < RT_NBFD_LEARN; i++)
		rt_trace_fd_short(fd, sock);
}

/* a non-blocking pipe's read end, known as such */
static int known_pipe(int *wr)
{
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	learn(p[0], false);
	assert_true(rt_trace_fd_nonblocking(p[0]));
	*wr = p[1];
	return p[0];
}

static int setup(void **st)
{
	(void)st;
	rt_trace_fds_session(true);
	return 0;
}

static void test_learnt_after_the_short_calls(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	for (int i = 0; i < RT_NBFD_LEARN - 1; i++) {
		rt_trace_fd_short(p[0], false);
		assert_false(rt_trace_fd_nonblocking(p[0]));
	}
	rt_trace_fd_short(p[0], false);
	assert_true(rt_trace_fd_nonblocking(p[0]));
	/* a socket's call asks fcntl alone */
	int s[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
	learn(s[0], true);
	assert_true(rt_trace_fd_nonblocking(s[0]));
	assert_false(rt_trace_fd_nonblocking(s[1]));   /* never called */
	close(p[0]);
	close(p[1]);
	close(s[0]);
	close(s[1]);
}

/* a long call asks at once and keeps the answer: the next long call on
 * the number is answered from the table (the descriptor closed behind
 * the interposed close's back would answer "blocking" if asked) */
static void test_a_long_call_learns_at_once(void **st)
{
	(void)st;
	int p[2], b[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(pipe(b), 0);
	assert_true(rt_trace_fd_long_cannot_block(p[0], 0, false));
	assert_true(rt_trace_fd_nonblocking(p[0]));
	assert_false(rt_trace_fd_long_cannot_block(b[0], 0, false));
	assert_false(rt_trace_fd_nonblocking(b[0]));
	assert_true(rt_trace_fd_long_cannot_block(-1, MSG_DONTWAIT, true));
	assert_false(rt_trace_fd_long_cannot_block(-1, 0, false));
	syscall(SYS_close, p[0]);
	assert_true(rt_trace_fd_long_cannot_block(p[0], 0, false));
	rt_trace_fd_forget(p[0]);
	assert_false(rt_trace_fd_long_cannot_block(p[0], 0, false));   /* asked: EBADF */
	close(p[1]);
	close(b[0]);
	close(b[1]);
}

static void test_blocking_ones_never(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe(p), 0);
	learn(p[0], false);
	learn(p[0], false);
	assert_false(rt_trace_fd_nonblocking(p[0]));
	/* a regular file's read sleeps on the disk whatever its flags */
	char path[] = "/tmp/cprof-nbfd-XXXXXX";
	int f = mkstemp(path);
	assert_true(f >= 0);
	unlink(path);
	int nb = open("/proc/self/exe", O_RDONLY | O_NONBLOCK);
	assert_true(nb >= 0);
	assert_int_equal(fcntl(f, F_SETFL, O_NONBLOCK), 0);
	learn(f, false);
	learn(nb, false);
	assert_false(rt_trace_fd_nonblocking(f));
	assert_false(rt_trace_fd_nonblocking(nb));
	/* numbers the table does not hold: always timed, nothing written */
	rt_trace_fd_short(RT_NBFD_MAX, false);
	rt_trace_fd_short(-1, false);
	assert_false(rt_trace_fd_nonblocking(RT_NBFD_MAX));
	assert_false(rt_trace_fd_nonblocking(-1));
	close(p[0]);
	close(p[1]);
	close(f);
	close(nb);
}

static int vfcntl(int use64, int fd, int cmd, long arg)
{
	return use64 ? fcntl64(fd, cmd, arg) : fcntl(fd, cmd, arg);
}

static void test_each_change_forgets(void **st)
{
	(void)st;
	int wr, fd;
	/* the mode: fcntl and fcntl64 F_SETFL, ioctl FIONBIO */
	for (int use64 = 0; use64 < 2; use64++) {
		fd = known_pipe(&wr);
		int fl = vfcntl(use64, fd, F_GETFL, 0);
		assert_true(rt_trace_fd_nonblocking(fd));   /* asking changes nothing */
		assert_int_equal(vfcntl(use64, fd, F_SETFL, fl & ~O_NONBLOCK), 0);
		assert_false(rt_trace_fd_nonblocking(fd));
		learn(fd, false);
		assert_false(rt_trace_fd_nonblocking(fd));   /* blocking now, learnt so */
		close(fd);
		close(wr);
	}
	fd = known_pipe(&wr);
	int off = 0;
	assert_int_equal(ioctl(fd, FIONBIO, &off), 0);
	assert_false(rt_trace_fd_nonblocking(fd));
	close(wr);
	close(fd);
	/* the number: dup2, dup3 onto it, close, close_range, closefrom */
	int b[2];
	assert_int_equal(pipe(b), 0);
	fd = known_pipe(&wr);
	assert_int_equal(dup2(b[0], fd), fd);
	assert_false(rt_trace_fd_nonblocking(fd));
	close(fd);
	close(wr);
	fd = known_pipe(&wr);
	assert_int_equal(dup3(b[0], fd, O_CLOEXEC), fd);
	assert_false(rt_trace_fd_nonblocking(fd));
	close(wr);
	close(fd);
	fd = known_pipe(&wr);
	assert_int_equal(close(fd), 0);
	assert_false(rt_trace_fd_nonblocking(fd));
	close(wr);
	fd = known_pipe(&wr);
	int fd2, wr2;
	fd2 = known_pipe(&wr2);
	int lo = fd < fd2 ? fd : fd2, hi = fd < fd2 ? fd2 : fd;
	assert_int_equal(close_range((unsigned)lo, (unsigned)hi, CLOSE_RANGE_CLOEXEC), 0);
	assert_false(rt_trace_fd_nonblocking(fd));
	assert_false(rt_trace_fd_nonblocking(fd2));
	learn(fd, false);
	learn(fd2, false);
	assert_true(rt_trace_fd_nonblocking(fd));
	close(wr);
	if (wr2 < hi)
		close(wr2);
	closefrom(hi);   /* hi and every number above: this test's own */
	assert_true(rt_trace_fd_nonblocking(lo));
	assert_false(rt_trace_fd_nonblocking(hi));
	close(lo);
	close(b[0]);
	close(b[1]);
	/* a number nobody learnt, and numbers the table does not hold */
	errno = 0;
	assert_int_equal(close(-1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(close(RT_NBFD_MAX + 5), -1);
	assert_int_equal(errno, EBADF);
}

static void test_learnt_for_one_epoch(void **st)
{
	(void)st;
	int wr, fd = known_pipe(&wr);
	int64_t t = 1000000000;
	rt_trace_fds_tick(t);
	rt_trace_fds_tick(t + (int64_t)RT_NBFD_EPOCH_MS * 1000000 - 1);
	assert_true(rt_trace_fd_nonblocking(fd));
	rt_trace_fds_tick(t + (int64_t)RT_NBFD_EPOCH_MS * 1000000);
	assert_false(rt_trace_fd_nonblocking(fd));
	learn(fd, false);
	assert_true(rt_trace_fd_nonblocking(fd));
	/* a new session forgets, and without the trace's thread nothing is
	 * learnt (nothing would ever age) */
	rt_trace_fds_session(false);
	assert_false(rt_trace_fd_nonblocking(fd));
	learn(fd, false);
	assert_false(rt_trace_fd_nonblocking(fd));
	rt_trace_fds_tick(t + 100LL * RT_NBFD_EPOCH_MS * 1000000);
	learn(fd, false);
	assert_false(rt_trace_fd_nonblocking(fd));
	rt_trace_fds_session(true);
	learn(fd, false);
	assert_true(rt_trace_fd_nonblocking(fd));
	close(fd);
	close(wr);
}

static void test_errno_is_the_callers(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	close(p[0]);   /* asking about it fails: EBADF, not the caller's */
	errno = 1234;
	learn(p[0], false);
	assert_int_equal(errno, 1234);
	assert_false(rt_trace_fd_nonblocking(p[0]));
	errno = 4321;
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(errno, 4321);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_learnt_after_the_short_calls, setup),
		cmocka_unit_test_setup(test_a_long_call_learns_at_once, setup),
		cmocka_unit_test_setup(test_blocking_ones_never, setup),
		cmocka_unit_test_setup(test_each_change_forgets, setup),
		cmocka_unit_test_setup(test_learnt_for_one_epoch, setup),
		cmocka_unit_test_setup(test_errno_is_the_callers, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
