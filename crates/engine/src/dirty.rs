//! Which contracts changed since a consumer last looked, and which of their fields.
//!
//! The models tick at 1 Hz and must cost O(changed), not O(board): marking is O(1)
//! (a mask per slot, and the slot appended to a list the first time it turns dirty) and
//! draining walks only that list. Both buffers are sized to the board when the epoch
//! begins, so marking never allocates.

use chainboard_model::FieldMask;

use crate::board::Slot;

/// Changed contracts with their changed fields, drained in O(changed).
#[derive(Debug, Clone)]
pub struct DirtySet {
    masks: Vec<FieldMask>,
    slots: Vec<Slot>,
}

impl DirtySet {
    /// An empty set for a board of `len` contracts.
    pub fn new(len: usize) -> Self {
        Self {
            masks: vec![FieldMask::NONE; len],
            slots: Vec::with_capacity(len),
        }
    }

    /// Records that `mask` changed in `slot`; an empty mask records nothing.
    #[inline]
    pub fn mark(&mut self, slot: Slot, mask: FieldMask) {
        if mask.is_empty() {
            return;
        }
        let m = &mut self.masks[slot.index()];
        if m.is_empty() {
            self.slots.push(slot);
        }
        *m |= mask;
    }

    /// How many contracts are dirty.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Calls `f` once per dirty contract, in the order they first changed, and clears
    /// the set.
    pub fn drain(&mut self, mut f: impl FnMut(Slot, FieldMask)) {
        for slot in self.slots.drain(..) {
            let mask = std::mem::take(&mut self.masks[slot.index()]);
            f(slot, mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Slot;

    fn slot(i: u32) -> Slot {
        Slot::for_test(i)
    }

    #[test]
    fn marks_merge_per_slot_and_drain_in_first_change_order() {
        let mut d = DirtySet::new(8);
        d.mark(slot(5), FieldMask::BID);
        d.mark(slot(2), FieldMask::ASK);
        d.mark(slot(5), FieldMask::QUOTE_TS);
        d.mark(slot(7), FieldMask::NONE);
        assert_eq!(d.len(), 2);
        let mut seen = Vec::new();
        d.drain(|s, m| seen.push((s.index(), m)));
        assert_eq!(
            seen,
            [
                (5, FieldMask::BID | FieldMask::QUOTE_TS),
                (2, FieldMask::ASK)
            ]
        );
        assert!(d.is_empty());
        d.mark(slot(5), FieldMask::OI);
        let mut again = Vec::new();
        d.drain(|s, m| again.push((s.index(), m)));
        assert_eq!(again, [(5, FieldMask::OI)], "drain cleared the old mask");
    }
}
