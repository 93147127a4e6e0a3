/*
 * api.c - the HTTP endpoint through include/cprof.h (linked with
 * libcprof.a), for tests/e2e/test_http.py.
 *
 *   api handle PATH [QUERY]   cprof_http_handle: the body on stdout,
 *                             "status N type T" on stderr
 *   api serve                 cprof_http_start on 127.0.0.1:0, print
 *                             "port N", wait for a line on stdin, stop,
 *                             print "stopped RC", start again ("port N"),
 *                             wait for a line, stop, exit
 */
#include "cprof.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int to_stdout(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

static int serve_once(void)
{
	cprof_http_options o = { .listen = "127.0.0.1:0" };
	int rc = cprof_http_start(&o);
	if (rc < 0) {
		fprintf(stderr, "start: %s\n", cprof_last_error());
		return 1;
	}
	if (cprof_http_start(&o) != CPROF_ERR_BUSY) {
		fprintf(stderr, "second start was not refused\n");
		return 1;
	}
	printf("port %d\n", cprof_http_port());
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	rc = cprof_http_stop();
	printf("stopped %d port %d\n", rc, cprof_http_port());
	fflush(stdout);
	return rc < 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "handle") == 0) {
		int status = 0;
		const char *ct = NULL;
		int rc = cprof_http_handle(argv[2], argc > 3 ? argv[3] : NULL, &status, &ct,
					   to_stdout, NULL);
		fflush(stdout);
		fprintf(stderr, "status %d type %s rc %d\n", status, ct ? ct : "(null)", rc);
		return rc < 0;
	}
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve_once() || serve_once();
	fprintf(stderr, "usage: api handle PATH [QUERY] | api serve\n");
	return 2;
}
