//! Massive WebSocket frames → typed events, without allocating per event.
//!
//! Every server frame is a JSON array of events; status and data events can share a
//! frame (shared/MASSIVE.md). This is chainboard's hot path: a busy SPX session sends
//! hundreds of thousands of quotes a second. So instead of building a DOM or a `Vec` of
//! structs, [`FrameParser`] scans the frame once and hands each event, borrowed from the
//! frame's bytes, to a [`FrameSink`]. Strings with JSON escapes (legal, never seen in
//! practice) are decoded into scratch buffers the parser reuses.
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

use chainboard_model::time::unix_ms_from_any;
use thiserror::Error;

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
    pub bid_exchange: Option<i64>,
    /// `ax`: ask exchange id.
    pub ask_exchange: Option<i64>,
    /// `t`: quote time, converted to Unix ms whatever unit it came in.
    pub ts_ms: i64,
    /// `q`: the vendor's sequence number.
    pub seq: Option<i64>,
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
    pub exchange: Option<i64>,
    /// `t`: trade time, Unix ms.
    pub ts_ms: i64,
    /// `q`: the vendor's sequence number.
    pub seq: Option<i64>,
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
#[derive(Debug, Default)]
pub struct FrameParser {
    scratch: [String; 3],
}

impl FrameParser {
    /// A parser with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one text frame, handing each event to `sink` as it completes.
    pub fn parse<S: FrameSink>(
        &mut self,
        frame: &str,
        sink: &mut S,
    ) -> Result<FrameStats, FrameError> {
        let mut stats = FrameStats::default();
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
            let fields = cur.parse_event_fields()?;
            self.dispatch(&fields, sink, stats);
            cur.skip_ws();
            match cur.next() {
                Some(b',') => continue,
                Some(b']') => return cur.finish(),
                Some(b) => return Err(cur.unexpected(b)),
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
        }
    }

    fn dispatch<S: FrameSink>(&mut self, f: &Fields<'_>, sink: &mut S, stats: &mut FrameStats) {
        let [s0, s1, s2] = &mut self.scratch;
        let Some(ev) = f.ev.and_then(|v| v.as_str(s0)) else {
            stats.invalid += 1;
            return;
        };
        let delivered = match ev {
            "Q" => quote(f, s1).map(|q| {
                sink.quote(&q);
                stats.quotes += 1;
            }),
            "T" => trade(f, s1).map(|t| {
                sink.trade(&t);
                stats.trades += 1;
            }),
            "A" | "AM" => {
                let span = if ev == "A" {
                    AggregateSpan::Second
                } else {
                    AggregateSpan::Minute
                };
                aggregate(f, span, s1).map(|a| {
                    sink.aggregate(&a);
                    stats.aggregates += 1;
                })
            }
            "V" => index_value(f, s1).map(|v| {
                sink.index_value(&v);
                stats.index_values += 1;
            }),
            "status" => status(f, s1, s2).map(|s| {
                sink.status(&s);
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

fn quote<'a>(f: &Fields<'a>, scratch: &'a mut String) -> Option<MassiveQuote<'a>> {
    Some(MassiveQuote {
        bid: f.bp?.as_f64()?,
        ask: f.ap?.as_f64()?,
        bid_size: f.bs?.as_count()?,
        ask_size: f.as_?.as_count()?,
        bid_exchange: f.bx.and_then(Value::as_i64),
        ask_exchange: f.ax.and_then(Value::as_i64),
        ts_ms: f.t?.as_ts_ms()?,
        seq: f.q.and_then(Value::as_i64),
        sym: f.sym?.as_str(scratch)?,
    })
}

fn trade<'a>(f: &Fields<'a>, scratch: &'a mut String) -> Option<MassiveTrade<'a>> {
    Some(MassiveTrade {
        price: f.p?.as_f64()?,
        size: f.s?.as_count()?,
        exchange: f.x.and_then(Value::as_i64),
        ts_ms: f.t?.as_ts_ms()?,
        seq: f.q.and_then(Value::as_i64),
        sym: f.sym?.as_str(scratch)?,
    })
}

fn aggregate<'a>(
    f: &Fields<'a>,
    span: AggregateSpan,
    scratch: &'a mut String,
) -> Option<MassiveAggregate<'a>> {
    Some(MassiveAggregate {
        span,
        volume: f.v.and_then(Value::as_count),
        day_volume: f.av.and_then(Value::as_count),
        open: f.o.and_then(Value::as_f64),
        high: f.h.and_then(Value::as_f64),
        low: f.l.and_then(Value::as_f64),
        close: f.c.and_then(Value::as_f64),
        vwap: f.vw.and_then(Value::as_f64),
        start_ms: f.s.and_then(Value::as_ts_ms),
        end_ms: f.e.and_then(Value::as_ts_ms),
        sym: f.sym?.as_str(scratch)?,
    })
}

fn index_value<'a>(f: &Fields<'a>, scratch: &'a mut String) -> Option<MassiveIndexValue<'a>> {
    Some(MassiveIndexValue {
        value: f.val?.as_f64()?,
        ts_ms: f.t?.as_ts_ms()?,
        ticker: f.ticker?.as_str(scratch)?,
    })
}

fn status<'a>(f: &Fields<'a>, s1: &'a mut String, s2: &'a mut String) -> Option<MassiveStatus<'a>> {
    Some(MassiveStatus {
        status: f.status?.as_str(s1)?,
        message: match f.message {
            Some(Value::Null) | None => "",
            Some(m) => m.as_str(s2)?,
        },
    })
}

/// A JSON value as much as the interpreter needs it: numbers and strings are kept,
/// anything else is only known to be there.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Num(Number),
    Str(JsonStr<'a>),
    Null,
    Other,
}

impl<'a> Value<'a> {
    fn as_f64(self) -> Option<f64> {
        match self {
            Value::Num(n) if n.value.is_finite() => Some(n.value),
            _ => None,
        }
    }

    fn as_i64(self) -> Option<i64> {
        match self {
            Value::Num(n) => n.int,
            _ => None,
        }
    }

    /// A non-negative whole number; `17.0` counts, `17.5` and `-1` do not.
    fn as_count(self) -> Option<u64> {
        match self {
            Value::Num(Number { int: Some(i), .. }) => u64::try_from(i).ok(),
            Value::Num(Number { value, int: None })
                if value.fract() == 0.0 && (0.0..1.8e19).contains(&value) =>
            {
                Some(value as u64)
            }
            _ => None,
        }
    }

    fn as_ts_ms(self) -> Option<i64> {
        unix_ms_from_any(
            self.as_i64()
                .or_else(|| self.as_count().and_then(|c| i64::try_from(c).ok()))?,
        )
    }

    fn as_str<'s>(self, scratch: &'s mut String) -> Option<&'s str>
    where
        'a: 's,
    {
        match self {
            Value::Str(s) => s.decode(scratch),
            _ => None,
        }
    }
}

/// A parsed JSON number: always as `f64`, and as `i64` when it was written as an
/// integer that fits.
#[derive(Debug, Clone, Copy)]
struct Number {
    value: f64,
    int: Option<i64>,
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

/// The fields an event may carry, by wire name. Keys that mean different things in
/// different events (`s` is a trade's size and an aggregate's start; `c` is a trade's
/// conditions and an aggregate's close) share a slot and are read per `ev`.
#[derive(Debug, Default)]
struct Fields<'a> {
    ev: Option<Value<'a>>,
    sym: Option<Value<'a>>,
    ticker: Option<Value<'a>>,
    status: Option<Value<'a>>,
    message: Option<Value<'a>>,
    bp: Option<Value<'a>>,
    ap: Option<Value<'a>>,
    bs: Option<Value<'a>>,
    as_: Option<Value<'a>>,
    bx: Option<Value<'a>>,
    ax: Option<Value<'a>>,
    p: Option<Value<'a>>,
    s: Option<Value<'a>>,
    x: Option<Value<'a>>,
    t: Option<Value<'a>>,
    q: Option<Value<'a>>,
    v: Option<Value<'a>>,
    av: Option<Value<'a>>,
    o: Option<Value<'a>>,
    h: Option<Value<'a>>,
    l: Option<Value<'a>>,
    c: Option<Value<'a>>,
    vw: Option<Value<'a>>,
    e: Option<Value<'a>>,
    val: Option<Value<'a>>,
}

impl<'a> Fields<'a> {
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<Value<'a>>> {
        Some(match key {
            b"ev" => &mut self.ev,
            b"sym" => &mut self.sym,
            b"T" => &mut self.ticker,
            b"status" => &mut self.status,
            b"message" => &mut self.message,
            b"bp" => &mut self.bp,
            b"ap" => &mut self.ap,
            b"bs" => &mut self.bs,
            b"as" => &mut self.as_,
            b"bx" => &mut self.bx,
            b"ax" => &mut self.ax,
            b"p" => &mut self.p,
            b"s" => &mut self.s,
            b"x" => &mut self.x,
            b"t" => &mut self.t,
            b"q" => &mut self.q,
            b"v" => &mut self.v,
            b"av" => &mut self.av,
            b"o" => &mut self.o,
            b"h" => &mut self.h,
            b"l" => &mut self.l,
            b"c" => &mut self.c,
            b"vw" => &mut self.vw,
            b"e" => &mut self.e,
            b"val" => &mut self.val,
            _ => return None,
        })
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

    /// Reads one event object (the cursor is on its `{`), keeping known fields.
    fn parse_event_fields(&mut self) -> Result<Fields<'a>, FrameErrorKind> {
        let mut fields = Fields::default();
        self.pos += 1; // '{'
        self.skip_ws();
        if self.eat(b'}') {
            return Ok(fields);
        }
        loop {
            self.skip_ws();
            self.expect(b'"')?;
            let key = self.string_body()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let slot = if key.escaped {
                None
            } else {
                fields.slot(key.raw.as_bytes())
            };
            match slot {
                Some(slot) => *slot = Some(self.value(0)?),
                None => self.skip_value(0)?,
            }
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(fields),
                Some(b) => return Err(self.unexpected(b)),
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
        }
    }

    fn value(&mut self, depth: u32) -> Result<Value<'a>, FrameErrorKind> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                Ok(Value::Str(self.string_body()?))
            }
            Some(b'-' | b'0'..=b'9') => Ok(Value::Num(self.number()?)),
            Some(b'n') => self.literal(b"null").map(|()| Value::Null),
            Some(_) => self.skip_value(depth).map(|()| Value::Other),
            None => Err(FrameErrorKind::UnexpectedEnd),
        }
    }

    /// Validates and passes over any JSON value.
    fn skip_value(&mut self, depth: u32) -> Result<(), FrameErrorKind> {
        if depth > MAX_DEPTH {
            return Err(FrameErrorKind::TooDeep);
        }
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string_body().map(|_| ())
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
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
                        self.string_body()?;
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

    /// Reads a string's body after its opening quote, through the closing quote.
    fn string_body(&mut self) -> Result<JsonStr<'a>, FrameErrorKind> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.next() {
                Some(b'"') => break,
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
                Some(0..=0x1f) => return Err(FrameErrorKind::BadString),
                Some(_) => {}
                None => return Err(FrameErrorKind::UnexpectedEnd),
            }
        }
        // Both ends sit next to an ASCII quote, so they are char boundaries of `text`.
        let raw = self
            .text
            .get(start..self.pos - 1)
            .ok_or(FrameErrorKind::BadString)?;
        Ok(JsonStr { raw, escaped })
    }

    /// Reads a JSON number. Up to 19 significant digits with a small exponent take an
    /// exact fast path (an integer mantissa and a power of ten, both exact in `f64`, so
    /// one correctly rounded division or multiplication); anything else goes through
    /// the standard library's correctly rounded parser.
    fn number(&mut self) -> Result<Number, FrameErrorKind> {
        let start = self.pos;
        let negative = self.eat(b'-');
        let mut mantissa: u64 = 0;
        let mut digits = 0u32;
        let int_start = self.pos;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            digits += 1;
            self.pos += 1;
        }
        let int_digits = self.pos - int_start;
        if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
            return Err(FrameErrorKind::BadNumber);
        }
        let mut frac_digits = 0u32;
        if self.eat(b'.') {
            while let Some(d @ b'0'..=b'9') = self.peek() {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                digits += 1;
                frac_digits += 1;
                self.pos += 1;
            }
            if frac_digits == 0 {
                return Err(FrameErrorKind::BadNumber);
            }
        }
        let mut has_exp = false;
        if let Some(b'e' | b'E') = self.peek() {
            has_exp = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            if self.pos == exp_start {
                return Err(FrameErrorKind::BadNumber);
            }
        }
        let int = (!has_exp && frac_digits == 0 && digits <= 18).then(|| {
            let m = mantissa as i64; // < 10^18, fits
            if negative { -m } else { m }
        });
        let value = if !has_exp && digits <= 19 && mantissa < (1 << 53) && frac_digits < 23 {
            let v = mantissa as f64 / POW10[frac_digits as usize];
            if negative { -v } else { v }
        } else {
            // The slice is ASCII digits, sign, '.', 'e' — always a char boundary.
            let text = self
                .text
                .get(start..self.pos)
                .ok_or(FrameErrorKind::BadNumber)?;
            text.parse::<f64>().map_err(|_| FrameErrorKind::BadNumber)?
        };
        let int = int.or_else(|| {
            // Integers too long for the fast path, e.g. 19-digit nanosecond stamps.
            if has_exp || frac_digits > 0 {
                return None;
            }
            self.text.get(start..self.pos)?.parse::<i64>().ok()
        });
        Ok(Number { value, int })
    }
}

#[cfg(test)]
mod tests;
