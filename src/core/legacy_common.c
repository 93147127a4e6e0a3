/*
 * legacy_common.c - what every legacy-format parser shares: the line reader,
 * Go-compatible text and number helpers, and the builder that turns samples
 * of raw addresses into a profile.
 *
 * pprof's legacy parsers (profile/legacy_profile.go) all end the same way: the
 * samples hold locations keyed by address, then the text after the samples
 * is read as a memory map (/proc/self/maps lines and a terser
 * "start-end file (@offset) buildid" form), adjacent mappings are joined, the
 * main binary is moved first, locations are renumbered by first use, and each
 * location is given the mapping that contains it (or a catch-all fake
 * mapping).  cp_legacy_finish does exactly that on the collected samples.
 *
 * The two mapping-line patterns are matched with PCRE2, spelled as pprof
 * spells them but with Go's \s ([\t\n\f\r ]); PCRE's leftmost-first
 * backtracking gives the same captures as Go's regexp.  A match limit and a
 * look at the leading hex run first (mapping_entry) keep hostile lines
 * cheap.
 */
#include "legacy_int.h"

#include <ctype.h>


/* ---- lines ---------------------------------------------------------------- */

void cp_lines_init(cp_lines *L, const void *data, size_t len)
{
	L->d = data;
	L->len = len;
	L->pos = 0;
	L->lineno = 0;
	L->s = "";
	L->n = 0;
}

int cp_lines_next(cp_lines *L)
{
	if (L->pos >= L->len) {
		L->s = "";
		L->n = 0;
		return 0;
	}
	const char *start = L->d + L->pos;
	size_t rest = L->len - L->pos;
	const char *nl = memchr(start, '\n', rest > CP_LINE_MAX + 1 ? CP_LINE_MAX + 1 : rest);
	size_t n;
	L->lineno++;
	if (nl) {
		n = (size_t)(nl - start);
		L->pos += n + 1;
	} else {
		if (rest > CP_LINE_MAX) {
			L->s = "";
			L->n = 0;
			L->pos = L->len;
			return CPROF_ELIMIT;
		}
		n = rest;
		L->pos = L->len;
	}
	if (n > 0 && start[n - 1] == '\r')
		n--;
	L->s = start;
	L->n = n;
	return 1;
}

/* ---- text helpers ----------------------------------------------------------- */

/* Length of a Unicode space rune at the start of s (0 if none). */
static size_t space_head(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c == 0xC2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2;
	if (n >= 3) {
		if (c == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
			return 3;
		if (c == 0xE2 && s[1] == 0x80 &&
		    (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF) && s[2] >= 0x80)
			return 3;
		if (c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
			return 3;
		if (c == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
			return 3;
	}
	return 0;
}

/* Length of a Unicode space rune ending s (0 if none). */
static size_t space_tail(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[n - 1];
	if (c < 0x80)
		return (c == ' ' || (c >= '\t' && c <= '\r')) ? 1 : 0;
	if (n >= 2 && space_head(s + n - 2, 2) == 2)
		return 2;
	if (n >= 3 && space_head(s + n - 3, 3) == 3)
		return 3;
	return 0;
}

void cp_trim_space(const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t len = *n, k;
	while ((k = space_head(p, len)) != 0) {
		p += k;
		len -= k;
	}
	while ((k = space_tail(p, len)) != 0)
		len -= k;
	*s = (const char *)p;
	*n = len;
}

bool cp_is_space_or_comment(const char *s, size_t n)
{
	cp_trim_space(&s, &n);
	return n == 0 || s[0] == '#';
}

bool cp_contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	if (k == 0)
		return true;
	return n >= k && memmem(s, n, needle, k) != NULL;
}

bool cp_is_map_sentinel(const char *s, size_t n)
{
	return cp_contains(s, n, "--- Memory map: ---") || cp_contains(s, n, "MAPPED_LIBRARIES:");
}

/* ---- numbers --------------------------------------------------------------- */

static int lower(int c) { return c | 0x20; }

/* strconv's underscoreOK: underscores only between digits (or after a
 * base prefix). */
static bool underscore_ok(const char *s, size_t n)
{
	char saw = '^';
	size_t i = 0;
	if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	bool hex = false;
	if (n >= 2 && s[0] == '0' &&
	    (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
		i = 2;
		saw = '0';
		hex = lower(s[1]) == 'x';
	}
	for (; i < n; i++) {
		if (cp_is_digit(s[i]) || (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

bool cp_go_parse_uint(const char *s, size_t n, int base, uint64_t *out)
{
	const char *s0 = s;
	size_t n0 = n;
	bool base0 = base == 0;
	if (n == 0)
		return false;
	if (base == 0) {
		base = 10;
		if (s[0] == '0') {
			if (n >= 3 && lower(s[1]) == 'b') {
				base = 2;
				s += 2;
				n -= 2;
			} else if (n >= 3 && lower(s[1]) == 'o') {
				base = 8;
				s += 2;
				n -= 2;
			} else if (n >= 3 && lower(s[1]) == 'x') {
				base = 16;
				s += 2;
				n -= 2;
			} else {
				base = 8;
				s++;
				n--;
			}
		}
	}
	uint64_t v = 0, cutoff = UINT64_MAX / (uint64_t)base + 1;
	bool underscores = false;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], d;
		if (c == '_' && base0) {
			underscores = true;
			continue;
		} else if (cp_is_digit(c)) {
			d = c - '0';
		} else if (lower(c) >= 'a' && lower(c) <= 'z') {
			d = lower(c) - 'a' + 10;
		} else {
			return false;
		}
		if (d >= base)
			return false;
		if (v >= cutoff)
			return false;
		v *= (uint64_t)base;
		uint64_t v1 = v + (uint64_t)d;
		if (v1 < v)
			return false;
		v = v1;
	}
	if (underscores && !underscore_ok(s0, n0))
		return false;
	*out = v;
	return true;
}

bool cp_go_parse_int(const char *s, size_t n, int base, int64_t *out)
{
	if (n == 0)
		return false;
	bool neg = false;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		s++;
		n--;
	}
	uint64_t u;
	if (!cp_go_parse_uint(s, n, base, &u))
		return false;
	if (!neg && u > (uint64_t)INT64_MAX)
		return false;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return false;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return true;
}

/* ---- the builder ------------------------------------------------------------ */

int cp_legacy_init(cp_legacy *b, size_t nval)
{
	memset(b, 0, sizeof *b);
	b->nval = nval;
	b->p = cprof_profile_new();
	return b->p ? 0 : CPROF_ENOMEM;
}

void cp_legacy_free(cp_legacy *b)
{
	cprof_profile_free(b->p);
	b->p = NULL;
	CP_FREE(b->addrs);
	free(b->ahash);
	b->ahash = NULL;
	CP_FREE(b->frames);
	CP_FREE(b->samples);
	CP_FREE(b->vals);
	CP_FREE(b->bytes);
}

static int addr_rehash(cp_legacy *b, size_t ncap)
{
	struct cp_aslot *h = calloc(ncap, sizeof *h);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < b->addrs.n; i++) {
		size_t j = cp_hash_u64(b->addrs.v[i]) & (ncap - 1);
		while (h[j].idx1)
			j = (j + 1) & (ncap - 1);
		h[j].addr = b->addrs.v[i];
		h[j].idx1 = (uint32_t)i + 1;
	}
	free(b->ahash);
	b->ahash = h;
	b->ahash_cap = ncap;
	return 0;
}

int cp_legacy_frame(cp_legacy *b, uint64_t addr)
{
	if ((b->addrs.n + 1) * 2 > b->ahash_cap &&
	    addr_rehash(b, b->ahash_cap ? b->ahash_cap * 2 : 256))
		return CPROF_ENOMEM;
	size_t mask = b->ahash_cap - 1, j = cp_hash_u64(addr) & mask;
	uint32_t idx;
	while (b->ahash[j].idx1) {
		if (b->ahash[j].addr == addr) {
			idx = b->ahash[j].idx1 - 1;
			goto found;
		}
		j = (j + 1) & mask;
	}
	if (b->addrs.n >= UINT32_MAX - 2 || CP_PUSH(b->addrs, addr))
		return CPROF_ENOMEM;
	idx = (uint32_t)b->addrs.n - 1;
	b->ahash[j].addr = addr;
	b->ahash[j].idx1 = idx + 1;
found:
	if (b->frames.n >= UINT32_MAX - 1)
		return CPROF_ENOMEM;
	return CP_PUSH(b->frames, idx);
}

int cp_legacy_sample(cp_legacy *b, const int64_t *vals, int64_t bytes)
{
	cp_lsample s = { b->cur, (uint32_t)(b->frames.n - b->cur) };
	if (b->samples.n >= UINT32_MAX - 1 || CP_PUSH(b->samples, s) ||
	    CP_RESERVE(b->vals, cp_add(b->vals.n, b->nval)))
		return CPROF_ENOMEM;
	memcpy(b->vals.v + b->vals.n, vals, b->nval * sizeof *vals);
	b->vals.n += b->nval;
	if (b->with_bytes && CP_PUSH(b->bytes, bytes))
		return CPROF_ENOMEM;
	b->cur = (uint32_t)b->frames.n;
	return 0;
}

int cp_legacy_vtype(cprof_profile *p, const char *type, const char *unit)
{
	cprof_str t = cprof_intern_cstr(p, type), u = cprof_intern_cstr(p, unit);
	if (t == CPROF_NONE || u == CPROF_NONE)
		return CPROF_ENOMEM;
	int64_t r = cprof_add_vtype(p, t, u);
	return r < 0 ? (int)r : 0;
}

int cp_legacy_period_type(cprof_profile *p, const char *type, const char *unit)
{
	cprof_str t = cprof_intern_cstr(p, type), u = cprof_intern_cstr(p, unit);
	if (t == CPROF_NONE || u == CPROF_NONE)
		return CPROF_ENOMEM;
	p->period_type.type = t;
	p->period_type.unit = u;
	return 0;
}

/* pprof's frame-dropping patterns for legacy profiles. */
static const char alloc_rx[] =
	"calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|"
	"valloc|realloc|tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|"
	"tc_memalign|tc_posix_memalign|tc_pvalloc|tc_valloc|tc_realloc|tc_new|"
	"tc_delete|tc_newarray|tc_deletearray|tc_new_nothrow|tc_newarray_nothrow|"
	"malloc_zone_malloc|malloc_zone_calloc|malloc_zone_valloc|"
	"malloc_zone_realloc|malloc_zone_memalign|malloc_zone_free|runtime\\..*|"
	"BaseArena::.*|(::)?do_malloc_no_errno|(::)?do_malloc_pages|(::)?do_malloc|"
	"DoSampledAllocation|MallocedMemBlock::MallocedMemBlock|_M_allocate|"
	"__builtin_(vec_)?delete|__builtin_(vec_)?new|"
	"__gnu_cxx::new_allocator::allocate|__libc_malloc|"
	"__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|"
	"simple_alloc::allocate";
static const char alloc_keep_rx[] =
	"runtime\\.panic|runtime\\.reflectcall|runtime\\.call[0-9]*";
static const char cpu_rx[] =
	"ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|"
	"__pthread_sighandler|__restore";
static const char lock_rx[] =
	"RecordLockProfileData|(base::)?RecordLockProfileData.*|"
	"(base::)?SubmitMutexProfileData.*|(base::)?SubmitSpinLockProfileData.*|"
	"(base::Mutex::)?AwaitCommon.*|(base::Mutex::)?Unlock.*|"
	"(base::Mutex::)?UnlockSlow.*|(base::Mutex::)?ReaderUnlock.*|"
	"(base::MutexLock::)?~MutexLock.*|(Mutex::)?AwaitCommon.*|(Mutex::)?Unlock.*|"
	"(Mutex::)?UnlockSlow.*|(Mutex::)?ReaderUnlock.*|(MutexLock::)?~MutexLock.*|"
	"(SpinLock::)?Unlock.*|(SpinLock::)?SlowUnlock.*|"
	"(SpinLockHolder::)?~SpinLockHolder.*";

int cp_legacy_frames(cprof_profile *p, enum cp_frames_kind kind)
{
	const char *drop = kind == CP_FRAMES_HEAP ? alloc_rx :
			   kind == CP_FRAMES_LOCK ? lock_rx : cpu_rx;
	const char *keep = kind == CP_FRAMES_HEAP ? alloc_keep_rx : "";
	cprof_str d = cprof_intern_cstr(p, drop), k = cprof_intern_cstr(p, keep);
	if (d == CPROF_NONE || k == CPROF_NONE)
		return CPROF_ENOMEM;
	p->drop_frames = d;
	p->keep_frames = k;
	return 0;
}

static bool is_lhex(int c) { return cp_is_digit(c) || (c >= 'a' && c <= 'f'); }

int cp_legacy_hex_frames(cp_legacy *b, const char *s, size_t n)
{
	for (size_t i = 0; i + 2 < n;) {
		if (s[i] != '0' || s[i + 1] != 'x' || !is_lhex(s[i + 2])) {
			i++;
			continue;
		}
		size_t j = i + 2;
		while (j < n && is_lhex(s[j]))
			j++;
		uint64_t a;
		if (!cp_go_parse_uint(s + i, j - i, 0, &a))
			return CPROF_EFORMAT;
		int e = cp_legacy_frame(b, a - 1);
		if (e)
			return e;
		i = j;
	}
	return 0;
}

int cp_legacy_skip_sections(cp_lines *L)
{
	int r = 1;
	while (!cp_is_map_sentinel(L->s, L->n) && (r = cp_lines_next(L)) == 1)
		;
	return r == CPROF_ELIMIT ? r : 0;
}

/* ---- the memory map ---------------------------------------------------------- */

#define GS "[\\t\\n\\f\\r ]"
#define HX "[0-9A-Fa-f]"
#define HEX_RANGE GS "*(?:0x)?(" HX "+)[\\t\\n\\f\\r -]?" GS "*(?:0x)?(" HX "+):?"
#define PERM "(?:" GS "+([-rwxp]+))?"

/* start-end perm offset dev inode file */
static const char proc_maps_re[] =
	"^" HEX_RANGE PERM "(?:" GS "+(" HX "+))?" GS "+" HX "+:" HX "+" GS "+[0-9]+"
	"(?:" GS "+([^\\t\\n\\f\\r ]+))?";
/* start-end perm file (@offset) buildid */
static const char brief_maps_re[] =
	"^" HEX_RANGE PERM "(?:" GS "+([^\\t\\n\\f\\r ]+))?"
	"(?:" GS "+\\(@(" HX "+)\\))?(?:" GS "+(" HX "+))?";

#define MAX_ATTRS 256                   /* $name=value substitutions kept */
#define MAX_EXPANDED (4 * (CP_LINE_MAX + 1))

typedef struct tmap {
	uint64_t start, limit, offset;
	cprof_str file, build_id;
} tmap;

typedef struct mapctx {
	cprof_regex *proc, *brief;      /* on bytes: a file name need not be UTF-8 */
	/* attribute substitutions: "$name" -> value, in definition order */
	CPROF_VEC(char) abuf;
	CPROF_VEC(size_t) aoff;         /* 4 per attribute: old off/len, new off/len */
	CPROF_VEC(char) line;           /* the line after substitution */
	CPROF_VEC(char) trimmed;        /* and without surplus leading zeros */
} mapctx;

static void mapctx_free(mapctx *c)
{
	cprof_regex_free(c->proc);
	cprof_regex_free(c->brief);
	CP_FREE(c->abuf);
	CP_FREE(c->aoff);
	CP_FREE(c->line);
	CP_FREE(c->trimmed);
}

static int mapctx_init(mapctx *c)
{
	memset(c, 0, sizeof *c);
	c->proc = cprof_regex_new_flags(proc_maps_re, strlen(proc_maps_re), "memory map", "",
					CPROF_RX_BYTES, NULL);
	c->brief = cprof_regex_new_flags(brief_maps_re, strlen(brief_maps_re), "memory map", "",
					 CPROF_RX_BYTES, NULL);
	if (!c->proc || !c->brief) {
		mapctx_free(c);
		return CPROF_ENOMEM;
	}
	return 0;
}

/* glog's "file:line] " prefix: the length to skip, or 0. */
static size_t log_prefix(const char *s, size_t n)
{
	size_t j = 0;
	while (j < n && s[j] != '[' && s[j] != ']')
		j++;
	if (j + 1 >= n || s[j] != ']' || !cp_is_gospace(s[j + 1]))
		return 0;
	size_t k = j;
	while (k > 0 && cp_is_digit(s[k - 1]))
		k--;
	if (k == j || k < 2 || s[k - 1] != ':')
		return 0;
	return j + 2;
}

static int add_attr(mapctx *c, const char *k, size_t kn, const char *v, size_t vn)
{
	if (c->aoff.n / 4 >= MAX_ATTRS)
		return 0;
	size_t need = cp_add(c->abuf.n, cp_add(kn, cp_add(vn, 1)));
	if (need == SIZE_MAX || CP_RESERVE(c->abuf, need) || CP_RESERVE(c->aoff, c->aoff.n + 4))
		return CPROF_ENOMEM;
	size_t ko = c->abuf.n;
	c->abuf.v[c->abuf.n++] = '$';
	memcpy(c->abuf.v + c->abuf.n, k, kn);
	c->abuf.n += kn;
	size_t vo = c->abuf.n;
	memcpy(c->abuf.v + c->abuf.n, v, vn);
	c->abuf.n += vn;
	c->aoff.v[c->aoff.n++] = ko;
	c->aoff.v[c->aoff.n++] = kn + 1;
	c->aoff.v[c->aoff.n++] = vo;
	c->aoff.v[c->aoff.n++] = vn;
	return 0;
}

/* Apply the attribute substitutions (strings.Replacer semantics: left to
 * right, the first-defined name that matches at a position wins).  Sets
 * *s and *n to the result; returns 1 when the result got too long (the line is
 * then ignored), 0, or ENOMEM. */
static int substitute(mapctx *c, const char **s, size_t *n)
{
	if (c->aoff.n == 0 || !memchr(*s, '$', *n))
		return 0;
	const char *in = *s;
	size_t len = *n;
	c->line.n = 0;
	for (size_t i = 0; i < len;) {
		if (in[i] == '$') {
			size_t a;
			for (a = 0; a < c->aoff.n; a += 4) {
				size_t ol = c->aoff.v[a + 1];
				if (ol <= len - i && memcmp(in + i, c->abuf.v + c->aoff.v[a], ol) == 0)
					break;
			}
			if (a < c->aoff.n) {
				size_t vl = c->aoff.v[a + 3];
				if (c->line.n + vl > MAX_EXPANDED)
					return 1;
				if (CP_RESERVE(c->line, c->line.n + vl + 1))
					return CPROF_ENOMEM;
				memcpy(c->line.v + c->line.n, c->abuf.v + c->aoff.v[a + 2], vl);
				c->line.n += vl;
				i += c->aoff.v[a + 1];
				continue;
			}
		}
		if (c->line.n + 1 > MAX_EXPANDED)
			return 1;
		if (CP_PUSH(c->line, in[i]))
			return CPROF_ENOMEM;
		i++;
	}
	*s = c->line.v ? c->line.v : "";
	*n = c->line.n;
	return 0;
}


/* mapping_entry's answer for a line that is no mapping: apart from every
 * CPROF_E* code (CPROF_ENOMEM is -1), so that running out of memory is not
 * taken for a line to skip (a mapping silently lost). */
#define NOT_MAPPING (-1000)

/* pprof's parseMappingEntry: 1 = a mapping in *m, 0 = a non-executable
 * entry (skipped), NOT_MAPPING = not a mapping line, or CPROF_ENOMEM. */
static int mapping_entry(mapctx *c, cprof_profile *p, const char *s, size_t n, tmap *m)
{
	/* Both patterns need optional space, optional 0x, then a hex digit. */
	size_t i = 0;
	while (i < n && cp_is_gospace(s[i]))
		i++;
	if (i == n || !(isxdigit((unsigned char)s[i])))
		return NOT_MAPPING;
	/*
	 * The start address is the leading hex run, or all of it but its last
	 * digit (when the end address is that digit): the only two splits that
	 * can win, since a shorter start leaves the same text after the end.
	 * With more than 17 significant digits both overflow and the line is no
	 * mapping; leading zeros beyond those needed change no value, so they
	 * are dropped before matching.  Backtracking over the split is then
	 * cheap even on hostile lines.
	 */
	size_t j = i;
	if (n - j > 2 && s[j] == '0' && s[j + 1] == 'x' && isxdigit((unsigned char)s[j + 2]))
		j += 2;
	size_t e = j, z;
	while (e < n && isxdigit((unsigned char)s[e]))
		e++;
	for (z = j; z < e && s[z] == '0'; z++)
		;
	size_t sig = e - z, zeros = z - j;
	if (sig > 17)
		return NOT_MAPPING;
	size_t keep = sig >= 2 ? 0 : 2 - sig;
	if (zeros > keep) {
		size_t drop = zeros - keep;
		if (CP_RESERVE(c->trimmed, n - drop))
			return CPROF_ENOMEM;
		memcpy(c->trimmed.v, s, j);
		memcpy(c->trimmed.v + j, s + j + drop, n - j - drop);
		c->trimmed.n = n - drop;
		s = c->trimmed.v;
		n = c->trimmed.n;
	}
	const char *st, *en, *perm, *file, *off, *bid = "";
	size_t stn, enn, permn, filen, offn, bidn = 0;
	/* the groups of each pattern, in order: start, end, perm, offset,
	 * file, build ID (brief lists the file before the offset) */
	static const int proc_g[6] = { 1, 2, 3, 4, 5, 0 }, brief_g[6] = { 1, 2, 3, 5, 4, 6 };
	const cprof_regex *rx = c->proc;
	const int *g = proc_g;
	if (!cprof_regex_match(c->proc, s, n)) {
		rx = c->brief, g = brief_g;
		if (!cprof_regex_match(c->brief, s, n)) {
			/* a match that hit PCRE2's limits is no "no match" */
			if (cprof_regex_status(c->proc, NULL) || cprof_regex_status(c->brief, NULL))
				return CPROF_ELIMIT;
			return NOT_MAPPING;
		}
	}
	cprof_regex_group(rx, g[0], s, &st, &stn);
	cprof_regex_group(rx, g[1], s, &en, &enn);
	cprof_regex_group(rx, g[2], s, &perm, &permn);
	cprof_regex_group(rx, g[3], s, &off, &offn);
	cprof_regex_group(rx, g[4], s, &file, &filen);
	if (g[5])
		cprof_regex_group(rx, g[5], s, &bid, &bidn);
	if (permn && !memchr(perm, 'x', permn))
		return 0;
	memset(m, 0, sizeof *m);
	if (!cp_go_parse_uint(st, stn, 16, &m->start) || !cp_go_parse_uint(en, enn, 16, &m->limit))
		return NOT_MAPPING;
	if (offn && !cp_go_parse_uint(off, offn, 16, &m->offset))
		return NOT_MAPPING;
	m->file = cprof_intern(p, file, filen);
	m->build_id = cprof_intern(p, bid, bidn);
	if (m->file == CPROF_NONE || m->build_id == CPROF_NONE)
		return CPROF_ENOMEM;
	return 1;
}

/* pprof's parseProcMapsFromScanner over the rest of L. */
static int parse_maps(cp_lines *L, cprof_profile *p, void *vmaps, const char *what,
		      cprof_error *err)
{
	CPROF_VEC(tmap) *maps = vmaps;
	mapctx c;
	bool have_ctx = false;
	int r, ret = 0;
	while ((r = cp_lines_next(L)) == 1) {
		const char *s = L->s;
		size_t n = L->n, k = log_prefix(s, n);
		s += k;
		n -= k;
		if (!have_ctx) {
			if ((ret = mapctx_init(&c)))
				return ret;
			have_ctx = true;
		}
		int sub = substitute(&c, &s, &n);
		if (sub < 0) {
			ret = sub;
			break;
		}
		if (sub > 0)
			continue;
		tmap m;
		int e = mapping_entry(&c, p, s, n, &m);
		if (e < 0 && e != NOT_MAPPING) {
			ret = e;
			break;
		}
		if (e == NOT_MAPPING) {
			const char *eq = memchr(s, '=', n);
			if (eq) {
				const char *ks = s, *vs = eq + 1;
				size_t kn = (size_t)(eq - s), vn = n - kn - 1;
				cp_trim_space(&ks, &kn);
				cp_trim_space(&vs, &vn);
				if ((ret = add_attr(&c, ks, kn, vs, vn)))
					break;
			}
			continue;
		}
		if (e == 1 && CP_PUSH(*maps, m)) {
			ret = CPROF_ENOMEM;
			break;
		}
	}
	if (have_ctx)
		mapctx_free(&c);
	if (ret == CPROF_ELIMIT)
		return cprof_seterr(err, ret, "%s: memory map line %zu is too complex to match",
				    what, L->lineno);
	if (ret)
		return ret;
	if (r == CPROF_ELIMIT)
		return cprof_seterr(err, CPROF_EFORMAT, "%s: memory map line %zu is longer than %d bytes",
				    what, L->lineno, CP_LINE_MAX);
	return 0;
}

static bool adjacent(const tmap *a, const tmap *b)
{
	if (a->file && b->file && a->file != b->file)
		return false;
	if (a->build_id && b->build_id && a->build_id != b->build_id)
		return false;
	if (a->limit != b->start)
		return false;
	if (a->offset && b->offset && a->offset + (a->limit - a->start) != b->offset)
		return false;
	return true;
}

/* pprof's libRx: ".so" at the end or followed by [._] and a digit. */
static bool is_lib(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++) {
		if (memcmp(s + i, ".so", 3) != 0)
			continue;
		if (i + 3 == n)
			return true;
		if (i + 4 < n && (s[i + 3] == '.' || s[i + 3] == '_') && cp_is_digit(s[i + 4]))
			return true;
	}
	return false;
}

/* The main-binary guess: a file name that is neither a library nor a
 * [pseudo] mapping, after removing "(deleted)". */
static bool is_main_candidate(const cprof_profile *p, cprof_str file)
{
	const char *f = cprof_s(p, file);
	size_t n = cprof_slen(p, file);
	char small[512], *buf = n < sizeof small ? small : malloc(n + 1);
	if (!buf)
		return false;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (n - i >= 9 && memcmp(f + i, "(deleted)", 9) == 0) {
			i += 9;
			continue;
		}
		buf[o++] = f[i++];
	}
	const char *t = buf;
	size_t tn = o;
	cp_trim_space(&t, &tn);
	bool ok = tn > 0 && !is_lib(t, tn) && t[0] != '[';
	if (buf != small)
		free(buf);
	return ok;
}

int cp_legacy_finish(cp_legacy *b, cp_lines *L, bool cpu_dups, const char *what,
		     cprof_error *err)
{
	cprof_profile *p = b->p;
	CPROF_VEC(tmap) maps = { 0 };
	uint32_t *newidx = NULL, *order = NULL, *locmap = NULL, *stk = NULL;
	size_t norder = 0, maxn = 0;
	int ret = 0;

	if (L && (ret = parse_maps(L, p, &maps, what, err)))
		goto out;

	/* massageMappings: join split mappings, then move the main binary first */
	if (maps.n > 1) {
		size_t k = 0;
		for (size_t i = 1; i < maps.n; i++) {
			tmap *lm = &maps.v[k], *m = &maps.v[i];
			if (adjacent(lm, m)) {
				lm->limit = m->limit;
				if (m->file)
					lm->file = m->file;
				if (m->build_id)
					lm->build_id = m->build_id;
				continue;
			}
			maps.v[++k] = *m;
		}
		maps.n = k + 1;
	}
	for (size_t i = 0; i < maps.n; i++) {
		if (!is_main_candidate(p, maps.v[i].file))
			continue;
		tmap t = maps.v[0];
		maps.v[0] = maps.v[i];
		maps.v[i] = t;
		break;
	}

	/* remapLocationIDs: locations in order of first use */
	newidx = cp_alloc_n(b->addrs.n, sizeof *newidx);
	order = cp_alloc_n(b->addrs.n, sizeof *order);
	if (!newidx || !order) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->addrs.n; i++)
		newidx[i] = CPROF_NONE;
	for (size_t s = 0; s < b->samples.n; s++) {
		const cp_lsample *sm = &b->samples.v[s];
		if (sm->n > maxn)
			maxn = sm->n;
		for (uint32_t j = 0; j < sm->n; j++) {
			uint32_t a = b->frames.v[sm->off + j];
			if (newidx[a] == CPROF_NONE) {
				newidx[a] = (uint32_t)norder;
				order[norder++] = a;
			}
		}
	}

	/* remapMappingIDs */
	size_t first = 0;
	if (maps.n > 1 && cp_has_prefix(cprof_s(p, maps.v[0].file), cprof_slen(p, maps.v[0].file),
					  "/anon_hugepage") &&
	    maps.v[0].limit == maps.v[1].start)
		first = 1;
	if (maps.n > first) {
		tmap *m = &maps.v[first];
		if (m->start - m->offset == 0x400000) {
			m->start = 0x400000;
			m->offset = 0;
		}
	}
	locmap = cp_alloc_n(norder, sizeof *locmap);
	if (!locmap) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	size_t fake = SIZE_MAX;
	for (size_t i = 0; i < norder; i++) {
		uint64_t a = b->addrs.v[order[i]];
		locmap[i] = CPROF_NONE;
		if (a == 0)
			continue;
		size_t j;
		for (j = first; j < maps.n; j++)
			if (maps.v[j].start <= a && a < maps.v[j].limit)
				break;
		if (j == maps.n) {
			for (j = first; j < maps.n; j++) {
				tmap *m = &maps.v[j];
				if (m->offset != 0 && m->start - m->offset <= a && a < m->start) {
					m->start -= m->offset;
					m->offset = 0;
					break;
				}
			}
		}
		if (j == maps.n) {
			if (fake == SIZE_MAX) {
				tmap f = { 0, UINT64_MAX, 0, 0, 0 };
				if (CP_PUSH(maps, f)) {
					ret = CPROF_ENOMEM;
					goto out;
				}
				fake = maps.n - 1;
			}
			j = fake;
		}
		locmap[i] = (uint32_t)(j - first);
	}

	/* the profile's tables */
	for (size_t j = first; j < maps.n; j++) {
		cprof_mapping m = { 0 };
		m.id = j - first + 1;
		m.start = maps.v[j].start;
		m.limit = maps.v[j].limit;
		m.offset = maps.v[j].offset;
		m.file = maps.v[j].file;
		m.build_id = maps.v[j].build_id;
		if (cprof_add_mapping(p, &m) < 0) {
			ret = CPROF_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < norder; i++) {
		cprof_location l = { 0 };
		l.id = i + 1;
		l.address = b->addrs.v[order[i]];
		l.mapping = locmap[i];
		if (cprof_add_location(p, &l, NULL, 0) < 0) {
			ret = CPROF_ENOMEM;
			goto out;
		}
	}
	stk = cp_alloc_n(maxn, sizeof *stk);
	if (!stk) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	cprof_str bytes_key = 0;
	if (b->with_bytes && (bytes_key = cprof_intern_cstr(p, "bytes")) == CPROF_NONE) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	for (size_t s = 0; s < b->samples.n; s++) {
		const cp_lsample *sm = &b->samples.v[s];
		size_t n = 0;
		for (uint32_t j = 0; j < sm->n; j++)
			stk[n++] = newidx[b->frames.v[sm->off + j]];
		/* cleanupDuplicateLocations: the leaf seen twice, once adjusted */
		if (cpu_dups && n > 1 &&
		    p->locations.v[stk[0]].address == p->locations.v[stk[1]].address + 1) {
			memmove(stk + 1, stk + 2, (n - 2) * sizeof *stk);
			n--;
		}
		int64_t st = cprof_intern_stack(p, stk, n), ls = 0;
		if (st < 0) {
			ret = (int)st;
			goto out;
		}
		/* A block size of 0 gets no label: pprof keeps one in memory, but
		 * every report works on a profile.proto copy, where a numeric
		 * label 0 without a unit does not survive. */
		if (b->with_bytes && b->bytes.v[s] != 0) {
			cprof_label lab = { bytes_key, 0, b->bytes.v[s], 0 };
			if ((ls = cprof_intern_labels(p, &lab, 1)) < 0) {
				ret = (int)ls;
				goto out;
			}
		}
		if (cprof_add_sample(p, (uint32_t)st, (uint32_t)ls, b->vals.v + s * b->nval) < 0) {
			ret = CPROF_ENOMEM;
			goto out;
		}
	}
out:
	CP_FREE(maps);
	free(newidx);
	free(order);
	free(locmap);
	free(stk);
	if (ret == CPROF_ENOMEM)
		cprof_seterr(err, ret, "%s: out of memory", what);
	return ret;
}

int cp_legacy_done(cp_legacy *b, int ret, cp_lines *L, bool cpu_dups, enum cp_frames_kind kind,
		   const char *what, cprof_profile **out, cprof_error *err)
{
	if (ret == 0 && (ret = cp_legacy_finish(b, L, cpu_dups, what, err)) == 0 &&
	    (ret = cp_legacy_frames(b->p, kind)) == 0) {
		*out = b->p;
		b->p = NULL;
	}
	cp_legacy_free(b);
	if (ret == CPROF_ENOMEM)
		cprof_seterr(err, ret, "%s: out of memory", what);
	return ret;
}

int cp_lines_next_text(cp_lines *L, const char **s, size_t *n)
{
	int r;
	while ((r = cp_lines_next(L)) == 1) {
		*s = L->s;
		*n = L->n;
		cp_trim_space(s, n);
		if (*n != 0 && (*s)[0] != '#')
			break;
	}
	return r;
}
