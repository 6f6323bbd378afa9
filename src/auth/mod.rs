//! Who may connect, to which account, with which permissions.
//!
//! - `config`: [`AuthConfig`], the operator's statement (flags, config file).
//! - `tree`: [`AuthConfig::from_tree`], from a nats-style configuration tree (JSON-shaped).
//! - `password`: bcrypt or constant-time comparison. `nkey`: nonces and signature checks.
//! - `permissions`: compiled per-user [`Rules`] and per-connection [`ClientPermissions`].
//! - `certificate`: a client certificate's names and DNs, for `verify_and_map`.
//!
//! [`Authenticator`] is compiled once at start-up and shared by every core; it is consulted
//! only at CONNECT. The outcome, an [`Identity`], is one account index and an optional set of
//! rules: all the publish path ever looks at. Nothing here does IO or knows about the broker.

mod certificate;
mod config;
mod nkey;
mod password;
mod permissions;
mod tree;

pub use certificate::{pinned_key_id, CertificateNames, Dn};
pub use config::{
    AuthConfig, NkeyUser, Permissions, ResponsePermission, Secret, SubjectPermission, User,
    DEFAULT_AUTH_TIMEOUT, DEFAULT_RESPONSE_EXPIRES, DEFAULT_RESPONSE_MAX_MSGS,
};
pub use nkey::{new_nonce, SignatureError};
/// A plain secret compared in constant time (a bcrypt one checked on the calling thread:
/// callers on a core must only pass plain ones; route passwords are refused as bcrypt).
pub use password::matches as secret_matches;
pub use permissions::{
    is_subset_match, literal_match, ClientPermissions, Rules, CACHE_PRUNE_COUNT,
    DELIVERY_CACHE_MAX, PUBLISH_CACHE_MAX, RESPONSE_GRANTS_MAX,
};
pub use tree::TreeError;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// An account's index: 0 is the global account `$G`, then the configured accounts in order.
/// Every shard keys its subject tables by it; records between cores carry it.
pub type AccountIndex = u16;

/// The global account, for users without an account and when auth is off.
pub const GLOBAL_ACCOUNT: AccountIndex = 0;

/// The global account's name (reserved: no configured account may take it).
pub const GLOBAL_ACCOUNT_NAME: &str = "$G";

/// Configured accounts at most, besides `$G` (the index is a `u16`). Over it, start-up fails.
pub const ACCOUNTS_MAX: usize = u16::MAX as usize;

/// The credentials of one CONNECT.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub pass: Option<&'a str>,
    pub token: Option<&'a str>,
    pub nkey: Option<&'a str>,
    pub sig: Option<&'a str>,
    /// The client's verified TLS certificate (DER), for `verify_and_map`.
    pub certificate: Option<&'a [u8]>,
}

/// What authenticating a CONNECT found ([`Authenticator::verdict`]).
#[derive(Debug)]
pub enum Verdict {
    Admit(Identity),
    Refuse(Refusal),
    /// A bcrypt comparison decides; run it off the message cores.
    Check(SecretCheck),
}

/// One bcrypt comparison still to run, and the identity a match admits. It owns copies of
/// what it compares, so it can run on another thread while the configuration is reloaded.
pub struct SecretCheck {
    name: String,
    configured: String,
    offered: String,
    verified: Arc<password::VerifiedSecrets>,
    pub identity: Identity,
}

impl SecretCheck {
    /// Runs bcrypt (slow by design); a success is remembered for the next CONNECT.
    pub fn run(&self) -> bool {
        self.verified
            .matches(&self.name, &self.configured, &self.offered)
    }
}

impl std::fmt::Debug for SecretCheck {
    /// Never prints the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Who a connection turned out to be.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: AccountIndex,
    /// `None`: every subject of the account, both ways.
    pub rules: Option<Arc<Rules>>,
    /// Set when the client was logged in as `no_auth_user`: nats-server then names the
    /// connection after that user (logs, monitoring).
    pub assumed_user: Option<String>,
}

impl Identity {
    /// The identity of every connection when auth is off.
    pub fn global() -> Identity {
        Identity {
            account: GLOBAL_ACCOUNT,
            rules: None,
            assumed_user: None,
        }
    }
}

/// Why a CONNECT did not authenticate. The client sees only `Authorization Violation`; the
/// detail (nats-server's debug line, e.g. `Signature not verified`) is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub detail: Option<String>,
}

/// A user or nkey user, compiled.
#[derive(Debug)]
struct Login {
    /// Empty for nkey users.
    password: Secret,
    account: AccountIndex,
    rules: Option<Arc<Rules>>,
}

/// The compiled [`AuthConfig`].
#[derive(Debug)]
pub struct Authenticator {
    required: bool,
    token: Option<Secret>,
    single_user: Option<(String, Secret)>,
    users: HashMap<String, Login>,
    nkeys: HashMap<String, Login>,
    no_auth_user: Option<String>,
    /// Index → name; `$G` first.
    account_names: Vec<String>,
    timeout: Duration,
    /// A password is set in plain text (single user or a user).
    plaintext_passwords: bool,
    /// Some user has no password (nats-server warns about it too, unless certificates name
    /// the users).
    passwordless_users: bool,
    /// `verify_and_map`: the client certificate names the user.
    map_certificates: bool,
    /// The user names that read as DNs, in configuration order, for `verify_and_map`.
    user_dns: Vec<(Dn, String)>,
    /// bcrypt successes, so reconnects do not stall a core (see `VerifiedSecrets`).
    verified: Arc<password::VerifiedSecrets>,
}

impl Authenticator {
    /// Checks and compiles the configuration; the error reads like nats-server's where it
    /// has the same check.
    pub fn new(config: &AuthConfig) -> Result<Authenticator, String> {
        Authenticator::compile(config, None)
    }

    /// The configuration reloaded over `previous`: an account keeps its index (the shards'
    /// tables and records between cores are keyed by it), a new account takes the next free
    /// one, and a removed account's index stays reserved (no user can be in it). bcrypt
    /// successes are remembered across the reload (the digest covers the configured hash,
    /// so a changed password is verified again).
    pub fn reloaded(
        config: &AuthConfig,
        previous: &Authenticator,
    ) -> Result<Authenticator, String> {
        Authenticator::compile(config, Some(previous))
    }

    fn compile(
        config: &AuthConfig,
        previous: Option<&Authenticator>,
    ) -> Result<Authenticator, String> {
        let configured = account_names(&config.accounts)?;
        let mut account_names = previous.map_or_else(Vec::new, |p| p.account_names.clone());
        for name in &configured {
            if !account_names.contains(name) {
                account_names.push(name.clone());
            }
        }
        if account_names.len() > ACCOUNTS_MAX + 1 {
            return Err(format!(
                "{} accounts configured since start-up, at most {ACCOUNTS_MAX} are supported",
                account_names.len() - 1
            ));
        }
        let account_index = |name: &Option<String>, who: &str| -> Result<AccountIndex, String> {
            match name {
                None => Ok(GLOBAL_ACCOUNT),
                Some(name) if configured.contains(name) => Ok(account_names
                    .iter()
                    .position(|known| known == name)
                    .expect("every configured account is named")
                    as AccountIndex),
                Some(name) => Err(format!("{who} names unknown account {name:?}")),
            }
        };
        let compile = |permissions: &Option<Permissions>| -> Result<_, String> {
            permissions
                .as_ref()
                .map(|p| Rules::compile(p).map(Arc::new))
                .transpose()
        };
        let mut users = HashMap::new();
        for user in &config.users {
            let login = Login {
                password: user.password.clone(),
                account: account_index(&user.account, &format!("user {:?}", user.name))?,
                rules: compile(&user.permissions)?,
            };
            if users.insert(user.name.clone(), login).is_some() {
                return Err(format!("Duplicate user {:?} detected", user.name));
            }
        }
        let mut nkeys = HashMap::new();
        for user in &config.nkey_users {
            if !nkey::is_user_key(&user.public_key) {
                return Err(format!(
                    "Not a valid public nkey for a user: {:?}",
                    user.public_key
                ));
            }
            let login = Login {
                password: Secret::default(),
                account: account_index(&user.account, &format!("nkey {:?}", user.public_key))?,
                rules: compile(&user.permissions)?,
            };
            if nkeys.insert(user.public_key.clone(), login).is_some() {
                return Err(format!("Duplicate nkey {:?} detected", user.public_key));
            }
        }
        if let Some(name) = &config.no_auth_user {
            if config.users.is_empty() {
                return Err(format!(
                    "no_auth_user: \"{name}\" present, but users are not defined"
                ));
            }
            if !users.contains_key(name) {
                return Err(format!(
                    "no_auth_user: \"{name}\" not present as user in authorization block or \
                     account configuration"
                ));
            }
        }
        let plaintext_passwords = config
            .password
            .as_ref()
            .is_some_and(|p| !password::is_bcrypt(&p.0))
            || config
                .users
                .iter()
                .any(|u| !u.password.0.is_empty() && !password::is_bcrypt(&u.password.0));
        let passwordless_users = config.users.iter().any(|u| u.password.0.is_empty());
        let user_dns = config
            .users
            .iter()
            .filter_map(|u| Some((Dn::parse(&u.name)?, u.name.clone())))
            .collect();
        Ok(Authenticator {
            required: config.is_enabled(),
            token: config.token.clone(),
            single_user: config.user.clone().map(|user| {
                let password = config.password.clone().unwrap_or_default();
                (user, password)
            }),
            users,
            nkeys,
            no_auth_user: config.no_auth_user.clone(),
            account_names,
            timeout: config.timeout(),
            plaintext_passwords,
            passwordless_users,
            map_certificates: false,
            user_dns,
            verified: previous.map_or_else(
                || Arc::new(password::VerifiedSecrets::new()),
                |p| Arc::clone(&p.verified),
            ),
        })
    }

    /// Whether clients must authenticate: the first operation must be a CONNECT that does
    /// (or there is a `no_auth_user`), within the auth timeout.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// INFO `auth_required`: true when required, unless `no_auth_user` lets clients in
    /// without credentials (then nats-server leaves it out).
    pub fn advertises_auth_required(&self) -> bool {
        self.required && self.no_auth_user.is_none()
    }

    /// Whether INFO carries a nonce (nkey users configured).
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// How long a client has to authenticate.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Accounts including `$G` (and any removed by a reload, whose index stays reserved);
    /// shards size their per-account tables by it.
    pub fn account_count(&self) -> usize {
        self.account_names.len()
    }

    /// The index of the account named `name` as it came on the wire (a route names
    /// accounts in its interest and messages).
    pub fn account_by_wire_name(&self, name: &[u8]) -> Option<AccountIndex> {
        self.account_names
            .iter()
            .position(|known| known.as_bytes() == name)
            .and_then(|index| AccountIndex::try_from(index).ok())
    }

    /// An account's name (`$G` for index 0).
    pub fn account_name(&self, account: AccountIndex) -> &str {
        &self.account_names[usize::from(account)]
    }

    /// `verify_and_map`: with users configured, the client's certificate names its user
    /// and the CONNECT's user name is not looked at (see [`CertificateNames`]).
    pub fn with_certificate_mapping(mut self, map: bool) -> Authenticator {
        self.map_certificates = map;
        self
    }

    /// Whether a configured password is plain text, or a user has none while certificates
    /// do not name the users (nats-server warns at start-up about both).
    pub fn has_plaintext_passwords(&self) -> bool {
        self.plaintext_passwords || (self.passwordless_users && !self.map_certificates)
    }

    /// The user a client certificate names, in nats-server's order (see
    /// [`CertificateNames`]), or why there is none (its debug line).
    fn certificate_user(&self, certificate: Option<&[u8]>) -> Result<&str, String> {
        let certificate = certificate.ok_or("User required in cert, no peer certificates found")?;
        let names =
            CertificateNames::read(certificate).ok_or("User required in cert, none found")?;
        let known = |name: &str| {
            self.users
                .get_key_value(name)
                .map(|(name, _)| name.as_str())
        };
        if let Some(user) = names.alternative_names.iter().find_map(|name| known(name)) {
            return Ok(user);
        }
        if let Some(dn) = &names.subject_dn {
            let exact = self.user_dns.iter().find(|(user, _)| user.equals(dn));
            let reordered = || self.user_dns.iter().find(|(user, _)| user.rdns_match(dn));
            if let Some((_, name)) = exact.or_else(reordered) {
                return Ok(name);
            }
        }
        let found = names
            .subject_with_domain
            .as_deref()
            .and_then(known)
            .or_else(|| known(&names.subject));
        found.ok_or_else(|| format!("User in cert [{:?}], not found", names.subject))
    }

    /// The identity for a client whose first operation is not a CONNECT: the `no_auth_user`,
    /// if there is one.
    pub fn no_auth_identity(&self) -> Option<Identity> {
        let name = self.no_auth_user.as_ref()?;
        let login = self.users.get(name)?;
        Some(Identity {
            account: login.account,
            rules: login.rules.clone(),
            assumed_user: Some(name.clone()),
        })
    }

    /// Authenticates a CONNECT's credentials at once, bcrypt included (on the calling
    /// thread). The message cores use [`Authenticator::verdict`] instead.
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
        nonce: &[u8],
    ) -> Result<Identity, Refusal> {
        match self.verdict(credentials, nonce) {
            Verdict::Admit(identity) => Ok(identity),
            Verdict::Refuse(refusal) => Err(refusal),
            Verdict::Check(check) => {
                if check.run() {
                    Ok(check.identity)
                } else {
                    Err(Refusal { detail: None })
                }
            }
        }
    }

    /// Authenticates one CONNECT, in nats-server's order: nkey users (signature of `nonce`),
    /// then users (named by the client certificate with `verify_and_map`, else by the
    /// CONNECT, with `no_auth_user` for a client without any credentials), then the
    /// token, then the single user. All of it, except for a bcrypt comparison that is not
    /// remembered from an earlier success: that one is returned as a [`SecretCheck`] to run
    /// off the core (it takes on the order of 100 ms at bcrypt's usual costs).
    pub fn verdict(&self, credentials: &Credentials<'_>, nonce: &[u8]) -> Verdict {
        if !self.required {
            return Verdict::Admit(Identity::global());
        }
        let refused = Verdict::Refuse(Refusal { detail: None });
        if let (false, Some(key)) = (self.nkeys.is_empty(), offered_field(credentials.nkey)) {
            let Some(login) = self.nkeys.get(key) else {
                return refused;
            };
            return match nkey::verify(key, nonce, credentials.sig) {
                Ok(()) => Verdict::Admit(identity(login, None)),
                Err(error) => Verdict::Refuse(Refusal {
                    detail: Some(error.to_string()),
                }),
            };
        }
        if !self.users.is_empty() && self.map_certificates {
            return match self.certificate_user(credentials.certificate) {
                Ok(name) => {
                    let login = &self.users[name];
                    self.compare(
                        format!("user {name}"),
                        &login.password.0,
                        credentials.pass.unwrap_or(""),
                        identity(login, Some(name.to_string())),
                    )
                }
                Err(detail) => Verdict::Refuse(Refusal {
                    detail: Some(detail),
                }),
            };
        }
        if !self.users.is_empty() {
            let anonymous = offered_field(credentials.user).is_none()
                && offered_field(credentials.pass).is_none()
                && offered_field(credentials.token).is_none();
            if let (true, Some(name)) = (anonymous, &self.no_auth_user) {
                return match self.users.get(name) {
                    Some(login) => Verdict::Admit(identity(login, Some(name.clone()))),
                    None => refused,
                };
            }
            if let Some(name) = offered_field(credentials.user) {
                let Some(login) = self.users.get(name) else {
                    return refused;
                };
                let pass = credentials.pass.unwrap_or("");
                return self.compare(
                    format!("user {name}"),
                    &login.password.0,
                    pass,
                    identity(login, None),
                );
            }
        }
        if let Some(token) = &self.token {
            let offered_token = credentials.token.unwrap_or("");
            return self.compare(
                "token".to_string(),
                &token.0,
                offered_token,
                Identity::global(),
            );
        }
        if let Some((user, pass)) = &self.single_user {
            if credentials.user == Some(user.as_str()) {
                let offered_pass = credentials.pass.unwrap_or("");
                return self.compare(
                    "single user".to_string(),
                    &pass.0,
                    offered_pass,
                    Identity::global(),
                );
            }
        }
        refused
    }

    /// The index of the account named `name` (`$G` included), if configured.
    pub fn account_index(&self, name: &str) -> Option<AccountIndex> {
        let index = self.account_names.iter().position(|n| n == name)?;
        AccountIndex::try_from(index).ok()
    }

    /// Compares an offered secret with the configured one named `name` (the name keys the
    /// remembered bcrypt successes): answered at once unless it takes a bcrypt run. For
    /// logins that are not this configuration's users (the leaf port's own users).
    pub fn compare_secret(
        &self,
        name: String,
        configured: &str,
        offered: &str,
        admits: Identity,
    ) -> Verdict {
        self.compare(name, configured, offered, admits)
    }

    /// Compares an offered secret with the configured one named `name`: answered at once
    /// unless it takes a bcrypt run.
    fn compare(&self, name: String, configured: &str, offered: &str, admits: Identity) -> Verdict {
        match self
            .verified
            .answer_without_bcrypt(&name, configured, offered)
        {
            Some(true) => Verdict::Admit(admits),
            Some(false) => Verdict::Refuse(Refusal { detail: None }),
            None => Verdict::Check(SecretCheck {
                name,
                configured: configured.to_string(),
                offered: offered.to_string(),
                verified: Arc::clone(&self.verified),
                identity: admits,
            }),
        }
    }

    /// Whether the nkey or user a client logged in with is still configured (a reload):
    /// `None` when this configuration has no user or nkey list to look in.
    pub fn knows_login(&self, nkey: Option<&str>, user: Option<&str>) -> Option<bool> {
        if let Some(nkey) = offered_field(nkey) {
            return (!self.nkeys.is_empty() || !self.users.is_empty())
                .then(|| self.nkeys.contains_key(nkey));
        }
        let user = offered_field(user)?;
        (!self.nkeys.is_empty() || !self.users.is_empty()).then(|| self.users.contains_key(user))
    }

    /// nats-server's error log line for a refused client (`authentication error`, plus the
    /// nkey or user it claimed when such users are configured).
    pub fn refusal_log(&self, nkey: Option<&str>, user: Option<&str>) -> String {
        if !self.nkeys.is_empty() {
            format!("authentication error - Nkey {:?}", nkey.unwrap_or(""))
        } else if !self.users.is_empty() {
            format!("authentication error - User {:?}", user.unwrap_or(""))
        } else {
            "authentication error".to_string()
        }
    }
}

/// How nats-server names a connection's user in violation logs (getAuthUser).
pub fn user_label(nkey: Option<&str>, user: Option<&str>) -> String {
    match (
        nkey.filter(|k| !k.is_empty()),
        user.filter(|u| !u.is_empty()),
    ) {
        (Some(nkey), _) => format!("Nkey {nkey:?}"),
        (None, Some(user)) => format!("User {user:?}"),
        (None, None) => "User \"N/A\"".to_string(),
    }
}

/// A credential field counts only when it is present and not empty (Go's zero value).
fn offered_field(field: Option<&str>) -> Option<&str> {
    field.filter(|text| !text.is_empty())
}

fn identity(login: &Login, assumed_user: Option<String>) -> Identity {
    Identity {
        account: login.account,
        rules: login.rules.clone(),
        assumed_user,
    }
}

fn account_names(configured: &[String]) -> Result<Vec<String>, String> {
    if configured.len() > ACCOUNTS_MAX {
        return Err(format!(
            "{} accounts configured, at most {ACCOUNTS_MAX} are supported",
            configured.len()
        ));
    }
    let mut names = vec![GLOBAL_ACCOUNT_NAME.to_string()];
    for name in configured {
        if name == GLOBAL_ACCOUNT_NAME {
            return Err(format!("{name:?} is a Reserved Account"));
        }
        if names.contains(name) {
            return Err(format!("Duplicate Account Entry: {name}"));
        }
        names.push(name.clone());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nkeys::{KeyPair, KeyPairType};

    fn user(name: &str, password: &str, account: Option<&str>) -> User {
        User {
            name: name.into(),
            password: password.into(),
            account: account.map(Into::into),
            permissions: None,
        }
    }

    fn creds<'a>(user: &'a str, pass: &'a str) -> Credentials<'a> {
        Credentials {
            user: Some(user),
            pass: Some(pass),
            ..Credentials::default()
        }
    }

    #[test]
    fn no_auth_admits_everyone_to_the_global_account() {
        let auth = Authenticator::new(&AuthConfig::default()).unwrap();
        assert!(!auth.is_required());
        assert!(!auth.advertises_auth_required());
        assert!(!auth.needs_nonce());
        assert_eq!(auth.account_count(), 1);
        let identity = auth.authenticate(&creds("x", "y"), b"").unwrap();
        assert_eq!(identity.account, GLOBAL_ACCOUNT);
        assert!(identity.rules.is_none());
    }

    #[test]
    fn token_and_single_user() {
        let token = Authenticator::new(&AuthConfig {
            token: Some("s3cr3t".into()),
            ..AuthConfig::default()
        })
        .unwrap();
        assert!(token.is_required() && token.advertises_auth_required());
        let with_token = |t: &'static str| Credentials {
            token: Some(t),
            ..Credentials::default()
        };
        assert!(token.authenticate(&with_token("s3cr3t"), b"").is_ok());
        assert!(token.authenticate(&with_token("wrong"), b"").is_err());
        assert!(token.authenticate(&Credentials::default(), b"").is_err());
        assert_eq!(token.refusal_log(None, Some("x")), "authentication error");

        let single = Authenticator::new(&AuthConfig {
            user: Some("alice".into()),
            password: Some("secret".into()),
            ..AuthConfig::default()
        })
        .unwrap();
        assert!(single.authenticate(&creds("alice", "secret"), b"").is_ok());
        assert!(single.authenticate(&creds("alice", "wrong"), b"").is_err());
        assert!(single.authenticate(&creds("bob", "secret"), b"").is_err());
        assert!(single.has_plaintext_passwords());
    }

    #[test]
    fn only_an_unremembered_bcrypt_comparison_is_deferred() {
        let hash = bcrypt::hash("hashed", 4).unwrap();
        let auth = Authenticator::new(&AuthConfig {
            users: vec![user("plain", "pw", None), user("hashed", &hash, None)],
            ..AuthConfig::default()
        })
        .unwrap();
        assert!(matches!(
            auth.verdict(&creds("plain", "pw"), b""),
            Verdict::Admit(_)
        ));
        assert!(matches!(
            auth.verdict(&creds("plain", "no"), b""),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            auth.verdict(&creds("nobody", "hashed"), b""),
            Verdict::Refuse(_)
        ));
        // Wrong or right, an unremembered bcrypt secret is a check to run elsewhere.
        let Verdict::Check(wrong) = auth.verdict(&creds("hashed", "no"), b"") else {
            panic!("a bcrypt comparison is deferred");
        };
        assert!(!wrong.run());
        let Verdict::Check(right) = auth.verdict(&creds("hashed", "hashed"), b"") else {
            panic!("a bcrypt comparison is deferred");
        };
        assert!(format!("{right:?}").contains("hashed\"") && !format!("{right:?}").contains(&hash));
        assert!(right.run());
        // Once a success is remembered, the same secret is admitted at once; others are
        // still checked.
        assert!(matches!(
            auth.verdict(&creds("hashed", "hashed"), b""),
            Verdict::Admit(_)
        ));
        assert!(matches!(
            auth.verdict(&creds("hashed", "no"), b""),
            Verdict::Check(_)
        ));
    }

    #[test]
    fn users_accounts_and_no_auth_user() {
        let hash = bcrypt::hash("hashed", 4).unwrap();
        let config = AuthConfig {
            users: vec![
                user("a1", "pw", Some("A")),
                user("b1", &hash, Some("B")),
                user("g", "pw", None),
            ],
            accounts: vec!["A".into(), "B".into()],
            no_auth_user: Some("a1".into()),
            ..AuthConfig::default()
        };
        let auth = Authenticator::new(&config).unwrap();
        assert!(auth.is_required());
        assert!(!auth.advertises_auth_required(), "no_auth_user hides it");
        assert_eq!(auth.account_count(), 3);
        assert_eq!(auth.account_name(2), "B");
        assert_eq!(
            auth.authenticate(&creds("a1", "pw"), b"").unwrap().account,
            1
        );
        assert_eq!(
            auth.authenticate(&creds("b1", "hashed"), b"")
                .unwrap()
                .account,
            2
        );
        assert_eq!(
            auth.authenticate(&creds("g", "pw"), b"").unwrap().account,
            0
        );
        assert!(auth.authenticate(&creds("b1", "wrong"), b"").is_err());
        assert!(auth.authenticate(&creds("nobody", "pw"), b"").is_err());
        let anonymous = auth.authenticate(&Credentials::default(), b"").unwrap();
        assert_eq!(anonymous.account, 1);
        assert_eq!(anonymous.assumed_user.as_deref(), Some("a1"));
        assert_eq!(auth.no_auth_identity().unwrap().account, 1);
        assert_eq!(
            auth.refusal_log(None, Some("zz")),
            "authentication error - User \"zz\""
        );
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        let key = KeyPair::new_from_raw(KeyPairType::User, [9u8; 32]).unwrap();
        let config = AuthConfig {
            nkey_users: vec![NkeyUser {
                public_key: key.public_key(),
                account: None,
                permissions: None,
            }],
            ..AuthConfig::default()
        };
        let auth = Authenticator::new(&config).unwrap();
        assert!(auth.needs_nonce());
        let nonce = new_nonce();
        let signature = data_encoding::BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).unwrap());
        let public = key.public_key();
        let offer = |sig: Option<&'static str>, nonce: &str| {
            let credentials = Credentials {
                nkey: Some(&public),
                sig,
                ..Credentials::default()
            };
            auth.authenticate(&credentials, nonce.as_bytes())
        };
        let signature: &'static str = Box::leak(signature.into_boxed_str());
        assert!(offer(Some(signature), &nonce).is_ok());
        assert_eq!(
            offer(Some(signature), "another")
                .unwrap_err()
                .detail
                .as_deref(),
            Some("Signature not verified")
        );
        assert_eq!(
            offer(None, &nonce).unwrap_err().detail.as_deref(),
            Some("Signature missing")
        );
        assert!(auth.authenticate(&creds("bob", "pw"), b"").is_err());
        assert_eq!(
            auth.refusal_log(Some(&public), None),
            format!("authentication error - Nkey {public:?}")
        );
    }

    #[test]
    fn configuration_errors_read_like_nats_server() {
        let no_users = AuthConfig {
            no_auth_user: Some("x".into()),
            ..AuthConfig::default()
        };
        assert_eq!(
            Authenticator::new(&no_users).unwrap_err(),
            "no_auth_user: \"x\" present, but users are not defined"
        );
        let unknown = AuthConfig {
            users: vec![user("a", "pw", None)],
            no_auth_user: Some("x".into()),
            ..AuthConfig::default()
        };
        assert_eq!(
            Authenticator::new(&unknown).unwrap_err(),
            "no_auth_user: \"x\" not present as user in authorization block or account \
             configuration"
        );
        let duplicate = AuthConfig {
            users: vec![user("a", "pw", None), user("a", "pw2", None)],
            ..AuthConfig::default()
        };
        assert_eq!(
            Authenticator::new(&duplicate).unwrap_err(),
            "Duplicate user \"a\" detected"
        );
        let reserved = AuthConfig {
            accounts: vec!["$G".into()],
            ..AuthConfig::default()
        };
        assert_eq!(
            Authenticator::new(&reserved).unwrap_err(),
            "\"$G\" is a Reserved Account"
        );
        let missing_account = AuthConfig {
            users: vec![user("a", "pw", Some("Z"))],
            ..AuthConfig::default()
        };
        assert_eq!(
            Authenticator::new(&missing_account).unwrap_err(),
            "user \"a\" names unknown account \"Z\""
        );
        let bad_nkey = AuthConfig {
            nkey_users: vec![NkeyUser {
                public_key: "UBAD".into(),
                ..NkeyUser::default()
            }],
            ..AuthConfig::default()
        };
        assert!(Authenticator::new(&bad_nkey)
            .unwrap_err()
            .starts_with("Not a valid public nkey for a user"));
    }

    #[test]
    fn user_labels_follow_get_auth_user() {
        assert_eq!(user_label(Some("UABC"), Some("bob")), "Nkey \"UABC\"");
        assert_eq!(user_label(None, Some("bob")), "User \"bob\"");
        assert_eq!(user_label(Some(""), None), "User \"N/A\"");
    }
}
