// app.js — the page's entry module: wires the controls, the stream and the views.
//
// Data flow: StreamConnection (stream.js) receives documents and hands each
// outcome to `onOutcome`, which tells the heatmap which board slots changed, marks
// the profile and panels stale and asks for an animation frame. All canvas and
// panel painting happens in `frame`, so a burst of frames paints once and a hidden
// tab paints nothing (the documents still stay current). Text a test reads (seq,
// epoch, connection) is written as soon as it changes, not on the next frame.
//
// `window.chainboard` mirrors the counters for browser tests.

import { ChainState, StreamConnection } from './stream.js';
import { HeatmapView, METRICS, legendGradient, NO_CONTRACT, cellValue, SCALE_PERCENTILE } from './heatmap.js';
import { ProfileView, filterName, trackFlip } from './profile.js';
import { TimelineView, columnFromHistory, columnFromGex } from './timeline.js';
import { FlowPanel } from './flow.js';
import { LevelsPanel } from './levels.js';
import { accessToken, apiFetch, askForToken, fetchHistory } from './api.js';
import * as fmt from './format.js';

const $ = (id) => document.getElementById(id);

/** Read by browser tests; updated in place (same object) as things happen.
 * `diffsApplied` counts heatmap and GEX diff documents both. */
const hooks = {
  symbol: null,
  connection: 'connecting',
  heatmapSeq: null,
  gexSeq: null,
  epochId: null,
  repaintedCells: 0,
  fullRepaints: 0,
  diffsApplied: 0,
  heatmapDiffsApplied: 0,
  gexDiffsApplied: 0,
  resyncs: 0,
  epochChanges: 0,
  view: 'board',
  timelineColumns: 0,
  timelineFilter: null,
  timelineAppends: 0,
  timelineAppendMs: null,
  timelinePinned: null,
  hedgePoints: 0,
  topFlow: 0,
};
window.chainboard = hooks;

/** How long the new-epoch banner stays up: long enough to read the reason. */
const BANNER_MS = 10_000;

const els = {
  symbol: $('symbol'),
  view: $('view'),
  timelineWrap: $('timeline-wrap'),
  timeline: $('timeline'),
  timelineNote: $('timeline-note'),
  metric: $('metric'),
  side: $('side'),
  sideNote: $('side-note'),
  filter: $('filter'),
  window: $('window'),
  connection: $('connection'),
  epoch: $('epoch'),
  epochId: $('epoch-id'),
  epochReason: $('epoch-reason'),
  epochAge: $('epoch-age'),
  banner: $('epoch-banner'),
  board: $('board'),
  heatmapWrap: $('heatmap-wrap'),
  heatmap: $('heatmap'),
  overlay: $('heatmap-overlay'),
  profileWrap: $('profile-wrap'),
  profile: $('profile'),
  curveToggle: $('curve-toggle'),
  feedDetails: $('feed-details'),
  levelsFilter: $('levels-filter'),
  flowSigned: $('flow-signed'),
  flowWindow: $('flow-window'),
  topFlow: $('top-flow'),
  hedge: $('hedge'),
  legendLo: $('legend-lo'),
  legendHi: $('legend-hi'),
  legendBar: $('legend-bar'),
  legendNote: $('legend-note'),
  cellSummary: $('cell-summary'),
  cellTable: $('cell-table'),
  cellRows: $('cell-rows'),
  feedState: $('feed-state'),
  silence: $('silence'),
  quotesPerS: $('quotes-per-s'),
  geometryMiss: $('geometry-miss'),
  sources: $('sources'),
  unusable: $('unusable'),
  seq: $('seq'),
  gexSeq: $('gex-seq'),
  updated: $('updated'),
  repainted: $('repainted-cells'),
  fullRepaints: $('full-repaints'),
  diffs: $('diffs'),
  transitions: $('transitions'),
  tooltip: $('tooltip'),
};

/** A level's row in the levels table: label, value and distance from spot. */
const levelsPanel = new LevelsPanel({
  levelsFilter: els.levelsFilter,
  spot: $('spot'),
  zeroGammaNote: $('zero-gamma-note'),
  zeroGammaNoteRow: $('zero-gamma-note-row'),
  netGex: $('net-gex'),
  netGexVolume: $('net-gex-volume'),
  netGexFlow: $('net-gex-flow'),
});

/** Writes text only when it changed: these run every second for dozens of fields. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------------------
// View options
// ---------------------------------------------------------------------------

/** Where the gamma-curve switch is remembered: a trader who turns it off once
 * expects it off on the next visit. */
const CURVE_KEY = 'chainboard.gammaCurve';
/** Whether the feed's details were left open. */
const DETAILS_KEY = 'chainboard.feedDetails';
/** Which view the board shows: the expirations or the session. */
const VIEW_KEY = 'chainboard.view';

const options = {
  metric: els.metric.value,
  side: 'call',
  filter: els.filter.value,
  windowPct: parseWindow(els.window.value),
  curve: readCurveOption(),
  view: readStored(VIEW_KEY) === 'session' ? 'session' : 'board',
};
els.view.value = options.view;
els.curveToggle.checked = options.curve;
els.feedDetails.open = readStored(DETAILS_KEY) === 'open';
els.feedDetails.addEventListener('toggle', () => {
  writeStored(DETAILS_KEY, els.feedDetails.open ? 'open' : 'closed');
});

function readStored(key) {
  try {
    return globalThis.localStorage?.getItem(key) ?? null;
  } catch {
    return null; // storage blocked: the default
  }
}

function writeStored(key, value) {
  try {
    globalThis.localStorage?.setItem(key, value);
  } catch {
    // storage blocked: the switch still works for this page
  }
}

function readCurveOption() {
  return readStored(CURVE_KEY) !== 'off';
}

function saveCurveOption(on) {
  writeStored(CURVE_KEY, on ? 'on' : 'off');
}

function parseWindow(value) {
  return value === 'all' ? Infinity : Number(value);
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

let session = null; // { symbol, state, connection }
let cursor = null; // the last onCursor info
let profileStale = true;
let panelsStale = true;
let lastFullRepaintsSeen = -1;
let bannerTimer = null;
/** Per expiry filter, the flip's last jump to another root (profile.js
 * `trackFlip`), kept across ticks for the levels panel's note. */
let flipMemo = {};

const heatmapView = new HeatmapView({
  canvas: els.heatmap,
  overlay: els.overlay,
  onCursor: (info) => {
    cursor = info.cell === null ? (info.via === 'pointer' ? cursor : null) : info;
    if (info.via === 'refresh') {
      // Same place, new grid (slots may differ): refresh the numbers only.
      renderCell();
      return;
    }
    if (info.cell === null) hideTooltip();
    else showTooltip(info);
    renderCell();
    if (info.cell !== null && info.via === 'keyboard') keepInView(info.rect);
    requestFrame();
  },
  formatLabel: (e) => {
    const x = session && session.state.heatmap && session.state.heatmap.expirations;
    return x ? fmt.expirationLabel(x.date[e], x.root[e], x.settlement[e]) : '';
  },
});
const profileView = new ProfileView(els.profile);

/** How the legend and the cell panel print a metric's value. */
function valueFormat(metric) {
  if (METRICS[metric].contracts) return fmt.countSigned;
  if (METRICS[metric].signed) return fmt.usdSigned;
  if (metric === 'iv') return fmt.ivPct;
  if (metric === 'oi') return fmt.count;
  return fmt.price;
}

/** How a cell prints its value, by metric (when cells are big enough to print). */
function cellFormat(metric) {
  return metric === 'iv' ? (x) => `${(x * 100).toFixed(1)}%` : valueFormat(metric);
}

function applyOptions() {
  const metric = METRICS[options.metric];
  els.side.disabled = !metric.sided;
  // Said to screen readers; the disabled look says it to everyone else.
  setText(els.sideNote, metric.sided ? '' : 'GEX metrics show calls and puts summed');
  els.side.title = metric.sided ? '' : 'GEX: calls + puts summed';
  els.legendBar.style.background = legendGradient(options.metric);
  setText(els.levelsFilter, `· ${filterName(options.filter)}`);
  heatmapView.formatValue = cellFormat(options.metric);
  heatmapView.setOptions(options);
  profileStale = true;
  panelsStale = true;
  requestFrame();
}

// ---------------------------------------------------------------------------
// The session view
// ---------------------------------------------------------------------------

const timelineView = new TimelineView(els.timeline);
/** What the session view holds: { symbol, filter, loaded } or null. The history
 * keeps per-strike profiles for All and 0DTE; the other filters show All's. */
let timeline = null;

function timelineFilter() {
  return options.filter === '0dte' ? '0dte' : 'all';
}

function showView() {
  const sessionShown = options.view === 'session';
  els.heatmapWrap.hidden = sessionShown;
  els.timelineWrap.hidden = !sessionShown;
  timelineView.visible = sessionShown;
  // The session view draws the shown tick's profile on its own price axis, its
  // own colour scale, and its hover tooltip instead of the cell panel.
  els.profileWrap.hidden = sessionShown;
  $('legend').hidden = sessionShown;
  els.legendNote.hidden = sessionShown;
  $('cell-panel').hidden = sessionShown;
  hooks.view = options.view;
  if (sessionShown) {
    hideTooltip();
    loadTimeline();
  } else {
    unpin();
  }
  panelsStale = true; // the levels panel follows the view's filter
  measure();
}

// ---------------------------------------------------------------------------
// Customer flow: hedge pressure over the session, top flow
// ---------------------------------------------------------------------------

const flowPanel = new FlowPanel(
  { signed: els.flowSigned, window: els.flowWindow, top: els.topFlow, hedge: els.hedge },
  (symbol) => fetchHistory(symbol, 'all'),
  () => {
    panelsStale = true;
    requestFrame();
  },
);

/** Fetches the session's history for the symbol and filter shown, unless held. */
async function loadTimeline() {
  if (!session || options.view !== 'session') return;
  const symbol = session.symbol;
  const filter = timelineFilter();
  if (timeline && timeline.symbol === symbol && timeline.filter === filter) return;
  // This request's own object: a reply (or failure) of a superseded one is ignored.
  const request = { symbol, filter, loaded: false };
  timeline = request;
  hooks.timelineFilter = filter;
  unpin();
  timelineView.load([]);
  const note = filter !== options.filter ? `history keeps strikes for All and 0DTE: showing All` : '';
  setText(els.timelineNote, note || 'loading the session…');
  try {
    const doc = await fetchHistory(symbol, filter);
    if (timeline !== request) return; // switched meanwhile
    timelineView.load(doc.columns.map((c) => columnFromHistory(doc.strikes, c)));
    request.loaded = true;
    const state = session && session.state;
    if (state && state.gex) timelineView.append(columnFromGex(state.gex, filter));
    setText(els.timelineNote, note);
  } catch (err) {
    if (timeline !== request) return;
    console.warn('chainboard: the session history failed', err);
    timeline = null;
    setText(els.timelineNote, 'the session history is unavailable; retrying');
    setTimeout(loadTimeline, 3000);
  }
  hooks.timelineColumns = timelineView.columns.length;
}

/** A GEX document arrived: the session view grows by one column. */
function extendTimeline(state) {
  if (!timeline || !timeline.loaded || timeline.symbol !== state.symbol) return;
  const before = timelineView.columns.length;
  timelineView.append(columnFromGex(state.gex, timeline.filter));
  if (timelineView.columns.length > before) {
    hooks.timelineAppends++;
    hooks.timelineAppendMs = timelineView.lastPaintMs;
  }
  hooks.timelineColumns = timelineView.columns.length;
}

/** Shows column `index` as it was in the levels panel, or live (-1). */
function pin(index) {
  timelineView.pin(index);
  const column = timelineView.pinned >= 0 ? timelineView.columns[timelineView.pinned] : null;
  hooks.timelinePinned = column ? { seq: column.seq, t: column.t, flip: column.flip, callWall: column.callWall, putWall: column.putWall, spot: column.spot } : null;
  panelsStale = true;
  requestFrame();
}

function unpin() {
  if (timelineView.pinned >= 0) pin(-1);
}

function timelineTooltip(hit, pointer) {
  const c = hit.column;
  const lines = [
    `${fmt.clock(c.t)} · seq ${c.seq}`,
    hit.strike === null ? `${fmt.level(hit.price)}: no strike near spot then` : `${fmt.strike(hit.strike)}: net GEX ${hit.value >= 0 ? '+' : '−'}$${Math.abs(hit.value).toLocaleString('en-US', { maximumFractionDigits: 1 })}M per 1%`,
    `spot ${fmt.level(c.spot)} · flip ${fmt.level(c.flip)}`,
    `call wall ${fmt.level(c.callWall)} · put wall ${fmt.level(c.putWall)}`,
  ];
  tooltipLines('timeline', lines, pointer.x + 14, pointer.y + 14);
}

/** Shows `lines` in the tooltip (the first in bold) at (x, y), for `owner`. */
function tooltipLines(owner, lines, x, y) {
  tooltipFor = owner;
  els.tooltip.replaceChildren(...lines.map((line) => {
    const div = document.createElement('div');
    div.textContent = line;
    return div;
  }));
  els.tooltip.firstChild.style.fontWeight = '600';
  els.tooltip.hidden = false;
  placeTooltip(x, y);
}

function timelinePoint(ev) {
  const box = els.timeline.getBoundingClientRect();
  return timelineView.hit(ev.clientX - box.left, ev.clientY - box.top);
}

els.timeline.addEventListener('mousemove', (ev) => {
  const hit = timelinePoint(ev);
  if (hit) timelineTooltip(hit, { x: ev.clientX, y: ev.clientY });
  else hideTooltip();
});
els.timeline.addEventListener('mouseleave', hideTooltip);
els.timeline.addEventListener('click', (ev) => {
  const hit = timelinePoint(ev);
  if (!hit || hit.index === timelineView.pinned) unpin();
  else pin(hit.index);
});
els.timeline.addEventListener('keydown', (ev) => {
  const n = timelineView.columns.length;
  if (!n) return;
  const at = timelineView.pinned >= 0 ? timelineView.pinned : n;
  const stride = ev.shiftKey ? 60 : 1;
  if (ev.key === 'ArrowLeft') pin(Math.max(0, at - stride));
  else if (ev.key === 'ArrowRight') pin(at + stride >= n ? -1 : at + stride);
  else if (ev.key === 'Escape') unpin();
  else return;
  ev.preventDefault();
});

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

let frameRequested = false;
function requestFrame() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(frame);
}

function frame(now) {
  frameRequested = false;
  const more = heatmapView.frame(now);
  if (heatmapView.fullRepaints !== lastFullRepaintsSeen) {
    // A full repaint may have changed the rows the profile aligns to.
    lastFullRepaintsSeen = heatmapView.fullRepaints;
    profileStale = true;
    panelsStale = true;
    if (cursor) heatmapView.announceCursor('refresh');
  }
  if (profileStale) {
    profileStale = false;
    profileView.paint({
      geometry: heatmapView.geometry,
      gex: session && session.state.gex,
      filter: options.filter,
      metric: options.metric,
      width: els.profileWrap.clientWidth,
      showCurve: options.curve,
    });
  }
  if (panelsStale) {
    panelsStale = false;
    renderLevels();
    renderLegend();
    renderFeed();
    const shown = flowPanel.render(session && session.state.gex);
    hooks.hedgePoints = shown.points;
    hooks.topFlow = shown.top;
    renderCell();
  }
  hooks.repaintedCells = heatmapView.repaintedCells;
  hooks.fullRepaints = heatmapView.fullRepaints;
  hooks.heatmapColumns = heatmapView.grid ? heatmapView.grid.cols.length : 0;
  setText(els.repainted, String(heatmapView.repaintedCells));
  setText(els.fullRepaints, String(heatmapView.fullRepaints));
  if (more) requestFrame();
}

// ---------------------------------------------------------------------------
// Stream
// ---------------------------------------------------------------------------

function openSymbol(symbol) {
  if (session) session.connection.stop();
  const state = new ChainState(symbol);
  const connection = new StreamConnection({
    symbol,
    state,
    token: accessToken(),
    onOutcome: (outcome) => {
      if (session && session.state === state) onOutcome(state, outcome);
    },
    onConnection: (value) => {
      if (session && session.state === state) setConnection(value);
    },
  });
  session = { symbol, state, connection };
  hooks.symbol = symbol;
  hooks.heatmapSeq = null;
  hooks.gexSeq = null;
  hooks.epochId = null;
  flipMemo = {};
  cursor = null;
  hideTooltip();
  hideBanner();
  heatmapView.setHeatmap(null);
  timeline = null;
  loadTimeline();
  flowPanel.open(symbol);
  renderEpoch();
  panelsStale = true;
  profileStale = true;
  connection.start();
  requestFrame();
}

function onOutcome(state, outcome) {
  switch (outcome.kind) {
    case 'heatmap':
      if (outcome.full) {
        heatmapView.setHeatmap(state.heatmap);
        if (outcome.epochChanged) showEpochBanner(state, outcome.previousEpoch);
      } else {
        heatmapView.applyDiff(outcome.slots, outcome.columnsChanged);
        hooks.diffsApplied++;
        hooks.heatmapDiffsApplied++;
      }
      hooks.heatmapSeq = state.heatmap.seq;
      hooks.epochId = state.heatmap.epoch.id;
      setText(els.seq, String(state.heatmap.seq));
      renderEpoch();
      panelsStale = true;
      break;
    case 'gex':
      if (!outcome.full) {
        hooks.diffsApplied++;
        hooks.gexDiffsApplied++;
      }
      hooks.gexSeq = state.gex.seq;
      setText(els.gexSeq, String(state.gex.seq));
      for (const [name, part] of Object.entries(state.gex.filters)) {
        flipMemo[name] = trackFlip(flipMemo[name], part.levels, state.gex.ts);
      }
      extendTimeline(state);
      flowPanel.onGex(state.gex);
      profileStale = true;
      panelsStale = true;
      break;
    case 'status':
      panelsStale = true;
      break;
    case 'resync':
      hooks.resyncs++; // the connection reports 'resyncing' itself
      break;
    default:
      return;
  }
  setText(els.diffs, `${hooks.diffsApplied} / ${hooks.resyncs}`);
  requestFrame();
}

/** Whether the service replays a recording (its status says so). */
let replaying = false;

function setConnection(value) {
  hooks.connection = value;
  els.connection.dataset.state = value;
  setText(els.connection, value === 'live' && replaying ? 'replay' : value);
  els.connection.title = replaying ? 'A recorded session, replayed on its own clock' : '';
}

/** The service's clock now, ms: ours, or the recording's in a replay. */
function serviceNow() {
  const offset = session && session.state.clockOffsetMs;
  return Date.now() - (Number.isFinite(offset) ? offset : 0);
}

// ---------------------------------------------------------------------------
// Panels
// ---------------------------------------------------------------------------

function renderEpoch() {
  const heatmap = session && session.state.heatmap;
  const epoch = heatmap ? heatmap.epoch : null;
  setText(els.epochId, epoch ? epoch.id : fmt.MISSING);
  els.epochId.title = epoch ? `Epoch ${epoch.id}` : ''; // whole, when the bar cuts it short
  setText(els.epochReason, epoch ? epoch.reason : fmt.MISSING);
  els.epochReason.title = epoch ? fmt.epochReason(epoch.reason) : '';
  setText(els.epochAge, epoch ? fmt.durationS(serviceNow() / 1000 - epoch.started_at) : fmt.MISSING);
}

/** Why a new epoch starts, in the design's words. */
const EPOCH_REASONS = {
  startup: 'the service started',
  geometry_change: "the chain's strikes or expirations changed",
  stale_feed: 'the feed went silent and a fresh photo rebuilt the board',
  manual: 'an operator started it',
  failover: 'a standby ingestion worker took over from one that stopped answering',
};

/**
 * What an epoch changed: contracts added and removed from the board before it. A
 * board built from nothing (the service started, or a standby took over and
 * photographed the chain afresh) was not diffed against one, so only its size says
 * anything.
 */
function transitionCounts(t, long) {
  if (t.reason === 'startup' || t.reason === 'failover') {
    return `${fmt.count(t.contracts)} contracts`;
  }
  return long
    ? `${fmt.count(t.contracts)} contracts (+${fmt.count(t.added)} / −${fmt.count(t.removed)})`
    : `+${t.added ?? 0}/−${t.removed ?? 0}`;
}

function showEpochBanner(state, previousEpoch) {
  const epoch = state.heatmap.epoch;
  const transition = state.status && (state.status.transitions || []).find((t) => t.id === epoch.id);
  const counts = transition ? ` · ${transitionCounts(transition, true)}` : '';
  const why = EPOCH_REASONS[epoch.reason] || epoch.reason;
  els.banner.textContent = `New epoch ${epoch.id} — ${epoch.reason}: ${why}${counts}. Previous: ${previousEpoch}.`;
  els.banner.hidden = false;
  hooks.epochChanges++;
  els.epoch.classList.remove('changed');
  void els.epoch.offsetWidth; // restart the flash animation
  els.epoch.classList.add('changed');
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(hideBanner, BANNER_MS);
}

function hideBanner() {
  clearTimeout(bannerTimer);
  els.banner.hidden = true;
  els.epoch.classList.remove('changed');
}

function renderLevels() {
  const pinned = options.view === 'session' && timelineView.pinned >= 0 ? timelineView.columns[timelineView.pinned] : null;
  if (pinned) {
    levelsPanel.pinned(pinned, timeline ? timeline.filter : 'all');
    return;
  }
  const state = session && session.state;
  const filter = options.view === 'session' ? timelineFilter() : options.filter; // as drawn
  levelsPanel.live({
    gex: state && state.gex,
    heatmapSpot: state && state.heatmap ? state.heatmap.spot : null,
    filter,
    metric: options.metric,
    memo: flipMemo[filter],
  });
}

function renderLegend() {
  const scale = heatmapView.scale;
  const metric = METRICS[options.metric];
  const show = valueFormat(options.metric);
  setText(els.legendLo, scale ? show(scale.lo) : fmt.MISSING);
  setText(els.legendHi, scale ? show(scale.hi) : fmt.MISSING);
  const pct = Math.round(SCALE_PERCENTILE * 100);
  let what;
  const nth = fmt.ordinal(pct);
  if (metric.contracts) {
    what = `${metric.unit}, ${options.side}s; scale ±${nth} percentile of |value| in view`;
  } else if (metric.signed) {
    const gex = session && session.state.gex;
    const dealers = gex && gex.dealer_sign === 'puts_long' ? 'short calls, long puts' : 'long calls, short puts';
    what = `${metric.unit}, dealers assumed ${dealers}, calls + puts; scale ±${nth} percentile of |value| in view`;
  }
  else if (metric.low !== null) what = `${options.side}s; scale ${fmt.ordinal(Math.round(metric.low * 100))} to ${nth} percentile in view`;
  else what = `${options.side}s; scale 0 to the ${nth} percentile in view`;
  setText(els.legendNote, `${metric.label}: ${what}, beyond it clamped. Grey: no value.`);
}

function renderFeed() {
  const state = session && session.state;
  const heatmap = state && state.heatmap;
  const status = state && state.status;
  const feed = heatmap ? heatmap.feed : null;
  if (Boolean(status && status.replay) !== replaying) {
    replaying = Boolean(status && status.replay);
    hooks.replay = replaying;
    setConnection(hooks.connection);
  }
  setText(els.feedState, feed ? feed.state : fmt.MISSING);
  els.feedState.dataset.state = feed ? feed.state : '';
  // The status document is fresher (every second, even between ticks).
  const silence = status ? status.feed_silence_ms : feed ? feed.silence_ms : null;
  setText(els.silence, fmt.durationMs(silence));
  setText(els.quotesPerS, status ? fmt.rate(status.quotes_per_s) : fmt.MISSING);
  const miss = status ? status.geometry_miss : feed ? feed.geometry_miss : null;
  setText(els.geometryMiss, fmt.count(miss));
  if (heatmap) {
    const s = heatmap.sources;
    setText(els.sources, `${fmt.count(s.live)} / ${fmt.count(s.vendor)} / ${fmt.count(s.missing)}`);
    const u = heatmap.unusable;
    const total = Object.values(u).reduce((a, b) => a + b, 0);
    setText(els.unusable, fmt.count(total));
    els.unusable.title = Object.entries(u)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
  }
  renderUpdated();
  renderTransitions(status);
}

function renderUpdated() {
  const heatmap = session && session.state.heatmap;
  if (!heatmap) {
    setText(els.updated, fmt.MISSING);
    return;
  }
  const age = Math.max(0, serviceNow() - heatmap.ts * 1000);
  setText(els.updated, `${fmt.clock(heatmap.ts)} · ${(age / 1000).toFixed(1)} s`);
}

let transitionsShown = '';
function renderTransitions(status) {
  const list = status && Array.isArray(status.transitions) ? status.transitions.slice(0, 5) : [];
  const key = list.map((t) => t.id).join(',');
  if (key === transitionsShown) return;
  transitionsShown = key;
  els.transitions.replaceChildren();
  if (list.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = fmt.MISSING;
    els.transitions.append(li);
    return;
  }
  for (const t of list) {
    const li = document.createElement('li');
    const left = document.createElement('span');
    left.textContent = `${String(t.id).split('-').pop()} ${t.reason ?? ''}`;
    left.title = t.id;
    const right = document.createElement('span');
    right.className = 'muted';
    right.textContent = `${fmt.clock(t.at)} ${transitionCounts(t, false)}`;
    li.append(left, right);
    els.transitions.append(li);
  }
}

// ---------------------------------------------------------------------------
// The cell under the cursor
// ---------------------------------------------------------------------------

/** Rows of the cell table: label and how to read a contract's value. */
const CELL_FIELDS = [
  ['Bid', 'bid', fmt.price],
  ['Ask', 'ask', fmt.price],
  ['Mid', 'mid', fmt.price],
  ['IV', 'iv', fmt.ivPct],
  ['Delta', 'delta', fmt.delta],
  ['Gamma', 'gamma', fmt.gamma],
  ['OI', 'oi', fmt.count],
  ['Volume', 'volume', fmt.count],
  ['GEX (OI)', 'gex', fmt.usdSigned],
  ['GEX (vol)', 'gex_volume', fmt.usdSigned],
  ['GEX (flow, est.)', 'gex_flow', fmt.usdSigned],
  ['Cust. net (est.)', 'flow_net', fmt.countSigned],
  ['Greeks', 'source', (code) => fmt.source(String.fromCharCode(code))],
];

const cellTds = CELL_FIELDS.map(([label]) => {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = label;
  const call = document.createElement('td');
  const put = document.createElement('td');
  tr.append(th, call, put);
  els.cellRows.append(tr);
  return { call, put };
});

const CELL_HINT = els.cellSummary.textContent;

function contractValue(heatmap, slot, column, format) {
  return slot < 0 ? fmt.MISSING : format(heatmap.contracts[column][slot]);
}

function cellHeadline(info) {
  const heatmap = session.state.heatmap;
  const x = heatmap.expirations;
  const e = info.expiry;
  const label = fmt.expirationLabel(x.date[e], x.root[e], x.settlement[e]);
  const dte = x.dte[e];
  const metric = METRICS[options.metric];
  const value = cellValue(heatmapView.grid, heatmap, options.metric, options.side, info.cell);
  const shown = value === NO_CONTRACT ? 'no contract' : valueFormat(options.metric)(value);
  const whose = metric.sided ? ` ${options.side}` : '';
  return { where: `${fmt.strike(info.strike)} · ${label} · ${dte} DTE`, what: `${metric.label}${whose} ${shown}` };
}

function renderCell() {
  const heatmap = session && session.state.heatmap;
  if (!cursor || !heatmap || !heatmapView.grid || cursor.cell >= heatmapView.grid.cellCount) {
    setText(els.cellSummary, CELL_HINT);
    els.cellTable.hidden = true;
    return;
  }
  const head = cellHeadline(cursor);
  setText(els.cellSummary, `${head.where} — ${head.what}`);
  els.cellTable.hidden = false;
  CELL_FIELDS.forEach(([, column, format], i) => {
    setText(cellTds[i].call, contractValue(heatmap, cursor.callSlot, column, format));
    setText(cellTds[i].put, contractValue(heatmap, cursor.putSlot, column, format));
  });
  if (!els.tooltip.hidden && tooltipFor === 'cell') fillTooltip(cursor);
}

function fillTooltip(info) {
  const heatmap = session.state.heatmap;
  const head = cellHeadline(info);
  // Each side's exposure on the shown metric's basis: the lines add up to the headline.
  const [column, label] = METRICS[options.metric].tip ?? ['gex', 'GEX'];
  const format = column === 'flow_net' ? fmt.countSigned : fmt.usdSigned;
  const side = (slot, name) =>
    slot < 0
      ? `${name}: no contract`
      : `${name} ${fmt.price(heatmap.contracts.bid[slot])} / ${fmt.price(heatmap.contracts.ask[slot])}` +
        ` · IV ${fmt.ivPct(heatmap.contracts.iv[slot])} · OI ${fmt.count(heatmap.contracts.oi[slot])}` +
        ` · ${label} ${format(heatmap.contracts[column][slot])}`;
  const lines = [head.where, head.what, side(info.callSlot, 'C'), side(info.putSlot, 'P')];
  const divs = els.tooltip.children;
  if (divs.length !== lines.length) {
    els.tooltip.replaceChildren(...lines.map(() => document.createElement('div')));
    els.tooltip.firstChild.style.fontWeight = '600';
  }
  lines.forEach((line, i) => setText(els.tooltip.children[i], line));
}

/** Whose the shown tooltip is ('cell', 'profile', 'timeline'), so a tick refills
 * the heatmap cell's tooltip and never another's. */
let tooltipFor = null;

function showTooltip(info) {
  if (!session || !session.state.heatmap) return;
  fillTooltip(info);
  tooltipFor = 'cell';
  els.tooltip.hidden = false;
  let x;
  let y;
  if (info.pointer) {
    x = info.pointer.x + 14;
    y = info.pointer.y + 14;
  } else {
    const canvasBox = els.heatmap.getBoundingClientRect();
    x = canvasBox.left + info.rect.x + info.rect.width + 8;
    y = canvasBox.top + info.rect.y + info.rect.height + 6;
  }
  placeTooltip(x, y);
}

/** Puts the shown tooltip at (x, y), flipped to the other side of the point where
 * it would leave the window. */
function placeTooltip(x, y) {
  const box = els.tooltip.getBoundingClientRect();
  if (x + box.width > window.innerWidth - 4) x = Math.max(4, x - box.width - 28);
  if (y + box.height > window.innerHeight - 4) y = Math.max(4, y - box.height - 28);
  els.tooltip.style.left = `${x}px`;
  els.tooltip.style.top = `${y}px`;
}

function hideTooltip() {
  tooltipFor = null;
  els.tooltip.hidden = true;
}

/** Scrolls so the keyboard cursor's cell is visible: the board up and down (a wide
 * strike window outgrows it; rows and profile scroll together), the heatmap's own
 * box sideways (more expirations than fit beside the profile). */
function keepInView(rect) {
  const board = els.board.getBoundingClientRect();
  const wrap = els.heatmap.parentElement;
  const box = wrap.getBoundingClientRect();
  const canvas = els.heatmap.getBoundingClientRect();
  const top = canvas.top + rect.y;
  const bottom = top + rect.height;
  const left = canvas.left + rect.x;
  const right = left + rect.width;
  const margin = 8;
  if (top < board.top + margin) els.board.scrollTop -= board.top + margin - top;
  else if (bottom > board.bottom - margin) els.board.scrollTop += bottom - board.bottom + margin;
  if (left < box.left + margin) wrap.scrollLeft -= box.left + margin - left;
  else if (right > box.right - margin) wrap.scrollLeft += right - box.right + margin;
}

// ---------------------------------------------------------------------------
// Controls and start-up
// ---------------------------------------------------------------------------

els.metric.addEventListener('change', () => {
  options.metric = els.metric.value;
  applyOptions();
});
els.side.addEventListener('change', (ev) => {
  if (ev.target.name === 'side') {
    options.side = ev.target.value;
    applyOptions();
  }
});
els.filter.addEventListener('change', () => {
  options.filter = els.filter.value;
  applyOptions();
  loadTimeline();
});
els.view.addEventListener('change', () => {
  options.view = els.view.value === 'session' ? 'session' : 'board';
  writeStored(VIEW_KEY, options.view);
  showView();
});
els.curveToggle.addEventListener('change', () => {
  options.curve = els.curveToggle.checked;
  saveCurveOption(options.curve);
  profileStale = true;
  requestFrame();
});
els.window.addEventListener('change', () => {
  options.windowPct = parseWindow(els.window.value);
  applyOptions();
});
els.symbol.addEventListener('change', () => {
  history.replaceState(null, '', `#${els.symbol.value}`);
  openSymbol(els.symbol.value);
});
els.heatmap.addEventListener('blur', hideTooltip);
// The profile reads back: the strike under the pointer, its calls', puts' and net GEX.
els.profile.addEventListener('pointermove', (ev) => {
  const box = els.profile.getBoundingClientRect();
  const hit = profileView.hit(ev.clientY - box.top);
  hooks.profileHover = hit;
  if (!hit) {
    hideTooltip();
    return;
  }
  const value = (x) => (x === null ? fmt.MISSING : fmt.usdSigned(x));
  const lines = [`${fmt.strike(hit.strike)} · ${hit.label} · ${filterName(hit.filter)}`];
  if (hit.put === null && hit.call !== null) lines.push(`${value(hit.net)} (${METRICS[options.metric].unit})`);
  else lines.push(`calls ${value(hit.call)} · puts ${value(hit.put)}`, `net ${value(hit.net)} per 1% move`);
  tooltipLines('profile', lines, ev.clientX + 14, ev.clientY + 14);
});
els.profile.addEventListener('pointerleave', () => {
  hooks.profileHover = null;
  hideTooltip();
});
els.heatmap.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') hideTooltip();
  else if (ev.key === '+' || ev.key === '=') zoom(-1);
  else if (ev.key === '-' || ev.key === '_') zoom(1);
});
// Ctrl (or Alt) and the wheel zoom the strike window; the plain wheel scrolls.
els.board.addEventListener(
  'wheel',
  (ev) => {
    if (options.view !== 'board' || !(ev.ctrlKey || ev.altKey) || ev.deltaY === 0) return;
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? -1 : 1);
  },
  { passive: false },
);

/** Narrows (−1) or widens (+1) the strike window by one of the Strikes choices. */
function zoom(direction) {
  const i = els.window.selectedIndex + direction;
  if (i < 0 || i >= els.window.options.length) return;
  els.window.selectedIndex = i;
  options.windowPct = parseWindow(els.window.value);
  hooks.windowPct = options.windowPct;
  applyOptions();
}

function measure() {
  // The heatmap (or the session view) gets the board minus the profile column;
  // rows fill its height.
  const width = els.board.clientWidth - els.profileWrap.offsetWidth - 2;
  if (options.view === 'session') timelineView.resize(Math.max(240, width), els.board.clientHeight - 2);
  else heatmapView.resize(Math.max(240, width), els.board.clientHeight - 2);
  profileStale = true;
  requestFrame();
}
new ResizeObserver(measure).observe(els.board);

setInterval(() => {
  // Ages count up between documents.
  renderEpoch();
  renderUpdated();
}, 1000);

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) requestFrame();
});

async function loadSymbols() {
  const wanted = decodeURIComponent(location.hash.slice(1)).toUpperCase();
  let symbols = [];
  try {
    const response = await apiFetch('/api/v1/symbols');
    if (response.status === 401) {
      askForToken();
      if (session) openSymbol(session.symbol);
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    symbols = (await response.json()).symbols || [];
  } catch (err) {
    console.warn('chainboard: /api/v1/symbols failed; retrying', err);
    setTimeout(loadSymbols, 3000);
    if (session) return;
    symbols = [wanted || 'SPX']; // stream something meanwhile
  }
  const current = session ? session.symbol : null;
  els.symbol.replaceChildren(
    ...symbols.map((s) => {
      const option = document.createElement('option');
      option.value = s;
      option.textContent = s;
      return option;
    }),
  );
  const pick = symbols.includes(current) ? current : symbols.includes(wanted) ? wanted : symbols[0];
  if (!pick) return;
  els.symbol.value = pick;
  if (pick !== current) openSymbol(pick);
}

applyOptions();
showView();
loadSymbols();
