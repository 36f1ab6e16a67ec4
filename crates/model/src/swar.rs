//! Eight bytes at a time: the hot path's text scanning without a branch per byte.
//!
//! A quote event is ~125 bytes of digits and short strings, and its OCC symbol 21
//! more; scanning them byte by byte costs a hard-to-predict loop exit per number, per
//! string and per root length (SPX and SPXW alternate at random). These helpers load
//! eight bytes into a `u64` (little-endian: the first byte in the lowest lane) and
//! answer "how many leading digits", "where is the first quote, backslash or control
//! byte", and "what number do these digits spell" with a few arithmetic operations.
//!
//! Every helper is exact for inputs that are valid UTF-8 (no byte above 0xF4), which
//! the parser guarantees by taking `&str`. Lanes past the first match may hold false
//! positives from borrow propagation; only the first match is ever used.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const LOWS7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// The eight bytes at `pos`, if there are eight (little-endian: `bytes[pos]` is the
/// lowest lane).
#[inline]
pub fn load8(bytes: &[u8], pos: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(pos..pos + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// 0x80 in the lowest lane of `x` that is zero (higher lanes may be flagged too).
#[inline]
fn zero_lanes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Index of the first flagged lane, or 8.
#[inline]
fn first(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// How many of the eight bytes, from the first, are ASCII digits.
#[inline]
pub fn digit_run(x: u64) -> usize {
    // With y = byte ^ 0x30, a byte is a digit iff y <= 9. Adding 0x76 to y's low seven
    // bits reaches 0x80 exactly when they exceed 9 and never carries out of the lane
    // (0x7F + 0x76 < 0x100); or-ing y flags the lanes whose high bit was already set.
    // Exact for every byte, not only UTF-8.
    let y = x ^ 0x3030_3030_3030_3030;
    first((((y & LOWS7) + 0x7676_7676_7676_7676) | y) & HIGHS)
}

/// Index of the first `"`, `\` or control byte (< 0x20) among the eight, or 8.
#[inline]
pub fn string_stop(x: u64) -> usize {
    let quote = zero_lanes(x ^ 0x2222_2222_2222_2222);
    let backslash = zero_lanes(x ^ 0x5C5C_5C5C_5C5C_5C5C);
    let control = x.wrapping_sub(0x2020_2020_2020_2020) & !x & HIGHS;
    first(quote | backslash | control)
}

/// The value of the first `n` (1..=8) bytes of `x`, which are ASCII digits.
#[inline]
pub fn digits_value(x: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    // Move the n digits to the top lanes (zero lanes below read as leading zeros),
    // then combine pairs, quads and octets of digits with three multiplications.
    let v = x.wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - n));
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF
}

/// How many of the eight bytes, from the first, are ASCII uppercase letters.
#[inline]
pub fn upper_run(x: u64) -> usize {
    // Lanes at or above 0x80 are not letters; below it, adding 0x3F reaches 0x80 from
    // 'A' (0x41) and adding 0x25 stays below it up to 'Z' (0x5A). No lane carries:
    // every lane is below 0x80 when the adds are done.
    let ascii = !x & HIGHS;
    let low = x & LOWS7;
    let upper = (low.wrapping_add(0x3F3F_3F3F_3F3F_3F3F)
        & !low.wrapping_add(0x2525_2525_2525_2525))
        & ascii
        & HIGHS;
    first(!upper & HIGHS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(s: &[u8]) -> u64 {
        let mut b = [b' '; 8];
        b[..s.len()].copy_from_slice(s);
        u64::from_le_bytes(b)
    }

    #[test]
    fn runs_stops_and_values() {
        assert_eq!(digit_run(word(b"12345678")), 8);
        assert_eq!(digit_run(word(b"9.71,")), 1);
        assert_eq!(digit_run(word(b",")), 0);
        assert_eq!(
            digit_run(word(b"0123/:9")),
            4,
            "'/' and ':' border the digits"
        );
        assert_eq!(string_stop(word(b"O:SPXW26")), 8);
        assert_eq!(string_stop(word(b"AB\",\"x")), 2);
        assert_eq!(string_stop(word(b"a\\n")), 1);
        assert_eq!(string_stop(word(b"ab\x1fc")), 2);
        assert_eq!(digits_value(word(b"12345678"), 8), 12_345_678);
        assert_eq!(digits_value(word(b"0971,"), 4), 971);
        assert_eq!(digits_value(word(b"7"), 1), 7);
    }

    proptest! {
        #[test]
        fn upper_run_agrees_with_a_byte_loop(bytes in proptest::collection::vec(any::<u8>(), 8)) {
            let x = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            prop_assert_eq!(upper_run(x), bytes.iter().take_while(|b| b.is_ascii_uppercase()).count());
        }

        #[test]
        fn digit_run_is_exact_on_any_bytes(bytes in proptest::collection::vec(prop_oneof![any::<u8>(), b'0'..=b'9'], 8)) {
            let x = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            prop_assert_eq!(digit_run(x), bytes.iter().take_while(|b| b.is_ascii_digit()).count());
        }

        #[test]
        fn agree_with_byte_loops(bytes in proptest::collection::vec(prop_oneof![0x20u8..0x7F, Just(b'"'), Just(b'\\'), 0u8..0x20, b'0'..=b'9'], 8)) {
            let x = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            let run = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            prop_assert_eq!(digit_run(x), run);
            let stop = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(8);
            prop_assert_eq!(string_stop(x), stop);
            if run > 0 {
                let want: u64 = std::str::from_utf8(&bytes[..run]).unwrap().parse().unwrap();
                prop_assert_eq!(digits_value(x, run), want);
            }
        }

        #[test]
        fn exact_on_multibyte_utf8(s in "[0-9a\"\\\\é€😀]{8,12}") {
            let bytes = s.as_bytes();
            let x = load8(bytes, 0).unwrap();
            let head = &bytes[..8];
            prop_assert_eq!(digit_run(x), head.iter().take_while(|b| b.is_ascii_digit()).count());
            prop_assert_eq!(string_stop(x), head.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(8));
        }
    }
}
