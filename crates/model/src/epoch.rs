//! Epoch identities and the reasons an epoch begins.
//!
//! An epoch id reads like `SPX-20261124-0003`: the underlying, the UTC date the epoch
//! began, and a sequence number that strictly increases per underlying and never resets
//! (so it also orders epochs across midnight). The id is the `<epoch_id>` of every store
//! key of that epoch.

use std::fmt;

use jiff::civil::Date;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::ticker::Underlying;

/// Why an epoch began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochReason {
    /// The first photo for this underlying since the service started.
    Startup,
    /// A photo's set of contracts differed from the board.
    GeometryChange,
    /// The feed was silent for `stale_after` and a forced photo arrived.
    StaleFeed,
    /// An operator (or the fake Massive's control endpoint) asked for one.
    Manual,
    /// The first photo of an ingestion worker that took the underlying's lease over
    /// from a holder that died, hung or was cut off (its lease lapsed).
    Failover,
}

impl EpochReason {
    /// Every reason, in report order.
    pub const ALL: [Self; 5] = [
        Self::Startup,
        Self::GeometryChange,
        Self::StaleFeed,
        Self::Manual,
        Self::Failover,
    ];

    /// The reason's name in logs, metrics and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::GeometryChange => "geometry_change",
            Self::StaleFeed => "stale_feed",
            Self::Manual => "manual",
            Self::Failover => "failover",
        }
    }
}

impl fmt::Display for EpochReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of one epoch.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochId {
    /// Whose board it is.
    pub underlying: Underlying,
    /// UTC date the epoch began. (SPX's overnight session begins after 00:00 UTC, so
    /// the UTC date is also the trading date it belongs to.)
    pub date: Date,
    /// Per-underlying sequence number; strictly increasing.
    pub seq: u32,
}

/// Why a string is not an epoch id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{input:?} is not an epoch id like SPX-20261124-0003: {why}")]
pub struct EpochIdError {
    input: String,
    why: &'static str,
}

impl EpochId {
    /// Parses `SPX-20261124-0003`.
    pub fn parse(s: &str) -> Result<Self, EpochIdError> {
        let err = |why| EpochIdError {
            input: s.to_owned(),
            why,
        };
        let mut parts = s.rsplitn(3, '-');
        let (Some(seq), Some(date), Some(underlying)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected three dash-separated parts"));
        };
        let underlying = Underlying::new(underlying).map_err(|_| err("bad underlying"))?;
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("date is not YYYYMMDD"));
        }
        let num = |r: std::ops::Range<usize>| date[r].parse::<i16>().unwrap_or(0);
        let date = Date::new(num(0..4), num(4..6) as i8, num(6..8) as i8)
            .map_err(|_| err("impossible date"))?;
        if seq.len() < 4 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("sequence is not at least four digits"));
        }
        let seq = seq.parse().map_err(|_| err("sequence out of range"))?;
        Ok(Self {
            underlying,
            date,
            seq,
        })
    }
}

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{:04}{:02}{:02}-{:04}",
            self.underlying,
            self.date.year(),
            self.date.month(),
            self.date.day(),
            self.seq
        )
    }
}

impl fmt::Debug for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for EpochId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn formats_and_parses() {
        let id = EpochId {
            underlying: Underlying::new("SPX").unwrap(),
            date: date(2026, 11, 24),
            seq: 3,
        };
        assert_eq!(id.to_string(), "SPX-20261124-0003");
        assert_eq!(EpochId::parse("SPX-20261124-0003").unwrap(), id);
        let big = EpochId { seq: 123_456, ..id };
        assert_eq!(EpochId::parse(&big.to_string()).unwrap(), big);
        assert_eq!(
            EpochId::parse("BRK.B-20261124-0001")
                .unwrap()
                .underlying
                .as_str(),
            "BRK.B"
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "SPX",
            "SPX-2026112-0003",
            "SPX-20261324-0003",
            "SPX-20261124-3",
            "spx-20261124-0003",
            "SPX-20261124-00x3",
        ] {
            assert!(EpochId::parse(bad).is_err(), "{bad}");
        }
    }
}
