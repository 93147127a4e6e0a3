/*
 * cli.h - private interfaces of the cprof command (src/cli).
 *
 * The command speaks pprof's flags: the report options and formats are
 * the report layer's tables (cprof_options.h), the command's own flags a
 * table in flags.c.  Errors in the command follow git's die/usage
 * convention: one line "cprof: ..." on stderr and exit status 2.
 */
#ifndef CPROF_CLI_H
#define CPROF_CLI_H

#include "cprof_core.h"
#include "cprof_util.h"
#include "cprof_report.h"
#include "cprof_options.h"

#include <stdint.h>

#define CLI_MAX_SOURCES 1024
#define CLI_MAX_OPTIONS 64      /* rows of cprof_options a command line tracks */

/* Everything the command line says. */
typedef struct cli_opts {
	cprof_ropts r;              /* report options (pprof's config), -output too */
	const char *format_name;    /* the chosen output format flag, or NULL */
	const char *sources[CLI_MAX_SOURCES];
	size_t nsources;
	const char *bases[CLI_MAX_SOURCES];
	size_t nbases;
	bool diff_base;             /* bases came from -diff_base */
	bool normalize;             /* r.normalize, for the loaders (sources.c) */
	const char *add_comment;
	const char *http;           /* -http: the web UI (webui.c) */
	bool no_browser;
	const char *symbolize, *buildid, *tools;
	const char *trace_pprof;    /* -trace_pprof=sync|syscall|sched|cpu: sources are traces */
	const char *trace_convert;  /* -trace_convert=perfetto: convert the trace (sources.c) */
	int seconds, timeout;
	bool help, version;
	/* legacy sample-index aliases */
	bool inuse_space, inuse_objects, alloc_space, alloc_objects;
	bool total_delay, contentions, mean_delay;
	/* the choices set by flags (-lines, -cum, -granularity=NAME): bit k of
	 * chosen[i] is choice k of cprof_options[i]; at most one per option */
	uint32_t chosen[CLI_MAX_OPTIONS];
	char *peek_re;              /* the regexp of -peek/-list/-disasm (points into argv) */
} cli_opts;

/* Parse argv into o (after cli_opts_init).  Returns 0, or prints one line
 * and returns 2. */
void cli_opts_init(cli_opts *o);
int cli_parse(cli_opts *o, int argc, char **argv);
void cli_usage(FILE *f);

/* die: print "cprof: <msg>" and exit 2. */
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sources.c: load, merge and subtract the sources as pprof's fetchProfiles;
 * returns the profile to report on. */
cprof_profile *cli_load(const cli_opts *o);
/* -trace_convert=FORMAT: the one source (a trace) converted into -output;
 * the exit status. */
int cli_trace_convert(const cli_opts *o);
/* The same, and each side alone for the web UI's diff flame graph (the
 * sources without the bases, the bases as sources; *pbase NULL without
 * bases), every file read once. */
void cli_load_sides(const cli_opts *o, cprof_profile **p, cprof_profile **pnew,
		    cprof_profile **pbase);

/* fetch.c: URL sources (libcurl).  cli_is_url says whether a source names a
 * URL (pprof's rules: a scheme, or host:port/path); cli_fetch_profile
 * fetches (honouring -seconds/-timeout, with a progress line), saves a copy
 * as pprof does (PPROF_TMPDIR, default ~/pprof) printing its path, and
 * decodes it; it dies with one line on failure.  cli_symbolize_remote asks
 * the profile's /debug/pprof/symbol for names of unsymbolized locations;
 * returns 0 or a negative CPROF_E* code. */
bool cli_is_url(const char *src);
/* The parsers behind the fetches, exposed for fuzz_fetch (no network):
 * pprof's adjustURL of a source (malloc'd; NULL when not a URL) with the
 * profile's duration and the fetch timeout in seconds; the /symbol URL of a
 * source (malloc'd, or NULL) (the answer is applied by the core's
 * cprof_apply_symbols).  Not thread-safe (they die with one line when out
 * of memory). */
char *cli_adjust_url(const char *src, int seconds, int timeout, int *duration_s, int *timeout_s);
char *cli_symbol_url(const char *src);
cprof_profile *cli_fetch_profile(const cli_opts *o, const char *url);
int cli_symbolize_remote(cprof_profile *p, const cli_opts *o, const char *url);

/* perf.c: perf.data sources (they start with "PERFILE2"), read through
 * `perf script`; both die with one line on failure.  cli_perf_load_fd runs
 * perf on a regular file open as fd (its standard input); cli_perf_load_stream spools a stream (a pipe,
 * a FIFO, stdin) whose first n bytes, head, were already read from fd into
 * an unlinked temporary file, bounded, and runs perf on that. */
#define CLI_PERF_MAGIC "PERFILE2"
cprof_profile *cli_perf_load_fd(const char *name, int fd);   /* a regular file */
cprof_profile *cli_perf_load_stream(const char *name, int fd, const void *head, size_t n);

/* symbolize.c: apply -symbolize=MODE (local with libdw, remote, none;
 * :force, :demangle=...) to the merged profile, as pprof's symbolizer. */
void cli_symbolize(cprof_profile *p, const cli_opts *o);

/* shell.c: the interactive shell on profile p (pprof's "(pprof) " prompt);
 * returns the exit status. */
int cli_shell(cli_opts *o, cprof_profile *p);

/* record.c: `cprof record [-o FILE] [--hz N] [--follow-fork] -- CMD ARGS...`
 * runs CMD under libcprof.so; argv[1] is "record".  Returns the exit status. */
int cli_record(int argc, char **argv);

#endif
