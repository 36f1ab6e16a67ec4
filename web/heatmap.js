// heatmap.js — the strikes × expirations canvas, repainted cell by cell.
//
// The data flow: stream.js patches the decoded heatmap's typed columns and hands us
// the changed board slots; we map each slot to its cell (one Int32Array lookup),
// recompute that cell's value and colour, and paint just that rectangle. The whole
// canvas is repainted only when the view changes (metric, filter, strike window, a
// new snapshot) or when the colour scale moved enough that old and new cells would
// no longer be comparable — and for that last reason at most once a second.
//
// Two stacked canvases: the base one holds the cell colours (dirty-rectangle
// painting), the overlay holds what is transient — the cursor, the fading outline
// on cells a diff just changed, the spot line — and is cleared and redrawn only
// while something on it moves, so decorations never have to be erased from cells.
//
// The top half of this file is pure (grid building, values, scales, palettes) and
// is exercised by selftest.js under node; the `HeatmapView` class is the canvas.

// ---------------------------------------------------------------------------
// Metrics and palettes
// ---------------------------------------------------------------------------

/**
 * What a cell can show. `signed` metrics get the diverging palette and a scale
 * symmetric about zero; `sided` ones show the call or the put (a user switch), the
 * others the call and put summed: dealer GEX at a strike × expiry is the two
 * contracts' exposure together. `tip` is the per-contract column (and its label) a
 * cell's tooltip shows for each side, when not the OI basis's `gex`.
 */
export const METRICS = Object.freeze({
  gex: { label: 'GEX (OI)', column: 'gex', signed: true, sided: false, unit: 'dealer delta $ per 1% move' },
  gex_volume: { label: 'GEX (volume)', column: 'gex_volume', tip: ['gex_volume', 'GEX (vol)'], signed: true, sided: false, unit: 'dealer delta $ per 1% move, on today\'s volume' },
  gex_flow: { label: 'GEX (flow-adjusted, est.)', column: 'gex_flow', tip: ['gex_flow', 'GEX (flow, est.)'], signed: true, sided: false, unit: 'dealer delta $ per 1% move, on open interest less today\'s customer net buying (estimate from the quote rule)' },
  flow_net: { label: 'Customer net (est.)', column: 'flow_net', tip: ['flow_net', 'cust. net (est.)'], signed: true, sided: true, contracts: true, unit: 'contracts customers bought minus sold today (estimate from the quote rule)' },
  dex: { label: 'DEX', column: 'dex', signed: true, sided: false, unit: 'dealer delta, $ of index' },
  vanna: { label: 'Vanna', column: 'vanna', signed: true, sided: false, unit: 'dealer delta $ per +1 vol point' },
  charm: { label: 'Charm', column: 'charm', signed: true, sided: false, unit: 'dealer delta $ per day passing' },
  iv: { label: 'IV', column: 'iv', signed: false, sided: true, low: 0.02 },
  mid: { label: 'Mid', column: 'mid', signed: false, sided: true, low: null },
  oi: { label: 'OI', column: 'oi', signed: false, sided: true, low: null },
});

/** |value| percentile that sets the colour range. High enough to use the palette,
 * low enough that one giant strike (a wall, a stale print) cannot turn every other
 * cell into the zero colour; values beyond are clamped to the end colour. */
export const SCALE_PERCENTILE = 0.97;

/** Relative change of the scale that is worth a full repaint: below it, changed
 * cells are coloured with the scale already on screen so they stay comparable. */
export const SCALE_TOLERANCE = 0.15;

/** A full repaint for a moved scale or recentred window at most this often. */
export const FULL_REPAINT_MIN_MS = 1000;

/** Zero to the ends: dark at zero (most cells, quiet), brighter with magnitude.
 * Blue for positive and orange for negative dealer gamma read apart for the
 * common colour-vision deficiencies, unlike green/red. */
const DIVERGING_NEGATIVE = ['#1c2230', '#4a2a1f', '#8c3f1c', '#d9652a', '#ffb877'];
const DIVERGING_POSITIVE = ['#1c2230', '#16345a', '#1f5c9e', '#3b8fe3', '#a9d7ff'];
const SEQUENTIAL = ['#1d1b3a', '#3d1f66', '#7a2a7f', '#bf3f6d', '#ef7b45', '#fcd25c'];

/** Distinct from every palette colour: a contract whose value is null. */
export const MISSING_COLOR = '#3a3f4a';
/** No contract at this strike × expiry (and side). */
export const EMPTY_COLOR = '#10141c';
const BACKGROUND = '#0b0e14';
const LABEL = '#9aa4b5';
const LABEL_STRONG = '#dde3ec';

const DIVERGING_STEPS = 255; // odd: index 127 is exactly zero
const SEQUENTIAL_STEPS = 256;

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function ramp(stops, t) {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Colour lookup tables: one CSS string per step, built once, so painting a cell
 * allocates nothing. */
export const PALETTES = Object.freeze({
  diverging: Array.from({ length: DIVERGING_STEPS }, (_, i) => {
    const t = (i - (DIVERGING_STEPS - 1) / 2) / ((DIVERGING_STEPS - 1) / 2);
    return t < 0 ? ramp(DIVERGING_NEGATIVE, -t) : ramp(DIVERGING_POSITIVE, t);
  }),
  sequential: Array.from({ length: SEQUENTIAL_STEPS }, (_, i) => ramp(SEQUENTIAL, i / (SEQUENTIAL_STEPS - 1))),
});

/** A CSS gradient of a metric's palette, for the legend. */
export function legendGradient(metricKey) {
  const stops = METRICS[metricKey].signed
    ? [...DIVERGING_NEGATIVE].reverse().concat(DIVERGING_POSITIVE.slice(1))
    : SEQUENTIAL;
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

// ---------------------------------------------------------------------------
// Grid: which strikes and expirations are on screen, and which contracts fill them
// ---------------------------------------------------------------------------

/**
 * The cells on screen for a decoded heatmap and view options.
 *
 * Columns: the expirations whose `filters` include `filter`, in the server's order
 * (by date, then root). Rows: a uniform price axis, highest first (a price ladder,
 * and the order the GEX profile beside it uses): one row per `step`, the commonest
 * gap between the strikes within `windowPct` of `center` that have a contract in a
 * shown column. Each such strike sits on its row; a row between wider-spaced strikes
 * (far from spot, where strikes thin out) is empty, so distances read true as on a
 * chart. A strike off the step's grid shares the nearest row with one on it and
 * gives way to it. When that would take more than MAX_UNIFORM_ROWS rows (the whole
 * chain at its finest step), rows are the listed strikes instead (`uniform` false).
 * Cell `r * cols.length + c`.
 *
 * `call[cell]` / `put[cell]` are board slots or -1; `cellOfSlot[slot]` is the cell a
 * slot paints or -1, so a diff's slots find their cells without searching.
 */
export function buildGrid(heatmap, { filter, windowPct, center }) {
  const { expirations, strikes, contracts, count } = heatmap;
  const expirationCount = expirations.filters.length;
  const colOfExpiry = new Int32Array(expirationCount).fill(-1);
  const colList = [];
  for (let e = 0; e < expirationCount; e++) {
    if (expirations.filters[e].includes(filter)) {
      colOfExpiry[e] = colList.length;
      colList.push(e);
    }
  }

  const windowed = Number.isFinite(windowPct) && Number.isFinite(center) && center > 0;
  const lo = windowed ? center * (1 - windowPct) : -Infinity;
  const hi = windowed ? center * (1 + windowPct) : Infinity;
  const strikeUsed = new Uint8Array(strikes.length);
  const { expiry, strike } = contracts;
  for (let i = 0; i < count; i++) {
    if (colOfExpiry[expiry[i]] < 0) continue;
    const k = strikes[strike[i]];
    if (k >= lo && k <= hi) strikeUsed[strike[i]] = 1;
  }
  // Strikes are published ascending; sort anyway rather than trust it silently.
  const listed = [];
  for (let s = 0; s < strikes.length; s++) if (strikeUsed[s]) listed.push(s);
  listed.sort((a, b) => strikes[b] - strikes[a]);
  const { rowList, rowOfStrike, rowStrikes, step } = uniformRows(listed, strikes);

  const cols = Int32Array.from(colList);
  const rows = Int32Array.from(rowList);
  const cellCount = rows.length * cols.length;
  const call = new Int32Array(cellCount).fill(-1);
  const put = new Int32Array(cellCount).fill(-1);
  const cellOfSlot = new Int32Array(count).fill(-1);
  const P = 'P'.charCodeAt(0);
  for (let i = 0; i < count; i++) {
    const c = colOfExpiry[expiry[i]];
    const r = rowOfStrike[strike[i]];
    if (c < 0 || r < 0) continue;
    const cell = r * cols.length + c;
    cellOfSlot[i] = cell;
    if (contracts.right[i] === P) put[cell] = i;
    else call[cell] = i;
  }
  return { filter, windowPct, center, cols, rows, rowStrikes, step, uniform: step > 0, call, put, cellOfSlot, cellCount };
}

/** Rows beyond which the axis falls back to one row per listed strike. */
const MAX_UNIFORM_ROWS = 1_200;

/**
 * The rows for `listed` (strike indices, highest strike first): per row the strike
 * index on it or -1 (`rowList`), per strike index its row (`rowOfStrike`), per row
 * its price (`rowStrikes`), and the step (0 when the rows are the listed strikes).
 * The step is the largest that puts every listed strike exactly on a row (the
 * greatest common divisor of their distances, in cents), so no strike is ever
 * hidden: a chain of 5-point strikes with a few 2.5-point ones gets 2.5-point rows.
 */
export function uniformRows(listed, strikes) {
  const rowOfStrike = new Int32Array(strikes.length).fill(-1);
  const asListed = () => {
    listed.forEach((s, r) => {
      rowOfStrike[s] = r;
    });
    return { rowList: listed, rowOfStrike, rowStrikes: Float64Array.from(listed, (s) => strikes[s]), step: 0 };
  };
  if (listed.length < 3) return asListed();
  const top = strikes[listed[0]];
  const cents = (s) => Math.round((top - strikes[s]) * 100);
  let g = 0;
  for (const s of listed) g = gcd(g, cents(s));
  const span = cents(listed[listed.length - 1]);
  if (!(g > 0) || span / g + 1 > MAX_UNIFORM_ROWS) return asListed();
  const n = span / g + 1;
  const step = g / 100;
  const rowList = new Array(n).fill(-1);
  const rowStrikes = new Float64Array(n);
  for (let r = 0; r < n; r++) rowStrikes[r] = (Math.round(top * 100) - r * g) / 100;
  for (const s of listed) {
    const r = cents(s) / g;
    rowList[r] = s;
    rowOfStrike[s] = r;
    rowStrikes[r] = strikes[s];
  }
  return { rowList, rowOfStrike, rowStrikes, step };
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return Math.abs(a);
}

/** No contract for this cell (and side): painted as empty, not as missing. */
export const NO_CONTRACT = -Infinity;

/**
 * A cell's value for a metric: NaN when its contract(s) have no value,
 * `NO_CONTRACT` when there is no contract. GEX metrics sum call and put, counting
 * whichever exists.
 */
export function cellValue(grid, heatmap, metricKey, side, cell) {
  const metric = METRICS[metricKey];
  const column = heatmap.contracts[metric.column];
  if (metric.sided) {
    const slot = side === 'put' ? grid.put[cell] : grid.call[cell];
    return slot < 0 ? NO_CONTRACT : column[slot];
  }
  const c = grid.call[cell];
  const p = grid.put[cell];
  if (c < 0 && p < 0) return NO_CONTRACT;
  const cv = c < 0 ? NaN : column[c];
  const pv = p < 0 ? NaN : column[p];
  if (Number.isNaN(cv)) return pv;
  if (Number.isNaN(pv)) return cv;
  return cv + pv;
}

/**
 * The `q` quantile of the finite values in `values[0..n)`, using `scratch` (a
 * Float64Array at least n long) so a tick allocates nothing. `transform` maps each
 * value first (e.g. Math.abs). NaN when there is no finite value.
 */
export function quantile(values, n, q, scratch, transform = null) {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Number.isFinite(v)) scratch[m++] = transform ? transform(v) : v;
  }
  if (m === 0) return NaN;
  const sorted = scratch.subarray(0, m).sort();
  return sorted[Math.min(m - 1, Math.floor(q * (m - 1) + 0.5))];
}

/**
 * The colour range `{ lo, hi }` for a metric's cell values. Signed metrics: ±the
 * high percentile of |value| (zero stays the middle colour). IV starts at a low
 * percentile (a vol surface lives far from zero); mid and OI start at zero.
 */
export function computeScale(metricKey, values, n, scratch) {
  const metric = METRICS[metricKey];
  if (metric.signed) {
    const top = quantile(values, n, SCALE_PERCENTILE, scratch, Math.abs);
    const hi = top > 0 ? top : 1;
    return { lo: -hi, hi };
  }
  let hi = quantile(values, n, SCALE_PERCENTILE, scratch);
  let lo = metric.low === null ? 0 : quantile(values, n, metric.low, scratch);
  if (!Number.isFinite(hi)) hi = 1;
  if (!Number.isFinite(lo) || lo >= hi) lo = Math.min(0, hi - 1);
  return { lo, hi };
}

/** Whether `next` differs from the painted scale by more than the tolerance. */
export function scaleMoved(painted, next) {
  if (!painted) return true;
  const span = painted.hi - painted.lo;
  return (
    Math.abs(next.hi - painted.hi) > SCALE_TOLERANCE * span ||
    Math.abs(next.lo - painted.lo) > SCALE_TOLERANCE * span
  );
}

/** Colour step for a value: a palette index, -1 for missing, -2 for no contract. */
export function colorIndex(value, scale, steps) {
  if (value === NO_CONTRACT) return -2;
  if (Number.isNaN(value)) return -1;
  const t = (value - scale.lo) / (scale.hi - scale.lo);
  const clamped = t < 0 ? 0 : t > 1 ? 1 : t;
  return Math.round(clamped * (steps - 1));
}

/**
 * Where a price sits on the rows (strikes descending, `rowH` tall from `top`):
 * `{ y, clamped }`, `clamped` being 'above' or 'below' when outside the rows,
 * interpolated between row centres inside. Null without rows or price.
 */
export function yForPrice(rowStrikes, top, rowH, price) {
  const n = rowStrikes.length;
  if (n === 0 || price === null || price === undefined || !Number.isFinite(price)) return null;
  if (price > rowStrikes[0]) return { y: top, clamped: 'above' };
  if (price < rowStrikes[n - 1]) return { y: top + n * rowH, clamped: 'below' };
  for (let r = 0; r < n - 1; r++) {
    const a = rowStrikes[r];
    const b = rowStrikes[r + 1];
    if (price <= a && price >= b) {
      const f = a === b ? 0 : (a - price) / (a - b);
      return { y: top + (r + 0.5 + f) * rowH, clamped: null };
    }
  }
  return { y: top + 0.5 * rowH, clamped: null }; // a single row, at its strike
}

// ---------------------------------------------------------------------------
// HeatmapView: the canvas
// ---------------------------------------------------------------------------

const GUTTER = 58; // strike labels
const HEADER = 84; // column labels, drawn vertically
const PAD = 4;
const MIN_COL = 10;
const MAX_COL = 96; // a filter with one or two expirations still fills some width
const MIN_ROW = 3;
const MAX_ROW = 20;
/** How long a changed cell's outline takes to fade: long enough to catch the eye,
 * short enough to be gone before the next tick's changes. */
const FLASH_MS = 900;
const FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const CELL_FONT = '9px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
/** Cells at least this big print their value. */
const TEXT_COL = 40;
const TEXT_ROW = 11;

export class HeatmapView {
  /**
   * `onCursor({ cell, strike, expiry, callSlot, putSlot, rect, via })` runs when the
   * cursor moves (hover or keys); `cell` is null when there is nothing under it.
   * `formatLabel(e)` gives column e's header text.
   */
  constructor({ canvas, overlay, onCursor, formatLabel }) {
    this.canvas = canvas;
    this.overlay = overlay;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.octx = overlay.getContext('2d');
    this.onCursor = onCursor;
    this.formatLabel = formatLabel;
    this.heatmap = null;
    this.grid = null;
    this.options = { metric: 'gex', side: 'call', filter: 'all', windowPct: 0.08 };
    this.avail = { width: 800, height: 500 };
    /** Whether cells print their values (set by `layout`), and how. */
    this.cellText = false;
    this.formatValue = (v) => String(v);
    this.size = { width: 0, height: 0, colW: MIN_COL, rowH: MIN_ROW, dpr: 1 };
    /** The box `locate` computed last. */
    this.at = { x: 0, y: 0, w: 0, h: 0 };

    /** Per cell, resized with the grid. */
    this.values = new Float64Array(0);
    this.colors = new Int16Array(0);
    this.scratch = new Float64Array(0);
    this.dirty = new Uint8Array(0);
    this.dirtyList = new Int32Array(0);
    this.dirtyCount = 0;
    this.flashStart = new Float64Array(0);
    this.flashList = new Int32Array(0);
    this.flashCount = 0;

    /** The scale the cells on screen were coloured with. */
    this.scale = null;
    /** The view changed (options, document, size): rebuild on the next frame. */
    this.needsRebuild = false;
    /** Spot left the window's middle: rebuild when the repaint budget allows. */
    this.recenterOwed = false;
    /** The colour scale moved past tolerance: full repaint when the budget allows. */
    this.scaleOwed = false;
    this.needsFull = false;
    this.overlayDirty = true;
    this.lastFullAt = -Infinity;

    /** The cursor by strike value and expiration index, so it survives a rebuild
     * (a new window or filter) on the same strike and expiration. */
    this.cursor = null; // { strike, expiry }
    this.spot = null;

    this.repaintedCells = 0;
    this.fullRepaints = 0;

    canvas.addEventListener('pointermove', (ev) => this.onPointer(ev));
    canvas.addEventListener('pointerleave', () => this.onCursor && this.onCursor({ cell: null, via: 'pointer' }));
    canvas.addEventListener('keydown', (ev) => this.onKey(ev));
    canvas.addEventListener('focus', () => {
      if (!this.cursor) this.cursorToSpot();
      this.announceCursor('keyboard');
    });
  }

  // -- inputs ----------------------------------------------------------------

  /** A new full document: the grid is rebuilt on the next frame. */
  setHeatmap(heatmap) {
    this.heatmap = heatmap;
    if (!heatmap) {
      // Another symbol: blank the canvases rather than show the old board.
      this.grid = null;
      this.scale = null;
      this.spot = null;
      this.cursor = null;
      this.dirtyCount = 0;
      this.flashCount = 0;
      this.flashStart.fill(0);
      this.ctx.setTransform(1, 0, 0, 1, 0, 0);
      this.ctx.fillStyle = BACKGROUND;
      this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      this.octx.setTransform(1, 0, 0, 1, 0, 0);
      this.octx.clearRect(0, 0, this.overlay.width, this.overlay.height);
      return;
    }
    this.spot = pickSpot(heatmap);
    this.needsRebuild = true;
  }

  /** Changed board slots from a diff (the document itself was patched already). */
  applyDiff(slots, columnsChanged) {
    if (!this.heatmap) return;
    this.spot = pickSpot(this.heatmap);
    this.overlayDirty = true;
    if (columnsChanged) {
      // dte/filters moved with the anchor: a filter may now show other columns.
      this.needsRebuild = true;
      return;
    }
    if (!this.grid) return;
    const { cellOfSlot } = this.grid;
    for (let i = 0; i < slots.length; i++) {
      const cell = cellOfSlot[slots[i]];
      if (cell >= 0 && !this.dirty[cell]) {
        this.dirty[cell] = 1;
        this.dirtyList[this.dirtyCount++] = cell;
      }
    }
    const { windowPct, center } = this.grid;
    if (Number.isFinite(windowPct) && Number.isFinite(this.spot) && Number.isFinite(center)) {
      // Recentre only when spot has used a quarter of the window: recentring on
      // every tick would repaint everything every second.
      if (Math.abs(this.spot / center - 1) > windowPct / 4) this.recenterOwed = true;
    } else if (Number.isFinite(windowPct) && Number.isFinite(this.spot)) {
      this.needsRebuild = true; // the first spot: apply the window now
    }
  }

  setOptions(options) {
    this.options = { ...this.options, ...options };
    this.needsRebuild = true;
  }

  /** Space the layout gave the heatmap (CSS px). */
  resize(width, height) {
    if (width === this.avail.width && height === this.avail.height) return;
    this.avail = { width, height };
    this.needsRebuild = true;
  }

  // -- frame -----------------------------------------------------------------

  /** Paints what changed; returns whether another frame is wanted (fades running
   * or a throttled repaint owed). */
  frame(now) {
    if (!this.heatmap) return false;
    const budget = now - this.lastFullAt >= FULL_REPAINT_MIN_MS;
    // A view the user asked for, or a new document, is drawn at once; a recentre
    // for spot drift or a moved colour scale waits for the once-a-second budget.
    if (this.needsRebuild || (this.recenterOwed && budget)) this.rebuild();
    if (this.dirtyCount > 0 && this.grid) this.paintDirty(now);
    if (this.scaleOwed && budget) this.needsFull = true;
    if (this.needsFull) this.paintFull(now);
    if (this.overlayDirty || this.flashCount > 0) this.paintOverlay(now);
    return this.flashCount > 0 || this.recenterOwed || this.scaleOwed;
  }

  rebuild() {
    const heatmap = this.heatmap;
    const { filter, windowPct } = this.options;
    const center = Number.isFinite(this.spot) ? this.spot : NaN;
    this.grid = buildGrid(heatmap, { filter, windowPct, center });
    this.recenterOwed = false;
    const n = this.grid.cellCount;
    if (this.values.length < n) {
      this.values = new Float64Array(n);
      this.colors = new Int16Array(n);
      this.scratch = new Float64Array(n);
      this.dirtyList = new Int32Array(n);
      this.flashStart = new Float64Array(n);
      this.flashList = new Int32Array(n);
    }
    this.dirty = new Uint8Array(n);
    this.dirtyCount = 0;
    this.flashCount = 0;
    this.flashStart.fill(0);
    this.layout();
    this.needsRebuild = false;
    this.needsFull = true;
  }

  layout() {
    const { cols, rows } = this.grid;
    const nCols = Math.max(1, cols.length);
    const nRows = Math.max(1, rows.length);
    // Cells fill the space given, within readable bounds. Sizes are fractional and
    // edges are rounded per row and column (see `locate`), so the grid fills the
    // board exactly instead of leaving a strip of up to one cell per row unused.
    const colW = clamp((this.avail.width - GUTTER - PAD) / nCols, MIN_COL, MAX_COL);
    const rowH = clamp((this.avail.height - HEADER - PAD) / nRows, MIN_ROW, MAX_ROW);
    const width = Math.max(Math.ceil(GUTTER + nCols * colW + PAD), 240);
    const height = Math.ceil(HEADER + nRows * rowH + PAD);
    const dpr = globalThis.devicePixelRatio || 1;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
      c.style.width = `${width}px`;
      c.style.height = `${height}px`;
    }
    this.size = { width, height, colW, rowH, dpr };
    // Gaps make the grid readable when cells are big enough to spare a pixel.
    this.gapX = colW >= 8 ? 1 : 0;
    this.gapY = rowH >= 6 ? 1 : 0;
    this.cellText = colW >= TEXT_COL && rowH >= TEXT_ROW;
  }

  /** Where rows sit, for the profile chart drawn beside the heatmap. */
  get geometry() {
    if (!this.grid) return null;
    return { top: HEADER, rowH: this.size.rowH, height: this.size.height, rowStrikes: this.grid.rowStrikes };
  }

  paintDirty(now) {
    const { metric, side } = this.options;
    const heatmap = this.heatmap;
    const grid = this.grid;
    const n = grid.cellCount;
    for (let i = 0; i < this.dirtyCount; i++) {
      const cell = this.dirtyList[i];
      this.values[cell] = cellValue(grid, heatmap, metric, side, cell);
    }
    const next = computeScale(metric, this.values, n, this.scratch);
    if (scaleMoved(this.scale, next)) {
      if (now - this.lastFullAt >= FULL_REPAINT_MIN_MS) this.needsFull = true;
      else this.scaleOwed = true; // keep the old scale until the budget allows
    }
    const steps = this.steps();
    for (let i = 0; i < this.dirtyCount; i++) {
      const cell = this.dirtyList[i];
      this.dirty[cell] = 0;
      if (!this.needsFull) {
        this.colors[cell] = colorIndex(this.values[cell], this.scale, steps);
        this.paintCell(cell);
      }
      this.startFlash(cell, now);
    }
    this.repaintedCells += this.dirtyCount;
    this.dirtyCount = 0;
  }

  paintFull(now) {
    const { metric, side } = this.options;
    const grid = this.grid;
    const n = grid.cellCount;
    for (let cell = 0; cell < n; cell++) this.values[cell] = cellValue(grid, this.heatmap, metric, side, cell);
    this.scale = computeScale(metric, this.values, n, this.scratch);
    const steps = this.steps();
    for (let cell = 0; cell < n; cell++) this.colors[cell] = colorIndex(this.values[cell], this.scale, steps);

    const ctx = this.ctx;
    const { width, height, dpr } = this.size;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, width, height);
    if (grid.cols.length === 0 || grid.rows.length === 0) {
      ctx.fillStyle = LABEL;
      ctx.font = '13px system-ui, sans-serif';
      ctx.fillText(grid.cols.length === 0 ? 'No expirations in this filter.' : 'No strikes in this window.', GUTTER, HEADER + 20);
    } else {
      this.paintLabels();
      for (let cell = 0; cell < n; cell++) this.paintCell(cell);
    }
    this.needsFull = false;
    this.scaleOwed = false;
    this.lastFullAt = now;
    this.fullRepaints++;
    this.overlayDirty = true;
  }

  steps() {
    return METRICS[this.options.metric].signed ? DIVERGING_STEPS : SEQUENTIAL_STEPS;
  }

  paintCell(cell) {
    const nCols = this.grid.cols.length;
    const r = (cell / nCols) | 0;
    const c = cell - r * nCols;
    this.locate(r, c);
    const ci = this.colors[cell];
    const lut = METRICS[this.options.metric].signed ? PALETTES.diverging : PALETTES.sequential;
    this.ctx.fillStyle = ci >= 0 ? lut[ci] : ci === -1 ? MISSING_COLOR : EMPTY_COLOR;
    this.ctx.fillRect(this.at.x, this.at.y, this.at.w - this.gapX, this.at.h - this.gapY);
    if (this.cellText && ci !== -2) this.paintValue(cell, ci, lut);
  }

  /** The cell's value in the cell, when cells are big enough to read it (see
   * `layout`): white on dark colours, black on light ones. */
  paintValue(cell, ci, lut) {
    const value = this.values[cell];
    if (!Number.isFinite(value)) return;
    const text = this.formatValue(value);
    const ctx = this.ctx;
    const color = ci >= 0 ? lut[ci] : MISSING_COLOR;
    ctx.fillStyle = luminance(color) > 0.5 ? '#0b0e14' : '#e8ecf4';
    ctx.font = CELL_FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, this.at.x + (this.at.w - this.gapX) / 2, this.at.y + (this.at.h - this.gapY) / 2, this.at.w - 4);
  }

  /** Sets `this.at` to the pixel box of row r, column c (edges rounded so
   * neighbours meet without seams); reused, so painting allocates nothing. */
  locate(r, c) {
    const { colW, rowH } = this.size;
    const x = GUTTER + Math.round(c * colW);
    const y = HEADER + Math.round(r * rowH);
    this.at.x = x;
    this.at.y = y;
    this.at.w = GUTTER + Math.round((c + 1) * colW) - x;
    this.at.h = HEADER + Math.round((r + 1) * rowH) - y;
    return this.at;
  }

  paintLabels() {
    const ctx = this.ctx;
    const { cols, rowStrikes } = this.grid;
    const { colW, rowH } = this.size;
    ctx.font = FONT;
    ctx.fillStyle = LABEL;
    // Column headers, vertical; every k-th when columns are narrower than text.
    const every = Math.max(1, Math.ceil(10 / colW));
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (let c = 0; c < cols.length; c += every) {
      ctx.save();
      const box = this.locate(0, c);
      ctx.translate(box.x + (box.w - this.gapX) / 2, HEADER - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(this.formatLabel(cols[c]), 0, 0);
      ctx.restore();
    }
    // Strike labels at round numbers, at least 13 px apart.
    ctx.textAlign = 'right';
    const interval = labelInterval(rowStrikes, rowH, 13);
    let lastY = -Infinity;
    for (let r = 0; r < rowStrikes.length; r++) {
      const k = rowStrikes[r];
      const y = HEADER + (r + 0.5) * rowH;
      if (interval > 0 && !isMultiple(k, interval)) continue;
      if (y - lastY < 13) continue;
      ctx.fillText(String(k), GUTTER - 6, y);
      lastY = y;
    }
  }

  startFlash(cell, now) {
    if (this.flashStart[cell] === 0) this.flashList[this.flashCount++] = cell;
    this.flashStart[cell] = now;
  }

  paintOverlay(now) {
    const ctx = this.octx;
    const { width, height, dpr, colW, rowH } = this.size;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    this.overlayDirty = false;
    if (!this.grid || this.grid.cellCount === 0) {
      this.flashCount = 0;
      return;
    }
    const nCols = this.grid.cols.length;
    const gridRight = GUTTER + Math.round(nCols * colW);

    // Fading outlines on cells a diff changed (alpha, not a new colour string per
    // cell per frame).
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#ffffff';
    let kept = 0;
    for (let i = 0; i < this.flashCount; i++) {
      const cell = this.flashList[i];
      const age = now - this.flashStart[cell];
      if (age >= FLASH_MS) {
        this.flashStart[cell] = 0;
        continue;
      }
      this.flashList[kept++] = cell;
      const r = (cell / nCols) | 0;
      const c = cell - r * nCols;
      const box = this.locate(r, c);
      ctx.globalAlpha = 0.75 * (1 - age / FLASH_MS);
      ctx.strokeRect(box.x + 0.5, box.y + 0.5, Math.max(1, box.w - this.gapX - 1), Math.max(1, box.h - this.gapY - 1));
    }
    this.flashCount = kept;
    ctx.globalAlpha = 1;

    // Spot: a dashed line across the grid and its value in the gutter.
    const spotAt = yForPrice(this.grid.rowStrikes, HEADER, rowH, this.spot);
    if (spotAt) {
      const y = Math.round(spotAt.y) + 0.5;
      ctx.strokeStyle = 'rgba(255,255,255,0.75)';
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(GUTTER, y);
      ctx.lineTo(gridRight, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = '#f5f7fa';
      ctx.fillRect(2, y - 7, GUTTER - 6, 14);
      ctx.fillStyle = '#0b0e14';
      ctx.font = `bold ${FONT}`;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(this.spot.toFixed(1), GUTTER - 6, y);
    }

    // Cursor: row and column bands on the labels, and an outline on the cell.
    const at = this.cursorCell();
    if (at) {
      const { x, y, w, h } = this.locate(at.row, at.col);
      ctx.fillStyle = 'rgba(255,214,102,0.16)';
      ctx.fillRect(0, y, GUTTER - 2, h);
      ctx.fillRect(x, 0, w, HEADER - 2);
      ctx.strokeStyle = '#ffd666';
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 1, y - 1, w - this.gapX + 2, h - this.gapY + 2);
    }
  }

  // -- cursor ------------------------------------------------------------------

  /** The cursor's row and column in the current grid (nearest strike, same
   * expiration or the first column), or null. */
  cursorCell() {
    const grid = this.grid;
    if (!this.cursor || !grid || grid.cellCount === 0) return null;
    let row = 0;
    let best = Infinity;
    for (let r = 0; r < grid.rowStrikes.length; r++) {
      const d = Math.abs(grid.rowStrikes[r] - this.cursor.strike);
      if (d < best) {
        best = d;
        row = r;
      }
    }
    let col = grid.cols.indexOf(this.cursor.expiry);
    if (col < 0) col = clamp(this.cursor.col ?? 0, 0, grid.cols.length - 1);
    return { row, col, cell: row * grid.cols.length + col };
  }

  setCursor(row, col, via, pointer) {
    const grid = this.grid;
    row = clamp(row, 0, grid.rows.length - 1);
    col = clamp(col, 0, grid.cols.length - 1);
    const next = { strike: grid.rowStrikes[row], expiry: grid.cols[col], col };
    const same = this.cursor && this.cursor.strike === next.strike && this.cursor.expiry === next.expiry;
    this.cursor = next;
    if (!same) this.overlayDirty = true;
    this.announceCursor(via, pointer);
  }

  cursorToSpot() {
    const grid = this.grid;
    if (!grid || grid.cellCount === 0) return;
    const at = yForPrice(grid.rowStrikes, 0, 1, this.spot);
    const row = at ? Math.floor(at.y) : Math.floor(grid.rows.length / 2);
    this.setCursor(row, 0, 'keyboard');
  }

  /** Tells the app what is under the cursor (for the panel and the tooltip). */
  announceCursor(via, pointer = null) {
    if (!this.onCursor) return;
    const at = this.cursorCell();
    if (!at) {
      this.onCursor({ cell: null, via });
      return;
    }
    const box = this.locate(at.row, at.col);
    const rect = { x: box.x, y: box.y, width: box.w, height: box.h };
    this.onCursor({
      cell: at.cell,
      strike: this.grid.rowStrikes[at.row],
      expiry: this.grid.cols[at.col],
      callSlot: this.grid.call[at.cell],
      putSlot: this.grid.put[at.cell],
      rect,
      pointer,
      via,
    });
  }

  onPointer(ev) {
    const grid = this.grid;
    if (!grid || grid.cellCount === 0) return;
    const bounds = this.canvas.getBoundingClientRect();
    const x = ev.clientX - bounds.left;
    const y = ev.clientY - bounds.top;
    const col = Math.floor((x - GUTTER) / this.size.colW);
    const row = Math.floor((y - HEADER) / this.size.rowH);
    if (col < 0 || row < 0 || col >= grid.cols.length || row >= grid.rows.length) {
      this.onCursor && this.onCursor({ cell: null, via: 'pointer' });
      return;
    }
    this.setCursor(row, col, 'pointer', { x: ev.clientX, y: ev.clientY });
  }

  onKey(ev) {
    const grid = this.grid;
    if (!grid || grid.cellCount === 0) return;
    const at = this.cursorCell();
    if (!at) {
      this.cursorToSpot();
      ev.preventDefault();
      return;
    }
    const big = ev.shiftKey ? 5 : 1;
    let { row, col } = at;
    switch (ev.key) {
      case 'ArrowUp':
        row -= big;
        break;
      case 'ArrowDown':
        row += big;
        break;
      case 'ArrowLeft':
        col -= big;
        break;
      case 'ArrowRight':
        col += big;
        break;
      case 'PageUp':
        row -= 10;
        break;
      case 'PageDown':
        row += 10;
        break;
      case 'Home':
        col = 0;
        break;
      case 'End':
        col = grid.cols.length - 1;
        break;
      default:
        return; // Tab and everything else keep their meaning
    }
    ev.preventDefault();
    this.setCursor(row, col, 'keyboard');
  }
}

function pickSpot(heatmap) {
  if (Number.isFinite(heatmap.spot)) return heatmap.spot;
  if (heatmap.anchor && Number.isFinite(heatmap.anchor.spot)) return heatmap.anchor.spot;
  return null;
}

/** Relative luminance of a `#rrggbb` or `rgb(r, g, b)` colour, 0 to 1. */
function luminance(color) {
  let r;
  let g;
  let b;
  if (color.startsWith('#')) {
    const n = parseInt(color.slice(1, 7), 16);
    r = (n >> 16) & 255;
    g = (n >> 8) & 255;
    b = n & 255;
  } else {
    [r, g, b] = color.match(/\d+/g).map(Number);
  }
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

function clamp(x, lo, hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

function isMultiple(k, interval) {
  const q = k / interval;
  return Math.abs(q - Math.round(q)) < 1e-9;
}

/** The roundest strike step whose rows are at least `minPx` apart, or 0 to label
 * by spacing alone (rows already that tall). */
export function labelInterval(rowStrikes, rowH, minPx) {
  if (rowH >= minPx || rowStrikes.length < 2) return 0;
  const gaps = [];
  for (let r = 0; r + 1 < rowStrikes.length; r++) gaps.push(rowStrikes[r] - rowStrikes[r + 1]);
  gaps.sort((a, b) => a - b);
  const typical = gaps[gaps.length >> 1];
  for (const nice of [1, 2, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]) {
    if (nice >= typical && (nice / typical) * rowH >= minPx) return nice;
  }
  return 10000;
}
