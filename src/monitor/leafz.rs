//! /leafz and the /varz `leaf` section in nats-server 2.9.10's layout (its `Leafz`,
//! `LeafInfo` and `LeafNodeOptsVarz`): field order and `omitempty` as there.

use super::document::{rtt_text, to_go_json, GoFloat, Time};
use serde::Serialize;

/// nats-server's defaults for a leaf port's `auth_timeout` and `tls_timeout` (seconds)
/// when the configuration names neither (ringmq has no such leaf settings yet).
pub const LEAF_AUTH_TIMEOUT_SECONDS: f64 = 2.0;
pub const LEAF_TLS_TIMEOUT_SECONDS: f64 = 2.0;

/// The /varz `leaf` section: every field `omitempty`, so `{}` without a leaf port.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LeafVarz {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub host: String,
    /// The port bound (nats-server shows the bound one when `-1` was configured).
    #[serde(skip_serializing_if = "is_zero_port")]
    pub port: u16,
    #[serde(skip_serializing_if = "is_zero_float")]
    pub auth_timeout: GoFloat,
    #[serde(skip_serializing_if = "is_zero_float")]
    pub tls_timeout: GoFloat,
}

impl LeafVarz {
    /// The section for a leaf port bound on `host`:`port`.
    pub fn listening(host: &str, port: u16) -> LeafVarz {
        LeafVarz {
            host: host.to_string(),
            port,
            auth_timeout: GoFloat(LEAF_AUTH_TIMEOUT_SECONDS),
            tls_timeout: GoFloat(LEAF_TLS_TIMEOUT_SECONDS),
        }
    }
}

fn no_subjects(subjects: &&[String]) -> bool {
    subjects.is_empty()
}

fn is_zero_port(port: &u16) -> bool {
    *port == 0
}

fn is_zero_float(value: &GoFloat) -> bool {
    value.0 == 0.0
}

/// One leaf link as /leafz shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeafRecord {
    pub account: String,
    pub ip: String,
    pub port: u16,
    /// 0 until a PING of ours was answered (nats-server shows `0s` then too).
    pub rtt_nanos: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: u32,
    /// The link's subjects (one per subject or queue group), when `subs` was asked.
    pub subjects: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Leafz<'a> {
    server_id: &'a str,
    now: Time,
    leafnodes: usize,
    /// nats-server leaves the list nil (`null`) when no link matches.
    leafs: Option<Vec<LeafInfo<'a>>>,
}

#[derive(Serialize)]
struct LeafInfo<'a> {
    account: &'a str,
    ip: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "str::is_empty")]
    rtt: String,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: u32,
    #[serde(skip_serializing_if = "no_subjects")]
    subscriptions_list: &'a [String],
}

/// The /leafz document for the links given (already filtered by account).
pub fn leafz(server_id: &str, now: i64, links: &[LeafRecord]) -> Vec<u8> {
    let leafs = (!links.is_empty()).then(|| {
        links
            .iter()
            .map(|link| LeafInfo {
                account: &link.account,
                ip: &link.ip,
                port: link.port,
                rtt: rtt_text(link.rtt_nanos),
                in_msgs: link.in_msgs,
                out_msgs: link.out_msgs,
                in_bytes: link.in_bytes,
                out_bytes: link.out_bytes,
                subscriptions: link.subscriptions,
                subscriptions_list: link.subjects.as_deref().unwrap_or_default(),
            })
            .collect()
    });
    to_go_json(&Leafz {
        server_id,
        now: Time(now),
        leafnodes: links.len(),
        leafs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_331_087_538_183_075;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn no_links_is_a_null_list() {
        assert_eq!(
            text(leafz("NID", NOW, &[])),
            "{\n  \"server_id\": \"NID\",\n  \"now\": \"2026-11-22T07:04:47.538183075Z\",\n  \
             \"leafnodes\": 0,\n  \"leafs\": null\n}"
        );
    }

    #[test]
    fn a_link_in_nats_server_layout_with_and_without_subjects() {
        let mut link = LeafRecord {
            account: "$G".into(),
            ip: "127.0.0.1".into(),
            port: 44804,
            rtt_nanos: 231_456,
            in_msgs: 3,
            out_msgs: 2,
            in_bytes: 19,
            out_bytes: 6,
            subscriptions: 2,
            subjects: None,
        };
        let head = "{\n  \"server_id\": \"NID\",\n  \"now\": \"2026-11-22T07:04:47.538183075Z\",\n  \
                    \"leafnodes\": 1,\n  \"leafs\": [\n    {\n      \"account\": \"$G\",\n      \
                    \"ip\": \"127.0.0.1\",\n      \"port\": 44804,\n      \"rtt\": \"231µs\",\n      \
                    \"in_msgs\": 3,\n      \"out_msgs\": 2,\n      \"in_bytes\": 19,\n      \
                    \"out_bytes\": 6,\n      \"subscriptions\": 2";
        assert_eq!(
            text(leafz("NID", NOW, std::slice::from_ref(&link))),
            format!("{head}\n    }}\n  ]\n}}")
        );
        link.subjects = Some(vec!["a.>".into(), "b".into()]);
        assert_eq!(
            text(leafz("NID", NOW, &[link])),
            format!(
                "{head},\n      \"subscriptions_list\": [\n        \"a.\\u003e\",\n        \"b\"\n      \
                 ]\n    }}\n  ]\n}}"
            )
        );
    }

    #[test]
    fn varz_section_is_empty_without_a_leaf_port() {
        assert_eq!(text(to_go_json(&LeafVarz::default())), "{}");
        assert_eq!(
            text(to_go_json(&LeafVarz::listening("127.0.0.1", 43903))),
            "{\n  \"host\": \"127.0.0.1\",\n  \"port\": 43903,\n  \"auth_timeout\": 2,\n  \
             \"tls_timeout\": 2\n}"
        );
    }
}
