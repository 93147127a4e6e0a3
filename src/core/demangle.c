/*
 * demangle.c - C++ symbol demangling with pprof's four modes.
 *
 * The Itanium-ABI demangling itself is libstdc++'s __cxa_demangle (the
 * command links -lstdc++).  It was chosen over libiberty's cplus_demangle
 * because libstdc++ is on every system that has g++ and is a shared
 * library, while Debian ships libiberty only as a static archive of a
 * private GCC component; both produce the same text (they share the code).
 *
 * __cxa_demangle always prints the full signature, so pprof's simplified
 * modes are made from that text, as pprof itself does for names it gets
 * already demangled:
 *   - full:      the full name, minus GCC's " [clone .xyz]" suffixes;
 *   - templates: no parameter lists (anywhere, also in enclosing scopes of
 *                local names), no cv/ref qualifiers after them, no return
 *                type of function templates;
 *   - default:   the same and no template argument lists either;
 *   - none:      the mangled name unchanged.
 * The simplifier is a scanner over the demangled text that removes
 * balanced (...) and <...> groups, keeping the brackets that are part of a
 * name: "(anonymous namespace)", lambda and unnamed-type names in {...},
 * and operator names (operator(), operator<, operator<<=, operator->...).
 * Its output is never longer than its input.
 */
#include "core_int.h"

#include <ctype.h>

/* libstdc++'s demangler (cxxabi.h is C++ only). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* Length of an operator token right after the word "operator" at s (0
 * when what follows is a word, as in "operator new" or "operator int"). */
static size_t op_len(const char *s)
{
	static const char *const ops[] = {
		"()", "[]", "<=>", "<<=", ">>=", "->*", "->", "<<", ">>", "<=", ">=",
		"==", "!=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=",
		"|=", "^=", "+", "-", "*", "/", "%", "^", "&", "|", "~", "!", "=", "<",
		">", ",",
	};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
		size_t n = strlen(ops[i]);
		if (strncmp(s, ops[i], n) == 0)
			return n;
	}
	return 0;
}

/* Skip the balanced group that starts at s[i] (an opener); returns the
 * index just past its closer, or len when unbalanced. */
static size_t skip_group(const char *s, size_t i, size_t len)
{
	char open = s[i], close = open == '(' ? ')' : open == '<' ? '>' : '}';
	int depth = 0;
	for (; i < len; i++) {
		if (i + 8 <= len && strncmp(s + i, "operator", 8) == 0 &&
		    (i == 0 || !is_ident(s[i - 1]))) {
			i += 8;
			i += op_len(s + i);
			i--;
			continue;
		}
		if (s[i] == open)
			depth++;
		else if (s[i] == close && --depth == 0)
			return i + 1;
	}
	return len;
}

/* Simplify a demangled name in place (see the file comment). */
static void simplify(char *s, bool no_params, bool no_templates)
{
	size_t len = strlen(s), w = 0;
	size_t name_start = 0;      /* where the name proper starts (after a return type) */
	size_t op_at = SIZE_MAX;    /* output index of a top-level "operator" */
	int depth = 0;              /* kept brackets: < ( { */
	for (size_t i = 0; i < len;) {
		if (strncmp(s + i, "(anonymous namespace)", 21) == 0) {
			memmove(s + w, s + i, 21);
			w += 21, i += 21;
			continue;
		}
		if (i + 8 <= len && strncmp(s + i, "operator", 8) == 0 &&
		    (i == 0 || !is_ident(s[i - 1]))) {
			if (depth == 0 && op_at == SIZE_MAX)
				op_at = w;
			size_t n = 8 + op_len(s + i + 8);
			memmove(s + w, s + i, n);
			w += n, i += n;
			continue;
		}
		char c = s[i];
		if (c == '{') {     /* {lambda(int)#1}, {unnamed type#1}: kept whole */
			size_t e = skip_group(s, i, len);
			memmove(s + w, s + i, e - i);
			w += e - i, i = e;
			continue;
		}
		if ((c == '(' && no_params) || (c == '<' && no_templates)) {
			i = skip_group(s, i, len);
			if (c == '(') {
				/* drop cv/ref qualifiers that follow a parameter list */
				static const char *const q[] = { " const", " volatile", " &&", " &", " noexcept" };
				for (bool again = true; again;) {
					again = false;
					for (size_t k = 0; k < sizeof q / sizeof *q; k++) {
						size_t n = strlen(q[k]);
						if (strncmp(s + i, q[k], n) == 0 && !is_ident(s[i + n])) {
							i += n;
							again = true;
						}
					}
				}
			}
			continue;
		}
		if (c == '<' || c == '(')
			depth++;
		else if ((c == '>' || c == ')') && depth > 0)
			depth--;
		else if (c == ' ' && depth == 0 && op_at == SIZE_MAX && no_params)
			name_start = w + 1;     /* a return type ends here */
		s[w++] = c;
		i++;
	}
	s[w] = 0;
	if (name_start > 0 && name_start < w)
		memmove(s, s + name_start, w - name_start + 1);
}

char *cprof_demangle(const char *name, int mode)
{
	if (!name || mode == CPROF_DEMANGLE_NONE || strncmp(name, "_Z", 2) != 0)
		return NULL;
	int status = 0;
	char *d = __cxa_demangle(name, NULL, NULL, &status);
	if (!d || status != 0) {
		free(d);
		return NULL;
	}
	/* GCC's clone suffixes: pprof drops them in every mode */
	char *c;
	while ((c = strstr(d, " [clone ")) != NULL) {
		char *e = strchr(c, ']');
		if (!e)
			break;
		memmove(c, e + 1, strlen(e + 1) + 1);
	}
	if (mode == CPROF_DEMANGLE_DEFAULT)
		simplify(d, true, true);
	else if (mode == CPROF_DEMANGLE_TEMPLATES)
		simplify(d, true, false);
	return d;
}

int cprof_demangle_profile(cprof_profile *p, int mode, bool force)
{
	for (size_t i = 0; i < p->functions.n; i++) {
		cprof_function *f = &p->functions.v[i];
		if (force && f->name && f->system_name)
			f->name = f->system_name;
		if (f->name && f->system_name != f->name)
			continue;   /* already demangled */
		char *d = cprof_demangle(cprof_s(p, f->system_name), mode);
		if (!d) {
			f->name = f->system_name;
			continue;
		}
		cprof_str s = cprof_intern_cstr(p, d);
		free(d);
		if (s == CPROF_NONE)
			return CPROF_ENOMEM;
		f->name = s;
	}
	return 0;
}
