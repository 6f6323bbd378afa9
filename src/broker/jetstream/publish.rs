//! A message into a stream, as nats-server 2.9.10's `processJetStreamMsg` takes it: the
//! expectation headers, `Nats-Msg-Id` de-duplication inside the duplicate window, roll-ups,
//! the limits (through the engine), then the PubAck: after the engine reports the append
//! durable (group commit), or at once for an error or a duplicate.

use super::{JetStream, Shard};
use crate::auth::GLOBAL_ACCOUNT;
use crate::jetstream::api::PubAck;
use crate::jetstream::errors::{ApiError, ErrorId};
use crate::jetstream::stream_config::{Retention, Storage};
use crate::runtime::Io;
use crate::store::StoreError;
use std::collections::{HashMap, VecDeque};

use super::super::internal::InternalMsg;

/// A PubAck held until its sequence is durable.
#[derive(Debug)]
pub(super) struct PendingAck {
    pub seq: u64,
    /// `None`: the publisher asked for no answer; the entry only keeps order.
    pub reply: Option<String>,
}

/// `Nats-Msg-Id`s seen inside the duplicate window: id → (sequence, time).
#[derive(Debug, Default)]
pub(super) struct Dedupe {
    ids: HashMap<String, (u64, i64)>,
    order: VecDeque<(i64, String)>,
    /// The last message's id (`Nats-Expected-Last-Msg-Id`).
    pub last_id: Option<String>,
}

impl Dedupe {
    fn expire(&mut self, now: i64, window: i64) {
        while let Some((at, _)) = self.order.front() {
            if now - *at < window {
                break;
            }
            let (_, id) = self.order.pop_front().expect("front exists");
            if self.ids.get(&id).is_some_and(|&(_, t)| now - t >= window) {
                self.ids.remove(&id);
            }
        }
    }

    fn seen(&self, id: &str) -> Option<u64> {
        self.ids.get(id).map(|&(seq, _)| seq)
    }

    fn record(&mut self, id: &str, seq: u64, now: i64) {
        self.ids.insert(id.to_string(), (seq, now));
        self.order.push_back((now, id.to_string()));
    }
}

/// The value of header `name` in a `NATS/1.0` header block (exact name, as nats-server's
/// `getHeader` matches it), trimmed.
pub(super) fn header<'a>(headers: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(headers).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name).then(|| value.trim())
    })
}

impl Shard {
    pub(super) fn jetstream_publish(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        name: &str,
        msg: &InternalMsg,
    ) {
        let domain = js.shared.domain.clone();
        // Memory streams together stay within max_memory_store (nats-server's answer past
        // it: 10023). Summed per publish into a memory stream only.
        let memory_full = js
            .streams
            .get(name)
            .is_some_and(|s| s.config.storage == Some(Storage::Memory))
            && {
                let used: u64 = js
                    .streams
                    .values()
                    .filter(|s| !s.deleting && s.config.storage == Some(Storage::Memory))
                    .map(|s| s.store.state().bytes)
                    .sum();
                // As nats-server: refused once the streams hold the limit or more (the message
                // that crosses it is still taken).
                used >= js.shared.max_memory.max(0) as u64
            };
        let Some(stream) = js.streams.get_mut(name) else {
            return;
        };
        if stream.deleting {
            return;
        }
        let now = super::now_ns();
        let reply = msg.reply.clone().filter(|r| !r.is_empty());
        let refuse = |shard: &mut Shard, io: &mut Io<'_>, error: ApiError| {
            if let Some(reply) = &reply {
                let ack = PubAck::Error {
                    stream: name.to_string(),
                    error,
                };
                shard.internal_publish(io, GLOBAL_ACCOUNT, reply, None, b"", &ack.to_json());
            }
        };
        if stream.config.sealed {
            return refuse(self, io, ApiError::new(ErrorId::StreamSealed));
        }
        let headers = &msg.headers[..];
        let msg_id = header(headers, "Nats-Msg-Id").filter(|id| !id.is_empty());
        if let Some(expected) = header(headers, "Nats-Expected-Stream") {
            if expected != name {
                return refuse(self, io, ApiError::new(ErrorId::StreamNotMatch));
            }
        }
        stream.dedupe.expire(now, stream.config.duplicate_window);
        if let Some(id) = msg_id {
            if let Some(seq) = stream.dedupe.seen(id) {
                if let Some(reply) = &reply {
                    let ack = PubAck::Stored {
                        stream: name.to_string(),
                        domain: domain.clone(),
                        seq,
                        duplicate: true,
                    };
                    self.internal_publish(io, GLOBAL_ACCOUNT, reply, None, b"", &ack.to_json());
                }
                return;
            }
        }
        let state = stream.store.state();
        if let Some(expected) = header(headers, "Nats-Expected-Last-Sequence") {
            if expected.parse::<u64>().ok() != Some(state.last_seq) {
                return refuse(self, io, ApiError::wrong_last_sequence(state.last_seq));
            }
        }
        if let Some(expected) = header(headers, "Nats-Expected-Last-Subject-Sequence") {
            let last = stream.store.last_for_subject(&msg.subject).unwrap_or(0);
            if expected.parse::<u64>().ok() != Some(last) {
                return refuse(self, io, ApiError::wrong_last_sequence(last));
            }
        }
        if let Some(expected) = header(headers, "Nats-Expected-Last-Msg-Id") {
            let last = stream.dedupe.last_id.as_deref().unwrap_or("");
            if expected != last {
                return refuse(self, io, ApiError::wrong_last_msg_id(last));
            }
        }
        let rollup = header(headers, "Nats-Rollup");
        if let Some(kind) = rollup {
            if !stream.config.allow_rollup_hdrs {
                return refuse(
                    self,
                    io,
                    ApiError::text(ErrorId::StreamRollupFailed, "rollup not permitted"),
                );
            }
            if kind != "sub" && kind != "all" {
                // nats-server 2.9.10 neither stores nor answers such a message.
                return;
            }
        }
        if stream.config.storage == Some(Storage::Memory) && memory_full {
            return refuse(self, io, ApiError::new(ErrorId::InsufficientResources));
        }
        let seq = match stream
            .store
            .append(&msg.subject, headers, &msg.payload, now)
        {
            Ok(seq) => seq,
            Err(error) => return refuse(self, io, store_error(&error)),
        };
        match rollup {
            Some("all") => {
                stream.store.purge(None, Some(seq), None);
            }
            Some("sub") => {
                stream.store.purge(Some(&msg.subject), Some(seq), None);
            }
            _ => {}
        }
        if let Some(id) = msg_id {
            stream.dedupe.record(id, seq, now);
        }
        // An interest stream keeps a message only for the consumers there are; with none,
        // it is acknowledged and not kept (nats-server's behaviour).
        if stream.config.retention == Retention::Interest && stream.consumers.is_empty() {
            stream.store.delete(seq);
        }
        stream.dedupe.last_id = msg_id.map(str::to_string);
        stream.acks.push_back(PendingAck { seq, reply });
    }

    /// Every PubAck up to `through`: the engine says those appends are durable.
    pub(super) fn send_pubacks(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        name: &str,
        through: u64,
    ) {
        let domain = js.shared.domain.clone();
        let Some(stream) = js.streams.get_mut(name) else {
            return;
        };
        while stream.acks.front().is_some_and(|ack| ack.seq <= through) {
            let ack = stream.acks.pop_front().expect("front exists");
            if let Some(reply) = ack.reply {
                let answer = PubAck::Stored {
                    stream: name.to_string(),
                    domain: domain.clone(),
                    seq: ack.seq,
                    duplicate: false,
                };
                self.internal_publish(io, GLOBAL_ACCOUNT, &reply, None, b"", &answer.to_json());
            }
        }
    }

    /// Appends `first..=last` were not stored: their publishers get an error.
    pub(super) fn fail_pubacks(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        name: &str,
        first: u64,
        last: u64,
        errno: i32,
    ) {
        let Some(stream) = js.streams.get_mut(name) else {
            return;
        };
        let mut failed = Vec::new();
        stream.acks.retain(|ack| {
            let hit = ack.seq >= first && ack.seq <= last;
            if hit {
                failed.push(ack.reply.clone());
            }
            !hit
        });
        let error = store_error(&StoreError::Io(errno));
        for reply in failed.into_iter().flatten() {
            let answer = PubAck::Error {
                stream: name.to_string(),
                error: error.clone(),
            };
            self.internal_publish(io, GLOBAL_ACCOUNT, &reply, None, b"", &answer.to_json());
        }
    }
}

/// nats-server's answer for an append the engine refused.
fn store_error(error: &StoreError) -> ApiError {
    let failed = |text: &str| ApiError::text(ErrorId::StreamStoreFailed, text);
    match error {
        StoreError::MaxMsgs => failed("maximum messages exceeded"),
        StoreError::MaxBytes => failed("maximum bytes exceeded"),
        StoreError::MaxMsgsPerSubject => failed("maximum messages per subject exceeded"),
        StoreError::MaxMsgSize => ApiError::new(ErrorId::StreamMessageExceedsMaximum),
        StoreError::Io(errno) if *errno == libc::ENOSPC => {
            ApiError::new(ErrorId::InsufficientResources)
        }
        other => failed(&other.to_string()),
    }
}
