//! A stream's configuration as nats-server 2.9.10 reads it (unknown fields ignored, `null`
//! as the zero value, a bad enum value is a JSON error → 10025), fills its defaults
//! (`checkStreamCfg`), checks it, and echoes it (its field order and omissions).
//! Checks that need other streams (subjects overlapping another stream's, 10065; a name
//! already in use, 10058) are the broker's; [`StreamConfig::same_as`] tells 10058 apart
//! from an idempotent create.

use super::errors::{ApiError, ErrorId};
use super::json::null_default as nd;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest stream or consumer name (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest description (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// `duplicate_window` when not given (and no `max_age` shorter than it).
pub const DEFAULT_DUPLICATE_WINDOW_NS: i64 = 120_000_000_000;
/// Most replicas a stream may ask for (more than 1 is refused without clustering anyway).
pub const MAX_REPLICAS: i64 = 5;
const MIN_WINDOW_NS: i64 = 100_000_000;

macro_rules! go_enum {
    ($(#[$m:meta])* $name:ident, $ci:expr, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub enum $name { #[default] $($variant),+ }
        impl $name {
            /// The JSON text.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                let s = String::deserialize(de)?;
                let s = if $ci { s.to_ascii_lowercase() } else { s };
                match s.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(serde::de::Error::custom("can not unmarshal")),
                }
            }
        }
    };
}
pub(crate) use go_enum;

go_enum!(
    /// `retention`.
    Retention, false, { Limits = "limits", Interest = "interest", WorkQueue = "workqueue" });
go_enum!(
    /// `discard` (nats-server reads it case-insensitively).
    Discard, true, { Old = "old", New = "new" });
go_enum!(
    /// `storage`.
    Storage, false, { File = "file", Memory = "memory" });

/// A stream configuration; fields in nats-server's JSON order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subjects: Vec<String>,
    /// Go reads `null` into an enum with its own decoder, which refuses it.
    #[serde(default)]
    pub retention: Retention,
    #[serde(default, deserialize_with = "nd")]
    pub max_consumers: i64,
    #[serde(default, deserialize_with = "nd")]
    pub max_msgs: i64,
    #[serde(default, deserialize_with = "nd")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 = forever.
    #[serde(default, deserialize_with = "nd")]
    pub max_age: i64,
    #[serde(default, deserialize_with = "nd")]
    pub max_msgs_per_subject: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero_i32")]
    pub max_msg_size: i32,
    #[serde(default)]
    pub discard: Discard,
    /// `None` until defaults are filled (nats-server's zero StorageType means "file").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    #[serde(default, deserialize_with = "nd")]
    pub num_replicas: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_false")]
    pub no_ack: bool,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub template_owner: String,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(default, deserialize_with = "nd")]
    pub allow_direct: bool,
    #[serde(default, deserialize_with = "nd")]
    pub mirror_direct: bool,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    #[serde(default, deserialize_with = "nd")]
    pub sealed: bool,
    #[serde(default, deserialize_with = "nd")]
    pub deny_delete: bool,
    #[serde(default, deserialize_with = "nd")]
    pub deny_purge: bool,
    #[serde(default, deserialize_with = "nd")]
    pub allow_rollup_hdrs: bool,
    /// Per-message TTL (`Nats-TTL`), nats-server 2.11's option. Echoed only when set, so
    /// streams without it are byte-identical to 2.9.10's.
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_false")]
    pub allow_msg_ttl: bool,
    /// `mirror`/`sources`/`placement`/`republish` are not supported: set when the request
    /// carried any of them (non-null), for the broker to refuse; never echoed.
    #[serde(skip)]
    pub unsupported: Option<&'static str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// Stream names: non-empty, no whitespace, `.`, `*` or `>` (nats-server's `isValidName`).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains([' ', '\t', '\r', '\n', '\u{c}', '.', '*', '>'])
}

impl StreamConfig {
    /// Reads a request body. Any JSON error (including an empty body and a bad enum value)
    /// is 10025 `invalid JSON`, as nats-server answers.
    pub fn parse(body: &[u8]) -> Result<StreamConfig, ApiError> {
        let mut cfg: StreamConfig =
            serde_json::from_slice(body).map_err(|_| ApiError::new(ErrorId::InvalidJSON))?;
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
            cfg.unsupported = ["mirror", "sources", "placement", "republish"]
                .into_iter()
                .find(|k| map.get(*k).is_some_and(|v| !v.is_null()));
        }
        Ok(cfg)
    }

    /// nats-server's create-request checks before the configuration's own
    /// (`jsStreamCreateRequest`): the name in the subject (10056), path separators (10128),
    /// sealed on create, mirror_direct without a mirror (10052).
    pub fn check_create_request(&self, subject_name: &str) -> Result<(), ApiError> {
        if subject_name != self.name {
            return Err(ApiError::new(ErrorId::StreamMismatch));
        }
        if subject_name.contains(['\\', '/']) {
            return Err(ApiError::new(ErrorId::StreamNameContainsPathSeparators));
        }
        if self.sealed {
            return Err(ApiError::invalid_stream_config(
                "stream configuration for create can not be sealed",
            ));
        }
        if self.mirror_direct {
            return Err(ApiError::invalid_stream_config(
                "stream has no mirror but does have mirror direct",
            ));
        }
        Ok(())
    }

    /// Defaults filled and the configuration checked (`checkStreamCfg`, then the
    /// non-clustered replicas check of `addStream`): the configuration to store and echo.
    pub fn checked(&self) -> Result<StreamConfig, ApiError> {
        let bad = ApiError::invalid_stream_config;
        if !is_valid_name(&self.name) {
            return Err(bad(
                "stream name is required and can not contain '.', '*', '>'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(bad(&format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(bad(&format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let mut c = self.clone();
        c.storage.get_or_insert(Storage::File);
        if c.num_replicas == 0 {
            c.num_replicas = 1;
        }
        if c.num_replicas > MAX_REPLICAS {
            return Err(bad(&format!("maximum replicas is {MAX_REPLICAS}")));
        }
        if c.num_replicas < 0 {
            return Err(ApiError::new(ErrorId::ReplicasCountCannotBeNegative));
        }
        for v in [
            &mut c.max_msgs,
            &mut c.max_msgs_per_subject,
            &mut c.max_bytes,
            &mut c.max_consumers,
        ] {
            if *v == 0 {
                *v = -1;
            }
        }
        if c.max_msg_size == 0 {
            c.max_msg_size = -1;
        }
        if c.duplicate_window == 0 {
            c.duplicate_window = if c.max_age != 0 && c.max_age < DEFAULT_DUPLICATE_WINDOW_NS {
                c.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW_NS
            };
        }
        if c.max_age > 0 && c.max_age < MIN_WINDOW_NS {
            return Err(bad("max age needs to be >= 100ms"));
        }
        if c.duplicate_window < 0 {
            return Err(bad("duplicates window can not be negative"));
        }
        if c.max_age != 0 && c.duplicate_window > c.max_age {
            return Err(bad("duplicates window can not be larger then max age"));
        }
        if c.duplicate_window > 0 && c.duplicate_window < MIN_WINDOW_NS {
            return Err(bad("duplicates window needs to be >= 100ms"));
        }
        if c.deny_purge && c.allow_rollup_hdrs {
            return Err(bad("roll-ups require the purge permission"));
        }
        c.check_discard_new_per()?;
        if c.subjects.is_empty() {
            c.subjects.push(c.name.clone());
        } else {
            for (i, subj) in c.subjects.iter().enumerate() {
                if c.subjects[..i].contains(subj) {
                    return Err(bad("duplicate subjects detected"));
                }
                if subset_match(subj, "$JS.API.>") {
                    return Err(bad("subjects overlap with jetstream api"));
                }
                if !crate::subjects::is_valid_pattern(subj.as_bytes()) {
                    return Err(bad("invalid subject"));
                }
            }
        }
        for subj in &c.subjects {
            for other in &c.subjects {
                if other != subj && subjects_collide(other, subj) {
                    return Err(bad(&format!("subject {subj:?} overlaps with {other:?}")));
                }
            }
        }
        if c.num_replicas > 1 {
            return Err(ApiError::new(ErrorId::StreamReplicasNotSupported));
        }
        Ok(c)
    }

    fn check_discard_new_per(&self) -> Result<(), ApiError> {
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(ApiError::invalid_stream_config(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(ApiError::invalid_stream_config(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        Ok(())
    }

    /// True when a create of `self` (checked) on an existing stream configured `old` is the
    /// idempotent success rather than 10058.
    pub fn same_as(&self, old: &StreamConfig) -> bool {
        self == old
    }

    /// An update's configuration (`configUpdateCheck`): `self` is the request, `old` the
    /// stored configuration. Call after [`StreamConfig::check_create_request`]'s name
    /// check (10056) and the stream lookup (10059).
    pub fn checked_update(&self, old: &StreamConfig) -> Result<StreamConfig, ApiError> {
        let mut c = self.checked()?;
        let bad = ApiError::invalid_stream_config;
        if c.name != old.name {
            return Err(bad("stream configuration name must match original"));
        }
        if c.max_consumers != old.max_consumers {
            return Err(bad(
                "stream configuration update can not change MaxConsumers",
            ));
        }
        if c.storage != old.storage {
            return Err(bad(
                "stream configuration update can not change storage type",
            ));
        }
        if c.retention != old.retention {
            return Err(bad(
                "stream configuration update can not change retention policy",
            ));
        }
        if !c.sealed && old.sealed {
            return Err(bad(
                "stream configuration update can not unseal a sealed stream",
            ));
        }
        if !c.deny_delete && old.deny_delete {
            return Err(bad(
                "stream configuration update can not cancel deny message deletes",
            ));
        }
        if !c.deny_purge && old.deny_purge {
            return Err(bad("stream configuration update can not cancel deny purge"));
        }
        c.check_discard_new_per()?;
        if c.sealed {
            c.max_age = 0;
            c.discard = Discard::New;
            c.deny_delete = true;
            c.deny_purge = true;
            c.allow_rollup_hdrs = false;
        }
        Ok(c)
    }
}

/// Whether two subject patterns can match a common subject (nats-server's `SubjectsCollide`).
pub fn subjects_collide(a: &str, b: &str) -> bool {
    let (ta, tb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let (fa, fb) = (ta.last() == Some(&">"), tb.last() == Some(&">"));
    if (ta.len() < tb.len() && !fa) || (tb.len() < ta.len() && !fb) {
        return false;
    }
    for (x, y) in ta.iter().zip(tb.iter()) {
        if *x == ">" || *y == ">" {
            return true;
        }
        if *x != "*" && *y != "*" && x != y {
            return false;
        }
    }
    true
}

/// Whether every subject `subject` matches is also matched by `test`
/// (nats-server's `subjectIsSubsetMatch`): `orders.a` ⊂ `orders.*` ⊂ `orders.>`.
pub fn subset_match(subject: &str, test: &str) -> bool {
    let (ts, tt): (Vec<&str>, Vec<&str>) =
        (subject.split('.').collect(), test.split('.').collect());
    for (i, t) in tt.iter().enumerate() {
        if *t == ">" {
            return i < ts.len();
        }
        let Some(s) = ts.get(i) else { return false };
        if *t == "*" {
            if *s == ">" {
                return false;
            }
        } else if s != t {
            return false;
        }
    }
    ts.len() == tt.len()
}

#[cfg(test)]
#[path = "stream_config_tests.rs"]
mod tests;
