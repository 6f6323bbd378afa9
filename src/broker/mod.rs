//! NATS semantics on top of `protocol`, `subjects` and `runtime`.
//!
//! - [`Server`]: binds the listener, starts one [`shard::Shard`] per core, stops them.
//! - `shard`: one per core; connections, local subscriptions, other cores' interest.
//! - `connection`: per-connection state and subscriptions.
//! - `routing`: the publish path (local delivery, cross-core forwarding, queue choice).
//! - `interest`: the records cores exchange, and the visibility barrier's epochs.
//! - `monitoring`: the HTTP monitoring port on core 0, per-core snapshots by mail, the
//!   closed-connection ring.
//! - `reload`: the running configuration ([`Live`], one generation per reload) and the
//!   SIGHUP reload with nats-server's rules.

mod auth_checks;
// Public until leaf remotes and routes use it (issue 12).
pub mod backoff;
mod barrier;
mod connection;
mod greeting;
mod input;
mod interest;
mod internal;
mod jetstream;
mod keepalive;
mod kind;
mod lame_duck;
mod leaf;
mod lifecycle;
mod link_input;
mod login;
mod monitoring;
mod monitoring_snapshot;
mod reload;
mod route;
mod routing;
mod shard;
mod stall;
mod subscriptions;
mod timers;
mod trace;
pub mod websocket;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::monitor::clock::WallClock;
use crate::protocol::ServerInfo;
use crate::runtime::{self, Listeners, RuntimeConfig, RuntimeHandle};
use crate::{info, warn};
pub use lame_duck::LameDuckSignal;
pub use reload::{Changes, Live, LiveCell};
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub use shard::Shard;

/// How long shutdown waits for queued output to reach clients.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// Payloads above this are discouraged by nats-server, which warns at start-up.
const LARGE_PAYLOAD_WARNING: usize = 8 * 1024 * 1024;

/// Message counters of one core, written by that core once per loop turn.
#[derive(Debug, Default)]
pub struct CoreCounters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
}

/// State shared by all cores: read-mostly configuration and a few counters.
#[derive(Debug)]
pub struct Shared {
    /// The running configuration, compiled users and INFO template; a reload publishes a
    /// new generation (see `reload`). Cores keep their own `Arc` of it.
    pub live: LiveCell,
    pub next_client_id: AtomicU64,
    pub slow_consumers: AtomicU64,
    /// WebSocket upgrade requests refused, and WebSocket connections closed for framing
    /// faults (/metrics).
    pub websocket_refusals: AtomicU64,
    pub websocket_faults: AtomicU64,
    pub core_counters: Vec<CoreCounters>,
    /// Seeds the per-core random generators (queue member choice, ping jitter).
    pub seed: u64,
    /// Lame duck mode's phase, advanced by [`Server::lame_duck`].
    pub lame_duck: LameDuckSignal,
    /// The server's start as Unix time, and the mapping of the cores' instants to it
    /// (monitoring's times).
    pub clock: WallClock,
    /// The HTTP monitoring port bound (`None`: monitoring off).
    pub http_port: Option<u16>,
    /// bcrypt password checks, run off the cores.
    pub auth_checks: auth_checks::AuthChecks,
    /// The leaf port bound (`None`: no `leafnodes` block).
    pub leaf_port: Option<u16>,
    /// This server's loop detection subject, `$LDS.<nuid>`, sent to every leaf.
    pub leaf_lds: String,
    /// The leaf port's and the remotes' TLS configurations.
    pub leaf_tls: leaf::LeafTlsConfigs,
    /// The routes' TLS configurations (`cluster { tls {} }`), both sides.
    pub route_tls: Option<route::RouteTlsConfigs>,
    /// The route port bound (`None`: no `cluster`).
    pub route_port: Option<u16>,
    /// The WebSocket port bound (`None`: no `websocket` listener): /varz and reload read it.
    pub websocket_port: Option<u16>,
    /// The cluster's name at start-up: the configured one, or a dynamic one (a random
    /// name a configured peer's replaces).
    pub cluster_name: String,
    /// The URLs clients reach this server at (`connect_urls` entries), computed at
    /// start-up: the client host and port, or, for an unspecified host, this machine's
    /// addresses.
    pub client_urls: Vec<String>,
    /// The WebSocket listener, if a `websocket {}` block configured one.
    pub websocket: Option<websocket::WebsocketPort>,
    /// JetStream (`-js`): its directories and limits, and the recovered streams core 0
    /// takes on its first turn.
    pub jetstream: Option<Arc<jetstream::JetStreamShared>>,
}

/// A running broker.
pub struct Server {
    runtime: RuntimeHandle,
    shared: Arc<Shared>,
    port: u16,
}

/// How often lame duck mode checks whether every client is gone.
const LAME_DUCK_POLL: Duration = Duration::from_millis(50);
/// Lame duck mode waits this long past the close period for the last closes to finish.
const LAME_DUCK_SLACK: Duration = Duration::from_secs(1);
/// How long a bind that finds its address in use is retried. A server killed with SIGKILL
/// leaves its listening socket open until the kernel has torn down its io_uring (the
/// in-flight multishot accept holds the socket), which happens after the process is gone
/// (25-50 ms measured here); a supervisor that restarts it at once (systemd's `Restart=`)
/// would otherwise fail. A port that stays in use is reported after this.
const BIND_RETRY_MAX: Duration = Duration::from_secs(3);
/// Pause between two bind attempts while the address is in use.
const BIND_RETRY_PAUSE: Duration = Duration::from_millis(25);
/// A wait this short is the normal case after a kill (measured: 25-50 ms) and is not logged.
const BIND_RETRY_QUIET: Duration = Duration::from_millis(250);

/// Binds `address`, retrying for up to [`BIND_RETRY_MAX`] while it is in use.
fn bind_listener(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let started = std::time::Instant::now();
    let mut logged = false;
    loop {
        match TcpListener::bind(address) {
            Err(error)
                if error.kind() == std::io::ErrorKind::AddrInUse
                    && started.elapsed() < BIND_RETRY_MAX =>
            {
                if !logged && started.elapsed() >= BIND_RETRY_QUIET {
                    logged = true;
                    warn!(
                        "{address} is in use; retrying for up to {BIND_RETRY_MAX:?} (a server \
                         that was just killed may still hold it)"
                    );
                }
                std::thread::sleep(BIND_RETRY_PAUSE);
            }
            result => return result,
        }
    }
}

/// Binds the monitoring listener on the client listener's host, as nats-server does.
fn bind_monitor(config: &Config) -> std::io::Result<Option<TcpListener>> {
    let Some(http_port) = config.http_port else {
        return Ok(None);
    };
    let mut address = config.listen_addr().map_err(std::io::Error::other)?;
    address.set_port(http_port);
    bind_listener(address).map(Some).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("can't listen to the monitor port: {error}"),
        )
    })
}

/// Binds the route listener of a `cluster` block.
fn bind_route(config: &Config) -> std::io::Result<Option<TcpListener>> {
    let Some(cluster) = &config.cluster else {
        return Ok(None);
    };
    let address = format!("{}:{}", cluster.host, cluster.port);
    let parsed: std::net::SocketAddr = address
        .parse()
        .or_else(|_| format!("[{}]:{}", cluster.host, cluster.port).parse())
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("cluster: bad listen address {address:?}"),
            )
        })?;
    bind_listener(parsed).map(Some).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("can't listen to the cluster port: {error}"),
        )
    })
}

/// The `host:port` URLs clients reach this server at: the client host as configured, or,
/// when it is unspecified (`0.0.0.0`, `::`), the address the machine's routing table
/// gives for outside traffic (no packet is sent), loopback when there is none.
fn client_urls(host: &str, port: u16) -> Vec<String> {
    let unspecified = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if !unspecified {
        return vec![join_host_port(host, port)];
    }
    let outside = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|address| address.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string());
    vec![join_host_port(&outside, port)]
}

/// `host:port` (an IPv6 host with or without brackets) as a socket address; the error names
/// the configuration `block`.
fn parse_listen_address(
    host: &str,
    port: u16,
    block: &str,
) -> std::io::Result<std::net::SocketAddr> {
    let address = format!("{host}:{port}");
    address
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{block}: bad listen address {address:?}"),
            )
        })
}

/// Binds the leaf node listener of a `leafnodes` block.
fn bind_leaf(config: &Config) -> std::io::Result<Option<TcpListener>> {
    let Some(leaf) = &config.leafnodes else {
        return Ok(None);
    };
    let address = parse_listen_address(&leaf.host, leaf.port, "leafnodes")?;
    bind_listener(address).map(Some).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("can't listen to the leafnode port: {error}"),
        )
    })
}

impl Server {
    /// Binds `config.host:config.port` (port 0: any free port) and starts the cores.
    pub fn start(config: Config) -> std::io::Result<Server> {
        config.validate().map_err(std::io::Error::other)?;
        if config.limits.max_payload > LARGE_PAYLOAD_WARNING {
            warn!("Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance");
        }
        let auth = Authenticator::new(&config.auth)
            .map_err(std::io::Error::other)?
            .with_certificate_mapping(greeting::maps_certificates(&config));
        let listener = bind_listener(config.listen_addr().map_err(std::io::Error::other)?)?;
        runtime::sys::set_listen_backlog(&listener, config.limits.listen_backlog)?;
        let port = listener.local_addr()?.port();
        let tls = match &config.tls {
            Some(tls) => Some(
                runtime::TlsServerConfig::load(
                    &tls.cert_file,
                    &tls.key_file,
                    tls.ca_file.as_deref(),
                    tls.verify,
                )
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?,
            ),
            None => None,
        };
        let leaf_tls = leaf::LeafTlsConfigs::load(&config)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let route_tls = route::RouteTlsConfigs::load(&config)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let tls_digest = reload::tls_files_digest(&config.tls);
        let websocket_tls = reload::websocket_tls(&config)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let websocket_auth = reload::websocket_authenticator(&config)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let monitor_listener = bind_monitor(&config)?;
        let http_port = match &monitor_listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        };
        let route_listener = bind_route(&config)?;
        let route_port = match &route_listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        };
        let websocket = websocket::bind(&config)?;
        let (websocket_listener, websocket) = match websocket {
            Some((listener, port)) => (Some(listener), Some(port)),
            None => (None, None),
        };
        let leaf_listener = bind_leaf(&config)?;
        let leaf_port = match &leaf_listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        };
        let server_id = new_server_id();
        let info = ServerInfo {
            server_id: server_id.clone(),
            server_name: config
                .server_name
                .clone()
                .unwrap_or_else(|| server_id.clone()),
            version: crate::COMPAT_VERSION.to_string(),
            proto: 1,
            go: format!("ringmq-{}", crate::VERSION),
            host: config.host.clone(),
            port,
            headers: true,
            auth_required: auth.advertises_auth_required(),
            max_payload: config.limits.max_payload,
            ..ServerInfo::default()
        };
        let mut info = info;
        greeting::set_info_tls(&mut info, &config);
        let runtime_config = RuntimeConfig {
            cores: config.cores,
            recv_buffers: config.limits.recv_buffers_per_core,
            recv_buffer_size: config.limits.recv_buffer_size,
            connections_per_core: config.limits.connections_per_core,
            mailbox_bytes: config.limits.mailbox_bytes,
            write_deadline: config.limits.write_deadline,
            shutdown_flush: SHUTDOWN_FLUSH,
            tls: tls.clone(),
        };
        info!("Starting ringmq");
        info!(
            "  Version:  {} (nats-server {} protocol)",
            crate::VERSION,
            crate::COMPAT_VERSION
        );
        info!("  ID:       {}", server_id);
        info!("  Cores:    {}", config.cores);
        if auth.has_plaintext_passwords() {
            warn!("Plaintext passwords detected, use nkeys or bcrypt");
        }
        let config_cluster_name = config
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.name.clone())
            .unwrap_or_else(crate::auth::new_nonce);
        let client_urls = client_urls(&config.host, port);
        let clock = WallClock::start();
        let auth_checks =
            auth_checks::AuthChecks::new(config.cores, config.limits.auth_checks_queued);
        let jetstream = jetstream::boot::start(&config)?.map(Arc::new);
        let shared = Arc::new(Shared {
            core_counters: (0..config.cores).map(|_| CoreCounters::default()).collect(),
            next_client_id: AtomicU64::new(1),
            slow_consumers: AtomicU64::new(0),
            websocket_refusals: AtomicU64::new(0),
            websocket_faults: AtomicU64::new(0),
            seed: random_u64(),
            lame_duck: LameDuckSignal::default(),
            live: LiveCell::new(Live {
                generation: 1,
                loaded_at: clock.start_unix_nanos(),
                config,
                auth,
                info,
                tls_digest,
                tls: tls.clone(),
                websocket_tls,
                websocket_auth,
                surplus_by_core: Vec::new(),
            }),
            clock,
            http_port,
            auth_checks,
            leaf_port,
            leaf_lds: format!("$LDS.{}", crate::auth::new_nonce()),
            leaf_tls,
            route_tls,
            route_port,
            websocket_port: websocket.as_ref().map(|port| port.port),
            cluster_name: config_cluster_name,
            client_urls,
            websocket,
            jetstream,
        });
        let live = shared.live.load();
        let factory_shared = Arc::clone(&shared);
        let listeners = Listeners {
            clients: listener,
            local: monitor_listener,
            leaf: leaf_listener,
            route: route_listener,
            websocket: websocket_listener,
        };
        let runtime = runtime::start_with(runtime_config, listeners, move |core| {
            Shard::new(core, Arc::clone(&factory_shared))
        })?;
        if let Some(http_port) = http_port {
            info!(
                "Starting http monitor on {}",
                join_host_port(&live.config.host, http_port)
            );
        }
        if let Some(port) = &shared.websocket {
            websocket::log_listening(&live.config, port);
        }
        if let (Some(leaf), Some(port)) = (&live.config.leafnodes, leaf_port) {
            info!(
                "Listening for leafnode connections on {}",
                join_host_port(&leaf.host, port)
            );
        }
        info!(
            "Listening for client connections on {}",
            join_host_port(&live.config.host, port)
        );
        if let Some(tls) = &live.config.tls {
            info!("TLS required for client connections");
            if tls.handshake_first && tls.handshake_first_fallback.is_none() {
                warn!("Clients that are not using \"TLS Handshake First\" option will fail to connect");
            }
        }
        info!("Server is ready");
        // nats-server starts its route port after the client port is ready, and says so.
        if let (Some(cluster), Some(port)) = (&live.config.cluster, route_port) {
            info!("Cluster name is {}", shared.cluster_name);
            if cluster.name.is_none() {
                warn!("Cluster name was dynamically generated, consider setting one");
            }
            info!(
                "Listening for route connections on {}",
                join_host_port(&cluster.host, port)
            );
        }
        Ok(Server {
            runtime,
            shared,
            port,
        })
    }

    /// The client port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring port actually bound, if monitoring is on.
    pub fn monitor_port(&self) -> Option<u16> {
        self.shared.http_port
    }

    /// Shared state: the running configuration and counters.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Lame duck mode: stops accepting, sends `"ldm":true` INFO to clients that take
    /// asynchronous INFO, waits the grace period, then closes the clients spread over the
    /// rest of the lame duck duration (at least 1 s). Returns when every client is gone or
    /// that time (plus a second) has passed, or as soon as `pause` returns false; the
    /// caller then shuts down. `pause(d)` waits `d` and says whether to go on (the binary
    /// stops early on SIGINT/SIGTERM).
    pub fn lame_duck(&self, mut pause: impl FnMut(Duration) -> bool) {
        if self.shared.lame_duck.active() {
            return;
        }
        info!("Entering lame duck mode, stop accepting new clients");
        self.runtime.stop_accepting();
        self.shared.lame_duck.notify();
        self.runtime.wake();
        if self.runtime.total_connections() == 0 {
            return;
        }
        let live = self.shared.live.load();
        let config = &live.config;
        if !pause(config.lame_duck_grace_period) {
            return;
        }
        info!("Closing existing clients");
        let close_over = config
            .lame_duck_duration
            .saturating_sub(config.lame_duck_grace_period)
            .max(Duration::from_secs(1));
        self.shared.lame_duck.close_over(close_over);
        self.runtime.wake();
        let deadline = std::time::Instant::now() + close_over + LAME_DUCK_SLACK;
        while self.runtime.total_connections() > 0 && std::time::Instant::now() < deadline {
            if !pause(LAME_DUCK_POLL) {
                return;
            }
        }
    }

    /// Live client connections on all cores.
    pub fn connections(&self) -> usize {
        self.runtime.total_connections()
    }

    /// Stops accepting, flushes and closes every connection, joins the cores.
    pub fn shutdown(self) {
        self.runtime.shutdown();
        self.runtime.join();
    }
}

/// `host:port`, with IPv6 hosts bracketed as Go's `net.JoinHostPort` does.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() {
        // Without /dev/urandom, fall back to the process's hash seed and the clock: ids
        // only need to differ between servers, not to be secret.
        let state = std::collections::hash_map::RandomState::new();
        let mut seed = std::hash::BuildHasher::hash_one(&state, std::time::SystemTime::now());
        for byte in bytes.iter_mut() {
            *byte = routing::next_random(&mut seed) as u8;
            seed |= 1;
        }
    }
    bytes
}

fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>()) | 1
}

/// A server id shaped like nats-server's: `N` and 55 base32 characters (an nkey public key).
fn new_server_id() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes = random_bytes::<55>();
    let mut id = String::with_capacity(56);
    id.push('N');
    id.extend(bytes.iter().map(|&b| ALPHABET[usize::from(b) % 32] as char));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_shape() {
        let a = new_server_id();
        let b = new_server_id();
        assert_eq!(a.len(), 56);
        assert!(a.starts_with('N'));
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn host_port_joining() {
        assert_eq!(join_host_port("0.0.0.0", 4222), "0.0.0.0:4222");
        assert_eq!(join_host_port("::1", 4222), "[::1]:4222");
    }
}
