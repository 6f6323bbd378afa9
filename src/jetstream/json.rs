//! JSON as Go's `encoding/json` writes and reads it, where clients or byte comparisons can
//! tell: `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`-style sequences; timestamps
//! in RFC 3339 with nanoseconds and trailing zeros trimmed (Go's `RFC3339Nano`), the zero
//! time as `0001-01-01T00:00:00Z`; `null` read as a field's zero value.

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use std::io;

/// Serialises `value` compactly, with Go's string escapes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value
        .serialize(&mut ser)
        .expect("serialising API documents to memory cannot fail");
    out
}

/// serde_json's compact output with the escapes Go adds (HTML-safe strings, `\u0008` and
/// `\u000c` instead of `\b` and `\f`).
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape::*;
        let s: &[u8] = match char_escape {
            Quote => b"\\\"",
            ReverseSolidus => b"\\\\",
            LineFeed => b"\\n",
            CarriageReturn => b"\\r",
            Tab => b"\\t",
            Solidus => b"/",
            Backspace => b"\\u0008",
            FormFeed => b"\\u000c",
            AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let buf = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(byte >> 4) as usize],
                    HEX[(byte & 0xf) as usize],
                ];
                return writer.write_all(&buf);
            }
        };
        writer.write_all(s)
    }
}

/// Reads a field whose JSON may be `null` as its default (Go leaves the zero value).
pub fn null_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// A Go `time.Time` as JSON carries it: an instant (Unix nanoseconds) and the UTC offset
/// it was written with; `None` is Go's zero time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoTime(pub Option<(i64, i32)>);

impl GoTime {
    /// Go's zero time, `0001-01-01T00:00:00Z`.
    pub const ZERO: GoTime = GoTime(None);

    /// An instant in UTC (how the server's own times are written).
    pub fn utc(unix_nanos: i64) -> GoTime {
        GoTime(Some((unix_nanos, 0)))
    }

    /// Unix nanoseconds, `None` for the zero time.
    pub fn unix_nanos(&self) -> Option<i64> {
        self.0.map(|(n, _)| n)
    }

    /// RFC 3339 with up to nine fraction digits, trailing zeros trimmed (Go's RFC3339Nano).
    pub fn format(&self) -> String {
        let Some((nanos, offset)) = self.0 else {
            return "0001-01-01T00:00:00Z".to_string();
        };
        let local = nanos.div_euclid(1_000_000_000) + i64::from(offset);
        let frac = nanos.rem_euclid(1_000_000_000);
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if frac != 0 {
            let digits = format!("{frac:09}");
            s.push('.');
            s.push_str(digits.trim_end_matches('0'));
        }
        if offset == 0 {
            s.push('Z');
        } else {
            let a = offset.abs();
            let sign = if offset < 0 { '-' } else { '+' };
            s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60));
        }
        s
    }

    /// Parses RFC 3339 (`2020-01-02T03:04:05.5Z`, `…+02:00`) as Go's `time.Time` does.
    pub fn parse(s: &str) -> Option<GoTime> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = b.get(r)?;
            if t.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(t).ok()?.parse().ok()
            } else {
                None
            }
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let mut i = 19;
        let mut frac = 0i64;
        if b[i] == b'.' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = i - start;
            if n == 0 || n > 9 {
                return None;
            }
            frac = num(start..i)? * 10i64.pow(9 - n as u32);
        }
        let offset = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            b'+' | b'-' if i + 6 == b.len() && b[i + 3] == b':' => {
                let o = (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60) as i32;
                if b[i] == b'-' {
                    -o
                } else {
                    o
                }
            }
            _ => return None,
        };
        if y == 1 && mo == 1 && d == 1 && h == 0 && mi == 0 && sec == 0 && frac == 0 {
            return Some(GoTime::ZERO);
        }
        let secs =
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - i64::from(offset);
        let nanos = secs.checked_mul(1_000_000_000)?.checked_add(frac)?;
        Some(GoTime(Some((nanos, offset))))
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.format())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<GoTime, D::Error> {
        let s = String::deserialize(de)?;
        GoTime::parse(&s).ok_or_else(|| serde::de::Error::custom("bad time"))
    }
}

/// Howard Hinnant's days-from-civil (proleptic Gregorian), days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes() {
        let v = serde_json::json!({"s": "orders.> <a&b> \u{2028}\u{8}\u{c}\u{1}\n\"\\/"});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"s":"orders.\u003e \u003ca\u0026b\u003e \u2028\u0008\u000c\u0001\n\"\\/"}"#
        );
    }

    #[test]
    fn times_as_go_prints_them() {
        assert_eq!(GoTime::ZERO.format(), "0001-01-01T00:00:00Z");
        // 2026-11-22T03:22:15.707477746Z, from a nats-server capture in the spec.
        let t = GoTime::utc(1_795_317_735_707_477_746);
        assert_eq!(t.format(), "2026-11-22T03:22:15.707477746Z");
        assert_eq!(
            GoTime::utc(1_795_317_735_500_000_000).format(),
            "2026-11-22T03:22:15.5Z"
        );
        assert_eq!(GoTime::utc(0).format(), "1970-01-01T00:00:00Z");
        assert_eq!(GoTime::utc(-1).format(), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(GoTime::parse("2026-11-22T03:22:15.707477746Z"), Some(t));
        let p = GoTime::parse("2020-01-02T05:04:05.5+02:00").unwrap();
        assert_eq!(p.format(), "2020-01-02T05:04:05.5+02:00");
        assert_eq!(
            p.unix_nanos(),
            GoTime::parse("2020-01-02T03:04:05.5Z")
                .unwrap()
                .unix_nanos()
        );
        assert_eq!(GoTime::parse("0001-01-01T00:00:00Z"), Some(GoTime::ZERO));
        for bad in [
            "",
            "2020-01-02",
            "2020-13-02T03:04:05Z",
            "2020-01-02T03:04:05",
            "2020-01-02T03:04:05.Z",
        ] {
            assert_eq!(GoTime::parse(bad), None, "{bad}");
        }
    }
}
