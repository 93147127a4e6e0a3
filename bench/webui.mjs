// bench/webui.mjs - first paint and one zoom of the flame graph, measured
// in Chromium, for cprof's web UI and go tool pprof's (issue 8).
//
//   node bench/webui.mjs CPROF_URL PPROF_URL RUNS
//
// Prints one line per run and tool: "tool run paint_ms zoom_ms".
//   paint_ms: navigation start -> the first frame after the flame graph is
//             drawn (cprof: body[data-ready]; pprof: its chart is built by the
//             page's scripts before the load event, then one frame).
//   zoom_ms:  click on the widest frame under the root -> the first frame
//             after the zoomed view is drawn (cprof: fetching the subtree
//             pruned by the server; pprof: d3's click handler, before its
//             750 ms animation, which is not counted).
// playwright-core comes from tests/browser/node_modules.
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const [cprofURL, pprofURL, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 3);
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "cprof-bench-"));
const ctx = await chromium.launchPersistentContext(userDir, {
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync"],
	viewport: { width: 1280, height: 800 },
	timeout: 120000,
});
ctx.setDefaultTimeout(600000);
const page = await ctx.newPage();
const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));

async function cprof() {
	await page.goto(cprofURL + "/ui/flamegraph", { waitUntil: "commit" });
	await page.waitForSelector("body[data-ready='1']");
	const paint = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
	const zoom = await page.evaluate(() => new Promise((resolve) => {
		const holder = document.querySelector("#flamegraph"), c = holder.querySelector("canvas");
		const b = c.getBoundingClientRect();
		const obs = new MutationObserver(() => {
			if (!holder.getAttribute("data-zoom")) return;
			obs.disconnect();
			requestAnimationFrame(() => resolve(performance.now() - t0));
		});
		obs.observe(holder, { attributes: true, attributeFilter: ["data-zoom"] });
		c.scrollIntoView({ block: "end" });
		const r = c.getBoundingClientRect();
		const t0 = performance.now();
		c.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: r.left + 5, clientY: r.bottom - 18 - 9 }));
	}));
	return [paint, zoom];
}

async function pprof() {
	await page.goto(pprofURL + "/ui/flamegraph", { waitUntil: "load" });
	// pprof's page builds its chart in an inline script, before "load"
	await page.waitForSelector("#chart svg g.frame");
	const paint = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
	const zoom = await page.evaluate(() => new Promise((resolve) => {
		// d3-flamegraph: g.frame elements carry the width; frames under its
		// minFrameSize (1 px) are not drawn, so there may be no frame but
		// the root to click (random stacks): then no zoom figure
		const gs = Array.from(document.querySelectorAll("#chart svg g.frame"));
		gs.sort((a, b) => Number(b.getAttribute("width")) - Number(a.getAttribute("width")));
		const target = gs[1];
		if (!target) return resolve(NaN);
		const t0 = performance.now();
		target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
		requestAnimationFrame(() => resolve(performance.now() - t0));
	}));
	return [paint, zoom];
}

for (let i = 0; i < runs; i++) {
	for (const [name, fn] of [["cprof", cprof], ["pprof", pprof]]) {
		if (name === "pprof" && !pprofURL) continue;
		const [p, z] = await fn();
		console.log(`${name} ${i} ${p.toFixed(0)} ${z.toFixed(0)}`);
	}
}
await ctx.close();
fs.rmSync(userDir, { recursive: true, force: true });
