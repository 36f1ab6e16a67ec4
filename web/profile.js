// profile.js — the per-strike dealer GEX profile beside the heatmap.
//
// Horizontal bars, one per heatmap row: the profile borrows the heatmap's row
// geometry (same strikes, same row height, same header height) so a strike reads
// straight across from its cells to its bar. It draws the selected expiry filter's
// net GEX (call + put) as solid bars over faint call and put bars, and marks spot,
// the zero-gamma flip, the call wall and the put wall. A flip is drawn only where
// the server found one: when `zero_gamma` is null the chart says so and draws none.
//
// The chart is a few hundred bars, so it is simply redrawn whole whenever the GEX
// document, the filter or the layout changes (at most a few times a second).

import { usd, strike as fmtStrike } from './format.js';
import { yForPrice } from './heatmap.js';

const BACKGROUND = '#0b0e14';
const AXIS = '#2a3140';
const LABEL = '#9aa4b5';
const POSITIVE = '#3b8fe3';
const NEGATIVE = '#d9652a';
const POSITIVE_FAINT = 'rgba(59,143,227,0.28)';
const NEGATIVE_FAINT = 'rgba(217,101,42,0.28)';
/** Level colours, also used by the side panel's legend dots (style.css). */
export const LEVEL_COLORS = Object.freeze({
  spot: '#f5f7fa',
  flip: '#ffd666',
  callWall: '#7cc4ff',
  putWall: '#ff9e5e',
});
const FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const PAD_X = 8;

/** Which columns of a filter the profile shows, by heatmap metric: GEX by volume
 * when the heatmap shows it, otherwise GEX by open interest. */
function columnsFor(metric) {
  return metric === 'gex_volume'
    ? { call: 'call_gex_volume', put: 'put_gex_volume', label: 'GEX by volume' }
    : { call: 'call_gex', put: 'put_gex', label: 'GEX by OI' };
}

export class ProfileView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.width = 260;
    /** gex.strikes → index, rebuilt only when the strikes array is replaced. */
    this.strikesSeen = null;
    this.indexOfStrike = new Map();
  }

  /**
   * Draws the whole chart. `geometry` is the heatmap's (`top`, `rowH`, `height`,
   * `rowStrikes`); `gex` the GEX document; `filter` its filter name; `metric` the
   * heatmap metric; `width` the CSS width available.
   */
  paint({ geometry, gex, filter, metric, width }) {
    const height = geometry ? geometry.height : 200;
    this.resize(width, height);
    const ctx = this.ctx;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.width, height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';

    if (!gex || !geometry) {
      this.message('Waiting for GEX…', 40);
      return;
    }
    const part = gex.filters[filter];
    if (!part) {
      this.message(`No GEX for filter ${filter}.`, 40);
      return;
    }
    if (gex.strikes !== this.strikesSeen) {
      this.indexOfStrike = new Map(gex.strikes.map((k, i) => [k, i]));
      this.strikesSeen = gex.strikes;
    }
    const { top, rowH, rowStrikes } = geometry;
    const cols = columnsFor(metric);
    const calls = part[cols.call];
    const puts = part[cols.put];

    // The scale: the largest bar on screen. Unlike the heatmap's colours, bar
    // length is read against the axis, so the wall should be the longest bar.
    let scale = 0;
    for (let r = 0; r < rowStrikes.length; r++) {
      const i = this.indexOfStrike.get(rowStrikes[r]);
      if (i === undefined) continue;
      const c = calls[i] ?? 0;
      const p = puts[i] ?? 0;
      scale = Math.max(scale, Math.abs(c), Math.abs(p), Math.abs(c + p));
    }
    if (!(scale > 0)) scale = 1;

    const plotLeft = PAD_X;
    const plotRight = this.width - PAD_X;
    const zeroX = Math.round((plotLeft + plotRight) / 2) + 0.5;
    const half = (plotRight - plotLeft) / 2;

    this.header({ part, filter, cols, scale, plotLeft, plotRight, zeroX, top });

    ctx.strokeStyle = AXIS;
    ctx.beginPath();
    ctx.moveTo(zeroX, top);
    ctx.lineTo(zeroX, top + rowStrikes.length * rowH);
    ctx.stroke();

    const gap = rowH >= 6 ? 1 : 0;
    for (let r = 0; r < rowStrikes.length; r++) {
      const i = this.indexOfStrike.get(rowStrikes[r]);
      if (i === undefined) continue;
      const c = calls[i] ?? 0;
      const p = puts[i] ?? 0;
      // Same rounding as the heatmap's rows, so bars line up with cells.
      const y = top + Math.round(r * rowH);
      const barH = Math.max(1, top + Math.round((r + 1) * rowH) - y - gap);
      bar(ctx, zeroX, y, barH, (c / scale) * half, c >= 0 ? POSITIVE_FAINT : NEGATIVE_FAINT);
      bar(ctx, zeroX, y, barH, (p / scale) * half, p >= 0 ? POSITIVE_FAINT : NEGATIVE_FAINT);
      const net = c + p;
      bar(ctx, zeroX, y, barH, (net / scale) * half, net >= 0 ? POSITIVE : NEGATIVE);
    }

    const levels = part.levels || {};
    const marks = [
      { key: 'spot', value: gex.spot, text: 'spot', color: LEVEL_COLORS.spot, dash: [] },
      { key: 'flip', value: levels.zero_gamma, text: 'flip', color: LEVEL_COLORS.flip, dash: [5, 3] },
      { key: 'callWall', value: levels.call_wall, text: 'call wall', color: LEVEL_COLORS.callWall, dash: [2, 2] },
      { key: 'putWall', value: levels.put_wall, text: 'put wall', color: LEVEL_COLORS.putWall, dash: [2, 2] },
    ];
    this.levelLines(marks, geometry, plotLeft, plotRight);
  }

  resize(width, height) {
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(160, Math.floor(width));
    if (this.width !== w || this.canvas.height !== Math.round(height * dpr) || this.dpr !== dpr) {
      this.width = w;
      this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${height}px`;
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  message(text, y) {
    this.ctx.fillStyle = LABEL;
    this.ctx.textAlign = 'left';
    this.ctx.fillText(text, PAD_X, y);
  }

  header({ part, filter, cols, scale, plotLeft, plotRight, zeroX, top }) {
    const ctx = this.ctx;
    ctx.textAlign = 'left';
    ctx.fillStyle = '#dde3ec';
    ctx.font = `bold ${FONT}`;
    ctx.fillText(`Net ${cols.label} · ${filterName(filter)}`, plotLeft, 12);
    ctx.font = FONT;
    ctx.fillStyle = LABEL;
    const levels = part.levels || {};
    let flipText;
    if (levels.zero_gamma === null || levels.zero_gamma === undefined) {
      flipText = levels.zero_gamma_status === 'pending' ? 'flip: not computed yet' : 'no flip in range';
    } else {
      flipText = `flip ${fmtStrike(levels.zero_gamma)}${levels.zero_gamma_rising === true ? ' ↑' : levels.zero_gamma_rising === false ? ' ↓' : ''}`;
    }
    ctx.fillStyle = LEVEL_COLORS.flip;
    ctx.fillText(flipText, plotLeft, 28);
    ctx.fillStyle = LABEL;
    const net = part.total ? (metricIsVolume(cols) ? part.total.net_gex_volume : part.total.net_gex) : null;
    if (net !== null && net !== undefined) ctx.fillText(`total ${net >= 0 ? '+' : '−'}${usd(net)}`, plotLeft, 44);

    // Axis: the bar scale at both ends, zero in the middle.
    const y = top - 10;
    ctx.fillText(`−${usd(scale)}`, plotLeft, y);
    ctx.textAlign = 'right';
    ctx.fillText(`+${usd(scale)}`, plotRight, y);
    ctx.textAlign = 'center';
    ctx.fillText('0', zeroX, y);
    ctx.strokeStyle = AXIS;
    ctx.beginPath();
    ctx.moveTo(plotLeft, top - 2.5);
    ctx.lineTo(plotRight, top - 2.5);
    ctx.stroke();
  }

  /** Horizontal level lines with labels that do not overlap; a level outside the
   * rows is labelled at the top or bottom edge with an arrow. */
  levelLines(marks, geometry, plotLeft, plotRight) {
    const ctx = this.ctx;
    const { top, rowH, rowStrikes } = geometry;
    const bottom = top + rowStrikes.length * rowH;
    const placed = [];
    const located = marks.map((mark) => ({ mark, at: yForPrice(rowStrikes, top, rowH, mark.value) }));
    // All lines first, then all labels, so no line crosses a label.
    for (const { mark, at } of located) {
      if (!at) continue;
      const y = Math.round(at.y) + 0.5;
      if (!at.clamped) {
        ctx.strokeStyle = mark.color;
        ctx.setLineDash(mark.dash);
        ctx.lineWidth = mark.key === 'spot' ? 1.5 : 1;
        ctx.beginPath();
        ctx.moveTo(plotLeft, y);
        ctx.lineTo(plotRight, y);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.lineWidth = 1;
      }
    }
    for (const { mark, at } of located) {
      if (!at) continue;
      const y = Math.round(at.y) + 0.5;
      const arrow = at.clamped === 'above' ? '▲ ' : at.clamped === 'below' ? '▼ ' : '';
      const text = `${arrow}${mark.text} ${fmtStrike(mark.value)}`;
      let ly = at.clamped === 'above' ? top + 7 : at.clamped === 'below' ? bottom - 7 : y - 7;
      // Nudge down past labels already placed so none overlap.
      for (let guard = 0; guard < marks.length; guard++) {
        const hit = placed.find((p) => Math.abs(p - ly) < 12);
        if (hit === undefined) break;
        ly = hit + 12;
      }
      placed.push(ly);
      ctx.font = FONT;
      const w = ctx.measureText(text).width + 6;
      ctx.fillStyle = 'rgba(11,14,20,0.9)';
      ctx.fillRect(plotRight - w, ly - 6, w, 12);
      ctx.fillStyle = mark.color;
      ctx.textAlign = 'right';
      ctx.fillText(text, plotRight - 3, ly);
    }
  }
}

function metricIsVolume(cols) {
  return cols.call === 'call_gex_volume';
}

function bar(ctx, zeroX, y, h, length, color) {
  if (!(Math.abs(length) >= 0.5)) return;
  ctx.fillStyle = color;
  if (length >= 0) ctx.fillRect(zeroX + 0.5, y, length, h);
  else ctx.fillRect(zeroX - 0.5 + length, y, -length, h);
}

/** Filter names as the select shows them. */
export function filterName(filter) {
  switch (filter) {
    case 'all':
      return 'all expiries';
    case '0dte':
      return '0DTE';
    case 'next':
      return 'next expiry';
    case '7d':
      return '≤ 7 days';
    case '45d':
      return '≤ 45 days';
    default:
      return filter;
  }
}
