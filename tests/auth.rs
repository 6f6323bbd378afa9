//! Authentication, accounts and permissions on the wire, with exact bytes.
//!
//! Flag-based cases (`--auth`, `--user/--pass`) run the server as a child process, so they run
//! against nats-server too (`RINGMQ_TEST_SERVER=nats-server`), log lines included. Cases that
//! need a configuration file describe it once as JSON, which nats-server reads as its config
//! (`-c`) and ringmq reads through `AuthConfig::from_tree` into an in-process broker (ringmq's
//! own `-c` comes with the config-file parser).

mod common;

use common::{text, Flavor, Opts, RawClient};
use data_encoding::BASE64URL_NOPAD;
use nkeys::{KeyPair, KeyPairType};
use ringmq::auth::AuthConfig;
use ringmq::config::Config;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);
/// The wait for a cost-13 bcrypt answer: about a second on an idle core, many times that
/// on a shared 2-core machine running builds (seen: over 10 s).
const BCRYPT_DEADLINE: Duration = Duration::from_secs(60);

fn deadline() -> Instant {
    Instant::now() + DEADLINE
}

const AUTH_VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

/// A server under test: a child process (flags, or nats-server with a config file) or an
/// in-process ringmq broker built from the same configuration.
enum Broker {
    Child(common::Server),
    InProcess(ringmq::broker::Server),
}

impl Broker {
    /// Flags both servers take.
    fn with_flags(args: &[&str]) -> Broker {
        Broker::Child(common::Server::start_with_args(Opts::default(), args))
    }

    /// A configuration given as JSON: nats-server's config file, ringmq's config tree.
    fn with_config(config: &Value) -> Broker {
        Broker::with_config_on_cores(config, 2)
    }

    /// The same, with ringmq on `cores` cores (nats-server has no such setting).
    fn with_config_on_cores(config: &Value, cores: usize) -> Broker {
        match Flavor::from_env() {
            Flavor::NatsServer => {
                let path = std::env::temp_dir().join(format!(
                    "ringmq-auth-{}-{}.conf",
                    std::process::id(),
                    next_file_number()
                ));
                std::fs::write(&path, config.to_string()).expect("write config");
                let path = path.to_str().expect("utf-8 temp path").to_string();
                Broker::with_flags(&["-c", &path])
            }
            Flavor::Ringmq => {
                let auth = AuthConfig::from_tree(config).expect("auth config");
                let config = Config {
                    host: "127.0.0.1".into(),
                    port: 0,
                    cores,
                    auth,
                    ..Config::default()
                };
                let server = ringmq::broker::Server::start(config).expect("broker starts");
                Broker::InProcess(server)
            }
        }
    }

    fn port(&self) -> u16 {
        match self {
            Broker::Child(server) => server.port(),
            Broker::InProcess(server) => server.port(),
        }
    }

    fn raw(&self) -> RawClient {
        RawClient::connect(self.port())
    }

    /// A connection that sent `CONNECT` with `credentials` (JSON members) and saw its PONG.
    fn login(&self, credentials: &str) -> RawClient {
        let mut client = self.raw();
        let connect =
            format!("CONNECT {{\"verbose\":false,\"pedantic\":false,{credentials}}}\r\nPING\r\n");
        client.send(connect.as_bytes());
        assert_eq!(
            text(&client.read_until_pong(deadline())),
            "PONG\r\n",
            "login {credentials}"
        );
        client
    }

    /// A connection whose CONNECT with `credentials` must be refused.
    fn refused(&self, credentials: &str) {
        let mut client = self.raw();
        let connect = format!("CONNECT {{\"verbose\":false,{credentials}}}\r\nPING\r\n");
        client.send(connect.as_bytes());
        assert_eq!(
            text(&client.read_to_eof(deadline())),
            AUTH_VIOLATION,
            "{credentials}"
        );
    }

    fn child(&self) -> &common::Server {
        match self {
            Broker::Child(server) => server,
            Broker::InProcess(_) => panic!("log lines need a child process"),
        }
    }
}

fn next_file_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A user entry of a config tree.
fn user(name: &str, password: &str) -> Value {
    json!({ "user": name, "password": password })
}

fn user_with(name: &str, permissions: Value) -> Value {
    json!({ "user": name, "password": "pw", "permissions": permissions })
}

fn login_as(name: &str) -> String {
    format!("\"user\":\"{name}\",\"pass\":\"pw\"")
}

#[test]
fn token_right_and_wrong() {
    let broker = Broker::with_flags(&["--auth", "s3cr3t"]);
    let info = broker.raw().info;
    assert!(info.contains(",\"auth_required\":true,"), "INFO: {info}");
    assert!(
        !info.contains("\"nonce\""),
        "no nonce without nkey users: {info}"
    );
    broker.refused("\"auth_token\":\"wrong\"");
    broker.refused("\"user\":\"s3cr3t\"");
    let mut client = broker.login("\"auth_token\":\"s3cr3t\"");
    assert_eq!(
        text(&client.send_and_sync(b"SUB t 1\r\nPUB t 2\r\nok\r\n")),
        "MSG t 1 2\r\nok\r\nPONG\r\n"
    );
    let line = broker
        .child()
        .wait_for_log("authentication error", DEADLINE);
    assert!(line.ends_with(" - authentication error"), "{line}");
}

#[test]
fn user_password_right_and_wrong() {
    let broker = Broker::with_flags(&["--user", "alice", "--pass", "secret"]);
    assert!(broker.raw().info.contains(",\"auth_required\":true,"));
    broker.refused("\"user\":\"alice\",\"pass\":\"wrong\"");
    broker.refused("\"user\":\"bob\",\"pass\":\"secret\"");
    broker.refused("\"pass\":\"secret\"");
    let mut client = broker.login("\"user\":\"alice\",\"pass\":\"secret\"");
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
}

/// nats-server decides at the first byte: anything but a CONNECT is refused at once.
#[test]
fn the_first_operation_must_be_connect() {
    let broker = Broker::with_flags(&["--user", "alice", "--pass", "secret"]);
    for first in ["PING\r\n", "SUB foo 1\r\n", "P", "x"] {
        let mut client = broker.raw();
        client.send(first.as_bytes());
        assert_eq!(
            text(&client.read_to_eof(deadline())),
            AUTH_VIOLATION,
            "{first:?}"
        );
    }
    // An account designation is refused the same way, even with good credentials.
    broker.refused("\"user\":\"alice\",\"pass\":\"secret\",\"account\":\"x\"");
}

#[test]
fn silent_clients_get_the_authentication_timeout() {
    let broker = Broker::with_flags(&["--auth", "s3cr3t", "-D"]);
    let started = Instant::now();
    let mut authenticated = broker.login("\"auth_token\":\"s3cr3t\"");
    let mut silent = broker.raw();
    let mut partial = broker.raw();
    partial.send(b"CONN");
    assert_eq!(
        text(&silent.read_to_eof(deadline())),
        "-ERR 'Authentication Timeout'\r\n"
    );
    assert_eq!(
        text(&partial.read_to_eof(deadline())),
        "-ERR 'Authentication Timeout'\r\n"
    );
    // The default auth timeout is 2 s; nothing may close the connection earlier.
    assert!(started.elapsed() >= Duration::from_millis(1900));
    broker
        .child()
        .wait_for_log("- Authentication Timeout", DEADLINE);
    // The client that authenticated in time outlived the timeout.
    assert_eq!(text(&authenticated.send_and_sync(b"")), "PONG\r\n");
}

#[test]
fn auth_timeout_from_the_configuration() {
    let broker = Broker::with_config(&json!({
        "authorization": { "token": "t", "timeout": 0.5 }
    }));
    let started = Instant::now();
    let mut silent = broker.raw();
    assert_eq!(
        text(&silent.read_to_eof(deadline())),
        "-ERR 'Authentication Timeout'\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[test]
fn bcrypt_hashed_passwords() {
    let hash = bcrypt::hash("hunter2", 4).expect("bcrypt");
    let a_form = hash.replacen("$2b$", "$2a$", 1);
    let broker = Broker::with_config(&json!({
        "authorization": { "users": [ user("b", &hash), user("a", &a_form) ] }
    }));
    broker.login("\"user\":\"b\",\"pass\":\"hunter2\"");
    broker.login("\"user\":\"a\",\"pass\":\"hunter2\"");
    broker.refused("\"user\":\"b\",\"pass\":\"hunter3\"");
    broker.refused(&format!("\"user\":\"b\",\"pass\":\"{hash}\""));
}

/// A bcrypt check (cost 13: about half a second) runs off the core: a client on the same
/// core is served while another client's password is being checked.
#[test]
fn a_bcrypt_check_leaves_the_core_serving_others() {
    let hash = bcrypt::hash("right", 13).expect("bcrypt");
    let broker = Broker::with_config_on_cores(
        &json!({ "authorization": { "users": [ user("fast", "pw"), user("slow", &hash) ] } }),
        1,
    );
    let mut fast = broker.login("\"user\":\"fast\",\"pass\":\"pw\"");
    let mut slow = broker.raw();
    slow.send(b"CONNECT {\"verbose\":false,\"user\":\"slow\",\"pass\":\"wrong\"}\r\nPING\r\n");
    // The server has taken the slow client's CONNECT once it answers a PING sent after it
    // on another connection of the same core... which it does while bcrypt runs.
    assert_eq!(text(&fast.send_and_sync(b"PUB x 1\r\na\r\n")), "PONG\r\n");
    let slow = slow.into_stream();
    slow.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let peeked = slow.peek(&mut byte);
    assert!(
        matches!(&peeked, Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
        "the slow client was answered before the fast one: {peeked:?}"
    );
    slow.set_nonblocking(false).expect("blocking");
    slow.set_read_timeout(Some(BCRYPT_DEADLINE))
        .expect("timeout");
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut &slow, &mut answer).expect("read to EOF");
    assert_eq!(text(&answer), AUTH_VIOLATION);
    // The fast client was never disturbed.
    assert_eq!(text(&fast.send_and_sync(b"")), "PONG\r\n");
}

/// What a client sends after a CONNECT whose bcrypt check is running waits, and is handled
/// in order once the check passes, whether it came with the CONNECT or after it.
#[test]
fn operations_after_a_bcrypt_connect_wait_for_its_check() {
    let hash = bcrypt::hash("right", 10).expect("bcrypt");
    for cores in [1, 2] {
        let broker = Broker::with_config_on_cores(
            &json!({ "authorization": { "users": [ user("slow", &hash) ] } }),
            cores,
        );
        let connect = b"CONNECT {\"verbose\":false,\"user\":\"slow\",\"pass\":\"right\"}\r\n";
        let mut together = broker.raw();
        together.send(&[&connect[..], b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n"].concat());
        assert_eq!(
            text(&together.read_until_pong(deadline())),
            "MSG foo 1 2\r\nhi\r\nPONG\r\n"
        );
        // A fresh bcrypt run for a new broker, and the rest in writes of their own.
        let broker = Broker::with_config_on_cores(
            &json!({ "authorization": { "users": [ user("slow", &hash) ] } }),
            cores,
        );
        let mut apart = broker.raw();
        apart.send(connect);
        apart.send(b"SUB foo 1\r\n");
        apart.send(b"PUB foo 3\r\nabc\r\nPING\r\n");
        assert_eq!(
            text(&apart.read_until_pong(deadline())),
            "MSG foo 1 3\r\nabc\r\nPONG\r\n"
        );
    }
}

#[test]
fn nkey_users_sign_the_nonce() {
    let key = KeyPair::new_from_raw(KeyPairType::User, [42u8; 32]).expect("key");
    let public = key.public_key();
    let broker = Broker::with_config(&json!({
        "authorization": { "users": [ { "nkey": public } ] }
    }));
    let nonce_of = |client: &RawClient| -> String {
        let info: Value =
            serde_json::from_str(client.info.trim_start_matches("INFO ").trim()).expect("json");
        info["nonce"].as_str().expect("a nonce").to_string()
    };
    let mut client = broker.raw();
    assert!(client.info.contains(",\"auth_required\":true,"));
    let nonce = nonce_of(&client);
    assert_eq!(nonce.len(), 15);
    let signature = BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).expect("sign"));
    client.send(
        format!("CONNECT {{\"verbose\":false,\"nkey\":\"{public}\",\"sig\":\"{signature}\"}}\r\n")
            .as_bytes(),
    );
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");

    // A signature of another nonce (the previous connection's) is refused.
    let mut replay = broker.raw();
    assert_ne!(
        nonce_of(&replay),
        nonce,
        "each connection gets its own nonce"
    );
    replay
        .send(format!("CONNECT {{\"nkey\":\"{public}\",\"sig\":\"{signature}\"}}\r\n").as_bytes());
    assert_eq!(text(&replay.read_to_eof(deadline())), AUTH_VIOLATION);

    broker.refused(&format!("\"nkey\":\"{public}\""));
    let other = KeyPair::new_from_raw(KeyPairType::User, [43u8; 32]).expect("key");
    broker.refused(&format!(
        "\"nkey\":\"{}\",\"sig\":\"{signature}\"",
        other.public_key()
    ));
}

#[test]
fn no_auth_user_admits_clients_without_credentials() {
    let broker = Broker::with_config(&json!({
        "accounts": {
            "A": { "users": [ user("a1", "pw"), user("a2", "pw") ] },
            "B": { "users": [ user("b1", "pw") ] }
        },
        "no_auth_user": "a2"
    }));
    let info = broker.raw().info;
    assert!(!info.contains("auth_required"), "INFO: {info}");
    let mut in_a = broker.login(&login_as("a1"));
    let mut in_b = broker.login(&login_as("b1"));
    assert_eq!(text(&in_a.send_and_sync(b"SUB x 1\r\n")), "PONG\r\n");
    assert_eq!(text(&in_b.send_and_sync(b"SUB x 1\r\n")), "PONG\r\n");

    // No CONNECT at all: the connection is a2 (verbose and pedantic, as without CONNECT).
    let mut telnet = broker.raw();
    assert_eq!(
        text(&telnet.send_and_sync(b"PUB x 5\r\nhello\r\n")),
        "+OK\r\nPONG\r\n"
    );
    in_a.expect_frame("MSG x 1 5\r\nhello\r\n");

    // A CONNECT without credentials: also a2.
    let mut anonymous = broker.login("\"name\":\"anon\"");
    assert_eq!(
        text(&anonymous.send_and_sync(b"PUB x 3\r\nbye\r\n")),
        "PONG\r\n"
    );
    in_a.expect_frame("MSG x 1 3\r\nbye\r\n");
    assert_eq!(text(&in_b.send_and_sync(b"")), "PONG\r\n", "B saw nothing");

    // Credentials that are wrong are still refused.
    broker.refused("\"user\":\"a1\",\"pass\":\"wrong\"");
}

/// Subjects, queue groups and replies stay inside their account, on both cores: the same
/// subject and group name in accounts A, B and the global account are three different things.
#[test]
fn accounts_are_isolated_across_cores() {
    let broker = Broker::with_config(&json!({
        "accounts": {
            "A": { "users": [ user("a1", "pw"), user("a2", "pw"), user("a3", "pw") ] },
            "B": { "users": [ user("b1", "pw"), user("b2", "pw") ] }
        },
        "authorization": { "users": [ user("g1", "pw"), user("g2", "pw") ] }
    }));
    let subs = "SUB foo 1\r\nSUB foo grp 2\r\nSUB > 3\r\n";
    let mut subscribers: Vec<(char, RawClient)> = ["a1", "b1", "g1", "a2", "b2", "g2"]
        .iter()
        .map(|name| {
            let mut client = broker.login(&login_as(name));
            assert_eq!(text(&client.send_and_sync(subs.as_bytes())), "PONG\r\n");
            (name.chars().next().unwrap(), client)
        })
        .collect();
    const COUNT: usize = 20;
    for (account, publisher_name) in [('a', "a3"), ('b', "b1"), ('g', "g2")] {
        let mut publisher = broker.login(&login_as(publisher_name));
        let mut batch = String::new();
        for n in 0..COUNT {
            batch.push_str(&format!("PUB foo 2\r\n{n:02}\r\n"));
        }
        publisher.send_and_sync(batch.as_bytes());
        let mut queue_total = 0;
        for (owner, client) in subscribers.iter_mut().filter(|(o, _)| *o == account) {
            let mut plain = 0;
            let mut wildcard = 0;
            // Every subscriber of the account gets each message on sids 1 and 3; the group's
            // members share sid 2.
            while plain < COUNT || wildcard < COUNT {
                let frame = text(&client.next_frame(deadline()).expect("a message"));
                match frame.split(' ').nth(2) {
                    Some("1") => plain += 1,
                    Some("2") => queue_total += 1,
                    Some("3") => wildcard += 1,
                    _ => panic!("account {owner}: unexpected {frame:?}"),
                }
            }
            assert_eq!((plain, wildcard), (COUNT, COUNT));
        }
        // Each core writes a message's queue delivery in the same turn as its plain ones, so
        // what is left of the group's share is already queued before these PONGs.
        for (_, client) in subscribers.iter_mut().filter(|(o, _)| *o == account) {
            let rest = text(&client.send_and_sync(b""));
            queue_total += rest.matches("MSG foo 2 2\r\n").count();
            assert_eq!(
                rest.matches("MSG ").count(),
                rest.matches("MSG foo 2 2\r\n").count()
            );
        }
        assert_eq!(
            queue_total, COUNT,
            "account {account}: one delivery per message"
        );
        for (owner, client) in subscribers.iter_mut().filter(|(o, _)| *o != account) {
            assert_eq!(
                text(&client.send_and_sync(b"")),
                "PONG\r\n",
                "account {owner} received account {account}'s messages"
            );
        }
    }
}

/// Replies too: a request from account A reaches a responder in A only, and the response goes
/// back to A's inbox even when B has a subscriber on the same inbox subject.
#[test]
fn request_reply_stays_in_its_account() {
    let broker = Broker::with_config(&json!({
        "accounts": {
            "A": { "users": [ user("a1", "pw"), user("a2", "pw") ] },
            "B": { "users": [ user("b1", "pw"), user("b2", "pw") ] }
        }
    }));
    let mut responder_a = broker.login(&login_as("a1"));
    let mut responder_b = broker.login(&login_as("b1"));
    let mut requester_a = broker.login(&login_as("a2"));
    let mut inbox_b = broker.login(&login_as("b2"));
    for client in [&mut responder_a, &mut responder_b] {
        assert_eq!(text(&client.send_and_sync(b"SUB svc 1\r\n")), "PONG\r\n");
    }
    assert_eq!(
        text(&inbox_b.send_and_sync(b"SUB _INBOX.r 1\r\n")),
        "PONG\r\n"
    );
    assert_eq!(
        text(&requester_a.send_and_sync(b"SUB _INBOX.r 9\r\nPUB svc _INBOX.r 1\r\nq\r\n")),
        "PONG\r\n"
    );
    responder_a.expect_frame("MSG svc 1 _INBOX.r 1\r\nq\r\n");
    responder_a.send(b"PUB _INBOX.r 1\r\nr\r\n");
    requester_a.expect_frame("MSG _INBOX.r 9 1\r\nr\r\n");
    assert_eq!(text(&responder_b.send_and_sync(b"")), "PONG\r\n");
    assert_eq!(text(&inbox_b.send_and_sync(b"")), "PONG\r\n");
}

/// The permissions of nats-server's observed run (user `bob`), byte for byte.
#[test]
fn publish_subscribe_and_queue_violations() {
    let broker = Broker::with_config(&json!({
        "authorization": { "users": [
            user_with("bob", json!({
                "publish": { "allow": ["ok.>", "_INBOX.>"], "deny": ["ok.no"] },
                "subscribe": { "allow": ["ok.>", "secret.>", "q.* grp", "qq.*"],
                               "deny": ["secret.>", "qq.x bad"] }
            })),
            user("all", "pw")
        ] }
    }));
    let mut bob = broker.login(&login_as("bob"));
    let reply = bob.send_and_sync(
        b"PUB ok.no 1\r\nx\r\nPUB other 1\r\nx\r\nPUB ok.yes 1\r\nx\r\n\
          SUB secret.x 1\r\nSUB secret.x q 2\r\nSUB q.a 3\r\nSUB q.a grp 4\r\n\
          SUB q.a other 5\r\nSUB qq.x 6\r\nSUB qq.x bad 7\r\nSUB qq.x good 8\r\nSUB > 9\r\n\
          SUB ok.yes 10\r\n",
    );
    assert_eq!(
        text(&reply),
        concat!(
            "-ERR 'Permissions Violation for Publish to \"ok.no\"'\r\n",
            "-ERR 'Permissions Violation for Publish to \"other\"'\r\n",
            "-ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\n",
            "-ERR 'Permissions Violation for Subscription to \"secret.x\" using queue \"q\"'\r\n",
            "-ERR 'Permissions Violation for Subscription to \"q.a\"'\r\n",
            "-ERR 'Permissions Violation for Subscription to \"q.a\" using queue \"other\"'\r\n",
            "-ERR 'Permissions Violation for Subscription to \"qq.x\" using queue \"bad\"'\r\n",
            "-ERR 'Permissions Violation for Subscription to \">\"'\r\n",
            "PONG\r\n",
        )
    );
    // The connection stayed open, and the allowed subscriptions work.
    let mut all = broker.login(&login_as("all"));
    assert_eq!(
        text(&all.send_and_sync(b"PUB ok.yes 1\r\ny\r\nPUB q.a 1\r\nz\r\nPUB secret.x 1\r\ns\r\n")),
        "PONG\r\n"
    );
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(text(&bob.next_frame(deadline()).expect("a message")));
    }
    got.sort();
    assert_eq!(got, ["MSG ok.yes 10 1\r\ny\r\n", "MSG q.a 4 1\r\nz\r\n"]);
    assert_eq!(
        text(&bob.send_and_sync(b"")),
        "PONG\r\n",
        "nothing on secret.x"
    );
    // The reserved-reply check comes after the user's publish rules, as in nats-server.
    assert_eq!(
        text(&bob.send_and_sync(b"PUB ok.r _R_.x 1\r\nx\r\nPUB no.r _R_.x 1\r\nx\r\n")),
        concat!(
            "-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'\r\n",
            "-ERR 'Permissions Violation for Publish to \"no.r\"'\r\n",
            "PONG\r\n"
        )
    );
}

/// The queue group `_sys_` is nats-server's own: no client may join it, permissions or not.
#[test]
fn the_sys_queue_group_is_reserved() {
    let broker = Broker::with_flags(&[]);
    let mut client = RawClient::connect_quiet(broker.port(), b"");
    assert_eq!(
        text(&client.send_and_sync(b"SUB foo _sys_ 1\r\nSUB foo sys 2\r\n")),
        "-ERR 'Permissions Violation for Subscription to \"foo\" using queue \"_sys_\"'\r\nPONG\r\n"
    );
    let line = broker
        .child()
        .wait_for_log("Subscription Violation", DEADLINE);
    assert!(
        line.ends_with(
            " - Subscription Violation - User \"N/A\", Subject \"foo\", Queue: \"_sys_\", SID 1"
        ),
        "{line}"
    );
}

/// A wildcard subscription that a subscribe deny entry falls under is allowed, and the denied
/// subjects are filtered out when delivered (nats-server's deny filter).
#[test]
fn denied_subjects_are_not_delivered_through_wildcards() {
    let broker = Broker::with_config(&json!({
        "authorization": { "users": [
            user_with("carol", json!({ "subscribe": { "deny": ["secret.>"] } })),
            user("all", "pw")
        ] }
    }));
    let mut carol = broker.login(&login_as("carol"));
    assert_eq!(
        text(&carol.send_and_sync(b"SUB secret.x 1\r\nSUB > 2\r\n")),
        "-ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\nPONG\r\n"
    );
    let mut all = broker.login(&login_as("all"));
    all.send_and_sync(b"PUB secret.x 1\r\ns\r\nPUB public.x 1\r\np\r\n");
    carol.expect_frame("MSG public.x 2 1\r\np\r\n");
    assert_eq!(text(&carol.send_and_sync(b"")), "PONG\r\n");
}

/// allow_responses: a user who may not publish may answer the requests it received, once by
/// default, or as often as `max` says.
#[test]
fn allow_responses_lets_responders_answer() {
    let broker = Broker::with_config(&json!({
        "authorization": { "users": [
            user_with("svc", json!({
                "publish": { "deny": [">"] }, "subscribe": ["req.>"], "allow_responses": true
            })),
            user_with("svc2", json!({
                "subscribe": ["req.>"], "allow_responses": { "max": 2, "expires": "1m" }
            })),
            user("all", "pw")
        ] }
    }));
    for (name, answered) in [("svc", 1), ("svc2", 2)] {
        let mut responder = broker.login(&login_as(name));
        assert_eq!(
            text(&responder.send_and_sync(b"SUB req.> 1\r\n")),
            "PONG\r\n"
        );
        let mut requester = broker.login(&login_as("all"));
        assert_eq!(
            text(&requester.send_and_sync(b"SUB _INBOX.r 1\r\nPUB req.1 _INBOX.r 2\r\nhi\r\n")),
            "PONG\r\n"
        );
        responder.expect_frame("MSG req.1 1 _INBOX.r 2\r\nhi\r\n");
        let mut expected = String::new();
        for _ in answered..3 {
            expected.push_str("-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'\r\n");
        }
        expected.push_str("-ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n");
        assert_eq!(
            text(&responder.send_and_sync(
                b"PUB _INBOX.r 1\r\na\r\nPUB _INBOX.r 1\r\nb\r\nPUB _INBOX.r 1\r\nc\r\n\
                  PUB other 1\r\nx\r\n"
            )),
            expected,
            "{name}"
        );
        let mut received = String::new();
        for _ in 0..answered {
            received.push_str(&text(&requester.next_frame(deadline()).expect("a reply")));
        }
        let replies = ["MSG _INBOX.r 1 1\r\na\r\n", "MSG _INBOX.r 1 1\r\nb\r\n"];
        assert_eq!(received, replies[..answered].concat(), "{name}");
        assert_eq!(text(&requester.send_and_sync(b"")), "PONG\r\n");
    }
}
