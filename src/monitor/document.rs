//! The JSON documents, byte for byte in nats-server 2.9.10's layout: its field names and
//! order, its `omitempty` choices, Go's two-space indentation, Go's escaping of `<`, `>`,
//! `&`, U+2028 and U+2029, Go's float text, RFC 3339 times in UTC.

use super::clock::{between, go_duration, rfc3339_nanos, uptime};
use super::jsz::JetStreamVarz;
use super::leafz::LeafVarz;
use super::query::SubsListing;
use super::routez::ClusterVarz;
use super::snapshot::{ConnRecord, CoreStats, SubRecord};
use super::websocket::WebsocketVarz;
use serde::ser::{Serialize, Serializer};
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter};
use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

/// The global account: every ringmq client is in it (named in closed connections'
/// subscription details, as nats-server names the account there).
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Serializes as Go's `encoding/json.MarshalIndent(v, "", "  ")` would.
pub fn to_go_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter::default());
    value
        .serialize(&mut serializer)
        .expect("monitoring documents serialize into memory");
    out
}

/// Pretty-printing with Go's string escapes.
#[derive(Default)]
struct GoFormatter {
    pretty: PrettyFormatter<'static>,
}

impl Formatter for GoFormatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }

    /// Go escapes `<`, `>`, `&` (HTML safety) and the JavaScript line separators.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(index) = rest.find(['<', '>', '&', '\u{2028}', '\u{2029}']) {
            w.write_all(&rest.as_bytes()[..index])?;
            let special = rest[index..].chars().next().expect("found a char");
            write!(w, "\\u{:04x}", special as u32)?;
            rest = &rest[index + special.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }

    /// Go has short escapes only for `\"`, `\\`, `\n`, `\r`, `\t`.
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match escape {
            CharEscape::Backspace => w.write_all(b"\\u0008"),
            CharEscape::FormFeed => w.write_all(b"\\u000c"),
            CharEscape::Quote => w.write_all(b"\\\""),
            CharEscape::ReverseSolidus => w.write_all(b"\\\\"),
            CharEscape::Solidus => w.write_all(b"/"),
            CharEscape::LineFeed => w.write_all(b"\\n"),
            CharEscape::CarriageReturn => w.write_all(b"\\r"),
            CharEscape::Tab => w.write_all(b"\\t"),
            CharEscape::AsciiControl(byte) => write!(w, "\\u{byte:04x}"),
        }
    }
}

/// A float as Go prints it: `2`, `0.8`, `0.7142857142857143` (no `.0` on whole numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
            serializer.serialize_i64(value as i64)
        } else {
            serializer.serialize_f64(value)
        }
    }
}

/// A Unix time in nanoseconds, serialized as Go's RFC 3339 text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&rfc3339_nanos(self.0))
    }
}

/// An object with no fields: `{}` (unconfigured cluster, gateway, leaf, ... sections).
#[derive(serde::Serialize)]
struct Empty {}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The server's configuration and identity, as /varz shows them.
#[derive(Clone, Debug)]
pub struct ServerFacts {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    /// nats-server shows its Go version; ringmq its own name and version (as in INFO).
    pub go: String,
    pub host: String,
    pub port: u16,
    pub max_connections: u64,
    pub max_subscriptions: u64,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub http_host: String,
    /// As configured (nats-server shows `-1` for "any free port", not the port bound).
    pub http_port: i32,
    /// Seconds; nats-server's defaults (2) where ringmq has no such setting yet.
    pub auth_timeout: f64,
    pub tls_timeout: f64,
    pub max_control_line: u64,
    pub max_payload: u64,
    pub max_pending: u64,
    pub write_deadline: Duration,
    /// Unix nanoseconds.
    pub start: i64,
    /// When the running configuration was loaded (start-up or the last reload), Unix ns.
    pub config_load_time: i64,
    /// CPUs of the machine (nats-server: `runtime.NumCPU()`).
    pub cpus: u64,
    /// Worker cores (nats-server: GOMAXPROCS, the threads running its code).
    pub worker_cores: u64,
    /// The /varz `leaf` section (`{}` without a leaf port).
    pub leaf: LeafVarz,
    /// The /varz `cluster` section (`{}` without a cluster).
    pub cluster: ClusterVarz,
    /// The /varz `websocket` section (`{}` without a WebSocket listener).
    pub websocket: WebsocketVarz,
}

/// The changing part of /varz.
#[derive(Clone, Debug, Default)]
pub struct VarzCounters {
    pub now: i64,
    /// Resident memory, bytes.
    pub mem: u64,
    /// Percent of one CPU, one decimal.
    pub cpu: f64,
    pub total_connections: u64,
    pub slow_consumers: u64,
    /// Leaf links past their CONNECT.
    pub leafnodes: u64,
    /// Routes past their handshake.
    pub routes: u64,
    /// WebSocket upgrade requests refused and connections closed for framing faults
    /// (/metrics only).
    pub websocket_refusals: u64,
    pub websocket_faults: u64,
    /// The cluster's client URLs (`connect_urls`; empty when not clustered or alone).
    pub connect_urls: Vec<String>,
    pub http_req_stats: BTreeMap<String, u64>,
    /// The `jetstream` section (`{}` without JetStream).
    pub jetstream: JetStreamVarz,
}

#[derive(serde::Serialize)]
struct Varz<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u32,
    go: &'a str,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    connect_urls: &'a [String],
    #[serde(skip_serializing_if = "is_false")]
    auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    max_connections: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: u64,
    ping_interval: u64,
    ping_max: u32,
    http_host: &'a str,
    http_port: i32,
    http_base_path: &'a str,
    https_port: u16,
    auth_timeout: GoFloat,
    max_control_line: u64,
    max_payload: u64,
    max_pending: u64,
    cluster: &'a ClusterVarz,
    gateway: Empty,
    leaf: &'a LeafVarz,
    mqtt: Empty,
    websocket: &'a WebsocketVarz,
    jetstream: &'a JetStreamVarz,
    tls_timeout: GoFloat,
    write_deadline: u64,
    start: Time,
    now: Time,
    uptime: String,
    mem: u64,
    cores: u64,
    gomaxprocs: u64,
    cpu: GoFloat,
    connections: u64,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: u64,
    http_req_stats: &'a BTreeMap<String, u64>,
    config_load_time: Time,
}

pub fn varz(facts: &ServerFacts, counters: &VarzCounters, stats: &CoreStats) -> Vec<u8> {
    to_go_json(&Varz {
        server_id: &facts.server_id,
        server_name: &facts.server_name,
        version: &facts.version,
        proto: facts.proto,
        go: &facts.go,
        host: &facts.host,
        port: facts.port,
        connect_urls: &counters.connect_urls,
        auth_required: false,
        tls_required: false,
        max_connections: facts.max_connections,
        max_subscriptions: facts.max_subscriptions,
        ping_interval: facts.ping_interval.as_nanos() as u64,
        ping_max: facts.ping_max,
        http_host: &facts.http_host,
        http_port: facts.http_port,
        http_base_path: "",
        https_port: 0,
        auth_timeout: GoFloat(facts.auth_timeout),
        max_control_line: facts.max_control_line,
        max_payload: facts.max_payload,
        max_pending: facts.max_pending,
        cluster: &facts.cluster,
        gateway: Empty {},
        leaf: &facts.leaf,
        mqtt: Empty {},
        websocket: &facts.websocket,
        jetstream: &counters.jetstream,
        tls_timeout: GoFloat(facts.tls_timeout),
        write_deadline: facts.write_deadline.as_nanos() as u64,
        start: Time(facts.start),
        now: Time(counters.now),
        uptime: uptime(between(facts.start, counters.now)),
        mem: counters.mem,
        cores: facts.cpus,
        gomaxprocs: facts.worker_cores,
        cpu: GoFloat(counters.cpu),
        connections: stats.connections,
        total_connections: counters.total_connections,
        routes: counters.routes,
        remotes: counters.routes,
        leafnodes: counters.leafnodes,
        in_msgs: stats.in_msgs,
        out_msgs: stats.out_msgs,
        in_bytes: stats.in_bytes,
        out_bytes: stats.out_bytes,
        slow_consumers: counters.slow_consumers,
        subscriptions: stats.subscriptions,
        http_req_stats: &counters.http_req_stats,
        config_load_time: Time(facts.config_load_time),
    })
}

#[derive(serde::Serialize)]
struct Connz<'a> {
    server_id: &'a str,
    now: Time,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    /// `null` when an account filter names an unknown account, as in nats-server.
    connections: Option<Vec<ConnInfo<'a>>>,
}

#[derive(serde::Serialize)]
struct ConnInfo<'a> {
    cid: u64,
    kind: &'a str,
    #[serde(rename = "type")]
    client_type: &'a str,
    ip: &'a str,
    port: u16,
    start: Time,
    last_activity: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<Time>,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list_detail: Vec<SubDetail<'a>>,
}

#[derive(serde::Serialize)]
struct SubDetail<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    account: &'a str,
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    qgroup: &'a str,
    sid: &'a str,
    msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max: u64,
    cid: u64,
}

fn sub_detail<'a>(record: &'a SubRecord, account: &'a str) -> SubDetail<'a> {
    SubDetail {
        account,
        subject: &record.subject,
        qgroup: record.queue.as_deref().unwrap_or_default(),
        sid: &record.sid,
        msgs: record.msgs,
        max: record.max.unwrap_or(0),
        cid: record.cid,
    }
}

/// The rtt nats-server shows: microseconds between 1 µs and 1 ms, nanoseconds otherwise.
pub fn rtt_text(nanos: u64) -> String {
    let rtt = if nanos > 1_000 && nanos < 1_000_000 {
        nanos - nanos % 1_000
    } else {
        nanos
    };
    go_duration(Duration::from_nanos(rtt))
}

fn conn_info<'a>(record: &'a ConnRecord, now: i64, subs: SubsListing) -> ConnInfo<'a> {
    // A closed connection's uptime and idle time stopped at its close.
    let until = record.stop.unwrap_or(now);
    // nats-server keeps a closed connection's subscriptions with their account.
    let account = if record.stop.is_some() {
        GLOBAL_ACCOUNT
    } else {
        ""
    };
    ConnInfo {
        cid: record.cid,
        kind: "Client",
        client_type: "nats",
        ip: &record.ip,
        port: record.port,
        start: Time(record.start),
        last_activity: Time(record.last_activity),
        stop: record.stop.map(Time),
        reason: record.reason.as_deref().unwrap_or_default(),
        rtt: rtt_text(record.rtt_nanos),
        uptime: uptime(between(record.start, until)),
        idle: uptime(between(record.last_activity, until)),
        pending_bytes: record.pending_bytes,
        in_msgs: record.in_msgs,
        out_msgs: record.out_msgs,
        in_bytes: record.in_bytes,
        out_bytes: record.out_bytes,
        subscriptions: record.subscription_count,
        name: &record.name,
        lang: &record.lang,
        version: &record.version,
        subscriptions_list: match subs {
            SubsListing::Subjects => record
                .subscriptions
                .iter()
                .map(|s| s.subject.as_str())
                .collect(),
            _ => Vec::new(),
        },
        subscriptions_list_detail: match subs {
            SubsListing::Detail => record
                .subscriptions
                .iter()
                .map(|s| sub_detail(s, account))
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// The paging fields of /connz and the page itself (`None`: `null`).
pub struct ConnzPage<'a> {
    pub offset: usize,
    pub limit: usize,
    pub total: usize,
    pub connections: Option<&'a [&'a ConnRecord]>,
    pub subs: SubsListing,
}

pub fn connz(server_id: &str, now: i64, page: &ConnzPage<'_>) -> Vec<u8> {
    let connections = page.connections.map(|records| {
        records
            .iter()
            .map(|record| conn_info(record, now, page.subs))
            .collect::<Vec<_>>()
    });
    to_go_json(&Connz {
        server_id,
        now: Time(now),
        num_connections: connections.as_ref().map_or(0, Vec::len),
        total: page.total,
        offset: page.offset,
        limit: page.limit,
        connections,
    })
}

#[derive(serde::Serialize)]
struct SublistStats {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: GoFloat,
    max_fanout: u64,
    avg_fanout: GoFloat,
}

impl SublistStats {
    fn from_stats(stats: &CoreStats) -> SublistStats {
        let ratio = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        SublistStats {
            num_subscriptions: stats.subscriptions,
            num_cache: stats.cache_entries,
            num_inserts: stats.inserts,
            num_removes: stats.removes,
            num_matches: stats.matches,
            cache_hit_rate: GoFloat(ratio(stats.cache_hits, stats.matches)),
            max_fanout: stats.fanout_max,
            avg_fanout: GoFloat(ratio(stats.fanout_total, stats.cache_entries)),
        }
    }
}

#[derive(serde::Serialize)]
struct Subsz<'a> {
    server_id: &'a str,
    now: Time,
    #[serde(flatten)]
    stats: SublistStats,
    total: usize,
    offset: usize,
    limit: usize,
    subscriptions_list: Vec<SubDetail<'a>>,
}

/// /subsz: with a non-empty page, the paged document; otherwise only the statistics (as
/// nats-server answers, without server id or time).
pub fn subsz(
    server_id: &str,
    now: i64,
    stats: &CoreStats,
    offset: usize,
    limit: usize,
    page: &[SubRecord],
) -> Vec<u8> {
    let stats = SublistStats::from_stats(stats);
    if page.is_empty() {
        return to_go_json(&stats);
    }
    to_go_json(&Subsz {
        server_id,
        now: Time(now),
        stats,
        // nats-server reports the page's length here.
        total: page.len(),
        offset,
        limit,
        subscriptions_list: page
            .iter()
            .map(|record| sub_detail(record, GLOBAL_ACCOUNT))
            .collect(),
    })
}

#[derive(serde::Serialize)]
struct Gatewayz<'a> {
    server_id: &'a str,
    now: Time,
    outbound_gateways: Empty,
    inbound_gateways: Empty,
}

pub fn gatewayz(server_id: &str, now: i64) -> Vec<u8> {
    to_go_json(&Gatewayz {
        server_id,
        now: Time(now),
        outbound_gateways: Empty {},
        inbound_gateways: Empty {},
    })
}

#[derive(serde::Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: Time,
    accounts: [&'a str; 1],
}

/// ringmq has one account, the global one (no system account).
pub fn accountz(server_id: &str, now: i64) -> Vec<u8> {
    to_go_json(&Accountz {
        server_id,
        now: Time(now),
        accounts: [GLOBAL_ACCOUNT],
    })
}

/// /healthz: compact, as nats-server marshals it.
pub fn healthz() -> Vec<u8> {
    br#"{"status":"ok"}"#.to_vec()
}

/// `/`: links to the endpoints.
pub fn root_page(version: &str) -> Vec<u8> {
    let links = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("healthz", "Health Probe"),
        ("metrics", "Prometheus Metrics"),
    ];
    let mut page = format!(
        "<html lang=\"en\">\n<head><title>ringmq monitoring</title></head>\n<body>\n\
         <h1>ringmq</h1>\n<p>NATS protocol {version}</p>\n"
    );
    for (path, label) in links {
        page += &format!("<a href=./{path}>{label}</a><br/>\n");
    }
    page += "</body>\n</html>\n";
    page.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let value = serde_json::json!({"name": "a<b>&c\u{8}\u{2028}\u{c}\t\u{1}/µ"});
        assert_eq!(
            text(to_go_json(&value)),
            "{\n  \"name\": \"a\\u003cb\\u003e\\u0026c\\u0008\\u2028\\u000c\\t\\u0001/µ\"\n}"
        );
    }

    #[test]
    fn floats_read_as_go_prints_them() {
        let value = [
            GoFloat(2.0),
            GoFloat(0.0),
            GoFloat(0.8),
            GoFloat(0.7142857142857143),
            GoFloat(12.5),
        ];
        assert_eq!(
            text(to_go_json(&value)),
            "[\n  2,\n  0,\n  0.8,\n  0.7142857142857143,\n  12.5\n]"
        );
    }

    #[test]
    fn empty_sections_lists_and_nulls() {
        let now = 1_795_331_087_538_183_075;
        assert_eq!(
            text(gatewayz("NID", now)),
            "{\n  \"server_id\": \"NID\",\n  \"now\": \"2026-11-22T07:04:47.538183075Z\",\n  \
             \"outbound_gateways\": {},\n  \"inbound_gateways\": {}\n}"
        );
    }

    #[test]
    fn connection_entries_follow_nats_server_layout() {
        let start = 1_795_331_086_000_000_000;
        let record = ConnRecord {
            cid: 4,
            ip: "127.0.0.1".into(),
            port: 37370,
            start,
            last_activity: start + 500_000_000,
            stop: Some(start + 61_000_000_000),
            reason: Some("Protocol Violation".into()),
            rtt_nanos: 441_123,
            pending_bytes: 35,
            in_msgs: 1,
            out_msgs: 1,
            in_bytes: 5,
            out_bytes: 5,
            subscription_count: 2,
            name: "c1".into(),
            lang: String::new(),
            version: String::new(),
            subscriptions: vec![SubRecord {
                subject: "bar".into(),
                queue: Some("q".into()),
                sid: "2".into(),
                msgs: 0,
                max: Some(5),
                cid: 4,
            }],
        };
        let page = ConnzPage {
            offset: 0,
            limit: 1024,
            total: 1,
            connections: Some(&[&record]),
            subs: SubsListing::Detail,
        };
        let expected = r#"{
  "server_id": "NID",
  "now": "2026-11-22T07:10:00Z",
  "num_connections": 1,
  "total": 1,
  "offset": 0,
  "limit": 1024,
  "connections": [
    {
      "cid": 4,
      "kind": "Client",
      "type": "nats",
      "ip": "127.0.0.1",
      "port": 37370,
      "start": "2026-11-22T07:04:46Z",
      "last_activity": "2026-11-22T07:04:46.5Z",
      "stop": "2026-11-22T07:05:47Z",
      "reason": "Protocol Violation",
      "rtt": "441µs",
      "uptime": "1m1s",
      "idle": "1m0s",
      "pending_bytes": 35,
      "in_msgs": 1,
      "out_msgs": 1,
      "in_bytes": 5,
      "out_bytes": 5,
      "subscriptions": 2,
      "name": "c1",
      "subscriptions_list_detail": [
        {
          "account": "$G",
          "subject": "bar",
          "qgroup": "q",
          "sid": "2",
          "msgs": 0,
          "max": 5,
          "cid": 4
        }
      ]
    }
  ]
}"#;
        assert_eq!(
            text(connz("NID", 1_795_331_400_000_000_000, &page)),
            expected
        );
    }

    #[test]
    fn subsz_without_a_page_is_only_statistics() {
        let stats = CoreStats {
            subscriptions: 3,
            cache_entries: 7,
            fanout_max: 1,
            fanout_total: 5,
            inserts: 5,
            removes: 2,
            matches: 8,
            cache_hits: 2,
            connections: 9,
            ..CoreStats::default()
        };
        assert_eq!(
            text(subsz("NID", 0, &stats, 0, 1024, &[])),
            "{\n  \"num_subscriptions\": 3,\n  \"num_cache\": 7,\n  \"num_inserts\": 5,\n  \
             \"num_removes\": 2,\n  \"num_matches\": 8,\n  \"cache_hit_rate\": 0.25,\n  \
             \"max_fanout\": 1,\n  \"avg_fanout\": 0.7142857142857143\n}"
        );
    }
}
