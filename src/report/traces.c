/*
 * traces.c - the -traces report: pprof's printTraces.
 *
 * The profile labels, then one block per sample in profile order (no
 * merging, no trimming): a separator, the sample's string labels as
 * "%10s:  v1 v2" lines sorted as whole lines, then its numeric labels the
 * same way (each value auto-scaled in the unit pprof infers for the key),
 * then one line per frame from the leaf, every inlined line of a location
 * on its own line marked " (inline)", the sample's value (divided by value
 * 0 under -mean, auto-scaled) on the first.  Samples without frames are
 * skipped.  Frame names come from the node identities of graph.c, built
 * once; file names are cleaned but not trimmed, as pprof's CreateNodes does
 * here.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

#define SEPARATOR "-----------+-------------------------------------------------------"
#define BLANK "             "      /* an empty value column: 10 + 3 spaces */

typedef struct lines {
	char *buf;
	size_t len, cap;
	size_t *off;
	size_t n, offcap;
} lines;

static int lines_add(lines *l, const char *s, size_t n)
{
	size_t need;
	if (__builtin_add_overflow(l->len, n + 1, &need))
		return CPROF_ENOMEM;
	if (need > l->cap) {
		size_t cap = l->cap ? l->cap : 256;
		while (cap < need) {
			if (cap > SIZE_MAX / 2)
				return CPROF_ENOMEM;
			cap *= 2;
		}
		char *b = realloc(l->buf, cap);
		if (!b)
			return CPROF_ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = 0;
	return 0;
}

/* Start a new line (the previous one is NUL-terminated by lines_add). */
static int lines_start(lines *l)
{
	if (l->n == l->offcap) {
		size_t cap = l->offcap ? l->offcap * 2 : 16;
		size_t *o = realloc(l->off, cap * sizeof *o);
		if (!o)
			return CPROF_ENOMEM;
		l->off = o;
		l->offcap = cap;
	}
	if (l->len) {
		int rc = lines_add(l, "", 0);   /* keep the terminator of the last line */
		if (rc)
			return rc;
		l->len++;
	}
	l->off[l->n++] = l->len;
	return lines_add(l, "", 0);
}

static int cmp_lines(const void *a, const void *b, void *buf)
{
	return strcmp((const char *)buf + *(const size_t *)a, (const char *)buf + *(const size_t *)b);
}

static void lines_flush(lines *l, FILE *out)
{
	if (l->n == 0)
		return;
	qsort_r(l->off, l->n, sizeof *l->off, cmp_lines, l->buf);
	for (size_t i = 0; i < l->n; i++)
		fputs(l->buf + l->off[i], out);
	l->n = 0;
	l->len = 0;
}

/* The "%10s:  " prefix of a label line for key k. */
static int line_key(lines *l, const cprof_profile *p, cprof_str k)
{
	char pad[16];
	size_t kl = cprof_slen(p, k), kr = cpr_runes(cprof_s(p, k), kl);
	int rc = lines_start(l);
	if (!rc && kr < 10) {
		memset(pad, ' ', 10 - kr);
		rc = lines_add(l, pad, 10 - kr);
	}
	if (!rc)
		rc = lines_add(l, cprof_s(p, k), kl);
	if (!rc)
		rc = lines_add(l, ":  ", 3);
	return rc;
}

/* Format the label lines of label set ls into sl (string) and nl (numeric). */
static int label_lines(cpr_ctx *c, uint32_t ls, lines *sl, lines *nl)
{
	const cprof_profile *p = c->p;
	const cprof_label *lab = cprof_lset(p, ls);
	size_t n = cprof_lset_len(p, ls);
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i;
		while (j < n && lab[j].key == lab[i].key)
			j++;
		bool any = false;
		for (size_t k = i; k < j && !rc; k++) {
			if (!lab[k].str)
				continue;
			if (!any)
				rc = line_key(sl, p, lab[k].key);
			else
				rc = lines_add(sl, " ", 1);
			any = true;
			if (!rc)
				rc = lines_add(sl, cprof_s(p, lab[k].str), cprof_slen(p, lab[k].str));
		}
		if (any && !rc)
			rc = lines_add(sl, "\n", 1);
		any = false;
		for (size_t k = i; k < j && !rc; k++) {
			if (lab[k].str || !cpr_label_present(&lab[k]))
				continue;
			if (!any)
				rc = line_key(nl, p, lab[k].key);
			else
				rc = lines_add(nl, " ", 1);
			any = true;
			char v[CPR_LBL];
			cprof_str u = cpr_num_label_unit(c, lab[k].key);
			cpr_label(v, sizeof v, lab[k].num, cprof_s(p, u));
			if (!rc)
				rc = lines_add(nl, v, strlen(v));
		}
		if (any && !rc)
			rc = lines_add(nl, "\n", 1);
		i = j;
	}
	return rc;
}

int cpr_print_traces(cpr_ctx *c, cprof_error *err)
{
	cprof_profile *p = c->p;
	cpr_gopts go;
	cpr_infos t;
	cpr_gopts_init(&go, c);
	go.trim_paths = false;
	int rc = cpr_infos_build(&t, p, &go, err);
	if (rc < 0)
		return rc;
	cpr_print_profile_labels(c, c->out);
	lines sl = { 0 }, nl = { 0 };
	for (size_t i = 0; i < p->samples.n; i++) {
		const cprof_sample *s = &p->samples.v[i];
		if (s->stack >= cprof_nstacks(p))
			continue;
		const uint32_t *locs = cprof_stack_locs(p, s->stack);
		size_t depth = cprof_stack_len(p, s->stack), frames = 0;
		for (size_t k = 0; k < depth; k++)
			if (locs[k] < p->locations.n)
				frames += t.loc_off[locs[k] + 1] - t.loc_off[locs[k]];
		if (frames == 0)
			continue;
		fputs(SEPARATOR "\n", c->out);
		if (s->labels && s->labels < cprof_nlsets(p)) {
			if (label_lines(c, s->labels, &sl, &nl)) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory");
				break;
			}
			lines_flush(&sl, c->out);
			lines_flush(&nl, c->out);
		}
		int64_t v = cpr_value(c, i), d = cpr_meandiv(c, i);
		if (d != 0)
			v = (v == INT64_MIN && d == -1) ? v : v / d;
		/* "%10s   %s%s\n": the value on the first frame only */
		char val[CPR_LBL], pv[CPR_PADBUF], vs[CPR_PADBUF + 4];
		int vl = snprintf(vs, sizeof vs, "%s   ",
				  cpr_pad(pv, sizeof pv, cpr_format_value(c, val, sizeof val, v), 10));
		if (vl < 0 || (size_t)vl >= sizeof vs)
			vl = (int)strlen(vs);
		bool first = true;
		for (size_t k = 0; k < depth; k++) {
			if (locs[k] >= p->locations.n)
				continue;
			const uint32_t *inf = t.loc_info + t.loc_off[locs[k]];
			size_t n = t.loc_off[locs[k] + 1] - t.loc_off[locs[k]];
			for (size_t j = 0; j < n; j++) {
				if (first)
					fwrite_unlocked(vs, 1, (size_t)vl, c->out);
				else
					fwrite_unlocked(BLANK, 1, sizeof BLANK - 1, c->out);
				fwrite_unlocked(cpr_info_name(&t, inf[j]), 1, cpr_info_name_len(&t, inf[j]),
						c->out);
				if (j != n - 1)
					fwrite_unlocked(" (inline)\n", 1, 10, c->out);
				else
					putc_unlocked('\n', c->out);
				first = false;
			}
		}
	}
	if (rc == 0)
		fputs(SEPARATOR "\n", c->out);
	free(sl.buf);
	free(sl.off);
	free(nl.buf);
	free(nl.off);
	cpr_infos_free(&t);
	return rc;
}
