/*
 * test_rt_sysrestart.c - finding the number of an interrupted system call
 * from the code before its `syscall` and the registers after it
 * (rt_syscall_nr_before), on the shapes of glibc 2.36's wrappers: an
 * immediate, xor-zeroing (read), a register that still holds the number,
 * arguments set in between (setcc, xor on a byte register, cmov), and the
 * cases that must give up (the number's register overwritten, the generic
 * syscall(2), an instruction the decoder does not know).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rt_unwind.h"

static long nr_of(const unsigned char *code, size_t n)
{
	long long g[NGREG];
	for (int i = 0; i < NGREG; i++)
		g[i] = 1000 + i;
	g[REG_R8] = 202;
	return rt_syscall_nr_before(code, n, g);
}
#define NR(...) ({ static const unsigned char c_[] = { __VA_ARGS__ }; nr_of(c_, sizeof c_); })

static void test_immediates(void **st)
{
	(void)st;
	/* recv: xor %r9d,%r9d; xor %r8d,%r8d; mov $0x2d,%eax; syscall */
	assert_int_equal(NR(0x45, 0x31, 0xc9, 0x45, 0x31, 0xc0, 0xb8, 0x2d, 0, 0, 0, 0x0f, 0x05), 45);
	/* sendto: mov $0x2c,%eax; mov 0x10(%rsp),%rsi; mov 0x8(%rsp),%edi; syscall */
	assert_int_equal(NR(0xb8, 0x2c, 0, 0, 0, 0x48, 0x8b, 0x74, 0x24, 0x10, 0x8b, 0x7c, 0x24,
			    0x08, 0x0f, 0x05), 44);
	/* read: xor %eax,%eax; syscall */
	assert_int_equal(NR(0x90, 0x31, 0xc0, 0x0f, 0x05), 0);
	/* futex: mov $0xca,%eax; test %r8d,%r8d; setne %sil; xor %r10d,%r10d;
	 * shl $7,%esi; xor $0x81,%sil; syscall */
	assert_int_equal(NR(0xb8, 0xca, 0, 0, 0, 0x45, 0x85, 0xc0, 0x40, 0x0f, 0x95, 0xc6, 0x45,
			    0x31, 0xd2, 0xc1, 0xe6, 0x07, 0x40, 0x80, 0xf6, 0x81, 0x0f, 0x05), 202);
	/* sched_getaffinity: mov $0xcc,%eax; cmp %rsi,%r8; cmovbe %r8,%rsi; syscall */
	assert_int_equal(NR(0xb8, 0xcc, 0, 0, 0, 0x4c, 0x39, 0xc6, 0x49, 0x0f, 0x46, 0xf0, 0x0f,
			    0x05), 204);
}

static void test_register_source(void **st)
{
	(void)st;
	/* mov %r8d,%eax; mov %rcx,%r10; syscall: r8 still holds it */
	assert_int_equal(NR(0x44, 0x89, 0xc0, 0x49, 0x89, 0xca, 0x0f, 0x05), 202);
	/* ... but not once r8 is overwritten (mov %r9,%r8) */
	assert_int_equal(NR(0x44, 0x89, 0xc0, 0x4d, 0x89, 0xc8, 0x0f, 0x05), -1);
	/* mov $1,%r8d is not eax */
	assert_int_equal(NR(0x41, 0xb8, 0x01, 0, 0, 0, 0x0f, 0x05), -1);
}

static void test_gives_up(void **st)
{
	(void)st;
	/* glibc's syscall(2): the number was in rdi, overwritten */
	assert_int_equal(NR(0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6, 0x48, 0x89, 0xca,
			    0x4d, 0x89, 0xc2, 0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f,
			    0x05), -1);
	/* mov (%rax),%eax: from memory */
	assert_int_equal(NR(0x8b, 0x00, 0x0f, 0x05), -1);
	/* a call in between: not decoded, never guessed */
	assert_int_equal(NR(0xb8, 0x2d, 0, 0, 0, 0xe8, 1, 2, 3, 4, 0x0f, 0x05), -1);
	/* not a syscall at the end */
	assert_int_equal(NR(0xb8, 0x2d, 0, 0, 0, 0x90, 0x90), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_immediates),
		cmocka_unit_test(test_register_source),
		cmocka_unit_test(test_gives_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
