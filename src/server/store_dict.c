/*
 * store_dict.c - the per-service dictionaries: a profile's mappings,
 * functions, locations, stacks and sample label sets become dense integer
 * ids (ingest), and ids become a profile again (queries).
 *
 * Every dictionary entry is stored once per service as a row
 * dict(svc, kind, id, hash, data) of meta.db, where data is the entry's
 * canonical packed form (store_codec.c's varints and length-prefixed
 * strings) with references to other entries by their ids:
 *   function  name, system_name, filename, start_line
 *   mapping   start, limit, offset, file, build_id, flag bits
 *   location  mapping id (0: none), address, folded, nlines, then per
 *             line (innermost first) function id, line, column
 *   stack     nlocs, location ids (leaf first)
 *   lset      nlabels, per label key, str, num, unit
 * Ingest looks the hash of the canonical form up in an in-memory map
 * (s->dict: 64-bit hash -> id, seeded by service and kind), so a known
 * entry costs one hash and no database access; a new one is inserted in
 * the open meta.db transaction.  Two distinct entries with the same 64-bit
 * hash would share an id (probability ~n^2/2^65: 3e-8 at a million
 * entries); this is the one inexact step and is accepted.
 *
 * Mappings are identified as cprof_merge identifies them (size rounded to
 * pages, file offset, build id else file name) and locations by their
 * address relative to their mapping's start, so the instances of one
 * binary loaded at different addresses share every entry; the first
 * mapping seen is the one stored, and a rebuilt location sits at that
 * mapping's start plus its relative address.  That is what cprof_merge
 * does too (its output keeps the first profile's mapping), so a merged
 * range equals cprof_merge of its profiles up to which instance's load
 * address is shown.
 *
 * Threads: srv_dict_encode runs under the store's lock; a srv_builder
 * belongs to one query thread and reads through that query's connection.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store_int.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* ---- ingest -------------------------------------------------------------- */

/* The id of the entry whose identity is key (NULL: data itself) and whose
 * stored form is data, created when new. */
static int dict_id(sq_store *s, uint32_t svc, int kind, const sbuf *key, const sbuf *data,
		   uint32_t *id, cprof_error *err)
{
	if (!key)
		key = data;
	if (data->oom || key->oom)
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	uint64_t h = srv_hash_bytes(key->p, key->n, (uint64_t)svc * DICT_KINDS + (uint64_t)kind);
	uint32_t *slot;
	bool found;
	if (u64map_slot(&s->dict, h, &slot, &found))
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	if (found) {
		*id = *slot;
		if (s->gc_active) {     /* kept by the collection running */
			uint32_t *t;
			bool f;
			if (u64map_slot(&s->gc_touched, (uint64_t)svc << 40 | (uint64_t)kind << 32 | *id,
					&t, &f))
				s->gc_oom = true;
		}
		return 0;
	}
	uint32_t nid = ++s->svc_next[svc - 1][kind];
	sqlite3_stmt *st = s->ins_dict;
	sqlite3_bind_int64(st, 1, svc);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_int64(st, 3, nid);
	sqlite3_bind_int64(st, 4, (int64_t)h);
	sqlite3_bind_blob(st, 5, data->p, (int)data->n, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		u64map_del(&s->dict, h);
		s->svc_next[svc - 1][kind]--;
		return srv_sql_err(s->meta, rc, "dictionary insert", err);
	}
	*slot = nid;
	if (kind == DICT_STACK)
		s->st.stacks++;
	*id = nid;
	return 0;
}

static void put_s(sbuf *b, const cprof_profile *p, cprof_str id)
{
	sb_str(b, cprof_s(p, id), cprof_slen(p, id));
}

int srv_vtypes_sig(const cprof_profile *p, sbuf *out)
{
	put_s(out, p, p->period_type.type);
	put_s(out, p, p->period_type.unit);
	sb_uv(out, p->vtypes.n);
	for (size_t i = 0; i < p->vtypes.n; i++) {
		put_s(out, p, p->vtypes.v[i].type);
		put_s(out, p, p->vtypes.v[i].unit);
	}
	put_s(out, p, p->default_sample_type);
	return out->oom ? CPROF_ENOMEM : 0;
}

int srv_sig_nv(const void *sig, size_t len)
{
	rd r = { sig, len, 0, false };
	size_t n;
	rd_str(&r, &n);
	rd_str(&r, &n);
	uint64_t nv = rd_uv(&r);
	return r.bad || nv > MAX_VTYPES ? -1 : (int)nv;
}

int srv_sig_find(const void *sig, size_t len, const char *name)
{
	rd r = { sig, len, 0, false };
	size_t n;
	rd_str(&r, &n);
	rd_str(&r, &n);
	uint64_t nv = rd_uv(&r);
	if (r.bad || nv > MAX_VTYPES)
		return -1;
	const char *types[MAX_VTYPES];
	size_t tl[MAX_VTYPES];
	for (uint64_t i = 0; i < nv; i++) {
		types[i] = rd_str(&r, &tl[i]);
		rd_str(&r, &n);
	}
	size_t dl;
	const char *dflt = rd_str(&r, &dl);
	if (r.bad || nv == 0)
		return -1;
	if (!name) {
		name = dflt;
		if (dl == 0)
			return (int)nv - 1;
	}
	size_t nl = name == dflt ? dl : strlen(name);
	for (uint64_t i = 0; i < nv; i++)
		if (tl[i] == nl && memcmp(types[i], name, nl) == 0)
			return (int)i;
	return name == dflt ? (int)nv - 1 : -1;
}

int srv_dict_encode(sq_store *s, uint32_t svc, const cprof_profile *p, sbuf *blob,
		    sbuf *totals, size_t *nsamples, cprof_error *err)
{
	int rc = 0;
	size_t nm = p->mappings.n, nf = p->functions.n, nl = p->locations.n;
	size_t nst = cprof_nstacks(p), nls = cprof_nlsets(p), nv = p->vtypes.n;
	if (nv > MAX_VTYPES)
		return cprof_seterr(err, CPROF_ELIMIT, "profile has %zu sample types, at most %d", nv,
				    MAX_VTYPES);
	uint32_t *mid = calloc(nm + 1, sizeof *mid), *fid = calloc(nf + 1, sizeof *fid);
	uint32_t *lid = calloc(nl + 1, sizeof *lid), *sid = calloc(nst + 1, sizeof *sid);
	uint32_t *lsid = calloc(nls + 1, sizeof *lsid);
	sbuf d = { 0 }, mk = { 0 };
	acc a;
	acc_init(&a, (int)nv);
	if (!mid || !fid || !lid || !sid || !lsid) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto out;
	}
	for (size_t i = 0; i < nm && !rc; i++) {
		/* a mapping is identified as cprof_merge does (size rounded
		 * to pages, offset, build id else file), so the instances of
		 * a binary loaded at different addresses share it; the first
		 * one seen is what is stored */
		const cprof_mapping *m = &p->mappings.v[i];
		uint64_t size = m->limit - m->start + 0xfff;
		sb_reset(&mk);
		sb_uv(&mk, size - size % 0x1000);
		sb_uv(&mk, m->offset);
		put_s(&mk, p, m->build_id ? m->build_id : m->file);
		sb_reset(&d);
		sb_uv(&d, m->start);
		sb_uv(&d, m->limit);
		sb_uv(&d, m->offset);
		put_s(&d, p, m->file);
		put_s(&d, p, m->build_id);
		sb_uv(&d, (uint64_t)m->has_functions | (uint64_t)m->has_filenames << 1 |
			      (uint64_t)m->has_line_numbers << 2 | (uint64_t)m->has_inline_frames << 3);
		rc = dict_id(s, svc, DICT_MAP, &mk, &d, &mid[i], err);
	}
	for (size_t i = 0; i < nf && !rc; i++) {
		const cprof_function *f = &p->functions.v[i];
		sb_reset(&d);
		put_s(&d, p, f->name);
		put_s(&d, p, f->system_name);
		put_s(&d, p, f->filename);
		sb_sv(&d, f->start_line);
		rc = dict_id(s, svc, DICT_FUNC, NULL, &d, &fid[i], err);
	}
	for (size_t i = 0; i < nl && !rc; i++) {
		const cprof_location *l = &p->locations.v[i];
		sb_reset(&d);
		/* the address relative to its mapping's start */
		sb_uv(&d, l->mapping < nm ? mid[l->mapping] : 0);
		sb_uv(&d, l->address - (l->mapping < nm ? p->mappings.v[l->mapping].start : 0));
		sb_uv(&d, l->is_folded);
		sb_uv(&d, l->nline);
		for (uint32_t k = 0; k < l->nline; k++) {
			const cprof_line *ln = &p->lines.v[l->line_off + k];
			sb_uv(&d, ln->function < nf ? fid[ln->function] : 0);
			sb_sv(&d, ln->line);
			sb_sv(&d, ln->column);
		}
		rc = dict_id(s, svc, DICT_LOC, NULL, &d, &lid[i], err);
	}
	for (size_t i = 0; i < nst && !rc; i++) {
		size_t n = cprof_stack_len(p, (uint32_t)i);
		const uint32_t *locs = cprof_stack_locs(p, (uint32_t)i);
		sb_reset(&d);
		sb_uv(&d, n);
		for (size_t k = 0; k < n; k++)
			sb_uv(&d, locs[k] < nl ? lid[locs[k]] : 0);
		rc = dict_id(s, svc, DICT_STACK, NULL, &d, &sid[i], err);
	}
	for (size_t i = 1; i < nls && !rc; i++) {  /* set 0 (no labels) is id 0 */
		size_t n = cprof_lset_len(p, (uint32_t)i);
		const cprof_label *lb = cprof_lset(p, (uint32_t)i);
		sb_reset(&d);
		sb_uv(&d, n);
		for (size_t k = 0; k < n; k++) {
			put_s(&d, p, lb[k].key);
			put_s(&d, p, lb[k].str);
			sb_sv(&d, lb[k].num);
			put_s(&d, p, lb[k].unit);
		}
		rc = dict_id(s, svc, DICT_LSET, NULL, &d, &lsid[i], err);
	}
	if (rc)
		goto out;
	int64_t tot[MAX_VTYPES] = { 0 };
	for (size_t i = 0; i < p->samples.n; i++) {
		const cprof_sample *sm = &p->samples.v[i];
		const int64_t *v = cprof_sample_values(p, i);
		if (sm->stack >= nst || sm->labels >= nls) {
			rc = cprof_seterr(err, CPROF_EFORMAT, "sample %zu refers to a missing stack", i);
			goto out;
		}
		for (size_t k = 0; k < nv; k++)
			tot[k] = (int64_t)((uint64_t)tot[k] + (uint64_t)v[k]);
		if (acc_add(&a, sid[sm->stack], lsid[sm->labels], v)) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
			goto out;
		}
	}
	for (size_t k = 0; k < nv; k++)
		sb_sv(totals, tot[k]);
	if (acc_pack(&a, blob) || totals->oom) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		goto out;
	}
	*nsamples = a.n;
out:
	acc_free(&a);
	sb_free(&d);
	sb_free(&mk);
	free(mid);
	free(fid);
	free(lid);
	free(sid);
	free(lsid);
	return rc;
}

/* ---- queries: ids back to a profile ------------------------------------- */

struct srv_builder {
	sqlite3 *meta;
	sqlite3_stmt *get;
	cprof_profile *p;
	u64map cache[DICT_KINDS];       /* (svc << 32 | id) -> profile index + 1 */
	u64map lcache;                  /* lset: (svc << 32 | id) -> set index + 1 */
	uint32_t *locbuf;
	size_t locbuf_cap;
	cprof_label *lbuf;
	dcache *dc;                     /* the store's entries (NULL: none) */
	sbuf dbuf;                      /* an entry's data copied from dc */
};

static int fetch(sqlite3 *meta, sqlite3_stmt *get, uint32_t svc, int kind, uint32_t id,
		 const void **data, size_t *len)
{
	sqlite3_reset(get);
	sqlite3_bind_int64(get, 1, svc);
	sqlite3_bind_int(get, 2, kind);
	sqlite3_bind_int64(get, 3, id);
	if (sqlite3_step(get) != SQLITE_ROW)
		return CPROF_EFORMAT;
	*data = sqlite3_column_blob(get, 0);
	*len = (size_t)sqlite3_column_bytes(get, 0);
	return 0;
}

/* fetch() through the store's cache of entries: the data are valid until
 * the next call, as fetch()'s. */
static int bfetch(srv_builder *b, uint32_t svc, int kind, uint32_t id, const void **data,
		  size_t *len)
{
	if (dc_get(b->dc, svc, kind, id, &b->dbuf)) {
		*data = b->dbuf.p;
		*len = b->dbuf.n;
		return 0;
	}
	int rc = fetch(b->meta, b->get, svc, kind, id, data, len);
	if (!rc)
		dc_put(b->dc, svc, kind, id, *data, *len);
	return rc;
}

void srv_builder_use_cache(srv_builder *b, dcache *dc)
{
	b->dc = dc;
}

static cprof_str intern_rd(cprof_profile *p, rd *r)
{
	size_t n;
	const char *s = rd_str(r, &n);
	return cprof_intern(p, s, n);
}

srv_builder *srv_builder_new(sqlite3 *meta, const void *sig, size_t siglen, cprof_error *err)
{
	srv_builder *b = calloc(1, sizeof *b);
	if (!b || !(b->p = cprof_profile_new())) {
		free(b);
		cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		return NULL;
	}
	b->meta = meta;
	int rc = sqlite3_prepare_v2(meta, "SELECT data FROM dict WHERE svc=?1 AND kind=?2 AND id=?3",
				    -1, &b->get, NULL);
	if (rc != SQLITE_OK) {
		srv_sql_err(meta, rc, "dictionary read", err);
		srv_builder_free(b);
		return NULL;
	}
	rd r = { sig, siglen, 0, false };
	cprof_profile *p = b->p;
	p->period_type.type = intern_rd(p, &r);
	p->period_type.unit = intern_rd(p, &r);
	uint64_t nv = rd_uv(&r);
	for (uint64_t i = 0; i < nv && !r.bad && i < MAX_VTYPES; i++) {
		cprof_str t = intern_rd(p, &r);
		cprof_str u = intern_rd(p, &r);
		cprof_add_vtype(p, t, u);
	}
	p->default_sample_type = intern_rd(p, &r);
	if (r.bad || nv > MAX_VTYPES) {
		cprof_seterr(err, CPROF_EFORMAT, "store: broken sample-type signature");
		srv_builder_free(b);
		return NULL;
	}
	return b;
}

void srv_builder_free(srv_builder *b)
{
	if (!b)
		return;
	sqlite3_finalize(b->get);
	cprof_profile_free(b->p);
	for (int i = 0; i < DICT_KINDS; i++)
		u64map_free(&b->cache[i]);
	u64map_free(&b->lcache);
	free(b->locbuf);
	free(b->lbuf);
	sb_free(&b->dbuf);
	free(b);
}

/* The profile index of dictionary entry (svc, kind, id), adding it (and
 * what it refers to) on first use; -1 on a missing or broken entry. */
static int64_t entry(srv_builder *b, uint32_t svc, int kind, uint32_t id)
{
	uint64_t key = ((uint64_t)svc << 32 | id) + 1;
	uint32_t *slot;
	bool found;
	if (u64map_slot(&b->cache[kind], key, &slot, &found))
		return CPROF_ENOMEM;
	if (found)
		return (int64_t)*slot - 1;
	const void *data;
	size_t len;
	if (bfetch(b, svc, kind, id, &data, &len))
		return CPROF_EFORMAT;
	cprof_profile *p = b->p;
	rd r = { data, len, 0, false };
	int64_t idx = CPROF_EFORMAT;
	if (kind == DICT_FUNC) {
		cprof_function f = { 0 };
		f.id = p->functions.n + 1;
		f.name = intern_rd(p, &r);
		f.system_name = intern_rd(p, &r);
		f.filename = intern_rd(p, &r);
		f.start_line = rd_sv(&r);
		if (!r.bad)
			idx = cprof_add_function(p, &f);
	} else if (kind == DICT_MAP) {
		cprof_mapping m = { 0 };
		m.id = p->mappings.n + 1;
		m.start = rd_uv(&r);
		m.limit = rd_uv(&r);
		m.offset = rd_uv(&r);
		m.file = intern_rd(p, &r);
		m.build_id = intern_rd(p, &r);
		uint64_t fl = rd_uv(&r);
		m.has_functions = fl & 1;
		m.has_filenames = fl & 2;
		m.has_line_numbers = fl & 4;
		m.has_inline_frames = fl & 8;
		if (!r.bad)
			idx = cprof_add_mapping(p, &m);
	} else if (kind == DICT_LOC) {
		/* read the location fully before recursing: fetch() reuses the
		 * statement, which invalidates data */
		uint64_t mapid = rd_uv(&r), addr = rd_uv(&r), folded = rd_uv(&r), n = rd_uv(&r);
		if (r.bad || n > 4096)
			return CPROF_EFORMAT;
		uint64_t *ff = malloc((n + 1) * sizeof *ff);
		int64_t *ll = malloc((2 * n + 1) * sizeof *ll);
		cprof_line *lnv = malloc((n + 1) * sizeof *lnv);
		if (!ff || !ll || !lnv) {
			free(ff);
			free(ll);
			free(lnv);
			return CPROF_ENOMEM;
		}
		for (uint64_t k = 0; k < n; k++) {
			ff[k] = rd_uv(&r);
			ll[2 * k] = rd_sv(&r);
			ll[2 * k + 1] = rd_sv(&r);
		}
		cprof_location loc = { 0 };
		loc.id = p->locations.n + 1;
		loc.address = addr;
		loc.is_folded = folded != 0;
		loc.mapping = CPROF_NONE;
		bool ok = !r.bad;
		if (ok && mapid) {
			int64_t mi = entry(b, svc, DICT_MAP, (uint32_t)mapid);
			ok = mi >= 0;
			loc.mapping = ok ? (uint32_t)mi : CPROF_NONE;
			if (ok)
				loc.address = addr + p->mappings.v[mi].start;
		}
		for (uint64_t k = 0; k < n && ok; k++) {
			int64_t fi = ff[k] ? entry(b, svc, DICT_FUNC, (uint32_t)ff[k]) : 0;
			ok = fi >= 0;
			lnv[k].function = ok ? (uint32_t)fi : 0;
			lnv[k].line = ll[2 * k];
			lnv[k].column = ll[2 * k + 1];
		}
		if (ok)
			idx = cprof_add_location(p, &loc, lnv, n);
		free(ff);
		free(ll);
		free(lnv);
	} else if (kind == DICT_STACK) {
		uint64_t n = rd_uv(&r);
		if (r.bad || n > (1u << 20))
			return CPROF_EFORMAT;
		if (n > b->locbuf_cap) {
			uint32_t *nb = realloc(b->locbuf, n * sizeof *nb);
			if (!nb)
				return CPROF_ENOMEM;
			b->locbuf = nb;
			b->locbuf_cap = n;
		}
		uint32_t *ids = b->locbuf;
		for (uint64_t k = 0; k < n; k++)
			ids[k] = (uint32_t)rd_uv(&r);
		if (r.bad)
			return CPROF_EFORMAT;
		/* ids[k] are dictionary ids; resolve in place (entry() for a
		 * location never touches locbuf) */
		for (uint64_t k = 0; k < n; k++) {
			int64_t li = entry(b, svc, DICT_LOC, ids[k]);
			if (li < 0)
				return li;
			ids[k] = (uint32_t)li;
		}
		idx = cprof_intern_stack(p, ids, n);
	}
	if (idx < 0)
		return idx;
	/* the slot may have moved while recursing: look it up again */
	if (u64map_slot(&b->cache[kind], key, &slot, &found))
		return CPROF_ENOMEM;
	*slot = (uint32_t)idx + 1;
	return idx;
}

static int64_t lset_entry(srv_builder *b, uint32_t svc, uint32_t id)
{
	if (id == 0)
		return 0;
	uint64_t key = ((uint64_t)svc << 32 | id) + 1;
	uint32_t v;
	if (u64map_get(&b->lcache, key, &v))
		return v - 1;
	const void *data;
	size_t len;
	if (bfetch(b, svc, DICT_LSET, id, &data, &len))
		return CPROF_EFORMAT;
	rd r = { data, len, 0, false };
	uint64_t n = rd_uv(&r);
	if (r.bad || n > 4096)
		return CPROF_EFORMAT;
	cprof_label *lb = realloc(b->lbuf, (n ? n : 1) * sizeof *lb);
	if (!lb)
		return CPROF_ENOMEM;
	b->lbuf = lb;
	for (uint64_t k = 0; k < n; k++) {
		lb[k].key = intern_rd(b->p, &r);
		lb[k].str = intern_rd(b->p, &r);
		lb[k].num = rd_sv(&r);
		lb[k].unit = intern_rd(b->p, &r);
	}
	if (r.bad)
		return CPROF_EFORMAT;
	int64_t idx = cprof_intern_labels(b->p, lb, n);
	if (idx < 0)
		return idx;
	uint32_t *slot;
	bool found;
	if (u64map_slot(&b->lcache, key, &slot, &found))
		return CPROF_ENOMEM;
	*slot = (uint32_t)idx + 1;
	return idx;
}

int srv_builder_add(srv_builder *b, uint32_t svc, const acc *a, cprof_error *err)
{
	if ((size_t)a->nv != b->p->vtypes.n)
		return cprof_seterr(err, CPROF_EFORMAT, "store: sample types do not match");
	for (size_t i = 0; i < a->n; i++) {
		const int64_t *v = a->val + i * (size_t)a->nv;
		bool zero = true;
		for (int k = 0; k < a->nv; k++)
			zero &= v[k] == 0;
		if (zero)
			continue;
		int64_t st = entry(b, svc, DICT_STACK, (uint32_t)(a->key[i] >> 32));
		int64_t ls = st < 0 ? st : lset_entry(b, svc, (uint32_t)a->key[i]);
		if (st < 0 || ls < 0) {
			int64_t e = st < 0 ? st : ls;
			return cprof_seterr(err, (int)e, "store: %s dictionary entry of service %u",
					    e == CPROF_ENOMEM ? "out of memory reading a" : "missing or broken",
					    svc);
		}
		if (cprof_add_sample(b->p, (uint32_t)st, (uint32_t)ls, v) < 0)
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	return 0;
}

int srv_builder_finish(srv_builder *b, int64_t time_ns, int64_t duration_ns, int64_t period,
		       cprof_profile **out, cprof_error *err)
{
	cprof_profile *p = b->p;
	p->time_nanos = time_ns;
	p->duration_nanos = duration_ns;
	p->period = period;
	int rc = cprof_compact(p, err);
	if (rc)
		return rc;
	*out = p;
	b->p = NULL;
	return 0;
}

int srv_stack_focus(sqlite3 *meta, uint32_t svc, uint32_t stack, void *re, u64map *cache)
{
	uint64_t key = ((uint64_t)svc << 32 | stack) + 1;
	uint32_t v;
	if (u64map_get(cache, key, &v))
		return (int)v - 1;
	sqlite3_stmt *get = NULL;
	if (sqlite3_prepare_v2(meta, "SELECT data FROM dict WHERE svc=?1 AND kind=?2 AND id=?3", -1,
			       &get, NULL) != SQLITE_OK)
		return -1;
	int hit = 0;
	const void *data;
	size_t len;
	uint32_t locs[512];
	size_t nlocs = 0;
	if (fetch(meta, get, svc, DICT_STACK, stack, &data, &len) == 0) {
		rd r = { data, len, 0, false };
		uint64_t n = rd_uv(&r);
		for (uint64_t k = 0; k < n && k < 512 && !r.bad; k++)
			locs[nlocs++] = (uint32_t)rd_uv(&r);
	}
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	if (md && mc) {
		pcre2_set_match_limit(mc, 200000);
		pcre2_set_depth_limit(mc, 2000);
	}
	for (size_t k = 0; k < nlocs && !hit && md && mc; k++) {
		if (fetch(meta, get, svc, DICT_LOC, locs[k], &data, &len))
			continue;
		rd r = { data, len, 0, false };
		rd_uv(&r);
		rd_uv(&r);
		rd_uv(&r);
		uint64_t n = rd_uv(&r);
		uint32_t fids[64];
		size_t nf = 0;
		for (uint64_t j = 0; j < n && !r.bad; j++) {
			uint64_t f = rd_uv(&r);
			rd_sv(&r);
			rd_sv(&r);
			if (f && nf < 64)
				fids[nf++] = (uint32_t)f;
		}
		for (size_t j = 0; j < nf && !hit; j++) {
			if (fetch(meta, get, svc, DICT_FUNC, fids[j], &data, &len))
				continue;
			rd fr = { data, len, 0, false };
			size_t nl;
			const char *name = rd_str(&fr, &nl);
			if (!fr.bad && pcre2_match(re, (PCRE2_SPTR)name, nl, 0, 0, md, mc) >= 0)
				hit = 1;
		}
	}
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	sqlite3_finalize(get);
	uint32_t *slot;
	bool found;
	if (u64map_slot(cache, key, &slot, &found) == 0)
		*slot = (uint32_t)hit + 1;
	return hit;
}
