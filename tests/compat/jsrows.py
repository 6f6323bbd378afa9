"""The rows of jscompare.py: each takes a server's client port and returns a transcript
[(label, bytes)]. A label "ephemeral:" marks a server-invented name for normalisation."""

import json

from jsclient import Client

API = "$JS.API."
ORDERS = {"name": "ORDERS", "subjects": ["orders.>"]}


class T:
    """A transcript being recorded on one connection."""

    def __init__(self, port):
        self.c = Client(port)
        self.lines = []

    def add(self, label, data):
        self.lines.append((label, data))

    def api(self, label, subject, body=b"", headers=None):
        """An API request: records its one answer (or that none came)."""
        frames = self.c.request(API + subject if not subject.startswith("$") else subject,
                                body, headers)
        if not frames:
            self.add(label, b"(no reply)")
            return None
        self.frame(label, frames[0])
        try:
            return json.loads(frames[0].data)
        except ValueError:
            return None

    def frame(self, label, f):
        if f.hdrs is not None:
            self.add(label + " hdrs", f.hdrs)
        if f.reply is not None:
            self.add(label + " reply", f.reply)
        self.add(label, f.data)

    def publish(self, label, subject, data, headers=None):
        """A publish with a reply subject: records the PubAck (or the 503 status)."""
        frames = self.c.request(subject, data, headers)
        if not frames:
            self.add(label, b"(no reply)")
        else:
            self.frame(label, frames[0])

    def no_reply(self, label, subject, body=b""):
        inbox = self.c.inbox()
        self.c.pub(subject, body, inbox)
        got = [f for f in self.c.quiet() if f.subject == inbox]
        self.add(label, b"(no reply)" if not got else b"%d replies" % len(got))

    def create_consumer(self, label, subject, config, stream="ORDERS"):
        resp = self.api(label, subject, {"stream_name": stream, "config": config})
        if resp and "config" in resp and not config.get("name") and \
                not config.get("durable_name") and len(subject.split(".")) == 3:
            self.add("ephemeral:", resp["name"].encode())
        return resp

    def done(self):
        self.c.close()
        return self.lines


def with_orders(port, n=0, config=None):
    t = T(port)
    t.api("create", "STREAM.CREATE.ORDERS", config or ORDERS)
    for i in range(n):
        t.publish("pub %d" % (i + 1), "orders.%s" % ("a" if i % 2 == 0 else "b"), "m%d" % (i + 1))
    return t


# --- account -------------------------------------------------------------------------

def account_info_empty(port):
    t = T(port)
    t.api("info", "INFO")
    return t.done()


def account_info_usage(port):
    t = with_orders(port, 3)
    t.api("bad", "STREAM.INFO.NOPE")
    t.api("info", "INFO")
    return t.done()


# --- streams -------------------------------------------------------------------------

def stream_create_defaults(port):
    t = T(port)
    t.api("create", "STREAM.CREATE.ORDERS", ORDERS)
    t.api("create name only", "STREAM.CREATE.BARE", {"name": "BARE"})
    return t.done()


def stream_create_full(port):
    t = T(port)
    t.api("create", "STREAM.CREATE.FULL", {
        "name": "FULL", "description": "all the limits", "subjects": ["f.*", "g.>"],
        "retention": "limits", "max_consumers": 10, "max_msgs": 1000, "max_bytes": 1 << 20,
        "max_age": 3600_000_000_000, "max_msgs_per_subject": 5, "max_msg_size": 1024,
        "discard": "new", "storage": "memory", "num_replicas": 1, "no_ack": False,
        "duplicate_window": 60_000_000_000, "allow_direct": True, "deny_delete": True,
        "deny_purge": False, "allow_rollup_hdrs": True, "discard_new_per_subject": True,
        "unknown_field": {"x": [1, 2]}, "min_pending": None})
    return t.done()


def stream_create_retentions(port):
    t = T(port)
    t.api("interest", "STREAM.CREATE.I", {"name": "I", "retention": "interest"})
    t.api("workqueue", "STREAM.CREATE.W", {"name": "W", "retention": "workqueue"})
    t.api("short max_age", "STREAM.CREATE.A", {"name": "A", "max_age": 30_000_000_000})
    return t.done()


def stream_create_idempotent(port):
    t = with_orders(port)
    t.api("same again", "STREAM.CREATE.ORDERS", ORDERS)
    t.api("different", "STREAM.CREATE.ORDERS", {"name": "ORDERS", "subjects": ["x.>"]})
    return t.done()


def stream_create_errors(port):
    t = with_orders(port)
    t.api("overlap", "STREAM.CREATE.O2", {"name": "O2", "subjects": ["orders.new"]})
    t.api("name mismatch", "STREAM.CREATE.A", {"name": "B"})
    t.api("empty body", "STREAM.CREATE.E")
    t.api("bad json", "STREAM.CREATE.E", b"{not json")
    t.api("bad enum", "STREAM.CREATE.E", {"name": "E", "retention": "x"})
    t.api("bad storage", "STREAM.CREATE.E", {"name": "E", "storage": "disk"})
    t.api("discard case", "STREAM.CREATE.DC", {"name": "DC", "discard": "NEW"})
    t.api("replicas 3", "STREAM.CREATE.R", {"name": "R", "num_replicas": 3})
    t.api("replicas 9", "STREAM.CREATE.R", {"name": "R", "num_replicas": 9})
    t.api("replicas -1", "STREAM.CREATE.R", {"name": "R", "num_replicas": -1})
    t.api("sealed", "STREAM.CREATE.S", {"name": "S", "sealed": True})
    t.api("dup subjects", "STREAM.CREATE.D", {"name": "D", "subjects": ["d.a", "d.a"]})
    t.api("self overlap", "STREAM.CREATE.D", {"name": "D", "subjects": ["d.*", "d.a"]})
    t.api("api overlap", "STREAM.CREATE.D", {"name": "D", "subjects": ["$JS.API.>"]})
    t.api("invalid subject", "STREAM.CREATE.D", {"name": "D", "subjects": ["d..a"]})
    t.api("max_age small", "STREAM.CREATE.D", {"name": "D", "max_age": 1000})
    t.api("dup window > age", "STREAM.CREATE.D",
          {"name": "D", "max_age": 1_000_000_000, "duplicate_window": 2_000_000_000})
    t.api("dup window small", "STREAM.CREATE.D", {"name": "D", "duplicate_window": 1000})
    t.api("rollup no purge", "STREAM.CREATE.D",
          {"name": "D", "allow_rollup_hdrs": True, "deny_purge": True})
    t.api("discard new per", "STREAM.CREATE.D", {"name": "D", "discard_new_per_subject": True})
    t.api("mirror direct", "STREAM.CREATE.D", {"name": "D", "mirror_direct": True})
    t.api("path sep", "STREAM.CREATE.a/b", {"name": "a/b"})
    return t.done()


def stream_update(port):
    t = with_orders(port, 2)
    t.api("update", "STREAM.UPDATE.ORDERS",
          {"name": "ORDERS", "subjects": ["orders.>", "more.>"], "max_msgs": 10})
    t.api("storage", "STREAM.UPDATE.ORDERS",
          {"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory"})
    t.api("retention", "STREAM.UPDATE.ORDERS",
          {"name": "ORDERS", "subjects": ["orders.>"], "retention": "interest"})
    t.api("max_consumers", "STREAM.UPDATE.ORDERS",
          {"name": "ORDERS", "subjects": ["orders.>"], "max_consumers": 3})
    t.api("not found", "STREAM.UPDATE.NOPE", {"name": "NOPE"})
    t.api("mismatch", "STREAM.UPDATE.ORDERS", {"name": "OTHER"})
    t.api("bad json", "STREAM.UPDATE.ORDERS", b"[")
    return t.done()


def stream_info(port):
    t = with_orders(port, 3)
    t.api("info", "STREAM.INFO.ORDERS")
    t.api("subjects", "STREAM.INFO.ORDERS", {"subjects_filter": ">"})
    t.api("subjects a", "STREAM.INFO.ORDERS", {"subjects_filter": "orders.a"})
    t.api("not found", "STREAM.INFO.NOPE")
    t.no_reply("no name", "$JS.API.STREAM.INFO")
    return t.done()


def stream_info_deleted(port):
    t = with_orders(port, 4)
    t.api("del 2", "STREAM.MSG.DELETE.ORDERS", {"seq": 2})
    t.api("info", "STREAM.INFO.ORDERS")
    t.api("deleted details", "STREAM.INFO.ORDERS", {"deleted_details": True})
    return t.done()


def stream_names_list(port):
    t = with_orders(port, 1)
    t.api("create B", "STREAM.CREATE.B", {"name": "B", "subjects": ["b.>"]})
    t.api("names", "STREAM.NAMES")
    t.api("names filtered", "STREAM.NAMES", {"subject": "b.x"})
    t.api("names no match", "STREAM.NAMES", {"subject": "zzz"})
    t.api("names offset", "STREAM.NAMES", {"offset": 5})
    t.api("list filtered", "STREAM.LIST", {"subject": "orders.>"})
    t.api("names bad json", "STREAM.NAMES", b"{")
    return t.done()


def stream_names_empty(port):
    t = T(port)
    t.api("names", "STREAM.NAMES")
    t.api("list", "STREAM.LIST")
    return t.done()


def stream_delete(port):
    t = with_orders(port, 1)
    t.api("delete", "STREAM.DELETE.ORDERS")
    t.api("again", "STREAM.DELETE.ORDERS")
    t.api("info", "STREAM.INFO.ORDERS")
    return t.done()


def stream_purge_all(port):
    t = with_orders(port, 5)
    t.api("purge", "STREAM.PURGE.ORDERS")
    t.api("info", "STREAM.INFO.ORDERS")
    t.publish("pub after", "orders.a", "x")
    t.api("not found", "STREAM.PURGE.NOPE")
    return t.done()


def stream_purge_variants(port):
    t = with_orders(port, 8)
    t.api("filter", "STREAM.PURGE.ORDERS", {"filter": "orders.b"})
    t.api("seq", "STREAM.PURGE.ORDERS", {"seq": 3})
    t.api("keep", "STREAM.PURGE.ORDERS", {"keep": 2})
    t.api("seq and keep", "STREAM.PURGE.ORDERS", {"seq": 7, "keep": 1})
    t.api("filter keep", "STREAM.PURGE.ORDERS", {"filter": "orders.a", "keep": 1})
    t.api("info", "STREAM.INFO.ORDERS")
    t.api("bad json", "STREAM.PURGE.ORDERS", b"{")
    return t.done()


def stream_deny_purge_delete(port):
    t = T(port)
    t.api("create", "STREAM.CREATE.D",
          {"name": "D", "subjects": ["d.>"], "deny_purge": True, "deny_delete": True})
    t.publish("pub", "d.a", "x")
    t.api("purge", "STREAM.PURGE.D")
    t.api("delete msg", "STREAM.MSG.DELETE.D", {"seq": 1})
    t.api("update cancel", "STREAM.UPDATE.D", {"name": "D", "subjects": ["d.>"]})
    return t.done()


def msg_get(port):
    t = with_orders(port, 3)
    t.publish("hpub", "orders.h", "with hdr", [("X-Foo", "bar")])
    t.api("seq", "STREAM.MSG.GET.ORDERS", {"seq": 1})
    t.api("hdrs", "STREAM.MSG.GET.ORDERS", {"seq": 4})
    t.api("last by subj", "STREAM.MSG.GET.ORDERS", {"last_by_subj": "orders.a"})
    t.api("next by subj", "STREAM.MSG.GET.ORDERS", {"seq": 2, "next_by_subj": "orders.a"})
    t.api("missing", "STREAM.MSG.GET.ORDERS", {"seq": 99})
    t.api("missing subj", "STREAM.MSG.GET.ORDERS", {"last_by_subj": "orders.zz"})
    t.api("empty", "STREAM.MSG.GET.ORDERS")
    t.api("bad json", "STREAM.MSG.GET.ORDERS", b"x")
    t.api("both", "STREAM.MSG.GET.ORDERS", {"seq": 1, "last_by_subj": "orders.a"})
    t.api("no stream", "STREAM.MSG.GET.NOPE", {"seq": 1})
    return t.done()


def msg_delete(port):
    t = with_orders(port, 3)
    t.api("delete", "STREAM.MSG.DELETE.ORDERS", {"seq": 2})
    t.api("again", "STREAM.MSG.DELETE.ORDERS", {"seq": 2})
    t.api("no erase", "STREAM.MSG.DELETE.ORDERS", {"seq": 3, "no_erase": True})
    t.api("beyond", "STREAM.MSG.DELETE.ORDERS", {"seq": 50})
    t.api("empty", "STREAM.MSG.DELETE.ORDERS")
    t.api("get deleted", "STREAM.MSG.GET.ORDERS", {"seq": 2})
    t.api("no stream", "STREAM.MSG.DELETE.NOPE", {"seq": 1})
    return t.done()


def direct_get(port):
    t = T(port)
    t.api("create", "STREAM.CREATE.D", {"name": "D", "subjects": ["d.*"], "allow_direct": True})
    t.publish("pub", "d.a", "A1", [("X-Foo", "bar")])
    t.publish("pub", "d.b", "B1")
    frames = t.c.request("$JS.API.DIRECT.GET.D", {"seq": 1})
    for f in frames:
        t.add("seq 1 status", f.status() or b"")
        t.add("seq 1 data", f.data)
    frames = t.c.request("$JS.API.DIRECT.GET.D.d.b")
    for f in frames:
        t.add("last d.b status", f.status() or b"")
        t.add("last d.b data", f.data)
    frames = t.c.request("$JS.API.DIRECT.GET.D", {"seq": 9})
    for f in frames:
        t.add("missing", f.hdrs or b"")
    t.api("no direct", "STREAM.CREATE.N", {"name": "N"})
    t.no_reply("no direct get", "$JS.API.DIRECT.GET.N", b'{"seq":1}')
    return t.done()


# --- publish -------------------------------------------------------------------------

def publish_pubacks(port):
    t = with_orders(port)
    t.publish("plain", "orders.new", "hello")
    t.publish("msg id", "orders.new", "x", [("Nats-Msg-Id", "abc")])
    t.publish("duplicate", "orders.new", "x", [("Nats-Msg-Id", "abc")])
    t.publish("other id", "orders.new", "y", [("Nats-Msg-Id", "abd")])
    t.publish("no stream", "nowhere", "z")
    t.c.pub("orders.new", "no reply")
    t.api("info", "STREAM.INFO.ORDERS")
    return t.done()


def publish_expectations(port):
    t = with_orders(port, 2)
    t.publish("exp stream ok", "orders.a", "x", [("Nats-Expected-Stream", "ORDERS")])
    t.publish("exp stream bad", "orders.a", "x", [("Nats-Expected-Stream", "OTHER")])
    t.publish("last seq ok", "orders.a", "x", [("Nats-Expected-Last-Sequence", "3")])
    t.publish("last seq bad", "orders.a", "x", [("Nats-Expected-Last-Sequence", "1")])
    t.publish("subj seq ok", "orders.b", "x", [("Nats-Expected-Last-Subject-Sequence", "2")])
    t.publish("subj seq bad", "orders.b", "x", [("Nats-Expected-Last-Subject-Sequence", "2")])
    t.publish("subj seq 0 new", "orders.c", "x", [("Nats-Expected-Last-Subject-Sequence", "0")])
    t.publish("subj seq 0 old", "orders.c", "x", [("Nats-Expected-Last-Subject-Sequence", "0")])
    t.publish("msg id", "orders.a", "x", [("Nats-Msg-Id", "m1")])
    t.publish("last id ok", "orders.a", "x", [("Nats-Expected-Last-Msg-Id", "m1")])
    t.publish("last id bad", "orders.a", "x", [("Nats-Expected-Last-Msg-Id", "zz")])
    return t.done()


def publish_limits(port):
    t = T(port)
    t.api("create", "STREAM.CREATE.L", {"name": "L", "subjects": ["l.>"], "max_msgs": 2,
                                        "discard": "new", "max_msg_size": 8, "storage": "memory"})
    t.publish("1", "l.a", "a")
    t.publish("2", "l.a", "b")
    t.publish("full", "l.a", "c")
    t.publish("too big", "l.a", "0123456789")
    t.api("create per", "STREAM.CREATE.P", {"name": "P", "subjects": ["p.>"],
                                            "max_msgs_per_subject": 1, "discard": "new",
                                            "discard_new_per_subject": True})
    t.publish("p1", "p.a", "a")
    t.publish("p full", "p.a", "b")
    t.create = None
    return t.done()


def publish_rollup(port):
    t = T(port)
    t.api("create", "STREAM.CREATE.R", {"name": "R", "subjects": ["r.>"], "allow_rollup_hdrs": True})
    t.publish("1", "r.a", "a")
    t.publish("2", "r.a", "b")
    t.publish("3", "r.b", "c")
    t.publish("rollup sub", "r.a", "d", [("Nats-Rollup", "sub")])
    t.api("info", "STREAM.INFO.R", {"subjects_filter": ">"})
    t.publish("rollup all", "r.b", "e", [("Nats-Rollup", "all")])
    t.api("info all", "STREAM.INFO.R")
    t.publish("rollup bad", "r.b", "e", [("Nats-Rollup", "nope")])
    t.api("create no", "STREAM.CREATE.N", {"name": "N", "subjects": ["n.>"]})
    t.publish("rollup denied", "n.a", "x", [("Nats-Rollup", "sub")])
    return t.done()


def publish_ttl_header(port):
    """A deviation by design: 2.9.10 ignores allow_msg_ttl and Nats-TTL; ringmq follows 2.11
    (issue 14). Run only with --include-deviations."""
    t = T(port)
    t.api("create", "STREAM.CREATE.T", {"name": "T", "subjects": ["t.>"], "allow_msg_ttl": True})
    t.publish("ttl", "t.a", "x", [("Nats-TTL", "5s")])
    t.api("get", "STREAM.MSG.GET.T", {"seq": 1})
    return t.done()


# --- consumers -----------------------------------------------------------------------

def consumer_create_forms(port):
    t = with_orders(port, 3)
    pull = {"ack_policy": "explicit"}
    t.create_consumer("durable legacy", "CONSUMER.DURABLE.CREATE.ORDERS.D1",
                      dict(pull, durable_name="D1", ack_wait=2_000_000_000, max_deliver=3,
                           filter_subject="orders.>"))
    t.create_consumer("new named", "CONSUMER.CREATE.ORDERS.N1", dict(pull, name="N1"))
    t.create_consumer("new filtered", "CONSUMER.CREATE.ORDERS.N2.orders.a",
                      dict(pull, name="N2", filter_subject="orders.a"))
    t.create_consumer("new durable", "CONSUMER.CREATE.ORDERS.N3", dict(pull, durable_name="N3"))
    t.create_consumer("ephemeral", "CONSUMER.CREATE.ORDERS", dict(pull))
    t.create_consumer("ephemeral push", "CONSUMER.CREATE.ORDERS",
                      {"deliver_subject": "push.x", "ack_policy": "none"})
    t.create_consumer("ephemeral named", "CONSUMER.CREATE.ORDERS", dict(pull, name="EN"))
    return t.done()


def consumer_create_push(port):
    t = with_orders(port, 3)
    t.create_consumer("push hb fc", "CONSUMER.DURABLE.CREATE.ORDERS.P1", {
        "durable_name": "P1", "deliver_policy": "all", "ack_policy": "explicit",
        "filter_subject": "orders.a", "replay_policy": "instant", "flow_control": True,
        "idle_heartbeat": 1_000_000_000, "deliver_subject": "push.deliver", "ack_wait": 0,
        "inactive_threshold": 0, "deliver_group": "", "headers_only": True})
    t.create_consumer("ordered", "CONSUMER.CREATE.ORDERS", {
        "deliver_policy": "last_per_subject", "ack_policy": "none", "max_deliver": 1,
        "ack_wait": 79_200_000_000_000, "flow_control": True, "idle_heartbeat": 5_000_000_000,
        "mem_storage": True, "num_replicas": 1, "filter_subject": "orders.>",
        "deliver_subject": "ordered.deliver", "headers_only": True})
    t.create_consumer("backoff", "CONSUMER.CREATE.ORDERS.B1", {
        "name": "B1", "ack_policy": "explicit", "max_deliver": 4,
        "backoff": [1_000_000_000, 2_000_000_000], "deliver_policy": "by_start_sequence",
        "opt_start_seq": 2, "replay_policy": "original", "max_ack_pending": 20,
        "max_waiting": 7, "description": "d", "inactive_threshold": 10_000_000_000})
    t.create_consumer("by time", "CONSUMER.CREATE.ORDERS.T1", {
        "name": "T1", "ack_policy": "all", "deliver_policy": "by_start_time",
        "opt_start_time": "2020-01-02T03:04:05.5Z"})
    t.create_consumer("new/last", "CONSUMER.CREATE.ORDERS.L1",
                      {"name": "L1", "ack_policy": "none", "deliver_policy": "last"})
    return t.done()


def consumer_create_errors(port):
    t = with_orders(port, 1)
    t.api("stream mismatch", "CONSUMER.CREATE.ORDERS.X",
          {"stream_name": "OTHER", "config": {"name": "X"}})
    t.api("no stream", "CONSUMER.CREATE.NOPE.X", {"stream_name": "NOPE", "config": {}})
    t.api("bad json", "CONSUMER.CREATE.ORDERS.X", b"{")
    t.api("empty", "CONSUMER.CREATE.ORDERS.X")
    cases = [
        ("eph with durable", "CONSUMER.CREATE.ORDERS", {"durable_name": "D"}),
        ("durable not set", "CONSUMER.DURABLE.CREATE.ORDERS.D", {}),
        ("durable mismatch", "CONSUMER.DURABLE.CREATE.ORDERS.D", {"durable_name": "E"}),
        ("new durable mismatch", "CONSUMER.CREATE.ORDERS.D", {"durable_name": "E"}),
        ("name and durable", "CONSUMER.CREATE.ORDERS", {"name": "A", "durable_name": ""}),
        ("filter mismatch", "CONSUMER.CREATE.ORDERS.F.orders.a", {"filter_subject": "orders.b"}),
        ("filter not subset", "CONSUMER.CREATE.ORDERS.F", {"filter_subject": "other"}),
        ("bad deliver policy", "CONSUMER.CREATE.ORDERS.F", {"deliver_policy": "sometimes"}),
        ("bad ack policy", "CONSUMER.CREATE.ORDERS.F", {"ack_policy": "maybe"}),
        ("pull hb", "CONSUMER.CREATE.ORDERS.F", {"ack_policy": "explicit",
                                                 "idle_heartbeat": 1_000_000_000}),
        ("pull fc", "CONSUMER.CREATE.ORDERS.F", {"ack_policy": "explicit", "flow_control": True}),
        ("push max waiting", "CONSUMER.CREATE.ORDERS.F", {"deliver_subject": "p", "max_waiting": 3}),
        ("push wildcard", "CONSUMER.CREATE.ORDERS.F", {"deliver_subject": "p.*"}),
        ("push cycle", "CONSUMER.CREATE.ORDERS.F", {"deliver_subject": "orders.x"}),
        ("fc no hb", "CONSUMER.CREATE.ORDERS.F", {"deliver_subject": "p", "flow_control": True}),
        ("small hb", "CONSUMER.CREATE.ORDERS.F", {"deliver_subject": "p", "idle_heartbeat": 50}),
        ("push ack none pending", "CONSUMER.CREATE.ORDERS.F",
         {"deliver_subject": "p", "ack_policy": "none", "max_ack_pending": 5}),
        ("backoff > max deliver", "CONSUMER.CREATE.ORDERS.F",
         {"ack_policy": "explicit", "max_deliver": 2, "backoff": [1, 2]}),
        ("start seq on all", "CONSUMER.CREATE.ORDERS.F", {"opt_start_seq": 3}),
        ("by seq no seq", "CONSUMER.CREATE.ORDERS.F", {"deliver_policy": "by_start_sequence"}),
        ("by time no time", "CONSUMER.CREATE.ORDERS.F", {"deliver_policy": "by_start_time"}),
        ("lps no filter", "CONSUMER.CREATE.ORDERS.F", {"deliver_policy": "last_per_subject"}),
        ("replicas 2", "CONSUMER.CREATE.ORDERS.F", {"num_replicas": 2}),
        ("name with dot", "CONSUMER.DURABLE.CREATE.ORDERS.a", {"durable_name": "a.b"}),
        ("max waiting negative", "CONSUMER.CREATE.ORDERS.F", {"max_waiting": -1}),
    ]
    for label, subject, config in cases:
        t.api(label, subject, {"stream_name": "ORDERS", "config": config})
    t.api("wq ack none", "STREAM.CREATE.WQ", {"name": "WQ", "retention": "workqueue"})
    t.api("wq consumer", "CONSUMER.CREATE.WQ.C", {"stream_name": "WQ",
                                                  "config": {"ack_policy": "none"}})
    return t.done()


def consumer_create_update(port):
    t = with_orders(port, 1)
    cfg = {"durable_name": "D", "ack_policy": "explicit", "max_ack_pending": 10}
    t.create_consumer("create", "CONSUMER.DURABLE.CREATE.ORDERS.D", cfg)
    t.create_consumer("same", "CONSUMER.DURABLE.CREATE.ORDERS.D", cfg)
    t.create_consumer("update pending", "CONSUMER.DURABLE.CREATE.ORDERS.D",
                      dict(cfg, max_ack_pending=20))
    t.create_consumer("change policy", "CONSUMER.DURABLE.CREATE.ORDERS.D",
                      dict(cfg, ack_policy="all"))
    t.create_consumer("to push", "CONSUMER.DURABLE.CREATE.ORDERS.D",
                      dict(cfg, deliver_subject="p.x"))
    return t.done()


def consumer_info_names_list_delete(port):
    t = with_orders(port, 3)
    for name in ("C2", "C1"):
        t.create_consumer("create " + name, "CONSUMER.CREATE.ORDERS." + name,
                          {"name": name, "ack_policy": "explicit"})
    t.api("info", "CONSUMER.INFO.ORDERS.C1")
    t.api("info missing", "CONSUMER.INFO.ORDERS.NOPE")
    t.api("info no stream", "CONSUMER.INFO.NOPE.C1")
    t.api("names", "CONSUMER.NAMES.ORDERS")
    t.api("names offset", "CONSUMER.NAMES.ORDERS", {"offset": 1})
    t.api("list", "CONSUMER.LIST.ORDERS")
    t.api("names no stream", "CONSUMER.NAMES.NOPE")
    t.api("delete", "CONSUMER.DELETE.ORDERS.C1")
    t.api("delete again", "CONSUMER.DELETE.ORDERS.C1")
    t.api("delete no stream", "CONSUMER.DELETE.NOPE.C1")
    t.api("stream info", "STREAM.INFO.ORDERS")
    return t.done()


# --- pull ----------------------------------------------------------------------------

def pull(t, label, body, n, deadline=3.0):
    frames = t.c.request("$JS.API.CONSUMER.MSG.NEXT.ORDERS.P", body, n=n, deadline=deadline,
                         any_subject=True)
    for i, f in enumerate(frames):
        t.add("%s %d subject" % (label, i), b"(inbox)" if f.subject.startswith(b"_INBOX.")
              else f.subject)
        t.frame("%s %d" % (label, i), f)
    if len(frames) < n:
        t.add(label, b"only %d frames" % len(frames))
    return frames


def with_pull(port, n, **cfg):
    t = with_orders(port, n)
    config = dict({"durable_name": "P", "ack_policy": "explicit"}, **cfg)
    t.create_consumer("consumer", "CONSUMER.DURABLE.CREATE.ORDERS.P", config)
    return t


def pull_batch_and_ack(port):
    t = with_pull(port, 4)
    frames = pull(t, "batch 2", {"batch": 2}, 2)
    t.c.pub(frames[0].reply, "+ACK")
    acked = t.c.request(frames[1].reply.decode(), "+ACK")
    t.add("ack reply", b"%d replies, %r" % (len(acked), acked[0].data if acked else b""))
    pull(t, "empty body", b"", 1)
    pull(t, "bare int", b"1", 1)
    t.api("info", "CONSUMER.INFO.ORDERS.P")
    return t.done()


def pull_no_wait(port):
    t = with_pull(port, 1)
    pull(t, "no_wait", {"batch": 5, "no_wait": True}, 2)
    pull(t, "no_wait empty", {"batch": 1, "no_wait": True}, 1)
    return t.done()


def pull_expires(port):
    t = with_pull(port, 1)
    pull(t, "expires", {"batch": 3, "expires": 300_000_000}, 2)
    pull(t, "no_wait expires", {"batch": 2, "expires": 300_000_000, "no_wait": True}, 1)
    return t.done()


def pull_bad_requests(port):
    t = with_pull(port, 1)
    pull(t, "hb too large", {"batch": 1, "expires": 1_000_000_000,
                             "idle_heartbeat": 600_000_000}, 1)
    pull(t, "max bytes", {"batch": 1, "max_bytes": 2, "no_wait": True}, 1)
    t.no_reply("unknown consumer", "$JS.API.CONSUMER.MSG.NEXT.ORDERS.NOPE", b"1")
    t.create_consumer("push", "CONSUMER.CREATE.ORDERS.PU",
                      {"name": "PU", "deliver_subject": "pu.x"})
    frames = t.c.request("$JS.API.CONSUMER.MSG.NEXT.ORDERS.PU", b"1")
    for f in frames:
        t.add("pull on push", f.hdrs or b"")
    return t.done()


def ack_kinds(port):
    t = with_pull(port, 5, ack_wait=1_000_000_000)
    frames = pull(t, "batch 5", {"batch": 5}, 5)
    acks = [f.reply.decode() for f in frames]
    t.add("tokens", b"%d" % len(acks[0].split(".")))
    for label, ack, body in (("nak", acks[0], "-NAK"),
                             ("nak delay", acks[1], '-NAK {"delay":60000000000}'),
                             ("wpi", acks[2], "+WPI"), ("term", acks[3], "+TERM"),
                             ("ack", acks[4], "")):
        got = t.c.request(ack, body)
        t.add(label, b"%d replies" % len(got))
    pull(t, "redelivered", {"batch": 1, "no_wait": True}, 1)
    t.api("info", "CONSUMER.INFO.ORDERS.P")
    return t.done()


def ack_next(port):
    t = with_pull(port, 3)
    frames = pull(t, "first", {"batch": 1}, 1)
    inbox = t.c.inbox()
    t.c.pub(frames[0].reply, "+NXT", inbox)
    for f in t.c.wait_frames(1):
        t.add("next subject", f.subject)
        t.frame("next", f)
    return t.done()


def push_delivery(port):
    t = with_orders(port, 2)
    t.c.send(b"SUB push.deliver 2\r\n")
    # Deliveries may overtake the create response: collect all four frames, then split.
    inbox = t.c.inbox()
    t.c.pub(API + "CONSUMER.CREATE.ORDERS.PD", json.dumps({"stream_name": "ORDERS", "config": {
        "name": "PD", "deliver_subject": "push.deliver", "ack_policy": "explicit",
        "idle_heartbeat": 200_000_000, "flow_control": True}}), inbox)
    frames = t.c.wait_frames(4)
    for f in [f for f in frames if f.subject == inbox]:
        t.frame("push create", f)
    # Deliveries carry the stored subject; the idle heartbeat comes on the deliver subject.
    for i, f in enumerate([f for f in frames if f.subject != inbox]):
        t.add("push %d subject" % i, f.subject)
        t.frame("push %d" % i, f)
    return t.done()


def empty_request_bodies(port):
    """Requests that take no body: `null` and a non-empty object are refused (10038); an
    empty object is fine."""
    t = with_orders(port, 1)
    t.create_consumer("consumer", "CONSUMER.CREATE.ORDERS.C", {"name": "C", "ack_policy": "explicit"})
    t.api("consumer info null", "CONSUMER.INFO.ORDERS.C", b"null")
    t.api("consumer info {}", "CONSUMER.INFO.ORDERS.C", b"{}")
    t.api("consumer delete member", "CONSUMER.DELETE.ORDERS.C", {"x": 1})
    t.api("stream delete null", "STREAM.DELETE.ORDERS", b"null")
    t.api("stream info null", "STREAM.INFO.ORDERS", b"null")
    t.api("stream names null", "STREAM.NAMES", b"null")
    t.api("stream delete {}", "STREAM.DELETE.ORDERS", b"{}")
    return t.done()


# --- subjects ------------------------------------------------------------------------

def unknown_api_subjects(port):
    t = T(port)
    for subject in ("$JS.API.NOPE", "$JS.API.STREAM.FROB.X", "$JS.API.CONSUMER.INFO.ORDERS",
                    "$JS.API.STREAM.CREATE"):
        t.no_reply(subject, subject, b"{}")
    return t.done()


ROWS = [
    account_info_empty, account_info_usage,
    stream_create_defaults, stream_create_full, stream_create_retentions,
    stream_create_idempotent, stream_create_errors, stream_update, stream_info,
    stream_info_deleted, stream_names_list, stream_names_empty, stream_delete,
    stream_purge_all, stream_purge_variants, stream_deny_purge_delete, msg_get, msg_delete,
    direct_get, publish_pubacks, publish_expectations, publish_limits, publish_rollup,
    consumer_create_forms, consumer_create_push, consumer_create_errors,
    consumer_create_update, consumer_info_names_list_delete, pull_batch_and_ack, pull_no_wait,
    pull_expires, pull_bad_requests, ack_kinds, ack_next, push_delivery, empty_request_bodies,
    unknown_api_subjects,
]

# Rows where ringmq differs from 2.9.10 on purpose.
DEVIATIONS = [publish_ttl_header]
