"""WebSocket comparison rows after the upgrade: NATS over frames (MSG/PONG/-ERR), control
frames and close codes, bad input, permessage-deflate, and the block's authorization.
Registered into wsrows.ROWS on import (see wsrows.py for the helpers and the transcript
form)."""

import random

from wirecompare import Conn
from wsclient import (CONNECT, OFFER, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG,
                      OP_TEXT, binary, close_payload, deflate, frame)
from wsrows import PONG, SYNC, ask, closes, finish, row, tcp, upgrade


def one_frame_pubsub(server, op):
    tr = []
    p = upgrade(server, tr)
    ask(p, tr, "SUB PUB PING", frame(op, b"SUB f1 1\r\nPUB f1 5\r\nhello\r\nPING\r\n"))
    return finish(p, tr)


@row("plain")
def ws_pub_sub_binary_frame(server):
    return one_frame_pubsub(server, OP_BINARY)


@row("plain")
def ws_pub_sub_text_frame(server):
    return one_frame_pubsub(server, OP_TEXT)


@row("plain")
def ws_op_split_across_frames(server):
    tr = []
    p = upgrade(server, tr)
    ask(p, tr, "three frames", binary(b"SUB chat.") + binary(b"room 1\r\nPUB chat.room 5\r\nhel")
        + binary(b"lo\r\nPING\r\n"))
    return finish(p, tr)


@row("plain")
def ws_op_split_across_frames_written_apart(server):
    tr = []
    p = upgrade(server, tr)
    for part in (b"SUB sp", b"lit 1\r\nPUB split 3\r\nab", b"c\r\nPI"):
        p.send(binary(part))
    ask(p, tr, "last frame", binary(b"NG\r\n"))
    return finish(p, tr)


@row("plain")
def ws_many_ops_one_frame(server):
    tr = []
    p = upgrade(server, tr)
    ops = b"SUB many.* 7\r\n" + b"".join(b"PUB many.%d %d\r\n%s\r\n" % (i, i, b"x" * i)
                                           for i in range(20))
    ask(p, tr, "20 PUBs", binary(ops + SYNC))
    return finish(p, tr)


@row("plain")
def ws_continuation_frames(server):
    tr = []
    p = upgrade(server, tr)
    msg = b"SUB cont 1\r\nPUB cont 11\r\nhello world\r\nPING\r\n"
    ask(p, tr, "three fragments", frame(OP_BINARY, msg[:10], fin=False)
        + frame(OP_CONT, msg[10:30], fin=False) + frame(OP_CONT, msg[30:]))
    return finish(p, tr)


@row("plain")
def ws_ping_between_fragments(server):
    tr = []
    p = upgrade(server, tr)
    msg = b"SUB frag 1\r\nPUB frag 2\r\nhi\r\nPING\r\n"
    ask(p, tr, "fragment, ping, fragment", frame(OP_TEXT, msg[:15], fin=False)
        + frame(OP_PING, b"mid") + frame(OP_CONT, msg[15:]))
    return finish(p, tr)


@row("plain")
def ws_ping_pong_payloads(server):
    tr = []
    p = upgrade(server, tr)
    ask(p, tr, "ping hello", frame(OP_PING, b"hello") + binary(SYNC))
    ask(p, tr, "ping empty", frame(OP_PING) + binary(SYNC))
    ask(p, tr, "ping 125 bytes", frame(OP_PING, bytes(range(125))) + binary(SYNC))
    return finish(p, tr)


@row("plain")
def ws_unsolicited_pong_ignored(server):
    tr = []
    p = upgrade(server, tr)
    ask(p, tr, "pong then PING", frame(OP_PONG, b"x") + binary(SYNC))
    return finish(p, tr)


@row("plain")
def ws_err_invalid_subject_stays_open(server):
    tr = []
    p = upgrade(server, tr)
    ask(p, tr, "SUB a..b", binary(b"SUB a..b 1\r\n" + SYNC))
    return finish(p, tr)


@row("plain")
def ws_err_unknown_op_closes(server):
    tr = []
    p = upgrade(server, tr)
    p.send(binary(b"FOO\r\n"))
    return closes(p, tr)


@row("plain")
def ws_err_max_payload_closes(server):
    tr = []
    p = upgrade(server, tr)
    p.send(binary(b"PUB big 2000000\r\n"))
    return closes(p, tr)


@row("plain")
def ws_err_connect_after_parse_error(server):
    tr = []
    p = upgrade(server, tr, connect=None)
    p.send(binary(b'CONNECT {"verbose":false,"protocol":5}\r\n'))
    return closes(p, tr)


@row("plain")
def ws_hpub_between_ws_connections(server):
    tr = []
    sub = upgrade(server, tr, "sub")
    pub = upgrade(server, tr, "pub")
    ask(sub, tr, "sub SUB", binary(b"SUB hdr.x 9\r\n" + SYNC))
    hdr = b"NATS/1.0\r\nA: 1\r\nB: two words\r\n\r\n"
    ask(pub, tr, "pub HPUB", binary(b"HPUB hdr.x r.1 %d %d\r\n%sbody\r\n" % (
        len(hdr), len(hdr) + 4, hdr) + SYNC))
    tr.append(("sub HMSG", sub.events(until=lambda f: f.startswith(b"HMSG "))))
    finish(pub, tr, "pub")
    return finish(sub, tr, "sub")


@row("plain")
def ws_tcp_and_ws_both_ways(server):
    tr = []
    ws = upgrade(server, tr)
    ask(ws, tr, "ws SUB", binary(b"SUB to.ws 1\r\n" + SYNC))
    c = tcp(server)
    c.send(b"SUB to.tcp 2\r\n" + SYNC)
    tr.append(("tcp SUB", c.collect("pong").data()))
    c.send(b"PUB to.ws reply.1 5\r\nhello\r\n" + SYNC)
    c.collect("pong")
    tr.append(("ws MSG from tcp", ws.events(until=lambda f: f.startswith(b"MSG "))))
    ask(ws, tr, "ws PUB to tcp", binary(b"PUB to.tcp 3\r\nabc\r\n" + SYNC))
    tr.append(("tcp MSG from ws", c.collect("until", b"to.tcp").data()))
    c.close()
    return finish(ws, tr)


@row("plain")
def ws_large_msg_one_frame(server):
    tr = []
    p = upgrade(server, tr)
    payload = bytes(random.Random(7).randrange(256) for _ in range(100000))
    ask(p, tr, "SUB", binary(b"SUB large 1\r\n" + SYNC))
    ask(p, tr, "PUB 100000", binary(b"PUB large 100000\r\n" + payload + b"\r\n"),
        until=lambda f: f.startswith(b"MSG "))
    return finish(p, tr)


@row("plain")
def ws_browser_frames_at_most_4096(server):
    """A client whose User-Agent starts with Mozilla/ gets frames of at most 4096 bytes
    (compared frame by frame)."""
    tr = []
    p = upgrade(server, tr, user_agent="Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156")
    ask(p, tr, "SUB", binary(b"SUB browser 1\r\n" + SYNC))
    ask(p, tr, "PUB 10000", binary(b"PUB browser 10000\r\n" + b"b" * 10000 + b"\r\n"),
        until=lambda f: f.startswith(b"MSG "), exact_frames=True)
    return finish(p, tr)


# --------------------------------------------------------------------------
# Close frames
# --------------------------------------------------------------------------

def close_row(server, payload):
    tr = []
    p = upgrade(server, tr)
    p.send(frame(OP_CLOSE, payload))
    return closes(p, tr)


@row("plain")
def ws_close_1000(server):
    return close_row(server, close_payload(1000))


@row("plain")
def ws_close_1001_with_reason(server):
    return close_row(server, close_payload(1001, b"bye now"))


@row("plain")
def ws_close_without_payload(server):
    return close_row(server, b"")


@row("plain")
def ws_close_one_byte_payload(server):
    return close_row(server, b"\x03")


@row("plain")
def ws_close_invalid_utf8_reason(server):
    return close_row(server, close_payload(1000, b"\xff\xfe"))


@row("plain")
def ws_close_in_fragmented_message(server):
    tr = []
    p = upgrade(server, tr)
    p.send(frame(OP_BINARY, b"PUB half 4\r\nab", fin=False) + frame(OP_CLOSE, close_payload(1000)))
    return closes(p, tr)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------

def bad_row(server, data, config_connect=CONNECT):
    tr = []
    p = upgrade(server, tr, connect=config_connect)
    p.send(data)
    return closes(p, tr, optional_close=True)


@row("plain")
def bad_unmasked_frame(server):
    return bad_row(server, frame(OP_BINARY, SYNC, mask=False))


@row("plain")
def bad_ping_over_125(server):
    return bad_row(server, frame(OP_PING, b"p" * 126))


@row("plain")
def bad_close_over_125(server):
    return bad_row(server, frame(OP_CLOSE, close_payload(1000, b"r" * 124)))


@row("plain")
def bad_ping_fragmented(server):
    return bad_row(server, frame(OP_PING, b"x", fin=False))


@row("plain")
def bad_reserved_opcode_3(server):
    return bad_row(server, frame(3, SYNC))


@row("plain")
def bad_reserved_opcode_11(server):
    return bad_row(server, frame(11, b""))


@row("plain")
def bad_rsv1_without_compression(server):
    return bad_row(server, frame(OP_BINARY, SYNC, rsv=4))


@row("plain")
def bad_rsv1_deflated_without_compression(server):
    """RSV1 on a connection that did not negotiate deflate, with valid deflate data."""
    return bad_row(server, frame(OP_BINARY, deflate(SYNC), rsv=4))


@row("plain")
def bad_rsv2_bit(server):
    return bad_row(server, frame(OP_BINARY, SYNC, rsv=2))


@row("plain")
def bad_rsv3_bit(server):
    return bad_row(server, frame(OP_BINARY, SYNC, rsv=1))


@row("plain")
def bad_length_64bit_form_for_6_bytes(server):
    return bad_row(server, frame(OP_BINARY, SYNC, length_form=64))


@row("plain")
def bad_length_16bit_form_for_6_bytes(server):
    return bad_row(server, frame(OP_BINARY, SYNC, length_form=16))


@row("plain")
def bad_length_over_max_payload(server):
    """A frame announcing 4 GiB, of which a PING arrives."""
    return bad_row(server, frame(OP_BINARY, SYNC, length=1 << 32))


@row("plain")
def bad_new_message_inside_fragmented(server):
    return bad_row(server, frame(OP_BINARY, b"PUB x 1\r\n", fin=False) + binary(SYNC))


@row("plain")
def bad_continuation_without_start(server):
    return bad_row(server, frame(OP_CONT, SYNC))


@row("plain")
def bad_continuation_with_rsv1(server):
    return bad_row(server, frame(OP_BINARY, b"PI", fin=False) + frame(OP_CONT, b"NG\r\n", rsv=4))


@row("plain")
def bad_unmasked_before_connect(server):
    return bad_row(server, frame(OP_BINARY, CONNECT, mask=False), config_connect=None)


# --------------------------------------------------------------------------
# permessage-deflate (compression: true)
# --------------------------------------------------------------------------

@row("deflate")
def deflate_upgrade_offered(server):
    tr = []
    return finish(upgrade(server, tr, extensions=OFFER), tr)


@row("deflate")
def deflate_upgrade_not_offered(server):
    tr = []
    return finish(upgrade(server, tr), tr)


@row("deflate")
def deflate_upgrade_offer_with_no_context_takeover(server):
    tr = []
    return finish(upgrade(server, tr, extensions=(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover")), tr)


@row("deflate")
def deflate_upgrade_other_extension_only(server):
    tr = []
    return finish(upgrade(server, tr, extensions="x-webkit-deflate-frame"), tr)


@row("deflate")
def deflate_client_frames(server):
    tr = []
    p = upgrade(server, tr, extensions=OFFER)
    ask(p, tr, "deflated SUB PUB PING", frame(OP_BINARY, deflate(
        b"SUB z 1\r\nPUB z 5\r\nhello\r\nPING\r\n"), rsv=4))
    return finish(p, tr)


@row("deflate")
def deflate_fragmented_client_message(server):
    tr = []
    p = upgrade(server, tr, extensions=OFFER)
    data = deflate(b"SUB zf 1\r\nPUB zf 7\r\nfragged\r\nPING\r\n")
    ask(p, tr, "deflated in two frames", frame(OP_BINARY, data[:9], fin=False, rsv=4)
        + frame(OP_CONT, data[9:]))
    return finish(p, tr)


@row("deflate")
def deflate_uncompressed_client_frames(server):
    tr = []
    p = upgrade(server, tr, extensions=OFFER)
    ask(p, tr, "plain SUB PUB PING", binary(b"SUB u 1\r\nPUB u 2\r\nok\r\nPING\r\n"))
    return finish(p, tr)


@row("deflate")
def deflate_server_frames_by_size(server):
    """A MSG frame over 64 bytes is deflated (RSV1), a small one and the PONG are not."""
    tr = []
    p = upgrade(server, tr, extensions=OFFER)
    ask(p, tr, "SUB", binary(b"SUB zs 1\r\n" + SYNC))
    ask(p, tr, "PUB 200 bytes", binary(b"PUB zs 200\r\n" + b"m" * 200 + b"\r\n"),
        until=lambda f: f.startswith(b"MSG "))
    ask(p, tr, "PUB 3 bytes", binary(b"PUB zs 3\r\nabc\r\n"), until=lambda f: f.startswith(b"MSG "))
    ask(p, tr, "PING", binary(SYNC))
    return finish(p, tr)


@row("deflate")
def deflate_browser_fragments(server):
    """A browser's deflated message over 4096 bytes comes in fragments: RSV1 on the first
    only (the fragment count follows the compressed size, here incompressible data)."""
    tr = []
    p = upgrade(server, tr, extensions=OFFER, user_agent="Mozilla/5.0 (X11; Linux x86_64)")
    payload = bytes(random.Random(11).randrange(256) for _ in range(9000))
    ask(p, tr, "SUB", binary(b"SUB zb 1\r\n" + SYNC))
    ask(p, tr, "PUB 9000", binary(b"PUB zb 9000\r\n" + payload + b"\r\n"),
        until=lambda f: f.startswith(b"MSG "))
    return finish(p, tr)


@row("deflate")
def deflate_invalid_data(server):
    tr = []
    p = upgrade(server, tr, extensions=OFFER)
    p.send(frame(OP_BINARY, b"\xff\xff\xff\xff\xff\xff", rsv=4))
    return closes(p, tr)


@row("deflate")
def deflate_rsv1_not_negotiated(server):
    """Compression on in the server but not offered by this client; a deflated frame."""
    tr = []
    p = upgrade(server, tr)
    p.send(frame(OP_BINARY, deflate(SYNC), rsv=4))
    return closes(p, tr)


# --------------------------------------------------------------------------
# The block's authorization and no_auth_user
# --------------------------------------------------------------------------

def auth_row(server, connect, tcp_connect=None):
    tr = []
    p = upgrade(server, tr, connect=None)
    p.send(binary(connect + SYNC))
    tr.append(("CONNECT", p.events(until=PONG, deadline=3.0)))
    if tcp_connect is not None:
        c = tcp_conn(server, tcp_connect)
        tr.append(("tcp", c))
    return finish(p, tr)


def tcp_conn(server, connect):
    c = Conn(server.port)
    c.collect("info")
    c.send(connect + SYNC)
    data = c.collect("pong", step_deadline=3.0).data()
    c.close()
    return data


@row("token")
def token_missing(server):
    return auth_row(server, CONNECT)


@row("token")
def token_right(server):
    return auth_row(server, b'CONNECT {"verbose":false,"auth_token":"s3cr3t"}\r\n',
                    tcp_connect=CONNECT)


@row("token")
def token_wrong(server):
    return auth_row(server, b'CONNECT {"verbose":false,"auth_token":"nope"}\r\n')


@row("user-password")
def user_password_right(server):
    return auth_row(server, b'CONNECT {"verbose":false,"user":"wsuser","pass":"wspass"}\r\n',
                    tcp_connect=CONNECT)


@row("user-password")
def user_password_wrong(server):
    return auth_row(server, b'CONNECT {"verbose":false,"user":"wsuser","pass":"x"}\r\n')


@row("no-auth-user")
def no_auth_user_account(server):
    """A WebSocket client without credentials is user a (account A): it gets A's
    message, not B's; a TCP client without credentials is refused."""
    tr = []
    sub = upgrade(server, tr, "anon")
    ask(sub, tr, "anon SUB", binary(b"SUB acc 1\r\n" + SYNC))
    b = upgrade(server, tr, "b", connect=b'CONNECT {"verbose":false,"user":"b","pass":"pb"}\r\n')
    ask(b, tr, "b PUB", binary(b"PUB acc 6\r\nfrom-b\r\n" + SYNC))
    a = upgrade(server, tr, "a", connect=b'CONNECT {"verbose":false,"user":"a","pass":"pa"}\r\n')
    ask(a, tr, "a PUB", binary(b"PUB acc 6\r\nfrom-a\r\n" + SYNC))
    ask(sub, tr, "anon gets", binary(SYNC))
    tr.append(("tcp without credentials", tcp_conn(server, CONNECT)))
    for p, label in ((a, "a"), (b, "b")):
        finish(p, tr, label)
    return finish(sub, tr, "anon")
