//! JetStream's storage through the server: PubAcks with their exact bytes, a restart after
//! kill -9 with every acknowledged message back, a torn tail cut off the last segment
//! (the record is gone, the ones before it served, the sequence reused), a bit flipped in
//! a record (reported, never served), and start-up's banner. The banner test also runs
//! against nats-server (`RINGMQ_TEST_SERVER=nats-server`); the others damage ringmq's own
//! segment files and run against ringmq only.

mod common;

use common::{Flavor, Opts, RawClient, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const REPLY: Duration = Duration::from_secs(5);

fn store_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringmq-js-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn start(dir: &Path) -> Server {
    let dir = dir.to_str().expect("UTF-8 path").to_string();
    Server::start(Opts {
        args: vec!["-js".into(), "-sd".into(), dir],
        ..Opts::default()
    })
}

/// A client with a reply subscription on `_INBOX.t`.
fn client(server: &Server) -> RawClient {
    RawClient::subscriber(server.port(), "SUB _INBOX.t 1\r\n")
}

/// The payload of the next MSG/HMSG frame.
fn next_payload(client: &mut RawClient) -> String {
    let frame = client
        .next_frame(Instant::now() + REPLY)
        .expect("a reply before the deadline");
    let text = String::from_utf8(frame).expect("UTF-8 reply");
    let (_, body) = text.split_once("\r\n").expect("a MSG line");
    body.strip_suffix("\r\n")
        .expect("CRLF after the payload")
        .to_string()
}

fn request(client: &mut RawClient, subject: &str, body: &str) -> String {
    client.send(format!("PUB {subject} _INBOX.t {}\r\n{body}\r\n", body.len()).as_bytes());
    next_payload(client)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A fresh store directory, a server on it and a client, with stream `S` on `s.>`.
fn with_stream(test: &str) -> (PathBuf, Server, RawClient) {
    let dir = store_dir(test);
    let server = start(&dir);
    let mut c = client(&server);
    create_stream(&mut c);
    (dir, server, c)
}

fn create_stream(client: &mut RawClient) {
    let created = json(&request(
        client,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
    ));
    assert_eq!(created["did_create"], true, "{created}");
}

/// Publishes `count` messages `s.<i>` = `message <i>` and checks each PubAck's bytes.
fn publish(client: &mut RawClient, first_seq: u64, count: u64) {
    for i in 0..count {
        let body = format!("message {}", first_seq + i);
        let ack = request(client, &format!("s.{}", first_seq + i), &body);
        assert_eq!(
            ack,
            format!("{{\"stream\":\"S\", \"seq\":{}}}", first_seq + i)
        );
    }
}

fn state(client: &mut RawClient) -> (u64, u64, u64) {
    let info = json(&request(client, "$JS.API.STREAM.INFO.S", ""));
    let state = &info["state"];
    (
        state["messages"].as_u64().unwrap(),
        state["first_seq"].as_u64().unwrap(),
        state["last_seq"].as_u64().unwrap(),
    )
}

fn get(client: &mut RawClient, seq: u64) -> serde_json::Value {
    json(&request(
        client,
        "$JS.API.STREAM.MSG.GET.S",
        &format!("{{\"seq\":{seq}}}"),
    ))
}

/// The stream's one segment file.
fn segment(dir: &Path) -> PathBuf {
    let streams = dir.join("jetstream").join("$G").join("streams").join("S");
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&streams)
        .expect("stream directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments.pop().unwrap()
}

#[test]
fn start_up_prints_nats_servers_banner_with_the_store_directory() {
    let dir = store_dir("banner");
    let server = start(&dir);
    let lines = server.log_lines();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| {
            l.split_once("[INF]")
                .map(|(_, m)| m.strip_prefix(' ').unwrap_or(m))
        })
        .collect();
    let at = messages
        .iter()
        .position(|m| *m == "Starting JetStream")
        .unwrap_or_else(|| panic!("no banner in {lines:#?}"));
    let store = format!("  Store Directory: \"{}\"", dir.join("jetstream").display());
    assert_eq!(
        messages[at + 8],
        "---------------- JETSTREAM ----------------"
    );
    assert!(
        messages[at + 9].starts_with("  Max Memory:      "),
        "{lines:#?}"
    );
    assert!(
        messages[at + 10].starts_with("  Max Storage:     "),
        "{lines:#?}"
    );
    assert_eq!(messages[at + 11], store);
    assert_eq!(
        messages[at + 12],
        "-------------------------------------------"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_acknowledged_message_is_back_after_kill_9() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let (dir, server, mut c) = with_stream("kill");
    publish(&mut c, 1, 50);
    drop(server); // SIGKILL
    let server = start(&dir);
    server.wait_for_log("Restored 50 messages for stream '$G > S'", REPLY);
    let mut c = client(&server);
    assert_eq!(state(&mut c), (50, 1, 50));
    for seq in [1, 25, 50] {
        let msg = get(&mut c, seq);
        assert_eq!(msg["message"]["subject"], format!("s.{seq}"), "{msg}");
    }
    publish(&mut c, 51, 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_tail_is_cut_and_its_sequence_given_to_the_next_publish() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let (dir, server, mut c) = with_stream("torn");
    publish(&mut c, 1, 10);
    drop(server);
    // A power cut in the middle of the last record's write: its last 5 bytes never
    // landed, and the segment's zero-filled space (ahead of the records) follows.
    let path = segment(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let records_end = bytes.iter().rposition(|&byte| byte != 0).unwrap() + 1;
    assert!(bytes.len() > records_end, "zeros ahead of the records");
    bytes[records_end - 5..records_end].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let server = start(&dir);
    server.wait_for_log("Restored 9 messages for stream '$G > S'", REPLY);
    let mut c = client(&server);
    assert_eq!(state(&mut c), (9, 1, 9));
    assert_eq!(get(&mut c, 10)["error"]["err_code"], 10037);
    assert_eq!(get(&mut c, 9)["message"]["subject"], "s.9");
    publish(&mut c, 10, 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_bit_in_a_record_is_reported_and_never_served() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let (dir, server, mut c) = with_stream("flip");
    publish(&mut c, 1, 10);
    drop(server);
    // Flip one bit of message 5's payload ("message 5" appears once in the file).
    let path = segment(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(9)
        .position(|w| w == b"message 5")
        .expect("payload of message 5 on disk");
    bytes[at + 8] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let server = start(&dir);
    server.wait_for_log("Restored 9 messages for stream '$G > S'", REPLY);
    let mut c = client(&server);
    let (messages, first, last) = state(&mut c);
    assert_eq!((messages, first, last), (9, 1, 10));
    assert_eq!(get(&mut c, 5)["error"]["err_code"], 10037);
    for seq in [4, 6, 10] {
        assert_eq!(get(&mut c, seq)["message"]["subject"], format!("s.{seq}"));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The next `count` frames (deliveries) as (subject line, payload).
fn frames(client: &mut RawClient, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|_| {
            let frame = client
                .next_frame(Instant::now() + REPLY)
                .expect("a delivery before the deadline");
            let text = String::from_utf8(frame).expect("UTF-8");
            let (line, body) = text.split_once("\r\n").expect("a MSG line");
            (line.to_string(), body.trim_end().to_string())
        })
        .collect()
}

#[test]
fn a_durable_consumer_resumes_from_its_ack_floor_after_kill_9() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let (dir, server, mut c) = with_stream("consumer");
    publish(&mut c, 1, 10);
    let created = json(&request(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.S.D",
        r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
    ));
    assert_eq!(created["name"], "D", "{created}");
    c.send(b"PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.t 1\r\n4\r\n");
    let got = frames(&mut c, 4);
    let acks: Vec<&str> = got
        .iter()
        .map(|(line, _)| line.split(' ').nth(3).expect("a reply subject"))
        .collect();
    assert_eq!(acks[0].split('.').nth(5), Some("1"), "{got:?}");
    // Ack 1..=3 and wait for each answer (the server has processed it then).
    for ack in &acks[..3] {
        c.send(format!("PUB {ack} _INBOX.t 0\r\n\r\n").as_bytes());
        assert_eq!(next_payload(&mut c), "");
    }
    // The file is written on the next tick: wait until it says so.
    let file = dir.join("jetstream/$G/streams/S/obs/D.json");
    let deadline = Instant::now() + REPLY;
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("\"ack_floor\":[3,3]") && text.contains("\"delivered\":[4,4]") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "consumer file never caught up: {text}"
        );
        std::thread::sleep(Duration::from_millis(10)); // poll interval of a deadline wait
    }
    drop(server); // SIGKILL
    let server = start(&dir);
    server.wait_for_log("Restored 1 consumers for stream '$G > S'", REPLY);
    let mut c = client(&server);
    let info = json(&request(&mut c, "$JS.API.CONSUMER.INFO.S.D", ""));
    assert_eq!(info["delivered"]["stream_seq"], 4, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 3, "{info}");
    assert_eq!(info["num_ack_pending"], 1, "{info}");
    c.send(b"PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.t 1\r\n2\r\n");
    let got = frames(&mut c, 2);
    // Message 4 again (second delivery), then 5.
    let tokens: Vec<Vec<String>> = got
        .iter()
        .map(|(line, _)| {
            let ack = line.split(' ').nth(3).expect("reply");
            ack.split('.').map(str::to_string).collect()
        })
        .collect();
    assert_eq!(
        (tokens[0][4].as_str(), tokens[0][5].as_str()),
        ("2", "4"),
        "{got:?}"
    );
    assert_eq!(
        (tokens[1][4].as_str(), tokens[1][5].as_str()),
        ("1", "5"),
        "{got:?}"
    );
    assert_eq!(got[0].1, "message 4");
    assert_eq!(got[1].1, "message 5");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads PubAcks `{"stream":"S", "seq":N}` until `deadline`, the connection's end or
/// `max`; returns the acknowledged sequences in arrival order.
fn read_acks(client: &mut RawClient, deadline: Instant, max: usize) -> Vec<u64> {
    let mut acked = Vec::new();
    while acked.len() < max {
        let Some(frame) = client.next_frame(deadline) else {
            break;
        };
        let text = String::from_utf8(frame).expect("UTF-8");
        let Some((_, body)) = text.split_once("\r\n") else {
            continue;
        };
        let ack = json(body.trim_end());
        if let Some(seq) = ack["seq"].as_u64() {
            acked.push(seq);
        }
    }
    acked
}

#[test]
fn kill_9_during_a_publish_storm_loses_no_acknowledged_message() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let (dir, server, mut c) = with_stream("storm");
    // 20,000 publishes written at once; acks are read while they are stored, and the
    // server is killed after the first 5,000 acks, in the middle of the storm.
    let total = 20_000u64;
    let mut batch = Vec::new();
    for i in 1..=total {
        let body = format!("storm {i}");
        batch.extend_from_slice(
            format!("PUB s.{} _INBOX.t {}\r\n{body}\r\n", i % 13, body.len()).as_bytes(),
        );
    }
    let mut writer = c.try_clone_stream();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        // The write fails once the server is gone: that is the point.
        let _ = writer.write_all(&batch);
    });
    let acked = read_acks(&mut c, Instant::now() + REPLY, 5_000);
    assert_eq!(acked.len(), 5_000, "acks before the kill");
    drop(server); // SIGKILL, publishes still arriving
    let _ = sender.join();
    assert_eq!(
        acked,
        (1..=5_000).collect::<Vec<u64>>(),
        "acks in sequence order"
    );
    let server = start(&dir);
    let mut c = client(&server);
    let (messages, first, last) = state(&mut c);
    assert_eq!(first, 1);
    assert!(
        messages >= 5_000 && last == messages,
        "{messages} {first} {last}"
    );
    for seq in [1, 2_500, 5_000] {
        let msg = get(&mut c, seq);
        let data = msg["message"]["data"].as_str().expect("data");
        let decoded = data_encoding::BASE64.decode(data.as_bytes()).unwrap();
        assert_eq!(decoded, format!("storm {seq}").as_bytes(), "{msg}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 2 MiB tmpfs at `dir` (root only; `None` where mounting is not allowed).
fn small_disk(dir: &Path) -> Option<()> {
    std::fs::create_dir_all(dir).ok()?;
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(())
}

#[test]
fn a_full_disk_refuses_publishes_and_keeps_what_was_stored() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let dir = store_dir("full");
    if small_disk(&dir).is_none() {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let server = start(&dir);
    let mut c = client(&server);
    create_stream(&mut c);
    let body = "x".repeat(1024);
    let mut acked = 0u64;
    let refusal = loop {
        let ack = json(&request(&mut c, &format!("s.{}", acked + 1), &body));
        match ack["seq"].as_u64() {
            Some(seq) if ack.get("error").is_none() => {
                acked += 1;
                assert_eq!(seq, acked);
            }
            _ => break ack,
        }
        assert!(acked < 10_000, "a 2 MiB disk never filled");
    };
    assert_eq!(
        refusal,
        serde_json::json!({"error":{"code":503,"err_code":10023,"description":"insufficient resources"},"stream":"S","seq":0}),
        "after {acked} messages"
    );
    assert!(acked > 100, "{acked} messages before the disk filled");
    assert_eq!(state(&mut c), (acked, 1, acked));
    drop(server);
    let server = start(&dir);
    let mut c = client(&server);
    assert_eq!(state(&mut c), (acked, 1, acked), "after a restart");
    let last = get(&mut c, acked);
    assert_eq!(last["message"]["subject"], format!("s.{acked}"), "{last}");
    drop(server);
    let _ = std::process::Command::new("umount").arg(&dir).status();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stream_deleted_and_created_again_at_once_is_created() {
    let (dir, server, mut c) = with_stream("recreate");
    publish(&mut c, 1, 3);
    let body = r#"{"name":"S","subjects":["s.>"]}"#;
    // Both requests in one write: the create arrives while the old files are removed.
    c.send(
        format!(
            "PUB $JS.API.STREAM.DELETE.S _INBOX.t 0\r\n\r\nPUB $JS.API.STREAM.CREATE.S _INBOX.t {}\r\n{body}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let deleted = json(&next_payload(&mut c));
    assert_eq!(deleted["success"], true, "{deleted}");
    let created = json(&next_payload(&mut c));
    assert_eq!(created["did_create"], true, "{created}");
    assert_eq!(created["state"]["messages"], 0, "{created}");
    publish(&mut c, 1, 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_idle_ephemeral_consumer_is_removed_after_its_inactive_threshold() {
    let (dir, server, mut c) = with_stream("inactive");
    let created = json(&request(
        &mut c,
        "$JS.API.CONSUMER.CREATE.S",
        r#"{"stream_name":"S","config":{"ack_policy":"explicit","inactive_threshold":300000000}}"#,
    ));
    let name = created["name"].as_str().expect("a name").to_string();
    let info_subject = format!("$JS.API.CONSUMER.INFO.S.{name}");
    assert_eq!(
        json(&request(&mut c, &info_subject, ""))["name"],
        name.as_str()
    );
    let deadline = Instant::now() + REPLY;
    loop {
        let info = json(&request(&mut c, &info_subject, ""));
        if info["error"]["err_code"] == 10014 {
            break;
        }
        assert!(Instant::now() < deadline, "still there: {info}");
        std::thread::sleep(Duration::from_millis(50)); // poll interval of a deadline wait
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn memory_streams_stay_within_max_memory_store() {
    let dir = store_dir("memlimit");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("js.conf");
    std::fs::write(
        &conf,
        format!(
            "jetstream {{ store_dir: \"{}\", max_memory_store: 65536 }}\n",
            dir.display()
        ),
    )
    .unwrap();
    let server = Server::start(Opts {
        args: vec!["-c".into(), conf.to_str().unwrap().into()],
        ..Opts::default()
    });
    let mut c = client(&server);
    let refused = json(&request(
        &mut c,
        "$JS.API.STREAM.CREATE.BIG",
        r#"{"name":"BIG","storage":"memory","max_bytes":131072}"#,
    ));
    assert_eq!(
        refused["error"],
        serde_json::json!({"code":500,"err_code":10028,"description":"insufficient memory resources available"}),
        "{refused}"
    );
    let created = json(&request(
        &mut c,
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","subjects":["m.>"],"storage":"memory"}"#,
    ));
    assert_eq!(created["did_create"], true, "{created}");
    let body = "y".repeat(1000);
    let mut stored = 0u64;
    let refusal = loop {
        let ack = json(&request(&mut c, "m.x", &body));
        if ack.get("error").is_some() {
            break ack;
        }
        stored += 1;
        assert!(stored < 1_000, "64 KiB never filled");
    };
    assert_eq!(
        refusal["error"],
        serde_json::json!({"code":503,"err_code":10023,"description":"insufficient resources"}),
        "after {stored}"
    );
    // 1,000-byte messages (each counted with its subject and 16 bytes) until the streams
    // hold 64 KiB or more: the one that crosses the limit is still taken.
    assert_eq!(stored, 65_536_u64.div_ceil(1_019), "messages stored");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deleting_a_stream_with_a_durable_consumer_removes_its_directory() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let (dir, server, mut c) = with_stream("delete-consumer");
    publish(&mut c, 1, 2);
    let created = json(&request(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.S.D",
        r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
    ));
    assert_eq!(created["name"], "D", "{created}");
    let stream_dir = dir.join("jetstream/$G/streams/S");
    let file = stream_dir.join("obs/D.json");
    let deadline = Instant::now() + REPLY;
    while !file.exists() {
        assert!(Instant::now() < deadline, "consumer file never written");
        std::thread::sleep(Duration::from_millis(10)); // poll interval of a deadline wait
    }
    let deleted = json(&request(&mut c, "$JS.API.STREAM.DELETE.S", ""));
    assert_eq!(deleted["success"], true, "{deleted}");
    let deadline = Instant::now() + REPLY;
    while stream_dir.exists() {
        assert!(Instant::now() < deadline, "stream directory left behind");
        std::thread::sleep(Duration::from_millis(10)); // poll interval of a deadline wait
    }
    let errors: Vec<String> = server
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("[ERR]"))
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
