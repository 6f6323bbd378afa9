//! The on-disk record: encoding and checked decoding. Nothing here knows about files.
//!
//! ```text
//!  kind u8 | length u32 | seq u64 | time_ns i64 | subject_len u16 | [headers_len u32] |
//!  subject | headers | payload | crc32c u32 (over all before it)
//! ```
//! Little-endian; `length` is the whole record's, crc included, so the payload's length is
//! what the rest leaves. `headers_len` is there only in a message with headers (its own
//! kind), as nats-server's file store spends its 4 bytes only then: a record costs 27 bytes
//! besides its subject and payload (31 + headers with headers), nats-server's 30 (34 +
//! headers). A tombstone carries the deleted sequence; a compact record carries the new
//! first sequence (every lower one is gone). Both have no subject, headers or payload.
//! No kind is 0, so a zero byte never starts a record: the zero-filled space ahead of the
//! open segment's end (`segment`) reads as the end, not as a record.

/// A message without headers.
pub(crate) const KIND_MSG: u8 = 1;
/// "Sequence `seq` is deleted."
pub(crate) const KIND_TOMBSTONE: u8 = 2;
/// "Every sequence below `seq` is gone" (purges and limits dropping from the front).
pub(crate) const KIND_COMPACT: u8 = 3;
/// A message with headers (`headers_len` follows `subject_len`). Decoded as [`KIND_MSG`]:
/// only the encoding tells the two apart.
const KIND_MSG_WITH_HEADERS: u8 = 4;

/// Fixed bytes before the subject (or before `headers_len`).
const HEAD_BYTES: usize = 1 + 4 + 8 + 8 + 2;
/// `headers_len`, in a message with headers only.
const HEADERS_LEN_BYTES: usize = 4;
const CRC_BYTES: usize = 4;
/// A record's bytes besides its subject and payload, without headers; a message with
/// headers has [`HEADERS_LEN_BYTES`] more, besides the headers.
pub(crate) const OVERHEAD_BYTES: usize = HEAD_BYTES + CRC_BYTES;
/// The largest record a decoder accepts: anything longer is framing damage, not a record
/// (nats-server's largest `max_payload` is 64 MiB; headers and subject fit in the slack).
pub(crate) const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024 + 1024 * 1024;

/// A decoded record, borrowing the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub kind: u8,
    pub seq: u64,
    pub time_ns: i64,
    pub subject: &'a str,
    pub headers: &'a [u8],
    pub payload: &'a [u8],
}

/// Why bytes are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The bytes end before the record does (a torn tail, if nothing valid follows).
    Short,
    /// Framing or checksum failure.
    Bad(&'static str),
}

/// The encoded length of a record with these parts.
pub(crate) fn encoded_len(subject: &str, headers: &[u8], payload: &[u8]) -> usize {
    let headers_len_bytes = if headers.is_empty() {
        0
    } else {
        HEADERS_LEN_BYTES
    };
    OVERHEAD_BYTES + headers_len_bytes + subject.len() + headers.len() + payload.len()
}

/// Appends one record to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, record: &Record<'_>) {
    debug_assert!(record.subject.len() <= u16::MAX as usize);
    debug_assert!(record.kind == KIND_MSG || record.headers.is_empty());
    let start = out.len();
    let length = encoded_len(record.subject, record.headers, record.payload);
    debug_assert!(length <= MAX_RECORD_BYTES);
    let with_headers = !record.headers.is_empty();
    out.reserve(length);
    out.push(if with_headers {
        KIND_MSG_WITH_HEADERS
    } else {
        record.kind
    });
    out.extend_from_slice(&(length as u32).to_le_bytes());
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(&record.time_ns.to_le_bytes());
    out.extend_from_slice(&(record.subject.len() as u16).to_le_bytes());
    if with_headers {
        out.extend_from_slice(&(record.headers.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(record.subject.as_bytes());
    out.extend_from_slice(record.headers);
    out.extend_from_slice(record.payload);
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len() - start, length);
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word) as usize
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The record at the start of `bytes` and its length, checksum verified.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Record<'_>, usize), DecodeError> {
    if bytes.len() < HEAD_BYTES {
        return Err(DecodeError::Short);
    }
    let kind = bytes[0];
    if !(KIND_MSG..=KIND_MSG_WITH_HEADERS).contains(&kind) {
        return Err(DecodeError::Bad("unknown record kind"));
    }
    let length = u32_at(bytes, 1);
    let subject_len = u16_at(bytes, 21);
    let (headers_len, subject_start) = if kind == KIND_MSG_WITH_HEADERS {
        if bytes.len() < HEAD_BYTES + HEADERS_LEN_BYTES {
            return Err(DecodeError::Short);
        }
        (u32_at(bytes, HEAD_BYTES), HEAD_BYTES + HEADERS_LEN_BYTES)
    } else {
        (0, HEAD_BYTES)
    };
    // The payload is what the length leaves: the parts before it must fit.
    let framed = subject_start as u64 + subject_len as u64 + headers_len as u64 + CRC_BYTES as u64;
    if !(OVERHEAD_BYTES..=MAX_RECORD_BYTES).contains(&length) || framed > length as u64 {
        return Err(DecodeError::Bad("implausible length"));
    }
    if (kind == KIND_TOMBSTONE || kind == KIND_COMPACT) && length != OVERHEAD_BYTES {
        return Err(DecodeError::Bad("marker record with a body"));
    }
    if kind == KIND_MSG_WITH_HEADERS && headers_len == 0 {
        return Err(DecodeError::Bad("empty headers framed as headers"));
    }
    if bytes.len() < length {
        return Err(DecodeError::Short);
    }
    let crc = u32_at(bytes, length - CRC_BYTES) as u32;
    if crc32c::crc32c(&bytes[..length - CRC_BYTES]) != crc {
        return Err(DecodeError::Bad("checksum mismatch"));
    }
    let subject_end = subject_start + subject_len;
    let headers_end = subject_end + headers_len;
    let subject = std::str::from_utf8(&bytes[subject_start..subject_end])
        .map_err(|_| DecodeError::Bad("subject not UTF-8"))?;
    let record = Record {
        kind: if kind == KIND_MSG_WITH_HEADERS {
            KIND_MSG
        } else {
            kind
        },
        seq: u64_at(bytes, 5),
        time_ns: u64_at(bytes, 13) as i64,
        subject,
        headers: &bytes[subject_end..headers_end],
        payload: &bytes[headers_end..length - CRC_BYTES],
    };
    Ok((record, length))
}

/// The offset of the first valid record at or after `from` in `bytes`, if any. Used to
/// resynchronise after a damaged record: first by the damaged record's own length when that
/// lands on a valid record, else byte by byte.
pub(crate) fn next_valid(bytes: &[u8], from: usize) -> Option<usize> {
    if from + HEAD_BYTES <= bytes.len() {
        let length = u32_at(bytes, from + 1);
        if (OVERHEAD_BYTES..=MAX_RECORD_BYTES).contains(&length)
            && from + length < bytes.len()
            && decode(&bytes[from + length..]).is_ok()
        {
            return Some(from + length);
        }
    }
    (from + 1..bytes.len()).find(|&offset| decode(&bytes[offset..]).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_with(headers: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(
            &mut out,
            &Record {
                kind: KIND_MSG,
                seq: 7,
                time_ns: -3,
                subject: "a.b",
                headers,
                payload: b"hello",
            },
        );
        out
    }

    fn sample() -> Vec<u8> {
        sample_with(b"NATS/1.0\r\n\r\n")
    }

    #[test]
    fn round_trip_exact_layout_with_headers() {
        let bytes = sample();
        assert_eq!(bytes.len(), 27 + 4 + 3 + 12 + 5);
        assert_eq!(&bytes[..5], &[4, 51, 0, 0, 0]);
        assert_eq!(&bytes[5..13], &7u64.to_le_bytes());
        assert_eq!(&bytes[13..21], &(-3i64).to_le_bytes());
        assert_eq!(&bytes[21..27], &[3, 0, 12, 0, 0, 0]);
        assert_eq!(&bytes[27..30], b"a.b");
        assert_eq!(&bytes[30..42], b"NATS/1.0\r\n\r\n");
        assert_eq!(&bytes[42..47], b"hello");
        let crc = crc32c::crc32c(&bytes[..47]).to_le_bytes();
        assert_eq!(&bytes[47..], &crc);
        let (record, length) = decode(&bytes).unwrap();
        assert_eq!(length, bytes.len());
        assert_eq!(record.kind, KIND_MSG);
        assert_eq!(record.seq, 7);
        assert_eq!(record.time_ns, -3);
        assert_eq!(record.subject, "a.b");
        assert_eq!(record.headers, b"NATS/1.0\r\n\r\n");
        assert_eq!(record.payload, b"hello");
    }

    #[test]
    fn round_trip_exact_layout_without_headers() {
        let bytes = sample_with(b"");
        assert_eq!(bytes.len(), 27 + 3 + 5);
        assert_eq!(bytes.len(), encoded_len("a.b", b"", b"hello"));
        assert_eq!(&bytes[..5], &[1, 35, 0, 0, 0]);
        assert_eq!(&bytes[21..26], &[3, 0, b'a', b'.', b'b']);
        assert_eq!(&bytes[26..31], b"hello");
        let (record, length) = decode(&bytes).unwrap();
        assert_eq!((record.kind, length), (KIND_MSG, 35));
        assert_eq!((record.subject, record.payload), ("a.b", &b"hello"[..]));
        assert!(record.headers.is_empty());
    }

    #[test]
    fn overhead_is_at_most_nats_servers() {
        // nats-server's file store: 22 + subject + headers + payload + 8 (its hash), and
        // 4 more for the headers' length when there are headers.
        let nats = |subject: &str, headers: &[u8], payload: &[u8]| {
            let with_headers = if headers.is_empty() { 0 } else { 4 };
            22 + subject.len() + headers.len() + payload.len() + 8 + with_headers
        };
        for headers in [&b""[..], b"NATS/1.0\r\n\r\n"] {
            let ours = encoded_len("bench.x", headers, &[0; 16]);
            assert_eq!(ours + 3, nats("bench.x", headers, &[0; 16]));
        }
        let mut marker = Vec::new();
        let tombstone = Record {
            kind: KIND_TOMBSTONE,
            seq: 9,
            time_ns: 1,
            subject: "",
            headers: b"",
            payload: b"",
        };
        encode(&mut marker, &tombstone);
        assert_eq!(marker.len(), OVERHEAD_BYTES);
        assert_eq!(decode(&marker), Ok((tombstone, OVERHEAD_BYTES)));
    }

    #[test]
    fn zeros_are_never_a_record() {
        assert_eq!(
            decode(&[0; 64]),
            Err(DecodeError::Bad("unknown record kind"))
        );
        assert_eq!(next_valid(&[0; 64], 0), None);
    }

    #[test]
    fn every_prefix_is_short_and_every_bit_flip_is_caught() {
        for bytes in [sample(), sample_with(b"")] {
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "prefix {cut}");
            }
            for bit in 0..bytes.len() * 8 {
                let mut damaged = bytes.clone();
                damaged[bit / 8] ^= 1 << (bit % 8);
                assert!(decode(&damaged).is_err(), "bit {bit}");
            }
        }
    }

    #[test]
    fn next_valid_skips_a_damaged_record() {
        let mut bytes = sample();
        let second = bytes.len();
        bytes.extend_from_slice(&sample());
        bytes[10] ^= 0x40; // in the first record's sequence: its length still frames it
        assert_eq!(next_valid(&bytes, 0), Some(second));
        bytes[2] ^= 0x01; // now its length is damaged too: found by scanning
        assert_eq!(next_valid(&bytes, 0), Some(second));
    }
}
