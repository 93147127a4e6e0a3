/*
 * store_codec.c - the store's small building blocks: growable byte
 * buffers, varints, a 64-bit hash, an open-addressed map, and the sample
 * accumulator with its packed form.
 *
 * The packed samples of a profile or a rollup: varint count; when count
 * is not 0, one varint per sample type: the greatest common divisor of
 * that type's values (0 when they are all 0); then for each sample,
 * sorted by (stack, lset): the stack id as a delta from the previous
 * sample's, the lset id, and nv zigzag varints of the values divided by
 * their type's divisor.  Stack ids are dense per service and numbered in
 * order of first appearance, so deltas are small, and the divisor takes
 * out the period CPU and delay values are multiples of (10 ms of CPU is
 * 10,000,000 ns: 4 bytes as is, 1 divided): bytes per sample are
 * measured in docs/PERFORMANCE.md, "Server storage".
 *
 * Nothing here locks: each object belongs to one thread at a time.
 * Sizes are overflow-checked; allocation failure is reported (sbuf.oom,
 * CPROF_ENOMEM), never ignored.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- sbuf ------------------------------------------------------------ */

void sb_reset(sbuf *b)
{
	b->n = 0;
	b->oom = false;
}

void sb_free(sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void sb_put(sbuf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (cprof_reserve((void **)&b->p, &b->cap, cprof_add_size(b->n, n), 1)) {
		b->oom = true;
		return;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

void sb_uv(sbuf *b, uint64_t v)
{
	uint8_t t[10];
	size_t k = 0;
	while (v >= 0x80) {
		t[k++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[k++] = (uint8_t)v;
	sb_put(b, t, k);
}

void sb_sv(sbuf *b, int64_t v)
{
	sb_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void sb_str(sbuf *b, const char *s, size_t n)
{
	sb_uv(b, n);
	sb_put(b, s, n);
}

uint64_t rd_uv_slow(rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->i >= r->n) {
			r->bad = true;
			return 0;
		}
		uint8_t c = r->p[r->i++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

const char *rd_str(rd *r, size_t *len)
{
	uint64_t n = rd_uv(r);
	if (r->bad || n > r->n - r->i) {
		r->bad = true;
		*len = 0;
		return "";
	}
	const char *s = (const char *)r->p + r->i;
	r->i += n;
	*len = n;
	return s;
}

/* ---- hashing ------------------------------------------------------------- */

uint64_t srv_hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = cprof_hash_u64(seed ^ (n * 0x9e3779b97f4a7c15ULL));
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ cprof_hash_u64(w)) * 0x100000001b3ULL;
		h ^= h >> 29;
		b += 8;
		n -= 8;
	}
	uint64_t w = 0;
	if (n)
		memcpy(&w, b, n);   /* (p may be NULL when n is 0) */
	h = cprof_hash_u64(h ^ cprof_hash_u64(w ^ 0x5bd1e995));
	return h ? h : 1;
}

/* ---- u64map ---------------------------------------------------------------- */

static int u64map_grow(u64map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	if (ncap > SIZE_MAX / sizeof(uint64_t))
		return CPROF_ENOMEM;
	uint64_t *nk = calloc(ncap, sizeof *nk);
	uint32_t *nv = malloc(ncap * sizeof *nv);
	if (!nk || !nv) {
		free(nk);
		free(nv);
		return CPROF_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->k[i])
			continue;
		size_t j = cprof_hash_u64(m->k[i]) & (ncap - 1);
		while (nk[j])
			j = (j + 1) & (ncap - 1);
		nk[j] = m->k[i];
		nv[j] = m->v[i];
	}
	free(m->k);
	free(m->v);
	m->k = nk;
	m->v = nv;
	m->cap = ncap;
	return 0;
}

int u64map_slot(u64map *m, uint64_t key, uint32_t **v, bool *found)
{
	if ((m->n + 1) * 4 > m->cap * 3 && u64map_grow(m))
		return CPROF_ENOMEM;
	size_t j = cprof_hash_u64(key) & (m->cap - 1);
	while (m->k[j] && m->k[j] != key)
		j = (j + 1) & (m->cap - 1);
	*found = m->k[j] != 0;
	if (!*found) {
		m->k[j] = key;
		m->v[j] = 0;
		m->n++;
	}
	*v = &m->v[j];
	return 0;
}

bool u64map_get(const u64map *m, uint64_t key, uint32_t *v)
{
	if (!m->cap)
		return false;
	size_t j = cprof_hash_u64(key) & (m->cap - 1);
	while (m->k[j]) {
		if (m->k[j] == key) {
			if (v)
				*v = m->v[j];
			return true;
		}
		j = (j + 1) & (m->cap - 1);
	}
	return false;
}

/* Remove key (backward-shift deletion keeps probe chains whole). */
void u64map_del(u64map *m, uint64_t key)
{
	if (!m->cap)
		return;
	size_t mask = m->cap - 1, j = cprof_hash_u64(key) & mask;
	while (m->k[j] && m->k[j] != key)
		j = (j + 1) & mask;
	if (!m->k[j])
		return;
	m->k[j] = 0;
	m->n--;
	for (size_t i = (j + 1) & mask; m->k[i]; i = (i + 1) & mask) {
		size_t home = cprof_hash_u64(m->k[i]) & mask;
		/* move i back to j when home is not in (j, i] cyclically */
		bool between = j < i ? (home > j && home <= i) : (home > j || home <= i);
		if (!between) {
			m->k[j] = m->k[i];
			m->v[j] = m->v[i];
			m->k[i] = 0;
			j = i;
		}
	}
}

void u64map_free(u64map *m)
{
	free(m->k);
	free(m->v);
	memset(m, 0, sizeof *m);
}

void u64map_clear(u64map *m)
{
	if (m->cap)
		memset(m->k, 0, m->cap * sizeof *m->k);
	m->n = 0;
}

/* ---- acc ------------------------------------------------------------------- */

void acc_init(acc *a, int nv)
{
	memset(a, 0, sizeof *a);
	a->nv = nv;
	a->tmin = INT64_MAX;
}

void acc_free(acc *a)
{
	free(a->dense);
	u64map_free(&a->idx);
	free(a->key);
	free(a->val);
	memset(a, 0, sizeof *a);
}

void acc_clear(acc *a)
{
	int nv = a->nv;
	u64map_clear(&a->idx);
	if (a->dense)
		memset(a->dense, 0, a->dense_cap * sizeof *a->dense);
	a->n = 0;
	a->nprofiles = 0;
	a->duration_sum = 0;
	a->period = 0;
	a->tmin = INT64_MAX;
	a->nv = nv;
}

static int acc_row(acc *a, uint64_t key, size_t *row)
{
	uint32_t *slot, dslot = 0;
	bool found;
	uint64_t stack = key >> 32;
	if ((uint32_t)key == 0 && stack < ACC_DENSE_MAX) {
		/* label-less samples, the common case: a direct index */
		if (stack >= a->dense_cap) {
			size_t ncap = a->dense_cap ? a->dense_cap : 1024;
			while (ncap <= stack)
				ncap *= 2;
			uint32_t *nd = realloc(a->dense, ncap * sizeof *nd);
			if (!nd)
				return CPROF_ENOMEM;
			memset(nd + a->dense_cap, 0, (ncap - a->dense_cap) * sizeof *nd);
			a->dense = nd;
			a->dense_cap = ncap;
		}
		if (a->dense[stack]) {
			*row = a->dense[stack] - 1;
			return 0;
		}
		slot = &dslot;
	} else {
		if (u64map_slot(&a->idx, key + 1, &slot, &found))
			return CPROF_ENOMEM;
		if (found) {
			*row = *slot;
			return 0;
		}
	}
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		if (a->n >= UINT32_MAX - 1)
			return CPROF_ENOMEM;
		uint64_t *nk = realloc(a->key, cprof_mul_size(ncap, sizeof *nk));
		if (!nk)
			return CPROF_ENOMEM;
		a->key = nk;
		/* at least one value a row: realloc(p, 0) would free p (a
		 * profile may have no sample types) */
		size_t per = (size_t)(a->nv ? a->nv : 1);
		int64_t *nval = realloc(a->val, cprof_mul_size(ncap, per * sizeof *nval));
		if (!nval)
			return CPROF_ENOMEM;
		a->val = nval;
		a->cap = ncap;
	}
	*slot = (uint32_t)a->n;
	if (slot == &dslot)
		a->dense[stack] = (uint32_t)a->n + 1;
	a->key[a->n] = key;
	memset(a->val + a->n * (size_t)a->nv, 0, (size_t)a->nv * sizeof *a->val);
	*row = a->n++;
	return 0;
}

int acc_add(acc *a, uint32_t stack, uint32_t lset, const int64_t *vals)
{
	size_t row;
	if (acc_row(a, (uint64_t)stack << 32 | lset, &row))
		return CPROF_ENOMEM;
	int64_t *d = a->val + row * (size_t)a->nv;
	for (int i = 0; i < a->nv; i++)
		d[i] = (int64_t)((uint64_t)d[i] + (uint64_t)vals[i]);   /* wraps like Go */
	return 0;
}

int acc_add_packed(acc *a, const void *blob, size_t len)
{
	rd r = { blob, len, 0, false };
	uint64_t n = rd_uv(&r);
	uint64_t stack = 0;
	int64_t vals[MAX_VTYPES];
	uint64_t g[MAX_VTYPES];
	if (a->nv > MAX_VTYPES)
		return CPROF_EFORMAT;
	for (int k = 0; k < a->nv && n; k++)
		g[k] = rd_uv(&r);
	for (uint64_t i = 0; i < n && !r.bad; i++) {
		stack += rd_uv(&r);
		uint64_t lset = rd_uv(&r);
		for (int k = 0; k < a->nv; k++)
			vals[k] = (int64_t)((uint64_t)rd_sv(&r) * g[k]);   /* exact: v = q * g */
		if (r.bad || stack > UINT32_MAX || lset > UINT32_MAX)
			return CPROF_EFORMAT;
		if (acc_add(a, (uint32_t)stack, (uint32_t)lset, vals))
			return CPROF_ENOMEM;
	}
	return r.bad ? CPROF_EFORMAT : 0;
}

int acc_add_acc(acc *a, const acc *src)
{
	for (size_t i = 0; i < src->n; i++) {
		uint64_t k = src->key[i];
		if (acc_add(a, (uint32_t)(k >> 32), (uint32_t)k, src->val + i * (size_t)src->nv))
			return CPROF_ENOMEM;
	}
	a->nprofiles += src->nprofiles;
	a->duration_sum += src->duration_sum;
	if (src->tmin < a->tmin)
		a->tmin = src->tmin;
	if (src->period > a->period)
		a->period = src->period;
	return 0;
}

static uint64_t uabs(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int cmp_u64_idx(const void *x, const void *y, void *keys)
{
	const uint64_t *k = keys;
	uint64_t a = k[*(const uint32_t *)x], b = k[*(const uint32_t *)y];
	return a < b ? -1 : a > b;
}

int acc_pack(const acc *a, sbuf *out)
{
	uint32_t *ord = malloc(cprof_mul_size(a->n ? a->n : 1, sizeof *ord));
	if (!ord)
		return CPROF_ENOMEM;
	size_t live = 0;
	for (size_t i = 0; i < a->n; i++) {
		const int64_t *v = a->val + i * (size_t)a->nv;
		bool zero = true;
		for (int k = 0; k < a->nv; k++)
			zero &= v[k] == 0;
		if (!zero)      /* all-zero samples are dropped, as cprof_merge does */
			ord[live++] = (uint32_t)i;
	}
	qsort_r(ord, live, sizeof *ord, cmp_u64_idx, a->key);
	uint64_t g[MAX_VTYPES] = { 0 };
	for (size_t j = 0; j < live; j++)
		for (int x = 0; x < a->nv && x < MAX_VTYPES; x++)
			g[x] = gcd_u64(g[x], uabs(a->val[ord[j] * (size_t)a->nv + (size_t)x]));
	sb_uv(out, live);
	for (int x = 0; x < a->nv && live; x++)
		sb_uv(out, g[x]);
	uint64_t prev = 0;
	for (size_t j = 0; j < live; j++) {
		uint64_t k = a->key[ord[j]];
		sb_uv(out, (k >> 32) - prev);
		prev = k >> 32;
		sb_uv(out, (uint32_t)k);
		const int64_t *v = a->val + ord[j] * (size_t)a->nv;
		for (int x = 0; x < a->nv; x++)
			sb_sv(out, g[x] ? (int64_t)(v[x] / (int64_t)g[x]) : 0);
	}
	free(ord);
	return out->oom ? CPROF_ENOMEM : 0;
}

void acc_div(acc *a, uint64_t d)
{
	if (d <= 1)
		return;
	for (size_t i = 0; i < a->n * (size_t)a->nv; i++) {
		int64_t v = a->val[i];
		/* round half away from zero */
		uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		uint64_t q = (m + d / 2) / d;
		a->val[i] = v < 0 ? -(int64_t)q : (int64_t)q;
	}
}

/* ---- kinds ------------------------------------------------------------------- */

srv_agg srv_kind_agg(const char *kind)
{
	if (kind && (!strcmp(kind, "heap") || !strcmp(kind, "goroutine") ||
		     !strcmp(kind, "threadcreate")))
		return SRV_AGG_AVG;
	return SRV_AGG_SUM;
}

const char *srv_agg_name(srv_agg a)
{
	return a == SRV_AGG_AVG ? "average" : "sum";
}

bool srv_kind_valid(const char *kind)
{
	size_t n = kind ? strlen(kind) : 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = kind[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}
