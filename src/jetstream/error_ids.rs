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
