/*
 * raw.c - the -raw report: the profile as text, byte for byte what Go
 * 1.19's Profile.String() prints (comments, period, time, duration, the
 * samples with their label lines, every location with its inline lines,
 * every mapping with its flags).
 *
 * It prints the profile after the report pipeline, like pprof: filters have
 * dropped samples and trimmed lines, but every location and mapping of the
 * table is listed.  Label lines are built once per distinct label set and
 * reused for every sample that carries it.  Times use the local time zone
 * (Go's time.Time String format), durations Go's %.4v: the first four
 * characters of time.Duration's String.
 */
#include "report_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One "key:[v1 v2]" entry per key of label set ls, string labels (numeric
 * false) or numeric ones, sorted as strings and joined by spaces into out
 * (empty when there are none). */
static int label_line(const cprof_profile *p, uint32_t ls, bool numeric, cprof_buf *out)
{
	const cprof_label *l = cprof_lset(p, ls);
	size_t n = cprof_lset_len(p, ls), nkeys = 0;
	cprof_buf item = { 0 };
	char **items = calloc(n ? n : 1, sizeof *items);
	int rc = CPROF_ENOMEM;
	if (!items)
		return rc;
	/* labels of a set are sorted by key, so each key's labels are adjacent */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && l[j].key == l[i].key)
			j++;
		bool units = false, any = false;
		for (size_t k = i; k < j; k++) {
			if (!cpr_label_present(&l[k]) || (l[k].str != 0) == numeric)
				continue;
			any = true;
			units = units || (numeric && l[k].unit);
		}
		if (any) {
			item.n = 0;
			if (cprof_buf_str(&item, cprof_s(p, l[i].key)) || cprof_buf_add(&item, ":[", 2))
				goto out;
			bool first = true;
			for (size_t k = i; k < j; k++) {
				if (!cpr_label_present(&l[k]) || (l[k].str != 0) == numeric)
					continue;
				if (!first && cprof_buf_add(&item, " ", 1))
					goto out;
				first = false;
				if (!numeric) {
					if (cprof_buf_add(&item, cprof_s(p, l[k].str), cprof_slen(p, l[k].str)))
						goto out;
					continue;
				}
				char num[32];
				snprintf(num, sizeof num, "%" PRId64, l[k].num);
				if (cprof_buf_str(&item, num) ||
				    (units && (cprof_buf_add(&item, " ", 1) || cprof_buf_str(&item, cprof_s(p, l[k].unit)))))
					goto out;
			}
			if (cprof_buf_add(&item, "]", 1) || !(items[nkeys] = strdup(item.s)))
				goto out;
			nkeys++;
		}
		i = j;
	}
	qsort(items, nkeys, sizeof *items, cmp_cstr);
	out->n = 0;
	if (cprof_buf_add(out, "", 0))
		goto out;
	for (size_t k = 0; k < nkeys; k++)
		if ((k && cprof_buf_add(out, " ", 1)) || cprof_buf_str(out, items[k]))
			goto out;
	rc = 0;
out:
	for (size_t k = 0; k < nkeys; k++)
		free(items[k]);
	free(items);
	free(item.s);
	return rc;
}

/* Go's time.Time String() for time.Unix(0, ns) in the local zone:
 * "2006-01-02 15:04:05.999999999 -0700 MST". */
static void go_time(char *buf, size_t n, int64_t ns)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (!localtime_r(&t, &tm)) {
		snprintf(buf, n, "%" PRId64, ns);
		return;
	}
	char fr[16] = "";
	if (frac) {
		snprintf(fr, sizeof fr, ".%09" PRId64, frac);
		size_t l = strlen(fr);
		while (fr[l - 1] == '0')
			fr[--l] = 0;
	}
	long off = tm.tm_gmtoff / 60;
	char sign = '+';
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	char zone[64];
	if (tm.tm_zone && *tm.tm_zone)
		snprintf(zone, sizeof zone, "%s", tm.tm_zone);
	else
		snprintf(zone, sizeof zone, "%c%02ld%02ld", sign, off / 60, off % 60);
	snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d%s %c%02ld%02ld %s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fr, sign, off / 60,
		 off % 60, zone);
}

/* The first four characters (runes) of Go's duration string. */
static void go_duration4(char *buf, size_t n, int64_t ns)
{
	char d[64];
	cpr_go_duration(d, sizeof d, ns);
	size_t i = 0;
	for (int runes = 0; d[i] && runes < 4; runes++) {
		i++;
		while (((unsigned char)d[i] & 0xc0) == 0x80)
			i++;
	}
	snprintf(buf, n, "%.*s", (int)i, d);
}

/* Decimal digits of v, right-aligned in width w (0: no padding), into b;
 * returns the length.  b must hold 24 + w bytes. */
static size_t fmt_i64(char *b, int64_t v, size_t w)
{
	char tmp[24];
	size_t n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[n++] = '-';
	size_t len = 0;
	for (; w > n; w--)
		b[len++] = ' ';
	while (n)
		b[len++] = tmp[--n];
	return len;
}

static void print_location(FILE *out, const cprof_profile *p, const cprof_location *l)
{
	char head[96];
	int hl = snprintf(head, sizeof head, "%6" PRIu64 ": 0x%" PRIx64 " ", l->id, l->address);
	if (l->mapping < p->mappings.n)
		hl += snprintf(head + hl, sizeof head - (size_t)hl, "M=%" PRIu64 " ",
			       p->mappings.v[l->mapping].id);
	if (l->is_folded)
		snprintf(head + hl, sizeof head - (size_t)hl, "[F] ");
	if (l->nline == 0)
		fprintf(out, "%s\n", head);
	for (uint32_t i = 0; i < l->nline; i++) {
		const cprof_line *ln = &p->lines.v[l->line_off + i];
		fputs(i ? "             " : head, out);
		if (ln->function >= p->functions.n) {
			fputs("??\n", out);
			continue;
		}
		const cprof_function *fn = &p->functions.v[ln->function];
		fprintf(out, "%s %s:%" PRId64 " s=%" PRId64, cprof_s(p, fn->name),
			cprof_s(p, fn->filename), ln->line, fn->start_line);
		if (fn->name != fn->system_name)
			fprintf(out, "(%s)", cprof_s(p, fn->system_name));
		fputc('\n', out);
	}
}

int cpr_print_raw(cpr_ctx *c, cprof_error *err)
{
	const cprof_profile *p = c->p;
	FILE *out = c->out;
	char buf[128];
	char **lines = NULL;            /* per label set: its label lines, built lazily */
	size_t nls = cprof_nlsets(p);
	cprof_buf sl = { 0 }, nl = { 0 };
	CPROF_VEC(char) row = { 0 };
	int rc = CPROF_ENOMEM;

	for (size_t i = 0; i < p->comments.n; i++)
		fprintf(out, "Comment: %s\n", cprof_s(p, p->comments.v[i]));
	if (p->period_type.type || p->period_type.unit)
		fprintf(out, "PeriodType: %s %s\n", cprof_s(p, p->period_type.type),
			cprof_s(p, p->period_type.unit));
	fprintf(out, "Period: %" PRId64 "\n", p->period);
	if (p->time_nanos) {
		go_time(buf, sizeof buf, p->time_nanos);
		fprintf(out, "Time: %s\n", buf);
	}
	if (p->duration_nanos) {
		go_duration4(buf, sizeof buf, p->duration_nanos);
		fprintf(out, "Duration: %s\n", buf);
	}
	fputs("Samples:\n", out);
	for (size_t i = 0; i < p->vtypes.n; i++) {
		const cprof_vtype *vt = &p->vtypes.v[i];
		fprintf(out, "%s%s/%s%s", i ? " " : "", cprof_s(p, vt->type), cprof_s(p, vt->unit),
			vt->type == p->default_sample_type ? "[dflt]" : "");
	}
	fputc('\n', out);

	if (!(lines = calloc(nls ? nls : 1, sizeof *lines)))
		goto out;
	for (size_t i = 0; i < p->samples.n; i++) {
		/* " %10d" per value, ": ", "%d " per location id */
		const int64_t *v = cprof_sample_values(p, i);
		uint32_t s = p->samples.v[i].stack;
		const uint32_t *locs = cprof_stack_locs(p, s);
		size_t n = cprof_stack_len(p, s);
		row.n = 0;
		if (CPR_RESERVE(row, 48 * (p->vtypes.n + n + 1)))
			goto out;
		for (size_t k = 0; k < p->vtypes.n; k++) {
			row.v[row.n++] = ' ';
			row.n += fmt_i64(row.v + row.n, v[k], 10);
		}
		row.v[row.n++] = ':';
		row.v[row.n++] = ' ';
		for (size_t k = 0; k < n; k++) {
			uint64_t id = p->locations.v[locs[k]].id;
			if (id > INT64_MAX) {
				row.n += (size_t)snprintf(row.v + row.n, 24, "%" PRIu64, id);
			} else {
				row.n += fmt_i64(row.v + row.n, (int64_t)id, 0);
			}
			row.v[row.n++] = ' ';
		}
		row.v[row.n++] = '\n';
		fwrite(row.v, 1, row.n, out);
		uint32_t ls = p->samples.v[i].labels;
		if (ls == 0)
			continue;
		if (!lines[ls]) {
			if (label_line(p, ls, false, &sl) || label_line(p, ls, true, &nl))
				goto out;
			size_t len = (sl.n ? sl.n + 17 : 0) + (nl.n ? nl.n + 17 : 0) + 1;
			if (!(lines[ls] = malloc(len)))
				goto out;
			lines[ls][0] = 0;
			size_t w = 0;
			if (sl.n)
				w += (size_t)snprintf(lines[ls] + w, len - w, "%16s%s\n", "", sl.s);
			if (nl.n)
				snprintf(lines[ls] + w, len - w, "%16s%s\n", "", nl.s);
		}
		fputs(lines[ls], out);
	}

	fputs("Locations\n", out);
	for (size_t i = 0; i < p->locations.n; i++)
		print_location(out, p, &p->locations.v[i]);

	fputs("Mappings\n", out);
	for (size_t i = 0; i < p->mappings.n; i++) {
		const cprof_mapping *m = &p->mappings.v[i];
		fprintf(out, "%" PRIu64 ": 0x%" PRIx64 "/0x%" PRIx64 "/0x%" PRIx64 " %s %s %s%s%s%s\n",
			m->id, m->start, m->limit, m->offset, cprof_s(p, m->file),
			cprof_s(p, m->build_id), m->has_functions ? "[FN]" : "",
			m->has_filenames ? "[FL]" : "", m->has_line_numbers ? "[LN]" : "",
			m->has_inline_frames ? "[IN]" : "");
	}
	rc = 0;
out:
	if (lines)
		for (size_t i = 0; i < nls; i++)
			free(lines[i]);
	free(lines);
	free(sl.s);
	free(nl.s);
	free(row.v);
	if (rc < 0)
		return cprof_seterr(err, rc, "%s", cprof_strerror(rc));
	if (ferror(out))
		return cprof_seterr(err, CPROF_EIO, "write error");
	return 0;
}
