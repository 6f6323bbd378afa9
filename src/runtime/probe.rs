//! Start-up check that io_uring is usable, with an error that names the cause and the fix:
//! ENOSYS (old kernel, or seccomp), EPERM (sysctl `kernel.io_uring_disabled`, or seccomp),
//! missing setup flags (DEFER_TASKRUN needs 6.1), missing opcodes, buffer rings.

use std::io;

use io_uring::{opcode, IoUring, Probe};

use super::buffer_ring::BufferRing;
use super::ProbeError;

/// The oldest kernel with everything we use (DEFER_TASKRUN; multishot accept/recv, buffer
/// rings and MSG_RING are older).
pub const KERNEL_MIN: (u32, u32) = (6, 1);

pub fn probe() -> Result<(), ProbeError> {
    let kernel = kernel_version();
    let ring = match super::ring::build_ring() {
        Ok(ring) => ring,
        Err(error) => return Err(explain_setup_error(&error, kernel)),
    };
    check_opcodes(&ring, kernel)?;
    check_buffer_ring(&ring)
}

fn explain_setup_error(error: &io::Error, kernel: Option<(u32, u32)>) -> ProbeError {
    let release = kernel.map_or("unknown".to_string(), |(major, minor)| {
        format!("{major}.{minor}")
    });
    let text = match error.raw_os_error() {
        Some(libc::ENOSYS) if kernel.is_some_and(|version| version >= (5, 1)) => format!(
            "io_uring_setup is blocked (ENOSYS) although kernel {release} has io_uring: a \
             container seccomp profile blocks io_uring_setup; run with a profile that allows \
             io_uring_setup/io_uring_enter/io_uring_register (e.g. docker --security-opt \
             seccomp=unconfined), or a kernel built with CONFIG_IO_URING"
        ),
        Some(libc::ENOSYS) => format!(
            "kernel {release} has no io_uring (ENOSYS); ringmq needs Linux {}.{} or newer",
            KERNEL_MIN.0, KERNEL_MIN.1
        ),
        Some(libc::EPERM) => explain_permission(),
        Some(libc::EINVAL) if kernel.is_some_and(|version| version < KERNEL_MIN) => format!(
            "kernel {release} is older than {}.{} (no IORING_SETUP_DEFER_TASKRUN); upgrade \
             the kernel",
            KERNEL_MIN.0, KERNEL_MIN.1
        ),
        Some(libc::ENOMEM) => "io_uring_setup failed with ENOMEM: raise the memory limit \
                              (ulimit -l / the container's memory cgroup)"
            .to_string(),
        _ => format!("io_uring_setup failed on kernel {release}: {error}"),
    };
    ProbeError(text)
}

/// EPERM comes from the sysctl or from a seccomp profile / missing capability.
fn explain_permission() -> String {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    match disabled {
        Some(2) => "io_uring is disabled by sysctl kernel.io_uring_disabled=2; run \
                    `sysctl -w kernel.io_uring_disabled=0`"
            .to_string(),
        Some(1) => "io_uring is restricted by sysctl kernel.io_uring_disabled=1 to members of \
                    kernel.io_uring_group; run as a member of that group or \
                    `sysctl -w kernel.io_uring_disabled=0`"
            .to_string(),
        _ => "io_uring_setup is not permitted (EPERM): a container seccomp profile (or LSM) \
              blocks io_uring_setup; run with a profile that allows it"
            .to_string(),
    }
}

fn check_opcodes(ring: &IoUring, kernel: Option<(u32, u32)>) -> Result<(), ProbeError> {
    let mut probe = Probe::new();
    if let Err(error) = ring.submitter().register_probe(&mut probe) {
        return Err(ProbeError(format!("io_uring opcode probe failed: {error}")));
    }
    let needed = [
        ("ACCEPT (multishot)", opcode::AcceptMulti::CODE),
        ("RECV (multishot)", opcode::RecvMulti::CODE),
        ("SEND", opcode::Send::CODE),
        ("SENDMSG", opcode::SendMsg::CODE),
        ("ASYNC_CANCEL", opcode::AsyncCancel2::CODE),
        ("MSG_RING", opcode::MsgRingData::CODE),
        ("CONNECT", opcode::Connect::CODE),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(_, code)| !probe.is_supported(*code))
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let release = kernel.map_or("unknown".to_string(), |(major, minor)| {
        format!("{major}.{minor}")
    });
    Err(ProbeError(format!(
        "kernel {release} lacks io_uring operations {}; ringmq needs Linux {}.{} or newer",
        missing.join(", "),
        KERNEL_MIN.0,
        KERNEL_MIN.1
    )))
}

fn check_buffer_ring(ring: &IoUring) -> Result<(), ProbeError> {
    let submitter = ring.submitter();
    let registered = BufferRing::new(0, 2, 64).and_then(|mut buffers| {
        buffers.register(&submitter)?;
        // A failure here leaves the buffers registered: dropping them leaks them then.
        buffers.unregister(&submitter)
    });
    match registered {
        Ok(()) => Ok(()),
        Err(error) => Err(ProbeError(format!(
            "io_uring provided buffer rings are unavailable ({error}); ringmq needs Linux \
             {}.{} or newer",
            KERNEL_MIN.0, KERNEL_MIN.1
        ))),
    }
}

/// (major, minor) from uname's release, e.g. "6.18.0-foo" → (6, 18).
fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: a zeroed utsname is a valid out-buffer for uname.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a live utsname.
    if unsafe { libc::uname(&mut name) } != 0 {
        return None;
    }
    let release: String = name
        .release
        .iter()
        .take_while(|&&byte| byte != 0)
        .map(|&byte| byte as u8 as char)
        .collect();
    parse_release(&release)
}

fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_release_reads_major_and_minor() {
        assert_eq!(parse_release("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0"), Some((5, 4)));
        assert_eq!(parse_release("garbage"), None);
    }

    #[test]
    fn setup_errors_name_cause_and_fix() {
        let enosys = io::Error::from_raw_os_error(libc::ENOSYS);
        assert!(explain_setup_error(&enosys, Some((6, 8)))
            .0
            .contains("seccomp"));
        assert!(explain_setup_error(&enosys, Some((4, 19)))
            .0
            .contains("no io_uring"));
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        assert!(explain_setup_error(&einval, Some((5, 15)))
            .0
            .contains("older than 6.1"));
    }

    #[test]
    fn probe_passes_on_this_kernel() {
        probe().expect("io_uring usable here");
    }
}
