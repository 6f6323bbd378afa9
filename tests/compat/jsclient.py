"""A raw NATS client for jscompare.py: one TCP connection, headers on, one `SUB _INBOX.>`;
frames are parsed into (subject, reply, headers, payload). Python 3 standard library only."""

import json
import socket
import time

DEADLINE = 5.0
# How long "no reply" rows wait for silence (unknown API subjects, acks without replies).
QUIET = 0.5


class Frame:
    def __init__(self, subject, reply, hdrs, data):
        self.subject, self.reply, self.hdrs, self.data = subject, reply, hdrs, data

    def status(self):
        """The header block's first line (b"NATS/1.0 404 No Messages"), or None."""
        return self.hdrs.split(b"\r\n", 1)[0] if self.hdrs is not None else None


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.buf = b""
        self.frames = []
        self.inbox_n = 0
        self._line()  # INFO
        self.send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}'
                  b"\r\nSUB _INBOX.> 1\r\nPING\r\n")
        while self._read_one() != b"PONG":
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self, deadline=None):
        deadline = deadline or time.monotonic() + DEADLINE
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read_one(self, deadline=None):
        """Reads one protocol op; MSG/HMSG go to self.frames; returns the op name."""
        deadline = deadline or time.monotonic() + DEADLINE
        line = self._line(deadline)
        parts = line.split()
        op = parts[0].upper() if parts else b""
        if op == b"PING":
            self.send(b"PONG\r\n")
        elif op == b"MSG":
            reply = parts[3] if len(parts) == 5 else None
            self.frames.append(Frame(parts[1], reply, None, self._take(int(parts[-1]), deadline)))
        elif op == b"HMSG":
            reply = parts[3] if len(parts) == 6 else None
            hlen, tlen = int(parts[-2]), int(parts[-1])
            body = self._take(tlen, deadline)
            self.frames.append(Frame(parts[1], reply, body[:hlen], body[hlen:]))
        elif op == b"-ERR":
            raise ConnectionError(line.decode())
        return op

    def wait_frames(self, n, deadline=DEADLINE):
        """Until n frames are buffered (or the deadline); returns them, clearing the buffer."""
        end = time.monotonic() + deadline
        try:
            while len(self.frames) < n:
                self._read_one(end)
        except socket.timeout:
            pass
        out, self.frames = self.frames, []
        return out

    def quiet(self, window=QUIET):
        """Whatever arrives within the window (a PING round trip flushes the server first)."""
        self.send(b"PING\r\n")
        end = time.monotonic() + window
        try:
            while True:
                self._read_one(end)
        except socket.timeout:
            pass
        out, self.frames = self.frames, []
        return out

    def inbox(self):
        self.inbox_n += 1
        return b"_INBOX.jscmp.%d" % self.inbox_n

    def pub(self, subject, data=b"", reply=None, headers=None):
        subject = subject.encode() if isinstance(subject, str) else subject
        data = data.encode() if isinstance(data, str) else data
        head = subject + (b" " + reply if reply else b"")
        if headers is None:
            self.send(b"PUB %s %d\r\n%s\r\n" % (head, len(data), data))
        else:
            hdr = b"NATS/1.0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                                              for k, v in headers) + b"\r\n"
            self.send(b"HPUB %s %d %d\r\n%s%s\r\n" % (head, len(hdr), len(hdr) + len(data),
                                                       hdr, data))

    def request(self, subject, data=b"", headers=None, n=1, deadline=DEADLINE, any_subject=False):
        """Publishes with a fresh inbox and waits for n answers on it. JetStream deliveries
        to an inbox (pulled messages) carry the stored message's subject, not the inbox's:
        `any_subject` keeps every frame that arrived on the `_INBOX.>` subscription."""
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
        inbox = self.inbox()
        self.pub(subject, data, inbox, headers)
        return [f for f in self.wait_frames(n, deadline) if any_subject or f.subject == inbox]

    def close(self):
        self.sock.close()
