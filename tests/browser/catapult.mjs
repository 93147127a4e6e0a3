// catapult.mjs - import a cprof execution trace into the Catapult trace
// viewer (the one go tool trace embeds; Debian's golang-1.19-src ships it)
// in headless Chromium, and print what the viewer's model holds:
//
//   node catapult.mjs TRACE.json [VIEWER_DIR]
//
// prints one JSON line: {threads: {name: {slices, names[]}}, flows,
// warnings[], counters} and exits 0, or 1 with the error.  The viewer and
// the trace are served by a loopback HTTP server of this script (the
// viewer's HTML-imports polyfill loads with XHR, which file:// refuses).
import { chromium } from "playwright-core";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

const [tracePath, viewerDir = "/usr/share/go-1.19/src/cmd/trace/static"] = process.argv.slice(2);
const page_html = `<!doctype html><html><head>
<script src="/webcomponents.min.js"></script>
<link rel="import" href="/trace_viewer_full.html">
</head><body></body></html>`;

const server = http.createServer((req, res) => {
	const url = req.url.split("?")[0];
	let body = null, type = "text/html";
	if (url === "/" ) body = page_html;
	else if (url === "/trace.json") { body = fs.readFileSync(tracePath); type = "application/json"; }
	else if (url === "/webcomponents.min.js") { body = fs.readFileSync(path.join(viewerDir, url)); type = "text/javascript"; }
	else if (url === "/trace_viewer_full.html") body = fs.readFileSync(path.join(viewerDir, url));
	if (body === null) { res.writeHead(404); res.end(); return; }
	res.writeHead(200, { "Content-Type": type });
	res.end(body);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "cprof-catapult-"));
const ctx = await chromium.launchPersistentContext(userDir, {
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	headless: true,
	args: ["--no-sandbox", "--disable-gpu"],
});
let rc = 0;
try {
	const page = await ctx.newPage();
	const errors = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	await page.goto(base + "/");
	await page.waitForFunction(() => window.tr && tr.Model && tr.importer && tr.importer.Import,
				   null, { timeout: 60000 });
	const out = await page.evaluate(async () => {
		const text = await (await fetch("/trace.json")).text();
		const m = new tr.Model();
		const opts = new tr.importer.ImportOptions();
		opts.showImportWarnings = false;
		const imp = new tr.importer.Import(m, opts);
		imp.importTraces([text]);
		const threads = {};
		for (const t of m.getAllThreads()) {
			const names = new Set();
			for (const s of t.sliceGroup.slices) names.add(s.title);
			threads[t.name || String(t.tid)] = { tid: t.tid, slices: t.sliceGroup.slices.length,
							      names: [...names].sort(),
							      async: t.asyncSliceGroup.slices.length };
		}
		const counters = {};
		for (const p of m.getAllProcesses())
			for (const c of Object.values(p.counters))
				counters[c.name] = { series: c.series.map((x) => x.name),
						     samples: c.series.reduce((n, x) => n + x.samples.length, 0) };
		return { threads, counters, flows: m.flowEvents.length,
			 warnings: m.importWarnings.map((w) => w.message),
			 instants: m.getAllThreads().reduce((n, t) => n + t.sliceGroup.slices.filter((s) => s.duration === 0).length, 0) };
	});
	out.page_errors = errors;
	console.log(JSON.stringify(out));
} catch (e) {
	console.error(String(e && e.stack || e));
	rc = 1;
} finally {
	await ctx.close();
	server.close();
	fs.rmSync(userDir, { recursive: true, force: true });
}
process.exit(rc);
