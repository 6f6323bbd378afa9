//! `$JS.API.<…>` (and `$JS.<domain>.API.<…>`) subject → the request it names, with its
//! tokens. Subjects that name nothing get `None`: nats-server does not answer them.

use super::consumer_config::CreateForm;

/// An API request, by subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiRequest {
    AccountInfo,
    StreamCreate {
        stream: String,
    },
    StreamUpdate {
        stream: String,
    },
    StreamInfo {
        stream: String,
    },
    StreamDelete {
        stream: String,
    },
    StreamPurge {
        stream: String,
    },
    StreamNames,
    StreamList,
    MsgGet {
        stream: String,
    },
    MsgDelete {
        stream: String,
    },
    /// `DIRECT.GET.<stream>` (body) or `DIRECT.GET.<stream>.<subject>` (last for subject).
    DirectGet {
        stream: String,
        last_for: Option<String>,
    },
    ConsumerCreate {
        stream: String,
        form: CreateForm,
    },
    ConsumerInfo {
        stream: String,
        consumer: String,
    },
    ConsumerDelete {
        stream: String,
        consumer: String,
    },
    ConsumerNames {
        stream: String,
    },
    ConsumerList {
        stream: String,
    },
    /// `CONSUMER.MSG.NEXT.<stream>.<consumer>`.
    MsgNext {
        stream: String,
        consumer: String,
    },
}

/// Routes a subject. `domain` is this server's JetStream domain: `$JS.<domain>.API.…` is
/// the same API.
pub fn route(subject: &str, domain: Option<&str>) -> Option<ApiRequest> {
    let rest = subject.strip_prefix("$JS.")?;
    let rest = match rest.strip_prefix("API.") {
        Some(r) => r,
        None => rest.strip_prefix(domain?)?.strip_prefix(".API.")?,
    };
    let t: Vec<&str> = rest.split('.').collect();
    if t.iter().any(|x| x.is_empty()) {
        return None;
    }
    let s = |i: usize| t[i].to_string();
    use ApiRequest::*;
    Some(match t.as_slice() {
        ["INFO"] => AccountInfo,
        ["STREAM", "CREATE", _] => StreamCreate { stream: s(2) },
        ["STREAM", "UPDATE", _] => StreamUpdate { stream: s(2) },
        ["STREAM", "INFO", _] => StreamInfo { stream: s(2) },
        ["STREAM", "DELETE", _] => StreamDelete { stream: s(2) },
        ["STREAM", "PURGE", _] => StreamPurge { stream: s(2) },
        ["STREAM", "NAMES"] => StreamNames,
        ["STREAM", "LIST"] => StreamList,
        ["STREAM", "MSG", "GET", _] => MsgGet { stream: s(3) },
        ["STREAM", "MSG", "DELETE", _] => MsgDelete { stream: s(3) },
        ["DIRECT", "GET", _] => DirectGet {
            stream: s(2),
            last_for: None,
        },
        ["DIRECT", "GET", _, ..] => DirectGet {
            stream: s(2),
            last_for: Some(t[3..].join(".")),
        },
        ["CONSUMER", "CREATE", _] => ConsumerCreate {
            stream: s(2),
            form: CreateForm::LegacyEphemeral,
        },
        ["CONSUMER", "CREATE", _, _] => ConsumerCreate {
            stream: s(2),
            form: CreateForm::Named {
                consumer: s(3),
                filter: None,
            },
        },
        ["CONSUMER", "CREATE", _, _, ..] => ConsumerCreate {
            stream: s(2),
            form: CreateForm::Named {
                consumer: s(3),
                filter: Some(t[4..].join(".")),
            },
        },
        ["CONSUMER", "DURABLE", "CREATE", _, _] => ConsumerCreate {
            stream: s(3),
            form: CreateForm::LegacyDurable { consumer: s(4) },
        },
        ["CONSUMER", "INFO", _, _] => ConsumerInfo {
            stream: s(2),
            consumer: s(3),
        },
        ["CONSUMER", "DELETE", _, _] => ConsumerDelete {
            stream: s(2),
            consumer: s(3),
        },
        ["CONSUMER", "NAMES", _] => ConsumerNames { stream: s(2) },
        ["CONSUMER", "LIST", _] => ConsumerList { stream: s(2) },
        ["CONSUMER", "MSG", "NEXT", _, _] => MsgNext {
            stream: s(3),
            consumer: s(4),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let st = |x: &str| x.to_string();
        let cases = [
            ("$JS.API.INFO", Some(ApiRequest::AccountInfo)),
            (
                "$JS.API.STREAM.CREATE.ORDERS",
                Some(ApiRequest::StreamCreate {
                    stream: st("ORDERS"),
                }),
            ),
            (
                "$JS.API.STREAM.MSG.GET.KV_cfg",
                Some(ApiRequest::MsgGet {
                    stream: st("KV_cfg"),
                }),
            ),
            (
                "$JS.API.DIRECT.GET.KV_cfg.$KV.cfg.color",
                Some(ApiRequest::DirectGet {
                    stream: st("KV_cfg"),
                    last_for: Some(st("$KV.cfg.color")),
                }),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                Some(ApiRequest::ConsumerCreate {
                    stream: st("S"),
                    form: CreateForm::LegacyEphemeral,
                }),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.C",
                Some(ApiRequest::ConsumerCreate {
                    stream: st("S"),
                    form: CreateForm::Named {
                        consumer: st("C"),
                        filter: None,
                    },
                }),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.C.orders.>",
                Some(ApiRequest::ConsumerCreate {
                    stream: st("S"),
                    form: CreateForm::Named {
                        consumer: st("C"),
                        filter: Some(st("orders.>")),
                    },
                }),
            ),
            (
                "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
                Some(ApiRequest::ConsumerCreate {
                    stream: st("S"),
                    form: CreateForm::LegacyDurable { consumer: st("C") },
                }),
            ),
            (
                "$JS.API.CONSUMER.MSG.NEXT.S.C",
                Some(ApiRequest::MsgNext {
                    stream: st("S"),
                    consumer: st("C"),
                }),
            ),
            ("$JS.hub.API.STREAM.NAMES", Some(ApiRequest::StreamNames)),
            // No reply from nats-server for these (§A.0.2).
            ("$JS.API.NOPE", None),
            ("$JS.API.STREAM.INFO", None),
            ("$JS.API.STREAM.CREATE", None),
            ("$JS.API.CONSUMER.INFO.ORDERS", None),
            ("$JS.API.CONSUMER.DURABLE.CREATE.S.C.x", None),
            ("$JS.other.API.INFO", None),
            ("$JS.API.STREAM.INFO.", None),
        ];
        for (subject, want) in cases {
            assert_eq!(route(subject, Some("hub")), want, "{subject}");
        }
        assert_eq!(route("$JS.hub.API.INFO", None), None);
    }
}
