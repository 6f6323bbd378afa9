//! Core 0's accepts: a multishot accept per listener, the least-loaded core for each new
//! client connection (handed over by mail), back-off when file descriptors run out, and
//! lame duck mode's stop.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;

use super::core_state;
use super::event_loop::{EventLoop, ACCEPT_BACKOFF};
use super::mailbox::RecordKind;
use super::ring::{self, OpKind, Token};
use super::timer::TimerTarget;
use super::{Handler, Io};

/// Core 0's multishot accepts, one per listener.
pub(super) struct Acceptor {
    /// Indexed by the slot of the listener's accept token: the client listener is slot 0,
    /// then the local, leaf and route listeners, if any.
    pub(super) listeners: Vec<AcceptListener>,
    pub(super) backoff_pending: bool,
    /// EMFILE/ENFILE was logged for the current burst.
    pub(super) exhaustion_logged: bool,
    /// Round-robin start for ties in the least-loaded choice.
    pub(super) next_core: usize,
}

/// Which of `Listeners` a socket is; decides where its connections go and which
/// `Handler` callback opens them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ListenerKind {
    Clients,
    Local,
    Leaf,
    Route,
    /// WebSocket clients: spread over the cores like `Clients`.
    Websocket,
}

impl ListenerKind {
    /// Connections of this kind go to the least-loaded core and count as live.
    fn spread(self) -> bool {
        matches!(self, ListenerKind::Clients | ListenerKind::Websocket)
    }

    /// The kind a hand-off record names (its byte after the fd).
    pub(super) fn from_byte(byte: u8) -> ListenerKind {
        if byte == 1 {
            ListenerKind::Websocket
        } else {
            ListenerKind::Clients
        }
    }

    fn to_byte(self) -> u8 {
        u8::from(self == ListenerKind::Websocket)
    }
}

/// One listening socket and its multishot accept.
pub(super) struct AcceptListener {
    /// `None` once lame duck mode has closed it.
    pub(super) socket: Option<TcpListener>,
    /// Which listener: client connections are spread over the cores; local and leaf ones
    /// stay on this core, uncounted (see `Listeners`).
    pub(super) kind: ListenerKind,
    pub(super) armed: bool,
    /// Lame duck: its accept is being cancelled; the socket closes once it has ended.
    pub(super) stopping: bool,
}

impl<H: Handler> EventLoop<'_, H> {
    pub(super) fn arm_accept(&mut self) {
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        if acceptor.backoff_pending || self.state.shutting_down {
            return;
        }
        for (index, listener) in acceptor.listeners.iter_mut().enumerate() {
            if listener.armed || listener.stopping {
                continue;
            }
            let Some(socket) = listener.socket.as_ref() else {
                continue;
            };
            listener.armed = true;
            let entry = ring::accept_entry(socket.as_raw_fd(), index as u32);
            // SAFETY: a multishot accept carries no user pointers.
            unsafe { self.ring.push(&entry) };
        }
    }

    /// Lame duck: cancels the client listener's multishot accept and closes the socket once
    /// it has ended (at once if none is armed), so the kernel refuses new clients. The
    /// local (monitoring) and leaf listeners stay.
    pub(super) fn stop_accepting(&mut self) {
        self.clients_stopped = true;
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        for (index, listener) in acceptor.listeners.iter_mut().enumerate() {
            if !listener.kind.spread() {
                continue;
            }
            listener.stopping = true;
            if listener.armed {
                let target = Token::new(OpKind::Accept, index as u32, 0).encode();
                let token = Token::new(OpKind::AcceptCancel, index as u32, 0);
                self.state
                    .pending_entries
                    .push(ring::cancel_user_data_entry(target, token));
            } else {
                listener.socket = None;
            }
        }
    }

    pub(super) fn on_accept_complete(&mut self, index: u32, result: i32, flags: u32) {
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        let Some(listener) = acceptor.listeners.get_mut(index as usize) else {
            return;
        };
        if !ring::more(flags) {
            listener.armed = false;
        }
        let kind = listener.kind;
        if result >= 0 {
            acceptor.exhaustion_logged = false;
            if kind.spread() {
                self.hand_off(result, kind);
            } else {
                core_state::set_no_delay(result);
                self.open_connection(result, kind);
            }
        } else if result == -libc::EMFILE || result == -libc::ENFILE {
            self.on_accept_exhausted(index, result, flags);
        } else if result != -libc::ECANCELED {
            crate::debug!("runtime: accept failed: errno {}", -result);
        }
        if let Some(listener) = self
            .acceptor
            .as_mut()
            .and_then(|acceptor| acceptor.listeners.get_mut(index as usize))
        {
            if listener.stopping && !listener.armed {
                // Dropping the socket closes it: the kernel refuses new connections.
                listener.socket = None;
            }
        }
        self.arm_accept();
    }

    /// Out of file descriptors: existing connections keep working; accepting resumes after
    /// a back-off (logged once per burst).
    pub(super) fn on_accept_exhausted(&mut self, index: u32, result: i32, flags: u32) {
        let now = self.state.now;
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        if !acceptor.exhaustion_logged {
            acceptor.exhaustion_logged = true;
            crate::error!(
                "runtime: accept failed (errno {}): out of file descriptors",
                -result
            );
        }
        if ring::more(flags) {
            let target = Token::new(OpKind::Accept, index, 0).encode();
            let token = Token::new(OpKind::AcceptCancel, index, 0);
            self.state
                .pending_entries
                .push(ring::cancel_user_data_entry(target, token));
        }
        if !acceptor.backoff_pending {
            acceptor.backoff_pending = true;
            self.state
                .timers
                .set(now + ACCEPT_BACKOFF, TimerTarget::AcceptBackoff);
        }
    }

    /// Gives the fd to the core with the fewest live connections (ties round-robin).
    pub(super) fn hand_off(&mut self, fd: i32, kind: ListenerKind) {
        core_state::set_no_delay(fd);
        let shared = self.state.shared.clone();
        let acceptor = self.acceptor.as_mut().expect("only core 0 accepts");
        let mut target = acceptor.next_core % shared.cores;
        let mut fewest = usize::MAX;
        for offset in 0..shared.cores {
            let core = (acceptor.next_core + offset) % shared.cores;
            let live = shared.live_connections[core].load(Ordering::Relaxed);
            if live < fewest {
                fewest = live;
                target = core;
            }
        }
        acceptor.next_core = (target + 1) % shared.cores;
        shared.live_connections[target].fetch_add(1, Ordering::Relaxed);
        if target == self.state.core {
            self.open_connection(fd, kind);
        } else {
            let fd_bytes = fd.to_le_bytes();
            self.state.send_mail(
                target,
                RecordKind::NewConnection,
                &[&fd_bytes, &[kind.to_byte()]],
            );
        }
    }

    /// Takes a connection into this core, opened by the callback of its listener's kind.
    pub(super) fn open_connection(&mut self, fd: i32, kind: ListenerKind) {
        let uncounted = !kind.spread();
        let Some(id) = self.state.insert_connection(fd, uncounted) else {
            return;
        };
        let peer = self.state.connections[id.slot as usize].peer;
        let mut io = Io {
            state: &mut self.state,
        };
        match kind {
            ListenerKind::Clients => self.handler.on_open(&mut io, id, peer),
            ListenerKind::Local => self.handler.on_open_local(&mut io, id, peer),
            ListenerKind::Leaf => self.handler.on_open_leaf(&mut io, id, peer),
            ListenerKind::Route => self.handler.on_open_route(&mut io, id, peer),
            ListenerKind::Websocket => self.handler.on_open_websocket(&mut io, id, peer),
        }
        self.state.queue_arm(id.slot as usize);
    }
}
