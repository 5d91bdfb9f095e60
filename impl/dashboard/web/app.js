// The bun13 dashboard: one WebSocket carries SPEC section 4 config frames
// (binary) and stats (JSON text). No framework, no build step.
'use strict';

const BASE = '/_dashboard';

// SPEC section 2: flags by bit, and the first version defining each.
const FLAGS = [
  ['DEBUG', 'verbose logs', 1],
  ['TRACE_CONFIG', 'trace config reads', 1],
  ['DISABLE_ISOLATED_LINKER', 'hoisted installs', 1],
  ['COMPRESSION', 'gzip responses', 1],
  ['DNS_CACHE', 'cache uplink DNS answers', 1],
  ['RATE_LIMIT', 'per-client request limits', 1],
  ['AUTH_REQUIRED', 'token needed for reads', 1],
  ['METRICS', 'serve /metrics', 1],
  ['OFFLINE', 'never contact the uplink', 2],
  ['STRICT_INTEGRITY', 'sha512 required on publish', 2],
];
const MODES = ['none', 'cooked', 'raw'];
// Lockfile offset -> [field, width in bytes].
const FIELDS = { 4: ['version', 1], 5: ['registryHash', 4], 9: ['featureFlags', 4], 13: ['terminalMode', 1], 14: ['rows', 1], 15: ['cols', 1] };
const GROUPS = [['ver', 1], ['registry hash', 4], ['feature flags', 4], ['term', 1], ['rows', 1], ['cols', 1], ['rsv', 1]];
const NAKS = ['', 'frame-checksum', 'frame-type', 'frame-offset', 'frame-value', 'unauthorized', 'invalid-config', 'persist-failed', 'rate-limited'];
const T = { SET: 1, ENABLE: 2, DISABLE: 3, SNAPSHOT: 4, ACK: 0x81, NAK: 0x82 };

const $ = (id) => document.getElementById(id);

// ---- checksums (SPEC section 1)

function crc8(bytes) {
  let c = 0;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

const CRC64_TABLE = (() => {
  const poly = 0xC96C5795D7870F42n, t = [];
  for (let n = 0n; n < 256n; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t.push(c);
  }
  return t;
})();
const MASK64 = (1n << 64n) - 1n;

function crc64(bytes) {
  let c = MASK64;
  for (const b of bytes) c = CRC64_TABLE[Number((c ^ BigInt(b)) & 0xffn)] ^ (c >> 8n);
  return c ^ MASK64;
}

// ---- config

function configBytes(c) {
  const b = new Uint8Array(13), v = new DataView(b.buffer);
  v.setUint8(0, c.version);
  v.setUint32(1, c.registryHash);
  v.setUint32(5, c.featureFlags);
  v.setUint8(9, c.terminalMode);
  v.setUint8(10, c.rows);
  v.setUint8(11, c.cols);
  return b;
}

function headerChecksum(c) {
  const b = new Uint8Array(17);
  b.set([0x42, 0x55, 0x4e, 0x31]);
  b.set(configBytes(c), 4);
  return crc64(b);
}

const hex = (n, w) => '0x' + n.toString(16).padStart(w, '0');

// ---- frames (SPEC section 4, little-endian)

function encodeFrame(type, offset, value) {
  const b = new Uint8Array(14), v = new DataView(b.buffer);
  v.setUint8(0, type);
  v.setUint32(1, offset, true);
  v.setBigUint64(5, BigInt(value), true);
  b[13] = crc8(b.subarray(0, 13));
  return b;
}

function decodeFrame(buf) {
  const b = new Uint8Array(buf);
  if (b.length !== 14 || crc8(b.subarray(0, 13)) !== b[13]) return null;
  const v = new DataView(buf);
  return { type: v.getUint8(0), offset: v.getUint32(1, true), value: v.getBigUint64(5, true) };
}

// ---- state

const state = {
  cfg: null,        // the config the last complete batch described
  pending: {},      // SET values since that batch
  verified: null,   // whether our CRC64 of cfg matched the server's
  admin: false,
  user: '',
  requests: [],     // our outstanding requests, answered in order
  lastStats: 0,
  envFormat: 'shell',
};
let ws = null;
let backoff = 500;

function token() { return sessionStorage.getItem('bun13.token') || ''; }
function authHeaders() { const t = token(); return t ? { Authorization: 'Bearer ' + t } : {}; }

// ---- formatting

function fmtRate(r) {
  if (r == null) return '—';
  if (r === 0) return '0';
  if (r < 10) return r.toFixed(1);
  return Math.round(r).toLocaleString('en-US');
}
function fmtCount(n) { return n == null ? '—' : Math.round(n).toLocaleString('en-US'); }
function fmtSeconds(s) {
  if (s == null) return '—';
  if (s < 1e-6) return (s * 1e9).toFixed(s < 1e-8 ? 1 : 0) + ' ns';
  if (s < 1e-3) return (s * 1e6).toFixed(s < 1e-5 ? 1 : 0) + ' µs';
  if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 2 : s < 0.1 ? 1 : 0) + ' ms';
  return s.toFixed(2) + ' s';
}
// setValue shows "920 µs" as a number with a smaller unit.
function setValue(el, text) {
  const i = text.indexOf(' ');
  if (i < 0) { el.textContent = text; return; }
  const u = document.createElement('span');
  u.className = 'unit';
  u.textContent = text.slice(i + 1);
  el.replaceChildren(text.slice(0, i), u);
}
function fmtAgo(t) {
  if (!t || t.startsWith('0001')) return 'never';
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  if (s < 60) return Math.round(s) + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  return Math.round(s / 3600) + 'h ago';
}
function fmtWindow(s) { return s >= 90 ? Math.round(s / 60) + ' min' : Math.round(s) + ' s'; }

// ---- rendering: config

function buildBytes() {
  const box = $('bytes');
  box.textContent = '';
  let i = 0;
  GROUPS.forEach(([name, n], g) => {
    const group = document.createElement('div');
    group.className = 'group';
    group.style.setProperty('--gc', `var(--g${g})`);
    const cells = document.createElement('div');
    cells.className = 'cells';
    for (let k = 0; k < n; k++, i++) {
      const c = document.createElement('span');
      c.className = 'cell';
      c.id = 'b' + i;
      c.title = `${name} · config byte ${i} · lockfile offset 0x${(i + 4).toString(16).padStart(2, '0')}`;
      c.textContent = '··';
      cells.append(c);
    }
    const label = document.createElement('span');
    label.className = 'gname';
    label.textContent = name;
    group.append(cells, label);
    box.append(group);
  });
}

function buildFlags() {
  const list = $('flag-list');
  FLAGS.forEach(([name, desc], bit) => {
    const li = document.createElement('li');
    li.id = 'flag-' + bit;
    const sw = document.createElement('button');
    sw.type = 'button';
    sw.className = 'switch';
    sw.setAttribute('role', 'switch');
    sw.setAttribute('aria-checked', 'false');
    sw.setAttribute('aria-label', name);
    sw.dataset.bit = bit;
    sw.disabled = true;
    sw.addEventListener('click', () => toggleFlag(bit));
    const text = document.createElement('div');
    const n = document.createElement('div');
    n.className = 'flag-name';
    n.textContent = name;
    const d = document.createElement('div');
    d.className = 'flag-desc';
    d.textContent = desc;
    text.append(n, d);
    const b = document.createElement('span');
    b.className = 'flag-bit';
    b.textContent = 'bit ' + bit;
    li.append(sw, text, b);
    list.append(li);
  });
}

function flagNames(f) {
  const names = FLAGS.filter((_, bit) => f & (1 << bit)).map(([n]) => n);
  return names.length ? names.join(' · ') : 'none';
}

function renderConfig(changed) {
  const c = state.cfg;
  if (!c) return;
  const b = configBytes(c);
  for (let i = 0; i < 13; i++) {
    const cell = $('b' + i);
    const t = b[i].toString(16).padStart(2, '0');
    if (cell.textContent !== t) {
      cell.textContent = t;
      if (changed) {
        cell.classList.add('flash');
        requestAnimationFrame(() => requestAnimationFrame(() => cell.classList.remove('flash')));
      }
    }
  }
  const sum = headerChecksum(c);
  $('checksum').textContent = hex(sum, 16);
  const v = $('verified');
  v.hidden = state.verified == null;
  v.textContent = state.verified ? '✓ verified' : '✗ mismatch';
  v.classList.toggle('bad', state.verified === false);
  $('f-version').textContent = String(c.version);
  $('f-hash').textContent = hex(c.registryHash, 8);
  $('f-url').textContent = state.registryURL && state.registryHash === c.registryHash ? state.registryURL : '';
  $('f-flags').textContent = hex(c.featureFlags, 8);
  $('f-flagnames').textContent = flagNames(c.featureFlags);
  $('f-term').textContent = `${MODES[c.terminalMode] ?? c.terminalMode} · ${c.rows}×${c.cols}`;
  renderFlags();
  if ($('env').open) loadEnv();
}

function renderFlags() {
  const c = state.cfg;
  const busy = new Set(state.requests.map((r) => r.bit));
  FLAGS.forEach(([name, , since], bit) => {
    const li = $('flag-' + bit);
    const sw = li.querySelector('.switch');
    const on = !!(c && c.featureFlags & (1 << bit));
    const defined = c ? c.version >= since : true;
    sw.setAttribute('aria-checked', String(on));
    sw.disabled = !state.admin || !defined || !ws || ws.readyState !== WebSocket.OPEN;
    if (busy.has(bit)) sw.dataset.busy = ''; else delete sw.dataset.busy;
    if (defined) delete li.dataset.undefined; else li.dataset.undefined = '';
    sw.title = !defined ? `defined from version ${since}` : state.admin ? (on ? 'disable ' : 'enable ') + name : 'admin only';
  });
  $('flags-note').textContent = state.admin ? 'click to toggle' : 'read-only';
}

// ---- rendering: stats

function setTile(id, level) { $(id).dataset.level = level || ''; }

// The lockfile on disk is invalid or gone: the registry keeps serving
// the last good config and says so here until the file is valid again.
function renderFileBanner(f) {
  const b = $('file-banner');
  if (!f || f.valid) { b.hidden = true; b.textContent = ''; return; }
  let why = f.error || 'invalid';
  if (f.offset != null) why += ` at offset ${f.offset} (0x${f.offset.toString(16)})`;
  b.textContent = `${f.path}: ${why} — serving the last good config since ${new Date(f.since).toLocaleTimeString()}` + (f.detail ? ` (${f.detail})` : '');
  b.hidden = false;
}

function renderStats(s) {
  state.lastStats = Date.now();
  setConn('live');
  renderFileBanner(s.configFile);
  if (!s.metrics) {
    $('rate').textContent = '—';
    $('req-recent').textContent = 'no metrics source';
  } else {
    $('rate').textContent = fmtRate(s.requests.rate);
    $('req-recent').textContent = `${fmtCount(s.requests.recent)} in the last ${fmtWindow(s.window)}`;
  }
  setValue($('p50'), fmtSeconds(s.p50));
  setValue($('p99'), fmtSeconds(s.p99));
  $('qwin').textContent = `over the last ${fmtWindow(s.quantileWindow)}`;

  const counter = (id, c, level) => {
    $(id).textContent = fmtCount(c.recent);
    $(id + '-sub').textContent = `last ${fmtWindow(s.window)} · ${fmtCount(c.total)} total`;
    return c.recent > 0 ? level : '';
  };
  setTile('t-5xx', counter('e5', s.errors5xx, 'bad'));
  setTile('t-4xx', counter('e4', s.errors4xx, ''));
  setTile('t-429', counter('rl', s.rateLimited, 'warn'));
  setTile('t-auth', counter('af', s.authFailures, 'warn'));

  if (s.dns) {
    const r = s.dns.hitRatio;
    $('dns').textContent = r == null ? '—' : (r * 100).toFixed(r > 0.999 ? 1 : 1) + '%';
    $('dns-sub').textContent = `${fmtCount(s.dns.entries)} entries · ${fmtCount(s.dns.lookups)} lookups`;
    setTile('t-dns', r == null ? '' : r < 0.5 ? 'warn' : 'good');
  } else {
    $('dns').textContent = '—';
    $('dns-sub').textContent = 'no DNS cache';
    setTile('t-dns', '');
  }
  if (s.uplink) {
    const u = s.uplink;
    let text = 'down', level = 'bad';
    if (u.offline) { text = 'offline'; level = 'warn'; }
    else if (u.up) { text = 'up'; level = 'good'; }
    else if (!u.requests) { text = 'idle'; level = ''; }
    $('up').textContent = text;
    $('up-sub').textContent = u.up || !u.lastError ? `${hostOf(u.url)} · ok ${fmtAgo(u.lastSuccess)}` : u.lastError;
    $('up-sub').title = u.lastError || '';
    setTile('t-up', level);
  } else {
    $('up').textContent = '—';
    $('up-sub').textContent = 'no uplink';
    setTile('t-up', '');
  }
  $('readlat').textContent = fmtSeconds(s.configReadSeconds);
  $('clients').textContent = fmtCount(s.clients);
  const t = s.terminals || {};
  const n = (t.none || 0) + (t.cooked || 0) + (t.raw || 0);
  $('terms').textContent = n ? `${n} terminal${n > 1 ? 's' : ''} (${t.raw || 0} raw)` : 'no terminals';
  $('pkgs').textContent = fmtCount(s.packages);
  $('vers').textContent = fmtCount(s.versions);
  state.history = s.history || [];
  state.historyCap = s.historyCap || 120;
  $('spark-span').textContent = fmtWindow(state.historyCap * (s.interval || 1));
  drawSpark();
  renderFleet(s.fleet);
}

// ---- rendering: fleet

// The replicas heartbeating into the fleet store, the ones whose config
// differs from the majority's highlighted: the ConfigDrift alert's
// question, answered live. Bytes differing from the common config are
// marked in the hex.
function renderFleet(f) {
  const sec = $('fleet');
  if (!f) { sec.hidden = true; return; }
  sec.hidden = false;
  const rows = f.replicas || [];
  const note = $('fleet-note');
  const n = rows.length;
  let text = `${n} replica${n === 1 ? '' : 's'} · ` + (f.drifting ? `${f.drifting} drifting from ${f.common}` : 'all on one config');
  if (f.error) text += ` · store unreachable: ${f.error}`;
  note.textContent = text;
  note.classList.toggle('bad', !!f.drifting || !!f.error);
  const body = $('fleet-rows');
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    if (r.drift) { tr.className = 'drift'; tr.dataset.drift = 'true'; }
    const td = (content, cls) => {
      const c = document.createElement('td');
      if (cls) c.className = cls;
      if (content instanceof Node) c.append(content); else c.textContent = content;
      return c;
    };
    const id = document.createElement('span');
    id.textContent = r.id;
    const idCell = td(id);
    if (r.self) {
      const me = document.createElement('span');
      me.className = 'self';
      me.textContent = 'this replica';
      idCell.append(me);
    }
    const hexCell = td('', 'mono');
    for (let i = 0; i < r.hex.length; i += 2) {
      const b = document.createElement('span');
      b.textContent = r.hex.slice(i, i + 2) + (i + 2 < r.hex.length ? ' ' : '');
      if (f.common && r.hex.slice(i, i + 2) !== f.common.slice(i, i + 2)) b.className = 'diff';
      hexCell.append(b);
    }
    const c = r.config;
    const flags = c ? flagNames(parseInt(c.featureFlags, 16)) : (r.configError || 'invalid');
    const term = c ? `${c.terminalMode} · ${c.rows}×${c.cols}` : '—';
    let badge = '';
    if (r.drift) {
      badge = document.createElement('span');
      badge.className = 'drift-badge';
      badge.textContent = 'drift';
    }
    tr.append(idCell, td(r.version, 'mono'), hexCell, td(flags), td(term), td(fmtAgo(r.started)), td(fmtAgo(r.seen)), td(badge));
    return tr;
  }));
}

function hostOf(u) { try { return new URL(u).host; } catch { return u || ''; } }

function drawSpark() {
  const canvas = $('spark');
  const h = state.history || [];
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, ht = canvas.clientHeight;
  if (!w || !ht) return;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(ht * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(ht * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, ht);
  const css = getComputedStyle(document.documentElement);
  const accent = css.getPropertyValue('--accent').trim();
  const line = css.getPropertyValue('--line').trim();
  g.strokeStyle = line;
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(0, ht - 0.5);
  g.lineTo(w, ht - 0.5);
  g.stroke();
  const slots = state.historyCap || 120;
  // Headroom above the peak: steady traffic reads as a plateau.
  const peak = Math.max(1, ...h) * 1.15;
  $('spark-max').textContent = h.length ? `peak ${fmtRate(Math.max(0, ...h))} req/s` : '';
  if (h.length < 2) return;
  const step = w / (slots - 1);
  const x0 = w - (h.length - 1) * step;
  const y = (v) => ht - 3 - (v / peak) * (ht - 8);
  g.beginPath();
  h.forEach((v, i) => (i ? g.lineTo : g.moveTo).call(g, x0 + i * step, y(v)));
  const grad = g.createLinearGradient(0, 0, 0, ht);
  grad.addColorStop(0, accent + '55');
  grad.addColorStop(1, accent + '00');
  g.lineTo(w, ht);
  g.lineTo(x0, ht);
  g.closePath();
  g.fillStyle = grad;
  g.fill();
  g.beginPath();
  h.forEach((v, i) => (i ? g.lineTo : g.moveTo).call(g, x0 + i * step, y(v)));
  g.strokeStyle = accent;
  g.lineWidth = 1.6;
  g.lineJoin = 'round';
  g.stroke();
  g.beginPath();
  g.arc(w - 2.5, y(h[h.length - 1]), 2.5, 0, Math.PI * 2);
  g.fillStyle = accent;
  g.fill();
}

// ---- connection

function setConn(s) {
  const el = $('conn');
  el.dataset.state = s;
  $('conn-text').textContent = { live: 'live', connecting: 'connecting', down: 'reconnecting', stale: 'stale' }[s] || s;
}

function toast(text, bad) {
  const t = document.createElement('div');
  t.className = 'toast' + (bad ? ' bad' : '');
  t.textContent = text;
  $('toasts').append(t);
  setTimeout(() => t.remove(), bad ? 6000 : 2500);
}

async function ticket() {
  try {
    const r = await fetch(BASE + '/api/ticket', { method: 'POST', headers: authHeaders() });
    if (r.ok) return await r.json();
    if (r.status === 401 && token()) toast('token refused by the registry', true);
  } catch { /* the WebSocket attempt reports the outage */ }
  return null;
}

async function connect() {
  setConn(state.cfg ? 'down' : 'connecting');
  const t = await ticket();
  const u = new URL(BASE + '/ws', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (t) u.searchParams.set('ticket', t.ticket);
  const sock = new WebSocket(u);
  sock.binaryType = 'arraybuffer';
  ws = sock;
  sock.onopen = () => { backoff = 500; };
  sock.onmessage = (ev) => {
    if (typeof ev.data === 'string') onText(JSON.parse(ev.data));
    else onFrame(decodeFrame(ev.data));
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    state.requests = [];
    setConn('down');
    renderFlags();
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10000);
  };
}

function onText(m) {
  if (m.type === 'hello') {
    state.admin = !!m.admin;
    state.user = m.user || '';
    state.registryURL = m.registryURL || '';
    state.registryHash = m.registryHash ?? null;
    // Fields an environment variable overrides: the file holds another
    // value, and a change made here is written to the file but not run.
    for (const f of ['version', 'registryHash', 'featureFlags', 'terminalMode']) {
      const src = (m.sources || {})[f];
      const el = $('src-' + f);
      el.hidden = !src || src === 'file';
      el.textContent = el.hidden ? '' : 'from ' + src;
      el.title = el.hidden ? '' : `${src} overrides the lockfile for this process; changes are written to the file only`;
    }
    $('who').textContent = (state.user || 'anonymous') + (state.admin ? ' · admin' : ' · read-only');
    $('signin').textContent = token() ? 'Token' : 'Sign in';
    renderFlags();
    renderConfig(false);
  } else if (m.type === 'stats') {
    renderStats(m);
  }
}

function onFrame(f) {
  if (!f) return;
  if (f.type === T.SET) {
    const field = FIELDS[f.offset];
    if (field) state.pending[field[0]] = Number(f.value);
    return;
  }
  if (f.type === T.ACK && f.offset === 0) {
    // The SETs since the last batch describe a config whose CRC the
    // server sends: check ours against it.
    const first = !state.cfg;
    state.cfg = Object.assign({}, state.cfg || {}, state.pending);
    state.pending = {};
    state.verified = headerChecksum(state.cfg) === f.value;
    renderConfig(!first);
    return;
  }
  if (f.type === T.ACK || f.type === T.NAK) {
    const req = state.requests.shift();
    const what = req ? `${req.enable ? 'enable' : 'disable'} ${FLAGS[req.bit][0]}` : 'request';
    if (f.type === T.NAK) {
      const code = Number(f.value);
      toast(`${what} refused: ${NAKS[code] || 'nak ' + code} (${code})`, true);
    } else {
      toast(`${what}: done`);
    }
    renderFlags();
  }
}

function toggleFlag(bit) {
  if (!state.admin || !state.cfg || !ws || ws.readyState !== WebSocket.OPEN) return;
  const enable = !(state.cfg.featureFlags & (1 << bit));
  state.requests.push({ bit, enable });
  ws.send(encodeFrame(enable ? T.ENABLE : T.DISABLE, 9, 1 << bit));
  renderFlags();
}

// ---- environment export

async function loadEnv() {
  try {
    const r = await fetch(`${BASE}/api/env?format=${state.envFormat}`, { headers: authHeaders() });
    $('env-text').textContent = (await r.text()).trimEnd();
  } catch {
    $('env-text').textContent = 'unavailable';
  }
}

function setupEnv() {
  const d = $('env');
  d.addEventListener('toggle', () => { if (d.open) loadEnv(); });
  d.querySelectorAll('[data-format]').forEach((b) => b.addEventListener('click', () => {
    state.envFormat = b.dataset.format;
    d.querySelectorAll('[data-format]').forEach((x) => x.setAttribute('aria-selected', String(x === b)));
    loadEnv();
  }));
  $('copy-env').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('env-text').textContent);
      toast('copied');
    } catch {
      toast('copy not allowed here', true);
    }
  });
}

// ---- sign in

function setupToken() {
  // A link may carry the token in its fragment, which never reaches a
  // server or a log: keep it for this tab, then drop it from the address.
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem('bun13.token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const form = $('token-form');
  $('signin').addEventListener('click', () => {
    form.hidden = !form.hidden;
    if (!form.hidden) $('token').focus();
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem('bun13.token', t);
    $('token').value = '';
    form.hidden = true;
    if (ws) ws.close();
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem('bun13.token');
    form.hidden = true;
    if (ws) ws.close();
  });
}

function init() {
  buildBytes();
  buildFlags();
  setupEnv();
  setupToken();
  window.addEventListener('resize', drawSpark);
  // A socket can stay open while its stats stop (a stalled proxy).
  setInterval(() => {
    if (ws && state.lastStats && Date.now() - state.lastStats > 3500) setConn('stale');
  }, 1000);
  connect();
}

init();
