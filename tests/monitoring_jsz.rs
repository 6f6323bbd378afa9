//! /jsz and the /varz `jetstream` section, field by field with exact counts: without
//! JetStream (`disabled`), then with a file stream and a memory stream, a consumer,
//! messages, a pull, a failed API request and a deleted stream, under every query option.
//!
//! Every test runs against ringmq by default and against nats-server 2.9.10 with
//! `RINGMQ_TEST_SERVER=nats-server`. nats-server lists streams and consumers in Go map
//! order (random), so details are found by name; ringmq lists them by name.

mod common;

use common::http::{get, get_json, wait_json};
use common::{Opts, RawClient, Server};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Longest wait for one JetStream reply.
const REPLY: Duration = Duration::from_secs(5);

/// /jsz keys in nats-server's order, with JetStream on and account details asked for.
const JSZ_KEYS: &[&str] = &[
    "server_id",
    "now",
    "config",
    "memory",
    "storage",
    "reserved_memory",
    "reserved_storage",
    "accounts",
    "ha_assets",
    "api",
    "streams",
    "consumers",
    "messages",
    "bytes",
    "account_details",
];

/// An entry of `account_details`, with streams.
const ACCOUNT_KEYS: &[&str] = &[
    "name",
    "id",
    "memory",
    "storage",
    "reserved_memory",
    "reserved_storage",
    "accounts",
    "ha_assets",
    "api",
    "stream_detail",
];

/// An entry of `stream_detail` with its configuration and consumers.
const STREAM_KEYS: &[&str] = &[
    "name",
    "created",
    "cluster",
    "config",
    "state",
    "consumer_detail",
];

/// An entry of `consumer_detail` (a pull consumer, no `push_bound`), with `config`.
const CONSUMER_KEYS: &[&str] = &[
    "stream_name",
    "name",
    "created",
    "config",
    "delivered",
    "ack_floor",
    "num_ack_pending",
    "num_redelivered",
    "num_waiting",
    "num_pending",
];

fn store_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringmq-jsz-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The keys written at `indent` spaces, in document order (Go and ringmq both indent by
/// two spaces, one object member per line).
fn keys_at(raw: &str, indent: usize) -> Vec<String> {
    raw.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&" ".repeat(indent))?;
            let key = rest.strip_prefix('"')?.split_once("\": ")?.0;
            Some(key.to_string())
        })
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A client with a reply subscription on `_INBOX.t`.
fn client(server: &Server) -> RawClient {
    RawClient::subscriber(server.port(), "SUB _INBOX.t 1\r\n")
}

/// Publishes with the reply `_INBOX.t` and returns the next message's payload.
fn request(client: &mut RawClient, subject: &str, body: &str) -> Value {
    client.send(format!("PUB {subject} _INBOX.t {}\r\n{body}\r\n", body.len()).as_bytes());
    let frame = client
        .next_frame(Instant::now() + REPLY)
        .expect("a reply before the deadline");
    let text = String::from_utf8(frame).expect("UTF-8 reply");
    let (_, body) = text.split_once("\r\n").expect("a MSG line");
    let body = body.strip_suffix("\r\n").expect("CRLF after the payload");
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

/// The stream or consumer named `name` in a detail list.
fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .find(|entry| entry["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

#[test]
fn jsz_without_jetstream_is_disabled() {
    let server = Server::start(Opts {
        monitor: true,
        ..Opts::default()
    });
    let port = server.monitor_port();
    let (jsz, raw) = get_json(port, "/jsz?accounts=true&streams=1&consumers=1&config=1");
    let varz_id = get_json(port, "/varz").0["server_id"].clone();
    assert_eq!(jsz["server_id"], varz_id);
    let mut keys = strings(&JSZ_KEYS[..JSZ_KEYS.len() - 1]);
    keys.insert(2, "disabled".into());
    assert_eq!(keys_at(&raw, 2), keys);
    assert_eq!(jsz["disabled"], true);
    assert_eq!(jsz["config"], json!({"max_memory": 0, "max_storage": 0}));
    assert_eq!(jsz["api"], json!({"total": 0, "errors": 0}));
    for key in &JSZ_KEYS[3..JSZ_KEYS.len() - 1] {
        if *key != "api" {
            assert_eq!(jsz[key], 0, "{key}");
        }
    }
    assert_eq!(
        get(port, "/jsz?leader-only=true"),
        (400, "filtered response: not leader".to_string())
    );
    assert_eq!(
        get(port, "/jsz?config=yes"),
        (
            400,
            "Error decoding boolean for 'config': strconv.ParseBool: parsing \"yes\": \
             invalid syntax"
                .to_string()
        )
    );
    let varz = get_json(port, "/varz").0;
    assert_eq!(varz["jetstream"], json!({}));
    assert_eq!(varz["http_req_stats"]["/jsz"], 3);
}

#[test]
fn jsz_counts_streams_consumers_messages_and_bytes() {
    let dir = store_dir("counts");
    let server = Server::start(Opts {
        monitor: true,
        args: vec!["-js".into(), "-sd".into(), dir.display().to_string()],
        ..Opts::default()
    });
    let port = server.monitor_port();
    let store_dir = dir.join("jetstream").display().to_string();

    // Nothing yet: the global account has JetStream, nothing is stored.
    let (empty, raw) = get_json(port, "/jsz");
    assert_eq!(keys_at(&raw, 2), strings(&JSZ_KEYS[..JSZ_KEYS.len() - 1]));
    assert_eq!(empty["config"]["store_dir"], store_dir.as_str());
    assert_eq!(
        keys_at(&raw, 4)[..3],
        strings(&["max_memory", "max_storage", "store_dir"])
    );
    assert!(empty["config"]["max_memory"].as_i64().unwrap() > 0);
    assert!(empty["config"]["max_storage"].as_i64().unwrap() > 0);
    assert_eq!(empty["accounts"], 1);
    for key in [
        "memory",
        "storage",
        "streams",
        "consumers",
        "messages",
        "bytes",
    ] {
        assert_eq!(empty[key], 0, "{key}");
    }

    let mut c = client(&server);
    let created = request(
        &mut c,
        "$JS.API.STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.>"]}"#,
    );
    assert_eq!(created["did_create"], true, "{created}");
    let created = request(
        &mut c,
        "$JS.API.STREAM.CREATE.MEM",
        r#"{"name":"MEM","subjects":["mem.>"],"storage":"memory"}"#,
    );
    assert_eq!(created["did_create"], true, "{created}");
    for i in 0..3 {
        let ack = request(&mut c, "orders.new", &format!("hello{i}"));
        assert_eq!(ack, json!({"stream": "ORDERS", "seq": i + 1}));
    }
    assert_eq!(
        request(&mut c, "mem.x", "abc"),
        json!({"stream": "MEM", "seq": 1})
    );
    let consumer = request(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.D1",
        r#"{"stream_name":"ORDERS","config":{"durable_name":"D1","ack_policy":"explicit"}}"#,
    );
    assert_eq!(consumer["name"], "D1", "{consumer}");
    let missing = request(&mut c, "$JS.API.STREAM.INFO.NOPE", "");
    assert_eq!(missing["error"]["err_code"], 10059);

    // Four API requests, one of them an error; messages of 46 bytes on file, 24 in memory.
    let jsz = wait_json(port, "/jsz", |j| j["api"]["total"] == 4);
    assert_eq!(jsz["api"], json!({"total": 4, "errors": 1}));
    assert_eq!(
        (jsz["memory"].clone(), jsz["storage"].clone()),
        (json!(24), json!(138))
    );
    assert_eq!(
        (
            jsz["reserved_memory"].clone(),
            jsz["reserved_storage"].clone()
        ),
        (json!(0), json!(0))
    );
    assert_eq!(
        (jsz["accounts"].clone(), jsz["ha_assets"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(jsz["streams"], 2);
    assert_eq!(jsz["consumers"], 1);
    assert_eq!(jsz["messages"], 4);
    assert_eq!(jsz["bytes"], 162);
    assert_eq!(jsz.get("account_details"), None);

    // Everything: the account, its streams with configuration, the consumer with its own.
    let (full, raw) = get_json(port, "/jsz?consumers=true&config=true");
    assert_eq!(keys_at(&raw, 2), strings(JSZ_KEYS));
    assert_eq!(keys_at(&raw, 6), strings(ACCOUNT_KEYS));
    let details = full["account_details"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    let account = &details[0];
    assert_eq!(
        (account["name"].clone(), account["id"].clone()),
        (json!("$G"), json!("$G"))
    );
    assert_eq!(
        (account["memory"].clone(), account["storage"].clone()),
        (json!(24), json!(138))
    );
    // No account limits: nats-server writes the "unlimited" -1 as an unsigned number.
    assert_eq!(account["reserved_memory"], json!(u64::MAX));
    assert_eq!(account["reserved_storage"], json!(u64::MAX));
    assert_eq!(
        (account["accounts"].clone(), account["ha_assets"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(account["api"], json!({"total": 4, "errors": 1}));
    let streams = &account["stream_detail"];
    assert_eq!(streams.as_array().unwrap().len(), 2);
    let orders = named(streams, "ORDERS");
    let mem = named(streams, "MEM");
    let mut stream_keys = Vec::new();
    for stream in streams.as_array().unwrap() {
        let keys = if stream["name"] == "ORDERS" {
            STREAM_KEYS
        } else {
            &STREAM_KEYS[..5]
        };
        stream_keys.extend(strings(keys));
    }
    assert_eq!(keys_at(&raw, 10), stream_keys);
    assert_eq!(orders["cluster"], json!({"leader": varz_server_name(port)}));
    assert_eq!(orders["config"]["name"], "ORDERS");
    assert_eq!(orders["config"]["subjects"], json!(["orders.>"]));
    assert_eq!(orders["config"]["storage"], "file");
    assert_eq!(mem["config"]["storage"], "memory");
    let state = &orders["state"];
    assert_eq!(state["messages"], 3);
    assert_eq!(state["bytes"], 138);
    assert_eq!(
        (state["first_seq"].clone(), state["last_seq"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(state["num_subjects"], 1);
    assert_eq!(state["consumer_count"], 1);
    assert_eq!(mem["state"]["messages"], 1);
    assert_eq!(mem["state"]["bytes"], 24);
    assert_eq!(mem["state"]["consumer_count"], 0);
    assert_eq!(mem.get("consumer_detail"), None);
    let d1 = named(&orders["consumer_detail"], "D1");
    assert_eq!(keys_at(&raw, 14), strings(CONSUMER_KEYS));
    assert_eq!(d1["stream_name"], "ORDERS");
    assert_eq!(d1["config"]["durable_name"], "D1");
    assert_eq!(d1["config"]["ack_policy"], "explicit");
    assert_eq!(d1["delivered"], json!({"consumer_seq": 0, "stream_seq": 0}));
    assert_eq!(d1["num_pending"], 3);
    assert_eq!(d1["num_ack_pending"], 0);

    // One message pulled and not acknowledged yet.
    c.send(b"PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.D1 _INBOX.t 1\r\n1\r\n");
    let pulled = c
        .next_frame(Instant::now() + REPLY)
        .expect("a pulled message");
    assert!(String::from_utf8(pulled)
        .unwrap()
        .ends_with("\r\nhello0\r\n"));
    let pulled = wait_json(port, "/jsz?consumers=1", |j| {
        named(
            &named(&j["account_details"][0]["stream_detail"], "ORDERS")["consumer_detail"],
            "D1",
        )["num_ack_pending"]
            == 1
    });
    // A pull request is not an API request (the consumer answers it and never counts it).
    let api_total: u64 = 4;
    assert_eq!(pulled["api"]["total"], api_total);
    let orders = named(&pulled["account_details"][0]["stream_detail"], "ORDERS");
    let d1 = named(&orders["consumer_detail"], "D1");
    assert_eq!(d1.get("config"), None);
    assert_eq!(orders.get("config"), None);
    assert_eq!(d1["delivered"]["consumer_seq"], 1);
    assert_eq!(d1["delivered"]["stream_seq"], 1);
    assert_eq!(d1["num_ack_pending"], 1);
    assert_eq!(d1["num_pending"], 2);

    // Streams without consumers; the account alone; a filter naming it or nothing.
    let streams_only = get_json(port, "/jsz?streams=true").0;
    let orders = named(
        &streams_only["account_details"][0]["stream_detail"],
        "ORDERS",
    );
    assert_eq!(orders.get("consumer_detail"), None);
    assert_eq!(orders.get("config"), None);
    for path in [
        "/jsz?accounts=true",
        "/jsz?acc=$G",
        "/jsz?acc=NOPE&accounts=1",
    ] {
        let jsz = get_json(port, path).0;
        let details = jsz["account_details"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{path}");
        assert_eq!(details[0]["name"], "$G", "{path}");
        assert_eq!(details[0].get("stream_detail"), None, "{path}");
    }
    for path in [
        "/jsz?acc=NOPE",
        "/jsz?accounts=1&offset=1",
        "/jsz?leader-only=true",
    ] {
        let jsz = get_json(port, path).0;
        assert_eq!(jsz.get("account_details"), None, "{path}");
        assert_eq!(jsz["streams"], 2, "{path}");
    }

    // /varz: the configuration and the usage block.
    let varz = get_json(port, "/varz").0;
    let section = &varz["jetstream"];
    assert_eq!(section["config"], full["config"]);
    assert_eq!(
        section["stats"],
        json!({"memory": 24, "storage": 138, "reserved_memory": 0, "reserved_storage": 0,
               "accounts": 1, "ha_assets": 0, "api": {"total": api_total, "errors": 1}})
    );

    // The memory stream deleted: its bytes and message leave the totals.
    let deleted = request(&mut c, "$JS.API.STREAM.DELETE.MEM", "");
    assert_eq!(deleted["success"], true, "{deleted}");
    let jsz = wait_json(port, "/jsz", |j| j["streams"] == 1);
    assert_eq!(
        (jsz["memory"].clone(), jsz["storage"].clone()),
        (json!(0), json!(138))
    );
    assert_eq!(
        (jsz["messages"].clone(), jsz["bytes"].clone()),
        (json!(3), json!(138))
    );
    assert_eq!(jsz["api"], json!({"total": api_total + 1, "errors": 1}));
    let _ = std::fs::remove_dir_all(&dir);
}

fn varz_server_name(port: u16) -> String {
    get_json(port, "/varz").0["server_name"]
        .as_str()
        .expect("server_name")
        .to_string()
}
