//! When a link this server solicits (a leaf node remote, a cluster route) dials again after
//! a failed dial or a lost connection: nats-server 2.9.10's policies, pure (no clock, no
//! IO; the dial error's text). The caller dials with `runtime::Io::connect` and sets a timer for each `Retry::After`.
//!
//! - Leaf remote: forever, every `reconnect` interval (default 1 s); after the hub closed
//!   the link for a loop, a permission violation or the same cluster name, the next wait is
//!   30 s, then the interval again.
//! - Configured (explicit) route: forever, 1 s apart.
//! - Route learnt from gossip (implicit): `connect_retries` retries after the first
//!   attempt's failure, 1 s apart (0, the default: one attempt only); a lost connection is
//!   dialled again at once, with the same count of retries.
//!
//! nats-server adds a random 0-100 ms to the first dial after a lost route; this type has no
//! randomness, the caller may add jitter.

use std::time::Duration;

/// A leaf remote's default `reconnect` interval (`DEFAULT_LEAF_NODE_RECONNECT`).
pub const LEAF_RECONNECT_DEFAULT: Duration = Duration::from_secs(1);
/// The wait after the hub refused the link for a loop, a permission violation or the same
/// cluster name (nats-server waits 30 s in each case).
pub const LEAF_RECONNECT_AFTER_REFUSAL: Duration = Duration::from_secs(30);
/// A solicited link's failed dials are logged as errors at attempt 1 and every this many
/// attempts, at debug level otherwise (nats-server's `DEFAULT_CONNECT_ERROR_REPORTS`, for
/// leaf remotes on their first connect and for routes); a leaf remote that lost its link
/// logs every failure (`DEFAULT_RECONNECT_ERROR_REPORTS` = 1).
pub const CONNECT_ERROR_REPORTS: u32 = 3600;
/// Between two route dials (`DEFAULT_ROUTE_CONNECT`).
pub const ROUTE_CONNECT_DELAY: Duration = Duration::from_secs(1);

/// Go's text for a failed dial (`dial tcp 127.0.0.1:7422: connect: connection refused`),
/// as nats-server logs it for leaf remotes and routes.
pub fn dial_error(address: std::net::SocketAddr, error: crate::runtime::ConnectError) -> String {
    match error {
        crate::runtime::ConnectError::TimedOut => format!("dial tcp {address}: i/o timeout"),
        error => format!("dial tcp {address}: connect: {error}"),
    }
}

/// Which link's rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Leaf { reconnect: Duration },
    ExplicitRoute,
    ImplicitRoute { connect_retries: u32 },
}

/// Why the link is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The dial failed (refused, timed out...).
    Dial,
    /// An established link was lost.
    Lost,
    /// The hub closed a leaf link: loop detected, permission violation, same cluster name.
    Refused,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    After(Duration),
    GiveUp,
}

/// One solicited link's retry state.
#[derive(Clone, Debug)]
pub struct Backoff {
    policy: Policy,
    /// Dials failed since the last established connection.
    failed_dials: u32,
}

impl Backoff {
    pub fn new(policy: Policy) -> Backoff {
        Backoff {
            policy,
            failed_dials: 0,
        }
    }

    /// The link is up: counting starts again.
    pub fn connected(&mut self) {
        self.failed_dials = 0;
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn failed_dials(&self) -> u32 {
        self.failed_dials
    }

    /// The link is down for `failure`: when to dial again, if at all.
    pub fn next(&mut self, failure: Failure) -> Retry {
        match failure {
            Failure::Dial => self.failed_dials = self.failed_dials.saturating_add(1),
            Failure::Lost | Failure::Refused => self.failed_dials = 0,
        }
        match self.policy {
            Policy::Leaf { .. } if failure == Failure::Refused => {
                Retry::After(LEAF_RECONNECT_AFTER_REFUSAL)
            }
            Policy::Leaf { reconnect } => Retry::After(reconnect),
            Policy::ExplicitRoute => Retry::After(ROUTE_CONNECT_DELAY),
            Policy::ImplicitRoute { .. } if failure != Failure::Dial => {
                Retry::After(Duration::ZERO)
            }
            Policy::ImplicitRoute { connect_retries } => {
                if self.failed_dials > connect_retries {
                    Retry::GiveUp
                } else {
                    Retry::After(ROUTE_CONNECT_DELAY)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leaf_remote_retries_forever_at_its_interval_and_30_s_after_a_refusal() {
        let mut leaf = Backoff::new(Policy::Leaf {
            reconnect: LEAF_RECONNECT_DEFAULT,
        });
        for _ in 0..5 {
            assert_eq!(
                leaf.next(Failure::Dial),
                Retry::After(Duration::from_secs(1))
            );
        }
        assert_eq!(leaf.failed_dials(), 5);
        leaf.connected();
        assert_eq!(leaf.failed_dials(), 0);
        assert_eq!(
            leaf.next(Failure::Refused),
            Retry::After(Duration::from_secs(30))
        );
        assert_eq!(
            leaf.next(Failure::Dial),
            Retry::After(Duration::from_secs(1))
        );
        assert_eq!(
            leaf.next(Failure::Lost),
            Retry::After(Duration::from_secs(1))
        );
        let mut slow = Backoff::new(Policy::Leaf {
            reconnect: Duration::from_secs(5),
        });
        assert_eq!(
            slow.next(Failure::Lost),
            Retry::After(Duration::from_secs(5))
        );
    }

    #[test]
    fn an_explicit_route_retries_forever_every_second() {
        let mut route = Backoff::new(Policy::ExplicitRoute);
        for _ in 0..100 {
            assert_eq!(
                route.next(Failure::Dial),
                Retry::After(Duration::from_secs(1))
            );
        }
        assert_eq!(
            route.next(Failure::Lost),
            Retry::After(Duration::from_secs(1))
        );
    }

    #[test]
    fn an_implicit_route_makes_one_plus_connect_retries_attempts() {
        let mut once = Backoff::new(Policy::ImplicitRoute { connect_retries: 0 });
        assert_eq!(once.next(Failure::Dial), Retry::GiveUp);
        let mut thrice = Backoff::new(Policy::ImplicitRoute { connect_retries: 2 });
        assert_eq!(
            thrice.next(Failure::Dial),
            Retry::After(Duration::from_secs(1))
        );
        assert_eq!(
            thrice.next(Failure::Dial),
            Retry::After(Duration::from_secs(1))
        );
        assert_eq!(thrice.next(Failure::Dial), Retry::GiveUp);
        // Lost after being up: one more attempt at once, then the count starts again.
        thrice.connected();
        assert_eq!(thrice.next(Failure::Lost), Retry::After(Duration::ZERO));
        assert_eq!(
            thrice.next(Failure::Dial),
            Retry::After(Duration::from_secs(1))
        );
        assert_eq!(
            thrice.next(Failure::Dial),
            Retry::After(Duration::from_secs(1))
        );
        assert_eq!(thrice.next(Failure::Dial), Retry::GiveUp);
        let mut lost_once = Backoff::new(Policy::ImplicitRoute { connect_retries: 0 });
        assert_eq!(lost_once.next(Failure::Lost), Retry::After(Duration::ZERO));
        assert_eq!(lost_once.next(Failure::Dial), Retry::GiveUp);
    }
}
