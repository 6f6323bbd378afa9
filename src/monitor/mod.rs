//! HTTP monitoring (`-m PORT`): nats-server 2.9.10's /varz, /connz, /subsz, /healthz,
//! /routez, /gatewayz, /leafz, /accountz, /jsz, plus /metrics for Prometheus.
//!
//! This module is pure: bytes in, bytes out, no IO and nothing of `broker` or `runtime`.
//! The broker serves the port on core 0's ring and gathers per-core snapshots by mail
//! (`broker::monitoring`); here live the pieces it uses:
//!
//! - `http`: request heads from bytes (bounded), responses with Go's headers.
//! - `query`: endpoint routing and query options, with nats-server's error texts.
//! - `snapshot`: what a core reports, and the sort/page rules that merge reports exactly.
//! - `document`: the JSON documents in nats-server's layout (Go escaping and floats).
//! - `leafz`: /leafz and the /varz `leaf` section.
//! - `jsz`: /jsz and the /varz `jetstream` section.
//! - `websocket`: the /varz `websocket` section.
//! - `metrics`: the Prometheus text.
//! - `clock`: Instant → Unix time, RFC 3339, Go durations, uptime text, HTTP dates.

pub mod clock;
pub mod document;
pub mod http;
pub mod jsz;
pub mod leafz;
pub mod metrics;
pub mod query;
pub mod routez;
pub mod snapshot;
pub mod websocket;
