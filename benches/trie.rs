//! Match cost of `SubjectTrie`, in ns per `match_subject`, by pattern kind and trie size.
//!
//! Each trie holds `size` subscriptions: `size - 2` literal `lit.<a>.<b>` plus `wild.*.end`
//! and `deep.>`. Each kind publishes to subjects only one subscription matches:
//! - literal: `lit.<a>.<b>`; `*`: `wild.<n>.end`; `>`: `deep.<n>.x`.
//!
//! A hit repeats one subject. A miss cycles through `MISS_SUBJECT_COUNT` distinct subjects,
//! far more than the cache holds, so each call walks the trie, builds the result and stores
//! it (evicting half the cache every `ENTRIES_MAX / 2` calls): the real cost of a new subject.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ringmq::subjects::SubjectTrie;

/// Distinct subjects a miss benchmark cycles through (≫ the cache's 1024 entries).
const MISS_SUBJECT_COUNT: usize = 100_000;
/// Literal subscriptions are spread as `lit.<index / FANOUT>.<index % FANOUT>`.
const FANOUT: usize = 1000;

fn literal_subject(index: usize) -> Vec<u8> {
    format!("lit.{}.{}", index / FANOUT, index % FANOUT).into_bytes()
}

fn build_trie(size: usize) -> SubjectTrie<u32> {
    let mut trie = SubjectTrie::new();
    for index in 0..size - 2 {
        trie.insert(&literal_subject(index), None, index as u32)
            .expect("valid pattern");
    }
    trie.insert(b"wild.*.end", None, u32::MAX - 1)
        .expect("valid pattern");
    trie.insert(b"deep.>", None, u32::MAX)
        .expect("valid pattern");
    assert_eq!(trie.len(), size);
    trie
}

/// One pattern kind: its name, a subject for hits, subjects for misses. Each subject has
/// exactly one match.
struct Workload {
    kind: &'static str,
    hit_subject: Vec<u8>,
    miss_subjects: Vec<Vec<u8>>,
}

fn workloads(size: usize) -> Vec<Workload> {
    let literal_count = size - 2;
    let stride = 7919; // A prime, so consecutive subjects land far apart in the trie.
    let literal = (0..MISS_SUBJECT_COUNT)
        .map(|step| literal_subject(step * stride % literal_count))
        .collect();
    let star = (0..MISS_SUBJECT_COUNT)
        .map(|n| format!("wild.{n}.end").into_bytes())
        .collect();
    let full = (0..MISS_SUBJECT_COUNT)
        .map(|n| format!("deep.{n}.x").into_bytes())
        .collect();
    vec![
        Workload {
            kind: "literal",
            hit_subject: literal_subject(literal_count / 2),
            miss_subjects: literal,
        },
        Workload {
            kind: "star",
            hit_subject: b"wild.x.end".to_vec(),
            miss_subjects: star,
        },
        Workload {
            kind: "full",
            hit_subject: b"deep.a.x".to_vec(),
            miss_subjects: full,
        },
    ]
}

fn bench_size(criterion: &mut Criterion, size: usize) {
    let mut trie = build_trie(size);
    let mut group = criterion.benchmark_group(format!("match/{size}"));
    for Workload {
        kind,
        hit_subject,
        miss_subjects,
    } in workloads(size)
    {
        assert_eq!(trie.match_subject(&hit_subject).plain.len(), 1);
        group.bench_function(BenchmarkId::new(kind, "hit"), |bencher| {
            bencher.iter(|| black_box(trie.match_subject(black_box(&hit_subject)).plain.len()))
        });
        let mut next = 0;
        group.bench_function(BenchmarkId::new(kind, "miss"), |bencher| {
            bencher.iter(|| {
                next = (next + 1) % miss_subjects.len();
                black_box(trie.match_subject(&miss_subjects[next]).plain.len())
            })
        });
    }
    group.finish();
}

fn bench_match(criterion: &mut Criterion) {
    bench_size(criterion, 10_000);
    bench_size(criterion, 1_000_000);
}

criterion_group!(benches, bench_match);
criterion_main!(benches);
