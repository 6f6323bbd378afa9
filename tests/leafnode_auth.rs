//! Leaf node authorization, accounts and deny lists, both roles. The server under test
//! (ringmq, or nats-server with `RINGMQ_TEST_SERVER=nats-server`) is the hub of a real
//! nats-server 2.9.10 leaf, or the leaf of a real nats-server hub; a few tests speak the
//! leaf protocol themselves (a fake leaf on the hub's leaf port, a fake hub the leaf dials)
//! to compare exact bytes.
//!
//! Accounts: each side has accounts A and B (users `a`/`a`, `b`/`b`) and `no_auth_user: a`,
//! so a client without credentials is in A. "Never reaches B" is checked with the link's
//! order: the message that must not arrive is published (and flushed) before a sentinel
//! that must, and the sentinel's arrival ends the wait.

mod common;

use common::leaf::{
    count_msgs, drain, frames, temp_dir, wait_link_ready, write_conf, LINK_TIMEOUT,
};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

const ACCOUNTS: &str = "accounts { A { users [ {user: a, password: a} ] }, \
                        B { users [ {user: b, password: b} ] } }\nno_auth_user: a\n";

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn start(flavor: Flavor, dir: &Path, name: &str, body: &str) -> Server {
    let conf = write_conf(dir, &format!("{name}.conf"), body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    Server::start_flavor(flavor, Opts::default(), &launch)
}

/// A client logged in as `user` (password = name) with `subs` visible to later publishes.
fn login(port: u16, user: &str, subs: &str) -> RawClient {
    let mut client = RawClient::connect(port);
    client.send(
        format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n")
            .as_bytes(),
    );
    client.send(subs.as_bytes());
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
    client
}

/// Publishes `subject` from `publisher` until `sentinel` (subscribed to it alone, after
/// the subscriptions the test relies on) gets it: interest crosses a link in order, so the
/// earlier subscriptions are visible to the publishing side too.
fn publish_until_seen(publisher: &mut RawClient, subject: &str, sentinel: &mut RawClient) {
    let deadline = Instant::now() + LINK_TIMEOUT;
    loop {
        publisher.send_and_sync(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
        if text(&sentinel.send_and_sync(b"")).contains("MSG") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{subject} never crossed the link"
        );
    }
}

/// The line of `server`'s log that contains `needle` (waited for).
fn log_line(server: &Server, needle: &str) -> String {
    server.wait_for_log(needle, LINK_TIMEOUT)
}

/// The part of a log line after `lid:N - `.
fn after_lid(line: &str) -> &str {
    let at = line.find("lid:").expect("a link's log line");
    let rest = &line[at..];
    &rest[rest.find(" - ").expect("lid:N - ") + 3..]
}

// ---- The server under test as the hub ----

/// The hub under test with accounts and `authorization` on its leaf port (`auth` inside
/// the block); returns it and its leaf port.
fn start_hub(dir: &Path, auth: &str) -> (Server, u16) {
    let leaf_port = free_port();
    let body = format!(
        "server_name: hub\n{ACCOUNTS}leafnodes {{ listen: \"127.0.0.1:{leaf_port}\"\n  authorization {{ {auth} }}\n}}\n"
    );
    (start(Flavor::from_env(), dir, "hub", &body), leaf_port)
}

fn fake_leaf(leaf_port: u16) -> RawClient {
    RawClient::from_stream(TcpStream::connect(("127.0.0.1", leaf_port)).expect("leaf port"))
}

fn leaf_connect(user: &str, pass: &str) -> String {
    format!(
        "CONNECT {{\"version\":\"2.9.10\",\"user\":\"{user}\",\"pass\":\"{pass}\",\"tls_required\":false,\
         \"server_id\":\"NFAKELEAF{user}\",\"name\":\"fake\",\"cluster\":\"fake\",\"headers\":true}}\r\n"
    )
}

/// `remote_account` of the hub's second INFO.
fn remote_account(info: &[u8]) -> String {
    let json = text(info);
    let json = json.trim_end().trim_start_matches("INFO ");
    let info: serde_json::Value = serde_json::from_str(json).expect("INFO is JSON");
    assert_eq!(info["connect_info"], true, "{json}");
    info["remote_account"]
        .as_str()
        .expect("remote_account")
        .to_string()
}

#[test]
fn leaf_port_checks_credentials_and_names_the_bound_account() {
    let dir = temp_dir("leafauth", "fake-leaf");
    let hash = bcrypt::hash("pb", 4).expect("bcrypt");
    let (hub, leaf_port) = start_hub(
        &dir,
        &format!(
            "users [ {{user: leafa, password: pa, account: A}}, {{user: leafb, password: \"{hash}\", account: B}}, {{user: leafg, password: pg}} ]"
        ),
    );
    for (user, pass) in [("leafa", "bad"), ("nobody", "pa"), ("leafb", "pa")] {
        let mut leaf = fake_leaf(leaf_port);
        leaf.send(leaf_connect(user, pass).as_bytes());
        let got = leaf.read_to_eof(Instant::now() + REPLY_TIMEOUT);
        assert_eq!(text(&got), "-ERR 'Authorization Violation'\r\n", "{user}");
    }
    // The log line may follow the close: wait for it.
    hub.wait_for_log_count(
        "Leafnode connection closed: Authentication Failure account:",
        3,
        LINK_TIMEOUT,
    );
    let line = log_line(&hub, "authentication error - User \"nobody\"");
    assert_eq!(after_lid(&line), "authentication error - User \"nobody\"");
    for (user, pass, account) in [
        ("leafa", "pa", "A"),
        ("leafb", "pb", "B"),
        ("leafg", "pg", "$G"),
    ] {
        let mut leaf = fake_leaf(leaf_port);
        leaf.send(leaf_connect(user, pass).as_bytes());
        let info = leaf
            .next_frame(Instant::now() + REPLY_TIMEOUT)
            .expect("INFO");
        assert_eq!(remote_account(&info), account, "{user}");
    }
    assert_eq!(
        hub.count_log("Leafnode connection closed: Authentication Failure"),
        3
    );
}

#[test]
fn a_bcrypt_leaf_password_is_checked_while_the_links_input_waits() {
    let dir = temp_dir("leafauth", "bcrypt-held");
    let hash = bcrypt::hash("pb", 4).expect("bcrypt");
    let (hub, leaf_port) = start_hub(
        &dir,
        &format!("users [ {{user: leafb, password: \"{hash}\", account: B}} ]"),
    );
    let mut leaf = fake_leaf(leaf_port);
    // One write: the LS+ and PING behind the CONNECT wait for the bcrypt answer.
    leaf.send(format!("{}LS+ held.sub\r\nPING\r\n", leaf_connect("leafb", "pb")).as_bytes());
    let info = leaf
        .next_frame(Instant::now() + REPLY_TIMEOUT)
        .expect("INFO");
    assert_eq!(remote_account(&info), "B");
    let rest = text(&leaf.read_until_pong(Instant::now() + REPLY_TIMEOUT));
    // nats-server also announces its system account's service imports (`LS+ $SYS.…`).
    let lines: Vec<&str> = rest
        .split_terminator("\r\n")
        .filter(|line| !line.starts_with("LS+ $SYS."))
        .collect();
    assert_eq!(lines.len(), 2, "{rest:?}");
    assert!(lines[0].starts_with("LS+ $LDS."), "{rest:?}");
    assert_eq!(lines[1], "PONG");
    // The held LS+ was applied in account B: B's publisher reaches the link, A's does not.
    let mut in_a = RawClient::connect_quiet(hub.port(), b"");
    in_a.send_and_sync(b"PUB held.sub 1\r\na\r\n");
    let mut in_b = login(hub.port(), "b", "");
    in_b.send_and_sync(b"PUB held.sub 1\r\nb\r\n");
    assert_eq!(frames(&mut leaf, 2), "LMSG held.sub 1\r\nb\r\n");
}

#[test]
fn leaf_port_closes_a_leaf_that_sends_no_connect_in_time() {
    let dir = temp_dir("leafauth", "timeout");
    let (hub, leaf_port) = start_hub(&dir, "user: leaf, password: s3cret, timeout: 0.5");
    let started = Instant::now();
    let mut leaf = fake_leaf(leaf_port);
    let got = leaf.read_to_eof(Instant::now() + REPLY_TIMEOUT);
    assert_eq!(text(&got), "-ERR 'Authentication Timeout'\r\n");
    assert!(
        started.elapsed().as_millis() >= 500,
        "{:?}",
        started.elapsed()
    );
    log_line(
        &hub,
        "Leafnode connection closed: Authentication Timeout account:",
    );
}

/// The hub under test and a nats-server leaf dialling `url_userinfo@` its leaf port with
/// `remote_extra` in its remote.
fn hub_and_leaf(name: &str, auth: &str, userinfo: &str, remote_extra: &str) -> (Server, Server) {
    let dir = temp_dir("leafauth", name);
    let (hub, leaf_port) = start_hub(&dir, auth);
    let leaf = start(
        Flavor::NatsServer,
        &dir,
        "leaf",
        &format!(
            "server_name: leaf1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://{userinfo}127.0.0.1:{leaf_port}\" {remote_extra} }} ] }}\n"
        ),
    );
    (hub, leaf)
}

#[test]
fn hub_binds_the_leaf_to_its_users_account_only() {
    let (hub, leaf) = hub_and_leaf(
        "hub-account",
        "users [ {user: leafa, password: pa, account: A} ]",
        "leafa:pa@",
        "",
    );
    wait_link_ready(&hub, &leaf);
    // Leaf → hub: into A, never B.
    let mut in_a = RawClient::subscriber(hub.port(), "SUB up.> 1\r\n");
    let mut in_b = login(hub.port(), "b", "SUB up.> 2\r\n");
    let mut sentinel = RawClient::subscriber(hub.port(), "SUB sync.up 5\r\n");
    let mut leaf_pub = RawClient::connect_quiet(leaf.port(), b"");
    publish_until_seen(&mut leaf_pub, "sync.up", &mut sentinel);
    leaf_pub.send_and_sync(b"PUB up.x 2\r\nhi\r\nPUB up.x 2\r\nhi\r\n");
    assert_eq!(
        frames(&mut in_a, 2),
        "MSG up.x 1 2\r\nhi\r\nMSG up.x 1 2\r\nhi\r\n"
    );
    assert_eq!(drain(&mut in_a), "PONG\r\n");
    assert_eq!(drain(&mut in_b), "PONG\r\n");
    // Hub → leaf: A's messages cross, B's never do.
    let mut leaf_sub = RawClient::subscriber(leaf.port(), "SUB down.> 9\r\n");
    let mut sentinel = RawClient::subscriber(leaf.port(), "SUB sync.down 5\r\n");
    let mut a_pub = RawClient::connect_quiet(hub.port(), b"");
    publish_until_seen(&mut a_pub, "sync.down", &mut sentinel);
    let mut b_pub = login(hub.port(), "b", "");
    b_pub.send_and_sync(b"PUB down.x 1\r\nb\r\n");
    a_pub.send_and_sync(b"PUB down.x 1\r\na\r\n");
    assert_eq!(frames(&mut leaf_sub, 1), "MSG down.x 9 1\r\na\r\n");
    assert_eq!(drain(&mut leaf_sub), "PONG\r\n");
    assert_eq!(count_msgs(&mut in_b), 0);
}

#[test]
fn hub_refuses_a_leaf_with_a_wrong_password_and_the_leaf_redials() {
    let (hub, leaf) = hub_and_leaf(
        "hub-refuses",
        "user: leaf, password: s3cret, account: A",
        "leaf:wrong@",
        "",
    );
    hub.wait_for_log_count(
        "Leafnode connection closed: Authentication Failure account:",
        2,
        LINK_TIMEOUT,
    );
    let line = log_line(&hub, "authentication error");
    // Top-level users exist (the accounts'): nats-server names the user.
    assert_eq!(after_lid(&line), "authentication error - User \"leaf\"");
    let line = log_line(&leaf, "Leafnode Error");
    assert_eq!(after_lid(&line), "Leafnode Error 'Authorization Violation'");
}

#[test]
fn hub_sends_nothing_the_leaf_denies_importing() {
    let (hub, leaf) = hub_and_leaf(
        "hub-deny",
        "user: leaf, password: s3cret, account: A",
        "leaf:s3cret@",
        ", deny_imports: [\"imp.denied\"]",
    );
    wait_link_ready(&hub, &leaf);
    // A wildcard interest crosses; the hub filters the denied subject itself (deny_pub).
    let mut leaf_sub = RawClient::subscriber(leaf.port(), "SUB imp.> 1\r\n");
    let mut sentinel = RawClient::subscriber(leaf.port(), "SUB sync.imp 5\r\n");
    let mut hub_pub = RawClient::connect_quiet(hub.port(), b"");
    publish_until_seen(&mut hub_pub, "sync.imp", &mut sentinel);
    hub_pub.send_and_sync(b"PUB imp.denied 1\r\nd\r\nPUB imp.ok 1\r\nk\r\n");
    assert_eq!(frames(&mut leaf_sub, 1), "MSG imp.ok 1 1\r\nk\r\n");
    assert_eq!(drain(&mut leaf_sub), "PONG\r\n");
}

#[test]
fn hub_closes_a_link_that_subscribes_to_a_denied_literal_subject() {
    let dir = temp_dir("leafauth", "violation");
    let (hub, leaf_port) = start_hub(&dir, "user: leaf, password: s3cret, account: A");
    let mut leaf = fake_leaf(leaf_port);
    let connect = leaf_connect("leaf", "s3cret").replace(
        "\"headers\":true}",
        "\"headers\":true,\"deny_pub\":[\"no.\\u003e\"]}",
    );
    leaf.send(connect.as_bytes());
    leaf.send(b"LS+ no.thing\r\n");
    let got = text(&leaf.read_to_eof(Instant::now() + REPLY_TIMEOUT));
    assert!(
        got.ends_with("-ERR 'Permissions Violation for Subscription to \"no.thing\"'\r\n"),
        "{got:?}"
    );
    let line = log_line(&hub, "Subscription Violation");
    assert_eq!(
        after_lid(&line),
        "Subscription Violation on \"no.thing\" - Check other side configuration"
    );
    log_line(
        &hub,
        "Leafnode connection closed: Protocol Violation account: A",
    );
}

// ---- The server under test as the leaf ----

/// A nats-server hub with accounts and leaf `auth`, then the leaf under test dialling it
/// with `userinfo` and `remote_extra`; waits until the leaf logs the link created.
fn leaf_and_hub(name: &str, auth: &str, userinfo: &str, remote_extra: &str) -> (Server, Server) {
    let dir = temp_dir("leafauth", name);
    let leaf_port = free_port();
    let hub = start(
        Flavor::NatsServer,
        &dir,
        "hub",
        &format!(
            "server_name: hub\n{ACCOUNTS}leafnodes {{ listen: \"127.0.0.1:{leaf_port}\"\n  authorization {{ {auth} }}\n}}\n"
        ),
    );
    let leaf = start(
        Flavor::from_env(),
        &dir,
        "leaf",
        &format!(
            "server_name: leaf1\n{ACCOUNTS}leafnodes {{ remotes [ {{ url: \"nats-leaf://{userinfo}127.0.0.1:{leaf_port}\" {remote_extra} }} ] }}\n"
        ),
    );
    (hub, leaf)
}

#[test]
fn leaf_sends_the_url_credentials_and_deny_imports_in_its_connect() {
    let dir = temp_dir("leafauth", "fake-hub");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let leaf = start(
        Flavor::from_env(),
        &dir,
        "leaf",
        &format!(
            "server_name: leaf1\n{ACCOUNTS}leafnodes {{ remotes [ {{ url: \"nats-leaf://us%40r:p%2Fss@127.0.0.1:{port}\", account: B, deny_imports: [\"foo.>\", \"bar\"], deny_exports: baz }} ] }}\n"
        ),
    );
    let (mut stream, _) = listener.accept().expect("the leaf dials");
    stream
        .write_all(
            format!(
                "INFO {{\"server_id\":\"NFAKEHUB\",\"server_name\":\"hub\",\"version\":\"2.9.10\",\"proto\":1,\
                 \"headers\":true,\"auth_required\":true,\"max_payload\":1048576,\"client_id\":6,\
                 \"nonce\":\"abc\",\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:{port}\"]}}\r\n"
            )
            .as_bytes(),
        )
        .expect("INFO");
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("timeout");
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .expect("CONNECT");
    let id_at = line.find("\"server_id\":\"").expect("server_id") + 13;
    let id_end = id_at + line[id_at..].find('"').expect("id end");
    let line = format!("{}ID{}", &line[..id_at], &line[id_end..]);
    assert_eq!(
        line,
        "CONNECT {\"version\":\"2.9.10\",\"user\":\"us@r\",\"pass\":\"p/ss\",\"tls_required\":false,\
         \"server_id\":\"ID\",\"name\":\"leaf1\",\"cluster\":\"leaf1\",\"headers\":true,\
         \"deny_pub\":[\"foo.\\u003e\",\"bar\"]}\r\n"
    );
    log_line(&leaf, "Leafnode connection created for account: B");
}

#[test]
fn leaf_binds_its_link_to_the_remote_account_only() {
    let (hub, leaf) = leaf_and_hub(
        "leaf-account",
        "users [ {user: \"us@r\", password: \"p/ss\", account: A} ]",
        "us%40r:p%2Fss@",
        ", account: B",
    );
    leaf.wait_for_log("Leafnode connection created for account: B", LINK_TIMEOUT);
    // Hub account A ↔ leaf account B.
    let mut hub_a = RawClient::subscriber(hub.port(), "SUB up.> 1\r\n");
    let mut sentinel = RawClient::subscriber(hub.port(), "SUB sync.up 5\r\n");
    let mut leaf_b = login(leaf.port(), "b", "");
    publish_until_seen(&mut leaf_b, "sync.up", &mut sentinel);
    let mut leaf_a = RawClient::connect_quiet(leaf.port(), b"");
    leaf_a.send_and_sync(b"PUB up.x 1\r\na\r\n");
    leaf_b.send_and_sync(b"PUB up.x 1\r\nb\r\n");
    assert_eq!(frames(&mut hub_a, 1), "MSG up.x 1 1\r\nb\r\n");
    assert_eq!(drain(&mut hub_a), "PONG\r\n");
    // Hub → leaf: only B's subscribers see it.
    let mut sub_b = login(leaf.port(), "b", "SUB down.> 2\r\n");
    let mut sub_a = RawClient::subscriber(leaf.port(), "SUB down.> 3\r\n");
    let mut sentinel = login(leaf.port(), "b", "SUB sync.down 5\r\n");
    let mut hub_pub = RawClient::connect_quiet(hub.port(), b"");
    publish_until_seen(&mut hub_pub, "sync.down", &mut sentinel);
    hub_pub.send_and_sync(b"PUB down.x 1\r\nh\r\n");
    assert_eq!(frames(&mut sub_b, 1), "MSG down.x 2 1\r\nh\r\n");
    assert_eq!(drain(&mut sub_b), "PONG\r\n");
    assert_eq!(count_msgs(&mut sub_a), 0);
}

#[test]
fn leaf_refused_by_the_hub_logs_it_and_redials() {
    let (_hub, leaf) = leaf_and_hub(
        "leaf-refused",
        "user: leaf, password: s3cret, account: A",
        "leaf:wrong@",
        "",
    );
    leaf.wait_for_log_count("Leafnode Error 'Authorization Violation'", 2, LINK_TIMEOUT);
    let line = log_line(&leaf, "Leafnode Error");
    assert_eq!(after_lid(&line), "Leafnode Error 'Authorization Violation'");
    let line = log_line(&leaf, "Leafnode connection closed");
    assert_eq!(
        after_lid(&line),
        "Leafnode connection closed: Client Closed account: $G"
    );
}

#[test]
fn leaf_deny_lists_keep_subjects_off_the_link_both_ways() {
    let (hub, leaf) = leaf_and_hub(
        "leaf-deny",
        "user: leaf, password: s3cret, account: A",
        "leaf:s3cret@",
        ", account: A, deny_imports: [\"imp.denied\"], deny_exports: \"exp.denied\"",
    );
    wait_link_ready(&hub, &leaf);
    // Imports: a literal denied interest is not sent; a wildcard one is, and the hub (told
    // by deny_pub) sends nothing on the denied subject.
    let mut literal = RawClient::subscriber(leaf.port(), "SUB imp.denied 1\r\n");
    let mut wild = RawClient::subscriber(leaf.port(), "SUB imp.> 2\r\n");
    let mut sentinel = RawClient::subscriber(leaf.port(), "SUB sync.imp 5\r\n");
    let mut hub_pub = RawClient::connect_quiet(hub.port(), b"");
    publish_until_seen(&mut hub_pub, "sync.imp", &mut sentinel);
    hub_pub.send_and_sync(b"PUB imp.denied 1\r\nd\r\nPUB imp.ok 1\r\nk\r\n");
    assert_eq!(frames(&mut wild, 1), "MSG imp.ok 2 1\r\nk\r\n");
    assert_eq!(drain(&mut wild), "PONG\r\n");
    assert_eq!(count_msgs(&mut literal), 0);
    // Exports: nothing on the denied subject leaves the leaf, even for wildcard interest.
    let mut hub_literal = RawClient::subscriber(hub.port(), "SUB exp.denied 3\r\n");
    let mut hub_wild = RawClient::subscriber(hub.port(), "SUB exp.> 4\r\n");
    let mut sentinel = RawClient::subscriber(hub.port(), "SUB sync.exp 5\r\n");
    let mut leaf_pub = RawClient::connect_quiet(leaf.port(), b"");
    publish_until_seen(&mut leaf_pub, "sync.exp", &mut sentinel);
    leaf_pub.send_and_sync(b"PUB exp.denied 1\r\nd\r\nPUB exp.ok 1\r\nk\r\n");
    assert_eq!(frames(&mut hub_wild, 1), "MSG exp.ok 4 1\r\nk\r\n");
    assert_eq!(drain(&mut hub_wild), "PONG\r\n");
    assert_eq!(count_msgs(&mut hub_literal), 0);
}
