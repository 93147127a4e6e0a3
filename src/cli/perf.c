/*
 * perf.c - perf.data sources: a file that starts with "PERFILE2" (perf's
 * magic, the test pprof uses) is read by running `perf script` on it with a
 * fixed field list and parsing that text (cprof_perf_script_decode in the
 * core).  pprof instead runs perf_to_profile, which Debian does not ship;
 * perf itself (package linux-perf) is what perf users have.
 *
 * A perf.data that arrives on a stream (a pipe, a FIFO, /dev/stdin, a
 * process substitution) is spooled to a temporary file first -- perf needs
 * to seek -- made with mkstemp in $TMPDIR (or /tmp), unlinked at once so
 * nothing is left behind, and bounded by CPROF_MAX_INPUT; perf reads it as
 * its standard input (-i /dev/stdin, a regular file to perf).
 *
 * perf runs as a child with its output on a pipe read into memory, capped
 * at PERF_TEXT_MAX (one line when exceeded); its stderr goes to a temporary
 * file so that a failure can be reported in one line naming the file.
 * $CPROF_PERF overrides the perf executable.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PERF_TEXT_MAX ((size_t)2 << 30)


/* The first line of perf's stderr, for a message. */
static void first_line(FILE *f, char *buf, size_t n)
{
	buf[0] = 0;
	rewind(f);
	while (fgets(buf, (int)n, f)) {
		buf[strcspn(buf, "\n")] = 0;
		if (buf[0])
			return;
	}
	buf[0] = 0;
}

/* Run perf script on perf_path (its stdin is in_fd, or /dev/null when
 * in_fd < 0); messages name `path`. */
static cprof_profile *perf_run(const char *path, const char *perf_path, int in_fd)
{
	const char *perf = getenv("CPROF_PERF");
	if (!perf || !*perf)
		perf = "perf";
	FILE *errf = tmpfile();
	if (!errf)
		cli_die("%s: a temporary file for perf's messages: %s", path, strerror(errno));
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		cli_die("%s: pipe: %s", path, strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		cli_die("%s: fork: %s", path, strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(fileno(errf), 2);
		int devnull = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		execlp(perf, perf, "script", "-i", perf_path, "-F", "comm,pid,tid,period,event,ip,sym,dso",
		       "--no-demangle", "--no-inline", (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", perf, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool too_big = false;
	for (;;) {
		if (cap - len < 65536) {
			size_t nc = cap ? cap * 2 : 1 << 20;
			if (nc > PERF_TEXT_MAX + 65536)
				nc = PERF_TEXT_MAX + 65536;
			if (nc <= cap) {
				too_big = true;
				break;
			}
			char *nb = realloc(buf, nc);
			if (!nb)
				cli_die("%s: out of memory reading perf script's output", path);
			buf = nb;
			cap = nc;
		}
		ssize_t r = read(pfd[0], buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			cli_die("%s: reading perf script's output: %s", path, strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > PERF_TEXT_MAX) {
			too_big = true;
			break;
		}
	}
	close(pfd[0]);
	if (too_big)
		kill(pid, SIGTERM);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (too_big || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		free(buf);   /* nothing to decode: the command ends with the line below */
	if (too_big)
		cli_die("%s: perf script printed more than %zu MiB: too large", path, PERF_TEXT_MAX >> 20);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char msg[512];
		first_line(errf, msg, sizeof msg);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
			cli_die("%s: reading perf.data needs perf (Debian package linux-perf): %s", path,
				msg[0] ? msg : "not found");
		cli_die("%s: perf script failed: %s", path, msg[0] ? msg : "no message");
	}
	fclose(errf);
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	int rc = cprof_perf_script_decode(buf ? buf : "", len, &p, &err);
	free(buf);
	if (rc < 0)
		cli_die("%s: %s", path, err.code ? err.msg : cprof_strerror(rc));
	return p;
}

cprof_profile *cli_perf_load_fd(const char *name, int fd)
{
	return perf_run(name, "/dev/stdin", fd);
}

cprof_profile *cli_perf_load_stream(const char *name, int fd, const void *head, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/cprof-perf-XXXXXX", dir && *dir ? dir : "/tmp");
	int sp = mkstemp(tmpl);
	if (sp < 0)
		cli_die("%s: a temporary file for perf.data from a stream: %s", name, strerror(errno));
	unlink(tmpl);
	char *buf = malloc(1 << 20);
	if (!buf)
		cli_die("%s: out of memory", name);
	memcpy(buf, head, n);
	size_t have = n;
	uint64_t total = n;
	for (;;) {
		ssize_t r = read(fd, buf + have, (1 << 20) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			cli_die("%s: cannot read: %s", name, strerror(errno));
		have += (size_t)r;
		total += (uint64_t)r;
		if (total > CPROF_MAX_INPUT)
			cli_die("%s: input is larger than the limit of %zu bytes", name,
				(size_t)CPROF_MAX_INPUT);
		if (r == 0 || have == (1 << 20)) {
			for (size_t off = 0; off < have;) {
				ssize_t w = write(sp, buf + off, have - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0)
					cli_die("%s: spooling perf.data to a temporary file: %s", name,
						strerror(errno));
				off += (size_t)w;
			}
			have = 0;
		}
		if (r == 0)
			break;
	}
	free(buf);
	if (lseek(sp, 0, SEEK_SET) < 0)
		cli_die("%s: spooling perf.data: %s", name, strerror(errno));
	cprof_profile *p = perf_run(name, "/dev/stdin", sp);
	close(sp);
	return p;
}
