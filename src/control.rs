//! `ringmq --signal NAME[=PID|PIDFILE]`: signals a running ringmq, as `nats-server --signal`
//! does (same names, same signals, same errors; silent on success).

use crate::runtime::signals;

/// The signal each command sends.
fn signal_number(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "term" => libc::SIGTERM,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        _ => return None,
    })
}

/// Sends signal `name` to `target` (a pid, a pid file, or, if absent, the one other ringmq
/// process running). The error text is what the binary prints after `ringmq: `.
pub fn send(name: &str, target: Option<&str>) -> Result<(), String> {
    let pid = match target {
        Some(target) => parse_target(target)?,
        None => single_running_pid()?,
    };
    let number = signal_number(name).ok_or_else(|| format!("unknown signal {name:?}"))?;
    signals::send(pid, number).map_err(|error| match error.raw_os_error() {
        // Go's errno texts, as nats-server prints them.
        Some(libc::ESRCH) => "no such process".to_string(),
        Some(libc::EPERM) => "operation not permitted".to_string(),
        _ => error.to_string(),
    })
}

/// A pid, or a file holding one.
fn parse_target(target: &str) -> Result<i32, String> {
    let text = if target.bytes().all(|b| b.is_ascii_digit()) {
        target.to_string()
    } else {
        match std::fs::read_to_string(target) {
            Ok(contents) => contents.trim().to_string(),
            Err(_) => return Err(format!("invalid pid: {target}")),
        }
    };
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("invalid pid: {text}")),
    }
}

/// The pid of the only other `ringmq` process, found with `pgrep`.
fn single_running_pid() -> Result<i32, String> {
    let output = std::process::Command::new("pgrep")
        .arg("-x")
        .arg("ringmq")
        .output()
        .map_err(|_| "unable to resolve pid, try providing one".to_string())?;
    let own = std::process::id() as i32;
    let pids: Vec<i32> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .filter(|&pid| pid != own)
        .collect();
    match pids.as_slice() {
        [] => Err("no ringmq processes running".to_string()),
        [pid] => Ok(*pid),
        many => Err(format!(
            "multiple ringmq processes running:\n{}",
            many.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_nats_server_signals() {
        let names = ["stop", "quit", "term", "reopen", "reload", "ldm"];
        let numbers: Vec<_> = names.iter().map(|n| signal_number(n)).collect();
        let expected = [
            libc::SIGKILL,
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGUSR1,
            libc::SIGHUP,
            libc::SIGUSR2,
        ]
        .map(Some);
        assert_eq!(numbers, expected);
        assert_eq!(signal_number("bogus"), None);
    }

    #[test]
    fn errors_read_as_nats_server_s() {
        assert_eq!(send("ldm", Some("abc")), Err("invalid pid: abc".into()));
        assert_eq!(
            send("bogus", Some("1")),
            Err("unknown signal \"bogus\"".into())
        );
        let dir = std::env::temp_dir().join(format!("ringmq-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("pid");
        std::fs::write(&pid_file, "junk\n").unwrap();
        let target = pid_file.to_str().unwrap();
        assert_eq!(send("ldm", Some(target)), Err("invalid pid: junk".into()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pid_file_names_the_process_signalled() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("ringmq-control-pf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("pid");
        std::fs::write(&pid_file, format!("{}\n", child.id())).unwrap();
        assert_eq!(send("term", Some(pid_file.to_str().unwrap())), Ok(()));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
