//! A core's ring fd as other threads see it, for MSG_RING wake-ups (peer cores, and
//! `CoreWaker` / `RuntimeHandle` from any thread), and the ring that withdraws it on exit.
//!
//! Problem: a waker reads the fd number, then submits a MSG_RING naming it. If the core
//! closed its ring in between, the number may already belong to another file (another
//! runtime's ring, a socket), and the wake-up lands there. So a waker *leases* the fd for the
//! span from reading it to the end of the submit that carries its MSG_RING (the kernel holds
//! its own reference to the target file from then on), and a core that exits first clears
//! the fd, then waits for the leases taken before, and only then closes its ring.
//!
//! Ordering: `acquire` increments `users` then loads `fd`; `clear` stores -1 to `fd` then
//! loads `users`; all SeqCst. In the single total order either the increment comes first,
//! and `clear` sees the lease and waits for it, or the store comes first, and `acquire` sees
//! -1 and takes no lease. A waker therefore sees the live fd or none, never a closed one.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::IoUring;

use super::core_state::Shared;

/// How long an exiting core waits for wakers that leased its ring fd (each holds it for one
/// submit; a peer core until its submit returns, which may be the one it parks in). Past it, the ring is leaked (its fd
/// stays open, so the number cannot be reused) rather than closed.
pub const LEASE_WAIT_MAX: Duration = Duration::from_secs(10);

/// One core's ring fd: -1 before the ring exists and after it began to close.
pub struct RingFdSlot {
    fd: AtomicI32,
    /// Wakers between reading `fd` and the end of the submit carrying their MSG_RING.
    users: AtomicUsize,
}

impl Default for RingFdSlot {
    fn default() -> Self {
        RingFdSlot {
            fd: AtomicI32::new(-1),
            users: AtomicUsize::new(0),
        }
    }
}

impl RingFdSlot {
    fn publish(&self, fd: i32) {
        self.fd.store(fd, Ordering::SeqCst);
    }

    /// The core's ring fd, held open until [`RingFdSlot::release`]; None once the core has
    /// begun to close its ring (or before it has one). Call `release` once the submit that
    /// carries the MSG_RING has returned, or once it is certain it never will be submitted.
    pub fn acquire(&self) -> Option<i32> {
        self.users.fetch_add(1, Ordering::SeqCst);
        let fd = self.fd.load(Ordering::SeqCst);
        if fd < 0 {
            self.release();
            return None;
        }
        Some(fd)
    }

    pub fn release(&self) {
        let before = self.users.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(before > 0, "released a ring fd that was not acquired");
    }

    /// Withdraws the fd and waits, up to `wait_max`, until no waker holds it. Returns
    /// whether the ring may now be closed.
    fn clear(&self, wait_max: Duration) -> bool {
        self.fd.store(-1, Ordering::SeqCst);
        let deadline = Instant::now() + wait_max;
        while self.users.load(Ordering::SeqCst) != 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
}

/// A core's io_uring, its fd published in `Shared::ring_fds` while it lives. Dropping it
/// withdraws the fd and waits for its leases before closing the ring.
pub struct PublishedRing {
    /// None only inside `drop`.
    ring: Option<IoUring>,
    shared: Arc<Shared>,
    core: usize,
}

impl PublishedRing {
    pub fn new(ring: IoUring, shared: Arc<Shared>, core: usize) -> PublishedRing {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&ring);
        shared.ring_fds[core].publish(fd);
        PublishedRing {
            ring: Some(ring),
            shared,
            core,
        }
    }

    pub fn ring_mut(&mut self) -> &mut IoUring {
        self.ring.as_mut().expect("the ring lives until drop")
    }
}

impl Drop for PublishedRing {
    fn drop(&mut self) {
        if !self.shared.ring_fds[self.core].clear(LEASE_WAIT_MAX) {
            crate::error!(
                "runtime: core {}: a waker still holds the ring fd after {:?}; leaking the ring",
                self.core,
                LEASE_WAIT_MAX
            );
            std::mem::forget(self.ring.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (bounded) until `condition` holds.
    fn wait_until(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn clearing_waits_for_a_waker_holding_the_fd_and_later_wakers_get_none() {
        let slot = Arc::new(RingFdSlot::default());
        assert_eq!(slot.acquire(), None, "no ring yet");
        slot.publish(7);
        assert_eq!(slot.acquire(), Some(7));
        let clearer = {
            let slot = slot.clone();
            std::thread::spawn(move || slot.clear(Duration::from_secs(60)))
        };
        wait_until("the fd is withdrawn", || {
            slot.fd.load(Ordering::SeqCst) == -1
        });
        assert_eq!(slot.acquire(), None, "a waker after the clear sees no fd");
        assert!(!clearer.is_finished(), "the clear waits for the lease");
        slot.release();
        assert!(clearer.join().expect("clearer"), "cleared once released");
        assert_eq!(slot.users.load(Ordering::SeqCst), 0);
        assert_eq!(slot.acquire(), None);
    }

    #[test]
    fn a_lease_never_released_makes_the_clear_give_up() {
        let slot = RingFdSlot::default();
        slot.publish(7);
        assert_eq!(slot.acquire(), Some(7));
        assert!(!slot.clear(Duration::ZERO));
        slot.release();
        assert!(slot.clear(Duration::ZERO));
    }

    #[test]
    fn dropping_a_published_ring_clears_its_fd() {
        let shared = Arc::new(Shared::new(2));
        let ring = IoUring::new(8).expect("io_uring");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&ring);
        let published = PublishedRing::new(ring, shared.clone(), 1);
        assert_eq!(shared.ring_fds[1].acquire(), Some(fd));
        shared.ring_fds[1].release();
        assert_eq!(shared.ring_fds[0].acquire(), None);
        drop(published);
        assert_eq!(shared.ring_fds[1].acquire(), None);
    }
}
