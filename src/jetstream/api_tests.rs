use super::*;
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig};

fn s(r: &Response) -> String {
    String::from_utf8(r.to_json()).unwrap()
}

const T: &str = "2026-11-22T03:22:15.707477746Z";
fn t() -> GoTime {
    GoTime::parse(T).unwrap()
}

#[test]
fn stream_create_response_as_2_9_10() {
    // Spec §A.4, a nats-server 2.9.10 capture.
    let config = StreamConfig::parse(br#"{"name":"ORDERS","subjects":["orders.>"],"max_msgs":1000,"max_bytes":1048576,"max_age":3600000000000,"max_msg_size":1024}"#).unwrap().checked().unwrap();
    let info = StreamInfo {
        config,
        created: t(),
        state: StreamState::default(),
    };
    assert_eq!(
        s(&Response::ok(
            types::STREAM_CREATE,
            Payload::Stream(info, true)
        )),
        format!(
            r#"{{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":1000,"max_bytes":1048576,"max_age":3600000000000,"max_msgs_per_subject":-1,"max_msg_size":1024,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}},"created":"{T}","state":{{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}},"did_create":true}}"#
        )
    );
}

#[test]
fn stream_info_with_subjects_and_deleted() {
    let config = StreamConfig::parse(br#"{"name":"R","subjects":["r.>"]}"#)
        .unwrap()
        .checked()
        .unwrap();
    let state = StreamState {
        messages: 2,
        bytes: 102,
        first_seq: 3,
        first_ts: t(),
        last_seq: 5,
        last_ts: t(),
        num_subjects: 2,
        subjects: vec![("r.b".into(), 1), ("r.a".into(), 1)],
        num_deleted: 1,
        deleted: vec![4],
        consumer_count: 0,
    };
    let mut r = Response::ok(
        types::STREAM_INFO,
        Payload::Stream(
            StreamInfo {
                config,
                created: t(),
                state,
            },
            false,
        ),
    );
    r.paged = Some(Paged {
        total: 2,
        offset: 0,
        limit: SUBJECTS_LIMIT,
    });
    let got = s(&r);
    assert!(got.starts_with(r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":2,"offset":0,"limit":100000,"config":{"name":"R""#), "{got}");
    assert!(got.ends_with(&format!(r#""created":"{T}","state":{{"messages":2,"bytes":102,"first_seq":3,"first_ts":"{T}","last_seq":5,"last_ts":"{T}","num_subjects":2,"subjects":{{"r.a":1,"r.b":1}},"num_deleted":1,"deleted":[4],"consumer_count":0}}}}"#)), "{got}");
}

#[test]
fn error_envelopes_as_2_9_10() {
    // jscompare.py --dump against nats-server 2.9.10.
    let nf = ApiError::new(ErrorId::StreamNotFound);
    let cases = [
        (
            types::STREAM_INFO,
            r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#,
        ),
        (
            types::STREAM_CREATE,
            r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
        ),
        (
            types::STREAM_PURGE,
            r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"purged":0}"#,
        ),
        (
            types::STREAM_NAMES,
            r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"streams":null}"#,
        ),
        (
            types::CONSUMER_NAMES,
            r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#,
        ),
        (
            types::CONSUMER_DELETE,
            r#"{"type":"io.nats.jetstream.api.v1.consumer_delete_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
        ),
        (
            types::MSG_GET,
            r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
        ),
    ];
    for (kind, want) in cases {
        assert_eq!(s(&Response::error(kind, nf.clone())), want);
    }
}

#[test]
fn small_responses_as_2_9_10() {
    assert_eq!(
        s(&Response::ok(
            types::STREAM_DELETE,
            Payload::Success { success: true }
        )),
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}"#
    );
    assert_eq!(
        s(&Response::ok(
            types::STREAM_PURGE,
            Payload::Purged {
                success: true,
                purged: 5
            }
        )),
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":5}"#
    );
    let mut names = Response::ok(
        types::STREAM_NAMES,
        Payload::StreamNames {
            streams: Some(vec!["B".into(), "ORDERS".into()]),
        },
    );
    names.paged = Some(Paged {
        total: 2,
        offset: 0,
        limit: NAMES_LIMIT,
    });
    assert_eq!(
        s(&names),
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":2,"offset":0,"limit":1024,"streams":["B","ORDERS"]}"#
    );
    // No streams: `null` for names, `[]` for list.
    names.payload = Payload::StreamNames { streams: None };
    names.paged = Some(Paged {
        total: 0,
        offset: 0,
        limit: NAMES_LIMIT,
    });
    assert_eq!(
        s(&names),
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":0,"offset":0,"limit":1024,"streams":null}"#
    );
    let mut list = Response::ok(types::STREAM_LIST, Payload::StreamList { streams: vec![] });
    list.paged = Some(Paged {
        total: 0,
        offset: 0,
        limit: LIST_LIMIT,
    });
    assert_eq!(
        s(&list),
        r#"{"type":"io.nats.jetstream.api.v1.stream_list_response","total":0,"offset":0,"limit":256,"streams":[]}"#
    );
    let info = AccountInfo {
        storage: 120,
        streams: 1,
        api: ApiStats {
            total: 2,
            errors: 1,
        },
        ..Default::default()
    };
    assert_eq!(
        s(&Response::ok(
            types::ACCOUNT_INFO,
            Payload::AccountInfo(info)
        )),
        r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":120,"streams":1,"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,"max_bytes_required":false},"api":{"total":2,"errors":1}}"#
    );
    let msg = StoredMsg {
        subject: "orders.new".into(),
        seq: 2,
        hdrs: b"NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n".to_vec(),
        data: b"hello2".to_vec(),
        time: GoTime::utc(1_795_317_735_714_049_008),
    };
    assert_eq!(
        s(&Response::ok(
            types::MSG_GET,
            Payload::Message { message: msg }
        )),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"orders.new","seq":2,"hdrs":"TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBhYmMNCg0K","data":"aGVsbG8y","time":"2026-11-22T03:22:15.714049008Z"}}"#
    );
}

#[test]
fn consumer_info_as_2_9_10() {
    let config = ConsumerConfig {
        durable_name: "P".into(),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    };
    let stream = StreamConfig::parse(br#"{"name":"ORDERS","subjects":["orders.>"]}"#)
        .unwrap()
        .checked()
        .unwrap();
    let info = ConsumerInfo {
        stream_name: "ORDERS".into(),
        name: "P".into(),
        created: t(),
        config: config.checked(&stream).unwrap(),
        delivered: SequenceInfo {
            consumer_seq: 4,
            stream_seq: 4,
            last_active: Some(t()),
        },
        ack_floor: SequenceInfo {
            consumer_seq: 2,
            stream_seq: 2,
            last_active: Some(t()),
        },
        num_ack_pending: 2,
        num_redelivered: 0,
        num_waiting: 0,
        num_pending: 0,
        push_bound: false,
    };
    assert_eq!(
        s(&Response::ok(types::CONSUMER_INFO, Payload::Consumer(info))),
        format!(
            r#"{{"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"ORDERS","name":"P","created":"{T}","config":{{"durable_name":"P","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}},"delivered":{{"consumer_seq":4,"stream_seq":4,"last_active":"{T}"}},"ack_floor":{{"consumer_seq":2,"stream_seq":2,"last_active":"{T}"}},"num_ack_pending":2,"num_redelivered":0,"num_waiting":0,"num_pending":0}}"#
        )
    );
}

#[test]
fn pubacks_as_2_9_10() {
    let ack = |seq, duplicate, domain: Option<&str>| {
        PubAck::Stored {
            stream: "ORDERS".into(),
            domain: domain.map(Into::into),
            seq,
            duplicate,
        }
        .to_json()
    };
    assert_eq!(ack(1, false, None), br#"{"stream":"ORDERS", "seq":1}"#);
    assert_eq!(
        ack(2, true, None),
        br#"{"stream":"ORDERS", "seq":2,"duplicate": true}"#
    );
    assert_eq!(
        ack(2, false, Some("hub")),
        br#"{"stream":"ORDERS", "domain":"hub", "seq":2}"#
    );
    let err = PubAck::Error {
        stream: "ORDERS".into(),
        error: ApiError::wrong_last_sequence(4),
    }
    .to_json();
    assert_eq!(err, br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"ORDERS","seq":0}"#);
}

#[test]
fn request_bodies() {
    assert_eq!(
        MsgGetRequest::parse(br#"{"seq":1}"#),
        Ok(MsgGetRequest::Seq(1))
    );
    assert_eq!(
        MsgGetRequest::parse(br#"{"last_by_subj": "$KV.cfg.color"}"#),
        Ok(MsgGetRequest::LastBySubject("$KV.cfg.color".into()))
    );
    assert_eq!(
        MsgGetRequest::parse(br#"{"seq":2,"next_by_subj":"orders.a"}"#),
        Ok(MsgGetRequest::NextBySubject {
            from: 2,
            subject: "orders.a".into()
        })
    );
    assert_eq!(MsgGetRequest::parse(b"").unwrap_err().err_code, 10003);
    assert_eq!(
        MsgGetRequest::parse(br#"{"seq":1,"last_by_subj":"orders.a"}"#)
            .unwrap_err()
            .err_code,
        10003
    );
    assert_eq!(MsgGetRequest::parse(b"x").unwrap_err().err_code, 10025);
    assert_eq!(
        PurgeRequest::parse(br#"{"seq":7,"keep":1}"#)
            .unwrap_err()
            .err_code,
        10003
    );
    assert_eq!(PurgeRequest::parse(b"{").unwrap_err().err_code, 10025);
    assert_eq!(PurgeRequest::parse(b""), Ok(PurgeRequest::default()));
    assert_eq!(
        PurgeRequest::parse(br#"{"filter":"orders.a","keep":1}"#),
        Ok(PurgeRequest {
            filter: "orders.a".into(),
            keep: 1,
            seq: 0
        })
    );
    assert_eq!(MsgDeleteRequest::parse(b"").unwrap_err().err_code, 10003);
    assert_eq!(
        MsgDeleteRequest::parse(br#"{"seq":3,"no_erase":true}"#),
        Ok(MsgDeleteRequest {
            seq: 3,
            no_erase: true
        })
    );
    assert_eq!(
        StreamInfoRequest::parse(br#"{"subjects_filter":">"}"#)
            .unwrap()
            .subjects_filter,
        ">"
    );
    assert_eq!(
        ListRequest::parse(br#"{"offset":5,"subject":"b.x"}"#),
        Ok(ListRequest {
            offset: 5,
            subject: "b.x".into()
        })
    );
    assert_eq!(ListRequest::parse(b"{").unwrap_err().err_code, 10025);
    // JSON null, async-nats's body for STREAM.INFO: the empty request, as in nats-server.
    assert_eq!(
        StreamInfoRequest::parse(b"null"),
        Ok(StreamInfoRequest::default())
    );
    assert_eq!(ListRequest::parse(b"null"), Ok(ListRequest::default()));
    assert_eq!(MsgGetRequest::parse(b"null").unwrap_err().err_code, 10003);
}
