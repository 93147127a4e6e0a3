/*
 * fuzz_run.h - what the report fuzz targets share: FUZZ_CHECK (abort with
 * a line naming the target when a property fails) and fuzz_report_run (one
 * report on a copy of a profile into memory, warnings to /dev/null; it
 * checks that a failure comes with its code and a message).  Each target
 * is its own program, so the helpers are static.
 */
#ifndef CPROF_FUZZ_RUN_H
#define CPROF_FUZZ_RUN_H

#include "cprof_core.h"
#include "cprof_report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(who, cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s: ", who); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

/* The report o of a copy of p, malloc'd (its length in *len), or NULL when
 * the report failed (or memory ran out for the copy). */
static inline char *fuzz_report_run(const char *who, const cprof_profile *p,
				    const cprof_ropts *o, size_t *len)
{
	cprof_profile *q = cprof_profile_dup(p);
	if (!q)
		return NULL;
	char *buf = NULL;
	*len = 0;
	FILE *out = open_memstream(&buf, len);
	FILE *warn = fopen("/dev/null", "w");
	FUZZ_CHECK(who, out && warn, "cannot open streams");
	cprof_error err = { 0 };
	int rc = cprof_report(q, o, out, warn, &err);
	fclose(out);
	fclose(warn);
	FUZZ_CHECK(who, rc == 0 || (rc < 0 && err.code == rc && err.msg[0]),
		   "report %d failed without a message (%d)", o->format, rc);
	cprof_profile_free(q);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The common layout of the profile targets: data[0] picks options (the
 * granularity, 0x08 -noinlines, 0x10 -mean, 0x20 sample_index 0, 0x40
 * -divide_by=3; a target may read other bits), the rest is any profile
 * cprof_decode accepts.  The profile (the caller frees it) with *o and *sel
 * set, or NULL when it does not decode. */
static inline cprof_profile *fuzz_profile_opts(const uint8_t *data, size_t size, cprof_ropts *o,
					       uint8_t *sel)
{
	if (size < 1)
		return NULL;
	*sel = data[0];
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	if (cprof_decode(data + 1, size - 1, &p, &err) < 0)
		return NULL;
	cprof_ropts_init(o);
	o->granularity = *sel % 5;
	o->noinlines = *sel & 0x08;
	o->mean = *sel & 0x10;
	o->sample_index = (*sel & 0x20) ? "0" : NULL;
	o->divide_by = (*sel & 0x40) ? 3 : 1;
	return p;
}

#endif
