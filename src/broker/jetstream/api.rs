//! `$JS.API.>` requests, answered as nats-server 2.9.10 answers them (the documents and
//! the checks that need no state are in `crate::jetstream`). Consumers are not hosted yet:
//! their requests get nats-server's errors for a consumer that does not exist, and a
//! create is refused with a 10012 that says so.

use super::boot::{meta_bytes, store_limits};
use super::delivery::{self, status};
use super::{JetStream, ReadFor, Shard, Stream};
use crate::auth::GLOBAL_ACCOUNT;
use crate::jetstream::api::{
    types, AccountInfo, AccountLimits, ListRequest, MsgDeleteRequest, MsgGetRequest, Paged,
    Payload, PurgeRequest, Response, StoredMsg as ApiStoredMsg, StreamInfo, StreamInfoRequest,
    StreamState, LIST_LIMIT, NAMES_LIMIT, SUBJECTS_LIMIT,
};
use crate::jetstream::errors::{ApiError, ErrorId};
use crate::jetstream::json::GoTime;
use crate::jetstream::router::{self, ApiRequest};
use crate::jetstream::stream_config::{subjects_collide, Storage, StreamConfig};
use crate::runtime::Io;
use crate::store::{Lookup, StoreError, StoredMsg, StreamStore};

use super::super::internal::InternalMsg;

/// An answer waiting for the engine to read a message.
#[derive(Debug)]
pub(super) struct PendingRead {
    reply: String,
    direct: bool,
}

impl Shard {
    pub(super) fn jetstream_api(&mut self, io: &mut Io<'_>, js: &mut JetStream, msg: &InternalMsg) {
        let Some(request) = router::route(&msg.subject, js.shared.domain.as_deref()) else {
            return;
        };
        // nats-server answers nothing without a reply subject.
        let Some(reply) = msg.reply.clone().filter(|r| !r.is_empty()) else {
            return;
        };
        if let ApiRequest::StreamCreate { stream } = &request {
            if js.streams.get(stream).is_some_and(|s| s.deleting) {
                // The old stream's files are still being removed and the new one would
                // share their directory: answered once they are gone.
                js.deferred.push(msg.clone());
                return;
            }
        }
        let body = &msg.payload[..];
        let empty_only = match &request {
            ApiRequest::StreamDelete { .. } => Some(types::STREAM_DELETE),
            ApiRequest::ConsumerInfo { .. } => Some(types::CONSUMER_INFO),
            ApiRequest::ConsumerDelete { .. } => Some(types::CONSUMER_DELETE),
            _ => None,
        };
        if let Some(kind) = empty_only.filter(|_| !is_empty_request(body)) {
            js.stats.total += 1;
            js.stats.errors += 1;
            let response = Response::error(kind, ApiError::new(ErrorId::NotEmptyRequest));
            self.internal_publish(io, GLOBAL_ACCOUNT, &reply, None, b"", &response.to_json());
            return;
        }
        let response = match request {
            ApiRequest::AccountInfo => Some(account_info(js)),
            ApiRequest::StreamCreate { stream } => Some(self.stream_create(io, js, &stream, body)),
            ApiRequest::StreamUpdate { stream } => Some(self.stream_update(io, js, &stream, body)),
            ApiRequest::StreamInfo { stream } => Some(stream_info(js, &stream, body)),
            ApiRequest::StreamNames => Some(stream_names(js, body)),
            ApiRequest::StreamList => Some(stream_list(js, body)),
            ApiRequest::StreamDelete { stream } => Some(self.stream_delete(io, js, &stream)),
            ApiRequest::StreamPurge { stream } => Some(stream_purge(js, &stream, body)),
            ApiRequest::MsgDelete { stream } => Some(msg_delete(js, &stream, body)),
            ApiRequest::MsgGet { stream } => msg_get(js, &stream, body, &reply),
            ApiRequest::DirectGet { stream, last_for } => {
                self.direct_get(io, js, &stream, last_for.as_deref(), body, &reply);
                None
            }
            ApiRequest::ConsumerCreate { stream, form } => {
                Some(self.consumer_create(io, js, &stream, &form, body))
            }
            ApiRequest::ConsumerInfo { stream, consumer } => {
                Some(delivery::consumer_info(js, &stream, &consumer))
            }
            ApiRequest::ConsumerDelete { stream, consumer } => {
                Some(delivery::consumer_delete(js, &stream, &consumer))
            }
            ApiRequest::ConsumerNames { stream } => {
                Some(delivery::consumer_listing(js, &stream, true, body))
            }
            ApiRequest::ConsumerList { stream } => {
                Some(delivery::consumer_listing(js, &stream, false, body))
            }
            ApiRequest::MsgNext { stream, consumer } => {
                // The consumer's business, not an API call: nats-server does not count it.
                self.pull_request(io, js, &stream, &consumer, body, &reply);
                return;
            }
        };
        // Counted after the answer, as nats-server counts (INFO does not count itself).
        js.stats.total += 1;
        if let Some(response) = response {
            if response.error.is_some() {
                js.stats.errors += 1;
            }
            self.internal_publish(io, GLOBAL_ACCOUNT, &reply, None, b"", &response.to_json());
        }
    }

    fn stream_create(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        name: &str,
        body: &[u8],
    ) -> Response {
        let kind = types::STREAM_CREATE;
        let config = match StreamConfig::parse(body) {
            Ok(config) => config,
            Err(error) => return Response::error(kind, error),
        };
        if let Err(error) = config.check_create_request(name) {
            return Response::error(kind, error);
        }
        if let Some(key) = config.unsupported {
            return Response::error(
                kind,
                ApiError::invalid_stream_config(&format!("{key} is not supported yet")),
            );
        }
        let config = match config.checked() {
            Ok(config) => config,
            Err(error) => return Response::error(kind, error),
        };
        if let Some(existing) = js.streams.get(name).filter(|s| !s.deleting) {
            if config.same_as(&existing.config) {
                // nats-server 2.9.10 says `did_create` for the idempotent create too.
                return Response::ok(kind, Payload::Stream(info_of(existing, None), true));
            }
            return Response::error(kind, ApiError::new(ErrorId::StreamNameExist));
        }
        if let Some(error) = overlap(js, name, &config) {
            return Response::error(kind, error);
        }
        if let Some(error) = reservation_error(js, name, &config) {
            return Response::error(kind, error);
        }
        let created_ns = super::now_ns();
        let mut store = StreamStore::create(js.shared.store_config(&config));
        if config.storage != Some(Storage::Memory) {
            store.set_meta(meta_bytes(&config, created_ns));
        }
        let subs = config
            .subjects
            .iter()
            .map(|subject| self.internal_subscribe(io, GLOBAL_ACCOUNT, subject, None))
            .collect();
        let root = js.shared.jetstream_dir.clone();
        let stream = Stream::new(config, created_ns, store, root, subs);
        let info = info_of(&stream, None);
        js.add_stream(stream);
        Response::ok(kind, Payload::Stream(info, true))
    }

    fn stream_update(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        name: &str,
        body: &[u8],
    ) -> Response {
        let kind = types::STREAM_UPDATE;
        let config = match StreamConfig::parse(body) {
            Ok(config) => config,
            Err(error) => return Response::error(kind, error),
        };
        if config.name != name {
            return Response::error(kind, ApiError::new(ErrorId::StreamMismatch));
        }
        let Some(old) = js.streams.get(name).filter(|s| !s.deleting) else {
            return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
        };
        let config = match config.checked_update(&old.config) {
            Ok(config) => config,
            Err(error) => return Response::error(kind, error),
        };
        if let Some(error) = overlap(js, name, &config) {
            return Response::error(kind, error);
        }
        let stream = js.streams.get_mut(name).expect("looked up above");
        if config.subjects != stream.config.subjects {
            // The new subjects are subscribed before the old are dropped: a subject in
            // both is never without a subscriber.
            let added: Vec<usize> = config
                .subjects
                .iter()
                .map(|subject| self.internal_subscribe(io, GLOBAL_ACCOUNT, subject, None))
                .collect();
            let removed = std::mem::replace(&mut stream.subs, added.clone());
            for sub in removed {
                js.by_sub.remove(&sub);
                self.internal_unsubscribe(io, sub);
            }
            for sub in added {
                js.by_sub.insert(sub, name.to_string());
            }
        }
        let stream = js.streams.get_mut(name).expect("looked up above");
        stream.store.set_limits(store_limits(&config));
        if config.storage != Some(Storage::Memory) {
            stream
                .store
                .set_meta(meta_bytes(&config, stream.created_ns));
        }
        stream.config = config;
        Response::ok(kind, Payload::Stream(info_of(stream, None), false))
    }

    fn stream_delete(&mut self, io: &mut Io<'_>, js: &mut JetStream, name: &str) -> Response {
        let kind = types::STREAM_DELETE;
        let Some(stream) = js.streams.get_mut(name).filter(|s| !s.deleting) else {
            return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
        };
        stream.deleting = true;
        if stream.config.storage != Some(Storage::Memory) {
            // Consumer files first: the engine removes the stream's directory last.
            let persisted: Vec<String> = stream
                .consumers
                .values()
                .filter(|c| super::consumer_store::persisted(&c.config))
                .map(|c| c.name.clone())
                .collect();
            let dir = js.shared.streams_dir.join(name);
            super::consumer_store::queue_remove_dir(&mut stream.io, &dir, &persisted);
        }
        stream.store.destroy();
        let subs = std::mem::take(&mut stream.subs);
        for sub in subs {
            js.by_sub.remove(&sub);
            self.internal_unsubscribe(io, sub);
        }
        Response::ok(kind, Payload::Success { success: true })
    }

    fn direct_get(
        &mut self,
        io: &mut Io<'_>,
        js: &mut JetStream,
        name: &str,
        last_for: Option<&str>,
        body: &[u8],
        reply: &str,
    ) {
        let Some(stream) = js.streams.get_mut(name).filter(|s| !s.deleting) else {
            return;
        };
        if !stream.config.allow_direct {
            return;
        }
        let seq = match last_for {
            Some(subject) if body.is_empty() => stream.store.last_for_subject(subject),
            Some(_) => None,
            None => match MsgGetRequest::parse(body) {
                Ok(request) => lookup_seq(&stream.store, &request),
                Err(_) => {
                    let bad = status("408 Bad Request");
                    self.internal_publish(io, GLOBAL_ACCOUNT, reply, None, &bad, b"");
                    return;
                }
            },
        };
        let Some(seq) = seq else {
            let missing = status("404 Message Not Found");
            self.internal_publish(io, GLOBAL_ACCOUNT, reply, None, &missing, b"");
            return;
        };
        match stream.store.get(seq) {
            Lookup::Ready(msg) => self.answer_direct(io, name, reply, &msg),
            Lookup::Pending(ticket) => {
                let pending = PendingRead {
                    reply: reply.to_string(),
                    direct: true,
                };
                stream.reads.insert(ticket, ReadFor::Api(pending));
            }
            Lookup::Missing => {
                let missing = status("404 Message Not Found");
                self.internal_publish(io, GLOBAL_ACCOUNT, reply, None, &missing, b"");
            }
        }
    }

    /// A direct get's answer: the message with the stream's headers before its own.
    fn answer_direct(&mut self, io: &mut Io<'_>, stream: &str, reply: &str, msg: &StoredMsg) {
        let mut headers = format!(
            "NATS/1.0\r\nNats-Stream: {stream}\r\nNats-Subject: {}\r\nNats-Sequence: {}\r\nNats-Time-Stamp: {}\r\n",
            msg.subject,
            msg.seq,
            GoTime::utc(msg.time_ns).format()
        )
        .into_bytes();
        if let Some(rest) = msg.headers.strip_prefix(b"NATS/1.0\r\n") {
            headers.extend_from_slice(rest);
        } else {
            headers.extend_from_slice(b"\r\n");
        }
        self.internal_publish(io, GLOBAL_ACCOUNT, reply, None, &headers, &msg.payload);
    }

    /// A read the engine finished: the `MSG.GET` or `DIRECT.GET` waiting for it.
    pub(super) fn finish_read(
        &mut self,
        io: &mut Io<'_>,
        name: &str,
        pending: PendingRead,
        result: Result<StoredMsg, StoreError>,
    ) {
        match (result, pending.direct) {
            (Ok(msg), true) => self.answer_direct(io, name, &pending.reply, &msg),
            (Ok(msg), false) => {
                let response = Response::ok(types::MSG_GET, msg_payload(msg));
                let json = response.to_json();
                self.internal_publish(io, GLOBAL_ACCOUNT, &pending.reply, None, b"", &json);
            }
            (Err(_), true) => {
                let missing = status("404 Message Not Found");
                self.internal_publish(io, GLOBAL_ACCOUNT, &pending.reply, None, &missing, b"");
            }
            (Err(_), false) => {
                let response =
                    Response::error(types::MSG_GET, ApiError::new(ErrorId::NoMessageFound));
                let json = response.to_json();
                self.internal_publish(io, GLOBAL_ACCOUNT, &pending.reply, None, b"", &json);
            }
        }
    }
}

/// nats-server's reservations: a stream with `max_bytes` reserves that much of the
/// server's memory or file limit, and a stream that would take more than is left is
/// refused (10028 / 10047).
fn reservation_error(js: &JetStream, name: &str, config: &StreamConfig) -> Option<ApiError> {
    if config.max_bytes <= 0 {
        return None;
    }
    let memory = config.storage == Some(Storage::Memory);
    let reserved: i64 = js
        .streams
        .values()
        .filter(|s| !s.deleting && s.config.name != name)
        .filter(|s| (s.config.storage == Some(Storage::Memory)) == memory)
        .map(|s| s.config.max_bytes.max(0))
        .sum();
    let (limit, id) = if memory {
        (js.shared.max_memory, ErrorId::MemoryResourcesExceeded)
    } else {
        (js.shared.max_store, ErrorId::StorageResourcesExceeded)
    };
    (reserved.saturating_add(config.max_bytes) > limit).then(|| ApiError::new(id))
}

/// nats-server's `isEmptyRequest`: nothing, or a JSON object without members (`null` is
/// not empty).
fn is_empty_request(body: &[u8]) -> bool {
    if body.is_empty() {
        return true;
    }
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Ok(serde_json::Value::Object(map)) if map.is_empty()
    )
}

fn account_info(js: &JetStream) -> Response {
    let (mut memory, mut storage) = (0, 0);
    for stream in js.streams.values().filter(|s| !s.deleting) {
        let bytes = stream.store.state().bytes;
        match stream.config.storage {
            Some(Storage::Memory) => memory += bytes,
            _ => storage += bytes,
        }
    }
    Response::ok(
        types::ACCOUNT_INFO,
        Payload::AccountInfo(AccountInfo {
            memory,
            storage,
            streams: js.streams.values().filter(|s| !s.deleting).count(),
            consumers: js
                .streams
                .values()
                .filter(|s| !s.deleting)
                .map(|s| s.consumers.len())
                .sum(),
            limits: AccountLimits::default(),
            domain: js.shared.domain.clone(),
            api: js.stats.clone(),
        }),
    )
}

/// 10065: another stream already takes one of these subjects.
fn overlap(js: &JetStream, name: &str, config: &StreamConfig) -> Option<ApiError> {
    let clash = js
        .streams
        .values()
        .filter(|s| !s.deleting && s.config.name != name)
        .any(|s| {
            s.config
                .subjects
                .iter()
                .any(|a| config.subjects.iter().any(|b| subjects_collide(a, b)))
        });
    clash.then(|| ApiError::new(ErrorId::StreamSubjectOverlap))
}

fn stream_info(js: &mut JetStream, name: &str, body: &[u8]) -> Response {
    let kind = types::STREAM_INFO;
    let request = match StreamInfoRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return Response::error(kind, error),
    };
    let Some(stream) = js.streams.get_mut(name).filter(|s| !s.deleting) else {
        return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
    };
    stream.store.expire(super::now_ns());
    let mut info = info_of(stream, Some(&request));
    let mut response;
    if request.subjects_filter.is_empty() {
        // nats-server writes the zero paging fields on every info response.
        response = Response::ok(kind, Payload::None);
        response.paged = Some(Paged::default());
    } else {
        let total = info.state.subjects.len();
        let offset = request.offset.min(total);
        info.state.subjects.sort();
        info.state.subjects = info
            .state
            .subjects
            .drain(..)
            .skip(offset)
            .take(SUBJECTS_LIMIT)
            .collect();
        response = Response::ok(kind, Payload::None);
        response.paged = Some(Paged {
            total,
            offset,
            limit: SUBJECTS_LIMIT,
        });
    }
    response.payload = Payload::Stream(info, false);
    response
}

/// A stream's info; `request` adds deleted details and subject counts.
fn info_of(stream: &Stream, request: Option<&StreamInfoRequest>) -> StreamInfo {
    let s = stream.store.state();
    let time = |ns: i64| {
        if ns == 0 {
            GoTime::default()
        } else {
            GoTime::utc(ns)
        }
    };
    let mut state = StreamState {
        messages: s.msgs,
        bytes: s.bytes,
        first_seq: s.first_seq,
        first_ts: time(s.first_ts_ns),
        last_seq: s.last_seq,
        last_ts: time(s.last_ts_ns),
        num_subjects: s.num_subjects as usize,
        subjects: Vec::new(),
        num_deleted: s.num_deleted as usize,
        deleted: Vec::new(),
        consumer_count: stream.consumers.len(),
    };
    if let Some(request) = request {
        if request.deleted_details {
            state.deleted = stream.store.deleted();
        }
        if !request.subjects_filter.is_empty() {
            state.subjects = stream.store.subjects_matching(&request.subjects_filter);
        }
    }
    StreamInfo {
        config: stream.config.clone(),
        created: GoTime::utc(stream.created_ns),
        state,
    }
}

/// Streams in name order, optionally those whose subjects meet `subject`.
fn listed<'a>(js: &'a JetStream, subject: &'a str) -> impl Iterator<Item = &'a Stream> + 'a {
    js.streams.values().filter(move |s| {
        !s.deleting
            && (subject.is_empty()
                || s.config
                    .subjects
                    .iter()
                    .any(|x| subjects_collide(x, subject)))
    })
}

fn stream_names(js: &JetStream, body: &[u8]) -> Response {
    let kind = types::STREAM_NAMES;
    let request = match ListRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return Response::error(kind, error),
    };
    let all: Vec<String> = listed(js, &request.subject)
        .map(|s| s.config.name.clone())
        .collect();
    let total = all.len();
    let offset = request.offset.min(total);
    let page: Vec<String> = all.into_iter().skip(offset).take(NAMES_LIMIT).collect();
    let mut response = Response::ok(
        kind,
        Payload::StreamNames {
            streams: (!page.is_empty()).then_some(page),
        },
    );
    response.paged = Some(Paged {
        total,
        offset,
        limit: NAMES_LIMIT,
    });
    response
}

fn stream_list(js: &JetStream, body: &[u8]) -> Response {
    let kind = types::STREAM_LIST;
    let request = match ListRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return Response::error(kind, error),
    };
    let all: Vec<&Stream> = listed(js, &request.subject).collect();
    let total = all.len();
    let offset = request.offset.min(total);
    let streams = all
        .into_iter()
        .skip(offset)
        .take(LIST_LIMIT)
        .map(|s| info_of(s, None))
        .collect();
    let mut response = Response::ok(kind, Payload::StreamList { streams });
    response.paged = Some(Paged {
        total,
        offset,
        limit: LIST_LIMIT,
    });
    response
}

fn stream_purge(js: &mut JetStream, name: &str, body: &[u8]) -> Response {
    let kind = types::STREAM_PURGE;
    let Some(stream) = js.streams.get_mut(name).filter(|s| !s.deleting) else {
        return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
    };
    if stream.config.deny_purge || stream.config.sealed {
        return Response::error(
            kind,
            ApiError::text(ErrorId::StreamPurgeFailed, "stream purge not permitted"),
        );
    }
    let request = match PurgeRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return Response::error(kind, error),
    };
    let filter = (!request.filter.is_empty()).then_some(request.filter.as_str());
    let purged = stream.store.purge(
        filter,
        (request.seq > 0).then_some(request.seq),
        (request.keep > 0).then_some(request.keep),
    );
    Response::ok(
        kind,
        Payload::Purged {
            success: true,
            purged,
        },
    )
}

fn msg_delete(js: &mut JetStream, name: &str, body: &[u8]) -> Response {
    let kind = types::MSG_DELETE;
    let Some(stream) = js.streams.get_mut(name).filter(|s| !s.deleting) else {
        return Response::error(kind, ApiError::new(ErrorId::StreamNotFound));
    };
    if stream.config.deny_delete || stream.config.sealed {
        return Response::error(
            kind,
            ApiError::text(
                ErrorId::StreamMsgDeleteFailed,
                "message delete not permitted",
            ),
        );
    }
    let request = match MsgDeleteRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return Response::error(kind, error),
    };
    if stream.store.delete(request.seq) {
        Response::ok(kind, Payload::Success { success: true })
    } else if request.seq > stream.store.state().last_seq {
        Response::error(
            kind,
            ApiError::text(ErrorId::StreamMsgDeleteFailed, "stream store EOF"),
        )
    } else {
        Response::error(kind, ApiError::sequence_not_found(request.seq))
    }
}

/// The sequence a get names, if any.
fn lookup_seq(store: &StreamStore, request: &MsgGetRequest) -> Option<u64> {
    match request {
        MsgGetRequest::Seq(seq) => Some(*seq),
        MsgGetRequest::LastBySubject(subject) => store.last_for_subject(subject),
        MsgGetRequest::NextBySubject { from, subject } => store.next_matching(*from, Some(subject)),
    }
}

fn msg_payload(msg: StoredMsg) -> Payload {
    Payload::Message {
        message: ApiStoredMsg {
            subject: msg.subject,
            seq: msg.seq,
            hdrs: msg.headers,
            data: msg.payload,
            time: GoTime::utc(msg.time_ns),
        },
    }
}

/// `MSG.GET`: answered now (`Some`) or when the engine has read the message.
fn msg_get(js: &mut JetStream, name: &str, body: &[u8], reply: &str) -> Option<Response> {
    let kind = types::MSG_GET;
    let Some(stream) = js.streams.get_mut(name).filter(|s| !s.deleting) else {
        return Some(Response::error(
            kind,
            ApiError::new(ErrorId::StreamNotFound),
        ));
    };
    let request = match MsgGetRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return Some(Response::error(kind, error)),
    };
    let not_found = || {
        Some(Response::error(
            kind,
            ApiError::new(ErrorId::NoMessageFound),
        ))
    };
    let Some(seq) = lookup_seq(&stream.store, &request) else {
        return not_found();
    };
    match stream.store.get(seq) {
        Lookup::Ready(msg) => Some(Response::ok(kind, msg_payload(msg))),
        Lookup::Pending(ticket) => {
            let pending = PendingRead {
                reply: reply.to_string(),
                direct: false,
            };
            stream.reads.insert(ticket, ReadFor::Api(pending));
            None
        }
        Lookup::Missing => not_found(),
    }
}
