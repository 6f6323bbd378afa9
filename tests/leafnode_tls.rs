//! Leaf node links over TLS, both roles, with certificates generated per test (rcgen):
//! the server under test as a hub with `leafnodes { tls {} }` dialled by a real nats-server
//! 2.9.10 leaf (`remotes [ { url, tls { ca_file } } ]`), and the server under test as a leaf
//! with `tls {}` on its remote dialling a nats-server hub. Messages cross with exact bytes
//! (a payload larger than one TLS record included); a leaf trusting another CA is refused
//! with nats-server's log lines; mutual TLS with `verify`; the handshake deadline.
//!
//! `RINGMQ_TEST_SERVER=nats-server` runs every test with nats-server as the server under
//! test (both sides are then nats-server).

mod common;
mod tls_support;

use common::leaf::{barrier, frames, wait_link_ready, write_conf, LINK_TIMEOUT};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::path::Path;
use std::time::{Duration, Instant};
use tls_support::{certificate_authority, Certificates};

const LEAF_LINE: &str = "Listening for leafnode connections on ";
const CREATED: &str = "Leafnode connection created";
const HANDSHAKE_CLOSED: &str = "Leafnode connection closed: TLS Handshake Failure account:";

/// The port of `server`'s leaf listener, from its log.
fn leaf_port(server: &Server) -> u16 {
    server.listening_port(LEAF_LINE)
}

/// Starts a hub of `flavor` whose leaf port requires TLS with the test certificate, plus
/// `extra` keys in its `tls` block.
fn start_hub(flavor: Flavor, certificates: &Certificates, extra: &str) -> (Server, u16) {
    let conf = write_conf(
        &certificates.directory,
        "hub.conf",
        &format!(
            "server_name: hub\nleafnodes {{\n  host: 127.0.0.1\n  port: -1\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n{extra}\n  }}\n}}\n",
            certificates.path("server-cert.pem").display(),
            certificates.path("server-key.pem").display(),
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let hub = Server::start_flavor(flavor, Opts::default(), &launch);
    let port = leaf_port(&hub);
    (hub, port)
}

/// Starts a leaf of `flavor` dialling `url` with `tls { tls_keys }` on its remote.
fn start_leaf(flavor: Flavor, dir: &Path, name: &str, url: &str, tls_keys: &str) -> Server {
    let conf = write_conf(
        dir,
        &format!("{name}.conf"),
        &format!(
            "server_name: {name}\nleafnodes {{ remotes [ {{ url: \"{url}\", tls {{ {tls_keys} }} }} ] }}\n"
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    Server::start_flavor(flavor, Opts::default(), &launch)
}

fn path(certificates: &Certificates, name: &str) -> String {
    certificates.path(name).display().to_string()
}

/// `PUB subject` of `payload` on `publisher_side` reaches a subscriber on
/// `subscriber_side` exactly, then the same the other way round.
fn exchange_both_ways(one: &Server, other: &Server, payload_len: usize) {
    wait_link_ready(one, other);
    let payload: Vec<u8> = (0..payload_len).map(|i| b'a' + (i % 26) as u8).collect();
    for (subscriber_side, publisher_side, tag) in [(one, other, "one"), (other, one, "other")] {
        let subject = format!("tls.{tag}");
        let mut sub =
            RawClient::subscriber(subscriber_side.port(), &format!("SUB {subject} 7\r\n"));
        let _sentinel = barrier(subscriber_side, publisher_side, tag);
        let mut publisher = RawClient::connect_quiet(publisher_side.port(), b"");
        let mut publish = format!(
            "PUB {subject} r.1 5\r\nhello\r\nPUB {subject} {}\r\n",
            payload.len()
        )
        .into_bytes();
        publish.extend_from_slice(&payload);
        publish.extend_from_slice(b"\r\n");
        publisher.send_and_sync(&publish);
        let mut expected = format!(
            "MSG {subject} 7 r.1 5\r\nhello\r\nMSG {subject} 7 {}\r\n",
            payload.len()
        )
        .into_bytes();
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(frames(&mut sub, 2), text(&expected), "{tag}");
        assert_eq!(
            text(&sub.send_and_sync(b"")),
            "PONG\r\n",
            "{tag}: nothing more"
        );
    }
}

// ---- the server under test as the hub ----

#[test]
fn hub_info_is_plain_then_a_nats_server_leaf_links_over_tls() {
    let certificates = Certificates::generate("leafhub");
    let (hub, port) = start_hub(Flavor::from_env(), &certificates, "");
    let (_stream, info) = tls_support::connect_and_read_info(port);
    assert!(
        info.contains(
            r#","headers":true,"auth_required":true,"tls_required":true,"max_payload":1048576,"#
        ),
        "{info}"
    );
    assert!(!info.contains("tls_verify"), "{info}");
    let ca = format!("ca_file: \"{}\"", path(&certificates, "ca.pem"));
    let url = format!("nats-leaf://localhost:{port}");
    let leaf = start_leaf(
        Flavor::NatsServer,
        &certificates.directory,
        "leaf1",
        &url,
        &ca,
    );
    // Two TLS records and more: the large payload crosses record and buffer boundaries.
    exchange_both_ways(&hub, &leaf, 40_000);
    assert_eq!(hub.count_log("TLS leafnode handshake error"), 0);
}

#[test]
fn hub_refuses_a_leaf_that_trusts_another_ca() {
    let certificates = Certificates::generate("leafhub-ca");
    let (_stranger, stranger_pem) = certificate_authority("someone else's CA");
    std::fs::write(certificates.path("stranger-ca.pem"), stranger_pem).unwrap();
    let (hub, port) = start_hub(Flavor::from_env(), &certificates, "");
    let ca = format!("ca_file: \"{}\"", path(&certificates, "stranger-ca.pem"));
    let url = format!("nats-leaf://127.0.0.1:{port}");
    let leaf = start_leaf(
        Flavor::NatsServer,
        &certificates.directory,
        "leafx",
        &url,
        &ca,
    );
    // The leaf's Go client refuses our certificate and says so with a bad_certificate alert.
    let line = hub.wait_for_log("TLS leafnode handshake error", LINK_TIMEOUT);
    assert!(
        line.ends_with(" - TLS leafnode handshake error: remote error: tls: bad certificate"),
        "{line}"
    );
    hub.wait_for_log(HANDSHAKE_CLOSED, REPLY_TIMEOUT);
    let line = leaf.wait_for_log("TLS leafnode handshake error", REPLY_TIMEOUT);
    assert!(
        line.ends_with(
            " - TLS leafnode handshake error: x509: certificate signed by unknown authority"
        ),
        "{line}"
    );
    let line = leaf.wait_for_log(HANDSHAKE_CLOSED, REPLY_TIMEOUT);
    assert!(line.ends_with(&format!("{HANDSHAKE_CLOSED} $G")), "{line}");
}

#[test]
fn hub_with_verify_links_a_leaf_with_a_certificate_and_refuses_one_without() {
    let certificates = Certificates::generate("leafhub-verify");
    let extra = format!(
        "    ca_file: \"{}\"\n    verify: true\n",
        path(&certificates, "ca.pem")
    );
    let (hub, port) = start_hub(Flavor::from_env(), &certificates, &extra);
    let (_stream, info) = tls_support::connect_and_read_info(port);
    assert!(
        info.contains(
            r#","auth_required":true,"tls_required":true,"tls_verify":true,"max_payload":"#
        ),
        "{info}"
    );
    let url = format!("nats-leaf://localhost:{port}");
    let without = format!("ca_file: \"{}\"", path(&certificates, "ca.pem"));
    let _refused = start_leaf(
        Flavor::NatsServer,
        &certificates.directory,
        "nocert",
        &url,
        &without,
    );
    let line = hub.wait_for_log("TLS leafnode handshake error", LINK_TIMEOUT);
    assert!(
        line.ends_with(" - TLS leafnode handshake error: tls: client didn't provide a certificate"),
        "{line}"
    );
    hub.wait_for_log(HANDSHAKE_CLOSED, REPLY_TIMEOUT);
    let with = format!(
        "{without}, cert_file: \"{}\", key_file: \"{}\"",
        path(&certificates, "client-cert.pem"),
        path(&certificates, "client-key.pem")
    );
    let leaf = start_leaf(
        Flavor::NatsServer,
        &certificates.directory,
        "withcert",
        &url,
        &with,
    );
    exchange_both_ways(&hub, &leaf, 5);
}

#[test]
fn hub_closes_a_leaf_that_does_not_finish_the_handshake_in_time() {
    let certificates = Certificates::generate("leafhub-deadline");
    let (hub, port) = start_hub(Flavor::from_env(), &certificates, "    timeout: 1\n");
    // Silent after the INFO: the deadline closes it, logged as Go's read deadline.
    let started = Instant::now();
    let mut silent = RawClient::connect(port);
    let local = format!("127.0.0.1:{}", silent.local_port());
    assert_eq!(silent.read_to_eof(started + REPLY_TIMEOUT), b"");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let line = hub.wait_for_log(
        &format!("TLS leafnode handshake error: read tcp 127.0.0.1:{port}->{local}: i/o timeout"),
        REPLY_TIMEOUT,
    );
    assert!(line.contains(&format!("{local} - lid:")), "{line}");
    // A plain-text CONNECT where the handshake belongs: closed at once, nothing answered.
    let mut plain = RawClient::connect(port);
    plain.send(b"CONNECT {}\r\n");
    assert_eq!(plain.read_to_eof(Instant::now() + REPLY_TIMEOUT), b"");
    hub.wait_for_log(
        "TLS leafnode handshake error: tls: first record does not look like a TLS handshake",
        REPLY_TIMEOUT,
    );
    hub.wait_for_log_count(HANDSHAKE_CLOSED, 2, REPLY_TIMEOUT);
}

// ---- the server under test as the leaf ----

#[test]
fn leaf_dials_a_nats_server_hub_over_tls() {
    let certificates = Certificates::generate("leafremote");
    let (hub, port) = start_hub(Flavor::NatsServer, &certificates, "");
    let ca = format!("ca_file: \"{}\"", path(&certificates, "ca.pem"));
    let url = format!("nats-leaf://127.0.0.1:{port}");
    let leaf = start_leaf(
        Flavor::from_env(),
        &certificates.directory,
        "leaf1",
        &url,
        &ca,
    );
    leaf.wait_for_log(CREATED, LINK_TIMEOUT);
    exchange_both_ways(&leaf, &hub, 40_000);
    assert_eq!(leaf.count_log("TLS leafnode handshake error"), 0);
}

#[test]
fn leaf_trusting_another_ca_refuses_the_hub() {
    let certificates = Certificates::generate("leafremote-ca");
    let (_stranger, stranger_pem) = certificate_authority("someone else's CA");
    std::fs::write(certificates.path("stranger-ca.pem"), stranger_pem).unwrap();
    let (hub, port) = start_hub(Flavor::NatsServer, &certificates, "");
    let ca = format!("ca_file: \"{}\"", path(&certificates, "stranger-ca.pem"));
    let url = format!("nats-leaf://localhost:{port}");
    let leaf = start_leaf(
        Flavor::from_env(),
        &certificates.directory,
        "leafx",
        &url,
        &ca,
    );
    let line = leaf.wait_for_log("TLS leafnode handshake error", LINK_TIMEOUT);
    assert!(
        line.ends_with(
            " - TLS leafnode handshake error: x509: certificate signed by unknown authority"
        ),
        "{line}"
    );
    let line = leaf.wait_for_log(HANDSHAKE_CLOSED, REPLY_TIMEOUT);
    assert!(line.ends_with(&format!("{HANDSHAKE_CLOSED} $G")), "{line}");
    hub.wait_for_log("TLS leafnode handshake error", REPLY_TIMEOUT);
}

#[test]
fn leaf_presents_its_certificate_to_a_verifying_hub() {
    let certificates = Certificates::generate("leafremote-verify");
    let extra = format!(
        "    ca_file: \"{}\"\n    verify: true\n",
        path(&certificates, "ca.pem")
    );
    let (hub, port) = start_hub(Flavor::NatsServer, &certificates, &extra);
    let keys = format!(
        "ca_file: \"{}\", cert_file: \"{}\", key_file: \"{}\"",
        path(&certificates, "ca.pem"),
        path(&certificates, "client-cert.pem"),
        path(&certificates, "client-key.pem")
    );
    let url = format!("nats-leaf://localhost:{port}");
    let leaf = start_leaf(
        Flavor::from_env(),
        &certificates.directory,
        "leafc",
        &url,
        &keys,
    );
    exchange_both_ways(&leaf, &hub, 5);
    assert_eq!(hub.count_log("TLS leafnode handshake error"), 0);
}

/// The key id `pinned_certs` names a certificate by: SHA-256 of its SubjectPublicKeyInfo.
fn pinned_key_id(key_path: &Path) -> String {
    use sha2::Digest;
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(key_path).unwrap()).unwrap();
    sha2::Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key))
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn hub_with_pinned_certs_links_a_pinned_leaf_and_refuses_another() {
    let certificates = Certificates::generate("leafhub-pinned");
    certificates.issue_client("other", &[(rcgen::DnType::CommonName, "other")], Vec::new());
    let pin = pinned_key_id(&certificates.path("client-key.pem"));
    let extra = format!(
        "    ca_file: \"{}\"\n    verify: true\n    pinned_certs: [\"{pin}\"]\n",
        path(&certificates, "ca.pem")
    );
    let (hub, port) = start_hub(Flavor::from_env(), &certificates, &extra);
    let url = format!("nats-leaf://localhost:{port}");
    let keys = |name: &str| {
        format!(
            "ca_file: \"{}\", cert_file: \"{}\", key_file: \"{}\"",
            path(&certificates, "ca.pem"),
            path(&certificates, &format!("{name}-cert.pem")),
            path(&certificates, &format!("{name}-key.pem"))
        )
    };
    // A certificate of the same CA whose key is not pinned: refused after the handshake.
    let _refused = start_leaf(
        Flavor::NatsServer,
        &certificates.directory,
        "unpinned",
        &url,
        &keys("other"),
    );
    let line = hub.wait_for_log("TLS leafnode handshake error", LINK_TIMEOUT);
    assert!(
        line.ends_with(" - TLS leafnode handshake error: certificate not pinned"),
        "{line}"
    );
    hub.wait_for_log(HANDSHAKE_CLOSED, REPLY_TIMEOUT);
    let leaf = start_leaf(
        Flavor::NatsServer,
        &certificates.directory,
        "pinned",
        &url,
        &keys("client"),
    );
    exchange_both_ways(&hub, &leaf, 5);
}
