use super::*;
use crate::jetstream::json::to_vec;

fn echo(body: &str) -> Result<String, ApiError> {
    let cfg = StreamConfig::parse(body.as_bytes())?;
    cfg.check_create_request(&cfg.name.clone())?;
    Ok(String::from_utf8(to_vec(&cfg.checked()?)).unwrap())
}

fn err(body: &str) -> String {
    String::from_utf8(to_vec(&echo(body).unwrap_err())).unwrap()
}

#[test]
fn nats_py_request_echoed_as_2_9_10() {
    // Request and reply bytes from nats-server 2.9.10 (spec §A.4).
    let req = r#"{"name": "ORDERS", "subjects": ["orders.>"], "retention": "limits", "max_msgs": 1000, "max_bytes": 1048576, "discard": "old", "discard_new_per_subject": false, "max_age": 3600000000000, "max_msgs_per_subject": -1, "max_msg_size": 1024, "storage": "file", "no_ack": false, "duplicate_window": 120000000000, "sealed": false, "deny_delete": false, "deny_purge": false, "allow_rollup_hdrs": false}"#;
    assert_eq!(
        echo(req).unwrap(),
        r#"{"name":"ORDERS","subjects":["orders.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":1000,"max_bytes":1048576,"max_age":3600000000000,"max_msgs_per_subject":-1,"max_msg_size":1024,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}"#
    );
}

#[test]
fn defaults_filled_as_2_9_10() {
    // jscompare.py rows stream_create_defaults / stream_create_retentions.
    assert_eq!(
        echo(r#"{"name":"BARE"}"#).unwrap(),
        r#"{"name":"BARE","subjects":["BARE"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}"#
    );
    assert_eq!(
        echo(r#"{"name":"A","max_age":30000000000}"#).unwrap(),
        r#"{"name":"A","subjects":["A"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":30000000000,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":30000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}"#
    );
    // Unknown fields and nulls are ignored; discard is read case-insensitively.
    assert_eq!(
        echo(r#"{"name":"FULL","description":"all the limits","subjects":["f.*","g.>"],"retention":"workqueue","max_consumers":10,"max_msgs":1000,"max_bytes":1048576,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"NEW","storage":"memory","num_replicas":1,"no_ack":false,"duplicate_window":60000000000,"allow_direct":true,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"discard_new_per_subject":true,"unknown_field":{"x":[1,2]},"min_pending":null}"#).unwrap(),
        r#"{"name":"FULL","description":"all the limits","subjects":["f.*","g.\u003e"],"retention":"workqueue","max_consumers":10,"max_msgs":1000,"max_bytes":1048576,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true}"#
    );
}

#[test]
fn allow_msg_ttl_is_echoed_only_when_set() {
    let e = echo(r#"{"name":"T","allow_msg_ttl":true}"#).unwrap();
    assert!(
        e.ends_with(r#""allow_rollup_hdrs":false,"allow_msg_ttl":true}"#),
        "{e}"
    );
}

#[test]
fn errors_as_2_9_10() {
    // Bytes of the `error` members nats-server 2.9.10 answered (jscompare.py stream_create_errors).
    let cases = [
        (
            "",
            r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
        ),
        (
            "{not json",
            r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
        ),
        (
            r#"{"name":"E","retention":"x"}"#,
            r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
        ),
        (
            r#"{"name":"E","storage":"disk"}"#,
            r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
        ),
        (
            r#"{"name":"R","num_replicas":3}"#,
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
        ),
        (
            r#"{"name":"R","num_replicas":9}"#,
            r#"{"code":500,"err_code":10052,"description":"maximum replicas is 5"}"#,
        ),
        (
            r#"{"name":"R","num_replicas":-1}"#,
            r#"{"code":400,"err_code":10133,"description":"replicas count cannot be negative"}"#,
        ),
        (
            r#"{"name":"S","sealed":true}"#,
            r#"{"code":500,"err_code":10052,"description":"stream configuration for create can not be sealed"}"#,
        ),
        (
            r#"{"name":"D","subjects":["d.a","d.a"]}"#,
            r#"{"code":500,"err_code":10052,"description":"duplicate subjects detected"}"#,
        ),
        (
            r#"{"name":"D","subjects":["d.*","d.a"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subject \"d.*\" overlaps with \"d.a\""}"#,
        ),
        (
            r#"{"name":"D","subjects":["$JS.API.>"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects overlap with jetstream api"}"#,
        ),
        (
            r#"{"name":"D","subjects":["d..a"]}"#,
            r#"{"code":500,"err_code":10052,"description":"invalid subject"}"#,
        ),
        (
            r#"{"name":"D","max_age":1000}"#,
            r#"{"code":500,"err_code":10052,"description":"max age needs to be \u003e= 100ms"}"#,
        ),
        (
            r#"{"name":"D","max_age":1000000000,"duplicate_window":2000000000}"#,
            r#"{"code":500,"err_code":10052,"description":"duplicates window can not be larger then max age"}"#,
        ),
        (
            r#"{"name":"D","duplicate_window":1000}"#,
            r#"{"code":500,"err_code":10052,"description":"duplicates window needs to be \u003e= 100ms"}"#,
        ),
        (
            r#"{"name":"D","allow_rollup_hdrs":true,"deny_purge":true}"#,
            r#"{"code":500,"err_code":10052,"description":"roll-ups require the purge permission"}"#,
        ),
        (
            r#"{"name":"D","discard_new_per_subject":true}"#,
            r#"{"code":500,"err_code":10052,"description":"discard new per subject requires discard new policy to be set"}"#,
        ),
        (
            r#"{"name":"D","mirror_direct":true}"#,
            r#"{"code":500,"err_code":10052,"description":"stream has no mirror but does have mirror direct"}"#,
        ),
        (
            r#"{"name":"a/b"}"#,
            r#"{"code":400,"err_code":10128,"description":"Stream name can not contain path separators"}"#,
        ),
        (
            r#"{"name":"a.b"}"#,
            r#"{"code":500,"err_code":10052,"description":"stream name is required and can not contain '.', '*', '\u003e'"}"#,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(err(body), want, "{body}");
    }
    let cfg = StreamConfig::parse(br#"{"name":"B"}"#).unwrap();
    assert_eq!(
        cfg.check_create_request("A"),
        Err(ApiError::new(ErrorId::StreamMismatch))
    );
}

#[test]
fn updates_as_2_9_10() {
    let old =
        StreamConfig::parse(br#"{"name":"ORDERS","subjects":["orders.>"],"deny_delete":true}"#)
            .unwrap()
            .checked()
            .unwrap();
    let upd = |b: &str| {
        StreamConfig::parse(b.as_bytes())
            .unwrap()
            .checked_update(&old)
            .map(|c| c.max_msgs)
    };
    let text = |b: &str| upd(b).unwrap_err().description;
    assert_eq!(
        upd(
            r#"{"name":"ORDERS","subjects":["orders.>","more.>"],"max_msgs":10,"deny_delete":true}"#
        ),
        Ok(10)
    );
    assert_eq!(
        text(r#"{"name":"ORDERS","storage":"memory","deny_delete":true}"#),
        "stream configuration update can not change storage type"
    );
    assert_eq!(
        text(r#"{"name":"ORDERS","retention":"interest","deny_delete":true}"#),
        "stream configuration update can not change retention policy"
    );
    assert_eq!(
        text(r#"{"name":"ORDERS","max_consumers":3,"deny_delete":true}"#),
        "stream configuration update can not change MaxConsumers"
    );
    assert_eq!(
        text(r#"{"name":"ORDERS"}"#),
        "stream configuration update can not cancel deny message deletes"
    );
    // An identical create is idempotent; a different one is the broker's 10058.
    let again =
        StreamConfig::parse(br#"{"name":"ORDERS","subjects":["orders.>"],"deny_delete":true}"#)
            .unwrap()
            .checked()
            .unwrap();
    assert!(again.same_as(&old));
    assert!(
        !StreamConfig::parse(br#"{"name":"ORDERS","subjects":["x.>"]}"#)
            .unwrap()
            .checked()
            .unwrap()
            .same_as(&old)
    );
}

#[test]
fn subject_relations() {
    assert!(subjects_collide("orders.>", "orders.new"));
    assert!(subjects_collide("d.*", "d.a"));
    assert!(subjects_collide("*.a", "b.*"));
    assert!(!subjects_collide("d.*", "d.a.b"));
    assert!(!subjects_collide("a.b", "a.c"));
    assert!(subset_match("orders.a", "orders.>"));
    assert!(subset_match("orders.*", "orders.>"));
    assert!(!subset_match("orders.>", "orders.*"));
    assert!(!subset_match("orders", "orders.>"));
    assert!(!subset_match("other", "orders.>"));
    assert!(subset_match("$JS.API.STREAM.INFO.X", "$JS.API.>"));
}
