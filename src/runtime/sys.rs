//! Small process-level facilities that need `unsafe` (syscalls std does not wrap, a
//! counting allocator), kept here so that the rest of the workspace stays safe code:
//! the load generator and the tests use them through this safe API.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Raises the soft RLIMIT_NOFILE to `wanted`, or to the hard limit if that is lower (and
/// never lowers it); returns the soft limit now in force.
pub fn raise_open_files_limit(wanted: u64) -> io::Result<u64> {
    let (soft, hard) = open_files_limits()?;
    let target = wanted.min(hard);
    if target <= soft {
        return Ok(soft);
    }
    set_open_files_limit(target)?;
    Ok(target)
}

/// Lowers the calling thread's scheduling priority to `nice` (Linux nice values are per
/// thread), so that its work yields to the message cores when CPUs are short.
pub fn lower_thread_priority(nice: i32) -> io::Result<()> {
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    // SAFETY: setpriority takes plain integers; `tid` is this thread (PRIO_PROCESS with a
    // thread id addresses that thread on Linux).
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the soft RLIMIT_NOFILE (e.g. lowered to test descriptor exhaustion); returns the
/// previous soft limit.
pub fn set_open_files_limit(soft: u64) -> io::Result<u64> {
    let (previous, hard) = open_files_limits()?;
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is an initialised rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(previous)
}

/// The soft and hard RLIMIT_NOFILE.
pub fn open_files_limits() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Sets the accept backlog of a listening socket (std's `bind` uses 128, which a burst of
/// thousands of connects overflows into SYN retransmits a second apart). The kernel caps it
/// at `net.core.somaxconn`.
pub fn set_listen_backlog(listener: &std::net::TcpListener, backlog: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    // SAFETY: the fd belongs to `listener`, which is alive and already listening; calling
    // listen(2) again only updates the backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends SIGTERM to process `pid` (tests stop a server child as an operator would).
pub fn terminate(pid: u32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// User plus system CPU time of this process (all threads, including exited ones), at
/// microsecond resolution (/proc's ticks are 10 ms).
pub fn process_cpu_time() -> io::Result<Duration> {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Ok(Duration::from_micros(
        micros(usage.ru_utime) + micros(usage.ru_stime),
    ))
}

/// The machine's physical memory in bytes (JetStream's default memory limit is a share of it).
pub fn physical_memory() -> io::Result<u64> {
    // SAFETY: sysconf reads a system constant and has no memory effects.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if pages <= 0 || page_size <= 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pages as u64 * page_size as u64)
}

/// Bytes an unprivileged user may still write on the file system holding `path` (statfs
/// `f_bavail` blocks, as nats-server reads it).
pub fn disk_available(path: &std::path::Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and `stats` writable for the duration of the call.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
}

/// Closes a descriptor the ring no longer uses (JetStream's files at shutdown).
pub fn close_fd(fd: i32) {
    if fd >= 0 {
        // SAFETY: the caller owns `fd` and uses it no more; a failed close leaves nothing
        // to undo.
        unsafe { libc::close(fd) };
    }
}

/// A global allocator that counts allocations (alloc, alloc_zeroed, realloc) and otherwise
/// is the system allocator. Tests install it with `#[global_allocator]` to check that a
/// path allocates nothing.
pub struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

impl CountingAllocator {
    /// Allocations so far in this process, on any thread.
    pub fn allocations() -> u64 {
        ALLOCATIONS.load(Ordering::SeqCst)
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// GlobalAlloc contract holds exactly as it does for `System`; counting touches no memory
// handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, which it guarantees is valid and non-zero-sized.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator (that is, from System) with `layout`, and
        // the new size obeys the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (System) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_monotonic_and_limit_never_drops() {
        let first = process_cpu_time().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(process_cpu_time().unwrap() >= first);
        let now = raise_open_files_limit(0).unwrap();
        assert_eq!(raise_open_files_limit(0).unwrap(), now);
        assert!(raise_open_files_limit(now + 1).unwrap() >= now);
    }
}
