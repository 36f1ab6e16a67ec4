//! Which underlying an option root belongs to, and how its contracts settle.
//!
//! A chain request for `I:SPX` returns two families: `SPX` (AM-settled monthlies,
//! settled on the expiration morning's opening prints) and `SPXW` (PM-settled weeklies
//! and dailies, settled at the 16:00 ET close). NDX/NDXP are the same pair. Both
//! families of an index share one board and one engine, so routing goes root →
//! underlying through this map.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::contract::ContractGeometry;
use crate::symbol::ContractKey;
use crate::ticker::{Root, Underlying};

/// When a contract's settlement value is fixed on its expiration date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Settlement {
    /// Settles on the special opening quotation of the expiration morning (SPX, NDX
    /// monthlies): the contract stops trading the afternoon before.
    AmOpen,
    /// Settles on the expiration day's close (SPXW, NDXP, equity options).
    PmClose,
}

impl Settlement {
    /// The name records use: `am_open` or `pm_close`.
    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::AmOpen => "am_open",
            Settlement::PmClose => "pm_close",
        }
    }
}

/// What a root means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RootInfo {
    /// The underlying the root is written on.
    pub underlying: Underlying,
    /// Its settlement style.
    pub settlement: Settlement,
}

/// Root → underlying and settlement, with the index families built in.
///
/// A root that has no entry maps to itself with PM settlement when it is plain letters
/// (an equity or ETF root such as `SPY`). An adjusted root with a trailing digit
/// (`AAPL1`, after a corporate action) has a non-standard deliverable that chainboard
/// does not model, so it maps to nothing unless configured.
#[derive(Debug, Clone)]
pub struct RootMap {
    entries: FxHashMap<Root, RootInfo>,
}

impl Default for RootMap {
    fn default() -> Self {
        let mut map = Self {
            entries: FxHashMap::default(),
        };
        for (root, underlying, settlement) in [
            ("SPX", "SPX", Settlement::AmOpen),
            ("SPXW", "SPX", Settlement::PmClose),
            ("NDX", "NDX", Settlement::AmOpen),
            ("NDXP", "NDX", Settlement::PmClose),
        ] {
            map.insert(
                Root::new(root).expect("built-in root is valid"),
                RootInfo {
                    underlying: Underlying::new(underlying).expect("built-in underlying is valid"),
                    settlement,
                },
            );
        }
        map
    }
}

impl RootMap {
    /// Adds or replaces the meaning of a root (e.g. `RUTW` → `RUT`, PM).
    pub fn insert(&mut self, root: Root, info: RootInfo) {
        self.entries.insert(root, info);
    }

    /// What `root` means; `None` for an unconfigured adjusted root.
    pub fn lookup(&self, root: Root) -> Option<RootInfo> {
        if let Some(info) = self.entries.get(&root) {
            return Some(*info);
        }
        if root.is_adjusted() {
            return None;
        }
        Some(RootInfo {
            underlying: Underlying::new(root.as_str()).ok()?,
            settlement: Settlement::PmClose,
        })
    }

    /// A contract's geometry: its key with the underlying and settlement its root
    /// means; `None` for an unmapped root.
    pub fn geometry(&self, key: ContractKey) -> Option<ContractGeometry> {
        let info = self.lookup(key.root)?;
        Some(ContractGeometry {
            key,
            underlying: info.underlying,
            settlement: info.settlement,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(map: &RootMap, root: &str) -> Option<(String, Settlement)> {
        map.lookup(Root::new(root).unwrap())
            .map(|i| (i.underlying.to_string(), i.settlement))
    }

    #[test]
    fn index_families_share_an_underlying_and_differ_in_settlement() {
        let map = RootMap::default();
        let cases = [
            ("SPX", "SPX", Settlement::AmOpen),
            ("SPXW", "SPX", Settlement::PmClose),
            ("NDX", "NDX", Settlement::AmOpen),
            ("NDXP", "NDX", Settlement::PmClose),
            ("SPY", "SPY", Settlement::PmClose),
        ];
        for (root, underlying, settlement) in cases {
            assert_eq!(
                lookup(&map, root),
                Some((underlying.to_string(), settlement)),
                "{root}"
            );
        }
        assert_eq!(lookup(&map, "AAPL1"), None);
    }

    #[test]
    fn other_roots_are_configurable() {
        let mut map = RootMap::default();
        let rut = RootInfo {
            underlying: Underlying::new("RUT").unwrap(),
            settlement: Settlement::PmClose,
        };
        map.insert(Root::new("RUTW").unwrap(), rut);
        assert_eq!(
            lookup(&map, "RUTW"),
            Some(("RUT".to_string(), Settlement::PmClose))
        );
    }
}
