/*
 * pb_encode.c - the model as profile.proto, optionally gzip-compressed, and
 * writing it to a file.
 *
 * Output order is definitions before references: sample_type, string_table,
 * mapping, function, location, sample, then the scalar fields.  Any reader
 * accepts any order; this one lets a single-pass reader (ours included)
 * resolve every reference on sight and keeps index order on a round trip.
 *
 * Strings: only strings something refers to are written, in the model's id
 * order, so "" stays index 0 and a decoded profile (whose strings are all
 * referenced) round-trips to the same ids.  Ids: each of mappings, functions
 * and locations keeps the model's ids when they are all nonzero and unique,
 * and is renumbered 1..n otherwise (models built by hand or by legacy
 * parsers may not carry ids).  Repeated scalars are packed when there are two
 * or more (one element is shorter unpacked).
 *
 * Each top-level message is written into one growable buffer after reserving
 * an upper bound of its size, so the byte writers need no checks; a nested
 * message's length is written after its body, with a one-byte guess that is
 * widened by a memmove in the rare long case.  With gzip the buffer is
 * deflated and emptied whenever it passes CHUNK, so memory is the compressed
 * output plus about one chunk.
 *
 * Compression level 1: on profiles (highly repetitive varints and symbol
 * names) it is several times faster than zlib's default 6 for output only a
 * little larger, and writing -proto should not cost more than reading it.
 */
#include "core_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cprof_pbw.h"

#define CHUNK ((size_t)1 << 20)
#define GZ_LEVEL 1

enum { WT_VARINT = 0, WT_LEN = 2 };

typedef struct enc {
	const cprof_profile *p;
	cprof_error *err;
	int rc;
	uint8_t *b;
	size_t n, cap;
	bool gz, z_init;
	z_stream z;
	uint8_t *zb;
	size_t zn, zcap;
	uint32_t *smap;         /* model string id -> output index */
	size_t nstr;
	bool keep_map, keep_fn, keep_loc;
	uint64_t *lid;          /* location ids, dense (samples look them up) */
	CPROF_VEC(uint64_t) scratch;
} enc;

static int nomem(enc *e)
{
	if (!e->rc)
		e->rc = cprof_seterr(e->err, CPROF_ENOMEM, "out of memory encoding profile.proto");
	return e->rc;
}

static inline size_t vlen(uint64_t x)
{
	return 1 + (size_t)(63 - __builtin_clzll(x | 1)) / 7;
}

/* Room for k more bytes. */
static int ensure(enc *e, size_t k)
{
	size_t need = cp_add(e->n, k);
	if (need == SIZE_MAX || cp_reserve((void **)&e->b, &e->cap, need, 1))
		return nomem(e);
	return 0;
}

static inline void put_v(enc *e, uint64_t x)
{
	uint8_t *b = e->b + e->n;
	while (x >= 0x80) {
		*b++ = (uint8_t)x | 0x80;
		x >>= 7;
	}
	*b++ = (uint8_t)x;
	e->n = (size_t)(b - e->b);
}

static inline void put_tag(enc *e, unsigned field, unsigned wt)
{
	put_v(e, (uint64_t)field << 3 | wt);
}

static inline void put_u(enc *e, unsigned field, uint64_t x)
{
	put_tag(e, field, WT_VARINT);
	put_v(e, x);
}

static inline void put_opt(enc *e, unsigned field, uint64_t x)
{
	if (x)
		put_u(e, field, x);
}

/* Start a nested message: returns where its body begins. */
static inline size_t msg_begin(enc *e, unsigned field)
{
	put_tag(e, field, WT_LEN);
	e->n++;                 /* one byte for the length, usually enough */
	return e->n;
}

/* The space reserved for the message must include 9 spare bytes. */
static inline void msg_end(enc *e, size_t body)
{
	size_t len = e->n - body, k = vlen(len);
	if (k > 1) {
		memmove(e->b + body + k - 1, e->b + body, len);
		e->n += k - 1;
	}
	size_t save = e->n;
	e->n = body - 1;
	put_v(e, len);
	e->n = save;
}

/* Upper bound of a length-prefixed message with `fields` varint fields. */
static inline size_t bound(size_t fields) { return cp_add(11, cp_mul(fields, 11)); }

/* ---- gzip -------------------------------------------------------------- */

static int zpush(enc *e, int flush)
{
	size_t done = 0;
	int r;
	for (;;) {
		if (e->zcap - e->zn < 65536) {
			size_t ncap = e->zcap ? e->zcap * 2 : 256 * 1024;
			if (cp_reserve((void **)&e->zb, &e->zcap, ncap, 1))
				return nomem(e);
		}
		size_t in = e->n - done, out = e->zcap - e->zn;
		e->z.next_in = e->b + done;
		e->z.avail_in = (uInt)(in > UINT_MAX ? UINT_MAX : in);
		e->z.next_out = e->zb + e->zn;
		e->z.avail_out = (uInt)(out > UINT_MAX ? UINT_MAX : out);
		uInt ain = e->z.avail_in, aout = e->z.avail_out;
		int fl = (flush == Z_FINISH && in <= UINT_MAX) ? Z_FINISH : Z_NO_FLUSH;
		r = deflate(&e->z, fl);
		if (r == Z_STREAM_ERROR)
			return e->rc = cprof_seterr(e->err, CPROF_EIO, "gzip compression failed");
		done += ain - e->z.avail_in;
		e->zn += aout - e->z.avail_out;
		if (fl == Z_FINISH ? r == Z_STREAM_END : (done == e->n && e->z.avail_out > 0))
			break;
	}
	e->n = 0;
	return 0;
}

static int maybe_flush(enc *e)
{
	if (e->gz && e->n >= CHUNK)
		return zpush(e, Z_NO_FLUSH);
	return 0;
}

/* ---- tables ------------------------------------------------------------ */

static inline uint64_t S(const enc *e, cprof_str s)
{
	return s < e->nstr ? e->smap[s] : 0;
}

static inline void mark(enc *e, cprof_str s)
{
	if (s < e->nstr)
		e->smap[s] = 1;
}

static int build_strings(enc *e)
{
	const cprof_profile *p = e->p;
	e->nstr = cprof_nstrings(p);
	e->smap = calloc(e->nstr ? e->nstr : 1, sizeof *e->smap);
	if (!e->smap)
		return nomem(e);
	for (size_t i = 0; i < p->vtypes.n; i++) {
		mark(e, p->vtypes.v[i].type);
		mark(e, p->vtypes.v[i].unit);
	}
	for (size_t i = 0; i < p->mappings.n; i++) {
		mark(e, p->mappings.v[i].file);
		mark(e, p->mappings.v[i].build_id);
	}
	for (size_t i = 0; i < p->functions.n; i++) {
		mark(e, p->functions.v[i].name);
		mark(e, p->functions.v[i].system_name);
		mark(e, p->functions.v[i].filename);
	}
	for (size_t i = 0; i < p->lset_labels.n; i++) {
		mark(e, p->lset_labels.v[i].key);
		mark(e, p->lset_labels.v[i].str);
		mark(e, p->lset_labels.v[i].unit);
	}
	for (size_t i = 0; i < p->comments.n; i++)
		mark(e, p->comments.v[i]);
	mark(e, p->drop_frames);
	mark(e, p->keep_frames);
	mark(e, p->period_type.type);
	mark(e, p->period_type.unit);
	mark(e, p->default_sample_type);
	mark(e, p->doc_url);
	uint32_t next = 1;
	if (e->nstr)
		e->smap[0] = 0;
	for (size_t i = 1; i < e->nstr; i++)
		e->smap[i] = e->smap[i] ? next++ : 0;
	return 0;
}

/* Are the uint64 ids at byte offset idoff of n elements of size stride, from
 * base, all nonzero and unique? */
static int ids_usable(enc *e, const void *base, size_t n, size_t stride, size_t idoff,
		      bool *ok)
{
	*ok = true;
	if (n == 0)
		return 0;
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	uint64_t *set = calloc(cap, sizeof *set);
	if (!set)
		return nomem(e);
	for (size_t i = 0; i < n && *ok; i++) {
		uint64_t id;
		memcpy(&id, (const char *)base + i * stride + idoff, sizeof id);
		if (id == 0) {
			*ok = false;
			break;
		}
		size_t j = cp_hash_u64(id) & (cap - 1);
		while (set[j] && set[j] != id)
			j = (j + 1) & (cap - 1);
		if (set[j] == id)
			*ok = false;
		set[j] = id;
	}
	free(set);
	return 0;
}

static inline uint64_t map_id(const enc *e, uint32_t i)
{
	return e->keep_map ? e->p->mappings.v[i].id : (uint64_t)i + 1;
}
static inline uint64_t fn_id(const enc *e, uint32_t i)
{
	return e->keep_fn ? e->p->functions.v[i].id : (uint64_t)i + 1;
}
static inline uint64_t loc_id(const enc *e, uint32_t i)
{
	return e->lid[i];
}

static void put_vtype(enc *e, unsigned field, const cprof_vtype *vt)
{
	size_t b = msg_begin(e, field);
	put_opt(e, 1, S(e, vt->type));
	put_opt(e, 2, S(e, vt->unit));
	msg_end(e, b);
}

static int write_strings(enc *e)
{
	const cprof_profile *p = e->p;
	for (size_t i = 0; i < e->nstr; i++) {
		if (i && !e->smap[i])
			continue;
		size_t len = cprof_slen(p, (cprof_str)i);
		if (ensure(e, cp_add(len, 11)))
			return e->rc;
		put_tag(e, 6, WT_LEN);
		put_v(e, len);
		memcpy(e->b + e->n, cprof_s(p, (cprof_str)i), len);
		e->n += len;
		if (maybe_flush(e))
			return e->rc;
	}
	return 0;
}

static int write_mappings(enc *e)
{
	const cprof_profile *p = e->p;
	for (size_t i = 0; i < p->mappings.n; i++) {
		const cprof_mapping *m = &p->mappings.v[i];
		if (ensure(e, bound(10)))
			return e->rc;
		size_t b = msg_begin(e, 3);
		put_opt(e, 1, map_id(e, (uint32_t)i));
		put_opt(e, 2, m->start);
		put_opt(e, 3, m->limit);
		put_opt(e, 4, m->offset);
		put_opt(e, 5, S(e, m->file));
		put_opt(e, 6, S(e, m->build_id));
		put_opt(e, 7, m->has_functions);
		put_opt(e, 8, m->has_filenames);
		put_opt(e, 9, m->has_line_numbers);
		put_opt(e, 10, m->has_inline_frames);
		msg_end(e, b);
		if (maybe_flush(e))
			return e->rc;
	}
	return 0;
}

static int write_functions(enc *e)
{
	const cprof_profile *p = e->p;
	for (size_t i = 0; i < p->functions.n; i++) {
		const cprof_function *f = &p->functions.v[i];
		if (ensure(e, bound(5)))
			return e->rc;
		size_t b = msg_begin(e, 5);
		put_opt(e, 1, fn_id(e, (uint32_t)i));
		put_opt(e, 2, S(e, f->name));
		put_opt(e, 3, S(e, f->system_name));
		put_opt(e, 4, S(e, f->filename));
		put_opt(e, 5, (uint64_t)f->start_line);
		msg_end(e, b);
		if (maybe_flush(e))
			return e->rc;
	}
	return 0;
}

static int write_locations(enc *e)
{
	const cprof_profile *p = e->p;
	for (size_t i = 0; i < p->locations.n; i++) {
		const cprof_location *l = &p->locations.v[i];
		if (ensure(e, cp_add(bound(5), cp_mul(l->nline, bound(3)))))
			return e->rc;
		size_t b = msg_begin(e, 4);
		put_opt(e, 1, loc_id(e, (uint32_t)i));
		if (l->mapping != CPROF_NONE)
			put_opt(e, 2, map_id(e, l->mapping));
		put_opt(e, 3, l->address);
		for (uint32_t k = 0; k < l->nline; k++) {
			const cprof_line *ln = &p->lines.v[l->line_off + k];
			size_t lb = msg_begin(e, 4);
			put_opt(e, 1, fn_id(e, ln->function));
			put_opt(e, 2, (uint64_t)ln->line);
			put_opt(e, 3, (uint64_t)ln->column);
			msg_end(e, lb);
		}
		put_opt(e, 5, l->is_folded);
		msg_end(e, b);
		if (maybe_flush(e))
			return e->rc;
	}
	return 0;
}

static int write_samples(enc *e)
{
	const cprof_profile *p = e->p;
	size_t nv = p->vtypes.n;
	for (size_t i = 0; i < p->samples.n; i++) {
		const cprof_sample *s = &p->samples.v[i];
		size_t nl = cprof_stack_len(p, s->stack), nlab = cprof_lset_len(p, s->labels);
		/* (the accessors do pointer arithmetic: not on empty tables) */
		const uint32_t *locs = nl ? cprof_stack_locs(p, s->stack) : NULL;
		const int64_t *vals = nv ? cprof_sample_values(p, i) : NULL;
		const cprof_label *lab = nlab ? cprof_lset(p, s->labels) : NULL;
		size_t need = cp_add(cp_add(bound(2), cp_mul(cp_add(nl, nv), 10)), cp_mul(nlab, bound(4)));
		if (ensure(e, need))
			return e->rc;
		size_t b = msg_begin(e, 2);
		if (nl == 1) {
			put_u(e, 1, loc_id(e, locs[0]));
		} else if (nl > 1) {
			if (CP_RESERVE(e->scratch, nl))
				return nomem(e);
			uint64_t *ids = e->scratch.v;
			size_t len = 0;
			for (size_t k = 0; k < nl; k++) {
				ids[k] = loc_id(e, locs[k]);
				len += vlen(ids[k]);
			}
			put_tag(e, 1, WT_LEN);
			put_v(e, len);
			for (size_t k = 0; k < nl; k++)
				put_v(e, ids[k]);
		}
		if (nv == 1) {
			put_u(e, 2, (uint64_t)vals[0]);
		} else if (nv > 1) {
			size_t len = 0;
			for (size_t k = 0; k < nv; k++)
				len += vlen((uint64_t)vals[k]);
			put_tag(e, 2, WT_LEN);
			put_v(e, len);
			for (size_t k = 0; k < nv; k++)
				put_v(e, (uint64_t)vals[k]);
		}
		for (size_t k = 0; k < nlab; k++) {
			size_t lb = msg_begin(e, 3);
			put_opt(e, 1, S(e, lab[k].key));
			put_opt(e, 2, S(e, lab[k].str));
			put_opt(e, 3, (uint64_t)lab[k].num);
			put_opt(e, 4, S(e, lab[k].unit));
			msg_end(e, lb);
		}
		msg_end(e, b);
		if (maybe_flush(e))
			return e->rc;
	}
	return 0;
}

static int write_scalars(enc *e)
{
	const cprof_profile *p = e->p;
	if (ensure(e, cp_add(bound(12), cp_mul(p->comments.n, 10))))
		return e->rc;
	put_opt(e, 7, S(e, p->drop_frames));
	put_opt(e, 8, S(e, p->keep_frames));
	put_opt(e, 9, (uint64_t)p->time_nanos);
	put_opt(e, 10, (uint64_t)p->duration_nanos);
	if (S(e, p->period_type.type) || S(e, p->period_type.unit))
		put_vtype(e, 11, &p->period_type);
	put_opt(e, 12, (uint64_t)p->period);
	if (p->comments.n == 1) {
		put_u(e, 13, S(e, p->comments.v[0]));
	} else if (p->comments.n > 1) {
		size_t len = 0;
		for (size_t k = 0; k < p->comments.n; k++)
			len += vlen(S(e, p->comments.v[k]));
		put_tag(e, 13, WT_LEN);
		put_v(e, len);
		for (size_t k = 0; k < p->comments.n; k++)
			put_v(e, S(e, p->comments.v[k]));
	}
	put_opt(e, 14, S(e, p->default_sample_type));
	put_opt(e, 15, S(e, p->doc_url));
	return 0;
}

static int encode(enc *e)
{
	const cprof_profile *p = e->p;
	if (build_strings(e) ||
	    ids_usable(e, p->mappings.v, p->mappings.n, sizeof *p->mappings.v,
		       offsetof(cprof_mapping, id), &e->keep_map) ||
	    ids_usable(e, p->functions.v, p->functions.n, sizeof *p->functions.v,
		       offsetof(cprof_function, id), &e->keep_fn) ||
	    ids_usable(e, p->locations.v, p->locations.n, sizeof *p->locations.v,
		       offsetof(cprof_location, id), &e->keep_loc))
		return e->rc;
	e->lid = malloc(cp_mul(p->locations.n ? p->locations.n : 1, sizeof *e->lid));
	if (!e->lid)
		return nomem(e);
	for (size_t i = 0; i < p->locations.n; i++)
		e->lid[i] = e->keep_loc ? p->locations.v[i].id : (uint64_t)i + 1;
	if (e->gz) {
		if (deflateInit2(&e->z, GZ_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return nomem(e);
		e->z_init = true;
	}
	if (ensure(e, cp_mul(p->vtypes.n, bound(2))))
		return e->rc;
	for (size_t i = 0; i < p->vtypes.n; i++)
		put_vtype(e, 1, &p->vtypes.v[i]);
	if (write_strings(e) || write_mappings(e) || write_functions(e) ||
	    write_locations(e) || write_samples(e) || write_scalars(e))
		return e->rc;
	if (e->gz)
		return zpush(e, Z_FINISH);
	return 0;
}

int cprof_pb_encode(const cprof_profile *p, bool gz, void **buf, size_t *len,
		    cprof_error *err)
{
	if (!p || !buf || !len)
		return cprof_seterr(err, CPROF_EINVAL, "cprof_pb_encode: bad arguments");
	*buf = NULL;
	*len = 0;
	int rc = cprof_profile_check(p, err);
	if (rc)
		return rc;
	enc e = { .p = p, .err = err, .gz = gz };
	rc = encode(&e);
	if (e.z_init)
		deflateEnd(&e.z);
	free(e.smap);
	free(e.lid);
	CP_FREE(e.scratch);
	if (rc) {
		free(e.b);
		free(e.zb);
		return rc;
	}
	uint8_t *out = gz ? e.zb : e.b;
	size_t n = gz ? e.zn : e.n;
	free(gz ? e.b : e.zb);
	if (!out)               /* an empty raw encoding still gets a buffer */
		out = malloc(1);
	else if (n + n / 8 + 4096 < (gz ? e.zcap : e.cap)) {
		uint8_t *s = realloc(out, n ? n : 1);
		if (s)
			out = s;
	}
	if (!out)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory encoding profile.proto");
	*buf = out;
	*len = n;
	return 0;
}

/* ---- files --------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len, cprof_error *err)
{
	const char *b = buf;
	while (len) {
		ssize_t w = write(fd, b, len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return cprof_seterr(err, CPROF_EIO, "cannot write profile: %s", strerror(errno));
		}
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write to a temporary file next to path and rename it over path, so a
 * reader never sees half a profile.  Paths that are not regular files
 * (/dev/stdout, a FIFO) are written in place. */
static int write_atomic(const char *path, const void *buf, size_t len, cprof_error *err)
{
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0)
			return cprof_seterr(err, CPROF_EIO, "cannot open output: %s", strerror(errno));
		int rc = write_all(fd, buf, len, err);
		if (close(fd) && !rc)
			rc = cprof_seterr(err, CPROF_EIO, "cannot write profile: %s", strerror(errno));
		return rc;
	}
	static unsigned counter;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 64);
	if (!tmp)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 100; tries++) {
		snprintf(tmp, plen + 64, "%s.tmp%ld.%u", path, (long)getpid(),
			 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return cprof_seterr(err, CPROF_EIO, "cannot create output: %s", strerror(e));
	}
	int rc = write_all(fd, buf, len, err);
	if (close(fd) && !rc)
		rc = cprof_seterr(err, CPROF_EIO, "cannot write profile: %s", strerror(errno));
	if (!rc && rename(tmp, path))
		rc = cprof_seterr(err, CPROF_EIO, "cannot replace output: %s", strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int cprof_pb_write_file(const cprof_profile *p, const char *path, cprof_error *err)
{
	if (!p || !path)
		return cprof_seterr(err, CPROF_EINVAL, "cprof_pb_write_file: bad arguments");
	void *buf;
	size_t len;
	int rc = cprof_pb_encode(p, true, &buf, &len, err);
	if (rc)
		return rc;
	if (strcmp(path, "-") == 0) {
		fflush(stdout);         /* anything the caller printed goes first */
		rc = write_all(STDOUT_FILENO, buf, len, err);
	} else {
		rc = write_atomic(path, buf, len, err);
	}
	free(buf);
	return rc;
}

/* ---- a generic writer for other protobuf messages (cprof_pbw.h) -------- */

struct cprof_pbw {
	enc e;
};

cprof_pbw *cprof_pbw_new(void)
{
	return calloc(1, sizeof(cprof_pbw));
}

void cprof_pbw_free(cprof_pbw *w)
{
	if (!w)
		return;
	free(w->e.b);
	free(w);
}

static bool pbw_room(cprof_pbw *w, size_t k)
{
	if (w->e.rc)
		return false;
	if (ensure(&w->e, cp_add(k, 20)) < 0) {
		w->e.rc = CPROF_ENOMEM;
		return false;
	}
	return true;
}

void cprof_pbw_varint(cprof_pbw *w, unsigned field, uint64_t v)
{
	if (pbw_room(w, 0))
		put_u(&w->e, field, v);
}

void cprof_pbw_fixed64(cprof_pbw *w, unsigned field, uint64_t v)
{
	if (!pbw_room(w, 8))
		return;
	put_tag(&w->e, field, 1);
	for (int i = 0; i < 8; i++)
		w->e.b[w->e.n++] = (uint8_t)(v >> (8 * i));
}

void cprof_pbw_double(cprof_pbw *w, unsigned field, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	cprof_pbw_fixed64(w, field, v);
}

void cprof_pbw_bytes(cprof_pbw *w, unsigned field, const void *p, size_t n)
{
	if (!pbw_room(w, n))
		return;
	put_tag(&w->e, field, WT_LEN);
	put_v(&w->e, n);
	if (n)
		memcpy(w->e.b + w->e.n, p, n);
	w->e.n += n;
}

size_t cprof_pbw_begin(cprof_pbw *w, unsigned field)
{
	if (!pbw_room(w, 0))
		return 0;
	return msg_begin(&w->e, field);
}

void cprof_pbw_end(cprof_pbw *w, size_t body)
{
	if (!body || !pbw_room(w, 10))   /* msg_end moves the body by up to 9 bytes */
		return;
	msg_end(&w->e, body);
}

int cprof_pbw_take(cprof_pbw *w, void **buf, size_t *len)
{
	if (w->e.rc)
		return w->e.rc;
	*buf = w->e.b;
	*len = w->e.n;
	w->e.b = NULL;
	w->e.n = w->e.cap = 0;
	return 0;
}
