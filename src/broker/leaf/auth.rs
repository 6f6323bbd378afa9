//! Who a leaf is, and what may cross its link (spec beyond-core §B; nats-server 2.9.10's
//! `isLeafNodeAuthorized` and the permissions it puts on a leaf connection).
//!
//! Hub role: the leaf port's `authorization` decides at the leaf's CONNECT. Its single
//! `user` (bound to `account`) or its `users` (each bound to its own account) must match the
//! CONNECT's `user`/`pass`; with neither, a leaf logs in as a client would (the top-level
//! users, token or nkeys), and with no auth at all it is bound to `account` or `$G`. A
//! refused leaf gets `-ERR 'Authorization Violation'` and is closed; one that sends no
//! CONNECT within the auth timeout gets `-ERR 'Authentication Timeout'`. A bcrypt
//! comparison runs on the auth workers (`auth_checks`), never on the core: the link's
//! reading pauses and the bytes already read after the CONNECT wait in
//! the link's reader (`link_input`, as for the stall gate) until the answer.
//!
//! Both roles: a link's [`LinkDeny`] lists. `deny_out` (nats-server's publish deny of the
//! leaf connection: the leaf's `deny_pub` at the hub, `deny_exports` at the leaf) stops
//! messages on those subjects from being written to the link, and the other side's interest
//! in such a literal subject is refused (hub: a permissions violation that closes the link;
//! leaf: ignored). `deny_interest` (the subscribe deny: `deny_imports` at the leaf) keeps our
//! interest in those subjects from being sent. `$LDS.` subjects are never filtered.
//!
//! Both roles, likewise: [`LeafPermissions`], a client user's permissions on the link of a
//! leaf that logged in as that user (turned around, hub role), or the lists the hub told
//! our leaf in its INFO (leaf role).

use super::{Phase, Shard};
use crate::auth::{
    literal_match, AccountIndex, ClientPermissions, Credentials, Identity, Permissions, Rules,
    SubjectPermission, Verdict,
};
use crate::broker::auth_checks::CheckDone;
use crate::broker::timers::Timer;
use crate::runtime::{ConnId, Io};
use crate::{debug, error};
use std::sync::Arc;

/// Subjects a link will not carry (see the module docs).
#[derive(Debug, Default, Clone)]
pub(super) struct LinkDeny {
    /// Messages on these subjects are not written to the link.
    pub deny_out: Vec<Box<[u8]>>,
    /// Our interest in these subjects is not sent on the link.
    pub deny_interest: Vec<Box<[u8]>>,
}

impl LinkDeny {
    pub(super) fn new(deny_out: &[String], deny_interest: &[String]) -> Option<Box<LinkDeny>> {
        let boxed = |list: &[String]| list.iter().map(|s| s.as_bytes().into()).collect();
        (!deny_out.is_empty() || !deny_interest.is_empty()).then(|| {
            Box::new(LinkDeny {
                deny_out: boxed(deny_out),
                deny_interest: boxed(deny_interest),
            })
        })
    }

    /// Whether a message on `subject` may be written to the link.
    pub(super) fn may_send(&self, subject: &[u8]) -> bool {
        !self
            .deny_out
            .iter()
            .any(|deny| literal_match(deny, subject))
    }

    /// Whether our interest in `pattern` may be sent on the link.
    pub(super) fn may_announce(&self, pattern: &[u8]) -> bool {
        pattern.starts_with(b"$LDS.")
            || !self
                .deny_interest
                .iter()
                .any(|deny| literal_match(deny, pattern))
    }

    /// Whether the other side's interest in `subject` is refused: a literal subject we
    /// would never send (nats-server checks literal subjects only; not `$LDS.`/`$GR.`/`_GR_.`).
    pub(super) fn refuses_interest(&self, subject: &[u8]) -> bool {
        !exempt_from_checks(subject) && is_literal(subject) && !self.may_send(subject)
    }
}

/// Hub role: the permissions of the user an accepted leaf logged in as (a client user of
/// the top-level `authorization`), turned around as nats-server 2.9.10 turns them
/// ([`Rules::turned_for_leaf`]). Messages the leaf sends us are not checked (nor are they
/// in nats-server): it is told only the interest it may publish to.
#[derive(Debug)]
pub(super) struct LeafPermissions {
    /// The user's subscribe lists as a publish check, cached: what is written to the link,
    /// and the literal LS+ the leaf may send.
    send: ClientPermissions,
    /// The user's publish lists as a subscribe check: our interest the leaf is told.
    rules: Arc<Rules>,
}

impl LeafPermissions {
    pub(super) fn new(user: &Rules) -> Box<LeafPermissions> {
        let turned = Arc::new(user.turned_for_leaf());
        Box::new(LeafPermissions {
            send: ClientPermissions::new(Arc::clone(&turned)),
            rules: turned,
        })
    }

    /// Leaf role: the permissions the hub told us in its INFO (`told.publish` its
    /// `export`, `told.subscribe` its `import`), as nats-server applies them on its side:
    /// interest we may not receive is not sent, messages we may not publish are not
    /// written (the deny lists apply apart). `None`: lists that do not compile.
    pub(super) fn told(told: &Permissions) -> Option<Box<LeafPermissions>> {
        let rules = Arc::new(Rules::compile(told).ok()?);
        Some(Box::new(LeafPermissions {
            send: ClientPermissions::new(Arc::clone(&rules)),
            rules,
        }))
    }

    /// Whether a message on `subject` may be written to the link.
    pub(super) fn may_send(&mut self, subject: &[u8], now: std::time::Instant) -> bool {
        self.send.may_publish(subject, now)
    }

    /// Whether our interest in `pattern` may be told to the leaf (`$LDS.` always is).
    pub(super) fn may_announce(&self, pattern: &[u8]) -> bool {
        pattern.starts_with(b"$LDS.") || self.rules.leaf_subscribe_allowed(pattern)
    }

    /// Whether the leaf's interest in `subject` is a violation: a literal subject it may
    /// not receive (not `$LDS.`/`$GR.`/`_GR_.`).
    pub(super) fn refuses_interest(&self, subject: &[u8]) -> bool {
        !exempt_from_checks(subject) && is_literal(subject) && !self.rules.publish_allowed(subject)
    }

    /// The user's lists for the INFO after the CONNECT: `import` its subscribe, `export`
    /// its publish permission (what the leaf enforces on its side).
    pub(super) fn user_lists(&self) -> (Option<&SubjectPermission>, Option<&SubjectPermission>) {
        let source = self.rules.source();
        (source.subscribe.as_ref(), source.publish.as_ref())
    }
}

fn exempt_from_checks(subject: &[u8]) -> bool {
    [b"$LDS.".as_slice(), b"$GR.", b"_GR_."]
        .iter()
        .any(|prefix| subject.starts_with(prefix))
}

fn is_literal(subject: &[u8]) -> bool {
    !subject
        .split(|&b| b == b'.')
        .any(|token| token == b"*" || token == b">")
}

/// A leaf's CONNECT, kept while its password is checked off the core.
#[derive(Default)]
pub(super) struct PendingConnect {
    pub server_id: String,
    pub name: String,
    pub deny_pub: Vec<String>,
    /// The leaf's cluster (its interest's origin on the routes).
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    /// A client's CONNECT (it has `lang`): refused once authorized, as nats-server does.
    pub lang: bool,
    pub ticket: u64,
    pub generation: u64,
}

impl std::fmt::Debug for PendingConnect {
    /// Never prints the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingConnect")
            .field("server_id", &self.server_id)
            .field("user", &self.user)
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

impl Shard {
    /// The leaf port's verdict on a CONNECT's credentials (see the module docs).
    pub(super) fn leaf_verdict(
        &self,
        user: Option<&str>,
        pass: Option<&str>,
        token: Option<&str>,
    ) -> Verdict {
        let live = &self.live;
        let refused = || Verdict::Refuse(crate::auth::Refusal { detail: None });
        let Some(leaf) = &live.config.leafnodes else {
            return refused();
        };
        let auth = &leaf.auth;
        let bound = |account: Option<&String>| {
            let index = match account {
                Some(name) => live.auth.account_index(name),
                None => Some(crate::auth::GLOBAL_ACCOUNT),
            };
            index.map(|account| Identity {
                account,
                rules: None,
                assumed_user: None,
            })
        };
        let login = |name: &str, password: &str, account: Option<&String>| {
            if user != Some(name) {
                return refused();
            }
            let Some(identity) = bound(account) else {
                return refused();
            };
            live.auth.compare_secret(
                format!("leaf user {name}"),
                password,
                pass.unwrap_or(""),
                identity,
            )
        };
        if let Some((name, password)) = &auth.user {
            return login(name, password, auth.account.as_ref());
        }
        if !auth.users.is_empty() {
            return match auth.users.iter().find(|u| user == Some(u.user.as_str())) {
                Some(u) => login(&u.user, &u.password, u.account.as_ref()),
                None => refused(),
            };
        }
        if live.auth.is_required() {
            let credentials = Credentials {
                user,
                pass,
                token,
                ..Credentials::default()
            };
            // A client user's permissions come along (`LeafPermissions`).
            return live.auth.verdict(&credentials, b"");
        }
        bound(auth.account.as_ref()).map_or_else(refused, Verdict::Admit)
    }

    /// Authorizes a leaf's CONNECT: admitted (the handshake goes on), refused, or handed
    /// to the auth workers.
    pub(super) fn authorize_leaf(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        pending: PendingConnect,
    ) -> Result<(), &'static str> {
        let verdict = self.leaf_verdict(
            pending.user.as_deref(),
            pending.pass.as_deref(),
            pending.token.as_deref(),
        );
        match verdict {
            Verdict::Admit(identity) => self.finish_leaf_connect(io, conn, pending, identity),
            Verdict::Refuse(_) => {
                self.refuse_leaf(io, conn, pending.user.as_deref());
                Ok(())
            }
            Verdict::Check(check) => {
                self.check_leaf_off_core(io, conn, check, pending);
                Ok(())
            }
        }
    }

    /// Refuses a leaf's CONNECT as nats-server does.
    pub(super) fn refuse_leaf(&mut self, io: &mut Io<'_>, conn: ConnId, user: Option<&str>) {
        if let Some(link) = self.link(conn) {
            let line = self.live.auth.refusal_log(None, user);
            error!("{} - lid:{} - {line}", link.peer, link.cid);
        }
        io.write(conn, crate::protocol::encoder::err::AUTHORIZATION_VIOLATION);
        self.close_leaf(io, conn, "Authentication Failure");
    }

    /// A leaf's password needs bcrypt: the check goes to the workers and the link waits.
    pub(super) fn check_leaf_off_core(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        check: crate::auth::SecretCheck,
        mut pending: PendingConnect,
    ) {
        self.auth_tickets += 1;
        let ticket = self.auth_tickets;
        let submitted =
            self.shared
                .auth_checks
                .submit(check, conn, ticket, self.core, io.waker(), true);
        if let Err(rejected) = submitted {
            if let Some(link) = self.link(conn) {
                error!(
                    "{} - lid:{} - refusing a login: {rejected:?} (limit {})",
                    link.peer,
                    link.cid,
                    self.shared.auth_checks.queued_max()
                );
            }
            self.refuse_leaf(io, conn, pending.user.as_deref());
            return;
        }
        pending.ticket = ticket;
        pending.generation = self.live.generation;
        if let Some(link) = self.link_mut(conn) {
            link.phase = Phase::Authenticating;
            link.pending = Some(Box::new(pending));
        }
        io.pause_reading(conn);
    }

    /// A bcrypt answer for a connection that is not a client: a leaf's, if it still waits.
    pub(in crate::broker) fn leaf_auth_answer(&mut self, io: &mut Io<'_>, answer: CheckDone) {
        let Some(link) = self.link_mut(answer.conn) else {
            return;
        };
        if link.phase != Phase::Authenticating
            || link.pending.as_ref().map(|p| p.ticket) != Some(answer.ticket)
        {
            return;
        }
        let Some(pending) = link.pending.take() else {
            return;
        };
        link.phase = Phase::AwaitingConnect;
        let conn = answer.conn;
        let result = match answer.admitted {
            // Reloaded meanwhile: the leaf users may have changed; ask again.
            _ if pending.generation != self.live.generation => {
                self.authorize_leaf(io, conn, *pending)
            }
            Some(identity) => self.finish_leaf_connect(io, conn, *pending, identity),
            None => {
                self.refuse_leaf(io, conn, pending.user.as_deref());
                Ok(())
            }
        };
        if let Err(reason) = result {
            self.close_leaf(io, conn, reason);
            return;
        }
        // The input read after the CONNECT, then reading again (unless asked again).
        if self
            .link(conn)
            .is_some_and(|link| !matches!(link.phase, Phase::Authenticating | Phase::Closing))
        {
            self.resume_leaf(io, conn);
        }
    }

    /// The leaf port's auth timer (every accepted link until its CONNECT).
    pub(super) fn arm_leaf_auth_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let timeout = self
            .live
            .config
            .leafnodes
            .as_ref()
            .and_then(|leaf| leaf.auth.timeout)
            .unwrap_or_else(|| self.default_leaf_auth_timeout());
        let timer = io.set_timer(io.now() + timeout, Timer::Auth(conn).token());
        if let Some(link) = self.link_mut(conn) {
            if let Some(old) = link.auth_timer.replace(timer) {
                io.cancel_timer(old);
            }
        }
    }

    pub(super) fn cancel_leaf_auth_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(timer) = self.link_mut(conn).and_then(|link| link.auth_timer.take()) {
            io.cancel_timer(timer);
        }
    }

    pub(in crate::broker) fn on_leaf_auth_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        link.auth_timer = None;
        if link.tls_handshaking {
            self.on_leaf_tls_deadline(io, conn);
            return;
        }
        if link.phase != Phase::AwaitingConnect {
            return;
        }
        debug!("{} - lid:{} - Authentication Timeout", link.peer, link.cid);
        io.write(conn, b"-ERR 'Authentication Timeout'\r\n");
        self.close_leaf(io, conn, "Authentication Timeout");
    }

    /// The account a link is bound to, as nats-server names it in its log lines (empty
    /// before an accepted leaf's CONNECT is authorized).
    pub(super) fn link_account_label(&self, account: AccountIndex, bound: bool) -> &str {
        if bound {
            self.live.auth.account_name(account)
        } else {
            ""
        }
    }
}
