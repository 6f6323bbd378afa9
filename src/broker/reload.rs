//! The running configuration, and its reload (SIGHUP, `--signal reload`) with nats-server
//! 2.9.10's rules.
//!
//! Everything a core reads from the configuration comes from one [`Live`] snapshot: the
//! whole [`Config`], the compiled [`Authenticator`], the INFO template and the TLS settings,
//! numbered by a generation. [`Server::reload`] (main thread) builds the next snapshot from a
//! freshly read configuration:
//! - an option that cannot change while running (the listen address, `max_pending`, ...)
//!   refuses the whole reload with nats-server's message, which names its Go field
//!   (`config reload not supported for Port: old=4222, new=4223`); the old snapshot stays;
//! - the process's own settings (log levels, log file, pid file) are applied at once, and
//!   every change is logged as nats-server logs it (`Reloaded: max_payload = 512`);
//! - the snapshot is published ([`LiveCell::publish`]) and the cores are woken.
//!
//! Each core adopts a newer generation at the end of a loop turn, or before it accepts a
//! client or reads input, whichever comes first ([`Shard::adopt_live`]):
//! new clients get the new INFO, limits and TLS; every client gets the new parser limits;
//! each authenticated client is checked again against the new users (its user or nkey gone,
//! or moved to another account: closed without a word; its credentials refused: `-ERR
//! 'Authorization Violation'` and closed) and keeps only
//! the subscriptions its new permissions allow (each one dropped is announced with nats-
//! server's `-ERR 'Permissions Violation for Subscription to "foo" (sid "1")'`). A lower
//! `max_connections` closes the surplus, spread over the cores by their counts.
//!
//! Invariant: a core reads the configuration only through its own `Arc<Live>`, swapped
//! between operations, so one operation never sees two generations.

use super::connection::ClosedReason;
use super::shard::Shard;
use super::{Server, ServerInfo};
use crate::auth::{Authenticator, ClientPermissions, Credentials, Identity, Verdict};
use crate::config::{go_duration, Config, Limits, TlsConfig};
use crate::info;
use crate::monitor::clock::WallClock;
use crate::protocol::encoder::err;
use crate::runtime::{ConnId, Io, TlsServerConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

mod cluster;
mod websocket;

use cluster::{cluster_changed, route_urls};

/// One generation of the running configuration.
#[derive(Debug)]
pub struct Live {
    /// 1 at start-up, then one more per successful reload.
    pub generation: u64,
    pub config: Config,
    pub auth: Authenticator,
    /// INFO as sent on accept, before the per-connection fields.
    pub info: ServerInfo,
    /// The loaded certificate and key (Some exactly when `config.tls` is).
    pub tls: Option<TlsServerConfig>,
    /// [`tls_files_digest`] of the files `tls` was loaded from.
    pub tls_digest: Option<[u8; 32]>,
    /// The WebSocket listener's certificate and key (Some exactly when
    /// `config.websocket`'s `tls` is); a reload may replace them, for new connections.
    pub websocket_tls: Option<TlsServerConfig>,
    /// WebSocket clients' authenticator when the `websocket` block has credentials of its
    /// own (a user, a token or a `no_auth_user`, which then replace the top-level ones for
    /// them, as nats-server's `authOverride`); `None`: they log in as TCP clients do.
    pub websocket_auth: Option<Authenticator>,
    /// When this generation was loaded (Unix nanoseconds; /varz `config_load_time`).
    pub loaded_at: i64,
    /// Per core: clients to close because a reload lowered `max_connections` below the
    /// number connected (empty at start-up).
    pub surplus_by_core: Vec<usize>,
}

/// The current [`Live`] snapshot, replaced whole by a reload. Cores compare the generation
/// (one atomic load per loop turn) and take the lock only when it moved.
#[derive(Debug)]
pub struct LiveCell {
    generation: AtomicU64,
    current: Mutex<Arc<Live>>,
}

impl LiveCell {
    pub fn new(live: Live) -> LiveCell {
        LiveCell {
            generation: AtomicU64::new(live.generation),
            current: Mutex::new(Arc::new(live)),
        }
    }

    /// The newest generation's number.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The newest snapshot.
    pub fn load(&self) -> Arc<Live> {
        Arc::clone(&self.current.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Makes `live` the newest snapshot (its generation must be the next one).
    fn publish(&self, live: Live) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        debug_assert_eq!(live.generation, current.generation + 1);
        let generation = live.generation;
        *current = Arc::new(live);
        self.generation.store(generation, Ordering::Release);
    }
}

/// What a reload changes, as nats-server reports it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// `Reloaded: ...` lines, in nats-server's order (its Options struct's).
    pub lines: Vec<String>,
    pub logging: bool,
    pub pid_file: bool,
    pub max_connections: bool,
}

/// A Go `%v` of a float64 number of seconds (`2`, `0.5`).
fn go_seconds(duration: std::time::Duration) -> String {
    format!("{}", duration.as_secs_f64())
}

/// A Go `%v` of an optional string (`""` prints as nothing).
fn go_string(value: &Option<impl AsRef<std::path::Path>>) -> String {
    value
        .as_ref()
        .map_or_else(String::new, |v| v.as_ref().display().to_string())
}

fn unsupported(field: &str, old: impl std::fmt::Display, new: impl std::fmt::Display) -> String {
    format!("config reload not supported for {field}: old={old}, new={new}")
}

/// A digest of the TLS files' contents: nats-server compares the loaded certificates, so a
/// certificate rewritten in place is a change. An unreadable file digests as empty (loading
/// it then fails with a message naming it).
pub fn tls_files_digest(tls: &Option<TlsConfig>) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let tls = tls.as_ref()?;
    let mut hasher = Sha256::new();
    for file in [
        Some(&tls.cert_file),
        Some(&tls.key_file),
        tls.ca_file.as_ref(),
    ] {
        let contents = file.and_then(|f| std::fs::read(f).ok()).unwrap_or_default();
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    Some(hasher.finalize().into())
}

/// Compares the running configuration with a newly read one, field by field in nats-server's
/// order; the first field that cannot change while running refuses the reload.
/// `tls_files_changed`: the TLS files' contents differ from those loaded (same paths).
pub fn diff(old: &Config, new: &Config, tls_files_changed: bool) -> Result<Changes, String> {
    let mut changes = Changes::default();
    let mut line = |text: String| changes.lines.push(text);
    if old.server_name != new.server_name {
        return Err(unsupported(
            "ServerName",
            go_string(&old.server_name),
            go_string(&new.server_name),
        ));
    }
    if old.host != new.host {
        return Err(unsupported("Host", &old.host, &new.host));
    }
    // Port 0 (`-1`, any free port) keeps the port bound, as nats-server ignores it.
    if new.port != 0 && old.port != new.port {
        return Err(unsupported("Port", old.port, new.port));
    }
    let mut logging = false;
    if old.trace != new.trace {
        line(format!("Reloaded: trace = {}", new.trace));
        logging = true;
    }
    if old.debug != new.debug {
        line(format!("Reloaded: debug = {}", new.debug));
        logging = true;
    }
    if old.logtime != new.logtime {
        line(format!("Reloaded: logtime = {}", new.logtime));
        logging = true;
    }
    let (o, n) = (&old.limits, &new.limits);
    let max_connections = o.max_connections != n.max_connections;
    // Its line is logged once the surplus is known (see `Server::reload`).
    if o.max_subscriptions != n.max_subscriptions {
        return Err(unsupported(
            "MaxSubs",
            o.max_subscriptions,
            n.max_subscriptions,
        ));
    }
    let (oa, na) = (&old.auth, &new.auth);
    if oa.nkey_users != na.nkey_users {
        line("Reloaded: authorization nkey users".into());
    }
    // nats-server never compares users and accounts (they hold run-time state): every
    // reload reports both.
    line("Reloaded: authorization users".into());
    line("Reloaded: accounts".into());
    if oa.no_auth_user != na.no_auth_user {
        let removed_with_its_user = oa.no_auth_user.as_ref().is_some_and(|old_user| {
            na.no_auth_user.is_none() && !na.users.iter().any(|u| &u.name == old_user)
        });
        if !removed_with_its_user {
            return Err(unsupported(
                "NoAuthUser",
                go_string(&oa.no_auth_user),
                go_string(&na.no_auth_user),
            ));
        }
    }
    if oa.user != na.user {
        line("Reloaded: authorization username".into());
    }
    if oa.password != na.password {
        line("Reloaded: authorization password".into());
    }
    if oa.token != na.token {
        line("Reloaded: authorization token".into());
    }
    if o.ping_interval != n.ping_interval {
        line(format!(
            "Reloaded: ping_interval = {}",
            go_duration(n.ping_interval)
        ));
    }
    if o.ping_max != n.ping_max {
        line(format!("Reloaded: ping_max = {}", n.ping_max));
    }
    if old.http_port != new.http_port {
        let go_port = |port: Option<u16>| match port {
            Some(0) => -1,
            port => i32::from(port.unwrap_or(0)),
        };
        return Err(unsupported(
            "HTTPPort",
            go_port(old.http_port),
            go_port(new.http_port),
        ));
    }
    if oa.timeout() != na.timeout() {
        line(format!(
            "Reloaded: authorization timeout = {}",
            go_seconds(na.timeout())
        ));
    }
    if o.max_control_line != n.max_control_line {
        line(format!(
            "Reloaded: max_control_line = {}",
            n.max_control_line
        ));
    }
    if o.max_payload != n.max_payload {
        line(format!("Reloaded: max_payload = {}", n.max_payload));
    }
    if o.max_pending != n.max_pending {
        return Err(unsupported("MaxPending", o.max_pending, n.max_pending));
    }
    if cluster_changed(old.cluster.as_ref(), new.cluster.as_ref())? {
        line("Reloaded: cluster".into());
    }
    if old.leafnodes != new.leafnodes {
        let show = |leaf: &Option<crate::config::LeafnodesConfig>| match leaf {
            Some(leaf) => format!("{{Host:{} Port:{}}}", leaf.host, leaf.port),
            None => "{}".to_string(),
        };
        return Err(unsupported(
            "LeafNode",
            show(&old.leafnodes),
            show(&new.leafnodes),
        ));
    }
    // What the names resolve to may change on a reload; the remotes may not.
    let remotes =
        |r: &crate::config::LeafRemotes| (r.remotes.clone(), r.settings.clone(), r.reconnect);
    if remotes(&old.leaf_remotes) != remotes(&new.leaf_remotes) {
        let show = |remotes: &crate::config::LeafRemotes| format!("{:?}", remotes.remotes);
        return Err(unsupported(
            "LeafNode.Remotes",
            show(&old.leaf_remotes),
            show(&new.leaf_remotes),
        ));
    }
    websocket::check(old.websocket.as_ref(), new.websocket.as_ref())?;
    let pid_file = old.pid_file != new.pid_file;
    if pid_file {
        line(format!("Reloaded: pid_file = {}", go_string(&new.pid_file)));
    }
    if old.log_file != new.log_file {
        line(format!("Reloaded: log_file = {}", go_string(&new.log_file)));
        logging = true;
    }
    if route_urls(old.cluster.as_ref()) != route_urls(new.cluster.as_ref()) {
        line("Reloaded: cluster routes".into());
    }
    if old.allow_non_tls != new.allow_non_tls {
        return Err(unsupported(
            "AllowNonTLS",
            old.allow_non_tls,
            new.allow_non_tls,
        ));
    }
    let maps = |tls: &Option<TlsConfig>| tls.as_ref().is_some_and(|t| t.verify_and_map);
    if maps(&old.tls) != maps(&new.tls) {
        return Err(unsupported("TLSMap", maps(&old.tls), maps(&new.tls)));
    }
    let timeout = |tls: &Option<TlsConfig>| tls.as_ref().map(|t| t.timeout);
    if timeout(&old.tls) != timeout(&new.tls) {
        let seconds = timeout(&new.tls).map_or_else(|| "0".into(), go_seconds);
        line(format!("Reloaded: tls timeout = {seconds}"));
    }
    let without_timeout = |tls: &Option<TlsConfig>| {
        tls.clone().map(|mut tls| {
            tls.timeout = TlsConfig::DEFAULT_TIMEOUT;
            tls
        })
    };
    if tls_files_changed || without_timeout(&old.tls) != without_timeout(&new.tls) {
        let state = if new.tls.is_some() {
            "enabled"
        } else {
            "disabled"
        };
        line(format!("Reloaded: tls = {state}"));
    }
    if o.write_deadline != n.write_deadline {
        line(format!(
            "Reloaded: write_deadline = {}",
            go_duration(n.write_deadline)
        ));
    }
    if o.max_closed_clients != n.max_closed_clients {
        return Err(unsupported(
            "MaxClosedClients",
            o.max_closed_clients,
            n.max_closed_clients,
        ));
    }
    if old.lame_duck_duration != new.lame_duck_duration {
        return Err(unsupported(
            "LameDuckDuration",
            go_duration(old.lame_duck_duration),
            go_duration(new.lame_duck_duration),
        ));
    }
    if old.lame_duck_grace_period != new.lame_duck_grace_period {
        return Err(unsupported(
            "LameDuckGracePeriod",
            go_duration(old.lame_duck_grace_period),
            go_duration(new.lame_duck_grace_period),
        ));
    }
    // Ours, fixed at start-up (they size the cores' rings and tables).
    if old.cores != new.cores {
        return Err(unsupported("cores", old.cores, new.cores));
    }
    let sizing = |l: &Limits| {
        (
            l.recv_buffers_per_core,
            l.recv_buffer_size,
            l.mailbox_bytes,
            l.listen_backlog,
            l.connections_per_core,
            l.auth_checks_queued,
            l.link_queue_weight_max,
            l.link_dial_timeout,
        )
    };
    if sizing(o) != sizing(n) {
        return Err(
            "config reload not supported for the cores' buffer and table sizes (restart to \
             change them)"
                .to_string(),
        );
    }
    changes.logging = logging;
    changes.pid_file = pid_file;
    changes.max_connections = max_connections;
    Ok(changes)
}

/// The WebSocket listener's TLS files, loaded (a file that cannot be read refuses the
/// start or the reload, naming it).
impl Live {
    /// Who decides a client's login: the WebSocket block's own authenticator for a
    /// WebSocket client when there is one, else the server's.
    pub fn auth_for(&self, websocket: bool) -> &Authenticator {
        match &self.websocket_auth {
            Some(auth) if websocket => auth,
            _ => &self.auth,
        }
    }
}

/// The authenticator of WebSocket clients when the `websocket` block overrides the
/// top-level credentials: the server's users, nkeys and accounts with the block's user,
/// password, token, `no_auth_user` (each replacing the top-level one, set or not, as
/// nats-server does) and auth timeout.
pub fn websocket_authenticator(config: &Config) -> Result<Option<Authenticator>, String> {
    let Some(websocket) = config.websocket.as_ref().filter(|ws| ws.overrides_auth()) else {
        return Ok(None);
    };
    let block = websocket.authorization.clone().unwrap_or_default();
    let mut auth = config.auth.clone();
    auth.user = block.user;
    auth.password = block.password;
    auth.token = block.token;
    auth.no_auth_user = websocket.no_auth_user.clone();
    if block.timeout.is_some() {
        auth.timeout = block.timeout;
    }
    let authenticator = Authenticator::new(&auth)
        .map_err(|error| format!("websocket: {error}"))?
        .with_certificate_mapping(super::greeting::maps_certificates(config));
    Ok(Some(authenticator))
}

pub fn websocket_tls(config: &Config) -> Result<Option<TlsServerConfig>, String> {
    let Some(tls) = config.websocket.as_ref().and_then(|ws| ws.tls.as_ref()) else {
        return Ok(None);
    };
    TlsServerConfig::load(
        &tls.cert_file,
        &tls.key_file,
        tls.ca_file.as_deref(),
        tls.verify,
    )
    .map(Some)
    .map_err(|e| format!("websocket: {e}"))
}

/// Clients to close per core so that `counts` fit within `max`: the surplus, taken from the
/// busiest cores first.
fn surplus_by_core(counts: &[usize], max: usize) -> Vec<usize> {
    let mut surplus = counts.iter().sum::<usize>().saturating_sub(max);
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by_key(|&core| std::cmp::Reverse(counts[core]));
    let mut by_core = vec![0; counts.len()];
    for core in order {
        let take = surplus.min(counts[core]);
        by_core[core] = take;
        surplus -= take;
    }
    by_core
}

impl Server {
    /// Reloads the configuration: `read` reads the command line and the file again (flags
    /// win over the file, as at start-up). Returns nats-server's error text when the reload
    /// is refused; the running configuration is then untouched.
    pub fn reload(&self, read: impl FnOnce() -> Result<Config, String>) -> Result<(), String> {
        let current = self.shared.live.load();
        if current.config.config_file.is_none() {
            return Err(
                "can only reload config when a file is provided using -c or --config".into(),
            );
        }
        let mut config = read()?;
        config.validate().map_err(|e| e.to_string())?;
        // A random port stays the one bound at start-up.
        if config.port == 0 {
            config.port = current.config.port;
        }
        // Likewise the WebSocket port: nats-server compares (and prints) the port bound.
        let mut old_config = None;
        if let Some(bound) = self.shared.websocket_port.map(i32::from) {
            if let Some(ws) = config.websocket.as_mut().filter(|ws| ws.port == -1) {
                ws.port = bound;
            }
            if current
                .config
                .websocket
                .as_ref()
                .is_some_and(|ws| ws.port == -1)
            {
                let mut old = current.config.clone();
                old.websocket.iter_mut().for_each(|ws| ws.port = bound);
                old_config = Some(old);
            }
        }
        // Likewise the route port (nats-server keeps the port bound for a `-1`).
        if let Some(bound) = self.shared.route_port {
            if let Some(cluster) = config.cluster.as_mut().filter(|c| c.port == 0) {
                cluster.port = bound;
            }
            if current.config.cluster.as_ref().is_some_and(|c| c.port == 0) {
                let old = old_config.get_or_insert_with(|| current.config.clone());
                old.cluster.iter_mut().for_each(|c| c.port = bound);
            }
        }
        let old_config = old_config.as_ref().unwrap_or(&current.config);
        let tls_digest = tls_files_digest(&config.tls);
        let changes = diff(old_config, &config, tls_digest != current.tls_digest)?;
        let auth = Authenticator::reloaded(&config.auth, &current.auth)?
            .with_certificate_mapping(super::greeting::maps_certificates(&config));
        let tls = match &config.tls {
            Some(tls) => Some(
                TlsServerConfig::load(
                    &tls.cert_file,
                    &tls.key_file,
                    tls.ca_file.as_deref(),
                    tls.verify,
                )
                .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let websocket_tls = websocket_tls(&config)?;
        let websocket_auth = websocket_authenticator(&config)?;
        if changes.logging {
            // The file first: a file that cannot be opened refuses the reload unchanged.
            match &config.log_file {
                Some(path) => crate::log::set_file(path)
                    .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?,
                None => crate::log::clear_file(),
            }
            crate::log::set_levels(config.debug, config.trace);
            crate::log::set_logtime(config.logtime);
        }
        for line in &changes.lines {
            info!("{line}");
        }
        let surplus = if changes.max_connections {
            surplus_by_core(
                &self.runtime.connections_by_core(),
                config.limits.max_connections,
            )
        } else {
            Vec::new()
        };
        if changes.max_connections {
            let closed: usize = surplus.iter().sum();
            if closed > 0 {
                info!("Closed {closed} connections to fall within max_connections");
            }
            info!(
                "Reloaded: max_connections = {}",
                config.limits.max_connections
            );
        }
        if changes.pid_file {
            if let Some(path) = &config.pid_file {
                if let Err(error) = std::fs::write(path, std::process::id().to_string()) {
                    crate::error!("Failed to write pidfile: {error}");
                }
            }
        }
        let mut info = current.info.clone();
        info.auth_required = auth.advertises_auth_required();
        super::greeting::set_info_tls(&mut info, &config);
        info.max_payload = config.limits.max_payload;
        self.shared.live.publish(Live {
            generation: current.generation + 1,
            config,
            auth,
            info,
            tls,
            tls_digest,
            websocket_tls,
            websocket_auth,
            loaded_at: WallClock::now_unix_nanos(),
            surplus_by_core: surplus,
        });
        self.runtime.wake();
        info!("Reloaded server configuration");
        Ok(())
    }
}

impl Shard {
    /// Takes the newest configuration if a reload published one (end of a loop turn).
    pub(super) fn adopt_live_if_newer(&mut self, io: &mut Io<'_>) {
        if self.shared.live.generation() != self.live.generation {
            self.adopt_live(io);
        }
    }

    fn adopt_live(&mut self, io: &mut Io<'_>) {
        let live = self.shared.live.load();
        let previous = std::mem::replace(&mut self.live, Arc::clone(&live));
        io.set_write_deadline(live.config.limits.write_deadline);
        io.set_tls(live.tls.clone());
        while self.local.len() < live.auth.account_count() {
            self.local.push(crate::subjects::SubjectTrie::new());
            self.remote.push(crate::subjects::SubjectTrie::new());
            self.link_interest.push(crate::subjects::SubjectTrie::new());
        }
        let auth_changed = previous.config.auth != live.config.auth;
        let limits = crate::protocol::ParserLimits {
            max_control_line: live.config.limits.max_control_line,
            max_payload: live.config.limits.max_payload,
        };
        let conns: Vec<ConnId> = self.clients.iter().flatten().map(|c| c.id).collect();
        for &conn in &conns {
            let Some(client) = self.client_mut(conn) else {
                continue;
            };
            if !client.is_open() {
                continue;
            }
            if let Some(parser) = client.parser.as_mut() {
                parser.set_limits(limits);
            }
            if auth_changed {
                self.recheck_auth(io, conn);
            }
        }
        let mut surplus = live.surplus_by_core.get(self.core).copied().unwrap_or(0);
        for &conn in conns.iter().rev() {
            if surplus == 0 {
                break;
            }
            if self.client(conn).is_some_and(|c| c.is_open()) {
                io.write(conn, err::MAX_CONNECTIONS);
                self.close_client(io, conn, true, ClosedReason::MaxConnectionsExceeded);
                surplus -= 1;
            }
        }
        self.reload_cluster(io, &previous.config);
        self.on_live_changed_for_monitoring();
    }

    /// One client against the reloaded users, as nats-server's reloadAuthorization: refused
    /// → Authorization Violation; another account → closed; else the new permissions, and
    /// subscriptions they no longer allow are dropped.
    pub(super) fn recheck_auth(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let live = Arc::clone(&self.live);
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if client.auth_check.is_some() {
            // Its password is being checked: the answer is checked again against the new
            // users when it comes (`finish_auth_checks`).
            return;
        }
        let admitted = client.connected || client.input_seen;
        if !admitted {
            // Not yet authenticated: its CONNECT meets the new users; the timer starts now
            // if auth became required.
            let required = live.auth_for(client.websocket).is_required();
            if required && !client.awaiting_auth {
                client.awaiting_auth = true;
                self.arm_auth_timer(io, conn);
            } else if !required {
                client.awaiting_auth = false;
            }
            return;
        }
        let sent = &client.options;
        let anonymous = client.admitted_anonymously;
        let credentials = if anonymous {
            Credentials::default()
        } else {
            super::login::credentials(sent)
        };
        // As nats-server: a client whose user or nkey is gone is closed without a word
        // (it "moved accounts"); one whose credentials no longer pass is refused.
        let gone = live
            .auth_for(client.websocket)
            .knows_login(sent.nkey.as_deref(), sent.user.as_deref())
            == Some(false);
        if gone {
            crate::debug!(
                "{} - {} - user removed by a reload, closing",
                client.peer,
                client.tag()
            );
            self.close_client(io, conn, true, ClosedReason::ClientClosed);
            return;
        }
        let mut credentials = credentials;
        credentials.certificate = io.peer_certificate(conn);
        let nonce = client.nonce.as_deref().unwrap_or("").as_bytes();
        match live.auth_for(client.websocket).verdict(&credentials, nonce) {
            Verdict::Admit(identity) => self.apply_rechecked(io, conn, identity),
            Verdict::Refuse(_) => self.refuse_auth(io, conn, None),
            // A changed bcrypt hash: checked off the core; the client keeps its current
            // permissions until the answer comes (`finish_auth_checks`).
            Verdict::Check(check) => self.recheck_off_core(io, conn, check),
        }
    }

    /// The rest of a re-check whose credentials still pass: another account closes the
    /// client, else the new permissions apply and subscriptions they forbid are dropped.
    pub(super) fn apply_rechecked(&mut self, io: &mut Io<'_>, conn: ConnId, identity: Identity) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if identity.account != client.account {
            crate::debug!(
                "{} - {} - account changed by a reload, closing",
                client.peer,
                client.tag()
            );
            self.close_client(io, conn, true, ClosedReason::ClientClosed);
            return;
        }
        client.permissions = identity
            .rules
            .map(|rules| Box::new(ClientPermissions::new(rules)));
        let Some(permissions) = client.permissions.as_mut() else {
            return;
        };
        let mut removed = Vec::new();
        for (slot, sub) in client.subscriptions.iter() {
            let plain = permissions.may_subscribe(&sub.subject, None);
            let queued = sub
                .queue
                .as_deref()
                .is_some_and(|queue| permissions.may_subscribe(&sub.subject, Some(queue)));
            if !plain && !queued {
                removed.push((slot, sub.subject.clone(), sub.sid.clone()));
            }
        }
        let user = crate::auth::user_label(
            client.options.nkey.as_deref(),
            client.options.user.as_deref(),
        );
        for (slot, subject, sid) in removed {
            self.remove_subscription(io, conn, slot);
            let subject = String::from_utf8_lossy(&subject);
            let sid = String::from_utf8_lossy(&sid);
            let text = format!(
                "-ERR 'Permissions Violation for Subscription to {subject:?} (sid {sid:?})'\r\n"
            );
            io.write(conn, text.as_bytes());
            info!("Removed sub {subject:?} (sid {sid:?}) for {user} - not authorized");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn with_file() -> Config {
        Config {
            config_file: Some("/etc/nats.conf".into()),
            ..Config::default()
        }
    }

    #[test]
    fn reloadable_changes_are_reported_in_nats_server_order() {
        let old = with_file();
        let mut new = with_file();
        new.debug = true;
        new.trace = true;
        new.limits.max_payload = 512;
        new.limits.ping_interval = Duration::from_secs(90);
        new.limits.write_deadline = Duration::from_millis(1500);
        new.auth.token = Some("s3cr3t".into());
        let changes = diff(&old, &new, false).unwrap();
        assert_eq!(
            changes.lines,
            [
                "Reloaded: trace = true",
                "Reloaded: debug = true",
                "Reloaded: authorization users",
                "Reloaded: accounts",
                "Reloaded: authorization token",
                "Reloaded: ping_interval = 1m30s",
                "Reloaded: max_payload = 512",
                "Reloaded: write_deadline = 1.5s",
            ]
        );
        assert!(changes.logging && !changes.pid_file && !changes.max_connections);
    }

    #[test]
    fn an_unchanged_file_still_reports_users_and_accounts_as_nats_server_does() {
        let changes = diff(&with_file(), &with_file(), false).unwrap();
        assert_eq!(
            changes.lines,
            ["Reloaded: authorization users", "Reloaded: accounts"]
        );
    }

    /// One change to a configuration.
    type Edit = fn(&mut Config);

    #[test]
    fn fixed_options_refuse_the_reload_with_the_go_field_name() {
        let old = with_file();
        let cases: [(Edit, &str); 10] = [
            (
                |c| {
                    c.cluster = Some(crate::config::ClusterConfig {
                        name: Some("edge".into()),
                        port: 6222,
                        routes: vec!["127.0.0.1:6223".into()],
                        ..crate::config::ClusterConfig::new()
                    })
                },
                "config reload not supported for cluster host: old=, new=0.0.0.0",
            ),
            (
                |c| c.leaf_remotes.remotes = vec![vec!["127.0.0.1:7422".into()]],
                "config reload not supported for LeafNode.Remotes: old=[], new=[[\"127.0.0.1:7422\"]]",
            ),
            (
                |c| {
                    c.leafnodes = Some(crate::config::LeafnodesConfig {
                        advertise: None,
                        no_advertise: false,
                        host: "127.0.0.1".into(),
                        port: 7422,
                        auth: Default::default(),
                        tls: None,
                    })
                },
                "config reload not supported for LeafNode: old={}, new={Host:127.0.0.1 Port:7422}",
            ),
            (
                |c| c.port = 4333,
                "config reload not supported for Port: old=4222, new=4333",
            ),
            (
                |c| c.host = "127.0.0.1".into(),
                "config reload not supported for Host: old=0.0.0.0, new=127.0.0.1",
            ),
            (
                |c| c.server_name = Some("n2".into()),
                "config reload not supported for ServerName: old=, new=n2",
            ),
            (
                |c| c.limits.max_pending = 1 << 20,
                "config reload not supported for MaxPending: old=67108864, new=1048576",
            ),
            (
                |c| c.limits.max_subscriptions = 2,
                "config reload not supported for MaxSubs: old=0, new=2",
            ),
            (
                |c| c.http_port = Some(0),
                "config reload not supported for HTTPPort: old=0, new=-1",
            ),
            (
                |c| c.lame_duck_duration = Duration::from_secs(60),
                "config reload not supported for LameDuckDuration: old=2m0s, new=1m0s",
            ),
        ];
        for (change, text) in cases {
            let mut new = with_file();
            change(&mut new);
            assert_eq!(diff(&old, &new, false).unwrap_err(), text);
        }
        // Port 0 (any free port) keeps the bound one.
        let mut new = with_file();
        new.port = 0;
        assert!(diff(&old, &new, false).is_ok());
    }

    #[test]
    fn no_auth_user_may_only_go_away_with_its_user() {
        let user = |name: &str| crate::auth::User {
            name: name.into(),
            password: "pw".into(),
            ..Default::default()
        };
        let mut old = with_file();
        old.auth.users = vec![user("anon"), user("bob")];
        old.auth.no_auth_user = Some("anon".into());
        let mut new = old.clone();
        new.auth.no_auth_user = None;
        assert_eq!(
            diff(&old, &new, false).unwrap_err(),
            "config reload not supported for NoAuthUser: old=anon, new="
        );
        new.auth.users = vec![user("bob")];
        assert!(diff(&old, &new, false).is_ok());
        new.auth.no_auth_user = Some("bob".into());
        assert_eq!(
            diff(&old, &new, false).unwrap_err(),
            "config reload not supported for NoAuthUser: old=anon, new=bob"
        );
    }

    #[test]
    fn surplus_is_taken_from_the_busiest_cores() {
        assert_eq!(surplus_by_core(&[3, 5], 10), [0, 0]);
        assert_eq!(surplus_by_core(&[3, 5], 6), [0, 2]);
        assert_eq!(surplus_by_core(&[3, 5], 1), [2, 5]);
        assert_eq!(surplus_by_core(&[4, 4], 0), [4, 4]);
    }
}
