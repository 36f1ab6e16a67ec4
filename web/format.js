// format.js — how numbers read to a trader, in one place.
//
// Every panel, tooltip and chart label formats through these functions so that a
// GEX figure looks the same in the side panel as on the profile axis. They are pure
// (no DOM), so selftest.js exercises them under node. Missing values (null, NaN,
// undefined) always render as an em dash rather than "NaN" or "0": a trader must be
// able to tell "no quote" from "zero".

export const MISSING = '—';

/** U+2212: the same width as "+", so signed columns line up. */
const MINUS = '−';

function isMissing(x) {
  return x === null || x === undefined || Number.isNaN(x);
}

/**
 * Dollar exposure with sign and unit, e.g. "+$1.24B", "−$38.5M", "+$820K", "$0".
 * Three significant digits: GEX is an estimate, more digits would be noise.
 */
export function usdSigned(x) {
  if (isMissing(x)) return MISSING;
  if (x === 0) return '$0';
  const sign = x > 0 ? '+' : MINUS;
  return `${sign}$${magnitude(Math.abs(x))}`;
}

/** Unsigned dollar magnitude, for scale legends ("$1.24B"). */
export function usd(x) {
  if (isMissing(x)) return MISSING;
  return `$${magnitude(Math.abs(x))}`;
}

function magnitude(a) {
  const units = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, unit] of units) {
    if (a >= scale * 0.9995) return `${threeDigits(a / scale)}${unit}`;
  }
  return threeDigits(a);
}

function threeDigits(v) {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Implied volatility (a fraction on the wire) in percent: 0.23456 → "23.46%". */
export function ivPct(x) {
  if (isMissing(x)) return MISSING;
  return `${(x * 100).toFixed(2)}%`;
}

/** Option prices: two decimals, as quoted. */
export function price(x) {
  if (isMissing(x)) return MISSING;
  return x.toFixed(2);
}

/** Delta to three decimals, signed for puts. */
export function delta(x) {
  if (isMissing(x)) return MISSING;
  return x.toFixed(3).replace('-', MINUS);
}

/** Gamma is small and spans decades: three significant digits. */
export function gamma(x) {
  if (isMissing(x)) return MISSING;
  if (x === 0) return '0';
  if (Math.abs(x) < 1e-4) return x.toExponential(2).replace('-', MINUS);
  return x.toPrecision(3);
}

/** Counts (OI, volume, quotes) with thousands separators. */
export function count(x) {
  if (isMissing(x)) return MISSING;
  return Math.round(x).toLocaleString('en-US');
}

/** A signed count of contracts, e.g. "+1,250", "−40", "0". */
export function countSigned(x) {
  if (isMissing(x)) return MISSING;
  const n = Math.round(x);
  if (n === 0) return '0';
  return `${n > 0 ? '+' : MINUS}${Math.abs(n).toLocaleString('en-US')}`;
}

/**
 * A strike or level in index points. No thousands separator: traders read strikes
 * as "6850", and test code can parse the text as a number.
 */
export function strike(x) {
  if (isMissing(x)) return MISSING;
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}

/**
 * An index level (spot, flip, a root) to two decimals, e.g. "6854.30"; a wall on a
 * whole strike stays "6900". No thousands separator, as for strikes.
 */
export function level(x) {
  if (isMissing(x)) return MISSING;
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/**
 * A level's signed distance from spot in index points: one decimal below 100
 * points, whole points from there (NDX walls sit hundreds of points away), e.g.
 * "−12.3", "+145". A distance that rounds to zero has no sign.
 */
export function pointsSigned(x) {
  if (isMissing(x)) return MISSING;
  const a = Math.abs(x);
  const text = a >= 99.95 ? a.toFixed(0) : a.toFixed(1);
  return Number(text) === 0 ? text : `${x > 0 ? '+' : MINUS}${text}`;
}

/** A signed percentage to two decimals, e.g. "−0.18%"; zero has no sign. */
export function pctSigned(x) {
  if (isMissing(x)) return MISSING;
  const text = Math.abs(x).toFixed(2);
  return Number(text) === 0 ? `${text}%` : `${x > 0 ? '+' : MINUS}${text}%`;
}

/**
 * A level's distance from spot as the server publishes it (`{ points, pct }`,
 * points = level − spot, pct = (level / spot − 1) × 100) in one string:
 * "−12.3 pts (−0.18%)". Null (no level or no spot) is the em dash.
 */
export function distance(d) {
  if (!d || isMissing(d.points) || isMissing(d.pct)) return MISSING;
  return `${pointsSigned(d.points)} pts (${pctSigned(d.pct)})`;
}

/**
 * Why there is no zero-gamma flip, from `levels.zero_gamma_status`, in a trader's
 * words. The server never invents a flip; the UI says why there is none.
 */
export function flipReason(status) {
  switch (status) {
    case 'one_sided':
      return 'calls or puts only: no flip';
    case 'none_in_range':
      return 'no material flip in range';
    case 'no_expiration':
      return 'no expiration in this view';
    case 'no_open_interest':
      return 'no open interest';
    case 'no_usable_contracts':
      return 'no volatility to re-price';
    case 'pending':
      return 'not computed yet';
    default:
      return 'no flip';
  }
}

/** How long a note that the flip jumped to another root stays up: the transition
 * is one tick's news, but a trader glancing back should still see that it moved. */
export const FLIP_CHANGE_SHOWN_S = 300;

/**
 * The note for the flip's last jump (see `trackFlip` in profile.js) at `nowS`
 * (Unix seconds): "moved to another root 14:03:27, was 6841" for a switch, "new
 * flip 14:03:27, was 6841" when the held root vanished and another was published,
 * "" when there is no jump or it is older than FLIP_CHANGE_SHOWN_S. The old level
 * in whole points: it says where the flip was, and the note must fit one line.
 */
export function flipChange(change, nowS) {
  if (!change || !(nowS - change.at <= FLIP_CHANGE_SHOWN_S)) return '';
  const was = isMissing(change.from) ? '' : `, was ${Math.round(change.from)}`;
  const what = change.kind === 'switched' ? 'moved to another root' : 'new flip';
  return `${what} ${clock(change.at)}${was}`;
}

/** Quotes per second, one decimal below 100. */
export function rate(x) {
  if (isMissing(x)) return MISSING;
  return x >= 100 ? count(x) : x.toFixed(1);
}

/** An English ordinal: "1st", "2nd", "3rd", "11th", "22nd", "97th". */
export function ordinal(n) {
  if (isMissing(n)) return MISSING;
  const teen = Math.abs(n) % 100;
  const suffix = teen >= 11 && teen <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[Math.abs(n) % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** An age or silence in milliseconds, compact: "120 ms", "4.2 s", "3m 05s". */
export function durationMs(ms) {
  if (isMissing(ms)) return MISSING;
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  return durationS(ms / 1000);
}

/** A duration in seconds, counting up: "42s", "3m 05s", "2h 04m". */
export function durationS(s) {
  if (isMissing(s)) return MISSING;
  const whole = Math.max(0, Math.floor(s));
  if (whole < 60) return `${whole}s`;
  const m = Math.floor(whole / 60);
  if (m < 60) return `${m}m ${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** Local wall-clock time of a Unix-seconds timestamp: "14:03:27". */
export function clock(unixSeconds) {
  if (isMissing(unixSeconds)) return MISSING;
  const d = new Date(unixSeconds * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * A heatmap column: expiration month-day and root, with "AM" for AM-settled
 * (the monthly SPX) because it settles hours before the PM weekly of the same date.
 */
export function expirationLabel(date, root, settlement) {
  const md = typeof date === 'string' ? date.slice(5) : '?';
  return `${md} ${root ?? ''}${settlement === 'am_open' ? ' AM' : ''}`.trim();
}

/** Epoch reasons as the design names them, in words a user reads. */
export function epochReason(reason) {
  switch (reason) {
    case 'startup':
      return 'startup';
    case 'geometry_change':
      return 'geometry change';
    case 'stale_feed':
      return 'stale feed';
    case 'manual':
      return 'manual';
    case 'failover':
      return 'failover';
    default:
      return reason ? String(reason) : MISSING;
  }
}

/** Greeks source letter (L/V/-) as a word. */
export function source(letter) {
  switch (letter) {
    case 'L':
      return 'live';
    case 'V':
      return 'vendor';
    case '-':
      return 'missing';
    default:
      return MISSING;
  }
}
