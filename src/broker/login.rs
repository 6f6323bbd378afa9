//! CONNECT and authentication, in nats-server's order: the first byte must start a CONNECT
//! when auth is required (unless `no_auth_user` admits the client), the auth timer runs
//! until one authenticates, the JSON is decoded, the credentials checked (a bcrypt check
//! not remembered goes to the auth workers while the client's input waits), then the
//! remaining options.

use super::auth_checks::Rejected;
use super::connection::{CheckKind, ClosedReason, PendingCheck};
use super::timers::Timer;
use super::Shard;
use crate::auth::{ClientPermissions, Credentials, Identity, SecretCheck, Verdict};
use crate::protocol::encoder::{self, err};
use crate::protocol::{ConnectError, ConnectOptions, DecodedConnect};
use crate::runtime::{ConnId, Io};
use crate::{debug, error};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

/// Sent when a connection that must authenticate has not done so within the auth timeout.
const AUTHENTICATION_TIMEOUT: &[u8] = b"-ERR 'Authentication Timeout'\r\n";

impl Shard {
    /// CONNECT, in nats-server's order: stop the auth timer, decode the JSON, authenticate
    /// (when auth is configured), then the remaining option checks.
    pub(super) fn on_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        json: &[u8],
    ) -> ControlFlow<()> {
        let Some(client) = self.client_mut(conn) else {
            return ControlFlow::Break(());
        };
        let now = io.now();
        client.last_activity = now;
        // nats-server's first RTT estimate: accept to CONNECT (taken at every CONNECT).
        client.rtt = now
            .duration_since(client.opened_at)
            .max(Duration::from_nanos(1));
        if let Some(timer) = client.auth_timer.take() {
            io.cancel_timer(timer);
        }
        let decoded = match client.options.decode(json) {
            Ok(decoded) => decoded,
            Err(error) => {
                // As nats-server: the JSON error is the log line, the client gets no -ERR.
                if let Some(problem) = client.options.decode_problem(json) {
                    error!("{} - {} - {problem}", client.peer, client.tag());
                }
                return self.refuse_connect(io, conn, error);
            }
        };
        self.authenticate_connect(io, conn, decoded)
    }

    /// The CONNECT's credentials against the running configuration: admitted, refused, or
    /// (a bcrypt password not remembered) handed to the auth workers while the client's
    /// further input waits.
    pub(super) fn authenticate_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        decoded: DecodedConnect,
    ) -> ControlFlow<()> {
        let live = Arc::clone(&self.live);
        let Some(client) = self.client_mut(conn) else {
            return ControlFlow::Break(());
        };
        let mut identity = None;
        let authenticator = live.auth_for(client.websocket);
        if authenticator.is_required() {
            let mut credentials = credentials(&decoded.options);
            credentials.certificate = io.peer_certificate(conn);
            let nonce = client.nonce.as_deref().unwrap_or("").as_bytes();
            match authenticator.verdict(&credentials, nonce) {
                Verdict::Admit(found) => identity = Some(found),
                Verdict::Refuse(refusal) => {
                    client.options = decoded.options;
                    self.refuse_auth(io, conn, refusal.detail.as_deref());
                    return ControlFlow::Break(());
                }
                Verdict::Check(check) => return self.check_off_core(io, conn, check, decoded),
            }
        }
        self.finish_connect(io, conn, decoded, identity)
    }

    /// The rest of a CONNECT once its credentials passed (or none were needed).
    pub(super) fn finish_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        decoded: DecodedConnect,
        identity: Option<Identity>,
    ) -> ControlFlow<()> {
        let Some(client) = self.client_mut(conn) else {
            return ControlFlow::Break(());
        };
        let options = match decoded.validate() {
            Ok(options) => options,
            Err(error) => return self.refuse_connect(io, conn, error),
        };
        let first = !client.connected;
        client.connected = true;
        let verbose = options.verbose;
        client.options = options;
        if let Some(identity) = identity {
            self.admit(io, conn, identity);
        }
        if verbose {
            io.write(conn, encoder::OK);
        }
        if first {
            self.arm_first_ping(io, conn);
        }
        ControlFlow::Continue(())
    }

    /// Hands `check` to the auth workers and records it on the client as `kind`; logins
    /// count against `auth_checks_queued`. When it is refused, `kind` comes back.
    pub(super) fn submit_check(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        check: SecretCheck,
        kind: CheckKind,
    ) -> Result<(), (Rejected, CheckKind)> {
        self.auth_tickets += 1;
        let ticket = self.auth_tickets;
        let bounded = matches!(kind, CheckKind::Connect(_));
        let waker = io.waker();
        if let Err(rejected) = self
            .shared
            .auth_checks
            .submit(check, conn, ticket, self.core, waker, bounded)
        {
            return Err((rejected, kind));
        }
        let generation = self.live.generation;
        if let Some(client) = self.client_mut(conn) {
            client.auth_check = Some(Box::new(PendingCheck {
                ticket,
                generation,
                kind,
            }));
        }
        Ok(())
    }

    /// Queues a bcrypt check for `conn` and stops reading it until the answer comes; when
    /// the queue is full, refuses the login instead.
    pub(super) fn check_off_core(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        check: SecretCheck,
        decoded: DecodedConnect,
    ) -> ControlFlow<()> {
        let Err((rejected, kind)) =
            self.submit_check(io, conn, check, CheckKind::Connect(Box::new(decoded)))
        else {
            io.pause_reading(conn);
            return ControlFlow::Break(());
        };
        let queued_max = self.shared.auth_checks.queued_max();
        let Some(client) = self.client_mut(conn) else {
            return ControlFlow::Break(());
        };
        let why = match rejected {
            Rejected::QueueFull(waiting) => {
                format!("{waiting} password checks are waiting already")
            }
            Rejected::NoWorkers => "no password check worker could start".to_string(),
        };
        error!(
            "{} - {} - refusing a login: {why} (limit {queued_max})",
            client.peer,
            client.tag()
        );
        if let CheckKind::Connect(decoded) = kind {
            client.options = decoded.options;
        }
        self.refuse_auth(io, conn, None);
        ControlFlow::Break(())
    }

    /// A reload's re-check of a connected client that needs bcrypt: queued (never refused
    /// for the bound: one per connection at most); the client goes on meanwhile.
    pub(super) fn recheck_off_core(&mut self, io: &mut Io<'_>, conn: ConnId, check: SecretCheck) {
        if let Err((rejected, _)) = self.submit_check(io, conn, check, CheckKind::Recheck) {
            error!("cannot re-check a client's password after a reload: {rejected:?}");
            self.refuse_auth(io, conn, None);
        }
    }

    /// Finishes the CONNECTs and re-checks whose bcrypt checks have come back (at the end
    /// of each turn; the worker woke this core).
    pub(super) fn finish_auth_checks(&mut self, io: &mut Io<'_>) {
        let mut answers = std::mem::take(&mut self.auth_answers);
        self.shared
            .auth_checks
            .take_answers(self.core, &mut answers);
        let generation = self.live.generation;
        for answer in answers.drain(..) {
            let Some(client) = self.client_mut(answer.conn) else {
                if self.is_route_slot(answer.conn.slot) {
                    self.route_auth_answer(io, answer);
                } else {
                    self.leaf_auth_answer(io, answer);
                }
                continue;
            };
            // Only the answer this client waits for (a client has one check at a time).
            let Some(pending) = client
                .auth_check
                .take_if(|pending| pending.ticket == answer.ticket)
            else {
                continue;
            };
            if !client.is_open() {
                continue;
            }
            let reloaded = pending.generation != generation;
            let decoded = match pending.kind {
                CheckKind::Connect(decoded) => *decoded,
                // Reloaded meanwhile: the users may have changed; check again.
                CheckKind::Recheck if reloaded => {
                    self.recheck_auth(io, answer.conn);
                    continue;
                }
                CheckKind::Recheck => {
                    match answer.admitted {
                        Some(identity) => self.apply_rechecked(io, answer.conn, identity),
                        None => self.refuse_auth(io, answer.conn, None),
                    }
                    continue;
                }
            };
            let flow = if reloaded {
                self.authenticate_connect(io, answer.conn, decoded)
            } else if let Some(identity) = answer.admitted {
                self.finish_connect(io, answer.conn, decoded, Some(identity))
            } else {
                client.options = decoded.options;
                self.refuse_auth(io, answer.conn, None);
                ControlFlow::Break(())
            };
            if flow.is_continue() {
                self.resume_input(io, answer.conn);
            }
        }
        self.auth_answers = answers;
    }

    pub(super) fn refuse_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        error: ConnectError,
    ) -> ControlFlow<()> {
        let refusal = match error {
            ConnectError::ProtocolViolation => (None, ClosedReason::ProtocolViolation),
            ConnectError::InvalidProtocol => (
                Some(err::INVALID_PROTOCOL),
                ClosedReason::BadClientProtocolVersion,
            ),
            ConnectError::NoRespondersRequiresHeaders => (
                Some(err::NO_RESPONDERS_NEEDS_HEADERS),
                ClosedReason::NoRespondersRequiresHeaders,
            ),
            ConnectError::AuthorizationViolation => {
                self.refuse_auth(io, conn, None);
                return ControlFlow::Break(());
            }
        };
        let (text, reason) = refusal;
        if let Some(text) = text {
            io.write(conn, text);
        }
        self.close_client(io, conn, true, reason);
        ControlFlow::Break(())
    }

    /// Logs an authentication failure as nats-server does, sends `Authorization Violation`
    /// and closes.
    pub(super) fn refuse_auth(&mut self, io: &mut Io<'_>, conn: ConnId, detail: Option<&str>) {
        let Some(client) = self.client(conn) else {
            return;
        };
        if let Some(detail) = detail {
            debug!("{} - {} - {detail}", client.peer, client.tag());
        }
        let options = &client.options;
        let line = self
            .live
            .auth
            .refusal_log(options.nkey.as_deref(), options.user.as_deref());
        error!("{} - {} - {line}", client.peer, client.tag());
        io.write(conn, err::AUTHORIZATION_VIOLATION);
        self.close_client(io, conn, true, ClosedReason::AuthenticationViolation);
    }

    /// Applies a successful authentication: account, permissions, and the auth timer off.
    pub(super) fn admit(&mut self, io: &mut Io<'_>, conn: ConnId, identity: Identity) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if let Some(timer) = client.auth_timer.take() {
            io.cancel_timer(timer);
        }
        client.awaiting_auth = false;
        client.account = identity.account;
        client.permissions = identity
            .rules
            .map(|rules| Box::new(ClientPermissions::new(rules)));
        if let Some(user) = identity.assumed_user {
            client.options.user = Some(user);
            client.admitted_anonymously = true;
        }
    }

    /// nats-server's auth check at the first byte: a connection that must authenticate may
    /// start with anything but a CONNECT only when `no_auth_user` admits it. Returns whether
    /// input may be parsed.
    pub(super) fn check_first_byte(&mut self, io: &mut Io<'_>, conn: ConnId, first: u8) -> bool {
        if matches!(first, b'C' | b'c') {
            return true;
        }
        let websocket = self.client(conn).is_some_and(|client| client.websocket);
        match self.live.auth_for(websocket).no_auth_identity() {
            Some(identity) => {
                self.admit(io, conn, identity);
                true
            }
            None => {
                self.refuse_auth(io, conn, None);
                false
            }
        }
    }

    /// Closes `conn` with 'Authentication Timeout' unless it authenticates within the
    /// configured auth timeout.
    pub(super) fn arm_auth_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let websocket = self.client(conn).is_some_and(|client| client.websocket);
        let at = io.now() + self.live.auth_for(websocket).timeout();
        let timer = io.set_timer(at, Timer::Auth(conn).token());
        if let Some(client) = self.client_mut(conn) {
            if let Some(previous) = client.auth_timer.replace(timer) {
                io.cancel_timer(previous);
            }
        }
    }

    pub(super) fn on_auth_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.auth_timer = None;
        if !client.is_open() || !client.awaiting_auth {
            return;
        }
        debug!(
            "{} - {} - Authentication Timeout",
            client.peer,
            client.tag()
        );
        io.write(conn, AUTHENTICATION_TIMEOUT);
        self.close_client(io, conn, true, ClosedReason::AuthenticationTimeout);
    }
}

/// The credentials a CONNECT carried.
pub(super) fn credentials(sent: &ConnectOptions) -> Credentials<'_> {
    Credentials {
        user: sent.user.as_deref(),
        pass: sent.pass.as_deref(),
        token: sent.auth_token.as_deref(),
        nkey: sent.nkey.as_deref(),
        sig: sent.sig.as_deref(),
        certificate: None,
    }
}
