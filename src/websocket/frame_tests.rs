use super::*;
use proptest::prelude::*;

/// A client frame as a browser sends it: masked with `key`.
fn client_frame(first_byte: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut frame = vec![first_byte];
    match payload.len() {
        n if n <= 125 => frame.push(MASK_BIT | n as u8),
        n if n < 65536 => {
            frame.push(MASK_BIT | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(MASK_BIT | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    let start = frame.len();
    frame.extend_from_slice(payload);
    unmask(&mut frame[start..], key, 0);
    frame
}

/// Everything the decoder yields for `stream` fed in the given pieces: the data bytes and
/// a log of the other frames.
fn decode_in_pieces(stream: &[u8], cuts: &[usize]) -> (Vec<u8>, Vec<String>) {
    let mut decoder = Decoder::new(true, 1 << 20);
    let mut data = Vec::new();
    let mut events = Vec::new();
    let mut start = 0;
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c < stream.len()).collect();
    bounds.sort_unstable();
    bounds.push(stream.len());
    for end in bounds {
        if end < start {
            continue;
        }
        let mut piece = stream[start..end].to_vec();
        let mut position = 0;
        loop {
            match decoder.next(&mut piece, &mut position) {
                Ok(None) => break,
                Ok(Some(Frame::Data {
                    range, message_end, ..
                })) => {
                    data.extend_from_slice(&piece[range]);
                    if message_end {
                        events.push("end".to_string());
                    }
                }
                Ok(Some(Frame::Ping)) => events.push(format!(
                    "ping {:?}",
                    String::from_utf8_lossy(decoder.control_payload())
                )),
                Ok(Some(Frame::Pong)) => events.push("pong".to_string()),
                Ok(Some(Frame::Close { status, body })) => {
                    events.push(format!("close {status} {body}"))
                }
                Err(error) => {
                    events.push(format!("error {} {error}", error.status()));
                    return (data, events);
                }
            }
        }
        start = end;
    }
    (data, events)
}

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

#[test]
fn a_nats_line_split_over_three_frames_reads_as_one_stream() {
    // beyond-core §C.3: `SUB chat.` / `room 1\r\nPUB chat.room 5\r\nhel` / `lo\r\nPING\r\n`.
    let mut stream = client_frame(0x02, b"SUB chat.", KEY);
    stream.extend(client_frame(0x82, b"room 1\r\nPUB chat.room 5\r\nhel", KEY));
    stream.extend(client_frame(0x81, b"lo\r\nPING\r\n", [1, 2, 3, 4]));
    // A frame with opcode 2 and no FIN opens a message; the next binary frame is a new
    // message started before the first ended.
    let (data, events) = decode_in_pieces(&stream, &[]);
    assert_eq!(data, b"SUB chat.");
    assert_eq!(
        events,
        ["error 1002 new message started before final frame for previous message was received"]
    );
    // As separate final frames they are one NATS stream.
    let mut stream = client_frame(0x82, b"SUB chat.", KEY);
    stream.extend(client_frame(0x82, b"room 1\r\nPUB chat.room 5\r\nhel", KEY));
    stream.extend(client_frame(0x81, b"lo\r\nPING\r\n", [1, 2, 3, 4]));
    let (data, events) = decode_in_pieces(&stream, &[]);
    assert_eq!(
        data,
        b"SUB chat.room 1\r\nPUB chat.room 5\r\nhello\r\nPING\r\n"
    );
    assert_eq!(events, ["end", "end", "end"]);
}

#[test]
fn fragments_continue_a_message_and_controls_may_come_between_them() {
    let mut stream = client_frame(0x02, b"PUB a 5\r\n", KEY);
    stream.extend(client_frame(0x89, b"hi", KEY));
    stream.extend(client_frame(0x00, b"hel", KEY));
    stream.extend(client_frame(0x80, b"lo\r\n", KEY));
    stream.extend(client_frame(0x8A, b"", KEY));
    let (data, events) = decode_in_pieces(&stream, &[]);
    assert_eq!(data, b"PUB a 5\r\nhello\r\n");
    assert_eq!(events, ["ping \"hi\"", "end", "pong"]);
}

#[test]
fn close_frames_carry_status_and_body_or_1005() {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    let (_, events) = decode_in_pieces(&client_frame(0x88, &payload, KEY), &[3]);
    assert_eq!(events, ["close 1000 bye"]);
    let (_, events) = decode_in_pieces(&client_frame(0x88, b"", KEY), &[]);
    assert_eq!(events, ["close 1005 "]);
    let (_, events) = decode_in_pieces(&client_frame(0x88, &[3, 232, 0xff, 0xfe], KEY), &[]);
    assert_eq!(events, ["close 1007 invalid utf8 body in close frame"]);
}

#[test]
fn framing_faults_get_nats_servers_texts() {
    let unmasked = [0x82u8, 0x02, b'h', b'i'];
    assert_eq!(
        decode_in_pieces(&unmasked, &[]).1,
        ["error 1002 mask bit missing"]
    );
    let long_ping = client_frame(0x89, &[b'x'; 126], KEY);
    assert_eq!(
        decode_in_pieces(&long_ping, &[]).1,
        ["error 1002 control frame length bigger than maximum allowed of 125 bytes"]
    );
    let fragmented_ping = client_frame(0x09, b"x", KEY);
    assert_eq!(
        decode_in_pieces(&fragmented_ping, &[]).1,
        ["error 1002 control frame does not have final bit set"]
    );
    let stray_continuation = client_frame(0x80, b"x", KEY);
    assert_eq!(
        decode_in_pieces(&stray_continuation, &[]).1,
        ["error 1002 invalid continuation frame"]
    );
    let mut compressed_continuation = client_frame(0x02, b"a", KEY);
    compressed_continuation.extend(client_frame(0xC0, b"b", KEY));
    assert_eq!(
        decode_in_pieces(&compressed_continuation, &[]).1,
        ["error 1002 invalid continuation frame"]
    );
    let reserved = client_frame(0x83, b"x", KEY);
    assert_eq!(
        decode_in_pieces(&reserved, &[]).1,
        ["error 1002 unknown opcode 3"]
    );
    let reserved_control = client_frame(0x8B, b"x", KEY);
    assert_eq!(
        decode_in_pieces(&reserved_control, &[]).1,
        ["error 1002 unknown opcode 11"]
    );
}

#[test]
fn a_compressed_frame_over_the_bound_is_refused_and_a_long_length_form_is_read_as_written() {
    let mut decoder = Decoder::new(true, 100);
    let mut frame = client_frame(0xC2, &[b'x'; 101], KEY);
    let mut position = 0;
    assert_eq!(
        decoder.next(&mut frame, &mut position),
        Err(FrameError::TooLarge {
            length: 101,
            max: 100
        })
    );
    // Uncompressed, the same frame streams through.
    let mut decoder = Decoder::new(true, 100);
    let mut frame = client_frame(0x82, &[b'x'; 101], KEY);
    let mut position = 0;
    assert!(matches!(
        decoder.next(&mut frame, &mut position),
        Ok(Some(Frame::Data { .. }))
    ));
    // A 5-byte payload in the 8-byte length form (not minimal) is read as written.
    let mut frame = vec![0x82, MASK_BIT | 127, 0, 0, 0, 0, 0, 0, 0, 5];
    frame.extend_from_slice(&KEY);
    let start = frame.len();
    frame.extend_from_slice(b"PING\n");
    unmask(&mut frame[start..], KEY, 0);
    let (data, events) = decode_in_pieces(&frame, &[]);
    assert_eq!(data, b"PING\n");
    assert_eq!(events, ["end"]);
}

#[test]
fn unmasking_in_pieces_matches_unmasking_at_once() {
    let original: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let mut whole = original.clone();
    unmask(&mut whole, KEY, 0);
    for cut in [0, 1, 3, 7, 8, 9, 500, 999] {
        let mut split = original.clone();
        let (first, second) = split.split_at_mut(cut);
        let position = unmask(first, KEY, 0);
        unmask(second, KEY, position);
        assert_eq!(split, whole, "cut at {cut}");
    }
    unmask(&mut whole, KEY, 0);
    assert_eq!(whole, original);
}

#[test]
fn server_headers_use_the_shortest_length_form() {
    let mut header = [0u8; MAX_HEADER_BYTES];
    assert_eq!(
        write_header(&mut header, opcode::BINARY, true, true, false, 5),
        2
    );
    assert_eq!(&header[..2], &[0x82, 5]);
    assert_eq!(
        write_header(&mut header, opcode::BINARY, true, true, true, 126),
        4
    );
    assert_eq!(&header[..4], &[0xC2, 126, 0, 126]);
    assert_eq!(
        write_header(&mut header, opcode::BINARY, false, false, false, 65536),
        10
    );
    assert_eq!(&header[..10], &[0x00, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(control_frame(opcode::PONG, b"hi"), [0x8A, 2, b'h', b'i']);
}

#[test]
fn close_payloads_are_cut_as_nats_server_cuts_them() {
    assert_eq!(
        close_payload(1000, "Client Closed"),
        b"\x03\xe8Client Closed"
    );
    let long = "x".repeat(200);
    let payload = close_payload(1002, &long);
    assert_eq!(payload.len(), 2 + 120 + 3);
    assert!(payload.ends_with(b"x..."));
}

proptest! {
    /// Every split of a stream of frames (data in several fragments and final frames,
    /// controls between them) gives the same NATS bytes and the same control frames.
    #[test]
    fn every_split_gives_the_same_bytes(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..6),
        cuts in prop::collection::vec(0usize..2000, 0..12),
        key in any::<[u8; 4]>(),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (index, payload) in payloads.iter().enumerate() {
            expected.extend_from_slice(payload);
            if index % 2 == 0 {
                stream.extend(client_frame(0x82, payload, key));
            } else {
                let half = payload.len() / 2;
                stream.extend(client_frame(0x01, &payload[..half], key));
                stream.extend(client_frame(0x89, b"p", key));
                stream.extend(client_frame(0x80, &payload[half..], key));
            }
        }
        let (whole_data, whole_events) = decode_in_pieces(&stream, &[]);
        prop_assert_eq!(&whole_data, &expected);
        let (data, events) = decode_in_pieces(&stream, &cuts);
        prop_assert_eq!(data, expected);
        prop_assert_eq!(events, whole_events);
    }
}
