//! The board: an epoch's frozen set of contracts and its O(1) slot index.
//!
//! Contracts are stored sorted by [`ContractKey`] in a boxed slice that is never
//! mutated after construction and is shared (`Arc`) by everyone who reads the epoch.
//! A contract's *slot* is its position in that order; mutable state lives in a parallel
//! `Vec` owned by the epoch. Lookup from a key hashes the key's packed form (two `u64`
//! writes into FxHash) rather than the ticker string.
//!
//! The live feed names contracts by ticker (`O:SPXW261124C06850000`), so the board
//! also indexes every contract by its ticker's bytes, packed into three words:
//! [`Board::ticker_slot`] finds a listed contract from the frame's text without
//! parsing the OCC fields (date validation, strike conversion) and hashing them again.
//! A ticker that is not on the board is no answer: the caller then parses it and takes
//! the key path, which tells a bad symbol from a geometry miss. The two indexes agree
//! because a key's ticker parses back to the key (`ContractKey`'s round trip).

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use chainboard_model::swar;
use chainboard_model::{ContractGeometry, ContractKey};
use rustc_hash::FxHashMap;

/// A contract's position on its board. Only meaningful for the board that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u32);

impl Slot {
    /// The slot as an index into the board's parallel arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// A slot minted without a board, for unit tests of slot-keyed structures.
    #[cfg(test)]
    pub(crate) fn for_test(index: u32) -> Self {
        Self(index)
    }
}

/// The slot at a position of a board's slot order (crate-internal: callers outside
/// get slots from [`Board::slot`]).
pub(crate) fn slot_at(i: usize) -> Slot {
    Slot(i as u32)
}

/// A frozen set of contracts with O(1) lookup by key.
#[derive(Debug)]
pub struct Board {
    contracts: Box<[ContractGeometry]>,
    index: FxHashMap<ContractKey, Slot>,
    by_ticker: FxHashMap<TickerWords, Slot>,
}

/// A ticker of 16 to 23 bytes (every option ticker is 18 to 23) as three
/// little-endian words, its length in the top byte of the last one, which the bytes
/// never reach.
#[derive(Debug, Clone, Copy, Eq)]
struct TickerWords([u64; 3]);

impl PartialEq for TickerWords {
    /// All three words at once: one test instead of a branch per word.
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let [a, b, c] = self.0;
        let [x, y, z] = other.0;
        (a ^ x) | (b ^ y) | (c ^ z) == 0
    }
}

impl TickerWords {
    #[inline]
    fn new(ticker: &[u8]) -> Option<Self> {
        let len = ticker.len();
        if !(16..=23).contains(&len) {
            return None;
        }
        let head = swar::load8(ticker, 0)?;
        let middle = swar::load8(ticker, 8)?;
        // The last eight bytes, shifted so that byte 16 is the lowest lane.
        let tail = swar::load8(ticker, len - 8)?
            .checked_shr(8 * (24 - len) as u32)
            .unwrap_or(0);
        Some(Self([head, middle, tail | (len as u64) << 56]))
    }
}

impl Hash for TickerWords {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        for w in self.0 {
            state.write_u64(w);
        }
    }
}

/// How two boards differ: what a new epoch added and what it removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeometryDiff {
    /// Contracts on the new board only, in key order.
    pub added: Vec<ContractKey>,
    /// Contracts on the old board only, in key order.
    pub removed: Vec<ContractKey>,
}

impl GeometryDiff {
    /// Whether the boards hold the same contracts.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

impl Board {
    /// Builds a board from contracts sorted by key with no duplicate keys.
    ///
    /// # Errors
    /// Returns the offending key if the input is unsorted or repeats a key; the engine
    /// sorts and deduplicates photos before calling this.
    pub fn from_sorted(contracts: Vec<ContractGeometry>) -> Result<Self, ContractKey> {
        if let Some(w) = contracts.windows(2).find(|w| w[0].key >= w[1].key) {
            return Err(w[1].key);
        }
        let mut index = FxHashMap::with_capacity_and_hasher(contracts.len(), Default::default());
        let mut by_ticker =
            FxHashMap::with_capacity_and_hasher(contracts.len(), Default::default());
        let mut ticker = String::new();
        for (i, g) in contracts.iter().enumerate() {
            index.insert(g.key, Slot(i as u32));
            ticker.clear();
            let _ = write!(ticker, "{}", g.key);
            if let Some(words) = TickerWords::new(ticker.as_bytes()) {
                by_ticker.insert(words, Slot(i as u32));
            }
        }
        Ok(Self {
            contracts: contracts.into_boxed_slice(),
            index,
            by_ticker,
        })
    }

    /// Number of contracts.
    pub fn len(&self) -> usize {
        self.contracts.len()
    }

    /// Whether the board has no contracts.
    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty()
    }

    /// The slot of a contract, if it is on this board.
    #[inline]
    pub fn slot(&self, key: &ContractKey) -> Option<Slot> {
        self.index.get(key).copied()
    }

    /// The slot of the contract whose Massive ticker is exactly `ticker`, if it is on
    /// this board. `None` says nothing more: [`Board::slot`] on the parsed key is the
    /// authority.
    #[inline]
    pub fn ticker_slot(&self, ticker: &[u8]) -> Option<Slot> {
        self.by_ticker.get(&TickerWords::new(ticker)?).copied()
    }

    /// The geometry in a slot issued by this board.
    pub fn geometry(&self, slot: Slot) -> &ContractGeometry {
        &self.contracts[slot.index()]
    }

    /// Every contract in key order; the position is the slot index.
    pub fn contracts(&self) -> &[ContractGeometry] {
        &self.contracts
    }

    /// Whether `keys` (sorted) is exactly this board's key set.
    pub fn has_keys(&self, keys: impl ExactSizeIterator<Item = ContractKey>) -> bool {
        keys.len() == self.contracts.len()
            && keys.zip(self.contracts.iter()).all(|(k, g)| k == g.key)
    }

    /// What `next` adds to and removes from this board, by one merge walk.
    pub fn diff(&self, next: &[ContractGeometry]) -> GeometryDiff {
        let mut diff = GeometryDiff::default();
        let (mut a, mut b) = (self.contracts.iter().peekable(), next.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.key == y.key => {
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.key < y.key => {
                    diff.removed.push(x.key);
                    a.next();
                }
                (Some(_), Some(y)) => {
                    diff.added.push(y.key);
                    b.next();
                }
                (Some(x), None) => {
                    diff.removed.push(x.key);
                    a.next();
                }
                (None, Some(y)) => {
                    diff.added.push(y.key);
                    b.next();
                }
                (None, None) => return diff,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainboard_model::RootMap;

    #[test]
    fn ticker_index_agrees_with_the_key_index() {
        let roots = RootMap::default();
        let tickers = [
            "O:SPX261218P05000000",
            "O:SPXW261124C06850000",
            "O:SPXW261124P00000125",
            "O:NDXP261127C21000000",
        ];
        let mut geometry: Vec<ContractGeometry> = tickers
            .iter()
            .map(|t| roots.geometry(ContractKey::parse(t).unwrap()).unwrap())
            .collect();
        geometry.sort_by_key(|g| g.key);
        let board = Board::from_sorted(geometry).unwrap();
        for t in tickers {
            let key = ContractKey::parse(t).unwrap();
            assert_eq!(board.ticker_slot(t.as_bytes()), board.slot(&key), "{t}");
            assert!(board.ticker_slot(t.as_bytes()).is_some());
        }
        for other in [
            "O:SPXW261124C06850001",
            "O:SPXW261124C0685000",
            "O:SPXW261124C068500000",
            "O:SPXW261124C06850000\0",
            "O:SPXW261124C06850000\0\0",
            "O:SPX261218P05000000 ",
            "SPXW261124C06850000",
            "",
            "O:SPXW26112",
        ] {
            assert_eq!(board.ticker_slot(other.as_bytes()), None, "{other:?}");
        }
    }
}
