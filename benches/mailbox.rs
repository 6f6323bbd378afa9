//! Cross-core mailbox throughput, in records/s through one core pair (issue 3).
//!
//! The criterion thread plays the sending core: one iteration is one loop turn, which appends
//! `TURN_RECORDS` records and then publishes, as `publish_mail` does at the end of a turn.
//! A second thread plays the receiving core: it pops blocks, walks their records (adding up
//! the last byte of each, so every record is read) and gives the blocks back, as
//! `drain_inboxes` does. Like the runtime, the sender stops producing once more than
//! `mailbox_bytes` are outstanding and resumes below half of it. An iteration batch ends when
//! the receiver has seen every record, so the figure is end-to-end, not just the enqueue.
//!
//! Records look like a forwarded PUB: a 25-byte routing head (about what
//! `interest::encode_message_head` writes for an 8-byte subject, no reply, no queue) plus the
//! payload as a second part, for 16 B, 128 B and 1 KiB payloads (46, 158 and 1054 bytes per
//! record with the 5-byte frame header).
//!
//! Both threads spin (yielding when idle) and never park, so this measures the queues, the
//! copies and block reuse, not MSG_RING wake-ups or the handler's decoding.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringmq::config::Limits;
use ringmq::runtime::mailbox::{self, Inbox, Outbox};

/// Records appended per loop turn before a publish.
const TURN_RECORDS: u64 = 64;
/// Body bytes of a forwarded message's routing head (see the module docs).
const HEAD_BYTES: usize = 25;
/// Payload sizes: a small message, a medium one, 1 KiB.
const PAYLOAD_SIZES: [usize; 3] = [16, 128, 1024];
/// Frame header the mailbox puts before each record (kind + length).
const FRAME_HEADER_BYTES: usize = 5;
/// The last byte of every record; the receiver checks that they add up.
const LAST_BYTE: u8 = 1;

/// Waits politely: spin a little, then give the CPU away (this box has only two).
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// The receiving core: drains blocks until told to stop.
struct Receiver {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    thread: JoinHandle<u64>,
}

impl Receiver {
    fn spawn(mut inbox: Inbox) -> Receiver {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop = stop.clone();
            let received = received.clone();
            std::thread::spawn(move || {
                let mut byte_sum = 0u64;
                let mut spins = 0;
                loop {
                    let Some(block) = inbox.pop() else {
                        if stop.load(Ordering::Acquire) && inbox.pop().is_none() {
                            return byte_sum;
                        }
                        backoff(&mut spins);
                        continue;
                    };
                    spins = 0;
                    let mut count = 0;
                    for body in mailbox::mail_records(&block) {
                        byte_sum += u64::from(*body.last().expect("records are not empty"));
                        count += 1;
                    }
                    inbox.give_back(block);
                    received.fetch_add(count, Ordering::Release);
                }
            })
        };
        Receiver {
            stop,
            received,
            thread,
        }
    }

    /// Stops the thread and checks that every record arrived intact.
    fn finish(self, sent: u64) {
        self.stop.store(true, Ordering::Release);
        let byte_sum = self.thread.join().expect("receiver thread");
        assert_eq!(self.received.load(Ordering::Acquire), sent, "records lost");
        assert_eq!(byte_sum, sent * u64::from(LAST_BYTE), "records corrupted");
    }
}

/// The sending core's side of one benchmark.
struct Sender {
    outbox: Outbox,
    mailbox_bytes: usize,
    head: [u8; HEAD_BYTES],
    payload: Vec<u8>,
    sent: u64,
}

impl Sender {
    /// One loop turn: append, publish, and hold off while the peer is too far behind.
    fn turn(&mut self) {
        for _ in 0..TURN_RECORDS {
            // No black_box on the parts: spilling the slices for it costs a store-forwarding
            // stall per record, more than the append itself. The appends are not elided:
            // their bytes are read on the other thread.
            self.outbox.append_mail(&[&self.head, &self.payload]);
        }
        self.sent += TURN_RECORDS;
        self.outbox.publish();
        if self.outbox.backlog_bytes() > self.mailbox_bytes {
            let mut spins = 0;
            while self.outbox.backlog_bytes() > self.mailbox_bytes / 2 {
                backoff(&mut spins);
                self.outbox.publish();
            }
        }
    }

    /// Publishes everything still local (later turns with nothing new to send).
    fn flush(&mut self) {
        let mut spins = 0;
        while self.outbox.has_pending() {
            self.outbox.publish();
            backoff(&mut spins);
        }
    }
}

fn bench_records(criterion: &mut Criterion) {
    let mailbox_bytes = Limits::default().mailbox_bytes;
    let mut group = criterion.benchmark_group("mailbox");
    group.throughput(Throughput::Elements(TURN_RECORDS));
    for payload_size in PAYLOAD_SIZES {
        let (outbox, inbox) = mailbox::channel(mailbox_bytes);
        let receiver = Receiver::spawn(inbox);
        let mut payload = vec![b'x'; payload_size];
        *payload.last_mut().expect("payload is not empty") = LAST_BYTE;
        let mut sender = Sender {
            outbox,
            mailbox_bytes,
            head: [0x5a; HEAD_BYTES],
            payload,
            sent: 0,
        };
        let record_bytes = FRAME_HEADER_BYTES + HEAD_BYTES + payload_size;
        group.bench_function(BenchmarkId::new("record_bytes", record_bytes), |bencher| {
            bencher.iter_custom(|iterations| {
                let start = Instant::now();
                for _ in 0..iterations {
                    sender.turn();
                }
                sender.flush();
                let mut spins = 0;
                while receiver.received.load(Ordering::Acquire) < sender.sent {
                    backoff(&mut spins);
                }
                start.elapsed()
            })
        });
        receiver.finish(sender.sent);
    }
    group.finish();
}

criterion_group!(benches, bench_records);
criterion_main!(benches);
