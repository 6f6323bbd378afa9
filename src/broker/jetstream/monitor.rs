//! What monitoring reads of the JetStream service (/jsz, the /varz `jetstream` section),
//! on core 0 where both the service and the HTTP port live: a plain read of the streams
//! and consumers between events, nothing sent to another core, nothing changed (an
//! age-limited stream's expiry waits for the service's own tick).
//!
//! Every stream is in the global account `$G`, the only JetStream account ringmq has.

use super::{JetStream, Stream};
use crate::broker::Shard;
use crate::jetstream::api::{SequenceInfo, StreamState};
use crate::jetstream::consumer_config::ConsumerConfig;
use crate::jetstream::json::GoTime;
use crate::jetstream::stream_config::{Storage, StreamConfig};
use crate::monitor::document::{Time, GLOBAL_ACCOUNT};
use crate::monitor::http::Response;
use crate::monitor::jsz::{
    self, AccountDetail, ApiStats, ClusterInfo, ConsumerDetail, JetStreamConfig, JetStreamStats,
    JetStreamVarz, Service, StreamDetail, Totals,
};
use crate::monitor::query::JszOptions;

type Consumer = ConsumerDetail<ConsumerConfig, SequenceInfo>;
type Detail = StreamDetail<StreamConfig, StreamState, Consumer>;

/// An account without JetStream limits reserves nothing; nats-server writes its `-1`
/// ("unlimited") reservation as an unsigned number in `account_details`.
const UNLIMITED_RESERVATION: u64 = u64::MAX;

impl Shard {
    /// The /jsz answer for `options` (core 0).
    pub(in crate::broker) fn jsz(
        &self,
        server_id: &str,
        now: i64,
        options: &JszOptions,
    ) -> Response {
        debug_assert_eq!(self.core, 0, "JetStream and the HTTP port live on core 0");
        let Some(config) = self.jetstream_config() else {
            return jsz::jsz_disabled(server_id, now, options);
        };
        let streams = self.jetstream_streams();
        let stats = usage(&streams, self.jetstream.as_deref());
        let totals = totals(&streams);
        let details: Vec<AccountDetail<Detail>> =
            jsz::select_accounts(vec![GLOBAL_ACCOUNT.to_string()], options)
                .into_iter()
                .map(|name| self.account_detail(name, &streams, &stats, options))
                .collect();
        jsz::jsz(
            server_id,
            now,
            &Service {
                config: &config,
                stats,
                totals,
                details: &details,
            },
        )
    }

    /// The /varz `jetstream` section (core 0): `{}` without JetStream.
    pub(in crate::broker) fn jetstream_varz(&self) -> JetStreamVarz {
        let Some(config) = self.jetstream_config() else {
            return JetStreamVarz::default();
        };
        let streams = self.jetstream_streams();
        JetStreamVarz {
            config: Some(config),
            stats: Some(usage(&streams, self.jetstream.as_deref())),
        }
    }

    /// The configured service (`None`: JetStream is off).
    fn jetstream_config(&self) -> Option<JetStreamConfig> {
        let shared = self.shared.jetstream.as_ref()?;
        Some(JetStreamConfig {
            max_memory: shared.max_memory,
            max_storage: shared.max_store,
            store_dir: shared.jetstream_dir.display().to_string(),
            domain: shared.domain.clone().unwrap_or_default(),
        })
    }

    /// The live streams in name order (none before core 0's first turn took them over).
    fn jetstream_streams(&self) -> Vec<&Stream> {
        self.jetstream.as_deref().map_or_else(Vec::new, |js| {
            js.streams.values().filter(|s| !s.deleting).collect()
        })
    }

    fn account_detail(
        &self,
        name: String,
        streams: &[&Stream],
        stats: &JetStreamStats,
        options: &JszOptions,
    ) -> AccountDetail<Detail> {
        // nats-server names the cluster only when one is configured (ringmq also keeps a
        // dynamic name without one, for INFO).
        let cluster = ClusterInfo {
            name: if self.live.config.cluster.is_some() {
                self.cluster.name.clone()
            } else {
                String::new()
            },
            leader: self.live.info.server_name.clone(),
        };
        let stream_detail = if options.streams {
            streams
                .iter()
                .map(|stream| stream_detail(stream, &cluster, options))
                .collect()
        } else {
            Vec::new()
        };
        AccountDetail {
            id: name.clone(),
            name,
            stats: JetStreamStats {
                memory: stats.memory,
                storage: stats.storage,
                reserved_memory: UNLIMITED_RESERVATION,
                reserved_storage: UNLIMITED_RESERVATION,
                accounts: 0,
                ha_assets: 0,
                api: stats.api,
            },
            stream_detail,
        }
    }
}

/// The server-wide usage block: one account, bytes by storage kind, the API counters.
fn usage(streams: &[&Stream], js: Option<&JetStream>) -> JetStreamStats {
    let (mut memory, mut storage) = (0, 0);
    for stream in streams {
        let bytes = stream.store.state().bytes;
        match stream.config.storage {
            Some(Storage::Memory) => memory += bytes,
            _ => storage += bytes,
        }
    }
    JetStreamStats {
        memory,
        storage,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 1,
        ha_assets: 0,
        api: js.map_or_else(ApiStats::default, |js| ApiStats {
            total: js.stats.total,
            errors: js.stats.errors,
        }),
    }
}

fn totals(streams: &[&Stream]) -> Totals {
    let mut totals = Totals {
        streams: streams.len(),
        ..Totals::default()
    };
    for stream in streams {
        let state = stream.store.state();
        totals.consumers += stream.consumers.len();
        totals.messages += state.msgs;
        totals.bytes += state.bytes;
    }
    totals
}

/// A stream as /jsz lists it: its plain state (no subjects, no deleted list), its
/// consumers with `consumers`, configurations with `config`.
fn stream_detail(stream: &Stream, cluster: &ClusterInfo, options: &JszOptions) -> Detail {
    let name = stream.config.name.clone();
    let consumer_detail = if options.consumers {
        stream
            .consumers
            .values()
            .map(|consumer| {
                let info = consumer.info(&name, &stream.store);
                ConsumerDetail {
                    stream_name: info.stream_name,
                    name: info.name,
                    created: time(&info.created),
                    config: options.config.then_some(info.config),
                    delivered: info.delivered,
                    ack_floor: info.ack_floor,
                    num_ack_pending: info.num_ack_pending,
                    num_redelivered: info.num_redelivered,
                    num_waiting: info.num_waiting,
                    num_pending: info.num_pending,
                    push_bound: info.push_bound,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    StreamDetail {
        name,
        created: Time(stream.created_ns),
        cluster: Some(cluster.clone()),
        config: options.config.then(|| stream.config.clone()),
        state: stream_state(stream),
        consumer_detail,
    }
}

fn stream_state(stream: &Stream) -> StreamState {
    let state = stream.store.state();
    let time = |ns: i64| {
        if ns == 0 {
            GoTime::default()
        } else {
            GoTime::utc(ns)
        }
    };
    StreamState {
        messages: state.msgs,
        bytes: state.bytes,
        first_seq: state.first_seq,
        first_ts: time(state.first_ts_ns),
        last_seq: state.last_seq,
        last_ts: time(state.last_ts_ns),
        num_subjects: state.num_subjects as usize,
        subjects: Vec::new(),
        num_deleted: state.num_deleted as usize,
        deleted: Vec::new(),
        consumer_count: stream.consumers.len(),
    }
}

fn time(go: &GoTime) -> Time {
    Time(go.unix_nanos().unwrap_or(0))
}
