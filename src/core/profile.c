/*
 * profile.c - the profile model: creation, interning and the builder API.
 *
 * Strings, stacks and label sets are interned through open-addressed hash
 * indexes that store element ids (0 = empty slot for stacks/label sets is
 * avoided by storing id+1).  The indexes grow at 50% load.  Everything that
 * can grow checks its size arithmetic (cp_reserve) and reports ENOMEM rather
 * than wrapping.  See cprof_core.h for the model itself.
 */
#include "core_int.h"

#include <errno.h>
#include <stdarg.h>

const char *cprof_strerror(int code)
{
	switch (code) {
	case CPROF_OK: return "success";
	case CPROF_ENOMEM: return "out of memory";
	case CPROF_EIO: return "input/output error";
	case CPROF_EFORMAT: return "malformed profile";
	case CPROF_EGZIP: return "broken gzip data";
	case CPROF_EUNKNOWN: return "unrecognized profile format";
	case CPROF_EINVAL: return "invalid argument";
	case CPROF_ELIMIT: return "input too large";
	case CPROF_EMISMATCH: return "incompatible profiles";
	case CPROF_EEMPTY: return "empty input";
	case CPROF_EBUSY: return "cpu profiling already in use";
	case CPROF_ENOTRUNNING: return "cpu profiling not running";
	case CPROF_ESIGNAL: return "SIGPROF is handled by the program";
	case CPROF_ESYSTEM: return "system call failed";
	}
	return "unknown error";
}

int cprof_seterr(cprof_error *err, int code, const char *fmt, ...)
{
	if (err && err->code == 0) {
		char raw[CPROF_ERRMSG_MAX];
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		int k = vsnprintf(raw, sizeof raw, fmt, ap);
		va_end(ap);
		size_t n = k < 0 ? 0 : (size_t)k < sizeof raw ? (size_t)k : sizeof raw - 1;
		cprof_escape(err->msg, sizeof err->msg, raw, n);
	}
	return code;
}

/* The length of the valid, printable UTF-8 sequence at s[0..n) (a
 * non-ASCII one), or 0: invalid sequences (cprof_utf8_len) and the C1
 * controls U+0080..U+009F (8-bit terminal escapes) are not. */
static size_t utf8_printable(const unsigned char *s, size_t n)
{
	uint32_t cp = 0;
	size_t len = cprof_utf8_len(s, n, &cp);
	return len && cp > 0x9f ? len : 0;
}

size_t cprof_escape(char *dst, size_t dstn, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	if (!dstn)
		return 0;
	for (size_t i = 0; i < n;) {
		char esc[4];
		const char *piece = (const char *)u + i;
		size_t plen = 1, adv = 1;
		unsigned c = u[i];
		if (c >= 0x20 && c < 0x7f) {
			/* as is */
		} else if (c >= 0x80 && (plen = adv = utf8_printable(u + i, n - i)) != 0) {
			/* a printable UTF-8 sequence, as is */
		} else {
			esc[0] = '\\';
			plen = 2;
			adv = 1;
			if (c == '\n') {
				esc[1] = 'n';
			} else if (c == '\t') {
				esc[1] = 't';
			} else if (c == '\r') {
				esc[1] = 'r';
			} else {
				esc[1] = 'x';
				esc[2] = hex[c >> 4];
				esc[3] = hex[c & 15];
				plen = 4;
			}
			piece = esc;
		}
		if (plen >= dstn - o)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += adv;
	}
	dst[o] = 0;
	return o;
}

size_t cprof_url_unescape(const char *s, size_t n, bool plus, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++, o++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int h = i + 2 < n ? cprof_hexval((unsigned char)s[i + 1]) : -1;
			int l = i + 2 < n ? cprof_hexval((unsigned char)s[i + 2]) : -1;
			if (h < 0 || l < 0)
				return SIZE_MAX;
			c = h * 16 + l;
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (o < outsz)
			out[o] = (char)c;
	}
	return o;
}

int cprof_reserve(void **pv, size_t *cap, size_t need, size_t el)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return CPROF_ENOMEM;
		ncap *= 2;
	}
	size_t bytes = cp_mul(ncap, el);
	if (bytes == SIZE_MAX)
		return CPROF_ENOMEM;
	void *nv = realloc(*pv, bytes);
	if (!nv)
		return CPROF_ENOMEM;
	*pv = nv;
	*cap = ncap;
	return 0;
}

/* Grow an intern index to ncap empty slots.  The old slots are not needed
 * (every rehash reinserts from the elements), so the table is resized in
 * place: never the old and the new one at once, and no large free that
 * would raise malloc's mmap threshold and fragment the heap. */
static uint32_t *index_resize(uint32_t *h, size_t ncap)
{
	size_t bytes = cp_mul(ncap, sizeof *h);
	if (bytes == SIZE_MAX || !(h = realloc(h, bytes)))
		return NULL;
	memset(h, 0, bytes);
	return h;
}

/* ---- strings ------------------------------------------------------------- */

static uint64_t str_hash(const char *s, size_t n) { return cp_hash_bytes(s, n, 0); }

static int str_rehash(cprof_profile *p, size_t ncap)
{
	uint32_t *h = index_resize(p->str_hash, ncap);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t id = 0; id < p->str_off.n; id++) {
		const char *s = p->str_arena + p->str_off.v[id];
		size_t i = str_hash(s, p->str_len.v[id]) & (ncap - 1);
		while (h[i])
			i = (i + 1) & (ncap - 1);
		h[i] = (uint32_t)id + 1;
	}
	p->str_hash = h;
	p->str_hash_cap = ncap;
	return 0;
}

cprof_str cprof_intern(cprof_profile *p, const char *s, size_t len)
{
	if (len > UINT32_MAX - 1)
		return CPROF_NONE;
	if ((p->str_off.n + 1) * 2 > p->str_hash_cap &&
	    str_rehash(p, p->str_hash_cap ? p->str_hash_cap * 2 : 256))
		return CPROF_NONE;
	uint64_t h = str_hash(s, len);
	size_t mask = p->str_hash_cap - 1, i = h & mask;
	while (p->str_hash[i]) {
		uint32_t id = p->str_hash[i] - 1;
		if (p->str_len.v[id] == len &&
		    memcmp(p->str_arena + p->str_off.v[id], s, len) == 0)
			return id;
		i = (i + 1) & mask;
	}
	if (p->str_off.n >= UINT32_MAX - 1)
		return CPROF_NONE;
	size_t need = cp_add(p->str_arena_len, cp_add(len, 1));
	if (need == SIZE_MAX ||
	    cp_reserve((void **)&p->str_arena, &p->str_arena_cap, need, 1) ||
	    CP_RESERVE(p->str_off, p->str_off.n + 1) ||
	    CP_RESERVE(p->str_len, p->str_len.n + 1))
		return CPROF_NONE;
	memcpy(p->str_arena + p->str_arena_len, s, len);
	p->str_arena[p->str_arena_len + len] = 0;
	uint32_t id = (uint32_t)p->str_off.n;
	p->str_off.v[p->str_off.n++] = p->str_arena_len;
	p->str_len.v[p->str_len.n++] = (uint32_t)len;
	p->str_arena_len = need;
	p->str_hash[i] = id + 1;
	return id;
}

cprof_str cprof_intern_cstr(cprof_profile *p, const char *s)
{
	return cprof_intern(p, s, strlen(s));
}

const char *cprof_s(const cprof_profile *p, cprof_str id)
{
	if (id >= p->str_off.n)
		return "";
	return p->str_arena + p->str_off.v[id];
}

size_t cprof_slen(const cprof_profile *p, cprof_str id)
{
	return id < p->str_len.n ? p->str_len.v[id] : 0;
}

size_t cprof_nstrings(const cprof_profile *p) { return p->str_off.n; }

/* ---- lifetime ------------------------------------------------------------ */

cprof_profile *cprof_profile_new(void)
{
	cprof_profile *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (cprof_intern(p, "", 0) != 0 || CP_PUSH(p->stack_off, 0) ||
	    CP_PUSH(p->lset_off, 0) || CP_PUSH(p->lset_off, 0)) {
		cprof_profile_free(p);
		return NULL;
	}
	return p;
}

void cprof_profile_free(cprof_profile *p)
{
	if (!p)
		return;
	free(p->str_arena);
	CP_FREE(p->str_off);
	CP_FREE(p->str_len);
	free(p->str_hash);
	CP_FREE(p->vtypes);
	CP_FREE(p->mappings);
	CP_FREE(p->functions);
	CP_FREE(p->lines);
	CP_FREE(p->locations);
	CP_FREE(p->stack_off);
	CP_FREE(p->stack_locs);
	free(p->stack_hash);
	CP_FREE(p->stack_hv);
	CP_FREE(p->lset_off);
	CP_FREE(p->lset_labels);
	free(p->lset_hash);
	CP_FREE(p->samples);
	CP_FREE(p->values);
	CP_FREE(p->comments);
	free(p);
}

/* ---- tables ------------------------------------------------------------- */

int64_t cprof_add_vtype(cprof_profile *p, cprof_str type, cprof_str unit)
{
	if (p->samples.n)       /* values are stored with a fixed stride */
		return CPROF_EINVAL;
	cprof_vtype vt = { type, unit };
	if (CP_PUSH(p->vtypes, vt))
		return CPROF_ENOMEM;
	return (int64_t)p->vtypes.n - 1;
}

int64_t cprof_add_mapping(cprof_profile *p, const cprof_mapping *m)
{
	if (p->mappings.n >= UINT32_MAX - 1 || CP_PUSH(p->mappings, *m))
		return CPROF_ENOMEM;
	return (int64_t)p->mappings.n - 1;
}

int64_t cprof_add_function(cprof_profile *p, const cprof_function *f)
{
	if (p->functions.n >= UINT32_MAX - 1 || CP_PUSH(p->functions, *f))
		return CPROF_ENOMEM;
	return (int64_t)p->functions.n - 1;
}

int64_t cprof_add_location(cprof_profile *p, const cprof_location *loc,
			   const cprof_line *lines, size_t n)
{
	if (p->locations.n >= UINT32_MAX - 1 || n > UINT32_MAX ||
	    cp_add(p->lines.n, n) > UINT32_MAX ||
	    CP_RESERVE(p->lines, p->lines.n + n) ||
	    CP_RESERVE(p->locations, p->locations.n + 1))
		return CPROF_ENOMEM;
	cprof_location l = *loc;
	l.line_off = (uint32_t)p->lines.n;
	l.nline = (uint32_t)n;
	if (n)
		memcpy(p->lines.v + p->lines.n, lines, n * sizeof *lines);
	p->lines.n += n;
	p->locations.v[p->locations.n++] = l;
	return (int64_t)p->locations.n - 1;
}

/* ---- interned sequences -------------------------------------------------- */

static uint32_t stack_hash(const uint32_t *locs, size_t n)
{
	return (uint32_t)cp_hash_bytes(locs, n * sizeof *locs, n);
}

/* The index stores stack ids; stack_hv keeps each stack's hash so that
 * probing compares hashes before touching the stack's locations (one cache
 * miss instead of three on a large table) and growing the index never
 * rehashes the stacks themselves. */
static int stack_rehash(cprof_profile *p, size_t ncap)
{
	uint32_t *h = index_resize(p->stack_hash, ncap);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t s = 0; s < cprof_nstacks(p); s++) {
		size_t i = p->stack_hv.v[s] & (ncap - 1);
		while (h[i])
			i = (i + 1) & (ncap - 1);
		h[i] = (uint32_t)s + 1;
	}
	p->stack_hash = h;
	p->stack_hash_cap = ncap;
	return 0;
}

int cp_rehash_stacks(cprof_profile *p)
{
	size_t ns = cprof_nstacks(p), cap = 256;
	free(p->stack_hash);            /* before the new one: never both at once */
	p->stack_hash = NULL;
	p->stack_hash_cap = 0;
	p->stack_hv.n = 0;              /* stale until recomputed */
	if (CP_RESERVE(p->stack_hv, ns))
		return CPROF_ENOMEM;
	for (size_t s = 0; s < ns; s++)
		p->stack_hv.v[s] = stack_hash(cprof_stack_locs(p, s), cprof_stack_len(p, s));
	p->stack_hv.n = ns;
	while ((ns + 1) * 2 > cap)
		cap *= 2;
	return stack_rehash(p, cap);
}

void cp_stack_prefetch(const cprof_profile *p, const uint32_t *locs, size_t n)
{
	if (p->stack_hash_cap)
		__builtin_prefetch(&p->stack_hash[stack_hash(locs, n) & (p->stack_hash_cap - 1)]);
}

int64_t cprof_intern_stack(cprof_profile *p, const uint32_t *locs, size_t n)
{
	size_t ns = cprof_nstacks(p);
	if (p->stack_hv.n != ns) {
		/* the stack tables were rebuilt by hand: recompute the hashes */
		if (CP_RESERVE(p->stack_hv, ns + 1))
			return CPROF_ENOMEM;
		for (size_t s = 0; s < ns; s++)
			p->stack_hv.v[s] = stack_hash(cprof_stack_locs(p, s), cprof_stack_len(p, s));
		p->stack_hv.n = ns;
		free(p->stack_hash);
		p->stack_hash = NULL;
		p->stack_hash_cap = 0;
	}
	if (!p->stack_hash || (ns + 1) * 2 > p->stack_hash_cap) {
		size_t cap = p->stack_hash_cap ? p->stack_hash_cap : 256;
		while ((ns + 1) * 2 > cap)
			cap *= 2;
		if (stack_rehash(p, cap))
			return CPROF_ENOMEM;
	}
	uint32_t hv = stack_hash(locs, n);
	size_t mask = p->stack_hash_cap - 1, i = hv & mask;
	while (p->stack_hash[i]) {
		uint32_t s = p->stack_hash[i] - 1;
		if (p->stack_hv.v[s] == hv && cprof_stack_len(p, s) == n &&
		    (n == 0 || memcmp(cprof_stack_locs(p, s), locs, n * sizeof *locs) == 0))
			return s;
		i = (i + 1) & mask;
	}
	if (ns >= UINT32_MAX - 2 || cp_add(p->stack_locs.n, n) > UINT32_MAX ||
	    CP_RESERVE(p->stack_locs, p->stack_locs.n + n) ||
	    CP_RESERVE(p->stack_off, p->stack_off.n + 1) ||
	    CP_RESERVE(p->stack_hv, ns + 1))
		return CPROF_ENOMEM;
	if (n)
		memcpy(p->stack_locs.v + p->stack_locs.n, locs, n * sizeof *locs);
	p->stack_locs.n += n;
	p->stack_off.v[p->stack_off.n++] = (uint32_t)p->stack_locs.n;
	p->stack_hv.v[ns] = hv;
	p->stack_hv.n = ns + 1;
	p->stack_hash[i] = (uint32_t)ns + 1;
	return (int64_t)ns;
}

static int label_cmp(const void *a, const void *b)
{
	const cprof_label *x = a, *y = b;
	if (x->key != y->key) return x->key < y->key ? -1 : 1;
	if (x->str != y->str) return x->str < y->str ? -1 : 1;
	if (x->num != y->num) return x->num < y->num ? -1 : 1;
	if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
	return 0;
}

/* Field by field: cprof_label has padding that memcmp would read. */
static bool lset_equal(const cprof_label *a, const cprof_label *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (label_cmp(&a[i], &b[i]) != 0)
			return false;
	return true;
}

static uint64_t lset_hash(const cprof_label *l, size_t n)
{
	uint64_t h = n;
	for (size_t i = 0; i < n; i++) {
		h = cp_hash_u64(h ^ l[i].key) + l[i].str;
		h = cp_hash_u64(h ^ (uint64_t)l[i].num) + l[i].unit;
	}
	return cp_hash_u64(h);
}

static int lset_rehash(cprof_profile *p, size_t ncap)
{
	uint32_t *h = index_resize(p->lset_hash, ncap);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t s = 1; s < cprof_nlsets(p); s++) {
		size_t i = lset_hash(cprof_lset(p, s), cprof_lset_len(p, s)) & (ncap - 1);
		while (h[i])
			i = (i + 1) & (ncap - 1);
		h[i] = (uint32_t)s + 1;
	}
	p->lset_hash = h;
	p->lset_hash_cap = ncap;
	return 0;
}

int64_t cprof_intern_labels(cprof_profile *p, const cprof_label *labels, size_t n)
{
	if (n == 0)
		return 0;
	cprof_label tmp[16], *sorted = tmp;
	if (n > 16) {
		size_t bytes = cp_mul(n, sizeof *labels);
		if (bytes == SIZE_MAX || !(sorted = malloc(bytes)))
			return CPROF_ENOMEM;
	}
	memcpy(sorted, labels, n * sizeof *labels);
	qsort(sorted, n, sizeof *sorted, label_cmp);
	int64_t ret;
	size_t ns = cprof_nlsets(p);
	if ((ns + 1) * 2 > p->lset_hash_cap &&
	    lset_rehash(p, p->lset_hash_cap ? p->lset_hash_cap * 2 : 64)) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	size_t mask = p->lset_hash_cap - 1, i = lset_hash(sorted, n) & mask;
	while (p->lset_hash[i]) {
		uint32_t s = p->lset_hash[i] - 1;
		if (cprof_lset_len(p, s) == n && lset_equal(cprof_lset(p, s), sorted, n)) {
			ret = s;
			goto out;
		}
		i = (i + 1) & mask;
	}
	if (ns >= UINT32_MAX - 2 || cp_add(p->lset_labels.n, n) > UINT32_MAX ||
	    CP_RESERVE(p->lset_labels, p->lset_labels.n + n) ||
	    CP_RESERVE(p->lset_off, p->lset_off.n + 1)) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n; k++) {       /* copy fields, zero the padding */
		cprof_label *d = &p->lset_labels.v[p->lset_labels.n + k];
		memset(d, 0, sizeof *d);
		d->key = sorted[k].key;
		d->str = sorted[k].str;
		d->num = sorted[k].num;
		d->unit = sorted[k].unit;
	}
	p->lset_labels.n += n;
	p->lset_off.v[p->lset_off.n++] = (uint32_t)p->lset_labels.n;
	p->lset_hash[i] = (uint32_t)ns + 1;
	ret = (int64_t)ns;
out:
	if (sorted != tmp)
		free(sorted);
	return ret;
}

int64_t cprof_add_sample(cprof_profile *p, uint32_t stack, uint32_t labels,
			 const int64_t *values)
{
	size_t nv = p->vtypes.n;
	if (p->samples.n >= UINT32_MAX - 1 ||
	    CP_RESERVE(p->samples, p->samples.n + 1) ||
	    CP_RESERVE(p->values, cp_add(p->values.n, nv)))
		return CPROF_ENOMEM;
	cprof_sample s = { stack, labels };
	p->samples.v[p->samples.n++] = s;
	if (nv)
		memcpy(p->values.v + p->values.n, values, nv * sizeof *values);
	p->values.n += nv;
	return (int64_t)p->samples.n - 1;
}

int cprof_add_comment(cprof_profile *p, cprof_str s)
{
	return CP_PUSH(p->comments, s);
}

/* ---- reading ------------------------------------------------------------- */

int cprof_default_vtype(const cprof_profile *p)
{
	if (p->vtypes.n == 0)
		return -1;
	if (p->default_sample_type) {
		const char *d = cprof_s(p, p->default_sample_type);
		for (size_t i = 0; i < p->vtypes.n; i++)
			if (strcmp(cprof_s(p, p->vtypes.v[i].type), d) == 0)
				return (int)i;
	}
	return (int)p->vtypes.n - 1;
}

int cprof_profile_check(const cprof_profile *p, cprof_error *err)
{
	size_t ns = p->str_off.n;
	for (size_t i = 0; i < p->vtypes.n; i++)
		if (p->vtypes.v[i].type >= ns || p->vtypes.v[i].unit >= ns)
			return cprof_seterr(err, CPROF_EFORMAT, "sample type %zu: string index out of range", i);
	if (p->values.n != p->samples.n * p->vtypes.n)
		return cprof_seterr(err, CPROF_EFORMAT, "samples do not all have %zu values", p->vtypes.n);
	for (size_t i = 0; i < p->mappings.n; i++) {
		const cprof_mapping *m = &p->mappings.v[i];
		if (m->file >= ns || m->build_id >= ns)
			return cprof_seterr(err, CPROF_EFORMAT, "mapping %" PRIu64 ": string index out of range", m->id);
	}
	for (size_t i = 0; i < p->functions.n; i++) {
		const cprof_function *f = &p->functions.v[i];
		if (f->name >= ns || f->system_name >= ns || f->filename >= ns)
			return cprof_seterr(err, CPROF_EFORMAT, "function %" PRIu64 ": string index out of range", f->id);
	}
	for (size_t i = 0; i < p->lines.n; i++)
		if (p->lines.v[i].function >= p->functions.n)
			return cprof_seterr(err, CPROF_EFORMAT, "line refers to a missing function");
	for (size_t i = 0; i < p->locations.n; i++) {
		const cprof_location *l = &p->locations.v[i];
		if (l->mapping != CPROF_NONE && l->mapping >= p->mappings.n)
			return cprof_seterr(err, CPROF_EFORMAT, "location %" PRIu64 ": mapping out of range", l->id);
		if ((size_t)l->line_off + l->nline > p->lines.n)
			return cprof_seterr(err, CPROF_EFORMAT, "location %" PRIu64 ": lines out of range", l->id);
	}
	for (size_t i = 0; i < p->stack_locs.n; i++)
		if (p->stack_locs.v[i] >= p->locations.n)
			return cprof_seterr(err, CPROF_EFORMAT, "stack refers to a missing location");
	for (size_t i = 0; i < p->lset_labels.n; i++) {
		const cprof_label *l = &p->lset_labels.v[i];
		if (l->key >= ns || l->str >= ns || l->unit >= ns)
			return cprof_seterr(err, CPROF_EFORMAT, "label: string index out of range");
	}
	size_t nst = cprof_nstacks(p), nls = cprof_nlsets(p);
	for (size_t i = 0; i < p->samples.n; i++)
		if (p->samples.v[i].stack >= nst || p->samples.v[i].labels >= nls)
			return cprof_seterr(err, CPROF_EFORMAT, "sample %zu: stack or labels out of range", i);
	return 0;
}

/* ---- copying ------------------------------------------------------------- */

#define DUP_VEC(dst, src) do { \
	if ((src).n) { \
		if (CP_RESERVE(dst, (src).n)) goto fail; \
		memcpy((dst).v, (src).v, (src).n * sizeof *(src).v); \
	} \
	(dst).n = (src).n; \
} while (0)

cprof_profile *cprof_profile_dup(const cprof_profile *p)
{
	cprof_profile *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	/* Scalars first, then every table; the private hash indexes are
	 * rebuilt lazily by the next intern call's rehash. */
	q->drop_frames = p->drop_frames;
	q->keep_frames = p->keep_frames;
	q->time_nanos = p->time_nanos;
	q->duration_nanos = p->duration_nanos;
	q->period_type = p->period_type;
	q->period = p->period;
	q->default_sample_type = p->default_sample_type;
	q->doc_url = p->doc_url;
	if (p->str_arena_len) {
		if (cp_reserve((void **)&q->str_arena, &q->str_arena_cap, p->str_arena_len, 1))
			goto fail;
		memcpy(q->str_arena, p->str_arena, p->str_arena_len);
		q->str_arena_len = p->str_arena_len;
	}
	DUP_VEC(q->str_off, p->str_off);
	DUP_VEC(q->str_len, p->str_len);
	DUP_VEC(q->vtypes, p->vtypes);
	DUP_VEC(q->mappings, p->mappings);
	DUP_VEC(q->functions, p->functions);
	DUP_VEC(q->lines, p->lines);
	DUP_VEC(q->locations, p->locations);
	DUP_VEC(q->stack_off, p->stack_off);
	DUP_VEC(q->stack_locs, p->stack_locs);
	DUP_VEC(q->stack_hv, p->stack_hv);
	DUP_VEC(q->lset_off, p->lset_off);
	DUP_VEC(q->lset_labels, p->lset_labels);
	DUP_VEC(q->samples, p->samples);
	DUP_VEC(q->values, p->values);
	DUP_VEC(q->comments, p->comments);
	if (str_rehash(q, p->str_hash_cap ? p->str_hash_cap : 256) ||
	    (q->stack_hv.n == cprof_nstacks(q) &&
	     stack_rehash(q, p->stack_hash_cap ? p->stack_hash_cap : 256)) ||
	    lset_rehash(q, p->lset_hash_cap ? p->lset_hash_cap : 64))
		goto fail;
	return q;
fail:
	cprof_profile_free(q);
	return NULL;
}
