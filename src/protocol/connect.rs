//! CONNECT options (client → server) and INFO (server → client) JSON. Cold path: serde.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Options a client sends in CONNECT, after nats-server's defaults and checks (spec §3):
/// absent keys keep `verbose`, `pedantic`, `echo` = true; keys match case-insensitively;
/// unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    pub verbose: bool,
    pub pedantic: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
}

impl Default for ConnectOptions {
    /// What a connection that never sent CONNECT behaves as.
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: None,
            lang: None,
            version: None,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
        }
    }
}

/// Why a CONNECT was refused; each maps to one nats-server reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// Malformed JSON, missing JSON, wrong value type: close without -ERR.
    ProtocolViolation,
    /// `protocol` not 0 or 1: `-ERR 'invalid client protocol'` + close.
    InvalidProtocol,
    /// `no_responders` without `headers`: `-ERR 'no responders requires headers support'` +
    /// close.
    NoRespondersRequiresHeaders,
    /// `account` or `new_account` present: `-ERR 'Authorization Violation'` + close.
    AuthorizationViolation,
}

impl ConnectOptions {
    /// Parses a CONNECT argument on top of `self` (a second CONNECT re-applies options to the
    /// current ones, as nats-server does): [`ConnectOptions::decode`] then
    /// [`DecodedConnect::validate`], with no credential check between them.
    pub fn apply(&self, json: &[u8]) -> Result<ConnectOptions, ConnectError> {
        self.decode(json)?.validate()
    }

    /// The JSON decode alone: any syntax or type error is a `ProtocolViolation`. As in Go,
    /// JSON `null` keeps a value and a top-level `null` changes nothing.
    ///
    /// Known differences, which no real client meets: strings with invalid UTF-8 or lone
    /// surrogate escapes are refused (ProtocolViolation), where Go substitutes U+FFFD; and
    /// `"protocol":-0` is refused, as serde_json reads `-0` as a float, where Go reads 0.
    pub fn decode(&self, json: &[u8]) -> Result<DecodedConnect, ConnectError> {
        let decoded = self
            .deserialize_over(json)
            .map_err(|_| ConnectError::ProtocolViolation)?;
        Ok(DecodedConnect {
            options: decoded.options,
            designates_account: decoded.new_account
                || decoded.account.is_some_and(|account| !account.is_empty()),
        })
    }
}

impl ConnectOptions {
    /// Why [`ConnectOptions::decode`] refused `json`, worded as nats-server logs it (Go's
    /// encoding/json texts) for the syntax errors clients make; other problems keep
    /// serde_json's text. `None` if it decodes. For the error log only, off the hot path.
    pub fn decode_problem(&self, json: &[u8]) -> Option<String> {
        let error = self.deserialize_over(json).err()?;
        Some(go_json_error_text(json, &error))
    }

    /// The one JSON document `json`, decoded on top of these options.
    fn deserialize_over(&self, json: &[u8]) -> Result<Decoded, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let seed = ConnectSeed {
            options: self.clone(),
        };
        let decoded = seed.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(decoded)
    }
}

/// Go's encoding/json wording for a serde_json error, where the two correspond.
fn go_json_error_text(json: &[u8], error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    if error.classify() == Category::Eof {
        return "unexpected end of JSON input".to_string();
    }
    let message = error.to_string();
    let context = [
        ("trailing characters", "after top-level value"),
        (
            "key must be a string",
            "looking for beginning of object key string",
        ),
        ("expected value", "looking for beginning of value"),
        ("expected `:`", "after object key"),
        ("expected `,` or `}`", "after object key:value pair"),
        ("expected `,` or `]`", "after array element"),
    ]
    .into_iter()
    .find(|(serde_text, _)| message.starts_with(serde_text));
    match (context, byte_at(json, error.line(), error.column())) {
        (Some((_, go_context)), Some(byte)) => {
            format!("invalid character {} {go_context}", go_quote_char(byte))
        }
        _ => message,
    }
}

/// The byte at serde_json's 1-based line and column (columns count bytes).
fn byte_at(json: &[u8], line: usize, column: usize) -> Option<u8> {
    let start = if line <= 1 {
        0
    } else {
        json.iter()
            .enumerate()
            .filter(|(_, &byte)| byte == b'\n')
            .nth(line - 2)
            .map(|(index, _)| index + 1)?
    };
    json.get(start + column.checked_sub(1)?).copied()
}

/// Go's quoteChar: `'x'`, with `'\''` and `'"'`, other bytes escaped as strconv.Quote does.
fn go_quote_char(byte: u8) -> String {
    match byte {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\r' => "'\\r'".to_string(),
        b'\t' => "'\\t'".to_string(),
        0x20..=0x7e => format!("'{}'", byte as char),
        _ => format!("'\\x{byte:02x}'"),
    }
}

/// A decoded CONNECT, before nats-server's checks that follow the credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedConnect {
    /// The options as sent (credentials included), not yet checked.
    pub options: ConnectOptions,
    /// `account` (non-empty) or `new_account: true` was present.
    designates_account: bool,
}

impl DecodedConnect {
    /// The checks after authentication, in nats-server's order (processConnect):
    /// `account`/`new_account`, then `protocol`, then `no_responders` against `headers`.
    /// `"account":""` and `"new_account":false` designate nothing, as in Go. The server is
    /// assumed to support headers.
    pub fn validate(self) -> Result<ConnectOptions, ConnectError> {
        if self.designates_account {
            return Err(ConnectError::AuthorizationViolation);
        }
        let options = self.options;
        if !(0..=1).contains(&options.protocol) {
            return Err(ConnectError::InvalidProtocol);
        }
        if options.no_responders && !options.headers {
            return Err(ConnectError::NoRespondersRequiresHeaders);
        }
        Ok(options)
    }
}

/// What the JSON decode yields: the new options plus the account designation, which is not an
/// option at all but a reason to refuse the connection.
struct Decoded {
    options: ConnectOptions,
    account: Option<String>,
    new_account: bool,
}

/// Decodes a CONNECT object onto existing options, key by key in document order, so that
/// duplicate keys (in any letter case) resolve as in Go: the last one wins.
struct ConnectSeed {
    options: ConnectOptions,
}

impl<'de> DeserializeSeed<'de> for ConnectSeed {
    type Value = Decoded;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Decoded, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ConnectSeed {
    type Value = Decoded;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a CONNECT object")
    }

    /// Go's decoder leaves a struct untouched for a JSON `null`.
    fn visit_unit<E: de::Error>(self) -> Result<Decoded, E> {
        Ok(Decoded {
            options: self.options,
            account: None,
            new_account: false,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let mut decoded = self.visit_unit()?;
        while let Some(key) = map.next_key::<String>()? {
            decoded.apply_field(&key.to_ascii_lowercase(), &mut map)?;
        }
        Ok(decoded)
    }
}

impl Decoded {
    /// Applies one key. A `null` value keeps the current value, as Go does for non-pointer
    /// fields; a value of the wrong type is an error.
    fn apply_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let options = &mut self.options;
        let flag = match key {
            "verbose" => &mut options.verbose,
            "pedantic" => &mut options.pedantic,
            "echo" => &mut options.echo,
            "headers" => &mut options.headers,
            "no_responders" => &mut options.no_responders,
            "new_account" => &mut self.new_account,
            _ => return self.apply_other_field(key, map),
        };
        if let Some(value) = map.next_value::<Option<bool>>()? {
            *flag = value;
        }
        Ok(())
    }

    fn apply_other_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let options = &mut self.options;
        let text = match key {
            "name" => &mut options.name,
            "lang" => &mut options.lang,
            "version" => &mut options.version,
            "user" => &mut options.user,
            "pass" => &mut options.pass,
            "auth_token" => &mut options.auth_token,
            "nkey" => &mut options.nkey,
            "sig" => &mut options.sig,
            "jwt" => &mut options.jwt,
            "account" => &mut self.account,
            "protocol" => {
                if let Some(protocol) = map.next_value::<Option<i64>>()? {
                    options.protocol = protocol;
                }
                return Ok(());
            }
            // Known to nats-server, unused by us, but still type-checked by its decoder.
            "tls_required" => return map.next_value::<Option<bool>>().map(drop),
            "import" | "export" => return map.next_value::<Option<SubjectPermission>>().map(drop),
            _ => return map.next_value::<IgnoredAny>().map(drop),
        };
        if let Some(value) = map.next_value::<Option<String>>()? {
            *text = Some(value);
        }
        Ok(())
    }
}

/// The shape of nats-server's `import`/`export` CONNECT fields (route and leaf permissions),
/// decoded only so that a wrongly typed value is refused as it is there: as Go decodes into
/// its struct, an object (an array is refused) whose `allow` and `deny` keys, in any letter
/// case and as often as they appear, hold `null` or an array of strings and `null`s; other
/// keys are ignored.
struct SubjectPermission;

impl<'de> Deserialize<'de> for SubjectPermission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SubjectPermissionVisitor)
    }
}

struct SubjectPermissionVisitor;

impl<'de> Visitor<'de> for SubjectPermissionVisitor {
    type Value = SubjectPermission;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a subject permission object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SubjectPermission, A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key.eq_ignore_ascii_case("allow") || key.eq_ignore_ascii_case("deny") {
                map.next_value::<Option<Vec<Option<String>>>>()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(SubjectPermission)
    }
}

/// The INFO object, fields in nats-server's order (spec §2.2); optional fields are omitted
/// when unset, as Go's `omitempty` does.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    /// Client certificates are required (`--tlsverify`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    /// TLS offered but not required (`allow_non_tls`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_available: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The cluster's name, when clustered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Every cluster node's client URLs (`host:port`), for clients to fail over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ServerInfo {
    /// Appends `INFO <json> \r\n` (note nats-server's space before CRLF).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"INFO ");
        serde_json::to_writer(&mut *out, self).expect("INFO serializes");
        out.extend_from_slice(b" \r\n");
    }
}

#[cfg(test)]
mod decode_problem_tests {
    use super::*;

    /// Each text as nats-server 2.9.10 logs it for the same CONNECT argument.
    #[test]
    fn syntax_errors_read_as_nats_server_logs_them() {
        let options = ConnectOptions::default();
        let cases: [(&[u8], &str); 7] = [
            (
                b"{\"verbose\":\x01}",
                "invalid character '\\x01' looking for beginning of value",
            ),
            (
                b"{bad",
                "invalid character 'b' looking for beginning of object key string",
            ),
            (b"", "unexpected end of JSON input"),
            (b"{\"verbose\":false", "unexpected end of JSON input"),
            (
                b"{\"verbose\":false}x",
                "invalid character 'x' after top-level value",
            ),
            (
                b"{\"verbose\" false}",
                "invalid character 'f' after object key",
            ),
            (
                b"{\"verbose\":false \"pedantic\":true}",
                "invalid character '\"' after object key:value pair",
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(
                options.decode_problem(json).as_deref(),
                Some(expected),
                "{:?}",
                String::from_utf8_lossy(json)
            );
        }
        assert_eq!(options.decode_problem(b"{\"verbose\":false}"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(json: &str) -> Result<ConnectOptions, ConnectError> {
        ConnectOptions::default().apply(json.as_bytes())
    }

    #[test]
    fn absent_keys_keep_the_defaults() {
        assert_eq!(apply("{}"), Ok(ConnectOptions::default()));
        assert_eq!(apply(" {} \r\n"), Ok(ConnectOptions::default()));
        let options = apply(r#"{"verbose":false}"#).unwrap();
        assert!(!options.verbose);
        assert!(options.pedantic);
        assert!(options.echo);
    }

    #[test]
    fn every_field_is_read() {
        let json = r#"{"verbose":false,"pedantic":false,"echo":false,"headers":true,
            "no_responders":true,"protocol":1,"name":"n","lang":"rust","version":"0.1",
            "user":"alice","pass":"secret","auth_token":"t","nkey":"UABC","sig":"s",
            "jwt":"j","tls_required":false,"unknown":{"nested":[1,2]}}"#;
        let expected = ConnectOptions {
            verbose: false,
            pedantic: false,
            echo: false,
            headers: true,
            no_responders: true,
            protocol: 1,
            name: Some("n".into()),
            lang: Some("rust".into()),
            version: Some("0.1".into()),
            user: Some("alice".into()),
            pass: Some("secret".into()),
            auth_token: Some("t".into()),
            nkey: Some("UABC".into()),
            sig: Some("s".into()),
            jwt: Some("j".into()),
        };
        assert_eq!(apply(json), Ok(expected));
    }

    #[test]
    fn keys_match_case_insensitively_and_the_last_duplicate_wins() {
        assert!(!apply(r#"{"VERBOSE":false}"#).unwrap().verbose);
        assert!(!apply(r#"{"Echo":false}"#).unwrap().echo);
        assert!(
            apply(r#"{"verbose":false,"VERBOSE":true}"#)
                .unwrap()
                .verbose
        );
        assert_eq!(
            apply(r#"{"Name":"a","NAME":"b"}"#).unwrap().name.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn null_keeps_the_current_value() {
        assert_eq!(apply("null"), Ok(ConnectOptions::default()));
        assert!(apply(r#"{"verbose":null}"#).unwrap().verbose);
        let named = apply(r#"{"name":"a"}"#).unwrap();
        assert_eq!(
            named.apply(br#"{"name":null}"#).unwrap().name.as_deref(),
            Some("a")
        );
    }

    #[test]
    fn a_second_connect_applies_on_top_of_the_first() {
        let first = apply(r#"{"verbose":false,"headers":true}"#).unwrap();
        let second = first.apply(br#"{"pedantic":false}"#).unwrap();
        assert!(!second.verbose);
        assert!(!second.pedantic);
        assert!(second.headers);
    }

    #[test]
    fn invalid_utf8_in_strings_is_refused() {
        // Go would substitute U+FFFD; see `apply`.
        let refused = ConnectOptions::default().apply(b"{\"name\":\"a\xffb\"}");
        assert_eq!(refused, Err(ConnectError::ProtocolViolation));
    }

    #[test]
    fn malformed_or_wrongly_typed_json_is_a_protocol_violation() {
        for json in [
            "",
            " ",
            "{bad json",
            "{",
            "[]",
            "5",
            "\"text\"",
            "{} x",
            "{}{}",
            r#"{"verbose":"yes"}"#,
            r#"{"verbose":1}"#,
            r#"{"protocol":1.0}"#,
            r#"{"protocol":"1"}"#,
            r#"{"protocol":99999999999999999999}"#,
            r#"{"name":5}"#,
            r#"{"user":["a"]}"#,
            r#"{"tls_required":"no"}"#,
            r#"{"account":5}"#,
            r#"{"new_account":"yes"}"#,
            r#"{"import":"x"}"#,
            r#"{"export":{"allow":5}}"#,
            "{\"name\":\"a\nb\"}",
        ] {
            assert_eq!(
                apply(json),
                Err(ConnectError::ProtocolViolation),
                "{json:?}"
            );
        }
    }

    /// Found by the fuzz target `connect`. Checked against nats-server 2.9.10: it closes the
    /// connection on each of the first four and answers `+OK` to the last two.
    #[test]
    fn import_and_export_are_checked_as_go_decodes_them() {
        for json in [
            r#"{"import":[null,null]}"#,
            r#"{"export":{"Allow":5}}"#,
            r#"{"import":{"DENY":[1]}}"#,
            r#"{"import":5}"#,
        ] {
            assert_eq!(
                apply(json),
                Err(ConnectError::ProtocolViolation),
                "{json:?}"
            );
        }
        for json in [
            r#"{"export":{"deny":null,"deny":null}}"#,
            r#"{"import":{"allow":["a",null],"Allow":[],"other":[1]},"export":null}"#,
        ] {
            assert_eq!(apply(json), Ok(ConnectOptions::default()), "{json:?}");
        }
    }

    #[test]
    fn protocol_must_be_zero_or_one() {
        assert_eq!(apply(r#"{"protocol":0}"#).unwrap().protocol, 0);
        assert_eq!(apply(r#"{"protocol":1}"#).unwrap().protocol, 1);
        assert_eq!(
            apply(r#"{"protocol":2}"#),
            Err(ConnectError::InvalidProtocol)
        );
        assert_eq!(
            apply(r#"{"protocol":-1}"#),
            Err(ConnectError::InvalidProtocol)
        );
    }

    #[test]
    fn no_responders_requires_headers() {
        assert_eq!(
            apply(r#"{"no_responders":true}"#),
            Err(ConnectError::NoRespondersRequiresHeaders)
        );
        assert_eq!(
            apply(r#"{"no_responders":true,"headers":false}"#),
            Err(ConnectError::NoRespondersRequiresHeaders)
        );
        assert!(
            apply(r#"{"no_responders":true,"headers":true}"#)
                .unwrap()
                .no_responders
        );
    }

    #[test]
    fn an_account_designation_is_an_authorization_violation() {
        assert_eq!(
            apply(r#"{"verbose":false,"account":"x"}"#),
            Err(ConnectError::AuthorizationViolation)
        );
        assert_eq!(
            apply(r#"{"new_account":true}"#),
            Err(ConnectError::AuthorizationViolation)
        );
        // Go compares with the zero values, so these designate nothing.
        assert!(apply(r#"{"account":"","new_account":false}"#).is_ok());
        assert!(apply(r#"{"account":null}"#).is_ok());
    }

    #[test]
    fn checks_run_in_nats_server_order() {
        // Decode errors first, even when a later key would fail another check.
        assert_eq!(
            apply(r#"{"account":"x","protocol":2,"verbose":"yes"}"#),
            Err(ConnectError::ProtocolViolation)
        );
        assert_eq!(
            apply(r#"{"protocol":2,"no_responders":true,"account":"x"}"#),
            Err(ConnectError::AuthorizationViolation)
        );
        assert_eq!(
            apply(r#"{"no_responders":true,"protocol":2}"#),
            Err(ConnectError::InvalidProtocol)
        );
    }

    #[test]
    fn decode_keeps_credentials_for_the_check_before_validation() {
        let decoded = ConnectOptions::default()
            .decode(br#"{"user":"bob","pass":"pw","protocol":2,"account":"x"}"#)
            .unwrap();
        assert_eq!(decoded.options.user.as_deref(), Some("bob"));
        assert_eq!(decoded.options.pass.as_deref(), Some("pw"));
        assert_eq!(
            decoded.validate(),
            Err(ConnectError::AuthorizationViolation)
        );
        assert_eq!(
            ConnectOptions::default().decode(b"{bad"),
            Err(ConnectError::ProtocolViolation)
        );
    }

    #[test]
    fn info_matches_the_observed_line_byte_for_byte() {
        let info = ServerInfo {
            server_id: "NCQIT24".into(),
            server_name: "NCQIT24".into(),
            version: "2.9.10".into(),
            proto: 1,
            go: "go1.19.8".into(),
            host: "127.0.0.1".into(),
            port: 24222,
            headers: true,
            max_payload: 1_048_576,
            client_id: 4,
            client_ip: "127.0.0.1".into(),
            ..ServerInfo::default()
        };
        let mut out = Vec::new();
        info.encode(&mut out);
        let expected = concat!(
            r#"INFO {"server_id":"NCQIT24","server_name":"NCQIT24","version":"2.9.10","#,
            r#""proto":1,"go":"go1.19.8","host":"127.0.0.1","port":24222,"headers":true,"#,
            r#""max_payload":1048576,"client_id":4,"client_ip":"127.0.0.1"} "#,
            "\r\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn info_optional_fields_appear_in_go_struct_order() {
        let info = ServerInfo {
            auth_required: true,
            tls_required: true,
            tls_verify: true,
            nonce: Some("abc".into()),
            ldm: true,
            ..ServerInfo::default()
        };
        let mut out = Vec::new();
        info.encode(&mut out);
        let expected = concat!(
            r#"INFO {"server_id":"","server_name":"","version":"","proto":0,"go":"","#,
            r#""host":"","port":0,"headers":false,"auth_required":true,"tls_required":true,"#,
            r#""tls_verify":true,"max_payload":0,"nonce":"abc","ldm":true} "#,
            "\r\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
