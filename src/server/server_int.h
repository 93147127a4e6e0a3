/*
 * server_int.h - what the parts of `cprof server` share (src/server): the
 * growable output buffer, label sets as the ingest and scrape paths build
 * them, the parsers of the push API (ingest_parse.c), and the entry points
 * of each part (server.c, ingest.c, query_http.c, scrape.c, config.c,
 * rules.c).  The storage (store.h, selector.c, timeparse.c) is its own
 * interface; this header only adds the front half.
 *
 * Layering: src/core <- src/report <- src/server.  Nothing here includes a
 * header of src/cli.
 */
#ifndef CPROF_SERVER_INT_H
#define CPROF_SERVER_INT_H

#include "cprof_core.h"
#include "store.h"
#include "cprof_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- bounds of what a client may send ------------------------------------ */

/* labels per series, name and value lengths: store.h's SRV_LABELS_MAX,
 * SRV_LABEL_NAME_MAX, SRV_LABEL_VALUE_MAX */
#define SRV_ERR_MAX 256

/* ---- an output buffer ----------------------------------------------------- */

/* The core's cprof_buf (a malloc'd, growable byte buffer with a ceiling:
 * once an append would pass `max` (0 = 1 GiB), or memory runs out, `err`
 * is set and later appends are ignored, so a writer checks once at the
 * end).  s stays NULL until something is appended.  Not thread-safe; owned
 * by whoever made it. */
typedef cprof_buf srv_buf;

void srv_buf_add(srv_buf *b, const void *s, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[0..n) as a JSON string, quotes included (bytes that are not valid
 * UTF-8 become U+FFFD). */
void srv_buf_json_str(srv_buf *b, const char *s, size_t n);
void srv_buf_free(srv_buf *b);

/* ---- label sets ------------------------------------------------------------ */

/* Labels of a series, as parsed from a push's name or built by a scrape:
 * sorted by name, names unique, each name and value a NUL-terminated copy
 * inside the set (no allocation).  A plain value; copy it freely.
 * srv_lset_view gives the store's view (store.h srv_labels) of it. */
typedef struct srv_lab {
	char name[SRV_LABEL_NAME_MAX + 1];
	char value[SRV_LABEL_VALUE_MAX + 1];
} srv_lab;

typedef struct srv_lset {
	size_t n;
	srv_lab v[SRV_LABELS_MAX];
} srv_lset;

/* Set name=value (replacing a value already there), keeping the set sorted.
 * A name is Prometheus' charset ([a-zA-Z_][a-zA-Z0-9_]*) after '.', '-'
 * and '/' become '_' (Pyroscope's sanitisation: otel.scope.name ->
 * otel_scope_name).  0, or -1 with err: a name empty or too long after
 * that, a value too long, too many labels. */
int srv_lset_set(srv_lset *l, const char *name, size_t nn, const char *value, size_t vn,
		   char *err, size_t errsz);
const char *srv_lset_get(const srv_lset *l, const char *name);
/* The store's view of l: arr (SRV_LABELS_MAX entries) points into l, which
 * must outlive the view. */
void srv_lset_view(const srv_lset *l, srv_label *arr, srv_labels *view);

/* A label set packed into one malloc'd block of its own size (a srv_lset
 * is ~74 KB whatever it holds; a target's labels live as long as the
 * target, thousands of them): the labels' names and values point into the
 * block's tail.  Immutable once made, so any thread may read it; owned by
 * whoever made it, freed with free().  NULL: out of memory. */
typedef struct srv_lpack {
	size_t n;
	srv_label v[];
} srv_lpack;

srv_lpack *srv_lpack_new(const srv_labels *l);
/* l becomes a copy of p's labels (which fit: they came from a srv_lset). */
void srv_lset_of_pack(srv_lset *l, const srv_lpack *p);
const char *srv_lpack_get(const srv_lpack *p, const char *name);
static inline srv_labels srv_lpack_view(const srv_lpack *p)
{
	return (srv_labels){ p->v, p->n };
}

/* ---- the push API's parsers (ingest_parse.c: pure, allocation-free except
 *      srv_lines_to_folded's output; thread-safe) ------------------------- */

/* Pyroscope's `name` parameter: APP or APP{k=v,k2=v2,...}.  APP becomes
 * the label service_name; values are unquoted and may hold anything but
 * ',' and '}' (dots, slashes, colons: what @pyroscope/nodejs sends), or
 * are double-quoted with \" and \\ escapes.  White space around names and
 * values is dropped.  Reserved names (__x__) are not labels; the value of
 * __name__ (Pyroscope's metric name) goes to metric (NULL: dropped;
 * truncated to metricsz - 1 bytes; "" when absent).  0, or -1 with one
 * line in err. */
int srv_parse_app_name(const char *s, size_t n, srv_lset *out, char *metric, size_t metricsz,
		       char *err, size_t errsz);

/* The part named `field` of a multipart/form-data body whose Content-Type
 * is ctype (its boundary parameter is read from there).  *out points into
 * body.  0; 1 when the body is well-formed but has no such part; -1 with
 * err when ctype or body is malformed. */
int srv_multipart_field(const char *ctype, const void *body, size_t len, const char *field,
			const void **out, size_t *outlen, char *err, size_t errsz);

/* Pyroscope's `lines` format (one stack per line, frames ';'-separated,
 * each line one sample) as folded stacks ("... 1" per line) in a new
 * malloc'd buffer of at most max bytes.  0, or -1 with err (too large,
 * out of memory). */
int srv_lines_to_folded(const void *body, size_t len, size_t max, char **out, size_t *outlen,
			char *err, size_t errsz);

/* A push's from/until: Unix time in seconds, milliseconds, microseconds or
 * nanoseconds (told apart by magnitude, as Pyroscope does) into
 * nanoseconds.  0, or -1 when s is not a non-negative integer. */
int srv_parse_push_time(const char *s, int64_t *ns);

/* ---- profile kinds --------------------------------------------------------- */

/* The kind of a pushed profile from its sample types: "cpu", "wall",
 * "heap", "allocs", "mutex", "goroutine", "threadcreate", or "other" (a
 * scrape knows the kind from its path).  Static strings.  Thread-safe. */
const char *srv_kind_of_profile(const cprof_profile *p);

/* The kind a pushed profile is stored as.  Its sample types decide
 * (srv_kind_of_profile) but cannot tell Go's block profile from its mutex
 * profile (both contentions/count + delay/nanoseconds), nor Go's allocs
 * from its heap profile; the push says which, first that wins:
 *   type      the request's type= parameter (cprof's): a kind name, or
 *             Pyroscope's process_cpu / goroutines; -1 with err when it
 *             is none or contradicts the sample types (cpu as heap...);
 *   metric    the __name__ label of name=APP{...} (Pyroscope's metric
 *             name: mutex, block, process_cpu...); ignored when it
 *             contradicts;
 *   stc_hint  from the sample_type_config part (srv_stc_kind_hint).
 * Any may be NULL or "".  *kind is a static string.  Thread-safe. */
int srv_push_kind(const cprof_profile *p, const char *type, const char *metric,
		  const char *stc_hint, const char **kind, char *err, size_t errsz);

/* The kind hinted by a push's sample_type_config JSON part (Pyroscope's
 * clients: {"delay":{"display-name":"block_duration",...},...}): "block"
 * or "mutex" when its display names start block_ or mutex_ (not both),
 * else NULL.  Bounded by n; no allocation; thread-safe. */
const char *srv_stc_kind_hint(const void *json, size_t n);

/* ---- configuration (config.c) --------------------------------------------- */

#define SRV_PROF_MAX 16             /* profiles scraped per job */
#define SRV_NAME_MAX 128

/* One profile a job scrapes: profiling_config.pprof_config.<name>. */
typedef struct srv_pprof_cfg {
	char name[64];              /* the config's name (process_cpu, memory, heap...) */
	char kind[64];              /* the stored kind (cpu, allocs, heap...) */
	char path[256];             /* e.g. /debug/pprof/allocs */
	bool enabled;
	bool delta;                 /* cumulative: stored as deltas between scrapes
				     * (cpu: asked for with seconds=) */
	int64_t seconds_ns;         /* cpu: the profile's length; 0 = interval - 1 s */
} srv_pprof_cfg;

typedef struct srv_target_cfg {
	char base[300];             /* scheme://host:port (no trailing /) */
	char instance[260];         /* host:port */
	char metrics_path[256];     /* the job's, or __metrics_path__ after relabelling */
	srv_lpack *labels;          /* job, instance and the static_config's labels;
				     * owned (srv_target_cfg_clear frees it) */
	uint64_t key;               /* identity: job, base, metrics path, labels */
} srv_target_cfg;

#define SRV_PATH_MAX 512

/* How the scrapers reach a job's targets (Prometheus' HTTP client config,
 * as Parca inlines it): tls_config, basic_auth, authorization and the older
 * bearer_token / bearer_token_file.  File names are resolved against the
 * config file's folder; files of secrets are read at each request (a
 * rotated token is used at once), trailing white space dropped. */
typedef struct srv_http_cfg {
	char ca_file[SRV_PATH_MAX], cert_file[SRV_PATH_MAX], key_file[SRV_PATH_MAX];
	bool insecure_skip_verify;
	bool basic;                 /* basic_auth: username, password or password_file */
	char username[256], password[256], password_file[SRV_PATH_MAX];
	char auth_type[32];         /* "" = no Authorization header; else its scheme
				     * (Bearer) with credentials or credentials_file */
	char credentials[1024], credentials_file[SRV_PATH_MAX];
} srv_http_cfg;

/* ---- relabelling (relabel.c) ------------------------------------------------ */

/* In the order of relabel.c's action table (srv_relabel_actions). */
typedef enum srv_relabel_action {
	SRV_RL_REPLACE, SRV_RL_KEEP, SRV_RL_DROP, SRV_RL_LABELMAP, SRV_RL_LABELDROP,
	SRV_RL_LABELKEEP, SRV_RL_HASHMOD, SRV_RL_LOWERCASE, SRV_RL_UPPERCASE,
	SRV_RL_KEEPEQUAL, SRV_RL_DROPEQUAL, SRV_RL_NACTIONS
} srv_relabel_action;

/* What an action reads and needs, for the config's checks (every one of
 * them reads this table, so a new action is its enum value, its row and
 * its case in srv_relabel_apply): one row per action, indexed by
 * srv_relabel_action. */
typedef struct srv_relabel_action_info {
	const char *name;           /* as written in the config (any case) */
	bool needs_source;          /* source_labels required */
	bool needs_target;          /* target_label required */
	bool on_names;              /* regex matches label names: no
				     * source_labels nor target_label */
	bool replacement;           /* takes replacement */
	bool regex;                 /* takes regex */
	bool modulus;               /* needs modulus */
	bool separator;             /* takes separator */
	bool target_expands;        /* target_label may hold $-references
				     * (checked after expansion; else it must
				     * be a label name as written) */
} srv_relabel_action_info;

extern const srv_relabel_action_info srv_relabel_actions[SRV_RL_NACTIONS];

#define SRV_RELABEL_SOURCES_MAX 16
#define SRV_RELABEL_MAX 100         /* relabel_configs per job */

/* One relabel_configs entry, Prometheus' semantics (see relabel.c). */
typedef struct srv_relabel {
	srv_relabel_action action;
	char source[SRV_RELABEL_SOURCES_MAX][SRV_LABEL_NAME_MAX + 1];
	size_t nsource;
	char separator[64];         /* default ";" */
	char target[SRV_LABEL_NAME_MAX + 1];
	char replacement[SRV_LABEL_VALUE_MAX + 1];     /* default "$1" */
	void *re;                   /* pcre2_code of regex (default "(.*)"),
				     * anchored at both ends; owned */
	uint64_t modulus;           /* hashmod's */
} srv_relabel;

/* Set r's defaults (replace, ";", "$1"; no regex yet). */
void srv_relabel_init(srv_relabel *r);
/* Compile r's regex (anchored at both ends and '.' matching newlines, as
 * Prometheus' ^(?s:RE)$).  0, or -1 with one line in err. */
int srv_relabel_compile(srv_relabel *r, const char *regex, char *err, size_t errsz);
void srv_relabel_free(srv_relabel *r);
/* Apply rules[0..n) to l in order.  false: the target is dropped.
 * Thread-safe (match data per call); no allocation but PCRE2's. */
bool srv_relabel_apply(const srv_relabel *rules, size_t n, srv_lset *l);

struct srv_job_cfg;
/* The target of job j at address addr (HOST:PORT, or SCHEME://HOST:PORT)
 * with a target group's labels g (may be NULL), as Prometheus builds one:
 * g's labels, __address__, then (where g has not set them) job,
 * __scheme__, __metrics_path__; the job's relabel_configs; instance
 * defaults to __address__ (job, if dropped, to the job's name); labels
 * starting with "__" are dropped.  0 and *t, which then owns its labels
 * (srv_target_cfg_clear); 1 when relabelling dropped it; -1 with err (no
 * or bad address, a bad label, out of memory); t owns nothing but on 0.
 * Thread-safe. */
int srv_target_build(const struct srv_job_cfg *j, const char *addr, const srv_lset *g,
		     srv_target_cfg *t, char *err, size_t errsz);
/* Frees what t owns (its labels; not t itself). */
void srv_target_cfg_clear(srv_target_cfg *t);
/* dst becomes a copy of src that owns its own labels: 0, or -1 when out
 * of memory (dst then owns nothing). */
int srv_target_cfg_copy(srv_target_cfg *dst, const srv_target_cfg *src);

/* file_sd_configs entry: files (globs in the last path element, resolved
 * against the config file's folder) of target groups. */
#define SRV_SD_FILES_MAX 16
typedef struct srv_file_sd {
	char files[SRV_SD_FILES_MAX][SRV_PATH_MAX];
	size_t nfiles;
	int64_t refresh_ns;         /* re-read every file this often (5 m) */
} srv_file_sd;

/* Read a file_sd file's text (YAML or JSON: a list of {targets: [...],
 * labels: {...}}) and call cb for each target with its group's labels
 * (plus __meta_filepath = name).  A non-zero return of cb (with one
 * line in its err) stops the walk: the refusal names the target's line.  0, or -1 with one line "NAME:LINE: KEY: problem".
 * Thread-safe (config.c). */
int srv_sd_parse(const char *name, const void *text, size_t len,
		 int (*cb)(void *ctx, const char *addr, const srv_lset *labels, char *err,
			   size_t errsz),
		 void *ctx, char *err, size_t errsz);

typedef struct srv_job_cfg {
	char name[SRV_NAME_MAX];
	int64_t interval_ns, timeout_ns;
	srv_pprof_cfg prof[SRV_PROF_MAX];
	size_t nprof;
	bool metrics;               /* scrape /metrics too */
	char metrics_path[256];
	char scheme[8];             /* http or https */
	char prefix[200];           /* profiling_config.path_prefix (/debug/pprof):
				     * the profiles' and the rules' snapshots' */
	srv_http_cfg http;
	srv_relabel *relabel;       /* malloc'd */
	size_t nrelabel;
	srv_file_sd *file_sd;       /* malloc'd */
	size_t nfile_sd;
	srv_target_cfg *targets;    /* static_configs, relabelled; malloc'd */
	size_t ntargets;
} srv_job_cfg;

typedef enum srv_rule_op { SRV_OP_GT, SRV_OP_GE, SRV_OP_LT, SRV_OP_LE } srv_rule_op;

/* rules: [{name, when: "METRIC OP NUMBER", job, cooldown, seconds}];
 * METRIC is NAME or NAME{matchers} (Prometheus' selector syntax, matched
 * against the point's labels: its own and the target's job, instance and
 * config labels), or rate(METRIC): its increase per second between two
 * scrapes, per series (rate(cpu) is rate(process_cpu_seconds_total):
 * CPUs busy) */
typedef struct srv_rule_cfg {
	char name[SRV_NAME_MAX];
	char metric[SRV_NAME_MAX];
	srv_selector *sel;          /* NULL: every series of metric; owned */
	bool rate;
	srv_rule_op op;
	double threshold;
	char job[SRV_NAME_MAX];     /* "" = every job */
	int64_t cooldown_ns;        /* default 10 min */
	int64_t seconds_ns;         /* CPU profile length, default 30 s */
} srv_rule_cfg;

typedef struct srv_limits {
	size_t max_body;            /* bytes of a push body (16 MiB) */
	size_t max_decoded;         /* bytes a push may inflate to (64 MiB) */
	size_t max_series;          /* series in the store (1,000,000) */
	size_t max_samples;         /* samples in one profile (1,000,000) */
	size_t max_series_per_target; /* series one service_name/instance may make (10,000) */
	size_t max_scrape_bytes;    /* bytes of one scraped answer (64 MiB) */
} srv_limits;

typedef struct srv_config {
	srv_job_cfg *jobs;          /* malloc'd */
	size_t njobs;
	srv_rule_cfg *rules;
	size_t nrules;
	int64_t retention_ns;       /* 0: not set in the file */
	srv_limits limits;
} srv_config;

/* Defaults in *c (no jobs, no rules, the limits above). */
void srv_config_init(srv_config *c);
/* Read the YAML file at path into c (after srv_config_init).  0, or -1
 * with one line "PATH:LINE: KEY: problem" in err. */
int srv_config_load(srv_config *c, const char *path, char *err, size_t errsz);
/* The same from memory (name is what err calls it). */
int srv_config_parse(srv_config *c, const char *name, const void *text, size_t len,
		     char *err, size_t errsz);
/* Add a job scraping url (-scrape=URL): job "cprof", default profiles.
 * 0, or -1 with err. */
int srv_config_add_scrape_url(srv_config *c, const char *url, char *err, size_t errsz);
/* The default profiles of a job (Parca's five plus heap and threadcreate). */
void srv_job_default_profiles(srv_job_cfg *j);
void srv_config_free(srv_config *c);

/* ---- series per target or service (series_limit.c) --------------------------- */

/* Whether the series (l, kind) may be stored for owner (a push's
 * service_name, a scraped target): 0 yes (new or already seen), 1 no (the
 * owner has limits.max_series_per_target series, or limits.max_series
 * series are known), -1 out of memory.  Series are remembered by 64-bit
 * hashes in a table bounded by max_series.  Thread-safe. */
int srv_series_admit(const char *owner, const srv_labels *l, const char *kind,
		     const srv_limits *lim);

/* ---- file_sd polling (discovery.c) ------------------------------------------- */

/* A job's discovery state: owned by one thread. */
typedef struct srv_sd srv_sd;
srv_sd *srv_sd_new(const srv_job_cfg *j);
void srv_sd_free(srv_sd *d);
/* Poll job j's file_sd files (re-reading those changed, or all every
 * refresh_interval).  1 when the job's targets changed (or at the first
 * poll): *out (a malloc'd array the caller frees) points at the static
 * targets (the config's) then the files' (d's: valid until d's next poll);
 * 0 when nothing changed; -1 out of memory.  A file that does not read
 * keeps its previous targets (one line on stderr). */
int srv_sd_poll(srv_sd *d, int64_t now_ns, const srv_target_cfg ***out, size_t *n);
/* The same list for a job without file_sd_configs: its static targets. */
int srv_sd_static(const srv_job_cfg *j, const srv_target_cfg ***out, size_t *n);

/* ---- a request and its answer ------------------------------------------------ */

/* What a handler sees of an HTTP request (server.c builds it; the strings
 * live until the handler returns).  Thread-safe accessors. */
typedef struct srv_req {
	const char *method, *path;
	const char *(*arg)(const struct srv_req *r, const char *name);     /* URL parameter */
	const char *(*header)(const struct srv_req *r, const char *name);
	void *conn;                 /* private: the connection */
	const char *body;           /* POST body (not NUL-terminated) */
	size_t len;
} srv_req;

/* The answer a handler fills: status, content type, a malloc'd body
 * (owned by the answer). */
typedef struct srv_resp {
	unsigned status;
	const char *ctype;
	char *body;
	size_t len;
	const char *disposition;    /* Content-Disposition, or NULL */
	const char *aggregation;    /* X-Cprof-Aggregation (sum, average), or NULL */
	bool body_static;           /* body is static data (an embedded asset): not freed */
	const char *cache;          /* Cache-Control, or NULL: no-store */
	char etag[24];              /* ETag ("" none) */
	unsigned retry_after_s;     /* Retry-After (0: none) */
} srv_resp;

/* {"error": "..."} with status. */
void srv_resp_error(srv_resp *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* b's bytes as the body (application/json, 200); b is emptied.  500 when
 * b failed. */
void srv_resp_json(srv_resp *r, srv_buf *b);

/* ---- the web UI's analysis paths (ui_path.c: pure, thread-safe) ---------------- */

#define SRV_AN_SEL_MAX 2048
/* A window of the analysis views: KIND/FROM/UNTIL/SELECTOR-IN-HEX/ ("-"
 * for no selector) or snapshot/ID/, and the path below it. */
typedef struct srv_an_window {
	char kind[65], from[40], until[40];
	char sel[SRV_AN_SEL_MAX];       /* the selector, decoded ("" none) */
	long long snap_id;              /* > 0 for a snapshot */
	const char *rest;               /* the path below the prefix (in path) */
} srv_an_window;
/* path (below /analysis/, NUL-terminated) into w: 0, or -1 with a static
 * one-line reason in *why. */
int srv_an_parse(const char *path, srv_an_window *w, const char **why);

/* ---- the web UI's login sessions (session.c; thread-safe) ----------------------- */

#define SRV_SESSION_COOKIE "cprof_session"
#define SRV_SESSION_BYTES 32
#define SRV_SESSION_TTL_S (12 * 3600)
/* A new session valid SRV_SESSION_TTL_S from now_ns, its value (hex) into
 * out; -1 when no random bytes could be had. */
int srv_session_new(int64_t now_ns, char out[SRV_SESSION_BYTES * 2 + 1]);
/* Whether a Cookie header carries a live session. */
bool srv_session_ok(const char *cookie_hdr, int64_t now_ns);
/* token == given (n bytes), in time independent of where they differ. */
bool srv_token_equal(const char *token, size_t token_len, const char *given, size_t n);
/* The login page (HTML, a form posting the token to /login, then back to
 * next) into rs with status and a reason line (or NULL). */
void srv_login_page(srv_resp *rs, unsigned status, const char *why, const char *next);
/* POST /login's form (token=, next=): where to go after the login into
 * next (a path on this server, else "/"); true with the token into token
 * (tokensz bytes with the NUL), false when it is absent, too long or
 * badly escaped.  The caller (server.c) checks the token. */
bool srv_login_form(const srv_req *rq, char *token, size_t tokensz, char *next, size_t nextsz);

/* ---- the server ---------------------------------------------------------------- */

struct srv_scraper;

/* What every handler and thread of the server shares.  Set up before the
 * HTTP daemon and the scrapers start and read-only afterwards (the store
 * and the scraper lock their own state). */
typedef struct srv_ctx {
	srv_store *store;
	const srv_config *cfg;
	struct srv_scraper *scraper;        /* NULL without targets */
} srv_ctx;

/* POST /ingest (ingest.c).  Thread-safe. */
void srv_ingest_handle(srv_ctx *c, const srv_req *rq, srv_resp *rs);
/* GET /api/v1/... (query_http.c).  Thread-safe. */
void srv_query_handle(srv_ctx *c, const srv_req *rq, srv_resp *rs);
/* The web UI (ui.c): its page at /, /targets, /snapshots, its assets at
 * /static/NAME, /favicon.ico, and the analysis views of a window's merged
 * profile under /analysis/.  true when path is one of these (the answer is
 * then set), false to let the caller answer.  Thread-safe. */
bool srv_ui_handle(srv_ctx *c, const srv_req *rq, srv_resp *rs);
/* Free what the UI keeps between requests (the analysis views' cache). */
void srv_ui_shutdown(void);

/* The scrapers (scrape.c): one scheduler thread, a pool of workers.
 * srv_scraper_start returns NULL when the config has no targets. */
struct srv_scraper *srv_scraper_start(srv_ctx *c, char *err, size_t errsz);
void srv_scraper_stop(struct srv_scraper *s);
/* The targets' state as JSON into b ({"targets":[...]}).  Thread-safe. */
void srv_scraper_targets_json(struct srv_scraper *s, srv_buf *b);

/* Fetch base+path of job j's target t (a copy is fine: it is found by its
 * key) into a profile (a rule's snapshots), with the job's TLS and
 * credentials: with secs > 0 a CPU profile of that length
 * (profile?seconds=), taken when no other CPU profile of the scraper runs
 * on t (a target runs one at a time: this waits for the scraper's; the
 * scraper skips its slot while this runs).  0, or -1 with err.
 * Thread-safe. */
int srv_scraper_fetch(struct srv_scraper *s, const srv_job_cfg *j, const srv_target_cfg *t,
		      const char *path, int64_t secs, cprof_profile **out, char *err, size_t errsz);

/* Rules (rules.c): called by a scrape of target t's /metrics for each
 * metric point, with its labels (its own and the target's); starts the
 * snapshots of a rule whose condition is crossed (fetched with
 * srv_scraper_fetch, from the job's path_prefix; the snapshot thread
 * keeps a copy of t: a discovered target may go meanwhile).
 * Thread-safe. */
void srv_rules_observe(srv_ctx *c, struct srv_scraper *s, const srv_job_cfg *job,
		       const srv_target_cfg *t, const char *metric, const srv_labels *labels,
		       double value);

/* Wait until no snapshot thread runs (they use the scraper's fetch: the
 * scraper waits for them as it stops). */
void srv_rules_wait(void);


#endif /* CPROF_SERVER_INT_H */
