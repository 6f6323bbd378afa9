//! ringmq as a leaf (spec beyond-core §B.8): core 0 dials every `leafnodes.remotes` entry
//! with `Io::connect` and keeps the link; the link is then a `LeafLink` like an accepted
//! one (same interest and message code), only its handshake differs: the hub's INFO, our
//! CONNECT as a nats-server 2.9.10 leaf sends it, the hub's second INFO (`connect_info`),
//! then our `$LDS` and aggregated interest as LS+.
//!
//! Reconnecting follows `backoff::Policy::Leaf`: the `reconnect` interval after a failed
//! dial or a lost link, 30 s after a loop error. Each dial takes the next URL of the
//! remote's list: the hub's `leafnode_urls` (those not configured) then the configured
//! ones, as nats-server rebuilds it on every INFO. A dial never queries DNS on the core: an
//! IP address is dialled as written, a configured host name at the address it resolved to
//! when the configuration was read (`LeafRemotes::addresses`); a name learned from the hub
//! must be an IP address (nats-server advertises addresses).

use super::{LeafLink, Phase, Shard};
use crate::broker::backoff::{dial_error, Backoff, Failure, Policy, Retry, LEAF_RECONNECT_DEFAULT};
use crate::broker::route::PeerPermission;
use crate::broker::timers::Timer;
use crate::runtime::{ConnId, ConnectError, Io, TimerId};
use crate::{debug, error, info};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One configured remote's dial state.
#[derive(Debug)]
struct Remote {
    /// The configured URLs (`host:port`).
    configured: Vec<String>,
    /// The rotation: the hub's `leafnode_urls` not configured, then the configured ones.
    urls: Vec<String>,
    /// The URL of the last dial, and its address once resolved.
    current: Option<String>,
    address: Option<SocketAddr>,
    backoff: Backoff,
    /// Failed dials since this remote was last connected (or lost).
    attempts: u32,
    /// No link has been up yet.
    first_connect: bool,
    /// The dial in flight or the link.
    conn: Option<ConnId>,
    timer: Option<TimerId>,
}

/// Every remote of this server (core 0 only).
#[derive(Debug, Default)]
pub(in crate::broker) struct Remotes {
    started: bool,
    list: Vec<Remote>,
}

/// The CONNECT a 2.9.10 leaf sends, in its field order.
#[derive(Serialize)]
struct LeafConnect<'a> {
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<&'a str>,
    tls_required: bool,
    server_id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
    headers: bool,
    /// The remote's `deny_imports`: the hub sends nothing on these subjects.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    deny_pub: &'a [String],
}

/// The fields of the hub's INFO that the leaf reads.
#[derive(Deserialize, Default)]
#[serde(default)]
struct HubInfo {
    client_id: u64,
    tls_required: bool,
    leafnode_urls: Option<Vec<String>>,
    connect_info: bool,
    info_on_connect: bool,
    /// The permissions of the user we logged in as (the hub's `import`: what we may
    /// receive, `export`: what we may send).
    import: Option<PeerPermission>,
    export: Option<PeerPermission>,
    /// The hub's cluster (the origin of its interest on our routes).
    cluster: Option<String>,
}

impl Shard {
    /// Core 0's first turn: the first dial of every remote.
    pub(in crate::broker) fn start_leaf_remotes(&mut self, io: &mut Io<'_>) {
        if self.remotes.started || self.core != 0 {
            return;
        }
        self.remotes.started = true;
        let config = &self.live.config.leaf_remotes;
        let reconnect = config.reconnect.unwrap_or(LEAF_RECONNECT_DEFAULT);
        self.remotes.list = config
            .remotes
            .iter()
            .map(|urls| Remote {
                configured: urls.clone(),
                urls: urls.clone(),
                current: None,
                address: None,
                backoff: Backoff::new(Policy::Leaf { reconnect }),
                attempts: 0,
                first_connect: true,
                conn: None,
                timer: None,
            })
            .collect();
        for index in 0..self.remotes.list.len() {
            self.dial_remote(io, index);
        }
    }

    /// The next URL of the rotation (the current one moves to the end, as nats-server's
    /// `pickNextURL`), resolved and dialled.
    fn dial_remote(&mut self, io: &mut Io<'_>, index: usize) {
        let Some(remote) = self.remotes.list.get_mut(index) else {
            return;
        };
        if remote.urls.len() > 1 && remote.current.as_ref() == remote.urls.first() {
            remote.urls.rotate_left(1);
        }
        let url = remote.urls[0].clone();
        remote.current = Some(url.clone());
        debug!("Trying to connect as leafnode to remote server on {url:?}");
        let host = url.rsplit_once(':').map_or(url.as_str(), |(host, _)| host);
        let dialled = self
            .live
            .config
            .leaf_remotes
            .address(&url)
            .ok_or_else(|| {
                format!(
                    "dial tcp {url}: lookup {host}: not resolved when the configuration was read"
                )
            })
            .and_then(|address| {
                self.remotes.list[index].address = Some(address);
                let timeout = self.live.config.limits.link_dial_timeout;
                io.connect(address, index as u64, timeout)
                    .map_err(|error| dial_error(address, error))
            });
        match dialled {
            Ok(conn) => self.remotes.list[index].conn = Some(conn),
            Err(text) => self.remote_dial_failed(io, index, &text),
        }
    }

    /// A dial of remote `tag` failed: log as nats-server does, then the next dial.
    pub(in crate::broker) fn on_remote_connect_failed(
        &mut self,
        io: &mut Io<'_>,
        tag: u64,
        error: ConnectError,
    ) {
        let index = tag as usize;
        if matches!(error, ConnectError::Shutdown) {
            return;
        }
        let Some(remote) = self.remotes.list.get_mut(index) else {
            return;
        };
        remote.conn = None;
        let text = match remote.address {
            Some(address) => dial_error(address, error),
            None => error.to_string(),
        };
        self.remote_dial_failed(io, index, &text);
    }

    fn remote_dial_failed(&mut self, io: &mut Io<'_>, index: usize, text: &str) {
        let Some(remote) = self.remotes.list.get_mut(index) else {
            return;
        };
        remote.attempts += 1;
        let attempts = remote.attempts;
        let url = remote.current.clone().unwrap_or_default();
        let report = attempts == 1
            || !remote.first_connect
            || attempts % crate::broker::backoff::CONNECT_ERROR_REPORTS == 0;
        if report {
            error!("Error trying to connect as leafnode to remote server {url:?} (attempt {attempts}): {text}");
        } else {
            debug!("Error trying to connect as leafnode to remote server {url:?} (attempt {attempts}): {text}");
        }
        self.schedule_redial(io, index, Failure::Dial);
    }

    fn schedule_redial(&mut self, io: &mut Io<'_>, index: usize, failure: Failure) {
        let Some(remote) = self.remotes.list.get_mut(index) else {
            return;
        };
        if let Retry::After(wait) = remote.backoff.next(failure) {
            let timer = io.set_timer(io.now() + wait, Timer::LeafRedial(index).token());
            if let Some(old) = remote.timer.replace(timer) {
                io.cancel_timer(old);
            }
        }
    }

    pub(in crate::broker) fn on_leaf_redial_timer(&mut self, io: &mut Io<'_>, index: usize) {
        let Some(remote) = self.remotes.list.get_mut(index) else {
            return;
        };
        remote.timer = None;
        if remote.conn.is_none() {
            self.dial_remote(io, index);
        }
    }

    /// A dial of remote `tag` connected: a link waiting for the hub's INFO.
    pub(in crate::broker) fn on_remote_connected(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        tag: u64,
        peer: SocketAddr,
    ) {
        let index = tag as usize;
        let cid = self.new_link(conn, peer, Some(index), Phase::AwaitingInfo);
        let settings = self.live.config.leaf_remotes.settings.get(index);
        let account = settings
            .and_then(|settings| settings.account.as_deref())
            .and_then(|name| self.live.auth.account_index(name))
            .unwrap_or(crate::auth::GLOBAL_ACCOUNT);
        // nats-server turns the deny lists into the link's permissions: publish deny =
        // deny_exports, subscribe deny = deny_imports.
        let deny =
            settings.and_then(|s| super::auth::LinkDeny::new(&s.deny_exports, &s.deny_imports));
        if let Some(link) = self.link_mut(conn) {
            link.account = account;
            link.bound = true;
            link.deny = deny;
        }
        let label = self.live.auth.account_name(account);
        info!("{peer} - lid:{cid} - Leafnode connection created for account: {label} ");
        // The ping timer bounds the handshake too (a hub that never sends INFO).
        self.arm_leaf_ping(io, conn);
    }

    /// The hub's INFO: the first one gets our CONNECT, the one with `connect_info` (or the
    /// first, from a hub without `info_on_connect`) ends the handshake; every one may bring
    /// new `leafnode_urls`.
    pub(super) fn on_remote_info(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        json: &[u8],
    ) -> Result<(), &'static str> {
        let Some(link) = self.link(conn) else {
            return Ok(());
        };
        let (phase, index) = (link.phase, link.remote);
        let Some(index) = index else {
            return Ok(());
        };
        let info: HubInfo = serde_json::from_slice(json).map_err(|_| "Protocol Violation")?;
        if phase == Phase::AwaitingInfo && (info.client_id == 0 || info.leafnode_urls.is_none()) {
            self.write_leaf_error(io, conn, "Attempted To Connect To Wrong Port");
            return Err("Wrong Port");
        }
        if let (Some(urls), Some(remote)) = (&info.leafnode_urls, self.remotes.list.get_mut(index))
        {
            if !urls.is_empty() {
                let learnt = urls.iter().filter(|url| !remote.configured.contains(url));
                remote.urls = learnt.chain(&remote.configured).cloned().collect();
            }
        }
        if let (Some(cluster), Some(link)) = (&info.cluster, self.link_mut(conn)) {
            if !cluster.is_empty() {
                link.remote_cluster = Some(cluster.as_str().into());
            }
        }
        if info.import.is_some() || info.export.is_some() {
            let told = crate::auth::Permissions {
                publish: info.export.map(PeerPermission::into_permission),
                subscribe: info.import.map(PeerPermission::into_permission),
                responses: None,
            };
            let permissions = super::auth::LeafPermissions::told(&told);
            if let Some(link) = self.link_mut(conn) {
                link.permissions = permissions;
            }
        }
        let finish = match phase {
            Phase::AwaitingInfo => {
                let url = self
                    .remotes
                    .list
                    .get(index)
                    .and_then(|remote| remote.current.clone())
                    .unwrap_or_default();
                let tls = self.start_remote_tls(io, conn, index, info.tls_required, &url);
                // With TLS the session holds it until the handshake is done.
                self.send_leaf_connect(io, conn, tls);
                if let Some(link) = self.link_mut(conn) {
                    link.phase = Phase::AwaitingConnectInfo;
                }
                info.connect_info || !info.info_on_connect
            }
            Phase::AwaitingConnectInfo => info.connect_info,
            _ => false,
        };
        if finish {
            if let Some(link) = self.link_mut(conn) {
                link.phase = Phase::Active;
            }
            if let Some(remote) = self.remotes.list.get_mut(index) {
                remote.backoff.connected();
                remote.attempts = 0;
                remote.first_connect = false;
            }
            self.send_hub_interest(io, conn);
            self.arm_leaf_ping(io, conn);
        }
        Ok(())
    }

    fn send_leaf_connect(&mut self, io: &mut Io<'_>, conn: ConnId, tls: bool) {
        let info = &self.live.info;
        let index = self.link(conn).and_then(|link| link.remote);
        let settings = index.and_then(|index| self.live.config.leaf_remotes.settings.get(index));
        let current = index
            .and_then(|index| self.remotes.list.get(index))
            .and_then(|remote| remote.current.as_deref());
        let credentials = settings.and_then(|s| s.credentials_for(current));
        // nats-server sends its cluster's name; a standalone server with remotes takes its
        // configured `server_name` as that name, and sends none without one.
        let cluster = match self.live.config.cluster {
            Some(_) => Some(self.cluster.name.as_str()),
            None => self.live.config.server_name.as_deref(),
        };
        let connect = LeafConnect {
            version: &info.version,
            user: credentials.map(|(user, _)| user),
            pass: credentials.map(|(_, pass)| pass),
            tls_required: tls,
            server_id: &info.server_id,
            name: &info.server_name,
            cluster,
            headers: true,
            deny_pub: settings.map_or(&[], |s| &s.deny_imports),
        };
        let json = go_json(serde_json::to_string(&connect).expect("CONNECT serialises"));
        io.write_parts(conn, &[b"CONNECT ", json.as_bytes(), b"\r\n"]);
    }

    /// A solicited link is gone: dial again after the interval (30 s after a loop error);
    /// not while shutting down.
    pub(super) fn remote_link_closed(&mut self, io: &mut Io<'_>, link: &LeafLink, shutdown: bool) {
        let Some(index) = link.remote else {
            return;
        };
        let Some(remote) = self.remotes.list.get_mut(index) else {
            return;
        };
        remote.conn = None;
        remote.attempts = 0;
        if shutdown {
            return;
        }
        let failure = if link.refused {
            Failure::Refused
        } else {
            Failure::Lost
        };
        self.schedule_redial(io, index, failure);
    }
}

/// JSON as Go's encoder writes it: `<`, `>`, `&` and U+2028/9 escaped (they can only be
/// inside strings, so replacing them is safe).
pub(in crate::broker) fn go_json(json: String) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json;
    }
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
