//! JetStream's API as documents, nats-server 2.9.10's wire format (spec `beyond-core.md`
//! §A): no IO and nothing of the broker. The broker routes a `$JS.API.>` subject
//! ([`router::route`]), parses the body ([`stream_config::StreamConfig::parse`], ...), runs
//! the checks here and the ones needing state (other streams, live consumers), and
//! publishes [`api::Response::to_json`] / [`api::PubAck::to_json`].
//!
//! - [`errors`]: the error table (code, err_code, description).
//! - [`json`]: Go's JSON details (escapes, RFC 3339 times, `null` leniency).
//! - [`stream_config`], [`consumer_config`]: configurations, defaults, checks.
//! - [`api`]: request bodies and response documents, PubAck.
//! - [`ack`]: ack subjects, ack kinds, pull requests.
//! - [`router`]: API subjects → requests.

pub mod ack;
pub mod api;
pub mod consumer_config;
pub mod errors;
pub mod json;
pub mod router;
pub mod stream_config;
