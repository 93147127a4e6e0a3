/*
 * util.c - the shared toolbox of cprof_util.h: UTF-8 lengths, the JSON
 * string writer, the byte buffer with a ceiling, the u64 map, pprof's unit
 * table and its sample-index rule.  (cprof_reserve, cprof_escape and
 * cprof_url_unescape live with the model in profile.c.)
 *
 * Every function is thread-safe on distinct objects; nothing here holds
 * state of its own.
 */
#include "core_int.h"

#include <errno.h>
#include <stdio.h>

/* ---- text ---------------------------------------------------------------------- */

size_t cprof_utf8_len(const unsigned char *s, size_t n, uint32_t *cpo)
{
	unsigned c = n ? s[0] : 0;
	size_t len;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cpo)
		*cpo = cp;
	return len;
}

void cprof_json_str(FILE *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	putc('"', out);
	for (size_t i = 0; i < n;) {
		unsigned char ch = u[i];
		if (ch >= 0x80) {
			uint32_t cp = 0;
			size_t l = cprof_utf8_len(u + i, n - i, &cp);
			if (l == 0) {
				fputs("\\ufffd", out);
				i++;
			} else if (cp == 0x2028 || cp == 0x2029) {
				fprintf(out, "\\u%04x", (unsigned)cp);
				i += l;
			} else {
				fwrite(u + i, 1, l, out);
				i += l;
			}
			continue;
		}
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
			fprintf(out, "\\u%04x", ch);
		else
			putc(ch, out);
		i++;
	}
	putc('"', out);
}

void cprof_path_base(const char *s, size_t n, const char **b, size_t *bn)
{
	size_t orig = n;
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0) {
		*b = orig ? "/" : ".";
		*bn = 1;
		return;
	}
	size_t i = n;
	while (i > 0 && s[i - 1] != '/')
		i--;
	*b = s + i;
	*bn = n - i;
}

/* ---- buffer ------------------------------------------------------------------------ */

static int buf_fail(cprof_buf *b, int code)
{
	if (!b->err)
		b->err = code;
	return b->err;
}

int cprof_buf_add(cprof_buf *b, const void *d, size_t n)
{
	if (b->err)
		return b->err;
	size_t max = b->max ? b->max : CPROF_BUF_MAX;
	size_t need = cp_add(cp_add(b->n, n), 1);
	if (need == SIZE_MAX || need - 1 > max)
		return buf_fail(b, need == SIZE_MAX ? CPROF_ENOMEM : CPROF_ELIMIT);
	if (cp_reserve((void **)&b->s, &b->cap, need, 1))
		return buf_fail(b, CPROF_ENOMEM);
	if (n)
		memcpy(b->s + b->n, d, n);
	b->n += n;
	b->s[b->n] = 0;
	return 0;
}

int cprof_buf_str(cprof_buf *b, const char *s)
{
	return cprof_buf_add(b, s, strlen(s));
}

int cprof_buf_printf(cprof_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = cprof_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int cprof_buf_vprintf(cprof_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list again;
	va_copy(again, ap);
	int k = vsnprintf(small, sizeof small, fmt, ap);
	int rc = 0;
	if (k < 0) {
		rc = buf_fail(b, CPROF_EINVAL);
	} else if ((size_t)k < sizeof small) {
		rc = cprof_buf_add(b, small, (size_t)k);
	} else if (b->err) {
		rc = b->err;
	} else {
		/* longer: room for it in the buffer, then print again there */
		size_t at = b->n, need = cp_add(cp_add(at, (size_t)k), 1);
		if (need == SIZE_MAX || need - 1 > (b->max ? b->max : CPROF_BUF_MAX))
			rc = buf_fail(b, CPROF_ELIMIT);
		else if (cp_reserve((void **)&b->s, &b->cap, need, 1))
			rc = buf_fail(b, CPROF_ENOMEM);
		else {
			vsnprintf(b->s + at, (size_t)k + 1, fmt, again);
			b->n = at + (size_t)k;
		}
	}
	va_end(again);
	return rc;
}

char *cprof_buf_take(cprof_buf *b)
{
	char *s = NULL;
	if (!b->err)
		s = b->s ? b->s : strdup("");
	else
		free(b->s);
	b->s = NULL;
	b->n = b->cap = 0;
	b->err = 0;
	return s;
}

void cprof_buf_free(cprof_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->n = b->cap = 0;
	b->err = 0;
}

/* ---- u64 map ------------------------------------------------------------------------- */

static int map_grow(cprof_u64map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	if (ncap < m->cap || cp_mul(ncap, sizeof(uint64_t)) == SIZE_MAX)
		return CPROF_ENOMEM;
	uint64_t *k = malloc(ncap * sizeof *k), *v = malloc(ncap * sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return CPROF_ENOMEM;
	}
	memset(k, 0xff, ncap * sizeof *k);  /* CPROF_U64MAP_EMPTY */
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i] == CPROF_U64MAP_EMPTY)
			continue;
		size_t j = cprof_hash_u64(m->keys[i]) & (ncap - 1);
		while (k[j] != CPROF_U64MAP_EMPTY)
			j = (j + 1) & (ncap - 1);
		k[j] = m->keys[i];
		v[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = k;
	m->vals = v;
	m->cap = ncap;
	return 0;
}

uint64_t *cprof_u64map_find(const cprof_u64map *m, uint64_t key)
{
	if (key == CPROF_U64MAP_EMPTY)
		return m->has_empty ? (uint64_t *)&m->empty_val : NULL;
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1, j = cprof_hash_u64(key) & mask;
	while (m->keys[j] != CPROF_U64MAP_EMPTY) {
		if (m->keys[j] == key)
			return &m->vals[j];
		j = (j + 1) & mask;
	}
	return NULL;
}

uint64_t *cprof_u64map_slot(cprof_u64map *m, uint64_t key, uint64_t init, bool *fresh)
{
	if (fresh)
		*fresh = false;
	uint64_t *v = cprof_u64map_find(m, key);
	if (v)
		return v;
	if (fresh)
		*fresh = true;
	if (key == CPROF_U64MAP_EMPTY) {
		m->has_empty = true;
		m->empty_val = init;
		m->n++;
		return &m->empty_val;
	}
	if (cp_mul(m->n + 1, 2) > m->cap && map_grow(m)) {
		if (fresh)
			*fresh = false;
		return NULL;
	}
	size_t mask = m->cap - 1, j = cprof_hash_u64(key) & mask;
	while (m->keys[j] != CPROF_U64MAP_EMPTY)
		j = (j + 1) & mask;
	m->keys[j] = key;
	m->vals[j] = init;
	m->n++;
	return &m->vals[j];
}

void cprof_u64map_free(cprof_u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* ---- units ---------------------------------------------------------------------------- */

static const cprof_unit mem_units[] = {
	{ "B", { "b", "byte" }, 1 },
	{ "kB", { "kb", "kbyte", "kilobyte" }, 1024.0 },
	{ "MB", { "mb", "mbyte", "megabyte" }, 1048576.0 },
	{ "GB", { "gb", "gbyte", "gigabyte" }, 1073741824.0 },
	{ "TB", { "tb", "tbyte", "terabyte" }, 1099511627776.0 },
	{ "PB", { "pb", "pbyte", "petabyte" }, 1125899906842624.0 },
};
static const cprof_unit time_units[] = {
	{ "ns", { "ns", "nanosecond" }, 1 },
	{ "us", { "\xce\xbcs", "us", "microsecond" }, 1e3 },
	{ "ms", { "ms", "millisecond" }, 1e6 },
	{ "s", { "s", "sec", "second" }, 1e9 },
	{ "hrs", { "hour", "hr" }, 3600e9 },
};
static const cprof_unit gcu_units[] = {
	{ "n*GCU", { "nanogcu" }, 1e-9 },
	{ "u*GCU", { "microgcu" }, 1e-6 },
	{ "m*GCU", { "milligcu" }, 1e-3 },
	{ "GCU", { "gcu" }, 1 },
	{ "k*GCU", { "kilogcu" }, 1e3 },
	{ "M*GCU", { "megagcu" }, 1e6 },
	{ "G*GCU", { "gigagcu" }, 1e9 },
	{ "T*GCU", { "teragcu" }, 1e12 },
	{ "P*GCU", { "petagcu" }, 1e15 },
};
static const struct {
	const cprof_unit *units;
	size_t n;
	cprof_unit dflt;
} families[CPROF_UNIT_NFAM] = {
	{ mem_units, sizeof mem_units / sizeof *mem_units, { "B", { 0 }, 1 } },
	{ time_units, sizeof time_units / sizeof *time_units, { "s", { 0 }, 1e9 } },
	{ gcu_units, sizeof gcu_units / sizeof *gcu_units, { "GCU", { 0 }, 1 } },
};

const cprof_unit *cprof_unit_sniff(const char *u, size_t n, int fam)
{
	char low[64];
	if (fam < 0 || fam >= CPROF_UNIT_NFAM || n >= sizeof low)
		return NULL;
	for (size_t i = 0; i < n; i++)
		low[i] = (u[i] >= 'A' && u[i] <= 'Z') ? (char)(u[i] | 0x20) : u[i];
	/* pprof strips one trailing 's' when the name is longer than two bytes
	 * (bytes, not characters: "μs" is three bytes and becomes "μ") */
	if (n > 2 && low[n - 1] == 's')
		n--;
	low[n] = 0;
	const cprof_unit *t = families[fam].units;
	for (size_t i = 0; i < families[fam].n; i++)
		for (size_t a = 0; a < 4 && t[i].aliases[a]; a++)
			if (strcmp(low, t[i].aliases[a]) == 0)
				return &t[i];
	return NULL;
}

int cprof_unit_family(const char *u, size_t n)
{
	for (int f = 0; f < CPROF_UNIT_NFAM; f++)
		if (cprof_unit_sniff(u, n, f))
			return f;
	return -1;
}

const cprof_unit *cprof_unit_table(int fam, size_t *n)
{
	if (fam < 0 || fam >= CPROF_UNIT_NFAM) {
		*n = 0;
		return NULL;
	}
	*n = families[fam].n;
	return families[fam].units;
}

const cprof_unit *cprof_unit_default(int fam)
{
	return fam < 0 || fam >= CPROF_UNIT_NFAM ? NULL : &families[fam].dflt;
}

double cprof_unit_scale(int64_t value, const char *from, size_t fn, const char *to, size_t tn)
{
	for (int fam = 0; fam < CPROF_UNIT_NFAM; fam++) {
		const cprof_unit *fu = cprof_unit_sniff(from, fn, fam);
		if (!fu)
			continue;
		const cprof_unit *tu = cprof_unit_sniff(to, tn, fam);
		return (double)value * fu->factor / (tu ? tu->factor : families[fam].dflt.factor);
	}
	return (double)value;
}

/* ---- sample index ------------------------------------------------------------------- */

int cprof_sample_index(const cprof_profile *p, const char *si, cprof_error *err)
{
	if (!p || p->vtypes.n == 0)
		return cprof_seterr(err, CPROF_EINVAL, "profile has no samples");
	if (!si || !*si)
		return cprof_default_vtype(p);
	/* strconv.Atoi: an optional sign and decimal digits, nothing else */
	const char *d = si + (*si == '+' || *si == '-');
	bool num = *d != 0;
	for (const char *c = d; *c && num; c++)
		num = *c >= '0' && *c <= '9';
	if (num) {
		errno = 0;
		long long v = strtoll(si, NULL, 10);
		if (errno == ERANGE || v < 0 || (unsigned long long)v >= p->vtypes.n)
			return cprof_seterr(err, CPROF_EINVAL,
					    "sample_index %s is outside the range [0..%zu]", si,
					    p->vtypes.n - 1);
		return (int)v;
	}
	const char *noinuse = strncmp(si, "inuse_", 6) == 0 ? si + 6 : si;
	for (size_t i = 0; i < p->vtypes.n; i++) {
		const char *t = cprof_s(p, p->vtypes.v[i].type);
		if (strcmp(t, si) == 0 || strcmp(t, noinuse) == 0)
			return (int)i;
	}
	char types[CPROF_ERRMSG_MAX] = "";
	size_t w = 0;
	for (size_t i = 0; i < p->vtypes.n && w < sizeof types - 1; i++) {
		int k = snprintf(types + w, sizeof types - w, "%s%s", i ? " " : "",
				 cprof_s(p, p->vtypes.v[i].type));
		w = k < 0 ? w : w + (size_t)k;
	}
	return cprof_seterr(err, CPROF_EINVAL, "sample_index \"%s\" must be one of: [%s]", si, types);
}
