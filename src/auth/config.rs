//! The auth part of the server configuration, as the operator states it: users, nkey users,
//! a token, accounts, `no_auth_user`, the auth timeout and per-user permissions. Plain data:
//! [`super::Authenticator::new`] checks it and compiles it for the connection path.

use std::time::Duration;

/// nats-server's default auth timeout when TLS is off (`AUTH_TIMEOUT`, 2 s).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Default for `allow_responses: true`: one response per request (nats-server's
/// `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`).
pub const DEFAULT_RESPONSE_MAX_MSGS: u32 = 1;

/// Default for `allow_responses: true`: a reply subject may be answered for two minutes
/// (nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`).
pub const DEFAULT_RESPONSE_EXPIRES: Duration = Duration::from_secs(120);

/// A password or token: compared, never printed (`Debug` shows `"***"`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_string())
    }
}

/// Everything about who may connect and what they may do. The default is no auth at all:
/// every client is admitted to the global account `$G` with every permission.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthConfig {
    /// `--auth TOKEN` / `authorization { token }`: the client's `auth_token` must equal it
    /// (or match it, if it is a bcrypt hash).
    pub token: Option<Secret>,
    /// `--user`/`--pass` / `authorization { user, password }`: the single-user form.
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// `authorization { users: [...] }` and the users of every account.
    pub users: Vec<User>,
    /// Users identified by an nkey (ed25519 public key, `U…`), proven by signing the nonce.
    pub nkey_users: Vec<NkeyUser>,
    /// Account names, in configuration order. Users name their account; users without one
    /// are in the global account `$G`. Subjects never cross accounts.
    pub accounts: Vec<String>,
    /// A client that sends no credentials is logged in as this user (which must be one of
    /// `users`).
    pub no_auth_user: Option<String>,
    /// `authorization { timeout }`: how long a client has to send a CONNECT that
    /// authenticates. `None`: [`DEFAULT_AUTH_TIMEOUT`].
    pub timeout: Option<Duration>,
}

/// A user/password user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct User {
    pub name: String,
    /// Plain text (compared in constant time) or a bcrypt hash (`$2a$`, `$2b$`, `$2x$`,
    /// `$2y$`).
    pub password: Secret,
    /// The account's name; `None`: the global account.
    pub account: Option<String>,
    /// `None`: may publish and subscribe to anything in its account.
    pub permissions: Option<Permissions>,
}

/// An nkey user: the public user key, 56 characters starting with `U`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NkeyUser {
    pub public_key: String,
    pub account: Option<String>,
    pub permissions: Option<Permissions>,
}

/// `permissions { publish, subscribe, allow_responses }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: may publish to the reply subject of a message it received, even
    /// where `publish` would not allow it.
    pub responses: Option<ResponsePermission>,
}

/// Allow and deny lists of subject patterns (wildcards allowed). For subscribe, an entry may
/// be `"subject queue"`, which concerns queue subscriptions to that queue group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    /// `None`: everything not denied is allowed. `Some(empty)`: nothing is allowed (only
    /// reachable for publish, with `allow_responses`).
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses: true` or `{ max, expires }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses per received request; `None`: unlimited (a negative `max` in the config).
    pub max_msgs: Option<u32>,
    /// How long a received reply subject may be answered; `None`: forever.
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: Some(DEFAULT_RESPONSE_MAX_MSGS),
            expires: Some(DEFAULT_RESPONSE_EXPIRES),
        }
    }
}

impl AuthConfig {
    /// Whether clients must authenticate (nats-server's `auth_required`).
    pub fn is_enabled(&self) -> bool {
        self.token.is_some()
            || self.user.is_some()
            || !self.users.is_empty()
            || !self.nkey_users.is_empty()
    }

    /// The auth timeout in force.
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_AUTH_TIMEOUT)
    }
}
