//! Configuration reload (SIGHUP, `--signal reload`): what a rewritten config file changes
//! for clients already connected, and what it may not change (spec §13, nats-server 2.9.10's
//! reload rules). Each test starts the server with `-c FILE`, rewrites the file, sends
//! SIGHUP and waits for the log line that ends the reload, then checks the wire.
//!
//! The tests run against either server (`RINGMQ_TEST_SERVER=nats-server` validates them).

mod common;

use common::{text, Flavor, Opts, RawClient, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Generous: the machine is shared.
const DEADLINE: Duration = Duration::from_secs(20);

const RELOADED: &str = "Reloaded server configuration";
const FAILED: &str = "Failed to reload server configuration: ";

/// A config file for one test, removed on drop.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(test: &str, text: &str) -> ConfigFile {
        let path =
            std::env::temp_dir().join(format!("ringmq-reload-{test}-{}.conf", std::process::id()));
        let file = ConfigFile(path);
        file.rewrite(text);
        file
    }

    fn rewrite(&self, text: &str) {
        std::fs::write(&self.0, text).expect("write config");
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn start(file: &ConfigFile) -> Server {
    Server::start(Opts {
        args: vec![
            "-c".into(),
            file.path().to_str().expect("UTF-8 path").into(),
        ],
        ..Opts::default()
    })
}

fn hangup(server: &Server) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP: {status:?}");
}

/// Sends SIGHUP and waits for the `n`-th successful reload.
fn reload(server: &Server, n: usize) {
    hangup(server);
    server.wait_for_log_count(RELOADED, n, DEADLINE);
}

fn deadline() -> Instant {
    Instant::now() + DEADLINE
}

fn connect(server: &Server, connect_json: &str) -> RawClient {
    let mut client = server.raw();
    client.send(format!("CONNECT {connect_json}\r\n").as_bytes());
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
    client
}

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// A quiet client logged in as `user` with `pass`.
fn login(server: &Server, user: &str, pass: &str) -> RawClient {
    connect(
        server,
        &format!(r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{pass}"}}"#),
    )
}

fn info_field(info: &str, field: &str) -> serde_json::Value {
    let json = info.trim_end().trim_start_matches("INFO ");
    let info: serde_json::Value = serde_json::from_str(json).expect("INFO is JSON");
    info[field].clone()
}

#[test]
fn a_lower_max_payload_applies_to_connected_clients_and_the_next_info() {
    let file = ConfigFile::new("max-payload", "max_payload: 1024\n");
    let server = start(&file);
    let mut old = connect(&server, QUIET);
    assert_eq!(info_field(&old.info, "max_payload"), 1024);
    let body = "x".repeat(200);
    let publish = format!("PUB foo 200\r\n{body}\r\n");
    assert_eq!(text(&old.send_and_sync(publish.as_bytes())), "PONG\r\n");

    file.rewrite("max_payload: 100\n");
    reload(&server, 1);
    server.wait_for_log("Reloaded: max_payload = 100", DEADLINE);
    let new = server.raw();
    assert_eq!(info_field(&new.info, "max_payload"), 100);
    old.send(publish.as_bytes());
    assert_eq!(
        text(&old.read_to_eof(deadline())),
        "-ERR 'Maximum Payload Violation'\r\n"
    );
}

#[test]
fn an_option_fixed_at_start_refuses_the_whole_reload() {
    let file = ConfigFile::new("fixed", "max_pending: 1MB\nmax_payload: 1024\n");
    let server = start(&file);
    let mut client = connect(&server, QUIET);
    // max_payload alone would be allowed; max_pending with it refuses both.
    file.rewrite("max_pending: 2MB\nmax_payload: 100\n");
    hangup(&server);
    let line = server.wait_for_log(FAILED, DEADLINE);
    assert!(
        line.ends_with(
            "[ERR] Failed to reload server configuration: config reload not supported for \
             MaxPending: old=1048576, new=2097152"
        ),
        "{line}"
    );
    let body = "x".repeat(200);
    let publish = format!("PUB foo 200\r\n{body}\r\n");
    assert_eq!(text(&client.send_and_sync(publish.as_bytes())), "PONG\r\n");
    assert_eq!(info_field(&server.raw().info, "max_payload"), 1024);
    assert!(!server.log_lines().iter().any(|l| l.contains(RELOADED)));
}

#[test]
fn without_a_config_file_reload_is_refused_with_nats_server_text() {
    let server = Server::start(Opts::default());
    hangup(&server);
    let line = server.wait_for_log(FAILED, DEADLINE);
    assert!(
        line.ends_with(
            "[ERR] Failed to reload server configuration: can only reload config when a file is \
             provided using -c or --config"
        ),
        "{line}"
    );
}

const TWO_USERS: &str = r#"
authorization {
  users: [
    { user: alice, password: apw }
    { user: bob, password: bpw }
  ]
}
"#;

#[test]
fn a_removed_user_is_disconnected_and_the_others_stay() {
    let file = ConfigFile::new("users", TWO_USERS);
    let server = start(&file);
    let mut alice = login(&server, "alice", "apw");
    let mut bob = login(&server, "bob", "bpw");
    file.rewrite("authorization { users: [ { user: alice, password: apw } ] }\n");
    reload(&server, 1);
    server.wait_for_log("Reloaded: authorization users", DEADLINE);
    // A user that is gone is closed without an -ERR (nats-server: it "moved accounts").
    assert_eq!(text(&bob.read_to_eof(deadline())), "");
    assert_eq!(text(&alice.send_and_sync(b"")), "PONG\r\n");

    // bob can no longer log in; alice still can.
    let mut again = server.raw();
    again.send(b"CONNECT {\"verbose\":false,\"user\":\"bob\",\"pass\":\"bpw\"}\r\nPING\r\n");
    assert_eq!(
        text(&again.read_to_eof(deadline())),
        "-ERR 'Authorization Violation'\r\n"
    );
    login(&server, "alice", "apw");
}

#[test]
fn a_changed_password_refuses_the_connected_client() {
    let file = ConfigFile::new("password", TWO_USERS);
    let server = start(&file);
    let mut alice = login(&server, "alice", "apw");
    let mut bob = login(&server, "bob", "bpw");
    file.rewrite(&TWO_USERS.replace("bpw", "changed"));
    reload(&server, 1);
    assert_eq!(
        text(&bob.read_to_eof(deadline())),
        "-ERR 'Authorization Violation'\r\n"
    );
    server.wait_for_log("authentication error - User \"bob\"", DEADLINE);
    assert_eq!(text(&alice.send_and_sync(b"")), "PONG\r\n");
}

#[test]
fn a_token_added_by_reload_disconnects_clients_without_it() {
    let file = ConfigFile::new("token", "port: 4222\n");
    let server = start(&file);
    let mut before = connect(&server, QUIET);
    assert_eq!(
        info_field(&before.info, "auth_required"),
        serde_json::Value::Null
    );
    file.rewrite("authorization { token: s3cr3t }\n");
    reload(&server, 1);
    server.wait_for_log("Reloaded: authorization token", DEADLINE);
    assert_eq!(
        text(&before.read_to_eof(deadline())),
        "-ERR 'Authorization Violation'\r\n"
    );
    let mut with_token = server.raw();
    assert_eq!(info_field(&with_token.info, "auth_required"), true);
    with_token.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"s3cr3t\"}\r\n");
    assert_eq!(text(&with_token.send_and_sync(b"")), "PONG\r\n");
}

#[test]
fn narrowed_permissions_drop_the_subscriptions_they_no_longer_allow() {
    let file = ConfigFile::new(
        "permissions",
        "authorization { users: [ { user: alice, password: apw } ] }\n",
    );
    let server = start(&file);
    let mut alice = login(&server, "alice", "apw");
    assert_eq!(
        text(&alice.send_and_sync(b"SUB foo 1\r\nSUB bar 2\r\nSUB baz q 3\r\n")),
        "PONG\r\n"
    );
    file.rewrite(
        r#"authorization { users: [ { user: alice, password: apw,
             permissions: { subscribe: { allow: ["foo", "baz"] }, publish: ">" } } ] }
"#,
    );
    reload(&server, 1);
    let frame = alice.next_frame(deadline()).expect("the violation");
    assert_eq!(
        text(&frame),
        "-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"2\")'\r\n"
    );
    server.wait_for_log(
        "Removed sub \"bar\" (sid \"2\") for User \"alice\" - not authorized",
        DEADLINE,
    );
    let mut publisher = login(&server, "alice", "apw");
    assert_eq!(
        text(&publisher.send_and_sync(b"PUB bar 1\r\nb\r\nPUB foo 1\r\nf\r\nPUB baz 1\r\nz\r\n")),
        "PONG\r\n"
    );
    // Only foo and baz arrive; the new rules also apply to new subscriptions.
    assert_eq!(
        text(&alice.send_and_sync(b"")),
        "MSG foo 1 1\r\nf\r\nMSG baz 3 1\r\nz\r\nPONG\r\n"
    );
    assert_eq!(
        text(&alice.send_and_sync(b"SUB bar 4\r\n")),
        "-ERR 'Permissions Violation for Subscription to \"bar\"'\r\nPONG\r\n"
    );
}

#[test]
fn a_lower_max_connections_closes_the_surplus() {
    let file = ConfigFile::new("max-connections", "max_connections: 10\n");
    let server = start(&file);
    let mut clients: Vec<RawClient> = (0..4).map(|_| connect(&server, QUIET)).collect();
    file.rewrite("max_connections: 1\n");
    reload(&server, 1);
    server.wait_for_log(
        "Closed 3 connections to fall within max_connections",
        DEADLINE,
    );
    server.wait_for_log("Reloaded: max_connections = 1", DEADLINE);
    let mut closed = 0;
    for client in &mut clients {
        client.send(b"PING\r\n");
        let answer = text(&client.next_frame(deadline()).expect("a reply before EOF"));
        match answer.as_str() {
            "-ERR 'maximum connections exceeded'\r\n" => closed += 1,
            "PONG\r\n" => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(closed, 3);
}

#[test]
fn debug_logging_is_switched_on_by_reload() {
    let file = ConfigFile::new("debug", "debug: false\n");
    let server = start(&file);
    file.rewrite("debug: true\n");
    reload(&server, 1);
    server.wait_for_log("Reloaded: debug = true", DEADLINE);
    let client = server.raw();
    drop(client);
    server.wait_for_log("[DBG]", DEADLINE);
}

#[test]
fn signal_reload_by_pid_reloads() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let file = ConfigFile::new("signal", "ping_interval: \"2m\"\n");
    let server = start(&file);
    file.rewrite("ping_interval: \"90s\"\n");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ringmq"))
        .arg("--signal")
        .arg(format!("reload={}", server.pid()))
        .status()
        .expect("run ringmq --signal");
    assert!(status.success(), "--signal reload: {status:?}");
    server.wait_for_log("Reloaded: ping_interval = 1m30s", DEADLINE);
    server.wait_for_log(RELOADED, DEADLINE);
}

#[test]
fn accounts_added_by_reload_are_isolated_and_a_moved_user_is_closed() {
    let file = ConfigFile::new(
        "accounts",
        "accounts { A: { users: [ { user: a1, password: p }, { user: a2, password: p } ] } }\n",
    );
    let server = start(&file);
    let mut a1 = login(&server, "a1", "p");
    let mut a2 = login(&server, "a2", "p");
    assert_eq!(text(&a1.send_and_sync(b"SUB x 1\r\n")), "PONG\r\n");
    file.rewrite(
        "accounts {\n\
           A: { users: [ { user: a1, password: p } ] }\n\
           B: { users: [ { user: b1, password: p }, { user: b2, password: p }, \
                         { user: a2, password: p } ] }\n\
         }\n",
    );
    reload(&server, 1);
    // a2 moved to B: closed without a word; a1 stays in A.
    assert_eq!(text(&a2.read_to_eof(deadline())), "");
    // Two clients of the new account (on different cores with ringmq's two cores) see each
    // other's messages, and A's subscriber sees none of them.
    let mut b1 = login(&server, "b1", "p");
    assert_eq!(text(&b1.send_and_sync(b"SUB x 7\r\n")), "PONG\r\n");
    let mut b2 = login(&server, "b2", "p");
    assert_eq!(text(&b2.send_and_sync(b"PUB x 2\r\nhi\r\n")), "PONG\r\n");
    assert_eq!(text(&b1.send_and_sync(b"")), "MSG x 7 2\r\nhi\r\nPONG\r\n");
    assert_eq!(
        text(&a1.send_and_sync(b"PUB x 1\r\na\r\n")),
        "MSG x 1 1\r\na\r\nPONG\r\n"
    );
    assert_eq!(text(&b1.send_and_sync(b"")), "PONG\r\n");
}

/// A deliberate difference: nats-server 2.9.10 closes every client of a single
/// `user`/`password` configuration on each reload (it finds no user list to look the user up
/// in); ringmq keeps them while their credentials still pass.
#[test]
fn a_single_user_client_survives_a_reload() {
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let file = ConfigFile::new("single-user", "authorization { user: u, password: p }\n");
    let server = start(&file);
    let mut client = login(&server, "u", "p");
    reload(&server, 1);
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
    file.rewrite("authorization { user: u, password: changed }\n");
    reload(&server, 2);
    assert_eq!(
        text(&client.read_to_eof(deadline())),
        "-ERR 'Authorization Violation'\r\n"
    );
}

/// A reload that changes bcrypt hashes checks the connected clients again (off the core, in
/// ringmq): one whose password still matches the new hash stays, one whose does not is
/// refused.
#[test]
fn changed_bcrypt_hashes_check_connected_clients_again() {
    let hash = |password: &str| bcrypt::hash(password, 10).expect("bcrypt");
    let users = |alice: &str, bob: &str| {
        format!(
            "authorization {{ users = [\n  {{user: alice, password: \"{alice}\"}}\n  \
             {{user: bob, password: \"{bob}\"}}\n] }}\n"
        )
    };
    let file = ConfigFile::new("bcrypt", &users(&hash("apw"), &hash("bpw")));
    let server = start(&file);
    let mut alice = login(&server, "alice", "apw");
    let mut bob = login(&server, "bob", "bpw");
    // Alice's password hashed again (a new salt), Bob's replaced.
    file.rewrite(&users(&hash("apw"), &hash("changed")));
    reload(&server, 1);
    assert_eq!(
        text(&bob.read_to_eof(deadline())),
        "-ERR 'Authorization Violation'\r\n"
    );
    server.wait_for_log("authentication error - User \"bob\"", DEADLINE);
    assert_eq!(
        text(&alice.send_and_sync(b"SUB a 1\r\nPUB a 2\r\nhi\r\n")),
        "MSG a 1 2\r\nhi\r\nPONG\r\n"
    );
}

/// A port free at the time of asking (the kernel's pick), for a config that must name its
/// port: a refusal prints it.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

#[test]
fn an_unchanged_websocket_block_lets_the_rest_of_a_reload_apply() {
    let block = "websocket { listen: \"127.0.0.1:-1\", no_tls: true, compression: true, \
                 allowed_origins: [\"http://a\", \"http://b\"] }\n";
    let file = ConfigFile::new("ws-same", &format!("max_payload: 1024\n{block}"));
    let server = start(&file);
    // The origins in another order are the same list, as for nats-server.
    let reordered = block.replace("\"http://a\", \"http://b\"", "\"http://b\", \"http://a\"");
    file.rewrite(&format!("max_payload: 100\n{reordered}"));
    reload(&server, 1);
    server.wait_for_log("Reloaded: max_payload = 100", DEADLINE);
    assert_eq!(info_field(&server.raw().info, "max_payload"), 100);
}

#[test]
fn a_changed_websocket_block_refuses_the_reload_with_nats_server_text() {
    let port = free_port();
    let block = |compression: bool| {
        format!(
            "websocket {{ listen: \"127.0.0.1:{port}\", no_tls: true, compression: \
             {compression} }}\n"
        )
    };
    let file = ConfigFile::new(
        "ws-changed",
        &format!("max_payload: 1024\n{}", block(false)),
    );
    let server = start(&file);
    file.rewrite(&format!("max_payload: 100\n{}", block(true)));
    hangup(&server);
    let line = server.wait_for_log(FAILED, DEADLINE);
    let expected = format!(
        "[ERR] Failed to reload server configuration: config reload not supported for \
         Websocket: old={{127.0.0.1 {port}       0 true <nil> false map[] false [] false 0s}}, \
         new={{127.0.0.1 {port}       0 true <nil> false map[] false [] true 0s}}"
    );
    assert!(line.ends_with(&expected), "{line}");
    // Nothing of the file applied, the other change included.
    assert_eq!(info_field(&server.raw().info, "max_payload"), 1024);
    // Removing the block is a change too.
    file.rewrite("max_payload: 1024\n");
    hangup(&server);
    let line = server.wait_for_log_count(FAILED, 2, DEADLINE);
    let expected = format!(
        "old={{127.0.0.1 {port}       0 true <nil> false map[] false [] false 0s}}, new={{ 0       \
         0 false <nil> false map[] false [] false 0s}}"
    );
    assert!(line.ends_with(&expected), "{line}");
    assert!(!server.log_lines().iter().any(|l| l.contains(RELOADED)));
}
