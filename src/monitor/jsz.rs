//! /jsz and the /varz `jetstream` section in nats-server 2.9.10's layout (its `JSInfo`,
//! `AccountDetail`, `StreamDetail`, `JetStreamVarz`): field names and order, `omitempty`.
//!
//! Pure, like the rest of `monitor`: a stream's configuration, state and consumers are
//! JetStream's own documents, so the types here take them as type parameters and the
//! broker fills them in; nothing of `jetstream` is imported.

use super::document::{to_go_json, Time};
use super::http::Response;
use super::query::JszOptions;
use serde::Serialize;

/// nats-server's answer to `leader-only` from a server that is not the meta leader
/// (without JetStream, every server).
pub const NOT_LEADER: &str = "filtered response: not leader";

/// `config`: the service's limits and where it stores (`JetStreamConfig`). Zero limits
/// and nothing else when JetStream is off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JetStreamConfig {
    pub max_memory: i64,
    pub max_storage: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub store_dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `api`: requests answered and how many of them were errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApiStats {
    pub total: u64,
    pub errors: u64,
}

/// The usage block (`JetStreamStats`), server-wide in /jsz and /varz and per account in
/// `account_details` (where `accounts` and `ha_assets` stay 0, as in nats-server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JetStreamStats {
    /// Bytes held by memory streams.
    pub memory: u64,
    /// Bytes held by file streams.
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    /// Raft groups: none without clustering.
    pub ha_assets: usize,
    pub api: ApiStats,
}

/// The /varz `jetstream` section: `{}` when JetStream is off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JetStreamVarz {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<JetStreamConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<JetStreamStats>,
}

/// Sums over every stream of every account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
}

/// A stream's `cluster` block: on a standalone server the leader is the server itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
}

/// One entry of `consumer_detail` (nats-server's `ConsumerInfo`, its `config` only with
/// `config=true`); `Seq` is the `{consumer_seq, stream_seq, last_active}` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerDetail<Config, Seq> {
    pub stream_name: String,
    pub name: String,
    pub created: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    pub delivered: Seq,
    pub ack_floor: Seq,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub push_bound: bool,
}

/// One entry of `stream_detail`. ringmq has no mirrors or sources: nats-server omits both
/// then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamDetail<Config, State, Consumer> {
    pub name: String,
    pub created: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    pub state: State,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumer_detail: Vec<Consumer>,
}

/// One entry of `account_details`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountDetail<Stream> {
    pub name: String,
    pub id: String,
    #[serde(flatten)]
    pub stats: JetStreamStats,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stream_detail: Vec<Stream>,
}

/// The /jsz document.
#[derive(Serialize)]
struct Jsz<'a, Stream> {
    server_id: &'a str,
    now: Time,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    config: &'a JetStreamConfig,
    #[serde(flatten)]
    stats: JetStreamStats,
    streams: usize,
    consumers: usize,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    account_details: &'a [AccountDetail<Stream>],
}

/// What a server with JetStream reports (the details already chosen by [`select_accounts`]).
pub struct Service<'a, Stream> {
    pub config: &'a JetStreamConfig,
    pub stats: JetStreamStats,
    pub totals: Totals,
    pub details: &'a [AccountDetail<Stream>],
}

/// /jsz of a server without JetStream: `disabled`, zero limits and counts; with
/// `leader-only`, nats-server's 400.
pub fn jsz_disabled(server_id: &str, now: i64, options: &JszOptions) -> Response {
    if options.leader_only {
        return Response::bad_query(NOT_LEADER.to_string());
    }
    Response::json(to_go_json(&Jsz::<()> {
        server_id,
        now: Time(now),
        disabled: true,
        config: &JetStreamConfig::default(),
        stats: JetStreamStats::default(),
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        account_details: &[],
    }))
}

/// /jsz of a server with JetStream (standalone: always the leader, so `leader-only`
/// changes nothing).
pub fn jsz<Stream: Serialize>(server_id: &str, now: i64, service: &Service<Stream>) -> Response {
    Response::json(to_go_json(&Jsz {
        server_id,
        now: Time(now),
        disabled: false,
        config: service.config,
        stats: service.stats,
        streams: service.totals.streams,
        consumers: service.totals.consumers,
        messages: service.totals.messages,
        bytes: service.totals.bytes,
        account_details: service.details,
    }))
}

/// The JetStream accounts whose details /jsz lists, as nats-server picks them: `acc`
/// naming one of them wins alone; otherwise, with `accounts`, the list (sorted by name
/// when an offset is given; ringmq's is sorted anyway) from `offset`, at most `limit`;
/// otherwise none.
pub fn select_accounts(mut names: Vec<String>, options: &JszOptions) -> Vec<String> {
    if let Some(index) = names.iter().position(|name| *name == options.account) {
        return vec![names.swap_remove(index)];
    }
    if !options.accounts {
        return Vec::new();
    }
    names.sort();
    names
        .into_iter()
        .skip(options.offset)
        .take(options.limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::query::{route, Endpoint};

    fn options(query: &str) -> JszOptions {
        match route("/jsz", query) {
            Ok(Endpoint::Jsz(options)) => options,
            other => panic!("{other:?}"),
        }
    }

    fn body(response: &Response) -> String {
        String::from_utf8(response.body.clone()).unwrap()
    }

    const NOW: i64 = 1_796_000_000_123_456_789;

    #[test]
    fn disabled_is_zeros_and_refuses_leader_only() {
        let response = jsz_disabled("ID", NOW, &options("accounts=1"));
        assert_eq!(response.status, 200);
        assert_eq!(
            body(&response),
            "{\n  \"server_id\": \"ID\",\n  \"now\": \"2026-11-30T00:53:20.123456789Z\",\n  \
             \"disabled\": true,\n  \"config\": {\n    \"max_memory\": 0,\n    \
             \"max_storage\": 0\n  },\n  \"memory\": 0,\n  \"storage\": 0,\n  \
             \"reserved_memory\": 0,\n  \"reserved_storage\": 0,\n  \"accounts\": 0,\n  \
             \"ha_assets\": 0,\n  \"api\": {\n    \"total\": 0,\n    \"errors\": 0\n  },\n  \
             \"streams\": 0,\n  \"consumers\": 0,\n  \"messages\": 0,\n  \"bytes\": 0\n}"
        );
        let refused = jsz_disabled("ID", NOW, &options("leader-only=true"));
        assert_eq!(
            (refused.status, body(&refused)),
            (400, NOT_LEADER.to_string())
        );
    }

    #[test]
    fn enabled_flattens_the_stats_and_lists_details_last() {
        let config = JetStreamConfig {
            max_memory: 10,
            max_storage: 20,
            store_dir: "/d/jetstream".into(),
            domain: String::new(),
        };
        let stats = JetStreamStats {
            memory: 1,
            storage: 2,
            accounts: 1,
            api: ApiStats {
                total: 4,
                errors: 1,
            },
            ..JetStreamStats::default()
        };
        let details = [AccountDetail::<u8> {
            name: "$G".into(),
            id: "$G".into(),
            stats: JetStreamStats {
                reserved_memory: u64::MAX,
                ..JetStreamStats::default()
            },
            stream_detail: Vec::new(),
        }];
        let service = Service {
            config: &config,
            stats,
            totals: Totals {
                streams: 2,
                consumers: 1,
                messages: 4,
                bytes: 3,
            },
            details: &details,
        };
        let text = body(&jsz("ID", NOW, &service));
        let expected = "\"config\": {\n    \"max_memory\": 10,\n    \"max_storage\": 20,\n    \
             \"store_dir\": \"/d/jetstream\"\n  },\n  \"memory\": 1,\n  \"storage\": 2,\n  \
             \"reserved_memory\": 0,\n  \"reserved_storage\": 0,\n  \"accounts\": 1,\n  \
             \"ha_assets\": 0,\n  \"api\": {\n    \"total\": 4,\n    \"errors\": 1\n  },\n  \
             \"streams\": 2,\n  \"consumers\": 1,\n  \"messages\": 4,\n  \"bytes\": 3,\n  \
             \"account_details\": [\n    {\n      \"name\": \"$G\",\n      \"id\": \"$G\",\n      \
             \"memory\": 0,\n      \"storage\": 0,\n      \
             \"reserved_memory\": 18446744073709551615,\n      \"reserved_storage\": 0,\n      \
             \"accounts\": 0,\n      \"ha_assets\": 0,\n      \"api\": {\n        \
             \"total\": 0,\n        \"errors\": 0\n      }\n    }\n  ]\n}";
        assert!(text.ends_with(expected), "{text}");
        assert!(!text.contains("disabled"));
    }

    #[test]
    fn accounts_are_chosen_as_nats_server_chooses() {
        let names = || vec!["B".to_string(), "$G".to_string(), "A".to_string()];
        let pick = |query: &str| select_accounts(names(), &options(query));
        assert!(pick("").is_empty());
        assert_eq!(pick("acc=A"), ["A"]);
        assert_eq!(pick("acc=NONE"), Vec::<String>::new());
        assert_eq!(pick("acc=NONE&accounts=1"), ["$G", "A", "B"]);
        assert_eq!(pick("streams=1&offset=1&limit=1"), ["A"]);
        assert_eq!(pick("accounts=1&offset=3"), Vec::<String>::new());
        assert_eq!(pick("consumers=1&offset=9"), Vec::<String>::new());
    }

    #[test]
    fn varz_section_is_empty_without_jetstream() {
        assert_eq!(to_go_json(&JetStreamVarz::default()), b"{}");
        let on = JetStreamVarz {
            config: Some(JetStreamConfig {
                domain: "hub".into(),
                ..JetStreamConfig::default()
            }),
            stats: Some(JetStreamStats::default()),
        };
        let text = String::from_utf8(to_go_json(&on)).unwrap();
        assert!(text.starts_with(
            "{\n  \"config\": {\n    \"max_memory\": 0,\n    \"max_storage\": 0,\n    \
             \"domain\": \"hub\"\n  },\n  \"stats\": {\n    \"memory\": 0,"
        ));
    }
}
