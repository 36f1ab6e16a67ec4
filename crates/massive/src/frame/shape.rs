//! Learned event layouts: once the general reader has read an event, its key layout
//! is remembered ([`Shape`]), and following events in the same layout are read by
//! comparing each key with its punctuation in one masked eight-byte load ([`Shapes`]).

use super::cursor::Cursor;
use super::fields::{Fields, Slot};

/// Most keys an event shape can hold (a quote has ten).
pub(super) const SHAPE_KEYS: usize = 12;

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
pub(super) struct Shape {
    pub(super) usable: bool,
    pub(super) len: usize,
    pub(super) literal: [u64; SHAPE_KEYS],
    /// Selects the literal's bytes from an eight-byte load.
    pub(super) mask: [u64; SHAPE_KEYS],
    pub(super) literal_len: [u8; SHAPE_KEYS],
    pub(super) slot: [Option<Slot>; SHAPE_KEYS],
}

impl Shape {
    /// An empty shape to record into. Once marked unusable (a key it cannot hold), it
    /// stays unusable.
    pub(super) fn open() -> Self {
        Self {
            usable: true,
            ..Self::default()
        }
    }

    /// Adds the next key the general parser read (`packed`: the bare key, packed).
    pub(super) fn record(&mut self, slot: Option<Slot>, packed: Option<u64>) {
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
/// [`super::fast`] readers do not take (keys absent or reordered, say). A trade's conditions
/// array (`c: [..]`) has no typed slot, so such trades take the general path.
#[derive(Debug, Default)]
pub(super) struct Shapes {
    pub(super) known: [Shape; 2],
    /// Which of `known` the next learned shape replaces.
    pub(super) next: usize,
}

impl Shapes {
    /// Reads the event at the cursor through a known shape; `false` (cursor position
    /// unspecified) when no shape matches and the general parser must read it.
    #[inline]
    pub(super) fn parse(&self, cur: &mut Cursor<'_>, fields: &mut Fields) -> bool {
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
    pub(super) fn learn(&mut self, shape: Shape) {
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
