//! Zero-fill ahead of the open segment (`StoreConfig::preallocate_bytes`): the writes it
//! asks for, exactly; recovery reading the zeros as the clean end while a torn record or a
//! flipped bit before them is still cut or reported; sealing cutting the zeros; a failed
//! zero-fill leaving plain appends.

use std::path::PathBuf;

use super::*;
use crate::store::record;
use crate::store::sim_disk::CutReport;
use crate::store::IoOp;

/// Small steps so a test sees several: 100 bytes ahead, 1000-byte segments.
fn config() -> StoreConfig {
    let mut config = file_config();
    config.preallocate_bytes = 100;
    config.segment_bytes = 1000;
    config
}

fn segment_path(first: u64) -> PathBuf {
    PathBuf::from(format!("{DIR}/{first}.seg"))
}

/// A write as the test sees it: (offset, length, sync, all zeros).
type Seen = (u64, usize, bool, bool);

/// Runs the store's requests on `disk`, returning its writes.
fn run_writes(store: &mut StreamStore, disk: &mut SimDisk) -> Vec<Seen> {
    let mut writes = Vec::new();
    while let Some((token, op)) = store.poll_io() {
        if let IoOp::Write {
            offset,
            bytes,
            sync,
            ..
        } = &op
        {
            let zeros = bytes.iter().all(|&byte| byte == 0);
            writes.push((*offset, bytes.len(), *sync, zeros));
        }
        let result = disk.execute(op);
        store.complete(token, result);
    }
    writes
}

/// 30 bytes each: `a`, `xx`.
const RECORD_BYTES: usize = 30;

fn append_one(store: &mut StreamStore, time_ns: i64) -> u64 {
    assert_eq!(record::encoded_len("a", b"", b"xx"), RECORD_BYTES);
    store.append("a", b"", b"xx", time_ns).unwrap()
}

/// Three records (90 bytes) in a file zero-filled to 200 bytes.
fn three_written() -> (SimDisk, StreamStore) {
    let mut store = StreamStore::create(config());
    let mut disk = quiet_disk();
    append_one(&mut store, 1);
    // Zeros first (the file is empty), then the record over them.
    assert_eq!(
        run_writes(&mut store, &mut disk),
        vec![(0, 100, true, true), (0, 30, true, false)]
    );
    append_one(&mut store, 2);
    // 60 bytes would leave less than half a step of zeros: the next step goes first.
    assert_eq!(
        run_writes(&mut store, &mut disk),
        vec![(100, 100, true, true), (30, 30, true, false)]
    );
    append_one(&mut store, 3);
    assert_eq!(
        run_writes(&mut store, &mut disk),
        vec![(60, 30, true, false)]
    );
    assert_eq!(
        events(&mut store),
        vec![
            StoreEvent::Durable { through: 1 },
            StoreEvent::Durable { through: 2 },
            StoreEvent::Durable { through: 3 },
        ]
    );
    assert_eq!(disk.file_mut(&segment_path(1)).unwrap().len(), 200);
    (disk, store)
}

#[test]
fn zeros_run_ahead_in_steps_and_records_overwrite_them() {
    let (mut disk, store) = three_written();
    let bytes = disk.file_mut(&segment_path(1)).unwrap().clone();
    assert!(bytes[90..].iter().all(|&byte| byte == 0));
    assert_eq!(record::decode(&bytes[60..]).unwrap().0.seq, 3);
    assert_eq!(store.segments.back().unwrap().allocated, 200);
}

#[test]
fn a_zero_tail_is_the_clean_end() {
    let (mut disk, _) = three_written();
    let (mut store, lines) = recover(config(), &mut disk);
    assert_eq!(lines, Vec::<String>::new());
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (3, 1, 3));
    // Not cut: the zeros stay for the next appends.
    assert_eq!(disk.file_mut(&segment_path(1)).unwrap().len(), 200);
    for seq in 1..=3 {
        let expected = msg(seq, "a", b"", b"xx", seq as i64);
        assert_eq!(read(&mut store, &mut disk, seq), Ok(Some(expected)));
    }
    // The next record lands after the last one; 120 + 50 < 200, so no zero-fill yet.
    append_one(&mut store, 4);
    assert_eq!(
        run_writes(&mut store, &mut disk),
        vec![(90, 30, true, false)]
    );
    assert!(events(&mut store).contains(&StoreEvent::Durable { through: 4 }));
    let (again, lines) = recover(config(), &mut disk);
    assert_eq!(lines, Vec::<String>::new());
    assert_eq!(again.state().msgs, 4);
}

#[test]
fn a_torn_record_before_the_zeros_is_cut_with_its_log_line() {
    let (disk, _) = three_written();
    let full = disk.clone().file_mut(&segment_path(1)).unwrap().clone();
    // The third record's first `kept` bytes landed, zeros after them.
    for kept in 1..RECORD_BYTES {
        let mut disk = disk.clone();
        let file = disk.file_mut(&segment_path(1)).unwrap();
        file[60 + kept..90].fill(0);
        assert_eq!(&file[..60 + kept], &full[..60 + kept]);
        disk.settle();
        let (store, lines) = recover(config(), &mut disk);
        assert_eq!(lines.len(), 1, "kept {kept}: {lines:?}");
        assert!(
            lines[0].contains("torn tail at offset 60") && lines[0].contains("140 bytes"),
            "kept {kept}: {lines:?}"
        );
        assert_eq!(store.state().last_seq, 2, "kept {kept}");
        // Cut at 60, then zero-filled a step again once the store ran.
        let file = disk.file_mut(&segment_path(1)).unwrap();
        assert_eq!(file.len(), 160);
        assert!(file[60..].iter().all(|&byte| byte == 0), "kept {kept}");
    }
}

#[test]
fn a_flipped_bit_before_the_zeros_is_still_reported() {
    let (disk, _) = three_written();
    // In the middle record: skipped and reported, the last one kept.
    let mut middle = disk.clone();
    middle.file_mut(&segment_path(1)).unwrap()[30 + 7] ^= 0x10;
    middle.settle();
    let (mut store, lines) = recover(config(), &mut middle);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("damaged record at offset 30") && lines[0].contains("30 bytes skipped"),
        "{lines:?}"
    );
    assert_eq!(store.get(2), Lookup::Missing);
    let expected = msg(3, "a", b"", b"xx", 3);
    assert_eq!(read(&mut store, &mut middle, 3), Ok(Some(expected)));
    // In the last record: a torn tail, cut with the zeros after it.
    let mut last = disk;
    last.file_mut(&segment_path(1)).unwrap()[60 + 20] ^= 0x01;
    last.settle();
    let (store, lines) = recover(config(), &mut last);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("torn tail at offset 60"), "{lines:?}");
    assert_eq!(store.state().last_seq, 2);
    // And a flipped bit among the zeros is damage too, not the end.
    let (mut in_zeros, _) = three_written();
    in_zeros.file_mut(&segment_path(1)).unwrap()[150] ^= 0x04;
    in_zeros.settle();
    let (store, lines) = recover(config(), &mut in_zeros);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("torn tail at offset 90"), "{lines:?}");
    assert_eq!(store.state().last_seq, 3);
    let file = in_zeros.file_mut(&segment_path(1)).unwrap();
    assert_eq!(file.len(), 190, "cut at 90, then a step of zeros again");
    assert!(file[90..].iter().all(|&byte| byte == 0));
}

#[test]
fn zeros_stop_at_the_segment_size_and_a_sealed_segment_is_cut_to_its_records() {
    let mut config = config();
    config.segment_bytes = 80; // two records a segment
    config.preallocate_bytes = 1000;
    let mut store = StreamStore::create(config.clone());
    let mut disk = quiet_disk();
    append_one(&mut store, 1);
    append_one(&mut store, 2);
    assert_eq!(
        run_writes(&mut store, &mut disk),
        vec![(0, 80, true, true), (0, 60, true, false)]
    );
    append_one(&mut store, 3);
    let writes = run_writes(&mut store, &mut disk);
    // The sealed one's index (queued at the roll, after the sealed one's cut), then the
    // new segment's zeros and its record.
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(matches!(writes[0], (0, _, true, false)), "{writes:?}");
    assert_eq!(writes[1..], [(0, 80, true, true), (0, 30, true, false)]);
    assert_eq!(disk.file_mut(&segment_path(1)).unwrap().len(), 60);
    assert_eq!(disk.file_mut(&segment_path(3)).unwrap().len(), 80);
    // The sealed segment's index matches its length: read, not scanned, no log line.
    let (recovered, lines) = recover(config, &mut disk);
    assert_eq!(lines, Vec::<String>::new());
    assert!(recovered.segments[0].indexed);
    assert_eq!(recovered.state(), store.state());
}

#[test]
fn a_failed_zero_fill_leaves_plain_appends() {
    let plan = FaultPlan {
        enospc_write: Some(0),
        ..FaultPlan::default()
    };
    let mut disk = SimDisk::new(3, plan);
    let mut store = StreamStore::create(config());
    append_one(&mut store, 1);
    assert_eq!(
        run_writes(&mut store, &mut disk),
        vec![(0, 100, true, true), (0, 30, true, false)]
    );
    let seen = events(&mut store);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        matches!(&seen[0], StoreEvent::Log(line) if line.contains("errno 28")),
        "{seen:?}"
    );
    assert_eq!(seen[1], StoreEvent::Durable { through: 1 });
    // No second try in this segment: the next records append.
    for time_ns in 2..=5 {
        append_one(&mut store, time_ns);
        let writes = run_writes(&mut store, &mut disk);
        assert_eq!(writes, vec![((time_ns as u64 - 1) * 30, 30, true, false)]);
    }
    assert_eq!(disk.file_mut(&segment_path(1)).unwrap().len(), 150);
}

#[test]
fn a_power_cut_during_a_zero_fill_recovers_cleanly() {
    let (mut disk, mut store) = three_written();
    // The zero-fill of the next step runs, unsynced, and the power goes.
    append_one(&mut store, 4);
    append_one(&mut store, 5);
    let (_, op) = store.poll_io().unwrap();
    let IoOp::Write {
        offset,
        bytes,
        file,
        ..
    } = op
    else {
        panic!("a zero-fill, got {op:?}");
    };
    assert_eq!((offset, bytes.len()), (200, 100));
    disk.execute(IoOp::Write {
        file,
        offset,
        bytes,
        sync: false,
    });
    let report: CutReport = disk.power_cut();
    assert!(!report.lost_acknowledged);
    let length = disk.file_mut(&segment_path(1)).unwrap().len();
    assert!((200..=300).contains(&length), "{length}");
    let (recovered, lines) = recover(config(), &mut disk);
    assert_eq!(lines, Vec::<String>::new());
    assert_eq!(recovered.state().last_seq, 3);
    assert_eq!(recovered.segments[0].allocated, length as u64);
}

#[test]
fn only_group_commit_zero_fills() {
    for sync in [
        crate::store::SyncPolicy::Never,
        crate::store::SyncPolicy::Interval(std::time::Duration::from_secs(1)),
    ] {
        let mut config = config();
        config.sync = sync;
        let mut store = StreamStore::create(config);
        let mut disk = quiet_disk();
        append_one(&mut store, 1);
        append_one(&mut store, 2);
        assert_eq!(
            run_writes(&mut store, &mut disk),
            vec![(0, 60, false, false)],
            "{sync:?}"
        );
        assert_eq!(disk.file_mut(&segment_path(1)).unwrap().len(), 60);
    }
}
