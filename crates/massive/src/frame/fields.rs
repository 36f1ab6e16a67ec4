//! The table an event's known fields are parsed into: which wire keys chainboard
//! reads ([`Num`], [`Str`]), where each key's value goes ([`slot`]), and the values of
//! the event being read ([`Fields`]), kept in flat arrays with bitmasks so that
//! starting an event and reading a field cost a few integer operations.

use chainboard_model::time::{count_from_f64, unix_ms_from_any};

use super::cursor::{JsonStr, Number};
use super::{RawInt, RawList};

/// Number-valued keys, by wire name. Keys that mean different things in different
/// events share a slot and are read per `ev`: `s` is a trade's size and an aggregate's
/// start, `c` an aggregate's close (a trade's `c` is its conditions array, kept as
/// text: [`Fields::conditions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Num {
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
pub(super) enum Str {
    Ev,
    Sym,
    Ticker,
    Status,
    Message,
}

pub(super) const NUMS: usize = Num::Val as usize + 1;
pub(super) const STRS: usize = Str::Message as usize + 1;

/// Where a key's value goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    /// Parsed into a number.
    Num(Num),
    /// Validated as a number and kept as text ([`RawInt`]).
    Raw(Num),
    /// A string.
    Str(Str),
}

impl Slot {
    #[inline]
    pub(super) fn bit(self) -> u32 {
        match self {
            Slot::Num(k) | Slot::Raw(k) => k.bit(),
            Slot::Str(k) => k.bit(),
        }
    }
}

impl Num {
    /// The key's bit in the [`Fields`] masks.
    #[inline]
    pub(super) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl Str {
    /// The key's bit in the [`Fields`] masks (after the numeric keys').
    #[inline]
    pub(super) fn bit(self) -> u32 {
        1 << (NUMS as u32 + self as u32)
    }
}

/// The known fields of the event being read, parsed once during the scan.
///
/// Values live in plain arrays and their state in bitmasks, so starting an event is
/// four integer stores and reading a field is a mask test and an array load; an absent
/// field is never read because its `present` bit is clear.
#[derive(Debug, Clone, Default)]
pub(super) struct Fields {
    /// Keys seen with a value of the right type.
    pub(super) present: u32,
    /// Keys seen with a value of the wrong type (a quote's `bp` as a string): reading
    /// one makes the event invalid.
    pub(super) wrong: u32,
    /// Numeric keys written as an integer that fits `i64`.
    pub(super) integral: u32,
    /// String keys with escapes (decoded on read).
    pub(super) escaped: u32,
    pub(super) num: [f64; NUMS],
    pub(super) int: [i64; NUMS],
    /// Text of [`Slot::Raw`] numbers, as byte offsets into the frame.
    pub(super) raw: [(u32, u32); NUMS],
    /// String bodies, between the quotes, as byte offsets into the frame.
    pub(super) text: [(u32, u32); STRS],
    /// A trade's `c` array, between the brackets, as byte offsets into the frame.
    pub(super) conds: Option<(u32, u32)>,
}

impl Fields {
    #[inline]
    pub(super) fn clear(&mut self) {
        self.present = 0;
        self.wrong = 0;
        self.integral = 0;
        self.escaped = 0;
        self.conds = None;
    }

    /// Keeps the body of a `c` array (between its brackets).
    #[inline]
    pub(super) fn set_conditions(&mut self, start: usize, end: usize) {
        self.conds = Some((start as u32, end as u32));
    }

    /// A trade's condition codes as they were written.
    #[inline]
    pub(super) fn conditions<'s>(&self, frame: &'s str) -> RawList<'s> {
        let body = self
            .conds
            .and_then(|(start, end)| frame.as_bytes().get(start as usize..end as usize));
        RawList(body)
    }

    #[inline]
    pub(super) fn has(&self, bit: u32) -> bool {
        self.present & bit != 0
    }

    #[inline]
    pub(super) fn set_num(&mut self, key: Num, n: Number) {
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
    pub(super) fn set_str(&mut self, key: Str, start: usize, end: usize, escaped: bool) {
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
    pub(super) fn set_raw(&mut self, key: Num, start: usize, end: usize) {
        self.raw[key as usize] = (start as u32, end as u32);
        self.present |= key.bit();
        self.wrong &= !key.bit();
    }

    /// A [`Slot::Raw`] number's text.
    #[inline]
    pub(super) fn raw<'s>(&self, frame: &'s str, key: Num) -> RawInt<'s> {
        if !self.has(key.bit()) {
            return RawInt(None);
        }
        let (start, end) = self.raw[key as usize];
        RawInt(frame.as_bytes().get(start as usize..end as usize))
    }

    /// `null`: the key counts as absent.
    #[inline]
    pub(super) fn set_null(&mut self, bit: u32) {
        self.present &= !bit;
        self.wrong &= !bit;
    }

    #[inline]
    pub(super) fn set_wrong(&mut self, bit: u32) {
        self.present &= !bit;
        self.wrong |= bit;
    }

    /// A finite number; `None` if absent, of the wrong type or not finite.
    #[inline]
    pub(super) fn f64(&self, key: Num) -> Option<f64> {
        let v = self.num[key as usize];
        (self.has(key.bit()) && v.is_finite()).then_some(v)
    }

    /// A number written as an integer that fits `i64`.
    #[inline]
    pub(super) fn i64(&self, key: Num) -> Option<i64> {
        (self.integral & self.present & key.bit() != 0).then(|| self.int[key as usize])
    }

    /// A non-negative whole number; `17.0` counts, `17.5` and `-1` do not.
    #[inline]
    pub(super) fn count(&self, key: Num) -> Option<u64> {
        if let Some(i) = self.i64(key) {
            return u64::try_from(i).ok();
        }
        count_from_f64(self.f64(key)?)
    }

    /// A timestamp of any unit, in Unix ms.
    #[inline]
    pub(super) fn ts_ms(&self, key: Num) -> Option<i64> {
        let raw = self
            .i64(key)
            .or_else(|| self.count(key).and_then(|c| i64::try_from(c).ok()))?;
        unix_ms_from_any(raw)
    }

    /// A string, borrowed from the frame when it has no escapes, else decoded into
    /// `scratch`.
    #[inline]
    pub(super) fn str<'s>(
        &self,
        frame: &'s str,
        key: Str,
        scratch: &'s mut String,
    ) -> Option<&'s str> {
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

/// A key of up to eight bytes packed into an integer, so dispatching on it is one
/// integer match instead of a chain of slice comparisons.
pub(super) const fn pack(key: &[u8]) -> u64 {
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
pub(super) fn slot(key: u64) -> Option<Slot> {
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
