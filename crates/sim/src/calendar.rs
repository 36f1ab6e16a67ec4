//! The simulated chain's expiration calendar: which dates are listed, of which kind,
//! and how long each has until settlement.
//!
//! Expirations follow the exchange (`chainboard_quant::expiry::is_trading_day`): only
//! trading days, a weekly or monthly whose Friday is a holiday moving to the trading
//! day before. Time to expiry runs from the photo instant to each contract's
//! settlement moment, to the millisecond, so weekends, holidays, early closes and
//! daylight saving are exact.

use chainboard_model::{Root, Settlement};
use jiff::civil::{Date, Weekday};

use crate::chain::{ChainConfig, ExpiryKind, SimExpiry};

/// Every listed expiration, ordered by date then root.
///
/// Expirations fall on trading days only
/// ([`chainboard_quant::expiry::is_trading_day`]), moved the way Cboe moves them: a
/// weekly or monthly whose Friday is a holiday expires on the trading day before (Good
/// Friday's weekly on the Thursday), and the quarterly is the last trading day of the
/// quarter. If `today` is not a trading day, the listing starts at the next one.
pub(crate) fn list_expirations(config: &ChainConfig) -> Vec<SimExpiry> {
    use chainboard_quant::expiry as exchange;

    let s = config.schedule;
    let last = s
        .daily_days
        .max(s.weekly_days)
        .max(s.monthly_days)
        .max(s.quarterly_days);
    let tz = exchange::exchange_time_zone();
    // The photo is taken `hours_to_close` before today's close (13:00 on an early
    // close): every expiration's time is measured from that instant.
    let photo_ms = config
        .today
        .to_datetime(exchange::close_on(config.today))
        .to_zoned_datetime(tz.clone())
        .ok()
        .map(|close| {
            close.timestamp().as_millisecond()
                - (config.hours_to_close * 3_600_000.0).round() as i64
        });
    let mut listed = Vec::new();
    let mut date = Some(config.today);
    for days in 0..=last {
        let Some(d) = date else { break };
        date = d.tomorrow().ok();
        if !exchange::is_trading_day(d) {
            continue;
        }
        // `d` is a weekday, so its week's Friday is at most four days ahead.
        let friday = d
            .checked_add(jiff::Span::new().days(d.weekday().until(Weekday::Friday)))
            .ok();
        let weekly = friday.map(moved_to_trading_day) == Some(d);
        let monthly = d
            .nth_weekday_of_month(3, Weekday::Friday)
            .ok()
            .map(moved_to_trading_day)
            == Some(d);
        let quarter_end = d.month() % 3 == 0 && moved_to_trading_day(d.last_of_month()) == d;
        let kind = if monthly {
            ExpiryKind::Monthly
        } else if quarter_end {
            ExpiryKind::Quarterly
        } else if weekly {
            ExpiryKind::Weekly
        } else {
            ExpiryKind::Daily
        };
        let pm_listed = days <= s.daily_days
            || (days <= s.weekly_days && weekly)
            || (days <= s.monthly_days && monthly)
            || (days <= s.quarterly_days && quarter_end);
        // The AM monthly stops trading the afternoon before its settlement morning, so
        // on its own expiration day it is no longer listed.
        if monthly && (1..=s.monthly_days).contains(&days) {
            listed.push(expiry(
                config.monthly_root,
                d,
                kind,
                Settlement::AmOpen,
                days,
                photo_ms,
                &tz,
            ));
        }
        if pm_listed {
            listed.push(expiry(
                config.weekly_root,
                d,
                kind,
                Settlement::PmClose,
                days,
                photo_ms,
                &tz,
            ));
        }
    }
    listed
}

/// One expiration, its time counted from the photo instant `photo_ms` to the
/// settlement moment ([`chainboard_quant::expiry::settlement_ms`]) to the millisecond,
/// so weekends, holidays, early closes and daylight saving are exact.
fn expiry(
    root: Root,
    date: Date,
    kind: ExpiryKind,
    settlement: Settlement,
    days: i64,
    photo_ms: Option<i64>,
    tz: &jiff::tz::TimeZone,
) -> SimExpiry {
    use chainboard_quant::expiry as exchange;

    // At least a minute, so a contract at its last instant still has a price process.
    const MIN_MS: i64 = 60_000;
    let settles_ms = exchange::settlement_ms(date, settlement, tz);
    // Both instants exist for every date but the calendar's very ends.
    let left_ms = photo_ms
        .zip(settles_ms)
        .map_or(MIN_MS, |(photo, settles)| (settles - photo).max(MIN_MS));
    SimExpiry {
        root,
        date,
        kind,
        settlement,
        days,
        t_years: left_ms as f64 / exchange::MS_PER_YEAR,
    }
}

/// Where the exchange puts an expiration scheduled for `d`: `d` if it is a trading
/// day, else the trading day before it (a Friday holiday moves the weekly and the
/// monthly to Thursday; a quarter ending on a weekend or holiday expires before it).
fn moved_to_trading_day(d: Date) -> Date {
    use chainboard_quant::expiry as exchange;

    if exchange::is_trading_day(d) {
        d
    } else {
        exchange::previous_trading_day(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::SimChain;
    use jiff::civil::date;
    use std::collections::{BTreeMap, BTreeSet};

    fn spx() -> SimChain {
        SimChain::generate(ChainConfig::spx_like(date(2026, 11, 24), 7))
    }

    #[test]
    fn the_expiration_calendar_looks_like_cboes() {
        // 2026-11-24 is a Tuesday; the third Friday of December 2026 is the 18th.
        let chain = spx();
        let listed = |root: &str, d: Date| {
            chain
                .expirations()
                .iter()
                .find(|e| e.root.as_str() == root && e.date == d)
                .map(|e| e.kind)
        };
        assert_eq!(listed("SPXW", date(2026, 11, 24)), Some(ExpiryKind::Daily));
        assert_eq!(listed("SPXW", date(2026, 11, 26)), None, "Thanksgiving");
        assert_eq!(listed("SPXW", date(2026, 11, 27)), Some(ExpiryKind::Weekly));
        assert_eq!(listed("SPXW", date(2026, 11, 28)), None, "Saturday");
        // Christmas is a Friday: that week's weekly expires on Thursday the 24th.
        assert_eq!(listed("SPXW", date(2026, 12, 24)), Some(ExpiryKind::Weekly));
        assert_eq!(listed("SPXW", date(2026, 12, 25)), None, "Christmas");
        // New Year's Day 2027 is a Friday: its week's weekly is December 31, which is
        // also the quarter's last trading day.
        assert_eq!(listed("SPXW", date(2027, 1, 1)), None, "New Year's Day");
        assert_eq!(listed("SPX", date(2026, 12, 18)), Some(ExpiryKind::Monthly));
        assert_eq!(
            listed("SPXW", date(2026, 12, 18)),
            Some(ExpiryKind::Monthly)
        );
        assert_eq!(
            listed("SPXW", date(2026, 12, 31)),
            Some(ExpiryKind::Quarterly)
        );
        // Past the dailies only Fridays; past the weeklies only monthlies.
        assert_eq!(listed("SPXW", date(2027, 1, 12)), None);
        assert_eq!(listed("SPXW", date(2027, 1, 15)), Some(ExpiryKind::Monthly));
        assert_eq!(listed("SPXW", date(2027, 3, 12)), None);
        assert_eq!(listed("SPX", date(2027, 11, 19)), Some(ExpiryKind::Monthly));
        assert_eq!(
            listed("SPX", date(2028, 3, 17)),
            None,
            "monthlies end at a year"
        );
        assert_eq!(
            listed("SPXW", date(2028, 9, 29)),
            Some(ExpiryKind::Quarterly)
        );
        assert_eq!(
            listed("SPXW", date(2029, 3, 30)),
            None,
            "quarterlies end at two years"
        );
        assert!(
            chain
                .expirations()
                .windows(2)
                .all(|w| w[0].date <= w[1].date)
        );

        // Good Friday moves the weekly to Thursday (2026) and, when it is the third
        // Friday, the AM and PM monthlies too (2025).
        let kinds_on = |today: Date, d: Date| -> Vec<(String, ExpiryKind)> {
            list_expirations(&ChainConfig::spx_like(today, 7))
                .into_iter()
                .filter(|e| e.date == d)
                .map(|e| (e.root.as_str().to_owned(), e.kind))
                .collect()
        };
        let weekly = vec![("SPXW".to_owned(), ExpiryKind::Weekly)];
        assert_eq!(kinds_on(date(2026, 3, 20), date(2026, 4, 2)), weekly);
        assert_eq!(kinds_on(date(2026, 3, 20), date(2026, 4, 3)), vec![]);
        let monthly = vec![
            ("SPX".to_owned(), ExpiryKind::Monthly),
            ("SPXW".to_owned(), ExpiryKind::Monthly),
        ];
        assert_eq!(kinds_on(date(2025, 3, 20), date(2025, 4, 17)), monthly);
        assert_eq!(kinds_on(date(2025, 3, 20), date(2025, 4, 18)), vec![]);
        // A listing made on a Saturday starts on Monday, counting days from Saturday.
        let weekend = list_expirations(&ChainConfig::spx_like(date(2026, 11, 21), 7));
        assert_eq!(
            weekend.first().map(|e| (e.date, e.days, e.kind)),
            Some((date(2026, 11, 23), 2, ExpiryKind::Daily))
        );
    }

    #[test]
    fn time_to_expiry_runs_from_the_photo_to_the_settlement_instant() {
        // (today, hours to close at the photo, root, expiration, hours to settlement)
        let cases = [
            // 0DTE: the hours left in the session.
            (date(2026, 11, 24), 4.0, "SPXW", date(2026, 11, 24), 4.0),
            // Over Thanksgiving to the 13:00 early close of the Friday after it:
            // 12:00 Tuesday to 13:00 Friday, 3 × 24 + 1.
            (date(2026, 11, 24), 4.0, "SPXW", date(2026, 11, 27), 73.0),
            // The AM monthly settles at the 09:30 open: 24 days less 2.5 hours.
            (date(2026, 11, 24), 4.0, "SPX", date(2026, 12, 18), 573.5),
            // Over the spring daylight-saving change (March 8): 12:00 to 16:00 a week
            // later is 7 × 24 + 4 hours less the skipped one.
            (date(2026, 3, 6), 4.0, "SPXW", date(2026, 3, 13), 171.0),
            // A photo on an early-close day is taken before 13:00, not 16:00: 11:00
            // Friday to 16:00 Monday, 3 × 24 + 5.
            (date(2026, 11, 27), 2.0, "SPXW", date(2026, 11, 30), 77.0),
        ];
        for (today, hours_to_close, root, expiration, hours) in cases {
            let config = ChainConfig {
                hours_to_close,
                ..ChainConfig::spx_like(today, 7)
            };
            let expirations = list_expirations(&config);
            let e = expirations
                .iter()
                .find(|e| e.root.as_str() == root && e.date == expiration);
            let got = e.map(|e| e.t_years * 365.0 * 24.0);
            assert!(
                got.is_some_and(|got| (got - hours).abs() < 1e-9),
                "{root} {expiration} from {today}: {got:?} hours, want {hours}"
            );
        }
    }

    #[test]
    fn every_listing_day_of_two_years_follows_the_exchange_calendar() {
        use chainboard_quant::expiry::{is_holiday, is_trading_day, next_trading_day};

        let week_of = |d: Date| {
            let iso = d.iso_week_date();
            (iso.year(), iso.week())
        };
        let days_after = |today: Date, d: Date| {
            today
                .until(d)
                .map(|span| i64::from(span.get_days()))
                .unwrap_or(i64::MAX)
        };
        let mut today = next_trading_day(date(2025, 12, 31));
        let mut listings = 0;
        while today.year() <= 2027 {
            for config in [
                ChainConfig::spx_like(today, 7),
                ChainConfig::ndx_like(today, 7),
            ] {
                let s = config.schedule;
                let expirations = list_expirations(&config);
                listings += 1;
                let pm = |d: Date| {
                    expirations
                        .iter()
                        .find(|e| e.root == config.weekly_root && e.date == d)
                };
                assert!(expirations.windows(2).all(|w| w[0].date <= w[1].date));
                for e in &expirations {
                    assert!(is_trading_day(e.date), "{today}: {} {}", e.root, e.date);
                    assert_eq!(e.days, days_after(today, e.date));
                }
                // Every trading day within the daily horizon has a PM expiration, and
                // the last trading day of every week within the weekly one is at least
                // a weekly.
                let mut d = today;
                while days_after(today, d) <= s.weekly_days {
                    let next = next_trading_day(d);
                    if days_after(today, d) <= s.daily_days {
                        assert!(pm(d).is_some(), "{today}: no daily on {d}");
                    }
                    if week_of(next) != week_of(d) {
                        let kind = pm(d).map(|e| e.kind);
                        assert!(
                            kind.is_some_and(|k| k != ExpiryKind::Daily),
                            "{today}: the week's last trading day {d} is {kind:?}"
                        );
                    }
                    d = next;
                }
                // One monthly date per month: the third Friday, or the Thursday before
                // it when it is a holiday; the AM root expires with it (but has
                // stopped trading on the day itself).
                let mut monthly: BTreeMap<(i16, i8), BTreeSet<Date>> = BTreeMap::new();
                for e in &expirations {
                    if e.kind == ExpiryKind::Monthly {
                        monthly
                            .entry((e.date.year(), e.date.month()))
                            .or_default()
                            .insert(e.date);
                    }
                }
                for (&(y, m), dates) in &monthly {
                    assert_eq!(dates.len(), 1, "{today}: {y}-{m} {dates:?}");
                    let d = *dates.first().unwrap_or(&today);
                    let third_friday =
                        d.weekday() == Weekday::Friday && (15..=21).contains(&d.day());
                    let moved = d.weekday() == Weekday::Thursday
                        && (14..=20).contains(&d.day())
                        && d.tomorrow().is_ok_and(is_holiday);
                    assert!(third_friday || moved, "{today}: monthly on {d}");
                    let am = expirations
                        .iter()
                        .any(|e| e.root == config.monthly_root && e.date == d);
                    assert_eq!(am, d != today, "{today}: AM monthly on {d}");
                }
                // ...and every month whose third week lies in the horizon has one.
                let mut month = today.first_of_month();
                while days_after(today, month) <= s.monthly_days {
                    let (from, to) = (
                        date(month.year(), month.month(), 14),
                        date(month.year(), month.month(), 21),
                    );
                    if days_after(today, from) >= 0 && days_after(today, to) <= s.monthly_days {
                        assert!(
                            monthly.contains_key(&(month.year(), month.month())),
                            "{today}: no monthly in {month}"
                        );
                    }
                    month = month.last_of_month().tomorrow().unwrap_or(Date::MAX);
                }
            }
            today = next_trading_day(today);
        }
        // NYSE's 2026 and 2027 calendars have 251 sessions each.
        assert_eq!(listings, 2 * (251 + 251), "trading days listed on");
    }
}
