/*
 * fuzz_shell.c - libFuzzer target for the interactive shell's line parser
 * (src/cli/shell.c, compiled in here with CPROF_SHELL_FUZZ).
 *
 * The input is a session: lines as the shell reads them from a pipe --
 * assignments, shortcuts, ":", report commands with arguments (numbers,
 * -cum, -RE, >file), help, options.  They run against one small profile
 * with two sample types (tests/golden/go/block.pb.gz, decoded once; the
 * target is run from the repository root or with CPROF_SRCDIR), with the
 * configuration reset at the start of each input.  The fuzz build never
 * creates files or starts programs (no dot, objdump or viewers: those
 * commands are skipped); reports go to /dev/null, and so do messages.
 *
 * Properties checked (abort on violation): after every line the shell's
 * configuration is whole -- every string set, sort and granularity one of
 * their choices -- and the loaded profile is untouched (reports work on
 * copies).
 * Seeds: fuzz/seeds/fuzz_shell.
 */
#include <stdint.h>
#include <stdio.h>

static FILE *fuzz_null;
#define SH_ERR fuzz_null
#define CPROF_SHELL_FUZZ 1
#include "../src/cli/shell.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_shell: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

void cli_die(const char *fmt, ...)
{
	fprintf(stderr, "fuzz_shell: cli_die: %s\n", fmt);
	abort();
}

void cli_warn(const char *fmt, ...)
{
}

static cprof_profile *prof;
static size_t nsamples, nlocations, nfunctions;

static void load(void)
{
	const char *dir = getenv("CPROF_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s%stests/golden/go/block.pb.gz", dir ? dir : "",
		 dir ? "/" : "");
	cprof_error err = { 0 };
	CHECK(cprof_decode_file(path, &prof, &err) == 0, "cannot load %s: %s", path, err.msg);
	nsamples = prof->samples.n;
	nlocations = prof->locations.n;
	nfunctions = prof->functions.n;
	fuzz_null = fopen("/dev/null", "w");
	CHECK(fuzz_null, "cannot open /dev/null");
	CHECK(freopen("/dev/null", "w", stdout), "cannot send stdout to /dev/null");
}

static void check_config(shcfg *c)
{
	FOR_FIELDS(f) {
		void *p = field_ptr(c, f);
		if (f->type == CPROF_OT_STRING) {
			CHECK(*(char **)p, "option %s is NULL", f->name);
		} else if (f->type == CPROF_OT_CHOICE || f->type == CPROF_OT_CHOICE_BOOL) {
			int v = f->type == CPROF_OT_CHOICE ? *(int *)p : *(bool *)p;
			bool ok = false;
			for (const cprof_optchoice *ch = f->choices; ch->name; ch++)
				ok |= ch->value == v;
			CHECK(ok, "option %s = %d is not one of its choices", f->name, v);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!prof)
		load();
	if (size > 4096)
		return 0;
	static cli_opts o;
	memset(&o, 0, sizeof o);
	cprof_ropts_init(&o.r);
	static shell sh;
	memset(&sh, 0, sizeof sh);
	sh.o = &o;
	sh.p = prof;
	g_sh = &sh;
	cfg_from_opts(&sh.cfg, &o);
	sh.cfg.compact_labels = true;
	char line[4097];
	size_t i = 0;
	bool more = true;
	while (i < size && more) {
		size_t n = 0;
		while (i < size && data[i] != '\n')
			line[n++] = data[i] ? (char)data[i] : ' ', i++;
		i++;
		line[n] = 0;
		more = process_line(&sh, line);
		check_config(&sh.cfg);
		CHECK(prof->samples.n == nsamples && prof->locations.n == nlocations &&
		      prof->functions.n == nfunctions, "a command changed the loaded profile");
	}
	cfg_free(&sh.cfg);
	g_sh = NULL;
	return 0;
}
