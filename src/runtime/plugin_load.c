/*
 * plugin_load.c - the light runtime's side of the plugins (plugin.h):
 * finding and loading libcprof-sym.so / libcprof-http.so on first use,
 * and the functions the rest of the runtime calls by their usual names
 * (cprof_symbolizer_*, cprof_demangle_profile, cprof_elf_build_id,
 * cprof_http_*, rt_http_addr, rt_http_get_counters, and zlib's deflate
 * trio for the profile encoder), which forward to a plugin.  Compiled into
 * libcprof.so only: libcprof.a links the real functions instead.
 *
 * Where: the directory named by CPROF_PLUGIN, else libcprof.so's own
 * directory (dladdr of this file's code, made absolute against the
 * working directory at load time, since LD_PRELOAD may name it relative).
 *
 * When: symbolization loads libcprof-sym.so only when a profile has
 * locations to name (a profile with no samples, /bin/true's, loads
 * nothing) and is not a profile file: those are named by the helper
 * process cprof-symbolize once written (sym_spawn.c), so only the
 * endpoint and the API's descriptor writes load the plugin; gzip uses the plugin's zlib when it is loaded, else writes a
 * valid gzip stream of stored (uncompressed) blocks; build IDs are read
 * here from the ELF notes.  The endpoint loads libcprof-http.so when it
 * starts.  A plugin that cannot be loaded is reported once on stderr
 * ("cprof: cannot load PATH: WHY; ...") and remembered: profiles are then
 * written unsymbolized (addresses and mappings, which `cprof -symbolize`
 * or pprof can name later) and uncompressed inside gzip, and the endpoint
 * refuses to start with that error.  The program itself runs on.
 *
 * Threads: each plugin's state is an atomic (0 not tried, 1 loading, 2
 * loaded, 3 failed); one thread loads, others wait for it.  A forked
 * child that inherited "loading" tries again.  Loading happens only in
 * the callers plugin.h names, never in hooks or signal handlers.
 */
#include "plugin.h"
#include "rt_base.h"
#include "rt_profile.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- finding and loading ------------------------------------------------------ */

static char self_dir[PATH_MAX];   /* libcprof.so's directory, set at load */

/* First of the library's constructors (priority 101): the others may
 * start threads that load a plugin. */
__attribute__((constructor(101)))
static void plugin_dir_init(void)
{
	Dl_info di;
	if (!dladdr((void *)plugin_dir_init, &di) || !di.dli_fname)
		return;
	const char *f = di.dli_fname;
	const char *slash = strrchr(f, '/');
	size_t dl = slash ? (size_t)(slash - f) : 0;
	char cwd[PATH_MAX] = "";
	if (f[0] != '/' && !getcwd(cwd, sizeof cwd))
		return;
	int n = f[0] == '/' ? snprintf(self_dir, sizeof self_dir, "%.*s", (int)dl, f)
			    : snprintf(self_dir, sizeof self_dir, "%s%s%.*s", cwd, dl ? "/" : "", (int)dl, f);
	if (n < 0 || (size_t)n >= sizeof self_dir)
		self_dir[0] = 0;
}

typedef struct plugin {
	atomic_int state;          /* 0 not tried, 1 loading, 2 loaded, 3 failed */
	const void *_Atomic api;
	const char *file, *entry, *without;
} plugin;

static plugin sym_pl = { .file = RT_PLUGIN_SYM_FILE, .entry = RT_PLUGIN_SYM_ENTRY,
			 .without = "profiles are written without symbols, uncompressed" };
static plugin http_pl = { .file = RT_PLUGIN_HTTP_FILE, .entry = RT_PLUGIN_HTTP_ENTRY,
			  .without = "the endpoint cannot start" };
static char http_why[PATH_MAX + 256];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[PATH_MAX + 512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
}

static const rt_http_host http_host;

int rt_plugin_file(const char *file, char *out, size_t n)
{
	const char *dir = getenv("CPROF_PLUGIN");
	if (!dir || !*dir)
		dir = self_dir;
	int k = snprintf(out, n, "%s%s%s", dir, *dir ? "/" : "", file);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

static const void *open_plugin(plugin *pl)
{
	char path[PATH_MAX];
	if (rt_plugin_file(pl->file, path, sizeof path) != 0) {
		say("cprof: cannot load %s: path too long; %s", pl->file, pl->without);
		return NULL;
	}
	rt_self_enter();   /* its allocations (and its libraries') are ours */
	/* libc's dlopen, not the runtime's (modules.c): the plugin and its
	 * libraries run only on the runtime's behalf, never in a sampled
	 * stack, so they get no unwind tables (tens of ms for libdw's and
	 * GnuTLS's dependencies) until the program's own next dlopen */
	void *(*real_dlopen)(const char *, int) =
		(void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	void *h = real_dlopen ? real_dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
	const void *api = NULL;
	const char *why = NULL;
	if (!h) {
		why = dlerror();
	} else if (pl == &sym_pl) {
		rt_sym_entry f = (rt_sym_entry)dlsym(h, pl->entry);
		const rt_sym_api *a = f ? f(RT_PLUGIN_ABI) : NULL;
		if (a && a->abi == RT_PLUGIN_ABI && a->size == sizeof *a)
			api = a;
	} else {
		rt_http_entry f = (rt_http_entry)dlsym(h, pl->entry);
		const rt_http_api *a = f ? f(&http_host, RT_PLUGIN_ABI) : NULL;
		if (a && a->abi == RT_PLUGIN_ABI && a->size == sizeof *a)
			api = a;
	}
	rt_self_leave();
	if (h && !api)
		why = "not a plugin of this libcprof.so (another build?)";
	if (!api) {
		say("cprof: cannot load %s: %s; %s", path, why ? why : "unknown error", pl->without);
		if (pl == &http_pl)
			snprintf(http_why, sizeof http_why, "cannot load %s: %s", path, why ? why : "?");
	}
	return api;
}

static void plugins_fork_child(void)
{
	/* a thread of the parent was loading: it does not exist here */
	int one = 1;
	atomic_compare_exchange_strong(&sym_pl.state, &one, 0);
	one = 1;
	atomic_compare_exchange_strong(&http_pl.state, &one, 0);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void plugins_atfork(void)
{
	pthread_atfork(NULL, NULL, plugins_fork_child);
}

static const void *get(plugin *pl)
{
	for (;;) {
		int s = atomic_load(&pl->state);
		if (s == 2)
			return atomic_load(&pl->api);
		if (s == 3)
			return NULL;
		int zero = 0;
		if (s == 0)
			pthread_once(&atfork_once, plugins_atfork);
		if (s == 0 && atomic_compare_exchange_strong(&pl->state, &zero, 1)) {
			const void *api = open_plugin(pl);
			atomic_store(&pl->api, api);
			atomic_store(&pl->state, api ? 2 : 3);
			return api;
		}
		if (s == 1) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}

const rt_sym_api *rt_plugin_sym(void)
{
	return get(&sym_pl);
}

const rt_sym_api *rt_plugin_sym_loaded(void)
{
	return atomic_load(&sym_pl.state) == 2 ? atomic_load(&sym_pl.api) : NULL;
}

const rt_http_api *rt_plugin_http(void)
{
	return get(&http_pl);
}

/* ---- symbolization -------------------------------------------------------------------- */

/* The runtime asks for a symbolizer before it knows whether the profile
 * has anything to name: a handle is made here, and the plugin's symbolizer
 * only when a run has locations to symbolize. */
struct cprof_symbolizer {
	cprof_symbolizer *real;
};

cprof_symbolizer *cprof_symbolizer_new(void)
{
	return calloc(1, sizeof(cprof_symbolizer));
}

void cprof_symbolizer_free(cprof_symbolizer *s)
{
	if (!s)
		return;
	const rt_sym_api *a = rt_plugin_sym_loaded();
	if (s->real && a)
		a->symbolizer_free(s->real);
	free(s);
}

int64_t cprof_symbolizer_run(cprof_symbolizer *s, cprof_profile *p, const cprof_symopts *o,
			     cprof_error *err)
{
	bool any = false;
	for (size_t i = 0; i < p->locations.n && !any; i++)
		any = p->locations.v[i].mapping != CPROF_NONE && p->locations.v[i].nline == 0;
	if (!any)
		return 0;
	if (rt_sym_deferring() > 0) {
		/* a profile file: named by the helper process once written
		 * (sym_spawn.c), never with libdw in this process */
		rt_sym_mark_pending();
		return 0;
	}
	const rt_sym_api *a = rt_plugin_sym();
	if (!a)
		return 0;   /* unsymbolized: addresses and mappings only */
	if (!s->real && !(s->real = a->symbolizer_new()))
		return CPROF_ENOMEM;
	return a->symbolizer_run(s->real, p, o, err);
}

int cprof_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	/* the decoder needs zlib: the symbolizer's plugin carries it */
	const rt_sym_api *a = rt_plugin_sym();
	if (!a) {
		*out = NULL;
		return cprof_seterr(err, CPROF_EUNKNOWN, "cannot decode: %s is not loaded",
				    RT_PLUGIN_SYM_FILE);
	}
	return a->decode(data, len, out, err);
}

int cprof_demangle_profile(cprof_profile *p, int mode, bool force)
{
	/* names come from the plugin's symbolizer only */
	const rt_sym_api *a = rt_plugin_sym_loaded();
	return a ? a->demangle_profile(p, mode, force) : 0;
}

/* The GNU build ID from the ELF file's PT_NOTE segments (where the linker
 * puts .note.gnu.build-id in every loadable object, the only kind a
 * process maps). */
static bool note_bid(const uint8_t *p, size_t n, char *hex, size_t hexsz)
{
	while (n >= 12) {
		uint32_t nsz, dsz, type;
		memcpy(&nsz, p, 4);
		memcpy(&dsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		size_t nal = ((size_t)nsz + 3) & ~(size_t)3, dal = ((size_t)dsz + 3) & ~(size_t)3;
		if (nal > n - 12 || dal > n - 12 - nal)
			return false;
		if (type == NT_GNU_BUILD_ID && nsz == 4 && memcmp(p + 12, "GNU", 4) == 0 && dsz > 0) {
			if (hexsz < 2 * (size_t)dsz + 1)
				return false;
			static const char digits[] = "0123456789abcdef";
			const uint8_t *d = p + 12 + nal;
			for (uint32_t i = 0; i < dsz; i++) {
				hex[2 * i] = digits[d[i] >> 4];
				hex[2 * i + 1] = digits[d[i] & 15];
			}
			hex[2 * dsz] = 0;
			return true;
		}
		p += 12 + nal + dal;
		n -= 12 + nal + dal;
	}
	return false;
}

static int elf_bid(const uint8_t *b, size_t size, char *hex, size_t hexsz)
{
	Elf64_Ehdr eh;
	if (size < sizeof eh || memcmp(b, ELFMAG, SELFMAG) != 0 || b[EI_CLASS] != ELFCLASS64)
		return CPROF_EFORMAT;
	memcpy(&eh, b, sizeof eh);
	if (eh.e_phoff && eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phoff < size &&
	    eh.e_phnum <= (size - eh.e_phoff) / sizeof(Elf64_Phdr))
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			memcpy(&ph, b + eh.e_phoff + i * sizeof ph, sizeof ph);
			if (ph.p_type == PT_NOTE && ph.p_offset <= size && ph.p_filesz <= size - ph.p_offset &&
			    note_bid(b + ph.p_offset, ph.p_filesz, hex, hexsz))
				return 1;
		}
	return 0;
}

int cprof_elf_build_id(const char *path, char *hex, size_t hexsz, cprof_error *err)
{
	if (hexsz)
		hex[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cprof_seterr(err, CPROF_EIO, "%s", strerror(errno));
	struct stat st;
	int rc = CPROF_EFORMAT;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img != MAP_FAILED) {
			rc = elf_bid(img, (size_t)st.st_size, hex, hexsz);
			munmap(img, (size_t)st.st_size);
		}
	}
	close(fd);
	if (rc == CPROF_EFORMAT)
		return cprof_seterr(err, CPROF_EFORMAT, "not an ELF file");
	return rc;
}

/* ---- gzip for the encoder (src/core/pb_encode.c) ------------------------------------------ */

/* With the plugin loaded, zlib's deflate.  Without it, a stored stream:
 * the gzip header, the input as stored blocks (at most 65535 bytes each),
 * an empty final block, then CRC-32 and length.  pb_encode gives at least
 * 64 KiB of output room per call, so a block's header and data are always
 * written whole.  Which of the two a stream uses is decided at init and
 * kept in its state (a stored stream's starts with STORED_MAGIC; zlib's
 * starts with a pointer back to the stream). */
#define STORED_MAGIC 0x63707266736b6970ull

typedef struct stored {
	uint64_t magic;
	uint32_t crc, isize;
	bool header, done;
} stored;

static uint32_t crc_tab[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[i] = c;
	}
}

static bool is_stored(z_streamp s)
{
	return s->state && ((const stored *)(const void *)s->state)->magic == STORED_MAGIC;
}

int deflateInit2_(z_streamp s, int level, int method, int wbits, int memlevel, int strategy,
		  const char *version, int stream_size)
{
	const rt_sym_api *a = rt_plugin_sym_loaded();
	if (a)
		return a->deflate_init2(s, level, method, wbits, memlevel, strategy, version, stream_size);
	if (wbits < 16 + 8)
		return Z_STREAM_ERROR;   /* only gzip streams are written here */
	pthread_once(&crc_once, crc_init);
	stored *st = calloc(1, sizeof *st);
	if (!st)
		return Z_MEM_ERROR;
	st->magic = STORED_MAGIC;
	st->crc = 0xffffffffu;
	s->state = (struct internal_state *)(void *)st;
	s->total_in = s->total_out = 0;
	return Z_OK;
}

static void put(z_streamp s, const void *d, size_t n)
{
	memcpy(s->next_out, d, n);
	s->next_out += n;
	s->avail_out -= (uInt)n;
	s->total_out += n;
}

int deflate(z_streamp s, int flush)
{
	if (!is_stored(s)) {
		const rt_sym_api *a = rt_plugin_sym_loaded();
		return a ? a->deflate(s, flush) : Z_STREAM_ERROR;
	}
	stored *st = (stored *)(void *)s->state;
	if (st->done)
		return Z_STREAM_END;
	if (!st->header) {
		static const uint8_t gz[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
		if (s->avail_out < sizeof gz)
			return Z_BUF_ERROR;
		put(s, gz, sizeof gz);
		st->header = true;
	}
	while (s->avail_in > 0 && s->avail_out > 5) {
		uInt n = s->avail_in < 65535 ? s->avail_in : 65535;
		if (n > s->avail_out - 5)
			n = s->avail_out - 5;
		uint8_t h[5] = { 0, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n, (uint8_t)(~n >> 8) };
		put(s, h, 5);
		uint32_t c = st->crc;
		for (uInt i = 0; i < n; i++)
			c = crc_tab[(c ^ s->next_in[i]) & 0xff] ^ (c >> 8);
		st->crc = c;
		st->isize += n;
		put(s, s->next_in, n);
		s->next_in += n;
		s->avail_in -= n;
		s->total_in += n;
	}
	if (flush != Z_FINISH || s->avail_in > 0)
		return Z_OK;
	if (s->avail_out < 13)
		return Z_OK;
	uint32_t crc = st->crc ^ 0xffffffffu;
	uint8_t t[13] = { 1, 0, 0, 0xff, 0xff,
			  (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24),
			  (uint8_t)st->isize, (uint8_t)(st->isize >> 8), (uint8_t)(st->isize >> 16),
			  (uint8_t)(st->isize >> 24) };
	put(s, t, sizeof t);
	st->done = true;
	return Z_STREAM_END;
}

int deflateEnd(z_streamp s)
{
	if (!is_stored(s)) {
		const rt_sym_api *a = rt_plugin_sym_loaded();
		return a ? a->deflate_end(s) : Z_STREAM_ERROR;
	}
	free(s->state);
	s->state = NULL;
	return Z_OK;
}

/* ---- the endpoint ------------------------------------------------------------------------ */

static void host_set_error(const char *msg)
{
	rt_set_error("%s", msg);
}

static const rt_http_host http_host = {
	.abi = RT_PLUGIN_ABI, .size = sizeof(rt_http_host),
	.buf_add = rt_buf_add, .buf_free = rt_buf_free, .answer = rt_http_answer,
	.auth_ok = rt_http_auth_ok, .error = rt_http_error, .parse = rt_http_parse,
	.resp_free = rt_http_resp_free, .runtime_thread_create = rt_runtime_thread_create,
	.self_enter = rt_self_enter, .self_leave = rt_self_leave, .set_error = host_set_error,
};

int cprof_http_start(const cprof_http_options *o)
{
	const rt_http_api *a = rt_plugin_http();
	if (!a) {
		rt_set_error("%s", http_why[0] ? http_why : "cannot load " RT_PLUGIN_HTTP_FILE);
		return CPROF_ERR_SYSTEM;
	}
	return a->start(o);
}

static const rt_http_api *http_loaded(void)
{
	return atomic_load(&http_pl.state) == 2 ? atomic_load(&http_pl.api) : NULL;
}

int cprof_http_stop(void)
{
	const rt_http_api *a = http_loaded();
	if (a)
		return a->stop();
	rt_set_error("cprof_http_stop: not serving");
	return CPROF_ERR_NOT_RUNNING;
}

int cprof_http_port(void)
{
	const rt_http_api *a = http_loaded();
	if (a)
		return a->port();
	rt_set_error("cprof_http_port: not serving");
	return CPROF_ERR_NOT_RUNNING;
}

const char *rt_http_addr(void)
{
	const rt_http_api *a = http_loaded();
	return a ? a->addr() : "";
}

bool rt_http_port_taken(void)
{
	const rt_http_api *a = http_loaded();
	return a && a->port_taken();
}

void rt_http_get_counters(rt_http_counters *c)
{
	const rt_http_api *a = http_loaded();
	if (a)
		a->counters(c);
	else
		memset(c, 0, sizeof *c);
}
