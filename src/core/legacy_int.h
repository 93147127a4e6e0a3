/*
 * legacy_int.h - shared machinery of the legacy-format parsers (legacy_*.c):
 * a line reader with the limits of Go's bufio.Scanner, Go-compatible number
 * parsing, and a small builder that collects samples as raw addresses and
 * then turns them into a cprof_profile the way pprof's legacy parsers do
 * (locations by address, the memory map section, mapping heuristics).
 * Private to the core; names carry the `cp_` prefix.
 */
#ifndef CPROF_LEGACY_INT_H
#define CPROF_LEGACY_INT_H

#include "core_int.h"

/* ---- lines ---------------------------------------------------------------- */

/* Longest line pprof's scanner accepts (bufio.MaxScanTokenSize - 1). */
#define CP_LINE_MAX 65535

/* Lines of a buffer as bufio.ScanLines cuts them: split at '\n', one trailing
 * '\r' dropped, a last line without '\n' still counts.  After the end, s is ""
 * (as Scanner.Text() is then). */
typedef struct cp_lines {
	const char *d;
	size_t len, pos;
	size_t lineno;          /* 1-based number of the line in s */
	const char *s;
	size_t n;
} cp_lines;

void cp_lines_init(cp_lines *L, const void *data, size_t len);
/* 1: a line is in L->s/L->n; 0: end of input; CPROF_ELIMIT: the next line
 * is longer than CP_LINE_MAX (L->lineno is its number). */
int cp_lines_next(cp_lines *L);
/* cp_lines_next past blank lines and '#' comments; the line, trimmed of
 * Go's spaces, in *s and *n. */
int cp_lines_next_text(cp_lines *L, const char **s, size_t *n);

/* ---- text helpers (Go's strings package semantics) ------------------------ */

/* strings.TrimSpace: ASCII and Unicode white space at both ends. */
void cp_trim_space(const char **s, size_t *n);
bool cp_is_space_or_comment(const char *s, size_t n);
static inline bool cp_has_prefix(const char *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n >= k && memcmp(s, pre, k) == 0;
}
bool cp_contains(const char *s, size_t n, const char *needle);
/* A line that starts the memory map section. */
bool cp_is_map_sentinel(const char *s, size_t n);
/* Go's \s class: [\t\n\f\r ]. */
static inline bool cp_is_gospace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}
static inline bool cp_is_digit(int c) { return c >= '0' && c <= '9'; }
/* The end of the run of s[i..n) that pprof's address lists match
 * ([ x0-9a-f]*: spaces, 'x', lower-case hex digits). */
static inline size_t cp_addr_run(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == 'x' || cp_is_digit(s[i]) ||
			 (s[i] >= 'a' && s[i] <= 'f')))
		i++;
	return i;
}

/* strconv.ParseUint / ParseInt with bitSize 64 and base 0, 10 or 16
 * (base 0: prefixes 0x 0o 0b and a leading 0 for octal, underscores).
 * Return true on success. */
bool cp_go_parse_uint(const char *s, size_t n, int base, uint64_t *out);
bool cp_go_parse_int(const char *s, size_t n, int base, int64_t *out);

/* Go's int64(f) on amd64: out of range and NaN give INT64_MIN. */
static inline int64_t cp_go_f2i(double x)
{
	if (x >= -9223372036854775808.0 && x < 9223372036854775808.0)
		return (int64_t)x;
	return INT64_MIN;
}
/* malloc of n (at least 1) elements of size el; NULL when the size
 * overflows or memory is short. */
static inline void *cp_alloc_n(size_t n, size_t el)
{
	size_t b = cp_mul(n ? n : 1, el);
	return b == SIZE_MAX ? NULL : malloc(b);
}

/* Two's-complement wrapping arithmetic, as Go's int64 does. */
static inline int64_t cp_wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static inline int64_t cp_wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

/* ---- the legacy builder --------------------------------------------------- */

enum cp_frames_kind { CP_FRAMES_CPU, CP_FRAMES_HEAP, CP_FRAMES_LOCK };

typedef struct cp_lsample {
	uint32_t off, n;        /* frames[off .. off+n) */
} cp_lsample;

typedef struct cp_legacy {
	cprof_profile *p;       /* types, period etc. are set by the parser */
	size_t nval;            /* values per sample */
	bool with_bytes;        /* heap: a numeric label `bytes` per sample */
	CPROF_VEC(uint64_t) addrs;      /* distinct addresses, in creation order */
	struct cp_aslot {               /* address -> index+1 into addrs (0 = empty); */
		uint64_t addr;          /* the address is kept here so a lookup */
		uint32_t idx1;          /* touches one cache line */
	} *ahash;
	size_t ahash_cap;
	CPROF_VEC(uint32_t) frames;     /* address indices of all samples */
	CPROF_VEC(cp_lsample) samples;
	CPROF_VEC(int64_t) vals;        /* nval per sample */
	CPROF_VEC(int64_t) bytes;       /* one per sample when with_bytes */
	uint32_t cur;                   /* frames.n when the current sample began */
} cp_legacy;

/* Set up b with a new profile (ENOMEM on failure). */
int cp_legacy_init(cp_legacy *b, size_t nval);
/* Free everything, including b->p unless it was taken. */
void cp_legacy_free(cp_legacy *b);
/* Append one frame (an address) to the current sample. */
int cp_legacy_frame(cp_legacy *b, uint64_t addr);
/* End the current sample with nval values (and its block size). */
int cp_legacy_sample(cp_legacy *b, const int64_t *vals, int64_t bytes);
/* Parse the memory map in the lines after L's current position (NULL for
 * none), then build locations, mappings, stacks and samples into b->p as
 * pprof's ParseMemoryMap does.  cpu_dups drops a leaf frame duplicated by
 * the signal context (pprof's cleanupDuplicateLocations).  `what` names the
 * format in error messages. */
int cp_legacy_finish(cp_legacy *b, cp_lines *L, bool cpu_dups, const char *what,
		     cprof_error *err);
/* pprof's parseHexAddresses: every 0x[0-9a-f]+ in s, each moved back one
 * byte (onto the call) and appended as a frame.  CPROF_EFORMAT when a number
 * does not fit 64 bits (nothing is set in err), or ENOMEM. */
int cp_legacy_hex_frames(cp_legacy *b, const char *s, size_t n);
/* pprof's parseAdditionalSections: skip lines up to the memory map sentinel
 * (none if L is on it already).  0 or CPROF_ELIMIT. */
int cp_legacy_skip_sections(cp_lines *L);
/* drop_frames/keep_frames as pprof assigns them to legacy profiles. */
int cp_legacy_frames(cprof_profile *p, enum cp_frames_kind kind);
/* The end of every legacy decoder: when ret is 0, cp_legacy_finish (the
 * memory map in L) and cp_legacy_frames (kind), then *out takes the
 * profile; the builder is freed either way, and CPROF_ENOMEM gets the
 * message "<what>: out of memory".  Returns the final code. */
int cp_legacy_done(cp_legacy *b, int ret, cp_lines *L, bool cpu_dups, enum cp_frames_kind kind,
		   const char *what, cprof_profile **out, cprof_error *err);
/* Intern a value type; ENOMEM or index. */
int cp_legacy_vtype(cprof_profile *p, const char *type, const char *unit);
int cp_legacy_period_type(cprof_profile *p, const char *type, const char *unit);

#endif
