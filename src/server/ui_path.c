/*
 * ui_path.c - the parser of the web UI's analysis paths (ui.c serves them):
 * the part of /analysis/KIND/FROM/UNTIL/SELECTOR-IN-HEX/VIEW (or
 * /analysis/snapshot/ID/VIEW) below /analysis/, into a window and the rest
 * of the path.  The window is in the path, not the query, because the
 * CLI's page asks for some data (data/meta) without its query: every
 * relative URL of the page stays under the window's prefix.
 *
 * Pure: no allocation, bounded by the window's fixed buffers; thread-safe
 * and async-signal-safe.  Its own file so that fuzz/fuzz_srv_ui_path.c can
 * compile it in without the server.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The next '/'-terminated segment of *p into out (n bytes with the NUL);
 * false when there is none, it is empty or it is too long. */
static bool segment(const char **p, char *out, size_t n)
{
	const char *e = strchr(*p, '/');
	if (!e || (size_t)(e - *p) >= n || e == *p)
		return false;
	memcpy(out, *p, (size_t)(e - *p));
	out[e - *p] = '\0';
	*p = e + 1;
	return true;
}

int srv_an_parse(const char *path, srv_an_window *w, const char **why)
{
	memset(w, 0, sizeof *w);
	const char *p = path;
	char idbuf[32], hex[SRV_AN_SEL_MAX * 2];
	if (!strncmp(p, "snapshot/", 9)) {
		p += 9;
		char *end;
		if (!segment(&p, idbuf, sizeof idbuf) || idbuf[0] < '0' || idbuf[0] > '9' ||
		    (w->snap_id = strtoll(idbuf, &end, 10)) <= 0 || *end) {
			*why = "/analysis/snapshot/ID/: want a snapshot's id";
			return -1;
		}
		w->rest = p;
		return 0;
	}
	if (!segment(&p, w->kind, sizeof w->kind) || !segment(&p, w->from, sizeof w->from) ||
	    !segment(&p, w->until, sizeof w->until) || !segment(&p, hex, sizeof hex)) {
		*why = "/analysis/: want /analysis/KIND/FROM/UNTIL/SELECTOR-IN-HEX/VIEW "
			"(or /analysis/snapshot/ID/VIEW)";
		return -1;
	}
	if (strcmp(hex, "-")) {
		size_t n = strlen(hex);
		if (n % 2) {
			*why = "/analysis/: the selector is not hex";
			return -1;
		}
		for (size_t i = 0; i < n; i += 2) {
			int a = hexval(hex[i]), b = hexval(hex[i + 1]);
			if (a < 0 || b < 0 || (a == 0 && b == 0)) {
				*why = "/analysis/: the selector is not hex";
				return -1;
			}
			w->sel[i / 2] = (char)(a * 16 + b);
		}
	}
	w->rest = p;
	return 0;
}
