//! Transactions V2 (KIP-890 part 2): a producer that runs transactions V2 never sends
//! AddPartitionsToTxn or AddOffsetsToTxn; the broker adds the partition to the producer's
//! transaction itself before it appends a transactional batch of Produce v12+, and the group's
//! `__consumer_offsets` partition before it accepts TxnOffsetCommit v5 (Kafka's
//! AddPartitionsToTxnManager with the `addPartition` operation). Kafka's broker sends its
//! coordinator AddPartitionsToTxn v5 without `verify_only`; skua submits the same request to
//! the transaction coordinator when it runs on this broker. A producer whose coordinator is
//! on another broker is not added for (the produce path does not verify it either, see
//! produce.rs), which is why the `transaction.version` feature is finalized only where every
//! coordinator is local: a single node ([`tv2_served`]).

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
/// `transaction.version` 2: the transaction coordinator of every transactional id runs on
/// this broker (a single node: no quorum configured, or a quorum of this node alone with no
/// other broker registered), so the implicit adds always reach it.
pub fn tv2_served(broker: &Broker) -> bool {
    let voters = &broker.config.controller_quorum_voters;
    let alone = voters.is_empty()
        || (voters.len() == 1
            && voters.contains_key(&broker.config.node_id)
            && broker.cluster().brokers.len() <= 1);
    alone && broker.config.transaction_partition_verification_enable
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
/// is not in the producer's ongoing transaction yet, added now; the future answers the
/// produce error of each partition whose add failed. None when nothing is to be added (an
/// older version, acks=0, verification disabled, no transactional batch, every partition
/// already in the transaction, or a coordinator on another broker).
pub fn produce_adds(
    broker: &Arc<Broker>,
    version: i16,
    body: &ProduceRequest,
) -> Option<impl Future<Output = HashMap<TopicPartition, i16>> + Send + 'static> {
    if version < 12 || body.acks == 0 || !broker.config.transaction_partition_verification_enable {
        return None;
    }
    let tid = body.transactional_id.as_ref()?.as_str();
    if tid.is_empty() || !super::produce::coordinated_here(broker, tid) {
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
            if topic.leader(pd.index, -1).is_err() {
                continue;
            }
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
            let check = broker
                .txn_partitions
                .check(this.0, this.1, &topic.name, pd.index);
            if check == Err(INVALID_TXN_STATE) {
                missing.push((topic.name.clone(), pd.index));
            }
        }
    }
    let (producer_id, producer_epoch) = producer?;
    if missing.is_empty() {
        return None;
    }
    let fut = add(broker, tid, producer_id, producer_epoch, missing)?;
    Some(async move {
        fut.await
            .into_iter()
            .filter(|(_, code)| *code != NONE)
            .map(|(tp, code)| (tp, produce_code(code)))
            .collect()
    })
}

/// TxnOffsetCommit v5 (transactions V2): adds the group's `__consumer_offsets` partition to
/// the producer's transaction when it is not in it yet; the future answers the TxnOffsetCommit
/// error (NONE once added). None when nothing is to be added.
pub fn offsets_add(
    broker: &Arc<Broker>,
    transactional_id: &str,
    group_id: &str,
    producer_id: i64,
    producer_epoch: i16,
) -> Option<impl Future<Output = i16> + Send + 'static> {
    if !broker.config.transaction_partition_verification_enable
        || transactional_id.is_empty()
        || !super::produce::coordinated_here(broker, transactional_id)
    {
        return None;
    }
    let offsets = broker.topic(crate::txn::CONSUMER_OFFSETS_TOPIC)?;
    let p = crate::group::partition_for(group_id, offsets.partitions.len() as i32);
    let topic = crate::txn::CONSUMER_OFFSETS_TOPIC;
    let check = broker
        .txn_partitions
        .check(producer_id, producer_epoch, topic, p);
    if check != Err(INVALID_TXN_STATE) {
        return None;
    }
    let fut = add(
        broker,
        transactional_id,
        producer_id,
        producer_epoch,
        vec![(topic.to_string(), p)],
    )?;
    Some(async move {
        let codes = fut.await;
        let code = codes.first().map_or(COORDINATOR_NOT_AVAILABLE, |(_, c)| *c);
        offset_commit_code(code)
    })
}
