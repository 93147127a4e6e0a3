/*
 * legacy_gperf.c - the gperftools CPU profile (what CPUPROFILE= writes), read
 * as pprof's parseCPU does.
 *
 * The file is a sequence of machine words, 32 or 64 bits wide, in either
 * byte order; the four combinations are tried in pprof's order (32 LE, 32 BE,
 * 64 LE, 64 BE) against the header 0, 3, 0, period_us, 0.  Records follow as
 * count, depth, pc[depth], ending with the trailer 0, 1, 0; after it comes the
 * text of /proc/self/maps.  Every frame but the first is a return address and
 * is moved back by one byte onto the call.  A frame at depth 1 shared by all
 * but n/32 samples is the signal handler's own and is removed (twice at
 * most); a leaf the unwinder reported twice is removed after the memory map
 * has been read.  Values are samples/count and cpu/nanoseconds.
 */
#include "legacy_int.h"

typedef struct words {
	const unsigned char *d;
	size_t len, pos;
	unsigned w;             /* 4 or 8 */
	bool big;
	bool dead;              /* ran out of input (pprof's nil slice) */
} words;

static uint64_t word(words *r)
{
	if (r->dead || r->len - r->pos < r->w) {
		r->dead = true;
		return 0;
	}
	const unsigned char *b = r->d + r->pos;
	uint64_t v = 0;
	for (unsigned i = 0; i < r->w; i++)
		v |= (uint64_t)b[r->big ? r->w - 1 - i : i] << (8 * i);
	r->pos += r->w;
	return v;
}

/* The frame at depth 1 carried by at least n - n/32 samples, if any.  Such a
 * frame is a strict majority, so a majority vote finds the candidate. */
static bool common_second_frame(const cp_legacy *b, size_t margin, uint32_t *out)
{
	uint32_t cand = 0;
	size_t votes = 0, count = 0, n = b->samples.n;
	for (size_t s = 0; s < n; s++) {
		const cp_lsample *sm = &b->samples.v[s];
		if (sm->n < 2)
			continue;
		uint32_t a = b->frames.v[sm->off + 1];
		if (votes == 0) {
			cand = a;
			votes = 1;
		} else if (a == cand) {
			votes++;
		} else {
			votes--;
		}
	}
	if (votes == 0)
		return false;
	for (size_t s = 0; s < n; s++) {
		const cp_lsample *sm = &b->samples.v[s];
		if (sm->n >= 2 && b->frames.v[sm->off + 1] == cand)
			count++;
	}
	if (count < n - margin)
		return false;
	*out = cand;
	return true;
}

static void remove_second_frame(cp_legacy *b, uint32_t a)
{
	for (size_t s = 0; s < b->samples.n; s++) {
		cp_lsample *sm = &b->samples.v[s];
		if (sm->n < 2 || b->frames.v[sm->off + 1] != a)
			continue;
		uint32_t *f = b->frames.v + sm->off;
		memmove(f + 1, f + 2, (sm->n - 2) * sizeof *f);
		sm->n--;
	}
}

static int parse_records(cp_legacy *b, words *r, cprof_error *err)
{
	int64_t period = b->p->period;
	while (!r->dead && r->pos < r->len) {
		size_t at = r->pos;
		uint64_t count = word(r), nstk = word(r);
		if (r->dead || nstk > (r->len - r->pos) / 4)
			return cprof_seterr(err, CPROF_EFORMAT,
					    "gperftools CPU profile: truncated record at byte %zu", at);
		if (count == 0 && nstk == 1) {
			size_t save = r->pos;
			if (word(r) == 0)
				return 0;               /* the trailer */
			r->pos = save;
			r->dead = false;
		}
		for (uint64_t i = 0; i < nstk; i++) {
			uint64_t pc = word(r);
			if (i > 0)
				pc--;
			int e = cp_legacy_frame(b, pc);
			if (e)
				return e;
		}
		int64_t v[2] = { (int64_t)count, cp_wmul((int64_t)count, period) };
		int e = cp_legacy_sample(b, v, 0);
		if (e)
			return e;
	}
	return 0;
}

int cprof_legacy_gperf_cpu(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	static const struct { unsigned w; bool big; } kinds[] = {
		{ 4, false }, { 4, true }, { 8, false }, { 8, true },
	};
	words r;
	uint64_t period_us = 0;
	size_t k;
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, "no place for the profile");
	*out = NULL;
	if (!data)
		return CPROF_EUNKNOWN;
	for (k = 0; k < 4; k++) {
		r = (words){ data, len, 0, kinds[k].w, kinds[k].big, false };
		uint64_t h[5];
		for (int i = 0; i < 5; i++)
			h[i] = word(&r);
		if (r.dead || h[0] != 0 || h[1] != 3 || h[4] != 0 || h[3] == 0)
			continue;
		if (h[2] == 0) {
			period_us = h[3];
			break;
		}
		if (h[2] == 1)
			return cprof_seterr(err, CPROF_EFORMAT,
					    "gperftools CPU profile: Java profiles are not supported");
	}
	if (k == 4)
		return CPROF_EUNKNOWN;

	cp_legacy b;
	cp_lines L;         /* the memory map after the records */
	int ret = cp_legacy_init(&b, 2);
	if (ret)
		return cprof_seterr(err, ret, "gperftools CPU profile: out of memory");
	cprof_profile *p = b.p;
	p->period = cp_wmul((int64_t)period_us, 1000);
	if ((ret = cp_legacy_period_type(p, "cpu", "nanoseconds")) ||
	    (ret = cp_legacy_vtype(p, "samples", "count")) ||
	    (ret = cp_legacy_vtype(p, "cpu", "nanoseconds")))
		goto fail;
	if ((ret = parse_records(&b, &r, err)))
		goto fail;

	/* the signal handler's frame: at most twice */
	size_t margin = b.samples.n / 32;
	for (int iter = 0; iter < 2; iter++) {
		uint32_t a;
		if (common_second_frame(&b, margin, &a))
			remove_second_frame(&b, a);
	}

	if (r.dead)
		cp_lines_init(&L, "", 0);
	else
		cp_lines_init(&L, r.d + r.pos, r.len - r.pos);
fail:
	return cp_legacy_done(&b, ret, &L, true, CP_FRAMES_CPU, "gperftools CPU profile", out, err);
}
