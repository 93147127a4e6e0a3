/*
 * unwind.c - the async-signal-safe stack walker of the runtime (x86-64).
 *
 * rt_unwind starts from the interrupted registers in a signal's ucontext
 * (rip, rsp, rbp) and, frame by frame, looks up the row of the compact
 * unwind table (unwind_tables.c) covering the pc in the module registry
 * (modules.c, read inside its grace-period bracket), and applies it with
 * unwind_step.h's rules (shared with tprof.c's walks of other threads):
 *   RSP/RBP   CFA = rsp|rbp + off; return address at CFA + ra_off; rbp saved
 *             at CFA + rbp_off or unchanged; the caller's rsp is the CFA
 *   PLT       CFA = rsp + 8 (+ 8 past the entry's push), return address at CFA - 8
 *   SIGNAL    __restore_rt: rsp points at the kernel's ucontext; the
 *             interrupted rip/rsp/rbp are read from it, and that rip is an
 *             exact pc (not a return address)
 *   END       the outermost frame (_start, a thread's clone): a clean stop
 *   UNKNOWN   with RT_PAD_RA_REG, in the frame the signal interrupted only:
 *             the return address is in a register of the context (glibc's
 *             vfork after its pop), CFA = rsp + off;
 *             no usable rule (or no table, or no module: JIT code): frame
 *             pointers are followed if rbp looks like one on this stack
 *             (above rsp, aligned, within 8 MiB), else the walk stops,
 *             marked truncated
 * Return addresses are looked up at pc - 1 (the call instruction) and are
 * stored as pc - 1; exact pcs (the first frame, the frame a signal
 * interrupted) are looked up and stored as they are.  The stack must grow
 * strictly upwards from frame to frame, except across a signal frame
 * (sigaltstack).
 *
 * Lookups: the row for a lookup address comes from a small per-thread
 * cache (direct-mapped, 16 entries, emptied when the registry's generation
 * changes), else from two branchless binary searches (module, then row).
 *
 * Memory reads never fault.  Each thread keeps, in initial-exec TLS, a range
 * of pages of its own stack proven readable; a read inside it is a plain
 * load, a read outside it is done with process_vm_readv on our own pid
 * (which fails with EFAULT instead of faulting), and its page joins the
 * walk's own proven range when adjacent.  When a walk ends cleanly at the
 * outermost frame, every page it read lies in the live stack of this
 * thread, and its range is merged into the thread's cache; a walk that
 * starts with rsp outside the cache (another stack: coroutines,
 * sigaltstack) drops it and proves rsp's page first.  Code bytes (the
 * __restore_rt check for pcs without a table) are always read with the
 * probe, except the runtime's own code: its executable segment, found once
 * at load, stays mapped and readable while the runtime runs (a library
 * preloaded is never unloaded; linked in, it is the executable's), so a
 * walk starting in the runtime (rt_unwind_here's first frame) reads its
 * code bytes with plain loads.  If process_vm_readv is not allowed (seccomp), the probe is
 * rt_sigprocmask with an invalid "how" and the address as the new set: the
 * kernel copies the 8 bytes first (EFAULT when unreadable), then refuses
 * the call (EINVAL) without changing the mask; the word is then loaded.
 * (A pipe was the probe before: a program that closes every descriptor
 * and opens its own would have had stack bytes written into its file.)
 * No locks, no allocation, no descriptor, errno saved and restored.
 */
#include "rt_unwind.h"
#include "unwind_step.h"

#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u

#define TLS __attribute__((tls_model("initial-exec")))
static __thread TLS uintptr_t ok_lo, ok_hi;   /* proven-readable stack pages */

static atomic_int probe_mode;   /* 0 unknown, 1 process_vm_readv, 2 sigprocmask, 3 none */
static pid_t self_pid;

/* The runtime's own executable segment, set once by a constructor (0, 0
 * until then: every code read is probed).  Read-only afterwards. */
static uintptr_t self_text_lo, self_text_hi;

static int find_self_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t me = (uintptr_t)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && (ph->p_flags & PF_R) &&
		    me >= lo && me - lo < ph->p_memsz) {
			self_text_lo = lo;
			self_text_hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* At load (ordinary context): dl_iterate_phdr takes the loader's lock,
 * never from a walk. */
__attribute__((constructor))
static void self_text_init(void)
{
	dl_iterate_phdr(find_self_text, (void *)(uintptr_t)&find_self_text);
}

static bool probe_vm(uintptr_t addr, void *out, size_t n)
{
	struct iovec l = { out, n }, r = { (void *)addr, n };
	return syscall(SYS_process_vm_readv, (long)self_pid, &l, 1L, &r, 1L, 0L) == (long)n;
}

/* n <= 8: the kernel reads sizeof(sigset_t) == 8 bytes at addr. */
__attribute__((no_sanitize_address))
static bool probe_mask_rd(uintptr_t addr, void *out, size_t n)
{
	if (n > 8 || syscall(SYS_rt_sigprocmask, 0x7fff, (void *)addr, NULL, 8L) == 0 ||
	    errno != EINVAL)
		return false;
	memcpy(out, (const void *)addr, n);
	return true;
}

/* Choose the probe at the first read (syscalls only: AS-safe). */
static int choose_probe(void)
{
	int m = atomic_load_explicit(&probe_mode, memory_order_acquire);
	if (m)
		return m;
	self_pid = (pid_t)syscall(SYS_getpid);
	uintptr_t x = 1, y = 0;
	volatile uintptr_t bad = 8;   /* the first page is never mapped */
	if (probe_vm((uintptr_t)&x, &y, sizeof y) && y == 1)
		m = 1;
	else if (probe_mask_rd((uintptr_t)&x, &y, sizeof y) && y == 1 &&
		 !probe_mask_rd(bad, &y, sizeof y))
		m = 2;
	else
		m = 3;
	atomic_store_explicit(&probe_mode, m, memory_order_release);
	return m;
}

/* Rows found for lookup addresses, per thread, valid for one registry
 * generation: hot code is unwound again and again, and each lookup is two
 * binary searches otherwise. */
#define CACHE_N 16
static __thread TLS struct { uintptr_t pc; const rt_urow *row; } row_cache[CACHE_N];
static __thread TLS uint64_t cache_gen;
/* rows read on demand (rt_modules_row), one per cache slot: the slot's
 * row points at its own store */
static __thread TLS rt_urow row_store[CACHE_N];
/* the first address of the last walk in a module whose table is not built
 * yet (lazy registry), for rt_unwind_here to build it and walk again */
static __thread TLS uintptr_t unbuilt_at;

/* Pages proven readable during the current walk (committed to ok_lo/ok_hi
 * only when the walk ends cleanly at the outermost frame, so the cache
 * holds pages of the live stack only). */
static __thread TLS uintptr_t walk_lo, walk_hi;

/* Gaps between the stack pages of one walk: a frame with a large local
 * array puts the next frame pages above the last one read.  Pages between
 * two pages of the live stack reached through the unwind tables from rsp
 * are the same stack, but that is proven rather than assumed: one
 * process_vm_readv reads a byte of each page of the gap (at most
 * GAP_PAGES), and only then is the walk's proven range stretched over it,
 * so later samples read those pages directly. */
#define GAP_PAGES 32

static bool gap_readable(uintptr_t lo, uintptr_t hi)
{
	size_t n = (hi - lo) / PAGE;
	if (n == 0)
		return true;
	if (n > GAP_PAGES || atomic_load_explicit(&probe_mode, memory_order_acquire) != 1)
		return false;
	static char sink;   /* written by the kernel, never read */
	struct iovec l[GAP_PAGES], r[GAP_PAGES];
	for (size_t i = 0; i < n; i++) {
		l[i].iov_base = &sink;
		l[i].iov_len = 1;
		r[i].iov_base = (void *)(lo + i * PAGE);
		r[i].iov_len = 1;
	}
	return syscall(SYS_process_vm_readv, (long)self_pid, l, (long)n, r, (long)n, 0L) == (long)n;
}

enum { RD_ANY = RT_RD_ANY, RD_STACK = RT_RD_STACK, RD_CFI = RT_RD_CFI };  /* what read_word reads */

/* Reads other frames' stack words on purpose (ASan's redzones included):
 * not instrumented. */
__attribute__((no_sanitize_address))
static bool read_word_raw(uintptr_t addr, uintptr_t *out, int what)
{
	bool stack = what != RD_ANY;
	if (addr & 7 || addr > UINTPTR_MAX - 16)
		return false;
	if ((addr >= ok_lo && addr + 8 <= ok_hi) || (addr >= walk_lo && addr + 8 <= walk_hi) ||
	    (!stack && addr >= self_text_lo && addr + 8 <= self_text_hi)) {
		*out = *(const volatile uintptr_t *)addr;
		return true;
	}
	int m = atomic_load_explicit(&probe_mode, memory_order_acquire);
	if (m == 0)
		m = choose_probe();
	bool ok;
	if (m == 1) {
		ok = probe_vm(addr, out, sizeof *out);
		if (!ok && errno == ESRCH) {   /* a raw clone's child: another pid */
			self_pid = (pid_t)syscall(SYS_getpid);
			ok = probe_vm(addr, out, sizeof *out);
		}
		if (!ok && (errno == EPERM || errno == ENOSYS)) {
			/* forbidden since it was chosen (a sandbox's seccomp filter) */
			atomic_store_explicit(&probe_mode, 2, memory_order_release);
			ok = probe_mask_rd(addr, out, sizeof *out);
		}
	} else if (m == 2) {
		ok = probe_mask_rd(addr, out, sizeof *out);
	} else {
		return false;
	}
	if (!ok || !stack)
		return ok;
	uintptr_t page = addr & ~(uintptr_t)(PAGE - 1);
	if (walk_lo == walk_hi) {
		walk_lo = page;
		walk_hi = page + PAGE;
	} else if (page == walk_hi) {
		walk_hi += PAGE;
	} else if (page + PAGE == walk_lo) {
		walk_lo = page;
	} else if (what == RD_CFI && walk_lo != walk_hi && page > walk_hi &&
		   gap_readable(walk_hi, page)) {
		walk_hi = page + PAGE;
	}
	return true;
}

/* ---- walks remembered ------------------------------------------------------
 *
 * A program that waits in a loop (an event loop's epoll_wait, a worker's
 * condition variable) has its stack walked from the same place again and
 * again (rt_unwind_here, for a trace's waits and sampled block events).
 * A walk is a function of its starting registers (pc, sp, fp), of the
 * words it read (stack slots, code bytes) and of the rows it applied (the
 * registry's generation) and of its max.  rt_unwind_cached remembers, per
 * thread, its last walk that ended cleanly: those inputs, every word read
 * with its address and kind, and the frames found.  The next walk with the
 * same inputs reads those words again (read_word: never a fault) and, when
 * every one is unchanged, returns the remembered frames: the full walk
 * would have read the same words at the same addresses, applied the same
 * rows and found the same frames.  A word that changed (another caller at
 * the same depth), a read that fails, or another start walks in full and
 * remembers that walk instead.  Only walks with no failed read, no module
 * without its table (rt_unwind_unbuilt), at most MEMO_READS words and
 * MEMO_FRAMES frames are remembered.
 *
 * Recording is the calling thread's (TLS) and happens only during
 * rt_unwind_cached's own walk; rt_unwind (the signal handlers' walker)
 * clears the recorder for its own walk and restores it after, so a signal
 * landing inside a recorded walk adds nothing to it, and a hook run by a
 * signal handler inside rt_unwind_cached (the program locking a mutex in
 * its handler) walks in full without reading or changing the memo.  The memo costs each
 * thread ~1 KiB of static TLS. */
#define MEMO_FRAMES 36                  /* rt_unwind_here's RT_WAIT_FRAMES + skips */
#define MEMO_READS 40
typedef struct umemo {
	uint64_t gen;                   /* the registry's generation of the walk */
	uintptr_t pc, sp, fp;
	int max, n, nrd;                /* n 0: nothing remembered */
	bool trunc;
	uintptr_t at[MEMO_READS];       /* address | kind (addresses are 8-aligned) */
	uintptr_t val[MEMO_READS];
	uintptr_t pcs[MEMO_FRAMES];
} umemo;
static __thread TLS umemo memo;
static __thread TLS int memo_rec;       /* 1 recording, -1 not rememberable, 0 off */
static __thread TLS int memo_busy;      /* inside rt_unwind_cached */
static __thread TLS uint64_t memo_hits, memo_walks;

static bool read_word(uintptr_t addr, uintptr_t *out, int what)
{
	bool ok = read_word_raw(addr, out, what);
	if (__builtin_expect(memo_rec > 0, 0) &&
	    !(ok && what == RD_ANY && addr >= self_text_lo && addr + 8 <= self_text_hi)) {
		/* (the runtime's own code never changes: not worth checking) */
		if (!ok || memo.nrd >= MEMO_READS) {
			memo_rec = -1;
		} else {
			memo.at[memo.nrd] = addr | (uintptr_t)what;
			memo.val[memo.nrd++] = *out;
		}
	}
	return ok;
}

/* The step's reader: this thread's own stack and code. */
static bool rd_self(void *ctx, uintptr_t addr, uintptr_t *out, int what)
{
	(void)ctx;
	return read_word(addr, out, what);
}

/* The row for look: from its module's table, else (a module whose table
 * is not built) read on demand from its CFI in memory into *store; NULL
 * when neither has one (the walk stops or follows frame pointers there).
 * A walk that found neither in a module without its table remembers where
 * (rt_unwind_unbuilt). */
static const rt_urow *lookup(uintptr_t look, rt_urow *store)
{
	bool known;
	const rt_utable *t = rt_modules_find(look, &known);
	if (t)
		return rt_utable_find(t, look);
	if (!known)
		return NULL;
	if (rt_modules_row(look, store))
		return store;
	if (!unbuilt_at && rt_modules_unbuilt(look))
		unbuilt_at = look;
	return NULL;
}

/* One frame up (unwind_step.h's rules), the row from the per-thread cache
 * or the registry. */
static int step(rt_uregs *r)
{
	uintptr_t look = r->exact ? r->pc : r->pc - 1;
	size_t slot = (look ^ (look >> 4) ^ (look >> 9)) & (CACHE_N - 1);
	const rt_urow *row;
	if (row_cache[slot].pc == look) {
		row = row_cache[slot].row;
	} else {
		row = lookup(look, &row_store[slot]);
		row_cache[slot].pc = look;
		row_cache[slot].row = row;
	}
	return rt_unwind_step(r, row, rd_self, NULL);
}

void rt_unwind_forked(void)
{
	/* reading the parent (alive, same addresses, other contents) gave
	 * forked workers stacks cut after a frame or two */
	if (atomic_load_explicit(&probe_mode, memory_order_acquire) == 1)
		self_pid = getpid();   /* libc's getpid: its page, unlike
					* syscall()'s, the child's _exit maps anyway */
}

uintptr_t rt_unwind_unbuilt(void)
{
	return unbuilt_at;
}

/* The frame a signal interrupted, when its row keeps the return address in
 * a register (RT_PAD_RA_REG: glibc's vfork between its pop and push, where
 * the stack slot may hold the vfork child's data): the caller's pc from
 * that register of the context.  true when r moved to the caller.  Inside
 * the registry's bracket.  [AS-safe] */
static bool first_in_register(const ucontext_t *uc, rt_uregs *r)
{
	/* DWARF register numbers 0-16 to the context's */
	static const int greg[17] = {
		REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
		REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP,
	};
	rt_urow store;
	const rt_urow *row = lookup(r->pc, &store);
	if (!row || row->kind != RT_ROW_UNKNOWN || row->pad != RT_PAD_RA_REG ||
	    row->ra_off < 0 || row->ra_off > 16)
		return false;
	uintptr_t ra = (uintptr_t)uc->uc_mcontext.gregs[greg[row->ra_off]];
	uintptr_t cfa = r->sp + (uintptr_t)(intptr_t)row->cfa_off, fp = r->fp;
	if (row->rbp_rule == RT_RBP_AT) {
		if (!read_word(cfa + (uintptr_t)(intptr_t)row->rbp_off, &fp, RD_CFI))
			return false;
	} else if (row->rbp_rule == RT_RBP_UNDEF) {
		fp = 0;
	}
	if (ra < PAGE || cfa < r->sp)
		return false;
	r->pc = ra;
	r->sp = cfa;
	r->fp = fp;
	r->exact = false;
	return true;
}

static int walk(const ucontext_t *uc, uintptr_t *pcs, int max, bool *truncated)
{
	unbuilt_at = 0;
	*truncated = false;
	if (!uc || max <= 0)
		return 0;
	int saved = errno;
	rt_uregs r = {
		.pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP],
		.sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP],
		.fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP],
		.exact = true,
	};
	walk_lo = walk_hi = 0;
	if (r.sp < ok_lo || r.sp >= ok_hi) {
		/* another stack, or none proven yet: start from the page of rsp,
		 * so the pages proven by this walk are contiguous from there */
		uintptr_t top;
		ok_lo = ok_hi = 0;
		(void)read_word(r.sp & ~(uintptr_t)7, &top, RD_STACK);
	}
	uint64_t gen = rt_modules_enter();
	if (gen != cache_gen) {
		/* rows of another registry (maybe freed since): forget them */
		memset(row_cache, 0, sizeof row_cache);
		cache_gen = gen;
	}
	int n = 0;
	pcs[n++] = r.pc;
	if (n < max && first_in_register(uc, &r))
		pcs[n++] = r.pc - 1;
	for (;;) {
		if (n >= max) {
			*truncated = true;
			break;
		}
		uintptr_t osp = r.sp;
		int s = step(&r);
		if (s == RT_STEP_END) {
			/* every page read lies in the live stack: remember them */
			if (walk_lo != walk_hi) {
				if (ok_lo == ok_hi || walk_lo > ok_hi || walk_hi < ok_lo) {
					ok_lo = walk_lo;
					ok_hi = walk_hi;
				} else {
					ok_lo = walk_lo < ok_lo ? walk_lo : ok_lo;
					ok_hi = walk_hi > ok_hi ? walk_hi : ok_hi;
				}
			}
			break;
		}
		if (s == RT_STEP_FAIL || r.pc < PAGE || (!r.exact && r.sp <= osp)) {
			*truncated = true;
			break;
		}
		pcs[n++] = r.exact ? r.pc : r.pc - 1;
	}
	rt_modules_leave();
	errno = saved;
	return n;
}

int rt_unwind(const ucontext_t *uc, uintptr_t *pcs, int max, bool *truncated)
{
	int rec = memo_rec;   /* a signal inside rt_unwind_cached's walk: not its */
	memo_rec = 0;
	int n = walk(uc, pcs, max, truncated);
	memo_rec = rec;
	return n;
}

/* Every word of the remembered walk still what it read (read_word_raw:
 * a plain load in the proven pages, never a fault; inline for the
 * words of the proven stack pages, nearly all of them). */
__attribute__((no_sanitize_address))
static bool memo_still(void)
{
	for (int i = 0; i < memo.nrd; i++) {
		uintptr_t a = memo.at[i] & ~(uintptr_t)7, v;
		int what = (int)(memo.at[i] & 7);
		if (what != RD_ANY && a >= ok_lo && a + 8 <= ok_hi && a <= UINTPTR_MAX - 16)
			v = *(const volatile uintptr_t *)a;
		else if (!read_word_raw(a, &v, what))
			return false;
		if (v != memo.val[i])
			return false;
	}
	return true;
}

int rt_unwind_cached(const ucontext_t *uc, uintptr_t *pcs, int max, bool *truncated)
{
	*truncated = false;
	if (!uc || max <= 0)
		return 0;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
	if (memo_busy)   /* a signal handler's hook inside our own: walk, touch nothing */
		return rt_unwind(uc, pcs, max, truncated);
	memo_busy = 1;
	uint64_t gen = rt_modules_gen();
	if (memo.n > 0 && memo.gen == gen && memo.pc == pc && memo.sp == sp && memo.fp == fp &&
	    memo.max == max) {
		int saved = errno;
		bool same = memo_still();
		errno = saved;
		if (same) {
			unbuilt_at = 0;
			*truncated = memo.trunc;
			memcpy(pcs, memo.pcs, (size_t)memo.n * sizeof *pcs);
			memo_hits++;
			memo_busy = 0;
			return memo.n;
		}
	}
	memo_walks++;
	memo.n = memo.nrd = 0;
	memo_rec = 1;
	int n = walk(uc, pcs, max, truncated);
	bool keep = memo_rec > 0 && !unbuilt_at && n > 0 && n <= MEMO_FRAMES;
	memo_rec = 0;
	if (keep) {
		memo.gen = cache_gen;   /* the generation the walk's rows came from */
		memo.pc = pc;
		memo.sp = sp;
		memo.fp = fp;
		memo.max = max;
		memo.trunc = *truncated;
		memcpy(memo.pcs, pcs, (size_t)n * sizeof *pcs);
		memo.n = n;
	} else {
		memo.nrd = 0;
	}
	memo_busy = 0;
	return n;
}

void rt_unwind_memo_counts(uint64_t *hits, uint64_t *walks)
{
	*hits = memo_hits;
	*walks = memo_walks;
}

void rt_unwind_forget(bool pages)
{
	memo.n = 0;
	memset(row_cache, 0, sizeof row_cache);
	if (pages)
		ok_lo = ok_hi = 0;
}
