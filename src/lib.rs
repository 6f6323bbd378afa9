//! ringmq: a NATS-protocol message broker on a thread-per-core io_uring runtime.
//!
//! # Layout
//!
//! - [`cli`]: command line flags, compatible with nats-server's; produces a [`config::Config`].
//! - [`conf`]: nats-server's config file format (`-c FILE`), read into a [`config::Config`].
//! - [`config`]: the validated configuration, including [`config::Limits`], every bound.
//! - [`log`]: nats-server style log lines (`[pid] date time [INF] text`).
//! - [`protocol`]: bytes ↔ client operations; no IO, no per-message allocation.
//! - [`subjects`]: subject validation, the subscription trie and its match cache.
//! - [`runtime`]: per-core io_uring event loops, buffers, mailboxes, timers; knows nothing
//!   about NATS; the only module allowed to opt out of `deny(unsafe_code)`.
//! - [`auth`]: users, nkeys, tokens, accounts and permissions, decided at CONNECT.
//! - [`broker`]: NATS semantics on top of the above: connections, routing, interest.
//! - [`jetstream`]: JetStream's API documents (configs, errors, responses, ack subjects;
//!   pure, nats-server 2.9.10's JSON).
//! - [`store`]: JetStream's storage engine, sans-IO: segment files, indexes, recovery.
//! - [`monitor`]: the HTTP monitoring endpoints' wire formats (pure; served by `broker`).
//! - [`websocket`]: NATS over WebSocket on the wire: the upgrade request, frames, deflate
//!   (pure; run by `runtime` as a transport, answered by `broker`).
//!
//! Dependencies point down only: `broker` uses `auth`, `protocol`, `subjects`, `runtime`
//! and `monitor`; `auth`, `monitor` and `jetstream` use only `subjects`; `protocol` and `subjects` use
//! nothing of ours; `websocket` and `store` use nothing of ours; `runtime` uses only [`log`] and
//! [`websocket`].
#![deny(unsafe_code)]

pub mod auth;
pub mod broker;
pub mod cli;
pub mod conf;
pub mod config;
pub mod control;
pub mod jetstream;
pub mod log;
pub mod monitor;
pub mod protocol;
pub mod runtime;
pub mod store;
pub mod subjects;
pub mod websocket;

/// The nats-server version whose wire behaviour ringmq matches; sent in INFO so clients
/// enable the right features.
pub const COMPAT_VERSION: &str = "2.9.10";

/// ringmq's own version, printed in the start-up log.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
