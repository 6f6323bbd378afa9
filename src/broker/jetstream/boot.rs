//! JetStream's start-up, on the main thread before the cores run (blocking file IO is
//! fine here and nowhere else): the store directory, nats-server's banner, and every file
//! stream recovered from its segments. Core 0 takes the result on its first turn.

use crate::config::{friendly_bytes, resolved_limits, Config, SyncPolicy};
use crate::info;
use crate::jetstream::json::{to_vec, GoTime};
use crate::jetstream::stream_config::{Storage, StreamConfig};
use crate::store::{self, StdFs, StorageKind, StoreConfig, StoreLimits, StreamStore};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;

/// What every core knows of JetStream (read-only after start-up, but for the hand-over).
#[derive(Debug)]
pub struct JetStreamShared {
    /// `<store_dir>/jetstream`.
    pub jetstream_dir: PathBuf,
    /// `<store_dir>/jetstream/$G/streams`.
    pub streams_dir: PathBuf,
    pub domain: Option<String>,
    pub max_memory: i64,
    pub max_store: i64,
    pub sync: SyncPolicy,
    /// The streams' subjects at start-up: other cores count core 0's interest in them
    /// from the start (`preload_interest`).
    pub stream_subjects: Vec<String>,
    boot: Mutex<Option<Boot>>,
}

/// The recovered streams, handed to core 0 once.
#[derive(Debug, Default)]
pub struct Boot {
    pub streams: Vec<Recovered>,
}

/// A file stream as found on disk.
#[derive(Debug)]
pub struct Recovered {
    pub config: StreamConfig,
    pub created_ns: i64,
    pub store: StreamStore,
    pub consumers: Vec<super::consumer_store::ConsumerFile>,
}

/// The stream's `meta.json`: its configuration and creation time.
#[derive(Serialize, Deserialize)]
struct Meta {
    config: StreamConfig,
    created: GoTime,
}

/// Where acks arrive (`$JS.ACK.<stream>.<consumer>.…`).
pub const ACK_SUBJECT: &str = "$JS.ACK.>";

impl JetStreamShared {
    /// `$JS.API.>`, and `$JS.<domain>.API.>` with a domain (the ack subject is apart).
    pub fn api_subjects(&self) -> Vec<String> {
        let mut subjects = vec!["$JS.API.>".to_string()];
        if let Some(domain) = &self.domain {
            subjects.push(format!("$JS.{domain}.API.>"));
        }
        subjects
    }

    pub(super) fn take_boot(&self) -> Option<Boot> {
        self.boot.lock().ok()?.take()
    }

    /// The store's configuration for a stream of `config`.
    pub fn store_config(&self, config: &StreamConfig) -> StoreConfig {
        let storage = match config.storage {
            Some(Storage::Memory) => StorageKind::Memory,
            _ => StorageKind::File,
        };
        let mut store = StoreConfig::new(self.streams_dir.join(&config.name), storage);
        store.sync = match self.sync {
            SyncPolicy::Always => store::SyncPolicy::Always,
            SyncPolicy::Interval(period) => store::SyncPolicy::Interval(period),
        };
        store.limits = store_limits(config);
        store
    }
}

/// A stream configuration's limits as the engine takes them.
pub fn store_limits(config: &StreamConfig) -> StoreLimits {
    use crate::jetstream::stream_config::Discard;
    StoreLimits {
        max_msgs: config.max_msgs,
        max_bytes: config.max_bytes,
        max_age_ns: config.max_age,
        max_msgs_per_subject: config.max_msgs_per_subject,
        max_msg_size: config.max_msg_size,
        discard: match config.discard {
            Discard::Old => store::Discard::Old,
            Discard::New => store::Discard::New,
        },
        discard_new_per_subject: config.discard_new_per_subject,
    }
}

/// The bytes of a stream's `meta.json`.
pub fn meta_bytes(config: &StreamConfig, created_ns: i64) -> Vec<u8> {
    to_vec(&Meta {
        config: config.clone(),
        created: GoTime::utc(created_ns),
    })
}

const BANNER: [&str; 8] = [
    "    _ ___ _____ ___ _____ ___ ___   _   __  __",
    " _ | | __|_   _/ __|_   _| _ \\ __| /_\\ |  \\/  |",
    "| || | _|  | | \\__ \\ | | |   / _| / _ \\| |\\/| |",
    " \\__/|___| |_| |___/ |_| |_|_\\___/_/ \\_\\_|  |_|",
    "",
    "         https://docs.nats.io/jetstream",
    "",
    "---------------- JETSTREAM ----------------",
];

/// Prepares JetStream for `config` (`None`: JetStream is off): the directories, the
/// banner and the recovered streams, with nats-server's log lines.
pub fn start(config: &Config) -> std::io::Result<Option<JetStreamShared>> {
    let Some(js) = &config.jetstream else {
        return Ok(None);
    };
    info!("Starting JetStream");
    let jetstream_dir = js.jetstream_dir();
    let streams_dir = jetstream_dir.join("$G").join("streams");
    std::fs::create_dir_all(&streams_dir).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "could not create storage directory - {}: {error}",
                jetstream_dir.display()
            ),
        )
    })?;
    let memory = crate::runtime::sys::physical_memory().unwrap_or(0);
    let disk = crate::runtime::sys::disk_available(&jetstream_dir).unwrap_or(0);
    let (max_memory, max_store) = resolved_limits(js, memory, disk);
    for line in BANNER {
        info!("{line}");
    }
    info!("  Max Memory:      {}", friendly_bytes(max_memory));
    info!("  Max Storage:     {}", friendly_bytes(max_store));
    info!("  Store Directory: \"{}\"", jetstream_dir.display());
    if let Some(domain) = &js.domain {
        info!("  Domain:          {domain}");
    }
    info!("-------------------------------------------");
    let mut shared = JetStreamShared {
        jetstream_dir,
        streams_dir,
        domain: js.domain.clone(),
        max_memory,
        max_store,
        sync: js.sync,
        stream_subjects: Vec::new(),
        boot: Mutex::new(None),
    };
    let boot = recover_streams(&shared)?;
    shared.stream_subjects = boot
        .streams
        .iter()
        .flat_map(|s| s.config.subjects.iter().cloned())
        .collect();
    *shared.boot.get_mut().expect("not shared yet") = Some(boot);
    Ok(Some(shared))
}

/// Every stream directory under `streams_dir`, recovered; one that cannot be read is
/// reported and left on disk untouched.
fn recover_streams(shared: &JetStreamShared) -> std::io::Result<Boot> {
    let mut boot = Boot::default();
    let mut names: Vec<String> = std::fs::read_dir(&shared.streams_dir)?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        let dir = shared.streams_dir.join(&name);
        let meta = match std::fs::read(dir.join(store::META_FILE)) {
            Ok(bytes) => bytes,
            Err(error) => {
                crate::error!(
                    "  Error recovering stream '$G > {name}': no configuration ({error})"
                );
                continue;
            }
        };
        let meta: Meta = match serde_json::from_slice(&meta) {
            Ok(meta) => meta,
            Err(error) => {
                crate::error!(
                    "  Error recovering stream '$G > {name}': bad configuration: {error}"
                );
                continue;
            }
        };
        let store_config = shared.store_config(&meta.config);
        let mut log = |line: String| info!("  Stream '$G > {name}': {line}");
        match StreamStore::recover(store_config, &mut StdFs, &mut log) {
            Ok((store, _)) => {
                let state = store.state();
                info!(
                    "  Restored {} messages for stream '$G > {name}'",
                    state.msgs
                );
                let consumers = super::consumer_store::read_all(&dir);
                if !consumers.is_empty() {
                    info!(
                        "  Restored {} consumers for stream '$G > {name}'",
                        consumers.len()
                    );
                }
                boot.streams.push(Recovered {
                    config: meta.config,
                    created_ns: meta.created.unix_nanos().unwrap_or(0),
                    store,
                    consumers,
                });
            }
            Err(error) => {
                crate::error!("  Error recovering stream '$G > {name}': {error}");
            }
        }
    }
    if !boot.streams.is_empty() {
        info!(
            "  Starting restore for stream '$G' done: {} streams",
            boot.streams.len()
        );
    }
    Ok(boot)
}
