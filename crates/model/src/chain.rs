//! A normalized chain photo: every contract that exists, from one REST chain snapshot.
//!
//! The Massive normalizer builds one from REST pages; the epoch engine compares its
//! geometry against the active board. A contract the normalizer could not trust is not
//! in `contracts` but counted in `rejected` by reason, so a load that lost contracts
//! says how many and why instead of silently shrinking the board.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::contract::{ContractGeometry, ContractState};
use crate::ticker::Underlying;

/// One contract of a photo.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainContract {
    /// Where it sits on the board.
    pub geometry: ContractGeometry,
    /// What the photo says about it.
    pub state: ContractState,
}

/// A complete chain for one underlying, as loaded from every page of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainPhoto {
    /// The underlying the chain was requested for.
    pub underlying: Underlying,
    /// When the load began, Unix ms: the photo shows the market no earlier than this.
    /// The engine compares it with the time it asked for a forced photo.
    pub taken_at_ms: i64,
    /// The underlying's value from `underlying_asset` (`value` for indices, `price`
    /// for equities), if any page carried it.
    pub underlying_value: Option<f64>,
    /// Every accepted contract, one per key.
    pub contracts: Vec<ChainContract>,
    /// Contracts left out, by reason.
    pub rejected: RejectTally,
}

/// Why a contract from a chain page was left out of the photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The result has no `details.ticker`.
    MissingTicker,
    /// `details.ticker` is not a valid `O:` option symbol.
    BadTicker,
    /// The root is an adjusted series with no configured meaning.
    UnmappedRoot,
    /// The root belongs to another underlying than the one requested.
    ForeignUnderlying,
    /// `details` contradicts the ticker (type, strike or expiration).
    DetailsMismatch,
    /// `contract_type` is `other` or unknown.
    UnsupportedType,
    /// `shares_per_contract` is not 100.
    NonStandardDeliverable,
    /// A number is out of range (negative price, size or open interest).
    InvalidValue,
    /// The result is not an object of the documented shape.
    Malformed,
    /// The same ticker appeared earlier in the same load (e.g. a repeating cursor).
    Duplicate,
}

impl RejectReason {
    /// Every reason, in report order.
    pub const ALL: [Self; 10] = [
        Self::MissingTicker,
        Self::BadTicker,
        Self::UnmappedRoot,
        Self::ForeignUnderlying,
        Self::DetailsMismatch,
        Self::UnsupportedType,
        Self::NonStandardDeliverable,
        Self::InvalidValue,
        Self::Malformed,
        Self::Duplicate,
    ];

    /// The reason's name in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingTicker => "missing_ticker",
            Self::BadTicker => "bad_ticker",
            Self::UnmappedRoot => "unmapped_root",
            Self::ForeignUnderlying => "foreign_underlying",
            Self::DetailsMismatch => "details_mismatch",
            Self::UnsupportedType => "unsupported_type",
            Self::NonStandardDeliverable => "non_standard_deliverable",
            Self::InvalidValue => "invalid_value",
            Self::Malformed => "malformed",
            Self::Duplicate => "duplicate",
        }
    }
}

/// Rejected contracts counted by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectTally([u64; RejectReason::ALL.len()]);

impl RejectTally {
    /// Counts one rejection.
    pub fn add(&mut self, reason: RejectReason) {
        self.0[reason as usize] += 1;
    }

    /// Adds another tally to this one.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    /// Rejections for one reason.
    pub fn get(&self, reason: RejectReason) -> u64 {
        self.0[reason as usize]
    }

    /// All rejections.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Reasons with a non-zero count, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (RejectReason, u64)> + '_ {
        RejectReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }
}

impl Serialize for RejectTally {
    /// A map of reason name → count, non-zero reasons only.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (reason, n) in self.iter() {
            map.serialize_entry(reason.as_str(), &n)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_merges_and_reports_nonzero_reasons() {
        let mut a = RejectTally::default();
        a.add(RejectReason::BadTicker);
        a.add(RejectReason::BadTicker);
        let mut b = RejectTally::default();
        b.add(RejectReason::Duplicate);
        a.merge(&b);
        assert_eq!(a.total(), 3);
        assert_eq!(a.get(RejectReason::BadTicker), 2);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"bad_ticker":2,"duplicate":1}"#
        );
    }
}
