//! Outbound connections ([`super::Io::connect`]): a TCP socket made on the dialling core, an
//! io_uring CONNECT submitted at the flush, a deadline on the core's timers, and on success
//! an ordinary connection of that core (multishot recv into the same provided buffers, the
//! same outbound chunks). A dial ends in exactly one of `Handler::on_connected` (the
//! connection then closes with `on_close` like any other) or `Handler::on_connect_failed`.
//!
//! A dialled connection is not a client connection: it is not counted in
//! `live_connections` (so neither in `max_connections` nor in the acceptor's least-loaded
//! choice) and never moves to another core. It does occupy one of the core's
//! `connections_per_core` slots from the dial on.
//!
//! Lifetimes: the `sockaddr` the kernel reads lives in the connection's boxed [`Dial`],
//! dropped only after the CONNECT's completion was reaped (on success) or when the slot is
//! freed, which happens only when nothing is in flight. A timeout or `Io::close` tears the
//! dialling connection down the usual way: `shutdown(2)` and a cancel of every operation on
//! its fd, then the slot is freed at the CONNECT's (cancelled) completion.

use std::fmt;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::Duration;

use super::core_state::{self, ConnectionState, CoreState};
use super::event_loop::EventLoop;
use super::ring::{self, OpKind, Token};
use super::timer::TimerTarget;
use super::{CloseReason, ConnId, Handler, Io};

/// A connect timeout for callers without their own (nats-server's route dial timeout,
/// `DEFAULT_ROUTE_DIAL`, is 1 s; its leaf nodes use the same dial timeout by default).
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(1);

/// Why a dial did not produce a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// Nothing listens at the address (ECONNREFUSED).
    Refused,
    /// The dial's timeout passed first, or the kernel gave up (ETIMEDOUT).
    TimedOut,
    /// No route to the host (EHOSTUNREACH).
    HostUnreachable,
    /// No route to the network (ENETUNREACH).
    NetworkUnreachable,
    /// The handler closed the connection before the connect completed.
    Cancelled,
    /// The runtime is shutting down (at the dial, or while the connect was in flight).
    Shutdown,
    /// This core already owns `connections_per_core` connections.
    CoreFull,
    /// Any other errno, from socket(2) or from the connect.
    Os(i32),
}

impl ConnectError {
    pub fn from_errno(errno: i32) -> ConnectError {
        match errno {
            libc::ECONNREFUSED => ConnectError::Refused,
            libc::ETIMEDOUT => ConnectError::TimedOut,
            libc::EHOSTUNREACH => ConnectError::HostUnreachable,
            libc::ENETUNREACH => ConnectError::NetworkUnreachable,
            other => ConnectError::Os(other),
        }
    }
}

impl fmt::Display for ConnectError {
    /// Go's wording where nats-server would log one (`connect: connection refused`,
    /// `i/o timeout`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Refused => f.write_str("connection refused"),
            ConnectError::TimedOut => f.write_str("i/o timeout"),
            ConnectError::HostUnreachable => f.write_str("no route to host"),
            ConnectError::NetworkUnreachable => f.write_str("network is unreachable"),
            ConnectError::Cancelled => f.write_str("dial cancelled"),
            ConnectError::Shutdown => f.write_str("server shutting down"),
            ConnectError::CoreFull => f.write_str("no free connection slot on this core"),
            ConnectError::Os(errno) => {
                write!(f, "{}", std::io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// A dial in progress, owned by its connection until the connect succeeds.
pub struct Dial {
    pub tag: u64,
    pub address: SocketAddr,
    /// What the kernel reads; must not move or be freed while the CONNECT is in flight.
    raw: RawAddress,
    /// The deadline's timer id.
    pub timer: u64,
    /// Why it failed, when known before the teardown (an errno, the timeout).
    pub failure: Option<ConnectError>,
}

enum RawAddress {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl RawAddress {
    fn new(address: SocketAddr) -> RawAddress {
        match address {
            SocketAddr::V4(v4) => RawAddress::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(v6) => RawAddress::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            }),
        }
    }

    fn family(&self) -> libc::c_int {
        match self {
            RawAddress::V4(_) => libc::AF_INET,
            RawAddress::V6(_) => libc::AF_INET6,
        }
    }

    fn as_pointer(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            RawAddress::V4(v4) => (
                (v4 as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            RawAddress::V6(v6) => (
                (v6 as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}

/// `Io::connect`: a socket and a slot now, the CONNECT at this turn's flush.
pub(super) fn dial(
    state: &mut CoreState,
    address: SocketAddr,
    tag: u64,
    timeout: Duration,
) -> Result<ConnId, ConnectError> {
    if state.shutting_down {
        return Err(ConnectError::Shutdown);
    }
    if state.connections.len() >= state.config.connections_per_core as usize {
        return Err(ConnectError::CoreFull);
    }
    let raw = RawAddress::new(address);
    let fd = new_socket(raw.family()).map_err(ConnectError::from_errno)?;
    core_state::set_no_delay(fd);
    let dial = Box::new(Dial {
        tag,
        address,
        raw,
        timer: 0,
        failure: None,
    });
    let id = state.insert_slot(fd, false, address, ConnectionState::Connecting, Some(dial));
    let timer = state
        .timers
        .set(state.now + timeout, TimerTarget::ConnectDeadline(id));
    if let Some(dial) = state.connections[id.slot as usize].dial.as_mut() {
        dial.timer = timer;
    }
    state.to_connect.push(id);
    Ok(id)
}

/// A TCP socket for `family`, close-on-exec. Left blocking like accepted sockets: io_uring
/// issues the connect non-blocking itself and waits for it by poll, not in a worker.
fn new_socket(family: libc::c_int) -> Result<RawFd, i32> {
    // SAFETY: socket(2) takes no pointers; the fd it returns is owned by the runtime from
    // here on and closed exactly once (`close_fd` when the slot is freed).
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(fd)
}

impl<H: Handler> EventLoop<'_, H> {
    /// Submits the CONNECT of every connection dialled this turn (unless closed already).
    pub(super) fn submit_connects(&mut self) {
        let to_connect = std::mem::take(&mut self.state.to_connect);
        for &id in &to_connect {
            let Some(connection) = self.state.connection_mut(id) else {
                continue;
            };
            if connection.state != ConnectionState::Connecting {
                continue;
            }
            let Some(dial) = connection.dial.as_ref() else {
                continue;
            };
            let (address, length) = dial.raw.as_pointer();
            let token = connection.token(OpKind::Connect, id.slot as usize);
            let entry = ring::connect_entry(connection.fd, address, length, token);
            connection.in_flight += 1;
            // SAFETY: `address` points into the connection's boxed `Dial`, which does not
            // move when the slab does and is dropped only after this CONNECT's completion
            // has been reaped: `on_connect_complete` takes it at that completion, and
            // otherwise it goes with the slot, freed only when `in_flight` (counting this
            // CONNECT) is zero; unwinding with operations in flight leaks the connections.
            unsafe { self.ring.push(&entry) };
        }
        let mut to_connect = to_connect;
        to_connect.clear();
        if self.state.to_connect.is_empty() {
            self.state.to_connect = to_connect;
        }
    }

    /// The CONNECT's completion: the connection opens, or the dial fails. A completion for
    /// a dial already closed (timeout, `Io::close`, shutdown) only lets its slot go.
    pub(super) fn on_connect_complete(&mut self, token: Token, result: i32) {
        let Some(slot) = self.token_slot(token) else {
            return;
        };
        let connection = &mut self.state.connections[slot];
        if connection.state == ConnectionState::Connecting {
            if result < 0 {
                if let Some(dial) = connection.dial.as_mut() {
                    dial.failure = Some(ConnectError::from_errno(-result));
                }
                self.state.teardown(slot, CloseReason::IoError(-result));
            } else {
                let dial = connection
                    .dial
                    .take()
                    .expect("a dialling connection has a dial");
                connection.state = ConnectionState::Open;
                let id = connection.id(slot);
                self.state.timers.cancel(dial.timer);
                self.handler.on_connected(
                    &mut Io {
                        state: &mut self.state,
                    },
                    id,
                    dial.tag,
                    dial.address,
                );
                self.state.queue_arm(slot);
            }
        }
        self.on_connection_op_done(token, |_| {});
    }

    /// The dial's timeout: tear it down; the slot goes at the cancelled CONNECT's completion.
    pub(super) fn on_connect_deadline(&mut self, id: ConnId) {
        let Some(connection) = self.state.connection_mut(id) else {
            return;
        };
        if connection.state != ConnectionState::Connecting {
            return;
        }
        if let Some(dial) = connection.dial.as_mut() {
            dial.failure = Some(ConnectError::TimedOut);
        }
        self.state
            .teardown(id.slot as usize, CloseReason::IoError(libc::ETIMEDOUT));
    }

    /// A dial's slot was freed before it connected: `on_connect_failed`, never `on_close`.
    pub(super) fn dial_failed(&mut self, id: ConnId, dial: Dial, reason: CloseReason) {
        self.state.timers.cancel(dial.timer);
        let error = dial.failure.unwrap_or(match reason {
            CloseReason::Shutdown => ConnectError::Shutdown,
            CloseReason::IoError(errno) => ConnectError::from_errno(errno),
            _ => ConnectError::Cancelled,
        });
        self.handler.on_connect_failed(
            &mut Io {
                state: &mut self.state,
            },
            id,
            dial.tag,
            error,
        );
    }
}
