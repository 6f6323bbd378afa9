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
//!
//! Registration: memory the kernel may read or write is never unmapped. [`BufferRing::drop`]
//! unmaps only a ring that was never registered or whose [`BufferRing::unregister`]
//! succeeded; otherwise it leaks the mappings (and says so). The owner of a registered ring
//! (`ring::Ring`) unregisters it when it is dropped, before the io_uring itself goes away,
//! on every path: normal exit, unwinding, a failed start.

use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::Submitter;

/// The kernel's upper bound on a provided-buffer ring.
pub const ENTRIES_MAX: u16 = 32768;

/// Buffers in circulation at start (capped at `entries`): 64 × 16 KiB is 1 MiB, inside
/// one core's L2 on the machines we measure on.
pub const POSTED_INITIAL: u16 = 64;

/// One ring entry as the kernel lays it out (`struct io_uring_buf`). Entry 0's last two
/// bytes are not its own: they are the ring's tail, which the kernel reads concurrently. So
/// entries are only ever written field by field through raw pointers, never through a
/// reference, and the tail only through an `AtomicU16`.
#[repr(C)]
struct Entry {
    addr: u64,
    len: u32,
    bid: u16,
    /// Entry 0: the ring's tail. Others: reserved, never written.
    tail_or_reserved: u16,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 16);
const _: () = assert!(std::mem::offset_of!(Entry, tail_or_reserved) == 14);

pub struct BufferRing {
    /// mmap'd, page-aligned array of `entries` ring entries shared with the kernel.
    ring: NonNull<Entry>,
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
    /// Registered with a ring and not (successfully) unregistered: the kernel may read the
    /// ring and write the buffers, so neither mapping may be unmapped.
    registered: bool,
    /// A recv may have picked a buffer before the ring was unregistered and still write
    /// into it (the loop unwound with recvs in flight): the data mapping is leaked.
    data_maybe_in_use: bool,
}

/// What dropping a [`BufferRing`] did with its memory (recorded for tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposal {
    /// Never registered, or unregistered first: both mappings unmapped.
    Unmapped,
    /// Unregistered, but recvs may still write into buffers they picked: the ring was
    /// unmapped, the buffers leaked.
    DataLeaked,
    /// Still registered (unregister failed or was never called): both leaked.
    Leaked,
}

/// Every disposal so far, with the name of the thread that dropped the ring.
#[cfg(test)]
pub static DISPOSALS: std::sync::Mutex<Vec<(String, Disposal)>> = std::sync::Mutex::new(Vec::new());

impl BufferRing {
    /// Allocates a ring of `entries` (a power of two) buffers for group `group`, with the
    /// first buffers posted; the kernel sees it once [`BufferRing::register`]ed.
    pub fn new(group: u16, entries: u16, buffer_size: u32) -> io::Result<BufferRing> {
        assert!(entries.is_power_of_two() && entries <= ENTRIES_MAX);
        assert!(buffer_size > 0);
        let ring_bytes = usize::from(entries) * std::mem::size_of::<Entry>();
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
            registered: false,
            data_maybe_in_use: false,
        };
        buffers.post_up_to(POSTED_INITIAL.min(entries));
        buffers.publish();
        Ok(buffers)
    }

    /// Hands the ring to the kernel as buffer group `group` of `submitter`'s io_uring.
    pub fn register(&mut self, submitter: &Submitter<'_>) -> io::Result<()> {
        assert!(!self.registered, "buffer ring registered twice");
        // SAFETY: the ring memory is page aligned and `entries` long. Neither it nor the
        // buffers its entries point to are unmapped while registered: `Drop` leaks both
        // unless `unregister` succeeded, and leaks the buffers when recvs may still hold one.
        unsafe {
            submitter.register_buf_ring_with_flags(
                self.ring.as_ptr() as u64,
                self.entries,
                self.group,
                0,
            )?
        };
        self.registered = true;
        Ok(())
    }

    /// Withdraws the ring from the kernel (a no-op when it is not registered). On error it
    /// stays registered and its memory will be leaked, not unmapped.
    pub fn unregister(&mut self, submitter: &Submitter<'_>) -> io::Result<()> {
        if self.registered {
            submitter.unregister_buf_ring(self.group)?;
            self.registered = false;
        }
        Ok(())
    }

    /// Recvs may still be in flight (the loop is unwinding): a recv that picked a buffer
    /// before the ring was unregistered may still write into it, so the buffers are leaked.
    pub fn keep_data_mapped(&mut self) {
        self.data_maybe_in_use = true;
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

    /// The `length` bytes the kernel wrote into buffer `buffer_id`, writable (a WebSocket
    /// payload is unmasked in place). The borrow ends before [`BufferRing::recycle`] (which
    /// takes `&mut self`) can hand the buffer back.
    pub fn filled_mut(&mut self, buffer_id: u16, length: usize) -> &mut [u8] {
        assert!(buffer_id < self.entries);
        assert!(length <= self.buffer_size as usize);
        let offset = usize::from(buffer_id) * self.buffer_size as usize;
        debug_assert!(offset + length <= self.data_bytes);
        // SAFETY: the completion that named `buffer_id` transferred that buffer to us; the
        // kernel does not touch it again until we write it back at the tail (`recycle`),
        // which needs `&mut self` and so cannot happen while this exclusive borrow lives, and
        // no other slice of the mapping exists meanwhile. The range is in bounds (asserted
        // above) and the mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr().add(offset), length) }
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
        // SAFETY: `index` < entries, so the entry is inside the ring mapping, which lives as
        // long as `self`. The kernel only reads the entries between its head and the
        // published tail; this one is at or beyond the published tail, so the kernel is not
        // reading its `addr`, `len` or `bid` now. Those three fields are written through raw
        // pointers, never through a reference to the entry: entry 0's last two bytes are the
        // tail, which the kernel reads concurrently and which we only touch atomically.
        unsafe {
            let entry = self.ring.as_ptr().add(index);
            ptr::addr_of_mut!((*entry).addr).write(address);
            ptr::addr_of_mut!((*entry).len).write(self.buffer_size);
            ptr::addr_of_mut!((*entry).bid).write(buffer_id);
        }
        self.tail_local = self.tail_local.wrapping_add(1);
        self.unpublished += 1;
        debug_assert!(self.available + self.unpublished <= self.posted);
    }

    /// Publishes every recycled buffer with one Release store of the tail.
    pub fn publish(&mut self) {
        if self.unpublished == 0 {
            return;
        }
        self.tail().store(self.tail_local, Ordering::Release);
        self.available += self.unpublished;
        self.unpublished = 0;
    }

    /// The ring's tail: entry 0's last two bytes, shared with the kernel, which reads it
    /// with an acquire load.
    fn tail(&self) -> &AtomicU16 {
        // SAFETY: entry 0 is inside the ring mapping, which outlives the returned borrow of
        // `self`; the field is 2-aligned (offset 14 of a page-aligned mapping), so it may be
        // viewed as an AtomicU16, and no reference of another type to it is ever formed.
        unsafe { AtomicU16::from_ptr(ptr::addr_of_mut!((*self.ring.as_ptr()).tail_or_reserved)) }
    }
}

impl Drop for BufferRing {
    fn drop(&mut self) {
        let disposal = if self.registered {
            crate::error!(
                "runtime: buffer group {} is still registered; leaking its {} bytes",
                self.group,
                self.ring_bytes + self.data_bytes
            );
            Disposal::Leaked
        } else {
            unmap(self.ring.cast(), self.ring_bytes);
            if self.data_maybe_in_use {
                Disposal::DataLeaked
            } else {
                unmap(self.data, self.data_bytes);
                Disposal::Unmapped
            }
        };
        note_disposal(disposal);
    }
}

#[cfg(test)]
fn note_disposal(disposal: Disposal) {
    let thread = std::thread::current().name().unwrap_or("").to_string();
    let mut disposals = DISPOSALS.lock().unwrap_or_else(|e| e.into_inner());
    disposals.push((thread, disposal));
}

#[cfg(not(test))]
fn note_disposal(_: Disposal) {}

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
pub(super) mod tests {
    use super::*;

    /// Disposals recorded by this test's own thread.
    pub(crate) fn disposals_on_this_thread() -> Vec<Disposal> {
        let me = std::thread::current().name().unwrap_or("").to_string();
        let disposals = DISPOSALS.lock().unwrap_or_else(|e| e.into_inner());
        disposals
            .iter()
            .filter(|(thread, _)| *thread == me)
            .map(|&(_, disposal)| disposal)
            .collect()
    }

    /// The ring's bytes, as the kernel would read them.
    fn ring_bytes(buffers: &BufferRing) -> Vec<u8> {
        // SAFETY: the ring is not registered, so nothing else reads or writes it; the range
        // is the whole mapping, which lives as long as `buffers`.
        unsafe {
            std::slice::from_raw_parts(buffers.ring.as_ptr().cast::<u8>(), buffers.ring_bytes)
        }
        .to_vec()
    }

    fn entry_bytes(addr: u64, len: u32, bid: u16, last_two: u16) -> Vec<u8> {
        let mut bytes = addr.to_le_bytes().to_vec();
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&bid.to_le_bytes());
        bytes.extend_from_slice(&last_two.to_le_bytes());
        bytes
    }

    #[test]
    fn circulating_set_starts_small_and_doubles_up_to_the_pool() {
        let mut buffers = BufferRing::new(0, 256, 1024).expect("buffer ring");
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
    }

    #[test]
    fn a_pool_smaller_than_the_initial_set_circulates_whole() {
        let mut buffers = BufferRing::new(0, 4, 1024).expect("buffer ring");
        assert_eq!((buffers.posted(), buffers.available()), (4, 4));
        buffers.grow();
        buffers.publish();
        assert_eq!((buffers.posted(), buffers.available()), (4, 4));
    }

    #[test]
    fn recycling_into_entry_zero_writes_its_fields_and_leaves_the_tail_alone() {
        let mut buffers = BufferRing::new(0, 4, 1024).expect("buffer ring");
        let data = buffers.data.as_ptr() as u64;
        let mut expected = Vec::new();
        for bid in 0..4u16 {
            let tail = if bid == 0 { 4 } else { 0 };
            expected.extend(entry_bytes(data + u64::from(bid) * 1024, 1024, bid, tail));
        }
        assert_eq!(ring_bytes(&buffers), expected);
        // Buffer 2 comes back: it lands in entry 0 (tail 4 & 3); the tail is not published.
        buffers.note_consumed();
        buffers.recycle(2);
        expected[..16].copy_from_slice(&entry_bytes(data + 2 * 1024, 1024, 2, 4));
        assert_eq!(ring_bytes(&buffers), expected);
        buffers.publish();
        expected[14..16].copy_from_slice(&5u16.to_le_bytes());
        assert_eq!(ring_bytes(&buffers), expected);
        assert_eq!(buffers.available(), 4);
    }

    #[test]
    fn a_ring_that_cannot_be_unregistered_is_leaked_not_unmapped() {
        let owner = io_uring::IoUring::new(8).expect("io_uring");
        let other = io_uring::IoUring::new(8).expect("io_uring");
        let mut buffers = BufferRing::new(0, 8, 1024).expect("buffer ring");
        buffers.register(&owner.submitter()).expect("register");
        assert!(buffers.unregister(&other.submitter()).is_err());
        drop(buffers);
        assert_eq!(disposals_on_this_thread(), [Disposal::Leaked]);
        // The kernel still has it, over memory that is still mapped.
        owner
            .submitter()
            .unregister_buf_ring(0)
            .expect("still registered");
    }

    #[test]
    fn an_unregistered_ring_is_unmapped_and_one_with_recvs_in_flight_keeps_its_buffers() {
        let owner = io_uring::IoUring::new(8).expect("io_uring");
        let mut buffers = BufferRing::new(0, 8, 1024).expect("buffer ring");
        buffers.register(&owner.submitter()).expect("register");
        buffers.unregister(&owner.submitter()).expect("unregister");
        drop(buffers);
        let mut buffers = BufferRing::new(0, 8, 1024).expect("buffer ring");
        buffers.register(&owner.submitter()).expect("register");
        buffers.keep_data_mapped();
        buffers.unregister(&owner.submitter()).expect("unregister");
        drop(buffers);
        drop(BufferRing::new(0, 8, 1024).expect("buffer ring"));
        assert_eq!(
            disposals_on_this_thread(),
            [Disposal::Unmapped, Disposal::DataLeaked, Disposal::Unmapped]
        );
    }
}
