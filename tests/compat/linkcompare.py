#!/usr/bin/env python3
"""Link wire comparison: a scripted fake leaf talks to nats-server's and ringmq's leaf
ports, and a scripted fake route to their route ports; what each server sends on the link
is compared, byte for byte after normalisation.

Each hub is started with a client port and `leafnodes { listen }`; ringmq once per
--cores value. A scenario drives the fake leaf (raw TCP on the leaf port) and plain clients
(raw TCP on the client port) and returns a transcript of labelled byte strings; every
candidate's transcript must equal nats-server's.

Normalisation (what a hub may differ in without a leaf noticing):
  * INFO: key order and the set of keys compared; values for the keys a leaf acts on
    (version, proto, headers, max_payload, auth_required, info_on_connect, connect_info,
    remote_account), JSON types for the rest (ids, names, ports, nonce, urls).
  * Interest for nats-server's system account imports (`LS+ $SYS.…`) is dropped: ringmq has
    no system account. `$LDS.<id>` is replaced by `$LDS.<hub>`. On routes, the `$SYS`
    account's interest and messages (`RS+ $SYS …`, `RMSG $SYS …`) are dropped likewise.
  * The hub's keep-alive PINGs are answered and dropped; asynchronous INFO updates after the
    handshake are dropped.
  * The first interest batch is sorted (nats-server sends it in Go map order).

Python 3 standard library only. Usage:
  linkcompare.py --nats-server PATH --ringmq PATH [--cores 1,2] [-k PATTERN]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DEADLINE = 5.0
QUIET = 0.3
START_DEADLINE = 15.0

INFO_VALUE_KEYS = ("version", "proto", "headers", "max_payload", "auth_required",
                   "info_on_connect", "connect_info", "remote_account", "cluster",
                   "cluster_dynamic", "lnoc", "ldm")
ROUTE_CLUSTER = "cmp"
ROUTE_CONNECT = (b'CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,'
                 b'"headers":true,"name":"NFAKEROUTE","cluster":"cmp","lnoc":true}\r\n')


def route_info(server_id, port):
    return (b'INFO {"server_id":"%s","server_name":"%s","version":"2.9.10","proto":2,'
            b'"go":"go1.19.8","host":"127.0.0.1","port":%d,"headers":true,'
            b'"max_payload":1048576,"cluster":"cmp","connect_urls":["127.0.0.1:%d"],'
            b'"lnoc":true}\r\n' % (server_id, server_id, port, port + 1))
LEAF_CONNECT = (b'CONNECT {"version":"2.9.10","tls_required":false,"server_id":"NFAKELEAF",'
                b'"name":"fake","cluster":"fake","headers":true}\r\n')
CLIENT_CONNECT = b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def normalise_info(line):
    try:
        info = json.loads(line[5:].strip())
    except ValueError:
        return line
    out = {}
    for key, value in info.items():
        out[key] = value if key in INFO_VALUE_KEYS else "<%s>" % type(value).__name__
    return b"INFO " + json.dumps(out, separators=(",", ":")).encode() + b"\r\n"


class Peer:
    """A raw connection that splits what it receives into protocol frames."""

    def __init__(self, port, answer_pings=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.answer_pings = answer_pings

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def _fill(self, timeout):
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _frame(self):
        nl = self.buf.find(b"\r\n")
        if nl < 0:
            return None
        line = self.buf[:nl + 2]
        words = line.split()
        if words and words[0] in (b"MSG", b"HMSG", b"LMSG", b"RMSG"):
            size = int(words[-1])
            end = nl + 2 + size + 2
            if len(self.buf) < end:
                return None
            frame, self.buf = self.buf[:end], self.buf[end:]
            return frame
        self.buf = self.buf[nl + 2:]
        return line

    def frames(self, until=None, quiet=False):
        """Frames until one equals `until` (included) or, with quiet, until QUIET passes
        with nothing new; the hub's PINGs are answered and dropped."""
        out = []
        deadline = time.monotonic() + DEADLINE
        while True:
            frame = self._frame()
            if frame is not None:
                if frame == b"PING\r\n" and self.answer_pings:
                    self.send(b"PONG\r\n")
                    continue
                out.append(frame)
                if until is not None and frame == until:
                    return out
                continue
            now = time.monotonic()
            if now >= deadline:
                out.append(b"<TIMEOUT>")
                return out
            if not self._fill(min(QUIET, deadline - now) if quiet else deadline - now):
                if self.eof:
                    out.append(b"<EOF>")
                    return out
                if quiet:
                    return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def link_lines(frames, sort=False):
    """Interest and messages as the comparison sees them (see the module doc)."""
    out = []
    for frame in frames:
        if frame.startswith(b"LS+ $SYS.") or frame.startswith(b"INFO "):
            continue
        if frame.startswith(b"LS+ $LDS.") or frame.startswith(b"LS- $LDS."):
            frame = frame[:9] + b"<hub>\r\n"
        out.append(frame)
    return sorted(out) if sort else out


def route_lines(frames, sort=False):
    """Route interest and messages, without nats-server's `$SYS` account traffic and the
    INFOs."""
    out = [f for f in frames
           if not f.startswith((b"RS+ $SYS ", b"RS- $SYS ", b"RMSG $SYS ", b"INFO "))]
    return sorted(out) if sort else out


def client(port, subs=b""):
    peer = Peer(port)
    peer.frames(quiet=True)  # INFO
    peer.send(CLIENT_CONNECT + subs + b"PING\r\n")
    assert peer.frames(until=b"PONG\r\n")[-1] == b"PONG\r\n", "client sync"
    return peer


def leaf(leaf_port, transcript):
    """The fake leaf's handshake: INFO, CONNECT, second INFO, the first interest batch."""
    peer = Peer(leaf_port)
    first = peer.frames(quiet=True)
    transcript.append(("leaf INFO", b"".join(normalise_info(f) for f in first[:1])))
    peer.send(LEAF_CONNECT + b"PING\r\n")
    frames = peer.frames(until=b"PONG\r\n")
    infos = [normalise_info(f) for f in frames if f.startswith(b"INFO ")]
    transcript.append(("second INFO", b"".join(infos[:1])))
    transcript.append(("first interest", b"".join(link_lines(frames, sort=True))))
    return peer


def sync(peer):
    """Everything the hub sent the leaf up to the PONG of a PING sent now."""
    peer.send(b"PING\r\n")
    return b"".join(link_lines(peer.frames(until=b"PONG\r\n")))


# --- scenarios ----------------------------------------------------------------------------
# Each takes (client port, leaf port) and returns [(label, bytes)].

def handshake(cport, lport):
    t = []
    peer = leaf(lport, t)
    peer.close()
    return t


def interest_counts(cport, lport):
    t = []
    peer = leaf(lport, t)
    a = client(cport, b"SUB foo 1\r\nSUB q.bar workers 2\r\n")
    b = client(cport, b"SUB foo 1\r\nSUB q.bar workers 2\r\nSUB w.* 3\r\n")
    t.append(("after SUBs on two connections", sync(peer)))
    a.send(b"UNSUB 1\r\nUNSUB 2\r\nPING\r\n")
    a.frames(until=b"PONG\r\n")
    t.append(("after one side's UNSUBs", sync(peer)))
    b.send(b"UNSUB 1\r\nUNSUB 2\r\nUNSUB 3\r\nPING\r\n")
    b.frames(until=b"PONG\r\n")
    t.append(("after the other's", sync(peer)))
    for p in (peer, a, b):
        p.close()
    return t


def messages_to_the_leaf(cport, lport):
    t = []
    peer = leaf(lport, t)
    peer.send(b"LS+ foo\r\nLS+ hdr.>\r\nLS+ q.x grp 1\r\n")
    pub = client(cport)
    # The leaf's interest is in once a hub client sees it answer: retry a sentinel.
    deadline = time.monotonic() + DEADLINE
    while True:
        pub.send(b"PUB foo 4\r\nsync\r\nPING\r\n")
        pub.frames(until=b"PONG\r\n")
        got = peer.frames(quiet=True)
        if any(f.startswith(b"LMSG foo") for f in got) or time.monotonic() > deadline:
            break
    pub.send(b"PUB foo r.1 5\r\nhello\r\nHPUB hdr.a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
             b"PUB q.x 3\r\none\r\nPUB q.x r.2 3\r\ntwo\r\nPUB nobody 1\r\nx\r\nPING\r\n")
    pub.frames(until=b"PONG\r\n")
    t.append(("LMSG/HMSG forms", sync(peer)))
    for p in (peer, pub):
        p.close()
    return t


def messages_from_the_leaf(cport, lport):
    t = []
    sub = client(cport, b"SUB from.> 1\r\nSUB q.y grp 2\r\n")
    peer = leaf(lport, t)
    peer.send(b"LMSG from.a 3\r\nabc\r\nLMSG from.b r.9 2\r\nhi\r\n"
              b"HMSG from.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
              b"LMSG q.y | grp 1\r\nq\r\nLMSG q.y + r.8 grp 1\r\nr\r\nPING\r\n")
    peer.frames(until=b"PONG\r\n")
    sub.send(b"PING\r\n")
    t.append(("hub client receives", b"".join(sub.frames(until=b"PONG\r\n"))))
    t.append(("nothing comes back to the leaf", sync(peer)))
    for p in (peer, sub):
        p.close()
    return t


def loop_detected(cport, lport):
    """The hub's own `$LDS` subject sent back to it over the link."""
    peer = Peer(lport)
    peer.frames(quiet=True)
    peer.send(LEAF_CONNECT + b"PING\r\n")
    own = [f for f in peer.frames(until=b"PONG\r\n") if f.startswith(b"LS+ $LDS.")]
    if own:
        peer.send(own[0])
    out = b"".join(peer.frames(quiet=True))
    peer.close()
    return [("own $LDS sent back", out)]


def wrong_port(cport, lport):
    peer = Peer(lport)
    peer.frames(quiet=True)
    peer.send(b'CONNECT {"lang":"go","verbose":false}\r\n')
    out = b"".join(peer.frames(quiet=True))
    peer.close()
    return [("client CONNECT on the leaf port", out)]


def garbage(port, after_handshake):
    """Bytes no link speaks, before any CONNECT or after the handshake; what comes back up
    to the close. A client on the client port is unharmed."""
    peer = Peer(port)
    peer.frames(quiet=True)
    if after_handshake:
        peer.send(LEAF_CONNECT + b"PING\r\n")
        peer.frames(until=b"PONG\r\n")
    peer.send(b"\x16\x03\x01GARBAGE \xff\xfe\r\nMORE\r\n")
    out = b"".join(link_lines(peer.frames(quiet=True)))
    peer.close()
    return out


def garbage_on_the_leaf_port(cport, lport):
    t = [("before CONNECT", garbage(lport, False)), ("after the handshake", garbage(lport, True))]
    c = client(cport, b"SUB ok 1\r\n")
    c.send(b"PUB ok 2\r\nok\r\nPING\r\n")
    t.append(("a client meanwhile", b"".join(c.frames(until=b"PONG\r\n"))))
    c.close()
    return t


def two_leaves(cport, lport):
    """Two leaves on one hub: each is told the other's interest (never its own) and gets
    the other's messages."""
    t = []
    first = leaf(lport, t)
    second = Peer(lport)
    second.frames(quiet=True)
    second.send(LEAF_CONNECT.replace(b"NFAKELEAF", b"NFAKELEAF2").replace(b'"fake"', b'"fake2"')
                + b"PING\r\n")
    second.frames(until=b"PONG\r\n")
    # Each step is synced on the sending leaf first, so the hub has processed it before
    # the other leaf's PING: what it forwards then precedes that PONG.
    first.send(b"LS+ one\r\nLS+ q.one grp 2\r\nLS+ both\r\n")
    t.append(("first, after its LS+", sync(first)))
    t.append(("second told", sync(second)))
    second.send(b"LS+ two\r\nLS+ both\r\nLS+ q.one grp 1\r\n")
    t.append(("second, after its LS+", sync(second)))
    t.append(("first told", sync(first)))
    second.send(b"LMSG one 2\r\nhi\r\nLMSG both 2\r\nbo\r\n")
    sync(second)
    t.append(("first receives", sync(first)))
    first.send(b"LMSG two 2\r\nyo\r\n")
    sync(first)
    t.append(("second receives", sync(second)))
    first.send(b"LS- one\r\nLS- q.one grp\r\nLS- both\r\n")
    sync(first)
    t.append(("second told of the first's LS-", sync(second)))
    for p in (first, second):
        p.close()
    return t


SCENARIOS = [handshake, interest_counts, messages_to_the_leaf, messages_from_the_leaf,
             loop_detected, wrong_port, garbage_on_the_leaf_port, two_leaves]


# --- route scenarios ----------------------------------------------------------------------
# Each takes (client port, route port) and returns [(label, bytes)].

def route(rport, transcript, server_id=b"NFAKEROUTE", port=30001):
    """The fake route dials the server: its INFO (and PING), our CONNECT and INFO, its
    first interest batch up to the PONG of our PING."""
    peer = Peer(rport)
    first = peer.frames(quiet=True)
    infos = [normalise_info(f) for f in first if f.startswith(b"INFO ")]
    transcript.append(("route INFO", b"".join(infos[:1])))
    connect = ROUTE_CONNECT.replace(b"NFAKEROUTE", server_id)
    peer.send(connect + route_info(server_id, port) + b"PING\r\n")
    frames = peer.frames(until=b"PONG\r\n")
    transcript.append(("first route interest", b"".join(route_lines(frames, sort=True))))
    return peer, first


def route_sync(peer):
    peer.send(b"PING\r\n")
    return b"".join(route_lines(peer.frames(until=b"PONG\r\n")))


def route_handshake(cport, rport):
    t = []
    sub = client(cport, b"SUB foo 1\r\nSUB q.bar workers 2\r\nSUB q.bar workers 3\r\n")
    peer, _ = route(rport, t)
    for p in (peer, sub):
        p.close()
    return t


def route_interest(cport, rport):
    t = []
    peer, _ = route(rport, t)
    a = client(cport, b"SUB foo 1\r\nSUB q.bar workers 2\r\n")
    b = client(cport, b"SUB foo 1\r\nSUB q.bar workers 2\r\nSUB w.* 3\r\n")
    t.append(("after SUBs on two connections", route_sync(peer)))
    a.send(b"UNSUB 1\r\nUNSUB 2\r\nPING\r\n")
    a.frames(until=b"PONG\r\n")
    t.append(("after one side's UNSUBs", route_sync(peer)))
    b.send(b"UNSUB 1\r\nUNSUB 2\r\nUNSUB 3\r\nPING\r\n")
    b.frames(until=b"PONG\r\n")
    t.append(("after the other's", route_sync(peer)))
    for p in (peer, a, b):
        p.close()
    return t


def messages_to_the_route(cport, rport):
    t = []
    peer, _ = route(rport, t)
    peer.send(b"RS+ $G foo\r\nRS+ $G hdr.>\r\nRS+ $G q.x grp 1\r\n")
    pub = client(cport)
    deadline = time.monotonic() + DEADLINE
    while True:
        pub.send(b"PUB foo 4\r\nsync\r\nPING\r\n")
        pub.frames(until=b"PONG\r\n")
        got = peer.frames(quiet=True)
        if any(f.startswith(b"RMSG $G foo") for f in got) or time.monotonic() > deadline:
            break
    pub.send(b"PUB foo r.1 5\r\nhello\r\nHPUB hdr.a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
             b"PUB q.x 3\r\none\r\nPUB q.x r.2 3\r\ntwo\r\nPUB nobody 1\r\nx\r\nPING\r\n")
    pub.frames(until=b"PONG\r\n")
    t.append(("RMSG/HMSG forms", route_sync(peer)))
    for p in (peer, pub):
        p.close()
    return t


def messages_from_the_route(cport, rport):
    t = []
    sub = client(cport, b"SUB from.> 1\r\nSUB q.y grp 2\r\nSUB q.z other 3\r\n")
    peer, _ = route(rport, t)
    peer.send(b"RMSG $G from.a 3\r\nabc\r\nRMSG $G from.b r.9 2\r\nhi\r\n"
              b"HMSG $G from.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
              b"RMSG $G q.y | grp 1\r\nq\r\nRMSG $G q.y + r.8 grp 1\r\nr\r\n"
              b"RMSG $G q.z 1\r\nz\r\nRMSG $G q.z | grp 1\r\nw\r\n"
              b"LMSG LC $G from.l 0 2\r\nlm\r\nLS+ LC $G leafy\r\nLS-  $G leafy\r\n"
              b"RMSG NOACC from.x 1\r\nx\r\nPING\r\n")
    peer.frames(until=b"PONG\r\n")
    sub.send(b"PING\r\n")
    t.append(("client receives", b"".join(sub.frames(until=b"PONG\r\n"))))
    t.append(("nothing comes back to the route", route_sync(peer)))
    for p in (peer, sub):
        p.close()
    return t


def route_name_conflict(cport, rport):
    peer = Peer(rport)
    peer.frames(quiet=True)
    peer.send(ROUTE_CONNECT.replace(b'"cmp"', b'"other"'))
    out = b"".join(peer.frames(quiet=True))
    peer.close()
    return [("CONNECT of another cluster", out)]


def route_to_itself(cport, rport):
    """An INFO with the server's own id: the route is closed."""
    peer = Peer(rport)
    first = peer.frames(quiet=True)
    own = json.loads(first[0][5:].strip())["server_id"].encode()
    peer.send(ROUTE_CONNECT + route_info(own, 30001))
    out = b"".join(route_lines(peer.frames(quiet=True)))
    peer.close()
    return [("INFO with the server's own id", out)]


def gossip(cport, rport):
    """A second peer dials: the first is told about it (the implicit route's INFO)."""
    t = []
    first, _ = route(rport, t)
    second, _ = route(rport, [], server_id=b"NFAKESECOND", port=30011)
    got = [normalise_info(f) for f in first.frames(quiet=True) if f.startswith(b"INFO ")]
    t.append(("gossip INFO to the first peer", b"".join(got)))
    for p in (first, second):
        p.close()
    return t


def garbage_on_the_route_port(cport, rport):
    t = []
    peer = Peer(rport)
    peer.frames(quiet=True)
    peer.send(b"\x16\x03\x01GARBAGE \xff\xfe\r\nMORE\r\n")
    t.append(("before CONNECT", b"".join(route_lines(peer.frames(quiet=True)))))
    peer.close()
    peer, _ = route(rport, [])
    peer.send(b"\x16\x03\x01GARBAGE \xff\xfe\r\nMORE\r\n")
    t.append(("after the handshake", b"".join(route_lines(peer.frames(quiet=True)))))
    peer.close()
    c = client(cport, b"SUB ok 1\r\n")
    c.send(b"PUB ok 2\r\nok\r\nPING\r\n")
    t.append(("a client meanwhile", b"".join(c.frames(until=b"PONG\r\n"))))
    c.close()
    return t


ROUTE_SCENARIOS = [route_handshake, route_interest, messages_to_the_route,
                   messages_from_the_route, route_name_conflict, route_to_itself, gossip,
                   garbage_on_the_route_port]


# --- servers ------------------------------------------------------------------------------

class Hub:
    def __init__(self, name, argv_head, logdir, cluster=False):
        """A server with a leaf port, or with a route port (`cluster`); `lport` is the
        port the scenario's fake peer dials."""
        self.name = name
        self.cport, self.lport = free_port(), free_port()
        conf = os.path.join(logdir, "%s.conf" % name)
        with open(conf, "w") as f:
            if cluster:
                f.write("cluster { name: %s, listen: 127.0.0.1:%d }\n"
                        % (ROUTE_CLUSTER, self.lport))
            else:
                f.write("leafnodes { listen: 127.0.0.1:%d }\n" % self.lport)
        self.log = open(os.path.join(logdir, "%s.log" % name), "wb")
        self.proc = subprocess.Popen(argv_head + ["-a", "127.0.0.1", "-p", str(self.cport),
                                                  "-c", conf],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE
        for port in (self.cport, self.lport):
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("%s did not start (see %s)" % (name, self.log.name))
                    time.sleep(0.05)  # the readiness poll's interval, not synchronisation

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def render(transcript):
    return ["%s: %r" % (label, data) for label, data in transcript]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server")
    ap.add_argument("--ringmq", required=True)
    ap.add_argument("--cores", default="1,2")
    ap.add_argument("-k", action="append", help="only scenarios whose name contains this")
    args = ap.parse_args()
    scenarios = [(s, s in ROUTE_SCENARIOS) for s in SCENARIOS + ROUTE_SCENARIOS
                 if not args.k or any(k in s.__name__ for k in args.k)]
    logdir = tempfile.mkdtemp(prefix="linkcompare-")
    passed = failed = 0
    started = time.monotonic()
    for scenario, cluster in scenarios:
        hubs = [Hub("nats-server", [args.nats_server], logdir, cluster)]
        try:
            hubs += [Hub("ringmq-c%s" % c, [args.ringmq, "--cores", c], logdir, cluster)
                     for c in args.cores.split(",")]
            transcripts = []
            for hub in hubs:
                try:
                    transcripts.append(scenario(hub.cport, hub.lport))
                except (OSError, AssertionError) as e:
                    transcripts.append([("error", repr(e).encode())])
        finally:
            for hub in hubs:
                hub.stop()
        reference = transcripts[0]
        for hub, transcript in zip(hubs[1:], transcripts[1:]):
            if transcript == reference:
                passed += 1
                print("PASS %s [%s]" % (scenario.__name__, hub.name))
            else:
                failed += 1
                print("FAIL %s [%s]" % (scenario.__name__, hub.name))
                for line in render(reference):
                    print("    nats-server  " + line)
                for line in render(transcript):
                    print("    %-12s %s" % (hub.name, line))
        sys.stdout.flush()
    print("run time %.1f s" % (time.monotonic() - started))
    if failed:
        print("server logs kept in %s" % logdir)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
