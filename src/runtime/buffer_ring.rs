//! The core's provided-buffer ring: `entries` receive buffers of `buffer_size` bytes that
//! the kernel picks from when a multishot recv has data. Idle connections hold no buffer.
//!
//! ```text
//!   ring (mmap, 16 B per entry)          data (entries x buffer_size)
//!   [addr,len,bid | tail] [..] [..] ..   [buf 0][buf 1][buf 2] ..
//!          kernel head -> consumes         we publish the tail (Release) once per turn
//! ```
//!
//! Invariant: a buffer handed to us by a completion is returned (written at the tail) in the
//! same loop turn; `available` counts the buffers the kernel may still fill.
//!
//! Only the first `posted` buffers circulate. The ring is FIFO, so every posted buffer is
//! written once per lap: a small circulating set stays in the core's cache, where a lap
//! through 1024 × 16 KiB would make every receive copy land in cold memory. The set starts
//! at [`POSTED_INITIAL`] and doubles (up to `entries`, never shrinking) whenever receives on
//! several connections ran the ring dry in one turn, so bursts over many connections still
//! get the whole pool. The data mapping is not
//! pre-faulted: buffers never posted cost no resident memory.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// The kernel's upper bound on a provided-buffer ring.
pub const ENTRIES_MAX: u16 = 32768;

/// Buffers in circulation at start (capped at `entries`): 64 × 16 KiB is 1 MiB, inside
/// one core's L2 on the machines we measure on.
pub const POSTED_INITIAL: u16 = 64;

pub struct BufferRing {
    /// mmap'd, page-aligned array of `entries` ring entries shared with the kernel.
    ring: NonNull<BufRingEntry>,
    ring_bytes: usize,
    /// `entries * buffer_size` bytes; the kernel writes into buffers it owns, so this is only
    /// ever reached through raw pointers, never as one Rust slice.
    data: NonNull<u8>,
    data_bytes: usize,
    entries: u16,
    /// Buffers `0..posted` circulate; `posted` only grows (see [`BufferRing::grow`]).
    posted: u16,
    buffer_size: u32,
    group: u16,
    /// Our copy of the tail (wrapping, not masked), published with a Release store.
    tail_local: u16,
    /// Buffers written at the tail but not yet published.
    unpublished: u16,
    /// Buffers the kernel may fill (published and not yet reported by a completion).
    available: u16,
}

impl BufferRing {
    /// Allocates and registers a ring of `entries` (a power of two) buffers as group `group`.
    pub fn new(
        submitter: &Submitter<'_>,
        group: u16,
        entries: u16,
        buffer_size: u32,
    ) -> io::Result<BufferRing> {
        assert!(entries.is_power_of_two() && entries <= ENTRIES_MAX);
        assert!(buffer_size > 0);
        let ring_bytes = usize::from(entries) * std::mem::size_of::<BufRingEntry>();
        let ring = map_zeroed(ring_bytes, true)?;
        let data_bytes = usize::from(entries) * buffer_size as usize;
        let data = match map_zeroed(data_bytes, false) {
            Ok(data) => data,
            Err(error) => {
                unmap(ring, ring_bytes);
                return Err(error);
            }
        };
        let mut buffers = BufferRing {
            ring: ring.cast(),
            ring_bytes,
            data,
            data_bytes,
            entries,
            posted: 0,
            buffer_size,
            group,
            tail_local: 0,
            unpublished: 0,
            available: 0,
        };
        buffers.post_up_to(POSTED_INITIAL.min(entries));
        buffers.publish();
        // SAFETY: the ring memory is page aligned, `entries` long, and lives until `Drop`,
        // which runs after `unregister` (or after the ring itself is gone).
        unsafe {
            submitter.register_buf_ring_with_flags(
                buffers.ring.as_ptr() as u64,
                entries,
                group,
                0,
            )?
        };
        Ok(buffers)
    }

    pub fn group(&self) -> u16 {
        self.group
    }

    pub fn entries(&self) -> u16 {
        self.entries
    }

    pub fn available(&self) -> u16 {
        self.available
    }

    /// Buffers in circulation.
    pub fn posted(&self) -> u16 {
        self.posted
    }

    /// Receives found the ring empty: doubles the circulating set, up to `entries`. The new
    /// buffers reach the kernel at the next `publish`.
    pub fn grow(&mut self) {
        let target = self.posted.saturating_mul(2).clamp(1, self.entries);
        self.post_up_to(target);
    }

    fn post_up_to(&mut self, target: u16) {
        while self.posted < target {
            let buffer_id = self.posted;
            self.posted += 1;
            self.recycle(buffer_id);
        }
    }

    /// The `length` bytes the kernel wrote into buffer `buffer_id`. The borrow ends before
    /// [`BufferRing::recycle`] (which takes `&mut self`) can hand the buffer back.
    pub fn filled(&self, buffer_id: u16, length: usize) -> &[u8] {
        assert!(buffer_id < self.entries);
        assert!(length <= self.buffer_size as usize);
        let offset = usize::from(buffer_id) * self.buffer_size as usize;
        debug_assert!(offset + length <= self.data_bytes);
        // SAFETY: the completion that named `buffer_id` transferred that buffer to us; the
        // kernel does not touch it again until we write it back at the tail, which needs
        // `&mut self` and so cannot happen while this slice lives. The range is in bounds
        // (asserted above) and the mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr().add(offset), length) }
    }

    /// A completion consumed one buffer from the kernel's side of the ring.
    pub fn note_consumed(&mut self) {
        debug_assert!(self.available > 0);
        self.available = self.available.saturating_sub(1);
    }

    /// Writes `buffer_id` back at the tail; visible to the kernel at the next `publish`.
    pub fn recycle(&mut self, buffer_id: u16) {
        assert!(buffer_id < self.posted);
        let index = usize::from(self.tail_local & (self.entries - 1));
        let address =
            self.data.as_ptr() as u64 + u64::from(buffer_id) * u64::from(self.buffer_size);
        // SAFETY: `index` < entries, so the entry is inside the ring mapping. The kernel only
        // reads entries between its head and the published tail; this one is at or beyond
        // the published tail, so the kernel is not reading it now.
        let entry = unsafe { &mut *self.ring.as_ptr().add(index) };
        entry.set_addr(address);
        entry.set_len(self.buffer_size);
        entry.set_bid(buffer_id);
        self.tail_local = self.tail_local.wrapping_add(1);
        self.unpublished += 1;
        debug_assert!(self.available + self.unpublished <= self.posted);
    }

    /// Publishes every recycled buffer with one Release store of the tail.
    pub fn publish(&mut self) {
        if self.unpublished == 0 {
            return;
        }
        // SAFETY: the tail lives in entry 0's reserved field, inside the ring mapping, which
        // outlives `self`; the kernel reads it with an acquire load, so it is an atomic u16.
        let tail = unsafe { &*(BufRingEntry::tail(self.ring.as_ptr()) as *const AtomicU16) };
        tail.store(self.tail_local, Ordering::Release);
        self.available += self.unpublished;
        self.unpublished = 0;
    }

    /// Withdraws the ring from the kernel; call once no recv is in flight.
    pub fn unregister(&self, submitter: &Submitter<'_>) -> io::Result<()> {
        submitter.unregister_buf_ring(self.group)
    }
}

impl Drop for BufferRing {
    fn drop(&mut self) {
        unmap(self.ring.cast(), self.ring_bytes);
        unmap(self.data, self.data_bytes);
    }
}

/// Anonymous, zeroed, page-aligned memory (the ring needs page alignment); `populate`
/// faults it in now rather than on first touch.
fn map_zeroed(bytes: usize, populate: bool) -> io::Result<NonNull<u8>> {
    let populate = if populate { libc::MAP_POPULATE } else { 0 };
    // SAFETY: an anonymous private mapping with no address hint touches no existing memory.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | populate,
            -1,
            0,
        )
    };
    if address == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(address.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
}

fn unmap(address: NonNull<u8>, bytes: usize) {
    // SAFETY: `address`/`bytes` came from `map_zeroed` and are unmapped exactly once (Drop or
    // the error path of `new`).
    let result = unsafe { libc::munmap(address.as_ptr().cast(), bytes) };
    debug_assert_eq!(result, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circulating_set_starts_small_and_doubles_up_to_the_pool() {
        let ring = io_uring::IoUring::new(8).expect("io_uring");
        let submitter = ring.submitter();
        let mut buffers = BufferRing::new(&submitter, 0, 256, 1024).expect("buffer ring");
        assert_eq!(
            (buffers.posted(), buffers.available()),
            (POSTED_INITIAL, 64)
        );
        let mut seen = Vec::new();
        for _ in 0..4 {
            buffers.grow();
            buffers.publish();
            seen.push((buffers.posted(), buffers.available()));
        }
        assert_eq!(seen, [(128, 128), (256, 256), (256, 256), (256, 256)]);
        buffers.unregister(&submitter).expect("unregister");
    }

    #[test]
    fn a_pool_smaller_than_the_initial_set_circulates_whole() {
        let ring = io_uring::IoUring::new(8).expect("io_uring");
        let submitter = ring.submitter();
        let mut buffers = BufferRing::new(&submitter, 0, 4, 1024).expect("buffer ring");
        assert_eq!((buffers.posted(), buffers.available()), (4, 4));
        buffers.grow();
        buffers.publish();
        assert_eq!((buffers.posted(), buffers.available()), (4, 4));
        buffers.unregister(&submitter).expect("unregister");
    }
}
