/*
 * shell.c - the interactive shell: pprof's "(pprof) " prompt over a loaded
 * profile.
 *
 * The shell keeps one configuration (shcfg: report options whose strings
 * it owns) that starts from the command line's flags and is changed by
 * assignments "name=value" (or a bare boolean name, or one of a choice
 * group's names such as "cum" or "lines"); it persists until the shell
 * ends.  The variables, their help and their completion are the rows of
 * the report layer's option table (cprof_options) the shell accepts, and
 * the commands the rows of cprof_commands.  A report command ("top10 -cum foo
 * -bar >out.txt") works on a copy of that configuration: a number sets the
 * node count, -cum the sort, ">file" the output, "-RE" is OR-ed into ignore
 * and any other word into focus (tagfocus/tagignore for "tags").  Each
 * command runs cprof_report on a fresh copy of the profile
 * (cprof_profile_dup), because reports filter and aggregate in place, and
 * writes the report to a memory buffer first: only a report that succeeded
 * creates its output file, as pprof does.
 *
 * Input comes from libedit (history in ~/.cprof_history, bounded; tab
 * completion of commands, options, option values and function names) when
 * standard input is a terminal; otherwise lines are read plainly and the
 * shell prints what pprof prints for the same input: the prompt and the
 * reports on stdout, the greeting, messages and errors on stderr.  Lines are
 * bounded (SH_MAX_LINE) so a hostile pipe cannot make memory grow.
 *
 * Messages mirror pprof's interactive.go, commands.go and config.go so that
 * scripts written for pprof's shell work unchanged; a few commands exist only
 * here (folded, flamegraph, flamesvg).
 *
 * fuzz/fuzz_shell.c compiles this file with CPROF_SHELL_FUZZ: then no file
 * is created, no program started, and messages go to SH_ERR (a sink).
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <editline/readline.h>

extern char **environ;

/* Where greetings, messages and errors go (the fuzz target sinks them). */
#ifndef SH_ERR
#define SH_ERR stderr
#endif

#define SH_MAX_LINE (1 << 20)   /* longest input line accepted */
#define SH_MAX_TOKENS 4096      /* most words on one line */
#define SH_HISTORY 1000         /* history entries kept */
#define NELEM(a) (sizeof(a) / sizeof(*(a)))

/* ---- the configuration ---------------------------------------------------- */

/* pprof's config: the report options (the rows of cprof_options the shell
 * accepts), every string owned (malloc'd, never NULL; "" is unset). */
typedef cprof_ropts shcfg;
typedef cprof_option cfield;

static void *field_ptr(shcfg *c, const cfield *f)
{
	return cprof_option_field(c, f);
}

/* The field a name sets: a field's own name, or one of its choices
 * (*choice; NULL for the field's own name). */
static const cfield *find_field(const char *name, const cprof_optchoice **choice)
{
	*choice = NULL;
	const cfield *f = cprof_option_find(name);
	if (!f)
		f = cprof_option_find_choice(name, choice);
	return f && (f->where & CPROF_OPT_SHELL) ? f : NULL;
}

#define FOR_FIELDS(f) \
	for (const cfield *f = cprof_options; f < cprof_options + cprof_noptions; f++) \
		if (f->where & CPROF_OPT_SHELL)

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		cli_die("out of memory");
	return d;
}

static void set_str(const char **dst, const char *v)
{
	char *n = xstrdup(v);
	free((char *)*dst);
	*dst = n;
}

/* Go's fmt.Sprint of a float64: the shortest representation that reads
 * back, in %e form only for exponents below -4 or from 21 on. */
static void go_float(char *buf, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(buf, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	int prec;
	char tmp[64];
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
	int exp = atoi(strchr(tmp, 'e') + 1);
	if (v == 0)
		exp = 0;
	if (exp < -4 || exp >= 21) {
		/* Go drops trailing zeros of the mantissa and keeps 2 exponent digits */
		snprintf(buf, n, "%s", tmp);
		return;
	}
	int decimals = prec - 1 - exp;
	snprintf(buf, n, "%.*f", decimals > 0 ? decimals : 0, v);
}

static void field_value(shcfg *c, const cfield *f, char *buf, size_t n)
{
	void *p = field_ptr(c, f);
	switch (f->type) {
	case CPROF_OT_BOOL: snprintf(buf, n, "%s", *(bool *)p ? "true" : "false"); break;
	case CPROF_OT_INT: snprintf(buf, n, "%d", *(int *)p); break;
	case CPROF_OT_FLOAT: go_float(buf, n, *(double *)p); break;
	case CPROF_OT_STRING: snprintf(buf, n, "%s", *(char **)p); break;
	case CPROF_OT_CHOICE:
	case CPROF_OT_CHOICE_BOOL: snprintf(buf, n, "%s", cprof_option_choice_of(c, f)->name); break;
	}
}

/* pprof's stringToBool. */
static int string_to_bool(const char *s, bool *out)
{
	static const char *const t[] = { "true", "t", "yes", "y", "1", "" };
	static const char *const f[] = { "false", "f", "no", "n", "0" };
	for (size_t i = 0; i < NELEM(t); i++)
		if (strcasecmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
	for (size_t i = 0; i < NELEM(f); i++)
		if (strcasecmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	return -1;
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < NELEM(t); i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Go's strconv.ParseInt(s, 10, bits): optional sign, decimal digits. */
static int parse_int(const char *s, long long lo, long long hi, long long *out, bool *range)
{
	const char *d = s + (*s == '+' || *s == '-');
	*range = false;
	if (!*d)
		return -1;
	for (const char *q = d; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno || v < lo || v > hi) {
		*range = true;
		return -1;
	}
	*out = v;
	return 0;
}

/* Set field f from text; on failure print pprof's message and return -1. */
static int field_set(shcfg *c, const cfield *f, const char *v, char *msg, size_t n)
{
	void *p = field_ptr(c, f);
	switch (f->type) {
	case CPROF_OT_BOOL:
		if (string_to_bool(v, (bool *)p) < 0) {
			snprintf(msg, n, "illegal value \"%s\" for bool variable", v);
			return -1;
		}
		return 0;
	case CPROF_OT_INT: {
		long long x;
		bool range;
		if (parse_int(v, INT_MIN, INT_MAX, &x, &range) < 0) {
			snprintf(msg, n, "strconv.Atoi: parsing \"%s\": %s", v,
				 range ? "value out of range" : "invalid syntax");
			return -1;
		}
		*(int *)p = (int)x;
		return 0;
	}
	case CPROF_OT_FLOAT: {
		char *end;
		errno = 0;
		double x = *v && !isspace((unsigned char)*v) ? strtod(v, &end) : 0;
		if (!*v || isspace((unsigned char)*v) || *end || (errno == ERANGE && isinf(x))) {
			snprintf(msg, n, "strconv.ParseFloat: parsing \"%s\": %s", v,
				 *v && errno == ERANGE ? "value out of range" : "invalid syntax");
			return -1;
		}
		*(double *)p = x;
		return 0;
	}
	case CPROF_OT_CHOICE:
	case CPROF_OT_CHOICE_BOOL:
		for (const cprof_optchoice *ch = f->choices; ch->name; ch++)
			if (strcmp(ch->name, v) == 0) {
				cprof_option_set_choice(c, f, ch);
				return 0;
			}
		snprintf(msg, n, "invalid \"%s\" value \"%s\"", f->name, v);
		return -1;
	case CPROF_OT_STRING:
		set_str((const char **)p, v);
		return 0;
	}
	return 0;
}

static void cfg_copy(shcfg *dst, const shcfg *src)
{
	*dst = *src;
	FOR_FIELDS(f)
		if (f->type == CPROF_OT_STRING) {
			char **d = field_ptr(dst, f);
			*d = xstrdup(*d);
		}
}

static void cfg_free(shcfg *c)
{
	FOR_FIELDS(f)
		if (f->type == CPROF_OT_STRING) {
			char **d = field_ptr(c, f);
			free(*d);
			*d = NULL;
		}
}

/* The command line's flags as the shell's starting configuration. */
static void cfg_from_opts(shcfg *c, const cli_opts *o)
{
	cfg_copy(c, &o->r);
	if (!*c->unit)
		set_str(&c->unit, "minimum");
}

/* The report options a configuration stands for (strings borrowed). */
static void cfg_ropts(const shcfg *c, cprof_ropts *r)
{
	*r = *c;
	FOR_FIELDS(f)
		if (f->type == CPROF_OT_STRING) {
			const char **d = cprof_option_field(r, f);
			if (!**d)
				*d = NULL;
		}
	if (!r->unit)
		r->unit = "minimum";
}

/* ---- commands ------------------------------------------------------------- */

/* The commands are the report layer's table (cprof_commands), those the
 * shell accepts. */
static const cprof_command *find_command(const char *name)
{
	return cprof_command_find(name, CPROF_OPT_SHELL);
}

#define FOR_COMMANDS(c) \
	for (const cprof_command *c = cprof_commands; c < cprof_commands + cprof_ncommands; c++) \
		if (c->where & CPROF_OPT_SHELL)

/* ---- the shell's state and output ---------------------------------------- */

typedef struct shell {
	cli_opts *o;
	cprof_profile *p;
	shcfg cfg;
	bool tty;               /* libedit is reading a terminal */
	bool color;             /* errors in red (terminal only, as pprof) */
	pid_t viewers[64];      /* background viewers to reap */
	size_t nviewers;
} shell;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	va_start(ap, fmt);
	vfprintf(SH_ERR, fmt, ap);
	va_end(ap);
}

static shell *g_sh;     /* for the completion callbacks, which take no context */

static void err_line(const char *msg)
{
	fflush(stdout);
	if (g_sh && g_sh->color)
		fprintf(SH_ERR, "\033[0;31m%s\n\033[0m", msg);
	else
		fprintf(SH_ERR, "%s\n", msg);
}

/* ---- sample types --------------------------------------------------------- */

/* pprof's SampleIndexByName (the core's cprof_sample_index); -1 with a
 * message. */
static int sample_index_by_name(const cprof_profile *p, const char *si, char *msg, size_t n)
{
	cprof_error err = { 0 };
	int vi = cprof_sample_index(p, si, &err);
	if (vi < 0)
		snprintf(msg, n, "%s", err.msg);
	return vi < 0 ? -1 : vi;
}

/* ---- greeting, options, help ---------------------------------------------- */

/* The profile's labels (File, Type, Time, Duration...) as a report's header
 * prints them, then pprof's hint when the chosen value sums to zero. */
static void greetings(shell *sh)
{
	cprof_ropts r;
	cfg_ropts(&sh->cfg, &r);
	/* traces print the labels with the total scaled on its own (pprof's
	 * greeting does no unit selection); a focus that cannot match leaves
	 * no traces to print and no work after the filter */
	r.format = CPROF_FMT_TRACES;
	r.compact_labels = false;
	r.ignore = r.hide = r.show = r.show_from = r.prune_from = NULL;
	r.tagfocus = r.tagignore = r.tagshow = r.taghide = r.tagroot = r.tagleaf = NULL;
	r.focus = "x\\Ay";
	r.relative_percentages = false;
	char msg[512];
	int vi = sh->p->vtypes.n ? sample_index_by_name(sh->p, sh->cfg.sample_index, msg, sizeof msg) : -1;
	cprof_profile *q = vi >= 0 ? cprof_profile_dup(sh->p) : NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = q ? open_memstream(&buf, &len) : NULL;
	FILE *devnull = fopen("/dev/null", "w");
	cprof_error err = { 0 };
	if (mem && devnull && cprof_report(q, &r, mem, devnull, &err) == 0 && fflush(mem) == 0) {
		/* the labels end where the filters or the traces start */
		size_t end = 0;
		while (end < len && strncmp(buf + end, "Active filters:", 15) != 0 &&
		       strncmp(buf + end, "-----------+", 12) != 0) {
			const char *nl = memchr(buf + end, '\n', len - end);
			end = nl ? (size_t)(nl + 1 - buf) : len;
		}
		say("%.*s", (int)end, buf);
		int64_t total = 0, div = 0;
		for (size_t i = 0; i < sh->p->samples.n; i++) {
			const int64_t *v = cprof_sample_values(sh->p, i);
			int64_t x = v[vi] < 0 ? (int64_t)(0 - (uint64_t)v[vi]) : v[vi];
			total = (int64_t)((uint64_t)total + (uint64_t)x);
			div = (int64_t)((uint64_t)div + (uint64_t)v[0]);
		}
		if (sh->cfg.mean && div)
			total /= div;
		if (total == 0 && sh->p->vtypes.n > 1)
			say("No samples were found with the default sample value type.\n"
			    "Try \"sample_index\" command to analyze different sample values.\n");
	}
	if (mem)
		fclose(mem);
	if (devnull)
		fclose(devnull);
	free(buf);
	if (q)
		cprof_profile_free(q);
	say("Entering interactive mode (type \"help\" for commands, \"o\" for options)\n");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* pprof's printCurrentOptions: one sorted line per option. */
static void print_options(shell *sh)
{
	char **lines = calloc(cprof_noptions, sizeof *lines);
	if (!lines)
		cli_die("out of memory");
	size_t n = 0;
	FOR_FIELDS(f) {
		char v[256], comment[512] = "";
		field_value(&sh->cfg, f, v, sizeof v);
		if (f->choices) {
			const char *sorted[8];
			size_t k = 0;
			for (; f->choices[k].name && k < NELEM(sorted); k++)
				sorted[k] = f->choices[k].name;
			qsort(sorted, k, sizeof *sorted, cmp_str);
			size_t w = (size_t)snprintf(comment, sizeof comment, "//: [");
			for (size_t j = 0; j < k && w < sizeof comment; j++)
				w += (size_t)snprintf(comment + w, sizeof comment - w, "%s%s",
						      j ? " | " : "", sorted[j]);
			if (w < sizeof comment)
				snprintf(comment + w, sizeof comment - w, "]");
		} else if (strcmp(f->name, "sample_index") == 0) {
			const cprof_profile *p = sh->p;
			if (!*v && p->vtypes.n)
				snprintf(v, sizeof v, "%s", cprof_s(p, p->vtypes.v[p->vtypes.n - 1].type));
			size_t w = (size_t)snprintf(comment, sizeof comment, "//: [");
			for (size_t j = 0; j < p->vtypes.n && w < sizeof comment; j++)
				w += (size_t)snprintf(comment + w, sizeof comment - w, "%s%s",
						      j ? " | " : "", cprof_s(p, p->vtypes.v[j].type));
			if (w < sizeof comment)
				snprintf(comment + w, sizeof comment - w, "]");
		} else if (strcmp(f->name, "source_path") == 0) {
			continue;
		} else if (strcmp(f->name, "nodecount") == 0 && strcmp(v, "-1") == 0) {
			snprintf(comment, sizeof comment, "//: default");
		} else if (!*v) {
			snprintf(v, sizeof v, "\"\"");
		}
		if (asprintf(&lines[n], "  %-25s = %-20s %s", f->name, v, comment) < 0)
			cli_die("out of memory");
		n++;
	}
	qsort(lines, n, sizeof *lines, cmp_str);
	fflush(stdout);
	for (size_t i = 0; i < n; i++) {
		fprintf(SH_ERR, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
}

static const char *first_line(const char *s, char *buf, size_t n)
{
	size_t l = strcspn(s, "\n");
	snprintf(buf, n, "%.*s", (int)l, s);
	return buf;
}

/* The usage lines of a command, as pprof's reportHelp and listHelp. */
static void command_usage(const cprof_command *c, char *buf, size_t n)
{
	const char *nm = c->name;
	switch (c->usage) {
	case CPROF_USAGE_NONE:
		*buf = 0;
		break;
	case CPROF_USAGE_REPORT:
	case CPROF_USAGE_REPORT_CUM:
	case CPROF_USAGE_GRAPH:
	case CPROF_USAGE_VIEW: {
		bool cum = c->usage == CPROF_USAGE_REPORT_CUM, redirect = c->usage != CPROF_USAGE_VIEW;
		snprintf(buf, n, "%s [n] [focus_regex]* [-ignore_regex]*%s%s\n"
			 "Include up to n samples\n"
			 "Include samples matching focus_regex, and exclude ignore_regex.%s%s",
			 nm, cum ? " [-cum]" : "", redirect ? " >f" : "",
			 cum ? "\n-cum sorts the output by cumulative weight" : "",
			 redirect ? "\nOptionally save the report on the file f" : "");
		break;
	}
	case CPROF_USAGE_LIST:
	case CPROF_USAGE_LIST_REDIRECT: {
		bool redirect = c->usage == CPROF_USAGE_LIST_REDIRECT;
		snprintf(buf, n, "%s<func_regex|address> [-focus_regex]* [-ignore_regex]*%s\n"
			 "Include functions matching func_regex, or including the address specified.\n"
			 "Include samples matching focus_regex, and exclude ignore_regex.%s",
			 nm, redirect ? " >f" : "",
			 redirect ? "\nOptionally save the report on the file f" : "");
		break;
	}
	case CPROF_USAGE_TEXT:
		snprintf(buf, n, "%s", c->usage_text);
		break;
	}
}

static void help_all(void)
{
	char **lines = calloc(cprof_ncommands + cprof_noptions + 8, sizeof *lines);
	if (!lines)
		cli_die("out of memory");
	char one[256];
	size_t n = 0;
	fflush(stdout);
	fprintf(SH_ERR, "  Commands:\n");
	FOR_COMMANDS(c)
		if (asprintf(&lines[n++], "    %-16s %s", c->name, c->help) < 0)
			cli_die("out of memory");
	qsort(lines, n, sizeof *lines, cmp_str);
	for (size_t i = 0; i < n; i++) {
		fprintf(SH_ERR, "%s\n", lines[i]);
		free(lines[i]);
	}
	fprintf(SH_ERR, "    %-16s %s\n", "o/options", "List options and their current values");
	fprintf(SH_ERR, "    %-16s %s\n", "q/quit/exit/^D", "Exit pprof");
	fprintf(SH_ERR, "\n  Options:\n");
	n = 0;
	FOR_FIELDS(f)
		if (!f->choices &&
		    asprintf(&lines[n++], "    %-16s %s", f->name,
			     first_line(f->help, one, sizeof one)) < 0)
			cli_die("out of memory");
	qsort(lines, n, sizeof *lines, cmp_str);
	for (size_t i = 0; i < n; i++) {
		fprintf(SH_ERR, "%s\n", lines[i]);
		free(lines[i]);
	}
	fprintf(SH_ERR, "\n  Option groups (only set one per group):\n");
	n = 0;
	FOR_FIELDS(f) {
		if (!f->choices)
			continue;
		char *s = NULL;
		if (asprintf(&s, "    %-16s ", f->name) < 0)
			cli_die("out of memory");
		for (const cprof_optchoice *ch = f->choices; ch->name; ch++) {
			char *t = NULL;
			if (asprintf(&t, "%s\n      %-16s %s", s, ch->name,
				     first_line(ch->help, one, sizeof one)) < 0)
				cli_die("out of memory");
			free(s);
			s = t;
		}
		lines[n++] = s;
	}
	qsort(lines, n, sizeof *lines, cmp_str);
	for (size_t i = 0; i < n; i++) {
		fprintf(SH_ERR, "%s%s", i ? "\n" : "", lines[i]);
		free(lines[i]);
	}
	free(lines);
	fprintf(SH_ERR, "\n  :   Clear focus/ignore/hide/tagfocus/tagignore\n\n"
		"  type \"help <cmd|option>\" for more information\n");
}

static void command_help(const char *arg)
{
	if (!*arg) {
		help_all();
		return;
	}
	const cprof_command *c = find_command(arg);
	if (c) {
		char usage[1024];
		command_usage(c, usage, sizeof usage);
		say("%s\n", c->help);
		if (*usage) {
			say("  Usage:\n");
			for (char *l = usage, *nl; l; l = nl) {
				nl = strchr(l, '\n');
				if (nl)
					*nl++ = 0;
				say("    %s\n", l);
			}
		}
		say("\n");
		return;
	}
	const cprof_optchoice *choice;
	const cfield *f = find_field(arg, &choice);
	if (f && (choice || !f->choices)) {
		say("%s\n", choice ? choice->help : f->help);
		return;
	}
	char msg[600];
	snprintf(msg, sizeof msg, "Unknown command: %.500s", arg);
	err_line(msg);
}

/* ---- running a report command ---------------------------------------------- */

/* pprof's newTempFile: PREFIXnnnEXT created exclusively in dir. */
static FILE *temp_file(const char *dir, const char *prefix, const char *ext, char *path, size_t n)
{
	for (int i = 1; i < 10000; i++) {
		snprintf(path, n, "%s%s%s%03d.%s", dir, *dir ? "/" : "", prefix, i, ext);
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
		if (fd >= 0) {
			FILE *f = fdopen(fd, "w");
			if (!f)
				close(fd);
			return f;
		}
		if (errno != EEXIST)
			return NULL;
	}
	errno = EEXIST;
	return NULL;
}

static void reap_viewers(shell *sh)
{
	size_t k = 0;
	for (size_t i = 0; i < sh->nviewers; i++)
		if (waitpid(sh->viewers[i], NULL, WNOHANG) == 0)
			sh->viewers[k++] = sh->viewers[i];
	sh->nviewers = k;
}

/* Start the first viewer that runs on path, in the background. */
static int start_viewer(shell *sh, const cprof_command *c, const char *path)
{
	const char *list[8];
	size_t n = 0;
	if (*c->viewer) {
		list[n++] = c->viewer;
	} else {
		const char *b = getenv("BROWSER");
		if (b && *b)
			list[n++] = b;
		list[n++] = "chrome";
		list[n++] = "google-chrome";
		list[n++] = "chromium";
		list[n++] = "firefox";
		list[n++] = "sensible-browser";
		if (getenv("DISPLAY") && *getenv("DISPLAY"))
			list[n++] = "xdg-open";
	}
	int rc = -1;
	for (size_t i = 0; i < n && rc != 0; i++) {
		char cmd[1024], *argv[34];
		size_t argc = 0;
		snprintf(cmd, sizeof cmd, "%s", list[i]);
		for (char *tok = strtok(cmd, " "); tok && argc < NELEM(argv) - 2; tok = strtok(NULL, " "))
			argv[argc++] = tok;
		if (!argc)
			continue;
		argv[argc++] = (char *)path;
		argv[argc] = NULL;
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		pid_t pid;
		rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc == 0) {
			if (sh->nviewers < NELEM(sh->viewers))
				sh->viewers[sh->nviewers++] = pid;
			else
				waitpid(pid, NULL, 0);
		}
	}
	return rc == 0 ? 0 : -1;
}

/* Append a regexp to an alternation. */
static void cat_regex(char **acc, const char *re)
{
	if (!*acc || !**acc) {
		free(*acc);
		*acc = xstrdup(re);
		return;
	}
	if (!*re)
		return;
	char *s = NULL;
	if (asprintf(&s, "%s|%s", *acc, re) < 0)
		cli_die("out of memory");
	free(*acc);
	*acc = s;
}

static void run_report(shell *sh, const cprof_command *c, const char *param, shcfg *cfg)
{
#ifdef CPROF_SHELL_FUZZ
	/* fuzzing: nothing that starts a program (dot, objdump, viewers) */
	if (c->format == CPROF_FMT_SVG || c->format == CPROF_FMT_PNG || c->format == CPROF_FMT_PDF ||
	    c->format == CPROF_FMT_PS || c->format == CPROF_FMT_GIF || c->format == CPROF_FMT_DISASM ||
	    c->visual == CPROF_VIS_VIEW)
		return;
#endif
	cprof_ropts r;
	cfg_ropts(cfg, &r);
	r.format = c->format;
	r.symbol = param;
	char msg[700];
	cprof_profile *q = cprof_profile_dup(sh->p);
	if (!q) {
		err_line("out of memory");
		return;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem) {
		cprof_profile_free(q);
		err_line("out of memory");
		return;
	}
	fflush(stdout);
	cprof_error err = { 0 };
	int rc = cprof_report(q, &r, mem, SH_ERR, &err);
	cprof_profile_free(q);
	if (fclose(mem) != 0 && rc == 0) {
		rc = CPROF_ENOMEM;
		err.code = 0;
	}
	if (rc < 0) {
		err_line(err.code ? err.msg : cprof_strerror(rc));
		free(buf);
		return;
	}
	FILE *out = stdout;
	char path[PATH_MAX] = "";
#ifndef CPROF_SHELL_FUZZ      /* fuzzing: no file is ever created */
	if (*cfg->output) {
		say("Generating report in %s\n", cfg->output);
		snprintf(path, sizeof path, "%s", cfg->output);
		out = fopen(path, "w");
	} else if (c->visual == CPROF_VIS_AWAY) {
		out = temp_file("", "profile", c->ext, path, sizeof path);
		if (out)
			say("Generating report in %s\n", path);
		else
			snprintf(path, sizeof path, "profile001.%s", c->ext);
	} else if (c->visual == CPROF_VIS_VIEW) {
		const char *tmp = getenv("TMPDIR");
		out = temp_file(tmp && *tmp ? tmp : "/tmp", "pprof", c->ext, path, sizeof path);
		if (out)
			say("Generating report in %s\n", path);
		else
			snprintf(path, sizeof path, "%s/pprof001.%s", tmp && *tmp ? tmp : "/tmp", c->ext);
	}
#endif
	if (!out) {
		snprintf(msg, sizeof msg, "open %.600s: %s", path, strerror(errno));
		err_line(msg);
		free(buf);
		return;
	}
	size_t w = len ? fwrite(buf, 1, len, out) : 0;
	free(buf);
	if (w != len || fflush(out) != 0 || ferror(out)) {
		snprintf(msg, sizeof msg, "write %.600s: %s", out == stdout ? "standard output" : path,
			 strerror(errno));
		err_line(msg);
	}
	if (out != stdout)
		fclose(out);
	if (c->visual == CPROF_VIS_VIEW && !*cfg->output && start_viewer(sh, c, path) < 0) {
		snprintf(msg, sizeof msg, "could not start a viewer for %.600s%s", path,
			 *c->viewer ? "" : " (set $BROWSER)");
		err_line(msg);
	}
}

/* pprof's parseCommandLine and generateReport. */
static void run_command(shell *sh, char **tok, size_t ntok)
{
	char msg[700];
	char name[256];
	const char *digits = NULL;
	snprintf(name, sizeof name, "%s", tok[0]);
	const cprof_command *c = find_command(name);
	if (!c) {
		/* top10: the tail digits become the first argument */
		size_t l = strlen(tok[0]), d = l;
		while (d > 0 && isdigit((unsigned char)tok[0][d - 1]))
			d--;
		if (d > 0 && d < l && d < sizeof name) {
			name[d] = 0;
			digits = tok[0] + d;
			c = find_command(name);
		}
	}
	/* the arguments: the tail digits first, then the words */
	const char **args = malloc((ntok + 1) * sizeof *args);
	if (!args)
		cli_die("out of memory");
	size_t nargs = 0;
	if (digits)
		args[nargs++] = digits;
	for (size_t i = 1; i < ntok; i++)
		args[nargs++] = tok[i];
	if (!c) {
		const cprof_optchoice *choice;
		const cfield *f = find_field(name, &choice);
		if (f && (choice || !f->choices))
			snprintf(msg, sizeof msg, "did you mean: %.200s=%.400s", name,
				 nargs ? args[0] : "<val>");
		else
			snprintf(msg, sizeof msg, "unrecognized command: \"%.500s\"", name);
		err_line(msg);
		free(args);
		return;
	}
	size_t ai = 0;
	const char *param = NULL;
	if (c->param) {
		if (nargs == 0) {
			snprintf(msg, sizeof msg, "command %s requires an argument", c->name);
			err_line(msg);
			free(args);
			return;
		}
		param = args[ai++];
	}
	shcfg cfg;
	cfg_copy(&cfg, &sh->cfg);
	char *focus = NULL, *ignore = NULL;
	for (; ai < nargs; ai++) {
		const char *t = args[ai];
		long long v;
		bool range;
		if (parse_int(t, INT32_MIN, INT32_MAX, &v, &range) == 0) {
			cfg.nodecount = (int)v;
			continue;
		}
		if (t[0] == '>') {
			const char *f = t + 1;
			if (!*f) {
				if (++ai >= nargs) {
					err_line("unexpected end of line after >");
					goto out;
				}
				f = args[ai];
			}
			set_str(&cfg.output, f);
		} else if (t[0] == '-') {
			if (strcmp(t, "--cum") == 0 || strcmp(t, "-cum") == 0) {
				cfg.cum = true;
				continue;
			}
			cat_regex(&ignore, t + 1);
		} else {
			cat_regex(&focus, t);
		}
	}
	bool tags = strcmp(c->name, "tags") == 0;
	if (focus && *focus)
		set_str(tags ? &cfg.tagfocus : &cfg.focus, focus);
	if (ignore && *ignore)
		set_str(tags ? &cfg.tagignore : &cfg.ignore, ignore);
	if (cfg.nodecount == -1 && (strcmp(c->name, "text") == 0 || strcmp(c->name, "top") == 0))
		cfg.nodecount = 10;
	run_report(sh, c, param, &cfg);
out:
	free(focus);
	free(ignore);
	free(args);
	cfg_free(&cfg);
}

/* ---- one line of input ------------------------------------------------------ */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t l = strlen(s);
	while (l && isspace((unsigned char)s[l - 1]))
		s[--l] = 0;
	return s;
}

/* An assignment "name=value" (or a bare boolean): returns true when the
 * input named an option, whether or not setting it worked. */
static bool assignment(shell *sh, char *in)
{
	char *eq = strchr(in, '=');
	char *value = NULL;
	if (eq) {
		*eq = 0;
		value = eq + 1;
		char *cm = NULL;
		for (char *s = strstr(value, "//:"); s; s = strstr(s + 1, "//:"))
			cm = s;
		if (cm)
			*cm = 0;
		value = trim(value);
	}
	char *name = trim(in);
	const cprof_optchoice *choice;
	const cfield *f = find_field(name, &choice);
	if (!f) {
		if (eq)
			*eq = '=';
		return false;
	}
	char msg[700];
	if (!eq && !choice && f->type != CPROF_OT_BOOL) {
		snprintf(msg, sizeof msg, "please specify a value, e.g. %s=<val>", name);
		err_line(msg);
		return true;
	}
	if (!value)
		value = "";
	char canon[256];
	if (strcmp(name, "sample_index") == 0) {
		int vi = sample_index_by_name(sh->p, value, msg, sizeof msg);
		if (vi < 0) {
			err_line(msg);
			return true;
		}
		snprintf(canon, sizeof canon, "%s", cprof_s(sh->p, sh->p->vtypes.v[vi].type));
		value = canon;
	}
	if (choice) {
		bool b;
		if (parse_bool(value, &b) == 0 && b) {
			field_set(&sh->cfg, f, name, msg, sizeof msg);
		} else {
			snprintf(msg, sizeof msg, "unknown config field \"%.500s\"", name);
			err_line(msg);
		}
		return true;
	}
	if (field_set(&sh->cfg, f, value, msg, sizeof msg) < 0)
		err_line(msg);
	return true;
}

/* Returns false to leave the shell. */
static bool one_input(shell *sh, char *in)
{
	if (!assignment(sh, in)) {
		char *tok[SH_MAX_TOKENS];
		size_t n = 0;
		for (char *s = in; *s && n < SH_MAX_TOKENS;) {
			while (isspace((unsigned char)*s))
				s++;
			if (!*s)
				break;
			tok[n++] = s;
			while (*s && !isspace((unsigned char)*s))
				s++;
			if (*s)
				*s++ = 0;
		}
		if (n == 0)
			return true;
		if (strcmp(tok[0], "o") == 0 || strcmp(tok[0], "options") == 0) {
			print_options(sh);
		} else if (strcmp(tok[0], "exit") == 0 || strcmp(tok[0], "quit") == 0 ||
			   strcmp(tok[0], "q") == 0) {
			return false;
		} else if (strcmp(tok[0], "help") == 0) {
			char arg[1024] = "";
			size_t w = 0;
			for (size_t i = 1; i < n && w < sizeof arg; i++)
				w += (size_t)snprintf(arg + w, sizeof arg - w, "%s%s", i > 1 ? " " : "",
						      tok[i]);
			command_help(arg);
		} else {
			run_command(sh, tok, n);
		}
	}
	return true;
}

/* pprof's shortcuts: ":" clears the filters; a sample type's name selects
 * it, total_TYPE and mean_TYPE also set mean. */
static bool process_line(shell *sh, char *line)
{
	char *in = trim(line);
	reap_viewers(sh);
	if (strcmp(in, ":") == 0) {
		static const char *const clear[] = { "focus=", "ignore=", "hide=", "tagfocus=",
						     "tagignore=" };
		for (size_t i = 0; i < NELEM(clear); i++) {
			char b[16];
			snprintf(b, sizeof b, "%s", clear[i]);
			one_input(sh, b);
		}
		return true;
	}
	for (size_t i = 0; i < sh->p->vtypes.n; i++) {
		const char *t = cprof_s(sh->p, sh->p->vtypes.v[i].type);
		const char *mean = NULL;
		if (strcmp(in, t) == 0)
			mean = "";
		else if (strncmp(in, "total_", 6) == 0 && strcmp(in + 6, t) == 0)
			mean = "mean=0";
		else if (strncmp(in, "mean_", 5) == 0 && strcmp(in + 5, t) == 0)
			mean = "mean=1";
		if (!mean)
			continue;
		char b1[16], *b2 = NULL;
		if (*mean) {
			snprintf(b1, sizeof b1, "%s", mean);
			one_input(sh, b1);
		}
		if (asprintf(&b2, "sample_index=%s", t) < 0)
			cli_die("out of memory");
		one_input(sh, b2);
		free(b2);
		return true;
	}
	return one_input(sh, in);
}

/* ---- reading lines ---------------------------------------------------------- */

/* One line from a pipe, at most SH_MAX_LINE bytes (the rest is dropped).
 * Returns NULL at the end of input with nothing read: a last line without
 * its newline is still a line, and pprof prompts once more after it. */
static char *read_plain(char *buf, size_t n)
{
	size_t len = 0;
	int ch;
	bool any = false;
	while ((ch = getchar()) != EOF) {
		any = true;
		if (ch == '\n')
			break;
		if (len + 1 < n)
			buf[len++] = (char)ch;
	}
	buf[len] = 0;
	return any ? buf : NULL;
}

/* ---- completion (libedit) -------------------------------------------------- */

static char **cand;             /* the candidates of the current completion */
static size_t ncand, cand_cap, cand_next;
static const char *cand_prefix = ""; /* added back to each match ("-") */

static void cand_add(const char *s)
{
	if (ncand == cand_cap) {
		size_t nc = cand_cap ? cand_cap * 2 : 64;
		char **v = realloc(cand, nc * sizeof *v);
		if (!v)
			return;
		cand = v;
		cand_cap = nc;
	}
	cand[ncand++] = (char *)s;
}

static char *cand_gen(const char *text, int state)
{
	if (state == 0)
		cand_next = 0;
	size_t pl = strlen(cand_prefix);
	const char *t = strncmp(text, cand_prefix, pl) == 0 ? text + pl : text;
	while (cand_next < ncand) {
		const char *c = cand[cand_next++];
		if (strncmp(c, t, strlen(t)) == 0) {
			char *r = malloc(pl + strlen(c) + 1);
			if (r) {
				memcpy(r, cand_prefix, pl);
				strcpy(r + pl, c);
			}
			return r;
		}
	}
	return NULL;
}

static void add_commands_and_options(void)
{
	static const char *const extra[] = { "help", "options", "quit", "exit" };
	FOR_COMMANDS(c)
		cand_add(c->name);
	for (size_t i = 0; i < NELEM(extra); i++)
		cand_add(extra[i]);
	FOR_FIELDS(f) {
		cand_add(f->name);
		for (const cprof_optchoice *c = f->choices; c && c->name; c++)
			cand_add(c->name);
	}
}

static void add_functions(shell *sh)
{
	const cprof_profile *p = sh->p;
	for (size_t i = 0; i < p->functions.n; i++) {
		const char *s = cprof_s(p, p->functions.v[i].name);
		if (*s)
			cand_add(s);
	}
}

/* Function names match by prefix; when none does, a single function whose
 * name contains the text completes it (pprof's rule). */
static char **complete_functions(shell *sh, const char *text)
{
	add_functions(sh);
	size_t pl = strlen(cand_prefix);
	const char *t = strncmp(text, cand_prefix, pl) == 0 ? text + pl : text;
	size_t tl = strlen(t);
	bool prefix = false;
	const char *only = NULL;
	size_t nsub = 0;
	for (size_t i = 0; i < ncand; i++) {
		if (strncmp(cand[i], t, tl) == 0)
			prefix = true;
		else if (*t && strstr(cand[i], t) && (!only || strcmp(only, cand[i]) != 0)) {
			only = cand[i];
			nsub++;
		}
	}
	if (!prefix && nsub == 1) {
		char **m = calloc(2, sizeof *m);
		if (!m)
			return NULL;
		m[0] = malloc(pl + strlen(only) + 1);
		if (!m[0]) {
			free(m);
			return NULL;
		}
		memcpy(m[0], cand_prefix, pl);
		strcpy(m[0] + pl, only);
		return m;
	}
	return rl_completion_matches(text, cand_gen);
}

static char **complete(const char *text, int start, int end)
{
	shell *sh = g_sh;
	rl_attempted_completion_over = 1;
	ncand = 0;
	cand_prefix = "";
	/* the words before the one being completed */
	char before[1024];
	snprintf(before, sizeof before, "%.*s", start, rl_line_buffer);
	char *words[8];
	size_t nw = 0;
	for (char *s = strtok(before, " \t"); s && nw < NELEM(words); s = strtok(NULL, " \t"))
		words[nw++] = s;
	bool after_eq = start > 0 && rl_line_buffer[start - 1] == '=';
	if (after_eq && nw == 1) {
		/* option values: name=... */
		char name[256];
		snprintf(name, sizeof name, "%s", words[0]);
		char *eq = strchr(name, '=');
		if (eq)
			*eq = 0;
		const cprof_optchoice *choice;
		const cfield *f = find_field(name, &choice);
		if (!f)
			return NULL;
		if (strcmp(f->name, "sample_index") == 0 && !choice) {
			for (size_t i = 0; i < sh->p->vtypes.n; i++)
				cand_add(cprof_s(sh->p, sh->p->vtypes.v[i].type));
		} else if (f->choices && !choice) {
			for (const cprof_optchoice *c = f->choices; c->name; c++)
				cand_add(c->name);
		} else if (f->type == CPROF_OT_BOOL || choice) {
			cand_add("true");
			cand_add("false");
		} else if (strstr("focus ignore hide show show_from prune_from", f->name)) {
			return complete_functions(sh, text);
		} else {
			return NULL;
		}
		return rl_completion_matches(text, cand_gen);
	}
	if (nw == 0 || (nw == 1 && strcmp(words[0], "help") == 0)) {
		add_commands_and_options();
		return rl_completion_matches(text, cand_gen);
	}
	char cmd[256];
	snprintf(cmd, sizeof cmd, "%s", words[0]);
	size_t l = strlen(cmd);
	while (l && isdigit((unsigned char)cmd[l - 1]))
		cmd[--l] = 0;
	const cprof_command *c = find_command(words[0]);
	if (!c)
		c = find_command(cmd);
	if (!c || strcmp(c->name, "tags") == 0)
		return NULL;
	if (text[0] == '-')
		cand_prefix = "-";
	if (text[0] == '>')
		return NULL;
	return complete_functions(sh, text);
}

static char *history_path(void)
{
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	char *p = NULL;
	if (asprintf(&p, "%s/.cprof_history", home) < 0)
		return NULL;
	return p;
}

/* ---- the shell ------------------------------------------------------------- */

int cli_shell(cli_opts *o, cprof_profile *p)
{
	static shell sh;
	sh.o = o;
	sh.p = p;
	g_sh = &sh;
	cfg_from_opts(&sh.cfg, o);
	sh.cfg.compact_labels = true;       /* as pprof's shell */
	const char *term = getenv("TERM");
	sh.tty = isatty(0) && term && *term && strcmp(term, "dumb") != 0;
	sh.color = sh.tty && isatty(2);

	greetings(&sh);

	char *hist = NULL;
	if (sh.tty) {
		hist = history_path();
		rl_readline_name = "cprof";
		/* with stdout redirected, the prompt and the echo stay on the terminal */
		if (!isatty(1))
			rl_outstream = stderr;
		rl_attempted_completion_function = complete;
		rl_completer_word_break_characters = (char *)" \t\n=";
		using_history();
		stifle_history(SH_HISTORY);
		if (hist)
			read_history(hist);
		for (;;) {
			char *line = readline("(pprof) ");
			if (!line) {
				/* end the prompt's line on the terminal */
				fputc('\n', isatty(1) ? stdout : stderr);
				break;
			}
			char *t = trim(line);
			if (*t && strlen(t) < SH_MAX_LINE) {
				HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
				if (!last || strcmp(last->line, t) != 0)
					add_history(t);
			}
			bool more = strlen(line) < SH_MAX_LINE ? process_line(&sh, line) : true;
			free(line);
			fflush(stdout);
			if (!more)
				break;
		}
		if (hist) {
			write_history(hist);
			history_truncate_file(hist, SH_HISTORY);
		}
	} else {
		char *buf = malloc(SH_MAX_LINE + 1);
		if (!buf)
			cli_die("out of memory");
		for (;;) {
			fputs("(pprof) ", stdout);
			fflush(stdout);
			char *line = read_plain(buf, SH_MAX_LINE + 1);
			if (!line)
				break;
			bool more = process_line(&sh, line);
			fflush(stdout);
			if (!more)
				break;
		}
		free(buf);
	}
	free(hist);
	free(cand);
	cand = NULL;
	ncand = cand_cap = 0;
	cfg_free(&sh.cfg);
	g_sh = NULL;
	for (size_t i = 0; i < sh.nviewers; i++)
		waitpid(sh.viewers[i], NULL, WNOHANG);
	return 0;
}
