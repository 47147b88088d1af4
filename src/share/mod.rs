//! Share groups (KIP-932): queues on top of topics. Pure state machines, no tokio, no I/O:
//! [`partition`] is the delivery state of one share-partition (record states, acquisition
//! locks, delivery counts, the start offset and what must be persisted); [`group`] is a share
//! group's membership and "simple" assignment (ShareGroupHeartbeat); [`session`] the share
//! sessions ShareFetch and ShareAcknowledge run in. The APIs and the runtime that persists the
//! state come next (issue 12).

pub mod coordinator;
pub mod group;
pub mod partition;
pub mod records;
pub mod session;
