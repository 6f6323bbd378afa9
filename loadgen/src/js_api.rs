//! The few JetStream API calls `loadgen js pub` makes (delete, create and inspect a
//! stream), and the PubAck parser. Requests go over an ordinary connection whose inbox
//! wildcard is already subscribed; answers are JSON, and any `"error"` object in them is
//! the server's refusal.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::connection::{is_timeout, push_decimal, server_error, Connection};
use crate::frame::{parse_size, Frame};

/// Longest wait for one API answer. A server without JetStream never answers (loadgen
/// connects with `no_responders` off), so this is also how that mistake shows up.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a read wakes to look at its deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// nats-server's error code for "stream not found" (JSStreamNotFoundErr).
const STREAM_NOT_FOUND: u64 = 10059;

/// ringmq's answer to a create while a stream of that name is still being deleted.
const STREAM_BEING_DELETED: &str = "stream is being deleted";

/// Pause between creates that met `STREAM_BEING_DELETED` (until `API_TIMEOUT`).
const CREATE_RETRY_INTERVAL: Duration = Duration::from_millis(10);

/// What a PubAck said about one publish.
#[derive(Debug, PartialEq, Eq)]
pub enum PubAck {
    /// Stored as sequence `seq` of the stream (`duplicate`: already stored under its
    /// `Nats-Msg-Id`, which loadgen never sends).
    Stored { seq: u64, duplicate: bool },
    /// The server refused the publish; the text is its error description with codes.
    Refused(String),
}

/// Parses a PubAck payload. The common answer, `{"stream":"<stream>","seq":N}` with at most
/// `"duplicate":true` after it, is scanned without building a JSON tree (a tree per ack
/// would cost loadgen more CPU than the server's ack); anything else goes through
/// serde_json. A PubAck for another stream, or one that is not JSON, is refused.
pub fn parse_pub_ack(payload: &[u8], stream: &str) -> PubAck {
    if let Some(ack) = scan_plain_ack(payload, stream) {
        return ack;
    }
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        return PubAck::Refused(format!("not JSON: {}", lossy_snippet(payload)));
    };
    if let Some(error) = value.get("error") {
        return PubAck::Refused(describe_error(error));
    }
    let seq = value.get("seq").and_then(Value::as_u64);
    match (value.get("stream").and_then(Value::as_str), seq) {
        (Some(name), Some(seq)) if name == stream => PubAck::Stored {
            seq,
            duplicate: value.get("duplicate").and_then(Value::as_bool) == Some(true),
        },
        _ => PubAck::Refused(format!(
            "not a PubAck of stream {stream}: {}",
            lossy_snippet(payload)
        )),
    }
}

/// The fast path of `parse_pub_ack`; `None` when the payload has any other shape.
fn scan_plain_ack(payload: &[u8], stream: &str) -> Option<PubAck> {
    let rest = payload.strip_prefix(b"{\"stream\":\"")?;
    let rest = rest.strip_prefix(stream.as_bytes())?;
    let rest = rest.strip_prefix(b"\",\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let seq = parse_size(&rest[..digits])? as u64;
    let duplicate = match &rest[digits..] {
        b"}" => false,
        b",\"duplicate\":true}" => true,
        _ => return None,
    };
    Some(PubAck::Stored { seq, duplicate })
}

/// `description (code C, err_code E)` from an API error object.
fn describe_error(error: &Value) -> String {
    let description = error
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description");
    let code = error.get("code").and_then(Value::as_u64).unwrap_or(0);
    let err_code = error.get("err_code").and_then(Value::as_u64).unwrap_or(0);
    format!("{description} (code {code}, err_code {err_code})")
}

fn lossy_snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned()
}

/// Sends API requests on one connection; answers come to `<inbox>api<N>`, which the
/// connection's `<inbox>*` subscription covers.
pub struct ApiClient<'a> {
    pub connection: &'a mut Connection,
    inbox_prefix: &'a str,
    requests: u64,
}

impl<'a> ApiClient<'a> {
    /// `inbox_prefix` ends with a dot; the connection has subscribed to `<prefix>*`.
    pub fn new(connection: &'a mut Connection, inbox_prefix: &'a str) -> Self {
        debug_assert!(inbox_prefix.ends_with('.'));
        ApiClient {
            connection,
            inbox_prefix,
            requests: 0,
        }
    }

    /// One request and its JSON answer (which may carry an `"error"`).
    pub fn request(&mut self, subject: &str, body: &[u8]) -> Result<Value, String> {
        self.requests += 1;
        let reply = format!("{}api{}", self.inbox_prefix, self.requests);
        let mut frame = format!("PUB {subject} {reply} ").into_bytes();
        push_decimal(&mut frame, body.len() as u64);
        frame.extend_from_slice(b"\r\n");
        frame.extend_from_slice(body);
        frame.extend_from_slice(b"\r\n");
        let answer = self
            .connection
            .stream
            .write_all(&frame)
            .and_then(|()| self.wait_answer(reply.as_bytes()));
        let payload = answer.map_err(|e| format!("{subject}: {e}"))?;
        serde_json::from_slice(&payload)
            .map_err(|e| format!("{subject}: answer is not JSON ({e}): {payload:?}"))
    }

    /// Reads until a message on `reply` arrives; other messages are dropped.
    fn wait_answer(&mut self, reply: &[u8]) -> io::Result<Vec<u8>> {
        let connection = &mut *self.connection;
        connection.stream.set_read_timeout(Some(POLL_INTERVAL))?;
        let deadline = Instant::now() + API_TIMEOUT;
        loop {
            let mut ping = false;
            while let Some(frame) = connection.reader.next_frame().map_err(io::Error::other)? {
                match frame {
                    Frame::Msg(message) if message.subject == reply => {
                        return Ok(message.payload.to_vec())
                    }
                    Frame::Ping => ping = true,
                    Frame::Err(text) => return Err(server_error(text)),
                    Frame::Msg(_) | Frame::Pong | Frame::Ok | Frame::Info(_) => {}
                }
            }
            if ping {
                connection.stream.write_all(b"PONG\r\n")?;
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "no answer within {} s (is JetStream on? -js)",
                    API_TIMEOUT.as_secs()
                )));
            }
            match connection.reader.fill(&mut connection.stream) {
                Ok(0) => return Err(io::Error::other("server closed the connection")),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes `name` if it exists, then creates it afresh on `subject`.
    pub fn recreate_stream(
        &mut self,
        name: &str,
        subject: &str,
        storage: &str,
    ) -> Result<(), String> {
        let deleted = self.request(&format!("$JS.API.STREAM.DELETE.{name}"), b"")?;
        if let Some(error) = deleted.get("error") {
            if error.get("err_code").and_then(Value::as_u64) != Some(STREAM_NOT_FOUND) {
                return Err(format!("deleting stream {name}: {}", describe_error(error)));
            }
        }
        let config = json!({"name": name, "subjects": [subject], "storage": storage});
        let subject = format!("$JS.API.STREAM.CREATE.{name}");
        let deadline = Instant::now() + API_TIMEOUT;
        loop {
            let created = self.request(&subject, config.to_string().as_bytes())?;
            let Some(error) = created.get("error") else {
                return Ok(());
            };
            // ringmq answers the delete before its files are gone, and refuses a create of
            // the same name until they are; nats-server removes them before answering.
            let deleting =
                error.get("description").and_then(Value::as_str) == Some(STREAM_BEING_DELETED);
            if !deleting || Instant::now() > deadline {
                return Err(format!("creating stream {name}: {}", describe_error(error)));
            }
            std::thread::sleep(CREATE_RETRY_INTERVAL); // the retry's pace, not synchronisation
        }
    }

    /// Creates durable consumer `name` on `stream` with `config` (which names it too).
    pub fn create_durable(
        &mut self,
        stream: &str,
        name: &str,
        config: Value,
    ) -> Result<(), String> {
        let body = json!({"stream_name": stream, "config": config}).to_string();
        let subject = format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}");
        let created = self.request(&subject, body.as_bytes())?;
        match created.get("error") {
            Some(error) => Err(format!(
                "creating consumer {name}: {}",
                describe_error(error)
            )),
            None => Ok(()),
        }
    }

    /// `$JS.API.CONSUMER.INFO.<stream>.<name>` (delivered, ack_floor, num_ack_pending...).
    pub fn consumer_info(&mut self, stream: &str, name: &str) -> Result<Value, String> {
        let info = self.request(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), b"")?;
        match info.get("error") {
            Some(error) => Err(format!("consumer info {name}: {}", describe_error(error))),
            None => Ok(info),
        }
    }

    /// The `state` object of `$JS.API.STREAM.INFO.<name>` (messages, bytes, sequences).
    pub fn stream_state(&mut self, name: &str) -> Result<Value, String> {
        let info = self.request(&format!("$JS.API.STREAM.INFO.{name}"), b"")?;
        if let Some(error) = info.get("error") {
            return Err(format!("stream info {name}: {}", describe_error(error)));
        }
        info.get("state")
            .cloned()
            .ok_or_else(|| format!("stream info {name} has no state: {info}"))
    }
}

/// The trailing token of an ack's subject as a message number (`<inbox>42` → 42).
pub fn reply_token(subject: &[u8]) -> Option<u64> {
    let token = subject.rsplit(|b| *b == b'.').next()?;
    parse_size(token).map(|n| n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_acks_scan_without_json() {
        let stored = |seq, duplicate| PubAck::Stored { seq, duplicate };
        assert_eq!(
            parse_pub_ack(br#"{"stream":"S","seq":1}"#, "S"),
            stored(1, false)
        );
        assert_eq!(
            parse_pub_ack(
                br#"{"stream":"BENCH","seq":123456789,"duplicate":true}"#,
                "BENCH"
            ),
            stored(123_456_789, true)
        );
        assert_eq!(
            scan_plain_ack(br#"{"stream":"S","seq":7}"#, "S"),
            Some(stored(7, false))
        );
        // Other shapes fall back to JSON: a domain, spaces, another field order.
        assert_eq!(
            scan_plain_ack(br#"{"stream":"S","domain":"d","seq":7}"#, "S"),
            None
        );
        assert_eq!(
            parse_pub_ack(br#"{"stream":"S","domain":"d","seq":7}"#, "S"),
            stored(7, false)
        );
        assert_eq!(
            parse_pub_ack(br#"{ "seq": 9, "stream": "S" }"#, "S"),
            stored(9, false)
        );
    }

    #[test]
    fn errors_and_strangers_are_refused() {
        let error = br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}"#;
        assert_eq!(
            parse_pub_ack(error, "S"),
            PubAck::Refused("maximum messages exceeded (code 503, err_code 10077)".into())
        );
        assert_eq!(
            parse_pub_ack(br#"{"stream":"T","seq":1}"#, "S"),
            PubAck::Refused(r#"not a PubAck of stream S: {"stream":"T","seq":1}"#.into())
        );
        assert_eq!(
            parse_pub_ack(b"", "S"),
            PubAck::Refused("not JSON: ".into())
        );
        // A stream name that is a prefix of the ack's must not pass the fast path.
        assert_eq!(scan_plain_ack(br#"{"stream":"SS","seq":1}"#, "S"), None);
    }

    #[test]
    fn reply_tokens() {
        assert_eq!(reply_token(b"_INBOX.loadgen7.42"), Some(42));
        assert_eq!(reply_token(b"_INBOX.loadgen7.api3"), None);
        assert_eq!(reply_token(b"0"), Some(0));
    }
}
