/*
 * plugin.h - the interface between the light runtime (libcprof.so, which
 * links only libc's libraries) and its two plugins, loaded with dlopen
 * when first used (plugin_load.c):
 *
 *   libcprof-sym.so   symbolization (libdw, libelf), C++ demangling
 *                     (libstdc++) and gzip compression (zlib)
 *   libcprof-http.so  the /debug/pprof/ endpoint's server (libmicrohttpd,
 *                     GnuTLS): http_server.c
 *
 * Each plugin exports one function (its only dynamic symbol, see
 * plugin.map) that returns a table of functions; the light library
 * finds it with one dlsym.  The HTTP plugin calls back into the runtime
 * through a table the runtime gives it (plugin_http.c defines the rt_*
 * functions http_server.c uses as calls through it).  Both sides are
 * built from the same sources in one build: a table whose abi or size
 * differs is refused.  libcprof.a (linked into programs) has no plugins:
 * it links everything directly.
 */
#ifndef CPROF_PLUGIN_H
#define CPROF_PLUGIN_H

#include "cprof.h"
#include "cprof_core.h"
#include "http_int.h"
#include "rt_base.h"

#include <zlib.h>

#define RT_PLUGIN_ABI 1
#define RT_PLUGIN_SYM_FILE "libcprof-sym.so"
#define RT_PLUGIN_HTTP_FILE "libcprof-http.so"

typedef struct rt_sym_api {
	uint32_t abi, size;
	cprof_symbolizer *(*symbolizer_new)(void);
	void (*symbolizer_free)(cprof_symbolizer *s);
	int64_t (*symbolizer_run)(cprof_symbolizer *s, cprof_profile *p, const cprof_symopts *o,
				  cprof_error *err);
	int (*demangle_profile)(cprof_profile *p, int mode, bool force);
	int (*elf_build_id)(const char *path, char *hex, size_t hexsz, cprof_error *err);
	/* the core's decoder (gzip, every format), for a profile an earlier
	 * image of the process handed over at exec */
	int (*decode)(const void *data, size_t len, cprof_profile **out, cprof_error *err);
	/* zlib's, for the encoder's gzip stream */
	int (*deflate_init2)(z_streamp s, int level, int method, int wbits, int memlevel, int strategy,
			     const char *version, int stream_size);
	int (*deflate)(z_streamp s, int flush);
	int (*deflate_end)(z_streamp s);
} rt_sym_api;
typedef const rt_sym_api *(*rt_sym_entry)(uint32_t abi);
#define RT_PLUGIN_SYM_ENTRY "cprof_plugin_sym"

/* What http_server.c needs of the runtime. */
typedef struct rt_http_host {
	uint32_t abi, size;
	void (*buf_add)(rt_buf *b, const void *d, size_t n);
	void (*buf_free)(rt_buf *b);
	void (*answer)(const rt_http_route *r, const char *method, const char *query,
		       const void *body, size_t bodylen, int cancel_fd, int client_fd,
		       const rt_http_limits *lim, rt_http_resp *resp);
	bool (*auth_ok)(const char *header, const char *token);
	void (*error)(rt_http_resp *resp, int status, const char *msg);
	void (*parse)(const char *method, const char *path, const char *query,
		      const rt_http_limits *lim, rt_http_route *out);
	void (*resp_free)(rt_http_resp *resp);
	int (*runtime_thread_create)(pthread_t *th, const pthread_attr_t *attr, const char *name,
				     void *(*fn)(void *), void *arg);
	void (*self_enter)(void);
	void (*self_leave)(void);
	void (*set_error)(const char *msg);
} rt_http_host;

typedef struct rt_http_api {
	uint32_t abi, size;
	int (*start)(const cprof_http_options *o);
	int (*stop)(void);
	int (*port)(void);
	const char *(*addr)(void);
	void (*counters)(rt_http_counters *c);
	bool (*port_taken)(void);
} rt_http_api;
typedef const rt_http_api *(*rt_http_entry)(const rt_http_host *host, uint32_t abi);
#define RT_PLUGIN_HTTP_ENTRY "cprof_plugin_http"

/* plugin_load.c: the plugin's table, loading it on first use (once per
 * process; a failure is reported once on stderr and remembered).  Called
 * only by code that writes a profile or serves the endpoint (the
 * runtime's threads, or a program thread inside the API call or exit()
 * that asked for it): never from a hook, a signal handler or a
 * constructor.  Thread-safe; NULL when the plugin cannot be loaded. */
const rt_sym_api *rt_plugin_sym(void);
const rt_http_api *rt_plugin_http(void);
/* The path of file in the plugins' directory (CPROF_PLUGIN, else
 * libcprof.so's own): 0, or -1 when too long.  Thread-safe. */
int rt_plugin_file(const char *file, char *out, size_t n);
#define RT_SYM_HELPER_FILE "cprof-symbolize"

/* The table if the plugin is loaded already, else NULL (never loads).
 * [AS-safe] */
const rt_sym_api *rt_plugin_sym_loaded(void);

#endif
