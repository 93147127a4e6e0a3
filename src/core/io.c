/*
 * io.c - getting a profile in: reading files, gunzip, and format dispatch.
 *
 * cprof_decode follows pprof's ParseData: inflate when the data starts with
 * the gzip magic 1f 8b, try profile.proto, and when that fails try the legacy
 * text/binary parsers in pprof's order.  A legacy parser answers
 * CPROF_EUNKNOWN when the input is not its format; any other error means it
 * recognised the input and its message is the one to report.  When nobody
 * recognises the input, the proto error is reported if the bytes looked like
 * profile.proto (a plausible run of Profile fields), since "truncated varint
 * at offset N" helps more than "unrecognized profile format"; otherwise the
 * latter.  Input that is proven to be proto (two time_nanos fields, i.e.
 * concatenated profiles) is not offered to the legacy parsers, as in pprof.
 *
 * (The judgement "looked like profile.proto" and the concatenation check are
 * made by the proto decoder, which follows the top-level framing on past its
 * first error; see cp_pbinfo.)
 *
 * Memory: nothing is held whole.  The reader (cp_reader) takes a file
 * descriptor 128 KiB at a time, or memory, inflates gzip (every member) as it
 * goes, and fills the proto decoder's 1 MiB window directly; the decoder
 * parses whole top-level fields out of it.  So decoding a file costs the
 * model plus ~1.2 MiB, whatever the file's size.  The legacy parsers need
 * their whole input: when the proto parse fails while the decoder still holds
 * everything read (in the first window: text and binary legacy inputs fail on
 * their first bytes), the reader keeps a copy of that and of the rest, up to
 * CPROF_MAX_INPUT.  A parse that fails later, after a window of well-formed
 * Profile fields, is reported as such.  gzip, I/O and size errors come first,
 * as when the input was inflated before parsing: after a parse error the
 * reader still goes through the rest of a gzip stream to find them.
 * Hostile input: the legacy parsers' copy is only started when the first
 * bytes could begin a legacy format (gperftools' binary header, or text: no
 * NUL in the first 512 bytes, folded.c's own test); input that fits neither
 * (a gzip of zeros, /dev/zero) fails at the proto error, without reading
 * or inflating on.  The decoder's window and the model are held under
 * cp_mem_allowed (cprof_set_mem_limit): a ceiling, and an allowance that
 * grows with the bytes read, so a small file cannot take gigabytes; the
 * legacy copy under a quarter of it, leaving room for the model the legacy
 * parser builds from it.
 * Every source is read once, as a stream (a FIFO, a pipe, /dev/stdin, a
 * process substitution), never reopened or sought.
 * cprof_gunzip (whole buffers, for callers that want one) runs the same
 * reader, sizing its buffer from the trailer's ISIZE (the last member's size
 * mod 2^32) so a single member inflates without reallocation.  Every buffer
 * is bounded by the caller's maximum, CPROF_ELIMIT past it.
 */
#include "pb_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the memory ceiling ------------------------------------------------- */

static _Atomic size_t mem_ceiling = CPROF_MEM_CEILING;

size_t cprof_set_mem_limit(size_t bytes)
{
	return atomic_exchange(&mem_ceiling, bytes ? bytes : CPROF_MEM_CEILING);
}

size_t cprof_mem_limit(void)
{
	return atomic_load(&mem_ceiling);
}

size_t cp_mem_allowed(uint64_t input)
{
	size_t ceil = cprof_mem_limit();
	size_t grow = input > SIZE_MAX / CPROF_MEM_PER_BYTE ? SIZE_MAX
							    : (size_t)input * CPROF_MEM_PER_BYTE;
	size_t a = grow > CPROF_MEM_FLOOR ? grow : CPROF_MEM_FLOOR;
	return a < ceil ? a : ceil;
}

#define VB(f) cp_mul(p->f.cap, sizeof *p->f.v)
#define HB(f) cp_mul(p->f##_cap, sizeof *p->f)

size_t cprof_profile_mem(const cprof_profile *p)
{
	if (!p)
		return 0;
	const size_t part[] = {
		sizeof *p, p->str_arena_cap, VB(str_off), VB(str_len), HB(str_hash),
		VB(vtypes), VB(mappings), VB(functions), VB(lines), VB(locations),
		VB(stack_off), VB(stack_locs), HB(stack_hash), VB(stack_hv),
		VB(lset_off), VB(lset_labels), HB(lset_hash), VB(samples), VB(values),
		VB(comments),
	};
	size_t t = 0;
	for (size_t i = 0; i < sizeof part / sizeof *part; i++)
		t = cp_add(t, part[i]);
	return t;
}
#undef VB
#undef HB

/* ---- the reader --------------------------------------------------------- */

enum { Z_IN_MEMBER, Z_BETWEEN, Z_DONE };

#define READ_CHUNK ((size_t)128 << 10)

static void reader_init(cp_reader *r, size_t max, bool keep)
{
	memset(r, 0, sizeof *r);
	r->max = max;
	r->fd = -1;
	r->keep_want = keep;
	r->members = 1;
	r->zstate = -1;         /* not sniffed yet */
}

void cp_reader_mem(cp_reader *r, const void *data, size_t len, size_t max, bool keep)
{
	reader_init(r, max, keep);
	r->in = data;
	r->in_n = len;
	r->in_eof = true;
	r->in_total = len;
}

void cp_reader_fd(cp_reader *r, int fd, size_t max, bool keep)
{
	reader_init(r, max, keep);
	r->fd = fd;
}

int cp_reader_prefix(cp_reader *r, const void *b, size_t n)
{
	if (n == 0)
		return 0;
	if (n > READ_CHUNK || !(r->ibuf = malloc(READ_CHUNK)))
		return CPROF_ENOMEM;
	r->icap = READ_CHUNK;
	memcpy(r->ibuf, b, n);
	r->in = r->ibuf;
	r->in_n = n;
	r->in_total = n;
	return 0;
}

void cp_reader_close(cp_reader *r)
{
	if (r->zinit)
		inflateEnd(&r->z);
	free(r->ibuf);
	free(r->keep);
	r->ibuf = r->keep = NULL;
	r->zinit = false;
}

__attribute__((format(printf, 3, 4)))
static int rfail(cp_reader *r, int code, const char *fmt, ...)
{
	if (!r->rc) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
		va_end(ap);
		r->err.code = code;
		r->rc = code;
	}
	return r->rc;
}

static int zerr(cp_reader *r, int zr)
{
	const char *m = r->z.msg ? r->z.msg : "unknown error";
	if (zr == Z_MEM_ERROR)
		return rfail(r, CPROF_ENOMEM, "out of memory inflating gzip data");
	if (strcmp(m, "incorrect data check") == 0)
		return rfail(r, CPROF_EGZIP, "gzip CRC mismatch: the compressed data is corrupt");
	if (strcmp(m, "incorrect length check") == 0)
		return rfail(r, CPROF_EGZIP, "gzip length mismatch: the compressed data is corrupt");
	if (strstr(m, "header") || strstr(m, "method"))
		return rfail(r, CPROF_EGZIP, "bad gzip header: %s", m);
	return rfail(r, CPROF_EGZIP, "corrupt gzip data: %s", m);
}

/* Make at least `need` (<= READ_CHUNK) input bytes available, unless the
 * input ends first.  Memory sources have everything from the start. */
static int src_need(cp_reader *r, size_t need)
{
	if (r->fd < 0 || r->in_n >= need || r->in_eof)
		return r->rc;
	if (!r->ibuf) {
		if (!(r->ibuf = malloc(READ_CHUNK)))
			return rfail(r, CPROF_ENOMEM, "out of memory reading input");
		r->icap = READ_CHUNK;
	}
	if (r->in_n && r->in != r->ibuf)
		memmove(r->ibuf, r->in, r->in_n);
	r->in = r->ibuf;
	while (r->in_n < need && !r->in_eof) {
		size_t room = r->icap - r->in_n;
		if (r->in_chunk && room > r->in_chunk)
			room = r->in_chunk;
		ssize_t k = read(r->fd, r->ibuf + r->in_n, room);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return rfail(r, CPROF_EIO, "cannot read: %s", strerror(errno));
		}
		if (k == 0)
			r->in_eof = true;
		r->in_n += (size_t)k;
		r->in_total += (uint64_t)k;
		if (r->in_total > r->max)       /* e.g. endless empty gzip members */
			return rfail(r, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", r->max);
	}
	return 0;
}

/* The legacy copy may take a quarter of the allowance: the model a legacy
 * parser builds from text is at most ~3.5 times the text (folded stacks of
 * one short frame per line), so copy and model stay within it. */
static size_t keep_allowed(const cp_reader *r)
{
	return cp_mem_allowed(r->in_total) / 4;
}

static int keep_copy(cp_reader *r, const void *b, size_t n)
{
	if (!r->keeping || n == 0)
		return 0;
	size_t allowed = keep_allowed(r);
	if (r->keep_n + n > allowed)
		return rfail(r, CPROF_ELIMIT, "the input takes more than %zu MiB of memory to hold "
			     "whole (as text formats are) after %" PRIu64 " bytes read: the limit",
			     allowed >> 20, r->in_total);
	if (n > r->keep_cap - r->keep_n) {
		size_t ncap = r->keep_cap ? r->keep_cap : 64 * 1024;
		while (ncap < r->keep_n + n)
			ncap = cp_mul(ncap, 2);
		uint8_t *k = ncap == SIZE_MAX ? NULL : realloc(r->keep, ncap);
		if (!k)
			return rfail(r, CPROF_ENOMEM, "out of memory reading input");
		r->keep = k;
		r->keep_cap = ncap;
	}
	memcpy(r->keep + r->keep_n, b, n);
	r->keep_n += n;
	return 0;
}

/* Could a legacy parser take input that starts with b[0..n)?  gperftools'
 * binary CPU header (words 0 and 3, 32- or 64-bit, either byte order), or
 * text: no NUL in the first 512 bytes (what folded.c, the most lenient
 * text parser, refuses first). */
static bool legacy_plausible(const uint8_t *b, size_t n)
{
	static const uint8_t three[4][8] = {
		{ 3, 0, 0, 0 }, { 0, 0, 0, 3 }, { 3, 0, 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0, 0, 3 },
	};
	if (n >= 8 && !memcmp(b, "\0\0\0\0", 4) &&
	    (!memcmp(b + 4, three[0], 4) || !memcmp(b + 4, three[1], 4)))
		return true;
	if (n >= 16 && !memcmp(b, "\0\0\0\0\0\0\0\0", 8) &&
	    (!memcmp(b + 8, three[2], 8) || !memcmp(b + 8, three[3], 8)))
		return true;
	return !memchr(b, 0, n < 512 ? n : 512);
}

void cp_reader_keep_all(cp_reader *r, const void *sofar, size_t n)
{
	if (!r->keep_want || r->keeping || !sofar || n != r->out_total)
		return;
	if (!legacy_plausible(sofar, n)) {
		r->no_legacy = true;
		return;
	}
	if (n > keep_allowed(r))
		return;
	size_t cap = n > 64 * 1024 ? n : 64 * 1024;
	if (!(r->keep = malloc(cap)))
		return;         /* out of memory: the legacy parsers do without */
	memcpy(r->keep, sofar, n);
	r->keep_n = n;
	r->keep_cap = cap;
	r->keeping = true;
}

static int sniff(cp_reader *r)
{
	if (src_need(r, 2))
		return r->rc;
	r->gz = r->in_n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
	r->zstate = Z_IN_MEMBER;
	return 0;
}

int cp_reader_force_gz(cp_reader *r)
{
	if (sniff(r))
		return r->rc;
	if (!r->gz)
		return rfail(r, CPROF_EGZIP, "bad gzip header: no gzip magic number");
	return 0;
}

/* After a member: another member, zero padding to the end, or garbage. */
static int between_members(cp_reader *r)
{
	if (src_need(r, 2))
		return r->rc;
	if (r->in_n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
		inflateReset(&r->z);
		r->members++;
		r->zstate = Z_IN_MEMBER;
		return 0;
	}
	uint64_t rest = 0;
	bool garbage = false;
	for (;;) {
		for (size_t i = 0; i < r->in_n && !garbage; i++)
			garbage = r->in[i] != 0;
		rest += r->in_n;
		r->in_n = 0;
		if (r->in_eof)
			break;
		if (src_need(r, 1))
			return r->rc;
	}
	if (garbage)
		return rfail(r, CPROF_EGZIP, "trailing garbage after gzip member %d (%" PRIu64 " bytes)",
			     r->members, rest);
	r->zstate = Z_DONE;
	return 0;
}

static int read_gz(cp_reader *r, uint8_t *buf, size_t n, size_t *got)
{
	size_t have = 0;
	if (!r->zinit) {
		if (inflateInit2(&r->z, 15 + 16) != Z_OK)
			return rfail(r, CPROF_ENOMEM, "out of memory inflating gzip data");
		r->zinit = true;
	}
	while (have < n && r->zstate != Z_DONE) {
		if (r->zstate == Z_BETWEEN) {
			if (between_members(r))
				break;
			continue;
		}
		if (r->in_n == 0 && src_need(r, 1))
			break;
		size_t aout = n - have;
		r->z.next_in = (Bytef *)r->in;
		r->z.avail_in = (uInt)(r->in_n > UINT_MAX ? UINT_MAX : r->in_n);
		r->z.next_out = buf + have;
		r->z.avail_out = (uInt)(aout > UINT_MAX ? UINT_MAX : aout);
		uInt zin = r->z.avail_in, zout = r->z.avail_out;
		int zr = inflate(&r->z, Z_NO_FLUSH);
		r->in += zin - r->z.avail_in;
		r->in_n -= zin - r->z.avail_in;
		have += zout - r->z.avail_out;
		r->out_total += zout - r->z.avail_out;
		if (r->out_total > r->max) {
			rfail(r, CPROF_ELIMIT, "decompressed data exceeds the limit of %zu bytes", r->max);
			break;
		}
		if (zr == Z_STREAM_END) {
			r->zstate = Z_BETWEEN;
		} else if (zr == Z_BUF_ERROR && r->in_n == 0 && r->in_eof) {
			/* no progress and nothing more to give it */
			rfail(r, CPROF_EGZIP, "truncated gzip data: input ends inside member %d "
			      "after %" PRIu64 " bytes", r->members, r->in_total);
			break;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			zerr(r, zr);
			break;
		}
	}
	*got = have;
	return r->rc;
}

static int read_raw(cp_reader *r, uint8_t *buf, size_t n, size_t *got)
{
	size_t have = 0;
	if (r->in_n) {
		size_t k = r->in_n < n ? r->in_n : n;
		memcpy(buf, r->in, k);
		r->in += k;
		r->in_n -= k;
		have = k;
	}
	while (have < n && !r->in_eof && r->fd >= 0) {
		size_t want = n - have;
		ssize_t k = read(r->fd, buf + have, want > ((size_t)1 << 30) ? ((size_t)1 << 30) : want);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			rfail(r, CPROF_EIO, "cannot read: %s", strerror(errno));
			break;
		}
		if (k == 0)
			r->in_eof = true;
		have += (size_t)k;
		r->in_total += (uint64_t)k;
	}
	r->out_total += have;
	if (!r->rc && r->out_total > r->max)
		rfail(r, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", r->max);
	*got = have;
	return r->rc;
}

int cp_reader_read(cp_reader *r, void *buf, size_t n, size_t *got)
{
	*got = 0;
	if (r->rc)
		return r->rc;
	if (r->chunk && n > r->chunk)
		n = r->chunk;
	if (r->zstate < 0 && sniff(r))
		return r->rc;
	if (r->gz ? read_gz(r, buf, n, got) : read_raw(r, buf, n, got))
		return r->rc;
	return keep_copy(r, buf, *got);
}

int cp_reader_drain(cp_reader *r)
{
	uint8_t *tmp = malloc(READ_CHUNK);
	if (!tmp)
		return rfail(r, CPROF_ENOMEM, "out of memory reading input");
	size_t got;
	do {
		if (cp_reader_read(r, tmp, READ_CHUNK, &got))
			break;
	} while (got);
	free(tmp);
	return r->rc;
}

/* ---- gunzip ---------------------------------------------------------------- */

int cprof_gunzip(const void *data, size_t len, size_t max, void **out, size_t *outlen,
		 cprof_error *err)
{
	if (!out || !outlen || (!data && len))
		return cprof_seterr(err, CPROF_EINVAL, "cprof_gunzip: bad arguments");
	*out = NULL;
	*outlen = 0;
	const uint8_t *in = data;

	/* The buffer may reach max+1 bytes: filling it proves the output is
	 * larger than max.  Start from the trailer's ISIZE when it is plausible
	 * (deflate expands at most ~1032x). */
	size_t hard = cp_add(max, 1);
	size_t guess = 0;
	if (len >= 18) {
		const uint8_t *t = in + len - 4;
		guess = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
	}
	size_t ceiling = cp_add(cp_mul(len, 1032), 1024);
	if (guess < len)
		guess = cp_mul(len, 4);
	if (guess > ceiling)
		guess = ceiling;
	guess = cp_add(guess, 64);
	if (guess < 4096)
		guess = 4096;
	if (guess > hard)
		guess = hard;

	cp_reader r;
	cp_reader_mem(&r, data, len, max, false);
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = cp_reader_force_gz(&r);
	while (!rc) {
		if (n == cap) {
			if (cap >= hard) {      /* the reader stops past max first */
				rc = rfail(&r, CPROF_ELIMIT,
					   "decompressed data exceeds the limit of %zu bytes", max);
				break;
			}
			size_t ncap = cap ? cp_mul(cap, 2) : guess;
			if (ncap > hard)
				ncap = hard;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = rfail(&r, CPROF_ENOMEM, "out of memory inflating gzip data");
				break;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got;
		rc = cp_reader_read(&r, buf + n, cap - n, &got);
		n += got;
		if (!rc && got == 0)
			break;          /* the end */
	}
	if (rc)
		cprof_seterr(err, rc, "%s", r.err.msg);
	cp_reader_close(&r);
	if (rc) {
		free(buf);
		return rc;
	}
	if (cap - n > 4096 && cap - n > n / 16) {
		uint8_t *nb = realloc(buf, n ? n : 1);
		if (nb)
			buf = nb;
	}
	if (!buf && !(buf = malloc(1)))
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory inflating gzip data");
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- format dispatch ----------------------------------------------------- */

typedef int (*legacy_fn)(const void *, size_t, cprof_profile **, cprof_error *);

/* The proto parse failed (prc, perr): decide what the input is, in pprof's
 * order.  data/len is the whole input, or NULL when the parse failed too far
 * in for the tee to have kept it: such input has been well-formed Profile
 * fields for megabytes, and is not offered to the legacy parsers. */
static int after_proto(const void *data, size_t len, int prc, const cprof_error *perr,
		       const cp_pbinfo *info, cprof_profile **out, cprof_error *err)
{
	if (prc == CPROF_ENOMEM || prc == CPROF_EEMPTY || prc == CPROF_ELIMIT)
		return cprof_seterr(err, prc, "%s", perr->msg);
	if (info->concat)
		return cprof_seterr(err, CPROF_EFORMAT, "concatenated profiles detected");

	static const legacy_fn legacy[] = {
		cprof_legacy_gperf_cpu, cprof_legacy_heap, cprof_legacy_count,
		cprof_legacy_contention, cprof_folded_decode,
	};
	for (size_t i = 0; data && i < sizeof legacy / sizeof *legacy; i++) {
		cprof_error lerr = { 0, "" };
		cprof_profile *p = NULL;
		int lr = legacy[i](data, len, &p, &lerr);
		if (lr == 0 && p) {
			*out = p;
			return 0;
		}
		cprof_profile_free(p);
		if (lr != CPROF_EUNKNOWN && lr != 0)
			return cprof_seterr(err, lr, "%s", lerr.msg[0] ? lerr.msg : cprof_strerror(lr));
	}
	if (info->proto)
		return cprof_seterr(err, prc, "%s", perr->msg);
	return cprof_seterr(err, CPROF_EUNKNOWN, "unrecognized profile format");
}

/* Stream the reader into the proto decoder; when that fails, read the rest
 * (into the tee if it still holds the whole input, so the legacy parsers
 * get it; through gzip at least, whose errors come first) and dispatch. */
static int decode_reader(cp_reader *r, cprof_profile **out, cprof_error *err)
{
	cprof_error perr = { 0, "" };
	cp_pbinfo info;
	int rc = cp_pb_decode_reader(r, out, &perr, &info);
	if (rc == 0)
		return 0;
	if (info.from_reader)
		return cprof_seterr(err, rc, "%s", perr.msg);
	if (rc != CPROF_ENOMEM && rc != CPROF_EEMPTY && rc != CPROF_ELIMIT && !r->no_legacy &&
	    (r->keeping || r->gz) && cp_reader_drain(r))
		return cprof_seterr(err, r->rc, "%s", r->err.msg);
	return after_proto(r->keeping ? r->keep : NULL, r->keep_n, rc, &perr, &info, out, err);
}

static bool is_gzip(const void *data, size_t len)
{
	const uint8_t *b = data;
	return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

int cprof_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	if (!out || (!data && len))
		return cprof_seterr(err, CPROF_EINVAL, "cprof_decode: bad arguments");
	*out = NULL;
	if (len == 0)
		return cprof_seterr(err, CPROF_EEMPTY, "empty input file");
	if (!is_gzip(data, len)) {
		cprof_error perr = { 0, "" };
		cp_pbinfo info;
		int rc = cp_pb_decode_mem(data, len, out, &perr, &info);
		if (rc == 0)
			return 0;
		return after_proto(data, len, rc, &perr, &info, out, err);
	}
	cp_reader r;
	cp_reader_mem(&r, data, len, CPROF_MAX_INPUT, true);
	int rc = decode_reader(&r, out, err);
	cp_reader_close(&r);
	return rc;
}

int cprof_decode_fd(int fd, const void *prefix, size_t n, cprof_profile **out,
		    cprof_error *err)
{
	if (!out || fd < 0 || (!prefix && n))
		return cprof_seterr(err, CPROF_EINVAL, "cprof_decode_fd: bad arguments");
	*out = NULL;
	struct stat st;
	if (fstat(fd, &st))
		return cprof_seterr(err, CPROF_EIO, "cannot stat: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return cprof_seterr(err, CPROF_EIO, "cannot read: %s", strerror(EISDIR));
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > CPROF_MAX_INPUT)
		return cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes",
				    (size_t)CPROF_MAX_INPUT);
	cp_reader r;
	cp_reader_fd(&r, fd, CPROF_MAX_INPUT, true);
	int rc = cp_reader_prefix(&r, prefix, n);
	if (rc)
		rc = cprof_seterr(err, rc, "out of memory reading input");
	else
		rc = decode_reader(&r, out, err);
	cp_reader_close(&r);
	return rc;
}

int cprof_decode_file(const char *path, cprof_profile **out, cprof_error *err)
{
	if (!path || !out)
		return cprof_seterr(err, CPROF_EINVAL, "cprof_decode_file: bad arguments");
	*out = NULL;
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cprof_seterr(err, CPROF_EIO, "cannot open: %s", strerror(errno));
	int rc = cprof_decode_fd(fd, NULL, 0, out, err);
	if (!is_stdin)
		close(fd);
	return rc;
}
