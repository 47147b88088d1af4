//! The classic group state machine's states and its legal transitions (Kafka's
//! `ClassicGroupState`). An illegal transition is a coordinator bug and panics.
//!
//! ```text
//! Empty ──join──▶ PreparingRebalance ──join done──▶ CompletingRebalance ──leader sync──▶ Stable
//!   ▲                 │  ▲                              │                                  │
//!   └──no members─────┘  └──────── member joins/leaves/fails, leader rejoins ─────────────┘
//! any ──▶ Dead (the group is being deleted)
//! ```

/// One classic group's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Kafka's name, as DescribeGroups and ListGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// Whether a group in `from` may move to `self`.
    pub fn can_follow(self, from: GroupState) -> bool {
        use GroupState::*;
        match self {
            Empty => from == PreparingRebalance,
            PreparingRebalance => matches!(from, Stable | CompletingRebalance | Empty),
            CompletingRebalance => from == PreparingRebalance,
            Stable => from == CompletingRebalance,
            Dead => true,
        }
    }
}
