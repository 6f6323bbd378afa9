#!/usr/bin/env python3
"""Wire-comparison harness: ringmq vs nats-server, byte for byte.

Starts a reference nats-server and a candidate server (ringmq, or any command
given with --candidate-cmd), runs every scenario from scenarios.py against both
over raw TCP, and compares what each connection received.

Python 3 standard library only. See README.md in this directory.
"""

import argparse
import collections
import concurrent.futures
import difflib
import fnmatch
import hashlib
import json
import os
import queue
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import scenarios as sc

# How long a "nothing arrives" read waits for silence. Long enough for a
# loopback server to answer, short enough to keep ~100 scenarios fast.
QUIET_WINDOW = 0.25
# Upper bound for any single collect step (1 MiB payload rows included).
STEP_DEADLINE = 5.0
SERVER_START_DEADLINE = 15.0
# The byte-by-byte variant sends a step of up to BYTEWISE_MAX bytes one byte per write;
# a longer one (the 1 MiB payload rows) byte by byte only in its first and last
# BYTEWISE_EDGE bytes.
BYTEWISE_MAX = 16 * 1024
BYTEWISE_EDGE = 4 * 1024
# How each row's steps are sent (see variant_steps): as written, one step at a time;
# consecutive steps of one connection merged into a single write; every write split into
# one-byte writes.
VARIANTS = ("stepwise", "single", "bytes")

# INFO fields whose values clients act on: compared by value.
INFO_VALUE_KEYS = ("version", "proto", "headers", "max_payload", "auth_required", "tls_required",
                   "ldm")
# INFO fields whose values differ per instance/connection: compared by type only.
INFO_TYPE_KEYS = ("server_id", "server_name", "client_id", "client_ip", "host", "port")


# --------------------------------------------------------------------------
# Server -> client stream parsing and normalisation
# --------------------------------------------------------------------------

def normalise_info(line):
    """Reduce an INFO line to what must match across servers.

    Key order and the set of keys are kept (both are visible on the wire);
    values are kept only for INFO_VALUE_KEYS, types for INFO_TYPE_KEYS, and
    other keys (e.g. "go") keep only their presence.
    """
    if not (line.startswith(b"INFO {") and line.endswith(b"} \r\n")):
        return line  # malformed framing: compare raw so the diff shows it
    try:
        info = json.loads(line[5:-3])
    except ValueError:
        return line
    out = {}
    for key, value in info.items():
        if key in INFO_VALUE_KEYS:
            out[key] = value
        elif key in INFO_TYPE_KEYS:
            out[key] = "<%s>" % type(value).__name__
        else:
            out[key] = "<present>"
    return b"INFO " + json.dumps(out, separators=(",", ":")).encode() + b" \r\n"


def next_frame(buf):
    """Split one server->client frame off the front of buf.

    Returns (frame, rest) or (None, buf) if buf holds no complete frame yet.
    MSG/HMSG frames include their payload and its trailing two bytes, so a
    PONG or PING inside a payload is never mistaken for a control line.
    """
    nl = buf.find(b"\n")
    if nl < 0:
        return None, buf
    line = buf[: nl + 1]
    if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
        fields = line.split()
        try:
            size = int(fields[-1])
        except (ValueError, IndexError):
            return line, buf[nl + 1:]
        end = nl + 1 + size + 2
        if len(buf) < end:
            return None, buf
        return buf[:end], buf[end:]
    return line, buf[nl + 1:]


class Conn:
    """One raw TCP client connection with an incremental frame parser."""

    def __init__(self, port, rcvbuf=None):
        if rcvbuf is None:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=STEP_DEADLINE)
        else:
            # A small receive buffer must be set before connect to bound the TCP window:
            # it makes a client that stops reading a slow consumer quickly.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(STEP_DEADLINE)
            self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False
        # Without NODELAY, Nagle would merge the one-byte-per-write steps
        # into larger segments and the server would never see the splits.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data, one_byte=False, deadline=STEP_DEADLINE):
        if self.eof:
            return
        # A server that stalls a publisher (spec §8.2) stops reading it for a while.
        self.sock.settimeout(deadline)
        try:
            if one_byte:
                # Beyond BYTEWISE_MAX, only the edges go a byte at a time: the splits that
                # matter (control line, payload start and end) without a million writes.
                edge = BYTEWISE_EDGE if len(data) > BYTEWISE_MAX else len(data)
                for i in range(min(edge, len(data))):
                    self.sock.sendall(data[i:i + 1])
                if edge < len(data):
                    self.sock.sendall(data[edge:len(data) - edge])
                    for i in range(len(data) - edge, len(data)):
                        self.sock.sendall(data[i:i + 1])
            else:
                self.sock.sendall(data)
        except OSError:
            # The server closed on us; the following collect records <EOF>.
            pass

    def _recv(self, timeout):
        """Read once; returns False on timeout. Sets eof on close/reset."""
        if self.eof:
            return True
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except OSError:
            data = b""  # ECONNRESET after the server closed: same as EOF
        if not data:
            self.eof = True
        self.buf += data
        return True

    def _frames(self, frames, stop):
        """Move complete frames from buf to frames; True once stop(frame) hit."""
        while True:
            frame, rest = next_frame(self.buf)
            if frame is None:
                return False
            self.buf = rest
            if frame == b"PING\r\n":
                continue  # unsolicited server RTT probe (~2 s after CONNECT)
            if frame.startswith(b"INFO "):
                frame = normalise_info(frame)
            frames.append(frame)
            if stop(frame):
                return True

    def collect(self, mode, arg=None, step_deadline=STEP_DEADLINE):
        """Read until the mode's condition holds; returns a Segment."""
        frames = []
        deadline = time.monotonic() + step_deadline
        timed_out = False
        if mode == "quiet":
            stop = lambda f: False
        elif mode == "pong":
            stop = lambda f: f == b"PONG\r\n"
        elif mode == "info":
            stop = lambda f: f.startswith(b"INFO ")
        elif mode == "until":
            # arg = subject; stop at the first MSG/HMSG frame for it.
            stop = lambda f: f.split(b" ", 2)[1:2] == [arg] and (
                f.startswith(b"MSG ") or f.startswith(b"HMSG "))
        elif mode == "eof":
            stop = lambda f: False
        else:
            raise ValueError(mode)
        while True:
            if self._frames(frames, stop):
                break
            if self.eof:
                break
            now = time.monotonic()
            if now >= deadline:
                timed_out = mode not in ("quiet",)
                break
            if mode == "quiet":
                if not self._recv(min(QUIET_WINDOW, deadline - now)):
                    break  # quiet for the whole window: nothing more is coming
            elif not self._recv(deadline - now):
                timed_out = True
                break
        if self.eof and self.buf:
            frames.append(b"<PARTIAL>" + self.buf)
            self.buf = b""
        return Segment(frames, self.eof, timed_out)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Segment:
    def __init__(self, frames, eof, timed_out):
        self.frames = frames
        self.eof = eof
        self.timed_out = timed_out

    def data(self):
        """Bytes form used for exact comparison and for `expect`."""
        out = b"".join(self.frames)
        if self.timed_out:
            out += b"<TIMEOUT>"
        if self.eof:
            out += b"<EOF>"
        return out


# --------------------------------------------------------------------------
# Running a scenario against one server
# --------------------------------------------------------------------------

def run_scenario(scn, steps, port, pid=None):
    """Runs `steps` (scn.steps or a variant of them) and returns a transcript: list of
    (conn index, step label, Segment). `pid`: the server process, for steps that signal
    it."""
    conns = {}
    transcript = []

    def open_conn(i):
        conns[i] = Conn(port, scn.rcvbuf.get(i))
        # Every connection starts with the server's INFO.
        transcript.append((i, "connect", conns[i].collect("info")))

    try:
        if not scn.lazy_connect:
            for i in range(scn.conns):
                open_conn(i)
        for n, step in enumerate(steps):
            if step.signal is not None:
                if pid is None:
                    raise RuntimeError("a signal step needs a scenario with a config")
                os.kill(pid, step.signal)
                continue
            if step.conn not in conns:
                open_conn(step.conn)
            c = conns[step.conn]
            data = step.data
            if step.collect == "pong" and step.ping:
                data += b"PING\r\n"
            if data:
                c.send(data, one_byte=step.one_byte, deadline=step.deadline or STEP_DEADLINE)
            if step.collect == "idle":
                # The stimulus itself, not a synchronisation: this client does not read
                # for this long (a consumer that stopped reading, spec §14 write_deadline).
                time.sleep(step.idle)
                continue
            if step.collect:
                seg = collect_all(c, step)
                if scn.unordered:
                    seg.frames = sort_msg_runs(seg.frames)
                transcript.append((step.conn, "step %d %s" % (n, step.label()), seg))
        # Catch anything unexpected still in flight on every connection.
        for i, c in conns.items():
            if not c.eof:
                transcript.append((i, "end quiet", c.collect("quiet")))
            elif c.buf:
                transcript.append((i, "end", c.collect("quiet")))
    finally:
        for c in conns.values():
            c.close()
    return transcript


def collect_all(c, step):
    """One step's collects (several for a merged step: a PONG per merged step, then the
    last one's condition) as one Segment."""
    deadline = step.deadline or STEP_DEADLINE
    frames, eof, timed_out = [], False, False
    for mode, until in getattr(step, "collects", None) or [(step.collect, step.until)]:
        seg = c.collect(mode, until, deadline)
        frames += seg.frames
        eof, timed_out = seg.eof, timed_out or seg.timed_out
        if eof or timed_out:
            break
    return Segment(frames, eof, timed_out)


def variant_steps(scn, variant):
    """The steps of `scn` as `variant` sends them, or None when they would be the same as
    stepwise (nothing to merge)."""
    if variant == "stepwise":
        return scn.steps
    if variant == "bytes":
        if scn.split_sensitive or not any(step.data and not step.one_byte for step in scn.steps):
            return None
        return [clone_step(step, one_byte=bool(step.data) or step.one_byte)
                for step in scn.steps]
    assert variant == "single", variant
    merged, changed = [], False
    for step in scn.steps:
        last = merged[-1] if merged else None
        if last is not None and mergeable(last, step):
            merged[-1] = merge_steps(last, step)
            changed = True
        else:
            merged.append(step)
    return merged if changed else None


def mergeable(first, second):
    """Whether `second` can go out in the same write as `first`: same connection, and all
    `first` waits for is PONGs (or nothing), so what `second` sends does not depend on
    anything else happening in between."""
    plain = lambda step: step.signal is None and step.collect != "idle"
    return (first.conn == second.conn and plain(first) and plain(second)
            and first.one_byte == second.one_byte
            and all(mode in ("pong", None) for mode, _ in collects_of(first)))


def collects_of(step):
    collects = getattr(step, "collects", None)
    if collects is not None:
        return collects
    return [(step.collect, step.until)] if step.collect else []


def wire_data(step):
    """What a step writes, its PING included."""
    if step.collect == "pong" and step.ping and not getattr(step, "collects", None):
        return step.data + b"PING\r\n"
    return step.data


def merge_steps(first, second):
    collects = collects_of(first) + collects_of(second)
    merged = clone_step(first, data=wire_data(first) + wire_data(second), ping=False,
                        collect=collects[-1][0] if collects else None,
                        until=collects[-1][1] if collects else None)
    merged.collects = collects
    if first.expect is not None and second.expect is not None:
        merged.expect = first.expect + second.expect
    else:
        merged.expect = None
    deadlines = [d for d in (first.deadline, second.deadline) if d]
    merged.deadline = max(deadlines) if deadlines else None
    merged.merged = getattr(first, "merged", 1) + 1
    return merged


def clone_step(step, **changes):
    clone = sc.Step(step.conn, step.data, step.collect, step.expect, until=step.until,
                    one_byte=step.one_byte, ping=step.ping, deadline=step.deadline,
                    idle=step.idle, signal=step.signal)
    for key in ("collects", "merged"):
        if hasattr(step, key):
            setattr(clone, key, getattr(step, key))
    for key, value in changes.items():
        setattr(clone, key, value)
    return clone


def sort_msg_runs(frames):
    """Sort each run of consecutive MSG/HMSG frames, keep everything else in place.

    For scenarios marked unordered: nats-server delivers one message's copies
    to a connection's several subscriptions in Go map order (spec §5).
    """
    out, run = [], []
    for f in frames + [None]:
        if f is not None and (f.startswith(b"MSG ") or f.startswith(b"HMSG ")):
            run.append(f)
            continue
        out += sorted(run)
        run = []
        if f is not None:
            out.append(f)
    return out


def render(data, limit=400):
    """Readable escaped form of a byte string; long ones are abbreviated."""
    if len(data) > limit:
        digest = hashlib.sha1(data).hexdigest()[:12]
        return "%s...<%d bytes sha1:%s>...%s" % (
            render(data[:100], limit), len(data), digest, render(data[-30:], limit))
    s = repr(data)
    return s[2:-1]


def render_transcript(transcript):
    lines = []
    for conn, label, seg in transcript:
        lines.append("c%d %s:" % (conn, label))
        for f in seg.frames:
            lines.append("    " + render(f))
        if seg.timed_out:
            lines.append("    <TIMEOUT>")
        if seg.eof:
            lines.append("    <EOF>")
    return lines


def check_expectations(steps, transcript):
    """Exact bytes the spec promises for a step (checked on both servers)."""
    errors = []
    step_segments = [t for t in transcript if t[1].startswith("step ")]
    by_step = {int(label.split()[1]): seg for _, label, seg in step_segments}
    for n, step in enumerate(steps):
        if step.expect is None:
            continue
        got = by_step.get(n)
        got = got.data() if got else b"<no segment>"
        if got != step.expect:
            errors.append("step %d expected %s, got %s" % (n, render(step.expect, 400), render(got, 400)))
    return errors


def compare(scn, steps, ref_tr, cand_tr):
    """Returns None if equivalent, else a readable explanation."""
    problems = []
    for who, tr in (("reference", ref_tr), ("candidate", cand_tr)):
        for e in check_expectations(steps, tr):
            problems.append("%s: %s" % (who, e))
    if scn.invariant is not None:
        ref_sum, ref_err = scn.invariant(ref_tr)
        cand_sum, cand_err = scn.invariant(cand_tr)
        problems += ["reference: " + e for e in ref_err]
        problems += ["candidate: " + e for e in cand_err]
        if ref_sum != cand_sum:
            problems.append("invariant summaries differ")
            problems += ["  " + l for l in difflib.unified_diff(
                ref_sum, cand_sum, "reference", "candidate", lineterm="")]
    else:
        ref_lines = render_transcript(ref_tr)
        cand_lines = render_transcript(cand_tr)
        # Compare real bytes, not the abbreviated rendering.
        ref_key = [(c, l, s.data()) for c, l, s in ref_tr]
        cand_key = [(c, l, s.data()) for c, l, s in cand_tr]
        if ref_key != cand_key:
            diff = list(difflib.unified_diff(ref_lines, cand_lines, "nats-server", "candidate", lineterm=""))
            if not diff:  # differ only beyond the abbreviation
                diff = ["(streams differ inside an abbreviated frame)"] + ref_lines + ["---"] + cand_lines
            problems += ["  " + l for l in diff]
    if problems:
        return "\n".join("    " + p for p in problems)
    return None


# --------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, argv, port, logdir, env=None):
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = os.path.join(logdir, "%s-%d.log" % (name, port))
        self.log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                         stderr=subprocess.STDOUT, env=server_env(env))
        except OSError as e:
            self.log.close()
            raise SystemExit("cannot start %s: %s: %s" % (name, shlex.join(argv), e))

    def wait_ready(self):
        """Poll until the server accepts a connection and sends INFO."""
        deadline = time.monotonic() + SERVER_START_DEADLINE
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    if s.recv(5) == b"INFO ":
                        return
            except OSError as e:
                last = e
            time.sleep(0.05)  # retry interval of the readiness poll, not synchronisation
        self.stop()
        with open(self.log_path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        raise SystemExit("%s did not become ready on port %d (%s; exit=%s)\n%s\nlog:\n%s" % (
            self.name, self.port, last, self.proc.returncode, shlex.join(self.argv), tail))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def reference_argv(args, port, config=None):
    argv = [args.nats_server, "-a", "127.0.0.1", "-p", str(port)]
    if config:
        argv += ["-c", config]
    return argv


def candidate_argv(args, port, config=None, cores=None):
    if args.ringmq:
        argv = [args.ringmq, "-a", "127.0.0.1", "-p", str(port), "--cores", str(cores)]
        if config:
            argv += ["-c", config]
        return argv
    cmd = args.candidate_cmd
    if config and "{config}" not in cmd:
        cmd += " -c {config}"
    return shlex.split(cmd.replace("{port}", str(port)).replace("{config}", config or ""))


def candidate_cores(args):
    """The candidates each row is compared with: ringmq once per --cores value, or the one
    --candidate-cmd (None)."""
    if not args.ringmq:
        return [None]
    return [int(n) for n in args.cores.split(",")]


def cores_label(cores):
    return "c%d" % cores if cores is not None else "cmd"


def server_env(extra):
    """The environment for a server process: ours plus a scenario's variables."""
    if not extra:
        return None
    env = dict(os.environ)
    env.update(extra)
    return env


class ServerSet:
    """The reference and one candidate per --cores value, each on a free port."""

    def __init__(self, reference, candidates):
        self.reference = reference
        self.candidates = candidates  # cores -> Server

    def all(self):
        return [self.reference] + list(self.candidates.values())

    def stop(self):
        for server in self.all():
            server.stop()


def start_set(args, logdir, config=None, env=None):
    started = []
    try:
        port = free_port()
        reference = Server("nats-server", reference_argv(args, port, config), port, logdir, env)
        started.append(reference)
        candidates = {}
        for cores in candidate_cores(args):
            port = free_port()
            name = "candidate-%s" % cores_label(cores)
            candidates[cores] = Server(name, candidate_argv(args, port, config, cores), port,
                                       logdir, env)
            started.append(candidates[cores])
        for server in started:
            server.wait_ready()
    except SystemExit:
        for server in started:
            server.stop()
        raise
    return ServerSet(reference, candidates)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def write_config(scn, logdir):
    """Writes the scenario's config (and the files it includes) into a directory of its
    own; returns the config's path."""
    directory = os.path.join(logdir, scn.name)
    for name, text in [("main.conf", scn.config)] + sorted(scn.files.items()):
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return os.path.join(directory, "main.conf")


def run_startup(args, scn, path, cores):
    """A start-up row: both servers run with the config plus scn.startup (e.g. ["-t"]) and
    must exit with scn.exit_code. Their messages differ in wording ("nats-server:" vs
    "ringmq:"), so only exit codes are compared; the output is shown on failure."""
    outcomes = []
    for name, argv in (("nats-server", reference_argv(args, free_port(), path)),
                       ("candidate", candidate_argv(args, free_port(), path, cores))):
        argv = argv + scn.startup
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=SERVER_START_DEADLINE,
                                  env=server_env(scn.env))
            outcomes.append((name, done.returncode, done.stdout.decode(errors="replace")))
        except subprocess.TimeoutExpired as e:
            output = (e.output or b"").decode(errors="replace")
            outcomes.append((name, "still running after %ds" % SERVER_START_DEADLINE, output))
    if all(code == scn.exit_code for _, code, _ in outcomes):
        return None
    lines = ["want exit code %s from both" % scn.exit_code]
    for name, code, output in outcomes:
        lines.append("%s: exit %s" % (name, code))
        lines += ["  | " + l for l in output.strip().splitlines()[-5:]]
    return "\n".join("    " + l for l in lines)


def run_variant(scn, steps, servers, private):
    """Runs `steps` on the reference and every candidate at once; returns {cores: failure
    or None}."""
    pid = lambda server: server.proc.pid if private else None
    everyone = [(None, servers.reference)] + list(servers.candidates.items())
    with concurrent.futures.ThreadPoolExecutor(len(everyone)) as ex:
        futures = [(cores, ex.submit(run_scenario, scn, steps, server.port, pid(server)))
                   for cores, server in everyone]
        transcripts = [(cores, f.result()) for cores, f in futures]
    reference = transcripts[0][1]
    return {cores: compare(scn, steps, reference, transcript)
            for cores, transcript in transcripts[1:]}


def run_one(args, scn, shared, logdir):
    """Run scn in every variant on the reference and each candidate; returns (name,
    [(variant, cores, failure or None)])."""
    servers = None
    results = []
    cores_list = candidate_cores(args)
    try:
        if scn.config is not None:
            path = write_config(scn, logdir)
            if scn.startup is not None:
                return scn.name, [("startup", cores, run_startup(args, scn, path, cores))
                                  for cores in cores_list]
        for variant in args.variants:
            steps = variant_steps(scn, variant)
            if steps is None:
                continue
            if scn.config is not None:
                # Config rows get a private server set started with that config, afresh
                # for each variant (their steps may signal or fill the server).
                servers = start_set(args, logdir, path, scn.env)
            try:
                failures = run_variant(scn, steps, servers or shared, servers is not None)
            finally:
                if servers:
                    servers.stop()
                    servers = None
            results += [(variant, cores, failures[cores]) for cores in cores_list]
        return scn.name, results
    except SystemExit as e:
        return scn.name, results + [("error", None, "    " + str(e))]
    except Exception as e:  # a harness/connection error is a failure, not a crash
        return scn.name, results + [("error", None, "    error: %r" % (e,))]
    finally:
        if servers:
            servers.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server",
                    help="reference nats-server binary")
    cand = ap.add_mutually_exclusive_group()
    cand.add_argument("--ringmq", metavar="BIN",
                      help="ringmq binary (started with -a -p --cores N, for each --cores N)")
    cand.add_argument("--candidate-cmd", metavar="CMD",
                      help='candidate command line with {port} (and optionally {config}), '
                           'e.g. "nats-server -a 127.0.0.1 -p {port}"')
    ap.add_argument("--cores", default="1,2",
                    help="with --ringmq: the --cores values to run a candidate with, each compared "
                         "with the reference (default 1,2)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="how rows are sent, comma-separated (default %s): stepwise = a write "
                         "per step; single = consecutive steps of a connection in one write; "
                         "bytes = one byte per write" % ",".join(VARIANTS))
    ap.add_argument("-k", metavar="PATTERN", action="append",
                    help="only scenarios whose name contains PATTERN (or matches it as a glob); repeatable")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--with-auth", action="store_true",
                    help="also run the authorization scenarios (skipped by default: ringmq "
                         "refuses authorization blocks until it implements them)")
    ap.add_argument("--include-deviations", action="store_true",
                    help="also run rows where ringmq deliberately differs from nats-server quirks")
    ap.add_argument("--include-known-bugs", action="store_true",
                    help="also run rows that show a ringmq bug not fixed yet (they fail)")
    ap.add_argument("-j", "--jobs", type=int, default=3,
                    help="server sets (reference + candidates), i.e. scenarios run concurrently (default 3)")
    args = ap.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        ap.error("unknown variant(s): %s" % ", ".join(unknown))

    all_scn = sc.all_scenarios()
    names = [s.name for s in all_scn]
    assert len(names) == len(set(names)), "duplicate scenario names"
    if args.k:
        all_scn = [s for s in all_scn
                   if any(p in s.name or fnmatch.fnmatch(s.name, p) for p in args.k)]
    if args.list:
        for s in all_scn:
            skip = skip_reason(s, args)
            print("%-45s %s%s" % (s.name, s.group, "  [skipped: %s]" % skip if skip else ""))
        return 0
    if not args.ringmq and not args.candidate_cmd:
        ap.error("one of --ringmq or --candidate-cmd is required")

    started = time.monotonic()
    logdir = tempfile.mkdtemp(prefix="wirecompare-")
    # Scenarios share subjects (and some subscribe to `>`), so two scenarios
    # must never run on the same server at once. Each worker gets its own
    # server set; concurrency comes from several sets.
    jobs = max(1, args.jobs)
    sets = queue.Queue()
    all_sets = []
    try:
        try:
            for _ in range(jobs):
                server_set = start_set(args, logdir)
                all_sets.append(server_set)
                sets.put(server_set)
        except SystemExit as e:
            # A candidate that cannot start fails every scenario; say so in
            # the usual summary format so CI logs read the same either way.
            print("FAIL server start\n    %s" % e)
            n_skip = sum(1 for s in all_scn if skip_reason(s, args))
            print("0 passed, %d failed%s" % (len(all_scn) - n_skip,
                                             ", %d skipped" % n_skip if n_skip else ""))
            return 1
        print("reference: %s" % shlex.join(all_sets[0].reference.argv))
        for server in all_sets[0].candidates.values():
            print("candidate: %s" % shlex.join(server.argv))
        print("%d server sets; variants: %s" % (jobs, ", ".join(args.variants)))
        sys.stdout.flush()

        def job(s):
            server_set = sets.get()
            try:
                return run_one(args, s, server_set, logdir)
            finally:
                sets.put(server_set)

        passed = failed = skipped = 0
        rows_passed = rows_failed = 0
        by_variant = collections.Counter()
        runnable = [s for s in all_scn if not skip_reason(s, args)]
        ex = concurrent.futures.ThreadPoolExecutor(jobs)
        try:
            futs = {s.name: ex.submit(job, s) for s in runnable}
            for s in all_scn:  # report in definition order
                if s.name not in futs:
                    skipped += 1
                    print("SKIP %s (%s)" % (s.name, skip_reason(s, args)))
                    sys.stdout.flush()
                    continue
                name, results = futs[s.name].result()
                ran = ", ".join("%s %s" % (variant, cores_label(cores))
                                for variant, cores, _ in results)
                failures = [r for r in results if r[2] is not None]
                for variant, cores, _ in results:
                    by_variant[variant] += 1
                passed += len(results) - len(failures)
                failed += len(failures)
                if failures:
                    rows_failed += 1
                    for variant, cores, failure in failures:
                        print("FAIL %s [%s %s]\n%s" % (name, variant, cores_label(cores), failure))
                else:
                    rows_passed += 1
                    print("PASS %s [%s]" % (name, ran))
                sys.stdout.flush()
        finally:
            # On SIGTERM/^C don't start the queued scenarios; let the running
            # ones (bounded by their deadlines) finish so servers stop cleanly.
            ex.shutdown(wait=True, cancel_futures=True)
        for server_set in all_sets:
            for srv in server_set.all():
                if srv.proc.poll() is not None:
                    print("FAIL %s on port %d exited during the run (code %s), log %s" % (
                        srv.name, srv.port, srv.proc.returncode, srv.log_path))
                    failed += 1
    finally:
        for server_set in all_sets:
            server_set.stop()
    if failed == 0:
        shutil.rmtree(logdir, ignore_errors=True)
    else:
        print("server logs kept in %s" % logdir)
    print("run time %.1f s" % (time.monotonic() - started))
    print("rows: %d identical in every variant, %d with a difference, %d skipped" % (
        rows_passed, rows_failed, skipped))
    unsplit = sum(1 for s in runnable if s.split_sensitive)
    if unsplit and "bytes" in args.variants:
        print("byte-by-byte variant not run for %d rows whose nats-server answer depends on "
              "read splits (scenarios.py: split_sensitive)" % unsplit)
    print("comparisons by variant: %s" % ", ".join(
        "%s %d" % (v, by_variant[v]) for v in list(args.variants) + ["startup", "error"]
        if by_variant[v]))
    summary = "%d passed, %d failed" % (passed, failed)
    if skipped:
        summary += ", %d skipped" % skipped
    print(summary)
    return 1 if failed else 0


def skip_reason(s, args):
    if s.group == sc.G_AUTH_CFG and not args.with_auth:
        return "needs authorization, which ringmq refuses until it implements it (--with-auth)"
    if s.deviation and not args.include_deviations:
        return "deliberate deviation: " + s.deviation
    if s.known_bug and not args.include_known_bugs:
        return "known ringmq bug (--include-known-bugs): " + s.known_bug
    return None


def _terminate(signum, frame):
    # Turn SIGTERM (e.g. from `timeout` in CI) into SystemExit so the
    # `finally` blocks stop the servers we started instead of orphaning them.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
