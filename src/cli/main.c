/*
 * main.c - the cprof command: pprof's command line for native profiles.
 *
 *   cprof <format> [options] [binary] <source> ...
 *
 * Parses pprof's flags (flags.c), loads and combines the sources
 * (sources.c, fetch.c for URLs, symbolize.c), then runs one report
 * (src/report) to stdout or -output -- or, with no report flag, the
 * interactive shell (shell.c).  Every failure is one line "cprof: ..." on stderr and exit
 * status 2, as pprof exits.
 */
#include "cli.h"
#include "webui.h"   /* issue 8: -http */
#include "cprof_server.h"   /* `cprof server` (src/server) */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line on stderr: prefix, the formatted message with every byte that
 * does not print escaped (cprof_escape: messages quote file names, flags and
 * bytes of the input), and a newline. */
static void vline(const char *prefix, const char *fmt, va_list ap)
{
	char raw[2048], esc[4 * sizeof raw];
	int k = vsnprintf(raw, sizeof raw, fmt, ap);
	size_t n = k < 0 ? 0 : (size_t)k < sizeof raw ? (size_t)k : sizeof raw - 1;
	cprof_escape(esc, sizeof esc, raw, n);
	fprintf(stderr, "%s%s\n", prefix, esc);
}

void cli_die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	va_start(ap, fmt);
	vline("cprof: ", fmt, ap);
	va_end(ap);
	exit(2);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "record") == 0)
		return cli_record(argc, argv);
	if (argc > 1 && strcmp(argv[1], "server") == 0)
		return cprof_server_main(argc, argv);
	static cli_opts o;
	cli_opts_init(&o);
	cli_parse(&o, argc, argv);
	if (o.help) {
		cli_usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("cprof %s\n", CPROF_VERSION);
		return 0;
	}
	if (o.nsources == 0)
		cli_die("no profile source specified (see 'cprof --help')");
	if (o.trace_convert)
		return cli_trace_convert(&o);
	if (o.http)
		return cli_webui(&o);   /* issue 8: the web UI (webui.c) */

	cprof_profile *p = cli_load(&o);
	if (!o.format_name) {
		int st = cli_shell(&o, p);
		cprof_profile_free(p);
		return st;
	}

	/* A binary format to a terminal goes to a temporary file instead, as
	 * pprof does. */
	char tmpname[64];
	if ((!o.r.output || !*o.r.output) && cprof_format_is_binary(o.r.format) && isatty(1)) {
		snprintf(tmpname, sizeof tmpname, "/tmp/cprof%ld.%s", (long)getpid(), o.format_name);
		o.r.output = tmpname;
	}
	FILE *out = stdout;
	if (o.r.output && *o.r.output) {
		fprintf(stderr, "Generating report in %s\n", o.r.output);
		out = fopen(o.r.output, "w");
		if (!out)
			cli_die("%s: %s", o.r.output, strerror(errno));
	}
	cprof_error err = { 0 };
	int rc = cprof_report(p, &o.r, out, stderr, &err);
	if (rc < 0)
		cli_die("%s", err.code ? err.msg : cprof_strerror(rc));
	if (fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0))
		cli_die("writing %s: %s", out == stdout ? "standard output" : o.r.output, strerror(errno));
	cprof_profile_free(p);
	return 0;
}
