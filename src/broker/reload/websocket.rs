//! The `websocket` block on a reload, as nats-server 2.9.10 decides: any change refuses
//! the reload, except the TLS settings (certificate, key, CAs, `verify`), which new
//! WebSocket connections then use. A `-1` port is the port bound. The refusal prints the
//! whole block as Go's `%v` prints nats-server's `WebsocketOpts`.

use crate::config::{go_duration, WebsocketAuth, WebsocketConfig};

/// `Err`: nats-server's refusal (`config reload not supported for Websocket: old=…,
/// new=…`).
pub fn check(old: Option<&WebsocketConfig>, new: Option<&WebsocketConfig>) -> Result<(), String> {
    if comparable(old) == comparable(new) {
        return Ok(());
    }
    Err(super::unsupported(
        "Websocket",
        go_value(old),
        go_value(new),
    ))
}

/// What nats-server compares: everything but the TLS configuration, the origins in order,
/// an empty `authorization` the same as none.
fn comparable(ws: Option<&WebsocketConfig>) -> Option<WebsocketConfig> {
    let mut ws = ws?.clone();
    ws.tls = None;
    ws.allowed_origins.sort();
    ws.authorization = ws
        .authorization
        .filter(|auth| *auth != WebsocketAuth::default());
    Some(ws)
}

/// Go's `%v` of `WebsocketOpts` (fields in its order: Host Port Advertise NoAuthUser
/// JWTCookie Username Password Token AuthTimeout NoTLS TLSConfig TLSMap TLSPinnedCerts
/// SameOrigin AllowedOrigins Compression HandshakeTimeout). Unlike nats-server, the
/// password and the token are not printed, and a TLS configuration prints as `<tls>`
/// (nats-server prints its address).
fn go_value(ws: Option<&WebsocketConfig>) -> String {
    let Some(ws) = ws else {
        return "{ 0       0 false <nil> false map[] false [] false 0s}".to_string();
    };
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let auth = ws.authorization.clone().unwrap_or_default();
    let hidden = |secret: &Option<crate::auth::Secret>| match secret {
        Some(_) => "[REDACTED]",
        None => "",
    };
    let mut origins = ws.allowed_origins.clone();
    origins.sort();
    format!(
        "{{{} {} {} {} {} {} {} {} {} {} {} false map[] {} [{}] {} {}}}",
        ws.host,
        ws.port,
        text(&ws.advertise),
        text(&ws.no_auth_user),
        text(&ws.jwt_cookie),
        text(&auth.user),
        hidden(&auth.password),
        hidden(&auth.token),
        auth.timeout.map_or(0.0, |t| t.as_secs_f64()),
        ws.no_tls,
        if ws.tls.is_some() { "<tls>" } else { "<nil>" },
        ws.same_origin,
        origins.join(" "),
        ws.compression,
        go_duration(ws.handshake_timeout),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;
    use std::time::Duration;

    fn plain() -> WebsocketConfig {
        WebsocketConfig {
            host: "127.0.0.1".into(),
            no_tls: true,
            ..WebsocketConfig::new(18443)
        }
    }

    #[test]
    fn a_change_refuses_with_the_block_as_go_prints_it() {
        let old = plain();
        let new = WebsocketConfig {
            advertise: Some("x:1".into()),
            no_auth_user: Some("u".into()),
            authorization: Some(WebsocketAuth {
                user: Some("u".into()),
                timeout: Some(Duration::from_millis(1500)),
                ..WebsocketAuth::default()
            }),
            compression: true,
            same_origin: true,
            allowed_origins: vec!["http://b".into(), "http://a".into()],
            handshake_timeout: Duration::from_secs(2),
            ..plain()
        };
        // The texts nats-server 2.9.10 logged for these two reloads.
        assert_eq!(
            check(Some(&old), Some(&new)).unwrap_err(),
            "config reload not supported for Websocket: old={127.0.0.1 18443       0 true \
             <nil> false map[] false [] false 0s}, new={127.0.0.1 18443 x:1 u  u   1.5 true \
             <nil> false map[] true [http://a http://b] true 2s}"
        );
        assert_eq!(
            check(Some(&old), None).unwrap_err(),
            "config reload not supported for Websocket: old={127.0.0.1 18443       0 true \
             <nil> false map[] false [] false 0s}, new={ 0       0 false <nil> false map[] \
             false [] false 0s}"
        );
        assert!(check(None, Some(&old)).is_err());
        // Secrets are not printed.
        let token = WebsocketConfig {
            authorization: Some(WebsocketAuth {
                token: Some("s3cret".into()),
                ..WebsocketAuth::default()
            }),
            ..plain()
        };
        let refused = check(Some(&old), Some(&token)).unwrap_err();
        assert!(
            refused.ends_with(
                "new={127.0.0.1 18443      [REDACTED] 0 true <nil> false map[] false [] false 0s}"
            ),
            "{refused}"
        );
    }

    #[test]
    fn tls_settings_origin_order_and_an_empty_authorization_may_change() {
        let mut old = plain();
        old.allowed_origins = vec!["http://a".into(), "http://b".into()];
        old.tls = Some(TlsConfig::new("a.pem", "a.key"));
        let mut new = old.clone();
        new.allowed_origins.reverse();
        new.tls = Some(TlsConfig {
            verify: true,
            ..TlsConfig::new("b.pem", "b.key")
        });
        new.authorization = Some(WebsocketAuth::default());
        assert_eq!(check(Some(&old), Some(&new)), Ok(()));
        assert_eq!(check(None, None), Ok(()));
    }
}
