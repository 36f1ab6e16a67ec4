//! Massive WebSocket frames → typed events, without allocating per event.
//!
//! Every server frame is a JSON array of events; status and data events can share a
//! frame (Massive's documented framing). This is chainboard's hot path: a busy SPX session sends
//! hundreds of thousands of quotes a second. So instead of building a DOM or a `Vec` of
//! structs, [`FrameParser`] scans the frame once and hands each event, borrowed from the
//! frame's bytes, to a [`FrameSink`]. Strings with JSON escapes (legal, never seen in
//! practice) are decoded into scratch buffers the parser reuses.
//!
//! Three readers share the work, fastest first, each falling back to the next without
//! changing what is delivered: `frame::fast` reads quotes and trades in the exact layout
//! Massive writes them (nearly all traffic) as a fixed sequence of word compares and
//! number conversions; a learned shape reads other events whose layout repeats;
//! the general parser reads anything, and is the one that reports errors.
//!
//! # What a bad frame costs
//!
//! - An event of an unknown `ev` is counted ([`FrameStats::unknown`]) and skipped.
//! - An event that is valid JSON but lacks a required field or has one of the wrong
//!   type (a quote without `bp`) is counted ([`FrameStats::invalid`]) and skipped; the
//!   rest of the frame is still read.
//! - Broken JSON (truncation, a stray byte) ends the frame with a [`FrameError`].
//!   Events before the damage were complete objects and have already been delivered to
//!   the sink: quotes are independent, last-write-wins updates, so applying them is
//!   correct. The error says how many were delivered and where the damage is; whatever
//!   followed it is lost, and the caller counts the frame as malformed.
//!
//! Nothing here panics on any input: indexing is checked and numbers that do not fit
//! become errors.

use std::fmt;

use chainboard_model::time::{count_from_f64, unix_ms_from_any};
use thiserror::Error;

use chainboard_model::swar;

/// An integer field kept as its JSON text and converted only when read: exchange ids
/// and sequence numbers, which chainboard does not use, so the hot path does not pay
/// for them. The text was validated as a JSON number by the parser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawInt<'a>(Option<&'a [u8]>);

impl RawInt<'_> {
    /// The value, if the field was present and is an integer that fits `i64`.
    pub fn get(self) -> Option<i64> {
        std::str::from_utf8(self.0?).ok()?.parse().ok()
    }
}

/// A quote (`ev: "Q"`): the NBBO of one option contract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassiveQuote<'a> {
    /// `sym`: the option ticker, `O:SPXW261124C06850000`.
    pub sym: &'a str,
    /// `bp`: bid price.
    pub bid: f64,
    /// `ap`: ask price.
    pub ask: f64,
    /// `bs`: bid size, contracts.
    pub bid_size: u64,
    /// `as`: ask size, contracts.
    pub ask_size: u64,
    /// `bx`: bid exchange id.
    pub bid_exchange: RawInt<'a>,
    /// `ax`: ask exchange id.
    pub ask_exchange: RawInt<'a>,
    /// `t`: quote time, converted to Unix ms whatever unit it came in.
    pub ts_ms: i64,
    /// `q`: the vendor's sequence number.
    pub seq: RawInt<'a>,
}

/// A trade (`ev: "T"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassiveTrade<'a> {
    /// `sym`: the option ticker.
    pub sym: &'a str,
    /// `p`: price.
    pub price: f64,
    /// `s`: size, contracts.
    pub size: u64,
    /// `x`: exchange id.
    pub exchange: RawInt<'a>,
    /// `t`: trade time, Unix ms.
    pub ts_ms: i64,
    /// `q`: the vendor's sequence number.
    pub seq: RawInt<'a>,
}

/// Whether an aggregate covers a second (`A`) or a minute (`AM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateSpan {
    /// `ev: "A"`.
    Second,
    /// `ev: "AM"`.
    Minute,
}

/// An aggregate bar (`ev: "A"` or `"AM"`), for an option or an index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassiveAggregate<'a> {
    /// Second or minute bar.
    pub span: AggregateSpan,
    /// `sym`: option ticker or index ticker (`I:SPX`).
    pub sym: &'a str,
    /// `v`: volume in the bar.
    pub volume: Option<u64>,
    /// `av`: the day's accumulated volume.
    pub day_volume: Option<u64>,
    /// `o`: open.
    pub open: Option<f64>,
    /// `h`: high.
    pub high: Option<f64>,
    /// `l`: low.
    pub low: Option<f64>,
    /// `c`: close.
    pub close: Option<f64>,
    /// `vw`: the bar's volume-weighted average price.
    pub vwap: Option<f64>,
    /// `s`: bar start, Unix ms.
    pub start_ms: Option<i64>,
    /// `e`: bar end, Unix ms.
    pub end_ms: Option<i64>,
}

/// An index value (`ev: "V"` on the indices feed). Note the ticker is in `T`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassiveIndexValue<'a> {
    /// `T`: the index ticker, `I:SPX`.
    pub ticker: &'a str,
    /// `val`: the index value.
    pub value: f64,
    /// `t`: time, Unix ms.
    pub ts_ms: i64,
}

/// A status event (`ev: "status"`): handshake, subscription acks, disconnect reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MassiveStatus<'a> {
    /// `status`: `connected`, `auth_success`, `auth_failed`, `success`,
    /// `max_connections`, ...
    pub status: &'a str,
    /// `message`: human-readable detail; empty when absent.
    pub message: &'a str,
}

/// Receives a frame's events in order. Every method has an empty default so a sink
/// implements only what it consumes.
pub trait FrameSink {
    /// A quote.
    fn quote(&mut self, _quote: &MassiveQuote<'_>) {}
    /// A trade.
    fn trade(&mut self, _trade: &MassiveTrade<'_>) {}
    /// An aggregate bar.
    fn aggregate(&mut self, _aggregate: &MassiveAggregate<'_>) {}
    /// An index value.
    fn index_value(&mut self, _value: &MassiveIndexValue<'_>) {}
    /// A status event.
    fn status(&mut self, _status: &MassiveStatus<'_>) {}
}

/// What one frame contained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Quotes delivered.
    pub quotes: u32,
    /// Trades delivered.
    pub trades: u32,
    /// Aggregates delivered.
    pub aggregates: u32,
    /// Index values delivered.
    pub index_values: u32,
    /// Status events delivered.
    pub statuses: u32,
    /// Events with an `ev` this parser does not know, skipped.
    pub unknown: u32,
    /// Well-formed events missing a required field or carrying a wrongly typed one,
    /// skipped.
    pub invalid: u32,
}

impl FrameStats {
    /// Events handed to the sink.
    pub fn delivered(&self) -> u32 {
        self.quotes + self.trades + self.aggregates + self.index_values + self.statuses
    }
}

/// What is wrong with a frame that is not valid JSON of the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// The frame ended in the middle of a value.
    UnexpectedEnd,
    /// A byte that cannot appear here.
    UnexpectedByte(u8),
    /// The top-level value is not an array.
    NotAnArray,
    /// An array element is not an object.
    EventNotAnObject,
    /// A malformed number.
    BadNumber,
    /// A malformed string (control character, bad escape).
    BadString,
    /// Nesting deeper than the parser follows.
    TooDeep,
    /// Bytes after the closing `]`.
    TrailingBytes,
    /// A frame of 4 GiB or more.
    TooLarge,
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("frame ends mid-value"),
            Self::UnexpectedByte(b) if b.is_ascii_graphic() => {
                write!(f, "unexpected byte {:?}", char::from(*b))
            }
            Self::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            Self::NotAnArray => f.write_str("frame is not a JSON array"),
            Self::EventNotAnObject => f.write_str("an event is not a JSON object"),
            Self::BadNumber => f.write_str("malformed number"),
            Self::BadString => f.write_str("malformed string"),
            Self::TooDeep => f.write_str("nesting too deep"),
            Self::TrailingBytes => f.write_str("bytes after the closing bracket"),
            Self::TooLarge => f.write_str("frame larger than 4 GiB"),
        }
    }
}

/// A frame that is not valid JSON of the expected shape. The events before `offset`
/// were delivered (see the module docs); `stats` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("malformed frame at byte {offset}: {kind} ({} events before it were applied)", stats.delivered())]
pub struct FrameError {
    /// What went wrong.
    pub kind: FrameErrorKind,
    /// Byte offset of the damage.
    pub offset: usize,
    /// What was delivered before it.
    pub stats: FrameStats,
}

/// Nesting the skipper follows inside an event (Massive's deepest is `c: [..]`).
const MAX_DEPTH: u32 = 32;

/// Parses frames; owns the scratch buffers for escaped strings, so keep one per
/// connection and reuse it.
#[derive(Debug)]
pub struct FrameParser {
    scratch: [String; 3],
    fields: Fields,
    shapes: Shapes,
    /// Whether quotes and trades in the common layout take [`fast`]'s readers (always,
    /// except in tests that compare the two paths).
    fast: bool,
}

impl Default for FrameParser {
    fn default() -> Self {
        Self {
            scratch: Default::default(),
            fields: Fields::default(),
            shapes: Shapes::default(),
            fast: true,
        }
    }
}

impl FrameParser {
    /// A parser with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that reads every event through the general path, for tests that hold
    /// the fast readers to it.
    #[cfg(test)]
    fn general_only() -> Self {
        Self {
            fast: false,
            ..Self::default()
        }
    }

    /// Parses one text frame, handing each event to `sink` as it completes.
    pub fn parse<S: FrameSink>(
        &mut self,
        frame: &str,
        sink: &mut S,
    ) -> Result<FrameStats, FrameError> {
        let mut stats = FrameStats::default();
        if u32::try_from(frame.len()).is_err() {
            // Field positions are kept as u32 offsets; Massive's messages are far
            // smaller than 4 GiB.
            return Err(FrameError {
                kind: FrameErrorKind::TooLarge,
                offset: 0,
                stats,
            });
        }
        let mut cur = Cursor {
            text: frame,
            bytes: frame.as_bytes(),
            pos: 0,
        };
        match self.parse_array(&mut cur, sink, &mut stats) {
            Ok(()) => Ok(stats),
            Err(kind) => Err(FrameError {
                kind,
                offset: cur.pos,
                stats,
            }),
        }
    }

    fn parse_array<S: FrameSink>(
        &mut self,
        cur: &mut Cursor<'_>,
        sink: &mut S,
        stats: &mut FrameStats,
    ) -> Result<(), FrameErrorKind> {
        cur.skip_ws();
        match cur.peek() {
            Some(b'[') => cur.pos += 1,
            Some(_) => return Err(FrameErrorKind::NotAnArray),
            None => return Err(FrameErrorKind::UnexpectedEnd),
        }
        cur.skip_ws();
        if cur.eat(b']') {
            return cur.finish();
        }
        loop {
            cur.skip_ws();
            match cur.peek() {
                Some(b'{') => {}
                Some(_) => return Err(FrameErrorKind::EventNotAnObject),
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
            self.event(cur, sink, stats)?;
            cur.skip_ws();
            match cur.next() {
                Some(b',') => continue,
                Some(b']') => return cur.finish(),
                Some(b) => return Err(cur.unexpected(b)),
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
        }
    }

    /// Reads one event (the cursor is on its `{`) and hands it to the sink: through
    /// the fast readers when it has the common layout, else through a learned shape or
    /// the general parser.
    #[inline]
    fn event<S: FrameSink>(
        &mut self,
        cur: &mut Cursor<'_>,
        sink: &mut S,
        stats: &mut FrameStats,
    ) -> Result<(), FrameErrorKind> {
        let start = cur.pos;
        if self.fast
            && let Some(end) = fast::event(cur.text, start, sink, stats)
        {
            cur.pos = end;
            return Ok(());
        }
        if !self.shapes.parse(cur, &mut self.fields) {
            cur.pos = start;
            let mut shape = Shape::open();
            cur.parse_event_fields(&mut self.fields, &mut shape)?;
            self.shapes.learn(shape);
        }
        self.dispatch(cur.text, sink, stats);
        Ok(())
    }

    fn dispatch<S: FrameSink>(&mut self, text: &str, sink: &mut S, stats: &mut FrameStats) {
        let f = &self.fields;
        let [s0, s1, s2] = &mut self.scratch;
        let Some(ev) = f.str(text, Str::Ev, s0) else {
            stats.invalid += 1;
            return;
        };
        let delivered = match ev {
            "Q" => quote(f, text, s1).map(|q| {
                sink.quote(&q);
                stats.quotes += 1;
            }),
            "T" => trade(f, text, s1).map(|t| {
                sink.trade(&t);
                stats.trades += 1;
            }),
            "A" | "AM" => {
                let span = if ev == "A" {
                    AggregateSpan::Second
                } else {
                    AggregateSpan::Minute
                };
                aggregate(f, text, span, s1).map(|a| {
                    sink.aggregate(&a);
                    stats.aggregates += 1;
                })
            }
            "V" => index_value(f, text, s1).map(|x| {
                sink.index_value(&x);
                stats.index_values += 1;
            }),
            "status" => status(f, text, s1, s2).map(|x| {
                sink.status(&x);
                stats.statuses += 1;
            }),
            _ => {
                stats.unknown += 1;
                return;
            }
        };
        if delivered.is_none() {
            stats.invalid += 1;
        }
    }
}

#[inline]
fn quote<'s>(f: &Fields, text: &'s str, scratch: &'s mut String) -> Option<MassiveQuote<'s>> {
    Some(MassiveQuote {
        bid: f.f64(Num::Bp)?,
        ask: f.f64(Num::Ap)?,
        bid_size: f.count(Num::Bs)?,
        ask_size: f.count(Num::As)?,
        bid_exchange: f.raw(text, Num::Bx),
        ask_exchange: f.raw(text, Num::Ax),
        ts_ms: f.ts_ms(Num::T)?,
        seq: f.raw(text, Num::Q),
        sym: f.str(text, Str::Sym, scratch)?,
    })
}

fn trade<'s>(f: &Fields, text: &'s str, scratch: &'s mut String) -> Option<MassiveTrade<'s>> {
    Some(MassiveTrade {
        price: f.f64(Num::P)?,
        size: f.count(Num::S)?,
        exchange: f.raw(text, Num::X),
        ts_ms: f.ts_ms(Num::T)?,
        seq: f.raw(text, Num::Q),
        sym: f.str(text, Str::Sym, scratch)?,
    })
}

fn aggregate<'s>(
    f: &Fields,
    text: &'s str,
    span: AggregateSpan,
    scratch: &'s mut String,
) -> Option<MassiveAggregate<'s>> {
    Some(MassiveAggregate {
        span,
        volume: f.count(Num::V),
        day_volume: f.count(Num::Av),
        open: f.f64(Num::O),
        high: f.f64(Num::H),
        low: f.f64(Num::L),
        close: f.f64(Num::C),
        vwap: f.f64(Num::Vw),
        start_ms: f.ts_ms(Num::S),
        end_ms: f.ts_ms(Num::E),
        sym: f.str(text, Str::Sym, scratch)?,
    })
}

fn index_value<'s>(
    f: &Fields,
    text: &'s str,
    scratch: &'s mut String,
) -> Option<MassiveIndexValue<'s>> {
    Some(MassiveIndexValue {
        value: f.f64(Num::Val)?,
        ts_ms: f.ts_ms(Num::T)?,
        ticker: f.str(text, Str::Ticker, scratch)?,
    })
}

fn status<'s>(
    f: &Fields,
    text: &'s str,
    s1: &'s mut String,
    s2: &'s mut String,
) -> Option<MassiveStatus<'s>> {
    Some(MassiveStatus {
        status: f.str(text, Str::Status, s1)?,
        message: if f.has(Str::Message.bit()) {
            f.str(text, Str::Message, s2)?
        } else {
            ""
        },
    })
}

/// Number-valued keys, by wire name. Keys that mean different things in different
/// events share a slot and are read per `ev`: `s` is a trade's size and an aggregate's
/// start, `c` an aggregate's close (a trade's `c` is its conditions array, which no
/// event reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Bp,
    Ap,
    Bs,
    As,
    Bx,
    Ax,
    P,
    S,
    X,
    T,
    Q,
    V,
    Av,
    O,
    H,
    L,
    C,
    Vw,
    E,
    Val,
}

/// String-valued keys, by wire name (`T` is the index ticker of a `V` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Str {
    Ev,
    Sym,
    Ticker,
    Status,
    Message,
}

const NUMS: usize = Num::Val as usize + 1;
const STRS: usize = Str::Message as usize + 1;

/// Where a key's value goes.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Parsed into a number.
    Num(Num),
    /// Validated as a number and kept as text ([`RawInt`]).
    Raw(Num),
    /// A string.
    Str(Str),
}

impl Slot {
    fn bit(self) -> u32 {
        match self {
            Slot::Num(k) | Slot::Raw(k) => k.bit(),
            Slot::Str(k) => k.bit(),
        }
    }
}

impl Num {
    /// The key's bit in the [`Fields`] masks.
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl Str {
    /// The key's bit in the [`Fields`] masks (after the numeric keys').
    fn bit(self) -> u32 {
        1 << (NUMS as u32 + self as u32)
    }
}

/// The known fields of the event being read, parsed once during the scan.
///
/// Values live in plain arrays and their state in bitmasks, so starting an event is
/// four integer stores and reading a field is a mask test and an array load; an absent
/// field is never read because its `present` bit is clear.
#[derive(Debug, Clone, Default)]
struct Fields {
    /// Keys seen with a value of the right type.
    present: u32,
    /// Keys seen with a value of the wrong type (a quote's `bp` as a string): reading
    /// one makes the event invalid.
    wrong: u32,
    /// Numeric keys written as an integer that fits `i64`.
    integral: u32,
    /// String keys with escapes (decoded on read).
    escaped: u32,
    num: [f64; NUMS],
    int: [i64; NUMS],
    /// Text of [`Slot::Raw`] numbers, as byte offsets into the frame.
    raw: [(u32, u32); NUMS],
    /// String bodies, between the quotes, as byte offsets into the frame.
    text: [(u32, u32); STRS],
}

impl Fields {
    #[inline]
    fn clear(&mut self) {
        self.present = 0;
        self.wrong = 0;
        self.integral = 0;
        self.escaped = 0;
    }

    #[inline]
    fn has(&self, bit: u32) -> bool {
        self.present & bit != 0
    }

    #[inline]
    fn set_num(&mut self, key: Num, n: Number) {
        let i = key as usize;
        self.num[i] = n.value;
        self.present |= key.bit();
        if let Some(int) = n.int {
            self.int[i] = int;
            self.integral |= key.bit();
        } else {
            self.integral &= !key.bit();
        }
        self.wrong &= !key.bit();
    }

    #[inline]
    fn set_str(&mut self, key: Str, start: usize, end: usize, escaped: bool) {
        self.text[key as usize] = (start as u32, end as u32);
        self.present |= key.bit();
        self.wrong &= !key.bit();
        if escaped {
            self.escaped |= key.bit();
        } else {
            self.escaped &= !key.bit();
        }
    }

    #[inline]
    fn set_raw(&mut self, key: Num, start: usize, end: usize) {
        self.raw[key as usize] = (start as u32, end as u32);
        self.present |= key.bit();
        self.wrong &= !key.bit();
    }

    /// A [`Slot::Raw`] number's text.
    #[inline]
    fn raw<'s>(&self, frame: &'s str, key: Num) -> RawInt<'s> {
        if !self.has(key.bit()) {
            return RawInt(None);
        }
        let (start, end) = self.raw[key as usize];
        RawInt(frame.as_bytes().get(start as usize..end as usize))
    }

    /// `null`: the key counts as absent.
    #[inline]
    fn set_null(&mut self, bit: u32) {
        self.present &= !bit;
        self.wrong &= !bit;
    }

    #[inline]
    fn set_wrong(&mut self, bit: u32) {
        self.present &= !bit;
        self.wrong |= bit;
    }

    /// A finite number; `None` if absent, of the wrong type or not finite.
    #[inline]
    fn f64(&self, key: Num) -> Option<f64> {
        let v = self.num[key as usize];
        (self.has(key.bit()) && v.is_finite()).then_some(v)
    }

    /// A number written as an integer that fits `i64`.
    #[inline]
    fn i64(&self, key: Num) -> Option<i64> {
        (self.integral & self.present & key.bit() != 0).then(|| self.int[key as usize])
    }

    /// A non-negative whole number; `17.0` counts, `17.5` and `-1` do not.
    #[inline]
    fn count(&self, key: Num) -> Option<u64> {
        if let Some(i) = self.i64(key) {
            return u64::try_from(i).ok();
        }
        count_from_f64(self.f64(key)?)
    }

    /// A timestamp of any unit, in Unix ms.
    #[inline]
    fn ts_ms(&self, key: Num) -> Option<i64> {
        let raw = self
            .i64(key)
            .or_else(|| self.count(key).and_then(|c| i64::try_from(c).ok()))?;
        unix_ms_from_any(raw)
    }

    /// A string, borrowed from the frame when it has no escapes, else decoded into
    /// `scratch`.
    #[inline]
    fn str<'s>(&self, frame: &'s str, key: Str, scratch: &'s mut String) -> Option<&'s str> {
        if !self.has(key.bit()) {
            return None;
        }
        let (start, end) = self.text[key as usize];
        let raw = frame.get(start as usize..end as usize)?;
        JsonStr {
            raw,
            escaped: self.escaped & key.bit() != 0,
        }
        .decode(scratch)
    }
}

/// A parsed JSON number: always as `f64`, and as `i64` when it was written as an
/// integer that fits.
#[derive(Debug, Clone, Copy)]
struct Number {
    value: f64,
    int: Option<i64>,
}

impl Number {
    /// `±mantissa / 10^frac_digits`, exactly rounded: both operands are exact in `f64`
    /// (`mantissa < 2^53`, `frac_digits <= 22`), so the one division rounds correctly.
    /// An integer (no fraction digits) is also kept as `i64`.
    #[inline]
    fn exact(mantissa: u64, frac_digits: usize, negative: bool) -> Self {
        debug_assert!(mantissa < (1 << 53) && frac_digits < POW10.len());
        let magnitude = if frac_digits == 0 {
            mantissa as f64
        } else {
            mantissa as f64 / POW10[frac_digits]
        };
        let int = (frac_digits == 0).then(|| {
            if negative {
                -(mantissa as i64)
            } else {
                mantissa as i64
            }
        });
        Self {
            value: if negative { -magnitude } else { magnitude },
            int,
        }
    }
}

/// Powers of ten that fit a `u64`, for combining digit runs.
const POW10_INT: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Reads the digits at `*pos`, advancing past them: their value (wrapping past 19
/// digits; callers check the count) and how many there were.
#[inline]
fn digits(bytes: &[u8], pos: &mut usize) -> (u64, usize) {
    let (mut value, mut count) = (0u64, 0usize);
    while let Some(word) = swar::load8(bytes, *pos) {
        let run = swar::digit_run(word);
        if run > 0 {
            value = value
                .wrapping_mul(POW10_INT[run])
                .wrapping_add(swar::digits_value(word, run));
        }
        *pos += run;
        count += run;
        if run < 8 {
            return (value, count);
        }
    }
    while let Some(&d @ b'0'..=b'9') = bytes.get(*pos) {
        value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        *pos += 1;
        count += 1;
    }
    (value, count)
}

/// A string's raw text between the quotes, escapes still encoded.
#[derive(Debug, Clone, Copy)]
struct JsonStr<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// The string's value: borrowed when it has no escapes, else decoded into
    /// `scratch`. `None` for an escape that encodes a lone surrogate.
    fn decode<'s>(self, scratch: &'s mut String) -> Option<&'s str>
    where
        'a: 's,
    {
        if !self.escaped {
            return Some(self.raw);
        }
        scratch.clear();
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                scratch.push(c);
                continue;
            }
            let decoded = match chars.next()? {
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let hi = hex4(&mut chars)?;
                    if (0xD800..0xDC00).contains(&hi) {
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let lo = hex4(&mut chars)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                    } else {
                        char::from_u32(hi)?
                    }
                }
                other => other, // '"', '\\', '/': validated by the scanner
            };
            scratch.push(decoded);
        }
        Some(scratch.as_str())
    }
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    (0..4).try_fold(0u32, |acc, _| Some(acc * 16 + chars.next()?.to_digit(16)?))
}

/// A key of up to eight bytes packed into an integer, so dispatching on it is one
/// integer match instead of a chain of slice comparisons.
const fn pack(key: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < key.len() {
        v |= (key[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

/// The slot of a key packed by [`pack`], or `None` for a key no event reads.
#[inline]
fn slot(key: u64) -> Option<Slot> {
    const EV: u64 = pack(b"ev");
    const SYM: u64 = pack(b"sym");
    const TICKER: u64 = pack(b"T");
    const STATUS: u64 = pack(b"status");
    const MESSAGE: u64 = pack(b"message");
    const BP: u64 = pack(b"bp");
    const AP: u64 = pack(b"ap");
    const BS: u64 = pack(b"bs");
    const AS: u64 = pack(b"as");
    const BX: u64 = pack(b"bx");
    const AX: u64 = pack(b"ax");
    const P: u64 = pack(b"p");
    const S: u64 = pack(b"s");
    const X: u64 = pack(b"x");
    const T: u64 = pack(b"t");
    const Q: u64 = pack(b"q");
    const V: u64 = pack(b"v");
    const AV: u64 = pack(b"av");
    const O: u64 = pack(b"o");
    const H: u64 = pack(b"h");
    const L: u64 = pack(b"l");
    const C: u64 = pack(b"c");
    const VW: u64 = pack(b"vw");
    const E: u64 = pack(b"e");
    const VAL: u64 = pack(b"val");
    Some(match key {
        EV => Slot::Str(Str::Ev),
        SYM => Slot::Str(Str::Sym),
        TICKER => Slot::Str(Str::Ticker),
        STATUS => Slot::Str(Str::Status),
        MESSAGE => Slot::Str(Str::Message),
        BP => Slot::Num(Num::Bp),
        AP => Slot::Num(Num::Ap),
        BS => Slot::Num(Num::Bs),
        AS => Slot::Num(Num::As),
        BX => Slot::Raw(Num::Bx),
        AX => Slot::Raw(Num::Ax),
        P => Slot::Num(Num::P),
        S => Slot::Num(Num::S),
        X => Slot::Raw(Num::X),
        T => Slot::Num(Num::T),
        Q => Slot::Raw(Num::Q),
        V => Slot::Num(Num::V),
        AV => Slot::Num(Num::Av),
        O => Slot::Num(Num::O),
        H => Slot::Num(Num::H),
        L => Slot::Num(Num::L),
        C => Slot::Num(Num::C),
        VW => Slot::Num(Num::Vw),
        E => Slot::Num(Num::E),
        VAL => Slot::Num(Num::Val),
        _ => return None,
    })
}

/// Most keys an event shape can hold (a quote has ten).
const SHAPE_KEYS: usize = 12;

/// The key layout of an event as Massive serializes it: `{"ev":`, `,"sym":`,
/// `,"bx":`, … — each key with its punctuation, packed into a `u64`, and the slot its
/// value goes to.
///
/// Massive writes every event of a kind with the same keys in the same order and no
/// whitespace. Once the general parser has read an event, its shape is remembered, and
/// following events are matched against it: one masked eight-byte comparison per key
/// instead of scanning and dispatching on it. Any difference (another order, an
/// optional key absent, whitespace, a string with escapes, a `null`) fails the match,
/// and the event is read again by the general parser, so the shape is a cache and
/// never changes what is parsed.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    usable: bool,
    len: usize,
    literal: [u64; SHAPE_KEYS],
    /// Selects the literal's bytes from an eight-byte load.
    mask: [u64; SHAPE_KEYS],
    literal_len: [u8; SHAPE_KEYS],
    slot: [Option<Slot>; SHAPE_KEYS],
}

impl Shape {
    /// An empty shape to record into. Once marked unusable (a key it cannot hold), it
    /// stays unusable.
    fn open() -> Self {
        Self {
            usable: true,
            ..Self::default()
        }
    }

    /// Adds the next key the general parser read (`packed`: the bare key, packed).
    fn record(&mut self, slot: Option<Slot>, packed: Option<u64>) {
        let (Some(slot), Some(key)) = (slot, packed) else {
            self.usable = false;
            return;
        };
        let key_len = 8 - key.leading_zeros() as usize / 8;
        // The literal is the opening brace or comma, the quoted key and the colon.
        let literal_len = key_len + 4;
        if self.len == SHAPE_KEYS || literal_len > 8 {
            self.usable = false;
            return;
        }
        let lead = if self.len == 0 { b'{' } else { b',' };
        let mut bytes = [0u8; 8];
        bytes[0] = lead;
        bytes[1] = b'"';
        bytes[2..2 + key_len].copy_from_slice(&key.to_le_bytes()[..key_len]);
        bytes[2 + key_len] = b'"';
        bytes[3 + key_len] = b':';
        self.literal[self.len] = u64::from_le_bytes(bytes);
        self.mask[self.len] = u64::MAX >> (64 - 8 * literal_len);
        self.literal_len[self.len] = literal_len as u8;
        self.slot[self.len] = Some(slot);
        self.len += 1;
    }
}

/// The two most recent usable event shapes: quotes and other events in a layout the
/// [`fast`] readers do not take (keys absent or reordered, say). A trade's conditions
/// array (`c: [..]`) has no typed slot, so such trades take the general path.
#[derive(Debug, Default)]
struct Shapes {
    known: [Shape; 2],
    /// Which of `known` the next learned shape replaces.
    next: usize,
}

impl Shapes {
    /// Reads the event at the cursor through a known shape; `false` (cursor position
    /// unspecified) when no shape matches and the general parser must read it.
    #[inline]
    fn parse(&self, cur: &mut Cursor<'_>, fields: &mut Fields) -> bool {
        let start = cur.pos;
        for shape in &self.known {
            if shape.usable && cur.parse_shaped(shape, fields) {
                return true;
            }
            cur.pos = start;
        }
        false
    }

    /// Remembers the shape of an event the general parser just read.
    fn learn(&mut self, shape: Shape) {
        if !shape.usable || shape.len == 0 {
            return;
        }
        let same =
            |k: &Shape| k.len == shape.len && k.literal[..k.len] == shape.literal[..shape.len];
        if self.known.iter().any(same) {
            return;
        }
        self.known[self.next] = shape;
        self.next ^= 1;
    }
}

/// Exact powers of ten for the fast number path (every one is representable).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// An error for byte `b`, which was just consumed: point at it.
    fn unexpected(&mut self, b: u8) -> FrameErrorKind {
        self.pos -= 1;
        FrameErrorKind::UnexpectedByte(b)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn finish(&mut self) -> Result<(), FrameErrorKind> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(FrameErrorKind::TrailingBytes)
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), FrameErrorKind> {
        match self.next() {
            Some(b) if b == want => Ok(()),
            Some(b) => Err(self.unexpected(b)),
            None => Err(FrameErrorKind::UnexpectedEnd),
        }
    }

    /// Reads one event object (the cursor is on its `{`) into `fields`, parsing the
    /// values of known keys and validating the rest.
    #[inline]
    fn parse_event_fields(
        &mut self,
        fields: &mut Fields,
        shape: &mut Shape,
    ) -> Result<(), FrameErrorKind> {
        fields.clear();
        self.pos += 1; // '{'
        self.skip_ws();
        if self.eat(b'}') {
            shape.usable = false;
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.expect(b'"')?;
            let key = self.key()?;
            shape.record(key.and_then(slot), key);
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            match (key.and_then(slot), self.peek()) {
                (Some(Slot::Num(k)), Some(b'-' | b'0'..=b'9')) => {
                    let n = self.number()?;
                    fields.set_num(k, n);
                }
                (Some(Slot::Raw(k)), Some(b'-' | b'0'..=b'9')) => {
                    let start = self.pos;
                    self.skip_number()?;
                    fields.set_raw(k, start, self.pos);
                }
                (Some(Slot::Str(k)), Some(b'"')) => {
                    self.pos += 1;
                    let start = self.pos;
                    let escaped = self.scan_string()?;
                    fields.set_str(k, start, self.pos - 1, escaped);
                }
                (Some(slot), Some(b'n')) => {
                    self.literal(b"null")?;
                    fields.set_null(slot.bit());
                    shape.usable = false;
                }
                (Some(slot), _) => {
                    self.skip_value(0)?;
                    fields.set_wrong(slot.bit());
                    shape.usable = false;
                }
                (None, _) => {
                    self.skip_value(0)?;
                    shape.usable = false;
                }
            }
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(()),
                Some(b) => return Err(self.unexpected(b)),
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
        }
    }

    /// Reads the event at the cursor (on its `{`) if it has exactly `shape`'s layout,
    /// with no whitespace and no escapes.
    #[inline]
    fn parse_shaped(&mut self, shape: &Shape, fields: &mut Fields) -> bool {
        fields.clear();
        for i in 0..shape.len {
            let Some(word) = swar::load8(self.bytes, self.pos) else {
                return false;
            };
            if word & shape.mask[i] != shape.literal[i] {
                return false;
            }
            self.pos += usize::from(shape.literal_len[i]);
            match (shape.slot[i], self.peek()) {
                (Some(Slot::Num(k)), Some(b'-' | b'0'..=b'9')) => match self.number() {
                    Ok(n) => fields.set_num(k, n),
                    Err(_) => return false,
                },
                (Some(Slot::Raw(k)), Some(b'-' | b'0'..=b'9')) => {
                    let start = self.pos;
                    if self.skip_number().is_err() {
                        return false;
                    }
                    fields.set_raw(k, start, self.pos);
                }
                (Some(Slot::Str(k)), Some(b'"')) => {
                    self.pos += 1;
                    let start = self.pos;
                    match self.scan_string() {
                        Ok(false) => fields.set_str(k, start, self.pos - 1, false),
                        _ => return false,
                    }
                }
                _ => return false,
            }
        }
        self.eat(b'}')
    }

    /// Reads a key after its opening quote; returns it packed when it is short and
    /// plain (every key the parser reads is), `None` otherwise.
    #[inline]
    fn key(&mut self) -> Result<Option<u64>, FrameErrorKind> {
        // Fast path: the whole key and its closing quote within the next eight bytes.
        if let Some(word) = swar::load8(self.bytes, self.pos) {
            let len = swar::string_stop(word);
            if len < 8 && self.bytes[self.pos + len] == b'"' {
                self.pos += len + 1;
                let mask = if len == 0 {
                    0
                } else {
                    u64::MAX >> (64 - 8 * len)
                };
                return Ok(Some(word & mask));
            }
        }
        let start = self.pos;
        let escaped = self.scan_string()?;
        let key = &self.bytes[start..self.pos - 1];
        Ok((!escaped && key.len() <= 8).then(|| pack(key)))
    }

    /// Validates and passes over any JSON value.
    fn skip_value(&mut self, depth: u32) -> Result<(), FrameErrorKind> {
        if depth > MAX_DEPTH {
            return Err(FrameErrorKind::TooDeep);
        }
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.scan_string().map(|_| ())
            }
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(open @ (b'[' | b'{')) => {
                let close = if open == b'[' { b']' } else { b'}' };
                self.pos += 1;
                self.skip_ws();
                if self.eat(close) {
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    if open == b'{' {
                        self.expect(b'"')?;
                        self.scan_string()?;
                        self.skip_ws();
                        self.expect(b':')?;
                        self.skip_ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.skip_ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b) if b == close => return Ok(()),
                        Some(b) => return Err(self.unexpected(b)),
                        None => return Err(FrameErrorKind::UnexpectedEnd),
                    }
                }
            }
            Some(b) => Err(FrameErrorKind::UnexpectedByte(b)),
            None => Err(FrameErrorKind::UnexpectedEnd),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), FrameErrorKind> {
        match self.bytes.get(self.pos..self.pos + word.len()) {
            Some(found) if found == word => {
                self.pos += word.len();
                Ok(())
            }
            Some(_) => Err(FrameErrorKind::UnexpectedByte(self.bytes[self.pos])),
            None => Err(FrameErrorKind::UnexpectedEnd),
        }
    }

    /// Passes over a string's body after its opening quote, through the closing quote;
    /// returns whether it holds escapes.
    #[inline]
    fn scan_string(&mut self) -> Result<bool, FrameErrorKind> {
        let mut escaped = false;
        loop {
            // The common case: plain text up to the closing quote, eight bytes a step.
            while let Some(word) = swar::load8(self.bytes, self.pos) {
                let stop = swar::string_stop(word);
                self.pos += stop;
                if stop < 8 {
                    break;
                }
            }
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            match self.next() {
                Some(b'"') => return Ok(escaped),
                Some(b'\\') => {
                    escaped = true;
                    match self.next() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => {
                            for _ in 0..4 {
                                match self.next() {
                                    Some(h) if h.is_ascii_hexdigit() => {}
                                    Some(_) => return Err(FrameErrorKind::BadString),
                                    None => return Err(FrameErrorKind::UnexpectedEnd),
                                }
                            }
                        }
                        Some(_) => return Err(FrameErrorKind::BadString),
                        None => return Err(FrameErrorKind::UnexpectedEnd),
                    }
                }
                Some(_) => return Err(FrameErrorKind::BadString), // a control character
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
        }
    }

    /// Reads a number, checking JSON's grammar
    /// (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), in one pass.
    ///
    /// Up to 19 significant digits with no exponent take an exact fast path: an integer
    /// mantissa divided by a power of ten, both exact in `f64`, so the result is one
    /// correctly rounded division. Anything else goes through the standard library's
    /// correctly rounded parser.
    #[inline]
    fn number(&mut self) -> Result<Number, FrameErrorKind> {
        self.number_short()
            .map_or_else(|| self.number_general(), Ok)
    }

    /// The common shapes in straight-line code: up to 15 integer digits (prices,
    /// sizes, 13-digit millisecond stamps) and up to 7 fraction digits, no exponent,
    /// no leading zero. `None` (cursor unmoved) for anything else, including errors,
    /// which [`Cursor::number_general`] then reports.
    #[inline]
    fn number_short(&mut self) -> Option<Number> {
        let negative = self.peek() == Some(b'-');
        let mut pos = self.pos + usize::from(negative);
        let w = swar::load8(self.bytes, pos)?;
        let n = swar::digit_run(w);
        if n == 0 || (n > 1 && w & 0xFF == u64::from(b'0')) {
            return None;
        }
        let mut mantissa = swar::digits_value(w, n.min(8));
        let mut int_digits = n;
        pos += n;
        if n == 8 {
            let w2 = swar::load8(self.bytes, pos)?;
            let n2 = swar::digit_run(w2);
            if n2 == 8 {
                return None;
            }
            if n2 > 0 {
                mantissa = mantissa * POW10_INT[n2] + swar::digits_value(w2, n2);
            }
            int_digits += n2;
            pos += n2;
        }
        let mut frac_digits = 0;
        if self.bytes.get(pos) == Some(&b'.') {
            let w3 = swar::load8(self.bytes, pos + 1)?;
            frac_digits = swar::digit_run(w3);
            // More than 19 significant digits could overflow the mantissa.
            if frac_digits == 0 || frac_digits == 8 || int_digits + frac_digits > 19 {
                return None;
            }
            mantissa = mantissa * POW10_INT[frac_digits] + swar::digits_value(w3, frac_digits);
            pos += 1 + frac_digits;
        }
        if matches!(self.bytes.get(pos), Some(b'e' | b'E')) || mantissa >= (1 << 53) {
            return None;
        }
        self.pos = pos;
        Some(Number::exact(mantissa, frac_digits, negative))
    }

    /// Any JSON number, and the error for a malformed one.
    fn number_general(&mut self) -> Result<Number, FrameErrorKind> {
        let start = self.pos;
        let negative = self.eat(b'-');
        let int_start = self.pos;
        let (int_value, int_digits) = digits(self.bytes, &mut self.pos);
        if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
            return Err(FrameErrorKind::BadNumber);
        }
        let (mut mantissa, mut total, mut frac_digits) = (int_value, int_digits, 0);
        let fraction = self.eat(b'.');
        if fraction {
            let (frac, n) = digits(self.bytes, &mut self.pos);
            if n == 0 {
                return Err(FrameErrorKind::BadNumber);
            }
            frac_digits = n;
            total += n;
            mantissa = match POW10_INT.get(n) {
                Some(&scale) => mantissa.wrapping_mul(scale).wrapping_add(frac),
                None => 0, // more than 19 digits: the slow path below
            };
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.skip_digits() == 0 {
                return Err(FrameErrorKind::BadNumber);
            }
        }
        if !exponent && total <= 19 && mantissa < (1 << 53) {
            return Ok(Number::exact(mantissa, frac_digits, negative));
        }
        let text = self
            .text
            .get(start..self.pos)
            .ok_or(FrameErrorKind::BadNumber)?;
        let value = text.parse::<f64>().map_err(|_| FrameErrorKind::BadNumber)?;
        let int = (!exponent && !fraction)
            .then(|| text.parse::<i64>().ok())
            .flatten();
        Ok(Number { value, int })
    }

    /// Passes over a number, checking JSON's grammar without converting it.
    #[inline]
    fn skip_number(&mut self) -> Result<(), FrameErrorKind> {
        self.eat(b'-');
        let int_start = self.pos;
        let int_digits = self.skip_digits();
        if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
            return Err(FrameErrorKind::BadNumber);
        }
        if self.eat(b'.') && self.skip_digits() == 0 {
            return Err(FrameErrorKind::BadNumber);
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.skip_digits() == 0 {
                return Err(FrameErrorKind::BadNumber);
            }
        }
        Ok(())
    }

    /// Passes over ASCII digits; returns how many.
    #[inline]
    fn skip_digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(word) = swar::load8(self.bytes, self.pos) {
            let run = swar::digit_run(word);
            self.pos += run;
            if run < 8 {
                return self.pos - start;
            }
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }
}

mod fast;

#[cfg(test)]
mod tests;
