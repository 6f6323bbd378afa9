//! The `websocket {}` block's settings ([`WebsocketConfig`]) and nats-server 2.9.10's
//! start-up checks of them (`validateWebsocketOptions`), with its texts.

use super::go_url;
use super::{ConfigError, TlsConfig};
use crate::auth::{AuthConfig, Secret};
use std::collections::BTreeMap;
use std::time::Duration;

/// `websocket { ... }` (or `ws`) with a port: the WebSocket listener. Without `port` or
/// `listen` (or with port 0) nats-server ignores the block, and `Config::websocket` is
/// `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct WebsocketConfig {
    /// Host the listener binds (`host`, `net`, `listen`); `0.0.0.0` when not given.
    pub host: String,
    /// `port` or `listen`'s port; `-1`: a free port (the one bound is known only once the
    /// listener runs: `broker::Shared::websocket_port`). Never 0 here.
    pub port: i32,
    /// `advertise: "host[:port]"`: the URL given to clients of the cluster, as written.
    pub advertise: Option<String>,
    /// `no_tls: true`: plain `ws://` is allowed (nats-server refuses to start without it
    /// or `tls`). With a `tls` block too, TLS is used anyway, as in nats-server.
    pub no_tls: bool,
    /// `tls { cert_file, key_file, ca_file, verify, timeout }`: `wss://`, the handshake
    /// first. nats-server does not use `timeout` here: the handshake is bounded by
    /// `handshake_timeout`.
    pub tls: Option<TlsConfig>,
    /// `compression` (`compress`): permessage-deflate is offered to clients that ask.
    pub compression: bool,
    /// `same_origin`: a request's `Origin` must name the host it was sent to.
    pub same_origin: bool,
    /// `allowed_origins` (and its aliases) as written; checked at start-up as nats-server
    /// checks them (Go's `url.Parse`). [`WebsocketConfig::origins`] reads them as the
    /// handshake compares them.
    pub allowed_origins: Vec<String>,
    /// `handshake_timeout` (a duration, or whole seconds): the upgrade request, and the TLS
    /// handshake before it, must be done within it. Zero (the default, as nats-server):
    /// no deadline.
    pub handshake_timeout: Duration,
    /// `no_auth_user`: a WebSocket client without credentials is logged in as this user
    /// (one of the top-level users).
    pub no_auth_user: Option<String>,
    /// `authorization { user, password, token, timeout }` (also `authentication`).
    pub authorization: Option<WebsocketAuth>,
    /// `jwt_cookie`: read so that start-up can refuse it with nats-server's text (JWT
    /// authentication needs trusted operators, which ringmq lacks).
    pub jwt_cookie: Option<String>,
}

impl WebsocketConfig {
    /// The block's defaults for a listener on `port`.
    pub fn new(port: i32) -> WebsocketConfig {
        WebsocketConfig {
            host: "0.0.0.0".to_string(),
            port,
            advertise: None,
            no_tls: false,
            tls: None,
            compression: false,
            same_origin: false,
            allowed_origins: Vec::new(),
            handshake_timeout: Duration::ZERO,
            no_auth_user: None,
            authorization: None,
            jwt_cookie: None,
        }
    }

    /// The block's own credentials replace the top-level ones for WebSocket clients
    /// (nats-server's `wsConfigAuth`: a user, a token or a `no_auth_user`).
    pub fn overrides_auth(&self) -> bool {
        self.no_auth_user.is_some()
            || self
                .authorization
                .as_ref()
                .is_some_and(|auth| auth.user.is_some() || auth.token.is_some())
    }

    /// The allowed origins as the handshake compares them (nats-server's
    /// `wsSetOriginOptions`): by host (lower case; a later entry with the same host
    /// replaces an earlier one), with the scheme and the port (80/443 by default). An
    /// entry Go's `url.ParseRequestURI` refuses is skipped; its message comes back to be
    /// logged as an error when the listener starts, as nats-server logs it.
    pub fn origins(&self) -> (BTreeMap<String, AllowedOrigin>, Vec<String>) {
        let mut origins = BTreeMap::new();
        let mut errors = Vec::new();
        for written in &self.allowed_origins {
            match go_url::parse_request_uri(written) {
                Ok(url) => {
                    // nats-server ignores a host it cannot split (it keys it as "").
                    let (host, port) = go_url::ws_host_and_port(url.scheme == "https", &url.host)
                        .unwrap_or_default();
                    let scheme = url.scheme;
                    origins.insert(host, AllowedOrigin { scheme, port });
                }
                Err(error) => errors.push(format!("error parsing allowed origin: {error}")),
            }
        }
        (origins, errors)
    }

    /// nats-server's `validateWebsocketOptions`, in its order, with its texts.
    pub(super) fn validate(&self, auth: &AuthConfig) -> Result<(), ConfigError> {
        if self.tls.is_none() && !self.no_tls {
            return Err(ConfigError("websocket requires TLS configuration".into()));
        }
        for origin in &self.allowed_origins {
            go_url::parse(origin)
                .map_err(|error| ConfigError(format!("unable to parse allowed origin: {error}")))?;
        }
        if let Some(name) = &self.no_auth_user {
            if auth.users.is_empty() {
                return Err(ConfigError(format!(
                    "no_auth_user: \"{name}\" present, but users are not defined"
                )));
            }
            if !auth.users.iter().any(|user| &user.name == name) {
                return Err(ConfigError(format!(
                    "no_auth_user: \"{name}\" not present as user in authorization block or \
                     account configuration"
                )));
            }
        }
        if !auth.users.is_empty() || !auth.nkey_users.is_empty() {
            let own = self.authorization.as_ref();
            if own.is_some_and(|a| a.user.is_some()) {
                return Err(ConfigError(
                    "websocket authentication username not compatible with presence of \
                     users/nkeys"
                        .into(),
                ));
            }
            if own.is_some_and(|a| a.token.is_some()) {
                return Err(ConfigError(
                    "websocket authentication token not compatible with presence of users/nkeys"
                        .into(),
                ));
            }
        }
        if let Some(cookie) = &self.jwt_cookie {
            // ringmq has no trusted operators or keys (their keys refuse the start).
            return Err(ConfigError(format!(
                "trusted operators or trusted keys configuration is required for JWT \
                 authentication via cookie \"{cookie}\""
            )));
        }
        Ok(())
    }
}

/// One allowed origin, by host (see [`WebsocketConfig::origins`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedOrigin {
    /// Lower case, as Go's URL parser leaves it (`http`, `https`).
    pub scheme: String,
    /// As written, or `80`/`443` by scheme.
    pub port: String,
}

/// The block's `authorization { user, password, token, timeout }` (nats-server's
/// `parseSimpleAuth`: no `users`, no permissions there). Empty strings count as absent,
/// as in nats-server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebsocketAuth {
    /// `user`/`username`, with `password`/`pass` (plain text or bcrypt): the only login of
    /// WebSocket clients, in the global account.
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// `token`: the `auth_token` WebSocket clients must send.
    pub token: Option<Secret>,
    /// `timeout` (seconds): how long a WebSocket client has for its CONNECT; `None` (or
    /// 0): the top-level authorization timeout.
    pub timeout: Option<Duration>,
}
