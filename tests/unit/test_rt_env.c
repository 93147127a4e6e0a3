/*
 * test_rt_env.c - the runtime's strict parser of environment values
 * (src/runtime/envparse.c) and its /proc text parsers (procparse.c), at the
 * depth where the old defects lived: "no" read as true, 99999 taken as a
 * port, 11 accepted as a dump signal where SIGSEGV was refused, "-" as a
 * file, numbers cut at the first bad byte; plus the pattern expander and
 * the stat/status/maps parsers on awkward input (a command name with
 * spaces and parentheses, truncated lines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>

#include <cmocka.h>

#include "rt_env.h"

static void test_bool(void **state)
{
	(void)state;
	const char *why;
	bool b = true;
	const char *no[] = { "0", "no", "NO", "false", "False", "off" };
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		b = true;
		assert_int_equal(rt_parse_bool(no[i], &b, &why), 0);
		assert_false(b);
	}
	const char *yes[] = { "1", "yes", "true", "ON" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		b = false;
		assert_int_equal(rt_parse_bool(yes[i], &b, &why), 0);
		assert_true(b);
	}
	const char *bad[] = { "2", "nope", "", " 1", "yes!" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(rt_parse_bool(bad[i], &b, &why), -1);
}

static void test_numbers(void **state)
{
	(void)state;
	const char *why;
	long v;
	assert_int_equal(rt_parse_long("250", 1, 10000, &v, &why), 0);
	assert_int_equal(v, 250);
	assert_int_equal(rt_parse_long("12x", 1, 10000, &v, &why), -1);
	assert_int_equal(rt_parse_long("100000", 1, 10000, &v, &why), -1);
	assert_int_equal(rt_parse_long("99999999999999999999999", 0, 10, &v, &why), -1);
	assert_int_equal(rt_parse_long("-1", -1, 10, &v, &why), 0);
	assert_int_equal(v, -1);
	unsigned long long u;
	assert_int_equal(rt_parse_size("4K", 0, ~0ULL, &u, &why), 0);
	assert_int_equal(u, 4096);
	assert_int_equal(rt_parse_size("1MiB", 0, ~0ULL, &u, &why), 0);
	assert_int_equal(u, 1 << 20);
	assert_int_equal(rt_parse_size("2gb", 0, ~0ULL, &u, &why), 0);
	assert_int_equal(u, 2ULL << 30);
	assert_int_equal(rt_parse_size("12Q", 0, ~0ULL, &u, &why), -1);
	assert_int_equal(rt_parse_size("-5", 0, ~0ULL, &u, &why), -1);
	assert_int_equal(rt_parse_size("99999999999T", 0, ~0ULL, &u, &why), -1);
	long long ns;
	assert_int_equal(rt_parse_ns("10ms", 0, 1LL << 60, &ns, &why), 0);
	assert_int_equal(ns, 10000000);
	assert_int_equal(rt_parse_ns("5000", 0, 1LL << 60, &ns, &why), 0);
	assert_int_equal(ns, 5000);
	assert_int_equal(rt_parse_ns("10 ms", 0, 1LL << 60, &ns, &why), -1);
	assert_int_equal(rt_parse_ns("1h", 0, 1LL << 60, &ns, &why), -1);
}

static void test_signals(void **state)
{
	(void)state;
	const char *why;
	int s;
	/* by name and by number alike */
	const char *refused[] = { "11", "SIGSEGV", "segv", "7", "BUS", "8", "4", "5", "6", "ABRT",
				  "31", "SYS", "9", "KILL", "19", "STOP", "27", "PROF", "17",
				  "CHLD", "15", "2", "13", "0", "65", "32", "x" };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		assert_int_equal(rt_parse_signal(refused[i], false, &s, &why), -1);
	assert_int_equal(rt_parse_signal("11", false, &s, &why), -1);
	assert_non_null(strstr(why, "SIGSEGV"));
	assert_int_equal(rt_parse_signal("usr1", false, &s, &why), 0);
	assert_int_equal(s, SIGUSR1);
	assert_int_equal(rt_parse_signal("12", false, &s, &why), 0);
	assert_int_equal(s, SIGUSR2);
	assert_int_equal(rt_parse_signal("RTMIN+3", false, &s, &why), 0);
	assert_int_equal(s, SIGRTMIN + 3);
	assert_int_equal(rt_parse_signal("SIGRTMAX-2", true, &s, &why), 0);
	assert_int_equal(s, SIGRTMAX - 2);
	assert_int_equal(rt_parse_signal("USR1", true, &s, &why), -1);
	assert_int_equal(rt_parse_signal("RTMIN+99", false, &s, &why), -1);
}

static void test_listen_and_paths(void **state)
{
	(void)state;
	const char *why;
	const char *good[] = { "127.0.0.1:6060", ":0", "[::1]:0", "localhost:65535", "unix:/tmp/s" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_int_equal(rt_parse_listen(good[i], &why), 0);
	const char *bad[] = { "127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:-1",
			      "::1:0", "unix:", "host", "a b:1", "[::1:0" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(rt_parse_listen(bad[i], &why), -1);
	assert_int_equal(rt_parse_path("-", &why), -1);
	assert_int_equal(rt_parse_path("./-", &why), 0);
	bool pp;
	assert_int_equal(rt_parse_pattern("cpu.%p.pb.gz", &pp, &why), 0);
	assert_true(pp);
	assert_int_equal(rt_parse_pattern("cpu.%e.pb.gz", &pp, &why), 0);
	assert_false(pp);
	assert_int_equal(rt_parse_pattern("cpu.%z", &pp, &why), -1);
	assert_int_equal(rt_parse_pattern("cpu.%", &pp, &why), -1);
	char out[64];
	assert_int_equal(rt_expand_pattern("d/%e.%p.%h.%t.%%", 42, "averyveryverylongname", "h", 7,
					   out, sizeof out), 0);
	assert_string_equal(out, "d/averyveryverylo.42.h.7.%");
	assert_int_equal(rt_expand_pattern("%p%p%p", 1234567, "x", "", 0, out, 8), -1);
}

static void test_http_tree(void **state)
{
	(void)state;
	long pid;
	unsigned long long h, d, i;
	assert_int_equal(rt_parse_http_tree("19527:a0b2f85851c48402:65024:10962013", &pid, &h, &d, &i), 0);
	assert_int_equal(pid, 19527);
	assert_true(h == 0xa0b2f85851c48402ULL && d == 65024 && i == 10962013);
	assert_int_equal(rt_parse_http_tree("1:0:0:0", &pid, &h, &d, &i), 0);
	const char *bad[] = { "", "0:1:2:3", "2147483648:1:2:3", "-1:1:2:3", "1:1:2", "1:1:2:3:",
			      "1:g:2:3", "1:A:2:3", "1:10000000000000000:2:3", "1::2:3",
			      "1:1:18446744073709551616:3", " 1:1:2:3", "1:1:2:3 " };
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
		assert_int_equal(rt_parse_http_tree(bad[k], &pid, &h, &d, &i), -1);
}

static void test_proc(void **state)
{
	(void)state;
	const char stat[] = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 7 0 99\n";
	size_t n = sizeof stat - 1, l;
	const char *f = rt_stat_field(stat, n, 2, &l);
	assert_non_null(f);
	assert_int_equal(l, strlen("a (b) c"));
	assert_int_equal(memcmp(f, "a (b) c", l), 0);
	f = rt_stat_field(stat, n, 3, &l);
	assert_int_equal(l, 1);
	assert_int_equal(f[0], 'S');
	assert_int_equal(rt_stat_num(stat, n, 20), 7);
	assert_int_equal(rt_stat_num(stat, n, 1), 1234);
	assert_int_equal(rt_stat_num(stat, n, 60), -1);
	assert_int_equal(rt_stat_num(stat, 10, 20), -1);     /* cut short */
	assert_int_equal(rt_stat_num("no parens", 9, 3), -1);
	/* a field beyond long long is no number (it overflowed) */
	const char big[] = "1 (x) R 9391598850867214074 18446744073709551615 5";
	assert_int_equal(rt_stat_num(big, sizeof big - 1, 4), -1);
	assert_int_equal(rt_stat_num(big, sizeof big - 1, 5), -1);
	assert_int_equal(rt_stat_num(big, sizeof big - 1, 6), 5);
	const char status[] = "Name:\tx\nThreads:\t12\nVmRSS:\t  2048 kB\n";
	assert_int_equal(rt_status_num(status, sizeof status - 1, "Threads"), 12);
	assert_int_equal(rt_status_num(status, sizeof status - 1, "VmRSS"), 2048);
	assert_int_equal(rt_status_num(status, sizeof status - 1, "Vm"), -1);
	rt_maps_line m;
	const char line[] = "7f00a000-7f00b000 r-xp 00001000 fd:01 1234   /usr/lib/a b.so\n";
	assert_int_equal(rt_parse_maps_line(line, sizeof line - 1, &m), 0);
	assert_int_equal(m.start, 0x7f00a000);
	assert_int_equal(m.end, 0x7f00b000);
	assert_int_equal(m.off, 0x1000);
	assert_string_equal(m.perms, "r-xp");
	assert_int_equal(m.plen, strlen("/usr/lib/a b.so"));
	const char anon[] = "7f00a000-7f00b000 rw-p 00000000 00:00 0 \n";
	assert_int_equal(rt_parse_maps_line(anon, sizeof anon - 1, &m), 0);
	assert_null(m.path);
	assert_int_equal(rt_parse_maps_line("7f00a000-", 9, &m), -1);
	assert_int_equal(rt_parse_maps_line("b000-a000 r-xp 0 0:0 0", 22, &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_listen_and_paths),
		cmocka_unit_test(test_http_tree),
		cmocka_unit_test(test_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
