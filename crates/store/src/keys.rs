//! The key schema, defined once.
//!
//! | key | type | TTL |
//! |---|---|---|
//! | `epoch:<epoch_id>:contract:<contract_id>` | HASH of the record's fields (or a compact JSON STRING) | `ttl`, refreshed while the epoch is live |
//! | `epoch:<epoch_id>:strikes` | ZSET: contract id → strike | same |
//! | `epoch:<epoch_id>:expirations` | ZSET: `YYYY-MM-DD` → `YYYYMMDD` | same |
//! | `epoch:<epoch_id>:expiration:<YYYY-MM-DD>` | ZSET: contract id → strike, that expiration's contracts | same |
//! | `epoch:<epoch_id>:meta` | HASH: `underlying`, `reason`, `started`, `contracts`, `previous` | same |
//! | `massive:epoch:current:<symbol>` | STRING: the active epoch id | none |
//! | `massive:heatmap:snapshot:<symbol>` | STRING (JSON) | 5 s |
//! | `massive:gex:snapshot:<symbol>` | STRING (JSON): dealer GEX | 5 s |
//! | `massive:gex:history:<symbol>` | STREAM: the day's GEX timeline, capped (`XADD MAXLEN ~`) | none |
//! | `massive:heatmap:updates:<symbol>` | pub/sub channel, not a key: heatmap updates | — |
//! | `massive:gex:updates:<symbol>` | pub/sub channel, not a key: GEX updates | — |
//! | `massive:service:status` | STRING (JSON): the service's status | 5 s |
//!
//! `<epoch_id>` is the engine's id (`SPX-20261124-0003`) and `<contract_id>` the
//! Massive ticker (`O:SPXW261124C06850000`). The geometry ZSETs answer the two
//! lookups readers make: "contracts between these strikes" (`ZRANGEBYSCORE` on
//! `strikes`, or on one expiration's set) and "which expirations" (`expirations`,
//! ordered by date because the score is the date as a number).
//!
//! # Redis Cluster
//!
//! With [`KeySchema::cluster`] the epoch id is written as a hash tag,
//! `epoch:{SPX-20261124-0003}:contract:…`, so every key of an epoch lands in one hash
//! slot and its full write is one slot's pipeline. It is off by default, so a single
//! Redis holds exactly the design's key names; turn it on for a cluster. The `current`,
//! snapshot, GEX history keys and the updates channel are per symbol, each written
//! alone, and need no tag.

use chainboard_model::{ContractKey, EpochId, Underlying};
use jiff::civil::Date;

/// How keys are spelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeySchema {
    /// Wrap the epoch id in a hash tag (`{…}`) for Redis Cluster.
    pub cluster: bool,
}

impl KeySchema {
    fn epoch(&self, epoch: &EpochId) -> String {
        if self.cluster {
            format!("epoch:{{{epoch}}}")
        } else {
            format!("epoch:{epoch}")
        }
    }

    /// `epoch:<epoch_id>:contract:<contract_id>`.
    pub fn contract(&self, epoch: &EpochId, contract: &ContractKey) -> String {
        format!("{}:contract:{contract}", self.epoch(epoch))
    }

    /// The prefix every contract key of `epoch` starts with (for scans).
    pub fn contract_prefix(&self, epoch: &EpochId) -> String {
        format!("{}:contract:", self.epoch(epoch))
    }

    /// Every key of `epoch` matches this `SCAN` pattern.
    pub fn epoch_pattern(&self, epoch: &EpochId) -> String {
        // A hash tag's braces are literal in a glob; ids hold no glob characters.
        format!("{}:*", self.epoch(epoch))
    }

    /// `epoch:<epoch_id>:meta`.
    pub fn meta(&self, epoch: &EpochId) -> String {
        format!("{}:meta", self.epoch(epoch))
    }

    /// `epoch:<epoch_id>:strikes`.
    pub fn strikes(&self, epoch: &EpochId) -> String {
        format!("{}:strikes", self.epoch(epoch))
    }

    /// `epoch:<epoch_id>:expirations`.
    pub fn expirations(&self, epoch: &EpochId) -> String {
        format!("{}:expirations", self.epoch(epoch))
    }

    /// `epoch:<epoch_id>:expiration:<YYYY-MM-DD>`.
    pub fn expiration(&self, epoch: &EpochId, date: Date) -> String {
        format!("{}:expiration:{date}", self.epoch(epoch))
    }

    /// `massive:epoch:current:<symbol>`.
    pub fn current(&self, symbol: Underlying) -> String {
        format!("massive:epoch:current:{symbol}")
    }

    /// `massive:heatmap:snapshot:<symbol>`.
    pub fn heatmap_snapshot(&self, symbol: Underlying) -> String {
        format!("massive:heatmap:snapshot:{symbol}")
    }

    /// `massive:gex:snapshot:<symbol>`.
    pub fn gex_snapshot(&self, symbol: Underlying) -> String {
        format!("massive:gex:snapshot:{symbol}")
    }

    /// `massive:heatmap:updates:<symbol>`: a pub/sub channel, not a key.
    pub fn heatmap_updates(&self, symbol: Underlying) -> String {
        format!("massive:heatmap:updates:{symbol}")
    }

    /// `massive:gex:updates:<symbol>`: a pub/sub channel, not a key.
    pub fn gex_updates(&self, symbol: Underlying) -> String {
        format!("massive:gex:updates:{symbol}")
    }

    /// `massive:service:status`: the running service's status (JSON,
    /// `ServiceStatus` of `chainboard-server`), for processes that serve the board
    /// without running ingestion. One per Redis (database): one service's
    /// underlyings publish to one Redis; two services on one database would
    /// overwrite each other's status.
    pub fn service_status(&self) -> String {
        "massive:service:status".to_owned()
    }

    /// `massive:gex:history:<symbol>`.
    pub fn gex_history(&self, symbol: Underlying) -> String {
        format!("massive:gex:history:{symbol}")
    }
}

/// The score of an expiration in `epoch:<id>:expirations`: `YYYYMMDD` as a number,
/// so the set sorts by date.
pub fn date_score(date: Date) -> f64 {
    f64::from(
        i32::from(date.year()) * 10_000 + i32::from(date.month()) * 100 + i32::from(date.day()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn id() -> EpochId {
        EpochId::parse("SPX-20261124-0003").expect("id")
    }

    #[test]
    fn keys_are_the_designs() {
        let k = KeySchema::default();
        let c = ContractKey::parse("O:SPXW261124C06850000").expect("ticker");
        assert_eq!(
            k.contract(&id(), &c),
            "epoch:SPX-20261124-0003:contract:O:SPXW261124C06850000"
        );
        assert_eq!(k.meta(&id()), "epoch:SPX-20261124-0003:meta");
        assert_eq!(k.strikes(&id()), "epoch:SPX-20261124-0003:strikes");
        assert_eq!(
            k.expiration(&id(), date(2026, 11, 24)),
            "epoch:SPX-20261124-0003:expiration:2026-11-24"
        );
        let spx = Underlying::new("SPX").expect("SPX");
        assert_eq!(k.current(spx), "massive:epoch:current:SPX");
        assert_eq!(k.heatmap_snapshot(spx), "massive:heatmap:snapshot:SPX");
        let ndx = Underlying::new("NDX").expect("NDX");
        assert_eq!(k.gex_snapshot(ndx), "massive:gex:snapshot:NDX");
        assert_eq!(k.heatmap_updates(ndx), "massive:heatmap:updates:NDX");
        assert_eq!(k.gex_history(ndx), "massive:gex:history:NDX");
        // Per symbol: a cluster schema spells them the same.
        let cluster = KeySchema { cluster: true };
        assert_eq!(cluster.gex_history(ndx), k.gex_history(ndx));
        assert_eq!(cluster.heatmap_updates(ndx), k.heatmap_updates(ndx));
    }

    #[test]
    fn cluster_keys_share_a_hash_tag() {
        let k = KeySchema { cluster: true };
        let c = ContractKey::parse("O:SPXW261124C06850000").expect("ticker");
        assert_eq!(
            k.contract(&id(), &c),
            "epoch:{SPX-20261124-0003}:contract:O:SPXW261124C06850000"
        );
        assert_eq!(k.meta(&id()), "epoch:{SPX-20261124-0003}:meta");
    }

    #[test]
    fn expirations_sort_by_date() {
        assert_eq!(date_score(date(2026, 11, 24)), 20_261_124.0);
        assert!(date_score(date(2026, 12, 1)) > date_score(date(2026, 11, 30)));
    }
}
