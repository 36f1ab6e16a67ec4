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
//! This file holds the events, the errors and [`FrameParser`]'s loop over a frame;
//! `frame::fields` the table an event's known keys are read into, `frame::cursor` the
//! general JSON reader, `frame::shape` the learned layouts and `frame::fast` the
//! quote and trade readers.
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

use thiserror::Error;

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

/// A JSON array of integers kept as its text between the brackets, read only when
/// asked: a trade's condition codes, which only flow signing reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawList<'a>(pub(crate) Option<&'a [u8]>);

impl<'a> RawList<'a> {
    /// Each element as an unsigned integer; an element that is not one (a string, a
    /// negative or fractional number) reads as `u32::MAX`, a code no table knows.
    pub fn codes(self) -> impl Iterator<Item = u32> + 'a {
        self.0
            .unwrap_or_default()
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|e| !e.is_empty())
            .map(|e| {
                std::str::from_utf8(e)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(u32::MAX)
            })
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
    /// `c`: condition codes (absent: none).
    pub conditions: RawList<'a>,
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

#[inline]
fn trade<'s>(f: &Fields, text: &'s str, scratch: &'s mut String) -> Option<MassiveTrade<'s>> {
    Some(MassiveTrade {
        price: f.f64(Num::P)?,
        size: f.count(Num::S)?,
        exchange: f.raw(text, Num::X),
        conditions: f.conditions(text),
        ts_ms: f.ts_ms(Num::T)?,
        seq: f.raw(text, Num::Q),
        sym: f.str(text, Str::Sym, scratch)?,
    })
}

#[inline]
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

#[inline]
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

#[inline]
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

mod cursor;
mod fast;
mod fields;
mod shape;

use cursor::Cursor;
use fields::{Fields, Num, Str};
use shape::{Shape, Shapes};

#[cfg(test)]
mod tests;
