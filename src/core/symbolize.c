/*
 * symbolize.c - local symbolization of a profile from ELF files and their
 * DWARF, with elfutils (libdwfl over libdw and libelf).
 *
 * What it does is pprof's local symbolizer (locateBinaries, then
 * doLocalSymbolize): for every mapping that locations use and that has no
 * symbols yet (all of them with force), find the binary, translate each
 * location's address into the file's virtual addresses, and give the
 * location one line per frame, innermost (inlined) first, each with a
 * function (name = system name = the symbol's linkage name; demangle.c
 * makes the display names afterwards), the line's file and line number.
 * Functions are shared by every location that has the same name, file and
 * start line, as pprof keys them.
 *
 * Finding a binary (locate): for each directory of the search path
 * (CPROF_BINARY_PATH, then PPROF_BINARY_PATH, default ~/pprof/binaries):
 * $dir/$buildid/$base, $dir/$buildid/ *, $dir/$path/$buildid (perf's
 * layout), $dir/$id[:2]/$id[2:].debug and $dir/.build-id/$id[:2]/$id[2:].debug
 * (debug-file layouts) when the mapping has a build ID, then $dir/$base and
 * $dir/$path; the first file that is ELF and whose build ID matches wins
 * and becomes the mapping's file (as in pprof); a mismatch is warned about
 * ("Ignoring local file ...: build-id mismatch (A != B)") and skipped.
 * Otherwise the mapping's own path is opened, and refused when its build ID
 * differs.  A binary without DWARF (stripped) then gets its debug file,
 * looked up by the file's own build ID in the same directories and in
 * /usr/lib/debug/.build-id, then by its .gnu_debuglink name next to it, in
 * .debug/ and under /usr/lib/debug; the binary's ELF symbols are the
 * fallback for names.
 *
 * Address translation: a file offset is addr - start + offset; the PT_LOAD
 * segment holding that offset gives the virtual address (this serves PIE
 * executables and shared libraries at any base, and executables at their
 * fixed addresses).  A mapping with no range (start = limit = offset = 0,
 * pprof's fake mapping) takes addresses as they are.
 *
 * Speed.  libdwfl finds a location's compilation unit through
 * .debug_aranges.  Inside a unit, walking the DIE tree per address (what
 * dwarf_getscopes does) costs the unit's size per lookup, so each unit gets,
 * on first use, a sorted table of its subprograms' address ranges; a lookup
 * is then a binary search plus a walk down that one function's inlined
 * subroutines and blocks.  Function names are cached per DIE (after
 * following abstract_origin/specification), strings per libdw pointer, and
 * the profile functions per (name, file, start line).  Modules stay open in
 * the cprof_symbolizer, so later runs reuse every table.
 *
 * Memory: a location's new lines are appended to the profile's line table
 * (the old ones stay, unreferenced); everything else is bounded by the
 * binaries' DWARF.  Errors inside a binary only skip that binary.
 */
#include "core_int.h"

#include <ctype.h>
#include <dirent.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INLINE 64           /* frames per location kept at most */
#define MAX_SCOPE_DEPTH 16      /* namespace/class nesting searched for functions */
#define BUILD_ID_HEX 129        /* 64 bytes of build ID, as hex, and the NUL */

/* ---- u64 -> u32 lookups, on cprof_util.h's map ------------------------------ */

typedef cprof_u64map u64map;
#define map_free cprof_u64map_free

static uint32_t map_get(const u64map *m, uint64_t k)
{
	const uint64_t *v = cprof_u64map_find(m, k);
	return v ? (uint32_t)*v : CPROF_NONE;
}

static int map_put(u64map *m, uint64_t k, uint32_t v)
{
	uint64_t *slot = cprof_u64map_slot(m, k, v, NULL);
	if (!slot)
		return CPROF_ENOMEM;
	*slot = v;
	return 0;
}

/* ---- modules: one open binary each -------------------------------------- */

typedef struct frange {
	Dwarf_Addr lo, hi;
	Dwarf_Off die;
} frange;

typedef CPROF_VEC(frange) frange_vec;

typedef struct cuindex {
	frange *r;
	size_t n;
} cuindex;

typedef struct dname {          /* a function DIE's name and start line */
	char *name;
	int64_t line;
} dname;

typedef struct esym {           /* an ELF function symbol */
	GElf_Addr addr, size;       /* module addresses */
	const char *name;           /* libelf-owned */
	int global;
} esym;

typedef struct module {
	char *path;                 /* as requested */
	char bid[BUILD_ID_HEX];     /* the file's build ID, "" if none */
	char *fail;                 /* why it cannot be used, or NULL */
	int fd, symfd;
	Elf *elf;                   /* the binary (program headers) */
	int etype;
	GElf_Phdr *load;            /* its PT_LOAD segments */
	size_t nload;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf *dw;
	Dwarf_Addr bias;
	esym *syms;                 /* sorted by address; built on first use */
	size_t nsyms;
	cprof_plt_sym *plt;         /* the PLT stubs' names ("fn@plt"), in syms too */
	size_t nplt;
	bool syms_done;
	u64map cus;                 /* CU DIE offset -> index into cu */
	CPROF_VEC(cuindex) cu;
	u64map dies;                /* function DIE offset -> index into names */
	CPROF_VEC(dname) names;
	struct module *next;
} module;

struct cprof_symbolizer {
	module *mods;
};

/* State of one run over one profile. */
typedef struct run {
	cprof_symbolizer *s;
	cprof_profile *p;
	const cprof_symopts *o;
	cprof_error *err;
	char **dirs;                /* the search path */
	size_t ndirs;
	u64map strs;                /* stable C string pointer -> profile string */
	uint32_t *fhash;            /* (name, file, line) -> function index + 1 */
	size_t fcap, fn;
	uint64_t maxid;             /* the greatest function id */
} run;

static void warnf(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(const run *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (r->o && r->o->warn)
		r->o->warn(r->o->warn_ctx, buf);
	else
		fprintf(stderr, "%s\n", buf);
}

static void hexify(const unsigned char *b, size_t n, char *out, size_t outsz)
{
	static const char hx[] = "0123456789abcdef";
	size_t j = 0;
	for (size_t i = 0; i < n && j + 2 < outsz; i++) {
		out[j++] = hx[b[i] >> 4];
		out[j++] = hx[b[i] & 15];
	}
	out[j] = 0;
}

static void elf_bid(Elf *e, char *out, size_t outsz)
{
	const void *b = NULL;
	ssize_t n = dwelf_elf_gnu_build_id(e, &b);
	out[0] = 0;
	if (n > 0 && b)
		hexify(b, (size_t)n, out, outsz);
}

/* Open path as ELF (a regular file starting with the ELF magic). */
static Elf *open_elf(const char *path, int *fdp)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	unsigned char mag[4];
	Elf *e = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, mag, 4, 0) == 4 &&
	    memcmp(mag, ELFMAG, 4) == 0)
		e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return e;
}

int cprof_elf_build_id(const char *path, char *hex, size_t hexsz, cprof_error *err)
{
	elf_version(EV_CURRENT);
	if (hexsz)
		hex[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cprof_seterr(err, CPROF_EIO, "%s", strerror(errno));
	close(fd);
	Elf *e = open_elf(path, &fd);
	if (!e)
		return cprof_seterr(err, CPROF_EFORMAT, "not an ELF file");
	elf_bid(e, hex, hexsz);
	elf_end(e);
	close(fd);
	return hexsz && hex[0] ? 1 : 0;
}

/* Has this ELF file DWARF (a .debug_info with contents)? */
static bool has_dwarf(Elf *e)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return false;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn)) != NULL;) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		const char *n = elf_strptr(e, shstrndx, sh.sh_name);
		if (n && (strcmp(n, ".debug_info") == 0 || strcmp(n, ".zdebug_info") == 0))
			return true;
	}
	return false;
}

/* ".gnu_debuglink"'s file name, or NULL. */
static const char *debuglink(Elf *e)
{
	GElf_Word crc;
	return dwelf_elf_gnu_debuglink(e, &crc);
}

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);
	if (!s)
		return NULL;
	memcpy(s, a, la);
	size_t n = la;
	if (n && s[n - 1] != '/' && b[0] != '/')
		s[n++] = '/';
	else if (n && s[n - 1] == '/' && b[0] == '/')
		b++, lb--;
	memcpy(s + n, b, lb + 1);
	return s;
}

static char *path3(const char *a, const char *b, const char *c)
{
	char *ab = path_join(a, b);
	if (!ab)
		return NULL;
	char *s = path_join(ab, c);
	free(ab);
	return s;
}

/* Is path an ELF file whose build ID is bid (any, when bid is "")?  *have
 * gets the file's ID. */
static bool probe(const char *path, const char *bid, char *have, size_t havesz, bool *is_elf)
{
	int fd;
	Elf *e = open_elf(path, &fd);
	*is_elf = e != NULL;
	if (!e)
		return false;
	elf_bid(e, have, havesz);
	elf_end(e);
	close(fd);
	return !*bid || strcmp(bid, have) == 0;
}

/* Try one candidate for a mapping: 1 found (in *out), 0 not, <0 ENOMEM. */
static int try_candidate(const run *r, char *cand, const char *bid, char **out)
{
	if (!cand)
		return CPROF_ENOMEM;
	char have[BUILD_ID_HEX];
	bool elf;
	if (probe(cand, bid, have, sizeof have, &elf)) {
		*out = cand;
		return 1;
	}
	if (elf)
		warnf(r, "Ignoring local file %s: build-id mismatch (%s != %s)", cand, bid, have);
	free(cand);
	return 0;
}

/* pprof's locateBinaries for one mapping; *out = a malloc'd path or NULL. */
static int locate(const run *r, const char *file, const char *bid, char **out)
{
	*out = NULL;
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	int rc = 0;
	for (size_t d = 0; d < r->ndirs && rc == 0; d++) {
		const char *dir = r->dirs[d];
		if (*bid) {
			if (*base && (rc = try_candidate(r, path3(dir, bid, base), bid, out)) != 0)
				break;
			char *bdir = path_join(dir, bid);
			if (!bdir)
				return CPROF_ENOMEM;
			DIR *dh = opendir(bdir);
			if (dh) {
				/* sorted, as Go's Glob */
				struct dirent **ents = NULL;
				closedir(dh);
				int ne = scandir(bdir, &ents, NULL, alphasort);
				for (int i = 0; i < ne; i++) {
					if (rc == 0 && ents[i]->d_name[0] != '.')
						rc = try_candidate(r, path_join(bdir, ents[i]->d_name), bid, out);
					free(ents[i]);
				}
				free(ents);
			}
			free(bdir);
			if (rc)
				break;
			if (*file && (rc = try_candidate(r, path3(dir, file, bid), bid, out)) != 0)
				break;
			if (strlen(bid) > 2) {
				char sub[4] = { bid[0], bid[1], 0, 0 };
				char leaf[BUILD_ID_HEX + 8];
				snprintf(leaf, sizeof leaf, "%s.debug", bid + 2);
				if ((rc = try_candidate(r, path3(dir, sub, leaf), bid, out)) != 0)
					break;
				char *bd = path3(dir, ".build-id", sub);
				if (!bd)
					return CPROF_ENOMEM;
				rc = try_candidate(r, path_join(bd, leaf), bid, out);
				free(bd);
				if (rc)
					break;
			}
		}
		if (*file) {
			if (*base && (rc = try_candidate(r, path_join(dir, base), bid, out)) != 0)
				break;
			if ((rc = try_candidate(r, path_join(dir, file), bid, out)) != 0)
				break;
		}
	}
	return rc < 0 ? rc : 0;
}

/* A debug file for a binary without DWARF: by its build ID in the search
 * path and /usr/lib/debug/.build-id, then by .gnu_debuglink.  Returns an
 * open fd (and *pe) or -1. */
static int find_debug(const run *r, const char *path, Elf *e, const char *bid, Elf **pe)
{
	char *cands[64];
	size_t nc = 0;
	if (strlen(bid) > 2) {
		char sub[4] = { bid[0], bid[1], 0, 0 }, leaf[BUILD_ID_HEX + 8];
		snprintf(leaf, sizeof leaf, "%s.debug", bid + 2);
		for (size_t d = 0; d < r->ndirs && nc + 3 < 64; d++) {
			cands[nc++] = path3(r->dirs[d], sub, leaf);
			char *bd = path3(r->dirs[d], ".build-id", sub);
			cands[nc++] = bd ? path_join(bd, leaf) : NULL;
			free(bd);
		}
		char *bd = path_join("/usr/lib/debug/.build-id", sub);
		cands[nc++] = bd ? path_join(bd, leaf) : NULL;
		free(bd);
	}
	const char *link = debuglink(e);
	if (link && !strchr(link, '/')) {
		char *dir = strdup(path);
		if (dir) {
			char *sl = strrchr(dir, '/');
			if (sl)
				sl[1] = 0;
			else
				strcpy(dir, "./");
			if (nc < 64)
				cands[nc++] = path_join(dir, link);
			if (nc < 64)
				cands[nc++] = path3(dir, ".debug", link);
			if (nc < 64)
				cands[nc++] = path3("/usr/lib/debug", dir, link);
			for (size_t d = 0; d < r->ndirs && nc < 64; d++)
				cands[nc++] = path_join(r->dirs[d], link);
			free(dir);
		}
	}
	int fd = -1;
	for (size_t i = 0; i < nc; i++) {
		if (fd < 0 && cands[i] && strcmp(cands[i], path) != 0) {
			int f;
			Elf *de = open_elf(cands[i], &f);
			if (de) {
				char have[BUILD_ID_HEX];
				elf_bid(de, have, sizeof have);
				if ((!*bid || !*have || strcmp(have, bid) == 0) && has_dwarf(de)) {
					*pe = de;
					fd = f;
				} else {
					elf_end(de);
					close(f);
				}
			}
		}
		free(cands[i]);
	}
	return fd;
}

static void module_close(module *m)
{
	if (m->dwfl)
		dwfl_end(m->dwfl);
	if (m->elf)
		elf_end(m->elf);
	if (m->fd >= 0)
		close(m->fd);
	if (m->symfd >= 0 && m->symfd != m->fd)
		close(m->symfd);
	for (size_t i = 0; i < m->cu.n; i++)
		free(m->cu.v[i].r);
	CP_FREE(m->cu);
	for (size_t i = 0; i < m->names.n; i++)
		free(m->names.v[i].name);
	CP_FREE(m->names);
	map_free(&m->cus);
	map_free(&m->dies);
	free(m->load);
	free(m->syms);
	cprof_elf_plt_syms_free(m->plt, m->nplt);
	free(m->fail);
	free(m->path);
	free(m);
}

/* libdwfl's own finders open files without close-on-exec (the dwz
 * alternate debug file goes through find_debuginfo): mark what they open. */
static int cloexec_fd(int fd)
{
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static int find_elf_cloexec(Dwfl_Module *mod, void **userdata, const char *modname,
			    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	return cloexec_fd(dwfl_build_id_find_elf(mod, userdata, modname, base, file_name, elfp));
}

/* Separate debug information, found on this machine only: by build id
 * (/usr/lib/debug/.build-id, Debian's -dbgsym packages), then by the
 * module's .gnu_debuglink name next to it, in its .debug/ and under
 * /usr/lib/debug.  Never dwfl_standard_find_debuginfo: after the local
 * places it asks debuginfod, which loads libcurl into the process and runs
 * curl_global_init (libssh2, OpenSSL's engines).  In a profiled program
 * writing its profile at exit that is the program's own libcurl/libcrypto,
 * already cleaned up by its atexit handlers (curl crashed in
 * CRYPTO_THREAD_write_lock on a freed lock), and a network query that held
 * exits for 10 s.  Returns an open descriptor (close-on-exec) or -1. */
static int find_debuginfo_cloexec(Dwfl_Module *mod, void **userdata, const char *modname,
				  Dwarf_Addr base, const char *file_name,
				  const char *debuglink_file, GElf_Word debuglink_crc,
				  char **debuginfo_file_name)
{
	(void)debuglink_crc;
	int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
					      debuglink_file, debuglink_crc, debuginfo_file_name);
	if (fd >= 0 || !debuglink_file || !file_name || strchr(debuglink_file, '/'))
		return cloexec_fd(fd);
	const char *slash = strrchr(file_name, '/');
	if (!slash)
		return -1;
	int dlen = (int)(slash - file_name);
	static const char *const pre[] = { "", "", "/usr/lib/debug" };
	static const char *const mid[] = { "/", "/.debug/", "/" };
	for (size_t i = 0; i < sizeof pre / sizeof *pre; i++) {
		char path[4096];
		int n = snprintf(path, sizeof path, "%s%.*s%s%s", pre[i], dlen, file_name, mid[i],
				 debuglink_file);
		if (n <= 0 || (size_t)n >= sizeof path || strcmp(path, file_name) == 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			*debuginfo_file_name = strdup(path);
			return fd;
		}
	}
	return -1;
}

static char *debuginfo_path_none = NULL;
static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = find_elf_cloexec,
	.find_debuginfo = find_debuginfo_cloexec,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path_none,
};

static module *module_fail(module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static module *module_fail(module *m, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	m->fail = strdup(buf);
	return m->fail ? m : NULL;
}

/* Open (or find in the cache) the module for path.  NULL only on ENOMEM;
 * a module that cannot be used has fail set. */
static module *module_get(const run *r, const char *path)
{
	for (module *m = r->s->mods; m; m = m->next)
		if (strcmp(m->path, path) == 0)
			return m;
	module *m = calloc(1, sizeof *m);
	if (!m || !(m->path = strdup(path))) {
		free(m);
		return NULL;
	}
	m->fd = m->symfd = -1;
	m->next = r->s->mods;
	r->s->mods = m;

	/* pprof's (Go's) wording: "open PATH: no such file or directory" */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		char e[128];
		snprintf(e, sizeof e, "%s", strerror(errno));
		e[0] = (char)tolower((unsigned char)e[0]);
		return module_fail(m, "open %s: %s", path, e);
	}
	close(fd);
	if (!(m->elf = open_elf(path, &m->fd)))
		return module_fail(m, "unrecognized binary format: %s", path);
	elf_bid(m->elf, m->bid, sizeof m->bid);
	GElf_Ehdr eh;
	size_t nph;
	if (!gelf_getehdr(m->elf, &eh) || elf_getphdrnum(m->elf, &nph) != 0)
		return module_fail(m, "error reading ELF file %s: %s", path, elf_errmsg(-1));
	m->etype = eh.e_type;
	if (nph > 4096)
		nph = 4096;
	m->load = calloc(nph ? nph : 1, sizeof *m->load);
	if (!m->load)
		return NULL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(m->elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			m->load[m->nload++] = ph;
	}

	/* the file libdwfl reads symbols and DWARF from */
	Elf *sym = NULL;
	int symfd = -1;
	const char *symname = path;
	if (!has_dwarf(m->elf))
		symfd = find_debug(r, path, m->elf, m->bid, &sym);
	if (symfd >= 0) {
		m->symfd = symfd;
		elf_end(sym);       /* libdwfl opens it again from the fd */
	} else {
		m->symfd = m->fd;
	}
	m->dwfl = dwfl_begin(&dwfl_cbs);
	if (!m->dwfl)
		return module_fail(m, "%s", dwfl_errmsg(-1));
	/* dwfl takes ownership of the fd it is given: give it a duplicate
	 * (close-on-exec, as every descriptor the symbolizer holds: a
	 * runtime loaded into a program keeps its symbolizer open) */
	int dfd = fcntl(m->symfd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return module_fail(m, "%s", strerror(errno));
	m->mod = dwfl_report_elf(m->dwfl, symname, symname, dfd, 0, true);
	if (!m->mod) {
		close(dfd);
		return module_fail(m, "error reading ELF file %s: %s", path, dwfl_errmsg(-1));
	}
	dwfl_report_end(m->dwfl, NULL, NULL);
	Dwarf_Addr bias = 0;
	m->dw = dwfl_module_getdwarf(m->mod, &bias);
	if (!m->dw)
		dwfl_module_info(m->mod, NULL, NULL, NULL, &bias, NULL, NULL, NULL);
	/* module addresses are file addresses + bias */
	GElf_Addr b2 = 0;
	if (!m->dw && dwfl_module_getelf(m->mod, &b2))
		bias = b2;
	m->bias = bias;
	return m;
}

void cprof_symbolizer_free(cprof_symbolizer *s)
{
	if (!s)
		return;
	for (module *m = s->mods, *n; m; m = n) {
		n = m->next;
		module_close(m);
	}
	free(s);
}

cprof_symbolizer *cprof_symbolizer_new(void)
{
	elf_version(EV_CURRENT);
	return calloc(1, sizeof(cprof_symbolizer));
}

/* ---- address -> frames -------------------------------------------------- */

static int cmp_esym(const void *a, const void *b)
{
	const esym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->global != y->global)
		return y->global - x->global;   /* global first */
	return (x->size < y->size) - (x->size > y->size);
}

/* The ELF symbol naming module address pc, or NULL.  libdwfl's
 * dwfl_module_addrname scans the whole symbol table per call; this sorts
 * the function symbols once and searches them. */
static const char *sym_name(module *m, Dwarf_Addr pc)
{
	if (!m->syms_done) {
		m->syms_done = true;
		int n = dwfl_module_getsymtab(m->mod);
		/* the PLT stubs have no symbols: named from their relocations */
		if (m->elf && cprof_elf_plt_syms(m->elf, &m->plt, &m->nplt) < 0)
			m->nplt = 0;
		if (n < 0)
			n = 0;
		if (n + m->nplt > 0 &&
		    (m->syms = calloc((size_t)n + m->nplt, sizeof *m->syms)) != NULL) {
			for (size_t i = 0; i < m->nplt; i++)
				m->syms[m->nsyms++] = (esym){ m->plt[i].addr + m->bias, m->plt[i].size,
							      m->plt[i].name, 1 };
			for (int i = 0; i < n; i++) {
				GElf_Sym sym;
				GElf_Addr a;
				const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &a, NULL, NULL, NULL);
				if (!name || !*name || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
				    sym.st_shndx == SHN_UNDEF)
					continue;
				m->syms[m->nsyms++] = (esym){ a, sym.st_size, name,
							      GELF_ST_BIND(sym.st_info) != STB_LOCAL };
			}
			if (m->nsyms)
				qsort(m->syms, m->nsyms, sizeof *m->syms, cmp_esym);
		}
	}
	_Static_assert(sizeof(GElf_Addr) == sizeof(uint64_t), "addresses are u64");
	size_t lo = cp_upper_u64(m->syms, m->nsyms, sizeof *m->syms, offsetof(esym, addr), pc);
	if (lo == 0)
		return NULL;
	/* the first (global-first) entry at the greatest address <= pc */
	GElf_Addr at = m->syms[lo - 1].addr;
	size_t k = lo - 1;
	while (k > 0 && m->syms[k - 1].addr == at)
		k--;
	const esym *e = &m->syms[k];
	if (e->size && pc - e->addr >= e->size)
		return NULL;
	return e->name;
}

/* The file virtual address of addr in mapping mp. */
static uint64_t file_addr(const module *m, const cprof_mapping *mp, uint64_t addr)
{
	if (mp->start == 0 && mp->offset == 0 && (mp->limit == 0 || mp->limit == UINT64_MAX))
		return addr;
	if (addr < mp->start)
		return addr;
	uint64_t fo = addr - mp->start + mp->offset;
	const GElf_Phdr *best = NULL;
	for (size_t i = 0; i < m->nload; i++) {
		const GElf_Phdr *ph = &m->load[i];
		if (fo >= ph->p_offset && fo - ph->p_offset < ph->p_filesz &&
		    (!best || (ph->p_flags & PF_X)))
			best = ph;
	}
	if (best)
		return fo - best->p_offset + best->p_vaddr;
	if (m->etype == ET_EXEC)
		return addr;
	return fo;
}

static int cmp_frange(const void *a, const void *b)
{
	const frange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : (x->hi > y->hi) - (x->hi < y->hi);
}

static int index_scope(Dwarf_Die *parent, frange_vec *v, int depth)
{
	Dwarf_Die c;
	if (depth > MAX_SCOPE_DEPTH || dwarf_child(parent, &c) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&c);
		if (tag == DW_TAG_subprogram) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;
			while ((off = dwarf_ranges(&c, off, &base, &lo, &hi)) > 0) {
				if (hi <= lo)
					continue;
				frange f = { lo, hi, dwarf_dieoffset(&c) };
				if (CP_PUSH(*v, f))
					return CPROF_ENOMEM;
			}
		} else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			   tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
			int rc = index_scope(&c, v, depth + 1);
			if (rc < 0)
				return rc;
		}
	} while (dwarf_siblingof(&c, &c) == 0);
	return 0;
}

/* The function table of the CU whose DIE is cu (built on first use). */
static const cuindex *cu_index(module *m, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	uint32_t i = map_get(&m->cus, off);
	if (i != CPROF_NONE)
		return &m->cu.v[i];
	frange_vec v = { 0 };
	if (index_scope(cu, &v, 0) < 0 || CP_RESERVE(m->cu, m->cu.n + 1) ||
	    map_put(&m->cus, off, (uint32_t)m->cu.n) < 0) {
		free(v.v);
		return NULL;
	}
	if (v.n)
		qsort(v.v, v.n, sizeof *v.v, cmp_frange);
	m->cu.v[m->cu.n] = (cuindex){ v.v, v.n };
	return &m->cu.v[m->cu.n++];
}

/* The subprogram DIE containing pc in ci, or false. */
static bool find_func(module *m, const cuindex *ci, Dwarf_Addr pc, Dwarf_Die *out)
{
	_Static_assert(sizeof(Dwarf_Addr) == sizeof(uint64_t), "addresses are u64");
	size_t lo = cp_upper_u64(ci->r, ci->n, sizeof *ci->r, offsetof(frange, lo), pc);
	/* ranges[lo-1] has the greatest start <= pc; nested or overlapping
	 * ranges may hide behind it: look back a little */
	for (size_t k = lo, n = 0; k > 0 && n < 8; k--, n++) {
		const frange *f = &ci->r[k - 1];
		if (pc >= f->lo && pc < f->hi)
			return dwarf_offdie(m->dw, f->die, out) != NULL;
	}
	return false;
}

/* Name and start line of a subprogram or inlined-subroutine DIE, cached by
 * the DIE it names (abstract origin, else itself).  NULL name when none. */
static const dname *die_name(module *m, Dwarf_Die *die)
{
	Dwarf_Attribute at;
	Dwarf_Die origin, *d = die;
	if (dwarf_attr(die, DW_AT_abstract_origin, &at) && dwarf_formref_die(&at, &origin))
		d = &origin;
	Dwarf_Off off = dwarf_dieoffset(d);
	uint32_t i = map_get(&m->dies, off);
	if (i != CPROF_NONE)
		return &m->names.v[i];
	const char *n = NULL;
	if (dwarf_attr_integrate(d, DW_AT_linkage_name, &at) ||
	    dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &at))
		n = dwarf_formstring(&at);
	if (!n && dwarf_attr_integrate(d, DW_AT_name, &at))
		n = dwarf_formstring(&at);
	int line = 0;
	if (dwarf_decl_line(d, &line) != 0)
		line = 0;
	dname e = { n ? strdup(n) : NULL, line };
	if ((n && !e.name) || CP_RESERVE(m->names, m->names.n + 1) ||
	    map_put(&m->dies, off, (uint32_t)m->names.n) < 0) {
		free(e.name);
		return NULL;
	}
	m->names.v[m->names.n] = e;
	return &m->names.v[m->names.n++];
}

typedef struct frame {
	const char *func;           /* stable: module-owned or libdw-owned */
	const char *file;           /* libdw-owned */
	int64_t line, start;
} frame;

/* Innermost-first chain of DW_TAG_inlined_subroutine DIEs holding pc
 * under fn; returns how many (at most max). */
static size_t inline_chain(Dwarf_Die *fn, Dwarf_Addr pc, Dwarf_Die *chain, size_t max)
{
	Dwarf_Die cur = *fn, c;
	size_t n = 0;
	Dwarf_Die outer[MAX_INLINE];
	for (int guard = 0; guard < 256 && n < max; guard++) {
		if (dwarf_child(&cur, &c) != 0)
			break;
		bool found = false;
		do {
			int tag = dwarf_tag(&c);
			if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block &&
			    tag != DW_TAG_try_block && tag != DW_TAG_catch_block)
				continue;
			if (dwarf_haspc(&c, pc) == 1) {
				if (tag == DW_TAG_inlined_subroutine)
					outer[n++] = c;
				cur = c;
				found = true;
				break;
			}
		} while (dwarf_siblingof(&c, &c) == 0);
		if (!found)
			break;
	}
	for (size_t i = 0; i < n; i++)
		chain[i] = outer[n - 1 - i];
	return n;
}

static const char *call_file(Dwarf_Die *die, Dwarf_Files *files, size_t nfiles)
{
	Dwarf_Attribute at;
	Dwarf_Word idx;
	if (!files || !dwarf_attr(die, DW_AT_call_file, &at) || dwarf_formudata(&at, &idx) != 0 ||
	    idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static int64_t call_line(Dwarf_Die *die)
{
	Dwarf_Attribute at;
	Dwarf_Word v;
	if (!dwarf_attr(die, DW_AT_call_line, &at) || dwarf_formudata(&at, &v) != 0)
		return 0;
	return (int64_t)v;
}

/* A function inlined into itself (glibc's __libc_pread64 holds an inline
 * copy of __libc_pread64: an abstract instance and its concrete one) is
 * one frame: the inner frame's file and line, the outer one's function.
 * Returns the new count. */
static size_t drop_self_inlines(frame *fr, size_t k)
{
	size_t o = 0;
	for (size_t i = 0; i < k; i++) {
		if (i + 1 < k && fr[i].func && fr[i + 1].func && strcmp(fr[i].func, fr[i + 1].func) == 0) {
			fr[i + 1].file = fr[i].file;
			fr[i + 1].line = fr[i].line;
			continue;
		}
		fr[o++] = fr[i];
	}
	return o;
}

/* The frames at file address a (innermost first); returns how many, 0 when
 * nothing is known, <0 on ENOMEM. */
static int frames_at(module *m, uint64_t a, bool fast, frame *fr, size_t max)
{
	Dwarf_Addr pc = a + m->bias;
	const char *sym = NULL;
	if (fast || !m->dw) {
		if (!(sym = sym_name(m, pc)))
			return 0;
		fr[0] = (frame){ sym, NULL, 0, 0 };
		return 1;
	}
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(m->mod, pc, &bias);
	if (!cu) {
		if (!(sym = sym_name(m, pc)))
			return 0;
		fr[0] = (frame){ sym, NULL, 0, 0 };
		return 1;
	}
	Dwarf_Addr dpc = pc - bias;
	const char *file = NULL;
	int64_t line = 0;
	Dwarf_Line *dl = dwarf_getsrc_die(cu, dpc);
	if (dl) {
		int ln = 0;
		file = dwarf_linesrc(dl, NULL, NULL);
		if (dwarf_lineno(dl, &ln) == 0)
			line = ln;
	}
	const cuindex *ci = cu_index(m, cu);
	if (!ci)
		return CPROF_ENOMEM;
	Dwarf_Die fn;
	if (!find_func(m, ci, dpc, &fn)) {
		sym = sym_name(m, pc);
		if (!sym && !file)
			return 0;
		fr[0] = (frame){ sym, file, line, 0 };
		return 1;
	}
	Dwarf_Die chain[MAX_INLINE];
	size_t nin = inline_chain(&fn, dpc, chain, max - 1);
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	if (nin && dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	size_t k = 0;
	for (size_t i = 0; i <= nin; i++) {
		Dwarf_Die *d = i < nin ? &chain[i] : &fn;
		const dname *dn = die_name(m, d);
		if (!dn)
			return CPROF_ENOMEM;
		const char *name = dn->name ? dn->name : (i == nin ? sym_name(m, pc) : NULL);
		fr[k++] = (frame){ name, file, line, dn->line };
		if (i < nin) {
			/* the next (outer) frame is at this inlined call's site */
			file = call_file(d, files, nfiles);
			line = call_line(d);
		}
	}
	return (int)drop_self_inlines(fr, k);
}

/* ---- writing frames into the profile ----------------------------------- */

static cprof_str str_of(run *r, const char *s)
{
	if (!s)
		return 0;
	uint32_t v = map_get(&r->strs, (uint64_t)(uintptr_t)s);
	if (v != CPROF_NONE)
		return v;
	cprof_str id = cprof_intern_cstr(r->p, s);
	if (id == CPROF_NONE || map_put(&r->strs, (uint64_t)(uintptr_t)s, id) < 0)
		return CPROF_NONE;
	return id;
}

static uint64_t fkey(cprof_str name, cprof_str file, int64_t start)
{
	return cp_hash_u64(((uint64_t)name << 32 | file) ^ cp_hash_u64((uint64_t)start));
}

static int fhash_grow(run *r)
{
	size_t ncap = r->fcap ? r->fcap * 2 : 1024;
	uint32_t *h = calloc(ncap, sizeof *h);
	if (!h || ncap > SIZE_MAX / 8) {
		free(h);
		return CPROF_ENOMEM;
	}
	for (size_t i = 0; i < r->fcap; i++) {
		if (!r->fhash[i])
			continue;
		const cprof_function *f = &r->p->functions.v[r->fhash[i] - 1];
		size_t j = fkey(f->system_name, f->filename, f->start_line) & (ncap - 1);
		while (h[j])
			j = (j + 1) & (ncap - 1);
		h[j] = r->fhash[i];
	}
	free(r->fhash);
	r->fhash = h;
	r->fcap = ncap;
	return 0;
}

/* The index of function (name, file, start), added when new. */
static int64_t function_of(run *r, cprof_str name, cprof_str file, int64_t start)
{
	if (cp_mul(r->fn + 1, 2) > r->fcap && fhash_grow(r) < 0)
		return CPROF_ENOMEM;
	size_t j = fkey(name, file, start) & (r->fcap - 1);
	for (; r->fhash[j]; j = (j + 1) & (r->fcap - 1)) {
		const cprof_function *f = &r->p->functions.v[r->fhash[j] - 1];
		if (f->system_name == name && f->name == name && f->filename == file &&
		    f->start_line == start)
			return r->fhash[j] - 1;
	}
	cprof_function f = { .id = ++r->maxid, .name = name, .system_name = name,
			     .filename = file, .start_line = start };
	if (r->p->functions.n >= UINT32_MAX - 1)
		return CPROF_ENOMEM;
	int64_t idx = cprof_add_function(r->p, &f);
	if (idx < 0)
		return idx;
	r->fhash[j] = (uint32_t)idx + 1;
	r->fn++;
	return idx;
}

/* ---- the run ------------------------------------------------------------- */

static bool unsymbolizable(const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	return base[0] == '[' || strncmp(base, "linux-vdso", 10) == 0 ||
	       strncmp(file, "/dev/dri/", 9) == 0;
}

/* pprof skips mappings named by an absolute URL with an http scheme. */
static bool is_http_url(const char *s)
{
	const char *c = strchr(s, ':');
	if (!c || c == s || !isalpha((unsigned char)s[0]))
		return false;
	for (const char *q = s; q < c; q++)
		if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
			return false;
	for (const char *q = s; q + 4 <= c; q++)
		if (strncasecmp(q, "http", 4) == 0)
			return true;
	return false;
}

static int split_path(run *r)
{
	const char *sp = r->o ? r->o->search_path : NULL;
	char *buf = NULL;
	if (!sp) {
		const char *a = getenv("CPROF_BINARY_PATH"), *b = getenv("PPROF_BINARY_PATH");
		a = a && *a ? a : NULL;
		b = b && *b ? b : NULL;
		if (a || b) {
			size_t n = (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 2;
			if (!(buf = malloc(n)))
				return CPROF_ENOMEM;
			snprintf(buf, n, "%s%s%s", a ? a : "", a && b ? ":" : "", b ? b : "");
		} else {
			const char *home = getenv("HOME");
			if (!(buf = path_join(home ? home : "", "pprof/binaries")))
				return CPROF_ENOMEM;
		}
	} else if (!(buf = strdup(sp))) {
		return CPROF_ENOMEM;
	}
	size_t cnt = 1;
	for (char *c = buf; *c; c++)
		cnt += *c == ':';
	r->dirs = calloc(cnt + 1, sizeof *r->dirs);
	if (!r->dirs) {
		free(buf);
		return CPROF_ENOMEM;
	}
	for (char *tok = buf, *e; tok; tok = e) {
		e = strchr(tok, ':');
		if (e)
			*e++ = 0;
		if (*tok && !(r->dirs[r->ndirs++] = strdup(tok))) {
			free(buf);
			return CPROF_ENOMEM;
		}
	}
	free(buf);
	return 0;
}

static void run_free(run *r)
{
	for (size_t i = 0; i < r->ndirs; i++)
		free(r->dirs[i]);
	free(r->dirs);
	map_free(&r->strs);
	free(r->fhash);
}

/* Symbolize the locations of mapping mi (locs: their indices). */
static int64_t symbolize_mapping(run *r, uint32_t mi, module *m, const uint32_t *locs, size_t n)
{
	cprof_profile *p = r->p;
	frame fr[MAX_INLINE];
	cprof_line ln[MAX_INLINE];
	int64_t done = 0;
	bool hf = false, hn = false, hl = false, hi = false;
	for (size_t k = 0; k < n; k++) {
		cprof_location *l = &p->locations.v[locs[k]];
		int nf = frames_at(m, file_addr(m, &p->mappings.v[mi], l->address),
				   r->o && r->o->fast, fr, MAX_INLINE);
		if (nf < 0)
			return nf;
		if (nf == 0)
			continue;
		for (int i = 0; i < nf; i++) {
			cprof_str name = str_of(r, fr[i].func), file = str_of(r, fr[i].file);
			if (name == CPROF_NONE || file == CPROF_NONE)
				return CPROF_ENOMEM;
			int64_t f = function_of(r, name, file, fr[i].start);
			if (f < 0)
				return f;
			ln[i] = (cprof_line){ (uint32_t)f, fr[i].line, 0 };
			hf |= name != 0;
			hn |= file != 0;
			hl |= fr[i].line != 0;
		}
		hi = true;
		if (cp_add(p->lines.n, (size_t)nf) > UINT32_MAX || CP_RESERVE(p->lines, p->lines.n + (size_t)nf))
			return CPROF_ENOMEM;
		l = &p->locations.v[locs[k]];
		memcpy(p->lines.v + p->lines.n, ln, (size_t)nf * sizeof *ln);
		l->line_off = (uint32_t)p->lines.n;
		l->nline = (uint32_t)nf;
		l->is_folded = false;
		p->lines.n += (size_t)nf;
		done++;
	}
	cprof_mapping *mp = &p->mappings.v[mi];
	mp->has_functions |= hf;
	mp->has_filenames |= hn;
	mp->has_line_numbers |= hl;
	mp->has_inline_frames |= hi;
	return done;
}

static int64_t do_run(run *r)
{
	cprof_profile *p = r->p;
	bool force = r->o && r->o->force;
	size_t nm = p->mappings.n;
	if (nm == 0)
		return 0;
	/* locations grouped by mapping: counting sort */
	uint32_t *cnt = calloc(nm + 1, sizeof *cnt);
	uint32_t *order = malloc(cp_mul(p->locations.n ? p->locations.n : 1, sizeof *order));
	int64_t total = 0;
	if (!cnt || !order) {
		total = CPROF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->locations.n; i++)
		if (p->locations.v[i].mapping < nm)
			cnt[p->locations.v[i].mapping + 1]++;
	for (size_t i = 0; i < nm; i++)
		cnt[i + 1] += cnt[i];
	{
		uint32_t *pos = malloc(cp_mul(nm, sizeof *pos));
		if (!pos) {
			total = CPROF_ENOMEM;
			goto out;
		}
		memcpy(pos, cnt, nm * sizeof *pos);
		for (size_t i = 0; i < p->locations.n; i++) {
			uint32_t mi = p->locations.v[i].mapping;
			if (mi < nm)
				order[pos[mi]++] = (uint32_t)i;
		}
		free(pos);
	}
	bool missing = false;
	for (uint32_t mi = 0; mi < nm; mi++) {
		size_t n = cnt[mi + 1] - cnt[mi];
		cprof_mapping *mp = &p->mappings.v[mi];
		if (n == 0)
			continue;
		if (!force && (mp->has_functions || mp->has_filenames || mp->has_line_numbers))
			continue;
		/* Unlike pprof, a mapping whose locations all have lines already
		 * (folded stacks, text profiles with names) is left alone, without
		 * warnings about its missing file, unless forced. */
		if (!force) {
			size_t k = 0;
			while (k < n && p->locations.v[order[cnt[mi] + k]].nline)
				k++;
			if (k == n)
				continue;
		}
		char *file = strdup(cprof_s(p, mp->file));
		char *bid = strdup(cprof_s(p, mp->build_id));
		if (!file || !bid) {
			free(file);
			free(bid);
			total = CPROF_ENOMEM;
			goto out;
		}
		char *found = NULL;
		int rc = locate(r, file, bid, &found);
		if (rc < 0) {
			free(file);
			free(bid);
			total = rc;
			goto out;
		}
		if (found) {
			cprof_str s = cprof_intern_cstr(p, found);
			if (s == CPROF_NONE) {
				free(found);
				free(file);
				free(bid);
				total = CPROF_ENOMEM;
				goto out;
			}
			p->mappings.v[mi].file = s;
			free(file);
			file = found;
		}
		mp = &p->mappings.v[mi];
		const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		char name[600];
		snprintf(name, sizeof name, "%s%s%s%s", base, *bid ? " (build ID " : "", bid,
			 *bid ? ")" : "");
		int64_t got = 0;
		if (!*file) {
			if (mi == 0)
				warnf(r, "Main binary filename not available.");
			else
				missing = true;
		} else if (unsymbolizable(file) || (!*bid && is_http_url(file))) {
			/* nothing to read */
		} else {
			module *m = module_get(r, file);
			if (!m) {
				got = CPROF_ENOMEM;
			} else if (m->fail) {
				warnf(r, "Local symbolization failed for %s: %s", name, m->fail);
				missing = true;
			} else if (*bid && *m->bid && strcmp(bid, m->bid) != 0) {
				warnf(r, "Local symbolization failed for %s: build ID mismatch", name);
			} else {
				got = symbolize_mapping(r, mi, m, order + cnt[mi], n);
			}
		}
		free(file);
		free(bid);
		if (got < 0) {
			total = got;
			goto out;
		}
		total += got;
	}
	if (missing) {
		/* pprof's two lines, as two warnings (a warning's line is
		 * escaped, a newline in it included) */
		warnf(r, "Some binary filenames not available. Symbolization may be incomplete.");
		warnf(r, "Try setting PPROF_BINARY_PATH to the search path for local binaries.");
	}
out:
	free(cnt);
	free(order);
	return total;
}

int64_t cprof_symbolizer_run(cprof_symbolizer *s, cprof_profile *p, const cprof_symopts *o,
			     cprof_error *err)
{
	if (!s || !p)
		return cprof_seterr(err, CPROF_EINVAL, "no symbolizer or profile");
	run r = { .s = s, .p = p, .o = o, .err = err };
	int64_t rc = split_path(&r);
	if (rc == 0) {
		for (size_t i = 0; i < p->functions.n; i++)
			if (p->functions.v[i].id > r.maxid)
				r.maxid = p->functions.v[i].id;
		rc = do_run(&r);
	}
	run_free(&r);
	if (rc < 0)
		return cprof_seterr(err, (int)rc, "symbolization: %s", cprof_strerror((int)rc));
	return rc;
}

int64_t cprof_symbolize(cprof_profile *p, const cprof_symopts *o, cprof_error *err)
{
	cprof_symbolizer *s = cprof_symbolizer_new();
	if (!s)
		return cprof_seterr(err, CPROF_ENOMEM, "symbolization: out of memory");
	int64_t rc = cprof_symbolizer_run(s, p, o, err);
	cprof_symbolizer_free(s);
	return rc;
}
