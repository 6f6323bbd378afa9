//! A byte state machine for the client side of the NATS protocol.
//!
//! CONTRACT (used by `broker`):
//! - `Parser::parse(input, on_op)` consumes all of `input`, calling `on_op` once per complete
//!   operation, in order. Operation fields borrow either `input` or the parser's own carry
//!   buffer (for a frame split across reads), never a heap allocation per message.
//! - The result is identical however a byte stream is split across `parse` calls.
//! - `on_op` returns `ControlFlow::Break(())` to stop (the connection is closing); the rest of
//!   `input` is then discarded and `parse` returns `Ok(())`. `parse_until` says where it
//!   stopped instead, and the parser may go on from there (a paused publisher).
//! - On a protocol error `parse` returns the error; the parser must not be used again.
//!
//! Byte rules are nats-server 2.9.10's (spec §1.2), with these deliberate choices:
//! - The CR quirk (a CR inside an argument makes the LF drop the byte before it) applies
//!   however the line is split. nats-server applies it only to lines inside one read.
//! - HMSG from a client is UnknownOperation (nats-server consumes it and ignores it).
//! - CONNECT and INFO arguments lose surrounding JSON whitespace, which changes no JSON value
//!   and makes `CONNECT\r\n` an empty argument (nats-server sees `\r`; both are refused).
//! - The argument's first byte is taken as is, as nats-server does: `PUB \nfoo 1` is a PUB to
//!   the subject `\nfoo`, and `CONNECT\n{}\n` is a CONNECT with `{}`.
//!
//! Frames inside one `input` are emitted from `input` without copying. Only a frame cut by
//! the end of `input` goes to the carry buffer: a partial argument, or a PUB/HPUB argument
//! followed by its message, which is assembled in one allocation of its announced size.

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

/// Bytes a partial control line may carry beyond `max_control_line`: the byte before its LF,
/// which the CR quirk will drop, is held until the LF arrives.
pub const CARRY_SLACK_BYTES: usize = 1;

impl ParserLimits {
    /// The most bytes [`Parser::buffered`] ever reports between `parse` calls: a split
    /// PUB/HPUB (its argument, at most `max_control_line`, plus its message, at most
    /// `max_payload`) or a partial control line (`max_control_line` plus
    /// [`CARRY_SLACK_BYTES`]). The fuzz target `parser` checks this after every read.
    pub fn carry_bytes_max(&self) -> usize {
        self.max_control_line + self.max_payload.max(CARRY_SLACK_BYTES)
    }
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

fn starts_with_pub(rest: &[u8]) -> bool {
    matches!(rest, [p, u, b, blank, ..]
        if *p | 0x20 == b'p' && *u | 0x20 == b'u' && *b | 0x20 == b'b' && is_blank(*blank))
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
/// Index of the first space or tab, testing a word at a time (SWAR).
#[inline]
fn find_blank(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const SPACES: u64 = u64::from_le_bytes([b' '; 8]);
    const TABS: u64 = u64::from_le_bytes([b'\t'; 8]);
    // High bit set in each zero byte of `x`. A borrow can also flag a byte above a real zero
    // byte, never below one, so the lowest flag is always a real zero.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let blanks = zero_bytes(word ^ SPACES) | zero_bytes(word ^ TABS);
        if blanks != 0 {
            return Some(offset + (blanks.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&byte| is_blank(byte))
        .map(|index| offset + index)
}

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
    /// `on_op` stopped the parser; the next operation starts at this index of `input`.
    Stop(usize),
}

/// Per-connection parser state; survives across reads.
///
/// Memory: the carry buffer holds at most a partial control line (`max_control_line` + 1
/// bytes: a byte that the CR quirk will drop at LF) or one split PUB/HPUB (its argument, at
/// most `max_control_line`, plus its message, at most `max_payload`); see
/// [`ParserLimits::carry_bytes_max`].
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

    /// Replaces the limits (configuration reload). They apply from the next control line;
    /// a message whose control line was already accepted is read to its end.
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// Whether this connection negotiated headers. nats-server checks this before anything
    /// else on an HPUB line (after the control line limit), so an HPUB from a connection
    /// without headers closes silently even when its size is over max_payload. Default: true.
    pub fn set_headers_enabled(&mut self, enabled: bool) {
        self.headers_enabled = enabled;
    }

    /// Feeds `input`; see the module contract.
    pub fn parse<F>(&mut self, input: &[u8], on_op: F) -> Result<(), ParseError>
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        self.parse_until(input, on_op).map(|_| ())
    }

    /// [`Parser::parse`], telling where `on_op` stopped it: `Some(n)` means the operations
    /// of `input[..n]` were emitted and `input[n..]` was not looked at. The parser is then
    /// at an operation boundary and may go on with `input[n..]` (or anything else) later,
    /// with the same result as if it had never stopped (a publisher paused by backpressure
    /// holds the rest of its read this way).
    pub fn parse_until<F>(
        &mut self,
        input: &[u8],
        mut on_op: F,
    ) -> Result<Option<usize>, ParseError>
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        let mut index = 0;
        // Set when an argument begins inside `input`; while `None` in an argument state, the
        // argument's beginning is in the carry buffer.
        let mut argument_start = None;
        while index < input.len() {
            let step = match self.state {
                // Most client traffic is PUB: take its name and blank in one step. The result
                // is the same as four steps through `name_step`.
                State::Start if starts_with_pub(&input[index..]) => {
                    self.state = State::OpPubSpace;
                    Step::Continue(index + 4)
                }
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
                Step::Stop(next) => {
                    self.reset();
                    return Ok(Some(next));
                }
            }
        }
        self.hold_partial_argument(input, argument_start)?;
        debug_assert!(self.carry.len() <= self.limits.carry_bytes_max());
        Ok(None)
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
        ControlFlow::Break(()) => Step::Stop(next),
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
    /// Splits on runs of `is_separator` bytes (SUB and UNSUB arguments).
    fn split(argument: &'a [u8], is_separator: impl Fn(u8) -> bool) -> Fields<'a> {
        Self::split_with(argument, &is_separator, |rest| {
            rest.iter().position(|&byte| is_separator(byte))
        })
    }

    /// [`Fields::split`] on blanks, finding each field's end eight bytes at a time: the
    /// arguments of every PUB and HPUB line.
    #[inline]
    fn split_blanks(argument: &'a [u8]) -> Fields<'a> {
        Self::split_with(argument, &is_blank, find_blank)
    }

    /// Two tight scans per field (skip separators, then `find_end` of the field) rather
    /// than one loop with a state match per byte.
    #[inline]
    fn split_with(
        argument: &'a [u8],
        is_separator: &impl Fn(u8) -> bool,
        find_end: impl Fn(&[u8]) -> Option<usize>,
    ) -> Fields<'a> {
        let mut fields = Fields {
            items: [&[]; 4],
            count: 0,
        };
        let mut rest = argument;
        loop {
            let start = rest
                .iter()
                .position(|&byte| !is_separator(byte))
                .unwrap_or(rest.len());
            rest = &rest[start..];
            if rest.is_empty() {
                return fields;
            }
            let end = find_end(rest).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
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
        let fields = Fields::split_blanks(argument);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Stopping after any operation with `parse_until` and going on with the rest gives the
    /// same operations as one `parse`, also when the stop lands on an operation whose
    /// message was assembled in the carry buffer.
    #[test]
    fn parse_until_resumes_where_it_stopped() {
        let stream: &[u8] = b"SUB a 1\r\nPUB a 5\r\nhello\r\nPING\r\nPUB a 3\r\nbye\r\nPONG\r\n";
        let mut whole = Vec::new();
        Parser::new(LIMITS)
            .parse(stream, |op| {
                whole.push(render(op));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(whole.len(), 5);
        for stop_after in 0..whole.len() {
            for first_cut in [3, 12, 20, stream.len()] {
                let mut parser = Parser::new(LIMITS);
                let mut ops = Vec::new();
                let mut held: Vec<u8> = Vec::new();
                let mut pending: Vec<Vec<u8>> =
                    vec![stream[..first_cut].to_vec(), stream[first_cut..].to_vec()];
                while let Some(chunk) = pending.first().cloned() {
                    pending.remove(0);
                    let input = if held.is_empty() {
                        chunk
                    } else {
                        let mut joined = std::mem::take(&mut held);
                        joined.extend_from_slice(&chunk);
                        joined
                    };
                    let stopped = parser
                        .parse_until(&input, |op| {
                            ops.push(render(op));
                            if ops.len() == stop_after + 1 {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            }
                        })
                        .unwrap();
                    if let Some(next) = stopped {
                        assert_eq!(parser.buffered(), 0);
                        held = input[next..].to_vec();
                    }
                }
                if !held.is_empty() {
                    parser
                        .parse(&held, |op| {
                            ops.push(render(op));
                            ControlFlow::Continue(())
                        })
                        .unwrap();
                }
                assert_eq!(ops, whole, "stop after {stop_after}, first cut {first_cut}");
            }
        }
    }

    const LIMITS: ParserLimits = ParserLimits {
        max_control_line: 4096,
        max_payload: 1_048_576,
    };

    fn text(bytes: &[u8]) -> String {
        bytes.escape_ascii().to_string()
    }

    fn optional(bytes: Option<&[u8]>) -> String {
        bytes.map_or_else(|| "-".to_string(), text)
    }

    /// One line per operation, every field escaped, so expectations are exact and readable.
    fn render(op: ClientOp<'_>) -> String {
        match op {
            ClientOp::Connect(json) => format!("CONNECT [{}]", text(json)),
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => format!(
                "PUB {} {} {} [{}]",
                text(subject),
                optional(reply),
                text(size),
                text(payload)
            ),
            ClientOp::Hpub {
                subject,
                reply,
                header_size,
                total_size,
                header_len,
                message,
            } => format!(
                "HPUB {} {} {} {} {header_len} [{}]",
                text(subject),
                optional(reply),
                text(header_size),
                text(total_size),
                text(message)
            ),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => format!("SUB {} {} {}", text(subject), optional(queue), text(sid)),
            ClientOp::Unsub { sid, max } => format!("UNSUB {} {}", text(sid), optional(max)),
            ClientOp::Ping => "PING".to_string(),
            ClientOp::Pong => "PONG".to_string(),
            ClientOp::Info(json) => format!("INFO [{}]", text(json)),
            ClientOp::Ok => "+OK".to_string(),
        }
    }

    /// What a parser yields for `chunks` fed in order: the operations, then the first error.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        ops: Vec<String>,
        result: Result<(), ParseError>,
    }

    fn parse_chunks(limits: ParserLimits, chunks: &[&[u8]]) -> Outcome {
        let mut parser = Parser::new(limits);
        let mut ops = Vec::new();
        for chunk in chunks {
            let result = parser.parse(chunk, |op| {
                ops.push(render(op));
                ControlFlow::Continue(())
            });
            if result.is_err() {
                return Outcome { ops, result };
            }
        }
        Outcome {
            ops,
            result: Ok(()),
        }
    }

    /// Checks that `input` gives the same outcome unsplit, split at every offset, split at
    /// every pair of offsets (short inputs) and fed one byte at a time; returns it.
    fn check_splits(limits: ParserLimits, input: &[u8]) -> Outcome {
        let whole = parse_chunks(limits, &[input]);
        for cut in 0..=input.len() {
            let (head, tail) = input.split_at(cut);
            assert_eq!(parse_chunks(limits, &[head, tail]), whole, "cut at {cut}");
        }
        if input.len() <= 160 {
            for first in 0..=input.len() {
                for second in first..=input.len() {
                    let chunks = [&input[..first], &input[first..second], &input[second..]];
                    assert_eq!(
                        parse_chunks(limits, &chunks),
                        whole,
                        "cuts {first} {second}"
                    );
                }
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_chunks(limits, &bytes), whole, "one byte at a time");
        whole
    }

    fn check(input: &[u8], expected_ops: &[&str], expected_result: Result<(), ParseError>) {
        let outcome = check_splits(LIMITS, input);
        assert_eq!(outcome.ops, expected_ops, "input {:?}", text(input));
        assert_eq!(outcome.result, expected_result, "input {:?}", text(input));
    }

    fn check_valid(input: &[u8], expected_ops: &[&str]) {
        check(input, expected_ops, Ok(()));
    }

    #[test]
    fn every_operation() {
        check_valid(
            b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n",
            &[r#"CONNECT [{\"verbose\":false,\"pedantic\":false}]"#],
        );
        check_valid(b"PUB foo 5\r\nhello\r\n", &["PUB foo - 5 [hello]"]);
        check_valid(
            b"PUB foo reply.x 5\r\nhello\r\n",
            &["PUB foo reply.x 5 [hello]"],
        );
        check_valid(
            b"HPUB h 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n",
            &[r"HPUB h - 22 27 22 [NATS/1.0\r\nFoo: Bar\r\n\r\nhello]"],
        );
        check_valid(
            b"HPUB h r.1 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            &[r"HPUB h r.1 12 12 12 [NATS/1.0\r\n\r\n]"],
        );
        check_valid(
            b"SUB foo 1\r\nSUB foo q 2\r\nUNSUB 1\r\nUNSUB 2 10\r\n",
            &["SUB foo - 1", "SUB foo q 2", "UNSUB 1 -", "UNSUB 2 10"],
        );
        check_valid(
            b"PING\r\nPONG\r\n+OK\r\nINFO {}\r\n",
            &["PING", "PONG", "+OK", "INFO [{}]"],
        );
    }

    #[test]
    fn payloads() {
        check_valid(b"PUB foo 0\r\n\r\nPING\r\n", &["PUB foo - 0 []", "PING"]);
        check_valid(
            b"PUB foo 3\r\na\r\n\r\nPING\r\n",
            &[r"PUB foo - 3 [a\r\n]", "PING"],
        );
        check_valid(b"PUB foo 005\r\nhello\r\n", &["PUB foo - 005 [hello]"]);
        check_valid(b"HPUB foo 0 5\r\nhello\r\n", &["HPUB foo - 0 5 0 [hello]"]);
        check_valid(
            b"HPUB h 3 8\r\nabc12345\r\n",
            &["HPUB h - 3 8 3 [abc12345]"],
        );
        check_valid(b"PUB foo 4\r\nPUB \r\n", &[r"PUB foo - 4 [PUB ]"]);
    }

    #[test]
    fn blanks_and_letter_case() {
        check_valid(b"PUB\tfoo\t\t5\r\nhello\r\n", &["PUB foo - 5 [hello]"]);
        check_valid(b"PUB  foo   5  \r\nhello\r\n", &["PUB foo - 5 [hello]"]);
        check_valid(
            b"pub foo 5\r\nhello\r\nPuB foo 5\nhello\r\n",
            &["PUB foo - 5 [hello]", "PUB foo - 5 [hello]"],
        );
        check_valid(
            b"PING\nping\r\nPINGXYZ\r\nPING foo\r\nPiNg\r\r\n",
            &["PING", "PING", "PING", "PING", "PING"],
        );
        check_valid(
            b"CONNECT{\"verbose\":true}\r\n",
            &[r#"CONNECT [{\"verbose\":true}]"#],
        );
        check_valid(b"CONNECT \t {}\t\r\n", &["CONNECT [{}]"]);
        check_valid(
            b"SUB foo 1 \r\nUNSUB\t1\t 5\r\n",
            &["SUB foo - 1", "UNSUB 1 5"],
        );
        check_valid(
            b"connect {}\r\nsub foo 1\r\nunsub 1\r\nhpub h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
              info {}\r\n+ok\r\npong\r\n",
            &[
                "CONNECT [{}]",
                "SUB foo - 1",
                "UNSUB 1 -",
                r"HPUB h - 12 14 12 [NATS/1.0\r\n\r\nhi]",
                "INFO [{}]",
                "+OK",
                "PONG",
            ],
        );
    }

    #[test]
    fn the_carriage_return_quirk() {
        check_valid(
            b"SUB fo\ro 1\nSUB x 2\r\nPUB fo 1\r\na\r\nPING\r\n",
            &["SUB fo - o", "SUB x - 2", "PUB fo - 1 [a]", "PING"],
        );
        check_valid(b"SUB foo 1\r\r\n", &["SUB foo - 1"]);
        check(
            b"PUB foo 1\r\r\na\r\n",
            &[],
            Err(ParseError::ProtocolViolation),
        );
        // The argument's first byte is taken as is, so an LF there does not end the line.
        check_valid(b"PUB \nfoo 5\r\nhello\r\n", &[r"PUB \nfoo - 5 [hello]"]);
        check_valid(b"CONNECT\n{}\n", &["CONNECT [{}]"]);
        check_valid(b"CONNECT\r\n", &["CONNECT []"]);
        check_valid(b"CONNECT \r\n", &["CONNECT []"]);
        // Like nats-server, no blank is needed: the broker refuses the JSON `X {}`.
        check_valid(b"CONNECTX {}\r\n", &["CONNECT [X {}]"]);
    }

    #[test]
    fn the_observed_pipelined_session() {
        let input = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a.b 1\r\n\
            PUB a.b r 5\r\nhello\r\nHPUB a.b 18 23\r\nNATS/1.0\r\nX: 1\r\n\r\nworld\r\nPING\r\n";
        check_valid(
            input,
            &[
                r#"CONNECT [{\"verbose\":false,\"headers\":true}]"#,
                "SUB a.b - 1",
                "PUB a.b r 5 [hello]",
                r"HPUB a.b - 18 23 18 [NATS/1.0\r\nX: 1\r\n\r\nworld]",
                "PING",
            ],
        );
    }

    /// Valid streams from the tests above, concatenated, split every way.
    #[test]
    fn the_whole_corpus_in_one_stream() {
        let corpus: [&[u8]; 8] = [
            b"CONNECT {\"verbose\":false}\r\n",
            b"SUB foo 1\r\nSUB foo q 2\r\n",
            b"PUB foo 3\r\na\r\n\r\n",
            b"HPUB h r.1 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n",
            b"SUB fo\ro 1\nPUB\tfo\t 0\r\n\r\n",
            b"ping\r\nPONGxyz\n+OK\r\nINFO {}\r\n",
            b"UNSUB 1 10\r\nunsub 2\r\n",
            b"PUB foo 005\r\nhello\r\n",
        ];
        let input = corpus.concat();
        let outcome = check_splits(LIMITS, &input);
        assert_eq!(outcome.result, Ok(()));
        assert_eq!(outcome.ops.len(), 14);
    }

    #[test]
    fn frames_inside_the_input_are_borrowed_not_copied() {
        let input = b"PUB foo 5\r\nhello\r\n";
        let mut parser = Parser::new(LIMITS);
        let mut payload_address = 0;
        let parsed = parser.parse(input, |op| {
            if let ClientOp::Pub { payload, .. } = op {
                payload_address = payload.as_ptr() as usize;
            }
            ControlFlow::Continue(())
        });
        assert_eq!(parsed, Ok(()));
        assert_eq!(payload_address, input[11..].as_ptr() as usize);
        assert_eq!(parser.buffered(), 0);
    }

    #[test]
    fn break_discards_the_rest_of_the_input() {
        let mut parser = Parser::new(LIMITS);
        let mut seen = Vec::new();
        let parsed = parser.parse(b"PING\r\nPUB foo 1\r\nx\r\nPONG\r\n", |op| {
            seen.push(render(op));
            ControlFlow::Break(())
        });
        assert_eq!(parsed, Ok(()));
        assert_eq!(seen, ["PING"]);
        assert_eq!(parser.buffered(), 0);
    }

    #[test]
    fn a_partial_frame_waits_for_more_bytes() {
        let mut parser = Parser::new(LIMITS);
        let mut count = 0;
        let parsed = parser.parse(b"PUB foo 5\r\nhel\r\n", |_| {
            count += 1;
            ControlFlow::Continue(())
        });
        assert_eq!(parsed, Ok(()));
        assert_eq!(count, 0);
        // The argument `foo 5` and the five message bytes received so far.
        assert_eq!(parser.buffered(), 10);
    }

    /// Malformed inputs: the operations before the error, then the error.
    #[test]
    fn malformed_inputs() {
        use ParseError::*;
        let table: &[(&[u8], &[&str], ParseError)] = &[
            (b"FOO bar\r\n", &[], UnknownOperation),
            (b"MSG foo 1 5\r\nhello\r\n", &[], UnknownOperation),
            (b"PUBX foo 5\r\n", &[], UnknownOperation),
            (b"UNSUB\r\n", &[], UnknownOperation),
            (b"\r\nPING\r\n", &[], UnknownOperation),
            (b" PING\r\n", &[], UnknownOperation),
            (b"PING\r\n\r\n", &["PING"], UnknownOperation),
            (b"PUB foo 5\r\nhelloXX\r\n", &[], UnknownOperation),
            (b"PUB foo 5\r\nhello\n", &[], UnknownOperation),
            (b"PUB foo 5\r\nhello\r\r\n", &[], UnknownOperation),
            (b"PUB foo 1\r\naXY", &[], UnknownOperation),
            (b"HMSG foo 1 0 0\r\n\r\nPING\r\n", &[], UnknownOperation),
            (b"RS+ foo\r\n", &[], UnknownOperation),
            (b"LS+ foo\r\n", &[], UnknownOperation),
            (b"A+ foo\r\n", &[], UnknownOperation),
            (b"PIN\r\n", &[], UnknownOperation),
            (b"+X\r\n", &[], UnknownOperation),
            (b"-ERR\r\n", &[], UnknownOperation),
            (b"SUBfoo 1\r\n", &[], UnknownOperation),
            (b"HPUB\r\n", &[], UnknownOperation),
            (b"INF {}\r\n", &[], UnknownOperation),
            (
                b"CONNECT {}\r\nPING\r\nMSG\r\n",
                &["CONNECT [{}]", "PING"],
                UnknownOperation,
            ),
            (b"PUB foo\r\n", &[], ProtocolViolation),
            (b"PUB foo bar baz 5\r\n", &[], ProtocolViolation),
            (b"PUB foo abc\r\n", &[], ProtocolViolation),
            (b"PUB foo -1\r\n", &[], ProtocolViolation),
            (b"PUB foo +1\r\n", &[], ProtocolViolation),
            (b"PUB foo 1234567890\r\n", &[], ProtocolViolation),
            (b"PUB foo 1\r\r\na\r\n", &[], ProtocolViolation),
            (b"SUB foo\r\n", &[], ProtocolViolation),
            (b"SUB foo q 1 extra\r\n", &[], ProtocolViolation),
            (b"SUB \r\n", &[], ProtocolViolation),
            (b"UNSUB \r\n", &[], ProtocolViolation),
            (b"UNSUB 1 2 3\r\n", &[], ProtocolViolation),
            (b"HPUB h 9 8\r\n", &[], ProtocolViolation),
            (b"HPUB h 3\r\n", &[], ProtocolViolation),
            (b"HPUB h a 8\r\n", &[], ProtocolViolation),
            (b"HPUB h 3 b\r\n", &[], ProtocolViolation),
            (b"HPUB h r s 3 8\r\n", &[], ProtocolViolation),
            (b"-ERR 'foo'\r\nPING\r\n", &[], ClientError),
            (b"-err\t'foo'\n", &[], ClientError),
        ];
        for &(input, ops, error) in table {
            check(input, ops, Err(error));
        }
    }

    /// A SUB line whose argument (subject, blank, sid `1`) is `len` bytes long.
    fn sub_line(len: usize, ending: &str) -> Vec<u8> {
        format!("SUB {} 1{ending}", "a".repeat(len - 2)).into_bytes()
    }

    #[test]
    fn control_line_limit_at_n_minus_one_n_and_n_plus_one() {
        let limits = ParserLimits {
            max_control_line: 64,
            max_payload: 100,
        };
        // With CR CR LF only the second CR is dropped: the first counts towards the limit.
        for (ending, extra) in [("\r\n", 0), ("\n", 0), ("\r\r\n", 1)] {
            for (len, passes) in [(63 - extra, true), (64 - extra, true), (65 - extra, false)] {
                let outcome = check_splits(limits, &sub_line(len, ending));
                let expected = if passes {
                    Ok(())
                } else {
                    Err(ParseError::MaxControlLine)
                };
                assert_eq!(outcome.result, expected, "len {len} ending {ending:?}");
                assert_eq!(outcome.ops.len(), usize::from(passes));
            }
        }
        let connect = |len: usize| format!("CONNECT {{\"name\":\"{}\"}}\r\n", "x".repeat(len - 11));
        assert_eq!(check_splits(limits, connect(64).as_bytes()).result, Ok(()));
        let too_long = check_splits(limits, connect(65).as_bytes()).result;
        assert_eq!(too_long, Err(ParseError::MaxControlLine));
    }

    #[test]
    fn control_line_limit_of_the_default_server() {
        let outcome = parse_chunks(LIMITS, &[&sub_line(4096, "\r\n"), b"PING\r\n"]);
        assert_eq!(outcome.result, Ok(()));
        assert_eq!(outcome.ops[1], "PING");
        for len in [4097, 4100] {
            let outcome = parse_chunks(LIMITS, &[&sub_line(len, "\r\n")]);
            assert_eq!(outcome.result, Err(ParseError::MaxControlLine));
        }
    }

    #[test]
    fn a_long_line_without_line_feed_is_refused_at_the_end_of_the_read() {
        let limits = ParserLimits {
            max_control_line: 64,
            max_payload: 100,
        };
        let line = |len: usize, tail: &str| format!("PUB {}{tail}", "a".repeat(len));
        let partial = |input: String| parse_chunks(limits, &[input.as_bytes()]).result;
        assert_eq!(partial(line(64, "")), Ok(()));
        // The CR may be the byte the LF drops, so it does not count yet.
        assert_eq!(partial(line(64, "\r")), Ok(()));
        assert_eq!(partial(line(65, "")), Err(ParseError::MaxControlLine));
        assert_eq!(partial(line(64, "\rx")), Err(ParseError::MaxControlLine));
        let spec_row = format!("PUB {}", "a".repeat(5000));
        let outcome = parse_chunks(LIMITS, &[spec_row.as_bytes()]);
        assert_eq!(outcome.result, Err(ParseError::MaxControlLine));
        // Split in two reads of 40 bytes: refused after the second, with no LF ever seen.
        let mut parser = Parser::new(limits);
        let first = parser.parse(&[b'a'; 40], |_| ControlFlow::Continue(()));
        assert_eq!(first, Err(ParseError::UnknownOperation));
        let mut parser = Parser::new(limits);
        let head = line(36, "");
        assert_eq!(
            parser.parse(head.as_bytes(), |_| ControlFlow::Continue(())),
            Ok(())
        );
        assert_eq!(parser.buffered(), 36);
        let refused = parser.parse(&[b'a'; 40], |_| ControlFlow::Continue(()));
        assert_eq!(refused, Err(ParseError::MaxControlLine));
        assert_eq!(parser.buffered(), 36);
    }

    #[test]
    fn payload_limit_at_n_minus_one_n_and_n_plus_one() {
        let limits = ParserLimits {
            max_control_line: 64,
            max_payload: 100,
        };
        for (size, passes) in [(99, true), (100, true), (101, false)] {
            let mut input = format!("PUB foo {size}\r\n").into_bytes();
            input.extend(std::iter::repeat_n(b'x', size));
            input.extend_from_slice(b"\r\n");
            let outcome = check_splits(limits, &input);
            let expected = if passes {
                Ok(())
            } else {
                Err(ParseError::MaxPayload)
            };
            assert_eq!(outcome.result, expected, "size {size}");
            assert_eq!(outcome.ops.len(), usize::from(passes));
            // HPUB counts headers and payload together.
            let header = format!("HPUB foo 12 {size}\r\nNATS/1.0\r\n\r\n");
            let mut input = header.into_bytes();
            input.extend(std::iter::repeat_n(b'x', size - 12));
            input.extend_from_slice(b"\r\n");
            assert_eq!(
                check_splits(limits, &input).result,
                expected,
                "HPUB size {size}"
            );
        }
        // Refused on the control line, before any payload byte arrives.
        let refused = parse_chunks(limits, &[b"PUB foo 101\r\n"]).result;
        assert_eq!(refused, Err(ParseError::MaxPayload));
        let refused = parse_chunks(limits, &[b"HPUB foo 1 101\r\n"]).result;
        assert_eq!(refused, Err(ParseError::MaxPayload));
        // hdr_len > total_len is checked before max_payload, as nats-server does.
        let violation = parse_chunks(limits, &[b"HPUB foo 500 101\r\n"]).result;
        assert_eq!(violation, Err(ParseError::ProtocolViolation));
    }

    #[test]
    fn a_maximum_payload_split_into_many_reads_is_assembled_once() {
        let mut input = b"PUB foo 1048576\r\n".to_vec();
        input.extend((0..1_048_576u32).map(|i| i as u8));
        input.extend_from_slice(b"\r\nPING\r\n");
        let mut parser = Parser::new(LIMITS);
        let mut payloads = Vec::new();
        let mut pings = 0;
        for chunk in input.chunks(16 * 1024 + 7) {
            let parsed = parser.parse(chunk, |op| {
                match op {
                    ClientOp::Pub { payload, .. } => payloads.push(payload.to_vec()),
                    ClientOp::Ping => pings += 1,
                    _ => panic!("unexpected {}", render(op)),
                }
                ControlFlow::Continue(())
            });
            assert_eq!(parsed, Ok(()));
            // The argument `foo 1048576` and the message, nothing more.
            assert!(parser.buffered() <= 11 + 1_048_576);
            assert!(parser.carry_capacity() <= 11 + 1_048_576);
        }
        assert_eq!(payloads.len(), 1);
        assert_eq!(payloads[0], input[17..17 + 1_048_576]);
        assert_eq!(pings, 1);
        // A buffer this large is released once the frame is done.
        assert_eq!(parser.carry_capacity(), 0);
    }

    #[test]
    fn headers_can_be_refused_before_the_payload_limit() {
        let mut parser = Parser::new(LIMITS);
        parser.set_headers_enabled(false);
        let refused = parser.parse(b"HPUB foo 12 2000000\r\n", |_| ControlFlow::Continue(()));
        assert_eq!(refused, Err(ParseError::ProtocolViolation));
        let mut parser = Parser::new(LIMITS);
        parser.set_headers_enabled(false);
        let plain = parser.parse(b"PUB foo 0\r\n\r\n", |_| ControlFlow::Continue(()));
        assert_eq!(plain, Ok(()));
    }

    #[test]
    fn find_blank_agrees_with_a_byte_scan() {
        for length in 0..40 {
            for blank_at in 0..=length {
                for (blank, other) in [(b' ', b'\t'), (b'\t', b' ')] {
                    // Bytes just above and below the blanks' values, which defeat a sloppy
                    // zero-byte test, fill the rest; a second blank later must not win.
                    let mut bytes: Vec<u8> = (0..length)
                        .map(|i| [0x21, 0x1f, 0x0a, 0x08, 0xa0, 0x89][i % 6])
                        .collect();
                    if blank_at < length {
                        bytes[blank_at] = blank;
                        if blank_at + 3 < length {
                            bytes[blank_at + 3] = other;
                        }
                    }
                    let expected = bytes.iter().position(|&b| b == b' ' || b == b'\t');
                    assert_eq!(find_blank(&bytes), expected, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn split_frames_do_not_grow_the_carry_buffer_after_warm_up() {
        let frame = b"PUB some.subject reply.inbox 32\r\n0123456789abcdef0123456789abcdef\r\n\
                      SUB some.subject queue 12\r\n";
        let mut parser = Parser::new(LIMITS);
        let mut count = 0;
        let mut feed = |parser: &mut Parser, cut: usize| {
            for piece in [&frame[..cut], &frame[cut..]] {
                let parsed = parser.parse(piece, |_| {
                    count += 1;
                    ControlFlow::Continue(())
                });
                assert_eq!(parsed, Ok(()));
            }
            assert_eq!(parser.buffered(), 0);
        };
        for cut in 0..=frame.len() {
            feed(&mut parser, cut);
        }
        let capacity = parser.carry_capacity();
        assert!(capacity > 0);
        for _ in 0..100 {
            for cut in 0..=frame.len() {
                feed(&mut parser, cut);
            }
        }
        assert_eq!(parser.carry_capacity(), capacity);
        assert_eq!(count, 101 * (frame.len() + 1) * 2);
    }

    /// A valid operation and how the parser renders it.
    fn valid_op() -> impl Strategy<Value = (Vec<u8>, String)> {
        let token = "[a-zA-Z0-9_.>*-]{1,12}";
        let blanks = "[ \t]{1,3}";
        let reply = proptest::option::of(token);
        let payload = proptest::collection::vec(any::<u8>(), 0..48);
        prop_oneof![
            (token, reply.clone(), payload.clone(), blanks).prop_map(
                |(subject, reply, payload, blank)| {
                    let reply_field = reply
                        .as_ref()
                        .map_or(String::new(), |r| format!("{r}{blank}"));
                    let mut bytes = format!(
                        "PUB{blank}{subject}{blank}{reply_field}{}\r\n",
                        payload.len()
                    )
                    .into_bytes();
                    bytes.extend_from_slice(&payload);
                    bytes.extend_from_slice(b"\r\n");
                    let rendered = format!(
                        "PUB {subject} {} {} [{}]",
                        reply.as_deref().unwrap_or("-"),
                        payload.len(),
                        text(&payload)
                    );
                    (bytes, rendered)
                }
            ),
            (token, reply, payload, 0..48usize).prop_map(
                |(subject, reply, payload, header_len)| {
                    let header_len = header_len.min(payload.len());
                    let reply_field = reply.as_ref().map_or(String::new(), |r| format!("{r} "));
                    let total = payload.len();
                    let mut bytes = format!("HPUB {subject} {reply_field}{header_len} {total}\r\n")
                        .into_bytes();
                    bytes.extend_from_slice(&payload);
                    bytes.extend_from_slice(b"\r\n");
                    let rendered = format!(
                        "HPUB {subject} {} {header_len} {total} {header_len} [{}]",
                        reply.as_deref().unwrap_or("-"),
                        text(&payload)
                    );
                    (bytes, rendered)
                }
            ),
            (token, proptest::option::of(token), token).prop_map(|(subject, queue, sid)| {
                let queue_field = queue.as_ref().map_or(String::new(), |q| format!("{q} "));
                let bytes = format!("sub {subject} {queue_field}{sid}\r\n").into_bytes();
                let rendered = format!("SUB {subject} {} {sid}", queue.as_deref().unwrap_or("-"));
                (bytes, rendered)
            }),
            (token, proptest::option::of("[0-9]{1,9}")).prop_map(|(sid, max)| {
                let max_field = max.as_ref().map_or(String::new(), |m| format!(" {m}"));
                let bytes = format!("UNSUB {sid}{max_field}\n").into_bytes();
                (
                    bytes,
                    format!("UNSUB {sid} {}", max.as_deref().unwrap_or("-")),
                )
            }),
            Just((b"PING\r\n".to_vec(), "PING".to_string())),
            Just((b"pong\r\n".to_vec(), "PONG".to_string())),
            Just((b"+OK\r\n".to_vec(), "+OK".to_string())),
            Just((
                b"CONNECT {\"echo\":true}\r\n".to_vec(),
                r#"CONNECT [{\"echo\":true}]"#.to_string()
            )),
            Just((b"INFO{}\n".to_vec(), "INFO [{}]".to_string())),
        ]
    }

    proptest! {
        #[test]
        fn random_splits_of_random_streams(
            ops in proptest::collection::vec(valid_op(), 1..12),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let input: Vec<u8> = ops.iter().flat_map(|(bytes, _)| bytes.clone()).collect();
            let expected: Vec<String> = ops.into_iter().map(|(_, rendered)| rendered).collect();
            let mut offsets: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
            offsets.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for offset in offsets {
                chunks.push(&input[start..offset]);
                start = offset;
            }
            chunks.push(&input[start..]);
            let outcome = parse_chunks(LIMITS, &chunks);
            prop_assert_eq!(outcome.result, Ok(()));
            prop_assert_eq!(outcome.ops, expected);
        }

        /// Arbitrary bytes drawn from the protocol's alphabet (so most states are reached):
        /// no panic, the carry stays within the limits, and splits change nothing.
        #[test]
        fn random_bytes_split_anywhere(
            input in proptest::collection::vec(
                prop::sample::select(b"PUBHSINGOCTEFKR+-0123 \t\r\n{}.a".to_vec()),
                0..200,
            ),
            cut in any::<prop::sample::Index>(),
        ) {
            let limits = ParserLimits { max_control_line: 16, max_payload: 32 };
            let whole = parse_chunks(limits, &[&input]);
            let (head, tail) = input.split_at(cut.index(input.len() + 1));
            prop_assert_eq!(parse_chunks(limits, &[head, tail]), whole);
            let mut parser = Parser::new(limits);
            for byte in input.chunks(1) {
                if parser.parse(byte, |_| ControlFlow::Continue(())).is_err() {
                    break;
                }
                prop_assert!(parser.buffered() <= 16 + 32 + 1);
            }
        }
    }
}
