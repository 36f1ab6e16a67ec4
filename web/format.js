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

/**
 * A strike or level in index points. No thousands separator: traders read strikes
 * as "6850", and test code can parse the text as a number.
 */
export function strike(x) {
  if (isMissing(x)) return MISSING;
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}

/** Quotes per second, one decimal below 100. */
export function rate(x) {
  if (isMissing(x)) return MISSING;
  return x >= 100 ? count(x) : x.toFixed(1);
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
