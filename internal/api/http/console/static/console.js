// Chorus console: polls this node's HTTP API about once a second and redraws the
// panels. Plain JavaScript, no dependencies; everything from the server is inserted as
// text, never as HTML.
'use strict';

(() => {
  const POLL_MS = 1000;
  const SPARK_POINTS = 60;
  const REPAIRS_SHOWN = 20;
  const VALUE_SHOWN = 300; // characters of a value shown before it is cut
  // Member colours leave out red: red means down.
  const MEMBER_COLOURS = ['#2563eb', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04',
    '#db2777', '#4f46e5', '#65a30d', '#0d9488', '#7c3aed', '#a16207'];
  const ZONE_COLOURS = ['#475569', '#0f766e', '#b45309', '#6d28d9', '#be185d', '#1d4ed8', '#15803d', '#9a3412'];
  const DOWN_COLOUR = '#d1242f';
  const OPS = ['get', 'put', 'delete'];

  const state = {
    cluster: null,      // GET /v1/cluster
    ring: null,         // GET /ui/api/ring
    ringFor: '',        // what state.ring was fetched for (members, zones, inspected key)
    ringError: '',      // why the last ring fetch failed
    prevMetrics: null,  // the previous scrape of /metrics, with its time
    spark: [],          // total requests per second, one point per scrape
    inspect: null,      // {keyspace, key} while the inspector shows a key
    inspectSeq: 0,      // bumps on every new key, so late answers for an old one are dropped
  };

  const $ = (id) => document.getElementById(id);

  // el creates an HTML element with attributes (class, title, data-*, …) and children
  // (nodes, or strings inserted as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    e.append(...children.filter((c) => c !== null && c !== undefined));
    return e;
  }

  function svgEl(tag, attrs, ...children) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setAttrs(e, attrs);
    e.append(...children.filter((c) => c !== null && c !== undefined));
    return e;
  }

  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) e.setAttribute(k, String(v));
    }
  }

  // fill replaces the rows of a table body; empty is the text shown when there are none.
  function fill(tbody, rows, empty, columns) {
    if (rows.length === 0) rows = [el('tr', {}, el('td', {class: 'empty', colspan: columns}, empty))];
    tbody.replaceChildren(...rows);
  }

  class HTTPError extends Error {}

  // When the node requires authentication, open the console as /ui/#token=TOKEN (or
  // USER:TOKEN): the token is kept for this tab only and sent as a bearer token.
  const token = (() => {
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem('chorus-token', decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem('chorus-token');
  })();
  const fetchOpts = () => token ? {cache: 'no-store', headers: {Authorization: `Bearer ${token}`}} : {cache: 'no-store'};

  // getJSON fetches a JSON body. A status outside ok (default [200]) throws an
  // HTTPError with the API's error text ("unavailable: need 2 replicas …").
  async function getJSON(path, ok = [200]) {
    const resp = await fetch(path, fetchOpts());
    const text = await resp.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!ok.includes(resp.status)) {
      const msg = body && body.error ? `${body.error}: ${body.message || ''}` : `HTTP ${resp.status} ${text.slice(0, 200)}`;
      throw new HTTPError(msg.trim());
    }
    if (body === undefined) throw new HTTPError(`${path} did not answer JSON`);
    return body;
  }

  async function getText(path) {
    const resp = await fetch(path, fetchOpts());
    if (!resp.ok) throw new HTTPError(`HTTP ${resp.status}`);
    return resp.text();
  }

  // ---- formatting

  const pct = (f) => `${(100 * f).toFixed(1)}%`;

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso;
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
    return `${Math.floor(s / 86400)}d ago`;
  }

  function seconds(s) {
    if (s === null || !Number.isFinite(s)) return '–';
    if (s < 0.001) return `${(s * 1e6).toFixed(0)} µs`;
    if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
    return `${s.toFixed(2)} s`;
  }

  const rate = (r) => (r >= 100 ? r.toFixed(0) : r.toFixed(1));

  function cut(s, n) {
    return s.length > n ? `${s.slice(0, n)}…` : s;
  }

  // statusOf maps a membership status to what the console says: alive → up, dead → down.
  function statusOf(s) {
    return {alive: 'up', suspect: 'suspect', dead: 'down', left: 'left'}[s] || s;
  }

  // ---- colours

  function colours(members) {
    const zones = [...new Set(members.map((m) => m.zone || ''))].sort();
    const ids = members.map((m) => m.id).sort();
    return {
      zones,
      zone: (z) => ZONE_COLOURS[zones.indexOf(z || '') % ZONE_COLOURS.length],
      member: (id) => MEMBER_COLOURS[Math.max(0, ids.indexOf(id)) % MEMBER_COLOURS.length],
    };
  }

  // ---- the ring

  // point is the position f (0..1, clockwise from the top) at radius r.
  function point(f, r) {
    const a = 2 * Math.PI * f - Math.PI / 2;
    return [160 + r * Math.cos(a), 160 + r * Math.sin(a)];
  }

  // band is the path of the ring band between radii r1 < r2 from a to b. Pieces over
  // half the ring are split: one SVG arc command cannot draw a full circle.
  function band(a, b, r1, r2) {
    if (b - a > 0.5) return `${band(a, (a + b) / 2, r1, r2)} ${band((a + b) / 2, b, r1, r2)}`;
    const [x1, y1] = point(a, r2);
    const [x2, y2] = point(b, r2);
    const [x3, y3] = point(b, r1);
    const [x4, y4] = point(a, r1);
    const f = (n) => n.toFixed(2);
    return `M${f(x1)} ${f(y1)}A${r2} ${r2} 0 0 1 ${f(x2)} ${f(y2)}L${f(x3)} ${f(y3)}A${r1} ${r1} 0 0 0 ${f(x4)} ${f(y4)}Z`;
  }

  function drawRing() {
    const svg = $('ring');
    const ring = state.ring;
    const cluster = state.cluster;
    if (!ring || !cluster) {
      $('ring-note').textContent = state.ringError;
      return;
    }
    const status = Object.fromEntries(cluster.members.map((m) => [m.id, statusOf(m.status)]));
    const c = colours(ring.members);
    const zoneOf = Object.fromEntries(ring.members.map((m) => [m.id, m.zone || '']));
    const parts = [];
    // The zone band: neighbouring arcs in one zone drawn as one piece.
    const zoneArcs = [];
    for (const a of ring.arcs) {
      const last = zoneArcs[zoneArcs.length - 1];
      if (last && last.zone === zoneOf[a.owner]) last.end = a.end;
      else zoneArcs.push({start: a.start, end: a.end, zone: zoneOf[a.owner]});
    }
    for (const z of zoneArcs) {
      parts.push(svgEl('path', {class: 'zone', 'data-zone': z.zone, d: band(z.start, z.end, 141, 151), fill: c.zone(z.zone)},
        svgEl('title', {}, `zone ${z.zone || '(none)'}`)));
    }
    for (const a of ring.arcs) {
      const down = status[a.owner] === 'down';
      const title = `${a.owner}${zoneOf[a.owner] ? ` (zone ${zoneOf[a.owner]})` : ''}${down ? ', down' : ''}: ` +
        `${pct(a.start)} – ${pct(a.end)} of the ring`;
      parts.push(svgEl('path', {
        class: down ? 'arc member down' : 'arc member', 'data-owner': a.owner,
        d: band(a.start, a.end, 100, 138), fill: down ? DOWN_COLOUR : c.member(a.owner),
      }, svgEl('title', {}, title)));
    }
    const up = cluster.members.filter((m) => ['up', 'suspect'].includes(statusOf(m.status))).length;
    parts.push(svgEl('text', {class: 'center', x: 160, y: 150, 'text-anchor': 'middle'}, `${up} of ${ring.members.length} up`));
    parts.push(svgEl('text', {class: 'center small', x: 160, y: 168, 'text-anchor': 'middle'},
      `${ring.vnodes} vnodes each · N = ${ring.replication_factor}`));
    if (ring.key) {
      const [x1, y1] = point(ring.key.position, 92);
      const [x2, y2] = point(ring.key.position, 156);
      const [tx, ty] = point(ring.key.position, 75);
      parts.push(svgEl('line', {class: 'key-marker', x1, y1, x2, y2},
        svgEl('title', {}, `key ${ring.key.key} at ${pct(ring.key.position)}; replicas ${ring.key.replicas.join(', ')}`)));
      parts.push(svgEl('text', {class: 'key-label', x: tx, y: ty, 'text-anchor': 'middle'}, cut(ring.key.key, 16)));
    }
    svg.replaceChildren(...parts);
    $('ring-note').textContent = state.ringError || `as seen by ${cluster.node}`;
    $('zones').replaceChildren(...(c.zones.length > 1 || c.zones[0] !== '' ? ['zones: ',
      ...c.zones.map((z) => el('span', {class: 'zone-chip', 'data-zone': z, title: 'outer band'}, z || '(none)'))] : []));
    // The chips' colours are set through the DOM, which the page's CSP allows.
    for (const chip of $('zones').querySelectorAll('.zone-chip')) chip.style.background = c.zone(chip.dataset.zone);
  }

  function drawMembers() {
    const cluster = state.cluster;
    const ring = state.ring;
    if (!cluster) return;
    const c = colours(ring ? ring.members : cluster.members);
    const onRing = Object.fromEntries((ring ? ring.members : []).map((m) => [m.id, m]));
    const replicas = new Set(ring && ring.key ? ring.key.replicas : []);
    const rows = cluster.members.map((m) => {
      const st = statusOf(m.status);
      const sw = el('span', {class: 'swatch'});
      sw.style.background = st === 'down' ? DOWN_COLOUR : c.member(m.id);
      const r = onRing[m.id];
      const zone = el('span', {class: 'zone-chip'}, m.zone || '–');
      zone.style.background = m.zone ? c.zone(m.zone) : 'transparent';
      zone.style.color = m.zone ? '#fff' : 'inherit';
      return el('tr', {'data-member': m.id, 'data-status': st, class: st === 'down' ? 'down' : null},
        el('td', {}, sw),
        el('td', {}, m.id, m.id === cluster.node ? el('span', {class: 'muted'}, ' (this node)') : null,
          replicas.has(m.id) ? el('span', {title: 'a replica of the inspected key'}, ' ◆') : null),
        el('td', {}, zone),
        el('td', {}, el('span', {class: `status ${st}`}, st)),
        el('td', {class: 'num'}, r ? String(r.vnodes) : '0'),
        el('td', {class: 'num'}, r ? pct(r.primary) : '–'),
        el('td', {class: 'num'}, pct(m.ownership || 0)),
        el('td', {class: 'mono'}, (m.addrs && m.addrs.resp) || ''));
    });
    fill($('members').tBodies[0], rows, 'no members', 8);
  }

  // refreshRing fetches the ring layout when what it depends on changed: the members
  // on the ring, their zones, or the inspected key.
  async function refreshRing() {
    if (!state.cluster) return;
    const on = state.cluster.members.filter((m) => m.status !== 'left').map((m) => `${m.id}@${m.zone}`).sort().join(',');
    const q = state.inspect ? `?keyspace=${encodeURIComponent(state.inspect.keyspace)}&key=${encodeURIComponent(state.inspect.key)}` : '';
    const want = on + q;
    if (want === state.ringFor && state.ring) return;
    try {
      state.ring = await getJSON(`/ui/api/ring${q}`);
      state.ringError = '';
    } catch (e) {
      state.ringError = `ring layout unavailable: ${e.message}`;
      if (state.ring) state.ring = {...state.ring, key: null}; // no marker for a key not placed
    }
    state.ringFor = want; // after an error, try again only once something changes
  }

  // ---- health

  function drawHealth(health, healthErr) {
    const cluster = state.cluster;
    const items = [];
    const add = (k, ...v) => items.push(el('dt', {}, k), el('dd', {}, ...v));
    let overall = 'healthy';
    if (healthErr) {
      add('this node', el('span', {class: 'status down'}, `unreachable: ${healthErr.message}`));
      overall = 'unhealthy';
    } else if (health.status !== 'ok') {
      add('this node', el('span', {class: 'status down'}, 'unhealthy'), ' — storage commits are failing; writes are refused');
      overall = 'unhealthy';
    } else if (health.filling) {
      add('this node', el('span', {class: 'status suspect'}, 'filling'), ' — refilling after an empty-disk start; its answers do not count yet');
      overall = 'degraded';
    } else {
      add('this node', el('span', {class: 'status up'}, 'ok'));
    }
    if (cluster) {
      const by = (s) => cluster.members.filter((m) => statusOf(m.status) === s).map((m) => m.id);
      const down = by('down');
      const suspect = by('suspect');
      const total = cluster.members.length - by('left').length;
      add('members up', `${total - down.length} of ${total}`);
      if (suspect.length) add('suspect', el('span', {class: 'status suspect'}, suspect.join(', ')), ' (still counted as up)');
      if (down.length) add('down', el('span', {class: 'status down'}, down.join(', ')));
      add('replication factor', `N = ${cluster.replication_factor}; QUORUM needs ${Math.floor(cluster.replication_factor / 2) + 1}`);
      if ((down.length || suspect.length) && overall === 'healthy') overall = 'degraded';
    }
    $('health').replaceChildren(...items);
    const badge = $('overall');
    badge.textContent = overall;
    badge.className = `badge ${overall}`;
  }

  // ---- request rates from /metrics

  // parseMetrics reads Prometheus text: one sample per line, name{labels} value.
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (line === '' || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      out.push({name: m[1], labels, value: Number(m[3])});
    }
    return out;
  }

  // requestStats sums the request counters and latency buckets per operation.
  function requestStats(samples) {
    const ops = {};
    const op = (name) => (ops[name] = ops[name] || {total: 0, errors: 0, buckets: new Map()});
    for (const s of samples) {
      if (s.name === 'chorus_requests_total') {
        const o = op(s.labels.op);
        o.total += s.value;
        if (s.labels.result !== 'ok') o.errors += s.value;
      } else if (s.name === 'chorus_request_duration_seconds_bucket') {
        const b = op(s.labels.op).buckets;
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        b.set(le, (b.get(le) || 0) + s.value);
      }
    }
    return ops;
  }

  // quantile estimates the q-quantile from cumulative bucket counts (as Prometheus's
  // histogram_quantile does): linear within the bucket that holds the rank.
  function quantile(q, buckets) {
    const les = [...buckets.keys()].sort((a, b) => a - b);
    if (les.length === 0) return null;
    const total = buckets.get(les[les.length - 1]);
    if (!(total > 0)) return null;
    const rank = q * total;
    let lower = 0;
    let below = 0;
    for (const le of les) {
      const cum = buckets.get(le);
      if (cum >= rank) {
        if (le === Infinity) return lower;
        return lower + (le - lower) * ((rank - below) / Math.max(cum - below, 1e-9));
      }
      lower = le;
      below = cum;
    }
    return lower;
  }

  function drawRates(text) {
    const now = performance.now();
    const cur = {t: now, ops: requestStats(parseMetrics(text))};
    const prev = state.prevMetrics;
    state.prevMetrics = cur;
    if (!prev) return;
    const dt = (cur.t - prev.t) / 1000;
    const names = [...new Set([...OPS, ...Object.keys(cur.ops)])];
    let sum = 0;
    const rows = names.map((name) => {
      const a = cur.ops[name] || {total: 0, errors: 0, buckets: new Map()};
      const b = prev.ops[name] || {total: 0, errors: 0, buckets: new Map()};
      const n = a.total - b.total;
      if (n < 0) return null; // the node restarted: counters began again
      const delta = new Map([...a.buckets].map(([le, c]) => [le, c - (b.buckets.get(le) || 0)]));
      sum += n / dt;
      return el('tr', {'data-op': name},
        el('td', {}, name),
        el('td', {class: 'num'}, rate(n / dt)),
        el('td', {class: (a.errors - b.errors) > 0 ? 'num error' : 'num'}, rate((a.errors - b.errors) / dt)),
        el('td', {class: 'num'}, seconds(quantile(0.5, delta))),
        el('td', {class: 'num'}, seconds(quantile(0.99, delta))));
    }).filter((r) => r);
    fill($('rates').tBodies[0], rows, 'no requests yet', 5);
    state.spark.push(sum);
    if (state.spark.length > SPARK_POINTS) state.spark.shift();
    const max = Math.max(1, ...state.spark);
    const pts = state.spark.map((v, i) => `${(i * 300) / (SPARK_POINTS - 1)},${(48 - (46 * v) / max).toFixed(1)}`).join(' ');
    $('spark').replaceChildren(svgEl('polyline', {points: pts}));
    $('spark-note').textContent = `${rate(sum)} req/s now, peak ${rate(Math.max(...state.spark))} req/s over the last ${state.spark.length}s; ` +
      'latency percentiles over the last second';
  }

  // ---- hints and read repairs

  function drawHints(h) {
    const rows = (h.targets || []).map((t) => el('tr', {'data-target': t.target},
      el('td', {}, t.target),
      el('td', {class: 'num'}, String(t.count)),
      el('td', {class: 'num'}, bytes(t.bytes)),
      el('td', {title: t.oldest}, ago(t.oldest))));
    fill($('hints').tBodies[0], rows, 'none held', 4);
  }

  function drawRepairs(list) {
    const rows = list.slice(0, REPAIRS_SHOWN).map((r) => el('tr', {},
      el('td', {title: r.repaired_at}, ago(r.repaired_at)),
      el('td', {}, r.keyspace || 'default'),
      el('td', {class: 'mono', title: r.key}, cut(r.key, 80)),
      el('td', {}, r.stale_node)));
    fill($('repairs').tBodies[0], rows, 'none logged', 4);
  }

  function panelError(id, columns, err) {
    fill($(id).tBodies[0], [el('tr', {}, el('td', {class: 'error', colspan: columns}, err.message))], '', columns);
  }

  // ---- key inspector

  function siblingKey(s) {
    return `${s.dot}|${s.tombstone}|${s.timestamp}`;
  }

  async function refreshInspect() {
    const want = state.inspect;
    if (!want) return;
    const seq = state.inspectSeq;
    const status = $('inspect-status');
    const table = $('inspect');
    try {
      const r = await getJSON(`/v1/inspect/${encodeURIComponent(want.keyspace)}/${encodeURIComponent(want.key)}`);
      if (seq !== state.inspectSeq) return;
      const replicas = r.replicas || [];
      const answered = replicas.filter((x) => x.ok);
      const versions = new Set(answered.map((x) => (x.siblings || []).map(siblingKey).sort().join(',')));
      status.className = 'muted';
      status.textContent = `${r.keyspace}/${r.key}: ${answered.length} of ${replicas.length} replicas answered` +
        (answered.length > 1 ? (versions.size === 1 ? '; their copies agree' : '; their copies differ') : '');
      table.hidden = false;
      fill(table.tBodies[0], replicas.map(replicaRow), 'no replicas', 6);
    } catch (e) {
      if (seq !== state.inspectSeq) return;
      status.className = 'error';
      status.textContent = `inspect ${want.keyspace}/${want.key}: ${e.message}`;
      table.hidden = true;
    }
  }

  function replicaRow(x) {
    const sibs = x.siblings || [];
    const col = (f) => (sibs.length ? sibs.map((s) => el('div', {class: s.tombstone ? 'sibling tombstone' : 'sibling'}, f(s))) : ['']);
    let answer;
    if (!x.ok) answer = el('span', {class: 'error'}, x.error || 'no answer');
    else if (x.filling) answer = el('span', {class: 'status suspect', title: 'refilling after an empty-disk start'}, 'filling');
    else answer = el('span', {class: 'status up'}, 'ok');
    let value;
    if (!x.ok) value = [''];
    else if (x.crdt !== undefined && x.crdt !== null) value = [el('span', {title: 'the merged value of this copy'}, cut(shown(x.crdt), VALUE_SHOWN))];
    else if (sibs.length === 0) value = [el('span', {class: 'muted'}, 'absent')];
    else value = col((s) => (s.tombstone ? 'deleted' : cut(shown(s.value), VALUE_SHOWN)));
    return el('tr', {'data-replica': x.node, class: x.ok ? null : 'down'},
      el('td', {}, x.node),
      el('td', {}, answer),
      el('td', {}, x.kind || ''),
      el('td', {class: 'mono'}, ...value),
      el('td', {}, ...col((s) => el('span', {title: s.timestamp || ''}, hlc(s.timestamp || '')))),
      el('td', {class: 'mono'}, ...col((s) => s.dot || '')));
  }

  // shown is a value as text: strings as they are, other JSON values as JSON.
  function shown(v) {
    if (v === undefined || v === null) return '';
    return typeof v === 'string' ? v : JSON.stringify(v);
  }

  // hlc shows a hybrid logical clock timestamp "<unix ms>.<logical>" as a UTC time
  // (with the logical counter when not 0); anything else as it is.
  function hlc(ts) {
    const m = /^(\d{12,14})\.(\d+)$/.exec(ts);
    if (!m) return ts;
    const iso = new Date(Number(m[1])).toISOString().replace('T', ' ').replace('Z', ' UTC');
    return m[2] === '0' ? iso : `${iso} +${m[2]}`;
  }

  $('inspect-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const keyspace = $('inspect-keyspace').value.trim() || 'default';
    const key = $('inspect-key').value;
    if (key === '') return;
    state.inspect = {keyspace, key};
    state.inspectSeq++;
    $('inspect-status').className = 'muted';
    $('inspect-status').textContent = `inspecting ${keyspace}/${key}…`;
    refreshInspect();
    refreshRing().then(() => {
      drawRing();
      drawMembers();
    });
  });

  $('inspect-clear').addEventListener('click', () => {
    state.inspect = null;
    state.inspectSeq++;
    $('inspect').hidden = true;
    $('inspect-status').className = 'muted';
    $('inspect-status').textContent = 'Each replica\'s copy of a key, refreshed every second.';
    refreshRing().then(() => {
      drawRing();
      drawMembers();
    });
  });

  // ---- the poll loop

  async function tick() {
    const started = performance.now();
    const [cluster, health, hints, repairs, metrics] = await Promise.allSettled([
      getJSON('/v1/cluster'),
      getJSON('/healthz', [200, 503]),
      getJSON('/v1/hints'),
      getJSON(`/v1/read-repairs?limit=${REPAIRS_SHOWN}`),
      getText('/metrics'),
      refreshInspect(),
    ]);
    const banner = $('banner');
    if (cluster.status === 'fulfilled') {
      state.cluster = cluster.value;
      banner.hidden = true;
      $('node').textContent = `node ${state.cluster.node}`;
      await refreshRing();
      drawRing();
      drawMembers();
    } else {
      banner.hidden = false;
      banner.textContent = `Cannot reach this node (${cluster.reason.message}); showing what it last reported.`;
    }
    drawHealth(health.value, health.status === 'rejected' ? health.reason : null);
    if (hints.status === 'fulfilled') drawHints(hints.value);
    else panelError('hints', 4, hints.reason);
    if (repairs.status === 'fulfilled') drawRepairs(repairs.value);
    else panelError('repairs', 4, repairs.reason);
    if (metrics.status === 'fulfilled') drawRates(metrics.value);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    setTimeout(tick, Math.max(0, POLL_MS - (performance.now() - started)));
  }

  tick();
})();
