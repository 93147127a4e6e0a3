/*
 * measure.c - units and number formatting, as pprof prints them.
 *
 * Three unit families are known: memory (B, kB, MB ... with binary factors
 * and SI-looking names), time (ns ... s, hrs; no minutes) and Google compute
 * units (n*GCU ... P*GCU).  A unit name is "sniffed": lowercased and, when
 * longer than two characters, stripped of one trailing 's', then looked up
 * among the aliases.  Scaling to "auto" or "minimum" picks the largest unit
 * in which the value is at least 1.  Values print with "%.2f" minus a
 * trailing ".00"; zero prints as "0" without a unit.  Everything here is
 * pure and thread-safe.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
	const char *name;
	const char *aliases[4];
	double factor;
} unit_def;

typedef struct {
	const unit_def *units;
	size_t n;
	unit_def dflt;
} unit_family;

static const unit_def mem_units[] = {
	{ "B", { "b", "byte" }, 1 },
	{ "kB", { "kb", "kbyte", "kilobyte" }, 1024.0 },
	{ "MB", { "mb", "mbyte", "megabyte" }, 1048576.0 },
	{ "GB", { "gb", "gbyte", "gigabyte" }, 1073741824.0 },
	{ "TB", { "tb", "tbyte", "terabyte" }, 1099511627776.0 },
	{ "PB", { "pb", "pbyte", "petabyte" }, 1125899906842624.0 },
};
static const unit_def time_units[] = {
	{ "ns", { "ns", "nanosecond" }, 1 },
	{ "us", { "\xce\xbcs", "us", "microsecond" }, 1e3 },
	{ "ms", { "ms", "millisecond" }, 1e6 },
	{ "s", { "s", "sec", "second" }, 1e9 },
	{ "hrs", { "hour", "hr" }, 3600e9 },
};
static const unit_def gcu_units[] = {
	{ "n*GCU", { "nanogcu" }, 1e-9 },
	{ "u*GCU", { "microgcu" }, 1e-6 },
	{ "m*GCU", { "milligcu" }, 1e-3 },
	{ "GCU", { "gcu" }, 1 },
	{ "k*GCU", { "kilogcu" }, 1e3 },
	{ "M*GCU", { "megagcu" }, 1e6 },
	{ "G*GCU", { "gigagcu" }, 1e9 },
	{ "T*GCU", { "teragcu" }, 1e12 },
	{ "P*GCU", { "petagcu" }, 1e15 },
};

static const unit_family families[] = {
	{ mem_units, sizeof mem_units / sizeof *mem_units, { "B", { 0 }, 1 } },
	{ time_units, sizeof time_units / sizeof *time_units, { "s", { 0 }, 1e9 } },
	{ gcu_units, sizeof gcu_units / sizeof *gcu_units, { "GCU", { 0 }, 1 } },
};

static const unit_def *sniff(const unit_family *f, const char *unit)
{
	char low[64];
	size_t n = strlen(unit);
	if (n >= sizeof low)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)unit[i];
		low[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
	}
	low[n] = 0;
	/* pprof strips one trailing 's' when the name is longer than two bytes
	 * (bytes, not characters: "μs" is three bytes and becomes "μ"). */
	if (n > 2 && low[n - 1] == 's')
		low[--n] = 0;
	for (size_t i = 0; i < f->n; i++)
		for (size_t a = 0; a < 4 && f->units[i].aliases[a]; a++)
			if (strcmp(low, f->units[i].aliases[a]) == 0)
				return &f->units[i];
	return NULL;
}

int cpr_unit_family(const char *unit)
{
	for (size_t i = 0; i < sizeof families / sizeof *families; i++)
		if (sniff(&families[i], unit))
			return (int)i;
	return -1;
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
	for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
		const unit_family *f = &families[i];
		const unit_def *fu = sniff(f, from);
		if (!fu)
			continue;
		double v = (double)value * fu->factor;
		if (is_auto(to)) {
			double best = 0;
			const char *bn = NULL;
			for (size_t k = 0; k < f->n; k++)
				if (f->units[k].factor >= best && v / f->units[k].factor >= 1.0) {
					best = f->units[k].factor;
					bn = f->units[k].name;
				}
			if (bn) {
				*unit_out = bn;
				return v / best;
			}
			*unit_out = f->dflt.name;
			return v / f->dflt.factor;
		}
		const unit_def *tu = sniff(f, to);
		if (!tu) {
			*unit_out = f->dflt.name;
			return v / f->dflt.factor;
		}
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
