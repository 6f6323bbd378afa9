//! `loadgen js pub`: publishes to a JetStream stream with a window of outstanding PubAcks
//! and counts the acks.
//!
//! ```text
//! connect, SUB <inbox>*  →  STREAM.DELETE (not found is fine) → STREAM.CREATE
//! loop: PUB <subject> <inbox><n> for every n the window allows → one write
//!       read → each MSG <inbox><n> is the PubAck of message n → until all are answered
//! STREAM.INFO: the stream must hold exactly the acknowledged messages
//! ```
//! With `--publishers N` each of N connections (threads) publishes its share of the messages
//! with its own inbox and its own window, so up to N × window PubAcks are outstanding.
//! The window is a range of message numbers, not a count: message `n` goes out only once
//! every message below `n - window` is answered, so the send times fit a ring of `window`
//! slots whatever order the acks come in. One thread does both sides: the window bounds
//! what is in flight, so a write never waits on acks loadgen is not reading.

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::cli::JsPubArgs;
use crate::connection::{is_timeout, push_decimal, server_error, subscribe_line, Connection};
use crate::frame::Frame;
use crate::js_api::{self, ApiClient, PubAck};
use crate::progress::{self, Counters};
use crate::pubsub::join;
use crate::report::{self, Summary};
use crate::servers::Servers;
use crate::stamp::Clock;

/// Longest time without a single PubAck while some are outstanding before the run is
/// declared stuck (the broker lost acks or hung); the missing ones are reported.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a waiting read wakes to look at the ack deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Distinct error descriptions kept for the report; further ones are only counted.
const ERROR_KINDS_MAX: usize = 8;

/// Ring slot of a message that is not in flight (sent and answered, or not sent yet).
const SLOT_EMPTY: u64 = u64::MAX;

/// Where the run stands: what was sent, what came back, and when each unanswered message
/// was sent.
struct Window {
    total: u64,
    size: u64,
    /// Messages 0..sent have been written.
    sent: u64,
    /// Every message below `floor` has been answered.
    floor: u64,
    /// Send time (clock ns) of in-flight message n at `n % size`.
    sent_ns: Vec<u64>,
    stored: u64,
    refused: u64,
    /// Acks for a message already answered or never sent, or not a PubAck of this run.
    strays: u64,
    duplicates: u64,
    seq_max: u64,
    error_kinds: Vec<(String, u64)>,
    latency: Histogram<u64>,
}

impl Window {
    fn new(total: u64, size: u64) -> Window {
        assert!(size > 0);
        Window {
            total,
            size,
            sent: 0,
            floor: 0,
            sent_ns: vec![SLOT_EMPTY; size as usize],
            stored: 0,
            refused: 0,
            strays: 0,
            duplicates: 0,
            seq_max: 0,
            error_kinds: Vec::new(),
            latency: report::latency_histogram(),
        }
    }

    fn answered(&self) -> u64 {
        self.stored + self.refused
    }

    /// Messages that may be written now: up to `floor + size`, and no further than `total`.
    fn sendable(&self) -> std::ops::Range<u64> {
        self.sent..self.total.min(self.floor + self.size)
    }

    fn on_send(&mut self, message: u64, now_ns: u64) {
        debug_assert_eq!(message, self.sent);
        let slot = &mut self.sent_ns[(message % self.size) as usize];
        debug_assert_eq!(*slot, SLOT_EMPTY);
        *slot = now_ns;
        self.sent += 1;
    }

    /// The PubAck for message `message` (None: not a message number of this run).
    fn on_ack(&mut self, message: Option<u64>, ack: PubAck, now_ns: u64) {
        let in_flight = message.filter(|&n| n >= self.floor && n < self.sent);
        let Some(message) = in_flight else {
            self.strays += 1;
            return;
        };
        let slot = &mut self.sent_ns[(message % self.size) as usize];
        if *slot == SLOT_EMPTY {
            self.strays += 1;
            return;
        }
        self.latency
            .saturating_record(now_ns.saturating_sub(*slot).max(1));
        *slot = SLOT_EMPTY;
        match ack {
            PubAck::Stored { seq, duplicate } => {
                self.stored += 1;
                self.duplicates += u64::from(duplicate);
                self.seq_max = self.seq_max.max(seq);
            }
            PubAck::Refused(description) => {
                self.refused += 1;
                self.count_error(description);
            }
        }
        while self.floor < self.sent
            && self.sent_ns[(self.floor % self.size) as usize] == SLOT_EMPTY
        {
            self.floor += 1;
        }
    }

    /// Adds another publisher's counts (the ring and floor of `self` mean nothing after).
    fn merge(&mut self, other: &Window) {
        self.total += other.total;
        self.sent += other.sent;
        self.stored += other.stored;
        self.refused += other.refused;
        self.strays += other.strays;
        self.duplicates += other.duplicates;
        self.seq_max = self.seq_max.max(other.seq_max);
        self.latency
            .add(&other.latency)
            .expect("same histogram bounds");
        for (description, count) in &other.error_kinds {
            if let Some(kind) = self.error_kinds.iter_mut().find(|k| &k.0 == description) {
                kind.1 += count;
            } else if self.error_kinds.len() < ERROR_KINDS_MAX {
                self.error_kinds.push((description.clone(), *count));
            }
        }
    }

    fn count_error(&mut self, description: String) {
        if let Some(kind) = self.error_kinds.iter_mut().find(|k| k.0 == description) {
            kind.1 += 1;
        } else if self.error_kinds.len() < ERROR_KINDS_MAX {
            self.error_kinds.push((description, 1));
        }
    }
}

/// `PUB <subject> <inbox><n> <size>\r\n<payload>\r\n`.
struct PublishTemplate {
    head: Vec<u8>,
    tail: Vec<u8>,
    payload: Vec<u8>,
}

impl PublishTemplate {
    fn new(subject: &str, inbox_prefix: &str, payload_bytes: usize) -> Self {
        PublishTemplate {
            head: format!("PUB {subject} {inbox_prefix}").into_bytes(),
            tail: format!(" {payload_bytes}\r\n").into_bytes(),
            payload: vec![b'.'; payload_bytes],
        }
    }

    fn append(&self, batch: &mut Vec<u8>, message: u64) {
        batch.extend_from_slice(&self.head);
        push_decimal(batch, message);
        batch.extend_from_slice(&self.tail);
        batch.extend_from_slice(&self.payload);
        batch.extend_from_slice(b"\r\n");
    }
}

pub fn run(args: &JsPubArgs, servers: &Servers) -> Result<Summary, String> {
    args.validate()?;
    let mut publishers = Vec::with_capacity(args.publishers);
    for index in 0..args.publishers {
        let inbox_prefix = format!("_INBOX.loadgen{}.{index}.", std::process::id());
        let inbox_line = subscribe_line(&format!("{inbox_prefix}*"), None, 1);
        let connection = Connection::open(servers.publisher(index), &inbox_line)
            .map_err(|e| format!("publisher {index}: connecting: {e}"))?;
        publishers.push((connection, inbox_prefix));
    }
    let (first_connection, first_inbox) = &mut publishers[0];
    ApiClient::new(first_connection, first_inbox).recreate_stream(
        &args.stream,
        &args.subject,
        &args.storage,
    )?;
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let progress = progress::start(Arc::clone(&counters));
    let start = Arc::new(Barrier::new(args.publishers + 1));
    let mut threads = Vec::with_capacity(args.publishers);
    for (index, (mut connection, inbox_prefix)) in publishers.into_iter().enumerate() {
        let template = PublishTemplate::new(&args.subject, &inbox_prefix, args.size);
        let share = args.msgs / args.publishers as u64
            + u64::from((index as u64) < args.msgs % args.publishers as u64);
        let mut window = Window::new(share, args.window);
        let (counters, start, stream) = (counters.clone(), start.clone(), args.stream.clone());
        threads.push(thread::spawn(move || {
            start.wait();
            let outcome = publish_loop(
                &mut connection,
                &template,
                &stream,
                clock,
                &counters,
                &mut window,
            );
            (connection, inbox_prefix, window, outcome, clock.now_ns())
        }));
    }
    let cpu_before = report::own_cpu_sec();
    let start_ns = clock.now_ns();
    start.wait();
    let finished: Vec<_> = threads.into_iter().map(join).collect();
    let cpu_sec = report::own_cpu_sec() - cpu_before;
    drop(progress);
    let end_ns = finished.iter().map(|f| f.4).max().unwrap_or(start_ns);
    let mut total = Window::new(0, 1);
    let mut failures = Vec::new();
    for (index, (_, _, window, outcome, _)) in finished.iter().enumerate() {
        total.merge(window);
        if let Err(e) = outcome {
            failures.push(format!("publisher {index}: {e}"));
        }
    }
    let state = if failures.is_empty() {
        let (connection, inbox_prefix, ..) = finished.into_iter().next().expect("a publisher");
        let mut connection = connection;
        ApiClient::new(&mut connection, &inbox_prefix).stream_state(&args.stream)
    } else {
        Err(failures.join("; "))
    };
    let mut summary = summarize(args, &total, &state);
    let seconds = end_ns.saturating_sub(start_ns) as f64 / 1e9;
    (
        summary.publish_sec,
        summary.subscribe_sec,
        summary.elapsed_sec,
    ) = (seconds, seconds, seconds);
    summary.loadgen_cpu_sec = cpu_sec;
    summary.extra.insert(
        "acked_msgs_per_sec".into(),
        json!(total.stored as f64 / seconds.max(1e-9)),
    );
    Ok(summary)
}

/// Writes what the window allows, reads what has come back, until every message is
/// answered or no ack arrives for `ACK_TIMEOUT`.
fn publish_loop(
    connection: &mut Connection,
    template: &PublishTemplate,
    stream: &str,
    clock: Clock,
    counters: &Counters,
    window: &mut Window,
) -> io::Result<()> {
    connection.stream.set_read_timeout(Some(POLL_INTERVAL))?;
    let mut batch = Vec::new();
    let mut last_ack = Instant::now();
    while window.answered() < window.total {
        let sendable = window.sendable();
        if !sendable.is_empty() {
            batch.clear();
            let now_ns = clock.now_ns();
            for message in sendable.clone() {
                template.append(&mut batch, message);
                window.on_send(message, now_ns);
            }
            connection.stream.write_all(&batch)?;
            counters
                .sent
                .fetch_add(sendable.end - sendable.start, Ordering::Relaxed);
        }
        match connection.reader.fill(&mut connection.stream) {
            Ok(0) => return Err(io::Error::other("server closed the connection")),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
        let now_ns = clock.now_ns();
        let before = window.answered();
        let mut ping = false;
        while let Some(frame) = connection.reader.next_frame().map_err(io::Error::other)? {
            match frame {
                Frame::Msg(ack) => {
                    let message = js_api::reply_token(ack.subject);
                    window.on_ack(message, js_api::parse_pub_ack(ack.payload, stream), now_ns);
                }
                Frame::Ping => ping = true,
                Frame::Err(text) => return Err(server_error(text)),
                Frame::Pong | Frame::Ok | Frame::Info(_) => {}
            }
        }
        if ping {
            connection.stream.write_all(b"PONG\r\n")?;
        }
        let answered = window.answered() - before;
        if answered > 0 {
            last_ack = Instant::now();
            counters.received.fetch_add(answered, Ordering::Relaxed);
        } else if last_ack.elapsed() > ACK_TIMEOUT {
            return Err(io::Error::other(format!(
                "no PubAck for {} s with {} outstanding (messages {}..{} sent, {} answered)",
                ACK_TIMEOUT.as_secs(),
                window.sent - window.answered(),
                window.floor,
                window.sent,
                window.answered()
            )));
        }
    }
    Ok(())
}

/// Counts, errors and the stream's own account of what it stored.
fn summarize(args: &JsPubArgs, window: &Window, state: &Result<Value, String>) -> Summary {
    let mut summary = Summary {
        msgs_sent: window.sent,
        msgs_received: window.stored,
        lost: window.sent - window.answered(),
        duplicated: window.duplicates,
        corrupted: window.strays,
        payload_bytes: args.size,
        latency: window.latency.clone(),
        ..Summary::default()
    };
    if window.sent < window.total {
        let unsent = window.total - window.sent;
        summary.errors.push(format!("{unsent} messages never sent"));
    }
    if window.refused > 0 {
        let kinds: Vec<String> = window
            .error_kinds
            .iter()
            .map(|(text, count)| format!("{count} × {text}"))
            .collect();
        summary.errors.push(format!(
            "{} PubAcks carried an error: {}",
            window.refused,
            kinds.join("; ")
        ));
    }
    match state {
        Ok(state) => {
            let stored = state.get("messages").and_then(Value::as_u64);
            let last_seq = state.get("last_seq").and_then(Value::as_u64);
            if stored != Some(window.stored) || last_seq != Some(window.seq_max) {
                summary.errors.push(format!(
                    "stream {} holds {stored:?} messages up to seq {last_seq:?}; acks said {} \
                     up to seq {}",
                    args.stream, window.stored, window.seq_max
                ));
            }
        }
        Err(e) => summary.errors.push(e.clone()),
    }
    let errors_by_kind: serde_json::Map<String, Value> = window
        .error_kinds
        .iter()
        .map(|(text, count)| (text.clone(), json!(count)))
        .collect();
    summary.extra = json!({
        "mode": "js pub",
        "stream": args.stream,
        "subject": args.subject,
        "storage": args.storage,
        "window": args.window,
        "publishers": args.publishers,
        "acks": window.stored,
        "ack_errors": window.refused,
        "ack_errors_by_kind": errors_by_kind,
        "stray_acks": window.strays,
        "seq_max": window.seq_max,
        "stream_state": state.as_ref().ok(),
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
    fn publishes_carry_a_reply_token_per_message() {
        let template = PublishTemplate::new("js.bench", "_INBOX.x.", 3);
        let mut batch = Vec::new();
        template.append(&mut batch, 0);
        template.append(&mut batch, 41);
        assert_eq!(
            batch,
            b"PUB js.bench _INBOX.x.0 3\r\n...\r\nPUB js.bench _INBOX.x.41 3\r\n...\r\n"
        );
    }

    /// The window is a range: an unanswered message holds back everything `size` past it,
    /// even when later acks have come in.
    #[test]
    fn window_slides_over_the_oldest_unanswered_message() {
        let stored = |seq| PubAck::Stored {
            seq,
            duplicate: false,
        };
        let mut window = Window::new(10, 4);
        assert_eq!(window.sendable(), 0..4);
        for n in 0..4 {
            window.on_send(n, 100);
        }
        assert_eq!(window.sendable(), 4..4);
        window.on_ack(Some(1), stored(2), 150);
        window.on_ack(Some(2), stored(3), 160);
        assert_eq!((window.floor, window.sendable()), (0, 4..4));
        window.on_ack(Some(0), stored(1), 170);
        assert_eq!((window.floor, window.sendable()), (3, 4..7));
        for n in 4..7 {
            window.on_send(n, 200);
        }
        window.on_ack(
            Some(3),
            PubAck::Refused("full (code 503, err_code 1)".into()),
            260,
        );
        window.on_ack(Some(3), stored(4), 270); // answered twice
        window.on_ack(Some(9), stored(5), 270); // never sent
        window.on_ack(None, stored(5), 270); // not a message number
        assert_eq!((window.stored, window.refused, window.strays), (3, 1, 3));
        assert_eq!((window.floor, window.sendable()), (4, 7..8));
        assert_eq!(
            window.error_kinds,
            [("full (code 503, err_code 1)".into(), 1)]
        );
        assert_eq!(window.latency.len(), 4);
        assert_eq!(window.latency.max(), 160);
        assert_eq!(window.seq_max, 3);
    }

    #[test]
    fn summary_fails_on_errors_and_on_a_stream_that_disagrees() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "loadgen", "js", "pub", "--msgs", "3",
        ])
        .unwrap();
        let crate::cli::Command::Js(crate::cli::JsArgs {
            command: crate::cli::JsCommand::Pub(args),
        }) = cli.command
        else {
            panic!("not js pub")
        };
        let mut window = Window::new(3, 2);
        for n in 0..2 {
            window.on_send(n, 0);
            let ack = PubAck::Stored {
                seq: n + 1,
                duplicate: false,
            };
            window.on_ack(Some(n), ack, 10);
        }
        window.on_send(2, 20);
        let state = Ok(json!({"messages": 2, "last_seq": 2}));
        let summary = summarize(&args, &window, &state);
        assert_eq!(
            (summary.msgs_sent, summary.msgs_received, summary.lost),
            (3, 2, 1)
        );
        assert!(!summary.is_clean());
        window.on_ack(
            Some(2),
            PubAck::Refused("no space (code 500, err_code 2)".into()),
            30,
        );
        let summary = summarize(&args, &window, &state);
        assert_eq!(summary.lost, 0);
        assert_eq!(
            summary.errors,
            ["1 PubAcks carried an error: 1 × no space (code 500, err_code 2)"]
        );
        let state = Ok(json!({"messages": 1, "last_seq": 2}));
        let summary = summarize(&args, &window, &state);
        assert_eq!(
            summary.errors[1],
            "stream LOADGEN holds Some(1) messages up to seq Some(2); acks said 2 up to seq 2"
        );
        let mut clean = Window::new(1, 1);
        clean.on_send(0, 0);
        let ack = PubAck::Stored {
            seq: 1,
            duplicate: false,
        };
        clean.on_ack(Some(0), ack, 5);
        let summary = summarize(&args, &clean, &Ok(json!({"messages": 1, "last_seq": 1})));
        assert!(summary.is_clean(), "{:?}", summary.errors);
        assert_eq!(summary.extra["acks"], 1);
    }
}
