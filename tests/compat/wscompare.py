#!/usr/bin/env python3
"""WebSocket wire comparison: ringmq vs nats-server over raw WebSocket, byte for byte.

Each configuration in wsrows.CONFIGS (a `websocket {}` block with compression on or off,
same_origin, allowed_origins, handshake_timeout, authorization, no_auth_user) is written
to a file; nats-server and every candidate start with that same file, and each reports
its WebSocket port in the log line `Listening for websocket clients on ws://HOST:PORT`.
Every row of that configuration (wsrows.ROWS) then runs against all of them at once over
raw sockets and returns a transcript of labelled byte strings; each candidate's must
equal nats-server's. See README.md ("WebSocket comparison") for what is normalised.

Python 3 standard library only. Usage:
  wscompare.py --ringmq target/release/ringmq [--cores 1,2] [-k PATTERN]
  wscompare.py --candidate-cmd "nats-server -c {config}"   # validate against itself
"""

import argparse
import concurrent.futures
import difflib
import fnmatch
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import wsrows
import wsrows_frames  # noqa: F401 (registers its rows)

START_DEADLINE = 15.0
WS_LINE = re.compile(rb"Listening for websocket clients on wss?://[^\s]*:(\d+)")
CLIENT_LINE = re.compile(rb"Listening for client connections on [^\s]*:(\d+)")


class Server:
    """One server process started with a config file; its ports read from its log."""

    def __init__(self, name, argv, logdir):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(logdir, "%s.log" % name)
        self.log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                         stderr=subprocess.STDOUT)
        except OSError as e:
            self.log.close()
            raise SystemExit("cannot start %s: %s: %s" % (name, shlex.join(argv), e))
        self.ws_port = self.port = None

    def wait_ready(self):
        """Polls the log until both listening lines are there (or the server exits)."""
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log_path, "rb") as f:
                text = f.read()
            ws, client = WS_LINE.search(text), CLIENT_LINE.search(text)
            if ws and client:
                self.ws_port, self.port = int(ws.group(1)), int(client.group(1))
                return
            time.sleep(0.05)  # the readiness poll's interval, not a synchronisation
        self.stop()
        with open(self.log_path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        raise SystemExit("%s did not report its websocket port (exit=%s)\n%s\nlog:\n%s" % (
            self.name, self.proc.returncode, shlex.join(self.argv), tail))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def candidates(args):
    """(label, argv builder) for every candidate."""
    if args.ringmq:
        return [("ringmq-c%s" % n, lambda path, n=n: [args.ringmq, "-c", path, "--cores", n])
                for n in args.cores.split(",")]
    cmd = args.candidate_cmd
    if "{config}" not in cmd:
        cmd += " -c {config}"
    return [("candidate", lambda path: shlex.split(cmd.replace("{config}", path)))]


def run_row(row, servers):
    """The row against every server at once; returns their transcripts in order."""
    with concurrent.futures.ThreadPoolExecutor(len(servers)) as ex:
        futures = [ex.submit(safe_run, row, s) for s in servers]
        return [f.result() for f in futures]


def safe_run(row, server):
    try:
        return row.fn(server)
    except Exception as e:  # a harness error is a difference to show, not a crash
        return [("error", ("%s: %r" % (type(e).__name__, e)).encode())]


def same(ref, tr):
    """Equal transcripts; `optional:` entries count only when both have them."""
    required = lambda t: [(l, d) for l, d in t if not l.startswith("optional:")]
    optional = lambda t: {l: d for l, d in t if l.startswith("optional:")}
    a, b = optional(ref), optional(tr)
    return required(ref) == required(tr) and all(a[k] == b[k] for k in a.keys() & b.keys())


def render(transcript):
    lines = []
    for label, data in transcript:
        if isinstance(data, list):
            lines.append("%s:" % label)
            lines += ["    " + d.decode("latin-1") for d in data]
        else:
            lines.append("%s: %s" % (label, repr(data)[2:-1]))  # escaped, one line
    return lines


def run_config(args, config, rows, logdir):
    """Starts the reference and the candidates with `config`, runs its rows; returns
    [(row name, [(candidate label, diff lines or None)], reference transcript)]."""
    directory = os.path.join(logdir, config.name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "ws.conf")
    with open(path, "w") as f:
        f.write(config.text)
    servers = []
    results = []
    try:
        servers.append(Server("nats-server", [args.nats_server, "-c", path], directory))
        for label, argv in candidates(args):
            servers.append(Server(label, argv(path), directory))
        for s in servers:
            s.wait_ready()
        for row in rows:
            transcripts = run_row(row, servers)
            ref = transcripts[0]
            outcome = []
            for server, tr in zip(servers[1:], transcripts[1:]):
                if same(ref, tr):
                    outcome.append((server.name, None))
                else:
                    outcome.append((server.name, list(difflib.unified_diff(
                        render(ref), render(tr), "nats-server", server.name, lineterm=""))))
            results.append((row.name, outcome, ref))
        for s in servers:
            if s.proc.poll() is not None:
                results.append(("%s: server alive at the end" % config.name,
                                [(s.name, ["exited with %s, log %s" % (s.proc.returncode,
                                                                       s.log_path)])], []))
    except SystemExit as e:
        results += [(row.name, [("start", [str(e)])], []) for row in rows]
    finally:
        for s in servers:
            s.stop()
    return results


# Rows where ringmq deliberately differs from nats-server, with why; run them with
# --include-deviations.
DEVIATIONS = {
    # nats-server cuts a browser's frames at its own write buffers (the 21-byte MSG line
    # of a 10,000-byte message went alone, then 4096 + 4096 + 1810); ringmq's outbound
    # queue keeps no write boundaries and cuts the flushed bytes into 4096-byte frames
    # (4096 + 4096 + 1831). Both keep every frame within 4096 bytes, which is what
    # browsers need; the NATS stream is the same.
    "ws-browser-frames-at-most-4096",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server")
    cand = ap.add_mutually_exclusive_group()
    cand.add_argument("--ringmq", metavar="BIN", help="ringmq binary (-c FILE --cores N)")
    cand.add_argument("--candidate-cmd", metavar="CMD",
                      help='candidate command line with {config}, e.g. "nats-server -c {config}"')
    ap.add_argument("--cores", default="1,2", help="with --ringmq: --cores values (default 1,2)")
    ap.add_argument("-k", action="append", help="only rows whose name contains PATTERN "
                    "(or matches it as a glob); repeatable")
    ap.add_argument("-j", "--jobs", type=int, default=3, help="configurations run at once")
    ap.add_argument("--list", action="store_true", help="list the rows and exit")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print nats-server's transcript of every row")
    ap.add_argument("--include-deviations", action="store_true",
                    help="also run the rows where ringmq deliberately differs (DEVIATIONS)")
    args = ap.parse_args()

    rows = wsrows.ROWS
    assert DEVIATIONS <= {r.name for r in rows}, "a deviation names no row"
    if not args.include_deviations:
        rows = [r for r in rows if r.name not in DEVIATIONS]
    names = [r.name for r in rows]
    assert len(names) == len(set(names)), "duplicate row names"
    if args.k:
        rows = [r for r in rows if any(p in r.name or fnmatch.fnmatch(r.name, p) for p in args.k)]
    if args.list:
        for r in rows:
            print("%-48s %s" % (r.name, r.config))
        print("%d rows" % len(rows))
        return 0
    if not args.ringmq and not args.candidate_cmd:
        ap.error("one of --ringmq or --candidate-cmd is required")

    started = time.monotonic()
    logdir = tempfile.mkdtemp(prefix="wscompare-")
    by_config = {}
    for r in rows:
        by_config.setdefault(r.config, []).append(r)
    configs = [c for c in wsrows.CONFIGS if c.name in by_config]
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
        futures = [ex.submit(run_config, args, c, by_config[c.name], logdir) for c in configs]
        for config, fut in zip(configs, futures):
            for name, outcome, ref in fut.result():
                bad = [(label, diff) for label, diff in outcome if diff is not None]
                if bad:
                    failed += 1
                    for label, diff in bad:
                        print("FAIL %s [%s] (%s)" % (name, label, config.name))
                        print("\n".join("    " + l for l in diff))
                else:
                    passed += 1
                    print("PASS %s [%s] (%s)" % (name, ", ".join(l for l, _ in outcome),
                                                 config.name))
                if args.verbose:
                    print("\n".join("    | " + l for l in render(ref)))
                sys.stdout.flush()
    if failed == 0:
        shutil.rmtree(logdir, ignore_errors=True)
    else:
        print("server logs kept in %s" % logdir)
    print("run time %.1f s" % (time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def _terminate(signum, frame):
    # SIGTERM (from `timeout` in CI) as SystemExit, so the servers are stopped.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
