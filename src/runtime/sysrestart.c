/*
 * sysrestart.c - which system call a `syscall` instruction made, from the
 * code before it and the registers after it (x86-64), so that a signal
 * handler can restart a call its signal interrupted.
 *
 * A signal sent to a thread an instant before it enters a system call (or
 * while it is inside one but still runnable) interrupts the call: calls
 * the kernel never restarts after a handler (socket calls with
 * SO_RCVTIMEO/SO_SNDTIMEO, semtimedop, msgrcv, poll, epoll_wait,
 * nanosleep, sigtimedwait... signal(7)) then return EINTR.  The handler
 * sees that in its context (rax == -EINTR, rip just after a `syscall`),
 * but the call's number was in rax and is gone; the kernel keeps every
 * other register but rcx and r11.  The number is found in the code:
 * the instruction that set eax before the `syscall` is one of
 *     mov $NR, %eax          (b8 imm32)
 *     xor %eax, %eax         (read)
 *     mov %REG, %eax / %rax  (REG still holds NR after the call: the
 *                             kernel preserves it, unless the code in
 *                             between wrote it)
 * with a few instructions in between that set the other arguments.  The
 * candidates are tried from the closest to the `syscall` back, each
 * checked by decoding forward from it to the `syscall` exactly, with a
 * small decoder of the instructions libc's wrappers use there (moves,
 * loads, lea, ALU and shifts on registers, xor-zeroing), none of which
 * may write eax or the source register or change the control flow.  Code
 * the decoder does not know is given up on (the call is then not
 * restarted): never guessed.
 *
 * rt_restart_if_interrupted applies it to a handler's context: when our
 * signal made a call fail with EINTR, the thread goes back to its
 * `syscall` instruction with the call's number in rax, as SA_RESTART
 * would for the calls the kernel restarts.  Both signal handlers that can
 * reach a thread entering a sleep use it: the thread snapshots' (tprof.c)
 * and the CPU profiler's (cpu.c: a counter that overflows as its thread
 * enters nanosleep sends the signal into the sleep).
 *
 * Everything here is [AS-safe]: pure functions over copied bytes, and
 * one process_vm_readv to copy them (a page that is not mapped is an
 * error, never a fault).
 */
#include "rt_unwind.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* x86 register number (0 rax, 1 rcx, ... 15 r15) -> greg index */
static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

/* Length of a ModRM operand (ModRM byte, SIB, displacement) at p; 0 if
 * past end. *mod and *rm (without REX) set. */
static size_t modrm_len(const unsigned char *p, size_t n, int *mod, int *rm, int *reg)
{
	if (n < 1)
		return 0;
	*mod = p[0] >> 6;
	*reg = (p[0] >> 3) & 7;
	*rm = p[0] & 7;
	size_t l = 1;
	if (*mod == 3)
		return l;
	if (*rm == 4) {   /* SIB */
		if (n < 2)
			return 0;
		if (*mod == 0 && (p[1] & 7) == 5)
			l += 4;
		l++;
	} else if (*mod == 0 && *rm == 5) {
		l += 4;   /* rip-relative */
	}
	if (*mod == 1)
		l += 1;
	else if (*mod == 2)
		l += 4;
	return l <= n ? l : 0;
}

/* Decode one instruction at p: its length, and the register it writes
 * (-1 none or memory; -2 unknown: give up).  Only what may sit between
 * the instruction setting eax and the `syscall`. */
static size_t decode(const unsigned char *p, size_t n, int *dst)
{
	size_t i = 0;
	int rex = 0;
	*dst = -2;
	while (i < n && (p[i] == 0x64 || p[i] == 0x65 || p[i] == 0x66))
		i++;   /* %fs/%gs, operand size (no immediates with 0x66: see below) */
	bool osz = i > 0 && p[i - 1] == 0x66;
	if (i < n && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i >= n)
		return 0;
	unsigned op = p[i++];
	int mod, rm, reg;
	size_t l;
	int R = (rex & 4) << 1, B = (rex & 1) << 3;
	switch (op) {
	case 0x90:   /* nop */
		*dst = -1;
		return i;
	case 0x01: case 0x03: case 0x09: case 0x0b: case 0x21: case 0x23: case 0x29: case 0x2b:
	case 0x31: case 0x33: case 0x89: case 0x8b: case 0x85: case 0x39: case 0x3b: case 0x63:
	case 0x8d: case 0x88: case 0x8a: case 0x30: case 0x32: case 0x84:
		if (!(l = modrm_len(p + i, n - i, &mod, &rm, &reg)))
			return 0;
		i += l;
		if (op == 0x85 || op == 0x39 || op == 0x3b || op == 0x84)
			*dst = -1;                         /* test, cmp */
		else if (op == 0x8b || op == 0x03 || op == 0x0b || op == 0x23 || op == 0x2b ||
			 op == 0x33 || op == 0x63 || op == 0x8d || op == 0x8a || op == 0x32)
			*dst = reg | R;                    /* reg <- r/m */
		else
			*dst = mod == 3 ? (rm | B) : -1;   /* r/m <- reg */
		return i;
	case 0x80: case 0x83: case 0xc1: case 0xc6:   /* r/m, imm8 */
	case 0x81: case 0xc7:                          /* r/m, imm32 */
		if (osz)
			return 0;
		if (!(l = modrm_len(p + i, n - i, &mod, &rm, &reg)))
			return 0;
		i += l + ((op == 0x81 || op == 0xc7) ? 4 : 1);
		if (i > n)
			return 0;
		*dst = mod == 3 && !(op == 0x80 && reg == 7) && !(op == 0x81 && reg == 7) &&
			       !(op == 0x83 && reg == 7) ? (rm | B) : -1;   /* /7: cmp */
		return i;
	case 0xd1: case 0xf7:
		if (!(l = modrm_len(p + i, n - i, &mod, &rm, &reg)))
			return 0;
		i += l;
		if (op == 0xf7 && reg < 2) {   /* test r/m, imm32 */
			i += 4;
			if (i > n)
				return 0;
			*dst = -1;
			return i;
		}
		if (op == 0xf7 && reg != 2 && reg != 3)
			return 0;   /* mul/div: write rax, rdx */
		*dst = mod == 3 ? (rm | B) : -1;
		return i;
	case 0x0f:
		if (i >= n)
			return 0;
		op = p[i++];
		if (op != 0xb6 && op != 0xb7 && op != 0xbe && op != 0xbf &&
		    (op & 0xf0) != 0x40 && (op & 0xf0) != 0x90)
			return 0;   /* movzx/movsx, cmovcc, setcc */
		if (!(l = modrm_len(p + i, n - i, &mod, &rm, &reg)))
			return 0;
		*dst = (op & 0xf0) == 0x90 ? (mod == 3 ? (rm | B) : -1) : (reg | R);
		return i + l;
	default:
		if (op >= 0xb8 && op <= 0xbf && !osz) {   /* mov $imm, %reg */
			*dst = (int)(op - 0xb8) | B;
			i += (rex & 8) ? 8 : 4;
			return i <= n ? i : 0;
		}
		return 0;
	}
}

/* Does the code from p to p + n (the `syscall`) decode exactly, writing
 * neither eax nor src (-1: no source register)? */
static bool clean_to_end(const unsigned char *p, size_t n, int src)
{
	size_t i = 0;
	while (i < n) {
		int dst;
		size_t l = decode(p + i, n - i, &dst);
		if (l == 0 || dst == -2 || dst == 0 || (src >= 0 && dst == src))
			return false;
		i += l;
	}
	return i == n;
}

long rt_syscall_nr_before(const unsigned char *code, size_t n, const long long *gregs)
{
	/* code[n - 2], code[n - 1] is the syscall instruction */
	if (n < 4 || code[n - 2] != 0x0f || code[n - 1] != 0x05)
		return -1;
	size_t end = n - 2;
	for (size_t k = end; k-- > 0;) {
		const unsigned char *p = code + k;
		size_t left = end - k;
		long nr = -1;
		int src = -1;
		size_t l = 0;
		if (p[0] == 0xb8 && left >= 5 && !(k > 0 && (code[k - 1] & 0xf0) == 0x40)) {
			uint32_t v;
			memcpy(&v, p + 1, 4);
			nr = (long)v;
			l = 5;
		} else if (left >= 7 && p[0] == 0x48 && p[1] == 0xc7 && p[2] == 0xc0) {
			int32_t v;   /* mov $NR, %rax */
			memcpy(&v, p + 3, 4);
			nr = v;
			l = 7;
		} else if (left >= 2 && (p[0] == 0x31 || p[0] == 0x33) && p[1] == 0xc0 &&
			   !(k > 0 && (code[k - 1] & 0xf0) == 0x40)) {
			nr = 0;   /* xor %eax, %eax */
			l = 2;
		} else if (left >= 2 && (p[0] == 0x89 || p[0] == 0x8b) && (p[1] >> 6) == 3) {
			int rex = k > 0 && (code[k - 1] & 0xf0) == 0x40 ? code[k - 1] : 0;
			int reg = ((p[1] >> 3) & 7) | ((rex & 4) << 1), rm = (p[1] & 7) | ((rex & 1) << 3);
			int to = p[0] == 0x89 ? rm : reg, from = p[0] == 0x89 ? reg : rm;
			if (to != 0 || from == 0 || from == 1 || from == 11 || from == 4)
				continue;
			src = from;
			l = 2;
		} else {
			continue;
		}
		if (!clean_to_end(p + l, left - l, src))
			continue;
		if (src >= 0)
			nr = (long)(uint32_t)gregs[greg_of[src]];
		return nr >= 0 && nr < 4096 ? nr : -1;
	}
	return -1;
}

/* ---- restarting the interrupted call --------------------------------------------- */

static bool peek(uintptr_t a, void *out, size_t n)
{
	struct iovec l = { out, n }, r = { (void *)a, n };
	return syscall(SYS_process_vm_readv, (long)getpid(), &l, 1L, &r, 1L, 0L) == (long)n;
}

/* The context shows a system call that has just failed with EINTR (rax ==
 * -EINTR, rip right after a `syscall`, whose return address the
 * instruction left in rcx: code that merely follows bytes 0f 05 with
 * rax == -4 by chance would almost never have it there too).  Calls the
 * kernel restarts under SA_RESTART are back at their `syscall` already;
 * the others (socket calls with timeouts, semtimedop, msgrcv, poll,
 * epoll_wait, nanosleep, sigtimedwait... signal(7)) return EINTR, which
 * the program must never see because of a profiler.  Their arguments are
 * still in their registers (the kernel keeps all but rax, rcx and r11);
 * the number is read from the code before the `syscall`, and when the
 * code does not say (a raw syscall(2) call, whose number is gone) the call
 * is left to fail.  Sleeps that report the time left (nanosleep's rem)
 * continue with it; select and pselect updated their timeout; other
 * timeouts start again in full (a call is at most one timeout longer per
 * signal of ours that hits it).  close is never restarted (the descriptor
 * is gone whatever it returned).
 *
 * Only the thread's first signal frame sees the call's return: when the
 * program's own signal and ours are pending together, the kernel stacks
 * both frames before any handler runs, and ours sees the program's
 * handler, not the call.  An EINTR the program caused is hidden only in
 * one narrow race: our signal arriving during the sigreturn of the
 * program's handler into the failed call.  [AS-safe] */
bool rt_restart_if_interrupted(void *ucv)
{
	greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs;
	if (g[REG_RAX] != -EINTR)
		return false;
	uintptr_t rip = (uintptr_t)g[REG_RIP];
	if ((uintptr_t)g[REG_RCX] != rip)
		return false;
	unsigned char c[32];
	size_t n = sizeof c;
	if (rip < 4096 + n)
		return false;
	if ((rip & 4095) < n && !peek(rip - n, c, n))
		n = rip & 4095;   /* the code's first page: do not read before it */
	if (n < 2 || !peek(rip - n, c, n))
		return false;
	long nr = rt_syscall_nr_before(c, n, (const long long *)g);
	if (nr < 0 || nr == SYS_close)
		return false;
	switch (nr) {
	case SYS_nanosleep:
		if (g[REG_RSI])   /* rem: the time left */
			g[REG_RDI] = g[REG_RSI];
		break;
	case SYS_clock_nanosleep:
		if (!(g[REG_RSI] & TIMER_ABSTIME) && g[REG_R10])
			g[REG_RDX] = g[REG_R10];
		break;
	default:
		break;
	}
	g[REG_RAX] = nr;
	g[REG_RIP] = (greg_t)(rip - 2);
	return true;
}
