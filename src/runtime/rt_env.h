/*
 * rt_env.h - the runtime's one strict parser of CPROF_* environment values
 * (envparse.c) and its parsers of /proc text (procparse.c).
 *
 * Two layers.  rt_parse_* are pure: a value in, the parsed result or a
 * static reason out (no getenv, no output, no allocation), so the fuzzer
 * (fuzz/fuzz_rtenv.c) runs them on anything.  rt_env_* read the variable,
 * parse it, and on a bad value write one line on stderr,
 *
 *   cprof: ignoring NAME=VALUE: WHY; CONSEQUENCE
 *
 * (VALUE cut at 120 bytes, control bytes shown as '?'), and return
 * RT_ENV_BAD: the caller then turns the feature the variable configures
 * off (CONSEQUENCE says which), never reinterprets the value.  An unset or
 * empty variable is RT_ENV_UNSET (the default applies), silently.  The
 * rt_env_* functions use getenv and stdio: constructors only, never from
 * an interposed function or a signal handler.
 */
#ifndef CPROF_RT_ENV_H
#define CPROF_RT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rt_env_rc { RT_ENV_UNSET, RT_ENV_OK, RT_ENV_BAD } rt_env_rc;

/* ---- pure parsers: 0 and *out, or -1 and *why (a static string) ------------- */

/* 1/0, true/false, yes/no, on/off (any case). */
int rt_parse_bool(const char *v, bool *out, const char **why);
/* A decimal integer in [lo, hi] (optional sign, nothing else). */
int rt_parse_long(const char *v, long lo, long hi, long *out, const char **why);
/* Bytes: a whole number with an optional K, M, G or T (powers of 1024, an
 * optional "i" and "B" after it, any case), in [lo, hi]. */
int rt_parse_size(const char *v, unsigned long long lo, unsigned long long hi,
		  unsigned long long *out, const char **why);
/* A duration in nanoseconds: a whole number with an optional unit ns, us,
 * ms or s (no unit: nanoseconds), in [lo, hi]. */
int rt_parse_ns(const char *v, long long lo, long long hi, long long *out, const char **why);
/* A signal the runtime may take for itself, by name (SIGUSR1, USR1, any
 * case; RTMIN+N, RTMAX-N) or number.  Refused: the fault signals (SEGV,
 * BUS, FPE, ILL, TRAP, SYS, ABRT: synchronous or fatal by design), KILL
 * and STOP (cannot be caught), PROF (the CPU profiler's), CHLD, PIPE,
 * ALRM, VTALRM, CONT, TSTP, TTIN, TTOU, XCPU, XFSZ, IO, TERM and INT
 * (the program's behaviour depends on them), and with rt_only any signal
 * that is not real-time.  *why names the signal refused. */
int rt_parse_signal(const char *v, bool rt_only, int *out, const char **why);
/* The name of a signal ("SIGUSR1", "SIGRTMIN+3"), into buf. */
const char *rt_signal_name(int sig, char *buf, size_t n);
/* An endpoint address: "unix:/path" (a path of 1..107 bytes) or
 * "HOST:PORT", HOST empty, a name, an IPv4 address or [IPv6], PORT 0..65535
 * in decimal.  Checks the form only (a name is resolved when binding). */
int rt_parse_listen(const char *v, const char **why);
/* CPROF_HTTP_TREE, the endpoint's process tree (http_env.c):
 * "PID:HASH:DEV:INO", PID 1..INT_MAX and DEV, INO in decimal, HASH in hex
 * (at most 16 digits); nothing else.  0 or -1. */
int rt_parse_http_tree(const char *v, long *pid, unsigned long long *hash,
		       unsigned long long *dev, unsigned long long *ino);
/* A file path: not "-" (which would mean stdin or stdout to many tools),
 * shorter than PATH_MAX, no newline. */
int rt_parse_path(const char *v, const char **why);
/* A profile file pattern: a path whose % sequences are %p (pid), %e
 * (executable name), %h (host name), %t (start time, Unix seconds) or %%
 * (a percent sign).  *per_process: it has %p. */
int rt_parse_pattern(const char *v, bool *per_process, const char **why);
/* Expand pattern into out (n bytes) for this process: pid, exe name
 * (at most 15 bytes, as the kernel's comm), host and time given.  -1 when
 * it does not fit or has a bad % sequence.  [AS-safe] */
int rt_expand_pattern(const char *pattern, long pid, const char *exe, const char *host,
		      long long t, char *out, size_t n);

/* ---- from the environment (constructors only) --------------------------------- */

rt_env_rc rt_env_bool(const char *name, const char *conseq, bool *out);
rt_env_rc rt_env_long(const char *name, long lo, long hi, const char *conseq, long *out);
rt_env_rc rt_env_size(const char *name, unsigned long long lo, unsigned long long hi,
		      const char *conseq, unsigned long long *out);
rt_env_rc rt_env_ns(const char *name, long long lo, long long hi, const char *conseq,
		    long long *out);
rt_env_rc rt_env_signal(const char *name, bool rt_only, const char *conseq, int *out);
rt_env_rc rt_env_listen(const char *name, const char *conseq, const char **out);
rt_env_rc rt_env_path(const char *name, const char *conseq, const char **out);
rt_env_rc rt_env_pattern(const char *name, const char *conseq, const char **out);
/* One value out of a list of words ("stratified", "poisson"): its index. */
rt_env_rc rt_env_word(const char *name, const char *const *words, size_t nwords,
		      const char *conseq, int *out);
/* The line itself, for a caller's own checks. */
void rt_env_complain(const char *name, const char *value, const char *why, const char *conseq);

/* ---- /proc text (procparse.c): pure, bounded, [AS-safe] ------------------------ */

/* Field k (1-based, as proc(5) numbers them) of a /proc/PID/stat or
 * /proc/PID/task/TID/stat text, counted after the command's closing
 * parenthesis (the command may hold spaces and parentheses): a pointer
 * into text and its length in *len, or NULL.  Field 2 (comm) is the text
 * between the first "(" and the last ")". */
const char *rt_stat_field(const char *text, size_t n, int k, size_t *len);
/* Field k as a number (-1 when missing or not a number). */
long long rt_stat_num(const char *text, size_t n, int k);
/* The value of "Key:" in a /proc/PID/status text, as a number (kB for the
 * memory keys, as written); -1 when absent or not a number. */
long long rt_status_num(const char *text, size_t n, const char *key);
/* One /proc/PID/maps line: start, end, permissions (4 bytes), offset and
 * the path (NULL when anonymous; up to the line's end, spaces kept).
 * 0, or -1 for a line of another form. */
typedef struct rt_maps_line {
	uint64_t start, end, off;
	char perms[5];
	const char *path;     /* into the line; plen bytes */
	size_t plen;
} rt_maps_line;
int rt_parse_maps_line(const char *line, size_t n, rt_maps_line *out);

#endif
