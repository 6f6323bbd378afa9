//! /routez and the /varz `cluster` section in nats-server 2.9.10's layout (its `Routez`,
//! `RouteInfo` and `ClusterOptsVarz`): field order and `omitempty` as there.

use super::clock::{between, uptime};
use super::document::{rtt_text, to_go_json, GoFloat, Time};
use serde::Serialize;

/// nats-server's defaults for a route port's `auth_timeout` and `tls_timeout` (seconds)
/// when the configuration names neither (without route TLS).
pub const CLUSTER_AUTH_TIMEOUT_SECONDS: f64 = 2.0;
pub const CLUSTER_TLS_TIMEOUT_SECONDS: f64 = 2.0;

/// The /varz `cluster` section: every field `omitempty`, so `{}` without a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterVarz {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub addr: String,
    #[serde(skip_serializing_if = "is_zero_port")]
    pub cluster_port: u16,
    #[serde(skip_serializing_if = "is_zero_float")]
    pub auth_timeout: GoFloat,
    /// The configured routes (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_float")]
    pub tls_timeout: GoFloat,
    /// Route TLS is configured; nats-server forces verification on routes, so both flags
    /// follow `tls {}`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
}

impl ClusterVarz {
    /// The section for cluster `name` with its route port bound on `addr`:`port` and the
    /// configured routes `urls`, without route TLS or a route `authorization` timeout.
    pub fn listening(name: &str, addr: &str, port: u16, urls: &[String]) -> ClusterVarz {
        ClusterVarz {
            name: name.to_string(),
            addr: addr.to_string(),
            cluster_port: port,
            auth_timeout: GoFloat(CLUSTER_AUTH_TIMEOUT_SECONDS),
            urls: urls.to_vec(),
            tls_timeout: GoFloat(CLUSTER_TLS_TIMEOUT_SECONDS),
            tls_required: false,
            tls_verify: false,
        }
    }

    /// With route TLS whose handshake has `tls_timeout` seconds: both flags, and the auth
    /// timeout nats-server derives from it (one second more) unless `authorization` names
    /// one.
    pub fn with_tls(mut self, tls_timeout: f64) -> ClusterVarz {
        self.tls_timeout = GoFloat(tls_timeout);
        self.auth_timeout = GoFloat(tls_timeout + 1.0);
        self.tls_required = true;
        self.tls_verify = true;
        self
    }
}

fn is_zero_port(port: &u16) -> bool {
    *port == 0
}

fn is_zero_float(value: &GoFloat) -> bool {
    value.0 == 0.0
}

fn no_subjects(subjects: &&[String]) -> bool {
    subjects.is_empty()
}

/// One route as /routez shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteRecord {
    pub rid: u64,
    pub remote_id: String,
    pub did_solicit: bool,
    pub is_configured: bool,
    pub ip: String,
    pub port: u16,
    /// Unix nanoseconds.
    pub start: i64,
    pub last_activity: i64,
    pub rtt_nanos: u64,
    pub pending_size: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: u32,
    /// The route's subjects, when `subs` was asked.
    pub subjects: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Routez<'a> {
    server_id: &'a str,
    now: Time,
    num_routes: usize,
    routes: Vec<RouteInfo<'a>>,
}

#[derive(Serialize)]
struct RouteInfo<'a> {
    rid: u64,
    remote_id: &'a str,
    did_solicit: bool,
    is_configured: bool,
    ip: &'a str,
    port: u16,
    start: Time,
    last_activity: Time,
    #[serde(skip_serializing_if = "str::is_empty")]
    rtt: String,
    uptime: String,
    idle: String,
    pending_size: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: u32,
    #[serde(skip_serializing_if = "no_subjects")]
    subscriptions_list: &'a [String],
}

/// The /routez document.
pub fn routez(server_id: &str, now: i64, routes: &[RouteRecord]) -> Vec<u8> {
    to_go_json(&Routez {
        server_id,
        now: Time(now),
        num_routes: routes.len(),
        routes: routes
            .iter()
            .map(|route| RouteInfo {
                rid: route.rid,
                remote_id: &route.remote_id,
                did_solicit: route.did_solicit,
                is_configured: route.is_configured,
                ip: &route.ip,
                port: route.port,
                start: Time(route.start),
                last_activity: Time(route.last_activity),
                rtt: rtt_text(route.rtt_nanos),
                uptime: uptime(between(route.start, now)),
                idle: uptime(between(route.last_activity, now)),
                pending_size: route.pending_size,
                in_msgs: route.in_msgs,
                out_msgs: route.out_msgs,
                in_bytes: route.in_bytes,
                out_bytes: route.out_bytes,
                subscriptions: route.subscriptions,
                subscriptions_list: route.subjects.as_deref().unwrap_or_default(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_331_087_538_183_075;

    #[test]
    fn no_routes_is_an_empty_list() {
        assert_eq!(
            String::from_utf8(routez("NID", NOW, &[])).unwrap(),
            "{\n  \"server_id\": \"NID\",\n  \"now\": \"2026-11-22T07:04:47.538183075Z\",\n  \
             \"num_routes\": 0,\n  \"routes\": []\n}"
        );
    }

    #[test]
    fn a_route_in_nats_server_layout() {
        let route = RouteRecord {
            rid: 4,
            remote_id: "NPEER".into(),
            did_solicit: false,
            is_configured: false,
            ip: "127.0.0.1".into(),
            port: 36612,
            start: NOW - 1_500_000_000,
            last_activity: NOW - 750_000_000,
            rtt_nanos: 187_000,
            pending_size: 0,
            in_msgs: 3,
            out_msgs: 4,
            in_bytes: 2051,
            out_bytes: 2575,
            subscriptions: 2,
            subjects: Some(vec!["foo".into(), "bar".into()]),
        };
        assert_eq!(
            String::from_utf8(routez("NID", NOW, &[route])).unwrap(),
            "{\n  \"server_id\": \"NID\",\n  \"now\": \"2026-11-22T07:04:47.538183075Z\",\n  \
             \"num_routes\": 1,\n  \"routes\": [\n    {\n      \"rid\": 4,\n      \
             \"remote_id\": \"NPEER\",\n      \"did_solicit\": false,\n      \
             \"is_configured\": false,\n      \"ip\": \"127.0.0.1\",\n      \"port\": 36612,\n      \
             \"start\": \"2026-11-22T07:04:46.038183075Z\",\n      \
             \"last_activity\": \"2026-11-22T07:04:46.788183075Z\",\n      \"rtt\": \"187µs\",\n      \
             \"uptime\": \"1s\",\n      \"idle\": \"0s\",\n      \"pending_size\": 0,\n      \
             \"in_msgs\": 3,\n      \"out_msgs\": 4,\n      \"in_bytes\": 2051,\n      \
             \"out_bytes\": 2575,\n      \"subscriptions\": 2,\n      \"subscriptions_list\": [\n        \
             \"foo\",\n        \"bar\"\n      ]\n    }\n  ]\n}"
        );
    }
}
