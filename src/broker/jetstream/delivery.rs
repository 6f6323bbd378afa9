//! Consumers on the loop: their API requests, deliveries (push to the deliver subject,
//! pull to a waiting request's reply subject), acks on `$JS.ACK.>`, and the periodic
//! tick that redelivers after `ack_wait`, expires pull requests and sends heartbeats.
//! Only messages the engine has reported durable are delivered: a consumer never sees a
//! message a failed write could take back.

use super::consumer::{ephemeral_name, Consumer};
use super::consumer_store;
use super::{JetStream, ReadFor, Shard, Stream};
use crate::auth::GLOBAL_ACCOUNT;
use crate::jetstream::ack::{AckKind, AckSubject, PullRequest};
use crate::jetstream::api::{types, Paged, Payload, Response, LIST_LIMIT, NAMES_LIMIT};
use crate::jetstream::consumer_config::{CreateConsumerRequest, CreateForm};
use crate::jetstream::errors::{ApiError, ErrorId};
use crate::jetstream::stream_config::{Retention, Storage};
use crate::runtime::Io;
use crate::store::{Lookup, StoredMsg};
use std::time::{Duration, Instant};

use super::super::internal::InternalMsg;

/// How often the tick runs while consumers exist (ack deadlines, pull expiries and
/// heartbeats are kept to this precision).
pub(super) const TICK: Duration = Duration::from_millis(50);

/// A status message's header block (`NATS/1.0 404 No Messages`, ...).
pub(super) fn status(text: &str) -> Vec<u8> {
    format!("NATS/1.0 {text}\r\n\r\n").into_bytes()
}

/// A status that ends a pull request, with what it still asked for (nats-server's
/// `Nats-Pending-Messages` / `Nats-Pending-Bytes`).
fn ending(text: &str, waiting: &super::consumer::Waiting) -> Vec<u8> {
    format!(
        "NATS/1.0 {text}\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
        waiting.batch,
        waiting.max_bytes.max(0)
    )
    .into_bytes()
}

impl Shard {
    pub(super) fn consumer_create(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        stream_name: &str,
        form: &CreateForm,
        body: &[u8],
    ) -> Response {
        let kind = types::CONSUMER_CREATE;
        let request = match CreateConsumerRequest::parse(body) {
            Ok(request) => request,
            Err(error) => return Response::error(kind, error),
        };
        let config = match request.check_subject(stream_name, form) {
            Ok(config) => config,
            Err(error) => return Response::error(kind, error),
        };
        let Some(stream) = js.streams.get_mut(stream_name).filter(|s| !s.deleting) else {
            return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
        };
        let config = match config.checked(&stream.config) {
            Ok(config) => config,
            Err(error) => return Response::error(kind, error),
        };
        // An ephemeral's invented name is not written into its configuration (nats-server
        // echoes the configuration as given).
        let name = match config.given_name() {
            Some(name) => name.to_string(),
            None => ephemeral_name(&mut js.name_seed),
        };
        if let Some(existing) = stream.consumers.get_mut(&name) {
            if let Err(error) = config.check_update(&existing.config, || false) {
                return Response::error(kind, error);
            }
            existing.config = config;
            let info = existing.info(stream_name, &stream.store);
            return Response::ok(kind, Payload::Consumer(info));
        }
        let max = stream.config.max_consumers;
        if max > 0 && stream.consumers.len() as i64 >= max {
            return Response::error(kind, ApiError::new(ErrorId::MaximumConsumersLimit));
        }
        let mut consumer = Consumer::new(name.clone(), config, &stream.store, io.now());
        consumer.slot = stream.next_consumer_slot;
        stream.next_consumer_slot += 1;
        if persisted_here(stream, &consumer.config) {
            let dir = js.shared.streams_dir.join(stream_name);
            consumer_store::queue_write(&mut stream.io, &dir, consumer.slot, &consumer);
        }
        if consumer.config.is_push() {
            consumer.push_bound =
                self.has_interest(GLOBAL_ACCOUNT, &consumer.config.deliver_subject);
        }
        let info = consumer.info(stream_name, &stream.store);
        stream.consumers.insert(name.clone(), consumer);
        js.deliver_soon.push((stream_name.to_string(), name));
        Response::ok(kind, Payload::Consumer(info))
    }

    /// `CONSUMER.MSG.NEXT`: a pull request joins the consumer's waiting list.
    pub(super) fn pull_request(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        stream_name: &str,
        name: &str,
        body: &[u8],
        reply: &str,
    ) {
        let Some(stream) = js.streams.get_mut(stream_name).filter(|s| !s.deleting) else {
            return;
        };
        let Some(consumer) = stream.consumers.get_mut(name) else {
            return;
        };
        let answer = |shard: &mut Shard, io: &mut Io<'_>, text: &str| {
            shard.internal_publish(io, GLOBAL_ACCOUNT, reply, None, &status(text), b"");
        };
        if consumer.config.is_push() {
            return answer(self, io, "409 Consumer is push based");
        }
        let request = match PullRequest::parse(body) {
            Ok(request) => request,
            Err(error) => return answer(self, io, &format!("400 {}", error.0)),
        };
        let max_waiting = consumer.config.max_waiting;
        if max_waiting > 0 && consumer.waiting.len() as i64 >= max_waiting {
            return answer(self, io, "409 Exceeded MaxWaiting");
        }
        let waiting = Consumer::waiting_from(&request, reply.to_string(), io.now());
        consumer.waiting.push_back(waiting);
        consumer.last_active = io.now();
        self.deliver_consumer(io, js, stream_name, name);
    }

    /// A publish on `$JS.ACK.>`.
    pub(super) fn jetstream_ack(&mut self, io: &mut Io<'_>, js: &mut JetStream, msg: &InternalMsg) {
        let Some(ack) = AckSubject::parse(&msg.subject) else {
            return;
        };
        let Some(kind) = AckKind::parse(&msg.payload) else {
            return;
        };
        let now = io.now();
        let Some(stream) = js.streams.get_mut(&ack.stream) else {
            return;
        };
        let Some(consumer) = stream.consumers.get_mut(&ack.consumer) else {
            return;
        };
        consumer.dirty = true;
        consumer.last_active = now;
        let seq = ack.stream_seq;
        let mut finished = Vec::new();
        match &kind {
            AckKind::Ack | AckKind::Next(_) => finished = consumer.ack(seq),
            AckKind::Term => {
                consumer.last_ack_ns = super::now_ns();
                if consumer.pending.remove(&seq).is_some() {
                    finished.push(seq);
                }
                consumer.move_floor();
            }
            AckKind::InProgress => {
                consumer.last_ack_ns = super::now_ns();
                let wait = consumer.ack_wait(1);
                if let Some(pending) = consumer.pending.get_mut(&seq) {
                    pending.deadline = now + wait;
                }
            }
            AckKind::Nak { delay_ns } => {
                consumer.last_ack_ns = super::now_ns();
                if let Some(pending) = consumer.pending.get_mut(&seq) {
                    match delay_ns {
                        Some(delay) => pending.deadline = now + Duration::from_nanos(*delay as u64),
                        None => {
                            // Due now; the deadline keeps the tick from queueing it again.
                            pending.deadline = now + consumer_wait(consumer.config.ack_wait);
                            consumer.redeliver.push_back(seq);
                        }
                    }
                }
            }
        }
        let reply = msg.reply.clone().filter(|r| !r.is_empty());
        match (kind, reply) {
            (AckKind::Next(request), Some(reply)) if !consumer.config.is_push() => {
                let waiting = Consumer::waiting_from(&request, reply, now);
                consumer.waiting.push_back(waiting);
            }
            (AckKind::Next(_), Some(_)) => {}
            // An acknowledged ack (AckSync): an empty message to its reply subject.
            (_, Some(reply)) => self.internal_publish(io, GLOBAL_ACCOUNT, &reply, None, b"", b""),
            _ => {}
        }
        let (stream_name, name) = (ack.stream, ack.consumer);
        retire(js, &stream_name, &finished);
        self.deliver_consumer(io, js, &stream_name, &name);
    }

    /// Delivers what every consumer of `stream_name` can take now.
    pub(super) fn deliver_stream(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        stream_name: &str,
    ) {
        let names: Vec<String> = match js.streams.get(stream_name) {
            Some(stream) => stream.consumers.keys().cloned().collect(),
            None => return,
        };
        for name in names {
            self.deliver_consumer(io, js, stream_name, &name);
        }
    }

    pub(super) fn deliver_consumer(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        stream_name: &str,
        name: &str,
    ) {
        let now = io.now();
        let deliver_subject = js
            .streams
            .get(stream_name)
            .and_then(|s| s.consumers.get(name))
            .filter(|c| c.config.is_push())
            .map(|c| c.config.deliver_subject.clone());
        if let Some(subject) = deliver_subject {
            let bound = self.has_interest(GLOBAL_ACCOUNT, &subject);
            if let Some(c) = js
                .streams
                .get_mut(stream_name)
                .and_then(|s| s.consumers.get_mut(name))
            {
                c.push_bound = bound;
            }
            if !bound {
                return;
            }
        }
        loop {
            let Some(stream) = js.streams.get_mut(stream_name) else {
                return;
            };
            let Stream {
                store,
                consumers,
                reads,
                ..
            } = stream;
            let Some(consumer) = consumers.get_mut(name) else {
                return;
            };
            if consumer.reading {
                return;
            }
            let push = consumer.config.is_push();
            if !push && consumer.waiting.is_empty() {
                return;
            }
            if consumer.saturated() {
                return;
            }
            let durable = store.durable_through();
            let next = consumer.next(store).filter(|&(seq, _)| seq <= durable);
            let Some((seq, redelivery)) = next else {
                // Nothing to give: a no_wait request is answered now.
                // (nats-server: 408 once something was delivered or with an expiry, else 404.)
                if let Some(front) = consumer.waiting.front() {
                    if front.no_wait {
                        let front = consumer.waiting.pop_front().expect("front");
                        let text = if front.delivered > 0 || front.expires.is_some() {
                            ending("408 Request Timeout", &front)
                        } else {
                            status("404 No Messages")
                        };
                        self.internal_publish(io, GLOBAL_ACCOUNT, &front.reply, None, &text, b"");
                        continue;
                    }
                }
                return;
            };
            match store.get(seq) {
                Lookup::Ready(msg) => {
                    if !self.send_delivery(io, stream_name, consumer, &msg, redelivery, now, store)
                    {
                        consumer.put_back(seq, redelivery);
                    }
                }
                Lookup::Pending(ticket) => {
                    consumer.put_back(seq, redelivery);
                    consumer.reading = true;
                    reads.insert(ticket, ReadFor::Consumer(name.to_string()));
                    return;
                }
                Lookup::Missing => {
                    if redelivery {
                        consumer.pending.remove(&seq);
                        consumer.move_floor();
                    } else {
                        consumer.next_seq = consumer.next_seq.max(seq + 1);
                    }
                }
            }
        }
    }

    /// A message the engine read for a consumer: it is in the cache now, so delivery goes
    /// on from where it stopped.
    pub(super) fn consumer_read_done(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        stream_name: &str,
        name: &str,
        msg: Option<StoredMsg>,
    ) {
        let now = io.now();
        if let Some(stream) = js.streams.get_mut(stream_name) {
            let Stream {
                store, consumers, ..
            } = stream;
            if let Some(consumer) = consumers.get_mut(name) {
                consumer.reading = false;
                if let Some(msg) = msg {
                    if let Some((seq, redelivery)) = consumer.next(store) {
                        if seq == msg.seq {
                            if !self.send_delivery(
                                io,
                                stream_name,
                                consumer,
                                &msg,
                                redelivery,
                                now,
                                store,
                            ) {
                                consumer.put_back(seq, redelivery);
                            }
                        } else {
                            consumer.put_back(seq, redelivery);
                        }
                    }
                }
            }
        }
        self.deliver_consumer(io, js, stream_name, name);
    }

    /// Publishes one delivery; `false` when its target could not take it (the message is
    /// given back).
    #[allow(clippy::too_many_arguments)]
    fn send_delivery(
        &mut self,
        io: &mut Io<'_>,
        stream_name: &str,
        consumer: &mut Consumer,
        msg: &StoredMsg,
        redelivery: bool,
        now: Instant,
        store: &crate::store::StreamStore,
    ) -> bool {
        let size = (msg.subject.len() + msg.headers.len() + msg.payload.len()) as i64;
        let target = if consumer.config.is_push() {
            consumer.config.deliver_subject.clone()
        } else {
            let Some(front) = consumer.waiting.front_mut() else {
                return false;
            };
            if front.max_bytes > 0 && size > front.max_bytes {
                let front = consumer.waiting.pop_front().expect("front");
                let text = ending("409 Message Size Exceeds MaxBytes", &front);
                self.internal_publish(io, GLOBAL_ACCOUNT, &front.reply, None, &text, b"");
                return false;
            }
            front.reply.clone()
        };
        let (deliveries, consumer_seq) =
            consumer.record_delivery(msg.seq, redelivery, msg.time_ns, now);
        let ack = AckSubject {
            stream: stream_name.to_string(),
            consumer: consumer.name.clone(),
            delivered: deliveries,
            stream_seq: msg.seq,
            consumer_seq,
            timestamp: msg.time_ns,
            pending: consumer.num_pending(store),
        }
        .encode();
        if consumer.config.headers_only {
            let mut headers = if msg.headers.is_empty() {
                b"NATS/1.0\r\n".to_vec()
            } else {
                msg.headers[..msg.headers.len() - 2].to_vec()
            };
            headers.extend_from_slice(
                format!("Nats-Msg-Size: {}\r\n\r\n", msg.payload.len()).as_bytes(),
            );
            self.internal_deliver(
                io,
                GLOBAL_ACCOUNT,
                &target,
                Some(&msg.subject),
                Some(&ack),
                &headers,
                b"",
            );
        } else {
            self.internal_deliver(
                io,
                GLOBAL_ACCOUNT,
                &target,
                Some(&msg.subject),
                Some(&ack),
                &msg.headers,
                &msg.payload,
            );
        }
        if let Some(front) = consumer
            .waiting
            .front_mut()
            .filter(|_| !consumer.config.is_push())
        {
            front.batch -= 1;
            front.delivered += 1;
            if front.max_bytes > 0 {
                front.max_bytes -= size;
            }
            if front.batch <= 0 || (front.max_bytes < 0) {
                consumer.waiting.pop_front();
            }
        }
        true
    }

    /// The periodic work of consumers and streams: redeliveries, expired pull requests,
    /// heartbeats, `max_age`.
    pub(in crate::broker) fn jetstream_tick(&mut self, io: &mut Io<'_>) {
        let Some(mut js) = self.jetstream.take() else {
            return;
        };
        js.tick_armed = false;
        let now = io.now();
        let now_ns = super::now_ns();
        let names: Vec<String> = js.streams.keys().cloned().collect();
        for stream_name in &names {
            let mut out: Vec<(String, Vec<u8>)> = Vec::new();
            let mut advisories = Vec::new();
            let Some(stream) = js.streams.get_mut(stream_name) else {
                continue;
            };
            if stream.config.max_age > 0 {
                stream.store.expire(now_ns);
            }
            let dir = js.shared.streams_dir.join(stream_name);
            let file_stream = stream.config.storage != Some(Storage::Memory);
            stream.consumers.retain(|_, c| !c.abandoned(now));
            for consumer in stream.consumers.values_mut() {
                if consumer.dirty && file_stream && consumer_store::persisted(&consumer.config) {
                    consumer_store::queue_write(&mut stream.io, &dir, consumer.slot, consumer);
                }
                consumer.dirty = false;
            }
            stream.store.tick(now_ns);
            for consumer in stream.consumers.values_mut() {
                let due: Vec<(u64, u64)> = consumer
                    .pending
                    .iter()
                    .filter(|(_, p)| p.deadline <= now)
                    .map(|(s, p)| (*s, p.deliveries))
                    .collect();
                for (seq, deliveries) in due {
                    let max = consumer.config.max_deliver;
                    if max > 0 && deliveries as i64 >= max {
                        consumer.pending.remove(&seq);
                        advisories.push((consumer.name.clone(), seq, deliveries));
                    } else if let Some(p) = consumer.pending.get_mut(&seq) {
                        p.deadline = now + consumer_wait(consumer.config.ack_wait);
                        if !consumer.redeliver.contains(&seq) {
                            consumer.redeliver.push_back(seq);
                        }
                    }
                }
                consumer.move_floor();
                let pending = consumer.num_pending(&stream.store);
                consumer.waiting.retain_mut(|w| {
                    if w.expires.is_some_and(|at| at <= now) {
                        out.push((w.reply.clone(), ending("408 Request Timeout", w)));
                        return false;
                    }
                    if let Some(every) = w.heartbeat {
                        if now.duration_since(w.last_heartbeat) >= every {
                            w.last_heartbeat = now;
                            out.push((w.reply.clone(), status("100 Idle Heartbeat")));
                        }
                    }
                    true
                });
                let _ = pending;
                let every = consumer.config.idle_heartbeat;
                if consumer.config.is_push()
                    && every > 0
                    && now.duration_since(consumer.last_sent) >= Duration::from_nanos(every as u64)
                {
                    consumer.last_sent = now;
                    out.push((
                        consumer.config.deliver_subject.clone(),
                        format!(
                            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {}\r\nNats-Last-Stream: {}\r\n\r\n",
                            consumer.delivered.0, consumer.delivered.1
                        )
                        .into_bytes(),
                    ));
                }
            }
            for (subject, headers) in out {
                self.internal_publish(io, GLOBAL_ACCOUNT, &subject, None, &headers, b"");
            }
            for (consumer, seq, deliveries) in advisories {
                let body = format!(
                    "{{\"type\":\"io.nats.jetstream.advisory.v1.max_deliver\",\"stream\":\"{stream_name}\",\"consumer\":\"{consumer}\",\"stream_seq\":{seq},\"deliveries\":{deliveries}}}"
                );
                let subject =
                    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream_name}.{consumer}");
                self.internal_publish(io, GLOBAL_ACCOUNT, &subject, None, b"", body.as_bytes());
            }
            self.deliver_stream(io, &mut js, stream_name);
        }
        self.jetstream = Some(js);
        self.pump_jetstream(io);
    }
}

/// Retention by acks: a work queue drops a message once it is acknowledged; an interest
/// stream once every consumer that takes it is done with it.
fn retire(js: &mut JetStream, stream_name: &str, acked: &[u64]) {
    let Some(stream) = js.streams.get_mut(stream_name) else {
        return;
    };
    for &seq in acked {
        let drop = match stream.config.retention {
            Retention::Limits => false,
            Retention::WorkQueue => true,
            Retention::Interest => stream
                .consumers
                .values()
                .all(|c| c.done_with(seq, &stream.store)),
        };
        if drop {
            stream.store.delete(seq);
        }
    }
}

/// Whether `config`'s consumer of `stream` is kept on disk.
fn persisted_here(
    stream: &Stream,
    config: &crate::jetstream::consumer_config::ConsumerConfig,
) -> bool {
    stream.config.storage != Some(Storage::Memory) && consumer_store::persisted(config)
}

/// An ack wait as a duration (at least a tick).
fn consumer_wait(ns: i64) -> Duration {
    Duration::from_nanos(ns.max(1) as u64).max(TICK)
}

/// `CONSUMER.INFO`, `DELETE`, `NAMES`, `LIST`.
pub(super) fn consumer_info(js: &JetStream, stream: &str, name: &str) -> Response {
    let kind = types::CONSUMER_INFO;
    let Some(s) = js.streams.get(stream).filter(|s| !s.deleting) else {
        return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
    };
    match s.consumers.get(name) {
        Some(c) => Response::ok(kind, Payload::Consumer(c.info(stream, &s.store))),
        None => Response::error(kind, ApiError::new(ErrorId::ConsumerNotFound)),
    }
}

pub(super) fn consumer_delete(js: &mut JetStream, stream: &str, name: &str) -> Response {
    let kind = types::CONSUMER_DELETE;
    let dir = js.shared.streams_dir.join(stream);
    let Some(s) = js.streams.get_mut(stream).filter(|s| !s.deleting) else {
        return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
    };
    match s.consumers.remove(name) {
        Some(consumer) => {
            if persisted_here(s, &consumer.config) {
                consumer_store::queue_remove(&mut s.io, &dir, name);
            }
            Response::ok(kind, Payload::Success { success: true })
        }
        None => Response::error(kind, ApiError::new(ErrorId::ConsumerNotFound)),
    }
}

pub(super) fn consumer_listing(js: &JetStream, stream: &str, names: bool, body: &[u8]) -> Response {
    let kind = if names {
        types::CONSUMER_NAMES
    } else {
        types::CONSUMER_LIST
    };
    let Some(s) = js.streams.get(stream).filter(|s| !s.deleting) else {
        return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
    };
    let offset = match crate::jetstream::api::ListRequest::parse(body) {
        Ok(request) => request.offset,
        Err(error) => return Response::error(kind, error),
    };
    let total = s.consumers.len();
    let offset = offset.min(total);
    let limit = if names { NAMES_LIMIT } else { LIST_LIMIT };
    let page = s.consumers.values().skip(offset).take(limit);
    let payload = if names {
        Payload::ConsumerNames {
            consumers: page.map(|c| c.name.clone()).collect(),
        }
    } else {
        Payload::ConsumerList {
            consumers: page.map(|c| c.info(stream, &s.store)).collect(),
        }
    };
    let mut response = Response::ok(kind, payload);
    response.paged = Some(Paged {
        total,
        offset,
        limit,
    });
    response
}
