"""Scenario definitions for wirecompare.py.

Each scenario mirrors a row of spec/nats-protocol.md §14 (or a
multi-connection variant of one). A scenario is a list of steps; each step
sends bytes on one connection and then collects what that connection received
until a condition holds:

  collect="pong"   append PING\\r\\n (unless ping=False) and read until PONG or EOF
  collect="quiet"  read until 250 ms of silence or EOF ("nothing arrives" rows,
                   and rows where a PING would be swallowed as payload)
  collect="until"  read until a MSG/HMSG for subject `until` arrives (or EOF);
                   used on a subscriber after another connection published a
                   sentinel, so cross-connection delivery is complete
  collect="eof"    read until EOF (deadline 10 s)
  collect=None     send only

`expect` (optional) is the exact collected bytes from the spec, with
"<EOF>" appended when the server closed; it is checked on both servers, so a
nats-server vs nats-server run also validates the scenario itself.
"""

import collections
import signal

G_FRAMING = "framing"
G_LIMITS = "limits"
G_LIMITS_CFG = "limits-config"
G_SUBJECTS = "subjects"
G_SUBS = "subscriptions"
G_HEADERS = "headers"
G_MULTI = "multi-conn"
G_DEVIATION = "deviation"
G_AUTH_CFG = "auth-config"
G_CONFIG_SYNTAX = "config-syntax"
G_CONFIG_STARTUP = "config-startup"
G_LAME_DUCK = "lame-duck"

# Most §14 rows start with this CONNECT.
C0 = b'CONNECT {"verbose":false,"pedantic":false}\r\n'
CH = b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
CNR = b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'

UNKNOWN_OP = b"-ERR 'Unknown Protocol Operation'\r\n<EOF>"
PONG = b"PONG\r\n"
EOF = b"<EOF>"
SYNC = b"_sync"  # sentinel subject: its arrival means earlier messages arrived
# Measured one byte per write, nats-server against itself: the pedantic -ERR for a wildcard
# or empty-token publish subject sometimes comes twice.
PEDANTIC_SPLIT = "nats-server may send the pedantic -ERR twice when the PUB line arrives in pieces"


class Step:
    def __init__(self, conn, data, collect="pong", expect=None, until=None, one_byte=False, ping=True,
                 deadline=None, idle=None, signal=None):
        # signal: a step that sends this signal (e.g. signal.SIGUSR2) to the server process
        # instead of talking to a connection (rows with a config, which have their own pair).
        self.signal = signal
        self.conn = conn
        self.data = data
        self.collect = collect
        self.expect = expect
        self.until = until
        self.one_byte = one_byte
        self.ping = ping
        # Seconds this step's send and collect may take (None: the harness default, 5 s).
        self.deadline = deadline
        # collect="idle": seconds the connection does not read (a stimulus, not a wait).
        self.idle = idle

    def label(self):
        mode = self.collect or "send"
        if self.collect == "pong" and not self.ping:
            mode = "pong(own PING)"
        if self.collect == "until":
            mode = "until %s" % self.until.decode()
        merged = getattr(self, "merged", 1)
        if merged > 1:
            mode = "%d steps in one write, then %s" % (merged, mode)
        return mode + (" 1-byte-writes" if self.one_byte else "")


class Scenario:
    def __init__(self, name, group, steps, conns=1, invariant=None, unordered=False,
                 config=None, deviation=None, rcvbuf=None, files=None, env=None,
                 startup=None, exit_code=None, lazy_connect=False, known_bug=None,
                 split_sensitive=None):
        self.name = name
        self.group = group
        self.steps = steps
        self.conns = conns
        self.invariant = invariant
        # Order of one message's copies across a connection's subscriptions is
        # map order in nats-server (spec §5): sort runs of MSG frames.
        self.unordered = unordered
        # Config file text (both servers get -c with it); `files` are more files beside
        # it (name -> text, for include); `env` more environment variables for both.
        self.config = config
        self.files = files or {}
        self.env = env
        self.deviation = deviation
        # conn index -> SO_RCVBUF set before connecting.
        self.rcvbuf = rcvbuf or {}
        # A start-up row: no connections; both servers run with the config plus these
        # arguments (e.g. ["-t"]) and must exit with exit_code.
        self.startup = startup
        self.exit_code = exit_code
        # Open each connection at its first step instead of all at the start (for rows
        # where which connection the server sees first matters).
        self.lazy_connect = lazy_connect
        # A difference that is a ringmq bug, not a choice: skipped unless asked for, so the
        # suite stays green while the row documents (and checks the fix of) the bug.
        self.known_bug = known_bug
        # Why nats-server's own answer to this row depends on how its bytes are split across
        # reads (measured: nats-server against itself differs from run to run one byte per
        # write): the byte-by-byte variant has no stable reference and is not run.
        self.split_sensitive = split_sensitive


def send(conn, data, collect="pong", expect=None, **kw):
    return Step(conn, data, collect, expect, **kw)


def row(name, group, data, expect, collect="pong", connect=C0, **kw):
    """Single-connection row: connect line + data, one collect."""
    opts = {k: kw.pop(k) for k in ("unordered", "invariant", "config", "deviation", "files", "env",
                                   "split_sensitive")
            if k in kw}
    return Scenario(name, group, [send(0, connect + data, collect, expect, **kw)], **opts)


def pub(subject, payload, reply=None):
    head = b"PUB " + subject + (b" " + reply if reply else b"")
    return head + b" %d\r\n" % len(payload) + payload + b"\r\n"


def msg(subject, sid, payload, reply=None):
    head = b"MSG " + subject + b" " + sid + (b" " + reply if reply else b"")
    return head + b" %d\r\n" % len(payload) + payload + b"\r\n"


# --------------------------------------------------------------------------
# Invariants for random queue-member choice
# --------------------------------------------------------------------------

def _msg_sid(frame):
    if frame.startswith(b"MSG ") or frame.startswith(b"HMSG "):
        return frame.split(b"\r\n", 1)[0].split(b" ")[2]
    return None


def queue_invariant(groups, min_each=1, subject=None):
    """groups: list of (N, [(conn, sid), ...]) — one entry per queue group.

    Member MSG frames are replaced by per-group totals; everything else the
    connections received is kept verbatim, so it is still compared exactly.
    Errors: a group's total != N, or a member got fewer than min_each.
    subject: if set, only MSGs for that subject count as member deliveries
    (a member may also receive the sentinel).
    """
    def inv(transcript):
        members = {}
        for g, (_, mem) in enumerate(groups):
            for m in mem:
                members[(m[0], m[1])] = g
        counts = collections.Counter()
        summary = []
        for conn, label, seg in transcript:
            summary.append("c%d %s:" % (conn, label))
            for f in seg.frames:
                key = (conn, _msg_sid(f))
                if key in members and (subject is None or f.split(b" ", 2)[1] == subject):
                    counts[key] += 1
                    continue
                summary.append("    " + repr(f)[2:-1])
            if seg.timed_out:
                summary.append("    <TIMEOUT>")
            if seg.eof:
                summary.append("    <EOF>")
        errors = []
        for g, (n, mem) in enumerate(groups):
            total = sum(counts[(c, s)] for c, s in mem)
            low = [m for m in mem if counts[m] < min_each]
            summary.append("queue group %d: total %d, every member >= %d: %s" % (g, total, min_each, not low))
            if total != n:
                errors.append("queue group %d delivered %d messages, want %d" % (g, total, n))
            if low:
                errors.append("queue group %d members below %d: %s (counts %s)" % (
                    g, min_each, low, {m: counts[m] for m in mem}))
        return summary, errors
    return inv


# --------------------------------------------------------------------------
# Framing / parser
# --------------------------------------------------------------------------

def framing():
    F = G_FRAMING
    s = []
    # The INFO itself is compared (normalised) on every connection.
    s.append(row("info-on-connect", F, b"", PONG, connect=b""))
    s.append(row("connect-empty-json-verbose-default", F, b"", b"+OK\r\nPONG\r\n", connect=b"CONNECT {}\r\n"))
    s.append(row("no-connect-sub-pub", F, b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n",
                 b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n", connect=b""))
    s.append(row("connect-pedantic-default", F, b'CONNECT {"verbose":false}\r\nPUB foo.* 1\r\nx\r\n',
                 b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n", connect=b"", split_sensitive=PEDANTIC_SPLIT))
    s.append(row("connect-keys-case-insensitive", F, b'CONNECT {"VERBOSE":false}\r\n', PONG, connect=b""))
    s.append(Scenario("connect-second-reapplies-options", F, [
        send(0, C0 + b"SUB foo 1\r\n", expect=PONG),
        send(0, b'CONNECT {"verbose":true}\r\nSUB bar 2\r\n', expect=b"+OK\r\n+OK\r\nPONG\r\n"),
    ]))
    # A PONG that waits for the cross-core barrier (ringmq, after a SUB) keeps its place:
    # the answers to the commands after the PING follow it. Written as one write, and as
    # steps (which the single-write variant sends as that same write).
    CV = b'CONNECT {"verbose":true,"pedantic":false}\r\n'
    after_ping = b"UNSUB 1\r\nUNSUB 99\r\nSUB foo..bar 2\r\nPONG\r\n"
    s.append(Scenario("held-pong-keeps-its-place", F, [
        send(0, CV + b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n" + after_ping + b"PING\r\n",
             ping=False, expect=b"+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n"),
        send(0, b"", ping=False, expect=b"+OK\r\n+OK\r\n-ERR 'Invalid Subject'\r\nPONG\r\n"),
    ]))
    s.append(Scenario("held-pong-keeps-its-place-steps", F, [
        send(0, CV + b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n",
             expect=b"+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n"),
        send(0, after_ping, expect=b"+OK\r\n+OK\r\n-ERR 'Invalid Subject'\r\nPONG\r\n"),
    ]))
    s.append(row("connect-no-space-before-json", F, b'CONNECT{"verbose":true}\r\n', b"+OK\r\nPONG\r\n", connect=b""))
    s.append(row("connect-bad-json", F, b"CONNECT {bad json\r\n", EOF, connect=b""))
    s.append(row("connect-missing-json", F, b"CONNECT\r\n", EOF, connect=b""))
    s.append(row("connect-wrong-type", F, b'CONNECT {"verbose":"yes"}\r\n', EOF, connect=b""))
    s.append(row("connect-protocol-2", F, b'CONNECT {"protocol":2}\r\n',
                 b"-ERR 'invalid client protocol'\r\n<EOF>", connect=b""))
    s.append(row("connect-no-responders-without-headers", F, b'CONNECT {"no_responders":true}\r\n',
                 b"-ERR 'no responders requires headers support'\r\n<EOF>", connect=b""))
    s.append(row("connect-account-field", F, b'CONNECT {"verbose":false,"account":"x"}\r\n',
                 b"-ERR 'Authorization Violation'\r\n<EOF>", connect=b""))
    s.append(row("pub-size-leading-zeros-echoed", F, b"SUB foo 1\r\nPUB foo 005\r\nhello\r\n",
                 b"MSG foo 1 005\r\nhello\r\nPONG\r\n"))
    s.append(row("pub-tab-separators", F, b"SUB foo 1\r\nPUB\tfoo\t\t5\r\nhello\r\n",
                 b"MSG foo 1 5\r\nhello\r\nPONG\r\n"))
    s.append(row("pub-extra-spaces", F, b"SUB foo 1\r\nPUB  foo   5  \r\nhello\r\n",
                 b"MSG foo 1 5\r\nhello\r\nPONG\r\n"))
    s.append(row("op-lowercase", F, b"sub foo 1\r\npub foo 5\r\nhello\r\n", b"MSG foo 1 5\r\nhello\r\nPONG\r\n"))
    s.append(row("op-mixed-case-lf-only", F, b"SUB foo 1\r\nPuB foo 5\nhello\r\n",
                 b"MSG foo 1 5\r\nhello\r\nPONG\r\n"))
    for name, ping in (("lf-only", b"PING\n"), ("lowercase", b"ping\r\n"),
                       ("trailing-junk", b"PINGXYZ\r\n"), ("argument", b"PING foo\r\n")):
        s.append(row("ping-" + name, F, ping, PONG, ping=False))
    for name, data in (("pong", b"PONG\r\n"), ("ok", b"+OK\r\n"), ("info", b"INFO {}\r\n")):
        s.append(row("client-%s-ignored" % name, F, data, PONG))
    s.append(row("client-err-closes", F, b"-ERR 'foo'\r\n", EOF))
    for name, data in (("unknown-op", b"FOO bar\r\n"), ("client-msg", b"MSG foo 1 5\r\nhello\r\n"),
                       ("pubx", b"PUBX foo 5\r\n"), ("unsub-no-separator", b"UNSUB\r\n"),
                       ("empty-line", b"\r\n"), ("leading-space", b" PING\r\n")):
        s.append(row("parse-error-" + name, F, data, UNKNOWN_OP))
    for name, data in (("extra-bytes", b"PUB foo 5\r\nhelloXX\r\n"), ("lf-only", b"PUB foo 5\r\nhello\n"),
                       ("cr-cr-lf", b"PUB foo 5\r\nhello\r\r\n")):
        s.append(row("payload-terminator-" + name, F, data, UNKNOWN_OP))
    # A following PING would be read as the 2 missing payload bytes: quiet read.
    s.append(row("payload-short-waits", F, b"PUB foo 5\r\nhel\r\n", b"", collect="quiet"))
    s.append(row("payload-zero-length", F, b"PUB foo 0\r\n\r\n", PONG))
    s.append(row("payload-contains-crlf", F, b"SUB foo 1\r\nPUB foo 3\r\na\r\n\r\n",
                 b"MSG foo 1 3\r\na\r\n\r\nPONG\r\n"))
    for name, data in (("missing-size", b"PUB foo\r\n"), ("too-many-args", b"PUB foo bar baz 5\r\nhello\r\n"),
                       ("size-not-digits", b"PUB foo abc\r\n"), ("size-negative", b"PUB foo -1\r\n"),
                       ("size-10-digits", b"PUB foo 1234567890\r\n")):
        s.append(row("pub-bad-args-" + name, F, data, EOF))
    for name, data in (("sub-missing-sid", b"SUB foo\r\n"), ("sub-too-many-args", b"SUB foo q 1 extra\r\n"),
                       ("unsub-no-args", b"UNSUB \r\n"), ("unsub-too-many-args", b"UNSUB 1 2 3\r\n")):
        s.append(row("bad-args-" + name, F, data, EOF))
    s.append(row("sub-cr-cr-lf-accepted", F, b"SUB foo 1\r\r\nPUB foo 1\r\na\r\n", b"MSG foo 1 1\r\na\r\nPONG\r\n"))
    s.append(row("pub-cr-cr-lf-closes", F, b"PUB foo 1\r\r\na\r\n", EOF,
                 split_sensitive="nats-server may take the CR CR LF when the line arrives in pieces"))
    s.append(row("sub-trailing-space", F, b"SUB foo 1 \r\nPUB foo 1\r\na\r\n", b"MSG foo 1 1\r\na\r\nPONG\r\n"))
    s.append(row("one-byte-per-write", F,
                 b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nSUB a.b 1\r\n'
                 b"PUB a.b r 5\r\nhello\r\nHPUB a.b 18 23\r\nNATS/1.0\r\nX: 1\r\n\r\nworld\r\nPING\r\n",
                 b"MSG a.b 1 r 5\r\nhello\r\nHMSG a.b 1 18 23\r\nNATS/1.0\r\nX: 1\r\n\r\nworld\r\nPONG\r\n",
                 connect=b"", one_byte=True, ping=False))
    return s


def deviations():
    # Rows the spec says ringmq should deliberately not emulate (§1.2).
    D = G_DEVIATION
    return [
        row("quirk-client-hmsg-accepted", D, b"HMSG foo 1 0 0\r\n\r\n", PONG,
            deviation="spec §1.2: client HMSG is a protocol error in ringmq"),
        row("quirk-cr-inside-argument", D, b"SUB fo\ro 1\nSUB x 2\r\nPUB fo 1\r\na\r\n",
            b"MSG fo o 1\r\na\r\nPONG\r\n",
            deviation="spec §1.2: the CR drop-one-byte quirk is not emulated"),
    ]


# --------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------

def limits():
    L = G_LIMITS
    mcl = b"-ERR 'maximum control line exceeded'\r\n<EOF>"
    big = b"x" * 1048576
    return [
        row("control-line-4096-ok", L, b"SUB " + b"a" * 4094 + b" 1\r\n", PONG),
        row("control-line-4097-rejected", L, b"SUB " + b"a" * 4095 + b" 1\r\n", mcl),
        row("control-line-4102-rejected", L, b"SUB " + b"a" * 4100 + b" 1\r\n", mcl),
        # No PING (it would extend the line / be read as payload); these rows
        # end in a close, so read until EOF rather than for a quiet window,
        # which a loaded machine could exceed.
        row("control-line-5000-no-lf", L, b"PUB " + b"a" * 5000, mcl, collect="eof"),
        row("payload-1048577-rejected", L, b"PUB foo 1048577\r\n",
            b"-ERR 'Maximum Payload Violation'\r\n<EOF>", collect="eof"),
        row("payload-1048576-ok", L, b"PUB foo 1048576\r\n" + big + b"\r\n", PONG),
        row("payload-1048576-delivered", L, b"SUB foo 1\r\nPUB foo 1048576\r\n" + big + b"\r\n",
            b"MSG foo 1 1048576\r\n" + big + b"\r\nPONG\r\n"),
    ]


def slow_consumer_invariant(sub, step, subject, published):
    """The subscriber `sub` stopped reading and must be cut as a slow consumer: in step
    `step` (its read to EOF) it gets some MSG frames for `subject`, perhaps a frame cut
    short, then EOF; no -ERR (spec §8.2). How many bytes got through first is up to the
    kernel's socket buffers and timing, so that count is not compared; that it is fewer
    than `published` is required. Every other segment is compared verbatim."""
    head = b"MSG " + subject + b" "

    def inv(transcript):
        summary, errors = [], []
        for conn, label, seg in transcript:
            summary.append("c%d %s:" % (conn, label))
            if conn != sub or not label.startswith("step %d " % step):
                summary += ["    " + repr(f)[2:-1] for f in seg.frames]
            else:
                count = 0
                for f in seg.frames:
                    if f.startswith(head):
                        count += 1
                    elif f.startswith(b"<PARTIAL>") and (f[9:].startswith(head) or head.startswith(f[9:])):
                        pass  # closed mid-frame: the pending data was dropped
                    else:
                        summary.append("    " + repr(f)[2:-1])
                        errors.append("unexpected frame for the slow consumer: %r" % f[:80])
                summary.append("    fewer than %d MSG frames for %s" % (published, subject.decode()))
                if count >= published:
                    errors.append("the slow consumer got all %d messages: it was not cut" % published)
                if not seg.eof:
                    errors.append("the slow consumer was not closed")
            if seg.timed_out:
                summary.append("    <TIMEOUT>")
            if seg.eof:
                summary.append("    <EOF>")
        return summary, errors
    return inv


def slow_consumer(name, config, idle=None):
    """Spec §14: a subscriber with a 4 KB receive buffer that does not read while 100 x 60 KB
    messages are published to it. The publisher is unaffected (its PONG comes, possibly
    after being stalled); the subscriber is closed without -ERR."""
    payload = b"x" * 60000
    published = 100
    steps = [
        send(0, C0 + b"SUB big 1\r\n", expect=PONG),
        # nats-server stalls the publisher until the cut consumer's last write gives up
        # (up to write_deadline), hence the longer deadline.
        send(1, C0 + pub(b"big", payload) * published, expect=PONG, deadline=15),
    ]
    if idle:
        steps.append(send(0, b"", collect="idle", idle=idle))
    steps.append(send(0, b"", collect="eof", deadline=15))
    return Scenario(name, G_LIMITS_CFG, steps, conns=2, rcvbuf={0: 4096}, config=config,
                    invariant=slow_consumer_invariant(0, len(steps) - 1, b"big", published))


def limits_config():
    # §14 rows with a config file; both servers load the same file (-c).
    L = G_LIMITS_CFG
    mpv = b"-ERR 'Maximum Payload Violation'\r\n<EOF>"
    return [
        row("cfg-max-payload-100", L, b"PUB ok.x 101\r\n", mpv, collect="eof", config="max_payload: 100\n"),
        row("cfg-max-payload-100-exact-ok", L, b"SUB ok.x 1\r\n" + pub(b"ok.x", b"p" * 100),
            msg(b"ok.x", b"1", b"p" * 100) + PONG, config="max_payload: 100\n"),
        row("cfg-max-control-line-64", L, b"SUB " + b"a" * 70 + b" 1\r\n",
            b"-ERR 'maximum control line exceeded'\r\n<EOF>", config="max_control_line: 64\n"),
        row("cfg-max-control-line-64-exact-ok", L, b"SUB " + b"a" * 62 + b" 1\r\n", PONG,
            config="max_control_line: 64\n"),
        row("cfg-max-control-line-65-rejected", L, b"SUB " + b"a" * 63 + b" 1\r\n",
            b"-ERR 'maximum control line exceeded'\r\n<EOF>", config="max_control_line: 64\n"),
        row("cfg-max-subscriptions-2", L, b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n",
            b"-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n", config="max_subscriptions: 2\n"),
        Scenario("cfg-max-subscriptions-2-first-two-work", L, [
            send(0, C0 + b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n",
                 expect=b"-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"),
            send(0, pub(b"b", b"x") + pub(b"c", b"y") + pub(b"a", b"z"),
                 expect=msg(b"b", b"2", b"x") + msg(b"a", b"1", b"z") + PONG),
        ], config="max_subs: 2\n"),
        Scenario("cfg-max-connections-2", L, [
            send(0, C0, expect=PONG),
            send(1, C0, expect=PONG),
            send(2, b"", collect="eof", expect=b"-ERR 'maximum connections exceeded'\r\n<EOF>"),
        # The third connects only once the first two are in: nats-server checks the limit
        # in each connection's own goroutine, so simultaneous connects race.
        ], conns=3, config="max_connections: 2\n", lazy_connect=True),
        row("cfg-stale-connection", L, b"", b"-ERR 'Stale Connection'\r\n<EOF>", collect="eof",
            config='ping_interval: "1s"\nping_max: 1\n'),
        # Over 8 MB only warns (in the log) in both; INFO carries the value.
        row("cfg-max-payload-64MB", L, b"PUB foo 67108865\r\n", mpv, collect="eof",
            config="max_payload: 64MB\n"),
        # max_pending 256 KB with a stalled reader: both cut it; how much reached its kernel
        # buffers before EOF differs (nats-server writes as it routes), so the row compares
        # only the end.
        slow_consumer("cfg-slow-consumer-max-pending",
                      'max_pending: 256KB\nmax_payload: 64KB\nwrite_deadline: "3s"\n'),
        # write_deadline: the subscriber does not read for 2 s, four times the deadline.
        slow_consumer("cfg-slow-consumer-write-deadline", 'write_deadline: "500ms"\n', idle=2.0),
        burst_to_reading_consumer(),
    ]


def burst_to_reading_consumer():
    """A consumer that keeps reading is not a slow consumer, even when one burst is far
    larger than max_pending: nats-server writes while it routes and stalls the publisher,
    so all 40 x 50 KB arrive. ringmq stalls the publisher part-way through a read and holds
    the rest of it until the consumer drains (it once queued the whole read and cut the
    consumer at max_pending)."""
    payload = b"y" * 50000
    burst = pub(b"burst", payload) * 40
    return Scenario("cfg-max-pending-burst-to-reading-consumer", G_LIMITS_CFG, [
        send(0, C0 + b"SUB burst 1\r\nSUB _sync 2\r\n", expect=PONG),
        # Fits the publisher's socket buffers, so sending does not wait for the reader.
        send(1, C0 + burst + pub(SYNC, b""), collect=None),
        send(0, b"", collect="until", until=SYNC, deadline=15,
             expect=msg(b"burst", b"1", payload) * 40 + msg(SYNC, b"2", b"")),
        send(1, b"", expect=PONG, deadline=15),
    ], conns=2, config="max_pending: 256KB\nmax_payload: 64KB\n")


def config_syntax():
    # The config file format itself (spec §13.2), observed through INFO's max_payload and
    # the limit it enforces: both servers must read each file the same way.
    C = G_CONFIG_SYNTAX
    mpv = b"-ERR 'Maximum Payload Violation'\r\n<EOF>"

    def payload_limit(name, limit, config, **kw):
        # One server pair per file: a payload of exactly the limit is delivered, one
        # byte more closes the connection.
        return [Scenario("syntax-" + name, C, [
            send(0, C0 + b"SUB foo 1\r\n" + pub(b"foo", b"z" * limit),
                 expect=msg(b"foo", b"1", b"z" * limit) + PONG),
            send(1, C0 + b"PUB foo %d\r\n" % (limit + 1), collect="eof", expect=mpv),
        ], conns=2, config=config, **kw)]

    s = []
    for name, limit, config in (
            ("colon", 100, "max_payload: 100\n"),
            ("equals", 100, "max_payload = 100\n"),
            ("space", 100, "max_payload 100\n"),
            ("suffix-k-is-1000", 1000, "max_payload: 1k\n"),
            ("suffix-K-is-1000", 1000, "max_payload: 1K\n"),
            ("suffix-KB-is-1024", 1024, "max_payload: 1KB\n"),
            ("suffix-kib-is-1024", 2048, "max_payload: 2kib\n"),
            ("suffix-MB", 1048576, "max_payload: 1MB\n"),
            ("suffix-m-is-million", 1000000, "max_payload: 1m\n"),
            ("comments", 200, "# hash\n// slashes\nmax_payload: 200 # after\nmax_pending: 1MB // after\n"),
            ("semicolons", 300, "max_pending: 1MB; max_payload: 300; ping_max: 3\n"),
            ("quoted-keys", 400, '"max_payload": 400\n\'max_pending\': 2MB\n'),
            ("optional-outer-braces", 500, "{\n  max_payload: 500\n  max_pending: 1MB\n}\n"),
            ("variable", 600, "limit = 600\nmax_payload: $limit\n"),
            ("later-key-wins", 700, "max_payload: 5\nmax_payload: 700\n"),
            ("case-insensitive-key", 800, "MAX_PAYLOAD: 800\n"),
            ("zero-means-default", 1048576, "max_payload: 0\n"),
            ("other-values", 900, 'server_name: "quoted name"\nmax_payload: 900\ndebug: false\n'
                                   "trace: no\nlogtime: on\nping_interval: \"2m\"\nwrite_deadline: '10s'\n"),
    ):
        s += payload_limit(name, limit, config)
    s += payload_limit("include", 150, "include ./sub/limits.conf\n",
                       files={"sub/limits.conf": "max_payload: 150\n"})
    s += payload_limit("env-variable", 250, "max_payload: $RINGMQ_WIRECOMPARE_PAYLOAD\n",
                       env={"RINGMQ_WIRECOMPARE_PAYLOAD": "250"})
    return s


def config_startup():
    # Start-up and `-t` outcomes (exit codes; the wording differs by design).
    S = G_CONFIG_STARTUP
    return [
        Scenario("startup-check-valid", S, [], config="max_payload: 100\nping_interval: \"2m\"\n",
                 startup=["-t"], exit_code=0),
        # spec §14: `ping_interval: 60` fails -t (a bare number only warns at start-up).
        Scenario("startup-check-integer-duration", S, [], config="ping_interval: 60\n",
                 startup=["-t"], exit_code=1),
        Scenario("startup-check-syntax-error", S, [], config="max_payload: {\n",
                 startup=["-t"], exit_code=1),
        Scenario("startup-check-bad-value", S, [], config='max_payload: "lots"\n',
                 startup=["-t"], exit_code=1),
        Scenario("startup-check-unknown-variable", S, [], config="max_payload: $RINGMQ_WIRECOMPARE_NOPE\n",
                 startup=["-t"], exit_code=1),
        # nats-server refuses unknown top-level keys and ringmq only warns at start-up; under
        # -t warnings fail in both.
        Scenario("startup-check-unknown-key", S, [], config="bogus_option: 1\n",
                 startup=["-t"], exit_code=1),
        # spec §14: max_payload above max_pending stops start-up.
        Scenario("startup-payload-above-pending-fails", S, [], config="max_payload: 128MB\n",
                 startup=[], exit_code=1),
        Scenario("startup-bad-value-fails", S, [], config="max_connections: \"many\"\n",
                 startup=[], exit_code=1),
        Scenario("startup-check-authorization", S, [], config=AUTH_USER, startup=["-t"], exit_code=0,
                 deviation="ringmq refuses authorization blocks until it implements them; "
                           "ignoring one would leave the server open"),
    ]


# --------------------------------------------------------------------------
# Subjects, pedantic, verbose
# --------------------------------------------------------------------------

def subjects():
    S = G_SUBJECTS
    s = []
    for name, subj in (("empty-token", b"foo..bar"), ("leading-dot", b".foo"),
                       ("trailing-dot", b"foo."), ("fwc-not-last", b"foo.>.bar")):
        s.append(row("sub-invalid-" + name, S, b"SUB " + subj + b" 1\r\n",
                     b"-ERR 'Invalid Subject'\r\nPONG\r\n"))
    long_subj = b".".join(b"t%d" % i for i in range(300))
    for name, subj, pub_subj in (("fwc", b">", b"a.b"), ("pwc", b"*", b"a"), ("star-in-token", b"foo*", b"foo*"),
                                 ("pwc-middle", b"foo.*.bar", b"foo.x.bar"), ("fwc-tail", b"foo.>", b"foo.a.b"),
                                 ("utf8", "été".encode(), "été".encode()), ("300-tokens", long_subj, long_subj)):
        s.append(row("sub-valid-" + name, S, b"SUB " + subj + b" 1\r\n" + pub(pub_subj, b"x"),
                     msg(pub_subj, b"1", b"x") + PONG))
    three = b"SUB > 1\r\nSUB foo.* 2\r\nSUB foo.bar 3\r\n"
    s.append(row("pub-wildcard-subject-routed", S, three + pub(b"foo.*", b"x"),
                 msg(b"foo.*", b"1", b"x") + msg(b"foo.*", b"2", b"x") + PONG, unordered=True))
    s.append(row("pub-empty-token-matches-nothing", S, three + pub(b"foo..bar", b"x"), PONG))
    s.append(row("pub-fwc-subject-routed", S, three + pub(b"foo.>", b"x"),
                 msg(b"foo.>", b"1", b"x") + msg(b"foo.>", b"2", b"x") + PONG, unordered=True))
    ped = b'CONNECT {"verbose":false,"pedantic":true}\r\n'
    s.append(row("pedantic-wildcard-publish-still-routed", S, three + pub(b"foo.*", b"x"),
                 b"-ERR 'Invalid Publish Subject'\r\n" + msg(b"foo.*", b"1", b"x") + msg(b"foo.*", b"2", b"x")
                 + PONG, connect=ped, unordered=True, split_sensitive=PEDANTIC_SPLIT))
    s.append(row("pedantic-empty-token-publish", S, three + pub(b"foo..bar", b"x"),
                 b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n", connect=ped, split_sensitive=PEDANTIC_SPLIT))
    s.append(row("subjects-case-sensitive", S, b"SUB Foo 1\r\n" + pub(b"foo", b"a") + pub(b"Foo", b"b"),
                 msg(b"Foo", b"1", b"b") + PONG))
    # Reserved subjects are refused on a default server too (spec §1.3, §5).
    for name, data, err in (
            ("reply-_R_", pub(b"foo", b"x", b"_R_.abc"), b'Publish with Reply of "_R_.abc"'),
            ("reply-js-ack", pub(b"foo", b"x", b"$JS.ACK.abc"), b'Publish with Reply of "$JS.ACK.abc"'),
            ("reply-_GR_", pub(b"foo", b"x", b"_GR_.abc"), b'Publish with Reply of "_GR_.abc"'),
            ("subject-_GR_", pub(b"_GR_.abc", b"x"), b'Publish to "_GR_.abc"')):
        s.append(row("reserved-" + name, S, b"SUB foo 1\r\nSUB _GR_.abc 2\r\n" + data,
                     b"-ERR 'Permissions Violation for " + err + b"'\r\nPONG\r\n"))
    s.append(row("fwc-needs-a-token", S, b"SUB foo.> 1\r\n" + pub(b"foo", b"a"), PONG))
    s.append(Scenario("verbose-acks", S, [
        send(0, b'CONNECT {"verbose":true}\r\n', expect=b"+OK\r\nPONG\r\n"),
        send(0, b"SUB foo 1\r\n", expect=b"+OK\r\nPONG\r\n"),
        send(0, b"PUB foo 2\r\nhi\r\n", expect=b"+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n"),
        send(0, b"", expect=PONG),  # the PING itself gets no +OK
        send(0, b"UNSUB 1\r\n", expect=b"+OK\r\nPONG\r\n"),
        send(0, b"UNSUB 99\r\n", expect=b"+OK\r\nPONG\r\n"),
        send(0, b"SUB foo..bar 2\r\n", expect=b"-ERR 'Invalid Subject'\r\nPONG\r\n"),
        send(0, b"PONG\r\n", expect=PONG),
    ]))
    return s


# --------------------------------------------------------------------------
# Subscriptions, queues, echo
# --------------------------------------------------------------------------

def subscriptions():
    Q = G_SUBS
    a = pub(b"foo", b"a")
    s = [
        row("unsub-max-before-delivery", Q, b"SUB foo 1\r\nUNSUB 1 2\r\n" + a * 3, msg(b"foo", b"1", b"a") * 2 + PONG),
        Scenario("unsub-max-counts-earlier-deliveries", Q, [
            send(0, C0 + b"SUB bar 2\r\n" + pub(b"bar", b"a") * 2, expect=msg(b"bar", b"2", b"a") * 2 + PONG),
            send(0, b"UNSUB 2 2\r\n" + pub(b"bar", b"a"), expect=PONG),
        ]),
        row("unsub-max-zero-removes", Q, b"SUB baz 3\r\nUNSUB 3 0\r\n" + pub(b"baz", b"a"), PONG),
        row("unsub-max-invalid-removes", Q, b"SUB qux 4\r\nUNSUB 4 x\r\n" + pub(b"qux", b"a"), PONG),
        row("sub-duplicate-sid-ignored", Q, b"SUB dup 5\r\nSUB other 5\r\n" + pub(b"dup", b"a") + pub(b"other", b"b"),
            msg(b"dup", b"5", b"a") + PONG),
        row("sub-opaque-sid", Q, b"SUB x 5x-y_z\r\n" + pub(b"x", b"a"), msg(b"x", b"5x-y_z", b"a") + PONG),
        row("echo-false", Q, b"SUB e 1\r\n" + pub(b"e", b"a"), PONG,
            connect=b'CONNECT {"verbose":false,"echo":false}\r\n'),
        row("queue-3-members-plain-and-second-group", Q,
            b"SUB work grp 1\r\nSUB work grp 2\r\nSUB work grp 3\r\nSUB work 9\r\nSUB work grp2 11\r\n"
            + pub(b"work", b"m") * 300, None,
            invariant=queue_invariant([(300, [(0, b"1"), (0, b"2"), (0, b"3")]),
                                       (300, [(0, b"9")], ), (300, [(0, b"11")])])),
        row("queue-2-members-20-pubs", Q, b"SUB w g 1\r\nSUB w g 2\r\n" + pub(b"w", b"m") * 20, None,
            invariant=queue_invariant([(20, [(0, b"1"), (0, b"2")])])),
        row("queue-plain-pwc-fwc-order", Q, b"SUB foo 1\r\nSUB foo g 2\r\nSUB * 3\r\nSUB > 4\r\n"
            + pub(b"foo", b"x", b"r"),
            # nats-server sent sids 4,1,3,2; plain-sub order is map order, so sorted.
            msg(b"foo", b"1", b"x", b"r") + msg(b"foo", b"2", b"x", b"r") + msg(b"foo", b"3", b"x", b"r")
            + msg(b"foo", b"4", b"x", b"r") + PONG, unordered=True),
    ]
    return s


# --------------------------------------------------------------------------
# Headers / no-responders
# --------------------------------------------------------------------------

def headers():
    H = G_HEADERS
    nr503 = b"HMSG _INBOX.abc 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    hdr = b"NATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n"
    return [
        row("no-responders-503", H, b"SUB _INBOX.abc 7\r\nPUB svc.none _INBOX.abc 2\r\nhi\r\n", nr503 + PONG,
            connect=CNR),
        row("no-responders-needs-own-sub", H, b"PUB svc.none _INBOX.other 2\r\nhi\r\n", PONG, connect=CNR),
        row("no-responders-hpub-request", H,
            b"SUB _INBOX.abc 7\r\nHPUB svc.none _INBOX.abc 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", nr503 + PONG,
            connect=CNR),
        row("no-responders-off", H, b"SUB _INBOX.abc 7\r\nPUB svc.none _INBOX.abc 2\r\nhi\r\n", PONG,
            connect=CH),
        row("hpub-delivered-as-hmsg", H, b"SUB h 3\r\nHPUB h 22 27\r\n" + hdr, b"HMSG h 3 22 27\r\n" + hdr + PONG,
            connect=CH),
        row("hpub-with-reply", H, b"SUB h 3\r\nHPUB h r.1 22 27\r\n" + hdr, b"HMSG h 3 r.1 22 27\r\n" + hdr + PONG,
            connect=CH),
        row("hpub-garbage-header-forwarded", H, b"SUB h 3\r\nHPUB h 3 8\r\nabc12345\r\n",
            b"HMSG h 3 3 8\r\nabc12345\r\nPONG\r\n", connect=CH),
        row("hpub-hdr-larger-than-total", H, b"HPUB h 9 8\r\nabc12345\r\n", EOF, connect=CH),
        row("hpub-without-headers-false", H, b"HPUB h 22 27\r\n" + hdr, EOF,
            connect=b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n'),
        row("hpub-without-headers-omitted", H, b"HPUB h 22 27\r\n" + hdr, EOF),
        row("hpub-zero-header-is-msg", H, b"SUB foo 1\r\nHPUB foo 0 5\r\nhello\r\n",
            b"MSG foo 1 5\r\nhello\r\nPONG\r\n", connect=CH),
    ]


# --------------------------------------------------------------------------
# Multi-connection: publisher and subscriber on different connections
# (ringmq may place them on different cores). Every subscriber registers
# interest with SUB + PING/PONG before anyone publishes, and a subscriber's
# stream is read until the publisher's sentinel message arrives.
# --------------------------------------------------------------------------

def sync_pub():
    return pub(SYNC, b"")


def multi():
    M = G_MULTI
    s = []
    s.append(Scenario("mc-pub-sub", M, [
        send(0, C0 + b"SUB foo 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + pub(b"foo", b"one") + pub(b"foo", b"two", b"reply.1") + pub(b"bar", b"no") + sync_pub(),
             expect=PONG),
        send(0, b"", collect="until", until=SYNC,
             expect=msg(b"foo", b"1", b"one") + msg(b"foo", b"1", b"two", b"reply.1") + msg(SYNC, b"2", b"")),
    ], conns=2))
    s.append(Scenario("mc-fan-out", M, [
        send(0, C0 + b"SUB foo 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + b"SUB foo 7\r\nSUB _sync 8\r\n", expect=PONG),
        send(2, C0 + pub(b"foo", b"x") * 3 + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC, expect=msg(b"foo", b"1", b"x") * 3 + msg(SYNC, b"2", b"")),
        send(1, b"", collect="until", until=SYNC, expect=msg(b"foo", b"7", b"x") * 3 + msg(SYNC, b"8", b"")),
    ], conns=3))
    s.append(Scenario("mc-wildcards", M, [
        send(0, C0 + b"SUB foo.* 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + b"SUB foo.> 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(2, C0 + b"SUB > 1\r\n", expect=PONG),  # also matches the sentinel
        send(3, C0 + pub(b"foo.bar", b"a") + pub(b"foo.bar.baz", b"b") + pub(b"foo", b"c")
             + pub(b"other", b"d") + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC, expect=msg(b"foo.bar", b"1", b"a") + msg(SYNC, b"2", b"")),
        send(1, b"", collect="until", until=SYNC,
             expect=msg(b"foo.bar", b"1", b"a") + msg(b"foo.bar.baz", b"1", b"b") + msg(SYNC, b"2", b"")),
        send(2, b"", collect="until", until=SYNC,
             expect=msg(b"foo.bar", b"1", b"a") + msg(b"foo.bar.baz", b"1", b"b") + msg(b"foo", b"1", b"c")
             + msg(b"other", b"1", b"d") + msg(SYNC, b"1", b"")),
    ], conns=4))
    s.append(Scenario("mc-unsub-stops-delivery", M, [
        send(0, C0 + b"SUB foo 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(0, b"UNSUB 1\r\n", expect=PONG),
        send(1, C0 + pub(b"foo", b"x") + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC, expect=msg(SYNC, b"2", b"")),
    ], conns=2))
    # Queue group members on three connections, plus a plain subscriber.
    members = [(0, b"1"), (1, b"1"), (2, b"1")]
    s.append(Scenario("mc-queue-group-300", M, [
        send(0, C0 + b"SUB work grp 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + b"SUB work grp 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(2, C0 + b"SUB work grp 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(3, C0 + b"SUB work 9\r\nSUB _sync 2\r\n", expect=PONG),
        send(4, C0 + pub(b"work", b"m") * 300 + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC),
        send(1, b"", collect="until", until=SYNC),
        send(2, b"", collect="until", until=SYNC),
        send(3, b"", collect="until", until=SYNC, expect=msg(b"work", b"9", b"m") * 300 + msg(SYNC, b"2", b"")),
    ], conns=5, invariant=queue_invariant([(300, members)])))
    s.append(Scenario("mc-queue-2-members-20-pubs", M, [
        send(0, C0 + b"SUB w g 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + b"SUB w g 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(2, C0 + pub(b"w", b"m") * 20 + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC),
        send(1, b"", collect="until", until=SYNC),
    ], conns=3, invariant=queue_invariant([(20, [(0, b"1"), (1, b"1")])])))
    s.append(Scenario("mc-queue-one-group-across-subjects", M, [
        send(0, C0 + b"SUB foo g 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + b"SUB * g 1\r\n", expect=PONG),  # `*` also catches the sentinel
        send(2, C0 + pub(b"foo", b"m") * 100 + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC),
        send(1, b"", collect="until", until=SYNC),
    ], conns=3, invariant=queue_invariant([(100, [(0, b"1"), (1, b"1")])], subject=b"foo")))
    s.append(Scenario("mc-queue-echo-false-publisher-member", M, [
        send(0, b'CONNECT {"verbose":false,"pedantic":false,"echo":false}\r\nSUB qq g 1\r\n', expect=PONG),
        send(1, C0 + b"SUB qq g 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(0, pub(b"qq", b"m") * 50 + sync_pub(), expect=PONG),
        send(1, b"", collect="until", until=SYNC, expect=msg(b"qq", b"1", b"m") * 50 + msg(SYNC, b"2", b"")),
    ], conns=2))
    hdr = b"NATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n"
    s.append(Scenario("mc-headers", M, [
        send(0, CH + b"SUB h 3\r\nSUB _sync 4\r\n", expect=PONG),
        send(1, C0 + b"SUB h 1\r\nSUB _sync 2\r\n", expect=PONG),  # headers not negotiated
        send(2, CH + b"HPUB h 22 27\r\n" + hdr + b"HPUB h r.1 22 27\r\n" + hdr + b"HPUB h 0 5\r\nhello\r\n"
             + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC,
             expect=b"HMSG h 3 22 27\r\n" + hdr + b"HMSG h 3 r.1 22 27\r\n" + hdr + msg(b"h", b"3", b"hello")
             + msg(SYNC, b"4", b"")),
        send(1, b"", collect="until", until=SYNC,
             expect=msg(b"h", b"1", b"hello") + msg(b"h", b"1", b"hello", b"r.1") + msg(b"h", b"1", b"hello")
             + msg(SYNC, b"2", b"")),
    ], conns=3))
    # Large payloads fanned out across connections (ringmq shares big
    # payloads between subscribers instead of copying them).
    big, mid = bytes(range(256)) * 4096, b"m" * 65536
    s.append(Scenario("mc-large-payload-fan-out", M, [
        send(0, C0 + b"SUB big 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + b"SUB big 3\r\nSUB _sync 4\r\n", expect=PONG),
        send(2, C0 + pub(b"big", big) + pub(b"big", mid) + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC,
             expect=msg(b"big", b"1", big) + msg(b"big", b"1", mid) + msg(SYNC, b"2", b"")),
        send(1, b"", collect="until", until=SYNC,
             expect=msg(b"big", b"3", big) + msg(b"big", b"3", mid) + msg(SYNC, b"4", b"")),
    ], conns=3))
    # Per publisher->subscriber order must survive batching and core hops.
    many = b"".join(pub(b"seq", b"%d" % i) for i in range(2000))
    s.append(Scenario("mc-order-preserved-2000", M, [
        send(0, C0 + b"SUB seq 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, C0 + many + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC,
             expect=b"".join(msg(b"seq", b"1", b"%d" % i) for i in range(2000)) + msg(SYNC, b"2", b"")),
    ], conns=2))
    nr503 = b"HMSG _INBOX.r 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    s.append(Scenario("mc-request-reply-no-responders", M, [
        send(0, CNR + b"SUB _INBOX.r 1\r\n", expect=PONG),          # requester
        send(1, C0 + b"SUB svc 5\r\n", expect=PONG),                 # responder
        send(0, pub(b"svc", b"hi", b"_INBOX.r"), expect=PONG),      # responder exists: no 503
        send(1, b"", collect="until", until=b"svc", expect=msg(b"svc", b"5", b"hi", b"_INBOX.r")),
        send(1, pub(b"_INBOX.r", b"world"), expect=PONG),
        send(0, b"", collect="until", until=b"_INBOX.r", expect=msg(b"_INBOX.r", b"1", b"world")),
        send(0, pub(b"svc.none", b"hi", b"_INBOX.r"), expect=nr503 + PONG),
        send(1, b"UNSUB 5\r\n", expect=PONG),                        # responder goes away
        send(0, pub(b"svc", b"hi", b"_INBOX.r"), expect=nr503 + PONG),
    ], conns=2))
    s.append(Scenario("mc-hpub-to-headers-false-subscriber", M, [
        send(0, C0 + b"SUB h 1\r\nSUB _sync 2\r\n", expect=PONG),
        send(1, CH + b"HPUB h 22 27\r\n" + hdr + sync_pub(), expect=PONG),
        send(0, b"", collect="until", until=SYNC, expect=msg(b"h", b"1", b"hello") + msg(SYNC, b"2", b"")),
    ], conns=2))
    return s


AUTH_USER = "authorization { user: alice, password: secret, timeout: 1 }\n"
AUTH_TOKEN = "authorization { token: s3cr3t }\n"
AUTH_PERMS = """authorization {
  users = [ { user: bob, password: pw,
    permissions: { publish: { allow: ["ok.>"], deny: ["ok.no"] },
                   subscribe: { deny: ["secret.>"] } } } ]
}
"""


def auth_config():
    # §14 Auth rows: all need a config file, so skipped until ringmq has one.
    A = G_AUTH_CFG
    av = b"-ERR 'Authorization Violation'\r\n<EOF>"
    bob = b'CONNECT {"verbose":false,"pedantic":false,"user":"bob","pass":"pw"}\r\n'
    return [
        row("auth-ping-before-connect", A, b"PING\r\n", av, connect=b"", ping=False, config=AUTH_USER),
        row("auth-sub-before-connect", A, b"SUB foo 1\r\n", av, connect=b"", config=AUTH_USER),
        row("auth-wrong-password", A, b'CONNECT {"verbose":false,"user":"alice","pass":"wrong"}\r\n', av,
            connect=b"", config=AUTH_USER),
        row("auth-right-password", A, b'CONNECT {"verbose":false,"user":"alice","pass":"secret"}\r\n', PONG,
            connect=b"", config=AUTH_USER),
        row("auth-timeout-partial-connect", A, b"CONN", b"-ERR 'Authentication Timeout'\r\n<EOF>",
            connect=b"", collect="eof", config=AUTH_USER),
        row("auth-token-wrong", A, b'CONNECT {"verbose":false,"auth_token":"nope"}\r\n', av,
            connect=b"", config=AUTH_TOKEN),
        row("auth-token-right", A, b'CONNECT {"verbose":false,"auth_token":"s3cr3t"}\r\n', PONG,
            connect=b"", config=AUTH_TOKEN),
        row("perms-publish-denied", A, pub(b"ok.no", b"x"),
            b"-ERR 'Permissions Violation for Publish to \"ok.no\"'\r\nPONG\r\n", connect=bob, config=AUTH_PERMS),
        row("perms-publish-not-allowed", A, pub(b"other", b"x"),
            b"-ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n", connect=bob, config=AUTH_PERMS),
        row("perms-subscribe-denied", A, b"SUB secret.x 1\r\n",
            b"-ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\nPONG\r\n",
            connect=bob, config=AUTH_PERMS),
        row("perms-subscribe-denied-queue", A, b"SUB secret.x q 1\r\n",
            b"-ERR 'Permissions Violation for Subscription to \"secret.x\" using queue \"q\"'\r\nPONG\r\n",
            connect=bob, config=AUTH_PERMS),
        row("perms-publish-allowed", A, b"SUB ok.yes 1\r\n" + pub(b"ok.yes", b"x"),
            msg(b"ok.yes", b"1", b"x") + PONG, connect=bob, config=AUTH_PERMS),
    ]


def lame_duck():
    # §14 "Lame duck": SIGUSR2 to each server of the pair. A protocol-1 client that has had a
    # PONG gets INFO with "ldm":true, then EOF; a protocol-0 client and a protocol-1 client
    # that never sent PING get only EOF. Closes are spread over the duration after the grace
    # period (30 s is the minimum), so the row takes about 30 s.
    C1 = b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\n'
    ldm_info = (b'INFO {"server_id":"<str>","server_name":"<str>","version":"2.9.10",'
                b'"proto":1,"go":"<present>","host":"<str>","port":"<int>","headers":true,'
                b'"max_payload":1048576,"client_id":"<int>","client_ip":"<str>","ldm":true} \r\n')
    return [Scenario("ldm-clients", G_LAME_DUCK, [
        send(0, C1, expect=PONG),
        send(1, C0, expect=PONG),
        send(2, C1, collect=None),
        # c2's CONNECT is in before the signal: c0 and c1 have seen their PONGs after it.
        send(1, b"", expect=PONG),
        Step(None, b"", collect=None, signal=signal.SIGUSR2),
        send(0, b"", collect="eof", expect=ldm_info + b"<EOF>", deadline=45),
        send(1, b"", collect="eof", expect=b"<EOF>", deadline=45),
        send(2, b"", collect="eof", expect=b"<EOF>", deadline=45),
    ], conns=3, config='lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n')]


def all_scenarios():
    return framing() + deviations() + limits() + limits_config() + config_syntax() + config_startup() \
        + subjects() + subscriptions() + headers() + multi() + auth_config() + lame_duck()
