//! `loadgen reqrep`: requesters send requests to a service subject, a queue group of
//! responders echoes each payload to the request's reply inbox, and requesters time the
//! round trips from the stamp echoed back.
//!
//! Each requester subscribes once to `_INBOX.<run>.<requester>.*`; request `n` carries the
//! reply subject `_INBOX.<run>.<requester>.<n>`. Without `--rate` each requester waits for
//! each reply (closed loop); with it a writer thread sends on schedule and the requester
//! thread only reads, so a slow server shows up as latency, not as a lower send rate.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::cli::ReqrepArgs;
use crate::connection::{is_timeout, push_decimal, server_error, subscribe_line, Connection};
use crate::frame::{parse_size, Frame, Message};
use crate::pacer::Pacer;
use crate::progress;
use crate::pubsub::{join, publish_loop, FrameSource, PublisherPlan, Shared};
use crate::report::{self, Summary};
use crate::sequence::SequenceTracker;
use crate::servers::Servers;
use crate::stamp::{self, Clock};

/// Queue group the responders join, so each request is answered once.
const RESPONDER_QUEUE: &str = "loadgen.responders";

/// How often a waiting thread wakes to look at its stop flag or deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Longest wait for one reply (closed loop) or for the stragglers (open loop).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PUB <service> <inbox><sequence> <size>\r\n<payload>\r\n`.
struct RequestTemplate {
    head: Vec<u8>,
    tail: Vec<u8>,
    payload: Vec<u8>,
}

impl RequestTemplate {
    fn new(service: &str, inbox_prefix: &str, payload_bytes: usize) -> Self {
        RequestTemplate {
            head: format!("PUB {service} {inbox_prefix}").into_bytes(),
            tail: format!(" {payload_bytes}\r\n").into_bytes(),
            payload: vec![b'.'; payload_bytes],
        }
    }
}

impl FrameSource for RequestTemplate {
    fn frame_bytes_max(&self) -> usize {
        self.head.len() + 20 + self.tail.len() + self.payload.len() + 2
    }

    fn append(&self, batch: &mut Vec<u8>, requester: usize, sequence: u64, sent_ns: u64) {
        batch.extend_from_slice(&self.head);
        push_decimal(batch, sequence);
        batch.extend_from_slice(&self.tail);
        let payload_start = batch.len();
        batch.extend_from_slice(&self.payload);
        let stamp_end = payload_start + stamp::STAMP_BYTES;
        stamp::write_stamp(
            &mut batch[payload_start..stamp_end],
            requester,
            sequence,
            sent_ns,
        );
        batch.extend_from_slice(b"\r\n");
    }
}

struct RequesterResult {
    sent: u64,
    tracker: SequenceTracker,
    latency: Histogram<u64>,
    start_ns: u64,
    send_end_ns: u64,
    last_reply_ns: u64,
    error: Option<String>,
}

struct ResponderResult {
    served: u64,
    error: Option<String>,
}

pub fn run(args: &ReqrepArgs, servers: &Servers) -> Result<Summary, String> {
    args.validate()?;
    let clock = Clock::start();
    let shared = Arc::new(Shared::new(clock, Some(args.msgs)));
    let stop = Arc::new(AtomicBool::new(false));
    let sub_line = subscribe_line(&args.subject, Some(RESPONDER_QUEUE), 1);
    let mut responders = Vec::with_capacity(args.responders);
    for index in 0..args.responders {
        let connection = Connection::open(servers.subscriber(index), &sub_line)
            .map_err(|e| format!("responder {index}: {e}"))?;
        let stop = Arc::clone(&stop);
        responders.push(thread::spawn(move || respond(connection, &stop)));
    }
    let start = Arc::new(Barrier::new(args.requesters + 1));
    let mut requesters = Vec::with_capacity(args.requesters);
    for index in 0..args.requesters {
        let inbox_prefix = format!("_INBOX.loadgen{}.{index}.", std::process::id());
        let inbox_line = subscribe_line(&format!("{inbox_prefix}*"), None, 1);
        let connection = Connection::open(servers.publisher(index), &inbox_line)
            .map_err(|e| format!("requester {index}: {e}"))?;
        let template = RequestTemplate::new(&args.subject, &inbox_prefix, args.size);
        let count = args.msgs / args.requesters as u64
            + u64::from((index as u64) < args.msgs % args.requesters as u64);
        let plan = PublisherPlan {
            index,
            count: Some(count),
            pacer: args
                .rate
                .map(|rate| Pacer::new(rate / args.requesters as f64)),
            duration_ns: None,
        };
        let (shared, start) = (Arc::clone(&shared), Arc::clone(&start));
        let size = args.size;
        requesters.push(thread::spawn(move || {
            start.wait();
            request(&shared, connection, template, plan, size)
        }));
    }
    let progress = progress::start(Arc::clone(&shared.progress));
    let cpu_before = report::own_cpu_sec();
    start.wait();
    let results: Vec<RequesterResult> = requesters.into_iter().map(join).collect();
    stop.store(true, Ordering::Release);
    let served: Vec<ResponderResult> = responders.into_iter().map(join).collect();
    let cpu_sec = report::own_cpu_sec() - cpu_before;
    drop(progress);
    let mut summary = summarize(args, &results, &served);
    summary.loadgen_cpu_sec = cpu_sec;
    Ok(summary)
}

fn summarize(
    args: &ReqrepArgs,
    results: &[RequesterResult],
    served: &[ResponderResult],
) -> Summary {
    let mut summary = Summary {
        payload_bytes: args.size,
        ..Summary::default()
    };
    for (index, result) in results.iter().enumerate() {
        let mut sent = vec![0; index + 1];
        sent[index] = result.sent;
        let counts = result.tracker.counts();
        summary.msgs_sent += result.sent;
        summary.msgs_received += counts.received;
        summary.lost += result.tracker.lost(&sent);
        summary.duplicated += result.tracker.duplicated(&sent);
        summary.out_of_order += counts.out_of_order;
        summary.corrupted += counts.corrupted;
        summary.latency.add(&result.latency).expect("same bounds");
        if let Some(error) = &result.error {
            summary.errors.push(format!("requester {index}: {error}"));
        }
    }
    for (index, responder) in served.iter().enumerate() {
        if let Some(error) = &responder.error {
            summary.errors.push(format!("responder {index}: {error}"));
        }
    }
    let start_ns = results.iter().map(|r| r.start_ns).min().unwrap_or(0);
    let send_end_ns = results
        .iter()
        .map(|r| r.send_end_ns)
        .max()
        .unwrap_or(start_ns);
    let last_reply_ns = results
        .iter()
        .map(|r| r.last_reply_ns)
        .max()
        .unwrap_or(start_ns);
    summary.publish_sec = send_end_ns.saturating_sub(start_ns) as f64 / 1e9;
    summary.subscribe_sec = last_reply_ns.saturating_sub(start_ns) as f64 / 1e9;
    summary.elapsed_sec = send_end_ns.max(last_reply_ns).saturating_sub(start_ns) as f64 / 1e9;
    let served_counts: Vec<u64> = served.iter().map(|r| r.served).collect();
    summary.extra = json!({
        "mode": "reqrep",
        "requesters": args.requesters,
        "responders": args.responders,
        "rate": args.rate,
        "served_per_responder": served_counts,
        "replies_per_sec": summary.msgs_received as f64 / summary.subscribe_sec.max(1e-9),
    })
    .as_object()
    .expect("object")
    .clone();
    summary
}

fn request(
    shared: &Arc<Shared>,
    mut connection: Connection,
    template: RequestTemplate,
    plan: PublisherPlan,
    payload_bytes: usize,
) -> RequesterResult {
    let clock = shared.clock;
    let mut result = RequesterResult {
        sent: 0,
        tracker: SequenceTracker::new(plan.index + 1),
        latency: report::latency_histogram(),
        start_ns: clock.now_ns(),
        send_end_ns: 0,
        last_reply_ns: 0,
        error: None,
    };
    let outcome = match plan.pacer {
        None => closed_loop(
            shared,
            &mut connection,
            &template,
            &plan,
            payload_bytes,
            &mut result,
        ),
        Some(pacer) => open_loop(
            shared,
            connection,
            template,
            &plan,
            pacer,
            payload_bytes,
            &mut result,
        ),
    };
    if let Err(e) = outcome {
        result.error = Some(e.to_string());
    }
    result
}

/// One request in flight: send, then read until its reply arrives.
fn closed_loop(
    shared: &Shared,
    connection: &mut Connection,
    template: &RequestTemplate,
    plan: &PublisherPlan,
    payload_bytes: usize,
    result: &mut RequesterResult,
) -> io::Result<()> {
    let clock = shared.clock;
    let count = plan.count.expect("reqrep plans have a count");
    let mut batch = Vec::with_capacity(template.frame_bytes_max());
    for sequence in 0..count {
        batch.clear();
        template.append(&mut batch, plan.index, sequence, clock.now_ns());
        connection.stream.write_all(&batch)?;
        result.sent += 1;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        read_replies(
            shared,
            connection,
            plan.index,
            payload_bytes,
            sequence + 1,
            deadline,
            result,
        )?;
        result.send_end_ns = clock.now_ns();
    }
    shared.progress.sent.fetch_add(count, Ordering::Relaxed);
    Ok(())
}

/// A writer thread sends on schedule; this thread reads replies until all are in.
fn open_loop(
    shared: &Arc<Shared>,
    mut connection: Connection,
    template: RequestTemplate,
    plan: &PublisherPlan,
    pacer: Pacer,
    payload_bytes: usize,
    result: &mut RequesterResult,
) -> io::Result<()> {
    let count = plan.count.expect("reqrep plans have a count");
    let writer_plan = PublisherPlan {
        pacer: Some(pacer),
        ..*plan
    };
    let mut writer_stream = connection.stream.try_clone()?;
    let writer_shared = Arc::clone(shared);
    let start_ns = result.start_ns;
    let writer = thread::spawn(move || {
        let mut sent = 0;
        let outcome = publish_loop(
            &writer_shared,
            &mut writer_stream,
            &template,
            &writer_plan,
            start_ns,
            &mut sent,
        );
        (sent, writer_shared.clock.now_ns(), outcome)
    });
    // Everything due is sent by start + planned time; allow a drain window after it.
    let planned = Duration::from_nanos(pacer.offset_ns(count));
    let deadline = shared.clock.instant_at(start_ns) + planned + REPLY_TIMEOUT.max(planned * 2);
    let read = read_replies(
        shared,
        &mut connection,
        plan.index,
        payload_bytes,
        count,
        deadline,
        result,
    );
    let (sent, send_end_ns, written) = join(writer);
    result.sent = sent;
    result.send_end_ns = send_end_ns;
    written.and(read)
}

/// Reads until `target` distinct replies have arrived or `deadline` passes.
fn read_replies(
    shared: &Shared,
    connection: &mut Connection,
    requester: usize,
    payload_bytes: usize,
    target: u64,
    deadline: Instant,
    result: &mut RequesterResult,
) -> io::Result<()> {
    connection.stream.set_read_timeout(Some(POLL_INTERVAL))?;
    let clock = shared.clock;
    let mut now_ns = clock.now_ns();
    loop {
        let before = result.tracker.delivered();
        let mut ping = false;
        while let Some(frame) = connection.reader.next_frame().map_err(io::Error::other)? {
            match frame {
                Frame::Msg(reply) => on_reply(&reply, requester, payload_bytes, now_ns, result),
                Frame::Ping => ping = true,
                Frame::Err(text) => return Err(server_error(text)),
                Frame::Pong | Frame::Ok | Frame::Info(_) => {}
            }
        }
        if ping {
            connection.stream.write_all(b"PONG\r\n")?;
        }
        let delivered = result.tracker.delivered();
        if delivered > before {
            result.last_reply_ns = now_ns;
            shared
                .progress
                .received
                .fetch_add(delivered - before, Ordering::Relaxed);
        }
        if delivered >= target {
            return Ok(());
        }
        if Instant::now() > deadline {
            let missing = target - delivered;
            return Err(io::Error::other(format!(
                "deadline passed, {missing} replies missing"
            )));
        }
        match connection.reader.fill(&mut connection.stream) {
            Ok(0) => return Err(io::Error::other("server closed the connection")),
            Ok(_) => now_ns = clock.now_ns(),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

fn on_reply(
    reply: &Message<'_>,
    requester: usize,
    payload_bytes: usize,
    now_ns: u64,
    result: &mut RequesterResult,
) {
    let stamp = (reply.payload.len() == payload_bytes)
        .then(|| stamp::read_stamp(reply.payload))
        .flatten();
    // The inbox token must name the same request as the echoed stamp.
    let token = reply
        .subject
        .rsplit(|b| *b == b'.')
        .next()
        .and_then(parse_size);
    match stamp {
        Some(stamp) if stamp.publisher == requester && token == Some(stamp.sequence as usize) => {
            if result.tracker.record(stamp.publisher, stamp.sequence) {
                let sent_ns = stamp.sent_ns.expect("reqrep payloads carry full stamps");
                result
                    .latency
                    .saturating_record(now_ns.saturating_sub(sent_ns).max(1));
            }
        }
        _ => result.tracker.record_corrupted(),
    }
}

/// Echoes every request's payload to its reply subject; one write per read.
fn respond(mut connection: Connection, stop: &AtomicBool) -> ResponderResult {
    let mut result = ResponderResult {
        served: 0,
        error: None,
    };
    if let Err(e) = respond_loop(&mut connection, stop, &mut result.served) {
        result.error = Some(e.to_string());
    }
    result
}

fn respond_loop(
    connection: &mut Connection,
    stop: &AtomicBool,
    served: &mut u64,
) -> io::Result<()> {
    connection.stream.set_read_timeout(Some(POLL_INTERVAL))?;
    let mut out = Vec::with_capacity(crate::frame::READ_BUFFER_BYTES);
    while !stop.load(Ordering::Acquire) {
        match connection.reader.fill(&mut connection.stream) {
            Ok(0) => return Err(io::Error::other("server closed the connection")),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
        while let Some(frame) = connection.reader.next_frame().map_err(io::Error::other)? {
            match frame {
                Frame::Msg(Message {
                    reply: Some(reply),
                    payload,
                    ..
                }) => {
                    out.extend_from_slice(b"PUB ");
                    out.extend_from_slice(reply);
                    out.push(b' ');
                    push_decimal(&mut out, payload.len() as u64);
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(payload);
                    out.extend_from_slice(b"\r\n");
                    *served += 1;
                }
                Frame::Ping => out.extend_from_slice(b"PONG\r\n"),
                Frame::Err(text) => return Err(server_error(text)),
                Frame::Msg(_) | Frame::Pong | Frame::Ok | Frame::Info(_) => {}
            }
        }
        if !out.is_empty() {
            connection.stream.write_all(&out)?;
            out.clear();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameReader;

    #[test]
    fn requests_carry_inbox_and_stamp() {
        let template = RequestTemplate::new("svc", "_INBOX.x.0.", 16);
        let mut batch = Vec::new();
        template.append(&mut batch, 0, 42, 7);
        assert!(batch.starts_with(b"PUB svc _INBOX.x.0.42 16\r\n"));
        assert!(batch.len() <= template.frame_bytes_max());
        // What the responder's echo looks like to the requester.
        let mut echo = b"MSG _INBOX.x.0.42 1 16\r\n".to_vec();
        echo.extend_from_slice(&batch[batch.len() - 18..]);
        let mut reader = FrameReader::default();
        reader.push(&echo);
        let Some(Frame::Msg(reply)) = reader.next_frame().unwrap() else {
            panic!("expected MSG")
        };
        let mut result = RequesterResult {
            sent: 1,
            tracker: SequenceTracker::new(1),
            latency: report::latency_histogram(),
            start_ns: 0,
            send_end_ns: 0,
            last_reply_ns: 0,
            error: None,
        };
        on_reply(&reply, 0, 16, 1007, &mut result);
        assert_eq!(result.tracker.counts().unique, 1);
        assert_eq!(result.latency.len(), 1);
        on_reply(&reply, 1, 16, 1007, &mut result);
        assert_eq!(result.tracker.counts().corrupted, 1);
    }
}
