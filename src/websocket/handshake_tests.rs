use super::*;

const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn request(head: &[u8]) -> Request {
    parse(head).expect("a well-formed head")
}

fn with(header: &str) -> Vec<u8> {
    let mut head = UPGRADE[..UPGRADE.len() - 2].to_vec();
    head.extend_from_slice(header.as_bytes());
    head.extend_from_slice(b"\r\n\r\n");
    head
}

#[test]
fn the_head_ends_at_its_blank_line_with_crlf_or_lf() {
    assert_eq!(head_end(UPGRADE), Some(UPGRADE.len()));
    assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n\nrest"), Some(24));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r"), None);
}

#[test]
fn a_good_request_gets_nats_servers_101_byte_for_byte() {
    let upgrade = check(&request(UPGRADE), &Policy::default()).unwrap();
    assert_eq!(
        switching_protocols(&upgrade),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
    let offered = with("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
    let policy = Policy {
        compression: true,
        ..Policy::default()
    };
    let upgrade = check(&request(&offered), &policy).unwrap();
    assert!(upgrade.compress);
    assert_eq!(
        switching_protocols(&upgrade),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n"
    );
    // Offered but not configured: declined.
    assert!(
        !check(&request(&offered), &Policy::default())
            .unwrap()
            .compress
    );
}

#[test]
fn checks_run_in_nats_servers_order_with_its_reasons() {
    let refused = |head: &[u8]| check(&request(head), &Policy::default()).unwrap_err();
    let post = [b"PUT", &UPGRADE[3..]].concat();
    assert_eq!(
        refused(&post),
        Refusal {
            status: 405,
            reason: "request method must be GET".into()
        }
    );
    let no_version = String::from_utf8_lossy(UPGRADE).replace("Sec-WebSocket-Version: 13\r\n", "");
    assert_eq!(refused(no_version.as_bytes()).reason, "invalid version");
    let no_key = String::from_utf8_lossy(UPGRADE)
        .replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert_eq!(refused(no_key.as_bytes()).reason, "key missing");
    let no_connection =
        String::from_utf8_lossy(UPGRADE).replace("Connection: Upgrade", "Connection: keep-alive");
    assert_eq!(
        refused(no_connection.as_bytes()).reason,
        "invalid value for header 'Connection'"
    );
    let no_upgrade = String::from_utf8_lossy(UPGRADE).replace("Upgrade: websocket", "Upgrade: h2c");
    assert_eq!(
        refused(no_upgrade.as_bytes()).reason,
        "invalid value for header 'Upgrade'"
    );
    // Comma lists and case do not matter.
    let listed = String::from_utf8_lossy(UPGRADE)
        .replace("Upgrade: websocket", "Upgrade: foo, WebSocket")
        .replace("Connection: Upgrade", "Connection: keep-alive, upgrade");
    assert!(check(&request(listed.as_bytes()), &Policy::default()).is_ok());
    let old = b"GET / HTTP/1.0\r\n\r\n";
    assert_eq!(refused(old).reason, "'Host' missing in request");
}

#[test]
fn origins_are_checked_only_when_configured() {
    let from = |origin: &str| request(&with(&format!("Origin: {origin}")));
    let same = Policy {
        same_origin: true,
        ..Policy::default()
    };
    assert!(check(&from("http://127.0.0.1:8080"), &same).is_ok());
    assert_eq!(
        check(&from("http://localhost:8080"), &same).unwrap_err(),
        Refusal {
            status: 403,
            reason: "origin not allowed: not same origin".into()
        }
    );
    assert!(
        check(&request(UPGRADE), &same).is_ok(),
        "no Origin: accepted"
    );
    let listed = Policy {
        allowed_origins: vec![AllowedOrigin::parse("https://example.com").unwrap()],
        ..Policy::default()
    };
    assert!(check(&from("https://EXAMPLE.com:443"), &listed).is_ok());
    assert_eq!(
        check(&from("http://example.com"), &listed)
            .unwrap_err()
            .reason,
        "origin not allowed: not in the allowed list"
    );
    assert!(check(&from("http://anything"), &Policy::default()).is_ok());
}

#[test]
fn go_refuses_malformed_heads_itself() {
    assert_eq!(parse(b"GARBAGE\r\n\r\n").unwrap_err().response, BAD_REQUEST);
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nHost: x\r\nbad\r\n\r\n")
            .unwrap_err()
            .response,
        BAD_REQUEST
    );
    assert_eq!(
        parse(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
            .unwrap_err()
            .response,
        BAD_VERSION
    );
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
            .unwrap_err()
            .response,
        NO_HOST
    );
}

#[test]
fn refusals_are_go_http_error_answers() {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        refusal_response(400, &request(head), "Mon, 07 Dec 2026 05:57:51 GMT"),
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: Mon, 07 Dec 2026 05:57:51 GMT\r\nContent-Length: 12\r\n\r\nBad Request\n"
    );
    let closing = request(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(!closing.keeps_alive());
    assert!(refusal_response(405, &closing, "D")
        .ends_with(b"Content-Length: 19\r\nConnection: close\r\n\r\nMethod Not Allowed\n"));
    let old = request(b"GET / HTTP/1.0\r\n\r\n");
    assert!(!old.keeps_alive());
    assert!(refusal_response(400, &old, "D").starts_with(b"HTTP/1.0 400 Bad Request\r\n"));
}

#[test]
fn browsers_no_masking_and_forwarded_addresses_are_noted() {
    let upgrade = check(
        &request(&with("User-Agent: Mozilla/5.0 HeadlessChrome\r\nNats-No-Masking: true\r\nX-Forwarded-For: 10.1.2.3")),
        &Policy::default(),
    )
    .unwrap();
    assert!(upgrade.browser && upgrade.no_masking);
    assert_eq!(upgrade.forwarded_for, Some("10.1.2.3".parse().unwrap()));
    assert!(switching_protocols(&upgrade).ends_with(b"Nats-No-Masking: true\r\n\r\n"));
}
