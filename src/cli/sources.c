/*
 * sources.c - turn the command line's sources into the profile to report on,
 * as Go 1.19's pprof fetchProfiles does.
 *
 * Every source is decoded, then given what pprof's locateBinaries gives it
 * (with no local binaries to look up): a fake mapping {ID 1} holding every
 * location when it has none, and the [binary] or build-ID override on its
 * first mapping.  Then the core's cprof_combine (combine.c) applies
 * pprof's policy: the sources merged (a single one alone, in place: equal
 * samples combine, zero samples and unused mappings go, ids are
 * renumbered), the bases likewise, -diff_base's label, -normalize, the base
 * subtracted; this file only words its errors.  The result is symbolized
 * (symbolize.c) and -add_comment appends a comment.  URL sources come
 * through fetch.c.
 *
 * Unlike pprof, which goes on with the sources it could read, any source
 * that fails to decode stops the command: a merge that silently lost an
 * input would report wrong numbers.
 */
#include "cli.h"
#include "cprof_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The [binary] and build-ID overrides of the command line. */
typedef struct overrides {
	const char *exec, *buildid;
	const cli_opts *o;
} overrides;

/* The rest of pprof's locateBinaries, on each source and base as it is
 * read: a profile without mappings gets a fake one, {ID 1} and all else
 * zero, that every location points to (pprof adds it to attempt
 * symbolization; it shows in -raw, and merging keys locations by it); then
 * the overrides go on the first mapping, which is the main binary. */
static void locate_binaries(cprof_profile *p, const overrides *ov)
{
	if (p->mappings.n == 0) {
		cprof_mapping m = { .id = 1 };
		if (cprof_add_mapping(p, &m) < 0)
			cli_die("out of memory");
		for (size_t i = 0; i < p->locations.n; i++)
			p->locations.v[i].mapping = 0;
	}
	cprof_str s;
	if (ov->exec) {
		if ((s = cprof_intern_cstr(p, ov->exec)) == CPROF_NONE)
			cli_die("out of memory");
		p->mappings.v[0].file = s;
	}
	if (ov->buildid) {
		if ((s = cprof_intern_cstr(p, ov->buildid)) == CPROF_NONE)
			cli_die("out of memory");
		p->mappings.v[0].build_id = s;
	}
}

/* A source that is not a URL: opened and read once, as a stream, whatever
 * it is (regular file, pipe, FIFO, /dev/stdin, <(process substitution), a
 * device): its first 8 bytes tell perf.data (perf.c) from the rest, and are
 * handed on, never read again. */
static cprof_profile *load_file(const char *src)
{
	bool is_stdin = strcmp(src, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		cli_die("%s: cannot open: %s", src, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		cli_die("%s: cannot stat: %s", src, strerror(errno));
	if (S_ISDIR(st.st_mode))
		cli_die("%s: cannot read: %s", src, strerror(EISDIR));
	char head[8];
	size_t n = 0;
	while (n < sizeof head) {
		ssize_t r = read(fd, head + n, sizeof head - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			cli_die("%s: cannot read: %s", src, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	cprof_profile *p = NULL;
	if (n == 8 && memcmp(head, CLI_PERF_MAGIC, 8) == 0) {
		p = S_ISREG(st.st_mode) ? cli_perf_load_fd(src, fd)
					: cli_perf_load_stream(src, fd, head, n);
	} else {
		cprof_error err = { 0 };
		int rc = cprof_decode_fd(fd, head, n, &p, &err);
		if (rc < 0)
			cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	}
	if (!is_stdin)
		close(fd);
	return p;
}

/* -trace_pprof=KIND: an execution trace (trace.json) read whole, as the
 * delay profile of that kind of wait (src/core/trace_read.c). */
static cprof_profile *load_trace(const char *src, const char *kind)
{
	cprof_trace_kind k;
	if (cprof_trace_kind_parse(kind, &k) < 0)
		cli_die("-trace_pprof=%s: want sync, syscall, sched or cpu", kind);
	void *data = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	int rc = cprof_read_file(strcmp(src, "-") == 0 ? "/dev/stdin" : src, cprof_mem_limit(), &data,
				 &len, &err);
	if (rc < 0)
		cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	cprof_profile *p = NULL;
	rc = cprof_trace_pprof(data, len, k, &p, &err);
	free(data);
	if (rc < 0)
		cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	return p;
}

int cli_trace_convert(const cli_opts *o)
{
	if (strcmp(o->trace_convert, "perfetto") != 0)
		cli_die("-trace_convert=%s: want perfetto", o->trace_convert);
	if (o->nsources != 1)
		cli_die("-trace_convert: one trace at a time (got %zu sources)", (size_t)o->nsources);
	if (!o->r.output || !*o->r.output)
		cli_die("-trace_convert: -output=FILE is needed (the Perfetto trace is binary)");
	const char *src = o->sources[0];
	void *data = NULL, *pb = NULL;
	size_t len = 0, pblen = 0;
	cprof_error err = { 0 };
	int rc = cprof_read_file(strcmp(src, "-") == 0 ? "/dev/stdin" : src, cprof_mem_limit(), &data,
				 &len, &err);
	if (rc < 0)
		cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	rc = cprof_trace_perfetto(data, len, &pb, &pblen, &err);
	free(data);
	if (rc < 0)
		cli_die("%s: %s", src, err.code ? err.msg : cprof_strerror(rc));
	FILE *f = fopen(o->r.output, "wb");
	if (!f)
		cli_die("%s: %s", o->r.output, strerror(errno));
	if (fwrite(pb, 1, pblen, f) != pblen || fclose(f) != 0)
		cli_die("writing %s: %s", o->r.output, strerror(errno));
	free(pb);
	return 0;
}

static cprof_profile *load_one(const char *src, const overrides *ov)
{
	cprof_profile *p = NULL;
	if (ov->o->trace_pprof) {
		p = load_trace(src, ov->o->trace_pprof);
	} else if (cli_is_url(src)) {
		p = cli_fetch_profile(ov->o, src);
	} else {
		p = load_file(src);
	}
	locate_binaries(p, ov);
	return p;
}

/* The line for a failed cprof_combine, in the command's wording. */
static _Noreturn void combine_die(const cli_opts *o, const char *const *srcs, size_t n,
				  cprof_combine_stage st, int rc, const cprof_error *err)
{
	const char *msg = err->code ? err->msg : cprof_strerror(rc);
	switch (st) {
	case CPROF_STAGE_SOURCES:
	case CPROF_STAGE_BASES: {
		const char *const *names = st == CPROF_STAGE_SOURCES ? srcs : o->bases;
		size_t k = st == CPROF_STAGE_SOURCES ? n : o->nbases;
		if (k == 1)
			cli_die("%s: %s", names[0], msg);
		cli_die("merging %zu profiles: %s", k, msg);
	}
	case CPROF_STAGE_NORMALIZE:
		cli_die("-normalize: %s", msg);
	case CPROF_STAGE_SUBTRACT:
		cli_die("subtracting the base profile: %s", msg);
	default:
		cli_die("%s", rc == CPROF_ENOMEM ? "out of memory" : msg);
	}
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* A regular file that starts with ELF's magic (a stream is never looked
 * at: reading it would take bytes from a profile source). */
static bool is_elf(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	unsigned char m[4] = { 0 };
	size_t n = fread(m, 1, 4, f);
	fclose(f);
	return n == 4 && memcmp(m, "\x7f" "ELF", 4) == 0;
}

/* The sources as the command reads them: an executable or build id first
 * (with more than one source) is not a profile but an override. */
static const char *const *profile_sources(const cli_opts *o, size_t *n, overrides *ov)
{
	const char *const *srcs = o->sources;
	*n = o->nsources;
	ov->exec = NULL;
	ov->buildid = o->buildid;
	ov->o = o;
	if (*n > 1) {
		if (is_elf(srcs[0])) {
			ov->exec = srcs[0];
			srcs++, (*n)--;
		} else if (!ov->buildid && is_hex(srcs[0])) {
			ov->buildid = srcs[0];
			srcs++, (*n)--;
		}
	}
	return srcs;
}

/* Every source and base read, before any is combined: ps[0..n) the
 * sources, ps[n..n+nbases) the bases.  A source that cannot be read stops
 * the command (load_one dies).  The caller owns the array and profiles. */
static cprof_profile **read_all(const cli_opts *o, const char *const *srcs, size_t n,
				const overrides *ov)
{
	cprof_profile **ps = calloc(n + o->nbases, sizeof *ps);
	if (!ps)
		cli_die("out of memory");
	for (size_t i = 0; i < n; i++)
		ps[i] = load_one(srcs[i], ov);
	for (size_t i = 0; i < o->nbases; i++)
		ps[n + i] = load_one(o->bases[i], ov);
	return ps;
}

/* ps[0..n) combined with the bases ps[n..n+nb) (taken), symbolized and
 * checked: the profile a report reads.  srcs name ps for the messages. */
static cprof_profile *finish(const cli_opts *o, const char *const *srcs, size_t n,
			     cprof_profile **ps, size_t nb)
{
	cprof_profile *p = NULL;
	cprof_combine_stage st = CPROF_STAGE_ARGS;
	cprof_combine_opts co = {
		.mode = o->diff_base ? CPROF_COMBINE_DIFF_BASE : CPROF_COMBINE_BASE,
		.normalize = o->normalize,
		.stage = &st,
	};
	cprof_error cerr = { 0 };
	int rc = cprof_combine(ps, n, ps + n, nb, &co, &p, &cerr);
	if (rc < 0)
		combine_die(o, srcs, n, st, rc, &cerr);
	/* pprof symbolizes the merged profile (-symbolize, default local then
	 * remote for URL sources) */
	cli_symbolize(p, o);
	if (o->add_comment) {
		cprof_str c = cprof_intern_cstr(p, o->add_comment);
		if (c == CPROF_NONE || cprof_add_comment(p, c) < 0)
			cli_die("out of memory");
	}
	cprof_error err = { 0 };
	if (cprof_profile_check(p, &err) < 0)
		cli_die("%s: %s", srcs[0], err.msg);
	return p;
}

cprof_profile *cli_load(const cli_opts *o)
{
	overrides ov;
	size_t n;
	const char *const *srcs = profile_sources(o, &n, &ov);
	cprof_profile **ps = read_all(o, srcs, n, &ov);
	cprof_profile *p = finish(o, srcs, n, ps, o->nbases);
	free(ps);
	return p;
}

void cli_load_sides(const cli_opts *o, cprof_profile **p, cprof_profile **pnew,
		    cprof_profile **pbase)
{
	overrides ov;
	size_t n;
	const char *const *srcs = profile_sources(o, &n, &ov);
	cprof_profile **ps = read_all(o, srcs, n, &ov);
	size_t nb = o->nbases;
	cprof_profile **side = calloc(n + nb, sizeof *side);
	if (!side)
		cli_die("out of memory");
	for (size_t i = 0; i < n + nb; i++)
		if (!(side[i] = cprof_profile_dup(ps[i])))
			cli_die("out of memory");
	*pnew = finish(o, srcs, n, side, 0);
	*pbase = nb ? finish(o, o->bases, nb, side + n, 0) : NULL;
	*p = finish(o, srcs, n, ps, nb);
	free(side);
	free(ps);
}
