/*
 * cprof_util.h - the toolbox every layer of cprof shares and no program
 * outside it sees: this header is not installed (curl's curlx_ idea).
 * Overflow-checked sizes and growable vectors, hex digits, the escaping of
 * quoted input, URL unescaping, hashing, a byte buffer with a ceiling, a
 * u64 -> u64 hash map, a JSON string writer that never lets invalid UTF-8
 * through, pprof's units, and pprof's choice of a sample index.  Each
 * exists once; a second copy anywhere in src/ is a bug.
 *
 * Threads: every function is thread-safe on distinct objects (a buffer, a
 * map); the pure ones (hashes, units, escaping) on anything.  Nothing here
 * is async-signal-safe except the inline hashes, cprof_hexval and
 * cprof_utf8_len: the runtime's signal handlers use only those.
 */
#ifndef CPROF_UTIL_H
#define CPROF_UTIL_H

#include "cprof_core.h"

#include <stdarg.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes and vectors ----------------------------------------------------- */

/* Grow *pv (capacity *cap elements of size el) to hold need elements,
 * doubling, with overflow-checked sizes.  0 or CPROF_ENOMEM (the vector is
 * unchanged then).  Thread-safe on distinct vectors. */
int cprof_reserve(void **pv, size_t *cap, size_t need, size_t el);

/* a*b and a+b, or SIZE_MAX on overflow (callers treat SIZE_MAX as ENOMEM). */
static inline size_t cprof_mul_size(size_t a, size_t b)
{
	size_t r;
	return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t cprof_add_size(size_t a, size_t b)
{
	size_t r;
	return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* ---- text ------------------------------------------------------------------ */

/* The value of hex digit c, or -1. */
static inline int cprof_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The length (2..4) of the valid UTF-8 sequence of a non-ASCII code point
 * at s[0..n), or 0: overlong forms, surrogates and code points past
 * U+10FFFF are invalid.  *cp (when not NULL) gets the code point. */
size_t cprof_utf8_len(const unsigned char *s, size_t n, uint32_t *cp);

/* Copy s[0..n) into dst (dstn bytes, always NUL-terminated when dstn > 0)
 * with every byte that does not print escaped: newline, tab and carriage
 * return as \n \t \r, other control bytes, DEL, C1 controls and
 * bytes that are not valid UTF-8 as \xNN.  Printable ASCII and valid UTF-8
 * text are kept.  An escape is never cut in half when dst is short.
 * Returns the length written.  Thread-safe, allocation-free.  Every
 * message that quotes input (errors, warnings) goes through it. */
size_t cprof_escape(char *dst, size_t dstn, const char *s, size_t n);

/* Go's url.QueryUnescape (plus: '+' is a space) or PathUnescape of
 * s[0..n): the decoded length, or SIZE_MAX on a bad %-escape.  The first
 * min(length, outsz) decoded bytes go to out (out may be NULL when outsz
 * is 0); nothing is NUL-terminated.  Thread-safe, allocation-free. */
size_t cprof_url_unescape(const char *s, size_t n, bool plus, char *out, size_t outsz);

/* s[0..n) as a JSON string with its quotes, safe inside an HTML <script>:
 * '"' and '\\' backslashed, control bytes, '<', '>', '&' and U+2028/9 as
 * \\uXXXX, every byte that is not valid UTF-8 as \\ufffd (a JSON parser
 * never sees invalid text).  Thread-safe (on distinct streams). */
void cprof_json_str(FILE *out, const char *s, size_t n);

/* Go's filepath.Base of s[0..n) (Unix), as a pointer and length into s,
 * or a static "." (empty s) or "/" (all slashes). */
void cprof_path_base(const char *s, size_t n, const char **b, size_t *bn);

/* ---- hashing ----------------------------------------------------------------- */

/* A 64-bit integer mixer (murmur3's finaliser) for hash tables.
 * Async-signal-safe. */
static inline uint64_t cprof_hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* 64-bit FNV-1a-style mixing over bytes d[0..n) from seed h, word by word,
 * finalised.  Async-signal-safe. */
static inline uint64_t cprof_hash_bytes(const void *d, size_t n, uint64_t h)
{
	const unsigned char *s = d;
	h ^= 0xcbf29ce484222325ULL;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	while (n--)
		h = (h ^ *s++) * 0x100000001b3ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* ---- a byte buffer with a ceiling ------------------------------------------- */

/* Zero-initialise (max 0 means CPROF_BUF_MAX), or set max first.  Appends
 * that would pass max, or that cannot get memory, fail and make the buffer
 * fail for good (err keeps the first code), so a writer may append freely
 * and look once at the end.  s is NUL-terminated whenever it is not NULL.
 * The buffer owns s until cprof_buf_free or cprof_buf_take. */
#define CPROF_BUF_MAX ((size_t)1 << 30)
typedef struct cprof_buf {
	char *s;
	size_t n, cap, max;
	int err;                    /* 0, CPROF_ENOMEM or CPROF_ELIMIT */
} cprof_buf;
int cprof_buf_add(cprof_buf *b, const void *d, size_t n);
int cprof_buf_str(cprof_buf *b, const char *s);
int cprof_buf_printf(cprof_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cprof_buf_vprintf(cprof_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The string (malloc'd, "" for an empty buffer; NULL when the buffer failed
 * or when out of memory), the buffer left empty. */
char *cprof_buf_take(cprof_buf *b);
void cprof_buf_free(cprof_buf *b);

/* ---- a u64 -> u64 hash map ----------------------------------------------------- */

/* Open addressing, linear probing, at most half full; every key is
 * allowed.  Zero-initialise; free with cprof_u64map_free. */
typedef struct cprof_u64map {
	uint64_t *keys, *vals;      /* CPROF_U64MAP_EMPTY in keys: an empty slot */
	size_t n, cap;
	bool has_empty;             /* the key CPROF_U64MAP_EMPTY itself, kept aside */
	uint64_t empty_val;
} cprof_u64map;
#define CPROF_U64MAP_EMPTY UINT64_MAX
/* The value of key, inserted as `init` when absent (then *fresh is set, if
 * fresh is not NULL); NULL when out of memory.  The pointer lives until
 * the next insertion. */
uint64_t *cprof_u64map_slot(cprof_u64map *m, uint64_t key, uint64_t init, bool *fresh);
/* The value of key, or NULL when absent. */
uint64_t *cprof_u64map_find(const cprof_u64map *m, uint64_t key);
void cprof_u64map_free(cprof_u64map *m);

/* ---- units (pprof's internal/measurement) -------------------------------------- */

/* The families: memory (B ... PB, binary factors), time (ns ... hrs) and
 * Google compute units (n*GCU ... P*GCU). */
enum { CPROF_UNIT_MEMORY, CPROF_UNIT_TIME, CPROF_UNIT_GCU, CPROF_UNIT_NFAM };
typedef struct cprof_unit {
	const char *name;           /* as pprof prints it */
	const char *aliases[4];     /* lower-case names it is sniffed from */
	double factor;              /* in the family's base unit */
} cprof_unit;
/* pprof's sniffing of u[0..n) within family fam (lower-cased, one trailing
 * 's' dropped from names longer than two bytes): the unit, or NULL. */
const cprof_unit *cprof_unit_sniff(const char *u, size_t n, int fam);
/* The family of unit u[0..n), or -1. */
int cprof_unit_family(const char *u, size_t n);
/* Family fam's units, largest last (*n gets their number), and the unit a
 * value falls back to when the target is unknown (B, s, GCU). */
const cprof_unit *cprof_unit_table(int fam, size_t *n);
const cprof_unit *cprof_unit_default(int fam);
/* pprof's measurement.Scale(value, from, to) for real (non-auto) units:
 * value in from as a number of to (the family's default unit when to is
 * unknown); value itself when from is in no family. */
double cprof_unit_scale(int64_t value, const char *from, size_t fn, const char *to, size_t tn);

/* ---- regex.c: the one PCRE2 wrapper, unanchored like Go's MatchString ------ */

/* Limits of every match: a pathological expression gives up in well under
 * a second per subject; the expressions people write stay far below. */
#define CPROF_RX_MATCH_LIMIT 1000000u
#define CPROF_RX_DEPTH_LIMIT 100000u

typedef struct cprof_regex cprof_regex;
/* Compile pat[0..len).  name ("focus", "argument", ...) labels later match
 * failures; a compile error sets err "<prefix>error parsing regexp: <why>:
 * `<part of pat>`".  NULL on failure.  The caller owns the result. */
cprof_regex *cprof_regex_new(const char *pat, size_t len, const char *name, const char *prefix,
			     cprof_error *err);
/* The same with flags: CPROF_RX_BYTES matches bytes (no UTF mode: invalid
 * UTF-8 is text like any other, '.' is a byte). */
#define CPROF_RX_BYTES 1u
cprof_regex *cprof_regex_new_flags(const char *pat, size_t len, const char *name,
				   const char *prefix, unsigned flags, cprof_error *err);
/* cprof_regex_new of the string re, errors "what RE: error parsing regexp: ...". */
cprof_regex *cprof_regex_compile(const char *re, const char *what, cprof_error *err);
/* Does re match s[0..len)?  A match that fails (a limit hit) answers false
 * and is recorded: check cprof_regex_status before printing a report. */
bool cprof_regex_match(cprof_regex *rx, const char *s, size_t len);
/* After a match of s: capture group g as s[*gs .. *gs + *gn), false (and
 * "") when it did not take part. */
bool cprof_regex_group(const cprof_regex *rx, int g, const char *s, const char **gs, size_t *gn);
/* 0, or (with err set: "<name> regexp `RE` backtracks too much ... on
 * "<subject>"") the error of the first match that failed.  rx may be NULL. */
int cprof_regex_status(const cprof_regex *rx, cprof_error *err);
/* The calling thread's deadline for reports, in CLOCK_MONOTONIC
 * nanoseconds (0: none; the web API sets one per request): every regexp
 * match after it fails, and cprof_regex_status reports the deadline, so a
 * report with a pathological filter stops.  cprof_deadline_passed says
 * whether the thread's deadline is behind it.  Thread-local. */
void cprof_deadline_set(int64_t mono_ns);
bool cprof_deadline_passed(void);
void cprof_regex_free(cprof_regex *rx);
/* Go's wording for a PCRE2 compile error `code` at offset eoff of pat:
 * the reason into why, and the part of pat Go would quote. */
void cprof_regex_errtext(int code, const char *pat, size_t len, size_t eoff, char *why,
		       size_t whyn, const char **part, size_t *partlen);

/* ---- sample types -------------------------------------------------------------- */

/* pprof's Profile.SampleIndexByName: the index of p's sample type named si
 * ("inuse_" may be left off), or given as a decimal index; NULL or "" is
 * the default type (cprof_default_vtype).  A negative CPROF_EINVAL with
 * pprof's message ("sample_index X is outside the range [0..N]",
 * "sample_index \"X\" must be one of: [a b]", "profile has no samples")
 * otherwise.  Thread-safe. */
int cprof_sample_index(const cprof_profile *p, const char *si, cprof_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CPROF_UTIL_H */
