//! Kafka error codes the group coordinator answers with, and the helpers that turn any
//! response (or a whole [`Outcome`]) into an error response of the same shape: used when
//! the runtime cannot append an Outcome's records (storage offline → COORDINATOR_NOT_AVAILABLE)
//! and when a request is rejected before it reaches the state machine.

use super::types::{
    ConsumerDescribedGroup, ConsumerHeartbeatResult, DescribedGroup, ErrorCode, JoinResult,
    LeaveResult, OffsetFetchGroupResult, Outcome, Request, Response, ShareDescribedGroup,
    ShareHeartbeatResult, SyncResult,
};

pub const NONE: ErrorCode = 0;
pub const UNKNOWN_SERVER_ERROR: ErrorCode = -1;
pub const OFFSET_METADATA_TOO_LARGE: ErrorCode = 12;
pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = 14;
pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = 15;
pub const NOT_COORDINATOR: ErrorCode = 16;
pub const ILLEGAL_GENERATION: ErrorCode = 22;
pub const INCONSISTENT_GROUP_PROTOCOL: ErrorCode = 23;
pub const INVALID_GROUP_ID: ErrorCode = 24;
pub const UNKNOWN_MEMBER_ID: ErrorCode = 25;
pub const INVALID_SESSION_TIMEOUT: ErrorCode = 26;
pub const REBALANCE_IN_PROGRESS: ErrorCode = 27;
pub const INVALID_REQUEST: ErrorCode = 42;
pub const NON_EMPTY_GROUP: ErrorCode = 68;
pub const GROUP_ID_NOT_FOUND: ErrorCode = 69;
pub const MEMBER_ID_REQUIRED: ErrorCode = 79;
pub const GROUP_MAX_SIZE_REACHED: ErrorCode = 81;
pub const FENCED_INSTANCE_ID: ErrorCode = 82;
pub const UNSTABLE_OFFSET_COMMIT: ErrorCode = 88;
pub const GROUP_SUBSCRIBED_TO_TOPIC: ErrorCode = 86;
pub const UNSUPPORTED_VERSION: ErrorCode = 35;
pub const FENCED_MEMBER_EPOCH: ErrorCode = 110;
pub const UNRELEASED_INSTANCE_ID: ErrorCode = 111;
pub const UNSUPPORTED_ASSIGNOR: ErrorCode = 112;
pub const STALE_MEMBER_EPOCH: ErrorCode = 113;
pub const INVALID_REGULAR_EXPRESSION: ErrorCode = 128;

impl JoinResult {
    /// A JoinGroup answer carrying only an error (generation -1, no leader, no members).
    pub fn error(error: ErrorCode, member_id: &str) -> JoinResult {
        JoinResult {
            error,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

impl SyncResult {
    /// A SyncGroup answer carrying only an error.
    pub fn error(error: ErrorCode) -> SyncResult {
        SyncResult {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Default::default(),
        }
    }
}

impl DescribedGroup {
    fn error(group_id: &str, error: ErrorCode) -> DescribedGroup {
        DescribedGroup {
            group_id: group_id.to_string(),
            error,
            state: String::new(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        }
    }
}

impl ConsumerHeartbeatResult {
    /// A ConsumerGroupHeartbeat answer carrying only an error.
    pub fn error(error: ErrorCode) -> ConsumerHeartbeatResult {
        ConsumerHeartbeatResult {
            error,
            error_message: None,
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }
}

impl ConsumerDescribedGroup {
    fn error(group_id: &str, error: ErrorCode) -> ConsumerDescribedGroup {
        ConsumerDescribedGroup {
            group_id: group_id.to_string(),
            error,
            error_message: None,
            state: String::new(),
            group_epoch: 0,
            assignment_epoch: 0,
            assignor_name: String::new(),
            members: Vec::new(),
        }
    }
}

impl Response {
    /// The same response with every error set to `error` and its payload dropped, keeping
    /// what identifies it (member id, groups, topics and partitions), as Kafka answers a
    /// request whose records could not be written.
    pub fn with_error(self, error: ErrorCode) -> Response {
        match self {
            Response::Join(r) => Response::Join(JoinResult::error(error, &r.member_id)),
            Response::Sync(_) => Response::Sync(SyncResult::error(error)),
            Response::Heartbeat { .. } => Response::Heartbeat { error },
            Response::Leave(_) => Response::Leave(LeaveResult {
                error,
                members: Vec::new(),
            }),
            Response::OffsetCommit { partitions } => Response::OffsetCommit {
                partitions: partitions
                    .into_iter()
                    .map(|(t, p, _)| (t, p, error))
                    .collect(),
            },
            Response::TxnOffsetCommit { partitions } => Response::TxnOffsetCommit {
                partitions: partitions
                    .into_iter()
                    .map(|(t, p, _)| (t, p, error))
                    .collect(),
            },
            Response::OffsetFetch { groups } => Response::OffsetFetch {
                groups: groups
                    .into_iter()
                    .map(|g| OffsetFetchGroupResult {
                        group_id: g.group_id,
                        error,
                        offsets: Vec::new(),
                    })
                    .collect(),
            },
            Response::Describe { groups } => Response::Describe {
                groups: groups
                    .iter()
                    .map(|g| DescribedGroup::error(&g.group_id, error))
                    .collect(),
            },
            Response::List { .. } => Response::List {
                error,
                groups: Vec::new(),
            },
            Response::Delete { results } => Response::Delete {
                results: results.into_iter().map(|(g, _)| (g, error)).collect(),
            },
            Response::OffsetDelete { .. } => Response::OffsetDelete {
                error,
                partitions: Vec::new(),
            },
            Response::ConsumerHeartbeat(_) => {
                Response::ConsumerHeartbeat(ConsumerHeartbeatResult::error(error))
            }
            Response::ConsumerDescribe { groups } => Response::ConsumerDescribe {
                groups: groups
                    .iter()
                    .map(|g| ConsumerDescribedGroup::error(&g.group_id, error))
                    .collect(),
            },
            Response::ShareHeartbeat(_) => {
                Response::ShareHeartbeat(ShareHeartbeatResult::error(error))
            }
            Response::ShareDescribe { groups } => Response::ShareDescribe {
                groups: groups
                    .iter()
                    .map(|g| ShareDescribedGroup::error(&g.group_id, error))
                    .collect(),
            },
        }
    }
}

impl Outcome {
    /// The runtime could not append `records`: every response becomes `error`
    /// (COORDINATOR_NOT_AVAILABLE), records are dropped, timers are kept.
    pub fn with_error(self, error: ErrorCode) -> Outcome {
        Outcome {
            responses: self
                .responses
                .into_iter()
                .map(|(id, r)| (id, r.with_error(error)))
                .collect(),
            records: Vec::new(),
            timers: self.timers,
            // The members are gone from memory whether or not the records were written.
            share_members_left: self.share_members_left,
        }
    }
}

/// The answer to `request` when it is rejected as a whole with `error`.
pub fn error_response(request: &Request, error: ErrorCode) -> Response {
    match request {
        Request::Join(r) => Response::Join(JoinResult::error(error, &r.member_id)),
        Request::Sync(_) => Response::Sync(SyncResult::error(error)),
        Request::Heartbeat(_) => Response::Heartbeat { error },
        Request::Leave(_) => Response::Leave(LeaveResult {
            error,
            members: Vec::new(),
        }),
        Request::OffsetCommit(r) => Response::OffsetCommit {
            partitions: r
                .partitions
                .iter()
                .map(|p| (p.topic.clone(), p.partition, error))
                .collect(),
        },
        Request::TxnOffsetCommit(r) => Response::TxnOffsetCommit {
            partitions: r
                .partitions
                .iter()
                .map(|p| (p.topic.clone(), p.partition, error))
                .collect(),
        },
        Request::OffsetFetch(r) => Response::OffsetFetch {
            groups: r
                .groups
                .iter()
                .map(|g| OffsetFetchGroupResult {
                    group_id: g.group_id.clone(),
                    error,
                    offsets: Vec::new(),
                })
                .collect(),
        },
        Request::Describe { groups } => Response::Describe {
            groups: groups
                .iter()
                .map(|g| DescribedGroup::error(g, error))
                .collect(),
        },
        Request::List { .. } => Response::List {
            error,
            groups: Vec::new(),
        },
        Request::Delete { groups } => Response::Delete {
            results: groups.iter().map(|g| (g.clone(), error)).collect(),
        },
        Request::OffsetDelete { .. } => Response::OffsetDelete {
            error,
            partitions: Vec::new(),
        },
        Request::ConsumerHeartbeat(_) => {
            Response::ConsumerHeartbeat(ConsumerHeartbeatResult::error(error))
        }
        Request::ConsumerDescribe { groups, .. } => Response::ConsumerDescribe {
            groups: groups
                .iter()
                .map(|g| ConsumerDescribedGroup::error(g, error))
                .collect(),
        },
        Request::ShareHeartbeat(_) => Response::ShareHeartbeat(ShareHeartbeatResult::error(error)),
        Request::ShareDescribe { groups, .. } => Response::ShareDescribe {
            groups: groups
                .iter()
                .map(|g| ShareDescribedGroup::error(g, error))
                .collect(),
        },
    }
}
