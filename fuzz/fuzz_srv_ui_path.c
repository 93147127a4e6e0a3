/*
 * fuzz_srv_ui_path.c - libFuzzer target for the parser of the server web
 * UI's analysis paths (src/server/ui_path.c, compiled in): the part of
 * /analysis/KIND/FROM/UNTIL/SELECTOR-IN-HEX/VIEW below /analysis/.
 *
 * Input: the path (any bytes; cut at the first NUL, as a URL is).  Checks:
 * a parse fails with a one-line reason, or gives a window whose segments
 * are non-empty, '/'-free and within their buffers, whose rest is the
 * path's tail, whose selector has no NUL inside; and the window written
 * back as a path (lower-case hex) parses to the same window.  Seeds:
 * fuzz/seeds/fuzz_srv_ui_path.
 */
#include "ui_path.c"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_srv_ui_path: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static char in[65536], again[65536];
static srv_an_window w, w2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	const char *why = NULL;
	if (srv_an_parse(in, &w, &why)) {
		CHECK(why && *why && !strchr(why, '\n'), "reason");
		return 0;
	}
	size_t n = strlen(in);
	CHECK(w.rest >= in && w.rest <= in + n, "rest outside the path");
	CHECK(!strcmp(w.rest, in + (w.rest - in)), "rest");
	int len;
	if (w.snap_id) {
		CHECK(w.snap_id > 0 && !strncmp(in, "snapshot/", 9), "snapshot");
		len = snprintf(again, sizeof again, "snapshot/%lld/%s", w.snap_id, w.rest);
	} else {
		const char *seg[] = { w.kind, w.from, w.until };
		size_t cap[] = { sizeof w.kind, sizeof w.from, sizeof w.until };
		for (int i = 0; i < 3; i++)
			CHECK(*seg[i] && !strchr(seg[i], '/') && strlen(seg[i]) < cap[i], "segment %d", i);
		CHECK(strlen(w.sel) < sizeof w.sel, "selector");
		len = snprintf(again, sizeof again, "%s/%s/%s/", w.kind, w.from, w.until);
		if (!*w.sel)
			len += snprintf(again + len, sizeof again - (size_t)len, "-");
		for (const char *s = w.sel; *s && len < (int)sizeof again - 3; s++)
			len += snprintf(again + len, sizeof again - (size_t)len, "%02x", (unsigned char)*s);
		len += snprintf(again + len, sizeof again - (size_t)len, "/%s", w.rest);
	}
	if (len <= 0 || (size_t)len >= sizeof again)
		return 0;
	CHECK(srv_an_parse(again, &w2, &why) == 0, "the window written back does not parse: %s", why);
	CHECK(w2.snap_id == w.snap_id && !strcmp(w2.kind, w.kind) && !strcmp(w2.from, w.from) &&
	      !strcmp(w2.until, w.until) && !strcmp(w2.sel, w.sel) && !strcmp(w2.rest, w.rest),
	      "round trip");
	return 0;
}
