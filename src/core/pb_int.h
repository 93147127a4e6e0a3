/*
 * pb_int.h - private interface between the input layer (io.c) and the
 * profile.proto decoder (pb_decode.c): a reader that produces the raw bytes
 * of an input (a file descriptor or memory, inflated on the fly when it is
 * gzip'd) and the decoder entry points that consume it window by window.
 *
 * Why: a large gzip'd profile is never held whole, neither compressed nor
 * inflated; only a parse window (1 MiB, more only for a larger single field)
 * and a read buffer are.  The legacy parsers need their whole input: when the
 * proto parse fails while the decoder still has everything read so far (the
 * failure is in the first window, where text and binary legacy inputs fail,
 * on their first bytes), the reader is handed that and keeps a copy of all
 * it produces from then on.  Not installed.
 */
#ifndef CPROF_PB_INT_H
#define CPROF_PB_INT_H

#include "core_int.h"

#include <zlib.h>

typedef struct cp_reader {
	cprof_error err;        /* the reader's own error (I/O, gzip, limit) */
	int rc;                 /* sticky: once set, every read fails with it */
	size_t max;             /* most bytes it will produce (or read, when raw) */

	int fd;                 /* the source: a descriptor, or -1 for memory */
	uint8_t *ibuf;          /* read buffer (descriptor sources) */
	size_t icap;
	const uint8_t *in;      /* unread input: in[0 .. in_n) */
	size_t in_n;
	bool in_eof;            /* nothing more beyond in[0 .. in_n) */
	uint64_t in_total;      /* bytes taken from the source */

	bool gz;                /* the input is gzip (sniffed from 1f 8b) */
	bool zinit;
	int zstate;             /* private: in a member, between members, done */
	int members;
	z_stream z;

	uint64_t out_total;     /* raw (inflated) bytes produced */
	size_t chunk, in_chunk; /* tests: most bytes per read, produced and taken
				 * from a descriptor (0: as many as fit) */

	/* the copy for the legacy parsers (see cp_reader_keep_all) */
	bool keep_want;         /* the caller wants it */
	bool keeping;           /* keep[0 .. keep_n) is everything produced */
	bool no_legacy;         /* the first bytes fit no legacy format: the
				 * dispatch stops at the proto error */
	uint8_t *keep;
	size_t keep_n, keep_cap;
} cp_reader;

/* Open a reader on memory or on a descriptor (not closed by the reader).
 * `max` bounds the produced bytes (CPROF_ELIMIT past it); `keep`: the caller
 * may want the whole input after a failed parse.  gzip is sniffed on the
 * first read. */
void cp_reader_mem(cp_reader *r, const void *data, size_t len, size_t max, bool keep);
void cp_reader_fd(cp_reader *r, int fd, size_t max, bool keep);
/* Hand the reader bytes already taken from its descriptor (at most
 * 128 KiB), to be read first.  0 or CPROF_ENOMEM. */
int cp_reader_prefix(cp_reader *r, const void *b, size_t n);
/* Force gzip (cprof_gunzip: input without the magic is an error). */
int cp_reader_force_gz(cp_reader *r);
/* Read up to n raw bytes into buf (all n unless the input ends, or `chunk`
 * says otherwise); *got == 0 at the end of the input.  Returns 0 or the
 * reader's error (r->err has the message). */
int cp_reader_read(cp_reader *r, void *buf, size_t n, size_t *got);
/* Read to the end of the input, into the copy when keeping (else
 * discarded): the whole input for the legacy parsers, and any gzip error
 * further on, which takes precedence over a parse error. */
int cp_reader_drain(cp_reader *r);
/* The parse failed.  If sofar[0 .. n) is everything produced so far (sofar
 * NULL: it is not), and the caller wanted it, keep a copy of it and of all
 * that follows. */
void cp_reader_keep_all(cp_reader *r, const void *sofar, size_t n);
void cp_reader_close(cp_reader *r);

/* The memory a decode may hold after reading `input` bytes of its source
 * (cprof_set_mem_limit: the floor, the allowance per byte, the ceiling). */
size_t cp_mem_allowed(uint64_t input);

/* What a failed proto parse found out about its input, for the dispatch
 * (io.c): the top-level framing is followed past the first error, as
 * pprof's looks-like-proto judgement needs the whole input. */
typedef struct cp_pbinfo {
	bool proto;             /* a plausible run of Profile fields */
	bool concat;            /* a second time_nanos after a nonzero one */
	bool from_reader;       /* the error is the reader's (I/O, gzip, limit) */
} cp_pbinfo;

/* Decode profile.proto from raw bytes in memory, or from a reader.  Same
 * results as cprof_pb_decode; info (may be NULL) is filled on failure. */
int cp_pb_decode_mem(const void *data, size_t len, cprof_profile **out,
		     cprof_error *err, cp_pbinfo *info);
int cp_pb_decode_reader(cp_reader *r, cprof_profile **out, cprof_error *err,
			cp_pbinfo *info);

#endif
