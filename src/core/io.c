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
 * Memory: a gzip'd profile.proto (what Go and pprof write) is inflated in
 * windows straight into the proto parser (see cprof_pb_decode), so decoding
 * a file costs the compressed bytes plus the model; only when that fails is
 * the whole input inflated, for the legacy parsers and the error message.
 * cprof_gunzip sizes its buffer from the gzip trailer's ISIZE (the last
 * member's size mod 2^32) so a single member inflates without reallocation.
 * Every buffer is bounded by the caller's maximum, CPROF_ELIMIT past it.
 */
#include "core_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- gunzip ---------------------------------------------------------------- */

static int zerr(cprof_error *err, const z_stream *z, int r)
{
	const char *m = z->msg ? z->msg : "unknown error";
	if (r == Z_MEM_ERROR)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory inflating gzip data");
	if (strcmp(m, "incorrect data check") == 0)
		return cprof_seterr(err, CPROF_EGZIP, "gzip CRC mismatch: the compressed data is corrupt");
	if (strcmp(m, "incorrect length check") == 0)
		return cprof_seterr(err, CPROF_EGZIP, "gzip length mismatch: the compressed data is corrupt");
	if (strstr(m, "header") || strstr(m, "method"))
		return cprof_seterr(err, CPROF_EGZIP, "bad gzip header: %s", m);
	return cprof_seterr(err, CPROF_EGZIP, "corrupt gzip data: %s", m);
}

int cprof_gunzip(const void *data, size_t len, size_t max, void **out, size_t *outlen,
		 cprof_error *err)
{
	if (!out || !outlen || (!data && len))
		return cprof_seterr(err, CPROF_EINVAL, "cprof_gunzip: bad arguments");
	*out = NULL;
	*outlen = 0;
	const uint8_t *in = data;
	if (len < 2 || in[0] != 0x1f || in[1] != 0x8b)
		return cprof_seterr(err, CPROF_EGZIP, "bad gzip header: no gzip magic number");

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

	uint8_t *buf = malloc(guess);
	if (!buf)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory inflating gzip data");
	size_t cap = guess, n = 0, pos = 0;
	int members = 1, rc = 0;
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		free(buf);
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory inflating gzip data");
	}
	for (;;) {
		if (n == cap) {
			if (cap >= hard) {
				rc = cprof_seterr(err, CPROF_ELIMIT,
						  "decompressed data exceeds the limit of %zu bytes", max);
				break;
			}
			size_t ncap = cp_mul(cap, 2);
			if (ncap > hard)
				ncap = hard;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory inflating gzip data");
				break;
			}
			buf = nb;
			cap = ncap;
		}
		size_t ain = len - pos, aout = cap - n;
		z.next_in = (Bytef *)(in + pos);
		z.avail_in = (uInt)(ain > UINT_MAX ? UINT_MAX : ain);
		z.next_out = buf + n;
		z.avail_out = (uInt)(aout > UINT_MAX ? UINT_MAX : aout);
		uInt zin = z.avail_in, zout = z.avail_out;
		int r = inflate(&z, Z_NO_FLUSH);
		pos += zin - z.avail_in;
		n += zout - z.avail_out;
		if (n > max) {
			rc = cprof_seterr(err, CPROF_ELIMIT,
					  "decompressed data exceeds the limit of %zu bytes", max);
			break;
		}
		if (r == Z_STREAM_END) {
			if (pos == len)
				break;
			if (len - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {
				inflateReset(&z);
				members++;
				continue;
			}
			size_t k = pos;
			while (k < len && in[k] == 0)
				k++;
			if (k == len)   /* zero padding after the last member */
				break;
			rc = cprof_seterr(err, CPROF_EGZIP,
					  "trailing garbage after gzip member %d (%zu bytes)",
					  members, len - pos);
			break;
		}
		if (r == Z_OK)
			continue;
		if (r == Z_BUF_ERROR) {
			if (z.avail_out == 0)
				continue;       /* output full: grow */
			/* no progress with room to write: the input ran out */
			rc = cprof_seterr(err, CPROF_EGZIP,
					  "truncated gzip data: input ends inside member %d "
					  "after %zu bytes", members, len);
			break;
		}
		rc = zerr(err, &z, r);
		break;
	}
	inflateEnd(&z);
	if (rc) {
		free(buf);
		return rc;
	}
	if (cap - n > 4096 && cap - n > n / 16) {
		uint8_t *nb = realloc(buf, n ? n : 1);
		if (nb)
			buf = nb;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- files ----------------------------------------------------------------- */

int cprof_read_file(const char *path, size_t max, void **out, size_t *outlen,
		    cprof_error *err)
{
	if (!path || !out || !outlen)
		return cprof_seterr(err, CPROF_EINVAL, "cprof_read_file: bad arguments");
	*out = NULL;
	*outlen = 0;
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cprof_seterr(err, CPROF_EIO, "cannot open: %s", strerror(errno));
	int rc = 0;
	uint8_t *buf = NULL;
	size_t n = 0, cap, hard = cp_add(max, 1);
	struct stat st;
	if (fstat(fd, &st)) {
		rc = cprof_seterr(err, CPROF_EIO, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = cprof_seterr(err, CPROF_EIO, "cannot read: %s", strerror(EISDIR));
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t)st.st_size > max) {
			rc = cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", max);
			goto out;
		}
		cap = (size_t)st.st_size + 1;   /* +1 sees a file that grew */
	} else {
		cap = 64 * 1024;
	}
	if (cap > hard)
		cap = hard;
	if (!(buf = malloc(cap ? cap : 1))) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory reading input");
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= hard) {
				rc = cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", max);
				goto out;
			}
			size_t ncap = cp_mul(cap, 2);
			if (ncap > hard)
				ncap = hard;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory reading input");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t want = cap - n;
		ssize_t r = read(fd, buf + n, want > ((size_t)1 << 30) ? ((size_t)1 << 30) : want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = cprof_seterr(err, CPROF_EIO, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max)
		rc = cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", max);
out:
	if (!is_stdin)
		close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- format dispatch ----------------------------------------------------- */

/* Walk the top-level fields as profile.proto would have them.  Returns
 * whether the bytes look like a Profile message (several known fields with
 * the right wire types, or a complete walk that includes a string table);
 * *concat is set when a second time_nanos follows a nonzero one. */
static bool looks_like_proto(const uint8_t *p, size_t len, bool *concat)
{
	/* wire type each Profile field must have (13, comment, may be packed) */
	static const signed char want[16] = { -1, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, 0, -2, 0, 0 };
	const uint8_t *end = p + len;
	size_t known = 0, delimited = 0;
	bool strtab = false, had_time = false;
	*concat = false;
	while (p < end) {
		uint64_t tag = 0, v = 0;
		unsigned shift = 0;
		for (;;) {             /* tag varint */
			if (p >= end || shift > 63)
				return known >= 3 && delimited >= 1;
			tag |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
			if (!(*p++ & 0x80))
				break;
		}
		uint64_t field = tag >> 3;
		unsigned wt = (unsigned)(tag & 7);
		if (field == 0)
			break;
		if (wt == 0 || wt == 2) {
			shift = 0;
			for (;;) {
				if (p >= end || shift > 63)
					return known >= 3 && delimited >= 1;
				v |= (uint64_t)(*p & 0x7f) << shift;
				shift += 7;
				if (!(*p++ & 0x80))
					break;
			}
			if (wt == 2) {
				if (v > (uint64_t)(end - p))
					break;
				p += v;
			}
		} else if (wt == 1 || wt == 5) {
			size_t k = wt == 1 ? 8 : 4;
			if ((size_t)(end - p) < k)
				break;
			p += k;
		} else {
			break;
		}
		if (field < 16) {
			int w = want[field];
			if (w == -2 ? (wt != 0 && wt != 2) : (int)wt != w)
				break;
			known++;
			if (wt == 2)
				delimited++;
			if (field == 6)
				strtab = true;
			if (field == 9) {
				if (had_time) {
					*concat = true;
					return true;
				}
				had_time = v != 0;
			}
		}
	}
	return (known >= 3 && delimited >= 1) || (p == end && strtab);
}

typedef int (*legacy_fn)(const void *, size_t, cprof_profile **, cprof_error *);

static int decode_raw(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	if (len == 0)
		return cprof_seterr(err, CPROF_EEMPTY, "empty input file");
	cprof_error perr = { 0, "" };
	int rc = cprof_pb_decode(data, len, out, &perr);
	if (rc == 0)
		return 0;
	if (rc == CPROF_ENOMEM)
		return cprof_seterr(err, rc, "%s", perr.msg);
	bool concat;
	bool proto = looks_like_proto(data, len, &concat);
	if (concat)
		return cprof_seterr(err, CPROF_EFORMAT, "concatenated profiles detected");

	static const legacy_fn legacy[] = {
		cprof_legacy_gperf_cpu, cprof_legacy_heap, cprof_legacy_count,
		cprof_legacy_contention, cprof_folded_decode,
	};
	for (size_t i = 0; i < sizeof legacy / sizeof *legacy; i++) {
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
	if (proto)
		return cprof_seterr(err, rc, "%s", perr.msg);
	return cprof_seterr(err, CPROF_EUNKNOWN, "unrecognized profile format");
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
	if (!is_gzip(data, len))
		return decode_raw(data, len, out, err);

	/* The common case, gzip'd profile.proto, streams: cprof_pb_decode
	 * inflates window by window into the parser.  Anything else takes the
	 * slow path below, which inflates the whole input first, so gzip
	 * errors, legacy formats and the choice of message are handled in one
	 * place. */
	cprof_error serr = { 0, "" };
	int rc = cprof_pb_decode(data, len, out, &serr);
	if (rc == 0)
		return 0;
	if (rc == CPROF_ENOMEM || rc == CPROF_ELIMIT)
		return cprof_seterr(err, rc, "%s", serr.msg);
	void *raw;
	size_t rlen;
	rc = cprof_gunzip(data, len, CPROF_MAX_INPUT, &raw, &rlen, err);
	if (rc)
		return rc;
	rc = decode_raw(raw, rlen, out, err);
	free(raw);
	return rc;
}

int cprof_decode_file(const char *path, cprof_profile **out, cprof_error *err)
{
	if (!path || !out)
		return cprof_seterr(err, CPROF_EINVAL, "cprof_decode_file: bad arguments");
	*out = NULL;
	void *data;
	size_t len;
	int rc = cprof_read_file(path, CPROF_MAX_INPUT, &data, &len, err);
	if (rc)
		return rc;
	rc = cprof_decode(data, len, out, err);
	free(data);
	return rc;
}
