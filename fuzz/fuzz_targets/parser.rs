//! Random bytes, split at random points, must never panic the parser, must keep its carry
//! buffer within `ParserLimits::carry_bytes_max`, and must yield the same operations and the
//! same error as the stream parsed in one piece.
//!
//! Input: `[limits, flags, split seed, split span, stream...]`. The first four bytes pick
//! the parser limits (small ones, so random streams reach them), whether headers are enabled,
//! whether `on_op` stops the parser after some operation or pauses it after every n-th one
//! (`parse_until`, resumed at once with the rest: a paused publisher), and where the stream
//! is cut.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use ringmq::protocol::{ParseError, Parser, ParserLimits};

/// Control line limits to pick from: small ones are reached by random input; 4096 is the
/// default.
const CONTROL_LINE_LIMITS: [usize; 4] = [8, 32, 64, 4096];
/// Payload limits to pick from: 0 refuses every non-empty message.
const PAYLOAD_LIMITS: [usize; 4] = [0, 5, 256, 1 << 20];

#[derive(Debug, Clone, Copy)]
struct Setup {
    limits: ParserLimits,
    headers_enabled: bool,
    /// `on_op` returns `Break` on this operation (0-based), if set.
    stop_after: Option<usize>,
    /// `parse_until` mode: `on_op` returns `Break` after every `n`-th operation and the
    /// rest of the input is fed again at once (a paused publisher resumed); the operations
    /// must be those of a parse that never stopped.
    pause_every: Option<usize>,
}

/// What one way of feeding the stream produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Each operation in `Debug` form: owned, so operations borrowing the carry buffer of a
    /// parser that has gone on can be compared.
    ops: Vec<String>,
    result: Result<(), ParseError>,
}

/// Feeds `chunks` in order, as reads of one connection, until an error or a stop.
fn parse_chunks<'a>(setup: Setup, chunks: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = Parser::new(setup.limits);
    parser.set_headers_enabled(setup.headers_enabled);
    let mut ops = Vec::new();
    let mut stopped = false;
    for chunk in chunks {
        let mut input = chunk;
        let result = loop {
            let paused = parser.parse_until(input, |op| {
                ops.push(format!("{op:?}"));
                if setup.stop_after == Some(ops.len() - 1) {
                    stopped = true;
                    return ControlFlow::Break(());
                }
                if setup.pause_every.is_some_and(|n| ops.len() % n == 0) {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            match paused {
                Ok(Some(next)) if !stopped => {
                    // Paused at an operation boundary: nothing carried, the rest follows.
                    assert_eq!(parser.buffered(), 0, "carry kept at a pause");
                    assert!(next <= input.len());
                    input = &input[next..];
                }
                other => break other.map(|_| ()),
            }
        };
        if result.is_err() {
            // The contract ends the parser's use here; its carry is not inspected.
            return Outcome { ops, result };
        }
        let carried = parser.buffered();
        assert!(
            carried <= setup.limits.carry_bytes_max(),
            "carry {carried} over {} with {:?}",
            setup.limits.carry_bytes_max(),
            setup.limits
        );
        if stopped {
            // A stopped parser discards the rest of its input and holds nothing.
            assert_eq!(carried, 0, "carry kept after a stop");
            break;
        }
    }
    Outcome {
        ops,
        result: Ok(()),
    }
}

/// Chunk lengths covering `total` bytes, from 0 to `span`, drawn by xorshift from `seed` so
/// that two input bytes steer every cut; empty chunks are included on purpose.
fn chunk_lengths(seed: u8, span: u8, total: usize) -> Vec<usize> {
    // Never zero: xorshift would stay at zero.
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let modulus = usize::from(span.max(1)) + 1;
    let mut lengths = Vec::new();
    let mut covered = 0;
    while covered < total {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let length = (state as usize % modulus).min(total - covered);
        lengths.push(length);
        covered += length;
    }
    lengths
}

fn setup(limits: u8, flags: u8) -> Setup {
    Setup {
        limits: ParserLimits {
            max_control_line: CONTROL_LINE_LIMITS[usize::from(limits & 3)],
            max_payload: PAYLOAD_LIMITS[usize::from((limits >> 2) & 3)],
        },
        headers_enabled: flags & 1 == 0,
        stop_after: (flags & 2 != 0).then_some(usize::from(flags >> 2)),
        // Bits 4..8 of the limits byte: pause after every n-th operation (1..=15).
        pause_every: (flags & 2 == 0 && limits >> 4 != 0).then_some(usize::from(limits >> 4)),
    }
}

fuzz_target!(|data: &[u8]| {
    let [limits, flags, seed, span, ref stream @ ..] = *data else {
        return;
    };
    let setup = setup(limits, flags);
    // Pausing must change nothing: the reference is a parse that never pauses.
    let reference = Setup {
        pause_every: None,
        ..setup
    };
    let whole = parse_chunks(reference, std::iter::once(stream));
    let mut rest = stream;
    let mut chunks = Vec::new();
    for length in chunk_lengths(seed, span, stream.len()) {
        let (chunk, tail) = rest.split_at(length);
        chunks.push(chunk);
        rest = tail;
    }
    assert!(rest.is_empty());
    assert_eq!(parse_chunks(setup, chunks.into_iter()), whole);
});
