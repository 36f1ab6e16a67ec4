//! A synthetic option chain shaped like SPX's (or NDX's): the "photo" every other part
//! of the simulator renders.
//!
//! [`SimChain::generate`] lays out the expirations a real index chain lists (dailies,
//! weeklies, AM and PM monthlies, quarterlies), a strike ladder per expiration that is
//! dense near the money and sparse in the wings and widens with time, and prices each
//! call and put with BSM on a skewed volatility smile. Market fields (quote, sizes,
//! open interest, volume, last trade) are drawn from a seeded RNG so the same config
//! gives the same chain, byte for byte, on every machine.
//!
//! Expirations follow the exchange calendar (`chainboard_quant::expiry::is_trading_day`):
//! only trading days, a holiday Friday's expiration moving to the day before. Open
//! interest and volume are shaped like the real books ([`crate::positioning`]). The
//! chain is a photo taken at one instant, [`ChainConfig::hours_to_close`] before
//! `today`'s close.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chainboard_model::{ContractKey, Right, Root, Settlement, Strike, Underlying};
use chainboard_quant::{Greeks, bsm};
use jiff::civil::Date;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calendar::list_expirations;
use crate::positioning::{self, Positioning, Terms};
use crate::ticks;

/// Calendar days between `today` and the last expiration of each kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpirySchedule {
    /// PM-settled expirations on every trading day up to this horizon (0DTE included).
    pub daily_days: i64,
    /// Then PM-settled Friday expirations up to this horizon.
    pub weekly_days: i64,
    /// AM- and PM-settled third-Friday monthlies up to this horizon.
    pub monthly_days: i64,
    /// PM-settled end-of-quarter expirations (last trading day of Mar/Jun/Sep/Dec) up to
    /// this horizon.
    pub quarterly_days: i64,
}

impl Default for ExpirySchedule {
    /// About what Cboe lists for SPX: six weeks of dailies, three months of weeklies,
    /// a year of monthlies and two years of quarterlies.
    fn default() -> Self {
        Self {
            daily_days: 42,
            weekly_days: 92,
            monthly_days: 365,
            quarterly_days: 730,
        }
    }
}

/// How far a band of strikes reaches from spot, as a fraction of spot that grows with
/// the square root of time to expiry (a fixed number of standard deviations, roughly).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandWidth {
    /// Reach below spot at zero time to expiry.
    pub base: f64,
    /// Added reach per √year.
    pub per_sqrt_year: f64,
    /// Largest reach below spot, whatever the expiry.
    pub cap: f64,
    /// Reach above spot as a multiple of the reach below: index chains list far more
    /// downside strikes, where the put demand is.
    pub upside: f64,
}

impl BandWidth {
    /// `(below, above)` reach as fractions of spot for `t_years` to expiry.
    pub fn reach(&self, t_years: f64) -> (f64, f64) {
        let below = (self.base + self.per_sqrt_year * t_years.max(0.0).sqrt()).min(self.cap);
        (below, below * self.upside)
    }
}

/// The strike ladder: three spacings, each covering a band around spot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrikeGrid {
    /// Spacing near the money, in whole points (5 for SPX).
    pub fine_step: u32,
    /// Where `fine_step` strikes are listed.
    pub fine: BandWidth,
    /// Spacing further out (25 for SPX).
    pub mid_step: u32,
    /// Where `mid_step` strikes are listed.
    pub mid: BandWidth,
    /// Spacing in the far wings (100 for SPX).
    pub wide_step: u32,
    /// Where `wide_step` strikes are listed; nothing beyond.
    pub wide: BandWidth,
}

/// Which band of the ladder a strike belongs to; the wings get sparser vendor data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrikeBand {
    /// Within [`StrikeGrid::fine`].
    Fine,
    /// Within [`StrikeGrid::mid`].
    Mid,
    /// Within [`StrikeGrid::wide`]: the far wings.
    Wide,
}

impl StrikeGrid {
    /// Strikes in whole points, ascending, with their band, for one expiration.
    pub fn strikes(&self, spot: f64, t_years: f64) -> Vec<(u32, StrikeBand)> {
        let mut ladder: BTreeMap<u32, StrikeBand> = BTreeMap::new();
        // Coarse bands first, so a strike on several grids keeps the finest band.
        for (step, width, band) in [
            (self.wide_step, self.wide, StrikeBand::Wide),
            (self.mid_step, self.mid, StrikeBand::Mid),
            (self.fine_step, self.fine, StrikeBand::Fine),
        ] {
            let step = step.max(1);
            let (below, above) = width.reach(t_years);
            let low = (spot * (1.0 - below)).max(0.0);
            let high = spot * (1.0 + above);
            let mut k = ((low / f64::from(step)).ceil() as u32).max(1) * step;
            while f64::from(k) <= high {
                ladder.insert(k, band);
                k += step;
            }
        }
        ladder.into_iter().collect()
    }
}

/// The implied-volatility surface: term structure plus a skewed smile.
///
/// ```text
/// vol = atm_vol + term_slope·(√t − √0.5) + skew_per_log_moneyness·m
///     + skew_per_sd·z + curvature·z²
/// ```
///
/// where `m = ln(K/F)` and `z = m/√t` (clamped to `[−5, 4]`), then clamped to
/// `[0.05, 2.0]`. Negative skews make low strikes (puts) dearer, as in every equity
/// index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smile {
    /// At-the-money vol at six months (`0.15` = 15%).
    pub atm_vol: f64,
    /// Change of at-the-money vol per √year; positive is the calm-market upward slope.
    pub term_slope: f64,
    /// Skew in vol per unit of log-moneyness (dominates long expiries).
    pub skew_per_log_moneyness: f64,
    /// Skew in vol per standard deviation of moneyness (dominates short expiries).
    pub skew_per_sd: f64,
    /// Smile curvature in vol per squared standard deviation: lifts both wings.
    pub curvature: f64,
}

impl Smile {
    /// The implied volatility at log-moneyness `m = ln(K/F)` for `t_years` to expiry.
    pub fn vol(&self, m: f64, t_years: f64) -> f64 {
        let sqrt_t = t_years.max(1e-6).sqrt();
        let z = (m / sqrt_t).clamp(-5.0, 4.0);
        let v = self.atm_vol
            + self.term_slope * (sqrt_t - 0.5_f64.sqrt())
            + self.skew_per_log_moneyness * m
            + self.skew_per_sd * z
            + self.curvature * z * z;
        v.clamp(0.05, 2.0)
    }
}

/// Everything that shapes a generated chain. Start from [`ChainConfig::spx_like`] or
/// [`ChainConfig::ndx_like`] and adjust fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainConfig {
    /// The index the options are written on (`SPX`); Massive names it `I:SPX`.
    pub underlying: Underlying,
    /// The AM-settled third-Friday root (`SPX`).
    pub monthly_root: Root,
    /// The PM-settled root of dailies, weeklies, monthlies and quarterlies (`SPXW`).
    pub weekly_root: Root,
    /// Index level at the photo.
    pub spot: f64,
    /// The trading day of the photo: the first 0DTE expiration.
    pub today: Date,
    /// Hours from the photo to `today`'s close (13:00 ET on an early close): a 0DTE
    /// contract's whole life, or days of it over a weekend.
    pub hours_to_close: f64,
    /// Seed of every random draw, so the chain is reproducible.
    pub seed: u64,
    /// Continuous risk-free rate for pricing.
    pub rate: f64,
    /// Continuous dividend yield of the index.
    pub div_yield: f64,
    /// Which expirations are listed.
    pub schedule: ExpirySchedule,
    /// Which strikes are listed.
    pub strikes: StrikeGrid,
    /// The volatility surface contracts are priced on.
    pub smile: Smile,
    /// Where open interest and volume sit, and how much of them there is.
    pub positioning: Positioning,
    /// Exchange id on quotes and trades (302, Cboe, the only venue for SPX options).
    pub exchange: u16,
}

impl ChainConfig {
    /// An SPX-like chain: spot 6850, roots `SPX`/`SPXW`, strikes every 5 points near
    /// the money, 25 further out and 100 in the wings.
    pub fn spx_like(today: Date, seed: u64) -> Self {
        Self {
            underlying: underlying("SPX"),
            monthly_root: root("SPX"),
            weekly_root: root("SPXW"),
            spot: 6850.0,
            today,
            hours_to_close: 4.0,
            seed,
            rate: 0.04,
            div_yield: 0.013,
            schedule: ExpirySchedule::default(),
            strikes: StrikeGrid {
                fine_step: 5,
                fine: BandWidth {
                    base: 0.04,
                    per_sqrt_year: 0.025,
                    cap: 0.06,
                    upside: 0.75,
                },
                mid_step: 25,
                mid: BandWidth {
                    base: 0.08,
                    per_sqrt_year: 0.12,
                    cap: 0.30,
                    upside: 0.6,
                },
                wide_step: 100,
                wide: BandWidth {
                    base: 0.25,
                    per_sqrt_year: 0.30,
                    cap: 0.70,
                    upside: 0.5,
                },
            },
            smile: Smile {
                atm_vol: 0.15,
                term_slope: 0.03,
                skew_per_log_moneyness: -0.15,
                skew_per_sd: -0.025,
                curvature: 0.004,
            },
            positioning: Positioning::spx(),
            exchange: 302,
        }
    }

    /// An NDX-like chain: spot 21000, roots `NDX`/`NDXP`, strikes every 10 points near
    /// the money, 25 further out and 100 in the wings; a little more volatile than SPX.
    pub fn ndx_like(today: Date, seed: u64) -> Self {
        let spx = Self::spx_like(today, seed);
        Self {
            underlying: underlying("NDX"),
            monthly_root: root("NDX"),
            weekly_root: root("NDXP"),
            spot: 21_000.0,
            div_yield: 0.007,
            strikes: StrikeGrid {
                fine_step: 10,
                fine: BandWidth {
                    base: 0.02,
                    per_sqrt_year: 0.02,
                    cap: 0.04,
                    upside: 0.75,
                },
                mid_step: 25,
                mid: BandWidth {
                    base: 0.05,
                    per_sqrt_year: 0.05,
                    cap: 0.10,
                    upside: 0.6,
                },
                wide_step: 100,
                wide: BandWidth {
                    base: 0.15,
                    per_sqrt_year: 0.20,
                    cap: 0.45,
                    upside: 0.5,
                },
            },
            smile: Smile {
                atm_vol: 0.19,
                ..spx.smile
            },
            positioning: Positioning::ndx(),
            ..spx
        }
    }
}

/// Built-in names are valid by construction; a test checks them.
fn root(s: &str) -> Root {
    Root::new(s).unwrap_or_else(|e| panic!("built-in root {s}: {e}"))
}

/// Built-in names are valid by construction; a test checks them.
fn underlying(s: &str) -> Underlying {
    Underlying::new(s).unwrap_or_else(|e| panic!("built-in underlying {s}: {e}"))
}

/// Why an expiration is listed; monthlies and quarterlies carry more open interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExpiryKind {
    /// A PM expiration that is not its week's last trading day.
    Daily,
    /// The week's last trading day (Friday, or Thursday before a Friday holiday), not a
    /// monthly.
    Weekly,
    /// A third-Friday expiration (AM root and PM root).
    Monthly,
    /// The last trading day of a calendar quarter.
    Quarterly,
}

/// One listed expiration of one root.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimExpiry {
    /// The root it is listed under.
    pub root: Root,
    /// The expiration date in the symbol.
    pub date: Date,
    /// Why it is listed.
    pub kind: ExpiryKind,
    /// AM (monthly root) or PM settlement.
    pub settlement: Settlement,
    /// Calendar days from `today`.
    pub days: i64,
    /// Years to the settlement instant from the photo, ACT/365: what BSM is given.
    pub t_years: f64,
}

/// How the vendor reports a contract's greeks in the REST snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VendorGreeks {
    /// All four greeks and the implied volatility.
    Full,
    /// `"greeks": {}` (deep in the money, |delta| > 0.995), implied volatility present.
    Empty,
    /// Neither greeks nor implied volatility (some far-wing contracts).
    Absent,
}

/// A trade print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTrade {
    /// Price in cents.
    pub price_cents: u32,
    /// Contracts.
    pub size: u32,
    /// How long before the photo it printed, in milliseconds (days for old trades).
    pub age_ms: i64,
    /// Reporting exchange id.
    pub exchange: u16,
    /// One OPRA-style sale condition code.
    pub condition: u16,
}

/// Today's session bar, in cents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimDay {
    /// First trade of the day.
    pub open_cents: u32,
    /// Highest trade.
    pub high_cents: u32,
    /// Lowest trade.
    pub low_cents: u32,
    /// Latest trade.
    pub close_cents: u32,
    /// Yesterday's close, which `change` is measured from.
    pub previous_close_cents: u32,
    /// Volume-weighted average price, in points (not on the tick grid).
    pub vwap: f64,
    /// Contracts traded today; zero if the contract has traded before but not today.
    pub volume: u64,
}

/// One generated contract, with everything a chain snapshot reports about it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimContract {
    /// Identity on the board.
    pub key: ContractKey,
    /// The Massive ticker, kept rendered because every output format carries it.
    pub ticker: String,
    /// Why its expiration is listed.
    pub kind: ExpiryKind,
    /// Which strike band it sits in.
    pub band: StrikeBand,
    /// Calendar days to expiration.
    pub days_to_expiry: i64,
    /// Years to settlement, as priced.
    pub t_years: f64,
    /// Implied volatility from the smile.
    pub vol: f64,
    /// BSM value at the photo's spot.
    pub theo: f64,
    /// BSM greeks at the photo's spot (per year, per 1.00 vol).
    pub greeks: Greeks,
    /// How the REST snapshot reports the greeks.
    pub vendor_greeks: VendorGreeks,
    /// Best bid in cents (may be zero).
    pub bid_cents: u32,
    /// Best offer in cents; above the bid by at least a tick.
    pub ask_cents: u32,
    /// Contracts bid.
    pub bid_size: u32,
    /// Contracts offered.
    pub ask_size: u32,
    /// How long before the photo the quote last changed, in milliseconds.
    pub quote_age_ms: i64,
    /// Open interest in contracts.
    pub open_interest: u64,
    /// Today's bar; `None` if the contract has never traded.
    pub day: Option<SimDay>,
    /// The latest trade, today or earlier; `None` if it has never traded.
    pub last_trade: Option<SimTrade>,
}

impl SimContract {
    /// Call or put.
    pub fn right(&self) -> Right {
        self.key.right
    }

    /// Strike in points.
    pub fn strike(&self) -> f64 {
        self.key.strike.points()
    }

    /// Best bid in points.
    pub fn bid(&self) -> f64 {
        ticks::points(self.bid_cents)
    }

    /// Best offer in points.
    pub fn ask(&self) -> f64 {
        ticks::points(self.ask_cents)
    }

    /// Midpoint in points.
    pub fn midpoint(&self) -> f64 {
        f64::from(self.bid_cents + self.ask_cents) / 200.0
    }
}

/// A generated chain: its config, its expirations and its contracts sorted by ticker.
///
/// A chain can change after generation the way a listed market does: strikes are
/// listed ([`SimChain::list_strikes_around`], [`SimChain::list_midpoints`]) and
/// expirations settle and leave ([`SimChain::remove_expired`]). Contracts are never
/// removed otherwise. The contract list sits behind an [`Arc`] so that a consumer
/// holding a photo of it ([`SimChain::shared_contracts`]) costs no copy until the
/// listing next changes.
#[derive(Debug, Clone)]
pub struct SimChain {
    config: ChainConfig,
    expirations: Vec<SimExpiry>,
    contracts: Arc<Vec<SimContract>>,
}

/// Open interest and volume per unit of [`positioning`] weight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scales {
    oi_calls: f64,
    oi_puts: f64,
    /// Volume of today's expiration.
    volume_today: f64,
    /// Volume of every later expiration.
    volume_later: f64,
}

impl Scales {
    /// The scales that bring `config`'s listing to its positioning's totals.
    fn for_listing(config: &ChainConfig, listing: &[(SimExpiry, Strike)]) -> Self {
        let p = &config.positioning;
        let (mut calls, mut puts, mut today, mut later) = (0.0, 0.0, 0.0, 0.0);
        for (expiry, strike) in listing {
            for right in [Right::Call, Right::Put] {
                let terms = terms(config, expiry, *strike, right);
                match right {
                    Right::Call => calls += positioning::oi_weight(p, &terms),
                    Right::Put => puts += positioning::oi_weight(p, &terms),
                }
                let v = positioning::volume_weight(p, &terms);
                if expiry.days == 0 {
                    today += v;
                } else {
                    later += v;
                }
            }
        }
        let volume = p.daily_volume * Positioning::volume_so_far(config.hours_to_close);
        // Without a 0DTE expiration its share goes to the others.
        let share_today = if today > 0.0 {
            p.zero_dte_volume_share
        } else {
            0.0
        };
        let per = |total: f64, weight: f64| if weight > 0.0 { total / weight } else { 0.0 };
        Self {
            oi_calls: per(p.open_interest / (1.0 + p.put_call_ratio), calls),
            oi_puts: per(
                p.open_interest * p.put_call_ratio / (1.0 + p.put_call_ratio),
                puts,
            ),
            volume_today: per(volume * share_today, today),
            volume_later: per(volume * (1.0 - share_today), later),
        }
    }
}

/// What the positioning weights need of one contract.
fn terms(config: &ChainConfig, expiry: &SimExpiry, strike: Strike, right: Right) -> Terms {
    let t = expiry.t_years.max(0.0);
    Terms {
        right,
        log_moneyness: (strike.points() / config.spot).ln(),
        kind: expiry.kind,
        am_root: expiry.settlement == Settlement::AmOpen,
        days: expiry.days,
        move_frac: config.smile.vol(0.0, t) * t.sqrt(),
        strike_points: strike.milli() / 1000,
    }
}

/// Trade condition codes drawn for prints (electronic, ISO, single-leg auction...).
const CONDITIONS: [u16; 4] = [209, 219, 227, 232];
/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl SimChain {
    /// Generates the chain `config` describes. Deterministic: the same config gives
    /// the same chain.
    pub fn generate(config: ChainConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let expirations = list_expirations(&config);
        let listing: Vec<(SimExpiry, Strike, StrikeBand)> = expirations
            .iter()
            .flat_map(|expiry| {
                config
                    .strikes
                    .strikes(config.spot, expiry.t_years)
                    .into_iter()
                    .filter_map(|(points, band)| {
                        Some((
                            *expiry,
                            Strike::from_milli(points.saturating_mul(1000))?,
                            band,
                        ))
                    })
            })
            .collect();
        let scales = Scales::for_listing(
            &config,
            &listing.iter().map(|&(e, k, _)| (e, k)).collect::<Vec<_>>(),
        );
        let mut contracts = Vec::with_capacity(2 * listing.len());
        for (expiry, strike, band) in &listing {
            push_pair(
                &config,
                scales,
                expiry,
                *strike,
                *band,
                &mut rng,
                &mut contracts,
            );
        }
        contracts.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        Self {
            config,
            expirations,
            contracts: Arc::new(contracts),
        }
    }

    /// Lists the strikes the ladder asks for around a new `spot`, as an exchange does
    /// when the index has moved away from where the strikes were listed: every listed
    /// expiration gets the strikes [`StrikeGrid::strikes`] gives at `spot` that it
    /// lacks. Contracts already listed are kept as they are, whatever their distance.
    ///
    /// New contracts are priced at `spot`, drawn from `seed`, and `spot` becomes the
    /// chain's [`ChainConfig::spot`] (the level the listing was made at). Returns the
    /// number of contracts added.
    pub fn list_strikes_around(&mut self, spot: f64, seed: u64) -> usize {
        if !(spot.is_finite() && spot > 0.0) {
            return 0;
        }
        self.config.spot = spot;
        let mut additions = Vec::new();
        for (e, expiry) in self.expirations.iter().enumerate() {
            for (strike_points, band) in self.config.strikes.strikes(spot, expiry.t_years) {
                if let Some(strike) = Strike::from_milli(strike_points.saturating_mul(1000)) {
                    additions.push((e, strike, band));
                }
            }
        }
        self.add_strikes(&additions, seed)
    }

    /// Lists a strike halfway between each pair of neighbouring strikes that lie
    /// within `reach` (a fraction of `spot`) of `spot` and are at least a point apart,
    /// in every expiration: `6852.5` between `6850` and `6855`. The simulator's "list
    /// strikes now" for tests: unlike [`SimChain::list_strikes_around`] at an unmoved
    /// spot, it always adds contracts (until the gaps near the money are below a
    /// point), and they sit where the quote traffic is densest. Returns the number of
    /// contracts added.
    pub fn list_midpoints(&mut self, spot: f64, reach: f64, seed: u64) -> usize {
        if !(spot.is_finite() && spot > 0.0 && reach.is_finite() && reach >= 0.0) {
            return 0;
        }
        let (low, high) = (spot * (1.0 - reach), spot * (1.0 + reach));
        let mut ladders: BTreeMap<(Root, Date), BTreeSet<u32>> = BTreeMap::new();
        for c in self.contracts.iter() {
            ladders
                .entry((c.key.root, c.key.expiration))
                .or_default()
                .insert(c.key.strike.milli());
        }
        let mut additions = Vec::new();
        for (e, expiry) in self.expirations.iter().enumerate() {
            let Some(ladder) = ladders.get(&(expiry.root, expiry.date)) else {
                continue;
            };
            let strikes: Vec<u32> = ladder.iter().copied().collect();
            for pair in strikes.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let within = |m: u32| (low..=high).contains(&(f64::from(m) / 1000.0));
                if b - a < 1000 || !within(a) || !within(b) {
                    continue;
                }
                if let Some(strike) = Strike::from_milli(a + (b - a) / 2) {
                    additions.push((e, strike, StrikeBand::Fine));
                }
            }
        }
        self.add_strikes(&additions, seed)
    }

    /// Removes every expiration `expired` says has settled, with its contracts.
    /// Returns the number of contracts removed.
    pub fn remove_expired(&mut self, expired: impl Fn(&SimExpiry) -> bool) -> usize {
        let gone: BTreeSet<(Root, Date)> = self
            .expirations
            .iter()
            .filter(|e| expired(e))
            .map(|e| (e.root, e.date))
            .collect();
        if gone.is_empty() {
            return 0;
        }
        self.expirations
            .retain(|e| !gone.contains(&(e.root, e.date)));
        let before = self.contracts.len();
        Arc::make_mut(&mut self.contracts)
            .retain(|c| !gone.contains(&(c.key.root, c.key.expiration)));
        before - self.contracts.len()
    }

    /// The contract list, shared: a photo that stays valid (and costs no copy) while
    /// the chain goes on changing.
    pub fn shared_contracts(&self) -> Arc<Vec<SimContract>> {
        Arc::clone(&self.contracts)
    }

    /// Adds a call and a put at each `(expiration index, strike, band)` not yet listed.
    fn add_strikes(&mut self, additions: &[(usize, Strike, StrikeBand)], seed: u64) -> usize {
        let listed: BTreeSet<ContractKey> = self.contracts.iter().map(|c| c.key).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut fresh = Vec::new();
        let mut seen = BTreeSet::new();
        for &(e, strike, band) in additions {
            let Some(expiry) = self.expirations.get(e) else {
                continue;
            };
            let key = ContractKey {
                root: expiry.root,
                expiration: expiry.date,
                right: Right::Call,
                strike,
            };
            if listed.contains(&key) || !seen.insert(key) {
                continue;
            }
            // Open interest is as of the previous close and a strike listed today has
            // not traded yet: none of either.
            let unopened = Scales {
                oi_calls: 0.0,
                oi_puts: 0.0,
                volume_today: 0.0,
                volume_later: 0.0,
            };
            push_pair(
                &self.config,
                unopened,
                expiry,
                strike,
                band,
                &mut rng,
                &mut fresh,
            );
        }
        let added = fresh.len();
        if added > 0 {
            let contracts = Arc::make_mut(&mut self.contracts);
            contracts.extend(fresh);
            contracts.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        }
        added
    }

    /// The config it was generated from.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// Index level at the photo.
    pub fn spot(&self) -> f64 {
        self.config.spot
    }

    /// Listed expirations, by date then root.
    pub fn expirations(&self) -> &[SimExpiry] {
        &self.expirations
    }

    /// All contracts, sorted by ticker (Massive's default `sort=ticker`).
    pub fn contracts(&self) -> &[SimContract] {
        &self.contracts
    }

    /// Number of contracts.
    pub fn len(&self) -> usize {
        self.contracts.len()
    }

    /// Whether no contract is listed.
    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty()
    }

    /// The contract with this Massive ticker, if listed.
    pub fn get(&self, ticker: &str) -> Option<&SimContract> {
        self.contracts
            .binary_search_by(|c| c.ticker.as_str().cmp(ticker))
            .ok()
            .map(|i| &self.contracts[i])
    }
}

/// Prices and draws a call and a put at `strike` in `expiry`, at the config's spot.
fn push_pair(
    config: &ChainConfig,
    scales: Scales,
    expiry: &SimExpiry,
    strike: Strike,
    band: StrikeBand,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<SimContract>,
) {
    let forward = config.spot * ((config.rate - config.div_yield) * expiry.t_years).exp();
    let m = (strike.points() / forward).ln();
    let vol = config.smile.vol(m, expiry.t_years);
    // One volume draw for the strike: the call and the put trade alike, so the
    // volume basis shows no side the simulator has no view on.
    let volume_noise =
        rng.random_range((1.0 - positioning::VOLUME_NOISE)..(1.0 + positioning::VOLUME_NOISE));
    for right in [Right::Call, Right::Put] {
        let key = ContractKey {
            root: expiry.root,
            expiration: expiry.date,
            right,
            strike,
        };
        let drawn = Drawn { vol, volume_noise };
        out.push(make_contract(config, scales, expiry, key, band, drawn, rng));
    }
}

/// What a call and a put at one strike share.
#[derive(Debug, Clone, Copy)]
struct Drawn {
    /// Implied volatility from the smile.
    vol: f64,
    /// The strike's volume noise (see [`positioning::VOLUME_NOISE`]).
    volume_noise: f64,
}

/// Draws everything market-like about one contract.
fn make_contract(
    config: &ChainConfig,
    scales: Scales,
    expiry: &SimExpiry,
    key: ContractKey,
    band: StrikeBand,
    drawn: Drawn,
    rng: &mut ChaCha8Rng,
) -> SimContract {
    let (spot, strike, t, vol) = (config.spot, key.strike.points(), expiry.t_years, drawn.vol);
    let inputs = bsm::Inputs {
        right: key.right,
        spot,
        strike,
        t_years: t,
        vol,
        rate: config.rate,
        div_yield: config.div_yield,
    };
    let (theo, greeks) = (inputs.price(), inputs.greeks());
    let distance = (strike / spot).ln().abs();
    let sqrt_t = t.sqrt();
    // How deep and fresh the quote is: books near the money are deeper.
    let quote_liquidity = (-distance / (0.01 + 0.05 * sqrt_t)).exp();

    let vendor_greeks = if greeks.delta.abs() > 0.995 {
        VendorGreeks::Empty
    } else if band == StrikeBand::Wide && rng.random_bool(0.4) {
        VendorGreeks::Absent
    } else {
        VendorGreeks::Full
    };

    let (bid_cents, ask_cents) = ticks::two_sided(
        theo,
        ticks::natural_spread(theo) * rng.random_range(0.8..1.5),
    );
    let bid_size = 1 + (rng.random::<f64>() * (5.0 + 150.0 * quote_liquidity)) as u32;
    let ask_size = 1 + (rng.random::<f64>() * (5.0 + 150.0 * quote_liquidity)) as u32;
    let quote_age_ms =
        (rng.random::<f64>() * (1_000.0 + 600_000.0 * (1.0 - quote_liquidity))) as i64;

    let terms = terms(config, expiry, key.strike, key.right);
    let noise = |rng: &mut ChaCha8Rng| {
        rng.random_range((1.0 - positioning::NOISE)..(1.0 + positioning::NOISE))
    };
    let p = &config.positioning;
    let oi_scale = match key.right {
        Right::Call => scales.oi_calls,
        Right::Put => scales.oi_puts,
    };
    let open_interest = (positioning::oi_weight(p, &terms) * oi_scale * noise(rng)).round() as u64;
    let volume_scale = if expiry.days == 0 {
        scales.volume_today
    } else {
        scales.volume_later
    };
    // Rounded up or down at random in proportion, so thin books keep their totals.
    let volume = (positioning::volume_weight(p, &terms) * volume_scale * drawn.volume_noise
        + rng.random::<f64>())
    .floor() as u64;
    let exchange = config.exchange;
    let condition = CONDITIONS[rng.random_range(0..CONDITIONS.len())];
    let (day, last_trade) = if volume > 0 {
        let price_cents = match rng.random_range(0..3) {
            0 => bid_cents.max(5),
            1 => ask_cents,
            _ => ticks::floor_to_tick(f64::from(bid_cents + ask_cents) / 2.0).max(5),
        };
        let trade = SimTrade {
            price_cents,
            size: rng.random_range(1..=volume.min(50) as u32),
            age_ms: rng.random_range(0..4 * 3_600_000),
            exchange,
            condition,
        };
        let previous = tick_price(theo * rng.random_range(0.8..1.25));
        let open = tick_price(ticks::points(previous) * rng.random_range(0.85..1.15));
        let high =
            open.max(price_cents) + ticks::tick_at(open.max(price_cents)) * rng.random_range(0..3);
        let low_floor = open.min(price_cents);
        let low = low_floor
            .saturating_sub(ticks::tick_at(low_floor) * rng.random_range(0..3))
            .max(5);
        let vwap = ticks::round_cents(
            ticks::points(low) + (ticks::points(high) - ticks::points(low)) * rng.random::<f64>(),
        );
        let day = SimDay {
            open_cents: open,
            high_cents: high,
            low_cents: low,
            close_cents: price_cents,
            previous_close_cents: previous,
            vwap,
            volume,
        };
        (Some(day), Some(trade))
    } else if open_interest > 0 && rng.random_bool(0.8) {
        // Traded on an earlier day: the day bar is flat at the last print.
        let price_cents = tick_price(theo * rng.random_range(0.6..1.5));
        let trade = SimTrade {
            price_cents,
            size: rng.random_range(1..=10),
            age_ms: rng.random_range(1..=20) * DAY_MS,
            exchange,
            condition,
        };
        let day = SimDay {
            open_cents: price_cents,
            high_cents: price_cents,
            low_cents: price_cents,
            close_cents: price_cents,
            previous_close_cents: price_cents,
            vwap: ticks::points(price_cents),
            volume: 0,
        };
        (Some(day), Some(trade))
    } else {
        (None, None)
    };

    SimContract {
        ticker: key.to_string(),
        key,
        kind: expiry.kind,
        band,
        days_to_expiry: expiry.days,
        t_years: t,
        vol,
        theo,
        greeks,
        vendor_greeks,
        bid_cents,
        ask_cents,
        bid_size,
        ask_size,
        quote_age_ms,
        open_interest,
        day,
        last_trade,
    }
}

/// A traded price on the tick grid, never below a nickel.
fn tick_price(points: f64) -> u32 {
    ticks::floor_to_tick(points * 100.0).max(5)
}

#[cfg(test)]
mod tests;
