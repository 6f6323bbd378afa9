//! One core's io_uring: setup flags, operation tokens (`user_data`) and a submission wrapper
//! that never loses an entry (a full SQ is submitted and retried). Knows nothing about
//! connections; the event loop decides what to push. It owns the core's provided-buffer
//! ring, so that the buffers are unregistered before the io_uring can go away.

use std::io;
use std::time::Duration;

use io_uring::{
    cqueue, opcode, squeue, types, CompletionQueue, IoUring, SubmissionQueue, Submitter,
};

use super::buffer_ring::BufferRing;

/// Submission queue size: one turn rarely queues more; a full SQ is submitted and retried.
pub const SUBMISSION_QUEUE_ENTRIES: u32 = 2048;
/// Completion queue size: multishot operations make CQ volume independent of the SQ, so it
/// is 8x larger; an overflow is kept by the kernel (FEAT_NODROP) and only slows us down.
pub const COMPLETION_QUEUE_ENTRIES: u32 = 16384;
/// Completions copied out per reap, so dispatch never holds a borrow of the CQ.
pub const COMPLETION_BATCH_MAX: usize = 256;

/// Builds a ring with the flags of DESIGN.md §2. Must run on the thread that will use it
/// (SINGLE_ISSUER).
pub fn build_ring() -> io::Result<IoUring> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .setup_submit_all()
        .setup_cqsize(COMPLETION_QUEUE_ENTRIES)
        .build(SUBMISSION_QUEUE_ENTRIES)
}

/// What an operation was, so its completion can be dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpKind {
    Accept = 1,
    /// Cancels the multishot accept (shutdown, EMFILE back-off).
    AcceptCancel = 2,
    Recv = 3,
    /// Cancels one connection's multishot recv (pause, mailbox backpressure).
    RecvCancel = 4,
    Send = 5,
    /// Cancels every operation on a closing connection's fd.
    CloseCancel = 6,
    /// A MSG_RING wake-up from another core (or from `RuntimeHandle::shutdown`).
    Wake = 7,
    /// Our own MSG_RING to a peer; only failures produce a CQE (SKIP_SUCCESS).
    WakeSent = 8,
    /// A dialled connection's connect.
    Connect = 9,
    /// A file operation (`file_io.rs`); the slot names it in the core's file slab.
    File = 10,
}

impl OpKind {
    fn from_u8(value: u8) -> Option<OpKind> {
        Some(match value {
            1 => OpKind::Accept,
            2 => OpKind::AcceptCancel,
            3 => OpKind::Recv,
            4 => OpKind::RecvCancel,
            5 => OpKind::Send,
            6 => OpKind::CloseCancel,
            7 => OpKind::Wake,
            8 => OpKind::WakeSent,
            9 => OpKind::Connect,
            10 => OpKind::File,
            _ => return None,
        })
    }
}

/// `user_data` of an operation: kind (8 bits) | generation (24 bits) | slot (32 bits).
/// The generation lets a completion for a recycled slot be recognised and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: OpKind,
    pub slot: u32,
    /// Only the low [`Token::GENERATION_BITS`] bits survive encoding.
    pub generation: u32,
}

impl Token {
    pub const GENERATION_BITS: u32 = 24;
    const GENERATION_MASK: u32 = (1 << Self::GENERATION_BITS) - 1;

    pub fn new(kind: OpKind, slot: u32, generation: u32) -> Token {
        Token {
            kind,
            slot,
            generation: generation & Self::GENERATION_MASK,
        }
    }

    pub fn encode(self) -> u64 {
        (u64::from(self.kind as u8) << 56)
            | (u64::from(self.generation & Self::GENERATION_MASK) << 32)
            | u64::from(self.slot)
    }

    pub fn decode(user_data: u64) -> Option<Token> {
        let kind = OpKind::from_u8((user_data >> 56) as u8)?;
        let generation = ((user_data >> 32) as u32) & Self::GENERATION_MASK;
        Some(Token {
            kind,
            slot: user_data as u32,
            generation,
        })
    }

    /// Whether this token belongs to the connection generation `generation`.
    pub fn is_generation(self, generation: u32) -> bool {
        self.generation == generation & Self::GENERATION_MASK
    }
}

/// The three parts of a ring, split once so the registered ring fd (remembered by the
/// `Submitter`) is used by every enter, and the provided-buffer ring registered with it.
pub struct Ring<'ring> {
    submitter: Submitter<'ring>,
    submission: SubmissionQueue<'ring>,
    completion: CompletionQueue<'ring>,
    /// Completions taken out of the CQ while the SQ was full (EBUSY); dispatched first.
    backlog: Vec<cqueue::Entry>,
    /// Registered here and only here; `Drop` unregisters it before it is dropped, and the
    /// borrow of the io_uring makes that happen before the io_uring closes.
    buffers: BufferRing,
}

impl<'ring> Ring<'ring> {
    /// Splits `ring` and registers `buffers` with it (they are dropped, unregistered and
    /// unmapped, if that fails).
    pub fn new(ring: &'ring mut IoUring, mut buffers: BufferRing) -> io::Result<Ring<'ring>> {
        let (mut submitter, submission, completion) = ring.split();
        submitter.register_ring_fd()?;
        buffers.register(&submitter)?;
        Ok(Ring {
            submitter,
            submission,
            completion,
            backlog: Vec::new(),
            buffers,
        })
    }

    pub fn buffers(&self) -> &BufferRing {
        &self.buffers
    }

    pub fn buffers_mut(&mut self) -> &mut BufferRing {
        &mut self.buffers
    }

    /// Queues one entry; when the SQ is full, submits what is queued and retries.
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` (buffers, iovecs, msghdr) must stay valid until the
    /// operation's final completion has been reaped.
    pub unsafe fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: forwarded from this function's contract.
            if unsafe { self.submission.push(entry) }.is_ok() {
                return;
            }
            self.submit();
        }
    }

    /// Queues `entries` together, so that a linked chain never straddles two submissions
    /// (which would break the link); submits first if the SQ lacks room for all of them.
    ///
    /// # Safety
    ///
    /// As [`Ring::push`], for every entry.
    pub unsafe fn push_linked(&mut self, entries: &[squeue::Entry]) {
        if self.submission.capacity() - self.submission.len() < entries.len() {
            self.submit();
        }
        // SAFETY: forwarded from this function's contract; the SQ has room for all.
        if unsafe { self.submission.push_multiple(entries) }.is_err() {
            unreachable!("the SQ was emptied for {} entries", entries.len());
        }
    }

    /// Hands every queued entry to the kernel without waiting.
    pub fn submit(&mut self) {
        self.submission.sync();
        loop {
            match self.submitter.submit() {
                Ok(_) => break,
                Err(error) => self.on_enter_error(error),
            }
        }
        self.submission.sync();
    }

    /// Submits and waits for at least one completion or until `timeout` passes.
    pub fn submit_and_wait(&mut self, timeout: Option<Duration>) {
        self.submission.sync();
        let result = match timeout {
            None => self.submitter.submit_and_wait(1),
            Some(timeout) => {
                let timespec = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&timespec);
                self.submitter.submit_with_args(1, &args)
            }
        };
        if let Err(error) = result {
            if error.raw_os_error() != Some(libc::ETIME) {
                self.on_enter_error(error);
            }
        }
        self.submission.sync();
    }

    /// EINTR is retried; EBUSY / EAGAIN mean the CQ is overcommitted: move completions out so
    /// the kernel can post more. Anything else is a broken ring.
    fn on_enter_error(&mut self, error: io::Error) {
        match error.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                self.completion.sync();
                self.backlog.extend(&mut self.completion);
            }
            _ => panic!("io_uring_enter failed: {error}"),
        }
    }

    /// Copies up to [`COMPLETION_BATCH_MAX`] completions into `out` (cleared first).
    pub fn reap(&mut self, out: &mut Vec<cqueue::Entry>) {
        out.clear();
        let from_backlog = self.backlog.len().min(COMPLETION_BATCH_MAX);
        out.extend(self.backlog.drain(..from_backlog));
        self.completion.sync();
        while out.len() < COMPLETION_BATCH_MAX {
            match self.completion.next() {
                Some(entry) => out.push(entry),
                None => break,
            }
        }
        self.completion.sync();
    }

    /// Whether completions are ready to reap without entering the kernel.
    pub fn has_completions(&mut self) -> bool {
        self.completion.sync();
        !self.backlog.is_empty() || !self.completion.is_empty()
    }
}

impl Drop for Ring<'_> {
    /// Unregisters the buffers, on every path (normal exit, unwinding, a failed start). If
    /// the kernel refuses, the buffer ring leaks its memory rather than unmap it.
    fn drop(&mut self) {
        if let Err(error) = self.buffers.unregister(&self.submitter) {
            crate::error!("runtime: unregistering the buffer ring failed: {error}");
        }
    }
}

/// A multishot accept of plain fds (they are handed to other cores); the token's slot names
/// the listener.
pub fn accept_entry(listener_fd: i32, listener_index: u32) -> squeue::Entry {
    opcode::AcceptMulti::new(types::Fd(listener_fd))
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(Token::new(OpKind::Accept, listener_index, 0).encode())
}

/// Cancels every operation whose user_data is `target` (kind is the cancel's own token).
pub fn cancel_user_data_entry(target: u64, token: Token) -> squeue::Entry {
    opcode::AsyncCancel2::new(types::CancelBuilder::user_data(target).all())
        .build()
        .user_data(token.encode())
}

/// Cancels every operation on `fd` (closing a connection).
pub fn cancel_fd_entry(fd: i32, token: Token) -> squeue::Entry {
    opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
        .build()
        .user_data(token.encode())
}

/// A multishot recv into the core's provided-buffer group.
pub fn recv_entry(fd: i32, buffer_group: u16, token: Token) -> squeue::Entry {
    opcode::RecvMulti::new(types::Fd(fd), buffer_group)
        .build()
        .user_data(token.encode())
}

/// One contiguous send; MSG_NOSIGNAL so a vanished peer is an error, not a signal.
pub fn send_entry(fd: i32, bytes: *const u8, length: u32, token: Token) -> squeue::Entry {
    opcode::Send::new(types::Fd(fd), bytes, length)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(token.encode())
}

/// A vectored send over `message`'s iovecs.
pub fn send_message_entry(fd: i32, message: *const libc::msghdr, token: Token) -> squeue::Entry {
    opcode::SendMsg::new(types::Fd(fd), message)
        .flags(libc::MSG_NOSIGNAL as u32)
        .build()
        .user_data(token.encode())
}

/// Connects `fd` to the address at `address` (`length` bytes).
pub fn connect_entry(
    fd: i32,
    address: *const libc::sockaddr,
    length: libc::socklen_t,
    token: Token,
) -> squeue::Entry {
    opcode::Connect::new(types::Fd(fd), address, length)
        .build()
        .user_data(token.encode())
}

/// Wakes the ring `ring_fd` (its loop sees a `Wake` completion).
pub fn wake_entry(ring_fd: i32) -> squeue::Entry {
    opcode::MsgRingData::new(
        types::Fd(ring_fd),
        0,
        Token::new(OpKind::Wake, 0, 0).encode(),
        None,
    )
    .build()
    .flags(squeue::Flags::SKIP_SUCCESS)
    .user_data(Token::new(OpKind::WakeSent, 0, 0).encode())
}

/// Whether a multishot operation stays armed after this completion.
pub fn more(flags: u32) -> bool {
    cqueue::more(flags)
}

/// The provided buffer a recv completion filled, if any.
pub fn buffer_id(flags: u32) -> Option<u16> {
    cqueue::buffer_select(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_keeps_kind_slot_and_low_generation_bits() {
        let token = Token::new(OpKind::Send, 0xdead_beef, 0x0123_4567);
        let decoded = Token::decode(token.encode()).expect("valid kind");
        assert_eq!(decoded, token);
        assert_eq!(decoded.slot, 0xdead_beef);
        assert!(decoded.is_generation(0x0123_4567));
        assert!(
            decoded.is_generation(0x5523_4567),
            "only 24 bits are compared"
        );
        assert!(!decoded.is_generation(0x0123_4568));
        assert_eq!(Token::decode(0), None);
    }

    /// The buffers a core registered are unregistered when its `Ring` goes, also when a
    /// panic unwinds it (a handler factory failing after the ring is built), and only then
    /// unmapped; the io_uring itself is still open at that point.
    #[test]
    fn dropping_the_ring_unregisters_its_buffers_before_unmapping_them() {
        use crate::runtime::buffer_ring::{tests::disposals_on_this_thread, Disposal};
        let mut io_ring = build_ring().expect("io_uring");
        let ring =
            Ring::new(&mut io_ring, BufferRing::new(0, 8, 1024).expect("buffers")).expect("ring");
        assert_eq!(ring.buffers().group(), 0);
        drop(ring);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ring = Ring::new(&mut io_ring, BufferRing::new(0, 8, 1024).expect("buffers"))
                .expect("group 0 is free again");
            panic!("make_handler failed");
        }));
        assert!(unwound.is_err());
        assert_eq!(
            disposals_on_this_thread(),
            [Disposal::Unmapped, Disposal::Unmapped]
        );
        let error = io_ring
            .submitter()
            .unregister_buf_ring(0)
            .expect_err("nothing is registered any more");
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
    }
}
