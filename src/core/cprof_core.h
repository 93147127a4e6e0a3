/*
 * cprof_core.h - the profile core: the in-memory profile model, its builder,
 * and the codecs (profile.proto, legacy formats) that fill it.
 *
 * This is the one public header of libcprofcore.a, the static library that
 * every cprof binary links (the runtime, the command, the server).
 * Layering: this library depends on libc, zlib, PCRE2 (regex.c), elfutils
 * and libstdc++ (symbolize.c, demangle.c), and nothing else of cprof.
 *
 * The model in one paragraph.  A profile owns flat, index-addressed tables:
 * strings (interned, id 0 is ""), value types, mappings, functions, lines,
 * locations, stacks (interned sequences of location indices, leaf first),
 * label sets (interned sequences of labels) and samples (a stack index, a
 * label-set index and `nvtypes` values stored in `values`).  References inside
 * the model are 0-based indices into these tables, never pointers and never
 * the ids written in profile.proto (those are kept in the `id` fields for
 * output only).  Identical stacks and label sets are stored once, so memory
 * follows the profile's distinct content rather than its sample count;
 * samples themselves are kept one by one, in input order (-raw and -traces
 * print them that way).
 *
 * Ownership and threads: a cprof_profile owns all of its memory; everything
 * returned by accessors points into it and lives until cprof_profile_free.
 * No function here is async-signal-safe.  A profile may be read from several
 * threads at once; it must not be modified concurrently with anything else.
 *
 * Errors: functions that can fail return a negative CPROF_E* code and, when
 * given a non-NULL cprof_error, fill it with a one-line message that names
 * what is wrong (never a file name: callers add that).
 */
#ifndef CPROF_CORE_H
#define CPROF_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

/* The codes (CPROF_OK, CPROF_ENOMEM ... CPROF_EEMPTY, and the runtime's
 * CPROF_EBUSY ...) and cprof_strerror are cprof's one vocabulary,
 * cprof_errors.h, shared with the runtime's cprof.h: installed next to this
 * header, in the source tree in include/ (found from here when a build
 * names only src/core). */
#if defined(__has_include)
#if __has_include("cprof_errors.h")
#include "cprof_errors.h"
#else
#include "../../include/cprof_errors.h"
#endif
#else
#include "cprof_errors.h"
#endif

#define CPROF_ERRMSG_MAX 240

typedef struct cprof_error {
	int code;
	char msg[CPROF_ERRMSG_MAX];
} cprof_error;

/* Set err (if not NULL) to code and a printf-formatted message; returns code.
 * The first error set wins: later calls do not overwrite an existing one.
 * The message is passed through cprof_escape, so bytes of the input it
 * quotes can never put a newline or a terminal escape on the user's screen. */
int cprof_seterr(cprof_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The helpers shared with the layers above (cprof_reserve, hashes, escaping,
 * buffers, maps, units) are cprof's internals: src/core/cprof_util.h, not
 * installed. */

/* ---- the model --------------------------------------------------------- */

typedef uint32_t cprof_str;     /* index into the string table; 0 is "" */
#define CPROF_NONE UINT32_MAX   /* "no index" for optional references */

typedef struct cprof_vtype {
	cprof_str type, unit;
} cprof_vtype;

typedef struct cprof_mapping {
	uint64_t id;                /* as written in profile.proto (nonzero) */
	uint64_t start, limit, offset;
	cprof_str file, build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
} cprof_mapping;

typedef struct cprof_function {
	uint64_t id;
	cprof_str name, system_name, filename;
	int64_t start_line;
} cprof_function;

typedef struct cprof_line {
	uint32_t function;          /* index into functions */
	int64_t line, column;
} cprof_line;

typedef struct cprof_location {
	uint64_t id;
	uint64_t address;
	uint32_t mapping;           /* index into mappings, or CPROF_NONE */
	uint32_t line_off, nline;   /* lines[line_off .. line_off+nline), innermost first */
	bool is_folded;
} cprof_location;

typedef struct cprof_label {
	cprof_str key;
	cprof_str str;              /* nonzero: a string label */
	int64_t num;                /* a numeric label when str == 0 */
	cprof_str unit;             /* numeric labels only; 0 = none */
} cprof_label;

typedef struct cprof_sample {
	uint32_t stack;             /* index into stacks */
	uint32_t labels;            /* index into label sets; 0 = no labels */
} cprof_sample;

/* A growable table of fixed-size elements. */
#define CPROF_VEC(T) struct { T *v; size_t n, cap; }

typedef struct cprof_profile {
	/* strings: arena of NUL-terminated strings, offsets, lengths, and an
	 * open-addressed intern index (private) */
	char *str_arena;
	size_t str_arena_len, str_arena_cap;
	CPROF_VEC(uint64_t) str_off;    /* str_off.v[id] = arena offset; length in str_len */
	CPROF_VEC(uint32_t) str_len;
	uint32_t *str_hash;             /* private: intern index */
	size_t str_hash_cap;

	CPROF_VEC(cprof_vtype) vtypes;  /* sample_type */
	CPROF_VEC(cprof_mapping) mappings;
	CPROF_VEC(cprof_function) functions;
	CPROF_VEC(cprof_line) lines;
	CPROF_VEC(cprof_location) locations;

	/* stacks: stack i = stack_locs[stack_off[i] .. stack_off[i+1]) */
	CPROF_VEC(uint32_t) stack_off;
	CPROF_VEC(uint32_t) stack_locs;
	uint32_t *stack_hash;           /* private: intern index */
	size_t stack_hash_cap;
	CPROF_VEC(uint32_t) stack_hv;   /* private: hash of each stack, by stack index */

	/* label sets: set i = lset_labels[lset_off[i] .. lset_off[i+1]);
	 * set 0 is the empty set; labels in a set are sorted (key, str, num, unit) */
	CPROF_VEC(uint32_t) lset_off;
	CPROF_VEC(cprof_label) lset_labels;
	uint32_t *lset_hash;            /* private */
	size_t lset_hash_cap;

	CPROF_VEC(cprof_sample) samples;
	CPROF_VEC(int64_t) values;      /* samples.n * vtypes.n, row-major */

	CPROF_VEC(cprof_str) comments;
	cprof_str drop_frames, keep_frames;
	int64_t time_nanos, duration_nanos;
	cprof_vtype period_type;
	int64_t period;
	cprof_str default_sample_type;
	cprof_str doc_url;
} cprof_profile;

/* ---- lifetime ------------------------------------------------------------ */

/* A new empty profile (string 0 "" and label set 0 already present), or NULL
 * when out of memory.  The caller owns it and frees it with
 * cprof_profile_free (NULL is accepted there). */
cprof_profile *cprof_profile_new(void);
void cprof_profile_free(cprof_profile *p);

/* ---- strings ------------------------------------------------------------- */

/* Intern len bytes (need not be NUL-terminated; may contain NULs).  Returns
 * the string id, the same id for equal contents; CPROF_NONE when out of
 * memory. */
cprof_str cprof_intern(cprof_profile *p, const char *s, size_t len);
cprof_str cprof_intern_cstr(cprof_profile *p, const char *s);
/* The NUL-terminated string for id (ids out of range give ""). */
const char *cprof_s(const cprof_profile *p, cprof_str id);
size_t cprof_slen(const cprof_profile *p, cprof_str id);
size_t cprof_nstrings(const cprof_profile *p);

/* ---- building ------------------------------------------------------------ */

/* Each add function copies its input and returns the new element's index,
 * or a negative CPROF_E* code (as int64_t) on failure. */
int64_t cprof_add_vtype(cprof_profile *p, cprof_str type, cprof_str unit);
int64_t cprof_add_mapping(cprof_profile *p, const cprof_mapping *m);
int64_t cprof_add_function(cprof_profile *p, const cprof_function *f);
/* loc->line_off/nline are ignored: the n lines given are appended. */
int64_t cprof_add_location(cprof_profile *p, const cprof_location *loc,
			   const cprof_line *lines, size_t n);
/* Intern a stack of n location indices (leaf first). */
int64_t cprof_intern_stack(cprof_profile *p, const uint32_t *locs, size_t n);
/* Intern a label set; labels need not be sorted (a sorted copy is kept).
 * n == 0 gives set 0. */
int64_t cprof_intern_labels(cprof_profile *p, const cprof_label *labels, size_t n);
/* Append a sample: values has p->vtypes.n entries. */
int64_t cprof_add_sample(cprof_profile *p, uint32_t stack, uint32_t labels,
			 const int64_t *values);
int cprof_add_comment(cprof_profile *p, cprof_str s);

/* ---- reading ------------------------------------------------------------- */

static inline size_t cprof_stack_len(const cprof_profile *p, uint32_t s)
{
	return p->stack_off.v[s + 1] - p->stack_off.v[s];
}
static inline const uint32_t *cprof_stack_locs(const cprof_profile *p, uint32_t s)
{
	/* no arithmetic on a NULL table (every stack empty): that is UB */
	return p->stack_locs.v ? p->stack_locs.v + p->stack_off.v[s] : NULL;
}
static inline size_t cprof_lset_len(const cprof_profile *p, uint32_t s)
{
	return p->lset_off.v[s + 1] - p->lset_off.v[s];
}
static inline const cprof_label *cprof_lset(const cprof_profile *p, uint32_t s)
{
	return p->lset_labels.v ? p->lset_labels.v + p->lset_off.v[s] : NULL;
}
static inline const int64_t *cprof_sample_values(const cprof_profile *p, size_t i)
{
	return p->values.v ? p->values.v + i * p->vtypes.n : NULL;
}
static inline size_t cprof_nstacks(const cprof_profile *p)
{
	return p->stack_off.n - 1;
}
static inline size_t cprof_nlsets(const cprof_profile *p)
{
	return p->lset_off.n - 1;
}

/* The default sample type index: default_sample_type if set and found,
 * else the last one (pprof's rule); -1 if there are no types. */
int cprof_default_vtype(const cprof_profile *p);

/* Check the model's invariants (indices in range, values present for every
 * sample, no duplicate nonzero ids).  Returns 0 or CPROF_EFORMAT with err. */
int cprof_profile_check(const cprof_profile *p, cprof_error *err);

/* Deep copy of everything (new intern indices included).  NULL on ENOMEM. */
cprof_profile *cprof_profile_dup(const cprof_profile *p);

/* ---- codecs -------------------------------------------------------------- */

/* Limits on inputs, to keep memory bounded on hostile files. */
#define CPROF_MAX_INPUT ((size_t)4 << 30)       /* 4 GiB decompressed */

/* The memory ceiling of decoding one input (cprof_decode, cprof_decode_fd,
 * cprof_decode_file; for raw memory, "bytes read" is its length): the
 * model being built, the decoder's window and scratch, and the copy of the
 * input that the legacy text formats need.  The allowance grows with the
 * input read: max(CPROF_MEM_FLOOR, CPROF_MEM_PER_BYTE x bytes read so far),
 * never above the ceiling (default CPROF_MEM_CEILING), so a small file can
 * never inflate into gigabytes (a gzip "bomb", a protobuf of empty samples)
 * while a large profile gets what its model needs.  Past it decoding stops
 * with CPROF_ELIMIT.  Input that no format can start with (NUL bytes where
 * only profile.proto or gperftools' binary header could be) is refused at
 * its first bytes, without reading on. */
#define CPROF_MEM_CEILING ((size_t)8 << 30)
#define CPROF_MEM_FLOOR ((size_t)256 << 20)
#define CPROF_MEM_PER_BYTE 64
/* Lower (or raise) the ceiling for every later decode, process-wide; 0
 * restores the default.  Returns the previous ceiling.  Thread-safe (an
 * atomic: decodes already running keep the value they read). */
size_t cprof_set_mem_limit(size_t bytes);
size_t cprof_mem_limit(void);
/* Bytes of memory the model p holds (its tables' capacities). */
size_t cprof_profile_mem(const cprof_profile *p);

/* Decode a profile from memory: gzip is sniffed (1f 8b) and inflated; then
 * profile.proto is tried, then (unless the proto parse proved the input is
 * proto, e.g. concatenated profiles) the legacy formats in pprof's order:
 * gperftools CPU, Go/C++ heap text, Go count text (goroutine/threadcreate),
 * contention text (mutex/block), folded stacks.  On success *out owns a new
 * profile. */
int cprof_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err);
/* Same, reading a whole file (path "-" is stdin), once, as a stream. */
int cprof_decode_file(const char *path, cprof_profile **out, cprof_error *err);
/* Same, reading the descriptor fd (not closed) once, as a stream, whatever it
 * is (regular file, pipe, FIFO, terminal, device): prefix[0..n) are bytes the
 * caller already read from it (to sniff a format), taken as its first
 * bytes. */
int cprof_decode_fd(int fd, const void *prefix, size_t n, cprof_profile **out,
		    cprof_error *err);

/* profile.proto only (no legacy formats), on raw bytes or on gzip'd bytes
 * (1f 8b, which raw proto can never start with): those are inflated window
 * by window into the parser, so the inflated profile is never held whole. */
int cprof_pb_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err);
/* Encode to profile.proto; gzip it when gz.  *buf is malloc'd, caller frees. */
int cprof_pb_encode(const cprof_profile *p, bool gz, void **buf, size_t *len,
		    cprof_error *err);
int cprof_pb_write_file(const cprof_profile *p, const char *path, cprof_error *err);

/* Legacy formats (raw bytes, already inflated).  Each returns CPROF_EUNKNOWN
 * quickly when the input is not in its format. */
int cprof_legacy_gperf_cpu(const void *data, size_t len, cprof_profile **out, cprof_error *err);
int cprof_legacy_heap(const void *data, size_t len, cprof_profile **out, cprof_error *err);
int cprof_legacy_count(const void *data, size_t len, cprof_profile **out, cprof_error *err);
int cprof_legacy_contention(const void *data, size_t len, cprof_profile **out, cprof_error *err);
int cprof_folded_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err);
/* The text `perf script -F comm,pid,tid,period,event,ip,sym,dso` prints
 * (perf_script.c has the layout): samples/count plus one value column per
 * event (its period), stacks from the callchains, a mapping per DSO. */
int cprof_perf_script_decode(const void *text, size_t len, cprof_profile **out, cprof_error *err);

/* Inflate gzip data (several members allowed) into a malloc'd buffer,
 * refusing output larger than max. */
int cprof_gunzip(const void *data, size_t len, size_t max, void **out, size_t *outlen,
		 cprof_error *err);

/* Read a whole file into a malloc'd buffer (max bytes). */
int cprof_read_file(const char *path, size_t max, void **out, size_t *outlen,
		    cprof_error *err);

/* ---- combining ----------------------------------------------------------- */

/* Merge profiles srcs[0..n) into a new profile, as pprof's profile.Merge:
 * sample types must match (cprof_compatibilize can intersect them first),
 * units are rescaled to the finest common unit; identical samples (same
 * location keys and labels) are combined and all-zero ones dropped; time =
 * min, duration = sum, period = max.  Merging one profile alone is what
 * pprof does to every source.  The sources are not modified.  *out owns the
 * result; CPROF_EMISMATCH when the types cannot be combined. */
int cprof_merge(cprof_profile *const *srcs, size_t n, cprof_profile **out, cprof_error *err);
/* Make p, in place, exactly what cprof_merge(&p, 1, ...) would return (the
 * same tables, order, ids and values: what pprof does to a single source),
 * with little more memory than p itself: stacks, samples and values are
 * rewritten where they are, the other tables rebuilt, and every table shrunk
 * to its length.  On failure (CPROF_ENOMEM, or CPROF_EFORMAT for a profile
 * that refers to missing entries, as cprof_merge would report) p may have
 * lost its samples and stacks; it stays consistent, for freeing. */
int cprof_compact(cprof_profile *p, cprof_error *err);
/* Keep only the sample types every profile has, in ps[0]'s order, dropping
 * and reordering the others' values in place (newer pprof's
 * CompatibilizeSampleTypes, run before -base/-diff_base merges); a profile
 * whose types change gets default_sample_type = its old default if kept,
 * else the first common type.  CPROF_EMISMATCH when no type is common. */
int cprof_compatibilize(cprof_profile *const *ps, size_t n, cprof_error *err);
/* Multiply every value by ratio, rounded half away from zero, and drop the
 * samples left all zero (pprof's Scale; -base scales by -1). */
void cprof_scale(cprof_profile *p, double ratio);
/* Add the string label key=value to every sample (pprof::base=true for
 * -diff_base). */
int cprof_add_label_all(cprof_profile *p, const char *key, const char *value);

/* ---- the -base / -diff_base / -normalize policy (combine.c) -------------- */

enum {
	CPROF_COMBINE_BASE = 0,     /* -base: subtract the bases */
	CPROF_COMBINE_DIFF_BASE,    /* -diff_base: also label them pprof::base=true */
};

/* Where cprof_combine stopped, for the caller's wording of the error. */
typedef enum cprof_combine_stage {
	CPROF_STAGE_ARGS,           /* bad arguments */
	CPROF_STAGE_SOURCES,        /* merging (one: compacting) the sources */
	CPROF_STAGE_BASES,          /* merging (one: compacting) the bases */
	CPROF_STAGE_LABEL,          /* labelling the bases pprof::base=true */
	CPROF_STAGE_NORMALIZE,      /* scaling the source to the base's totals */
	CPROF_STAGE_SUBTRACT,       /* merging the source with the negated base */
	CPROF_STAGE_DONE,
} cprof_combine_stage;

typedef struct cprof_combine_opts {
	int mode;                   /* CPROF_COMBINE_BASE or _DIFF_BASE */
	bool normalize;             /* -normalize (only with bases) */
	cprof_combine_stage *stage; /* out, may be NULL: where it stopped */
} cprof_combine_opts;

/* The profile a report reads, as Go 1.19's pprof makes it from its sources
 * and bases: srcs[0..n) merged (a single one compacted in place), and when
 * nb > 0 the bases merged likewise, labelled pprof::base=true in DIFF_BASE
 * mode, the source scaled to the base's totals with normalize, the base
 * negated and merged in.  Takes every profile of srcs and bases (frees
 * them, on success and failure, and sets the slots to NULL); o may be NULL
 * (no bases' options).  On success *out owns the result.  Errors:
 * CPROF_EINVAL (n == 0, a NULL profile, a bad mode), CPROF_ENOMEM, and
 * what cprof_merge, cprof_compact and cprof_normalize return;
 * o->stage says which step failed (the message names no profile: with a
 * single source or base, the caller knows which it was).  Thread-safe on
 * distinct profiles. */
int cprof_combine(cprof_profile **srcs, size_t n, cprof_profile **bases, size_t nb,
		  const cprof_combine_opts *o, cprof_profile **out, cprof_error *err);
/* pprof's Profile.Normalize: scale every value column of p so that its sum
 * equals base's (a zero-sum column becomes zero), rounding half away from
 * zero; samples left all zero are dropped.  CPROF_EMISMATCH when the
 * profiles have different numbers of sample types, CPROF_ELIMIT past
 * CPROF_NORMALIZE_MAX_TYPES of them.  Thread-safe on distinct p. */
#define CPROF_NORMALIZE_MAX_TYPES 64
int cprof_normalize(cprof_profile *p, const cprof_profile *base, cprof_error *err);

/* ---- remote symbols (symserver.c) ---------------------------------------- */

/* pprof's symbol server protocol (the runtime's /debug/pprof/symbol, Go's
 * and gperftools' /pprof/symbol): the client POSTs "0xADDR+0xADDR..." and
 * reads lines "0xADDR name".  These three functions are everything but the
 * transport; thread-safe on distinct profiles. */

/* Whether mapping mi of p is one a symbol server can answer for (pprof's
 * rule: not a [vdso]-like pseudo file, linux-vdso, or /dev/dri/). */
bool cprof_mapping_symbolizable(const cprof_profile *p, uint32_t mi);
/* The request body for mapping mi: "0xA+0xB..." for each of its locations
 * with a nonzero address and no lines.  *body is malloc'd and
 * NUL-terminated (the caller frees it); *len is 0 when there is nothing to
 * ask.  0, CPROF_EINVAL or CPROF_ENOMEM. */
int cprof_symbol_request(const cprof_profile *p, uint32_t mi, char **body, size_t *len,
			 cprof_error *err);
/* Apply a symbol server's answer (answer[0..len), lines matching pprof's
 * (0x[[:xdigit:]]+)\s+(.*); other lines and an unterminated last line are
 * ignored) to mapping mi's locations: each location whose address is
 * answered gets one line, of a function made per distinct name (name =
 * system name); the last answer for an address wins.  The mapping's
 * has_functions is not set (the caller decides).  0, CPROF_EINVAL (mi out
 * of range), CPROF_EFORMAT (an address that does not fit 64 bits: pprof
 * fails the answer; nothing was applied), CPROF_ENOMEM (p stays
 * consistent, with some locations maybe symbolized). */
int cprof_apply_symbols(cprof_profile *p, uint32_t mi, const char *answer, size_t len,
			cprof_error *err);

/* ---- symbolization (symbolize.c, demangle.c; elfutils libdw) ----------- */

/* pprof's demangler modes (-symbolize=demangle=...). */
enum {
	CPROF_DEMANGLE_DEFAULT,     /* no parameters, no template arguments */
	CPROF_DEMANGLE_FULL,        /* everything but clone suffixes */
	CPROF_DEMANGLE_TEMPLATES,   /* no parameters; template arguments kept */
	CPROF_DEMANGLE_NONE,        /* leave mangled names */
};

/* A malloc'd demangled form of an Itanium C++ name in mode, or NULL when
 * name is not mangled (or mode is NONE).  Thread-safe. */
char *cprof_demangle(const char *name, int mode);
/* pprof's Demangle: every function whose name is empty or equal to its
 * system name gets the demangled system name (with force, every function
 * is demangled again from its system name).  0 or CPROF_ENOMEM. */
int cprof_demangle_profile(cprof_profile *p, int mode, bool force);

/* Options of local symbolization. */
typedef struct cprof_symopts {
	bool force;                 /* also mappings that already have symbols */
	bool fast;                  /* ELF symbol names only (pprof's fastlocal) */
	/* Directories searched for binaries and debug files, ':'-separated.
	 * NULL: $CPROF_BINARY_PATH then $PPROF_BINARY_PATH, or when both are
	 * unset $HOME/pprof/binaries. */
	const char *search_path;
	/* Warnings in pprof's wording, one call each, without a trailing
	 * newline (pprof's hint about PPROF_BINARY_PATH is two lines in one
	 * call); NULL writes them to stderr. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
} cprof_symopts;

/* A symbolizer keeps binaries (ELF, DWARF, per-unit function indexes) open
 * between runs, so a process that symbolizes many profiles of the same
 * programs opens each once.  Not thread-safe; one per thread. */
typedef struct cprof_symbolizer cprof_symbolizer;
cprof_symbolizer *cprof_symbolizer_new(void);
void cprof_symbolizer_free(cprof_symbolizer *s);
/* Give the locations of p's unsymbolized mappings (all with force)
 * functions, file names, lines and inline frames from the binaries, found
 * as pprof's locateBinaries finds them; mappings get their has_* flags.
 * Function names are the symbols' (mangled) names: call
 * cprof_demangle_profile afterwards.  Binaries that cannot be found or
 * read, or whose build ID differs from the mapping's, are warned about and
 * skipped.  Returns the number of locations symbolized, or a negative
 * CPROF_E* code (only CPROF_ENOMEM: a missing binary is no error). */
int64_t cprof_symbolizer_run(cprof_symbolizer *s, cprof_profile *p, const cprof_symopts *o,
			     cprof_error *err);
/* One-shot: a symbolizer, run, free. */
int64_t cprof_symbolize(cprof_profile *p, const cprof_symopts *o, cprof_error *err);
/* The GNU build ID of the ELF file at path as lower-case hex into hex
 * (hexsz bytes with the NUL): 1 when found, 0 when the file has none, or
 * a negative CPROF_E* code (CPROF_EIO, CPROF_EFORMAT not ELF). */
int cprof_elf_build_id(const char *path, char *hex, size_t hexsz, cprof_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CPROF_CORE_H */
