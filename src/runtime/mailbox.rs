//! Mail between cores: per ordered core pair (sender, receiver) a bounded SPSC queue of
//! blocks of length-prefixed records, plus a return queue that brings emptied blocks back
//! to the sender, which reuses them (no allocation in steady state, no cross-core free).
//!
//! ```text
//!   sender core                                 receiver core
//!   current block --full/turn end--> forward --> pop, deliver records
//!   free blocks   <------------------ returns <-- push back (untouched; sender reads len)
//! ```
//!
//! Record layout inside a block: `[kind u8][length u32 LE][bytes]`. A record larger than a
//! block gets a dedicated block of its own size. Records are never dropped: a block that
//! does not fit the forward queue waits in the sender's local pending list.
//!
//! Public (as `ringmq::runtime::mailbox`) only so that `benches/mailbox.rs` can measure a
//! core pair: [`channel`], [`Outbox::append_mail`]/[`Outbox::publish`], [`Inbox::pop`]/
//! [`Inbox::give_back`] and [`mail_records`], all safe. A channel made here is standalone:
//! the runtime's own mailboxes stay private to its cores, and runtime-internal records
//! (new connections) can be neither written nor read through this surface.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of one ordinary block.
pub const BLOCK_BYTES: usize = 64 * 1024;
/// Bytes of a record header: kind + length.
pub(crate) const RECORD_HEADER_BYTES: usize = 5;
/// Blocks in flight below which a partly filled block is published at the end of a turn.
pub(crate) const EAGER_PUBLISH_BLOCKS: usize = 2;
/// Blocks a queue holds at least (when `mailbox_bytes` is small).
pub(crate) const QUEUE_BLOCKS_MIN: usize = 16;

/// Pads to a cache line so producer and consumer indexes do not false-share.
#[repr(align(64))]
struct CachePadded<T>(T);

/// A bounded single-producer single-consumer queue; only reachable through one
/// [`Producer`] and one [`Consumer`], each owned by one thread.
struct Queue<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
    /// Next slot to pop; written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Next slot to push; written by the producer only.
    tail: CachePadded<AtomicUsize>,
}

// SAFETY: a slot is accessed by the producer before the Release store of `tail` that
// publishes it and by the consumer after the Acquire load that observes it (and the other
// way round through `head`), so no slot is accessed by two threads at once. `T: Send` makes
// moving values across threads sound.
unsafe impl<T: Send> Sync for Queue<T> {}
// SAFETY: see above; the queue owns its `T`s.
unsafe impl<T: Send> Send for Queue<T> {}

impl<T> Queue<T> {
    fn with_capacity(capacity: usize) -> Queue<T> {
        assert!(capacity.is_power_of_two());
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Queue {
            slots,
            mask: capacity - 1,
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
        }
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        let head = *self.head.0.get_mut();
        let tail = *self.tail.0.get_mut();
        for index in head..tail {
            // SAFETY: slots in head..tail were written by push and not yet read by pop; we
            // have `&mut self`, so no other endpoint exists any more.
            unsafe { (*self.slots[index & self.mask].get()).assume_init_drop() };
        }
    }
}

/// The pushing end of a queue.
pub(crate) struct Producer<T> {
    queue: Arc<Queue<T>>,
}

/// The popping end of a queue.
pub(crate) struct Consumer<T> {
    queue: Arc<Queue<T>>,
}

/// A connected producer/consumer pair with room for `capacity` (a power of two) items.
pub(crate) fn queue<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let queue = Arc::new(Queue::with_capacity(capacity));
    (
        Producer {
            queue: queue.clone(),
        },
        Consumer { queue },
    )
}

impl<T> Producer<T> {
    /// Appends `value`, or gives it back when the queue is full.
    pub(crate) fn push(&mut self, value: T) -> Result<(), T> {
        let queue = &*self.queue;
        let tail = queue.tail.0.load(Ordering::Relaxed);
        let head = queue.head.0.load(Ordering::Acquire);
        if tail.wrapping_sub(head) > queue.mask {
            return Err(value);
        }
        // SAFETY: the slot at `tail` is outside head..tail, so the consumer does not read it
        // (its Acquire load of `head` above ordered the consumer's last read before us), and
        // only this producer (`&mut self`, one per queue) writes slots.
        unsafe { (*queue.slots[tail & queue.mask].get()).write(value) };
        queue.tail.0.store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }
}

impl<T> Consumer<T> {
    /// Removes the oldest item, if any.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let queue = &*self.queue;
        let head = queue.head.0.load(Ordering::Relaxed);
        let tail = queue.tail.0.load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        // SAFETY: `head` < `tail` (Acquire) so the producer has fully written this slot and
        // will not touch it until we advance `head`; only this consumer reads slots.
        let value = unsafe { (*queue.slots[head & queue.mask].get()).assume_init_read() };
        queue.head.0.store(head.wrapping_add(1), Ordering::Release);
        Some(value)
    }

    pub(crate) fn is_empty(&self) -> bool {
        let queue = &*self.queue;
        queue.head.0.load(Ordering::Relaxed) == queue.tail.0.load(Ordering::Acquire)
    }
}

/// What a record is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RecordKind {
    /// Handler mail, delivered to `on_mail`.
    Mail = 0,
    /// Runtime-internal: an accepted fd (i32 LE) for the receiving core to own.
    NewConnection = 1,
}

/// The sender's end of one core pair.
pub struct Outbox {
    forward: Producer<Vec<u8>>,
    returns: Consumer<Vec<u8>>,
    /// The block being filled.
    current: Vec<u8>,
    /// Full blocks waiting for room in the forward queue (or for the outstanding bound).
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    free: Vec<Vec<u8>>,
    /// Blocks published and not yet returned, and their bytes.
    outstanding_blocks: usize,
    outstanding_bytes: usize,
    queue_blocks: usize,
}

/// The receiver's end of one core pair.
pub struct Inbox {
    forward: Consumer<Vec<u8>>,
    returns: Producer<Vec<u8>>,
}

/// How many blocks a pair's queues hold for a given backpressure bound.
pub(crate) fn queue_blocks_for(mailbox_bytes: usize) -> usize {
    (2 * mailbox_bytes.div_ceil(BLOCK_BYTES))
        .max(QUEUE_BLOCKS_MIN)
        .next_power_of_two()
}

/// Creates the two ends of the mailbox for one ordered core pair.
pub fn channel(mailbox_bytes: usize) -> (Outbox, Inbox) {
    let queue_blocks = queue_blocks_for(mailbox_bytes);
    let (forward_producer, forward_consumer) = queue(queue_blocks);
    let (returns_producer, returns_consumer) = queue(queue_blocks);
    let outbox = Outbox {
        forward: forward_producer,
        returns: returns_consumer,
        current: Vec::new(),
        pending: VecDeque::new(),
        pending_bytes: 0,
        free: Vec::new(),
        outstanding_blocks: 0,
        outstanding_bytes: 0,
        queue_blocks,
    };
    (
        outbox,
        Inbox {
            forward: forward_consumer,
            returns: returns_producer,
        },
    )
}

impl Outbox {
    /// Appends one handler-mail record made of `parts` (what `Io::send_mail` does); never
    /// drops it.
    #[inline]
    pub fn append_mail(&mut self, parts: &[&[u8]]) {
        self.append(RecordKind::Mail, parts);
    }

    /// Appends one record made of `parts`; never drops it.
    pub(crate) fn append(&mut self, kind: RecordKind, parts: &[&[u8]]) {
        let body_bytes: usize = parts.iter().map(|part| part.len()).sum();
        let record_bytes = RECORD_HEADER_BYTES + body_bytes;
        assert!(
            body_bytes <= u32::MAX as usize,
            "mail record larger than 4 GiB"
        );
        if self.current.len() + record_bytes > self.current.capacity() {
            self.seal_current();
            if record_bytes > BLOCK_BYTES {
                // A dedicated block; it is freed (not reused) when it comes back.
                self.current = Vec::with_capacity(record_bytes);
            } else {
                self.current = self
                    .free
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(BLOCK_BYTES));
            }
        }
        self.current.push(kind as u8);
        self.current
            .extend_from_slice(&(body_bytes as u32).to_le_bytes());
        for part in parts {
            self.current.extend_from_slice(part);
        }
        if record_bytes > BLOCK_BYTES {
            self.seal_current();
        }
    }

    /// Moves the current block (if it holds anything) to the pending list.
    fn seal_current(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let block = std::mem::take(&mut self.current);
        self.pending_bytes += block.len();
        self.pending.push_back(block);
    }

    /// Takes back emptied blocks, then publishes pending ones while the queue has room.
    /// Returns true when at least one block was published (the peer may need a wake-up).
    pub fn publish(&mut self) -> bool {
        self.take_returns();
        // A partly filled block goes out only while the receiver is nearly caught up. When it
        // still has blocks to work through, the current block keeps filling instead: that
        // delays nothing the receiver could be doing, and keeps the number of blocks in
        // flight (and so the block pool) small and steady. `has_pending` stays true, so the
        // receiver wakes us when it gives blocks back.
        if self.outstanding_blocks + self.pending.len() < EAGER_PUBLISH_BLOCKS {
            self.seal_current();
        }
        let mut published = false;
        while self.outstanding_blocks < self.queue_blocks {
            let Some(block) = self.pending.pop_front() else {
                break;
            };
            let bytes = block.len();
            match self.forward.push(block) {
                Ok(()) => {
                    self.pending_bytes -= bytes;
                    self.outstanding_blocks += 1;
                    self.outstanding_bytes += bytes;
                    published = true;
                }
                Err(block) => {
                    self.pending.push_front(block);
                    break;
                }
            }
        }
        published
    }

    /// Reclaims blocks the receiver has finished with.
    pub fn take_returns(&mut self) {
        while let Some(mut block) = self.returns.pop() {
            self.outstanding_blocks -= 1;
            self.outstanding_bytes -= block.len();
            // Every ordinary block is kept: at most `queue_blocks` can ever be in flight, so the
            // pool is bounded, and freeing blocks only to allocate them again on the next
            // burst would make the steady state allocate.
            if block.capacity() == BLOCK_BYTES && self.free.len() < self.queue_blocks {
                block.clear();
                self.free.push(block);
            }
        }
    }

    /// Bytes sent or queued to this peer and not yet drained by it.
    pub fn backlog_bytes(&self) -> usize {
        self.outstanding_bytes + self.pending_bytes + self.current.len()
    }

    /// Whether the receiver has given blocks back that we have not taken yet.
    pub(crate) fn has_returns(&self) -> bool {
        !self.returns.is_empty()
    }

    /// Whether blocks are waiting locally for room in the queue.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.current.is_empty()
    }
}

impl Inbox {
    /// The next published block, if any.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.forward.pop()
    }

    /// Gives a drained block back to its sender. The sender bounds its outstanding blocks by
    /// the queue capacity, so the return queue always has room.
    pub fn give_back(&mut self, block: Vec<u8>) {
        let result = self.returns.push(block);
        debug_assert!(
            result.is_ok(),
            "return queue overflow: the sender's bound is broken"
        );
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.forward.is_empty()
    }
}

/// Iterates the records of one block.
pub(crate) fn records(block: &[u8]) -> Records<'_> {
    Records { block }
}

/// The bodies of the handler-mail records of one block from [`Inbox::pop`], in send order
/// (runtime-internal records are skipped). Panics on bytes that are not such a block.
pub fn mail_records(block: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    records(block).filter_map(|(kind, body)| (kind == RecordKind::Mail).then_some(body))
}

pub(crate) struct Records<'block> {
    block: &'block [u8],
}

impl<'block> Iterator for Records<'block> {
    type Item = (RecordKind, &'block [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.block.is_empty() {
            return None;
        }
        assert!(
            self.block.len() >= RECORD_HEADER_BYTES,
            "truncated mail record header"
        );
        let kind = match self.block[0] {
            0 => RecordKind::Mail,
            1 => RecordKind::NewConnection,
            other => panic!("unknown mail record kind {other}"),
        };
        let length_bytes: [u8; 4] = self.block[1..RECORD_HEADER_BYTES].try_into().expect("4");
        let length = u32::from_le_bytes(length_bytes) as usize;
        let end = RECORD_HEADER_BYTES + length;
        assert!(end <= self.block.len(), "truncated mail record body");
        let body = &self.block[RECORD_HEADER_BYTES..end];
        self.block = &self.block[end..];
        Some((kind, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn queue_is_fifo_and_bounded() {
        let (mut producer, mut consumer) = queue::<u32>(4);
        for value in 0..4 {
            producer.push(value).expect("room");
        }
        assert_eq!(producer.push(99), Err(99));
        assert_eq!(consumer.pop(), Some(0));
        producer.push(4).expect("room after a pop");
        let drained: Vec<u32> = std::iter::from_fn(|| consumer.pop()).collect();
        assert_eq!(drained, vec![1, 2, 3, 4]);
        assert!(consumer.is_empty());
    }

    #[test]
    fn queue_drop_frees_unpopped_items() {
        let item = Arc::new(());
        let (mut producer, consumer) = queue::<Arc<()>>(8);
        producer.push(item.clone()).expect("room");
        producer.push(item.clone()).expect("room");
        drop(producer);
        drop(consumer);
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn queue_two_threads_exact_sequence() {
        // Enough to wrap the 64-slot ring thousands of times; both sides yield when blocked,
        // so a loaded machine (or one core) slows the test down but cannot starve it.
        const ITEMS: u64 = 200_000;
        let (mut producer, mut consumer) = queue::<u64>(64);
        let sender = std::thread::spawn(move || {
            for value in 0..ITEMS {
                let mut item = value;
                while let Err(back) = producer.push(item) {
                    item = back;
                    std::thread::yield_now();
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut expected = 0;
        while expected < ITEMS {
            match consumer.pop() {
                Some(value) => {
                    assert_eq!(value, expected);
                    expected += 1;
                }
                None => {
                    assert!(Instant::now() < deadline, "consumer starved");
                    std::thread::yield_now();
                }
            }
        }
        sender.join().expect("sender");
        assert_eq!(consumer.pop(), None);
    }

    #[test]
    fn mailbox_two_threads_records_in_order_blocks_reused() {
        const RECORDS: u32 = 200_000;
        let (mut outbox, mut inbox) = channel(256 * 1024);
        let receiver = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut expected = 0u32;
            while expected < RECORDS {
                let Some(block) = inbox.pop() else {
                    assert!(Instant::now() < deadline, "receiver starved");
                    std::thread::yield_now();
                    continue;
                };
                for (kind, body) in records(&block) {
                    assert_eq!(kind, RecordKind::Mail);
                    let value = u32::from_le_bytes(body[..4].try_into().expect("4"));
                    assert_eq!(value, expected);
                    assert_eq!(body.len(), 4 + (value % 300) as usize);
                    expected += 1;
                }
                inbox.give_back(block);
            }
        });
        let filler = [7u8; 300];
        for value in 0..RECORDS {
            let tail = &filler[..(value % 300) as usize];
            outbox.append(RecordKind::Mail, &[&value.to_le_bytes(), tail]);
            if value % 1000 == 0 {
                outbox.publish();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while outbox.has_pending() {
            outbox.publish();
            assert!(Instant::now() < deadline, "sender never drained");
            std::thread::yield_now();
        }
        receiver.join().expect("receiver");
        outbox.take_returns();
        assert_eq!(outbox.backlog_bytes(), 0);
        assert!(
            !outbox.free.is_empty(),
            "returned blocks are kept for reuse"
        );
    }

    #[test]
    fn oversize_record_gets_its_own_block() {
        let (mut outbox, mut inbox) = channel(64 * 1024);
        let big = vec![0xabu8; 2 * 1024 * 1024 + 3];
        outbox.append(RecordKind::Mail, &[b"a"]);
        outbox.append(RecordKind::Mail, &[&big]);
        outbox.append(RecordKind::Mail, &[b"b"]);
        assert!(outbox.publish());
        // With blocks in flight the last, partly filled block waits for returns
        // (EAGER_PUBLISH_BLOCKS), so drive the exchange as the loop does.
        let mut bodies = Vec::new();
        let mut exchanges = 0;
        while outbox.has_pending() || !inbox.is_empty() {
            while let Some(block) = inbox.pop() {
                bodies.extend(records(&block).map(|(_, body)| body.to_vec()));
                inbox.give_back(block);
            }
            outbox.publish();
            exchanges += 1;
            assert!(
                exchanges <= 3,
                "every block goes out once earlier ones come back"
            );
        }
        assert_eq!(bodies, vec![b"a".to_vec(), big, b"b".to_vec()]);
        outbox.take_returns();
        assert_eq!(outbox.backlog_bytes(), 0);
    }
}
