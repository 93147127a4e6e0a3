/*
 * unwind_step.h - one frame of the runtime's x86-64 unwinding rules, shared
 * by the signal handler's walker of its own stack (unwind.c, rt_unwind) and
 * the walker of another thread's stack (tprof.c, thread snapshots).
 *
 * The two differ only in how they read memory (unwind.c: proven pages and a
 * fault-free probe; tprof.c: a copy of the other stack, else
 * process_vm_readv) and in how they find the row (unwind.c keeps a
 * per-thread cache), so the step takes the row and a reader.  It is
 * static inline, and each walker passes its reader as a constant, so the
 * compiler inlines the reads into the signal handler's hot loop as before.
 *
 * The rules, for the row found at the pc (pc - 1 for a return address):
 *   RSP/RBP   CFA = rsp|rbp + off; return address at CFA + ra_off; rbp saved
 *             at CFA + rbp_off, unchanged, or undefined (0)
 *   PLT       CFA = rsp + 8 (+ 8 past the entry's push), return address at CFA - 8
 *   SIGNAL    __restore_rt: rip/rsp/rbp read from the kernel's ucontext at
 *             rsp; that rip is exact
 *   END       the outermost frame
 *   UNKNOWN   (or no row: no table, JIT code) __restore_rt recognised by its
 *             bytes; an exact pc just after a syscall instruction with a
 *             call's return address at rsp (glibc's clone past its table)
 *             as a leaf; else frame pointers when rbp looks like one on this
 *             stack: above rsp, 8-aligned, within RT_FP_SPAN; a return
 *             address and saved rbp both 0 end the walk cleanly
 * The caller checks that the stack grows (sp strictly upwards, except into
 * a signal frame) and that pcs are not in the first page.
 *
 * Async-signal-safe: no locks, no allocation, no errno, as safe as the
 * reader.
 */
#ifndef CPROF_UNWIND_STEP_H
#define CPROF_UNWIND_STEP_H

#include "rt_unwind.h"

#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#define RT_FP_SPAN ((uintptr_t)8 << 20)  /* rbp at most this far above rsp */
#define RT_PAGE ((uintptr_t)4096)

/* What a read is for: code bytes, a frame-pointer walk of the stack, a
 * CFI rule's slot (the walker may treat them differently). */
enum { RT_RD_ANY, RT_RD_STACK, RT_RD_CFI };
/* Read the 8-byte word at addr (8-aligned) into *out; false when it cannot
 * be read. */
typedef bool (*rt_uread)(void *ctx, uintptr_t addr, uintptr_t *out, int what);

typedef struct rt_uregs {
	uintptr_t pc, sp, fp;
	bool exact;                 /* pc is exact, not a return address */
} rt_uregs;

enum { RT_STEP_OK, RT_STEP_END, RT_STEP_FAIL };

/* Offsets of the saved registers in the kernel's ucontext (same layout as
 * glibc's ucontext_t up to uc_mcontext.gregs). */
#define RT_UC_REG(r) (offsetof(ucontext_t, uc_mcontext.gregs) + (size_t)(r) * sizeof(greg_t))

/* The bytes of __restore_rt at pc: mov $15, %rax; syscall. */
static inline bool rt_is_sigreturn(uintptr_t pc, rt_uread rd, void *ctx)
{
	uintptr_t w[2];
	uintptr_t a = pc & ~(uintptr_t)7;
	if (!rd(ctx, a, &w[0], RT_RD_ANY) || !rd(ctx, a + 8, &w[1], RT_RD_ANY))
		return false;
	static const unsigned char code[9] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	const unsigned char *b = (const unsigned char *)w + (pc - a);
	return pc - a <= 7 && memcmp(b, code, sizeof code) == 0;
}

static inline int rt_step_signal(rt_uregs *r, rt_uread rd, void *ctx)
{
	uintptr_t pc, sp, fp;
	if (!rd(ctx, r->sp + RT_UC_REG(REG_RIP), &pc, RT_RD_STACK) ||
	    !rd(ctx, r->sp + RT_UC_REG(REG_RSP), &sp, RT_RD_STACK) ||
	    !rd(ctx, r->sp + RT_UC_REG(REG_RBP), &fp, RT_RD_STACK))
		return RT_STEP_FAIL;
	*r = (rt_uregs){ pc, sp, fp, true };
	return pc ? RT_STEP_OK : RT_STEP_END;
}

static inline int rt_step_fp(rt_uregs *r, rt_uread rd, void *ctx)
{
	uintptr_t fp = r->fp, ra, next;
	if (fp < r->sp || fp - r->sp > RT_FP_SPAN || (fp & 7))
		return RT_STEP_FAIL;
	if (!rd(ctx, fp, &next, RT_RD_STACK) || !rd(ctx, fp + 8, &ra, RT_RD_STACK))
		return RT_STEP_FAIL;
	if (ra < RT_PAGE)
		return ra == 0 && next == 0 ? RT_STEP_END : RT_STEP_FAIL;
	*r = (rt_uregs){ ra, fp + 16, next, false };
	return RT_STEP_OK;
}

/* The 16 code bytes ending at addr (exclusive) into out; false when they
 * cannot be read. */
static inline bool rt_code_before(uintptr_t addr, unsigned char out[16], rt_uread rd, void *ctx)
{
	uintptr_t w[3];
	uintptr_t a = (addr - 16) & ~(uintptr_t)7;
	if (addr < RT_PAGE + 24)
		return false;
	for (int i = 0; i < 3; i++)
		if (!rd(ctx, a + 8 * (uintptr_t)i, &w[i], RT_RD_ANY))
			return false;
	memcpy(out, (const unsigned char *)w + (addr - 16 - a), 16);
	return true;
}

/* A raw system call outside any unwind table: the interrupted pc (exact)
 * follows a syscall instruction in code with no row, as in glibc's clone
 * and clone3, whose tables end before the syscall (the child's side would
 * be described wrongly).  Such code is a leaf that pushed nothing: the
 * return address is at rsp, and is taken only if the bytes before it are
 * a call (e8 rel32, or ff /2 through a register or memory).  A signal
 * arriving there is common: the sample is taken as the system call
 * returns (raw clone children sharing memory, stress-ng's clone). */
static inline int rt_step_syscall_leaf(rt_uregs *r, rt_uread rd, void *ctx)
{
	unsigned char b[16];
	uintptr_t ra;
	if (!r->exact || !rt_code_before(r->pc, b, rd, ctx) || b[14] != 0x0f || b[15] != 0x05)
		return RT_STEP_FAIL;
	if ((r->sp & 7) || !rd(ctx, r->sp, &ra, RT_RD_STACK) || ra < RT_PAGE ||
	    !rt_code_before(ra, b, rd, ctx))
		return RT_STEP_FAIL;
	bool call = b[11] == 0xe8 ||                                   /* call rel32 */
		    (b[14] == 0xff && (b[15] & 0x38) == 0x10) ||       /* call *%reg, *(%reg) */
		    (b[13] == 0xff && (b[14] & 0x38) == 0x10) ||       /* + disp8 or SIB */
		    (b[10] == 0xff && (b[11] & 0x38) == 0x10);         /* *disp32(%rip) */
	if (!call)
		return RT_STEP_FAIL;
	*r = (rt_uregs){ ra, r->sp + 8, r->fp, false };
	return RT_STEP_OK;
}

/* One frame up from r by row (NULL: none found).  RT_STEP_*. */
static inline int rt_unwind_step(rt_uregs *r, const rt_urow *row, rt_uread rd, void *ctx)
{
	uintptr_t cfa;
	switch (row ? row->kind : RT_ROW_UNKNOWN) {
	case RT_ROW_END:
		return RT_STEP_END;
	case RT_ROW_SIGNAL:
		return rt_step_signal(r, rd, ctx);
	case RT_ROW_PLT:
		cfa = r->sp + 8 + (((r->pc & 15) >= (uintptr_t)row->cfa_off) ? 8 : 0);
		break;
	case RT_ROW_RSP:
		cfa = r->sp + (uintptr_t)(intptr_t)row->cfa_off;
		break;
	case RT_ROW_RBP:
		cfa = r->fp + (uintptr_t)(intptr_t)row->cfa_off;
		break;
	default:
		if (rt_is_sigreturn(r->pc, rd, ctx))
			return rt_step_signal(r, rd, ctx);
		if (rt_step_syscall_leaf(r, rd, ctx) == RT_STEP_OK)
			return RT_STEP_OK;
		return rt_step_fp(r, rd, ctx);
	}
	uintptr_t ra, fp = r->fp;
	int16_t ra_off = row->kind == RT_ROW_PLT ? -8 : row->ra_off;
	if (!rd(ctx, cfa + (uintptr_t)(intptr_t)ra_off, &ra, RT_RD_CFI))
		return RT_STEP_FAIL;
	if (row->kind != RT_ROW_PLT) {
		if (row->rbp_rule == RT_RBP_AT) {
			if (!rd(ctx, cfa + (uintptr_t)(intptr_t)row->rbp_off, &fp, RT_RD_CFI))
				return RT_STEP_FAIL;
		} else if (row->rbp_rule == RT_RBP_UNDEF) {
			fp = 0;
		}
	}
	if (ra == 0)
		return RT_STEP_END;
	if (cfa <= r->sp)
		return RT_STEP_FAIL;
	*r = (rt_uregs){ ra, cfa, fp, false };
	return RT_STEP_OK;
}

#endif
