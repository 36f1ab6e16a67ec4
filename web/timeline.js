// timeline.js — the session view: net dealer GEX by strike (rows, on a uniform price
// axis) over the session (columns, time), with spot, the zero-gamma flip and both
// walls drawn over it as lines.
//
// It starts from the server's history (`GET /api/v1/gex/{symbol}/history`, one
// column per tick or per step, each the last tick published in it) and grows by one
// column per GEX document from the stream, built the way the server builds its
// history entries (net GEX per strike within 5% of spot, $M per 1% move). Columns
// are placed by their time; each pixel column shows the last tick at or before it,
// so a 6.5-hour session at 1 Hz (23,400 ticks) paints as fast as a minute of them.
// A full paint writes the pixels once (ImageData); a new tick paints only its own
// strip and the lines, unless it runs past the time axis, which then doubles.
//
// Pure helpers (`columnFromHistory`, `columnFromGex`, `pixelColumns`, `priceAxis`)
// are exported for the node selftest.

import { PALETTES } from './heatmap.js';
import { LEVEL_COLORS } from './profile.js';
import * as fmt from './format.js';

/** How far from spot a column reaches, as the server's history does. */
export const HISTORY_REACH = 0.05;
/** The share of |values| below the colour scale's end (the rest saturate). */
const SCALE_PERCENTILE = 0.97;
/** A pixel shows nothing when the last tick before it is older than this: the
 * board was not published then (an outage, a restart, the night). */
const MAX_GAP_S = 120;
/** The time axis starts this long, and doubles when a live tick runs past it. */
const MIN_SPAN_S = 15 * 60;
const AXIS_W = 52;
const AXIS_H = 18;
/** The profile of the pinned (or latest) tick, on the right on the same prices. */
const PROFILE_W = 110;
const POSITIVE = '#3b8fe3';
const NEGATIVE = '#d9652a';
const BACKGROUND = [11, 14, 20];
const FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const RGB = PALETTES.diverging.map((css) => css.match(/\d+/g).map(Number));

/** A column from a history document's column `c` on its strike axis `axis`. */
export function columnFromHistory(axis, c) {
  const strikes = [];
  const values = [];
  if (Array.isArray(c.profile)) {
    c.profile.forEach((v, i) => {
      if (v !== null && v !== undefined) {
        strikes.push(axis[i]);
        values.push(v);
      }
    });
  }
  return {
    t: c.ts,
    seq: c.seq,
    spot: c.spot,
    flip: c.zero_gamma,
    callWall: c.call_wall,
    putWall: c.put_wall,
    netGex: c.net_gex,
    netGexVolume: c.net_gex_volume,
    netGexFlow: c.net_gex_flow ?? null,
    strikes,
    values,
  };
}

/** A column from a live `chainboard/gex/v1` document, for `filter`; null without a
 * spot or the filter. */
export function columnFromGex(gex, filter) {
  const part = gex && gex.filters && gex.filters[filter];
  const center = (gex && gex.anchor && gex.anchor.spot) || (gex && gex.spot);
  if (!part || !center) return null;
  const strikes = [];
  const values = [];
  gex.strikes.forEach((k, i) => {
    if (Math.abs(k / center - 1) <= HISTORY_REACH) {
      strikes.push(k);
      values.push(Math.round(((part.call_gex[i] || 0) + (part.put_gex[i] || 0)) / 1e5) / 10);
    }
  });
  const levels = part.levels || {};
  return {
    t: gex.ts,
    seq: gex.seq,
    spot: gex.spot,
    flip: levels.zero_gamma,
    callWall: levels.call_wall,
    putWall: levels.put_wall,
    netGex: part.total ? part.total.net_gex : null,
    netGexVolume: part.total ? part.total.net_gex_volume : null,
    netGexFlow: part.total ? (part.total.net_gex_flow ?? null) : null,
    strikes,
    values,
  };
}

/**
 * For each of `width` pixels spanning times [t0, t1], the index of the column it
 * shows: the last one before the pixel's end (at or before t1 for the last pixel),
 * if no older than `maxGap` seconds; -1 where there is none. `times` ascending.
 */
export function pixelColumns(times, t0, t1, width, maxGap = MAX_GAP_S) {
  const out = new Int32Array(Math.max(0, width)).fill(-1);
  const span = t1 - t0;
  if (!(span > 0) || width <= 0) return out;
  // Start at the last tick before t0 (a binary search: a session holds 23,400).
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < t0) lo = mid + 1;
    else hi = mid;
  }
  let ci = lo - 1;
  for (let px = 0; px < width; px++) {
    // Pixel px covers [start, end); the last one includes t1.
    const end = t0 + ((px + 1) / width) * span;
    const last = px === width - 1;
    while (ci + 1 < times.length && (times[ci + 1] < end || (last && times[ci + 1] <= end))) ci++;
    const start = t0 + (px / width) * span;
    // Nothing after the last tick (the future), nor long after any tick (a hole).
    const after = ci === times.length - 1 && start > times[ci];
    if (ci >= 0 && !after && end - times[ci] <= maxGap + span / width) out[px] = ci;
  }
  return out;
}

/** A uniform price axis from `hi` (top) to `lo` over `height` pixels. */
export function priceAxis(lo, hi, top, height) {
  const scale = height / (hi - lo);
  return {
    lo,
    hi,
    y: (price) => top + (hi - price) * scale,
    price: (y) => hi - (y - top) / scale,
  };
}

/** The rows a column's strike `i` covers: half way to each neighbour. */
function rowBounds(strikes, i) {
  const k = strikes[i];
  const below = i > 0 ? (k - strikes[i - 1]) / 2 : i + 1 < strikes.length ? (strikes[i + 1] - k) / 2 : 2.5;
  const above = i + 1 < strikes.length ? (strikes[i + 1] - k) / 2 : below;
  return [k - below, k + above];
}

export class TimelineView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.columns = [];
    this.times = [];
    this.width = 0;
    this.height = 0;
    this.scale = 1;
    this.span = null; // [t0, t1]
    this.axis = null;
    this.pinned = -1; // a column shown as it was, or -1 for live
    this.lastPaintMs = 0;
    this.fullPaints = 0;
    /** Painting waits while the view is hidden; `resize` paints it when shown. */
    this.visible = true;
  }

  /** Replaces every column (a history document, or nothing). */
  load(columns) {
    this.columns = columns.filter((c) => Number.isFinite(c.t)).sort((a, b) => a.t - b.t);
    this.times = this.columns.map((c) => c.t);
    this.pinned = -1;
    this.span = null;
    this.paint();
  }

  /** Adds a live column; paints only its strip when the axes still hold it. */
  append(column) {
    if (!column || !Number.isFinite(column.t)) return;
    const last = this.columns[this.columns.length - 1];
    if (last && column.t <= last.t) return; // already held (the history had it)
    this.columns.push(column);
    this.times.push(column.t);
    if (!this.visible) {
      this.span = null; // the next paint chooses the axes afresh
      return;
    }
    const axis = this.axis;
    const fits =
      this.span && column.t <= this.span[1] && axis && column.spot > axis.lo && column.spot < axis.hi;
    if (!fits) {
      this.paint();
      return;
    }
    const started = performance.now();
    const [x0, x1] = this.paintStrip(this.columns.length - 2);
    this.paintLines(x0, x1);
    this.paintProfile();
    this.lastPaintMs = performance.now() - started;
  }

  resize(width, height) {
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(0, Math.floor(width));
    this.height = Math.max(0, Math.floor(height));
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.dpr = dpr;
    this.paint();
  }

  /** The plot's rectangle, CSS pixels. */
  plot() {
    return {
      left: AXIS_W,
      top: 16,
      width: Math.max(0, this.width - AXIS_W - PROFILE_W - 8),
      height: Math.max(0, this.height - AXIS_H - 16),
    };
  }

  /** Every pixel again: axes chosen from the columns, colours, lines, labels. */
  paint() {
    const started = performance.now();
    const { ctx } = this;
    ctx.setTransform(this.dpr || 1, 0, 0, this.dpr || 1, 0, 0);
    ctx.fillStyle = `rgb(${BACKGROUND.join(',')})`;
    ctx.fillRect(0, 0, this.width, this.height);
    const p = this.plot();
    if (!this.columns.length || p.width < 10 || p.height < 10) {
      ctx.fillStyle = '#8b95a7';
      ctx.font = FONT;
      ctx.fillText(this.columns.length ? '' : 'Waiting for the session’s history…', AXIS_W + 8, 20);
      this.axis = null;
      return;
    }
    const first = this.times[0];
    const last = this.times[this.times.length - 1];
    // The time axis keeps its span while the ticks fit, and doubles when they run
    // past it, so live ticks mostly paint only their own strip.
    let span = this.span && this.span[0] === first ? this.span[1] - first : MIN_SPAN_S;
    span = Math.max(span, MIN_SPAN_S);
    while (span <= last - first) span *= 2;
    this.span = [first, first + span];
    // Prices: every spot of the session and the latest column's reach.
    let lo = Infinity;
    let hi = -Infinity;
    for (const c of this.columns) {
      if (Number.isFinite(c.spot)) {
        lo = Math.min(lo, c.spot * (1 - HISTORY_REACH / 2));
        hi = Math.max(hi, c.spot * (1 + HISTORY_REACH / 2));
      }
    }
    if (!Number.isFinite(lo)) {
      lo = Math.min(...this.columns[0].strikes);
      hi = Math.max(...this.columns[0].strikes);
    }
    this.axis = priceAxis(lo, hi, p.top, p.height);
    // The colour scale: a high percentile of |value| over the session.
    const magnitudes = [];
    const every = Math.max(1, Math.floor(this.columns.length / 400));
    for (let i = 0; i < this.columns.length; i += every) {
      for (const v of this.columns[i].values) magnitudes.push(Math.abs(v));
    }
    magnitudes.sort((a, b) => a - b);
    this.scale = magnitudes.length ? magnitudes[Math.floor((magnitudes.length - 1) * SCALE_PERCENTILE)] || 1 : 1;
    this.paintAllStrips();
    this.paintLines();
    this.paintAxes();
    this.paintProfile();
    this.fullPaints++;
    this.lastPaintMs = performance.now() - started;
  }

  /** Pixel x of time `t`. */
  x(t) {
    const p = this.plot();
    return p.left + ((t - this.span[0]) / (this.span[1] - this.span[0])) * p.width;
  }

  paintAllStrips() {
    const p = this.plot();
    const dpr = this.dpr || 1;
    const w = Math.round(p.width * dpr);
    const h = Math.round(p.height * dpr);
    const image = this.blank(w, h);
    const map = pixelColumns(this.times, this.span[0], this.span[1], w);
    const px = image.data;
    let from = 0;
    while (from < w) {
      const ci = map[from];
      let to = from + 1;
      while (to < w && map[to] === ci) to++;
      if (ci >= 0) this.fillColumn(px, w, h, from, to, this.columns[ci]);
      from = to;
    }
    this.ctx.putImageData(image, Math.round(p.left * dpr), Math.round(p.top * dpr));
  }

  /** An image of `w` × `h` device pixels in the background colour. */
  blank(w, h) {
    const image = this.ctx.createImageData(w, h);
    const px = image.data;
    for (let i = 0; i < px.length; i += 4) {
      px[i] = BACKGROUND[0];
      px[i + 1] = BACKGROUND[1];
      px[i + 2] = BACKGROUND[2];
      px[i + 3] = 255;
    }
    return image;
  }

  /** Writes column `c`'s colours into device pixels [x0, x1) of an image w × h. */
  fillColumn(px, w, h, x0, x1, c) {
    const dpr = this.dpr || 1;
    const p = this.plot();
    const mid = (RGB.length - 1) / 2;
    for (let i = 0; i < c.strikes.length; i++) {
      const [below, above] = rowBounds(c.strikes, i);
      const ya = Math.max(0, Math.round((this.axis.y(above) - p.top) * dpr));
      const yb = Math.min(h, Math.round((this.axis.y(below) - p.top) * dpr));
      if (yb <= ya) continue;
      const ratio = c.values[i] / this.scale;
      if (!Number.isFinite(ratio)) continue;
      const t = Math.max(-1, Math.min(1, ratio));
      const [r, g, b] = RGB[Math.round(mid + t * mid)];
      for (let y = ya; y < yb; y++) {
        let o = (y * w + x0) * 4;
        for (let x = x0; x < x1; x++, o += 4) {
          px[o] = r;
          px[o + 1] = g;
          px[o + 2] = b;
        }
      }
    }
  }

  /** Repaints the strip from column `from` to the end (a new live tick); returns
   * its CSS pixels [x0, x1). */
  paintStrip(from) {
    const p = this.plot();
    const dpr = this.dpr || 1;
    const start = Math.max(0, from);
    const x0 = Math.max(p.left, Math.floor(this.x(this.times[start])));
    const x1 = Math.min(p.left + p.width, Math.ceil(this.x(this.times[this.times.length - 1])) + 2);
    if (x1 <= x0) return [x0, x0];
    const w = Math.round((x1 - x0) * dpr);
    const h = Math.round(p.height * dpr);
    const image = this.blank(w, h);
    const time = (x) => this.span[0] + ((x - p.left) / p.width) * (this.span[1] - this.span[0]);
    const map = pixelColumns(this.times, time(x0), time(x1), w);
    for (let x = 0; x < w; x++) {
      if (map[x] >= 0) this.fillColumn(image.data, w, h, x, x + 1, this.columns[map[x]]);
    }
    this.ctx.putImageData(image, Math.round(x0 * dpr), Math.round(p.top * dpr));
    return [x0, x1];
  }

  /** Spot, flip and walls as lines through each pixel column's tick (the last at
   * or before it, as the colours are): one vertex per pixel, however long the
   * session; the pinned column's marker. Only within CSS pixels [x0, x1) when
   * given (a repainted strip: lines elsewhere are already drawn). */
  paintLines(x0 = -Infinity, x1 = Infinity) {
    const { ctx } = this;
    const p = this.plot();
    const w = Math.max(1, Math.round(p.width));
    const map = pixelColumns(this.times, this.span[0], this.span[1], w);
    const left = Math.max(p.left, x0);
    const right = Math.min(p.left + p.width, x1);
    if (right <= left) return;
    const first = Math.max(0, Math.floor(left - p.left) - 1);
    const last = Math.min(w, Math.ceil(right - p.left) + 1);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, p.top, right - left, p.height);
    ctx.clip();
    const series = [
      ['putWall', LEVEL_COLORS.putWall, [4, 3]],
      ['callWall', LEVEL_COLORS.callWall, [4, 3]],
      ['flip', LEVEL_COLORS.flip, []],
      ['spot', LEVEL_COLORS.spot, []],
    ];
    for (const [key, color, dash] of series) {
      ctx.strokeStyle = color;
      ctx.lineWidth = key === 'spot' ? 1.5 : 1.2;
      ctx.setLineDash(dash);
      ctx.beginPath();
      let open = false;
      for (let px = first; px < last; px++) {
        const ci = map[px];
        const v = ci >= 0 ? this.columns[ci][key] : null;
        if (!Number.isFinite(v)) {
          open = false;
          continue;
        }
        const y = this.axis.y(v);
        if (open) ctx.lineTo(p.left + px + 0.5, y);
        else ctx.moveTo(p.left + px, y);
        open = true;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (this.pinned >= 0) {
      const x = this.x(this.times[this.pinned]);
      ctx.strokeStyle = 'rgba(255,255,255,0.8)';
      ctx.beginPath();
      ctx.moveTo(x + 0.5, p.top);
      ctx.lineTo(x + 0.5, p.top + p.height);
      ctx.stroke();
    }
    ctx.restore();
  }

  paintAxes() {
    const { ctx } = this;
    const p = this.plot();
    ctx.font = FONT;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    ctx.fillStyle = '#9aa4b5';
    ctx.fillText(`net dealer GEX by strike, $M per 1% move (colour ±${Math.round(this.scale).toLocaleString('en-US')}M)`, p.left, 2);
    ctx.fillStyle = '#9aa4b5';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const range = this.axis.hi - this.axis.lo;
    const steps = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
    const step = steps.find((s) => (s / range) * p.height >= 28) || 5000;
    // At most a label per 28 px, whatever the axis holds.
    const first = Math.ceil(this.axis.lo / step) * step;
    const labels = Math.min(Math.floor(p.height / 28) + 1, Math.floor((this.axis.hi - first) / step) + 1);
    for (let n = 0, k = first; n < labels; n++, k = first + n * step) {
      ctx.fillText(fmt.strike(k), AXIS_W - 6, this.axis.y(k));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const span = this.span[1] - this.span[0];
    const ticks = [60, 300, 600, 900, 1800, 3600, 7200];
    const tick = ticks.find((s) => (s / span) * p.width >= 70) || 14400;
    const start = Math.ceil(this.span[0] / tick) * tick;
    const count = Math.min(Math.floor(p.width / 70) + 1, Math.floor((this.span[1] - start) / tick) + 1);
    for (let n = 0, t = start; n < count; n++, t = start + n * tick) {
      ctx.fillText(fmt.clock(t).slice(0, 5), this.x(t), p.top + p.height + 4);
    }
  }

  /** The shown tick's net GEX by strike (the pinned one, else the latest), as bars
   * on the plot's price axis, with its levels as ticks. */
  paintProfile() {
    const { ctx } = this;
    const p = this.plot();
    const left = p.left + p.width + 8;
    ctx.fillStyle = `rgb(${BACKGROUND.join(',')})`;
    ctx.fillRect(left, 0, PROFILE_W, this.height);
    const column = this.columns[this.pinned >= 0 ? this.pinned : this.columns.length - 1];
    if (!column || !this.axis) return;
    const mid = left + PROFILE_W / 2;
    const half = PROFILE_W / 2 - 4;
    const peak = Math.max(1e-9, ...column.values.map(Math.abs));
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, p.top, PROFILE_W, p.height);
    ctx.clip();
    for (let i = 0; i < column.strikes.length; i++) {
      const [below, above] = rowBounds(column.strikes, i);
      const ya = this.axis.y(above);
      const yb = this.axis.y(below);
      const h = Math.max(1, yb - ya - (yb - ya > 3 ? 1 : 0));
      const w = (column.values[i] / peak) * half;
      ctx.fillStyle = w >= 0 ? POSITIVE : NEGATIVE;
      ctx.fillRect(w >= 0 ? mid : mid + w, ya, Math.abs(w), h);
    }
    ctx.fillStyle = '#55607a';
    ctx.fillRect(mid, p.top, 1, p.height);
    for (const [key, color] of [['spot', LEVEL_COLORS.spot], ['flip', LEVEL_COLORS.flip], ['callWall', LEVEL_COLORS.callWall], ['putWall', LEVEL_COLORS.putWall]]) {
      if (!Number.isFinite(column[key])) continue;
      ctx.fillStyle = color;
      ctx.fillRect(left, Math.round(this.axis.y(column[key])), PROFILE_W, 1);
    }
    ctx.restore();
    ctx.font = FONT;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    ctx.fillStyle = this.pinned >= 0 ? '#ffd666' : '#9aa4b5';
    ctx.fillText(`${this.pinned >= 0 ? 'at' : 'now'} ${fmt.clock(column.t)}`, left, 2);
    ctx.fillStyle = '#9aa4b5';
    ctx.textAlign = 'right';
    ctx.fillText(`±$${Math.round(peak).toLocaleString('en-US')}M`, left + PROFILE_W, p.top + p.height + 4);
  }

  /** What is under CSS pixel (x, y): the column shown there, the strike row and its
   * value; null off the plot or where nothing was published. */
  hit(x, y) {
    const p = this.plot();
    if (!this.axis || x < p.left || x >= p.left + p.width || y < p.top || y >= p.top + p.height) return null;
    const index = this.columnAt(x);
    if (index < 0) return null;
    const column = this.columns[index];
    const price = this.axis.price(y);
    let row = -1;
    for (let i = 0; i < column.strikes.length; i++) {
      const [below, above] = rowBounds(column.strikes, i);
      if (price >= below && price < above) row = i;
    }
    return {
      index,
      column,
      price,
      strike: row >= 0 ? column.strikes[row] : null,
      value: row >= 0 ? column.values[row] : null,
    };
  }

  /** The column shown at CSS pixel x, or -1. */
  columnAt(x) {
    const p = this.plot();
    const w = Math.max(1, Math.round(p.width));
    const map = pixelColumns(this.times, this.span[0], this.span[1], w);
    return map[Math.max(0, Math.min(w - 1, Math.floor(x - p.left)))];
  }

  /** Shows column `index` as it was (its marker), or live with -1. */
  pin(index) {
    this.pinned = index >= 0 && index < this.columns.length ? index : -1;
    this.paint();
  }
}
