//! TLS on routes, as nats-server 2.9.10 does it (`cluster { tls {} }`): both sides start
//! the handshake right after the TCP connection, before any INFO; the accepting side is
//! the TLS server, the dialling side the client. Verification is mutual whatever `verify`
//! says (nats-server forces it on routes): each side presents the block's certificate and
//! checks the peer's against `ca_file` (the system's CAs without one). A dialled route's
//! certificate must name the route URL's host or, for an IP address, the first host name
//! among the configured routes (if any).
//!
//! The handshake deadline (`timeout`, 2 s by default) runs on the route's auth timer; a
//! failure is logged `TLS route handshake error: ...` and the route closed with `TLS
//! Handshake Failure` (a dialled route is then dialled again as its policy says). With
//! `pinned_certs`, a peer whose certificate's key id is not listed fails the same way
//! (`certificate not pinned`), on either side.

use super::Shard;
use crate::broker::timers::Timer;
use crate::config::Config;
use crate::runtime::{ConnId, Io, TlsClientConfig, TlsFailure, TlsLoadError, TlsServerConfig};
use crate::{debug, error, warn};
use std::time::Duration;

/// nats-server's warning for `insecure` route TLS.
const INSECURE_WARNING: &str = "TLS certificate chain and hostname of solicited routes will \
                                not be verified. DO NOT USE IN PRODUCTION!";

/// nats-server's close reason after a failed handshake.
pub(super) const HANDSHAKE_FAILURE: &str = "TLS Handshake Failure";

/// The routes' TLS configurations, loaded once at start-up.
#[derive(Debug)]
pub struct RouteTlsConfigs {
    /// Accepted routes: our certificate, the peer's required and verified.
    server: TlsServerConfig,
    /// Dialled routes: the CAs of the peer's certificate, ours presented.
    client: TlsClientConfig,
    /// The handshake deadline.
    timeout: Duration,
}

impl RouteTlsConfigs {
    /// `None` without `cluster { tls {} }`; the error names the file.
    pub fn load(config: &Config) -> Result<Option<RouteTlsConfigs>, TlsLoadError> {
        let Some(tls) = config.cluster.as_ref().and_then(|c| c.tls.as_ref()) else {
            return Ok(None);
        };
        let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) else {
            return Err(TlsLoadError("cluster tls: no certificate".into()));
        };
        let server = TlsServerConfig::load(cert, key, tls.ca_file.as_deref(), true)?;
        let client = TlsClientConfig::load(
            tls.ca_file.as_deref(),
            Some((cert.as_path(), key.as_path())),
            tls.insecure,
        )?;
        if tls.insecure {
            warn!("{INSECURE_WARNING}");
        }
        Ok(Some(RouteTlsConfigs {
            server,
            client,
            timeout: tls.timeout,
        }))
    }

    /// The default route auth timeout with TLS: the handshake's deadline plus one second
    /// (nats-server's rule).
    pub(super) fn auth_timeout(&self) -> Duration {
        self.timeout + Duration::from_secs(1)
    }
}

impl Shard {
    /// An accepted route, before anything is sent: the server side of the handshake.
    /// False without route TLS.
    pub(super) fn start_route_server_tls(&mut self, io: &mut Io<'_>, conn: ConnId) -> bool {
        let Some(tls) = self.shared.route_tls.as_ref() else {
            return false;
        };
        let (config, timeout) = (tls.server.clone(), tls.timeout);
        if !io.start_tls_with(conn, &config) {
            return false;
        }
        self.begin_route_handshake(io, conn, "server", timeout);
        true
    }

    /// A dialled route (`url` = `host:port`), before anything is sent: the client side.
    /// False without route TLS.
    pub(super) fn start_route_client_tls(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        url: &str,
    ) -> bool {
        let Some(tls) = self.shared.route_tls.as_ref() else {
            return false;
        };
        let (config, timeout) = (tls.client.clone(), tls.timeout);
        let tls_name = self.live.config.cluster.as_ref().and_then(|c| c.tls_name());
        let name = crate::broker::leaf::tls_server_name(url, tls_name);
        if !io.start_tls_client(conn, &config, &name) {
            return false;
        }
        self.begin_route_handshake(io, conn, "client", timeout);
        true
    }

    /// The handshake is under way: its deadline runs on the route's auth timer.
    fn begin_route_handshake(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        side: &str,
        timeout: Duration,
    ) {
        let timer = io.set_timer(io.now() + timeout, Timer::Auth(conn).token());
        let Some(route) = self.route_mut(conn) else {
            io.cancel_timer(timer);
            return;
        };
        route.tls_handshaking = true;
        if let Some(old) = route.auth_timer.replace(timer) {
            io.cancel_timer(old);
        }
        debug!(
            "{} - rid:{} - Starting TLS route {side} handshake",
            route.peer, route.rid
        );
    }

    /// The handshake completed: its deadline ends and the route starts (INFO, CONNECT).
    pub(in crate::broker) fn route_tls_established(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        if !std::mem::take(&mut route.tls_handshaking) {
            return;
        }
        let timer = route.auth_timer.take();
        let dialled = route.dial.is_some();
        debug!(
            "{} - rid:{} - TLS handshake complete",
            route.peer, route.rid
        );
        if let Some(timer) = timer {
            io.cancel_timer(timer);
        }
        let pins = self
            .live
            .config
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.tls.as_ref())
            .map_or(&[][..], |tls| &tls.pinned_certs[..]);
        if let Err(detail) = crate::broker::leaf::check_pinned(io, conn, pins) {
            if let Some(route) = self.route_ref(conn) {
                debug!("{} - rid:{} - {detail}", route.peer, route.rid);
                error!(
                    "{} - rid:{} - TLS route handshake error: {}",
                    route.peer,
                    route.rid,
                    crate::broker::leaf::NOT_PINNED
                );
            }
            self.close_route(io, conn, HANDSHAKE_FAILURE);
            return;
        }
        if dialled {
            self.greet_dialled_route(io, conn);
        } else {
            self.greet_accepted_route(io, conn);
        }
    }

    /// The deadline passed during the handshake: Go's read deadline fires first and logs
    /// the read's timeout. False when the route is not handshaking (an auth deadline).
    pub(super) fn on_route_tls_deadline(&mut self, io: &mut Io<'_>, conn: ConnId) -> bool {
        let Some(route) = self.route_mut(conn) else {
            return false;
        };
        if !std::mem::take(&mut route.tls_handshaking) {
            return false;
        }
        route.auth_timer = None;
        let (peer, rid) = (route.peer, route.rid);
        let local = io
            .local_address(conn)
            .map_or_else(|| "?".to_string(), |address| address.to_string());
        error!(
            "{peer} - rid:{rid} - TLS route handshake error: read tcp {local}->{peer}: i/o timeout"
        );
        error!("{peer} - rid:{rid} - TLS handshake timeout");
        self.close_route(io, conn, HANDSHAKE_FAILURE);
        true
    }

    /// The connection closed during the handshake (`failure`; `None`: the peer closed
    /// it, Go's read sees EOF): logged as nats-server logs it. Returns the close reason,
    /// `None` when the route was past its handshake.
    pub(super) fn route_tls_failed(
        &mut self,
        conn: ConnId,
        failure: Option<TlsFailure>,
    ) -> Option<&'static str> {
        let route = self.route_mut(conn)?;
        if !std::mem::take(&mut route.tls_handshaking) {
            if let Some(failure) = failure {
                debug!("{} - rid:{} - TLS error: {failure}", route.peer, route.rid);
            }
            return None;
        }
        let text = failure.map_or_else(|| "EOF".to_string(), |failure| failure.to_string());
        error!(
            "{} - rid:{} - TLS route handshake error: {text}",
            route.peer, route.rid
        );
        Some(HANDSHAKE_FAILURE)
    }
}
