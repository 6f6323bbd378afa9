//! Request bodies and response documents of `$JS.API.>` in nats-server 2.9.10's shapes:
//! `type` first, then `error`, then the paging fields where nats-server keeps them (also on
//! errors), then the payload; PubAck with its peculiar `"stream":"X", "seq":N` spacing.

use super::consumer_config::ConsumerConfig;
use super::errors::{ApiError, ErrorId};
use super::json::{null_default as nd, to_vec, GoTime};
use super::stream_config::StreamConfig;
use serde::{Deserialize, Serialize};

/// Most names in one `STREAM.NAMES`/`CONSUMER.NAMES` page.
pub const NAMES_LIMIT: usize = 1024;
/// Most entries in one `STREAM.LIST`/`CONSUMER.LIST` page.
pub const LIST_LIMIT: usize = 256;
/// Most subjects in one `STREAM.INFO` with `subjects_filter`.
pub const SUBJECTS_LIMIT: usize = 100_000;

/// The response `type` values.
pub mod types {
    pub const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";
    pub const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
    pub const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
    pub const STREAM_INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
    pub const STREAM_DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
    pub const STREAM_PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
    pub const STREAM_NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
    pub const STREAM_LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";
    pub const MSG_GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
    pub const MSG_DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
    pub const CONSUMER_CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
    pub const CONSUMER_INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
    pub const CONSUMER_DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
    pub const CONSUMER_NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
    pub const CONSUMER_LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
}

/// An optional request body: empty, or JSON `null` (what async-nats sends for `STREAM.INFO`:
/// `serde_json` of `()`; Go's `json.Unmarshal` of `null` leaves the request zero, so
/// nats-server answers it as an empty one), is the default request.
fn parse_opt<'a, T: Default + Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|_| ApiError::new(ErrorId::InvalidJSON))
}

/// `STREAM.INFO` body (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct StreamInfoRequest {
    #[serde(default, deserialize_with = "nd")]
    pub offset: usize,
    #[serde(default, deserialize_with = "nd")]
    pub deleted_details: bool,
    #[serde(default, deserialize_with = "nd")]
    pub subjects_filter: String,
}

/// `STREAM.NAMES`/`STREAM.LIST` body (optional); `CONSUMER.NAMES`/`LIST` use `offset` only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ListRequest {
    #[serde(default, deserialize_with = "nd")]
    pub offset: usize,
    #[serde(default, deserialize_with = "nd")]
    pub subject: String,
}

/// `STREAM.PURGE` body (optional): `seq` (up to, not including) and `keep` exclude each
/// other (10003 bad request).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PurgeRequest {
    #[serde(default, deserialize_with = "nd")]
    pub seq: u64,
    #[serde(default, deserialize_with = "nd")]
    pub filter: String,
    #[serde(default, deserialize_with = "nd")]
    pub keep: u64,
}

/// `STREAM.MSG.GET` body: exactly one of `seq`, `last_by_subj`, or `seq` + `next_by_subj`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MsgGetRequest {
    Seq(u64),
    LastBySubject(String),
    NextBySubject { from: u64, subject: String },
}

/// `STREAM.MSG.DELETE` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct MsgDeleteRequest {
    #[serde(default, deserialize_with = "nd")]
    pub seq: u64,
    #[serde(default, deserialize_with = "nd")]
    pub no_erase: bool,
}

impl StreamInfoRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        parse_opt(body)
    }
}
impl ListRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        parse_opt(body)
    }
}
impl PurgeRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let r: PurgeRequest = parse_opt(body)?;
        if r.seq > 0 && r.keep > 0 {
            return Err(ApiError::new(ErrorId::BadRequest));
        }
        Ok(r)
    }
}
impl MsgGetRequest {
    /// Empty body or an ambiguous one → 10003 bad request; bad JSON → 10025.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        #[derive(Default, Deserialize)]
        struct Raw {
            #[serde(default, deserialize_with = "nd")]
            seq: u64,
            #[serde(default, deserialize_with = "nd")]
            last_by_subj: String,
            #[serde(default, deserialize_with = "nd")]
            next_by_subj: String,
        }
        if body.is_empty() {
            return Err(ApiError::new(ErrorId::BadRequest));
        }
        let r: Raw = parse_opt(body)?;
        match (r.seq, r.last_by_subj.is_empty(), r.next_by_subj.is_empty()) {
            (s, true, true) if s > 0 => Ok(MsgGetRequest::Seq(s)),
            (0, false, true) => Ok(MsgGetRequest::LastBySubject(r.last_by_subj)),
            (s, true, false) => Ok(MsgGetRequest::NextBySubject {
                from: s,
                subject: r.next_by_subj,
            }),
            _ => Err(ApiError::new(ErrorId::BadRequest)),
        }
    }
}
impl MsgDeleteRequest {
    /// Empty body → 10003 bad request.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.is_empty() {
            return Err(ApiError::new(ErrorId::BadRequest));
        }
        parse_opt(body)
    }
}

/// A stream's state block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: GoTime,
    pub last_seq: u64,
    pub last_ts: GoTime,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub num_subjects: usize,
    /// Per-subject counts, only with `subjects_filter`, sorted as a Go map is written.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "as_map")]
    pub subjects: Vec<(String, u64)>,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub num_deleted: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    pub consumer_count: usize,
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

fn as_map<S: serde::Serializer>(v: &[(String, u64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut sorted: Vec<&(String, u64)> = v.iter().collect();
    sorted.sort(); // encoding/json writes map keys sorted
    let mut m = s.serialize_map(Some(sorted.len()))?;
    for (k, n) in sorted {
        m.serialize_entry(k, n)?;
    }
    m.end()
}

/// Stream info (create/update/info responses, list entries). With `subjects_filter`, the
/// info response carries paging `{total: subjects, offset, limit: 100000}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub config: StreamConfig,
    pub created: GoTime,
    pub state: StreamState,
}

/// `{consumer_seq, stream_seq, last_active?}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SequenceInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<GoTime>,
}

/// Consumer info (create/info responses, list entries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerInfo {
    pub stream_name: String,
    pub name: String,
    pub created: GoTime,
    pub config: ConsumerConfig,
    pub delivered: SequenceInfo,
    pub ack_floor: SequenceInfo,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub push_bound: bool,
}

/// Account limits (`-1` = unlimited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// `$JS.API.INFO` payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    pub memory: u64,
    pub storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: AccountLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub api: ApiStats,
}

/// API call counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApiStats {
    pub total: u64,
    pub errors: u64,
}

/// A stored message for `STREAM.MSG.GET`: headers and data base64 (omitted when empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    pub hdrs: Vec<u8>,
    pub data: Vec<u8>,
    pub time: GoTime,
}

impl Serialize for StoredMsg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let b64 = |b: &[u8]| data_encoding::BASE64.encode(b);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("subject", &self.subject)?;
        m.serialize_entry("seq", &self.seq)?;
        if !self.hdrs.is_empty() {
            m.serialize_entry("hdrs", &b64(&self.hdrs))?;
        }
        if !self.data.is_empty() {
            m.serialize_entry("data", &b64(&self.data))?;
        }
        m.serialize_entry("time", &self.time)?;
        m.end()
    }
}

/// The payload of a response (what follows `type`, `error` and paging).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    None,
    AccountInfo(AccountInfo),
    /// Create (with `did_create`), update, info.
    Stream(StreamInfo, bool),
    Consumer(ConsumerInfo),
    StreamNames {
        streams: Option<Vec<String>>,
    },
    StreamList {
        streams: Vec<StreamInfo>,
    },
    ConsumerNames {
        consumers: Vec<String>,
    },
    ConsumerList {
        consumers: Vec<ConsumerInfo>,
    },
    Success {
        success: bool,
    },
    Purged {
        success: bool,
        purged: u64,
    },
    Message {
        message: StoredMsg,
    },
}

/// Paging fields: `total`, `offset`, `limit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Paged {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// A whole API response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub kind: &'static str,
    pub error: Option<ApiError>,
    pub paged: Option<Paged>,
    pub payload: Payload,
}

impl Response {
    /// A success.
    pub fn ok(kind: &'static str, payload: Payload) -> Response {
        Response {
            kind,
            error: None,
            paged: None,
            payload,
        }
    }

    /// An error in `kind`'s envelope, with the zero-valued fields nats-server keeps for
    /// that response type (paging for info/names/list, `purged` for purge, empty lists).
    pub fn error(kind: &'static str, error: ApiError) -> Response {
        let (paged, payload) = match kind {
            types::STREAM_INFO => (Some(Paged::default()), Payload::None),
            types::STREAM_NAMES => (
                Some(Paged::default()),
                Payload::StreamNames { streams: None },
            ),
            types::STREAM_LIST => (
                Some(Paged::default()),
                Payload::StreamList { streams: vec![] },
            ),
            types::CONSUMER_NAMES => (
                Some(Paged::default()),
                Payload::ConsumerNames { consumers: vec![] },
            ),
            types::CONSUMER_LIST => (
                Some(Paged::default()),
                Payload::ConsumerList { consumers: vec![] },
            ),
            types::STREAM_PURGE => (
                None,
                Payload::Purged {
                    success: false,
                    purged: 0,
                },
            ),
            _ => (None, Payload::None),
        };
        Response {
            kind,
            error: Some(error),
            paged,
            payload,
        }
    }

    /// The JSON bytes to publish.
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }
}

impl Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.kind)?;
        if let Some(e) = &self.error {
            m.serialize_entry("error", e)?;
        }
        if let Some(p) = &self.paged {
            m.serialize_entry("total", &p.total)?;
            m.serialize_entry("offset", &p.offset)?;
            m.serialize_entry("limit", &p.limit)?;
        }
        match &self.payload {
            Payload::None => {}
            Payload::Stream(info, did_create) => {
                m.serialize_entry("config", &info.config)?;
                m.serialize_entry("created", &info.created)?;
                m.serialize_entry("state", &info.state)?;
                if *did_create {
                    m.serialize_entry("did_create", &true)?;
                }
            }
            Payload::AccountInfo(a) => {
                m.serialize_entry("memory", &a.memory)?;
                m.serialize_entry("storage", &a.storage)?;
                m.serialize_entry("streams", &a.streams)?;
                m.serialize_entry("consumers", &a.consumers)?;
                m.serialize_entry("limits", &a.limits)?;
                if let Some(d) = &a.domain {
                    m.serialize_entry("domain", d)?;
                }
                m.serialize_entry("api", &a.api)?;
            }
            Payload::Consumer(c) => {
                m.serialize_entry("stream_name", &c.stream_name)?;
                m.serialize_entry("name", &c.name)?;
                m.serialize_entry("created", &c.created)?;
                m.serialize_entry("config", &c.config)?;
                m.serialize_entry("delivered", &c.delivered)?;
                m.serialize_entry("ack_floor", &c.ack_floor)?;
                m.serialize_entry("num_ack_pending", &c.num_ack_pending)?;
                m.serialize_entry("num_redelivered", &c.num_redelivered)?;
                m.serialize_entry("num_waiting", &c.num_waiting)?;
                m.serialize_entry("num_pending", &c.num_pending)?;
                if c.push_bound {
                    m.serialize_entry("push_bound", &true)?;
                }
            }
            Payload::StreamNames { streams } => m.serialize_entry("streams", streams)?,
            Payload::StreamList { streams } => m.serialize_entry("streams", streams)?,
            Payload::ConsumerNames { consumers } => m.serialize_entry("consumers", consumers)?,
            Payload::ConsumerList { consumers } => m.serialize_entry("consumers", consumers)?,
            Payload::Success { success } => {
                if *success {
                    m.serialize_entry("success", &true)?;
                }
            }
            Payload::Purged { success, purged } => {
                if *success {
                    m.serialize_entry("success", &true)?;
                }
                m.serialize_entry("purged", purged)?;
            }
            Payload::Message { message } => m.serialize_entry("message", message)?,
        }
        m.end()
    }
}

/// The answer to a publish into a stream: `{"stream":"ORDERS", "seq":1}` (nats-server
/// writes it by hand, with a space after the comma), `,"duplicate": true` for a
/// `Nats-Msg-Id` seen inside the window; errors in their own shape, `seq` 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PubAck {
    Stored {
        stream: String,
        domain: Option<String>,
        seq: u64,
        duplicate: bool,
    },
    Error {
        stream: String,
        error: ApiError,
    },
}

impl PubAck {
    /// The payload bytes.
    pub fn to_json(&self) -> Vec<u8> {
        match self {
            PubAck::Stored {
                stream,
                domain,
                seq,
                duplicate,
            } => {
                let mut out = b"{\"stream\":".to_vec();
                out.extend(to_vec(stream));
                if let Some(d) = domain {
                    out.extend(b", \"domain\":");
                    out.extend(to_vec(d));
                }
                out.extend(format!(", \"seq\":{seq}").as_bytes());
                if *duplicate {
                    out.extend(b",\"duplicate\": true");
                }
                out.push(b'}');
                out
            }
            PubAck::Error { stream, error } => {
                let mut out = b"{\"error\":".to_vec();
                out.extend(to_vec(error));
                out.extend(b",\"stream\":");
                out.extend(to_vec(stream));
                out.extend(b",\"seq\":0}");
                out
            }
        }
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
