"""profcheck.py - read the profiles a real program wrote under the runtime
and say what is wrong with them (tests/e2e/test_real_programs.py).

A profile is judged through `cprof -raw` (the decoder and the merge of the
command under test): every file of a kind is decoded together, so one
unreadable or empty file fails the kind with cprof's own message.  Then:

  - the sample types are the kind's (cpu: samples/count cpu/nanoseconds ...);
  - stacks are complete: the share of samples (weighted by their count) with
    two frames or fewer, and the share that never reaches a thread's root
    (main, _start, __libc_start_main, start_thread, clone), are small;
  - the runtime's own work is absent: no sample whose outermost frame in
    the runtime (libcprof*.so) is one of its internal functions entered
    from a thread's start, exit, a constructor or a signal return (at_exit
    writing a profile, the collector's wait, a runtime thread's work, its
    constructor's setenv), and no sample in libdw/libelf, which only the
    runtime loads into these programs (unwind tables built in dlopen, exit
    symbolization).  Samples in the hooks the program calls (malloc,
    pthread_mutex_lock...) are the program's.

Each check returns a list of problems (strings) rather than asserting, so a
test can report everything wrong with a run at once.
"""
import os
import re
import subprocess

from conftest import cprof_bin

KIND_TYPES = {
    "cpu": "samples/count cpu/nanoseconds",
    "heap": "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes",
    "mutex": "contentions/count delay/nanoseconds",
    "block": "contentions/count delay/nanoseconds",
}

# Frames a complete stack ends in (the outermost frames of a process's main
# thread and of any thread): named from libc's symbols even when the
# program itself is stripped.
ROOTS = {"main", "_dl_init", "_dl_start_user", "_start", "__libc_start_main", "__libc_start_main_impl",
         "__libc_start_call_main", "start_thread", "clone", "clone3", "__clone",
         "__clone3", "__GI___clone", "__GI___clone3", "__clone_internal"}

# A stack this deep is cut at its root end by the runtime's depth limit
# (32 frames for waits, 64 for heap samples, as Go's profiles are), not
# truncated by a failed unwind.
DEEP = 32

RUNTIME_LIB = re.compile(r"/libcprof[^/]*\.so[^/]*$")
SYMBOLIZER_LIB = re.compile(r"/(libdw|libelf)[.-][^/]*$")

MAX_FILES = 200          # decoded together; the others are only checked non-empty


class Profile:
    """The parsed -raw text of one kind's files, merged."""

    def __init__(self, raw):
        self.raw = raw
        self.types = ""
        self.samples = []        # (values, [location ids], labels text)
        self.locations = {}      # id -> (mapping id, [function names, leaf first])
        self.mappings = {}       # id -> file
        section = None
        cur = None
        for line in raw.splitlines():
            if line == "Samples:":
                section = "s"
                continue
            if line == "Locations":
                section = "l"
                continue
            if line == "Mappings":
                section = "m"
                continue
            if section == "s":
                if not self.types:
                    # the default sample type is marked [dflt]
                    self.types = line.replace("[dflt]", "").strip()
                    continue
                m = re.match(r"^\s+([\d ]+):((?: \d+)*)\s*$", line)
                if m:
                    cur = [[int(v) for v in m.group(1).split()],
                           [int(x) for x in m.group(2).split()], ""]
                    self.samples.append(cur)
                elif cur is not None:
                    cur[2] += line.strip() + " "
            elif section == "l":
                m = re.match(r"^\s+(\d+): 0x[0-9a-f]+ M=(\d+)\s?(.*)$", line)
                if m:
                    cur = (int(m.group(2)), [])
                    self.locations[int(m.group(1))] = cur
                    fn = m.group(3).split(" ")[0] if m.group(3) else ""
                    cur[1].append(fn)
                elif cur is not None and line.strip():
                    cur[1].append(line.split()[0])
            elif section == "m":
                m = re.match(r"^(\d+): 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S*)", line)
                if m:
                    self.mappings[int(m.group(1))] = m.group(2)

    def count(self, s):
        return s[0][0]

    def total(self):
        return sum(self.count(s) for s in self.samples)

    def frames(self, s):
        """[(mapping file, function)] of a sample, leaf first, inline frames expanded."""
        out = []
        for loc in s[1]:
            mid, fns = self.locations.get(loc, (0, [""]))
            f = self.mappings.get(mid, "")
            out.extend((f, fn) for fn in fns)
        return out

    def share(self, pred):
        tot = self.total()
        if not tot:
            return 0.0, 0
        n = sum(self.count(s) for s in self.samples if pred(self.frames(s)))
        return n / tot, n


def exported(lib):
    """The functions a runtime library exports (those it interposes and its API)."""
    r = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True)
    return {ln.split()[-1] for ln in r.stdout.splitlines() if ln.split()}


# Where the runtime's own work is entered from: a thread's start, exit
# (atexit handlers, destructors), constructors, a signal handler's return
# trampoline.  The program enters the runtime through the functions it
# interposes (malloc, pthread_mutex_lock...): those samples are the
# program's, and the hooks' cost in them is the profiler's overhead.
RUNTIME_ENTRIES = {"start_thread", "__cxa_finalize", "__run_exit_handlers", "call_init",
                   "_dl_init", "_dl_fini", "_dl_call_fini", "__restore_rt", "clone", "clone3",
                   "__GI___clone3", "__GI___clone"}


def runtime_own(frames, entry_points):
    """Is this stack the runtime's own work rather than the program's?"""
    if any(SYMBOLIZER_LIB.search(f) for f, _ in frames):
        return True
    # outermost runtime frame (frames are leaf first) and its caller
    idx = [i for i, (f, _) in enumerate(frames) if RUNTIME_LIB.search(f)]
    if not idx:
        return False
    outer = idx[-1]
    if frames[outer][1] in entry_points:
        return False
    if outer + 1 == len(frames):
        return True
    return frames[outer + 1][1] in RUNTIME_ENTRIES


def reaches_root(frames):
    return any(fn in ROOTS for _, fn in frames)


def describe(frames, n=8, from_runtime=False):
    """A stack as 'root > ... > leaf', cut to about n frames; from_runtime:
    starting at the outermost runtime frame (what the runtime was doing)."""
    if from_runtime:
        idx = [i for i, (f, _) in enumerate(frames) if RUNTIME_LIB.search(f)]
        if idx:
            frames = frames[:idx[-1] + 1]
    names = [fn or os.path.basename(f) or "?" for f, fn in frames]
    names.reverse()
    if len(names) > n:
        names = names[:2] + ["..."] + names[-(n - 3):] if not from_runtime else \
            names[:n - 1] + ["..."] + names[-1:]
    return " > ".join(names)


def decode(files):
    """(Profile or None, problem or None) for a set of files of one kind."""
    r = subprocess.run([cprof_bin(), "-raw", *files], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        return None, f"cprof -raw cannot read them: {r.stderr.strip()[:500]}"
    return Profile(r.stdout), None


def check_kind(kind, files, entry_points, min_samples=0, work=None, work_share=0.5,
               max_short=0.10, min_rooted=0.90):
    """Problems with one kind's profiles (files: every file the run wrote of it).

    min_samples: the least total count (cpu samples, heap alloc_objects,
    contentions) the program's work must leave; work: a regexp on mapping
    files, of which at least work_share of the samples must show a frame
    (the program did its work where expected, e.g. /cc1$ for gcc)."""
    problems = []
    if not files:
        return [f"{kind}: no profile written"] if min_samples or kind == "cpu" else []
    empty = [os.path.basename(f) for f in files if os.path.getsize(f) == 0]
    if empty:
        problems.append(f"{kind}: {len(empty)} empty file(s): {', '.join(empty[:5])}")
    files = [f for f in files if os.path.getsize(f) > 0]
    files.sort(key=os.path.getsize, reverse=True)
    if not files:
        return problems
    p, err = decode(files[:MAX_FILES])
    if err:
        return problems + [f"{kind}: {len(files)} file(s): {err}"]
    if p.types != KIND_TYPES[kind]:
        problems.append(f"{kind}: sample types {p.types!r}, want {KIND_TYPES[kind]!r}")
        return problems
    tot = p.total()
    what = f"{kind} ({len(files)} file(s), {tot} samples)"
    if tot < min_samples:
        problems.append(f"{what}: want at least {min_samples} samples of the program's work")
    if not tot:
        return problems
    # a raw clone child (stress-ng's clone stressor) starts at clone: its
    # two frames are its whole stack
    short, n_short = p.share(lambda fr: len(fr) <= 2 and not (fr and fr[-1][1] in ROOTS))
    if short > max_short:
        ex = next(s for s in p.samples if len(p.frames(s)) <= 2 and
                  not (p.frames(s) and p.frames(s)[-1][1] in ROOTS))
        problems.append(f"{what}: {n_short} samples ({short:.0%}) have 2 frames or fewer "
                        f"(truncated stacks), e.g. {describe(p.frames(ex))}")
    def unrooted_sample(s):
        return len(s[1]) < DEEP and not reaches_root(p.frames(s))
    n_un = sum(p.count(s) for s in p.samples if unrooted_sample(s))
    unrooted = n_un / tot
    if 1 - unrooted < min_rooted:
        ex = next(s for s in p.samples if unrooted_sample(s))
        problems.append(f"{what}: {n_un} samples ({unrooted:.0%}) never reach main or a "
                        f"thread's start, e.g. {describe(p.frames(ex))}")
    own, n_own = p.share(lambda fr: runtime_own(fr, entry_points))
    if n_own:
        ex = max((s for s in p.samples if runtime_own(p.frames(s), entry_points)),
                 key=p.count)
        problems.append(f"{what}: {n_own} samples ({own:.0%}) are the runtime's own work, "
                        f"e.g. {describe(p.frames(ex), from_runtime=True)}")
    if work:
        rx = re.compile(work)
        ws, n_w = p.share(lambda fr: any(rx.search(f) for f, _ in fr))
        if ws < work_share:
            problems.append(f"{what}: only {n_w} samples ({ws:.0%}) in {work} (the program's "
                            f"work), want {work_share:.0%}")
    return problems
