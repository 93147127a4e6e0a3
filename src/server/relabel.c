/*
 * relabel.c - Prometheus' relabel_configs for the server's scrape targets,
 * and the building of a target from a discovered address and labels.
 *
 * A relabel rule reads the values of its source_labels joined by its
 * separator (";"), matches its regex against the whole of that text
 * (anchored at both ends, as Prometheus anchors: ^(?s:RE)$; PCRE2 under
 * match and depth limits: a pattern that hits a limit does not match),
 * and acts:
 *   replace    on a match, target_label (itself expanded) := replacement
 *              with $1, ${1}, $name, ${name} expanded from the match (Go's
 *              regexp.Expand: $name takes the longest run of [A-Za-z0-9_],
 *              an unknown group is empty, $$ is $); an empty result deletes
 *              the label, an invalid label name skips the rule;
 *   keep/drop  the target is dropped when the text does not match / does;
 *   labelmap   every label whose name matches gets a copy named by the
 *              expanded replacement;
 *   labeldrop / labelkeep  labels whose names match / do not match go;
 *   hashmod    target_label := the text's MD5, its last 8 bytes read as a
 *              big-endian integer, modulo modulus (Prometheus' sum64: the
 *              same target lands in the same shard as with Prometheus);
 *   lowercase / uppercase  target_label := the text in lower / upper case
 *              (ASCII letters; other bytes as they are, where Go's
 *              strings.ToLower would also fold non-ASCII letters);
 *   keepequal / dropequal  the target is dropped when the text differs
 *              from / equals target_label's value.
 * Rules run in order; a dropped target stops there.  What each action
 * takes is one table (srv_relabel_actions), which the config's checks
 * read.
 *
 * srv_target_build applies them the way Prometheus' PopulateLabels does:
 * the group's labels and __address__, then job, __scheme__ and
 * __metrics_path__ where the group has not set them, the rules, then the
 * address is checked (HOST:PORT), instance defaults to __address__ (and
 * job, should the rules have dropped it, to the job's name: every series
 * of the server has both) and every label starting with "__" is dropped; the target's URL is
 * __scheme__://__address__ and its /metrics path __metrics_path__.
 *
 * Everything here works on the caller's srv_lset (no allocation but
 * PCRE2's match data); thread-safe.  Compiled code is owned by the rule
 * (srv_relabel_free).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "server_int.h"

#include <gnutls/crypto.h>
#include <inttypes.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_MATCH_LIMIT 200000
#define RL_DEPTH_LIMIT 2000

/* What each action takes (srv_relabel_action_info's columns; $target is
 * target_expands).  labelmap, labeldrop and labelkeep accept a separator
 * and ignore it, as they always have here. */
/*                                  name       source target on_names repl  regex  modulus sep   $target */
const srv_relabel_action_info srv_relabel_actions[SRV_RL_NACTIONS] = {
	[SRV_RL_REPLACE]   = { "replace",   false, true,  false, true,  true,  false, true,  true  },
	[SRV_RL_KEEP]      = { "keep",      true,  false, false, false, true,  false, true,  false },
	[SRV_RL_DROP]      = { "drop",      true,  false, false, false, true,  false, true,  false },
	[SRV_RL_LABELMAP]  = { "labelmap",  false, false, true,  true,  true,  false, true,  false },
	[SRV_RL_LABELDROP] = { "labeldrop", false, false, true,  false, true,  false, true,  false },
	[SRV_RL_LABELKEEP] = { "labelkeep", false, false, true,  false, true,  false, true,  false },
	[SRV_RL_HASHMOD]   = { "hashmod",   false, true,  false, false, false, true,  true,  false },
	[SRV_RL_LOWERCASE] = { "lowercase", false, true,  false, false, false, false, true,  false },
	[SRV_RL_UPPERCASE] = { "uppercase", false, true,  false, false, false, false, true,  false },
	[SRV_RL_KEEPEQUAL] = { "keepequal", false, true,  false, false, false, false, false, false },
	[SRV_RL_DROPEQUAL] = { "dropequal", false, true,  false, false, false, false, false, false },
};

void srv_relabel_init(srv_relabel *r)
{
	memset(r, 0, sizeof *r);
	r->action = SRV_RL_REPLACE;
	snprintf(r->separator, sizeof r->separator, ";");
	snprintf(r->replacement, sizeof r->replacement, "$1");
}

int srv_relabel_compile(srv_relabel *r, const char *regex, char *err, size_t errsz)
{
	int ecode;
	PCRE2_SIZE eoff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)regex, strlen(regex),
				       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL |
				       PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ecode, &eoff, NULL);
	if (!re) {
		PCRE2_UCHAR why[120];
		pcre2_get_error_message(ecode, why, sizeof why);
		char pat[64];
		cprof_escape(pat, sizeof pat, regex, strlen(regex));
		snprintf(err, errsz, "bad regex \"%s\" at offset %zu: %s", pat, (size_t)eoff,
			 (char *)why);
		return -1;
	}
	if (r->re)
		pcre2_code_free(r->re);
	r->re = re;
	return 0;
}

void srv_relabel_free(srv_relabel *r)
{
	if (r->re)
		pcre2_code_free(r->re);
	r->re = NULL;
}

/* ---- matching and expansion ------------------------------------------------ */

typedef struct match {
	pcre2_match_data *md;
	const char *subj;
} match;

/* Match the rule's regex (default (.*): anything) against s; true on a
 * match, with m->md holding the groups (caller frees md). */
static bool rx(const srv_relabel *r, const char *s, match *m)
{
	m->md = NULL;
	m->subj = s;
	if (!r->re)
		return true;
	m->md = pcre2_match_data_create_from_pattern(r->re, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	bool hit = false;
	if (m->md && mc) {
		pcre2_set_match_limit(mc, RL_MATCH_LIMIT);
		pcre2_set_depth_limit(mc, RL_DEPTH_LIMIT);
		hit = pcre2_match(r->re, (PCRE2_SPTR)s, strlen(s), 0, 0, m->md, mc) >= 0;
	}
	pcre2_match_context_free(mc);
	return hit;
}

/* Group g's text of match m (or "" when it did not take part). */
static void group(const srv_relabel *r, const match *m, int g, const char **p, size_t *n)
{
	*p = "";
	*n = 0;
	if (!r->re) {           /* the default (.*): $0 and $1 are all of it */
		if (g == 0 || g == 1)
			*p = m->subj, *n = strlen(m->subj);
		return;
	}
	if (g < 0 || (uint32_t)g >= pcre2_get_ovector_count(m->md))
		return;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
	if (ov[2 * g] == PCRE2_UNSET)
		return;
	*p = m->subj + ov[2 * g];
	*n = ov[2 * g + 1] - ov[2 * g];
}

static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* tmpl with $-references expanded from m into out (at most outsz - 1
 * bytes; longer is cut). */
static void expand(const srv_relabel *r, const match *m, const char *tmpl, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = tmpl; *p && o + 1 < outsz;) {
		if (*p != '$') {
			out[o++] = *p++;
			continue;
		}
		p++;
		if (*p == '$') {
			out[o++] = '$';
			p++;
			continue;
		}
		char name[64];
		size_t nn = 0;
		if (*p == '{') {
			const char *e = strchr(p + 1, '}');
			if (!e || e == p + 1 || (size_t)(e - p - 1) >= sizeof name) {
				out[o++] = '$';         /* not a reference: kept as is */
				continue;
			}
			nn = (size_t)(e - p - 1);
			memcpy(name, p + 1, nn);
			p = e + 1;
		} else {
			while (is_word(p[nn]) && nn + 1 < sizeof name)
				nn++;
			if (nn == 0) {
				out[o++] = '$';
				continue;
			}
			memcpy(name, p, nn);
			p += nn;
		}
		name[nn] = '\0';
		int g = -1;
		bool digits = true;
		for (size_t i = 0; i < nn; i++)
			digits &= name[i] >= '0' && name[i] <= '9';
		if (digits)     /* as Go: no leading zero, a bound */
			g = nn < 9 && !(name[0] == '0' && nn > 1) ? atoi(name) : -1;
		else if (r->re)
			g = pcre2_substring_number_from_name(r->re, (PCRE2_SPTR)name);
		const char *gp;
		size_t gn;
		group(r, m, g, &gp, &gn);
		if (gn > outsz - 1 - o)
			gn = outsz - 1 - o;
		memcpy(out + o, gp, gn);
		o += gn;
	}
	out[o] = '\0';
}

/* ---- label sets ------------------------------------------------------------ */

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > SRV_LABEL_NAME_MAX || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!is_word(*s))
			return false;
	return true;
}

static void lset_del(srv_lset *l, size_t i)
{
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof l->v[0]);
	l->n--;
}

static void lset_put(srv_lset *l, const char *name, const char *value)
{
	char e[SRV_ERR_MAX];
	if (!*value) {
		for (size_t i = 0; i < l->n; i++)
			if (!strcmp(l->v[i].name, name)) {
				lset_del(l, i);
				break;
			}
		return;
	}
	(void)srv_lset_set(l, name, strlen(name), value, strlen(value), e, sizeof e);
}

bool srv_relabel_apply(const srv_relabel *rules, size_t n, srv_lset *l)
{
	for (size_t k = 0; k < n; k++) {
		const srv_relabel *r = &rules[k];
		char text[SRV_LABEL_VALUE_MAX * 2 + 1];
		size_t o = 0;
		for (size_t i = 0; i < r->nsource; i++) {
			const char *v = srv_lset_get(l, r->source[i]);
			int w = snprintf(text + o, sizeof text - o, "%s%s", i ? r->separator : "",
					 v ? v : "");
			o += w < 0 ? 0 : (size_t)w;
			if (o >= sizeof text)
				o = sizeof text - 1;
		}
		text[o] = '\0';
		match m;
		switch (r->action) {
		case SRV_RL_REPLACE: {
			if (rx(r, text, &m)) {
				char tl[SRV_LABEL_NAME_MAX + 2], val[SRV_LABEL_VALUE_MAX + 1];
				expand(r, &m, r->target, tl, sizeof tl);
				expand(r, &m, r->replacement, val, sizeof val);
				if (valid_name(tl))
					lset_put(l, tl, val);
			}
			pcre2_match_data_free(m.md);
			break;
		}
		case SRV_RL_KEEP:
		case SRV_RL_DROP: {
			bool hit = rx(r, text, &m);
			pcre2_match_data_free(m.md);
			if (hit == (r->action == SRV_RL_DROP))
				return false;
			break;
		}
		case SRV_RL_LABELMAP: {
			srv_lset in = *l;
			for (size_t i = 0; i < in.n; i++) {
				if (rx(r, in.v[i].name, &m)) {
					char tl[SRV_LABEL_NAME_MAX + 2];
					expand(r, &m, r->replacement, tl, sizeof tl);
					if (valid_name(tl))
						lset_put(l, tl, in.v[i].value);
				}
				pcre2_match_data_free(m.md);
			}
			break;
		}
		case SRV_RL_LABELDROP:
		case SRV_RL_LABELKEEP:
			for (size_t i = 0; i < l->n;) {
				bool hit = rx(r, l->v[i].name, &m);
				pcre2_match_data_free(m.md);
				if (hit == (r->action == SRV_RL_LABELDROP))
					lset_del(l, i);
				else
					i++;
			}
			break;
		case SRV_RL_HASHMOD: {
			unsigned char md5[16];
			char val[24];
			if (gnutls_hash_fast(GNUTLS_DIG_MD5, text, o, md5) != 0)
				break;          /* no MD5 (a FIPS system): the rule does nothing */
			uint64_t sum = 0;
			for (int i = 8; i < 16; i++)
				sum = sum << 8 | md5[i];
			snprintf(val, sizeof val, "%" PRIu64, r->modulus ? sum % r->modulus : 0);
			lset_put(l, r->target, val);
			break;
		}
		case SRV_RL_LOWERCASE:
		case SRV_RL_UPPERCASE:
			for (size_t i = 0; i < o; i++) {
				char c = text[i];
				if (r->action == SRV_RL_LOWERCASE && c >= 'A' && c <= 'Z')
					text[i] = (char)(c - 'A' + 'a');
				else if (r->action == SRV_RL_UPPERCASE && c >= 'a' && c <= 'z')
					text[i] = (char)(c - 'a' + 'A');
			}
			lset_put(l, r->target, text);
			break;
		case SRV_RL_KEEPEQUAL:
		case SRV_RL_DROPEQUAL: {
			const char *v = srv_lset_get(l, r->target);
			if (!strcmp(text, v ? v : "") == (r->action == SRV_RL_DROPEQUAL))
				return false;
			break;
		}
		case SRV_RL_NACTIONS:
			break;
		}
	}
	return true;
}

/* ---- targets ------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

void srv_target_cfg_clear(srv_target_cfg *t)
{
	free(t->labels);
	t->labels = NULL;
}

int srv_target_cfg_copy(srv_target_cfg *dst, const srv_target_cfg *src)
{
	*dst = *src;
	if (!src->labels)
		return 0;
	srv_labels v = srv_lpack_view(src->labels);
	dst->labels = srv_lpack_new(&v);
	return dst->labels ? 0 : -1;
}

static int target_labels(const srv_job_cfg *j, const char *addr, srv_lset *l,
			 srv_target_cfg *t, char *err, size_t errsz);

int srv_target_build(const srv_job_cfg *j, const char *addr, const srv_lset *g,
		     srv_target_cfg *t, char *err, size_t errsz)
{
	memset(t, 0, sizeof *t);
	/* built in a whole srv_lset (on the heap: ~74 KB), kept packed */
	srv_lset *l = malloc(sizeof *l);
	if (!l) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (g)
		*l = *g;
	else
		l->n = 0;
	int rc = target_labels(j, addr, l, t, err, errsz);
	if (rc == 0) {
		srv_label arr[SRV_LABELS_MAX];
		srv_labels v;
		srv_lset_view(l, arr, &v);
		if (!(t->labels = srv_lpack_new(&v))) {
			snprintf(err, errsz, "out of memory");
			rc = -1;
		}
	}
	free(l);
	return rc;
}

/* The labels of a target at addr into l (holding the group's), and t's
 * address, URL and key; srv_target_build's body. */
static int target_labels(const srv_job_cfg *j, const char *addr, srv_lset *l,
			 srv_target_cfg *t, char *err, size_t errsz)
{
	char sch[16] = "";
	const char *hp = addr;
	const char *sep = strstr(addr, "://");
	if (sep) {
		if ((size_t)(sep - addr) >= sizeof sch) {
			snprintf(err, errsz, "unknown URL scheme in \"%.80s\"", addr);
			return -1;
		}
		memcpy(sch, addr, (size_t)(sep - addr));
		hp = sep + 3;
	}
	size_t hn = strcspn(hp, "/?#");
	char e2[SRV_ERR_MAX];
	if (srv_lset_set(l, "__address__", 11, hp, hn, e2, sizeof e2))
		goto bad;
	if (sch[0] && srv_lset_set(l, "__scheme__", 10, sch, strlen(sch), e2, sizeof e2))
		goto bad;
	struct { const char *n, *v; } dflt[] = {
		{ "job", j->name }, { "__scheme__", j->scheme[0] ? j->scheme : "http" },
		{ "__metrics_path__", j->metrics_path },
	};
	for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++) {
		const char *have = srv_lset_get(l, dflt[i].n);
		if ((!have || !*have) &&
		    srv_lset_set(l, dflt[i].n, strlen(dflt[i].n), dflt[i].v, strlen(dflt[i].v), e2, sizeof e2))
			goto bad;
	}
	if (!srv_relabel_apply(j->relabel, j->nrelabel, l))
		return 1;
	const char *a = srv_lset_get(l, "__address__");
	const char *s = srv_lset_get(l, "__scheme__");
	const char *mp = srv_lset_get(l, "__metrics_path__");
	if (!a || !*a) {
		snprintf(err, errsz, "no __address__ after relabelling");
		return -1;
	}
	size_t an = strlen(a);
	if (an >= 256 || strcspn(a, "/?#@ ") != an || !strchr(a, ':')) {
		char esc[100];
		cprof_escape(esc, sizeof esc, a, an < 80 ? an : 80);
		snprintf(err, errsz, "target \"%s\" is not HOST:PORT", esc);
		return -1;
	}
	if (!s || (strcmp(s, "http") && strcmp(s, "https"))) {
		snprintf(err, errsz, "scheme \"%.20s\" is not http or https", s ? s : "");
		return -1;
	}
	snprintf(t->base, sizeof t->base, "%s://%s", s, a);
	snprintf(t->instance, sizeof t->instance, "%s", a);
	if (mp && *mp && *mp != '/') {
		snprintf(err, errsz, "__metrics_path__ \"%.80s\" does not start with /", mp);
		return -1;
	}
	snprintf(t->metrics_path, sizeof t->metrics_path, "%s", mp ? mp : "");
	if ((!srv_lset_get(l, "instance") && srv_lset_set(l, "instance", 8, a, an, e2, sizeof e2)) ||
	    (!srv_lset_get(l, "job") && srv_lset_set(l, "job", 3, j->name, strlen(j->name), e2, sizeof e2)))
		goto bad;
	for (size_t i = 0; i < l->n;)
		if (!strncmp(l->v[i].name, "__", 2))
			lset_del(l, i);
		else
			i++;
	uint64_t h = fnv(fnv(fnv(0xcbf29ce484222325ULL, j->name), t->base), t->metrics_path);
	for (size_t i = 0; i < l->n; i++)
		h = fnv(fnv(h, l->v[i].name), l->v[i].value);
	t->key = h;
	return 0;
bad:
	snprintf(err, errsz, "%s", e2);
	return -1;
}
