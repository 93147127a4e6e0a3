/*
 * cprof_options.h - the report options and the report commands, as two
 * tables every front end reads (pprof's internal/driver configFields and
 * commands).
 *
 * One row of cprof_options describes one field of cprof_ropts: its name
 * (the command-line flag -name and the shell variable name), its web URL
 * key, its type, its default, its help, its choices, and which front ends
 * accept it.  The flags parser (src/cli/flags.c), the interactive shell's
 * set/show/help/completion (src/cli/shell.c) and the web API's URL
 * parameters (cprof_ropts_from_url, used by report/webapi.c) all walk this
 * table; each front end keeps only its own syntax for values (Go's flag
 * package, pprof's shell, the URL's t/f), as pprof does.  cprof_ropts_init
 * takes the defaults from it too.
 *
 * One row of cprof_commands describes one report command: the format it
 * selects, whether it takes a regexp, whether it is a flag (-top) and/or a
 * shell command (top), its help, and what the shell does with its output.
 *
 * Threads: the tables are constant; every function here is thread-safe and
 * none is async-signal-safe.
 */
#ifndef CPROF_OPTIONS_H
#define CPROF_OPTIONS_H

#include "cprof_report.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an option's field in cprof_ropts holds. */
enum cprof_opt_type {
	CPROF_OT_BOOL,          /* bool */
	CPROF_OT_INT,           /* int */
	CPROF_OT_FLOAT,         /* double */
	CPROF_OT_STRING,        /* const char *: NULL or "" is unset */
	CPROF_OT_CHOICE,        /* int: the value of one of the choices */
	CPROF_OT_CHOICE_BOOL,   /* bool: the value (0 or 1) of one of the choices */
};

/* Which front ends accept an option or a command (a mask). */
enum {
	CPROF_OPT_FLAG = 1u << 0,       /* a command-line flag -name=value; each choice
					 * of a choice option is a boolean flag -choice */
	CPROF_OPT_FLAG_NAME = 1u << 1,  /* a choice option is also -name=CHOICE */
	CPROF_OPT_SHELL = 1u << 2,      /* a shell variable name=value; each choice
					 * is also a bare word ("cum", "lines") */
	CPROF_OPT_URL = 1u << 3,        /* a web URL parameter (the row's url key) */
	CPROF_OPT_FLAME = 1u << 4,      /* the flame graph's tree depends on it
					 * (part of a flame cache's key) */
};

typedef struct cprof_optchoice {
	const char *name;
	int value;              /* stored in the option's field */
	const char *help;       /* the shell's help; its first line, less a final
				 * '.', is the flag's unless flag_help is set */
	const char *flag_help;
} cprof_optchoice;

typedef struct cprof_option {
	const char *name;
	enum cprof_opt_type type;
	size_t off;             /* of the field in cprof_ropts */
	unsigned where;         /* CPROF_OPT_* */
	const char *url;        /* the URL key (CPROF_OPT_URL), else NULL */
	double dflt;            /* default of a bool, number or choice */
	const char *dflt_str;   /* default of a string (NULL: unset) */
	double url_min, url_max;        /* INT, FLOAT: the range a URL may ask for */
	const char *url_want;   /* INT, FLOAT: "a node count" in "n: want a node count" */
	const cprof_optchoice *choices; /* CHOICE*: ends with a NULL name */
	const char *help;       /* the shell's help: the summary line, then details */
	const char *flag_help;  /* the --help line when it is not help's first
				 * line less a final '.' */
} cprof_option;

extern const cprof_option cprof_options[];
extern const size_t cprof_noptions;

/* The option named name (any front end), or NULL. */
const cprof_option *cprof_option_find(const char *name);
/* The choice option one of whose choices is named name (*choice set), or
 * NULL. */
const cprof_option *cprof_option_find_choice(const char *name, const cprof_optchoice **choice);
/* The field of option d in o. */
void *cprof_option_field(cprof_ropts *o, const cprof_option *d);
const void *cprof_option_cfield(const cprof_ropts *o, const cprof_option *d);
/* A choice option's current choice in o (the first when none matches). */
const cprof_optchoice *cprof_option_choice_of(const cprof_ropts *o, const cprof_option *d);
/* Set a choice option in o to choice c. */
void cprof_option_set_choice(cprof_ropts *o, const cprof_option *d, const cprof_optchoice *c);
/* The one-line help of d (or of its choice c when c is not NULL) for a
 * command line's --help, into buf. */
const char *cprof_option_flag_help(const cprof_option *d, const cprof_optchoice *c, char *buf,
				   size_t n);

/* A request's query, as a getter: the first value of key, or NULL when it
 * is absent or empty.  ctx is the getter's own. */
typedef const char *cprof_query_get(void *ctx, const char *key);

/* The web's URL parameters over o (strings borrowed from what get returns,
 * which must outlive o).  Booleans take t/true/1 or f/false/0, numbers are
 * bounded by url_min/url_max, a choice is one of its names.  Returns 0, or
 * -1 with a one-line message for a 400 answer in msg (o is then partly
 * set). */
int cprof_ropts_from_url(cprof_ropts *o, cprof_query_get *get, void *ctx, char *msg, size_t n);
/* The values of the URL parameters the flame graph's tree depends on
 * (CPROF_OPT_FLAME), as a cache key (malloc'd; NULL when out of memory). */
char *cprof_ropts_flame_key(cprof_query_get *get, void *ctx);

/* ---- commands -------------------------------------------------------------- */

/* How the shell's "help CMD" shows a command's usage (pprof's helpers). */
enum cprof_cmd_usage {
	CPROF_USAGE_NONE, CPROF_USAGE_REPORT, CPROF_USAGE_REPORT_CUM, CPROF_USAGE_GRAPH,
	CPROF_USAGE_VIEW, CPROF_USAGE_LIST, CPROF_USAGE_LIST_REDIRECT, CPROF_USAGE_TEXT,
};
/* Where the shell puts a command's output. */
enum cprof_cmd_visual {
	CPROF_VIS_STDOUT,       /* on standard output */
	CPROF_VIS_AWAY,         /* a file profileNNN.EXT in the current directory */
	CPROF_VIS_VIEW,         /* a temporary file opened with a viewer */
};

typedef struct cprof_command {
	const char *name;
	int format;             /* enum cprof_format */
	bool param;             /* takes a regexp (-peek=RE, "peek RE") */
	unsigned where;         /* CPROF_OPT_FLAG, CPROF_OPT_SHELL */
	enum cprof_cmd_usage usage;
	const char *usage_text; /* CPROF_USAGE_TEXT: the usage lines */
	enum cprof_cmd_visual visual;
	const char *ext;        /* VIS_AWAY, VIS_VIEW: the file name's suffix */
	const char *viewer;     /* VIS_VIEW: the program ("": the browsers) */
	const char *help;
	const char *flag_help;  /* the --help line, when it differs from help */
} cprof_command;

extern const cprof_command cprof_commands[];
extern const size_t cprof_ncommands;

/* The command named name among those accepted by the front ends in where,
 * or NULL. */
const cprof_command *cprof_command_find(const char *name, unsigned where);
/* Is this format's output binary (png, pdf, ps, gif, proto)? */
bool cprof_format_is_binary(int format);

#ifdef __cplusplus
}
#endif
#endif
