/*
 * pb_decode.c - profile.proto into the model, from memory or streamed from
 * a reader (pb_int.h: a descriptor or memory, inflated on the fly).
 *
 * One forward pass over the top-level Profile message, then a short fix-up.
 * Streamed input arrives in a 1 MiB window from which whole top-level fields
 * are parsed as they complete (the window grows only for a larger field), so
 * neither the compressed nor the inflated input is ever held whole.
 * Producers order fields freely (Go writes time_nanos first, interleaves
 * locations, functions and samples, puts mappings near the end and the string
 * table last; pprof writes samples before the locations they name), so:
 *
 *   - Every proto id (location, function, mapping) is turned into a model
 *     index on first sight, definition or reference.  A reference seen first
 *     creates a placeholder element (get-or-create); the definition fills it
 *     in.  An id map holds id -> index: a dense array while ids stay small
 *     relative to the number of entries, an open-addressed hash for the rest.
 *     At the end every placeholder must have been defined (an undefined
 *     mapping is forgiven and dropped, as pprof does), and tables whose
 *     definition order differs from index order are permuted back to
 *     definition order, so that output order follows the input (stacks are
 *     rewritten in place, not re-interned).  While every id is its index + 1,
 *     as Go and pprof number them, the id map is not even looked at.
 *   - String fields hold raw string-table indices until the end.  Each
 *     string_table entry is interned as it arrives (so nothing points into the
 *     input) and smap[raw] = interned id is recorded; when that map is not the
 *     identity, every string field is rewritten at the end and label sets
 *     (interned with raw indices, sorted by them) are interned afresh.  The
 *     largest raw index referenced anywhere is tracked so the range check is
 *     a single comparison at the end.
 *   - Samples go straight into the model through cprof_add_sample once the
 *     sample types are known; a sample that arrives before them (or with a
 *     count that more sample types might still fix) is buffered with its
 *     values and flushed at the end, keeping input order.  Each sample is
 *     committed (its stack interned) one sample late, after the next one is
 *     parsed, with its stack index slot prefetched meanwhile: on a profile of
 *     600k distinct stacks that slot is a cache miss, and hiding it saves a
 *     sixth of the decode.  Any other top-level field commits it first.
 *
 * Bounds: nothing is allocated from a declared length or count until it has
 * been checked against the bytes that remain; scratch buffers and id maps
 * grow with what was actually read, so memory stays proportional to the
 * input.  The schema is at most three messages deep and unknown fields are
 * skipped without descending into them, so there is no recursion to bound.
 * Errors are CPROF_EFORMAT (CPROF_ENOMEM when out of memory) with a message
 * naming the field and, for wire-level problems, the byte offset.  After an
 * error the top-level framing is still followed to the end of the input
 * (walk(), payloads skipped, not held) when the caller wants to know whether
 * the input looked like profile.proto at all and whether it is two profiles
 * concatenated: pprof's dispatch decides on the whole input.
 */
#include "pb_int.h"

#include <limits.h>
#include <stdarg.h>
#include <zlib.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* ---- id maps --------------------------------------------------------------- */

typedef struct idmap {
	uint32_t *dense;                /* dense[id] = index + 1; 0 = absent */
	size_t dcap;
	uint64_t *hkey;                 /* 0 = empty slot (ids are nonzero) */
	uint32_t *hval;
	size_t hcap, hn;
	size_t n;                       /* entries (= elements in the model table) */
	CPROF_VEC(uint8_t) defined;     /* per index */
	CPROF_VEC(uint32_t) order;      /* indices in definition order */
	bool in_order;                  /* order[k] == k so far */
	bool ident;                     /* id == index + 1 for every entry so far
					 * (what Go and pprof write): no lookup */
} idmap;

static void idmap_free(idmap *m)
{
	free(m->dense);
	free(m->hkey);
	free(m->hval);
	CP_FREE(m->defined);
	CP_FREE(m->order);
}

static bool idmap_find(const idmap *m, uint64_t id, uint32_t *idx)
{
	if (m->ident) {
		if (id - 1 >= m->n)     /* id 0 wraps */
			return false;
		*idx = (uint32_t)(id - 1);
		return true;
	}
	if (id < m->dcap && m->dense[id]) {
		*idx = m->dense[id] - 1;
		return true;
	}
	if (!m->hn)
		return false;
	size_t mask = m->hcap - 1, i = cp_hash_u64(id) & mask;
	while (m->hkey[i]) {
		if (m->hkey[i] == id) {
			*idx = m->hval[i];
			return true;
		}
		i = (i + 1) & mask;
	}
	return false;
}

static int hash_put(idmap *m, uint64_t id, uint32_t idx)
{
	if ((m->hn + 1) * 2 > m->hcap) {
		size_t ncap = m->hcap ? m->hcap * 2 : 64;
		uint64_t *k = calloc(ncap, sizeof *k);
		uint32_t *v = malloc(cp_mul(ncap, sizeof *v));
		if (!k || !v) {
			free(k);
			free(v);
			return CPROF_ENOMEM;
		}
		for (size_t j = 0; j < m->hcap; j++) {
			if (!m->hkey[j])
				continue;
			size_t i = cp_hash_u64(m->hkey[j]) & (ncap - 1);
			while (k[i])
				i = (i + 1) & (ncap - 1);
			k[i] = m->hkey[j];
			v[i] = m->hval[j];
		}
		free(m->hkey);
		free(m->hval);
		m->hkey = k;
		m->hval = v;
		m->hcap = ncap;
	}
	size_t mask = m->hcap - 1, i = cp_hash_u64(id) & mask;
	while (m->hkey[i])
		i = (i + 1) & mask;
	m->hkey[i] = id;
	m->hval[i] = idx;
	m->hn++;
	return 0;
}

/* Record id -> idx for a new entry (the caller has checked it is absent).
 * Ids go to the dense array while it can stay within a few times the entry
 * count, so a single huge id costs a hash slot, not gigabytes. */
static int idmap_add(idmap *m, uint64_t id, uint32_t idx)
{
	if (CP_PUSH(m->defined, 0))
		return CPROF_ENOMEM;
	m->n++;
	if (id != (uint64_t)idx + 1)
		m->ident = false;       /* the dense array and hash have every id */
	size_t bound = cp_add(cp_mul(m->n, 4), 1024);
	if (id < m->dcap) {
		m->dense[id] = idx + 1;
		return 0;
	}
	if (id < bound) {
		size_t ncap = m->dcap ? m->dcap * 2 : 1024;
		if (ncap <= id)
			ncap = (size_t)id + 1;
		if (ncap > bound)
			ncap = bound;
		uint32_t *d = realloc(m->dense, cp_mul(ncap, sizeof *d));
		if (!d)
			return CPROF_ENOMEM;
		memset(d + m->dcap, 0, (ncap - m->dcap) * sizeof *d);
		m->dense = d;
		m->dcap = ncap;
		m->dense[id] = idx + 1;
		return 0;
	}
	return hash_put(m, id, idx);
}

/* Mark index idx defined; *dup says it already was (a duplicate id). */
static int idmap_define(idmap *m, uint32_t idx, bool *dup)
{
	*dup = m->defined.v[idx] != 0;
	if (*dup)
		return 0;
	m->defined.v[idx] = 1;
	if (m->order.n != idx)
		m->in_order = false;
	return CP_PUSH(m->order, idx);
}

/* ---- decoder state --------------------------------------------------------- */

typedef struct dec {
	cprof_profile *p;
	cprof_error *err;
	int rc;
	const uint8_t *base;            /* start of the bytes being parsed ... */
	size_t base_off;                /* ... and their offset in the input */

	idmap locs, funcs, maps;

	CPROF_VEC(uint32_t) smap;       /* raw string index -> interned id */
	bool str_identity;
	uint32_t smax;                  /* largest raw string index referenced */
	const char *smax_where;

	CPROF_VEC(cprof_vtype) vt;      /* sample types, raw string indices */
	bool vt_committed;              /* copied into p->vtypes */
	size_t vt_committed_n;
	bool vt_late;                   /* a sample_type after committed samples */
	int64_t bad_nv;                 /* first sample value count that cannot fit, or -1 */

	/* samples waiting for their sample types */
	CPROF_VEC(cprof_sample) pend;
	CPROF_VEC(uint32_t) pend_nv;
	CPROF_VEC(int64_t) pend_vals;

	/* per-message scratch */
	CPROF_VEC(uint32_t) s_locs, h_locs;
	CPROF_VEC(int64_t) s_vals, h_vals;
	CPROF_VEC(cprof_label) s_labs, h_labs;
	bool held;                      /* h_* holds a sample not yet committed */
	CPROF_VEC(cprof_line) s_lines;

	/* the top-level framing, followed for the dispatch (see track) */
	struct {
		size_t known, delimited;
		bool strtab, had_time, concat;
		bool stopped;           /* the framing broke: the walk ends there */
		bool in_len;            /* skipping a length-delimited payload ... */
		uint64_t skip, len_num; /* ... of skip more bytes, of field len_num */
	} w;
	bool walk_on;                   /* after an error, walk to the end (cp_pbinfo wanted) */
} dec;

__attribute__((format(printf, 2, 3)))
static int fail(dec *d, const char *fmt, ...)
{
	if (d->rc)
		return d->rc;
	char msg[CPROF_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	d->rc = CPROF_EFORMAT;
	cprof_seterr(d->err, CPROF_EFORMAT, "%s", msg);
	return d->rc;
}

static int nomem(dec *d)
{
	if (!d->rc) {
		d->rc = CPROF_ENOMEM;
		cprof_seterr(d->err, CPROF_ENOMEM, "out of memory decoding profile.proto");
	}
	return d->rc;
}

static size_t off(const dec *d, const uint8_t *at)
{
	return d->base_off + (size_t)(at - d->base);
}

/* ---- wire level ------------------------------------------------------------- */

/* 0 ok, 1 truncated, 2 longer than 10 bytes.  Bits beyond 64 are dropped,
 * as pprof's decoder does. */
static inline int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (p < end && *p < 0x80) {
		*out = *p;
		*pp = p + 1;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return 1;
		uint8_t b = *p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			*pp = p;
			return 0;
		}
	}
	return 2;
}

/* Varints in a packed run: each ends in exactly one byte below 0x80 (a
 * cut-off last one is caught while decoding), so this is an exact count
 * to reserve, not a guess from the byte length. */
static size_t count_varints(const uint8_t *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] < 0x80;
	return k + 1;
}

static int varint_err(dec *d, int r, const uint8_t *at, const char *msg)
{
	if (r == 1)
		return fail(d, "truncated varint at offset %zu (in %s)", off(d, at), msg);
	return fail(d, "varint longer than 10 bytes at offset %zu (in %s)", off(d, at), msg);
}

/* The next value of a packed varint field *q..qe (what names it in
 * errors): 1 with *v, 0 at its end, or the decoder's negative error. */
static inline int packed_next(dec *d, const uint8_t **q, const uint8_t *qe, const char *what,
			      uint64_t *v)
{
	if (*q >= qe)
		return 0;
	const uint8_t *at = *q;
	int r = get_varint(q, qe, v);
	return r ? varint_err(d, r, at, what) : 1;
}

typedef struct fld {
	uint64_t num;
	unsigned wt;
	uint64_t v;                     /* varint / fixed value */
	const uint8_t *data;            /* WT_LEN payload */
	size_t len;
	const uint8_t *at;              /* start of the tag */
} fld;

static int next_field(dec *d, const uint8_t **pp, const uint8_t *end, fld *f, const char *msg)
{
	const uint8_t *p = *pp;
	uint64_t tag;
	int r;
	f->at = p;
	if ((r = get_varint(&p, end, &tag)))
		return varint_err(d, r, f->at, msg);
	f->num = tag >> 3;
	f->wt = (unsigned)(tag & 7);
	if (f->num == 0)
		return fail(d, "invalid field number 0 at offset %zu (in %s)", off(d, f->at), msg);
	switch (f->wt) {
	case WT_VARINT:
		if ((r = get_varint(&p, end, &f->v)))
			return varint_err(d, r, p, msg);
		break;
	case WT_I64:
		if (end - p < 8)
			return fail(d, "truncated 64-bit field at offset %zu (in %s)", off(d, f->at), msg);
		memcpy(&f->v, p, 8);    /* little-endian hosts; the value is skipped anyway */
		p += 8;
		break;
	case WT_LEN: {
		uint64_t n;
		const uint8_t *lp = p;
		if ((r = get_varint(&p, end, &n)))
			return varint_err(d, r, lp, msg);
		if (n > CPROF_MAX_INPUT)
			return fail(d, "length %" PRIu64 " at offset %zu is larger than any input (in %s)",
				    n, off(d, lp), msg);
		if (n > (uint64_t)(end - p))
			return fail(d, "length %" PRIu64 " at offset %zu exceeds the %zu bytes left (in %s)",
				    n, off(d, lp), (size_t)(end - p), msg);
		f->data = p;
		f->len = (size_t)n;
		p += n;
		break;
	}
	case WT_I32:
		if (end - p < 4)
			return fail(d, "truncated 32-bit field at offset %zu (in %s)", off(d, f->at), msg);
		f->v = 0;
		memcpy(&f->v, p, 4);
		p += 4;
		break;
	default:
		return fail(d, "unsupported wire type %u (field %" PRIu64 ") at offset %zu (in %s)",
			    f->wt, f->num, off(d, f->at), msg);
	}
	*pp = p;
	return 0;
}

/* Streaming: 1 when a whole field starts at p, 0 when the bytes end inside
 * it, -1 when it is malformed (next_field then says how). */
static int field_complete(const uint8_t *p, const uint8_t *end)
{
	uint64_t tag, v;
	int r = get_varint(&p, end, &tag);
	if (r)
		return r == 1 ? 0 : -1;
	switch (tag & 7) {
	case WT_VARINT:
		r = get_varint(&p, end, &v);
		return r == 1 ? 0 : r ? -1 : 1;
	case WT_I64:
		return end - p >= 8;
	case WT_LEN:
		r = get_varint(&p, end, &v);
		if (r)
			return r == 1 ? 0 : -1;
		if (v > CPROF_MAX_INPUT)
			return -1;
		return v <= (uint64_t)(end - p);
	case WT_I32:
		return end - p >= 4;
	}
	return -1;
}

static const char *wt_name(unsigned wt)
{
	switch (wt) {
	case WT_VARINT: return "varint";
	case WT_I64: return "64-bit";
	case WT_LEN: return "length-delimited";
	case WT_I32: return "32-bit";
	}
	return "?";
}

static int wrong_type(dec *d, const fld *f, const char *msg, const char *field, const char *want)
{
	return fail(d, "%s.%s (field %" PRIu64 ") has wire type %s at offset %zu, expected %s",
		    msg, field, f->num, wt_name(f->wt), off(d, f->at), want);
}

/* Check a singular scalar field's wire type. */
static int want_varint(dec *d, const fld *f, const char *msg, const char *field)
{
	return f->wt == WT_VARINT ? 0 : wrong_type(d, f, msg, field, "varint");
}

static int want_len(dec *d, const fld *f, const char *msg, const char *field)
{
	return f->wt == WT_LEN ? 0 : wrong_type(d, f, msg, field, "length-delimited");
}

/* A raw string index: must fit the model's 32 bits now, and the string
 * table at the end (checked once against the largest one). */
static int sidx(dec *d, uint64_t raw, const char *where, uint32_t *out)
{
	if (raw >= UINT32_MAX)
		return fail(d, "string index %" PRId64 " out of range in %s", (int64_t)raw, where);
	*out = (uint32_t)raw;
	if (*out > d->smax) {
		d->smax = *out;
		d->smax_where = where;
	}
	return 0;
}

/* ---- references ------------------------------------------------------------- */

/* Record r, the placeholder just added for id, in m. */
static int ref_added(dec *d, idmap *m, uint64_t id, int64_t r, uint32_t *idx)
{
	if (r < 0 || idmap_add(m, id, (uint32_t)r))
		return nomem(d);
	*idx = (uint32_t)r;
	return 0;
}

static int loc_ref(dec *d, uint64_t id, uint32_t *idx)
{
	if (idmap_find(&d->locs, id, idx))
		return 0;
	if (id == 0)
		return fail(d, "sample refers to location id 0");
	cprof_location l = { .id = id, .mapping = CPROF_NONE };
	return ref_added(d, &d->locs, id, cprof_add_location(d->p, &l, NULL, 0), idx);
}

static int fn_ref(dec *d, uint64_t id, uint32_t *idx)
{
	if (idmap_find(&d->funcs, id, idx))
		return 0;
	cprof_function f = { .id = id };
	return ref_added(d, &d->funcs, id, cprof_add_function(d->p, &f), idx);
}

static int map_ref(dec *d, uint64_t id, uint32_t *idx)
{
	if (idmap_find(&d->maps, id, idx))
		return 0;
	cprof_mapping m = { .id = id };
	return ref_added(d, &d->maps, id, cprof_add_mapping(d->p, &m), idx);
}

/* ---- messages --------------------------------------------------------------- */

static int parse_vtype(dec *d, const uint8_t *p, const uint8_t *end, const char *msg,
		       cprof_vtype *vt)
{
	fld f;
	vt->type = vt->unit = 0;
	while (p < end) {
		if (next_field(d, &p, end, &f, msg))
			return d->rc;
		if (f.num == 1 || f.num == 2) {
			const char *name = f.num == 1 ? "type" : "unit";
			if (want_varint(d, &f, msg, name) ||
			    sidx(d, f.v, f.num == 1 ? "value type" : "value unit",
				 f.num == 1 ? &vt->type : &vt->unit))
				return d->rc;
		}
	}
	return 0;
}

static int parse_label(dec *d, const uint8_t *p, const uint8_t *end)
{
	static const char *const names[] = { NULL, "key", "str", "num", "num_unit" };
	cprof_label l = { 0, 0, 0, 0 };
	fld f;
	while (p < end) {
		if (next_field(d, &p, end, &f, "label"))
			return d->rc;
		if (f.num > 4)
			continue;
		if (want_varint(d, &f, "label", names[f.num]))
			return d->rc;
		switch (f.num) {
		case 1: if (sidx(d, f.v, "label key", &l.key)) return d->rc; break;
		case 2: if (sidx(d, f.v, "label value", &l.str)) return d->rc; break;
		case 3: l.num = (int64_t)f.v; break;
		case 4: if (sidx(d, f.v, "label num_unit", &l.unit)) return d->rc; break;
		}
	}
	/* proto3 cannot tell an empty value from a missing one: pprof drops it */
	if (l.str == 0 && l.num == 0 && l.unit == 0)
		return 0;
	return CP_PUSH(d->s_labs, l) ? nomem(d) : 0;
}

static int commit_vtypes(dec *d)
{
	for (size_t i = 0; i < d->vt.n; i++)
		if (cprof_add_vtype(d->p, d->vt.v[i].type, d->vt.v[i].unit) < 0)
			return nomem(d);
	d->vt_committed = true;
	d->vt_committed_n = d->vt.n;
	return 0;
}

/* Intern the held sample's stack and labels and add it (or buffer it while
 * its sample types are not known yet). */
static int commit_sample(dec *d)
{
	cprof_profile *pr = d->p;
	d->held = false;
	int64_t st = cprof_intern_stack(pr, d->h_locs.v, d->h_locs.n);
	int64_t ls = st < 0 ? st : cprof_intern_labels(pr, d->h_labs.v, d->h_labs.n);
	if (ls < 0)
		return nomem(d);
	size_t nv = d->h_vals.n;

	if (d->vt_committed && d->pend.n == 0) {
		if (nv != pr->vtypes.n) {
			if (d->bad_nv < 0)
				d->bad_nv = (int64_t)nv;
			return 0;
		}
	} else if (d->pend.n == 0 && d->vt.n > 0 && nv == d->vt.n) {
		if (commit_vtypes(d))
			return d->rc;
	} else {
		/* too early to tell: more sample types may follow */
		cprof_sample s = { (uint32_t)st, (uint32_t)ls };
		if (CP_PUSH(d->pend, s) || CP_PUSH(d->pend_nv, (uint32_t)nv) ||
		    CP_RESERVE(d->pend_vals, cp_add(d->pend_vals.n, nv)))
			return nomem(d);
		if (nv)
			memcpy(d->pend_vals.v + d->pend_vals.n, d->h_vals.v, nv * sizeof *d->h_vals.v);
		d->pend_vals.n += nv;
		return 0;
	}
	if (cprof_add_sample(pr, (uint32_t)st, (uint32_t)ls, d->h_vals.v) < 0)
		return nomem(d);
	return 0;
}

static int parse_sample(dec *d, const uint8_t *p, const uint8_t *end)
{
	cprof_profile *pr = d->p;
	fld f;
	d->s_locs.n = d->s_vals.n = d->s_labs.n = 0;
	while (p < end) {
		if (next_field(d, &p, end, &f, "sample"))
			return d->rc;
		switch (f.num) {
		case 1:
			if (f.wt == WT_VARINT) {
				uint32_t idx;
				if (loc_ref(d, f.v, &idx) || CP_PUSH(d->s_locs, idx))
					return d->rc ? d->rc : nomem(d);
			} else if (f.wt == WT_LEN) {
				if (CP_RESERVE(d->s_locs, cp_add(d->s_locs.n, count_varints(f.data, f.len))))
					return nomem(d);
				const uint8_t *q = f.data, *qe = f.data + f.len;
				const idmap *m = &d->locs;
				uint64_t id = 0;
				int r;
				while ((r = packed_next(d, &q, qe, "sample.location_id", &id)) > 0) {
					uint32_t idx;
					if (m->ident && id - 1 < m->n)
						idx = (uint32_t)(id - 1);
					else if (!m->ident && id < m->dcap && m->dense[id])
						idx = m->dense[id] - 1;
					else if (loc_ref(d, id, &idx))
						return d->rc;
					d->s_locs.v[d->s_locs.n++] = idx;
				}
				if (r < 0)
					return r;
			} else {
				return wrong_type(d, &f, "sample", "location_id", "varint or packed");
			}
			break;
		case 2:
			if (f.wt == WT_VARINT) {
				if (CP_PUSH(d->s_vals, (int64_t)f.v))
					return nomem(d);
			} else if (f.wt == WT_LEN) {
				if (CP_RESERVE(d->s_vals, cp_add(d->s_vals.n, count_varints(f.data, f.len))))
					return nomem(d);
				const uint8_t *q = f.data, *qe = f.data + f.len;
				uint64_t v = 0;
				int r;
				while ((r = packed_next(d, &q, qe, "sample.value", &v)) > 0)
					d->s_vals.v[d->s_vals.n++] = (int64_t)v;
				if (r < 0)
					return r;
			} else {
				return wrong_type(d, &f, "sample", "value", "varint or packed");
			}
			break;
		case 3:
			if (want_len(d, &f, "sample", "label") ||
			    parse_label(d, f.data, f.data + f.len))
				return d->rc;
			break;
		}
	}

	if (d->s_locs.n > UINT32_MAX || d->s_vals.n > UINT32_MAX)
		return fail(d, "sample too large");
	/* Commit the previous sample while this one's index slot is fetched:
	 * on a large profile that slot is a cache miss. */
	cp_stack_prefetch(pr, d->s_locs.v, d->s_locs.n);
	if (d->held && commit_sample(d))
		return d->rc;
#define SWAP(a, b) do { __typeof__(a) t_ = a; a = b; b = t_; } while (0)
	SWAP(d->s_locs, d->h_locs);
	SWAP(d->s_vals, d->h_vals);
	SWAP(d->s_labs, d->h_labs);
#undef SWAP
	d->held = true;
	return 0;
}

static int parse_line(dec *d, const uint8_t *p, const uint8_t *end, bool *no_fn)
{
	static const char *const names[] = { NULL, "function_id", "line", "column" };
	cprof_line ln = { CPROF_NONE, 0, 0 };
	uint64_t fid = 0;
	fld f;
	while (p < end) {
		if (next_field(d, &p, end, &f, "line"))
			return d->rc;
		if (f.num > 3)
			continue;
		if (want_varint(d, &f, "line", names[f.num]))
			return d->rc;
		switch (f.num) {
		case 1: fid = f.v; break;
		case 2: ln.line = (int64_t)f.v; break;
		case 3: ln.column = (int64_t)f.v; break;
		}
	}
	if (fid == 0)
		*no_fn = true;
	else if (fn_ref(d, fid, &ln.function))
		return d->rc;
	return CP_PUSH(d->s_lines, ln) ? nomem(d) : 0;
}

static int parse_location(dec *d, const uint8_t *p, const uint8_t *end, const uint8_t *at)
{
	static const char *const names[] = { NULL, "id", "mapping_id", "address", "line", "is_folded" };
	cprof_profile *pr = d->p;
	cprof_location l = { .mapping = CPROF_NONE };
	uint64_t mid = 0;
	bool no_fn = false;
	fld f;
	d->s_lines.n = 0;
	while (p < end) {
		if (next_field(d, &p, end, &f, "location"))
			return d->rc;
		if (f.num > 5)
			continue;
		if (f.num == 4) {
			if (want_len(d, &f, "location", "line") ||
			    parse_line(d, f.data, f.data + f.len, &no_fn))
				return d->rc;
			continue;
		}
		if (want_varint(d, &f, "location", names[f.num]))
			return d->rc;
		switch (f.num) {
		case 1: l.id = f.v; break;
		case 2: mid = f.v; break;
		case 3: l.address = f.v; break;
		case 5: l.is_folded = f.v != 0; break;
		}
	}
	if (l.id == 0)
		return fail(d, "location at offset %zu has the reserved id 0", off(d, at));
	if (no_fn)
		return fail(d, "location %" PRIu64 " has a line without a function (function_id 0)", l.id);
	if (d->s_lines.n > UINT32_MAX)
		return fail(d, "location %" PRIu64 " has too many lines", l.id);
	if (mid && map_ref(d, mid, &l.mapping))
		return d->rc;

	uint32_t idx;
	bool dup;
	if (!idmap_find(&d->locs, l.id, &idx)) {
		int64_t r = cprof_add_location(pr, &l, d->s_lines.v, d->s_lines.n);
		if (r < 0 || idmap_add(&d->locs, l.id, (uint32_t)r))
			return nomem(d);
		idx = (uint32_t)r;
	} else if (!d->locs.defined.v[idx]) {
		/* fill in the placeholder a sample created; its lines go at the end */
		size_t n = d->s_lines.n;
		if (cp_add(pr->lines.n, n) > UINT32_MAX || CP_RESERVE(pr->lines, pr->lines.n + n))
			return nomem(d);
		l.line_off = (uint32_t)pr->lines.n;
		l.nline = (uint32_t)n;
		if (n)
			memcpy(pr->lines.v + pr->lines.n, d->s_lines.v, n * sizeof *d->s_lines.v);
		pr->lines.n += n;
		pr->locations.v[idx] = l;
	}
	if (idmap_define(&d->locs, idx, &dup))
		return nomem(d);
	if (dup)
		return fail(d, "duplicate location id %" PRIu64, l.id);
	return 0;
}

static int parse_function(dec *d, const uint8_t *p, const uint8_t *end, const uint8_t *at)
{
	static const char *const names[] = { NULL, "id", "name", "system_name", "filename", "start_line" };
	cprof_function fn = { 0 };
	fld f;
	while (p < end) {
		if (next_field(d, &p, end, &f, "function"))
			return d->rc;
		if (f.num > 5)
			continue;
		if (want_varint(d, &f, "function", names[f.num]))
			return d->rc;
		switch (f.num) {
		case 1: fn.id = f.v; break;
		case 2: if (sidx(d, f.v, "function name", &fn.name)) return d->rc; break;
		case 3: if (sidx(d, f.v, "function system_name", &fn.system_name)) return d->rc; break;
		case 4: if (sidx(d, f.v, "function filename", &fn.filename)) return d->rc; break;
		case 5: fn.start_line = (int64_t)f.v; break;
		}
	}
	if (fn.id == 0)
		return fail(d, "function at offset %zu has the reserved id 0", off(d, at));
	uint32_t idx;
	bool dup;
	if (fn_ref(d, fn.id, &idx) || idmap_define(&d->funcs, idx, &dup))
		return d->rc ? d->rc : nomem(d);
	if (dup)
		return fail(d, "duplicate function id %" PRIu64, fn.id);
	d->p->functions.v[idx] = fn;
	return 0;
}

static int parse_mapping(dec *d, const uint8_t *p, const uint8_t *end, const uint8_t *at)
{
	static const char *const names[] = { NULL, "id", "memory_start", "memory_limit",
		"file_offset", "filename", "build_id", "has_functions", "has_filenames",
		"has_line_numbers", "has_inline_frames" };
	cprof_mapping m = { 0 };
	fld f;
	while (p < end) {
		if (next_field(d, &p, end, &f, "mapping"))
			return d->rc;
		if (f.num > 10)
			continue;
		if (want_varint(d, &f, "mapping", names[f.num]))
			return d->rc;
		switch (f.num) {
		case 1: m.id = f.v; break;
		case 2: m.start = f.v; break;
		case 3: m.limit = f.v; break;
		case 4: m.offset = f.v; break;
		case 5: if (sidx(d, f.v, "mapping filename", &m.file)) return d->rc; break;
		case 6: if (sidx(d, f.v, "mapping build_id", &m.build_id)) return d->rc; break;
		case 7: m.has_functions = f.v != 0; break;
		case 8: m.has_filenames = f.v != 0; break;
		case 9: m.has_line_numbers = f.v != 0; break;
		case 10: m.has_inline_frames = f.v != 0; break;
		}
	}
	if (m.id == 0)
		return fail(d, "mapping at offset %zu has the reserved id 0", off(d, at));
	uint32_t idx;
	bool dup;
	if (map_ref(d, m.id, &idx) || idmap_define(&d->maps, idx, &dup))
		return d->rc ? d->rc : nomem(d);
	if (dup)
		return fail(d, "duplicate mapping id %" PRIu64, m.id);
	d->p->mappings.v[idx] = m;
	return 0;
}

static int add_comment(dec *d, uint64_t raw)
{
	uint32_t s = 0;
	if (sidx(d, raw, "comment", &s))
		return d->rc;
	return cprof_add_comment(d->p, s) ? nomem(d) : 0;
}

/* The wire type each Profile field must have (13, comment, may be packed). */
static const signed char top_wt[16] = { -1, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 0, -2, 0, 0 };

/* Count one whole, well-framed top-level field towards the dispatch's
 * judgement of the input (pprof's: does it look like profile.proto at all?
 * is it two profiles concatenated?).  False when the walk must stop there:
 * a wire type that field cannot have, or a second time_nanos after a
 * nonzero one. */
static bool track(dec *d, uint64_t num, unsigned wt, uint64_t v)
{
	if (num >= 16)
		return true;
	int w = top_wt[num];
	if (w == -2 ? (wt != WT_VARINT && wt != WT_LEN) : (int)wt != w)
		return false;
	d->w.known++;
	if (wt == WT_LEN)
		d->w.delimited++;
	if (num == 6)
		d->w.strtab = true;
	if (num == 9) {
		if (d->w.had_time) {
			d->w.concat = true;
			return false;
		}
		d->w.had_time = v != 0;
	}
	return true;
}

/* After a parse error: go on through the top-level framing only, skipping
 * payloads (which need not fit a window), until the input ends or the
 * framing breaks.  Streaming as parse_profile is; *used as there. */
static void walk(dec *d, const uint8_t *p, const uint8_t *end, bool last, size_t *used)
{
	const uint8_t *start = p;
	while (!d->w.stopped) {
		if (d->w.in_len) {
			size_t k = (size_t)(end - p) < d->w.skip ? (size_t)(end - p) : (size_t)d->w.skip;
			p += k;
			d->w.skip -= k;
			if (d->w.skip) {
				if (last)       /* the payload runs past the end */
					d->w.stopped = true;
				break;
			}
			d->w.in_len = false;
			if (!track(d, d->w.len_num, WT_LEN, 0)) {
				d->w.stopped = true;
				break;
			}
		}
		if (p == end)
			break;
		const uint8_t *q = p;
		uint64_t tag, v = 0;
		int r = get_varint(&q, end, &tag);
		unsigned wt = (unsigned)(tag & 7);
		if (!r && tag >> 3 == 0)
			r = 2;
		if (!r) {
			switch (wt) {
			case WT_VARINT:
				r = get_varint(&q, end, &v);
				break;
			case WT_LEN:
				r = get_varint(&q, end, &v);
				if (!r && v > CPROF_MAX_INPUT)
					r = 2;
				break;
			case WT_I64:
			case WT_I32: {
				size_t k = wt == WT_I64 ? 8 : 4;
				if ((size_t)(end - q) < k)
					r = 1;
				else
					q += k;
				break;
			}
			default:
				r = 2;
			}
		}
		if (r == 1 && !last)
			break;          /* the rest of the header is in the next window */
		if (r) {
			d->w.stopped = true;
			break;
		}
		p = q;
		if (wt == WT_LEN) {
			d->w.in_len = true;
			d->w.skip = v;
			d->w.len_num = tag >> 3;
		} else if (!track(d, tag >> 3, wt, v)) {
			d->w.stopped = true;
			break;
		}
	}
	*used = (size_t)(p - start);
}

static int top_field(dec *d, const fld *fp);

/* Parse the top-level fields in [p, end).  With `last` false the bytes are a
 * window of a stream: a field cut off at the end is left for the next call
 * and *used says how far parsing got.  On an error inside a field *used is
 * past it, so walk() can go on from there; d->w.stopped says it cannot. */
static int parse_profile(dec *d, const uint8_t *p, const uint8_t *end, bool last,
			 size_t *used)
{
	const uint8_t *start = p;
	fld f;
	*used = 0;
	while (p < end) {
		if (!last && field_complete(p, end) == 0)
			break;
		if (next_field(d, &p, end, &f, "profile")) {
			d->w.stopped = true;
			return d->rc;
		}
		*used = (size_t)(p - start);
		if (!track(d, f.num, f.wt, f.v))
			d->w.stopped = true;        /* and top_field fails */
		if (f.num <= 15 && top_field(d, &f))
			return d->rc;
	}
	return 0;
}

/* One top-level field (number 1..15) of the Profile message. */
static int top_field(dec *d, const fld *fp)
{
	static const char *const names[] = { NULL, "sample_type", "sample", "mapping",
		"location", "function", "string_table", "drop_frames", "keep_frames",
		"time_nanos", "duration_nanos", "period_type", "period", "comment",
		"default_sample_type", "doc_url" };
	cprof_profile *pr = d->p;
	const fld f = *fp;
	if (d->held && f.num != 2 && commit_sample(d))
		return d->rc;
	const char *name = names[f.num];
	switch (f.num) {
	case 1: {
		cprof_vtype vt;
		if (want_len(d, &f, "profile", name) ||
		    parse_vtype(d, f.data, f.data + f.len, "sample_type", &vt))
			return d->rc;
		if (d->vt_committed)
			d->vt_late = true;
		if (CP_PUSH(d->vt, vt))
			return nomem(d);
		break;
	}
	case 2:
		if (want_len(d, &f, "profile", name) || parse_sample(d, f.data, f.data + f.len))
			return d->rc;
		break;
	case 3:
		if (want_len(d, &f, "profile", name) ||
		    parse_mapping(d, f.data, f.data + f.len, f.at))
			return d->rc;
		break;
	case 4:
		if (want_len(d, &f, "profile", name) ||
		    parse_location(d, f.data, f.data + f.len, f.at))
			return d->rc;
		break;
	case 5:
		if (want_len(d, &f, "profile", name) ||
		    parse_function(d, f.data, f.data + f.len, f.at))
			return d->rc;
		break;
	case 6: {
		if (want_len(d, &f, "profile", name))
			return d->rc;
		if (d->smap.n == 0 && f.len != 0)
			return fail(d, "string_table[0] must be the empty string, found \"%.*s\"",
				    (int)(f.len > 40 ? 40 : f.len), (const char *)f.data);
		if (d->smap.n >= UINT32_MAX - 1)
			return fail(d, "string table too large");
		cprof_str id = cprof_intern(pr, (const char *)f.data, f.len);
		if (id == CPROF_NONE || CP_PUSH(d->smap, id))
			return nomem(d);
		if (id != d->smap.n - 1)
			d->str_identity = false;
		break;
	}
	case 9:
		if (want_varint(d, &f, "profile", name))
			return d->rc;
		if (pr->time_nanos != 0)
			return fail(d, "concatenated profiles detected (second time_nanos at offset %zu)",
				    off(d, f.at));
		pr->time_nanos = (int64_t)f.v;
		break;
	case 11:
		if (want_len(d, &f, "profile", name) ||
		    parse_vtype(d, f.data, f.data + f.len, "period_type", &pr->period_type))
			return d->rc;
		break;
	case 13:
		if (f.wt == WT_VARINT) {
			if (add_comment(d, f.v))
				return d->rc;
		} else if (f.wt == WT_LEN) {
			const uint8_t *q = f.data, *qe = f.data + f.len;
			uint64_t v = 0;
			int r;
			while ((r = packed_next(d, &q, qe, "profile.comment", &v)) > 0)
				if (add_comment(d, v))
					return d->rc;
			if (r < 0)
				return r;
		} else {
			return wrong_type(d, &f, "profile", name, "varint or packed");
		}
		break;
	default:        /* 7, 8, 10, 12, 14, 15: singular int64 */
		if (want_varint(d, &f, "profile", name))
			return d->rc;
		switch (f.num) {
		case 7: if (sidx(d, f.v, "drop_frames", &pr->drop_frames)) return d->rc; break;
		case 8: if (sidx(d, f.v, "keep_frames", &pr->keep_frames)) return d->rc; break;
		case 10: pr->duration_nanos = (int64_t)f.v; break;
		case 12: pr->period = (int64_t)f.v; break;
		case 14: if (sidx(d, f.v, "default_sample_type", &pr->default_sample_type)) return d->rc; break;
		case 15: if (sidx(d, f.v, "doc_url", &pr->doc_url)) return d->rc; break;
		}
	}
	return 0;
}

/* ---- fix-up ----------------------------------------------------------------- */

static int check_defined(dec *d)
{
	const cprof_profile *p = d->p;
	for (size_t i = 0; i < d->locs.n; i++)
		if (!d->locs.defined.v[i])
			return fail(d, "sample refers to undefined location id %" PRIu64,
				    p->locations.v[i].id);
	for (size_t i = 0; i < d->funcs.n; i++)
		if (!d->funcs.defined.v[i])
			return fail(d, "location line refers to undefined function id %" PRIu64,
				    p->functions.v[i].id);
	return 0;
}

static int flush_samples(dec *d)
{
	cprof_profile *p = d->p;
	if (!d->vt_committed && commit_vtypes(d))
		return d->rc;
	if (d->vt_late || d->bad_nv >= 0)
		return fail(d, "sample has %zu values, profile has %zu sample types",
			    d->vt_late ? d->vt_committed_n : (size_t)d->bad_nv, d->vt.n);
	size_t at = 0;
	for (size_t i = 0; i < d->pend.n; i++) {
		size_t nv = d->pend_nv.v[i];
		if (nv != p->vtypes.n)
			return fail(d, "sample has %zu values, profile has %zu sample types",
				    nv, p->vtypes.n);
		if (cprof_add_sample(p, d->pend.v[i].stack, d->pend.v[i].labels,
				     nv ? d->pend_vals.v + at : NULL) < 0)
			return nomem(d);
		at += nv;
	}
	CP_FREE(d->pend);
	CP_FREE(d->pend_nv);
	CP_FREE(d->pend_vals);
	if (p->samples.n && p->vtypes.n == 0)
		return fail(d, "profile has samples but no sample types");
	return 0;
}

/* *out = new index of each old one, in definition order; undefined entries
 * get CPROF_NONE.  *out stays NULL when nothing moves. */
static int def_order(dec *d, const idmap *m, uint32_t **out)
{
	*out = NULL;
	if (m->in_order && m->order.n == m->n)
		return 0;
	uint32_t *nx = malloc(cp_mul(m->n ? m->n : 1, sizeof *nx));
	if (!nx)
		return nomem(d);
	for (size_t i = 0; i < m->n; i++)
		nx[i] = CPROF_NONE;
	for (size_t k = 0; k < m->order.n; k++)
		nx[m->order.v[k]] = (uint32_t)k;
	*out = nx;
	return 0;
}

/* Move table elements to their new positions (nx from def_order); elements
 * mapped to CPROF_NONE are dropped.  Returns the new count. */
static size_t permute(void *base, size_t n, size_t el, const uint32_t *nx, void *tmp)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (nx[i] != CPROF_NONE) {
			memcpy((char *)tmp + (size_t)nx[i] * el, (char *)base + i * el, el);
			kept++;
		}
	memcpy(base, tmp, kept * el);
	return kept;
}

static int fix_order(dec *d)
{
	cprof_profile *p = d->p;
	uint32_t *nx;

	/* mappings: undefined placeholders are dropped (pprof leaves such a
	 * location without a mapping) */
	if (def_order(d, &d->maps, &nx))
		return d->rc;
	if (nx) {
		void *tmp = malloc(cp_mul(p->mappings.n ? p->mappings.n : 1, sizeof *p->mappings.v));
		if (!tmp) {
			free(nx);
			return nomem(d);
		}
		p->mappings.n = permute(p->mappings.v, p->mappings.n, sizeof *p->mappings.v, nx, tmp);
		free(tmp);
		for (size_t i = 0; i < p->locations.n; i++)
			if (p->locations.v[i].mapping != CPROF_NONE)
				p->locations.v[i].mapping = nx[p->locations.v[i].mapping];
		free(nx);
	}

	if (def_order(d, &d->funcs, &nx))
		return d->rc;
	if (nx) {
		void *tmp = malloc(cp_mul(p->functions.n, sizeof *p->functions.v));
		if (!tmp) {
			free(nx);
			return nomem(d);
		}
		permute(p->functions.v, p->functions.n, sizeof *p->functions.v, nx, tmp);
		free(tmp);
		for (size_t i = 0; i < p->lines.n; i++)
			p->lines.v[i].function = nx[p->lines.v[i].function];
		free(nx);
	}

	if (def_order(d, &d->locs, &nx))
		return d->rc;
	if (!nx)
		return 0;
	/* locations move: rewrite them and their lines in the new order */
	size_t nl = p->locations.n;
	cprof_location *nlocs = malloc(cp_mul(nl, sizeof *nlocs));
	cprof_line *nlines = malloc(cp_mul(p->lines.n ? p->lines.n : 1, sizeof *nlines));
	if (!nlocs || !nlines) {
		free(nlocs);
		free(nlines);
		free(nx);
		return nomem(d);
	}
	for (size_t i = 0; i < nl; i++)
		nlocs[nx[i]] = p->locations.v[i];
	size_t ln = 0;
	for (size_t i = 0; i < nl; i++) {
		cprof_location *l = &nlocs[i];
		if (l->nline)
			memcpy(nlines + ln, p->lines.v + l->line_off, l->nline * sizeof *nlines);
		l->line_off = (uint32_t)ln;
		ln += l->nline;
	}
	memcpy(p->locations.v, nlocs, nl * sizeof *nlocs);
	memcpy(p->lines.v, nlines, ln * sizeof *nlines);
	p->lines.n = ln;
	free(nlocs);
	free(nlines);

	/* Stacks keep their indices: a permutation of location indices cannot
	 * make two distinct stacks equal, so stack_locs is rewritten in place
	 * and only the hashes and the index are rebuilt, with no second copy
	 * of the stack tables. */
	for (size_t i = 0; i < p->stack_locs.n; i++)
		p->stack_locs.v[i] = nx[p->stack_locs.v[i]];
	free(nx);
	return cp_rehash_stacks(p) ? nomem(d) : 0;
}

static inline cprof_str remap_s(const dec *d, cprof_str s) { return d->smap.v[s]; }

static int fix_strings(dec *d)
{
	cprof_profile *p = d->p;
	if (d->str_identity)
		return 0;
	for (size_t i = 0; i < p->vtypes.n; i++) {
		p->vtypes.v[i].type = remap_s(d, p->vtypes.v[i].type);
		p->vtypes.v[i].unit = remap_s(d, p->vtypes.v[i].unit);
	}
	p->period_type.type = remap_s(d, p->period_type.type);
	p->period_type.unit = remap_s(d, p->period_type.unit);
	for (size_t i = 0; i < p->mappings.n; i++) {
		p->mappings.v[i].file = remap_s(d, p->mappings.v[i].file);
		p->mappings.v[i].build_id = remap_s(d, p->mappings.v[i].build_id);
	}
	for (size_t i = 0; i < p->functions.n; i++) {
		cprof_function *f = &p->functions.v[i];
		f->name = remap_s(d, f->name);
		f->system_name = remap_s(d, f->system_name);
		f->filename = remap_s(d, f->filename);
	}
	for (size_t i = 0; i < p->comments.n; i++)
		p->comments.v[i] = remap_s(d, p->comments.v[i]);
	p->drop_frames = remap_s(d, p->drop_frames);
	p->keep_frames = remap_s(d, p->keep_frames);
	p->default_sample_type = remap_s(d, p->default_sample_type);
	p->doc_url = remap_s(d, p->doc_url);

	/* label sets were interned and sorted by raw indices: intern them anew */
	size_t nsets = cprof_nlsets(p);
	if (nsets <= 1)
		return 0;
	__typeof__(p->lset_off) loff = p->lset_off;
	__typeof__(p->lset_labels) labs = p->lset_labels;
	memset(&p->lset_off, 0, sizeof p->lset_off);
	memset(&p->lset_labels, 0, sizeof p->lset_labels);
	free(p->lset_hash);
	p->lset_hash = NULL;
	p->lset_hash_cap = 0;
	uint32_t *nx = malloc(cp_mul(nsets, sizeof *nx));
	int rc = !nx || CP_PUSH(p->lset_off, 0) || CP_PUSH(p->lset_off, 0) ? CPROF_ENOMEM : 0;
	if (nx)
		nx[0] = 0;
	for (size_t s = 1; !rc && s < nsets; s++) {
		cprof_label *l = labs.v + loff.v[s];
		size_t n = loff.v[s + 1] - loff.v[s];
		for (size_t k = 0; k < n; k++) {
			l[k].key = remap_s(d, l[k].key);
			l[k].str = remap_s(d, l[k].str);
			l[k].unit = remap_s(d, l[k].unit);
		}
		int64_t r = cprof_intern_labels(p, l, n);
		if (r < 0)
			rc = CPROF_ENOMEM;
		else
			nx[s] = (uint32_t)r;
	}
	if (!rc)
		for (size_t i = 0; i < p->samples.n; i++)
			p->samples.v[i].labels = nx[p->samples.v[i].labels];
	free(nx);
	CP_FREE(loff);
	CP_FREE(labs);
	return rc ? nomem(d) : 0;
}

/* Give back the slack of the big tables (doubling leaves up to half). */
#define SHRINK(vec) do { \
	if ((vec).cap > (vec).n + (vec).n / 8 + 64) { \
		void *nv_ = realloc((vec).v, ((vec).n ? (vec).n : 1) * sizeof *(vec).v); \
		if (nv_) { (vec).v = nv_; (vec).cap = (vec).n ? (vec).n : 1; } \
	} \
} while (0)

static void shrink(cprof_profile *p)
{
	SHRINK(p->samples);
	SHRINK(p->values);
	SHRINK(p->stack_locs);
	SHRINK(p->stack_off);
	SHRINK(p->stack_hv);
	SHRINK(p->locations);
	SHRINK(p->lines);
	SHRINK(p->functions);
	SHRINK(p->lset_labels);
	SHRINK(p->lset_off);
}

static int finish(dec *d)
{
	if (d->smap.n == 0)
		return fail(d, "no string table (string_table[0] must be present and empty)");
	if (d->smax >= d->smap.n)
		return fail(d, "string index %u out of range in %s (string table has %zu entries)",
			    d->smax, d->smax_where, d->smap.n);
	if ((d->held && commit_sample(d)) ||
	    check_defined(d) || flush_samples(d) || fix_order(d) || fix_strings(d))
		return d->rc;
	shrink(d->p);
	return 0;
}

/* ---- streaming ---------------------------------------------------------------- */

#define WINDOW ((size_t)1 << 20)

static size_t idmap_mem(const idmap *m)
{
	return cp_add(cp_add(cp_mul(m->dcap, sizeof *m->dense),
			     cp_mul(m->hcap, sizeof *m->hkey + sizeof *m->hval)),
		      cp_add(m->defined.cap, cp_mul(m->order.cap, sizeof *m->order.v)));
}

/* Is what the decode holds (the model, the window of `window` bytes, the id
 * maps and buffered samples) within what cp_mem_allowed grants after the
 * input read so far?  Sets CPROF_ELIMIT when not.  Checked once per read,
 * i.e. per window's worth of input at most. */
static int check_mem(dec *d, uint64_t input, size_t window)
{
	size_t used = cp_add(cprof_profile_mem(d->p), window);
	used = cp_add(used, cp_add(idmap_mem(&d->locs), cp_add(idmap_mem(&d->funcs),
								idmap_mem(&d->maps))));
	used = cp_add(used, cp_mul(d->smap.cap, sizeof *d->smap.v));
	used = cp_add(used, cp_add(cp_mul(d->pend.cap, sizeof *d->pend.v),
				   cp_mul(d->pend_vals.cap, sizeof *d->pend_vals.v)));
	size_t allowed = cp_mem_allowed(input);
	if (used <= allowed || d->rc)
		return d->rc;
	d->rc = cprof_seterr(d->err, CPROF_ELIMIT,
			     "decoding needs more than %zu MiB of memory after %" PRIu64 " bytes read: "
			     "the limit for an input this size", allowed >> 20, input);
	return d->rc;
}

/* Read the input window by window and parse whole top-level fields out of
 * each as they complete, so the input is never held at once: the window
 * only has to fit the largest field.  Parsed bytes are dropped only when the
 * window is full, so an input that fits one window stays whole in it.
 * After a parse error the framing is walked on to the end of the input (when
 * asked), and if nothing was dropped yet the reader is given the input so
 * far to keep, with all that follows, for the legacy parsers. */
static int decode_stream(dec *d, cp_reader *r)
{
	size_t cap = WINDOW, have = 0, pos = 0;     /* win[pos .. have) unparsed */
	uint8_t *win = malloc(cap);
	uint64_t total = 0;
	bool eof = false;
	if (!win)
		return nomem(d);
	while (!eof) {
		if (have == cap) {
			if (pos) {      /* drop what was parsed */
				memmove(win, win + pos, have - pos);
				have -= pos;
				d->base_off += pos;
				pos = 0;
			} else {        /* one field fills the window */
				/* one field may take an eighth of the allowance:
				 * its scratch and model entries are a few times
				 * its size (4-byte ids from 1-byte varints) */
				size_t ncap = cp_mul(cap, 2);
				if (d->rc == 0 && ncap > cp_mem_allowed(r->in_total) / 8) {
					d->rc = cprof_seterr(d->err, CPROF_ELIMIT,
							     "a field at offset %zu is larger than %zu MiB: "
							     "the limit for an input this size",
							     d->base_off, (cp_mem_allowed(r->in_total) / 8) >> 20);
					break;
				}
				if (d->rc == 0 && check_mem(d, r->in_total, ncap))
					break;
				uint8_t *nw = ncap == SIZE_MAX ? NULL : realloc(win, ncap);
				if (!nw) {
					nomem(d);
					break;
				}
				win = nw;
				cap = ncap;
			}
		}
		size_t got;
		if (cp_reader_read(r, win + have, cap - have, &got))
			break;
		eof = got == 0;
		have += got;
		total += got;
		size_t used = 0;
		if (!d->rc) {
			d->base = win;  /* win[0] is at input offset base_off */
			if (parse_profile(d, win + pos, win + have, eof, &used)) {
				cp_reader_keep_all(r, d->base_off == 0 ? win : NULL, have);
				if (!d->walk_on)
					d->w.stopped = true;
			}
			pos += used;
			check_mem(d, r->in_total, cap);
		}
		if (d->rc) {
			if (d->rc == CPROF_ENOMEM || d->rc == CPROF_ELIMIT || d->w.stopped)
				break;
			walk(d, win + pos, win + have, eof, &used);
			pos += used;
			if (d->w.stopped)
				break;
		}
	}
	if (!d->rc && !r->rc) {
		if (total == 0)
			d->rc = cprof_seterr(d->err, CPROF_EEMPTY, "empty input file");
		else if (finish(d))
			cp_reader_keep_all(r, d->base_off == 0 ? win : NULL, have);
	}
	free(win);
	return r->rc ? r->rc : d->rc;
}

/* ---- entry ------------------------------------------------------------------- */

static void dec_init(dec *d, cprof_error *err)
{
	memset(d, 0, sizeof *d);
	d->err = err;
	d->str_identity = true;
	d->bad_nv = -1;
	d->locs.in_order = d->funcs.in_order = d->maps.in_order = true;
	d->locs.ident = d->funcs.ident = d->maps.ident = true;
}

/* Free the decoder's state; hand over the profile or free it. */
static int dec_done(dec *d, cprof_profile **out, cp_pbinfo *info)
{
	idmap_free(&d->locs);
	idmap_free(&d->funcs);
	idmap_free(&d->maps);
	CP_FREE(d->smap);
	CP_FREE(d->vt);
	CP_FREE(d->pend);
	CP_FREE(d->pend_nv);
	CP_FREE(d->pend_vals);
	CP_FREE(d->s_locs);
	CP_FREE(d->s_vals);
	CP_FREE(d->s_labs);
	CP_FREE(d->h_locs);
	CP_FREE(d->h_vals);
	CP_FREE(d->h_labs);
	CP_FREE(d->s_lines);
	if (info) {
		info->concat = d->w.concat;
		info->proto = d->w.concat || (d->w.known >= 3 && d->w.delimited >= 1) ||
			      (!d->w.stopped && d->w.strtab);
		info->from_reader = false;
	}
	if (d->rc) {
		cprof_profile_free(d->p);
		d->p = NULL;
		return d->rc;
	}
	*out = d->p;
	return 0;
}

int cp_pb_decode_mem(const void *data, size_t len, cprof_profile **out,
		     cprof_error *err, cp_pbinfo *info)
{
	dec d;
	dec_init(&d, err);
	d.walk_on = info != NULL;
	*out = NULL;
	if (len == 0) {
		d.rc = cprof_seterr(err, CPROF_EEMPTY, "empty input file");
		return dec_done(&d, out, info);
	}
	if (!(d.p = cprof_profile_new())) {
		nomem(&d);
		return dec_done(&d, out, info);
	}
	/* parsed a window's worth at a time (more for one larger field), with
	 * the memory allowance for an input of len bytes checked after each */
	const uint8_t *p = data;
	size_t used, pos = 0, step = WINDOW;
	d.base = p;
	for (;;) {
		size_t end = len - pos > step ? pos + step : len;
		bool last = end == len;
		if (parse_profile(&d, p + pos, p + end, last, &used))
			break;
		pos += used;
		if (check_mem(&d, len, 0) || last)
			break;
		step = used ? WINDOW : cp_mul(step, 2);
	}
	if (d.rc == 0)
		finish(&d);
	else if (d.walk_on && !d.w.stopped && d.rc != CPROF_ENOMEM && d.rc != CPROF_ELIMIT)
		walk(&d, p + pos + used, p + len, true, &used);
	return dec_done(&d, out, info);
}

int cp_pb_decode_reader(cp_reader *r, cprof_profile **out, cprof_error *err,
			cp_pbinfo *info)
{
	cprof_error perr = { 0, "" };
	dec d;
	dec_init(&d, &perr);
	d.walk_on = info != NULL;
	*out = NULL;
	if (!(d.p = cprof_profile_new()))
		nomem(&d);
	else
		decode_stream(&d, r);
	bool from_reader = r->rc != 0;
	if (from_reader) {      /* I/O, gzip and limits come before the parse */
		d.rc = r->rc;
		cprof_seterr(err, r->rc, "%s", r->err.msg);
	} else if (d.rc) {
		cprof_seterr(err, d.rc, "%s", perr.msg);
	}
	int rc = dec_done(&d, out, info);
	if (info)
		info->from_reader = from_reader;
	return rc;
}

int cprof_pb_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	if (out)
		*out = NULL;
	if (!out || (!data && len))
		return cprof_seterr(err, CPROF_EINVAL, "cprof_pb_decode: bad arguments");
	if (len == 0)
		return cprof_seterr(err, CPROF_EEMPTY, "empty input file");
	const uint8_t *b = data;
	/* 0x1f would be wire type 7, so gzip can never be mistaken for proto */
	if (!(len >= 2 && b[0] == 0x1f && b[1] == 0x8b))
		return cp_pb_decode_mem(data, len, out, err, NULL);
	cp_reader r;
	cp_reader_mem(&r, data, len, CPROF_MAX_INPUT, false);
	int rc = cp_pb_decode_reader(&r, out, err, NULL);
	cp_reader_close(&r);
	return rc;
}
