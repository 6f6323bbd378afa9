//! The store's tests: the API with exact counts (`api`), recovery from files cut and
//! damaged by hand (`recovery`), the zero-fill ahead of the open segment
//! (`preallocation`), and the seeded fault property over `SimDisk` (`faults`).

mod api;
mod faults;
mod preallocation;
mod recovery;

use std::path::PathBuf;

use super::sim_disk::{FaultPlan, SimDisk};
use super::{Lookup, StorageKind, StoreConfig, StoreError, StoreEvent, StoredMsg, StreamStore};

pub(super) const DIR: &str = "/sim/jetstream/A/streams/S";

/// A file stream without zero-fill ahead: its tests count every write and name offsets
/// (the `preallocation` tests and the fault property turn it on).
pub(super) fn file_config() -> StoreConfig {
    let mut config = StoreConfig::new(PathBuf::from(DIR), StorageKind::File);
    config.preallocate_bytes = 0;
    config
}

pub(super) fn memory_config() -> StoreConfig {
    StoreConfig::new(PathBuf::from(DIR), StorageKind::Memory)
}

pub(super) fn quiet_disk() -> SimDisk {
    SimDisk::new(0, FaultPlan::default())
}

pub(super) fn events(store: &mut StreamStore) -> Vec<StoreEvent> {
    std::iter::from_fn(|| store.poll_event()).collect()
}

/// The message `seq` from the cache or the disk; `Err` if the read failed.
pub(super) fn read(
    store: &mut StreamStore,
    disk: &mut SimDisk,
    seq: u64,
) -> Result<Option<StoredMsg>, StoreError> {
    let ticket = match store.get(seq) {
        Lookup::Ready(msg) => return Ok(Some(msg)),
        Lookup::Missing => return Ok(None),
        Lookup::Pending(ticket) => ticket,
    };
    disk.run(store);
    let mut answer = None;
    let mut others = Vec::new();
    while let Some(event) = store.poll_event() {
        match event {
            StoreEvent::ReadDone { ticket: done, msg } if done == ticket => answer = Some(msg),
            other => others.push(other),
        }
    }
    // Keep the other events for the caller, in order.
    store.events.extend(others);
    answer
        .expect("a pending read is answered once the disk has run")
        .map(Some)
}

pub(super) fn msg(
    seq: u64,
    subject: &str,
    headers: &[u8],
    payload: &[u8],
    time_ns: i64,
) -> StoredMsg {
    StoredMsg {
        seq,
        subject: subject.to_string(),
        headers: headers.to_vec(),
        payload: payload.to_vec(),
        time_ns,
    }
}

/// A recovery that must succeed, with its log lines.
pub(super) fn recover(config: StoreConfig, disk: &mut SimDisk) -> (StreamStore, Vec<String>) {
    let mut lines = Vec::new();
    let (mut store, _) =
        StreamStore::recover(config, disk, &mut |line| lines.push(line)).expect("recovers");
    disk.run(&mut store);
    (store, lines)
}
