//! Cluster routes over TLS (`cluster { tls {} }`), as nats-server 2.9.10 runs them: the
//! handshake right after the TCP connection, before any INFO, mutual whatever `verify`
//! says. The server under test (ringmq, or nats-server with `RINGMQ_TEST_SERVER=nats-server`)
//! and nats-server 2.9.10 nodes in one cluster, certificates generated per test (rcgen).

mod common;
mod tls_support;

use common::leaf::{frames, wait_link_ready, write_conf, LINK_TIMEOUT};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::path::{Path, PathBuf};
use tls_support::{certificate_authority, Certificates, TlsClient};

const ROUTE_LINE: &str = "Listening for route connections on ";

/// A certificate for `localhost`/`127.0.0.1` usable as server and as client (a route's
/// certificate is both), signed by `issuer`: `{name}-cert.pem`, `{name}-key.pem`.
fn route_certificate(
    dir: &Path,
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
    name: &str,
) -> (PathBuf, PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, issuer).unwrap();
    let (cert, key_path) = (
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&cert, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert, key_path)
}

/// A node of cluster `tls` named `name` with `cluster { tls { cert, key, ca_file } }` (plus
/// `extra` keys in the block), dialling `routes` (route ports).
fn tls_node(
    flavor: Flavor,
    dir: &Path,
    name: &str,
    (cert, key): &(PathBuf, PathBuf),
    ca: &Path,
    routes: &[u16],
    extra: &str,
) -> (Server, u16) {
    let routes: Vec<String> = routes
        .iter()
        .map(|port| format!("\"nats-route://127.0.0.1:{port}\""))
        .collect();
    let conf = write_conf(
        dir,
        &format!("{name}.conf"),
        &format!(
            "server_name: {name}\ncluster {{\n  name: tls\n  host: 127.0.0.1\n  port: -1\n  routes: [{}]\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n{extra}\n  }}\n}}\n",
            routes.join(", "),
            cert.display(),
            key.display(),
            ca.display()
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let server = Server::start_flavor(flavor, Opts::default(), &launch);
    let port = server.listening_port(ROUTE_LINE);
    (server, port)
}

/// `PUB` on `publisher_side` of `payload_len` bytes reaches a subscriber on
/// `subscriber_side` exactly, with a reply subject, and the same with headers.
fn exchange(subscriber_side: &Server, publisher_side: &Server, tag: &str, payload_len: usize) {
    let payload: String = (0..payload_len)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let mut sub = RawClient::subscriber(
        subscriber_side.port(),
        &format!("CONNECT {{\"verbose\":false,\"headers\":true}}\r\nSUB tls.{tag} 1\r\n"),
    );
    common::leaf::barrier(subscriber_side, publisher_side, tag);
    let mut publisher = RawClient::connect_quiet(
        publisher_side.port(),
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\n",
    );
    publisher.send_and_sync(
        format!(
            "PUB tls.{tag} r.{tag} {payload_len}\r\n{payload}\r\nHPUB tls.{tag} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(
        frames(&mut sub, 2),
        format!(
            "MSG tls.{tag} 1 r.{tag} {payload_len}\r\n{payload}\r\nHMSG tls.{tag} 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        )
    );
}

#[test]
fn routes_over_tls_carry_messages_both_ways_between_ringmq_and_nats_server() {
    let certificates = Certificates::generate("route-mixed");
    let dir = &certificates.directory;
    let ca = certificates.path("ca.pem");
    let a_cert = route_certificate(dir, &certificates.ca, "a");
    let b_cert = route_certificate(dir, &certificates.ca, "b");
    let c_cert = route_certificate(dir, &certificates.ca, "c");
    let flavor = Flavor::from_env();
    // A accepts (server side), B is nats-server dialling A, C dials B (client side).
    let (a, a_port) = tls_node(flavor, dir, "a", &a_cert, &ca, &[], "");
    let (b, b_port) = tls_node(Flavor::NatsServer, dir, "b", &b_cert, &ca, &[a_port], "");
    let (c, _) = tls_node(flavor, dir, "c", &c_cert, &ca, &[b_port], "");
    wait_link_ready(&a, &b);
    wait_link_ready(&c, &b);
    // 20000 bytes: more than one TLS record.
    for (subscriber_side, publisher_side, tag) in [
        (&a, &b, "ab"),
        (&b, &a, "ba"),
        (&c, &b, "cb"),
        (&b, &c, "bc"),
    ] {
        exchange(subscriber_side, publisher_side, tag, 20000);
    }
    a.wait_for_log("Route connection created", REPLY_TIMEOUT);
    c.wait_for_log("Route connection created", REPLY_TIMEOUT);
    for server in [&a, &b, &c] {
        let lines = server.log_lines();
        assert_eq!(
            lines
                .iter()
                .filter(|line| line.contains("handshake error"))
                .count(),
            0,
            "{}",
            lines.join("\n")
        );
    }
}

#[test]
fn the_route_info_comes_after_the_handshake_with_tls_required_and_tls_verify() {
    let certificates = Certificates::generate("route-info");
    let dir = &certificates.directory;
    let a_cert = route_certificate(dir, &certificates.ca, "a");
    let (a, a_port) = tls_node(
        Flavor::from_env(),
        dir,
        "a",
        &a_cert,
        &certificates.path("ca.pem"),
        &[],
        "",
    );
    let peer = TlsClient::connect_first(a_port, certificates.client_config(Some("client")));
    let info: serde_json::Value = serde_json::from_str(
        peer.info
            .strip_prefix("INFO ")
            .and_then(|rest| rest.strip_suffix(" \r\n"))
            .unwrap_or_else(|| panic!("{:?}", peer.info)),
    )
    .expect("INFO JSON");
    assert_eq!(info["tls_required"], serde_json::Value::Bool(true));
    assert_eq!(info["tls_verify"], serde_json::Value::Bool(true));
    assert!(
        peer.info.contains(
            "\"headers\":true,\"tls_required\":true,\"tls_verify\":true,\"max_payload\":"
        ),
        "{}",
        peer.info
    );
    drop(a);
}

#[test]
fn a_peer_without_a_certificate_or_with_another_cas_is_refused() {
    let certificates = Certificates::generate("route-stranger");
    let dir = &certificates.directory;
    let ca = certificates.path("ca.pem");
    let a_cert = route_certificate(dir, &certificates.ca, "a");
    let (a, a_port) = tls_node(Flavor::from_env(), dir, "a", &a_cert, &ca, &[], "");
    // A route peer without a client certificate: refused although `verify` is not set.
    assert_eq!(tls_attempt(a_port, certificates.client_config(None)), b"");
    a.wait_for_log(
        "TLS route handshake error: tls: client didn't provide a certificate",
        REPLY_TIMEOUT,
    );
    // A nats-server node whose certificate and CA are another CA's.
    let (other_ca, other_ca_pem) = certificate_authority("someone else's CA");
    let other_ca_path = dir.join("other-ca.pem");
    std::fs::write(&other_ca_path, other_ca_pem).unwrap();
    let s_cert = route_certificate(dir, &other_ca, "s");
    let (s, _) = tls_node(
        Flavor::NatsServer,
        dir,
        "s",
        &s_cert,
        &other_ca_path,
        &[a_port],
        "",
    );
    s.wait_for_log(
        "TLS route handshake error: x509: certificate signed by unknown authority",
        LINK_TIMEOUT,
    );
    s.wait_for_log(
        "Router connection closed: TLS Handshake Failure",
        REPLY_TIMEOUT,
    );
    a.wait_for_log_count(
        "Router connection closed: TLS Handshake Failure",
        2,
        LINK_TIMEOUT,
    );
    assert!(
        !a.log_lines()
            .iter()
            .any(|line| line.contains("Route connection created")),
        "{}",
        a.log_lines().join("\n")
    );
    // And the server under test dialling a node that trusts another CA.
    let (t, _) = tls_node(
        Flavor::from_env(),
        dir,
        "t",
        &route_certificate(dir, &certificates.ca, "t"),
        &ca,
        &[s_port_of(&s)],
        "",
    );
    t.wait_for_log(
        "TLS route handshake error: x509: certificate signed by unknown authority",
        LINK_TIMEOUT,
    );
    t.wait_for_log(
        "Router connection closed: TLS Handshake Failure",
        REPLY_TIMEOUT,
    );
}

/// A TLS client's attempt at a route port: everything it read before the connection
/// ended (the handshake refused: nothing).
fn tls_attempt(port: u16, config: std::sync::Arc<rustls::ClientConfig>) -> Vec<u8> {
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut session = rustls::ClientConnection::new(config, name).expect("client session");
    let mut got = Vec::new();
    while session.is_handshaking() {
        if session.complete_io(&mut tcp).is_err() {
            return got;
        }
    }
    let mut stream = rustls::StreamOwned::new(session, tcp);
    let _ = std::io::Read::read_to_end(&mut stream, &mut got);
    got
}

/// The route port of `server`, from its log.
fn s_port_of(server: &Server) -> u16 {
    server.listening_port(ROUTE_LINE)
}

#[test]
fn mutual_tls_with_verify_joins_nodes_and_a_plain_peer_times_out() {
    let certificates = Certificates::generate("route-verify");
    let dir = &certificates.directory;
    let ca = certificates.path("ca.pem");
    let a_cert = route_certificate(dir, &certificates.ca, "a");
    let b_cert = route_certificate(dir, &certificates.ca, "b");
    let flavor = Flavor::from_env();
    let (a, a_port) = tls_node(
        flavor,
        dir,
        "a",
        &a_cert,
        &ca,
        &[],
        "    verify: true\n    timeout: 1",
    );
    let (b, _) = tls_node(
        Flavor::NatsServer,
        dir,
        "b",
        &b_cert,
        &ca,
        &[a_port],
        "    verify: true",
    );
    wait_link_ready(&a, &b);
    exchange(&a, &b, "vab", 5);
    exchange(&b, &a, "vba", 5);
    // A plain-text peer gets nothing and is dropped at the 1 s deadline.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", a_port)).unwrap();
    plain.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut got);
    assert!(!got.starts_with(b"INFO"), "{}", text(&got));
    a.wait_for_log("i/o timeout", REPLY_TIMEOUT);
    a.wait_for_log(
        "Router connection closed: TLS Handshake Failure",
        REPLY_TIMEOUT,
    );
}

#[test]
fn varz_shows_route_tls_as_nats_server_fills_it() {
    let certificates = Certificates::generate("route-varz");
    let dir = &certificates.directory;
    let ca = certificates.path("ca.pem");
    let (cert, key) = route_certificate(dir, &certificates.ca, "v");
    let conf = write_conf(
        dir,
        "v.conf",
        &format!(
            "server_name: v\nhttp_port: -1\ncluster {{ name: tls, listen: \"127.0.0.1:-1\", tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", timeout: 3 }} }}\n",
            cert.display(),
            key.display(),
            ca.display()
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let server = Server::start_flavor(Flavor::from_env(), Opts::default(), &launch);
    let route_port = server.listening_port(ROUTE_LINE);
    let http_port = server.listening_port("Starting http monitor on ");
    let (varz, _) = common::http::get_json(http_port, "/varz");
    // Both flags follow `tls {}` (verification is forced on routes); the auth timeout is
    // the TLS timeout plus one second.
    assert_eq!(
        varz["cluster"],
        serde_json::json!({
            "name": "tls",
            "addr": "127.0.0.1",
            "cluster_port": route_port,
            "auth_timeout": 4,
            "tls_timeout": 3,
            "tls_required": true,
            "tls_verify": true
        })
    );
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
fn a_peer_whose_certificate_is_not_pinned_is_refused() {
    let certificates = Certificates::generate("route-pinned");
    let dir = &certificates.directory;
    let ca = certificates.path("ca.pem");
    let a_cert = route_certificate(dir, &certificates.ca, "a");
    let b_cert = route_certificate(dir, &certificates.ca, "b");
    let c_cert = route_certificate(dir, &certificates.ca, "c");
    // A pins B's key (in upper case: nats-server lowercases the list).
    let pin = pinned_key_id(&b_cert.1).to_uppercase();
    let (a, a_port) = tls_node(
        Flavor::from_env(),
        dir,
        "a",
        &a_cert,
        &ca,
        &[],
        &format!("    pinned_certs: [\"{pin}\"]"),
    );
    let (b, _) = tls_node(Flavor::NatsServer, dir, "b", &b_cert, &ca, &[a_port], "");
    wait_link_ready(&a, &b);
    // C's certificate is of the same CA but not pinned: refused after the handshake.
    let (_c, _) = tls_node(Flavor::NatsServer, dir, "c", &c_cert, &ca, &[a_port], "");
    let line = a.wait_for_log(
        "TLS route handshake error: certificate not pinned",
        LINK_TIMEOUT,
    );
    assert!(
        line.contains("[ERR] 127.0.0.1:") && line.contains(" - rid:"),
        "{line:?}"
    );
    a.wait_for_log("connection closed: TLS Handshake Failure", LINK_TIMEOUT);
    // Only B was routed.
    let (port, body) = (a.port(), RawClient::connect(a.port()).info);
    let urls = body.matches("127.0.0.1:").count();
    assert_eq!(urls, 2, "{port}: {body}");
}
