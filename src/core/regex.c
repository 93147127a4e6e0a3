/*
 * regex.c - cprof's one wrapper of PCRE2 (the reports' filters, the legacy
 * formats' /proc/maps lines): unanchored like Go's
 * MatchString, in UTF mode with '$' meaning end of text and invalid UTF-8 in
 * subjects tolerated (or, with CPROF_RX_BYTES, on bytes), with Go's error wording for the mistakes users make
 * most (pprof prints Go's regexp errors; PCRE2's text is used for the rest).
 *
 * Go's regexps run in linear time; PCRE2 backtracks, and a pattern such as
 * (.*a){25} takes minutes on one name.  Every match therefore runs under a
 * match limit and a depth limit (CPROF_RX_MATCH_LIMIT, CPROF_RX_DEPTH_LIMIT):
 * generous for the expressions people write against function and file
 * names, small enough that a pathological one gives up in well under a
 * second per subject.  A match that hits a limit (or fails in any other way
 * than "no match") is never taken as "no match": the regex records the first
 * such failure, the match answers false, and the report asks
 * cprof_regex_status before it prints anything, so the user gets one line
 * naming the expression instead of a silently wrong report.  After a
 * failure the regex matches nothing, so a report spends one limit at most.
 *
 * A thread may also carry a deadline (cprof_deadline_set: the web API's
 * per request limit): every 16th match, and the first, reads the clock,
 * and a match past the deadline fails like one that hit a limit, so the
 * report ends with one line saying the time ran out.
 *
 * Threads: a compiled cprof_regex owns its match data and its failure record,
 * so one regex must not be used from two threads at once; distinct regexes
 * are independent.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core_int.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* rx->fail for a match refused because the thread's deadline passed (no
 * PCRE2 error has this value) */
#define CPROF_RX_DEADLINE (-1000000)

static _Thread_local int64_t deadline_ns;      /* 0: none */
static _Thread_local unsigned deadline_tick;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cprof_deadline_set(int64_t ns)
{
	deadline_ns = ns;
	deadline_tick = 0;
}

bool cprof_deadline_passed(void)
{
	return deadline_ns && mono_ns() >= deadline_ns;
}

/* Where a character class that is never closed starts in pat, or len. */
static size_t open_class(const char *pat, size_t len)
{
	size_t start = len;
	for (size_t i = 0; i < len; i++) {
		if (pat[i] == '\\') {
			i++;
		} else if (start == len && pat[i] == '[') {
			start = i;
			if (i + 1 < len && pat[i + 1] == '^')
				i++;
			if (i + 1 < len && pat[i + 1] == ']')
				i++;
		} else if (start != len && pat[i] == ']') {
			start = len;
		}
	}
	return start;
}

static bool is_quant(char ch)
{
	return ch == '*' || ch == '+' || ch == '?';
}

/* Go's message for the errors users hit most (its text, and the part of
 * the expression it quotes); PCRE2's text and the whole expression
 * otherwise. */
void cprof_regex_errtext(int code, const char *pat, size_t len, size_t eoff, char *why,
		       size_t whyn, const char **part, size_t *partlen)
{
	*part = pat;
	*partlen = len;
	switch (code) {
	case PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS:
		snprintf(why, whyn, "missing closing )");
		return;
	case PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS:
		snprintf(why, whyn, "unexpected )");
		return;
	case PCRE2_ERROR_MISSING_SQUARE_BRACKET: {
		size_t st = open_class(pat, len);
		snprintf(why, whyn, "missing closing ]");
		if (st < len) {
			*part = pat + st;
			*partlen = len - st;
		}
		return;
	}
	case PCRE2_ERROR_QUANTIFIER_INVALID:
		/* PCRE2 points at the quantifier that has nothing to repeat */
		if (eoff < len && is_quant(pat[eoff])) {
			if (eoff >= 1 && is_quant(pat[eoff - 1])) {
				snprintf(why, whyn, "invalid nested repetition operator");
				*part = pat + eoff - 1;
				*partlen = 2;
			} else {
				snprintf(why, whyn, "missing argument to repetition operator");
				*part = pat + eoff;
				*partlen = 1;
			}
			return;
		}
		snprintf(why, whyn, "missing argument to repetition operator");
		return;
	case PCRE2_ERROR_END_BACKSLASH:
		snprintf(why, whyn, "trailing backslash at end of expression");
		*partlen = 0;
		return;
	case PCRE2_ERROR_CLASS_RANGE_ORDER:
		/* PCRE2 points at the end of the range "z-a" */
		snprintf(why, whyn, "invalid character class range");
		if (eoff >= 2 && eoff < len && pat[eoff - 1] == '-') {
			*part = pat + eoff - 2;
			*partlen = 3;
		}
		return;
	}
	if (pcre2_get_error_message(code, (PCRE2_UCHAR *)why, whyn) < 0)
		snprintf(why, whyn, "error %d", code);
}


struct cprof_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	char *label;            /* "focus regexp `RE`", for failure messages */
	int fail;               /* the first PCRE2 error of a match, or 0 */
	char *fail_subject;     /* the subject it failed on (escaped, bounded) */
};

cprof_regex *cprof_regex_new(const char *pat, size_t len, const char *name, const char *prefix,
			     cprof_error *err)
{
	return cprof_regex_new_flags(pat, len, name, prefix, 0, err);
}

cprof_regex *cprof_regex_new_flags(const char *pat, size_t len, const char *name,
				   const char *prefix, unsigned flags, cprof_error *err)
{
	int ec;
	PCRE2_SIZE eo;
	cprof_regex *rx = calloc(1, sizeof *rx);
	if (!rx) {
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	uint32_t opts = (flags & CPROF_RX_BYTES) ? 0
			: PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
	rx->code = pcre2_compile((PCRE2_SPTR)pat, len, opts, &ec, &eo, NULL);
	if (!rx->code) {
		char why[160];
		const char *part;
		size_t partlen;
		cprof_regex_errtext(ec, pat, len, eo, why, sizeof why, &part, &partlen);
		cprof_seterr(err, CPROF_EINVAL, "%serror parsing regexp: %s: `%.*s`", prefix, why,
			     (int)partlen, part);
		free(rx);
		return NULL;
	}
	pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE);    /* optional speed-up */
	rx->md = pcre2_match_data_create_from_pattern(rx->code, NULL);
	rx->mc = pcre2_match_context_create(NULL);
	size_t ln = strlen(name) + len + 16;
	rx->label = malloc(ln);
	if (!rx->md || !rx->mc || !rx->label) {
		cprof_regex_free(rx);
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(rx->label, ln, "%s regexp `%.*s`", name, (int)len, pat);
	pcre2_set_match_limit(rx->mc, CPROF_RX_MATCH_LIMIT);
	pcre2_set_depth_limit(rx->mc, CPROF_RX_DEPTH_LIMIT);
	return rx;
}

cprof_regex *cprof_regex_compile(const char *re, const char *what, cprof_error *err)
{
	size_t n = strlen(re), pn = strlen(what) + n + 4;
	char *prefix = malloc(pn);
	if (!prefix) {
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(prefix, pn, "%s %s: ", what, re);
	cprof_regex *rx = cprof_regex_new(re, n, "argument", prefix, err);
	free(prefix);
	return rx;
}

bool cprof_regex_match(cprof_regex *rx, const char *s, size_t len)
{
	if (rx->fail)
		return false;   /* the report fails anyway: spend no more time */
	int r = deadline_ns && (deadline_tick++ & 15) == 0 && cprof_deadline_passed()
		? CPROF_RX_DEADLINE
		: pcre2_match(rx->code, (PCRE2_SPTR)s, len, 0, 0, rx->md, rx->mc);
	if (r >= 0)
		return true;
	if (r != PCRE2_ERROR_NOMATCH && !rx->fail) {
		rx->fail = r;
		size_t n = len > 60 ? 60 : len;
		if ((rx->fail_subject = malloc(n + 4)) != NULL) {
			memcpy(rx->fail_subject, s, n);
			strcpy(rx->fail_subject + n, len > n ? "..." : "");
		}
	}
	return false;
}

bool cprof_regex_group(const cprof_regex *rx, int g, const char *s, const char **gs, size_t *gn)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rx->md);
	if (g < 0 || (uint32_t)g >= pcre2_get_ovector_count(rx->md) || ov[2 * g] == PCRE2_UNSET) {
		*gs = "";
		*gn = 0;
		return false;
	}
	*gs = s + ov[2 * g];
	*gn = ov[2 * g + 1] - ov[2 * g];
	return true;
}

int cprof_regex_status(const cprof_regex *rx, cprof_error *err)
{
	if (!rx || !rx->fail)
		return 0;
	const char *why;
	switch (rx->fail) {
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
		why = "backtracks too much";
		break;
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
		why = "nests too deep";
		break;
	case PCRE2_ERROR_NOMEMORY:
		return cprof_seterr(err, CPROF_ENOMEM, "%s: out of memory matching", rx->label);
	case CPROF_RX_DEADLINE:
		return cprof_seterr(err, CPROF_ELIMIT, "%s: the request's time ran out while "
				    "matching (deadline exceeded)", rx->label);
	default:
		why = "cannot be matched";
		break;
	}
	return cprof_seterr(err, CPROF_ELIMIT, "%s %s on \"%s\": it hit PCRE2's limit "
			    "(simplify the expression)", rx->label, why,
			    rx->fail_subject ? rx->fail_subject : "");
}

void cprof_regex_free(cprof_regex *rx)
{
	if (!rx)
		return;
	pcre2_match_data_free(rx->md);
	pcre2_match_context_free(rx->mc);
	pcre2_code_free(rx->code);
	free(rx->label);
	free(rx->fail_subject);
	free(rx);
}
