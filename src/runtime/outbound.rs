//! A connection's outbound queue: bytes copied into pooled 16 KiB chunks taken from a
//! per-core free list (no allocation in steady state), sent by one send / sendmsg at a time.
//!
//! ```text
//!   chunks: [start..end sent? no][....][.... end | free space]   <- writes append here
//!            ^ next send covers up to SEND_VECTORS_MAX chunks / SEND_BYTES_MAX bytes
//! ```
//!
//! Invariant: while a send is in flight, the bytes it covers are neither moved, modified nor
//! freed: chunks are heap blocks that never move, writes only append past `end`, and the
//! queue itself remembers how many front bytes the planned send covers (`in_flight`, set by
//! `plan_send`, cleared by `advance` on the send's completion): `truncate_tail` and `clear`
//! assert they leave those bytes alone, and only `advance` releases front chunks.

use std::collections::VecDeque;
use std::ptr::NonNull;

/// Bytes per pooled chunk.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// iovecs per vectored send (one sendmsg covers at most this many chunks).
pub const SEND_VECTORS_MAX: usize = 16;
/// Bytes per send; a longer queue is sent in several rounds.
pub const SEND_BYTES_MAX: usize = 256 * 1024;
/// Free chunks a core keeps (64 MiB); chunks returned beyond this are freed.
pub const POOL_CHUNKS_MAX: usize = 4096;

/// One heap block of `CHUNK_BYTES`, reached only through raw pointers because the kernel may
/// be reading part of it while we append to another part.
pub struct ChunkBuffer {
    bytes: NonNull<u8>,
}

impl ChunkBuffer {
    fn new() -> ChunkBuffer {
        let boxed: Box<[u8]> = vec![0u8; CHUNK_BYTES].into_boxed_slice();
        let bytes = NonNull::new(Box::into_raw(boxed).cast::<u8>()).expect("Box is non-null");
        ChunkBuffer { bytes }
    }
}

impl Drop for ChunkBuffer {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.bytes.as_ptr(), CHUNK_BYTES);
        // SAFETY: `bytes` came from `Box<[u8]>` of CHUNK_BYTES in `new` and is freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// The core's free list of chunks.
#[derive(Default)]
pub struct ChunkPool {
    free: Vec<ChunkBuffer>,
}

impl ChunkPool {
    fn take(&mut self) -> ChunkBuffer {
        self.free.pop().unwrap_or_else(ChunkBuffer::new)
    }

    fn give(&mut self, chunk: ChunkBuffer) {
        if self.free.len() < POOL_CHUNKS_MAX {
            self.free.push(chunk);
        }
    }

    #[cfg(test)]
    pub fn free_chunks(&self) -> usize {
        self.free.len()
    }
}

struct Chunk {
    buffer: ChunkBuffer,
    /// First unsent byte.
    start: usize,
    /// End of the written bytes.
    end: usize,
}

/// iovecs and msghdr of a connection's vectored send, boxed so their address is stable for
/// as long as the kernel may read them.
pub struct SendVectors {
    iovecs: [libc::iovec; SEND_VECTORS_MAX],
    message: libc::msghdr,
}

impl SendVectors {
    pub fn new() -> Box<SendVectors> {
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: msghdr is a plain C struct for which all-zero is a valid (empty) value.
        let message: libc::msghdr = unsafe { std::mem::zeroed() };
        Box::new(SendVectors {
            iovecs: [empty; SEND_VECTORS_MAX],
            message,
        })
    }
}

/// What the next send covers.
pub enum SendPlan {
    /// One contiguous region.
    Single { bytes: *const u8, length: u32 },
    /// Several chunks: the msghdr inside the connection's `SendVectors`.
    Vectored {
        message: *const libc::msghdr,
        length: usize,
    },
}

#[derive(Default)]
pub struct Outbound {
    chunks: VecDeque<Chunk>,
    queued_bytes: usize,
    /// Bytes appended and not truncated, wrapping (see `written_total`).
    written_total: usize,
    /// Front bytes covered by the send planned last and not yet completed (0: none). The
    /// kernel may be reading them: nothing but `advance` may release them.
    in_flight: usize,
}

impl Outbound {
    /// Bytes queued and not yet acknowledged by a send completion.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.queued_bytes == 0
    }

    /// Bytes ever acknowledged by send completions, wrapping: a consumer that makes no
    /// progress keeps it still.
    pub fn sent_total(&self) -> usize {
        self.written_total.wrapping_sub(self.queued_bytes)
    }

    /// Copies `bytes` to the end of the queue.
    pub fn write(&mut self, pool: &mut ChunkPool, mut bytes: &[u8]) {
        self.written_total = self.written_total.wrapping_add(bytes.len());
        while !bytes.is_empty() {
            let room = match self.chunks.back() {
                Some(chunk) => CHUNK_BYTES - chunk.end,
                None => 0,
            };
            if room == 0 {
                self.chunks.push_back(Chunk {
                    buffer: pool.take(),
                    start: 0,
                    end: 0,
                });
                continue;
            }
            let chunk = self.chunks.back_mut().expect("a chunk was just ensured");
            let count = room.min(bytes.len());
            // SAFETY: `end + count <= CHUNK_BYTES`, so the destination is inside the chunk;
            // bytes at or past `end` are not covered by any in-flight send (see module
            // invariant), and `bytes` is a different allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    chunk.buffer.bytes.as_ptr().add(chunk.end),
                    count,
                )
            };
            chunk.end += count;
            self.queued_bytes += count;
            bytes = &bytes[count..];
        }
    }

    /// Describes the next send (None when nothing is queued), filling `vectors` when it spans
    /// several chunks. The caller submits it: its bytes count as in flight until `advance`.
    pub fn plan_send(&mut self, vectors: &mut SendVectors) -> Option<SendPlan> {
        assert_eq!(self.in_flight, 0, "one send in flight per queue");
        let first = self.chunks.front()?;
        debug_assert!(first.end > first.start);
        if self.chunks.len() == 1 {
            let length = first.end - first.start;
            // SAFETY: `start` < CHUNK_BYTES, inside the chunk allocation.
            let bytes = unsafe { first.buffer.bytes.as_ptr().add(first.start) };
            self.in_flight = length;
            return Some(SendPlan::Single {
                bytes,
                length: length as u32,
            });
        }
        let mut count = 0;
        let mut length = 0;
        for chunk in self.chunks.iter().take(SEND_VECTORS_MAX) {
            if length >= SEND_BYTES_MAX {
                break;
            }
            let chunk_length = chunk.end - chunk.start;
            // SAFETY: `start` < CHUNK_BYTES, inside the chunk allocation.
            let base = unsafe { chunk.buffer.bytes.as_ptr().add(chunk.start) };
            vectors.iovecs[count] = libc::iovec {
                iov_base: base.cast(),
                iov_len: chunk_length,
            };
            count += 1;
            length += chunk_length;
        }
        vectors.message.msg_iov = vectors.iovecs.as_mut_ptr();
        vectors.message.msg_iovlen = count as _;
        self.in_flight = length;
        Some(SendPlan::Vectored {
            message: &vectors.message,
            length,
        })
    }

    /// Bytes appended and not truncated since (wrapping): a TLS or WebSocket connection
    /// remembers this count after each encryption or framing, so that everything written
    /// since is known to be its plaintext tail without `write` having to ask. A tail
    /// replaced by `truncate_tail` is not counted, so two transforms stacked (frames, then
    /// TLS records) each see only what followed their own last pass.
    pub fn written_total(&self) -> usize {
        self.written_total
    }

    /// The last `count` queued bytes, front to back, one slice per chunk.
    pub fn tail_slices(&self, count: usize) -> impl Iterator<Item = &[u8]> {
        assert!(count <= self.queued_bytes, "tail longer than the queue");
        let mut skip = self.queued_bytes - count;
        self.chunks.iter().filter_map(move |chunk| {
            debug_assert!(chunk.start <= chunk.end && chunk.end <= CHUNK_BYTES);
            let length = chunk.end - chunk.start;
            if skip >= length {
                skip -= length;
                return None;
            }
            let start = chunk.start + skip;
            skip = 0;
            // SAFETY: `start..end` lies inside the chunk's CHUNK_BYTES allocation and was
            // initialised by `write`; it is only appended to past `end` or released by
            // `advance`/`truncate_tail`/`clear`, which need `&mut self` and so cannot run
            // while the returned borrow of `self` lives. A send in flight may read the same
            // bytes, which is fine.
            Some(unsafe {
                std::slice::from_raw_parts(
                    chunk.buffer.bytes.as_ptr().add(start),
                    chunk.end - start,
                )
            })
        })
    }

    /// Bytes covered by the send in flight (0 when none is).
    #[cfg(test)]
    pub fn in_flight_bytes(&self) -> usize {
        self.in_flight
    }

    /// Drops the last `count` queued bytes (a TLS connection's plaintext tail, replaced by
    /// its records). Panics if that would cut into the bytes of the send in flight: the
    /// kernel may still be reading them, and a released chunk is reused by the next write.
    /// (Today every send is planned right after encrypting, so the tail never overlaps.)
    pub fn truncate_tail(&mut self, pool: &mut ChunkPool, mut count: usize) {
        assert!(count <= self.queued_bytes, "tail longer than the queue");
        assert!(
            count <= self.queued_bytes - self.in_flight,
            "truncating {count} bytes would cut into the {} bytes of the send in flight",
            self.in_flight
        );
        self.queued_bytes -= count;
        self.written_total = self.written_total.wrapping_sub(count);
        while count > 0 {
            let chunk = self
                .chunks
                .back_mut()
                .expect("bytes remain, so chunks remain");
            let length = chunk.end - chunk.start;
            if count < length {
                chunk.end -= count;
                return;
            }
            count -= length;
            let chunk = self.chunks.pop_back().expect("back exists");
            pool.give(chunk.buffer);
        }
    }

    /// The send in flight completed and the kernel accepted `sent` bytes from the front (0
    /// when it failed): drop them, returning emptied chunks. The rest is no longer in flight.
    pub fn advance(&mut self, pool: &mut ChunkPool, mut sent: usize) {
        assert!(
            sent <= self.in_flight,
            "kernel acknowledged more than the send in flight covered"
        );
        self.in_flight = 0;
        self.queued_bytes -= sent;
        while sent > 0 {
            let chunk = self
                .chunks
                .front_mut()
                .expect("bytes remain, so chunks remain");
            let in_chunk = chunk.end - chunk.start;
            if sent < in_chunk {
                chunk.start += sent;
                return;
            }
            sent -= in_chunk;
            let chunk = self.chunks.pop_front().expect("front exists");
            pool.give(chunk.buffer);
        }
    }

    /// Returns every chunk to the pool (the connection is gone; no send is in flight).
    pub fn clear(&mut self, pool: &mut ChunkPool) {
        assert_eq!(self.in_flight, 0, "clearing a queue with a send in flight");
        for chunk in self.chunks.drain(..) {
            pool.give(chunk.buffer);
        }
        self.queued_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned_bytes(outbound: &mut Outbound, vectors: &mut SendVectors) -> Vec<u8> {
        match outbound.plan_send(vectors).expect("queued") {
            SendPlan::Single { bytes, length } => {
                // SAFETY: the plan points into live chunks of `outbound`.
                unsafe { std::slice::from_raw_parts(bytes, length as usize) }.to_vec()
            }
            SendPlan::Vectored { length, .. } => {
                let mut out = Vec::new();
                for iovec in &vectors.iovecs[..vectors.message.msg_iovlen] {
                    // SAFETY: the iovecs point into live chunks of `outbound`.
                    let part = unsafe {
                        std::slice::from_raw_parts(iovec.iov_base as *const u8, iovec.iov_len)
                    };
                    out.extend_from_slice(part);
                }
                assert_eq!(out.len(), length);
                out
            }
        }
    }

    #[test]
    fn write_plan_advance_keeps_order_and_reuses_chunks() {
        let mut pool = ChunkPool::default();
        let mut outbound = Outbound::default();
        let mut vectors = SendVectors::new();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        outbound.write(&mut pool, &data[..10]);
        assert_eq!(planned_bytes(&mut outbound, &mut vectors), &data[..10]);
        // That send failed: nothing was taken, nothing is in flight any more.
        outbound.advance(&mut pool, 0);
        assert_eq!(outbound.in_flight_bytes(), 0);
        outbound.write(&mut pool, &data[10..]);
        assert_eq!(outbound.queued_bytes(), data.len());
        let mut received = Vec::new();
        while !outbound.is_empty() {
            let planned = planned_bytes(&mut outbound, &mut vectors);
            assert!(planned.len() <= SEND_BYTES_MAX);
            // A partial send: the kernel takes a bit more than half.
            let sent = planned.len() / 2 + 1;
            received.extend_from_slice(&planned[..sent]);
            outbound.advance(&mut pool, sent);
        }
        assert_eq!(received, data);
        assert_eq!(pool.free_chunks(), data.len().div_ceil(CHUNK_BYTES));
        outbound.write(&mut pool, b"again");
        assert_eq!(pool.free_chunks(), data.len().div_ceil(CHUNK_BYTES) - 1);
        outbound.clear(&mut pool);
        assert_eq!(outbound.queued_bytes(), 0);
    }

    #[test]
    fn a_tail_can_be_read_and_replaced() {
        let mut pool = ChunkPool::default();
        let mut outbound = Outbound::default();
        let head: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        let tail: Vec<u8> = (0..40_000u32).map(|i| (i % 241) as u8).collect();
        outbound.write(&mut pool, &head);
        let mut vectors = SendVectors::new();
        assert_eq!(planned_bytes(&mut outbound, &mut vectors), head);
        outbound.advance(&mut pool, 100);
        let mark = outbound.written_total();
        outbound.write(&mut pool, &tail);
        let count = outbound.written_total().wrapping_sub(mark);
        assert_eq!(count, tail.len());
        let read: Vec<u8> = outbound.tail_slices(count).flatten().copied().collect();
        assert_eq!(read, tail);
        outbound.truncate_tail(&mut pool, count);
        assert_eq!(outbound.queued_bytes(), head.len() - 100);
        outbound.write(&mut pool, b"records");
        let mut expected = head[100..].to_vec();
        expected.extend_from_slice(b"records");
        let mut sent = Vec::new();
        while !outbound.is_empty() {
            let planned = planned_bytes(&mut outbound, &mut vectors);
            sent.extend_from_slice(&planned);
            outbound.advance(&mut pool, planned.len());
        }
        assert_eq!(sent, expected);
        // A tail inside one chunk, and the whole queue as the tail.
        outbound.write(&mut pool, b"abcdef");
        assert_eq!(
            outbound.tail_slices(2).collect::<Vec<_>>(),
            vec![&b"ef"[..]]
        );
        outbound.truncate_tail(&mut pool, 2);
        outbound.truncate_tail(&mut pool, 4);
        assert!(outbound.is_empty());
        assert_eq!(outbound.tail_slices(0).count(), 0);
    }

    #[test]
    fn vectored_plan_is_bounded() {
        let mut pool = ChunkPool::default();
        let mut outbound = Outbound::default();
        let mut vectors = SendVectors::new();
        outbound.write(&mut pool, &vec![1u8; 40 * CHUNK_BYTES]);
        match outbound.plan_send(&mut vectors).expect("queued") {
            SendPlan::Vectored { length, .. } => {
                assert_eq!(length, SEND_VECTORS_MAX * CHUNK_BYTES);
                assert!(length <= SEND_BYTES_MAX);
            }
            SendPlan::Single { .. } => panic!("40 chunks need a vectored send"),
        }
    }

    /// A queue with records in flight and a plaintext tail written since (TLS: a send
    /// completes in a later turn than the one that planned it): the tail is replaced, the
    /// in-flight bytes go out untouched, and the completion releases them.
    fn queue_with_a_send_in_flight_and_a_tail() -> (ChunkPool, Outbound, Vec<u8>, Vec<u8>) {
        let mut pool = ChunkPool::default();
        let mut outbound = Outbound::default();
        let mut vectors = SendVectors::new();
        let records: Vec<u8> = (0..(CHUNK_BYTES + 500) as u32)
            .map(|i| (i % 239) as u8)
            .collect();
        outbound.write(&mut pool, &records);
        assert_eq!(planned_bytes(&mut outbound, &mut vectors), records);
        assert_eq!(outbound.in_flight_bytes(), records.len());
        let tail = vec![b'p'; 300];
        outbound.write(&mut pool, &tail);
        (pool, outbound, records, tail)
    }

    #[test]
    fn a_tail_written_during_a_send_is_replaced_without_touching_the_send() {
        let (mut pool, mut outbound, records, tail) = queue_with_a_send_in_flight_and_a_tail();
        outbound.truncate_tail(&mut pool, tail.len());
        assert_eq!(outbound.queued_bytes(), records.len());
        assert_eq!(outbound.in_flight_bytes(), records.len());
        outbound.write(&mut pool, b"encrypted");
        // The bytes the kernel is reading are still the ones it was given.
        let queued: Vec<u8> = outbound
            .tail_slices(outbound.queued_bytes())
            .flatten()
            .copied()
            .collect();
        assert_eq!(&queued[..records.len()], &records[..]);
        assert_eq!(&queued[records.len()..], b"encrypted");
        // A partial completion releases only what was sent; the next plan starts there.
        outbound.advance(&mut pool, 1000);
        assert_eq!(outbound.in_flight_bytes(), 0);
        let mut vectors = SendVectors::new();
        let mut expected = records[1000..].to_vec();
        expected.extend_from_slice(b"encrypted");
        assert_eq!(planned_bytes(&mut outbound, &mut vectors), expected);
    }

    #[test]
    #[should_panic(expected = "would cut into the 16884 bytes of the send in flight")]
    fn truncating_into_the_send_in_flight_panics() {
        let (mut pool, mut outbound, _records, tail) = queue_with_a_send_in_flight_and_a_tail();
        outbound.truncate_tail(&mut pool, tail.len() + 1);
    }

    #[test]
    #[should_panic(expected = "clearing a queue with a send in flight")]
    fn clearing_with_a_send_in_flight_panics() {
        let (mut pool, mut outbound, _records, _tail) = queue_with_a_send_in_flight_and_a_tail();
        outbound.clear(&mut pool);
    }
}
