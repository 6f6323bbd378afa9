//! Log lines in nats-server's format: `[pid] YYYY/MM/DD HH:MM:SS.micros [LVL] text`.
//!
//! One process-wide logger: a level (debug/trace switches) and a sink (stderr or a file).
//! Logging is a cold path: it formats into a `String` and writes the line with one call.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static LOGTIME: AtomicBool = AtomicBool::new(true);
static SINK: Mutex<Option<File>> = Mutex::new(None);

/// Severity of a log line; the tag is what nats-server prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Fatal => "FTL",
            Level::Error => "ERR",
            Level::Warn => "WRN",
            Level::Info => "INF",
            Level::Debug => "DBG",
            Level::Trace => "TRC",
        }
    }
}

/// Turns debug and trace lines on or off (`-D`, `-V`, `-DV`).
pub fn set_levels(debug: bool, trace: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    TRACE.store(trace, Ordering::Relaxed);
}

/// Turns the date and time in log lines on or off (`-T`, `logtime`), as nats-server:
/// `[pid] [INF] text` without them.
pub fn set_logtime(on: bool) {
    LOGTIME.store(on, Ordering::Relaxed);
}

/// Sends log lines to `file` (appending) instead of stderr (`-l FILE`).
pub fn set_file(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    Ok(())
}

/// Sends log lines back to stderr (a reload that removed `log_file`).
pub fn clear_file() {
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Whether lines of `level` are written; lets callers skip formatting.
pub fn enabled(level: Level) -> bool {
    match level {
        Level::Debug => DEBUG.load(Ordering::Relaxed),
        Level::Trace => TRACE.load(Ordering::Relaxed),
        _ => true,
    }
}

/// Writes one line. Use the macros (`info!`, `warn!`, ...) instead of calling this.
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = if LOGTIME.load(Ordering::Relaxed) {
        format!(
            "[{}] {} [{}] {}\n",
            std::process::id(),
            timestamp(),
            level.tag(),
            args
        )
    } else {
        format!("[{}] [{}] {}\n", std::process::id(), level.tag(), args)
    };
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    match sink.as_mut() {
        Some(file) => {
            let _ = file.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Local wall-clock time is not available without a time zone database; like a container's
/// nats-server we print UTC.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
        year,
        month,
        day,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[macro_export]
macro_rules! fatal { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Fatal, format_args!($($t)*)) } }
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! debug { ($($t:tt)*) => {
    if $crate::log::enabled($crate::log::Level::Debug) {
        $crate::log::write($crate::log::Level::Debug, format_args!($($t)*))
    }
} }
#[macro_export]
macro_rules! trace { ($($t:tt)*) => {
    if $crate::log::enabled($crate::log::Level::Trace) {
        $crate::log::write($crate::log::Level::Trace, format_args!($($t)*))
    }
} }

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
