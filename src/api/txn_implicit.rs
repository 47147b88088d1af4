//! Transactions V2 (KIP-890 part 2): a producer that runs transactions V2 never sends
//! AddPartitionsToTxn or AddOffsetsToTxn; the broker adds the partition to the producer's
//! transaction itself before it appends a transactional batch of Produce v12+, and the group's
//! `__consumer_offsets` partition before it accepts TxnOffsetCommit v5 (Kafka's
//! AddPartitionsToTxnManager with the `addPartition` operation). When the transaction
//! coordinator runs on this broker the add is submitted to it; otherwise it is sent to the
//! coordinator's broker as AddPartitionsToTxn v5 without `verify_only`, as Kafka's broker does.
//! The same path verifies (KIP-890 part 1) the first batch of a transactions-V1 producer in a
//! partition whose coordinator is elsewhere, with AddPartitionsToTxn v4 `verify_only` (a local
//! coordinator's view is checked in produce.rs). A partition where the producer already has a
//! transaction open at its epoch needs neither.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use kafka_protocol::messages::ProduceRequest;

use crate::cluster::Broker;
use crate::protocol::batch::BatchIter;
use crate::txn::types::{Request as TxnRequest, Response as TxnResponse, TopicPartition};

const NONE: i16 = 0;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const NOT_ENOUGH_REPLICAS: i16 = 19;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const CONCURRENT_TRANSACTIONS: i16 = 51;
const PRODUCER_FENCED: i16 = 90;

/// Whether transactions V2 is served end to end, so that ApiVersions may finalize
/// `transaction.version` 2: partitions are verified and added, through the local coordinator
/// or (a broker of a cluster) the coordinator's broker.
pub fn tv2_served(broker: &Broker) -> bool {
    let voters = &broker.config.controller_quorum_voters;
    let alone = voters.is_empty()
        || (voters.len() == 1
            && voters.contains_key(&broker.config.node_id)
            && broker.cluster().brokers.len() <= 1);
    (alone || broker.txn_forward.get().is_some())
        && broker.config.transaction_partition_verification_enable
}

/// The broker (host, port) leading the `__transaction_state` partition of `transactional_id`.
fn coordinator_endpoint(broker: &Broker, transactional_id: &str) -> Option<(String, u16)> {
    let t = broker.topic(crate::server::txn_runtime::TXN_TOPIC)?;
    let p = crate::group::partition_for(transactional_id, t.partitions.len() as i32);
    let leader = t.slot(p)?.meta.leader;
    let view = broker.cluster();
    let b = view.broker(leader).filter(|b| !b.fenced)?;
    Some((b.host.clone(), b.port))
}

/// The coordinator's code per partition, once it answered.
type CodesFuture =
    std::pin::Pin<Box<dyn Future<Output = Vec<(TopicPartition, i16)>> + Send + 'static>>;

/// Adds (or with `verify_only`, checks) `partitions` in the transaction of `transactional_id`
/// through its coordinator wherever it runs; answers the coordinator's code per partition.
fn add_anywhere(
    broker: &Broker,
    transactional_id: &str,
    producer: (i64, i16),
    partitions: Vec<TopicPartition>,
    verify_only: bool,
) -> CodesFuture {
    if super::produce::coordinated_here(broker, transactional_id) {
        if let Some(f) = add(
            broker,
            transactional_id,
            producer.0,
            producer.1,
            partitions.clone(),
        ) {
            return Box::pin(f);
        }
    } else if let (Some(fwd), Some((host, port))) = (
        broker.txn_forward.get(),
        coordinator_endpoint(broker, transactional_id),
    ) {
        return Box::pin(fwd.add(
            host,
            port,
            transactional_id,
            producer.0,
            producer.1,
            partitions,
            verify_only,
        ));
    }
    Box::pin(std::future::ready(
        partitions
            .into_iter()
            .map(|tp| (tp, COORDINATOR_NOT_AVAILABLE))
            .collect(),
    ))
}

/// Adds `partitions` to the transaction of `transactional_id` for a transactions-V2 producer
/// (producer id and epoch of its batch) and answers the coordinator's code per partition;
/// None when the transaction coordinator does not run on this broker.
pub fn add(
    broker: &Broker,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    partitions: Vec<TopicPartition>,
) -> Option<impl Future<Output = Vec<(TopicPartition, i16)>> + Send + 'static> {
    let handle = broker.txns.get()?;
    let requested = partitions.clone();
    let fut = handle.submit(TxnRequest::AddPartitions {
        transactional_id: transactional_id.to_string(),
        producer_id,
        producer_epoch,
        partitions,
        verify_only: false,
        version: 5,
        tv2: true,
    });
    Some(async move {
        match fut.await {
            Some(TxnResponse::AddPartitions { partitions, .. }) => partitions,
            _ => requested
                .into_iter()
                .map(|tp| (tp, COORDINATOR_NOT_AVAILABLE))
                .collect(),
        }
    })
}

/// The produce error for a failed implicit add, as Kafka's ReplicaManager translates the
/// coordinator's: a fenced producer is INVALID_PRODUCER_EPOCH; the retriable coordinator
/// errors become NOT_ENOUGH_REPLICAS (retried by every client without a metadata refresh).
pub fn produce_code(code: i16) -> i16 {
    match code {
        PRODUCER_FENCED => INVALID_PRODUCER_EPOCH,
        CONCURRENT_TRANSACTIONS
        | COORDINATOR_LOAD_IN_PROGRESS
        | COORDINATOR_NOT_AVAILABLE
        | NOT_COORDINATOR => NOT_ENOUGH_REPLICAS,
        other => other,
    }
}

/// The TxnOffsetCommit error for a failed implicit add: the group coordinator turns the
/// produce path's NOT_ENOUGH_REPLICAS into COORDINATOR_NOT_AVAILABLE (Kafka's
/// CoordinatorOperationExceptionHelper); fenced stays PRODUCER_FENCED.
pub fn offset_commit_code(code: i16) -> i16 {
    match code {
        INVALID_PRODUCER_EPOCH => PRODUCER_FENCED,
        NONE => NONE,
        other => match produce_code(other) {
            NOT_ENOUGH_REPLICAS => COORDINATOR_NOT_AVAILABLE,
            INVALID_PRODUCER_EPOCH => PRODUCER_FENCED,
            c => c,
        },
    }
}

/// Produce v12+ (transactions V2): the partitions of this request whose transactional batch
/// is not in the producer's ongoing transaction yet, added now; below v12 with a coordinator
/// on another broker, those partitions verified by it. The future answers the produce error of
/// each partition whose add or verification failed. None when nothing is to be done (acks=0,
/// verification disabled, no transactional batch, every partition already in the transaction,
/// or below v12 with the coordinator here: produce.rs checks its view).
pub fn produce_adds(
    broker: &Arc<Broker>,
    version: i16,
    body: &ProduceRequest,
) -> Option<impl Future<Output = HashMap<TopicPartition, i16>> + Send + 'static> {
    if body.acks == 0 || !broker.config.transaction_partition_verification_enable {
        return None;
    }
    let tid = body.transactional_id.as_ref()?.as_str();
    if tid.is_empty() {
        return None;
    }
    let local = super::produce::coordinated_here(broker, tid);
    if local && version < 12 {
        return None;
    }
    if !local && broker.txn_forward.get().is_none() {
        return None;
    }
    let mut producer: Option<(i64, i16)> = None;
    let mut missing = Vec::new();
    for td in &body.topic_data {
        let topic = if version >= 13 {
            broker.topic_by_id(&td.topic_id)
        } else {
            broker.topic(td.name.0.as_str())
        };
        let Some(topic) = topic.filter(|t| !t.internal) else {
            continue;
        };
        for pd in &td.partition_data {
            let Ok(partition) = topic.leader(pd.index, -1) else {
                continue;
            };
            let Some(Ok((h, _))) = pd.records.as_deref().and_then(|r| BatchIter::new(r).next())
            else {
                continue;
            };
            if !h.is_transactional() || h.is_control() || h.producer_id < 0 {
                continue;
            }
            let this = (h.producer_id, h.producer_epoch);
            if *producer.get_or_insert(this) != this {
                continue;
            }
            let needed = if local {
                broker
                    .txn_partitions
                    .check(this.0, this.1, &topic.name, pd.index)
                    == Err(INVALID_TXN_STATE)
            } else {
                !partition.log().producer_in_transaction(this.0, this.1)
            };
            if needed {
                missing.push((topic.name.clone(), pd.index));
            }
        }
    }
    let producer = producer?;
    if missing.is_empty() {
        return None;
    }
    let fut = add_anywhere(broker, tid, producer, missing, version < 12);
    Some(async move {
        fut.await
            .into_iter()
            .filter(|(_, code)| *code != NONE)
            .map(|(tp, code)| (tp, produce_code(code)))
            .collect()
    })
}

/// TxnOffsetCommit v5 (transactions V2): adds the group's `__consumer_offsets` partition to
/// the producer's transaction when it is not in it yet; below v5 (`verify_only`) with the
/// coordinator on another broker, asks it whether the partition is in the transaction (a
/// local coordinator's view is checked by txn_offset_commit.rs). The future answers the
/// TxnOffsetCommit error (NONE once added or verified). None when nothing is to be done.
pub fn offsets_add(
    broker: &Arc<Broker>,
    transactional_id: &str,
    group_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
) -> Option<impl Future<Output = i16> + Send + 'static> {
    if !broker.config.transaction_partition_verification_enable || transactional_id.is_empty() {
        return None;
    }
    let offsets = broker.topic(crate::txn::CONSUMER_OFFSETS_TOPIC)?;
    let p = crate::group::partition_for(group_id, offsets.partitions.len() as i32);
    let topic = crate::txn::CONSUMER_OFFSETS_TOPIC;
    let needed = if super::produce::coordinated_here(broker, transactional_id) {
        !verify_only
            && broker
                .txn_partitions
                .check(producer_id, producer_epoch, topic, p)
                == Err(INVALID_TXN_STATE)
    } else {
        broker.txn_forward.get()?;
        let partition = offsets.leader(p, -1).ok()?;
        let open = partition
            .log()
            .producer_in_transaction(producer_id, producer_epoch);
        !open
    };
    if !needed {
        return None;
    }
    let fut = add_anywhere(
        broker,
        transactional_id,
        (producer_id, producer_epoch),
        vec![(topic.to_string(), p)],
        verify_only,
    );
    Some(async move {
        let codes = fut.await;
        let code = codes.first().map_or(COORDINATOR_NOT_AVAILABLE, |(_, c)| *c);
        offset_commit_code(code)
    })
}
