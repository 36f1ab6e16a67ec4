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
//! The models need no holiday calendar: OCC symbols carry the actual expiration date
//! (a monthly whose Friday is Good Friday is listed with the Thursday), so the date is
//! always a trading day, and time is counted in calendar years (ACT/365, to the
//! millisecond) as the vendors quote implied volatility. The simulator, which has to
//! list expirations itself, and [`session_date`], which has to know which session a
//! moment belongs to, do need one: [`is_holiday`] gives the NYSE and Cboe holidays by
//! their rules (fixed dates moved off weekends, nth weekdays, Easter), not from a table,
//! so it never runs out. Unscheduled closures (national days of mourning such as
//! 2025-01-09, storms) cannot be predicted by rule and are not in it.
//!
//! Early closes do need a table, because they move the PM settlement by three hours;
//! it covers the published exchange calendars through 2027 and must be extended as
//! exchanges announce more. An early close missing from it makes a PM-settled
//! contract look three hours longer on that one day.
//!
//! Daylight saving is handled by the time zone database (jiff's bundled copy, so a
//! bare container gets the same answers).

use chainboard_model::Settlement;
use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday, date, time};
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

/// Whether the US equity and index markets (NYSE, Cboe) are closed for a holiday on
/// `day`. Weekends are not holidays (they are never trading days anyway); a holiday
/// that falls on a weekend counts on the weekday it is observed, if any:
///
/// - New Year's Day, January 1; on a Sunday, Monday January 2. On a Saturday it is not
///   observed: NYSE does not close on the last trading day of the old year.
/// - Martin Luther King Jr. Day, the third Monday of January.
/// - Washington's Birthday, the third Monday of February.
/// - Good Friday, two days before Easter Sunday.
/// - Memorial Day, the last Monday of May.
/// - Juneteenth, June 19, from 2022 on; Saturday → Friday, Sunday → Monday.
/// - Independence Day, July 4; Saturday → Friday, Sunday → Monday.
/// - Labor Day, the first Monday of September.
/// - Thanksgiving, the fourth Thursday of November.
/// - Christmas, December 25; Saturday → Friday, Sunday → Monday.
pub fn is_holiday(day: Date) -> bool {
    let (month, dom, weekday) = (day.month(), day.day(), day.weekday());
    if matches!(weekday, Weekday::Saturday | Weekday::Sunday) {
        return false;
    }
    let third_monday = weekday == Weekday::Monday && (15..=21).contains(&dom);
    match month {
        1 => dom == 1 || (dom == 2 && weekday == Weekday::Monday) || third_monday,
        2 => third_monday,
        3 | 4 => good_friday(day.year()) == Some(day),
        5 => weekday == Weekday::Monday && dom >= 25,
        6 => day.year() >= 2022 && is_observed_day_of(day, 6, 19),
        7 => is_observed_day_of(day, 7, 4),
        9 => weekday == Weekday::Monday && dom <= 7,
        11 => weekday == Weekday::Thursday && (22..=28).contains(&dom),
        12 => is_observed_day_of(day, 12, 25),
        _ => false,
    }
}

/// Whether the exchanges hold a regular session on `day`: a weekday that is not a
/// holiday ([`is_holiday`]).
pub fn is_trading_day(day: Date) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_holiday(day)
}

/// The first trading day strictly after `day`. Saturates at the end of the calendar
/// (9999-12-31), which no session reaches.
pub fn next_trading_day(day: Date) -> Date {
    let mut d = day;
    while let Ok(next) = d.tomorrow() {
        d = next;
        if is_trading_day(d) {
            break;
        }
    }
    d
}

/// The last trading day strictly before `day`. Saturates at the start of the calendar
/// (-9999-01-01), which no session reaches.
pub fn previous_trading_day(day: Date) -> Date {
    let mut d = day;
    while let Ok(prev) = d.yesterday() {
        d = prev;
        if is_trading_day(d) {
            break;
        }
    }
    d
}

/// The trading date whose session the moment `now_ms` (Unix ms) belongs to or comes
/// before: its New York date if that is a trading day and the moment is before the
/// day's close ([`close_on`]), the next trading day otherwise (after the close, on a
/// weekend or a holiday). Before the open a trading day's moment belongs to that day.
pub fn session_date(now_ms: i64, tz: &TimeZone) -> Date {
    let now = Timestamp::from_millisecond(now_ms).unwrap_or(if now_ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    let local = now.to_zoned_datetime(tz.clone()).datetime();
    let day = local.date();
    if is_trading_day(day) && local.time() < close_on(day) {
        day
    } else {
        next_trading_day(day)
    }
}

/// The session the moment `now_ms` belongs to ([`session_date`]), as the span flow is
/// counted over: from the previous trading day's close to the session's own close.
pub fn flow_session(now_ms: i64, tz: &TimeZone) -> chainboard_model::flow::Session {
    let date = session_date(now_ms, tz);
    let previous = previous_trading_day(date);
    let at = |day: Date| {
        day.to_datetime(close_on(day))
            .to_zoned_datetime(tz.clone())
            .map_or(0, |z| z.timestamp().as_millisecond())
    };
    chainboard_model::flow::Session {
        date,
        start_ms: at(previous),
        end_ms: at(date),
    }
}

/// Whether weekday `day` is when the fixed-date holiday `month`-`dom` of its year is
/// observed: the date itself, the Friday before if it falls on a Saturday, the Monday
/// after if on a Sunday. (Only for holidays whose neighbours stay in the same month.)
fn is_observed_day_of(day: Date, month: i8, dom: i8) -> bool {
    let Ok(holiday) = Date::new(day.year(), month, dom) else {
        return false;
    };
    let observed = match holiday.weekday() {
        Weekday::Saturday => holiday.yesterday(),
        Weekday::Sunday => holiday.tomorrow(),
        _ => Ok(holiday),
    };
    observed.ok() == Some(day)
}

/// Good Friday of `year`: two days before Easter Sunday.
fn good_friday(year: i16) -> Option<Date> {
    easter_sunday(year)?.yesterday().ok()?.yesterday().ok()
}

/// Easter Sunday of `year` in the Gregorian calendar, by the anonymous Gregorian
/// algorithm (Meeus/Jones/Butcher).
fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let (a, b, c) = (y.rem_euclid(19), y.div_euclid(100), y.rem_euclid(100));
    let (d, e) = (b.div_euclid(4), b.rem_euclid(4));
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let month = i8::try_from(n / 31).ok()?;
    let dom = i8::try_from(n % 31 + 1).ok()?;
    Date::new(year, month, dom).ok()
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
    fn early_close_table_is_sorted_trading_days() {
        assert!(EARLY_CLOSES.windows(2).all(|w| w[0] < w[1]));
        for &d in EARLY_CLOSES {
            assert!(is_trading_day(d), "{d}");
        }
        assert_eq!(close_on(date(2026, 11, 27)), EARLY_CLOSE);
        assert_eq!(close_on(date(2026, 11, 30)), REGULAR_CLOSE);
    }

    #[test]
    fn holidays_match_the_published_nyse_calendars() {
        // The NYSE's published lists. 2022 and 2023 add the edge rules: New Year's Day
        // on a Saturday is not observed (2021-12-31 traded), on a Sunday it moves to
        // Monday, and Juneteenth on a Sunday moves to Monday. Unscheduled closures
        // (2025-01-09, the national day of mourning for President Carter) are not
        // rule-based and not here.
        let published: [(i16, &[(i8, i8)]); 5] = [
            (
                2022,
                &[
                    (1, 17),
                    (2, 21),
                    (4, 15),
                    (5, 30),
                    (6, 20),
                    (7, 4),
                    (9, 5),
                    (11, 24),
                    (12, 26),
                ],
            ),
            (
                2023,
                &[
                    (1, 2),
                    (1, 16),
                    (2, 20),
                    (4, 7),
                    (5, 29),
                    (6, 19),
                    (7, 4),
                    (9, 4),
                    (11, 23),
                    (12, 25),
                ],
            ),
            (
                2025,
                &[
                    (1, 1),
                    (1, 20),
                    (2, 17),
                    (4, 18),
                    (5, 26),
                    (6, 19),
                    (7, 4),
                    (9, 1),
                    (11, 27),
                    (12, 25),
                ],
            ),
            (
                2026,
                &[
                    (1, 1),
                    (1, 19),
                    (2, 16),
                    (4, 3),
                    (5, 25),
                    (6, 19),
                    (7, 3),
                    (9, 7),
                    (11, 26),
                    (12, 25),
                ],
            ),
            (
                2027,
                &[
                    (1, 1),
                    (1, 18),
                    (2, 15),
                    (3, 26),
                    (5, 31),
                    (6, 18),
                    (7, 5),
                    (9, 6),
                    (11, 25),
                    (12, 24),
                ],
            ),
        ];
        for (year, days) in published {
            let want: Vec<Date> = days.iter().map(|&(m, d)| date(year, m, d)).collect();
            let got: Vec<Date> = date(year, 1, 1)
                .series(jiff::Span::new().days(1))
                .take_while(|d| d.year() == year)
                .filter(|&d| is_holiday(d))
                .collect();
            assert_eq!(got, want, "{year}");
        }
        // Juneteenth only from 2022; New Year's Day 2028 is a Saturday, so the last
        // day of 2027 trades.
        assert!(is_trading_day(date(2021, 6, 18)));
        assert!(is_trading_day(date(2027, 12, 31)));
        // Weekends are closed but not holidays.
        assert!(!is_holiday(date(2026, 7, 4)) && !is_trading_day(date(2026, 7, 4)));
    }

    #[test]
    fn trading_days_step_over_weekends_and_holidays() {
        // (day, the previous trading day, the next trading day)
        let cases = [
            // An ordinary Wednesday.
            ((2026, 11, 18), (2026, 11, 17), (2026, 11, 19)),
            // Thanksgiving week: Wednesday → Friday.
            ((2026, 11, 25), (2026, 11, 24), (2026, 11, 27)),
            ((2026, 11, 27), (2026, 11, 25), (2026, 11, 30)),
            // Good Friday 2026, then a weekend.
            ((2026, 4, 3), (2026, 4, 2), (2026, 4, 6)),
            // The Independence Day long weekend of 2027 (Monday observed).
            ((2027, 7, 2), (2027, 7, 1), (2027, 7, 6)),
            // Christmas 2027 is observed on Friday the 24th; New Year's 2028 (a
            // Saturday) is not observed at all.
            ((2027, 12, 27), (2027, 12, 23), (2027, 12, 28)),
            ((2027, 12, 31), (2027, 12, 30), (2028, 1, 3)),
            // From a Sunday.
            ((2026, 11, 22), (2026, 11, 20), (2026, 11, 23)),
        ];
        for ((y, m, d), (py, pm, pd), (ny, nm, nd)) in cases {
            let day = date(y, m, d);
            assert_eq!(previous_trading_day(day), date(py, pm, pd), "before {day}");
            assert_eq!(next_trading_day(day), date(ny, nm, nd), "after {day}");
        }
    }

    #[test]
    fn flow_counts_from_the_last_close_to_the_sessions_close() {
        let tz = exchange_time_zone();
        // Monday midday: from Friday's close to Monday's.
        let s = flow_session(ny_ms(2026, 12, 7, 11, 0), &tz);
        assert_eq!(s.date, date(2026, 12, 7));
        assert_eq!(s.start_ms, ny_ms(2026, 12, 4, 16, 0));
        assert_eq!(s.end_ms, ny_ms(2026, 12, 7, 16, 0));
        // Friday after Thanksgiving: from Wednesday's close to the early close.
        let s = flow_session(ny_ms(2026, 11, 27, 9, 45), &tz);
        assert_eq!(s.start_ms, ny_ms(2026, 11, 25, 16, 0));
        assert_eq!(s.end_ms, ny_ms(2026, 11, 27, 13, 0));
        // Moments at the close begin the next session, which starts there.
        let s = flow_session(ny_ms(2026, 12, 7, 16, 0), &tz);
        assert_eq!(
            (s.date, s.start_ms),
            (date(2026, 12, 8), ny_ms(2026, 12, 7, 16, 0))
        );
    }

    #[test]
    fn a_moment_belongs_to_the_session_it_is_in_or_before() {
        let tz = exchange_time_zone();
        // (New York wall clock, the session date)
        let cases = [
            // Friday before the close, at and after it.
            ((2026, 11, 20, 15, 59), (2026, 11, 20)),
            ((2026, 11, 20, 16, 0), (2026, 11, 23)),
            ((2026, 11, 20, 20, 0), (2026, 11, 23)),
            // Saturday → Monday.
            ((2026, 11, 21, 12, 0), (2026, 11, 23)),
            // Before the open a trading day is already that day's session.
            ((2026, 11, 23, 7, 0), (2026, 11, 23)),
            // After the close on the day before Thanksgiving → the Friday after it.
            ((2026, 11, 25, 16, 30), (2026, 11, 27)),
            // Thanksgiving itself.
            ((2026, 11, 26, 10, 0), (2026, 11, 27)),
            // The early close: 13:00 ends the session.
            ((2026, 11, 27, 12, 59), (2026, 11, 27)),
            ((2026, 11, 27, 13, 0), (2026, 11, 30)),
            // Thursday after the close before Good Friday 2026 → Monday.
            ((2026, 4, 2, 17, 0), (2026, 4, 6)),
        ];
        for ((y, m, d, h, min), (sy, sm, sd)) in cases {
            let got = session_date(ny_ms(y, m, d, h, min), &tz);
            assert_eq!(got, date(sy, sm, sd), "{y}-{m}-{d} {h}:{min}");
        }
    }

    #[test]
    fn easter_matches_known_dates() {
        for (y, m, d) in [
            (1961, 4, 2),
            (2000, 4, 23),
            (2008, 3, 23),
            (2019, 4, 21),
            (2024, 3, 31),
            (2038, 4, 25),
        ] {
            assert_eq!(easter_sunday(y), Some(date(y, m, d)), "{y}");
        }
    }
}
