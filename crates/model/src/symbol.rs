//! Massive's option symbols: `O:` + the OCC/OSI symbol, parsed into a [`ContractKey`].
//!
//! `O:SPXW261124C06850000` is root `SPXW`, expiration 2026-11-24, a call, strike 6850.
//! The OCC part is the root (1–6 characters) followed by a fixed 15-character suffix:
//! `YYMMDD`, `C`/`P`, and the strike × 1000 as eight digits. Because the suffix has a
//! fixed length, the root is everything between `O:` and the last 15 characters, which
//! is how adjusted roots with a trailing digit (`AAPL1`) stay unambiguous.
//!
//! Parsing is on the hot path (every WebSocket quote carries a symbol), so
//! [`ContractKey::parse`] works on borrowed bytes and never allocates on success.
//! Formatting is the exact inverse: `parse(s)?.to_string() == s` for every valid `s`.

use std::fmt;
use std::hash::{Hash, Hasher};

use jiff::civil::Date;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::swar;
use crate::ticker::{Root, TickerError};

/// Why a string is not a valid Massive option symbol. Carries the input so a log line
/// says which symbol was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SymbolError {
    /// The `O:` prefix is missing.
    #[error("option symbol {0:?} does not start with \"O:\"")]
    MissingPrefix(String),
    /// Too short or too long to hold a 1–6 character root and the 15-character suffix.
    #[error("option symbol {symbol:?} has length {len}; expected 18 to 23 characters")]
    BadLength {
        /// The input.
        symbol: String,
        /// Its length in bytes.
        len: usize,
    },
    /// There is no root between the prefix and the suffix.
    #[error("option symbol {0:?} has an empty root")]
    EmptyRoot(String),
    /// The root is not a valid OCC root.
    #[error("option symbol {symbol:?}: {source}")]
    BadRoot {
        /// The input.
        symbol: String,
        /// What is wrong with the root.
        source: TickerError,
    },
    /// The six date characters are not digits.
    #[error("option symbol {0:?} has a non-digit expiration")]
    NonDigitDate(String),
    /// The date digits do not form a real calendar date (e.g. `260230`).
    #[error("option symbol {0:?} has an impossible expiration date")]
    ImpossibleDate(String),
    /// The right is neither `C` nor `P`.
    #[error("option symbol {symbol:?} has right {right:?}; expected 'C' or 'P'")]
    BadRight {
        /// The input.
        symbol: String,
        /// The character found.
        right: char,
    },
    /// The eight strike characters are not digits.
    #[error("option symbol {0:?} has a non-digit strike")]
    NonDigitStrike(String),
    /// The strike after the right has other than eight digits.
    #[error("option symbol {symbol:?} has a {found}-digit strike; OCC strikes have 8 digits")]
    StrikeDigits {
        /// The input.
        symbol: String,
        /// How many digits follow the right.
        found: usize,
    },
    /// The strike is zero.
    #[error("option symbol {0:?} has a zero strike")]
    ZeroStrike(String),
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Right {
    /// A call: the right to buy.
    Call,
    /// A put: the right to sell.
    Put,
}

impl Right {
    /// The OCC letter, `C` or `P`.
    pub fn occ_letter(self) -> char {
        match self {
            Right::Call => 'C',
            Right::Put => 'P',
        }
    }

    /// The word Massive uses in `details.contract_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Call => "call",
            Right::Put => "put",
        }
    }
}

/// A strike price held exactly, in thousandths of a point, as OCC encodes it.
///
/// Floating-point strikes from REST are converted once, through [`Strike::from_points`],
/// which refuses values that do not sit on a 0.001 grid; equality and hashing are then
/// exact integer operations.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Strike(u32);

impl Strike {
    /// Largest strike the eight OCC digits can hold, in thousandths.
    pub const MAX_MILLI: u32 = 99_999_999;

    /// A strike from thousandths of a point; `None` if zero or beyond eight OCC digits.
    pub fn from_milli(milli: u32) -> Option<Self> {
        (milli > 0 && milli <= Self::MAX_MILLI).then_some(Self(milli))
    }

    /// A strike from points (`6850.0`); `None` unless it is positive, within range and
    /// a whole number of thousandths (to within float noise).
    pub fn from_points(points: f64) -> Option<Self> {
        if !points.is_finite() {
            return None;
        }
        let scaled = points * 1000.0;
        let rounded = scaled.round();
        if (scaled - rounded).abs() > 1e-6 * rounded.abs().max(1.0) {
            return None;
        }
        if !(1.0..=f64::from(Self::MAX_MILLI)).contains(&rounded) {
            return None;
        }
        Self::from_milli(rounded as u32)
    }

    /// Thousandths of a point, as in the OCC symbol.
    pub fn milli(self) -> u32 {
        self.0
    }

    /// The strike in index points.
    pub fn points(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl fmt::Display for Strike {
    /// Points without trailing zeros: `6850`, `6852.5`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Strike {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.points())
    }
}

/// The identity of one option contract: what the design calls its geometry key.
///
/// Two contracts are the same contract exactly when their keys are equal; an epoch's
/// board is a set of keys. The Massive ticker is a rendering of the key
/// ([`fmt::Display`]), not stored alongside it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContractKey {
    /// The OCC root (`SPXW`), which also fixes the settlement style.
    pub root: Root,
    /// Expiration date (the date in the symbol; settlement time depends on the root).
    pub expiration: Date,
    /// Call or put.
    pub right: Right,
    /// Strike price.
    pub strike: Strike,
}

/// Length of the OCC suffix after the root: `YYMMDD` + right + 8 strike digits.
const SUFFIX_LEN: usize = 15;
const PREFIX: &[u8] = b"O:";

impl ContractKey {
    /// Parses a Massive option ticker such as `O:SPXW261124C06850000`.
    ///
    /// Two-digit years are read as 2000–2099, as OCC symbols are used today.
    pub fn parse(symbol: &str) -> Result<Self, SymbolError> {
        Self::parse_bytes(symbol.as_bytes())
    }

    /// As [`ContractKey::parse`], from raw bytes; the frame parser calls this with a
    /// slice borrowed from the WebSocket frame.
    pub fn parse_bytes(s: &[u8]) -> Result<Self, SymbolError> {
        Self::parse_fields(s).map_err(|fail| fail.explain(s))
    }

    /// As [`ContractKey::parse_bytes`] without saying why a symbol is invalid, and
    /// so without allocating: the feed's hot path counts bad symbols and moves on.
    #[inline]
    pub fn try_parse_bytes(s: &[u8]) -> Option<Self> {
        Self::parse_fields(s).ok()
    }

    /// The parse itself, in straight-line code: the OCC part is at least 16 bytes, so
    /// the root, the date and the strike are each one eight-byte load, checked and
    /// converted without a loop (and without a branch on the root's length, which
    /// alternates between SPX and SPXW at random).
    #[inline]
    fn parse_fields(s: &[u8]) -> Result<Self, Fail> {
        let occ = s.strip_prefix(PREFIX).ok_or(Fail::MissingPrefix)?;
        if occ.len() == SUFFIX_LEN {
            return Err(Fail::EmptyRoot);
        }
        if occ.len() < SUFFIX_LEN || occ.len() > SUFFIX_LEN + Root::MAX_LEN {
            return Err(Fail::BadLength);
        }
        let root_len = occ.len() - SUFFIX_LEN;
        let (Some(head), Some(date), Some(strike)) = (
            swar::load8(occ, 0),
            swar::load8(occ, root_len),
            swar::load8(occ, root_len + 7),
        ) else {
            return Err(Fail::BadLength);
        };
        let root = Root::from_word(head, root_len).ok_or(Fail::BadRoot)?;
        // `YYMMDD` then the right: exactly six digits lead the date word.
        if swar::digit_run(date) < 6 {
            return Err(Fail::NonDigitDate);
        }
        let yymmdd = swar::digits_value(date, 6);
        let (yy, mm, dd) = (yymmdd / 10_000, (yymmdd / 100) % 100, yymmdd % 100);
        let expiration =
            Date::new(2000 + yy as i16, mm as i8, dd as i8).map_err(|_| Fail::ImpossibleDate)?;
        let right = match occ[root_len + 6] {
            b'C' => Right::Call,
            b'P' => Right::Put,
            _ => return Err(Fail::BadRight),
        };
        if swar::digit_run(strike) != 8 {
            return Err(Fail::NonDigitStrike);
        }
        let strike =
            Strike::from_milli(swar::digits_value(strike, 8) as u32).ok_or(Fail::ZeroStrike)?;
        Ok(Self {
            root,
            expiration,
            right,
            strike,
        })
    }

    /// A packed form: injective over valid keys, used for hashing in a single pass.
    fn packed(&self) -> (u64, u64) {
        let date = &self.expiration;
        let ymd = ((date.year() as u64) << 9) | ((date.month() as u64) << 5) | date.day() as u64;
        let right = matches!(self.right, Right::Put) as u64;
        (
            self.root.packed(),
            (ymd << 33) | (right << 32) | u64::from(self.strike.0),
        )
    }
}

/// Why a symbol failed to parse, without the symbol: cheap to return on the hot path,
/// turned into a descriptive [`SymbolError`] only when a caller wants one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    MissingPrefix,
    EmptyRoot,
    BadLength,
    BadRoot,
    NonDigitDate,
    ImpossibleDate,
    BadRight,
    NonDigitStrike,
    ZeroStrike,
}

impl Fail {
    /// The descriptive error for symbol `s`.
    fn explain(self, s: &[u8]) -> SymbolError {
        let symbol = String::from_utf8_lossy(s).into_owned();
        let occ = s.strip_prefix(PREFIX).unwrap_or(s);
        // A strike with the wrong number of digits shifts every field, so the first
        // failure is about the date or the root; name the real cause instead.
        let strike_digits = occ.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        if self != Fail::MissingPrefix
            && strike_digits != 8
            && strike_digits < occ.len()
            && matches!(occ[occ.len() - strike_digits - 1], b'C' | b'P')
        {
            return SymbolError::StrikeDigits {
                symbol,
                found: strike_digits,
            };
        }
        match self {
            Fail::MissingPrefix => SymbolError::MissingPrefix(symbol),
            Fail::EmptyRoot => SymbolError::EmptyRoot(symbol),
            Fail::BadLength => SymbolError::BadLength {
                symbol,
                len: s.len(),
            },
            Fail::BadRoot => {
                let root = &occ[..occ.len().saturating_sub(SUFFIX_LEN)];
                match Root::from_bytes(root) {
                    Err(source) => SymbolError::BadRoot { symbol, source },
                    Ok(_) => SymbolError::EmptyRoot(symbol), // unreachable: the root failed
                }
            }
            Fail::NonDigitDate => SymbolError::NonDigitDate(symbol),
            Fail::ImpossibleDate => SymbolError::ImpossibleDate(symbol),
            Fail::BadRight => {
                let right = occ
                    .get(occ.len().saturating_sub(9))
                    .map_or('?', |&b| char::from(b));
                SymbolError::BadRight { symbol, right }
            }
            Fail::NonDigitStrike => SymbolError::NonDigitStrike(symbol),
            Fail::ZeroStrike => SymbolError::ZeroStrike(symbol),
        }
    }
}

impl Hash for ContractKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (hi, lo) = self.packed();
        state.write_u64(hi);
        state.write_u64(lo);
    }
}

impl fmt::Display for ContractKey {
    /// The Massive ticker, e.g. `O:SPXW261124C06850000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.expiration;
        write!(
            f,
            "O:{}{:02}{:02}{:02}{}{:08}",
            self.root,
            d.year() % 100,
            d.month(),
            d.day(),
            self.right.occ_letter(),
            self.strike.0
        )
    }
}

impl fmt::Debug for ContractKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ContractKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for ContractKey {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_examples() {
        let cases = [
            (
                "O:SPXW261124C06850000",
                "SPXW",
                date(2026, 11, 24),
                Right::Call,
                6_850_000,
            ),
            (
                "O:SPX261218P05000000",
                "SPX",
                date(2026, 12, 18),
                Right::Put,
                5_000_000,
            ),
            (
                "O:NDXP261127C21000000",
                "NDXP",
                date(2026, 11, 27),
                Right::Call,
                21_000_000,
            ),
            (
                "O:SPY241220P00720000",
                "SPY",
                date(2024, 12, 20),
                Right::Put,
                720_000,
            ),
            (
                "O:AAPL1250117C00152500",
                "AAPL1",
                date(2025, 1, 17),
                Right::Call,
                152_500,
            ),
        ];
        for (s, root, exp, right, milli) in cases {
            let k = ContractKey::parse(s).unwrap();
            assert_eq!(k.root.as_str(), root, "{s}");
            assert_eq!(k.expiration, exp, "{s}");
            assert_eq!(k.right, right, "{s}");
            assert_eq!(k.strike.milli(), milli, "{s}");
            assert_eq!(k.to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_symbols_with_the_reason() {
        type Check = fn(&SymbolError) -> bool;
        let cases: [(&str, Check); 13] = [
            ("SPXW261124C06850000", |e| {
                matches!(e, SymbolError::MissingPrefix(_))
            }),
            ("o:SPXW261124C06850000", |e| {
                matches!(e, SymbolError::MissingPrefix(_))
            }),
            ("O:261124C06850000", |e| {
                matches!(e, SymbolError::EmptyRoot(_))
            }),
            ("O:SPXW261124C0685000", |e| {
                matches!(e, SymbolError::StrikeDigits { found: 7, .. })
            }),
            ("O:SP-X261124C06850000", |e| {
                matches!(e, SymbolError::BadRoot { .. })
            }),
            ("O:X1124C06850000", |e| {
                matches!(e, SymbolError::BadLength { .. })
            }),
            ("O:ABCDEFG261124C06850000", |e| {
                matches!(e, SymbolError::BadLength { .. })
            }),
            ("O:SPXW261324C06850000", |e| {
                matches!(e, SymbolError::ImpossibleDate(_))
            }),
            ("O:SPXW260230C06850000", |e| {
                matches!(e, SymbolError::ImpossibleDate(_))
            }),
            ("O:SPXW26112XC06850000", |e| {
                matches!(e, SymbolError::NonDigitDate(_))
            }),
            ("O:SPXW261124X06850000", |e| {
                matches!(e, SymbolError::BadRight { right: 'X', .. })
            }),
            ("O:SPXW261124C0685000A", |e| {
                matches!(e, SymbolError::NonDigitStrike(_))
            }),
            ("O:SPXW261124C00000000", |e| {
                matches!(e, SymbolError::ZeroStrike(_))
            }),
        ];
        for (s, check) in cases {
            let err = ContractKey::parse(s).unwrap_err();
            assert!(check(&err), "{s}: got {err:?}");
            assert!(err.to_string().contains(s), "error names the symbol: {err}");
        }
    }

    #[test]
    fn leap_days_are_real_dates() {
        assert!(ContractKey::parse("O:SPX280229C05000000").is_ok());
        assert!(ContractKey::parse("O:SPX270229C05000000").is_err());
    }

    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        for s in [
            "O:SPXé261124C0685000",
            "O:€€€€€€€€€€€€€€€€€€",
            "O:",
            "",
            "O:SPXW261124C068500€",
        ] {
            assert!(ContractKey::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn strikes_from_points() {
        assert_eq!(Strike::from_points(6850.0).unwrap().milli(), 6_850_000);
        assert_eq!(Strike::from_points(152.5).unwrap().milli(), 152_500);
        assert_eq!(Strike::from_points(0.1 + 0.2).unwrap().milli(), 300);
        assert!(Strike::from_points(0.0).is_none());
        assert!(Strike::from_points(-5.0).is_none());
        assert!(Strike::from_points(1.2345).is_none());
        assert!(Strike::from_points(f64::NAN).is_none());
        assert!(Strike::from_points(100_000.0).is_none());
        assert_eq!(Strike::from_points(6852.5).unwrap().to_string(), "6852.5");
        assert_eq!(Strike::from_milli(125).unwrap().to_string(), "0.125");
    }

    fn arb_key() -> impl Strategy<Value = ContractKey> {
        let root = ("[A-Z]{1,5}", proptest::option::of(0u8..=9)).prop_map(|(letters, digit)| {
            let s = match digit {
                Some(d) => format!("{letters}{d}"),
                None => letters,
            };
            Root::new(&s).unwrap()
        });
        (
            root,
            2000i16..2100,
            1i8..=12,
            1i8..=31,
            any::<bool>(),
            1u32..=Strike::MAX_MILLI,
        )
            .prop_filter_map("real date", |(root, y, m, d, call, milli)| {
                let expiration = Date::new(y, m, d).ok()?;
                let right = if call { Right::Call } else { Right::Put };
                Some(ContractKey {
                    root,
                    expiration,
                    right,
                    strike: Strike::from_milli(milli)?,
                })
            })
    }

    proptest! {
        #[test]
        fn symbol_round_trips(key in arb_key()) {
            let text = key.to_string();
            let back = ContractKey::parse(&text).unwrap();
            prop_assert_eq!(back, key);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn parse_never_panics(s in "(O:)?[A-Z0-9:]{0,25}") {
            prop_assert_eq!(ContractKey::try_parse_bytes(s.as_bytes()), ContractKey::parse(&s).ok());
            if let Ok(k) = ContractKey::parse(&s) {
                prop_assert_eq!(k.to_string(), s);
            }
        }

        #[test]
        fn any_bytes_parse_to_their_own_ticker_or_fail(tail in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut s = b"O:".to_vec();
            s.extend(tail);
            if let Some(key) = ContractKey::try_parse_bytes(&s) {
                let text = key.to_string();
                prop_assert_eq!(text.as_bytes(), &s[..]);
            }
            prop_assert_eq!(ContractKey::try_parse_bytes(&s).is_some(), ContractKey::parse_bytes(&s).is_ok());
        }

        #[test]
        fn packed_is_injective(a in arb_key(), b in arb_key()) {
            prop_assert_eq!(a == b, a.packed() == b.packed());
        }
    }
}
