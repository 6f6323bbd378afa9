//! TLS on the client port, over the wire, with certificates generated per test (rcgen): the
//! plain-text INFO with `tls_required`, the handshake, exact NATS bytes through TLS records
//! (including payloads larger than a record and than a receive buffer, and records split
//! into tiny pieces), client certificates, close_notify, the answer a plain-text client
//! gets, and the handshake deadline.
//!
//! Every test runs against ringmq by default and against nats-server 2.9.10 with
//! `RINGMQ_TEST_SERVER=nats-server cargo test --test tls` (same flags, same certificates);
//! where the two differ on purpose, the test says so. `info_fields_match_nats_server` runs
//! both side by side when nats-server is installed.

mod common;
mod tls_support;

use common::{text, Flavor};
use ringmq::runtime::{
    self, CloseReason, ConnId, Handler, Io, RuntimeConfig, TlsHandshake, TlsServerConfig,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tls_support::*;

// ---- tests ----

#[test]
fn info_is_plain_then_nats_runs_over_tls_with_exact_bytes() {
    let certificates = Certificates::generate("pubsub");
    let server = Server::start(&certificates.server_args());
    let config = certificates.client_config(None);

    let mut subscriber = TlsClient::connect(server.port, Arc::clone(&config));
    assert!(
        subscriber
            .info
            .contains(r#","headers":true,"tls_required":true,"max_payload":1048576,"#),
        "{}",
        subscriber.info
    );
    assert!(
        !subscriber.info.contains("tls_verify"),
        "{}",
        subscriber.info
    );
    subscriber.send(CONNECT_QUIET);
    subscriber.send(b"SUB tls.> 1\r\nPING\r\n");
    subscriber.expect(b"PONG\r\n");

    // On another connection (with two ringmq cores: another core).
    let mut publisher = TlsClient::connect(server.port, config);
    let small = b"hello".to_vec();
    // 64 KiB: four full TLS records. 300 KiB: many records, far more than one receive
    // buffer, so records straddle receive buffers and sends.
    let record_sized = payload(64 * 1024);
    let large = payload(300 * 1024);
    let mut burst = CONNECT_QUIET.to_vec();
    burst.extend(publish("tls.small", &small));
    burst.extend(publish("tls.record", &record_sized));
    burst.extend(publish("tls.large", &large));
    burst.extend_from_slice(b"PING\r\n");
    publisher.send(&burst);
    publisher.expect(b"PONG\r\n");

    let mut expected = msg("tls.small", "1", &small);
    expected.extend(msg("tls.record", "1", &record_sized));
    expected.extend(msg("tls.large", "1", &large));
    subscriber.expect(&expected);
    subscriber.send(b"PING\r\n");
    subscriber.expect(b"PONG\r\n");
}

#[test]
fn records_cut_into_seven_byte_pieces_still_decode() {
    let certificates = Certificates::generate("pieces");
    let server = Server::start(&certificates.server_args());
    let mut client = TlsClient::connect(server.port, certificates.client_config(None));
    let body = payload(40 * 1024);
    let mut plaintext = CONNECT_QUIET.to_vec();
    plaintext.extend_from_slice(b"SUB echo 9\r\n");
    plaintext.extend(publish("echo", &body));
    plaintext.extend_from_slice(b"PING\r\n");
    // Encrypt it all, then hand the records to the socket a few bytes at a time.
    client.stream.conn.writer().write_all(&plaintext).unwrap();
    let mut records = Vec::new();
    while client.stream.conn.wants_write() {
        client.stream.conn.write_tls(&mut records).unwrap();
    }
    assert!(records.len() > plaintext.len());
    for piece in records.chunks(7) {
        client.stream.sock.write_all(piece).unwrap();
    }
    let mut expected = msg("echo", "9", &body);
    expected.extend_from_slice(b"PONG\r\n");
    client.expect(&expected);
}

#[test]
fn async_nats_requests_over_tls() {
    let certificates = Certificates::generate("async-nats");
    let server = Server::start(&certificates.server_args());
    let url = format!("tls://127.0.0.1:{}", server.port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let connect = || {
            async_nats::ConnectOptions::new()
                .require_tls(true)
                .add_root_certificates(certificates.path("ca.pem"))
                .connect(url.clone())
        };
        let responder = connect().await.expect("async-nats connects over TLS");
        let requester = connect().await.expect("async-nats connects over TLS");
        let mut requests = responder.subscribe("service").await.unwrap();
        // flush() is no interest barrier: wait until the requester's publishes reach it.
        common::nats_client::await_interest(&responder, &requester).await;
        let serve = tokio::spawn(async move {
            use futures::StreamExt;
            let request = requests.next().await.expect("a request");
            let mut answer = request.payload.to_vec();
            answer.reverse();
            responder
                .publish(request.reply.expect("reply subject"), answer.into())
                .await
                .unwrap();
            responder.flush().await.unwrap();
        });
        let question = payload(100 * 1024);
        let reply = tokio::time::timeout(
            REPLY_TIMEOUT,
            requester.request("service", question.clone().into()),
        )
        .await
        .expect("reply before the deadline")
        .expect("request succeeds");
        let mut expected = question;
        expected.reverse();
        assert!(reply.payload.as_ref() == expected.as_slice());
        serve.await.unwrap();
    });
}

#[test]
fn plain_text_client_on_tls_port_is_closed_without_a_reply() {
    let certificates = Certificates::generate("plain");
    let server = Server::start(&certificates.server_args());
    let (mut stream, info) = connect_and_read_info(server.port);
    assert!(info.contains(r#""tls_required":true"#), "{info}");
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut after_info = Vec::new();
    match stream.read_to_end(&mut after_info) {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        Err(error) => panic!("read: {error}"),
    }
    // Neither -ERR nor an alert: nats-server's TLS layer gives up on the record header.
    assert_eq!(text(&after_info), "");
    server
        .wait_for_log("TLS handshake error: tls: first record does not look like a TLS handshake");
}

#[test]
fn handshake_deadline_closes_silent_and_half_finished_handshakes() {
    let certificates = Certificates::generate("deadline");
    let server = Server::start(&certificates.server_args());
    let started = Instant::now();
    let (mut silent, _) = connect_and_read_info(server.port);
    // The other client starts a handshake and stops inside its ClientHello record.
    let (mut stalled, _) = connect_and_read_info(server.port);
    let name = ServerName::try_from("localhost").unwrap();
    let mut session = ClientConnection::new(certificates.client_config(None), name).unwrap();
    let mut hello = Vec::new();
    session.write_tls(&mut hello).unwrap();
    assert!(hello.len() > 20);
    stalled.write_all(&hello[..hello.len() / 2]).unwrap();

    for stream in [&mut silent, &mut stalled] {
        expect_closed_by_the_handshake_deadline(&server, stream);
    }
    // Not a performance assertion: the close must come from the deadline, not earlier.
    assert!(started.elapsed() >= HANDSHAKE_TIMEOUT - Duration::from_millis(100));
}

/// `stream` gets nothing after INFO and is closed by the handshake deadline, which the
/// server logs as Go's read deadline does (with the socket's addresses).
fn expect_closed_by_the_handshake_deadline(server: &Server, stream: &mut TcpStream) {
    let local = stream.local_addr().unwrap();
    let mut after_info = Vec::new();
    match stream.read_to_end(&mut after_info) {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        Err(error) => panic!("read: {error}"),
    }
    assert_eq!(text(&after_info), "", "nothing but INFO");
    server.wait_for_log(&format!(
        "TLS handshake error: read tcp 127.0.0.1:{}->{local}: i/o timeout",
        server.port
    ));
}

#[test]
fn the_auth_timer_starts_after_the_handshake() {
    let certificates = Certificates::generate("auth-timer");
    // An auth timeout far shorter than the handshake deadline: a client that never
    // handshakes is closed by the deadline, as nats-server's, not by the auth timer.
    let config = certificates.path("auth.conf");
    std::fs::write(&config, "authorization { token: t0k, timeout: 0.3 }\n").unwrap();
    let mut args = certificates.server_args();
    args.extend(["-c".to_string(), config.display().to_string()]);
    let server = Server::start(&args);
    let started = Instant::now();
    let (mut silent, _) = connect_and_read_info(server.port);
    expect_closed_by_the_handshake_deadline(&server, &mut silent);
    assert!(started.elapsed() >= HANDSHAKE_TIMEOUT - Duration::from_millis(100));
    let log = server.log.0.lock().unwrap().0.join("\n");
    assert!(!log.contains("Authentication Timeout"), "log:\n{log}");
}

#[test]
fn reload_rotates_the_certificate_for_new_connections() {
    let old = Certificates::generate("rotate-old");
    let new = Certificates::generate("rotate-new");
    // The files the server reads; rewritten in place by the rotation.
    let live = Certificates::generate("rotate-live");
    for name in ["server-cert.pem", "server-key.pem"] {
        std::fs::copy(old.path(name), live.path(name)).unwrap();
    }
    let config = live.path("tls.conf");
    std::fs::write(
        &config,
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
            live.path("server-cert.pem").display(),
            live.path("server-key.pem").display()
        ),
    )
    .unwrap();
    let server = Server::start(&["-c".to_string(), config.display().to_string()]);
    let mut before = TlsClient::connect(server.port, old.client_config(None));
    before.send(CONNECT_QUIET);
    before.send(b"PING\r\n");
    before.expect(b"PONG\r\n");

    for name in ["server-cert.pem", "server-key.pem"] {
        std::fs::copy(new.path(name), live.path(name)).unwrap();
    }
    let status = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.wait_for_log("Reloaded: tls = enabled");
    server.wait_for_log("Reloaded server configuration");

    // New connections present the new certificate: a client trusting only the new CA
    // completes the handshake; the connection made before the reload still works.
    let mut after = TlsClient::connect(server.port, new.client_config(None));
    after.send(CONNECT_QUIET);
    after.send(b"PING\r\n");
    after.expect(b"PONG\r\n");
    before.send(b"PING\r\n");
    before.expect(b"PONG\r\n");
}

#[test]
fn client_leaving_before_the_handshake_is_logged_as_eof() {
    let certificates = Certificates::generate("eof");
    let server = Server::start(&certificates.server_args());
    let (mut stream, _) = connect_and_read_info(server.port);
    let local = stream.local_addr().unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut after_info = Vec::new();
    let _ = stream.read_to_end(&mut after_info);
    assert_eq!(text(&after_info), "");
    let line = server.wait_for_log("TLS handshake error: EOF");
    assert!(line.contains(&local.to_string()), "{line}");
}

#[test]
fn client_certificate_from_the_ca_is_accepted() {
    let certificates = Certificates::generate("verify-ok");
    let server = Server::start(&certificates.verifying_server_args());
    let mut client = TlsClient::connect(server.port, certificates.client_config(Some("client")));
    assert!(
        client.info.contains(
            r#","headers":true,"tls_required":true,"tls_verify":true,"max_payload":1048576,"#
        ),
        "{}",
        client.info
    );
    client.send(CONNECT_QUIET);
    client.send(b"SUB v 1\r\nPUB v 2\r\nok\r\nPING\r\n");
    client.expect(b"MSG v 1 2\r\nok\r\nPONG\r\n");
}

/// The alert the server sends for a refused client certificate. Known difference: Go
/// answers every refusal with bad_certificate; rustls names the cause
/// (certificate_required, unknown_ca). Either way the client sees a fatal alert and the
/// connection ends before any NATS byte.
fn refusal_alert(flavor: Flavor, rustls_alert: rustls::AlertDescription) -> Ending {
    match flavor {
        Flavor::NatsServer => Ending::Alert(rustls::AlertDescription::BadCertificate),
        Flavor::Ringmq => Ending::Alert(rustls_alert),
    }
}

#[test]
fn client_without_certificate_is_refused() {
    let certificates = Certificates::generate("verify-none");
    let server = Server::start(&certificates.verifying_server_args());
    // With TLS 1.3 the client's side of the handshake completes; the refusal arrives as
    // the first record it reads (nothing is written, so no reset can overtake it).
    let mut client = TlsClient::connect(server.port, certificates.client_config(None));
    let (bytes, ending) = client.read_to_end();
    assert_eq!(text(&bytes), "");
    assert_eq!(
        ending,
        refusal_alert(server.flavor, rustls::AlertDescription::CertificateRequired)
    );
    server.wait_for_log("TLS handshake error: tls: client didn't provide a certificate");
}

#[test]
fn client_certificate_from_another_ca_is_refused() {
    let certificates = Certificates::generate("verify-stranger");
    let server = Server::start(&certificates.verifying_server_args());
    let mut client = TlsClient::connect(server.port, certificates.client_config(Some("stranger")));
    let (bytes, ending) = client.read_to_end();
    assert_eq!(text(&bytes), "");
    assert_eq!(
        ending,
        refusal_alert(server.flavor, rustls::AlertDescription::UnknownCA)
    );
    server.wait_for_log(
        "TLS handshake error: tls: failed to verify client certificate: x509: certificate \
         signed by unknown authority",
    );
}

#[test]
fn close_notify_is_answered_and_sent_after_an_error() {
    let certificates = Certificates::generate("close-notify");
    let server = Server::start(&certificates.server_args());
    let config = certificates.client_config(None);

    // The client says close_notify: the server answers in kind and closes.
    let mut leaving = TlsClient::connect(server.port, Arc::clone(&config));
    leaving.send(CONNECT_QUIET);
    leaving.send(b"PING\r\n");
    leaving.expect(b"PONG\r\n");
    leaving.stream.conn.send_close_notify();
    leaving.stream.flush().unwrap();
    let (bytes, ending) = leaving.read_to_end();
    assert_eq!((text(&bytes), ending), (String::new(), Ending::CloseNotify));

    // A protocol error: -ERR, then close_notify.
    let mut erring = TlsClient::connect(server.port, config);
    erring.send(b"BOGUS\r\n");
    let (bytes, ending) = erring.read_to_end();
    assert_eq!(
        (text(&bytes), ending),
        (
            "-ERR 'Unknown Protocol Operation'\r\n".to_string(),
            Ending::CloseNotify
        )
    );
}

#[test]
fn info_fields_match_nats_server() {
    if !nats_server_installed() {
        eprintln!("nats-server not installed: INFO comparison skipped (CI installs it)");
        return;
    }
    let certificates = Certificates::generate("compare");
    for args in [
        certificates.server_args(),
        certificates.verifying_server_args(),
    ] {
        let keys = |flavor| {
            let server = Server::start_flavor(flavor, &args);
            let (_stream, info) = connect_and_read_info(server.port);
            server.wait_for_log("TLS required for client connections");
            info_keys(&info)
        };
        assert_eq!(keys(Flavor::Ringmq), keys(Flavor::NatsServer), "{args:?}");
    }
}

/// INFO's keys in order, with the values of the fields that do not vary between servers.
fn info_keys(info: &str) -> Vec<String> {
    let json = info
        .strip_prefix("INFO ")
        .and_then(|rest| rest.strip_suffix(" \r\n"))
        .expect("INFO framing");
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).expect("INFO JSON");
    object
        .iter()
        .map(|(key, value)| match key.as_str() {
            "headers" | "tls_required" | "tls_verify" | "max_payload" | "proto" => {
                format!("{key}={value}")
            }
            _ => key.clone(),
        })
        .collect()
}

#[test]
fn unreadable_tls_files_stop_start_up_naming_the_file() {
    let certificates = Certificates::generate("files");
    let missing = certificates.path("missing.pem");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_ringmq"))
            .args(["-a", "127.0.0.1", "-p", "-1", "--cores", "1"])
            .args(args)
            .output()
            .expect("run ringmq");
        assert!(!output.status.success(), "{args:?} started");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let cert = certificates.path("server-cert.pem").display().to_string();
    let key = certificates.path("server-key.pem").display().to_string();
    let missing = missing.display().to_string();

    let stderr = run(&["--tls", "--tlscert", &missing, "--tlskey", &key]);
    assert!(
        stderr.contains(&format!("TLS certificate file {missing}: No such file")),
        "{stderr}"
    );
    let stderr = run(&["--tls", "--tlscert", &cert, "--tlskey", &cert]);
    assert!(
        stderr.contains(&format!("TLS key file {cert}: no private key found")),
        "{stderr}"
    );
    let stderr = run(&[
        "--tlsverify",
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
        "--tlscacert",
        &key,
    ]);
    assert!(
        stderr.contains(&format!("TLS CA file {key}: no certificate found")),
        "{stderr}"
    );
    let stderr = run(&["--tls", "--tlscert", &cert]);
    assert!(
        stderr.contains("TLS Server private key must be present and valid"),
        "{stderr}"
    );
}

// ---- the runtime alone ----

/// Greets in plain text, starts TLS, writes before the handshake is done, echoes every
/// input and pauses reading after each `on_data`, resuming from a timer a millisecond
/// later: decrypted bytes and records wait in the session and the connection while paused.
struct PausingEcho {
    events: Arc<Mutex<Vec<String>>>,
    paused: Vec<ConnId>,
}

impl Handler for PausingEcho {
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, _peer: SocketAddr) {
        io.write(conn, b"HELLO\r\n");
        assert!(io.start_tls(conn));
        assert!(!io.start_tls(conn), "already TLS");
        // Written before the handshake: held back, then sent as the first TLS data.
        io.write(conn, b"early ");
    }
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        if self.paused.contains(&conn) {
            self.events.lock().unwrap().push("data while paused".into());
        }
        io.write(conn, data);
        io.pause_reading(conn);
        self.paused.push(conn);
        io.set_timer(io.now() + Duration::from_millis(1), 0);
    }
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, reason: CloseReason) {
        self.events
            .lock()
            .unwrap()
            .push(format!("close {reason:?}"));
    }
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, io: &mut Io<'_>, _token: u64) {
        for conn in self.paused.drain(..) {
            io.resume_reading(conn);
        }
    }
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
    fn on_tls_established(&mut self, _io: &mut Io<'_>, _conn: ConnId, handshake: TlsHandshake) {
        self.events.lock().unwrap().push(format!(
            "established {} {}",
            handshake.protocol_version, handshake.cipher_suite
        ));
    }
}

#[test]
fn runtime_echo_over_tls_survives_pausing_after_every_read() {
    let certificates = Certificates::generate("runtime-echo");
    let tls = TlsServerConfig::load(
        &certificates.path("server-cert.pem"),
        &certificates.path("server-key.pem"),
        None,
        false,
    )
    .expect("certificates load");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = RuntimeConfig {
        cores: 1,
        recv_buffers: 64,
        recv_buffer_size: 4 * 1024,
        connections_per_core: 16,
        mailbox_bytes: 1 << 20,
        write_deadline: Duration::from_secs(5),
        shutdown_flush: Duration::from_secs(1),
        tls: Some(tls),
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let for_core = Arc::clone(&events);
    let handle = runtime::start(config, listener, move |_| PausingEcho {
        events: Arc::clone(&for_core),
        paused: Vec::new(),
    })
    .expect("runtime starts");

    let (mut tcp, greeting) = connect_and_read_info_line(port);
    assert_eq!(greeting, "HELLO\r\n");
    let name = ServerName::try_from("localhost").unwrap();
    let mut session = ClientConnection::new(certificates.client_config(None), name).unwrap();
    while session.is_handshaking() {
        session.complete_io(&mut tcp).expect("handshake");
    }
    let mut stream = StreamOwned::new(session, tcp);
    // Far more than the 4 KiB receive buffers and the 16 KiB records, in one go.
    let body = payload(1 << 20);
    stream.write_all(&body).unwrap();
    stream.flush().unwrap();
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    stream.sock.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut echoed = Vec::new();
    stream
        .read_to_end(&mut echoed)
        .expect("echo, then close_notify");
    assert_eq!(text(&echoed[..6.min(echoed.len())]), "early ");
    assert!(
        echoed[6..] == body[..],
        "echoed {} of {} bytes",
        echoed.len() - 6,
        body.len()
    );

    let deadline = Instant::now() + REPLY_TIMEOUT;
    while events.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no close: {:?}",
            events.lock().unwrap()
        );
        std::thread::yield_now();
    }
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            "established 1.3 TLS_AES_128_GCM_SHA256".to_string(),
            "close PeerClosed".to_string()
        ]
    );
    handle.shutdown();
    handle.join();
}
