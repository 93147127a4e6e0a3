/*
 * http_env.c - the HTTP endpoint from the environment (LD_PRELOAD use): a
 * constructor that starts it when CPROF_HTTP is set.
 *
 *   CPROF_HTTP=127.0.0.1:6060   HOST:PORT ("[::1]:0", ":6060" = every
 *                               interface), or unix:/path
 *   CPROF_TOKEN=SECRET          requests need "Authorization: Bearer SECRET"
 *   CPROF_HTTP_TRUSTED=1        allow a non-loopback address without a token
 *   CPROF_HTTP_NO_CMDLINE=1     /debug/pprof/cmdline answers 404 (arguments
 *                               may hold secrets)
 *   CPROF_HTTP_TLS_CERT=FILE, CPROF_HTTP_TLS_KEY=FILE   HTTPS (PEM files)
 *   CPROF_HTTP_MAX_SECONDS=N    largest seconds= (default 300)
 *   CPROF_HTTP_MAX_CONNECTIONS=N  (default 32)
 *   CPROF_HTTP_RATE=N           expensive requests per minute (default 60,
 *                               burst min(N, 20); -1 unlimited)
 *
 * The endpoint starts on a thread of the runtime, not in the constructor
 * itself (in libcprof.so that loads its plugin; see plugin.h); the
 * constructor waits for it (at most 5 s), so the program starts with the
 * endpoint serving.
 * On success one line on stderr: "cprof: serving on ADDR" (ADDR with the
 * port actually bound, so CPROF_HTTP=127.0.0.1:0 tells which port it got).
 * On failure one line "cprof: not serving: WHY" and the program runs on
 * without the endpoint.  Children inherit the environment: an exec'd child
 * tries the same address (a fixed port is then in use: it says so and runs
 * on; port 0 gives each its own).
 */
#include "http_int.h"
#include "rt_int.h"
#include "cprof.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int env_int(const char *name, int dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || n < -1 || n > 1000000) {
		fprintf(stderr, "cprof: ignoring %s=%s: not a number\n", name, v);
		return dflt;
	}
	return (int)n;
}

static bool env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

static cprof_http_options env_opts;
static atomic_int env_started;

/* The start itself, on a thread of the runtime: in libcprof.so it loads
 * the endpoint's plugin (libmicrohttpd, GnuTLS), which a constructor must
 * not do itself (their constructors would run inside ours). */
static void *http_env_start(void *arg)
{
	const cprof_http_options *op = arg;
	int rc = cprof_http_start(op);
	if (rc < 0)
		fprintf(stderr, "cprof: not serving: %s\n",
			*cprof_last_error() ? cprof_last_error() : cprof_error_string(rc));
	else
		fprintf(stderr, "cprof: serving on %s%s\n", rt_http_addr(),
			op->tls_cert ? " (https)" : "");
	atomic_store(&env_started, 1);
	return NULL;
}

__attribute__((constructor))
static void http_env_init(void)
{
	const char *listen_at = getenv("CPROF_HTTP");
	if (!listen_at || !*listen_at)
		return;
	int e = errno;
	cprof_http_options o = {
		.listen = listen_at,
		.token = getenv("CPROF_TOKEN"),
		.trusted_network = env_flag("CPROF_HTTP_TRUSTED"),
		.tls_cert = getenv("CPROF_HTTP_TLS_CERT"),
		.tls_key = getenv("CPROF_HTTP_TLS_KEY"),
		.max_seconds = env_int("CPROF_HTTP_MAX_SECONDS", 0),
		.max_connections = env_int("CPROF_HTTP_MAX_CONNECTIONS", 0),
		.no_cmdline = env_flag("CPROF_HTTP_NO_CMDLINE"),
		.rate_per_minute = env_int("CPROF_HTTP_RATE", 0),
	};
	if (o.tls_cert && !*o.tls_cert)
		o.tls_cert = NULL;
	if (o.tls_key && !*o.tls_key)
		o.tls_key = NULL;
	env_opts = o;
	if (rt_quiet_thread_start("cprof-httpstart", http_env_start, &env_opts) != 0) {
		fprintf(stderr, "cprof: not serving: cannot start a thread\n");
	} else {
		/* the program starts once the endpoint serves (or has failed), as
		 * when this was synchronous; bounded, since when libcprof.so is
		 * itself being dlopen'ed the thread's dlopen waits for ours */
		for (int i = 0; i < 5000 && !atomic_load(&env_started); i++)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	errno = e;
}
