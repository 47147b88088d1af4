//! One file per Kafka API. Each declares the versions it serves (`VERSIONS`); [`APIS`] is the
//! dispatch table that ApiVersions advertises, so nothing unimplemented is ever advertised.
//! Internal errors are mapped to Kafka error codes in [`errors`].

pub mod acl_wire;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_client_quotas;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod alter_share_group_offsets;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod authz;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_share_group_offsets;
pub mod delete_share_group_state;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_client_quotas;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_share_group_offsets;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod errors;
pub mod fetch;
pub mod find_coordinator;
pub mod get_telemetry_subscriptions;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod initialize_share_group_state;
pub mod join_group;
pub mod leader_hints;
pub mod leave_group;
pub mod list_config_resources;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod push_telemetry;
pub mod read_share_group_state;
pub mod read_share_group_state_summary;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group_describe;
pub mod share_group_heartbeat;
pub mod share_v2;
pub mod sync_group;
pub mod txn_implicit;
pub mod txn_offset_commit;
pub mod write_share_group_state;
pub mod write_txn_markers;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};

use crate::cluster::Broker;
use crate::protocol::{decode_body, encode_response, FrameError};
use crate::security::{KafkaPrincipal, SecurityProtocol};

/// An API served by this broker, with its version range.
#[derive(Debug, Clone, Copy)]
pub struct ApiEntry {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

/// The dispatch table; ApiVersions is built from it.
pub const APIS: &[ApiEntry] = &[
    produce::VERSIONS,
    fetch::VERSIONS,
    list_offsets::VERSIONS,
    metadata::VERSIONS,
    api_versions::VERSIONS,
    create_topics::VERSIONS,
    delete_topics::VERSIONS,
    find_coordinator::VERSIONS,
    join_group::VERSIONS,
    sync_group::VERSIONS,
    heartbeat::VERSIONS,
    leave_group::VERSIONS,
    offset_commit::VERSIONS,
    offset_fetch::VERSIONS,
    describe_groups::VERSIONS,
    list_groups::VERSIONS,
    delete_groups::VERSIONS,
    offset_delete::VERSIONS,
    init_producer_id::VERSIONS,
    add_partitions_to_txn::VERSIONS,
    add_offsets_to_txn::VERSIONS,
    end_txn::VERSIONS,
    txn_offset_commit::VERSIONS,
    describe_producers::VERSIONS,
    describe_transactions::VERSIONS,
    list_transactions::VERSIONS,
    describe_configs::VERSIONS,
    alter_configs::VERSIONS,
    incremental_alter_configs::VERSIONS,
    create_partitions::VERSIONS,
    delete_records::VERSIONS,
    describe_cluster::VERSIONS,
    describe_log_dirs::VERSIONS,
    offset_for_leader_epoch::VERSIONS,
    elect_leaders::VERSIONS,
    alter_partition_reassignments::VERSIONS,
    list_partition_reassignments::VERSIONS,
    write_txn_markers::VERSIONS,
    describe_topic_partitions::VERSIONS,
    consumer_group_heartbeat::VERSIONS,
    consumer_group_describe::VERSIONS,
    share_group_heartbeat::VERSIONS,
    share_group_describe::VERSIONS,
    share_fetch::VERSIONS,
    share_acknowledge::VERSIONS,
    describe_share_group_offsets::VERSIONS,
    alter_share_group_offsets::VERSIONS,
    delete_share_group_offsets::VERSIONS,
    initialize_share_group_state::VERSIONS,
    read_share_group_state::VERSIONS,
    write_share_group_state::VERSIONS,
    delete_share_group_state::VERSIONS,
    read_share_group_state_summary::VERSIONS,
    get_telemetry_subscriptions::VERSIONS,
    push_telemetry::VERSIONS,
    list_config_resources::VERSIONS,
    sasl_handshake::VERSIONS,
    sasl_authenticate::VERSIONS,
    describe_acls::VERSIONS,
    create_acls::VERSIONS,
    delete_acls::VERSIONS,
    describe_client_quotas::VERSIONS,
    alter_client_quotas::VERSIONS,
    describe_user_scram_credentials::VERSIONS,
    alter_user_scram_credentials::VERSIONS,
];

/// The served versions of an API key, if served.
pub fn supported(key: ApiKey) -> Option<ApiEntry> {
    APIS.iter().copied().find(|e| e.key == key)
}

/// A response, either ready or to be completed later (acks=all waiting for fsync, a fetch
/// waiting for data). Later replies still leave the connection in request order.
pub enum Reply {
    Now(Bytes),
    Later(Pin<Box<dyn Future<Output = Result<Bytes, FrameError>> + Send>>),
    /// acks=0 produce: no response is sent.
    None,
}

/// Everything a handler gets about the request.
pub struct Request {
    pub header: RequestHeader,
    pub version: i16,
    pub body: Bytes,
    /// The peer as Kafka reports it in group descriptions: `/<ip>`.
    pub client_host: Arc<str>,
    /// The connection the request came on.
    pub conn: Arc<ConnectionInfo>,
}

/// What a connection knows of its client, across requests.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// Unique per broker process.
    pub id: u64,
    pub peer: Option<std::net::SocketAddr>,
    /// Client software name and version, from ApiVersions v3+.
    pub software: std::sync::Mutex<Option<(String, String)>>,
    /// The listener the client connected to (its name, e.g. "PLAINTEXT", "SASL_SSL").
    pub listener: Arc<str>,
    pub security_protocol: SecurityProtocol,
    /// Who the client is: `User:ANONYMOUS` until authenticated (or the TLS client
    /// certificate's mapped principal).
    principal: std::sync::RwLock<Arc<KafkaPrincipal>>,
    /// Quota throttling: the reader takes no new request before this time (ms since the
    /// epoch), as Kafka mutes a throttled channel (KIP-219). 0 = not throttled.
    pub throttled_until_ms: std::sync::atomic::AtomicI64,
}

impl Default for ConnectionInfo {
    fn default() -> ConnectionInfo {
        ConnectionInfo::new(None)
    }
}

impl ConnectionInfo {
    /// A PLAINTEXT connection (the default listener).
    pub fn new(peer: Option<std::net::SocketAddr>) -> ConnectionInfo {
        ConnectionInfo::on_listener(peer, "PLAINTEXT".into(), SecurityProtocol::Plaintext)
    }

    /// A connection accepted on the named listener.
    pub fn on_listener(
        peer: Option<std::net::SocketAddr>,
        listener: Arc<str>,
        security_protocol: SecurityProtocol,
    ) -> ConnectionInfo {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        ConnectionInfo {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            peer,
            software: std::sync::Mutex::new(None),
            listener,
            security_protocol,
            principal: std::sync::RwLock::new(Arc::new(KafkaPrincipal::anonymous())),
            throttled_until_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The connection's principal now.
    pub fn principal(&self) -> Arc<KafkaPrincipal> {
        Arc::clone(&self.principal.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Set once authentication (TLS client certificate or SASL) succeeds.
    pub fn set_principal(&self, principal: KafkaPrincipal) {
        *self.principal.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(principal);
    }

    /// Mute the connection until `until_ms` (a quota's throttle): the next request is read
    /// no earlier. A later time wins over an earlier one.
    pub fn throttle_until(&self, until_ms: i64) {
        self.throttled_until_ms
            .fetch_max(until_ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn set_software(&self, name: String, version: String) {
        *self.software.lock().unwrap_or_else(|p| p.into_inner()) = Some((name, version));
    }

    /// The client telemetry context of a request on this connection.
    pub fn telemetry_context(&self, client_id: String) -> crate::telemetry::ClientContext {
        let software = self
            .software
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        crate::telemetry::ClientContext {
            connection_id: self.id,
            client_id,
            software_name: software.as_ref().map(|s| s.0.clone()),
            software_version: software.map(|s| s.1),
            source_address: self.peer.map(|p| p.ip().to_string()),
            source_port: self.peer.map(|p| p.port()),
        }
    }
}

impl Request {
    /// The request header's client id, or "".
    pub fn client_id(&self) -> String {
        self.header
            .client_id
            .as_ref()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default()
    }
}

impl Request {
    pub fn decode<T: Decodable>(&mut self, api: ApiKey) -> Result<T, FrameError> {
        decode_body(api, self.version, &mut self.body)
    }

    pub fn respond<R: Encodable + HeaderVersion>(&self, response: &R) -> Result<Bytes, FrameError> {
        encode_response(self.header.correlation_id, self.version, response)
    }
}

/// Route a request to its handler. An Err closes the connection (as Kafka does for a request
/// it cannot parse).
pub async fn dispatch(
    broker: &Arc<Broker>,
    key: ApiKey,
    req: Request,
) -> Result<Reply, FrameError> {
    match key {
        ApiKey::ApiVersions => api_versions::handle(broker, req).map(Reply::Now),
        ApiKey::Metadata => metadata::handle(broker, req),
        ApiKey::CreateTopics => create_topics::handle(broker, req),
        ApiKey::DeleteTopics => delete_topics::handle(broker, req),
        ApiKey::Produce => produce::handle(broker, req),
        ApiKey::Fetch => fetch::handle(broker, req),
        ApiKey::ListOffsets => list_offsets::handle(broker, req).map(Reply::Now),
        ApiKey::FindCoordinator => find_coordinator::handle(broker, req).map(Reply::Now),
        ApiKey::JoinGroup => join_group::handle(broker, req),
        ApiKey::SyncGroup => sync_group::handle(broker, req),
        ApiKey::Heartbeat => heartbeat::handle(broker, req),
        ApiKey::LeaveGroup => leave_group::handle(broker, req),
        ApiKey::OffsetCommit => offset_commit::handle(broker, req),
        ApiKey::OffsetFetch => offset_fetch::handle(broker, req),
        ApiKey::DescribeGroups => describe_groups::handle(broker, req),
        ApiKey::ListGroups => list_groups::handle(broker, req),
        ApiKey::DeleteGroups => delete_groups::handle(broker, req),
        ApiKey::OffsetDelete => offset_delete::handle(broker, req),
        ApiKey::InitProducerId => init_producer_id::handle(broker, req),
        ApiKey::AddPartitionsToTxn => add_partitions_to_txn::handle(broker, req),
        ApiKey::AddOffsetsToTxn => add_offsets_to_txn::handle(broker, req),
        ApiKey::EndTxn => end_txn::handle(broker, req),
        ApiKey::TxnOffsetCommit => txn_offset_commit::handle(broker, req),
        ApiKey::DescribeProducers => describe_producers::handle(broker, req).map(Reply::Now),
        ApiKey::DescribeTransactions => describe_transactions::handle(broker, req),
        ApiKey::ListTransactions => list_transactions::handle(broker, req),
        ApiKey::DescribeConfigs => describe_configs::handle(broker, req).map(Reply::Now),
        ApiKey::AlterConfigs => alter_configs::handle(broker, req),
        ApiKey::IncrementalAlterConfigs => incremental_alter_configs::handle(broker, req),
        ApiKey::CreatePartitions => create_partitions::handle(broker, req),
        ApiKey::DeleteRecords => delete_records::handle(broker, req).map(Reply::Now),
        ApiKey::DescribeCluster => describe_cluster::handle(broker, req).map(Reply::Now),
        ApiKey::DescribeLogDirs => describe_log_dirs::handle(broker, req).map(Reply::Now),
        ApiKey::OffsetForLeaderEpoch => {
            offset_for_leader_epoch::handle(broker, req).map(Reply::Now)
        }
        ApiKey::ElectLeaders => elect_leaders::handle(broker, req),
        ApiKey::AlterPartitionReassignments => alter_partition_reassignments::handle(broker, req),
        ApiKey::ListPartitionReassignments => {
            list_partition_reassignments::handle(broker, req).map(Reply::Now)
        }
        ApiKey::WriteTxnMarkers => write_txn_markers::handle(broker, req),
        ApiKey::DescribeTopicPartitions => describe_topic_partitions::handle(broker, req),
        ApiKey::ConsumerGroupHeartbeat => consumer_group_heartbeat::handle(broker, req),
        ApiKey::ConsumerGroupDescribe => consumer_group_describe::handle(broker, req),
        ApiKey::ShareGroupHeartbeat => share_group_heartbeat::handle(broker, req),
        ApiKey::ShareGroupDescribe => share_group_describe::handle(broker, req),
        ApiKey::ShareFetch => share_fetch::handle(broker, req),
        ApiKey::ShareAcknowledge => share_acknowledge::handle(broker, req),
        ApiKey::DescribeShareGroupOffsets => describe_share_group_offsets::handle(broker, req),
        ApiKey::AlterShareGroupOffsets => alter_share_group_offsets::handle(broker, req),
        ApiKey::DeleteShareGroupOffsets => delete_share_group_offsets::handle(broker, req),
        ApiKey::InitializeShareGroupState => initialize_share_group_state::handle(broker, req),
        ApiKey::ReadShareGroupState => read_share_group_state::handle(broker, req),
        ApiKey::WriteShareGroupState => write_share_group_state::handle(broker, req),
        ApiKey::DeleteShareGroupState => delete_share_group_state::handle(broker, req),
        ApiKey::ReadShareGroupStateSummary => read_share_group_state_summary::handle(broker, req),
        ApiKey::GetTelemetrySubscriptions => {
            get_telemetry_subscriptions::handle(broker, req).map(Reply::Now)
        }
        ApiKey::PushTelemetry => push_telemetry::handle(broker, req).map(Reply::Now),
        ApiKey::ListConfigResources => list_config_resources::handle(broker, req).map(Reply::Now),
        // On SASL listeners the connection serves these itself (it owns the exchange); here
        // they came on a listener without SASL.
        ApiKey::SaslHandshake => sasl_handshake::handle(None, req).map(|(b, _)| Reply::Now(b)),
        ApiKey::SaslAuthenticate => {
            sasl_authenticate::handle(None, req, now_ms()).map(|a| Reply::Now(a.response))
        }
        ApiKey::DescribeAcls => describe_acls::handle(broker, req),
        ApiKey::CreateAcls => create_acls::handle(broker, req),
        ApiKey::DeleteAcls => delete_acls::handle(broker, req),
        ApiKey::DescribeClientQuotas => describe_client_quotas::handle(broker, req).map(Reply::Now),
        ApiKey::AlterClientQuotas => alter_client_quotas::handle(broker, req),
        ApiKey::DescribeUserScramCredentials => {
            describe_user_scram_credentials::handle(broker, req).map(Reply::Now)
        }
        ApiKey::AlterUserScramCredentials => alter_user_scram_credentials::handle(broker, req),
        other => Err(FrameError::UnknownApiKey(other as i16)),
    }
}

/// Decode a whole request frame (without its size prefix) the way the server does, without
/// serving it: header, supported-version check, typed body. Used by the fuzz targets.
pub fn decode_frame(frame: &[u8]) -> Result<(ApiKey, i16), FrameError> {
    use kafka_protocol::messages as m;
    let prefix = crate::protocol::peek_header(frame)?;
    let key =
        ApiKey::try_from(prefix.api_key).map_err(|_| FrameError::UnknownApiKey(prefix.api_key))?;
    let entry = supported(key).ok_or(FrameError::UnknownApiKey(prefix.api_key))?;
    let version = prefix.api_version;
    if version < entry.min || version > entry.max {
        return Err(FrameError::Malformed {
            api: key,
            version,
            reason: "unsupported version".into(),
        });
    }
    let mut body = Bytes::copy_from_slice(frame);
    crate::protocol::decode_header(key, version, &mut body)?;
    if let Some(legacy) = decode_legacy(key, version, &mut body) {
        return legacy.map(|()| (key, version));
    }
    match key {
        ApiKey::Produce => decode_body::<m::ProduceRequest>(key, version, &mut body).map(drop),
        ApiKey::Fetch => decode_body::<m::FetchRequest>(key, version, &mut body).map(drop),
        ApiKey::ListOffsets => {
            decode_body::<m::ListOffsetsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::Metadata => decode_body::<m::MetadataRequest>(key, version, &mut body).map(drop),
        ApiKey::ApiVersions => {
            decode_body::<m::ApiVersionsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::CreateTopics => {
            decode_body::<m::CreateTopicsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DeleteTopics => {
            decode_body::<m::DeleteTopicsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::FindCoordinator => {
            decode_body::<m::FindCoordinatorRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::JoinGroup => decode_body::<m::JoinGroupRequest>(key, version, &mut body).map(drop),
        ApiKey::SyncGroup => decode_body::<m::SyncGroupRequest>(key, version, &mut body).map(drop),
        ApiKey::Heartbeat => decode_body::<m::HeartbeatRequest>(key, version, &mut body).map(drop),
        ApiKey::LeaveGroup => {
            decode_body::<m::LeaveGroupRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::OffsetCommit => {
            decode_body::<m::OffsetCommitRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::OffsetFetch => {
            decode_body::<m::OffsetFetchRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeGroups => {
            decode_body::<m::DescribeGroupsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ListGroups => {
            decode_body::<m::ListGroupsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DeleteGroups => {
            decode_body::<m::DeleteGroupsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::OffsetDelete => {
            decode_body::<m::OffsetDeleteRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::InitProducerId => {
            decode_body::<m::InitProducerIdRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AddPartitionsToTxn => {
            decode_body::<m::AddPartitionsToTxnRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AddOffsetsToTxn => {
            decode_body::<m::AddOffsetsToTxnRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::EndTxn => decode_body::<m::EndTxnRequest>(key, version, &mut body).map(drop),
        ApiKey::TxnOffsetCommit => {
            decode_body::<m::TxnOffsetCommitRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeProducers => {
            decode_body::<m::DescribeProducersRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeTransactions => {
            decode_body::<m::DescribeTransactionsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ListTransactions => {
            decode_body::<m::ListTransactionsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeConfigs => {
            decode_body::<m::DescribeConfigsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AlterConfigs => {
            decode_body::<m::AlterConfigsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::IncrementalAlterConfigs => {
            decode_body::<m::IncrementalAlterConfigsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::CreatePartitions => {
            decode_body::<m::CreatePartitionsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DeleteRecords => {
            decode_body::<m::DeleteRecordsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeCluster => {
            decode_body::<m::DescribeClusterRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeLogDirs => {
            decode_body::<m::DescribeLogDirsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::OffsetForLeaderEpoch => {
            decode_body::<m::OffsetForLeaderEpochRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ElectLeaders => {
            decode_body::<m::ElectLeadersRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AlterPartitionReassignments => {
            decode_body::<m::AlterPartitionReassignmentsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ListPartitionReassignments => {
            decode_body::<m::ListPartitionReassignmentsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::WriteTxnMarkers => {
            decode_body::<m::WriteTxnMarkersRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeTopicPartitions => {
            decode_body::<m::DescribeTopicPartitionsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::GetTelemetrySubscriptions => {
            decode_body::<m::GetTelemetrySubscriptionsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::PushTelemetry => {
            decode_body::<m::PushTelemetryRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ListConfigResources => {
            decode_body::<m::ListConfigResourcesRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::SaslHandshake => {
            decode_body::<m::SaslHandshakeRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::SaslAuthenticate => {
            decode_body::<m::SaslAuthenticateRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeAcls => {
            decode_body::<m::DescribeAclsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::CreateAcls => {
            decode_body::<m::CreateAclsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DeleteAcls => {
            decode_body::<m::DeleteAclsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeClientQuotas => {
            decode_body::<m::DescribeClientQuotasRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AlterClientQuotas => {
            decode_body::<m::AlterClientQuotasRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeUserScramCredentials => {
            decode_body::<m::DescribeUserScramCredentialsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AlterUserScramCredentials => {
            decode_body::<m::AlterUserScramCredentialsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ShareGroupHeartbeat => {
            decode_body::<m::ShareGroupHeartbeatRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ShareGroupDescribe => {
            decode_body::<m::ShareGroupDescribeRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ShareFetch => {
            decode_body::<m::ShareFetchRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DescribeShareGroupOffsets => {
            decode_body::<m::DescribeShareGroupOffsetsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::AlterShareGroupOffsets => {
            decode_body::<m::AlterShareGroupOffsetsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DeleteShareGroupOffsets => {
            decode_body::<m::DeleteShareGroupOffsetsRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::InitializeShareGroupState => {
            decode_body::<m::InitializeShareGroupStateRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ReadShareGroupState => {
            decode_body::<m::ReadShareGroupStateRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::WriteShareGroupState => {
            decode_body::<m::WriteShareGroupStateRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::DeleteShareGroupState => {
            decode_body::<m::DeleteShareGroupStateRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ReadShareGroupStateSummary => {
            decode_body::<m::ReadShareGroupStateSummaryRequest>(key, version, &mut body).map(drop)
        }
        ApiKey::ShareAcknowledge => {
            decode_body::<m::ShareAcknowledgeRequest>(key, version, &mut body).map(drop)
        }
        other => Err(FrameError::UnknownApiKey(other as i16)),
    }?;
    Ok((key, version))
}

/// The versions the crate lacks — removed by KIP-896, or newer than it (OffsetCommit and
/// OffsetFetch v10) — that the handlers decode by hand or as a later version with the same
/// layout; None for the versions the crate decodes.
fn decode_legacy(key: ApiKey, version: i16, body: &mut Bytes) -> Option<Result<(), FrameError>> {
    use crate::protocol::legacy::requests as old;
    use kafka_protocol::messages as m;
    let bad = |e: crate::protocol::legacy::LegacyError| FrameError::Malformed {
        api: key,
        version,
        reason: e.to_string(),
    };
    let r = match (key, version) {
        (ApiKey::Produce, 0..=2) => old::produce(body).map(drop).map_err(bad),
        (ApiKey::Fetch, 0..=3) => old::fetch(body, version).map(drop).map_err(bad),
        (ApiKey::ListOffsets, 0) => old::list_offsets(body).map(drop).map_err(bad),
        (ApiKey::OffsetCommit, 0..=1) => old::offset_commit(body, version).map(drop).map_err(bad),
        (ApiKey::CreateTopics, 0) => old::create_topics(body).map(drop).map_err(bad),
        (ApiKey::DescribeConfigs, 0) => old::describe_configs(body).map(drop).map_err(bad),
        (ApiKey::OffsetCommit, 10) => old::offset_commit_v10(body).map(drop).map_err(bad),
        (ApiKey::OffsetFetch, 10) => old::offset_fetch_v10(body).map(drop).map_err(bad),
        (ApiKey::OffsetForLeaderEpoch, 0..=1) => {
            old::offset_for_leader_epoch(body).map(drop).map_err(bad)
        }
        (ApiKey::WriteTxnMarkers, 0) => old::write_txn_markers_v0(body).map(drop).map_err(bad),
        (ApiKey::CreateTopics, 1) => decode_body::<m::CreateTopicsRequest>(key, 2, body).map(drop),
        (ApiKey::DeleteTopics, 0) => decode_body::<m::DeleteTopicsRequest>(key, 1, body).map(drop),
        (ApiKey::OffsetFetch, 0) => decode_body::<m::OffsetFetchRequest>(key, 1, body).map(drop),
        (ApiKey::DescribeLogDirs, 0) => {
            decode_body::<m::DescribeLogDirsRequest>(key, 1, body).map(drop)
        }
        _ => return None,
    };
    Some(r)
}

/// Send a request to the group coordinator now (keeping per-connection order) and answer
/// later with `to_wire` applied to its response (None: the coordinator is not running).
pub fn via_coordinator<F>(
    broker: &Arc<Broker>,
    req: &Request,
    group_request: crate::group::types::Request,
    to_wire: F,
) -> Result<Reply, FrameError>
where
    F: FnOnce(Option<crate::group::types::Response>, i32, i16) -> Result<Bytes, FrameError>
        + Send
        + 'static,
{
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let pending = broker.groups.get().map(|g| g.submit(group_request));
    Ok(Reply::Later(Box::pin(async move {
        let response = match pending {
            Some(fut) => fut.await,
            None => None,
        };
        to_wire(response, correlation_id, version)
    })))
}

/// Send a request to the transaction coordinator now (keeping per-connection order) and
/// answer later with `to_wire` applied to its response (None: the coordinator is not running).
pub fn via_txn_coordinator<F>(
    broker: &Arc<Broker>,
    req: &Request,
    txn_request: crate::txn::types::Request,
    to_wire: F,
) -> Result<Reply, FrameError>
where
    F: FnOnce(Option<crate::txn::types::Response>, i32, i16) -> Result<Bytes, FrameError>
        + Send
        + 'static,
{
    let correlation_id = req.header.correlation_id;
    let version = req.version;
    let pending = broker.txns.get().map(|t| t.submit(txn_request));
    Ok(Reply::Later(Box::pin(async move {
        let response = match pending {
            Some(fut) => fut.await,
            None => None,
        };
        to_wire(response, correlation_id, version)
    })))
}

/// PRODUCER_FENCED (90) exists for clients from the version that introduced it (KIP-588);
/// older versions get INVALID_PRODUCER_EPOCH (47) instead, as Kafka answers them.
pub fn fenced_code(code: i16, version: i16, since: i16) -> i16 {
    if code == PRODUCER_FENCED && version < since {
        INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

pub const INVALID_PRODUCER_EPOCH: i16 = 47;
pub const PRODUCER_FENCED: i16 = 90;

/// An optional string from the wire, as an owned String.
pub fn opt_str(s: &Option<kafka_protocol::protocol::StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.as_str().to_string())
}

/// COORDINATOR_NOT_AVAILABLE, the answer when the group coordinator cannot be reached.
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;

pub use crate::cluster::now_ms;
