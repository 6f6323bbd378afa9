//! Recovery from files: after a clean run, after the last record is cut at every byte
//! offset (a torn tail), after a bit flip in a middle record (reported, skipped, never
//! served) or in the last one (a torn tail).

use std::path::PathBuf;

use super::*;
use crate::store::record;
use crate::store::StoreLimits;

fn segment_path(first: u64) -> PathBuf {
    PathBuf::from(format!("{DIR}/{first}.seg"))
}

/// Five messages, each written by its own request, in one segment; returns the disk and
/// the records' start offsets (plus the end).
fn five_written() -> (SimDisk, Vec<StoredMsg>, Vec<usize>) {
    let mut store = StreamStore::create(file_config());
    let mut disk = quiet_disk();
    let mut msgs = Vec::new();
    let mut offsets = vec![0];
    for n in 1..=5u8 {
        let subject = format!("orders.{n}");
        let payload = vec![n; n as usize * 3];
        let headers = if n % 2 == 0 {
            b"NATS/1.0\r\n\r\n".to_vec()
        } else {
            Vec::new()
        };
        store
            .append(&subject, &headers, &payload, i64::from(n) * 100)
            .unwrap();
        disk.run(&mut store);
        msgs.push(msg(
            u64::from(n),
            &subject,
            &headers,
            &payload,
            i64::from(n) * 100,
        ));
        let len = record::encoded_len(&subject, &headers, &payload);
        offsets.push(offsets.last().unwrap() + len);
    }
    assert_eq!(
        events(&mut store).last(),
        Some(&StoreEvent::Durable { through: 5 })
    );
    (disk, msgs, offsets)
}

fn assert_present(store: &mut StreamStore, disk: &mut SimDisk, expected: &[StoredMsg]) {
    for msg in expected {
        assert_eq!(
            read(store, disk, msg.seq),
            Ok(Some(msg.clone())),
            "seq {}",
            msg.seq
        );
    }
}

#[test]
fn clean_run_recovers_state_and_bytes() {
    let mut config = file_config();
    config.segment_bytes = 150;
    config.limits = StoreLimits {
        max_msgs_per_subject: 3,
        ..StoreLimits::default()
    };
    let mut store = StreamStore::create(config.clone());
    let mut disk = quiet_disk();
    for n in 0..40u64 {
        let subject = format!("s.{}", n % 5);
        store
            .append(&subject, b"", &n.to_le_bytes(), n as i64)
            .unwrap();
        if n % 3 == 0 {
            disk.run(&mut store);
        }
    }
    assert!(store.delete(30));
    assert_eq!(store.purge(Some("s.1"), None, None), 3);
    disk.run(&mut store);
    let (mut recovered, lines) = recover(config, &mut disk);
    assert_eq!(lines, Vec::<String>::new());
    assert_eq!(recovered.state(), store.state());
    assert_eq!(recovered.deleted(), store.deleted());
    assert_eq!(
        recovered.subjects_matching(">"),
        store.subjects_matching(">")
    );
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (11, 26, 40));
    for seq in 0..=41 {
        let original = read(&mut store, &mut disk, seq).unwrap();
        assert_eq!(
            read(&mut recovered, &mut disk, seq),
            Ok(original),
            "seq {seq}"
        );
    }
    assert_eq!(recovered.append("s.9", b"", b"next", 99), Ok(41));
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_cut() {
    let (disk, msgs, offsets) = five_written();
    let (start, end) = (offsets[4], offsets[5]);
    for cut in start..end {
        let mut disk = disk.clone();
        disk.file_mut(&segment_path(1)).unwrap().truncate(cut);
        disk.settle();
        let (mut store, lines) = recover(file_config(), &mut disk);
        let state = store.state();
        assert_eq!(
            (state.msgs, state.first_seq, state.last_seq),
            (4, 1, 4),
            "cut {cut}"
        );
        assert_present(&mut store, &mut disk, &msgs[..4]);
        assert_eq!(store.get(5), Lookup::Missing);
        let torn_logged = lines.iter().any(|line| line.contains("torn tail"));
        assert_eq!(torn_logged, cut > start, "cut {cut}: {lines:?}");
        assert_eq!(disk.file_mut(&segment_path(1)).unwrap().len(), start);
        // The sequence goes on from the last record kept, and the new record lands where the
        // torn one began.
        assert_eq!(store.append("orders.new", b"", b"again", 600), Ok(5));
        disk.run(&mut store);
        assert!(events(&mut store).contains(&StoreEvent::Durable { through: 5 }));
        let (mut again, lines) = recover(file_config(), &mut disk);
        assert_eq!(lines, Vec::<String>::new());
        assert_eq!(again.state().msgs, 5);
        let expected = msg(5, "orders.new", b"", b"again", 600);
        assert_eq!(read(&mut again, &mut disk, 5), Ok(Some(expected)));
    }
}

#[test]
fn a_flipped_bit_in_a_middle_record_is_reported_and_never_served() {
    let (disk, msgs, offsets) = five_written();
    let (start, end) = (offsets[2], offsets[3]);
    for bit in start * 8..end * 8 {
        let mut disk = disk.clone();
        disk.file_mut(&segment_path(1)).unwrap()[bit / 8] ^= 1 << (bit % 8);
        disk.settle();
        let (mut store, lines) = recover(file_config(), &mut disk);
        let state = store.state();
        assert_eq!(
            (
                state.msgs,
                state.first_seq,
                state.last_seq,
                state.num_deleted
            ),
            (4, 1, 5, 1),
            "bit {bit}"
        );
        assert_eq!(store.deleted(), vec![3]);
        assert_eq!(store.get(3), Lookup::Missing);
        let expected: Vec<StoredMsg> = msgs.iter().filter(|msg| msg.seq != 3).cloned().collect();
        assert_present(&mut store, &mut disk, &expected);
        assert_eq!(lines.len(), 1, "bit {bit}: {lines:?}");
        assert!(lines[0].contains("damaged record at offset"), "{lines:?}");
        assert!(
            lines[0].contains(&format!("{} bytes skipped", end - start)),
            "{lines:?}"
        );
        assert_eq!(store.append("orders.new", b"", b"x", 600), Ok(6));
    }
}

#[test]
fn a_flipped_bit_in_the_last_record_is_a_torn_tail() {
    let (mut disk, msgs, offsets) = five_written();
    disk.file_mut(&segment_path(1)).unwrap()[offsets[4] + 12] ^= 0x01;
    disk.settle();
    let (mut store, lines) = recover(file_config(), &mut disk);
    assert_eq!(store.state().last_seq, 4);
    assert_present(&mut store, &mut disk, &msgs[..4]);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("torn tail at offset"), "{lines:?}");
}

#[test]
fn an_absent_directory_is_a_new_stream() {
    let mut disk = quiet_disk();
    let (mut store, lines) = recover(file_config(), &mut disk);
    assert!(lines.is_empty());
    assert_eq!(store.state(), crate::store::StreamState::default());
    assert_eq!(store.append("a", b"", b"x", 1), Ok(1));
    disk.run(&mut store);
    assert_eq!(disk.file_names(), vec![segment_path(1)]);
}
