//! TLS on leaf links, both roles, as nats-server 2.9.10 does it (spec beyond-core §B):
//! the accepting side sends its INFO in plain text (`tls_required`, and `tls_verify` with
//! `verify`), then both sides run the handshake; the leaf's CONNECT and everything after
//! it are encrypted.
//!
//! - Hub role (`leafnodes { tls {} }`): the leaf port's own certificate
//!   (`Io::start_tls_with`) right after the INFO; the auth timer starts once the handshake
//!   is done.
//! - Leaf role: a remote with a `tls {}` block, or whose hub's INFO says `tls_required`
//!   (then with the system's CAs), starts the client side on that INFO
//!   (`Io::start_tls_client`), named by the URL's host (or, for an IP address, the first
//!   host name of the remote's URLs); our CONNECT waits in the session until the handshake
//!   is done.
//!
//! Either way the handshake deadline (`timeout`, 2 s by default) runs on the link's auth
//! timer; a failure is logged `TLS leafnode handshake error: ...` and the link closed with
//! `TLS Handshake Failure`. With `leafnodes { tls { pinned_certs } }`, the peer's
//! certificate (of an accepted leaf or of a hub we dialled, as in nats-server) must be
//! pinned, else the same failure with `certificate not pinned`.

use super::{Phase, Shard};
use crate::broker::timers::Timer;
use crate::config::{Config, LeafTls, TlsConfig};
use crate::runtime::{ConnId, Io, TlsClientConfig, TlsFailure, TlsLoadError, TlsServerConfig};
use crate::{debug, error, warn};
use std::time::Duration;

/// nats-server's warning for `insecure` remotes.
const INSECURE_WARNING: &str = "TLS certificate chain and hostname of solicited leafnodes will \
                                not be verified. DO NOT USE IN PRODUCTION!";

/// The leaf links' TLS configurations, loaded once at start-up (a reload cannot change the
/// `leafnodes` block).
#[derive(Debug, Default)]
pub struct LeafTlsConfigs {
    /// The leaf port's (`leafnodes { tls }`).
    port: Option<TlsServerConfig>,
    /// Per remote: its `tls` block's, or the system's CAs for a hub that requires TLS.
    remotes: Vec<TlsClientConfig>,
}

impl LeafTlsConfigs {
    /// Reads every file the configuration names; the error names the file.
    pub fn load(config: &Config) -> Result<LeafTlsConfigs, TlsLoadError> {
        let port = match config.leafnodes.as_ref().and_then(|leaf| leaf.tls.as_ref()) {
            Some(tls) => {
                let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) else {
                    return Err(TlsLoadError("leafnodes tls: no certificate".into()));
                };
                Some(TlsServerConfig::load(
                    cert,
                    key,
                    tls.ca_file.as_deref(),
                    tls.verify,
                )?)
            }
            None => None,
        };
        let settings = &config.leaf_remotes.settings;
        let mut system = None;
        let mut remotes = Vec::with_capacity(settings.len());
        for remote in settings {
            let loaded = match &remote.tls {
                Some(tls) => {
                    let identity = tls.cert_file.as_deref().zip(tls.key_file.as_deref());
                    TlsClientConfig::load(tls.ca_file.as_deref(), identity, tls.insecure)?
                }
                None => system
                    .get_or_insert_with(TlsClientConfig::system_roots)
                    .clone(),
            };
            remotes.push(loaded);
        }
        let insecure = settings
            .iter()
            .any(|remote| remote.tls.as_ref().is_some_and(|tls| tls.insecure));
        if insecure {
            warn!("{INSECURE_WARNING}");
        }
        Ok(LeafTlsConfigs { port, remotes })
    }

    /// Whether the leaf port requires TLS.
    pub fn port_requires_tls(&self) -> bool {
        self.port.is_some()
    }
}

impl Shard {
    /// Hub role, right after the plain INFO: the server side of the handshake, bounded by
    /// the `timeout` of `leafnodes { tls }`. False when the port has no TLS.
    pub(super) fn start_leaf_port_tls(&mut self, io: &mut Io<'_>, conn: ConnId) -> bool {
        let Some(config) = self.shared.leaf_tls.port.clone() else {
            return false;
        };
        if !io.start_tls_with(conn, &config) {
            return false;
        }
        let timeout = self
            .port_tls()
            .map_or(TlsConfig::DEFAULT_TIMEOUT, |tls| tls.timeout);
        self.begin_leaf_handshake(io, conn, "server", timeout);
        true
    }

    /// Leaf role, on the hub's first INFO: the client side of the handshake when the
    /// remote has a `tls` block or the hub requires TLS. Returns whether TLS is used.
    pub(super) fn start_remote_tls(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        index: usize,
        hub_requires: bool,
        url: &str,
    ) -> bool {
        let settings = self.live.config.leaf_remotes.settings.get(index);
        let block = settings.and_then(|settings| settings.tls.as_ref());
        if block.is_none() && !hub_requires {
            return false;
        }
        let Some(config) = self.shared.leaf_tls.remotes.get(index).cloned() else {
            return false;
        };
        let name = tls_server_name(url, settings.and_then(|s| s.tls_name.as_deref()));
        let timeout = block.map_or(TlsConfig::DEFAULT_TIMEOUT, |tls| tls.timeout);
        if !io.start_tls_client(conn, &config, &name) {
            return false;
        }
        self.begin_leaf_handshake(io, conn, "client", timeout);
        true
    }

    /// The handshake is under way: its deadline runs on the link's auth timer.
    fn begin_leaf_handshake(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        side: &str,
        timeout: Duration,
    ) {
        let timer = io.set_timer(io.now() + timeout, Timer::Auth(conn).token());
        let Some(link) = self.link_mut(conn) else {
            io.cancel_timer(timer);
            return;
        };
        link.tls_handshaking = true;
        if let Some(old) = link.auth_timer.replace(timer) {
            io.cancel_timer(old);
        }
        debug!(
            "{} - lid:{} - Starting TLS leafnode {side} handshake",
            link.peer, link.cid
        );
    }

    /// The handshake completed: the deadline ends; on the leaf port the auth timer starts
    /// (as nats-server starts it only now).
    pub(in crate::broker) fn leaf_tls_established(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        link.tls_handshaking = false;
        let accepted = link.remote.is_none();
        let awaiting_connect = link.phase == Phase::AwaitingConnect;
        self.cancel_leaf_auth_timer(io, conn);
        // The leaf port's pins, for accepted and dialled links alike (nats-server's rule).
        let pins = self.port_tls().map_or(&[][..], |tls| &tls.pinned_certs[..]);
        if let Err(detail) = check_pinned(io, conn, pins) {
            if let Some(link) = self.link(conn) {
                debug!("{} - lid:{} - {detail}", link.peer, link.cid);
                error!(
                    "{} - lid:{} - TLS leafnode handshake error: {NOT_PINNED}",
                    link.peer, link.cid
                );
            }
            self.close_leaf(io, conn, HANDSHAKE_FAILURE);
            return;
        }
        if accepted && awaiting_connect {
            self.arm_leaf_auth_timer(io, conn);
        }
    }

    /// The handshake deadline passed: Go's read deadline fires first and logs the read's
    /// timeout.
    pub(super) fn on_leaf_tls_deadline(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        link.tls_handshaking = false;
        let (peer, cid) = (link.peer, link.cid);
        let local = io
            .local_address(conn)
            .map_or_else(|| "?".to_string(), |address| address.to_string());
        error!("{peer} - lid:{cid} - TLS leafnode handshake error: read tcp {local}->{peer}: i/o timeout");
        self.close_leaf(io, conn, HANDSHAKE_FAILURE);
    }

    /// A TLS failure closed the link: during the handshake it is logged as nats-server
    /// logs it; after, it is a read error. Returns the close reason's text.
    pub(super) fn leaf_tls_failed(&mut self, conn: ConnId, failure: TlsFailure) -> &'static str {
        let Some(link) = self.link_mut(conn) else {
            return "Read Error";
        };
        if !std::mem::take(&mut link.tls_handshaking) {
            debug!("{} - lid:{} - TLS error: {failure}", link.peer, link.cid);
            return "Read Error";
        }
        error!(
            "{} - lid:{} - TLS leafnode handshake error: {failure}",
            link.peer, link.cid
        );
        HANDSHAKE_FAILURE
    }

    /// The peer closed the connection during the handshake (Go's read sees EOF).
    pub(super) fn leaf_tls_failed_eof(&mut self, conn: ConnId) -> &'static str {
        let Some(link) = self.link_mut(conn) else {
            return "Client Closed";
        };
        link.tls_handshaking = false;
        error!(
            "{} - lid:{} - TLS leafnode handshake error: EOF",
            link.peer, link.cid
        );
        HANDSHAKE_FAILURE
    }

    /// The leaf port's `tls` block.
    fn port_tls(&self) -> Option<&LeafTls> {
        self.live.config.leafnodes.as_ref()?.tls.as_ref()
    }

    /// The leaf port's auth timeout when its `authorization` names none: nats-server's
    /// default, the TLS timeout plus one second with TLS.
    pub(super) fn default_leaf_auth_timeout(&self) -> Duration {
        match self.port_tls() {
            Some(tls) => tls.timeout + Duration::from_secs(1),
            None => self.live.config.limits.leaf_auth_timeout,
        }
    }
}

/// nats-server's close reason after a failed handshake.
const HANDSHAKE_FAILURE: &str = "TLS Handshake Failure";

/// nats-server's handshake error when the peer's certificate is not pinned.
pub(in crate::broker) const NOT_PINNED: &str = "certificate not pinned";

/// nats-server's `matchesPinnedCert`, after a handshake: with `pins`, the peer's
/// certificate's key id must be one of them. `Err` holds the debug line's detail.
pub(in crate::broker) fn check_pinned(
    io: &Io<'_>,
    conn: ConnId,
    pins: &[String],
) -> Result<(), String> {
    if pins.is_empty() {
        return Ok(());
    }
    let Some(key_id) = io
        .peer_certificate(conn)
        .and_then(crate::auth::pinned_key_id)
    else {
        return Err("Failed pinned cert test as client did not provide a certificate".into());
    };
    if pins.contains(&key_id) {
        Ok(())
    } else {
        Err(format!("Failed pinned cert test for key id: {key_id}"))
    }
}

/// The name a dialled link's TLS checks the peer's certificate against: the host of the
/// URL dialled (`host:port`), or, for an IP address, `name_for_ip` when there is one (the
/// first host name among the configured URLs, as nats-server picks it).
pub(in crate::broker) fn tls_server_name(url: &str, name_for_ip: Option<&str>) -> String {
    let host = url.rsplit_once(':').map_or(url, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match name_for_ip {
        Some(name) if host.parse::<std::net::IpAddr>().is_ok() => name.to_string(),
        _ => host.to_string(),
    }
}
