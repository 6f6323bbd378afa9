//! Results: the summary of a message workload, its JSON line and its human-readable form,
//! plus the process measurements that go with it (loadgen's own CPU, a server's RSS).

use std::fs;
use std::io::{self, Write};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Clock ticks per second in /proc/*/stat; 100 on every Linux architecture we run on.
pub const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Latency histogram in nanoseconds, 3 significant digits, up to one hour.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("static bounds are valid")
}

/// The outcome of `pubsub` or `reqrep`.
#[derive(Debug)]
pub struct Summary {
    pub msgs_sent: u64,
    pub msgs_received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupted: u64,
    pub payload_bytes: usize,
    /// From the first publish to the last publisher's flush PONG.
    pub publish_sec: f64,
    /// From the first publish to the last delivery.
    pub subscribe_sec: f64,
    pub elapsed_sec: f64,
    pub loadgen_cpu_sec: f64,
    /// Problems that did not stop the run (a subscriber disconnected, a deadline passed).
    pub errors: Vec<String>,
    /// Workload-specific fields added to the JSON object.
    pub extra: serde_json::Map<String, Value>,
    /// Every subscriber's (or requester's) histogram, merged.
    pub latency: Histogram<u64>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            msgs_sent: 0,
            msgs_received: 0,
            lost: 0,
            duplicated: 0,
            out_of_order: 0,
            corrupted: 0,
            payload_bytes: 0,
            publish_sec: 0.0,
            subscribe_sec: 0.0,
            elapsed_sec: 0.0,
            loadgen_cpu_sec: 0.0,
            errors: Vec::new(),
            extra: serde_json::Map::new(),
            latency: latency_histogram(),
        }
    }
}

impl Summary {
    /// Whether the run delivered exactly what it should have.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.corrupted == 0 && self.errors.is_empty()
    }

    fn per_sec(count: f64, seconds: f64) -> f64 {
        if seconds > 0.0 {
            count / seconds
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        let latency = &self.latency;
        let megabytes = |msgs: u64| (msgs as f64) * (self.payload_bytes as f64) / 1e6;
        let mut object = json!({
            "msgs_sent": self.msgs_sent,
            "msgs_received": self.msgs_received,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "out_of_order": self.out_of_order,
            "corrupted": self.corrupted,
            "size": self.payload_bytes,
            "pub_msgs_per_sec": Self::per_sec(self.msgs_sent as f64, self.publish_sec),
            "sub_msgs_per_sec": Self::per_sec(self.msgs_received as f64, self.subscribe_sec),
            "agg_msgs_per_sec": Self::per_sec(
                (self.msgs_sent + self.msgs_received) as f64, self.elapsed_sec),
            "pub_mb_per_sec": Self::per_sec(megabytes(self.msgs_sent), self.publish_sec),
            "sub_mb_per_sec": Self::per_sec(megabytes(self.msgs_received), self.subscribe_sec),
            "latency_us": latency_json(latency),
            "publish_sec": self.publish_sec,
            "subscribe_sec": self.subscribe_sec,
            "elapsed_sec": self.elapsed_sec,
            "loadgen_cpu_sec": self.loadgen_cpu_sec,
            "loadgen_cpu_ns_per_msg": Self::per_sec(
                self.loadgen_cpu_sec * 1e9, (self.msgs_sent + self.msgs_received) as f64),
            "errors": self.errors,
        });
        let map = object.as_object_mut().expect("json! of an object");
        map.extend(self.extra.clone());
        object
    }

    pub fn print_human(&self, out: &mut impl Write) -> io::Result<()> {
        let latency = &self.latency;
        let json = self.to_json();
        let number = |key: &str| json[key].as_f64().unwrap_or(0.0);
        writeln!(
            out,
            "sent {} received {} lost {} duplicated {} out-of-order {} corrupted {}",
            self.msgs_sent,
            self.msgs_received,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.corrupted
        )?;
        for (label, msgs, megabytes) in [
            ("pub", "pub_msgs_per_sec", "pub_mb_per_sec"),
            ("sub", "sub_msgs_per_sec", "sub_mb_per_sec"),
        ] {
            writeln!(
                out,
                "{label}: {:>12.0} msgs/s {:>9.1} MB/s",
                number(msgs),
                number(megabytes)
            )?;
        }
        writeln!(out, "agg: {:>12.0} msgs/s", number("agg_msgs_per_sec"))?;
        if let Some(rate) = json.get("acked_msgs_per_sec").and_then(Value::as_f64) {
            // `js pub`: "received" above counts PubAcks without error.
            writeln!(out, "acked: {rate:>10.0} msgs/s")?;
        }
        if let Some(rate) = json.get("consumed_msgs_per_sec").and_then(Value::as_f64) {
            // `js consume`: "received" counts distinct stream sequences delivered.
            writeln!(out, "consumed: {rate:>7.0} msgs/s")?;
        }
        if !latency.is_empty() {
            let l = &json["latency_us"];
            writeln!(
                out,
                "latency us: p50 {} p90 {} p99 {} p99.9 {} max {}",
                l["p50"], l["p90"], l["p99"], l["p999"], l["max"]
            )?;
        }
        writeln!(
            out,
            "elapsed {:.3} s, loadgen cpu {:.3} s ({:.0} ns/msg)",
            self.elapsed_sec,
            self.loadgen_cpu_sec,
            number("loadgen_cpu_ns_per_msg")
        )?;
        for error in &self.errors {
            writeln!(out, "error: {error}")?;
        }
        Ok(())
    }
}

/// Percentiles in microseconds (nulls when nothing was measured).
pub fn latency_json(latency: &Histogram<u64>) -> Value {
    if latency.is_empty() {
        return json!({"p50": null, "p90": null, "p99": null, "p999": null, "max": null,
                      "count": 0});
    }
    let micros = |ns: u64| (ns as f64 / 1000.0 * 10.0).round() / 10.0;
    json!({
        "p50": micros(latency.value_at_quantile(0.50)),
        "p90": micros(latency.value_at_quantile(0.90)),
        "p99": micros(latency.value_at_quantile(0.99)),
        "p999": micros(latency.value_at_quantile(0.999)),
        "max": micros(latency.max()),
        "count": latency.len(),
    })
}

/// User plus system CPU seconds of process `pid` ("self" for loadgen), all threads
/// including ones that have exited.
pub fn process_cpu_sec(pid: &str) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_sec(&stat).ok_or_else(|| io::Error::other("unexpected /proc/PID/stat format"))
}

fn parse_cpu_sec(stat: &str) -> Option<f64> {
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    // utime and stime are fields 14 and 15, i.e. the 12th and 13th after the name.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / CLOCK_TICKS_PER_SEC)
}

/// loadgen's own user plus system CPU seconds, all threads including exited ones, from
/// getrusage: microsecond resolution, where /proc/self/stat has 10 ms ticks, which is too
/// coarse for a client that uses a few tens of milliseconds per run.
pub fn own_cpu_sec() -> f64 {
    match ringmq::runtime::sys::process_cpu_time() {
        Ok(cpu) => cpu.as_secs_f64(),
        Err(_) => process_cpu_sec("self").unwrap_or(0.0),
    }
}

/// Resident memory of `pid` in bytes (VmRSS from /proc/PID/status).
pub fn resident_bytes(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_after_the_command_name() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(parse_cpu_sec(stat), Some(3.0));
        assert!(process_cpu_sec("self").unwrap() >= 0.0);
        let before = own_cpu_sec();
        let mut spin = 0u64;
        for i in 0..10_000_000u64 {
            spin = std::hint::black_box(spin.wrapping_add(i));
        }
        assert!(own_cpu_sec() > before);
    }

    #[test]
    fn rss_parses() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t    2048 kB\nThreads: 1\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
        assert!(resident_bytes(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn json_has_every_documented_key() {
        let mut summary = Summary {
            msgs_sent: 10,
            msgs_received: 20,
            payload_bytes: 100,
            publish_sec: 1.0,
            subscribe_sec: 2.0,
            elapsed_sec: 3.0,
            ..Summary::default()
        };
        for us in 1..=1000u64 {
            summary.latency.record(us * 1000).unwrap();
        }
        let json = summary.to_json();
        for key in [
            "msgs_sent",
            "msgs_received",
            "lost",
            "duplicated",
            "out_of_order",
            "corrupted",
            "pub_msgs_per_sec",
            "sub_msgs_per_sec",
            "agg_msgs_per_sec",
            "pub_mb_per_sec",
            "sub_mb_per_sec",
            "latency_us",
            "elapsed_sec",
            "loadgen_cpu_sec",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["pub_msgs_per_sec"], 10.0);
        assert_eq!(json["sub_msgs_per_sec"], 10.0);
        assert_eq!(json["agg_msgs_per_sec"], 10.0);
        assert_eq!(json["sub_mb_per_sec"], 0.001);
        assert_eq!(json["latency_us"]["count"], 1000);
        let max = json["latency_us"]["max"].as_f64().unwrap();
        assert!((1000.0..1001.0).contains(&max), "{max}");
        let p50 = json["latency_us"]["p50"].as_f64().unwrap();
        assert!((500.0..501.0).contains(&p50), "{p50}");
        assert!(summary.is_clean());
    }
}
