/*
 * list.c - the -list=RE report: annotated source, as pprof's printSource
 * (internal/report/source.go) prints it in text mode.
 *
 * How it works.  report.c has already switched to line granularity with
 * trimming off.  Before the graph is built every function's file name goes
 * through pprof's trimPath (the -trim_path prefixes, /proc/self/cwd/, and
 * with -source_path the heuristic "cut everything up to the base name of a
 * search directory"), because pprof rewrites the profile's file names that
 * way before making its graph, and the ROUTINE lines show the result.  The
 * graph's nodes (one per function, file and line) whose function name
 * matches the regexp are then sorted by (name, file, line), which yields
 * the groups pprof prints: one block per function name, one ROUTINE per
 * source file of that function, sorted by file name.  A block covers the
 * function's start line (or its first sampled line - 5) through its last
 * sampled line + 5, and stops early at the end of the file.
 *
 * Source files are read by a small cache keyed by the profile's (interned)
 * file name string: the whole file is read once, split into lines the way
 * Go's bufio.Scanner splits them (a trailing "\r" dropped, reading stopping
 * at a line of 64 KiB or more, and after 256 MiB; opened without blocking,
 * so a FIFO named by a hostile profile reads as empty instead of hanging),
 * and kept while the report runs, with the
 * total held bounded (CACHE_MAX: beyond it the cache is emptied).  A file is
 * found as pprof's openSourceFile finds it -- trimmed again against the
 * search path (the current directory when no -source_path is given); an
 * absolute path must exist; a relative one is tried under each search
 * directory and each of its parents -- and, as a fallback pprof lacks,
 * relative to the directory of the profile's main binary.  A file that
 * cannot be opened gives pprof's " Error: ..." line with Go's wording.
 */
#include "graph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARGIN 5                        /* lines before the first / after the last sample */
#define SCAN_MAX (64 * 1024)            /* bufio.MaxScanTokenSize */
#define CACHE_MAX ((size_t)256 << 20)   /* bytes of source kept at once */
#define FILE_MAX ((size_t)256 << 20)    /* read no more of a source file */

/* ---- paths ------------------------------------------------------------------- */

/* Go's filepath.Clean, into a malloc'd string (NULL when out of memory). */
static char *path_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 2);
	if (!out)
		return NULL;
	out[cpr_path_clean(s, n, out)] = 0;
	return out;
}

#define path_base cprof_path_base

/* The next element of a ':'-separated list (filepath.SplitList: an empty
 * list has no elements, "a::b" has an empty one).  *pos starts at 0; false
 * when done. */
static bool split_next(const char *list, size_t *pos, const char **el, size_t *len)
{
	size_t n = strlen(list);
	if (n == 0 || *pos > n)
		return false;
	const char *s = list + *pos;
	const char *colon = strchr(s, ':');
	*el = s;
	*len = colon ? (size_t)(colon - s) : strlen(s);
	*pos += *len + 1;
	return true;
}

/* pprof's trimPath: returns a pointer into path (a suffix of it). */
static const char *trim_path(const char *path, const char *trim, const char *search)
{
	size_t pos = 0, len;
	const char *el;
	if (!trim || !*trim) {
		while (search && split_next(search, &pos, &el, &len)) {
			const char *b;
			size_t bn;
			path_base(el, len, &b, &bn);
			char want[4096];
			if (bn + 3 > sizeof want)
				continue;
			want[0] = '/';
			memcpy(want + 1, b, bn);
			want[bn + 1] = '/';
			want[bn + 2] = 0;
			const char *f = strstr(path, want);
			if (f)
				return f + bn + 2;
		}
	}
	pos = 0;
	while (trim && split_next(trim, &pos, &el, &len)) {
		if (len == 0 || el[len - 1] != '/') {
			if (strncmp(path, el, len) == 0 && path[len] == '/')
				return path + len + 1;
		} else if (strncmp(path, el, len) == 0) {
			return path + len;
		}
	}
	static const char *const fixed[] = { "/proc/self/cwd/./", "/proc/self/cwd/" };
	for (size_t i = 0; i < 2; i++)
		if (strncmp(path, fixed[i], strlen(fixed[i])) == 0)
			return path + strlen(fixed[i]);
	return path;
}

/* Go's filepath.Dir, malloc'd. */
static char *path_dir(const char *s)
{
	const char *slash = strrchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) + 1 : 0;
	char *d = strndup(s, n);
	if (!d)
		return NULL;
	char *c = path_clean(d);
	free(d);
	return c;
}

/* filepath.Join(dir, rel) (dir may be empty), malloc'd. */
static char *path_join(const char *dir, size_t dn, const char *rel)
{
	size_t rn = strlen(rel), n;
	if (__builtin_add_overflow(dn, rn, &n) || __builtin_add_overflow(n, 2, &n))
		return NULL;
	char *j = malloc(n);
	if (!j)
		return NULL;
	if (dn == 0)
		snprintf(j, n, "%s", rel);
	else
		snprintf(j, n, "%.*s/%s", (int)dn, dir, rel);
	char *c = path_clean(j);
	free(j);
	return c;
}

/* Go's wording for an errno from open/read ("no such file or directory"). */
static void go_errstr(char *buf, size_t n, int e)
{
	snprintf(buf, n, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* ---- the source cache --------------------------------------------------------- */

typedef struct src_file {
	cprof_str name;         /* the profile's file name (the cache key) */
	char *text;             /* the contents; lines point into it */
	size_t *line_off;       /* line i (1-based) = text[line_off[i-1] ..], line_len */
	size_t *line_len;
	size_t nlines;
	char err[512];          /* "" or the error pprof prints */
} src_file;

typedef struct src_cache {
	src_file *v;
	size_t n, cap;
	cpr_map index;          /* file name id -> index in v */
	size_t bytes;
	const char *search;     /* the search path */
	const char *trim;
	const char *bindir;     /* directory of the main binary, or NULL */
} src_cache;

static void src_file_free(src_file *f)
{
	free(f->text);
	free(f->line_off);
	free(f->line_len);
}

static void cache_clear(src_cache *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		src_file_free(&sc->v[i]);
	sc->n = 0;
	sc->bytes = 0;
	cpr_map_free(&sc->index);
	memset(&sc->index, 0, sizeof sc->index);
}

/* Open a file as openSourceFile does: returns an fd, or -1 with f->err set. */
static int open_source(src_cache *sc, const char *path, src_file *f)
{
	const char *p = trim_path(path, sc->trim, sc->search);
	if (p[0] == '/') {
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			char e[128];
			go_errstr(e, sizeof e, errno);
			snprintf(f->err, sizeof f->err, "open %s: %s", p, e);
		}
		return fd;
	}
	size_t pos = 0, len;
	const char *el;
	while (split_next(sc->search, &pos, &el, &len)) {
		char *dir = strndup(el, len);
		while (dir) {
			char *fn = path_join(dir, strlen(dir), p);
			int fd = fn ? open(fn, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
			free(fn);
			if (fd >= 0) {
				free(dir);
				return fd;
			}
			char *parent = path_dir(dir);
			if (!parent || strcmp(parent, dir) == 0) {
				free(parent);
				break;
			}
			free(dir);
			dir = parent;
		}
		free(dir);
	}
	if (sc->bindir) {       /* beyond pprof: next to the binary */
		char *fn = path_join(sc->bindir, strlen(sc->bindir), p);
		int fd = fn ? open(fn, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
		free(fn);
		if (fd >= 0)
			return fd;
	}
	snprintf(f->err, sizeof f->err, "could not find file %s on path %s", p, sc->search);
	return -1;
}

/* Add line text[off .. off+len) to f. */
static int add_line(src_file *f, size_t *lcap, size_t off, size_t len)
{
	if (f->nlines == *lcap) {
		size_t ncap = *lcap ? *lcap * 2 : 256;
		size_t *no = realloc(f->line_off, ncap * sizeof *no);
		if (!no)
			return CPROF_ENOMEM;
		f->line_off = no;
		size_t *nn = realloc(f->line_len, ncap * sizeof *nn);
		if (!nn)
			return CPROF_ENOMEM;
		f->line_len = nn;
		*lcap = ncap;
	}
	if (len > 0 && f->text[off + len - 1] == '\r')
		len--;
	f->line_off[f->nlines] = off;
	f->line_len[f->nlines++] = len;
	return 0;
}

/* Read fd into f, split into lines as it arrives, stopping as Go's scanner
 * does at a line of SCAN_MAX bytes or more (so an endless file without
 * newlines costs 64 KiB), and at FILE_MAX bytes in all.  Returns the bytes
 * kept, or CPROF_ENOMEM. */
static int64_t read_lines(int fd, src_file *f)
{
	size_t cap = 0, n = 0, ls = 0, lcap = 0;  /* ls: start of the current line */
	bool stop = false;
	while (!stop) {
		if (n == cap) {
			if (cap >= FILE_MAX)
				break;
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = realloc(f->text, ncap + 1);
			if (!nb)
				return CPROF_ENOMEM;
			f->text = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, f->text + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;  /* EOF, or an error (a directory, an empty pipe): keep what came */
		size_t from = n;
		n += (size_t)r;
		for (;;) {
			const char *nl = memchr(f->text + from, '\n', n - from);
			if (!nl) {
				if (n - ls >= SCAN_MAX)
					stop = true;    /* token too long: nothing more */
				break;
			}
			size_t end = (size_t)(nl - f->text);
			if (end - ls >= SCAN_MAX) {
				stop = true;
				break;
			}
			if (add_line(f, &lcap, ls, end - ls) < 0)
				return CPROF_ENOMEM;
			ls = from = end + 1;
		}
	}
	if (!stop && n > ls && n - ls < SCAN_MAX && add_line(f, &lcap, ls, n - ls) < 0)
		return CPROF_ENOMEM;
	return (int64_t)n;
}

/* The cached file named by id (read on first use); NULL when out of memory. */
static src_file *cache_get(src_cache *sc, cprof_profile *p, cprof_str id)
{
	uint64_t *slot = cpr_map_find(&sc->index, id);
	if (slot)
		return &sc->v[*slot];
	if (sc->bytes > CACHE_MAX)
		cache_clear(sc);
	if (CPR_RESERVE(*sc, sc->n + 1) < 0)
		return NULL;
	src_file *f = &sc->v[sc->n];
	memset(f, 0, sizeof *f);
	f->name = id;
	int fd = open_source(sc, cprof_s(p, id), f);
	if (fd >= 0) {
		int64_t n = read_lines(fd, f);
		close(fd);
		if (n < 0) {
			src_file_free(f);
			return NULL;
		}
		sc->bytes += (size_t)n;
	}
	slot = cpr_map_slot(&sc->index, id, sc->n, NULL);
	if (!slot) {
		src_file_free(f);
		return NULL;
	}
	sc->n++;
	return f;
}

/* ---- the report -------------------------------------------------------------- */

/* Rewrite every function's file name with pprof's trimPath (newGraph does
 * this with the -source_path as given, not the current directory). */
static int trim_function_files(cpr_ctx *c)
{
	cprof_profile *p = c->p;
	for (size_t i = 0; i < p->functions.n; i++) {
		cprof_str fs = p->functions.v[i].filename;
		if (!fs)
			continue;
		const char *s = cprof_s(p, fs);
		const char *t = trim_path(s, c->o->trim_path, c->o->source_path);
		if (t == s)
			continue;
		char *copy = strdup(t);     /* interning may move the arena */
		if (!copy)
			return CPROF_ENOMEM;
		cprof_str id = cprof_intern_cstr(p, copy);
		free(copy);
		if (id == CPROF_NONE)
			return CPROF_ENOMEM;
		p->functions.v[i].filename = id;
	}
	return 0;
}

typedef struct sort_ctx {
	const cpr_graph *g;
	const cprof_profile *p;
} sort_ctx;

static int cmp_nodes(const void *a, const void *b, void *arg)
{
	const sort_ctx *sx = arg;
	const cpr_graph *g = sx->g;
	const cprof_profile *p = sx->p;
	const cpr_ninfo *x = &g->infos.v[g->nodes[*(const uint32_t *)a].info];
	const cpr_ninfo *y = &g->infos.v[g->nodes[*(const uint32_t *)b].info];
	int r;
	if (x->name != y->name && (r = strcmp(cprof_s(p, x->name), cprof_s(p, y->name))))
		return r;
	if (x->file != y->file && (r = strcmp(cprof_s(p, x->file), cprof_s(p, y->file))))
		return r;
	if (x->lineno != y->lineno)
		return x->lineno < y->lineno ? -1 : 1;
	if (x->start_line != y->start_line)
		return x->start_line < y->start_line ? -1 : 1;
	return cpr_info_cmp_full(&g->infos, g->nodes[*(const uint32_t *)a].info,
				 g->nodes[*(const uint32_t *)b].info);
}

bool cpr_no_edges(void *arg, const char *name)
{
	return false;
}

const char *cpr_value_or_dot(const cpr_ctx *c, char *buf, size_t n, int64_t v)
{
	if (v == 0)
		return ".";
	return cpr_format_value(c, buf, n, v);
}

/* One ROUTINE block: nodes idx[0..n) share a function name and a file. */
static int print_block(cpr_ctx *c, const cpr_graph *g, src_cache *sc, const char *name,
		       const uint32_t *idx, size_t n)
{
	const cpr_ninfo *first = &g->infos.v[g->nodes[idx[0]].info];
	int64_t flat = 0, cum = 0;
	for (size_t i = 0; i < n; i++) {
		flat = cpr_add64(flat, g->nodes[idx[i]].flat);
		cum = cpr_add64(cum, g->nodes[idx[i]].cum);
	}
	/* getSourceFromFile's range, with its exact (if odd) update rule */
	int64_t start = first->start_line ? first->start_line : first->lineno - MARGIN;
	int64_t end = first->lineno + MARGIN;
	for (size_t i = 0; i < n; i++) {
		const cpr_ninfo *k = &g->infos.v[g->nodes[idx[i]].info];
		int64_t ns = k->start_line ? k->start_line : k->lineno - MARGIN;
		int64_t ne = k->lineno + MARGIN;
		if (ns < start)
			start = ns;
		else if (ne > end)
			end = ne;
	}
	if (start < 1)
		start = 1;

	src_file *f = cache_get(sc, c->p, first->file);
	if (!f)
		return CPROF_ENOMEM;
	char fv[CPR_LBL], cv[CPR_LBL], pct[CPR_LBL], pf[CPR_PADBUF], pc[CPR_PADBUF];
	fprintf(c->out, "ROUTINE ======================== %s in %s\n", name,
		cprof_s(c->p, first->file));
	fprintf(c->out, "%s %s (flat, cum) %s of Total\n",
		cpr_pad(pf, sizeof pf, cpr_format_value(c, fv, sizeof fv, flat), 10),
		cpr_pad(pc, sizeof pc, cpr_format_value(c, cv, sizeof cv, cum), 10),
		cpr_percentage(pct, sizeof pct, cum, c->total));
	if (f->err[0]) {
		/* pprof learns of a missing file by asking it for a line, which it
		 * does only for a range that is not empty: an inlined function's
		 * lines that all lie before its start line print no error */
		if (start <= end)
			fprintf(c->out, " Error: %s\n", f->err);
		return 0;
	}
	/* nodes are sorted by line: walk them along the range */
	size_t k = 0;
	for (int64_t ln = start; ln <= end; ln++) {
		if (ln < 1 || (uint64_t)ln > f->nlines)
			break;
		int64_t lf = 0, lc = 0;
		while (k < n && g->infos.v[g->nodes[idx[k]].info].lineno < ln)
			k++;
		for (size_t j = k; j < n && g->infos.v[g->nodes[idx[j]].info].lineno == ln; j++) {
			lf = cpr_add64(lf, g->nodes[idx[j]].flat);
			lc = cpr_add64(lc, g->nodes[idx[j]].cum);
		}
		fprintf(c->out, "%s %s %6lld:%.*s\n", cpr_pad(pf, sizeof pf, cpr_value_or_dot(c, fv, sizeof fv, lf), 10),
			cpr_pad(pc, sizeof pc, cpr_value_or_dot(c, cv, sizeof cv, lc), 10), (long long)ln,
			(int)f->line_len[ln - 1], f->text + f->line_off[ln - 1]);
	}
	return 0;
}

int cpr_print_list(cpr_ctx *c, cprof_error *err)
{
	const char *sym = c->o->symbol ? c->o->symbol : "";
	cpr_regex *rx = cpr_regex_compile(sym, "parsing argument regexp", err);
	if (!rx)
		return err && err->code ? err->code : CPROF_EINVAL;
	int rc = trim_function_files(c);
	if (rc < 0) {
		cpr_regex_free(rx);
		return cprof_seterr(err, rc, "out of memory trimming file names");
	}
	cpr_gopts go;
	cpr_graph g;
	cpr_gopts_init(&go, c);
	go.obj_names = true;
	go.trim_paths = false;          /* done above, with the options */
	go.edge_filter = cpr_no_edges;      /* no edges are printed */
	rc = cpr_graph_build(c, &go, &g, err);
	if (rc < 0) {
		cpr_regex_free(rx);
		return rc;
	}
	uint32_t *idx = malloc((g.nnodes ? g.nnodes : 1) * sizeof *idx);
	char *cwd = NULL;
	src_cache sc;
	memset(&sc, 0, sizeof sc);
	size_t m = 0;
	if (!idx) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory listing sources");
		goto out;
	}
	for (size_t i = 0; i < g.nnodes; i++) {
		const cpr_ninfo *k = &g.infos.v[g.nodes[i].info];
		if (cpr_regex_match(rx, cprof_s(c->p, k->name), cprof_slen(c->p, k->name)))
			idx[m++] = (uint32_t)i;
	}
	if ((rc = cpr_regex_status(rx, err)) < 0)
		goto out;
	if (m == 0) {
		rc = cprof_seterr(err, CPROF_EINVAL, "no matches found for regexp: %s", sym);
		goto out;
	}
	sort_ctx sx = { &g, c->p };
	qsort_r(idx, m, sizeof *idx, cmp_nodes, &sx);

	sc.trim = c->o->trim_path;
	sc.search = c->o->source_path;
	if (!sc.search || !*sc.search) {
		cwd = getcwd(NULL, 0);
		if (!cwd) {
			rc = cprof_seterr(err, CPROF_EIO, "could not stat current dir: %s",
					  strerror(errno));
			goto out;
		}
		sc.search = cwd;
	}
	char *bindir = NULL;
	if (c->p->mappings.n && c->p->mappings.v[0].file) {
		const char *bin = cprof_s(c->p, c->p->mappings.v[0].file);
		if (strchr(bin, '/'))
			bindir = path_dir(bin);
	}
	sc.bindir = bindir;

	char tv[CPR_LBL];
	fprintf(c->out, "Total: %s\n", cpr_format_value(c, tv, sizeof tv, c->total));
	for (size_t i = 0; i < m && rc == 0;) {
		cprof_str name = g.infos.v[g.nodes[idx[i]].info].name;
		size_t j = i;
		while (j < m && g.infos.v[g.nodes[idx[j]].info].name == name)
			j++;
		/* [i, j): one function; nodes without a file sort first */
		size_t s = i;
		while (s < j && g.infos.v[g.nodes[idx[s]].info].file == 0)
			s++;
		if (s == j)
			fprintf(c->out, "No source information for %s\n", cprof_s(c->p, name));
		while (s < j && rc == 0) {
			cprof_str file = g.infos.v[g.nodes[idx[s]].info].file;
			size_t e = s;
			while (e < j && g.infos.v[g.nodes[idx[e]].info].file == file)
				e++;
			rc = print_block(c, &g, &sc, cprof_s(c->p, name), idx + s, e - s);
			if (rc < 0)
				rc = cprof_seterr(err, rc, "out of memory reading sources");
			s = e;
		}
		i = j;
	}
	free(bindir);
out:
	cache_clear(&sc);
	free(sc.v);
	free(cwd);
	free(idx);
	cpr_graph_free(&g);
	cpr_regex_free(rx);
	return rc;
}
