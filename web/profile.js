// profile.js — the per-strike dealer GEX profile beside the heatmap, and which
// levels the profile and the side panel show.
//
// Horizontal bars, one per heatmap row: the profile borrows the heatmap's row
// geometry (same strikes, same row height, same header height) so a strike reads
// straight across from its cells to its bar. It draws the selected expiry filter's
// net GEX (call + put) as solid bars over faint call and put bars, and marks spot,
// the zero-gamma flip, the call wall and the put wall. A flip is drawn only where
// the server found one: when `zero_gamma` is null the chart says why and draws none.
//
// Over the bars, on the same price axis but its own dollar scale, it draws the
// gamma curve G(S'): net dealer GEX by OI (flow-adjusted under that basis) with
// every contract re-priced at each hypothetical index level S'. The flip is where that curve crosses zero, so the
// curve is drawn about the bars' zero line and shows why the flip sits where it
// does; the curve's other material roots are drawn faintly. The bars at today's
// spot and the curve are different quantities (a strike's exposure vs the whole
// book's at another spot), hence the separate scales.
//
// The chart is a few hundred bars, so it is simply redrawn whole whenever the GEX
// document, the filter or the layout changes (at most a few times a second).

import { usd, level as fmtLevel, distance as fmtDistance, flipReason } from './format.js';
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
/** The gamma curve: a hue none of the bars, levels or heatmap palettes use. */
export const CURVE_COLOR = '#c792ea';
const CURVE_HALO = 'rgba(11,14,20,0.85)';
const ZERO_LINE_WITH_CURVE = '#55607a';
const ROOT_FAINT = 'rgba(255,214,102,0.45)';
const FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const PAD_X = 8;

/** Which columns of a filter the profile shows, by heatmap metric: GEX by volume
 * when the heatmap shows it, DEX, vanna or charm (one signed bar per strike, calls
 * and puts summed as published) when it shows one of those, otherwise GEX by open
 * interest. `total` names the filter's total. */
function columnsFor(metric) {
  switch (metric) {
    case 'gex_volume':
      return { call: 'call_gex_volume', put: 'put_gex_volume', label: 'GEX by volume', volume: true, total: 'net_gex_volume' };
    case 'gex_flow':
      return { call: 'call_gex_flow', put: 'put_gex_flow', label: 'GEX flow-adjusted (est.)', volume: false, total: 'net_gex_flow' };
    case 'dex':
    case 'vanna':
    case 'charm':
      return { single: metric, label: metric === 'dex' ? 'DEX' : metric, volume: false, total: metric };
    default:
      return { call: 'call_gex', put: 'put_gex', label: 'GEX by OI', volume: false, total: 'net_gex' };
  }
}

// ---------------------------------------------------------------------------
// Levels: which ones the panel and the profile show (pure; selftest.js checks them)
// ---------------------------------------------------------------------------

/**
 * The levels that go with a heatmap metric, so they always match the bars beside
 * them: the volume basis's walls (`call_wall_volume`, `put_wall_volume` and their
 * distances) when GEX by volume is shown, the flow-adjusted basis's walls and flip
 * (`call_wall_flow`, `put_wall_flow`, `zero_gamma_flow`) when flow-adjusted GEX is,
 * the open interest basis's otherwise. `suffix` is what the walls' labels carry
 * (" (volume)", " (flow)" or ""), `flipSuffix` what the flip's label carries: the
 * volume basis has no flip, so with its bars on screen the OI flip is shown and says
 * so. `flipKey` names the flip's field (its status is `${flipKey}_status`, its roots
 * `${flipKey}_roots`); `curveKey` the filter's gamma curve on the same basis (the
 * volume basis has none: its position is not a book, so the OI curve is drawn),
 * `curveBasis` what the curve's scale says it is. Missing fields come back as null.
 */
export function wallsFor(levels, metric) {
  const basis = metric === 'gex_volume' ? 'volume' : metric === 'gex_flow' ? 'flow' : 'oi';
  const l = levels || {};
  const d = l.distance || {};
  const key = (name) => (basis === 'oi' ? name : `${name}_${basis}`);
  const flipKey = basis === 'flow' ? 'zero_gamma_flow' : 'zero_gamma';
  return {
    basis,
    call: l[key('call_wall')] ?? null,
    put: l[key('put_wall')] ?? null,
    callDistance: d[key('call_wall')] ?? null,
    putDistance: d[key('put_wall')] ?? null,
    suffix: basis === 'oi' ? '' : ` (${basis})`,
    flipSuffix: basis === 'volume' ? ' (OI)' : basis === 'flow' ? ' (flow)' : '',
    flipKey,
    curveKey: basis === 'flow' ? 'curve_flow' : 'curve',
    curveBasis: basis === 'flow' ? 'flow' : 'OI',
    flip: l[flipKey] ?? null,
    flipStatus: l[`${flipKey}_status`] ?? null,
    flipDistance: d[flipKey] ?? null,
  };
}

/** The gamma curve's material roots other than the published flip, ascending;
 * `flipKey` picks the basis (`zero_gamma`, or `zero_gamma_flow` for the flow-adjusted
 * curve). */
export function otherRoots(levels, flipKey = 'zero_gamma') {
  const list = levels ? levels[`${flipKey}_roots`] : null;
  const roots = Array.isArray(list) ? list : [];
  const flip = levels ? levels[flipKey] : null;
  const isFlip = (level) =>
    Number.isFinite(flip) && Math.abs(level - flip) <= 1e-9 * Math.max(1, Math.abs(flip));
  return roots.filter((r) => r && Number.isFinite(r.level) && !isFlip(r.level));
}

/**
 * Remembers the flip's last jump to another root across ticks. `memo` is what this
 * returned for the previous document of the same filter (or null), `levels` the new
 * document's, `ts` its time (Unix seconds). Returns `{ level, change }`, `change`
 * being `{ kind: 'switched' | 'appeared', from, to, at }` for the latest jump (kept
 * while the flip holds, so the panel can say it moved a minute ago), or null once
 * the flip is gone. A document seen twice (a resync re-sends the same tick) does
 * not count as a second jump.
 */
export function trackFlip(memo, levels, ts) {
  const level = levels && Number.isFinite(levels.zero_gamma) ? levels.zero_gamma : null;
  const transition = levels ? levels.zero_gamma_transition : null;
  const before = memo ? memo.level : null;
  let change = memo ? memo.change : null;
  if (level === null) {
    change = null; // gone: the panel gives the reason instead
  } else if ((transition === 'switched' || transition === 'appeared') && level !== before) {
    change = { kind: transition, from: before, to: level, at: ts };
  }
  return { level, change };
}

/**
 * The part of a gamma curve between the prices `lo` and `hi` (the rows on screen),
 * as `[{ s, g }]` ascending, with the curve interpolated at the edges it crosses so
 * the line reaches the top and bottom rows. Empty without a usable curve.
 */
export function curveInView(curve, lo, hi) {
  if (!curve || !Array.isArray(curve.spot) || !Array.isArray(curve.gex)) return [];
  const spots = curve.spot;
  const gex = curve.gex;
  const n = Math.min(spots.length, gex.length);
  const out = [];
  let previous = null;
  for (let i = 0; i < n; i++) {
    const s = spots[i];
    const g = gex[i];
    if (!Number.isFinite(s) || !Number.isFinite(g)) {
      previous = null;
      continue;
    }
    if (previous) {
      for (const edge of [lo, hi]) {
        if (previous.s < edge && s > edge) {
          out.push({ s: edge, g: previous.g + ((g - previous.g) * (edge - previous.s)) / (s - previous.s) });
        }
      }
    }
    if (s >= lo && s <= hi) out.push({ s, g });
    previous = { s, g };
  }
  return out;
}

// ---------------------------------------------------------------------------
// The chart
// ---------------------------------------------------------------------------

export class ProfileView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.width = 260;
    /** gex.strikes → index, rebuilt only when the strikes array is replaced. */
    this.strikesSeen = null;
    this.indexOfStrike = new Map();
    /** What the last paint drew, for `hit`; null when it drew no bars. */
    this.shown = null;
  }

  /** The strike row at `y` (CSS px from the canvas's top) with its call, put and
   * net values as drawn (dollars; null where the document has no value for the
   * strike, and `put` null for a single series, whose value is `net`), or null off
   * the rows. */
  hit(y) {
    const s = this.shown;
    if (!s || !(s.rowH > 0)) return null;
    const r = Math.floor((y - s.top) / s.rowH);
    if (r < 0 || r >= s.rowStrikes.length) return null;
    const strike = s.rowStrikes[r];
    const i = this.indexOfStrike.get(strike);
    const call = i === undefined ? null : (s.calls[i] ?? 0);
    const put = i === undefined || !s.puts ? null : (s.puts[i] ?? 0);
    const net = call === null ? null : call + (put ?? 0);
    return { strike, call, put, net, label: s.label, filter: s.filter };
  }

  /**
   * Draws the whole chart. `geometry` is the heatmap's (`top`, `rowH`, `height`,
   * `rowStrikes`); `gex` the GEX document; `filter` its filter name; `metric` the
   * heatmap metric; `width` the CSS width available; `showCurve` the gamma-curve
   * switch. What was drawn is left on the canvas's data attributes for tests:
   * `data-curve` (shown / hidden / none), `data-wall-basis` (oi / volume) and
   * `data-other-roots` (how many faint roots are on screen).
   */
  paint({ geometry, gex, filter, metric, width, showCurve = true }) {
    const height = geometry ? geometry.height : 200;
    this.resize(width, height);
    const ctx = this.ctx;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.width, height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const data = this.canvas.dataset;
    data.wallBasis = wallsFor(null, metric).basis;
    this.shown = null;

    if (!gex || !geometry) {
      data.curve = showCurve ? 'none' : 'hidden';
      data.otherRoots = '0';
      this.message('Waiting for GEX…', 40);
      return;
    }
    const part = gex.filters[filter];
    if (!part) {
      data.curve = showCurve ? 'none' : 'hidden';
      data.otherRoots = '0';
      this.message(`No GEX for filter ${filter}.`, 40);
      return;
    }
    if (gex.strikes !== this.strikesSeen) {
      this.indexOfStrike = new Map(gex.strikes.map((k, i) => [k, i]));
      this.strikesSeen = gex.strikes;
    }
    const { top, rowH, rowStrikes } = geometry;
    const cols = columnsFor(metric);
    // A single series (DEX, vanna, charm) is drawn as its net bar alone.
    const calls = part[cols.single ?? cols.call] ?? [];
    const puts = cols.single ? null : (part[cols.put] ?? []);
    const levels = part.levels || {};
    const walls = wallsFor(levels, metric);
    this.shown = { top, rowH, rowStrikes, calls, puts, label: cols.label, filter };

    // The scale: the largest bar on screen. Unlike the heatmap's colours, bar
    // length is read against the axis, so the wall should be the longest bar.
    let scale = 0;
    for (let r = 0; r < rowStrikes.length; r++) {
      const i = this.indexOfStrike.get(rowStrikes[r]);
      if (i === undefined) continue;
      const c = calls[i] ?? 0;
      const p = puts ? (puts[i] ?? 0) : 0;
      scale = Math.max(scale, Math.abs(c), Math.abs(p), Math.abs(c + p));
    }
    if (!(scale > 0)) scale = 1;

    const plotLeft = PAD_X;
    const plotRight = this.width - PAD_X;
    const zeroX = Math.round((plotLeft + plotRight) / 2) + 0.5;
    const half = (plotRight - plotLeft) / 2;

    // The curve's own scale: its largest |G| among the rows on screen, so its shape
    // fills the width whatever the bars' scale.
    const n = rowStrikes.length;
    // On the flow basis the flow-adjusted curve, so its zero is the flip drawn.
    const curve = part[walls.curveKey] ?? null;
    const points = showCurve && n > 0 ? curveInView(curve, rowStrikes[n - 1], rowStrikes[0]) : [];
    let curveScale = 0;
    for (const p of points) curveScale = Math.max(curveScale, Math.abs(p.g));
    if (!(curveScale > 0)) curveScale = curve && curve.peak > 0 ? curve.peak : 1;
    const curveShown = points.length >= 2;
    data.curve = !showCurve ? 'hidden' : curveShown ? 'shown' : 'none';

    this.header({ part, filter, cols, walls, scale, plotLeft, plotRight, zeroX, top, showCurve, curveShown, curveScale });

    ctx.strokeStyle = curveShown ? ZERO_LINE_WITH_CURVE : AXIS;
    ctx.beginPath();
    ctx.moveTo(zeroX, top);
    ctx.lineTo(zeroX, top + n * rowH);
    ctx.stroke();

    const gap = rowH >= 6 ? 1 : 0;
    for (let r = 0; r < n; r++) {
      const i = this.indexOfStrike.get(rowStrikes[r]);
      if (i === undefined) continue;
      const c = calls[i] ?? 0;
      const p = puts ? (puts[i] ?? 0) : 0;
      // Same rounding as the heatmap's rows, so bars line up with cells.
      const y = top + Math.round(r * rowH);
      const barH = Math.max(1, top + Math.round((r + 1) * rowH) - y - gap);
      if (puts) {
        bar(ctx, zeroX, y, barH, (c / scale) * half, c >= 0 ? POSITIVE_FAINT : NEGATIVE_FAINT);
        bar(ctx, zeroX, y, barH, (p / scale) * half, p >= 0 ? POSITIVE_FAINT : NEGATIVE_FAINT);
      }
      const net = c + p;
      bar(ctx, zeroX, y, barH, (net / scale) * half, net >= 0 ? POSITIVE : NEGATIVE);
    }

    const marks = [
      { key: 'spot', value: gex.spot, text: 'spot', color: LEVEL_COLORS.spot, dash: [] },
      { key: 'flip', value: walls.flip, text: `flip${walls.flipSuffix}`, color: LEVEL_COLORS.flip, dash: [5, 3] },
      { key: 'callWall', value: walls.call, text: `call wall${walls.suffix}`, color: LEVEL_COLORS.callWall, dash: [2, 2] },
      { key: 'putWall', value: walls.put, text: `put wall${walls.suffix}`, color: LEVEL_COLORS.putWall, dash: [2, 2] },
    ];
    const located = marks.map((mark) => ({ mark, at: yForPrice(rowStrikes, top, rowH, mark.value) }));
    const labelled = mergeEqualWalls(located);
    const roots = otherRoots(levels, walls.flipKey)
      .map((root) => ({ root, at: yForPrice(rowStrikes, top, rowH, root.level) }))
      .filter(({ at }) => at && !at.clamped);
    data.otherRoots = String(roots.length);

    // Faint roots first, then the level lines, the curve over them, and all labels
    // last so no line crosses a label.
    this.rootLines(roots, plotLeft, plotRight);
    this.levelLines(located, plotLeft, plotRight);
    if (curveShown) this.curve(points, geometry, zeroX, half, curveScale, walls.flip, roots);
    const boxes = this.levelLabels(labelled, geometry, plotRight);
    this.rootLabels(roots, plotLeft, boxes);
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

  /** Title, flip, total, the curve's scale (beside its switch, which the page
   * places at HEADER_CURVE_Y) and the bars' axis, top to bottom. */
  header({ part, filter, cols, walls, scale, plotLeft, plotRight, zeroX, top, showCurve, curveShown, curveScale }) {
    const ctx = this.ctx;
    ctx.textAlign = 'left';
    ctx.fillStyle = '#dde3ec';
    ctx.font = `bold ${FONT}`;
    ctx.fillText(`Net ${cols.label} · ${filterName(filter)}`, plotLeft, 12);
    ctx.font = FONT;
    const levels = part.levels || {};
    const flip = `flip${walls.flipSuffix}`;
    let flipText;
    if (walls.flip === null) {
      flipText = `${flip}: ${flipReason(walls.flipStatus)}`;
    } else {
      // Which way gamma turns is published for the OI flip only.
      const rising = walls.flipKey === 'zero_gamma' ? levels.zero_gamma_rising : null;
      const arrow = rising === true ? ' ↑' : rising === false ? ' ↓' : '';
      const away = walls.flipDistance ? `  ${fmtDistance(walls.flipDistance)}` : '';
      flipText = `${flip} ${fmtLevel(walls.flip)}${arrow}${away}`;
    }
    ctx.fillStyle = LEVEL_COLORS.flip;
    ctx.fillText(flipText, plotLeft, 27);
    ctx.fillStyle = LABEL;
    const net = part.total ? part.total[cols.total] : null;
    if (net !== null && net !== undefined) ctx.fillText(`total ${net >= 0 ? '+' : '−'}${usd(net)}`, plotLeft, 42);

    // The curve's scale, right of its switch, with the curve's basis.
    if (showCurve) {
      ctx.textAlign = 'right';
      ctx.fillStyle = curveShown ? CURVE_COLOR : LABEL;
      const none = part[walls.curveKey] ? 'none in view' : 'no curve';
      const text = `±${usd(curveScale)} per 1%, ${walls.curveBasis}`;
      ctx.fillText(curveShown ? text : none, plotRight, HEADER_CURVE_Y);
    }

    // Axis: the bar scale at both ends, zero in the middle.
    const y = top - 10;
    ctx.fillStyle = LABEL;
    ctx.textAlign = 'left';
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

  /** The curve about the bars' zero line, with a dark halo so it reads over bars,
   * and a dot where it crosses zero at each root (filled at the published flip). */
  curve(points, geometry, zeroX, half, curveScale, flip, roots) {
    const ctx = this.ctx;
    const { top, rowH, rowStrikes } = geometry;
    const reach = half * 0.96; // the stroke stays inside the plot at the extremes
    ctx.beginPath();
    points.forEach((p, i) => {
      const at = yForPrice(rowStrikes, top, rowH, p.s);
      const x = zeroX + (p.g / curveScale) * reach;
      if (i === 0) ctx.moveTo(x, at.y);
      else ctx.lineTo(x, at.y);
    });
    ctx.lineJoin = 'round';
    ctx.strokeStyle = CURVE_HALO;
    ctx.lineWidth = 4;
    ctx.stroke();
    ctx.strokeStyle = CURVE_COLOR;
    ctx.lineWidth = 1.75;
    ctx.stroke();
    ctx.lineWidth = 1;

    for (const { at } of roots) dot(ctx, zeroX, at.y, 2.5, null, ROOT_FAINT);
    const flipAt = yForPrice(rowStrikes, top, rowH, flip);
    if (flipAt && !flipAt.clamped) dot(ctx, zeroX, flipAt.y, 3.5, LEVEL_COLORS.flip, BACKGROUND);
  }

  /** The curve's other material roots: faint dotted lines, no competition for the
   * published flip. */
  rootLines(roots, plotLeft, plotRight) {
    const ctx = this.ctx;
    ctx.strokeStyle = ROOT_FAINT;
    ctx.setLineDash([1, 3]);
    for (const { at } of roots) {
      const y = Math.round(at.y) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plotLeft, y);
      ctx.lineTo(plotRight, y);
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }

  /** Small faint labels for the other roots, at the left (the levels' labels are
   * at the right); one that would overlap a label already placed is left out. */
  rootLabels(roots, plotLeft, boxes) {
    const ctx = this.ctx;
    ctx.font = FONT;
    ctx.textAlign = 'left';
    for (const { root, at } of roots) {
      const text = `root ${fmtLevel(root.level)}`;
      const box = { x: plotLeft, y: at.y - 13, w: ctx.measureText(text).width + 6, h: 12 };
      if (boxes.some((b) => overlaps(b, box))) continue;
      boxes.push(box);
      ctx.fillStyle = 'rgba(11,14,20,0.8)';
      ctx.fillRect(box.x, box.y, box.w, box.h);
      ctx.fillStyle = ROOT_FAINT;
      ctx.fillText(text, box.x + 3, box.y + 6);
    }
  }

  /** Horizontal level lines; a level outside the rows gets only its label. */
  levelLines(located, plotLeft, plotRight) {
    const ctx = this.ctx;
    for (const { mark, at } of located) {
      if (!at || at.clamped) continue;
      const y = Math.round(at.y) + 0.5;
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

  /** Labels that do not overlap; a level outside the rows is labelled at the top
   * or bottom edge with an arrow. Returns the boxes they took. */
  levelLabels(located, geometry, plotRight) {
    const ctx = this.ctx;
    const { top, rowH, rowStrikes } = geometry;
    const bottom = top + rowStrikes.length * rowH;
    const placed = [];
    const boxes = [];
    // Top to bottom, so nudging keeps the labels in the order of their lines.
    const ordered = located.filter(({ at }) => at).sort((a, b) => a.at.y - b.at.y);
    for (const { mark, at } of ordered) {
      const y = Math.round(at.y) + 0.5;
      const arrow = at.clamped === 'above' ? '▲ ' : at.clamped === 'below' ? '▼ ' : '';
      const pieces = mark.pieces || [[mark.text, mark.color]];
      const text = `${arrow}${pieces.map(([t]) => t).join('')} ${fmtLevel(mark.value)}`;
      let ly = at.clamped === 'above' ? top + 7 : at.clamped === 'below' ? bottom - 7 : y - 7;
      // Nudge down past labels already placed so none overlap.
      for (let guard = 0; guard < located.length; guard++) {
        const hit = placed.find((p) => Math.abs(p - ly) < 12);
        if (hit === undefined) break;
        ly = hit + 12;
      }
      placed.push(ly);
      ctx.font = FONT;
      const w = ctx.measureText(text).width + 6;
      ctx.fillStyle = 'rgba(11,14,20,0.9)';
      ctx.fillRect(plotRight - w, ly - 6, w, 12);
      boxes.push({ x: plotRight - w, y: ly - 6, w, h: 12 });
      // Right to left: the value in the last piece's colour, then each piece.
      ctx.textAlign = 'right';
      let x = plotRight - 3;
      const tail = ` ${fmtLevel(mark.value)}`;
      ctx.fillStyle = pieces[pieces.length - 1][1];
      ctx.fillText(tail, x, ly);
      x -= ctx.measureText(tail).width;
      for (let k = pieces.length - 1; k >= 0; k--) {
        ctx.fillStyle = pieces[k][1];
        ctx.fillText(pieces[k][0], x, ly);
        x -= ctx.measureText(pieces[k][0]).width;
      }
      if (arrow) {
        ctx.fillStyle = mark.color;
        ctx.fillText(arrow, x, ly);
      }
    }
    return boxes;
  }
}

/** Where the page puts the gamma-curve switch (index.html, style.css) and the
 * header its scale: the fourth header line, above the bars' axis. */
export const HEADER_CURVE_Y = 58;

function bar(ctx, zeroX, y, h, length, color) {
  if (!(Math.abs(length) >= 0.5)) return;
  ctx.fillStyle = color;
  if (length >= 0) ctx.fillRect(zeroX + 0.5, y, length, h);
  else ctx.fillRect(zeroX - 0.5 + length, y, -length, h);
}

/** One label for a call wall and a put wall on the same strike (common on 0DTE
 * and NDX): two labels for one line would be pushed away from it. */
function mergeEqualWalls(located) {
  const call = located.find(({ mark }) => mark.key === 'callWall');
  const put = located.find(({ mark }) => mark.key === 'putWall');
  if (!call || !put || !call.at || call.mark.value !== put.mark.value) return located;
  const merged = {
    mark: {
      ...put.mark,
      key: 'walls',
      pieces: [
        ['call', LEVEL_COLORS.callWall],
        [' & ', LABEL],
        [put.mark.text, LEVEL_COLORS.putWall],
      ],
    },
    at: put.at,
  };
  return located.filter((l) => l !== call && l !== put).concat(merged);
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function dot(ctx, x, y, r, fill, stroke) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fill();
  }
  ctx.strokeStyle = stroke;
  ctx.lineWidth = 1;
  ctx.stroke();
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
    case 'front':
      return 'front expiries';
    default:
      return filter;
  }
}
