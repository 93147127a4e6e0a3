// timeline.mjs - drive cprof's timeline of an execution trace in Chromium
// (web/timeline.js), as a person would.
//
//   node timeline.mjs URL OUTDIR waiter=NAME waker=TID [bench=1]
//
// URL is the web UI's base (http://host:port/ui/).  The trace is
// tests/runtime/trace/waits.c's "mutex" scenario: thread NAME waits about
// 200 ms for a mutex that thread TID unlocks.  Checks: the lanes appear;
// the wait is drawn with its reason; a click shows its stack, reason and
// waker and draws the wake-up arrow; zoom and pan request only the window
// shown, at the canvas's width; search finds the wait; the menu opens the
// trace's delay profiles in the flame graph.  Prints "ok NAME" or
// "FAIL NAME: why"; exit status = failures.  Screenshots go to OUTDIR.
// With bench=1 (bench/timeline.sh): only the first screen and pans,
// timed, printed as "first_screen_ms N" and "pan_ms N ..." lines.
import { assert, checker, launch } from "./harness.mjs";
import fs from "node:fs";
import path from "node:path";

const [base, outdir, ...rest] = process.argv.slice(2);
const extra = Object.fromEntries(rest.map((a) => a.split(/=(.*)/s).slice(0, 2)));
fs.mkdirSync(outdir, { recursive: true });
const { check, failures } = checker("timeline");

const { ctx, page, close } = await launch({ width: 1400, height: 700 });
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
await page.route("**/*", (route) => {
	const u = route.request().url();
	return u.startsWith(base) ? route.continue() : route.abort();
});

const shot = (name) => page.screenshot({ path: path.join(outdir, `timeline-${name}.png`) });
const tl = (fn, arg) => page.evaluate(fn, arg);
const settled = () => page.waitForFunction(() => {
	const s = window.cprofTimeline;
	return s && s.ready && !s.inflight && !s.dirty;
});

if (extra.bench) {
	// the first screen: from navigation to the first window drawn
	const t0 = Date.now();
	await page.goto(base + "timeline");
	await settled();
	console.log(`first_screen_ms ${Date.now() - t0}`);
	const canvas = await page.locator("#tl-canvas").boundingBox();
	const y = canvas.y + 60;
	// zoom in 8 steps around the middle, then pan by dragging: each
	// request's time from send to drawn, as the page measured it
	for (let i = 0; i < 8; i++) {
		await page.mouse.move(canvas.x + 700, y);
		await page.mouse.wheel(0, -400);
		await settled();
	}
	for (let i = 0; i < 20; i++) {
		await page.mouse.move(canvas.x + 900, y);
		await page.mouse.down();
		await page.mouse.move(canvas.x + 700, y, { steps: 4 });
		await page.mouse.up();
		await settled();
	}
	const reqs = await tl(() => window.cprofTimeline.requests.map((r) => [r.drawn, r.items]));
	console.log("pan_ms " + reqs.map((r) => r[0].toFixed(1)).join(" "));
	console.log("pan_items " + reqs.map((r) => r[1]).join(" "));
	await shot("bench");
	await close();
	process.exit(0);
}

if (extra.many) {
	// a trace of many threads (more lanes than a canvas can be tall):
	// scrolling to the last lane requests and draws it
	await check("many-lanes-scroll", async () => {
		await page.goto(base + "timeline");
		await settled();
		const n = await tl(() => window.cprofTimeline.meta.lanes.length);
		assert(n === Number(extra.many), `${n} lanes`);
		await page.$eval("#tl-scroll", (e) => { e.scrollTop = e.scrollHeight; });
		// the scroll event comes later: wait for the request that holds
		// the last lane, then for its answer to be drawn
		await page.waitForFunction(() => {
			const s = window.cprofTimeline, req = s.requests[s.requests.length - 1];
			return req && req.lanes.includes(s.meta.lanes.length - 1);
		});
		await settled();
		const r = await tl(() => {
			const s = window.cprofTimeline, last = s.meta.lanes.length - 1;
			const req = s.requests[s.requests.length - 1];
			const g = s.canvas.getContext("2d"), d = window.devicePixelRatio || 1;
			const it = s.data.lanes[last] || [];
			const x = it.length ? s.xOf((it[0] + it[1]) / 2) : 0;
			return { lanes: req.lanes, last, y: s.laneY(last), h: s.canvas.clientHeight,
				px: Array.from(g.getImageData(Math.round(x * d), Math.round((s.laneY(last) + 11) * d), 1, 1).data),
				canvasH: s.canvas.height };
		});
		assert(r.lanes.includes(r.last) && r.lanes.length < 100, `requested lanes ${r.lanes.length}, last ${r.last}`);
		assert(r.y > 0 && r.y + 22 <= r.h + 1, `last lane at ${r.y} of ${r.h}`);
		assert(r.canvasH < 8192, `canvas ${r.canvasH} px tall`);
		assert(r.px[0] === 0x3c && r.px[1] === 0x9a && r.px[2] === 0x46, `last lane not drawn: ${r.px}`);
		await shot("many-lanes");
	});
	await close();
	process.exit(failures());
}

let meta = null;
let waitLane = -1;

await check("lanes", async () => {
	await page.goto(base + "timeline");
	await settled();
	meta = await tl(() => window.cprofTimeline.meta);
	const names = meta.lanes.map((l) => l.name);
	for (const n of ["holder", "waiter0", "waiter1", "waiter2"])
		assert(names.includes(n), `no lane ${n} in ${names}`);
	waitLane = names.indexOf(extra.waiter);
	assert(waitLane >= 0, `no lane ${extra.waiter}`);
	const info = await page.locator("#tl-info").textContent();
	assert(info.includes(`${meta.lanes.length} threads`), `info: ${info}`);
	const legend = await page.locator("#tl-legend").textContent();
	assert(legend.includes("blocked: mutex") && legend.includes("runnable"), `legend: ${legend}`);
	await shot("lanes");
});

// the mutex wait in the window's answer: its item (whole, not aggregated)
async function mutexItem() {
	return tl(({ lane }) => {
		const s = window.cprofTimeline;
		const it = s.data.lanes[lane] || [];
		for (let i = 0; i < it.length; i += 5)
			if (s.meta.states[it[i + 2]] === "mutex" && it[i + 4] >= 0)
				return { t0: it[i], t1: it[i + 1], idx: it[i + 4] };
		return null;
	}, { lane: waitLane });
}

await check("wait-drawn", async () => {
	const m = await mutexItem();
	assert(m, "the mutex wait is not in the window's answer");
	const ms = (m.t1 - m.t0) / 1e6;
	assert(ms > 150 && ms < 260, `the mutex wait lasts ${ms} ms`);
	// its pixels have the mutex colour
	const px = await tl(({ lane, m }) => {
		const s = window.cprofTimeline;
		const g = s.canvas.getContext("2d"), d = window.devicePixelRatio || 1;
		const x = s.xOf((m.t0 + m.t1) / 2), y = s.laneY(lane) + 11;
		return Array.from(g.getImageData(Math.round(x * d), Math.round(y * d), 1, 1).data);
	}, { lane: waitLane, m });
	assert(px[0] === 0xc0 && px[1] === 0x39 && px[2] === 0x2b, `colour at the wait: ${px}`);
});

await check("counter-lanes-drawn", async () => {
	// the sampled counters (threads alive, heap in use) under the threads:
	// a lane each, its step line in the counter colour somewhere in its row
	const r = await tl(() => {
		const s = window.cprofTimeline, c = s.meta.counters || [];
		const k = c.findIndex((x) => x.name === "threads alive");
		if (k < 0) return { names: c.map((x) => x.name) };
		const g = s.canvas.getContext("2d"), d = window.devicePixelRatio || 1;
		const y = s.counterY(k), w = s.canvas.width;
		const px = g.getImageData(0, Math.round(y * d), w, Math.round(24 * d)).data;
		let line = 0;
		for (let i = 0; i < px.length; i += 4)
			if (px[i] === 0x8e && px[i + 1] === 0x44 && px[i + 2] === 0xad) line++;
		return { names: c.map((x) => x.name), line, y, h: s.canvas.height / d };
	});
	assert(r.line > 0, `no counter line drawn: ${JSON.stringify(r)}`);
});

await check("click-shows-stack-reason-waker", async () => {
	const m = await mutexItem();
	const box = await page.locator("#tl-canvas").boundingBox();
	const pos = await tl(({ lane, m }) => {
		const s = window.cprofTimeline;
		return { x: s.xOf((m.t0 + m.t1) / 2), y: s.laneY(lane) + 11 };
	}, { lane: waitLane, m });
	await page.mouse.click(box.x + pos.x, box.y + pos.y);
	await page.waitForSelector("#tl-stack");
	assert((await page.locator("#tl-reason").textContent()) === "mutex", "reason");
	const stack = await page.locator("#tl-stack").textContent();
	assert(stack.includes("pthread_mutex_lock") && stack.includes("waiter"), `stack: ${stack}`);
	const waker = await page.locator("#tl-waker").textContent();
	assert(waker.includes(extra.waker), `waker: ${waker} (want ${extra.waker})`);
	const d = await tl(() => window.cprofTimeline.detail);
	assert(d.waker && String(d.waker.tid) === extra.waker, `detail waker ${JSON.stringify(d.waker)}`);
	// the arrow: its head at the end of the wait, in the arrow's blue
	const px = await tl(({ d }) => {
		const s = window.cprofTimeline;
		const g = s.canvas.getContext("2d"), r = window.devicePixelRatio || 1;
		const ax = s.xOf(d.waker.t), ay = s.laneY(d.waker.lane) + 11;
		return Array.from(g.getImageData(Math.round(ax * r), Math.round(ay * r), 1, 1).data);
	}, { d });
	assert(px[0] === 0x1a && px[1] === 0x5f && px[2] === 0xd0, `no arrow at the waker: ${px}`);
	await shot("wait-selected");
});

await check("zoom-requests-only-the-window", async () => {
	const before = await tl(() => window.cprofTimeline.requests.length);
	const box = await page.locator("#tl-canvas").boundingBox();
	const m = await mutexItem();
	const x = await tl((t) => window.cprofTimeline.xOf(t), m.t1);
	await page.mouse.move(box.x + x, box.y + 60);
	for (let i = 0; i < 6; i++) {
		await page.mouse.wheel(0, -500);
		await settled();
	}
	const s = await tl(() => {
		const s = window.cprofTimeline;
		return { t0: s.t0, t1: s.t1, reqs: s.requests.slice(), data: s.data, w: s.canvas.clientWidth };
	});
	assert(s.reqs.length > before, "no request on zoom");
	const last = s.reqs[s.reqs.length - 1];
	assert(Math.abs(last.t0 - s.t0) <= 1 && Math.abs(last.t1 - s.t1) <= 1, `request ${last.t0}..${last.t1} != view ${s.t0}..${s.t1}`);
	assert(last.t1 - last.t0 < (meta.t1 - meta.t0) / 20, "not zoomed in");
	assert(last.w === s.w - 170, `width ${last.w} vs canvas ${s.w}`);
	for (const k in s.data.lanes) {
		const it = s.data.lanes[k];
		for (let i = 0; i < it.length; i += 5)
			assert(it[i + 1] > last.t0 && it[i] < last.t1, `item ${it[i]}..${it[i + 1]} outside the window`);
	}
	await shot("zoomed");
});

await check("pan-requests-the-shifted-window", async () => {
	const s0 = await tl(() => ({ t0: window.cprofTimeline.t0, t1: window.cprofTimeline.t1 }));
	const box = await page.locator("#tl-canvas").boundingBox();
	await page.mouse.move(box.x + 800, box.y + 60);
	await page.mouse.down();
	await page.mouse.move(box.x + 500, box.y + 60, { steps: 5 });
	await page.mouse.up();
	await settled();
	const s = await tl(() => {
		const s = window.cprofTimeline;
		return { t0: s.t0, t1: s.t1, last: s.requests[s.requests.length - 1] };
	});
	assert(s.t0 > s0.t0, "the drag did not move the view later");
	assert(Math.abs((s.t1 - s.t0) - (s0.t1 - s0.t0)) < 2, "the drag changed the zoom");
	assert(Math.abs(s.last.t0 - s.t0) <= 1, "the last request is not the panned window");
});

await check("search", async () => {
	await page.fill("#tl-search", "pthread_mutex_lock");
	await page.press("#tl-search", "Enter");
	await page.waitForSelector("#tl-results li");
	const n = await page.locator("#tl-results li").count();
	assert(n === 3, `${n} matches for pthread_mutex_lock (want the 3 waiters' waits)`);
	await page.locator("#tl-results li a").first().click();
	await page.waitForSelector("#tl-stack");
	await settled();
	const d = await tl(() => window.cprofTimeline.detail);
	assert(d.name === "mutex", `selected ${d.name}`);
	await shot("search");
});

await check("menu-opens-delay-profiles", async () => {
	const [resp] = await Promise.all([
		page.waitForResponse((r) => r.url().includes("/data/flame") && r.url().includes("tp=sync")),
		page.click("#tl-view-flamegraph-tp-sync"),
	]);
	assert(resp.ok(), `data/flame?tp=sync: ${resp.status()}`);
	const fl = await resp.json();
	const names = fl.names || [];
	assert(names.some((n) => n.includes("pthread_mutex_lock")), "no pthread_mutex_lock in the sync profile");
	assert(!names.some((n) => n === "usleep"), "a sleep in the sync profile");
	await page.waitForFunction(() => Number(document.querySelector("#flamegraph canvas")?.getAttribute("data-drawn")) > 0);
	await shot("sync-profile");
	// the same view with tp=syscall: the sleeps, not the mutex waits
	const [r2] = await Promise.all([
		page.waitForResponse((r) => r.url().includes("/data/flame") && r.url().includes("tp=syscall")),
		page.goto(base + "flamegraph?tp=syscall"),
	]);
	const n2 = (await r2.json()).names || [];
	assert(n2.some((n) => n === "usleep") && !n2.some((n) => n.includes("pthread_mutex_lock")),
		"the syscall profile is not the sleeps");
	const tlLink = page.locator("#view-timeline");
	assert(await tlLink.count() === 1, "no Timeline entry in the UI's menu");
	await tlLink.click();
	await page.waitForURL(/timeline/);
	await settled();
});

await check("no-page-errors", async () => {
	assert(pageErrors.length === 0, pageErrors.join("; "));
});

await close();
process.exit(failures());
