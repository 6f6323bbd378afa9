use super::*;
use proptest::prelude::*;

const LIMITS: ParserLimits = ParserLimits {
    max_control_line: 4096,
    max_payload: 1024,
};

/// Parses `chunks` in order; each operation rendered as text, or the error.
fn run(chunks: &[&[u8]]) -> Vec<String> {
    run_as(Dialect::Leaf, chunks)
}

fn run_as(dialect: Dialect, chunks: &[&[u8]]) -> Vec<String> {
    let mut parser = LinkParser::with_dialect(dialect, LIMITS);
    let mut out = Vec::new();
    for chunk in chunks {
        let result = parser.parse(chunk, |op| out.push(render(op)));
        if let Err(error) = result {
            out.push(format!("error {error:?}"));
            return out;
        }
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `acc=NAME ` on a route, nothing on a leaf link.
fn account(account: Option<&[u8]>) -> String {
    account.map_or(String::new(), |a| format!("acc={} ", text(a)))
}

fn render(op: LinkOp<'_>) -> String {
    match op {
        LinkOp::Message(m) => format!(
            "MSG {}s={} r={:?} q=[{}] h={:?} t={} hl={} m={}",
            account(m.account),
            text(m.subject),
            m.reply.map(text),
            m.queue_names().map(text).collect::<Vec<_>>().join(","),
            m.header_size.map(text),
            text(m.total_size),
            m.header_len,
            text(m.message)
        ),
        LinkOp::Subscribe {
            account: acc,
            subject,
            queue,
            ..
        } => {
            format!(
                "LS+ {}{} {:?}",
                account(acc),
                text(subject),
                queue.map(|(q, w)| (text(q), w))
            )
        }
        LinkOp::Unsubscribe {
            account: acc,
            subject,
            queue,
        } => {
            format!(
                "LS- {}{} {:?}",
                account(acc),
                text(subject),
                queue.map(text)
            )
        }
        LinkOp::Connect(json) => format!("CONNECT {}", text(json)),
        LinkOp::Info(json) => format!("INFO {}", text(json)),
        LinkOp::Err(message) => format!("ERR {}", text(message)),
        LinkOp::Ping => "PING".into(),
        LinkOp::Pong => "PONG".into(),
        LinkOp::Ok => "OK".into(),
    }
}

/// The captures of spec §B.4 plus every other verb.
const STREAM: &[u8] = b"INFO {\"server_id\":\"N\"} \r\nCONNECT {\"name\":\"leaf1\"}\r\n\
LS+ foo\r\nLS+ q.bar workers 2\r\nLS- q.bar workers\r\nLS- foo\r\n\
LMSG raw.a 2\r\nhi\r\nLMSG raw.b r.1 9\r\nwithreply\r\n\
HMSG raw.c r.2 18 21\r\nNATS/1.0\r\nK: V\r\n\r\nhdr\r\n\
LMSG q.raw | workers 6\r\nqueue1\r\nLMSG q.raw + r.3 workers other 6\r\nqueue2\r\n\
HMSG q.raw | workers 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLMSG e 0\r\n\r\n\
ping\r\nPONG\r\n+OK\r\n-ERR 'Loop detected'\r\n";

fn expected() -> Vec<String> {
    [
        "INFO {\"server_id\":\"N\"}",
        "CONNECT {\"name\":\"leaf1\"}",
        "LS+ foo None",
        "LS+ q.bar Some((\"workers\", 2))",
        "LS- q.bar Some(\"workers\")",
        "LS- foo None",
        "MSG s=raw.a r=None q=[] h=None t=2 hl=0 m=hi",
        "MSG s=raw.b r=Some(\"r.1\") q=[] h=None t=9 hl=0 m=withreply",
        "MSG s=raw.c r=Some(\"r.2\") q=[] h=Some(\"18\") t=21 hl=18 m=NATS/1.0\r\nK: V\r\n\r\nhdr",
        "MSG s=q.raw r=None q=[workers] h=None t=6 hl=0 m=queue1",
        "MSG s=q.raw r=Some(\"r.3\") q=[workers,other] h=None t=6 hl=0 m=queue2",
        "MSG s=q.raw r=None q=[workers] h=Some(\"12\") t=14 hl=12 m=NATS/1.0\r\n\r\nhi",
        "MSG s=e r=None q=[] h=None t=0 hl=0 m=",
        "PING",
        "PONG",
        "OK",
        "ERR 'Loop detected'",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn every_operation_of_a_link_in_one_read() {
    assert_eq!(run(&[STREAM]), expected());
}

#[test]
fn byte_by_byte_is_the_same() {
    let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
    assert_eq!(run(&bytes), expected());
}

#[test]
fn errors() {
    assert_eq!(run(&[b"SUB foo 1\r\n"]), ["error UnknownOperation"]);
    assert_eq!(run(&[b"LS+ a b\r\n"]), ["error ProtocolViolation"]);
    assert_eq!(run(&[b"LMSG a x\r\n"]), ["error ProtocolViolation"]);
    assert_eq!(run(&[b"HMSG a 5 3\r\n"]), ["error ProtocolViolation"]);
    assert_eq!(run(&[b"LMSG a 2000\r\n"]), ["error MaxPayload"]);
    assert_eq!(run(&[b"LMSG a 2\r\nhiX\n"]), ["error ProtocolViolation"]);
    assert_eq!(run(&[b"LMSG a | 2\r\nhi\r\n"]), ["error ProtocolViolation"]);
    let long = vec![b'a'; 5000];
    assert_eq!(run(&[&long]), ["error MaxControlLine"]);
    assert_eq!(
        run(&[&long[..3000], &long[3000..]]),
        ["error MaxControlLine"]
    );
}

proptest! {
    #[test]
    fn every_split_parses_the_same(cuts in proptest::collection::vec(0..STREAM.len(), 0..8)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts {
            chunks.push(&STREAM[start..cut]);
            start = cut;
        }
        chunks.push(&STREAM[start..]);
        prop_assert_eq!(run(&chunks), expected());
    }
}

#[test]
fn a_route_names_the_account_first() {
    // The LS+/LS-/LMSG forms are nats-server 2.9.10's for a peer's leaf interest (origin
    // cluster LC; LS- with two spaces and no origin).
    let stream: &[&[u8]] = &[
        b"RS+ $G foo\r\nRS+ $G q.bar workers 2\r\nLS+ LC ACC leafy\r\n\
RS- $G q.bar workers\r\nLS-  ACC leafy\r\nRMSG $G raw.a 2\r\nhi\r\nRMSG $G raw.b r.1 2\r\nhi\r\n\
RMSG $G q.raw + r.3 workers other 2\r\nhi\r\nRMSG $G q.raw | workers 2\r\nhi\r\n\
HMSG $G raw.c r.2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLS+ LC $G baz q1 1\r\n\
LMSG LC $G foo 0 2\r\nhi\r\nLMSG LC $G foo reply 0 2\r\nhi\r\n\
LMSG LC $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n",
    ];
    assert_eq!(
        run_as(Dialect::Route, stream),
        [
            "LS+ acc=$G foo None",
            "LS+ acc=$G q.bar Some((\"workers\", 2))",
            "LS+ acc=ACC leafy None",
            "LS- acc=$G q.bar Some(\"workers\")",
            "LS- acc=ACC leafy None",
            "MSG acc=$G s=raw.a r=None q=[] h=None t=2 hl=0 m=hi",
            "MSG acc=$G s=raw.b r=Some(\"r.1\") q=[] h=None t=2 hl=0 m=hi",
            "MSG acc=$G s=q.raw r=Some(\"r.3\") q=[workers,other] h=None t=2 hl=0 m=hi",
            "MSG acc=$G s=q.raw r=None q=[workers] h=None t=2 hl=0 m=hi",
            "MSG acc=$G s=raw.c r=Some(\"r.2\") q=[] h=Some(\"12\") t=14 hl=12 m=NATS/1.0\r\n\r\nhi",
            "LS+ acc=$G baz Some((\"q1\", 1))",
            "MSG acc=$G s=foo r=None q=[] h=None t=2 hl=0 m=hi",
            "MSG acc=$G s=foo r=Some(\"reply\") q=[] h=None t=2 hl=0 m=hi",
            "MSG acc=$G s=foo r=None q=[] h=Some(\"12\") t=14 hl=12 m=NATS/1.0\r\n\r\nhi",
            "PING",
        ]
    );
    // A leaf link knows no RS+ nor RMSG; a route's interest line needs its account.
    assert_eq!(run(&[b"RS+ $G foo\r\n"]), ["error UnknownOperation"]);
    assert_eq!(
        run_as(Dialect::Route, &[b"RS+\r\n"]),
        ["error ProtocolViolation"]
    );
    // A route's LMSG names an origin, an account and a header size.
    assert_eq!(
        run_as(Dialect::Route, &[b"LMSG foo 2\r\nhi\r\n"]),
        ["error ProtocolViolation"]
    );
}

#[test]
fn parse_some_stops_where_told_and_the_rest_parses_the_same() {
    let expected = expected();
    for stop_after in 1..expected.len() {
        for cut in [0, 7, STREAM.len() / 2] {
            let mut parser = LinkParser::new(LIMITS);
            let mut out = Vec::new();
            // A first chunk (maybe cut mid-frame), then the rest, stopping once.
            let (head, tail) = STREAM.split_at(cut);
            parser
                .parse(head, |op| out.push(render(op)))
                .expect("head parses");
            let mut stopped = false;
            let consumed = parser
                .parse_some(tail, |op| {
                    out.push(render(op));
                    let go = stopped || out.len() != stop_after;
                    stopped |= !go;
                    go
                })
                .expect("tail parses");
            parser
                .parse(&tail[consumed..], |op| out.push(render(op)))
                .expect("the rest parses");
            assert_eq!(out, expected, "stop after {stop_after}, cut at {cut}");
        }
    }
}
