/*
 * sym_helper.c - cprof-symbolize, the runtime's symbolizer process:
 * `cprof-symbolize [--answer=FD] FILE [NAME]` names the addresses of the profile in FILE (an
 * unsymbolized profile.proto the runtime has just written: addresses and
 * mappings with build IDs, inside a gzip stream of stored blocks) with
 * the core's symbolizer (libdw: functions, files, lines, inline frames),
 * demangles C++ names, compresses it, and puts it in place of FILE.
 *
 * Why a process: symbolizing needs libdw, which brings libdebuginfod,
 * libcurl, GnuTLS and some thirty more libraries, and inflating a debug
 * file's compressed DWARF (Debian's libc6-dbg) is tens of milliseconds.
 * Done in the profiled program at its exit, all of it was mapped,
 * relocated and initialised in the program (their constructors ran in
 * it) and its time was the program's.  The runtime (plugin_load.c,
 * rt_sym_helper_run) starts this program on the file it wrote, before
 * renaming that file into place, while the profiled process still lives
 * (its binaries are where its mappings say), waits for it with a bound,
 * and goes on with the file as it is then: symbolized, or (helper
 * missing, killed, too slow) unsymbolized, which `cprof` and pprof name
 * when reading.
 *
 * The replacement is atomic: the result is written to FILE.sym.PID and
 * renamed over FILE, so FILE is always one whole profile; on any error
 * FILE is left as it was and the temporary removed.  Exit status: 0 when
 * FILE was symbolized (or had nothing to name), 2 with one line on stderr
 * otherwise ("cprof: the profile NAME is written without symbols (cprof
 * names them when reading): WHY"; NAME, the file FILE will become, is
 * FILE when not given).
 *
 * With --answer=FD (the runtime's status pipe) it also writes one byte
 * there before it exits, 'y' or 'n'; the runtime waits for that byte.
 *
 * The runtime starts it with every signal blocked (it must not run the
 * program's handlers between its clone and the exec): main unblocks them
 * and sets the catchable ones to their default first.  Single-threaded.
 */
#include "cprof_core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static const char *shown;   /* the name in messages */

/* The runtime's status pipe (sym_spawn.c), when it started us: one byte,
 * 'y' symbolized, 'n' not (and this process said why). */
static int answer_fd = -1;   /* --answer=FD */

static void answer(char c)
{
	if (answer_fd >= 0) {
		ssize_t w = write(answer_fd, &c, 1);
		(void)w;
	}
}

static int fail(const char *why)
{
	answer('n');
	fprintf(stderr, "cprof: the profile %s is written without symbols (cprof names them when "
		"reading): %s\n", shown, why);
	return 2;
}

/* Write all of buf to fd; false on error (errno set). */
static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (argc > 1 && strncmp(argv[1], "--answer=", 9) == 0) {
		char *end;
		long fd = strtol(argv[1] + 9, &end, 10);
		if (*end || fd < 0 || fd > 1023) {
			fprintf(stderr, "cprof-symbolize: %s: not a descriptor\n", argv[1]);
			return 2;
		}
		answer_fd = (int)fd;
		argv++;
		argc--;
	}
	if (argc < 2 || argc > 3 || !argv[1][0]) {
		fprintf(stderr, "usage: cprof-symbolize [--answer=FD] FILE [NAME]\n");
		return 2;
	}
	const char *file = argv[1];
	shown = argc == 3 && argv[2][0] ? argv[2] : file;
	cprof_error err = { 0 };
	cprof_profile *p = NULL;
	if (cprof_decode_file(file, &p, &err) < 0)
		return fail(err.msg[0] ? err.msg : "cannot read the profile");
	cprof_symopts so = { 0 };
	so.warn = quiet;
	cprof_symbolizer *s = cprof_symbolizer_new();
	if (!s || cprof_symbolizer_run(s, p, &so, &err) < 0 ||
	    cprof_demangle_profile(p, CPROF_DEMANGLE_DEFAULT, false) < 0) {
		cprof_symbolizer_free(s);
		cprof_profile_free(p);
		return fail(err.msg[0] ? err.msg : "out of memory");
	}
	cprof_symbolizer_free(s);
	void *buf = NULL;
	size_t len = 0;
	int rc = cprof_pb_encode(p, true, &buf, &len, &err);
	cprof_profile_free(p);
	if (rc < 0)
		return fail(err.msg[0] ? err.msg : "cannot encode the profile");
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.sym.%ld", file, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		free(buf);
		return fail("path too long");
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		free(buf);
		return fail(strerror(errno));
	}
	int wr = write_all(fd, buf, len);
	int e = errno;
	free(buf);
	if (close(fd) != 0 && wr == 0) {
		wr = -1;
		e = errno;
	}
	if (wr != 0 || rename(tmp, file) != 0) {
		if (wr == 0)
			e = errno;
		unlink(tmp);
		return fail(strerror(e));
	}
	answer('y');
	return 0;
}
