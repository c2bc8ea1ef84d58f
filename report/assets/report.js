// The ctrace HTML report's script: reads the data element, builds the
// header, the containers, the process rows (tree label + timeline lane),
// the details panel and the search. Every string of the capture is set as
// text (textContent), never as markup.
(function () {
  'use strict';
  var started = performance.now();
  var D = JSON.parse(document.getElementById('ctrace-data').textContent);
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  var procs = D.procs, ctrs = D.containers, cap = D.capture;
  var span = Math.max(cap.duration_ms, 1e-3);
  var v0 = 0, v1 = span; // the visible window, ms from the start
  var startMS = Date.parse(cap.start);

  // Header and warnings.
  var head = cap.header.slice();
  if (cap.selection) head.push('selection:  ' + cap.selection);
  $('header').textContent = head.join('\n');
  var warn = [];
  if (cap.lost > 0) warn.push(cap.lost + ' events were lost: processes or files may be missing.');
  if (cap.truncated) warn.push('The capture is truncated: analyzed up to the cut.');
  if (cap.damaged > 0) warn.push(cap.damaged + ' damaged region(s) were skipped.');
  if (warn.length) { $('warning').textContent = warn.join(' '); $('warning').hidden = false; }

  function fmtMS(t) {
    if (t === null || t === undefined) return 'unknown';
    var iso = isNaN(startMS) ? '' : new Date(startMS + t).toISOString();
    return (t >= 0 ? '+' : '') + (t / 1000).toFixed(6) + ' s' + (iso ? '  (' + iso + ')' : '');
  }
  function dur(ms) {
    if (ms < 1) return (ms * 1000).toFixed(0) + ' µs';
    if (ms < 1000) return ms.toFixed(3) + ' ms';
    return (ms / 1000).toFixed(3) + ' s';
  }
  function outcome(p) {
    if (p.sig) return 'sig';
    if (p.exit === 0) return 'ok';
    if (p.exit !== undefined && p.exit !== null) return 'fail';
    return 'run';
  }
  function status(p) {
    if (p.sig) return 'killed by ' + p.sig + (p.killer ? ' from ' + p.killer : '');
    if (p.exit !== undefined && p.exit !== null) return 'exit ' + p.exit;
    if (p.vanished) return 'vanished (no exit seen)';
    if (p.t1 !== null && p.t1 !== undefined) return 'ended, status unknown';
    return p.pre ? 'pre-existing' : 'running at the end';
  }

  // The tree: children by parent, sections by container.
  var kids = procs.map(function () { return []; });
  procs.forEach(function (p, i) { if (p.parent >= 0) kids[p.parent].push(i); });

  // Containers.
  if (ctrs.length) {
    $('containers-section').hidden = false;
    ctrs.forEach(function (c, ci) {
      var card = el('div', 'container-card');
      card.id = 'container-' + c.short;
      card.appendChild(el('div', 'mono', 'container ' + c.short + '  ' + (c.runtime || 'runtime unknown')));
      card.appendChild(el('div', 'mono', 'id ' + c.id));
      card.appendChild(el('div', 'mono', 'rootfs ' + (c.rootfs || 'unknown')));
      var life = (c.pre ? 'started before the capture' : 'start ' + fmtMS(c.t0)) +
        (c.t1 !== null && c.t1 !== undefined ? ', ended ' + fmtMS(c.t1) : ', running at the end');
      card.appendChild(el('div', '', life));
      card.appendChild(el('div', '', c.sig ? 'init killed by ' + c.sig : (c.exit !== undefined && c.exit !== null ? 'init exit ' + c.exit : '')));
      if (c.started_by) card.appendChild(el('div', 'mono', 'started by ' + c.started_by));
      var n = procs.filter(function (p) { return p.ctr === ci; }).length;
      card.appendChild(el('div', '', n + ' processes'));
      card.addEventListener('click', function () { if (c.init >= 0) select(c.init, true); });
      $('containers').appendChild(card);
    });
  }

  // Rows: a section line per container and the host, then the processes
  // in tree order; a process of another section is a one-line stub. The
  // rows are data; only those on screen have elements (a pool, placed in a
  // body as tall as all the rows shown), so that a capture of any size
  // scrolls as fast as a screenful.
  var rows = []; // {kind, text, i, depth, stub, parentRow, kids, collapsed, hidden, match}
  var rowOf = {}; // proc index -> its full row
  function addSection(text) { rows.push({ kind: 'section', text: text, kids: [] }); }
  function addProc(i, depth, stub, parentRow) {
    var row = { kind: 'proc', i: i, depth: depth, stub: stub, parentRow: parentRow, kids: [] };
    if (parentRow) parentRow.kids.push(row);
    rows.push(row);
    if (!stub) rowOf[i] = row;
    return row;
  }
  function walk(i, depth, section, parentRow) {
    var p = procs[i];
    if (p.ctr !== section) { addProc(i, depth, true, parentRow); return; }
    var row = addProc(i, depth, false, parentRow);
    kids[i].forEach(function (k) { walk(k, depth + 1, section, row); });
  }
  ctrs.forEach(function (c, ci) {
    addSection('container ' + c.short + '  ' + (c.runtime || ''));
    procs.forEach(function (p, i) {
      if (p.ctr === ci && (p.parent < 0 || procs[p.parent].ctr !== ci)) walk(i, 0, ci, null);
    });
  });
  if (ctrs.length) addSection('host');
  procs.forEach(function (p, i) {
    if (p.ctr === -1 && (p.parent < 0 || procs[p.parent].ctr !== -1)) walk(i, 0, -1, null);
  });
  var body = el('div', '');
  body.id = 'rows-body';
  $('rows').appendChild(body);
  // The axis row sticks under the toolbar.
  function stick() { document.documentElement.style.setProperty('--toolbar', $('toolbar').offsetHeight + 'px'); }
  window.addEventListener('resize', stick);
  stick();
  $('rows').addEventListener('click', function (ev) {
    var label = ev.target.closest('.label');
    var r = label && label.parentNode._row;
    if (!r || r.kind !== 'proc') return;
    if (ev.target.classList.contains('toggle') && r.kids.length) { toggle(r); return; }
    select(r.i, false);
  });

  // Collapsing.
  function setHidden(row, hidden) {
    row.kids.forEach(function (k) { k.hidden = hidden; setHidden(k, hidden || k.collapsed); });
  }
  function toggle(row) {
    row.collapsed = !row.collapsed;
    setHidden(row, row.collapsed);
    relist();
  }
  function expandTo(row) {
    for (var r = row.parentRow; r; r = r.parentRow) {
      if (r.collapsed) { r.collapsed = false; setHidden(r, false); }
    }
  }
  $('expand').addEventListener('click', function () {
    rows.forEach(function (r) { r.collapsed = false; r.hidden = false; });
    relist();
  });
  $('collapse').addEventListener('click', function () {
    rows.forEach(function (r) {
      if (r.kind !== 'proc') return;
      if (r.kids.length) r.collapsed = true;
      r.hidden = r.depth > 0;
    });
    relist();
  });

  // The time axis, the bars and the marks for the window [v0, v1].
  var lossMarks = [];
  D.losses.forEach(function (l) {
    var m = el('div', 'mark loss');
    m.title = l.text;
    $('axis').appendChild(m);
    lossMarks.push([m, l.t]);
  });
  function pct(t) { return ((t - v0) / (v1 - v0)) * 100; }
  function place(e, t) {
    var x = pct(t);
    e.style.display = x < 0 || x > 100 ? 'none' : '';
    e.style.left = x + '%';
  }
  function niceStep(range) {
    var raw = range / 8, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var s = [1, 2, 5, 10].find(function (m) { return m * p >= raw; });
    return s * p;
  }
  var pending = false;
  function render() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }
  var shown = [], pitch = 21; // the rows not collapsed away; a row's height
  function relist() {
    shown = rows.filter(function (r) { return !r.hidden; });
    body.style.height = (shown.length * pitch) + 'px';
    pool.forEach(function (e) { e._k = -1; });
    render();
  }
  var pool = [];
  function draw() {
    var labels = $('axis-labels');
    labels.textContent = '';
    var step = niceStep(v1 - v0);
    for (var t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      var s = el('span', '', (step >= 1000 ? (t / 1000).toFixed(step >= 10000 ? 0 : 1) + ' s' : (step >= 1 ? t.toFixed(0) + ' ms' : t.toFixed(3) + ' ms')));
      s.style.left = pct(t) + '%';
      labels.appendChild(s);
    }
    lossMarks.forEach(function (m) { place(m[0], m[1]); });
    var top = body.getBoundingClientRect().top;
    var first = Math.max(Math.floor(-top / pitch) - 10, 0);
    var last = Math.min(Math.ceil((window.innerHeight - top) / pitch) + 10, shown.length);
    var need = Math.max(last - first, 0);
    while (pool.length < need) {
      var e = el('div', 'row');
      e.appendChild(el('div', 'label'));
      e.appendChild(el('div', 'lane'));
      e._k = -1;
      body.appendChild(e);
      pool.push(e);
    }
    for (var j = 0; j < pool.length; j++) {
      var e2 = pool[j];
      if (j >= need) { e2.style.display = 'none'; e2._k = -1; continue; }
      e2.style.display = '';
      fill(e2, first + j);
    }
  }
  // fill makes a pooled element show row k of the rows shown.
  function fill(e, k) {
    var r = shown[k];
    e.style.top = (k * pitch) + 'px';
    e._row = r;
    var label = e.firstChild, lane = e.lastChild;
    if (e._k !== k || e._rv !== r.version) {
      e._k = k;
      e._rv = r.version;
      label.textContent = '';
      lane.textContent = '';
      e.className = 'row' + (r.kind === 'section' ? ' section' : '') + (r.match ? ' match' : '') + (selected === r ? ' selected' : '');
      if (r.kind === 'section') {
        label.className = 'label';
        label.style.paddingLeft = '';
        label.textContent = r.text;
        label.title = '';
        e._bar = null;
        return;
      }
      var p = procs[r.i];
      label.className = 'label' + (p.context ? ' context' : '');
      label.style.paddingLeft = (r.depth * 14) + 'px';
      label.appendChild(el('span', 'toggle', r.kids.length ? (r.collapsed ? '▸' : '▾') : ''));
      label.appendChild(el('span', 'pid', p.pid));
      label.appendChild(document.createTextNode(p.cmd + (r.stub ? '  → ' + (p.ctr >= 0 ? 'container ' + ctrs[p.ctr].short : 'on the host') : '')));
      label.title = p.pid + ' ' + p.cmd;
      e._bar = el('div', 'bar ' + outcome(p));
      lane.appendChild(e._bar);
      e._marks = [];
      (p.execs || []).forEach(function (x, n) {
        if (n === 0 || x.t === null) return;
        var m = el('div', 'mark exec');
        m.title = 'exec ' + x.argv;
        lane.appendChild(m);
        e._marks.push([m, x.t]);
      });
      e._dv0 = e._dv1 = null;
    }
    if (!e._bar || (e._dv0 === v0 && e._dv1 === v1)) return;
    e._dv0 = v0;
    e._dv1 = v1;
    var q = procs[r.i];
    var a = q.t0 === null || q.t0 === undefined ? 0 : q.t0;
    var b = q.t1 === null || q.t1 === undefined ? span : q.t1;
    var x0 = Math.max(pct(a), -1), x1 = Math.min(pct(b), 101);
    if (x1 < 0 || x0 > 100) { e._bar.style.display = 'none'; } else {
      e._bar.style.display = '';
      e._bar.style.left = x0 + '%';
      e._bar.style.width = Math.max(x1 - x0, 0) + '%';
    }
    e._marks.forEach(function (m) { place(m[0], m[1]); });
  }
  window.addEventListener('scroll', render, { passive: true });
  window.addEventListener('resize', render);

  // Zoom (wheel) and pan (drag) on the lanes and the axis.
  function laneFraction(ev) {
    var lane = ev.currentTarget.getBoundingClientRect ? ev.currentTarget : null;
    var box = (lane || $('axis')).getBoundingClientRect();
    return Math.min(Math.max((ev.clientX - box.left) / box.width, 0), 1);
  }
  function zoomAt(f, factor) {
    var at = v0 + f * (v1 - v0);
    var w = Math.min(Math.max((v1 - v0) * factor, span / 1e6), span);
    v0 = Math.max(0, at - f * w);
    v1 = Math.min(span, v0 + w);
    v0 = Math.max(0, v1 - w);
    render();
  }
  var drag = null;
  function onWheel(ev) {
    if (!ev.ctrlKey && Math.abs(ev.deltaY) <= Math.abs(ev.deltaX)) return;
    ev.preventDefault();
    zoomAt(laneFraction(ev), ev.deltaY > 0 ? 1.25 : 0.8);
  }
  function onDown(ev) {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, v0: v0, v1: v1, w: ev.currentTarget.getBoundingClientRect().width };
  }
  window.addEventListener('mousemove', function (ev) {
    if (!drag) return;
    var dt = -(ev.clientX - drag.x) / drag.w * (drag.v1 - drag.v0);
    var w = drag.v1 - drag.v0;
    v0 = Math.min(Math.max(drag.v0 + dt, 0), span - w);
    v1 = v0 + w;
    render();
  });
  window.addEventListener('mouseup', function () { drag = null; });
  function onLane(handler) {
    return function (ev) {
      var lane = ev.target.closest('.lane');
      if (!lane) return;
      handler({ clientX: ev.clientX, deltaX: ev.deltaX, deltaY: ev.deltaY, ctrlKey: ev.ctrlKey, button: ev.button,
        currentTarget: lane, preventDefault: function () { ev.preventDefault(); } });
    };
  }
  $('rows').addEventListener('wheel', onLane(onWheel), { passive: false });
  $('rows').addEventListener('mousedown', onLane(onDown));
  $('zoom-reset').addEventListener('click', function () { v0 = 0; v1 = span; render(); });

  // Details of a process.
  var selected = null;
  function link(i) {
    var a = el('a', '', procs[i].pid + ' ' + procs[i].cmd);
    a.addEventListener('click', function () { select(i, true); });
    return a;
  }
  function select(i, scroll) {
    var p = procs[i];
    if (selected) selected.version = (selected.version || 0) + 1;
    selected = rowOf[i] || null;
    if (selected) {
      expandTo(selected);
      selected.version = (selected.version || 0) + 1;
      relist();
      if (scroll) {
        var k = shown.indexOf(selected);
        var y = body.getBoundingClientRect().top + window.scrollY + k * pitch - window.innerHeight / 2;
        window.scrollTo(0, Math.max(y, 0));
      }
    }
    var details = $('details-body');
    details.textContent = '';
    details.appendChild(el('h3', 'cmd', p.pid + ' ' + p.cmd));
    var dl = el('dl');
    function item(k, v) { if (v === undefined || v === null || v === '') return; dl.appendChild(el('dt', '', k)); var dd = el('dd'); if (v instanceof Node) dd.appendChild(v); else dd.textContent = String(v); dl.appendChild(dd); }
    item('status', status(p));
    item('start', p.pre && (p.t0 === null || p.t0 === undefined) ? 'before the capture' : fmtMS(p.t0));
    item('end', p.t1 === null || p.t1 === undefined ? '' : fmtMS(p.t1));
    if (p.t0 !== null && p.t0 !== undefined && p.t1 !== null && p.t1 !== undefined) item('duration', dur(p.t1 - p.t0));
    item('program', p.exe);
    item('user', p.user);
    item('cwd', p.cwd);
    item('threads', p.threads ? p.threads + ' more' : '');
    item('container', p.ctr >= 0 ? ctrs[p.ctr].id : 'host');
    if (p.parent >= 0) item('parent', link(p.parent));
    details.appendChild(dl);
    if (p.execs && p.execs.length) {
      details.appendChild(el('h4', '', 'execs'));
      var ul = el('ul');
      p.execs.forEach(function (x) { ul.appendChild(el('li', 'exec', fmtMS(x.t) + '  ' + x.argv)); });
      details.appendChild(ul);
    }
    details.appendChild(el('h4', '', 'files (' + (p.nfiles || 0) + ' operations)'));
    var fl = el('ul', 'files');
    (p.files || []).forEach(function (f) { fl.appendChild(el('li', '', f)); });
    if (p.context) fl.appendChild(el('li', '', '(shown as an ancestor of the selection: its files are not in this report)'));
    details.appendChild(fl);
    var anc = [];
    for (var q = p.parent; q >= 0; q = procs[q].parent) anc.push(q);
    if (anc.length) {
      details.appendChild(el('h4', '', 'ancestors'));
      var al = el('ul', 'ancestors');
      anc.forEach(function (q) { var li = el('li'); li.appendChild(link(q)); al.appendChild(li); });
      details.appendChild(al);
    }
    $('details').hidden = false;
  }
  $('details-close').addEventListener('click', function () { $('details').hidden = true; });

  // Search by path, program or pid.
  var lowered = procs.map(function (p) {
    return { cmd: (p.cmd + ' ' + (p.exe || '') + ' ' + (p.execs || []).map(function (x) { return x.argv; }).join(' ')).toLowerCase(),
      paths: (p.paths || []).map(function (s) { return s.toLowerCase(); }) };
  });
  function search(q) {
    q = q.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (r) {
      if (r.kind !== 'proc') return;
      var hit = false;
      if (q !== '') {
        var p = procs[r.i], l = lowered[r.i];
        hit = String(p.pid) === q || l.cmd.indexOf(q) >= 0 || l.paths.some(function (s) { return s.indexOf(q) >= 0; });
      }
      if (hit !== !!r.match) { r.match = hit; r.version = (r.version || 0) + 1; }
      if (hit && !r.stub) { n++; expandTo(r); }
    });
    $('search-count').textContent = q === '' ? '' : n + (n === 1 ? ' process' : ' processes');
    relist();
  }
  var timer = null;
  $('search').addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search($('search').value); }, 120);
  });
  // #q=TEXT searches at load; #pid=N opens a process; #from=MS&to=MS
  // opens on that window (milliseconds from the start).
  var hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (hash.get('from') !== null || hash.get('to') !== null) {
    var f = Number(hash.get('from') || 0), e = Number(hash.get('to') || span);
    if (isFinite(f) && isFinite(e) && e > f) { v0 = Math.max(0, f); v1 = Math.min(span, e); }
  }
  if (hash.get('q')) { $('search').value = hash.get('q'); search(hash.get('q')); }
  relist();
  draw();
  if (hash.get('pid')) {
    var want = Number(hash.get('pid'));
    var at = procs.findIndex(function (p) { return p.pid === want; });
    if (at >= 0) select(at, true);
  }
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
  document.body.dataset.ready = '1';
})();
