/*
 * selector.c - label sets and Prometheus label selectors for the server:
 * `{job="api", instance=~"10\\..*", env!="dev", path!~"/debug/.*"}`.
 *
 * Parsing is a hand-written scanner over a bounded text (SRV_SELECTOR_MAX
 * bytes, SRV_MATCHERS_MAX matchers): '{', matchers separated by commas (a
 * trailing one allowed), '}', whitespace anywhere between tokens.  Values
 * are Go string literals as PromQL takes them: "..." or '...' with Go's
 * escapes (\a \b \f \n \r \t \v \\ \" \' \xHH \ooo \uHHHH \UHHHHHHHH) or
 * `...` raw.  Every error is one line naming the byte offset and what was
 * expected there.
 *
 * Regexps are PCRE2 in UTF mode with invalid UTF-8 subjects tolerated,
 * dot-all and anchored at both ends (Prometheus compiles "^(?s:re)$").
 * PCRE2 backtracks where Go's RE2 does not, so every match runs under a
 * match limit and a depth limit: a pathological pattern stops early and
 * the matcher answers "no match" for that subject (a selector never runs
 * away with a server thread).
 *
 * Threads: a parsed selector is immutable; srv_selector_match allocates
 * its PCRE2 match data per call, so one selector may be matched from many
 * threads at once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define RX_MATCH_LIMIT 200000
#define RX_DEPTH_LIMIT 2000

/* ---- labels ---------------------------------------------------------- */

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const srv_label *)a)->name, ((const srv_label *)b)->name);
}

/* Whether s is a label name: [A-Za-z_][A-Za-z0-9_.]*, bounded. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SRV_LABEL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && ((c >= '0' && c <= '9') || c == '.')))
			return false;
	}
	return true;
}

int srv_labels_sort(srv_label *v, size_t n, cprof_error *err)
{
	if (n > SRV_LABELS_MAX)
		return cprof_seterr(err, CPROF_EINVAL, "%zu labels: at most %d", n, SRV_LABELS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].name || !name_ok(v[i].name))
			return cprof_seterr(err, CPROF_EINVAL, "bad label name \"%s\"",
					    v[i].name ? v[i].name : "");
		if (!v[i].value || strlen(v[i].value) > SRV_LABEL_VALUE_MAX)
			return cprof_seterr(err, CPROF_EINVAL, "label %s: value missing or over %d bytes",
					    v[i].name, SRV_LABEL_VALUE_MAX);
	}
	if (n > 1)
		qsort(v, n, sizeof *v, label_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0)
			return cprof_seterr(err, CPROF_EINVAL, "label %s given twice", v[i].name);
	return 0;
}

const char *srv_labels_get(const srv_labels *l, const char *name)
{
	if (!l)
		return NULL;
	size_t lo = 0, hi = l->n;
	while (lo < hi) {       /* sorted by name */
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].name, name);
		if (c == 0)
			return l->v[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void srv_strlist_free(srv_strlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- the scanner ------------------------------------------------------- */

typedef struct scan {
	const char *s;
	size_t n, i;
	cprof_error *err;
} scan;

static void skip_ws(scan *sc)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
				 sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
		sc->i++;
}

static int bad(scan *sc, const char *what)
{
	if (sc->i >= sc->n)
		return cprof_seterr(sc->err, CPROF_EINVAL, "selector: %s at the end", what);
	char near[24];
	size_t k = sc->n - sc->i < 16 ? sc->n - sc->i : 16;
	cprof_escape(near, sizeof near, sc->s + sc->i, k);
	return cprof_seterr(sc->err, CPROF_EINVAL, "selector: %s at offset %zu (\"%s\")", what,
			    sc->i, near);
}

/* Append the UTF-8 encoding of code point cp to out (room for 4 bytes). */
static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Read k hex digits at sc->i into *v. */
static bool hex_digits(scan *sc, int k, uint32_t *v)
{
	*v = 0;
	for (int j = 0; j < k; j++) {
		if (sc->i >= sc->n)
			return false;
		int d = cprof_hexval((unsigned char)sc->s[sc->i]);
		if (d < 0)
			return false;
		*v = *v * 16 + (uint32_t)d;
		sc->i++;
	}
	return true;
}

/* A quoted string at sc->i into a malloc'd, NUL-terminated *out.  The
 * decoded text is never longer than the quoted one, so one buffer of the
 * remaining length bounds it. */
static int string_lit(scan *sc, char **out)
{
	char q = sc->s[sc->i];
	size_t start = sc->i++;
	char *buf = malloc(sc->n - start + 1);
	size_t o = 0;
	if (!buf)
		return cprof_seterr(sc->err, CPROF_ENOMEM, "selector: out of memory");
	for (;;) {
		if (sc->i >= sc->n) {
			sc->i = start;
			free(buf);
			return bad(sc, "unterminated string");
		}
		char c = sc->s[sc->i++];
		if (c == q)
			break;
		if (c == '\0' || (c == '\n' && q != '`')) {
			sc->i--;
			free(buf);
			return bad(sc, "control character in string");
		}
		if (c != '\\' || q == '`') {
			buf[o++] = c;
			continue;
		}
		if (sc->i >= sc->n) {
			free(buf);
			return bad(sc, "unterminated string");
		}
		char e = sc->s[sc->i++];
		uint32_t v;
		switch (e) {
		case 'a': buf[o++] = '\a'; break;
		case 'b': buf[o++] = '\b'; break;
		case 'f': buf[o++] = '\f'; break;
		case 'n': buf[o++] = '\n'; break;
		case 'r': buf[o++] = '\r'; break;
		case 't': buf[o++] = '\t'; break;
		case 'v': buf[o++] = '\v'; break;
		case '\\': buf[o++] = '\\'; break;
		case '"': case '\'':
			if (e != q) {
				sc->i -= 2;
				free(buf);
				return bad(sc, "unknown escape sequence");
			}
			buf[o++] = e;
			break;
		case 'x':
			if (!hex_digits(sc, 2, &v)) {
				free(buf);
				return bad(sc, "bad \\x escape");
			}
			buf[o++] = (char)v;
			break;
		case 'u': case 'U':
			if (!hex_digits(sc, e == 'u' ? 4 : 8, &v) || v > 0x10ffff ||
			    (v >= 0xd800 && v <= 0xdfff)) {
				free(buf);
				return bad(sc, "bad unicode escape");
			}
			/* \uHHHH is 6 bytes of input for at most 3 of output,
			 * \UHHHHHHHH 10 for at most 4: the buffer holds */
			o += put_utf8(buf + o, v);
			break;
		default:
			if (e >= '0' && e <= '7') {
				v = (uint32_t)(e - '0');
				for (int j = 0; j < 2; j++) {
					if (sc->i >= sc->n || sc->s[sc->i] < '0' || sc->s[sc->i] > '7') {
						free(buf);
						return bad(sc, "bad octal escape");
					}
					v = v * 8 + (uint32_t)(sc->s[sc->i++] - '0');
				}
				if (v > 255) {
					free(buf);
					return bad(sc, "octal escape above 255");
				}
				buf[o++] = (char)v;
				break;
			}
			sc->i -= 2;
			free(buf);
			return bad(sc, "unknown escape sequence");
		}
		if (o > 0 && buf[o - 1] == '\0') {
			free(buf);
			return bad(sc, "NUL in string");
		}
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}

static int compile_re(scan *sc, srv_matcher *m, size_t at)
{
	int ecode;
	PCRE2_SIZE eoff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)m->value, strlen(m->value),
				       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL |
				       PCRE2_ANCHORED | PCRE2_ENDANCHORED,
				       &ecode, &eoff, NULL);
	if (!re) {
		PCRE2_UCHAR why[120];
		pcre2_get_error_message(ecode, why, sizeof why);
		char pat[64];
		cprof_escape(pat, sizeof pat, m->value, strlen(m->value));
		return cprof_seterr(sc->err, CPROF_EINVAL,
				    "selector: bad regexp \"%s\" at offset %zu: %s", pat, at, (char *)why);
	}
	m->re = re;
	return 0;
}

static void matcher_clear(srv_matcher *m)
{
	free(m->name);
	free(m->value);
	if (m->re)
		pcre2_code_free(m->re);
	memset(m, 0, sizeof *m);
}

void srv_selector_free(srv_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		matcher_clear(&sel->m[i]);
	free(sel->m);
	free(sel);
}

static int one_matcher(scan *sc, srv_matcher *m)
{
	size_t ns = sc->i;
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (sc->i > ns && ((c >= '0' && c <= '9') || c == '.'));
		if (!ok)
			break;
		sc->i++;
	}
	if (sc->i == ns)
		return bad(sc, "expected a label name");
	if (sc->i - ns > SRV_LABEL_NAME_MAX)
		return bad(sc, "label name too long");
	m->name = strndup(sc->s + ns, sc->i - ns);
	if (!m->name)
		return cprof_seterr(sc->err, CPROF_ENOMEM, "selector: out of memory");
	skip_ws(sc);
	if (sc->i + 1 < sc->n && sc->s[sc->i] == '=' && sc->s[sc->i + 1] == '~') {
		m->op = SRV_MATCH_RE;
		sc->i += 2;
	} else if (sc->i + 1 < sc->n && sc->s[sc->i] == '!' && sc->s[sc->i + 1] == '=') {
		m->op = SRV_MATCH_NE;
		sc->i += 2;
	} else if (sc->i + 1 < sc->n && sc->s[sc->i] == '!' && sc->s[sc->i + 1] == '~') {
		m->op = SRV_MATCH_NRE;
		sc->i += 2;
	} else if (sc->i < sc->n && sc->s[sc->i] == '=') {
		m->op = SRV_MATCH_EQ;
		sc->i++;
	} else {
		return bad(sc, "expected one of = != =~ !~");
	}
	skip_ws(sc);
	if (sc->i >= sc->n || (sc->s[sc->i] != '"' && sc->s[sc->i] != '\'' && sc->s[sc->i] != '`'))
		return bad(sc, "expected a quoted value");
	size_t vs = sc->i;
	int rc = string_lit(sc, &m->value);
	if (rc)
		return rc;
	if (strlen(m->value) > SRV_LABEL_VALUE_MAX) {
		sc->i = vs;
		return bad(sc, "value too long");
	}
	if (m->op == SRV_MATCH_RE || m->op == SRV_MATCH_NRE)
		return compile_re(sc, m, vs);
	return 0;
}

int srv_selector_parse(const char *s, size_t len, srv_selector **out, cprof_error *err)
{
	*out = NULL;
	if (len > SRV_SELECTOR_MAX)
		return cprof_seterr(err, CPROF_EINVAL, "selector: %zu bytes, at most %d", len,
				    SRV_SELECTOR_MAX);
	srv_selector *sel = calloc(1, sizeof *sel);
	if (!sel)
		return cprof_seterr(err, CPROF_ENOMEM, "selector: out of memory");
	scan sc = { s, len, 0, err };
	int rc = 0;
	skip_ws(&sc);
	if (sc.i == sc.n)
		goto done;                      /* empty text: everything */
	if (s[sc.i] != '{') {
		rc = bad(&sc, "expected '{'");
		goto fail;
	}
	sc.i++;
	for (;;) {
		skip_ws(&sc);
		if (sc.i < sc.n && s[sc.i] == '}') {
			sc.i++;
			break;
		}
		if (sel->n == SRV_MATCHERS_MAX) {
			rc = bad(&sc, "too many matchers");
			goto fail;
		}
		if (!sel->m) {
			sel->m = calloc(SRV_MATCHERS_MAX, sizeof *sel->m);
			if (!sel->m) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "selector: out of memory");
				goto fail;
			}
		}
		rc = one_matcher(&sc, &sel->m[sel->n]);
		sel->n++;               /* cleared by srv_selector_free either way */
		if (rc)
			goto fail;
		skip_ws(&sc);
		if (sc.i < sc.n && s[sc.i] == ',') {
			sc.i++;
			continue;
		}
		if (sc.i < sc.n && s[sc.i] == '}') {
			sc.i++;
			break;
		}
		rc = bad(&sc, "expected ',' or '}'");
		goto fail;
	}
	skip_ws(&sc);
	if (sc.i != sc.n) {
		rc = bad(&sc, "unexpected text after '}'");
		goto fail;
	}
done:
	*out = sel;
	return 0;
fail:
	srv_selector_free(sel);
	return rc;
}

/* Whether the anchored regexp re matches all of v (a limit hit: no). */
static bool re_match(void *re, const char *v)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	bool hit = false;
	if (md && mc) {
		pcre2_set_match_limit(mc, RX_MATCH_LIMIT);
		pcre2_set_depth_limit(mc, RX_DEPTH_LIMIT);
		hit = pcre2_match(re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, mc) >= 0;
	}
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	return hit;
}

bool srv_selector_match(const srv_selector *sel, const srv_labels *l)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const srv_matcher *m = &sel->m[i];
		const char *v = srv_labels_get(l, m->name);
		if (!v)
			v = "";
		bool ok;
		switch (m->op) {
		case SRV_MATCH_EQ: ok = strcmp(v, m->value) == 0; break;
		case SRV_MATCH_NE: ok = strcmp(v, m->value) != 0; break;
		case SRV_MATCH_RE: ok = re_match(m->re, v); break;
		default: ok = !re_match(m->re, v); break;
		}
		if (!ok)
			return false;
	}
	return true;
}
