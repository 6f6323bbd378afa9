//! `loadgen pubsub`: N publishers share K messages, M subscribers (plain or one queue group)
//! receive them, checking sequence and measuring latency.
//!
//! ```text
//! main: connect subscribers (SUB + PING/PONG) → connect publishers → barrier → start
//! publisher thread: fill 64 KiB of PUB frames → one write → ... → PING/PONG flush
//! subscriber thread: read → scan frames → stamp check + latency → until all seen or deadline
//! ```
//! Subscribers stop on a condition (every expected message seen) or on a deadline set when
//! the publishers finish: max(10 s, 2 × publish time) after that point.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::cli::PubsubArgs;
use crate::connection::{is_timeout, push_decimal, server_error, subscribe_line, Connection};
use crate::frame::Frame;
use crate::pacer::Pacer;
use crate::progress;
use crate::report::{self, Summary};
use crate::sequence::SequenceTracker;
use crate::servers::Servers;
use crate::stamp::{self, Clock};

/// Bytes of PUB frames gathered before one write.
pub const BATCH_BYTES: usize = 64 * 1024;

/// How often a waiting subscriber wakes to look at the deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Shortest wait for stragglers after the publishers finish.
const DRAIN_TIMEOUT_MIN: Duration = Duration::from_secs(10);

/// Header block sent with --headers (a realistic small one: version line plus one key).
const HEADER_BLOCK: &[u8] = b"NATS/1.0\r\nLoadgen: 1\r\n\r\n";

/// What every thread of a run shares; all fields are written rarely.
pub struct Shared {
    pub clock: Clock,
    /// Messages each receiver (plain subscriber, or the queue group as a whole) must see;
    /// u64::MAX until known.
    pub target: AtomicU64,
    /// When subscribers give up, in clock nanoseconds; u64::MAX while publishers run.
    pub deadline_ns: AtomicU64,
    /// New messages seen by the queue group as a whole (queue runs only).
    pub group_delivered: AtomicU64,
    pub progress: Arc<progress::Counters>,
}

impl Shared {
    pub fn new(clock: Clock, target: Option<u64>) -> Self {
        Shared {
            clock,
            target: AtomicU64::new(target.unwrap_or(u64::MAX)),
            deadline_ns: AtomicU64::new(u64::MAX),
            group_delivered: AtomicU64::new(0),
            progress: Arc::default(),
        }
    }

    /// Called once the publishers are done: fixes the target and starts the drain deadline.
    pub fn publishing_finished(&self, total_sent: u64, publish_elapsed: Duration) {
        self.target.store(total_sent, Ordering::Release);
        let drain = DRAIN_TIMEOUT_MIN.max(publish_elapsed * 2);
        let deadline = self.clock.now_ns() + drain.as_nanos() as u64;
        self.deadline_ns.store(deadline, Ordering::Release);
    }
}

/// One PUB (or HPUB) frame, copied per message; only the stamp bytes change.
#[derive(Clone)]
pub struct FrameTemplate {
    pub bytes: Vec<u8>,
    pub payload_offset: usize,
    pub payload_bytes: usize,
}

impl FrameTemplate {
    pub fn new(subject: &str, reply: Option<&str>, payload_bytes: usize, headers: bool) -> Self {
        let mut bytes = Vec::with_capacity(subject.len() + payload_bytes + 64);
        bytes.extend_from_slice(if headers { b"HPUB " } else { b"PUB " });
        bytes.extend_from_slice(subject.as_bytes());
        bytes.push(b' ');
        if let Some(reply) = reply {
            bytes.extend_from_slice(reply.as_bytes());
            bytes.push(b' ');
        }
        if headers {
            push_decimal(&mut bytes, HEADER_BLOCK.len() as u64);
            bytes.push(b' ');
            push_decimal(&mut bytes, (HEADER_BLOCK.len() + payload_bytes) as u64);
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(HEADER_BLOCK);
        } else {
            push_decimal(&mut bytes, payload_bytes as u64);
            bytes.extend_from_slice(b"\r\n");
        }
        let payload_offset = bytes.len();
        bytes.resize(payload_offset + payload_bytes, b'.');
        bytes.extend_from_slice(b"\r\n");
        FrameTemplate {
            bytes,
            payload_offset,
            payload_bytes,
        }
    }
}

/// Something that appends one stamped frame to a batch: a PUB, or a request with its inbox.
pub trait FrameSource {
    /// Bytes one frame takes at most (sizes the batch buffer).
    fn frame_bytes_max(&self) -> usize;
    fn append(&self, batch: &mut Vec<u8>, publisher: usize, sequence: u64, sent_ns: u64);
}

impl FrameSource for FrameTemplate {
    fn frame_bytes_max(&self) -> usize {
        self.bytes.len()
    }

    fn append(&self, batch: &mut Vec<u8>, publisher: usize, sequence: u64, sent_ns: u64) {
        let start = batch.len();
        batch.extend_from_slice(&self.bytes);
        let payload_start = start + self.payload_offset;
        let stamp_end = payload_start + self.payload_bytes.min(stamp::STAMP_BYTES);
        stamp::write_stamp(
            &mut batch[payload_start..stamp_end],
            publisher,
            sequence,
            sent_ns,
        );
    }
}

pub struct PublisherPlan {
    pub index: usize,
    /// Messages to send; `None` means "until the duration is over".
    pub count: Option<u64>,
    pub pacer: Option<Pacer>,
    pub duration_ns: Option<u64>,
}

struct PublisherResult {
    sent: u64,
    start_ns: u64,
    end_ns: u64,
    error: Option<String>,
}

struct SubscriberResult {
    tracker: SequenceTracker,
    latency: Histogram<u64>,
    last_receive_ns: u64,
    error: Option<String>,
    /// Reads that returned bytes (over WebSocket: the socket reads under the frames).
    reads: u64,
    /// WebSocket data frames received (0 over TCP).
    ws_frames: u64,
}

/// Everything a subscriber needs to judge a message.
#[derive(Clone, Copy)]
struct SubscriberPlan {
    payload_bytes: usize,
    publisher_count: usize,
    in_queue_group: bool,
}

pub fn run(args: &PubsubArgs, servers: &Servers) -> Result<Summary, String> {
    args.validate()?;
    let clock = Clock::start();
    let shared = Arc::new(Shared::new(clock, args.planned_msgs()));
    let plan = SubscriberPlan {
        payload_bytes: args.size,
        publisher_count: args.publishers,
        in_queue_group: args.queue.is_some(),
    };
    let sub_line = subscribe_line(&args.subject, args.queue.as_deref(), 1);
    let mut subscribers = Vec::with_capacity(args.subscribers);
    for index in 0..args.subscribers {
        let connection = Connection::open(servers.subscriber(index), &sub_line)
            .map_err(|e| format!("subscriber {index}: {e}"))?;
        let shared = Arc::clone(&shared);
        subscribers.push(thread::spawn(move || subscribe(&shared, connection, plan)));
    }
    let template = FrameTemplate::new(&args.subject, None, args.size, args.headers);
    let start = Arc::new(Barrier::new(args.publishers + 1));
    let mut publishers = Vec::with_capacity(args.publishers);
    for index in 0..args.publishers {
        let connection = Connection::open(servers.publisher(index), b"")
            .map_err(|e| format!("publisher {index}: {e}"))?;
        let plan = publisher_plan(args, index);
        let (shared, template, start) = (Arc::clone(&shared), template.clone(), start.clone());
        publishers.push(thread::spawn(move || {
            start.wait();
            publish(&shared, connection, &template, &plan)
        }));
    }
    let progress = progress::start(Arc::clone(&shared.progress));
    let cpu_before = report::own_cpu_sec();
    start.wait();
    let published: Vec<PublisherResult> = publishers.into_iter().map(join).collect();
    let sent_per_publisher: Vec<u64> = published.iter().map(|p| p.sent).collect();
    let total_sent: u64 = sent_per_publisher.iter().sum();
    let start_ns = published.iter().map(|p| p.start_ns).min().unwrap_or(0);
    let publish_end_ns = published.iter().map(|p| p.end_ns).max().unwrap_or(start_ns);
    shared.publishing_finished(total_sent, Duration::from_nanos(publish_end_ns - start_ns));
    let received: Vec<SubscriberResult> = subscribers.into_iter().map(join).collect();
    let cpu_sec = report::own_cpu_sec() - cpu_before;
    drop(progress);

    let mut summary = summarize(args, &published, &received, &sent_per_publisher);
    let last_receive_ns = received
        .iter()
        .map(|r| r.last_receive_ns)
        .max()
        .unwrap_or(0);
    summary.publish_sec = (publish_end_ns - start_ns) as f64 / 1e9;
    summary.subscribe_sec = last_receive_ns.saturating_sub(start_ns) as f64 / 1e9;
    summary.elapsed_sec = (publish_end_ns.max(last_receive_ns) - start_ns) as f64 / 1e9;
    summary.loadgen_cpu_sec = cpu_sec;
    Ok(summary)
}

/// Merges the per-thread results into counts and one latency histogram.
fn summarize(
    args: &PubsubArgs,
    published: &[PublisherResult],
    received: &[SubscriberResult],
    sent_per_publisher: &[u64],
) -> Summary {
    let mut summary = Summary {
        msgs_sent: sent_per_publisher.iter().sum(),
        payload_bytes: args.size,
        ..Summary::default()
    };
    let mut latency = report::latency_histogram();
    let mut group = SequenceTracker::new(args.publishers);
    for result in received {
        latency.add(&result.latency).expect("same histogram bounds");
        let counts = result.tracker.counts();
        summary.msgs_received += counts.received;
        if args.queue.is_some() {
            group.merge(&result.tracker);
        } else {
            summary.lost += result.tracker.lost(sent_per_publisher);
            summary.duplicated += result.tracker.duplicated(sent_per_publisher);
            summary.out_of_order += counts.out_of_order;
            summary.corrupted += counts.corrupted;
        }
    }
    if args.queue.is_some() {
        summary.lost = group.lost(sent_per_publisher);
        summary.duplicated = group.duplicated(sent_per_publisher);
        summary.out_of_order = group.counts().out_of_order;
        summary.corrupted = group.counts().corrupted;
    }
    let errors = published.iter().map(|p| (&p.error, "publisher"));
    let errors = errors.chain(received.iter().map(|r| (&r.error, "subscriber")));
    for (index, (error, role)) in errors.enumerate() {
        if let Some(error) = error {
            summary
                .errors
                .push(format!("{role} (thread {index}): {error}"));
        }
    }
    let per_subscriber: Vec<u64> = received
        .iter()
        .map(|r| r.tracker.counts().received)
        .collect();
    summary.extra = json!({
        "mode": "pubsub",
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "queue": args.queue,
        "headers": args.headers,
        "rate": args.rate,
        "received_per_subscriber": per_subscriber,
        "subscriber_reads": received.iter().map(|r| r.reads).sum::<u64>(),
        "ws_frames_received": received.iter().map(|r| r.ws_frames).sum::<u64>(),
    })
    .as_object()
    .expect("object")
    .clone();
    summary.latency = latency;
    summary
}

fn publisher_plan(args: &PubsubArgs, index: usize) -> PublisherPlan {
    let count = args.planned_msgs().map(|total| {
        let share = total / args.publishers as u64;
        share + u64::from((index as u64) < total % args.publishers as u64)
    });
    PublisherPlan {
        index,
        count,
        pacer: args
            .rate
            .map(|rate| Pacer::new(rate / args.publishers as f64)),
        duration_ns: args.duration.map(|seconds| (seconds * 1e9) as u64),
    }
}

pub fn join<T>(handle: thread::JoinHandle<T>) -> T {
    handle.join().expect("worker threads do not panic")
}

fn publish(
    shared: &Shared,
    mut connection: Connection,
    template: &FrameTemplate,
    plan: &PublisherPlan,
) -> PublisherResult {
    let clock = shared.clock;
    let start_ns = clock.now_ns();
    let mut sent = 0u64;
    let stream = &mut connection.stream;
    let result = publish_loop(shared, stream, template, plan, start_ns, &mut sent);
    let flushed = result.and_then(|()| connection.round_trip(Instant::now() + flush_timeout()));
    PublisherResult {
        sent,
        start_ns,
        end_ns: clock.now_ns(),
        error: flushed.err().map(|e| e.to_string()),
    }
}

/// The flush PONG can trail a deep server backlog; give it as long as a drain.
fn flush_timeout() -> Duration {
    DRAIN_TIMEOUT_MIN * 3
}

/// Sends `plan.count` frames (or for `plan.duration_ns`), paced when `plan.pacer` is set,
/// in writes of about `BATCH_BYTES`.
pub fn publish_loop(
    shared: &Shared,
    out: &mut impl Write,
    template: &impl FrameSource,
    plan: &PublisherPlan,
    start_ns: u64,
    sent: &mut u64,
) -> io::Result<()> {
    let clock = shared.clock;
    let frame_bytes = template.frame_bytes_max();
    let mut batch = Vec::with_capacity(BATCH_BYTES + frame_bytes);
    let end_ns = plan.duration_ns.map(|d| start_ns + d);
    loop {
        let mut now_ns = clock.now_ns();
        let more = |sent: u64, now_ns: u64| {
            plan.count.is_none_or(|count| sent < count) && end_ns.is_none_or(|end| now_ns < end)
        };
        if !more(*sent, now_ns) {
            return Ok(());
        }
        if let Some(pacer) = &plan.pacer {
            let due_ns = start_ns + pacer.offset_ns(*sent);
            if due_ns > now_ns {
                // Pacing, not synchronisation: nothing is due before `due_ns`.
                thread::sleep(
                    clock
                        .instant_at(due_ns)
                        .saturating_duration_since(Instant::now()),
                );
                continue;
            }
        }
        let first = *sent;
        while batch.len() < BATCH_BYTES && more(*sent, now_ns) {
            let stamp_ns = match &plan.pacer {
                Some(pacer) => {
                    let due_ns = start_ns + pacer.offset_ns(*sent);
                    if due_ns > now_ns {
                        break;
                    }
                    due_ns
                }
                None => {
                    // One clock read per 16 frames: 16 frames take well under a microsecond
                    // to copy, far below the latencies measured.
                    if (*sent - first) % 16 == 0 {
                        now_ns = clock.now_ns();
                    }
                    now_ns
                }
            };
            template.append(&mut batch, plan.index, *sent, stamp_ns);
            *sent += 1;
        }
        out.write_all(&batch)?;
        batch.clear();
        shared
            .progress
            .sent
            .fetch_add(*sent - first, Ordering::Relaxed);
    }
}

fn subscribe(
    shared: &Shared,
    mut connection: Connection,
    plan: SubscriberPlan,
) -> SubscriberResult {
    let mut result = SubscriberResult {
        tracker: SequenceTracker::new(plan.publisher_count),
        latency: report::latency_histogram(),
        last_receive_ns: 0,
        error: None,
        reads: 0,
        ws_frames: 0,
    };
    if let Err(e) = subscribe_loop(shared, &mut connection, plan, &mut result) {
        result.error = Some(e.to_string());
    }
    if let Some((frames, socket_reads)) = connection.stream.ws_counts() {
        result.ws_frames = frames;
        result.reads = socket_reads;
    }
    result
}

fn subscribe_loop(
    shared: &Shared,
    connection: &mut Connection,
    plan: SubscriberPlan,
    result: &mut SubscriberResult,
) -> io::Result<()> {
    let clock = shared.clock;
    connection.stream.set_read_timeout(Some(POLL_INTERVAL))?;
    loop {
        let delivered_before = result.tracker.delivered();
        match connection.reader.fill(&mut connection.stream) {
            Ok(0) => return Err(io::Error::other("server closed the connection")),
            Ok(_) => {
                result.reads += 1;
                let now_ns = clock.now_ns();
                let mut ping = false;
                while let Some(frame) = connection.reader.next_frame().map_err(io::Error::other)? {
                    match frame {
                        Frame::Msg(message) => on_message(message.payload, now_ns, plan, result),
                        Frame::Ping => ping = true,
                        Frame::Err(text) => return Err(server_error(text)),
                        Frame::Pong | Frame::Ok | Frame::Info(_) => {}
                    }
                }
                if ping {
                    connection.stream.write_all(b"PONG\r\n")?;
                }
                let delivered = result.tracker.delivered() - delivered_before;
                if delivered > 0 {
                    result.last_receive_ns = now_ns;
                    shared
                        .progress
                        .received
                        .fetch_add(delivered, Ordering::Relaxed);
                    if plan.in_queue_group {
                        shared
                            .group_delivered
                            .fetch_add(delivered, Ordering::AcqRel);
                    }
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
        let target = shared.target.load(Ordering::Acquire);
        let delivered = if plan.in_queue_group {
            shared.group_delivered.load(Ordering::Acquire)
        } else {
            result.tracker.delivered()
        };
        if delivered >= target {
            return Ok(());
        }
        if clock.now_ns() > shared.deadline_ns.load(Ordering::Acquire) {
            let missing = target - delivered;
            return Err(io::Error::other(format!(
                "deadline passed, {missing} messages missing"
            )));
        }
    }
}

fn on_message(payload: &[u8], now_ns: u64, plan: SubscriberPlan, result: &mut SubscriberResult) {
    if payload.len() != plan.payload_bytes {
        result.tracker.record_corrupted();
        return;
    }
    let Some(stamp) = stamp::read_stamp(payload) else {
        result.tracker.record_unstamped();
        return;
    };
    let is_new = result.tracker.record(stamp.publisher, stamp.sequence);
    if let (true, Some(sent_ns)) = (is_new, stamp.sent_ns) {
        result
            .latency
            .saturating_record(now_ns.saturating_sub(sent_ns).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(template: &FrameTemplate, count: u64) -> Vec<u8> {
        let mut batch = Vec::new();
        for sequence in 0..count {
            template.append(&mut batch, 3, sequence, 1000 + sequence);
        }
        batch
    }

    #[test]
    fn pub_frames_carry_stamps() {
        let template = FrameTemplate::new("a.b", None, 16, false);
        let frame_bytes = "PUB a.b 16\r\n".len() + 16 + 2;
        assert_eq!(template.bytes.len(), frame_bytes);
        let batch = frames_of(&template, 3);
        assert_eq!(batch.len(), 3 * frame_bytes);
        for (sequence, frame) in (0..3).zip(batch.chunks(frame_bytes)) {
            assert!(frame.starts_with(b"PUB a.b 16\r\n") && frame.ends_with(b"\r\n"));
            let payload = &frame[template.payload_offset..frame_bytes - 2];
            let stamp = stamp::read_stamp(payload).unwrap();
            assert_eq!((stamp.publisher, stamp.sequence), (3, sequence));
            assert_eq!(stamp.sent_ns, Some(1000 + sequence));
        }
    }

    #[test]
    fn hpub_frames_have_consistent_sizes() {
        let template = FrameTemplate::new("s", Some("r"), 5, true);
        let header = HEADER_BLOCK.len();
        let line = format!("HPUB s r {} {}\r\n", header, header + 5);
        assert!(template.bytes.starts_with(line.as_bytes()));
        assert_eq!(template.payload_offset, line.len() + header);
        assert_eq!(template.bytes.len(), line.len() + header + 5 + 2);
    }
}
