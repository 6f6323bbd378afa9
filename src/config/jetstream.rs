//! JetStream's configuration (`-js`, `--store_dir`, the `jetstream` block), with the limits
//! nats-server 2.9.10 derives when a key is left out.

use std::path::PathBuf;
use std::time::Duration;

/// When a stored message is made durable before its PubAck leaves (`sync_interval`, the
/// key nats-server 2.10 added; 2.9.10 syncs every two minutes and acknowledges at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// fdatasync before the PubAck; one sync covers every publish that arrived while the
    /// previous one ran (group commit). The default: an acknowledged message survives a
    /// power cut.
    #[default]
    Always,
    /// Acknowledge after the write; sync at this period. A power cut loses up to a
    /// period of acknowledged messages (a process crash loses none: the page cache
    /// keeps them).
    Interval(Duration),
}

/// `jetstream { store_dir, max_memory_store, max_file_store, domain, sync_interval }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The directory holding `jetstream/`; nats-server's default is the system temporary
    /// directory's `nats`.
    pub store_dir: Option<PathBuf>,
    /// Bytes of memory streams; `None`: 75 % of the machine's memory, as nats-server.
    pub max_memory: Option<i64>,
    /// Bytes of file streams; `None`: 75 % of the store directory's free space (at most
    /// 1 TB), as nats-server.
    pub max_store: Option<i64>,
    /// The JetStream domain (`$JS.<domain>.API.>` is served too).
    pub domain: Option<String>,
    pub sync: SyncPolicy,
}

impl JetStreamConfig {
    pub fn new() -> JetStreamConfig {
        JetStreamConfig {
            store_dir: None,
            max_memory: None,
            max_store: None,
            domain: None,
            sync: SyncPolicy::Always,
        }
    }

    /// The directory that gets `jetstream/` (the configured one or nats-server's default).
    pub fn base_dir(&self) -> PathBuf {
        match &self.store_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join("nats"),
        }
    }

    /// `<base>/jetstream`, where accounts' streams live.
    pub fn jetstream_dir(&self) -> PathBuf {
        self.base_dir().join("jetstream")
    }
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig::new()
    }
}

/// nats-server's limit on the file store when none is configured.
pub const MAX_STORE_CAP: i64 = 1 << 40;

/// The limits in force: configured values, or nats-server's shares of what the machine has.
pub fn resolved_limits(config: &JetStreamConfig, memory: u64, disk_available: u64) -> (i64, i64) {
    let three_quarters = |n: u64| (n / 4 * 3) as i64;
    let memory = config.max_memory.unwrap_or_else(|| three_quarters(memory));
    let store = config
        .max_store
        .unwrap_or_else(|| three_quarters(disk_available).min(MAX_STORE_CAP));
    (memory, store)
}

/// nats-server's `friendlyBytes`: 1024-based units named KB, MB, GB, two decimals.
pub fn friendly_bytes(bytes: i64) -> String {
    const UNIT: f64 = 1024.0;
    let value = bytes as f64;
    if value < UNIT {
        return format!("{bytes} B");
    }
    let exp = (value.ln() / UNIT.ln()).floor() as i32;
    let prefix = ["K", "M", "G", "T", "P", "E"][(exp - 1) as usize];
    format!("{:.2} {prefix}B", value / UNIT.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_bytes_matches_nats_servers_banner() {
        // The numbers nats-server 2.9.10 printed on this machine: 75 % of 25276182528 bytes
        // of memory and of 85608980480 free bytes.
        let config = JetStreamConfig::new();
        let (memory, store) = resolved_limits(&config, 25_276_182_528, 85_608_980_480);
        assert_eq!(friendly_bytes(memory), "17.66 GB");
        assert_eq!(friendly_bytes(store), "59.80 GB");
        assert_eq!(friendly_bytes(512), "512 B");
        assert_eq!(friendly_bytes(1536), "1.50 KB");
    }

    #[test]
    fn configured_limits_win_and_the_store_is_capped() {
        let config = JetStreamConfig {
            max_memory: Some(1 << 30),
            ..JetStreamConfig::new()
        };
        let (memory, store) = resolved_limits(&config, 1 << 40, 1 << 50);
        assert_eq!((memory, store), (1 << 30, MAX_STORE_CAP));
    }
}
