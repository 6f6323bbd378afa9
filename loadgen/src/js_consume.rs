//! `loadgen js consume`: fills a stream with `js pub`, then reads it back through a durable
//! consumer with explicit acks and counts the distinct stream sequences delivered.
//!
//! ```text
//! js pub (recreates the stream, --msgs acknowledged messages)
//! consumer connection: SUB <inbox>pull, SUB <inbox>push, PING/PONG
//! control connection: CONSUMER.DURABLE.CREATE (ack explicit; push: deliver_subject <inbox>push)
//! pull: PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> <inbox>pull {"batch":B,"expires":ns}
//!       again whenever fewer than B/2 requested messages are still to come
//! every delivery: PUB <its $JS.ACK reply> +ACK (one write per read)
//! until --msgs distinct sequences; then CONSUMER.INFO until nothing is pending ack
//! ```
//! The rate is the messages consumed over the time from the consumer's creation (push) or
//! first pull (pull) to the last new sequence. The run fails unless exactly sequences
//! 1..=msgs arrived, each with a --size payload, and the consumer ends with none unacked.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::{Common, ConsumeMode, JsConsumeArgs, JsPubArgs};
use crate::connection::{is_timeout, server_error, subscribe_line, Connection};
use crate::frame::{parse_size, Frame};
use crate::js_api::ApiClient;
use crate::report::{self, Summary};
use crate::servers::Servers;

/// Longest time without a new delivery before the run is declared stuck.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a pull request waits on the server before it expires (loadgen only asks for
/// messages the stream already holds, so an expiry means the server fell behind).
const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// How long the acks may take to show in CONSUMER.INFO after the last delivery.
const ACK_SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pace of the CONSUMER.INFO polls while acks settle.
const ACK_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How often a waiting read wakes to look at the delivery deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The stream sequence in a `$JS.ACK` reply subject: token 5 of the nine-token form
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, token 7 of the
/// form with domain and account hash (and an optional trailing token) newer servers use.
pub fn ack_stream_seq(reply: &[u8]) -> Option<u64> {
    if !reply.starts_with(b"$JS.ACK.") {
        return None;
    }
    let tokens: Vec<&[u8]> = reply.split(|b| *b == b'.').collect();
    let index = match tokens.len() {
        9 => 5,
        11 | 12 => 7,
        _ => return None,
    };
    parse_size(tokens[index]).map(|n| n as u64)
}

/// What came back so far: one flag per stream sequence 1..=total.
struct Tally {
    seen: Vec<bool>,
    distinct: u64,
    redelivered: u64,
    /// Sequences outside 1..=total, or payloads that are not --size bytes.
    strange: u64,
    /// Messages on the pull inbox without an ack reply (408 expired, 409, ...).
    statuses: u64,
}

impl Tally {
    fn new(total: u64) -> Tally {
        Tally {
            seen: vec![false; total as usize + 1],
            distinct: 0,
            redelivered: 0,
            strange: 0,
            statuses: 0,
        }
    }

    fn total(&self) -> u64 {
        self.seen.len() as u64 - 1
    }

    /// Counts one delivery; false when it is not a new, well-formed one.
    fn on_delivery(&mut self, seq: Option<u64>, payload_ok: bool) -> bool {
        let Some(seq) = seq.filter(|&s| s >= 1 && s <= self.total()) else {
            self.strange += 1;
            return false;
        };
        if !payload_ok {
            self.strange += 1;
        }
        let slot = &mut self.seen[seq as usize];
        if *slot {
            self.redelivered += 1;
            return false;
        }
        *slot = true;
        self.distinct += 1;
        true
    }
}

pub fn run(args: &JsConsumeArgs, servers: &Servers) -> Result<Summary, String> {
    args.validate()?;
    let prefill = crate::js_pub::run(&prefill_args(args), servers)?;
    if !prefill.is_clean() {
        return Err(format!("prefill: {}", prefill.errors.join("; ")));
    }
    let target = servers.publisher(0);
    let control_inbox = format!("_INBOX.loadgen{}.ctl.", std::process::id());
    let mut control = Connection::open(
        target,
        &subscribe_line(&format!("{control_inbox}*"), None, 1),
    )
    .map_err(|e| format!("control connection: {e}"))?;
    let inbox = format!("_INBOX.loadgen{}.consume.", std::process::id());
    let mut setup = subscribe_line(&format!("{inbox}pull"), None, 1);
    setup.extend_from_slice(&subscribe_line(&format!("{inbox}push"), None, 2));
    let mut consumer =
        Connection::open(target, &setup).map_err(|e| format!("consumer connection: {e}"))?;
    let mut config = json!({
        "durable_name": args.consumer,
        "ack_policy": "explicit",
        "deliver_policy": "all",
        "max_ack_pending": args.max_ack_pending,
    });
    if args.mode == ConsumeMode::Push {
        config["deliver_subject"] = json!(format!("{inbox}push"));
    }
    let mut tally = Tally::new(args.msgs);
    let cpu_before = report::own_cpu_sec();
    let start = Instant::now();
    ApiClient::new(&mut control, &control_inbox).create_durable(
        &args.stream,
        &args.consumer,
        config,
    )?;
    let outcome = consume_loop(&mut consumer, args, &inbox, &mut tally);
    let seconds = start.elapsed().as_secs_f64();
    let cpu_sec = report::own_cpu_sec() - cpu_before;
    let mut errors = Vec::new();
    if let Err(e) = outcome {
        errors.push(format!("consuming: {e}"));
    }
    let settled = settle_acks(&mut ApiClient::new(&mut control, &control_inbox), args);
    let info = match settled {
        Ok(info) => Some(info),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut summary = summarize(args, &tally, errors, info);
    summary.publish_sec = prefill.publish_sec;
    (summary.subscribe_sec, summary.elapsed_sec) = (seconds, seconds);
    summary.loadgen_cpu_sec = cpu_sec;
    summary.extra.insert(
        "consumed_msgs_per_sec".into(),
        json!(tally.distinct as f64 / seconds.max(1e-9)),
    );
    summary.extra.insert(
        "prefill_acked_msgs_per_sec".into(),
        prefill.extra["acked_msgs_per_sec"].clone(),
    );
    Ok(summary)
}

/// The `js pub` run that fills the stream.
fn prefill_args(args: &JsConsumeArgs) -> JsPubArgs {
    JsPubArgs {
        common: Common {
            url: args.common.url.clone(),
            json: false,
            ws_compression: args.common.ws_compression,
        },
        msgs: args.msgs,
        size: args.size,
        publishers: 1,
        window: args.prefill_window,
        stream: args.stream.clone(),
        subject: args.subject.clone(),
        storage: args.storage.clone(),
        hdr_out: None,
    }
}

/// `PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> <inbox>pull` for `batch` messages.
fn pull_request(args: &JsConsumeArgs, inbox: &str, batch: u64) -> Vec<u8> {
    let body = format!(
        "{{\"batch\":{batch},\"expires\":{}}}",
        PULL_EXPIRES.as_nanos()
    );
    format!(
        "PUB $JS.API.CONSUMER.MSG.NEXT.{}.{} {inbox}pull {}\r\n{body}\r\n",
        args.stream,
        args.consumer,
        body.len()
    )
    .into_bytes()
}

/// Reads deliveries and acks each until every sequence has come, or none new for
/// `DELIVERY_TIMEOUT`. Pull mode keeps at least half a batch requested.
fn consume_loop(
    connection: &mut Connection,
    args: &JsConsumeArgs,
    inbox: &str,
    tally: &mut Tally,
) -> io::Result<()> {
    connection.stream.set_read_timeout(Some(POLL_INTERVAL))?;
    let pull = args.mode == ConsumeMode::Pull;
    // Messages asked for by pull requests and not delivered yet (an estimate: a status
    // message ends its request with an unknown remainder, counted as zero).
    let mut requested: u64 = 0;
    let mut out = Vec::new();
    let mut last_new = Instant::now();
    while tally.distinct < tally.total() {
        out.clear();
        let mut ping = false;
        let before = tally.distinct;
        while let Some(frame) = connection.reader.next_frame().map_err(io::Error::other)? {
            match frame {
                Frame::Msg(message) => match message.reply {
                    Some(reply) if reply.starts_with(b"$JS.ACK.") => {
                        tally
                            .on_delivery(ack_stream_seq(reply), message.payload.len() == args.size);
                        requested = requested.saturating_sub(1);
                        out.extend_from_slice(b"PUB ");
                        out.extend_from_slice(reply);
                        out.extend_from_slice(b" 4\r\n+ACK\r\n");
                    }
                    _ => {
                        tally.statuses += 1;
                        requested = 0;
                    }
                },
                Frame::Ping => ping = true,
                Frame::Err(text) => return Err(server_error(text)),
                Frame::Pong | Frame::Ok | Frame::Info(_) => {}
            }
        }
        if ping {
            out.extend_from_slice(b"PONG\r\n");
        }
        // After the deliveries just read, so the request goes out with their acks and the
        // server is never left without one while loadgen waits.
        if pull && requested <= args.batch / 2 {
            let wanted = (tally.total() - tally.distinct).saturating_sub(requested);
            let batch = args.batch.min(wanted);
            if batch > 0 {
                out.extend_from_slice(&pull_request(args, inbox, batch));
                requested += batch;
            }
        }
        if !out.is_empty() {
            connection.stream.write_all(&out)?;
        }
        if tally.distinct > before {
            last_new = Instant::now();
        } else if last_new.elapsed() > DELIVERY_TIMEOUT {
            return Err(io::Error::other(format!(
                "no new message for {} s: {} of {} sequences, {} redelivered, {} status messages",
                DELIVERY_TIMEOUT.as_secs(),
                tally.distinct,
                tally.total(),
                tally.redelivered,
                tally.statuses
            )));
        }
        if tally.distinct == tally.total() {
            break;
        }
        match connection.reader.fill(&mut connection.stream) {
            Ok(0) => return Err(io::Error::other("server closed the connection")),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Polls CONSUMER.INFO until no message is pending ack and the ack floor is the last
/// sequence (acks are applied after they are written; the poll waits for that).
fn settle_acks(api: &mut ApiClient, args: &JsConsumeArgs) -> Result<Value, String> {
    let deadline = Instant::now() + ACK_SETTLE_TIMEOUT;
    loop {
        let info = api.consumer_info(&args.stream, &args.consumer)?;
        let pending = info.get("num_ack_pending").and_then(Value::as_u64);
        let floor = info
            .pointer("/ack_floor/stream_seq")
            .and_then(Value::as_u64);
        if pending == Some(0) && floor == Some(args.msgs) {
            return Ok(info);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "consumer {} still has num_ack_pending {pending:?}, ack floor {floor:?} \
                 {} s after the last delivery",
                args.consumer,
                ACK_SETTLE_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(ACK_POLL_INTERVAL); // the poll's pace, not synchronisation
    }
}

fn summarize(
    args: &JsConsumeArgs,
    tally: &Tally,
    mut errors: Vec<String>,
    info: Option<Value>,
) -> Summary {
    if tally.strange > 0 {
        errors.push(format!(
            "{} deliveries outside sequences 1..={} or without a {}-byte payload",
            tally.strange,
            tally.total(),
            args.size
        ));
    }
    if tally.distinct != tally.total() {
        errors.push(format!(
            "{} of {} sequences delivered",
            tally.distinct,
            tally.total()
        ));
    }
    let mut summary = Summary {
        msgs_sent: args.msgs,
        msgs_received: tally.distinct,
        lost: tally.total() - tally.distinct,
        duplicated: tally.redelivered,
        corrupted: tally.strange,
        payload_bytes: args.size,
        errors,
        ..Summary::default()
    };
    summary.extra = json!({
        "mode": "js consume",
        "consume_mode": args.mode.name(),
        "stream": args.stream,
        "consumer": args.consumer,
        "batch": args.batch,
        "max_ack_pending": args.max_ack_pending,
        "status_messages": tally.statuses,
        "consumer_info": info,
    })
    .as_object()
    .expect("object")
    .clone();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_give_the_stream_sequence() {
        assert_eq!(
            ack_stream_seq(b"$JS.ACK.ORDERS.PULL1.1.2.2.1795317735714049008.3"),
            Some(2)
        );
        assert_eq!(
            ack_stream_seq(b"$JS.ACK.dom.hash.ORDERS.C.1.77.5.1795317735714049008.3.xyz"),
            Some(77)
        );
        assert_eq!(ack_stream_seq(b"$JS.ACK.S.C.1.2.3.4"), None);
        assert_eq!(ack_stream_seq(b"_INBOX.x.1.2.3.4.5.6.7"), None);
    }

    #[test]
    fn tally_counts_distinct_redelivered_and_strange() {
        let mut tally = Tally::new(3);
        assert!(tally.on_delivery(Some(1), true));
        assert!(!tally.on_delivery(Some(1), true));
        assert!(!tally.on_delivery(Some(4), true));
        assert!(!tally.on_delivery(Some(0), true));
        assert!(!tally.on_delivery(None, true));
        assert!(tally.on_delivery(Some(3), false));
        assert_eq!(
            (tally.distinct, tally.redelivered, tally.strange),
            (2, 1, 4)
        );
    }
}
