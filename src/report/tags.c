/*
 * tags.c - the -tags report, as Go 1.19's printTags: for every label key (by
 * name), the total of the chosen sample value over the samples carrying it,
 * then one row per value of that key (by |weight| descending, then name)
 * with its weight and share of the key's total.  Numeric labels print as
 * values in the unit pprof assigns to their key (NumLabelUnits), so equal
 * renderings ("4kB") merge.  Weights print with "%.1f" and the unit of the
 * output-unit scaling.
 *
 * Weights are summed per distinct label set first, then spread over the
 * set's labels, so the work follows the number of label sets, not samples.
 * The rows go through a small re-implementation of Go's text/tabwriter
 * (right-aligned cells, padding 1, column blocks ended by lines with fewer
 * cells), which is what gives pprof's output its shape.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- Go's text/tabwriter, AlignRight, minwidth 0, padding 1, pad ' ' ---- */

typedef struct tw_cell {
	size_t off, len;    /* bytes in tw.text */
	size_t width;       /* runes */
} tw_cell;

typedef struct tw {
	struct { char *v; size_t n, cap; } text;
	struct { tw_cell *v; size_t n, cap; } cells;
	struct { size_t *v; size_t n, cap; } lines;  /* first cell of each line; +1 sentinel */
	struct { size_t *v; size_t n, cap; } widths;
	FILE *out;
} tw;

/* utf8.RuneCount: every invalid byte counts as one rune. */
static size_t rune_count(const unsigned char *s, size_t n)
{
	size_t r = 0;
	for (size_t i = 0; i < n; r++) {
		unsigned char b = s[i];
		size_t need = b < 0x80 ? 0 : (b >= 0xc2 && b <= 0xdf) ? 1 :
			(b >= 0xe0 && b <= 0xef) ? 2 : (b >= 0xf0 && b <= 0xf4) ? 3 : SIZE_MAX;
		if (need == 0 || need == SIZE_MAX || need >= n - i) {
			i++;
			continue;
		}
		unsigned char lo = 0x80, hi = 0xbf;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
		else if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
		bool ok = s[i + 1] >= lo && s[i + 1] <= hi;
		for (size_t k = 2; ok && k <= need; k++)
			ok = s[i + k] >= 0x80 && s[i + k] <= 0xbf;
		i += ok ? need + 1 : 1;
	}
	return r;
}

/* Split everything written into cells and lines (a cell ends at '\t'; the
 * last cell of a line at '\n'). */
static int tw_parse(tw *t)
{
	size_t start = 0;
	if (CPR_RESERVE(t->lines, 1))
		return CPROF_ENOMEM;
	t->lines.v[t->lines.n++] = 0;
	for (size_t i = 0; i < t->text.n; i++) {
		char ch = t->text.v[i];
		if (ch != '\t' && ch != '\n')
			continue;
		if (CPR_RESERVE(t->cells, t->cells.n + 1))
			return CPROF_ENOMEM;
		tw_cell c = { start, i - start, rune_count((unsigned char *)t->text.v + start, i - start) };
		t->cells.v[t->cells.n++] = c;
		start = i + 1;
		if (ch == '\n') {
			if (CPR_RESERVE(t->lines, t->lines.n + 1))
				return CPROF_ENOMEM;
			t->lines.v[t->lines.n++] = t->cells.n;
		}
	}
	/* text after the last newline: one more (unterminated) line */
	if (start < t->text.n) {
		if (CPR_RESERVE(t->cells, t->cells.n + 1) || CPR_RESERVE(t->lines, t->lines.n + 1))
			return CPROF_ENOMEM;
		tw_cell c = { start, t->text.n - start,
			      rune_count((unsigned char *)t->text.v + start, t->text.n - start) };
		t->cells.v[t->cells.n++] = c;
		t->lines.v[t->lines.n++] = t->cells.n;
	}
	return 0;
}

static size_t tw_ncells(const tw *t, size_t line)
{
	return t->lines.v[line + 1] - t->lines.v[line];
}

static void tw_pad(FILE *out, size_t n)
{
	while (n--)
		fputc(' ', out);
}

static void tw_write_lines(tw *t, size_t from, size_t to)
{
	for (size_t ln = from; ln < to; ln++) {
		size_t nc = tw_ncells(t, ln);
		const tw_cell *cells = t->cells.v + t->lines.v[ln];
		for (size_t j = 0; j < nc; j++) {
			const tw_cell *c = &cells[j];
			if (j < t->widths.n)
				tw_pad(t->out, t->widths.v[j] - c->width);
			fwrite(t->text.v + c->off, 1, c->len, t->out);
		}
		/* the final line has no newline only if the text did not end in one */
		if (ln + 1 < t->lines.n - 1 || (t->text.n && t->text.v[t->text.n - 1] == '\n'))
			fputc('\n', t->out);
	}
}

/* Go's tabwriter format(): recursive over columns. */
static int tw_format(tw *t, size_t line0, size_t line1)
{
	size_t column = t->widths.n;
	for (size_t this = line0; this < line1; this++) {
		if (column + 1 >= tw_ncells(t, this))
			continue;
		tw_write_lines(t, line0, this);
		line0 = this;
		size_t width = 0;
		for (; this < line1; this++) {
			if (column + 1 >= tw_ncells(t, this))
				break;
			size_t w = t->cells.v[t->lines.v[this] + column].width + 1;
			if (w > width)
				width = w;
		}
		if (CPR_RESERVE(t->widths, t->widths.n + 1))
			return CPROF_ENOMEM;
		t->widths.v[t->widths.n++] = width;
		int rc = tw_format(t, line0, this);
		t->widths.n--;
		if (rc < 0)
			return rc;
		line0 = this;
	}
	tw_write_lines(t, line0, line1);
	return 0;
}

static int tw_add(tw *t, const char *s)
{
	size_t n = strlen(s);
	if (CPR_RESERVE(t->text, t->text.n + n + 1))
		return CPROF_ENOMEM;
	memcpy(t->text.v + t->text.n, s, n);
	t->text.n += n;
	return 0;
}

static int tw_flush(tw *t)
{
	int rc = tw_parse(t);
	if (rc == 0)
		rc = tw_format(t, 0, t->lines.n - 1);
	return rc;
}

/* ---- the report ---------------------------------------------------------------- */

typedef struct tag_entry {
	cprof_str key, val;
	int64_t weight;
} tag_entry;

static int cmp_entries(const void *a, const void *b, void *arg)
{
	const cprof_profile *p = arg;
	const tag_entry *x = a, *y = b;
	if (x->key != y->key)
		return strcmp(cprof_s(p, x->key), cprof_s(p, y->key));
	int64_t ax = cpr_abs64(x->weight), ay = cpr_abs64(y->weight);
	if (x->weight != y->weight && ax != ay)
		return ax > ay ? -1 : 1;
	return strcmp(cprof_s(p, x->val), cprof_s(p, y->val));
}

int cpr_print_tags(cpr_ctx *c, cprof_error *err)
{
	cprof_profile *p = c->p;
	size_t nls = cprof_nlsets(p);
	int64_t *sums = calloc(nls ? nls : 1, sizeof *sums);
	uint8_t *used = calloc(nls ? nls : 1, 1);
	struct { tag_entry *v; size_t n, cap; } ents = { 0 };
	cpr_map index = { 0 };      /* (key, value) -> entry */
	tw t = { .out = c->out };
	int rc = CPROF_ENOMEM;
	if (!sums || !used)
		goto out;
	for (size_t i = 0; i < p->samples.n; i++) {
		uint32_t ls = p->samples.v[i].labels;
		used[ls] = 1;
		sums[ls] = (int64_t)((uint64_t)sums[ls] + (uint64_t)cpr_value(c, i));
	}
	for (size_t ls = 1; ls < nls; ls++) {
		if (!used[ls])
			continue;
		const cprof_label *l = cprof_lset(p, (uint32_t)ls);
		for (size_t k = 0, n = cprof_lset_len(p, (uint32_t)ls); k < n; k++) {
			if (!cpr_label_present(&l[k]))
				continue;
			cprof_str val = l[k].str;
			if (!val) {
				char buf[CPR_LBL];
				cprof_str unit = cpr_num_label_unit(c, l[k].key);
				cpr_scaled_label(buf, sizeof buf, l[k].num, cprof_s(p, unit),
						 c->output_unit ? c->output_unit : "minimum");
				if ((val = cprof_intern_cstr(p, buf)) == CPROF_NONE)
					goto out;
			}
			bool fresh;
			uint64_t *slot = cpr_map_slot(&index, (uint64_t)l[k].key << 32 | val,
						      ents.n, &fresh);
			if (!slot)
				goto out;
			if (fresh) {
				if (CPR_RESERVE(ents, ents.n + 1))
					goto out;
				ents.v[ents.n++] = (tag_entry){ l[k].key, val, 0 };
			}
			tag_entry *e = &ents.v[*slot];
			e->weight = (int64_t)((uint64_t)e->weight + (uint64_t)sums[ls]);
		}
	}
	if (ents.n > 1)
		qsort_r(ents.v, ents.n, sizeof *ents.v, cmp_entries, p);
	const char *ounit = c->output_unit ? c->output_unit : "minimum";
	for (size_t i = 0; i < ents.n;) {
		size_t j = i;
		int64_t total = 0;
		while (j < ents.n && ents.v[j].key == ents.v[i].key)
			total = (int64_t)((uint64_t)total + (uint64_t)ents.v[j++].weight);
		const char *u = "";
		double v = cpr_scale(total, c->sample_unit, ounit, &u);
		char line[CPR_LBL * 2];
		const char *key = cprof_s(p, ents.v[i].key);
		snprintf(line, sizeof line, "\t Total %.1f%s\n", v, u);
		if (tw_add(&t, key) || tw_add(&t, ":") || tw_add(&t, line))
			goto out;
		for (size_t k = i; k < j; k++) {
			char pct[CPR_LBL];
			v = cpr_scale(ents.v[k].weight, c->sample_unit, ounit, &u);
			if (total > 0)
				snprintf(line, sizeof line, " \t%.1f%s (%s):\t ", v, u,
					 cpr_percentage(pct, sizeof pct, ents.v[k].weight, total));
			else
				snprintf(line, sizeof line, " \t%.1f%s:\t ", v, u);
			if (tw_add(&t, line) || tw_add(&t, cprof_s(p, ents.v[k].val)) ||
			    tw_add(&t, "\n"))
				goto out;
		}
		if (tw_add(&t, "\n"))
			goto out;
		i = j;
	}
	rc = tw_flush(&t);
out:
	free(t.text.v);
	free(t.cells.v);
	free(t.lines.v);
	free(t.widths.v);
	free(sums);
	free(used);
	free(ents.v);
	cpr_map_free(&index);
	if (rc < 0)
		return cprof_seterr(err, rc, "%s", cprof_strerror(rc));
	return 0;
}
