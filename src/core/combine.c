/*
 * combine.c - pprof's -base / -diff_base / -normalize policy: from the
 * decoded sources and bases to the one profile a report reads.
 *
 * As Go 1.19's fetchProfiles: the sources are merged (one source is merged
 * alone, which cprof_compact does in place), the bases likewise; a
 * -diff_base base is labelled pprof::base=true; -normalize scales the
 * merged source so each value column sums to the base's; the base is scaled
 * by -1 and merged with the source.  Every step that can fail returns a
 * CPROF_E* code with a message and the stage it failed in, so a front end
 * (the command, the server's diff query) words the line its own way; nothing
 * here prints or exits.
 *
 * Ownership: cprof_combine takes the profiles it is given (it frees every
 * one, on success and on failure), so a single large source is compacted
 * where it is rather than copied.  It touches nothing but those profiles:
 * calls on distinct profiles may run in parallel threads.
 */
#include "core_int.h"

#include <math.h>

/* Merge ps[0..n) (taken) into *out: one profile is compacted in place. */
static int merge_taken(cprof_profile **ps, size_t n, cprof_profile **out, cprof_error *err)
{
	int rc;
	*out = NULL;
	if (n == 1) {
		rc = cprof_compact(ps[0], err);
		if (rc < 0) {
			cprof_profile_free(ps[0]);
			ps[0] = NULL;
			return rc;
		}
		*out = ps[0];
		ps[0] = NULL;
		return 0;
	}
	rc = cprof_merge(ps, n, out, err);
	for (size_t i = 0; i < n; i++) {
		cprof_profile_free(ps[i]);
		ps[i] = NULL;
	}
	return rc;
}

int cprof_normalize(cprof_profile *p, const cprof_profile *base, cprof_error *err)
{
	if (!p || !base)
		return cprof_seterr(err, CPROF_EINVAL, "no profile to normalize");
	size_t nv = p->vtypes.n;
	if (base->vtypes.n != nv)
		return cprof_seterr(err, CPROF_EMISMATCH,
				    "the base profile has %zu sample types, the source %zu",
				    base->vtypes.n, nv);
	double ratio[CPROF_NORMALIZE_MAX_TYPES];
	if (nv > CPROF_NORMALIZE_MAX_TYPES)
		return cprof_seterr(err, CPROF_ELIMIT, "too many sample types (%zu)", nv);
	for (size_t k = 0; k < nv; k++) {
		int64_t bs = 0, ss = 0;
		for (size_t i = 0; i < base->samples.n; i++)
			bs += cprof_sample_values(base, i)[k];
		for (size_t i = 0; i < p->samples.n; i++)
			ss += cprof_sample_values(p, i)[k];
		ratio[k] = ss == 0 ? 0.0 : (double)bs / (double)ss;
	}
	size_t w = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		int64_t *v = p->values.v + i * nv;
		bool keep = false;
		for (size_t k = 0; k < nv; k++) {
			if (ratio[k] != 1)
				v[k] = (int64_t)round((double)v[k] * ratio[k]);
			keep = keep || v[k] != 0;
		}
		if (!keep)
			continue;
		p->samples.v[w] = p->samples.v[i];
		memmove(p->values.v + w * nv, v, nv * sizeof *v);
		w++;
	}
	p->samples.n = w;
	p->values.n = w * nv;
	return 0;
}

static void free_all(cprof_profile **ps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cprof_profile_free(ps[i]);
		ps[i] = NULL;
	}
}

int cprof_combine(cprof_profile **srcs, size_t n, cprof_profile **bases, size_t nb,
		  const cprof_combine_opts *o, cprof_profile **out, cprof_error *err)
{
	static const cprof_combine_opts none = { 0 };
	cprof_combine_stage local;
	if (!o)
		o = &none;
	cprof_combine_stage *stage = o->stage ? o->stage : &local;
	*stage = CPROF_STAGE_ARGS;
	if (out)
		*out = NULL;
	if (!srcs || !out || n == 0 || (nb && !bases) ||
	    (o->mode != CPROF_COMBINE_BASE && o->mode != CPROF_COMBINE_DIFF_BASE)) {
		if (srcs)
			free_all(srcs, n);
		if (bases)
			free_all(bases, nb);
		return cprof_seterr(err, CPROF_EINVAL, "no source profile, or a bad combination mode");
	}
	for (size_t i = 0; i < n + nb; i++)
		if (!(i < n ? srcs[i] : bases[i - n])) {
			free_all(srcs, n);
			if (bases)
				free_all(bases, nb);
			return cprof_seterr(err, CPROF_EINVAL, "a profile to combine is missing");
		}

	cprof_profile *p = NULL, *b = NULL;
	*stage = CPROF_STAGE_SOURCES;
	int rc = merge_taken(srcs, n, &p, err);
	if (rc < 0) {
		if (bases)
			free_all(bases, nb);
		return rc;
	}
	if (nb == 0) {
		*stage = CPROF_STAGE_DONE;
		*out = p;
		return 0;
	}
	*stage = CPROF_STAGE_BASES;
	if ((rc = merge_taken(bases, nb, &b, err)) < 0)
		goto fail;
	*stage = CPROF_STAGE_LABEL;
	if (o->mode == CPROF_COMBINE_DIFF_BASE &&
	    (rc = cprof_add_label_all(b, "pprof::base", "true")) < 0) {
		cprof_seterr(err, rc, "%s", cprof_strerror(rc));
		goto fail;
	}
	*stage = CPROF_STAGE_NORMALIZE;
	if (o->normalize && (rc = cprof_normalize(p, b, err)) < 0)
		goto fail;
	*stage = CPROF_STAGE_SUBTRACT;
	cprof_scale(b, -1);
	cprof_profile *both[2] = { p, b };
	if ((rc = cprof_merge(both, 2, out, err)) < 0)
		goto fail;
	cprof_profile_free(p);
	cprof_profile_free(b);
	*stage = CPROF_STAGE_DONE;
	return 0;
fail:
	cprof_profile_free(p);
	cprof_profile_free(b);
	return rc;
}
