//! Go's `flag` package, as nats-server's command line uses it: `-name value`, `-name=value`,
//! `--name value` and `--name=value` are one and the same; a boolean flag takes no separate
//! value (`-name=false` only); letters are never bundled (`-DV` is the flag `DV`, `-cluster`
//! is `cluster`). Parsing stops at the first argument that is not a flag, or after `--`.
//! Errors carry Go's wording, so that ringmq refuses a command line as nats-server does.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// What a flag's value is parsed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `strconv.ParseBool`; without `=value` the flag means true.
    Bool,
    /// `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`, `0b`, a leading `0` for octal.
    Int,
    /// Any text, kept as given.
    Text,
}

/// One flag name. Aliases are separate entries with the same `key`, as Go registers them.
#[derive(Clone, Copy, Debug)]
pub struct Def<K> {
    pub name: &'static str,
    pub kind: Kind,
    pub key: K,
}

/// A flag's parsed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Text(OsString),
}

/// One flag given on the command line.
#[derive(Clone, Debug)]
pub struct Given<K> {
    pub key: K,
    /// The flag as written, dashes included and `=value` left out: `--cluster`, `-js`.
    pub spelled: String,
    pub value: Value,
}

/// The flags in the order given, and the arguments after them.
#[derive(Debug)]
pub struct Parsed<K> {
    pub given: Vec<Given<K>>,
    pub rest: Vec<OsString>,
}

/// A command line Go's flag package refuses; `Display` is its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagError {
    BadSyntax(String),
    NotDefined(String),
    NeedsArgument(String),
    InvalidBool {
        value: String,
        name: String,
    },
    InvalidValue {
        value: String,
        name: String,
        reason: IntError,
    },
}

/// Why an integer did not parse (`strconv.ErrSyntax`, `strconv.ErrRange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntError {
    Syntax,
    Range,
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::BadSyntax(arg) => write!(f, "bad flag syntax: {arg}"),
            FlagError::NotDefined(name) => write!(f, "flag provided but not defined: -{name}"),
            FlagError::NeedsArgument(name) => write!(f, "flag needs an argument: -{name}"),
            FlagError::InvalidBool { value, name } => {
                write!(
                    f,
                    "invalid boolean value {} for -{name}: parse error",
                    quote(value)
                )
            }
            FlagError::InvalidValue {
                value,
                name,
                reason,
            } => {
                let reason = match reason {
                    IntError::Syntax => "parse error",
                    IntError::Range => "value out of range",
                };
                write!(
                    f,
                    "invalid value {} for flag -{name}: {reason}",
                    quote(value)
                )
            }
        }
    }
}

/// Parses `args` (without the program name) against `defs`, as `flag.FlagSet.Parse` does.
pub fn parse<K: Copy>(
    defs: &[Def<K>],
    args: impl IntoIterator<Item = OsString>,
) -> Result<Parsed<K>, FlagError> {
    let mut args = args.into_iter();
    let mut given = Vec::new();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if bytes.len() < 2 || bytes[0] != b'-' {
            // Not a flag: it and everything after it are arguments.
            let rest = std::iter::once(arg).chain(args).collect();
            return Ok(Parsed { given, rest });
        }
        let dashes = if bytes[1] == b'-' { 2 } else { 1 };
        if bytes.len() == 2 && dashes == 2 {
            return Ok(Parsed {
                given,
                rest: args.collect(),
            });
        }
        let body = &bytes[dashes..];
        if body[0] == b'-' || body[0] == b'=' {
            return Err(FlagError::BadSyntax(text(bytes)));
        }
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(at) => (&body[..at], Some(OsStr::from_bytes(&body[at + 1..]))),
            None => (body, None),
        };
        let name = text(name);
        let Some(def) = defs.iter().find(|def| def.name == name) else {
            return Err(FlagError::NotDefined(name));
        };
        let value = match def.kind {
            Kind::Bool => match inline {
                None => Value::Bool(true),
                Some(value) => {
                    let value = text(value.as_bytes());
                    match parse_bool(&value) {
                        Some(flag) => Value::Bool(flag),
                        None => return Err(FlagError::InvalidBool { value, name }),
                    }
                }
            },
            kind => {
                // A flag with a value takes the next argument, whatever it looks like.
                let Some(value) = inline.map(OsStr::to_os_string).or_else(|| args.next()) else {
                    return Err(FlagError::NeedsArgument(name));
                };
                if kind == Kind::Text {
                    Value::Text(value)
                } else {
                    let value = text(value.as_bytes());
                    match parse_int(&value) {
                        Ok(number) => Value::Int(number),
                        Err(reason) => {
                            return Err(FlagError::InvalidValue {
                                value,
                                name,
                                reason,
                            })
                        }
                    }
                }
            }
        };
        let spelled = format!("{}{name}", &"--"[..dashes]);
        given.push(Given {
            key: def.key,
            spelled,
            value,
        });
    }
    Ok(Parsed {
        given,
        rest: Vec::new(),
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.ParseInt(text, 0, 64)`: an optional sign, then a Go integer literal (base prefix
/// `0x`/`0o`/`0b`, a bare leading `0` for octal, `_` between digits).
pub fn parse_int(text: &str) -> Result<i64, IntError> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_uint(unsigned)?;
    let limit = 1u64 << 63;
    match (negative, magnitude) {
        (false, m) if m >= limit => Err(IntError::Range),
        (true, m) if m > limit => Err(IntError::Range),
        (false, m) => Ok(m as i64),
        (true, m) => Ok((m as i64).wrapping_neg()),
    }
}

/// `strconv.ParseUint(text, 0, 64)`.
fn parse_uint(text: &str) -> Result<u64, IntError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(IntError::Syntax);
    }
    let (base, digits): (u64, &[u8]) = match bytes {
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (2, &bytes[2..]),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (8, &bytes[2..]),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (16, &bytes[2..]),
        [b'0', ..] => (8, &bytes[1..]),
        _ => (10, bytes),
    };
    let mut value: u64 = 0;
    let mut underscores = false;
    for &byte in digits {
        let digit = match byte {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(byte - b'0'),
            b'a'..=b'z' | b'A'..=b'Z' => u64::from(byte.to_ascii_lowercase() - b'a') + 10,
            _ => return Err(IntError::Syntax),
        };
        if digit >= base {
            return Err(IntError::Syntax);
        }
        value = value
            .checked_mul(base)
            .and_then(|v| v.checked_add(digit))
            .ok_or(IntError::Range)?;
    }
    if underscores && !underscores_ok(bytes) {
        return Err(IntError::Syntax);
    }
    Ok(value)
}

/// Go's rule for `_` in a literal: only between digits, or after the base prefix.
fn underscores_ok(bytes: &[u8]) -> bool {
    // What the previous character was: '^' start, '0' a digit or the prefix, '_', '!' other.
    let mut saw = b'^';
    let mut start = 0;
    let mut hex = false;
    if bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1] | 0x20, b'b' | b'o' | b'x') {
        start = 2;
        saw = b'0';
        hex = bytes[1] | 0x20 == b'x';
    }
    for &byte in &bytes[start..] {
        if byte.is_ascii_digit() || hex && byte.is_ascii_hexdigit() {
            saw = b'0';
        } else if byte == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `%q`: double quotes, `"` and `\` escaped, control characters as escapes.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum K {
        Flag,
        Number,
        Word,
    }

    const DEFS: &[Def<K>] = &[
        Def {
            name: "b",
            kind: Kind::Bool,
            key: K::Flag,
        },
        Def {
            name: "n",
            kind: Kind::Int,
            key: K::Number,
        },
        Def {
            name: "word",
            kind: Kind::Text,
            key: K::Word,
        },
    ];

    /// The flags given (key, spelling, value) and the arguments left.
    type Outcome = (Vec<(K, String, Value)>, Vec<String>);

    fn run(args: &[&str]) -> Result<Outcome, String> {
        let parsed = parse(DEFS, args.iter().map(OsString::from)).map_err(|e| e.to_string())?;
        let given = parsed
            .given
            .into_iter()
            .map(|g| (g.key, g.spelled, g.value))
            .collect();
        let rest = parsed
            .rest
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        Ok((given, rest))
    }

    #[test]
    fn four_spellings_and_what_stops_parsing() {
        let text = |s: &str| Value::Text(s.into());
        let (given, rest) = run(&["-word", "a", "--word", "b", "-word=c", "--word=d=e"]).unwrap();
        let spelled: Vec<_> = given.iter().map(|g| g.1.as_str()).collect();
        assert_eq!(spelled, ["-word", "--word", "-word", "--word"]);
        let values: Vec<_> = given.into_iter().map(|g| g.2).collect();
        assert_eq!(values, [text("a"), text("b"), text("c"), text("d=e")]);
        assert!(rest.is_empty());
        // A value is the next argument whatever it looks like; -b takes none.
        let (given, rest) = run(&["-word", "-b", "-b", "x", "-n", "1"]).unwrap();
        assert_eq!(
            given,
            [
                (K::Word, "-word".into(), text("-b")),
                (K::Flag, "-b".into(), Value::Bool(true))
            ]
        );
        assert_eq!(rest, ["x", "-n", "1"]);
        assert_eq!(run(&["--", "-b"]).unwrap().1, ["-b"]);
        assert_eq!(run(&["-", "-b"]).unwrap().1, ["-", "-b"]);
        assert_eq!(run(&["-b=false"]).unwrap().0[0].2, Value::Bool(false));
    }

    #[test]
    fn go_error_messages() {
        let err = |args: &[&str]| run(args).unwrap_err();
        assert_eq!(err(&["-x"]), "flag provided but not defined: -x");
        assert_eq!(err(&["--bw"]), "flag provided but not defined: -bw");
        assert_eq!(err(&["-x=1"]), "flag provided but not defined: -x");
        assert_eq!(err(&["---b"]), "bad flag syntax: ---b");
        assert_eq!(err(&["-=b"]), "bad flag syntax: -=b");
        assert_eq!(err(&["--=b"]), "bad flag syntax: --=b");
        assert_eq!(err(&["-n"]), "flag needs an argument: -n");
        assert_eq!(
            err(&["-b=yes"]),
            "invalid boolean value \"yes\" for -b: parse error"
        );
        assert_eq!(
            err(&["-b="]),
            "invalid boolean value \"\" for -b: parse error"
        );
        assert_eq!(
            err(&["-n", "x\t\""]),
            "invalid value \"x\\t\\\"\" for flag -n: parse error"
        );
        assert_eq!(
            err(&["-n=99999999999999999999"]),
            "invalid value \"99999999999999999999\" for flag -n: value out of range"
        );
    }

    #[test]
    fn integers_as_strconv_reads_them() {
        let ok = [
            ("0", 0),
            ("-1", -1),
            ("+7", 7),
            ("010", 8),
            ("0x1_0", 16),
            ("0X1f", 31),
            ("0o17", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0_10", 8),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, value) in ok {
            assert_eq!(parse_int(text), Ok(value), "{text}");
        }
        let syntax = [
            "", "-", "_10", "10_", "1__0", "0x", "08", "1e3", " 1", "0x_", "12a",
        ];
        for text in syntax {
            assert_eq!(parse_int(text), Err(IntError::Syntax), "{text:?}");
        }
        for text in [
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
        ] {
            assert_eq!(parse_int(text), Err(IntError::Range), "{text}");
        }
    }
}
