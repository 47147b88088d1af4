//! Prometheus metrics: what is counted on the hot paths, and how a scrape is encoded.
//!
//! Encoding is `prometheus-client`'s (OpenMetrics text, which Prometheus scrapes natively);
//! every metric is produced by one [`Collector`] at scrape time, from three sources:
//! - process-wide counters in [`global()`] (requests per API, connections, fsync latency):
//!   relaxed atomic adds, no lock and no allocation on the request path;
//! - per-partition traffic counters in [`PartitionStats`] (bytes and records in, bytes out),
//!   summed per topic at scrape time, so a deleted topic's series disappear with it;
//! - values read at scrape time only: each partition's offsets and size (one short lock of
//!   its log per partition), and consumer-group lag from a snapshot of committed offsets
//!   asked of the group runtime.
//!
//! Histograms are [`AtomicHistogram`]s (fixed buckets, atomic counts) rather than the crate's
//! `Histogram`, which takes a mutex per observation.
//!
//! Concurrency: counters may be read mid-update by a scrape; each value is itself consistent
//! and monotonic, which is all Prometheus needs.

pub mod http;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::api::APIS;
use crate::cluster::Broker;

/// Upper bounds of the request latency buckets, in seconds (the +Inf bucket is implied).
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Upper bounds of the fsync latency buckets, in seconds.
const FSYNC_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// A histogram with fixed buckets whose observations are relaxed atomic adds.
pub struct AtomicHistogram {
    bounds: &'static [f64],
    /// One count per bound, then the +Inf bucket (not cumulative).
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    pub fn new(bounds: &'static [f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Relaxed);
        }
        self.sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn encode(&self, mut m: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().map(|c| c.load(Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

/// Counters of one Kafka API.
pub struct ApiStats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Request read → response written.
    pub latency: AtomicHistogram,
}

/// Process-wide counters.
pub struct Metrics {
    /// Indexed by API key; only the keys in the dispatch table are exported.
    apis: Vec<ApiStats>,
    pub connections_active: AtomicI64,
    pub connections_accepted: AtomicU64,
    /// Connections closed at once by `max.connections.per.ip` or an IP's
    /// `connection_creation_rate` quota.
    pub connections_refused: AtomicU64,
    /// fsyncs of the group-commit sync loop (acks=all).
    pub fsync_group_commit: AtomicHistogram,
    /// fsyncs of the flush policy's `flush.ms` sweep (those that `flush.messages` triggers
    /// inside an append are not timed: the log does not read the clock).
    pub fsync_flush_policy: AtomicHistogram,
    /// ISR shrinks / expands of partitions led here, as committed by the controller.
    pub isr_shrinks: AtomicU64,
    pub isr_expands: AtomicU64,
    /// Times this broker became leader of a partition (a new leader epoch).
    pub leader_elections: AtomicU64,
    /// Connections that failed authentication (TLS handshake, client certificate mapping,
    /// SASL) and SASL authentications that succeeded.
    pub authentication_failures: AtomicU64,
    pub authentication_successes: AtomicU64,
}

impl Metrics {
    fn new() -> Metrics {
        let max_key = APIS.iter().map(|e| e.key as i16).max().unwrap_or(0);
        Metrics {
            apis: (0..=max_key)
                .map(|_| ApiStats {
                    requests: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    latency: AtomicHistogram::new(LATENCY_BUCKETS),
                })
                .collect(),
            connections_active: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            fsync_group_commit: AtomicHistogram::new(FSYNC_BUCKETS),
            fsync_flush_policy: AtomicHistogram::new(FSYNC_BUCKETS),
            isr_shrinks: AtomicU64::new(0),
            isr_expands: AtomicU64::new(0),
            leader_elections: AtomicU64::new(0),
            authentication_failures: AtomicU64::new(0),
            authentication_successes: AtomicU64::new(0),
        }
    }

    pub fn failed_authentication(&self) {
        self.authentication_failures.fetch_add(1, Relaxed);
    }

    pub fn successful_authentication(&self) {
        self.authentication_successes.fetch_add(1, Relaxed);
    }

    /// The counters of an API key, if it is one this broker serves.
    pub fn api(&self, key: i16) -> Option<&ApiStats> {
        usize::try_from(key).ok().and_then(|k| self.apis.get(k))
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide counters.
pub fn global() -> &'static Metrics {
    &METRICS
}

/// A connection refused by a connection limit.
pub fn record_connection_refused() {
    global().connections_refused.fetch_add(1, Relaxed);
}

/// Counts an open connection while alive (so an aborted connection task is still counted
/// out).
pub struct ConnectionGuard(());

impl ConnectionGuard {
    pub fn open() -> ConnectionGuard {
        let m = global();
        m.connections_accepted.fetch_add(1, Relaxed);
        m.connections_active.fetch_add(1, Relaxed);
        ConnectionGuard(())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        global().connections_active.fetch_sub(1, Relaxed);
    }
}

/// Traffic of one partition, counted on the produce and fetch paths.
#[derive(Debug, Default)]
pub struct PartitionStats {
    /// Bytes of record batches appended by Produce.
    pub bytes_in: AtomicU64,
    /// Records appended by Produce.
    pub records_in: AtomicU64,
    /// Bytes of record batches returned by Fetch.
    pub bytes_out: AtomicU64,
}

/// One committed offset of a consumer group, as the group runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffsetRow {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Everything one scrape encodes.
struct Scrape {
    broker: Arc<Broker>,
    committed: Vec<CommittedOffsetRow>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

/// One partition's values read at scrape time.
struct PartitionRow {
    topic: Arc<str>,
    partition: i32,
    log_end_offset: i64,
    log_start_offset: i64,
    high_watermark: i64,
    last_stable_offset: i64,
    size_bytes: u64,
    bytes_in: u64,
    records_in: u64,
    bytes_out: u64,
}

fn partition_rows(broker: &Broker) -> Vec<PartitionRow> {
    let mut rows = Vec::new();
    for topic in broker.all_topics() {
        let name: Arc<str> = topic.name.as_str().into();
        for p in topic.hosted() {
            let log = p.log();
            rows.push(PartitionRow {
                topic: Arc::clone(&name),
                partition: p.index,
                log_end_offset: log.log_end_offset(),
                log_start_offset: log.log_start_offset(),
                high_watermark: log.high_watermark(),
                last_stable_offset: log.last_stable_offset(),
                size_bytes: log.size_bytes(),
                bytes_in: p.stats.bytes_in.load(Relaxed),
                records_in: p.stats.records_in.load(Relaxed),
                bytes_out: p.stats.bytes_out.load(Relaxed),
            });
        }
    }
    rows
}

/// Encode one family: a descriptor, then one sample per label set.
fn family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    samples: impl IntoIterator<Item = (L, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, kind)?;
    for (labels, value) in samples {
        let mut s = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => {
                s.encode_counter::<NoLabelSet, _, u64>(&(value.max(0) as u64), None)?
            }
            _ => s.encode_gauge(&value)?,
        }
    }
    Ok(())
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Scrape {
    fn encode_requests(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = global();
        let served = || {
            APIS.iter()
                .filter_map(|e| m.api(e.key as i16).map(|s| (api_name(e.key), s)))
        };
        family(
            enc,
            "skua_requests",
            "Requests received, by API (all versions).",
            None,
            MetricType::Counter,
            served().map(|(n, s)| ([("api", n)], clamp(s.requests.load(Relaxed)))),
        )?;
        family(
            enc,
            "skua_request_errors",
            "Requests answered with a non-zero top-level error code, or not answered at all \
             (malformed, unsupported version: the connection is closed), by API.",
            None,
            MetricType::Counter,
            served().map(|(n, s)| ([("api", n)], clamp(s.errors.load(Relaxed)))),
        )?;
        let mut h = enc.encode_descriptor(
            "skua_request_duration",
            "Time from a request read to its response written, by API.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (n, s) in served() {
            s.latency.encode(h.encode_family(&[("api", n)])?)?;
        }
        Ok(())
    }

    fn encode_process(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = global();
        enc.encode_descriptor(
            "skua_connections_active",
            "Client connections open now.",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&m.connections_active.load(Relaxed))?;
        enc.encode_descriptor(
            "skua_connections_accepted",
            "Client connections accepted since start.",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, u64>(&m.connections_accepted.load(Relaxed), None)?;
        enc.encode_descriptor(
            "skua_connections_refused",
            "Connections closed by max.connections.per.ip or an IP's connection_creation_rate quota.",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, u64>(&m.connections_refused.load(Relaxed), None)?;
        let q = &self.broker.quotas.counters;
        family(
            enc,
            "skua_quota_throttled",
            "Responses throttled by a client quota, by quota type.",
            None,
            MetricType::Counter,
            ["produce", "fetch", "request"]
                .into_iter()
                .enumerate()
                .map(|(i, k)| ([("quota", k)], clamp(q.throttled[i].load(Relaxed)))),
        )?;
        family(
            enc,
            "skua_quota_throttle_time_ms",
            "Total throttle time given by client quotas, by quota type, in ms.",
            None,
            MetricType::Counter,
            ["produce", "fetch", "request"]
                .into_iter()
                .enumerate()
                .map(|(i, k)| ([("quota", k)], clamp(q.throttle_ms[i].load(Relaxed)))),
        )?;
        family(
            enc,
            "skua_resource_exhausted",
            "Times a resource ran out: file descriptors (EMFILE/ENFILE), disk (ENOSPC/EDQUOT), \
             memory (ENOMEM); each answered with an error code, the broker kept serving.",
            None,
            MetricType::Counter,
            crate::resource::Resource::ALL.map(|r| {
                (
                    [("resource", r.label())],
                    clamp(crate::resource::exhausted_total(r)),
                )
            }),
        )?;
        let files = crate::log::open_files::global().stats();
        let (soft, _) = crate::resource::nofile_limit().unwrap_or((0, 0));
        family(
            enc,
            "skua_open_files_limit",
            "The nofile limit of the process, and log.max.open.files (the cache of open \
             segment files).",
            None,
            MetricType::Gauge,
            [
                ([("limit", "nofile")], clamp(soft)),
                (
                    [("limit", "log_max_open_files")],
                    clamp(files.capacity as u64),
                ),
            ],
        )?;
        family(
            enc,
            "skua_open_files",
            "Descriptors open: in the process, and segment files in the cache.",
            None,
            MetricType::Gauge,
            [
                (
                    [("scope", "process")],
                    clamp(crate::resource::open_fds().unwrap_or(0) as u64),
                ),
                ([("scope", "log_cache")], clamp(files.open as u64)),
            ],
        )?;
        family(
            enc,
            "skua_open_files_cache_events",
            "Segment files opened (first open or reopen) and closed to make room.",
            None,
            MetricType::Counter,
            [
                ([("event", "open")], clamp(files.opens)),
                ([("event", "eviction")], clamp(files.evictions)),
            ],
        )?;
        let mut h = enc.encode_descriptor(
            "skua_log_fsync_duration",
            "fsync latency of partition logs: group commit (acks=all) or the flush.ms sweep.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        m.fsync_group_commit
            .encode(h.encode_family(&[("source", "group_commit")])?)?;
        m.fsync_flush_policy
            .encode(h.encode_family(&[("source", "flush_policy")])?)?;
        Ok(())
    }

    fn encode_topics(
        &self,
        enc: &mut DescriptorEncoder,
        rows: &[PartitionRow],
    ) -> Result<(), std::fmt::Error> {
        // Rows come sorted by topic, so a topic's partitions are adjacent.
        let mut topics: Vec<(&str, u64, u64, u64)> = Vec::new();
        for r in rows {
            match topics.last_mut() {
                Some(t) if t.0 == &*r.topic => {
                    t.1 += r.bytes_in;
                    t.2 += r.records_in;
                    t.3 += r.bytes_out;
                }
                _ => topics.push((&r.topic, r.bytes_in, r.records_in, r.bytes_out)),
            }
        }
        type Get = fn(&(&str, u64, u64, u64)) -> u64;
        let counters: [(&str, &str, Get); 3] = [
            (
                "skua_topic_bytes_in",
                "Bytes of record batches appended by Produce, by topic.",
                |t| t.1,
            ),
            (
                "skua_topic_records_in",
                "Records appended by Produce, by topic.",
                |t| t.2,
            ),
            (
                "skua_topic_bytes_out",
                "Bytes of record batches returned by Fetch, by topic.",
                |t| t.3,
            ),
        ];
        for (name, help, get) in counters {
            family(
                enc,
                name,
                help,
                None,
                MetricType::Counter,
                topics.iter().map(|t| ([("topic", t.0)], clamp(get(t)))),
            )?;
        }
        Ok(())
    }

    fn encode_partitions(
        &self,
        enc: &mut DescriptorEncoder,
        rows: &[PartitionRow],
    ) -> Result<(), std::fmt::Error> {
        type Get = fn(&PartitionRow) -> i64;
        let gauges: [(&str, &str, Get); 5] = [
            (
                "skua_partition_log_end_offset",
                "Offset the next record appended to the partition gets.",
                |r| r.log_end_offset,
            ),
            (
                "skua_partition_log_start_offset",
                "First offset still in the partition log.",
                |r| r.log_start_offset,
            ),
            (
                "skua_partition_high_watermark",
                "High watermark (the log end offset on a single node).",
                |r| r.high_watermark,
            ),
            (
                "skua_partition_last_stable_offset",
                "Last stable offset (read_committed consumers read below it).",
                |r| r.last_stable_offset,
            ),
            (
                "skua_partition_size_bytes",
                "Bytes of the partition's segment files.",
                |r| clamp(r.size_bytes),
            ),
        ];
        for (name, help, get) in gauges {
            family(
                enc,
                name,
                help,
                None,
                MetricType::Gauge,
                rows.iter().map(|r| {
                    (
                        [
                            ("topic", r.topic.to_string()),
                            ("partition", r.partition.to_string()),
                        ],
                        get(r),
                    )
                }),
            )?;
        }
        Ok(())
    }

    fn encode_lag(
        &self,
        enc: &mut DescriptorEncoder,
        rows: &[PartitionRow],
    ) -> Result<(), std::fmt::Error> {
        let end_of = |topic: &str, partition: i32| {
            rows.iter()
                .find(|r| &*r.topic == topic && r.partition == partition)
                .map(|r| r.high_watermark)
        };
        let lags: Vec<_> = self
            .committed
            .iter()
            .filter_map(|c| {
                let end = end_of(&c.topic, c.partition)?;
                Some((c, (end - c.offset).max(0)))
            })
            .collect();
        let labels = |c: &CommittedOffsetRow| {
            [
                ("group", c.group.clone()),
                ("topic", c.topic.clone()),
                ("partition", c.partition.to_string()),
            ]
        };
        family(
            enc,
            "skua_consumer_group_committed_offset",
            "Committed offset of a consumer group in a partition.",
            None,
            MetricType::Gauge,
            lags.iter().map(|(c, _)| (labels(c), c.offset)),
        )?;
        family(
            enc,
            "skua_consumer_group_lag",
            "Records a consumer group has yet to consume: high watermark minus committed \
             offset (0 if the committed offset is past it).",
            None,
            MetricType::Gauge,
            lags.iter().map(|(c, lag)| (labels(c), *lag)),
        )
    }
}

impl Scrape {
    /// Replication: partitions led here that are under-replicated (ISR smaller than the
    /// replica set) or under min ISR, partitions without a leader, each led partition's
    /// largest follower lag, ISR changes, elections, and whether this node is the active
    /// controller.
    fn encode_replication(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (mut under, mut under_min, mut offline, mut led) = (0i64, 0i64, 0i64, 0i64);
        let mut lags: Vec<([(&str, String); 2], i64)> = Vec::new();
        for t in self.broker.all_topics() {
            for slot in &t.partitions {
                if slot.meta.leader < 0 {
                    offline += 1;
                }
                let Some(p) = &slot.replica else { continue };
                let state = p.with_leader(|s| {
                    let lag = s
                        .replicas()
                        .iter()
                        .filter_map(|r| s.follower_lag(*r))
                        .max()
                        .unwrap_or(0);
                    (s.is_under_replicated(), s.is_under_min_isr(), lag)
                });
                if let Some((u, m, lag)) = state {
                    led += 1;
                    under += i64::from(u);
                    under_min += i64::from(m);
                    lags.push((
                        [
                            ("topic", t.name.clone()),
                            ("partition", slot.index.to_string()),
                        ],
                        lag,
                    ));
                }
            }
        }
        let gauges: [(&str, &str, i64); 5] = [
            (
                "skua_leader_partitions",
                "Partitions this broker leads.",
                led,
            ),
            (
                "skua_under_replicated_partitions",
                "Partitions led here whose ISR is smaller than their replica set.",
                under,
            ),
            (
                "skua_under_min_isr_partitions",
                "Partitions led here whose ISR is smaller than min.insync.replicas.",
                under_min,
            ),
            (
                "skua_offline_partitions",
                "Partitions without a leader, as this broker's metadata has them.",
                offline,
            ),
            (
                "skua_active_controller",
                "1 if this node is the active controller, else 0.",
                i64::from(self.broker.cluster().controller_id == self.broker.config.node_id),
            ),
        ];
        for (name, help, v) in gauges {
            enc.encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_gauge(&v)?;
        }
        family(
            enc,
            "skua_partition_replica_max_lag",
            "Largest follower lag (leader log end offset minus the follower's), by partition led here.",
            None,
            MetricType::Gauge,
            lags,
        )?;
        let m = global();
        for (name, help, v) in [
            (
                "skua_isr_shrinks",
                "ISR shrinks of partitions led here.",
                &m.isr_shrinks,
            ),
            (
                "skua_isr_expands",
                "ISR expansions of partitions led here.",
                &m.isr_expands,
            ),
            (
                "skua_leader_elections",
                "Times this broker became leader of a partition.",
                &m.leader_elections,
            ),
            (
                "skua_authentication_failures",
                "Connections that failed authentication (TLS handshake, certificate mapping, SASL).",
                &m.authentication_failures,
            ),
            (
                "skua_authentication_successes",
                "Successful SASL authentications (and re-authentications).",
                &m.authentication_successes,
            ),
        ] {
            enc.encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(&v.load(Relaxed), None)?;
        }
        Ok(())
    }
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.encode_requests(&mut enc)?;
        self.encode_process(&mut enc)?;
        let rows = partition_rows(&self.broker);
        self.encode_topics(&mut enc, &rows)?;
        self.encode_partitions(&mut enc, &rows)?;
        self.encode_replication(&mut enc)?;
        self.encode_lag(&mut enc, &rows)?;
        self.encode_fetch_sessions(&mut enc)?;
        self.encode_share_partitions(&mut enc)?;
        self.encode_client_telemetry(&mut enc)
    }
}

impl Scrape {
    /// Share groups (KIP-932): per share-partition led here, its start offset, the in-flight
    /// records by state, the records the record filter archived and the dead-letter copies.
    fn encode_share_partitions(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(mgr) = self.broker.shares.get() else {
            return Ok(());
        };
        let stats = mgr.stats();
        let labels: Vec<[(&'static str, String); 3]> = stats
            .iter()
            .map(|s| {
                let topic = self
                    .broker
                    .topic_by_id(&s.key.topic_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| s.key.topic_id.to_string());
                [
                    ("group", s.key.group.clone()),
                    ("topic", topic),
                    ("partition", s.key.partition.to_string()),
                ]
            })
            .collect();
        let gauge = |f: &dyn Fn(&crate::server::share_runtime::SharePartitionStats) -> i64| {
            stats
                .iter()
                .zip(labels.iter())
                .map(|(s, l)| (l.to_vec(), f(s)))
                .collect::<Vec<_>>()
        };
        family(
            enc,
            "skua_share_partition_start_offset",
            "A share-partition's start offset: every record below it is acknowledged or archived.",
            None,
            MetricType::Gauge,
            gauge(&|s| s.start_offset),
        )?;
        let mut in_flight = Vec::new();
        for (s, l) in stats.iter().zip(labels.iter()) {
            let c = s.counts;
            for (state, v) in [
                ("available", c.0),
                ("acquired", c.1),
                ("acknowledged", c.2),
                ("archived", c.3),
            ] {
                let mut l = l.to_vec();
                l.push(("state", state.to_string()));
                in_flight.push((l, v as i64));
            }
        }
        family(
            enc,
            "skua_share_partition_in_flight_records",
            "In-flight records of a share-partition (from its start offset), by state.",
            None,
            MetricType::Gauge,
            in_flight,
        )?;
        family(
            enc,
            "skua_share_partition_filtered_records",
            "Records archived unsent by the group's skua.share.record.filter since load.",
            None,
            MetricType::Counter,
            gauge(&|s| clamp(s.filtered)),
        )?;
        family(
            enc,
            "skua_share_partition_dead_letter_records",
            "Records copied to the group's dead-letter topic since load.",
            None,
            MetricType::Counter,
            gauge(&|s| clamp(s.dlq_written)),
        )?;
        family(
            enc,
            "skua_share_partition_dead_letter_pending",
            "Failed records whose dead-letter copy is not written yet.",
            None,
            MetricType::Gauge,
            gauge(&|s| s.dlq_pending as i64),
        )?;
        Ok(())
    }
}

impl Scrape {
    /// Incremental fetch sessions (KIP-227), Kafka's NumIncrementalFetchSessions,
    /// NumIncrementalFetchPartitionsCached and IncrementalFetchSessionEvictionsPerSec (a
    /// counter here; its rate is the per-second meter).
    fn encode_fetch_sessions(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (sessions, partitions, evictions) = {
            let c = self.broker.fetch_sessions();
            (c.len() as i64, c.total_partitions() as i64, c.evictions())
        };
        enc.encode_descriptor(
            "skua_incremental_fetch_sessions",
            "Incremental fetch sessions (KIP-227) in the cache.",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&sessions)?;
        enc.encode_descriptor(
            "skua_incremental_fetch_partitions_cached",
            "Partitions held by all incremental fetch sessions.",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&partitions)?;
        enc.encode_descriptor(
            "skua_incremental_fetch_session_evictions",
            "Incremental fetch sessions evicted to make room for new ones.",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, u64>(&evictions, None)?;
        Ok(())
    }
}

impl Scrape {
    /// Client telemetry (KIP-714): the manager's bounds, then every pushed series, one family
    /// per metric name (`kafka_client_` + the OTLP name with every character outside
    /// `[a-zA-Z0-9_]` replaced by `_`), labelled by client instance and client id. Monotonic
    /// sums are counters (exposed as `<family>_total`, a name already ending in `_total` not
    /// doubled), gauges and other sums gauges; a name pushed with both kinds keeps the kind
    /// first seen.
    fn encode_client_telemetry(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use crate::telemetry::{otlp::PointKind, sanitize_name};
        use std::collections::BTreeMap;
        let (stats, samples) = {
            let mut t = self.broker.telemetry();
            let samples = t.samples(crate::cluster::now_ms());
            (t.stats(), samples)
        };
        enc.encode_descriptor(
            "skua_client_metrics_instances",
            "Client telemetry instances (KIP-714) known to this broker.",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&(stats.instances as i64))?;
        for (name, help, v) in [
            (
                "skua_client_metrics_dropped_series",
                "Pushed client metric series not exposed (client.metrics.exported.max.series.per.client).",
                stats.dropped_series,
            ),
            (
                "skua_client_metrics_dropped_pushes",
                "Pushes of clients not exposed (client.metrics.exported.max.clients).",
                stats.dropped_clients,
            ),
        ] {
            enc.encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
        }
        // Family name → (is a counter, its samples).
        type Labelled = (Vec<(String, String)>, f64);
        let mut families: BTreeMap<String, (bool, Vec<Labelled>)> = BTreeMap::new();
        for s in samples {
            let counter = matches!(s.kind, PointKind::Counter { .. });
            let mut name = format!("kafka_client_{}", sanitize_name(&s.name));
            // The text encoder adds `_total` to counters: not twice.
            if counter && name.ends_with("_total") {
                name.truncate(name.len() - "_total".len());
            }
            let family = families
                .entry(name)
                .or_insert_with(|| (counter, Vec::new()));
            if family.0 == counter {
                family.1.push((s.labels, s.value));
            }
        }
        for (name, (counter, mut series)) in families {
            series.sort_by(|a, b| a.0.cmp(&b.0));
            let kind = if counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut m = enc.encode_descriptor(&name, "Pushed by clients (KIP-714).", None, kind)?;
            for (labels, value) in series {
                let mut s = m.encode_family(&labels)?;
                if counter {
                    s.encode_counter::<NoLabelSet, _, u64>(&value.max(0.0), None)?;
                } else {
                    s.encode_gauge(&value)?;
                }
            }
        }
        Ok(())
    }
}

/// The API name used as the `api` label: Kafka's (`Produce`, `Fetch`, `ApiVersions`, ...).
fn api_name(key: ApiKey) -> String {
    format!("{key:?}")
}

/// Encode every metric of `broker` in the OpenMetrics text format.
pub fn render(broker: Arc<Broker>, committed: Vec<CommittedOffsetRow>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { broker, committed }));
    let mut out = String::with_capacity(16 * 1024);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!("encoding metrics failed: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_each_observation_in_its_bucket() {
        let h = AtomicHistogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        assert_eq!(h.count(), 4);
        let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Relaxed)).collect();
        assert_eq!(counts, vec![1, 2, 1]);
    }
}
