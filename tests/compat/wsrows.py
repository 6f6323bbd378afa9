"""The rows of the WebSocket wire comparison (wscompare.py) and the configurations they
run under. A row is a function of one server (its `ws_port` and client `port`) returning
a transcript: a list of (label, bytes or list of rendered events); nats-server's is the
reference. Subjects are unique per row, since the rows of a configuration share servers.
"""

import time

from wirecompare import Conn
from wsclient import (CONNECT, KEY, OFFER, OP_BINARY, Peer, binary, frame, request,
                      upgrade_headers)

PONG = b"PONG\r\n"
SYNC = b"PING\r\n"


class Config:
    def __init__(self, name, text):
        self.name = name
        self.text = text


class Row:
    def __init__(self, name, config, fn):
        self.name = name
        self.config = config
        self.fn = fn


def ws_config(body, before=""):
    return ("listen: 127.0.0.1:-1\n" + before + "websocket {\n  listen: \"127.0.0.1:-1\"\n"
            "  no_tls: true\n" + body + "}\n")


CONFIGS = [
    Config("plain", ws_config("  compression: false\n")),
    Config("deflate", ws_config("  compression: true\n")),
    Config("same-origin", ws_config("  same_origin: true\n")),
    Config("allowed-origins", ws_config(
        '  allowed_origins: ["http://allowed.example:8080", "https://secure.example"]\n')),
    Config("handshake-timeout", ws_config('  handshake_timeout: "1s"\n')),
    Config("token", ws_config('  authorization { token: "s3cr3t" }\n')),
    Config("user-password", ws_config(
        '  authorization { user: "wsuser", password: "wspass" }\n')),
    Config("no-auth-user", ws_config("  no_auth_user: a\n", before=(
        "accounts {\n  A: { users: [ { user: a, password: pa } ] }\n"
        "  B: { users: [ { user: b, password: pb } ] }\n}\n"))),
]

ROWS = []


def row(config):
    """Registers the function as a row of `config`, named after it (`_` → `-`)."""
    def register(fn):
        ROWS.append(Row(fn.__name__.replace("_", "-"), config, fn))
        return fn
    return register


def is_info(f):
    return f.startswith(b"INFO ")


def upgrade(server, tr, label="ws", connect=CONNECT, info_frames="form", **headers):
    """A WebSocket client: the upgrade (response head recorded), the INFO frame (its
    header's first byte and length form recorded, not the length), and unless connect is
    None a CONNECT + PING in one frame and the PONG."""
    p = Peer(server.ws_port)
    p.send(request(upgrade_headers(server.ws_port, **headers)))
    tr.append((label + " response", p.http_response()))
    tr.append((label + " INFO", p.events(until=is_info, exact_frames=info_frames)))
    if connect is not None:
        p.send(binary(connect + SYNC))
        tr.append((label + " CONNECT", p.events(until=PONG)))
    return p


def ask(p, tr, label, data, until=PONG, **kw):
    """Sends raw bytes (frames) and records the events up to `until`."""
    p.send(data)
    tr.append((label, p.events(until=until, **kw)))


def finish(p, tr, label="ws"):
    """What else arrives before a quiet window: nothing (`<quiet>`) or the close."""
    tr.append((label + " end", p.events(quiet=True)))
    p.close()
    return tr


def closes(p, tr, label="ws", deadline=3.0, optional_close=False):
    """Everything up to the server closing the connection (<TIMEOUT> if it does not).
    optional_close: for frame-level protocol errors, where nats-server 2.9.10 enqueues a
    1002 close frame but closes the socket in a race with its writer, so the frame comes
    only sometimes (more often under load): a close frame right before EOF is moved to an
    `optional:` entry, compared only when both servers sent one."""
    events = p.events(until="eof", deadline=deadline)
    closing = None
    if optional_close and len(events) >= 2 and events[-1] == b"<EOF>" \
            and events[-2].startswith(b"close 88 \\x03\\xea"):
        closing = events.pop(-2)
    tr.append((label + " until close", events))
    if closing is not None:
        tr.append(("optional: close frame before EOF", closing))
    p.close()
    return tr


def http_only(server, head, label="answer", deadline=3.0):
    """A request head (bytes) and the answer: the response, then whether the server
    closed (`<EOF>`) or kept the connection (`<quiet>`)."""
    p = Peer(server.ws_port)
    p.send(head)
    tr = [(label, p.http_response())]
    tr.append(("after", p.events(quiet=True, deadline=deadline)))
    p.close()
    return tr


def tcp(server, connect=CONNECT):
    """A plain NATS client on the client port, after INFO and CONNECT + PING/PONG."""
    c = Conn(server.port)
    c.collect("info")
    c.send(connect + SYNC)
    c.collect("pong")
    return c


# --------------------------------------------------------------------------
# The 101 response and INFO
# --------------------------------------------------------------------------

@row("plain")
def upgrade_101(server):
    tr = []
    return finish(upgrade(server, tr), tr)


@row("plain")
def upgrade_101_deflate_offered_compression_off(server):
    tr = []
    return finish(upgrade(server, tr, extensions=OFFER), tr)


@row("plain")
def upgrade_header_token_lists(server):
    tr = []
    p = upgrade(server, tr, upgrade="WebSocket, h2c", connection="keep-alive, Upgrade",
                version="8, 13")
    return finish(p, tr)


@row("plain")
def upgrade_lowercase_header_names(server):
    head = ("GET / HTTP/1.1\r\nhost: 127.0.0.1:%d\r\nupgrade: websocket\r\n"
            "connection: upgrade\r\nsec-websocket-key: %s\r\nsec-websocket-version: 13\r\n\r\n"
            % (server.ws_port, KEY)).encode()
    p = Peer(server.ws_port)
    p.send(head)
    tr = [("response", p.http_response()), ("INFO", p.events(until=is_info, exact_frames="form"))]
    return finish(p, tr)


@row("plain")
def upgrade_other_path_is_a_client(server):
    p = Peer(server.ws_port)
    p.send(request(upgrade_headers(server.ws_port), path="/some/path?x=1"))
    tr = [("response", p.http_response()), ("INFO", p.events(until=is_info, exact_frames="form"))]
    ask(p, tr, "CONNECT", binary(CONNECT + SYNC))
    return finish(p, tr)


@row("plain")
def upgrade_nats_no_masking(server):
    """`Nats-No-Masking: true` (meant for leaf links) is honoured for clients too: the
    header comes back and unmasked frames are accepted."""
    headers = upgrade_headers(server.ws_port) + [("Nats-No-Masking", "true")]
    p = Peer(server.ws_port)
    p.send(request(headers))
    tr = [("response", p.http_response()), ("INFO", p.events(until=is_info, exact_frames="form"))]
    ask(p, tr, "unmasked CONNECT", frame(OP_BINARY, CONNECT + SYNC, mask=False))
    return finish(p, tr)


# --------------------------------------------------------------------------
# Handshake failures
# --------------------------------------------------------------------------

def bad_request(server, method="GET", http_version="HTTP/1.1", **headers):
    return http_only(server, request(upgrade_headers(server.ws_port, **headers), method=method,
                                     version=http_version))


@row("plain")
def hs_method_post(server):
    return bad_request(server, method="POST")


@row("plain")
def hs_missing_host_http11(server):
    return bad_request(server, host=None)


@row("plain")
def hs_missing_host_http10(server):
    return bad_request(server, host=None, http_version="HTTP/1.0")


@row("plain")
def hs_missing_upgrade(server):
    return bad_request(server, upgrade=None)


@row("plain")
def hs_invalid_upgrade(server):
    return bad_request(server, upgrade="h2c")


@row("plain")
def hs_missing_connection_upgrade(server):
    return bad_request(server, connection="keep-alive")


@row("plain")
def hs_missing_key(server):
    return bad_request(server, key=None)


@row("plain")
def hs_version_12(server):
    return bad_request(server, version="12")


@row("plain")
def hs_missing_version(server):
    return bad_request(server, version=None)


@row("plain")
def hs_not_http(server):
    return http_only(server, b"hello there\r\n\r\n")


@row("plain")
def hs_data_before_handshake(server):
    """The head and a frame in one write: the frame arrived before the 101."""
    return http_only(server, request(upgrade_headers(server.ws_port)) + binary(CONNECT + SYNC))


@row("plain")
def hs_head_64k_accepted(server):
    """A 64 KiB head (under nats-server's 1 MiB) is served."""
    headers = upgrade_headers(server.ws_port) + [("X-Pad", "p" * 65536)]
    p = Peer(server.ws_port)
    p.send(request(headers))
    tr = [("response", p.http_response()), ("INFO", p.events(until=is_info, exact_frames="form"))]
    return finish(p, tr)


@row("plain")
def hs_head_over_limit(server):
    """A 2 MiB head: written by a thread, since the server stops reading it."""
    headers = upgrade_headers(server.ws_port) + [("X-Pad", "p" * (2 << 20))]
    p = Peer(server.ws_port)
    p.send_in_background(request(headers))
    tr = [("answer", p.http_response())]
    tr.append(("after", p.events(quiet=True, deadline=3.0)))
    p.close()
    return tr


@row("plain")
def hs_head_unfinished_no_timeout(server):
    """A head never finished, with no handshake_timeout: nothing sent and still open
    1.5 s later (the idle time is the stimulus), and the rest of the head then upgrades."""
    head = request(upgrade_headers(server.ws_port))
    p = Peer(server.ws_port)
    p.send(head[:40])
    time.sleep(1.5)
    tr = [("after 1.5 s", p.events(quiet=True))]
    p.send(head[40:])
    tr.append(("response", p.http_response()))
    tr.append(("INFO", p.events(until=is_info, exact_frames="form")))
    return finish(p, tr)


@row("plain")
def hs_keepalive_after_error(server):
    """A refused request leaves an HTTP/1.1 connection open; a valid upgrade on it then
    succeeds."""
    p = Peer(server.ws_port)
    p.send(request(upgrade_headers(server.ws_port), method="POST"))
    tr = [("POST", p.http_response())]
    p.send(request(upgrade_headers(server.ws_port)))
    tr.append(("GET", p.http_response()))
    tr.append(("INFO", p.events(until=is_info, exact_frames="form")))
    return finish(p, tr)


@row("handshake-timeout")
def hs_head_unfinished_timeout(server):
    """handshake_timeout 1s: a head never finished is closed, after the timeout."""
    p = Peer(server.ws_port)
    started = time.monotonic()
    p.send(request(upgrade_headers(server.ws_port))[:40])
    tr = [("until close", p.raw_until_eof(5.0))]
    tr.append(("closed after >= 0.8 s", str(time.monotonic() - started >= 0.8).encode()))
    p.close()
    return tr


@row("handshake-timeout")
def hs_silent_connection_timeout(server):
    p = Peer(server.ws_port)
    started = time.monotonic()
    tr = [("until close", p.raw_until_eof(5.0))]
    tr.append(("closed after >= 0.8 s", str(time.monotonic() - started >= 0.8).encode()))
    p.close()
    return tr


@row("handshake-timeout")
def hs_timeout_not_applied_after_upgrade(server):
    """The timeout ends with the handshake: a client idle for 1.5 s still gets its PONG."""
    tr = []
    p = upgrade(server, tr)
    time.sleep(1.5)  # the stimulus: idle past handshake_timeout
    ask(p, tr, "PING after 1.5 s", binary(SYNC))
    return finish(p, tr)


# --------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------

def origin_row(server, origin, host=None):
    """The answer to an upgrade with this Origin: the 101 and INFO, or the refusal and
    whether the connection stays open."""
    p = Peer(server.ws_port)
    kw = {"origin": origin}
    if host is not None:
        kw["host"] = host
    p.send(request(upgrade_headers(server.ws_port, **kw)))
    tr = [("response", p.http_response())]
    if tr[0][1].startswith(b"HTTP/1.1 101 "):
        tr.append(("INFO", p.events(until=is_info, exact_frames="form")))
    else:
        tr.append(("after", p.events(quiet=True)))
    p.close()
    return tr


@row("same-origin")
def origin_same_ok(server):
    return origin_row(server, "http://127.0.0.1:%d" % server.ws_port)


@row("same-origin")
def origin_same_other_host(server):
    return origin_row(server, "http://evil.example:%d" % server.ws_port)


@row("same-origin")
def origin_same_other_port(server):
    return origin_row(server, "http://127.0.0.1:1")


@row("same-origin")
def origin_same_default_ports(server):
    return origin_row(server, "http://LOCALHOST", host="localhost")


@row("same-origin")
def origin_absent_is_accepted(server):
    return origin_row(server, None)


@row("allowed-origins")
def origin_allowed(server):
    return origin_row(server, "http://allowed.example:8080")


@row("allowed-origins")
def origin_not_in_list(server):
    return origin_row(server, "http://other.example:8080")


@row("allowed-origins")
def origin_allowed_wrong_scheme(server):
    return origin_row(server, "https://allowed.example:8080")


@row("allowed-origins")
def origin_allowed_default_port(server):
    return origin_row(server, "https://secure.example:443")


@row("allowed-origins")
def origin_unparsable(server):
    return origin_row(server, "not a url")
