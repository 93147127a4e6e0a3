// server_ui.mjs - drive the page of `cprof server` (web/server/srv.js) in
// Chromium as a person would.
//
//   node server_ui.mjs SUITE URL OUTDIR [key=value ...]
//
// SUITE: fleet (a server fed by pushes of two services in two versions
// and scraping a program under the runtime, with a rule that pinned
// snapshots: every control of the selector bar, the charts, a window
// dragged on the chart, the flame graph and top table, the links, both
// comparisons, the snapshot marks, the Targets and Snapshots pages, both
// themes, 1280 px), empty (a server with nothing stored: the empty
// states), zoom (a flame graph zoomed into a frame asks the server for
// the frames the overview pruned), mixed (one kind in two units: the chart
// draws one sample type and says which), login (a server with -token: the login form, then the page on
// the session cookie; token=T is the token).  Each check prints "ok NAME" or "FAIL NAME: why"; the exit
// status is the number of failures.  Screenshots go to OUTDIR
// (server-SUITE-NAME.png).  key=value arguments carry what the test knows
// (the scraped instance).
import { assert, checker, launch } from "./harness.mjs";
import fs from "node:fs";
import path from "node:path";

const [suite, base, outdir, ...rest] = process.argv.slice(2);
const extra = Object.fromEntries(rest.map((a) => a.split(/=(.*)/s).slice(0, 2)));
fs.mkdirSync(outdir, { recursive: true });
const { check, failures } = checker(suite, (name) => shot(`fail-${name}`));

const { ctx, page, close } = await launch({ width: 1280, height: 900 }, { acceptDownloads: true });
const pageErrors = [];
const bad = [];          // answers >= 400 that no check expected
let expectBad = null;    // a regexp of URLs a check expects to fail
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("response", (r) => {
	if (r.status() >= 400 && !(expectBad && expectBad.test(r.url()))) bad.push(`${r.status()} ${r.url()}`);
});
const foreign = [];
await ctx.route("**/*", (route) => {
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
	await page.screenshot({ path: path.join(outdir, `server-${suite}-${name}.png`), fullPage: false });
}

function param(k) {
	return new URL(page.url()).searchParams.get(k);
}

// the flame graph's next load, after action
async function flameAfter(action) {
	const before = await page.getAttribute("#flame", "data-seq");
	await action();
	await page.waitForFunction((b) => {
		const f = document.getElementById("flame");
		return f && f.getAttribute("data-seq") !== b && f.getAttribute("data-state") !== "loading";
	}, before);
	return page.getAttribute("#flame", "data-state");
}

async function flameTotal() {
	const t = await page.textContent("#flame .cpfg-info");
	const m = /Total ([\d.]+)/.exec(t);
	assert(m, `no total in "${t}"`);
	return parseFloat(m[1]);
}

// drag on the chart from fraction a to b of its plotted width
async function drag(a, b) {
	const box = await page.locator("#chart").boundingBox();
	const x0 = box.x + 62 + (box.width - 70) * a, x1 = box.x + 62 + (box.width - 70) * b;
	const y = box.y + box.height / 2;
	await page.mouse.move(x0, y);
	await page.mouse.down();
	await page.mouse.move((x0 + x1) / 2, y, { steps: 4 });
	await page.mouse.move(x1, y, { steps: 4 });
	await page.mouse.up();
}

async function legendCount() {
	return page.locator("#legend span").count();
}

async function waitLegend(pred) {
	await page.waitForFunction((src) => {
		const n = document.querySelectorAll("#legend span").length;
		return new Function("n", "return " + src)(n);
	}, pred);
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

async function noWrap(sel) {
	const r = await page.evaluate((s) => {
		const e = document.querySelector(s);
		return { sw: e.scrollWidth, cw: e.clientWidth, h: e.getBoundingClientRect().height,
			doc: document.documentElement.scrollWidth };
	}, sel);
	assert(r.sw <= r.cw + 1, `${sel} overflows: ${r.sw} > ${r.cw}`);
	assert(r.h < 44, `${sel} wraps: ${r.h}px high`);
	assert(r.doc <= 1280, `the page scrolls sideways: ${r.doc}px`);
}

if (suite === "fleet") {
	const inst = extra.instance;
	let whole = 0;

	await check("first-view", async () => {
		await open("/?from=now-3h");
		await page.waitForSelector("#flame[data-state='ready']");
		const kinds = await page.$$eval("#kind option", (o) => o.map((x) => x.value));
		assert(kinds.includes("cpu") && kinds.includes("heap"), `kinds: ${kinds}`);
		assert(await page.inputValue("#kind") === "cpu", "cpu is not the default kind");
		await waitLegend("n >= 3");
		const rows = await page.locator("#toptable tr").count();
		assert(rows > 3, `top table has ${rows} rows`);
		whole = await flameTotal();
		assert(whole > 0, "empty flame graph");
		assert(/Whole range/.test(await page.textContent("#window-info")), "window info");
		await noWrap("#selector");
		await noWrap("#windowbar");
		await shot("explore-light");
	});

	await check("favicon", async () => {
		const r = await page.request.get(base + "/favicon.ico");
		assert(r.status() === 200, `favicon ${r.status()}`);
		const icon = await page.getAttribute("link[rel=icon]", "href");
		const r2 = await page.request.get(base + icon);
		assert(r2.status() === 200 && /svg/.test(r2.headers()["content-type"]), "icon link");
	});

	await check("static-caching", async () => {
		const r = await page.request.get(base + "/static/srv.js");
		const et = r.headers()["etag"];
		assert(r.status() === 200 && et, "no ETag");
		assert(/no-cache/.test(r.headers()["cache-control"]), r.headers()["cache-control"]);
		const r2 = await page.request.get(base + "/static/srv.js", { headers: { "If-None-Match": et } });
		assert(r2.status() === 304, `revalidation: ${r2.status()}`);
		expectBad = /static\/ui\.js|no-such/;
		const r3 = await page.request.get(base + "/static/ui.js");
		assert(r3.status() === 404, "the CLI's assets are not the server's");
		expectBad = null;
	});

	await check("drag-window", async () => {
		const st = await flameAfter(() => drag(0.55, 0.85));
		assert(st === "ready", `flame ${st}`);
		const wf = Number(param("wf")), wu = Number(param("wu"));
		assert(wf > 0 && wu > wf, `window ${wf} ${wu}`);
		assert(/^Window /.test(await page.textContent("#window-info")), "window info");
		const t = await flameTotal();
		assert(t > 0 && t < whole, `window total ${t} vs whole ${whole}`);
		const dl = await page.getAttribute("#download", "href");
		assert(dl.includes(`from=${wf}`) && dl.includes(`until=${wu}`), `download ${dl}`);
		await shot("window");
	});

	await check("link-reproduces-view", async () => {
		const url = page.url(), t = await flameTotal();
		await page.goto(url);
		await page.waitForSelector("body[data-ready='1']");
		await page.waitForSelector("#flame[data-state='ready']");
		assert(await flameTotal() === t, "another total after reload");
		assert(/^Window /.test(await page.textContent("#window-info")), "window lost");
	});

	await check("top-table-and-flame", async () => {
		await page.click("#toptable tr:nth-child(2) td.n");
		const m = await page.textContent("#flame .cpfg-match");
		assert(/Matched/.test(m), `search after a row click: "${m}"`);
		await page.focus("#flame .cpfg-view");
		const s0 = await page.textContent("#flame .cpfg-status");
		// the row selected its frame (a leaf): the key toward the root
		// (up in an icicle, the default; down in a flame graph) goes to its caller
		assert(/Selected: parse/.test(s0), `row click did not select: ${s0}`);
		const layout = await page.$eval("#flame [data-layout], #flame", (e) =>
			e.getAttribute("data-layout") || (e.querySelector("[data-layout]") || e).getAttribute("data-layout"));
		await page.keyboard.press(layout === "flame" ? "ArrowDown" : "ArrowUp");
		const s1 = await page.textContent("#flame .cpfg-status");
		assert(/Selected: serve/.test(s1), `arrow key: ${s1}`);
		await page.click("#toptable th:nth-child(4)");   // sort by cum
		const first = await page.textContent("#toptable tr:nth-child(2) td:nth-child(5)");
		assert(/^100/.test(first) || parseFloat(first) > 50, `cum sort: ${first}`);
	});

	await check("sandwich", async () => {
		await page.click("#toptable tr:has(td.n:text-is('format'))");
		const [p2] = await Promise.all([ctx.waitForEvent("page"), page.click("#sandwich")]);
		await p2.waitForSelector("body[data-ready='1']");
		assert(/\/sandwich\?fn=format/.test(p2.url()), p2.url());
		await p2.waitForSelector("canvas");
		const t = await p2.textContent("body");
		assert(/render/.test(t) || (await p2.locator("canvas").count()) > 0, "sandwich view");
		await p2.close();
		await page.bringToFront();
	});

	await check("download", async () => {
		const href = await page.getAttribute("#download", "href");
		const r = await page.request.get(base + href);
		const b = await r.body();
		assert(r.status() === 200 && b[0] === 0x1f && b[1] === 0x8b, `download ${r.status()}`);
	});

	await check("open-analysis", async () => {
		const href = await page.getAttribute("#open-analysis", "href");
		assert(href.startsWith("/analysis/"), href);
		const back = page.url();
		await page.goto(base + href);
		await page.waitForSelector("body[data-ready='1']");
		await page.waitForSelector("canvas");
		assert(!/error|not found/i.test(await page.textContent("#errors")), "error banner");
		await shot("analysis");
		await page.click("#view-top");
		await page.waitForSelector("body[data-ready='1']");
		await page.waitForFunction(() => /parse/.test(document.getElementById("main").textContent));
		await page.goto(back);
		await page.waitForSelector("body[data-ready='1']");
	});

	await check("chips", async () => {
		await open("/?from=now-3h");
		await waitLegend("n >= 3");
		await page.fill("#addlabel", "service_name");
		await page.fill("#addvalue", "worker");
		await flameAfter(() => page.press("#addvalue", "Enter"));
		assert(param("q") === '{service_name="worker"}', `q=${param("q")}`);
		assert(await page.locator("#chips .sv-chip").count() === 1, "no chip");
		await waitLegend("n === 1");
		const dl = await page.$$eval("#labels-dl option", (o) => o.map((x) => x.value));
		assert(dl.includes("service_name") && dl.includes("version"), `completion: ${dl}`);
		const vals = await page.$$eval("#values-dl option", (o) => o.map((x) => x.value));
		assert(vals.includes("api") && vals.includes("worker"), `value completion: ${vals}`);
		await flameAfter(() => page.click("#chips .sv-chip button"));
		assert(!param("q"), "chip not removed");
		await waitLegend("n >= 3");
	});

	await check("query-box-and-errors", async () => {
		await page.fill("#query", '{version="2"');
		expectBad = /api\/v1\//;
		await page.press("#query", "Enter");
		await page.waitForSelector("#errors:not([hidden])");
		const msg = await page.textContent("#errors");
		assert(/query/.test(msg) && !/exception|undefined|\[object/i.test(msg), `error: ${msg}`);
		await page.waitForSelector("#flame[data-state='error']");
		await shot("error");
		expectBad = null;
		await page.fill("#query", '{service_name="api"}');
		await flameAfter(() => page.press("#query", "Enter"));
		await waitLegend("n === 2");
		assert(await page.isHidden("#errors"), "the error stays after a good query");
	});

	await check("kind-and-sample-type", async () => {
		await flameAfter(() => page.selectOption("#stype", "samples"));
		assert(param("st") === "samples", `st=${param("st")}`);
		// no heap profile has service_name="api": said in words
		expectBad = /type=heap/;
		const st = await flameAfter(() => page.selectOption("#kind", "heap"));
		assert(param("type") === "heap" && !param("st"), "kind change");
		assert(st === "empty" && /no heap profiles match/.test(await page.textContent("#flame-msg")), `heap: ${st}`);
		expectBad = null;
		const opts = await page.$$eval("#stype option", (o) => o.map((x) => x.value));
		assert(opts.includes("inuse_space"), `heap sample types ${opts}`);
		await flameAfter(() => page.selectOption("#kind", "cpu"));
	});

	await check("range-picker", async () => {
		await flameAfter(() => page.selectOption("#range", "now-6h"));
		assert(param("from") === "now-6h", `from=${param("from")}`);
		await page.selectOption("#range", "abs");
		assert(await page.isVisible("#from-abs"), "no absolute inputs");
		const now = Date.now();
		const loc = (t) => new Date(t - new Date(t).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
		await page.fill("#from-abs", loc(now - 2 * 3600e3));
		await page.fill("#until-abs", loc(now + 60e3));
		await flameAfter(() => page.click("#abs-apply"));
		assert(/^\d+$/.test(param("from")) && /^\d+$/.test(param("until")), `abs ${param("from")}`);
		await noWrap("#selector");
		await shot("absolute");
		await flameAfter(() => page.selectOption("#range", "now-1h"));
	});

	await check("stacked-and-metrics", async () => {
		await open("/?from=now-1h");
		await page.waitForSelector("#flame[data-state='ready']");
		await page.click("#stack");
		assert(param("stack") === "1", "stack not in URL");
		await page.selectOption("#metric", "cprof_heap_inuse_bytes");
		await page.waitForFunction(() => /series/.test(document.getElementById("mnote").textContent));
		await page.selectOption("#metric", "process_threads");
		await page.waitForFunction(() => /series/.test(document.getElementById("mnote").textContent));
		await shot("stacked");
		await page.click("#stack");
	});

	await check("auto-refresh", async () => {
		await page.selectOption("#refresh", "10");
		assert(param("refresh") === "10", "refresh not in URL");
		await page.waitForRequest((r) => r.url().includes("/api/v1/series"), { timeout: 25000 });
		await page.selectOption("#refresh", "");
	});

	await check("compare-windows", async () => {
		await open("/?from=now-3h&cmp=time");
		await page.waitForSelector("#flame[data-state='empty']");
		assert(/window A/.test(await page.textContent("#flame-msg")), "no hint");
		await page.waitForFunction(() => document.querySelectorAll("#legend span").length >= 3);
		await flameAfter(() => drag(0.3, 0.45));
		assert(param("bf") && param("bu"), "A not set");
		const st = await flameAfter(() => drag(0.8, 0.97));
		assert(st === "ready", `diff flame ${st}`);
		assert(param("wf") && param("wu"), "B not set");
		const tot = await page.textContent("#totals");
		assert(/A .*B .*%/.test(tot), `totals: ${tot}`);
		assert(/Largest changes/.test(await page.textContent("#toptable")), "diff table");
		await page.click("#dm-absolute");
		assert(param("dm") === "absolute", "diff mode not in URL");
		assert(await page.getAttribute("#dm-absolute", "aria-pressed") === "true", "button state");
		await noWrap("#windowbar");
		await shot("compare-windows");
		await page.click("#dm-share");
	});

	await check("compare-labels", async () => {
		await open('/?from=now-3h&cmp=labels&q=' + encodeURIComponent('{service_name="api",version="2"}'));
		await page.waitForSelector("#flame[data-state='empty']");
		await page.fill("#basequery", '{service_name="api",version="1"}');
		const st = await flameAfter(() => page.press("#basequery", "Enter"));
		assert(st === "ready", `diff ${st}`);
		assert(param("bq") === '{service_name="api",version="1"}', `bq=${param("bq")}`);
		// version 2 renders three times more in its second hour
		const row = await page.locator("#toptable tr", { hasText: "format" }).first().textContent();
		assert(/\+/.test(row), `format did not grow: ${row}`);
		// the chart shows both sides' series, each named by its side
		await page.waitForFunction(() => document.querySelectorAll("#legend span[data-side='A']").length > 0);
		const sides = await page.$$eval("#legend span", (e) => e.map((x) => x.textContent));
		assert(sides.some((t) => /^A: .*version="1"/.test(t)) && sides.some((t) => /^B: .*version="2"/.test(t)),
			`legend: ${sides.join(" | ")}`);
		await noWrap("#windowbar");
		await shot("compare-labels");
	});

	await check("snapshot-marks", async () => {
		await open("/?from=now-15m");
		await page.waitForFunction(() => Number(document.getElementById("chart").getAttribute("data-snapshots")) > 0);
		const xs = (await page.getAttribute("#chart", "data-snap-x")).split(",").map(Number);
		const box = await page.locator("#chart").boundingBox();
		await page.mouse.click(box.x + xs[0], box.y + 4);
		await page.waitForSelector("#snapbar:not([hidden])");
		const href = await page.getAttribute("#snap-open", "href");
		const r = await page.request.get(base + (await page.getAttribute("#snap-download", "href")));
		assert(r.status() === 200, `snapshot download ${r.status()}`);
		await shot("snapshot-mark");
		await page.goto(base + href);
		await page.waitForSelector("body[data-ready='1']");
		await page.waitForSelector("canvas");
	});

	await check("snapshots-page", async () => {
		await open("/snapshots");
		const rows = await page.locator("#snapshots tr[data-id]").count();
		assert(rows >= 1, `${rows} snapshots`);
		assert(/up-rule/.test(await page.textContent("#snapshots")), "rule name");
		await shot("snapshots");
		await page.click("#snapshots tr[data-id] a.snap-chart");
		await page.waitForSelector("body[data-ready='1']");
		assert(new URL(page.url()).pathname === "/", "not on the chart");
		await page.goto(base + "/snapshots");
		await page.waitForSelector("body[data-ready='1']");
		await page.click("#snapshots tr[data-id] a.snap-open");
		await page.waitForSelector("body[data-ready='1']");
		await page.waitForSelector("canvas");
		assert(new URL(page.url()).pathname.startsWith("/analysis/"), page.url());
	});

	await check("targets-page", async () => {
		await open("/targets");
		const txt = await page.textContent("#targets");
		assert(txt.includes(inst), `no ${inst}`);
		assert(/up/.test(txt) && /down/.test(txt), "health");
		assert(/refused|connect/i.test(txt), "last error");
		await noWrap(".sv-head");
		await shot("targets");
		await page.click(`#targets a:has-text("${inst}")`);
		await page.waitForSelector("body[data-ready='1']");
		assert(param("q") === `{instance="${inst}"}`, `q=${param("q")}`);
		await page.waitForSelector("#flame[data-state='ready']");
		assert(await page.locator("#chips .sv-chip").count() === 1, "no chip for the instance");
	});

	await check("dark-theme", async () => {
		await open("/?from=now-3h");
		await page.waitForSelector("#flame[data-state='ready']");
		await page.click("#theme");
		assert(await page.getAttribute("html", "data-theme") === "dark", "not dark");
		assert(param("theme") === "dark", "theme not in URL");
		const c = await page.evaluate(() => {
			const s = getComputedStyle(document.body);
			return [s.color, s.backgroundColor];
		});
		assert(contrast(c[0], c[1]) > 7, `contrast ${c}`);
		await shot("explore-dark");
		await page.click("#nav-targets");
		await page.waitForSelector("body[data-ready='1']");
		assert(await page.getAttribute("html", "data-theme") === "dark", "theme lost across pages");
		await shot("targets-dark");
		await page.click("#theme");
	});
} else if (suite === "empty") {
	await check("explore-empty", async () => {
		await open("/");
		await page.waitForSelector("#empty");
		const t = await page.textContent("#empty");
		assert(t.includes(base + "/ingest"), `no curl line: ${t}`);
		assert(/scrape_configs/.test(t), "no config snippet");
		await shot("explore");
	});
	await check("targets-empty", async () => {
		await open("/targets");
		assert(/No scrape targets/.test(await page.textContent("#empty")), "targets");
		await shot("targets");
	});
	await check("snapshots-empty", async () => {
		await open("/snapshots");
		assert(/rules:/.test(await page.textContent("#empty")), "snapshots");
	});
	await check("dark-empty", async () => {
		await open("/?theme=dark");
		await page.waitForSelector("#empty");
		await shot("explore-dark");
	});
	await check("server-gone", async () => {
		await open("/");
		await page.waitForSelector("#empty");
		// a reply that is not the API's: the words, not a raw exception
		await page.route("**/api/v1/types", (r) => r.fulfill({ status: 502, body: "<html>bad gateway</html>" }));
		expectBad = /api\/v1\/types/;
		await page.goto(base + "/");
		await page.waitForSelector("body[data-ready='1']");
		const m = await page.textContent("#errors");
		assert(/profile kinds: the server answered 502/.test(m), `error: ${m}`);
		await page.unroute("**/api/v1/types");
		expectBad = null;
	});
	await check("first-profile-shows", async () => {
		await open("/");
		await page.waitForSelector("#empty");
		const r = await page.request.post(base + "/ingest?name=first%7Benv%3Dtest%7D&format=folded",
			{ data: "main;work;compute 42\nmain;idle 8\n" });
		assert(r.status() === 200, `push ${r.status()}`);
		// the page looks again by itself and draws the new profile
		await page.waitForSelector("#flame[data-state='ready']", { timeout: 30000 });
		assert(/compute/.test(await page.textContent("#toptable")), "no compute in the top table");
		await shot("first-profile");
	});
} else if (suite === "zoom") {
	// a profile whose "mid" (10 %) has 1,000 leaves of 1/10,000 each:
	// pruned from the overview, there once mid is zoomed into
	await check("flame-zoom-asks-server", async () => {
		await open("/?from=now-1h");
		await page.waitForSelector("#flame[data-state='ready']");
		const matched = async () => {
			await page.fill("#flame input[type=search]", "leaf_");
			await page.press("#flame input[type=search]", "Enter");
			return page.textContent("#flame .cpfg-match");
		};
		const m0 = await matched();
		assert(!/Matched [1-9]/.test(m0), `leaves in the overview already: ${m0}`);
		await page.press("#flame input[type=search]", "Escape");
		await page.focus("#flame .cpfg-view");
		const status = () => page.textContent("#flame .cpfg-status");
		// towards the leaves: down in an icicle, up in a flame graph
		await page.keyboard.press("ArrowDown");
		if (!/Selected: main/.test(await status())) await page.keyboard.press("ArrowUp");
		await page.keyboard.press("ArrowDown");
		if (!/Selected: (big|mid)/.test(await status())) await page.keyboard.press("ArrowUp");
		for (const k of ["ArrowRight", "ArrowLeft"])
			if (!/Selected: mid/.test(await status())) await page.keyboard.press(k);
		assert(/Selected: mid/.test(await status()), `could not select mid: ${await status()}`);
		const req = page.waitForRequest((r) => /\/api\/v1\/profile\?.*zoom=/.test(r.url()));
		const st = await flameAfter(() => page.keyboard.press("Enter"));
		assert(st === "ready", `zoomed flame ${st}`);
		const u = new URL((await req).url());
		assert(u.searchParams.get("zoom") === "root\nmain\nmid" || u.searchParams.get("zoom") === "main\nmid",
			`zoom=${JSON.stringify(u.searchParams.get("zoom"))}`);
		const m1 = await matched();
		assert(/Matched [1-9]/.test(m1), `no leaves after the zoom: ${m1}`);
		await shot("zoomed");
		// Reset zoom asks for the overview again
		const st2 = await flameAfter(() => page.click("#flame button:has-text('Reset zoom')"));
		assert(st2 === "ready" && (await page.getAttribute("#flame", "data-zoom")) === "", "reset");
	});
} else if (suite === "mixed") {
	// one kind holding folded pushes (samples) and the runtime's CPU
	// profiles (cpu nanoseconds): every series asked for names one type
	// (never counts and nanoseconds summed into one line), the last one
	// the flame graph's (the page asks for cpu's usual type at once, in
	// parallel with the flame graph, and again when its answer differs),
	// and the chart's title says which
	const series = [];
	page.on("request", (r) => { if (/\/api\/v1\/series\?.*type=cpu/.test(r.url())) series.push(new URL(r.url())); });
	await check("one-sample-type", async () => {
		await open("/?from=now-1h");
		await page.waitForSelector("#flame[data-state='ready']");
		await page.waitForFunction(() => document.getElementById("chart").hasAttribute("data-drawn-ms"));
		const st = await page.getAttribute("#chart-title", "data-sample-type");
		const title = await page.textContent("#chart-title");
		const flameTitle = await page.textContent("#flame .cpfg-title");
		assert(st && title.includes(st) && flameTitle.includes(st), `chart "${title}" (${st}), flame "${flameTitle}"`);
		await page.waitForFunction((t) => document.getElementById("chart-title").getAttribute("data-sample-type") === t, st);
		assert(series.length && series.every((u) => u.searchParams.get("sample_type")) &&
			series[series.length - 1].searchParams.get("sample_type") === st,
			`series asked without the type, or not last with the flame graph's: ${series.map((u) => u.searchParams.get("sample_type")).join(",")}`);
		assert((await page.textContent("#stype option:first-child")).includes(st), "the selector does not say the default");
		await shot("mixed");
		// the other type, picked in the selector bar: the chart draws the
		// profiles that have it; the merged flame graph has only the types
		// common to all (samples), and says so in words
		const other = st === "cpu" ? "samples" : "cpu";
		expectBad = /\/api\/v1\/profile\?.*sample_type=cpu/;
		const fs = await flameAfter(() => page.selectOption("#stype", other));
		await page.waitForFunction((o) => document.getElementById("chart-title").getAttribute("data-sample-type") === o, other);
		assert(series[series.length - 1].searchParams.get("sample_type") === other, "picked type not asked");
		assert(/\u00b7 cpu per second/.test(await page.textContent("#chart-title")), "title");
		if (fs !== "ready")
			assert(/must be one of: \[samples\]/.test(await page.textContent("#flame-msg")), `flame: ${fs}`);
		await shot("mixed-cpu");
		expectBad = null;
	});
} else if (suite === "login") {
	// a server started with -token: the login page, then the page works
	// from the session cookie alone (the browser sends no bearer header)
	await check("login-page", async () => {
		expectBad = /.*/;
		await page.goto(base + "/?from=now-2h");
		assert(/needs its token/.test(await page.textContent("body")), "no login page");
		await page.fill("#token", "wrong");
		await page.click("#login");
		await page.waitForSelector("#why");
		assert(/wrong token/.test(await page.textContent("#why")), "wrong token not said");
		await shot("login");
		await page.fill("#token", extra.token);
		expectBad = null;
		await page.click("#login");
		await page.waitForSelector("body[data-ready='1']");
		assert(param("from") === "now-2h", `view lost: ${page.url()}`);
		await page.waitForSelector("#flame[data-state='ready']", { timeout: 30000 });
		assert(/compute/.test(await page.textContent("#toptable")), "no compute in the top table");
		const cookies = await ctx.cookies(base);
		const c = cookies.find((k) => k.name === "cprof_session");
		assert(c && c.httpOnly && c.sameSite === "Strict" && c.value !== extra.token, JSON.stringify(cookies));
		await shot("after-login");
	});
	await check("token-in-url", async () => {
		await ctx.clearCookies();
		await page.goto(base + "/targets?token=" + encodeURIComponent(extra.token));
		await page.waitForSelector("body[data-ready='1']");
		assert(!page.url().includes("token="), `the token stays in the address: ${page.url()}`);
		assert(new URL(page.url()).pathname === "/targets", page.url());
	});
}

await check("no-page-errors", async () => {
	assert(!pageErrors.length, pageErrors.join("; "));
	assert(!foreign.length, `requests outside the server: ${foreign.join(" ")}`);
	assert(!bad.length, `failed requests: ${bad.join(" ")}`);
});

await close();
process.exit(failures());
