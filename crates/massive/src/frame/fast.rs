//! Straight-line readers for quotes and trades in the exact layout Massive writes them.
//!
//! Nearly every event on an options connection is a quote or a trade, serialized with
//! the same keys in the same order, no whitespace, no escapes, unsigned integers and
//! short decimals:
//!
//! ```text
//! {"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":29.4,"ap":29.9,"bs":74,"as":148,"t":1795536000000,"q":157796097}
//! {"ev":"T","sym":"O:SPXW261130C06965000","x":302,"p":10,"s":7,"c":[227],"t":1795536000000,"q":157796100}
//! ```
//!
//! The general parser spends most of its time deciding what comes next. These readers
//! already know: each key, with its punctuation, is checked by one masked eight-byte
//! comparison, and each value is read by the one routine for its type, so an event is
//! a fixed sequence of loads, compares and multiplies with no per-key dispatch.
//!
//! They are a cache, not a second grammar: any surprise (another key order, an absent
//! or extra key, whitespace, an escape, a sign, an exponent, a leading zero, more
//! digits than the exact conversions below take, a `null`, the end of the frame, a
//! timestamp that is not one) makes a reader return `None` having consumed nothing,
//! and the general parser reads the event instead, with its own errors and counts.
//! So what is delivered never depends on which path read it; the tests hold the two
//! paths to that on random and damaged frames.
//!
//! Numbers are exact: a price is read as an integer mantissa of at most 14 digits and
//! divided by an exact power of ten, which is one correctly rounded operation on exact
//! operands and so equals `str::parse::<f64>`.

use chainboard_model::swar;
use chainboard_model::time::unix_ms_from_any;

use super::{FrameSink, FrameStats, MassiveQuote, MassiveTrade, RawInt, RawList};

/// Bytes of an event the readers look at: a quote is about 150. Reading from a
/// fixed-size window, at offsets reduced modulo its size, needs no bounds check per
/// load; an event that does not end inside it is left to the general parser.
const SPAN: usize = 256;

/// The frame from an event's `{`, [`SPAN`] bytes and eight more so that a load at any
/// offset below `SPAN` is in range. Near the end of the frame the missing bytes read
/// as zero, which no literal, digit or string byte is, so the readers stop there
/// exactly as at the end of the frame.
type Window = [u8; SPAN + 8];

/// Reads the event at `pos` (on its `{`) if it is a quote or a trade in the common
/// layout, hands it to `sink` and returns the position just past its `}`; `None`, with
/// nothing delivered, for any other event.
#[inline]
pub(super) fn event<S: FrameSink>(
    text: &str,
    pos: usize,
    sink: &mut S,
    stats: &mut FrameStats,
) -> Option<usize> {
    match text.as_bytes().get(pos..pos + SPAN + 8) {
        Some(slice) => read(text, pos, slice.try_into().ok()?, sink, stats),
        None => read_tail(text, pos, sink, stats),
    }
}

/// [`event`] for the last events of a frame, from a zero-padded copy.
#[cold]
#[inline(never)]
fn read_tail<S: FrameSink>(
    text: &str,
    pos: usize,
    sink: &mut S,
    stats: &mut FrameStats,
) -> Option<usize> {
    let mut window = [0u8; SPAN + 8];
    let tail = text.as_bytes().get(pos..)?;
    let n = tail.len().min(SPAN);
    window[..n].copy_from_slice(&tail[..n]);
    read(text, pos, &window, sink, stats)
}

#[inline(always)]
fn read<S: FrameSink>(
    text: &str,
    pos: usize,
    w: &Window,
    sink: &mut S,
    stats: &mut FrameStats,
) -> Option<usize> {
    const QUOTE: u64 = pack(b"{\"ev\":\"Q");
    const TRADE: u64 = pack(b"{\"ev\":\"T");
    let head = load(w, 0);
    if head == QUOTE {
        let (q, end) = quote(text, pos, w)?;
        sink.quote(&q);
        stats.quotes += 1;
        Some(pos + end)
    } else if head == TRADE {
        let (t, end) = trade(text, pos, w)?;
        sink.trade(&t);
        stats.trades += 1;
        Some(pos + end)
    } else {
        None
    }
}

/// A quote, `w` being the window at its `{`: the quote and the offset past its `}`.
#[inline(always)]
fn quote<'a>(text: &'a str, pos: usize, w: &Window) -> Option<(MassiveQuote<'a>, usize)> {
    const BX: Lit = Lit::new(b"\",\"bx\":");
    const AX: Lit = Lit::new(b",\"ax\":");
    const BP: Lit = Lit::new(b",\"bp\":");
    const AP: Lit = Lit::new(b",\"ap\":");
    const BS: Lit = Lit::new(b",\"bs\":");
    const AS: Lit = Lit::new(b",\"as\":");
    const T: Lit = Lit::new(b",\"t\":");
    const Q: Lit = Lit::new(b",\"q\":");
    let (sym_start, sym_end) = symbol(w)?;
    let bx = BX.after(w, sym_end)?;
    let bx_end = raw(w, bx)?;
    let ax = AX.after(w, bx_end)?;
    let ax_end = raw(w, ax)?;
    let bp = BP.after(w, ax_end)?;
    let (bid, end) = price(w, bp)?;
    let ap = AP.after(w, end)?;
    let (ask, end) = price(w, ap)?;
    let bs = BS.after(w, end)?;
    let (bid_size, end) = uint(w, bs)?;
    let as_ = AS.after(w, end)?;
    let (ask_size, end) = uint(w, as_)?;
    let t = T.after(w, end)?;
    let (ts, end) = uint(w, t)?;
    let q = Q.after(w, end)?;
    let q_end = raw(w, q)?;
    if byte(w, q_end) != b'}' || q_end >= SPAN {
        return None;
    }
    let b = text.as_bytes();
    let quote = MassiveQuote {
        sym: text.get(pos + sym_start..pos + sym_end)?,
        bid,
        ask,
        bid_size,
        ask_size,
        bid_exchange: RawInt(b.get(pos + bx..pos + bx_end)),
        ask_exchange: RawInt(b.get(pos + ax..pos + ax_end)),
        ts_ms: timestamp(ts)?,
        seq: RawInt(b.get(pos + q..pos + q_end)),
    };
    Some((quote, q_end + 1))
}

/// A trade, `w` being the window at its `{`: the trade and the offset past its `}`.
/// The conditions (`c`) are one or more unsigned integers, checked and kept as text, as
/// the general parser keeps them.
#[inline(always)]
fn trade<'a>(text: &'a str, pos: usize, w: &Window) -> Option<(MassiveTrade<'a>, usize)> {
    const X: Lit = Lit::new(b"\",\"x\":");
    const P: Lit = Lit::new(b",\"p\":");
    const S: Lit = Lit::new(b",\"s\":");
    const C: Lit = Lit::new(b",\"c\":[");
    const T: Lit = Lit::new(b"],\"t\":");
    const Q: Lit = Lit::new(b",\"q\":");
    let (sym_start, sym_end) = symbol(w)?;
    let x = X.after(w, sym_end)?;
    let x_end = raw(w, x)?;
    let p = P.after(w, x_end)?;
    let (price, end) = price(w, p)?;
    let s = S.after(w, end)?;
    let (size, end) = uint(w, s)?;
    let conds = C.after(w, end)?;
    let mut end = conds;
    loop {
        end = raw(w, end)?;
        if byte(w, end) != b',' || end >= SPAN {
            break;
        }
        end += 1;
    }
    let conds_end = end;
    let t = T.after(w, end)?;
    let (ts, end) = uint(w, t)?;
    let q = Q.after(w, end)?;
    let q_end = raw(w, q)?;
    if byte(w, q_end) != b'}' || q_end >= SPAN {
        return None;
    }
    let b = text.as_bytes();
    let trade = MassiveTrade {
        sym: text.get(pos + sym_start..pos + sym_end)?,
        price,
        size,
        exchange: RawInt(b.get(pos + x..pos + x_end)),
        conditions: RawList(b.get(pos + conds..pos + conds_end)),
        ts_ms: timestamp(ts)?,
        seq: RawInt(b.get(pos + q..pos + q_end)),
    };
    Some((trade, q_end + 1))
}

/// The symbol that follows the eight-byte head: the offsets of its body, which has
/// no escapes or control bytes. The closing quote is left for the next key's literal
/// to check (it starts with `"`), so a body that stops at a backslash or a control
/// byte fails there.
#[inline(always)]
fn symbol(w: &Window) -> Option<(usize, usize)> {
    const SYM: u64 = pack(b"\",\"sym\":");
    if load(w, 8) != SYM || byte(w, 16) != b'"' {
        return None;
    }
    let start = 17;
    let mut end = start;
    while end < SPAN {
        let stop = swar::string_stop(load(w, end));
        end += stop;
        if stop < 8 {
            return Some((start, end));
        }
    }
    None
}

/// A timestamp of any unit as Unix ms, as the general parser converts one.
#[inline(always)]
fn timestamp(raw: u64) -> Option<i64> {
    unix_ms_from_any(i64::try_from(raw).ok()?)
}

/// A key with its punctuation, up to eight bytes, compared in one load.
#[derive(Debug, Clone, Copy)]
struct Lit {
    value: u64,
    mask: u64,
    len: usize,
}

impl Lit {
    const fn new(text: &[u8]) -> Self {
        assert!(!text.is_empty() && text.len() <= 8);
        Self {
            value: pack(text),
            mask: u64::MAX >> (64 - 8 * text.len()),
            len: text.len(),
        }
    }

    /// The offset after the literal if it is at offset `i`.
    #[inline(always)]
    fn after(self, w: &Window, i: usize) -> Option<usize> {
        (load(w, i) & self.mask == self.value).then_some(i + self.len)
    }
}

/// Bytes packed little-endian into a `u64`, as [`load`] reads them.
const fn pack(text: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < text.len() {
        v |= (text[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

/// The eight bytes at offset `i` (modulo [`SPAN`]; see [`Window`]).
#[inline(always)]
fn load(w: &Window, i: usize) -> u64 {
    let i = i % SPAN;
    let mut lanes = [0u8; 8];
    lanes.copy_from_slice(&w[i..i + 8]);
    u64::from_le_bytes(lanes)
}

/// The byte at offset `i` (modulo [`SPAN`]).
#[inline(always)]
fn byte(w: &Window, i: usize) -> u8 {
    w[i % SPAN]
}

/// Whether a run of `n` digits starting with the low lane of `x` has a leading zero
/// (JSON allows `0` alone, not `07`).
#[inline(always)]
fn leading_zero(x: u64, n: usize) -> bool {
    n > 1 && x & 0xFF == u64::from(b'0')
}

/// An unsigned integer of 1 to 15 digits at offset `i`: its value and where it ends.
#[inline(always)]
fn uint(w: &Window, i: usize) -> Option<(u64, usize)> {
    let x = load(w, i);
    let n = swar::digit_run(x);
    if n == 0 || leading_zero(x, n) {
        return None;
    }
    if n < 8 {
        return Some((swar::digits_value(x, n), i + n));
    }
    let x2 = load(w, i + 8);
    let n2 = swar::digit_run(x2);
    let high = swar::digits_value(x, 8);
    match n2 {
        0 => Some((high, i + 8)),
        8 => None,
        _ => Some((
            high * POW10_INT[n2 % 8] + swar::digits_value(x2, n2),
            i + 8 + n2,
        )),
    }
}

/// The end of an unsigned integer of 1 to 15 digits at offset `i`, not converted
/// ([`RawInt`] converts on demand).
#[inline(always)]
fn raw(w: &Window, i: usize) -> Option<usize> {
    let x = load(w, i);
    let n = swar::digit_run(x);
    if n == 0 || leading_zero(x, n) {
        return None;
    }
    if n < 8 {
        return Some(i + n);
    }
    let n2 = swar::digit_run(load(w, i + 8));
    (n2 < 8).then_some(i + 8 + n2)
}

/// A price at offset `i`: 1 to 7 integer digits, then optionally `.` and 1 to 7
/// fraction digits. Its value (exact, see the module docs) and where it ends. An
/// exponent after it is refused by the next literal, which expects a comma.
#[inline(always)]
fn price(w: &Window, i: usize) -> Option<(f64, usize)> {
    let x = load(w, i);
    let n = swar::digit_run(x);
    if n == 0 || n == 8 || leading_zero(x, n) {
        return None;
    }
    if (x >> (8 * n)) & 0xFF != u64::from(b'.') {
        return Some((swar::digits_value(x, n) as f64, i + n));
    }
    // Drop the point: the integer digits stay, the rest moves down one lane and a
    // zero lane (not a digit) comes in on top, so the run is every digit in the word.
    let below = u64::MAX >> (64 - 8 * n);
    let joined = (x & below) | ((x >> 8) & !below);
    let run = swar::digit_run(joined);
    if run < 7 {
        // The number ends inside the word.
        let f = run - n;
        if f == 0 {
            return None;
        }
        let mantissa = swar::digits_value(joined, run);
        return Some((mantissa as f64 / POW10[f % 8], i + run + 1));
    }
    // Fraction digits reach the word's end: read them from the next load.
    let x2 = load(w, i + n + 1);
    let f = swar::digit_run(x2);
    if f == 0 || f == 8 {
        return None;
    }
    // At most 14 digits: below 2^53, so the mantissa is exact in `f64`.
    let mantissa = swar::digits_value(x, n) * POW10_INT[f % 8] + swar::digits_value(x2, f);
    Some((mantissa as f64 / POW10[f % 8], i + n + 1 + f))
}

/// Powers of ten for up to seven digits, as integers.
const POW10_INT: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Powers of ten for up to seven fraction digits, each exact in `f64`.
const POW10: [f64; 8] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

#[cfg(test)]
mod tests {
    use super::*;

    fn window(s: &str) -> Window {
        let mut w = [0u8; SPAN + 8];
        w[..s.len()].copy_from_slice(s.as_bytes());
        w
    }

    #[test]
    fn numbers_take_the_common_shapes_and_refuse_the_rest() {
        let at = |s: &str| price(&window(s), 0);
        assert_eq!(at("29.4,"), Some((29.4, 4)));
        assert_eq!(at("0.05,"), Some((0.05, 4)));
        assert_eq!(at("0,"), Some((0.0, 1)));
        assert_eq!(at("1234567.1234567,"), Some((1_234_567.123_456_7, 15)));
        assert_eq!(at("1234.567,"), Some((1_234.567, 8)));
        assert_eq!(at("123456.7,"), Some((123_456.7, 8)));
        assert_eq!(at("1234567.7654321,"), Some((1_234_567.765_432_1, 15)));
        assert_eq!(at("1.234567,"), Some((1.234_567, 8)));
        for refused in [
            "-1,",
            "07,",
            "1.,",
            "1234567.,",
            "123456.,",
            "12345678,",
            "1.12345678,",
            "1234567.12345678,",
            ".5,",
            "",
        ] {
            assert_eq!(at(refused), None, "{refused}");
        }
        let at = |s: &str| uint(&window(s), 0);
        assert_eq!(at("1795536000000}"), Some((1_795_536_000_000, 13)));
        assert_eq!(at("12345678,"), Some((12_345_678, 8)));
        assert_eq!(at("7"), Some((7, 1)));
        assert_eq!(at("1234567812345678,"), None);
        assert_eq!(at("01,"), None);
        assert_eq!(raw(&window("157796097}"), 0), Some(9));
        assert_eq!(raw(&window("0}"), 0), Some(1));
        assert_eq!(raw(&window("00}"), 0), None);
    }
}
