/*
 * srvutil.c - small shared pieces of `cprof server`: the bounded output
 * buffer (JSON is written into it), label sets, and profile kinds.
 *
 * Everything here works on caller-owned values and keeps no state, so it
 * is thread-safe on distinct objects.
 */
#include "server_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server's buffer is the core's cprof_buf (one growth and ceiling
 * policy); these keep the server's "append, look once at the end" calls,
 * where an empty append stays a no-op (an untouched buffer keeps s NULL). */
void srv_buf_add(srv_buf *b, const void *s, size_t n)
{
	if (n)
		(void)cprof_buf_add(b, s, n);
}

void srv_buf_puts(srv_buf *b, const char *s)
{
	srv_buf_add(b, s, strlen(s));
}

void srv_buf_printf(srv_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)cprof_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void srv_buf_json_str(srv_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	srv_buf_add(b, "\"", 1);
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
			run++;
		srv_buf_add(b, s + i, run - i);
		i = run;
		if (i >= n)
			break;
		unsigned c = u[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			srv_buf_add(b, e, 2);
			i++;
		} else if (c < 0x20) {
			char e[8];
			snprintf(e, sizeof e, "\\u%04x", c);
			srv_buf_add(b, e, 6);
			i++;
		} else {
			size_t k = cprof_utf8_len(u + i, n - i, NULL);   /* c >= 0x80 here */
			if (k == 0) {
				srv_buf_add(b, "\xef\xbf\xbd", 3);
				i++;
			} else {
				srv_buf_add(b, s + i, k);
				i += k;
			}
		}
	}
	srv_buf_add(b, "\"", 1);
}

void srv_buf_free(srv_buf *b)
{
	cprof_buf_free(b);
}

/* ---- labels -------------------------------------------------------------- */

int srv_lset_set(srv_lset *l, const char *name, size_t nn, const char *value, size_t vn,
		   char *err, size_t errsz)
{
	char nm[SRV_LABEL_NAME_MAX + 1];
	if (nn == 0) {
		snprintf(err, errsz, "empty label name");
		return -1;
	}
	if (nn > SRV_LABEL_NAME_MAX) {
		snprintf(err, errsz, "label name longer than %d bytes", SRV_LABEL_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < nn; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.' || c == '-' || c == '/')
			c = '_';
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (i > 0 && c >= '0' && c <= '9');
		if (!ok) {
			char esc[64];
			cprof_escape(esc, sizeof esc, name, nn < 40 ? nn : 40);
			snprintf(err, errsz, "label name \"%s\" is not [a-zA-Z_][a-zA-Z0-9_.]*", esc);
			return -1;
		}
		nm[i] = (char)c;
	}
	nm[nn] = '\0';
	if (vn > SRV_LABEL_VALUE_MAX) {
		snprintf(err, errsz, "value of label %s longer than %d bytes", nm, SRV_LABEL_VALUE_MAX);
		return -1;
	}
	size_t at = 0;
	while (at < l->n && strcmp(l->v[at].name, nm) < 0)
		at++;
	if (at < l->n && strcmp(l->v[at].name, nm) == 0) {
		memcpy(l->v[at].value, value, vn);
		l->v[at].value[vn] = '\0';
		return 0;
	}
	if (l->n >= SRV_LABELS_MAX) {
		snprintf(err, errsz, "more than %d labels", SRV_LABELS_MAX);
		return -1;
	}
	memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof l->v[0]);
	memcpy(l->v[at].name, nm, nn + 1);
	memcpy(l->v[at].value, value, vn);
	l->v[at].value[vn] = '\0';
	l->n++;
	return 0;
}

const char *srv_lset_get(const srv_lset *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

void srv_lset_view(const srv_lset *l, srv_label *arr, srv_labels *view)
{
	for (size_t i = 0; i < l->n; i++) {
		arr[i].name = l->v[i].name;
		arr[i].value = l->v[i].value;
	}
	view->v = arr;
	view->n = l->n;
}

srv_lpack *srv_lpack_new(const srv_labels *l)
{
	size_t bytes = sizeof(srv_lpack) + l->n * sizeof(srv_label);
	for (size_t i = 0; i < l->n; i++)
		bytes += strlen(l->v[i].name) + strlen(l->v[i].value) + 2;
	srv_lpack *p = malloc(bytes);
	if (!p)
		return NULL;
	char *s = (char *)&p->v[l->n];
	p->n = l->n;
	for (size_t i = 0; i < l->n; i++) {
		size_t nn = strlen(l->v[i].name) + 1, vn = strlen(l->v[i].value) + 1;
		p->v[i].name = memcpy(s, l->v[i].name, nn);
		s += nn;
		p->v[i].value = memcpy(s, l->v[i].value, vn);
		s += vn;
	}
	return p;
}

void srv_lset_of_pack(srv_lset *l, const srv_lpack *p)
{
	l->n = 0;
	for (size_t i = 0; p && i < p->n && i < SRV_LABELS_MAX; i++, l->n++) {
		snprintf(l->v[i].name, sizeof l->v[i].name, "%s", p->v[i].name);
		snprintf(l->v[i].value, sizeof l->v[i].value, "%s", p->v[i].value);
	}
}

const char *srv_lpack_get(const srv_lpack *p, const char *name)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].value;
	return NULL;
}

/* ---- kinds ---------------------------------------------------------------- */

static bool has_type(const cprof_profile *p, const char *name)
{
	for (size_t i = 0; i < p->vtypes.n; i++)
		if (strcmp(cprof_s(p, p->vtypes.v[i].type), name) == 0)
			return true;
	return false;
}

const char *srv_kind_of_profile(const cprof_profile *p)
{
	const char *pt = cprof_s(p, p->period_type.type);
	if (has_type(p, "cpu") || strcmp(pt, "cpu") == 0)
		return "cpu";
	if (has_type(p, "wall") || strcmp(pt, "wall") == 0)
		return "wall";
	if (has_type(p, "inuse_space") || has_type(p, "inuse_objects"))
		return "heap";
	if (has_type(p, "alloc_space") || has_type(p, "alloc_objects"))
		return "allocs";
	if (has_type(p, "contentions") || has_type(p, "delay")) {
		/* Go's block profile has the same sample types as its mutex
		 * profile (contentions/count, delay/nanoseconds): a scrape's
		 * path tells them apart, a push its hints (srv_push_kind);
		 * without one it is taken as mutex */
		return "mutex";
	}
	if (strcmp(pt, "goroutine") == 0 || has_type(p, "goroutine") || has_type(p, "threads"))
		return "goroutine";
	if (strcmp(pt, "threadcreate") == 0)
		return "threadcreate";
	if (has_type(p, "samples"))
		return "cpu";
	return "other";
}

/* A kind named by a push (type=, __name__): cprof's kind names and
 * Pyroscope's metric names for them; NULL for anything else (Pyroscope's
 * "memory" is heap or allocs: no hint). */
static const char *named_kind(const char *s)
{
	static const char *const kinds[] = { "cpu", "wall", "heap", "allocs", "mutex", "block",
					     "goroutine", "threadcreate" };
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(s, kinds[i]))
			return kinds[i];
	if (!strcmp(s, "process_cpu"))
		return "cpu";
	if (!strcmp(s, "goroutines"))
		return "goroutine";
	return NULL;
}

/* May a profile whose sample types say `base` be stored as `k`?  The same
 * kind; block for mutex (the same sample types); allocs for heap (Go's
 * heap and allocs profiles are one profile with four sample types); any
 * kind for a profile whose types name none. */
static bool kind_fits(const char *base, const char *k)
{
	return !strcmp(base, k) || (!strcmp(base, "mutex") && !strcmp(k, "block")) ||
	       (!strcmp(base, "heap") && !strcmp(k, "allocs")) || !strcmp(base, "other");
}

int srv_push_kind(const cprof_profile *p, const char *type, const char *metric,
		  const char *stc_hint, const char **kind, char *err, size_t errsz)
{
	const char *base = srv_kind_of_profile(p);
	if (type && *type) {
		const char *k = named_kind(type);
		if (!k) {
			snprintf(err, errsz, "type=%.40s: not a profile kind (cpu, wall, heap, allocs, "
				 "mutex, block, goroutine, threadcreate)", type);
			return -1;
		}
		if (!kind_fits(base, k)) {
			snprintf(err, errsz, "type=%s: the profile's sample types make it %s", k, base);
			return -1;
		}
		*kind = k;
		return 0;
	}
	const char *hints[2] = { metric && *metric ? named_kind(metric) : NULL, stc_hint };
	for (size_t i = 0; i < 2; i++)
		if (hints[i] && kind_fits(base, hints[i])) {
			*kind = hints[i];
			return 0;
		}
	*kind = base;
	return 0;
}
