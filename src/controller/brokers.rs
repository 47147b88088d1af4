//! Broker lifecycle: registration, heartbeats and sessions, fencing, controlled shutdown
//! (Kafka's `ClusterControlManager`, `BrokerHeartbeatManager`, and the broker handlers of
//! `ReplicationControlManager`), and the periodic [`Controller::tick`].
//!
//! Broker states (Kafka's `BrokerControlState`): a new registration is FENCED; a heartbeat
//! from a broker that has applied the log up to its own registration unfences it; a broker
//! not heard from for `broker.session.timeout.ms` is fenced (leaves every ISR, its
//! leaderships move); `want_shutdown` from an unfenced broker that leads partitions starts a
//! CONTROLLED_SHUTDOWN (it leaves every ISR and leadership first, then is told to shut down
//! once the other active brokers have applied those changes), otherwise SHUTDOWN_NOW (fenced
//! at once).
//!
//! Sessions live in memory; a broker the controller has not heard from yet (a new active
//! controller) gets a fresh session starting at the first `now_ms` it sees.

use uuid::Uuid;

use super::errors::{
    ApiError, BROKER_ID_NOT_REGISTERED, DUPLICATE_BROKER_REGISTRATION, INCONSISTENT_CLUSTER_ID,
    STALE_BROKER_EPOCH,
};
use super::{Controller, ControllerResult, Session, Work};
use crate::cluster::image::{MetadataImage, NO_LEADER};
use crate::cluster::records::{Endpoint, MetadataRecord};

/// Kafka's BrokerRegistrationRequest, the parts that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistrationRequest {
    pub broker_id: i32,
    /// Checked against the image's when both are known.
    pub cluster_id: Option<String>,
    /// Random per broker process start.
    pub incarnation_id: Uuid,
    pub listeners: Vec<Endpoint>,
    pub rack: Option<String>,
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationReply {
    /// `Some` when the broker is already registered with this incarnation (nothing to write);
    /// `None` when the records register it: its epoch is then the log index of the entry
    /// they are committed in.
    pub broker_epoch: Option<i64>,
}

/// Kafka's BrokerHeartbeatRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatRequest {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// The last metadata log index the broker has applied.
    pub current_metadata_offset: u64,
    pub want_fence: bool,
    pub want_shutdown: bool,
}

/// Kafka's BrokerHeartbeatResponse (the state once the records are committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// The broker has applied the log up to its registration.
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub in_controlled_shutdown: bool,
    pub should_shutdown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrokerState {
    Fenced,
    Unfenced,
    ControlledShutdown,
    ShutdownNow,
}

impl Controller {
    /// Start sessions for registered brokers this controller has not heard from, and drop
    /// those of brokers no longer registered.
    fn refresh_sessions(&mut self, image: &MetadataImage, now_ms: i64) {
        self.sessions.retain(|id, _| image.broker(*id).is_some());
        for b in image.brokers() {
            self.sessions.entry(b.id).or_insert(Session {
                last_contact_ms: now_ms,
                metadata_offset: 0,
                in_controlled_shutdown: false,
                controlled_shutdown_offset: None,
            });
        }
    }

    /// Forget a broker's session: its process is known to be gone (a combined node's own
    /// broker, restarted with the controller), so a new incarnation may register at once
    /// instead of waiting `broker.session.timeout.ms` for the old session to expire.
    pub fn expire_session(&mut self, broker_id: i32) {
        if let Some(s) = self.sessions.get_mut(&broker_id) {
            s.last_contact_ms = i64::MIN / 4;
        } else {
            self.sessions.insert(
                broker_id,
                Session {
                    last_contact_ms: i64::MIN / 4,
                    metadata_offset: 0,
                    in_controlled_shutdown: false,
                    controlled_shutdown_offset: None,
                },
            );
        }
    }

    /// Kafka's `hasValidSession`: unfenced and heard from within the session timeout.
    fn has_valid_session(&self, image: &MetadataImage, broker_id: i32, now_ms: i64) -> bool {
        image.is_live(broker_id)
            && self.sessions.get(&broker_id).is_some_and(|s| {
                s.last_contact_ms + self.config.broker_session_timeout_ms >= now_ms
            })
    }

    /// Kafka's `checkBrokerEpoch`.
    pub fn check_broker_epoch(
        image: &MetadataImage,
        broker_id: i32,
        broker_epoch: i64,
    ) -> Result<(), ApiError> {
        let Some(b) = image.broker(broker_id) else {
            return Err(ApiError::new(
                STALE_BROKER_EPOCH,
                format!("No broker registration found for broker id {broker_id}"),
            ));
        };
        if b.epoch != broker_epoch {
            return Err(ApiError::new(
                STALE_BROKER_EPOCH,
                format!(
                    "Expected broker epoch {}, but got broker epoch {broker_epoch}",
                    b.epoch
                ),
            ));
        }
        Ok(())
    }

    /// Register a broker (Kafka's `registerBroker`). A new incarnation replaces the old
    /// registration (fenced, new epoch) unless the old one still has a valid session
    /// (DUPLICATE_BROKER_REGISTRATION: it is still alive, or another process has the id).
    /// If the old incarnation was still unfenced, it is fenced first (it left every ISR and
    /// leadership) in the same entry. The same incarnation again changes nothing.
    pub fn register_broker(
        &mut self,
        image: &MetadataImage,
        req: &BrokerRegistrationRequest,
        now_ms: i64,
    ) -> ControllerResult<Result<RegistrationReply, ApiError>> {
        self.refresh_sessions(image, now_ms);
        if let (Some(theirs), Some(ours)) = (&req.cluster_id, image.cluster_id()) {
            if theirs != ours {
                return ControllerResult::new(
                    Vec::new(),
                    Err(ApiError::new(
                        INCONSISTENT_CLUSTER_ID,
                        format!("Expected cluster ID {ours}, but got cluster ID {theirs}"),
                    )),
                );
            }
        }
        let id = req.broker_id;
        let mut work = Work::new(image);
        if let Some(existing) = image.broker(id) {
            if existing.incarnation_id == req.incarnation_id {
                return ControllerResult::new(
                    Vec::new(),
                    Ok(RegistrationReply {
                        broker_epoch: Some(existing.epoch),
                    }),
                );
            }
            if self.has_valid_session(image, id, now_ms) {
                return ControllerResult::new(
                    Vec::new(),
                    Err(ApiError::new(
                        DUPLICATE_BROKER_REGISTRATION,
                        "Another broker is registered with that broker id.",
                    )),
                );
            }
            if !existing.fenced {
                self.fence(&mut work, id);
            }
        }
        let mut records = work.records;
        records.push(MetadataRecord::RegisterBroker {
            broker_id: id,
            incarnation_id: req.incarnation_id,
            listeners: req.listeners.clone(),
            rack: req.rack.clone(),
        });
        self.sessions.insert(
            id,
            Session {
                last_contact_ms: now_ms,
                metadata_offset: 0,
                in_controlled_shutdown: false,
                controlled_shutdown_offset: None,
            },
        );
        ControllerResult::new(records, Ok(RegistrationReply { broker_epoch: None }))
    }

    /// Remove a broker's registration (Kafka's `unregisterBroker`): it leaves every ISR and
    /// leadership first.
    pub fn unregister_broker(
        &mut self,
        image: &MetadataImage,
        broker_id: i32,
    ) -> ControllerResult<Result<(), ApiError>> {
        let Some(b) = image.broker(broker_id) else {
            return ControllerResult::new(
                Vec::new(),
                Err(ApiError::new(
                    BROKER_ID_NOT_REGISTERED,
                    format!("Broker ID {broker_id} is not currently registered"),
                )),
            );
        };
        let mut work = Work::new(image);
        let parts = Self::partitions_with_broker(image, broker_id);
        self.leader_and_isr_updates(&mut work, broker_id, NO_LEADER, &parts);
        work.push(MetadataRecord::UnregisterBroker {
            broker_id,
            broker_epoch: b.epoch,
        });
        self.sessions.remove(&broker_id);
        ControllerResult::new(work.records, Ok(()))
    }

    /// Fence a broker (Kafka's `handleBrokerFenced`): it leaves every ISR (never emptying
    /// one), its leaderships move to other ISR members, then the FenceBroker record.
    fn fence(&self, work: &mut Work, broker_id: i32) {
        let Some(epoch) = work.image.broker(broker_id).map(|b| b.epoch) else {
            return;
        };
        let parts = Self::partitions_with_broker(&work.image, broker_id);
        self.leader_and_isr_updates(work, broker_id, NO_LEADER, &parts);
        work.push(MetadataRecord::FenceBroker {
            broker_id,
            broker_epoch: epoch,
        });
    }

    /// Unfence a broker (Kafka's `handleBrokerUnfenced`): the UnfenceBroker record, then a
    /// leader for every offline partition it (or anyone) can now lead.
    fn unfence(&self, work: &mut Work, broker_id: i32, broker_epoch: i64) {
        work.push(MetadataRecord::UnfenceBroker {
            broker_id,
            broker_epoch,
        });
        let offline = Self::partitions_where(&work.image, |p| p.leader == NO_LEADER);
        self.leader_and_isr_updates(work, NO_LEADER, broker_id, &offline);
    }

    fn state_of(&self, image: &MetadataImage, broker_id: i32) -> BrokerState {
        if !image.is_live(broker_id) {
            BrokerState::Fenced
        } else if self
            .sessions
            .get(&broker_id)
            .is_some_and(|s| s.in_controlled_shutdown)
        {
            BrokerState::ControlledShutdown
        } else {
            BrokerState::Unfenced
        }
    }

    /// The lowest metadata offset reported by an active broker (`u64::MAX` if none).
    fn lowest_active_offset(&self, image: &MetadataImage) -> u64 {
        self.sessions
            .iter()
            .filter(|(id, s)| image.is_live(**id) && !s.in_controlled_shutdown)
            .map(|(_, s)| s.metadata_offset)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Kafka's `calculateNextBrokerState`.
    fn next_state(
        &mut self,
        image: &MetadataImage,
        req: &HeartbeatRequest,
        current: BrokerState,
    ) -> BrokerState {
        let id = req.broker_id;
        let caught_up = req.current_metadata_offset >= req.broker_epoch.max(0) as u64;
        let has_leaderships = image
            .topics()
            .any(|t| t.partitions.iter().any(|p| p.leader == id));
        match current {
            BrokerState::Fenced if req.want_shutdown => BrokerState::ShutdownNow,
            BrokerState::Fenced if !req.want_fence && caught_up => BrokerState::Unfenced,
            BrokerState::Fenced => BrokerState::Fenced,
            BrokerState::Unfenced if req.want_fence && req.want_shutdown => {
                BrokerState::ShutdownNow
            }
            BrokerState::Unfenced if req.want_fence => BrokerState::Fenced,
            BrokerState::Unfenced if req.want_shutdown && has_leaderships => {
                BrokerState::ControlledShutdown
            }
            BrokerState::Unfenced if req.want_shutdown => BrokerState::ShutdownNow,
            BrokerState::Unfenced => BrokerState::Unfenced,
            BrokerState::ControlledShutdown => {
                if has_leaderships {
                    return BrokerState::ControlledShutdown;
                }
                // The image already holds the records that moved its leaderships: once every
                // active broker has applied them, nobody will look for it as leader.
                let last = image.last_applied_index();
                let offset = self
                    .sessions
                    .get_mut(&id)
                    .map(|s| *s.controlled_shutdown_offset.get_or_insert(last))
                    .unwrap_or(last);
                if offset <= self.lowest_active_offset(image) {
                    BrokerState::ShutdownNow
                } else {
                    BrokerState::ControlledShutdown
                }
            }
            BrokerState::ShutdownNow => BrokerState::ShutdownNow,
        }
    }

    /// A broker heartbeat (Kafka's `processBrokerHeartbeat`): renews the session and moves the
    /// broker between states, with the records each move needs.
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        req: &HeartbeatRequest,
        now_ms: i64,
    ) -> ControllerResult<Result<HeartbeatReply, ApiError>> {
        self.refresh_sessions(image, now_ms);
        if let Err(e) = Self::check_broker_epoch(image, req.broker_id, req.broker_epoch) {
            return ControllerResult::new(Vec::new(), Err(e));
        }
        let id = req.broker_id;
        let current = self.state_of(image, id);
        let next = self.next_state(image, req, current);
        let mut work = Work::new(image);
        if current != next {
            match next {
                BrokerState::Fenced | BrokerState::ShutdownNow => {
                    if current != BrokerState::Fenced {
                        self.fence(&mut work, id);
                    }
                }
                BrokerState::Unfenced => self.unfence(&mut work, id, req.broker_epoch),
                BrokerState::ControlledShutdown => {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.in_controlled_shutdown = true;
                        s.controlled_shutdown_offset = None;
                    }
                    let parts = Self::partitions_with_broker(image, id);
                    self.leader_and_isr_updates(&mut work, id, NO_LEADER, &parts);
                }
            }
        }
        if let Some(s) = self.sessions.get_mut(&id) {
            s.last_contact_ms = now_ms;
            s.metadata_offset = req.current_metadata_offset;
            if matches!(next, BrokerState::Fenced | BrokerState::Unfenced) {
                s.in_controlled_shutdown = false;
            }
        }
        let reply = HeartbeatReply {
            is_caught_up: req.current_metadata_offset >= req.broker_epoch.max(0) as u64,
            is_fenced: matches!(next, BrokerState::Fenced | BrokerState::ShutdownNow),
            in_controlled_shutdown: next == BrokerState::ControlledShutdown,
            should_shutdown: next == BrokerState::ShutdownNow,
        };
        ControllerResult::new(work.records, Ok(reply))
    }

    /// Periodic work (call it every heartbeat interval or so): fence brokers whose session
    /// expired, elect leaders for offline partitions that can have one, complete
    /// reassignments whose targets are all in the ISR, and, when enabled and due, move
    /// leadership back to preferred replicas of imbalanced brokers.
    pub fn tick(&mut self, image: &MetadataImage, now_ms: i64) -> Vec<MetadataRecord> {
        self.refresh_sessions(image, now_ms);
        let mut work = Work::new(image);
        let expired: Vec<i32> = image
            .live_brokers()
            .map(|b| b.id)
            .filter(|id| !self.has_valid_session(image, *id, now_ms))
            .collect();
        for id in expired {
            self.fence(&mut work, id);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.in_controlled_shutdown = false;
            }
        }
        self.elect_offline_leaders(&mut work);
        self.complete_reassignments(&mut work);
        if self.config.auto_leader_rebalance_enable {
            let due = *self
                .next_rebalance_ms
                .get_or_insert(now_ms + self.config.leader_imbalance_check_interval_ms);
            if now_ms >= due {
                self.rebalance_leaders(&mut work);
                self.next_rebalance_ms =
                    Some(now_ms + self.config.leader_imbalance_check_interval_ms);
            }
        }
        work.records
    }
}
