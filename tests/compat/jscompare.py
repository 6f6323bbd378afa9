#!/usr/bin/env python3
"""JetStream API comparison: the same request sequence to nats-server 2.9.10 `-js` and to a
candidate, the answers compared after normalisation.

Every row gets a fresh pair of servers, each started with `-js -sd <its own temp dir>` on a
free port, and drives them over raw TCP (one connection, headers on, a `SUB _INBOX.>`).
A row returns a transcript of labelled byte strings: JSON API responses, PubAcks, status
frames (their header block) and delivered messages (subject, ack subject, headers, data).
The candidate's transcript must equal nats-server's.

Normalisation (what may differ without a client noticing):
  * RFC 3339 timestamps other than Go's zero time ("0001-01-01T00:00:00Z") and a client's
    `opt_start_time` → `<time>`.
  * The timestamp token of a 9-token ack subject → `<ts>`.
  * Server-invented consumer names (ephemerals) → `<eph1>`, `<eph2>`, ... in order of
    appearance; cluster leader names → `<leader>`.
  Everything else is compared byte for byte: key order, the space in `"stream":"X", "seq":1`,
  zero-valued paging fields in error envelopes, `\\u003e` escapes, error codes and texts.

Python 3 standard library only. Usage:
  jscompare.py [--nats-server PATH] (--ringmq BIN [--cores 1,2] | --candidate-cmd CMD)
               [-k PATTERN] [--list] [--dump]
CMD may use {port} and {store_dir}; default placement appends nothing else. `--dump` prints
nats-server's transcripts only (how the unit tests' expected bytes were captured).
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import jsrows

START_DEADLINE = 15.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server started with JetStream on, in a temp store dir of its own."""

    def __init__(self, name, argv_fn, logdir):
        self.name = name
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="js-%s-" % name, dir=logdir)
        self.log_path = os.path.join(logdir, "%s.log" % name)
        self.log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv_fn(self.port, self.store), stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=subprocess.STDOUT)
        except OSError as e:
            self.log.write(repr(e).encode())
            self.log.close()
            raise StartError(self)
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if self.proc.poll() is not None:
                self.log.close()
                raise StartError(self)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise StartError(self)
                time.sleep(0.05)  # the readiness poll's interval, not synchronisation

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        shutil.rmtree(self.store, ignore_errors=True)


class StartError(Exception):
    def __init__(self, server):
        super().__init__(server.name)
        self.server = server

    def tail(self):
        try:
            with open(self.server.log_path, "rb") as f:
                return f.read()[-600:].decode("utf-8", "replace")
        except OSError:
            return ""


TIME_RE = re.compile(rb'(?<!"opt_start_time":)"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"')
ACK_RE = re.compile(rb"(\$JS\.ACK\.[^.\s]+\.[^.\s]+\.\d+\.\d+\.\d+\.)(\d+)(\.\d+)")
LEADER_RE = re.compile(rb'"leader":"[^"]*"')


def normalise(transcript):
    """Transcript → list of lines with volatile values replaced (see the module doc)."""
    names = {}
    for label, data in transcript:
        if label.startswith("ephemeral:"):
            names.setdefault(data, "<eph%d>" % (len(names) + 1))
    out = []
    for label, data in transcript:
        if label.startswith("ephemeral:"):
            continue
        data = TIME_RE.sub(lambda m: m.group(0) if m.group(1) == b"0001-01-01T00:00:00Z"
                           else b'"<time>"', data)
        data = ACK_RE.sub(rb"\1<ts>\3", data)
        data = LEADER_RE.sub(b'"leader":"<leader>"', data)
        for name, alias in names.items():
            data = data.replace(name, alias.encode())
        out.append("%s: %s" % (label, data.decode("utf-8", "replace")))
    return out


def run_row(row, argv_fns, logdir):
    """Start every server, run the row against each; returns [(server name, lines)]."""
    results = []
    for name, argv_fn in argv_fns:
        server = Server(name, argv_fn, logdir)
        try:
            try:
                transcript = row(server.port)
            except (OSError, AssertionError, ValueError, LookupError, TypeError) as e:
                transcript = [("error", repr(e).encode())]
        finally:
            server.stop()
        results.append((name, normalise(transcript)))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server")
    cand = ap.add_mutually_exclusive_group()
    cand.add_argument("--ringmq", metavar="BIN")
    cand.add_argument("--candidate-cmd", metavar="CMD",
                      help="e.g. 'nats-server -a 127.0.0.1 -p {port} -js -sd {store_dir}'")
    ap.add_argument("--cores", default="1,2")
    ap.add_argument("-k", action="append", help="only rows whose name contains this")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--include-deviations", action="store_true",
                    help="also run rows where ringmq follows nats-server 2.11 on purpose")
    ap.add_argument("--dump", action="store_true", help="print nats-server's transcripts")
    args = ap.parse_args()

    rows = jsrows.ROWS + (jsrows.DEVIATIONS if args.include_deviations else [])
    rows = [r for r in rows if not args.k or any(k in r.__name__ for k in args.k)]
    if args.list:
        for r in rows:
            print(r.__name__)
        print("%d rows" % len(rows))
        return 0

    def ref(port, store):
        return [args.nats_server, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]

    argv_fns = [("nats-server", ref)]
    if args.ringmq:
        for c in args.cores.split(","):
            argv_fns.append(("ringmq-c%s" % c, lambda port, store, c=c: [
                args.ringmq, "-a", "127.0.0.1", "-p", str(port), "--cores", c,
                "-js", "-sd", store]))
    elif args.candidate_cmd:
        argv_fns.append(("candidate", lambda port, store: shlex.split(
            args.candidate_cmd.replace("{port}", str(port)).replace("{store_dir}", store))))
    elif not args.dump:
        ap.error("give --ringmq or --candidate-cmd (or --dump)")

    logdir = tempfile.mkdtemp(prefix="jscompare-")
    passed = failed = 0
    started = time.monotonic()
    for row in rows:
        try:
            results = run_row(row, argv_fns, logdir)
        except StartError as e:
            print("CANDIDATE DID NOT START: %s exited or never listened when started with "
                  "`-js -sd DIR` (JetStream not wired in yet?). Log tail:\n%s"
                  % (e.server.name, e.tail()))
            print("0 rows compared; server logs kept in %s" % logdir)
            return 2
        (_, reference), candidates = results[0], results[1:]
        if args.dump:
            print("== %s" % row.__name__)
            for line in reference:
                print("    " + line)
            continue
        for name, lines in candidates:
            if lines == reference:
                passed += 1
                print("PASS %s [%s]" % (row.__name__, name))
            else:
                failed += 1
                print("FAIL %s [%s]" % (row.__name__, name))
                width = max(len(reference), len(lines))
                for i in range(width):
                    a = reference[i] if i < len(reference) else "(nothing)"
                    b = lines[i] if i < len(lines) else "(nothing)"
                    mark = "  " if a == b else "! "
                    print("  %snats-server  %s" % (mark, a))
                    if a != b:
                        print("  %s%-12s %s" % (mark, name, b))
        sys.stdout.flush()
    print("run time %.1f s" % (time.monotonic() - started))
    if failed:
        print("server logs kept in %s" % logdir)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    if not args.dump:
        print("%d passed, %d failed (%d rows)" % (passed, failed, len(rows)))
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
