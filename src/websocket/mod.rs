//! NATS over WebSocket, the wire side (pure: no IO, nothing of ours imported): the HTTP
//! upgrade request and nats-server's answers (`handshake`), RFC 6455 frames (`frame`) and
//! permessage-deflate (`deflate`). The runtime runs frames and deflate as a transport under
//! the parser (`runtime/websocket.rs`); the broker answers the upgrade request
//! (`broker/websocket.rs`).

pub mod deflate;
pub mod frame;
pub mod handshake;
