// timeline_launch.mjs - what a person waits for when opening a large
// trace (bench/timeline.sh part 4): the browser already open, `cprof
// -no_browser -http=127.0.0.1:0 TRACE` launched, the page opened as soon
// as it serves, and the first window drawn.  Prints per run
//   launch_ms SERVING FIRST_SCREEN TOTAL
// (ms: launch to the "Serving" line; navigation to the first window
// drawn; launch to the first window drawn), then where the first screen
// went, from the page's resource timing (ms from navigation):
//   launch_parts_ms PAGE SCRIPT META_START META_END WINDOW_START WINDOW_END
// Each run's cprof is killed and waited for (its exit includes the
// kernel's teardown of its 1.6 GB) before the next one is launched.
//
//   node timeline_launch.mjs CPROF TRACE RUNS
//   node timeline_launch.mjs CPROF,BASE TRACE RUNS
//
// With two binaries (this build and a baseline), each run launches one
// then the other (interleaved pairs, the same browser), and each line
// ends with the binary's number (0: CPROF, 1: BASE).  Nothing asserts a
// timing; exit status 1 when cprof does not serve.
import { launch } from "./harness.mjs";
import { spawn } from "node:child_process";

const [cprofArg, trace, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 3);
const bins = (cprofArg || "").split(",").filter((b) => b);
if (!bins.length || bins.length > 2 || !trace || !(runs >= 1)) {
	console.error("usage: node timeline_launch.mjs CPROF TRACE RUNS");
	process.exit(2);
}
const { page, close } = await launch({ width: 1400, height: 700 });
await page.goto("about:blank");

// cprof launched: { p, exited, t0, ms, url } once it serves.
function serve(cprof) {
	return new Promise((resolve, reject) => {
		const t0 = performance.now();
		const p = spawn(cprof, ["-no_browser", "-http=127.0.0.1:0", trace], { stdio: ["ignore", "pipe", "pipe"] });
		const exited = new Promise((r) => p.once("exit", r));
		let out = "";
		const take = (d) => {
			out += d;
			const m = out.match(/^Serving web UI on (http:\S+)/m);
			if (m) resolve({ p, exited, t0, ms: performance.now() - t0, url: m[1] + "/ui/" });
		};
		p.stdout.on("data", take);
		p.stderr.on("data", take);
		p.once("error", reject);
		exited.then((c) => reject(new Error(`cprof exited ${c}: ${out}`)));
	});
}

// The page's resource timing: when the page, its script, the meta and
// the first window arrived (ms from navigation).
async function parts() {
	return page.evaluate(() => {
		const r = performance.getEntriesByType("resource");
		const nav = performance.getEntriesByType("navigation")[0];
		const find = (f) => r.find((e) => f(e.name)) || { startTime: NaN, responseEnd: NaN };
		const js = find((n) => n.endsWith("/timeline.js"));
		const meta = find((n) => n.includes("data/timeline/meta"));
		const win = find((n) => n.includes("data/timeline?"));
		return [nav ? nav.responseEnd : NaN, js.responseEnd, meta.startTime, meta.responseEnd,
			win.startTime, win.responseEnd];
	});
}

let failed = false;
for (let r = 0; r < runs * bins.length && !failed; r++) {
	const b = r % bins.length;
	const tag = bins.length > 1 ? ` ${b}` : "";
	let s;
	try {
		s = await serve(bins[b]);
	} catch (e) {
		console.error(String(e));
		failed = true;
		break;
	}
	try {
		const n0 = performance.now();
		await page.goto(s.url + "timeline");
		await page.waitForFunction(() => {
			const t = window.cprofTimeline;
			return t && t.ready && !t.inflight && !t.dirty;
		}, null, { polling: 10 });
		const end = performance.now();
		console.log(`launch_ms ${s.ms.toFixed(0)} ${(end - n0).toFixed(0)} ${(end - s.t0).toFixed(0)}${tag}`);
		console.log(`launch_parts_ms ${(await parts()).map((v) => v.toFixed(0)).join(" ")}${tag}`);
	} finally {
		s.p.kill();
		await s.exited;   // the teardown is over before the next launch
		await page.goto("about:blank");
	}
}
await close();
process.exit(failed ? 1 : 0);
