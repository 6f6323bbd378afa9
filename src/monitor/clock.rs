//! Wall-clock time for monitoring, and the text forms nats-server gives times and durations
//! in its JSON and HTTP headers.
//!
//! Cores keep `Instant`s (one read per loop turn, no system call per event); a
//! [`WallClock`] taken at start-up turns any of them into Unix time, the same way on every
//! core, so times from different cores compare exactly.

use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NANOS_PER_SECOND: u128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Maps monotonic instants to Unix time, anchored once at start-up.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    base: Instant,
    base_unix_nanos: i64,
}

impl WallClock {
    /// Anchors the clock at this moment.
    pub fn start() -> WallClock {
        let base = Instant::now();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        WallClock {
            base,
            base_unix_nanos: i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Unix time in nanoseconds of `at`.
    pub fn unix_nanos(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.base) {
            Some(after) => self.base_unix_nanos.saturating_add(nanos_i64(after)),
            None => self
                .base_unix_nanos
                .saturating_sub(nanos_i64(self.base.duration_since(at))),
        }
    }

    /// Unix time in nanoseconds of the anchor (the server's start).
    pub fn start_unix_nanos(&self) -> i64 {
        self.base_unix_nanos
    }

    /// The system clock now, as Unix nanoseconds.
    pub fn now_unix_nanos() -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        nanos_i64(since_epoch)
    }
}

fn nanos_i64(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// A civil date in the proleptic Gregorian calendar: (year, month 1-12, day 1-31), from days
/// since 1970-01-01 (H. Hinnant's days-to-civil algorithm, 400-year eras).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Splits Unix nanoseconds into (days since the epoch, second of the day, nanosecond).
fn split_unix_nanos(unix_nanos: i64) -> (i64, i64, i64) {
    let seconds = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    (
        seconds.div_euclid(SECONDS_PER_DAY),
        seconds.rem_euclid(SECONDS_PER_DAY),
        nanos,
    )
}

/// Go's `time.RFC3339Nano` in UTC, as nats-server's JSON shows times:
/// `2026-11-22T07:04:46.46188048Z` (trailing zeros of the fraction dropped, no fraction at
/// all on a whole second).
pub fn rfc3339_nanos(unix_nanos: i64) -> String {
    let (days, second_of_day, nanos) = split_unix_nanos(unix_nanos);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    push_fraction(&mut text, nanos as u128, 9);
    text.push('Z');
    text
}

/// The HTTP `Date` header value (RFC 7231 IMF-fixdate): `Sun, 22 Nov 2026 07:04:47 GMT`.
pub fn http_date(unix_nanos: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, second_of_day, _) = split_unix_nanos(unix_nanos);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        MONTHS[month as usize - 1],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Appends `.digits` of `value` (a fraction with `precision` decimal places), trailing zeros
/// dropped; nothing when the fraction is zero.
fn push_fraction(text: &mut String, value: u128, precision: u32) {
    if value == 0 {
        return;
    }
    let digits = format!("{value:0width$}", width = precision as usize);
    text.push('.');
    text.push_str(digits.trim_end_matches('0'));
}

/// Go's `time.Duration.String()`: `0s`, `750ns`, `441µs`, `1.234567ms`, `2.5s`, `1m1.5s`,
/// `1h0m0s`. nats-server shows `rtt` this way.
pub fn go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    let mut text = String::new();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < NANOS_PER_SECOND {
        let (precision, unit) = match nanos {
            0..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        let scale = 10u128.pow(precision);
        let _ = write!(text, "{}", nanos / scale);
        push_fraction(&mut text, nanos % scale, precision);
        text.push_str(unit);
        return text;
    }
    let seconds = nanos / NANOS_PER_SECOND;
    let (hours, minutes) = (seconds / 3600, seconds / 60 % 60);
    if hours > 0 {
        let _ = write!(text, "{hours}h{minutes}m");
    } else if minutes > 0 {
        let _ = write!(text, "{minutes}m");
    }
    let _ = write!(text, "{}", seconds % 60);
    push_fraction(&mut text, nanos % NANOS_PER_SECOND, 9);
    text.push('s');
    text
}

/// nats-server's uptime/idle text, whole seconds: `0s`, `1m31s`, `2h0m5s`, `3d4h5m6s`,
/// `1y2d3h4m5s` (a year is 365 days).
pub fn uptime(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            minutes % 60,
            seconds % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, minutes % 60, seconds % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", minutes % 60, seconds % 60)
    } else if minutes > 0 {
        format!("{minutes}m{}s", seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

/// The span between two Unix times in nanoseconds (zero if `later` is earlier).
pub fn between(earlier_unix_nanos: i64, later_unix_nanos: i64) -> Duration {
    let nanos = later_unix_nanos.saturating_sub(earlier_unix_nanos).max(0);
    Duration::from_nanos(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_go() {
        // 2026-11-22T07:04:46.46188048Z, as nats-server printed it.
        let nanos = 1_795_331_086_461_880_480;
        assert_eq!(rfc3339_nanos(nanos), "2026-11-22T07:04:46.46188048Z");
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nanos(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(rfc3339_nanos(-1_000_000_000), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_nanos(4_107_542_400_500_000_000),
            "2100-03-01T00:00:00.5Z"
        );
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        assert_eq!(
            http_date(1_795_331_087_538_183_075),
            "Sun, 22 Nov 2026 07:04:47 GMT"
        );
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn durations_read_like_go() {
        let check = |nanos: u64, expected: &str| {
            assert_eq!(
                go_duration(Duration::from_nanos(nanos)),
                expected,
                "{nanos}"
            );
        };
        check(0, "0s");
        check(1, "1ns");
        check(999, "999ns");
        check(1_000, "1µs");
        check(441_000, "441µs");
        check(441_500, "441.5µs");
        check(1_234_567, "1.234567ms");
        check(1_000_000, "1ms");
        check(2_500_000_000, "2.5s");
        check(61_500_000_000, "1m1.5s");
        check(3_600_000_000_000, "1h0m0s");
        check(3_723_000_000_001, "1h2m3.000000001s");
    }

    #[test]
    fn uptime_reads_like_nats_server() {
        let check = |seconds: u64, expected: &str| {
            assert_eq!(uptime(Duration::from_secs(seconds)), expected, "{seconds}");
        };
        check(0, "0s");
        check(59, "59s");
        check(91, "1m31s");
        check(7205, "2h0m5s");
        check(3 * 86_400 + 4 * 3600 + 5 * 60 + 6, "3d4h5m6s");
        check(366 * 86_400 + 5, "1y1d0h0m5s");
        assert_eq!(uptime(Duration::from_millis(1999)), "1s");
    }

    #[test]
    fn wall_clock_maps_instants_both_ways() {
        let clock = WallClock::start();
        let later = clock.base + Duration::from_millis(1500);
        assert_eq!(
            clock.unix_nanos(later) - clock.start_unix_nanos(),
            1_500_000_000
        );
        assert_eq!(clock.unix_nanos(clock.base), clock.start_unix_nanos());
        assert_eq!(between(10, 3), Duration::ZERO);
        assert_eq!(between(3, 10), Duration::from_nanos(7));
    }
}
