/*
 * dot.c - the call graph as Graphviz DOT (-dot), and rendered by Graphviz's
 * `dot` (-svg, -png, -pdf, -ps, -gif): pprof's report.printDOT and
 * graph.ComposeDot.
 *
 * How it works.  The graph is built in visual mode (graph.c: entropy node
 * order, nodes counted with their tags against -nodecount, redundant
 * residual edges pruned) with the sample tags of each node.  The DOT text
 * follows pprof's byte for byte: a legend cluster holding the report labels,
 * one box per node (font size by the square root of its share of the
 * largest flat value, colours by cum against the total, red for positive
 * and green for negative values), up to four "nodelets" per node for its
 * string-label and "bytes" tags (numeric tags collapsed into value ranges
 * when there are more than four), then every edge of every listed node in
 * pprof's edge order (weight and pen width by value, dotted when residual).
 * Every string that reaches a quoted DOT attribute is escaped (backslash,
 * quote, newline), including the title, file names and label values that
 * pprof passes raw, so dot never rejects a graph for its names.
 *
 * Rendering: the DOT text is written to an anonymous memory file that
 * becomes the standard input of `dot -T<format>` (posix_spawnp), whose
 * output is copied to the report's stream; SVG output is read whole and
 * given pprof's pan/zoom treatment (our own small script, see PANZOOM_JS).
 * A missing dot is one error line naming graphviz.
 */
#include "graph.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_NODELETS 4

/* escapeForDot: backslash and quote escaped, newlines as left-justified
 * line breaks. */
static void put_escaped(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '\\' || ch == '"')
			fputc('\\', f);
		if (ch == '\n')
			fputs("\\l", f);
		else
			fputc(ch, f);
	}
}

static void put_escaped_str(FILE *f, const char *s)
{
	put_escaped(f, s, strlen(s));
}

/* ---- ShortenFunctionName -------------------------------------------------- */

static bool is_word(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

static bool is_upper(char ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static bool is_lower(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

/* goVerRegExp `^(.*?)/v(?:[2-9]|[1-9][0-9]+)([./].*)$`: drop the first
 * module version element "/vN" in place. */
static void strip_go_version(char *s)
{
	for (char *p = strstr(s, "/v"); p; p = strstr(p + 1, "/v")) {
		const char *d = p + 2, *e = d;
		while (*e >= '0' && *e <= '9')
			e++;
		size_t nd = (size_t)(e - d);
		bool ok = (nd == 1 && *d >= '2') || (nd > 1 && *d != '0');
		if (ok && (*e == '.' || *e == '/')) {
			memmove(p, e, strlen(e) + 1);
			return;
		}
	}
}

/* goRegExp `^(?:[\w\-\.]+\/)+(.+)`: the rest after the last leading
 * path element, or NULL. */
static const char *go_short(const char *s)
{
	const char *last = NULL, *p = s;
	for (;;) {
		const char *q = p;
		while (is_word(*q) || *q == '-' || *q == '.')
			q++;
		if (q == p || *q != '/')
			break;
		p = q + 1;
		if (*p)
			last = p;
	}
	return last;
}

/* javaRegExp: package.Class.method( -> Class.method; length in *n. */
static const char *java_short(const char *s, size_t *n)
{
	const char *p = s;
	for (;;) {
		if (!is_lower(*p))
			break;
		const char *q = p + 1;
		while (is_word(*q))
			q++;
		if (*q != '.')
			break;
		p = q + 1;
	}
	if (!is_upper(*p))
		return NULL;
	const char *start = p, *q = p + 1;
	while (is_word(*q) || *q == '$')
		q++;
	if (*q != '.')
		return NULL;
	q++;
	if (strncmp(q, "<init>", 6) == 0) {
		q += 6;
	} else if (is_lower(*q)) {
		q++;
		while (is_word(*q) || *q == '$')
			q++;
	} else {
		return NULL;
	}
	if (*q != '(' && *q != 0)
		return NULL;
	*n = (size_t)(q - start);
	return start;
}

/* The class part of cppRegExp at p: `_*[A-Z]\w*::~?[_a-zA-Z]\w*(?:<.*>)?`. */
static const char *cpp_tail(const char *p)
{
	while (*p == '_')
		p++;
	if (!is_upper(*p))
		return NULL;
	p++;
	while (is_word(*p))
		p++;
	if (p[0] != ':' || p[1] != ':')
		return NULL;
	p += 2;
	if (*p == '~')
		p++;
	if (!(is_word(*p) && !(*p >= '0' && *p <= '9')))
		return NULL;
	p++;
	while (is_word(*p))
		p++;
	if (*p == '<') {
		const char *gt = strrchr(p, '>');
		if (gt && !memchr(p, '\n', (size_t)(gt - p)))
			p = gt + 1;
	}
	return p;
}

/* cppRegExp `^(?:[_a-zA-Z]\w*::)+(class::method<...>)`; length in *n. */
static const char *cpp_short(const char *s, size_t *n)
{
	const char *bounds[64];
	size_t nb = 0;
	const char *p = s;
	while (nb < 64) {
		if (!(is_word(*p) && !(*p >= '0' && *p <= '9')))
			break;
		const char *q = p + 1;
		while (is_word(*q))
			q++;
		if (q[0] != ':' || q[1] != ':')
			break;
		p = q + 2;
		bounds[nb++] = p;
	}
	while (nb > 0) {
		const char *start = bounds[--nb], *end = cpp_tail(start);
		if (end) {
			*n = (size_t)(end - start);
			return start;
		}
	}
	return NULL;
}

char *cpr_shorten_name(const char *name)
{
	static const char anon[] = "(anonymous namespace)::";
	if (strncmp(name, anon, sizeof anon - 1) == 0)
		name += sizeof anon - 1;
	char *s = strdup(name);
	if (!s)
		return NULL;
	strip_go_version(s);
	const char *r;
	size_t n;
	if ((r = go_short(s)) != NULL) {
		n = strlen(r);
	} else if ((r = java_short(s, &n)) == NULL && (r = cpp_short(s, &n)) == NULL) {
		return s;
	}
	memmove(s, r, n);
	s[n] = 0;
	return s;
}

/* multilinePrintableName, escaped: the name split at "::" and ".", then
 * file:line, file, [object] or <unknown>, each line ended by "\n". */
static void put_multiline_name(FILE *f, const cpr_graph *g, const cpr_ninfo *k)
{
	const cprof_profile *p = g->infos.p;
	if (k->address)
		fprintf(f, "%016" PRIx64 "\\n", k->address);
	if (k->name) {
		char *s = cpr_shorten_name(cprof_s(p, k->name));
		const char *src = s ? s : cprof_s(p, k->name);
		for (const char *q = src; *q; q++) {
			if (q[0] == ':' && q[1] == ':') {
				fputs("\\n", f);
				q++;
			} else if (strncmp(q, "[...]", 5) == 0) {
				fputs("[\xe2\x80\xa6]", f);
				q += 4;
			} else if (*q == '.') {
				fputs("\\n", f);
			} else if (*q == '\\' || *q == '"') {
				fputc('\\', f);
				fputc(*q, f);
			} else if (*q == '\n') {
				fputs("\\l", f);
			} else {
				fputc(*q, f);
			}
		}
		free(s);
		fputs("\\n", f);
	}
	const char *file = k->file ? cprof_s(p, k->file) : "";
	const char *base = strrchr(file, '/');
	base = base && base[1] ? base + 1 : file;
	if (k->lineno != 0) {
		put_escaped_str(f, base);
		fprintf(f, ":%" PRId64 "\\n", k->lineno);
	} else if (*file) {
		put_escaped_str(f, base);
		fputs("\\n", f);
	} else if (k->name) {
		/* the name says it all */
	} else if (k->objfile) {
		const char *o = cprof_s(p, k->objfile), *ob = strrchr(o, '/');
		fputc('[', f);
		put_escaped_str(f, ob && ob[1] ? ob + 1 : o);
		fputs("]\\n", f);
	} else {
		fputs("<unknown>\\n", f);
	}
}

/* ---- colours and sizes -------------------------------------------------- */

/* dotColor: grey for small shares, shifting to red (positive) or green
 * (negative) as |score| grows. */
static void dot_color(char *buf, size_t n, double score, bool background)
{
	const double shift = 0.7;
	double saturation = background ? 0.1 : 1.0, value = background ? 0.93 : 0.7;
	if (isnan(score))
		score = 0;
	score = fmax(-1.0, fmin(1.0, score));
	if (fabs(score) < 0.2)
		saturation *= fabs(score) / 0.2;
	if (score > 0.0)
		score = pow(score, 1.0 - shift);
	if (score < 0.0)
		score = -pow(-score, 1.0 - shift);
	double r, gr, b;
	if (score < 0.0) {
		gr = value;
		r = value * (1 + saturation * score);
	} else {
		r = value;
		gr = value * (1 - saturation * score);
	}
	b = value * (1 - saturation);
	snprintf(buf, n, "#%02x%02x%02x", (unsigned)(uint8_t)(int64_t)(r * 255.0),
		 (unsigned)(uint8_t)(int64_t)(gr * 255.0), (unsigned)(uint8_t)(int64_t)(b * 255.0));
}

static const char *pct_trim(char *buf, size_t n, int64_t v, int64_t total)
{
	cpr_percentage(buf, n, v, total);
	const char *s = buf;
	while (*s == ' ')
		s++;
	return s;
}

/* ---- nodes ----------------------------------------------------------------- */

static void add_node(cpr_ctx *c, FILE *f, const cpr_graph *g, const cpr_node *nd, int id,
		     double max_flat)
{
	char fv[CPR_LBL], cv[CPR_LBL], pct[CPR_LBL], col[16], fcol[16];
	int64_t flat = cpr_node_flat(nd), cum = cpr_node_cum(nd);
	fprintf(f, "N%d [label=\"", id);
	put_multiline_name(f, g, &g->infos.v[nd->info]);
	cpr_format_value(c, fv, sizeof fv, flat);
	if (flat != 0)
		fprintf(f, "%s (%s)", fv, pct_trim(pct, sizeof pct, flat, c->total));
	else
		fputc('0', f);
	const char *cum_s = fv;
	if (cum != flat) {
		fputs(flat != 0 ? "\\n" : " ", f);
		cum_s = cpr_format_value(c, cv, sizeof cv, cum);
		fprintf(f, "of %s (%s)", cum_s, pct_trim(pct, sizeof pct, cum, c->total));
	}
	int font = 8;
	/* pprof's growth with the flat value; |INT64_MIN| wraps negative (as in
	 * Go), whose square root is NaN: no growth then, never an int of NaN */
	double grow = max_flat != 0 && flat != 0 ? (double)cpr_abs64(flat) / max_flat : 0;
	if (grow > 0 && grow <= 1)
		font += (int)ceil(16.0 * sqrt(grow));
	double share = (double)cum / (double)cpr_abs64(c->total);
	dot_color(col, sizeof col, share, false);
	dot_color(fcol, sizeof fcol, share, true);
	fprintf(f, "\" id=\"node%d\" fontsize=%d shape=box tooltip=\"", id, font);
	put_escaped(f, cpr_node_name(g, nd), cpr_info_name_len(&g->infos, nd->info));
	fprintf(f, " (%s)\" color=\"%s\" fillcolor=\"%s\"]\n", cum_s, col, fcol);
}

/* A tag as ComposeDot handles it (collapsed groups carry their own name). */
typedef struct dtag {
	const char *name;
	cprof_str lbl;
	const char *unit;
	int64_t value;
	int64_t flat, flat_div, cum, cum_div;
} dtag;

static int64_t dtag_flat(const dtag *t)
{
	return t->flat_div ? t->flat / t->flat_div : t->flat;
}

static int64_t dtag_cum(const dtag *t)
{
	return t->cum_div ? t->cum / t->cum_div : t->cum;
}

/* SortTags: |cum| (unless flat), |flat| descending, then name. */
static int cmp_tags(const void *pa, const void *pb, void *arg)
{
	const dtag *x = pa, *y = pb;
	bool flat = *(const bool *)arg;
	if (!flat && x->cum != y->cum)
		return cpr_abs64(x->cum) > cpr_abs64(y->cum) ? -1 : cpr_abs64(x->cum) < cpr_abs64(y->cum) ? 1 : 0;
	if (x->flat != y->flat)
		return cpr_abs64(x->flat) > cpr_abs64(y->flat) ? -1 : cpr_abs64(x->flat) < cpr_abs64(y->flat) ? 1 : 0;
	return strcmp(x->name, y->name);
}

static void sort_tags(dtag *v, size_t n, bool flat)
{
	qsort_r(v, n, sizeof *v, cmp_tags, &flat);
}

static double scale_to(int64_t v, const char *from, const char *to)
{
	const char *u;
	return cpr_scale(v, from, to, &u);
}

/* collapsedTags: at most `count` tags; the rest join the group of the head
 * tag nearest in value, and groups are named "min..max".  names holds the
 * group names (count * CPR_LBL * 2 bytes).  Returns the number of tags. */
static size_t collapse_tags(dtag *ts, size_t n, size_t count, bool flat, char *names)
{
	sort_tags(ts, n, flat);
	if (n <= count)
		return n;
	size_t *grp = calloc(n, sizeof *grp);
	if (!grp)
		return count;
	for (size_t i = count; i < n; i++) {
		size_t best = 0;
		double bd = 0;
		for (size_t h = 0; h < count; h++) {
			double v = scale_to(ts[h].value, ts[h].unit, ts[i].unit);
			double d = v < (double)ts[i].value ? (double)ts[i].value - v : v - (double)ts[i].value;
			if (h == 0 || d < bd) {
				best = h;
				bd = d;
			}
		}
		grp[i] = best;
	}
	dtag out[MAX_NODELETS];
	for (size_t h = 0; h < count; h++) {
		const dtag *mn = &ts[h], *mx = &ts[h];
		int64_t fl = ts[h].flat, fd = ts[h].flat_div, cu = ts[h].cum, cd = ts[h].cum_div;
		size_t members = 1;
		for (size_t i = count; i < n; i++) {
			if (grp[i] != h)
				continue;
			const dtag *t = &ts[i];
			members++;
			if ((int64_t)scale_to(t->value, t->unit, mn->unit) < mn->value)
				mn = t;
			if ((int64_t)scale_to(t->value, t->unit, mx->unit) > mx->value)
				mx = t;
			fl += t->flat;
			fd += t->flat_div;
			cu += t->cum;
			cd += t->cum_div;
		}
		char *nm = names + h * CPR_LBL * 2;
		if (members == 1) {
			cpr_label(nm, CPR_LBL * 2, ts[h].value, ts[h].unit);
			fl = dtag_flat(&ts[h]);
			cu = dtag_cum(&ts[h]);
		} else {
			char a[CPR_LBL], b[CPR_LBL];
			snprintf(nm, CPR_LBL * 2, "%s..%s", cpr_label(a, sizeof a, mn->value, mn->unit),
				 cpr_label(b, sizeof b, mx->value, mx->unit));
			if (fd)
				fl /= fd;
			if (cd)
				cu /= cd;
		}
		out[h] = (dtag){ .name = nm, .flat = fl, .cum = cu };
	}
	free(grp);
	memcpy(ts, out, count * sizeof *out);
	sort_tags(ts, count, flat);
	return count;
}

/* One nodelet: a box node N<key>_<j> labelled name, and its edge from
 * node `from` weighted w (attr: extra edge attributes, "" for none). */
static void nodelet(cpr_ctx *c, FILE *f, const char *from, const char *key, size_t j,
		    const char *name, int64_t w, const char *attr)
{
	char wv[CPR_LBL];
	cpr_format_value(c, wv, sizeof wv, w);
	fprintf(f, "N%s_%zu [label = \"%s\" id=\"N%s_%zu\" fontsize=8 shape=box3d tooltip=\"%s\"]\n",
		key, j, name, key, j, wv);
	fprintf(f, "%s -> N%s_%zu [label=\" %s\" weight=100 tooltip=\"%s\" labeltooltip=\"%s\"%s]\n",
		from, key, j, wv, wv, wv, attr);
}

/* numericNodelets of the tags ts[0..n) hanging from source. */
static bool numeric_nodelets(cpr_ctx *c, FILE *f, dtag *ts, size_t n, bool flat,
			     const char *source)
{
	char names[MAX_NODELETS * CPR_LBL * 2];
	bool any = false;
	n = collapse_tags(ts, n, MAX_NODELETS, flat, names);
	for (size_t j = 0; j < n; j++) {
		const dtag *t = &ts[j];
		int64_t w = dtag_cum(t);
		const char *attr = " style=\"dotted\"";
		if (flat || dtag_flat(t) == dtag_cum(t)) {
			w = dtag_flat(t);
			attr = "";
		}
		if (w == 0)
			continue;
		nodelet(c, f, source, source, j, t->name, w, attr);
		any = true;
	}
	return any;
}

/* The numeric tags of node nd under label set lbl, as dtags. */
static size_t numeric_of(const cpr_graph *g, size_t ni, cprof_str lbl, dtag *out)
{
	const cprof_profile *p = g->infos.p;
	size_t n = 0;
	for (uint32_t k = g->tag_off[ni]; k < g->tag_off[ni + 1]; k++) {
		const cpr_tag *t = &g->tags[k];
		if (!t->numeric || t->lbl != lbl)
			continue;
		out[n++] = (dtag){ .name = cprof_s(p, t->name), .lbl = t->lbl,
				   .unit = cprof_s(p, t->unit), .value = t->value, .flat = t->flat,
				   .flat_div = t->flat_div, .cum = t->cum, .cum_div = t->cum_div };
	}
	return n;
}

/* addNodelets: the node's top label tags (each with its numeric tags) and
 * its unlabelled numeric tags.  Returns whether any was printed. */
static int add_nodelets(cpr_ctx *c, FILE *f, const cpr_graph *g, size_t ni, int id, bool *any)
{
	const cprof_profile *p = g->infos.p;
	const cpr_node *nd = &g->nodes[ni];
	size_t nt = g->tag_off[ni + 1] - g->tag_off[ni];
	*any = false;
	if (nt == 0)
		return 0;
	dtag *ts = calloc(nt, sizeof *ts), *nts = calloc(nt, sizeof *nts);
	if (!ts || !nts) {
		free(ts);
		free(nts);
		return CPROF_ENOMEM;
	}
	size_t nl = 0;
	for (uint32_t k = g->tag_off[ni]; k < g->tag_off[ni + 1]; k++) {
		const cpr_tag *t = &g->tags[k];
		if (t->numeric)
			continue;
		ts[nl++] = (dtag){ .name = cprof_s(p, t->name), .lbl = t->lbl, .flat = t->flat,
				   .flat_div = t->flat_div, .cum = t->cum, .cum_div = t->cum_div };
	}
	bool flat = nd->nout > 0;
	sort_tags(ts, nl, flat);
	if (nl > MAX_NODELETS)
		nl = MAX_NODELETS;
	char node[32], key[24];         /* the node's name N<id>; <id> */
	snprintf(node, sizeof node, "N%d", id);
	snprintf(key, sizeof key, "%d", id);
	for (size_t i = 0; i < nl; i++) {
		const dtag *t = &ts[i];
		int64_t w = flat ? dtag_flat(t) : dtag_cum(t);
		if (w == 0)
			continue;
		nodelet(c, f, node, key, i, t->name, w, "");
		*any = true;
		size_t nn = numeric_of(g, ni, t->lbl, nts);
		if (nn) {
			char src[48];
			snprintf(src, sizeof src, "N%d_%zu", id, i);
			numeric_nodelets(c, f, nts, nn, flat, src);
		}
	}
	size_t nn = numeric_of(g, ni, 0, nts);
	if (nn)
		*any |= numeric_nodelets(c, f, nts, nn, flat, node);
	free(ts);
	free(nts);
	return 0;
}

/* ---- edges ------------------------------------------------------------------ */

static void add_edge(cpr_ctx *c, FILE *f, const cpr_graph *g, uint32_t ei, uint32_t from,
		     uint32_t to, bool nodelets)
{
	const cpr_edge *e = &g->edges[ei];
	int64_t wv = cpr_edge_weight(g, ei);
	char w[CPR_LBL], col[16];
	cpr_format_value(c, w, sizeof w, wv);
	fprintf(f, "N%" PRIu32 " -> N%" PRIu32 " [label=\" %s%s\"", from, to, w,
		e->inl ? "\\n (inline)" : "");
	if (c->total != 0) {
		int64_t t = c->total;
		int64_t a = cpr_abs64(cpr_div64((int64_t)((uint64_t)wv * 100u), t));
		int64_t weight = 1 + (a < 100 ? a : 100);
		if (weight > 1)
			fprintf(f, " weight=%" PRId64, weight);
		a = cpr_abs64(cpr_div64((int64_t)((uint64_t)wv * 5u), t));
		int64_t width = 1 + (a < 5 ? a : 5);
		if (width > 1)
			fprintf(f, " penwidth=%" PRId64, width);
		dot_color(col, sizeof col, (double)wv / (double)cpr_abs64(t), false);
		fprintf(f, " color=\"%s\"", col);
	}
	const char *arrow = e->residual ? "..." : "->";
	for (int k = 0; k < 2; k++) {
		fputs(k ? " labeltooltip=\"" : " tooltip=\"", f);
		put_escaped(f, cpr_info_name(&g->infos, e->src), cpr_info_name_len(&g->infos, e->src));
		fprintf(f, " %s ", arrow);
		put_escaped(f, cpr_info_name(&g->infos, e->dst), cpr_info_name_len(&g->infos, e->dst));
		fprintf(f, " (%s)\"", w);
	}
	if (e->residual)
		fputs(" style=\"dotted\"", f);
	if (nodelets)
		fputs(" minlen=2", f);
	fputs("]\n", f);
}

/* ---- the DOT document ------------------------------------------------------- */

/* The graph's title: -title, else the base name of the main binary (pprof
 * sets it from the first mapping).  buf holds a base name with its
 * trailing slashes dropped. */
static const char *graph_title(const cpr_ctx *c, char *buf, size_t n)
{
	if (c->o->title && *c->o->title)
		return c->o->title;
	const cprof_profile *p = c->p;
	if (p->mappings.n == 0 || !p->mappings.v[0].file)
		return "";
	const char *s = cprof_s(p, p->mappings.v[0].file);
	size_t len = strlen(s);
	if (len == 0)           /* a name that starts with a NUL byte */
		return "";
	while (len > 1 && s[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && s[start - 1] != '/')
		start--;
	if (start == len)       /* "/" */
		start = len - 1;
	snprintf(buf, n, "%.*s", (int)(len - start), s + start);
	return buf;
}

/* ComposeDot into f. */
static int compose(cpr_ctx *c, const cpr_graph *g, FILE *f)
{
	char tbuf[256];
	const char *title = graph_title(c, tbuf, sizeof tbuf);
	fputs("digraph \"", f);
	put_escaped_str(f, *title ? title : "unnamed");
	fputs("\" {\n", f);
	fputs("node [style=filled fillcolor=\"#f8f8f8\"]\n", f);

	/* the legend: the report labels, one per line */
	char *lbl = NULL;
	size_t lbl_len = 0;
	FILE *lf = open_memstream(&lbl, &lbl_len);
	if (!lf)
		return CPROF_ENOMEM;
	cpr_print_report_labels(c, g, true, lf);
	if (fclose(lf) != 0) {
		free(lbl);
		return CPROF_ENOMEM;
	}
	if (lbl_len > 0) {
		const char *nl = memchr(lbl, '\n', lbl_len);
		size_t first = nl ? (size_t)(nl - lbl) : lbl_len;
		fputs("subgraph cluster_L { \"", f);
		put_escaped(f, lbl, first);
		fputs("\" [shape=box fontsize=16 label=\"", f);
		size_t start = 0;
		for (size_t i = 0; i <= lbl_len; i++) {
			if (i < lbl_len && lbl[i] != '\n')
				continue;
			if (i == lbl_len && i == start)
				break;
			put_escaped(f, lbl + start, i - start);
			fputs("\\l", f);
			start = i + 1;
		}
		fputc('"', f);
		if (*title) {
			fputs(" tooltip=\"", f);
			put_escaped_str(f, title);
			fputc('"', f);
		}
		fputs("] }\n", f);
	}
	free(lbl);

	int rc = 0;
	bool *has = calloc(g->nnodes ? g->nnodes : 1, sizeof *has);
	if (!has)
		return CPROF_ENOMEM;
	double max_flat = 0;
	for (size_t i = 0; i < g->nnodes; i++) {
		double v = (double)cpr_abs64(cpr_node_flat(&g->nodes[i]));
		if (i == 0 || v > max_flat)
			max_flat = v;
	}
	size_t nout = 0;
	for (size_t i = 0; i < g->nnodes && !rc; i++) {
		add_node(c, f, g, &g->nodes[i], (int)i + 1, max_flat);
		if (g->tag_off)
			rc = add_nodelets(c, f, g, i, (int)i + 1, &has[i]);
		nout += g->nodes[i].nout;
	}
	uint32_t *ev = malloc((nout ? nout : 1) * sizeof *ev);
	if (!ev)
		rc = CPROF_ENOMEM;
	if (!rc) {
		size_t k = 0;
		for (size_t i = 0; i < g->nnodes; i++) {
			const cpr_node *nd = &g->nodes[i];
			memcpy(ev + k, g->out_edges + nd->out_off, nd->nout * sizeof *ev);
			k += nd->nout;
		}
		cpr_sort_edges(g, ev, k);
		for (size_t i = 0; i < k; i++) {
			const cpr_edge *e = &g->edges[ev[i]];
			uint32_t s = g->node_of[e->src], d = g->node_of[e->dst];
			add_edge(c, f, g, ev[i], s == CPR_NIL ? 0 : s + 1, d == CPR_NIL ? 0 : d + 1,
				 s != CPR_NIL && has[s]);
		}
	}
	free(ev);
	free(has);
	fputs("}\n", f);
	return rc;
}

/* ---- rendering through Graphviz ------------------------------------------- */

/* Our pan and zoom for the SVG graph: drag to pan, wheel to zoom around
 * the pointer, on the <g id="viewport"> group. */
static const char PANZOOM_JS[] =
	"(function(){\n"
	"var svg=document.documentElement,vp=null,s=0.5,tx=0,ty=0,drag=null;\n"
	"function apply(){vp.setAttribute('transform','translate('+tx+','+ty+') scale('+s+','+s+')');}\n"
	"function pt(e){var r=svg.getBoundingClientRect();return [e.clientX-r.left,e.clientY-r.top];}\n"
	"window.addEventListener('load',function(){vp=document.getElementById('viewport');if(!vp)return;apply();\n"
	"svg.addEventListener('wheel',function(e){e.preventDefault();var p=pt(e),k=e.deltaY<0?1.25:0.8;\n"
	"tx=p[0]-(p[0]-tx)*k;ty=p[1]-(p[1]-ty)*k;s*=k;apply();},{passive:false});\n"
	"svg.addEventListener('mousedown',function(e){if(e.button!==0)return;drag=pt(e);drag.push(tx,ty);});\n"
	"svg.addEventListener('mousemove',function(e){if(!drag)return;var p=pt(e);tx=drag[2]+p[0]-drag[0];ty=drag[3]+p[1]-drag[1];apply();});\n"
	"window.addEventListener('mouseup',function(){drag=null;});});\n"
	"})();\n";

/* svg.Massage: fill the window, add the script and a viewport group
 * around dot's graph group. */
static void write_svg(FILE *out, char *svg, size_t n)
{
	/* dot sometimes leaves "&;" unquoted */
	const char *p = svg, *end = svg + n;
	const char *vb = strstr(svg, "<svg width=\"");
	const char *vbend = NULL;
	if (vb) {
		const char *h = strstr(vb, "height=\""), *v = h ? strstr(h, "viewBox=\"") : NULL;
		if (v && (v = strchr(v + 9, '"')) != NULL)
			vbend = v + 1;
	}
	const char *gid = strstr(svg, "<g id=\"graph");
	const char *close = NULL;
	for (const char *q = svg; (q = strstr(q, "</svg>")) != NULL; q++) {
		close = q;
		break;
	}
	while (p < end) {
		if (vb && p == vb && vbend) {
			fputs("<svg width=\"100%\" height=\"100%\"", out);
			p = vbend;
			continue;
		}
		if (gid && p == gid) {
			fputs("<script type=\"text/ecmascript\"><![CDATA[", out);
			fputs(PANZOOM_JS, out);
			fputs("]]></script><g id=\"viewport\" transform=\"scale(0.5,0.5) translate(0,0)\">", out);
			gid = NULL;
		}
		if (close && p == close) {
			fputs("</g>", out);
			close = NULL;
		}
		if (p[0] == '&' && p + 1 < end && p[1] == ';') {
			fputs("&amp;;", out);
			p += 2;
			continue;
		}
		fputc(*p++, out);
	}
}

static const char *dot_type(int format)
{
	switch (format) {
	case CPROF_FMT_SVG: return "-Tsvg";
	case CPROF_FMT_PNG: return "-Tpng";
	case CPROF_FMT_PDF: return "-Tpdf";
	case CPROF_FMT_PS: return "-Tps";
	case CPROF_FMT_GIF: return "-Tgif";
	default: return NULL;
	}
}

/* Run dot over the DOT text and write its output to c->out. */
static int render(cpr_ctx *c, const char *text, size_t len, cprof_error *err)
{
	const char *dot = getenv("CPROF_DOT");
	if (!dot || !*dot)
		dot = "dot";
	int in = memfd_create("cprof-dot", MFD_CLOEXEC);
	if (in < 0)
		return cprof_seterr(err, CPROF_EIO, "graph: %s", strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(in, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(in);
			return cprof_seterr(err, CPROF_EIO, "graph: %s", strerror(errno));
		}
		off += (size_t)w;
	}
	lseek(in, 0, SEEK_SET);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		close(in);
		return cprof_seterr(err, CPROF_EIO, "graph: %s", strerror(errno));
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	char *argv[] = { (char *)dot, (char *)dot_type(c->o->format), NULL };
	pid_t pid;
	fflush(c->out);
	int sr = posix_spawnp(&pid, dot, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in);
	close(pfd[1]);
	if (sr != 0) {
		close(pfd[0]);
		return cprof_seterr(err, CPROF_EIO, "could not execute %s; install graphviz", dot);
	}
	bool svg = c->o->format == CPROF_FMT_SVG;
	char *buf = NULL;
	size_t blen = 0, bcap = 0;
	int rc = 0;
	char chunk[65536];
	for (;;) {
		ssize_t r = read(pfd[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (!svg) {
			fwrite(chunk, 1, (size_t)r, c->out);
			continue;
		}
		if (blen + (size_t)r + 1 > bcap) {
			size_t nc = bcap ? bcap * 2 : sizeof chunk * 4;
			while (nc < blen + (size_t)r + 1)
				nc *= 2;
			char *nb = realloc(buf, nc);
			if (!nb) {
				rc = CPROF_ENOMEM;
				break;
			}
			buf = nb;
			bcap = nc;
		}
		memcpy(buf + blen, chunk, (size_t)r);
		blen += (size_t)r;
	}
	close(pfd[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
			rc = cprof_seterr(err, CPROF_EIO, "could not execute %s; install graphviz", dot);
		else
			rc = cprof_seterr(err, CPROF_EIO, "%s failed (status %d) rendering the graph", dot,
					  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	} else if (rc == 0 && svg && buf) {
		buf[blen] = 0;
		write_svg(c->out, buf, blen);
	} else if (rc < 0) {
		rc = cprof_seterr(err, rc, "out of memory reading dot's output");
	}
	free(buf);
	return rc;
}

int cpr_print_dot(cpr_ctx *c, cprof_error *err)
{
	cpr_gopts go;
	cpr_gopts_init(&go, c);
	go.visual = true;
	go.tags = true;
	go.call_tree = c->o->call_tree;
	cpr_graph g;
	int rc = cpr_graph_build(c, &go, &g, err);
	if (rc < 0)
		return rc;
	cpr_select_output_unit(c, &g, false);
	if (c->o->format == CPROF_FMT_DOT) {
		rc = compose(c, &g, c->out);
		cpr_graph_free(&g);
		return rc < 0 ? cprof_seterr(err, rc, "out of memory writing the graph") : 0;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		cpr_graph_free(&g);
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory writing the graph");
	}
	rc = compose(c, &g, f);
	cpr_graph_free(&g);
	if (fclose(f) != 0 && rc == 0)
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		free(text);
		return cprof_seterr(err, rc, "out of memory writing the graph");
	}
	rc = render(c, text, len, err);
	free(text);
	return rc;
}
