/*
 * flamegraph.js - an interactive flame graph drawn on a canvas.
 *
 * A reusable component: cprofFlameGraph.mount(element, data[, options])
 * builds the controls and the canvas inside element and returns an object
 * with setData(data), zoomTo(index), search(regexp) and setInverted(bool)
 * (the element keeps it as element.cpfg).  It knows nothing about where
 * the data comes from (a page written by `cprof -flamegraph`, the web UI,
 * the continuous-profiling server).
 *
 * Data: { title, sampleType, unit, total, filters[], names[], packages[],
 * namePackage[], pruned: {fraction, boxes}, nodes[] } where nodes is the
 * tree in preorder, four numbers a node: index into names, self value, cum
 * value, number of children.  Node 0 is the root.
 *
 * Layout: the preorder arrays are unpacked once into typed arrays (parent,
 * depth, x offset in value units from the root's left edge), and each depth
 * keeps the list of its nodes in x order, so a hit test is one binary
 * search and drawing visits only the nodes of the zoomed range; boxes under
 * half a pixel are drawn as one pixel column per run, not one by one.  Zooming to a node shows its subtree across the
 * full width and its ancestors as full-width bars; the breadcrumb lists the
 * ancestors to zoom back.  The layout is an icicle (the root on top, where
 * a deep stack cannot push it below the fold, as Go's pprof does) unless
 * options.inverted is false; the toggle switches to a flame graph (the root
 * at the bottom), scrolled so that the root shows.  Colours: a hue per
 * package -- the frame's module (the program or library its code is in)
 * for native code, the Go package or C++ namespace without one -- by FNV-1a
 * of its name, the same as cprof's SVG, so a module has the same hue in
 * every view; the legend names the modules with the most self value and the
 * tooltip each frame's.  Search matches in magenta on grey.
 * Keys (canvas focused): arrows move the selection (towards the leaves:
 * up in a flame graph, down in an icicle), keeping it in view, Enter zooms
 * to it, Escape resets the zoom (and clears the search), Backspace zooms
 * out one level, '/' goes to the search box, 'i' toggles the layout.
 *
 * Options (issue 8, the web UI): onZoom(path, node) makes zooming the
 * caller's job: a click, a breadcrumb or Escape calls it with the frame
 * names from the root to the node instead of zooming here, and the caller
 * fetches a tree pruned to that zoom and passes it to setData; data.focus
 * (the zoomed node, its ancestors before it) is then zoomed to.
 * Diff data (a profile and its base: after[], before[] and baseTotal, each
 * node's value on each side; a node's width is their sum, so vanished
 * frames show) colours each frame by its change: red grown, green shrunk,
 * grey unchanged; setDiffMode("share") compares the shares of each total
 * (the default, or options.diffMode), "absolute" the values.
 * selectedName() is the selected frame's name.  options.rootLabel (or
 * data.rootName) names node 0 in place of "root" (the sandwich view's
 * trees, rooted at a function).
 */
(function (global) {
	"use strict";

	var ROW = 18;

	function fnv(s) {
		var h = 2166136261;
		for (var i = 0; i < s.length; i++) {
			var c = s.charCodeAt(i);
			/* UTF-8 bytes, as the C side hashes them */
			if (c < 0x80) {
				h = Math.imul(h ^ c, 16777619) >>> 0;
				continue;
			}
			var bytes = unescape(encodeURIComponent(s.charAt(i) +
				(c >= 0xd800 && c < 0xdc00 ? s.charAt(++i) : "")));
			for (var j = 0; j < bytes.length; j++)
				h = Math.imul(h ^ bytes.charCodeAt(j), 16777619) >>> 0;
		}
		return h >>> 0;
	}

	function colour(h) {
		var hue = h % 360, s = 55 + (h >>> 9) % 20, l = 62 + (h >>> 17) % 10;
		return "hsl(" + hue + "," + s + "%," + l + "%)";
	}

	/* Human-readable values in the profile's unit. */
	function fmtValue(v, unit) {
		var a = Math.abs(v), u = (unit || "").toLowerCase();
		function f(x, suf) {
			var s = x.toFixed(2).replace(/\.?0+$/, "");
			return s + suf;
		}
		if (u === "nanoseconds" || u === "ns") {
			if (a >= 3.6e12) return f(v / 3.6e12, "h");
			if (a >= 6e10) return f(v / 6e10, "min");
			if (a >= 1e9) return f(v / 1e9, "s");
			if (a >= 1e6) return f(v / 1e6, "ms");
			if (a >= 1e3) return f(v / 1e3, "us");
			return v + "ns";
		}
		if (u === "microseconds") return fmtValue(v * 1e3, "nanoseconds");
		if (u === "milliseconds") return fmtValue(v * 1e6, "nanoseconds");
		if (u === "seconds") return fmtValue(v * 1e9, "nanoseconds");
		if (u === "bytes" || u === "b") {
			var units = ["B", "kB", "MB", "GB", "TB", "PB"], i = 0;
			while (a >= 1024 && i < units.length - 1) {
				a /= 1024;
				v /= 1024;
				i++;
			}
			return i ? f(v, units[i]) : v + "B";
		}
		return String(v);
	}

	function pct(v, t) {
		if (!t) return "-";
		return (100 * v / t).toFixed(2) + "%";
	}

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined) e.textContent = text;
		return e;
	}

	function FlameGraph(root, data, opts) {
		this.root = root;
		this.opts = opts || {};
		this.inverted = this.opts.inverted !== false;
		this.diffMode = this.opts.diffMode || "share";
		this.build();
		this.setData(data);
	}

	FlameGraph.prototype.build = function () {
		var self = this, r = this.root;
		r.classList.add("cpfg");
		r.textContent = "";
		var bar = el("div", "cpfg-bar");
		this.titleEl = el("h1", "cpfg-title");
		this.searchEl = el("input");
		this.searchEl.type = "search";
		this.searchEl.placeholder = "Search (regexp)";
		this.searchEl.setAttribute("aria-label", "search");
		this.matchEl = el("span", "cpfg-match");
		var reset = el("button", null, "Reset zoom");
		reset.title = "zoom out to the root (Escape)";
		this.invertEl = el("button", null, this.inverted ? "Flame" : "Icicle");
		this.invertEl.title = "layout: flame graph (root at the bottom) or icicle (root at the top); key i";
		bar.appendChild(this.titleEl);
		bar.appendChild(this.searchEl);
		bar.appendChild(this.matchEl);
		bar.appendChild(reset);
		bar.appendChild(this.invertEl);
		this.crumbsEl = el("div", "cpfg-crumbs");
		this.infoEl = el("div", "cpfg-info");
		this.legendEl = el("div", "cpfg-legend");
		this.viewEl = el("div", "cpfg-view");
		this.viewEl.tabIndex = 0;
		this.viewEl.setAttribute("role", "application");
		this.viewEl.setAttribute("aria-label", "flame graph: arrow keys move between frames, Enter zooms, " +
			"Escape resets the zoom, Backspace zooms out, / searches, i switches flame and icicle");
		this.canvas = el("canvas");
		this.viewEl.appendChild(this.canvas);
		/* a row-sized box at the selected frame, to scroll it into view */
		this.markEl = el("div", "cpfg-mark");
		this.viewEl.appendChild(this.markEl);
		this.tipEl = el("div", "cpfg-tip");
		this.statusEl = el("div", "cpfg-status");
		this.statusEl.setAttribute("aria-live", "polite");
		r.appendChild(bar);
		r.appendChild(this.crumbsEl);
		r.appendChild(this.infoEl);
		r.appendChild(this.legendEl);
		r.appendChild(this.viewEl);
		r.appendChild(this.statusEl);
		document.body.appendChild(this.tipEl);
		r.cpfg = this;
		r.setAttribute("data-layout", this.inverted ? "icicle" : "flame");

		var timer = null;
		this.searchEl.addEventListener("input", function () {
			clearTimeout(timer);
			timer = setTimeout(function () { self.search(self.searchEl.value); }, 120);
		});
		this.searchEl.addEventListener("keydown", function (e) {
			if (e.key === "Enter") self.search(self.searchEl.value);
			if (e.key === "Escape" || e.key === "ArrowDown") self.viewEl.focus();
		});
		reset.addEventListener("click", function () { self.selected = 0; self.zoomTo(0); });
		this.invertEl.addEventListener("click", function () { self.setInverted(!self.inverted); });
		this.canvas.addEventListener("mousemove", function (e) { self.hover(e); });
		this.canvas.addEventListener("mouseleave", function () { self.tipEl.style.display = "none"; });
		this.canvas.addEventListener("click", function (e) {
			var n = self.hit(e);
			if (n >= 0) {
				self.selected = n;
				self.zoomTo(n);
			}
			self.viewEl.focus();
		});
		this.viewEl.addEventListener("keydown", function (e) { self.key(e); });
		/* '/' anywhere on the page (not while typing) goes to the search box:
		 * this component's when it holds the focus, else the page's first */
		document.addEventListener("keydown", function (e) {
			var a = document.activeElement, tag = a && a.tagName;
			if (e.key !== "/" || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.defaultPrevented) return;
			var owner = a && a.closest ? a.closest(".cpfg") : null;
			if (owner ? owner !== r : document.querySelector(".cpfg") !== r) return;
			e.preventDefault();
			self.searchEl.focus();
			self.searchEl.select();
		});
		var pending = false;
		global.addEventListener("resize", function () {
			if (pending) return;
			pending = true;
			requestAnimationFrame(function () { pending = false; self.draw(); });
		});
	};

	FlameGraph.prototype.setData = function (d) {
		this.data = d;
		var nodes = d.nodes, n = Math.floor(nodes.length / 4);
		var name = new Int32Array(n), selfv = new Float64Array(n), cum = new Float64Array(n),
			parent = new Int32Array(n), depth = new Int32Array(n), x = new Float64Array(n),
			end = new Int32Array(n);
		/* unpack the preorder: a stack of (node, children left, next child x) */
		var stack = [], maxDepth = 0;
		for (var i = 0; i < n; i++) {
			name[i] = nodes[4 * i];
			selfv[i] = nodes[4 * i + 1];
			cum[i] = nodes[4 * i + 2];
			var kids = nodes[4 * i + 3];
			while (stack.length && stack[stack.length - 1].left === 0) {
				end[stack[stack.length - 1].node] = i;
				stack.pop();
			}
			if (stack.length) {
				var top = stack[stack.length - 1];
				parent[i] = top.node;
				depth[i] = depth[top.node] + 1;
				x[i] = top.x;
				top.x += Math.max(cum[i], 0);
				top.left--;
			} else {
				parent[i] = -1;
				depth[i] = 0;
				x[i] = 0;
			}
			if (depth[i] > maxDepth) maxDepth = depth[i];
			stack.push({ node: i, left: kids, x: x[i] });
		}
		while (stack.length) end[stack.pop().node] = n;
		var byDepth = [];
		for (var k = 0; k <= maxDepth; k++) byDepth.push([]);
		for (i = 0; i < n; i++) byDepth[depth[i]].push(i);
		for (k = 0; k <= maxDepth; k++) byDepth[k] = Int32Array.from(byDepth[k]);
		var colours = [], pk = d.namePackage || [], pkgs = d.packages || [];
		for (i = 0; i < d.names.length; i++) {
			var p = pkgs[pk[i]] || "";
			colours.push(p === "" && i === name[0] ? "hsl(0,0%,80%)" : colour(fnv(p)));
		}
		this.t = { n: n, name: name, self: selfv, cum: cum, parent: parent, depth: depth,
			x: x, end: end, byDepth: byDepth, maxDepth: maxDepth, colours: colours };
		this.legend();
		this.matched = null;
		this.focus = 0;
		this.selected = 0;
		this.t.after = d.after ? Float64Array.from(d.after) : null;
		this.t.before = d.before ? Float64Array.from(d.before) : null;
		this.computeDiff();
		this.titleEl.textContent = (d.title || "") + (d.sampleType ? " \u2014 " + d.sampleType : "");
		var info = "Total " + fmtValue(d.total, d.unit) + " (" + d.sampleType + ")";
		if (d.filters && d.filters.length) info += " \u00b7 " + d.filters.join(" ");
		if (d.pruned && d.pruned.boxes)
			info += " \u00b7 " + d.pruned.boxes + " boxes under " + (100 * d.pruned.fraction).toPrecision(2) +
				"% of the total merged into \"(other)\"";
		this.infoEl.textContent = info;
		if (this.searchEl.value) this.search(this.searchEl.value);
		var f = d.focus > 0 && d.focus < n ? d.focus : 0;
		this.selected = f;
		this.zoomTo(f, true);
		/* a flame graph opens scrolled to its root, however deep the stacks */
		if (!this.shown && !this.inverted) this.reveal(0);
		this.shown = true;
	};

	/* the package (module) of node i, "" when unknown */
	FlameGraph.prototype.packageOf = function (i) {
		var d = this.data, k = (d.namePackage || [])[this.t.name[i]];
		return i > 0 && d.packages && d.packages[k] || "";
	};

	/* the legend: the packages (modules) with the most self value, each
	 * with its colour and share; none for a diff or a single package */
	FlameGraph.prototype.legend = function () {
		var t = this.t, d = this.data, L = this.legendEl, sums = {};
		L.textContent = "";
		if (d.after || !d.packages) return;
		for (var i = 1; i < t.n; i++) {
			var p = this.packageOf(i);
			if (p) sums[p] = (sums[p] || 0) + Math.max(t.self[i], 0);
		}
		var keys = Object.keys(sums).filter(function (k) { return sums[k] > 0; });
		if (keys.length < 2) return;
		keys.sort(function (a, b) { return sums[b] - sums[a]; });
		var MAX = 8;
		L.appendChild(el("span", "cpfg-legend-h", "Colour by " + this.pkgWord() + ":"));
		keys.slice(0, MAX).forEach(function (k) {
			var item = el("span", "cpfg-legend-i");
			var sw = el("span", "cpfg-sw");
			sw.style.background = colour(fnv(k));
			item.appendChild(sw);
			item.appendChild(document.createTextNode(k + " " + pct(sums[k], d.total)));
			item.title = k + ": self " + fmtValue(sums[k], d.unit) + " (" + pct(sums[k], d.total) + ")";
			item.setAttribute("data-package", k);
			L.appendChild(item);
		});
		if (keys.length > MAX) L.appendChild(el("span", "cpfg-legend-i", "+" + (keys.length - MAX) + " more"));
	};

	/* what the colours stand for: Go packages in a Go profile (the runtime's
	 * frames are in every one), else modules (the program, its libraries) */
	FlameGraph.prototype.pkgWord = function () {
		var t = this.t;
		if (t.pkgWord === undefined)
			t.pkgWord = this.data.names.some(function (n) { return n.lastIndexOf("runtime.", 0) === 0; }) ? "package" : "module";
		return t.pkgWord;
	};

	/* scroll the row of node i into view (whatever scrolls the component) */
	FlameGraph.prototype.reveal = function (i) {
		var t = this.t;
		if (!t || i < 0 || i >= t.n) return;
		var H = this.canvas.clientHeight || (t.maxDepth + 1) * ROW, m = this.markEl;
		m.style.top = this.rowY(t.depth[i], H) + "px";
		m.style.height = ROW + "px";
		if (m.scrollIntoView) m.scrollIntoView({ block: "nearest" });
	};

	/* the label of node i: its name, node 0's the root label */
	FlameGraph.prototype.label = function (i) {
		return i === 0 ? this.opts.rootLabel || this.data.rootName || "root" : this.nameOf(i);
	};

	/* the frame names from the root (excluded) to node i */
	FlameGraph.prototype.pathOf = function (i) {
		var p = [];
		for (var a = i; a > 0; a = this.t.parent[a]) p.unshift(this.nameOf(a));
		return p;
	};

	FlameGraph.prototype.selectedName = function () {
		return this.selected > 0 ? this.nameOf(this.selected) : "";
	};

	/* the value of node i: its own side's in a diff, else its cum */
	FlameGraph.prototype.value = function (i) {
		return this.t.after ? this.t.after[i] : this.t.cum[i];
	};

	FlameGraph.prototype.computeDiff = function () {
		var t = this.t, d = this.data;
		this.diff = null;
		if (!t.after) return;
		var T = d.total || 1, B = d.baseTotal || 1, delta = new Float64Array(t.n);
		for (var i = 0; i < t.n; i++)
			delta[i] = this.diffMode === "absolute" ? (t.after[i] - t.before[i]) / Math.max(T, B) :
				t.after[i] / T - t.before[i] / B;
		this.diff = { delta: delta, base: t.before, baseTotal: d.baseTotal };
	};

	FlameGraph.prototype.setDiffMode = function (mode) {
		this.diffMode = mode;
		this.computeDiff();
		this.draw();
	};

	/* the fill of node i in diff mode */
	FlameGraph.prototype.diffColour = function (i) {
		var d = this.diff.delta[i], a = Math.min(Math.abs(d) / 0.05, 1);
		if (Math.abs(d) < 0.001) return "hsl(0,0%,78%)";
		var l = Math.round(86 - 36 * a);
		return d > 0 ? "hsl(0,85%," + l + "%)" : "hsl(130,60%," + l + "%)";
	};

	FlameGraph.prototype.nameOf = function (i) {
		return this.data.names[this.t.name[i]];
	};

	FlameGraph.prototype.setInverted = function (v) {
		this.inverted = v;
		this.invertEl.textContent = v ? "Flame" : "Icicle";
		this.root.setAttribute("data-layout", v ? "icicle" : "flame");
		this.draw();
		this.reveal(v ? this.selected : 0);
	};

	FlameGraph.prototype.zoomTo = function (i, local) {
		if (i < 0 || i >= this.t.n) return;
		if (!local && this.opts.onZoom && i !== this.focus) {
			this.opts.onZoom(this.pathOf(i), i);
			return;
		}
		this.focus = i;
		var c = this.crumbsEl, self = this, chain = [];
		for (var a = i; a >= 0; a = this.t.parent[a]) chain.unshift(a);
		c.textContent = "";
		chain.forEach(function (n, k) {
			if (k) c.appendChild(el("span", "cpfg-sep", "\u203a"));
			var link = el("a", null, self.label(n));
			link.title = "zoom to " + link.textContent;
			link.addEventListener("click", function () { self.selected = n; self.zoomTo(n); });
			c.appendChild(link);
		});
		this.draw();
	};

	/* regexp search: matched[] flags, share = nodes whose ancestors don't match */
	FlameGraph.prototype.search = function (re) {
		var t = this.t;
		this.searchEl.classList.remove("cpfg-bad");
		if (!re) {
			this.matched = null;
			this.matchEl.textContent = "";
			this.draw();
			return;
		}
		var rx;
		try {
			rx = new RegExp(re);
		} catch (e) {
			this.searchEl.classList.add("cpfg-bad");
			return;
		}
		var names = this.data.names, nameHit = new Int8Array(names.length);
		for (var k = 0; k < names.length; k++) nameHit[k] = rx.test(names[k]) ? 1 : 0;
		var m = new Uint8Array(t.n), total = 0, count = 0;
		for (var i = 1; i < t.n; i++) {
			if (!nameHit[t.name[i]]) continue;
			m[i] = 1;
			count++;
			var a = t.parent[i], covered = false;
			for (; a > 0; a = t.parent[a]) if (m[a]) { covered = true; break; }
			if (!covered) total += this.value(i);
		}
		this.matched = m;
		this.matchTotal = total;
		this.matchEl.textContent = count ? "Matched " + fmtValue(total, this.data.unit) + " (" +
			pct(total, this.data.total) + ")" : "No match";
		this.draw();
	};

	/* geometry of the current view */
	FlameGraph.prototype.view = function () {
		var t = this.t, f = this.focus;
		return { x0: t.x[f], w: t.cum[f] > 0 ? t.cum[f] : 1, fd: t.depth[f] };
	};

	FlameGraph.prototype.rowY = function (depth, H) {
		return this.inverted ? depth * ROW : H - (depth + 1) * ROW;
	};

	FlameGraph.prototype.draw = function () {
		var t = this.t;
		if (!t) return;
		var W = this.viewEl.clientWidth || 800, H = (t.maxDepth + 1) * ROW;
		var dpr = global.devicePixelRatio || 1, cv = this.canvas;
		if (H * dpr > 32000) H = Math.floor(32000 / dpr / ROW) * ROW;
		cv.width = Math.round(W * dpr);
		cv.height = Math.round(H * dpr);
		cv.style.height = H + "px";
		var g = cv.getContext("2d");
		g.setTransform(dpr, 0, 0, dpr, 0, 0);
		g.clearRect(0, 0, W, H);
		g.font = "12px system-ui, \"DejaVu Sans\", Verdana, sans-serif";
		g.textBaseline = "middle";
		var v = this.view(), scale = W / v.w, self = this, drawn = 0;
		var charW = g.measureText("abcdefghijklmnopqrstuvwxyz").width / 26 || 7;
		function box(i, x, w, d) {
			var y = self.rowY(d, H);
			if (y < 0 || y > H) return;
			var hit = self.matched && self.matched[i];
			/* while searching, everything but the matches is greyed out */
			g.fillStyle = hit ? "#e040fb" : self.matched ? "#e4e4e4" :
				(d < v.fd ? "#ddd" : self.diff ? self.diffColour(i) : t.colours[t.name[i]]);
			g.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
			if (i === self.selected && i > 0) {
				g.strokeStyle = "#000";
				g.lineWidth = 2;
				g.strokeRect(x + 1, y + 1, Math.max(w - 2.5, 0.5), ROW - 3);
			}
			if (w > 3 * charW) {
				var s = self.label(i), fit = Math.floor((w - 6) / charW);
				if (s.length > fit) s = s.slice(0, Math.max(fit - 2, 1)) + "..";
				g.fillStyle = "#000";
				g.fillText(s, x + 3, y + ROW / 2);
			}
			drawn++;
		}
		/* ancestors of the focus: full width */
		for (var a = t.parent[this.focus]; a >= 0; a = t.parent[a]) box(a, 0, W, t.depth[a]);
		/* the focus's subtree: nodes in [focus, end) in preorder, by depth */
		var lo = v.x0, hi = v.x0 + v.w;
		for (var d = v.fd; d <= t.maxDepth; d++) {
			var row = t.byDepth[d], lastPx = -1, y = this.rowY(d, H);
			var k = this.firstAt(row, lo);
			for (; k < row.length; k++) {
				var i = row[k];
				if (t.x[i] >= hi) break;
				if (i < this.focus || i >= t.end[this.focus]) continue;
				var w = t.cum[i] * scale, bx = (t.x[i] - lo) * scale;
				if (w >= 0.5) {
					box(i, bx, w, d);
					continue;
				}
				/* boxes under half a pixel: one pixel column per run of
				 * them, so that many tiny frames still show their shape */
				var px = Math.floor(bx);
				if (px > lastPx && w > 0) {
					g.fillStyle = this.matched ? (this.matched[i] ? "#e040fb" : "#e4e4e4") :
						this.diff ? this.diffColour(i) : t.colours[t.name[i]];
					g.fillRect(px, y, 1, ROW - 1);
					lastPx = px;
					drawn++;
				}
			}
		}
		this.canvas.setAttribute("data-drawn", String(drawn));
		this.status(this.selected);
	};

	/* index of the first node of row (sorted by x) whose right edge is past x */
	FlameGraph.prototype.firstAt = function (row, x) {
		var t = this.t, lo = 0, hi = row.length;
		while (lo < hi) {
			var mid = (lo + hi) >> 1, i = row[mid];
			if (t.x[i] + t.cum[i] <= x) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	};

	FlameGraph.prototype.hit = function (e) {
		var t = this.t, r = this.canvas.getBoundingClientRect();
		var px = e.clientX - r.left, py = e.clientY - r.top, H = r.height;
		var d = this.inverted ? Math.floor(py / ROW) : Math.floor((H - py) / ROW);
		if (d < 0 || d > t.maxDepth) return -1;
		var v = this.view();
		if (d < v.fd) {
			for (var a = this.focus; a >= 0; a = t.parent[a]) if (t.depth[a] === d) return a;
			return -1;
		}
		var x = v.x0 + px / r.width * v.w, row = t.byDepth[d], k = this.firstAt(row, x);
		if (k < row.length) {
			var i = row[k];
			if (t.x[i] <= x && x < t.x[i] + t.cum[i] && i >= this.focus && i < t.end[this.focus]) return i;
		}
		return -1;
	};

	FlameGraph.prototype.describe = function (i) {
		var t = this.t, d = this.data, v = this.view();
		var cv = this.value(i);
		var r = { name: this.label(i), pkg: this.packageOf(i),
			flat: fmtValue(t.self[i], d.unit) + " (" + pct(t.self[i], d.total) + ")",
			cum: fmtValue(cv, d.unit) + " (" + pct(cv, d.total) + ")",
			zoom: pct(t.cum[i], v.w) };
		if (this.diff) {
			var b = this.diff.base[i], dd = cv - b;
			r.diff = "base " + fmtValue(b, d.unit) + " (" + pct(b, this.diff.baseTotal) + ") \u2192 " +
				fmtValue(cv, d.unit) + " (" + pct(cv, d.total) + "), " +
				(dd >= 0 ? "+" : "") + fmtValue(dd, d.unit) +
				(this.diffMode === "absolute" ? "" : ", share " + (this.diff.delta[i] >= 0 ? "+" : "") +
				(100 * this.diff.delta[i]).toFixed(2) + " points");
		}
		return r;
	};

	FlameGraph.prototype.hover = function (e) {
		var i = this.hit(e), tip = this.tipEl;
		if (i < 0) {
			tip.style.display = "none";
			return;
		}
		var s = this.describe(i);
		tip.textContent = "";
		tip.appendChild(el("b", null, s.name));
		tip.appendChild(el("div", null, "flat " + s.flat));
		tip.appendChild(el("div", null, "cum " + s.cum + ", " + s.zoom + " of the view"));
		if (s.pkg) tip.appendChild(el("div", "cpfg-tip-pkg", this.pkgWord() + " " + s.pkg));
		if (s.diff) tip.appendChild(el("div", null, s.diff));
		tip.style.display = "block";
		var x = e.clientX + 14, y = e.clientY + 14;
		if (x + tip.offsetWidth > global.innerWidth) x = Math.max(0, e.clientX - tip.offsetWidth - 14);
		if (y + tip.offsetHeight > global.innerHeight) y = Math.max(0, e.clientY - tip.offsetHeight - 14);
		tip.style.left = x + "px";
		tip.style.top = y + "px";
	};

	FlameGraph.prototype.status = function (i) {
		if (i < 0 || i >= this.t.n) return;
		var s = this.describe(i);
		this.statusEl.textContent = "Selected: " + s.name + " \u2014 flat " + s.flat + ", cum " + s.cum +
			(s.pkg ? " \u2014 " + s.pkg : "") + (s.diff ? " \u2014 " + s.diff : "");
	};

	FlameGraph.prototype.key = function (e) {
		var t = this.t, s = this.selected, next = -1;
		var up = this.inverted ? "ArrowDown" : "ArrowUp", down = this.inverted ? "ArrowUp" : "ArrowDown";
		if (e.key === up) {
			/* the widest child */
			for (var i = s + 1; i < t.end[s]; i = t.end[i])
				if (next < 0 || t.cum[i] > t.cum[next]) next = i;
		} else if (e.key === down) {
			next = t.parent[s];
		} else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
			var row = t.byDepth[t.depth[s]], k = Array.prototype.indexOf.call(row, s);
			k += e.key === "ArrowLeft" ? -1 : 1;
			if (k >= 0 && k < row.length) next = row[k];
		} else if (e.key === "Enter") {
			this.zoomTo(s);
		} else if (e.key === "Escape") {
			/* reset: the whole graph, no search */
			if (this.searchEl.value) {
				this.searchEl.value = "";
				this.search("");
			}
			this.selected = 0;
			this.zoomTo(0);
		} else if (e.key === "Backspace") {
			this.zoomTo(Math.max(t.parent[this.focus], 0));
		} else if (e.key === "i") {
			this.setInverted(!this.inverted);
		} else {
			return;
		}
		e.preventDefault();
		if (next >= 0) {
			this.selected = next;
			if (next < this.focus || next >= t.end[this.focus]) this.zoomTo(t.parent[next] >= 0 ? t.parent[next] : 0);
			else this.draw();
			this.reveal(next);
		}
	};

	global.cprofFlameGraph = {
		mount: function (element, data, opts) { return new FlameGraph(element, data, opts); },
		formatValue: fmtValue
	};
})(window);
