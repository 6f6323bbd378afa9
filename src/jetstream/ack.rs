//! The consumer's side of the wire: the 9-token ack subject
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts nanos>.<pending>`,
//! the ack kinds sent to it, and pull request bodies.

use super::json::null_default as nd;
use serde::Deserialize;

/// The metadata an ack subject carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckSubject {
    pub stream: String,
    pub consumer: String,
    /// How many times this message has been delivered (1 on the first delivery).
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    /// When the message was stored, Unix nanoseconds.
    pub timestamp: i64,
    /// Messages still pending for the consumer after this one.
    pub pending: u64,
}

impl AckSubject {
    /// The subject, 9 tokens.
    pub fn encode(&self) -> String {
        format!(
            "$JS.ACK.{}.{}.{}.{}.{}.{}.{}",
            self.stream,
            self.consumer,
            self.delivered,
            self.stream_seq,
            self.consumer_seq,
            self.timestamp,
            self.pending
        )
    }

    /// Parses a 9-token ack subject; anything else is `None`.
    pub fn parse(subject: &str) -> Option<AckSubject> {
        let t: Vec<&str> = subject.split('.').collect();
        if t.len() != 9 || t[0] != "$JS" || t[1] != "ACK" || t[2].is_empty() || t[3].is_empty() {
            return None;
        }
        Some(AckSubject {
            stream: t[2].to_string(),
            consumer: t[3].to_string(),
            delivered: t[4].parse().ok()?,
            stream_seq: t[5].parse().ok()?,
            consumer_seq: t[6].parse().ok()?,
            timestamp: t[7].parse().ok()?,
            pending: t[8].parse().ok()?,
        })
    }
}

/// What an ack payload asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckKind {
    /// Empty or `+ACK`.
    Ack,
    /// `-NAK`, optionally `-NAK {"delay":ns}`: redeliver (after the delay).
    Nak { delay_ns: Option<i64> },
    /// `+WPI`: still working, restart the ack wait.
    InProgress,
    /// `+TERM` (2.11 adds an optional reason after a space).
    Term,
    /// `+NXT`, `+NXT 5`, `+NXT {"batch":…}`: ack and pull more to the ack's reply subject.
    Next(PullRequest),
}

impl AckKind {
    /// Parses an ack payload as nats-server's `processAck` does: by prefix. Unknown text
    /// is `None` (nats-server ignores it).
    pub fn parse(payload: &[u8]) -> Option<AckKind> {
        let rest = |p: &[u8]| -> &[u8] { trim(&payload[p.len()..]) };
        if payload.is_empty() || payload.starts_with(b"+ACK") {
            return Some(AckKind::Ack);
        }
        if payload.starts_with(b"-NAK") {
            let r = rest(b"-NAK");
            if r.is_empty() {
                return Some(AckKind::Nak { delay_ns: None });
            }
            #[derive(Deserialize)]
            struct Delay {
                #[serde(default, deserialize_with = "nd")]
                delay: i64,
            }
            let d: Option<Delay> = serde_json::from_slice(r).ok();
            return Some(AckKind::Nak {
                delay_ns: d.map(|d| d.delay).filter(|d| *d > 0),
            });
        }
        if payload.starts_with(b"+WPI") {
            return Some(AckKind::InProgress);
        }
        if payload.starts_with(b"+TERM") {
            return Some(AckKind::Term);
        }
        if payload.starts_with(b"+NXT") {
            return PullRequest::parse(rest(b"+NXT")).ok().map(AckKind::Next);
        }
        None
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e]
}

/// A pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` body).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    /// Nanoseconds; 0 = no expiry.
    #[serde(default, deserialize_with = "nd")]
    pub expires: i64,
    #[serde(default, deserialize_with = "nd")]
    pub batch: i64,
    #[serde(default, deserialize_with = "nd")]
    pub max_bytes: i64,
    #[serde(default, deserialize_with = "nd")]
    pub no_wait: bool,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "nd")]
    pub idle_heartbeat: i64,
}

/// Why a pull request is refused: the status line to send (`400 Bad Request - …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullError(pub &'static str);

impl PullRequest {
    /// Empty → batch 1; a bare integer → that batch; else JSON. A batch below 1 is 1.
    /// The heartbeat check (`idle_heartbeat * 2 > expires`) gives the status nats-server
    /// sends: `NATS/1.0 400 Bad Request - heartbeat value too large`.
    pub fn parse(body: &[u8]) -> Result<PullRequest, PullError> {
        let body = trim(body);
        let mut r = if body.is_empty() {
            PullRequest::default()
        } else if body[0] == b'{' {
            serde_json::from_slice(body).map_err(|_| PullError("Bad Request"))?
        } else {
            let n = std::str::from_utf8(body)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            PullRequest {
                batch: n,
                ..Default::default()
            }
        };
        if r.batch < 1 {
            r.batch = 1;
        }
        if r.idle_heartbeat > 0 && r.idle_heartbeat * 2 > r.expires {
            return Err(PullError("Bad Request - heartbeat value too large"));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subject_nine_tokens() {
        // From nats-server 2.9.10 (spec §A.8).
        let s = "$JS.ACK.ORDERS.PULL1.1.2.2.1795317735714049008.3";
        let a = AckSubject::parse(s).unwrap();
        assert_eq!(
            a,
            AckSubject {
                stream: "ORDERS".into(),
                consumer: "PULL1".into(),
                delivered: 1,
                stream_seq: 2,
                consumer_seq: 2,
                timestamp: 1795317735714049008,
                pending: 3
            }
        );
        assert_eq!(a.encode(), s);
        for bad in [
            "$JS.ACK.S.C.1.2.3.4",
            "$JS.ACK.S.C.1.2.3.4.5.6",
            "$JS.ACK.S.C.x.2.3.4.5",
            "$JS.NAK.S.C.1.2.3.4.5",
            "$JS.ACK..C.1.2.3.4.5",
        ] {
            assert_eq!(AckSubject::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ack_kinds() {
        assert_eq!(AckKind::parse(b""), Some(AckKind::Ack));
        assert_eq!(AckKind::parse(b"+ACK"), Some(AckKind::Ack));
        assert_eq!(
            AckKind::parse(b"-NAK"),
            Some(AckKind::Nak { delay_ns: None })
        );
        assert_eq!(
            AckKind::parse(br#"-NAK {"delay":500000000}"#),
            Some(AckKind::Nak {
                delay_ns: Some(500_000_000)
            })
        );
        assert_eq!(AckKind::parse(b"+WPI"), Some(AckKind::InProgress));
        assert_eq!(AckKind::parse(b"+TERM"), Some(AckKind::Term));
        assert_eq!(AckKind::parse(b"+TERM reason"), Some(AckKind::Term));
        assert_eq!(
            AckKind::parse(b"+NXT"),
            Some(AckKind::Next(PullRequest {
                batch: 1,
                ..Default::default()
            }))
        );
        assert_eq!(
            AckKind::parse(b"+NXT 5"),
            Some(AckKind::Next(PullRequest {
                batch: 5,
                ..Default::default()
            }))
        );
        assert_eq!(
            AckKind::parse(br#"+NXT {"batch":3}"#),
            Some(AckKind::Next(PullRequest {
                batch: 3,
                ..Default::default()
            }))
        );
        assert_eq!(AckKind::parse(b"hello"), None);
    }

    #[test]
    fn pull_requests() {
        let one = PullRequest {
            batch: 1,
            ..Default::default()
        };
        assert_eq!(PullRequest::parse(b""), Ok(one.clone()));
        assert_eq!(PullRequest::parse(b"1"), Ok(one));
        // What nats-py's fetch sends.
        assert_eq!(
            PullRequest::parse(br#"{"batch": 2, "expires": 999900000, "no_wait": true}"#),
            Ok(PullRequest {
                batch: 2,
                expires: 999_900_000,
                no_wait: true,
                ..Default::default()
            })
        );
        // async-nats adds nulls for fields 2.9 does not know.
        assert_eq!(
            PullRequest::parse(br#"{"batch":5,"expires":30000000000,"max_bytes":0,"idle_heartbeat":15000000000,"min_pending":null,"group":null}"#),
            Ok(PullRequest { batch: 5, expires: 30_000_000_000, idle_heartbeat: 15_000_000_000, ..Default::default() })
        );
        assert_eq!(
            PullRequest::parse(br#"{"batch":1,"expires":1000000000,"idle_heartbeat":600000000}"#),
            Err(PullError("Bad Request - heartbeat value too large"))
        );
    }
}
