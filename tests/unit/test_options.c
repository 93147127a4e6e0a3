/*
 * test_options.c - the report option and command tables
 * (src/report/options.c) that the flags, the shell and the web API read:
 * the rows are whole (names and URL keys unique, help present, fields of
 * the type the row says, choices that fit a flag mask), the defaults are
 * pprof's, and the web's URL parameters are read through the table with
 * one-line refusals for bad values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cprof_options.h"

/* The size of each field a row may name, by the row's type. */
static size_t type_size(enum cprof_opt_type t)
{
	switch (t) {
	case CPROF_OT_BOOL:
	case CPROF_OT_CHOICE_BOOL: return sizeof(bool);
	case CPROF_OT_INT:
	case CPROF_OT_CHOICE: return sizeof(int);
	case CPROF_OT_FLOAT: return sizeof(double);
	case CPROF_OT_STRING: return sizeof(const char *);
	}
	return 0;
}

static void test_rows_whole(void **st)
{
	(void)st;
	assert_true(cprof_noptions > 30);
	assert_true(cprof_noptions <= 64);   /* the command line's chosen[] */
	for (size_t i = 0; i < cprof_noptions; i++) {
		const cprof_option *d = &cprof_options[i];
		assert_non_null(d->help);
		assert_true(d->off + type_size(d->type) <= sizeof(cprof_ropts));
		assert_int_equal(d->off % type_size(d->type), 0);
		assert_int_equal(d->url != NULL, (d->where & CPROF_OPT_URL) != 0);
		if (d->where & CPROF_OPT_FLAME)
			assert_non_null(d->url);
		if (d->type == CPROF_OT_INT || d->type == CPROF_OT_FLOAT)
			assert_true(!(d->where & CPROF_OPT_URL) || d->url_want);
		bool choice = d->type == CPROF_OT_CHOICE || d->type == CPROF_OT_CHOICE_BOOL;
		assert_int_equal(choice, d->choices != NULL);
		size_t nc = 0;
		for (const cprof_optchoice *c = d->choices; c && c->name; c++, nc++) {
			assert_non_null(c->help);
			const cprof_optchoice *found;
			assert_ptr_equal(cprof_option_find_choice(c->name, &found), d);
			assert_ptr_equal(found, c);
			assert_null(cprof_option_find(c->name));
		}
		assert_true(nc <= 32);
		if (choice)
			assert_true(nc >= 2);
		assert_ptr_equal(cprof_option_find(d->name), d);
		for (size_t k = 0; k < i; k++)
			if (d->url && cprof_options[k].url)
				assert_string_not_equal(d->url, cprof_options[k].url);
		/* a flag's help line is one line */
		char buf[256];
		const char *fh = cprof_option_flag_help(d, NULL, buf, sizeof buf);
		assert_null(strchr(fh, '\n'));
		assert_true(*fh || (choice && !(d->where & CPROF_OPT_FLAG_NAME)));
	}
	for (size_t i = 0; i < cprof_ncommands; i++) {
		const cprof_command *c = &cprof_commands[i];
		assert_non_null(c->help);
		assert_ptr_equal(cprof_command_find(c->name, c->where), c);
		assert_null(cprof_option_find(c->name));
		if (c->visual != CPROF_VIS_STDOUT)
			assert_non_null(c->ext);
		if (c->usage == CPROF_USAGE_TEXT)
			assert_non_null(c->usage_text);
	}
	assert_null(cprof_command_find("web", CPROF_OPT_FLAG));   /* a viewer: shell only */
	assert_non_null(cprof_command_find("web", CPROF_OPT_SHELL));
}

static void test_defaults(void **st)
{
	(void)st;
	cprof_ropts o;
	memset(&o, 0x5a, sizeof o);
	cprof_ropts_init(&o);
	assert_int_equal(o.format, CPROF_FMT_TEXT);
	assert_int_equal(o.nodecount, -1);
	assert_true(o.nodefraction == 0.005);
	assert_true(o.edgefraction == 0.001);
	assert_true(o.trim);
	assert_int_equal(o.granularity, CPROF_GRAN_FUNCTIONS);
	assert_string_equal(o.unit, "minimum");
	assert_true(o.divide_by == 1);
	assert_false(o.cum);
	assert_false(o.mean);
	assert_null(o.focus);
	assert_null(o.sample_index);
	assert_null(o.output);
	assert_null(o.title);
	assert_null(o.symbol);
	assert_false(o.normalize);
}

/* A query as key, value pairs ending with NULL. */
static const char *get(void *ctx, const char *key)
{
	for (const char *const *kv = ctx; kv[0]; kv += 2)
		if (strcmp(kv[0], key) == 0)
			return *kv[1] ? kv[1] : NULL;
	return NULL;
}

static void test_url(void **st)
{
	(void)st;
	const char *q[] = { "f", "main", "i", "x", "g", "lines", "n", "12", "nf", "0.25",
			    "sort", "cum", "trim", "f", "si", "alloc_space", "mean", "true",
			    "unit", "ms", "calltree", "1", "h", "", NULL };
	cprof_ropts o;
	cprof_ropts_init(&o);
	char msg[128];
	assert_int_equal(cprof_ropts_from_url(&o, get, q, msg, sizeof msg), 0);
	assert_ptr_equal(o.focus, q[1]);   /* borrowed */
	assert_string_equal(o.ignore, "x");
	assert_null(o.hide);               /* an empty value is no value */
	assert_int_equal(o.granularity, CPROF_GRAN_LINES);
	assert_int_equal(o.nodecount, 12);
	assert_true(o.nodefraction == 0.25);
	assert_true(o.cum);
	assert_false(o.trim);
	assert_string_equal(o.sample_index, "alloc_space");
	assert_true(o.mean);
	assert_string_equal(o.unit, "ms");
	assert_true(o.call_tree);

	static const struct { const char *k, *v, *msg; } bad[] = {
		{ "n", "x", "n: want a node count" },
		{ "n", "1000001", "n: want a node count" },
		{ "n", "-2", "n: want a node count" },
		{ "nf", "1.5", "nf: want a fraction from 0 to 1" },
		{ "ef", "nan", "ef: want a fraction from 0 to 1" },
		{ "trim", "maybe", "a boolean parameter takes t or f" },
		{ "g", "words", "g: want functions, filefunctions, files, lines or addresses" },
		{ "sort", "up", "sort: want cum or flat" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *b[] = { bad[i].k, bad[i].v, NULL };
		cprof_ropts_init(&o);
		assert_int_equal(cprof_ropts_from_url(&o, get, b, msg, sizeof msg), -1);
		assert_string_equal(msg, bad[i].msg);
	}
	/* what the command line's divide_by and tagroot are: no URL parameter */
	const char *nope[] = { "divide_by", "2", "tagroot", "x", "output", "/etc/passwd", NULL };
	cprof_ropts_init(&o);
	assert_int_equal(cprof_ropts_from_url(&o, get, nope, msg, sizeof msg), 0);
	assert_true(o.divide_by == 1);
	assert_null(o.tagroot);
	assert_null(o.output);
}

static void test_flame_key(void **st)
{
	(void)st;
	const char *a[] = { "f", "main", "n", "5", NULL };
	const char *b[] = { "f", "main", "n", "50", "trim", "f", NULL };
	const char *c[] = { "f", "main", "g", "lines", NULL };
	char *ka = cprof_ropts_flame_key(get, a), *kb = cprof_ropts_flame_key(get, b);
	char *kc = cprof_ropts_flame_key(get, c);
	assert_string_equal(ka, kb);       /* the node count does not shape the tree */
	assert_string_not_equal(ka, kc);   /* the granularity does */
	free(ka);
	free(kb);
	free(kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_whole),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_flame_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
