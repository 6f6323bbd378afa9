//! CONNECT options (client → server) and INFO (server → client) JSON. Cold path: serde.

use serde::Serialize;

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
    /// current ones, as nats-server does).
    pub fn apply(&self, json: &[u8]) -> Result<ConnectOptions, ConnectError> {
        let _ = json;
        todo!("protocol helper")
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
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
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
