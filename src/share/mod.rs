//! Share groups (KIP-932): queues on top of topics. Pure state machines, no tokio, no I/O:
//! [`partition`] is the delivery state of one share-partition (record states, acquisition
//! locks, delivery counts, the start offset and what must be persisted). The group side
//! (membership and assignment), the share sessions and the runtime that persists the state come
//! next (issue 12).

pub mod partition;
