/*
 * header.c - the header lines every text report starts with, as pprof's
 * ProfileLabels: File, Build ID, comments (those not starting with '#'),
 * Type, Time ("Jan 2, 2006 at 3:04pm (MST)", local time zone), Duration with
 * the total and, for time units, its share of the duration; then the active
 * filters.
 */
#include "report_int.h"

#include <string.h>
#include <time.h>

void cpr_print_profile_labels(cpr_ctx *c, FILE *out)
{
	const cprof_profile *p = c->p;
	if (p->mappings.n) {
		const cprof_mapping *m = &p->mappings.v[0];
		if (m->file) {
			const char *f = cprof_s(p, m->file);
			const char *b = strrchr(f, '/');
			/* filepath.Base: strip trailing slashes, then take the last element */
			size_t len = strlen(f);
			while (len > 1 && f[len - 1] == '/')
				len--;
			b = NULL;
			for (size_t i = 0; i < len; i++)
				if (f[i] == '/')
					b = f + i;
			if (b && len > 1)
				fprintf(out, "File: %.*s\n", (int)(len - (size_t)(b + 1 - f)), b + 1);
			else
				fprintf(out, "File: %.*s\n", (int)len, f);
		}
		if (m->build_id)
			fprintf(out, "Build ID: %s\n", cprof_s(p, m->build_id));
	}
	for (size_t i = 0; i < p->comments.n; i++) {
		const char *s = cprof_s(p, p->comments.v[i]);
		if (s[0] != '#')
			fprintf(out, "%s\n", s);
	}
	if (c->sample_type && *c->sample_type)
		fprintf(out, "Type: %s\n", c->sample_type);
	if (p->time_nanos) {
		time_t t = (time_t)(p->time_nanos / 1000000000);
		if (p->time_nanos < 0 && p->time_nanos % 1000000000)
			t--;
		struct tm tm;
		char date[64], zone[16];
		localtime_r(&t, &tm);
		int h = tm.tm_hour % 12;
		if (h == 0)
			h = 12;
		strftime(date, sizeof date, "%b %e, %Y", &tm);
		strftime(zone, sizeof zone, "%Z", &tm);
		/* Go's "2" is the day without padding: squeeze strftime's %e space */
		char *sp = strstr(date, "  ");
		if (sp)
			memmove(sp + 1, sp + 2, strlen(sp + 2) + 1);
		fprintf(out, "Time: %s at %d:%02d%s (%s)\n", date, h, tm.tm_min,
			tm.tm_hour < 12 ? "am" : "pm", zone);
	}
	if (p->duration_nanos) {
		char dur[CPR_LBL], tot[CPR_LBL], pct[CPR_LBL], ratio[CPR_LBL + 2] = "";
		cpr_label(dur, sizeof dur, p->duration_nanos, "nanoseconds");
		const char *tu = "";
		double tn = cpr_scale(c->total, c->sample_unit, "nanoseconds", &tu);
		if (strcmp(tu, "ns") == 0 && tn != 0)
			snprintf(ratio, sizeof ratio, "(%s)",
				 cpr_percentage(pct, sizeof pct, (int64_t)tn, p->duration_nanos));
		fprintf(out, "Duration: %s, Total samples = %s %s\n", dur,
			cpr_format_value(c, tot, sizeof tot, c->total), ratio);
	}
}

void cpr_print_active_filters(cpr_ctx *c, FILE *out)
{
	if (!c->nactive)
		return;
	fprintf(out, "Active filters:\n");
	for (size_t i = 0; i < c->nactive; i++) {
		const char *s = c->active_filters[i];
		if (strlen(s) > 80)
			fprintf(out, "   %.80s\xe2\x80\xa6\n", s);
		else
			fprintf(out, "   %s\n", s);
	}
}
