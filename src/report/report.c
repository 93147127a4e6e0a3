/*
 * report.c - cprof_report: pprof's report pipeline and the format dispatch.
 *
 * The order is pprof's (driver.generateRawReport): command overrides of the
 * options (trimming off for peek and raw, address granularity for raw,
 * default node counts), tag pseudo frames, then the filters -- before the
 * total is computed when relative_percentages is set, after it otherwise --
 * then the total (sum of |value|, or the -diff_base samples' sum; divided by
 * the sum of value 0 with -mean), aggregation at the granularity, and the
 * format's printer.
 */
#include "flame.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

bool cpr_is_diff_base(const cpr_ctx *c, size_t i)
{
	const cprof_profile *p = c->p;
	uint32_t ls = p->samples.v[i].labels;
	const cprof_label *l = cprof_lset(p, ls);
	for (size_t k = 0, n = cprof_lset_len(p, ls); k < n; k++)
		if (l[k].str && strcmp(cprof_s(p, l[k].key), "pprof::base") == 0 &&
		    strcmp(cprof_s(p, l[k].str), "true") == 0)
			return true;
	return false;
}


static void compute_total(cpr_ctx *c)
{
	int64_t div = 0, total = 0, ddiv = 0, dtotal = 0;
	for (size_t i = 0; i < c->p->samples.n; i++) {
		int64_t v = cpr_abs64(cpr_value(c, i)), d = cpr_meandiv(c, i);
		total = cpr_add64(total, v);
		div = cpr_add64(div, d);
		if (cpr_is_diff_base(c, i)) {
			dtotal = cpr_add64(dtotal, v);
			ddiv = cpr_add64(ddiv, d);
		}
	}
	if (dtotal > 0) {
		total = dtotal;
		div = ddiv;
	}
	c->total = div ? cpr_div64(total, div) : total;
}

int cpr_print_comments(cpr_ctx *c, cprof_error *err)
{
	for (size_t i = 0; i < c->p->comments.n; i++)
		fprintf(c->out, "%s\n", cprof_s(c->p, c->p->comments.v[i]));
	return 0;
}

/* The pipeline; with flame set, the flame graph's data goes there instead
 * of a report to out. */
static int report_run(cprof_profile *p, const cprof_ropts *opts, FILE *out, FILE *warn,
		      cpr_flame_data *flame, cprof_error *err)
{
	cprof_ropts o = *opts;
	if (flame)
		o.format = CPROF_FMT_FLAMEGRAPH;
	cpr_ctx c;
	memset(&c, 0, sizeof c);
	c.p = p;
	c.o = &o;
	c.out = out;
	c.warn = warn;

	/* applyCommandOverrides */
	bool trim = o.trim;
	switch (o.format) {
	case CPROF_FMT_PEEK:
	case CPROF_FMT_FOLDED:
	case CPROF_FMT_FLAMEGRAPH:
	case CPROF_FMT_FLAMESVG:
		trim = false;
		break;
	case CPROF_FMT_LIST:
		trim = false;
		o.granularity = CPROF_GRAN_LINES;
		break;
	case CPROF_FMT_DISASM:
		trim = false;
		o.granularity = CPROF_GRAN_ADDRESSES;
		o.noinlines = true;
		break;
	case CPROF_FMT_TEXT:
		if (o.nodecount == -1)
			o.nodecount = 0;
		break;
	default:
		if (o.nodecount == -1)
			o.nodecount = 80;
		break;
	}
	if (o.format == CPROF_FMT_RAW || o.format == CPROF_FMT_PROTO ||
	    o.format == CPROF_FMT_CALLGRIND) {
		trim = false;
		o.granularity = CPROF_GRAN_ADDRESSES;
		o.noinlines = false;
	}
	if (!trim) {
		o.nodecount = 0;
		o.nodefraction = 0;
		o.edgefraction = 0;
	}
	c.nodecount = o.nodecount;
	c.nodefraction = o.nodefraction;
	c.edgefraction = o.edgefraction;

	int rc = cpr_tag_roots_leaves(&c, err);
	if (rc < 0)
		goto out;
	if (o.relative_percentages && (rc = cpr_apply_filters(&c, err)) < 0)
		goto out;

	/* reportOptions */
	int vi = cprof_sample_index(p, o.sample_index, err);   /* pprof's SampleIndexByName */
	if (vi < 0) {
		rc = vi;
		goto out;
	}
	c.vi = vi;
	c.mean = o.mean;
	const char *tname = cprof_s(p, p->vtypes.v[vi].type);
	snprintf(c.sample_type_buf, sizeof c.sample_type_buf, "%s%s", o.mean ? "mean_" : "", tname);
	c.sample_type = c.sample_type_buf;
	snprintf(c.sample_unit, sizeof c.sample_unit, "%s", cprof_s(p, p->vtypes.v[vi].unit));
	if (o.divide_by == 0) {
		rc = cprof_seterr(err, CPROF_EINVAL, "zero divisor specified");
		goto out;
	}
	c.ratio = 1 / o.divide_by;
	snprintf(c.output_unit_buf, sizeof c.output_unit_buf, "%s", o.unit ? o.unit : "minimum");
	c.output_unit = c.output_unit_buf;
	static const char *const fnames[] = { "focus", "ignore", "hide", "show", "show_from",
					      "tagfocus", "tagignore", "tagshow", "taghide" };
	const char *fvals[] = { o.focus, o.ignore, o.hide, o.show, o.show_from,
				o.tagfocus, o.tagignore, o.tagshow, o.taghide };
	for (size_t i = 0; i < sizeof fnames / sizeof *fnames; i++) {
		if (!fvals[i] || !*fvals[i])
			continue;
		size_t len = strlen(fnames[i]) + strlen(fvals[i]) + 2;
		char *s = malloc(len);
		if (!s) {
			rc = CPROF_ENOMEM;
			goto out;
		}
		snprintf(s, len, "%s=%s", fnames[i], fvals[i]);
		c.active_filter_mem[c.nactive] = s;
		c.active_filters[c.nactive++] = s;
	}

	compute_total(&c);
	if (!o.relative_percentages && (rc = cpr_apply_filters(&c, err)) < 0)
		goto out;
	if ((rc = cpr_aggregate(&c, err)) < 0)
		goto out;

	if (flame) {
		rc = cpr_flame_data_build(&c, flame, err);
		goto out;
	}
	switch (o.format) {
	case CPROF_FMT_TEXT: rc = cpr_print_text(&c, err); break;
	case CPROF_FMT_TRACES: rc = cpr_print_traces(&c, err); break;
	case CPROF_FMT_PEEK:
	case CPROF_FMT_TREE: rc = cpr_print_tree(&c, err); break;
	case CPROF_FMT_RAW: rc = cpr_print_raw(&c, err); break;
	case CPROF_FMT_TAGS: rc = cpr_print_tags(&c, err); break;
	case CPROF_FMT_COMMENTS: rc = cpr_print_comments(&c, err); break;
	case CPROF_FMT_LIST: rc = cpr_print_list(&c, err); break;
	case CPROF_FMT_DISASM: rc = cpr_print_disasm(&c, err); break;
	case CPROF_FMT_DOT:
	case CPROF_FMT_SVG:
	case CPROF_FMT_PNG:
	case CPROF_FMT_PDF:
	case CPROF_FMT_PS:
	case CPROF_FMT_GIF: rc = cpr_print_dot(&c, err); break;
	case CPROF_FMT_CALLGRIND: rc = cpr_print_callgrind(&c, err); break;
	case CPROF_FMT_PROTO: rc = cpr_print_proto(&c, err); break;
	case CPROF_FMT_FOLDED: rc = cpr_print_folded(&c, err); break;
	case CPROF_FMT_FLAMEGRAPH:
	case CPROF_FMT_FLAMESVG: rc = cpr_print_flamegraph(&c, err); break;
	default: rc = cprof_seterr(err, CPROF_EINVAL, "unknown report format %d", o.format);
	}
out:
	for (size_t i = 0; i < c.nactive; i++)
		free(c.active_filter_mem[i]);
	cpr_filter_free(&c);
	return rc;
}

int cprof_report(cprof_profile *p, const cprof_ropts *opts, FILE *out, FILE *warn,
		 cprof_error *err)
{
	return report_run(p, opts, out, warn, NULL, err);
}

int cpr_report_flame(cprof_profile *p, const cprof_ropts *o, FILE *warn, cpr_flame_data *d,
		     cprof_error *err)
{
	memset(d, 0, sizeof *d);
	return report_run(p, o, NULL, warn, d, err);
}
