//! The validated server configuration. Every bound the server enforces lives in [`Limits`],
//! with nats-server 2.9.10's default and the policy applied when it is exceeded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub mod go_url;
mod jetstream;
mod websocket;
pub use jetstream::{friendly_bytes, resolved_limits, JetStreamConfig, SyncPolicy};
pub use websocket::{AllowedOrigin, WebsocketAuth, WebsocketConfig};

/// Every limit of the server, one place. Defaults match nats-server 2.9.10 where it has the
/// same limit; the rest are ours and say so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest PUB/HPUB payload (headers included). Over it: `-ERR 'Maximum Payload
    /// Violation'` and close, on the control line, before the payload is read.
    pub max_payload: usize,
    /// Longest control-line argument (bytes after the op and its separator). Over it:
    /// `-ERR 'maximum control line exceeded'` and close; also checked on a partial line.
    pub max_control_line: usize,
    /// Outbound bytes queued for one connection. Over it: the connection is closed as a slow
    /// consumer (no -ERR), counted and logged.
    pub max_pending: usize,
    /// Client connections at once across all cores. Over it: INFO, then `-ERR 'maximum
    /// connections exceeded'` and close.
    pub max_connections: usize,
    /// Subscriptions per connection, 0 = unlimited. Over it: `-ERR 'maximum subscriptions
    /// exceeded'`, the connection stays open.
    pub max_subscriptions: usize,
    /// Interval of the server's keep-alive PING.
    pub ping_interval: Duration,
    /// PINGs left unanswered before `-ERR 'Stale Connection'` and close.
    pub ping_max: u32,
    /// A send that makes no progress for this long closes the connection as a slow consumer.
    pub write_deadline: Duration,
    /// Ours: provided receive buffers per core (power of two), the most that circulate. 64
    /// circulate at first (cache-warm); the set doubles when receives on several connections
    /// find none free in one turn. When all are in use, receives pause until buffers return
    /// (ENOBUFS recovery); no data is lost.
    pub recv_buffers_per_core: u16,
    /// Ours: size of one provided receive buffer.
    pub recv_buffer_size: u32,
    /// Ours: bytes of cross-core records one core may have queued for one other core before it
    /// stops reading from its own connections until the peer has drained them.
    pub mailbox_bytes: usize,
    /// Pending, not yet accepted connections the kernel queues for the listener (capped by
    /// `net.core.somaxconn`). Over it the kernel drops SYNs and clients retry.
    pub listen_backlog: u32,
    /// Ours: connections one core can own (fixed-file table and slab bound). Over it, a
    /// new connection is handed to another core, or refused and logged if all are full.
    pub connections_per_core: u32,
    /// Closed connections remembered for `/connz?state=closed` (with monitoring on). Over
    /// it, the oldest is forgotten.
    pub max_closed_clients: usize,
    /// Ours: bcrypt password checks that may wait for a worker thread at once (all cores
    /// together; see `broker::auth_checks`). Over it, a CONNECT that needs one is refused
    /// with `-ERR 'Authorization Violation'`, and the log says why.
    pub auth_checks_queued: usize,
    /// A queue group weight a link may announce (a leaf's `LS+ subject queue weight`, a
    /// route's `RS+ account subject queue weight`). Above it
    /// the weight counts as this many members: each unit is one trie count and one record
    /// to every other core, so an absurd weight must not stall the link's core; only the
    /// share of deliveries between the link and other members is affected.
    pub link_queue_weight_max: u32,
    /// How long a dial of a link this server solicits (a leaf remote, a route) may take
    /// before it is abandoned and retried as its policy says (nats-server's dial timeout:
    /// 1 s for both).
    pub link_dial_timeout: Duration,
    /// How long an accepted leaf has to send its CONNECT when the leaf port's
    /// `authorization { timeout }` is not given (nats-server's default auth timeout, 2 s;
    /// without TLS). Past it: `-ERR 'Authentication Timeout'` and the link is closed.
    pub leaf_auth_timeout: Duration,
    /// How long an accepted route has to send its CONNECT when the cluster has an
    /// `authorization` block without a `timeout` (nats-server's default, 2 s). Past it:
    /// `-ERR 'Authentication Timeout'` and the route is closed.
    pub route_auth_timeout: Duration,
    /// Longest compressed WebSocket message (permessage-deflate) a client may send,
    /// gathered while its frames arrive, and longest it may inflate to. Ours: nats-server
    /// inflates any message whole. Past it: a close frame `1009` naming the bound, the
    /// connection closed. (Uncompressed frames stream through at any length, as in
    /// nats-server; the NATS parser bounds what they carry.)
    pub websocket_max_frame_payload: u64,
    /// Longest WebSocket upgrade request head (request line and headers), held while it
    /// arrives: Go's HTTP server's bound under nats-server, 1 MiB + 4 KiB. Past it: Go's
    /// `431 Request Header Fields Too Large`, the connection closed.
    pub websocket_max_request_head: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            max_connections: 65_536,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            recv_buffers_per_core: 1024,
            recv_buffer_size: 16 * 1024,
            mailbox_bytes: 1024 * 1024,
            connections_per_core: 65_536,
            listen_backlog: 4096,
            max_closed_clients: 10_000,
            auth_checks_queued: 256,
            link_queue_weight_max: 1024,
            link_dial_timeout: Duration::from_secs(1),
            leaf_auth_timeout: Duration::from_secs(2),
            route_auth_timeout: Duration::from_secs(2),
            websocket_max_frame_payload: 64 * 1024 * 1024,
            websocket_max_request_head: (1 << 20) + 4096,
        }
    }
}

/// TLS for client connections: the `--tls*` flags, or a config file's `tls {}` block (whose
/// keys these fields are named after). The files are read at start-up; a file that cannot be
/// read or parsed stops the server with a message naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM (`cert_file`, `--tlscert`).
    pub cert_file: PathBuf,
    /// The certificate's private key, PEM: PKCS#8, PKCS#1 or SEC1 (`key_file`, `--tlskey`).
    pub key_file: PathBuf,
    /// CAs that sign client certificates, PEM (`ca_file`, `--tlscacert`). Used only with
    /// `verify`; without it, `verify` trusts the system's CA bundle, as nats-server does.
    pub ca_file: Option<PathBuf>,
    /// Require a client certificate signed by a trusted CA (`verify`, `--tlsverify`); INFO
    /// then carries `"tls_verify":true`.
    pub verify: bool,
    /// The client certificate names the user (`verify_and_map`, which implies `verify`):
    /// its email or DNS SAN, or its subject DN, is looked up among the users as nats-server
    /// does; the CONNECT's user name is not used.
    pub verify_and_map: bool,
    /// The handshake comes first, INFO after it, encrypted (`handshake_first`, nats-server
    /// 2.10). Clients must be configured for it (nats.c, async-nats, nats.py can be).
    pub handshake_first: bool,
    /// With `handshake_first`: a client that has sent nothing after this long gets the plain
    /// INFO and the usual TLS after it (`handshake_first: "300ms"`, or `"auto"` for 50 ms).
    /// None: no fallback, such clients fail.
    pub handshake_first_fallback: Option<Duration>,
    /// Handshake deadline (`timeout`, in seconds in the config file). Over it the connection
    /// is closed without a reply, as nats-server closes it.
    pub timeout: Duration,
}

impl TlsConfig {
    /// nats-server's default handshake deadline (`TLS_TIMEOUT`).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// nats-server 2.10's `handshake_first: auto` fallback delay.
    pub const DEFAULT_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

    /// TLS with this certificate and key, no client verification, the default timeout.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            ca_file: None,
            verify: false,
            verify_and_map: false,
            handshake_first: false,
            handshake_first_fallback: None,
            timeout: TlsConfig::DEFAULT_TIMEOUT,
        }
    }
}

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Host the client listener binds (`-a`), as given (shown in INFO `host`).
    pub host: String,
    /// Client port (`-p`); 0 picks a free port (`-p -1` on the command line).
    pub port: u16,
    /// `server_name` in INFO; defaults to the server id.
    pub server_name: Option<String>,
    /// Worker cores (`--cores`); default: available CPUs.
    pub cores: usize,
    pub limits: Limits,
    pub debug: bool,
    pub trace: bool,
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Lame duck mode (SIGUSR2): clients are closed spread over this long (at least 30 s).
    pub lame_duck_duration: Duration,
    /// Lame duck mode: the wait before the first client is closed, so that several servers
    /// put in lame duck together do not trade clients (less than the duration).
    pub lame_duck_grace_period: Duration,
    /// Timestamps in log lines (`-T`, `logtime`); on by default, as in nats-server.
    pub logtime: bool,
    /// HTTP monitoring port (`-m`, `http_port`), on the client listener's host; `None`:
    /// off; `Some(0)`: any free port (`-1`).
    pub http_port: Option<u16>,
    /// The config file this came from (`-c`), if any.
    pub config_file: Option<PathBuf>,
    /// Authentication, accounts and permissions (`--user/--pass/--auth`, `authorization`,
    /// `accounts`, `no_auth_user`); the default is no auth.
    pub auth: crate::auth::AuthConfig,
    /// TLS required on the client port (`--tls`); None: plain text.
    pub tls: Option<TlsConfig>,
    /// JetStream's storage directory (`-sd`, `--store_dir`). Accepted without `-js`, as
    /// nats-server accepts it (client test harnesses pass it on every start); with JetStream
    /// on it is `jetstream.store_dir` unless the block names one.
    pub store_dir: Option<PathBuf>,
    /// JetStream (`-js`, `jetstream {}`); `None`: off.
    pub jetstream: Option<JetStreamConfig>,
    /// With `tls`, plain-text clients are served too (`allow_non_tls`): INFO says
    /// `tls_available` instead of `tls_required`, and a client's first byte chooses.
    pub allow_non_tls: bool,
    /// `leafnodes { listen | host + port }`: the port nats-server leaf nodes connect to
    /// (ringmq as a hub); `None`: no leaf port.
    pub leafnodes: Option<LeafnodesConfig>,
    /// `leafnodes { remotes: [...], reconnect }`: hubs this server dials as a leaf node
    /// (ringmq as a leaf); empty: none.
    pub leaf_remotes: LeafRemotes,
    /// `cluster { ... }` / `--cluster`: the route port and the routes this server dials;
    /// `None`: not clustered.
    pub cluster: Option<ClusterConfig>,
    /// `websocket { ... }` with a port: the WebSocket listener; `None`: none.
    pub websocket: Option<WebsocketConfig>,
}

/// A cluster (`cluster { name, listen | host + port, routes, no_advertise, connect_retries,
/// authorization, tls, advertise, permissions }`, `--cluster`, `--cluster_name`, `--routes`,
/// `--cluster_advertise`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The cluster's name; `None`: a dynamic name, replaced by a peer's (nats-server's rule).
    pub name: Option<String>,
    /// Host the route listener binds; default `0.0.0.0`.
    pub host: String,
    /// 0 picks a free port (`-1`); nats-server's default is 6222.
    pub port: u16,
    /// The explicit routes (`routes`, `--routes`) as `host:port`, dialled at start-up and
    /// again when lost.
    pub routes: Vec<String>,
    /// Do not tell clients the other nodes' URLs (`connect_urls`), nor peers ours.
    pub no_advertise: bool,
    /// Dials of an explicit route that fail before it is given up (`connect_retries`);
    /// 0: retried for ever (nats-server's rule for explicit routes).
    pub connect_retries: u32,
    /// What the route host names resolved to when the configuration was read (see
    /// [`LeafRemotes::addresses`]).
    pub addresses: std::collections::BTreeMap<String, std::net::SocketAddr>,
    /// `authorization { user, password, timeout }`: the credentials an accepted route's
    /// CONNECT must carry; `None`: routes are not authenticated.
    pub authorization: Option<RouteAuthorization>,
    /// Credentials of configured routes (`nats-route://user:pass@host:port`), by
    /// `host:port`, sent in our CONNECT.
    pub credentials: std::collections::BTreeMap<String, (String, String)>,
    /// `tls {}`: every route speaks TLS from its first byte, both sides presenting this
    /// certificate and verifying the peer's against `ca_file` (nats-server forces `verify`
    /// on routes); `None`: plain routes.
    pub tls: Option<LeafTls>,
    /// `advertise` / `--cluster_advertise` (`HOST[:PORT]`): the route address our route
    /// INFO gives (its `host`, `port` and `ip`), which peers gossip to the others; client
    /// `connect_urls` are not affected. `None`: the route listener's host and port.
    pub advertise: Option<String>,
    /// `permissions { import, export }`: what interest we send a route (import: the
    /// subjects we want from it) and accept from it (export: the subjects we give it);
    /// `None`: everything.
    pub permissions: Option<RoutePermissions>,
}

/// Route permissions, as nats-server keeps them: `import` is checked as a publish
/// permission against our own interest before it is sent as RS+, `export` as a subscribe
/// permission against a route's RS+ (and, for a wildcard overlapping a deny entry, against
/// each message sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePermissions {
    pub import: Option<crate::auth::SubjectPermission>,
    pub export: Option<crate::auth::SubjectPermission>,
}

/// The route port's single user (`cluster { authorization { user, password, timeout } }`);
/// the password may be a bcrypt hash (checked on the auth workers, off the cores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAuthorization {
    pub user: String,
    pub password: String,
    /// `timeout` in seconds; `None`: `Limits::route_auth_timeout`.
    pub timeout: Option<Duration>,
}

/// nats-server's default route port.
pub const DEFAULT_CLUSTER_PORT: u16 = 6222;

impl ClusterConfig {
    pub fn new() -> ClusterConfig {
        ClusterConfig {
            name: None,
            host: "0.0.0.0".to_string(),
            port: DEFAULT_CLUSTER_PORT,
            routes: Vec::new(),
            no_advertise: false,
            connect_retries: 0,
            addresses: std::collections::BTreeMap::new(),
            authorization: None,
            credentials: std::collections::BTreeMap::new(),
            tls: None,
            advertise: None,
            permissions: None,
        }
    }

    /// The advertised route address (`advertise`), read as nats-server's `parseHostPort`:
    /// `HOST:PORT`, or `HOST` alone with the route port; a port of 0 or -1 is the route
    /// port. `Ok(None)`: nothing advertised.
    pub fn advertised(&self, route_port: u16) -> Result<Option<(String, u16)>, String> {
        let Some(text) = self.advertise.as_deref().filter(|text| !text.is_empty()) else {
            return Ok(None);
        };
        let bad = || format!("invalid cluster advertise value {text:?}: expected HOST[:PORT]");
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => (host, port),
            // No port (an IPv6 address without brackets has colons but no port).
            _ => (text, ""),
        };
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let port = match port.trim() {
            "" | "0" | "-1" => route_port,
            number => number.parse::<u16>().map_err(|_| bad())?,
        };
        Ok(Some((host.to_string(), port)))
    }

    /// The name a dialled route's certificate must carry when its URL's host is an IP
    /// address: the first host name among the configured routes (nats-server's rule).
    pub fn tls_name(&self) -> Option<&str> {
        self.routes
            .iter()
            .filter_map(|url| url.rsplit_once(':').map(|(host, _)| host))
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
            .find(|host| host.parse::<std::net::IpAddr>().is_err())
    }

    /// Resolves the route URLs that are not IP addresses (blocking: where the
    /// configuration is read, never on a core).
    pub fn resolve_names(&mut self) {
        resolve_into(&self.routes, &mut self.addresses);
    }

    /// The address to dial for a route `HOST:PORT`, without a DNS query.
    pub fn address(&self, url: &str) -> Option<std::net::SocketAddr> {
        url.parse()
            .ok()
            .or_else(|| self.addresses.get(url).copied())
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig::new()
    }
}

/// Resolves each `HOST:PORT` of `urls` that is not an IP address and is not in
/// `addresses` yet (blocking).
fn resolve_into<'a>(
    urls: impl IntoIterator<Item = &'a String>,
    addresses: &mut std::collections::BTreeMap<String, std::net::SocketAddr>,
) {
    use std::net::{SocketAddr, ToSocketAddrs};
    for url in urls {
        if url.parse::<SocketAddr>().is_ok() || addresses.contains_key(url) {
            continue;
        }
        if let Some(address) = url
            .to_socket_addrs()
            .ok()
            .and_then(|mut found| found.next())
        {
            addresses.insert(url.clone(), address);
        }
    }
}

/// The hubs ringmq dials as a leaf (`leafnodes { remotes, reconnect }`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeafRemotes {
    /// One entry per remote: its `url`/`urls` as `host:port`, dialled in turn.
    pub remotes: Vec<Vec<String>>,
    /// Per remote (same order as `remotes`): credentials, account, deny lists.
    pub settings: Vec<LeafRemoteSettings>,
    /// Between two dials of a remote (`reconnect`, whole seconds in nats-server); `None`:
    /// 1 s, nats-server's default.
    pub reconnect: Option<Duration>,
    /// What the remotes' host names resolved to when the configuration was read (start-up
    /// or reload, on the main thread): a dial on core 0 only looks them up here, so no DNS
    /// query ever blocks a message core. A name missing here fails its dials with a lookup
    /// error until a reload resolves it.
    pub addresses: std::collections::BTreeMap<String, std::net::SocketAddr>,
}

impl LeafRemotes {
    /// Resolves every remote URL that is not an IP address already (blocking: call it where
    /// the configuration is read, never on a core).
    pub fn resolve_names(&mut self) {
        resolve_into(self.remotes.iter().flatten(), &mut self.addresses);
    }

    /// The address to dial for `url` (`HOST:PORT`) without a DNS query: an IP address as
    /// written, or the one a name resolved to when the configuration was read.
    pub fn address(&self, url: &str) -> Option<std::net::SocketAddr> {
        url.parse()
            .ok()
            .or_else(|| self.addresses.get(url).copied())
    }
}

/// One remote's settings besides its URLs.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LeafRemoteSettings {
    /// `user:password@` of the remote's first URL that has one (percent-decoded), sent in
    /// the leaf CONNECT to every URL of the remote, as nats-server does.
    pub credentials: Option<(String, String)>,
    /// Each URL's own `user:password@` (`host:port` → credentials): sent when dialling it.
    pub url_credentials: Vec<(String, (String, String))>,
    /// `account`/`local`: the local account the link is bound to; `None`: `$G`.
    pub account: Option<String>,
    /// `deny_imports`: subjects whose interest is not sent to the hub (and sent as
    /// `deny_pub` in CONNECT, so the hub delivers none of them).
    pub deny_imports: Vec<String>,
    /// `deny_exports`: subjects never forwarded to the hub; the hub's interest in such a
    /// literal subject is ignored.
    pub deny_exports: Vec<String>,
    /// `tls { ca_file, cert_file, key_file, insecure, timeout }`: TLS to this remote even
    /// when its INFO does not ask for it. Without the block, TLS is used when the hub's
    /// INFO says `tls_required` (the system's CAs, as nats-server).
    pub tls: Option<LeafTls>,
    /// The first host name (not an IP address) among the remote's URLs: the TLS server
    /// name when an URL learned from the hub is an IP address (nats-server's `tlsName`).
    pub tls_name: Option<String>,
}

impl LeafRemoteSettings {
    /// The credentials to send when `url` was dialled: its own, else the remote's first
    /// (nats-server's `sendLeafConnect`: `curURL.User`, else the saved user and password).
    pub fn credentials_for(&self, url: Option<&str>) -> Option<(&str, &str)> {
        let own = self
            .url_credentials
            .iter()
            .find(|(address, _)| Some(address.as_str()) == url)
            .map(|(_, credentials)| credentials);
        own.or(self.credentials.as_ref())
            .map(|(user, pass)| (user.as_str(), pass.as_str()))
    }
}

impl std::fmt::Debug for LeafRemoteSettings {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafRemoteSettings")
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("account", &self.account)
            .field("deny_imports", &self.deny_imports)
            .field("deny_exports", &self.deny_exports)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The leaf node port (ringmq as a hub): `listen`/`host`/`port` and `authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafnodesConfig {
    /// Host the leaf listener binds; default `0.0.0.0` as in nats-server.
    pub host: String,
    /// 0 picks a free port (`-1` in the file); nats-server's default is 7422.
    pub port: u16,
    /// `authorization { user, password, account, users, timeout }`.
    pub auth: LeafAuth,
    /// `tls { cert_file, key_file, ca_file, verify, timeout }`: the leaf port requires TLS
    /// (INFO in plain text with `tls_required`, then the handshake).
    pub tls: Option<LeafTls>,
    /// `advertise: "host:port"`: the address leaves are told (INFO `host`, `port`, `ip`,
    /// `leafnode_urls`) instead of the one bound, for a port behind NAT or a proxy.
    pub advertise: Option<(String, u16)>,
    /// `no_advertise`: accepted; nats-server keeps this server's leaf URL out of what its
    /// cluster peers tell their leaves, which ringmq's routes do not tell yet.
    pub no_advertise: bool,
}

/// A `tls {}` block of `leafnodes` (the leaf port: `cert_file` and `key_file` required) or
/// of a remote (all optional). The files are read at start-up; one that cannot be read
/// stops the server, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafTls {
    /// Our certificate chain and its key, PEM.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The leaf port: CAs of the leaves' certificates (with `verify`). A remote: CAs of
    /// the hub's certificate; `None`: the system's CA bundle.
    pub ca_file: Option<PathBuf>,
    /// The leaf port: a leaf must present a certificate from `ca_file` (INFO says
    /// `tls_verify`).
    pub verify: bool,
    /// A remote: the hub's certificate and name are not checked (nats-server warns).
    pub insecure: bool,
    /// Handshake deadline (`timeout`, seconds in the file); default 2 s as nats-server.
    pub timeout: Duration,
    /// `pinned_certs` (the leaf port's and the routes'): the key ids (lowercase hex SHA-256
    /// of the `SubjectPublicKeyInfo`) a peer's certificate must have, checked after the
    /// handshake; empty: any certificate the CAs accept.
    pub pinned_certs: Vec<String>,
}

impl Default for LeafTls {
    fn default() -> LeafTls {
        LeafTls {
            cert_file: None,
            key_file: None,
            ca_file: None,
            verify: false,
            insecure: false,
            timeout: TlsConfig::DEFAULT_TIMEOUT,
            pinned_certs: Vec::new(),
        }
    }
}

/// The leaf port's `authorization` block (nats-server 2.9.10 has no token and no
/// permissions there). With neither `user` nor `users`, a leaf authenticates as a client
/// would (the top-level `authorization`/`accounts` users), and without those it is bound
/// to `account` (or `$G`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LeafAuth {
    /// `user` + `password`: the only login, bound to `account`.
    pub user: Option<(String, String)>,
    /// `users: [ {user, password, account} ]` (not with `user`).
    pub users: Vec<LeafUser>,
    /// `account`: of the single user, or of every leaf when no user is configured.
    pub account: Option<String>,
    /// `timeout`: how long an accepted leaf has for its CONNECT; `None`:
    /// `Limits::leaf_auth_timeout`.
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for LeafAuth {
    /// Never prints the passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafAuth")
            .field("user", &self.user.as_ref().map(|(user, _)| user))
            .field("users", &self.users)
            .field("account", &self.account)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One of the leaf port's `users`.
#[derive(Clone, PartialEq, Eq)]
pub struct LeafUser {
    pub user: String,
    /// Plain text or a bcrypt hash.
    pub password: String,
    /// `None`: `$G`.
    pub account: Option<String>,
}

impl std::fmt::Debug for LeafUser {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafUser")
            .field("user", &self.user)
            .field("account", &self.account)
            .finish()
    }
}

impl Config {
    /// nats-server's `validateLeafNode` (local accounts): every account a leaf setting
    /// names must exist.
    fn check_leaf_accounts(&self) -> Result<(), ConfigError> {
        let exists = |name: &str| {
            name == crate::auth::GLOBAL_ACCOUNT_NAME || self.auth.accounts.iter().any(|a| a == name)
        };
        let missing = |name: &str, what: &str| {
            ConfigError(format!(
                "cannot find local account {name:?} specified in leafnode {what}"
            ))
        };
        if let Some(leaf) = &self.leafnodes {
            let named = leaf.auth.account.iter().chain(
                leaf.auth
                    .users
                    .iter()
                    .filter_map(|user| user.account.as_ref()),
            );
            if let Some(name) = named.into_iter().find(|name| !exists(name)) {
                return Err(missing(name, "authorization"));
            }
        }
        let remote = self.leaf_remotes.settings.iter();
        if let Some(name) = remote
            .filter_map(|s| s.account.as_ref())
            .find(|n| !exists(n))
        {
            return Err(missing(name, "remote"));
        }
        Ok(())
    }
}

/// nats-server's default leaf node port.
pub const DEFAULT_LEAFNODE_PORT: u16 = 7422;

/// nats-server's defaults and floor for lame duck mode.
pub const LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
pub const LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
pub const LAME_DUCK_DURATION_MIN: Duration = Duration::from_secs(30);

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "0.0.0.0".to_string(),
            port: 4222,
            server_name: None,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: Limits::default(),
            debug: false,
            trace: false,
            log_file: None,
            pid_file: None,
            lame_duck_duration: LAME_DUCK_DURATION,
            lame_duck_grace_period: LAME_DUCK_GRACE_PERIOD,
            logtime: true,
            http_port: None,
            config_file: None,
            auth: crate::auth::AuthConfig::default(),
            tls: None,
            store_dir: None,
            jetstream: None,
            allow_non_tls: false,
            leafnodes: None,
            leaf_remotes: LeafRemotes::default(),
            cluster: None,
            websocket: None,
        }
    }
}

/// A configuration that cannot run, with the reason in nats-server's words where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks the cross-field rules nats-server checks at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.lame_duck_duration < LAME_DUCK_DURATION_MIN {
            return Err(ConfigError(format!(
                "invalid lame_duck_duration of {}, minimum is 30 seconds",
                go_duration(self.lame_duck_duration)
            )));
        }
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err(ConfigError(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                go_duration(self.lame_duck_grace_period),
                go_duration(self.lame_duck_duration)
            )));
        }
        let l = &self.limits;
        if l.max_payload > l.max_pending {
            return Err(ConfigError(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                l.max_payload, l.max_pending
            )));
        }
        if self.cores == 0 {
            return Err(ConfigError("--cores must be at least 1".into()));
        }
        if !l.recv_buffers_per_core.is_power_of_two() {
            return Err(ConfigError(
                "receive buffers per core must be a power of two".into(),
            ));
        }
        if (l.recv_buffer_size as usize) < 1024 {
            return Err(ConfigError(
                "receive buffer size must be at least 1024 bytes".into(),
            ));
        }
        crate::auth::Authenticator::new(&self.auth).map_err(ConfigError)?;
        self.check_leaf_accounts()?;
        if self.tls.as_ref().is_some_and(|tls| tls.timeout.is_zero()) {
            return Err(ConfigError("TLS timeout must be positive".into()));
        }
        // Last, as in nats-server's validateOptions.
        if let Some(websocket) = &self.websocket {
            websocket.validate(&self.auth)?;
        }
        Ok(())
    }

    /// The address to bind: `host:port`, IPv6 hosts bracketed.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let text = format!("{}:{}", host, self.port);
        use std::net::ToSocketAddrs;
        text.to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(|| ConfigError(format!("cannot resolve listen address {text}")))
    }
}

/// A duration as Go's `time.Duration.String` prints it (`2m0s`, `10s`, `1.5s`, `250ms`),
/// for messages worded as nats-server's.
pub fn go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = match nanos {
            n if n < 1_000 => return format!("{n}ns"),
            n if n < 1_000_000 => ("\u{b5}s", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", decimal(nanos, scale));
    }
    let total_seconds = nanos / 1_000_000_000;
    let (hours, minutes) = (total_seconds / 3600, (total_seconds / 60) % 60);
    let seconds = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / scale` with the fraction's trailing zeros dropped (`1500, 1000` → `1.5`).
fn decimal(value: u128, scale: u128) -> String {
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3725), "1h2m5s"),
        ];
        for (duration, text) in cases {
            assert_eq!(go_duration(duration), text);
        }
    }

    #[test]
    fn lame_duck_durations_are_checked_as_nats_server_does() {
        let mut c = Config {
            lame_duck_duration: Duration::from_secs(5),
            ..Config::default()
        };
        assert_eq!(
            c.validate().unwrap_err().0,
            "invalid lame_duck_duration of 5s, minimum is 30 seconds"
        );
        c.lame_duck_duration = Duration::from_secs(30);
        c.lame_duck_grace_period = Duration::from_secs(30);
        assert_eq!(
            c.validate().unwrap_err().0,
            "lame duck grace period (30s) should be strictly lower than lame duck duration (30s)"
        );
        c.lame_duck_grace_period = Duration::from_secs(29);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn payload_above_pending_is_refused_with_nats_text() {
        let mut c = Config::default();
        c.limits.max_payload = 128 * 1024 * 1024;
        assert_eq!(
            c.validate().unwrap_err().0,
            "max_payload (134217728) cannot be higher than max_pending (67108864)"
        );
    }

    #[test]
    fn defaults_validate_and_match_nats() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.limits.max_payload, 1_048_576);
        assert_eq!(c.limits.max_control_line, 4096);
        assert_eq!(c.limits.max_pending, 67_108_864);
        assert_eq!(c.limits.ping_max, 2);
        assert_eq!(c.port, 4222);
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.http_port, None);
        assert_eq!(c.limits.max_closed_clients, 10_000);
    }
}
