"""-folded, -flamegraph, -flamesvg and -proto end to end.

-folded is read back by cprof itself (the -top rows must not change);
-proto is read back by go tool pprof, whose reports must equal those of
pprof's own -proto of the same filtered profile; the HTML page is checked
for self-containment and for its embedded data, then rendered by headless
Chromium (a screenshot that is not blank, a DOM in which the script drew);
the SVG is parsed as XML and its boxes measured against the folded stacks.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import pytest

from conftest import GOLDEN, have_go

PROFILES = ["cpu", "allocs", "heap", "block", "mutex", "goroutine", "threadcreate"]

# count-like sample types: -top of the folded stacks prints the same numbers
COUNTS = [("cpu", "samples"), ("allocs", "alloc_objects"), ("heap", "inuse_objects"),
          ("block", "contentions"), ("mutex", "contentions"), ("goroutine", None)]


def golden(name):
    return os.path.join(GOLDEN, name + ".pb.gz")


def top_rows(text):
    """The rows of a -top report (after the column header), '(inline)' cut."""
    lines = text.splitlines()
    for i, l in enumerate(lines):
        if l.split() == ["flat", "flat%", "sum%", "cum", "cum%"]:
            return [re.sub(r" \((partial-)?inline\)$", "", l) for l in lines[i + 1:]]
    raise AssertionError("no -top header in:\n" + text)


@pytest.mark.parametrize("name,si", COUNTS)
def test_folded_reads_back_with_the_same_top(cprof, tmp_path, name, si):
    args = ["-sample_index=" + si] if si else []
    folded = cprof("-folded", *args, golden(name))
    assert folded.returncode == 0, folded.stderr
    lines = folded.stdout.splitlines()
    assert lines, "no stacks"
    for l in lines:
        stack, value = l.rsplit(" ", 1)
        assert int(value) != 0 and stack and ";;" not in stack
    f = tmp_path / "stacks.folded"
    f.write_text(folded.stdout)
    want = cprof("-top", *args, golden(name))
    got = cprof("-top", str(f))
    assert want.returncode == 0 and got.returncode == 0, got.stderr
    assert top_rows(got.stdout) == top_rows(want.stdout)


def test_folded_leaves_out_samples_without_frames(cprof):
    # threadcreate's samples have empty stacks: pprof's -top shows 0 of 5
    r = cprof("-folded", golden("threadcreate"))
    assert r.returncode == 0 and r.stdout == ""


def test_folded_values_sum_to_the_total(cprof):
    total = sum(int(l.rsplit(" ", 1)[1]) for l in cprof("-folded", golden("cpu")).stdout.splitlines())
    raw = cprof("-traces", golden("cpu")).stdout
    # the -top header's total in nanoseconds: "Showing nodes accounting for 1.36s, 100% of 1.36s total"
    top = cprof("-top", "-unit=ns", golden("cpu")).stdout
    m = re.search(r"of ([0-9]+)ns total", top)
    assert m, top
    assert total == int(m.group(1))
    assert raw


def test_folded_granularity_and_output_file(cprof, tmp_path):
    out = tmp_path / "lines.folded"
    r = cprof("-folded", "-lines", "-output=" + str(out), golden("cpu"))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert re.search(r"main\.main\.func1 \S+\.go:\d+;", text), text[:500]
    assert r.stdout == ""


def test_folded_focus(cprof):
    r = cprof("-folded", "-focus=sha256", golden("cpu"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and all("sha256" in l for l in lines)


# ---- -proto -------------------------------------------------------------------

FILTERS = [[], ["-focus=main", "-hide=runtime"], ["-tagfocus=bytes=1k:", "-ignore=sort"]]


def pprof(*args):
    return subprocess.run(["go", "tool", "pprof", *args], capture_output=True,
                          env=dict(os.environ, TZ="UTC"), timeout=300)


@pytest.mark.skipif(not have_go(), reason="go tool pprof is the reference")
@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("filters", FILTERS, ids=["none", "focus_hide", "tagfocus_ignore"])
def test_proto_reads_back_in_pprof_like_pprofs_own(tmp_path, name, filters):
    ours = tmp_path / "cprof.pb.gz"
    theirs = tmp_path / "pprof.pb.gz"
    env = dict(os.environ, TZ="UTC")
    from conftest import cprof_bin
    r = subprocess.run([cprof_bin(), "-proto", "-output=" + str(ours), *filters, golden(name)],
                       capture_output=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert ours.read_bytes()[:2] == b"\x1f\x8b"
    p = pprof("-proto", "-output=" + str(theirs), *filters, golden(name))
    assert p.returncode == 0, p.stderr
    for report in ["-raw", "-top"]:
        a = pprof(report, str(ours))
        b = pprof(report, str(theirs))
        assert a.returncode == 0, a.stderr
        assert a.stdout.decode() == b.stdout.decode()


@pytest.mark.parametrize("name", PROFILES)
def test_proto_reads_back_in_cprof(cprof, tmp_path, name):
    out = tmp_path / "p.pb.gz"
    assert cprof("-proto", "-output=" + str(out), golden(name)).returncode == 0
    assert cprof("-raw", str(out)).stdout == cprof("-raw", golden(name)).stdout


# ---- the HTML page ------------------------------------------------------------------

def page_data(html):
    m = re.search(r'<script type="application/json" id="flamegraph-data">(.*?)</script>', html, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def tree_check(d):
    """Walk the preorder nodes: every node's cum = self + its children's
    cums; returns the root's cum."""
    nodes = d["nodes"]
    pos = 0

    def walk():
        nonlocal pos
        name, self_, cum, kids = nodes[pos:pos + 4]
        assert 0 <= name < len(d["names"])
        pos += 4
        s = self_
        for _ in range(kids):
            s += walk()
        assert s == cum, (d["names"][name], s, cum)
        return cum

    root = walk()
    assert pos == len(nodes)
    return root


@pytest.mark.parametrize("name", ["cpu", "allocs", "goroutine"])
def test_flamegraph_html_is_self_contained_and_totals_match(cprof, name):
    r = cprof("-flamegraph", golden(name))
    assert r.returncode == 0, r.stderr
    html = r.stdout
    assert html.startswith("<!DOCTYPE html>")
    # nothing fetched: no URL at all, no external script, style or image
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link\b|@import|url\(", html)
    d = page_data(html)
    folded = sum(int(l.rsplit(" ", 1)[1]) for l in cprof("-folded", golden(name)).stdout.splitlines())
    assert tree_check(d) == d["total"] == folded
    assert d["names"][d["nodes"][0]] == "root"
    assert len(d["namePackage"]) == len(d["names"])


def test_flamegraph_prunes_into_other(cprof, tmp_path):
    f = tmp_path / "many.folded"
    f.write_text("main;hot 200000\n" + "".join("main;cold%04d 1\n" % i for i in range(2000)))
    d = page_data(cprof("-flamegraph", str(f)).stdout)
    assert tree_check(d) == 202000
    names = [d["names"][d["nodes"][i]] for i in range(0, len(d["nodes"]), 4)]
    assert names == ["root", "main", "hot", "(other)"]
    assert d["pruned"]["boxes"] == 2000


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(*args):
    with tempfile.TemporaryDirectory() as prof:
        return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-background-networking", "--disable-component-update",
                               "--no-first-run", "--user-data-dir=" + prof, *args],
                              capture_output=True, timeout=120)


@pytest.mark.skipif(not chromium(), reason="chromium renders the page (./setup.sh)")
def test_flamegraph_renders_in_chromium(cprof, tmp_path):
    page = tmp_path / "fg.html"
    r = cprof("-flamegraph", "-output=" + str(page), golden("cpu"))
    assert r.returncode == 0, r.stderr
    shot = tmp_path / "fg.png"
    c = run_chromium("--screenshot=" + str(shot), "--window-size=1200,800", page.as_uri())
    assert shot.exists(), c.stderr.decode()[-2000:]
    from PIL import Image
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 800)
    colours = img.getcolors(maxcolors=1 << 20)
    # boxes in several package colours, not a blank or one-colour page
    assert colours is not None and len(colours) > 20
    white = max(colours)[1]
    coloured = sum(n for n, (r_, g, b) in colours if max(r_, g, b) - min(r_, g, b) > 40)
    assert coloured > 1200 * 800 // 20, (white, coloured)

    dom = run_chromium("--dump-dom", "--virtual-time-budget=3000", page.as_uri()).stdout.decode()
    m = re.search(r'<canvas[^>]*data-drawn="(\d+)"', dom)
    assert m and int(m.group(1)) > 10, dom[:2000]
    assert re.search(r'<h1 class="cpfg-title">[^<]*corpusgen', dom)
    assert re.search(r'<input[^>]*type="search"', dom)
    assert 'class="cpfg-crumbs"' in dom


@pytest.mark.skipif(not chromium(), reason="chromium renders the page (./setup.sh)")
def test_flamegraph_search_zoom_and_invert_in_chromium(cprof, tmp_path):
    """Drive the component's API in the browser, record what the page shows."""
    r = cprof("-flamegraph", golden("cpu"))
    assert r.returncode == 0, r.stderr
    script = """<script>
    var out = {};
    flamegraph.search("sha256");
    out.match = document.querySelector(".cpfg-match").textContent;
    var t = flamegraph.t, deepest = 0;
    for (var i = 0; i < t.n; i++) if (t.depth[i] > t.depth[deepest]) deepest = i;
    flamegraph.zoomTo(deepest);
    out.crumbs = document.querySelectorAll(".cpfg-crumbs a").length;
    out.depth = t.depth[deepest];
    flamegraph.search("");
    flamegraph.setInverted(true);
    out.invert = document.querySelectorAll(".cpfg-bar button")[1].textContent;
    flamegraph.search("(");
    out.bad = document.querySelector(".cpfg-bar input").className;
    var pre = document.createElement("pre");
    pre.id = "result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
    </script></body>"""
    page = tmp_path / "fg.html"
    page.write_text(r.stdout.replace("</body>", script))
    dom = run_chromium("--dump-dom", "--virtual-time-budget=3000", page.as_uri()).stdout.decode()
    m = re.search(r'<pre id="result">(.*?)</pre>', dom)
    assert m, dom[-3000:]
    out = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    # the share of the stacks through sha256, as the folded stacks count it
    folded = cprof("-folded", golden("cpu")).stdout.splitlines()
    total = sum(int(l.rsplit(" ", 1)[1]) for l in folded)
    sha = sum(int(l.rsplit(" ", 1)[1]) for l in folded if "sha256" in l.rsplit(" ", 1)[0])
    assert out["match"].endswith("(%.2f%%)" % (100 * sha / total)), out
    assert out["crumbs"] == out["depth"] + 1 and out["depth"] > 5
    assert out["invert"] == "Flame"
    assert "cpfg-bad" in out["bad"]


# ---- the SVG ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cpu", "allocs"])
def test_flamesvg_boxes_match_the_folded_stacks(cprof, name):
    r = cprof("-flamesvg", golden(name))
    assert r.returncode == 0, r.stderr
    root = ET.fromstring(r.stdout)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg"
    boxes = []
    for g in root.iter(ns + "g"):
        title = g.find(ns + "title").text
        rect = g.find(ns + "rect")
        boxes.append((title, float(rect.get("y")), float(rect.get("width"))))
    assert boxes[0][0].startswith("all (") and boxes[0][2] == pytest.approx(1180, abs=0.01)
    # per row, the widths add up to the values of the stacks that deep
    stacks = [(l.rsplit(" ", 1)[0].split(";"), int(l.rsplit(" ", 1)[1]))
              for l in cprof("-folded", golden(name)).stdout.splitlines()]
    total = sum(v for _, v in stacks)
    rows = {}
    for _, y, w in boxes:
        rows[y] = rows.get(y, 0) + w
    ys = sorted(rows, reverse=True)     # the root at the bottom
    for depth, y in enumerate(ys):
        want = sum(v for s, v in stacks if len(s) >= depth) * 1180 / total
        # boxes under 0.1 pixel are left out, with their subtrees
        n = sum(1 for _, y2, _ in boxes if y2 == y)
        assert rows[y] <= want + 0.005 * n     # widths are rounded to 0.01
        assert rows[y] >= want - 0.1 * 400, (depth, rows[y], want)
    assert len(ys) == max(len(s) for s, _ in stacks) + 1 or rows[ys[-1]] < 1


# ---- a real C program ---------------------------------------------------------------

LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"
PROGRAMS = os.path.join(os.path.dirname(__file__), "programs")


@pytest.mark.skipif(not (shutil.which("gcc") and os.path.exists(LIBPROFILER)),
                    reason="needs gcc and gperftools' libprofiler (./setup.sh)")
def test_c_program_profile_as_folded_and_flame_graphs(cprof, tmp_path):
    """gcc -O2 -g hot.c under libprofiler: symbolized from the binary, the
    stacks run main -> hot_loop -> mix, mix an inlined frame of its own."""
    exe, prof = tmp_path / "hot", tmp_path / "hot.prof"
    subprocess.run(["gcc", "-O2", "-g", os.path.join(PROGRAMS, "hot.c"), "-o", str(exe)], check=True)
    subprocess.run([str(exe), "1"], check=True, capture_output=True, timeout=120,
                   env=dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=str(prof),
                            CPUPROFILE_FREQUENCY="500"))
    r = cprof("-folded", str(exe), str(prof))
    assert r.returncode == 0, r.stderr
    stacks = {}
    for l in r.stdout.splitlines():
        s, v = l.rsplit(" ", 1)
        stacks[s] = int(v)
    hot = sum(v for s, v in stacks.items() if ";main;hot_loop" in s)
    assert hot > 0.3 * sum(stacks.values()), r.stdout[:2000]
    assert any(s.endswith(";main;hot_loop;mix") for s in stacks), list(stacks)[:20]
    d = page_data(cprof("-flamegraph", str(exe), str(prof)).stdout)
    assert tree_check(d) == d["total"]
    i = d["names"].index("hot_loop")
    assert d["packages"][d["namePackage"][i]] == "hot"     # coloured by its binary
    svg = ET.fromstring(cprof("-flamesvg", str(exe), str(prof)).stdout)
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("hot_loop (") for t in titles), titles[:20]
