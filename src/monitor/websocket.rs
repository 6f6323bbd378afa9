//! The /varz `websocket` section in nats-server 2.9.10's layout (`WebsocketOptsVarz`):
//! its field order, every field `omitempty`, so `{}` without a WebSocket listener.
//! `jwt_cookie`, `tls_map` and `tls_pinned_certs` never show: ringmq refuses the settings
//! that would fill them.

use super::document::GoFloat;
use crate::config::WebsocketConfig;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WebsocketVarz {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub host: String,
    /// The port bound (nats-server shows the bound one when `-1` was configured).
    #[serde(skip_serializing_if = "is_zero")]
    pub port: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub advertise: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub no_auth_user: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub handshake_timeout: u64,
    /// Seconds: the block's own `authorization { timeout }` (0 when it has none, as in
    /// nats-server, although the top-level timeout then applies).
    #[serde(skip_serializing_if = "is_zero_float")]
    pub auth_timeout: GoFloat,
    #[serde(skip_serializing_if = "is_false")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub same_origin: bool,
    /// As written, in their order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub compression: bool,
}

impl WebsocketVarz {
    /// The section for the listener of `ws`, bound to `port`.
    pub fn listening(ws: &WebsocketConfig, port: u16) -> WebsocketVarz {
        let auth_timeout = ws.authorization.as_ref().and_then(|auth| auth.timeout);
        WebsocketVarz {
            host: ws.host.clone(),
            port: port.into(),
            advertise: ws.advertise.clone().unwrap_or_default(),
            no_auth_user: ws.no_auth_user.clone().unwrap_or_default(),
            handshake_timeout: ws.handshake_timeout.as_nanos() as u64,
            auth_timeout: GoFloat(auth_timeout.map_or(0.0, |t| t.as_secs_f64())),
            no_tls: ws.no_tls,
            same_origin: ws.same_origin,
            allowed_origins: ws.allowed_origins.clone(),
            compression: ws.compression,
        }
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_zero_float(value: &GoFloat) -> bool {
    value.0 == 0.0
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebsocketAuth;
    use crate::monitor::document::to_go_json;
    use std::time::Duration;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn the_section_is_nats_servers() {
        assert_eq!(text(to_go_json(&WebsocketVarz::default())), "{}");
        let ws = WebsocketConfig {
            host: "127.0.0.1".into(),
            advertise: Some("x:1".into()),
            no_tls: true,
            compression: true,
            same_origin: true,
            allowed_origins: vec!["http://b".into(), "http://a".into()],
            handshake_timeout: Duration::from_secs(2),
            no_auth_user: Some("a".into()),
            authorization: Some(WebsocketAuth {
                timeout: Some(Duration::from_millis(1500)),
                ..WebsocketAuth::default()
            }),
            ..WebsocketConfig::new(-1)
        };
        // What nats-server 2.9.10 served for the same block (`listen: "127.0.0.1:-1"`).
        assert_eq!(
            text(to_go_json(&WebsocketVarz::listening(&ws, 37325))),
            "{\n  \"host\": \"127.0.0.1\",\n  \"port\": 37325,\n  \"advertise\": \"x:1\",\n  \
             \"no_auth_user\": \"a\",\n  \"handshake_timeout\": 2000000000,\n  \
             \"auth_timeout\": 1.5,\n  \"no_tls\": true,\n  \"same_origin\": true,\n  \
             \"allowed_origins\": [\n    \"http://b\",\n    \"http://a\"\n  ],\n  \
             \"compression\": true\n}"
        );
        let minimal = WebsocketConfig {
            tls: Some(crate::config::TlsConfig::new("c", "k")),
            ..WebsocketConfig::new(443)
        };
        assert_eq!(
            text(to_go_json(&WebsocketVarz::listening(&minimal, 443))),
            "{\n  \"host\": \"0.0.0.0\",\n  \"port\": 443\n}"
        );
    }
}
