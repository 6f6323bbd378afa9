//! WebSocket over TLS (`wss://`): the `websocket { tls {} }` block puts the TLS handshake
//! in front of the upgrade request, through the same rustls path as the client port, and
//! frames then travel inside TLS records. Run against nats-server too with
//! `RINGMQ_TEST_SERVER=nats-server`.

mod common;
mod tls_support;

use common::ws::{binary, WsClient, ACCEPT};
use common::{text, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::Instant;
use tls_support::Certificates;

#[test]
fn a_wss_client_upgrades_inside_tls_and_exchanges_messages() {
    let certificates = Certificates::generate("wss");
    let block = certificates.tls_block("");
    let args = certificates.config_args(
        "wss.conf",
        &format!("websocket {{\n  listen: \"127.0.0.1:-1\"\n  {block}\n  compression: true\n}}\n"),
    );
    let launch = Launch {
        args,
        ..Launch::default()
    };
    let server = Server::start_launch(Opts::default(), &launch);
    let port = server.listening_port("Listening for websocket clients on wss://");
    let (mut client, head) = WsClient::connect_tls(
        port,
        certificates.client_config(None),
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    );
    assert_eq!(
        head,
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n")
    );
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let info = client.next_frame(deadline).expect("INFO");
    assert_eq!(info.first_byte, 0xC2, "INFO compressed in one final frame");
    assert!(info.payload.starts_with(b"INFO {"));
    client.send(&binary(
        b"CONNECT {\"verbose\":false}\r\nSUB s 1\r\nPING\r\n",
    ));
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
    // A TCP client's 20 KiB message reaches the wss client whole, in TLS records.
    let payload = "w".repeat(20_000);
    let mut tcp = RawClient::connect(server.port());
    tcp.send(common::CONNECT_QUIET);
    tcp.send_and_sync(format!("PUB s {}\r\n{payload}\r\n", payload.len()).as_bytes());
    client.send(&binary(b"PING\r\n"));
    assert_eq!(
        text(&client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT)),
        format!("MSG s 1 {}\r\n{payload}\r\nPONG\r\n", payload.len())
    );
}
