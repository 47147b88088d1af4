//! The leader's side of ISR changes (Kafka's AlterPartition protocol as `Partition.scala`
//! drives it): an expansion or shrink is *proposed* to the controller and only takes effect
//! when the controller commits it (the result, or the metadata image, says so). While one is
//! in flight no other is proposed. During an expansion the high watermark and `acks=all`
//! already count the joining replica (the "maximal ISR", KIP-497): a stricter requirement, so
//! safe if the controller refuses; during a shrink they keep counting the leaving ones.

use kafka_protocol::ResponseError;

use super::leader::{new_follower, reset_follower, LeaderState};

/// An ISR member with the broker epoch the leader knows for it (-1 if unknown), as in
/// AlterPartition v3+ (`NewIsrWithEpochs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerState {
    pub broker_id: i32,
    pub broker_epoch: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsrChange {
    Expand { replica_id: i32 },
    Shrink { removed: Vec<i32> },
}

/// An ISR change to send to the controller (AlterPartition for this partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    /// Identifies the proposal in [`LeaderState::on_proposal_result`].
    pub sequence: u64,
    pub leader_id: i32,
    pub leader_epoch: i32,
    /// The partition epoch the change is based on; the controller refuses it if it moved.
    pub partition_epoch: i32,
    pub new_isr: Vec<BrokerState>,
    pub change: IsrChange,
}

impl IsrProposal {
    pub fn new_isr_ids(&self) -> Vec<i32> {
        self.new_isr.iter().map(|b| b.broker_id).collect()
    }
}

/// The controller's answer to a proposal: the partition state it committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedPartitionState {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<i32>,
}

/// The partition as the metadata image now has it, while this broker is still its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionUpdate {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProposalOutcome {
    /// The new high watermark, if committing the change moved it.
    pub new_high_watermark: Option<i64>,
    /// The same proposal, to send again (an unexpected, retriable error).
    pub resend: Option<IsrProposal>,
}

/// Kafka's `PartitionState`: committed, or a change in flight (the committed ISR is kept in
/// `LeaderState::isr` either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IsrState {
    Committed,
    PendingExpand(IsrProposal),
    PendingShrink(IsrProposal),
}

impl IsrState {
    pub(super) fn is_in_flight(&self) -> bool {
        !matches!(self, IsrState::Committed)
    }
    fn proposal(&self) -> Option<&IsrProposal> {
        match self {
            IsrState::Committed => None,
            IsrState::PendingExpand(p) | IsrState::PendingShrink(p) => Some(p),
        }
    }
}

impl LeaderState {
    /// The ISR the high watermark and `acks=all` use: the committed ISR plus a replica whose
    /// addition is in flight.
    pub fn maximal_isr(&self) -> Vec<i32> {
        let mut isr = self.isr.clone();
        if let IsrState::PendingExpand(p) = &self.pending {
            if let IsrChange::Expand { replica_id } = p.change {
                if !isr.contains(&replica_id) {
                    isr.push(replica_id);
                }
            }
        }
        isr
    }

    /// The proposal in flight, if any (to send again after a lost connection).
    pub fn pending_proposal(&self) -> Option<&IsrProposal> {
        self.pending.proposal()
    }

    /// Kafka's `maybeShrinkIsr` (run every `replica.lag.time.max.ms / 2`): propose removing
    /// the ISR followers that have not caught up within `replica.lag.time.max.ms`. None while
    /// a change is in flight or when every follower is in sync.
    pub fn check_isr_shrink(&mut self, now_ms: i64, log_end_offset: i64) -> Option<IsrProposal> {
        self.log_end_offset = self.log_end_offset.max(log_end_offset);
        let removed = self.out_of_sync_replicas(now_ms);
        if removed.is_empty() {
            return None;
        }
        let new_isr: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|r| !removed.contains(r))
            .collect();
        let proposal = self.proposal(new_isr, IsrChange::Shrink { removed });
        self.pending = IsrState::PendingShrink(proposal.clone());
        Some(proposal)
    }

    pub(super) fn prepare_expand(&mut self, replica_id: i32) -> IsrProposal {
        let mut new_isr = self.isr.clone();
        new_isr.push(replica_id);
        let proposal = self.proposal(new_isr, IsrChange::Expand { replica_id });
        self.pending = IsrState::PendingExpand(proposal.clone());
        proposal
    }

    fn proposal(&mut self, new_isr: Vec<i32>, change: IsrChange) -> IsrProposal {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let new_isr = new_isr
            .into_iter()
            .map(|broker_id| BrokerState {
                broker_id,
                broker_epoch: if broker_id == self.local_id {
                    self.local_broker_epoch
                } else {
                    self.followers
                        .get(&broker_id)
                        .and_then(|f| f.broker_epoch)
                        .unwrap_or(-1)
                },
            })
            .collect();
        IsrProposal {
            sequence,
            leader_id: self.local_id,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            new_isr,
            change,
        }
    }

    /// The controller answered proposal `sequence` (Kafka's `handleAlterPartitionUpdate` /
    /// `handleAlterPartitionError`). An answer to a proposal no longer in flight (the image
    /// replaced it) is ignored.
    ///
    /// - Ok with this leader epoch and a partition epoch not older than ours: the change is
    ///   committed (the ISR is the controller's), and the high watermark may advance.
    ///   Ok with another leader epoch or an older partition epoch: ignored, still pending until
    ///   the image says otherwise.
    /// - OPERATION_NOT_ATTEMPTED, INELIGIBLE_REPLICA: the controller did not apply it; back to
    ///   the committed state (the next fetch or shrink check may propose again).
    /// - UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID, FENCED_LEADER_EPOCH,
    ///   INVALID_UPDATE_VERSION, INVALID_REQUEST, NEW_LEADER_ELECTED: stay pending until the
    ///   image brings the partition's new state.
    /// - Anything else: send the same proposal again.
    pub fn on_proposal_result(
        &mut self,
        sequence: u64,
        result: Result<CommittedPartitionState, i16>,
        now_ms: i64,
    ) -> ProposalOutcome {
        let Some(proposal) = self
            .pending
            .proposal()
            .filter(|p| p.sequence == sequence)
            .cloned()
        else {
            return ProposalOutcome::default();
        };
        match result {
            Ok(committed) => {
                if committed.leader_epoch != self.leader_epoch
                    || committed.partition_epoch < self.partition_epoch
                {
                    return ProposalOutcome::default();
                }
                self.isr = committed.isr;
                self.partition_epoch = committed.partition_epoch;
                self.pending = IsrState::Committed;
                ProposalOutcome {
                    new_high_watermark: self.maybe_increment_high_watermark(now_ms),
                    resend: None,
                }
            }
            Err(code) => {
                let reverted = [
                    ResponseError::OperationNotAttempted.code(),
                    ResponseError::IneligibleReplica.code(),
                ];
                let await_metadata = [
                    ResponseError::UnknownTopicOrPartition.code(),
                    ResponseError::UnknownTopicId.code(),
                    ResponseError::FencedLeaderEpoch.code(),
                    ResponseError::InvalidUpdateVersion.code(),
                    ResponseError::InvalidRequest.code(),
                    ResponseError::NewLeaderElected.code(),
                ];
                if reverted.contains(&code) {
                    self.pending = IsrState::Committed;
                    // The committed ISR is unchanged; the maximal one may have shrunk back,
                    // which can only hold the high watermark where it is.
                    ProposalOutcome::default()
                } else if await_metadata.contains(&code) {
                    ProposalOutcome::default()
                } else {
                    ProposalOutcome {
                        new_high_watermark: None,
                        resend: Some(proposal),
                    }
                }
            }
        }
    }

    /// The metadata image changed this partition while this broker stays its leader (Kafka's
    /// `makeLeader` on an already-led partition). An update older than the partition epoch
    /// we have is ignored. Otherwise the replica set and committed ISR become the image's and
    /// any change in flight is dropped; a new leader epoch restarts at `log_end_offset`
    /// (followers keep their progress, their timers restart). Returns the new high watermark
    /// if it moved.
    pub fn on_partition_update(
        &mut self,
        update: &PartitionUpdate,
        log_end_offset: i64,
        now_ms: i64,
    ) -> Option<i64> {
        if update.partition_epoch < self.partition_epoch || update.leader_epoch < self.leader_epoch
        {
            return None;
        }
        self.log_end_offset = self.log_end_offset.max(log_end_offset);
        self.followers
            .retain(|id, _| *id != self.local_id && update.replicas.contains(id));
        for &r in &update.replicas {
            if r != self.local_id {
                self.followers.entry(r).or_insert_with(new_follower);
            }
        }
        self.replicas = update.replicas.clone();
        self.isr = update.isr.clone();
        self.pending = IsrState::Committed;
        if update.leader_epoch > self.leader_epoch {
            self.leader_epoch = update.leader_epoch;
            self.leader_epoch_start_offset = self.log_end_offset;
            for (id, f) in self.followers.iter_mut() {
                reset_follower(
                    f,
                    update.isr.contains(id),
                    self.leader_epoch_start_offset,
                    now_ms,
                );
            }
        }
        self.partition_epoch = update.partition_epoch;
        self.maybe_increment_high_watermark(now_ms)
    }
}
