//! The store's API with exact counts: appends, group commit, reads, deletes, limits,
//! purges, expiry, filters, meta, destroy; memory and file storage.

use super::*;
use crate::store::record::OVERHEAD_BYTES;
use crate::store::{Discard, IoOp, IoResult, StdDriver, StdFs, StoreLimits, SyncPolicy};

fn append(store: &mut StreamStore, subject: &str, payload: &[u8], now_ns: i64) -> u64 {
    store.append(subject, &[], payload, now_ns).expect("append")
}

#[test]
fn appends_get_sequences_and_file_sizes() {
    let mut store = StreamStore::create(file_config());
    assert_eq!(append(&mut store, "a", b"xx", 10), 1);
    assert_eq!(store.append("b", b"H", b"xx", 11), Ok(2));
    assert_eq!(append(&mut store, "a", b"xx", 12), 3);
    let state = store.state();
    // nats-server's file store sizes: 22 + subject + payload + 8, plus 4 + headers.
    assert_eq!(state.bytes, 33 + 38 + 33);
    assert_eq!(
        (
            state.msgs,
            state.first_seq,
            state.last_seq,
            state.num_subjects
        ),
        (3, 1, 3, 2)
    );
    assert_eq!(
        (state.first_ts_ns, state.last_ts_ns, state.num_deleted),
        (10, 12, 0)
    );
    assert_eq!(store.last_for_subject("a"), Some(3));
    assert_eq!(store.last_for_subject("c"), None);
    assert_eq!(store.get(2), Lookup::Ready(msg(2, "b", b"H", b"xx", 11)));
    assert_eq!(store.get(4), Lookup::Missing);
}

#[test]
fn memory_stream_is_durable_at_once_and_sizes_as_nats_memory_store() {
    let mut store = StreamStore::create(memory_config());
    assert_eq!(store.append("a", b"H", b"xx", 1), Ok(1));
    assert_eq!(store.poll_io(), None);
    assert_eq!(events(&mut store), vec![StoreEvent::Durable { through: 1 }]);
    assert_eq!(store.state().bytes, 1 + 1 + 2 + 16);
    assert!(store.idle());
    store.destroy();
    assert_eq!(store.poll_io(), None);
    assert_eq!(store.state().msgs, 0);
}

#[test]
fn group_commit_batches_appends_made_while_a_sync_runs() {
    let mut store = StreamStore::create(file_config());
    let (token, op) = store.poll_io().unwrap();
    assert_eq!(op, IoOp::MkDirAll { path: DIR.into() });
    assert_eq!(store.poll_io(), None, "one sequential request at a time");
    store.complete(token, IoResult::Ok);
    let (token, op) = store.poll_io().unwrap();
    assert_eq!(
        op,
        IoOp::Open {
            file: 1,
            path: format!("{DIR}/1.seg").into(),
            create: true
        }
    );
    for _ in 0..3 {
        append(&mut store, "a", b"xx", 5);
    }
    store.complete(token, IoResult::Opened);
    let record_bytes = OVERHEAD_BYTES as u64 + 1 + 2;
    let (token, op) = store.poll_io().unwrap();
    let IoOp::Write {
        file,
        offset,
        bytes,
        sync,
    } = op
    else {
        panic!("a write, got {op:?}");
    };
    assert_eq!(
        (file, offset, bytes.len() as u64, sync),
        (1, 0, 3 * record_bytes, true)
    );
    append(&mut store, "a", b"xx", 6);
    append(&mut store, "a", b"xx", 6);
    assert_eq!(store.poll_io(), None, "the next batch waits for the sync");
    assert_eq!(events(&mut store), vec![]);
    store.complete(token, IoResult::Ok);
    assert_eq!(events(&mut store), vec![StoreEvent::Durable { through: 3 }]);
    let (token, op) = store.poll_io().unwrap();
    let IoOp::Write { offset, bytes, .. } = op else {
        panic!("a write, got {op:?}");
    };
    assert_eq!(
        (offset, bytes.len() as u64),
        (3 * record_bytes, 2 * record_bytes)
    );
    store.complete(token, IoResult::Ok);
    assert_eq!(events(&mut store), vec![StoreEvent::Durable { through: 5 }]);
    assert!(store.idle());
}

#[test]
fn sync_never_acknowledges_after_the_write() {
    let mut config = file_config();
    config.sync = SyncPolicy::Never;
    let mut store = StreamStore::create(config);
    let mut disk = quiet_disk();
    append(&mut store, "a", b"xx", 5);
    let mut writes = Vec::new();
    while let Some((token, op)) = store.poll_io() {
        if let IoOp::Write { sync, .. } = &op {
            writes.push(*sync);
        }
        let result = disk.execute(op);
        store.complete(token, result);
    }
    assert_eq!(writes, vec![false]);
    assert_eq!(events(&mut store), vec![StoreEvent::Durable { through: 1 }]);
}

#[test]
fn reads_come_from_disk_once_evicted_and_are_checked() {
    let mut config = file_config();
    config.cache_bytes = 0;
    let mut store = StreamStore::create(config);
    let mut disk = quiet_disk();
    store.append("a.b", b"NATS/1.0\r\n\r\n", b"one", 7).unwrap();
    assert!(
        matches!(store.get(1), Lookup::Ready(_)),
        "unwritten: cached"
    );
    disk.run(&mut store);
    assert!(
        matches!(store.get(1), Lookup::Pending(_)),
        "written: evicted"
    );
    let expected = msg(1, "a.b", b"NATS/1.0\r\n\r\n", b"one", 7);
    assert_eq!(read(&mut store, &mut disk, 1), Ok(Some(expected)));
    // A bit flipped on disk: the read fails its checksum and is never served.
    let path = std::path::PathBuf::from(format!("{DIR}/1.seg"));
    disk.file_mut(&path).unwrap()[40] ^= 0x10;
    let result = read(&mut store, &mut disk, 1);
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
    assert!(events(&mut store)
        .iter()
        .any(|event| matches!(event, StoreEvent::Log(line) if line.contains("checksum"))));
}

#[test]
fn deletes_leave_interior_gaps() {
    let mut store = StreamStore::create(memory_config());
    for time in 0..5 {
        append(&mut store, "a", b"x", time);
    }
    assert!(store.delete(2));
    assert!(!store.delete(2));
    assert!(store.delete(4));
    assert_eq!(store.deleted(), vec![2, 4]);
    assert_eq!((store.state().msgs, store.state().num_deleted), (3, 2));
    assert!(store.delete(1));
    assert_eq!((store.state().first_seq, store.state().num_deleted), (3, 1));
    assert!(store.delete(5));
    // A deleted last message keeps its sequence as the last (nats-server's count).
    let state = store.state();
    assert_eq!(
        (
            state.msgs,
            state.first_seq,
            state.last_seq,
            state.num_deleted
        ),
        (1, 3, 5, 2)
    );
    assert_eq!(store.deleted(), vec![4, 5]);
    assert_eq!(append(&mut store, "a", b"x", 9), 6);
}

fn limited(limits: StoreLimits) -> StreamStore {
    let mut config = memory_config();
    config.limits = limits;
    StreamStore::create(config)
}

#[test]
fn discard_old_drops_from_the_front() {
    let mut store = limited(StoreLimits {
        max_msgs: 3,
        ..StoreLimits::default()
    });
    for time in 0..5 {
        append(&mut store, "a", b"x", time);
    }
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (3, 3, 5));
    // 18 bytes a message in memory ("a" + "x" + 16): 40 bytes hold two.
    let mut store = limited(StoreLimits {
        max_bytes: 40,
        ..StoreLimits::default()
    });
    for time in 0..5 {
        append(&mut store, "a", b"x", time);
    }
    assert_eq!(
        (
            store.state().msgs,
            store.state().bytes,
            store.state().first_seq
        ),
        (2, 36, 4)
    );
}

#[test]
fn discard_new_refuses() {
    let mut store = limited(StoreLimits {
        max_msgs: 2,
        discard: Discard::New,
        ..StoreLimits::default()
    });
    append(&mut store, "a", b"x", 0);
    append(&mut store, "b", b"x", 0);
    assert_eq!(store.append("c", &[], b"x", 0), Err(StoreError::MaxMsgs));
    assert_eq!(store.state().last_seq, 2);
    let mut store = limited(StoreLimits {
        max_bytes: 40,
        discard: Discard::New,
        ..StoreLimits::default()
    });
    append(&mut store, "a", b"x", 0);
    append(&mut store, "a", b"x", 0);
    assert_eq!(
        store.append("a", &[], b"xxxx", 0),
        Err(StoreError::MaxBytes)
    );
    let mut store = limited(StoreLimits {
        max_msg_size: 4,
        ..StoreLimits::default()
    });
    assert_eq!(
        store.append("a", b"HH", b"xxx", 0),
        Err(StoreError::MaxMsgSize)
    );
    assert_eq!(store.append("a", b"HH", b"xx", 0), Ok(1));
}

#[test]
fn per_subject_limits() {
    let mut store = limited(StoreLimits {
        max_msgs_per_subject: 2,
        ..StoreLimits::default()
    });
    for subject in ["a", "b", "a", "a", "a"] {
        append(&mut store, subject, b"x", 0);
    }
    assert_eq!(
        store.subjects_matching(">"),
        vec![("a".into(), 2), ("b".into(), 1)]
    );
    assert_eq!(store.deleted(), vec![3]);
    assert_eq!(store.state().first_seq, 2);
    let mut store = limited(StoreLimits {
        max_msgs_per_subject: 1,
        discard: Discard::New,
        discard_new_per_subject: true,
        ..StoreLimits::default()
    });
    append(&mut store, "a", b"x", 0);
    assert_eq!(
        store.append("a", &[], b"x", 0),
        Err(StoreError::MaxMsgsPerSubject)
    );
    assert_eq!(store.append("b", &[], b"x", 0), Ok(2));
    // Lowered limits apply at once.
    let mut store = limited(StoreLimits::default());
    for subject in ["a", "a", "a", "b"] {
        append(&mut store, subject, b"x", 0);
    }
    store.set_limits(StoreLimits {
        max_msgs_per_subject: 1,
        ..StoreLimits::default()
    });
    assert_eq!(
        store.subjects_matching(">"),
        vec![("a".into(), 1), ("b".into(), 1)]
    );
    assert_eq!(store.state().first_seq, 3);
}

fn five_subjects() -> StreamStore {
    let mut store = StreamStore::create(memory_config());
    for (time, subject) in ["o.1", "o.2", "p.1", "o.1", "p.2"].into_iter().enumerate() {
        append(&mut store, subject, b"x", time as i64);
    }
    store
}

#[test]
fn purge_variants_count_exactly() {
    let mut store = five_subjects();
    assert_eq!(store.purge(None, None, None), 5);
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 6, 5));
    assert_eq!(append(&mut store, "o.1", b"x", 9), 6);

    let mut store = five_subjects();
    assert_eq!(store.purge(None, Some(3), None), 2);
    assert_eq!(store.state().first_seq, 3);
    let mut store = five_subjects();
    assert_eq!(store.purge(None, None, Some(2)), 3);
    assert_eq!(store.state().first_seq, 4);
    let mut store = five_subjects();
    assert_eq!(store.purge(Some("o.*"), None, None), 3);
    assert_eq!(store.deleted(), vec![4]);
    assert_eq!(store.state().first_seq, 3);
    let mut store = five_subjects();
    assert_eq!(store.purge(Some("o.*"), None, Some(1)), 2);
    assert_eq!(store.next_matching(0, Some("o.*")), Some(4));
    let mut store = five_subjects();
    assert_eq!(store.purge(Some("o.1"), Some(4), None), 1);
    assert_eq!(store.last_for_subject("o.1"), Some(4));
    // A floor past the end moves the next sequence (nats-server's compact).
    let mut store = five_subjects();
    assert_eq!(store.purge(None, Some(10), None), 5);
    assert_eq!(append(&mut store, "o.1", b"x", 9), 10);
}

#[test]
fn filters_pending_and_subjects() {
    let store = five_subjects();
    assert_eq!(store.next_matching(0, None), Some(1));
    assert_eq!(store.next_matching(2, Some("p.*")), Some(3));
    assert_eq!(store.next_matching(4, Some("p.1")), None);
    assert_eq!(store.next_matching(2, Some("o.1")), Some(4));
    assert_eq!(store.next_matching(1, Some(">")), Some(1));
    assert_eq!(store.num_pending(1, None), 5);
    assert_eq!(store.num_pending(2, Some("o.>")), 2);
    assert_eq!(store.num_pending(1, Some("o.1")), 2);
    assert_eq!(store.num_pending(1, Some("*.2")), 2);
    assert_eq!(store.num_pending(1, Some("q")), 0);
    assert_eq!(
        store.subjects_matching("o.*"),
        vec![("o.1".into(), 2), ("o.2".into(), 1)]
    );
}

#[test]
fn expire_drops_messages_older_than_max_age() {
    let mut store = limited(StoreLimits {
        max_age_ns: 10,
        ..StoreLimits::default()
    });
    for time in [0, 5, 20] {
        append(&mut store, "a", b"x", time);
    }
    assert_eq!(store.expire(15), 2);
    assert_eq!(store.expire(15), 0);
    assert_eq!((store.state().msgs, store.state().first_seq), (1, 3));
    assert_eq!(store.expire(30), 1);
    assert_eq!((store.state().msgs, store.state().first_seq), (0, 4));
}

#[test]
fn segments_roll_and_empty_ones_are_dropped() {
    let mut config = file_config();
    config.segment_bytes = 80; // two 30-byte records a segment
    let mut store = StreamStore::create(config.clone());
    let mut disk = quiet_disk();
    for _ in 0..7 {
        append(&mut store, "a", b"xx", 1);
        disk.run(&mut store);
    }
    let names = |disk: &SimDisk| -> Vec<String> {
        let mut names: Vec<String> = disk
            .file_names()
            .iter()
            .map(|path| path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let all = [
        "1.idx", "1.seg", "3.idx", "3.seg", "5.idx", "5.seg", "7.seg",
    ];
    assert_eq!(names(&disk), all);
    assert_eq!(store.purge(None, Some(6), None), 5);
    disk.run(&mut store);
    assert_eq!(names(&disk), vec!["5.idx", "5.seg", "7.seg"]);
    let (mut recovered, lines) = recover(config.clone(), &mut disk);
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(recovered.state(), store.state());
    assert_eq!(read(&mut recovered, &mut disk, 6).unwrap().unwrap().seq, 6);

    // A damaged index is reported, the segment scanned instead, and the index rewritten.
    let index_path = std::path::PathBuf::from(format!("{DIR}/5.idx"));
    disk.file_mut(&index_path).unwrap()[30] ^= 0x04;
    disk.settle();
    let (rescanned, lines) = recover(config.clone(), &mut disk);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("5.idx: index unusable (damaged)"),
        "{lines:?}"
    );
    assert_eq!(rescanned.state(), store.state());
    let (_, lines) = recover(config.clone(), &mut disk);
    assert!(lines.is_empty(), "rewritten: {lines:?}");

    // A sealed segment is not scanned at start-up: a bit flipped in its record is caught
    // when the record is read, and never served.
    let segment_path = std::path::PathBuf::from(format!("{DIR}/5.seg"));
    let record_bytes = OVERHEAD_BYTES + 1 + 2;
    // In the second record (6)'s checksum.
    disk.file_mut(&segment_path).unwrap()[2 * record_bytes - 2] ^= 0x80;
    disk.settle();
    let (mut recovered, lines) = recover(config, &mut disk);
    assert!(lines.is_empty(), "{lines:?}");
    let result = read(&mut recovered, &mut disk, 6);
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
}

#[test]
fn meta_is_written_atomically_and_recovered() {
    let mut store = StreamStore::create(file_config());
    let mut disk = quiet_disk();
    store.set_meta(b"{\"name\":\"S\"}".to_vec());
    disk.run(&mut store);
    store.set_meta(b"{\"name\":\"S\",\"v\":2}".to_vec());
    disk.run(&mut store);
    let mut lines = Vec::new();
    let (_, meta) = StreamStore::recover(file_config(), &mut disk, &mut |l| lines.push(l)).unwrap();
    assert_eq!(meta.as_deref(), Some(&b"{\"name\":\"S\",\"v\":2}"[..]));
    assert!(!disk
        .file_names()
        .iter()
        .any(|path| path.ends_with("meta.json.tmp")));
}

#[test]
fn destroy_removes_every_file() {
    let mut config = file_config();
    config.segment_bytes = 80;
    let mut store = StreamStore::create(config);
    let mut disk = quiet_disk();
    store.set_meta(b"{}".to_vec());
    for _ in 0..5 {
        append(&mut store, "a", b"xx", 1);
        disk.run(&mut store);
    }
    // Three segments, the two sealed ones' indexes, the meta.
    assert_eq!(disk.file_names().len(), 6);
    store.destroy();
    disk.run(&mut store);
    assert!(disk.file_names().is_empty());
    assert!(store.idle());
    assert_eq!(store.get(1), Lookup::Missing);
    assert_eq!(store.append("a", &[], b"x", 1), Err(StoreError::Destroyed));
}

#[test]
fn std_driver_round_trip_on_a_real_directory() {
    let dir = std::env::temp_dir().join(format!("ringmq-store-std-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = StoreConfig::new(dir.clone(), StorageKind::File);
    config.segment_bytes = 200;
    let mut store = StreamStore::create(config.clone());
    let mut driver = StdDriver::new();
    for n in 0..10u8 {
        store.append("s.x", b"", &[n; 9], i64::from(n)).unwrap();
        driver.run(&mut store);
    }
    assert!(store.delete(4));
    store.set_meta(b"meta".to_vec());
    driver.run(&mut store);
    assert_eq!(
        events(&mut store).last(),
        Some(&StoreEvent::Durable { through: 10 })
    );
    let mut lines = Vec::new();
    let (mut recovered, meta) =
        StreamStore::recover(config, &mut StdFs, &mut |line| lines.push(line)).unwrap();
    let mut driver = StdDriver::new();
    driver.run(&mut recovered);
    assert_eq!(meta, Some(b"meta".to_vec()));
    assert_eq!(lines, Vec::<String>::new());
    assert_eq!(recovered.state(), store.state());
    let Lookup::Pending(ticket) = recovered.get(7) else {
        panic!("recovered records are read from disk");
    };
    driver.run(&mut recovered);
    assert_eq!(
        events(&mut recovered),
        vec![StoreEvent::ReadDone {
            ticket,
            msg: Ok(msg(7, "s.x", b"", &[6; 9], 6))
        }]
    );
    recovered.destroy();
    driver.run(&mut recovered);
    assert!(!dir.exists());
}

#[test]
fn sync_interval_syncs_written_files_on_tick() {
    let mut config = file_config();
    config.sync = SyncPolicy::Interval(std::time::Duration::from_nanos(100));
    let mut store = StreamStore::create(config);
    let mut disk = quiet_disk();
    disk.run(&mut store);
    store.tick(1_000);
    append(&mut store, "a", b"xx", 5);
    let mut ops = Vec::new();
    let mut drive = |store: &mut StreamStore, ops: &mut Vec<String>| {
        while let Some((token, op)) = store.poll_io() {
            ops.push(match &op {
                IoOp::Write { sync, .. } => format!("write sync={sync}"),
                IoOp::Sync { file } => format!("sync {file}"),
                other => format!("{other:?}"),
            });
            let result = disk.execute(op);
            store.complete(token, result);
        }
    };
    drive(&mut store, &mut ops);
    assert_eq!(ops, vec!["write sync=false"]);
    assert_eq!(events(&mut store), vec![StoreEvent::Durable { through: 1 }]);
    store.tick(1_050);
    drive(&mut store, &mut ops);
    assert_eq!(ops.len(), 1, "not yet: 50 of 100 ns");
    store.tick(1_100);
    drive(&mut store, &mut ops);
    assert_eq!(ops, vec!["write sync=false", "sync 1"]);
    store.tick(1_300);
    drive(&mut store, &mut ops);
    assert_eq!(ops.len(), 2, "nothing written since");
}

#[test]
fn a_read_racing_a_segment_drop_is_answered() {
    let mut config = file_config();
    config.segment_bytes = 80;
    config.cache_bytes = 0;
    let mut store = StreamStore::create(config);
    let mut disk = quiet_disk();
    for _ in 0..3 {
        append(&mut store, "a", b"xx", 1);
        disk.run(&mut store);
    }
    let Lookup::Pending(ticket) = store.get(1) else {
        panic!("evicted");
    };
    // The segment is dropped while the read waits: the read goes first, then the close.
    assert_eq!(store.purge(None, Some(3), None), 2);
    disk.run(&mut store);
    let answers: Vec<StoreEvent> = events(&mut store)
        .into_iter()
        .filter(|event| matches!(event, StoreEvent::ReadDone { .. }))
        .collect();
    assert_eq!(
        answers,
        vec![StoreEvent::ReadDone {
            ticket,
            msg: Err(StoreError::NotFound)
        }]
    );
    assert!(store.idle());
    assert!(!disk.file_names().iter().any(|path| path.ends_with("1.seg")));
}

#[test]
fn a_failed_segment_open_fails_its_appends_and_is_retried() {
    let mut store = StreamStore::create(file_config());
    let (token, _) = store.poll_io().unwrap();
    store.complete(token, IoResult::Ok);
    let (token, op) = store.poll_io().unwrap();
    assert!(matches!(op, IoOp::Open { file: 1, .. }), "{op:?}");
    append(&mut store, "a", b"xx", 1);
    store.complete(token, IoResult::Err(libc::EMFILE));
    let seen = events(&mut store);
    assert_eq!(
        seen.last(),
        Some(&StoreEvent::AppendFailed {
            first: 1,
            last: 1,
            errno: libc::EMFILE
        })
    );
    assert_eq!((store.state().msgs, store.state().last_seq), (0, 0));
    assert_eq!(append(&mut store, "b", b"yy", 2), 1);
    let (token, op) = store.poll_io().unwrap();
    assert_eq!(
        op,
        IoOp::Open {
            file: 1,
            path: format!("{DIR}/1.seg").into(),
            create: true
        }
    );
    store.complete(token, IoResult::Opened);
    let (token, op) = store.poll_io().unwrap();
    assert!(matches!(op, IoOp::Write { offset: 0, .. }), "{op:?}");
    store.complete(token, IoResult::Ok);
    assert_eq!(events(&mut store), vec![StoreEvent::Durable { through: 1 }]);
    assert_eq!(store.get(1), Lookup::Ready(msg(1, "b", b"", b"yy", 2)));
}
