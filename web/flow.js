// flow.js — the customer-flow panel: hedge pressure over the session and top flow.
//
// Every regular trade is signed by the service against the quote in force when it
// printed (docs/flow.md). From that flow the GEX document carries, each tick, the
// index delta dealers took on from it over the session (`flow.hedge_pressure`), and
// the contracts and strikes with the largest customer net premium lately
// (`flow.top_contracts`, `flow.top_strikes`). The history endpoint keeps the hedge
// pressure per tick, so the chart starts with the session so far and grows by one
// point per GEX document. All of it is an estimate from the quote rule, and says so.

import { usdSigned, countSigned, strike as fmtStrike, clock } from './format.js';

const BACKGROUND = '#0b0e14';
const AXIS = '#2a3140';
const LABEL = '#9aa4b5';
/** 0DTE and the rest: colours none of the levels use. */
export const HEDGE_COLORS = Object.freeze({ zero: '#ffd666', rest: '#c792ea' });
const FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
/** A gap longer than this between points (the service was down) breaks the line. */
const MAX_GAP_S = 120;

/** A hedge-pressure point from a history column, or null when it has none (an
 * entry written before flow). */
export function hedgeFromHistory(c) {
  const zero = c ? c.hedge_delta_0dte : null;
  const rest = c ? c.hedge_delta_rest : null;
  if (!Number.isFinite(c && c.ts) || !Number.isFinite(zero) || !Number.isFinite(rest)) return null;
  return { t: c.ts, zero, rest };
}

/** The hedge-pressure point of a GEX document, or null without flow. */
export function hedgeFromGex(gex) {
  const h = gex && gex.flow && gex.flow.hedge_pressure;
  if (!h || !h['0dte'] || !h.rest || !Number.isFinite(gex.ts)) return null;
  return { t: gex.ts, zero: h['0dte'].delta, rest: h.rest.delta };
}

/** How much of the session's volume the rule signed, in words. */
export function signedSummary(flow) {
  if (!flow || !flow.volume) return 'no flow yet';
  const v = flow.volume;
  const regular = v.buy + v.sell + v.unknown;
  if (!(regular > 0)) return 'no trades signed yet this session';
  const pct = Math.round(100 * flow.signed_share);
  return `${pct}% of ${countSigned(regular).replace('+', '')} contracts signed · bought ${countSigned(v.buy).replace('+', '')} · sold ${countSigned(v.sell).replace('+', '')}`;
}

/** Top-flow rows for the list: `{ label, premium, size }`, at most `n`. */
export function topFlowRows(flow, n) {
  const top = flow && Array.isArray(flow.top_contracts) ? flow.top_contracts : [];
  return top.slice(0, n).map((t) => ({
    label: `${fmtStrike(t.strike)}${t.type === 'call' ? 'C' : 'P'} ${String(t.expiration).slice(5)}`,
    premium: usdSigned(t.net_premium),
    size: countSigned(t.net_size),
    buying: t.net_premium >= 0,
  }));
}

/** Points with times ascending and one per tick time (a resync repeats one). */
export function mergePoints(points, next) {
  if (!next) return points;
  const last = points[points.length - 1];
  if (last && next.t <= last.t) {
    if (next.t === last.t) points[points.length - 1] = next;
    return points;
  }
  points.push(next);
  return points;
}

/** The session's hedge pressure: two lines, 0DTE and the rest, about zero. */
export class HedgeChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.points = [];
    this.width = 0;
    this.height = 0;
  }

  load(points) {
    this.points = [];
    for (const p of points) mergePoints(this.points, p);
  }

  append(point) {
    mergePoints(this.points, point);
  }

  paint(width, height = 120) {
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(160, Math.floor(width));
    if (this.width !== w || this.height !== height || this.dpr !== dpr) {
      this.width = w;
      this.height = height;
      this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, w, height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const data = this.canvas.dataset;
    data.points = String(this.points.length);
    const pts = this.points;
    if (pts.length < 2) {
      ctx.fillStyle = LABEL;
      ctx.textAlign = 'left';
      ctx.fillText(pts.length ? 'waiting for the next tick…' : 'no flow yet this session', 6, height / 2);
      return;
    }
    const top = 16;
    const bottom = height - 14;
    const left = 4;
    const right = w - 4;
    const t0 = pts[0].t;
    const t1 = pts[pts.length - 1].t;
    let hi = 0;
    for (const p of pts) hi = Math.max(hi, Math.abs(p.zero), Math.abs(p.rest));
    if (!(hi > 0)) hi = 1;
    const x = (t) => left + ((t - t0) / Math.max(1e-9, t1 - t0)) * (right - left);
    const y = (v) => top + ((hi - v) / (2 * hi)) * (bottom - top);
    ctx.strokeStyle = AXIS;
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(0)) + 0.5);
    ctx.lineTo(right, Math.round(y(0)) + 0.5);
    ctx.stroke();
    for (const [key, color] of [['rest', HEDGE_COLORS.rest], ['zero', HEDGE_COLORS.zero]]) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let previous = null;
      for (const p of pts) {
        const px = x(p.t);
        const py = y(p[key]);
        if (previous === null || p.t - previous > MAX_GAP_S) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
        previous = p.t;
      }
      ctx.stroke();
    }
    ctx.lineWidth = 1;
    const last = pts[pts.length - 1];
    ctx.textAlign = 'left';
    ctx.fillStyle = HEDGE_COLORS.zero;
    ctx.fillText(`0DTE ${usdSigned(last.zero)}`, left, 7);
    ctx.fillStyle = HEDGE_COLORS.rest;
    ctx.textAlign = 'right';
    ctx.fillText(`rest ${usdSigned(last.rest)}`, right, 7);
    ctx.fillStyle = LABEL;
    ctx.textAlign = 'left';
    ctx.fillText(`±${usdSigned(hi).replace('+', '')}`, left, height - 6);
    ctx.textAlign = 'right';
    ctx.fillText(`${clock(t0)} – ${clock(t1)}`, right, height - 6);
    data.zero = String(last.zero);
    data.rest = String(last.rest);
  }
}

/**
 * The panel: its texts, the top-flow list and the chart, for one symbol at a time.
 * `fetchHistory(symbol)` resolves to the session's history document (all
 * expirations); `changed()` asks the page for a repaint.
 */
export class FlowPanel {
  constructor(els, fetchHistory, changed) {
    this.els = els;
    this.fetchHistory = fetchHistory;
    this.changed = changed;
    this.chart = new HedgeChart(els.hedge);
    /** The symbol whose session is loaded (or loading), and whether it loaded. */
    this.request = null;
    /** The latest GEX document of that symbol, for the point after the history. */
    this.lastGex = null;
  }

  /** Starts over on `symbol`: the session so far from the history, then the ticks. */
  async open(symbol) {
    const request = { symbol, loaded: false };
    this.request = request;
    this.lastGex = null;
    this.chart.load([]);
    try {
      const doc = await this.fetchHistory(symbol);
      if (this.request !== request) return; // switched meanwhile
      this.chart.load(doc.columns.map(hedgeFromHistory).filter((p) => p !== null));
      request.loaded = true;
      if (this.lastGex) this.chart.append(hedgeFromGex(this.lastGex));
    } catch (err) {
      if (this.request !== request) return;
      console.warn('chainboard: the hedge pressure history failed', err);
      setTimeout(() => {
        if (this.request === request) this.open(symbol);
      }, 3000);
    }
    this.changed();
  }

  /** A GEX document of the open symbol arrived: one more point. */
  onGex(gex) {
    this.lastGex = gex;
    if (this.request && this.request.loaded && this.request.symbol === gex.symbol) {
      this.chart.append(hedgeFromGex(gex));
    }
  }

  /** Draws the panel for `gex` (or its absence). */
  render(gex) {
    const flow = gex ? gex.flow : null;
    const { signed, window: windowEl, top } = this.els;
    signed.textContent = flow ? signedSummary(flow) : '—';
    windowEl.textContent = flow && Number.isFinite(flow.window_s) ? `· net premium, last ${Math.round(flow.window_s / 60)} min` : '';
    const rows = topFlowRows(flow, 6);
    const items = rows.map((r) => {
      const li = document.createElement('li');
      li.className = r.buying ? 'buy' : 'sell';
      const what = document.createElement('span');
      what.className = 'mono';
      what.textContent = r.label;
      const premium = document.createElement('span');
      premium.className = 'mono';
      premium.textContent = `${r.premium} (${r.size})`;
      li.append(what, premium);
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = flow ? 'no signed flow in the window' : '—';
      items.push(li);
    }
    top.replaceChildren(...items);
    this.chart.paint(top.clientWidth || 240);
    return { points: this.chart.points.length, top: rows.length };
  }
}
