// webui.mjs - drive the cprof web UI in Chromium as a person would (issue 8).
//
//   node webui.mjs SUITE URL OUTDIR [key=value ...]
//
// SUITE is one of: corpus (a Go CPU profile: every view, zoom, search,
// keyboard, refine, sandwich, download, export, themes), heap (the sample
// type selector), diff (a -diff_base server: diff colours and the toggle),
// cprog (a real C program's profile: flame graph, source, disassembly),
// deep (a deep C++ program's profile under the runtime: the root on screen,
// colours by module, keyboard, sandwich, the hottest function with source),
// smoke (the flame graph and top only: the sanitizer build's pass).
// Every suite also checks the page's header at 1400 and 1280 px and that
// it asks for no favicon the server lacks.
// Each check prints "ok NAME" or "FAIL NAME: why"; the exit status is the
// number of failures (0: all passed).  Screenshots go to OUTDIR.
// Extra key=value arguments carry what the test computed with the CLI
// (expected numbers).
import { assert, checker, launch } from "./harness.mjs";
import fs from "node:fs";
import path from "node:path";

const [suite, base, outdir, ...rest] = process.argv.slice(2);
const extra = Object.fromEntries(rest.map((a) => a.split(/=(.*)/s).slice(0, 2)));
fs.mkdirSync(outdir, { recursive: true });
const { check, failures } = checker(suite);

const { ctx, page, close } = await launch({ width: 1280, height: 800 }, { acceptDownloads: true });
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));
// offline: anything not from the server fails the test
const foreign = [];
// the browser's own requests (the favicon) show only as console errors
const favicons = [];
page.on("request", (r) => { if (/favicon/.test(r.url())) favicons.push(r.url()); });
page.on("console", (m) => { if (m.type() === "error" && /status of 404/.test(m.text())) favicons.push(m.text()); });
await page.route("**/*", (route) => {
	const u = route.request().url();
	if (!u.startsWith(base)) {
		foreign.push(u);
		return route.abort();
	}
	return route.continue();
});

async function open(p) {
	await page.goto(base + p);
	await page.waitForSelector("body[data-ready='1']");
}

async function shot(name) {
	await page.screenshot({ path: path.join(outdir, `${suite}-${name}.png`), fullPage: false });
}

// relative luminance contrast of two CSS colours "rgb(r, g, b)"
function contrast(a, b) {
	const lum = (c) => {
		const v = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((x) => {
			x /= 255;
			return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
		});
		return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
	};
	const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
	return (x + 0.05) / (y + 0.05);
}

async function canvasBox() {
	const c = await page.$("#flamegraph canvas");
	return c.boundingBox();
}

// the flame graph's row `row` from the root (0 = root), x fraction fx
async function frameAt(row, fx) {
	const inverted = (await page.getAttribute("#flamegraph", "data-layout")) !== "flame";
	// a tall graph: bring the row into the viewport first
	await page.$eval("#flamegraph canvas", (c, inv) => c.scrollIntoView({ block: inv ? "start" : "end" }), inverted);
	const b = await canvasBox();
	const y = inverted ? b.y + row * 18 + 9 : b.y + b.height - row * 18 - 9;
	return { x: b.x + b.width * fx, y };
}

// the keys that move the flame graph's selection towards the leaves and
// towards the root: up and down in a flame graph, down and up in an icicle
async function leafKey() {
	return (await page.getAttribute("#flamegraph", "data-layout")) === "flame" ? "ArrowUp" : "ArrowDown";
}
async function rootKey() {
	return (await leafKey()) === "ArrowUp" ? "ArrowDown" : "ArrowUp";
}

async function tipText() {
	return (await page.$eval(".cpfg-tip", (e) => (e.style.display === "block" ? e.textContent : "")));
}

async function flameBasics(expectTitle) {
	await check("flame graph is the default view", async () => {
		await open("/ui/");
		const title = await page.textContent(".cpfg-title");
		assert(title.includes(expectTitle), `title "${title}" lacks "${expectTitle}"`);
		const drawn = Number(await page.getAttribute("#flamegraph canvas", "data-drawn"));
		assert(drawn > 3, `only ${drawn} boxes drawn`);
		const info = await page.textContent(".cpfg-info");
		assert(/^Total \S+/.test(info), `info line "${info}"`);
		assert(await page.getAttribute("#view-flamegraph", "aria-current") === null ||
			true, "nav");
		await shot("flame-light");
	});
	await check("hover tooltip shows name, flat, cum and percentages", async () => {
		const p = await frameAt(1, 0.02);
		await page.mouse.move(p.x, p.y);
		const t = await tipText();
		assert(/flat \S+ \(\d+\.\d\d%\)/.test(t), `tooltip "${t}"`);
		assert(/cum \S+ \(\d+\.\d\d%\)/.test(t), `tooltip "${t}"`);
	});
	await check("click zooms (server prunes to the zoom), breadcrumb goes back", async () => {
		const p = await frameAt(1, 0.02);
		const before = await tipText();
		const name = before.split("flat ")[0];
		await Promise.all([
			page.waitForResponse((r) => r.url().includes("/ui/data/flame") && r.url().includes("zoom=")),
			page.mouse.click(p.x, p.y),
		]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom") !== "");
		const crumbs = await page.$$eval(".cpfg-crumbs a", (a) => a.map((x) => x.textContent));
		assert(crumbs.length === 2 && crumbs[1] === name, `crumbs ${JSON.stringify(crumbs)} for "${name}"`);
		// the zoomed frame now spans the width: its row holds it at both ends
		const q = await frameAt(1, 0.97);
		await page.mouse.move(q.x, q.y);
		const t = await tipText();
		assert(t.startsWith(name), `right end of row 1 is "${t}", not ${name}`);
		await shot("flame-zoomed");
		await Promise.all([
			page.waitForResponse((r) => r.url().includes("/ui/data/flame")),
			page.click(".cpfg-crumbs a >> nth=0"),
		]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom") === "");
	});
}

async function searchCheck(re, expectPct) {
	await check(`search "${re}" highlights and sums the share`, async () => {
		await page.fill(".cpfg-bar input[type=search]", re);
		await page.press(".cpfg-bar input[type=search]", "Enter");
		const m = await page.textContent(".cpfg-match");
		assert(/^Matched \S+ \(\d+\.\d\d%\)$/.test(m), `match text "${m}"`);
		if (expectPct) assert(m.includes(`(${expectPct}%)`), `"${m}" lacks ${expectPct}%`);
		await shot("flame-search");
		await page.fill(".cpfg-bar input[type=search]", "");
		await page.press(".cpfg-bar input[type=search]", "Enter");
	});
}

if (suite === "corpus" || suite === "smoke" || suite === "cprog") {
	await flameBasics(extra.title || "cpu");
	await searchCheck(extra.search || "sha256", extra.searchPct);
}

if (suite === "corpus") {
	await check("keyboard: arrows select, Enter zooms, Escape zooms out", async () => {
		await open("/ui/flamegraph");
		await page.focus(".cpfg-view");
		await page.keyboard.press(await leafKey());
		const st = await page.textContent(".cpfg-status");
		assert(/^Selected: \S+/.test(st) && !st.startsWith("Selected: root"), `status "${st}"`);
		await Promise.all([page.waitForResponse((r) => r.url().includes("zoom=")), page.keyboard.press("Enter")]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom") !== "");
		await Promise.all([page.waitForResponse((r) => r.url().includes("/ui/data/flame")), page.keyboard.press("Escape")]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom") === "");
		// Tab reaches the view links
		await page.focus("#view-top");
		assert(await page.evaluate(() => document.activeElement.id) === "view-top", "view link not focusable");
	});
	await check("icicle by default, flame toggle", async () => {
		await open("/ui/flamegraph");
		assert((await page.getAttribute("#flamegraph", "data-layout")) === "icicle", "not an icicle");
		let p = await frameAt(0, 0.5);
		await page.mouse.move(p.x, p.y);
		assert((await tipText()).startsWith("root"), "the root is not the top row");
		await shot("flame-icicle");
		await page.click(".cpfg-bar button:has-text('Flame')");
		assert((await page.getAttribute("#flamegraph", "data-layout")) === "flame", "no toggle");
		assert((await page.textContent(".cpfg-bar button:nth-of-type(2)")) === "Icicle", "toggle text");
		p = await frameAt(0, 0.5);
		await page.mouse.move(p.x, p.y);
		assert((await tipText()).startsWith("root"), "the root is not the bottom row");
	});
	await check("focus from a selected frame, then clear it", async () => {
		await open("/ui/flamegraph");
		await page.focus(".cpfg-view");
		await page.keyboard.press(await leafKey());
		const name = (await page.textContent(".cpfg-status")).replace(/^Selected: /, "").split(" \u2014 ")[0];
		await page.keyboard.press(await leafKey()); // release: the page reads the selection on keyup
		await page.keyboard.press(await rootKey());
		await Promise.all([page.waitForNavigation(), page.click("#refine-f")]);
		await page.waitForSelector("body[data-ready='1']");
		const u = new URL(page.url());
		assert(u.searchParams.get("f") === "^" + name.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&") + "$",
			`f=${u.searchParams.get("f")} for ${name}`);
		const fl = await page.textContent("#filters");
		assert(fl.includes("focus=^"), `filters "${fl}"`);
		const info = await page.textContent(".cpfg-info");
		assert(info.includes("focus="), `info "${info}" lacks the focus`);
		await Promise.all([page.waitForNavigation(), page.click("#filters button")]);
		await page.waitForSelector("body[data-ready='1']");
		assert(!new URL(page.url()).searchParams.get("f"), "focus not cleared");
	});
	await check("the Refine menu: opens, Escape closes it, Ignore adds the regexp", async () => {
		await open("/ui/top");
		await page.fill("#search", "sha256");
		await page.click("#refine-menu > button");
		assert(await page.isVisible("#refine-i"), "menu not open");
		await page.keyboard.press("Escape");
		assert(!(await page.isVisible("#refine-i")), "Escape did not close the menu");
		await page.click("#refine-menu > button");
		await shot("refine-menu");
		await Promise.all([page.waitForNavigation(), page.click("#refine-i")]);
		await page.waitForSelector("body[data-ready='1']");
		assert(new URL(page.url()).searchParams.get("i") === "sha256", `i=${new URL(page.url()).searchParams.get("i")}`);
	});
	await check("focus and ignore from the URL (pprof's parameter names)", async () => {
		await open("/ui/top?f=sort&i=insertionSort");
		const names = await page.$$eval("table.cp-top tbody tr td:last-child", (t) => t.map((x) => x.textContent));
		assert(names.length > 0, "no rows");
		assert(!names.some((n) => n.includes("insertionSort")), "ignored frame shown");
		const legend = await page.textContent("#legend");
		assert(legend.includes("focus=sort") && legend.includes("ignore=insertionSort"), `legend "${legend}"`);
	});
	await check("bad regexp: the error is shown", async () => {
		await open("/ui/top?f=(");
		const e = await page.textContent("#errors");
		assert(e.includes("missing closing )"), `errors "${e}"`);
	});
	await check("sandwich: callers and callees of a frame", async () => {
		await open("/ui/sandwich?fn=" + encodeURIComponent(extra.sandwich || "runtime.mallocgc"));
		const hs = await page.$$eval(".cp-sandwich h2", (h) => h.map((x) => x.textContent));
		assert(hs.length === 2 && hs[0].startsWith("Callers"), `headings ${hs}`);
		const n = await page.$$eval(".cp-sandwich canvas", (c) => c.map((x) => Number(x.getAttribute("data-drawn"))));
		assert(n.length === 2 && n[0] > 1 && n[1] > 1, `drawn ${n}`);
		await shot("sandwich");
	});
	await check("top: sortable flat/cum table", async () => {
		await open("/ui/top");
		const rows = await page.$$eval("table.cp-top tbody tr", (r) => r.map((x) => Array.from(x.cells).map((c) => c.textContent)));
		assert(rows.length >= 10, `${rows.length} rows`);
		assert(rows[0][5] === (extra.topName || "crypto/sha256.block"), `first row ${rows[0]}`);
		await page.click("table.cp-top th:has-text('Cum%')");
		const cum = await page.$$eval("table.cp-top tbody tr td:nth-child(5)", (t) => t.map((x) => parseFloat(x.textContent)));
		for (let i = 1; i < cum.length; i++) assert(cum[i - 1] >= cum[i], `cum% not descending at ${i}: ${cum[i - 1]} < ${cum[i]}`);
		await page.click("table.cp-top th:has-text('Name')");
		const nm = await page.$$eval("table.cp-top tbody tr td:last-child", (t) => t.map((x) => x.textContent));
		assert(nm.join("\n") === [...nm].sort().join("\n"), "names not sorted");
		await shot("top-light");
	});
	await check("top: keyboard selects a row, Enter opens it focused", async () => {
		await open("/ui/top");
		await page.focus("table.cp-top tbody tr >> nth=0");
		await page.keyboard.press("ArrowDown");
		const name = await page.evaluate(() => document.activeElement.cells[5].textContent);
		await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
		await page.waitForSelector("body[data-ready='1']");
		assert(new URL(page.url()).pathname === "/ui/flamegraph", "not the flame graph");
		assert((new URL(page.url()).searchParams.get("f") || "").includes(name.split(" ")[0].replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")), "focus not set");
	});
	await check("graph: SVG call graph, pan and zoom", async () => {
		await open("/ui/graph");
		const n = await page.$$eval("#graph g.node", (g) => g.length);
		assert(n >= 5, `${n} nodes`);
		const s0 = Number(await page.getAttribute("#graph", "data-scale"));
		const b = await (await page.$("#graph")).boundingBox();
		await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
		await page.mouse.wheel(0, -300);
		await page.waitForFunction((s) => Number(document.querySelector("#graph").getAttribute("data-scale")) > s, s0);
		const txt = await page.textContent("#graph svg");
		assert(txt.includes("sha256"), "no sha256 node in the graph");
		await shot("graph");
		// a click on a node selects its function for Refine
		await page.keyboard.press("0");
		const id = await page.$$eval("#graph g.node", (gs) => {
			const g = gs.find((x) => /^main\.hashLoop \(/.test((x.querySelector("a") || { getAttribute: () => "" }).getAttribute("xlink:title") || ""));
			return g ? g.id : null;
		});
		assert(id, "no main.hashLoop node");
		await page.$eval(`#graph g#${id}`, (g) => g.dispatchEvent(new MouseEvent("click", { bubbles: true })));
		await Promise.all([page.waitForNavigation(), page.click("#refine-f")]);
		assert(new URL(page.url()).searchParams.get("f") === "^main\\.hashLoop$", `f=${new URL(page.url()).searchParams.get("f")}`);
	});
	await check("peek: callers and callees as text", async () => {
		await open("/ui/peek?f=" + encodeURIComponent("sort.partition"));
		const t = await page.textContent("#text");
		assert(/flat\s+flat%\s+sum%\s+cum\s+cum%\s+calls calls% \+ context/.test(t), "no peek header");
		assert(t.includes("| sort.partition"), "no sort.partition row");
		await shot("peek");
	});
	await check("download the filtered profile", async () => {
		await open("/ui/top?f=sort");
		const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#save-menu > button").then(() => page.click("#download"))]);
		const file = path.join(outdir, "download.pb.gz");
		await dl.saveAs(file);
		const b = fs.readFileSync(file);
		assert(b[0] === 0x1f && b[1] === 0x8b, "not gzip");
		assert(b.length > 100, `only ${b.length} bytes`);
	});
	await check("export the flame graph as SVG and HTML", async () => {
		await open("/ui/flamegraph");
		const svg = await page.evaluate((h) => fetch(h).then((r) => r.text()), await page.getAttribute("#export-svg", "href"));
		assert(svg.includes("<svg") && svg.includes("sha256"), "SVG export");
		const html = await page.evaluate((h) => fetch(h).then((r) => r.text()), await page.getAttribute("#export-html", "href"));
		assert(html.includes("cprofFlameGraph.mount") && !/<script src=/.test(html), "HTML export is not self-contained");
	});
	for (const view of ["flamegraph", "top", "graph", "peek"]) {
		await check(`dark theme readable: ${view}`, async () => {
			await open(`/ui/${view}?theme=dark&f=sort`);
			const c = await page.evaluate(() => {
				const cs = getComputedStyle(document.body);
				const h = getComputedStyle(document.querySelector(".cp-head"));
				const a = getComputedStyle(document.querySelector(".cp-views a"));
				return [cs.color, cs.backgroundColor, a.color, h.backgroundColor];
			});
			assert(contrast(c[0], c[1]) >= 7, `text contrast ${contrast(c[0], c[1]).toFixed(1)}`);
			assert(contrast(c[2], c[3]) >= 4.5, `link contrast ${contrast(c[2], c[3]).toFixed(1)}`);
			assert(c[1] !== "rgb(255, 255, 255)", "background still white");
			if (view === "flamegraph") {
				const p = await frameAt(1, 0.02);
				await page.mouse.move(p.x, p.y);
				const t = await page.$eval(".cpfg-tip", (e) => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]);
				assert(contrast(t[0], t[1]) >= 7, `tooltip contrast ${contrast(t[0], t[1]).toFixed(1)}`);
			}
			await shot(`${view}-dark`);
		});
	}
	await check("theme toggle", async () => {
		await open("/ui/top?theme=light");
		await page.click("#theme");
		assert(await page.getAttribute("html", "data-theme") === "dark", "not dark");
	});
}

if (suite === "smoke") {
	await check("top table", async () => {
		await open("/ui/top");
		const n = await page.$$eval("table.cp-top tbody tr", (r) => r.length);
		assert(n >= 5, `${n} rows`);
	});
}

if (suite === "heap") {
	await check("sample type selector switches inuse_space -> alloc_space", async () => {
		await open("/ui/flamegraph");
		const t0 = await page.textContent(".cpfg-title");
		assert(t0.includes("inuse_space"), `title "${t0}"`);
		const total0 = await page.textContent(".cpfg-info");
		await Promise.all([page.waitForNavigation(), page.selectOption("#sample", "alloc_space")]);
		await page.waitForSelector("body[data-ready='1']");
		assert(new URL(page.url()).searchParams.get("si") === "alloc_space", "no si in the URL");
		const t1 = await page.textContent(".cpfg-title");
		assert(t1.includes("alloc_space"), `title "${t1}"`);
		const total1 = await page.textContent(".cpfg-info");
		assert(total1.includes(`Total ${extra.allocTotal}`), `"${total1}" lacks ${extra.allocTotal}`);
		assert(total0 !== total1, "same total");
		await shot("flame-alloc");
	});
	await check("granularity selector", async () => {
		await open("/ui/top?si=alloc_space");
		await Promise.all([page.waitForNavigation(), page.selectOption("#granularity", "lines")]);
		await page.waitForSelector("body[data-ready='1']");
		const names = await page.$$eval("table.cp-top tbody tr td:last-child", (t) => t.map((x) => x.textContent));
		assert(names.some((n) => /\.go:\d+/.test(n)), `no file:line in ${names.slice(0, 3)}`);
	});
}

if (suite === "diff") {
	await check("diff: frames coloured by change, with a legend", async () => {
		await open("/ui/flamegraph");
		await page.waitForSelector("#diffmode");
		const legend = await page.textContent(".cp-legendbox");
		assert(legend.includes("grown") && legend.includes("shrunk"), `legend "${legend}"`);
		const p = await frameAt(1, 0.02);
		await page.mouse.move(p.x, p.y);
		const t = await tipText();
		assert(/base \S+ \(\d+\.\d\d%\) \u2192 \S+/.test(t) && t.includes("points"), `tooltip "${t}"`);
		// the canvas holds red or green pixels
		const col = await page.$eval("#flamegraph canvas", (c) => {
			const g = c.getContext("2d"), d = g.getImageData(0, 0, c.width, c.height).data;
			let red = 0, green = 0;
			for (let i = 0; i < d.length; i += 4) {
				if (d[i] > 180 && d[i + 1] < 150 && d[i + 2] < 150) red++;
				if (d[i + 1] > 150 && d[i] < 150 && d[i + 2] < 170) green++;
			}
			return [red, green];
		});
		assert(col[0] + col[1] > 100, `no diff colours (red ${col[0]}, green ${col[1]})`);
		await shot("flame-diff");
	});
	await check("diff: a frame only in the base is shown", async () => {
		await page.fill(".cpfg-bar input[type=search]", "pdqsort");
		await page.press(".cpfg-bar input[type=search]", "Enter");
		const m = await page.textContent(".cpfg-match");
		assert(m.startsWith("Matched 0"), `match "${m}"`);
		await page.fill(".cpfg-bar input[type=search]", "");
		await page.press(".cpfg-bar input[type=search]", "Enter");
	});
	await check("diff: share-based <-> absolute toggle", async () => {
		await page.click("#diffmode");
		assert((await page.textContent("#diffmode")) === "Diff: absolute", "toggle text");
		assert(new URL(page.url()).searchParams.get("diff") === "abs", "not in the URL");
		const p = await frameAt(1, 0.02);
		await page.mouse.move(p.x + 1, p.y);
		const t = await tipText();
		assert(t.includes("base ") && !t.includes("points"), `tooltip "${t}"`);
	});
}

if (suite === "cprog") {
	await check("source: annotated C source of the hot loop", async () => {
		await open("/ui/source?f=hot_loop");
		const t = await page.textContent("#text");
		assert(t.includes("ROUTINE") && t.includes("hot_loop") && t.includes("hot.c"), "no routine header");
		assert(/\n\s+\S+\s+\S+\s+\d+:.*for \(long i = 0; i < n; i\+\+\)/.test(t), "no annotated loop line");
		await shot("source");
	});
	await check("disassembly of the hot loop", async () => {
		await open("/ui/disasm?f=hot_loop");
		const t = await page.textContent("#text");
		assert(t.includes("ROUTINE") && /\n\s+\S+\s+\S+\s+[0-9a-f]+:\s+\S+/.test(t), "no instruction rows");
		await shot("disasm");
	});
	await check("source without f: the hottest function with source", async () => {
		await open("/ui/source");
		const t = await page.textContent("#symbol");
		assert(t.startsWith("source for hot_loop, the hottest function with source"), `"${t}"`);
	});
}

if (suite === "deep") {
	// the y of node 0's row in the viewport, from the component's layout
	/* the toggle names the other layout ("Invert" in the old page) */
	const layoutOf = async () => await page.getAttribute("#flamegraph", "data-layout") ||
		((await page.textContent(".cpfg-bar button:nth-of-type(2)")) === "Flame" ? "icicle" : "flame");
	const rootRow = async () => {
		const layout = await layoutOf();
		const b = await canvasBox();
		return { layout, y: layout === "flame" ? b.y + b.height - 18 : b.y, h: b.height };
	};
	const visible = (y) => y >= -1 && y + 18 <= 801;   /* sub-pixel layout */
	await check("a deep profile opens with its root on screen", async () => {
		await open("/ui/");
		let r = await rootRow();
		assert(r.h > 1600, `the graph is only ${r.h} px tall: not a deep profile`);
		assert(visible(r.y), `the root's row is at y=${r.y} (${r.layout}), off the 800 px viewport`);
		await shot("flame-open");
		// the other layout, from the toggle, shows its root too
		const before = r.layout;
		await page.click(".cpfg-bar button:nth-of-type(2)");
		// the other layout once drawn (a loaded machine can take longer than a fixed wait)
		for (let i = 0; i < 300 && (await layoutOf()) === before; i++)
			await page.waitForTimeout(100);
		r = await rootRow();
		assert(r.layout !== before, `the toggle left the layout at ${r.layout}`);
		assert(visible(r.y), `after the toggle the root's row is at y=${r.y} (${r.layout})`);
		await page.mouse.move(400, r.y + 9);
		assert((await tipText()).startsWith("root"), `not the root at y=${r.y}: "${await tipText()}"`);
		await shot("flame-toggled");
	});
	await check("frames coloured by module, named in a legend and the tooltip", async () => {
		// the server's colour key of each frame: its module
		await open("/ui/");
		const pk = await page.evaluate(() => fetch("data/flame?w=100000").then((r) => r.json()).then((d) => {
			const o = {};
			d.names.forEach((n, i) => { o[n] = d.packages[d.namePackage[i]]; });
			return o;
		}));
		const prog = pk["main"];
		assert(prog === "deep", `main's module "${prog}"`);
		for (const n of ["deep::crunch", "deep::Rec::run", "deep::churn", "deep::trig"])
			assert(pk[n] === prog, `${n} is coloured as "${pk[n]}", not as the program`);
		assert(/^libc\.so/.test(pk["__libc_start_call_main"]), `libc frame: "${pk["__libc_start_call_main"]}"`);
		const libm = Object.keys(pk).find((n) => /cbrt|log1p/.test(n));
		assert(libm && /^libm\.so/.test(pk[libm]), `libm frame ${libm}: "${pk[libm]}"`);
		// the page: a legend naming the modules, in their colours
		const legend = await page.$$eval(".cpfg-legend [data-package]", (l) => l.map((x) => [x.getAttribute("data-package"),
			getComputedStyle(x.querySelector(".cpfg-sw")).backgroundColor]));
		const names = legend.map((x) => x[0]);
		assert(names[0] === "deep" && names.some((n) => /^libc\.so/.test(n)) && names.some((n) => /^libm\.so/.test(n)),
			`legend ${JSON.stringify(names)}`);
		assert(new Set(legend.map((x) => x[1])).size === legend.length, "two modules share a colour in the legend");
		// the canvas: the program's frames (row 4 on is main, then Rec::run) in the legend's colour of "deep"
		const px = await page.$eval("#flamegraph canvas", (c) => {
			const g = c.getContext("2d"), d = window.devicePixelRatio || 1;
			/* a box's top left, above its label */
			const at = (row) => Array.from(g.getImageData(Math.round(2 * d), Math.round((row * 18 + 2) * d), 1, 1).data).slice(0, 3);
			return [at(4), at(6), at(20), at(2)];
		});
		const same = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 2);
		assert(same(px[0], px[1]) && same(px[1], px[2]), `program rows differ: ${JSON.stringify(px)}`);
		assert(!same(px[0], px[3]), `libc's row has the program's colour ${px[3]}`);
		const deepSw = legend[0][1].match(/\d+/g).map(Number);
		assert(same(px[0], deepSw), `program rows ${px[0]} are not the legend's ${deepSw}`);
		const p = await frameAt(2, 0.5);
		await page.mouse.move(p.x, p.y);
		const t = await tipText();
		assert(/module libc\.so/.test(t), `tooltip "${t}" names no module`);
		await shot("flame-modules");
	});
	/* open the page and move the selection n frames towards the leaves
	 * with the keyboard; returns the key that does that */
	const descend = async (n) => {
		await open("/ui/");
		await page.focus(".cpfg-view");
		const leafward = (await layoutOf()) === "flame" ? "ArrowUp" : "ArrowDown";
		for (let i = 0; i < n; i++) await page.keyboard.press(leafward);
		return leafward;
	};
	await check("keyboard: arrows keep the selection in view", async () => {
		await descend(60);
		const st = await page.textContent(".cpfg-status");
		assert(st.startsWith("Selected: deep::Rec::run"), `status "${st}"`);
		// the selected frame's row is on screen: its black outline, on the
		// left edge (the widest child comes first)
		const y = await page.$eval("#flamegraph canvas", (c) => {
			const d = window.devicePixelRatio || 1, col = c.getContext("2d").getImageData(Math.round(d), 0, 1, c.height).data;
			for (let i = 0; i < c.height; i++)
				if (col[4 * i] < 40 && col[4 * i + 1] < 40 && col[4 * i + 2] < 40 && col[4 * i + 3] > 200)
					return c.getBoundingClientRect().top + i / d - 1;
			return null;
		});
		assert(y !== null && visible(y), `the selected row is at y=${y}, off the viewport`);
		await shot("flame-keyboard");
	});
	await check("keyboard: Enter zooms, Escape resets the zoom, / searches", async () => {
		const leafward = await descend(8);
		await Promise.all([page.waitForResponse((r) => r.url().includes("zoom=")), page.keyboard.press("Enter")]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom").split("\n").length === 8);
		await page.focus(".cpfg-view");
		await page.keyboard.press(leafward);
		await page.keyboard.press(leafward);
		await Promise.all([page.waitForResponse((r) => r.url().includes("zoom=")), page.keyboard.press("Enter")]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom").split("\n").length === 10);
		await page.focus(".cpfg-view");
		await Promise.all([page.waitForResponse((r) => r.url().includes("/ui/data/flame")), page.keyboard.press("Escape")]);
		await page.waitForFunction(() => document.querySelector("#flamegraph").getAttribute("data-zoom") === "",
			null, { timeout: 5000 }).catch(async () => { throw new Error("Escape did not reset the zoom: " +
				(await page.getAttribute("#flamegraph", "data-zoom")).split("\n").length + " levels left"); });
		await page.focus(".cpfg-view");
		await page.keyboard.press("/");
		assert(await page.evaluate(() => document.activeElement.matches(".cpfg-bar input[type=search]")), "/ does not go to the search box");
	});
	await check("sandwich: the function's name, not \"root\"", async () => {
		await open("/ui/sandwich?fn=" + encodeURIComponent("deep::crunch"));
		const crumbs = await page.$$eval(".cp-sandwich .cpfg-crumbs a:first-child", (a) => a.map((x) => x.textContent));
		assert(crumbs.length === 2 && crumbs.every((c) => c === "deep::crunch"), `crumbs ${JSON.stringify(crumbs)}`);
		const st = await page.$$eval(".cp-sandwich .cpfg-status", (a) => a.map((x) => x.textContent));
		assert(st.every((x) => x.startsWith("Selected: deep::crunch")), `status ${JSON.stringify(st)}`);
		await shot("sandwich");
	});
	await check("source opens on the hottest function that has source", async () => {
		// without crunch, libm's functions (no source here) are the hottest
		await open("/ui/source?i=crunch");
		assert(await page.$eval("#errors", (e) => e.hidden), `error banner: ${await page.textContent("#errors")}`);
		const t = await page.textContent("#text");
		assert(/ROUTINE =+ deep::\S+ in \S*deep\.cc/.test(t) && !/ Error: /.test(t), `listing: ${t.slice(0, 200)}`);
		const sym = await page.textContent("#symbol");
		assert(/^source for deep::/.test(sym), `"${sym}"`);
		const skipped = await page.textContent("#skipped");
		assert(/__cbrt|log1p/.test(skipped) && /could not find file/.test(skipped), `skipped note "${skipped}"`);
		await shot("source-picked");
	});
	await check("disassembly opens on the hottest function it can read", async () => {
		// up to 8 -disasm runs (objdump over libstdc++ and libm) before the
		// program's own function: slow on a loaded machine, so more time
		page.setDefaultTimeout(120000);
		await open("/ui/disasm?i=crunch");
		page.setDefaultTimeout(30000);
		assert(await page.$eval("#errors", (e) => e.hidden), `error banner: ${await page.textContent("#errors")}`);
		const t = await page.textContent("#text");
		assert(/ROUTINE =+ deep::/.test(t) && /\n\s+\S+\s+\S+\s+[0-9a-f]+:\s+\S+/.test(t), `disasm: ${t.slice(0, 200)}`);
		await shot("disasm-picked");
	});
	await check("disassembly of a selected C++ function (^name$)", async () => {
		await open("/ui/disasm?f=" + encodeURIComponent("^deep::Rec::run$"));
		assert(await page.$eval("#errors", (e) => e.hidden), `error banner: ${await page.textContent("#errors")}`);
		assert(/ROUTINE =+ deep::Rec<\d+>::run/.test(await page.textContent("#text")), "no Rec<N>::run routine");
	});
	await check("a function without machine code or source: a plain note", async () => {
		await open("/ui/disasm?f=" + encodeURIComponent("^__cbrt$"));
		assert(await page.$eval("#errors", (e) => e.hidden), `error banner: ${await page.textContent("#errors")}`);
		assert(/Nothing to show for \^__cbrt\$/.test(await page.textContent("#nomatch")), "no note");
		await open("/ui/source?f=" + encodeURIComponent("^__cbrt$"));
		assert(await page.$eval("#errors", (e) => e.hidden), "error banner");
		assert(/No source shown .*could not find file/.test(await page.textContent("#nosource")), "no note");
		await shot("source-none");
	});
	await check("the graph opens fitted to its width", async () => {
		await open("/ui/graph");
		const r = await page.$eval("#graph", (box) => {
			const g = box.querySelector("svg > g").getBoundingClientRect(), b = box.getBoundingClientRect();
			return [g.width, b.width, g.height, b.height];
		});
		assert(r[0] >= 0.95 * r[1] - 2, `graph ${r[0].toFixed(0)} px wide in a ${r[1].toFixed(0)} px box`);
		await shot("graph-fit");
	});
}

// the header holds one row, nothing cut off, at 1400 and at 1280 px
await check("header fits one row at 1400 and 1280 px", async () => {
	for (const width of [1400, 1280]) {
		await page.setViewportSize({ width, height: 800 });
		await open("/ui/flamegraph");
		const r = await page.evaluate(() => {
			const h = document.querySelector(".cp-head"), kids = h.querySelectorAll(".cp-views > a, .cp-tools > *");
			const tops = Array.from(kids).filter((k) => k.offsetParent).map((k) => Math.round(k.getBoundingClientRect().top));
			const right = Math.max(...Array.from(kids).map((k) => k.getBoundingClientRect().right));
			return { rows: new Set(tops.map((t) => Math.round(t / 10))).size, spread: Math.max(...tops) - Math.min(...tops),
				right, vw: document.documentElement.clientWidth, h: h.getBoundingClientRect().height };
		});
		assert(r.spread <= 8, `header wraps at ${width} px: tops spread ${r.spread} px, height ${r.h}`);
		assert(r.right <= r.vw, `header cut off at ${width} px: right edge ${r.right} > ${r.vw}`);
		await shot(`header-${width}`);
	}
	await page.setViewportSize({ width: 1280, height: 800 });
});

await check("an icon without a request the server cannot answer", async () => {
	await open("/ui/top");
	await page.waitForTimeout(300);
	assert(favicons.length === 0, `asked for ${favicons.join(" ")}`);
	assert(await page.$("link[rel=icon]"), "no icon link");
});

await check("no page errors and no requests off the server", async () => {
	assert(consoleErrors.length === 0, consoleErrors.join("; "));
	assert(foreign.length === 0, foreign.join(" "));
});

await close();
process.exit(failures());
