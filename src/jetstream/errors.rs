//! The JetStream API errors: `{"code":…,"err_code":…,"description":"…"}` with nats-server
//! 2.9.10's codes and texts (the table is generated from its `errors.json`), templated
//! descriptions filled as nats-server fills them (`{seq}` → `wrong last sequence: 4`).

use serde::Serialize;

#[path = "error_ids.rs"]
mod ids;
#[path = "error_table.rs"]
mod table;
pub use ids::ErrorId;

/// An API error as it appears in a response's `error` member (and in a PubAck error).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP-like status (400, 404, 500, 503).
    pub code: u16,
    /// The JetStream error code clients key off (10059 stream not found, ...).
    #[serde(skip_serializing_if = "is_zero")]
    pub err_code: u16,
    /// The text, templates filled in.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub description: String,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

fn entry(id: ErrorId) -> (u16, u16, &'static str) {
    // The table is ordered by err_code and small; a linear scan on an error path is fine.
    let &(_, code, err_code, text) = table::TABLE
        .iter()
        .find(|(i, ..)| *i == id)
        .expect("every ErrorId has a table row");
    (code, err_code, text)
}

impl ApiError {
    /// The error with its description as the table has it (templates unfilled).
    pub fn new(id: ErrorId) -> ApiError {
        Self::with(id, &[])
    }

    /// The error with `{key}` placeholders replaced, e.g. `[("{seq}", "4")]`.
    pub fn with(id: ErrorId, args: &[(&str, &str)]) -> ApiError {
        let (code, err_code, text) = entry(id);
        let mut description = text.to_string();
        for (key, value) in args {
            description = description.replace(key, value);
        }
        ApiError {
            code,
            err_code,
            description,
        }
    }

    /// An `{err}` error (10012 consumer create, 10052 invalid stream config, 10077 store
    /// failed, ...) with its free text.
    pub fn text(id: ErrorId, err: &str) -> ApiError {
        Self::with(id, &[("{err}", err)])
    }

    /// 10052 with nats-server's text, e.g. "duplicate subjects detected".
    pub fn invalid_stream_config(err: &str) -> ApiError {
        Self::text(ErrorId::StreamInvalidConfig, err)
    }

    /// 10071 `wrong last sequence: {seq}`.
    pub fn wrong_last_sequence(seq: u64) -> ApiError {
        Self::with(
            ErrorId::StreamWrongLastSequence,
            &[("{seq}", &seq.to_string())],
        )
    }

    /// 10070 `wrong last msg ID: {id}`.
    pub fn wrong_last_msg_id(id: &str) -> ApiError {
        Self::with(ErrorId::StreamWrongLastMsgID, &[("{id}", id)])
    }

    /// 10043 `sequence {seq} not found`.
    pub fn sequence_not_found(seq: u64) -> ApiError {
        Self::with(ErrorId::SequenceNotFound, &[("{seq}", &seq.to_string())])
    }

    /// The id this error was made from, when it is a table error.
    pub fn id(&self) -> Option<ErrorId> {
        table::TABLE
            .iter()
            .find(|(_, _, err_code, _)| *err_code == self.err_code)
            .map(|(id, ..)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: &ApiError) -> String {
        String::from_utf8(crate::jetstream::json::to_vec(e)).unwrap()
    }

    #[test]
    fn the_table_has_every_2_9_10_error() {
        assert_eq!(table::TABLE.len(), 132);
        assert_eq!(table::TABLE.first().unwrap().2, 10002);
        assert_eq!(table::TABLE.last().unwrap().2, 10133);
    }

    #[test]
    fn errors_as_nats_server_writes_them() {
        // Bytes from nats-server 2.9.10 responses (tests/compat/jscompare.py --dump).
        let cases = [
            (
                ApiError::new(ErrorId::StreamNotFound),
                r#"{"code":404,"err_code":10059,"description":"stream not found"}"#,
            ),
            (
                ApiError::new(ErrorId::StreamNameExist),
                r#"{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}"#,
            ),
            (
                ApiError::new(ErrorId::ConsumerNotFound),
                r#"{"code":404,"err_code":10014,"description":"consumer not found"}"#,
            ),
            (
                ApiError::new(ErrorId::InvalidJSON),
                r#"{"code":400,"err_code":10025,"description":"invalid JSON"}"#,
            ),
            (
                ApiError::new(ErrorId::NoMessageFound),
                r#"{"code":404,"err_code":10037,"description":"no message found"}"#,
            ),
            (
                ApiError::new(ErrorId::StreamNotMatch),
                r#"{"code":400,"err_code":10060,"description":"expected stream does not match"}"#,
            ),
            (
                ApiError::wrong_last_sequence(4),
                r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 4"}"#,
            ),
            (
                ApiError::wrong_last_msg_id(""),
                r#"{"code":400,"err_code":10070,"description":"wrong last msg ID: "}"#,
            ),
            (
                ApiError::new(ErrorId::StreamMessageExceedsMaximum),
                r#"{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}"#,
            ),
            (
                ApiError::text(ErrorId::StreamStoreFailed, "maximum messages exceeded"),
                r#"{"code":503,"err_code":10077,"description":"maximum messages exceeded"}"#,
            ),
            (
                ApiError::new(ErrorId::StreamReplicasNotSupported),
                r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
            ),
            (
                ApiError::sequence_not_found(2),
                r#"{"code":400,"err_code":10043,"description":"sequence 2 not found"}"#,
            ),
            (
                ApiError::invalid_stream_config("subject \"d.*\" overlaps with \"d.a\""),
                r#"{"code":500,"err_code":10052,"description":"subject \"d.*\" overlaps with \"d.a\""}"#,
            ),
            (
                ApiError::text(ErrorId::StreamPurgeFailed, "stream purge not permitted"),
                r#"{"code":500,"err_code":10110,"description":"stream purge not permitted"}"#,
            ),
            (
                ApiError::new(ErrorId::NotEnabledForAccount),
                r#"{"code":503,"err_code":10039,"description":"JetStream not enabled for account"}"#,
            ),
            (
                ApiError::new(ErrorId::NotEnabled),
                r#"{"code":503,"err_code":10076,"description":"JetStream not enabled"}"#,
            ),
            (
                ApiError::new(ErrorId::InsufficientResources),
                r#"{"code":503,"err_code":10023,"description":"insufficient resources"}"#,
            ),
            (
                ApiError::new(ErrorId::StorageResourcesExceeded),
                r#"{"code":500,"err_code":10047,"description":"insufficient storage resources available"}"#,
            ),
        ];
        for (err, want) in cases {
            assert_eq!(json(&err), want);
        }
        assert_eq!(
            ApiError::new(ErrorId::StreamNotFound).id(),
            Some(ErrorId::StreamNotFound)
        );
    }
}
