// levels.js — the Levels panel: spot, the zero-gamma flip, the walls and the net GEX
// totals, live or as they were at a moment pinned on the session view.
//
// The walls and the flip follow the bars on screen (wallsFor): the volume basis's
// walls with GEX by volume (its flip is OI's, and says so), the flow-adjusted
// basis's walls and flip with flow-adjusted GEX, the open-interest basis's
// otherwise. A level the server did not find is never invented: the row gives the
// reason instead.

import * as fmt from './format.js';
import { filterName, otherRoots, wallsFor } from './profile.js';

/** Writes text only when it changed: these run every second. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function levelRow(id) {
  const $ = (x) => document.getElementById(x);
  return { label: $(`${id}-label`), value: $(id), points: $(`${id}-points`), pct: $(`${id}-pct`) };
}

/** The basis a level's label carries, e.g. " (volume)"; empty for none. The
 * leading space keeps the label's text "Call wall (volume)" for screen readers;
 * the style puts the basis on a line of its own. */
function setBasis(row, suffix) {
  setText(row.label.querySelector('.basis'), suffix);
}

/** A level and its distance from spot (`{ points, pct }` as published, or null). */
function setLevel(row, value, distance) {
  const missing = value === null || value === undefined;
  row.value.colSpan = 1;
  row.value.classList.remove('reason');
  row.value.classList.toggle('whole', !missing && Number.isInteger(value));
  row.points.hidden = false;
  row.pct.hidden = false;
  setText(row.value, missing ? fmt.MISSING : fmt.level(value));
  row.value.dataset.value = missing ? '' : String(value);
  row.value.dataset.status = '';
  const shown = !missing && distance;
  setText(row.points, shown ? fmt.pointsSigned(distance.points) : '');
  setText(row.pct, shown ? fmt.pctSigned(distance.pct) : '');
  const title = shown ? `${fmt.distance(distance)} from spot` : '';
  row.points.title = title;
  row.pct.title = title;
}

/** No level: the reason in words, across the value and distance columns. */
function setReason(row, reason, status) {
  row.value.colSpan = 3;
  row.value.classList.add('reason');
  row.value.classList.remove('whole');
  row.points.hidden = true;
  row.pct.hidden = true;
  setText(row.value, reason);
  row.value.dataset.value = '';
  row.value.dataset.status = status || '';
}

export class LevelsPanel {
  /** `els`: the panel's elements (`levelsFilter`, `spot`, `zeroGammaNote`,
   * `zeroGammaNoteRow`, `netGex`, `netGexVolume`, `netGexFlow`). */
  constructor(els) {
    this.els = els;
    this.rows = {
      zeroGamma: levelRow('zero-gamma'),
      callWall: levelRow('call-wall'),
      putWall: levelRow('put-wall'),
    };
  }

  /** A tick of the session view (a history column `c` of `filter`), as it was then. */
  pinned(c, filter) {
    const { els, rows } = this;
    const at = (level) =>
      Number.isFinite(level) && Number.isFinite(c.spot) && c.spot > 0
        ? { points: level - c.spot, pct: 100 * (level / c.spot - 1) }
        : null;
    setText(els.levelsFilter, `· ${filterName(filter)} · at ${fmt.clock(c.t)}`);
    setText(els.spot, Number.isFinite(c.spot) ? fmt.level(c.spot) : fmt.MISSING);
    for (const row of [rows.zeroGamma, rows.callWall, rows.putWall]) setBasis(row, '');
    setLevel(rows.zeroGamma, c.flip, at(c.flip));
    setLevel(rows.callWall, c.callWall, at(c.callWall));
    setLevel(rows.putWall, c.putWall, at(c.putWall));
    setText(els.zeroGammaNote, 'as published then; Esc or click again for live');
    els.zeroGammaNoteRow.hidden = false;
    const usd = (x) => (Number.isFinite(x) ? fmt.usdSigned(x) : fmt.MISSING);
    setText(els.netGex, usd(c.netGex));
    setText(els.netGexVolume, usd(c.netGexVolume));
    setText(els.netGexFlow, usd(c.netGexFlow));
  }

  /** The live levels of `gex` (or the heatmap's spot before any) for `filter`, on
   * the basis of `metric`; `memo` is the flip's last jump (profile.js trackFlip). */
  live({ gex, heatmapSpot, filter, metric, memo }) {
    const { els, rows } = this;
    setText(els.levelsFilter, `· ${filterName(filter)}`);
    const part = gex && gex.filters[filter];
    const levels = part ? part.levels : null;
    const spot = gex && Number.isFinite(gex.spot) ? gex.spot : heatmapSpot;
    setText(els.spot, spot === null || spot === undefined ? fmt.MISSING : fmt.level(spot));

    const walls = wallsFor(levels, metric);
    setBasis(rows.zeroGamma, walls.flipSuffix);
    setBasis(rows.callWall, walls.suffix);
    setBasis(rows.putWall, walls.suffix);
    rows.callWall.value.dataset.basis = walls.basis;
    rows.putWall.value.dataset.basis = walls.basis;
    setLevel(rows.callWall, walls.call, walls.callDistance);
    setLevel(rows.putWall, walls.put, walls.putDistance);

    let note = '';
    if (!levels) {
      setLevel(rows.zeroGamma, null, null);
    } else if (walls.flip === null) {
      // Never invent a flip: no level from the server means none is shown, and why.
      setReason(rows.zeroGamma, fmt.flipReason(walls.flipStatus), walls.flipStatus);
    } else if (walls.basis === 'flow') {
      setLevel(rows.zeroGamma, walls.flip, walls.flipDistance);
      note = "flow-adjusted: open interest less today's customer net buying (estimate)";
    } else {
      setLevel(rows.zeroGamma, levels.zero_gamma, levels.distance ? levels.distance.zero_gamma : null);
      const parts = [];
      if (levels.zero_gamma_rising === true) parts.push('net gamma negative below, positive above');
      else if (levels.zero_gamma_rising === false) parts.push('net gamma positive below, negative above');
      const others = otherRoots(levels);
      if (others.length > 0) {
        parts.push(`${others.length === 1 ? 'other root' : 'other roots'} ${others.map((r) => fmt.level(r.level)).join(', ')}`);
      }
      const change = memo ? fmt.flipChange(memo.change, gex.ts) : '';
      if (change) parts.push(change);
      note = parts.join('\n'); // one fact a line (style.css: pre-line)
    }
    setText(els.zeroGammaNote, note);
    els.zeroGammaNoteRow.hidden = note === '';
    const total = (key) => (part ? fmt.usdSigned(part.total[key]) : fmt.MISSING);
    setText(els.netGex, total('net_gex'));
    setText(els.netGexVolume, total('net_gex_volume'));
    setText(els.netGexFlow, total('net_gex_flow'));
  }
}
