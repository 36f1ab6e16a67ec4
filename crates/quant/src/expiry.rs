//! When a contract settles, exactly, and how much time is left until then.
//!
//! Greeks of a 0DTE contract move by the minute, so time to expiry is measured to the
//! settlement moment itself, in New York time, not to a date:
//!
//! - **PM-settled** (SPXW, NDXP, equity options): the closing value of expiration day,
//!   16:00 ET, or 13:00 ET on an early-close day (the day after Thanksgiving, Christmas
//!   Eve; see [`EARLY_CLOSES`]).
//! - **AM-settled** (the SPX and NDX monthlies): the special opening quotation of
//!   expiration morning, computed from the opening prints; we take the 09:30 ET open as
//!   the moment. Trading in them stops the afternoon before, but their value depends
//!   on the index until the open, so that is when their time runs out.
//!
//! Market holidays need no table here: OCC symbols carry the actual expiration date
//! (a monthly whose Friday is Good Friday is listed with the Thursday), so the date is
//! always a trading day, and time is counted in calendar years (ACT/365, to the
//! millisecond) as the vendors quote implied volatility. Early closes do need a table,
//! because they move the PM settlement by three hours; it covers the published
//! exchange calendars through 2027 and must be extended as exchanges announce more.
//! An early close missing from it makes a PM-settled contract look three hours longer
//! on that one day.
//!
//! Daylight saving is handled by the time zone database (jiff's bundled copy, so a
//! bare container gets the same answers).

use chainboard_model::Settlement;
use jiff::civil::{Date, Time, date, time};
use jiff::tz::TimeZone;

/// The exchanges' time zone: sessions, closes and settlements are New York times.
pub const EXCHANGE_TZ: &str = "America/New_York";

/// US Eastern time as a POSIX rule (the US daylight-saving rules since 2007): exact
/// for every current date, and what [`exchange_time_zone`] falls back to.
pub const EXCHANGE_TZ_POSIX: &str = "EST5EDT,M3.2.0,M11.1.0";

/// The regular close, when PM-settled contracts settle.
pub const REGULAR_CLOSE: Time = time(16, 0, 0, 0);

/// The close on an early-close day.
pub const EARLY_CLOSE: Time = time(13, 0, 0, 0);

/// The open, when AM-settled contracts settle.
pub const OPEN: Time = time(9, 30, 0, 0);

/// Days the US equity and index markets close at 13:00 ET, from the NYSE and Cboe
/// calendars (the day after Thanksgiving and Christmas Eve when it is a weekday,
/// July 3 when Independence Day falls on a weekday after it).
pub const EARLY_CLOSES: &[Date] = &[
    date(2025, 7, 3),
    date(2025, 11, 28),
    date(2025, 12, 24),
    date(2026, 11, 27),
    date(2026, 12, 24),
    date(2027, 11, 26),
];

/// Milliseconds in the ACT/365 year that implied volatilities are quoted against.
pub const MS_PER_YEAR: f64 = 365.0 * 86_400_000.0;

/// The close of the session on `day`: [`EARLY_CLOSE`] on the days in
/// [`EARLY_CLOSES`], [`REGULAR_CLOSE`] otherwise.
pub fn close_on(day: Date) -> Time {
    if EARLY_CLOSES.binary_search(&day).is_ok() {
        EARLY_CLOSE
    } else {
        REGULAR_CLOSE
    }
}

/// The New York time of day at which a contract expiring on `expiration` settles.
pub fn settlement_time(expiration: Date, settlement: Settlement) -> Time {
    match settlement {
        Settlement::AmOpen => OPEN,
        Settlement::PmClose => close_on(expiration),
    }
}

/// New York's time zone, from jiff's bundled database.
///
/// The bundle is compiled in, so the lookup cannot miss in practice; should it ever,
/// the fixed US rule (EST/EDT, second Sunday of March to first Sunday of November) is
/// exact for every date since 2007.
pub fn exchange_time_zone() -> TimeZone {
    TimeZone::get(EXCHANGE_TZ)
        .or_else(|_| TimeZone::posix(EXCHANGE_TZ_POSIX))
        .unwrap_or(TimeZone::UTC)
}

/// The settlement moment of a contract, Unix ms. `None` only for dates at the very
/// ends of the calendar, which no listed contract has.
pub fn settlement_ms(expiration: Date, settlement: Settlement, tz: &TimeZone) -> Option<i64> {
    let local = expiration.to_datetime(settlement_time(expiration, settlement));
    let zoned = local.to_zoned_datetime(tz.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// Years (ACT/365) from `now_ms` to `settles_ms`; negative once settled.
pub fn years_between(now_ms: i64, settles_ms: i64) -> f64 {
    (settles_ms - now_ms) as f64 / MS_PER_YEAR
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny_ms(y: i16, m: i8, d: i8, h: i8, min: i8) -> i64 {
        date(y, m, d)
            .at(h, min, 0, 0)
            .to_zoned_datetime(exchange_time_zone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MIN)
    }

    #[test]
    fn settlement_moments_follow_style_calendar_and_daylight_saving() {
        let tz = exchange_time_zone();
        // (expiration, style, the New York wall-clock moment, its UTC hour)
        let cases = [
            // A regular winter day: 16:00 EST is 21:00 UTC.
            ((2026, 11, 24), Settlement::PmClose, (16, 0), 21),
            // The day after Thanksgiving closes at 13:00.
            ((2026, 11, 27), Settlement::PmClose, (13, 0), 18),
            // Christmas Eve too.
            ((2026, 12, 24), Settlement::PmClose, (13, 0), 18),
            // AM-settled monthly: the open, in summer time (09:30 EDT = 13:30 UTC).
            ((2026, 6, 18), Settlement::AmOpen, (9, 30), 13),
            // An early close does not move an AM settlement.
            ((2026, 11, 27), Settlement::AmOpen, (9, 30), 14),
            // The Friday after the spring change: 16:00 EDT = 20:00 UTC.
            ((2026, 3, 13), Settlement::PmClose, (16, 0), 20),
        ];
        for ((y, m, d), style, (h, min), utc_hour) in cases {
            let got = settlement_ms(date(y, m, d), style, &tz);
            assert_eq!(got, Some(ny_ms(y, m, d, h, min)), "{y}-{m}-{d} {style:?}");
            let utc = jiff::Timestamp::from_millisecond(got.unwrap_or_default())
                .map(|t| t.to_zoned_datetime(TimeZone::UTC).hour())
                .ok();
            assert_eq!(utc, Some(utc_hour), "{y}-{m}-{d} {style:?}");
        }
    }

    #[test]
    fn time_left_counts_calendar_milliseconds() {
        let tz = exchange_time_zone();
        let settles = settlement_ms(date(2026, 11, 24), Settlement::PmClose, &tz);
        let settles = settles.unwrap_or_default();
        let now = ny_ms(2026, 11, 24, 15, 30);
        let years = years_between(now, settles);
        assert!((years * 365.0 * 24.0 * 60.0 - 30.0).abs() < 1e-9, "{years}");
        // A week out, over a weekend: calendar days count.
        let next_week = settlement_ms(date(2026, 12, 1), Settlement::PmClose, &tz);
        let days = years_between(settles, next_week.unwrap_or_default()) * 365.0;
        assert!((days - 7.0).abs() < 1e-12, "{days}");
        // Settled is negative.
        assert!(years_between(settles + 1, settles) < 0.0);
    }

    #[test]
    fn early_close_table_is_sorted_weekdays() {
        assert!(EARLY_CLOSES.windows(2).all(|w| w[0] < w[1]));
        for d in EARLY_CLOSES {
            assert!(
                !matches!(
                    d.weekday(),
                    jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
                ),
                "{d}"
            );
        }
        assert_eq!(close_on(date(2026, 11, 27)), EARLY_CLOSE);
        assert_eq!(close_on(date(2026, 11, 30)), REGULAR_CLOSE);
    }
}
