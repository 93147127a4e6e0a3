/*
 * fuzz_flags.c - libFuzzer target for the command's flags parser (flags.c,
 * compiled in): the input is an argument list, arguments separated by NUL
 * bytes (at most 64), after argv[0] "cprof".  cli_die, which ends the
 * command with one line, returns here through longjmp (flags.c allocates
 * nothing, so nothing leaks on that path).
 *
 * Properties checked (abort on violation): cli_parse returns 0 or 2, or
 * dies with a non-empty message; after a return, the sources and bases are
 * within CLI_MAX_SOURCES and each is one of the arguments; a chosen format
 * has a name, and the peek/list regexp points into the arguments.
 * Seeds: fuzz/seeds/fuzz_flags (command lines of the README and the tests).
 */
#include "../src/cli/flags.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_flags: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

static jmp_buf died;
static char diemsg[512];

void cli_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(diemsg, sizeof diemsg, fmt, ap);
	va_end(ap);
	longjmp(died, 1);
}

void cli_warn(const char *fmt, ...)
{
}

#define MAXARGS 64

static bool is_arg(char *const *argv, int argc, const char *s)
{
	for (int i = 0; i < argc; i++)
		if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[65536 + 1];
	static char *argv[MAXARGS + 2];
	if (size > 65536)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	int argc = 0;
	argv[argc++] = "cprof";
	for (size_t i = 0; i <= size && argc <= MAXARGS;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	static cli_opts o;
	cli_opts_init(&o);
	diemsg[0] = 0;
	if (setjmp(died)) {
		CHECK(diemsg[0], "cli_die with an empty message");
		return 0;
	}
	int rc = cli_parse(&o, argc, argv);
	CHECK(rc == 0 || rc == 2, "cli_parse returned %d", rc);
	if (rc)
		return 0;
	CHECK(o.nsources <= CLI_MAX_SOURCES && o.nbases <= CLI_MAX_SOURCES, "too many sources");
	for (size_t i = 0; i < o.nsources; i++)
		CHECK(is_arg(argv, argc, o.sources[i]), "source %zu is not an argument", i);
	for (size_t i = 0; i < o.nbases; i++)
		CHECK(is_arg(argv, argc, o.bases[i]), "base %zu is not an argument", i);
	if (o.peek_re)
		CHECK(is_arg(argv, argc, o.peek_re), "peek regexp is not an argument");
	if (o.format_name)
		CHECK(*o.format_name, "a format without a name");
	return 0;
}
