//! [`AuthConfig`] from a configuration tree shaped like nats-server's config blocks:
//! `authorization { user, password, token, timeout, users: [...], permissions }`,
//! `accounts { A: { users: [...], default_permissions } }` (or a list of names) and
//! `no_auth_user`. The tree is a `serde_json::Value`: objects, arrays, strings, numbers,
//! booleans. Keys match case-insensitively, as in nats-server.
//!
//! Checks here are the structural ones nats-server makes while parsing; the rest (unknown
//! accounts, nkey syntax, subject syntax, `no_auth_user` naming a user) are made by
//! [`super::Authenticator::new`].

use super::config::{
    AuthConfig, NkeyUser, Permissions, ResponsePermission, Secret, SubjectPermission, User,
};
use serde_json::{Map, Value};
use std::time::Duration;

/// A configuration the tree cannot express; `path` names the offending key
/// (`authorization.users[1].permissions.publish`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for TreeError {}

type Result<T> = std::result::Result<T, TreeError>;

fn error<T>(path: &str, message: impl Into<String>) -> Result<T> {
    Err(TreeError {
        path: path.to_string(),
        message: message.into(),
    })
}

impl AuthConfig {
    /// Reads the auth keys of a whole configuration (`authorization`, `accounts`,
    /// `no_auth_user`; other top-level keys are ignored). Flags applied afterwards override.
    pub fn from_tree(root: &Value) -> Result<AuthConfig> {
        let Value::Object(root) = root else {
            return error("", "expected the configuration to be a map");
        };
        let mut config = AuthConfig::default();
        let mut authorization_users = None;
        for (key, value) in root {
            match key.to_ascii_lowercase().as_str() {
                "authorization" => {
                    authorization_users = Some(read_authorization(value, &mut config)?)
                }
                "no_auth_user" => config.no_auth_user = Some(string(value, key)?),
                _ => {}
            }
        }
        // Accounts after authorization, whatever the key order: their checks look at it.
        for (key, value) in root {
            if key.eq_ignore_ascii_case("accounts") {
                read_accounts(value, &mut config)?;
            }
        }
        if let Some((users, nkeys)) = authorization_users {
            config.users.extend(users);
            config.nkey_users.extend(nkeys);
        }
        Ok(config)
    }
}

/// `authorization { ... }`; returns its users, added after the accounts' users.
fn read_authorization(
    value: &Value,
    config: &mut AuthConfig,
) -> Result<(Vec<User>, Vec<NkeyUser>)> {
    const PATH: &str = "authorization";
    let map = object(value, PATH)?;
    let mut users = None;
    let mut default_permissions = None;
    for (key, value) in map {
        let path = format!("{PATH}.{key}");
        match key.to_ascii_lowercase().as_str() {
            "user" | "username" => config.user = Some(string(value, &path)?),
            "pass" | "password" => config.password = Some(Secret(string(value, &path)?)),
            "token" => config.token = Some(Secret(string(value, &path)?)),
            "timeout" => config.timeout = Some(seconds(value, &path)?),
            "users" => users = Some(read_users(value, &path)?),
            "default_permission" | "default_permissions" | "permissions" => {
                default_permissions = Some(read_permissions(value, &path)?)
            }
            _ => return error(&path, format!("unknown field {key:?}")),
        }
    }
    let has_single = config.user.is_some() || config.password.is_some();
    if has_single && config.token.is_some() {
        return error(PATH, "Cannot have a user/pass and token");
    }
    if users
        .as_ref()
        .is_some_and(|(users, nkeys)| users.is_empty() && nkeys.is_empty())
    {
        // nats-server then requires auth that no client can pass; say so instead of either
        // locking everyone out silently or letting everyone in.
        return error(PATH, "an empty users list would refuse every client");
    }
    let (mut users, mut nkeys) = users.unwrap_or_default();
    if !users.is_empty() || !nkeys.is_empty() {
        if config.user.is_some() {
            return error(PATH, "Can not have a single user/pass and a users array");
        }
        if config.token.is_some() {
            return error(PATH, "Can not have a token and a users array");
        }
    }
    if let Some(default) = default_permissions {
        apply_default(&mut users, &mut nkeys, &default);
    }
    Ok((users, nkeys))
}

/// `accounts { NAME: { users, default_permissions } }` or `accounts: [NAME, ...]`.
fn read_accounts(value: &Value, config: &mut AuthConfig) -> Result<()> {
    const PATH: &str = "accounts";
    match value {
        Value::Array(names) => {
            for (index, name) in names.iter().enumerate() {
                config
                    .accounts
                    .push(string(name, &format!("{PATH}[{index}]"))?);
            }
            Ok(())
        }
        Value::Object(accounts) => {
            for (name, account) in accounts {
                read_account(name, account, config)?;
            }
            Ok(())
        }
        _ => error(
            PATH,
            "expected a map of accounts or a list of account names",
        ),
    }
}

fn read_account(name: &str, value: &Value, config: &mut AuthConfig) -> Result<()> {
    let path = format!("accounts.{name}");
    let map = object(value, &path).map_err(|_| TreeError {
        path: path.clone(),
        message: "Expected map entries for accounts".into(),
    })?;
    config.accounts.push(name.to_string());
    let mut users = Vec::new();
    let mut nkeys = Vec::new();
    let mut default_permissions = None;
    for (key, value) in map {
        let key_path = format!("{path}.{key}");
        match key.to_ascii_lowercase().as_str() {
            "users" => (users, nkeys) = read_users(value, &key_path)?,
            "default_permissions" => {
                default_permissions = Some(read_permissions(value, &key_path)?)
            }
            // The account's own public key: accepted, unused without operator mode.
            "nkey" => drop(string(value, &key_path)?),
            other @ ("imports" | "exports" | "jetstream" | "mappings" | "maps" | "limits") => {
                return error(
                    &key_path,
                    format!("{other} are not supported by ringmq yet"),
                )
            }
            _ => return error(&key_path, format!("unknown field {key:?}")),
        }
    }
    if !users.is_empty() || !nkeys.is_empty() {
        if config.user.is_some() {
            return error(&path, "Can not have a single user/pass and accounts");
        }
        if config.token.is_some() {
            return error(&path, "Can not have a token and accounts");
        }
    }
    if let Some(default) = default_permissions {
        apply_default(&mut users, &mut nkeys, &default);
    }
    for user in &mut users {
        user.account = Some(name.to_string());
    }
    for user in &mut nkeys {
        user.account = Some(name.to_string());
    }
    config.users.extend(users);
    config.nkey_users.extend(nkeys);
    Ok(())
}

/// `users: [ { user, password, permissions } | { nkey, permissions } ]`.
fn read_users(value: &Value, path: &str) -> Result<(Vec<User>, Vec<NkeyUser>)> {
    let Value::Array(entries) = value else {
        return error(path, "Expected users field to be an array");
    };
    let mut users = Vec::new();
    let mut nkeys = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let entry_path = format!("{path}[{index}]");
        let map = object(entry, &entry_path)?;
        let mut name = None;
        let mut password = None;
        let mut nkey = None;
        let mut permissions = None;
        for (key, value) in map {
            let key_path = format!("{entry_path}.{key}");
            match key.to_ascii_lowercase().as_str() {
                "user" | "username" => name = Some(string(value, &key_path)?),
                "pass" | "password" => password = Some(string(value, &key_path)?),
                "nkey" => nkey = Some(string(value, &key_path)?),
                "permission" | "permissions" | "authorization" => {
                    permissions = Some(read_permissions(value, &key_path)?)
                }
                // Only standard client connections exist in ringmq; the list is accepted.
                "allowed_connection_types" | "connection_types" | "clients" => {
                    drop(strings(value, &key_path)?)
                }
                _ => return error(&key_path, format!("unknown field {key:?}")),
            }
        }
        match (nkey, name) {
            (Some(_), Some(_)) | (Some(_), None) if password.is_some() => {
                return error(&entry_path, "Nkey users do not take usernames or passwords")
            }
            (Some(_), Some(_)) => {
                return error(&entry_path, "Nkey users do not take usernames or passwords")
            }
            (Some(public_key), None) => nkeys.push(NkeyUser {
                public_key,
                account: None,
                permissions,
            }),
            (None, Some(name)) => users.push(User {
                name,
                password: Secret(password.unwrap_or_default()),
                account: None,
                permissions,
            }),
            (None, None) => return error(&entry_path, "User entry requires a user"),
        }
    }
    Ok((users, nkeys))
}

/// `permissions { publish, subscribe, allow_responses }`.
fn read_permissions(value: &Value, path: &str) -> Result<Permissions> {
    let map = object(value, path)?;
    let mut permissions = Permissions::default();
    for (key, value) in map {
        let key_path = format!("{path}.{key}");
        match key.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => {
                permissions.publish = read_subject_permission(value, &key_path)?
            }
            "sub" | "subscribe" | "export" => {
                permissions.subscribe = read_subject_permission(value, &key_path)?
            }
            "publish_allow_responses" | "allow_responses" => {
                permissions.responses = read_responses(value, &key_path)?
            }
            _ => {
                return error(
                    &key_path,
                    format!("Unknown field {key:?} parsing permissions"),
                )
            }
        }
    }
    Ok(permissions)
}

/// A subject or list of subjects (allow), or `{ allow, deny }`; an empty map is no rule.
fn read_subject_permission(value: &Value, path: &str) -> Result<Option<SubjectPermission>> {
    let Value::Object(map) = value else {
        let allow = subjects(value, path)?;
        return Ok(Some(SubjectPermission {
            allow: (!allow.is_empty()).then_some(allow),
            deny: Vec::new(),
        }));
    };
    if map.is_empty() {
        return Ok(None);
    }
    let mut permission = SubjectPermission::default();
    for (key, value) in map {
        let key_path = format!("{path}.{key}");
        match key.to_ascii_lowercase().as_str() {
            "allow" => {
                let allow = subjects(value, &key_path)?;
                permission.allow = (!allow.is_empty()).then_some(allow);
            }
            "deny" => permission.deny = subjects(value, &key_path)?,
            _ => {
                return error(
                    &key_path,
                    format!(
                        "Unknown field name {key:?} parsing subject permissions, only \
                         'allow' or 'deny' are permitted"
                    ),
                )
            }
        }
    }
    Ok(Some(permission))
}

/// `allow_responses: true|false` or `{ max, expires }` (0 keeps a default; negative means
/// unlimited).
fn read_responses(value: &Value, path: &str) -> Result<Option<ResponsePermission>> {
    let map = match value {
        Value::Bool(true) => return Ok(Some(ResponsePermission::default())),
        Value::Bool(false) => return Ok(None),
        Value::Object(map) => map,
        _ => {
            return error(
                path,
                "error parsing response permissions, expected a boolean or a map",
            )
        }
    };
    let mut responses = ResponsePermission::default();
    for (key, value) in map {
        let key_path = format!("{path}.{key}");
        match key.to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                let Some(max) = value.as_i64() else {
                    return error(&key_path, "expected an integer");
                };
                if max < 0 {
                    responses.max_msgs = None;
                } else if max > 0 {
                    responses.max_msgs = Some(u32::try_from(max).unwrap_or(u32::MAX));
                }
            }
            "expires" | "expiration" | "ttl" => {
                let Value::String(text) = value else {
                    return error(&key_path, "error parsing expires, not a duration string");
                };
                match parse_duration(text) {
                    Some((negative, _)) if negative => responses.expires = None,
                    Some((_, ttl)) if !ttl.is_zero() => responses.expires = Some(ttl),
                    Some(_) => {}
                    None => {
                        return error(
                            &key_path,
                            format!("error parsing expires: invalid duration {text:?}"),
                        )
                    }
                }
            }
            _ => {
                return error(
                    &key_path,
                    format!("Unknown field {key:?} parsing permissions"),
                )
            }
        }
    }
    Ok(Some(responses))
}

fn apply_default(users: &mut [User], nkeys: &mut [NkeyUser], default: &Permissions) {
    for user in users.iter_mut().filter(|u| u.permissions.is_none()) {
        user.permissions = Some(default.clone());
    }
    for user in nkeys.iter_mut().filter(|u| u.permissions.is_none()) {
        user.permissions = Some(default.clone());
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        _ => error(path, "expected a map"),
    }
}

fn string(value: &Value, path: &str) -> Result<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        // nats config values are untyped words: `user: 1234` is a number to the parser but a
        // name to the operator.
        Value::Number(number) => Ok(number.to_string()),
        _ => error(path, "expected a string"),
    }
}

fn strings(value: &Value, path: &str) -> Result<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| string(item, &format!("{path}[{index}]")))
            .collect(),
        _ => Ok(vec![string(value, path)?]),
    }
}

/// A subject or a list of subjects ("Subject in permissions array cannot be cast to string").
fn subjects(value: &Value, path: &str) -> Result<Vec<String>> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.clone()),
                _ => error(
                    &format!("{path}[{index}]"),
                    "Subject in permissions array cannot be cast to string",
                ),
            })
            .collect(),
        _ => error(
            path,
            "Expected subject permissions to be a subject, or array of subjects",
        ),
    }
}

/// `timeout`: seconds as an integer or a fraction (nats-server), or a duration string.
fn seconds(value: &Value, path: &str) -> Result<Duration> {
    let parsed = match value {
        Value::Number(number) => number
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64),
        Value::String(text) => {
            parse_duration(text).and_then(|(negative, d)| (!negative).then_some(d))
        }
        _ => None,
    };
    match parsed {
        Some(duration) => Ok(duration),
        None => error(path, "expected a number of seconds"),
    }
}

/// Go's time.ParseDuration for the units configs use: `ns us µs ms s m h`, fractions and
/// sequences (`1h30m`, `1.5s`), a leading sign. Returns (negative, magnitude).
fn parse_duration(text: &str) -> Option<(bool, Duration)> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * nanos_per_unit;
    }
    Some((negative, Duration::from_nanos(total as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_error(tree: Value, expected: &str) {
        let error = AuthConfig::from_tree(&tree).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn single_user_token_and_timeout() {
        let config = AuthConfig::from_tree(&json!({
            "port": 4222,
            "authorization": { "user": "alice", "password": "secret", "timeout": 1 }
        }))
        .unwrap();
        assert_eq!(config.user.as_deref(), Some("alice"));
        assert_eq!(config.password, Some("secret".into()));
        assert_eq!(config.timeout, Some(Duration::from_secs(1)));
        assert!(config.is_enabled());

        let token = AuthConfig::from_tree(&json!({
            "authorization": { "token": "s3cr3t", "timeout": 0.5 }
        }))
        .unwrap();
        assert_eq!(token.token, Some("s3cr3t".into()));
        assert_eq!(token.timeout(), Duration::from_millis(500));

        let none = AuthConfig::from_tree(&json!({ "port": 4222 })).unwrap();
        assert!(!none.is_enabled());
        assert_eq!(none.timeout(), Duration::from_secs(2));
    }

    #[test]
    fn users_with_permissions_as_in_the_spec_example() {
        let config = AuthConfig::from_tree(&json!({
            "authorization": {
                "users": [
                    { "user": "bob", "password": "pw", "permissions": {
                        "publish": { "allow": ["ok.>"], "deny": ["ok.no"] },
                        "subscribe": { "deny": ["secret.>"] } } },
                    { "user": "svc", "password": "pw", "permissions": {
                        "publish": "svc.>", "subscribe": ["req.>", "work grp"],
                        "allow_responses": { "max": 3, "expires": "1m30s" } } },
                    { "nkey": "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK" }
                ]
            },
            "no_auth_user": "bob"
        }))
        .unwrap();
        assert_eq!(config.no_auth_user.as_deref(), Some("bob"));
        assert_eq!(config.users.len(), 2);
        assert_eq!(config.nkey_users.len(), 1);
        let bob = config.users[0].permissions.clone().unwrap();
        assert_eq!(
            bob.publish,
            Some(SubjectPermission {
                allow: Some(vec!["ok.>".into()]),
                deny: vec!["ok.no".into()],
            })
        );
        assert_eq!(
            bob.subscribe,
            Some(SubjectPermission {
                allow: None,
                deny: vec!["secret.>".into()],
            })
        );
        let svc = config.users[1].permissions.clone().unwrap();
        assert_eq!(svc.publish.unwrap().allow, Some(vec!["svc.>".into()]));
        assert_eq!(
            svc.subscribe.unwrap().allow,
            Some(vec!["req.>".into(), "work grp".into()])
        );
        assert_eq!(
            svc.responses,
            Some(ResponsePermission {
                max_msgs: Some(3),
                expires: Some(Duration::from_secs(90)),
            })
        );
        super::super::Authenticator::new(&config).unwrap();
    }

    #[test]
    fn allow_responses_forms() {
        let read = |value: Value| {
            let tree = json!({ "authorization": { "users": [
                { "user": "u", "password": "p", "permissions": { "allow_responses": value } }
            ] } });
            AuthConfig::from_tree(&tree).unwrap().users[0]
                .permissions
                .clone()
                .unwrap()
                .responses
        };
        assert_eq!(read(json!(true)), Some(ResponsePermission::default()));
        assert_eq!(read(json!(false)), None);
        assert_eq!(
            read(json!({ "max": -1, "ttl": "-1s" })),
            Some(ResponsePermission {
                max_msgs: None,
                expires: None,
            })
        );
        assert_eq!(
            read(json!({ "max": 0, "expires": "0" })),
            Some(ResponsePermission::default())
        );
    }

    #[test]
    fn accounts_map_list_and_default_permissions() {
        let config = AuthConfig::from_tree(&json!({
            "accounts": {
                "A": { "users": [ { "user": "a1", "password": "pw" } ],
                       "default_permissions": { "publish": ["a.>"] } },
                "B": { "users": [ { "user": "b1", "password": "pw",
                                    "permissions": { "publish": ["b.>"] } } ] }
            },
            "authorization": { "users": [ { "user": "g1", "password": "pw" } ], "timeout": 3 },
            "no_auth_user": "a1"
        }))
        .unwrap();
        assert_eq!(config.accounts, vec!["A".to_string(), "B".to_string()]);
        let names: Vec<_> = config
            .users
            .iter()
            .map(|u| (u.name.as_str(), u.account.as_deref()))
            .collect();
        assert_eq!(names, [("a1", Some("A")), ("b1", Some("B")), ("g1", None)]);
        assert_eq!(
            config.users[0].permissions.as_ref().unwrap().publish,
            Some(SubjectPermission {
                allow: Some(vec!["a.>".into()]),
                deny: vec![],
            })
        );
        assert_eq!(
            config.users[1]
                .permissions
                .as_ref()
                .unwrap()
                .publish
                .as_ref()
                .unwrap()
                .allow,
            Some(vec!["b.>".into()])
        );
        let auth = super::super::Authenticator::new(&config).unwrap();
        assert_eq!(auth.account_count(), 3);

        let listed = AuthConfig::from_tree(&json!({ "accounts": ["X", "Y"] })).unwrap();
        assert_eq!(listed.accounts, vec!["X".to_string(), "Y".to_string()]);
        assert!(!listed.is_enabled());
    }

    #[test]
    fn structural_errors_name_the_key() {
        check_error(
            json!({ "authorization": { "user": "a", "password": "b", "token": "t" } }),
            "authorization: Cannot have a user/pass and token",
        );
        check_error(
            json!({ "authorization": { "user": "a", "users": [ { "user": "b" } ] } }),
            "authorization: Can not have a single user/pass and a users array",
        );
        check_error(
            json!({ "authorization": { "users": [ { "password": "b" } ] } }),
            "authorization.users[0]: User entry requires a user",
        );
        check_error(
            json!({ "authorization": { "users": [ { "nkey": "UX", "user": "b" } ] } }),
            "authorization.users[0]: Nkey users do not take usernames or passwords",
        );
        check_error(
            json!({ "authorization": { "users": [] } }),
            "authorization: an empty users list would refuse every client",
        );
        check_error(
            json!({ "authorization": { "bogus": 1 } }),
            "authorization.bogus: unknown field \"bogus\"",
        );
        check_error(
            json!({ "authorization": { "users": [ { "user": "u", "permissions": {
                "publish": { "allow": ["a"], "other": ["b"] } } } ] } }),
            "authorization.users[0].permissions.publish.other: Unknown field name \"other\" \
             parsing subject permissions, only 'allow' or 'deny' are permitted",
        );
        check_error(
            json!({ "authorization": { "users": [ { "user": "u", "permissions": {
                "publish": [1] } } ] } }),
            "authorization.users[0].permissions.publish[0]: Subject in permissions array \
             cannot be cast to string",
        );
        check_error(
            json!({ "authorization": { "token": "t" },
                    "accounts": { "A": { "users": [ { "user": "a" } ] } } }),
            "accounts.A: Can not have a token and accounts",
        );
        check_error(
            json!({ "accounts": { "A": 5 } }),
            "accounts.A: Expected map entries for accounts",
        );
        check_error(
            json!({ "accounts": { "A": { "exports": [] } } }),
            "accounts.A.exports: exports are not supported by ringmq yet",
        );
    }

    #[test]
    fn durations_parse_like_go() {
        let cases = [
            ("2m", Some((false, Duration::from_secs(120)))),
            ("1.5s", Some((false, Duration::from_millis(1500)))),
            ("1h30m", Some((false, Duration::from_secs(5400)))),
            ("500ms", Some((false, Duration::from_millis(500)))),
            ("-1s", Some((true, Duration::from_secs(1)))),
            ("0", Some((false, Duration::ZERO))),
            ("10", None),
            ("", None),
            ("1x", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), expected, "{text}");
        }
    }
}
