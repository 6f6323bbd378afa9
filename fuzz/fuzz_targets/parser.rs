//! Random bytes, split at random points, must never panic the parser, must keep its carry
//! buffer within the limits, and must yield the same operations and error as unsplit.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use ringmq::protocol::{ParseError, Parser, ParserLimits};

/// Small limits so that random inputs reach them.
const LIMITS: ParserLimits = ParserLimits {
    max_control_line: 64,
    max_payload: 256,
};

/// A partial argument may hold one extra byte: a CR that the LF would drop.
const CARRY_BYTES_MAX: usize = LIMITS.max_control_line + LIMITS.max_payload + 1;

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    ops: Vec<String>,
    result: Result<(), ParseError>,
}

fn parse_chunks<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = Parser::new(LIMITS);
    let mut ops = Vec::new();
    for chunk in chunks {
        let result = parser.parse(chunk, |op| {
            ops.push(format!("{op:?}"));
            ControlFlow::Continue(())
        });
        assert!(
            parser.buffered() <= CARRY_BYTES_MAX,
            "carry {}",
            parser.buffered()
        );
        if result.is_err() {
            return Outcome { ops, result };
        }
    }
    Outcome {
        ops,
        result: Ok(()),
    }
}

/// Cut points from a seed: xorshift, so one input byte steers many splits.
fn chunk_lengths(seed: u8, total: usize) -> Vec<usize> {
    // Never zero: xorshift would stay at zero and yield only empty chunks.
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut lengths = Vec::new();
    let mut covered = 0;
    while covered < total {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let length = (state as usize % 24).min(total - covered);
        lengths.push(length);
        covered += length;
    }
    lengths
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = parse_chunks(std::iter::once(stream));
    let mut rest = stream;
    let mut chunks = Vec::new();
    for length in chunk_lengths(seed, stream.len()) {
        let (chunk, tail) = rest.split_at(length);
        chunks.push(chunk);
        rest = tail;
    }
    assert_eq!(parse_chunks(chunks.into_iter()), whole);
});
