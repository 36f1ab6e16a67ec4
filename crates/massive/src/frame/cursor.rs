//! The general JSON reader: a [`Cursor`] over one frame that reads an event's keys
//! into [`Fields`], skips what no event reads, and reports broken JSON as a
//! [`FrameErrorKind`] with its position. Numbers are converted exactly ([`Number`]) and
//! strings are kept as offsets, decoded only when an event reads one with escapes
//! ([`JsonStr`]).

use chainboard_model::swar;

use super::FrameErrorKind;
use super::fields::{Fields, Num, Slot, pack, slot};
use super::shape::Shape;

/// Nesting the skipper follows inside an event (Massive's deepest is `c: [..]`).
pub(super) const MAX_DEPTH: u32 = 32;

/// A parsed JSON number: always as `f64`, and as `i64` when it was written as an
/// integer that fits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Number {
    pub(super) value: f64,
    pub(super) int: Option<i64>,
}

impl Number {
    /// `±mantissa / 10^frac_digits`, exactly rounded: both operands are exact in `f64`
    /// (`mantissa < 2^53`, `frac_digits <= 22`), so the one division rounds correctly.
    /// An integer (no fraction digits) is also kept as `i64`.
    #[inline]
    pub(super) fn exact(mantissa: u64, frac_digits: usize, negative: bool) -> Self {
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
pub(super) const POW10_INT: [u64; 20] = {
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
pub(super) fn digits(bytes: &[u8], pos: &mut usize) -> (u64, usize) {
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
pub(super) struct JsonStr<'a> {
    pub(super) raw: &'a str,
    pub(super) escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// The string's value: borrowed when it has no escapes, else decoded into
    /// `scratch`. `None` for an escape that encodes a lone surrogate.
    #[inline]
    pub(super) fn decode<'s>(self, scratch: &'s mut String) -> Option<&'s str>
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

pub(super) fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    (0..4).try_fold(0u32, |acc, _| Some(acc * 16 + chars.next()?.to_digit(16)?))
}

/// Exact powers of ten for the fast number path (every one is representable).
pub(super) const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

pub(super) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    pub(super) fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// An error for byte `b`, which was just consumed: point at it.
    pub(super) fn unexpected(&mut self, b: u8) -> FrameErrorKind {
        self.pos -= 1;
        FrameErrorKind::UnexpectedByte(b)
    }

    #[inline]
    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    pub(super) fn finish(&mut self) -> Result<(), FrameErrorKind> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(FrameErrorKind::TrailingBytes)
        }
    }

    #[inline]
    pub(super) fn expect(&mut self, want: u8) -> Result<(), FrameErrorKind> {
        match self.next() {
            Some(b) if b == want => Ok(()),
            Some(b) => Err(self.unexpected(b)),
            None => Err(FrameErrorKind::UnexpectedEnd),
        }
    }

    /// Reads one event object (the cursor is on its `{`) into `fields`, parsing the
    /// values of known keys and validating the rest.
    #[inline]
    pub(super) fn parse_event_fields(
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
                (Some(slot), next) => {
                    let start = self.pos;
                    self.skip_value(0)?;
                    if matches!(slot, Slot::Num(Num::C)) && next == Some(b'[') {
                        // A trade's conditions: kept as text, read when asked for.
                        fields.set_conditions(start + 1, self.pos - 1);
                    }
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
    pub(super) fn parse_shaped(&mut self, shape: &Shape, fields: &mut Fields) -> bool {
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
    pub(super) fn key(&mut self) -> Result<Option<u64>, FrameErrorKind> {
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
    #[inline]
    pub(super) fn skip_value(&mut self, depth: u32) -> Result<(), FrameErrorKind> {
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

    #[inline]
    pub(super) fn literal(&mut self, word: &[u8]) -> Result<(), FrameErrorKind> {
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
    pub(super) fn scan_string(&mut self) -> Result<bool, FrameErrorKind> {
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
    pub(super) fn number(&mut self) -> Result<Number, FrameErrorKind> {
        self.number_short()
            .map_or_else(|| self.number_general(), Ok)
    }

    /// The common shapes in straight-line code: up to 15 integer digits (prices,
    /// sizes, 13-digit millisecond stamps) and up to 7 fraction digits, no exponent,
    /// no leading zero. `None` (cursor unmoved) for anything else, including errors,
    /// which [`Cursor::number_general`] then reports.
    #[inline]
    pub(super) fn number_short(&mut self) -> Option<Number> {
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
    #[inline]
    pub(super) fn number_general(&mut self) -> Result<Number, FrameErrorKind> {
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
    pub(super) fn skip_number(&mut self) -> Result<(), FrameErrorKind> {
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
    pub(super) fn skip_digits(&mut self) -> usize {
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
