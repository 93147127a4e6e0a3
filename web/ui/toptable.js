/*
 * toptable.js - the sortable flat/cum table of the web UI (issue 8), a
 * component independent of where its rows come from.
 *
 *   cprofTopTable.parseText(text) -> { legend: [lines], rows: [row] }
 *     reads the text of pprof's top report (the header lines, then
 *     "flat flat% sum% cum cum%  name" rows) into rows
 *     { flat, flatPct, sumPct, cum, cumPct, name, flatV, cumV } where the
 *     V fields are numbers for sorting (units scaled to a common base).
 *   cprofTopTable.mount(element, rows, { onSelect(name), onActivate(name) })
 *     draws the table; a click on a header sorts by it (again: reverses);
 *     rows are focusable: arrows move, Enter activates, a click selects.
 *     Returns { highlight(regexp), selected() }.
 */
(function (global) {
	"use strict";

	var UNITS = { ns: 1e-9, us: 1e-6, "\u00b5s": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, hrs: 3600, mins: 60,
		B: 1, kB: 1024, KB: 1024, MB: 1048576, GB: 1073741824, TB: 1099511627776, PB: 1125899906842624 };

	function num(s) {
		var m = /^(-?[0-9.e+]+)([a-zA-Z\u00b5]*)$/.exec(s);
		if (!m) return 0;
		var v = parseFloat(m[1]);
		return m[2] && UNITS[m[2]] ? v * UNITS[m[2]] : v;
	}

	function parseText(text) {
		var lines = text.split("\n"), legend = [], rows = [], inRows = false;
		var rx = /^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)\s+(.*)$/;
		for (var i = 0; i < lines.length; i++) {
			var l = lines[i];
			if (!inRows) {
				if (/^\s*flat\s+flat%\s+sum%\s+cum\s+cum%/.test(l)) inRows = true;
				else if (l.trim()) legend.push(l);
				continue;
			}
			var m = rx.exec(l);
			if (!m) continue;
			rows.push({ flat: m[1], flatPct: m[2], sumPct: m[3], cum: m[4], cumPct: m[5], name: m[6],
				flatV: num(m[1]), cumV: num(m[4]) });
		}
		return { legend: legend, rows: rows };
	}

	var COLS = [
		{ key: "flatV", label: "Flat", show: "flat" },
		{ key: "flatV", label: "Flat%", show: "flatPct" },
		{ key: null, label: "Sum%", show: "sumPct" },
		{ key: "cumV", label: "Cum", show: "cum" },
		{ key: "cumV", label: "Cum%", show: "cumPct" },
		{ key: "name", label: "Name", show: "name" }
	];

	function mount(root, rows, opts) {
		opts = opts || {};
		var sortCol = 0, desc = true, sel = null, hit = null;
		var table = document.createElement("table");
		table.className = "cp-top";
		table.setAttribute("role", "grid");
		var thead = table.createTHead(), hr = thead.insertRow(), tbody = table.createTBody();
		COLS.forEach(function (c, k) {
			var th = document.createElement("th");
			th.textContent = c.label;
			th.tabIndex = 0;
			th.scope = "col";
			function go() {
				if (!c.key) return;
				if (sortCol === k) desc = !desc;
				else { sortCol = k; desc = c.key !== "name"; }
				render();
			}
			th.addEventListener("click", go);
			th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
			hr.appendChild(th);
		});
		function select(tr, name) {
			var old = tbody.querySelector("tr[aria-selected=true]");
			if (old) old.setAttribute("aria-selected", "false");
			tr.setAttribute("aria-selected", "true");
			sel = name;
			if (opts.onSelect) opts.onSelect(name);
		}
		function render() {
			var key = COLS[sortCol].key;
			var order = rows.slice();
			order.sort(function (a, b) {
				var x = a[key], y = b[key];
				var r = x < y ? -1 : x > y ? 1 : 0;
				return desc ? -r : r;
			});
			Array.prototype.forEach.call(hr.children, function (th, k) {
				if (k === sortCol) th.setAttribute("aria-sort", desc ? "descending" : "ascending");
				else th.removeAttribute("aria-sort");
			});
			tbody.textContent = "";
			order.forEach(function (r) {
				var tr = tbody.insertRow();
				tr.tabIndex = -1;
				tr.setAttribute("aria-selected", r.name === sel ? "true" : "false");
				COLS.forEach(function (c) { tr.insertCell().textContent = r[c.show]; });
				if (hit && hit.test(r.name)) tr.className = "cp-hit";
				tr.addEventListener("click", function () { select(tr, r.name); tr.focus(); });
				tr.addEventListener("dblclick", function () { if (opts.onActivate) opts.onActivate(r.name); });
				tr.addEventListener("keydown", function (e) {
					var n = null;
					if (e.key === "ArrowDown") n = tr.nextElementSibling;
					else if (e.key === "ArrowUp") n = tr.previousElementSibling;
					else if (e.key === "Enter") { select(tr, r.name); if (opts.onActivate) opts.onActivate(r.name); }
					else if (e.key === " ") { e.preventDefault(); select(tr, r.name); }
					if (n) { e.preventDefault(); n.focus(); }
				});
			});
			var first = tbody.rows[0];
			if (first) first.tabIndex = 0;
		}
		root.appendChild(table);
		render();
		return {
			highlight: function (re) {
				hit = re;
				Array.prototype.forEach.call(tbody.rows, function (tr) {
					tr.className = re && re.test(tr.cells[5].textContent) ? "cp-hit" : "";
				});
			},
			selected: function () { return sel; },
			table: table
		};
	}

	global.cprofTopTable = { parseText: parseText, mount: mount, parseValue: num };
})(window);
