//! /leafz and the leaf parts of /varz and /connz on a hub with a real nats-server 2.9.10
//! leaf connected, and the hub's log lines for the link. `RINGMQ_TEST_SERVER=nats-server`
//! runs the same test with a nats-server hub: the expectations are the reference's.
//!
//! Counters are compared as exact differences around a known exchange: the barrier that
//! makes interest visible across the link publishes an unknown number of sentinels first.

mod common;

use common::http::{get, get_json, wait_json};
use common::leaf::{barrier, frames, wait_link_ready};
use common::{Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use serde_json::{json, Value};

const LEAF_LINE: &str = "Listening for leafnode connections on ";

/// A link's keys in nats-server 2.9.10's order, with `subs=1`.
const LEAF_KEYS: &[&str] = &[
    "account",
    "ip",
    "port",
    "rtt",
    "in_msgs",
    "out_msgs",
    "in_bytes",
    "out_bytes",
    "subscriptions",
    "subscriptions_list",
];

struct Pair {
    hub: Server,
    leaf: Server,
    leaf_port: u16,
    _dir: std::path::PathBuf,
}

/// The hub under test (monitoring on, a leaf port) and a nats-server leaf dialling it.
fn pair(name: &str) -> Pair {
    let dir = std::env::temp_dir().join(format!("ringmq-leafz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hub_conf = dir.join("hub.conf");
    std::fs::write(
        &hub_conf,
        "server_name: hub\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    )
    .expect("write hub.conf");
    let hub = Server::start_with_args(
        Opts {
            monitor: true,
            ..Opts::default()
        },
        &["-c", &hub_conf.to_string_lossy()],
    );
    let leaf_port = hub.listening_port(LEAF_LINE);
    let leaf_conf = dir.join("leaf.conf");
    std::fs::write(
        &leaf_conf,
        format!(
            "server_name: leaf1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
        ),
    )
    .expect("write leaf.conf");
    let launch = Launch {
        args: vec!["-c".into(), leaf_conf.to_string_lossy().into_owned()],
        ..Launch::default()
    };
    let leaf = Server::start_flavor(Flavor::NatsServer, Opts::default(), &launch);
    leaf.wait_for_log("Leafnode connection created", REPLY_TIMEOUT);
    hub.wait_for_log("Leafnode connection created", REPLY_TIMEOUT);
    wait_link_ready(&hub, &leaf);
    Pair {
        hub,
        leaf,
        leaf_port,
        _dir: dir,
    }
}

/// The keys appear in `raw` in this order.
fn assert_key_order(raw: &str, expected: &[&str]) {
    let mut from = 0;
    for key in expected {
        let needle = format!("\"{key}\": ");
        let found = raw[from..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{key} after byte {from} in {raw}"));
        from += found + needle.len();
    }
}

/// The link's (in_msgs, out_msgs, in_bytes, out_bytes).
fn counters(link: &Value) -> [u64; 4] {
    ["in_msgs", "out_msgs", "in_bytes", "out_bytes"].map(|key| {
        link[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {link}"))
    })
}

#[test]
fn leafz_varz_and_connz_show_the_link_exactly() {
    let mut pair = pair("fields");
    let port = pair.hub.monitor_port();

    // Only the link: no client connection in /connz or /varz (once the connections that
    // probed the link are closed).
    let connz = wait_json(port, "/connz", |doc| doc["num_connections"] == json!(0));
    assert_eq!(
        (&connz["num_connections"], &connz["total"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(connz["connections"], json!([]));
    // The link counts once its CONNECT is in (both servers log its creation before).
    let varz = wait_json(port, "/varz", |doc| doc["leafnodes"] == json!(1));
    assert_eq!(varz["connections"], json!(0));
    assert_eq!(
        varz["leaf"],
        json!({"host": "127.0.0.1", "port": pair.leaf_port, "auth_timeout": 2, "tls_timeout": 2})
    );

    // K = 3 subscriptions on the leaf (one a queue group), then a sentinel.
    let mut leaf_sub = RawClient::subscriber(
        pair.leaf.port(),
        "SUB down.> 1\r\nSUB down.a 2\r\nSUB down.q workers 3\r\n",
    );
    let _leaf_sentinel = barrier(&pair.leaf, &pair.hub, "leafside");
    let mut hub_sub = RawClient::subscriber(
        pair.hub.port(),
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB up.> 1\r\n",
    );
    let _hub_sentinel = barrier(&pair.hub, &pair.leaf, "hubside");

    let (leafz, raw) = get_json(port, "/leafz?subs=1");
    assert_key_order(&raw, &["server_id", "now", "leafnodes", "leafs"]);
    assert_key_order(&raw, LEAF_KEYS);
    assert_eq!(leafz["server_id"], varz["server_id"]);
    assert_eq!(leafz["leafnodes"], json!(1));
    let link = &leafz["leafs"][0];
    assert_eq!(leafz["leafs"].as_array().map(Vec::len), Some(1), "{leafz}");
    assert_eq!(link["account"], json!("$G"));
    assert_eq!(link["ip"], json!("127.0.0.1"));
    let link_port = link["port"].as_u64().expect("port");
    assert!(
        link_port > 0 && link_port != u64::from(pair.leaf_port),
        "{link}"
    );
    // Measured by the hub's first PING on the link (nats-server's within a second).
    let measured = wait_json(port, "/leafz", |doc| doc["leafs"][0]["rtt"] != json!("0s"));
    let rtt = measured["leafs"][0]["rtt"].as_str().expect("rtt text");
    let number = ["ns", "µs", "ms", "s"]
        .iter()
        .find_map(|unit| rtt.strip_suffix(unit))
        .unwrap_or_else(|| panic!("a Go duration: {rtt}"));
    assert!(number.parse::<f64>().is_ok_and(|n| n > 0.0), "{rtt}");
    // The leaf's own 4 (3 system requests, its $LDS subject), our 3 and the sentinel.
    let mut subjects: Vec<String> = link["subscriptions_list"]
        .as_array()
        .expect("subscriptions_list")
        .iter()
        .map(|s| s.as_str().expect("a subject").to_string())
        .collect();
    subjects.sort();
    assert_eq!(link["subscriptions"], json!(8), "{link}");
    assert!(subjects[0].starts_with("$LDS."), "{subjects:?}");
    assert_eq!(
        subjects[1..],
        [
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            "$SYS.REQ.SERVER.PING.CONNZ",
            "down.>",
            "down.a",
            "down.q",
            "sentinel.leafside",
        ]
    );
    let before = counters(link);

    // Leaf → hub: 3 messages of 3 + 2 + 14 bytes (the last with headers); one without
    // interest stays on the leaf.
    let mut leaf_pub = RawClient::connect_quiet(
        pair.leaf.port(),
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\n",
    );
    leaf_pub.send_and_sync(
        b"PUB up.x 3\r\nabc\r\nPUB up.y r 2\r\nhi\r\nHPUB up.z 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB none 1\r\nx\r\n",
    );
    assert_eq!(
        frames(&mut hub_sub, 3),
        "MSG up.x 1 3\r\nabc\r\nMSG up.y 1 r 2\r\nhi\r\nHMSG up.z 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
    // Hub → leaf: 2 messages of 5 + 1 bytes, one link message each whatever the leaf's
    // subscriber count.
    let mut hub_pub = RawClient::connect_quiet(pair.hub.port(), b"");
    hub_pub.send_and_sync(b"PUB down.a 5\r\nhello\r\nPUB down.b 1\r\nx\r\n");
    let got = frames(&mut leaf_sub, 3);
    assert_eq!(got.matches("MSG down.a ").count(), 2, "{got}");
    assert!(got.contains("MSG down.b 1 1\r\nx\r\n"), "{got}");

    let expected = [before[0] + 3, before[1] + 2, before[2] + 19, before[3] + 6];
    let leafz = wait_json(port, "/leafz", |doc| counters(&doc["leafs"][0]) == expected);
    assert!(
        leafz["leafs"][0].get("subscriptions_list").is_none(),
        "{leafz}"
    );

    // `acc`: the link's account lists it, another lists nothing (`null`).
    let (by_account, _) = get_json(port, "/leafz?acc=$G");
    assert_eq!(by_account["leafnodes"], json!(1));
    let (other, raw) = get_json(port, "/leafz?acc=OTHER");
    assert!(
        raw.ends_with("\"leafnodes\": 0,\n  \"leafs\": null\n}"),
        "{raw}"
    );
    assert_eq!(other["leafs"], Value::Null);
    let (status, body) = get(port, "/leafz?subs=x");
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax"
        )
    );

    // The leaf goes: the hub logs the close as nats-server does, and lists no link.
    pair.leaf.terminate(REPLY_TIMEOUT);
    let line = pair.hub.wait_for_log(
        "Leafnode connection closed: Client Closed account: $G",
        REPLY_TIMEOUT,
    );
    assert!(line.contains("[INF] 127.0.0.1:"), "{line}");
    let created = pair
        .hub
        .wait_for_log("Leafnode connection created", REPLY_TIMEOUT);
    assert!(created.contains("[INF] 127.0.0.1:"), "{created}");
    assert!(
        created.ends_with("- Leafnode connection created"),
        "{created}"
    );
    let leafz = wait_json(port, "/leafz", |doc| doc["leafnodes"] == json!(0));
    assert_eq!(leafz["leafs"], Value::Null);
    let (varz, _) = get_json(port, "/varz");
    assert_eq!(varz["leafnodes"], json!(0));
}
