use super::*;
use crate::jetstream::json::to_vec;

fn orders() -> StreamConfig {
    StreamConfig::parse(br#"{"name":"ORDERS","subjects":["orders.>"]}"#)
        .unwrap()
        .checked()
        .unwrap()
}

fn create(subject_form: CreateForm, body: &str) -> Result<String, ApiError> {
    let req = CreateConsumerRequest::parse(body.as_bytes())?;
    let cfg = req
        .check_subject("ORDERS", &subject_form)?
        .checked(&orders())?;
    Ok(String::from_utf8(to_vec(&cfg)).unwrap())
}

fn named(c: &str) -> CreateForm {
    CreateForm::Named {
        consumer: c.into(),
        filter: None,
    }
}

#[test]
fn wildcard_filters_wider_than_the_stream() {
    // nats-server 2.9.10 takes a wildcard filter that covers a whole stream subject: `>` and
    // `*.>` on `orders.>` (the JavaScript client's ordered consumers ask for `>`).
    for filter in [">", "*.>", "orders.>", "orders.*"] {
        let body =
            format!(r#"{{"stream_name":"ORDERS","config":{{"filter_subject":"{filter}"}}}}"#);
        let created = create(named("W"), &body);
        assert!(created.is_ok(), "filter {filter}: {created:?}");
    }
}

#[test]
fn configs_echoed_as_2_9_10() {
    // The `config` members of nats-server 2.9.10's consumer_create_response (jscompare.py
    // rows consumer_create_forms / consumer_create_push, and spec §A.7).
    let durable = CreateForm::LegacyDurable {
        consumer: "PULL1".into(),
    };
    assert_eq!(
        create(durable, r#"{"stream_name": "ORDERS", "config": {"durable_name": "PULL1", "deliver_policy": "all", "ack_policy": "explicit", "ack_wait": 2000000000, "max_deliver": 3, "filter_subject": "orders.>", "replay_policy": "instant", "idle_heartbeat": 0, "inactive_threshold": 0}}"#).unwrap(),
        r#"{"durable_name":"PULL1","deliver_policy":"all","ack_policy":"explicit","ack_wait":2000000000,"max_deliver":3,"filter_subject":"orders.\u003e","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#
    );
    assert_eq!(
        create(CreateForm::Named { consumer: "N2".into(), filter: Some("orders.a".into()) }, r#"{"stream_name":"ORDERS","config":{"ack_policy":"explicit","name":"N2","filter_subject":"orders.a"}}"#).unwrap(),
        r#"{"name":"N2","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"orders.a","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0}"#
    );
    assert_eq!(
        create(
            named("N3"),
            r#"{"stream_name":"ORDERS","config":{"ack_policy":"explicit","durable_name":"N3"}}"#
        )
        .unwrap(),
        r#"{"durable_name":"N3","name":"N3","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#
    );
    assert_eq!(
        create(
            CreateForm::LegacyEphemeral,
            r#"{"stream_name":"ORDERS","config":{"deliver_subject":"push.x","ack_policy":"none"}}"#
        )
        .unwrap(),
        r#"{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"push.x","inactive_threshold":5000000000,"num_replicas":0}"#
    );
    assert_eq!(
        create(CreateForm::LegacyEphemeral, r#"{"stream_name":"ORDERS","config":{"deliver_policy":"last_per_subject","ack_policy":"none","max_deliver":1,"ack_wait":79200000000000,"flow_control":true,"idle_heartbeat":5000000000,"mem_storage":true,"num_replicas":1,"filter_subject":"orders.>","deliver_subject":"_INBOX.ordered","headers_only":true}}"#).unwrap(),
        r#"{"deliver_policy":"last_per_subject","ack_policy":"none","ack_wait":79200000000000,"max_deliver":1,"filter_subject":"orders.\u003e","replay_policy":"instant","idle_heartbeat":5000000000,"flow_control":true,"headers_only":true,"deliver_subject":"_INBOX.ordered","inactive_threshold":5000000000,"num_replicas":1,"mem_storage":true}"#
    );
    assert_eq!(
        create(named("B1"), r#"{"stream_name":"ORDERS","config":{"name":"B1","ack_policy":"explicit","max_deliver":4,"backoff":[1000000000,2000000000],"deliver_policy":"by_start_sequence","opt_start_seq":2,"replay_policy":"original","max_ack_pending":20,"max_waiting":7,"description":"d","inactive_threshold":10000000000}}"#).unwrap(),
        r#"{"name":"B1","description":"d","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"explicit","ack_wait":1000000000,"max_deliver":4,"backoff":[1000000000,2000000000],"replay_policy":"original","max_waiting":7,"max_ack_pending":20,"inactive_threshold":10000000000,"num_replicas":0}"#
    );
    let t = create(named("T1"), r#"{"stream_name":"ORDERS","config":{"name":"T1","ack_policy":"all","deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.5Z"}}"#).unwrap();
    assert!(t.starts_with(r#"{"name":"T1","deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.5Z","ack_policy":"all","ack_wait":30000000000,"#), "{t}");
}

#[test]
fn errors_as_2_9_10() {
    // (subject form, config, nats-server 2.9.10's error), jscompare.py consumer_create_errors.
    let f = named("F");
    let cases: Vec<(CreateForm, &str, &str)> = vec![
        (
            CreateForm::LegacyEphemeral,
            r#"{"durable_name":"D"}"#,
            r#"{"code":400,"err_code":10020,"description":"consumer expected to be ephemeral but a durable name was set in request"}"#,
        ),
        (
            CreateForm::LegacyDurable {
                consumer: "D".into(),
            },
            r#"{}"#,
            r#"{"code":400,"err_code":10018,"description":"consumer expected to be durable but a durable name was not set"}"#,
        ),
        (
            CreateForm::LegacyDurable {
                consumer: "D".into(),
            },
            r#"{"durable_name":"E"}"#,
            r#"{"code":400,"err_code":10017,"description":"consumer name in subject does not match durable name in request"}"#,
        ),
        (
            named("D"),
            r#"{"durable_name":"E"}"#,
            r#"{"code":400,"err_code":10017,"description":"consumer name in subject does not match durable name in request"}"#,
        ),
        (
            CreateForm::Named {
                consumer: "F".into(),
                filter: Some("orders.a".into()),
            },
            r#"{"filter_subject":"orders.b"}"#,
            r#"{"code":400,"err_code":10131,"description":"Consumer create request did not match filtered subject from create subject"}"#,
        ),
        (
            f.clone(),
            r#"{"filter_subject":"other"}"#,
            r#"{"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"}"#,
        ),
        (
            // A wildcard filter that neither lies within nor takes in `orders.>`.
            f.clone(),
            r#"{"filter_subject":"*.a"}"#,
            r#"{"code":400,"err_code":10093,"description":"consumer filter subject is not a valid subset of the interest subjects"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_policy":"sometimes"}"#,
            r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
        ),
        (
            f.clone(),
            r#"{"ack_policy":"maybe"}"#,
            r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
        ),
        (
            f.clone(),
            r#"{"ack_policy":"explicit","idle_heartbeat":1000000000}"#,
            r#"{"code":400,"err_code":10088,"description":"consumer idle heartbeat requires a push based consumer"}"#,
        ),
        (
            f.clone(),
            r#"{"ack_policy":"explicit","flow_control":true}"#,
            r#"{"code":400,"err_code":10089,"description":"consumer flow control requires a push based consumer"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_subject":"p","max_waiting":3}"#,
            r#"{"code":400,"err_code":10080,"description":"consumer in push mode can not set max waiting"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_subject":"p.*"}"#,
            r#"{"code":400,"err_code":10079,"description":"consumer deliver subject has wildcards"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_subject":"orders.x"}"#,
            r#"{"code":400,"err_code":10081,"description":"consumer deliver subject forms a cycle"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_subject":"p","flow_control":true}"#,
            r#"{"code":400,"err_code":10108,"description":"consumer with flow control also needs heartbeats"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_subject":"p","idle_heartbeat":50}"#,
            r#"{"code":400,"err_code":10083,"description":"consumer idle heartbeat needs to be \u003e= 100ms"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_subject":"p","ack_policy":"none","max_ack_pending":5}"#,
            r#"{"code":400,"err_code":10082,"description":"consumer requires ack policy for max ack pending"}"#,
        ),
        (
            f.clone(),
            r#"{"ack_policy":"explicit","max_deliver":2,"backoff":[1,2]}"#,
            r#"{"code":400,"err_code":10116,"description":"max deliver is required to be \u003e length of backoff values"}"#,
        ),
        (
            f.clone(),
            r#"{"opt_start_seq":3}"#,
            r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver all, but optional start sequence is also set"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_policy":"by_start_sequence"}"#,
            r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start sequence, but optional start sequence is not set"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_policy":"by_start_time"}"#,
            r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start time, but optional start time is not set"}"#,
        ),
        (
            f.clone(),
            r#"{"deliver_policy":"last_per_subject"}"#,
            r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver last per subject, but optional filter subject is not set"}"#,
        ),
        (
            f.clone(),
            r#"{"num_replicas":2}"#,
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
        ),
        (
            f.clone(),
            r#"{"max_waiting":-1}"#,
            r#"{"code":400,"err_code":10087,"description":"consumer max waiting needs to be positive"}"#,
        ),
        (
            CreateForm::LegacyDurable {
                consumer: "a.b".into(),
            },
            r#"{"durable_name":"a.b"}"#,
            r#"{"code":400,"err_code":10103,"description":"durable name can not contain '.', '*', '\u003e'"}"#,
        ),
    ];
    for (form, config, want) in cases {
        let body = format!(r#"{{"stream_name":"ORDERS","config":{config}}}"#);
        let got = create(form, &body).unwrap_err();
        assert_eq!(String::from_utf8(to_vec(&got)).unwrap(), want, "{config}");
    }
    let mismatch =
        CreateConsumerRequest::parse(br#"{"stream_name":"OTHER","config":{"name":"X"}}"#).unwrap();
    assert_eq!(
        mismatch
            .check_subject("ORDERS", &named("X"))
            .unwrap_err()
            .err_code,
        10056
    );
    assert_eq!(
        CreateConsumerRequest::parse(b"").unwrap_err().err_code,
        10025
    );
    let wq = StreamConfig::parse(br#"{"name":"WQ","retention":"workqueue"}"#)
        .unwrap()
        .checked()
        .unwrap();
    let c = ConsumerConfig {
        ack_policy: AckPolicy::None,
        ..Default::default()
    };
    assert_eq!(c.checked(&wq).unwrap_err().err_code, 10084);
}

#[test]
fn updates_as_2_9_10() {
    // serde refuses a repeated key where Go keeps the last, so each variant is whole.
    let base = |extra: &str| {
        let (policy, pending) = match extra {
            r#","max_ack_pending":20"# => ("explicit", ""),
            r#","ack_policy":"all""# => ("", r#","max_ack_pending":10"#),
            _ => ("explicit", r#","max_ack_pending":10"#),
        };
        let policy = if policy.is_empty() {
            String::new()
        } else {
            format!(r#","ack_policy":"{policy}""#)
        };
        let body = format!(
            r#"{{"stream_name":"ORDERS","config":{{"durable_name":"D"{policy}{pending}{extra}}}}}"#
        );
        CreateConsumerRequest::parse(body.as_bytes())
            .unwrap()
            .check_subject(
                "ORDERS",
                &CreateForm::LegacyDurable {
                    consumer: "D".into(),
                },
            )
            .unwrap()
            .checked(&orders())
            .unwrap()
    };
    let old = base("");
    assert_eq!(base("").check_update(&old, || unreachable!()), Ok(()));
    assert_eq!(
        base(r#","max_ack_pending":20"#).check_update(&old, || unreachable!()),
        Ok(())
    );
    let text = |e: Result<(), ApiError>| String::from_utf8(to_vec(&e.unwrap_err())).unwrap();
    assert_eq!(
        text(base(r#","ack_policy":"all""#).check_update(&old, || false)),
        r#"{"code":500,"err_code":10012,"description":"ack policy can not be updated"}"#
    );
    // Pull → push changes max_waiting (512 → 0) first, as nats-server reports.
    let push = {
        let mut c = base("");
        c.deliver_subject = "p.x".into();
        c.max_waiting = 0;
        c
    };
    assert_eq!(
        text(push.check_update(&old, || false)),
        r#"{"code":500,"err_code":10012,"description":"max waiting can not be updated"}"#
    );
}
