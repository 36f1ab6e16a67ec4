//! One epoch: a frozen board plus the live state painted on it.

use std::sync::Arc;

use chainboard_model::{
    AggregateUpdate, ContractGeometry, ContractRecord, ContractState, EpochId, EpochReason,
    FieldMask, QuoteUpdate, TradeUpdate,
};

use crate::board::{Board, Slot};
use crate::dirty::DirtySet;
use crate::flow::Flow;

/// A frozen board of contracts from one photo, and the live state painted on it.
///
/// Nothing of an earlier epoch is visible here — the state vector is built from the
/// photo that started this epoch alone — except the session's customer flow of the
/// contracts both boards list ([`crate::flow`] says why).
#[derive(Debug)]
pub struct Epoch {
    id: EpochId,
    reason: EpochReason,
    previous: Option<EpochId>,
    started_at_ms: i64,
    board: Arc<Board>,
    states: Vec<ContractState>,
    underlying_value: Option<(f64, i64)>,
    /// The default consumer's changes (the store's write-behind).
    dirty: DirtySet,
    /// One more set per consumer registered with [`crate::Engine::add_dirty_consumer`]
    /// (the models): each drains on its own cadence and must see every change.
    more_dirty: Vec<DirtySet>,
}

/// Which of an epoch's dirty sets a consumer drains.
///
/// Consumers drain at different cadences (the store every 200 ms, the models every
/// second), so each has its own set; marking costs one more O(1) step per consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirtyConsumer(pub(crate) u8);

impl DirtyConsumer {
    /// The set every engine has.
    pub const DEFAULT: Self = Self(0);
}

impl Epoch {
    pub(crate) fn new(
        id: EpochId,
        reason: EpochReason,
        previous: Option<EpochId>,
        started_at_ms: i64,
        board: Board,
        states: Vec<ContractState>,
        underlying_value: Option<(f64, i64)>,
    ) -> Self {
        debug_assert_eq!(board.len(), states.len());
        let dirty = DirtySet::new(board.len());
        Self {
            id,
            reason,
            previous,
            started_at_ms,
            board: Arc::new(board),
            states,
            underlying_value,
            dirty,
            more_dirty: Vec::new(),
        }
    }

    /// The epoch's id.
    pub fn id(&self) -> EpochId {
        self.id
    }

    /// Why it began.
    pub fn reason(&self) -> EpochReason {
        self.reason
    }

    /// The epoch it replaced, if any.
    pub fn previous(&self) -> Option<EpochId> {
        self.previous
    }

    /// When it began, Unix ms (the engine's clock, not the photo's).
    pub fn started_at_ms(&self) -> i64 {
        self.started_at_ms
    }

    /// The frozen board, shareable with readers on other threads.
    pub fn board(&self) -> &Arc<Board> {
        &self.board
    }

    /// Number of contracts on the board.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the board is empty (never true for an epoch the engine started).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The live state of a contract.
    pub fn state(&self, slot: Slot) -> &ContractState {
        &self.states[slot.index()]
    }

    /// Every state, in slot order (parallel to [`Board::contracts`]).
    pub fn states(&self) -> &[ContractState] {
        &self.states
    }

    /// Geometry and state of every contract, in key order.
    pub fn contracts(&self) -> impl ExactSizeIterator<Item = (&ContractGeometry, &ContractState)> {
        self.board.contracts().iter().zip(self.states.iter())
    }

    /// A contract as published.
    pub fn record(&self, slot: Slot) -> ContractRecord {
        ContractRecord::new(self.board.geometry(slot), self.state(slot))
    }

    /// The underlying's latest value and its time (Unix ms).
    pub fn underlying_value(&self) -> Option<(f64, i64)> {
        self.underlying_value
    }

    /// How many contracts changed since the default consumer's last drain.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// How many contracts changed since `consumer`'s last drain.
    pub fn dirty_len_for(&self, consumer: DirtyConsumer) -> usize {
        self.dirty_set(consumer).map_or(0, DirtySet::len)
    }

    /// Hands each contract changed since the default consumer's last drain to `f`,
    /// with what changed, and clears the set. Costs O(changed).
    pub fn drain_dirty(
        &mut self,
        f: impl FnMut(Slot, FieldMask, &ContractGeometry, &ContractState),
    ) {
        self.drain_dirty_for(DirtyConsumer::DEFAULT, f);
    }

    /// [`Epoch::drain_dirty`] for `consumer`'s own set; other consumers' sets are
    /// untouched.
    pub fn drain_dirty_for(
        &mut self,
        consumer: DirtyConsumer,
        mut f: impl FnMut(Slot, FieldMask, &ContractGeometry, &ContractState),
    ) {
        let (board, states) = (&self.board, &self.states);
        let set = match consumer.0 {
            0 => Some(&mut self.dirty),
            n => self.more_dirty.get_mut(usize::from(n) - 1),
        };
        if let Some(set) = set {
            set.drain(|slot, mask| f(slot, mask, board.geometry(slot), &states[slot.index()]));
        }
    }

    fn dirty_set(&self, consumer: DirtyConsumer) -> Option<&DirtySet> {
        match consumer.0 {
            0 => Some(&self.dirty),
            n => self.more_dirty.get(usize::from(n) - 1),
        }
    }

    /// Adds an empty set for a consumer registered while this epoch is live.
    pub(crate) fn add_dirty_set(&mut self) {
        self.more_dirty.push(DirtySet::new(self.states.len()));
    }

    #[inline]
    fn mark(&mut self, slot: Slot, mask: FieldMask) {
        self.dirty.mark(slot, mask);
        for set in &mut self.more_dirty {
            set.mark(slot, mask);
        }
    }

    #[inline]
    pub(crate) fn apply_quote(&mut self, slot: Slot, q: &QuoteUpdate) {
        let mask = self.states[slot.index()].apply_quote(q);
        self.mark(slot, mask);
    }

    #[inline]
    pub(crate) fn apply_trade(&mut self, slot: Slot, t: &TradeUpdate, flow: &mut Flow) {
        let state = &mut self.states[slot.index()];
        let mask = state.apply_trade(t) | flow.on_trade(state, t);
        self.mark(slot, mask);
    }

    /// Takes over `old`'s session flow for every contract this board also lists.
    pub(crate) fn carry_flow_from(&mut self, old: &Epoch) {
        for (slot, g) in self.board.contracts().iter().enumerate() {
            if let Some(from) = old.board.slot(&g.key) {
                self.states[slot].flow = old.states[from.index()].flow;
            }
        }
    }

    /// Starts every contract's flow at zero (a new session), marking those that had
    /// any.
    pub(crate) fn reset_flow(&mut self) {
        for i in 0..self.states.len() {
            if self.states[i].flow != chainboard_model::ContractFlow::default() {
                self.states[i].flow.reset();
                self.mark(crate::board::slot_at(i), FieldMask::FLOW);
            }
        }
    }

    #[inline]
    pub(crate) fn apply_aggregate(&mut self, slot: Slot, a: &AggregateUpdate) {
        let mask = self.states[slot.index()].apply_aggregate(a);
        self.mark(slot, mask);
    }

    /// Refreshes every contract from a same-geometry photo whose states are in slot
    /// order. Returns how many contracts changed.
    pub(crate) fn refresh(&mut self, photo: &[ContractState], photo_ts_ms: i64) -> usize {
        let mut changed = 0;
        for (i, fresh) in photo.iter().enumerate().take(self.states.len()) {
            let mask = self.states[i].refresh_from_photo(fresh, photo_ts_ms);
            if !mask.is_empty() {
                changed += 1;
                self.mark(crate::board::slot_at(i), mask);
            }
        }
        changed
    }

    /// Takes a newer underlying value; an older one is ignored.
    pub(crate) fn set_underlying_value(&mut self, value: f64, ts_ms: i64) -> bool {
        if self.underlying_value.is_some_and(|(_, t)| t > ts_ms) {
            return false;
        }
        self.underlying_value = Some((value, ts_ms));
        true
    }
}
