/*
 * fuzz_disasm.c - libFuzzer target for -disasm's parsers of tool output
 * (src/report/disasm.c): objdump's disassembly listing (instruction lines,
 * file:line lines, function headers in GNU and LLVM forms) and nm -n's
 * symbol table (grouping names by address, matching mangled and demangled
 * names, the address form of the regexp), through cpr_disasm_parse.
 *
 * The input is the tool output; its first byte picks the regexp.  Property:
 * the parse succeeds (a count >= 0) -- memory safety is what the sanitizers
 * check.  Seeds: fuzz/seeds/fuzz_disasm (real objdump and nm output of a
 * gcc-built program, Intel syntax, C++ names).
 */
#include "report_int.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const res[] = { "hot", ".", "^main$", "0x401136", "ns::f", "zzz" };
	const char *re = res[size ? data[0] % 6 : 0];
	cprof_error err = { 0 };
	int rc = cpr_disasm_parse((const char *)data, size, re, &err);
	if (rc < 0) {
		fprintf(stderr, "fuzz_disasm: %d %s\n", rc, err.msg);
		abort();
	}
	return 0;
}
