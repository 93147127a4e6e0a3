/*
 * symbolize.c - the command's -symbolize option, as pprof's symbolizer
 * (internal/symbolizer) reads it:
 *
 *   -symbolize=[local|fastlocal|remote|none|no][:force][:demangle=none|full|templates|default]
 *
 * Words are separated by ':' and case-insensitive.  The default is local
 * symbolization (src/core/symbolize.c, libdw) followed by remote
 * symbolization of URL sources (fetch.c's cli_symbolize_remote, pprof's
 * /symbol protocol), then demangling of C++ names; "none" does nothing at
 * all, not even demangling.  A demangle= other than default implies force,
 * so names already demangled are made again from their system names.
 * Unknown words are reported with pprof's two lines and ignored.
 * Warnings of the symbolizer (missing binaries, build-ID mismatches) go to
 * stderr in pprof's words.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	cli_warn("%s", msg);
}

void cli_symbolize(cprof_profile *p, const cli_opts *o)
{
	bool remote = true, local = true, fast = false, force = false;
	int dmode = CPROF_DEMANGLE_DEFAULT;
	const char *mode = o->symbolize ? o->symbolize : "";
	char buf[256];
	if (strlen(mode) >= sizeof buf)
		cli_die("-symbolize: option too long");
	for (size_t i = 0; mode[i]; i++)
		buf[i] = (char)((mode[i] >= 'A' && mode[i] <= 'Z') ? mode[i] - 'A' + 'a' : mode[i]);
	buf[strlen(mode)] = 0;
	for (char *w = buf, *next; w; w = next) {
		next = strchr(w, ':');
		if (next)
			*next++ = 0;
		if (!*w)
			continue;
		if (!strcmp(w, "none") || !strcmp(w, "no"))
			return;
		if (!strcmp(w, "local")) {
			remote = false, local = true;
		} else if (!strcmp(w, "fastlocal")) {
			remote = false, local = true, fast = true;
		} else if (!strcmp(w, "remote")) {
			remote = true, local = false;
		} else if (!strcmp(w, "force")) {
			force = true;
		} else if (!strncmp(w, "demangle=", 9) && !strcmp(w + 9, "default")) {
			/* the default */
		} else if (!strncmp(w, "demangle=", 9) &&
			   (!strcmp(w + 9, "full") || !strcmp(w + 9, "none") || !strcmp(w + 9, "templates"))) {
			dmode = !strcmp(w + 9, "full") ? CPROF_DEMANGLE_FULL
			      : !strcmp(w + 9, "none") ? CPROF_DEMANGLE_NONE
			      : CPROF_DEMANGLE_TEMPLATES;
			force = true;
		} else {
			cli_warn("ignoring unrecognized symbolization option: %s", mode);
			cli_warn("expecting -symbolize=[local|fastlocal|remote|none][:force][:demangle=[none|full|templates|default]");
		}
	}

	cprof_error err = { 0 };
	if (local) {
		cprof_symopts so = { .force = force, .fast = fast, .warn = warn_cb };
		int64_t rc = cprof_symbolize(p, &so, &err);
		if (rc == CPROF_ENOMEM)
			cli_die("symbolization: out of memory");
		if (rc < 0)
			cli_warn("local symbolization: %s", err.code ? err.msg : cprof_strerror((int)rc));
	}
	if (remote) {
		for (size_t i = 0; i < o->nsources + o->nbases; i++) {
			const char *src = i < o->nsources ? o->sources[i] : o->bases[i - o->nsources];
			if (!cli_is_url(src))
				continue;
			int rc = cli_symbolize_remote(p, o, src);
			if (rc == CPROF_ENOMEM)
				cli_die("symbolization: out of memory");
		}
	}
	if (cprof_demangle_profile(p, dmode, force) < 0)
		cli_die("symbolization: out of memory");
}
