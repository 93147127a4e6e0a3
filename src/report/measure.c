/*
 * measure.c - units and number formatting, as pprof prints them.
 *
 * Three unit families are known: memory (B, kB, MB ... with binary factors
 * and SI-looking names), time (ns ... s, hrs; no minutes) and Google compute
 * units (n*GCU ... P*GCU).  A unit name is "sniffed": lowercased and, when
 * longer than two characters, stripped of one trailing 's', then looked up
 * among the aliases (the table is the core's, cprof_util.h).  Scaling to
 * "auto" or "minimum" picks the largest unit in which the value is at
 * least 1.  Values print with "%.2f" minus a
 * trailing ".00"; zero prints as "0" without a unit.  Everything here is
 * pure and thread-safe.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The unit table is the core's (cprof_util.h): one table for merging and
 * for printing. */
int cpr_unit_family(const char *unit)
{
	return cprof_unit_family(unit, strlen(unit));
}

static bool is_auto(const char *u)
{
	return strcmp(u, "minimum") == 0 || strcmp(u, "auto") == 0;
}

double cpr_scale(int64_t value, const char *from, const char *to, const char **unit_out)
{
	if (value < 0 && value != INT64_MIN) {
		double v = cpr_scale(-value, from, to, unit_out);
		return -v;
	}
	size_t fromn = strlen(from), ton = strlen(to);
	for (int fam = 0; fam < CPROF_UNIT_NFAM; fam++) {
		const cprof_unit *fu = cprof_unit_sniff(from, fromn, fam), *dflt;
		if (!fu)
			continue;
		size_t nu;
		const cprof_unit *units = cprof_unit_table(fam, &nu);
		double v = (double)value * fu->factor;
		dflt = cprof_unit_default(fam);
		if (is_auto(to)) {
			double best = 0;
			const char *bn = NULL;
			for (size_t k = 0; k < nu; k++)
				if (units[k].factor >= best && v / units[k].factor >= 1.0) {
					best = units[k].factor;
					bn = units[k].name;
				}
			if (bn) {
				*unit_out = bn;
				return v / best;
			}
			*unit_out = dflt->name;
			return v / dflt->factor;
		}
		const cprof_unit *tu = cprof_unit_sniff(to, ton, fam);
		if (!tu)
			tu = dflt;
		*unit_out = tu->name;
		return v / tu->factor;
	}
	if (strcmp(to, "count") == 0 || strcmp(to, "sample") == 0 ||
	    strcmp(to, "unit") == 0 || is_auto(to))
		*unit_out = "";
	else
		*unit_out = to;
	return (double)value;
}

char *cpr_fmt_float_label(char *buf, size_t n, double v, const char *unit)
{
	char num[64];
	snprintf(num, sizeof num, "%.2f", v);
	size_t l = strlen(num);
	if (l >= 3 && strcmp(num + l - 3, ".00") == 0)
		num[l - 3] = 0;
	if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0)
		snprintf(buf, n, "0");
	else
		snprintf(buf, n, "%s%s", num, unit);
	return buf;
}

char *cpr_scaled_label(char *buf, size_t n, int64_t value, const char *from, const char *to)
{
	const char *u = "";
	double v = cpr_scale(value, from, to, &u);
	return cpr_fmt_float_label(buf, n, v, u);
}

char *cpr_label(char *buf, size_t n, int64_t value, const char *unit)
{
	return cpr_scaled_label(buf, n, value, unit, "auto");
}

char *cpr_percentage(char *buf, size_t n, int64_t value, int64_t total)
{
	double ratio = 0;
	if (total != 0)
		ratio = fabs((double)value / (double)total) * 100;
	if (ratio >= 99.95 && ratio <= 100.05)
		snprintf(buf, n, "  100%%");
	else if (ratio >= 1.0)
		snprintf(buf, n, "%5.2f%%", ratio);
	else
		snprintf(buf, n, "%5.2g%%", ratio);
	return buf;
}

/* Go's time.Duration.String(), used for "Duration:" lines in -raw. */
char *cpr_go_duration(char *buf, size_t n, int64_t d)
{
	char tmp[40];
	char *w = tmp + sizeof tmp;
	*--w = 0;
	uint64_t u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	bool neg = d < 0;
	if (u < 1000000000ULL) {
		/* Sub-second: use smaller units like "1.2ms". */
		int prec;
		const char *suffix;
		if (u == 0) {
			snprintf(buf, n, "0s");
			return buf;
		} else if (u < 1000) {
			prec = 0;
			suffix = "ns";
		} else if (u < 1000000) {
			prec = 3;
			suffix = "\xc2\xb5s";   /* U+00B5 micro sign, as Go writes it */
		} else {
			prec = 6;
			suffix = "ms";
		}
		size_t sl = strlen(suffix);
		w -= sl;
		memcpy(w, suffix, sl);
		/* fraction */
		bool print = false;
		for (int i = 0; i < prec; i++) {
			unsigned digit = (unsigned)(u % 10);
			print = print || digit != 0;
			if (print)
				*--w = (char)('0' + digit);
			u /= 10;
		}
		if (print)
			*--w = '.';
		if (u == 0)
			*--w = '0';
		while (u) {
			*--w = (char)('0' + u % 10);
			u /= 10;
		}
	} else {
		*--w = 's';
		bool print = false;
		for (int i = 0; i < 9; i++) {
			unsigned digit = (unsigned)(u % 10);
			print = print || digit != 0;
			if (print)
				*--w = (char)('0' + digit);
			u /= 10;
		}
		if (print)
			*--w = '.';
		uint64_t secs = u % 60;
		u /= 60;
		if (secs == 0)
			*--w = '0';
		while (secs) {
			*--w = (char)('0' + secs % 10);
			secs /= 10;
		}
		if (u > 0) {
			*--w = 'm';
			uint64_t mins = u % 60;
			u /= 60;
			if (mins == 0)
				*--w = '0';
			while (mins) {
				*--w = (char)('0' + mins % 10);
				mins /= 10;
			}
			if (u > 0) {
				*--w = 'h';
				while (u) {
					*--w = (char)('0' + u % 10);
					u /= 10;
				}
			}
		}
	}
	if (neg)
		*--w = '-';
	snprintf(buf, n, "%s", w);
	return buf;
}

char *cpr_format_value(const cpr_ctx *c, char *buf, size_t n, int64_t v)
{
	if (c->ratio > 0 && c->ratio != 1)
		v = cpr_d2i64((double)v * c->ratio);
	return cpr_scaled_label(buf, n, v, c->sample_unit, c->output_unit);
}
