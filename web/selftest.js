// selftest.js — checks of the UI's pure logic on hand-made documents, runnable in
// node and in a browser (selftest.html), with no server.
//
//   node --input-type=module -e "import('/path/to/web/selftest.js').then((m) => m.main())"
//
// The heart is the diff contract: a published snapshot patched with the next
// diff must equal the next snapshot (what the Rust test
// `a_published_diff_applied_to_published_json_gives_the_next_json` checks on the
// writer's side), a diff must apply only on the seq and epoch it names, and a
// malformed one must leave the held document untouched. Prints one line per check
// and closes with "N passed, M failed".

import {
  applyHeatmapDiff,
  applyGexDiff,
  decodeHeatmap,
  encodeHeatmap,
  patchHeatmap,
  ChainState,
  StreamConnection,
  RESYNC_REQUEST,
  CAN_INFLATE,
} from './stream.js';
import { buildGrid, uniformRows, cellValue, computeScale, colorIndex, yForPrice, labelInterval, NO_CONTRACT, PALETTES } from './heatmap.js';
import { wallsFor, otherRoots, trackFlip, curveInView } from './profile.js';
import { columnFromHistory, columnFromGex, pixelColumns, priceAxis } from './timeline.js';
import { hedgeFromHistory, hedgeFromGex, mergePoints, signedSummary, topFlowRows } from './flow.js';
import * as fmt from './format.js';

// ---------------------------------------------------------------------------
// Hand-made documents: 2 expirations × 2 strikes × call/put = 8 contracts.
// ---------------------------------------------------------------------------

function heatmapDoc({ seq = 10, epoch = 'SPX-20261124-0001', reason = 'startup' } = {}) {
  return {
    schema: 'chainboard/heatmap/v1',
    symbol: 'SPX',
    epoch: { id: epoch, reason, started_at: 1795532400.1 },
    seq,
    ts: 1795532460.5,
    spot: 6850.25,
    anchor: { spot: 6850, at: 1795532460 },
    today: '2026-11-24',
    feed: { state: 'live', silence_ms: 40, quotes: 1000, trades: 10, geometry_miss: 0 },
    sources: { live: 6, vendor: 1, missing: 1 },
    unusable: { no_quote: 0, crossed: 0, zero_bid: 1, no_spot: 0, expired: 0, no_solution: 0 },
    expirations: {
      date: ['2026-11-24', '2026-12-18'],
      root: ['SPXW', 'SPX'],
      settlement: ['pm_close', 'am_open'],
      settles_at: [1795554000, 1797602400],
      dte: [0, 24],
      t_years: [0.0005, 0.066],
      filters: [['all', '0dte', 'next', '7d', '45d'], ['all', '45d']],
    },
    strikes: [6800, 6900],
    contracts: {
      // slot:   0     1     2     3     4     5     6     7
      expiry: [0, 0, 0, 0, 1, 1, 1, 1],
      strike: [0, 0, 1, 1, 0, 0, 1, 1],
      right: 'CPCPCPCP',
      bid: [55.1, 4.2, 8.5, 52.3, 120.4, 60.2, 70.1, 105.5],
      ask: [55.9, 4.4, 8.9, 53.1, 122.0, 61.0, 71.3, 107.1],
      mid: [55.5, 4.3, 8.7, 52.7, 121.2, 60.6, 70.7, 106.3],
      iv: [0.18, 0.21, 0.15, 0.19, 0.17, 0.2, 0.16, 0.18],
      delta: [0.8, -0.2, 0.3, -0.7, 0.6, -0.4, 0.45, -0.55],
      gamma: [0.001, 0.0012, 0.002, 0.0011, 0.0008, 0.0009, 0.001, 0.0007],
      theta: [-5, -4, -6, -3, -2, -2, -2.5, -2],
      vega: [1.1, 1.2, 1.5, 1.3, 8, 8.2, 8.5, 8.1],
      oi: [1200, 3400, 800, null, 5000, 7000, 6000, 2000],
      volume: [300, 900, 1500, 200, null, 50, 80, 40],
      gex: [12000000, -30000000, 9000000, -4000000, 50000000, -70000000, 60000000, -20000000],
      gex_volume: [3000000, -8000000, 15000000, -2000000, 0, -500000, 800000, -400000],
      source: 'LLLVLL-L',
    },
  };
}

function heatmapDiffDoc({ base = 10, seq = 11, epoch = 'SPX-20261124-0001' } = {}) {
  return {
    schema: 'chainboard/heatmap-diff/v1',
    symbol: 'SPX',
    epoch,
    base_seq: base,
    seq,
    ts: 1795532461.5,
    spot: 6851.75,
    anchor: { spot: 6851, at: 1795532461 },
    today: '2026-11-24',
    feed: { state: 'quiet', silence_ms: 2100, quotes: 1200, trades: 12, geometry_miss: 3 },
    sources: { live: 5, vendor: 1, missing: 2 },
    unusable: { no_quote: 1, crossed: 0, zero_bid: 1, no_spot: 0, expired: 0, no_solution: 0 },
    expirations: { dte: [0, 23], t_years: [0.0004, 0.063], filters: [['all', '0dte', 'next', '7d', '45d'], ['all', '7d', '45d']] },
    contracts: {
      slot: [1, 6],
      bid: [4.0, null],
      ask: [4.6, null],
      mid: [4.3, null],
      iv: [0.215, null],
      delta: [-0.21, null],
      gamma: [0.00125, null],
      theta: [-4.1, null],
      vega: [1.21, null],
      oi: [3400, 6000],
      volume: [950, 81],
      gex: [-31000000, 0],
      gex_volume: [-8100000, 0],
      source: 'V-',
    },
  };
}

/** What `heatmapDoc()` + `heatmapDiffDoc()` must give, written out by hand. */
function expectedNextHeatmap() {
  const next = heatmapDoc({ seq: 11 });
  next.ts = 1795532461.5;
  next.spot = 6851.75;
  next.anchor = { spot: 6851, at: 1795532461 };
  next.feed = { state: 'quiet', silence_ms: 2100, quotes: 1200, trades: 12, geometry_miss: 3 };
  next.sources = { live: 5, vendor: 1, missing: 2 };
  next.unusable = { no_quote: 1, crossed: 0, zero_bid: 1, no_spot: 0, expired: 0, no_solution: 0 };
  next.expirations.dte = [0, 23];
  next.expirations.t_years = [0.0004, 0.063];
  next.expirations.filters = [['all', '0dte', 'next', '7d', '45d'], ['all', '7d', '45d']];
  const c = next.contracts;
  Object.assign(c, {
    bid: [55.1, 4.0, 8.5, 52.3, 120.4, 60.2, null, 105.5],
    ask: [55.9, 4.6, 8.9, 53.1, 122.0, 61.0, null, 107.1],
    mid: [55.5, 4.3, 8.7, 52.7, 121.2, 60.6, null, 106.3],
    iv: [0.18, 0.215, 0.15, 0.19, 0.17, 0.2, null, 0.18],
    delta: [0.8, -0.21, 0.3, -0.7, 0.6, -0.4, null, -0.55],
    gamma: [0.001, 0.00125, 0.002, 0.0011, 0.0008, 0.0009, null, 0.0007],
    theta: [-5, -4.1, -6, -3, -2, -2, null, -2],
    vega: [1.1, 1.21, 1.5, 1.3, 8, 8.2, null, 8.1],
    oi: [1200, 3400, 800, null, 5000, 7000, 6000, 2000],
    volume: [300, 950, 1500, 200, null, 50, 81, 40],
    gex: [12000000, -31000000, 9000000, -4000000, 50000000, -70000000, 0, -20000000],
    gex_volume: [3000000, -8100000, 15000000, -2000000, 0, -500000, 0, -400000],
    source: 'LVLVLL-L',
  });
  return next;
}

const METRIC_NAMES = ['call_gex', 'put_gex', 'call_gex_volume', 'put_gex_volume', 'dex', 'vanna', 'charm'];
const FILTER_NAMES = ['all', '0dte', 'next', '7d', '45d'];

/** `levels` of a filter with no flip, in the schema's full shape. */
function noFlipLevels() {
  return {
    zero_gamma: null,
    zero_gamma_status: 'none_in_range',
    zero_gamma_rising: null,
    zero_gamma_transition: null,
    zero_gamma_roots: [],
    call_wall: 6900,
    put_wall: 6800,
    call_wall_volume: 6850,
    put_wall_volume: 6850,
    distance: {
      zero_gamma: null,
      call_wall: { points: 49.75, pct: 0.726 },
      put_wall: { points: -50.25, pct: -0.734 },
      call_wall_volume: { points: -0.25, pct: -0.004 },
      put_wall_volume: { points: -0.25, pct: -0.004 },
    },
  };
}

/** `levels` with a flip at 6861.25 that just switched roots; another root at 6790. */
function flipLevels() {
  return {
    zero_gamma: 6861.25,
    zero_gamma_status: 'found',
    zero_gamma_rising: true,
    zero_gamma_transition: 'switched',
    zero_gamma_roots: [
      { level: 6790, rising: false },
      { level: 6861.25, rising: true },
    ],
    call_wall: 6850,
    put_wall: 6800,
    call_wall_volume: 6875,
    put_wall_volume: 6825,
    distance: {
      zero_gamma: { points: 9.5, pct: 0.139 },
      call_wall: { points: -1.75, pct: -0.026 },
      put_wall: { points: -51.75, pct: -0.755 },
      call_wall_volume: { points: 23.25, pct: 0.339 },
      put_wall_volume: { points: -26.75, pct: -0.39 },
    },
  };
}

/** A gamma curve of five hypothetical spots, crossing zero between 6800 and 6900. */
function gexCurve(scale = 1) {
  return {
    spot: [6700, 6750, 6800, 6900, 7000],
    gex: [-4e9, -3e9, -1e9, 2e9, 3e9].map((g) => g * scale),
    floor: 6e7 * scale,
    peak: 4e9 * scale,
  };
}

function gexFilter(scale) {
  const f = {};
  for (const m of METRIC_NAMES) f[m] = [1, 2, 3].map((x) => x * scale);
  f.total = { call_gex: 1, put_gex: -1, call_gex_volume: 1, put_gex_volume: -1, dex: 1, vanna: 1, charm: 1, net_gex: 0, net_gex_volume: 0 };
  f.levels = noFlipLevels();
  f.curve = gexCurve(scale);
  return f;
}

function gexDoc({ seq = 10, epoch = 'SPX-20261124-0001' } = {}) {
  const expirations = { date: ['2026-11-24', '2026-12-18'], root: ['SPXW', 'SPX'] };
  for (const m of METRIC_NAMES) expirations[m] = [100, 200];
  const filters = {};
  FILTER_NAMES.forEach((name, i) => {
    filters[name] = gexFilter(10 ** i);
  });
  return {
    schema: 'chainboard/gex/v1',
    symbol: 'SPX',
    epoch: { id: epoch, reason: 'startup', started_at: 1795532400.1 },
    seq,
    ts: 1795532460.5,
    spot: 6850.25,
    anchor: { spot: 6850, at: 1795532460 },
    dealer_sign: 'calls_long',
    strikes: [6800, 6850, 6900],
    expirations,
    filters,
  };
}

function gexDiffDoc({ base = 10, seq = 11, epoch = 'SPX-20261124-0001' } = {}) {
  const empty = () => {
    const f = { index: [] };
    for (const m of METRIC_NAMES) f[m] = [];
    return f;
  };
  const filters = {};
  for (const name of FILTER_NAMES) {
    filters[name] = empty();
    filters[name].total = { call_gex: 1, put_gex: -1, call_gex_volume: 1, put_gex_volume: -1, dex: 1, vanna: 1, charm: 1, net_gex: 0, net_gex_volume: 0 };
    filters[name].levels = noFlipLevels();
    filters[name].curve = gexCurve(10 ** FILTER_NAMES.indexOf(name));
  }
  filters.all = {
    index: [1],
    total: { ...filters.all.total, net_gex: 5 },
    levels: flipLevels(),
    // Three points where the snapshot had five: the diff's curve replaces it whole.
    curve: { spot: [6800, 6850, 6900], gex: [-2e9, 1e8, 2.5e9], floor: 5e7, peak: 2.5e9 },
  };
  filters['0dte'].curve = null; // nothing left to scan
  for (const m of METRIC_NAMES) filters.all[m] = [-7];
  const expirations = { index: [0] };
  for (const m of METRIC_NAMES) expirations[m] = [111];
  return { schema: 'chainboard/gex-diff/v1', symbol: 'SPX', epoch, base_seq: base, seq, ts: 1795532461.5, spot: 6851.75, anchor: { spot: 6851, at: 1795532461 }, expirations, filters };
}

// ---------------------------------------------------------------------------
// A minimal test runner (no dependencies: it must run in a bare browser too).
// ---------------------------------------------------------------------------

const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

function deepEqual(a, b, path = '$') {
  if (Object.is(a, b)) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (!(k in a) || !(k in b)) return `${path}.${k}: missing on one side`;
    const d = deepEqual(a[k], b[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

function assertEqual(actual, expected, what = '') {
  const d = deepEqual(actual, expected);
  if (d) throw new Error(`${what} ${d}`.trim());
}

function assert(condition, what) {
  if (!condition) throw new Error(what);
}

function assertThrows(fn, what) {
  let threw = false;
  try {
    fn();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error(`${what}: did not throw`);
}

// ---------------------------------------------------------------------------
// Diff application
// ---------------------------------------------------------------------------

test('a heatmap snapshot patched with its diff is the next snapshot', () => {
  assertEqual(applyHeatmapDiff(heatmapDoc(), heatmapDiffDoc()), expectedNextHeatmap());
});

test('applyHeatmapDiff does not touch its inputs', () => {
  const doc = heatmapDoc();
  const diff = heatmapDiffDoc();
  const docBefore = JSON.stringify(doc);
  const diffBefore = JSON.stringify(diff);
  applyHeatmapDiff(doc, diff);
  assert(JSON.stringify(doc) === docBefore && JSON.stringify(diff) === diffBefore, 'inputs changed');
});

test('the diff envelope (schema, base_seq, epoch as a string) does not leak into the snapshot', () => {
  const next = applyHeatmapDiff(heatmapDoc(), heatmapDiffDoc());
  assert(next.schema === 'chainboard/heatmap/v1', 'schema');
  assert(!('base_seq' in next), 'base_seq copied');
  assertEqual(next.epoch, heatmapDoc().epoch, 'epoch');
});

test('a diff without expirations keeps the columns', () => {
  const diff = heatmapDiffDoc();
  delete diff.expirations;
  const next = applyHeatmapDiff(heatmapDoc(), diff);
  assertEqual(next.expirations, heatmapDoc().expirations);
});

test('decode → encode gives the published document back (nulls and letters included)', () => {
  assertEqual(encodeHeatmap(decodeHeatmap(heatmapDoc())), heatmapDoc());
});

test('patchHeatmap reports the changed slots and whether columns moved', () => {
  const heatmap = decodeHeatmap(heatmapDoc());
  const change = patchHeatmap(heatmap, heatmapDiffDoc());
  assertEqual(Array.from(change.slots), [1, 6]);
  assert(change.columnsChanged === true, 'columnsChanged');
  assert(Number.isNaN(heatmap.contracts.mid[6]), 'null → NaN');
  assert(heatmap.contracts.source[6] === '-'.charCodeAt(0), 'source letter');
});

const malformed = [
  ['a slot past the board', (d) => { d.contracts.slot = [1, 8]; }],
  ['a negative slot', (d) => { d.contracts.slot = [-1, 6]; }],
  ['a column shorter than slot', (d) => { d.contracts.bid = [4.0]; }],
  ['source letters shorter than slot', (d) => { d.contracts.source = 'L'; }],
  ['a column the snapshot lacks', (d) => { d.contracts.rho = [1, 2]; }],
];
for (const [what, spoil] of malformed) {
  test(`a diff with ${what} throws and leaves the heatmap untouched`, () => {
    const heatmap = decodeHeatmap(heatmapDoc());
    const diff = heatmapDiffDoc();
    spoil(diff);
    assertThrows(() => patchHeatmap(heatmap, diff), what);
    assertEqual(encodeHeatmap(heatmap), heatmapDoc());
  });
}

test('a GEX snapshot patched with its diff changes exactly the named rows', () => {
  const next = applyGexDiff(gexDoc(), gexDiffDoc());
  const want = gexDoc({ seq: 11 });
  want.ts = 1795532461.5;
  want.spot = 6851.75;
  want.anchor = { spot: 6851, at: 1795532461 };
  for (const m of METRIC_NAMES) {
    want.filters.all[m][1] = -7;
    want.expirations[m][0] = 111;
  }
  want.filters.all.total.net_gex = 5;
  want.filters.all.levels = flipLevels();
  want.filters.all.curve = { spot: [6800, 6850, 6900], gex: [-2e9, 1e8, 2.5e9], floor: 5e7, peak: 2.5e9 };
  want.filters['0dte'].curve = null;
  assertEqual(next, want);
});

test("a GEX diff's levels and curve replace the filter's whole, not merged into the old ones", () => {
  const doc = gexDoc();
  doc.filters.all.levels.stale_key = 'from the old levels';
  const state = new ChainState('SPX');
  state.receive(heatmapDoc());
  state.receive(doc);
  const outcome = state.receive(gexDiffDoc());
  assert(outcome.kind === 'gex' && !outcome.full, `applied: ${outcome.kind}`);
  const all = state.gex.filters.all;
  assertEqual(all.levels, flipLevels(), 'levels');
  assert(all.curve.spot.length === 3 && all.curve.gex.length === 3, `curve of ${all.curve.spot.length} points`);
  assert(all.curve.peak === 2.5e9, 'curve peak');
  assert(state.gex.filters['0dte'].curve === null, 'a null curve replaces the old one');
  assertEqual(state.gex.filters['7d'].curve, gexCurve(1000), 'an unchanged curve stays');
  assertEqual(state.gex.filters['7d'].levels, noFlipLevels(), 'levels of the other filters');
});

test('applyGexDiff does not touch its inputs', () => {
  const doc = gexDoc();
  const before = JSON.stringify(doc);
  applyGexDiff(doc, gexDiffDoc());
  assert(JSON.stringify(doc) === before, 'input changed');
});

test('a GEX diff naming a strike row past the snapshot throws', () => {
  const diff = gexDiffDoc();
  diff.filters['7d'] = { ...diff.filters['7d'], index: [3] };
  for (const m of METRIC_NAMES) diff.filters['7d'][m] = [1];
  assertThrows(() => applyGexDiff(gexDoc(), diff), 'row 3 of 3');
});

// ---------------------------------------------------------------------------
// ChainState: when a diff applies
// ---------------------------------------------------------------------------

function syncedState() {
  const state = new ChainState('SPX');
  state.receive(heatmapDoc());
  state.receive(gexDoc());
  return state;
}

test('full documents make the state synced; a matching diff pair applies', () => {
  const state = syncedState();
  assert(state.synced, 'synced after full docs');
  const h = state.receive(heatmapDiffDoc());
  const g = state.receive(gexDiffDoc());
  assert(h.kind === 'heatmap' && !h.full && g.kind === 'gex' && !g.full, `${h.kind}/${g.kind}`);
  assert(state.heatmap.seq === 11 && state.gex.seq === 11, 'seqs advanced');
  assertEqual(encodeHeatmap(state.heatmap), expectedNextHeatmap());
});

const mismatches = [
  ['a skipped seq', () => heatmapDiffDoc({ base: 11, seq: 12 })],
  ['an old seq', () => heatmapDiffDoc({ base: 9, seq: 10 })],
  ['another epoch', () => heatmapDiffDoc({ epoch: 'SPX-20261124-0002' })],
];
for (const [what, make] of mismatches) {
  test(`a heatmap diff from ${what} asks for one resync and is not applied`, () => {
    const state = syncedState();
    const first = state.receive(make());
    assert(first.kind === 'resync', `got ${first.kind}`);
    assert(state.heatmap.seq === 10, 'not applied');
    const again = state.receive(make());
    assert(again.kind === 'ignored', 'a second resync while one is pending');
    assert(state.resyncs === 1 && !state.synced, 'one resync, not synced');
  });
}

test('a GEX diff on the wrong base asks for a resync too', () => {
  const state = syncedState();
  assert(state.receive(gexDiffDoc({ base: 7, seq: 8 })).kind === 'resync', 'resync');
});

test('a diff before any full document asks for a resync', () => {
  const state = new ChainState('SPX');
  assert(state.receive(heatmapDiffDoc()).kind === 'resync', 'resync');
});

test('the full documents answering a resync make it synced again, and diffs apply', () => {
  const state = syncedState();
  state.receive(heatmapDiffDoc({ base: 11, seq: 12 }));
  state.receive(heatmapDoc({ seq: 12 }));
  assert(!state.synced, 'still awaiting GEX');
  state.receive(gexDoc({ seq: 12 }));
  assert(state.synced, 'synced');
  const h = state.receive(heatmapDiffDoc({ base: 12, seq: 13 }));
  assert(h.kind === 'heatmap' && state.heatmap.seq === 13, 'diff applied after resync');
});

test('a full heatmap of a new epoch is flagged as an epoch change; the same epoch is not', () => {
  const state = syncedState();
  const same = state.receive(heatmapDoc({ seq: 20 }));
  assert(same.epochChanged === false, 'same epoch flagged');
  const next = state.receive(heatmapDoc({ seq: 21, epoch: 'SPX-20261124-0002', reason: 'stale_feed' }));
  assert(next.epochChanged === true && next.previousEpoch === 'SPX-20261124-0001', 'change not flagged');
  assert(new ChainState('SPX').receive(heatmapDoc()).epochChanged === false, 'the first document is no change');
});

test('documents for another symbol and unknown schemas are ignored', () => {
  const state = syncedState();
  const other = heatmapDiffDoc();
  other.symbol = 'NDX';
  assert(state.receive(other).kind === 'ignored', 'other symbol');
  assert(state.receive({ schema: 'chainboard/other/v9', symbol: 'SPX' }).kind === 'ignored', 'unknown schema');
  assert(state.resyncs === 0, 'no resync');
});

test('a status document is kept', () => {
  const state = syncedState();
  const status = { schema: 'chainboard/status/v1', symbol: 'SPX', quotes_per_s: 12.5, feed_silence_ms: 10, geometry_miss: 0, epoch: null, transitions: [] };
  assert(state.receive(status).kind === 'status' && state.status === status, 'status');
});

// ---------------------------------------------------------------------------
// StreamConnection over a fake socket
// ---------------------------------------------------------------------------

class FakeSocket {
  static opened = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.opened.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen && this.onopen();
  }
  deliver(doc) {
    this.onmessage({ data: JSON.stringify(doc) });
  }
  send(text) {
    this.sent.push(text);
  }
  close() {
    this.readyState = 3;
    this.onclose && this.onclose();
  }
}

test('the connection asks for a resync on a gap, shows it, and reconnects after a close', async () => {
  FakeSocket.opened = [];
  const states = [];
  const state = new ChainState('SPX');
  const connection = new StreamConnection({
    symbol: 'SPX',
    state,
    onOutcome: () => {},
    onConnection: (s) => states.push(s),
    compressed: false,
    WebSocketImpl: FakeSocket,
    baseUrl: 'ws://test',
  });
  connection.start();
  try {
    const socket = FakeSocket.opened[0];
    assert(socket.url === 'ws://test/api/v1/stream/SPX', socket.url);
    socket.open();
    socket.deliver(heatmapDoc());
    socket.deliver(gexDoc());
    assert(states.at(-1) === 'live', `after full docs: ${states.at(-1)}`);
    socket.deliver(heatmapDiffDoc({ base: 11, seq: 12 }));
    assertEqual(socket.sent, [RESYNC_REQUEST], 'resync sent');
    assert(states.at(-1) === 'resyncing', `after a gap: ${states.at(-1)}`);
    socket.deliver(heatmapDoc({ seq: 12 }));
    socket.deliver(gexDoc({ seq: 12 }));
    assert(states.at(-1) === 'live', `after the answer: ${states.at(-1)}`);
    socket.close();
    assert(states.at(-1) === 'connecting', 'connecting after a close');
    await new Promise((resolve) => setTimeout(resolve, 700)); // first backoff ≤ 500 ms
    assert(FakeSocket.opened.length === 2, `reconnected: ${FakeSocket.opened.length} sockets`);
    assert(state.awaitingHeatmap && state.awaitingGex, 'starts over from full documents');
    assert(state.heatmap && state.heatmap.seq === 12, 'keeps showing what it had');
  } finally {
    connection.stop();
  }
});

/** `doc` as the server sends it with `?encoding=deflate`: zlib-compressed JSON. */
async function deflated(doc) {
  const stream = new Blob([JSON.stringify(doc)]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Response(stream).arrayBuffer();
}

test('compressed messages are inflated and taken in arrival order, text among them', async () => {
  assert(typeof CompressionStream === 'function' && CAN_INFLATE, 'this runtime has (De)CompressionStream');
  FakeSocket.opened = [];
  const state = new ChainState('SPX');
  const outcomes = [];
  const connection = new StreamConnection({
    symbol: 'SPX',
    state,
    token: 'a token with spaces',
    compressed: true,
    onOutcome: (o) => outcomes.push(o.kind),
    onConnection: () => {},
    WebSocketImpl: FakeSocket,
    baseUrl: 'ws://test',
  });
  connection.start();
  try {
    const socket = FakeSocket.opened[0];
    assert(socket.url === 'ws://test/api/v1/stream/SPX?token=a+token+with+spaces&encoding=deflate', socket.url);
    assert(socket.binaryType === 'arraybuffer', 'binary messages as ArrayBuffers');
    socket.open();
    const [heatmap, gex, diff] = await Promise.all([deflated(heatmapDoc()), deflated(gexDoc()), deflated(heatmapDiffDoc())]);
    socket.onmessage({ data: heatmap });
    socket.onmessage({ data: gex });
    // A status (text) behind compressed messages waits for them.
    socket.onmessage({ data: JSON.stringify({ schema: 'chainboard/status/v1', symbol: 'SPX' }) });
    socket.onmessage({ data: diff });
    assert(state.awaitingHeatmap, 'nothing applied before inflating');
    await connection.inflating;
    assert(!state.awaitingHeatmap && !state.awaitingGex, 'full documents held');
    assert(state.heatmap.seq === 11, `the diff applied after them: seq ${state.heatmap.seq}`);
    assert(connection.inflating === null, 'nothing left to inflate');
    assertEqual(socket.sent, [], 'no resync asked');
  } finally {
    connection.stop();
  }
});

// ---------------------------------------------------------------------------
// Heatmap grid, values and colours
// ---------------------------------------------------------------------------

test('the grid shows the filter\'s columns, strikes high to low, and maps slots to cells', () => {
  const heatmap = decodeHeatmap(heatmapDoc());
  const all = buildGrid(heatmap, { filter: 'all', windowPct: Infinity, center: 6850 });
  assertEqual(Array.from(all.cols), [0, 1], 'cols');
  assertEqual(Array.from(all.rowStrikes), [6900, 6800], 'rows high to low');
  // slot 2 = expiry 0, strike 6900, call → row 0, col 0
  assert(all.cellOfSlot[2] === 0 && all.call[0] === 2 && all.put[0] === 3, 'slot → cell');
  const zero = buildGrid(heatmap, { filter: '0dte', windowPct: Infinity, center: 6850 });
  assertEqual(Array.from(zero.cols), [0], '0dte cols');
  assert(zero.cellOfSlot[4] === -1, 'a hidden column paints nothing');
  const tight = buildGrid(heatmap, { filter: 'all', windowPct: 0.005, center: 6800 });
  assertEqual(Array.from(tight.rowStrikes), [6800], 'window');
});

test('rows are a uniform price axis: every strike on a row, empty rows where strikes thin out', () => {
  // 5-point strikes near spot, 25-point ones further out.
  const strikes = [6700, 6725, 6750, 6775, 6800, 6805, 6810, 6815, 6820, 6825, 6830, 6850, 6900];
  const listed = strikes.map((_, i) => i).sort((a, b) => strikes[b] - strikes[a]);
  const { rowList, rowOfStrike, rowStrikes, step } = uniformRows(listed, strikes);
  assert(step === 5, `step ${step}`);
  assert(rowStrikes.length === 41 && rowStrikes[0] === 6900 && rowStrikes[40] === 6700, `rows ${rowStrikes.length}`);
  for (let r = 0; r + 1 < rowStrikes.length; r++) {
    assert(Math.abs(rowStrikes[r] - rowStrikes[r + 1] - 5) < 1e-9, `uniform at row ${r}`);
  }
  for (const [i, k] of strikes.entries()) assert(rowStrikes[rowOfStrike[i]] === k, `${k} on its own row`);
  assert(rowList[1] === -1 && rowList[5] === -1, 'rows between 6900 and 6850 are empty');
  assert(rowOfStrike[strikes.indexOf(6725)] === 35, 'far strikes keep their distance');
  // A 2.5-point strike among 5-point ones: 2.5-point rows, nothing hidden.
  const odd = [6840, 6845, 6850, 6852.5, 6855, 6860];
  const o = uniformRows(odd.map((_, i) => i).reverse(), odd);
  assert(o.step === 2.5 && o.rowStrikes.length === 9, `step ${o.step}, ${o.rowStrikes.length} rows`);
  assert(odd.every((k, i) => o.rowStrikes[o.rowOfStrike[i]] === k), 'every strike shown');
  // Too many rows (a whole chain at its finest step): one row per listed strike.
  const wide = [5, 10, 15, 20, 6000, 12000];
  const w = uniformRows(wide.map((_, i) => i).reverse(), wide);
  assert(w.step === 0 && w.rowStrikes.length === 6, 'fallback to listed strikes');
});

test('GEX cells sum call and put; sided metrics pick one; null and absent differ', () => {
  const doc = heatmapDoc();
  doc.contracts.gex[7] = null; // expiry 1, strike 6900 put: no value
  const heatmap = decodeHeatmap(doc);
  const grid = buildGrid(heatmap, { filter: 'all', windowPct: Infinity, center: 6850 });
  // row 1 (6800), col 0: slots 0 (call) + 1 (put)
  assert(cellValue(grid, heatmap, 'gex', 'call', 2) === 12000000 - 30000000, 'sum');
  assert(cellValue(grid, heatmap, 'gex', 'call', 1) === 60000000, 'a null put counts as absent in the sum');
  assert(cellValue(grid, heatmap, 'iv', 'put', 2) === 0.21, 'put IV');
  assert(Number.isNaN(cellValue(grid, heatmap, 'oi', 'put', 0)), 'null OI is NaN');
  const single = decodeHeatmap(heatmapDoc());
  single.contracts.right[3] = 'C'.charCodeAt(0); // two calls, no put, at 6900/expiry 0
  const g2 = buildGrid(single, { filter: 'all', windowPct: Infinity, center: 6850 });
  assert(cellValue(g2, single, 'mid', 'put', 0) === NO_CONTRACT, 'no put contract');
});

test('one huge value does not wash out the colour scale', () => {
  const values = new Float64Array(101);
  for (let i = 0; i < 100; i++) values[i] = (i % 2 ? 1 : -1) * (i + 1) * 1e6;
  values[100] = 5e12; // one giant strike
  const scale = computeScale('gex', values, 101, new Float64Array(101));
  assert(scale.hi < 1e9 && scale.lo === -scale.hi, `scale ${scale.lo}..${scale.hi}`);
  assert(colorIndex(5e12, scale, 255) === 254, 'clamped to the end');
  assert(colorIndex(0, scale, 255) === 127, 'zero is the middle colour');
  assert(colorIndex(NaN, scale, 255) === -1 && colorIndex(NO_CONTRACT, scale, 255) === -2, 'missing and absent');
  assert(PALETTES.diverging.length === 255 && PALETTES.sequential.length === 256, 'palette sizes');
});

test('IV scales from a low percentile, not from zero', () => {
  const values = Float64Array.from({ length: 50 }, (_, i) => 0.15 + i * 0.002);
  const scale = computeScale('iv', values, 50, new Float64Array(50));
  assert(scale.lo > 0.14 && scale.hi < 0.26, `${scale.lo}..${scale.hi}`);
});

test('prices map to rows between strikes, and outside the rows to an edge', () => {
  const rows = Float64Array.from([6900, 6850, 6800]);
  assertEqual(yForPrice(rows, 100, 10, 6850), { y: 115, clamped: null });
  assertEqual(yForPrice(rows, 100, 10, 6825), { y: 120, clamped: null });
  assertEqual(yForPrice(rows, 100, 10, 7000), { y: 100, clamped: 'above' });
  assertEqual(yForPrice(rows, 100, 10, 6000), { y: 130, clamped: 'below' });
  assert(yForPrice(rows, 100, 10, null) === null, 'no price');
});

test('strike labels use round steps that fit', () => {
  const rows = Float64Array.from({ length: 40 }, (_, i) => 7000 - i * 5);
  assert(labelInterval(rows, 4, 13) === 25, `every 25 points at 4 px rows: ${labelInterval(rows, 4, 13)}`);
  assert(labelInterval(rows, 14, 13) === 0, 'every row when rows are tall');
});

// ---------------------------------------------------------------------------
// Levels: walls by basis, other roots, the flip's jumps, the curve in view
// ---------------------------------------------------------------------------

test('the volume metric shows the volume walls, labelled; every other metric the OI walls', () => {
  const levels = flipLevels();
  const volume = wallsFor(levels, 'gex_volume');
  assertEqual(
    [volume.basis, volume.call, volume.put, volume.suffix, volume.flipSuffix],
    ['volume', 6875, 6825, ' (volume)', ' (OI)'],
    'volume',
  );
  assertEqual(volume.callDistance, { points: 23.25, pct: 0.339 }, 'volume call wall distance');
  assertEqual(volume.putDistance, { points: -26.75, pct: -0.39 }, 'volume put wall distance');
  for (const metric of ['gex', 'iv', 'mid', 'oi']) {
    const oi = wallsFor(levels, metric);
    assertEqual([oi.basis, oi.call, oi.put, oi.suffix, oi.flipSuffix], ['oi', 6850, 6800, '', ''], metric);
    assertEqual(oi.putDistance, { points: -51.75, pct: -0.755 }, `${metric} put wall distance`);
  }
  const none = wallsFor(null, 'gex_volume');
  assertEqual([none.call, none.put, none.callDistance, none.putDistance], [null, null, null, null], 'no levels');
  const partial = wallsFor({ call_wall_volume: null, distance: null }, 'gex_volume');
  assert(partial.call === null && partial.callDistance === null, 'null fields stay null');
});

test('the flow-adjusted metric shows the flow walls and the flow flip, labelled', () => {
  const levels = {
    ...flipLevels(),
    zero_gamma_flow: 6812.5,
    zero_gamma_flow_status: 'found',
    call_wall_flow: 6900,
    put_wall_flow: null,
    distance: { zero_gamma_flow: { points: -39.5, pct: -0.577 }, call_wall_flow: { points: 48, pct: 0.7 } },
  };
  const flow = wallsFor(levels, 'gex_flow');
  assertEqual(
    [flow.basis, flow.call, flow.put, flow.suffix, flow.flipSuffix, flow.flip, flow.flipStatus],
    ['flow', 6900, null, ' (flow)', ' (flow)', 6812.5, 'found'],
    'flow',
  );
  assertEqual(flow.flipDistance, { points: -39.5, pct: -0.577 }, 'flow flip distance');
  assertEqual([flow.curveKey, flow.curveBasis], ['curve_flow', 'flow'], 'the flow curve, its zero the flow flip');
  const oi = wallsFor(levels, 'gex');
  assert(oi.flipKey === 'zero_gamma' && oi.flip === levels.zero_gamma, 'the OI metric keeps the OI flip');
  assertEqual([oi.curveKey, oi.curveBasis], ['curve', 'OI'], 'the OI curve');
  assertEqual(wallsFor(levels, 'gex_volume').curveKey, 'curve', 'volume has no book: the OI curve');
  const absent = wallsFor({ zero_gamma_flow: null, zero_gamma_flow_status: 'one_sided' }, 'gex_flow');
  assert(absent.flip === null && absent.flipStatus === 'one_sided', 'no flow flip: its reason');
});

test('hedge pressure points come from history and live documents alike, once per tick', () => {
  const c = { ts: 100, hedge_delta_0dte: -2e9, hedge_delta_rest: 5e8 };
  assertEqual(hedgeFromHistory(c), { t: 100, zero: -2e9, rest: 5e8 }, 'history');
  assert(hedgeFromHistory({ ts: 100, hedge_delta_0dte: null, hedge_delta_rest: null }) === null, 'an entry from before flow');
  const gex = { ts: 101, flow: { hedge_pressure: { '0dte': { delta: -1 }, rest: { delta: 2 } } } };
  assertEqual(hedgeFromGex(gex), { t: 101, zero: -1, rest: 2 }, 'live');
  assert(hedgeFromGex({ ts: 101 }) === null, 'a document without flow');
  const points = [];
  mergePoints(points, hedgeFromHistory(c));
  mergePoints(points, hedgeFromGex(gex));
  mergePoints(points, hedgeFromGex(gex));
  mergePoints(points, { t: 99, zero: 0, rest: 0 });
  assertEqual(points.map((p) => p.t), [100, 101], 'ascending, a repeated tick once');
});

test('top flow and the signed share read as a trader says them', () => {
  const flow = {
    volume: { buy: 6000, sell: 3000, unknown: 1000, excluded: 500 },
    signed_share: 0.9,
    top_contracts: [
      { id: 'O:SPXW261207C06900000', expiration: '2026-12-07', strike: 6900, type: 'call', net_premium: 1.25e6, net_size: 410 },
      { id: 'O:SPXW261207P06800000', expiration: '2026-12-07', strike: 6800, type: 'put', net_premium: -4.2e5, net_size: -150 },
    ],
  };
  assertEqual(signedSummary(flow), '90% of 10,000 contracts signed · bought 6,000 · sold 3,000', 'summary');
  const rows = topFlowRows(flow, 6);
  assertEqual(rows.map((r) => [r.label, r.premium, r.size, r.buying]), [
    ['6900C 12-07', '+$1.25M', '+410', true],
    ['6800P 12-07', '−$420K', '−150', false],
  ], 'rows');
  assertEqual(signedSummary({ volume: { buy: 0, sell: 0, unknown: 0 } }), 'no trades signed yet this session', 'none yet');
});

test('the other roots are every material root but the published flip', () => {
  assertEqual(otherRoots(flipLevels()), [{ level: 6790, rising: false }]);
  assertEqual(otherRoots(noFlipLevels()), []);
  assertEqual(otherRoots(null), []);
  const vanished = { ...flipLevels(), zero_gamma: null };
  assert(otherRoots(vanished).length === 2, 'without a published flip, every root is another');
  assertEqual(otherRoots({ zero_gamma: 1, zero_gamma_roots: null }), [], 'roots missing');
  const flowLevels = {
    ...flipLevels(),
    zero_gamma_flow: 6830,
    zero_gamma_flow_roots: [{ level: 6760, rising: false }, { level: 6830, rising: true }],
  };
  assertEqual(otherRoots(flowLevels, 'zero_gamma_flow'), [{ level: 6760, rising: false }], "the flow curve's roots");
});

test("the flip's jump to another root is remembered while it holds and forgotten when it goes", () => {
  const at = (level, transition) => ({ ...flipLevels(), zero_gamma: level, zero_gamma_transition: transition });
  let memo = trackFlip(null, at(6840.5, 'first'), 100);
  assert(memo.level === 6840.5 && memo.change === null, 'the first flip is no jump');
  memo = trackFlip(memo, at(6841.4, 'held'), 101);
  assert(memo.change === null, 'a held root re-refined is no jump');
  memo = trackFlip(memo, at(6861.25, 'switched'), 102);
  assertEqual(memo.change, { kind: 'switched', from: 6841.4, to: 6861.25, at: 102 }, 'switched');
  const again = trackFlip(memo, at(6861.25, 'switched'), 103);
  assertEqual(again.change, memo.change, 'the same tick re-sent (a resync) is not a second jump');
  memo = trackFlip(again, at(6861.4, 'held'), 104);
  assert(memo.change && memo.change.at === 102, 'kept while the new root holds');
  assert(fmt.flipChange(memo.change, 104) === `moved to another root ${fmt.clock(102)}, was 6841`, fmt.flipChange(memo.change, 104));
  assert(fmt.flipChange(memo.change, 102 + fmt.FLIP_CHANGE_SHOWN_S + 1) === '', 'an old jump is no longer shown');
  memo = trackFlip(memo, { ...noFlipLevels(), zero_gamma_transition: 'vanished' }, 105);
  assert(memo.level === null && memo.change === null, 'vanished');
  memo = trackFlip(memo, at(6900, 'appeared'), 106);
  assertEqual(memo.change, { kind: 'appeared', from: null, to: 6900, at: 106 }, 'appeared');
  assert(fmt.flipChange(memo.change, 106) === `new flip ${fmt.clock(106)}`, fmt.flipChange(memo.change, 106));
  assert(trackFlip(null, null, 1).change === null, 'no levels');
});

test('the curve in view is cut at the rows on screen, interpolated at the edges', () => {
  const curve = gexCurve();
  assertEqual(curveInView(curve, 6725, 6950), [
    { s: 6725, g: -3.5e9 },
    { s: 6750, g: -3e9 },
    { s: 6800, g: -1e9 },
    { s: 6900, g: 2e9 },
    { s: 6950, g: 2.5e9 },
  ]);
  assertEqual(curveInView(curve, 6000, 8000).length, 5, 'rows wider than the curve: all of it, no invented ends');
  assertEqual(curveInView(curve, 6820, 6840), [
    { s: 6820, g: -1e9 + 3e9 * 0.2 },
    { s: 6840, g: -1e9 + 3e9 * 0.4 },
  ], 'rows inside one step');
  assertEqual(curveInView(curve, 7100, 7200), [], 'rows beyond the curve');
  assertEqual(curveInView(null, 6000, 8000), [], 'no curve');
  assertEqual(curveInView({ spot: null, gex: null, floor: 0, peak: 0 }, 6000, 8000), [], 'no arrays');
});

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

test('numbers read the way a trader expects', () => {
  const cases = [
    [fmt.usdSigned(1.234e9), '+$1.23B'],
    [fmt.usdSigned(-38.46e6), '−$38.5M'],
    [fmt.usdSigned(-999_600_000), '−$1.00B'],
    [fmt.usdSigned(820_000), '+$820K'],
    [fmt.usdSigned(0), '$0'],
    [fmt.usdSigned(null), '—'],
    [fmt.ivPct(0.23456), '23.46%'],
    [fmt.ivPct(NaN), '—'],
    [fmt.price(12.345), '12.35'],
    [fmt.delta(-0.4567), '−0.457'],
    [fmt.gamma(0.0012345), '0.00123'],
    [fmt.count(24096), '24,096'],
    [fmt.strike(6850), '6850'],
    [fmt.strike(6912.345), '6912.35'],
    [fmt.durationS(65), '1m 05s'],
    [fmt.durationS(7260), '2h 01m'],
    [fmt.durationMs(120), '120 ms'],
    [fmt.expirationLabel('2026-12-18', 'SPX', 'am_open'), '12-18 SPX AM'],
    [fmt.expirationLabel('2026-11-24', 'SPXW', 'pm_close'), '11-24 SPXW'],
    [fmt.level(6854.3), '6854.30'],
    [fmt.level(6900), '6900'],
    [fmt.level(null), '—'],
    [fmt.ordinal(2), '2nd'],
    [fmt.ordinal(1), '1st'],
    [fmt.ordinal(3), '3rd'],
    [fmt.ordinal(11), '11th'],
    [fmt.ordinal(12), '12th'],
    [fmt.ordinal(22), '22nd'],
    [fmt.ordinal(97), '97th'],
    [fmt.ordinal(null), '—'],
    [fmt.rate(null), '—'],
  ];
  for (const [got, want] of cases) assert(got === want, `${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
});

test("a level's distance from spot reads in points and percent, signed", () => {
  const cases = [
    [{ points: -12.34, pct: -0.1799 }, '−12.3 pts (−0.18%)'],
    [{ points: 9.5, pct: 0.139 }, '+9.5 pts (+0.14%)'],
    [{ points: 145.4, pct: 0.694 }, '+145 pts (+0.69%)'],
    [{ points: -99.96, pct: -0.48 }, '−100 pts (−0.48%)'],
    [{ points: 0.02, pct: 0.0003 }, '0.0 pts (0.00%)'],
    [{ points: -0.42, pct: -0.006 }, '−0.4 pts (−0.01%)'],
    [null, '—'],
    [{ points: null, pct: 0.1 }, '—'],
  ];
  for (const [d, want] of cases) assert(fmt.distance(d) === want, `${JSON.stringify(d)}: ${fmt.distance(d)} ≠ ${want}`);
  assert(fmt.pointsSigned(-50.25) === '−50.3' && fmt.pctSigned(0.724) === '+0.72%', 'the table cells');
  assert(fmt.pointsSigned(undefined) === '—' && fmt.pctSigned(NaN) === '—', 'missing');
});

test('every reason for no flip reads in words', () => {
  const cases = [
    ['one_sided', 'calls or puts only: no flip'],
    ['none_in_range', 'no material flip in range'],
    ['no_expiration', 'no expiration in this view'],
    ['no_open_interest', 'no open interest'],
    ['no_usable_contracts', 'no volatility to re-price'],
    ['pending', 'not computed yet'],
    ['something_new', 'no flip'],
    [undefined, 'no flip'],
  ];
  for (const [status, want] of cases) assert(fmt.flipReason(status) === want, `${status}: ${fmt.flipReason(status)}`);
});

// ---------------------------------------------------------------------------
// The session view
// ---------------------------------------------------------------------------

test('each pixel shows the last tick at or before it, and nothing across a gap', () => {
  // Ticks each second for 10 s, then a 10-minute hole, then one more.
  const times = [...Array.from({ length: 10 }, (_, i) => 1000 + i), 1609];
  // 10 pixels over [1000, 1010]: one tick each.
  assertEqual([...pixelColumns(times, 1000, 1010, 10)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // 2 pixels over the same: the last of each half (downsampled, never averaged).
  assertEqual([...pixelColumns(times, 1000, 1010, 2)], [4, 9]);
  // Over the hole: nothing once the last tick is older than the gap allowed.
  const wide = [...pixelColumns(times, 1000, 1620, 62, 120)];
  assert(wide[0] === 9 && wide[1] === 9, `10 s a pixel, the last of the ten ticks: ${wide.slice(0, 3)}`);
  assert(wide[30] === -1, `the hole shows nothing: ${wide[30]}`);
  assert(wide[60] === 10 && wide[61] === -1, `the tick after the hole, then nothing: ${wide.slice(59)}`);
  // Nothing after the last tick: the future is blank.
  assertEqual([...pixelColumns([1000, 1001], 1000, 1010, 10)], [0, 1, -1, -1, -1, -1, -1, -1, -1, -1]);
  // A session at 1 Hz on 1,000 pixels: every pixel has a tick, in order.
  const session = Array.from({ length: 23_400 }, (_, i) => i);
  const map = pixelColumns(session, 0, 23_400, 1000);
  assert(map.every((c, i) => c >= 0 && (i === 0 || c > map[i - 1])), 'dense and increasing');
  assert(map[999] === 23_399, `the last pixel shows the last tick: ${map[999]}`);
  assertEqual([...pixelColumns([], 0, 10, 3)], [-1, -1, -1]);
  assertEqual([...pixelColumns(times, 5, 5, 3)], [-1, -1, -1], 'an empty span');
});

test('the price axis is uniform and inverts', () => {
  const axis = priceAxis(6000, 6100, 10, 200);
  assert(axis.y(6100) === 10 && axis.y(6000) === 210, 'ends');
  assert(axis.y(6050) === 110, 'uniform: the middle price is the middle row');
  assert(Math.abs(axis.price(axis.y(6037.5)) - 6037.5) < 1e-9, 'price(y(p)) = p');
});

test('history columns and live documents give the same column', () => {
  const history = {
    strikes: [6800, 6900, 7000],
    column: { t: 100, seq: 5, ts: 100.25, spot: 6850, net_gex: -1e9, net_gex_volume: 2e8, zero_gamma: 6840.5, zero_gamma_status: 'found', call_wall: 6900, put_wall: 6800, profile: [1.5, null, -2] },
  };
  const c = columnFromHistory(history.strikes, history.column);
  assertEqual(c.strikes, [6800, 7000]);
  assertEqual(c.values, [1.5, -2]);
  assertEqual([c.t, c.seq, c.flip, c.callWall, c.putWall], [100.25, 5, 6840.5, 6900, 6800]);
  const gex = {
    seq: 6,
    ts: 101,
    spot: 6850,
    anchor: { spot: 6850 },
    strikes: [6000, 6800, 6900],
    filters: {
      all: {
        call_gex: [9e9, 2_500_000, 1_000_000],
        put_gex: [0, -1_000_000, -3_040_000],
        total: { net_gex: 1, net_gex_volume: 2 },
        levels: { zero_gamma: null, call_wall: 6900, put_wall: 6800 },
      },
    },
  };
  const live = columnFromGex(gex, 'all');
  assertEqual(live.strikes, [6800, 6900], 'only strikes within 5% of spot');
  assertEqual(live.values, [1.5, -2], 'net GEX in $M to one decimal, as the history keeps it');
  assert(live.flip === null && live.callWall === 6900, 'levels as published');
  assert(columnFromGex(gex, '0dte') === null, 'no such filter');
  assert(columnFromGex({ ...gex, spot: null, anchor: null }, 'all') === null, 'no spot');
});

// ---------------------------------------------------------------------------

/** Runs every check; resolves to `{ passed, failed, lines }`. */
export async function runSelfTests(log = () => {}) {
  let passed = 0;
  let failed = 0;
  const lines = [];
  for (const { name, fn } of tests) {
    try {
      await fn();
      passed++;
      lines.push(`ok   ${name}`);
    } catch (err) {
      failed++;
      lines.push(`FAIL ${name}: ${err.message}`);
    }
    log(lines.at(-1));
  }
  const summary = `${passed} passed, ${failed} failed`;
  lines.push(summary);
  log(summary);
  return { passed, failed, lines };
}

/** Node entry: prints the results and sets the exit code. */
export async function main() {
  const { failed } = await runSelfTests((line) => console.log(line));
  if (typeof process !== 'undefined') process.exitCode = failed ? 1 : 0;
}
