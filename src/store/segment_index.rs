//! A sealed segment's index file (`<first seq>.idx`): the segment's live messages (where
//! they are, their subject and size) and its tombstones and compacts, so start-up reads
//! this instead of the records. Written once, after the segment's last write completed;
//! trusted only if its checksum holds and the segment still has the length it records.
//!
//! ```text
//!  magic "RMQIDX01" | segment_len u64 | count u32 |
//!  count × (kind u8 | seq u64 | time_ns i64 | offset u64 | len u32 | size u64 |
//!           subject_len u16 | subject) | crc32c u32 (over all before it)
//! ```
//! Little-endian. Markers (tombstones, compacts) have zero offset, length and size and no
//! subject.

const MAGIC: &[u8; 8] = b"RMQIDX01";
const ENTRY_FIXED_BYTES: usize = 1 + 8 + 8 + 8 + 4 + 8 + 2;

/// One entry: a live message or a marker of the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub kind: u8,
    pub seq: u64,
    pub time_ns: i64,
    pub offset: u64,
    pub len: u32,
    pub size: u64,
    pub subject: String,
}

pub(crate) fn encode(segment_len: u64, entries: &[IndexEntry]) -> Vec<u8> {
    let body: usize = entries
        .iter()
        .map(|entry| ENTRY_FIXED_BYTES + entry.subject.len())
        .sum();
    let mut out = Vec::with_capacity(8 + 8 + 4 + body + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&segment_len.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for entry in entries {
        out.push(entry.kind);
        out.extend_from_slice(&entry.seq.to_le_bytes());
        out.extend_from_slice(&entry.time_ns.to_le_bytes());
        out.extend_from_slice(&entry.offset.to_le_bytes());
        out.extend_from_slice(&entry.len.to_le_bytes());
        out.extend_from_slice(&entry.size.to_le_bytes());
        out.extend_from_slice(&(entry.subject.len() as u16).to_le_bytes());
        out.extend_from_slice(entry.subject.as_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A cursor that fails instead of panicking on short input.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(count)?)?;
        self.at += count;
        Some(slice)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
}

/// The segment length and entries, or `None` if the file is damaged in any way.
pub(crate) fn decode(bytes: &[u8]) -> Option<(u64, Vec<IndexEntry>)> {
    let body_len = bytes.len().checked_sub(4)?;
    let crc = u32::from_le_bytes(bytes[body_len..].try_into().ok()?);
    if crc32c::crc32c(&bytes[..body_len]) != crc {
        return None;
    }
    let mut cursor = Cursor {
        bytes: &bytes[..body_len],
        at: 0,
    };
    if cursor.take(8)? != MAGIC {
        return None;
    }
    let segment_len = cursor.u64()?;
    let count = cursor.u32()? as usize;
    let mut entries = Vec::with_capacity(count.min(body_len / ENTRY_FIXED_BYTES));
    for _ in 0..count {
        let kind = cursor.take(1)?[0];
        let seq = cursor.u64()?;
        let time_ns = cursor.u64()? as i64;
        let offset = cursor.u64()?;
        let len = cursor.u32()?;
        let size = cursor.u64()?;
        let subject_len = cursor.u16()? as usize;
        let subject = std::str::from_utf8(cursor.take(subject_len)?).ok()?;
        entries.push(IndexEntry {
            kind,
            seq,
            time_ns,
            offset,
            len,
            size,
            subject: subject.to_string(),
        });
    }
    (cursor.at == body_len).then_some((segment_len, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_detected() {
        let entries = vec![
            IndexEntry {
                kind: 1,
                seq: 5,
                time_ns: -1,
                offset: 0,
                len: 40,
                size: 35,
                subject: "a.b".into(),
            },
            IndexEntry {
                kind: 2,
                seq: 3,
                time_ns: 9,
                offset: 0,
                len: 0,
                size: 0,
                subject: String::new(),
            },
        ];
        let bytes = encode(1234, &entries);
        assert_eq!(bytes.len(), 8 + 8 + 4 + 2 * ENTRY_FIXED_BYTES + 3 + 4);
        assert_eq!(decode(&bytes), Some((1234, entries)));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut {cut}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(decode(&damaged), None, "bit {bit}");
        }
    }
}
