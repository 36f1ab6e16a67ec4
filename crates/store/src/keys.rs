//! The key schema, defined once.
//!
//! | key | type | TTL |
//! |---|---|---|
//! | `epoch:<epoch_id>:contract:<contract_id>` | HASH of the record's fields (or a compact JSON STRING) | `ttl`, refreshed while the epoch is live |
//! | `epoch:<epoch_id>:strikes` | ZSET: contract id → strike | same |
//! | `epoch:<epoch_id>:expirations` | ZSET: `YYYY-MM-DD` → `YYYYMMDD` | same |
//! | `epoch:<epoch_id>:expiration:<YYYY-MM-DD>` | ZSET: contract id → strike, that expiration's contracts | same |
//! | `epoch:<epoch_id>:meta` | HASH: `underlying`, `reason`, `started`, `contracts`, `previous`, `lease` | same |
//! | `massive:epoch:current:<symbol>` | STRING: the active epoch id | none |
//! | `massive:heatmap:snapshot:<symbol>` | STRING (JSON) | 5 s |
//! | `massive:gex:snapshot:<symbol>` | STRING (JSON): dealer GEX | 5 s |
//! | `massive:gex:history:<symbol>` | STREAM: the day's GEX timeline, capped (`XADD MAXLEN ~`) | none |
//! | `massive:service:status:<symbol>` | STRING (JSON): the status of the service that writes `<symbol>` | 5 s |
//! | `massive:lease:<symbol>` | STRING: `<token> <holder>`, the ingestion lease | the lease's TTL |
//! | `massive:lease:term:<symbol>` | HASH: `token` (the last one granted), `holder`, `released` | none |
//! | `massive:heatmap:updates:<symbol>` | pub/sub channel, not a key: heatmap updates | — |
//! | `massive:gex:updates:<symbol>` | pub/sub channel, not a key: GEX updates | — |
//!
//! `<epoch_id>` is the engine's id (`SPX-20261124-0003`) and `<contract_id>` the
//! Massive ticker (`O:SPXW261124C06850000`). The geometry ZSETs answer the two
//! lookups readers make: "contracts between these strikes" (`ZRANGEBYSCORE` on
//! `strikes`, or on one expiration's set) and "which expirations" (`expirations`,
//! ordered by date because the score is the date as a number).
//!
//! # Redis Cluster: one hash slot per underlying
//!
//! With [`KeySchema::cluster`] every key of an underlying carries its symbol as a hash
//! tag: `epoch:{SPX}-20261124-0003:contract:…`, `massive:epoch:current:{SPX}`,
//! `massive:lease:{SPX}`, and so on (the epoch id still reads whole, with braces
//! round its symbol). So every write of an underlying (an epoch's records, the
//! pointer, the snapshots, the history, the status) lives in the same slot as the
//! lease it is checked against, and one Lua script can check the lease and write
//! (`crate::lease`); Redis Cluster runs a script only when all its keys share a slot.
//! The price is that one underlying's keys sit on one master: the unit of scale is
//! the underlying, which is also the unit of ownership (one writer each). Pub/sub
//! channels are not keys and keep their names. Off by default, so a single Redis
//! holds exactly the names above.

use chainboard_model::{ContractKey, EpochId, Underlying};
use jiff::civil::Date;

/// How keys are spelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeySchema {
    /// Wrap the epoch id in a hash tag (`{…}`) for Redis Cluster.
    pub cluster: bool,
}

impl KeySchema {
    /// The symbol as it appears in `symbol`'s keys: `SPX`, or `{SPX}` in a cluster.
    fn tag(&self, symbol: Underlying) -> String {
        if self.cluster {
            format!("{{{symbol}}}")
        } else {
            symbol.to_string()
        }
    }

    fn epoch(&self, epoch: &EpochId) -> String {
        if self.cluster {
            // `SPX-20261124-0003` with braces round its symbol, which it starts with.
            let id = epoch.to_string();
            let rest = id
                .get(epoch.underlying.as_str().len()..)
                .unwrap_or_default();
            format!("epoch:{{{}}}{rest}", epoch.underlying)
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
        format!("massive:epoch:current:{}", self.tag(symbol))
    }

    /// `massive:heatmap:snapshot:<symbol>`.
    pub fn heatmap_snapshot(&self, symbol: Underlying) -> String {
        format!("massive:heatmap:snapshot:{}", self.tag(symbol))
    }

    /// `massive:gex:snapshot:<symbol>`.
    pub fn gex_snapshot(&self, symbol: Underlying) -> String {
        format!("massive:gex:snapshot:{}", self.tag(symbol))
    }

    /// `massive:heatmap:updates:<symbol>`: a pub/sub channel, not a key (no tag).
    pub fn heatmap_updates(&self, symbol: Underlying) -> String {
        format!("massive:heatmap:updates:{symbol}")
    }

    /// `massive:gex:updates:<symbol>`: a pub/sub channel, not a key (no tag).
    pub fn gex_updates(&self, symbol: Underlying) -> String {
        format!("massive:gex:updates:{symbol}")
    }

    /// `massive:service:status:<symbol>`: the status (JSON, `ServiceStatus` of
    /// `chainboard-server`) of the service that writes `symbol`, for processes that
    /// serve the board without running ingestion. Per underlying, because each
    /// underlying may have its own writer, and because the write is checked against
    /// that underlying's lease.
    pub fn service_status(&self, symbol: Underlying) -> String {
        format!("massive:service:status:{}", self.tag(symbol))
    }

    /// `massive:gex:history:<symbol>`.
    pub fn gex_history(&self, symbol: Underlying) -> String {
        format!("massive:gex:history:{}", self.tag(symbol))
    }

    /// `massive:lease:<symbol>`: who may write `symbol` now (`crate::lease`).
    pub fn lease(&self, symbol: Underlying) -> String {
        format!("massive:lease:{}", self.tag(symbol))
    }

    /// `massive:lease:term:<symbol>`: the last lease token granted for `symbol`, to
    /// whom, and whether it was released (`crate::lease`).
    pub fn lease_term(&self, symbol: Underlying) -> String {
        format!("massive:lease:term:{}", self.tag(symbol))
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
        assert_eq!(k.service_status(ndx), "massive:service:status:NDX");
        assert_eq!(k.lease(ndx), "massive:lease:NDX");
        assert_eq!(k.lease_term(ndx), "massive:lease:term:NDX");
        // Channels are not keys: a cluster schema spells them the same.
        let cluster = KeySchema { cluster: true };
        assert_eq!(cluster.heatmap_updates(ndx), k.heatmap_updates(ndx));
    }

    /// The hash tag Redis Cluster hashes: the text between the first `{` and the
    /// next `}`, when that is not empty.
    fn hash_tag(key: &str) -> &str {
        key.find('{')
            .and_then(|open| {
                let rest = &key[open + 1..];
                rest.find('}')
                    .filter(|&close| close > 0)
                    .map(|close| &rest[..close])
            })
            .unwrap_or(key)
    }

    #[test]
    fn every_key_of_an_underlying_shares_its_hash_tag() {
        let k = KeySchema { cluster: true };
        let c = ContractKey::parse("O:SPXW261124C06850000").expect("ticker");
        let spx = Underlying::new("SPX").expect("SPX");
        assert_eq!(
            k.contract(&id(), &c),
            "epoch:{SPX}-20261124-0003:contract:O:SPXW261124C06850000"
        );
        assert_eq!(k.meta(&id()), "epoch:{SPX}-20261124-0003:meta");
        let keys = [
            k.contract(&id(), &c),
            k.meta(&id()),
            k.strikes(&id()),
            k.expirations(&id()),
            k.expiration(&id(), date(2026, 11, 24)),
            k.current(spx),
            k.heatmap_snapshot(spx),
            k.gex_snapshot(spx),
            k.gex_history(spx),
            k.service_status(spx),
            k.lease(spx),
            k.lease_term(spx),
        ];
        for key in &keys {
            assert_eq!(hash_tag(key), "SPX", "{key}");
        }
    }

    #[test]
    fn expirations_sort_by_date() {
        assert_eq!(date_score(date(2026, 11, 24)), 20_261_124.0);
        assert!(date_score(date(2026, 12, 1)) > date_score(date(2026, 11, 30)));
    }
}
