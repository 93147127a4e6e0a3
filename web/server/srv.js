/*
 * srv.js - the page of `cprof server` (srv.html): a fleet's profiles over
 * time, a window's flame graph, two windows or two label sets compared,
 * the scrape targets and the rule snapshots.
 *
 * Pages: / (explore), /targets, /snapshots; one script builds each from
 * the query API (src/server/query_http.c).  State lives in the URL's
 * query, so a link reproduces the view:
 *   type   profile kind (cpu, heap, ...)      st    sample type ("" default)
 *   q      label selector, Prometheus syntax   from, until  range (now-1h, now, Unix s)
 *   wf, wu the selected window (Unix s)        refresh  seconds, "" off
 *   cmp    "" | time (two windows) | labels (two label sets)
 *   bf, bu the base window (cmp=time)         bq    the base selector (cmp=labels)
 *   dm     share | absolute (the diff's colour) stack  1: the chart stacked
 *   metric the runtime metric of the second chart   theme  light | dark
 * Changing a control rewrites the URL (history.replaceState for a drag,
 * pushState otherwise) and reloads only what depends on it.
 *
 * Nothing here loads a whole range: the chart asks for at most ~240
 * points of the ten largest series (limit=10, the rest summed by the
 * server into one), the flame graph for a tree pruned to the view's width
 * (w=, the server drops boxes under a quarter pixel).  The flame graph is
 * web/flamegraph.js, the CLI's component; the top table is computed from
 * the same tree.  The page marks body[data-ready=1] once its first view
 * is drawn, and #flame[data-state] ready|empty|error after each load
 * (tests and bench/server_ui.sh wait on them).
 */
(function () {
	"use strict";

	var P = new URLSearchParams(location.search);
	var PAGE = location.pathname.replace(/\/+$/, "") || "/";
	var main = document.getElementById("main");
	var KNOWN_ST = {
		cpu: ["samples", "cpu"], heap: ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
		allocs: ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
		mutex: ["contentions", "delay"], block: ["contentions", "delay"], goroutine: ["goroutine"],
		threadcreate: ["threadcreate"], wall: ["samples", "wall"]
	};
	/* the sample type a kind's flame graph draws when nothing says
	 * otherwise (pprof's rule: the last type; heap and allocs differ by
	 * producer): the chart asks for it at once instead of after the
	 * flame graph's answer, and again only when the answer differs */
	var GUESS_ST = { cpu: "cpu", mutex: "delay", block: "delay", wall: "wall" };
	var GAUGE = { heap: 1, goroutine: 1, threadcreate: 1, threads: 1 };
	var RANGES = [["now-15m", "15 min"], ["now-1h", "1 hour"], ["now-3h", "3 hours"], ["now-6h", "6 hours"],
		["now-12h", "12 hours"], ["now-24h", "24 hours"],
		["now-7d", "7 days"], ["now-30d", "30 days"]];
	var METRICS = [["process_threads", "threads", "count"], ["cprof_heap_inuse_bytes", "heap in use", "bytes"],
		["process_resident_memory_bytes", "RSS", "bytes"], ["rate:process_cpu_seconds_total", "CPU (cores)", "cores"]];
	var PALETTE = ["#2d7dd2", "#d2452d", "#2e9d4c", "#b26bd6", "#e0a100", "#1aa6a6", "#d64f95", "#7a8b2e",
		"#8c6d46", "#5a6acf", "#999"];

	/* ---- small helpers ---- */
	function $(tag, attrs, text) {
		var e = document.createElement(tag);
		for (var k in attrs || {}) {
			if (attrs[k] === null || attrs[k] === undefined) continue;
			e.setAttribute(k, attrs[k]);
		}
		if (text !== undefined) e.textContent = text;
		return e;
	}
	function get(k, d) { var v = P.get(k); return v === null || v === "" ? d : v; }
	function setParams(ch, replace) {
		for (var k in ch) {
			if (ch[k] === null || ch[k] === "" || ch[k] === undefined) P.delete(k);
			else P.set(k, ch[k]);
		}
		var s = P.toString();
		var url = location.pathname + (s ? "?" + s : "");
		if (replace) history.replaceState(null, "", url);
		else history.pushState(null, "", url);
	}
	function esc(s) { return s.replace(/\\/g, "\\\\").replace(/"/g, "\\\""); }
	function showError(msg) {
		var e = document.getElementById("errors");
		e.hidden = !msg;
		e.textContent = msg || "";
	}
	/* GET an API path: the parsed JSON, or an Error with the server's words */
	function api(path, params) {
		var q = new URLSearchParams();
		for (var k in params || {}) if (params[k] !== undefined && params[k] !== null && params[k] !== "") q.set(k, params[k]);
		var s = q.toString();
		return fetch(path + (s ? "?" + s : ""), { cache: "no-store" }).then(function (r) {
			return r.text().then(function (t) {
				var doc = null;
				try { doc = JSON.parse(t); } catch (e) { /* not JSON */ }
				if (!r.ok) {
					var err = new Error(doc && doc.error ? doc.error : "the server answered " + r.status + " " + r.statusText);
					err.status = r.status;
					throw err;
				}
				if (!doc) throw new Error("the server's answer to " + path + " is not JSON");
				return doc;
			});
		}, function () {
			throw new Error("cannot reach the server (" + path + "): is cprof server still running?");
		});
	}
	/* the analysis views' prefix of a window (src/server/ui.c):
	 * /analysis/KIND/FROM/UNTIL/SELECTOR-IN-HEX/ */
	function analysisBase(kind, from, until, sel) {
		var b = unescape(encodeURIComponent(sel || "")), h = "";
		for (var i = 0; i < b.length; i++) h += (b.charCodeAt(i) < 16 ? "0" : "") + b.charCodeAt(i).toString(16);
		return "/analysis/" + encodeURIComponent(kind) + "/" + from + "/" + until + "/" + (h || "-") + "/";
	}
	function qs(params) {
		var q = new URLSearchParams();
		for (var k in params) if (params[k] !== undefined && params[k] !== null && params[k] !== "") q.set(k, params[k]);
		return q.toString();
	}

	/* "now-1h", "now", Unix seconds or RFC 3339 -> Unix seconds */
	function parseTime(s, now) {
		if (!s) return now;
		var m = /^now(?:-(\d+(?:\.\d+)?)(s|m|h|d|w))?$/.exec(s);
		if (m) {
			if (!m[1]) return now;
			var mul = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
			return now - parseFloat(m[1]) * mul;
		}
		if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
		var t = Date.parse(s);
		return isNaN(t) ? now : t / 1000;
	}
	function fmtTime(t, span) {
		var d = new Date(t * 1000), p = function (n) { return (n < 10 ? "0" : "") + n; };
		var hm = p(d.getHours()) + ":" + p(d.getMinutes());
		if (span !== undefined && span < 600) hm += ":" + p(d.getSeconds());
		if (span !== undefined && span < 86400 * 1.5) return hm;
		return (d.getMonth() + 1) + "/" + d.getDate() + " " + hm;
	}
	function fmtFull(t) {
		var d = new Date(t * 1000), p = function (n) { return (n < 10 ? "0" : "") + n; };
		return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" +
			p(d.getMinutes()) + ":" + p(d.getSeconds());
	}
	function fmtDur(s) {
		if (s >= 86400 * 2) return (s / 86400).toFixed(1).replace(/\.0$/, "") + " d";
		if (s >= 7200) return (s / 3600).toFixed(1).replace(/\.0$/, "") + " h";
		if (s >= 120) return Math.round(s / 60) + " min";
		return Math.round(s) + " s";
	}
	function fmtAge(t) {
		var s = Date.now() / 1000 - t;
		return s < 0 ? "just now" : fmtDur(s) + " ago";
	}
	function toLocalInput(t) {
		var d = new Date(t * 1000 - new Date(t * 1000).getTimezoneOffset() * 60000);
		return d.toISOString().slice(0, 16);
	}
	function fmtNum(v) {
		var a = Math.abs(v);
		if (a >= 1e9) return (v / 1e9).toFixed(2).replace(/\.?0+$/, "") + "G";
		if (a >= 1e6) return (v / 1e6).toFixed(2).replace(/\.?0+$/, "") + "M";
		if (a >= 1e4) return (v / 1e3).toFixed(1).replace(/\.?0+$/, "") + "k";
		if (a >= 100) return v.toFixed(0);
		if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, "");
		return v.toPrecision(2);
	}
	/* a chart value in the sample type's unit, per second for counters */
	function fmtUnit(v, unit, rate) {
		var u = (unit || "").toLowerCase();
		if (u === "nanoseconds" && rate) return fmtNum(v / 1e9) + " s/s";
		if (u === "cores") return fmtNum(v) + (Math.abs(v) < 1e4 ? " cores" : "");
		if (u === "bytes") return cprofFlameGraph.formatValue(Math.round(v), "bytes") + (rate ? "/s" : "");
		if (u === "nanoseconds") return cprofFlameGraph.formatValue(Math.round(v), "nanoseconds");
		return fmtNum(v) + (rate ? "/s" : "");
	}
	function labelsText(l) {
		var ks = Object.keys(l || {});
		if (!ks.length) return "{}";
		if (l.__other__) return l.__other__;
		return "{" + ks.map(function (k) { return k + "=\"" + l[k] + "\""; }).join(", ") + "}";
	}

	/* ---- theme ---- */
	var themeBtn = document.getElementById("theme");
	function applyTheme(t) {
		document.documentElement.setAttribute("data-theme", t);
		themeBtn.textContent = t === "dark" ? "Light" : "Dark";
		themeBtn.setAttribute("aria-label", "switch to the " + (t === "dark" ? "light" : "dark") + " theme");
	}
	var theme = get("theme") || (window.localStorage && localStorage.getItem("cprof-srv-theme")) ||
		(window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
	applyTheme(theme);
	themeBtn.addEventListener("click", function () {
		theme = theme === "dark" ? "light" : "dark";
		try { localStorage.setItem("cprof-srv-theme", theme); } catch (e) { /* private mode */ }
		setParams({ theme: theme }, true);
		applyTheme(theme);
		redrawAll();
	});
	function cssVar(n) { return getComputedStyle(document.documentElement).getPropertyValue(n).trim(); }

	/* ---- header ---- */
	["explore", "targets", "snapshots"].forEach(function (n) {
		var a = document.getElementById("nav-" + n);
		var path = n === "explore" ? "/" : "/" + n;
		/* keep the selection and theme across pages */
		var keep = new URLSearchParams();
		["theme", "type", "q", "from", "until"].forEach(function (k) { if (P.get(k)) keep.set(k, P.get(k)); });
		var s = keep.toString();
		a.href = path + (s ? "?" + s : "");
		if (path === PAGE) a.setAttribute("aria-current", "page");
	});
	var refreshSel = document.getElementById("refresh");
	refreshSel.value = get("refresh", "");
	if (refreshSel.value !== get("refresh", "")) refreshSel.value = "";
	var refreshTimer = null;
	function armRefresh(fn) {
		clearInterval(refreshTimer);
		var s = parseInt(refreshSel.value, 10);
		if (s > 0) refreshTimer = setInterval(fn, s * 1000);
	}

	/* the first view is drawn: ms since the navigation started (bench) */
	function ready() {
		document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
		document.body.setAttribute("data-ready", "1");
	}

	/* ---- empty state: nothing stored yet ---- */
	function emptyState(into, what) {
		var o = location.origin, box = $("div", { class: "sv-empty", id: "empty" });
		box.appendChild($("h2", null, what || "No profiles yet"));
		box.appendChild($("p", null, "Send a first profile to this server, or let it scrape a program:"));
		box.appendChild($("p", null, "Push one (folded stacks, pprof or a cprof profile.proto) with curl:"));
		box.appendChild($("pre", { class: "sv-mono" }, "printf 'main;work;compute 42\\nmain;idle 8\\n' | \\\n  curl --data-binary @- '" + o +
			"/ingest?name=myapp{env=dev}&format=folded'"));
		box.appendChild($("p", null, "Or scrape a program that runs with the cprof runtime (LD_PRELOAD=libcprof.so CPROF_HTTP=127.0.0.1:6060):"));
		box.appendChild($("pre", { class: "sv-mono" }, "cprof server -scrape=http://127.0.0.1:6060\n\n# or in a -config file:\nscrape_configs:\n  - job_name: myapp\n    scrape_interval: 15s\n    static_configs:\n      - targets: ['127.0.0.1:6060']"));
		box.appendChild($("p", null, "This page shows the first profile as soon as it arrives."));
		into.appendChild(box);
	}

	/* =====================================================================
	 * Explore
	 * ===================================================================== */
	function explore() {
		var S = {
			kind: get("type", ""), st: get("st", ""), q: get("q", ""), from: get("from", "now-1h"),
			until: get("until", "now"), cmp: get("cmp", ""), dm: get("dm", "share"), stack: get("stack", "") === "1",
			metric: get("metric", METRICS[0][0])
		};
		var types = [], unit = "", chartData = null, metricData = null, snaps = [], fg = null, flameSeq = 0;
		var dragTarget = "b";  /* in cmp=time: which window a drag sets */
		var bar = $("div", { class: "sv-bar", id: "selector" });
		main.appendChild(bar);

		/* kind and sample type */
		var kindSel = $("select", { id: "kind", "aria-label": "profile kind" });
		var stSel = $("select", { id: "stype", "aria-label": "sample type" });
		bar.appendChild(kindSel);
		bar.appendChild(stSel);
		function fillSt() {
			stSel.textContent = "";
			stSel.appendChild($("option", { value: "" }, "default type"));
			(KNOWN_ST[S.kind] || []).forEach(function (t) { stSel.appendChild($("option", { value: t }, t)); });
			if (S.st && !(KNOWN_ST[S.kind] || []).includes(S.st)) stSel.appendChild($("option", { value: S.st }, S.st));
			stSel.value = S.st;
		}
		kindSel.addEventListener("change", function () {
			S.kind = kindSel.value;
			S.st = chartSt = "";
			chartGuess = false;
			fillSt();
			setParams({ type: S.kind, st: null });
			loadAll();
		});
		stSel.addEventListener("change", function () {
			S.st = stSel.value;
			setParams({ st: S.st });
			loadAll();
		});

		/* label chips: the selector's matchers, and a label=value adder with completion */
		var chips = $("div", { class: "sv-chips", id: "chips" });
		bar.appendChild(chips);
		var addL = $("input", { id: "addlabel", list: "labels-dl", placeholder: "+ label", "aria-label": "add a label matcher: name" });
		var addV = $("input", { id: "addvalue", list: "values-dl", placeholder: "value", "aria-label": "add a label matcher: value" });
		var dlL = $("datalist", { id: "labels-dl" }), dlV = $("datalist", { id: "values-dl" });
		bar.appendChild(addL);
		bar.appendChild(addV);
		bar.appendChild(dlL);
		bar.appendChild(dlV);
		var qIn = $("input", { id: "query", type: "text", spellcheck: "false", placeholder: "{label=\"value\", other=~\"re.*\"}",
			"aria-label": "label selector (Prometheus syntax)", title: "label selector, Prometheus syntax; Enter applies" });
		bar.appendChild(qIn);
		qIn.value = S.q;

		/* matchers of a simple selector {a="b", c=~"d"}; null when not parseable here */
		function matchers(q) {
			var s = q.trim();
			if (!s) return [];
			if (s[0] !== "{" || s[s.length - 1] !== "}") return null;
			s = s.slice(1, -1);
			var out = [], re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y, m;
			while (re.lastIndex < s.length && (m = re.exec(s))) out.push({ n: m[1], op: m[2], v: m[3] });
			if (re.lastIndex < s.length && s.trim()) return null;
			return out;
		}
		function unparse(ms) {
			return ms.length ? "{" + ms.map(function (m) { return m.n + m.op + "\"" + m.v + "\""; }).join(", ") + "}" : "";
		}
		function drawChips() {
			chips.textContent = "";
			var ms = matchers(S.q) || [];
			ms.forEach(function (m, i) {
				var c = $("span", { class: "sv-chip", title: m.n + m.op + "\"" + m.v + "\"" }, m.n + m.op + m.v);
				var x = $("button", { type: "button", "aria-label": "remove " + m.n + m.op + m.v }, "\u00d7");
				x.addEventListener("click", function () {
					var cur = matchers(S.q) || [];
					cur.splice(i, 1);
					setQuery(unparse(cur));
				});
				c.appendChild(x);
				chips.appendChild(c);
			});
		}
		function setQuery(q) {
			S.q = q;
			qIn.value = q;
			qIn.classList.remove("bad");
			setParams({ q: q });
			drawChips();
			loadAll();
		}
		qIn.addEventListener("keydown", function (e) {
			if (e.key === "Enter") setQuery(qIn.value.trim());
		});
		var labelsLoaded = false;
		function loadLabels() {
			if (labelsLoaded) return;
			labelsLoaded = true;
			api("/api/v1/labels", range()).then(function (d) {
				dlL.textContent = "";
				d.labels.forEach(function (l) { dlL.appendChild($("option", { value: l })); });
			}, function (e) { showError("Label names: " + e.message); });
		}
		addL.addEventListener("focus", loadLabels);
		function loadValues() {
			var n = addL.value.trim();
			if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) return;
			api("/api/v1/label/" + encodeURIComponent(n) + "/values", range()).then(function (d) {
				dlV.textContent = "";
				d.values.slice(0, 500).forEach(function (v) { dlV.appendChild($("option", { value: v })); });
			}, function (e) { showError("Values of " + n + ": " + e.message); });
		}
		addL.addEventListener("change", loadValues);
		addV.addEventListener("focus", loadValues);
		function addMatcher() {
			var n = addL.value.trim(), v = addV.value;
			if (!n) return;
			if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) {
				showError("Label name \"" + n + "\": letters, digits and _ only, not starting with a digit.");
				return;
			}
			var ms = matchers(S.q);
			if (ms === null) {
				showError("The selector box holds an expression the chips cannot edit: change it there.");
				return;
			}
			ms = ms.filter(function (m) { return m.n !== n; });
			ms.push({ n: n, op: "=", v: esc(v) });
			addL.value = addV.value = "";
			setQuery(unparse(ms));
		}
		addV.addEventListener("keydown", function (e) { if (e.key === "Enter") addMatcher(); });
		addV.addEventListener("change", function () { if (addV.value) addMatcher(); });

		/* time range */
		var rangeSel = $("select", { id: "range", "aria-label": "time range" });
		RANGES.forEach(function (r) { rangeSel.appendChild($("option", { value: r[0] }, "Last " + r[1])); });
		rangeSel.appendChild($("option", { value: "abs" }, "Absolute\u2026"));
		bar.appendChild(rangeSel);
		var absBox = $("span", { class: "sv-abs", id: "absbox" });
		var absF = $("input", { type: "datetime-local", id: "from-abs", "aria-label": "from" });
		var absU = $("input", { type: "datetime-local", id: "until-abs", "aria-label": "until" });
		var absGo = $("button", { type: "button", id: "abs-apply" }, "Apply");
		absBox.appendChild(absF);
		absBox.appendChild(absU);
		absBox.appendChild(absGo);
		bar.appendChild(absBox);
		function syncRange() {
			var rel = S.until === "now" && RANGES.some(function (r) { return r[0] === S.from; });
			rangeSel.value = rel ? S.from : "abs";
			absBox.hidden = rel;
			var r = range();
			absF.value = toLocalInput(r.fromS);
			absU.value = toLocalInput(r.untilS);
		}
		rangeSel.addEventListener("change", function () {
			if (rangeSel.value === "abs") {
				absBox.hidden = false;
				return;
			}
			S.from = rangeSel.value;
			S.until = "now";
			setParams({ from: S.from, until: null, wf: null, wu: null, bf: null, bu: null });
			syncRange();
			loadAll();
		});
		absGo.addEventListener("click", function () {
			var f = Date.parse(absF.value) / 1000, u = Date.parse(absU.value) / 1000;
			if (isNaN(f) || isNaN(u)) { showError("Absolute range: give both dates."); return; }
			if (u <= f) { showError("Absolute range: the end must be after the start."); return; }
			S.from = String(Math.floor(f));
			S.until = String(Math.ceil(u));
			setParams({ from: S.from, until: S.until, wf: null, wu: null, bf: null, bu: null });
			syncRange();
			loadAll();
		});

		/* comparison */
		var cmpSel = $("select", { id: "compare", "aria-label": "comparison" });
		[["", "No comparison"], ["time", "Compare two windows"], ["labels", "Compare two label sets"]].forEach(function (c) {
			cmpSel.appendChild($("option", { value: c[0] }, c[1]));
		});
		cmpSel.value = S.cmp;
		cmpSel.addEventListener("change", function () {
			S.cmp = cmpSel.value;
			setParams({ cmp: S.cmp, bf: null, bu: null });
			layoutCompare();
			loadFlame();
			drawChart();
		});

		/* now and the range in Unix seconds; a relative range moves on refresh */
		var nowS = Date.now() / 1000;
		function range() {
			var f = parseTime(S.from, nowS), u = parseTime(S.until, nowS);
			return { fromS: f, untilS: u, from: String(Math.floor(f)), until: String(Math.ceil(u)) };
		}
		function win() {
			var r = range(), wf = parseFloat(get("wf", "")), wu = parseFloat(get("wu", ""));
			if (!(wf < wu)) return { f: r.fromS, u: r.untilS, whole: true };
			return { f: wf, u: wu, whole: false };
		}
		function baseWin() {
			var bf = parseFloat(get("bf", "")), bu = parseFloat(get("bu", ""));
			if (!(bf < bu)) return null;
			return { f: bf, u: bu };
		}

		/* ---- charts ---- */
		var charts = $("div", { class: "sv-charts" });
		main.appendChild(charts);
		var cp = $("section", { class: "sv-panel", "aria-label": "profile totals over time" });
		charts.appendChild(cp);
		var cpTitle = $("h2", null);
		var cpName = $("span", { id: "chart-title" }, "Total");
		var stackBtn = $("button", { type: "button", id: "stack", "aria-pressed": S.stack ? "true" : "false" }, "Stacked");
		cpTitle.appendChild(cpName);
		cpTitle.appendChild($("span", { class: "sv-grow" }));
		var dragHint = $("span", { class: "sv-small", id: "drag-hint" }, "drag on the chart to pick a window");
		cpTitle.appendChild(dragHint);
		var abBtns = $("span", { id: "ab" });
		var aBtn = $("button", { type: "button", id: "set-a", "aria-pressed": "false" }, "drag sets A (base)");
		var bBtn = $("button", { type: "button", id: "set-b", "aria-pressed": "true" }, "drag sets B");
		abBtns.appendChild(aBtn);
		abBtns.appendChild(bBtn);
		cpTitle.appendChild(abBtns);
		cpTitle.appendChild(stackBtn);
		cp.appendChild(cpTitle);
		var chartBox = $("div", { class: "sv-chart" });
		var canvas = $("canvas", { id: "chart", height: "190", "aria-label": "totals over time; drag to select a window" });
		chartBox.appendChild(canvas);
		cp.appendChild(chartBox);
		var legend = $("div", { class: "sv-legend", id: "legend" });
		cp.appendChild(legend);
		var snapBar = $("div", { class: "sv-snapbar", id: "snapbar", hidden: "" });
		cp.appendChild(snapBar);
		var tip = $("div", { class: "sv-tip" });
		document.body.appendChild(tip);
		aBtn.addEventListener("click", function () { dragTarget = "a"; aBtn.setAttribute("aria-pressed", "true"); bBtn.setAttribute("aria-pressed", "false"); });
		bBtn.addEventListener("click", function () { dragTarget = "b"; bBtn.setAttribute("aria-pressed", "true"); aBtn.setAttribute("aria-pressed", "false"); });
		stackBtn.addEventListener("click", function () {
			S.stack = !S.stack;
			stackBtn.setAttribute("aria-pressed", S.stack ? "true" : "false");
			setParams({ stack: S.stack ? "1" : null }, true);
			drawChart();
		});

		var mp = $("section", { class: "sv-panel", "aria-label": "runtime metrics" });
		charts.appendChild(mp);
		var mpTitle = $("h2", null);
		var metricSel = $("select", { id: "metric", "aria-label": "runtime metric" });
		METRICS.forEach(function (m) { metricSel.appendChild($("option", { value: m[0] }, m[1])); });
		metricSel.value = S.metric;
		if (metricSel.value !== S.metric) metricSel.value = S.metric = METRICS[0][0];
		mpTitle.appendChild($("span", null, "Runtime"));
		mpTitle.appendChild(metricSel);
		mp.appendChild(mpTitle);
		var mcanvas = $("canvas", { id: "mchart", height: "190", "aria-label": "runtime metric over time" });
		var mbox = $("div", { class: "sv-chart" });
		mbox.appendChild(mcanvas);
		mp.appendChild(mbox);
		var mnote = $("div", { class: "sv-legend", id: "mnote" });
		mp.appendChild(mnote);
		metricSel.addEventListener("change", function () {
			S.metric = metricSel.value;
			setParams({ metric: S.metric }, true);
			loadMetric();
		});

		/* the window bar: what the flame graph shows, and its actions */
		var wbar = $("div", { class: "sv-window", id: "windowbar" });
		main.appendChild(wbar);
		var winInfo = $("span", { id: "window-info" });
		var bqIn = $("input", { id: "basequery", type: "text", spellcheck: "false", class: "sv-mono", size: "28",
			placeholder: "base selector, e.g. {version=\"1\"}", "aria-label": "base label selector (A)" });
		bqIn.value = get("bq", "");
		var clearBtn = $("button", { type: "button", id: "clear-window" }, "Whole range");
		var openA = $("a", { id: "open-analysis", target: "_blank", rel: "noopener",
			title: "pprof's views (graph, top, source, peek, disassembly) of the window's merged profile" }, "Analysis UI");
		var dl = $("a", { id: "download", title: "the window's merged profile, for cprof or go tool pprof" }, "profile.proto");
		var sw = $("button", { type: "button", id: "sandwich", title: "the selected frame's callers and callees (the analysis UI's sandwich view)" }, "Sandwich");
		var dmBox = $("span", { id: "diffmode" });
		var dmShare = $("button", { type: "button", id: "dm-share" }, "share");
		var dmAbs = $("button", { type: "button", id: "dm-absolute" }, "absolute");
		dmBox.appendChild($("span", { class: "sv-small" }, "diff by "));
		dmBox.appendChild(dmShare);
		dmBox.appendChild(dmAbs);
		var totals = $("span", { id: "totals", class: "sv-small" });
		wbar.appendChild(cmpSel);
		wbar.appendChild(winInfo);
		wbar.appendChild(bqIn);
		wbar.appendChild(clearBtn);
		wbar.appendChild($("span", { class: "sv-grow" }));
		wbar.appendChild(totals);
		wbar.appendChild(dmBox);
		wbar.appendChild(sw);
		wbar.appendChild(openA);
		wbar.appendChild(dl);
		sw.addEventListener("click", function () {
			var name = fg && fg.selectedName();
			if (!name || name === "(other)") {
				showError("Sandwich: select a frame first (click it in the flame graph, or a row of the table).");
				return;
			}
			showError("");
			var p = flameParams().p;
			window.open(analysisBase(p.type, p.from, p.until, p.query) + "sandwich?" + qs({ fn: name, si: S.st }), "_blank", "noopener");
		});
		bqIn.addEventListener("keydown", function (e) {
			if (e.key === "Enter") {
				setParams({ bq: bqIn.value.trim() });
				loadFlame();
				loadSeries();
			}
		});
		clearBtn.addEventListener("click", function () {
			setParams({ wf: null, wu: null, bf: null, bu: null });
			drawChart();
			loadFlame();
		});
		function setDm(m) {
			S.dm = m;
			dmShare.setAttribute("aria-pressed", m === "share" ? "true" : "false");
			dmAbs.setAttribute("aria-pressed", m === "absolute" ? "true" : "false");
			if (fg && fg.diff) fg.setDiffMode(m);
		}
		dmShare.addEventListener("click", function () { setDm("share"); setParams({ dm: null }, true); });
		dmAbs.addEventListener("click", function () { setDm("absolute"); setParams({ dm: "absolute" }, true); });
		setDm(S.dm);

		/* flame graph and top table */
		var split = $("div", { class: "sv-split" });
		main.appendChild(split);
		var flameP = $("section", { class: "sv-panel", "aria-label": "flame graph" });
		var flame = $("div", { id: "flame", "data-state": "loading" });
		flameP.appendChild(flame);
		split.appendChild(flameP);
		var topP = $("section", { class: "sv-panel sv-top", id: "toptable", "aria-label": "top functions" });
		split.appendChild(topP);

		function layoutCompare() {
			var c = S.cmp;
			abBtns.hidden = c !== "time";
			bqIn.hidden = c !== "labels";
			dmBox.hidden = !c;
			dragHint.textContent = c === "time" ? "drag A (the base), then B, on the chart" : "drag on the chart to pick a window";
			if (c === "time" && !baseWin()) {
				dragTarget = "a";
				aBtn.setAttribute("aria-pressed", "true");
				bBtn.setAttribute("aria-pressed", "false");
			}
		}

		/* ---- drawing the charts ---- */
		function sizeCanvas(cv) {
			var W = cv.parentNode.clientWidth || 600, H = parseInt(cv.getAttribute("height"), 10);
			var dpr = window.devicePixelRatio || 1;
			cv.width = Math.round(W * dpr);
			cv.height = Math.round(H * dpr);
			cv.style.height = H + "px";
			var g = cv.getContext("2d");
			g.setTransform(dpr, 0, 0, dpr, 0, 0);
			return { g: g, W: W, H: H };
		}
		var PADL = 62, PADR = 8, PADT = 12, PADB = 20;
		function xOf(t, r, W) { return PADL + (t - r.fromS) / (r.untilS - r.fromS) * (W - PADL - PADR); }
		function tOf(x, r, W) { return r.fromS + (x - PADL) / (W - PADL - PADR) * (r.untilS - r.fromS); }
		/* axes, grid and labels; returns the y scale */
		function axes(g, W, H, r, maxV, fmtY) {
			var fg_ = cssVar("--muted"), line = cssVar("--line");
			g.font = "11px system-ui, \"DejaVu Sans\", sans-serif";
			g.fillStyle = fg_;
			g.strokeStyle = line;
			g.lineWidth = 1;
			var top = maxV > 0 ? maxV * 1.08 : 1;
			for (var k = 0; k <= 3; k++) {
				var v = top * k / 3, y = H - PADB - (H - PADT - PADB) * k / 3;
				g.beginPath();
				g.moveTo(PADL, Math.round(y) + 0.5);
				g.lineTo(W - PADR, Math.round(y) + 0.5);
				g.stroke();
				g.textAlign = "right";
				g.textBaseline = "middle";
				g.fillText(fmtY(v), PADL - 4, y);
			}
			var span = r.untilS - r.fromS, n = Math.max(2, Math.floor((W - PADL) / 110));
			g.textAlign = "center";
			g.textBaseline = "top";
			for (k = 0; k <= n; k++) {
				var t = r.fromS + span * k / n;
				g.fillText(fmtTime(t, span), Math.min(Math.max(xOf(t, r, W), PADL + 20), W - 30), H - PADB + 4);
			}
			return function (v) { return H - PADB - (H - PADT - PADB) * v / top; };
		}
		function band(g, r, W, H, w, colour, label) {
			var x0 = xOf(w.f, r, W), x1 = xOf(w.u, r, W);
			x0 = Math.max(x0, PADL);
			x1 = Math.min(x1, W - PADR);
			if (x1 <= x0) x1 = x0 + 1;
			g.fillStyle = colour;
			g.fillRect(x0, PADT, x1 - x0, H - PADT - PADB);
			if (label) {
				g.fillStyle = cssVar("--fg");
				g.textAlign = "left";
				g.textBaseline = "top";
				g.font = "bold 11px system-ui, sans-serif";
				g.fillText(label, x0 + 3, PADT + 2);
			}
		}
		var chartDrag = null, snapHits = [];
		function drawChart() {
			var c = sizeCanvas(canvas), g = c.g, W = c.W, H = c.H, r = range();
			g.clearRect(0, 0, W, H);
			legend.textContent = "";
			var rate = !GAUGE[S.kind];
			/* the drawn type's unit (the flame graph's may be another's) */
			var cst = cpName.getAttribute("data-sample-type") || "";
			var cu = /^(cpu|wall|delay)$/.test(cst) ? "nanoseconds" : /_space$/.test(cst) ? "bytes"
				: cst ? "count" : unit;
			var fmtY = function (v) { return fmtUnit(v, cu, rate); };
			if (!chartData) {
				axes(g, W, H, r, 1, fmtY);
			} else {
				var ser = chartData.series, step = chartData.step;
				/* values per second for counters */
				var vals = ser.map(function (s) {
					return s.points.map(function (p) { return [p[0], rate ? p[1] / step : p[1]]; });
				});
				var maxV = 0;
				if (S.stack) {
					var sums = {};
					vals.forEach(function (ps) { ps.forEach(function (p) { sums[p[0]] = (sums[p[0]] || 0) + p[1]; }); });
					for (var t in sums) maxV = Math.max(maxV, sums[t]);
				} else {
					vals.forEach(function (ps) { ps.forEach(function (p) { maxV = Math.max(maxV, p[1]); }); });
				}
				var y = axes(g, W, H, r, maxV, fmtY), base = {};
				var nB = ser.filter(function (x) { return x.side !== "A"; }).length;
				vals.forEach(function (ps, i) {
					var side = ser[i].side || "";
					/* A's series take the palette's second half and dashes */
					var ci = side === "A" ? 5 + (i - nB) % 5 : side === "B" ? i % 5 : i % 10;
					var col = ser[i].labels.__other__ ? PALETTE[10] : PALETTE[ci];
					g.strokeStyle = col;
					g.lineWidth = 1.5;
					g.setLineDash(side === "A" ? [6, 3] : []);
					g.beginPath();
					var prevT = null;
					if (S.stack) {
						g.fillStyle = col + "55";
						ps.forEach(function (p) {
							var b0 = base[p[0]] || 0, x = xOf(p[0], r, W), w = Math.max(1, xOf(p[0] + step, r, W) - x);
							g.fillRect(x, y(b0 + p[1]), w, y(b0) - y(b0 + p[1]));
							g.fillStyle = col;
							g.fillRect(x, y(b0 + p[1]), w, 1.5);
							g.fillStyle = col + "55";
							base[p[0]] = b0 + p[1];
						});
					} else {
						/* a gap breaks the line: longer than three times the
						 * series' usual spacing (pushes may come less often
						 * than a step) */
						var gaps = [];
						for (var k = 1; k < ps.length; k++) gaps.push(ps[k][0] - ps[k - 1][0]);
						gaps.sort(function (a, b) { return a - b; });
						var maxGap = Math.max(step * 1.5, 3 * (gaps.length ? gaps[gaps.length >> 1] : step));
						var dots = ps.length < (W - PADL) / 8;
						ps.forEach(function (p) {
							var x = xOf(p[0] + step / 2, r, W);
							if (prevT === null || p[0] - prevT > maxGap) g.moveTo(x, y(p[1]));
							else g.lineTo(x, y(p[1]));
							prevT = p[0];
						});
						g.stroke();
						if (dots) {
							g.fillStyle = col;
							ps.forEach(function (p) { g.fillRect(xOf(p[0] + step / 2, r, W) - 1.5, y(p[1]) - 1.5, 3, 3); });
						}
					}
					g.setLineDash([]);
					var lg = $("span", { style: "--c:" + col, "data-side": side }, (side ? side + ": " : "") + labelsText(ser[i].labels));
					if (side === "A") lg.classList.add("sv-dashed");
					legend.appendChild(lg);
				});
				if (!ser.length) {
					g.fillStyle = cssVar("--muted");
					g.textAlign = "center";
					g.font = "13px system-ui, sans-serif";
					g.fillText("no " + (S.kind || "") + " profiles match in this range", W / 2, H / 2);
				}
			}
			/* the selected windows */
			var w = win(), bw = baseWin();
			if (S.cmp === "time") {
				if (bw) band(g, r, W, H, bw, cssVar("--sel"), "A");
				if (!w.whole) band(g, r, W, H, w, cssVar("--selb"), "B");
			} else if (!w.whole) {
				band(g, r, W, H, w, cssVar("--sel"));
			}
			if (chartDrag && chartDrag.x1 !== undefined) {
				g.fillStyle = cssVar(chartDrag.target === "a" || S.cmp !== "time" ? "--sel" : "--selb");
				g.fillRect(Math.min(chartDrag.x0, chartDrag.x1), PADT, Math.abs(chartDrag.x1 - chartDrag.x0), H - PADT - PADB);
			}
			/* rule snapshots: marks on the top edge */
			snapHits = [];
			g.fillStyle = "#e0a100";
			snaps.forEach(function (s) {
				if (s.time < r.fromS || s.time > r.untilS) return;
				var x = xOf(s.time, r, W);
				g.beginPath();
				g.moveTo(x - 6, 1);
				g.lineTo(x + 6, 1);
				g.lineTo(x, 11);
				g.closePath();
				g.fill();
				g.fillRect(x - 0.5, 11, 1, H - PADB - 11);
				snapHits.push({ x: x, s: s });
			});
			canvas.setAttribute("data-snapshots", String(snapHits.length));
			canvas.setAttribute("data-snap-x", snapHits.map(function (h) { return Math.round(h.x); }).join(","));
		}
		function drawMetric() {
			var c = sizeCanvas(mcanvas), g = c.g, W = c.W, H = c.H, r = range();
			g.clearRect(0, 0, W, H);
			var m = METRICS.filter(function (x) { return x[0] === S.metric; })[0] || METRICS[0];
			var fmtY = function (v) { return fmtUnit(v, m[2], false); };
			var savedL = PADL;
			var pts = [];
			if (metricData) metricData.series.forEach(function (s) { s.points.forEach(function (p) { pts.push(p); }); });
			var maxV = 0;
			(metricData ? metricData.series : []).forEach(function (s) { s.points.forEach(function (p) { maxV = Math.max(maxV, p[1]); }); });
			var y = axes(g, W, H, r, maxV, fmtY);
			(metricData ? metricData.series : []).forEach(function (s, i) {
				g.strokeStyle = PALETTE[i % 10];
				g.lineWidth = 1.5;
				g.beginPath();
				s.points.forEach(function (p, k) {
					var x = xOf(p[0], r, W);
					if (k) g.lineTo(x, y(p[1])); else g.moveTo(x, y(p[1]));
				});
				g.stroke();
			});
			var w = win();
			if (!w.whole) band(g, r, W, H, w, cssVar("--sel"));
			PADL = savedL;
			if (!pts.length) {
				g.fillStyle = cssVar("--muted");
				g.textAlign = "center";
				g.font = "12px system-ui, sans-serif";
				g.fillText("no runtime metrics for this selection", W / 2, H / 2 - 8);
				g.fillText("(scraped from the targets' /metrics)", W / 2, H / 2 + 8);
			}
		}

		/* drag to select; click a snapshot mark */
		function evX(e) { var b = canvas.getBoundingClientRect(); return { x: e.clientX - b.left, y: e.clientY - b.top, W: b.width }; }
		canvas.addEventListener("mousedown", function (e) {
			var p = evX(e);
			if (p.y < 14) {
				for (var i = 0; i < snapHits.length; i++) if (Math.abs(snapHits[i].x - p.x) <= 7) { pickSnap(snapHits[i].s); return; }
			}
			chartDrag = { x0: Math.max(p.x, PADL), target: dragTarget };
			e.preventDefault();
		});
		window.addEventListener("mousemove", function (e) {
			var p = evX(e);
			if (chartDrag) {
				chartDrag.x1 = Math.min(Math.max(p.x, PADL), p.W - PADR);
				drawChart();
				return;
			}
			if (e.target !== canvas || !chartData) { tip.style.display = "none"; return; }
			var r = range(), t = tOf(p.x, r, p.W), txt = fmtFull(t);
			for (var i = 0; i < snapHits.length; i++)
				if (p.y < 14 && Math.abs(snapHits[i].x - p.x) <= 7) txt = "snapshot: rule " + snapHits[i].s.rule + " at " + fmtFull(snapHits[i].s.time) + " (click)";
			tip.textContent = txt;
			tip.style.display = "block";
			tip.style.left = (e.clientX + 12) + "px";
			tip.style.top = (e.clientY + 12) + "px";
		});
		canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
		window.addEventListener("mouseup", function (e) {
			if (!chartDrag) return;
			var d = chartDrag, r = range(), W = canvas.getBoundingClientRect().width;
			chartDrag = null;
			if (d.x1 === undefined || Math.abs(d.x1 - d.x0) < 3) { drawChart(); return; }
			var f = Math.floor(tOf(Math.min(d.x0, d.x1), r, W)), u = Math.ceil(tOf(Math.max(d.x0, d.x1), r, W));
			/* on a wide chart a pixel is minutes: snap the window to the
			 * store's rollup windows (10 min from a 6 h range, 1 h from
			 * 3 days), which it merges without reading raw profiles */
			var span = r.untilS - r.fromS, snap = span >= 3 * 86400 ? 3600 : span >= 6 * 3600 ? 600 : 0;
			if (snap) {
				f = Math.floor(f / snap) * snap;
				u = Math.max(Math.ceil(u / snap) * snap, f + snap);
			}
			if (S.cmp === "time" && d.target === "a") {
				setParams({ bf: f, bu: u });
				dragTarget = "b";
				bBtn.setAttribute("aria-pressed", "true");
				aBtn.setAttribute("aria-pressed", "false");
			} else {
				setParams({ wf: f, wu: u });
			}
			drawChart();
			drawMetric();
			loadFlame();
		});

		function pickSnap(s) {
			snapBar.hidden = false;
			snapBar.textContent = "";
			snapBar.appendChild($("span", null, "Snapshot of rule " + s.rule + " (" + s.type + ") at " + fmtFull(s.time) + " " + labelsText(s.labels)));
			snapBar.appendChild($("a", { href: "/analysis/snapshot/" + s.id + "/flamegraph", id: "snap-open", target: "_blank", rel: "noopener" }, "Open"));
			snapBar.appendChild($("a", { href: s.url, id: "snap-download" }, "Download"));
			snapBar.setAttribute("data-id", String(s.id));
		}

		/* ---- loading ---- */
		var seriesSeq = 0, seriesDrawn = 0;
		/* the chart's sample type: the selector's, else the flame graph's
		 * once known (a store may mix profiles whose default types differ:
		 * folded pushes count samples, the runtime's CPU profiles
		 * nanoseconds; the chart then follows the flame graph's type) */
		var chartSt = "", chartGuess = false;   /* chartSt is GUESS_ST's, not confirmed by a flame graph */
		/* anyType: draw each profile's default type (the flame graph's type
		 * could not be had).  Without a chosen type, a kind that has
		 * several (cpu: samples and cpu nanoseconds) waits for the flame
		 * graph's type rather than sum counts and nanoseconds into one
		 * line; the title says which type is drawn. */
		function loadSeries(anyType) {
			if (!S.st && !chartSt && !anyType && GUESS_ST[S.kind]) {
				chartSt = GUESS_ST[S.kind];
				chartGuess = true;
			}
			var r = range(), my = ++seriesSeq, st = S.st || chartSt;
			var W = canvas.parentNode.clientWidth || 900;
			var step = Math.max(1, Math.ceil((r.untilS - r.fromS) / Math.min(240, Math.max(60, Math.floor(W / 4)))));
			cpName.textContent = (S.kind || "") + (st ? " \u00b7 " + st : "") + (GAUGE[S.kind] ? " (average)" : " per second");
			cpName.setAttribute("data-sample-type", st);
			stSel.options[0].textContent = chartSt && !S.st ? "default: " + chartSt : "default type";
			if (!st && !anyType && (KNOWN_ST[S.kind] || []).length > 1) return Promise.resolve();
			/* comparing two label sets: both sides' series, A's dashed
			 * (B is the bar's selector, A the base box's) */
			var bq = S.cmp === "labels" ? get("bq", "") : "";
			var one = function (query, side, limit) {
				return api("/api/v1/series", { type: S.kind, query: query, from: r.from, until: r.until,
					step: step + "s", sample_type: st, limit: limit }).then(function (d) {
					d.series.forEach(function (x) { x.side = side; });
					return d.series;
				});
			};
			var both = bq ? Promise.all([one(S.q, "B", 5), one(bq, "A", 5)]).then(function (ab) { return ab[0].concat(ab[1]); })
				: one(S.q, "", 10);
			return both.then(function (series) {
				/* an older answer is drawn until a newer one comes */
				if (my < seriesDrawn) return;
				seriesDrawn = my;
				chartData = { series: series, step: step };
				drawChart();
				if (!canvas.hasAttribute("data-drawn-ms"))
					canvas.setAttribute("data-drawn-ms", String(Math.round(performance.now())));
			}, function (e) {
				if (my !== seriesSeq) return;
				chartData = { series: [], step: step };
				drawChart();
				showError("Chart: " + e.message);
				if (/query/.test(e.message)) qIn.classList.add("bad");
			});
		}
		function loadMetric() {
			var r = range(), m = S.metric, rate = m.indexOf("rate:") === 0;
			var step = Math.max(15, Math.ceil((r.untilS - r.fromS) / 120));
			return api("/api/v1/series", { type: "metric", name: rate ? m.slice(5) : m, query: S.q, from: r.from,
				until: r.until, step: step + "s" }).then(function (d) {
				var ser = d.series;
				if (ser.length > 10) ser = ser.slice(0, 10);
				if (rate) ser = ser.map(function (s) {
					var out = [];
					for (var i = 1; i < s.points.length; i++) {
						var dt = s.points[i][0] - s.points[i - 1][0], dv = s.points[i][1] - s.points[i - 1][1];
						if (dt > 0 && dv >= 0) out.push([s.points[i][0], dv / dt]);
					}
					return { labels: s.labels, points: out };
				});
				metricData = { series: ser };
				mnote.textContent = d.series.length ? d.series.length + " series" + (d.series.length > 10 ? " (first 10 drawn)" : "") : "";
				drawMetric();
			}, function (e) {
				metricData = null;
				drawMetric();
				mnote.textContent = e.message;
			});
		}
		function loadSnaps() {
			var r = range();
			return api("/api/v1/snapshots", { from: r.from, until: r.until }).then(function (d) {
				snaps = d.snapshots;
				drawChart();
			}, function () { snaps = []; });
		}

		/* the window's (or the comparison's) flame graph, at the zoom the
		 * flame graph asked for: the server prunes at the zoomed node's
		 * width, so frames too narrow for the overview appear once their
		 * caller is zoomed into.  Another window, selector or type starts
		 * from the root again (a relative range that only moves on by
		 * auto-refresh keeps it). */
		var flameZoom = [], flameZoomKey = "";
		function flameParams() {
			var fp = flameParams1(), key = Object.assign({}, fp.p);
			delete key.w;
			if (win().whole) { delete key.from; delete key.until; }
			key = JSON.stringify(key) + "|" + S.from + "|" + S.until;
			if (key !== flameZoomKey) {
				flameZoomKey = key;
				flameZoom = [];
			}
			if (flameZoom.length) fp.p.zoom = flameZoom.join("\n");
			return fp;
		}
		function flameParams1() {
			var w = win(), W = flame.clientWidth || 800;
			var p = { type: S.kind, query: S.q, from: Math.floor(w.f), until: Math.ceil(w.u), sample_type: S.st,
				w: Math.round(W), format: "flame" };
			if (S.cmp === "time") {
				var bw = baseWin();
				if (!bw) return { needBase: true, p: p };
				p.base_from = Math.floor(bw.f);
				p.base_until = Math.ceil(bw.u);
				return { diff: true, p: p };
			}
			if (S.cmp === "labels") {
				var bq = get("bq", "");
				if (!bq) return { needBaseQuery: true, p: p };
				p.base_query = bq;
				return { diff: true, p: p };
			}
			return { p: p };
		}
		function describeWindow() {
			var w = win(), bw = baseWin(), r = range(), span = r.untilS - r.fromS;
			/* dates only when the range spans days: the bar fits 1280 px */
			var ft = function (t) { return span < 86400 * 1.5 ? fmtTime(t, 3600) : fmtTime(t, span); };
			winInfo.textContent = "";
			if (S.cmp === "time") {
				winInfo.appendChild($("span", { class: "sv-a" }, "A "));
				winInfo.appendChild(document.createTextNode(bw ? ft(bw.f) + "\u2013" + ft(bw.u) + " (" + fmtDur(bw.u - bw.f) + ")" : "not set"));
				winInfo.appendChild($("span", { class: "sv-b" }, " vs B "));
				winInfo.appendChild(document.createTextNode(ft(w.f) + "\u2013" + ft(w.u) + " (" + fmtDur(w.u - w.f) + ")"));
			} else if (S.cmp === "labels") {
				/* B is the bar's selector; A the box after this */
				winInfo.appendChild(document.createTextNode(ft(w.f) + "\u2013" + ft(w.u) + " "));
				winInfo.appendChild($("span", { class: "sv-b", title: "B: the selector of the bar above" }, "B"));
				winInfo.appendChild(document.createTextNode(" vs "));
				winInfo.appendChild($("span", { class: "sv-a" }, "A"));
			} else {
				winInfo.textContent = (w.whole ? "Whole range " : "Window ") + fmtFull(w.f) + " \u2013 " + fmtFull(w.u) + " (" + fmtDur(w.u - w.f) + ")";
			}
			winInfo.title = "from " + fmtFull(w.f) + " to " + fmtFull(w.u);
			clearBtn.hidden = w.whole && !bw;
		}
		function setLinks(fp) {
			var p = fp.p;
			openA.href = analysisBase(p.type, p.from, p.until, p.query) + "flamegraph" + (S.st ? "?" + qs({ si: S.st }) : "");
			dl.href = "/api/v1/profile?" + qs({ type: p.type, query: p.query, from: p.from, until: p.until });
			dl.setAttribute("download", "profile.pb.gz");
		}
		function loadFlame() {
			var my = ++flameSeq, fp = flameParams();
			describeWindow();
			setLinks(fp);
			totals.textContent = "";
			/* the chart waits for this answer's type (loadSeries): when
			 * there is none, it draws each profile's own */
			var noType = function () {
				if (S.st || (chartSt && !chartGuess)) return;
				chartSt = "";
				chartGuess = false;
				loadSeries(true);
			};
			if (fp.needBase || fp.needBaseQuery) {
				noType();
				flame.setAttribute("data-seq", String(my));
				flame.setAttribute("data-state", "empty");
				showFlameMsg(fp.needBase ? "Compare two windows: drag window A (the base) on the chart, then window B."
					: "Compare two label sets: type the base selector (A) in the box above and press Enter; B is the selector of the bar.");
				return Promise.resolve();
			}
			flame.setAttribute("data-state", "loading");
			flameMsg.textContent = "Loading the flame graph\u2026";
			flameMsg.className = "sv-loading";
			var t0 = performance.now();
			return api(fp.diff ? "/api/v1/diff" : "/api/v1/profile", fp.p).then(function (d) {
				if (my !== flameSeq) return;
				unit = d.unit;
				showFlame(d, fp);
				if (d.sampleType) chartGuess = false;
				if (!S.st && d.sampleType && chartSt !== d.sampleType) {
					chartSt = d.sampleType;
					loadSeries();
				} else if (!S.st && !d.sampleType) {
					noType();
				}
				drawChart();
				flame.setAttribute("data-ms", String(Math.round(performance.now() - t0)));
				flame.setAttribute("data-seq", String(my));
				flame.setAttribute("data-zoom", fp.p.zoom || "");
				flame.setAttribute("data-state", "ready");
			}, function (e) {
				if (my !== flameSeq) return;
				noType();
				flame.setAttribute("data-seq", String(my));
				if (e.status === 404) {
					showFlameMsg(e.message + ". Pick another window, widen the range or loosen the selector.");
					flame.setAttribute("data-state", "empty");
				} else {
					showFlameMsg("The flame graph could not be loaded: " + e.message);
					flame.setAttribute("data-state", "error");
				}
				topP.textContent = "";
			});
		}
		var flameMsg = $("div", { id: "flame-msg" });
		var fgBox = $("div", { id: "fg" });
		flame.appendChild(flameMsg);
		flame.appendChild(fgBox);
		function showFlameMsg(m) {
			flameMsg.textContent = m;
			flameMsg.className = "";
			fgBox.hidden = true;
			topP.textContent = "";
		}
		function showFlame(d, fp) {
			flameMsg.textContent = "";
			fgBox.hidden = false;
			d.title = (S.kind || "") + (fp.diff ? " diff (B vs A)" : "");
			if (!fg) fg = cprofFlameGraph.mount(fgBox, d, { diffMode: S.dm,
				onZoom: function (path) { flameZoom = path; loadFlame(); } });
			else fg.setData(d);
			if (fg.diff) fg.setDiffMode(S.dm);
			if (fp.diff) {
				var ch = d.baseTotal ? 100 * (d.total - d.baseTotal) / d.baseTotal : 0;
				totals.innerHTML = "";
				totals.appendChild($("span", { class: "sv-a" }, "A "));
				totals.appendChild(document.createTextNode(cprofFlameGraph.formatValue(d.baseTotal, d.unit) + "  "));
				totals.appendChild($("span", { class: "sv-b" }, "B "));
				totals.appendChild(document.createTextNode(cprofFlameGraph.formatValue(d.total, d.unit) +
					" (" + (ch >= 0 ? "+" : "") + ch.toFixed(1) + "%)"));
			}
			topTable(d, !!fp.diff);
		}

		/* top functions from the tree: flat = sum of self, cum = sum of the
		 * outermost occurrence's value on each path */
		var topSort = "flat";
		function topTable(d, diff) {
			var n = d.nodes.length / 4, names = d.names, stack = [], onPath = {}, rows = {};
			var after = d.after, before = d.before;
			function row(k) { return rows[k] || (rows[k] = { name: names[k], flat: 0, cum: 0, bcum: 0 }); }
			for (var i = 0; i < n; i++) {
				while (stack.length && stack[stack.length - 1].left === 0) {
					var top = stack.pop();
					onPath[top.name]--;
				}
				if (stack.length) stack[stack.length - 1].left--;
				var nm = d.nodes[4 * i], self = d.nodes[4 * i + 1], cum = after ? after[i] : d.nodes[4 * i + 2];
				if (i > 0 && names[nm] !== "(other)") {
					var rw = row(nm);
					rw.flat += self;
					if (!onPath[nm]) {
						rw.cum += cum;
						if (before) rw.bcum += before[i];
					}
				}
				onPath[nm] = (onPath[nm] || 0) + 1;
				stack.push({ name: nm, left: d.nodes[4 * i + 3] });
			}
			var list = Object.keys(rows).map(function (k) { return rows[k]; });
			var key = diff ? function (r) { return -Math.abs(r.cum / (d.total || 1) - r.bcum / (d.baseTotal || 1)); }
				: topSort === "cum" ? function (r) { return -r.cum; } : function (r) { return -r.flat; };
			list.sort(function (a, b) { return key(a) - key(b) || (a.name < b.name ? -1 : 1); });
			list = list.slice(0, 200);
			topP.textContent = "";
			var h = $("h2", null, diff ? "Largest changes (share of each total)" : "Top functions");
			topP.appendChild(h);
			var tb = $("table"), thead = $("tr");
			var cols = diff ? [["n", "function"], ["a", "A"], ["b", "B"], ["d", "\u0394 share"]]
				: [["n", "function"], ["flat", "flat"], ["flatp", "flat%"], ["cum", "cum"], ["cump", "cum%"]];
			cols.forEach(function (c) {
				var th = $("th", { class: c[0] === "n" ? "n" : null, title: c[0] === "flat" || c[0] === "cum" ? "sort by " + c[0] : null }, c[1]);
				if (!diff && (c[0] === "flat" || c[0] === "cum")) th.addEventListener("click", function () { topSort = c[0]; topTable(d, diff); });
				thead.appendChild(th);
			});
			tb.appendChild(thead);
			var T = d.total || 1, B = d.baseTotal || 1, fv = function (v) { return cprofFlameGraph.formatValue(Math.round(v), d.unit); };
			var pc = function (f) { return f >= 0.99995 ? "100%" : (100 * f).toFixed(2) + "%"; };
			list.forEach(function (r) {
				var tr = $("tr");
				tr.appendChild($("td", { class: "n", title: r.name }, r.name));
				if (diff) {
					tr.appendChild($("td", null, fv(r.bcum)));
					tr.appendChild($("td", null, fv(r.cum)));
					var dd = 100 * (r.cum / T - r.bcum / B);
					tr.appendChild($("td", { class: dd > 0.05 ? "sv-down" : dd < -0.05 ? "sv-up" : null }, (dd >= 0 ? "+" : "") + dd.toFixed(2)));
				} else {
					tr.appendChild($("td", null, fv(r.flat)));
					tr.appendChild($("td", null, pc(r.flat / T)));
					tr.appendChild($("td", null, fv(r.cum)));
					tr.appendChild($("td", null, pc(r.cum / T)));
				}
				tr.addEventListener("click", function () {
					var sel = tb.querySelector("tr.sel");
					if (sel) sel.classList.remove("sel");
					tr.classList.add("sel");
					var re = "^" + r.name.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&") + "$";
					fg.searchEl.value = re;
					fg.search(re);
					/* and select its widest occurrence (for Sandwich) */
					var best = -1;
					for (var i = 1; i < fg.t.n; i++)
						if (fg.nameOf(i) === r.name && (best < 0 || fg.t.cum[i] > fg.t.cum[best])) best = i;
					if (best > 0) {
						fg.selected = best;
						fg.draw();
					}
				});
				tb.appendChild(tr);
			});
			topP.appendChild(tb);
			if (!list.length) topP.appendChild($("p", { class: "sv-small" }, "no functions"));
		}

		function loadAll() {
			nowS = Date.now() / 1000;
			showError("");
			syncRange();
			var a = loadSeries(), b = loadFlame();
			loadMetric();
			loadSnaps();
			return Promise.all([a, b]);
		}
		function redraw() { drawChart(); drawMetric(); if (fg) fg.draw(); }
		redrawAllFn = redraw;
		var resizePending = false;
		window.addEventListener("resize", function () {
			if (resizePending) return;
			resizePending = true;
			requestAnimationFrame(function () { resizePending = false; drawChart(); drawMetric(); });
		});
		window.addEventListener("popstate", function () { location.reload(); });
		refreshSel.addEventListener("change", function () {
			setParams({ refresh: refreshSel.value }, true);
			armRefresh(refreshNow);
		});
		function refreshNow() {
			nowS = Date.now() / 1000;
			loadSeries();
			loadMetric();
			loadSnaps();
			/* a relative range with no window: the flame graph moves too */
			if (win().whole && S.until === "now" && !S.cmp) loadFlame();
		}

		/* start: the kinds, then everything */
		layoutCompare();
		drawChips();
		syncRange();
		drawChart();
		drawMetric();
		api("/api/v1/types").then(function (d) {
			types = d.types;
			if (!types.length) {
				main.textContent = "";
				emptyState(main);
				/* the first profile shows itself: look again every 3 s */
				var poll = setInterval(function () {
					api("/api/v1/types").then(function (d2) {
						if (d2.types.length) {
							clearInterval(poll);
							location.reload();
						}
					}, function () { /* said when it matters */ });
				}, 3000);
				ready();
				return;
			}
			if (!S.kind || types.indexOf(S.kind) < 0) {
				if (S.kind) showError("No " + S.kind + " profiles are stored; showing " + (types.indexOf("cpu") >= 0 ? "cpu" : types[0]) + ".");
				S.kind = types.indexOf("cpu") >= 0 ? "cpu" : types[0];
			}
			types.forEach(function (t) { kindSel.appendChild($("option", { value: t }, t)); });
			kindSel.value = S.kind;
			fillSt();
			armRefresh(refreshNow);
			loadAll().then(ready, ready);
		}, function (e) {
			showError("Cannot list the profile kinds: " + e.message);
			ready();
		});
	}
	var redrawAllFn = null;
	function redrawAll() { if (redrawAllFn) redrawAllFn(); }

	/* =====================================================================
	 * Targets
	 * ===================================================================== */
	function targets() {
		main.appendChild($("h1", { class: "sv-h1", style: "font-size:16px" }, "Scrape targets"));
		var box = $("div", { id: "targets" });
		main.appendChild(box);
		function load() {
			return api("/api/v1/targets").then(function (d) {
				box.textContent = "";
				if (!d.targets.length) {
					var e = $("div", { class: "sv-empty", id: "empty" });
					e.appendChild($("h2", null, "No scrape targets"));
					e.appendChild($("p", null, "This server scrapes nothing; it still takes pushes at " + location.origin + "/ingest. To scrape a program running with the cprof runtime (or a Go net/http/pprof endpoint), start the server with -scrape=URL or a -config file:"));
					e.appendChild($("pre", { class: "sv-mono" }, "cprof server -scrape=http://127.0.0.1:6060\n\nscrape_configs:\n  - job_name: myapp\n    scrape_interval: 15s\n    static_configs:\n      - targets: ['127.0.0.1:6060']\n        labels: {env: prod}"));
					box.appendChild(e);
					return;
				}
				var t = $("table", { class: "sv-list" }), h = $("tr");
				["Target", "Job", "Health", "Last scrape", "Duration", "Last error", "Series"].forEach(function (c) { h.appendChild($("th", null, c)); });
				t.appendChild(h);
				d.targets.forEach(function (x) {
					var tr = $("tr");
					tr.appendChild($("td", { class: "sv-mono" }, x.url));
					tr.appendChild($("td", null, x.job));
					tr.appendChild($("td", { class: "sv-" + x.state }, x.state === "unknown" ? "not scraped yet" : x.state));
					tr.appendChild($("td", { title: x.last_scrape ? fmtFull(x.last_scrape) : "" }, x.last_scrape ? fmtAge(x.last_scrape) : "\u2013"));
					tr.appendChild($("td", null, x.last_duration !== undefined ? (x.last_duration * 1000).toFixed(0) + " ms" : "\u2013"));
					tr.appendChild($("td", { class: x.last_error ? "sv-down" : null }, x.last_error || "none"));
					var td = $("td");
					var inst = (x.labels || {}).instance;
					var sel = inst ? "{instance=\"" + esc(inst) + "\"}" : "{job=\"" + esc(x.job) + "\"}";
					td.appendChild($("a", { href: "/?" + qs({ q: sel, theme: get("theme", "") }), class: "sv-mono" }, sel));
					tr.appendChild(td);
					t.appendChild(tr);
				});
				box.appendChild(t);
			}, function (e) { showError("Targets: " + e.message); });
		}
		refreshSel.addEventListener("change", function () { setParams({ refresh: refreshSel.value }, true); armRefresh(load); });
		armRefresh(load);
		load().then(ready, ready);
	}

	/* =====================================================================
	 * Snapshots
	 * ===================================================================== */
	function snapshots() {
		main.appendChild($("h1", { style: "font-size:16px" }, "Rule snapshots"));
		var box = $("div", { id: "snapshots" });
		main.appendChild(box);
		function load() {
			return api("/api/v1/snapshots").then(function (d) {
				box.textContent = "";
				if (!d.snapshots.length) {
					var e = $("div", { class: "sv-empty", id: "empty" });
					e.appendChild($("h2", null, "No snapshots yet"));
					e.appendChild($("p", null, "A rule pins profiles of a scraped target when one of its metrics crosses a threshold. Rules live in the -config file:"));
					e.appendChild($("pre", { class: "sv-mono" }, "rules:\n  - name: high-cpu\n    when: rate(cpu) > 0.8\n    cooldown: 10m\n    seconds: 30"));
					box.appendChild(e);
					return;
				}
				var rules = {};
				d.snapshots.forEach(function (s) { (rules[s.rule] = rules[s.rule] || []).push(s); });
				var t = $("table", { class: "sv-list" }), h = $("tr");
				["Rule", "Time", "Kind", "Labels", ""].forEach(function (c) { h.appendChild($("th", null, c)); });
				t.appendChild(h);
				Object.keys(rules).sort().forEach(function (r) {
					rules[r].sort(function (a, b) { return b.time - a.time; }).forEach(function (s) {
						var tr = $("tr", { "data-id": String(s.id) });
						tr.appendChild($("td", null, s.rule));
						tr.appendChild($("td", { title: fmtAge(s.time) }, fmtFull(s.time)));
						tr.appendChild($("td", null, s.type + (s.duration ? " (" + fmtDur(s.duration) + ")" : "")));
						tr.appendChild($("td", { class: "sv-mono" }, labelsText(s.labels)));
						var td = $("td");
						td.appendChild($("a", { href: "/analysis/snapshot/" + s.id + "/flamegraph", class: "snap-open" }, "Open"));
						td.appendChild(document.createTextNode(" \u00b7 "));
						td.appendChild($("a", { href: s.url, class: "snap-download" }, "Download"));
						td.appendChild(document.createTextNode(" \u00b7 "));
						var around = { from: Math.floor(s.time - 1800), until: Math.ceil(s.time + 1800), type: s.type,
							q: s.labels.instance ? "{instance=\"" + esc(s.labels.instance) + "\"}" : "", theme: get("theme", "") };
						td.appendChild($("a", { href: "/?" + qs(around), class: "snap-chart" }, "On the chart"));
						tr.appendChild(td);
						t.appendChild(tr);
					});
				});
				box.appendChild(t);
			}, function (e) { showError("Snapshots: " + e.message); });
		}
		refreshSel.addEventListener("change", function () { setParams({ refresh: refreshSel.value }, true); armRefresh(load); });
		armRefresh(load);
		load().then(ready, ready);
	}

	if (PAGE === "/targets") targets();
	else if (PAGE === "/snapshots") snapshots();
	else explore();
})();
