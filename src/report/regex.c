/*
 * regex.c - regular expressions for the reports: PCRE2, unanchored like Go's
 * MatchString, with Go's error wording for the mistakes users make most
 * (pprof prints Go's regexp errors; PCRE2's text is used for the rest).
 * A compiled cpr_regex owns its match data, so one regex must not be used
 * from two threads at once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "report_int.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
void cpr_regex_errtext(int code, const char *pat, size_t len, size_t eoff, char *why,
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


struct cpr_regex {
	pcre2_code *code;
	pcre2_match_data *md;
};

cpr_regex *cpr_regex_compile(const char *re, const char *what, cprof_error *err)
{
	int ec;
	PCRE2_SIZE eo;
	cpr_regex *rx = calloc(1, sizeof *rx);
	if (!rx) {
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	rx->code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
				 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &eo,
				 NULL);
	if (!rx->code) {
		char why[160];
		const char *part;
		size_t partlen;
		cpr_regex_errtext(ec, re, strlen(re), eo, why, sizeof why, &part, &partlen);
		cprof_seterr(err, CPROF_EINVAL, "%s %s: error parsing regexp: %s: `%.*s`", what, re,
			     why, (int)partlen, part);
		free(rx);
		return NULL;
	}
	rx->md = pcre2_match_data_create_from_pattern(rx->code, NULL);
	if (!rx->md) {
		pcre2_code_free(rx->code);
		free(rx);
		cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		return NULL;
	}
	return rx;
}

bool cpr_regex_match(cpr_regex *rx, const char *s, size_t len)
{
	return pcre2_match(rx->code, (PCRE2_SPTR)s, len, 0, 0, rx->md, NULL) >= 0;
}

void cpr_regex_free(cpr_regex *rx)
{
	if (!rx)
		return;
	pcre2_match_data_free(rx->md);
	pcre2_code_free(rx->code);
	free(rx);
}
