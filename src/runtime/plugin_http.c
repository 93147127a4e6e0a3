/*
 * plugin_http.c - the entry of libcprof-http.so, the plugin that carries
 * the endpoint's server (http_server.c, with libmicrohttpd and GnuTLS;
 * see plugin.h).  http_server.c calls the runtime by the rt_* names of
 * http_int.h and rt_base.h; in the plugin those names are the functions
 * below, which call through the table the runtime gave at load (host).
 * A function http_server.c comes to need must be added to rt_http_host
 * and here (the plugin is linked with -z defs, so a missing one fails the
 * build).  host is written once, before any of these can run (the runtime
 * calls cprof_plugin_http before it starts the server).
 */
#include "plugin.h"
#include "rt_base.h"

#include <stdarg.h>
#include <stdio.h>

const rt_http_api *cprof_plugin_http(const rt_http_host *h, uint32_t abi);

static const rt_http_host *host;

void rt_buf_add(rt_buf *b, const void *d, size_t n) { host->buf_add(b, d, n); }
void rt_buf_free(rt_buf *b) { host->buf_free(b); }
void rt_http_answer(const rt_http_route *r, const char *method, const char *query, const void *body,
		    size_t bodylen, int cancel_fd, int client_fd, const rt_http_limits *lim,
		    rt_http_resp *resp)
{
	host->answer(r, method, query, body, bodylen, cancel_fd, client_fd, lim, resp);
}
bool rt_http_auth_ok(const char *header, const char *token) { return host->auth_ok(header, token); }
void rt_http_error(rt_http_resp *resp, int status, const char *msg) { host->error(resp, status, msg); }
void rt_http_parse(const char *method, const char *path, const char *query, const rt_http_limits *lim,
		   rt_http_route *out)
{
	host->parse(method, path, query, lim, out);
}
void rt_http_resp_free(rt_http_resp *resp) { host->resp_free(resp); }
int rt_runtime_thread_create(pthread_t *th, const pthread_attr_t *attr, const char *name,
			    void *(*fn)(void *), void *arg)
{
	return host->runtime_thread_create(th, attr, name, fn, arg);
}
void rt_self_enter(void) { host->self_enter(); }
void rt_self_leave(void) { host->self_leave(); }
void rt_set_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	host->set_error(msg);
}

static const rt_http_api api = {
	.abi = RT_PLUGIN_ABI,
	.size = sizeof(rt_http_api),
	.start = cprof_http_start,
	.stop = cprof_http_stop,
	.port = cprof_http_port,
	.addr = rt_http_addr,
	.counters = rt_http_get_counters,
	.port_taken = rt_http_port_taken,
};

__attribute__((visibility("default")))
const rt_http_api *cprof_plugin_http(const rt_http_host *h, uint32_t abi)
{
	if (abi != RT_PLUGIN_ABI || !h || h->abi != RT_PLUGIN_ABI || h->size != sizeof *h)
		return NULL;
	host = h;
	return &api;
}
