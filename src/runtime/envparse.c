/*
 * envparse.c - the runtime's one strict parser of CPROF_* environment
 * values (rt_env.h): booleans, numbers, sizes, durations, signals,
 * endpoint addresses, paths and profile file patterns.
 *
 * Every environment file of the runtime (env.c, heap_env.c, sync_env.c,
 * tprof_env.c, http_env.c, dump.c) reads its variables through here, so a
 * value means one thing everywhere: "no" is false wherever a boolean is
 * read, a number is all digits and in range (never taken modulo, never cut
 * at the first bad byte), a signal is one the runtime may safely take.  A
 * bad value gets one line on stderr naming the variable, the value and
 * what is wrong, and the caller turns the feature off.
 *
 * The rt_parse_* functions are pure (no getenv, no stdio, no allocation),
 * for the fuzzer and for any context; rt_expand_pattern is async-signal-
 * safe.  The rt_env_* functions call getenv and stdio: constructors only.
 */
#include "rt_env.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- numbers ----------------------------------------------------------------------- */

/* Digits only (after an optional sign), no overflow: 0 and *out, or -1. */
static int whole(const char *v, size_t n, bool sign_ok, long long *out)
{
	size_t i = 0;
	bool neg = false;
	if (sign_ok && n > 0 && (v[0] == '-' || v[0] == '+')) {
		neg = v[0] == '-';
		i = 1;
	}
	if (i == n)
		return -1;
	unsigned long long x = 0;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (x > (unsigned long long)LLONG_MAX)
		return -1;
	*out = neg ? -(long long)x : (long long)x;
	return 0;
}

/* The leading digits of v as a number and where the unit starts: 0, or -1
 * when there are none or they overflow. */
static int lead(const char *v, long long *x, const char **unit)
{
	size_t d = 0;
	while (v[d] >= '0' && v[d] <= '9')
		d++;
	*unit = v + d;
	return d == 0 ? -1 : whole(v, d, false, x);
}

int rt_parse_bool(const char *v, bool *out, const char **why)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	*why = "not a boolean (1/0, true/false, yes/no, on/off)";
	return -1;
}

int rt_parse_long(const char *v, long lo, long hi, long *out, const char **why)
{
	long long x;
	if (whole(v, strlen(v), true, &x) != 0 || x < lo || x > hi) {
		static char buf[96];
		/* a static reason: constructors run one at a time, in one thread */
		snprintf(buf, sizeof buf, "not a whole number in %ld..%ld", lo, hi);
		*why = buf;
		return -1;
	}
	*out = (long)x;
	return 0;
}

int rt_parse_size(const char *v, unsigned long long lo, unsigned long long hi,
		  unsigned long long *out, const char **why)
{
	long long x;
	const char *s;
	*why = "not a size in bytes (a whole number, optionally with K, M, G or T)";
	if (lead(v, &x, &s) != 0)
		return -1;
	unsigned shift = 0;
	switch (*s) {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	case 't': case 'T': shift = 40; s++; break;
	}
	if (shift && (*s == 'i' || *s == 'I'))
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s)
		return -1;
	unsigned long long u = (unsigned long long)x;
	if (shift && u > (ULLONG_MAX >> shift)) {
		*why = "size too large";
		return -1;
	}
	u <<= shift;
	if (u < lo || u > hi) {
		static char buf[96];
		snprintf(buf, sizeof buf, "size out of range %llu..%llu bytes", lo, hi);
		*why = buf;
		return -1;
	}
	*out = u;
	return 0;
}

int rt_parse_ns(const char *v, long long lo, long long hi, long long *out, const char **why)
{
	long long x;
	const char *u;
	*why = "not a duration (a whole number of ns, or with a unit: ns, us, ms, s)";
	if (lead(v, &x, &u) != 0)
		return -1;
	long long mul;
	if (!*u || strcmp(u, "ns") == 0)
		mul = 1;
	else if (strcmp(u, "us") == 0)
		mul = 1000;
	else if (strcmp(u, "ms") == 0)
		mul = 1000000;
	else if (strcmp(u, "s") == 0)
		mul = 1000000000;
	else
		return -1;
	if (x > LLONG_MAX / mul) {
		*why = "duration too long";
		return -1;
	}
	x *= mul;
	if (x < lo || x > hi) {
		static char buf[96];
		snprintf(buf, sizeof buf, "duration out of range %lld..%lld ns", lo, hi);
		*why = buf;
		return -1;
	}
	*out = x;
	return 0;
}

/* ---- signals ----------------------------------------------------------------------- */

static const struct sigdef {
	const char *name;
	int sig;
	const char *refused;    /* NULL: the runtime may take it */
} sigdefs[] = {
	{ "HUP", SIGHUP, NULL }, { "INT", SIGINT, "the program's ^C" },
	{ "QUIT", SIGQUIT, NULL }, { "ILL", SIGILL, "a fault signal" },
	{ "TRAP", SIGTRAP, "a fault signal (debuggers use it)" },
	{ "ABRT", SIGABRT, "fatal by design (abort)" }, { "IOT", SIGIOT, "fatal by design (abort)" },
	{ "BUS", SIGBUS, "a fault signal" }, { "FPE", SIGFPE, "a fault signal" },
	{ "KILL", SIGKILL, "cannot be caught" }, { "USR1", SIGUSR1, NULL },
	{ "SEGV", SIGSEGV, "a fault signal" }, { "USR2", SIGUSR2, NULL },
	{ "PIPE", SIGPIPE, "the program's writes depend on it" },
	{ "ALRM", SIGALRM, "the program's timers use it" },
	{ "TERM", SIGTERM, "the program's termination" },
	{ "STKFLT", SIGSTKFLT, NULL }, { "CHLD", SIGCHLD, "the program's children use it" },
	{ "CLD", SIGCHLD, "the program's children use it" },
	{ "CONT", SIGCONT, "job control uses it" }, { "STOP", SIGSTOP, "cannot be caught" },
	{ "TSTP", SIGTSTP, "job control uses it" }, { "TTIN", SIGTTIN, "job control uses it" },
	{ "TTOU", SIGTTOU, "job control uses it" }, { "URG", SIGURG, NULL },
	{ "XCPU", SIGXCPU, "a resource limit's signal" },
	{ "XFSZ", SIGXFSZ, "a resource limit's signal" },
	{ "VTALRM", SIGVTALRM, "the program's timers use it" },
	{ "PROF", SIGPROF, "the CPU profiler's own" }, { "WINCH", SIGWINCH, NULL },
	{ "IO", SIGIO, "the program's asynchronous I/O uses it" },
	{ "POLL", SIGPOLL, "the program's asynchronous I/O uses it" },
	{ "PWR", SIGPWR, NULL }, { "SYS", SIGSYS, "a fault signal (seccomp)" },
};

const char *rt_signal_name(int sig, char *buf, size_t n)
{
	for (size_t i = 0; i < sizeof sigdefs / sizeof sigdefs[0]; i++)
		if (sigdefs[i].sig == sig) {
			snprintf(buf, n, "SIG%s", sigdefs[i].name);
			return buf;
		}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, n, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, n, "signal %d", sig);
	return buf;
}

int rt_parse_signal(const char *v, bool rt_only, int *out, const char **why)
{
	static char buf[128];
	long long num;
	int sig = -1;
	const char *s = v;
	if (whole(v, strlen(v), false, &num) == 0) {
		if (num < 1 || num >= NSIG) {
			*why = "not a signal number";
			return -1;
		}
		sig = (int)num;
	} else {
		if (strncasecmp(s, "SIG", 3) == 0)
			s += 3;
		for (size_t i = 0; i < sizeof sigdefs / sizeof sigdefs[0] && sig < 0; i++)
			if (strcasecmp(s, sigdefs[i].name) == 0)
				sig = sigdefs[i].sig;
		if (sig < 0 && strncasecmp(s, "RTMIN", 5) == 0) {
			long long k = 0;
			if ((s[5] == 0 || (s[5] == '+' && whole(s + 6, strlen(s + 6), false, &k) == 0)) &&
			    k <= SIGRTMAX - SIGRTMIN)
				sig = SIGRTMIN + (int)k;
		} else if (sig < 0 && strncasecmp(s, "RTMAX", 5) == 0) {
			long long k = 0;
			if ((s[5] == 0 || (s[5] == '-' && whole(s + 6, strlen(s + 6), false, &k) == 0)) &&
			    k <= SIGRTMAX - SIGRTMIN)
				sig = SIGRTMAX - (int)k;
		}
		if (sig < 0) {
			*why = "not a signal name or number (e.g. SIGUSR1, USR2, RTMIN+3, 10)";
			return -1;
		}
	}
	char nm[32];
	rt_signal_name(sig, nm, sizeof nm);
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		*out = sig;
		return 0;
	}
	if (rt_only) {
		snprintf(buf, sizeof buf, "%s is not a real-time signal (SIGRTMIN..SIGRTMAX)", nm);
		*why = buf;
		return -1;
	}
	for (size_t i = 0; i < sizeof sigdefs / sizeof sigdefs[0]; i++)
		if (sigdefs[i].sig == sig) {
			if (sigdefs[i].refused) {
				snprintf(buf, sizeof buf, "%s is %s; use SIGUSR1, SIGUSR2, SIGURG, "
					 "SIGWINCH, SIGPWR, SIGHUP, SIGQUIT or SIGRTMIN+N", nm,
					 sigdefs[i].refused);
				*why = buf;
				return -1;
			}
			*out = sig;
			return 0;
		}
	/* 32 and 33: glibc's own (threads, cancellation) */
	snprintf(buf, sizeof buf, "%s is reserved by the C library", nm);
	*why = buf;
	return -1;
}

/* ---- addresses, paths, patterns ------------------------------------------------------------ */

/* digits of base 10 or 16 (at most max of them) at *s, into *out; moves *s */
static bool tree_num(const char **s, int base, int max, unsigned long long *out)
{
	unsigned long long v = 0;
	int n = 0;
	for (const char *p = *s;; p++, n++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0'
		      : base == 16 && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			break;
		if (n == max || v > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
			return false;
		v = v * (unsigned)base + (unsigned)d;
	}
	if (n == 0)
		return false;
	*s += n;
	*out = v;
	return true;
}

int rt_parse_http_tree(const char *v, long *pid, unsigned long long *hash,
		       unsigned long long *dev, unsigned long long *ino)
{
	unsigned long long p;
	const char *s = v;
	if (!tree_num(&s, 10, 10, &p) || p == 0 || p > INT_MAX || *s++ != ':' ||
	    !tree_num(&s, 16, 16, hash) || *s++ != ':' || !tree_num(&s, 10, 20, dev) ||
	    *s++ != ':' || !tree_num(&s, 10, 20, ino) || *s)
		return -1;
	*pid = (long)p;
	return 0;
}

int rt_parse_listen(const char *v, const char **why)
{
	if (strncmp(v, "unix:", 5) == 0) {
		size_t l = strlen(v + 5);
		if (l == 0 || l > 107) {
			*why = "unix: needs a socket path of 1 to 107 bytes";
			return -1;
		}
		if (strchr(v + 5, '\n')) {
			*why = "a socket path with a newline";
			return -1;
		}
		return 0;
	}
	const char *colon = strrchr(v, ':');
	if (!colon) {
		*why = "not HOST:PORT or unix:/path";
		return -1;
	}
	size_t hl = (size_t)(colon - v);
	const char *port = colon + 1;
	long long p;
	if (whole(port, strlen(port), false, &p) != 0 || p > 65535) {
		*why = "the port is not a number in 0..65535";
		return -1;
	}
	if (hl > 0 && v[0] == '[') {
		if (v[hl - 1] != ']' || hl < 3) {
			*why = "an IPv6 address needs [brackets] around it";
			return -1;
		}
		for (size_t i = 1; i + 1 < hl; i++)
			if (!isxdigit((unsigned char)v[i]) && v[i] != ':' && v[i] != '.' && v[i] != '%' &&
			    !isalnum((unsigned char)v[i])) {
				*why = "not an IPv6 address in [brackets]";
				return -1;
			}
		return 0;
	}
	if (hl > 253) {
		*why = "host name too long";
		return -1;
	}
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-' && v[i] != '_') {
			*why = v[i] == ':' ? "an IPv6 address needs [brackets] around it"
					   : "not a host name or address";
			return -1;
		}
	return 0;
}

int rt_parse_path(const char *v, const char **why)
{
	if (strcmp(v, "-") == 0) {
		*why = "\"-\" is not a file here (the runtime never reads the program's stdin "
		       "or writes its stdout)";
		return -1;
	}
	if (strlen(v) >= PATH_MAX) {
		*why = "path too long";
		return -1;
	}
	if (strchr(v, '\n')) {
		*why = "a path with a newline";
		return -1;
	}
	return 0;
}

int rt_parse_pattern(const char *v, bool *per_process, const char **why)
{
	if (rt_parse_path(v, why) != 0)
		return -1;
	*per_process = false;
	for (const char *c = v; *c; c++) {
		if (*c != '%')
			continue;
		c++;
		switch (*c) {
		case 'p': *per_process = true; break;
		case 'e': case 'h': case 't': case '%': break;
		default:
			*why = "a % sequence other than %p (pid), %e (program), %h (host), "
			       "%t (time) or %%";
			return -1;
		}
	}
	return 0;
}

/* [AS-safe]: no stdio. */
static bool put(char *out, size_t n, size_t *o, const char *s, size_t l)
{
	if (*o + l >= n)
		return false;
	memcpy(out + *o, s, l);
	*o += l;
	return true;
}

static size_t fmt_ll(long long x, char *b)
{
	char t[24];
	size_t k = 0;
	unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
	do {
		t[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t l = 0;
	if (x < 0)
		b[l++] = '-';
	while (k)
		b[l++] = t[--k];
	return l;
}

int rt_expand_pattern(const char *pattern, long pid, const char *exe, const char *host,
		      long long t, char *out, size_t n)
{
	size_t o = 0;
	char num[24];
	if (n == 0)
		return -1;
	for (const char *c = pattern; *c; c++) {
		bool ok;
		if (*c != '%') {
			ok = put(out, n, &o, c, 1);
		} else {
			switch (*++c) {
			case 'p': ok = put(out, n, &o, num, fmt_ll(pid, num)); break;
			case 't': ok = put(out, n, &o, num, fmt_ll(t, num)); break;
			case 'e': ok = put(out, n, &o, exe ? exe : "", exe ? strnlen(exe, 15) : 0); break;
			case 'h': ok = put(out, n, &o, host ? host : "", host ? strlen(host) : 0); break;
			case '%': ok = put(out, n, &o, "%", 1); break;
			default: ok = false; break;
			}
		}
		if (!ok)
			return -1;
	}
	out[o] = 0;
	return 0;
}

/* ---- from the environment ------------------------------------------------------------------ */

/* Each variable is complained about once per process image, however many
 * files read it (CPROF_FOLLOW_FORK: the CPU and the heap constructors).
 * Constructors run one at a time; a later reader (a runtime thread) at
 * worst repeats a line. */
static const char *complained[32];
static unsigned ncomplained;

void rt_env_complain(const char *name, const char *value, const char *why, const char *conseq)
{
	for (unsigned i = 0; i < ncomplained; i++)
		if (strcmp(complained[i], name) == 0)
			return;
	if (ncomplained < sizeof complained / sizeof complained[0])
		complained[ncomplained++] = name;
	char shown[128];
	size_t i = 0;
	for (; value[i] && i < 120; i++)
		shown[i] = (unsigned char)value[i] < 0x20 || value[i] == 0x7f ? '?' : value[i];
	shown[i] = 0;
	fprintf(stderr, "cprof: ignoring %s=%s%s: %s%s%s\n", name, shown, value[i] ? "..." : "", why,
		conseq ? "; " : "", conseq ? conseq : "");
}

static const char *value_of(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

#define ENV_BODY(parse_call) \
	const char *v = value_of(name); \
	const char *why = ""; \
	if (!v) \
		return RT_ENV_UNSET; \
	if ((parse_call) != 0) { \
		rt_env_complain(name, v, why, conseq); \
		return RT_ENV_BAD; \
	} \
	return RT_ENV_OK

rt_env_rc rt_env_bool(const char *name, const char *conseq, bool *out)
{
	ENV_BODY(rt_parse_bool(v, out, &why));
}

rt_env_rc rt_env_long(const char *name, long lo, long hi, const char *conseq, long *out)
{
	ENV_BODY(rt_parse_long(v, lo, hi, out, &why));
}

rt_env_rc rt_env_size(const char *name, unsigned long long lo, unsigned long long hi,
		      const char *conseq, unsigned long long *out)
{
	ENV_BODY(rt_parse_size(v, lo, hi, out, &why));
}

rt_env_rc rt_env_ns(const char *name, long long lo, long long hi, const char *conseq,
		    long long *out)
{
	ENV_BODY(rt_parse_ns(v, lo, hi, out, &why));
}

rt_env_rc rt_env_signal(const char *name, bool rt_only, const char *conseq, int *out)
{
	ENV_BODY(rt_parse_signal(v, rt_only, out, &why));
}

rt_env_rc rt_env_listen(const char *name, const char *conseq, const char **out)
{
	*out = NULL;
	ENV_BODY((*out = v, rt_parse_listen(v, &why)));
}

rt_env_rc rt_env_path(const char *name, const char *conseq, const char **out)
{
	*out = NULL;
	ENV_BODY((*out = v, rt_parse_path(v, &why)));
}

rt_env_rc rt_env_pattern(const char *name, const char *conseq, const char **out)
{
	bool pp;
	*out = NULL;
	ENV_BODY((*out = v, rt_parse_pattern(v, &pp, &why)));
}

rt_env_rc rt_env_word(const char *name, const char *const *words, size_t nwords,
		      const char *conseq, int *out)
{
	const char *v = value_of(name);
	if (!v)
		return RT_ENV_UNSET;
	for (size_t i = 0; i < nwords; i++)
		if (strcmp(v, words[i]) == 0) {
			*out = (int)i;
			return RT_ENV_OK;
		}
	char why[160];
	size_t o = (size_t)snprintf(why, sizeof why, "not ");
	for (size_t i = 0; i < nwords && o < sizeof why; i++)
		o += (size_t)snprintf(why + o, sizeof why - o, "%s%s", i == 0 ? "" :
				      i + 1 == nwords ? " or " : ", ", words[i]);
	rt_env_complain(name, v, why, conseq);
	return RT_ENV_BAD;
}
