//! Short ASCII names stored inline, so contract keys and geometry are `Copy` and
//! comparing or hashing them never chases a pointer.
//!
//! An OCC root is at most six characters; an underlying symbol such as `SPX` or `BRK.B`
//! at most [`Underlying::MAX_LEN`]. Both are validated once, at construction.

use std::fmt;

use serde::{Serialize, Serializer};
use thiserror::Error;

/// Why a string is not a valid [`Root`] or [`Underlying`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TickerError {
    /// The name was empty.
    #[error("empty {kind}")]
    Empty {
        /// `"root"` or `"underlying"`.
        kind: &'static str,
    },
    /// The name was longer than the kind allows.
    #[error("{kind} {name:?} is longer than {max} characters")]
    TooLong {
        /// `"root"` or `"underlying"`.
        kind: &'static str,
        /// The offending name, lossily decoded.
        name: String,
        /// The limit.
        max: usize,
    },
    /// The name contains a character the kind does not allow.
    #[error("{kind} {name:?} has an invalid character at position {position}")]
    BadChar {
        /// `"root"` or `"underlying"`.
        kind: &'static str,
        /// The offending name, lossily decoded.
        name: String,
        /// Zero-based byte position of the first bad character.
        position: usize,
    },
}

/// Fixed-capacity ASCII storage; unused bytes are zero so derived `Eq`/`Ord`/`Hash`
/// agree with the string's own.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct InlineAscii<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

/// What is wrong with a name, without the name (no allocation).
#[derive(Debug, Clone, Copy)]
enum Problem {
    Empty,
    TooLong,
    BadChar(usize),
}

impl<const N: usize> InlineAscii<N> {
    /// Validates and stores `s`; the error names no string, so this never allocates.
    #[inline]
    fn build(s: &[u8], valid: impl Fn(usize, u8) -> bool) -> Result<Self, Problem> {
        if s.is_empty() {
            return Err(Problem::Empty);
        }
        if s.len() > N {
            return Err(Problem::TooLong);
        }
        if let Some(position) = s.iter().enumerate().position(|(i, &b)| !valid(i, b)) {
            return Err(Problem::BadChar(position));
        }
        // A byte loop rather than `copy_from_slice`: at most eight bytes, and a call to
        // `memcpy` for a variable length costs more than the copy.
        let mut bytes = [0u8; N];
        for (dst, src) in bytes.iter_mut().zip(s) {
            *dst = *src;
        }
        Ok(Self {
            bytes,
            len: s.len() as u8,
        })
    }

    fn new(
        s: &[u8],
        kind: &'static str,
        valid: impl Fn(usize, u8) -> bool,
    ) -> Result<Self, TickerError> {
        Self::build(s, valid).map_err(|problem| {
            let name = || String::from_utf8_lossy(s).into_owned();
            match problem {
                Problem::Empty => TickerError::Empty { kind },
                Problem::TooLong => TickerError::TooLong {
                    kind,
                    name: name(),
                    max: N,
                },
                Problem::BadChar(position) => TickerError::BadChar {
                    kind,
                    name: name(),
                    position,
                },
            }
        })
    }

    fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`), so this cannot fail;
        // an empty string is the impossible fallback rather than a panic.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// An OCC option root: `SPX`, `SPXW`, `NDXP`, or an adjusted equity root like `AAPL1`.
///
/// One to six characters: uppercase letters, with an optional single trailing digit
/// (Massive: "allow a trailing digit" for adjusted roots).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Root(InlineAscii<6>);

impl Root {
    /// Longest root OCC allows.
    pub const MAX_LEN: usize = 6;

    /// Validates and stores a root.
    pub fn new(s: &str) -> Result<Self, TickerError> {
        Self::from_bytes(s.as_bytes())
    }

    /// As [`Root::new`], from bytes (the frame parser's input).
    pub fn from_bytes(s: &[u8]) -> Result<Self, TickerError> {
        InlineAscii::new(s, "root", Self::valid_at(s.len())).map(Self)
    }

    /// A root from the first `len` (1..=6) bytes of an eight-byte little-endian word,
    /// validated without a loop; `None` if they are not a valid root. The OCC parser's
    /// hot path: never allocates.
    #[inline]
    pub(crate) fn from_word(word: u64, len: usize) -> Option<Self> {
        if !(1..=Self::MAX_LEN).contains(&len) {
            return None;
        }
        let letters = crate::swar::upper_run(word);
        let last = word.to_le_bytes()[len - 1];
        if letters < len && !(len > 1 && letters == len - 1 && last.is_ascii_digit()) {
            return None;
        }
        let kept = (word & (u64::MAX >> (64 - 8 * len))).to_le_bytes();
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&kept[..6]);
        Some(Self(InlineAscii {
            bytes,
            len: len as u8,
        }))
    }

    /// Uppercase letters, and a digit only as the last of at least two characters.
    fn valid_at(len: usize) -> impl Fn(usize, u8) -> bool {
        let last = len.saturating_sub(1);
        move |i, b| b.is_ascii_uppercase() || (i == last && i > 0 && b.is_ascii_digit())
    }

    /// The root as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the root ends in a digit, i.e. is an adjusted (non-standard) series.
    pub fn is_adjusted(&self) -> bool {
        self.as_str()
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_digit)
    }

    /// The root packed into the low 48 bits of a `u64` (for compact keys).
    pub(crate) fn packed(&self) -> u64 {
        let [a, b, c, d, e, f] = self.0.bytes;
        u64::from_be_bytes([0, 0, a, b, c, d, e, f])
    }
}

/// The underlying an option is written on, as chainboard names it: `SPX`, `NDX`, `SPY`.
///
/// One to eight characters: uppercase letters, digits and `.` (class shares such as
/// `BRK.B`), starting with a letter. Massive's `I:` index prefix is not part of it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Underlying(InlineAscii<8>);

impl Underlying {
    /// Longest underlying symbol accepted.
    pub const MAX_LEN: usize = 8;

    /// Validates and stores an underlying symbol.
    pub fn new(s: &str) -> Result<Self, TickerError> {
        InlineAscii::new(s.as_bytes(), "underlying", |i, b| {
            b.is_ascii_uppercase() || (i > 0 && (b.is_ascii_digit() || b == b'.'))
        })
        .map(Self)
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

macro_rules! text_impls {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.as_str())
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = TickerError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}
text_impls!(Root);
text_impls!(Underlying);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_accept_letters_and_one_trailing_digit() {
        for ok in ["SPX", "SPXW", "NDXP", "AAPL1", "A", "ABCDEF"] {
            assert_eq!(Root::new(ok).unwrap().as_str(), ok);
        }
        assert!(Root::new("AAPL1").unwrap().is_adjusted());
        assert!(!Root::new("SPXW").unwrap().is_adjusted());
    }

    #[test]
    fn roots_reject_bad_names() {
        assert_eq!(Root::new(""), Err(TickerError::Empty { kind: "root" }));
        assert!(matches!(
            Root::new("ABCDEFG"),
            Err(TickerError::TooLong { max: 6, .. })
        ));
        assert!(matches!(
            Root::new("1SPX"),
            Err(TickerError::BadChar { position: 0, .. })
        ));
        assert!(matches!(
            Root::new("SP1X"),
            Err(TickerError::BadChar { position: 2, .. })
        ));
        assert!(matches!(
            Root::new("spx"),
            Err(TickerError::BadChar { position: 0, .. })
        ));
        assert!(matches!(
            Root::new("1"),
            Err(TickerError::BadChar { position: 0, .. })
        ));
    }

    #[test]
    fn underlyings_allow_class_shares() {
        assert_eq!(Underlying::new("BRK.B").unwrap().to_string(), "BRK.B");
        assert!(Underlying::new("I:SPX").is_err());
        assert!(Underlying::new(".SPX").is_err());
    }

    proptest::proptest! {
        /// The OCC parser's word-at-a-time root check accepts exactly what the
        /// byte-at-a-time one does.
        #[test]
        fn roots_from_words_match_roots_from_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 8), len in 1usize..=6) {
            let word = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            let from_word = Root::from_word(word, len);
            let from_bytes = Root::from_bytes(&bytes[..len]).ok();
            proptest::prop_assert_eq!(from_word, from_bytes);
        }

        #[test]
        fn roots_from_words_accept_every_valid_root(root in "[A-Z]{1,5}[0-9]?", pad in "[0-9A-Z:]{8}") {
            let text = format!("{root}{pad}");
            let word = u64::from_le_bytes(text.as_bytes()[..8].try_into().unwrap());
            proptest::prop_assert_eq!(Root::from_word(word, root.len()), Some(Root::new(&root).unwrap()));
        }
    }

    #[test]
    fn ordering_matches_text_ordering() {
        let mut roots: Vec<Root> = ["SPXW", "NDX", "SPX", "NDXP"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        roots.sort();
        let names: Vec<&str> = roots.iter().map(Root::as_str).collect();
        assert_eq!(names, ["NDX", "NDXP", "SPX", "SPXW"]);
    }
}
