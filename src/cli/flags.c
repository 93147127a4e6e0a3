/*
 * flags.c - pprof's command-line flags.
 *
 * Go's flag package rules apply: "-name", "--name", "-name=value", and
 * "-name value" for flags that take a value; boolean flags take "=false".
 * Unlike Go's parser, flags may also follow the sources (a superset of
 * pprof's usage); "--" ends the flags.
 *
 * The report options and the report formats are the report layer's tables
 * (cprof_options and cprof_commands, src/report/options.c, which says how
 * to add one): every row accepted as a flag is parsed here, into cli_opts.r,
 * and listed by --help.  A choice option's choices are boolean flags (-cum,
 * -lines), at most one per option.  The flags that are the command's own
 * (sources, fetching, the web UI, pprof's legacy sample-index shortcuts)
 * are the `cli_flags` table below: adding one is a row there (name, kind,
 * the cli_opts field it sets, a one-line help) and a field in cli_opts.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_BOOL, K_INT, K_FLOAT, K_STR, K_LIST_BASE, K_LIST_DIFF };

struct flag {
	const char *name;
	enum kind kind;
	size_t off;             /* offset in cli_opts */
	const char *help;
};

#define O(f) offsetof(cli_opts, f)

/* The command's own flags; the report options are cprof_options. */
static const struct flag cli_flags[] = {
	/* sources */
	{ "base", K_LIST_BASE, O(bases), "Source of base profile for profile subtraction" },
	{ "diff_base", K_LIST_DIFF, O(bases), "Source of base profile for comparison" },
	{ "add_comment", K_STR, O(add_comment), "Annotation string to record in the profile" },
	{ "symbolize", K_STR, O(symbolize), "Options for profile symbolization" },
	{ "trace_pprof", K_STR, O(trace_pprof), "Read execution traces as a profile: sync, syscall or sched delay (go tool trace -pprof), or cpu (the CPU samples)" },
	{ "trace_convert", K_STR, O(trace_convert), "Convert an execution trace to another format (perfetto: Perfetto's protobuf trace) into -output" },
	{ "buildid", K_STR, O(buildid), "Override build id for first mapping" },
	{ "tools", K_STR, O(tools), "Path for object tool pathnames" },
	{ "seconds", K_INT, O(seconds), "Length of time for dynamic profiles" },
	{ "timeout", K_INT, O(timeout), "Timeout in seconds for fetching a profile" },
	{ "http", K_STR, O(http), "Present interactive web UI at the specified http host:port" },
	{ "no_browser", K_BOOL, O(no_browser), "Skip opening a browser for the interactive web UI" },
	/* legacy sample-index shortcuts */
	{ "inuse_space", K_BOOL, O(inuse_space), "Same as -sample_index=inuse_space" },
	{ "inuse_objects", K_BOOL, O(inuse_objects), "Same as -sample_index=inuse_objects" },
	{ "alloc_space", K_BOOL, O(alloc_space), "Same as -sample_index=alloc_space" },
	{ "alloc_objects", K_BOOL, O(alloc_objects), "Same as -sample_index=alloc_objects" },
	{ "total_delay", K_BOOL, O(total_delay), "Same as -sample_index=delay" },
	{ "contentions", K_BOOL, O(contentions), "Same as -sample_index=contentions" },
	{ "mean_delay", K_BOOL, O(mean_delay), "Same as -mean -sample_index=delay" },
	{ "help", K_BOOL, O(help), "Show this help" },
	{ "h", K_BOOL, O(help), NULL },
	{ "version", K_BOOL, O(version), "Print the version" },
};

#define NELEM(a) (sizeof(a) / sizeof(*(a)))

void cli_opts_init(cli_opts *o)
{
	memset(o, 0, sizeof *o);
	if (cprof_noptions > CLI_MAX_OPTIONS)   /* the table outgrew cli_opts.chosen */
		cli_die("internal error: %zu report options, at most %d", cprof_noptions,
			CLI_MAX_OPTIONS);
	cprof_ropts_init(&o->r);
	o->seconds = -1;
	o->timeout = -1;
}

static void usage_line(FILE *f, const char *name, const char *arg, const char *help)
{
	char left[64];
	snprintf(left, sizeof left, "%s%s", name, arg);
	fprintf(f, "    -%-20s %s\n", left, help);
}

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage:\n"
		"  cprof <format> [options] [binary] <source> ...\n"
		"  cprof record [-o FILE] [--hz N] [--follow-fork] -- CMD ARGS...\n"
		"\n"
		"Reads profiles in profile.proto format (gzipped or not), Go's and gperftools'\n"
		"legacy formats, and folded stacks; several sources are merged.\n"
		"\n"
		"Output formats (select at most one):\n");
	for (size_t i = 0; i < cprof_ncommands; i++) {
		const cprof_command *c = &cprof_commands[i];
		if (c->where & CPROF_OPT_FLAG)
			usage_line(f, c->name, c->param ? "=<regexp>" : "",
				   c->flag_help ? c->flag_help : c->help);
	}
	fprintf(f, "\nOptions:\n");
	char buf[256];
	for (size_t i = 0; i < cprof_noptions; i++) {
		const cprof_option *d = &cprof_options[i];
		if (!(d->where & CPROF_OPT_FLAG))
			continue;
		static const char *const arg[] = {
			[CPROF_OT_BOOL] = "", [CPROF_OT_INT] = "=<n>", [CPROF_OT_FLOAT] = "=<f>",
			[CPROF_OT_STRING] = "=<s>", [CPROF_OT_CHOICE] = "=<s>",
			[CPROF_OT_CHOICE_BOOL] = "=<s>",
		};
		if (!d->choices || (d->where & CPROF_OPT_FLAG_NAME))
			usage_line(f, d->name, arg[d->type], cprof_option_flag_help(d, NULL, buf, sizeof buf));
		for (const cprof_optchoice *c = d->choices; c && c->name; c++)
			usage_line(f, c->name, "", cprof_option_flag_help(d, c, buf, sizeof buf));
	}
	for (size_t i = 0; i < NELEM(cli_flags); i++) {
		if (!cli_flags[i].help)
			continue;
		const char *arg = "";
		switch (cli_flags[i].kind) {
		case K_INT: arg = "=<n>"; break;
		case K_FLOAT: arg = "=<f>"; break;
		case K_STR: case K_LIST_BASE: case K_LIST_DIFF: arg = "=<s>"; break;
		default: break;
		}
		usage_line(f, cli_flags[i].name, arg, cli_flags[i].help);
	}
	fprintf(f,
		"\n"
		"Sources are files (\"-\" is standard input) or URLs of a profile endpoint.\n"
		"With no output format, cprof opens an interactive shell.\n"
		"\n"
		"Environment:\n"
		"    TZ                    time zone of the Time: header line\n"
		"\n"
		"Examples:\n"
		"    cprof -top cpu.pb.gz\n"
		"    cprof -top -cum -nodecount=20 cpu.pb.gz\n"
		"    cprof -peek='sha256' cpu.pb.gz\n"
		"    cprof -top -sample_index=alloc_space heap.pb.gz\n"
		"    cprof -top -diff_base=before.pb.gz after.pb.gz\n");
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < NELEM(t); i++) {
		if (strcmp(s, t[i]) == 0) { *out = true; return 0; }
		if (strcmp(s, f[i]) == 0) { *out = false; return 0; }
	}
	return -1;
}

/* Go's flag values: a bool (NULL: true), an int (strconv.ParseInt base 0,
 * 32 bits), a float (not NaN), a string.  0, or -1 when val does not parse. */
static int set_value(enum kind kind, void *dst, const char *val)
{
	char *end;
	switch (kind) {
	case K_BOOL:
		if (!val) {
			*(bool *)dst = true;
			return 0;
		}
		return parse_bool(val, dst);
	case K_INT: {
		errno = 0;
		long long v = strtoll(val, &end, 0);
		if (*val && !*end && !errno && v >= -2147483647LL - 1 && v <= 2147483647LL) {
			*(int *)dst = (int)v;
			return 0;
		}
		return -1;
	}
	case K_FLOAT: {
		errno = 0;
		double v = strtod(val, &end);
		if (*val && !*end && !errno && !isnan(v)) {
			*(double *)dst = v;
			return 0;
		}
		return -1;
	}
	case K_STR:
		*(const char **)dst = val;
		return 0;
	default:
		return -1;
	}
}

static _Noreturn void bad_value(const char *val, const char *name)
{
	cli_die("invalid value \"%s\" for flag -%s: parse error (see 'cprof --help')", val, name);
}

static void set_flag(cli_opts *o, const struct flag *fl, const char *val)
{
	if (fl->kind == K_LIST_BASE || fl->kind == K_LIST_DIFF) {
		if (!*val)
			return;         /* pprof drops empty entries */
		if (o->nbases && o->diff_base != (fl->kind == K_LIST_DIFF))
			cli_die("-base and -diff_base flags cannot both be specified");
		if (o->nbases >= CLI_MAX_SOURCES)
			cli_die("too many base profiles (at most %d)", CLI_MAX_SOURCES);
		o->diff_base = fl->kind == K_LIST_DIFF;
		o->bases[o->nbases++] = val;
		return;
	}
	if (set_value(fl->kind, (char *)o + fl->off, val) < 0)
		bad_value(val, fl->name);
}

/* A report option's flag: a value for the field, or one of a choice
 * option's choices, recorded in o->chosen (bit k: choice k) until
 * cli_parse checks that at most one is set per option. */
static void set_option(cli_opts *o, const cprof_option *d, const cprof_optchoice *c,
		       const char *name, const char *val)
{
	size_t i = (size_t)(d - cprof_options);
	if (c) {
		bool b = true;
		if (val && parse_bool(val, &b) < 0)
			bad_value(val, name);
		uint32_t bit = 1u << (c - d->choices);
		o->chosen[i] = b ? o->chosen[i] | bit : o->chosen[i] & ~bit;
		return;
	}
	if (d->choices) {               /* -granularity=NAME */
		for (const cprof_optchoice *k = d->choices; k->name; k++)
			if (strcmp(k->name, val) == 0) {
				o->chosen[i] |= 1u << (k - d->choices);
				return;
			}
		char want[256];
		size_t w = 0;
		for (const cprof_optchoice *k = d->choices; k->name && w < sizeof want; k++)
			w += (size_t)snprintf(want + w, sizeof want - w, "%s%s",
					      k == d->choices ? "" : k[1].name ? ", " : " or ", k->name);
		cli_die("invalid value \"%s\" for flag -%s: want %s", val, d->name, want);
	}
	static const enum kind kinds[] = {
		[CPROF_OT_BOOL] = K_BOOL, [CPROF_OT_INT] = K_INT, [CPROF_OT_FLOAT] = K_FLOAT,
		[CPROF_OT_STRING] = K_STR,
	};
	if (set_value(kinds[d->type], cprof_option_field(&o->r, d), val) < 0)
		bad_value(val, d->name);
}

/* The report option a flag name sets (*choice: one of its choices), or
 * NULL. */
static const cprof_option *find_option(const char *name, const cprof_optchoice **choice)
{
	*choice = NULL;
	const cprof_option *d = cprof_option_find(name);
	if (d && (d->where & CPROF_OPT_FLAG) && (!d->choices || (d->where & CPROF_OPT_FLAG_NAME)))
		return d;
	d = cprof_option_find_choice(name, choice);
	return d && (d->where & CPROF_OPT_FLAG) ? d : NULL;
}

int cli_parse(cli_opts *o, int argc, char **argv)
{
	bool flags_done = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (flags_done || a[0] != '-' || a[1] == 0) {
			if (o->nsources >= CLI_MAX_SOURCES)
				cli_die("too many sources (at most %d)", CLI_MAX_SOURCES);
			o->sources[o->nsources++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		char *name = a + 1 + (a[1] == '-');
		char *eq = strchr(name, '=');
		const char *val = NULL;
		char nbuf[64];
		if (eq) {
			val = eq + 1;
			/* a name longer than any flag's is no flag */
			snprintf(nbuf, sizeof nbuf, "%.*s", (int)(eq - name < 63 ? eq - name : 63), name);
			if (eq - name >= 63)
				cli_die("flag provided but not defined: -%.*s (see 'cprof --help')",
					(int)(eq - name), name);
			name = nbuf;
		}

		const cprof_command *fmt = cprof_command_find(name, CPROF_OPT_FLAG);
		if (fmt) {
			if (fmt->param) {
				if (!val) {
					if (i + 1 >= argc)
						cli_die("flag needs an argument: -%s", fmt->name);
					val = argv[++i];
				}
				o->peek_re = (char *)val;
			} else if (val) {
				bool b;
				if (parse_bool(val, &b))
					cli_die("invalid value \"%s\" for flag -%s: parse error", val, fmt->name);
				if (!b)
					continue;
			}
			if (o->format_name && strcmp(o->format_name, fmt->name) != 0)
				cli_die("must set at most one output format (got -%s and -%s)",
					o->format_name, fmt->name);
			o->format_name = fmt->name;
			o->r.format = fmt->format;
			continue;
		}
		const cprof_optchoice *choice;
		const cprof_option *d = find_option(name, &choice);
		if (d) {
			bool takes = !choice && d->type != CPROF_OT_BOOL;
			if (!val && takes) {
				if (i + 1 >= argc)
					cli_die("flag needs an argument: -%s", d->name);
				val = argv[++i];
			}
			set_option(o, d, choice, name, val);
			continue;
		}
		const struct flag *fl = NULL;
		for (size_t k = 0; k < NELEM(cli_flags); k++)
			if (strcmp(cli_flags[k].name, name) == 0)
				fl = &cli_flags[k];
		if (!fl)
			cli_die("flag provided but not defined: -%s (see 'cprof --help')", name);
		if (!val && fl->kind != K_BOOL) {
			if (i + 1 >= argc)
				cli_die("flag needs an argument: -%s", fl->name);
			val = argv[++i];
		}
		set_flag(o, fl, val);
	}
	if (o->help || o->version)
		return 0;

	/* choice options: at most one choice each */
	for (size_t i = 0; i < cprof_noptions; i++) {
		const cprof_option *d = &cprof_options[i];
		const cprof_optchoice *first = NULL;
		for (const cprof_optchoice *c = d->choices; c && c->name; c++) {
			if (!(o->chosen[i] & (1u << (c - d->choices))))
				continue;
			if (first)
				cli_die("conflicting options set: [%s %s]", first->name, c->name);
			first = c;
		}
		if (first)
			cprof_option_set_choice(&o->r, d, first);
	}

	/* legacy shortcuts, in pprof's order; the first one wins */
	struct { bool set; const char *si, *flag; } sc[] = {
		{ o->total_delay, "delay", "-total_delay" },
		{ o->mean_delay, "delay", "-mean_delay" },
		{ o->contentions, "contentions", "-contentions" },
		{ o->inuse_space, "inuse_space", "-inuse_space" },
		{ o->inuse_objects, "inuse_objects", "-inuse_objects" },
		{ o->alloc_space, "alloc_space", "-alloc_space" },
		{ o->alloc_objects, "alloc_objects", "-alloc_objects" },
	};
	for (size_t k = 0; k < NELEM(sc); k++) {
		if (!sc[k].set)
			continue;
		if (!o->r.sample_index || !*o->r.sample_index)
			o->r.sample_index = sc[k].si;
		else
			cli_warn("Multiple value selections, ignoring %s", sc[k].flag);
	}
	if (o->mean_delay)
		o->r.mean = true;
	if (o->r.format == CPROF_FMT_PEEK || o->r.format == CPROF_FMT_LIST ||
	    o->r.format == CPROF_FMT_DISASM)
		o->r.symbol = o->peek_re;
	o->normalize = o->r.normalize;
	if (o->no_browser && !o->http)
		cli_die("-no_browser only makes sense with -http");
	if (o->http && o->format_name)
		cli_die("-http is not compatible with an output format on the command line");
	if (o->normalize && !o->nbases)
		cli_die("must have base profile to normalize by");
	return 0;
}
