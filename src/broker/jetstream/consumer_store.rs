//! Durable consumers on disk: `<stream dir>/obs/<name>.json` holds a durable consumer's
//! configuration, its delivered and ack-floor sequences and the messages awaiting an ack,
//! so that after a restart (or kill -9) it resumes from its acknowledged floor and
//! redelivers what was in flight. Written whole and atomically (a temporary file, its
//! fdatasync, a rename) through the stream's IO queue on the owner core, at most once per
//! tick while it changes. Start-up reads the files with blocking IO, before the cores run.

use super::consumer::{Consumer, Pending};
use super::executor::StreamIo;
use crate::jetstream::consumer_config::ConsumerConfig;
use crate::jetstream::json::{to_vec, GoTime};
use crate::store::IoOp;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The directory of a stream's consumer files.
pub const CONSUMERS_DIR: &str = "obs";

/// IO tokens of consumer files have this bit; the storage engine's never do.
pub(super) const SERVICE_TOKEN: u64 = 1 << 63;

/// File numbers of consumer files (the engine numbers its own files from 0 up).
const FILE_BASE: u32 = 0xFFFF_0000;

/// One consumer's file.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsumerFile {
    pub name: String,
    pub config: ConsumerConfig,
    pub created: GoTime,
    /// Consumer and stream sequence of the last delivery.
    pub delivered: (u64, u64),
    pub ack_floor: (u64, u64),
    /// Awaiting an ack: (stream sequence, consumer sequence, deliveries).
    pub pending: Vec<(u64, u64, u64)>,
}

impl ConsumerFile {
    pub(super) fn of(consumer: &Consumer) -> ConsumerFile {
        ConsumerFile {
            name: consumer.name.clone(),
            config: consumer.config.clone(),
            created: GoTime::utc(consumer.created_ns),
            delivered: (consumer.delivered.0, consumer.delivered.1),
            ack_floor: (consumer.ack_floor.0, consumer.ack_floor.1),
            pending: consumer
                .pending
                .iter()
                .map(|(seq, p)| (*seq, p.consumer_seq, p.deliveries))
                .collect(),
        }
    }

    /// The consumer again, with every message that was awaiting an ack due for redelivery
    /// now.
    pub(super) fn restore(self, now: Instant) -> Consumer {
        let mut consumer = Consumer::restored(self.name, self.config, now);
        consumer.created_ns = self.created.unix_nanos().unwrap_or(0);
        consumer.delivered = (self.delivered.0, self.delivered.1, 0);
        consumer.ack_floor = (self.ack_floor.0, self.ack_floor.1, 0);
        consumer.next_seq = self.delivered.1 + 1;
        for (seq, consumer_seq, deliveries) in self.pending {
            consumer.pending.insert(
                seq,
                Pending {
                    consumer_seq,
                    deliveries,
                    deadline: now,
                },
            );
            consumer.redeliver.push_back(seq);
        }
        consumer
    }
}

/// Whether a consumer is kept on disk: durable ones of file streams.
pub fn persisted(config: &ConsumerConfig) -> bool {
    !config.durable_name.is_empty()
}

/// Queues the atomic write of `consumer`'s file on the stream's IO queue.
pub(super) fn queue_write(io: &mut StreamIo, stream_dir: &Path, slot: u32, consumer: &Consumer) {
    let dir = stream_dir.join(CONSUMERS_DIR);
    let path = dir.join(format!("{}.json", consumer.name));
    let tmp = dir.join(format!("{}.json.tmp", consumer.name));
    let file = FILE_BASE + slot;
    let bytes = to_vec(&ConsumerFile::of(consumer));
    io.push(SERVICE_TOKEN, IoOp::MkDirAll { path: dir });
    io.push(
        SERVICE_TOKEN,
        IoOp::Open {
            file,
            path: tmp.clone(),
            create: true,
        },
    );
    io.push(
        SERVICE_TOKEN,
        IoOp::Write {
            file,
            offset: 0,
            bytes,
            sync: true,
        },
    );
    io.push(SERVICE_TOKEN, IoOp::Close { file });
    io.push(
        SERVICE_TOKEN,
        IoOp::Rename {
            from: tmp,
            to: path,
        },
    );
}

/// Queues the removal of a deleted consumer's file.
pub(super) fn queue_remove(io: &mut StreamIo, stream_dir: &Path, name: &str) {
    let path = stream_dir.join(CONSUMERS_DIR).join(format!("{name}.json"));
    io.push(SERVICE_TOKEN, IoOp::Unlink { path });
}

/// Queues the removal of every consumer file and their directory (the stream is deleted:
/// its directory must be empty for the engine's last step).
pub(super) fn queue_remove_dir(io: &mut StreamIo, stream_dir: &Path, names: &[String]) {
    for name in names {
        queue_remove(io, stream_dir, name);
    }
    let path = stream_dir.join(CONSUMERS_DIR);
    io.push(SERVICE_TOKEN, IoOp::RemoveDir { path });
}

/// Start-up: the consumer files of a stream (a bad one is reported and skipped).
pub fn read_all(stream_dir: &Path) -> Vec<ConsumerFile> {
    let dir: PathBuf = stream_dir.join(CONSUMERS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
            match parsed {
                Ok(file) => Some(file),
                Err(error) => {
                    crate::error!("  Error recovering consumer {}: {error}", path.display());
                    None
                }
            }
        })
        .collect()
}
