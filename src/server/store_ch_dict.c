/*
 * store_ch_dict.c - the ClickHouse store's stack dictionary: a sample's
 * call stack and labels become an id (ingest), and ids become a profile
 * again in the server process (queries: ClickHouse
 * 18.16 allows one JOIN per SELECT and no named CTEs, so flame assembly
 * is not done in SQL).
 *
 * A stack entry's data is self-contained, so one fetch per id rebuilds it:
 *   nlocs, per location (leaf first):
 *     has_mapping; when set: size (limit - start), file offset, file,
 *       build id, flag bits; the address relative to the mapping's start
 *       (else the absolute address); folded; nlines, per line (innermost
 *       first): function name, system name, file name, start line, line,
 *       column
 *   nlabels, per label: key, string, number, unit
 * Addresses are kept relative to their mapping, as cprof_merge identifies
 * them, so the instances of one binary loaded at different addresses share
 * ids; a rebuilt mapping starts at 0 (limit = size), its locations at the
 * relative address, which keeps the file offset of every address (what
 * symbolization needs).
 *
 * Ids.  A stack's id is numbered by the server that first stored it:
 * its writer number (claimed at open, store_ch.c: unique among the
 * database's writers) times 2^32 plus a counter per service, so ids of one
 * writer are dense (the samples' stack column compresses like small
 * integers: the high half is the same for every row of a series) and two
 * writers never give one id to different stacks, with no coordination
 * per stack.  Each entry also keeps its content key (a hash of its
 * locations' content hashes and of its labels: the hash column): a writer
 * that knows a stack's key (loaded at open, or stored by itself) reuses
 * its id; two writers storing one new stack at once give it two ids,
 * which queries fold (both ids resolve to one local id, below).  New
 * entries are queued (c->stack_rows) and inserted before any sample that
 * uses them.
 *
 * In memory each service numbers the distinct stack contents it has seen
 * densely from 1 (local ids, this process only: the arrays below and the
 * accumulators of store_codec.c are indexed by them); byid maps an id and
 * bykey a content key to the local id.
 *
 * Threads: everything here runs under the store's lock (srv_ch.mu), but
 * ch_build_* and ch_stack_focus, which only read a service's blobs that
 * were made known under the lock before (blobs are append-only).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "store_ch.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_s(sbuf *b, const cprof_profile *p, cprof_str id)
{
	sb_str(b, cprof_s(p, id), cprof_slen(p, id));
}

ch_svc *ch_svc_get(srv_ch *c, const char *name)
{
	for (size_t i = 0; i < c->nsvcs; i++)
		if (strcmp(c->svcs[i]->name, name) == 0)
			return c->svcs[i];
	if (cprof_reserve((void **)&c->svcs, &c->capsvcs, c->nsvcs + 1, sizeof *c->svcs))
		return NULL;
	ch_svc *v = calloc(1, sizeof *v);
	if (!v || !(v->name = strdup(name))) {
		free(v);
		return NULL;
	}
	v->hash = srv_hash_bytes(name, strlen(name), 11) >> 1;
	c->svcs[c->nsvcs++] = v;
	return v;
}

int ch_stack_put(ch_svc *v, uint64_t id, uint64_t key, const void *blob, size_t len,
		 uint32_t *local)
{
	if (id == 0 || len >= (1u << 24) || v->arena.n >= ((uint64_t)1 << 40))
		return CPROF_EFORMAT;
	key |= 1;
	uint32_t l, *slot;
	bool found;
	if (u64map_get(&v->byid, id, &l)) {
		if (local)
			*local = l;
		return 0;
	}
	if (u64map_get(&v->bykey, key, &l)) {
		/* one content under a second id (another writer's) */
		if (u64map_slot(&v->byid, id, &slot, &found))
			return CPROF_ENOMEM;
		*slot = l;
		if (local)
			*local = l;
		return 0;
	}
	l = v->noff ? (uint32_t)v->noff : 1;
	if (l >= UINT32_MAX - 1 ||
	    cprof_reserve((void **)&v->off, &v->capoff, (size_t)l + 1, sizeof *v->off) ||
	    cprof_reserve((void **)&v->ids, &v->capids, (size_t)l + 1, sizeof *v->ids))
		return CPROF_ENOMEM;
	uint64_t off = v->arena.n + 1;  /* +1: 0 means unknown */
	sb_put(&v->arena, blob, len);
	if (v->arena.oom || u64map_slot(&v->byid, id, &slot, &found))
		return CPROF_ENOMEM;
	*slot = l;
	if (u64map_slot(&v->bykey, key, &slot, &found)) {
		u64map_del(&v->byid, id);
		return CPROF_ENOMEM;
	}
	*slot = l;
	v->off[0] = v->ids[0] = 0;
	v->off[l] = off << 24 | len;
	v->ids[l] = id;
	v->noff = (size_t)l + 1;
	if (local)
		*local = l;
	return 0;
}

static const uint8_t *blob_of(const ch_svc *v, uint32_t id, size_t *len)
{
	if (id >= v->noff || !v->off[id])
		return NULL;
	*len = (size_t)(v->off[id] & 0xffffff);
	return v->arena.p + (v->off[id] >> 24) - 1;
}

/* Encode location li of p into b. */
static void encode_loc(sbuf *b, const cprof_profile *p, uint32_t li)
{
	const cprof_location *l = &p->locations.v[li];
	const cprof_mapping *m = l->mapping != CPROF_NONE && l->mapping < p->mappings.n ?
		&p->mappings.v[l->mapping] : NULL;
	sb_uv(b, m != NULL);
	if (m) {
		sb_uv(b, m->limit - m->start);
		sb_uv(b, m->offset);
		put_s(b, p, m->file);
		put_s(b, p, m->build_id);
		sb_uv(b, (uint64_t)m->has_functions | (uint64_t)m->has_filenames << 1 |
		      (uint64_t)m->has_line_numbers << 2 | (uint64_t)m->has_inline_frames << 3);
		sb_uv(b, l->address - m->start);
	} else {
		sb_uv(b, l->address);
	}
	sb_uv(b, l->is_folded);
	sb_uv(b, l->nline);
	for (uint32_t j = 0; j < l->nline; j++) {
		const cprof_line *ln = &p->lines.v[l->line_off + j];
		const cprof_function *f = &p->functions.v[ln->function];
		put_s(b, p, f->name);
		put_s(b, p, f->system_name);
		put_s(b, p, f->filename);
		sb_sv(b, f->start_line);
		sb_sv(b, ln->line);
		sb_sv(b, ln->column);
	}
}

/* Encode sample si's labels of p into b. */
static void encode_labels(sbuf *b, const cprof_profile *p, size_t si)
{
	const cprof_sample *sm = &p->samples.v[si];
	uint32_t la = p->lset_off.v[sm->labels], lz = p->lset_off.v[sm->labels + 1];
	sb_uv(b, lz - la);
	for (uint32_t k = la; k < lz; k++) {
		const cprof_label *lb = &p->lset_labels.v[k];
		put_s(b, p, lb->key);
		put_s(b, p, lb->str);
		sb_sv(b, lb->num);
		put_s(b, p, lb->unit);
	}
}

/* Encode sample si's stack and labels of p into b (the entry's data). */
static void encode(sbuf *b, const cprof_profile *p, size_t si)
{
	const cprof_sample *sm = &p->samples.v[si];
	uint32_t a = p->stack_off.v[sm->stack], z = p->stack_off.v[sm->stack + 1];
	sb_uv(b, z - a);
	for (uint32_t k = a; k < z; k++)
		encode_loc(b, p, p->stack_locs.v[k]);
	encode_labels(b, p, si);
}

/* The entry's key: a hash of its locations' content hashes (memoized per
 * profile in lh, 0: not yet) and of its labels, so a known stack costs a
 * few hashes of small buffers and no encoding. */
static uint64_t stack_key(const cprof_profile *p, size_t si, uint64_t *lh, sbuf *tmp)
{
	const cprof_sample *sm = &p->samples.v[si];
	uint32_t a = p->stack_off.v[sm->stack], z = p->stack_off.v[sm->stack + 1];
	uint64_t h = srv_hash_bytes(NULL, 0, 5 + (uint64_t)(z - a));
	for (uint32_t k = a; k < z; k++) {
		uint32_t li = p->stack_locs.v[k];
		if (!lh[li]) {
			sb_reset(tmp);
			encode_loc(tmp, p, li);
			lh[li] = srv_hash_bytes(tmp->p, tmp->n, 3) | 1;
		}
		h = srv_hash_bytes(&lh[li], sizeof lh[li], h);
	}
	sb_reset(tmp);
	encode_labels(tmp, p, si);
	return srv_hash_bytes(tmp->p, tmp->n, h) | 1;
}

int ch_stack_id(srv_ch *c, ch_svc *v, const cprof_profile *p, size_t si, uint64_t *lh,
		uint32_t *local, cprof_error *err)
{
	sbuf b = { 0 };
	uint64_t h = stack_key(p, si, lh, &b);
	uint32_t got;
	if (!b.oom && u64map_get(&v->bykey, h, &got)) {
		*local = got;
		sb_free(&b);
		return 0;
	}
	sb_reset(&b);
	encode(&b, p, si);
	if (b.oom) {
		sb_free(&b);
		return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
	}
	if (b.n >= (1u << 24) || v->noff >= UINT32_MAX - 2 || v->next == UINT32_MAX) {
		sb_free(&b);
		return cprof_seterr(err, CPROF_ELIMIT, "store: stack too large or too many stacks");
	}
	uint64_t id = (uint64_t)c->writer << 32 | ++v->next;
	uint32_t nid;
	int rc = ch_stack_put(v, id, h, b.p, b.n, &nid);
	if (!rc) {
		char line[80];
		snprintf(line, sizeof line, "%llu\t%llu\t%llu\t", (unsigned long long)v->hash,
			 (unsigned long long)id, (unsigned long long)h);
		sb_put(&c->stack_rows, line, strlen(line));
		tsv_put(&c->stack_rows, b.p, b.n);
		sb_put(&c->stack_rows, "\n", 1);
		if (c->stack_rows.oom)
			rc = CPROF_ENOMEM;
	}
	sb_free(&b);
	if (rc)
		return cprof_seterr(err, rc, "store: out of memory");
	*local = nid;
	c->st.stacks++;
	return 0;
}

int ch_stacks_resolve(srv_ch *c, ch_svc *v, const uint64_t *ids, size_t n, uint32_t *locals,
		      cprof_error *err)
{
	sbuf q = { 0 };
	char head[256], tb[128];
	snprintf(head, sizeof head, "SELECT id, any(hash), any(data) FROM %s WHERE svc = %llu"
		 " AND id IN (", ch_tbl(c, "stacks", tb, sizeof tb), (unsigned long long)v->hash);
	sb_put(&q, head, strlen(head));
	size_t missing = 0;
	for (size_t i = 0; i < n; i++) {
		if (u64map_get(&v->byid, ids[i], &locals[i]))
			continue;
		char num[32];
		snprintf(num, sizeof num, "%s%llu", missing ? "," : "", (unsigned long long)ids[i]);
		sb_put(&q, num, strlen(num));
		missing++;
	}
	int rc = 0;
	if (missing) {
		sb_put(&q, ") GROUP BY id FORMAT TabSeparated", 34);
		if (q.oom) {
			sb_free(&q);
			return cprof_seterr(err, CPROF_ENOMEM, "store: out of memory");
		}
		sbuf r = { 0 };
		rc = ch_select(&c->conn, (const char *)q.p, &r, err);
		size_t pos = 0;
		char *f[3];
		size_t fl[3];
		while (!rc && tsv_row((char *)r.p, r.n - 1, &pos, f, fl, 3) == 3)
			if (ch_stack_put(v, strtoull(f[0], NULL, 10), strtoull(f[1], NULL, 10), f[2],
					 fl[2], NULL))
				rc = cprof_seterr(err, CPROF_EFORMAT, "store: bad stack row");
		sb_free(&r);
		for (size_t i = 0; i < n && !rc; i++)
			if (!u64map_get(&v->byid, ids[i], &locals[i]))
				rc = cprof_seterr(err, CPROF_EFORMAT,
						  "store: stack %llu of service \"%s\" is missing",
						  (unsigned long long)ids[i], v->name);
	}
	sb_free(&q);
	return rc;
}

static cprof_str rstr(cprof_profile *p, rd *r)
{
	size_t n;
	const char *s = rd_str(r, &n);
	return r->bad ? 0 : cprof_intern(p, s, n);
}

/* Index + 1 of the element with content hash h, or 0 (slot left for the
 * caller when new). */
static int memo(u64map *m, uint64_t h, uint32_t **slot)
{
	bool found;
	if (u64map_slot(m, h | 1, slot, &found))
		return -1;
	return found ? (int)1 : 0;
}

/* Advance r over one encoded location (its mapping, address, folded flag
 * and lines); r->bad if the blob ends first. */
static void loc_skip(rd *r)
{
	size_t n;
	if (rd_uv(r)) {
		rd_uv(r);
		rd_uv(r);
		rd_str(r, &n);
		rd_str(r, &n);
		rd_uv(r);
	}
	rd_uv(r);
	rd_uv(r);
	uint64_t nl = rd_uv(r);
	for (uint64_t j = 0; j < nl && !r->bad; j++) {
		rd_str(r, &n);
		rd_str(r, &n);
		rd_str(r, &n);
		rd_sv(r);
		rd_sv(r);
		rd_sv(r);
	}
}

int ch_build_add(ch_build *b, const ch_svc *v, uint32_t id, const int64_t *vals,
		 cprof_error *err)
{
	size_t len;
	const uint8_t *blob = blob_of(v, id, &len);
	if (!blob)
		return cprof_seterr(err, CPROF_EFORMAT, "store: stack %u unknown", id);
	cprof_profile *p = b->p;
	rd r = { blob, len, 0, false };
	uint64_t nloc = rd_uv(&r);
	if (nloc > 100000)
		return cprof_seterr(err, CPROF_EFORMAT, "store: bad stack %u", id);
	uint32_t *locs = malloc((size_t)(nloc + 1) * sizeof *locs);
	cprof_line *lines = NULL;
	size_t capl = 0;
	int rc = locs ? 0 : CPROF_ENOMEM;
	for (uint64_t k = 0; k < nloc && !rc; k++) {
		/* a location already in the profile (by its encoded bytes) is
		 * skipped over, not decoded: most frames of a merge are */
		size_t l0 = r.i;
		rd sk = r;
		loc_skip(&sk);
		if (sk.bad)
			break;
		uint32_t *lslot;
		int lhad = memo(&b->locs, srv_hash_bytes(blob + l0, sk.i - l0, 6), &lslot);
		if (lhad < 0) {
			rc = CPROF_ENOMEM;
			break;
		}
		if (lhad) {
			locs[k] = *lslot - 1;
			r = sk;
			continue;
		}
		uint32_t mi = CPROF_NONE;
		cprof_mapping m = { 0 };
		if (rd_uv(&r)) {
			size_t m0 = r.i;
			m.limit = rd_uv(&r);
			m.offset = rd_uv(&r);
			size_t fl, bl;
			const char *fs = rd_str(&r, &fl), *bs = rd_str(&r, &bl);
			uint64_t flags = rd_uv(&r);
			if (r.bad)
				break;
			uint32_t *slot;
			int had = memo(&b->maps, srv_hash_bytes(blob + m0, r.i - m0, 3), &slot);
			if (had < 0) {
				rc = CPROF_ENOMEM;
				break;
			}
			if (had) {
				mi = *slot - 1;
			} else {
				m.id = p->mappings.n + 1;
				m.file = cprof_intern(p, fs, fl);
				m.build_id = cprof_intern(p, bs, bl);
				m.has_functions = flags & 1;
				m.has_filenames = flags >> 1 & 1;
				m.has_line_numbers = flags >> 2 & 1;
				m.has_inline_frames = flags >> 3 & 1;
				int64_t x = cprof_add_mapping(p, &m);
				if (x < 0) {
					rc = (int)x;
					break;
				}
				*slot = (uint32_t)x + 1;
				mi = (uint32_t)x;
			}
		}
		cprof_location loc = { .address = rd_uv(&r), .mapping = mi };
		loc.is_folded = rd_uv(&r) != 0;
		uint64_t nl = rd_uv(&r);
		if (r.bad || nl > 10000)
			break;
		if (cprof_reserve((void **)&lines, &capl, (size_t)nl + 1, sizeof *lines)) {
			rc = CPROF_ENOMEM;
			break;
		}
		for (uint64_t j = 0; j < nl && !r.bad; j++) {
			size_t f0 = r.i;
			cprof_function f = { 0 };
			cprof_str nm = rstr(p, &r), sn = rstr(p, &r), fn = rstr(p, &r);
			f.start_line = rd_sv(&r);
			size_t f1 = r.i;
			lines[j].line = rd_sv(&r);
			lines[j].column = rd_sv(&r);
			if (r.bad)
				break;
			uint32_t *slot;
			int had = memo(&b->funcs, srv_hash_bytes(blob + f0, f1 - f0, 4), &slot);
			if (had < 0) {
				rc = CPROF_ENOMEM;
				break;
			}
			if (!had) {
				f.id = p->functions.n + 1;
				f.name = nm;
				f.system_name = sn;
				f.filename = fn;
				int64_t x = cprof_add_function(p, &f);
				if (x < 0) {
					rc = (int)x;
					break;
				}
				*slot = (uint32_t)x + 1;
			}
			lines[j].function = *slot - 1;
		}
		if (rc || r.bad)
			break;
		loc.id = p->locations.n + 1;
		int64_t x = cprof_add_location(p, &loc, lines, (size_t)nl);
		if (x < 0) {
			rc = (int)x;
			break;
		}
		*lslot = (uint32_t)x + 1;
		locs[k] = (uint32_t)x;
	}
	uint64_t nlab = rc ? 0 : rd_uv(&r);
	cprof_label *labs = NULL;
	if (!rc && !r.bad && nlab <= 4096 && (labs = calloc((size_t)nlab + 1, sizeof *labs))) {
		for (uint64_t k = 0; k < nlab && !r.bad; k++) {
			labs[k].key = rstr(p, &r);
			labs[k].str = rstr(p, &r);
			labs[k].num = rd_sv(&r);
			labs[k].unit = rstr(p, &r);
		}
	} else if (!rc) {
		rc = r.bad || nlab > 4096 ? CPROF_EFORMAT : CPROF_ENOMEM;
	}
	if (!rc && r.bad)
		rc = CPROF_EFORMAT;
	if (!rc) {
		int64_t st = cprof_intern_stack(p, locs, (size_t)nloc);
		int64_t ls = st < 0 ? st : cprof_intern_labels(p, labs, (size_t)nlab);
		int64_t x = ls < 0 ? ls : cprof_add_sample(p, (uint32_t)st, (uint32_t)ls, vals);
		if (x < 0)
			rc = (int)x;
	}
	free(labs);
	free(locs);
	free(lines);
	if (rc)
		return cprof_seterr(err, rc, "store: cannot rebuild stack %u of service \"%s\"", id,
				    v->name);
	return 0;
}

void ch_build_free(ch_build *b)
{
	u64map_free(&b->maps);
	u64map_free(&b->funcs);
	u64map_free(&b->locs);
}

int ch_stack_focus(const ch_svc *v, uint32_t id, void *re)
{
	size_t len;
	const uint8_t *blob = blob_of(v, id, &len);
	if (!blob)
		return -1;
	rd r = { blob, len, 0, false };
	uint64_t nloc = rd_uv(&r);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	if (!md)
		return -1;
	int hit = 0;
	for (uint64_t k = 0; k < nloc && !r.bad && !hit; k++) {
		if (rd_uv(&r)) {
			rd_uv(&r);
			rd_uv(&r);
			size_t n;
			rd_str(&r, &n);
			rd_str(&r, &n);
			rd_uv(&r);
		}
		rd_uv(&r);
		rd_uv(&r);
		uint64_t nl = rd_uv(&r);
		for (uint64_t j = 0; j < nl && !r.bad && !hit; j++) {
			size_t n, x;
			const char *name = rd_str(&r, &n);
			rd_str(&r, &x);
			rd_str(&r, &x);
			rd_sv(&r);
			rd_sv(&r);
			rd_sv(&r);
			if (!r.bad && pcre2_match(re, (PCRE2_SPTR)name, n, 0, 0, md, NULL) >= 0)
				hit = 1;
		}
	}
	pcre2_match_data_free(md);
	return r.bad ? -1 : hit;
}
