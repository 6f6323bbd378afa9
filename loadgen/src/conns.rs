//! `loadgen conns`: many idle connections, and what they cost the server.
//!
//! Connections are opened in waves: a wave connects and writes CONNECT, SUBs and PING on
//! every socket, then waits for each PONG. Waves keep the server's accept backlog short (a
//! full backlog drops SYNs, and the kernel retries them only after a second).

use std::io;
use std::time::Instant;

use serde_json::{json, Value};

use crate::cli::ConnsArgs;
use crate::connection::{subscribe_line, Connection, HANDSHAKE_TIMEOUT};
use crate::report;
use crate::servers::Servers;
use crate::transport::Stream;

/// Connections started before waiting for their PONGs.
const WAVE_SIZE: usize = 256;

/// Read buffer per connection during its handshake: INFO and PONG only.
const HANDSHAKE_BUFFER_BYTES: usize = 4096;

pub fn run(args: &ConnsArgs, servers: &Servers) -> Result<Value, String> {
    if args.count == 0 {
        return Err("--count must be positive".into());
    }
    let descriptor_limit = raise_descriptor_limit();
    let rss_before = args.server_pid.map(report::resident_bytes).transpose();
    let rss_before = rss_before.map_err(|e| format!("server VmRSS: {e}"))?;
    let cpu_before = report::own_cpu_sec();
    let started = Instant::now();
    let held = open_all(args, servers)?;
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = args.server_pid.map(report::resident_bytes).transpose();
    let rss_after = rss_after.map_err(|e| format!("server VmRSS: {e}"))?;
    let cpu_sec = report::own_cpu_sec() - cpu_before;
    let per_connection = match (rss_before, rss_after) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before) as f64 / held.len() as f64)
        }
        _ => None,
    };
    drop(held);
    Ok(json!({
        "mode": "conns",
        "connections": args.count,
        "subs_per_conn": args.subs_per_conn,
        "elapsed_sec": elapsed,
        "conns_per_sec": args.count as f64 / elapsed,
        "server_rss_before_bytes": rss_before,
        "server_rss_after_bytes": rss_after,
        "server_rss_per_conn_bytes": per_connection,
        "descriptor_limit": descriptor_limit.ok(),
        "loadgen_cpu_sec": cpu_sec,
    }))
}

/// Opens every connection and returns the sockets, all with their handshake done.
fn open_all(args: &ConnsArgs, servers: &Servers) -> Result<Vec<Stream>, String> {
    let mut held = Vec::with_capacity(args.count);
    let mut wave = Vec::with_capacity(WAVE_SIZE);
    while held.len() < args.count {
        let wave_size = WAVE_SIZE.min(args.count - held.len());
        for offset in 0..wave_size {
            let index = held.len() + offset;
            let setup = setup_lines(index, args.subs_per_conn);
            let connection =
                Connection::start(servers.subscriber(index), &setup, HANDSHAKE_BUFFER_BYTES)
                    .map_err(|e| format!("connection {index}: {e}"))?;
            wave.push(connection);
        }
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        for (offset, mut connection) in wave.drain(..).enumerate() {
            let index = held.len() + offset;
            connection
                .wait_pong(deadline)
                .map_err(|e| format!("connection {index}: {e}"))?;
            held.push(connection.stream);
        }
    }
    Ok(held)
}

/// SUB lines for one connection: distinct subjects, so the server's tables grow as they
/// would with real devices.
fn setup_lines(index: usize, subs_per_conn: usize) -> Vec<u8> {
    (0..subs_per_conn)
        .flat_map(|sub| {
            subscribe_line(&format!("loadgen.idle.{index}.{sub}"), None, sub as u64 + 1)
        })
        .collect()
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force.
fn raise_descriptor_limit() -> io::Result<u64> {
    ringmq::runtime::sys::raise_open_files_limit(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_subscribes_distinct_subjects() {
        let lines = setup_lines(7, 2);
        assert_eq!(
            lines,
            b"SUB loadgen.idle.7.0 1\r\nSUB loadgen.idle.7.1 2\r\n"
        );
        assert!(setup_lines(0, 0).is_empty());
    }

    #[test]
    fn descriptor_limit_reaches_the_hard_limit() {
        let limit = raise_descriptor_limit().unwrap();
        assert!(limit >= 1024);
    }
}
