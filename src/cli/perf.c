/*
 * perf.c - perf.data sources: a file that starts with "PERFILE2" (perf's
 * magic, the test pprof uses) is read by running `perf script` on it with a
 * fixed field list and parsing that text (cprof_perf_script_decode in the
 * core).  pprof instead runs perf_to_profile, which Debian does not ship;
 * perf itself (package linux-perf) is what perf users have.
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

bool cli_is_perf_data(const char *path)
{
	if (strcmp(path, "-") == 0)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char m[8];
	ssize_t n = read(fd, m, sizeof m);
	close(fd);
	return n == 8 && memcmp(m, "PERFILE2", 8) == 0;
}

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

cprof_profile *cli_perf_load(const char *path)
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
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		execlp(perf, perf, "script", "-i", path, "-F", "comm,pid,tid,period,event,ip,sym,dso",
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
