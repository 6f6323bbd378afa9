"""A raw WebSocket client for the wire comparison (wscompare.py): builds client frames
bit by bit (masked or not, any opcode, RSV bits, any length form, deflated), sends HTTP
upgrade requests, and turns what a server sends back into comparable text.

Python 3 standard library only. RFC 6455 (framing), RFC 7692 (permessage-deflate).
"""

import base64
import hashlib
import re
import socket
import struct
import threading
import time
import zlib

from wirecompare import next_frame, normalise_info

# The key of RFC 6455 §1.3's example; its Accept value is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASK = b"\x37\xfa\x21\x3d"
DEADLINE = 5.0
QUIET = 0.3
# The offer a browser makes (Chromium sends exactly this).
OFFER = "permessage-deflate; client_max_window_bits"
CONNECT = b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def accept_value(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def request(headers, method="GET", path="/", version="HTTP/1.1"):
    """An upgrade request head: `headers` is a list of (name, value); a value of None
    leaves that header out."""
    lines = ["%s %s %s" % (method, path, version)]
    lines += ["%s: %s" % (n, v) for n, v in headers if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def upgrade_headers(port, **overrides):
    """The headers of a valid upgrade; keyword arguments replace (or, with None, drop)
    them: host, upgrade, connection, key, version, origin, extensions, user_agent."""
    fields = {"host": "127.0.0.1:%d" % port, "upgrade": "websocket", "connection": "Upgrade",
              "key": KEY, "version": "13", "origin": None, "extensions": None,
              "user_agent": None}
    fields.update(overrides)
    names = (("host", "Host"), ("upgrade", "Upgrade"), ("connection", "Connection"),
             ("key", "Sec-WebSocket-Key"), ("version", "Sec-WebSocket-Version"),
             ("origin", "Origin"), ("extensions", "Sec-WebSocket-Extensions"),
             ("user_agent", "User-Agent"))
    return [(name, fields[k]) for k, name in names]


def deflate(data):
    """permessage-deflate of one message: raw deflate, sync-flushed, the trailing
    00 00 ff ff removed (RFC 7692 §7.2.1)."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data):
    """The inverse of deflate(); None if the data is not valid deflate."""
    try:
        d = zlib.decompressobj(-15)
        return d.decompress(data + b"\x00\x00\xff\xff")
    except zlib.error:
        return None


def frame(op, payload=b"", fin=True, rsv=0, mask=True, length_form=None, length=None):
    """One client frame. rsv: the RSV bits as a number 0-7 (4 = RSV1). length_form: 7, 16
    or 64 (default: the shortest); length: the length to announce (default: the real
    one)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    form = length_form or (7 if n <= 125 else 16 if n < 65536 else 64)
    mbit = 0x80 if mask else 0
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i & 3] for i, b in enumerate(payload))


def binary(payload):
    return frame(OP_BINARY, payload)


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


# --------------------------------------------------------------------------
# Reading what the server sends
# --------------------------------------------------------------------------

HTTP_DATE = re.compile(rb"^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")


def normalise_head(head):
    """An HTTP response head with its Date value replaced (the only time-dependent
    field); any other header is compared as it is."""
    lines = head.split(b"\r\n")
    return b"\r\n".join(b"Date: <http-date>" if HTTP_DATE.match(l) else l for l in lines)


class Peer:
    """One TCP connection to a WebSocket port: the HTTP exchange first, then frames."""

    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.nats = b""       # data-frame payload bytes not yet split into NATS frames
        self.message = None   # [first header byte, fragments] of an open fragmented message

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the server closed on us; the next read records <EOF>

    def send_in_background(self, data):
        """For a head the server may stop reading part-way: written by a thread, so the
        answer can be read meanwhile."""
        t = threading.Thread(target=self.send, args=(data,), daemon=True)
        t.start()
        return t

    def fill(self, timeout):
        """One read; False on timeout or once at EOF."""
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except OSError:
            data = b""  # a reset after the server closed: the same as EOF
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def http_response(self, deadline=DEADLINE):
        """The response head (normalised) and, for a non-101 answer, its body as far as
        Content-Length says, or to EOF / a quiet window when it says nothing."""
        end = time.monotonic() + deadline
        while b"\r\n\r\n" not in self.buf:
            if not self.fill(end - time.monotonic()):
                out, self.buf = self.buf, b""
                return out + (b"<EOF>" if self.eof else b"<TIMEOUT>")
        cut = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:cut], self.buf[cut:]
        if head.startswith(b"HTTP/1.1 101 "):
            return normalise_head(head)
        m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
        if m:
            want = int(m.group(1))
            while len(self.buf) < want and self.fill(end - time.monotonic()):
                pass
            body, self.buf = self.buf[:want], self.buf[want:]
        else:
            while self.fill(min(QUIET, end - time.monotonic())):
                pass
            body, self.buf = self.buf, b""
        return normalise_head(head) + body

    def raw_until_eof(self, deadline):
        """Every byte until the server closes (`<EOF>`) or the deadline (`<TIMEOUT>`)."""
        end = time.monotonic() + deadline
        while self.fill(end - time.monotonic()):
            pass
        out, self.buf = self.buf, b""
        return normalise_head(out) + (b"<EOF>" if self.eof else b"<TIMEOUT>")

    def read_frame(self, deadline):
        """(header bytes, payload) of the next server frame, or None at EOF/deadline."""
        while True:
            if len(self.buf) >= 2:
                n, hl = self.buf[1] & 0x7F, 2
                if n == 126:
                    hl = 4
                elif n == 127:
                    hl = 10
                if self.buf[1] & 0x80:
                    hl += 4
                if len(self.buf) >= hl:
                    if n == 126:
                        n = struct.unpack(">H", self.buf[2:4])[0]
                    elif n == 127:
                        n = struct.unpack(">Q", self.buf[2:10])[0]
                    if len(self.buf) >= hl + n:
                        head, payload = self.buf[:hl], self.buf[hl:hl + n]
                        self.buf = self.buf[hl + n:]
                        return head, payload
            if not self.fill(deadline - time.monotonic()):
                return None

    def events(self, until=None, quiet=False, deadline=DEADLINE, exact_frames=False):
        """merge_data(self._events(...)) unless exact_frames: how a server cuts its output
        into frames follows its flush timing, not the protocol."""
        out = self._events(until, quiet, deadline, exact_frames)
        return out if exact_frames else merge_data(out)

    def _events(self, until, quiet, deadline, exact_frames):
        """What the server sends, as a list of rendered events, until `until` (a NATS
        frame such as b"PONG\\r\\n" or a test of one, or "eof", or "close" for a close frame) or, with
        quiet, until nothing comes for QUIET seconds. Ends with <EOF> or <TIMEOUT> when
        that is how it ended. See render_frame for the forms."""
        out = []
        end = time.monotonic() + deadline
        while True:
            now = time.monotonic()
            wait = min(QUIET, end - now) if quiet else end - now
            got = self.read_frame(now + max(wait, 0))
            if got is None:
                if self.eof:
                    if self.buf:
                        out.append(b"<PARTIAL FRAME>" + self.buf)
                        self.buf = b""
                    out.append(b"<EOF>")
                elif not quiet or time.monotonic() >= end:
                    out.append(b"<TIMEOUT>")
                else:
                    out.append(b"<quiet>")  # nothing for QUIET seconds, still open
                return out
            head, payload = got
            stop = False
            for event, nats_frames in self.render_frame(head, payload, exact_frames):
                out.append(event)
                if until == "close" and event.startswith(b"close "):
                    stop = True
                if callable(until) and any(until(f) for f in nats_frames):
                    stop = True
                elif isinstance(until, bytes) and until in nats_frames:
                    stop = True
            if stop:
                return out

    def render_frame(self, head, payload, exact_frames):
        """Events for one server frame, each with the NATS frames it completed:
        * control frames: `close|ping|pong <header hex> <payload>`, exact;
        * data: `data <flags>: <NATS frames>` once a message is complete (FIN), its
          fragments' headers summarised, deflated messages inflated first. flags: the
          opcode, `deflate` for RSV1, `masked` if the server masked, `fragments=N` for a
          fragmented message (exact_frames: each fragment's header as hex instead), and
          `nonminimal-length` if a header used a longer length form than it needed."""
        b0, b1 = head[0], head[1]
        op = b0 & 0x0F
        flags = []
        if b1 & 0x80:
            flags.append(b"masked")
        if not minimal_length(head):
            flags.append(b"nonminimal-length")
        if op >= 8:
            name = {8: b"close", 9: b"ping", 10: b"pong"}.get(op, b"op%d" % op)
            extra = b"".join(b" " + f for f in flags)
            return [(b"%s %02x%s %s" % (name, b0, extra, escape(payload)), [])]
        if self.message is None:
            self.message = [b0, [], []]
        self.message[1].append(payload)
        self.message[2].append(head)
        if not b0 & 0x80:
            return []
        first, parts, heads = self.message
        self.message = None
        data = b"".join(parts)
        if first & 0x40:
            flags.append(b"deflate")
            data = inflate(data)
            if data is None:
                return [(b"data <invalid deflate from server>", [])]
        bits = b"%02x" % (first & 0xF0 | first & 0x0F)
        if exact_frames == "form":
            flags.append(b"frames=" + b",".join(describe_header(h, False) for h in heads))
        elif exact_frames:
            flags.append(b"frames=" + b",".join(describe_header(h, True) for h in heads))
        elif len(parts) > 1:
            flags.append(b"fragments=%d" % len(parts))
        self.nats += data
        frames = []
        while True:
            f, self.nats = next_frame(self.nats)
            if f is None:
                break
            if f == b"PING\r\n":
                continue  # the server's RTT probe (~2 s after CONNECT), not an answer
            frames.append(normalise_info(f) if f.startswith(b"INFO ") else f)
        pending = b"<%d bytes of a NATS frame pending>" % len(self.nats) if self.nats else b""
        text = b"data %s%s: %s%s" % (bits, b"".join(b" " + f for f in flags),
                                     b"".join(escape(f) for f in frames), pending)
        return [(text, frames)]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def merge_data(events):
    """Consecutive data events with the same flags as one (their NATS frames joined)."""
    out = []
    for e in events:
        if out and e.startswith(b"data ") and out[-1].startswith(b"data "):
            flags, _, text = e.partition(b": ")
            last_flags, _, last_text = out[-1].partition(b": ")
            if flags == last_flags:
                out[-1] = last_flags + b": " + last_text + text
                continue
        out.append(e)
    return out


def describe_header(head, with_value):
    """A data frame header: its first byte, length form and (with_value) length, e.g.
    `82/len16=4096`. Without the value for payloads of the server's own making (INFO's
    length differs with ids and ports)."""
    n = head[1] & 0x7F
    form = b"len16" if n == 126 else b"len64" if n == 127 else b"len7"
    if not with_value:
        return b"%02x/%s" % (head[0], form)
    if form == b"len7":
        return b"%02x/len7=%d" % (head[0], n)
    value = struct.unpack(">H", head[2:4])[0] if n == 126 else struct.unpack(">Q", head[2:10])[0]
    return b"%02x/%s=%d" % (head[0], form, value)


def minimal_length(head):
    n = head[1] & 0x7F
    if n == 126:
        return struct.unpack(">H", head[2:4])[0] > 125
    if n == 127:
        return struct.unpack(">Q", head[2:10])[0] > 65535
    return True


def escape(data):
    return repr(bytes(data))[2:-1].encode()
