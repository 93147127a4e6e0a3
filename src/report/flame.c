/*
 * flame.c - stacks as a tree: -folded (collapsed stacks), -flamegraph (a
 * self-contained interactive HTML page) and -flamesvg (a static SVG).
 *
 * -folded and -flamesvg start from the same merged call tree; -flamegraph
 * takes flametree.c's pruned tree (flame.h), which draws the same boxes
 * without building the rest.  Every sample's frames
 * are named as the graph reports name them (graph.c's node identities at the
 * report's granularity, inline frames as frames of their own), walked from
 * the root to the leaf, and merged into a trie: node 0 is the root, and a
 * node is found by (parent, identity) in one open-addressed index.  A node
 * is always created after its parent, so node indices are a topological
 * order: cum is summed from the highest index down in one pass.  The stack
 * table interns stacks, so the walk is done once per distinct stack and the
 * samples only add their value to the leaf node memoised for their stack.
 * Memory is that of the distinct stack prefixes (about 28 bytes a node),
 * not of the samples.
 *
 * The value of a sample is the selected sample index; with -mean it is the
 * sample's value divided by its value 0 (per sample, as -traces does);
 * -divide_by applies on output.  Samples without frames are left out.
 *
 * -folded prints one line per node with a nonzero self value, frames joined
 * by ';' from the root, children in byte order of their names (the order
 * FlameGraph's stackcollapse scripts produce).  A ';' inside a name is
 * replaced by ':' and a control character (line breaks, NUL) by a space,
 * so that every line splits back into the same frames; an empty name is
 * written as "?".  Negative
 * values (-diff_base) are printed as they are.
 *
 * -flamegraph writes web/flamegraph.css and web/flamegraph.js (embedded by
 * the build, see cpr_web_asset) and the tree as JSON in a
 * <script type="application/json"> element, children by cum descending.  To
 * keep the page small and fast, the children of a node whose cum is below
 * CPR_FLAME_PRUNE of the root's are merged into one "(other)" box per
 * parent; the number of boxes merged is in the data ("pruned") and shown on
 * the page.  -flamesvg draws boxes of at least 0.1 pixel, root at the
 * bottom, in flamegraph.pl's geometry, with a <title> tooltip per box.
 * Both colour a frame by its module -- the program or the library its
 * location maps to -- or, without one (and in a Go program, as pprof
 * does), by its package (Go package path, C++ namespace); the HTML's
 * script computes the same hue from the same string.
 */
#include "flame.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SVG_WIDTH 1200
#define SVG_FRAME 16
#define SVG_PAD 10
#define SVG_FONT 12
#define SVG_MINW 0.1

/* ---- the tree ---------------------------------------------------------------- */

typedef struct ftree {
	uint32_t *parent, *info;
	int64_t *self, *cum;
	uint32_t n, cap;
	uint32_t *hash;         /* node index + 1, 0 = empty */
	size_t hcap;
	/* children of node i: kids[koff[i] .. koff[i+1]) (after ft_children) */
	uint32_t *koff, *kids;
	uint32_t *depth;
	cpr_infos t;
	cprof_str *lib;         /* per identity: the basename of its mapping file */
} ftree;

#define mix cprof_hash_u64

static int ft_grow(ftree *f)
{
	if (f->n < f->cap)
		return 0;
	if (f->cap >= UINT32_MAX / 2)
		return CPROF_ELIMIT;
	uint32_t cap = f->cap ? f->cap * 2 : 1024;
	void *a = cpr_flame_realloc(f->parent, cap, sizeof *f->parent);
	if (!a)
		return CPROF_ENOMEM;
	f->parent = a;
	if (!(a = cpr_flame_realloc(f->info, cap, sizeof *f->info)))
		return CPROF_ENOMEM;
	f->info = a;
	if (!(a = cpr_flame_realloc(f->self, cap, sizeof *f->self)))
		return CPROF_ENOMEM;
	f->self = a;
	f->cap = cap;
	return 0;
}

static int ft_rehash(ftree *f, size_t cap)
{
	uint32_t *h = calloc(cap, sizeof *h);
	if (!h)
		return CPROF_ENOMEM;
	for (uint32_t i = 1; i < f->n; i++) {
		size_t k = mix(((uint64_t)f->parent[i] << 32) | f->info[i]) & (cap - 1);
		while (h[k])
			k = (k + 1) & (cap - 1);
		h[k] = i + 1;
	}
	free(f->hash);
	f->hash = h;
	f->hcap = cap;
	return 0;
}

/* The child of parent for identity info, created if absent; CPR_NIL on error. */
static uint32_t ft_child(ftree *f, uint32_t parent, uint32_t info, int *rc)
{
	if ((size_t)f->n * 2 >= f->hcap) {
		if (f->hcap > SIZE_MAX / 4 || (*rc = ft_rehash(f, f->hcap ? f->hcap * 2 : 4096)))
			return *rc = *rc ? *rc : CPROF_ENOMEM, CPR_NIL;
	}
	size_t k = mix(((uint64_t)parent << 32) | info) & (f->hcap - 1);
	for (;;) {
		uint32_t e = f->hash[k];
		if (!e)
			break;
		if (f->parent[e - 1] == parent && f->info[e - 1] == info)
			return e - 1;
		k = (k + 1) & (f->hcap - 1);
	}
	if ((*rc = ft_grow(f)))
		return CPR_NIL;
	uint32_t id = f->n++;
	f->parent[id] = parent;
	f->info[id] = info;
	f->self[id] = 0;
	f->hash[k] = id + 1;
	return id;
}

static void ft_free(ftree *f)
{
	free(f->parent);
	free(f->info);
	free(f->self);
	free(f->cum);
	free(f->hash);
	free(f->koff);
	free(f->kids);
	free(f->depth);
	free(f->lib);
	cpr_infos_free(&f->t);
	memset(f, 0, sizeof *f);
}

/* Build the tree of c->p's samples. */
static int ft_build(cpr_ctx *c, ftree *f, cprof_error *err)
{
	cprof_profile *p = c->p;
	memset(f, 0, sizeof *f);
	cpr_gopts go;
	cpr_gopts_init(&go, c);
	int rc = cpr_infos_build(&f->t, p, &go, err);
	if (rc < 0)
		return rc;
	size_t ns = cprof_nstacks(p);
	uint32_t *leaf = NULL, *path = NULL;
	size_t pcap = 0;
	if ((rc = ft_grow(f)))
		goto fail;
	f->parent[0] = CPR_NIL;
	f->info[0] = CPR_NIL;
	f->self[0] = 0;
	f->n = 1;
	leaf = malloc((ns ? ns : 1) * sizeof *leaf);
	if (!leaf) {
		rc = CPROF_ENOMEM;
		goto fail;
	}
	memset(leaf, 0xff, (ns ? ns : 1) * sizeof *leaf);
	if ((rc = cpr_flame_libs(p, &f->t, &f->lib)))
		goto fail;
	for (size_t i = 0; i < p->samples.n; i++) {
		uint32_t s = p->samples.v[i].stack;
		if (s >= ns)
			continue;
		if (leaf[s] == CPR_NIL) {
			const uint32_t *locs = cprof_stack_locs(p, s);
			size_t depth = cprof_stack_len(p, s), np = 0;
			for (size_t k = 0; k < depth; k++) {
				if (locs[k] >= p->locations.n)
					continue;
				uint32_t a = f->t.loc_off[locs[k]], b = f->t.loc_off[locs[k] + 1];
				size_t need = np + (b - a);
				if (need > pcap) {
					size_t cap = pcap ? pcap * 2 : 64;
					while (cap < need)
						cap *= 2;
					uint32_t *q = cpr_flame_realloc(path, cap, sizeof *path);
					if (!q) {
						rc = CPROF_ENOMEM;
						goto fail;
					}
					path = q;
					pcap = cap;
				}
				for (uint32_t j = a; j < b; j++)
					path[np++] = f->t.loc_info[j];
			}
			/* path is leaf first, innermost line first: walk it backwards */
			uint32_t node = 0;
			for (size_t k = np; k-- > 0;) {
				node = ft_child(f, node, path[k], &rc);
				if (node == CPR_NIL)
					goto fail;
			}
			leaf[s] = node;
		}
		if (leaf[s] == 0)
			continue;       /* no frames */
		int64_t v = cpr_value(c, i), d = cpr_meandiv(c, i);
		if (d != 0)
			v = (v == INT64_MIN && d == -1) ? v : v / d;
		f->self[leaf[s]] = cpr_add64(f->self[leaf[s]], v);
	}
	free(leaf);
	free(path);
	leaf = path = NULL;
	f->cum = malloc((size_t)f->n * sizeof *f->cum);
	f->depth = malloc((size_t)f->n * sizeof *f->depth);
	f->koff = calloc((size_t)f->n + 1, sizeof *f->koff);
	f->kids = malloc((size_t)f->n * sizeof *f->kids);
	if (!f->cum || !f->depth || !f->koff || !f->kids) {
		rc = CPROF_ENOMEM;
		goto fail;
	}
	memcpy(f->cum, f->self, (size_t)f->n * sizeof *f->cum);
	for (uint32_t i = f->n; i-- > 1;)
		f->cum[f->parent[i]] = cpr_add64(f->cum[f->parent[i]], f->cum[i]);
	f->depth[0] = 0;
	for (uint32_t i = 1; i < f->n; i++) {
		f->depth[i] = f->depth[f->parent[i]] + 1;
		f->koff[f->parent[i] + 1]++;
	}
	for (uint32_t i = 0; i < f->n; i++)
		f->koff[i + 1] += f->koff[i];
	/* fill, using depth-independent cursors kept in koff shifted by one */
	for (uint32_t i = 1; i < f->n; i++)
		f->kids[f->koff[f->parent[i]]++] = i;
	for (uint32_t i = f->n; i-- > 0;)
		f->koff[i + 1] = f->koff[i];
	f->koff[0] = 0;
	return 0;
fail:
	free(leaf);
	free(path);
	ft_free(f);
	if (rc == CPROF_ELIMIT)
		return cprof_seterr(err, rc, "too many distinct stacks for a flame graph");
	return err && err->code ? rc : cprof_seterr(err, rc < 0 ? rc : CPROF_ENOMEM, "out of memory building the stack tree");
}

static const char *ft_name(const ftree *f, uint32_t node, size_t *len)
{
	if (node == 0) {
		*len = 4;
		return "root";
	}
	*len = cpr_info_name_len(&f->t, f->info[node]);
	return cpr_info_name(&f->t, f->info[node]);
}

typedef struct sort_arg {
	const ftree *f;
	bool by_cum;
} sort_arg;

static int cmp_kids(const void *a, const void *b, void *arg)
{
	const sort_arg *s = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (s->by_cum && s->f->cum[x] != s->f->cum[y])
		return s->f->cum[x] > s->f->cum[y] ? -1 : 1;
	size_t lx, ly;
	const char *nx = ft_name(s->f, x, &lx), *ny = ft_name(s->f, y, &ly);
	int r = memcmp(nx, ny, lx < ly ? lx : ly);
	if (r)
		return r;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x < y ? -1 : 1;
}

static void ft_sort(ftree *f, bool by_cum)
{
	sort_arg s = { f, by_cum };
	for (uint32_t i = 0; i < f->n; i++)
		if (f->koff[i + 1] - f->koff[i] > 1)
			qsort_r(f->kids + f->koff[i], f->koff[i + 1] - f->koff[i], sizeof *f->kids,
				cmp_kids, &s);
}

/* ---- -folded --------------------------------------------------------------------- */

int cpr_print_folded(cpr_ctx *c, cprof_error *err)
{
	ftree f;
	int rc = ft_build(c, &f, err);
	if (rc < 0)
		return rc;
	ft_sort(&f, false);
	/* iterative DFS; plen[d] = length of the path text through depth d */
	size_t cap = 4096, *plen = NULL;
	char *buf = malloc(cap);
	uint32_t *stk = malloc((size_t)f.n * sizeof *stk);
	uint32_t maxd = 0;
	for (uint32_t i = 0; i < f.n; i++)
		if (f.depth[i] > maxd)
			maxd = f.depth[i];
	plen = malloc(((size_t)maxd + 2) * sizeof *plen);
	if (!buf || !stk || !plen) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory writing folded stacks");
		goto out;
	}
	size_t sp = 0;
	plen[0] = 0;
	for (uint32_t k = f.koff[1]; k-- > f.koff[0];)
		stk[sp++] = f.kids[k];
	while (sp) {
		uint32_t n = stk[--sp];
		uint32_t d = f.depth[n];
		size_t nl;
		const char *name = ft_name(&f, n, &nl);
		size_t at = plen[d - 1], need;
		if (__builtin_add_overflow(at, nl + 32, &need)) {
			rc = cprof_seterr(err, CPROF_ELIMIT, "stack too long");
			goto out;
		}
		if (need > cap) {
			while (cap < need)
				cap *= 2;
			char *b = realloc(buf, cap);
			if (!b) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory writing folded stacks");
				goto out;
			}
			buf = b;
		}
		if (d > 1)
			buf[at++] = ';';
		if (nl == 0)
			buf[at++] = '?';
		for (size_t i = 0; i < nl; i++) {
			char ch = name[i];
			buf[at++] = ch == ';' ? ':' : ((unsigned char)ch < 0x20 && ch != '\t') ? ' ' : ch;
		}
		plen[d] = at;
		int64_t v = cpr_flame_out_value(c, f.self[n]);
		if (v != 0) {
			fwrite_unlocked(buf, 1, at, c->out);
			fprintf(c->out, " %" PRId64 "\n", v);
		}
		for (uint32_t k = f.koff[n + 1]; k-- > f.koff[n];)
			stk[sp++] = f.kids[k];
	}
out:
	free(buf);
	free(stk);
	free(plen);
	ft_free(&f);
	return rc;
}

/* ---- shared by the HTML and the SVG ------------------------------------------------ */

/* FNV-1a over the package: the same hash as flamegraph.js's hue(). */
static uint32_t hue_of(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static const char *ft_lib(const ftree *f, uint32_t node)
{
	if (node == 0 || !f->lib[f->info[node]])
		return NULL;
	return cprof_s(f->t.p, f->lib[f->info[node]]);
}

/* Write s[0..n) escaped for XML text and attributes. */
static void xml_escape(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		switch (ch) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default:
			if (ch < 0x20 && ch != '\t')
				putc(' ', out);
			else
				putc(ch, out);
		}
	}
}

/* ---- -flamegraph (HTML) ----------------------------------------------------------- */

/* The page around the data of flametree.c. */
static int print_html(cpr_ctx *c, cprof_error *err)
{
	FILE *out = c->out;
	size_t csslen = 0, jslen = 0;
	const char *css = cpr_web_asset("flamegraph.css", &csslen);
	const char *js = cpr_web_asset("flamegraph.js", &jslen);
	if (!css || !js)
		return cprof_seterr(err, CPROF_EINVAL, "the flame graph's web assets are not built in");
	cpr_flame_data d;
	int rc = cpr_flame_data_build(c, &d, err);
	if (rc < 0)
		return rc;
	const char *title = cpr_flame_title(c);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	      out);
	xml_escape(out, title, strlen(title));
	fputs(" - flame graph</title>\n<style>\n", out);
	fwrite(css, 1, csslen, out);
	fputs("</style>\n</head>\n<body>\n<div id=\"flamegraph\"></div>\n"
	      "<script type=\"application/json\" id=\"flamegraph-data\">", out);
	fwrite(d.head, 1, d.headlen, out);
	/* preorder: name index, self, cum, number of children */
	fputs(",\"nodes\":[", out);
	for (uint32_t i = 0; i < d.n; i++)
		fprintf(out, "%s%" PRIu32 ",%" PRId64 ",%" PRId64 ",%" PRIu32, i ? "," : "", d.name[i],
			d.self[i], d.cum[i], d.nkids[i]);
	fputs("],\"names\":[", out);
	for (size_t i = 0; i < d.nnames; i++) {
		if (i)
			putc(',', out);
		cpr_flame_json_str(out, d.names[i].s, d.names[i].len);
	}
	fputs("],\"namePackage\":[", out);
	for (size_t i = 0; i < d.nnames; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", d.name_pkg[i]);
	fputs("],\"packages\":[", out);
	for (size_t i = 0; i < d.npkgs; i++) {
		if (i)
			putc(',', out);
		cpr_flame_json_str(out, d.pkgs[i].s, d.pkgs[i].len);
	}
	fprintf(out, "],\"pruned\":{\"fraction\":%g,\"boxes\":%zu}}", CPR_FLAME_PRUNE, d.pruned);
	fputs("</script>\n<script>\n", out);
	fwrite(js, 1, jslen, out);
	fputs("</script>\n<script>\nvar flamegraph = cprofFlameGraph.mount(document.getElementById(\"flamegraph\"),\n"
	      "  JSON.parse(document.getElementById(\"flamegraph-data\").textContent));\n"
	      "</script>\n</body>\n</html>\n", out);
	cpr_flame_data_free(&d);
	return 0;
}

/* ---- -flamesvg ----------------------------------------------------------------------- */

/* hsl -> "rgb(r,g,b)" */
static void svg_colour(char *buf, size_t n, uint32_t h)
{
	double hue = (double)(h % 360), s = 0.55 + (double)((h >> 9) % 20) / 100,
	       l = 0.62 + (double)((h >> 17) % 10) / 100;
	double cc = (1 - fabs(2 * l - 1)) * s, hp = hue / 60;
	double x = cc * (1 - fabs(fmod(hp, 2) - 1)), r = 0, g = 0, b = 0;
	if (hp < 1) { r = cc; g = x; }
	else if (hp < 2) { r = x; g = cc; }
	else if (hp < 3) { g = cc; b = x; }
	else if (hp < 4) { g = x; b = cc; }
	else if (hp < 5) { r = x; b = cc; }
	else { r = cc; b = x; }
	double m = l - cc / 2;
	snprintf(buf, n, "rgb(%d,%d,%d)", (int)lround((r + m) * 255), (int)lround((g + m) * 255),
		 (int)lround((b + m) * 255));
}

static int print_svg(cpr_ctx *c, ftree *f, cprof_error *err)
{
	FILE *out = c->out;
	ft_sort(f, false);
	int64_t total = f->cum[0];
	uint32_t maxd = 0;
	for (uint32_t i = 0; i < f->n; i++)
		if (f->depth[i] > maxd && f->cum[i] > 0)
			maxd = f->depth[i];
	double scale = total > 0 ? (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)total : 0;
	int height = (int)(maxd + 1) * SVG_FRAME + 3 * SVG_PAD + 2 * SVG_FONT + 8;
	int ybase = height - SVG_PAD - SVG_FONT - 4;      /* bottom of the root box */
	const char *title = cpr_flame_title(c);
	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n", SVG_WIDTH, height, SVG_WIDTH, height);
	fprintf(out, "<style>text{font-family:Verdana,\"DejaVu Sans\",sans-serif;font-size:%dpx;fill:#000}"
		"rect{stroke:#fff;stroke-width:0.5}.title{font-size:%dpx;text-anchor:middle}</style>\n",
		SVG_FONT, SVG_FONT + 5);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f8\" stroke=\"none\"/>\n",
		SVG_WIDTH, height);
	fprintf(out, "<text class=\"title\" x=\"%d\" y=\"%d\">", SVG_WIDTH / 2, SVG_PAD + SVG_FONT + 2);
	xml_escape(out, title, strlen(title));
	fputs(" - ", out);
	xml_escape(out, c->sample_type, strlen(c->sample_type));
	fputs("</text>\n", out);
	char tot[CPR_LBL];
	cpr_format_value(c, tot, sizeof tot, total);
	fprintf(out, "<text x=\"%d\" y=\"%d\">Total: %s", SVG_PAD, height - SVG_PAD, tot);
	for (size_t i = 0; i < c->nactive; i++) {
		fputs("; ", out);
		xml_escape(out, c->active_filters[i], strlen(c->active_filters[i]));
	}
	fputs("</text>\n", out);
	if (total <= 0) {
		fputs("</svg>\n", out);
		return 0;
	}
	/* x of each node: the root at 0, children after each other from their
	 * parent's x; computed in preorder with a stack */
	double *x = malloc((size_t)f->n * sizeof *x);
	uint32_t *stk = malloc((size_t)f->n * sizeof *stk);
	if (!x || !stk) {
		free(x);
		free(stk);
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory writing the flame graph");
	}
	size_t sp = 0;
	x[0] = SVG_PAD;
	stk[sp++] = 0;
	while (sp) {
		uint32_t n = stk[--sp];
		double w = (double)f->cum[n] * scale;
		if (f->cum[n] <= 0 || w < SVG_MINW)
			continue;
		double cx = x[n];
		for (uint32_t k = f->koff[n]; k < f->koff[n + 1]; k++) {
			uint32_t ch = f->kids[k];
			x[ch] = cx;
			if (f->cum[ch] > 0)
				cx += (double)f->cum[ch] * scale;
		}
		for (uint32_t k = f->koff[n + 1]; k-- > f->koff[n];)
			stk[sp++] = f->kids[k];
		size_t nl;
		const char *name = n ? ft_name(f, n, &nl) : (nl = 3, "all");
		const char *ps;
		size_t pn;
		cpr_flame_name_package(name, nl, ft_lib(f, n), &ps, &pn);
		char fill[32], val[CPR_LBL], pct[16];
		svg_colour(fill, sizeof fill, n ? hue_of(ps, pn) : 0);
		cpr_format_value(c, val, sizeof val, f->cum[n]);
		snprintf(pct, sizeof pct, "%.2f%%", 100.0 * (double)f->cum[n] / (double)total);
		double y = ybase - (double)(f->depth[n] + 1) * SVG_FRAME;
		fputs("<g><title>", out);
		xml_escape(out, name, nl);
		fprintf(out, " (%s, %s)</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" "
			"rx=\"2\" fill=\"%s\"/>", val, pct, x[n], y, w, SVG_FRAME - 1, fill);
		/* text that fits: about 0.59 em per character */
		size_t fit = (size_t)((w - 6) / (SVG_FONT * 0.59));
		if (w > 6 && fit >= 3) {
			fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x[n] + 3, y + SVG_FRAME - 4.5);
			if (fit >= nl) {
				xml_escape(out, name, nl);
			} else {
				size_t cut = fit - 2;
				while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
					cut--;
				xml_escape(out, name, cut);
				fputs("..", out);
			}
			fputs("</text>", out);
		}
		fputs("</g>\n", out);
	}
	fputs("</svg>\n", out);
	free(x);
	free(stk);
	return 0;
}

int cpr_print_flamegraph(cpr_ctx *c, cprof_error *err)
{
	if (c->o->format != CPROF_FMT_FLAMESVG)
		return print_html(c, err);
	ftree f;
	int rc = ft_build(c, &f, err);
	if (rc < 0)
		return rc;
	rc = print_svg(c, &f, err);
	ft_free(&f);
	return rc;
}
