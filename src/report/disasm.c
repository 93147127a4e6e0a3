/*
 * disasm.c - the -disasm=RE report: annotated assembly, as pprof's
 * PrintAssembly (internal/report/report.go) prints it with its binutils
 * back end (internal/binutils).
 *
 * Why objdump and nm rather than a disassembler library.  pprof itself runs
 * `nm -n` for the symbol ranges and `objdump --disassemble --demangle
 * --no-show-raw-insn --line-numbers --start-address --stop-address` for the
 * instructions, so doing the same gives its output exactly: the same AT&T
 * (or, with -intel_syntax, `-M intel`) text, the same demangled names and
 * the same file:line annotations from DWARF, inline frames included, for
 * every architecture binutils knows.  capstone would give us instruction
 * text only, in its own spelling, and the line information would still
 * have to come from libdw.  The tools run under posix_spawnp with an
 * argument vector (no shell: file names come from the profile), their
 * output is read with a bound (OUT_MAX), and an absent objdump is one
 * error line.
 *
 * How it works.  report.c has already switched to address granularity
 * without inlines and with trimming off.  The graph's nodes are split by the
 * mapping (object file) they come from; a mapping is examined when one of
 * its nodes matches the regexp (by printable name -- or has no function
 * name at all, so that a profile not yet symbolized still works, which
 * pprof's "matching samples" shortcut does not need since it symbolizes
 * first), or when the regexp parses as an address inside it.  Its symbols
 * come from `nm -n`, names at one address grouped, each group ending where
 * the next begins; a group matches when the address falls in it (then all
 * its names are shown, the rest as "AKA" lines) or when one of its names
 * matches, mangled or demangled (`nm -C`, with and without the parameter
 * list).  Sample addresses are turned into file addresses with the
 * mapping's load bias, computed from the ELF program headers the way pprof's
 * elfexec.GetBase does (start - offset + p_offset - p_vaddr of the PT_LOAD
 * segment the mapping covers); unlike pprof, which takes the bias from the
 * first node it is asked about whatever its mapping, only nodes inside the
 * mapping are considered, so position-independent executables work.  Every
 * symbol with samples is disassembled, samples are summed onto the
 * instruction at or before their address, and the report is written to
 * memory first: on an error nothing of it is printed, as pprof discards its
 * buffered output.
 */
#include "graph.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX ((size_t)512 << 20)     /* bytes read from nm or objdump */

/* ---- running a tool ------------------------------------------------------------- */

/* Run argv (found on PATH) and collect its standard output (at most OUT_MAX
 * bytes; stderr is discarded).  Returns 0 with *out malloc'd and
 * NUL-terminated, 1 when the program could not be started or failed, or
 * CPROF_ENOMEM. */
static int run_tool(char *const argv[], char **out, size_t *outlen)
{
	int pfd[2];
	*out = NULL;
	*outlen = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		return 1;
	}
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int res = 0;
	for (;;) {
		if (cap - n < 65536) {
			if (cap >= OUT_MAX) {
				res = 1;        /* too much output: refuse it */
				break;
			}
			size_t ncap = cap ? cap * 2 : 1 << 16;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				res = CPROF_ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(pfd[0], buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(pfd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (res == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		res = 1;
	if (res != 0) {
		free(buf);
		return res;
	}
	if (!buf && !(buf = malloc(1)))
		return CPROF_ENOMEM;
	buf[n] = 0;
	*out = buf;
	*outlen = n;
	return 0;
}

/* The next line of text (NUL-terminated in place), trimmed of surrounding
 * white space; NULL at the end. */
static char *next_line(char **cur)
{
	char *s = *cur;
	if (!s || !*s)
		return NULL;
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = 0;
		*cur = nl + 1;
	} else {
		*cur = s + strlen(s);
	}
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
			 s[n - 1] == '\v' || s[n - 1] == '\f'))
		s[--n] = 0;
	return s;
}

static bool is_xdigit(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* A run of hex digits at s as a 64-bit value; false when empty or too long. */
static bool parse_hex(const char *s, size_t n, uint64_t *v)
{
	if (n == 0 || n > 16)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		x = x << 4 | (uint64_t)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
	}
	*v = x;
	return true;
}

/* ---- ELF: the load bias of a mapping --------------------------------------------- */

typedef struct elf_seg {
	uint64_t off, vaddr, filesz, memsz;
} elf_seg;

/* Read the ELF type and PT_LOAD segments of path.  Returns 0, or 1 with why
 * set (not ELF, unreadable). */
static int elf_load_segments(const char *path, int *type, elf_seg *segs, size_t *nseg,
			     size_t maxseg, char *why, size_t whyn)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whyn, "open %s: %s", path, strerror(errno));
		return 1;
	}
	unsigned char id[EI_NIDENT];
	int rc = 1;
	*nseg = 0;
	if (pread(fd, id, sizeof id, 0) != (ssize_t)sizeof id || memcmp(id, ELFMAG, SELFMAG) != 0) {
		snprintf(why, whyn, "error parsing %s: bad magic number", path);
		goto out;
	}
	if (id[EI_DATA] != ELFDATA2LSB && id[EI_DATA] != ELFDATA2MSB)
		goto bad;
	bool be = id[EI_DATA] == ELFDATA2MSB;
#define FIX16(x) (be ? __builtin_bswap16(x) : (x))
#define FIX32(x) (be ? __builtin_bswap32(x) : (x))
#define FIX64(x) (be ? __builtin_bswap64(x) : (x))
	if (id[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;
		if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
			goto bad;
		*type = FIX16(eh.e_type);
		uint64_t phoff = FIX64(eh.e_phoff);
		unsigned phnum = FIX16(eh.e_phnum), phent = FIX16(eh.e_phentsize);
		if (phent < sizeof(Elf64_Phdr) && phnum)
			goto bad;
		for (unsigned i = 0; i < phnum && i < 4096; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof ph, (off_t)(phoff + (uint64_t)i * phent)) !=
			    (ssize_t)sizeof ph)
				goto bad;
			if (FIX32(ph.p_type) != PT_LOAD || *nseg >= maxseg)
				continue;
			segs[(*nseg)++] = (elf_seg){ FIX64(ph.p_offset), FIX64(ph.p_vaddr),
						     FIX64(ph.p_filesz), FIX64(ph.p_memsz) };
		}
	} else if (id[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;
		if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
			goto bad;
		*type = FIX16(eh.e_type);
		uint64_t phoff = FIX32(eh.e_phoff);
		unsigned phnum = FIX16(eh.e_phnum), phent = FIX16(eh.e_phentsize);
		if (phent < sizeof(Elf32_Phdr) && phnum)
			goto bad;
		for (unsigned i = 0; i < phnum && i < 4096; i++) {
			Elf32_Phdr ph;
			if (pread(fd, &ph, sizeof ph, (off_t)(phoff + (uint64_t)i * phent)) !=
			    (ssize_t)sizeof ph)
				goto bad;
			if (FIX32(ph.p_type) != PT_LOAD || *nseg >= maxseg)
				continue;
			segs[(*nseg)++] = (elf_seg){ FIX32(ph.p_offset), FIX32(ph.p_vaddr),
						     FIX32(ph.p_filesz), FIX32(ph.p_memsz) };
		}
	} else {
		goto bad;
	}
#undef FIX16
#undef FIX32
#undef FIX64
	rc = 0;
	goto out;
bad:
	snprintf(why, whyn, "error parsing %s: malformed ELF header", path);
out:
	close(fd);
	return rc;
}

/* elfexec.GetBase for an executable or shared object: the bias to subtract
 * from a sample address to get the address objdump and nm use. */
static uint64_t mapping_base(const cprof_mapping *m, int type, const elf_seg *segs, size_t nseg)
{
	if (m->start == 0 && m->offset == 0 && (m->limit == 0 || m->limit == UINT64_MAX))
		return 0;
	/* the PT_LOAD segment holding the mapping's file offset */
	const elf_seg *ph = NULL;
	for (size_t i = 0; i < nseg; i++) {
		if (segs[i].filesz == 0)
			continue;
		uint64_t aligned = segs[i].off & ~(uint64_t)4095;
		if (m->offset >= aligned && m->offset < segs[i].off + segs[i].memsz) {
			ph = &segs[i];
			break;
		}
	}
	if (type == ET_EXEC) {
		if (!ph)
			return 0;
		if (m->start > 0 && m->start < (UINT64_C(1) << 63))
			return m->start - m->offset + ph->off - ph->vaddr;
		return m->start == 0 && m->limit != 0 ? m->start - ph->vaddr : 0;
	}
	if (type == ET_REL)
		return m->start;
	if (!ph)
		return m->start - m->offset;
	return m->start - m->offset + ph->off - ph->vaddr;
}

/* ---- symbols (nm -n) ------------------------------------------------------------- */

typedef struct dsym {
	uint64_t start, end;    /* [start, end], end = next symbol's address - 1 */
	char **names;           /* names[0] is printed; the others are AKA lines */
	size_t nnames;
	uint32_t mapping;
	uint64_t base;
	uint32_t *nodes;        /* graph node indices inside [start, end) */
	size_t nnodes;
} dsym;

typedef struct dsyms {
	dsym *v;
	size_t n, cap;
} dsyms;

static void dsym_free(dsym *s)
{
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i]);
	free(s->names);
	free(s->nodes);
}

/* nm's line: "ADDR TYPE NAME"; false for lines without an address. */
static bool nm_parse(char *line, uint64_t *addr, char **name)
{
	size_t h = 0;
	while (is_xdigit(line[h]))
		h++;
	if (h == 0 || !is_space(line[h]) || !parse_hex(line, h, addr))
		return false;
	char *s = line + h;
	while (is_space(*s))
		s++;
	if (!*s)
		return false;
	s++;                    /* the type letter */
	if (!is_space(*s))
		return false;
	while (is_space(*s))
		s++;
	*name = s;
	return true;
}

/* "ns::f(int) const" without its parameter list: "ns::f". */
static char *strip_params(const char *d)
{
	size_t n = strlen(d);
	if (n == 0)
		return NULL;
	/* find the '(' that opens the last top-level parenthesised group */
	ssize_t depth = 0, i;
	ssize_t end = (ssize_t)n - 1;
	while (end >= 0 && d[end] != ')')
		end--;
	if (end < 0)
		return NULL;
	for (i = end; i >= 0; i--) {
		if (d[i] == ')')
			depth++;
		else if (d[i] == '(' && --depth == 0)
			break;
	}
	if (i <= 0)
		return NULL;
	return strndup(d, (size_t)i);
}

typedef struct nm_group {
	char **raw, **dem;
	size_t n, cap;
	uint64_t start;
} nm_group;

/* matchSymbol: the names to show for a group, or NULL. */
static int group_match(nm_group *g, uint64_t end, cpr_regex *rx, bool have_addr, uint64_t addr,
		       char ***names, size_t *nnames)
{
	*names = NULL;
	*nnames = 0;
	if (g->n == 0)
		return 0;
	if (have_addr && addr != 0 && addr >= g->start && addr <= end) {
		char **v = calloc(g->n, sizeof *v);
		if (!v)
			return CPROF_ENOMEM;
		for (size_t i = 0; i < g->n; i++)
			if (!(v[i] = strdup(g->raw[i]))) {
				*names = v;
				*nnames = i;
				return CPROF_ENOMEM;
			}
		*names = v;
		*nnames = g->n;
		return 0;
	}
	for (size_t i = 0; i < g->n; i++) {
		const char *pick = NULL;
		char *alt = NULL;
		if (cpr_regex_match(rx, g->raw[i], strlen(g->raw[i]))) {
			pick = g->raw[i];
		} else if (g->dem[i] && strcmp(g->dem[i], g->raw[i]) != 0) {
			/* demangle.NoClones: c++filt's " [clone .constprop.0]" dropped */
			char *clone = strstr(g->dem[i], " [clone ");
			if (clone)
				*clone = 0;
			if (cpr_regex_match(rx, g->dem[i], strlen(g->dem[i]))) {
				pick = g->dem[i];
			} else if ((alt = strip_params(g->dem[i])) &&
				   cpr_regex_match(rx, alt, strlen(alt))) {
				pick = alt;
			}
		}
		if (pick) {
			char **v = malloc(sizeof *v);
			char *s = strdup(pick);
			free(alt);
			if (!v || !s) {
				free(v);
				free(s);
				return CPROF_ENOMEM;
			}
			v[0] = s;
			*names = v;
			*nnames = 1;
			return 0;
		}
		free(alt);
	}
	return 0;
}

static int add_symbol(dsyms *out, nm_group *g, uint64_t end, cpr_regex *rx, bool have_addr,
		      uint64_t addr, uint32_t mapping, uint64_t base)
{
	char **names;
	size_t nn;
	int rc = group_match(g, end, rx, have_addr, addr, &names, &nn);
	if (rc == 0 && nn == 0)
		return 0;
	if (rc == 0 && CPR_RESERVE(*out, out->n + 1) < 0)
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		for (size_t i = 0; i < nn; i++)
			free(names[i]);
		free(names);
		return rc;
	}
	out->v[out->n++] = (dsym){ .start = g->start, .end = end, .names = names, .nnames = nn,
				   .mapping = mapping, .base = base };
	return 0;
}

/* findSymbols over the output of `nm -n` (raw, modified in place) and of
 * `nm -n -C` (dem, the demangled names line for line; may be NULL). */
static int parse_nm(char *raw, char *dem, cpr_regex *rx, bool have_addr, uint64_t addr,
		    uint32_t mapping, uint64_t base, dsyms *out)
{
	int rc = 0;
	nm_group g = { 0 };
	char *rc1 = raw, *rc2 = dem;
	for (;;) {
		char *l1 = next_line(&rc1), *l2 = dem ? next_line(&rc2) : NULL;
		uint64_t a, a2;
		char *name, *dname = NULL;
		if (!l1) {
			/* the last group ends at address 0 - 1, as pprof's does */
			rc = add_symbol(out, &g, UINT64_MAX, rx, have_addr, addr, mapping, base);
			break;
		}
		if (!nm_parse(l1, &a, &name))
			continue;
		if (l2 && nm_parse(l2, &a2, &dname) && a2 != a)
			dname = NULL;
		if (g.n && a == g.start) {
			/* same address: one more name in the group */
		} else {
			rc = add_symbol(out, &g, a - 1, rx, have_addr, addr, mapping, base);
			if (rc < 0)
				break;
			g.n = 0;
			g.start = a;
		}
		if (g.n == g.cap) {
			size_t ncap = g.cap ? g.cap * 2 : 8;
			char **r = realloc(g.raw, ncap * sizeof *r);
			if (!r) {
				rc = CPROF_ENOMEM;
				break;
			}
			g.raw = r;
			char **d = realloc(g.dem, ncap * sizeof *d);
			if (!d) {
				rc = CPROF_ENOMEM;
				break;
			}
			g.dem = d;
			g.cap = ncap;
		}
		g.raw[g.n] = name;      /* both point into the tool outputs */
		g.dem[g.n++] = dname;
	}
	free(g.raw);
	free(g.dem);
	return rc;
}

/* The symbols of file matching rx (pprof's Symbols through nm). */
static int find_symbols(const char *file, cpr_regex *rx, bool have_addr, uint64_t addr,
			uint32_t mapping, uint64_t base, dsyms *out)
{
	char *raw = NULL, *dem = NULL;
	size_t rawn, demn;
	char *argv1[] = { "nm", "-n", (char *)file, NULL };
	int rc = run_tool(argv1, &raw, &rawn);
	if (rc != 0)
		return rc < 0 ? rc : 0;     /* pprof skips a binary nm fails on */
	char *argv2[] = { "nm", "-n", "-C", (char *)file, NULL };
	if (run_tool(argv2, &dem, &demn) < 0) {
		free(raw);
		return CPROF_ENOMEM;
	}
	rc = parse_nm(raw, dem, rx, have_addr, addr, mapping, base, out);
	free(raw);
	free(dem);
	return rc;
}

/* ---- instructions (objdump) ------------------------------------------------------ */

typedef struct dinst {
	uint64_t addr;
	const char *text, *func, *file;  /* into the objdump output */
	int64_t line;
} dinst;

typedef struct dinsts {
	dinst *v;
	size_t n, cap;
} dinsts;

/* pprof's disassemble(): parse objdump's output, in place. */
static int parse_objdump(char *out, dinsts *is)
{
	const char *func = "", *file = "";
	int64_t line = 0;
	char *cur = out, *s;
	while ((s = next_line(&cur))) {
		/* "ADDR:<space>TEXT" */
		size_t h = 0;
		while (is_xdigit(s[h]))
			h++;
		uint64_t a;
		if (h > 0 && s[h] == ':' && is_space(s[h + 1]) && parse_hex(s, h, &a)) {
			char *t = s + h + 1;
			while (is_space(*t))
				t++;
			if (CPR_RESERVE(*is, is->n + 1) < 0)
				return CPROF_ENOMEM;
			is->v[is->n++] = (dinst){ a, t, func, file, line };
			continue;
		}
		/* ";? ?FILE:LINE..." (the last ':' followed by digits) */
		char *p = s;
		if (*p == ';')
			p++;
		if (is_space(*p))
			p++;
		char *colon = NULL;
		for (char *q = p; *q; q++)
			if (q[0] == ':' && q[1] >= '0' && q[1] <= '9')
				colon = q;
		if (colon) {
			char *d = colon + 1, *e = d;
			uint64_t v = 0;
			bool ok = true;
			while (*e >= '0' && *e <= '9') {
				v = v * 10 + (uint64_t)(*e - '0');
				if (v > UINT32_MAX)
					ok = false;
				e++;
			}
			if (ok) {
				*colon = 0;
				file = p;
				line = (int64_t)v;
			}
			continue;
		}
		/* ";? ?NAME():" (non-space first) */
		char *fn = strstr(p, "():");
		if (fn && *p && !is_space(*p)) {
			char *last = fn;
			while ((fn = strstr(fn + 1, "():")))
				last = fn;
			*last = 0;
			func = p;
			continue;
		}
		/* llvm-objdump's "[ADDR ]NAME:" */
		char *lc = strrchr(s, ':');
		if (lc) {
			char *q = s;
			while (is_xdigit(*q))
				q++;
			if (is_space(*q))
				q++;
			if (q > lc)     /* cannot happen: hex digits are not ':' */
				q = lc;
			*lc = 0;
			func = q;
			continue;
		}
		func = "";
		file = "";
		line = 0;
	}
	return 0;
}

/* For fuzz_disasm: both parsers over text (as objdump's output, then as
 * nm's with itself as the demangled listing). */
int cpr_disasm_parse(const char *text, size_t len, const char *re, cprof_error *err)
{
	cpr_regex *rx = cpr_regex_compile(re, "parsing argument regexp", err);
	if (!rx)
		return err && err->code ? err->code : CPROF_EINVAL;
	char *a = malloc(len + 1), *b = malloc(len + 1), *d = malloc(len + 1);
	dinsts is = { 0 };
	dsyms ss = { 0 };
	int rc = CPROF_ENOMEM;
	if (a && b && d) {
		memcpy(a, text, len);
		memcpy(b, text, len);
		memcpy(d, text, len);
		a[len] = b[len] = d[len] = 0;
		rc = parse_objdump(a, &is);
		if (rc == 0)
			rc = parse_nm(b, d, rx, len > 0, len, 0, 0, &ss);
		if (rc == 0)
			rc = cpr_regex_status(rx, err);
		if (rc == 0)
			rc = (int)(is.n + ss.n > INT32_MAX ? INT32_MAX : is.n + ss.n);
	}
	for (size_t i = 0; i < ss.n; i++)
		dsym_free(&ss.v[i]);
	free(ss.v);
	free(is.v);
	free(a);
	free(b);
	free(d);
	cpr_regex_free(rx);
	return rc;
}

/* ---- the report ------------------------------------------------------------------ */

typedef struct sort_arg {
	const cpr_graph *g;
} sort_arg;

static int cmp_addr(const void *a, const void *b, void *arg)
{
	const cpr_graph *g = ((const sort_arg *)arg)->g;
	const cpr_ninfo *x = &g->infos.v[g->nodes[*(const uint32_t *)a].info];
	const cpr_ninfo *y = &g->infos.v[g->nodes[*(const uint32_t *)b].info];
	if (x->address != y->address)
		return x->address < y->address ? -1 : 1;
	return cpr_info_cmp_full(&g->infos, g->nodes[*(const uint32_t *)a].info,
				 g->nodes[*(const uint32_t *)b].info);
}

static int cmp_syms(const void *a, const void *b)
{
	const dsym *x = a, *y = b;
	int r = strcmp(x->names[0], y->names[0]);
	if (r)
		return r;
	return x->start < y->start ? -1 : x->start > y->start;
}

static const char *go_base(const char *f)
{
	if (!*f)
		return "";
	const char *s = strrchr(f, '/');
	return s && s[1] ? s + 1 : f;
}

/* One ROUTINE: disassemble s and print it to out.  1 when objdump failed. */
static int print_symbol(cpr_ctx *c, const cpr_graph *g, const dsym *s, const char *file,
			FILE *out, cprof_error *err)
{
	char start[32], stop[32];
	snprintf(start, sizeof start, "--start-address=%#llx", (unsigned long long)s->start);
	snprintf(stop, sizeof stop, "--stop-address=%#llx", (unsigned long long)s->end);
	char *argv[12];
	int k = 0;
	argv[k++] = "objdump";
	argv[k++] = "--disassemble";
	argv[k++] = "--demangle";
	argv[k++] = "--no-show-raw-insn";
	argv[k++] = "--line-numbers";
	argv[k++] = start;
	argv[k++] = stop;
	if (c->o->intel_syntax) {
		argv[k++] = "-M";
		argv[k++] = "intel";
	}
	argv[k++] = (char *)file;
	argv[k] = NULL;
	char *text;
	size_t tn;
	int rc = run_tool(argv, &text, &tn);
	if (rc < 0)
		return cprof_seterr(err, rc, "out of memory disassembling %s", file);
	if (rc > 0)
		return cprof_seterr(err, CPROF_EINVAL,
				    "cannot disassemble %s with objdump (is binutils installed?)", file);
	dinsts is = { 0 };
	if (parse_objdump(text, &is) < 0) {
		free(is.v);
		free(text);
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory disassembling %s", file);
	}
	int64_t flat = 0, cum = 0;
	for (size_t i = 0; i < s->nnodes; i++) {
		flat = cpr_add64(flat, g->nodes[s->nodes[i]].flat);
		cum = cpr_add64(cum, g->nodes[s->nodes[i]].cum);
	}
	char fv[CPR_LBL], cv[CPR_LBL], pct[CPR_LBL], pf[CPR_PADBUF], pc[CPR_PADBUF];
	fprintf(out, "ROUTINE ======================== %s\n", s->names[0]);
	for (size_t i = 1; i < s->nnames; i++)
		fprintf(out, "    AKA ======================== %s\n", s->names[i]);
	fprintf(out, "%s %s (flat, cum) %s of Total\n",
		cpr_pad(pf, sizeof pf, cpr_format_value(c, fv, sizeof fv, flat), 10),
		cpr_pad(pc, sizeof pc, cpr_format_value(c, cv, sizeof cv, cum), 10),
		cpr_percentage(pct, sizeof pct, cum, c->total));

	const char *pfunc = "", *pfile = "";
	int64_t pline = 0;
	size_t si = 0;
	for (size_t i = 0; i < is.n; i++) {
		const dinst *in = &is.v[i];
		const char *func = in->func, *fbase = go_base(in->file);
		int64_t line = in->line;
		int64_t nf = 0, nfd = 0, nc = 0, ncd = 0;
		uint64_t next = i + 1 < is.n ? is.v[i + 1].addr : UINT64_MAX;
		for (; si < s->nnodes; si++) {
			const cpr_node *nd = &g->nodes[s->nodes[si]];
			const cpr_ninfo *inf = &g->infos.v[nd->info];
			if (inf->address - s->base >= next)
				break;
			nf += nd->flat;
			nfd += nd->flat_div;
			nc += nd->cum;
			ncd += nd->cum_div;
			if (inf->file && !*fbase)
				fbase = go_base(cprof_s(c->p, inf->file));
			if (inf->lineno && !line)
				line = inf->lineno;
			if (inf->name && !*func)
				func = cprof_s(c->p, inf->name);
		}
		if (nfd)
			nf /= nfd;
		if (ncd)
			nc /= ncd;
		char loc[1024] = "";
		if (strcmp(func, pfunc) != 0 || strcmp(fbase, pfile) != 0 || line != pline) {
			pfunc = func;
			pfile = fbase;
			pline = line;
			size_t w = 0;
			if (*func)
				w = (size_t)snprintf(loc, sizeof loc, "%s ", func);
			if (*fbase && w < sizeof loc) {
				w += (size_t)snprintf(loc + w, sizeof loc - w, "%s", fbase);
				if (line && w < sizeof loc)
					snprintf(loc + w, sizeof loc - w, ":%lld", (long long)line);
			}
		}
		const char *a = cpr_pad(pf, sizeof pf, cpr_value_or_dot(c, fv, sizeof fv, nf), 10);
		const char *b = cpr_pad(pc, sizeof pc, cpr_value_or_dot(c, cv, sizeof cv, nc), 10);
		if (!loc[0]) {
			fprintf(out, "%s %s %10llx: %s\n", a, b, (unsigned long long)in->addr, in->text);
		} else if (strlen(in->text) < 40) {
			/* %-40s counts runes in Go */
			size_t runes = cpr_runes(in->text, strlen(in->text));
			fprintf(out, "%s %s %10llx: %s%*s;%s\n", a, b, (unsigned long long)in->addr,
				in->text, runes < 40 ? (int)(40 - runes) : 0, "", loc);
		} else {
			fprintf(out, "%74s;%s\n", "", loc);
			fprintf(out, "%s %s %10llx: %s\n", a, b, (unsigned long long)in->addr, in->text);
		}
	}
	free(is.v);
	free(text);
	return 0;
}

int cpr_print_disasm(cpr_ctx *c, cprof_error *err)
{
	const char *sym = c->o->symbol ? c->o->symbol : "";
	cpr_regex *rx = cpr_regex_compile(sym, "parsing argument regexp", err);
	if (!rx)
		return err && err->code ? err->code : CPROF_EINVAL;
	/* strconv.ParseUint(sym, 0, 64) */
	bool have_addr = false;
	uint64_t addr = 0;
	if (sym[0] >= '0' && sym[0] <= '9') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(sym, &end, 0);
		if (*end == 0 && errno == 0) {
			have_addr = true;
			addr = v;
		}
	}
	cprof_profile *p = c->p;
	cpr_gopts go;
	cpr_graph g;
	cpr_gopts_init(&go, c);
	go.obj_names = true;
	go.edge_filter = cpr_no_edges;
	int rc = cpr_graph_build(c, &go, &g, err);
	if (rc < 0) {
		cpr_regex_free(rx);
		return rc;
	}
	dsyms syms = { 0 };
	uint32_t *byaddr = NULL;
	char *mem = NULL;
	size_t memlen = 0;
	FILE *out = NULL;
	uint8_t *want = calloc(p->mappings.n ? p->mappings.n : 1, 1);
	if (!want)
		goto nomem;
	/* the mappings with matching samples (symbolsFromBinaries) */
	for (size_t i = 0; i < g.nnodes; i++) {
		const cpr_ninfo *k = &g.infos.v[g.nodes[i].info];
		if (!k->objfile)
			continue;
		if (k->name && !cpr_regex_match(rx, cpr_info_name(&g.infos, g.nodes[i].info),
						cpr_info_name_len(&g.infos, g.nodes[i].info)))
			continue;
		for (size_t m = 0; m < p->mappings.n; m++)
			if (p->mappings.v[m].file == k->objfile)
				want[m] = 1;
	}
	for (size_t m = 0; m < p->mappings.n; m++) {
		const cprof_mapping *mp = &p->mappings.v[m];
		if (!want[m] && !(have_addr && mp->start <= addr && addr <= mp->limit))
			continue;
		const char *file = cprof_s(p, mp->file);
		struct stat st;
		if (stat(file, &st) < 0) {
			char e[128];
			snprintf(e, sizeof e, "%s", strerror(errno));
			if (e[0] >= 'A' && e[0] <= 'Z' && !(e[1] >= 'A' && e[1] <= 'Z'))
				e[0] = (char)(e[0] - 'A' + 'a');   /* Go's wording */
			fprintf(c->warn, "open %s: %s\n", file, e);
			continue;
		}
		elf_seg segs[64];
		size_t nseg;
		int type;
		char why[600];
		if (elf_load_segments(file, &type, segs, &nseg, 64, why, sizeof why)) {
			fprintf(c->warn, "%s\n", why);
			continue;
		}
		uint64_t base = mapping_base(mp, type, segs, nseg);
		if ((rc = find_symbols(file, rx, have_addr, addr, (uint32_t)m, base, &syms)) < 0)
			goto nomem;
	}
	if ((rc = cpr_regex_status(rx, err)) < 0)
		goto out;
	/* nodesPerSymbol: the nodes of each symbol, by address */
	byaddr = malloc((g.nnodes ? g.nnodes : 1) * sizeof *byaddr);
	if (!byaddr)
		goto nomem;
	for (size_t i = 0; i < g.nnodes; i++)
		byaddr[i] = (uint32_t)i;
	sort_arg sa = { &g };
	qsort_r(byaddr, g.nnodes, sizeof *byaddr, cmp_addr, &sa);
	size_t nprint = 0;
	for (size_t si = 0; si < syms.n; si++) {
		dsym *s = &syms.v[si];
		const cprof_mapping *mp = &p->mappings.v[s->mapping];
		bool anywhere = mp->start == 0 && mp->limit == 0;
		size_t cnt = 0;
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < g.nnodes; i++) {
				uint64_t a = g.infos.v[g.nodes[byaddr[i]].info].address;
				if (!anywhere && (a < mp->start || a >= mp->limit))
					continue;
				uint64_t oa = a - s->base;
				if (oa < s->start || oa >= s->end)
					continue;
				if (pass)
					s->nodes[s->nnodes++] = byaddr[i];
				else
					cnt++;
			}
			if (!pass) {
				if (!cnt)
					break;
				if (!(s->nodes = malloc(cnt * sizeof *s->nodes)))
					goto nomem;
			}
		}
		nprint += s->nnodes != 0;
	}
	if (nprint == 0) {
		rc = cprof_seterr(err, CPROF_EINVAL, "no matches found for regexp: %s", sym);
		goto out;
	}
	qsort(syms.v, syms.n, sizeof *syms.v, cmp_syms);

	out = open_memstream(&mem, &memlen);
	if (!out)
		goto nomem;
	char tv[CPR_LBL];
	fprintf(out, "Total: %s\n", cpr_format_value(c, tv, sizeof tv, c->total));
	for (size_t si = 0; si < syms.n; si++) {
		const dsym *s = &syms.v[si];
		if (!s->nnodes)
			continue;
		rc = print_symbol(c, &g, s, cprof_s(p, p->mappings.v[s->mapping].file), out, err);
		if (rc < 0)
			goto out;
	}
	if (fclose(out) != 0) {
		out = NULL;
		goto nomem;
	}
	out = NULL;
	if (memlen && fwrite(mem, 1, memlen, c->out) != memlen)
		rc = cprof_seterr(err, CPROF_EIO, "writing the report: %s", strerror(errno));
	goto out;
nomem:
	rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory in -disasm");
out:
	if (out)
		fclose(out);
	free(mem);
	for (size_t i = 0; i < syms.n; i++)
		dsym_free(&syms.v[i]);
	free(syms.v);
	free(byaddr);
	free(want);
	cpr_graph_free(&g);
	cpr_regex_free(rx);
	return rc;
}
