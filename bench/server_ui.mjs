// server_ui.mjs - timings of the server's page for bench/server_ui.sh.
//
//   node server_ui.mjs URL ROUNDS [SERVER_PID]
//
// With SERVER_PID, each first paint and window change also reports the server's CPU time
// (utime + stime from /proc, 10 ms ticks) and the flame request's own
// time (the browser's resource timing: request sent -> answer read), the
// rest being the page's parse and draw.
//
// "first round" is the first of the rounds: the server's cache of merged
// windows (src/server/store_wcache.c) is cold for each view's first
// merge there, and warm for the same windows in the later rounds.
//
// The fleet's time: T0 = 2026-12-01T00:00Z, data from T0 - 7 d (copied
// rollups) to T0 + MINUTES.  Every page load starts a fresh page (no
// cache of the page's data: the API answers are no-store).
import { createRequire } from "node:module";
// playwright-core from tests/browser/node_modules (as bench/webui.mjs)
const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

import fs from "node:fs";
const [base, roundsArg, pidArg] = process.argv.slice(2);
function cpuMs() {
	if (!pidArg) return 0;
	const f = fs.readFileSync(`/proc/${pidArg}/stat`, "utf8").split(") ")[1].split(" ");
	return (Number(f[11]) + Number(f[12])) * 10;   // utime, stime in ticks of 10 ms
}
const ROUNDS = Number(roundsArg || 5);
const T0 = 1796083200, H = 3600, D = 86400;
const b = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const ctx = await b.newContext({ viewport: { width: 1280, height: 900 } });
ctx.setDefaultTimeout(300000);

const views = {
	"1 h": `/?type=cpu&from=${T0 + 5 * 60}&until=${T0 + 65 * 60}`,
	"24 h": `/?type=cpu&from=${T0 + 65 * 60 - D}&until=${T0 + 65 * 60}`,
	"7 d": `/?type=cpu&from=${T0 + 65 * 60 - 7 * D}&until=${T0 + 65 * 60}`,
};
const res = {};
function add(k, v) { (res[k] = res[k] || []).push(v); }

async function firstPaint(name, path) {
	const p = await ctx.newPage();
	const c0 = cpuMs();
	await p.goto(base + path);
	await p.waitForSelector("body[data-ready='1']");
	const st = await p.getAttribute("#flame", "data-state");
	if (st !== "ready") throw new Error(`${name}: flame ${st}: ${await p.textContent("#flame")}`);
	// the page's "ready" may come before the chart (a page that asks for
	// the chart only after the flame graph's answer): wait for both
	await p.waitForSelector("#chart[data-drawn-ms]");
	const chart = Number(await p.getAttribute("#chart", "data-drawn-ms"));
	add(`first paint ${name}: chart drawn`, chart);
	add(`first paint ${name}: chart + flame graph drawn`, Math.max(chart, Number(await p.getAttribute("body", "data-ready-ms"))));
	if (pidArg)
		add(`first paint ${name}: server CPU`, cpuMs() - c0);
	return p;
}

async function flameAfter(p, action, name) {
	const before = await p.getAttribute("#flame", "data-seq");
	const t0 = await p.evaluate(() => performance.now());
	const c0 = cpuMs();
	await action();
	await p.waitForFunction((bf) => {
		const f = document.getElementById("flame");
		return f.getAttribute("data-seq") !== bf && f.getAttribute("data-state") !== "loading";
	}, before);
	const t1 = await p.evaluate(() => performance.now());
	const c1 = cpuMs();
	const st = await p.getAttribute("#flame", "data-state");
	if (st !== "ready") throw new Error(`flame ${st}`);
	add(name, t1 - t0);
	if (pidArg) {
		add(name + ": server CPU", c1 - c0);
		const req = await p.evaluate(() => {
			const e = performance.getEntriesByType("resource").filter((x) => /api\/v1\/(profile|diff)/.test(x.name));
			const l = e[e.length - 1];
			return l ? l.responseEnd - l.requestStart : 0;
		});
		add(name + ": the flame request", req);
	}
}

for (let r = 0; r < ROUNDS; r++) {
	for (const [name, path] of Object.entries(views)) {
		const p = await firstPaint(name, path);
		if (name === "24 h") {
			// drag the last 1/24 of the chart: about one hour
			const box = await p.locator("#chart").boundingBox();
			const w = box.width - 70, x1 = box.x + 62 + w * 0.999, x0 = x1 - w / 24, y = box.y + box.height / 2;
			await flameAfter(p, async () => {
				await p.mouse.move(x0, y);
				await p.mouse.down();
				await p.mouse.move(x1, y, { steps: 3 });
				await p.mouse.up();
			}, "window change to ~1 h (a drag on the 24 h chart)");
		}
		if (name === "7 d") {
			await p.goto(base + path + `&wf=${T0 + 5 * 60}&wu=${T0 + 65 * 60}`);
			await p.waitForSelector("body[data-ready='1']");
			await p.waitForSelector("#chart[data-drawn-ms]");
			add("first paint 7 d range with a 1 h window: chart + flame graph drawn",
				Math.max(Number(await p.getAttribute("#chart", "data-drawn-ms")),
					Number(await p.getAttribute("body", "data-ready-ms"))));
			await flameAfter(p, () => p.click("#clear-window"), "window change 1 h -> 7 d (Whole range)");
		}
		await p.close();
	}
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
for (const [k, v] of Object.entries(res))
	console.log(`${k.padEnd(72)} median ${Math.round(med(v))} ms (min ${Math.round(Math.min(...v))}, max ${Math.round(Math.max(...v))}, first round ${Math.round(v[0])}, n=${v.length})`);
await b.close();
