//! A consumer's configuration as nats-server 2.9.10 reads, defaults (`setConsumerConfigDefaults`),
//! checks (`checkConsumerCfg`, and the create handler's subject/body consistency checks)
//! and echoes it. Checks needing live state (the consumer count, the workqueue
//! uniqueness, whether a push consumer's deliver subject has interest) are the broker's.

use super::errors::{ApiError, ErrorId};
use super::json::{null_default as nd, GoTime};
use super::stream_config::{
    go_enum, is_valid_name, subset_match, Retention, StreamConfig, MAX_DESCRIPTION_LEN,
    MAX_NAME_LEN,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `ack_wait` when not given and acks are on (30 s).
pub const DEFAULT_ACK_WAIT_NS: i64 = 30_000_000_000;
/// `max_ack_pending` when not given and acks are on.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// `max_waiting` for a pull consumer when not given (`JSWaitQueueDefaultMax`).
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// `inactive_threshold` stamped on ephemerals that set none (5 s).
pub const DEFAULT_INACTIVE_THRESHOLD_NS: i64 = 5_000_000_000;
const MIN_HEARTBEAT_NS: i64 = 100_000_000;

go_enum!(
    /// `deliver_policy` (`undefined` reads as `all`).
    DeliverPolicy, false, { All = "all", Last = "last", New = "new", ByStartSequence = "by_start_sequence",
        ByStartTime = "by_start_time", LastPerSubject = "last_per_subject", Undefined = "undefined" });
go_enum!(
    /// `ack_policy`. Go's zero value is `none`.
    AckPolicy, false, { None = "none", All = "all", Explicit = "explicit" });
go_enum!(
    /// `replay_policy`.
    ReplayPolicy, false, { Instant = "instant", Original = "original" });

/// A consumer configuration; fields in nats-server's JSON order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub durable_name: String,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<GoTime>,
    #[serde(default)]
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub ack_wait: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub max_deliver: i64,
    /// Nanoseconds each.
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub backoff: Vec<i64>,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter_subject: String,
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_freq: String,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub max_waiting: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub idle_heartbeat: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub max_batch: i64,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub max_expires: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub max_bytes: i64,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_subject: String,
    #[serde(
        default,
        deserialize_with = "nd",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_group: String,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    #[serde(default, deserialize_with = "nd")]
    pub num_replicas: i64,
    #[serde(default, deserialize_with = "nd", skip_serializing_if = "is_false")]
    pub mem_storage: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// A consumer-create request body: `{"stream_name":…,"config":{…}}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CreateConsumerRequest {
    #[serde(default, deserialize_with = "nd")]
    pub stream_name: String,
    #[serde(default)]
    pub config: ConsumerConfig,
}

/// Which create subject a request came on (§A.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateForm {
    /// `$JS.API.CONSUMER.CREATE.<stream>`: ephemeral (or named by `config.name`).
    LegacyEphemeral,
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<consumer>`.
    LegacyDurable { consumer: String },
    /// `$JS.API.CONSUMER.CREATE.<stream>.<consumer>[.<filter>]` (2.9.0).
    Named {
        consumer: String,
        filter: Option<String>,
    },
}

impl CreateConsumerRequest {
    /// Reads the body; any JSON error, an empty body included, is 10025.
    pub fn parse(body: &[u8]) -> Result<CreateConsumerRequest, ApiError> {
        serde_json::from_slice(body).map_err(|_| ApiError::new(ErrorId::InvalidJSON))
    }

    /// The create handler's checks in nats-server's order (10056 stream mismatch, 10127
    /// path separators, 10018/10017 durable, 10020 ephemeral with durable, 10131 filter,
    /// 10074 replicas); on success the configuration carries the subject's name as
    /// `name` for the named form. Then: stream lookup (10059), [`ConsumerConfig::checked`].
    pub fn check_subject(
        mut self,
        stream: &str,
        form: &CreateForm,
    ) -> Result<ConsumerConfig, ApiError> {
        if stream != self.stream_name {
            return Err(ApiError::new(ErrorId::StreamMismatch));
        }
        let cfg = &mut self.config;
        match form {
            CreateForm::LegacyDurable { consumer } | CreateForm::Named { consumer, .. }
                if consumer.contains(['\\', '/']) =>
            {
                return Err(ApiError::new(ErrorId::ConsumerNameContainsPathSeparators));
            }
            CreateForm::LegacyDurable { consumer } => {
                if cfg.durable_name.is_empty() {
                    return Err(ApiError::new(ErrorId::ConsumerDurableNameNotSet));
                }
                if *consumer != cfg.durable_name {
                    return Err(ApiError::new(ErrorId::ConsumerDurableNameNotMatchSubject));
                }
            }
            CreateForm::Named { consumer, .. } => {
                if !cfg.durable_name.is_empty() && *consumer != cfg.durable_name {
                    return Err(ApiError::new(ErrorId::ConsumerDurableNameNotMatchSubject));
                }
                cfg.name = consumer.clone();
            }
            CreateForm::LegacyEphemeral => {
                if !cfg.durable_name.is_empty() {
                    return Err(ApiError::new(ErrorId::ConsumerEphemeralWithDurableName));
                }
            }
        }
        if let CreateForm::Named {
            filter: Some(f), ..
        } = form
        {
            if *f != cfg.filter_subject {
                return Err(ApiError::new(ErrorId::ConsumerCreateFilterSubjectMismatch));
            }
        }
        if cfg.num_replicas > 1 {
            return Err(ApiError::new(ErrorId::StreamReplicasNotSupported));
        }
        Ok(self.config)
    }
}

impl ConsumerConfig {
    /// Whether this is a push consumer.
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// The consumer's name: `durable_name`, else `name`; `None` when the server must
    /// invent one (8 characters, as nats-server's `createConsumerName`).
    pub fn given_name(&self) -> Option<&str> {
        [&self.durable_name, &self.name]
            .into_iter()
            .find(|n| !n.is_empty())
            .map(String::as_str)
    }

    /// Defaults filled and checked against the stream (`setConsumerConfigDefaults`,
    /// `checkConsumerCfg`, the name rules of `addConsumer`): the configuration to store and
    /// echo. An ephemeral without a name gets `name` set by the broker afterwards.
    pub fn checked(&self, stream: &StreamConfig) -> Result<ConsumerConfig, ApiError> {
        let mut c = self.clone();
        let acks = matches!(c.ack_policy, AckPolicy::Explicit | AckPolicy::All);
        if !c.is_push() && c.max_waiting == 0 {
            c.max_waiting = DEFAULT_MAX_WAITING;
        }
        if c.ack_wait == 0 && acks {
            c.ack_wait = DEFAULT_ACK_WAIT_NS;
        }
        if c.max_deliver == 0 {
            c.max_deliver = -1;
        }
        if let Some(first) = c.backoff.first() {
            c.ack_wait = *first;
        }
        if acks && c.max_ack_pending == 0 {
            c.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        if c.deliver_policy == DeliverPolicy::Undefined {
            c.deliver_policy = DeliverPolicy::All;
        }
        c.check(stream)?;
        if c.durable_name.is_empty() && c.inactive_threshold <= 0 {
            c.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD_NS;
        }
        if let Some(name) = c.given_name() {
            if !c.durable_name.is_empty() && name.len() > MAX_NAME_LEN {
                return Err(ApiError::with(
                    ErrorId::ConsumerNameTooLong,
                    &[("{max}", &MAX_NAME_LEN.to_string())],
                ));
            }
            if !is_valid_name(name) {
                return Err(ApiError::new(ErrorId::ConsumerBadDurableName));
            }
        }
        Ok(c)
    }

    fn check(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        let e = ApiError::new;
        if self.num_replicas > 0 && self.num_replicas > stream.num_replicas {
            return Err(e(ErrorId::ConsumerReplicasExceedsStream));
        }
        if self.num_replicas < 0 {
            return Err(e(ErrorId::ReplicasCountCannotBeNegative));
        }
        if !self.backoff.is_empty() && self.max_deliver <= self.backoff.len() as i64 {
            return Err(e(ErrorId::ConsumerMaxDeliverBackoff));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::with(
                ErrorId::ConsumerDescriptionTooLong,
                &[("{max}", &MAX_DESCRIPTION_LEN.to_string())],
            ));
        }
        if self.is_push() {
            let d = &self.deliver_subject;
            if d.split('.').any(|t| t == "*" || t == ">") {
                return Err(e(ErrorId::ConsumerDeliverToWildcards));
            }
            if !crate::subjects::is_valid_pattern(d.as_bytes()) {
                return Err(e(ErrorId::ConsumerInvalidDeliverSubject));
            }
            if stream.subjects.iter().any(|s| subset_match(d, s)) {
                return Err(e(ErrorId::ConsumerDeliverCycle));
            }
            if self.max_waiting != 0 {
                return Err(e(ErrorId::ConsumerPushMaxWaiting));
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(e(ErrorId::ConsumerMaxPendingAckPolicyRequired));
            }
            if self.idle_heartbeat > 0 && self.idle_heartbeat < MIN_HEARTBEAT_NS {
                return Err(e(ErrorId::ConsumerSmallHeartbeat));
            }
        } else {
            if self.ack_policy == AckPolicy::None && stream.retention == Retention::WorkQueue {
                return Err(e(ErrorId::ConsumerPullRequiresAck));
            }
            if self.rate_limit_bps > 0 {
                return Err(e(ErrorId::ConsumerPullWithRateLimit));
            }
            if self.max_waiting < 0 {
                return Err(e(ErrorId::ConsumerMaxWaitingNegative));
            }
            if self.idle_heartbeat > 0 {
                return Err(e(ErrorId::ConsumerHBRequiresPush));
            }
            if self.flow_control {
                return Err(e(ErrorId::ConsumerFCRequiresPush));
            }
            if self.max_batch < 0 {
                return Err(e(ErrorId::ConsumerMaxRequestBatchNegative));
            }
            if self.max_expires != 0 && self.max_expires < 1_000_000 {
                return Err(e(ErrorId::ConsumerMaxRequestExpiresToSmall));
            }
        }
        // As nats-server 2.9.10: the filter lies within a stream subject, or, when it has a
        // wildcard, takes in a whole stream subject (`>` on a stream of `events.>`, what the
        // JavaScript client's ordered consumers ask for).
        let filter = self.filter_subject.as_str();
        let wildcard = filter.split('.').any(|t| t == "*" || t == ">");
        if !filter.is_empty()
            && !stream
                .subjects
                .iter()
                .any(|s| subset_match(filter, s) || (wildcard && subset_match(s, filter)))
        {
            return Err(e(ErrorId::ConsumerFilterNotSubset));
        }
        self.check_start()?;
        if !self.sample_freq.is_empty() {
            let s = self.sample_freq.trim_end_matches('%');
            if s.parse::<i64>().map_or(true, |n| n < 0) {
                return Err(ApiError::text(
                    ErrorId::ConsumerInvalidSampling,
                    "invalid sample frequency",
                ));
            }
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(e(ErrorId::ConsumerWithFlowControlNeedsHeartbeats));
        }
        if !self.durable_name.is_empty() && !self.name.is_empty() && self.name != self.durable_name
        {
            return Err(e(ErrorId::ConsumerCreateDurableAndNameMismatch));
        }
        Ok(())
    }

    fn check_start(&self) -> Result<(), ApiError> {
        let bad = |s: String| Err(ApiError::text(ErrorId::ConsumerInvalidPolicy, &s));
        let bad_start = |dp: &str, start: &str| {
            bad(format!(
                "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
            ))
        };
        let not_set = |dp: &str, what: &str| {
            bad(format!(
                "consumer delivery policy is deliver {dp}, but optional {what} is not set"
            ))
        };
        let (seq, time) = (self.opt_start_seq > 0, self.opt_start_time.is_some());
        let dp = match self.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Undefined => "all",
            DeliverPolicy::Last => "last",
            DeliverPolicy::LastPerSubject => "last per subject",
            DeliverPolicy::New => "new",
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return not_set("by start sequence", "start sequence");
                }
                return if time {
                    bad_start("by start sequence", "time")
                } else {
                    Ok(())
                };
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return not_set("by start time", "start time");
                }
                return if seq {
                    bad_start("by start time", "start sequence")
                } else {
                    Ok(())
                };
            }
        };
        if seq {
            return bad_start(dp, "sequence");
        }
        if time {
            return bad_start(dp, "time");
        }
        if self.deliver_policy == DeliverPolicy::LastPerSubject && self.filter_subject.is_empty() {
            return not_set(dp, "filter subject");
        }
        Ok(())
    }

    /// Whether a create on an existing consumer configured `old` may update it
    /// (`checkNewConsumerConfig`): `Ok` to apply `self` (checked), else 10012 with
    /// nats-server's text. `deliver_subject_has_interest` is asked only when a push
    /// consumer's deliver subject changes (then 10013).
    pub fn check_update(
        &self,
        old: &ConsumerConfig,
        deliver_subject_has_interest: impl FnOnce() -> bool,
    ) -> Result<(), ApiError> {
        if self == old {
            return Ok(());
        }
        let no = |s: &str| Err(ApiError::text(ErrorId::ConsumerCreate, s));
        let changed = [
            (
                self.deliver_policy != old.deliver_policy,
                "deliver policy can not be updated",
            ),
            (
                self.opt_start_seq != old.opt_start_seq,
                "start sequence can not be updated",
            ),
            (
                self.opt_start_time != old.opt_start_time,
                "start time can not be updated",
            ),
            (
                self.ack_policy != old.ack_policy,
                "ack policy can not be updated",
            ),
            (
                self.replay_policy != old.replay_policy,
                "replay policy can not be updated",
            ),
            (
                self.idle_heartbeat != old.idle_heartbeat,
                "heart beats can not be updated",
            ),
            (
                self.flow_control != old.flow_control,
                "flow control can not be updated",
            ),
            (
                self.max_waiting != old.max_waiting,
                "max waiting can not be updated",
            ),
        ];
        if let Some((_, text)) = changed.iter().find(|(c, _)| *c) {
            return no(text);
        }
        if self.deliver_subject != old.deliver_subject {
            if old.deliver_subject.is_empty() {
                return no("can not update pull consumer to push based");
            }
            if self.deliver_subject.is_empty() {
                return no("can not update push consumer to pull based");
            }
            if deliver_subject_has_interest() {
                return Err(ApiError::new(ErrorId::ConsumerNameExist));
            }
        }
        if !self.backoff.is_empty() && self.max_deliver <= self.backoff.len() as i64 {
            return Err(ApiError::new(ErrorId::ConsumerMaxDeliverBackoff));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "consumer_config_tests.rs"]
mod tests;
