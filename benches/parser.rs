//! Parser throughput on pipelined PUB streams, whole and in 16 KiB reads (the receive buffer
//! size of the runtime's buffer ring), for small and 1 KiB payloads.

use std::hint::black_box;
use std::ops::ControlFlow;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringmq::protocol::{ClientOp, Parser, ParserLimits};

/// About 4 MiB of input per iteration: large enough that per-call overhead does not dominate.
const STREAM_BYTES: usize = 4 * 1024 * 1024;
const READ_BYTES: usize = 16 * 1024;

const LIMITS: ParserLimits = ParserLimits {
    max_control_line: 4096,
    max_payload: 1024 * 1024,
};

/// Pipelined `PUB bench.subject.<n> <size>` frames, as a publishing client sends them.
fn pub_stream(payload_bytes: usize) -> Vec<u8> {
    let payload = vec![b'x'; payload_bytes];
    let mut stream = Vec::with_capacity(STREAM_BYTES + 2048);
    let mut count = 0usize;
    while stream.len() < STREAM_BYTES {
        let line = format!("PUB bench.subject.{} {payload_bytes}\r\n", count % 16);
        stream.extend_from_slice(line.as_bytes());
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(b"\r\n");
        count += 1;
    }
    stream
}

/// Parses `reads` in order and returns the payload bytes seen, so nothing is optimised away.
fn parse_reads<'a>(reads: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut parser = Parser::new(LIMITS);
    let mut payload_bytes = 0;
    for read in reads {
        let parsed = parser.parse(read, |op| {
            if let ClientOp::Pub { payload, .. } = op {
                payload_bytes += payload.len();
            }
            ControlFlow::Continue(())
        });
        assert!(parsed.is_ok());
    }
    payload_bytes
}

fn parser_throughput(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("parser");
    for payload_bytes in [16, 1024] {
        let stream = pub_stream(payload_bytes);
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("whole", payload_bytes),
            &stream,
            |bencher, stream| bencher.iter(|| parse_reads(std::iter::once(black_box(&stream[..])))),
        );
        group.bench_with_input(
            BenchmarkId::new("16KiB_reads", payload_bytes),
            &stream,
            |bencher, stream| {
                bencher.iter(|| parse_reads(black_box(&stream[..]).chunks(READ_BYTES)))
            },
        );
    }
    group.finish();
}

criterion_group!(benches, parser_throughput);
criterion_main!(benches);
