//! The TLS modes clients' suites use, over the wire: `verify_and_map` (the certificate
//! names the user), `allow_non_tls` (TLS offered, plain text served), `handshake_first`
//! (nats-server 2.10: handshake before INFO), `verify` refusing a missing certificate in
//! the handshake, and the log lines around them.
//!
//! Tests run against ringmq by default and against nats-server 2.9.10 with
//! `RINGMQ_TEST_SERVER=nats-server cargo test --test tls_modes`, except the
//! `handshake_first` ones (2.9.10 does not have it: they always run ringmq).

mod common;
mod tls_support;

use common::{text, Flavor};
use rcgen::DnType::{CommonName, OrganizationName};
use rcgen::SanType;
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tls_support::*;

/// A server with `verify_and_map` and three users, each allowed to publish only under its
/// own prefix; and client certificates naming them by email SAN, DNS SAN and subject.
fn mapping_server(test: &str) -> (Certificates, Server) {
    let certificates = Certificates::generate(test);
    certificates.issue_client(
        "email",
        &[(CommonName, "unused")],
        vec![SanType::Rfc822Name("alice@example.com".try_into().unwrap())],
    );
    certificates.issue_client(
        "dns",
        &[(CommonName, "unused")],
        vec![SanType::DnsName("bob.example".try_into().unwrap())],
    );
    certificates.issue_client(
        "subject",
        &[(OrganizationName, "Acme"), (CommonName, "carol")],
        vec![],
    );
    certificates.issue_client("nobody", &[(CommonName, "nobody")], vec![]);
    let config = format!(
        "{}authorization {{\n  users = [\n    \
         {{user: \"alice@example.com\", permissions: {{publish: \"a.>\"}}}}\n    \
         {{user: \"bob.example\", permissions: {{publish: \"b.>\"}}}}\n    \
         {{user: \"O=Acme,CN=carol\", permissions: {{publish: \"c.>\"}}}}\n  ]\n}}\n",
        certificates.tls_block("  verify_and_map: true")
    );
    let server = Server::start(&certificates.config_args("map.conf", &config));
    (certificates, server)
}

#[test]
fn verify_and_map_gives_the_certificates_user_its_permissions() {
    let (certificates, server) = mapping_server("map-users");
    for (identity, prefix) in [("email", "a"), ("dns", "b"), ("subject", "c")] {
        let mut client =
            TlsClient::connect(server.port, certificates.client_config(Some(identity)));
        assert!(
            client
                .info
                .contains(r#""tls_required":true,"tls_verify":true,"#),
            "{}",
            client.info
        );
        // No user or password in CONNECT: the certificate names the user.
        client.send(CONNECT_QUIET);
        client.send(format!("SUB {prefix}.1 1\r\nPUB {prefix}.1 2\r\nhi\r\n").as_bytes());
        client.send(b"PUB x.1 0\r\n\r\nPING\r\n");
        client.expect(
            format!(
                "MSG {prefix}.1 1 2\r\nhi\r\n-ERR 'Permissions Violation for Publish to \"x.1\"'\
                 \r\nPONG\r\n"
            )
            .as_bytes(),
        );
    }
    // Users named by certificates need no password: no plain-text password warning (it
    // would have been logged before the server was ready).
    let log = server.log_text();
    assert!(!log.contains("Plaintext passwords detected"), "log:\n{log}");
}

#[test]
fn verify_and_map_refuses_a_certificate_naming_no_user() {
    let (certificates, server) = mapping_server("map-nobody");
    let mut client = TlsClient::connect(server.port, certificates.client_config(Some("nobody")));
    // A user name in CONNECT does not help: the certificate must name the user.
    client.send(b"CONNECT {\"verbose\":false,\"user\":\"bob.example\"}\r\nPING\r\n");
    let (bytes, _) = client.read_to_end();
    assert_eq!(text(&bytes), "-ERR 'Authorization Violation'\r\n");
    server.wait_for_log("authentication error - User \"bob.example\"");
}

#[test]
fn verify_and_map_refuses_a_client_without_certificate_in_the_handshake() {
    let (certificates, server) = mapping_server("map-none");
    let mut client = TlsClient::connect(server.port, certificates.client_config(None));
    let (bytes, ending) = client.read_to_end();
    assert_eq!(text(&bytes), "");
    assert!(matches!(ending, Ending::Alert(_)), "{ending:?}");
    server.wait_for_log("TLS handshake error: tls: client didn't provide a certificate");
}

#[test]
fn plaintext_password_warning_only_for_passwords_in_plain_text() {
    let certificates = Certificates::generate("plaintext-warning");
    let start = |name: &str, users: &str| {
        let config = format!("authorization {{ users = [ {users} ] }}\n");
        Server::start(&certificates.config_args(name, &config))
    };
    let warning = "Plaintext passwords detected, use nkeys or bcrypt";
    let plain = start("plain.conf", "{user: a, password: s3cret}");
    plain.wait_for_log(warning);
    // A bcrypt hash is no plain text.
    let hashed = start(
        "hashed.conf",
        r#"{user: a, password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"}"#,
    );
    let log = hashed.log_text();
    assert!(!log.contains(warning), "log:\n{log}");
}

#[test]
fn allow_non_tls_serves_plain_and_tls_clients() {
    let certificates = Certificates::generate("allow-non-tls");
    let config = format!("allow_non_tls: true\n{}", certificates.tls_block(""));
    let server = Server::start(&certificates.config_args("mixed.conf", &config));
    // The plain client: INFO offers TLS without requiring it, and plain text is served.
    let (mut plain, info) = connect_and_read_info(server.port);
    assert!(
        info.contains(r#","headers":true,"tls_available":true,"max_payload":1048576,"#),
        "{info}"
    );
    assert!(!info.contains("tls_required"), "{info}");
    plain
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB p 1\r\nPUB p 2\r\nok\r\nPING\r\n")
        .unwrap();
    let expected = b"MSG p 1 2\r\nok\r\nPONG\r\n";
    let mut got = vec![0u8; expected.len()];
    plain.read_exact(&mut got).expect("plain reply");
    assert_eq!(text(&got), text(expected));
    // A TLS client on the same port.
    let mut secure = TlsClient::connect(server.port, certificates.client_config(None));
    secure.send(CONNECT_QUIET);
    secure.send(b"SUB t 1\r\nPUB t 2\r\nok\r\nPING\r\n");
    secure.expect(b"MSG t 1 2\r\nok\r\nPONG\r\n");
}

/// A server with `handshake_first` (and `extra` keys); ringmq only.
fn handshake_first_server(certificates: &Certificates, first: &str) -> Server {
    let config = certificates.tls_block(&format!("  handshake_first: {first}"));
    Server::start_flavor(
        Flavor::Ringmq,
        &certificates.config_args("first.conf", &config),
    )
}

#[test]
fn handshake_first_sends_info_encrypted_after_the_handshake() {
    let certificates = Certificates::generate("first-raw");
    let server = handshake_first_server(&certificates, "true");
    server.wait_for_log(
        "Clients that are not using \"TLS Handshake First\" option will fail to connect",
    );
    // Had the server written INFO in plain text first, the handshake would fail.
    let mut client = TlsClient::connect_first(server.port, certificates.client_config(None));
    assert!(client.info.starts_with("INFO {"), "{}", client.info);
    assert!(client.info.ends_with("} \r\n"), "{}", client.info);
    assert!(
        client
            .info
            .contains(r#","headers":true,"tls_required":true,"max_payload":"#),
        "{}",
        client.info
    );
    client.send(CONNECT_QUIET);
    client.send(b"SUB f 1\r\nPUB f 2\r\nok\r\nPING\r\n");
    client.expect(b"MSG f 1 2\r\nok\r\nPONG\r\n");
}

#[test]
fn handshake_first_with_async_nats_tls_first() {
    let certificates = Certificates::generate("first-async");
    let server = handshake_first_server(&certificates, "true");
    let url = format!("tls://127.0.0.1:{}", server.port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .tls_first()
            .add_root_certificates(certificates.path("ca.pem"))
            .connect(url)
            .await
            .expect("async-nats connects with tls_first");
        let mut messages = client.subscribe("first").await.unwrap();
        client.flush().await.unwrap();
        client.publish("first", "hello".into()).await.unwrap();
        use futures::StreamExt;
        let message = tokio::time::timeout(REPLY_TIMEOUT, messages.next())
            .await
            .expect("message before the deadline")
            .expect("subscription open");
        assert_eq!(message.payload.as_ref(), b"hello");
    });
}

#[test]
fn handshake_first_fallback_greets_a_silent_client_in_plain_text() {
    let certificates = Certificates::generate("first-fallback");
    let server = handshake_first_server(&certificates, "\"300ms\"");
    let log = server.log_text();
    assert!(!log.contains("Handshake First"), "log:\n{log}");
    // A client that waits for INFO gets it in plain text after the delay, then TLS as usual.
    let started = Instant::now();
    let mut waiting = TlsClient::connect(server.port, certificates.client_config(None));
    assert!(started.elapsed() >= Duration::from_millis(290));
    assert!(
        waiting.info.contains(r#""tls_required":true"#),
        "{}",
        waiting.info
    );
    waiting.send(CONNECT_QUIET);
    waiting.send(b"PING\r\n");
    waiting.expect(b"PONG\r\n");
    // A client that starts with the handshake gets INFO encrypted.
    let mut first = TlsClient::connect_first(server.port, certificates.client_config(None));
    assert!(first.info.starts_with("INFO {"), "{}", first.info);
    first.send(CONNECT_QUIET);
    first.send(b"PING\r\n");
    first.expect(b"PONG\r\n");
}

#[test]
fn handshake_errors_log_the_peer_address_even_after_a_reset() {
    let certificates = Certificates::generate("peer-address");
    // Debug: both servers log every connection with its address ("Client connection
    // created"), whatever ends it.
    let mut args = certificates.server_args();
    args.push("-D".into());
    let server = Server::start(&args);
    // Clients that reset their connection at once (linger 0): the server may accept
    // them after the reset, when getpeername no longer answers.
    let mut ports = Vec::new();
    for _ in 0..20 {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let address: std::net::SocketAddr = ([127, 0, 0, 1], server.port).into();
        socket.connect(&address.into()).unwrap();
        let local = socket.local_addr().unwrap().as_socket().unwrap();
        ports.push(local.port());
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    }
    for port in ports {
        server.wait_for_log(&format!("127.0.0.1:{port} - cid:"));
    }
    let log = server.log_text();
    assert!(!log.contains("0.0.0.0:0"), "log:\n{log}");
}
