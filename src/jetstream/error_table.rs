// Generated from nats-server v2.9.10 server/errors.json (constant names without the `JS`
// prefix and `Err`/`ErrF`/`F` suffix). Regenerate rather than edit.
/// Every JetStream API error nats-server 2.9.10 defines.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorId {
    /// 10002 400: resource limits exceeded for account
    AccountResourcesExceeded,
    /// 10003 400: bad request
    BadRequest,
    /// 10004 503: incomplete results
    ClusterIncomplete,
    /// 10005 400: `{err}`
    ClusterNoPeers,
    /// 10006 500: JetStream not in clustered mode
    ClusterNotActive,
    /// 10007 500: JetStream cluster not assigned to this server
    ClusterNotAssigned,
    /// 10008 503: JetStream system temporarily unavailable
    ClusterNotAvail,
    /// 10009 500: JetStream cluster can not handle request
    ClusterNotLeader,
    /// 10010 503: JetStream clustering support required
    ClusterRequired,
    /// 10011 400: tags placement not supported for operation
    ClusterTags,
    /// 10012 500: `{err}`
    ConsumerCreate,
    /// 10013 400: consumer name already in use
    ConsumerNameExist,
    /// 10014 404: consumer not found
    ConsumerNotFound,
    /// 10015 400: deliver subject not valid
    SnapshotDeliverSubjectInvalid,
    /// 10016 400: consumer expected to be durable but no durable name set in subject
    ConsumerDurableNameNotInSubject,
    /// 10017 400: consumer name in subject does not match durable name in request
    ConsumerDurableNameNotMatchSubject,
    /// 10018 400: consumer expected to be durable but a durable name was not set
    ConsumerDurableNameNotSet,
    /// 10019 400: consumer expected to be ephemeral but detected a durable name set in subject
    ConsumerEphemeralWithDurableInSubject,
    /// 10020 400: consumer expected to be ephemeral but a durable name was set in request
    ConsumerEphemeralWithDurableName,
    /// 10021 400: stream external api prefix `{prefix}` must not overlap with `{subject}`
    StreamExternalApiOverlap,
    /// 10022 400: stream external delivery prefix `{prefix}` overlaps with stream subject `{subject}`
    StreamExternalDelPrefixOverlaps,
    /// 10023 503: insufficient resources
    InsufficientResources,
    /// 10024 400: stream external delivery prefix `{prefix}` must not contain wildcards
    StreamInvalidExternalDeliverySubj,
    /// 10025 400: invalid JSON
    InvalidJSON,
    /// 10026 400: maximum consumers limit reached
    MaximumConsumersLimit,
    /// 10027 400: maximum number of streams reached
    MaximumStreamsLimit,
    /// 10028 500: insufficient memory resources available
    MemoryResourcesExceeded,
    /// 10029 500: `{err}`
    MirrorConsumerSetupFailed,
    /// 10030 400: stream mirror must have max message size >= source
    MirrorMaxMessageSizeTooBig,
    /// 10031 400: stream mirrors can not also contain other sources
    MirrorWithSources,
    /// 10032 400: stream mirrors can not have both start seq and start time configured
    MirrorWithStartSeqAndTime,
    /// 10033 400: stream mirrors can not contain filtered subjects
    MirrorWithSubjectFilters,
    /// 10034 400: stream mirrors can not contain subjects
    MirrorWithSubjects,
    /// 10035 503: account not found
    NoAccount,
    /// 10036 503: not currently supported in clustered mode
    ClusterUnSupportFeature,
    /// 10037 404: no message found
    NoMessageFound,
    /// 10038 400: expected an empty request payload
    NotEmptyRequest,
    /// 10039 503: JetStream not enabled for account
    NotEnabledForAccount,
    /// 10040 400: peer not a member
    ClusterPeerNotMember,
    /// 10041 500: `{err}`
    RaftGeneral,
    /// 10042 500: JetStream unable to subscribe to restore snapshot `{subject}`: `{err}`
    RestoreSubscribeFailed,
    /// 10043 400: sequence `{seq}` not found
    SequenceNotFound,
    /// 10044 400: server is not a member of the cluster
    ClusterServerNotMember,
    /// 10045 500: `{err}`
    SourceConsumerSetupFailed,
    /// 10046 400: stream source must have max message size >= target
    SourceMaxMessageSizeTooBig,
    /// 10047 500: insufficient storage resources available
    StorageResourcesExceeded,
    /// 10048 500: `{err}`
    StreamAssignment,
    /// 10049 500: `{err}`
    StreamCreate,
    /// 10050 500: `{err}`
    StreamDelete,
    /// 10051 500: `{err}`
    StreamGeneralError,
    /// 10052 500: `{err}`
    StreamInvalidConfig,
    /// 10053 500: `{err}`
    StreamLimits,
    /// 10054 400: message size exceeds maximum allowed
    StreamMessageExceedsMaximum,
    /// 10055 400: stream mirror configuration can not be updated
    StreamMirrorNotUpdatable,
    /// 10056 400: stream name in subject does not match request
    StreamMismatch,
    /// 10057 500: `{err}`
    StreamMsgDeleteFailed,
    /// 10058 400: stream name already in use with a different configuration
    StreamNameExist,
    /// 10059 404: stream not found
    StreamNotFound,
    /// 10060 400: expected stream does not match
    StreamNotMatch,
    /// 10061 400: Replicas configuration can not be updated
    StreamReplicasNotUpdatable,
    /// 10062 500: restore failed: `{err}`
    StreamRestore,
    /// 10063 503: expected stream sequence does not match
    StreamSequenceNotMatch,
    /// 10064 500: snapshot failed: `{err}`
    StreamSnapshot,
    /// 10065 400: subjects overlap with an existing stream
    StreamSubjectOverlap,
    /// 10066 500: `{err}`
    StreamTemplateCreate,
    /// 10067 500: `{err}`
    StreamTemplateDelete,
    /// 10068 404: template not found
    StreamTemplateNotFound,
    /// 10069 500: `{err}`
    StreamUpdate,
    /// 10070 400: wrong last msg ID: `{id}`
    StreamWrongLastMsgID,
    /// 10071 400: wrong last sequence: `{seq}`
    StreamWrongLastSequence,
    /// 10072 500: JetStream unable to open temp storage for restore
    TempStorageFailed,
    /// 10073 400: template name in subject does not match request
    TemplateNameNotMatchSubject,
    /// 10074 500: replicas > 1 not supported in non-clustered mode
    StreamReplicasNotSupported,
    /// 10075 503: peer remap failed
    PeerRemap,
    /// 10076 503: JetStream not enabled
    NotEnabled,
    /// 10077 503: `{err}`
    StreamStoreFailed,
    /// 10078 400: consumer config required
    ConsumerConfigRequired,
    /// 10079 400: consumer deliver subject has wildcards
    ConsumerDeliverToWildcards,
    /// 10080 400: consumer in push mode can not set max waiting
    ConsumerPushMaxWaiting,
    /// 10081 400: consumer deliver subject forms a cycle
    ConsumerDeliverCycle,
    /// 10082 400: consumer requires ack policy for max ack pending
    ConsumerMaxPendingAckPolicyRequired,
    /// 10083 400: consumer idle heartbeat needs to be >= 100ms
    ConsumerSmallHeartbeat,
    /// 10084 400: consumer in pull mode requires ack policy
    ConsumerPullRequiresAck,
    /// 10085 400: consumer in pull mode requires a durable name
    ConsumerPullNotDurable,
    /// 10086 400: consumer in pull mode can not have rate limit set
    ConsumerPullWithRateLimit,
    /// 10087 400: consumer max waiting needs to be positive
    ConsumerMaxWaitingNegative,
    /// 10088 400: consumer idle heartbeat requires a push based consumer
    ConsumerHBRequiresPush,
    /// 10089 400: consumer flow control requires a push based consumer
    ConsumerFCRequiresPush,
    /// 10090 400: consumer direct requires a push based consumer
    ConsumerDirectRequiresPush,
    /// 10091 400: consumer direct requires an ephemeral consumer
    ConsumerDirectRequiresEphemeral,
    /// 10092 400: consumer direct on a mapped consumer
    ConsumerOnMapped,
    /// 10093 400: consumer filter subject is not a valid subset of the interest subjects
    ConsumerFilterNotSubset,
    /// 10094 400: `{err}`
    ConsumerInvalidPolicy,
    /// 10095 400: failed to parse consumer sampling configuration: `{err}`
    ConsumerInvalidSampling,
    /// 10096 500: stream not valid
    StreamInvalid,
    /// 10097 400: header size exceeds maximum allowed of 64k
    StreamHeaderExceedsMaximum,
    /// 10098 400: workqueue stream requires explicit ack
    ConsumerWQRequiresExplicitAck,
    /// 10099 400: multiple non-filtered consumers not allowed on workqueue stream
    ConsumerWQMultipleUnfiltered,
    /// 10100 400: filtered consumer not unique on workqueue stream
    ConsumerWQConsumerNotUnique,
    /// 10101 400: consumer must be deliver all on workqueue stream
    ConsumerWQConsumerNotDeliverAll,
    /// 10102 400: consumer name is too long, maximum allowed is `{max}`
    ConsumerNameTooLong,
    /// 10103 400: durable name can not contain '.', '*', '>'
    ConsumerBadDurableName,
    /// 10104 500: error creating store for consumer: `{err}`
    ConsumerStoreFailed,
    /// 10105 400: consumer already exists and is still active
    ConsumerExistingActive,
    /// 10106 400: consumer replacement durable config not the same
    ConsumerReplacementWithDifferentName,
    /// 10107 400: consumer description is too long, maximum allowed is `{max}`
    ConsumerDescriptionTooLong,
    /// 10108 400: consumer with flow control also needs heartbeats
    ConsumerWithFlowControlNeedsHeartbeats,
    /// 10109 400: invalid operation on sealed stream
    StreamSealed,
    /// 10110 500: `{err}`
    StreamPurgeFailed,
    /// 10111 500: `{err}`
    StreamRollupFailed,
    /// 10112 400: invalid push consumer deliver subject
    ConsumerInvalidDeliverSubject,
    /// 10113 400: account requires a stream config to have max bytes set
    StreamMaxBytesRequired,
    /// 10114 400: consumer max request batch needs to be > 0
    ConsumerMaxRequestBatchNegative,
    /// 10115 400: consumer max request expires needs to be >= 1ms
    ConsumerMaxRequestExpiresToSmall,
    /// 10116 400: max deliver is required to be > length of backoff values
    ConsumerMaxDeliverBackoff,
    /// 10117 500: subject details would exceed maximum allowed
    StreamInfoMaxSubjects,
    /// 10118 500: stream is offline
    StreamOffline,
    /// 10119 500: consumer is offline
    ConsumerOffline,
    /// 10120 400: no JetStream default or applicable tiered limit present
    NoLimits,
    /// 10121 400: consumer max ack pending exceeds system limit of `{limit}`
    ConsumerMaxPendingAckExcess,
    /// 10122 400: stream max bytes exceeds account limit max stream bytes
    StreamMaxStreamBytesExceeded,
    /// 10123 400: can not move and scale a stream in a single update
    StreamMoveAndScale,
    /// 10124 400: stream move already in progress: `{msg}`
    StreamMoveInProgress,
    /// 10125 400: consumer max request batch exceeds server limit of `{limit}`
    ConsumerMaxRequestBatchExceeded,
    /// 10126 400: consumer config replica count exceeds parent stream
    ConsumerReplicasExceedsStream,
    /// 10127 400: Consumer name can not contain path separators
    ConsumerNameContainsPathSeparators,
    /// 10128 400: Stream name can not contain path separators
    StreamNameContainsPathSeparators,
    /// 10129 400: stream move not in progress
    StreamMoveNotInProgress,
    /// 10130 400: stream name already in use, cannot restore
    StreamNameExistRestoreFailed,
    /// 10131 400: Consumer create request did not match filtered subject from create subject
    ConsumerCreateFilterSubjectMismatch,
    /// 10132 400: Consumer Durable and Name have to be equal if both are provided
    ConsumerCreateDurableAndNameMismatch,
    /// 10133 400: replicas count cannot be negative
    ReplicasCountCannotBeNegative,
}

/// (id, code, err_code, description template).
pub(crate) const TABLE: &[(ErrorId, u16, u16, &str)] = &[
    (
        ErrorId::AccountResourcesExceeded,
        400,
        10002,
        "resource limits exceeded for account",
    ),
    (ErrorId::BadRequest, 400, 10003, "bad request"),
    (ErrorId::ClusterIncomplete, 503, 10004, "incomplete results"),
    (ErrorId::ClusterNoPeers, 400, 10005, "{err}"),
    (
        ErrorId::ClusterNotActive,
        500,
        10006,
        "JetStream not in clustered mode",
    ),
    (
        ErrorId::ClusterNotAssigned,
        500,
        10007,
        "JetStream cluster not assigned to this server",
    ),
    (
        ErrorId::ClusterNotAvail,
        503,
        10008,
        "JetStream system temporarily unavailable",
    ),
    (
        ErrorId::ClusterNotLeader,
        500,
        10009,
        "JetStream cluster can not handle request",
    ),
    (
        ErrorId::ClusterRequired,
        503,
        10010,
        "JetStream clustering support required",
    ),
    (
        ErrorId::ClusterTags,
        400,
        10011,
        "tags placement not supported for operation",
    ),
    (ErrorId::ConsumerCreate, 500, 10012, "{err}"),
    (
        ErrorId::ConsumerNameExist,
        400,
        10013,
        "consumer name already in use",
    ),
    (ErrorId::ConsumerNotFound, 404, 10014, "consumer not found"),
    (
        ErrorId::SnapshotDeliverSubjectInvalid,
        400,
        10015,
        "deliver subject not valid",
    ),
    (
        ErrorId::ConsumerDurableNameNotInSubject,
        400,
        10016,
        "consumer expected to be durable but no durable name set in subject",
    ),
    (
        ErrorId::ConsumerDurableNameNotMatchSubject,
        400,
        10017,
        "consumer name in subject does not match durable name in request",
    ),
    (
        ErrorId::ConsumerDurableNameNotSet,
        400,
        10018,
        "consumer expected to be durable but a durable name was not set",
    ),
    (
        ErrorId::ConsumerEphemeralWithDurableInSubject,
        400,
        10019,
        "consumer expected to be ephemeral but detected a durable name set in subject",
    ),
    (
        ErrorId::ConsumerEphemeralWithDurableName,
        400,
        10020,
        "consumer expected to be ephemeral but a durable name was set in request",
    ),
    (
        ErrorId::StreamExternalApiOverlap,
        400,
        10021,
        "stream external api prefix {prefix} must not overlap with {subject}",
    ),
    (
        ErrorId::StreamExternalDelPrefixOverlaps,
        400,
        10022,
        "stream external delivery prefix {prefix} overlaps with stream subject {subject}",
    ),
    (
        ErrorId::InsufficientResources,
        503,
        10023,
        "insufficient resources",
    ),
    (
        ErrorId::StreamInvalidExternalDeliverySubj,
        400,
        10024,
        "stream external delivery prefix {prefix} must not contain wildcards",
    ),
    (ErrorId::InvalidJSON, 400, 10025, "invalid JSON"),
    (
        ErrorId::MaximumConsumersLimit,
        400,
        10026,
        "maximum consumers limit reached",
    ),
    (
        ErrorId::MaximumStreamsLimit,
        400,
        10027,
        "maximum number of streams reached",
    ),
    (
        ErrorId::MemoryResourcesExceeded,
        500,
        10028,
        "insufficient memory resources available",
    ),
    (ErrorId::MirrorConsumerSetupFailed, 500, 10029, "{err}"),
    (
        ErrorId::MirrorMaxMessageSizeTooBig,
        400,
        10030,
        "stream mirror must have max message size >= source",
    ),
    (
        ErrorId::MirrorWithSources,
        400,
        10031,
        "stream mirrors can not also contain other sources",
    ),
    (
        ErrorId::MirrorWithStartSeqAndTime,
        400,
        10032,
        "stream mirrors can not have both start seq and start time configured",
    ),
    (
        ErrorId::MirrorWithSubjectFilters,
        400,
        10033,
        "stream mirrors can not contain filtered subjects",
    ),
    (
        ErrorId::MirrorWithSubjects,
        400,
        10034,
        "stream mirrors can not contain subjects",
    ),
    (ErrorId::NoAccount, 503, 10035, "account not found"),
    (
        ErrorId::ClusterUnSupportFeature,
        503,
        10036,
        "not currently supported in clustered mode",
    ),
    (ErrorId::NoMessageFound, 404, 10037, "no message found"),
    (
        ErrorId::NotEmptyRequest,
        400,
        10038,
        "expected an empty request payload",
    ),
    (
        ErrorId::NotEnabledForAccount,
        503,
        10039,
        "JetStream not enabled for account",
    ),
    (
        ErrorId::ClusterPeerNotMember,
        400,
        10040,
        "peer not a member",
    ),
    (ErrorId::RaftGeneral, 500, 10041, "{err}"),
    (
        ErrorId::RestoreSubscribeFailed,
        500,
        10042,
        "JetStream unable to subscribe to restore snapshot {subject}: {err}",
    ),
    (
        ErrorId::SequenceNotFound,
        400,
        10043,
        "sequence {seq} not found",
    ),
    (
        ErrorId::ClusterServerNotMember,
        400,
        10044,
        "server is not a member of the cluster",
    ),
    (ErrorId::SourceConsumerSetupFailed, 500, 10045, "{err}"),
    (
        ErrorId::SourceMaxMessageSizeTooBig,
        400,
        10046,
        "stream source must have max message size >= target",
    ),
    (
        ErrorId::StorageResourcesExceeded,
        500,
        10047,
        "insufficient storage resources available",
    ),
    (ErrorId::StreamAssignment, 500, 10048, "{err}"),
    (ErrorId::StreamCreate, 500, 10049, "{err}"),
    (ErrorId::StreamDelete, 500, 10050, "{err}"),
    (ErrorId::StreamGeneralError, 500, 10051, "{err}"),
    (ErrorId::StreamInvalidConfig, 500, 10052, "{err}"),
    (ErrorId::StreamLimits, 500, 10053, "{err}"),
    (
        ErrorId::StreamMessageExceedsMaximum,
        400,
        10054,
        "message size exceeds maximum allowed",
    ),
    (
        ErrorId::StreamMirrorNotUpdatable,
        400,
        10055,
        "stream mirror configuration can not be updated",
    ),
    (
        ErrorId::StreamMismatch,
        400,
        10056,
        "stream name in subject does not match request",
    ),
    (ErrorId::StreamMsgDeleteFailed, 500, 10057, "{err}"),
    (
        ErrorId::StreamNameExist,
        400,
        10058,
        "stream name already in use with a different configuration",
    ),
    (ErrorId::StreamNotFound, 404, 10059, "stream not found"),
    (
        ErrorId::StreamNotMatch,
        400,
        10060,
        "expected stream does not match",
    ),
    (
        ErrorId::StreamReplicasNotUpdatable,
        400,
        10061,
        "Replicas configuration can not be updated",
    ),
    (ErrorId::StreamRestore, 500, 10062, "restore failed: {err}"),
    (
        ErrorId::StreamSequenceNotMatch,
        503,
        10063,
        "expected stream sequence does not match",
    ),
    (
        ErrorId::StreamSnapshot,
        500,
        10064,
        "snapshot failed: {err}",
    ),
    (
        ErrorId::StreamSubjectOverlap,
        400,
        10065,
        "subjects overlap with an existing stream",
    ),
    (ErrorId::StreamTemplateCreate, 500, 10066, "{err}"),
    (ErrorId::StreamTemplateDelete, 500, 10067, "{err}"),
    (
        ErrorId::StreamTemplateNotFound,
        404,
        10068,
        "template not found",
    ),
    (ErrorId::StreamUpdate, 500, 10069, "{err}"),
    (
        ErrorId::StreamWrongLastMsgID,
        400,
        10070,
        "wrong last msg ID: {id}",
    ),
    (
        ErrorId::StreamWrongLastSequence,
        400,
        10071,
        "wrong last sequence: {seq}",
    ),
    (
        ErrorId::TempStorageFailed,
        500,
        10072,
        "JetStream unable to open temp storage for restore",
    ),
    (
        ErrorId::TemplateNameNotMatchSubject,
        400,
        10073,
        "template name in subject does not match request",
    ),
    (
        ErrorId::StreamReplicasNotSupported,
        500,
        10074,
        "replicas > 1 not supported in non-clustered mode",
    ),
    (ErrorId::PeerRemap, 503, 10075, "peer remap failed"),
    (ErrorId::NotEnabled, 503, 10076, "JetStream not enabled"),
    (ErrorId::StreamStoreFailed, 503, 10077, "{err}"),
    (
        ErrorId::ConsumerConfigRequired,
        400,
        10078,
        "consumer config required",
    ),
    (
        ErrorId::ConsumerDeliverToWildcards,
        400,
        10079,
        "consumer deliver subject has wildcards",
    ),
    (
        ErrorId::ConsumerPushMaxWaiting,
        400,
        10080,
        "consumer in push mode can not set max waiting",
    ),
    (
        ErrorId::ConsumerDeliverCycle,
        400,
        10081,
        "consumer deliver subject forms a cycle",
    ),
    (
        ErrorId::ConsumerMaxPendingAckPolicyRequired,
        400,
        10082,
        "consumer requires ack policy for max ack pending",
    ),
    (
        ErrorId::ConsumerSmallHeartbeat,
        400,
        10083,
        "consumer idle heartbeat needs to be >= 100ms",
    ),
    (
        ErrorId::ConsumerPullRequiresAck,
        400,
        10084,
        "consumer in pull mode requires ack policy",
    ),
    (
        ErrorId::ConsumerPullNotDurable,
        400,
        10085,
        "consumer in pull mode requires a durable name",
    ),
    (
        ErrorId::ConsumerPullWithRateLimit,
        400,
        10086,
        "consumer in pull mode can not have rate limit set",
    ),
    (
        ErrorId::ConsumerMaxWaitingNegative,
        400,
        10087,
        "consumer max waiting needs to be positive",
    ),
    (
        ErrorId::ConsumerHBRequiresPush,
        400,
        10088,
        "consumer idle heartbeat requires a push based consumer",
    ),
    (
        ErrorId::ConsumerFCRequiresPush,
        400,
        10089,
        "consumer flow control requires a push based consumer",
    ),
    (
        ErrorId::ConsumerDirectRequiresPush,
        400,
        10090,
        "consumer direct requires a push based consumer",
    ),
    (
        ErrorId::ConsumerDirectRequiresEphemeral,
        400,
        10091,
        "consumer direct requires an ephemeral consumer",
    ),
    (
        ErrorId::ConsumerOnMapped,
        400,
        10092,
        "consumer direct on a mapped consumer",
    ),
    (
        ErrorId::ConsumerFilterNotSubset,
        400,
        10093,
        "consumer filter subject is not a valid subset of the interest subjects",
    ),
    (ErrorId::ConsumerInvalidPolicy, 400, 10094, "{err}"),
    (
        ErrorId::ConsumerInvalidSampling,
        400,
        10095,
        "failed to parse consumer sampling configuration: {err}",
    ),
    (ErrorId::StreamInvalid, 500, 10096, "stream not valid"),
    (
        ErrorId::StreamHeaderExceedsMaximum,
        400,
        10097,
        "header size exceeds maximum allowed of 64k",
    ),
    (
        ErrorId::ConsumerWQRequiresExplicitAck,
        400,
        10098,
        "workqueue stream requires explicit ack",
    ),
    (
        ErrorId::ConsumerWQMultipleUnfiltered,
        400,
        10099,
        "multiple non-filtered consumers not allowed on workqueue stream",
    ),
    (
        ErrorId::ConsumerWQConsumerNotUnique,
        400,
        10100,
        "filtered consumer not unique on workqueue stream",
    ),
    (
        ErrorId::ConsumerWQConsumerNotDeliverAll,
        400,
        10101,
        "consumer must be deliver all on workqueue stream",
    ),
    (
        ErrorId::ConsumerNameTooLong,
        400,
        10102,
        "consumer name is too long, maximum allowed is {max}",
    ),
    (
        ErrorId::ConsumerBadDurableName,
        400,
        10103,
        "durable name can not contain '.', '*', '>'",
    ),
    (
        ErrorId::ConsumerStoreFailed,
        500,
        10104,
        "error creating store for consumer: {err}",
    ),
    (
        ErrorId::ConsumerExistingActive,
        400,
        10105,
        "consumer already exists and is still active",
    ),
    (
        ErrorId::ConsumerReplacementWithDifferentName,
        400,
        10106,
        "consumer replacement durable config not the same",
    ),
    (
        ErrorId::ConsumerDescriptionTooLong,
        400,
        10107,
        "consumer description is too long, maximum allowed is {max}",
    ),
    (
        ErrorId::ConsumerWithFlowControlNeedsHeartbeats,
        400,
        10108,
        "consumer with flow control also needs heartbeats",
    ),
    (
        ErrorId::StreamSealed,
        400,
        10109,
        "invalid operation on sealed stream",
    ),
    (ErrorId::StreamPurgeFailed, 500, 10110, "{err}"),
    (ErrorId::StreamRollupFailed, 500, 10111, "{err}"),
    (
        ErrorId::ConsumerInvalidDeliverSubject,
        400,
        10112,
        "invalid push consumer deliver subject",
    ),
    (
        ErrorId::StreamMaxBytesRequired,
        400,
        10113,
        "account requires a stream config to have max bytes set",
    ),
    (
        ErrorId::ConsumerMaxRequestBatchNegative,
        400,
        10114,
        "consumer max request batch needs to be > 0",
    ),
    (
        ErrorId::ConsumerMaxRequestExpiresToSmall,
        400,
        10115,
        "consumer max request expires needs to be >= 1ms",
    ),
    (
        ErrorId::ConsumerMaxDeliverBackoff,
        400,
        10116,
        "max deliver is required to be > length of backoff values",
    ),
    (
        ErrorId::StreamInfoMaxSubjects,
        500,
        10117,
        "subject details would exceed maximum allowed",
    ),
    (ErrorId::StreamOffline, 500, 10118, "stream is offline"),
    (ErrorId::ConsumerOffline, 500, 10119, "consumer is offline"),
    (
        ErrorId::NoLimits,
        400,
        10120,
        "no JetStream default or applicable tiered limit present",
    ),
    (
        ErrorId::ConsumerMaxPendingAckExcess,
        400,
        10121,
        "consumer max ack pending exceeds system limit of {limit}",
    ),
    (
        ErrorId::StreamMaxStreamBytesExceeded,
        400,
        10122,
        "stream max bytes exceeds account limit max stream bytes",
    ),
    (
        ErrorId::StreamMoveAndScale,
        400,
        10123,
        "can not move and scale a stream in a single update",
    ),
    (
        ErrorId::StreamMoveInProgress,
        400,
        10124,
        "stream move already in progress: {msg}",
    ),
    (
        ErrorId::ConsumerMaxRequestBatchExceeded,
        400,
        10125,
        "consumer max request batch exceeds server limit of {limit}",
    ),
    (
        ErrorId::ConsumerReplicasExceedsStream,
        400,
        10126,
        "consumer config replica count exceeds parent stream",
    ),
    (
        ErrorId::ConsumerNameContainsPathSeparators,
        400,
        10127,
        "Consumer name can not contain path separators",
    ),
    (
        ErrorId::StreamNameContainsPathSeparators,
        400,
        10128,
        "Stream name can not contain path separators",
    ),
    (
        ErrorId::StreamMoveNotInProgress,
        400,
        10129,
        "stream move not in progress",
    ),
    (
        ErrorId::StreamNameExistRestoreFailed,
        400,
        10130,
        "stream name already in use, cannot restore",
    ),
    (
        ErrorId::ConsumerCreateFilterSubjectMismatch,
        400,
        10131,
        "Consumer create request did not match filtered subject from create subject",
    ),
    (
        ErrorId::ConsumerCreateDurableAndNameMismatch,
        400,
        10132,
        "Consumer Durable and Name have to be equal if both are provided",
    ),
    (
        ErrorId::ReplicasCountCannotBeNegative,
        400,
        10133,
        "replicas count cannot be negative",
    ),
];
