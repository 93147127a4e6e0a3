/*
 * timeline.js - cprof's timeline of an execution trace (BASE/timeline).
 *
 * One lane per thread, its slices coloured by state: running, runnable
 * (ready, waiting for a CPU) and blocked, by reason.  The page never holds
 * the trace: for the window it shows it asks BASE/data/timeline for the
 * visible lanes at its width in pixels, and the server answers with the
 * slices of a pixel or more and one aggregate per pixel for the rest
 * (src/report/timeline.c), so a 10M-event trace costs what a 10-event one
 * does.  While a request runs the last answer is redrawn at the new
 * scale; at most one request is in flight, and the latest view wins.
 *
 * Interaction: the wheel zooms around the pointer (shift+wheel or a
 * horizontal wheel pans), dragging pans, W/S zoom, A/D pan, 0 shows all.
 * A click on a slice shows its stack, reason, object and waker
 * (BASE/data/timeline/event) and draws the wake-up arrow from the waker's
 * event to the end of the wait; a click on an aggregate zooms into it.
 * Search (BASE/data/timeline/search) lists the slices whose event holds
 * the text (a function, a reason, an object address).  The menu opens the
 * trace's sync, syscall and sched delay profiles in the other views
 * (tp=KIND).
 *
 * For tests: window.cprofTimeline exposes the view, the requests made,
 * the lanes' geometry and the selection.
 */
(function () {
	"use strict";

	var BASE = window.cprofUiBase || location.pathname.replace(/[^/]*$/, "");
	var LANE_H = 22, LABEL_W = 170, AXIS_H = 26, PAD = 2;
	var COLORS = {
		running: "#3c9a46", runnable: "#e5a01b", blocked: "#7b3b3b",
		mutex: "#c0392b", "rwlock read": "#d35400", "rwlock write": "#e67e22", cond: "#8e44ad",
		semaphore: "#a0407a", join: "#7f8c8d", barrier: "#b03060", sleep: "#aab7b8",
		read: "#2e86c1", recv: "#2874a6", write: "#5499c7", send: "#2471a3", accept: "#1f618d", connect: "#21618c",
		poll: "#5dade2", epoll_wait: "#5499c7", select: "#85c1e9", waitpid: "#566573"
	};

	var root = document.getElementById("tl-root");
	var st = {
		meta: null, t0: 0, t1: 1, data: null, inflight: false, dirty: false,
		requests: [], selected: null, detail: null, drag: null, ready: false, errors: []
	};
	window.cprofTimeline = st;

	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
		if (text !== undefined) e.textContent = text;
		return e;
	}

	function hue(s) {
		var h = 0;
		for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
		return "hsl(" + (h % 360) + ",45%,45%)";
	}
	function colorOf(state) {
		if (state === 65535) return COLORS.blocked;
		var n = st.meta.states[state] || "?";
		return COLORS[n] || hue(n);
	}
	function stateName(state) {
		return state === 65535 ? "blocked (several)" : (st.meta.states[state] || "?");
	}

	function fmtDur(ns) {
		var a = Math.abs(ns);
		if (a >= 1e9) return (ns / 1e9).toFixed(a >= 1e10 ? 1 : 3) + " s";
		if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e7 ? 1 : 3) + " ms";
		if (a >= 1e3) return (ns / 1e3).toFixed(a >= 1e4 ? 1 : 3) + " µs";
		return Math.round(ns) + " ns";
	}

	/* ---- layout ---- */
	var head = el("header", { class: "tl-head" });
	var nav = el("nav", { class: "tl-nav", "aria-label": "views" });
	head.appendChild(nav);
	var search = el("input", { id: "tl-search", type: "search", placeholder: "search a function, reason, object…",
		"aria-label": "search" });
	head.appendChild(search);
	var resetB = el("button", { id: "tl-reset", type: "button" }, "Show all");
	head.appendChild(resetB);
	var info = el("span", { id: "tl-info", class: "tl-info" });
	head.appendChild(info);
	root.appendChild(head);
	var legend = el("div", { id: "tl-legend", class: "tl-legend" });
	root.appendChild(legend);
	var errBox = el("div", { id: "tl-error", class: "tl-error", role: "alert" });
	errBox.hidden = true;
	root.appendChild(errBox);
	var body = el("div", { class: "tl-body" });
	var scroller = el("div", { id: "tl-scroll", class: "tl-scroll" });
	var canvas = el("canvas", { id: "tl-canvas", tabindex: "0", "aria-label": "timeline" });
	scroller.appendChild(canvas);
	var spacer = el("div", { id: "tl-spacer" });
	scroller.appendChild(spacer);
	body.appendChild(scroller);
	var side = el("aside", { id: "tl-side", class: "tl-side", "aria-live": "polite" });
	body.appendChild(side);
	root.appendChild(body);
	var tip = el("div", { id: "tl-tip", class: "tl-tip" });
	tip.hidden = true;
	root.appendChild(tip);

	function showError(msg) {
		errBox.hidden = !msg;
		errBox.textContent = msg || "";
		if (msg) st.errors.push(msg);
	}

	[["Timeline", "timeline"], ["Sync profile", "flamegraph?tp=sync"], ["Syscall profile", "flamegraph?tp=syscall"],
		["Sched profile", "flamegraph?tp=sched"], ["Top (sync)", "top?tp=sync"]].forEach(function (v) {
		var a = el("a", { href: BASE + v[1], id: "tl-view-" + v[1].replace(/[^a-z]+/g, "-") }, v[0]);
		if (v[1] === "timeline") a.setAttribute("aria-current", "page");
		nav.appendChild(a);
	});

	/* ---- geometry ---- */
	function width() { return Math.max(10, scroller.clientWidth - LABEL_W); }
	function xOf(t) { return LABEL_W + (t - st.t0) / (st.t1 - st.t0) * width(); }
	function tOf(x) { return st.t0 + (x - LABEL_W) / width() * (st.t1 - st.t0); }
	/* a lane's top in the canvas, which stays in view (sticky) while the
	 * scroller's spacer gives the height of all lanes */
	function laneY(lane) { return AXIS_H + lane * LANE_H - scroller.scrollTop; }
	function visibleLanes() {
		var n = st.meta.lanes.length;
		var top = scroller.scrollTop, h = scroller.clientHeight;
		var a = Math.max(0, Math.floor((top - AXIS_H) / LANE_H)), b = Math.min(n, Math.ceil((top + h) / LANE_H) + 1);
		var v = [];
		for (var i = a; i < b; i++) v.push(i);
		return v;
	}
	st.xOf = xOf;
	st.laneY = laneY;
	st.canvas = canvas;

	/* ---- data ---- */
	function request() {
		if (st.inflight) { st.dirty = true; return; }
		var lanes = visibleLanes();
		var t0 = Math.floor(st.t0), t1 = Math.ceil(st.t1), w = Math.round(width());
		if (t1 <= t0) t1 = t0 + 1;
		var url = BASE + "data/timeline?t0=" + t0 + "&t1=" + t1 + "&w=" + w + "&lanes=" + lanes.join(",");
		var rec = { url: url, t0: t0, t1: t1, w: w, lanes: lanes, start: performance.now() };
		st.requests.push(rec);
		if (st.requests.length > 200) st.requests.shift();
		st.inflight = true;
		fetch(url).then(function (r) {
			return r.text().then(function (t) {
				if (!r.ok) throw new Error(t.trim() || r.statusText);
				return JSON.parse(t);
			});
		}).then(function (d) {
			rec.ms = performance.now() - rec.start;
			rec.bytes = 0;
			var items = 0;
			d.lanes.forEach(function (l) { items += l.items.length / 5; });
			rec.items = items;
			var m = {};
			d.lanes.forEach(function (l) { m[l.lane] = l.items; });
			st.data = { t0: d.t0, t1: d.t1, lanes: m };
			showError("");
			draw();
			st.ready = true;
			rec.drawn = performance.now() - rec.start;
		}).catch(function (e) {
			showError("timeline: " + e.message);
		}).then(function () {
			st.inflight = false;
			if (st.dirty) { st.dirty = false; request(); }
		});
	}

	/* ---- drawing ---- */
	function niceStep(span, px) {
		var raw = span / Math.max(1, px / 110);
		var p = Math.pow(10, Math.floor(Math.log10(raw)));
		var m = raw / p;
		return (m < 2 ? 2 : m < 5 ? 5 : 10) * p;
	}

	function draw() {
		var dpr = window.devicePixelRatio || 1;
		var nctr = (st.meta.counters || []).length;
		var W = scroller.clientWidth, H = scroller.clientHeight;
		var all = AXIS_H + (st.meta.lanes.length + nctr) * LANE_H;
		spacer.style.height = Math.max(0, all - H) + "px";
		canvas.style.width = W + "px";
		canvas.style.height = H + "px";
		if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
			canvas.width = Math.round(W * dpr);
			canvas.height = Math.round(H * dpr);
		}
		var g = canvas.getContext("2d");
		g.setTransform(dpr, 0, 0, dpr, 0, 0);
		var dark = document.documentElement.getAttribute("data-theme") === "dark";
		g.fillStyle = dark ? "#1e1e1e" : "#ffffff";
		g.fillRect(0, 0, W, H);
		var lanes = visibleLanes();
		var x0 = LABEL_W, x1 = W;
		/* lanes */
		lanes.forEach(function (ln) {
			var y = laneY(ln);
			g.fillStyle = ln % 2 ? (dark ? "#262626" : "#f6f6f6") : (dark ? "#1e1e1e" : "#ffffff");
			g.fillRect(0, y, W, LANE_H);
			var items = st.data && st.data.lanes[ln];
			if (!items) return;
			for (var i = 0; i < items.length; i += 5) {
				var a = xOf(items[i]), b = xOf(items[i + 1]);
				if (b < x0 || a > x1) continue;
				a = Math.max(a, x0);
				b = Math.min(b, x1);
				g.fillStyle = colorOf(items[i + 2]);
				g.fillRect(a, y + PAD, Math.max(1, b - a), LANE_H - 2 * PAD);
				if (b - a > 60 && items[i + 4] >= 0) {
					g.fillStyle = "#fff";
					g.font = "11px sans-serif";
					g.save();
					g.beginPath();
					g.rect(a, y, b - a, LANE_H);
					g.clip();
					g.fillText(stateName(items[i + 2]) + " " + fmtDur(items[i + 1] - items[i]), a + 3, y + LANE_H - 7);
					g.restore();
				}
			}
		});
		/* the selection and its wake-up arrow */
		if (st.detail) {
			var d = st.detail, sy = laneY(d.lane);
			g.strokeStyle = dark ? "#fff" : "#000";
			g.lineWidth = 2;
			var sa = Math.max(xOf(d.t0), x0), sb = Math.min(xOf(d.t1), x1);
			if (sb >= x0 && sa <= x1) g.strokeRect(sa, sy + 1, Math.max(2, sb - sa), LANE_H - 2);
			if (d.waker) {
				var ax = xOf(d.waker.t), ay = laneY(d.waker.lane) + LANE_H / 2;
				var bx = xOf(d.wait.t1), by = sy + LANE_H / 2;
				g.strokeStyle = "#1a5fd0";
				g.fillStyle = "#1a5fd0";
				g.lineWidth = 2;
				g.beginPath();
				g.moveTo(ax, ay);
				g.lineTo(bx, by);
				g.stroke();
				var ang = Math.atan2(by - ay, bx - ax);
				g.beginPath();
				g.moveTo(bx, by);
				g.lineTo(bx - 9 * Math.cos(ang - 0.4), by - 9 * Math.sin(ang - 0.4));
				g.lineTo(bx - 9 * Math.cos(ang + 0.4), by - 9 * Math.sin(ang + 0.4));
				g.closePath();
				g.fill();
				g.beginPath();
				g.arc(ax, ay, 3, 0, 2 * Math.PI);
				g.fill();
			}
		}
		/* labels */
		lanes.forEach(function (ln) {
			var y = laneY(ln), l = st.meta.lanes[ln];
			g.fillStyle = dark ? "#2d2d2d" : "#eceff1";
			g.fillRect(0, y, LABEL_W, LANE_H);
			g.fillStyle = dark ? "#ddd" : "#222";
			g.font = "12px sans-serif";
			g.fillText((l.name || "thread") + " " + l.tid, 6, y + LANE_H - 7, LABEL_W - 10);
		});
		/* counter lanes under the threads: a step line scaled to the counter's maximum */
		(st.meta.counters || []).forEach(function (c, k) {
			var y = laneY(st.meta.lanes.length + k), p = c.points, max = 0;
			for (var i = 1; i < p.length; i += 2) max = Math.max(max, p[i]);
			g.fillStyle = dark ? "#22272b" : "#f0f4f8";
			g.fillRect(0, y, W, LANE_H);
			g.strokeStyle = "#8e44ad";
			g.lineWidth = 1.5;
			g.beginPath();
			var py = null;
			for (var j = 0; j < p.length; j += 2) {
				var x = Math.min(Math.max(xOf(p[j]), x0), x1), yy = y + LANE_H - 2 - (max > 0 ? p[j + 1] / max : 0) * (LANE_H - 4);
				if (py === null) g.moveTo(x, yy); else { g.lineTo(x, py); g.lineTo(x, yy); }
				py = yy;
			}
			if (py !== null) g.lineTo(x1, py);
			g.stroke();
			g.fillStyle = dark ? "#2d2d2d" : "#eceff1";
			g.fillRect(0, y, LABEL_W, LANE_H);
			g.fillStyle = dark ? "#ddd" : "#222";
			g.font = "12px sans-serif";
			g.fillText(c.name + " (max " + max.toLocaleString() + ")", 6, y + LANE_H - 7, LABEL_W - 10);
		});
		st.counterY = function (k) { return laneY(st.meta.lanes.length + k); };
		/* the time axis, on top of the lanes at the scroll position */
		var ay0 = 0;
		g.fillStyle = dark ? "#333" : "#e8eaed";
		g.fillRect(0, ay0, W, AXIS_H);
		var span = st.t1 - st.t0, step = niceStep(span, W - LABEL_W);
		g.fillStyle = dark ? "#ddd" : "#333";
		g.strokeStyle = dark ? "#555" : "#bbb";
		g.lineWidth = 1;
		g.font = "11px sans-serif";
		for (var t = Math.ceil(st.t0 / step) * step; t <= st.t1; t += step) {
			var x = xOf(t);
			g.beginPath();
			g.moveTo(x + 0.5, ay0 + AXIS_H - 6);
			g.lineTo(x + 0.5, ay0 + AXIS_H);
			g.stroke();
			g.fillText(fmtDur(t - st.meta.t0), x + 2, ay0 + 14);
		}
		g.fillText("window " + fmtDur(span), 6, ay0 + 14);
		info.textContent = st.meta.lanes.length + " threads, " + st.meta.slices.toLocaleString() + " slices; showing " +
			fmtDur(st.t0 - st.meta.t0) + " – " + fmtDur(st.t1 - st.meta.t0);
	}

	/* ---- view changes ---- */
	function setView(t0, t1) {
		var full = st.meta.t1 - st.meta.t0, span = Math.max(1000, Math.min(t1 - t0, full * 1.1 + 1000));
		var mid = (t0 + t1) / 2;
		var lo = st.meta.t0 - full * 0.05, hi = st.meta.t1 + full * 0.05;
		t0 = mid - span / 2;
		t1 = mid + span / 2;
		if (t0 < lo) { t1 += lo - t0; t0 = lo; }
		if (t1 > hi) { t0 -= t1 - hi; t1 = hi; }
		st.t0 = t0;
		st.t1 = t1;
		draw();
		request();
	}
	function zoom(f, at) {
		var t = at === undefined ? (st.t0 + st.t1) / 2 : at;
		setView(t - (t - st.t0) * f, t + (st.t1 - t) * f);
	}
	function pan(dt) { setView(st.t0 + dt, st.t1 + dt); }
	function showAll() {
		var full = st.meta.t1 - st.meta.t0 || 1000;
		setView(st.meta.t0 - full * 0.01, st.meta.t1 + full * 0.01);
	}
	st.setView = setView;
	st.zoom = zoom;
	st.pan = pan;

	canvas.addEventListener("wheel", function (e) {
		e.preventDefault();
		var span = st.t1 - st.t0;
		if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
			pan((e.shiftKey ? e.deltaY : e.deltaX) / width() * span);
		} else {
			zoom(Math.pow(1.0015, e.deltaY), tOf(e.offsetX));
		}
	}, { passive: false });
	canvas.addEventListener("mousedown", function (e) {
		st.drag = { x: e.clientX, t0: st.t0, t1: st.t1, moved: false };
	});
	window.addEventListener("mousemove", function (e) {
		if (st.drag) {
			var dx = e.clientX - st.drag.x;
			if (Math.abs(dx) > 3) st.drag.moved = true;
			if (st.drag.moved) {
				var dt = -dx / width() * (st.drag.t1 - st.drag.t0);
				setView(st.drag.t0 + dt, st.drag.t1 + dt);
			}
			return;
		}
		hover(e);
	});
	window.addEventListener("mouseup", function (e) {
		var d = st.drag;
		st.drag = null;
		if (d && !d.moved && e.target === canvas) click(e);
	});
	canvas.addEventListener("keydown", function (e) {
		var span = st.t1 - st.t0;
		if (e.key === "w" || e.key === "W") zoom(0.7);
		else if (e.key === "s" || e.key === "S") zoom(1 / 0.7);
		else if (e.key === "a" || e.key === "A") pan(-span * 0.2);
		else if (e.key === "d" || e.key === "D") pan(span * 0.2);
		else if (e.key === "0") showAll();
		else return;
		e.preventDefault();
	});
	scroller.addEventListener("scroll", function () { draw(); request(); });
	window.addEventListener("resize", function () { draw(); request(); });
	resetB.addEventListener("click", showAll);

	/* the item under a point of the canvas: [lane, item offset] or null */
	function itemAt(x, y) {
		var ln = Math.floor((y + scroller.scrollTop - AXIS_H) / LANE_H);
		if (x < LABEL_W || y < AXIS_H || ln < 0 || !st.meta || ln >= st.meta.lanes.length || !st.data) return null;
		var items = st.data.lanes[ln];
		if (!items) return null;
		var t = tOf(x), slack = (st.t1 - st.t0) / width() * 2, best = null, bd = Infinity;
		for (var i = 0; i < items.length; i += 5) {
			var d = t < items[i] ? items[i] - t : t > items[i + 1] ? t - items[i + 1] : 0;
			if (d < bd) { bd = d; best = i; }
		}
		return best !== null && bd <= slack ? { lane: ln, items: items, i: best } : null;
	}

	function hover(e) {
		if (e.target !== canvas) { tip.hidden = true; return; }
		var r = canvas.getBoundingClientRect();
		var h = itemAt(e.clientX - r.left, e.clientY - r.top);
		if (!h) { tip.hidden = true; return; }
		var it = h.items, i = h.i;
		tip.textContent = stateName(it[i + 2]) + " · " + fmtDur(it[i + 1] - it[i]) +
			(it[i + 3] > 1 ? " · " + it[i + 3] + " slices (click to zoom)" : "");
		tip.style.left = (e.clientX + 12) + "px";
		tip.style.top = (e.clientY + 12) + "px";
		tip.hidden = false;
	}

	function click(e) {
		var r = canvas.getBoundingClientRect();
		var h = itemAt(e.clientX - r.left, e.clientY - r.top);
		if (!h) return;
		var it = h.items, i = h.i;
		if (it[i + 4] < 0) {   /* an aggregate: zoom into it */
			var pad = (it[i + 1] - it[i]) * 0.1;
			setView(it[i] - pad, it[i + 1] + pad);
			return;
		}
		select(h.lane, it[i + 4]);
	}

	function select(lane, idx) {
		return fetch(BASE + "data/timeline/event?lane=" + lane + "&idx=" + idx).then(function (r) {
			return r.text().then(function (t) {
				if (!r.ok) throw new Error(t.trim() || r.statusText);
				return JSON.parse(t);
			});
		}).then(function (d) {
			st.detail = d;
			st.selected = { lane: lane, idx: idx };
			showDetail(d);
			draw();
		}).catch(function (e) { showError("event: " + e.message); });
	}
	st.select = select;

	function row(dl, k, v) {
		dl.appendChild(el("dt", {}, k));
		var dd = el("dd", {}, v);
		dl.appendChild(dd);
		return dd;
	}

	function showDetail(d) {
		side.textContent = "";
		var l = st.meta.lanes[d.lane];
		var ev = d.event || {}, args = ev.args || {};
		side.appendChild(el("h2", { id: "tl-detail-title" }, d.name + " · " + fmtDur(d.t1 - d.t0)));
		var dl = el("dl", { id: "tl-detail" });
		row(dl, "thread", (l.name || "thread") + " " + l.tid);
		row(dl, "state", d.state === 0 ? "running" : d.state === 1 ? "runnable (ready, waiting for a CPU)" : "blocked");
		if (args.reason) row(dl, "reason", args.reason).id = "tl-reason";
		row(dl, "start", fmtDur(d.t0 - st.meta.t0));
		row(dl, "duration", fmtDur(d.t1 - d.t0)).id = "tl-duration";
		if (d.wait.t1 !== d.t1 || d.wait.t0 !== d.t0) row(dl, "whole wait", fmtDur(d.wait.t1 - d.wait.t0));
		if (args.runnable_us) row(dl, "runnable", fmtDur(args.runnable_us * 1000));
		if (args.object) row(dl, "object", args.object);
		if (d.waker) {
			var wl = st.meta.lanes[d.waker.lane];
			var dd = row(dl, "woken by", (wl.name || "thread") + " " + d.waker.tid + " at " + fmtDur(d.waker.t - st.meta.t0));
			dd.id = "tl-waker";
			var go = el("button", { type: "button", id: "tl-goto-waker" }, "show");
			go.addEventListener("click", function () {
				var span = st.t1 - st.t0;
				setView(d.waker.t - span / 2, d.waker.t + span / 2);
			});
			dd.appendChild(go);
		} else if (d.state >= 2) {
			row(dl, "woken by", args.waker_tid ? "thread " + args.waker_tid : "no waker recorded").id = "tl-waker";
		}
		side.appendChild(dl);
		var zb = el("button", { type: "button", id: "tl-zoom-sel" }, "Zoom to it");
		zb.addEventListener("click", function () {
			var pad = (d.wait.t1 - d.wait.t0) * 0.2 + 1000;
			setView(d.wait.t0 - pad, d.wait.t1 + pad);
		});
		side.appendChild(zb);
		if (args.stack && args.stack.length) {
			side.appendChild(el("h3", {}, "Stack"));
			var ol = el("ol", { id: "tl-stack", class: "tl-stack" });
			args.stack.forEach(function (f) { ol.appendChild(el("li", {}, f)); });
			side.appendChild(ol);
		}
	}

	function runSearch(q) {
		if (!q) return;
		fetch(BASE + "data/timeline/search?q=" + encodeURIComponent(q)).then(function (r) {
			return r.text().then(function (t) {
				if (!r.ok) throw new Error(t.trim() || r.statusText);
				return JSON.parse(t);
			});
		}).then(function (res) {
			side.textContent = "";
			side.appendChild(el("h2", {}, res.matches.length + (res.more ? "+" : "") + " matches for “" + res.q + "”"));
			var ul = el("ul", { id: "tl-results", class: "tl-results" });
			res.matches.forEach(function (m) {
				var l = st.meta.lanes[m.lane];
				var li = el("li", {});
				var a = el("a", { href: "#" }, stateName(m.state) + " · " + fmtDur(m.t1 - m.t0) + " · " +
					(l.name || "thread") + " " + l.tid + " at " + fmtDur(m.t0 - st.meta.t0));
				a.addEventListener("click", function (e) {
					e.preventDefault();
					var pad = (m.t1 - m.t0) * 0.3 + 1000;
					setView(m.t0 - pad, m.t1 + pad);
					select(m.lane, m.idx);
				});
				li.appendChild(a);
				ul.appendChild(li);
			});
			side.appendChild(ul);
		}).catch(function (e) { showError("search: " + e.message); });
	}
	search.addEventListener("keydown", function (e) {
		if (e.key === "Enter") runSearch(search.value);
	});

	function buildLegend() {
		st.meta.states.forEach(function (n, k) {
			var s = el("span", { class: "tl-key" });
			var sw = el("i", {});
			sw.style.background = colorOf(k);
			s.appendChild(sw);
			s.appendChild(document.createTextNode(k >= 2 ? "blocked: " + n : n));
			legend.appendChild(s);
		});
		legend.appendChild(el("span", { class: "tl-hint" },
			"wheel: zoom · drag or shift+wheel: pan · W/S/A/D · click a wait for its stack and waker"));
	}

	var theme = localStorage.getItem("cprof-theme") ||
		(window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
	document.documentElement.setAttribute("data-theme", new URLSearchParams(location.search).get("theme") || theme);

	fetch(BASE + "data/timeline/meta").then(function (r) {
		return r.text().then(function (t) {
			if (!r.ok) throw new Error(t.trim() || r.statusText);
			return JSON.parse(t);
		});
	}).then(function (m) {
		st.meta = m;
		document.title = "cprof timeline";
		buildLegend();
		var full = m.t1 - m.t0 || 1000;
		var q = new URLSearchParams(location.search);
		var a = Number(q.get("t0")), b = Number(q.get("t1"));
		if (q.get("t0") && q.get("t1") && b > a) setView(a, b);
		else setView(m.t0 - full * 0.01, m.t1 + full * 0.01);
	}).catch(function (e) { showError("timeline: " + e.message); });
})();
