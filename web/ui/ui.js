/*
 * ui.js - the web UI's page: menus, views and URL state.
 *
 * The UI lives under a base URL (BASE: /ui/ for cprof -http; a server may
 * mount it anywhere): window.cprofUiBase when the server sets it, else the
 * page's own directory.  The view is the path below it (BASE/flamegraph,
 * graph, top, source, peek, disasm, sandwich; BASE itself is the flame
 * graph) and every option is a query parameter with pprof's name (f i h s
 * sf tf ti si g ...), so a link opens the same page.  Changing an option
 * navigates to the new URL; the data comes from BASE/data/* with the same
 * query (src/report/webapi.c).  The components (flamegraph.js,
 * toptable.js) know nothing of this page.
 *
 * Selection and refine: the selected frame (flame graph), row (top) or node
 * (graph) becomes ^name$ (regexp-escaped); Focus, Show and Show from
 * replace the parameter with it, Ignore and Hide add it with '|'.  With no
 * selection the search box's regexp is used.
 */
(function () {
	"use strict";

	var params = new URLSearchParams(location.search);
	var BASE = window.cprofUiBase || location.pathname.replace(/[^/]*$/, "");
	var view = location.pathname.slice(BASE.length) || "flamegraph";
	var FILTERS = ["f", "i", "h", "s", "sf", "prunefrom", "tf", "ti", "ts", "th"];
	var FILTER_NAMES = { f: "focus", i: "ignore", h: "hide", s: "show", sf: "show_from", prunefrom: "prune_from",
		tf: "tagfocus", ti: "tagignore", ts: "tagshow", th: "taghide" };
	var VIEWS = [["flamegraph", "Flame Graph"], ["graph", "Graph"], ["top", "Top"], ["source", "Source"],
		["peek", "Peek"], ["disasm", "Disassemble"], ["sandwich", "Sandwich"]];
	var main = document.getElementById("main");
	var state = { selected: "", meta: null, flame: null, top: null };

	function $(tag, attrs, text) {
		var e = document.createElement(tag);
		for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
		if (text !== undefined) e.textContent = text;
		return e;
	}

	function escapeRe(s) { return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"); }

	/* the query for the data endpoints: the page's, minus page-only keys */
	function query(extra) {
		var q = new URLSearchParams(params);
		["theme", "diff", "fn"].forEach(function (k) { q.delete(k); });
		for (var k in extra || {}) q.set(k, extra[k]);
		var s = q.toString();
		return s ? "?" + s : "";
	}

	function go(path, changes) {
		var q = new URLSearchParams(params);
		for (var k in changes) {
			if (changes[k] === null || changes[k] === "") q.delete(k);
			else q.set(k, changes[k]);
		}
		var s = q.toString();
		location.assign(BASE + path + (s ? "?" + s : ""));
	}

	function showError(msg) {
		var e = document.getElementById("errors");
		e.hidden = !msg;
		e.textContent = msg || "";
	}

	function fetchData(path, extra) {
		return fetch(BASE + "data/" + path + query(extra)).then(function (r) {
			var w = r.headers.get("X-Cprof-Warnings");
			if (w) {
				var we = document.getElementById("warnings");
				we.hidden = false;
				we.textContent = w;
			}
			return r.text().then(function (t) {
				if (!r.ok) throw new Error(t.trim() || r.statusText);
				return t;
			});
		});
	}

	/* ---- theme ---- */
	function applyTheme(t) {
		document.documentElement.setAttribute("data-theme", t);
	}
	var theme = params.get("theme") || localStorage.getItem("cprof-theme") ||
		(matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
	applyTheme(theme);

	/* ---- header ---- */
	function buildHeader(meta) {
		var nav = document.getElementById("views");
		VIEWS.forEach(function (v) {
			var a = $("a", { href: BASE + v[0] + location.search, id: "view-" + v[0] }, v[1]);
			if (v[0] === view) a.setAttribute("aria-current", "page");
			nav.appendChild(a);
		});
		/* an execution trace: its timeline (web/timeline.js) */
		if (meta.timeline) nav.appendChild($("a", { href: BASE + "timeline", id: "view-timeline" }, "Timeline"));
		var tools = document.getElementById("tools");
		/* sample type */
		var si = $("select", { id: "sample", "aria-label": "sample type" });
		var cur = params.get("si") || meta.cliSampleIndex || "";
		meta.sampleTypes.forEach(function (t, k) {
			var o = $("option", { value: t.type }, t.type + (t.unit ? " (" + t.unit + ")" : ""));
			if (cur ? (cur === t.type || cur === String(k)) : k === meta.defaultIndex) o.selected = true;
			si.appendChild(o);
		});
		si.addEventListener("change", function () { go(view, { si: si.value }); });
		si.title = "sample type";
		tools.appendChild(si);
		/* granularity */
		var g = $("select", { id: "granularity", "aria-label": "granularity" });
		["functions", "filefunctions", "files", "lines", "addresses"].forEach(function (n) {
			var o = $("option", { value: n }, n);
			if ((params.get("g") || "functions") === n) o.selected = true;
			g.appendChild(o);
		});
		g.addEventListener("change", function () { go(view, { g: g.value === "functions" ? null : g.value }); });
		g.title = "granularity";
		tools.appendChild(g);
		/* search + refine */
		var search = $("input", { id: "search", type: "search", placeholder: "regexp", "aria-label": "refine regexp" });
		search.value = params.get("f") || "";
		tools.appendChild(search);
		search.addEventListener("input", function () {
			if (state.top) {
				var re = null;
				try { re = search.value ? new RegExp(search.value) : null; } catch (e) { re = null; }
				state.top.highlight(re);
			}
		});
		search.addEventListener("keydown", function (e) { if (e.key === "Enter") refine("f", false); });
		/* Focus at hand, the other refinements in a menu: the header keeps
		 * to one row at 1280 px */
		var more = menu("refine-menu", "Refine", "more ways to refine by the selection or the regexp");
		[["f", "Focus", false], ["i", "Ignore", true], ["h", "Hide", true], ["s", "Show", false],
			["sf", "Show from", false], ["tf", "Tag focus", false], ["ti", "Tag ignore", true]].forEach(function (r) {
			var b = $("button", { id: "refine-" + r[0], type: "button", title: FILTER_NAMES[r[0]] + " (selection, else the regexp)" }, r[1]);
			b.addEventListener("click", function () { refine(r[0], r[2]); });
			(r[0] === "f" ? tools : more.body).appendChild(b);
		});
		var reset = $("button", { id: "refine-reset", type: "button", title: "clear every filter" }, "Reset filters");
		reset.addEventListener("click", function () {
			var c = {};
			FILTERS.forEach(function (k) { c[k] = null; });
			go(view, c);
		});
		more.body.appendChild(reset);
		tools.appendChild(more.el);
		var save = menu("save-menu", "Save", "the profile as shown (filters applied)");
		save.body.appendChild($("a", { id: "download", href: BASE + "download" + query(), download: "profile.pb.gz" }, "Profile (profile.pb.gz)"));
		if (view === "flamegraph" || view === "sandwich") {
			save.body.appendChild($("a", { id: "export-svg", href: BASE + "export/flame.svg" + query(), download: "flamegraph.svg" }, "Flame graph (SVG)"));
			save.body.appendChild($("a", { id: "export-html", href: BASE + "export/flame.html" + query(), download: "flamegraph.html" }, "Flame graph (HTML)"));
		}
		tools.appendChild(save.el);
		var tb = $("button", { id: "theme", type: "button", "aria-label": "toggle dark theme" }, theme === "dark" ? "Light" : "Dark");
		tb.addEventListener("click", function () {
			theme = theme === "dark" ? "light" : "dark";
			localStorage.setItem("cprof-theme", theme);
			applyTheme(theme);
			tb.textContent = theme === "dark" ? "Light" : "Dark";
			if (state.flame) state.flame.draw();
		});
		tools.appendChild(tb);
		/* active filters */
		var fl = document.getElementById("filters"), any = false;
		FILTERS.forEach(function (k) {
			var v = params.get(k);
			if (!v) return;
			if (!any) fl.appendChild(document.createTextNode("Active filters: "));
			any = true;
			var c = $("code", { "data-filter": k }, FILTER_NAMES[k] + "=" + v);
			fl.appendChild(c);
			var x = $("button", { type: "button", "aria-label": "clear " + FILTER_NAMES[k] }, "\u00d7");
			x.addEventListener("click", function () { var ch = {}; ch[k] = null; go(view, ch); });
			fl.appendChild(x);
			fl.appendChild(document.createTextNode(" "));
		});
	}

	/* a drop-down menu: a button and a panel it opens; Escape or a click
	 * elsewhere closes it */
	function menu(id, label, title) {
		var box = $("div", { class: "cp-menu", id: id });
		var btn = $("button", { type: "button", "aria-haspopup": "true", "aria-expanded": "false", title: title }, label + " \u25be");
		var body = $("div", { class: "cp-menu-body", role: "menu", hidden: "" });
		function set(open) {
			body.hidden = !open;
			btn.setAttribute("aria-expanded", String(open));
		}
		btn.addEventListener("click", function () { set(body.hidden); });
		box.addEventListener("keydown", function (e) {
			if (e.key === "Escape" && !body.hidden) {
				set(false);
				btn.focus();
			}
		});
		document.addEventListener("click", function (e) { if (!box.contains(e.target)) set(false); });
		box.appendChild(btn);
		box.appendChild(body);
		return { el: box, body: body, open: function () { set(true); } };
	}

	function refine(k, add) {
		var re = state.selected ? "^" + escapeRe(state.selected) + "$" : document.getElementById("search").value;
		if (!re) return showError("Select a frame, a row or a node first, or type a regexp.");
		var old = params.get(k), c = {};
		c[k] = add && old ? old + "|" + re : re;
		go(view === "sandwich" || view === "source" || view === "disasm" || view === "peek" ? view : view, c);
	}

	/* ---- views ---- */
	function flameView() {
		var holder = $("div", { id: "flamegraph" });
		main.appendChild(holder);
		var bar = $("div", { class: "cp-legendbox" });
		var width = function () { return Math.max(main.clientWidth - 20, 300); };
		var zoom = [];
		function load() {
			var extra = { w: String(width()) };
			if (zoom.length) extra.zoom = zoom.join("\n");
			/* with a base: the union of both sides, coloured by change */
			if (state.meta.hasBase) extra.which = "diff";
			var t0 = performance.now();
			return fetchData("flame", extra).then(function (t) {
				var d = JSON.parse(t);
				if (!state.flame) {
					state.flame = cprofFlameGraph.mount(holder, d, { onZoom: function (path) { zoom = path; load(); },
						diffMode: params.get("diff") === "abs" ? "absolute" : "share" });
					addFlameButtons(bar);
				} else {
					state.flame.setData(d);
				}
				holder.setAttribute("data-zoom", zoom.join("\n"));
				holder.setAttribute("data-load-ms", String(performance.now() - t0));
			}).catch(function (e) { showError(e.message); });
		}
		function addFlameButtons(b) {
			var fg = state.flame, barEl = holder.querySelector(".cpfg-bar");
			var sw = $("button", { id: "sandwich", type: "button", title: "callers and callees of the selected frame" }, "Sandwich");
			sw.addEventListener("click", function () {
				var n = fg.selectedName();
				if (!n) return showError("Select a frame first (click or arrows).");
				go("sandwich", { fn: n });
			});
			barEl.appendChild(sw);
			if (state.meta.hasBase) {
				var dm = $("button", { id: "diffmode", type: "button" }, params.get("diff") === "abs" ? "Diff: absolute" : "Diff: share");
				dm.addEventListener("click", function () {
					var abs = fg.diffMode !== "absolute";
					fg.setDiffMode(abs ? "absolute" : "share");
					dm.textContent = abs ? "Diff: absolute" : "Diff: share";
					var u = new URL(location.href);
					if (abs) u.searchParams.set("diff", "abs"); else u.searchParams.delete("diff");
					history.replaceState(null, "", u);
				});
				barEl.appendChild(dm);
				b.innerHTML = "";
				[["hsl(0,85%,60%)", "grown"], ["hsl(130,60%,60%)", "shrunk"], ["hsl(0,0%,78%)", "unchanged"]].forEach(function (x) {
					var s = $("span", { class: "cp-sw" });
					s.style.background = x[0];
					b.appendChild(s);
					b.appendChild(document.createTextNode(x[1]));
				});
				barEl.appendChild(b);
			}
			/* the selection follows the component's */
			holder.addEventListener("click", function () { state.selected = fg.selectedName(); });
			holder.addEventListener("keyup", function () { state.selected = fg.selectedName(); });
		}
		return load();
	}

	function sandwichView() {
		var fn = params.get("fn") || "";
		if (!fn) {
			main.appendChild($("p", { class: "cp-hint" }, "Select a frame in the flame graph and press Sandwich."));
			return Promise.resolve();
		}
		state.selected = fn;
		var w = String(Math.max(main.clientWidth - 20, 300));
		var box = $("div", { class: "cp-sandwich" });
		main.appendChild(box);
		box.appendChild($("h2", {}, "Callers of " + fn));
		var up = $("div", { id: "callers" });
		box.appendChild(up);
		box.appendChild($("h2", {}, "Callees of " + fn));
		var down = $("div", { id: "callees" });
		box.appendChild(down);
		return Promise.all([fetchData("sandwich", { fn: fn, dir: "callers", w: w }),
			fetchData("sandwich", { fn: fn, dir: "callees", w: w })]).then(function (r) {
			/* callers above the function, callees below it; node 0 is the function */
			cprofFlameGraph.mount(up, JSON.parse(r[0]), { inverted: false, rootLabel: fn });
			cprofFlameGraph.mount(down, JSON.parse(r[1]), { inverted: true, rootLabel: fn });
		}).catch(function (e) { showError(e.message); });
	}

	function topView() {
		return fetchData("top").then(function (t) {
			var p = cprofTopTable.parseText(t);
			main.appendChild($("div", { class: "cp-legend", id: "legend" }, p.legend.join("\n")));
			state.top = cprofTopTable.mount(main, p.rows, {
				/* a row's name may end in " (inline)": not part of the function's name */
				onSelect: function (n) { state.selected = n.replace(/ \(inline\)$/, ""); },
				onActivate: function (n) { go("flamegraph", { f: "^" + escapeRe(n.replace(/ \(inline\)$/, "")) + "$" }); }
			});
			var s = document.getElementById("search").value;
			if (s) try { state.top.highlight(new RegExp(s)); } catch (e) { /* bad regexp: no highlight */ }
		}).catch(function (e) { showError(e.message); });
	}

	/* Source, peek and disassembly.  With f: that regexp's report.  Without:
	 * the server picks the hottest function that has source (that it can
	 * disassemble: an object file that can be read) and says which hotter
	 * ones it passed over and why.  A function without source or machine
	 * code is a plain note, not an error. */
	function textView(kind) {
		var f = params.get("f");
		function show(t) {
			var pre = $("pre", { class: "cp-text", id: "text", tabindex: "0" });
			pre.textContent = t;
			main.appendChild(pre);
		}
		function note(id, text) {
			main.appendChild($("p", { class: "cp-note", id: id, role: "status" }, text));
		}
		if (!f && kind !== "peek") {
			return fetchData("pick", { view: kind }).then(function (t) {
				var d = JSON.parse(t), what = kind === "source" ? "source" : "machine code that can be read";
				var skipped = d.skipped.map(function (x) { return x.name + " (" + x.why + ")"; });
				if (d.more) skipped.push(d.more + " more");
				if (!d.f) {
					note("none", "None of the " + d.considered + " hottest functions has " + what + ": " +
						skipped.join("; ") + (kind === "source" ? ". The -source_path flag adds directories to search." : "."));
					return;
				}
				state.selected = d.name;
				main.appendChild($("p", { class: "cp-hint", id: "symbol" }, kind + " for " + d.name +
					", the hottest function with " + what));
				if (skipped.length) note("skipped", "Hotter functions without " + what + ": " + skipped.join("; "));
				show(d.text);
			}).catch(function (e) { showError(e.message); });
		}
		/* peek without f: the top function */
		var first = f ? Promise.resolve(f) : fetchData("top", { n: "1" }).then(function (t) {
			var r = cprofTopTable.parseText(t).rows;
			return r.length ? "^" + escapeRe(r[0].name.replace(/ \(inline\)$/, "")) + "$" : ".";
		});
		return first.then(function (re) {
			f = re;
			return fetchData(kind, { f: re });
		}).then(function (t) {
			main.appendChild($("p", { class: "cp-hint", id: "symbol" }, kind + " for " + f));
			/* -list marks a routine whose file it could not read */
			var miss = kind === "source" ? t.match(/^ Error: .*$/mg) : null;
			if (miss) note("nosource", "No source shown for " + (miss.length > 1 ? miss.length + " routines" : "this routine") +
				": " + miss[0].slice(8) + ". The -source_path flag adds directories to search.");
			show(t);
		}).catch(function (e) {
			/* a function without machine code or source: say so plainly */
			if (/^no matches found for regexp/.test(e.message)) note("nomatch", "Nothing to show for " + f + ": " +
				(kind === "disasm" ? "no sampled symbol matches it in an object file that can be read." : e.message + "."));
			else showError(e.message);
		});
	}

	function graphView() {
		return fetchData("graph").then(function (t) {
			var doc = new DOMParser().parseFromString(t, "image/svg+xml");
			var svg = doc.documentElement;
			if (!svg || svg.nodeName !== "svg") throw new Error("the graph is not SVG");
			Array.prototype.forEach.call(svg.querySelectorAll("script"), function (s) { s.remove(); });
			var box = $("div", { class: "cp-graph", id: "graph", tabindex: "0", "aria-label": "call graph: drag to pan, wheel or +/- to zoom, arrows to move, 0 to fit the width" });
			main.appendChild(box);
			svg = document.importNode(svg, true);
			svg.removeAttribute("width");
			svg.removeAttribute("height");
			box.appendChild(svg);
			/* pan and zoom through the viewBox; it opens fitted to the width,
			 * from the top (a tall graph fitted whole is too small to read),
			 * and '0' comes back to that */
			var bb = svg.getBBox(), vb;
			function fit() {
				var bw = box.clientWidth || 800, bh = box.clientHeight || 600, w = bb.width || 1;
				vb = { x: bb.x, y: bb.y, w: w, h: w * bh / bw };
				if (vb.h > bb.height) vb.y = bb.y - (vb.h - bb.height) / 2;  /* short: centred */
			}
			function set() { svg.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h); box.setAttribute("data-scale", String(bb.width / vb.w)); }
			fit();
			set();
			function zoomAt(f, cx, cy) {
				var px = vb.x + vb.w * cx, py = vb.y + vb.h * cy;
				vb.w *= f; vb.h *= f;
				vb.x = px - vb.w * cx; vb.y = py - vb.h * cy;
				set();
			}
			box.addEventListener("wheel", function (e) {
				e.preventDefault();
				var r = box.getBoundingClientRect();
				zoomAt(e.deltaY < 0 ? 0.8 : 1.25, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
			}, { passive: false });
			var drag = null;
			box.addEventListener("mousedown", function (e) { drag = { x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y }; });
			window.addEventListener("mouseup", function () { drag = null; });
			box.addEventListener("mousemove", function (e) {
				if (!drag) return;
				var r = box.getBoundingClientRect();
				vb.x = drag.vx - (e.clientX - drag.x) * vb.w / r.width;
				vb.y = drag.vy - (e.clientY - drag.y) * vb.h / r.height;
				set();
			});
			box.addEventListener("keydown", function (e) {
				var s = vb.w / 10;
				if (e.key === "+" || e.key === "=") zoomAt(0.8, 0.5, 0.5);
				else if (e.key === "-") zoomAt(1.25, 0.5, 0.5);
				else if (e.key === "ArrowLeft") { vb.x -= s; set(); }
				else if (e.key === "ArrowRight") { vb.x += s; set(); }
				else if (e.key === "ArrowUp") { vb.y -= s; set(); }
				else if (e.key === "ArrowDown") { vb.y += s; set(); }
				else if (e.key === "0") { fit(); set(); }
				else return;
				e.preventDefault();
			});
			Array.prototype.forEach.call(svg.querySelectorAll("g.node"), function (g) {
				g.style.cursor = "pointer";
				g.addEventListener("click", function () {
					var old = svg.querySelector("g.node.cp-sel");
					if (old) old.classList.remove("cp-sel");
					g.classList.add("cp-sel");
					/* the function's name is the link's title: "name (value)" */
					var a = g.querySelector("a");
					var t = a ? a.getAttributeNS("http://www.w3.org/1999/xlink", "title") || a.getAttribute("title") || "" : "";
					state.selected = t.replace(/ \([^()]*\)$/, "");
				});
			});
		}).catch(function (e) { showError(e.message); });
	}

	fetch(BASE + "data/meta").then(function (r) { return r.json(); }).then(function (meta) {
		state.meta = meta;
		document.title = (meta.title || "cprof") + " \u2014 cprof";
		buildHeader(meta);
		var p;
		if (view === "flamegraph") p = flameView();
		else if (view === "top") p = topView();
		else if (view === "graph") p = graphView();
		else if (view === "source" || view === "peek" || view === "disasm") p = textView(view);
		else if (view === "sandwich") p = sandwichView();
		else p = Promise.resolve(showError("unknown view " + view));
		return p;
	}).then(function () {
		document.body.setAttribute("data-ready", "1");
	}, function (e) {
		showError(String(e));
		document.body.setAttribute("data-ready", "1");
	});
})();
