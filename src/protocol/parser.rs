//! A byte state machine for the client side of the NATS protocol.
//!
//! CONTRACT (used by `broker`):
//! - `Parser::parse(input, on_op)` consumes all of `input`, calling `on_op` once per complete
//!   operation, in order. Operation fields borrow either `input` or the parser's own carry
//!   buffer (for a frame split across reads), never a heap allocation per message.
//! - The result is identical however a byte stream is split across `parse` calls.
//! - `on_op` returns `ControlFlow::Break(())` to stop (the connection is closing); the rest of
//!   `input` is then discarded and `parse` returns `Ok(())`.
//! - On a protocol error `parse` returns the error; the parser must not be used again.

use std::ops::ControlFlow;

use memchr::memchr;

/// One operation a client sent. Byte fields are exactly as on the wire (no CR/LF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT <json>`: the raw JSON argument (may be empty: the broker decides).
    Connect(&'a [u8]),
    /// `PUB subject [reply] size` + payload. `size` is the size field verbatim (echoed in MSG).
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        size: &'a [u8],
        payload: &'a [u8],
    },
    /// `HPUB subject [reply] hdr_len total_len` + header block + payload. `message` is all
    /// `total_len` bytes (headers then payload); `header_len` is the parsed `hdr_len`.
    Hpub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_size: &'a [u8],
        total_size: &'a [u8],
        header_len: usize,
        message: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB sid [max]`; `max` verbatim (see [`super::parse_size`]).
    Unsub {
        sid: &'a [u8],
        max: Option<&'a [u8]>,
    },
    Ping,
    Pong,
    /// `INFO <json>` from a client (ignored by the broker).
    Info(&'a [u8]),
    /// `+OK` from a client (ignored).
    Ok,
}

/// Why parsing stopped. Each maps to exactly one reply of nats-server 2.9.10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Byte-level error: `-ERR 'Unknown Protocol Operation'` then close.
    UnknownOperation,
    /// Argument longer than `max_control_line`: `-ERR 'maximum control line exceeded'`, close.
    MaxControlLine,
    /// PUB/HPUB size above `max_payload`: `-ERR 'Maximum Payload Violation'` then close.
    MaxPayload,
    /// Wrong argument count, bad size field, hdr_len > total_len: close without -ERR.
    ProtocolViolation,
    /// The client sent `-ERR`: close without -ERR.
    ClientError,
}

/// Bounds the parser enforces while bytes pile up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

/// A carry buffer above this capacity is released once it empties, so a connection that once
/// received a large split payload does not pin that memory while it idles. Smaller buffers are
/// kept: split frames in steady state then allocate nothing.
const CARRY_CAPACITY_RETAINED_MAX: usize = 64 * 1024;

/// Where the parser is in the grammar. Each name spells the bytes seen so far, as in
/// nats-server's parser: `OpPu` has seen `PU`, `OpPubSpace` has seen `PUB` and a blank,
/// `PubArgument` is inside the argument of a PUB line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    OpP,
    OpPu,
    OpPub,
    OpPubSpace,
    PubArgument,
    OpH,
    OpHp,
    OpHpu,
    OpHpub,
    OpHpubSpace,
    HpubArgument,
    OpPi,
    OpPin,
    OpPing,
    OpPo,
    OpPon,
    OpPong,
    OpS,
    OpSu,
    OpSub,
    OpSubSpace,
    SubArgument,
    OpU,
    OpUn,
    OpUns,
    OpUnsu,
    OpUnsub,
    OpUnsubSpace,
    UnsubArgument,
    OpC,
    OpCo,
    OpCon,
    OpConn,
    OpConne,
    OpConnec,
    OpConnect,
    ConnectArgument,
    OpI,
    OpIn,
    OpInf,
    OpInfo,
    InfoArgument,
    OpPlus,
    OpPlusO,
    OpPlusOk,
    OpMinus,
    OpMinusE,
    OpMinusEr,
    OpMinusErr,
    OpMinusErrSpace,
    MinusErrArgument,
    /// Copying a split PUB/HPUB message into the carry buffer.
    Payload,
    PayloadEndCr,
    PayloadEndLf,
}

impl State {
    /// The argument state a blank-skipping state moves to on its first non-blank byte.
    fn argument_state(self) -> Option<State> {
        match self {
            State::OpPubSpace => Some(State::PubArgument),
            State::OpHpubSpace => Some(State::HpubArgument),
            State::OpSubSpace => Some(State::SubArgument),
            State::OpUnsubSpace => Some(State::UnsubArgument),
            State::OpConnect => Some(State::ConnectArgument),
            State::OpInfo => Some(State::InfoArgument),
            State::OpMinusErrSpace => Some(State::MinusErrArgument),
            _ => None,
        }
    }

    fn is_argument(self) -> bool {
        matches!(
            self,
            State::PubArgument
                | State::HpubArgument
                | State::SubArgument
                | State::UnsubArgument
                | State::ConnectArgument
                | State::InfoArgument
                | State::MinusErrArgument
        )
    }

    /// PING, PONG and +OK ignore every byte after their name up to LF.
    fn ignores_rest_of_line(self) -> bool {
        matches!(self, State::OpPing | State::OpPong | State::OpPlusOk)
    }
}

/// The state after `byte` in an operation name (or the blank that must follow it).
fn name_step(state: State, byte: u8) -> Result<State, ParseError> {
    let lower = byte | 0x20;
    let (expected, next) = match state {
        State::Start => return start_step(byte),
        State::OpP => {
            return match lower {
                b'u' => Ok(State::OpPu),
                b'i' => Ok(State::OpPi),
                b'o' => Ok(State::OpPo),
                _ => Err(ParseError::UnknownOperation),
            }
        }
        State::OpPu => (b'b', State::OpPub),
        State::OpH => (b'p', State::OpHp),
        State::OpHp => (b'u', State::OpHpu),
        State::OpHpu => (b'b', State::OpHpub),
        State::OpPi => (b'n', State::OpPin),
        State::OpPin => (b'g', State::OpPing),
        State::OpPo => (b'n', State::OpPon),
        State::OpPon => (b'g', State::OpPong),
        State::OpS => (b'u', State::OpSu),
        State::OpSu => (b'b', State::OpSub),
        State::OpU => (b'n', State::OpUn),
        State::OpUn => (b's', State::OpUns),
        State::OpUns => (b'u', State::OpUnsu),
        State::OpUnsu => (b'b', State::OpUnsub),
        State::OpC => (b'o', State::OpCo),
        State::OpCo => (b'n', State::OpCon),
        State::OpCon => (b'n', State::OpConn),
        State::OpConn => (b'e', State::OpConne),
        State::OpConne => (b'c', State::OpConnec),
        State::OpConnec => (b't', State::OpConnect),
        State::OpI => (b'n', State::OpIn),
        State::OpIn => (b'f', State::OpInf),
        State::OpInf => (b'o', State::OpInfo),
        State::OpPlus => (b'o', State::OpPlusO),
        State::OpPlusO => (b'k', State::OpPlusOk),
        State::OpMinus => (b'e', State::OpMinusE),
        State::OpMinusE => (b'r', State::OpMinusEr),
        State::OpMinusEr => (b'r', State::OpMinusErr),
        State::OpPub => return blank_step(byte, State::OpPubSpace),
        State::OpHpub => return blank_step(byte, State::OpHpubSpace),
        State::OpSub => return blank_step(byte, State::OpSubSpace),
        State::OpUnsub => return blank_step(byte, State::OpUnsubSpace),
        State::OpMinusErr => return blank_step(byte, State::OpMinusErrSpace),
        _ => unreachable!("name_step called in state {state:?}"),
    };
    // `| 0x20` folds exactly the two cases of a letter onto the lower-case one.
    if lower == expected {
        Ok(next)
    } else {
        Err(ParseError::UnknownOperation)
    }
}

/// The first byte of an operation. `M` (MSG), `R`, `L` and `A` are route and leaf operations
/// that nats-server refuses from clients on the first byte.
fn start_step(byte: u8) -> Result<State, ParseError> {
    match byte | 0x20 {
        b'p' => Ok(State::OpP),
        b'h' => Ok(State::OpH),
        b's' => Ok(State::OpS),
        b'u' => Ok(State::OpU),
        b'c' => Ok(State::OpC),
        b'i' => Ok(State::OpI),
        _ => match byte {
            b'+' => Ok(State::OpPlus),
            b'-' => Ok(State::OpMinus),
            _ => Err(ParseError::UnknownOperation),
        },
    }
}

fn blank_step(byte: u8, next: State) -> Result<State, ParseError> {
    if is_blank(byte) {
        Ok(next)
    } else {
        Err(ParseError::UnknownOperation)
    }
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// SUB and UNSUB split on CR and LF as well (which is what makes the CR quirk visible).
fn is_sub_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// A control line whose LF has been found.
#[derive(Debug, Clone, Copy)]
struct Line {
    /// Where the argument starts in `input`; `None` when its start is in the carry buffer.
    argument_start: Option<usize>,
    /// The first byte of this line that `input` holds and the carry buffer does not.
    segment_start: usize,
    /// Index of the LF in `input`.
    line_feed: usize,
}

/// What `parse` does after a step: go on at `index`, or stop because `on_op` said so.
enum Step {
    Continue(usize),
    Stop,
}

/// Per-connection parser state; survives across reads.
///
/// Memory: the carry buffer holds at most a partial control line (`max_control_line` + 1
/// bytes: a CR that the LF will drop) or one split PUB/HPUB (its argument, at most
/// `max_control_line`, plus its message, at most `max_payload`).
#[derive(Debug)]
pub struct Parser {
    limits: ParserLimits,
    state: State,
    /// A CR was seen inside the current argument after its first byte; at LF nats-server then
    /// drops the byte just before LF, whatever it is (spec §1.2, the CR quirk).
    drop_last_byte: bool,
    /// Bytes of a frame split across reads: a partial argument, or a PUB/HPUB argument followed
    /// by the part of its message received so far.
    carry: Vec<u8>,
    /// While a split message is assembled: the length of the argument at the front of `carry`.
    carried_argument_len: usize,
    /// While a split message is assembled: its announced size (HPUB: headers included).
    carried_message_len: usize,
    /// Whether the carried frame is an HPUB.
    carried_headers: bool,
    /// HPUB is refused (ProtocolViolation) when false; see [`Parser::set_headers_enabled`].
    headers_enabled: bool,
}

impl Parser {
    pub fn new(limits: ParserLimits) -> Parser {
        Parser {
            limits,
            state: State::Start,
            drop_last_byte: false,
            carry: Vec::new(),
            carried_argument_len: 0,
            carried_message_len: 0,
            carried_headers: false,
            headers_enabled: true,
        }
    }

    /// Whether this connection negotiated headers. nats-server checks this before anything
    /// else on an HPUB line (after the control line limit), so an HPUB from a connection
    /// without headers closes silently even when its size is over max_payload. Default: true.
    pub fn set_headers_enabled(&mut self, enabled: bool) {
        self.headers_enabled = enabled;
    }

    /// Feeds `input`; see the module contract.
    pub fn parse<F>(&mut self, input: &[u8], mut on_op: F) -> Result<(), ParseError>
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        let mut index = 0;
        // Set when an argument begins inside `input`; while `None` in an argument state, the
        // argument's beginning is in the carry buffer.
        let mut argument_start = None;
        while index < input.len() {
            let step = match self.state {
                state if state.is_argument() => {
                    let Some(offset) = memchr(b'\n', &input[index..]) else {
                        self.note_carriage_return(&input[index..]);
                        break;
                    };
                    let line_feed = index + offset;
                    self.note_carriage_return(&input[index..line_feed]);
                    let line = Line {
                        argument_start: argument_start.take(),
                        segment_start: index,
                        line_feed,
                    };
                    self.complete_line(input, line, &mut on_op)?
                }
                state if state.ignores_rest_of_line() => {
                    let Some(offset) = memchr(b'\n', &input[index..]) else {
                        break;
                    };
                    self.complete_ignored_line(index + offset + 1, &mut on_op)
                }
                State::Payload => Step::Continue(self.fill_payload(input, index)),
                State::PayloadEndCr => {
                    self.state = expect_byte(input[index], b'\r', State::PayloadEndLf)?;
                    Step::Continue(index + 1)
                }
                State::PayloadEndLf => {
                    expect_byte(input[index], b'\n', State::Start)?;
                    self.complete_carried_publish(index + 1, &mut on_op)?
                }
                state => match state.argument_state() {
                    Some(_) if is_blank(input[index]) => Step::Continue(index + 1),
                    Some(next) => {
                        // Like nats-server, the argument's first byte is taken as is, even a
                        // CR or LF.
                        argument_start = Some(index);
                        self.state = next;
                        Step::Continue(index + 1)
                    }
                    None => {
                        self.state = name_step(state, input[index])?;
                        Step::Continue(index + 1)
                    }
                },
            };
            match step {
                Step::Continue(next) => index = next,
                Step::Stop => {
                    self.reset();
                    return Ok(());
                }
            }
        }
        self.hold_partial_argument(input, argument_start)
    }

    /// Bytes held in the carry buffer (a split frame); for leak checks and stats.
    pub fn buffered(&self) -> usize {
        self.carry.len()
    }

    /// Capacity of the carry buffer, for tests that check it does not grow.
    #[cfg(test)]
    fn carry_capacity(&self) -> usize {
        self.carry.capacity()
    }

    fn note_carriage_return(&mut self, segment: &[u8]) {
        // The usual CRLF ending is caught without scanning the argument a second time.
        if !self.drop_last_byte {
            self.drop_last_byte =
                segment.last() == Some(&b'\r') || memchr(b'\r', segment).is_some();
        }
    }

    fn reset(&mut self) {
        self.state = State::Start;
        self.drop_last_byte = false;
        self.release_carry();
    }

    fn release_carry(&mut self) {
        self.carry.clear();
        if self.carry.capacity() > CARRY_CAPACITY_RETAINED_MAX {
            self.carry = Vec::new();
        }
    }

    fn complete_ignored_line<F>(&mut self, next: usize, on_op: &mut F) -> Step
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        let op = match self.state {
            State::OpPing => ClientOp::Ping,
            State::OpPong => ClientOp::Pong,
            _ => ClientOp::Ok,
        };
        self.state = State::Start;
        flow_step(on_op(op), next)
    }

    /// Handles a control line ending at `line.line_feed`: emits the operation, or for PUB/HPUB
    /// emits it at once when the whole message is in `input` and otherwise starts carrying it.
    fn complete_line<F>(
        &mut self,
        input: &[u8],
        line: Line,
        on_op: &mut F,
    ) -> Result<Step, ParseError>
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        let drop_len = usize::from(self.drop_last_byte);
        let raw: &[u8] = match line.argument_start {
            Some(start) => &input[start..line.line_feed],
            None => {
                let segment = &input[line.segment_start..line.line_feed];
                // Checked before copying, so the carry never exceeds the limit.
                if self.carry.len() + segment.len() - drop_len > self.limits.max_control_line {
                    return Err(ParseError::MaxControlLine);
                }
                self.carry.extend_from_slice(segment);
                &self.carry
            }
        };
        // A CR that sets the flag comes after the argument's first byte, so raw has 2+ bytes.
        debug_assert!(raw.len() > drop_len);
        let argument = &raw[..raw.len() - drop_len];
        if argument.len() > self.limits.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
        self.drop_last_byte = false;
        let next = line.line_feed + 1;
        let flow = match self.state {
            State::SubArgument => on_op(parse_sub(argument)?),
            State::UnsubArgument => on_op(parse_unsub(argument)?),
            State::ConnectArgument => on_op(ClientOp::Connect(trim_json_whitespace(argument))),
            State::InfoArgument => on_op(ClientOp::Info(trim_json_whitespace(argument))),
            State::MinusErrArgument => return Err(ParseError::ClientError),
            state => {
                let headers = state == State::HpubArgument;
                let publish = Publish::parse(argument, headers, self)?;
                let message_end = next + publish.message_len;
                if message_end + 2 <= input.len() {
                    if input[message_end..message_end + 2] != *b"\r\n" {
                        return Err(ParseError::UnknownOperation);
                    }
                    let flow = on_op(publish.into_op(&input[next..message_end]));
                    self.state = State::Start;
                    self.release_carry();
                    return Ok(flow_step(flow, message_end + 2));
                }
                let (argument_len, message_len) = (argument.len(), publish.message_len);
                self.carry_publish(input, line.argument_start, argument_len, message_len);
                self.carried_headers = headers;
                return Ok(Step::Continue(next));
            }
        };
        self.state = State::Start;
        self.release_carry();
        Ok(flow_step(flow, next))
    }

    /// Moves a PUB/HPUB whose message is not all in `input` into the carry buffer (argument
    /// first), sized once for the whole message.
    fn carry_publish(
        &mut self,
        input: &[u8],
        argument_start: Option<usize>,
        argument_len: usize,
        message_len: usize,
    ) {
        match argument_start {
            Some(start) => {
                self.carry.clear();
                self.carry.reserve_exact(argument_len + message_len);
                self.carry
                    .extend_from_slice(&input[start..start + argument_len]);
            }
            None => {
                self.carry.truncate(argument_len);
                self.carry.reserve_exact(message_len);
            }
        }
        self.carried_argument_len = argument_len;
        self.carried_message_len = message_len;
        self.state = State::Payload;
    }

    /// Copies as much of a split message as `input` holds; returns the next index.
    fn fill_payload(&mut self, input: &[u8], index: usize) -> usize {
        let wanted = self.carried_argument_len + self.carried_message_len - self.carry.len();
        let taken = wanted.min(input.len() - index);
        self.carry.extend_from_slice(&input[index..index + taken]);
        if taken == wanted {
            self.state = State::PayloadEndCr;
        }
        index + taken
    }

    fn complete_carried_publish<F>(
        &mut self,
        next: usize,
        on_op: &mut F,
    ) -> Result<Step, ParseError>
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        let (argument, message) = self.carry.split_at(self.carried_argument_len);
        debug_assert_eq!(message.len(), self.carried_message_len);
        // The argument passed these checks when its line ended; parsing it again is cheaper
        // than storing its fields as offsets.
        let publish = Publish::parse(argument, self.carried_headers, self)?;
        let flow = on_op(publish.into_op(message));
        self.state = State::Start;
        self.release_carry();
        Ok(flow_step(flow, next))
    }

    /// At the end of `input` inside an argument: keep its bytes for the next call, and apply
    /// the control line limit now so a line without LF cannot pile up.
    fn hold_partial_argument(
        &mut self,
        input: &[u8],
        argument_start: Option<usize>,
    ) -> Result<(), ParseError> {
        if !self.state.is_argument() {
            return Ok(());
        }
        let segment = match argument_start {
            Some(start) => {
                debug_assert!(self.carry.is_empty());
                &input[start..]
            }
            None => input,
        };
        // The LF drops at most this one byte, so a line over the limit now stays over it.
        let held_len = self.carry.len() + segment.len() - usize::from(self.drop_last_byte);
        if held_len > self.limits.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
        self.carry.extend_from_slice(segment);
        Ok(())
    }
}

fn flow_step(flow: ControlFlow<()>, next: usize) -> Step {
    match flow {
        ControlFlow::Continue(()) => Step::Continue(next),
        ControlFlow::Break(()) => Step::Stop,
    }
}

fn expect_byte(byte: u8, expected: u8, next: State) -> Result<State, ParseError> {
    if byte == expected {
        Ok(next)
    } else {
        Err(ParseError::UnknownOperation)
    }
}

/// CONNECT and INFO arguments are JSON; surrounding JSON whitespace does not change their
/// meaning, and trimming it turns `CONNECT\r\n` (whose argument nats-server sees as `\r`)
/// into the documented empty argument.
fn trim_json_whitespace(argument: &[u8]) -> &[u8] {
    let is_space = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\r' | b'\n');
    let start = argument
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(argument.len());
    let end = argument
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &argument[start..end]
}

/// The fields of an argument, split on runs of separators. Only the first four are kept;
/// `count` counts them all, so an argument with too many fields is still recognised.
struct Fields<'a> {
    items: [&'a [u8]; 4],
    count: usize,
}

impl<'a> Fields<'a> {
    fn split(argument: &'a [u8], is_separator: fn(u8) -> bool) -> Fields<'a> {
        let mut fields = Fields {
            items: [&[]; 4],
            count: 0,
        };
        let mut start = None;
        for (index, &byte) in argument.iter().enumerate() {
            match (is_separator(byte), start) {
                (true, Some(field_start)) => {
                    fields.push(&argument[field_start..index]);
                    start = None;
                }
                (false, None) => start = Some(index),
                _ => {}
            }
        }
        if let Some(field_start) = start {
            fields.push(&argument[field_start..]);
        }
        fields
    }

    fn push(&mut self, field: &'a [u8]) {
        if let Some(slot) = self.items.get_mut(self.count) {
            *slot = field;
        }
        self.count += 1;
    }
}

fn parse_sub(argument: &[u8]) -> Result<ClientOp<'_>, ParseError> {
    let fields = Fields::split(argument, is_sub_separator);
    let [first, second, third, _] = fields.items;
    match fields.count {
        2 => Ok(ClientOp::Sub {
            subject: first,
            queue: None,
            sid: second,
        }),
        3 => Ok(ClientOp::Sub {
            subject: first,
            queue: Some(second),
            sid: third,
        }),
        _ => Err(ParseError::ProtocolViolation),
    }
}

fn parse_unsub(argument: &[u8]) -> Result<ClientOp<'_>, ParseError> {
    let fields = Fields::split(argument, is_sub_separator);
    let [first, second, _, _] = fields.items;
    match fields.count {
        1 => Ok(ClientOp::Unsub {
            sid: first,
            max: None,
        }),
        2 => Ok(ClientOp::Unsub {
            sid: first,
            max: Some(second),
        }),
        _ => Err(ParseError::ProtocolViolation),
    }
}

/// The checked fields of a PUB or HPUB line.
struct Publish<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// HPUB only: the header size field verbatim and its value.
    header: Option<(&'a [u8], usize)>,
    size: &'a [u8],
    /// The announced size: PUB's payload, HPUB's headers and payload.
    message_len: usize,
}

impl<'a> Publish<'a> {
    /// Splits and checks in nats-server's order: headers negotiated (HPUB), field count,
    /// size fields, hdr_len <= total_len, then max_payload.
    fn parse(
        argument: &'a [u8],
        headers: bool,
        parser: &Parser,
    ) -> Result<Publish<'a>, ParseError> {
        if headers && !parser.headers_enabled {
            return Err(ParseError::ProtocolViolation);
        }
        let fields = Fields::split(argument, is_blank);
        let [first, second, third, fourth] = fields.items;
        let (reply, header_size, size) = match (headers, fields.count) {
            (false, 2) => (None, None, second),
            (false, 3) => (Some(second), None, third),
            (true, 3) => (None, Some(second), third),
            (true, 4) => (Some(second), Some(third), fourth),
            _ => return Err(ParseError::ProtocolViolation),
        };
        let header = match header_size {
            Some(field) => Some((field, parse_size_field(field)?)),
            None => None,
        };
        let message_len = parse_size_field(size)?;
        if header.is_some_and(|(_, header_len)| header_len > message_len) {
            return Err(ParseError::ProtocolViolation);
        }
        if message_len > parser.limits.max_payload {
            return Err(ParseError::MaxPayload);
        }
        Ok(Publish {
            subject: first,
            reply,
            header,
            size,
            message_len,
        })
    }

    fn into_op(self, message: &'a [u8]) -> ClientOp<'a> {
        debug_assert_eq!(message.len(), self.message_len);
        match self.header {
            None => ClientOp::Pub {
                subject: self.subject,
                reply: self.reply,
                size: self.size,
                payload: message,
            },
            Some((header_size, header_len)) => ClientOp::Hpub {
                subject: self.subject,
                reply: self.reply,
                header_size,
                total_size: self.size,
                header_len,
                message,
            },
        }
    }
}

fn parse_size_field(field: &[u8]) -> Result<usize, ParseError> {
    super::parse_size(field).ok_or(ParseError::ProtocolViolation)
}
