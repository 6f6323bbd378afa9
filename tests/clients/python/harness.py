"""What the nats-py client scripts share (nats_py_client.py, nats_py_ws_client.py): exact
comparisons, a server child whose ports are read from its log (with a `websocket {}` config
block when asked), nats-py helpers that synchronise by protocol with deadlines, argument
parsing, and the loop that runs each case on a fresh server.

The same command line, config and log lines serve nats-server 2.9.10 and ringmq:
    -a 127.0.0.1 -p PORT (-1: a free one), and for WebSocket a config file with
    websocket { listen: "127.0.0.1:-1", no_tls: true, compression: <bool> }
    Listening for client connections on 127.0.0.1:PORT
    Listening for websocket clients on ws://127.0.0.1:PORT
"""

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import nats
import nats.errors

# Deadlines. Generous: the CI machine is small and shared.
START_TIMEOUT = 20.0  # server start until it listens
STOP_TIMEOUT = 10.0  # SIGTERM until the process has exited
MSG_TIMEOUT = 10.0  # one expected message
RECONNECT_TIMEOUT = 20.0  # client notices the restart and reconnects
CASE_TIMEOUT = 60.0  # one whole case

READY_RE = re.compile(r"Listening for client connections on (\S+):(\d+)")
WS_READY = r"Listening for websocket clients on ws://\S+:(\d+)"


def websocket_config(compression):
    """The config file of a server with a WebSocket listener on a free port."""
    return ("websocket {\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n"
            f"  compression: {'true' if compression else 'false'}\n}}\n")


class Mismatch(AssertionError):
    pass


def short(value, limit=600):
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def expect_eq(actual, expected, what):
    if actual != expected:
        detail = ""
        if isinstance(actual, list) and isinstance(expected, list):
            first = next(
                (i for i, (a, e) in enumerate(zip(actual, expected)) if a != e),
                min(len(actual), len(expected)),
            )
            detail = f" (lengths {len(actual)} vs {len(expected)}, first difference at {first})"
        raise Mismatch(f"{what}: expected {short(expected)}, got {short(actual)}{detail}")


class ServerProcess:
    """One server child: ringmq or nats-server, started on 127.0.0.1."""

    def __init__(self, binary, cores, workdir):
        self.binary = binary
        self.is_nats_server = "nats-server" in os.path.basename(binary)
        self.cores = cores
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.ws_port = None
        self.starts = 0
        self.log_path = None

    def start(self, port=-1, extra=(), websocket=None):
        """Starts on `port` (-1: the server picks a free one) and waits until it listens;
        `extra`: more arguments (a cluster node's); `websocket` (compression True or False):
        a config file with a `websocket {}` block, whose port becomes `ws_port`."""
        self.starts += 1
        base = os.path.join(self.workdir, f"server-{id(self)}-{self.starts}")
        self.log_path = f"{base}.log"
        if websocket is not None:
            with open(f"{base}.conf", "w") as f:
                f.write(websocket_config(websocket))
            extra = ["-c", f"{base}.conf", *extra]
        args = [self.binary, "-a", "127.0.0.1", "-p", str(port), *extra]
        if not self.is_nats_server:
            args += ["--cores", str(self.cores)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        # Wait for the ready line (it carries the port when -1 was asked for) ...
        while True:
            with open(self.log_path, "r", errors="replace") as f:
                match = READY_RE.search(f.read())
            if match:
                self.port = int(match.group(2))
                break
            self.check_alive("starting")
            if time.monotonic() > deadline:
                raise Mismatch(f"server did not report listening in time:\n{self.log()}")
            time.sleep(0.01)  # poll interval of a condition wait with a deadline
        # ... then until the port accepts.
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                self.check_alive("starting")
                if time.monotonic() > deadline:
                    raise Mismatch(f"port {self.port} never accepted:\n{self.log()}")
                time.sleep(0.01)

        if websocket is not None:
            self.ws_port = int(self.wait_log(WS_READY).group(1))

    def wait_log(self, pattern):
        """The first match of `pattern` in the log, waited for with a deadline."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(self.log_path, "r", errors="replace") as f:
                match = re.search(pattern, f.read())
            if match:
                return match
            self.check_alive("waiting for its log")
            if time.monotonic() > deadline:
                raise Mismatch(f"no {pattern!r} in the log:\n{self.log()}")
            time.sleep(0.01)  # poll interval of a condition wait with a deadline

    def check_alive(self, doing):
        if self.proc.poll() is not None:
            raise Mismatch(
                f"server exited with {self.proc.returncode} while {doing}:\n{self.log()}"
            )

    def stop(self):
        """SIGTERM, then wait for the exit (SIGKILL at the deadline)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Mismatch(f"server ignored SIGTERM for {STOP_TIMEOUT}s:\n{self.log()}")

    def restart(self):
        """Stops the server and starts it again on the same port."""
        port = self.port
        self.stop()
        self.start(port)
        expect_eq(self.port, port, "port after restart")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no log)"
        with open(self.log_path, "r", errors="replace") as f:
            lines = f.read().splitlines()
        return "\n".join(lines[-40:])

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.ws_port}"


# Errors nats-py reported through error_cb during the current case (an exception in a
# subscription callback lands here too). A case fails if any were reported.
CLIENT_ERRORS = []


async def connect(server, expect_disconnects=False, **options):
    async def error_cb(e):
        if expect_disconnects and isinstance(
            e, (OSError, nats.errors.UnexpectedEOF, nats.errors.StaleConnectionError)
        ):
            return  # the server restart of the reconnect case
        CLIENT_ERRORS.append(e)

    options.setdefault("error_cb", error_cb)
    options.setdefault("connect_timeout", 5)
    # No reconnects unless a case asks: a server that dies mid-case must fail it.
    options.setdefault("allow_reconnect", False)
    return await nats.connect(server.url, **options)


async def write_out(nc):
    """Waits until nc's flusher task has written every queued command to the socket."""
    await nc._flush_pending(force_flush=True)


async def sync(nc):
    """The NATS flush guarantee: returns once the server has processed everything nc sent
    before (a SUB is then visible to every later publish, from any connection).

    nats-py 2.16's flush() alone is not enough: it writes its PING straight to the socket,
    ahead of commands still queued for the client's flusher task, so a flush() right after
    subscribe() or publish() can be answered before the server has seen them (observed
    against nats-server 2.9.10 with -DV: PING, PONG, then the SUB). So write the queue out
    first, then PING.
    """
    await write_out(nc)
    await nc.flush(timeout=MSG_TIMEOUT)


async def next_msg(sub, what):
    try:
        return await sub.next_msg(timeout=MSG_TIMEOUT)
    except nats.errors.TimeoutError:
        raise Mismatch(f"{what}: no message on {sub.subject!r} within {MSG_TIMEOUT}s") from None


async def next_payload(sub, what="next message"):
    return (await next_msg(sub, what)).data


async def take(sub, count, what="messages"):
    """Exactly the next `count` messages of `sub` (each with a deadline)."""
    got = []
    for _ in range(count):
        got.append(await next_msg(sub, f"{what} ({len(got)} of {count} so far)"))
    return got


def expect_no_pending(sub, what):
    """Nothing more is queued on `sub`. Only meaningful once a later message on the same
    connection has arrived (a marker), because a connection's messages arrive in order."""
    if sub.pending_msgs != 0:
        extra = []
        while sub.pending_msgs:
            extra.append(sub._pending_queue.get_nowait())
        raise Mismatch(f"{what}: unexpected extra messages {[(m.subject, m.data) for m in extra]}")


async def queue_group_deliveries(members, pub_nc, subject, group, total):
    """Subscribes each of `members` (connections) to `subject` in queue group `group` and to
    `<subject>.done`, publishes `0`..`total - 1` then an empty marker from `pub_nc`, and
    returns the integers each member received, read once its marker has arrived (the marker
    follows every work item on that connection)."""
    member_subs = []
    for nc in members:
        work = await nc.subscribe(subject, queue=group)
        done = await nc.subscribe(f"{subject}.done")
        await sync(nc)
        member_subs.append((work, done))
    for i in range(total):
        await pub_nc.publish(subject, str(i).encode())
    await pub_nc.publish(f"{subject}.done", b"")
    await sync(pub_nc)
    per_member = []
    for work, done in member_subs:
        expect_eq(await next_payload(done), b"", "done marker")
        items = []
        while work.pending_msgs:
            items.append(int((await work.next_msg(timeout=MSG_TIMEOUT)).data))
        per_member.append(items)
    return per_member


def parse_args(doc, cases):
    """`[--server-bin PATH] [--cores N] [--repeat N] [CASE...]`: the arguments, the server
    binary and the chosen `(name, case)` entries of `cases`; exits on a bad one."""
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--server-bin",
        default=os.path.join(repo, "target", "release", "ringmq"),
        help="server binary: ringmq (default target/release/ringmq) or nats-server",
    )
    parser.add_argument("--cores", type=int, default=2, help="ringmq --cores (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="run every case N times")
    parser.add_argument("cases", nargs="*", help="run only these cases")
    args = parser.parse_args()
    binary = shutil.which(args.server_bin) or args.server_bin
    if not os.access(binary, os.X_OK):
        sys.exit(f"server binary {args.server_bin!r} is not executable")
    unknown = set(args.cases) - {name for name, _ in cases}
    if unknown:
        sys.exit(f"unknown cases {sorted(unknown)}; known: {[n for n, _ in cases]}")
    chosen = [c for c in cases if not args.cases or c[0] in args.cases]
    return args, binary, chosen


def run_cases(runs, args, binary, tmp_prefix):
    """Runs each of `runs` (`(label, start, body)`) `args.repeat` times, each on a fresh
    server started with `start` (keyword arguments of `ServerProcess.start`): `body(server)`
    must finish within CASE_TIMEOUT, no client error may be reported, the server must stay
    up and stop on SIGTERM. Prints `ok   <label> (N ms)` or `FAIL <label>` with the
    server's log, then `N passed, N failed`, and exits (1 on any failure)."""
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as workdir:
        for _ in range(args.repeat):
            for label, start, body in runs:
                server = ServerProcess(binary, args.cores, workdir)
                started = time.monotonic()
                try:
                    CLIENT_ERRORS.clear()
                    # A callable makes fresh arguments per run (a new store directory).
                    server.start(**(start() if callable(start) else start))
                    asyncio.run(asyncio.wait_for(body(server), CASE_TIMEOUT))
                    if CLIENT_ERRORS:
                        raise Mismatch(f"client reported errors: {CLIENT_ERRORS!r}")
                    server.check_alive("running the case")
                    server.stop()
                    passed += 1
                    ms = (time.monotonic() - started) * 1000
                    print(f"ok   {label} ({ms:.0f} ms)", flush=True)
                except BaseException as e:  # noqa: BLE001 - report every failure
                    if isinstance(e, KeyboardInterrupt):
                        raise
                    failed += 1
                    print(f"FAIL {label}: {e!r}", flush=True)
                    traceback.print_exc()
                    print(f"--- server log ---\n{server.log()}\n---", flush=True)
                finally:
                    server.kill()
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
