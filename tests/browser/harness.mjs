// harness.mjs - what every browser suite here shares: Debian's Chromium
// launched headless and offline in a throw-away profile, and the
// check/assert pair that prints "ok SUITE/NAME" or "FAIL SUITE/NAME: why"
// and counts the failures (each suite exits with that count).
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}

// A persistent context in a new temporary profile: { ctx, page, close }.
// viewport: { width, height }; opts: more launchPersistentContext options.
// close() ends the browser and removes the profile.
export async function launch(viewport, opts = {}) {
	const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "cprof-chromium-"));
	const ctx = await chromium.launchPersistentContext(userDir, {
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"],
		timeout: 60000,
		viewport,
		...opts,
	});
	ctx.setDefaultTimeout(30000);
	const page = await ctx.newPage();
	const close = async () => {
		await ctx.close().catch(() => {});
		fs.rmSync(userDir, { recursive: true, force: true });
	};
	return { ctx, page, close };
}

// check(name, fn): run one check of suite, print its line; onFail(name)
// runs after a failure (a screenshot).  failures(): how many failed.
export function checker(suite, onFail) {
	let failed = 0;
	const check = async (name, fn) => {
		try {
			await fn();
			console.log(`ok ${suite}/${name}`);
		} catch (e) {
			failed++;
			console.log(`FAIL ${suite}/${name}: ${String((e && e.message) || e).split("\n")[0]}`);
			if (onFail)
				await onFail(name).catch(() => {});
		}
	};
	return { check, failures: () => failed };
}
