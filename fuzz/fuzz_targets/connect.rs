//! `ConnectOptions::apply` on arbitrary bytes: never panics, and its result (options or
//! error) equals a reference built on serde_json's own view of the same document: the object's
//! entries in document order, known keys' values as `serde_json::Value`, keys matched
//! case-insensitively with the last one winning, `null` keeping the current value, then
//! nats-server's checks in its order (spec §3). A successful result applied again must give
//! itself back. `decode_problem` (the log line's reason) is there exactly when decoding fails.
//!
//! Input: `[base selector, json...]`; the selector applies the JSON on top of the defaults or
//! on top of options where every field differs from them (a second CONNECT).
#![no_main]

use std::fmt;

use libfuzzer_sys::fuzz_target;
use ringmq::protocol::{ConnectError, ConnectOptions};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// Keys whose values are type-checked as a whole `Value`.
const VALUE_KEYS: [&str; 18] = [
    "verbose",
    "pedantic",
    "echo",
    "headers",
    "no_responders",
    "new_account",
    "tls_required",
    "protocol",
    "name",
    "lang",
    "version",
    "user",
    "pass",
    "auth_token",
    "nkey",
    "sig",
    "jwt",
    "account",
];

/// One entry of the CONNECT object as the reference reads it.
#[derive(Debug)]
enum Field {
    /// A key of `VALUE_KEYS` (lower-cased) and its value.
    Value(String, Value),
    /// `import` or `export`: a subject permission (see `Permission`).
    Permission(Permission),
    /// Any other key: the value is skipped, as Go skips unknown keys.
    Ignored,
}

/// `import`/`export` as Go decodes `*SubjectPermission`: `null`, or an object whose `allow`
/// and `deny` keys (any letter case, every occurrence) hold a value; other keys skipped.
#[derive(Debug)]
struct Permission(Vec<Value>);

/// The whole document: `None` for a top-level `null`, else the object's fields in order.
struct Document(Option<Vec<Field>>);

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("null or an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let key = key.to_ascii_lowercase();
            let field = if VALUE_KEYS.contains(&key.as_str()) {
                Field::Value(key, map.next_value()?)
            } else if key == "import" || key == "export" {
                Field::Permission(map.next_value()?)
            } else {
                map.next_value::<IgnoredAny>()?;
                Field::Ignored
            };
            fields.push(field);
        }
        Ok(Document(Some(fields)))
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct PermissionVisitor;

impl<'de> Visitor<'de> for PermissionVisitor {
    type Value = Permission;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("null or a subject permission object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Permission, E> {
        Ok(Permission(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Permission, A::Error> {
        let mut lists = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.to_ascii_lowercase().as_str() {
                "allow" | "deny" => lists.push(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Permission(lists))
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Permission, D::Error> {
        deserializer.deserialize_any(PermissionVisitor)
    }
}

/// The options and designations a document sets; `Err` on any wrongly typed value.
struct Applied {
    options: ConnectOptions,
    account: Option<String>,
    new_account: bool,
}

fn set_bool(target: &mut bool, value: &Value) -> Result<(), ConnectError> {
    match value {
        Value::Null => Ok(()),
        Value::Bool(flag) => {
            *target = *flag;
            Ok(())
        }
        _ => Err(ConnectError::ProtocolViolation),
    }
}

fn set_text(target: &mut Option<String>, value: &Value) -> Result<(), ConnectError> {
    match value {
        Value::Null => Ok(()),
        Value::String(text) => {
            *target = Some(text.clone());
            Ok(())
        }
        _ => Err(ConnectError::ProtocolViolation),
    }
}

/// A permission list: `null`, or an array of strings and `null`s.
fn check_list(value: &Value) -> Result<(), ConnectError> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) if items.iter().all(|item| item.is_null() || item.is_string()) => {
            Ok(())
        }
        _ => Err(ConnectError::ProtocolViolation),
    }
}

impl Applied {
    fn field(&mut self, key: &str, value: &Value) -> Result<(), ConnectError> {
        let options = &mut self.options;
        match key {
            "verbose" => set_bool(&mut options.verbose, value),
            "pedantic" => set_bool(&mut options.pedantic, value),
            "echo" => set_bool(&mut options.echo, value),
            "headers" => set_bool(&mut options.headers, value),
            "no_responders" => set_bool(&mut options.no_responders, value),
            "new_account" => set_bool(&mut self.new_account, value),
            "tls_required" => set_bool(&mut false, value),
            "name" => set_text(&mut options.name, value),
            "lang" => set_text(&mut options.lang, value),
            "version" => set_text(&mut options.version, value),
            "user" => set_text(&mut options.user, value),
            "pass" => set_text(&mut options.pass, value),
            "auth_token" => set_text(&mut options.auth_token, value),
            "nkey" => set_text(&mut options.nkey, value),
            "sig" => set_text(&mut options.sig, value),
            "jwt" => set_text(&mut options.jwt, value),
            "account" => set_text(&mut self.account, value),
            "protocol" => match value {
                Value::Null => Ok(()),
                // A JSON integer that fits i64; floats (`1.0`, `-0`) and larger ones do not.
                Value::Number(number) => {
                    options.protocol = number.as_i64().ok_or(ConnectError::ProtocolViolation)?;
                    Ok(())
                }
                _ => Err(ConnectError::ProtocolViolation),
            },
            _ => unreachable!("{key} is not in VALUE_KEYS"),
        }
    }
}

/// What `apply` must return for `json` on top of `base`.
fn reference_apply(base: &ConnectOptions, json: &[u8]) -> Result<ConnectOptions, ConnectError> {
    let Ok(Document(fields)) = serde_json::from_slice::<Document>(json) else {
        return Err(ConnectError::ProtocolViolation);
    };
    let mut applied = Applied {
        options: base.clone(),
        account: None,
        new_account: false,
    };
    // Every value is checked, in order; the last occurrence of a key wins.
    for field in fields.iter().flatten() {
        match field {
            Field::Value(key, value) => applied.field(key, value)?,
            Field::Permission(Permission(lists)) => lists.iter().try_for_each(check_list)?,
            Field::Ignored => {}
        }
    }
    let designates_account = applied
        .account
        .as_ref()
        .is_some_and(|name| !name.is_empty());
    if applied.new_account || designates_account {
        return Err(ConnectError::AuthorizationViolation);
    }
    let options = applied.options;
    if !(0..=1).contains(&options.protocol) {
        return Err(ConnectError::InvalidProtocol);
    }
    if options.no_responders && !options.headers {
        return Err(ConnectError::NoRespondersRequiresHeaders);
    }
    Ok(options)
}

/// Options where every field differs from the defaults, as after a first CONNECT.
fn second_connect_base() -> ConnectOptions {
    let text = |value: &str| Some(value.to_owned());
    ConnectOptions {
        verbose: false,
        pedantic: false,
        echo: false,
        headers: true,
        no_responders: true,
        protocol: 1,
        name: text("name"),
        lang: text("lang"),
        version: text("version"),
        user: text("user"),
        pass: text("pass"),
        auth_token: text("token"),
        nkey: text("nkey"),
        sig: text("sig"),
        jwt: text("jwt"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let base = if selector & 1 == 0 {
        ConnectOptions::default()
    } else {
        second_connect_base()
    };
    let applied = base.apply(json);
    assert_eq!(
        applied,
        reference_apply(&base, json),
        "{:?}",
        String::from_utf8_lossy(json)
    );
    // The log's reason exists exactly when decoding fails (and never panics).
    assert_eq!(
        base.decode_problem(json).is_some(),
        base.decode(json).is_err(),
        "{:?}",
        String::from_utf8_lossy(json)
    );
    if let Ok(options) = applied {
        assert_eq!(options.apply(json), Ok(options.clone()), "not idempotent");
    }
});
