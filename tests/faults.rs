//! Faults: clients that die mid-frame, connection churn, a consumer that stops reading, a dry
//! receive-buffer ring, running out of file descriptors, a full cross-core mailbox,
//! garbage at the listener, and a restart on the same port right after SIGKILL. Each test runs the server as a child process (`--cores 2`) and
//! watches it from outside: exact bytes and counts on the wire, its descriptors in
//! `/proc/<pid>/fd`, its resident memory in `/proc/<pid>/status`, its log.
//!
//! Random choices come from one seed per test, printed at the start; rerun a failure with
//! `FAULTS_SEED=<seed> cargo test --test faults <name>`. The garbage, descriptor and restart tests
//! also pass against the reference (`RINGMQ_TEST_SERVER=nats-server`); the others rely on
//! ringmq's own rings, `-D` reports or placement of connections on cores.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{text, Opts, RawClient, Server};

/// How long the server may take to notice that clients went away and close their sockets.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one read in these tests waits for the server. Generous: on the shared 2-core
/// machine a server run at low priority (`nice`) was seen starved of CPU for seconds.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

// ---- helpers --------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), seeded per test.
struct Rng(u64);

impl Rng {
    /// Seeded from `FAULTS_SEED` if set, else from the clock; prints the seed.
    fn for_test(test: &str) -> Rng {
        let seed = match std::env::var("FAULTS_SEED") {
            Ok(text) => text.parse().expect("FAULTS_SEED is a u64"),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos() as u64,
        };
        eprintln!("{test}: FAULTS_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `low..high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        assert!(low < high);
        low + (self.next() % (high - low) as u64) as usize
    }
}

/// The `client_id` the server announced in INFO (the `cid:` of its log lines).
fn client_id(info: &str) -> u64 {
    let start = info.find("\"client_id\":").expect("INFO has client_id") + "\"client_id\":".len();
    let digits: String = info[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("client_id is a number")
}

/// The payload of message `sequence` on `subject_index`'s stream: the sequence in 8 digits,
/// then `extra` bytes that depend on both, so a byte from the wrong place shows.
fn stream_payload(subject_index: usize, sequence: u64, extra: usize) -> Vec<u8> {
    const LETTERS: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
    let start = ((sequence + subject_index as u64) % 26) as usize;
    let rotation = &LETTERS[start..start + 26];
    let mut payload = Vec::with_capacity(8 + extra);
    payload.extend_from_slice(format!("{sequence:08}").as_bytes());
    // Whole rotations with memcpy: the debug build checks megabytes of these.
    for _ in 0..extra / 26 {
        payload.extend_from_slice(rotation);
    }
    payload.extend_from_slice(&rotation[..extra % 26]);
    payload
}

// ---- 1. clients killed at random points -----------------------------------------------------

/// `CONNECT` for connections that ask for no-responders answers (needs headers).
const CONNECT_NO_RESPONDERS: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n";

/// Survivor publisher `index`: publishes numbered messages on `data.<index>` in small paced
/// batches until `stop`, then an `end` message, then syncs with PING/PONG. Returns how many
/// numbered messages it sent.
fn survivor_publisher(port: u16, index: usize, stop: Arc<AtomicBool>) -> u64 {
    const BATCH: u64 = 20;
    let mut client = RawClient::connect_quiet(port, b"");
    let mut sent = 0u64;
    let mut batch = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        batch.clear();
        for sequence in sent..sent + BATCH {
            let payload = stream_payload(index, sequence, (sequence % 64) as usize);
            batch.extend_from_slice(format!("PUB data.{index} {}\r\n", payload.len()).as_bytes());
            batch.extend_from_slice(&payload);
            batch.extend_from_slice(b"\r\n");
        }
        client.send(&batch);
        sent += BATCH;
        // Pacing, not synchronisation: keeps the debug build's cores free for the victims.
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        text(&client.send_and_sync(format!("PUB data.{index} 3\r\nend\r\n").as_bytes())),
        "PONG\r\n",
        "publisher {index} gets nothing but its PONG"
    );
    sent
}

/// Survivor subscriber on `data.>` (sid 1): checks every frame byte for byte, in order per
/// publisher, until both publishers' `end`. Returns the count per publisher.
fn survivor_subscriber(mut client: RawClient, publishers: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next = vec![0u64; publishers];
    let mut ended = vec![false; publishers];
    while ended.iter().any(|e| !e) {
        let frame = client
            .next_frame(deadline)
            .expect("survivor subscriber open");
        let index: usize = frame
            .get(b"MSG data.".len()..)
            .and_then(|rest| rest.first())
            .map(|&digit| usize::from(digit - b'0'))
            .unwrap_or_else(|| panic!("unexpected frame {:?}", text(&frame)));
        assert!(!ended[index], "publisher {index}: a frame after its end");
        let expected = if frame.ends_with(b" 3\r\nend\r\n") {
            ended[index] = true;
            format!("MSG data.{index} 1 3\r\nend\r\n").into_bytes()
        } else {
            let payload = stream_payload(index, next[index], (next[index] % 64) as usize);
            next[index] += 1;
            let mut expected = format!("MSG data.{index} 1 {}\r\n", payload.len()).into_bytes();
            expected.extend_from_slice(&payload);
            expected.extend_from_slice(b"\r\n");
            expected
        };
        assert!(
            frame == expected,
            "publisher {index}, message {}: got {:?}",
            next[index],
            text(&frame)
        );
    }
    assert_eq!(
        text(&client.send_and_sync(b"")),
        "PONG\r\n",
        "nothing after the ends"
    );
    next
}

/// Where a victim dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Death {
    /// Inside the control line of one of its PUBs, then FIN.
    ControlLine,
    /// Inside the payload (or its CRLF) of one of its PUBs, then FIN.
    Payload,
    /// Like `ControlLine`, but it also subscribed to the busy `data.>` and never read, so
    /// the close resets the connection (RST) and unread input may be lost.
    ControlLineReset,
    /// Like `Payload`, with the reset.
    PayloadReset,
    /// Killed from another thread while blocked writing a multi-MiB batch.
    MidBatch,
}

const DEATHS: [Death; 5] = [
    Death::ControlLine,
    Death::Payload,
    Death::ControlLineReset,
    Death::PayloadReset,
    Death::MidBatch,
];

/// Victim `victim`'s message `sequence` on `noise.<victim>`: its length follows from the
/// sequence, so the checker can rebuild each frame.
fn noise_payload(victim: usize, sequence: u64) -> Vec<u8> {
    let extra = (sequence as usize * 7919 + victim * 104_729) % (16 * 1024);
    stream_payload(victim, sequence, extra)
}

/// The PUB frame of [`noise_payload`].
fn noise_frame(victim: usize, sequence: u64) -> Vec<u8> {
    let payload = noise_payload(victim, sequence);
    let mut frame = format!("PUB noise.{victim} {}\r\n", payload.len()).into_bytes();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    frame
}

/// What a victim sends before its PUBs: CONNECT, two subscriptions the server must forget
/// (one in a queue group), and for the reset kinds one on the busy subject.
fn victim_preamble(victim: usize, death: Death) -> Vec<u8> {
    let mut preamble = common::CONNECT_QUIET.to_vec();
    preamble.extend_from_slice(
        format!("SUB victim.{victim}.a 1\r\nSUB victim.{victim}.b workers 2\r\n").as_bytes(),
    );
    if matches!(
        death,
        Death::ControlLineReset | Death::PayloadReset | Death::MidBatch
    ) {
        preamble.extend_from_slice(b"SUB data.> 3\r\n");
    }
    preamble
}

/// Connects and reads the INFO line; a plain socket, so a victim can be cut anywhere.
fn connect_reading_info(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("victim connects");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut info = Vec::new();
    let mut byte = [0u8; 1];
    while !info.ends_with(b"\r\n") {
        let n = stream.read(&mut byte).expect("INFO");
        assert_eq!(n, 1, "EOF before INFO ends");
        info.push(byte[0]);
    }
    assert!(info.starts_with(b"INFO {"), "{:?}", text(&info));
    stream
}

/// Runs one victim to its death. Returns the number of complete noise frames it wrote, and
/// whether it died with a FIN (then the server must deliver exactly those; after a reset,
/// unread input may be lost, so at most those).
fn run_victim(port: u16, victim: usize, death: Death, rng: &mut Rng) -> (u64, bool) {
    let mut stream = connect_reading_info(port);
    let mut script = victim_preamble(victim, death);
    if death == Death::MidBatch {
        return kill_mid_batch(stream, script, victim, rng);
    }
    let frames = rng.range(1, 12) as u64;
    for sequence in 0..frames {
        script.extend_from_slice(&noise_frame(victim, sequence));
    }
    // The frame to die in: everything before it is complete.
    let dying = noise_frame(victim, frames);
    let line_length = dying.iter().position(|&b| b == b'\n').expect("LF") + 1;
    let cut = match death {
        Death::ControlLine | Death::ControlLineReset => rng.range(1, line_length),
        _ => rng.range(line_length, dying.len()),
    };
    script.extend_from_slice(&dying[..cut]);
    stream.write_all(&script).expect("victim writes");
    let orderly = matches!(death, Death::ControlLine | Death::Payload);
    if orderly {
        // FIN right behind the bytes: the server reads all of them, then EOF. What it sends
        // back (a keep-alive PING at most) is read, so the close is a FIN, not a reset.
        stream.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("victim {victim}: {e}"),
        }
        assert!(
            rest.is_empty() || rest == b"PING\r\n",
            "victim {victim}: {:?}",
            text(&rest)
        );
    } else {
        // Wait until the busy subject's traffic reaches it, so the close is a reset.
        let mut first = [0u8; 1];
        let _ = stream.read(&mut first);
    }
    drop(stream);
    (frames, orderly)
}

/// Writes a 2 MiB batch from a second thread and shuts the socket down under it once a
/// random part has gone out. Returns an upper bound on the complete frames sent.
fn kill_mid_batch(
    stream: TcpStream,
    mut script: Vec<u8>,
    victim: usize,
    rng: &mut Rng,
) -> (u64, bool) {
    const BATCH_BYTES: usize = 2 << 20;
    let mut frames = 0u64;
    while script.len() < BATCH_BYTES {
        script.extend_from_slice(&noise_frame(victim, frames));
        frames += 1;
    }
    let kill_after = rng.range(32 * 1024, BATCH_BYTES * 3 / 4);
    let written = Arc::new(AtomicUsize::new(0));
    let mut writer = stream.try_clone().expect("clone");
    let progress = Arc::clone(&written);
    let sender = std::thread::spawn(move || {
        for chunk in script.chunks(16 * 1024) {
            if writer.write_all(chunk).is_err() {
                return;
            }
            progress.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while written.load(Ordering::SeqCst) < kill_after && !sender.is_finished() {
        assert!(
            Instant::now() < deadline,
            "victim {victim}: batch never progressed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // The process dies: its socket is shut down and closed while the writer is mid-write.
    let _ = stream.shutdown(Shutdown::Both);
    drop(stream);
    sender.join().expect("writer thread");
    (frames, false)
}

/// Reads `noise.>` (sid 9): each victim's messages must be its own, complete, in order and
/// without gaps. Stops after `markers` `noise.end` messages; returns the count per victim.
fn noise_checker(mut client: RawClient, victims: usize, markers: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next = vec![0u64; victims];
    let mut seen_markers = 0;
    while seen_markers < markers {
        let frame = client.next_frame(deadline).expect("noise checker open");
        if frame == b"MSG noise.end 9 0\r\n\r\n" {
            seen_markers += 1;
            continue;
        }
        let subject_end = frame[b"MSG noise.".len()..]
            .iter()
            .position(|&b| b == b' ')
            .unwrap_or_else(|| panic!("unexpected frame {:?}", text(&frame)));
        let victim: usize = std::str::from_utf8(&frame[b"MSG noise.".len()..][..subject_end])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("unexpected frame {:?}", text(&frame)));
        let payload = noise_payload(victim, next[victim]);
        let mut expected = format!("MSG noise.{victim} 9 {}\r\n", payload.len()).into_bytes();
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b"\r\n");
        assert!(
            frame == expected,
            "victim {victim}, message {}: frame of {} bytes differs",
            next[victim],
            frame.len()
        );
        next[victim] += 1;
    }
    next
}

#[test]
fn clients_killed_mid_frame_cost_the_others_nothing_and_leak_no_descriptors() {
    const VICTIM_THREADS: usize = 4;
    const VICTIMS_PER_THREAD: usize = 25;
    const VICTIMS: usize = VICTIM_THREADS * VICTIMS_PER_THREAD;
    /// Connections opened at the end to mark the end of the noise; three, so that the
    /// least-loaded placement puts at least one on each core (their mail to the checker's
    /// core then follows every victim's).
    const MARKERS: usize = 3;
    let mut rng = Rng::for_test("clients_killed_mid_frame");
    let server = Server::start(Opts::default());
    let port = server.port();
    assert_eq!(server.open_files().sockets, 1, "just the listener");

    // Survivors: two subscribers and two publishers, alternating cores, and the checker.
    let subscribers: Vec<RawClient> = (0..2)
        .map(|_| RawClient::subscriber(port, "SUB data.> 1\r\n"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = (0..2)
        .map(|index| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || survivor_publisher(port, index, stop))
        })
        .collect();
    let checker = RawClient::subscriber(port, "SUB noise.> 9\r\n");
    let checker = std::thread::spawn(move || noise_checker(checker, VICTIMS, MARKERS));
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|client| std::thread::spawn(move || survivor_subscriber(client, 2)))
        .collect();
    const SURVIVORS: usize = 5;

    let seeds: Vec<u64> = (0..VICTIM_THREADS).map(|_| rng.next()).collect();
    let killers: Vec<_> = seeds
        .into_iter()
        .enumerate()
        .map(|(thread, seed)| {
            std::thread::spawn(move || {
                let mut rng = Rng(seed | 1);
                (0..VICTIMS_PER_THREAD)
                    .map(|round| {
                        let victim = thread * VICTIMS_PER_THREAD + round;
                        let death = DEATHS[victim % DEATHS.len()];
                        (victim, death, run_victim(port, victim, death, &mut rng))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for killer in killers {
        outcomes.extend(killer.join().expect("victim thread"));
    }
    assert_eq!(outcomes.len(), VICTIMS);

    // Every victim's socket is gone; what is left is the listener, the survivors and one
    // ring per core.
    let files = server.wait_for_sockets(1 + SURVIVORS, CLOSE_TIMEOUT);
    assert_eq!(files.rings, 2, "{files:?}");

    stop.store(true, Ordering::SeqCst);
    let sent: Vec<u64> = publishers
        .into_iter()
        .map(|p| p.join().expect("publisher"))
        .collect();
    for reader in readers {
        let received = reader.join().expect("survivor subscriber");
        assert_eq!(received, sent, "every survivor message, exactly once");
    }

    // Mark the end of the noise from connections on both cores, then ask for every victim
    // subscription: no-responders answers prove the server forgot them on both cores.
    let mut markers: Vec<RawClient> = (0..MARKERS)
        .map(|_| {
            let mut client = RawClient::connect(port);
            client.send(CONNECT_NO_RESPONDERS);
            assert_eq!(
                text(&client.send_and_sync(b"SUB _INBOX.r.* 1\r\n")),
                "PONG\r\n"
            );
            client
        })
        .collect();
    for marker in &mut markers {
        assert_eq!(
            text(&marker.send_and_sync(b"PUB noise.end 0\r\n\r\n")),
            "PONG\r\n"
        );
    }
    let delivered = checker.join().expect("noise checker");
    for (victim, death, (complete, orderly)) in &outcomes {
        if *orderly {
            assert_eq!(
                delivered[*victim], *complete,
                "victim {victim} ({death:?}): every complete message before the FIN"
            );
        } else {
            assert!(
                delivered[*victim] <= *complete,
                "victim {victim} ({death:?}): {} delivered of {complete} complete",
                delivered[*victim]
            );
        }
    }
    for marker in &mut markers {
        let mut requests = Vec::new();
        let mut expected = String::new();
        for victim in 0..VICTIMS {
            for subject in ["a", "b"] {
                let reply = format!("_INBOX.r.{victim}{subject}");
                requests.extend_from_slice(
                    format!("PUB victim.{victim}.{subject} {reply} 0\r\n\r\n").as_bytes(),
                );
                expected.push_str(&format!("HMSG {reply} 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"));
            }
        }
        expected.push_str("PONG\r\n");
        assert_eq!(text(&marker.send_and_sync(&requests)), expected);
    }
    let by_death = |wanted: Death| outcomes.iter().filter(|(_, d, _)| *d == wanted).count();
    eprintln!(
        "victims: {} control line, {} payload, {} control line + reset, {} payload + reset, \
         {} mid-batch; survivors got {sent:?}",
        by_death(Death::ControlLine),
        by_death(Death::Payload),
        by_death(Death::ControlLineReset),
        by_death(Death::PayloadReset),
        by_death(Death::MidBatch),
    );
}

// ---- 2. connection churn --------------------------------------------------------------------

/// One connect/disconnect cycle of the churn test: INFO, CONNECT, three subscriptions (one in
/// a queue group, one wildcard shared by every connector), a message to the wildcard, PING;
/// wait for PONG; close (odd cycles with a reset, even ones with FIN).
async fn churn_cycle(port: u16, connector: usize, cycle: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("churn connect");
    let mut hello = common::CONNECT_QUIET.to_vec();
    hello.extend_from_slice(
        format!(
            "SUB churn.{connector}.a 1\r\nSUB churn.> 2\r\nSUB churn.{connector}.q 3 workers\r\n\
             PUB churn.all 2\r\nhi\r\nPING\r\n"
        )
        .as_bytes(),
    );
    stream.write_all(&hello).await.expect("churn write");
    let mut buffer = Vec::new();
    let mut saw_info = false;
    'reading: loop {
        while let Some(length) = common::frame_len(&buffer) {
            let frame: Vec<u8> = buffer.drain(..length).collect();
            match &frame[..] {
                b"PONG\r\n" => break 'reading,
                b"PING\r\n" => {}
                f if f.starts_with(b"INFO {") && !saw_info => saw_info = true,
                b"MSG churn.all 2 2\r\nhi\r\n" => {}
                other => panic!("connector {connector} cycle {cycle}: {:?}", text(other)),
            }
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("churn read");
        assert!(
            n > 0,
            "connector {connector} cycle {cycle}: EOF before PONG"
        );
        buffer.extend_from_slice(&chunk[..n]);
    }
    assert!(saw_info);
    if cycle % 2 == 1 {
        stream.set_zero_linger().expect("SO_LINGER 0");
    }
    drop(stream);
}

/// `cycles` churn cycles spread over `connectors` concurrent tasks.
async fn churn(port: u16, connectors: usize, cycles: usize, first_cycle: usize) {
    let tasks: Vec<_> = (0..connectors)
        .map(|connector| {
            tokio::spawn(async move {
                let mut cycle = first_cycle + connector;
                while cycle < first_cycle + cycles {
                    churn_cycle(port, connector, cycle).await;
                    cycle += connectors;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("connector");
    }
}

/// How far the server's VmRSS may rise above its post-warm-up value during the churn test.
/// Measured on the 2-core VM (debug build, five runs of 18,000 cycles after a 2,000-cycle
/// warm-up): 0 to 24 KiB. Before keep-alive timers were compacted on cancel, the heap of
/// cancelled timers grew by 500 to 700 KiB over the same cycles (12 runs) and only shrank
/// after a ping interval. 256 KiB is ten times the noise and half that growth.
const CHURN_RESIDENT_GROWTH_KIB_MAX: u64 = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_connect_disconnect_cycles_return_to_baseline() {
    const CYCLES: usize = 20_000;
    const WARM_UP: usize = 2_000;
    const CHECKPOINT: usize = 2_000;
    /// Concurrent connections, so that cycles overlap on both cores.
    const CONNECTORS: usize = 8;
    let server = Server::start(Opts::default());
    let port = server.port();
    let started = Instant::now();
    churn(port, CONNECTORS, WARM_UP, 0).await;
    let baseline = server.wait_for_sockets(1, CLOSE_TIMEOUT);
    let baseline_kib = server.resident_kib();
    let mut samples = Vec::new();
    let mut done = WARM_UP;
    while done < CYCLES {
        churn(port, CONNECTORS, CHECKPOINT, done).await;
        done += CHECKPOINT;
        // Every socket closed, every ring still there, nothing else left open.
        let files = server.wait_for_sockets(1, CLOSE_TIMEOUT);
        assert_eq!(files, baseline, "after {done} cycles");
        samples.push(server.resident_kib());
    }
    eprintln!(
        "churn: {CYCLES} cycles in {:?}; VmRSS after warm-up {baseline_kib} KiB, then every \
         {CHECKPOINT} cycles: {samples:?}",
        started.elapsed()
    );
    assert_eq!(baseline.rings, 2, "{baseline:?}");
    for (index, kib) in samples.iter().enumerate() {
        assert!(
            kib.saturating_sub(baseline_kib) <= CHURN_RESIDENT_GROWTH_KIB_MAX,
            "VmRSS {kib} KiB after {} cycles, {baseline_kib} KiB after warm-up",
            WARM_UP + (index + 1) * CHECKPOINT
        );
    }
}

// ---- 3. a subscriber that stops reading -----------------------------------------------------

/// The flood of the slow-consumer test: 48 MiB, past half of max_pending (64 MiB), so the
/// stall gate engages, in large messages so that the debug build keeps up.
const STOPPED_MESSAGES: u64 = 96;
const STOPPED_PAYLOAD: usize = 512 * 1024;

/// The MSG frame subscribers with sid 1 get for message `sequence` of the flood.
fn stopped_frame(sequence: u64) -> Vec<u8> {
    let payload = stream_payload(7, sequence, STOPPED_PAYLOAD - 8);
    let mut frame = format!("MSG stop.flood 1 {STOPPED_PAYLOAD}\r\n").into_bytes();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    frame
}

/// A healthy subscriber: every message, in order, byte for byte.
fn read_every_stopped_frame(mut client: RawClient) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for sequence in 0..STOPPED_MESSAGES {
        let frame = client
            .next_frame(deadline)
            .expect("healthy subscriber open");
        assert!(
            frame == stopped_frame(sequence),
            "healthy subscriber: message {sequence} differs"
        );
    }
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_cut_and_the_others_get_everything() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(Opts::default());
    let port = server.port();
    // Least-loaded placement, ties round-robin from core 0: the stopped subscriber is on
    // core 0, the publisher on core 1, one healthy subscriber on each core.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    // A tiny receive buffer (which also stops the kernel growing it): the server's queue,
    // not the kernel, absorbs what the subscriber does not read.
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let address = format!("127.0.0.1:{port}").parse().expect("address");
    let mut stopped = socket.connect(address).await.expect("connect");
    let mut handshake = common::CONNECT_QUIET.to_vec();
    handshake.extend_from_slice(b"SUB stop.flood 1\r\nPING\r\n");
    stopped.write_all(&handshake).await.expect("handshake");
    let mut greeting = Vec::new();
    while !greeting.ends_with(b"PONG\r\n") {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(READ_TIMEOUT, stopped.read(&mut chunk))
            .await
            .expect("PONG in time")
            .expect("read");
        assert!(n > 0, "EOF during handshake");
        greeting.extend_from_slice(&chunk[..n]);
    }
    let info_end = greeting
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("INFO")
        + 2;
    assert_eq!(text(&greeting[info_end..]), "PONG\r\n");
    let stopped_cid = client_id(&text(&greeting[..info_end]));

    let mut publisher = RawClient::connect_quiet(port, b"");
    let healthy: Vec<_> = (0..2)
        .map(|_| {
            let client = RawClient::subscriber(port, "SUB stop.flood 1\r\n");
            std::thread::spawn(move || read_every_stopped_frame(client))
        })
        .collect();
    let flood = tokio::task::spawn_blocking(move || {
        for sequence in 0..STOPPED_MESSAGES {
            let payload = stream_payload(7, sequence, STOPPED_PAYLOAD - 8);
            let mut frame = format!("PUB stop.flood {STOPPED_PAYLOAD}\r\n").into_bytes();
            frame.extend_from_slice(&payload);
            frame.extend_from_slice(b"\r\n");
            publisher.send(&frame);
        }
        assert_eq!(text(&publisher.send_and_sync(b"")), "PONG\r\n");
    });
    // The stopped subscriber is cut: past max_pending at once, or when its send has made
    // no progress for the write deadline (10 s).
    let started = Instant::now();
    // (Blocking this runtime thread is fine: nothing async runs meanwhile.)
    let cut = server.wait_for_log("Slow Consumer Detected", Duration::from_secs(30));
    // The healthy subscribers get every message.
    flood.await.expect("publisher");
    for reader in healthy {
        tokio::task::spawn_blocking(move || reader.join())
            .await
            .expect("join")
            .expect("healthy subscriber");
    }
    // What the stopped subscriber sees: a prefix of the flood, cut anywhere (even inside a
    // frame), no -ERR (nats-server sends none to a slow consumer), then the end.
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(30), stopped.read(&mut chunk))
            .await
            .expect("the stopped subscriber is closed in time");
        match read {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let flood_bytes = STOPPED_MESSAGES as usize * stopped_frame(0).len();
    assert!(
        seen.len() < flood_bytes,
        "the stopped subscriber got the whole flood"
    );
    let mut expected = Vec::new();
    for sequence in 0..STOPPED_MESSAGES {
        if expected.len() >= seen.len() {
            break;
        }
        expected.extend_from_slice(&stopped_frame(sequence));
    }
    assert!(
        expected.starts_with(&seen),
        "the stopped subscriber's {} bytes are not a prefix of the flood",
        seen.len()
    );
    // Closed, counted and logged once, as a slow consumer.
    server.wait_for_sockets(1, CLOSE_TIMEOUT);
    let lines: Vec<String> = server
        .log_lines()
        .into_iter()
        .filter(|line| line.contains("Slow Consumer Detected"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!(" - cid:{stopped_cid} - ")),
        "{lines:?}"
    );
    eprintln!(
        "stopped subscriber: {} bytes before the cut after {:?}; {cut}",
        seen.len(),
        started.elapsed()
    );
}

// ---- 4. receive-buffer ring exhaustion ------------------------------------------------------

/// Connections in the burst test, and the bytes of PUBs each sends in its one burst.
const BURST_CONNECTIONS: usize = 1000;
const BURST_BYTES_PER_CONNECTION: usize = 32 * 1024;

/// Message `sequence` of connection `index`'s burst; sizes vary from 16 B to about 3 KiB so
/// frames straddle receive buffers at every offset.
fn burst_payload(index: usize, sequence: u64) -> Vec<u8> {
    let extra = (sequence as usize * 613 + index * 31) % 3000;
    stream_payload(index, sequence, 8 + extra)
}

/// Connection `index`'s whole conversation, sent in one write right after connecting:
/// CONNECT, a subscription to its own subject, its burst of PUBs to that subject, PING.
/// Returns the bytes and the number of messages.
fn burst_script(index: usize) -> (Vec<u8>, u64) {
    let mut script = common::CONNECT_QUIET.to_vec();
    script.extend_from_slice(format!("SUB burst.{index} 1\r\n").as_bytes());
    let mut messages = 0u64;
    let start = script.len();
    while script.len() - start < BURST_BYTES_PER_CONNECTION {
        let payload = burst_payload(index, messages);
        script.extend_from_slice(format!("PUB burst.{index} {}\r\n", payload.len()).as_bytes());
        script.extend_from_slice(&payload);
        script.extend_from_slice(b"\r\n");
        messages += 1;
    }
    script.extend_from_slice(b"PING\r\n");
    (script, messages)
}

/// One connection of the burst. It writes its script at once, without waiting for INFO:
/// the bytes wait in the socket before the server has even accepted it, so the server's
/// first receive on it finds them all, and with a thousand such sockets opened together
/// the receives take buffers faster than one loop turn gives them back. It then reads
/// INFO, exactly its own messages in order, and PONG.
async fn burst_connection(port: u16, index: usize, barrier: Arc<tokio::sync::Barrier>) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (script, messages) = burst_script(index);
    barrier.wait().await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("burst connect");
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        writer.write_all(&script).await.expect("burst write");
        writer
    });
    let mut buffer = Vec::new();
    let mut read_frame = async |buffer: &mut Vec<u8>| loop {
        if let Some(length) = common::frame_len(buffer) {
            let frame: Vec<u8> = buffer.drain(..length).collect();
            if frame != b"PING\r\n" {
                return frame;
            }
            continue;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = reader.read(&mut chunk).await.expect("burst read");
        assert!(n > 0, "connection {index}: EOF");
        buffer.extend_from_slice(&chunk[..n]);
    };
    assert!(read_frame(&mut buffer).await.starts_with(b"INFO {"));
    for sequence in 0..messages {
        let payload = burst_payload(index, sequence);
        let mut expected = format!("MSG burst.{index} 1 {}\r\n", payload.len()).into_bytes();
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b"\r\n");
        let frame = read_frame(&mut buffer).await;
        assert!(
            frame == expected,
            "connection {index}, message {sequence}: {:?}",
            text(&frame[..frame.len().min(64)])
        );
    }
    assert_eq!(read_frame(&mut buffer).await, b"PONG\r\n", "nothing extra");
    sender.await.expect("sender");
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_bursting_run_the_buffer_ring_dry_and_lose_nothing() {
    common::ensure_open_files(BURST_CONNECTIONS as u64 + 256);
    // -D: each core reports at exit how many receives found the ring empty.
    let launch = common::Launch {
        args: vec!["-D".to_string()],
        open_files: None,
    };
    let server = Server::start_launch(Opts::default(), &launch);
    let port = server.port();
    let barrier = Arc::new(tokio::sync::Barrier::new(BURST_CONNECTIONS));
    let tasks: Vec<_> = (0..BURST_CONNECTIONS)
        .map(|index| tokio::spawn(burst_connection(port, index, Arc::clone(&barrier))))
        .collect();
    let all = futures::future::try_join_all(tasks);
    let counts = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("every burst delivered before the deadline")
        .expect("every connection checked its stream");
    let messages: u64 = counts.iter().sum();
    server.wait_for_sockets(1, CLOSE_TIMEOUT);
    // Each core reports, when it stops, how many receives found the ring empty.
    let mut server = server;
    assert!(server.terminate(CLOSE_TIMEOUT).success());
    server.wait_for_log("Server Exiting", CLOSE_TIMEOUT);
    let reports: Vec<String> = server
        .log_lines()
        .into_iter()
        .filter(|line| line.contains("receives found no free buffer"))
        .collect();
    assert_eq!(reports.len(), 2, "one report per core: {reports:?}");
    let starved: u64 = reports
        .iter()
        .map(|line| {
            let after = &line[line.find(": core ").expect("core") + ": core ".len()..];
            let count = after.split(' ').nth(1).expect("count");
            count.parse::<u64>().expect("a count")
        })
        .sum();
    eprintln!("burst: {messages} messages; {starved} receives ran the ring dry; {reports:?}");
    assert!(starved > 0, "the burst never ran the ring dry: {reports:?}");
}

// ---- 5. file-descriptor exhaustion ----------------------------------------------------------

/// The server's RLIMIT_NOFILE in the exhaustion test: a few dozen connections fill it.
const LOW_OPEN_FILES: u64 = 40;

/// Connects without waiting for anything: the kernel completes the handshake from the listen
/// backlog whether or not the server can accept.
fn connect_unserved(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("TCP connect");
    stream.set_nonblocking(true).expect("nonblocking");
    stream
}

/// Asserts that the server has sent nothing on `stream` (it was never accepted).
fn assert_not_served(stream: &mut TcpStream, what: &str) {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("{what}: expected nothing yet, got {other:?}"),
    }
}

/// Reads the INFO line the server sends once it accepts `stream`, within the deadline.
fn expect_info(stream: TcpStream) -> RawClient {
    stream.set_nonblocking(false).expect("blocking");
    RawClient::from_stream(stream)
}

/// Publishes `PUB fd.check <n>` from `publisher` and checks that each subscriber gets exactly
/// that message.
fn assert_pub_sub_works(publisher: &mut RawClient, subscribers: &mut [RawClient], round: usize) {
    let payload = format!("round {round}");
    let publish = format!("PUB fd.check {}\r\n{payload}\r\n", payload.len());
    assert_eq!(
        text(&publisher.send_and_sync(publish.as_bytes())),
        "PONG\r\n"
    );
    for subscriber in subscribers {
        subscriber.expect_frame(&format!(
            "MSG fd.check 1 {}\r\n{payload}\r\n",
            payload.len()
        ));
    }
}

#[test]
fn out_of_descriptors_refuses_new_connections_keeps_old_ones_and_recovers() {
    let launch = common::Launch {
        args: Vec::new(),
        open_files: Some(LOW_OPEN_FILES),
    };
    let server = Server::start_launch(Opts::default(), &launch);
    let port = server.port();
    // Free descriptor numbers below the limit; inherited ones above it do not count.
    let numbers = server.open_fd_numbers();
    let below = numbers.iter().filter(|&&n| n < LOW_OPEN_FILES).count();
    let room = LOW_OPEN_FILES as usize - below;
    assert!(
        room >= 14,
        "the server idles with {numbers:?}; raise LOW_OPEN_FILES"
    );
    let (needle, once) = match server.flavor {
        common::Flavor::Ringmq => ("out of file descriptors", true),
        // nats-server logs each retry of its accept back-off.
        common::Flavor::NatsServer => ("too many open files", false),
    };

    // Fill every descriptor: subscribers on both cores, one publisher, idle clients.
    let mut subscribers: Vec<RawClient> = (0..2)
        .map(|_| RawClient::subscriber(port, "SUB fd.check 1\r\n"))
        .collect();
    let mut publisher = RawClient::connect_quiet(port, b"");
    let mut idle_clients: Vec<RawClient> = (3..room)
        .map(|_| RawClient::connect_quiet(port, b""))
        .collect();
    // (nats-server's idle descriptors vary by one or so; top up until none is left.)
    let below_limit = || {
        let numbers = server.open_fd_numbers();
        numbers.iter().filter(|&&n| n < LOW_OPEN_FILES).count()
    };
    while below_limit() < LOW_OPEN_FILES as usize {
        idle_clients.push(RawClient::connect_quiet(port, b""));
    }

    // Beyond the limit: the handshake completes in the kernel, the server cannot accept.
    let mut waiting: Vec<TcpStream> = (0..3).map(|_| connect_unserved(port)).collect();
    server.wait_for_log(needle, READ_TIMEOUT);
    for (index, stream) in waiting.iter_mut().enumerate() {
        assert_not_served(stream, &format!("waiting client {index}"));
    }
    // The connections it has keep working, on both cores.
    assert_pub_sub_works(&mut publisher, &mut subscribers, 0);
    for client in &mut idle_clients {
        assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
    }

    // Five leave: the waiting three are accepted (after the back-off) and served.
    idle_clients.truncate(idle_clients.len() - 5);
    let mut accepted: Vec<RawClient> = waiting.into_iter().map(expect_info).collect();
    for client in &mut accepted {
        client.send(common::CONNECT_QUIET);
        assert_eq!(
            text(&client.send_and_sync(b"SUB fd.check 1\r\n")),
            "PONG\r\n"
        );
    }
    subscribers.extend(accepted);
    assert_pub_sub_works(&mut publisher, &mut subscribers, 1);
    if once {
        assert_eq!(server.count_log(needle), 1, "logged once for the burst");
    }

    // A second burst is logged again, and again recovered from.
    let mut waiting: Vec<TcpStream> = (0..4).map(|_| connect_unserved(port)).collect();
    let deadline = Instant::now() + READ_TIMEOUT;
    while server.count_log(needle) < 2 {
        assert!(Instant::now() < deadline, "second exhaustion never logged");
        std::thread::sleep(Duration::from_millis(5));
    }
    for (index, stream) in waiting.iter_mut().enumerate().skip(2) {
        assert_not_served(stream, &format!("second burst, client {index}"));
    }
    idle_clients.truncate(idle_clients.len() - 5);
    for stream in waiting {
        let mut client = expect_info(stream);
        assert_eq!(
            text(&client.send_and_sync(common::CONNECT_QUIET)),
            "PONG\r\n"
        );
    }
    assert_pub_sub_works(&mut publisher, &mut subscribers, 2);
    if once {
        assert_eq!(server.count_log(needle), 2, "logged once per burst");
    }
}

// ---- 6. cross-core mailbox full -------------------------------------------------------------

/// The flood of the mailbox test: this many messages of this size from one publisher on
/// core 1, each delivered to every one of the subscriber's sids on core 0.
const FLOOD_MESSAGES: u64 = 10_000;
const FLOOD_PAYLOAD: usize = 4096;
const FLOOD_SIDS: usize = 2;

/// The flood subscriber's SO_RCVBUF (the kernel doubles it); fixed, so that the kernel's
/// buffering does not grow with autotuning (tcp_rmem allows 32 MiB here).
const FLOOD_RECEIVE_BUFFER: u32 = 256 * 1024;

/// Outstanding bytes the publisher can have ahead of the subscriber when the server pauses
/// it: half of max_pending (32 MiB) queued for the consumer before the stall, the mailbox
/// (1 MiB) and the publisher's last read batch (about 1 MiB) on their way, and the kernel's
/// buffers (server send buffer at most 4 MiB by tcp_wmem, subscriber 512 KiB): about 39 MiB.
/// Without a pause the consumer would be cut at max_pending (64 MiB) instead.
const FLOOD_AHEAD_BYTES_MAX: usize = 48 << 20;

/// Reads slowly, but steadily (64 KiB every 2 ms: at most 32 MB/s), checking every frame;
/// publishes its progress in bytes so the test can see how far the publisher got ahead.
fn slow_flood_reader(mut stream: TcpStream, progress: Arc<AtomicUsize>) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut next = vec![0u64; FLOOD_SIDS];
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    // Each message arrives once per sid, one right after the other: build it once.
    let mut payload = (u64::MAX, Vec::new());
    while next.iter().any(|&n| n < FLOOD_MESSAGES) {
        assert!(Instant::now() < deadline, "flood not delivered: {next:?}");
        let n = stream.read(&mut chunk).expect("slow reader");
        assert!(n > 0, "the slow reader was cut after {next:?}");
        progress.fetch_add(n, Ordering::SeqCst);
        buffer.extend_from_slice(&chunk[..n]);
        let mut consumed = 0;
        while let Some(length) = common::frame_len(&buffer[consumed..]) {
            let frame = &buffer[consumed..consumed + length];
            consumed += length;
            if frame == b"PING\r\n" {
                continue;
            }
            let sid = usize::from(frame[b"MSG flood ".len()] - b'1');
            if payload.0 != next[sid] {
                payload = (next[sid], stream_payload(0, next[sid], FLOOD_PAYLOAD - 8));
            }
            let line = format!("MSG flood {} {FLOOD_PAYLOAD}\r\n", sid + 1);
            assert!(
                frame.len() == line.len() + FLOOD_PAYLOAD + 2
                    && frame.starts_with(line.as_bytes())
                    && frame[line.len()..line.len() + FLOOD_PAYLOAD] == payload.1[..]
                    && frame.ends_with(b"\r\n"),
                "sid {}: message {} differs",
                sid + 1,
                next[sid]
            );
            next[sid] += 1;
        }
        buffer.drain(..consumed);
        // Pacing: this is the slow consumer.
        std::thread::sleep(Duration::from_millis(2));
    }
    next
}

#[test]
fn a_full_cross_core_mailbox_pauses_the_publisher_and_drops_nothing() {
    let server = Server::start(Opts::default());
    let port = server.port();
    // The whole flood, built before the reader starts its clock.
    let mut batch = Vec::new();
    for sequence in 0..FLOOD_MESSAGES {
        // Every sid gets the same message.
        let payload = stream_payload(0, sequence, FLOOD_PAYLOAD - 8);
        batch.extend_from_slice(format!("PUB flood {FLOOD_PAYLOAD}\r\n").as_bytes());
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
    }
    // Placement is least-loaded, ties round-robin from core 0: the subscriber (first
    // connection) is on core 0, the publisher (second) on core 1.
    let mut subscriptions = String::new();
    for sid in 1..=FLOOD_SIDS {
        subscriptions.push_str(&format!("SUB flood {sid}\r\n"));
    }
    let mut subscriber = RawClient::from_stream(common::connect_with_receive_buffer(
        port,
        FLOOD_RECEIVE_BUFFER,
    ));
    subscriber.send(common::CONNECT_QUIET);
    assert_eq!(
        text(&subscriber.send_and_sync(subscriptions.as_bytes())),
        "PONG\r\n"
    );
    let subscriber = subscriber.into_stream();
    let mut publisher = RawClient::connect_quiet(port, b"");
    let progress = Arc::new(AtomicUsize::new(0));
    let reader_progress = Arc::clone(&progress);
    let reader = std::thread::spawn(move || slow_flood_reader(subscriber, reader_progress));

    let started = Instant::now();
    let frame_bytes = format!("MSG flood 1 {FLOOD_PAYLOAD}\r\n").len() + FLOOD_PAYLOAD + 2;
    publisher.send(&batch);
    assert_eq!(text(&publisher.send_and_sync(b"")), "PONG\r\n");
    // Every PUB has been taken in; how far is the publisher ahead of the reader?
    let published = FLOOD_MESSAGES as usize * FLOOD_SIDS * frame_bytes;
    let ahead = published.saturating_sub(progress.load(Ordering::SeqCst));
    let published_after = started.elapsed();
    let received = reader.join().expect("slow reader");
    eprintln!(
        "flood: {published} bytes for the subscriber; publisher done after \
         {published_after:?} with {ahead} bytes outstanding; all read after {:?}",
        started.elapsed()
    );
    assert_eq!(received, vec![FLOOD_MESSAGES; FLOOD_SIDS]);
    assert!(
        ahead <= FLOOD_AHEAD_BYTES_MAX,
        "the publisher was {ahead} bytes ahead of its consumer: not paused"
    );
}

// ---- 7. garbage at the listener -------------------------------------------------------------

/// A TLS 1.2 ClientHello as a TLS client sends it first (record header, handshake header,
/// version, random, no session, a few cipher suites, SNI `example.ulfheim.net`).
const TLS_CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\
\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\
\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\
\x00\x00\x20\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30\xcc\xa9\xcc\xa8\xc0\x09\xc0\x13\xc0\x0a\xc0\x14\
\x00\x9c\x00\x9d\x00\x2f\x00\x35\xc0\x12\x00\x0a\x01\x00\x00\x58\x00\x00\x00\x18\x00\x16\x00\
\x00\x13example.ulfheim.net\x00\x05\x00\x05\x01\x00\x00\x00\x00\x00\x0a\x00\x0a\x00\x08\x00\
\x1d\x00\x17\x00\x18\x00\x19\x00\x0b\x00\x02\x01\x00\x00\x0d\x00\x12\x00\x10\x04\x01\x04\x03\
\x05\x01\x05\x03\x06\x01\x06\x03\x02\x01\x02\x03\xff\x01\x00\x01\x00\x00\x12\x00\x00";

/// What a browser or curl sends to a port it takes for HTTP.
const HTTP_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.0\r\n\
Accept: */*\r\n\r\n";

/// Random bytes (fixed, so the expected answer is fixed): a non-letter first byte, NULs,
/// CR LF in the middle.
const RANDOM_BYTES: &[u8] = b"\x8f\x3a\x00\xff\x12\x99A\r\n~\xd3\x07\x5c\x22\xee\x01\x80\x7f\
\x00\x00\x9b\x41\x0d\x0a\x33\xc4\xfe\x10\x27\x6a\xb5\x02";

/// Garbage whose first byte starts a NATS operation (`S` of SUB), to be refused at the
/// second: an SSH client's banner.
const SSH_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2p1\r\n";

/// HTTP/2's connection preface: `P` of PUB/PING/PONG, refused at `R`.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// nats-server 2.9.10's answer to each garbage case above (captured with a raw socket): the
/// first byte the parser cannot take ends the connection with this line, and the server
/// closes. Its log has one `[ERR] <peer> - cid:<n> - Client parser ERROR, ...` line each.
const GARBAGE_ANSWER: &str = "-ERR 'Unknown Protocol Operation'\r\n";

#[test]
fn garbage_at_the_listener_is_answered_closed_and_logged_once() {
    assert_eq!(
        TLS_CLIENT_HELLO.len(),
        5 + 0xa5,
        "record header + its length"
    );
    let server = Server::start(Opts::default());
    let cases: [(&str, &[u8]); 6] = [
        ("TLS ClientHello", TLS_CLIENT_HELLO),
        ("HTTP GET", HTTP_GET),
        ("random bytes", RANDOM_BYTES),
        ("SSH banner", SSH_BANNER),
        ("HTTP/2 preface", HTTP2_PREFACE),
        ("a bare GET, no line end", b"GET"),
    ];
    let mut cids = Vec::new();
    for (name, garbage) in cases {
        // Garbage first, without CONNECT, as a confused client sends it.
        let mut client = server.raw();
        client.send(garbage);
        let reply = client.read_to_eof(Instant::now() + READ_TIMEOUT);
        assert_eq!(text(&reply), GARBAGE_ANSWER, "{name}");
        cids.push((name, client_id(&client.info)));
    }
    // A last garbage connection marks the end: its line is written after every earlier one
    // (each was written before that connection's -ERR was sent), so once it is in the log,
    // the log is complete for the cases above.
    let mut marker = server.raw();
    marker.send(b"\x00");
    assert_eq!(
        text(&marker.read_to_eof(Instant::now() + READ_TIMEOUT)),
        GARBAGE_ANSWER
    );
    let marker_cid = client_id(&marker.info);
    server.wait_for_log(
        &format!("cid:{marker_cid} - Client parser ERROR"),
        READ_TIMEOUT,
    );
    for (name, cid) in cids {
        let lines: Vec<String> = server
            .log_lines()
            .into_iter()
            .filter(|line| line.contains(&format!(" - cid:{cid} - ")))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: log lines for cid {cid}: {lines:?}");
        assert!(
            lines[0].contains("[ERR]") && lines[0].contains("Client parser ERROR"),
            "{name}: {lines:?}"
        );
    }
    // The server holds nothing for them: only the listener is left.
    server.wait_for_sockets(1, CLOSE_TIMEOUT);
}

/// A CONNECT whose JSON does not decode closes the connection without an -ERR, and the log
/// says why, in nats-server 2.9.10's words (Go's encoding/json texts, captured from it).
#[test]
fn a_malformed_connect_is_closed_and_logged_with_the_reason() {
    let server = Server::start(Opts::default());
    let cases: [(&[u8], &str); 4] = [
        (
            b"{bad",
            "invalid character 'b' looking for beginning of object key string",
        ),
        (b"", "unexpected end of JSON input"),
        (
            b"{\"verbose\":false}x",
            "invalid character 'x' after top-level value",
        ),
        (
            b"{\"verbose\":false \"pedantic\":true}",
            "invalid character '\"' after object key:value pair",
        ),
    ];
    for (json, reason) in cases {
        let mut client = server.raw();
        client.send(&[&b"CONNECT "[..], json, b"\r\n"].concat());
        assert_eq!(text(&client.read_to_eof(Instant::now() + READ_TIMEOUT)), "");
        let cid = client_id(&client.info);
        let line = server.wait_for_log(&format!(" - cid:{cid} - "), READ_TIMEOUT);
        assert!(
            line.contains("[ERR]") && line.ends_with(&format!(" - cid:{cid} - {reason}")),
            "{line}"
        );
    }
}

/// A server killed with SIGKILL, with clients connected, is replaced on the same port at
/// once, as a supervisor (systemd's `Restart=`) does. The killed server's listening socket
/// outlives the process for a moment (the kernel tears its io_uring down afterwards); the new
/// one waits that out instead of failing with "address in use".
#[test]
fn a_killed_server_is_replaced_on_its_port_at_once() {
    let mut server = Server::start(Opts::default());
    let port = server.port();
    let port_arg = port.to_string();
    for round in 0..5 {
        let mut clients: Vec<RawClient> = (0..4)
            .map(|_| RawClient::connect_quiet(port, b"SUB a 1\r\n"))
            .collect();
        for client in &mut clients {
            assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
        }
        drop(server); // SIGKILL, then reaped
        server = Server::start_with_args(Opts::default(), &["-p", &port_arg]);
        assert_eq!(server.port(), port, "round {round}");
        let mut client = RawClient::connect_quiet(port, b"");
        assert_eq!(
            text(&client.send_and_sync(b"")),
            "PONG\r\n",
            "round {round}"
        );
    }
}
